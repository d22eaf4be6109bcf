/*
 * test_stage.c - stages as users run them: the example stage (exec'd,
 * strict seccomp) over a million records, cancellation and drain, and
 * the sandbox: every forbidden class of syscall reported by name from the
 * kernel's notification, no root, rlimits, glibc probes, a stopped stage,
 * and stages dying with a SIGKILLed supervisor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../stage/landlock.h"
#include "../stage/sandbox.h"
#include "../stage/ringpipe.h"
#include "../supervisor/errpipe.h"
#include "../supervisor/spawn.h"
#include "harness.h"

#define SEC 1000000000LL

/* A stage between two rings, with the test as its supervisor, source and
 * sink. */
struct rig {
	struct rp_test_ring a, b;    /* a: test -> stage, b: stage -> test */
	struct rp_bell *sup;         /* the test's bell, as supervisor */
	struct rp_bell *stage;       /* the stage's bell */
	struct rp_producer *src;
	struct rp_consumer *sink;
	struct rp_stage_proc proc;
	char why[160];
};

/* cap: the rings' size; evfd: eventfd doorbells everywhere (as ringpipe
 * gives its stages) instead of futex words. */
static void rig_make_with(struct rig *r, uint32_t cap, int evfd)
{
	struct rp_ring_fds side;
	unsigned flags = evfd ? RP_BELL_EVENTFD : 0;

	memset(r, 0, sizeof(*r));
	rp_test_ring_make(&r->a, cap, 0, 0);
	rp_test_ring_make(&r->b, cap, 0, 0);
	if (evfd) {
		rp_bell_close(r->a.pbell);
		rp_bell_close(r->b.cbell);
		CU_ASSERT_FATAL(rp_bell_create(flags, &r->a.pbell) == 0);
		CU_ASSERT_FATAL(rp_bell_create(flags, &r->b.cbell) == 0);
	}
	CU_ASSERT_FATAL(rp_bell_create(RP_BELL_EVENTFD, &r->sup) == 0);
	CU_ASSERT_FATAL(rp_bell_create(flags, &r->stage) == 0);
	/* One bell for the stage: our publications on a and our releases
	 * on b both ring it. */
	CU_ASSERT_FATAL(rp_ring_fds_for_producer(&r->a.fds, &side) == 0);
	CU_ASSERT_FATAL(rp_producer_open(&side, r->a.pbell, r->stage,
					 &r->src) == 0);
	rp_ring_fds_close(&side);
	CU_ASSERT_FATAL(rp_ring_fds_for_consumer(&r->b.fds, &side) == 0);
	CU_ASSERT_FATAL(rp_consumer_open(&side, r->b.cbell, r->stage,
					 &r->sink) == 0);
	rp_ring_fds_close(&side);
}

static void rig_make(struct rig *r)
{
	rig_make_with(r, 1 << 16, 0);
}

static int rig_spawn(struct rig *r, struct rp_stage_spec *spec)
{
	struct rp_stage_links l = {
		.in = &r->a.fds, .in_bell = r->a.pbell,
		.out = &r->b.fds, .out_bell = r->b.cbell,
		.sup_bell = r->sup, .own_bell = r->stage,
	};
	return rp_spawn(spec, &l, &r->proc, r->why, sizeof(r->why));
}

static void rig_free(struct rig *r)
{
	rp_spawn_close(&r->proc);
	rp_producer_close(r->src);
	rp_consumer_close(r->sink);
	rp_bell_close(r->sup);
	rp_bell_close(r->stage);
	rp_test_ring_free(&r->a);
	rp_test_ring_free(&r->b);
}

static void spec_init(struct rp_stage_spec *spec, const char *name,
		      enum rp_policy policy)
{
	memset(spec, 0, sizeof(*spec));
	spec->name = name;
	rp_sandbox_defaults(&spec->sandbox);
	spec->sandbox.policy = policy;
	spec->stderr_fd = -1;
}

/* Poll the stage's listener and pidfd until it dies; returns its wait
 * status, with *v filled if a violation came first. */
static int watch(struct rig *r, struct rp_violation *v, int *violated,
		 int secs)
{
	int64_t end = rp_now_ns() + (int64_t)secs * SEC;

	*violated = 0;
	while (rp_now_ns() < end) {
		struct pollfd p[2] = {{.fd = r->proc.pidfd, .events = POLLIN},
				      {.fd = r->proc.listener,
				       .events = POLLIN}};
		int n = poll(p, r->proc.listener >= 0 ? 2 : 1, 100);
		if (n > 0 && r->proc.listener >= 0 && (p[1].revents & POLLIN) &&
		    rp_spawn_violation(&r->proc, 0, v) == 0)
			*violated = 1;
		if (n > 0 && (p[0].revents & POLLIN))
			break;
	}
	return rp_spawn_reap(&r->proc, 1000);
}

/* ------------------------------------------------- the example, exec'd */

static const char *build_dir(void)
{
	const char *b = getenv("RP_TEST_BUILD");
	return b ? b : "build/plain";
}

RP_TEST(test_example_stage_million_records, 180)
{
	uint64_t n = rp_test_sanitized() ? 100000 : 1000000, got = 0, sent = 0;
	struct rp_stage_spec spec;
	struct rig r;
	char path[256];
	char *argv[] = {path, NULL};
	int64_t end;
	int st;

	/* A stage program runs as uid 65534 from its first instruction
	 * when we are root: run a copy it can reach wherever the tree is
	 * checked out (a home directory may be closed to other users). */
	{
		char cmd[600];
		snprintf(path, sizeof(path), "/tmp/rp-upper-%d",
			 (int)getpid());
		snprintf(cmd, sizeof(cmd), "cp '%s/examples/upper' '%s' && "
					   "chmod 755 '%s'",
			 build_dir(), path, path);
		CU_ASSERT_FATAL(system(cmd) == 0);
	}
	/* The leak checker's stop-the-world needs syscalls no stage may
	 * make: sanitized stages run without it. */
	if (rp_test_sanitized())
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
	rig_make(&r);
	spec_init(&spec, "upper", RP_POLICY_STRICT);
	spec.argv = argv;
	st = rig_spawn(&r, &spec);
	/* Run (its hand-shake comes from the program): the copy is not
	 * needed any more, and a failed assertion below leaves none. */
	unlink(path);
	CU_ASSERT_FATAL(st == 0);
	CU_ASSERT(r.proc.listener >= 0);
	end = rp_now_ns() + 150 * SEC;
	while (got < n && rp_now_ns() < end) {
		struct rp_view v;
		int err;
		/* Feed while there is room, drain while there is output. */
		while (sent < n) {
			char line[32];
			struct rp_meta m = {.origin = sent,
					    .type = RP_REC_T_DATA};
			void *dst;
			int len = snprintf(line, sizeof(line), "rec-%llu-abc",
					   (unsigned long long)sent);
			if (rp_reserve(r.src, (uint32_t)len, &dst) != 0)
				break;
			memcpy(dst, line, (size_t)len);
			CU_ASSERT_FATAL(rp_commit(r.src, (uint32_t)len, &m) == 0);
			if (++sent == n)
				rp_producer_end(r.src);
		}
		rp_flush(r.src);
		while ((err = rp_peek(r.sink, &v)) == 0) {
			char want[32];
			int len = snprintf(want, sizeof(want), "REC-%llu-ABC",
					   (unsigned long long)got);
			CU_ASSERT_FATAL(v.len == (uint32_t)len &&
					memcmp(v.data, want, (size_t)len) == 0);
			/* Origin metadata: the stage's input sequence, one
			 * output each, marked last (the first also marks the
			 * stage's attach). */
			CU_ASSERT_FATAL(v.origin == got && v.sub == 0 &&
					v.flags == (RP_REC_F_LAST |
						    (got == 0 ? RP_REC_F_RESTART
							      : 0)));
			got++;
		}
		rp_release(r.sink);
		CU_ASSERT_FATAL(err == -EAGAIN || err == -ENODATA);
		if (err == -EAGAIN)
			rp_peek_wait(r.sink, &v, 1000000), rp_rewind(r.sink);
	}
	CU_ASSERT_EQUAL(got, n);
	{
		struct rp_view v;
		CU_ASSERT_EQUAL(rp_peek_wait(r.sink, &v, 5 * SEC), -ENODATA);
	}
	st = rp_spawn_reap(&r.proc, 10000);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == RP_EXIT_OK);
	{
		struct rp_ctl_msg m, last = {0};
		while (rp_ctl_recv(r.proc.rx, &m) == 0)
			last = m;
		CU_ASSERT_EQUAL(last.kind, RP_CTL_DONE);
		CU_ASSERT_EQUAL(last.reason, RP_REASON_EOF);
		CU_ASSERT_EQUAL(last.arg0, n);
	}
	rig_free(&r);
}

/* ------------------------------------------------ in-process stages */

static int copy_fn(struct rp_stage *s, const struct rp_record *in, void *a)
{
	(void)a;
	return rp_emit(s, in->data, in->len);
}

static int copy_main(void *arg)
{
	struct rp_stage *s;

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	return rp_stage_run(s, copy_fn, NULL);
}

/* A cancel (reason: user) stops a stage waiting for input: exit code
 * 10 + reason, and a final `done` record carrying the reason. */
RP_TEST(test_cancel_reason_reported, 30)
{
	struct rp_stage_spec spec;
	struct rp_ctl_msg m, last = {0};
	struct rig r;
	int st;

	rig_make(&r);
	spec_init(&spec, "copy", RP_POLICY_STRICT);
	spec.main = copy_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	usleep(100000);
	CU_ASSERT_FATAL(rp_ctl_cancel(r.proc.tx, RP_REASON_DEADLINE) == 0);
	st = rp_spawn_reap(&r.proc, 5000);
	CU_ASSERT(WIFEXITED(st));
	CU_ASSERT_EQUAL(WEXITSTATUS(st),
			RP_EXIT_CANCELLED_BASE + RP_CANCEL_DEADLINE);
	while (rp_ctl_recv(r.proc.rx, &m) == 0)
		last = m;
	CU_ASSERT_EQUAL(last.kind, RP_CTL_DONE);
	CU_ASSERT_EQUAL(last.reason, RP_REASON_DEADLINE);
	rig_free(&r);
}

/* A loop of its own, checking what the library refuses: while a
 * reservation is open, no peek (its output would get the next record's
 * key) and no release (a crash would lose the output); the total it
 * emits once its input has ended.  mode 0: finishes well; 1: finishes
 * with a cancel reason no cancel brought.  Exit 100 + step where the
 * library did not refuse.  mode 2: it emits a header before its first
 * record, and finishes well. */
static int low_main(void *arg)
{
	int mode = (int)(intptr_t)arg, err;
	struct rp_stage *s;
	struct rp_record r;
	void *b;

	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	if (mode == 2 && rp_emit(s, "head", 4) != 0)
		return 107;
	while ((err = rp_stage_peek(s, &r)) == -EAGAIN)
		rp_stage_wait(s, RP_WAIT_INPUT, SEC);
	if (err)
		return 100;
	if (rp_emit_reserve(s, 8, &b) != 0)
		return 101;
	memcpy(b, r.data, 8);
	if (rp_stage_peek(s, &r) != -EBUSY)
		return 102;
	if (rp_stage_release(s) != -EBUSY)
		return 103;
	if (rp_emit_commit(s, 8) != 0 || rp_stage_release(s) != 0)
		return 104;
	while ((err = rp_stage_peek(s, &r)) != -ENODATA) {
		if (err == -EAGAIN)
			rp_stage_wait(s, RP_WAIT_INPUT, SEC);
		else if (err != 0)
			return 105;
	}
	if (rp_stage_release(s) != 0 || rp_emit(s, "total", 5) != 0)
		return 106;
	return rp_stage_finish(s, 0, mode == 1 ? RP_CANCEL_DEADLINE : 0);
}

/* The low level's refusals and keys: an open reservation blocks a peek
 * and a release; a total emitted after the input ended has the origin
 * past the last record (3), sub-index 0, and follows the first record's
 * output (origin 0); a cancel reason no cancel brought is the stage's
 * error, not a cancel.  A header emitted before the first record keeps
 * key 0.0, and that record's output follows it as 0.1 (it was 0.0 too,
 * and dropped downstream as a repeat of the header). */
RP_TEST(test_low_level_keys_and_refusals, 30)
{
	for (int mode = 0; mode < 3; mode++) {
		struct rp_stage_spec spec;
		struct rp_ctl_msg m, last = {0};
		struct rp_view v;
		struct rig r;
		int st;

		rig_make(&r);
		spec_init(&spec, "low", RP_POLICY_STRICT);
		spec.main = low_main;
		spec.arg = (void *)(intptr_t)mode;
		CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
		for (uint64_t i = 0; i < 3; i++) {
			struct rp_meta meta = {.origin = i,
					       .type = RP_REC_T_DATA};
			CU_ASSERT_FATAL(rp_send(r.src, &i, 8, &meta, SEC) == 0);
		}
		CU_ASSERT_FATAL(rp_producer_end(r.src) == 0);
		st = rp_spawn_reap(&r.proc, 5000);
		CU_ASSERT(WIFEXITED(st));
		if (mode != 1) {
			CU_ASSERT_EQUAL(WEXITSTATUS(st), RP_EXIT_OK);
			if (mode == 2) {
				CU_ASSERT_FATAL(rp_peek(r.sink, &v) == 0);
				CU_ASSERT(v.origin == 0 && v.sub == 0 &&
					  v.len == 4);
				rp_release(r.sink);
			}
			CU_ASSERT_FATAL(rp_peek(r.sink, &v) == 0);
			CU_ASSERT(v.origin == 0 && v.sub == (mode == 2) &&
				  v.len == 8);
			rp_release(r.sink);
			CU_ASSERT_FATAL(rp_peek(r.sink, &v) == 0);
			CU_ASSERT(v.origin == 3 && v.sub == 0 && v.len == 5 &&
				  memcmp(v.data, "total", 5) == 0);
			rp_release(r.sink);
			CU_ASSERT_EQUAL(rp_peek(r.sink, &v), -ENODATA);
		} else {
			CU_ASSERT_EQUAL(WEXITSTATUS(st), RP_EXIT_ERROR);
			while (rp_ctl_recv(r.proc.rx, &m) == 0)
				last = m;
			CU_ASSERT_EQUAL(last.kind, RP_CTL_ERROR);
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) >= 100)
			fprintf(stderr, "low, mode %d: status 0x%x\n", mode, st);
		rig_free(&r);
	}
}

/* A source of its own loop that says its record is done by releasing
 * (and flushing), then waits long before the next. */
static int tick_main(void *arg)
{
	struct timespec t = {2, 0};
	struct rp_stage *s;

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	if (rp_emit(s, "tick", 4) != 0 || rp_stage_release(s) != 0 ||
	    rp_stage_flush(s) != 0)
		return 100;
	nanosleep(&t, NULL);
	return rp_stage_finish(s, 0, 0);
}

/* Its record goes out at the release, not 2 s later at its next one
 * (a source's release left its last record held). */
RP_TEST(test_source_release_publishes, 30)
{
	struct rp_stage_spec spec;
	struct rp_view v;
	struct rig r;
	int got = -1;

	rig_make(&r);
	spec_init(&spec, "tick", RP_POLICY_STRICT);
	spec.main = tick_main;
	{
		struct rp_stage_links l = {
		    .out = &r.b.fds, .out_bell = r.b.cbell,
		    .sup_bell = r.sup, .own_bell = r.stage,
		};
		CU_ASSERT_FATAL(rp_spawn(&spec, &l, &r.proc, r.why,
					 sizeof(r.why)) == 0);
	}
	for (int64_t end = rp_now_ns() + SEC; rp_now_ns() < end;) {
		if ((got = rp_peek(r.sink, &v)) == 0)
			break;
		usleep(10000);
	}
	CU_ASSERT_EQUAL(got, 0);
	CU_ASSERT(got == 0 && v.len == 4 && memcmp(v.data, "tick", 4) == 0);
	CU_ASSERT(WIFEXITED(rp_spawn_reap(&r.proc, 5000)));
	rig_free(&r);
}

/* Its first two records pass at once, the third takes 2 s. */
static int slow_third_fn(struct rp_stage *s, const struct rp_record *in,
			 void *a)
{
	struct timespec t = {2, 0};

	(void)a;
	if (in->origin == 2)
		nanosleep(&t, NULL);
	return rp_emit(s, "abc" + in->origin % 3, 1);
}

static int slow_third_main(void *arg)
{
	struct rp_stage *s;

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	return rp_stage_run(s, slow_third_fn, NULL);
}

/* A consumer that waits gets each record as the stage makes it: the
 * second too, though the first fed its wait (a commit publishes early
 * once per wait) and the record after it takes 2 s. */
RP_TEST(test_waiting_consumer_gets_each_record, 30)
{
	struct rp_stage_spec spec;
	struct rp_view v;
	struct rig r;
	int64_t end;
	int got = 0;

	rig_make(&r);
	spec_init(&spec, "slow3", RP_POLICY_STRICT);
	spec.main = slow_third_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	/* Waiting from before the first record reaches the stage, and
	 * still waiting (not said again) when the second comes out. */
	rp_bell_announce(r.b.cbell);
	for (uint64_t i = 0; i < 3; i++) {
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
		CU_ASSERT_FATAL(rp_send(r.src, "x", 1, &m, SEC) == 0);
	}
	rp_flush(r.src);
	end = rp_now_ns() + SEC;
	while (got < 2 && rp_now_ns() < end) {
		if (rp_peek(r.sink, &v) == 0) {
			CU_ASSERT(v.len == 1 &&
				  ((const char *)v.data)[0] == "abc"[got]);
			got++;
		} else {
			usleep(1000);
		}
	}
	rp_bell_retire(r.b.cbell);
	CU_ASSERT_EQUAL(got, 2);
	rp_release(r.sink);
	rp_producer_end(r.src);
	CU_ASSERT(WIFEXITED(rp_spawn_reap(&r.proc, 10000)));
	rig_free(&r);
}

/* Zero the magic and version of the bell in memfd, as a scribbling
 * stage that rings it may. */
static void scribble_bell(struct rp_bell *b)
{
	uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			   rp_bell_memfd(b), 0);

	CU_ASSERT_FATAL(w != MAP_FAILED);
	w[0] = 0;
	w[1] = 0x7777;
	munmap(w, 4096);
}

/* Every stage that rings a bell can write its page: a neighbour that
 * scribbled the magic and version of every bell a stage uses (its own,
 * its peers', the supervisor's) does not stop it attaching at its next
 * start (it failed with "Bad message", exit 2, never restarted), and
 * records flow. */
RP_TEST(test_scribbled_bells_attach, 30)
{
	struct rp_stage_spec spec;
	struct rp_view v;
	struct rig r;
	struct rp_meta m = {.origin = 0, .type = RP_REC_T_DATA};
	int got = -1, st;

	rig_make(&r);
	scribble_bell(r.stage);
	scribble_bell(r.sup);
	scribble_bell(r.a.pbell);
	scribble_bell(r.b.cbell);
	spec_init(&spec, "copy", RP_POLICY_STRICT);
	spec.main = copy_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	CU_ASSERT_FATAL(rp_send(r.src, "abc", 3, &m, SEC) == 0);
	rp_producer_end(r.src);
	for (int64_t end = rp_now_ns() + 2 * SEC; rp_now_ns() < end;) {
		if ((got = rp_peek(r.sink, &v)) == 0)
			break;
		usleep(2000);
	}
	CU_ASSERT(got == 0 && v.len == 3 && memcmp(v.data, "abc", 3) == 0);
	if (got == 0)
		rp_release(r.sink);
	st = rp_spawn_reap(&r.proc, 5000);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rig_free(&r);
}

/* Drain: the records already in the input are processed, then the output
 * ends as if the input had. */
RP_TEST(test_drain_finishes_input, 30)
{
	struct rp_stage_spec spec;
	struct rp_view v;
	struct rig r;
	int st, got = 0;

	rig_make(&r);
	spec_init(&spec, "copy", RP_POLICY_STRICT);
	spec.main = copy_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	for (uint64_t i = 0; i < 20; i++) {
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
		CU_ASSERT_FATAL(rp_send(r.src, &i, 8, &m, SEC) == 0);
	}
	rp_flush(r.src);
	CU_ASSERT_FATAL(rp_ctl_drain(r.proc.tx) == 0);
	st = rp_spawn_reap(&r.proc, 5000);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == RP_EXIT_OK);
	while (rp_peek(r.sink, &v) == 0)
		got++;
	CU_ASSERT_EQUAL(got, 20);
	CU_ASSERT_EQUAL(rp_peek(r.sink, &v), -ENODATA);
	rig_free(&r);
}

/* With eventfd doorbells on every side, as ringpipe runs stages, and a
 * ring that holds few records, the stage and the test park and wake
 * thousands of times: a lost wake-up costs a whole wait slice (1 s), so
 * the bound below turns one into a failure. */
RP_TEST(test_eventfd_bells_no_lost_wakeup, 60)
{
	struct rp_stage_spec spec;
	struct rig r;
	uint64_t sent = 0, got = 0, n = 20000;
	int64_t t0 = rp_now_ns();
	int st;

	rig_make_with(&r, 4096, 1);
	spec_init(&spec, "copy", RP_POLICY_STRICT);
	spec.main = copy_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	while (got < n) {
		struct rp_view v;
		int err;
		while (sent < n) {
			char buf[600];
			struct rp_meta m = {.origin = sent,
					    .type = RP_REC_T_DATA};
			memset(buf, (int)(sent & 0xff), sizeof(buf));
			if (rp_send(r.src, buf, sizeof(buf), &m, 0) != 0)
				break;
			sent++;
		}
		rp_flush(r.src);
		if (got == sent) {
			/* All answered: wait for room to send more. */
			char buf[600];
			struct rp_meta m = {.origin = sent,
					    .type = RP_REC_T_DATA};
			memset(buf, (int)(sent & 0xff), sizeof(buf));
			CU_ASSERT_FATAL(rp_send(r.src, buf, sizeof(buf), &m,
						5 * SEC) == 0);
			sent++;
			rp_flush(r.src);
		}
		err = rp_peek_wait(r.sink, &v, 5 * SEC);
		if (err)
			fprintf(stderr, "peek_wait: %s after %llu of %llu sent\n",
				strerror(-err), (unsigned long long)got,
				(unsigned long long)sent);
		CU_ASSERT_FATAL(err == 0);
		CU_ASSERT_FATAL(v.len == 600 &&
				((const unsigned char *)v.data)[599] ==
					(got & 0xff));
		got++;
		rp_release(r.sink);
	}
	CU_ASSERT(rp_now_ns() - t0 < 20 * SEC);
	rp_producer_end(r.src);
	st = rp_spawn_reap(&r.proc, 5000);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == RP_EXIT_OK);
	rig_free(&r);
}

/* --------------------------------------------------- forbidden classes */

enum attempt {
	TRY_OPEN, TRY_SOCKET, TRY_EXECVE, TRY_FORK, TRY_PTRACE, TRY_KILL,
	TRY_MMAP_EXEC, TRY_MPROTECT_EXEC, TRY_COUNT
};
static const char *const attempt_syscall[TRY_COUNT] = {
	"openat", "socket", "execve", "clone", "ptrace", "kill", "mmap",
	"mprotect",
};
static enum attempt attempt;

/* Process records; on the one with origin 3, try the forbidden thing. */
static int hostile_fn(struct rp_stage *s, const struct rp_record *in,
		      void *a)
{
	static char page[8192] __attribute__((aligned(4096)));
	char *argv[] = {"/bin/true", NULL};

	(void)a;
	if (in->origin == 3) {
		switch (attempt) {
		case TRY_OPEN: open("/etc/hostname", O_RDONLY); break;
		case TRY_SOCKET: socket(AF_INET, SOCK_STREAM, 0); break;
		case TRY_EXECVE: execve(argv[0], argv, NULL); break;
		case TRY_FORK: syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); break;
		case TRY_PTRACE: ptrace(PTRACE_TRACEME, 0, 0, 0); break;
		case TRY_KILL: kill(getppid(), 0); break;
		case TRY_MMAP_EXEC:
			mmap(NULL, 4096, PROT_READ | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			break;
		case TRY_MPROTECT_EXEC:
			mprotect(page, 4096, PROT_READ | PROT_EXEC);
			break;
		default: break;
		}
		return -EPERM; /* only reached if the call was let through */
	}
	return rp_emit(s, in->data, in->len);
}

static int hostile_main(void *arg)
{
	struct rp_stage *s;

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	return rp_stage_run(s, hostile_fn, NULL);
}

RP_TEST(test_forbidden_syscalls_reported_by_name, 120)
{
	for (int a = 0; a < TRY_COUNT; a++) {
		struct rp_stage_spec spec;
		struct rp_violation v;
		struct rig r;
		int violated, st;
		char msg[128];

		if (rp_test_sanitized() && a == TRY_FORK)
			continue; /* the sanitizer runtime forks on its own */
		attempt = (enum attempt)a;
		rig_make(&r);
		spec_init(&spec, "hostile", RP_POLICY_STRICT);
		spec.main = hostile_main;
		CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
		for (uint64_t i = 0; i < 6; i++) {
			struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
			CU_ASSERT_FATAL(rp_send(r.src, &i, 8, &m, SEC) == 0);
		}
		rp_flush(r.src);
		st = watch(&r, &v, &violated, 20);
		snprintf(msg, sizeof(msg), "%s: violated=%d name=%s status=%#x",
			 attempt_syscall[a], violated, violated ? v.name : "-",
			 st);
		if (!violated)
			fprintf(stderr, "%s\n", msg);
		CU_ASSERT_FATAL(violated);
		CU_ASSERT_STRING_EQUAL(v.name, attempt_syscall[a]);
		/* Killed by the supervisor, not exited by itself. */
		CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		/* The record it was on: origin 3 (reported as 3 + 1). */
		CU_ASSERT_EQUAL(rp_spawn_current_record(&r.proc), 4);
		if (strcmp(v.name, attempt_syscall[a]) != 0)
			CU_FAIL(msg);
		rig_free(&r);
	}
}

/* A classic BPF filter's answer to a syscall, as the kernel computes it
 * (the instructions libseccomp emits); 0xffffffff for one it does not. */
static uint32_t bpf_answer(const struct rp_filter *f,
			   const struct seccomp_data *d)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};

	for (unsigned pc = 0; pc < f->len; pc++) {
		const struct sock_filter *in = &f->insns[pc];
		uint32_t k = in->k;
		int cond = -1;

		switch (in->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k > sizeof(*d) - 4)
				return 0xffffffffu;
			memcpy(&a, (const char *)d + k, 4);
			break;
		case BPF_LD | BPF_IMM: a = k; break;
		case BPF_LDX | BPF_IMM: x = k; break;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return 0xffffffffu;
			if (in->code == (BPF_LD | BPF_MEM))
				a = mem[k];
			else if (in->code == (BPF_LDX | BPF_MEM))
				x = mem[k];
			else
				mem[k] = in->code == BPF_ST ? a : x;
			break;
		case BPF_ALU | BPF_AND | BPF_K: a &= k; break;
		case BPF_ALU | BPF_OR | BPF_K: a |= k; break;
		case BPF_MISC | BPF_TAX: x = a; break;
		case BPF_MISC | BPF_TXA: a = x; break;
		case BPF_JMP | BPF_JA: pc += k; break;
		case BPF_JMP | BPF_JEQ | BPF_K: cond = a == k; break;
		case BPF_JMP | BPF_JGT | BPF_K: cond = a > k; break;
		case BPF_JMP | BPF_JGE | BPF_K: cond = a >= k; break;
		case BPF_JMP | BPF_JSET | BPF_K: cond = (a & k) != 0; break;
		case BPF_RET | BPF_K: return k;
		case BPF_RET | BPF_A: return a;
		default: return 0xffffffffu;
		}
		if (cond >= 0)
			pc += cond ? in->jt : in->jf;
	}
	return 0xffffffffu;
}

/* A filter the supervisor compiles ahead, as a template bound to the
 * stage's pid and socket in its child, answers every syscall as the filter
 * the stage would build for itself: for each policy and rule set, and for
 * pids and sockets that equal constants the filters compare with (there
 * libseccomp may share one comparison between rules, so the instructions
 * differ, not the answers).
 * The memfd it travels in cannot be written by the stage. */
RP_TEST(test_compiled_filter_is_the_built_one, 60)
{
	const pid_t pids[] = {1, 4, 7, 9, 0x5401, 12345, 4194304};
	const uint64_t a1s[] = {0, SIGUSR1, SIGKILL, SIGTERM, SIGSTOP,
				TCGETS};
	const uint64_t a2s[] = {0, PROT_EXEC, PROT_READ, SIGUSR1, SIGKILL};
	struct rp_sandbox sbs[5];

	for (int i = 0; i < 5; i++) {
		rp_sandbox_defaults(&sbs[i]);
		sbs[i].notify_sock = 7;
	}
	sbs[1].self_signals_any = 1;
	sbs[2].policy = RP_POLICY_EXEC;
	sbs[3].allow[sbs[3].nallow++].nr = rp_syscall_number("uname");
	sbs[3].deny[sbs[3].ndeny++] =
		(struct rp_syscall_rule){rp_syscall_number("openat"), EPERM};
	sbs[4].notify_sock = -1;
	for (int i = 0; i < 5; i++) {
		struct rp_filter tmpl;
		CU_ASSERT_FATAL(rp_seccomp_compile(&sbs[i], &tmpl) == 0);
		/* strict names itself (kill, tgkill): the template has a
		 * place for the pid; and one for the socket it has. */
		CU_ASSERT(sbs[i].policy != RP_POLICY_STRICT || tmpl.marks > 0);
		CU_ASSERT((sbs[i].notify_sock >= 0) == (tmpl.sock_marks > 0));
		for (size_t k = 0; k < sizeof(pids) / sizeof(*pids); k++) {
			const uint64_t a0s[] = {(uint64_t)pids[k],
						(uint64_t)pids[k] + 1, 0, 1,
						k % 2 ? 7 : 3 + k * 5,
						(uint64_t)pids[k] | 1ull << 32};
			struct rp_filter want, copy = tmpl, got;
			size_t size = tmpl.len * sizeof(*tmpl.insns);
			struct seccomp_data d = {.arch = AUDIT_ARCH_X86_64};
			unsigned differ = 0, own = 0;
			int fd;

			copy.insns = malloc(size);
			CU_ASSERT_FATAL(copy.insns != NULL);
			memcpy(copy.insns, tmpl.insns, size);
			/* Its socket: as the template's, or another. */
			struct rp_sandbox sb = sbs[i];
			if (sb.notify_sock >= 0)
				sb.notify_sock = k % 2 ? 7 : 3 + (int)k * 5;
			fd = rp_seccomp_bind(&copy, pids[k], sb.notify_sock);
			CU_ASSERT_FATAL(fd >= 0);
			CU_ASSERT_FATAL(rp_seccomp_read(fd, &got) == 0);
			CU_ASSERT_FATAL(rp_seccomp_export(&sb, pids[k],
							  &want) == 0);
			for (d.nr = 0; d.nr < 500; d.nr++)
				for (size_t x = 0; x < 6 * 6 * 5; x++) {
					uint32_t g, w;
					d.args[0] = a0s[x % 6];
					d.args[1] = a1s[x / 6 % 6];
					d.args[2] = a2s[x / 36];
					g = bpf_answer(&got, &d);
					w = bpf_answer(&want, &d);
					differ += g != w || g == 0xffffffffu;
				}
			CU_ASSERT_EQUAL(differ, 0);
			/* And the pid strict names is this one: SIGUSR1 to
			 * itself allowed, to the next pid not. */
			d.nr = SYS_kill;
			d.args[0] = (uint64_t)pids[k];
			d.args[1] = SIGUSR1;
			d.args[2] = 0;
			own = bpf_answer(&got, &d) == SECCOMP_RET_ALLOW;
			d.args[0] = (uint64_t)pids[k] + 1;
			if (sbs[i].policy == RP_POLICY_STRICT) {
				CU_ASSERT(own);
				CU_ASSERT(bpf_answer(&got, &d) !=
					  SECCOMP_RET_ALLOW);
			}
			/* Sealed: neither written nor cut. */
			CU_ASSERT(write(fd, "x", 1) < 0 && errno == EPERM);
			CU_ASSERT(ftruncate(fd, 0) < 0 && errno == EPERM);
			close(fd);
			free(copy.insns);
			free(got.insns);
			free(want.insns);
		}
		free(tmpl.insns);
	}
}

/* ------------------------------------------------- no root, no caps */

static int noroot_main(void *arg)
{
	struct rp_stage *s;
	int fd, code = 0;

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	if (getuid() == 0 || geteuid() == 0)
		code |= 1;
	fd = open("/etc/shadow", O_RDONLY);
	if (fd >= 0 || errno != EACCES)
		code |= 2;
	{
		struct __user_cap_header_struct h = {
			_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d) != 0 ||
		    (d[0].effective | d[1].effective | d[0].permitted |
		     d[1].permitted) != 0)
			code |= 4;
	}
	rp_stage_close(s);
	return code;
}

/* Started by a root supervisor (CI is root) or not, a stage under even
 * the permissive exec policy has no root, no capabilities, and cannot
 * read a root-only file.  make test runs this suite both ways. */
RP_TEST(test_stage_is_not_root, 30)
{
	struct rp_stage_spec spec;
	struct rig r;
	int st;

	rig_make(&r);
	spec_init(&spec, "noroot", RP_POLICY_EXEC);
	spec.main = noroot_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	st = rp_spawn_reap(&r.proc, 5000);
	CU_ASSERT(WIFEXITED(st));
	CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
	rig_free(&r);
}

/* ------------------------------------------------------ namespaces */

static char parent_netns[64], parent_ipcns[64], parent_pidns[64];

static int ns_main(void *arg)
{
	struct rp_stage *s;
	char net[64] = "", ipc[64] = "", pid[64] = "";
	int code = 0, st;
	pid_t child;

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	/* The exec policy lets it look; what it sees must not be ours. */
	if (readlink("/proc/self/ns/net", net, sizeof(net) - 1) < 0 ||
	    strcmp(net, parent_netns) == 0)
		code |= 1;
	if (readlink("/proc/self/ns/ipc", ipc, sizeof(ipc) - 1) < 0 ||
	    strcmp(ipc, parent_ipcns) == 0)
		code |= 2;
	/* Its first child (an exec adapter's init) is pid 1 of a new one. */
	child = fork();
	if (child == 0)
		_exit(getpid() == 1 &&
			      readlink("/proc/self/ns/pid", pid,
				       sizeof(pid) - 1) > 0 &&
			      strcmp(pid, parent_pidns) != 0
		      ? 0
		      : 1);
	if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		code |= 4;
	rp_stage_close(s);
	return code;
}

/* Asked for, the network and IPC namespaces are private (as root
 * directly, unprivileged through a user namespace), and the READY record
 * says which layers are in force. */
RP_TEST(test_namespaces_in_force, 30)
{
	struct rp_stage_spec spec;
	struct rp_ctl_msg m;
	struct rig r;
	char layers[128];
	int st, ready = 0;

	CU_ASSERT_FATAL(readlink("/proc/self/ns/net", parent_netns,
				 sizeof(parent_netns) - 1) > 0);
	CU_ASSERT_FATAL(readlink("/proc/self/ns/ipc", parent_ipcns,
				 sizeof(parent_ipcns) - 1) > 0);
	CU_ASSERT_FATAL(readlink("/proc/self/ns/pid", parent_pidns,
				 sizeof(parent_pidns) - 1) > 0);
	rig_make(&r);
	spec_init(&spec, "ns", RP_POLICY_EXEC);
	spec.sandbox.namespaces =
		RP_SB_NETNS | RP_SB_IPCNS | RP_SB_MNTNS | RP_SB_PIDNS;
	spec.main = ns_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	st = rp_spawn_reap(&r.proc, 5000);
	CU_ASSERT(WIFEXITED(st));
	CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
	while (rp_ctl_recv(r.proc.rx, &m) == 0) {
		if (m.kind != RP_CTL_READY)
			continue;
		ready = 1;
		rp_sandbox_describe((unsigned)m.arg0, layers, sizeof(layers));
		CU_ASSERT_STRING_EQUAL(layers,
				       rp_landlock_abi() >= 6
					       ? "fds,netns,ipcns,mntns,pidns,"
						 "rlimits,noroot,pdeath,nnp,"
						 "landlock,seccomp,sigscope"
					       : "fds,netns,ipcns,mntns,pidns,"
						 "rlimits,noroot,pdeath,nnp,"
						 "landlock,seccomp");
	}
	CU_ASSERT(ready);
	rig_free(&r);
}

/* -------------------------------------------- probes, limits, stops */

static int probe_main(void *arg)
{
	struct rp_stage *s;
	long r;

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	/* glibc probes clone3 and falls back to clone: it must fail
	 * softly.  rseq is allowed (each new thread registers its area):
	 * the call reaches the kernel, which refuses these arguments. */
	r = syscall(SYS_rseq, NULL, 0, 0, 0);
	if (r != -1 || errno != EINVAL)
		return 20;
	r = syscall(SYS_clone3, NULL, 0);
	if (r != -1 || errno != ENOSYS)
		return 21;
	return rp_stage_run(s, copy_fn, NULL);
}

RP_TEST(test_glibc_probes_get_enosys, 30)
{
	struct rp_stage_spec spec;
	struct rp_violation v;
	struct rig r;
	int violated, st;

	rig_make(&r);
	spec_init(&spec, "probe", RP_POLICY_STRICT);
	spec.main = probe_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	rp_producer_end(r.src);
	st = watch(&r, &v, &violated, 10);
	CU_ASSERT_FALSE(violated);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == RP_EXIT_OK);
	rig_free(&r);
}

/* Stopping and continuing a stage blocked in a futex wait needs
 * restart_syscall: it must not look like a violation. */
RP_TEST(test_stopped_stage_resumes, 30)
{
	struct rp_stage_spec spec;
	struct rp_violation v;
	struct rig r;
	int violated, st;

	rig_make(&r);
	spec_init(&spec, "copy", RP_POLICY_STRICT);
	spec.main = copy_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	usleep(200000);
	for (int i = 0; i < 5; i++) {
		kill(r.proc.pid, SIGSTOP);
		usleep(50000);
		kill(r.proc.pid, SIGCONT);
		usleep(50000);
	}
	rp_producer_end(r.src);
	st = watch(&r, &v, &violated, 10);
	CU_ASSERT_FALSE(violated);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == RP_EXIT_OK);
	rig_free(&r);
}

static int bomb_main(void *arg)
{
	struct rp_stage *s;
	char *p;

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	p = malloc(1u << 30); /* above the 256 MiB address-space limit */
	if (p != NULL)
		return 30;
	fprintf(stderr, "bomb: allocation refused: out of memory\n");
	return rp_stage_finish(s, -ENOMEM, 0);
}

/* A memory bomb is stopped by the address-space limit: the allocation
 * fails and the stage reports it. */
RP_TEST(test_memory_limit, 30)
{
	struct rp_stage_spec spec;
	struct rp_ctl_msg m, last = {0};
	struct rig r;
	int st;

	if (rp_test_sanitized())
		return; /* ASan reserves terabytes of address space */
	rig_make(&r);
	spec_init(&spec, "bomb", RP_POLICY_STRICT);
	spec.sandbox.limit_as = 256u << 20;
	spec.main = bomb_main;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	st = rp_spawn_reap(&r.proc, 10000);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == RP_EXIT_ERROR);
	while (rp_ctl_recv(r.proc.rx, &m) == 0)
		last = m;
	CU_ASSERT_EQUAL(last.kind, RP_CTL_ERROR);
	CU_ASSERT_EQUAL(last.code, -ENOMEM);
	rig_free(&r);
}

/* ------------------------------------------------- captured stderr */

static int chatty_main(void *arg)
{
	struct rp_stage *s;
	char longline[2101];

	(void)arg;
	if (rp_stage_open(&s))
		return RP_EXIT_SANDBOX;
	memset(longline, 'x', 2100);
	longline[2100] = '\0';
	fprintf(stderr, "hello\n");
	fprintf(stderr, "bell\x07 and esc\x1b[31m\n");
	fprintf(stderr, "%s\n", longline);
	fprintf(stderr, "no newline at the end");
	rp_stage_close(s);
	return 0;
}

/* A stage's stderr is shown line by line under its name, with control
 * bytes escaped and over-long lines cut. */
RP_TEST(test_stderr_captured_with_name, 30)
{
	struct rp_stage_spec spec;
	struct rp_errpipe e;
	struct rig r;
	char *text = NULL, expect[4096];
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int wfd, st, alive = 1;
	int64_t end = rp_now_ns() + 10 * SEC;

	CU_ASSERT_FATAL(out != NULL);
	CU_ASSERT_FATAL(rp_errpipe_open(&e, "chatty", 65534, 65534, &wfd) == 0);
	rig_make(&r);
	spec_init(&spec, "chatty", RP_POLICY_STRICT);
	spec.main = chatty_main;
	spec.stderr_fd = wfd;
	CU_ASSERT_FATAL(rig_spawn(&r, &spec) == 0);
	close(wfd); /* the stage has it; EOF comes when it exits */
	while (alive && rp_now_ns() < end) {
		struct pollfd p = {.fd = e.rfd, .events = POLLIN};
		poll(&p, 1, 100);
		alive = rp_errpipe_pump(&e, out) > 0;
	}
	CU_ASSERT_FALSE(alive);
	st = rp_spawn_reap(&r.proc, 5000);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fclose(out);
	{
		size_t at = 0;
		at += (size_t)snprintf(expect + at, sizeof(expect) - at,
				       "chatty: hello\n"
				       "chatty: bell\\x07 and esc\\x1b[31m\n"
				       "chatty: ");
		memset(expect + at, 'x', 1024);
		at += 1024;
		at += (size_t)snprintf(expect + at, sizeof(expect) - at,
				       "\nchatty: ");
		memset(expect + at, 'x', 1024);
		at += 1024;
		at += (size_t)snprintf(expect + at, sizeof(expect) - at,
				       "\nchatty: xxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				       "xxxxxxxxxxxxxxxxxxxxxxxx\n"
				       "chatty: no newline at the end\n");
		CU_ASSERT_EQUAL(len, at);
		CU_ASSERT(len == at && memcmp(text, expect, at) == 0);
	}
	free(text);
	rp_errpipe_close(&e);
	rig_free(&r);
}

/* ------------------------------------------------ supervisor death */

static int report_fd;

static int mini_supervisor(void *arg)
{
	struct rp_stage_spec spec;
	struct rig r;
	int32_t pid;

	(void)arg;
	rig_make(&r);
	spec_init(&spec, "orphan", RP_POLICY_STRICT);
	spec.main = copy_main;
	if (rig_spawn(&r, &spec) != 0)
		return 10;
	pid = r.proc.pid;
	if (write(report_fd, &pid, sizeof(pid)) != sizeof(pid))
		return 11;
	pause(); /* until SIGKILLed */
	return 0;
}

/* A SIGKILLed supervisor takes its stages with it. */
RP_TEST(test_stage_dies_with_supervisor, 30)
{
	int p[2], pidfd, r;
	int32_t stage;
	pid_t sup;
	struct pollfd pf;

	CU_ASSERT_FATAL(pipe(p) == 0);
	report_fd = p[1];
	sup = rp_test_fork(mini_supervisor, NULL);
	close(p[1]);
	CU_ASSERT_FATAL(read(p[0], &stage, sizeof(stage)) == sizeof(stage));
	close(p[0]);
	pidfd = (int)syscall(SYS_pidfd_open, stage, 0);
	CU_ASSERT_FATAL(pidfd >= 0);
	kill(sup, SIGKILL);
	rp_test_wait(sup, 5);
	pf.fd = pidfd;
	pf.events = POLLIN;
	r = poll(&pf, 1, 2000);
	CU_ASSERT_EQUAL(r, 1); /* gone within 2 s */
	close(pidfd);
}

void rp_suite_stage(void)
{
	RP_SUITE("stage",
		 {"example stage: a million records, exec'd under strict",
		  test_example_stage_million_records},
		 {"cancel reason in exit code and final record",
		  test_cancel_reason_reported},
		 {"drain finishes the input", test_drain_finishes_input},
		 {"bells scribbled by a neighbour: it still attaches",
		  test_scribbled_bells_attach},
		 {"low level: refusals of an open reservation, a total's key",
		  test_low_level_keys_and_refusals},
		 {"a source's release sends its record out",
		  test_source_release_publishes},
		 {"a waiting consumer gets each record as it is made",
		  test_waiting_consumer_gets_each_record},
		 {"eventfd doorbells: no lost wake-up",
		  test_eventfd_bells_no_lost_wakeup},
		 {"forbidden syscalls reported by name",
		  test_forbidden_syscalls_reported_by_name},
		 {"a filter compiled ahead is the one the stage builds",
		  test_compiled_filter_is_the_built_one},
		 {"a stage has no root and no capabilities",
		  test_stage_is_not_root},
		 {"namespaces in force and reported", test_namespaces_in_force},
		 {"glibc's clone3 probe gets ENOSYS, rseq the kernel",
		  test_glibc_probes_get_enosys},
		 {"a stopped stage resumes", test_stopped_stage_resumes},
		 {"memory bomb stopped by the limit", test_memory_limit},
		 {"stderr captured under the stage's name",
		  test_stderr_captured_with_name},
		 {"stages die with a SIGKILLed supervisor",
		  test_stage_dies_with_supervisor});
}
