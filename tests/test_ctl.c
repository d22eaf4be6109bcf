/*
 * test_ctl.c - control rings: every kind end to end, doorbell wake-ups
 * across processes, full rings (bounded waits, sticky cancel and drain
 * that need no room), dead receivers, and the name tables.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../ipc/ctl.h"
#include "../shm/futex.h"
#include "../shm/segment.h"
#include "harness.h"

#define MS (1000 * 1000LL)
#define SEC (1000 * MS)

/* Records a control ring holds: 4 KiB of 24-byte headers + 64 bytes. */
#define CTL_SLOTS (4096u / (unsigned)rp_rec_size(sizeof(struct rp_ctl_msg)))

/* A control ring with the receiver's and the sender's bells. */
struct ctl_pair {
	struct rp_ring_fds fds;
	struct rp_bell *rbell; /* the receiver waits on it */
	struct rp_bell *tbell; /* the sender waits on it (room freed) */
	struct rp_ctl_tx *tx;
	struct rp_ctl_rx *rx;
};

static struct rp_ctl_tx *pair_tx(struct ctl_pair *c)
{
	struct rp_ring_fds side;
	struct rp_ctl_tx *tx = NULL;

	CU_ASSERT_FATAL(rp_ring_fds_for_producer(&c->fds, &side) == 0);
	CU_ASSERT_FATAL(rp_ctl_tx_open(&side, c->tbell, c->rbell, &tx) == 0);
	rp_ring_fds_close(&side);
	return tx;
}

static struct rp_ctl_rx *pair_rx(struct ctl_pair *c)
{
	struct rp_ring_fds side;
	struct rp_ctl_rx *rx = NULL;

	CU_ASSERT_FATAL(rp_ring_fds_for_consumer(&c->fds, &side) == 0);
	CU_ASSERT_FATAL(rp_ctl_rx_open(&side, c->rbell, c->tbell, &rx) == 0);
	rp_ring_fds_close(&side);
	return rx;
}

/* Ring and bells; the ends are opened by whoever uses them (maybe a
 * child), and those left here are closed by pair_free. */
static void pair_make(struct ctl_pair *c, int tx, int rx)
{
	memset(c, 0, sizeof(*c));
	CU_ASSERT_FATAL(rp_ctl_create(&c->fds) == 0);
	CU_ASSERT_FATAL(rp_bell_create(0, &c->rbell) == 0);
	CU_ASSERT_FATAL(rp_bell_create(0, &c->tbell) == 0);
	if (tx)
		c->tx = pair_tx(c);
	if (rx)
		c->rx = pair_rx(c);
}

static void pair_free(struct ctl_pair *c)
{
	rp_ctl_tx_close(c->tx);
	rp_ctl_rx_close(c->rx);
	rp_ring_fds_close(&c->fds);
	rp_bell_close(c->rbell);
	rp_bell_close(c->tbell);
	memset(c, 0, sizeof(*c));
}

/* Fill the ring with PROGRESS records numbered 0.. in arg0; returns how
 * many fitted before a zero-timeout send reported it full. */
static unsigned fill(struct rp_ctl_tx *tx)
{
	unsigned n = 0;
	int err;

	while ((err = rp_ctl_send(tx, RP_CTL_PROGRESS, 0, n, 0, 0, NULL, 0)) ==
	       0)
		n++;
	CU_ASSERT_EQUAL(err, -ETIMEDOUT);
	return n;
}

/* Receive the n queued PROGRESS records, in order, then nothing. */
static void expect_filled(struct rp_ctl_rx *rx, unsigned n)
{
	struct rp_ctl_msg m;
	uint64_t last_seq = 0;

	for (unsigned i = 0; i < n; i++) {
		CU_ASSERT_FATAL(rp_ctl_recv(rx, &m) == 0);
		CU_ASSERT_EQUAL(m.kind, RP_CTL_PROGRESS);
		CU_ASSERT_EQUAL(m.arg0, i);
		CU_ASSERT(m.seq > last_seq);
		last_seq = m.seq;
	}
	CU_ASSERT_EQUAL(rp_ctl_recv(rx, &m), -EAGAIN);
}

static int ctl_ready_fn(void *rx)
{
	return rp_ctl_ready(rx);
}

/* A shared anonymous page, for a parent and a child to meet on. */
struct meet {
	rp_atomic64 sent_ns;  /* when the child sent (or returned) */
	rp_atomic32 round;    /* the parent's progress */
	rp_atomic32 flag;     /* the child's progress */
};

static struct meet *meet_map(void)
{
	void *p = mmap(NULL, RP_PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	CU_ASSERT_FATAL(p != MAP_FAILED);
	return p;
}

/* Spin-sleep until *w >= want, for at most 5 s.  0 or -ETIMEDOUT. */
static int wait_word(rp_atomic32 *w, uint32_t want)
{
	int64_t end = rp_now_ns() + 5 * SEC;

	while (rp_load32_acquire(w) < want) {
		if (rp_now_ns() > end)
			return -ETIMEDOUT;
		usleep(200);
	}
	return 0;
}

/* The bell's page, mapped by a test that wants to see who is parked. */
static struct rp_bell_shm *bell_peek(struct rp_bell *b)
{
	void *p = NULL;

	if (rp_map(rp_bell_memfd(b), 0, RP_BELL_SEG_SIZE, 0, &p) != 0)
		return NULL;
	return p;
}

/* ------------------------------------------------------------ round trip */

/* Every kind a sender may put in a record arrives with its reason, seq,
 * arguments, code and text (NUL padded, truncated to 23 bytes). */
RP_TEST(ctl_send_recv_each_kind, 20)
{
	static const uint32_t kinds[] = {
		RP_CTL_PAUSE,	 RP_CTL_RESUME, RP_CTL_PING,
		RP_CTL_READY,	 RP_CTL_PROGRESS, RP_CTL_ERROR,
		RP_CTL_DONE,	 RP_CTL_VIOLATION, RP_CTL_PONG,
	};
	const size_t n = sizeof(kinds) / sizeof(kinds[0]);
	const char *long_text = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct ctl_pair c;
	struct rp_ctl_msg m;
	char text[32];

	pair_make(&c, 1, 1);
	CU_ASSERT_EQUAL(rp_ctl_ready(c.rx), 0);
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), -EAGAIN);

	for (size_t i = 0; i < n; i++) {
		int32_t code = i == 7 ? INT32_MIN : -(int32_t)i * 7;
		const char *t = text;
		snprintf(text, sizeof(text), "%s-%zu",
			 rp_ctl_kind_name(kinds[i]), i);
		if (i == 3)
			t = long_text;
		if (i == 5)
			t = NULL;
		CU_ASSERT_EQUAL(rp_ctl_send(c.tx, kinds[i],
					    (uint32_t)(i % (RP_REASON_MAX + 1)),
					    0x1000 + i, ~(uint64_t)i << 8, code,
					    t, 0),
				0);
	}
	CU_ASSERT(rp_ctl_ready(c.rx) > 0);

	for (size_t i = 0; i < n; i++) {
		char want[24] = {0};

		CU_ASSERT_FATAL(rp_ctl_recv(c.rx, &m) == 0);
		CU_ASSERT_EQUAL(m.kind, kinds[i]);
		CU_ASSERT_EQUAL(m.reason, i % (RP_REASON_MAX + 1));
		CU_ASSERT_EQUAL(m.seq, i + 1);
		CU_ASSERT_EQUAL(m.arg0, 0x1000 + i);
		CU_ASSERT_EQUAL(m.arg1, ~(uint64_t)i << 8);
		CU_ASSERT_EQUAL(m.code, i == 7 ? INT32_MIN : -(int32_t)i * 7);
		if (i == 3)
			memcpy(want, long_text, 23);
		else if (i != 5)
			snprintf(want, sizeof(want), "%s-%zu",
				 rp_ctl_kind_name(kinds[i]), i);
		CU_ASSERT(memcmp(m.text, want, sizeof(want)) == 0);
	}
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), -EAGAIN);
	CU_ASSERT_EQUAL(rp_ctl_ready(c.rx), 0);

	/* Cancel and drain sent through rp_ctl_send take the sticky path. */
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_CANCEL, RP_REASON_NONE, 0, 0,
				    0, NULL, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(rp_ctl_cancelled(c.rx), 0);
	CU_ASSERT_EQUAL(rp_ctl_draining(c.rx), 0);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_CANCEL, RP_REASON_USER, 0, 0,
				    0, NULL, 0),
			0);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_DRAIN, 0, 0, 0, 0, NULL, 0),
			0);
	CU_ASSERT_EQUAL(rp_ctl_cancelled(c.rx), RP_REASON_USER);
	CU_ASSERT_EQUAL(rp_ctl_draining(c.rx), 1);
	CU_ASSERT(rp_ctl_ready(c.rx) > 0);
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_CANCEL);
	CU_ASSERT_EQUAL(m.reason, RP_REASON_USER);
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_DRAIN);
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), -EAGAIN);
	CU_ASSERT_EQUAL(rp_ctl_ready(c.rx), 0);
	pair_free(&c);
}

/* The sender refuses what the receiver would reject as a format break,
 * instead of poisoning its own control ring. */
RP_TEST(ctl_send_rejects_bad_records, 20)
{
	struct ctl_pair c;
	struct rp_ctl_msg m;

	pair_make(&c, 1, 1);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, 0, 0, 0, 0, 0, NULL, 0), -EINVAL);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_KIND_MAX + 1, 0, 0, 0, 0,
				    NULL, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, UINT32_MAX, 0, 0, 0, 0, NULL, 0),
			-EINVAL);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_PING, RP_REASON_MAX + 1, 0, 0,
				    0, NULL, 0),
			-EINVAL);
	/* The gap between the two directions' kinds names no kind. */
	for (uint32_t k = RP_CTL_TIMEOUT + 1; k < RP_CTL_READY; k++)
		CU_ASSERT_EQUAL(rp_ctl_send(c.tx, k, 0, 0, 0, 0, NULL, 0),
				-EINVAL);

	/* Nothing was queued, and the ring still carries good records. */
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), -EAGAIN);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_PING, 0, 42, 0, 0, "ok", 0),
			0);
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_PING);
	CU_ASSERT_EQUAL(m.arg0, 42);
	pair_free(&c);
}

/* A receiver end refuses a ring whose records are not control records. */
RP_TEST(ctl_rx_rejects_data_ring, 20)
{
	struct rp_test_ring r;
	struct rp_ring_fds side;
	struct rp_ctl_rx *rx = (void *)1;

	rp_test_ring_make(&r, 4096, 0, 0);
	CU_ASSERT_FATAL(rp_ring_fds_for_consumer(&r.fds, &side) == 0);
	CU_ASSERT_EQUAL(rp_ctl_rx_open(&side, r.cbell, r.pbell, &rx),
			-EBADMSG);
	CU_ASSERT_PTR_NULL(rx);
	rp_ring_fds_close(&side);
	rp_test_ring_free(&r);
}

/* ---------------------------------------------------------------- bells */

enum {
	BELL_CHILD_OK = 0,
	BELL_CHILD_OPEN = 10,
	BELL_CHILD_SYNC,
	BELL_CHILD_PARKED,
	BELL_CHILD_SEND,
};

#define BELL_ROUNDS 6u

struct bell_child_arg {
	struct ctl_pair *c;
	struct meet *mt;
};

/* Sender: each round, wait until the receiver is asleep on its bell, then
 * note the time and send (the last round sends a cancel instead). */
static int bell_sender(void *argp)
{
	struct bell_child_arg *a = argp;
	struct rp_bell_shm *sh = bell_peek(a->c->rbell);
	struct rp_ring_fds side;
	struct rp_ctl_tx *tx = NULL;
	int err;

	if (sh == NULL || rp_ring_fds_for_producer(&a->c->fds, &side) != 0)
		return BELL_CHILD_OPEN;
	err = rp_ctl_tx_open(&side, a->c->tbell, a->c->rbell, &tx);
	rp_ring_fds_close(&side);
	if (err)
		return BELL_CHILD_OPEN;
	for (uint32_t k = 0; k < BELL_ROUNDS; k++) {
		int64_t end = rp_now_ns() + 5 * SEC;

		if (wait_word(&a->mt->round, k) != 0)
			return BELL_CHILD_SYNC;
		while (rp_load32_acquire(&sh->parked) == 0) {
			if (rp_now_ns() > end)
				return BELL_CHILD_PARKED;
			usleep(100);
		}
		/* Let it get into the futex wait proper. */
		usleep(2000);
		rp_store64_release(&a->mt->sent_ns, (uint64_t)rp_now_ns());
		if (k == BELL_ROUNDS - 1)
			err = rp_ctl_cancel(tx, RP_REASON_DEADLINE);
		else
			err = rp_ctl_send(tx, RP_CTL_PING, 0, k, 0, 0, NULL,
					  SEC);
		if (err)
			return BELL_CHILD_SEND;
	}
	rp_ctl_tx_close(tx);
	rp_unmap(sh, RP_BELL_SEG_SIZE);
	return BELL_CHILD_OK;
}

/* A receiver parked in rp_bell_wait wakes promptly when another process
 * sends a record or a cancel: well before the bell's sleep slice, which
 * is when it would notice without being rung. */
RP_TEST(ctl_bell_wakes_receiver, 30)
{
	struct bell_child_arg arg;
	struct ctl_pair c;
	struct meet *mt = meet_map();
	pid_t pid;
	int st;

	pair_make(&c, 0, 1);
	arg.c = &c;
	arg.mt = mt;
	pid = rp_test_fork(bell_sender, &arg);
	CU_ASSERT_FATAL(pid > 0);

	for (uint32_t k = 0; k < BELL_ROUNDS; k++) {
		struct rp_ctl_msg m;
		uint64_t parks = 0;
		int64_t woke, lat;
		int r;

		r = rp_bell_wait(c.rbell, ctl_ready_fn, c.rx, 5 * SEC, 0,
				 &parks);
		woke = rp_now_ns();
		CU_ASSERT_FATAL(r > 0);
		CU_ASSERT(parks >= 1); /* it really slept */
		lat = woke - (int64_t)rp_load64_acquire(&mt->sent_ns);
		CU_ASSERT(lat >= 0);
		CU_ASSERT(lat < RP_BELL_SLICE_NS / 2);
		CU_ASSERT_FATAL(rp_ctl_recv(c.rx, &m) == 0);
		if (k == BELL_ROUNDS - 1) {
			CU_ASSERT_EQUAL(m.kind, RP_CTL_CANCEL);
			CU_ASSERT_EQUAL(m.reason, RP_REASON_DEADLINE);
		} else {
			CU_ASSERT_EQUAL(m.kind, RP_CTL_PING);
			CU_ASSERT_EQUAL(m.arg0, k);
		}
		rp_store32_release(&mt->round, k + 1);
	}
	st = rp_test_wait(pid, 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), BELL_CHILD_OK);
	munmap(mt, RP_PAGE);
	pair_free(&c);
}

/* ------------------------------------------------------------ full ring */

/* Receiver in a child: after a pause, take one record (freeing room). */
static int late_receiver(void *argp)
{
	struct bell_child_arg *a = argp;
	struct rp_ring_fds side;
	struct rp_ctl_rx *rx = NULL;
	struct rp_ctl_msg m;
	int err;

	if (rp_ring_fds_for_consumer(&a->c->fds, &side) != 0)
		return 10;
	err = rp_ctl_rx_open(&side, a->c->rbell, a->c->tbell, &rx);
	rp_ring_fds_close(&side);
	if (err)
		return 11;
	usleep(100 * 1000);
	rp_store64_release(&a->mt->sent_ns, (uint64_t)rp_now_ns());
	err = rp_ctl_recv(rx, &m);
	rp_ctl_rx_close(rx);
	return err == 0 && m.kind == RP_CTL_PROGRESS && m.arg0 == 0 ? 0 : 12;
}

/* A full control ring makes a send wait out its timeout and fail with
 * -ETIMEDOUT (bounded, never a hang), and a receiver freeing room in
 * another process wakes a blocked sender promptly. */
RP_TEST(ctl_full_ring_times_out, 30)
{
	struct bell_child_arg arg;
	struct ctl_pair c;
	struct meet *mt = meet_map();
	int64_t t0, dt;
	unsigned n;
	pid_t pid;
	int st;

	pair_make(&c, 1, 0);
	n = fill(c.tx);
	CU_ASSERT_EQUAL(n, CTL_SLOTS);

	t0 = rp_now_ns();
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_PING, 0, 0, 0, 0, NULL,
				    300 * MS),
			-ETIMEDOUT);
	dt = rp_now_ns() - t0;
	CU_ASSERT(dt >= 290 * MS);
	CU_ASSERT(dt < 1 * SEC);

	/* A long timeout, cut short by the receiver making room. */
	arg.c = &c;
	arg.mt = mt;
	pid = rp_test_fork(late_receiver, &arg);
	CU_ASSERT_FATAL(pid > 0);
	t0 = rp_now_ns();
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_PROGRESS, 0, n, 0, 0, NULL,
				    5 * SEC),
			0);
	dt = rp_now_ns() - (int64_t)rp_load64_acquire(&mt->sent_ns);
	CU_ASSERT(rp_now_ns() - t0 < 3 * SEC);
	CU_ASSERT(dt < RP_BELL_SLICE_NS / 2);
	st = rp_test_wait(pid, 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);

	/* The rest is there, in order: 1..n-1 from the fill, then n. */
	c.rx = pair_rx(&c);
	{
		struct rp_ctl_msg m;
		for (unsigned i = 1; i <= n; i++) {
			CU_ASSERT_FATAL(rp_ctl_recv(c.rx, &m) == 0);
			CU_ASSERT_EQUAL(m.arg0, i);
		}
		CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), -EAGAIN);
	}
	munmap(mt, RP_PAGE);
	pair_free(&c);
}

/* Cancel needs no room: on a full ring it succeeds, the first reason
 * sticks, and the receiver sees it once, before the queued records. */
RP_TEST(ctl_cancel_when_full, 20)
{
	struct ctl_pair c;
	struct rp_ctl_msg m;
	unsigned n;

	pair_make(&c, 1, 1);
	n = fill(c.tx);
	CU_ASSERT_EQUAL(n, CTL_SLOTS);
	CU_ASSERT_EQUAL(rp_ctl_cancelled(c.rx), 0);

	CU_ASSERT_EQUAL(rp_ctl_cancel(c.tx, RP_REASON_NONE), -EINVAL);
	CU_ASSERT_EQUAL(rp_ctl_cancel(c.tx, RP_REASON_MAX + 1), -EINVAL);
	CU_ASSERT_EQUAL(rp_ctl_cancelled(c.rx), 0);
	CU_ASSERT_EQUAL(rp_ctl_cancel(c.tx, RP_REASON_USER), 0);
	CU_ASSERT_EQUAL(rp_ctl_cancel(c.tx, RP_REASON_DEADLINE), 0);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_CANCEL, RP_REASON_SIBLING, 0,
				    0, 0, NULL, 0),
			0);
	CU_ASSERT_EQUAL(rp_ctl_cancelled(c.rx), RP_REASON_USER);
	CU_ASSERT_EQUAL(rp_ctl_draining(c.rx), 0);
	CU_ASSERT(rp_ctl_ready(c.rx) > 0);

	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_CANCEL);
	CU_ASSERT_EQUAL(m.reason, RP_REASON_USER);
	/* Reported once; a later cancel changes nothing. */
	CU_ASSERT_EQUAL(rp_ctl_cancel(c.tx, RP_REASON_SHUTDOWN), 0);
	expect_filled(c.rx, n);
	CU_ASSERT_EQUAL(rp_ctl_cancelled(c.rx), RP_REASON_USER);
	CU_ASSERT_EQUAL(rp_ctl_ready(c.rx), 0);
	pair_free(&c);
}

/* Drain likewise: accepted on a full ring, reported once before the
 * queued records; with a cancel also pending, both come first. */
RP_TEST(ctl_drain_when_full, 20)
{
	struct ctl_pair c;
	struct rp_ctl_msg m;
	unsigned n, seen_cancel = 0, seen_drain = 0;

	pair_make(&c, 1, 1);
	n = fill(c.tx);
	CU_ASSERT_EQUAL(n, CTL_SLOTS);
	CU_ASSERT_EQUAL(rp_ctl_drain(c.tx), 0);
	CU_ASSERT_EQUAL(rp_ctl_drain(c.tx), 0);
	CU_ASSERT_EQUAL(rp_ctl_draining(c.rx), 1);
	CU_ASSERT_EQUAL(rp_ctl_cancelled(c.rx), 0);
	CU_ASSERT(rp_ctl_ready(c.rx) > 0);
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_DRAIN);
	expect_filled(c.rx, n);
	CU_ASSERT_EQUAL(rp_ctl_draining(c.rx), 1);
	pair_free(&c);

	pair_make(&c, 1, 1);
	n = fill(c.tx);
	CU_ASSERT_EQUAL(rp_ctl_drain(c.tx), 0);
	CU_ASSERT_EQUAL(rp_ctl_cancel(c.tx, RP_REASON_SHUTDOWN), 0);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_FATAL(rp_ctl_recv(c.rx, &m) == 0);
		if (m.kind == RP_CTL_CANCEL) {
			seen_cancel++;
			CU_ASSERT_EQUAL(m.reason, RP_REASON_SHUTDOWN);
		} else {
			CU_ASSERT_EQUAL(m.kind, RP_CTL_DRAIN);
			seen_drain++;
		}
	}
	CU_ASSERT_EQUAL(seen_cancel, 1);
	CU_ASSERT_EQUAL(seen_drain, 1);
	expect_filled(c.rx, n);
	pair_free(&c);
}

/* ---------------------------------------------------------- dead receiver */

/* The supervisor marks a full ring's receiver dead: a send with a long
 * timeout fails with -EPIPE at once; cancel and drain report -EPIPE too
 * but still set their words. */
RP_TEST(ctl_dead_receiver_full_epipe, 20)
{
	struct ctl_pair c;
	int64_t t0, dt;

	pair_make(&c, 1, 1);
	CU_ASSERT_EQUAL(fill(c.tx), CTL_SLOTS);
	CU_ASSERT_EQUAL(rp_ring_mark_broken(&c.fds, c.tbell), 0);
	t0 = rp_now_ns();
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_PING, 0, 0, 0, 0, NULL,
				    2 * SEC),
			-EPIPE);
	dt = rp_now_ns() - t0;
	CU_ASSERT(dt < 500 * MS); /* at once, not after the 2 s */
	/* And it stays dead. */
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_PING, 0, 0, 0, 0, NULL,
				    2 * SEC),
			-EPIPE);
	CU_ASSERT(rp_now_ns() - t0 < 1000 * MS);

	CU_ASSERT_EQUAL(rp_ctl_cancel(c.tx, RP_REASON_SIBLING), -EPIPE);
	CU_ASSERT_EQUAL(rp_ctl_drain(c.tx), -EPIPE);
	CU_ASSERT_EQUAL(rp_ctl_cancelled(c.rx), RP_REASON_SIBLING);
	CU_ASSERT_EQUAL(rp_ctl_draining(c.rx), 1);
	pair_free(&c);
}

/* Same with room to spare: a dead receiver fails the send at once rather
 * than letting records pile up for no one. */
RP_TEST(ctl_dead_receiver_empty_epipe, 20)
{
	struct ctl_pair c;
	struct rp_ctl_msg m;
	int64_t t0;

	pair_make(&c, 1, 1);
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_PING, 0, 1, 0, 0, NULL, 0),
			0);
	CU_ASSERT_EQUAL(rp_ring_mark_broken(&c.fds, NULL), 0);
	t0 = rp_now_ns();
	CU_ASSERT_EQUAL(rp_ctl_send(c.tx, RP_CTL_PING, 0, 2, 0, 0, NULL,
				    2 * SEC),
			-EPIPE);
	CU_ASSERT(rp_now_ns() - t0 < 500 * MS);
	CU_ASSERT_EQUAL(rp_ctl_cancel(c.tx, RP_REASON_USER), -EPIPE);
	/* What was sent before the death is still what is queued. */
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_CANCEL);
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), 0);
	CU_ASSERT_EQUAL(m.kind, RP_CTL_PING);
	CU_ASSERT_EQUAL(m.arg0, 1);
	CU_ASSERT_EQUAL(rp_ctl_recv(c.rx, &m), -EAGAIN);
	pair_free(&c);
}

/* Sender in a child: fill the ring, say so, then block in a send with a
 * long timeout.  Exit 0 if that send failed with -EPIPE. */
static int blocked_sender(void *argp)
{
	struct bell_child_arg *a = argp;
	struct rp_ring_fds side;
	struct rp_ctl_tx *tx = NULL;
	unsigned n = 0;
	int err;

	if (rp_ring_fds_for_producer(&a->c->fds, &side) != 0)
		return 10;
	err = rp_ctl_tx_open(&side, a->c->tbell, a->c->rbell, &tx);
	rp_ring_fds_close(&side);
	if (err)
		return 11;
	while (rp_ctl_send(tx, RP_CTL_PROGRESS, 0, n, 0, 0, NULL, 0) == 0)
		n++;
	if (n != CTL_SLOTS)
		return 12;
	rp_store32_release(&a->mt->flag, 1);
	err = rp_ctl_send(tx, RP_CTL_PING, 0, 0, 0, 0, NULL, 5 * SEC);
	rp_store64_release(&a->mt->sent_ns, (uint64_t)rp_now_ns());
	rp_ctl_tx_close(tx);
	return err == -EPIPE ? 0 : 13;
}

/* A sender already blocked on a full ring is woken by the supervisor's
 * mark (it rings the sender's bell) and fails with -EPIPE promptly. */
RP_TEST(ctl_dead_receiver_wakes_blocked_sender, 20)
{
	struct bell_child_arg arg;
	struct rp_bell_shm *sh;
	struct ctl_pair c;
	struct meet *mt = meet_map();
	int64_t end, marked;
	pid_t pid;
	int st;

	pair_make(&c, 0, 0);
	sh = bell_peek(c.tbell);
	CU_ASSERT_FATAL(sh != NULL);
	arg.c = &c;
	arg.mt = mt;
	pid = rp_test_fork(blocked_sender, &arg);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT(wait_word(&mt->flag, 1) == 0);
	end = rp_now_ns() + 5 * SEC;
	while (rp_load32_acquire(&sh->parked) == 0 && rp_now_ns() < end)
		usleep(100);
	CU_ASSERT(rp_load32_acquire(&sh->parked) > 0);
	usleep(2000);
	marked = rp_now_ns();
	CU_ASSERT_EQUAL(rp_ring_mark_broken(&c.fds, c.tbell), 0);
	st = rp_test_wait(pid, 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	CU_ASSERT((int64_t)rp_load64_acquire(&mt->sent_ns) - marked <
		  RP_BELL_SLICE_NS / 2);
	rp_unmap(sh, RP_BELL_SEG_SIZE);
	munmap(mt, RP_PAGE);
	pair_free(&c);
}

/* ----------------------------------------------------------------- names */

/* Names are for logs: every kind and reason has its own, and anything
 * else (a hostile value included) is "unknown", never NULL. */
RP_TEST(ctl_names, 10)
{
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_CANCEL), "cancel");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_DRAIN), "drain");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_PAUSE), "pause");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_RESUME), "resume");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_PING), "ping");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_READY), "ready");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_PROGRESS), "progress");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_ERROR), "error");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_DONE), "done");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_VIOLATION),
			       "violation");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_PONG), "pong");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_FAULT), "fault");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(0), "unknown");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_DENIED), "denied");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_TIMEOUT), "timeout");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_TIMED_OUT),
			       "timed-out");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_TIMEOUT + 1), "unknown");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_READY - 1), "unknown");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(RP_CTL_KIND_MAX + 1),
			       "unknown");
	CU_ASSERT_STRING_EQUAL(rp_ctl_kind_name(UINT32_MAX), "unknown");

	CU_ASSERT_STRING_EQUAL(rp_reason_name(RP_REASON_NONE), "none");
	CU_ASSERT_STRING_EQUAL(rp_reason_name(RP_REASON_USER), "user");
	CU_ASSERT_STRING_EQUAL(rp_reason_name(RP_REASON_DEADLINE), "deadline");
	CU_ASSERT_STRING_EQUAL(rp_reason_name(RP_REASON_SIBLING),
			       "sibling-failed");
	CU_ASSERT_STRING_EQUAL(rp_reason_name(RP_REASON_SHUTDOWN), "shutdown");
	CU_ASSERT_STRING_EQUAL(rp_reason_name(RP_REASON_EOF), "end-of-input");
	CU_ASSERT_STRING_EQUAL(rp_reason_name(RP_REASON_MAX + 1), "unknown");
	CU_ASSERT_STRING_EQUAL(rp_reason_name(UINT32_MAX), "unknown");

	/* Distinct and never NULL over a wide range. */
	for (uint32_t k = 0; k < 300; k++) {
		const char *a = rp_ctl_kind_name(k), *b = rp_reason_name(k);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		for (uint32_t j = 0; j < k; j++) {
			if (strcmp(a, "unknown") != 0)
				CU_ASSERT(strcmp(a, rp_ctl_kind_name(j)) != 0);
			if (strcmp(b, "unknown") != 0)
				CU_ASSERT(strcmp(b, rp_reason_name(j)) != 0);
		}
	}
}

void rp_suite_ctl(void)
{
	RP_SUITE("ctl",
		 {"send_recv_each_kind", ctl_send_recv_each_kind},
		 {"send_rejects_bad_records", ctl_send_rejects_bad_records},
		 {"rx_rejects_data_ring", ctl_rx_rejects_data_ring},
		 {"bell_wakes_receiver", ctl_bell_wakes_receiver},
		 {"full_ring_times_out", ctl_full_ring_times_out},
		 {"cancel_when_full", ctl_cancel_when_full},
		 {"drain_when_full", ctl_drain_when_full},
		 {"dead_receiver_full_epipe", ctl_dead_receiver_full_epipe},
		 {"dead_receiver_empty_epipe", ctl_dead_receiver_empty_epipe},
		 {"dead_receiver_wakes_blocked_sender",
		  ctl_dead_receiver_wakes_blocked_sender},
		 {"names", ctl_names});
}
