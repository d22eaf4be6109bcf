/*
 * test_mp.c - robust mutexes and multi-participant ring sides: a lock
 * holder SIGKILLed hundreds of times is repaired through EOWNERDEAD; a
 * live but stuck holder times out; consumers and producers killed at every
 * step of a claim lose nothing and duplicate nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/crashpoint.h"
#include "../shm/futex.h"
#include "../shm/robust.h"
#include "harness.h"

#define SEC 1000000000LL

/* ---------------------------------------------------------- the mutex */

struct guarded {
	uint8_t mutex[RP_MUTEX_BYTES];
	uint64_t a, b;      /* invariant: a == b outside the lock */
	uint32_t repairs;   /* repair steps run */
	uint32_t fail_repair;
};

static struct guarded *g;

static int guarded_repair(void *arg)
{
	struct guarded *x = arg;

	x->repairs++;
	if (x->fail_repair)
		return -EIO;
	x->b = x->a; /* finish the dead owner's half-done update */
	return 0;
}

static int die_holding(void *arg)
{
	(void)arg;
	if (rp_mutex_lock(g->mutex, SEC, guarded_repair, g) < 0)
		return 10;
	g->a++; /* half done: b not yet updated */
	kill(getpid(), SIGKILL);
	return 11;
}

RP_TEST(test_mutex_owner_death, 120)
{
	int n = rp_test_sanitized() ? 100 : 300;

	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(g != MAP_FAILED);
	CU_ASSERT_FATAL(rp_mutex_init(g->mutex) == 0);
	for (int i = 0; i < n; i++) {
		pid_t pid = rp_test_fork(die_holding, NULL);
		int st = rp_test_wait(pid, 10);
		CU_ASSERT_FATAL(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		CU_ASSERT_FATAL(g->a == g->b + 1);
		/* The survivor is told, repairs, and the invariant holds. */
		CU_ASSERT_FATAL(rp_mutex_lock(g->mutex, SEC, guarded_repair,
					      g) == 1);
		CU_ASSERT_FATAL(g->a == g->b);
		CU_ASSERT_FATAL(rp_mutex_unlock(g->mutex) == 0);
		/* And then it is an ordinary lock again. */
		CU_ASSERT_FATAL(rp_mutex_lock(g->mutex, SEC, guarded_repair,
					      g) == 0);
		CU_ASSERT_FATAL(rp_mutex_unlock(g->mutex) == 0);
	}
	CU_ASSERT_EQUAL(g->repairs, (uint32_t)n);
	CU_ASSERT_EQUAL(g->a, (uint64_t)n);
	munmap(g, sizeof(*g));
}

/* A repair that cannot restore the state leaves the mutex unrecoverable
 * for everybody: an error, never a hang and never guesswork. */
RP_TEST(test_mutex_unrecoverable, 30)
{
	pid_t pid;

	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(g != MAP_FAILED);
	CU_ASSERT_FATAL(rp_mutex_init(g->mutex) == 0);
	pid = rp_test_fork(die_holding, NULL);
	rp_test_wait(pid, 10);
	g->fail_repair = 1;
	CU_ASSERT_EQUAL(rp_mutex_lock(g->mutex, SEC, guarded_repair, g), -EIO);
	CU_ASSERT_EQUAL(rp_mutex_lock(g->mutex, SEC, guarded_repair, g),
			-ENOTRECOVERABLE);
	munmap(g, sizeof(*g));
}

static int hold_and_sleep(void *arg)
{
	(void)arg;
	if (rp_mutex_lock(g->mutex, SEC, NULL, NULL) < 0)
		return 10;
	g->a = 1;
	sleep(30); /* alive but stuck */
	return 0;
}

RP_TEST(test_mutex_stuck_holder_times_out, 30)
{
	int64_t t0;
	pid_t pid;

	g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(g != MAP_FAILED);
	CU_ASSERT_FATAL(rp_mutex_init(g->mutex) == 0);
	pid = rp_test_fork(hold_and_sleep, NULL);
	for (int i = 0; i < 1000 && __atomic_load_n(&g->a, __ATOMIC_ACQUIRE) == 0; i++)
		usleep(1000);
	t0 = rp_now_ns();
	CU_ASSERT_EQUAL(rp_mutex_lock(g->mutex, 200000000, NULL, NULL),
			-ETIMEDOUT);
	CU_ASSERT(rp_now_ns() - t0 >= 190000000);
	CU_ASSERT(rp_now_ns() - t0 < 2 * SEC);
	kill(pid, SIGKILL);
	rp_test_wait(pid, 5);
	CU_ASSERT_EQUAL(rp_mutex_lock(g->mutex, SEC, NULL, NULL), 1);
	munmap(g, sizeof(*g));
}

/* ------------------------------------------------------ MP consumers */

#define MP_NREC 20000u

static struct rp_test_ring ring;
static _Atomic uint8_t *delivered; /* per record: times released */
static enum rp_crash_point armed;
static unsigned long armed_n;

static int mp_consumer(void *arg)
{
	struct rp_consumer *c = rp_test_consumer(&ring);
	uint64_t held[128];
	unsigned nheld = 0;

	(void)arg;
	rp_crashpoint_arm(armed, armed_n);
	for (;;) {
		struct rp_view v;
		int err = rp_peek_wait(c, &v, 10 * SEC);
		if (err == 0) {
			if (v.origin >= MP_NREC || v.len != 8 ||
			    memcmp(v.data, &v.origin, 8) != 0)
				return 12;
			held[nheld++] = v.origin;
			if (nheld < 128)
				continue;
		} else if (err != -EBUSY && err != -ENODATA) {
			fprintf(stderr, "mp consumer %d: peek: %s\n",
				(int)getpid(), strerror(-err));
			return 10;
		}
		if (nheld) {
			int rerr = rp_release(c);
			if (rerr) {
				fprintf(stderr, "mp consumer %d: release: %s\n",
					(int)getpid(), strerror(-rerr));
				return 11;
			}
			/* Counted only once the release took effect. */
			for (unsigned i = 0; i < nheld; i++)
				delivered[held[i]]++;
			nheld = 0;
		}
		if (err == -ENODATA)
			break;
	}
	rp_consumer_close(c);
	return 0;
}

static const enum rp_crash_point consumer_points[] = {
	RP_CP_MP_LOCKED, RP_CP_MP_CURSOR_MOVED, RP_CP_MP_CLAIM_HELD,
	RP_CP_PEEKED, RP_CP_BEFORE_RELEASE,
};

static pid_t spawn_mp_consumer(int crashy, unsigned *seed)
{
	if (crashy) {
		armed = consumer_points[rand_r(seed) % 5];
		armed_n = 1 + (unsigned long)(rand_r(seed) % 4);
	} else {
		armed = RP_CP_NONE;
		armed_n = 0;
	}
	return rp_test_fork(mp_consumer, NULL);
}

/* On a failure, show the claim state: which slot holds what. */
static void dump_consumer_side(void)
{
	struct rp_ring_cside *cs = mmap(NULL, RP_C_SEG_SIZE, PROT_READ,
					MAP_SHARED, ring.fds.c_fd, 0);
	struct rp_ring_pside *ps = mmap(NULL, RP_PAGE, PROT_READ, MAP_SHARED,
					ring.fds.p_fd, RP_P_SIDE_OFF);

	if (cs == MAP_FAILED || ps == MAP_FAILED)
		return;
	fprintf(stderr, "p_tail %lu c_head %lu cursor %lu attn %u repairs %u\n",
		(unsigned long)ps->p_tail, (unsigned long)cs->c_head,
		(unsigned long)cs->c_mp.m_cursor, (unsigned)cs->c_mp.m_attn,
		(unsigned)cs->c_mp.m_repairs);
	for (unsigned i = 0; i < 8; i++) {
		struct rp_mp_slot *sl = &cs->c_mp.m_slots[i];
		fprintf(stderr, "  slot %u pid %u state %u dead %u [%lu, %lu)\n",
			i, (unsigned)sl->m_pid, (unsigned)sl->m_state,
			(unsigned)sl->s_dead, (unsigned long)sl->m_start,
			(unsigned long)sl->m_end);
	}
	munmap(cs, RP_C_SEG_SIZE);
	munmap(ps, RP_PAGE);
}

/* What a supervisor does when a participant dies: mark it while the
 * zombie still holds its pid (so the pid cannot have been reused), wake
 * the group so a survivor voids the claim, and only then reap it.
 * Returns 1 and the wait status if pid has died (waiting up to secs), 0
 * if it is still running. */
static int mark_and_reap(pid_t pid, int secs, int *st)
{
	siginfo_t si;

	for (int i = 0; i <= secs * 1000; i++) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si,
			   WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == pid)
			break;
		if (i == secs * 1000)
			return 0;
		usleep(1000);
	}
	CU_ASSERT(rp_ring_mark_dead(&ring.fds, pid) >= 0);
	rp_bell_ring(ring.cbell);
	rp_bell_ring(ring.pbell);
	return waitpid(pid, st, 0) == pid;
}

RP_TEST(test_mp_consumers_killed_exactly_once, 180)
{
	struct rp_producer *p;
	pid_t steady, crashy, crashy2;
	unsigned seed = 7, deaths = 0;
	int64_t t_stuck = rp_now_ns();
	int st;

	delivered = mmap(NULL, MP_NREC, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(delivered != MAP_FAILED);
	rp_test_ring_make(&ring, 1 << 15, RP_RING_F_MP_CONSUMERS, 8);
	p = rp_test_producer(&ring);
	steady = spawn_mp_consumer(0, &seed);
	crashy = spawn_mp_consumer(1, &seed);
	crashy2 = spawn_mp_consumer(1, &seed);
	for (uint64_t i = 0; i < MP_NREC;) {
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA};
		/* Short sends: this process is also the supervisor, which
		 * must notice deaths while the ring is full. */
		int err = rp_send(p, &i, 8, &m, 20000000);
		if (err == 0) {
			i++;
			t_stuck = rp_now_ns();
		} else if (err != -ETIMEDOUT ||
			   rp_now_ns() - t_stuck > 20 * SEC) {
			dump_consumer_side();
			CU_FAIL_FATAL("producer blocked: consumers stuck");
		}
		/* Every 500 records, give the crashy ones time to reach
		 * their crash points even on a loaded machine. */
		for (int64_t until = i % 500 == 0 && deaths < 20
					     ? rp_now_ns() + SEC / 4
					     : 0;;) {
			unsigned before = deaths;
			if (mark_and_reap(crashy, 0, &st)) {
				CU_ASSERT_FATAL(WIFSIGNALED(st) &&
						WTERMSIG(st) == SIGKILL);
				deaths++;
				crashy = spawn_mp_consumer(1, &seed);
			}
			if (mark_and_reap(crashy2, 0, &st)) {
				CU_ASSERT_FATAL(WIFSIGNALED(st) &&
						WTERMSIG(st) == SIGKILL);
				deaths++;
				crashy2 = spawn_mp_consumer(1, &seed);
			}
			if (deaths > before || rp_now_ns() >= until)
				break;
			usleep(1000);
		}
	}
	rp_producer_end(p);
	/* The crashy ones may still die at a crash point on the way out
	 * (their replacements do not crash).  Like a supervisor, watch all
	 * of them at once: an unnoticed death would hold back the end. */
	{
		pid_t who[3] = {crashy, crashy2, steady};
		int left = 3;
		int64_t until = rp_now_ns() + 60 * SEC;

		while (left > 0) {
			CU_ASSERT_FATAL(rp_now_ns() < until);
			for (int k = 0; k < 3; k++) {
				if (who[k] == 0 || !mark_and_reap(who[k], 0, &st))
					continue;
				if (WIFEXITED(st)) {
					CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
					who[k] = 0;
					left--;
					continue;
				}
				CU_ASSERT_FATAL(WIFSIGNALED(st) &&
						WTERMSIG(st) == SIGKILL);
				CU_ASSERT_FATAL(k < 2); /* steady never crashes */
				deaths++;
				who[k] = spawn_mp_consumer(0, &seed);
			}
			usleep(1000);
		}
	}
	CU_ASSERT(deaths >= 10);
	for (uint32_t i = 0; i < MP_NREC; i++) {
		if (delivered[i] != 1) {
			CU_FAIL("a record was lost or delivered twice");
			break;
		}
	}
	rp_producer_close(p);
	rp_test_ring_free(&ring);
	munmap((void *)delivered, MP_NREC);
}

/* A consumer SIGKILLed inside the claim's critical section, hundreds of
 * times: every time the next locker is told EOWNERDEAD, repairs, and gets
 * exactly the records the dead one had claimed, in order. */
static int die_in_claim(void *arg)
{
	struct rp_consumer *c = rp_test_consumer(&ring);
	struct rp_view v;

	rp_crashpoint_arm(*(enum rp_crash_point *)arg, 1);
	rp_peek(c, &v);
	return 10; /* not reached: the crash point fires */
}

RP_TEST(test_mp_claim_owner_death, 120)
{
	enum rp_crash_point pts[] = {RP_CP_MP_LOCKED, RP_CP_MP_CURSOR_MOVED};
	int rounds = rp_test_sanitized() ? 100 : 300;
	struct rp_producer *p;
	struct rp_consumer *c;
	uint64_t sent = 0, expect = 0;

	rp_test_ring_make(&ring, 1 << 16, RP_RING_F_MP_CONSUMERS, 4);
	p = rp_test_producer(&ring);
	c = rp_test_consumer(&ring);
	for (int r = 0; r < rounds; r++) {
		struct rp_view v;
		pid_t pid;
		int st, n = 0;

		for (int k = 0; k < 70; k++, sent++) {
			struct rp_meta m = {.origin = sent,
					    .type = RP_REC_T_DATA};
			CU_ASSERT_FATAL(rp_send(p, &sent, 8, &m, SEC) == 0);
		}
		CU_ASSERT_FATAL(rp_flush(p) == 0);
		pid = rp_test_fork(die_in_claim, &pts[r % 2]);
		CU_ASSERT_FATAL(mark_and_reap(pid, 10, &st));
		CU_ASSERT_FATAL(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		/* The survivor's claim starts exactly where the dead one's
		 * did, whether or not its cursor had moved. */
		while (rp_peek(c, &v) == 0) {
			CU_ASSERT_FATAL(v.origin == expect);
			expect++;
			n++;
		}
		CU_ASSERT_FATAL(n > 0);
		CU_ASSERT_FATAL(rp_release(c) == 0);
	}
	{
		struct rp_ring_cside *cs = mmap(NULL, RP_C_SEG_SIZE, PROT_READ,
						MAP_SHARED, ring.fds.c_fd, 0);
		CU_ASSERT_FATAL(cs != MAP_FAILED);
		/* One repair per death inside the lock. */
		CU_ASSERT_EQUAL(cs->c_mp.m_repairs, (uint32_t)rounds);
		munmap(cs, RP_C_SEG_SIZE);
	}
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&ring);
}

/* ------------------------------------------------------ MP producers */

#define MP_PRODUCERS 3
#define PER_PRODUCER 5000u

static _Atomic uint64_t *committed; /* per producer id */
static int producer_id;

static const enum rp_crash_point producer_points[] = {
	RP_CP_RESERVED, RP_CP_MP_LOCKED, RP_CP_MP_CURSOR_MOVED,
	RP_CP_COMMIT_HALF,
};

static int mp_producer(void *arg)
{
	struct rp_producer *p = rp_test_producer(&ring);

	(void)arg;
	rp_crashpoint_arm(armed, armed_n);
	for (uint64_t i = committed[producer_id]; i < PER_PRODUCER; i++) {
		uint64_t tag = (uint64_t)producer_id << 32 | i;
		struct rp_meta m = {.origin = tag, .type = RP_REC_T_DATA};
		uint32_t len = (uint32_t)(8 + i % 5 * 8);
		unsigned char *dst;
		int e = rp_reserve_wait(p, len, 10 * SEC, (void **)&dst);
		if (e) {
			fprintf(stderr, "producer %d: reserve: %s\n",
				producer_id, strerror(-e));
			return 10;
		}
		memset(dst, (int)(i & 0xff), len);
		memcpy(dst, &tag, 8);
		e = rp_commit(p, len, &m);
		if (e) {
			fprintf(stderr, "producer %d: commit: %s\n",
				producer_id, strerror(-e));
			return 11;
		}
		committed[producer_id] = i + 1;
	}
	rp_producer_close(p);
	return 0;
}

static pid_t spawn_mp_producer(int id, int crashy, unsigned *seed)
{
	producer_id = id;
	if (crashy) {
		armed = producer_points[rand_r(seed) % 4];
		armed_n = 1 + (unsigned long)(rand_r(seed) % 300);
	} else {
		armed = RP_CP_NONE;
		armed_n = 0;
	}
	return rp_test_fork(mp_producer, NULL);
}

RP_TEST(test_mp_producers_killed_nothing_partial, 180)
{
	pid_t pids[MP_PRODUCERS];
	uint64_t next[MP_PRODUCERS] = {0};
	unsigned seed = 11, deaths = 0;
	int running = MP_PRODUCERS;
	struct rp_consumer *c;

	committed = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(committed != MAP_FAILED);
	rp_test_ring_make(&ring, 1 << 14, RP_RING_F_MP_PRODUCERS, 8);
	c = rp_test_consumer(&ring);
	for (int id = 0; id < MP_PRODUCERS; id++)
		pids[id] = spawn_mp_producer(id, id == 0, &seed);
	for (int64_t t0 = rp_now_ns(); running > 0;) {
		struct rp_view v;
		int err = rp_peek(c, &v);

		CU_ASSERT_FATAL(rp_now_ns() - t0 < 120 * SEC);
		if (err == 0) {
			uint64_t tag;
			int id = (int)(v.origin >> 32);
			uint64_t i = v.origin & 0xffffffffu;
			CU_ASSERT_FATAL(id >= 0 && id < MP_PRODUCERS);
			memcpy(&tag, v.data, 8);
			CU_ASSERT_FATAL(tag == v.origin);
			CU_ASSERT_FATAL(v.len == 8 + i % 5 * 8);
			/* Each producer's records: in order, no gap, no
			 * repeat, none partial. */
			CU_ASSERT_FATAL(i == next[id]);
			next[id]++;
			rp_release(c);
			continue;
		}
		CU_ASSERT_FATAL(err == -EAGAIN);
		for (int id = 0; id < MP_PRODUCERS; id++) {
			int st;
			if (pids[id] == 0 || !mark_and_reap(pids[id], 0, &st))
				continue;
			if (WIFEXITED(st)) {
				CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
				pids[id] = 0;
				running--;
				continue;
			}
			CU_ASSERT_FATAL(WIFSIGNALED(st) &&
					WTERMSIG(st) == SIGKILL);
			deaths++;
			/* The replacement resumes after the last commit. */
			pids[id] = spawn_mp_producer(id, deaths < 40, &seed);
		}
		rp_peek_wait(c, &v, 2000000); /* only to sleep a little */
		rp_rewind(c);
	}
	/* Drain the rest. */
	for (;;) {
		struct rp_view v;
		int id;
		if (rp_peek(c, &v) != 0)
			break;
		id = (int)(v.origin >> 32);
		CU_ASSERT_FATAL(id >= 0 && id < MP_PRODUCERS);
		CU_ASSERT_FATAL((v.origin & 0xffffffffu) == next[id]);
		next[id]++;
		rp_release(c);
	}
	for (int id = 0; id < MP_PRODUCERS; id++) {
		CU_ASSERT_EQUAL(committed[id], PER_PRODUCER);
		CU_ASSERT_EQUAL(next[id], PER_PRODUCER);
	}
	CU_ASSERT(deaths >= 10);
	rp_consumer_close(c);
	rp_test_ring_free(&ring);
	munmap((void *)committed, 4096);
}

void rp_suite_mp(void)
{
	RP_SUITE("mp",
		 {"robust mutex: owner killed hundreds of times",
		  test_mutex_owner_death},
		 {"robust mutex: failed repair is unrecoverable",
		  test_mutex_unrecoverable},
		 {"robust mutex: stuck holder times out",
		  test_mutex_stuck_holder_times_out},
		 {"MP claim holder killed hundreds of times",
		  test_mp_claim_owner_death},
		 {"MP consumers killed at every step: exactly once",
		  test_mp_consumers_killed_exactly_once},
		 {"MP producers killed at every step: nothing partial",
		  test_mp_producers_killed_nothing_partial});
}
