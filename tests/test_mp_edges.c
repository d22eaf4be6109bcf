/*
 * test_mp_edges.c - the corners of the multi-participant protocol: a
 * second death during a repair, a stale attention flag, several producers
 * ending, claims of padding only, short commits, a lock that cannot be
 * had, a participant declared dead while alive, records published in
 * batches (and a death in the middle of one), and an ordered claim made
 * again where its claimer died.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/crashpoint.h"
#include "../shm/futex.h"
#include "../shm/robust.h"
#include "harness.h"

#define SEC 1000000000LL

static struct rp_test_ring ring;

static void send_n(struct rp_producer *p, uint64_t from, uint64_t n)
{
	for (uint64_t i = from; i < from + n; i++) {
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
		CU_ASSERT_FATAL(rp_send(p, &i, 8, &m, SEC) == 0);
	}
	CU_ASSERT_FATAL(rp_flush(p) == 0);
}

static int die_at(void *arg)
{
	struct rp_consumer *c;
	struct rp_view v;

	/* Armed before attaching: attaching takes the lock too. */
	rp_crashpoint_arm(*(enum rp_crash_point *)arg, 1);
	c = rp_test_consumer(&ring);
	rp_peek(c, &v);
	return 10;
}

/* Run a consumer to its crash point, then do what the supervisor does:
 * mark it dead while its zombie holds the pid, then reap it. */
static void run_to_death(enum rp_crash_point *pt)
{
	pid_t pid = rp_test_fork(die_at, pt);
	siginfo_t si;
	int st = 0;

	memset(&si, 0, sizeof(si));
	CU_ASSERT_FATAL(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
	CU_ASSERT(rp_ring_mark_dead(&ring.fds, pid) >= 0);
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	CU_ASSERT_FATAL(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* A consumer dies inside its claim; the next locker dies while
 * repairing.  The third must still deliver every record exactly once. */
RP_TEST(test_death_during_repair, 30)
{
	enum rp_crash_point in_claim = RP_CP_MP_LOCKED;
	enum rp_crash_point in_repair = RP_CP_MP_REPAIR;
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_view v;
	uint64_t expect = 0;

	rp_test_ring_make(&ring, 1 << 16, RP_RING_F_MP_CONSUMERS, 4);
	p = rp_test_producer(&ring);
	send_n(p, 0, 100);
	run_to_death(&in_claim);
	run_to_death(&in_repair);
	c = rp_test_consumer(&ring);
	for (int rounds = 0; rounds < 10 && expect < 100; rounds++) {
		int err;
		while ((err = rp_peek(c, &v)) == 0) {
			CU_ASSERT_FATAL(v.origin == expect);
			expect++;
		}
		CU_ASSERT_FATAL(err == -EBUSY || err == -EAGAIN);
		CU_ASSERT_FATAL(rp_release(c) == 0);
	}
	CU_ASSERT_EQUAL(expect, 100);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

/* A stale attention flag must not turn an idle wait into a busy loop. */
RP_TEST(test_stale_attention_does_not_spin, 20)
{
	struct rp_ring_cside *cs;
	struct rp_consumer *c;
	struct rusage a, b;
	struct rp_view v;
	double cpu;

	rp_test_ring_make(&ring, 1 << 16, RP_RING_F_MP_CONSUMERS, 4);
	c = rp_test_consumer(&ring);
	cs = mmap(NULL, RP_C_SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		  ring.fds.c_fd, 0);
	CU_ASSERT_FATAL(cs != MAP_FAILED);
	rp_store32_relaxed(&cs->c_mp.m_attn, 1);
	getrusage(RUSAGE_SELF, &a);
	CU_ASSERT_EQUAL(rp_peek_wait(c, &v, 500000000), -ETIMEDOUT);
	getrusage(RUSAGE_SELF, &b);
	cpu = (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec) +
	      (double)(b.ru_stime.tv_sec - a.ru_stime.tv_sec) +
	      (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec) / 1e6 +
	      (double)(b.ru_stime.tv_usec - a.ru_stime.tv_usec) / 1e6;
	CU_ASSERT(cpu < 0.1); /* of 0.5 s waited */
	CU_ASSERT_EQUAL(rp_load32_relaxed(&cs->c_mp.m_attn), 0);
	munmap(cs, RP_C_SEG_SIZE);
	rp_consumer_close(c);
	rp_test_ring_free(&ring);
}

/* With two producers, one ending does not end the stream. */
RP_TEST(test_mp_end_needs_every_producer, 20)
{
	struct rp_producer *a, *b;
	struct rp_consumer *c;
	struct rp_meta m = {.origin = 1, .type = RP_REC_T_DATA};
	struct rp_view v;
	void *dst;

	rp_test_ring_make(&ring, 1 << 14, RP_RING_F_MP_PRODUCERS, 2);
	a = rp_test_producer(&ring);
	b = rp_test_producer(&ring);
	c = rp_test_consumer(&ring);
	CU_ASSERT_FATAL(rp_reserve(a, 8, &dst) == 0);
	memset(dst, 'a', 8);
	CU_ASSERT_FATAL(rp_send(b, "bbbbbbbb", 8, &m, SEC) == 0);
	CU_ASSERT_FATAL(rp_producer_end(b) == 0);
	/* b's record is behind a's open reservation: not yet visible, and
	 * above all not the end. */
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	m.origin = 0;
	CU_ASSERT_FATAL(rp_commit(a, 8, &m) == 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.origin == 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.origin == 1);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	CU_ASSERT_FATAL(rp_producer_end(a) == 0);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -ENODATA);
	rp_consumer_close(c);
	rp_producer_close(a);
	rp_producer_close(b);
	rp_test_ring_free(&ring);
}

/* An abandoned MP reservation becomes padding; a consumer whose claim
 * is only padding gets the next real record, not -EBUSY. */
RP_TEST(test_padding_only_claim, 20)
{
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_meta m = {.origin = 7, .type = RP_REC_T_DATA};
	struct rp_view v;
	void *dst;

	rp_test_ring_make(&ring, 1 << 14,
			  RP_RING_F_MP_PRODUCERS | RP_RING_F_MP_CONSUMERS, 2);
	p = rp_test_producer(&ring);
	c = rp_test_consumer(&ring);
	CU_ASSERT_FATAL(rp_reserve(p, 64, &dst) == 0);
	CU_ASSERT_FATAL(rp_abandon(p) == 0);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	CU_ASSERT_EQUAL(rp_consumer_ready(c), 0);
	CU_ASSERT_FATAL(rp_send(p, "x", 1, &m, SEC) == 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.origin == 7);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

/* A commit that would leave less than a padding record is refused
 * before anything is written, and the reservation stays usable. */
RP_TEST(test_mp_short_commit, 20)
{
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_meta m = {.origin = 3, .type = RP_REC_T_DATA};
	struct rp_view v;
	void *dst;

	rp_test_ring_make(&ring, 1 << 14, RP_RING_F_MP_PRODUCERS, 2);
	p = rp_test_producer(&ring);
	c = rp_test_consumer(&ring);
	CU_ASSERT_FATAL(rp_reserve(p, 100, &dst) == 0);
	memset(dst, 'z', 100);
	CU_ASSERT_EQUAL(rp_commit(p, 90, &m), -EINVAL);  /* 8 bytes left */
	CU_ASSERT_EQUAL(rp_commit(p, 60, &m), 0);        /* 40: padded */
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT(v.origin == 3 && v.len == 60);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

/* ------------------------------------------------------------ stuck */

static int hold_side_lock(void *arg)
{
	struct rp_ring_pside *ps = arg;

	if (rp_mutex_lock(ps->p_mp.m_mutex, SEC, NULL, NULL) < 0)
		return 10;
	rp_store32_relaxed(&ps->p_mp.m_repairs, 99); /* "I hold it" */
	pause();
	return 0;
}

/* A commit that cannot get the lock keeps its reservation: after the
 * stuck holder is gone, committing again works and nothing is lost or
 * duplicated. */
RP_TEST(test_mp_commit_lock_timeout, 30)
{
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_ring_pside *ps;
	struct rp_meta m = {.origin = 5, .type = RP_REC_T_DATA};
	struct rp_view v;
	void *map, *dst;
	pid_t pid;
	int st;

	rp_test_ring_make(&ring, 1 << 14, RP_RING_F_MP_PRODUCERS, 2);
	p = rp_test_producer(&ring);
	c = rp_test_consumer(&ring);
	map = mmap(NULL, RP_P_DATA_OFF, PROT_READ | PROT_WRITE, MAP_SHARED,
		   ring.fds.p_fd, 0);
	CU_ASSERT_FATAL(map != MAP_FAILED);
	ps = (void *)((char *)map + RP_P_SIDE_OFF);
	CU_ASSERT_FATAL(rp_reserve(p, 8, &dst) == 0);
	memcpy(dst, "12345678", 8);
	pid = rp_test_fork(hold_side_lock, ps);
	for (int i = 0; i < 2000 && rp_load32_relaxed(&ps->p_mp.m_repairs) != 99;
	     i++)
		usleep(1000);
	rp_ring_set_lock_timeout(p, NULL, 100000000);
	CU_ASSERT_EQUAL(rp_commit(p, 8, &m), -ETIMEDOUT);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	kill(pid, SIGKILL);
	st = rp_test_wait(pid, 5);
	CU_ASSERT(WIFSIGNALED(st));
	CU_ASSERT_EQUAL(rp_commit(p, 8, &m), 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT(v.origin == 5 && memcmp(v.data, "12345678", 8) == 0);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	munmap(map, RP_P_DATA_OFF);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

/* A participant declared dead while alive learns it (-EOWNERDEAD) at its
 * next step instead of writing into a slot that is no longer its own;
 * its claim went to the others. */
RP_TEST(test_declared_dead_while_alive, 20)
{
	struct rp_producer *p;
	struct rp_consumer *a, *b;
	struct rp_view v;

	rp_test_ring_make(&ring, 1 << 14, RP_RING_F_MP_CONSUMERS, 2);
	p = rp_test_producer(&ring);
	a = rp_test_consumer(&ring);
	send_n(p, 0, 10);
	CU_ASSERT_FATAL(rp_peek(a, &v) == 0 && v.origin == 0);
	CU_ASSERT_FATAL(rp_ring_mark_dead(&ring.fds, getpid()) == 1);
	b = rp_test_consumer(&ring); /* its attach reaps a's slot */
	CU_ASSERT_EQUAL(rp_release(a), -EOWNERDEAD);
	for (uint64_t i = 0; i < 10; i++) {
		CU_ASSERT_FATAL(rp_peek(b, &v) == 0);
		CU_ASSERT_EQUAL(v.origin, i);
	}
	CU_ASSERT_FATAL(rp_release(b) == 0);
	rp_consumer_close(a);
	rp_consumer_close(b);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

/* ------------------------------------------------------------ batches */

static int die_in_batch(void *arg)
{
	struct rp_producer *p;
	struct rp_meta m = {.origin = 1, .type = RP_REC_T_DATA};
	char buf[40];

	(void)arg;
	memset(buf, 'b', sizeof(buf));
	p = rp_test_producer(&ring);
	if (rp_reserve_batch(p, 3 * rp_rec_size(sizeof(buf))) != 0 ||
	    rp_batch_put(p, buf, sizeof(buf), &m) != 0)
		return 10;
	/* The second record's header half written: died there. */
	rp_crashpoint_arm(RP_CP_COMMIT_HALF, 1);
	rp_batch_put(p, buf, sizeof(buf), &m);
	return 11;
}

/* Several records in one reservation of an MP producer: published
 * together, in order, with their meta; a rest too small to pad and a
 * batch larger than the largest record are refused; one given up, or
 * whose producer dies in the middle of it, is padding as a whole:
 * nothing of it is seen, and what comes after it is. */
RP_TEST(test_mp_batch, 20)
{
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_view v;
	uint64_t one = rp_rec_size(10);
	pid_t pid;
	siginfo_t si;
	int st = 0;

	rp_test_ring_make(&ring, 1 << 14, RP_RING_F_MP_PRODUCERS, 3);
	p = rp_test_producer(&ring);
	c = rp_test_consumer(&ring);
	CU_ASSERT_EQUAL(rp_reserve_batch(p, 1 << 20), -EMSGSIZE);
	CU_ASSERT_EQUAL(rp_reserve_batch(p, 12), -EINVAL);
	/* Smaller than a header: what is left of it could not be padded. */
	CU_ASSERT_EQUAL(rp_reserve_batch(p, 8), -EINVAL);
	CU_ASSERT_FATAL(rp_reserve_batch(p, 3 * one) == 0);
	CU_ASSERT_EQUAL(rp_reserve_batch(p, one), -EBUSY);
	{
		struct rp_meta m = {.origin = 7, .type = RP_REC_T_DATA};
		CU_ASSERT_EQUAL(rp_commit(p, 0, &m), -EINVAL); /* a batch */
	}
	for (uint32_t i = 0; i < 3; i++) {
		struct rp_meta m = {.origin = 7, .sub = i,
				    .type = RP_REC_T_DATA,
				    .flags = i == 2 ? RP_REC_F_LAST : 0};
		char b[10];
		memset(b, 'a' + (int)i, sizeof(b));
		CU_ASSERT_EQUAL(rp_batch_put(p, b, sizeof(b), &m), 0);
	}
	{
		struct rp_meta m = {.origin = 7, .type = RP_REC_T_DATA};
		CU_ASSERT_EQUAL(rp_batch_put(p, "x", 1, &m), -EINVAL); /* full */
	}
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN); /* not yet published */
	CU_ASSERT_EQUAL(rp_batch_commit(p), 0);
	for (uint32_t i = 0; i < 3; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT(v.origin == 7 && v.sub == i && v.len == 10 &&
			  ((const char *)v.data)[9] == 'a' + (int)i);
		CU_ASSERT_EQUAL(v.flags, i == 2 ? RP_REC_F_LAST : 0);
	}
	CU_ASSERT_FATAL(rp_release(c) == 0);

	/* A rest of 8 bytes cannot be padded; a shorter batch can. */
	CU_ASSERT_FATAL(rp_reserve_batch(p, one + 8) == 0);
	{
		struct rp_meta m = {.origin = 8, .type = RP_REC_T_DATA};
		CU_ASSERT_EQUAL(rp_batch_put(p, "0123456789", 10, &m), 0);
	}
	CU_ASSERT_EQUAL(rp_batch_commit(p), -EINVAL);
	CU_ASSERT_EQUAL(rp_abandon(p), 0);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);

	/* A producer dies inside a batch: none of it is seen. */
	pid = rp_test_fork(die_in_batch, NULL);
	memset(&si, 0, sizeof(si));
	CU_ASSERT_FATAL(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
	CU_ASSERT(rp_ring_mark_dead(&ring.fds, pid) >= 0);
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	send_n(p, 100, 1);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT_EQUAL(v.origin, 100);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

/* ------------------------------------------------- ordered, replaying */

/* Ordered consumers of a replaying producer claim several records at a
 * time, each judged new or a replay against the last key claimed.  One
 * dies after storing its claim's last key but before moving the cursor:
 * the claim made again at the same place is judged against the key
 * before it, so its records are new (not dropped as replays of
 * themselves); a later replay is still dropped. */
RP_TEST(test_ordered_claim_made_again, 20)
{
	enum rp_crash_point pt = RP_CP_MP_LOCKED;
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_view v;

	rp_test_ring_make(&ring, 1 << 14,
			  RP_RING_F_MP_CONSUMERS | RP_RING_F_ORDERED |
				  RP_RING_F_DEDUP,
			  3);
	p = rp_test_producer(&ring);
	c = rp_test_consumer(&ring);
	send_n(p, 0, 4);
	for (uint64_t i = 0; i < 4; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_EQUAL(v.origin, i);
	}
	CU_ASSERT_FATAL(rp_release(c) == 0);
	send_n(p, 4, 4);
	run_to_death(&pt);
	for (uint64_t i = 4; i < 8; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_EQUAL(v.origin, i);
	}
	CU_ASSERT_EQUAL(rp_consumer_replays(c), 0);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	/* The producer replays 6 and 7, then goes on with 8. */
	send_n(p, 6, 3);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT_EQUAL(v.origin, 8);
	CU_ASSERT_EQUAL(rp_consumer_replays(c), 2);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

void rp_suite_mp_edges(void)
{
	RP_SUITE("mp-edges",
		 {"a second death during the repair", test_death_during_repair},
		 {"a stale attention flag does not spin",
		  test_stale_attention_does_not_spin},
		 {"the stream ends when every producer has ended",
		  test_mp_end_needs_every_producer},
		 {"a claim of padding only", test_padding_only_claim},
		 {"a commit too short to pad is refused", test_mp_short_commit},
		 {"a commit that cannot lock keeps its reservation",
		  test_mp_commit_lock_timeout},
		 {"declared dead while alive", test_declared_dead_while_alive},
		 {"records in a batch, and a death inside one",
		  test_mp_batch},
		 {"an ordered claim made again where its claimer died",
		  test_ordered_claim_made_again});
}
