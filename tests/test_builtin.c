/*
 * test_builtin.c - the built-in stages of ringpipe-stage, exec'd under the
 * strict policy as a supervisor runs them: one stage between rings the
 * test feeds and drains, chains of stages joined by rings of their own,
 * and whole pipelines from a file to a file compared with grep(1).
 * Every test also fails on any seccomp violation.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../stage/ringpipe.h"
#include "../supervisor/spawn.h"
#include "harness.h"

#define SEC 1000000000LL
#define MS 1000000LL
#define MAXST 4
#define T_UNTERMINATED 17 /* file-sink --lines: no newline after it */
#define T_PIECE 19        /* a line's piece, the rest in the next record */

extern char **environ;

/* ------------------------------------------------------------ helpers */

static const char *stage_bin(void)
{
	static char path[256];
	const char *b = getenv("RP_TEST_BUILD");

	snprintf(path, sizeof(path), "%s/ringpipe-stage",
		 b ? b : "build/plain");
	return path;
}

/* Byte comparisons everywhere, and no leak checker in exec'd stages:
 * its stop-the-world needs syscalls no stage may make. */
static void test_env(void)
{
	setenv("LC_ALL", "C", 1);
	if (rp_test_sanitized())
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
}

static char *slurp_fd(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	ssize_t r;

	while (buf != NULL) {
		if (n == cap) {
			char *p = realloc(buf, cap * 2 + 1);
			if (p == NULL) {
				free(buf);
				return NULL;
			}
			buf = p;
			cap *= 2;
		}
		r = pread(fd, buf + n, cap - n, (off_t)n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;

	*len = 0;
	if (fd < 0)
		return NULL;
	buf = slurp_fd(fd, len);
	close(fd);
	return buf;
}

static int spit(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t w = -1;

	if (fd < 0)
		return -1;
	if (len == 0 || (w = write(fd, data, len)) == (ssize_t)len)
		w = 0;
	close(fd);
	return w == 0 ? 0 : -1;
}

/* A temporary directory of the test's own; tmp_clean removes it and
 * everything in it, whatever the test put there.  Its name carries the
 * test process's pid, so that the directory of a test killed for taking
 * too long is removed by the next one. */
struct tmp {
	char dir[64];
	char path[4][128];
};

#define TMP_PREFIX "rp-builtin-"

static void rm_flat_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

static void tmp_sweep(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[300];
		long pid;
		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(TMP_PREFIX), NULL, 10);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
		rm_flat_dir(path);
	}
	closedir(d);
}

static int tmp_make(struct tmp *t)
{
	char dir[64];

	memset(t, 0, sizeof(*t));
	tmp_sweep();
	snprintf(dir, sizeof(dir), "/tmp/" TMP_PREFIX "%d-XXXXXX",
		 (int)getpid());
	if (mkdtemp(dir) == NULL)
		return -1;
	memcpy(t->dir, dir, sizeof(dir));
	for (int i = 0; i < 4; i++)
		snprintf(t->path[i], sizeof(t->path[i]), "%s/f%d", dir, i);
	return 0;
}

static void tmp_clean(struct tmp *t)
{
	rm_flat_dir(t->dir);
}

/* Run a program to completion (bounded) with its stdout and stderr in
 * memfds; returns its wait status, -1 if it could not run. */
static int run_cmd(char *const argv[], char **out, char **err)
{
	int ofd = memfd_create("out", MFD_CLOEXEC);
	int efd = memfd_create("err", MFD_CLOEXEC);
	posix_spawn_file_actions_t fa;
	size_t n;
	pid_t pid;
	int st = -1;

	*out = *err = NULL;
	if (ofd < 0 || efd < 0)
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, efd, STDERR_FILENO);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0)
		st = rp_test_wait(pid, 20);
	posix_spawn_file_actions_destroy(&fa);
	*out = slurp_fd(ofd, &n);
	*err = slurp_fd(efd, &n);
out:
	if (ofd >= 0)
		close(ofd);
	if (efd >= 0)
		close(efd);
	return st;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* -------------------------------------------------- records received */

struct grec {
	char *data;
	uint32_t len;
	uint16_t type, flags;
	uint64_t origin;
	uint32_t sub;
};

struct got {
	struct grec *r;
	size_t n, cap;
};

static void got_add(struct got *g, const struct rp_view *v)
{
	struct grec *r;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->r = realloc(g->r, g->cap * sizeof(*g->r));
		CU_ASSERT_FATAL(g->r != NULL);
	}
	r = &g->r[g->n++];
	r->data = malloc(v->len + 1);
	CU_ASSERT_FATAL(r->data != NULL);
	memcpy(r->data, v->data, v->len);
	r->data[v->len] = '\0';
	r->len = v->len;
	r->type = v->type;
	r->flags = v->flags;
	r->origin = v->origin;
	r->sub = v->sub;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->r[i].data);
	free(g->r);
	memset(g, 0, sizeof(*g));
}

/* Does record i hold exactly the string s? */
static int got_is(const struct got *g, size_t i, const char *s)
{
	return i < g->n && g->r[i].len == strlen(s) &&
	       memcmp(g->r[i].data, s, g->r[i].len) == 0;
}

/* A record to feed: bytes and a type (0: data). */
struct feed {
	const void *data;
	uint32_t len;
	uint16_t type;
};

/* ----------------------------------------------------------- pipelines */

/*
 * Stages 0..n-1 in a row.  Ring i is stage i's input and ring i+1 its
 * output; ring 0 exists when the test feeds the first stage, ring n when
 * the test drains the last one.  The test is every stage's supervisor:
 * it watches pidfds and seccomp listeners, and when a stage exits it
 * marks the stage's input broken so that the producer stops waiting.
 */
struct pl {
	int n;
	char **argv[MAXST];
	struct rp_ring_fds ring[MAXST + 1];
	int has_ring[MAXST + 1];
	struct rp_bell *sup;  /* the supervisor's bell (eventfd) */
	struct rp_bell *test; /* the test's bell as source and sink */
	struct rp_bell *bell[MAXST];
	struct rp_producer *src;
	struct rp_consumer *sink;
	struct rp_stage_proc proc[MAXST];
	int spawned[MAXST], running[MAXST], status[MAXST];
	int errfd[MAXST];
	int violations;
	char violation[64];
	struct got got;
	char why[160];
};

static struct rp_bell *producer_bell(struct pl *p, int ring)
{
	return ring == 0 ? p->test : p->bell[ring - 1];
}

static struct rp_bell *consumer_bell(struct pl *p, int ring)
{
	return ring == p->n ? p->test : p->bell[ring];
}

/* Set up n stages (argv each, NULL-terminated, argv[0] the stage name);
 * feed: the test writes ring 0; drain: the test reads ring n. */
static void pl_make(struct pl *p, int n, char **argv[], int feed, int drain,
		    uint32_t capacity)
{
	struct rp_ring_config cfg = {.capacity = capacity};
	struct rp_ring_fds side;

	memset(p, 0, sizeof(*p));
	p->n = n;
	test_env();
	CU_ASSERT_FATAL(rp_bell_create(RP_BELL_EVENTFD, &p->sup) == 0);
	CU_ASSERT_FATAL(rp_bell_create(0, &p->test) == 0);
	for (int i = 0; i < n; i++) {
		p->argv[i] = argv[i];
		p->errfd[i] = -1;
		CU_ASSERT_FATAL(rp_bell_create(0, &p->bell[i]) == 0);
	}
	for (int i = 0; i <= n; i++) {
		p->has_ring[i] = (i > 0 && i < n) || (i == 0 && feed) ||
				 (i == n && drain);
		if (p->has_ring[i])
			CU_ASSERT_FATAL(rp_ring_create(&cfg, &p->ring[i]) == 0);
	}
	if (feed) {
		CU_ASSERT_FATAL(rp_ring_fds_for_producer(&p->ring[0], &side) ==
				0);
		CU_ASSERT_FATAL(rp_producer_open(&side, p->test, p->bell[0],
						 &p->src) == 0);
		rp_ring_fds_close(&side);
	}
	if (drain) {
		CU_ASSERT_FATAL(rp_ring_fds_for_consumer(&p->ring[n], &side) ==
				0);
		CU_ASSERT_FATAL(rp_consumer_open(&side, p->test,
						 p->bell[n - 1],
						 &p->sink) == 0);
		rp_ring_fds_close(&side);
	}
}

/* Exec every stage: ringpipe-stage NAME ARGS..., strict policy, stderr
 * into a memfd. */
static void pl_spawn(struct pl *p)
{
	for (int i = 0; i < p->n; i++) {
		struct rp_stage_links l = {
			.in = p->has_ring[i] ? &p->ring[i] : NULL,
			.in_bell = producer_bell(p, i),
			.out = p->has_ring[i + 1] ? &p->ring[i + 1] : NULL,
			.out_bell = consumer_bell(p, i + 1),
			.sup_bell = p->sup,
			.own_bell = p->bell[i],
		};
		struct rp_stage_spec spec;
		char *argv[16];
		int k = 0;

		argv[k++] = (char *)stage_bin();
		for (char **a = p->argv[i]; *a != NULL && k < 15; a++)
			argv[k++] = *a;
		argv[k] = NULL;
		memset(&spec, 0, sizeof(spec));
		spec.name = p->argv[i][0];
		rp_sandbox_defaults(&spec.sandbox);
		spec.sandbox.policy = RP_POLICY_STRICT;
		spec.argv = argv;
		spec.trusted = 1; /* ringpipe-stage opens its files first */
		p->errfd[i] = memfd_create("stage-stderr", MFD_CLOEXEC);
		CU_ASSERT_FATAL(p->errfd[i] >= 0);
		spec.stderr_fd = p->errfd[i];
		if (rp_spawn(&spec, &l, &p->proc[i], p->why,
			     sizeof(p->why)) != 0) {
			fprintf(stderr, "spawning %s: %s\n", spec.name, p->why);
			CU_FAIL_FATAL("rp_spawn");
		}
		CU_ASSERT(p->proc[i].listener >= 0); /* the filter is on */
		p->spawned[i] = p->running[i] = 1;
	}
}

/* Take violations and exits; returns how many stages still run. */
static int pl_watch(struct pl *p, int ms)
{
	struct pollfd pf[2 * MAXST];
	int idx[2 * MAXST], np = 0, left = 0;

	for (int i = 0; i < p->n; i++) {
		if (!p->running[i])
			continue;
		pf[np] = (struct pollfd){.fd = p->proc[i].pidfd,
					 .events = POLLIN};
		idx[np++] = i;
		if (p->proc[i].listener >= 0) {
			pf[np] = (struct pollfd){.fd = p->proc[i].listener,
						 .events = POLLIN};
			idx[np++] = i;
		}
	}
	if (np > 0 && poll(pf, (nfds_t)np, ms) > 0) {
		for (int j = 0; j < np; j++) {
			int i = idx[j];
			struct rp_violation v;
			if (!(pf[j].revents & POLLIN) || !p->running[i])
				continue;
			if (pf[j].fd == p->proc[i].listener) {
				if (rp_spawn_violation(&p->proc[i], 0, &v) == 0) {
					p->violations++;
					snprintf(p->violation,
						 sizeof(p->violation),
						 "%s: %s", p->proc[i].name,
						 v.name);
					fprintf(stderr, "violation: %s\n",
						p->violation);
				}
				continue;
			}
			p->status[i] = rp_spawn_reap(&p->proc[i], 1000);
			p->running[i] = 0;
			/* As a supervisor does: its producer must not wait
			 * for room that will never come, and a stage that
			 * was killed takes its siblings down with it rather
			 * than leave them waiting for it. */
			if (p->has_ring[i])
				rp_ring_mark_broken(&p->ring[i],
						    producer_bell(p, i));
			for (int k = 0; k < p->n; k++)
				if (WIFSIGNALED(p->status[i]) && p->running[k])
					rp_ctl_cancel(p->proc[k].tx,
						      RP_REASON_SIBLING);
		}
	}
	for (int i = 0; i < p->n; i++)
		left += p->running[i];
	return left;
}

/*
 * Feed nfeed records (then end the input if end_input), drain the output
 * into p->got, and wait for every stage to exit, all within secs.
 * Stages still running then are killed (the test fails).  When every
 * stage ended well, the output must have ended too (a failed or
 * cancelled stage leaves its output open for the supervisor to handle).
 */
static void pl_run(struct pl *p, const struct feed *feed, size_t nfeed,
		   int end_input, int secs)
{
	int64_t deadline = rp_now_ns() + (int64_t)secs * SEC;
	int ended = p->src == NULL, out_done = p->sink == NULL, left = 1;
	int all_ok = 1;
	size_t sent = 0;

	while (rp_now_ns() < deadline) {
		int progress = 0, err = 0;
		struct rp_view v;

		while (!ended && sent < nfeed) {
			struct rp_meta m = {
				.origin = sent,
				.type = feed[sent].type ? feed[sent].type
							: RP_REC_T_DATA};
			void *dst;
			err = rp_reserve(p->src, feed[sent].len, &dst);
			if (err == -EAGAIN)
				break;
			if (err != 0) { /* -EPIPE: the stage stopped */
				ended = 1;
				break;
			}
			memcpy(dst, feed[sent].data, feed[sent].len);
			CU_ASSERT_FATAL(rp_commit(p->src, feed[sent].len, &m) ==
					0);
			sent++;
			progress = 1;
		}
		if (!ended && sent == nfeed && end_input) {
			rp_producer_end(p->src);
			ended = 1;
		}
		if (p->src)
			rp_flush(p->src);
		while (!out_done && (err = rp_peek(p->sink, &v)) == 0) {
			got_add(&p->got, &v);
			progress = 1;
		}
		if (!out_done) {
			rp_release(p->sink);
			if (err == -ENODATA)
				out_done = 1;
			else
				CU_ASSERT_FATAL(err == -EAGAIN);
		}
		if (progress)
			continue;
		/* Nothing moved in a full pass: if everyone is gone,
		 * nothing more will. */
		if (left == 0)
			break;
		left = pl_watch(p, 0);
		if (left == 0)
			continue; /* one more pass for what they left */
		if (!out_done && rp_peek_wait(p->sink, &v, 20 * MS) == 0)
			rp_rewind(p->sink);
		else if (out_done)
			pl_watch(p, 20);
	}
	CU_ASSERT_EQUAL(left, 0);
	for (int i = 0; i < p->n; i++) {
		if (p->running[i]) {
			fprintf(stderr, "%s still running: killed\n",
				p->proc[i].name);
			kill(p->proc[i].pid, SIGKILL);
			p->status[i] = rp_spawn_reap(&p->proc[i], 1000);
			p->running[i] = 0;
		}
		if (rp_test_exit_code(p->status[i]) != RP_EXIT_OK)
			all_ok = 0;
	}
	if (all_ok)
		CU_ASSERT(out_done);
	CU_ASSERT_EQUAL(p->violations, 0);
}

/* Exit code of stage i (or -1000 - signal). */
static int pl_exit(const struct pl *p, int i)
{
	return rp_test_exit_code(p->status[i]);
}

/* Stage i's stderr, NUL-terminated (free it). */
static char *pl_stderr(const struct pl *p, int i)
{
	size_t n;

	return slurp_fd(p->errfd[i], &n);
}

/* The last control record stage i sent. */
static struct rp_ctl_msg pl_last_ctl(struct pl *p, int i)
{
	struct rp_ctl_msg m, last;

	memset(&last, 0, sizeof(last));
	while (rp_ctl_recv(p->proc[i].rx, &m) == 0)
		last = m;
	return last;
}

/* Run a pipeline of n stages from a file to a file (a ring of capacity
 * bytes between each), to its end: every stage must exit 0.  pl_free is
 * the caller's (stderr may still be read). */
static void pl_through(struct pl *p, int n, char **argv[], uint32_t capacity)
{
	pl_make(p, n, argv, 0, 0, capacity);
	pl_spawn(p);
	pl_run(p, NULL, 0, 1, 40);
	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL(pl_exit(p, i), RP_EXIT_OK);
}

static void pl_free(struct pl *p)
{
	for (int i = 0; i < p->n; i++) {
		if (p->running[i]) {
			kill(p->proc[i].pid, SIGKILL);
			rp_spawn_reap(&p->proc[i], 1000);
		}
		if (p->spawned[i])
			rp_spawn_close(&p->proc[i]);
		if (p->errfd[i] >= 0)
			close(p->errfd[i]);
	}
	rp_producer_close(p->src);
	rp_consumer_close(p->sink);
	for (int i = 0; i <= p->n; i++)
		if (p->has_ring[i])
			rp_ring_fds_close(&p->ring[i]);
	for (int i = 0; i < p->n; i++)
		rp_bell_close(p->bell[i]);
	rp_bell_close(p->test);
	rp_bell_close(p->sup);
	got_free(&p->got);
}

/* One stage fed and drained by the test. */
static void run_one(struct pl *p, char **argv, const struct feed *feed,
		    size_t nfeed, uint32_t capacity)
{
	char **av[1] = {argv};

	pl_make(p, 1, av, 1, 1, capacity);
	pl_spawn(p);
	pl_run(p, feed, nfeed, 1, 20);
}

/* Feed records made of strings. */
static struct feed *feed_strings(const char *const *s, size_t n)
{
	struct feed *f = calloc(n, sizeof(*f));

	CU_ASSERT_FATAL(f != NULL);
	for (size_t i = 0; i < n; i++) {
		f[i].data = s[i];
		f[i].len = (uint32_t)strlen(s[i]);
	}
	return f;
}

/* ------------------------------------------------------- host, usage */

static int contains(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

/* --help lists every stage and its options; every usage error names the
 * stage and the problem and exits 2, before any ring is touched. */
RP_TEST(test_help_and_usage_errors, 30)
{
	static const struct {
		const char *args[5];
		const char *says;
	} bad[] = {
		{{NULL}, "no stage named"},
		{{"nosuch"}, "no stage named 'nosuch'"},
		{{"grep"}, "grep: no REGEX"},
		{{"grep", "("}, "grep: bad REGEX '('"},
		{{"grep", "-x", "a"}, "grep: unknown option -x"},
		{{"grep", "a", "b"}, "grep: one REGEX only"},
		{{"head"}, "head: no N"},
		{{"head", "ten"}, "head: N 'ten': not a count"},
		{{"head", "-3"}, "head: N '-3': not a count"},
		{{"head", "99999999999999999999"},
		 "head: N '99999999999999999999': more than "
		 "18446744073709551615"},
		{{"file-source"}, "file-source: no FILE"},
		{{"file-source", "--lines", "--chunks", "8", "f"},
		 "file-source: --lines, --chunks, --blocks, --records and "
		 "--typed-records exclude"},
		{{"file-source", "--records", "--lines", "f"},
		 "file-source: --lines, --chunks, --blocks, --records and "
		 "--typed-records exclude"},
		{{"file-source", "--records", "--typed-records", "f"},
		 "file-source: --lines, --chunks, --blocks, --records and "
		 "--typed-records exclude"},
		{{"file-source", "--chunks", "0", "f"},
		 "file-source: --chunks 0: out of range"},
		{{"file-source", "--chunks", "2x", "f"},
		 "file-source: --chunks '2x': not a byte count"},
		{{"file-source", "--chunks"}, "file-source: --chunks needs"},
		{{"file-source", "--bogus", "f"},
		 "file-source: unknown option --bogus"},
		{{"file-sink", "a", "b"}, "file-sink: one FILE only"},
		{{"lines", "x"}, "lines: takes no arguments"},
		{{"count", "-n"}, "count: takes no options"},
	};
	const char *const names[] = {"file-source", "file-sink", "lines",
				     "grep", "head", "count", "--lines",
				     "--chunks N", "--records", "-v", "fnv1a",
				     "Exit codes"};
	char *argv[8], *out, *err;
	int st;

	test_env();
	argv[0] = (char *)stage_bin();
	argv[1] = "--help";
	argv[2] = NULL;
	st = run_cmd(argv, &out, &err);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		CU_ASSERT(contains(out, names[i]));
	free(out);
	free(err);

	argv[1] = "grep";
	argv[2] = "--help";
	argv[3] = NULL;
	st = run_cmd(argv, &out, &err);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	CU_ASSERT(contains(out, "[-v] [--] REGEX"));
	free(out);
	free(err);

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int k = 1;
		for (; k <= 5 && bad[i].args[k - 1] != NULL; k++)
			argv[k] = (char *)bad[i].args[k - 1];
		argv[k] = NULL;
		st = run_cmd(argv, &out, &err);
		CU_ASSERT_EQUAL(rp_test_exit_code(st), RP_EXIT_USAGE);
		CU_ASSERT(contains(err, bad[i].says));
		if (!contains(err, bad[i].says))
			fprintf(stderr, "wanted \"%s\", got: %s\n", bad[i].says,
				err ? err : "(nothing)");
		free(out);
		free(err);
	}

	/* Good options but no supervisor: the library says so, exit 2. */
	unsetenv("RINGPIPE_STAGE");
	argv[1] = "count";
	argv[2] = NULL;
	st = run_cmd(argv, &out, &err);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), RP_EXIT_USAGE);
	CU_ASSERT(contains(err, "RINGPIPE_STAGE"));
	free(out);
	free(err);
}

/* ------------------------------------------------------- file-source */

/* A text file with an empty line, a line three records long, a line of
 * exactly the largest record, and a last line without a newline. */
RP_TEST(test_file_source_lines, 30)
{
	struct tmp t;
	struct pl p;
	char *av[] = {"file-source", "--lines", NULL, NULL};
	char **avs[1] = {av};
	uint32_t max;
	char *text, *longl, *exact;
	size_t tl = 0, longlen;
	struct rp_ctl_msg m;

	CU_ASSERT_FATAL(tmp_make(&t) == 0);
	av[2] = t.path[0];
	pl_make(&p, 1, avs, 0, 1, 1 << 16);
	max = rp_consumer_max_record(p.sink);
	longlen = 2 * (size_t)max + 100;
	longl = malloc(longlen);
	exact = malloc(max);
	text = malloc(longlen + max + 64);
	CU_ASSERT_FATAL(longl && exact && text);
	for (size_t i = 0; i < longlen; i++)
		longl[i] = (char)('a' + i % 26);
	memset(exact, 'E', max);
	memcpy(text + tl, "alpha\n\nbeta gamma\n", 18);
	tl += 18;
	memcpy(text + tl, longl, longlen);
	tl += longlen;
	text[tl++] = '\n';
	memcpy(text + tl, exact, max);
	tl += max;
	memcpy(text + tl, "\nlast", 5);
	tl += 5;
	CU_ASSERT(spit(t.path[0], text, tl) == 0);

	pl_spawn(&p);
	pl_run(&p, NULL, 0, 1, 20);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	m = pl_last_ctl(&p, 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_DONE);
	CU_ASSERT_EQUAL(m.reason, RP_REASON_EOF);
	CU_ASSERT_EQUAL(p.got.n, 8);
	if (p.got.n == 8) {
		static const uint64_t origin[] = {0, 1, 2, 3, 3, 3, 4, 5};
		static const uint32_t sub[] = {0, 0, 0, 0, 1, 2, 0, 0};
		struct grec *r = p.got.r;
		CU_ASSERT(got_is(&p.got, 0, "alpha"));
		CU_ASSERT(got_is(&p.got, 1, ""));
		CU_ASSERT(got_is(&p.got, 2, "beta gamma"));
		/* The long line: two full records and the rest. */
		CU_ASSERT(r[3].len == max && r[4].len == max &&
			  r[5].len == 100);
		CU_ASSERT(memcmp(r[3].data, longl, max) == 0);
		CU_ASSERT(memcmp(r[4].data, longl + max, max) == 0);
		CU_ASSERT(memcmp(r[5].data, longl + 2 * (size_t)max, 100) == 0);
		/* Exactly the largest record: one record, no empty piece. */
		CU_ASSERT(r[6].len == max &&
			  memcmp(r[6].data, exact, max) == 0);
		/* The last line, without a newline, still comes. */
		CU_ASSERT(got_is(&p.got, 7, "last"));
		for (int i = 0; i < 8; i++) {
			CU_ASSERT_EQUAL(r[i].origin, origin[i]);
			CU_ASSERT_EQUAL(r[i].sub, sub[i]);
			CU_ASSERT_EQUAL(r[i].flags,
					(i == 3 || i == 4 ? 0 : RP_REC_F_LAST) |
						(i == 0 ? RP_REC_F_RESTART : 0));
			/* The pieces the rest of their line follows say
			 * so: written out, the line is whole again; the
			 * last line says it had no newline. */
			CU_ASSERT_EQUAL(r[i].type, i == 3 || i == 4 ? T_PIECE
						   : i == 7	     ? 17
								     : RP_REC_T_DATA);
		}
	}
	pl_free(&p);
	free(text);
	free(longl);
	free(exact);
	tmp_clean(&t);
}

static void fill_bytes(unsigned char *b, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = (unsigned char)(seed >> 56);
	}
}

/* A long line arriving from a pipe in two writes, with file-source
 * flushing in between: its pieces share one origin and only the last is
 * marked last; each line goes out as soon as it is complete. */
static int slow_line_writer(void *arg)
{
	int fd = *(int *)arg;
	char buf[3000];

	memset(buf, 'q', sizeof(buf));
	if (write(fd, buf, 2500) != 2500)
		return 1;
	usleep(300000); /* the source waits, and flushes, here */
	if (write(fd, buf, 500) != 500 || write(fd, "\nshort\n", 7) != 7)
		return 2;
	close(fd);
	return 0;
}

RP_TEST(test_file_source_pipe_long_line_origins, 30)
{
	char *av[] = {"file-source", "--lines", "-", NULL};
	char **avs[1] = {av};
	int pfd[2], saved;
	pid_t writer;
	struct pl p;

	CU_ASSERT_FATAL(pipe(pfd) == 0);
	pl_make(&p, 1, avs, 0, 1, 4096); /* largest record: 2024 bytes */
	writer = rp_test_fork(slow_line_writer, &pfd[1]);
	close(pfd[1]);
	saved = dup(STDIN_FILENO);
	dup2(pfd[0], STDIN_FILENO);
	close(pfd[0]);
	pl_spawn(&p);
	dup2(saved, STDIN_FILENO);
	close(saved);
	pl_run(&p, NULL, 0, 1, 20);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(writer, 10)), 0);
	CU_ASSERT_FATAL(p.got.n == 3);
	CU_ASSERT(p.got.r[0].len == 2024 && p.got.r[0].origin == 0 &&
		  p.got.r[0].sub == 0 && !(p.got.r[0].flags & RP_REC_F_LAST));
	CU_ASSERT(p.got.r[1].len == 976 && p.got.r[1].origin == 0 &&
		  p.got.r[1].sub == 1 && (p.got.r[1].flags & RP_REC_F_LAST));
	CU_ASSERT(got_is(&p.got, 2, "short") && p.got.r[2].origin == 1 &&
		  p.got.r[2].sub == 0 && (p.got.r[2].flags & RP_REC_F_LAST));
	pl_free(&p);
}

/* Raw chunks: --chunks N from a file, the default size capped by the
 * ring's largest record, and stdin ("-"). */
RP_TEST(test_file_source_chunks, 30)
{
	const size_t size = 100003;
	unsigned char *data = malloc(size);
	struct tmp t;

	CU_ASSERT_FATAL(data != NULL);
	CU_ASSERT_FATAL(tmp_make(&t) == 0);
	fill_bytes(data, size, 7);
	CU_ASSERT(spit(t.path[0], data, size) == 0);
	for (int mode = 0; mode < 3; mode++) {
		char *av1[] = {"file-source", "--chunks", "4k", t.path[0],
			       NULL};
		char *av2[] = {"file-source", t.path[0], NULL};
		char *av3[] = {"file-source", "--chunks=1000", "-", NULL};
		char **avs[1] = {mode == 0 ? av1 : mode == 1 ? av2 : av3};
		int saved = -1, fd;
		uint32_t chunk, max;
		size_t off = 0;
		struct pl p;

		pl_make(&p, 1, avs, 0, 1, 1 << 16);
		max = rp_consumer_max_record(p.sink);
		chunk = mode == 0 ? 4096 : mode == 1 ? max : 1000;
		if (mode == 2) { /* the stage inherits our stdin */
			fd = open(t.path[0], O_RDONLY | O_CLOEXEC);
			CU_ASSERT_FATAL(fd >= 0);
			saved = dup(STDIN_FILENO);
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		pl_spawn(&p);
		if (saved >= 0) {
			dup2(saved, STDIN_FILENO);
			close(saved);
		}
		pl_run(&p, NULL, 0, 1, 20);
		CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
		for (size_t i = 0; i < p.got.n; i++) {
			size_t want = size - off < chunk ? size - off : chunk;
			CU_ASSERT_EQUAL(p.got.r[i].len, want);
			CU_ASSERT(off + p.got.r[i].len <= size &&
				  memcmp(p.got.r[i].data, data + off,
					 p.got.r[i].len) == 0);
			CU_ASSERT_EQUAL(p.got.r[i].origin, i);
			off += p.got.r[i].len;
		}
		CU_ASSERT_EQUAL(off, size);
		CU_ASSERT_EQUAL(p.got.n, (size + chunk - 1) / chunk);
		pl_free(&p);
	}
	free(data);
	tmp_clean(&t);
}

/* A file that cannot be opened fails the stage after the hand-shake,
 * so the supervisor gets a message, an error record, and exit 7 (a
 * restart would fail the same way). */
RP_TEST(test_file_source_missing_file, 30)
{
	char *av[] = {"file-source", "--lines", "/nonexistent/rp-no-such",
		      NULL};
	char **avs[1] = {av};
	struct rp_ctl_msg m;
	struct pl p;
	char *err;

	pl_make(&p, 1, avs, 0, 1, 1 << 16);
	pl_spawn(&p);
	pl_run(&p, NULL, 0, 1, 20);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_NO_RESTART);
	err = pl_stderr(&p, 0);
	CU_ASSERT(contains(err, "file-source: /nonexistent/rp-no-such: "
				"No such file or directory"));
	free(err);
	m = pl_last_ctl(&p, 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_ERROR);
	CU_ASSERT_EQUAL(m.code, -ENOENT);
	CU_ASSERT_EQUAL(p.got.n, 0);
	pl_free(&p);
}

/* Reading a pipe that stays silent, the stage still hears a cancel. */
RP_TEST(test_file_source_cancel_while_reading, 30)
{
	char *av[] = {"file-source", "--lines", "-", NULL};
	char **avs[1] = {av};
	int fds[2], saved;
	struct pl p;

	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	pl_make(&p, 1, avs, 0, 1, 1 << 16);
	saved = dup(STDIN_FILENO);
	dup2(fds[0], STDIN_FILENO);
	pl_spawn(&p);
	dup2(saved, STDIN_FILENO);
	close(saved);
	close(fds[0]);
	CU_ASSERT(write(fds[1], "one\ntw", 6) == 6);
	usleep(300000);
	CU_ASSERT_EQUAL(pl_watch(&p, 0), 1); /* waiting for more */
	CU_ASSERT(rp_ctl_cancel(p.proc[0].tx, RP_REASON_USER) == 0);
	pl_run(&p, NULL, 0, 1, 10);
	CU_ASSERT_EQUAL(pl_exit(&p, 0),
			RP_EXIT_CANCELLED_BASE + RP_CANCEL_USER);
	close(fds[1]);
	pl_free(&p);
}

/* ------------------------------------------------------------- lines */

/* Reference: the lines of a stream and their pieces of at most max. */
static size_t ref_lines(const char *s, size_t n, uint32_t max,
			struct got *want)
{
	size_t i = 0;

	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (s + i)) : n - i, q = 0;
		struct rp_view v = {0};
		while (len - q > max) {
			v.data = s + i + q;
			v.len = max;
			got_add(want, &v);
			q += max;
		}
		if (nl || len > 0) {
			v.data = s + i + q;
			v.len = (uint32_t)(len - q);
			got_add(want, &v);
		}
		i += len + (nl ? 1 : 0);
	}
	return want->n;
}

static void check_same(const struct got *got, const struct got *want)
{
	CU_ASSERT_EQUAL(got->n, want->n);
	for (size_t i = 0; i < got->n && i < want->n; i++) {
		CU_ASSERT(got->r[i].len == want->r[i].len &&
			  memcmp(got->r[i].data, want->r[i].data,
				 got->r[i].len) == 0);
		if (got->r[i].len != want->r[i].len ||
		    memcmp(got->r[i].data, want->r[i].data, got->r[i].len)) {
			fprintf(stderr, "record %zu differs\n", i);
			break;
		}
	}
}

/* Lines cut across chunk boundaries, exactly. */
RP_TEST(test_lines_across_chunks, 30)
{
	static const char *const chunks[] = {
		"ab", "c\nde", "f\n\n", "ghi", "", "\n", "jk\nl", "mn",
	};
	static const char *const want[] = {"abc", "def", "", "ghi", "jk",
					   "lmn"};
	struct feed *f = feed_strings(chunks, 8);
	char *av[] = {"lines", NULL};
	struct pl p;

	run_one(&p, av, f, 8, 1 << 16);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(p.got.n, 6);
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT(got_is(&p.got, i, want[i]));
	pl_free(&p);
	free(f);
}

/* A stage in its own loop (lines) hears a cancel while it waits for
 * input that does not come: exit 10 + reason, and a done record. */
RP_TEST(test_lines_cancelled_while_waiting, 30)
{
	static const char *const chunks[] = {"held back: no newline"};
	struct feed *f = feed_strings(chunks, 1);
	char *av[] = {"lines", NULL};
	char **avs[1] = {av};
	struct rp_ctl_msg m;
	struct pl p;

	pl_make(&p, 1, avs, 1, 1, 1 << 16);
	pl_spawn(&p);
	{
		struct rp_meta mt = {.type = RP_REC_T_DATA};
		CU_ASSERT(rp_send(p.src, f[0].data, f[0].len, &mt, SEC) == 0);
		rp_flush(p.src); /* the input does not end */
	}
	usleep(200000);
	CU_ASSERT_EQUAL(pl_watch(&p, 0), 1);
	CU_ASSERT(rp_ctl_cancel(p.proc[0].tx, RP_REASON_DEADLINE) == 0);
	pl_run(&p, NULL, 0, 0, 10);
	CU_ASSERT_EQUAL(pl_exit(&p, 0),
			RP_EXIT_CANCELLED_BASE + RP_CANCEL_DEADLINE);
	m = pl_last_ctl(&p, 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_DONE);
	CU_ASSERT_EQUAL(m.reason, RP_REASON_DEADLINE);
	CU_ASSERT_EQUAL(p.got.n, 0); /* the partial line is not emitted */
	pl_free(&p);
	free(f);
}

/* Random text in random chunks through a small ring: lines longer than
 * its largest record, lines ending exactly at a chunk's end, empty
 * chunks; every line exactly as a reference cuts it. */
RP_TEST(test_lines_random_chunks, 60)
{
	for (int round = 0; round < 4; round++) {
		size_t n = 60000, nf = 0, i = 0;
		char *text = malloc(n);
		struct feed *f = calloc(n + 1, sizeof(*f));
		struct got want = {0};
		char *av[] = {"lines", NULL};
		uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(round + 1);
		struct pl p;
		uint32_t max;

		CU_ASSERT_FATAL(text && f);
		for (size_t k = 0; k < n; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* Mostly short lines, some runs far longer than
			 * the ring's largest record (2024 bytes). */
			text[k] = (x % 1000 < (round & 1 ? 2u : 40u))
					  ? '\n'
					  : (char)('a' + x % 26);
		}
		if (round == 2)
			text[n - 1] = '\n';
		while (i < n) {
			size_t len;
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			len = x % 4 == 0 ? 0 : x % 1500;
			if (len > n - i)
				len = n - i;
			f[nf].data = text + i;
			f[nf++].len = (uint32_t)len;
			i += len;
		}
		run_one(&p, av, f, nf, 4096);
		max = rp_consumer_max_record(p.sink);
		ref_lines(text, n, max, &want);
		CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
		check_same(&p.got, &want);
		got_free(&want);
		pl_free(&p);
		free(f);
		free(text);
	}
}

/* -------------------------------------------------------------- grep */

RP_TEST(test_grep_and_invert, 30)
{
	static const char *const list[] = {
		"apple", "banana", "", "apricot", "cherry", "avocado pear",
		"Apple", "grape", "xa",
	};
	static const char *const yes[] = {"apple", "apricot",
					  "avocado pear"};
	static const uint64_t yes_origin[] = {0, 3, 5};
	static const char *const no[] = {"banana", "", "cherry", "Apple",
					 "grape", "xa"};
	/* NUL bytes are bytes: the match sees past them. */
	static const char nul[] = {'n', 'u', '\0', 'l', 'l', 'z'};
	struct feed nf[2] = {{nul, sizeof(nul), 0}, {"zzz", 3, 0}};
	struct feed *f = feed_strings(list, 9);
	char *av_yes[] = {"grep", "^a", NULL};
	char *av_no[] = {"grep", "-v", "^a", NULL};
	char *av_nul[] = {"grep", "llz$", NULL};
	struct pl p;

	run_one(&p, av_yes, f, 9, 1 << 16);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(p.got.n, 3);
	for (size_t i = 0; i < 3; i++) {
		CU_ASSERT(got_is(&p.got, i, yes[i]));
		/* Each output's origin is the input it came from. */
		CU_ASSERT(i < p.got.n && p.got.r[i].origin == yes_origin[i] &&
			  p.got.r[i].flags ==
				  (RP_REC_F_LAST |
				   (i == 0 ? RP_REC_F_RESTART : 0)));
	}
	pl_free(&p);

	run_one(&p, av_no, f, 9, 1 << 16);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(p.got.n, 6);
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT(got_is(&p.got, i, no[i]));
	pl_free(&p);

	run_one(&p, av_nul, nf, 2, 1 << 16);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT(p.got.n == 1 && p.got.r[0].len == sizeof(nul) &&
		  memcmp(p.got.r[0].data, nul, sizeof(nul)) == 0);
	pl_free(&p);
	free(f);
}

/* -------------------------------------------------------------- head */

/* head N passes exactly the first N records and ends its output while
 * input is still coming; head 0 passes nothing. */
RP_TEST(test_head, 30)
{
	enum { TOTAL = 20000 };
	struct feed *f = calloc(TOTAL, sizeof(*f));
	char (*txt)[16] = calloc(TOTAL, 16);
	char *av10[] = {"head", "10", NULL};
	char *av0[] = {"head", "0", NULL};
	struct rp_ctl_msg m;
	struct pl p;

	CU_ASSERT_FATAL(f && txt);
	for (int i = 0; i < TOTAL; i++) {
		f[i].len = (uint32_t)snprintf(txt[i], 16, "rec %d", i);
		f[i].data = txt[i];
	}
	run_one(&p, av10, f, TOTAL, 4096);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(p.got.n, 10);
	for (size_t i = 0; i < 10; i++)
		CU_ASSERT(got_is(&p.got, i, txt[i]));
	m = pl_last_ctl(&p, 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_DONE);
	/* It stopped on the 10th record: far from all of them read. */
	CU_ASSERT(m.arg0 >= 10 && m.arg0 < TOTAL);
	pl_free(&p);

	run_one(&p, av0, f, TOTAL, 4096);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(p.got.n, 0);
	pl_free(&p);
	free(f);
	free(txt);
}

/* ------------------------------------------------------------- count */

static void expect_count(const char *err, uint64_t records, uint64_t bytes,
			 uint64_t fnv)
{
	char want[128];

	snprintf(want, sizeof(want),
		 "count: records=%llu bytes=%llu fnv1a=%016llx\n",
		 (unsigned long long)records, (unsigned long long)bytes,
		 (unsigned long long)fnv);
	CU_ASSERT(err != NULL && strcmp(err, want) == 0);
	if (err == NULL || strcmp(err, want) != 0)
		fprintf(stderr, "want %sgot  %s", want, err ? err : "-\n");
}

/* count reports records, bytes and FNV-1a 64 of the payloads in order,
 * as a pass-through (records unchanged) and as a sink. */
RP_TEST(test_count, 60)
{
	enum { N = 3000 };
	struct feed *f = calloc(N, sizeof(*f));
	unsigned char *buf = malloc((size_t)N * 600);
	uint64_t bytes = 0, fnv = 0xcbf29ce484222325ull;
	char *av[] = {"count", NULL};
	char **avs[1] = {av};
	struct pl p;
	char *err;

	CU_ASSERT_FATAL(f && buf);
	for (int i = 0; i < N; i++) {
		f[i].len = (uint32_t)(i * 7 % 600);
		f[i].data = buf + (size_t)i * 600;
		fill_bytes(buf + (size_t)i * 600, f[i].len, (uint64_t)i);
		bytes += f[i].len;
		fnv = fnv1a(fnv, f[i].data, f[i].len);
	}
	/* Known answers first: FNV-1a 64 of "a" and of nothing. */
	CU_ASSERT_EQUAL(fnv1a(0xcbf29ce484222325ull, "a", 1),
			0xaf63dc4c8601ec8cull);

	run_one(&p, av, f, N, 1 << 16);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(p.got.n, N);
	for (size_t i = 0; i < p.got.n && i < N; i++)
		CU_ASSERT(p.got.r[i].len == f[i].len &&
			  memcmp(p.got.r[i].data, f[i].data, f[i].len) == 0);
	err = pl_stderr(&p, 0);
	expect_count(err, N, bytes, fnv);
	free(err);
	pl_free(&p);

	/* A sink: no output ring. */
	pl_make(&p, 1, avs, 1, 0, 1 << 16);
	pl_spawn(&p);
	pl_run(&p, f, N, 1, 20);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	err = pl_stderr(&p, 0);
	expect_count(err, N, bytes, fnv);
	free(err);
	pl_free(&p);

	/* No input at all. */
	run_one(&p, av, f, 0, 1 << 16);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	err = pl_stderr(&p, 0);
	expect_count(err, 0, 0, 0xcbf29ce484222325ull);
	free(err);
	pl_free(&p);
	free(f);
	free(buf);
}

/* A drain ends count's input as its end does: it still reports. */
RP_TEST(test_count_drain_reports, 30)
{
	static const char *const recs[] = {"x", "yy", "zzz"};
	struct feed *f = feed_strings(recs, 3);
	char *av[] = {"count", NULL};
	char **avs[1] = {av};
	struct pl p;
	char *err;

	pl_make(&p, 1, avs, 1, 1, 1 << 16);
	pl_spawn(&p);
	for (uint64_t i = 0; i < 3; i++) {
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
		CU_ASSERT(rp_send(p.src, f[i].data, f[i].len, &m, SEC) == 0);
	}
	rp_flush(p.src); /* the input does not end */
	usleep(100000);
	CU_ASSERT(rp_ctl_drain(p.proc[0].tx) == 0);
	pl_run(&p, NULL, 0, 0, 10);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(p.got.n, 3);
	err = pl_stderr(&p, 0);
	expect_count(err, 3, 6, fnv1a(0xcbf29ce484222325ull, "xyyzzz", 6));
	free(err);
	pl_free(&p);
	free(f);
}

/* --------------------------------------------------------- file-sink */

/* One sink fed by the test. */
static void run_sink(struct pl *p, char **argv, const struct feed *f,
		     size_t n)
{
	char **avs[1] = {argv};

	pl_make(p, 1, avs, 1, 0, 1 << 16);
	pl_spawn(p);
	pl_run(p, f, n, 1, 20);
}

/* file-sink writes payloads byte for byte; --lines ends each with a
 * newline, except a record marked unterminated; "-" is stdout. */
RP_TEST(test_file_sink, 30)
{
	static const char *const recs[] = {"one", "", "two three", "four"};
	struct feed *f = feed_strings(recs, 4);
	struct tmp t;
	struct pl p;
	char *got;
	size_t n;

	CU_ASSERT_FATAL(tmp_make(&t) == 0);
	{
		char *av[] = {"file-sink", t.path[0], NULL};
		run_sink(&p, av, f, 4);
		CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
		pl_free(&p);
		got = slurp(t.path[0], &n);
		CU_ASSERT(n == 16 && memcmp(got, "onetwo threefour", 16) == 0);
		free(got);
	}
	{
		char *av[] = {"file-sink", "--lines", t.path[1], NULL};
		f[3].type = T_UNTERMINATED;
		run_sink(&p, av, f, 4);
		CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
		pl_free(&p);
		got = slurp(t.path[1], &n);
		CU_ASSERT(n == 19 &&
			  memcmp(got, "one\n\ntwo three\nfour", 19) == 0);
		free(got);
		f[3].type = 0;
	}
	{
		/* A large record, more than the sink gathers at once. */
		enum { BIG = 30000, NBIG = 40 };
		unsigned char *big = malloc(BIG);
		struct feed bf[NBIG];
		char *av[] = {"file-sink", "-", NULL};
		int fd = open(t.path[2], O_WRONLY | O_CREAT | O_TRUNC |
						 O_CLOEXEC, 0600);
		int saved = dup(STDOUT_FILENO);
		int ok = 1;

		CU_ASSERT_FATAL(big && fd >= 0 && saved >= 0);
		fill_bytes(big, BIG, 3);
		for (int i = 0; i < NBIG; i++)
			bf[i] = (struct feed){big,
					      (uint32_t)(i * 997 % BIG), 0};
		fflush(stdout);
		dup2(fd, STDOUT_FILENO); /* the stage inherits it */
		close(fd);
		run_sink(&p, av, bf, NBIG);
		dup2(saved, STDOUT_FILENO);
		close(saved);
		CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
		pl_free(&p);
		got = slurp(t.path[2], &n);
		for (int i = 0, off = 0; i < NBIG && ok; i++) {
			ok = (size_t)off + bf[i].len <= n &&
			     memcmp(got + off, big, bf[i].len) == 0;
			off += (int)bf[i].len;
			if (i == NBIG - 1)
				ok = ok && (size_t)off == n;
		}
		CU_ASSERT(ok);
		free(got);
		free(big);
	}
	free(f);
	tmp_clean(&t);
}

/* Write errors end the stage with an error naming them, not to be
 * restarted (exit 7): no space (/dev/full), a FILE that cannot be made.
 * A reader that went away (EPIPE, not a SIGPIPE) ends it early and
 * well, as head ends. */
RP_TEST(test_file_sink_write_errors, 30)
{
	static const char *const recs[] = {"a line", "another"};
	struct feed *f = feed_strings(recs, 2);
	struct rp_ctl_msg m;
	struct pl p;
	char *err;

	{
		char *av[] = {"file-sink", "--lines", "/dev/full", NULL};
		run_sink(&p, av, f, 2);
		CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_NO_RESTART);
		err = pl_stderr(&p, 0);
		CU_ASSERT(contains(err, "file-sink: writing /dev/full: "
					"No space left on device"));
		free(err);
		m = pl_last_ctl(&p, 0);
		CU_ASSERT_EQUAL(m.kind, RP_CTL_ERROR);
		CU_ASSERT_EQUAL(m.code, -ENOSPC);
		pl_free(&p);
	}
	{
		char *av[] = {"file-sink", "-", NULL};
		int fds[2], saved = dup(STDOUT_FILENO);

		CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0 && saved >= 0);
		close(fds[0]);
		fflush(stdout);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[1]);
		run_sink(&p, av, f, 2);
		dup2(saved, STDOUT_FILENO);
		close(saved);
		CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
		err = pl_stderr(&p, 0);
		CU_ASSERT(contains(err, "file-sink: stdout: its reader is "
					"gone: ending early"));
		free(err);
		m = pl_last_ctl(&p, 0);
		CU_ASSERT_EQUAL(m.kind, RP_CTL_DONE);
		pl_free(&p);
	}
	{
		char *av[] = {"file-sink", "/nonexistent/dir/out", NULL};
		run_sink(&p, av, f, 2);
		CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_NO_RESTART);
		err = pl_stderr(&p, 0);
		CU_ASSERT(contains(err, "file-sink: /nonexistent/dir/out: "
					"No such file or directory"));
		free(err);
		pl_free(&p);
	}
	free(f);
}

/* ------------------------------------------------------------ chains */

/* Two stages joined by a ring of their own: raw chunks into lines, lines
 * through grep -v, fed and drained by the test. */
RP_TEST(test_chain_lines_grep, 30)
{
	static const char *const chunks[] = {"keep 1\ndrop", " 2\nkeep",
					     " 3\n", "drop 4\nkeep 5"};
	static const char *const want[] = {"keep 1", "keep 3", "keep 5"};
	struct feed *f = feed_strings(chunks, 4);
	char *av1[] = {"lines", NULL};
	char *av2[] = {"grep", "-v", "^drop", NULL};
	char **avs[2] = {av1, av2};
	struct pl p;

	pl_make(&p, 2, avs, 1, 1, 4096);
	pl_spawn(&p);
	pl_run(&p, f, 4, 1, 20);
	CU_ASSERT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
	CU_ASSERT_EQUAL(pl_exit(&p, 1), RP_EXIT_OK);
	CU_ASSERT_EQUAL(p.got.n, 3);
	for (size_t i = 0; i < 3; i++)
		CU_ASSERT(got_is(&p.got, i, want[i]));
	pl_free(&p);
	free(f);
}

/* Text for the pipelines: words, empty lines, lines of up to 3000
 * bytes, and a last line without a newline. */
static char *make_text(size_t lines, size_t *len)
{
	static const char *const words[] = {
		"alpha", "beta", "gamma", "delta", "error", "warn", "info",
		"x", "42", "7", "zeta", "eta", "theta", "kappa",
	};
	size_t cap = lines * 64 + 8192, n = 0;
	char *t = malloc(cap);
	uint64_t x = 88172645463325252ull;

	for (size_t l = 0; t != NULL && l < lines; l++) {
		size_t nw;
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		nw = x % 11 == 0 ? 0 : x % 8 + 1;
		if (l % 997 == 500)
			nw = 400; /* a long line, under the ring's largest */
		for (size_t w = 0; w < nw; w++) {
			const char *s;
			size_t sl;
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			s = words[x % (sizeof(words) / sizeof(*words))];
			sl = strlen(s);
			if (n + sl + 2 >= cap) {
				char *p = realloc(t, cap *= 2);
				if (p == NULL) {
					free(t);
					return NULL;
				}
				t = p;
			}
			if (w > 0)
				t[n++] = ' ';
			memcpy(t + n, s, sl);
			n += sl;
		}
		if (l + 1 < lines)
			t[n++] = '\n';
	}
	*len = n;
	return t;
}

/* grep(1) itself, in this process's environment (LC_ALL=C). */
static char *system_grep(const char *opt, const char *re, const char *file,
			 size_t *len)
{
	char *argv[] = {"grep", "-E", (char *)opt, "--", (char *)re,
			(char *)file, NULL};
	char *out, *err;
	int st;

	if (opt == NULL) {
		argv[2] = "--";
		argv[3] = (char *)re;
		argv[4] = (char *)file;
		argv[5] = NULL;
	}
	st = run_cmd(argv, &out, &err);
	/* 0: lines matched, 1: none did; both are answers. */
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
	free(err);
	*len = out ? strlen(out) : 0;
	return out;
}

/* From a file to a file with no test code in the data path:
 *   file-source --lines F ! grep RE ! file-sink --lines OUT
 * gives exactly grep -E RE F; and the same through raw chunks cut into
 * lines, with grep -v and a count in the middle, through blocks of
 * whole lines (--blocks), and for lines longer than a record. */
RP_TEST(test_pipeline_matches_grep, 60)
{
	const char *re = "^(alpha|error).*[0-9]$|gamma delta";
	size_t tl, gl, ol;
	char *text, *want, *got, *err;
	struct tmp t;
	struct pl p;

	test_env();
	CU_ASSERT_FATAL(tmp_make(&t) == 0);
	text = make_text(rp_test_sanitized() ? 8000 : 40000, &tl);
	CU_ASSERT_FATAL(text != NULL);
	CU_ASSERT(tl > 0 && text[tl - 1] != '\n'); /* unterminated end */
	CU_ASSERT(spit(t.path[0], text, tl) == 0);
	{
		char *a1[] = {"file-source", "--lines", t.path[0], NULL};
		char *a2[] = {"grep", (char *)re, NULL};
		char *a3[] = {"file-sink", "--lines", t.path[1], NULL};
		char **avs[3] = {a1, a2, a3};

		pl_through(&p, 3, avs, 1 << 16);
		pl_free(&p);
		want = system_grep(NULL, re, t.path[0], &gl);
		got = slurp(t.path[1], &ol);
		CU_ASSERT(gl > 1000); /* the pattern does match */
		CU_ASSERT(want && got && gl == ol &&
			  memcmp(want, got, gl) == 0);
		free(want);
		free(got);
	}
	{
		char *a1[] = {"file-source", "--chunks", "1000", t.path[0],
			      NULL};
		char *a2[] = {"lines", NULL};
		char *a3[] = {"grep", "-v", (char *)re, NULL};
		char *a4[] = {"file-sink", "--lines", t.path[2], NULL};
		char **avs[4] = {a1, a2, a3, a4};

		pl_through(&p, 4, avs, 4096);
		pl_free(&p);
		want = system_grep("-v", re, t.path[0], &gl);
		got = slurp(t.path[2], &ol);
		CU_ASSERT(want && got && gl == ol &&
			  memcmp(want, got, gl) == 0);
		free(want);
		free(got);
	}
	/* Blocks of whole lines, grep taking them line by line: the same
	 * bytes as grep, for a plain string (searched in the whole block),
	 * a regex and -v, with blocks of 64k and of 1k (the longest lines,
	 * 2.4k, make their blocks longer and stay whole). */
	{
		static const char *const cases[][3] = {
			{"--blocks", "gamma", NULL},
			{"--blocks=1k", (const char *)1, NULL},
			{"--blocks=1k", (const char *)1, "-v"},
		};
		for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
			const char *pat = cases[c][1] == (const char *)1
						  ? re
						  : cases[c][1];
			char *a1[] = {"file-source", (char *)cases[c][0],
				      t.path[0], NULL};
			char *a2v[] = {"grep", "-v", (char *)pat, NULL};
			char *a2[] = {"grep", (char *)pat, NULL};
			char *a3[] = {"file-sink", "--lines", t.path[2], NULL};
			char **avs[3] = {a1, cases[c][2] ? a2v : a2, a3};

			pl_through(&p, 3, avs, 1 << 16);
			pl_free(&p);
			want = system_grep(cases[c][2], pat, t.path[0], &gl);
			got = slurp(t.path[2], &ol);
			CU_ASSERT(gl > 100);
			if (!(want && got && gl == ol &&
			      memcmp(want, got, gl) == 0))
				fprintf(stderr, "blocks case %zu: %zu bytes, "
					"grep %zu\n", c, ol, gl);
			CU_ASSERT(want && got && gl == ol &&
				  memcmp(want, got, gl) == 0);
			free(want);
			free(got);
		}
	}
	{
		/* A line as long as the ring's largest record (2024 bytes in
		 * a 4k ring) goes as a piece of it and its end (its
		 * newline) as a block: grep takes the line whole, and it
		 * comes out as it went in, no empty line after it. */
		static const char tail[] = "\nx\n";
		size_t n = 2024 + sizeof(tail) - 1;
		char *big = malloc(n);
		char *a1[] = {"file-source", "--blocks", t.path[3], NULL};
		char *a2[] = {"grep", "-v", "zz", NULL};
		char *a3[] = {"file-sink", "--lines", t.path[2], NULL};
		char **avs[3] = {a1, a2, a3};

		CU_ASSERT_FATAL(big != NULL);
		memset(big, 'a', 2024);
		memcpy(big + 2024, tail, sizeof(tail) - 1);
		CU_ASSERT(spit(t.path[3], big, n) == 0);
		pl_through(&p, 3, avs, 4096);
		pl_free(&p);
		got = slurp(t.path[2], &ol);
		CU_ASSERT(got && ol == n && memcmp(got, big, n) == 0);
		free(got);
		free(big);

		char *b1[] = {"file-source", "--blocks", "1k", t.path[0],
			      NULL};
		char *b2[] = {"file-sink", "--lines", t.path[2], NULL};
		char **bvs[2] = {b1, b2};
		pl_through(&p, 2, bvs, 1 << 16);
		pl_free(&p);
		got = slurp(t.path[2], &ol);
		CU_ASSERT(got && ol == tl && memcmp(got, text, tl) == 0);
		free(got);
	}
	{
		/* Lines of up to 10 000 bytes through a 4k ring, which come
		 * as pieces: grep matches each line whole, as grep(1) does
		 * (a match in a later piece, ^ on a line's first piece and $
		 * on its last, -v), and writes it back whole. */
		static const char *const pats[][2] = {
			{"NEEDLE", NULL}, {"^a+$", NULL}, {"NEEDLE", "-v"},
			{"b$", NULL}};
		FILE *f = fopen(t.path[3], "w");
		CU_ASSERT_FATAL(f != NULL);
		for (int i = 0; i < 40; i++) {
			int len = (i * 797) % 10000 + 1;
			for (int j = 0; j < len; j++)
				fputc(i % 3 == 0 && j == len - 1 ? 'b' : 'a',
				      f);
			if (i % 4 == 1)
				fputs("NEEDLE", f);
			fputc('\n', f);
		}
		CU_ASSERT_FATAL(fclose(f) == 0);
		for (size_t c = 0; c < sizeof(pats) / sizeof(*pats); c++) {
			char *a1[] = {"file-source", "--lines", t.path[3],
				      NULL};
			char *a2v[] = {"grep", "-v", (char *)pats[c][0], NULL};
			char *a2[] = {"grep", (char *)pats[c][0], NULL};
			char *a3[] = {"file-sink", "--lines", t.path[2], NULL};
			char **avs[3] = {a1, pats[c][1] ? a2v : a2, a3};

			pl_through(&p, 3, avs, 4096);
			pl_free(&p);
			want = system_grep(pats[c][1], pats[c][0], t.path[3],
					   &gl);
			got = slurp(t.path[2], &ol);
			CU_ASSERT(gl > 1000);
			if (!(want && got && gl == ol &&
			      memcmp(want, got, gl) == 0))
				fprintf(stderr, "long lines, %s: %zu bytes, "
					"grep %zu\n", pats[c][0], ol, gl);
			CU_ASSERT(want && got && gl == ol &&
				  memcmp(want, got, gl) == 0);
			free(want);
			free(got);
		}
	}
	{
		/* A file through lines and back, counted on the way: the
		 * same bytes (its last line still without a newline). */
		char *a1[] = {"file-source", t.path[0], NULL};
		char *a2[] = {"lines", NULL};
		char *a3[] = {"count", NULL};
		char *a4[] = {"file-sink", "--lines", t.path[3], NULL};
		char **avs[4] = {a1, a2, a3, a4};
		size_t nlines = 1;
		uint64_t fnv = 0xcbf29ce484222325ull;

		pl_through(&p, 4, avs, 1 << 16);
		got = slurp(t.path[3], &ol);
		CU_ASSERT(got && ol == tl && memcmp(got, text, tl) == 0);
		for (size_t i = 0; i < tl; i++) {
			if (text[i] == '\n')
				nlines++;
			else
				fnv = fnv1a(fnv, text + i, 1);
		}
		err = pl_stderr(&p, 2);
		expect_count(err, nlines, tl - (nlines - 1), fnv);
		free(err);
		free(got);
		pl_free(&p);
	}
	free(text);
	tmp_clean(&t);
}

/* head in a pipeline ends it early: its producer, a file-source with
 * far more to read, is stopped by the broken ring (as a supervisor
 * breaks it), and file-sink writes exactly N lines. */
RP_TEST(test_pipeline_head, 30)
{
	size_t tl, ol;
	char *text, *got, *p1;
	struct tmp t;
	struct pl p;

	CU_ASSERT_FATAL(tmp_make(&t) == 0);
	text = make_text(100000, &tl);
	CU_ASSERT_FATAL(text != NULL);
	CU_ASSERT(spit(t.path[0], text, tl) == 0);
	{
		char *a1[] = {"file-source", "--lines", t.path[0], NULL};
		char *a2[] = {"head", "25", NULL};
		char *a3[] = {"file-sink", "--lines", t.path[1], NULL};
		char **avs[3] = {a1, a2, a3};

		pl_make(&p, 3, avs, 0, 0, 4096);
		pl_spawn(&p);
		pl_run(&p, NULL, 0, 1, 20);
		/* The source lost its consumer: not a clean end. */
		CU_ASSERT_NOT_EQUAL(pl_exit(&p, 0), RP_EXIT_OK);
		CU_ASSERT(pl_exit(&p, 0) >= 0); /* but no crash */
		CU_ASSERT_EQUAL(pl_exit(&p, 1), RP_EXIT_OK);
		CU_ASSERT_EQUAL(pl_exit(&p, 2), RP_EXIT_OK);
		pl_free(&p);
	}
	/* The first 25 lines of the file. */
	p1 = text;
	for (int i = 0; i < 25 && p1 != NULL; i++) {
		p1 = memchr(p1, '\n', tl - (size_t)(p1 - text));
		if (p1 != NULL)
			p1++;
	}
	got = slurp(t.path[1], &ol);
	CU_ASSERT(p1 != NULL && got && ol == (size_t)(p1 - text) &&
		  memcmp(got, text, ol) == 0);
	free(got);
	free(text);
	tmp_clean(&t);
}

/* -------------------------------------------------------------- suite */

void rp_suite_builtin(void)
{
	RP_SUITE("builtin",
		 {"--help and usage errors", test_help_and_usage_errors},
		 {"file-source --lines: empty, long, unterminated lines",
		  test_file_source_lines},
		 {"file-source: a long line from a pipe keeps one origin",
		  test_file_source_pipe_long_line_origins},
		 {"file-source raw chunks, from a file and stdin",
		  test_file_source_chunks},
		 {"file-source: a missing file fails the stage",
		  test_file_source_missing_file},
		 {"file-source: cancelled while reading a pipe",
		  test_file_source_cancel_while_reading},
		 {"lines across chunk boundaries", test_lines_across_chunks},
		 {"lines: cancelled while waiting for input",
		  test_lines_cancelled_while_waiting},
		 {"lines: random chunks, long lines",
		  test_lines_random_chunks},
		 {"grep and grep -v", test_grep_and_invert},
		 {"head N", test_head},
		 {"count: records, bytes, FNV-1a", test_count},
		 {"count: a drain still reports", test_count_drain_reports},
		 {"file-sink: raw, --lines, unterminated, stdout",
		  test_file_sink},
		 {"file-sink: write errors", test_file_sink_write_errors},
		 {"chain: lines ! grep -v", test_chain_lines_grep},
		 {"pipelines from a file match grep(1)",
		  test_pipeline_matches_grep},
		 {"pipeline with head ends early", test_pipeline_head});
}
