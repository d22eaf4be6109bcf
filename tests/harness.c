/*
 * harness.c - run each CUnit test in its own child under an alarm.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char shm_prefix[32];

const char *rp_test_shm_prefix(void)
{
	if (shm_prefix[0] == '\0')
		snprintf(shm_prefix, sizeof(shm_prefix), "t%d-", (int)getpid());
	return shm_prefix;
}

int rp_test_sanitized(void)
{
	const char *v = getenv("RP_TEST_VARIANT");
	return v != NULL && strcmp(v, "asan") == 0;
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int rp_test_wait(pid_t pid, int secs)
{
	int status = 0, fd = pidfd_open_(pid);

	if (fd >= 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r;
		do
			r = poll(&p, 1, secs * 1000);
		while (r < 0 && errno == EINTR);
		close(fd);
		if (r == 0) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return status;
}

int rp_test_exit_code(int status)
{
	if (status == -1)
		return -2000;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return -1000 - WTERMSIG(status);
	return -3000;
}

pid_t rp_test_fork(int (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

/* ------------------------------------------------------------ isolation */

static int report_fd = -1;

/* Child: send every failure recorded after `from` to the parent. */
static unsigned report_failures(unsigned from, unsigned asserts)
{
	CU_pFailureRecord f = CU_get_failure_list();
	unsigned i = 0, sent = 0;
	char head[64];
	int hn = snprintf(head, sizeof(head), "P\t%u\n", asserts);

	if (write(report_fd, head, (size_t)hn) < 0)
		return 1;

	for (; f != NULL; f = f->pNext, i++) {
		char line[1024];
		int n;
		if (i < from)
			continue;
		n = snprintf(line, sizeof(line), "%u\t%s\t%s\n", f->uiLineNumber,
			     f->strFileName ? f->strFileName : "?",
			     f->strCondition ? f->strCondition : "?");
		if (n > 0 && write(report_fd, line, (size_t)n) < 0)
			break;
		sent++;
	}
	return sent;
}

/* Parent: replay the child's failures as our own. */
static unsigned replay_failures(int fd)
{
	static char buf[65536];
	size_t len = 0;
	ssize_t n;
	unsigned count = 0, passes = 0;

	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *file = strchr(line, '\t'), *cond;
		if (file == NULL)
			continue;
		if (line[0] == 'P' && file == line + 1) {
			/* The child's assertion count, for the summary. */
			passes = (unsigned)atoi(file + 1);
			continue;
		}
		*file++ = '\0';
		cond = strchr(file, '\t');
		if (cond == NULL)
			continue;
		*cond++ = '\0';
		CU_assertImplementation(CU_FALSE, (unsigned)atoi(line), cond,
					file, "", CU_FALSE);
		count++;
	}
	for (unsigned i = count; i < passes; i++)
		CU_assertImplementation(CU_TRUE, 0, "", "", "", CU_FALSE);
	return count;
}

static unsigned shm_leftovers(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	char want[64];
	unsigned n = 0;

	if (d == NULL)
		return 0;
	snprintf(want, sizeof(want), "ringpipe.%s", rp_test_shm_prefix());
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, want, strlen(want)) == 0) {
			char path[300];
			snprintf(path, sizeof(path), "/%s", e->d_name);
			shm_unlink(path);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Remove /tmp/NAME and all beneath it (a failure shows in the count of
 * what was found). */
static void rm_tmp(const char *name)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '/tmp/%s'", name);
	if (system(cmd) != 0) {
		/* said by the count */
	}
}

/* What test process pid left in /tmp: its working directories
 * (rp-PREFIX-PID-XXXXXX) and copies of programs (rp-NAME-PID), which a
 * failed assertion's jump out of the test skips removing.  Removed;
 * how many there were. */
static unsigned tmp_leftovers(pid_t pid)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;
	char mid[32], end[32];
	unsigned n = 0;

	if (d == NULL)
		return 0;
	snprintf(mid, sizeof(mid), "-%d-", (int)pid);
	snprintf(end, sizeof(end), "-%d", (int)pid);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name), el = strlen(end);
		if (strncmp(e->d_name, "rp-", 3) != 0 ||
		    (strstr(e->d_name, mid) == NULL &&
		     (len < el || strcmp(e->d_name + len - el, end) != 0)))
			continue;
		rm_tmp(e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* The exec stages' temporary directories, in the supervisor's container
 * /tmp/ringpipe-scratch-UID: a run removes its own as its stages end,
 * and a test that kills a supervisor must run once more (which sweeps
 * what it left) or remove them.  Those there before a test are noted;
 * any more after it are removed and counted. */
#define TMPDIRS_MAX 64
struct tmpdirs {
	char name[TMPDIRS_MAX][64];
	int n;
};

static unsigned stage_tmpdirs(struct tmpdirs *before, int remove_new)
{
	char box[64];
	DIR *d;
	struct dirent *e;
	unsigned n = 0;

	snprintf(box, sizeof(box), "ringpipe-scratch-%u", (unsigned)geteuid());
	if (!remove_new)
		before->n = 0;
	{
		char path[96];
		snprintf(path, sizeof(path), "/tmp/%s", box);
		if ((d = opendir(path)) == NULL)
			return 0;
	}
	while ((e = readdir(d)) != NULL) {
		int seen = 0;
		char rel[400];
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    strlen(e->d_name) >= sizeof(before->name[0]))
			continue;
		for (int i = 0; i < before->n; i++)
			seen |= strcmp(before->name[i], e->d_name) == 0;
		if (!remove_new) {
			if (before->n < TMPDIRS_MAX)
				strcpy(before->name[before->n++], e->d_name);
			continue;
		}
		if (seen)
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", box, e->d_name);
		rm_tmp(rel);
		n++;
	}
	closedir(d);
	return n;
}

void rp_test_run_isolated(const char *name, void (*body)(void), int secs)
{
	struct tmpdirs dirs;
	int pfd[2], status;
	unsigned failures;
	char msg[256];
	struct timespec t0, t1;
	double took;
	pid_t pid;

	rp_test_shm_prefix();
	stage_tmpdirs(&dirs, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		CU_FAIL_FATAL("pipe2");
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		CU_FAIL_FATAL("fork");
	}
	if (pid == 0) {
		unsigned before = CU_get_number_of_failure_records();
		unsigned asserts0 = CU_get_number_of_asserts();
		CU_pTest t = CU_get_current_test();
		jmp_buf jb;

		close(pfd[0]);
		report_fd = pfd[1];
		setpgid(0, 0);
		signal(SIGALRM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		alarm((unsigned)secs);
		/* A _FATAL assertion longjmps to the test's jump buffer:
		 * make that ours, so it ends this child, not the run. */
		if (setjmp(jb) == 0) {
			if (t != NULL)
				t->pJumpBuf = &jb;
			body();
		}
		_exit(report_failures(before, CU_get_number_of_asserts() -
						       asserts0)
			      ? 1
			      : 0);
	}
	setpgid(pid, pid);
	close(pfd[1]);
	status = rp_test_wait(pid, secs + 5);
	/* Whatever the test started dies with it. */
	kill(-pid, SIGKILL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* The suite has a time budget: say which tests spend it. */
	if (took >= 2.0)
		printf("[%.1f s] ", took);
	failures = replay_failures(pfd[0]);
	close(pfd[0]);
	/* We are a subreaper: the test's orphans are ours to reap.  They
	 * were SIGKILLed with the group; wait for them, boundedly. */
	for (int tries = 0; tries < 400; tries++) {
		pid_t r = waitpid(-1, NULL, WNOHANG);
		if (r < 0 && errno == ECHILD)
			break;
		if (r == 0)
			usleep(5000);
		if (tries == 399) {
			snprintf(msg, sizeof(msg),
				 "%s: left processes behind", name);
			CU_assertImplementation(CU_FALSE, 0, msg, "harness",
						"", CU_FALSE);
		}
	}

	if (status == -1) {
		snprintf(msg, sizeof(msg), "%s: timed out after %d s (hang)",
			 name, secs);
		CU_assertImplementation(CU_FALSE, 0, msg, "harness", "",
					CU_FALSE);
	} else if (WIFSIGNALED(status)) {
		snprintf(msg, sizeof(msg), "%s: test process killed by %s%s",
			 name, strsignal(WTERMSIG(status)),
			 WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		CU_assertImplementation(CU_FALSE, 0, msg, "harness", "",
					CU_FALSE);
	} else if (WEXITSTATUS(status) != 0 && failures == 0) {
		snprintf(msg, sizeof(msg), "%s: test process exited %d", name,
			 WEXITSTATUS(status));
		CU_assertImplementation(CU_FALSE, 0, msg, "harness", "",
					CU_FALSE);
	}
	if (shm_leftovers() != 0) {
		snprintf(msg, sizeof(msg), "%s: left segments in /dev/shm", name);
		CU_assertImplementation(CU_FALSE, 0, msg, "harness", "",
					CU_FALSE);
	}
	/* After a failure, cleaned up for it; after a pass, a defect. */
	if (tmp_leftovers(pid) != 0 && status == 0 && failures == 0) {
		snprintf(msg, sizeof(msg), "%s: left files in /tmp", name);
		CU_assertImplementation(CU_FALSE, 0, msg, "harness", "",
					CU_FALSE);
	}
	if (stage_tmpdirs(&dirs, 1) != 0 && status == 0 && failures == 0) {
		snprintf(msg, sizeof(msg), "%s: left an exec stage's "
			 "temporary directory in /tmp", name);
		CU_assertImplementation(CU_FALSE, 0, msg, "harness", "",
					CU_FALSE);
	}
}

void rp_test_add_suite(const char *suite, const struct rp_test_entry *tests,
		       size_t n)
{
	CU_pSuite s = CU_add_suite(suite, NULL, NULL);

	if (s == NULL) {
		fprintf(stderr, "CU_add_suite(%s) failed\n", suite);
		exit(2);
	}
	for (size_t i = 0; i < n; i++)
		CU_add_test(s, tests[i].name, tests[i].fn);
}

/* ---------------------------------------------------------------- rings */

void rp_test_ring_make(struct rp_test_ring *r, uint32_t capacity,
		       uint32_t flags, uint32_t nslots)
{
	struct rp_ring_config cfg = {
		.capacity = capacity, .flags = flags, .nslots = nslots};

	memset(r, 0, sizeof(*r));
	CU_ASSERT_FATAL(rp_ring_create(&cfg, &r->fds) == 0);
	CU_ASSERT_FATAL(rp_bell_create(0, &r->pbell) == 0);
	CU_ASSERT_FATAL(rp_bell_create(0, &r->cbell) == 0);
}

void rp_test_ring_free(struct rp_test_ring *r)
{
	rp_ring_fds_close(&r->fds);
	rp_bell_close(r->pbell);
	rp_bell_close(r->cbell);
	memset(r, 0, sizeof(*r));
}

struct rp_producer *rp_test_producer(struct rp_test_ring *r)
{
	struct rp_ring_fds side;
	struct rp_producer *p = NULL;

	CU_ASSERT_FATAL(rp_ring_fds_for_producer(&r->fds, &side) == 0);
	CU_ASSERT_FATAL(rp_producer_open(&side, r->pbell, r->cbell, &p) == 0);
	rp_ring_fds_close(&side);
	return p;
}

struct rp_consumer *rp_test_consumer(struct rp_test_ring *r)
{
	struct rp_ring_fds side;
	struct rp_consumer *c = NULL;

	CU_ASSERT_FATAL(rp_ring_fds_for_consumer(&r->fds, &side) == 0);
	CU_ASSERT_FATAL(rp_consumer_open(&side, r->cbell, r->pbell, &c) == 0);
	rp_ring_fds_close(&side);
	return c;
}

/* ------------------------------------------------------------- payloads */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

void rp_test_fill(void *buf, uint32_t len, uint64_t i)
{
	unsigned char *b = buf;
	uint64_t x = mix(i + 1);

	for (uint32_t k = 0; k < len; k++) {
		if ((k & 7) == 0)
			x = mix(x + k);
		b[k] = (unsigned char)(x >> ((k & 7) * 8));
	}
}

int rp_test_verify(const void *buf, uint32_t len, uint64_t i)
{
	const unsigned char *b = buf;
	uint64_t x = mix(i + 1);

	for (uint32_t k = 0; k < len; k++) {
		if ((k & 7) == 0)
			x = mix(x + k);
		if (b[k] != (unsigned char)(x >> ((k & 7) * 8)))
			return 0;
	}
	return 1;
}
