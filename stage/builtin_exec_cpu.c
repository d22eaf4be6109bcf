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
 * nothing at all, a read of a pipe whose every writer is among the
 * processes judged), as its wchan names the kernel function (and its
 * syscall file the call), and the next sample must find the same
 * threads, none of them woken since (their context switches counted by
 * /proc).  A thread in a read of the input pipe, of a FIFO or of a pipe
 * a process not judged may write, in a select, poll or epoll watching
 * anything else (or a set it cannot read), in the disk, running, or one
 * whose wchan cannot be read may be waiting for input; one that woke may have
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
#include <errno.h>
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

/* Is wchan w (without a compiler's suffix) one of the nw names in waits?
 * Then the thread's syscall file is read: the call's number in *nr and
 * where its arguments start (hexadecimal words) in *args, inside buf.
 * 0 if not, or if it cannot be read. */
static int in_wait(long pid, long tid, const char *w,
		   const char *const *waits, size_t nw, char *buf,
		   size_t len, long *nr, char **args)
{
	char path[96];
	size_t n = strcspn(w, ".\n");
	int which = -1;

	for (size_t i = 0; i < nw; i++)
		if (strlen(waits[i]) == n && strncmp(w, waits[i], n) == 0)
			which = (int)i;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/syscall", pid, tid);
	if (which < 0 || slurp(path, buf, len) <= 0)
		return 0;
	*nr = strtol(buf, args, 10);
	return *args != buf;
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
	char buf[256], *p, *e;
	unsigned long long a[4];
	long nr;
	int is_select;

	if (!in_wait(pid, tid, w, waits, sizeof(waits) / sizeof(*waits), buf,
		     sizeof(buf), &nr, &e))
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
	/* (The wait is inlined into the call on some kernels.) */
	static const char *const waits[] = {"ep_poll", "do_epoll_wait"};
	char path[96], buf[256], info[4096], link[64], *e;
	unsigned long long epfd;
	ssize_t got;
	long nr;

	if (!in_wait(pid, tid, w, waits, sizeof(waits) / sizeof(*waits), buf,
		     sizeof(buf), &nr, &e) ||
	    !(0
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

/* A thread in a read of a pipe of the program's own, not its input (a
 * parser waiting for what a child of its own writes: perl's backticks, a
 * shell's $(...)): the pipe is noted, and the wait counts as a sleep no
 * input ends once every holder of its write end found is among the
 * processes judged (pipes_closed_in), all of them asleep so, and this
 * stage holds none.  Its wchan is a pipe's wait, /proc says the call
 * (read or readv) and the descriptor, whose link names the pipe (a
 * FIFO's names a path: it may be fed from outside).  Not seen: a write
 * end passed outside the program's processes (over a socket, or opened
 * through /proc by another process of its user where it has no PID
 * namespace), one held by a thread with a descriptor table of its own,
 * and a descriptor closed and reused for another pipe while the read
 * waits. */
static int pipe_read_inside(long pid, long tid, const char *w,
			    struct exec_sleep *sl)
{
	static const char *const waits[] = {"anon_pipe_read", "pipe_read",
					    "pipe_wait",
					    "pipe_wait_readable"};
	char buf[256], link[64], *e;
	unsigned long long fd, ino;
	long nr;

	if (!in_wait(pid, tid, w, waits, sizeof(waits) / sizeof(*waits), buf,
		     sizeof(buf), &nr, &e) ||
	    (nr != SYS_read && nr != SYS_readv))
		return 0;
	fd = strtoull(e, &e, 16);
	if (fd > 1u << 20 || fd_link(pid, tid, fd, link, sizeof(link)) != 0 ||
	    strncmp(link, "pipe:[", 6) != 0)
		return 0;
	ino = strtoull(link + 6, &e, 10);
	if (*e != ']' || ino == sl->input)
		return 0; /* its input: waiting for more */
	for (int i = 0; i < sl->nreads; i++)
		if (sl->reads[i] == ino)
			return 1;
	if (sl->nreads == EXEC_PIPES_MAX)
		return 0;
	sl->reads[sl->nreads++] = ino;
	return 1;
}

/* Can each pipe a thread judged asleep waits to read be written only by
 * processes judged (every one of their threads asleep where no input
 * wakes it)?  A pipe with no writer found may have one the walk does not
 * see: it may be fed. */
static int pipes_closed_in(const struct exec_sleep *sl)
{
	for (int i = 0; i < sl->nreads; i++) {
		int found = 0;
		for (int j = 0; j < sl->nwriters; j++) {
			if (sl->writers[j].ino != sl->reads[i])
				continue;
			if (!sl->writers[j].judged)
				return 0;
			found = 1;
		}
		if (!found)
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
	     !epoll_on_nothing(pid, tid, w) &&
	     !pipe_read_inside(pid, tid, w, sl)))
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/status", pid, tid);
	if (thread_switches(path, &sl->t[sl->n].switches) != 0)
		return 0;
	sl->t[sl->n++].tid = tid;
	return 1;
}

/* Does pid hold the pipe (want, as its fd links read) on any descriptor?
 * 1 yes, 0 no, -1 yes with O_ASYNC (input raises a signal), or it has an
 * io_uring (whose completions wake a futex without a signal), or its
 * list, a link in it or a pipe's fdinfo cannot be read, or it holds more
 * write ends of pipes than can be noted.  The pipes it can write are
 * added to wr (*nwr of them). */
static int holds_pipe(const char *proc, const char *want, uint64_t *wr,
		      int *nwr)
{
	char path[96], link[64], info[512];
	struct dirent *d;
	DIR *dir;
	int held = 0;

	snprintf(path, sizeof(path), "%s/fd", proc);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while (held >= 0 && (d = readdir(dir)) != NULL) {
		char *e, *f;
		long fd = strtol(d->d_name, &e, 10);
		ssize_t len;
		if (e == d->d_name || *e != '\0' || fd < 0)
			continue;
		snprintf(path, sizeof(path), "%s/fd/%ld", proc, fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0) {
			if (errno != ENOENT) /* (ENOENT: closed since) */
				held = -1;
			continue;
		}
		link[len] = '\0';
		if (strcmp(link, "anon_inode:[io_uring]") == 0)
			held = -1;
		if (strncmp(link, "pipe:[", 6) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/fdinfo/%ld", proc, fd);
		if (slurp(path, info, sizeof(info)) <= 0 ||
		    (f = strstr(info, "flags:")) == NULL) {
			held = -1;
			continue;
		}
		if ((strtoul(f + 6, NULL, 8) & O_ACCMODE) != O_RDONLY) {
			if (*nwr == EXEC_PIPES_MAX)
				held = -1;
			else
				wr[(*nwr)++] = strtoull(link + 6, NULL, 10);
		}
		if (strcmp(link, want) != 0)
			continue;
		if (held == 0)
			held = 1;
		if (strtoul(f + 6, NULL, 8) & O_ASYNC)
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

/* A write end of pipe ino, held by a process judged or not: one entry
 * per pipe, judged only if every holder found is.  The input pipe is
 * not noted (a read of it is never taken for a sleep). */
static void note_writer(struct exec_sleep *sl, uint64_t ino, int judged)
{
	if (ino == sl->input)
		return;
	for (int i = 0; i < sl->nwriters; i++)
		if (sl->writers[i].ino == ino) {
			sl->writers[i].judged &= judged;
			return;
		}
	if (sl->nwriters == EXEC_PIPES_MAX) {
		sl->asleep = 0;
		return;
	}
	sl->writers[sl->nwriters].ino = ino;
	sl->writers[sl->nwriters++].judged = judged;
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
		sl->nreads = sl->nwriters = 0;
	}
	if (fstat(pipe_fd, &st) != 0)
		return -1;
	if (sl != NULL) {
		/* This stage's own write ends (its stderr's, say) are a
		 * writer not judged. */
		uint64_t wr[EXEC_PIPES_MAX];
		int nwr = 0;
		sl->input = (uint64_t)st.st_ino;
		sl->asleep = holds_pipe("/proc/self", "", wr, &nwr) >= 0;
		for (int j = 0; j < nwr; j++)
			note_writer(sl, wr[j], 0);
		if (!sl->asleep)
			sl = NULL; /* nothing can be judged asleep */
	}
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
			uint64_t wr[EXEC_PIPES_MAX];
			char proc[32];
			int nwr = 0, held;
			snprintf(proc, sizeof(proc), "/proc/%ld", q[i]);
			held = holds_pipe(proc, want, wr, &nwr);
			if (held < 0)
				sl->asleep = 0;
			look |= held != 0;
			for (int j = 0; j < nwr && sl->asleep; j++)
				note_writer(sl, wr[j], look);
		}
		looked += look;
		walk_threads(q[i], look, q, under, &n, sl);
	}
	/* The walk cut short may have missed a reader (or a writer). */
	if (sl != NULL && (looked == 0 || n == CPU_WALK ||
			   !pipes_closed_in(sl)))
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
