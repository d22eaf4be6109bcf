/*
 * harness.h - CUnit with isolation and timeouts.
 *
 * CUnit has no timeouts, so every test declared with RP_TEST runs in a
 * child process of its own, in its own process group, under an alarm.  A
 * hang fails that test ("timed out") and the run goes on; a crash fails it
 * with the signal's name.  The child's assertion failures are replayed
 * into the parent's CUnit registry, so the summary shows the real lines.
 * After each test the harness kills and reaps whatever the test left
 * running and fails the test if it left named segments in /dev/shm.
 *
 * Use CU_ASSERT* freely inside RP_TEST bodies, including _FATAL ones.
 */
#ifndef RP_TEST_HARNESS_H
#define RP_TEST_HARNESS_H

#include <CUnit/CUnit.h>
#include <stdint.h>
#include <sys/types.h>

#include "../ipc/bell.h"
#include "../ipc/ring.h"

void rp_test_run_isolated(const char *name, void (*body)(void), int secs);

#define RP_TEST(name, secs)                                                   \
	static void name##_body(void);                                        \
	static void name(void)                                                \
	{                                                                     \
		rp_test_run_isolated(#name, name##_body, secs);               \
	}                                                                     \
	static void name##_body(void)

/* Register a suite of tests: RP_SUITE("ring", {"name", fn}, ...). */
struct rp_test_entry {
	const char *name;
	void (*fn)(void);
};
void rp_test_add_suite(const char *suite, const struct rp_test_entry *tests,
		       size_t n);
#define RP_SUITE(suite, ...)                                                  \
	do {                                                                  \
		static const struct rp_test_entry t_[] = {__VA_ARGS__};       \
		rp_test_add_suite(suite, t_, sizeof(t_) / sizeof(t_[0]));     \
	} while (0)

/* Name prefix for named segments made by tests ("t<runner pid>-"); the
 * harness fails a test that leaves any behind. */
const char *rp_test_shm_prefix(void);
/* 1 when built with sanitizers (RP_TEST_VARIANT=asan). */
int rp_test_sanitized(void);

/* Fork a child running fn(arg) and _exit(its return value).  The child
 * dies with the test (same process group). */
pid_t rp_test_fork(int (*fn)(void *), void *arg);
/* Wait for pid at most secs.  Returns its wait status, or -1 on timeout
 * (after SIGKILLing and reaping it). */
int rp_test_wait(pid_t pid, int secs);
/* Exit code of a status that must be a normal exit, else -1000-signal. */
int rp_test_exit_code(int status);

/* A ring plus one bell per side, ready to attach in this process or in
 * children forked after it. */
struct rp_test_ring {
	struct rp_ring_fds fds;
	struct rp_bell *pbell; /* the producer waits on it */
	struct rp_bell *cbell; /* the consumer waits on it */
};
void rp_test_ring_make(struct rp_test_ring *r, uint32_t capacity,
		       uint32_t flags, uint32_t nslots);
void rp_test_ring_free(struct rp_test_ring *r);
struct rp_producer *rp_test_producer(struct rp_test_ring *r);
struct rp_consumer *rp_test_consumer(struct rp_test_ring *r);

/* Deterministic payload bytes for record i (xorshift), and a check. */
void rp_test_fill(void *buf, uint32_t len, uint64_t i);
int rp_test_verify(const void *buf, uint32_t len, uint64_t i);

/* Suites. */
void rp_suite_segment(void);
void rp_suite_ring(void);
void rp_suite_stream(void);
void rp_suite_crash(void);
void rp_suite_mp(void);
void rp_suite_mp_edges(void);
void rp_suite_hostile(void);
void rp_suite_ctl(void);
void rp_suite_stage(void);
void rp_suite_builtin(void);
void rp_suite_cli(void);
void rp_suite_exec(void);
void rp_suite_landlock(void);
void rp_suite_each(void);

#endif /* RP_TEST_HARNESS_H */
