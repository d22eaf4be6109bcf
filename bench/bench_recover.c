/*
 * bench_recover.c - a crashed stage and Ctrl-C, timed on the real ringpipe
 * binary with a clock finer than a shell loop's:
 *
 *   bench-ring recovery [--kills N] [--stage WORD] [--pipeline NAME]
 *                       [--log FILE] -- CMD...
 *   bench-ring sigint [--runs N] [--settle-ms MS] CMDLINE...
 *
 * recovery runs CMD (a pipeline that passes every input line containing
 * "x" through, such as `ringpipe run` of file-source --lines - ! grep x !
 * file-sink --lines -, with no restart backoff) with its stdin and stdout
 * on pipes.  N times: SIGKILL the stage whose command line holds WORD,
 * wait until it is gone, send one new line, and time from the kill until
 * that line comes out.  The old stage is dead before the line is sent, so
 * only its replacement can have passed it: the figure is a stage's crash
 * to its replacement processing records again.  Every line must come out
 * exactly once.  With --pipeline, WORD is a stage's name and the stage is
 * found through `CMD[0] stat NAME --json` (its pid); if that stage keeps
 * a standby, each kill waits until the standby is ready.  Prints
 *   recovery: kills N median_ms M p99_ms P max_ms X lost L repeated R
 *
 * sigint runs each CMDLINE (sh -c, in a process group of its own, as a
 * shell starts a foreground job) in turn, runs times; after the settle
 * time it sends SIGINT to the group, as Ctrl-C does, and times until
 * every process of the tree is gone (this process is a child subreaper,
 * so even the stages a supervisor started in sessions of their own come
 * back to it to be reaped).  Prints, per CMDLINE in order,
 *   sigint: cmd I median_ms M p99_ms P max_ms X runs N
 *
 * Every wait is bounded; whatever is left at the end is killed and
 * reaped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MS 1000000LL
#define MAX_KILLS 2000
#define MAX_SIGINT_RUNS 101
#define MAX_CMDS 4
/* The first line through a fresh pipeline: start-up included. */
#define FIRST_LINE_NS (20000 * MS)
/* A killed stage must be gone, and its replacement's line out, by then. */
#define DEATH_NS (5000 * MS)
#define LINE_NS (10000 * MS)
#define EXIT_NS (10000 * MS)

/* -------------------------------------------------------- process trees */

/* Direct children of pid (orphans re-parented to a subreaper included). */
static int children_of(pid_t pid, pid_t *out, int max)
{
	char path[64], buf[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL)
		for (char *p = buf, *end; n < max; p = end) {
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			out[n++] = (pid_t)v;
		}
	fclose(f);
	return n;
}

/* Does pid's command line hold word (its arguments joined by blanks)? */
static int cmdline_has(pid_t pid, const char *word)
{
	char path[64], buf[512];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return strstr(buf, word) != NULL;
}

/* Reap every child that has exited; 1 once there are none left. */
static int reap_exited(void)
{
	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG);

		if (p > 0)
			continue;
		return p < 0 && errno == ECHILD;
	}
}

/* Wait (polling every 50 us) until this process has no children left,
 * at most until deadline; 0, or -ETIMEDOUT. */
static int await_no_children(int64_t deadline)
{
	while (!reap_exited()) {
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
		bench_sleep_ns(50 * 1000);
	}
	return 0;
}

/* The last resort: SIGKILL the group and every child (re-parented
 * orphans too, round after round), and reap them all. */
static void kill_all(pid_t pgid)
{
	int64_t end = bench_now_ns() + EXIT_NS;

	if (pgid > 0)
		kill(-pgid, SIGKILL);
	while (!reap_exited() && bench_now_ns() < end) {
		pid_t k[256];
		int n = children_of(getpid(), k, 256);

		for (int i = 0; i < n; i++)
			kill(k[i], SIGKILL);
		bench_sleep_ns(MS);
	}
}

/* "median_ms M p99_ms P max_ms X" of n durations. */
static void print_stats(uint64_t *v, size_t n)
{
	struct bench_lat_out o;

	bench_percentiles(v, n, &o);
	printf("median_ms %.2f p99_ms %.2f max_ms %.2f", o.p50_us / 1e3,
	       o.p99_us / 1e3, o.max_us / 1e3);
}

/* fd as fd `to` of the program about to be exec'd: a copy without
 * close-on-exec, or the flag cleared when it already is that fd. */
static void give_fd(int fd, int to)
{
	if (fd == to)
		fcntl(fd, F_SETFD, 0);
	else
		dup2(fd, to);
}

/* ------------------------------------------------------------- recovery */

struct rec_run {
	pid_t sup;
	int in, out;   /* its stdin (we write), its stdout (we read) */
	char buf[8192];
	size_t have;
	uint64_t next; /* the number of the next line expected out */
	uint64_t lost, repeated;
};

/* Start the command with stdin and stdout on pipes, stderr to log. */
static int rec_start(struct rec_run *r, char **cmd, const char *log)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		return -errno;
	fflush(NULL);
	r->sup = fork();
	if (r->sup < 0)
		return -errno;
	if (r->sup == 0) {
		/* Close-on-exec: only its copy as fd 2 goes on. */
		int err = log ? open(log, O_WRONLY | O_CREAT | O_TRUNC |
					       O_CLOEXEC, 0644)
			      : open("/dev/null", O_WRONLY | O_CLOEXEC);
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		give_fd(in[0], 0);
		give_fd(out[1], 1);
		if (err >= 0)
			give_fd(err, 2);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	r->in = in[1];
	r->out = out[0];
	return 0;
}

static int rec_send(struct rec_run *r, uint64_t n)
{
	char line[64];
	int len = snprintf(line, sizeof(line), "x %llu\n",
			   (unsigned long long)n);

	return write(r->in, line, (size_t)len) == len ? 0 : -EPIPE;
}

/* Account one line that came out: in order, exactly once. */
static void rec_count(struct rec_run *r, uint64_t n)
{
	if (n < r->next) {
		r->repeated++;
		return;
	}
	r->lost += n - r->next;
	r->next = n + 1;
}

/* Read until line n has come out, by the deadline.  0, or < 0. */
static int rec_await(struct rec_run *r, uint64_t n, int64_t deadline)
{
	while (r->next <= n) {
		struct pollfd pfd = {.fd = r->out, .events = POLLIN};
		int64_t left = deadline - bench_now_ns();
		char *nl;
		ssize_t k;

		/* Whole lines first: they may already be in the buffer. */
		while ((nl = memchr(r->buf, '\n', r->have)) != NULL) {
			size_t len = (size_t)(nl - r->buf) + 1;
			unsigned long long v;

			if (sscanf(r->buf, "x %llu", &v) == 1)
				rec_count(r, v);
			memmove(r->buf, r->buf + len, r->have - len);
			r->have -= len;
		}
		if (r->next > n)
			break;
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(left / MS) + 1) < 0 && errno != EINTR)
			return -errno;
		if (!(pfd.revents & (POLLIN | POLLHUP)))
			continue;
		k = read(r->out, r->buf + r->have, sizeof(r->buf) - r->have);
		if (k == 0)
			return -EPIPE; /* the pipeline ended */
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k > 0)
			r->have += (size_t)k;
		if (r->have == sizeof(r->buf))
			return -EPROTO; /* a line that long is not ours */
	}
	return 0;
}

/* The running stage whose command line holds word, other than skip. */
static pid_t find_stage(pid_t sup, const char *word, pid_t skip)
{
	int64_t end = bench_now_ns() + DEATH_NS;

	do {
		pid_t k[64];
		int n = children_of(sup, k, 64);

		for (int i = 0; i < n; i++)
			if (k[i] != skip && cmdline_has(k[i], word))
				return k[i];
		bench_sleep_ns(MS);
	} while (bench_now_ns() < end);
	return -1;
}

/* Run `bin stat pipeline --json` and read what it says of stage: its
 * pid, and whether its standby is ready (1), not yet (0), or it keeps
 * none (-1).  0, or -1 (no such stage running yet). */
static int stat_stage(const char *bin, const char *pipeline,
		      const char *stage, pid_t *pid, int *standby)
{
	static char buf[65536];
	char key[128], *at, *end, *sb;
	size_t have = 0;
	int p[2], status;
	pid_t kid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	kid = fork();
	if (kid == 0) {
		dup2(p[1], 1);
		execl(bin, bin, "stat", pipeline, "--json", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	for (ssize_t n; kid > 0 && have + 1 < sizeof(buf) &&
			(n = read(p[0], buf + have, sizeof(buf) - 1 - have)) > 0;)
		have += (size_t)n;
	close(p[0]);
	if (kid < 0)
		return -1;
	while (waitpid(kid, &status, 0) < 0 && errno == EINTR)
		;
	buf[have] = '\0';
	snprintf(key, sizeof(key), "{\"name\":\"%s\"", stage);
	if ((at = strstr(buf, key)) == NULL)
		return -1;
	end = strstr(at + 1, "{\"name\":");
	if (end != NULL)
		*end = '\0';
	sb = strstr(at, "\"standby_pid\":");
	if ((at = strstr(at, "\"pid\":")) == NULL ||
	    (*pid = (pid_t)strtol(at + 6, NULL, 10)) <= 0)
		return -1;
	*standby = sb == NULL ? -1 : strncmp(sb + 14, "null", 4) != 0;
	return 0;
}

/* The stage by its name through ringpipe stat, once its standby (if it
 * keeps one) is ready to take over; other than skip. */
static pid_t find_by_stat(const char *bin, const char *pipeline,
			  const char *stage, pid_t skip)
{
	int64_t end = bench_now_ns() + DEATH_NS;

	do {
		pid_t pid;
		int standby;
		if (stat_stage(bin, pipeline, stage, &pid, &standby) == 0 &&
		    pid != skip && standby != 0)
			return pid;
		bench_sleep_ns(MS);
	} while (bench_now_ns() < end);
	return -1;
}

/* SIGKILL the stage and wait until it is gone (its pidfd reads as
 * exited): then no line sent after this can have been its work. */
static int kill_and_await(pid_t victim, int64_t *t0)
{
	int fd = (int)syscall(SYS_pidfd_open, victim, 0);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;

	if (fd < 0)
		return -errno;
	*t0 = bench_now_ns();
	if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) != 0) {
		close(fd);
		return -errno;
	}
	do
		n = poll(&pfd, 1, (int)(DEATH_NS / MS));
	while (n < 0 && errno == EINTR);
	close(fd);
	return n == 1 ? 0 : -ETIMEDOUT;
}

/* Close its input and let it finish; 0 if it exited 0 in time. */
static int rec_finish(struct rec_run *r)
{
	int64_t end = bench_now_ns() + EXIT_NS;
	int status = 0, eof = 0;

	close(r->in);
	r->in = -1;
	/* Drain its output, so the sink never blocks on a full pipe, until
	 * the supervisor has exited. */
	while (r->sup > 0 && bench_now_ns() < end) {
		struct pollfd pfd = {.fd = r->out, .events = POLLIN};
		char sink[4096];

		if (!eof && poll(&pfd, 1, 1) > 0 &&
		    read(r->out, sink, sizeof(sink)) <= 0)
			eof = 1;
		if (eof)
			bench_sleep_ns(MS);
		if (waitpid(r->sup, &status, WNOHANG) == r->sup)
			r->sup = -1;
	}
	if (r->sup > 0) {
		fprintf(stderr, "bench-ring recovery: the pipeline did not "
			"end\n");
		return -1;
	}
	/* Its stages are gone with it; reap any that came to us. */
	if (await_no_children(end) != 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void recovery_usage(void)
{
	fprintf(stderr, "usage: bench-ring recovery [--kills N] [--stage WORD] "
			"[--pipeline NAME] [--log FILE] -- CMD [ARG...]\n");
}

static int recovery_kills(struct rec_run *r, const char *word,
			  const char *bin, const char *pipeline, int kills,
			  uint64_t *took)
{
	pid_t victim = -1;
	int err;

	for (int i = 1; i <= kills; i++) {
		int64_t t0 = 0;

		victim = pipeline ? find_by_stat(bin, pipeline, word, victim)
				  : find_stage(r->sup, word, victim);
		if (victim < 0) {
			fprintf(stderr, "bench-ring recovery: no stage "
				"\"%s\" running (kill %d)\n", word, i);
			return -1;
		}
		err = kill_and_await(victim, &t0);
		if (!err)
			err = rec_send(r, (uint64_t)i);
		if (!err)
			err = rec_await(r, (uint64_t)i, t0 + LINE_NS);
		if (err) {
			fprintf(stderr, "bench-ring recovery: kill %d: %s\n",
				i, strerror(-err));
			return -1;
		}
		took[i - 1] = (uint64_t)(bench_now_ns() - t0);
	}
	return 0;
}

int bench_recovery_main(int argc, char **argv)
{
	static uint64_t took[MAX_KILLS];
	struct rec_run r = {.sup = -1, .in = -1, .out = -1};
	const char *word = "grep", *log = NULL, *pipeline = NULL;
	int kills = 200, i, err;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "--kills") == 0 && v)
			kills = atoi(argv[++i]);
		else if (strcmp(argv[i], "--stage") == 0 && v)
			word = argv[++i];
		else if (strcmp(argv[i], "--pipeline") == 0 && v)
			pipeline = argv[++i];
		else if (strcmp(argv[i], "--log") == 0 && v)
			log = argv[++i];
		else
			break;
	}
	if (i + 1 >= argc || strcmp(argv[i], "--") != 0 || kills < 1 ||
	    kills > MAX_KILLS) {
		recovery_usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	err = rec_start(&r, argv + i + 1, log);
	if (err) {
		fprintf(stderr, "bench-ring recovery: %s\n", strerror(-err));
		return 1;
	}
	/* Line 0 through a fresh pipeline: everything is up. */
	err = rec_send(&r, 0);
	if (!err)
		err = rec_await(&r, 0, bench_now_ns() + FIRST_LINE_NS);
	if (err)
		fprintf(stderr, "bench-ring recovery: the pipeline passes "
			"no line: %s\n", strerror(-err));
	if (!err)
		err = recovery_kills(&r, word, argv[i + 1], pipeline, kills,
				     took);
	if (!err)
		err = rec_finish(&r);
	if (err) {
		if (r.in >= 0)
			close(r.in);
		kill_all(r.sup);
		return 1;
	}
	close(r.out);
	printf("recovery: kills %d ", kills);
	print_stats(took, (size_t)kills);
	printf(" lost %llu repeated %llu\n", (unsigned long long)r.lost,
	       (unsigned long long)r.repeated);
	return r.lost || r.repeated ? 1 : 0;
}

/* --------------------------------------------------------------- sigint */

/* Start cmd in a process group of its own, SIGINT back to its default
 * (a background job's would be ignored), everything to /dev/null. */
static pid_t sigint_start(const char *cmd)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (null >= 0) {
			give_fd(null, 0);
			give_fd(null, 1);
			give_fd(null, 2);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		setpgid(pid, pid); /* either side may win the race */
	return pid;
}

/* One run: SIGINT after settle_ns, ns until every process is gone. */
static int64_t sigint_once(const char *cmd, int64_t settle_ns)
{
	pid_t pid = sigint_start(cmd);
	int64_t t0;

	if (pid < 0)
		return -1;
	bench_sleep_ns(settle_ns);
	if (reap_exited()) {
		fprintf(stderr, "bench-ring sigint: \"%s\" ended before "
			"the signal\n", cmd);
		return -1;
	}
	t0 = bench_now_ns();
	kill(-pid, SIGINT);
	if (await_no_children(t0 + EXIT_NS) != 0) {
		fprintf(stderr, "bench-ring sigint: \"%s\" outlived SIGINT\n",
			cmd);
		kill_all(pid);
		return -1;
	}
	return bench_now_ns() - t0;
}

int bench_sigint_main(int argc, char **argv)
{
	static uint64_t took[MAX_CMDS][MAX_SIGINT_RUNS];
	const char *cmds[MAX_CMDS];
	int runs = 5, ncmd = 0, bad = 0;
	int64_t settle = 300 * MS;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "--runs") == 0 && v)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "--settle-ms") == 0 && v)
			settle = atoi(argv[++i]) * MS;
		else if (argv[i][0] != '-' && ncmd < MAX_CMDS)
			cmds[ncmd++] = argv[i];
		else
			bad = 1;
	}
	if (bad || ncmd < 1 || runs < 1 || runs > MAX_SIGINT_RUNS ||
	    settle < 0) {
		fprintf(stderr, "usage: bench-ring sigint [--runs N] "
				"[--settle-ms MS] CMDLINE...\n");
		return 2;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* In alternation, so a slow phase hits every command alike. */
	for (int r = 0; r < runs; r++) {
		for (int c = 0; c < ncmd; c++) {
			int64_t t = sigint_once(cmds[c], settle);

			if (t < 0)
				return 1;
			took[c][r] = (uint64_t)t;
		}
	}
	for (int c = 0; c < ncmd; c++) {
		printf("sigint: cmd %d ", c + 1);
		print_stats(took[c], (size_t)runs);
		printf(" runs %d\n", runs);
	}
	return 0;
}
