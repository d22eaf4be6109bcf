/*
 * test_crash.c - processes SIGKILLed at named steps of the ring protocol
 * (crash points, not timed signals): a producer dying mid-record never
 * makes a partial record visible, and a consumer dying mid-batch loses
 * nothing and gets nothing it released delivered again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/crashpoint.h"
#include "../shm/futex.h"
#include "harness.h"

#define SEC 1000000000LL
#define NREC 3000u

static struct rp_test_ring ring;
static enum rp_crash_point armed;
static unsigned long armed_n;
static uint64_t first_seq;
static _Atomic uint64_t *shared_released;

static uint32_t len_of(uint64_t seq)
{
	return (uint32_t)(seq * 13 % 120);
}

static int crash_producer(void *arg)
{
	struct rp_producer *p = rp_test_producer(&ring);

	(void)arg;
	rp_crashpoint_arm(armed, armed_n);
	for (uint64_t i = first_seq; i < first_seq + NREC; i++) {
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
		void *dst;
		if (rp_reserve_wait(p, len_of(i), 5 * SEC, &dst))
			return 10;
		rp_test_fill(dst, len_of(i), i);
		if (rp_commit(p, len_of(i), &m))
			return 11;
		if (i % 7 == 0)
			rp_flush(p);
	}
	rp_producer_close(p);
	return 0;
}

/* Read what is there; every record complete, in order from *next. */
static int drain_check(struct rp_consumer *c, uint64_t *next, int want_eof)
{
	for (;;) {
		struct rp_view v;
		int err = rp_peek(c, &v);
		if (err == -EAGAIN && !want_eof)
			return 0;
		if (err == -EAGAIN)
			err = rp_peek_wait(c, &v, 5 * SEC);
		if (err == -ENODATA && want_eof)
			return 0;
		if (err)
			return err;
		if (v.origin != *next || v.len != len_of(*next) ||
		    !rp_test_verify(v.data, v.len, *next))
			return -EILSEQ;
		(*next)++;
		rp_release(c);
	}
}

static void producer_crash_case(enum rp_crash_point point, unsigned long n)
{
	struct rp_consumer *c;
	struct rp_producer *p;
	uint64_t next = 0;
	int st;
	pid_t pid;

	rp_test_ring_make(&ring, 1 << 16, 0, 0);
	c = rp_test_consumer(&ring);
	armed = point;
	armed_n = n;
	first_seq = 0;
	/* The consumer keeps reading while the producer runs, so the
	 * crash can land with a reader inside the ring. */
	pid = rp_test_fork(crash_producer, NULL);
	CU_ASSERT_FATAL(pid > 0);
	for (int64_t t0 = rp_now_ns();;) {
		CU_ASSERT_FATAL(drain_check(c, &next, 0) == 0);
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (rp_now_ns() - t0 > 20 * SEC) {
			kill(pid, SIGKILL);
			rp_test_wait(pid, 5);
			CU_FAIL_FATAL("producer neither finished nor crashed");
		}
		usleep(100);
	}
	CU_ASSERT_FATAL(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CU_ASSERT_FATAL(drain_check(c, &next, 0) == 0);
	/* Per-record crash points: only records before the n-th hit can
	 * have been published. */
	if (point != RP_CP_BEFORE_PUBLISH)
		CU_ASSERT(next < n);
	/* A restarted producer resumes after the last published record;
	 * the consumer sees a seamless stream and then the end. */
	p = rp_test_producer(&ring);
	for (uint64_t i = next; i < next + 50; i++) {
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
		void *dst;
		CU_ASSERT_FATAL(rp_reserve_wait(p, len_of(i), SEC, &dst) == 0);
		rp_test_fill(dst, len_of(i), i);
		CU_ASSERT_FATAL(rp_commit(p, len_of(i), &m) == 0);
	}
	rp_producer_end(p);
	{
		uint64_t before = next;
		CU_ASSERT_EQUAL(drain_check(c, &next, 1), 0);
		CU_ASSERT_EQUAL(next, before + 50);
	}
	rp_producer_close(p);
	rp_consumer_close(c);
	rp_test_ring_free(&ring);
}

RP_TEST(test_producer_killed_mid_record, 120)
{
	const enum rp_crash_point pts[] = {RP_CP_RESERVED, RP_CP_COMMIT_HALF};
	const unsigned long ns[] = {1, 2, 3, 8, 50, 333, 1000, 2999};
	/* Publications come once per batch, fewer than records. */
	const unsigned long pubs[] = {1, 2, 3, 8, 50, 300};

	for (size_t i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
		for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
			producer_crash_case(pts[i], ns[j]);
	for (size_t j = 0; j < sizeof(pubs) / sizeof(pubs[0]); j++)
		producer_crash_case(RP_CP_BEFORE_PUBLISH, pubs[j]);
}

/* ------------------------------------------------------------ consumer */

static int crash_consumer(void *arg)
{
	struct rp_consumer *c = rp_test_consumer(&ring);
	uint64_t seen = 0;

	(void)arg;
	rp_crashpoint_arm(armed, armed_n);
	for (;;) {
		struct rp_view v;
		int err = rp_peek_wait(c, &v, 5 * SEC);
		if (err == -ENODATA)
			break;
		if (err)
			return 10;
		seen = v.origin + 1;
		if (seen % 7 == 0 || seen % 11 == 0) {
			if (rp_release(c))
				return 11;
			/* Only after release returned does it count. */
			*shared_released = seen;
		}
	}
	rp_release(c);
	*shared_released = seen;
	rp_consumer_close(c);
	return 0;
}

/* A chain of consumers, each killed at a random step, until the stream
 * is done: each one starts exactly where the last release left off. */
static void consumer_crash_chain(enum rp_crash_point point, unsigned seed,
				 unsigned max_n)
{
	struct rp_producer *p;
	unsigned deaths = 0;

	rp_test_ring_make(&ring, 1 << 20, 0, 0);
	p = rp_test_producer(&ring);
	for (uint64_t i = 0; i < NREC; i++) {
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
		void *dst;
		CU_ASSERT_FATAL(rp_reserve(p, len_of(i), &dst) == 0);
		rp_test_fill(dst, len_of(i), i);
		CU_ASSERT_FATAL(rp_commit(p, len_of(i), &m) == 0);
	}
	rp_producer_end(p);
	*shared_released = 0;
	srand(seed);
	for (int round = 0; round < 200; round++) {
		uint64_t before = *shared_released;
		struct rp_consumer *c;
		struct rp_view v;
		int st;
		pid_t pid;

		armed = point;
		armed_n = 1 + (unsigned long)rand() % max_n;
		pid = rp_test_fork(crash_consumer, NULL);
		CU_ASSERT_FATAL(pid > 0);
		st = rp_test_wait(pid, 20);
		if (WIFEXITED(st)) {
			CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
			break;
		}
		CU_ASSERT_FATAL(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		deaths++;
		CU_ASSERT(*shared_released >= before);
		/* What the next consumer sees first is exactly the first
		 * record not released: no loss, no duplicate. */
		c = rp_test_consumer(&ring);
		if (*shared_released < NREC) {
			CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
			CU_ASSERT_EQUAL(v.origin, *shared_released);
		} else {
			CU_ASSERT_EQUAL(rp_peek(c, &v), -ENODATA);
		}
		rp_consumer_close(c);
	}
	CU_ASSERT_EQUAL(*shared_released, NREC);
	CU_ASSERT(deaths >= 5);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

RP_TEST(test_consumer_killed_mid_batch, 120)
{
	shared_released = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(shared_released != MAP_FAILED);
	consumer_crash_chain(RP_CP_PEEKED, 1, 400);
	consumer_crash_chain(RP_CP_BEFORE_RELEASE, 2, 60);
	munmap((void *)shared_released, 4096);
}

void rp_suite_crash(void)
{
	RP_SUITE("crash",
		 {"producer killed mid-record: nothing partial visible",
		  test_producer_killed_mid_record},
		 {"consumer killed mid-batch: no loss, no duplicate",
		  test_consumer_killed_mid_batch});
}
