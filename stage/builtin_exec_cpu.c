/*
 * builtin_exec_cpu.c - what the processes that read an exec stage's
 * program's stdin are doing, for telling one stuck on the last of its
 * input (spinning, or asleep where no input wakes it) from one waiting
 * for more (asleep in a read).
 *
 * The processes are found as /proc lists them: this stage's children
 * (/proc/thread-self/children: gettid() numbers this stage's own PID
 * namespace, which may not be /proc's), the children of each of their
 * threads (a child belongs to the thread that forked it), theirs, and so
 * on, at most CPU_WALK of them.  Of those, the ones whose stdin is the
 * program's input pipe (the readers) count by the CPU time of their main
 * thread alone: helper threads (a compressor's workers, a runtime's
 * collector) and helper processes (a shell's background job reads
 * /dev/null) may work while the reader waits.  Only processes seen in
 * both samples are compared, so one that appears, ends or moves between
 * them never makes the time look larger than it was.
 *
 * The same walk tells one asleep on its last input.  Every thread of the
 * processes that hold the pipe (on any descriptor: a reader may have
 * moved it off its stdin) and of every process below them is looked at,
 * zombies aside (one whose main thread alone ended is not judged: its fd
 * list shows nothing then).  Each must sleep where no input can wake it
 * (a timer, a futex, a wait for a child, pause, a lock, a select, poll
 * or epoll that watches nothing but timerfds, eventfds and signalfds, or
 * nothing at all), as its wchan names the kernel function (and its
 * syscall file the call), and the next sample must find the same
 * threads, none of them woken since (their context switches counted by
 * /proc).  A thread in a read of any pipe, in a select, poll or epoll
 * watching anything else (or a set it cannot read), in the disk,
 * running, or one whose wchan cannot be read may be waiting for input; one that woke may have
 * looked for input (a poll without blocking, then a sleep); a pipe set
 * O_ASYNC raises a signal on input, which ends any sleep, and an
 * io_uring's completion can wake a futex.  What a select or poll
 * watches is read from the program's memory (/proc/PID/mem: pread64),
 * what an epoll watches from its fdinfo.  Listing /proc directories
 * needs getdents64: where the sandbox denies it or pread64, no sleep is
 * judged and children are found by main thread.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "builtin_exec.h"

#define CPU_WALK 64

/* The whole of a small /proc file, NUL-terminated; its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* utime + stime of a thread's stat file, in clock ticks: fields 14 and
 * 15, counted after the command name's closing parenthesis (field 2,
 * which may itself hold spaces and parentheses). */
static int stat_ticks(const char *path, uint64_t *ticks)
{
	char buf[1024], *p, *e;
	unsigned long long ut, st;

	if (slurp(path, buf, sizeof(buf)) <= 0 ||
	    (p = strrchr(buf, ')')) == NULL)
		return -1;
	p++;
	/* Fields 3 to 13 come first. */
	for (int f = 3; f <= 13; f++) {
		while (*p == ' ')
			p++;
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
	}
	ut = strtoull(p, &e, 10);
	if (e == p)
		return -1;
	st = strtoull(e, &p, 10);
	if (p == e)
		return -1;
	*ticks = ut + st;
	return 0;
}

/* Append the pids in a children file ("pid pid ... ") to q, each
 * marked under (below a reader) or not. */
static void children_of(const char *path, long *q, unsigned char *mark,
			int *n, unsigned char under)
{
	char buf[2048];

	if (slurp(path, buf, sizeof(buf)) <= 0)
		return;
	for (char *p = buf, *e; *n < CPU_WALK; p = e + 1) {
		long pid = strtol(p, &e, 10);
		/* A number cut short by the read has no space after it. */
		if (e == p || *e != ' ')
			break;
		if (pid > 0) {
			mark[*n] = under;
			q[(*n)++] = pid;
		}
	}
}

/* Is a wchan the kernel function of a sleep no input ends?  The name
 * without a compiler's suffix (".isra.0"), compared whole; names from
 * several kernel versions: nanosleep's, the futex waits, a wait for a
 * child, pause, sigsuspend, sigtimedwait, flock's and fcntl's lock
 * waits.  (Input can end none of them unless it raises a signal, which
 * the walk rules out: no O_ASYNC on the pipe.) */
static int sleep_no_input_ends(const char *w)
{
	static const char *const sleeps[] = {
		"hrtimer_nanosleep", "do_nanosleep", "futex_wait_queue_me",
		"futex_wait_queue", "futex_do_wait", "futex_wait",
		"do_wait", "kernel_wait4", "__do_sys_pause", "sys_pause",
		"sigsuspend", "__do_sys_rt_sigsuspend", "do_sigtimedwait",
		"locks_lock_inode_wait", "flock_lock_inode_wait",
		"posix_lock_inode_wait", "fcntl_setlk", "do_lock_file_wait"};
	size_t n = strcspn(w, ".\n");

	for (size_t i = 0; i < sizeof(sleeps) / sizeof(*sleeps); i++)
		if (strlen(sleeps[i]) == n && strncmp(w, sleeps[i], n) == 0)
			return 1;
	return 0;
}

/* Descriptors no input can wake, as /proc/PID/fd links name them. */
static const char *const quiet_fds[] = {"anon_inode:[timerfd]",
					"anon_inode:[eventfd]",
					"anon_inode:[signalfd]"};

static int quiet_link(const char *link)
{
	for (size_t i = 0; i < sizeof(quiet_fds) / sizeof(*quiet_fds); i++)
		if (strcmp(link, quiet_fds[i]) == 0)
			return 1;
	return 0;
}

/* What descriptor fd of thread tid of process pid is now, as its table
 * (a thread may have one of its own) links it: 0, or -1 if none. */
static int fd_link(long pid, long tid, unsigned long long fd, char *link,
		   size_t size)
{
	char path[128];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/fd/%llu", pid, tid,
		 fd);
	len = readlink(path, link, size - 1);
	if (len <= 0)
		return -1;
	link[len] = '\0';
	return 0;
}

/* Is it one no input wakes? */
static int fd_quiet(long pid, long tid, unsigned long long fd)
{
	char link[64];

	return fd_link(pid, tid, fd, link, sizeof(link)) == 0 &&
	       quiet_link(link);
}

/* n bytes of process pid's memory at addr, whole, or -1 (no access: a
 * process that is not dumpable, a sandbox without /proc). */
static int mem_read(long pid, unsigned long long addr, void *buf, size_t n)
{
	char path[64];
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	got = pread(fd, buf, n, (off_t)addr);
	close(fd);
	return got == (ssize_t)n ? 0 : -1;
}

#define POLL_FDS_MAX 64   /* a poll watching more is taken as input */
#define SELECT_FDS_MAX 1024

/* A thread in select or poll on nothing input can wake: no descriptor
 * at all (perl's four-argument select and an old Python's time.sleep
 * sleep so), or only timerfds, eventfds and signalfds (an event loop
 * waiting for its own timers and wake-ups, as an epoll is judged).  Its
 * wchan is the wait of select or poll, and /proc says the call and its
 * arguments (readable by an ancestor of the same user): select's and
 * pselect6's nfds and three fd_set pointers, poll's and ppoll's pollfd
 * pointer and count.  The sets are read from the program's memory, each
 * descriptor in them looked up in the thread's table; any other, a set
 * that cannot be read, or more than POLL_FDS_MAX pollfds: it may be
 * waiting for input.  The kernel waits on its own copy of the sets: one
 * the program rewrites meanwhile (another thread) can mislead this, as
 * a descriptor closed and reused since can; a thread that woke since is
 * seen by the next sample.  (Reading the memory takes the program's
 * memory-map lock, which a fault stuck in a hung file system would hold
 * up; select and poll are judged so only while in that wait.) */
static int poll_on_nothing(long pid, long tid, const char *w)
{
	static const char *const waits[] = {
		"poll_schedule_timeout", "do_select", "do_sys_poll",
		"do_poll"};
	char path[96], buf[256], *p, *e;
	size_t n = strcspn(w, ".\n");
	unsigned long long a[4];
	long nr;
	int which = -1, is_select;

	for (size_t i = 0; i < sizeof(waits) / sizeof(*waits); i++)
		if (strlen(waits[i]) == n && strncmp(w, waits[i], n) == 0)
			which = (int)i;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/syscall", pid, tid);
	if (which < 0 || slurp(path, buf, sizeof(buf)) <= 0)
		return 0;
	nr = strtol(buf, &e, 10);
	if (e == buf)
		return 0;
	if (0
#ifdef SYS_select
	    || nr == SYS_select
#endif
#ifdef SYS_pselect6
	    || nr == SYS_pselect6
#endif
#ifdef SYS_pselect6_time64
	    || nr == SYS_pselect6_time64
#endif
	)
		is_select = 1;
	else if (0
#ifdef SYS_poll
		 || nr == SYS_poll
#endif
#ifdef SYS_ppoll
		 || nr == SYS_ppoll
#endif
#ifdef SYS_ppoll_time64
		 || nr == SYS_ppoll_time64
#endif
	)
		is_select = 0;
	else
		return 0;
	p = e;
	for (int i = 0; i < 4; i++) {
		a[i] = strtoull(p, &e, 16);
		if (e == p)
			return 0;
		p = e;
	}
	if (is_select) {
		/* select(nfds, readfds, writefds, exceptfds, ...): sets of
		 * unsigned longs, bit fd % bits of word fd / bits. */
		const unsigned bits = 8 * sizeof(unsigned long);
		unsigned long set[SELECT_FDS_MAX / (8 * sizeof(unsigned long))];
		size_t words;
		if (a[0] > SELECT_FDS_MAX)
			return 0;
		words = ((size_t)a[0] + bits - 1) / bits;
		for (int k = 1; k <= 3 && a[0] > 0; k++) {
			if (a[k] == 0)
				continue;
			if (mem_read(pid, a[k], set, words * sizeof(*set)) != 0)
				return 0;
			for (unsigned long long fd = 0; fd < a[0]; fd++)
				if ((set[fd / bits] >> (fd % bits) & 1) &&
				    !fd_quiet(pid, tid, fd))
					return 0;
		}
		return 1;
	}
	/* poll(fds, nfds, ...): a negative fd is not watched. */
	{
		struct {
			int fd;
			short events, revents;
		} pfd[POLL_FDS_MAX];
		if (a[1] > POLL_FDS_MAX)
			return 0;
		if (a[1] > 0 &&
		    mem_read(pid, a[0], pfd, (size_t)a[1] * sizeof(*pfd)) != 0)
			return 0;
		for (unsigned long long i = 0; i < a[1]; i++)
			if (pfd[i].fd >= 0 &&
			    !fd_quiet(pid, tid, (unsigned long long)pfd[i].fd))
				return 0;
		return 1;
	}
}

/* A thread in epoll_wait on a set that watches nothing input can wake:
 * no descriptor at all, or only timerfds, eventfds and signalfds (a
 * runtime's idle loop: its timers, its wakeups from threads and child
 * processes, which the walk looks at too, and signals, which input
 * raises only with O_ASYNC, ruled out).  Its wchan is epoll's wait, /proc
 * says the call and the epoll descriptor (its first argument), and that
 * descriptor's fdinfo lists the descriptors it watches ("tfd: N"),
 * looked up in the same process's table.  Anything else watched, a list
 * too long to read whole or a link that cannot be read: it may be
 * waiting for input. */
static int epoll_on_nothing(long pid, long tid, const char *w)
{
	char path[96], buf[256], info[4096], link[64], *e;
	size_t n = strcspn(w, ".\n");
	unsigned long long epfd;
	ssize_t got;
	long nr;

	/* (The wait is inlined into the call on some kernels.) */
	if (!(n == 7 && strncmp(w, "ep_poll", 7) == 0) &&
	    !(n == 13 && strncmp(w, "do_epoll_wait", 13) == 0))
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/syscall", pid, tid);
	if (slurp(path, buf, sizeof(buf)) <= 0)
		return 0;
	nr = strtol(buf, &e, 10);
	if (e == buf || !(0
#ifdef SYS_epoll_wait
			  || nr == SYS_epoll_wait
#endif
#ifdef SYS_epoll_pwait
			  || nr == SYS_epoll_pwait
#endif
#ifdef SYS_epoll_pwait2
			  || nr == SYS_epoll_pwait2
#endif
			  ))
		return 0;
	epfd = strtoull(e, &e, 16);
	if (epfd > 1u << 20)
		return 0;
	/* Still an epoll there (not a number reused since the wait began:
	 * then its fdinfo would say nothing of what the wait watches). */
	if (fd_link(pid, tid, epfd, link, sizeof(link)) != 0 ||
	    strcmp(link, "anon_inode:[eventpoll]") != 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/fdinfo/%llu", pid,
		 tid, epfd);
	got = slurp(path, info, sizeof(info));
	if (got <= 0 || (size_t)got >= sizeof(info) - 1 ||
	    strstr(info, "flags:") == NULL)
		return 0;
	for (char *p = info; (p = strstr(p, "\ntfd:")) != NULL; p++) {
		long fd = strtol(p + 5, &e, 10);
		char *ino = strstr(p, " ino:"), *eol = strchr(p + 1, '\n');
		struct stat st;
		ssize_t len;
		if (e == p + 5 || fd < 0 || ino == NULL ||
		    (eol != NULL && ino > eol))
			return 0;
		/* The number is the one it was added under, maybe by another
		 * process (an epoll shared across a fork) or since closed and
		 * reused: what is there now must be the file watched, by its
		 * inode (all anonymous ones share theirs, a pipe has its
		 * own). */
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld/fd/%ld",
			 pid, tid, fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0 || stat(path, &st) != 0 ||
		    (unsigned long long)st.st_ino != strtoull(ino + 5, NULL, 16))
			return 0;
		link[len] = '\0';
		if (!quiet_link(link))
			return 0;
	}
	return 1;
}

/* A thread's state letter (field 3 of its stat file), or 0. */
static char thread_state(const char *stat_path)
{
	char buf[512], *p;

	if (slurp(stat_path, buf, sizeof(buf)) <= 0 ||
	    (p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2];
}

/* Its voluntary and involuntary context switches, summed. */
static int thread_switches(const char *status_path, uint64_t *n)
{
	static const char *const keys[] = {"\nvoluntary_ctxt_switches:",
					   "\nnonvoluntary_ctxt_switches:"};
	char buf[4096];

	*n = 0;
	if (slurp(status_path, buf, sizeof(buf)) <= 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		char *p = strstr(buf, keys[i]), *e;
		unsigned long long v;
		if (p == NULL)
			return -1;
		p += strlen(keys[i]);
		v = strtoull(p, &e, 10);
		if (e == p)
			return -1;
		*n += v;
	}
	return 0;
}

/* Is thread tid of pid asleep where no input wakes it?  Noted in sl. */
static int thread_asleep(long pid, long tid, struct exec_sleep *sl)
{
	char path[96], w[128];
	char st;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/stat", pid, tid);
	st = thread_state(path);
	if (st == 'Z' || st == 'X')
		return 1; /* ended: it reads nothing */
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/wchan", pid, tid);
	/* "0": running, or not ours to read. */
	if (st != 'S' || slurp(path, w, sizeof(w)) <= 0 ||
	    strcmp(w, "0") == 0 || sl->n == EXEC_THREADS_MAX ||
	    (!sleep_no_input_ends(w) && !poll_on_nothing(pid, tid, w) &&
	     !epoll_on_nothing(pid, tid, w)))
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/status", pid, tid);
	if (thread_switches(path, &sl->t[sl->n].switches) != 0)
		return 0;
	sl->t[sl->n++].tid = tid;
	return 1;
}

/* Does pid hold the pipe (want, as its fd links read) on any descriptor?
 * 1 yes, 0 no, -1 yes with O_ASYNC (input raises a signal), or it has an
 * io_uring (whose completions wake a futex without a signal), or the list
 * cannot be read. */
static int holds_pipe(long pid, const char *want)
{
	char path[96], link[64], info[512];
	struct dirent *d;
	DIR *dir;
	int held = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while (held >= 0 && (d = readdir(dir)) != NULL) {
		char *e, *f;
		long fd = strtol(d->d_name, &e, 10);
		ssize_t len;
		if (e == d->d_name || *e != '\0' || fd < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd/%ld", pid, fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, "anon_inode:[io_uring]") == 0)
			held = -1;
		if (strcmp(link, want) != 0)
			continue;
		held = 1;
		snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%ld", pid, fd);
		if (slurp(path, info, sizeof(info)) <= 0 ||
		    (f = strstr(info, "flags:")) == NULL ||
		    (strtoul(f + 6, NULL, 8) & O_ASYNC))
			held = -1;
	}
	closedir(dir);
	return held;
}

/* Has pid a thread that has not ended (or cannot it be told)? */
static int live_threads(long pid)
{
	char path[96];
	struct dirent *d;
	DIR *dir;
	int live = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	if ((dir = opendir(path)) == NULL)
		return 1;
	while (!live && (d = readdir(dir)) != NULL) {
		char *e, st;
		long tid = strtol(d->d_name, &e, 10);
		if (e == d->d_name || *e != '\0' || tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld/stat", pid,
			 tid);
		st = thread_state(path);
		live = st != 'Z' && st != 'X' && st != 0;
	}
	closedir(dir);
	return live;
}

/* Each thread of pid: its children queued, and if look, whether it is
 * asleep (sl->asleep cleared if not). */
static void walk_threads(long pid, int look, long *q, unsigned char *under,
			 int *n, struct exec_sleep *sl)
{
	char path[96];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	if ((dir = opendir(path)) == NULL) {
		if (look)
			sl->asleep = 0;
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
			 pid, pid);
		children_of(path, q, under, n, (unsigned char)look);
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		char *e;
		long tid = strtol(d->d_name, &e, 10);
		if (e == d->d_name || *e != '\0' || tid <= 0)
			continue;
		if (look && sl->asleep && !thread_asleep(pid, tid, sl))
			sl->asleep = 0;
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
			 pid, tid);
		children_of(path, q, under, n, (unsigned char)look);
	}
	closedir(dir);
}

int exec_cpu_sample(int pipe_fd, struct exec_cpu *out, int max,
		    struct exec_sleep *sl)
{
	char path[64], want[64], link[64];
	long q[CPU_WALK];
	unsigned char under[CPU_WALK];
	struct stat st;
	int n = 0, got = 0, looked = 0;

	if (sl != NULL) {
		sl->n = 0;
		sl->asleep = 0;
	}
	if (fstat(pipe_fd, &st) != 0)
		return -1;
	snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)st.st_ino);
	children_of("/proc/thread-self/children", q, under, &n, 0);
	if (sl != NULL)
		sl->asleep = 1;
	for (int i = 0; i < n; i++) {
		ssize_t len;
		int reader, look = under[i];
		snprintf(path, sizeof(path), "/proc/%ld/fd/0", q[i]);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0)
			link[len] = '\0';
		reader = len > 0 && strcmp(link, want) == 0;
		if (reader && got < max) {
			snprintf(path, sizeof(path), "/proc/%ld/task/%ld/stat",
				 q[i], q[i]);
			if (stat_ticks(path, &out[got].ticks) == 0)
				out[got++].pid = q[i];
		}
		if (sl == NULL) {
			/* No directory lists: the main thread's children. */
			snprintf(path, sizeof(path),
				 "/proc/%ld/task/%ld/children", q[i], q[i]);
			children_of(path, q, under, &n, 0);
			continue;
		}
		/* A zombie holds nothing and has no children; but a main
		 * thread that ended (pthread_exit) leaves a process whose
		 * other threads may read through descriptors its fd list no
		 * longer shows: not judged. */
		snprintf(path, sizeof(path), "/proc/%ld/stat", q[i]);
		if (thread_state(path) == 'Z') {
			if (!live_threads(q[i]))
				continue;
			sl->asleep = 0;
		}
		/* Whoever holds the pipe may read it, on any descriptor. */
		if (sl->asleep) {
			int held = holds_pipe(q[i], want);
			if (held < 0)
				sl->asleep = 0;
			look |= held != 0;
		}
		looked += look;
		walk_threads(q[i], look, q, under, &n, sl);
	}
	/* The walk cut short may have missed a reader. */
	if (sl != NULL && (looked == 0 || n == CPU_WALK))
		sl->asleep = 0;
	return got > 0 ? got : -1;
}

int exec_sleep_same(const struct exec_sleep *then,
		    const struct exec_sleep *now)
{
	if (!then->asleep || !now->asleep || then->n != now->n ||
	    now->n == 0)
		return 0;
	for (int i = 0; i < now->n; i++) {
		int j = 0;
		while (j < then->n && then->t[j].tid != now->t[i].tid)
			j++;
		if (j == then->n || then->t[j].switches != now->t[i].switches)
			return 0;
	}
	return 1;
}

uint64_t exec_cpu_since(const struct exec_cpu *then, int nthen,
			const struct exec_cpu *now, int nnow)
{
	uint64_t sum = 0;

	for (int i = 0; i < nnow; i++)
		for (int j = 0; j < nthen; j++)
			if (now[i].pid == then[j].pid &&
			    now[i].ticks > then[j].ticks)
				sum += now[i].ticks - then[j].ticks;
	return sum;
}
