/*
 * fuzz_ring.c - a ring's shared memory written by a hostile peer.
 *
 * The input picks a ring (capacity, single or several producers or
 * consumers, dedup, ordered), then runs a script: an honest producer and
 * consumer of this process send, peek, release, reattach; between their
 * steps, bytes are written anywhere in either segment (a compromised
 * stage can write all of its own, and a producer its whole segment,
 * header and data included); and the supervisor's readers look at the
 * ring.  Nothing may crash or read out of bounds; a record delivered
 * lies inside the mapping with a length within the ring's largest; a
 * side that found the format broken keeps saying so.
 *
 * Left alone: the robust mutexes' own bytes.  Copies of a stage share
 * them read-write and trust each other (README, Known limits); the
 * ring's peer cannot write them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../ipc/ring_int.h"
#include "fuzz.h"

#define MAX_OPS 400

static struct rp_bell *pbell, *cbell;

struct world {
	struct rp_ring_fds fds;
	uint32_t cap, flags;
	unsigned char *pseg, *cseg;
	struct rp_producer *p;
	struct rp_consumer *c;
	int p_bad, c_bad; /* -EBADMSG seen */
	struct rp_ring_geo made;
	struct rp_ring_watch watch;
	int watching;
};

static int in_mutex(uint64_t seg_off, int producer_seg)
{
	uint64_t at = producer_seg ? RP_P_SIDE_OFF + 0x100 : RP_C_SIDE_OFF + 0x100;

	return seg_off >= at && seg_off < at + RP_MUTEX_BYTES;
}

static void patch(struct world *w, struct fz_in *in, int producer_seg)
{
	uint64_t size = producer_seg ? RP_P_DATA_OFF + (uint64_t)w->cap
				     : RP_C_SEG_SIZE;
	unsigned char *seg = producer_seg ? w->pseg : w->cseg;
	uint64_t off = fz_u16(in);
	unsigned n = fz_u8(in) % 33;
	unsigned char b[32];

	/* Offsets aim at the pages more often than at the data. */
	if (producer_seg && (off & 0x8000))
		off = RP_P_SIDE_OFF + (off & 0xfff);
	off %= size;
	n = (unsigned)fz_bytes(in, b, n);
	for (unsigned i = 0; i < n && off + i < size; i++)
		if (!in_mutex(off + i, producer_seg))
			seg[off + i] = b[i];
}

static int producer_attach(struct world *w)
{
	struct rp_ring_fds side;
	int err = rp_ring_fds_for_producer(&w->fds, &side);

	if (err)
		return err;
	if ((err = rp_producer_attach(&side, pbell, cbell, 1, &w->p)) != 0)
		w->p = NULL;
	w->p_bad = 0;
	rp_ring_fds_close(&side);
	if (w->p)
		rp_ring_set_lock_timeout(w->p, NULL, 20 * 1000000LL);
	return err;
}

static int consumer_attach(struct world *w)
{
	struct rp_ring_fds side;
	int err = rp_ring_fds_for_consumer(&w->fds, &side);

	if (err)
		return err;
	if ((err = rp_consumer_attach(&side, cbell, pbell, 1, &w->c)) != 0)
		w->c = NULL;
	w->c_bad = 0;
	rp_ring_fds_close(&side);
	if (w->c)
		rp_ring_set_lock_timeout(NULL, w->c, 20 * 1000000LL);
	return err;
}

/* What a side answered.  Once it found the format broken, a reserve or
 * a peek (sticky: 1) says so again: nothing more is read from that ring
 * (a release or a flush of nothing may still succeed). */
static void p_said(struct world *w, int err, int sticky)
{
	if (w->p_bad && sticky)
		FZ_CHECK(err == -EBADMSG || err == -EPIPE);
	if (err == -EBADMSG)
		w->p_bad = 1;
}

static void c_said(struct world *w, int err, int sticky)
{
	if (w->c_bad && sticky)
		FZ_CHECK(err == -EBADMSG);
	if (err == -EBADMSG)
		w->c_bad = 1;
}

static void send_one(struct world *w, struct fz_in *in)
{
	uint32_t max = rp_producer_max_record(w->p);
	uint32_t len = fz_u16(in) % (max + 1);
	struct rp_meta m = {.origin = fz_u64(in) % 1000, .sub = fz_u8(in) % 4,
			    .type = RP_REC_T_DATA,
			    .flags = fz_u8(in) & RP_REC_F_LAST};
	void *dst = NULL;
	int err = rp_reserve(w->p, len, &dst);

	p_said(w, err, 1);
	if (err)
		return;
	FZ_CHECK(dst != NULL);
	memset(dst, (int)(len & 0xff), len);
	err = rp_commit(w->p, len, &m);
	p_said(w, err, 0);
	if (err)
		p_said(w, rp_abandon(w->p), 0);
}

static void view_check(const struct rp_consumer *c, const struct rp_view *v)
{
	const unsigned char *d = v->data, *lo = c->m.sh_data;
	volatile unsigned char sink = 0;

	FZ_CHECK(v->len <= c->m.max_record);
	FZ_CHECK(((uintptr_t)d & 7) == 0);
	FZ_CHECK(d >= lo && d < lo + c->m.cap);
	FZ_CHECK(d + v->len <= lo + 2 * (uint64_t)c->m.cap);
	FZ_CHECK(v->end > v->pos && v->end - v->pos == rp_rec_size(v->len));
	for (uint32_t i = 0; i < v->len; i++)
		sink ^= d[i];
	(void)sink;
}

/* Would the supervisor take rp_ring_verify's word on this ring?  Only
 * with its geometry as made and its cursors in line: otherwise it pins
 * the change on a side first (run.c), whatever verify says. */
static int verify_judges(struct world *w)
{
	if (rp_ring_geometry_changed(&w->fds, &w->made) != 0)
		return 0;
	if (w->watching) {
		rp_ring_watch_sample(&w->watch);
		if (rp_ring_watch_culprits(&w->watch) != 0)
			return 0;
	}
	return 1;
}

/* A consumer restarted on a ring the supervisor found sound reads it to
 * its tail without finding the format broken: else that consumer, honest,
 * would be failed for a false claim (the supervisor checks a claim with
 * rp_ring_verify).  Several consumers keep no walk the supervisor
 * repeats. */
static void judged_restart(struct world *w)
{
	struct rp_view v;
	int sound, err;

	if (w->flags & RP_RING_F_MP_CONSUMERS)
		return;
	sound = verify_judges(w) && rp_ring_verify(&w->fds, 1) == 0;
	if (w->c)
		rp_consumer_close(w->c);
	w->c = NULL;
	err = consumer_attach(w);
	if (sound)
		FZ_CHECK(err != -EBADMSG);
	if (w->c == NULL)
		return;
	for (int i = 0; i < 4096 && (err = rp_peek(w->c, &v)) == 0; i++)
		view_check(w->c, &v);
	if (sound)
		FZ_CHECK(err != -EBADMSG);
	c_said(w, err, 1);
	rp_rewind(w->c);
}

/* The same for a producer restarted on a ring found sound as its
 * producer sees it: it attaches, and says whether it has room without
 * finding the format broken. */
static void judged_producer_restart(struct world *w)
{
	int sound, err;

	if (w->flags & RP_RING_F_MP_PRODUCERS)
		return;
	sound = verify_judges(w) && rp_ring_verify(&w->fds, 0) == 0;
	if (w->p)
		rp_producer_close(w->p);
	w->p = NULL;
	err = producer_attach(w);
	if (sound)
		FZ_CHECK(err != -EBADMSG);
	if (w->p == NULL)
		return;
	err = rp_producer_ready(w->p, 8);
	if (sound)
		FZ_CHECK(err != -EBADMSG);
	if (err < 0)
		p_said(w, err, 1);
}

/* What the supervisor reads of a stage's ring: never a crash, whatever
 * the pages hold. */
static void supervise(struct world *w, struct fz_in *in)
{
	unsigned char buf[256];
	struct rp_found f;
	struct rp_ring_stats ps, cs;
	struct rp_lock_sample ls;
	uint64_t seq = 0, head = 0, used = 0;
	int rc;

	rc = rp_ring_verify(&w->fds, fz_u8(in) & 1);
	FZ_CHECK(rc == 0 || rc == -EBADMSG);
	rc = rp_ring_geometry_changed(&w->fds, &w->made);
	FZ_CHECK(rc >= 0 && rc <= (RP_SIDE_PRODUCER | RP_SIDE_CONSUMER));
	if (w->watching) {
		rp_ring_watch_sample(&w->watch);
		rc = rp_ring_watch_culprits(&w->watch);
		FZ_CHECK(rc >= 0 && rc <= (RP_SIDE_PRODUCER | RP_SIDE_CONSUMER));
	}
	memset(&f, 0, sizeof(f));
	rc = rp_ring_find(&w->fds, fz_u16(in), buf, fz_u8(in), &f);
	if (rc == 0)
		FZ_CHECK(f.len <= w->cap);
	rc = rp_ring_read_at(&w->fds, fz_u16(in) & ~7u, buf, fz_u8(in), &f,
			     &head);
	if (rc == 0)
		FZ_CHECK(f.len <= w->cap);
	rp_ring_commit_seq(&w->fds, &seq);
	if (rp_ring_observe(&w->fds, &ps, &cs, &used) == 0)
		FZ_CHECK(used <= w->cap);
	if (w->flags & RP_RING_F_MP)
		rp_ring_lock_sample(&w->fds, !!(w->flags & RP_RING_F_MP_PRODUCERS),
				    &ls);
}

static void step(struct world *w, struct fz_in *in)
{
	struct rp_view v;
	struct rp_ckpt ck;
	uint64_t n;
	int err;

	switch (fz_u8(in) % 16) {
	case 0: case 1: patch(w, in, 1); break;
	case 2: patch(w, in, 0); break;
	case 3: case 4:
		if (w->p)
			send_one(w, in);
		break;
	case 5:
		if (w->p)
			p_said(w, rp_flush(w->p), 0);
		break;
	case 6: case 7:
		if (w->c) {
			err = rp_peek(w->c, &v);
			c_said(w, err, 1);
			if (err == 0)
				view_check(w->c, &v);
		}
		break;
	case 8:
		if (w->c)
			c_said(w, rp_release(w->c), 0);
		break;
	case 9:
		if (w->c) {
			memset(&ck, 0, sizeof(ck));
			ck.seq = fz_u16(in);
			ck.origin = fz_u16(in);
			ck.flags = fz_u8(in);
			c_said(w, rp_release_ckpt(w->c, &ck), 0);
		}
		break;
	case 10:
		if (w->c)
			rp_rewind(w->c);
		break;
	case 11:
		if (w->c)
			rp_consumer_close(w->c);
		w->c = NULL;
		consumer_attach(w);
		break;
	case 12:
		if (w->p)
			rp_producer_close(w->p);
		w->p = NULL;
		producer_attach(w);
		if (w->p && (fz_u8(in) & 1)) {
			n = 0;
			if (rp_producer_source_bound(w->p, fz_u8(in), &n) ==
			    -EBADMSG)
				FZ_CHECK(n > 0);
		} else if (w->p && (fz_u8(in) & 1)) {
			rp_producer_set_restart_bound(w->p, fz_u16(in));
		}
		break;
	case 13:
		if (w->p)
			p_said(w, rp_producer_end(w->p), 0);
		break;
	case 14:
		if (w->c) {
			err = rp_consumer_ready(w->c);
			if (err < 0)
				c_said(w, err, 1);
			if (rp_consumer_ahead_max(w->c, &n) == 0)
				FZ_CHECK(n <= w->cap / sizeof(struct rp_rec_hdr));
			(void)rp_consumer_restart_bound(w->c, fz_u16(in));
			(void)rp_consumer_my_turn(w->c);
		}
		if (w->p) {
			err = rp_producer_ready(w->p, fz_u16(in) % 512);
			if (err < 0)
				p_said(w, err, 1);
		}
		break;
	case 15:
		supervise(w, in);
		switch (fz_u8(in)) {
		case 0xff:
			rp_ring_mark_dead(&w->fds, (int32_t)fz_u32(in));
			break;
		case 0xfe: case 0xfd: case 0xfc:
			judged_restart(w);
			break;
		case 0xfb: case 0xfa:
			judged_producer_restart(w);
			break;
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	uint8_t k = fz_u8(&in);
	struct world w;
	struct rp_ring_config cfg;

	if (pbell == NULL) {
		FZ_CHECK(rp_bell_create(0, &pbell) == 0);
		FZ_CHECK(rp_bell_create(0, &cbell) == 0);
	}
	memset(&w, 0, sizeof(w));
	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = 4096u << (k & 3);
	if (k & 0x04)
		cfg.flags |= RP_RING_F_DEDUP;
	if (k & 0x08)
		cfg.flags |= RP_RING_F_MP_CONSUMERS;
	if (k & 0x10)
		cfg.flags |= RP_RING_F_MP_PRODUCERS;
	if ((k & 0x20) && (k & 0x08))
		cfg.flags |= RP_RING_F_ORDERED;
	if (cfg.flags & RP_RING_F_MP)
		cfg.nslots = 2;
	if (k & 0x40)
		cfg.max_record = 64 + (fz_u16(&in) % 512);
	if (rp_ring_create(&cfg, &w.fds) != 0)
		return 0;
	w.cap = cfg.capacity;
	w.flags = cfg.flags;
	w.pseg = mmap(NULL, RP_P_DATA_OFF + (size_t)w.cap,
		      PROT_READ | PROT_WRITE, MAP_SHARED, w.fds.p_fd, 0);
	w.cseg = mmap(NULL, RP_C_SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      w.fds.c_fd, 0);
	FZ_CHECK(w.pseg != MAP_FAILED && w.cseg != MAP_FAILED);
	FZ_CHECK(rp_ring_geometry(&w.fds, &w.made) == 0);
	w.watching = rp_ring_watch_open(&w.fds, &w.made, &w.watch) == 0;
	producer_attach(&w);
	consumer_attach(&w);
	for (int i = 0; i < MAX_OPS && in.n > 0; i++)
		step(&w, &in);
	if (w.c)
		rp_consumer_close(w.c);
	if (w.p)
		rp_producer_close(w.p);
	if (w.watching)
		rp_ring_watch_close(&w.watch);
	munmap(w.pseg, RP_P_DATA_OFF + (size_t)w.cap);
	munmap(w.cseg, RP_C_SEG_SIZE);
	rp_ring_fds_close(&w.fds);
	return 0;
}
