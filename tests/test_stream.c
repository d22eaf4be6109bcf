/*
 * test_stream.c - two processes through a ring: millions of records with
 * sequence and checksum checks, a tiny ring that forces a park and a
 * wake-up on nearly every record, one wait over several sources, and an
 * eventfd bell in an epoll loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../ipc/ctl.h"
#include "../shm/futex.h"
#include "harness.h"

#define SEC 1000000000LL

static struct rp_test_ring ring;
static uint64_t stream_count;
static uint32_t stream_maxlen;
/* Every this many records, each side pauses 1 ms (0: never), so that
 * the other one runs out of spin and parks. */
static uint64_t stream_pause;

static void pause_1ms(void)
{
	struct timespec ts = {0, 1000000L};
	nanosleep(&ts, NULL);
}

/* Producer child: records 0..stream_count-1, lengths varying, payload a
 * function of the sequence number. */
static int stream_producer(void *arg)
{
	struct rp_producer *p = rp_test_producer(&ring);
	uint32_t span = stream_maxlen + 1;

	(void)arg;
	for (uint64_t i = 0; i < stream_count; i++) {
		uint32_t len = (uint32_t)((i * 2654435761u) % span);
		struct rp_meta m = {.origin = i, .type = RP_REC_T_DATA,
				    .flags = RP_REC_F_LAST};
		void *dst;
		int err = rp_reserve_wait(p, len, 10 * SEC, &dst);
		if (err)
			return 10;
		rp_test_fill(dst, len, i);
		if (rp_commit(p, len, &m))
			return 11;
		if (stream_pause && i % stream_pause == stream_pause / 2) {
			rp_flush(p);
			pause_1ms();
		}
	}
	rp_producer_end(p);
	rp_producer_close(p);
	return 0;
}

/* Consume everything, checking order, length and every payload byte.
 * Returns the number of records, or a negative error. */
static int64_t stream_consume(struct rp_consumer *c, uint32_t span)
{
	uint64_t n = 0;
	unsigned batch = 0;

	for (;;) {
		struct rp_view v;
		int err = rp_peek(c, &v);
		if (err == -EAGAIN) {
			rp_release(c);
			batch = 0;
			/* A bound turns a lost wake-up into a failure. */
			err = rp_peek_wait(c, &v, 5 * SEC);
		}
		if (err == -ENODATA)
			break;
		if (err)
			return err;
		if (v.origin != n ||
		    v.len != (uint32_t)((n * 2654435761u) % span) ||
		    !rp_test_verify(v.data, v.len, n))
			return -EILSEQ;
		n++;
		if (++batch == 64) {
			rp_release(c);
			batch = 0;
		}
		if (stream_pause && n % stream_pause == 0)
			pause_1ms();
	}
	rp_release(c);
	return (int64_t)n;
}

static void run_stream(uint32_t capacity, uint64_t count, uint32_t maxlen,
		       struct rp_ring_stats *ps, struct rp_ring_stats *cs)
{
	struct rp_consumer *c;
	int64_t got;
	pid_t pid;

	stream_count = count;
	stream_maxlen = maxlen;
	rp_test_ring_make(&ring, capacity, 0, 0);
	c = rp_test_consumer(&ring);
	pid = rp_test_fork(stream_producer, NULL);
	CU_ASSERT_FATAL(pid > 0);
	got = stream_consume(c, maxlen + 1);
	CU_ASSERT_EQUAL(got, (int64_t)count);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 60)), 0);
	CU_ASSERT_FATAL(rp_consumer_stats(c, ps, cs) == 0);
	CU_ASSERT_EQUAL(ps->records, count);
	CU_ASSERT_EQUAL(cs->records, count);
	rp_consumer_close(c);
	rp_test_ring_free(&ring);
}

RP_TEST(test_millions_of_records, 120)
{
	struct rp_ring_stats ps, cs;
	uint64_t n = rp_test_sanitized() ? 300000 : 3000000;

	/* (How many publications depends on how often the consumer waits:
	 * batching itself is asserted deterministically in the ring
	 * suite.) */
	run_stream(1 << 20, n, 200, &ps, &cs);
}

/* Records of up to 300 000 bytes through a 1 MiB ring, each checked
 * (about 750 MB: every size wraps the ring many times). */
RP_TEST(test_large_records, 120)
{
	struct rp_ring_stats ps, cs;

	run_stream(1 << 20, rp_test_sanitized() ? 2000 : 5000, 300000, &ps,
		   &cs);
}

/* A ring that holds about three records, each side pausing now and then
 * so that the other runs out of spin: both park and are woken.  A lost
 * wake-up shows as a 5 s timeout in the consumer, not a hang. */
RP_TEST(test_tiny_ring_parks, 120)
{
	struct rp_ring_stats ps, cs;

	stream_pause = 1000;
	run_stream(4096, 20000, 1500, &ps, &cs);
	stream_pause = 0;
	CU_ASSERT(cs.waits > 0);
	CU_ASSERT(ps.waits > 0);
	CU_ASSERT(ps.wakes + cs.wakes > 0);
}

/* ---------------------------------------------------- one wait, many */

static struct rp_ring_fds ctl_fds;

struct multi_src {
	struct rp_consumer *in;
	struct rp_ctl_rx *ctl;
};

static int multi_ready(void *arg)
{
	struct multi_src *m = arg;
	int a = rp_consumer_ready(m->in), b = rp_ctl_ready(m->ctl);

	if (a < 0)
		return a;
	if (b < 0)
		return b;
	return (a > 0) | (b > 0) << 1;
}

/* Has the receiver taken all that was sent on fds (5 s at most)? */
static int taken(const struct rp_ring_fds *fds)
{
	for (int i = 0; i < 500; i++) {
		struct rp_ring_stats ps, cs;
		uint64_t used = 1;
		if (rp_ring_observe(fds, &ps, &cs, &used) == 0 && used == 0)
			return 1;
		usleep(10000);
	}
	return 0;
}

/* The sender: data, then control, then data, each once the receiver
 * has taken the one before, and after a pause long enough that it is
 * parked. */
static int multi_sender(void *arg)
{
	struct rp_producer *p = rp_test_producer(&ring);
	struct rp_ctl_tx *tx;
	struct rp_meta m = {.type = RP_REC_T_DATA};

	(void)arg;
	if (rp_ctl_tx_open(&ctl_fds, ring.pbell, ring.cbell, &tx))
		return 10;
	usleep(100000);
	if (rp_send(p, "a", 1, &m, SEC) || rp_flush(p))
		return 11;
	if (!taken(&ring.fds))
		return 15;
	usleep(100000);
	if (rp_ctl_send(tx, RP_CTL_PAUSE, 0, 0, 0, 0, NULL, SEC))
		return 12;
	if (!taken(&ctl_fds))
		return 16;
	usleep(100000);
	if (rp_send(p, "b", 1, &m, SEC) || rp_flush(p))
		return 13;
	if (!taken(&ring.fds))
		return 17;
	usleep(100000);
	if (rp_ctl_cancel(tx, RP_REASON_USER))
		return 14;
	rp_ctl_tx_close(tx);
	rp_producer_close(p);
	return 0;
}

RP_TEST(test_one_wait_many_sources, 30)
{
	struct multi_src ms;
	const char *expect[] = {"data a", "ctl pause", "data b", "ctl cancel"};
	uint64_t parks = 0;
	pid_t pid;

	rp_test_ring_make(&ring, 4096, 0, 0);
	CU_ASSERT_FATAL(rp_ctl_create(&ctl_fds) == 0);
	ms.in = rp_test_consumer(&ring);
	CU_ASSERT_FATAL(rp_ctl_rx_open(&ctl_fds, ring.cbell, ring.pbell,
				       &ms.ctl) == 0);
	pid = rp_test_fork(multi_sender, NULL);
	CU_ASSERT_FATAL(pid > 0);
	for (int step = 0; step < 4; step++) {
		char what[32] = "";
		int r = rp_bell_wait(ring.cbell, multi_ready, &ms, 5 * SEC,
				     RP_BELL_SPIN, &parks);
		CU_ASSERT_FATAL(r > 0);
		if (r & 1) {
			struct rp_view v;
			CU_ASSERT_FATAL(rp_peek(ms.in, &v) == 0);
			snprintf(what, sizeof(what), "data %.*s", (int)v.len,
				 (const char *)v.data);
			rp_release(ms.in);
		} else {
			struct rp_ctl_msg msg;
			CU_ASSERT_FATAL(rp_ctl_recv(ms.ctl, &msg) == 0);
			snprintf(what, sizeof(what), "ctl %s",
				 rp_ctl_kind_name(msg.kind));
			if (msg.kind == RP_CTL_CANCEL)
				CU_ASSERT_EQUAL(msg.reason, RP_REASON_USER);
		}
		CU_ASSERT_STRING_EQUAL(what, expect[step]);
	}
	CU_ASSERT(parks >= 3); /* it really slept between events */
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 10)), 0);
	rp_ctl_rx_close(ms.ctl);
	rp_consumer_close(ms.in);
	rp_ring_fds_close(&ctl_fds);
	rp_test_ring_free(&ring);
}

/* ------------------------------------------------------ eventfd bells */

static struct rp_bell *ev_bell;

static int ev_sender(void *arg)
{
	struct rp_bell *peer = NULL, *own = NULL;
	struct rp_producer *p = NULL;
	struct rp_ring_fds side;
	struct rp_meta m = {.type = RP_REC_T_DATA};

	(void)arg;
	if (rp_bell_open(rp_bell_memfd(ev_bell), rp_bell_eventfd(ev_bell),
			 &peer) ||
	    rp_bell_create(0, &own) ||
	    rp_ring_fds_for_producer(&ring.fds, &side) ||
	    rp_producer_open(&side, own, peer, &p))
		return 10;
	for (uint64_t i = 0; i < 50; i++) {
		m.origin = i;
		usleep(2000);
		if (rp_send(p, &i, sizeof(i), &m, SEC) || rp_flush(p))
			return 11;
	}
	rp_producer_end(p);
	rp_producer_close(p);
	rp_ring_fds_close(&side);
	rp_bell_close(own);
	rp_bell_close(peer);
	return 0;
}

/* A receiver that waits in epoll: the bell is an eventfd, and the
 * producer's publication makes it readable. */
RP_TEST(test_eventfd_bell_in_epoll, 30)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct rp_ring_fds side;
	struct rp_consumer *c;
	uint64_t n = 0;
	unsigned sleeps = 0;
	int ep;
	pid_t pid;

	rp_test_ring_make(&ring, 4096, 0, 0);
	CU_ASSERT_FATAL(rp_bell_create(RP_BELL_EVENTFD, &ev_bell) == 0);
	CU_ASSERT_FATAL(rp_bell_eventfd(ev_bell) >= 0);
	CU_ASSERT_FATAL(rp_ring_fds_for_consumer(&ring.fds, &side) == 0);
	CU_ASSERT_FATAL(rp_consumer_open(&side, ev_bell, ring.pbell, &c) == 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	CU_ASSERT_FATAL(ep >= 0);
	CU_ASSERT_FATAL(epoll_ctl(ep, EPOLL_CTL_ADD, rp_bell_eventfd(ev_bell),
				  &ev) == 0);
	pid = rp_test_fork(ev_sender, NULL);
	CU_ASSERT_FATAL(pid > 0);
	for (;;) {
		struct rp_view v;
		int err = rp_peek(c, &v);
		if (err == 0) {
			uint64_t x;
			memcpy(&x, v.data, sizeof(x));
			CU_ASSERT_FATAL(x == n);
			n++;
			rp_release(c);
			continue;
		}
		if (err == -ENODATA)
			break;
		CU_ASSERT_FATAL(err == -EAGAIN);
		/* The epoll-loop form of the bell protocol. */
		rp_bell_announce(ev_bell);
		rp_bell_park_begin(ev_bell);
		if (rp_consumer_ready(c) == 0) {
			struct epoll_event out;
			int r = epoll_wait(ep, &out, 1, 5000);
			CU_ASSERT_FATAL(r == 1); /* never a lost wake-up */
			sleeps++;
		}
		rp_bell_drain(ev_bell);
		rp_bell_park_end(ev_bell);
		rp_bell_retire(ev_bell);
	}
	CU_ASSERT_EQUAL(n, 50);
	CU_ASSERT(sleeps >= 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 10)), 0);
	close(ep);
	rp_consumer_close(c);
	rp_ring_fds_close(&side);
	rp_bell_close(ev_bell);
	rp_test_ring_free(&ring);
}

void rp_suite_stream(void)
{
	RP_SUITE("stream",
		 {"millions of records between processes",
		  test_millions_of_records},
		 {"large records between processes", test_large_records},
		 {"tiny ring: both sides park and are woken",
		  test_tiny_ring_parks},
		 {"one wait over data and control", test_one_wait_many_sources},
		 {"eventfd bell in an epoll loop", test_eventfd_bell_in_epoll});
}
