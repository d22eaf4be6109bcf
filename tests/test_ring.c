/*
 * test_ring.c - record ring, single process: wrap-around at every
 * boundary, largest record, full and empty, end of stream, redelivery,
 * broken ring, batching and counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../ipc/ring_int.h"
#include "../shm/futex.h"
#include "harness.h"

static const struct rp_meta DATA = {.type = RP_REC_T_DATA};

/* One record of origin (filled from it), its sub-index sub, marked
 * its origin's last or not. */
static int send_part(struct rp_producer *p, uint32_t len, uint64_t origin,
		     uint32_t sub, int last)
{
	struct rp_meta m = {.origin = origin, .sub = sub,
			    .type = RP_REC_T_DATA,
			    .flags = last ? RP_REC_F_LAST : 0};
	void *dst;
	int err = rp_reserve(p, len, &dst);

	if (err)
		return err;
	rp_test_fill(dst, len, origin);
	return rp_commit(p, len, &m);
}

static int send_seq(struct rp_producer *p, uint32_t len, uint64_t seq)
{
	return send_part(p, len, seq, 0, 0);
}

/* Records of every length class cross the end of the ring at every 8-byte
 * offset; each arrives intact and in order. */
RP_TEST(test_wrap_every_boundary, 60)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	static unsigned char start_seen[4096 / 8];
	unsigned straddled = 0, starts = 0;

	for (uint64_t seq = 0; seq < 60000; seq++) {
		/* lengths 0..407 in a pattern coprime with the ring size */
		uint32_t len = (uint32_t)((seq * 37) % 408);
		struct rp_view v;
		CU_ASSERT_FATAL(send_seq(p, len, seq) == 0);
		CU_ASSERT_FATAL(rp_flush(p) == 0);
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_FATAL(v.origin == seq && v.len == len);
		CU_ASSERT_FATAL(rp_test_verify(v.data, v.len, seq));
		CU_ASSERT_FATAL(((uintptr_t)v.data & 7) == 0);
		if (!start_seen[(v.pos & 4095) / 8]) {
			start_seen[(v.pos & 4095) / 8] = 1;
			starts++;
		}
		if ((v.pos & 4095) + rp_rec_size(len) > 4096)
			straddled++;
		CU_ASSERT_FATAL(rp_release(c) == 0);
	}
	CU_ASSERT_EQUAL(starts, 4096 / 8); /* a record began at every offset */
	CU_ASSERT(straddled > 1000);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

/* Many records in flight at once, released in uneven batches. */
RP_TEST(test_wrap_batched, 60)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 8192, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	uint64_t sent = 0, got = 0;

	while (got < 200000) {
		int err;
		while ((err = send_seq(p, (uint32_t)(sent % 91), sent)) == 0)
			sent++;
		CU_ASSERT_FATAL(err == -EAGAIN);
		for (unsigned k = 0; k < (got % 13) + 1; k++) {
			struct rp_view v;
			err = rp_peek(c, &v);
			if (err == -EAGAIN)
				break;
			CU_ASSERT_FATAL(err == 0);
			CU_ASSERT_FATAL(v.origin == got);
			CU_ASSERT_FATAL(rp_test_verify(v.data, v.len, got));
			got++;
		}
		CU_ASSERT_FATAL(rp_release(c) == 0);
	}
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

RP_TEST(test_largest_record, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	uint32_t max = rp_producer_max_record(p);
	struct rp_view v;
	void *dst;

	CU_ASSERT_EQUAL(max, 4096 / 2 - 24);
	CU_ASSERT_EQUAL(rp_consumer_max_record(c), max);
	CU_ASSERT_EQUAL(rp_reserve(p, max + 1, &dst), -EMSGSIZE);
	CU_ASSERT_EQUAL(rp_reserve(p, UINT32_MAX, &dst), -EMSGSIZE);
	/* Two largest records fill the ring exactly; do it at several
	 * offsets so one of them wraps. */
	for (uint64_t seq = 0; seq < 40; seq++) {
		CU_ASSERT_FATAL(send_seq(p, max, seq) == 0);
		CU_ASSERT_FATAL(send_seq(p, max, seq + 1000) == 0);
		CU_ASSERT_EQUAL(send_seq(p, 0, 99), -EAGAIN);
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT(v.len == max && rp_test_verify(v.data, max, seq));
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT(rp_test_verify(v.data, max, seq + 1000));
		CU_ASSERT_FATAL(rp_release(c) == 0);
		/* shift the alignment by a small record */
		CU_ASSERT_FATAL(send_seq(p, (uint32_t)(seq * 8 % 64), 7) == 0);
		CU_ASSERT_FATAL(rp_flush(p) == 0);
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_FATAL(rp_release(c) == 0);
	}
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

RP_TEST(test_full_and_empty, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_ring_stats ps, cs;
	struct rp_view v;
	unsigned n = 0;
	void *dst;

	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	CU_ASSERT_EQUAL(rp_consumer_ready(c), 0);
	/* 40-byte payloads take 64 bytes: exactly 64 fit in 4096. */
	while (send_seq(p, 40, n) == 0)
		n++;
	CU_ASSERT_EQUAL(n, 64);
	CU_ASSERT_EQUAL(rp_reserve(p, 0, &dst), -EAGAIN);
	CU_ASSERT_EQUAL(rp_producer_ready(p, 0), 0);
	/* Being full published everything: the consumer sees all 64. */
	CU_ASSERT_EQUAL(rp_consumer_ready(c), 1);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.origin == 0);
	/* Peeked is not released: still full. */
	CU_ASSERT_EQUAL(rp_reserve(p, 40, &dst), -EAGAIN);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	CU_ASSERT_EQUAL(rp_producer_ready(p, 40), 1);
	CU_ASSERT_EQUAL(send_seq(p, 40, n), 0);
	CU_ASSERT_EQUAL(send_seq(p, 0, n + 1), -EAGAIN);
	for (unsigned i = 1; i <= 64; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_EQUAL(v.origin, i);
	}
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	CU_ASSERT_FATAL(rp_producer_stats(p, &ps, &cs) == 0);
	CU_ASSERT_EQUAL(ps.records, 65);
	CU_ASSERT_EQUAL(ps.bytes, 65 * 40);
	CU_ASSERT(ps.stalls >= 2);
	CU_ASSERT_EQUAL(cs.records, 65);
	CU_ASSERT(cs.stalls >= 2);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

RP_TEST(test_eof_after_drain, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_view v;

	for (uint64_t i = 0; i < 10; i++)
		CU_ASSERT_FATAL(send_seq(p, 16, i) == 0);
	CU_ASSERT_FATAL(rp_producer_end(p) == 0);
	for (uint64_t i = 0; i < 10; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_EQUAL(v.origin, i);
	}
	CU_ASSERT_EQUAL(rp_peek(c, &v), -ENODATA);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -ENODATA);
	CU_ASSERT_EQUAL(rp_peek_wait(c, &v, 1000000000), -ENODATA);
	CU_ASSERT_EQUAL(rp_consumer_ready(c), 1);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

RP_TEST(test_one_reservation, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_meta pad = {.type = RP_REC_T_PAD};
	struct rp_meta bad = {.type = RP_REC_T_DATA, .flags = 0x80};
	struct rp_view v;
	void *a, *b;

	CU_ASSERT_EQUAL(rp_commit(p, 0, &DATA), -EINVAL);
	CU_ASSERT_FATAL(rp_reserve(p, 32, &a) == 0);
	CU_ASSERT_EQUAL(rp_reserve(p, 32, &b), -EBUSY);
	CU_ASSERT_EQUAL(rp_commit(p, 33, &DATA), -EINVAL); /* longer */
	CU_ASSERT_EQUAL(rp_commit(p, 8, &pad), -EINVAL);
	CU_ASSERT_EQUAL(rp_commit(p, 8, &bad), -EINVAL);
	rp_abandon(p);
	CU_ASSERT_FATAL(rp_reserve(p, 32, &b) == 0);
	CU_ASSERT_PTR_EQUAL(a, b); /* the abandoned space is reused */
	memcpy(b, "shorter", 7);
	CU_ASSERT_FATAL(rp_commit(p, 7, &DATA) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT(v.len == 7 && memcmp(v.data, "shorter", 7) == 0);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

RP_TEST(test_metadata_roundtrip, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_view v;

	for (uint32_t i = 0; i < 5; i++) {
		struct rp_meta m = {
			.origin = 0xfedcba9876543210ull + i / 2,
			.sub = i % 2,
			.type = (uint16_t)(RP_REC_T_USER + i),
			.flags = (i % 2) ? RP_REC_F_LAST : 0,
		};
		CU_ASSERT_FATAL(rp_send(p, &i, sizeof(i), &m, 0) == 0);
	}
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	for (uint32_t i = 0; i < 5; i++) {
		uint32_t x;
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		memcpy(&x, v.data, sizeof(x));
		CU_ASSERT_EQUAL(x, i);
		CU_ASSERT_EQUAL(v.origin, 0xfedcba9876543210ull + i / 2);
		CU_ASSERT_EQUAL(v.sub, i % 2);
		CU_ASSERT_EQUAL(v.type, RP_REC_T_USER + i);
		/* The first record of an attach says so. */
		CU_ASSERT_EQUAL(v.flags, ((i % 2) ? RP_REC_F_LAST : 0) |
						 (i == 0 ? RP_REC_F_RESTART : 0));
	}
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

/* Peeked but unreleased records go to the next consumer; released ones
 * never come back. */
RP_TEST(test_redelivery_after_reattach, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_view v, keep;

	for (uint64_t i = 0; i < 10; i++)
		CU_ASSERT_FATAL(send_seq(p, 24, i) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	for (int i = 0; i < 6; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		if (i == 2)
			keep = v;
	}
	CU_ASSERT_FATAL(rp_release_upto(c, &keep) == 0); /* 0..2 */
	CU_ASSERT_EQUAL(rp_release_upto(c, &keep), -EINVAL);
	/* rewind: 3..5 come again from this consumer */
	rp_rewind(c);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT_EQUAL(v.origin, 3);
	rp_consumer_close(c); /* "crash": 3 peeked, not released */
	c = rp_test_consumer(&r);
	for (uint64_t i = 3; i < 10; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_EQUAL(v.origin, i);
		CU_ASSERT(rp_test_verify(v.data, v.len, i));
	}
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	rp_consumer_close(c);
	c = rp_test_consumer(&r);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

/* A restarted producer continues after what was published; commits it
 * had not published are gone (they were never visible). */
RP_TEST(test_producer_reattach, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_view v;

	CU_ASSERT_FATAL(send_seq(p, 24, 0) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	rp_producer_close(p);
	p = rp_test_producer(&r);
	CU_ASSERT_FATAL(send_seq(p, 24, 1) == 0);
	CU_ASSERT_FATAL(rp_producer_end(p) == 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.origin == 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.origin == 1);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -ENODATA);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

/* Each attach of a producer marks its first record, which the user
 * cannot do; a restarted producer's replays are told from a key that
 * went back by that mark alone. */
RP_TEST(test_restart_mark_and_key_order, 20)
{
	struct rp_meta forged = {.type = RP_REC_T_DATA,
				 .flags = RP_REC_F_RESTART};
	static const uint64_t keys[] = {1, 2, 3, 2, 3, 4, 9, 5};
	struct rp_test_ring r;
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_keys k;
	struct rp_ckpt ck;
	struct rp_view v;
	void *dst;
	int got[8];

	rp_test_ring_make(&r, 4096, RP_RING_F_DEDUP, 0);
	p = rp_test_producer(&r);
	c = rp_test_consumer(&r);
	CU_ASSERT_FATAL(rp_reserve(p, 8, &dst) == 0);
	CU_ASSERT_EQUAL(rp_commit(p, 8, &forged), -EINVAL);
	forged.flags = 0;
	forged.origin = keys[0];
	rp_test_fill(dst, 8, keys[0]);
	CU_ASSERT_FATAL(rp_commit(p, 8, &forged) == 0);
	for (int i = 1; i < 3; i++)
		CU_ASSERT_FATAL(send_seq(p, 8, keys[i]) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	rp_producer_close(p);
	/* The restart: 2 and 3 again, then new ones, then one that went
	 * back with no restart. */
	p = rp_test_producer(&r);
	for (int i = 3; i < 8; i++)
		CU_ASSERT_FATAL(send_seq(p, 8, keys[i]) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), -EBADMSG);
	/* The keys are the producer's: its own claim is not believed. */
	CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 0), 0);
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 8; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_EQUAL(v.origin, keys[i]);
		CU_ASSERT_EQUAL(v.flags & RP_REC_F_RESTART,
				i == 0 || i == 3 ? RP_REC_F_RESTART : 0);
		got[i] = rp_keys_step(&k, 1, 0, v.origin, v.sub, v.flags, 0);
		if (i == 3) {
			/* Released amid the replays, and taken up by the
			 * consumer's restart: still dropping them. */
			rp_keys_store(&k, &ck);
			ck.seq = 3;
			CU_ASSERT_FATAL(rp_release_ckpt(c, &ck) == 0);
			rp_consumer_close(c);
			c = rp_test_consumer(&r);
			rp_consumer_ckpt(c, &ck);
			CU_ASSERT_EQUAL(ck.flags, RP_CKPT_F_VALID |
							  RP_CKPT_F_KEY |
							  RP_CKPT_F_REPLAY);
			rp_keys_load(&k, &ck);
		}
		if (i == 6) {
			/* The far key released: the check takes it from the
			 * commit point, and the next key is out of order. */
			rp_keys_store(&k, &ck);
			ck.seq = 5;
			CU_ASSERT_FATAL(rp_release_ckpt(c, &ck) == 0);
			CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), -EBADMSG);
		}
	}
	CU_ASSERT(got[0] == 1 && got[1] == 1 && got[2] == 1);
	CU_ASSERT(got[3] == 0 && got[4] == 0); /* replays */
	CU_ASSERT(got[5] == 1 && got[6] == 1);
	CU_ASSERT_EQUAL(got[7], -EBADMSG);      /* 5 after 9 */
	{
		/* A commit point scribbled over (its key pushed ahead, as
		 * a corrupted consumer might) is one nobody picks: the
		 * check cannot be misled into blaming the producer. */
		struct rp_ring_cside *cs = mmap(NULL, RP_C_SEG_SIZE,
						PROT_READ | PROT_WRITE,
						MAP_SHARED, r.fds.c_fd, 0);
		struct rp_ckpt_area *a;
		CU_ASSERT_FATAL(cs != MAP_FAILED);
		a = &cs->c_ckpt;
		a->c_slot[__atomic_load_n(&a->c_idx, __ATOMIC_ACQUIRE) & 1u]
			.c_origin += 1000;
		CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), 0);
		rp_consumer_close(c);
		c = rp_test_consumer(&r);
		rp_consumer_ckpt(c, &ck);
		CU_ASSERT_EQUAL(ck.flags, 0);
		munmap(cs, RP_C_SEG_SIZE);
	}
	/* Behind replicas, whose replays are unmarked: dropped. */
	CU_ASSERT_EQUAL(rp_keys_step(&k, 1, 1, 5, 0, 0, 0), 0);
	/* Without dedup there is no order to keep. */
	CU_ASSERT_EQUAL(rp_keys_step(&k, 0, 0, 5, 0, 0, 0), 1);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);

	/* A restart's bound: its replays' origins stay below it, so a
	 * last key at or past it was pushed ahead.  Said before the first
	 * record only, and read back at that record only. */
	rp_test_ring_make(&r, 4096, RP_RING_F_DEDUP, 0);
	p = rp_test_producer(&r);
	c = rp_test_consumer(&r);
	CU_ASSERT_FATAL(send_seq(p, 8, 1ull << 40) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	rp_producer_close(p);
	p = rp_test_producer(&r);
	rp_producer_set_restart_bound(p, 100);
	CU_ASSERT_FATAL(send_seq(p, 8, 7) == 0);
	rp_producer_set_restart_bound(p, 1ull << 50); /* too late */
	CU_ASSERT_FATAL(send_seq(p, 8, 8) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), -EBADMSG);
	/* Attaches after it (a standby, another restart) keep it. */
	for (int i = 0; i < 3; i++) {
		rp_producer_close(p);
		p = rp_test_producer(&r);
		rp_producer_set_restart_bound(p, 5);
	}
	CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), -EBADMSG);
	memset(&k, 0, sizeof(k));
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT_EQUAL(rp_consumer_restart_bound(c, v.pos), 0);
	CU_ASSERT_EQUAL(rp_keys_step(&k, 1, 0, v.origin, v.sub, v.flags, 0), 1);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT_EQUAL(rp_consumer_restart_bound(c, v.pos), 100);
	CU_ASSERT_EQUAL(rp_keys_step(&k, 1, 0, v.origin, v.sub, v.flags, 100),
			-EBADMSG);
	/* Below the bound it is a replay as before. */
	k.origin = 99;
	CU_ASSERT_EQUAL(rp_keys_step(&k, 1, 0, v.origin, v.sub, v.flags, 100),
			0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT_EQUAL(rp_consumer_restart_bound(c, v.pos), 0);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);

	/* The checker sees only what the producer wrote: the same keys
	 * without the last are sound, on a ring that dedups or not. */
	for (int dedup = 0; dedup < 2; dedup++) {
		rp_test_ring_make(&r, 4096, dedup ? RP_RING_F_DEDUP : 0, 0);
		p = rp_test_producer(&r);
		for (int i = 0; i < 7; i++) {
			if (i == 3) {
				CU_ASSERT_FATAL(rp_flush(p) == 0);
				rp_producer_close(p);
				p = rp_test_producer(&r);
			}
			CU_ASSERT_FATAL(send_seq(p, 8, keys[i]) == 0);
		}
		CU_ASSERT_FATAL(rp_flush(p) == 0);
		CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), 0);
		if (!dedup) {
			CU_ASSERT_FATAL(send_seq(p, 8, 1) == 0);
			CU_ASSERT_FATAL(rp_flush(p) == 0);
			CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), 0);
		}
		rp_producer_close(p);
		rp_test_ring_free(&r);
	}
}


/* The producer's page, writable, as the producer could write it. */
static struct rp_ring_pside *pside_map(struct rp_test_ring *r)
{
	char *m = mmap(NULL, RP_P_SIDE_OFF + sizeof(struct rp_ring_pside),
		       PROT_READ | PROT_WRITE, MAP_SHARED, r->fds.p_fd, 0);

	CU_ASSERT_FATAL(m != MAP_FAILED);
	return (struct rp_ring_pside *)(m + RP_P_SIDE_OFF);
}

static void pside_unmap(struct rp_ring_pside *ps)
{
	munmap((char *)ps - RP_P_SIDE_OFF,
	       RP_P_SIDE_OFF + sizeof(struct rp_ring_pside));
}

/* Takes every record there is with the key checks a stage makes; the
 * last result (1 new, 0 a replay, -EBADMSG). */
static int take_all(struct rp_consumer *c, struct rp_keys *k)
{
	struct rp_view v;
	int got = 1;

	while (got >= 0 && rp_peek(c, &v) == 0)
		got = rp_keys_step(k, 1, 0, v.origin, v.sub, v.flags,
				   (v.flags & RP_REC_F_RESTART)
					   ? rp_consumer_restart_bound(c, v.pos)
					   : 0);
	return got;
}

/* A restarted source has no input to bound its earlier attaches' keys
 * by: its commit point does, with the count it saved plus one origin per
 * header that fits past the tail it was saved at (not the tail at its
 * publication, which covers records made after the save), and at least
 * what the attach before said.  A far key is caught at the restart; an
 * honest source is not blamed, also when it saved amid its replays,
 * below what an earlier attach had published. */
RP_TEST(test_source_restart_bound, 20)
{
	struct rp_test_ring r;
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_keys k;
	struct rp_ckpt ck;
	uint64_t b;

	for (int far = 0; far < 2; far++) {
		rp_test_ring_make(&r, 1 << 16, RP_RING_F_DEDUP, 0);
		c = rp_test_consumer(&r);
		memset(&k, 0, sizeof(k));
		p = rp_test_producer(&r);
		/* The first attach: no point, origins from 0. */
		CU_ASSERT_EQUAL(rp_producer_source_bound(p, 0, &b), 0);
		CU_ASSERT_EQUAL(b, 1);
		for (uint64_t i = 0; i < 10; i++)
			CU_ASSERT_FATAL(send_seq(p, 8, i) == 0);
		/* Saved at 10 before those are published; 10 to 14 are
		 * committed after it and published with it. */
		memset(&ck, 0, sizeof(ck));
		ck.seq = 10;
		rp_producer_set_ckpt(p, &ck);
		for (uint64_t i = 10; i < 15; i++)
			CU_ASSERT_FATAL(send_seq(p, 8, i) == 0);
		if (far)
			CU_ASSERT_FATAL(send_seq(p, 8, 1ull << 40) == 0);
		CU_ASSERT_FATAL(rp_flush(p) == 0);
		CU_ASSERT_EQUAL(take_all(c, &k), 1);
		rp_producer_close(p);

		/* The restart: 10 plus the records past the point (32
		 * bytes each, 24 a header at least) plus 1.  The far key's
		 * writer also said a bound near 2^62 for the attach after
		 * it: no more than the ring's headers (16 records of 32
		 * bytes) is believed of that. */
		if (far) {
			struct rp_ring_pside *ps = pside_map(&r);
			rp_store64_release(&ps->p_restart[3].bound, 1ull << 62);
			rp_store64_release(&ps->p_restart[3].pos, 16 * 32);
			pside_unmap(ps);
		}
		p = rp_test_producer(&r);
		CU_ASSERT_EQUAL(rp_producer_source_bound(p, 0, &b), 0);
		CU_ASSERT_EQUAL(b, far ? 16 * 32 / 24 + 1 : 10 + 5 * 32 / 24 + 1);
		for (uint64_t i = 10; i < 13; i++)
			CU_ASSERT_FATAL(send_seq(p, 8, i) == 0);
		CU_ASSERT_FATAL(rp_flush(p) == 0);
		if (far) {
			CU_ASSERT_EQUAL(take_all(c, &k), -EBADMSG);
			CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), -EBADMSG);
			rp_producer_close(p);
			rp_consumer_close(c);
			rp_test_ring_free(&r);
			continue;
		}
		CU_ASSERT_EQUAL(take_all(c, &k), 0); /* replays */
		/* Saved at 13 amid its replays, then gone: 13 and 14 the
		 * first attach made are past this point's own bound (14). */
		ck.seq = 13;
		rp_producer_set_ckpt(p, &ck);
		rp_producer_close(p);
		p = rp_test_producer(&r);
		CU_ASSERT_EQUAL(rp_producer_source_bound(p, 0, &b), 0);
		CU_ASSERT_EQUAL(b, 10 + 5 * 32 / 24 + 1);
		for (uint64_t i = 13; i < 17; i++)
			CU_ASSERT_FATAL(send_seq(p, 8, i) == 0);
		CU_ASSERT_FATAL(rp_flush(p) == 0);
		CU_ASSERT_EQUAL(take_all(c, &k), 1);
		CU_ASSERT_EQUAL(k.origin, 16);
		CU_ASSERT_EQUAL(rp_ring_verify(&r.fds, 1), 0);
		/* Said once, before the first commit. */
		CU_ASSERT_EQUAL(rp_producer_source_bound(p, 0, &b), -EINVAL);
		rp_producer_close(p);

		/* A point whose position is past the tail, or that counts
		 * more origins than headers fit before it, is not believed:
		 * the whole ring's headers bound the origins; without a
		 * point, numbering that did not begin at 0 is not bounded. */
		{
			struct rp_ring_pside *ps = pside_map(&r);
			static const uint64_t bad[][2] = {{20, 1ull << 40},
							  {1000, 24 * 8}};
			for (int i = 0; i < 2; i++) {
				ck.seq = bad[i][0];
				rp_ckpt_write(&ps->p_ckpt, -1, bad[i][1], &ck);
				p = rp_test_producer(&r);
				CU_ASSERT_EQUAL(
					rp_producer_source_bound(p, 0, &b),
					-EBADMSG);
				/* One origin per header the ring took. */
				CU_ASSERT_EQUAL(
					b, rp_load64_acquire(&ps->p_tail) / 24 +
						   1);
				rp_producer_close(p);
			}
			memset(&ps->p_ckpt, 0, sizeof(ps->p_ckpt));
			p = rp_test_producer(&r);
			CU_ASSERT_EQUAL(rp_producer_source_bound(p, 5, &b),
					-ENOENT);
			rp_producer_close(p);
			pside_unmap(ps);
		}
		rp_consumer_close(c);
		rp_test_ring_free(&r);
	}
}

/* A side opened early (a standby) takes up the cursors as they are when
 * it starts: the consumer the records after the last release, the
 * producer after the last publication.  Not with a peek or a commit
 * outstanding. */
RP_TEST(test_resync_takes_up_cursors, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_consumer *early_c = rp_test_consumer(&r);
	struct rp_producer *early_p;
	struct rp_view v, keep;

	for (uint64_t i = 0; i < 6; i++)
		CU_ASSERT_FATAL(send_seq(p, 24, i) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		keep = v;
	}
	CU_ASSERT_FATAL(rp_release_upto(c, &keep) == 0); /* 0..2 */
	rp_consumer_close(c); /* the running consumer dies */
	/* Without a resync the early one would start over at 0. */
	CU_ASSERT_EQUAL(rp_consumer_resync(early_c), 0);
	CU_ASSERT_FATAL(rp_peek(early_c, &v) == 0);
	CU_ASSERT_EQUAL(v.origin, 3);
	CU_ASSERT_EQUAL(rp_consumer_resync(early_c), -EBUSY);
	rp_rewind(early_c);

	/* The producer side: an early one opened before 6..7 went out. */
	early_p = rp_test_producer(&r);
	CU_ASSERT_FATAL(send_seq(p, 24, 6) == 0);
	CU_ASSERT_FATAL(send_seq(p, 24, 7) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	rp_producer_close(p);
	CU_ASSERT_EQUAL(rp_producer_resync(early_p), 0);
	CU_ASSERT_FATAL(send_seq(early_p, 24, 8) == 0);
	CU_ASSERT_EQUAL(rp_producer_resync(early_p), -EBUSY);
	CU_ASSERT_FATAL(rp_producer_end(early_p) == 0);
	for (uint64_t i = 3; i < 9; i++) {
		CU_ASSERT_FATAL(rp_peek(early_c, &v) == 0);
		CU_ASSERT_EQUAL(v.origin, i);
		CU_ASSERT(rp_test_verify(v.data, v.len, i));
	}
	CU_ASSERT_EQUAL(rp_peek(early_c, &v), -ENODATA);
	rp_consumer_close(early_c);
	rp_producer_close(early_p);
	rp_test_ring_free(&r);
}

/* Committing many records costs one publication; a waiting consumer gets
 * each commit at once. */
RP_TEST(test_batching, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 65536, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_ring_stats ps;
	struct rp_view v;

	for (uint64_t i = 0; i < 100; i++)
		CU_ASSERT_FATAL(send_seq(p, 8, i) == 0);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN); /* not yet published */
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	CU_ASSERT_FATAL(rp_producer_stats(p, &ps, NULL) == 0);
	CU_ASSERT_EQUAL(ps.batches, 1);
	CU_ASSERT_EQUAL(ps.records, 100);
	CU_ASSERT_EQUAL(ps.wakes, 0); /* nobody was parked */
	for (int i = 0; i < 100; i++)
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT_FATAL(rp_release(c) == 0);

	/* The consumer announces it waits: the next commit publishes.
	 * Once: the commits after it are batched again, for a consumer
	 * still announced but not running (it yielded, or the producer
	 * took its CPU) gains nothing from a publication per record. */
	rp_bell_announce(r.cbell);
	CU_ASSERT_FATAL(send_seq(p, 8, 100) == 0);
	CU_ASSERT_FATAL(send_seq(p, 8, 101) == 0);
	CU_ASSERT_FATAL(send_seq(p, 8, 102) == 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.origin == 100);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	/* It waits again (says so anew): the next commit publishes what
	 * was held back with it. */
	rp_bell_announce(r.cbell);
	CU_ASSERT_FATAL(send_seq(p, 8, 103) == 0);
	for (uint64_t i = 101; i <= 103; i++)
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.origin == i);
	rp_bell_retire(r.cbell);
	rp_bell_retire(r.cbell);
	CU_ASSERT_FATAL(rp_producer_stats(p, &ps, NULL) == 0);
	CU_ASSERT_EQUAL(ps.batches, 3);

	/* A batch fills: publication without a flush. */
	for (uint64_t i = 0; i < 400; i++)
		CU_ASSERT_FATAL(send_seq(p, 8, 104 + i) == 0);
	CU_ASSERT_EQUAL(rp_consumer_ready(c), 1);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

/* Whole origins: an origin's records wait for its last (a flush, a
 * waiting consumer, a full batch publish none of them), then go out
 * together; close publishes no part of one; and one that fills the ring
 * goes out as it is, said, rather than waiting for room its consumer
 * may never make. */

RP_TEST(test_whole_origins, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_view v;
	uint32_t sub = 0;
	int n = 0;
	void *dst;

	rp_producer_set_whole(p, 1);
	rp_bell_announce(r.cbell); /* a waiting consumer */
	CU_ASSERT_FATAL(send_part(p, 40, 0, 0, 0) == 0);
	CU_ASSERT_FATAL(send_part(p, 40, 0, 1, 0) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	CU_ASSERT_FATAL(send_part(p, 40, 0, 2, 1) == 0);
	for (uint32_t i = 0; i < 3; i++) {
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT(v.origin == 0 && v.sub == i);
	}
	CU_ASSERT_FATAL(rp_release(c) == 0);
	rp_bell_retire(r.cbell);

	/* Origin 1 outgrows the ring: 64 records of 64 bytes fill it,
	 * and go out as they are; the rest of it follows as room is
	 * made. */
	CU_ASSERT_EQUAL(rp_producer_gave_up_whole(p), 0);
	while (send_part(p, 40, 1, sub, 0) == 0)
		sub++;
	CU_ASSERT_EQUAL(sub, 64);
	CU_ASSERT_EQUAL(rp_producer_gave_up_whole(p), 1);
	while (rp_peek(c, &v) == 0)
		n++;
	CU_ASSERT_EQUAL(n, 64);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	CU_ASSERT_EQUAL(rp_producer_ready(p, 40), 1);
	CU_ASSERT_FATAL(send_part(p, 40, 1, sub, 1) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	CU_ASSERT_FATAL(rp_peek(c, &v) == 0 && v.sub == 64);
	CU_ASSERT_FATAL(rp_release(c) == 0);

	/* A part of origin 2, then the producer goes: none of it. */
	CU_ASSERT_FATAL(send_part(p, 40, 2, 0, 0) == 0);
	CU_ASSERT_FATAL(rp_reserve(p, 8, &dst) == 0);
	rp_producer_close(p);
	CU_ASSERT_EQUAL(rp_peek(c, &v), -EAGAIN);
	rp_consumer_close(c);
	rp_test_ring_free(&r);
}

RP_TEST(test_counters_observed, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	struct rp_ring_stats ps, cs;
	struct rp_view v;
	uint64_t used = 0;

	for (uint64_t i = 0; i < 20; i++)
		CU_ASSERT_FATAL(send_seq(p, (uint32_t)i, i) == 0);
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
	CU_ASSERT_FATAL(rp_release(c) == 0);
	CU_ASSERT_FATAL(rp_ring_observe(&r.fds, &ps, &cs, &used) == 0);
	CU_ASSERT_EQUAL(ps.records, 20);
	CU_ASSERT_EQUAL(ps.bytes, 190); /* 0 + 1 + ... + 19 */
	CU_ASSERT_EQUAL(cs.records, 5);
	CU_ASSERT_EQUAL(cs.bytes, 10);
	CU_ASSERT_EQUAL(cs.batches, 1);
	{
		uint64_t expect = 0;
		for (uint32_t i = 5; i < 20; i++)
			expect += rp_rec_size(i);
		CU_ASSERT_EQUAL(used, expect);
	}
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

RP_TEST(test_config_rejected, 10)
{
	struct rp_ring_fds f;
	struct rp_ring_config bad[] = {
		{.capacity = 0},
		{.capacity = 2048},
		{.capacity = 12288},
		{.capacity = 4096, .max_record = 4096},
		{.capacity = 4096, .max_record = 2048},
		{.capacity = 4096, .flags = 0x100},
		{.capacity = 4096, .flags = RP_RING_F_MP_CONSUMERS},
		{.capacity = 4096, .flags = RP_RING_F_MP_CONSUMERS,
		 .nslots = RP_MP_MAX_SLOTS + 1},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(rp_ring_create(&bad[i], &f), -EINVAL);
		CU_ASSERT(f.p_fd == -1 && f.c_fd == -1);
	}
}

/* The consumer is gone for good: a full producer gets -EPIPE at once. */
RP_TEST(test_broken_ring, 20)
{
	struct rp_test_ring r;
	rp_test_ring_make(&r, 4096, 0, 0);
	struct rp_producer *p = rp_test_producer(&r);
	struct rp_consumer *c = rp_test_consumer(&r);
	int64_t t0;
	void *dst;

	while (send_seq(p, 100, 0) == 0)
		;
	CU_ASSERT_FATAL(rp_consumer_break(c) == 0);
	t0 = rp_now_ns();
	CU_ASSERT_EQUAL(rp_reserve_wait(p, 100, 5000000000LL, &dst), -EPIPE);
	CU_ASSERT(rp_now_ns() - t0 < 1000000000); /* at once, not in 5 s */
	CU_ASSERT_EQUAL(rp_reserve(p, 0, &dst), -EPIPE); /* sticky */
	CU_ASSERT_EQUAL(rp_producer_ready(p, 0), -EPIPE);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

static struct rp_test_ring blocked_ring;

static int blocked_producer(void *arg)
{
	struct rp_producer *p = rp_test_producer(&blocked_ring);
	int64_t t0;
	void *dst;
	int err;

	(void)arg;
	while (send_seq(p, 100, 0) == 0)
		;
	t0 = rp_now_ns();
	err = rp_reserve_wait(p, 100, 10000000000LL, &dst);
	if (err != -EPIPE)
		return 1;
	if (rp_now_ns() - t0 > 5000000000LL)
		return 2;
	return 0;
}

/* A producer blocked on a full ring wakes with -EPIPE when the
 * supervisor marks the ring broken on behalf of a dead consumer. */
RP_TEST(test_broken_wakes_blocked_producer, 30)
{
	pid_t pid;
	int st;

	rp_test_ring_make(&blocked_ring, 4096, 0, 0);
	pid = rp_test_fork(blocked_producer, NULL);
	CU_ASSERT_FATAL(pid > 0);
	usleep(200000); /* let it fill the ring and park */
	CU_ASSERT_FATAL(rp_ring_mark_broken(&blocked_ring.fds,
					    blocked_ring.pbell) == 0);
	st = rp_test_wait(pid, 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	rp_test_ring_free(&blocked_ring);
}

void rp_suite_ring(void)
{
	RP_SUITE("ring", {"wrap at every boundary", test_wrap_every_boundary},
		 {"wrap with batches in flight", test_wrap_batched},
		 {"largest record", test_largest_record},
		 {"full and empty", test_full_and_empty},
		 {"end of stream after drain", test_eof_after_drain},
		 {"one outstanding reservation", test_one_reservation},
		 {"origin metadata round trip", test_metadata_roundtrip},
		 {"unreleased records redelivered",
		  test_redelivery_after_reattach},
		 {"producer re-attach", test_producer_reattach},
		 {"restart marks and the order of keys",
		  test_restart_mark_and_key_order},
		 {"a restarted source bounds its earlier keys",
		  test_source_restart_bound},
		 {"an early side takes up the cursors",
		  test_resync_takes_up_cursors},
		 {"batched publication", test_batching},
		 {"whole origins: published together, or as they are when one fills the ring",
		  test_whole_origins},
		 {"counters for an observer", test_counters_observed},
		 {"bad configurations rejected", test_config_rejected},
		 {"broken ring fails at once", test_broken_ring},
		 {"broken ring wakes a blocked producer",
		  test_broken_wakes_blocked_producer});
}
