/*
 * ring.c - record rings: creation, attach, and the single-producer /
 * single-consumer paths.  Multi-participant claims are in ring_mp.c.
 *
 * Design note
 * -----------
 * The producer owns p_tail, the consumer owns c_head; both are free-running
 * byte cursors, and tail - head is the number of bytes in flight.  The
 * producer writes records at its private tail and publishes them with one
 * release store of p_tail (pairs with the consumer's acquire load in
 * spsc_refresh_tail()), then rings the consumer's bell.  The consumer reads
 * and validates records in place, and hands space back with one release
 * store of c_head (pairs with the producer's acquire load in
 * refresh_head()), then rings the producer's bell.  Each side caches the
 * peer's cursor and re-reads it only when the cached value says it must
 * wait, so in steady state each side touches the peer's line once per
 * batch.  A peer cursor is validated against the private one before use:
 * it may only move forward and never past the other cursor by more than
 * the capacity.  One that fails is looked at again for a moment
 * (rp_cursor_settle) before the ring is called broken: its owner may have
 * scribbled it and be about to store over it, and garbage never acted on
 * did no harm, while a claim of a broken ring that the supervisor then
 * finds sound is held against the claimant.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../shm/crashpoint.h"
#include "../shm/futex.h"
#include "../shm/robust.h"
#include "../shm/segment.h"
#include "ring_int.h"

#define RP_DEFAULT_LOCK_TIMEOUT_NS (1000 * 1000 * 1000LL)

/* ---------------------------------------------------------------- create */

uint32_t rp_ring_largest_record(uint32_t capacity)
{
	return (capacity / 2 - (uint32_t)sizeof(struct rp_rec_hdr)) & ~7u;
}

static int cfg_check(const struct rp_ring_config *cfg, uint32_t *max_record)
{
	uint32_t cap = cfg->capacity, limit;

	if (cap < RP_RING_MIN_CAPACITY || cap > RP_RING_MAX_CAPACITY ||
	    (cap & (cap - 1)) != 0)
		return -EINVAL;
	if (cfg->flags & ~RP_RING_F_ALL)
		return -EINVAL;
	if ((cfg->flags & RP_RING_F_MP) &&
	    (cfg->nslots == 0 || cfg->nslots > RP_MP_MAX_SLOTS))
		return -EINVAL;
	if ((cfg->flags & RP_RING_F_ORDERED) &&
	    !(cfg->flags & RP_RING_F_MP_CONSUMERS))
		return -EINVAL;
	if (cfg->nproducers > cfg->nslots ||
	    (cfg->nproducers && !(cfg->flags & RP_RING_F_MP_PRODUCERS)))
		return -EINVAL;
	limit = rp_ring_largest_record(cap);
	/* Multiples of 8, so a voided claim can always be padded exactly. */
	*max_record = cfg->max_record == 0 ? limit : cfg->max_record & ~7u;
	if (*max_record > limit)
		return -EINVAL;
	return 0;
}

static int mp_side_init(struct rp_mp_side *side)
{
	memset(side, 0, sizeof(*side));
	return rp_mutex_init(side->m_mutex);
}

int rp_ring_create(const struct rp_ring_config *cfg, struct rp_ring_fds *out)
{
	struct rp_ring_fds f = {-1, -1};
	struct rp_ring_hdr *h;
	void *pm = NULL, *cm = NULL;
	uint32_t max_record;
	int err;

	out->p_fd = out->c_fd = -1;
	err = cfg_check(cfg, &max_record);
	if (err)
		return err;
	err = rp_memfd_create("ringpipe-ring-p",
			      (uint64_t)RP_P_DATA_OFF + cfg->capacity, &f.p_fd);
	if (err)
		goto out;
	err = rp_memfd_create("ringpipe-ring-c", RP_C_SEG_SIZE, &f.c_fd);
	if (err)
		goto out;
	err = rp_map(f.p_fd, 0, RP_P_DATA_OFF, 1, &pm);
	if (!err)
		err = rp_map(f.c_fd, 0, RP_C_SEG_SIZE, 1, &cm);
	if (err)
		goto out;
	h = pm;
	h->s_magic = RP_RING_MAGIC;
	h->s_version = RP_RING_VERSION;
	h->s_hdr_size = sizeof(*h);
	h->s_capacity = cfg->capacity;
	h->s_max_record = max_record;
	h->s_flags = cfg->flags;
	h->s_nslots = (cfg->flags & RP_RING_F_MP) ? cfg->nslots : 0;
	h->s_nproducers = !(cfg->flags & RP_RING_F_MP_PRODUCERS) ? 0
			  : cfg->nproducers ? cfg->nproducers
					    : cfg->nslots;
	h->s_p_seg_size = (uint64_t)RP_P_DATA_OFF + cfg->capacity;
	h->s_data_off = RP_P_DATA_OFF;
	if (cfg->flags & RP_RING_F_MP_PRODUCERS) {
		struct rp_ring_pside *ps =
			(void *)((unsigned char *)pm + RP_P_SIDE_OFF);
		err = mp_side_init(&ps->p_mp);
	}
	if (!err && (cfg->flags & RP_RING_F_MP_CONSUMERS)) {
		struct rp_ring_cside *cs = cm;
		err = mp_side_init(&cs->c_mp);
	}
	if (!err) {
		struct rp_ring_cside *cs = cm;
		cs->s_magic = RP_RING_MAGIC;
		cs->s_capacity = h->s_capacity;
		cs->s_max_record = h->s_max_record;
		cs->s_flags = h->s_flags;
		cs->s_nslots = h->s_nslots;
	}
	if (err)
		goto out;
	*out = f;
	f.p_fd = f.c_fd = -1;
out:
	rp_unmap(pm, RP_P_DATA_OFF);
	rp_unmap(cm, RP_C_SEG_SIZE);
	rp_ring_fds_close(&f);
	return err;
}

void rp_ring_fds_close(struct rp_ring_fds *fds)
{
	rp_close_fd(&fds->p_fd);
	rp_close_fd(&fds->c_fd);
}

static int fds_for_side(const struct rp_ring_fds *fds, int producer,
			struct rp_ring_fds *out)
{
	int rw = producer ? fds->p_fd : fds->c_fd;
	int ro = producer ? fds->c_fd : fds->p_fd;
	int a = -1, b = -1, err;

	out->p_fd = out->c_fd = -1;
	a = fcntl(rw, F_DUPFD_CLOEXEC, 0);
	if (a < 0)
		return -errno;
	err = rp_fd_reopen_ro(ro, &b);
	if (err) {
		rp_close_fd(&a);
		return err;
	}
	out->p_fd = producer ? a : b;
	out->c_fd = producer ? b : a;
	return 0;
}

int rp_ring_fds_for_producer(const struct rp_ring_fds *fds,
			     struct rp_ring_fds *out)
{
	return fds_for_side(fds, 1, out);
}

int rp_ring_fds_for_consumer(const struct rp_ring_fds *fds,
			     struct rp_ring_fds *out)
{
	return fds_for_side(fds, 0, out);
}

/* ---------------------------------------------------------------- attach */

/* Read the header once, with pread (not through a mapping a peer could
 * change under us), and validate it against the segments. */
static int hdr_load(const struct rp_ring_fds *fds, struct rp_ring_hdr *h)
{
	struct {
		uint64_t c_head;
		uint32_t c_broken, s_magic, s_capacity, s_max_record, s_flags,
			s_nslots;
	} cs;
	_Static_assert(offsetof(__typeof__(cs), s_magic) ==
			       offsetof(struct rp_ring_cside, s_magic) &&
		       offsetof(__typeof__(cs), s_nslots) ==
			       offsetof(struct rp_ring_cside, s_nslots),
		       "pread copy of the consumer page's geometry");
	uint32_t cap, limit;
	ssize_t n;
	int err;

	n = pread(fds->p_fd, h, sizeof(*h), RP_P_HDR_OFF);
	if (n != (ssize_t)sizeof(*h))
		return n < 0 ? -errno : -EBADMSG;
	cap = h->s_capacity;
	if (h->s_magic != RP_RING_MAGIC || h->s_version != RP_RING_VERSION ||
	    h->s_hdr_size != sizeof(*h))
		return -EBADMSG;
	if (cap < RP_RING_MIN_CAPACITY || cap > RP_RING_MAX_CAPACITY ||
	    (cap & (cap - 1)) != 0)
		return -EBADMSG;
	limit = rp_ring_largest_record(cap);
	if (h->s_max_record > limit || (h->s_max_record & 7) ||
	    (h->s_flags & ~RP_RING_F_ALL) ||
	    h->s_nslots > RP_MP_MAX_SLOTS ||
	    h->s_nproducers > h->s_nslots ||
	    ((h->s_flags & RP_RING_F_MP_PRODUCERS) != 0) !=
		    (h->s_nproducers != 0) ||
	    ((h->s_flags & RP_RING_F_MP) != 0) != (h->s_nslots != 0) ||
	    h->s_data_off != RP_P_DATA_OFF ||
	    h->s_p_seg_size != (uint64_t)RP_P_DATA_OFF + cap)
		return -EBADMSG;
	/* A segment of another size than the header claims is a broken
	 * format, whoever wrote the header. */
	err = rp_memfd_check(fds->p_fd, h->s_p_seg_size);
	if (!err)
		err = rp_memfd_check(fds->c_fd, RP_C_SEG_SIZE);
	if (err == -EINVAL)
		return -EBADMSG;
	if (err)
		return err;
	/* The geometry must match the creator's copy on the consumer's
	 * page: a producer rewriting its header (say, switching on MP
	 * consumers) cannot change what a consumer attaches to. */
	n = pread(fds->c_fd, &cs, sizeof(cs), RP_C_SIDE_OFF);
	if (n != (ssize_t)sizeof(cs))
		return n < 0 ? -errno : -EBADMSG;
	if (cs.s_magic != RP_RING_MAGIC || cs.s_capacity != h->s_capacity ||
	    cs.s_max_record != h->s_max_record || cs.s_flags != h->s_flags ||
	    cs.s_nslots != h->s_nslots)
		return -EBADMSG;
	return 0;
}

static void map_close(struct rp_ring_map *m)
{
	rp_unmap(m->p_map, RP_P_DATA_OFF);
	rp_unmap(m->c_map, RP_C_SEG_SIZE);
	rp_unmap(m->sh_data, 2 * (uint64_t)m->cap);
	memset(m, 0, sizeof(*m));
}

/* Map this side's segment read-write and the peer's read-only, through a
 * read-only reopen so that not even our own bugs can write it. */
static int map_open(const struct rp_ring_fds *fds, int producer,
		    struct rp_ring_map *m)
{
	struct rp_ring_hdr h;
	int ro_fd = -1, err;

	memset(m, 0, sizeof(*m));
	err = hdr_load(fds, &h);
	if (err)
		return err;
	m->cap = h.s_capacity;
	m->mask = h.s_capacity - 1;
	m->max_record = h.s_max_record;
	m->flags = h.s_flags;
	m->nslots = h.s_nslots;
	m->nproducers = h.s_nproducers;
	m->lock_timeout_ns = RP_DEFAULT_LOCK_TIMEOUT_NS;

	err = rp_fd_reopen_ro(producer ? fds->c_fd : fds->p_fd, &ro_fd);
	if (err)
		return err;
	if (producer) {
		err = rp_map(fds->p_fd, 0, RP_P_DATA_OFF, 1, &m->p_map);
		if (!err)
			err = rp_map(ro_fd, 0, RP_C_SEG_SIZE, 0, &m->c_map);
		if (!err)
			err = rp_map_mirror(fds->p_fd, RP_P_DATA_OFF, m->cap, 1,
					    (void **)&m->sh_data);
	} else {
		err = rp_map(ro_fd, 0, RP_P_DATA_OFF, 0, &m->p_map);
		if (!err)
			err = rp_map(fds->c_fd, 0, RP_C_SEG_SIZE, 1, &m->c_map);
		if (!err)
			err = rp_map_mirror(ro_fd, RP_P_DATA_OFF, m->cap, 0,
					    (void **)&m->sh_data);
	}
	rp_close_fd(&ro_fd);
	if (err) {
		uint32_t cap = m->cap;
		map_close(m);
		m->cap = cap;
		return err;
	}
	m->sh_p = (void *)((unsigned char *)m->p_map + RP_P_SIDE_OFF);
	m->sh_c = m->c_map;
	return 0;
}

/* A single producer resumes where the last producer on this ring
 * published. */
/* Head and tail as of one moment.  Both sides may be running (a standby
 * maps the ring while the stage it stands in for still works it): the
 * head is read again around the tail, until it held still.  Monotonic, so
 * unchanged means it had that value when the tail was read. */
static void cursors(const struct rp_ring_map *m, uint64_t *hd, uint64_t *t)
{
	for (int i = 0; i < 1000; i++) {
		*hd = rp_load64_acquire(&m->sh_c->c_head);
		*t = rp_load64_acquire(&m->sh_p->p_tail);
		if (rp_load64_acquire(&m->sh_c->c_head) == *hd)
			return;
	}
}

/* The bound of the replays of the attach whose first record is at pos,
 * as its producer stored it (a copy, its position read twice around it:
 * a later attach may be writing over that entry); 0 if none is kept. */
static uint64_t restart_bound_at(const struct rp_ring_pside *ps, uint64_t pos)
{
	for (unsigned i = 0; i < RP_RESTARTS; i++) {
		const struct rp_restart_shm *e = &ps->p_restart[i];
		uint64_t bound;
		if (rp_load64_acquire(&e->pos) != pos)
			continue;
		bound = rp_load64_relaxed(&e->bound);
		rp_fence_acquire();
		if (rp_load64_relaxed(&e->pos) == pos)
			return bound;
	}
	return 0;
}

static int producer_sync(struct rp_producer *p)
{
	uint64_t t, hd;
	int64_t until = 0;

	/* A cursor its running owner has just scribbled is looked at again
	 * for a moment, as at every later read (rp_cursor_settle). */
	for (;;) {
		cursors(&p->m, &hd, &t);
		if (t - hd <= p->m.cap && !(t & 7) && !(hd & 7))
			break;
		if (rp_cursor_settle(p->no_settle, &until))
			return -EBADMSG;
	}
	p->tail = p->pub_tail = p->whole_tail = t;
	p->head_cache = hd;
	p->ck_set = 0;
	return 0;
}

/* A single consumer gets everything after the last release again. */
static int consumer_sync(struct rp_consumer *c)
{
	uint64_t hd, t;
	int64_t until = 0;
	int err = 0;

	for (;;) {
		cursors(&c->m, &hd, &t);
		if (t - hd <= c->m.cap && !(t & 7) && !(hd & 7))
			break;
		if ((err = rp_cursor_settle(c->no_settle, &until)))
			break;
	}
	c->rd = c->head = c->tail_cache = hd;
	/* The commit point of the release that stored this head. */
	c->ck_slot = rp_ckpt_pick(&c->m.sh_c->c_ckpt, 1, hd, &c->ck);
	return err;
}

/* This attach's first record goes at the tail and its replays stay
 * below bound: said in the entry for that position, or the oldest one,
 * before the record can be published. */
static void restart_announce(struct rp_producer *p, uint64_t bound)
{
	struct rp_restart_shm *e = &p->m.sh_p->p_restart[0];

	for (unsigned i = 0; i < RP_RESTARTS; i++) {
		struct rp_restart_shm *x = &p->m.sh_p->p_restart[i];
		uint64_t at = rp_load64_relaxed(&x->pos);
		if (at == p->tail) {
			/* An attach before this one published nothing: its
			 * entry stays whole (a death amid this store leaves
			 * one bound or the other, both sound). */
			rp_store64_release(&x->bound, bound);
			return;
		}
		if (at == ~0ull || at < rp_load64_relaxed(&e->pos))
			e = x;
	}
	rp_store64_relaxed(&e->pos, ~0ull);
	rp_fence_release();
	rp_store64_relaxed(&e->bound, bound);
	rp_store64_release(&e->pos, p->tail);
}

void rp_producer_set_restart_bound(struct rp_producer *p, uint64_t bound)
{
	if (p->slot < 0 && p->restart_mark && !p->resv_out)
		restart_announce(p, bound);
}

uint64_t rp_consumer_restart_bound(const struct rp_consumer *c,
				   uint64_t pos)
{
	return restart_bound_at(c->m.sh_p, pos);
}

int rp_consumer_ahead_max(const struct rp_consumer *c, uint64_t *n)
{
	uint64_t t = rp_load64_acquire(&c->m.sh_p->p_tail);

	*n = 0;
	if (c->slot >= 0 || t - c->rd > c->m.cap || (t & 7))
		return -EBADMSG;
	*n = (t - c->rd) / sizeof(struct rp_rec_hdr);
	return 0;
}

int rp_producer_resync(struct rp_producer *p)
{
	int err;

	if (p->slot >= 0)
		return -ENOTSUP;
	if (p->resv_out || p->tail != p->pub_tail)
		return -EBUSY;
	if ((err = producer_sync(p)) == 0)
		p->restart_mark = 1;
	return err;
}

int rp_consumer_resync(struct rp_consumer *c)
{
	if (c->slot >= 0)
		return -ENOTSUP;
	if (c->rd != c->head)
		return -EBUSY;
	return consumer_sync(c);
}

int rp_producer_open(const struct rp_ring_fds *fds, struct rp_bell *own,
		     struct rp_bell *peer, struct rp_producer **out)
{
	return rp_producer_attach(fds, own, peer, 0, out);
}

int rp_producer_attach(const struct rp_ring_fds *fds, struct rp_bell *own,
		       struct rp_bell *peer, int no_settle,
		       struct rp_producer **out)
{
	struct rp_producer *p;
	int err;

	*out = NULL;
	if (own == NULL || peer == NULL)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->slot = -1;
	p->no_settle = no_settle;
	err = map_open(fds, 1, &p->m);
	if (err) {
		free(p);
		return err;
	}
	p->own = own;
	p->peer = peer;
	/* Bounds how long a record can wait while its consumer is busy:
	 * 16 KiB, or an eighth of a small ring. */
	p->batch_bytes = p->m.cap / 8 < 16384 ? p->m.cap / 8 : 16384;
	if (p->m.flags & RP_RING_F_MP_PRODUCERS) {
		err = rp_mp_slot_attach(&p->m, &p->m.sh_p->p_mp, 1, &p->slot);
		if (err) {
			map_close(&p->m);
			free(p);
			return err;
		}
		p->batch_bytes = 0; /* every commit publishes, under the lock */
	} else if ((err = producer_sync(p))) {
		map_close(&p->m);
		free(p);
		return err;
	} else {
		/* Whatever this attach commits may replay what an earlier
		 * one published: its first record says so. */
		p->restart_mark = 1;
	}
	*out = p;
	return 0;
}

int rp_consumer_open(const struct rp_ring_fds *fds, struct rp_bell *own,
		     struct rp_bell *peer, struct rp_consumer **out)
{
	return rp_consumer_attach(fds, own, peer, 0, out);
}

int rp_consumer_attach(const struct rp_ring_fds *fds, struct rp_bell *own,
		       struct rp_bell *peer, int no_settle,
		       struct rp_consumer **out)
{
	struct rp_consumer *c;
	int err;

	*out = NULL;
	if (own == NULL || peer == NULL)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->slot = -1;
	c->no_settle = no_settle;
	c->ck_slot = -1;
	err = map_open(fds, 0, &c->m);
	if (err) {
		free(c);
		return err;
	}
	c->own = own;
	c->peer = peer;
	if (c->m.flags & RP_RING_F_MP_CONSUMERS) {
		err = rp_mp_slot_attach(&c->m, &c->m.sh_c->c_mp, 0, &c->slot);
	} else {
		err = consumer_sync(c);
	}
	if (err) {
		map_close(&c->m);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void rp_producer_close(struct rp_producer *p)
{
	if (p == NULL)
		return;
	if (p->resv_out)
		rp_abandon(p);
	rp_flush(p);
	if (p->slot >= 0)
		rp_mp_slot_detach(&p->m, &p->m.sh_p->p_mp, 1, p->slot);
	map_close(&p->m);
	free(p);
}

void rp_consumer_close(struct rp_consumer *c)
{
	if (c == NULL)
		return;
	if (c->slot >= 0)
		rp_mp_slot_detach(&c->m, &c->m.sh_c->c_mp, 0, c->slot);
	map_close(&c->m);
	free(c);
}

/* -------------------------------------------------------------- counters */

void rp_stats_flush(struct rp_stats_shm *s, struct rp_local_stats *now,
		    struct rp_local_stats *flushed)
{
	uint32_t q = rp_load32_relaxed(&s->seq);

	/* Seqlock writer: odd, (release fence), fields, even (release).
	 * Pairs with the reader's acquire load + acquire fence in
	 * rp_stats_read().  Deltas are added, so MP participants can share
	 * one block while holding the side's mutex. */
	rp_store32_relaxed(&s->seq, q | 1u);
	rp_fence_release();
#define ADD(f)                                                                 \
	rp_store64_relaxed(&s->f, rp_load64_relaxed(&s->f) +                   \
					  (now->f - flushed->f))
	ADD(records);
	ADD(bytes);
	ADD(batches);
	ADD(waits);
	ADD(wakes);
	ADD(stalls);
#undef ADD
	rp_store32_release(&s->seq, (q | 1u) + 1u);
	*flushed = *now;
}

int rp_stats_read(const struct rp_stats_shm *s, struct rp_ring_stats *out)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t a = rp_load32_acquire(&s->seq), b;
		if (a & 1u) {
			rp_cpu_relax();
			continue;
		}
		out->records = rp_load64_relaxed(&s->records);
		out->bytes = rp_load64_relaxed(&s->bytes);
		out->batches = rp_load64_relaxed(&s->batches);
		out->waits = rp_load64_relaxed(&s->waits);
		out->wakes = rp_load64_relaxed(&s->wakes);
		out->stalls = rp_load64_relaxed(&s->stalls);
		rp_fence_acquire();
		b = rp_load32_relaxed(&s->seq);
		if (a != b)
			continue;
		/* No run counts this far: a scribbled page, shown as not
		 * known rather than as a figure. */
		if ((out->records | out->bytes | out->batches | out->waits |
		     out->wakes | out->stalls) >= UINT64_MAX / 2)
			return -ERANGE;
		return 0;
	}
	return -EAGAIN;
}

int rp_producer_stats(const struct rp_producer *p, struct rp_ring_stats *ps,
		      struct rp_ring_stats *cs)
{
	int err = 0;

	if (ps)
		err = rp_stats_read(&p->m.sh_p->p_stats, ps);
	if (!err && cs)
		err = rp_stats_read(&p->m.sh_c->c_stats, cs);
	return err;
}

int rp_consumer_stats(const struct rp_consumer *c, struct rp_ring_stats *ps,
		      struct rp_ring_stats *cs)
{
	int err = 0;

	if (ps)
		err = rp_stats_read(&c->m.sh_p->p_stats, ps);
	if (!err && cs)
		err = rp_stats_read(&c->m.sh_c->c_stats, cs);
	return err;
}

int rp_ring_observe(const struct rp_ring_fds *fds, struct rp_ring_stats *ps,
		    struct rp_ring_stats *cs, uint64_t *used)
{
	struct rp_ring_hdr h;
	void *pm = NULL, *cm = NULL;
	int err, pro = -1, cro = -1;

	err = hdr_load(fds, &h);
	if (!err)
		err = rp_fd_reopen_ro(fds->p_fd, &pro);
	if (!err)
		err = rp_fd_reopen_ro(fds->c_fd, &cro);
	if (!err)
		err = rp_map(pro, 0, RP_P_DATA_OFF, 0, &pm);
	if (!err)
		err = rp_map(cro, 0, RP_C_SEG_SIZE, 0, &cm);
	if (!err) {
		const struct rp_ring_pside *sp =
			(void *)((unsigned char *)pm + RP_P_SIDE_OFF);
		const struct rp_ring_cside *sc = cm;
		uint64_t t = rp_load64_acquire(&sp->p_tail);
		uint64_t hd = rp_load64_acquire(&sc->c_head);
		if (used)
			*used = (t - hd <= h.s_capacity) ? t - hd : 0;
		if (ps)
			err = rp_stats_read(&sp->p_stats, ps);
		if (!err && cs)
			err = rp_stats_read(&sc->c_stats, cs);
	}
	rp_unmap(pm, RP_P_DATA_OFF);
	rp_unmap(cm, RP_C_SEG_SIZE);
	rp_close_fd(&pro);
	rp_close_fd(&cro);
	return err;
}

/* --------------------------------------------------------------- records */

int rp_rec_read(const struct rp_ring_map *m, uint64_t pos, uint64_t limit,
		struct rp_rec_hdr *h)
{
	/* One copy of the header; everything below checks the copy. */
	memcpy(h, m->sh_data + (pos & m->mask), sizeof(*h));
	if (h->len > m->max_record || rp_rec_size(h->len) > limit)
		return -EBADMSG;
	if ((h->flags & ~RP_REC_F_ALL) ||
	    h->check != rp_rec_check(h->len, h->type, h->flags, h->sub,
				     h->origin))
		return -EBADMSG;
	if (h->type == RP_REC_T_PAD && !(m->flags & RP_RING_F_MP_PRODUCERS))
		return -EBADMSG;
	return 0;
}

/* -------------------------------------------------------------- producer */

static void producer_publish(struct rp_producer *p)
{
	RP_CRASHPOINT(RP_CP_BEFORE_PUBLISH);
	/* Pairs with the consumer's acquire load of p_tail: the records
	 * below the new tail are fully written before it can see them. */
	rp_store64_release(&p->m.sh_p->p_tail, p->whole_tail);
	p->pub_tail = p->whole_tail;
	/* After the records it covers, never before: a crash in between
	 * leaves the older point, and a replay from there is deduplicated. */
	if (p->ck_set) {
		rp_ckpt_write(&p->m.sh_p->p_ckpt, -1, p->ck_pos, &p->ck);
		p->ck_set = 0;
	}
	p->st.batches++;
	if (rp_bell_ring(p->peer))
		p->st.wakes++;
	/* Once per batch, notice a consumer gone for good even while the
	 * ring has room: the next reservation fails instead of feeding a
	 * ring nobody reads. */
	if (rp_load32_relaxed(&p->m.sh_c->c_broken))
		p->broken = 1;
	rp_stats_flush(&p->m.sh_p->p_stats, &p->st, &p->st_flushed);
}

int rp_flush(struct rp_producer *p)
{
	if (p->slot >= 0)
		return 0; /* MP commits publish at once */
	if (p->whole_tail != p->pub_tail)
		producer_publish(p);
	return 0;
}

int rp_flush_waited(struct rp_producer *p)
{
	if (p->slot < 0 && p->whole_tail != p->pub_tail &&
	    rp_bell_waiting(p->peer))
		producer_publish(p);
	return 0;
}

void rp_producer_set_whole(struct rp_producer *p, int on)
{
	if (p->slot >= 0)
		return;
	p->whole = on != 0;
	if (!p->whole)
		p->whole_tail = p->tail;
}

int rp_producer_gave_up_whole(const struct rp_producer *p)
{
	return p->gave_up_whole;
}

void rp_producer_drop_unpublished(struct rp_producer *p)
{
	if (p->slot < 0 && !p->resv_out)
		p->tail = p->whole_tail = p->pub_tail;
}

/* Whole origins only, and the ring is full with the unpublished part of
 * one: it goes out as it is.  The consumer may hold on to what it has
 * taken until more comes (a line begun, a program's read ahead), so a
 * producer that waited for room with commits unpublished could wait for
 * ever. */
static void whole_stuck(struct rp_producer *p)
{
	if (p->whole && p->tail != p->whole_tail) {
		p->whole_tail = p->tail;
		p->gave_up_whole = 1;
	}
}

/* How long a peer's cursor that fails its check is watched for its
 * owner's next store, and how often it is read meanwhile. */
#define SETTLE_NS (5 * 1000000LL)
#define SETTLE_NAP_NS 20000L

/* A peer's cursor failed its check: wait a moment (until, from 0: the
 * first time) for it to be stored over.  0: read it again; -EBADMSG:
 * it stayed bad, or is not to be waited for (no_settle: a control ring,
 * whose far end the supervisor blames without a claim to check, and
 * which it must not wait on). */
int rp_cursor_settle(int no_settle, int64_t *until)
{
	rp_atomic32 nap = 0;
	int64_t now;

	if (no_settle)
		return -EBADMSG;
	now = rp_now_ns();
	if (*until == 0)
		*until = now + SETTLE_NS;
	else if (now >= *until)
		return -EBADMSG;
	/* The nap is a futex wait on a word nobody wakes, not a nanosleep:
	 * futex is one of the library's own calls, which a stage's sandbox
	 * may not deny (replicas' bells, robust locks), while its deny list
	 * may name the sleeps. */
	rp_futex_wait(&nap, 0, SETTLE_NAP_NS);
	return 0;
}

/* Re-read and validate the consumer's head.  0, -EBADMSG or -EPIPE. */
static int refresh_head(struct rp_producer *p)
{
	/* Pairs with the consumer's release store of c_head: it is done
	 * reading everything below it. */
	uint64_t hd = rp_load64_acquire(&p->m.sh_c->c_head);
	int64_t until = 0;

	/* Forward only, never past what we published, multiple of 8. */
	while (hd - p->head_cache > p->pub_tail - p->head_cache || (hd & 7)) {
		if (rp_cursor_settle(p->no_settle, &until)) {
			p->poisoned = 1;
			return -EBADMSG;
		}
		hd = rp_load64_acquire(&p->m.sh_c->c_head);
	}
	p->head_cache = hd;
	if (rp_load32_acquire(&p->m.sh_c->c_broken)) {
		p->broken = 1;
		return -EPIPE;
	}
	return 0;
}

static int producer_check(struct rp_producer *p, uint32_t len)
{
	if (p->poisoned)
		return -EBADMSG;
	if (p->broken)
		return -EPIPE;
	if (p->resv_out)
		return -EBUSY;
	if (len > p->m.max_record)
		return -EMSGSIZE;
	return 0;
}

int rp_reserve(struct rp_producer *p, uint32_t len, void **payload)
{
	uint64_t need = rp_rec_size(len);
	int err;

	*payload = NULL;
	err = producer_check(p, len);
	if (err)
		return err;
	if (p->slot >= 0) {
		err = rp_mp_reserve(p, need);
		if (err)
			return err;
	} else {
		if (p->m.cap - (p->tail - p->head_cache) < need) {
			err = refresh_head(p);
			if (err)
				return err;
			if (p->m.cap - (p->tail - p->head_cache) < need) {
				/* Never sit on commits while full: the
				 * consumer must see them to make room. */
				whole_stuck(p);
				rp_flush(p);
				p->st.stalls++;
				return -EAGAIN;
			}
		}
		p->resv_pos = p->tail;
	}
	p->resv_len = len;
	p->resv_out = 1;
	*payload = p->m.sh_data + ((p->resv_pos + sizeof(struct rp_rec_hdr)) &
				   p->m.mask);
	RP_CRASHPOINT(RP_CP_RESERVED);
	return 0;
}

int rp_producer_ready(struct rp_producer *p, uint32_t len)
{
	int err;

	if (p->poisoned)
		return -EBADMSG;
	if (p->broken)
		return -EPIPE;
	if (len > p->m.max_record)
		return -EMSGSIZE;
	if (p->slot >= 0) {
		uint64_t hd = rp_load64_acquire(&p->m.sh_c->c_head);
		uint64_t cur = rp_load64_acquire(&p->m.sh_p->p_mp.m_cursor);
		if (rp_load32_acquire(&p->m.sh_c->c_broken))
			return -EPIPE;
		/* A death to reap may be what holds the space: only a
		 * locker can void it, so try.  Hints only: the claim
		 * re-checks under the lock. */
		if (rp_load32_relaxed(&p->m.sh_p->p_mp.m_attn))
			return 1;
		return cur - hd > p->m.cap ||
		       p->m.cap - (cur - hd) >= rp_rec_size(len);
	}
	if (p->m.cap - (p->tail - p->head_cache) >= rp_rec_size(len))
		return 1;
	err = refresh_head(p);
	if (err)
		return err;
	if (p->m.cap - (p->tail - p->head_cache) >= rp_rec_size(len))
		return 1;
	/* A stage that waits for room before it reserves: what it holds
	 * back of an origin must go out, or the room never comes. */
	whole_stuck(p);
	rp_flush(p);
	return 0;
}

struct reserve_wait_arg {
	struct rp_producer *p;
	uint32_t len;
};

static int reserve_ready(void *arg)
{
	struct reserve_wait_arg *a = arg;
	return rp_producer_ready(a->p, a->len);
}

int rp_reserve_wait(struct rp_producer *p, uint32_t len, int64_t timeout_ns,
		    void **payload)
{
	int64_t deadline;
	int err = rp_reserve(p, len, payload);

	/* The clock is read only once a wait is needed. */
	if (err != -EAGAIN)
		return err;
	deadline = rp_deadline(timeout_ns);
	for (;;) {
		struct reserve_wait_arg a = {p, len};
		int64_t left = deadline < 0 ? -1 : deadline - rp_now_ns();

		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		err = rp_bell_wait(p->own, reserve_ready, &a, left,
				   RP_BELL_SPIN, &p->st.waits);
		if (err < 0)
			return err;
		err = rp_reserve(p, len, payload);
		if (err != -EAGAIN)
			return err;
	}
}

/* The header of the record at pos, in two halves (a crash between them
 * leaves a header its check rejects). */
static void put_header(struct rp_producer *p, uint64_t pos, uint32_t len,
		       const struct rp_meta *m)
{
	unsigned char *dst = p->m.sh_data + (pos & p->m.mask);
	struct rp_rec_hdr h;

	h.len = len;
	h.type = m->type;
	h.flags = m->flags;
	h.sub = m->sub;
	h.check = rp_rec_check(len, m->type, m->flags, m->sub, m->origin);
	h.origin = m->origin;
	memcpy(dst, &h, 8);
	RP_CRASHPOINT(RP_CP_COMMIT_HALF);
	memcpy(dst + 8, (unsigned char *)&h + 8, sizeof(h) - 8);
}

int rp_commit(struct rp_producer *p, uint32_t len, const struct rp_meta *m)
{
	struct rp_meta first;

	if (!p->resv_out || p->batch || len > p->resv_len)
		return -EINVAL;
	if (m->type == RP_REC_T_PAD || (m->flags & ~RP_REC_F_LAST))
		return -EINVAL;
	if (p->restart_mark) {
		first = *m;
		first.flags |= RP_REC_F_RESTART;
		m = &first;
		p->restart_mark = 0;
	}
	if (p->slot >= 0) {
		uint64_t rest = rp_rec_size(p->resv_len) - rp_rec_size(len);
		if (rest != 0 && rest < sizeof(struct rp_rec_hdr))
			return -EINVAL; /* no room for the padding record */
	}
	put_header(p, p->resv_pos, len, m);
	if (p->slot >= 0) {
		/* The claim may be larger than the final record: the MP
		 * commit pads the rest so the claimed range stays exact. */
		int err;
		p->st.records++;
		p->st.bytes += len;
		err = rp_mp_commit(p, rp_rec_size(len));
		if (err) {
			p->st.records--;
			p->st.bytes -= len;
			return err;
		}
		p->resv_out = 0;
		return 0;
	}
	p->resv_out = 0;
	p->st.records++;
	p->st.bytes += len;
	p->tail = p->resv_pos + rp_rec_size(len);
	if (!p->whole || (m->flags & RP_REC_F_LAST))
		p->whole_tail = p->tail;
	if (m->flags & RP_REC_F_LAST)
		p->gave_up_whole = 0; /* the next origin is whole so far */
	if (p->whole_tail != p->pub_tail &&
	    (p->whole_tail - p->pub_tail >= p->batch_bytes ||
	     rp_bell_hungry(p->peer, &p->hunger_seen)))
		producer_publish(p);
	return 0;
}

int rp_reserve_batch(struct rp_producer *p, uint64_t size)
{
	int err;

	/* At least a header: what is left of it must be paddable. */
	if (p->slot < 0 || size < sizeof(struct rp_rec_hdr) || (size & 7))
		return -EINVAL;
	if ((err = producer_check(p, 0)))
		return err;
	if (size > rp_rec_size(p->m.max_record))
		return -EMSGSIZE;
	if ((err = rp_mp_reserve(p, size)))
		return err;
	p->resv_len = 0;
	p->resv_out = 1;
	p->batch = 1;
	p->batch_size = size;
	p->batch_used = 0;
	p->batch_records = p->batch_bytes_in = 0;
	return 0;
}

int rp_batch_put(struct rp_producer *p, const void *data, uint32_t len,
		 const struct rp_meta *m)
{
	uint64_t size = rp_rec_size(len);
	uint64_t pos = p->resv_pos + p->batch_used;

	if (!p->resv_out || !p->batch || len > p->m.max_record ||
	    size > p->batch_size - p->batch_used)
		return -EINVAL;
	if (m->type == RP_REC_T_PAD || (m->flags & ~RP_REC_F_LAST))
		return -EINVAL;
	memcpy(p->m.sh_data + ((pos + sizeof(struct rp_rec_hdr)) & p->m.mask),
	       data, len);
	put_header(p, pos, len, m);
	p->batch_used += size;
	p->batch_records++;
	p->batch_bytes_in += len;
	return 0;
}

int rp_batch_commit(struct rp_producer *p)
{
	uint64_t rest;
	int err;

	if (!p->resv_out || !p->batch || p->batch_used == 0)
		return -EINVAL;
	rest = p->batch_size - p->batch_used;
	if (rest != 0 && rest < sizeof(struct rp_rec_hdr))
		return -EINVAL; /* no room for the padding record */
	/* Counted before the commit flushes the counts, taken back if it
	 * fails. */
	p->st.records += p->batch_records;
	p->st.bytes += p->batch_bytes_in;
	if ((err = rp_mp_commit(p, p->batch_used))) {
		p->st.records -= p->batch_records;
		p->st.bytes -= p->batch_bytes_in;
		return err; /* the reservation stays: commit again */
	}
	p->resv_out = p->batch = 0;
	return 0;
}

int rp_abandon(struct rp_producer *p)
{
	int err = 0;

	if (!p->resv_out)
		return 0;
	if (p->slot >= 0)
		err = rp_mp_abandon(p);
	if (err != -ETIMEDOUT)
		p->resv_out = p->batch = 0;
	return err;
}

int rp_producer_end(struct rp_producer *p)
{
	if (p->resv_out)
		rp_abandon(p);
	if (p->slot >= 0)
		return rp_mp_end(p);
	p->whole_tail = p->tail; /* (every origin is complete) */
	rp_flush(p);
	/* Pairs with the consumer's acquire load of p_closed, after which it
	 * re-reads p_tail: the final tail was stored before this. */
	rp_store32_release(&p->m.sh_p->p_closed, 1);
	rp_bell_ring(p->peer);
	return 0;
}

int rp_send(struct rp_producer *p, const void *buf, uint32_t len,
	    const struct rp_meta *m, int64_t timeout_ns)
{
	void *dst;
	int err = rp_reserve_wait(p, len, timeout_ns, &dst);

	if (err)
		return err;
	memcpy(dst, buf, len);
	return rp_commit(p, len, m);
}

/* -------------------------------------------------------------- consumer */

/* Re-read and validate the producer's tail: 0 or -EBADMSG. */
static int spsc_refresh_tail(struct rp_consumer *c)
{
	/* Pairs with the producer's release store in producer_publish(). */
	uint64_t t = rp_load64_acquire(&c->m.sh_p->p_tail);
	int64_t until = 0;

	/* Forward only (from our cached copy), at most capacity ahead of
	 * what we released, multiple of 8. */
	while (t - c->head > c->m.cap || t - c->tail_cache > t - c->head ||
	       (t & 7)) {
		/* Said hungry meanwhile: the producer publishes (stores its
		 * tail) at its next commit rather than a batch later. */
		if (until == 0 && !c->no_settle)
			rp_bell_announce(c->own);
		if (rp_cursor_settle(c->no_settle, &until)) {
			if (!c->no_settle)
				rp_bell_retire(c->own);
			c->poisoned = 1;
			return -EBADMSG;
		}
		t = rp_load64_acquire(&c->m.sh_p->p_tail);
	}
	if (until != 0)
		rp_bell_retire(c->own);
	c->tail_cache = t;
	return 0;
}

/* 0 with a record in *v, -EAGAIN, -ENODATA or -EBADMSG. */
static int spsc_peek(struct rp_consumer *c, struct rp_view *v)
{
	struct rp_rec_hdr h;
	int err;

	for (;;) {
		if (c->rd == c->tail_cache) {
			err = spsc_refresh_tail(c);
			if (err)
				return err;
		}
		if (c->rd == c->tail_cache) {
			/* Pairs with the release store in rp_producer_end():
			 * once closed is seen, the tail re-read is final. */
			if (!rp_load32_acquire(&c->m.sh_p->p_closed))
				return -EAGAIN;
			err = spsc_refresh_tail(c);
			if (err)
				return err;
			if (c->rd == c->tail_cache)
				return -ENODATA;
		}
		err = rp_rec_read(&c->m, c->rd, c->tail_cache - c->rd, &h);
		if (err) {
			c->poisoned = 1;
			return err;
		}
		v->pos = c->rd;
		c->rd += rp_rec_size(h.len);
		if (h.type != RP_REC_T_PAD && !c->claim_replay)
			break;
		if (h.type != RP_REC_T_PAD)
			c->replays++;
	}
	v->data = c->m.sh_data + ((v->pos + sizeof(h)) & c->m.mask);
	v->len = h.len;
	v->type = h.type;
	v->flags = h.flags;
	v->origin = h.origin;
	v->sub = h.sub;
	v->end = c->rd;
	c->st.records++;
	c->st.bytes += h.len;
	return 0;
}

/* MP consumers: records come from my claimed range. */
static int mp_peek(struct rp_consumer *c, struct rp_view *v)
{
	struct rp_rec_hdr h;
	int err;

	for (;;) {
		if (c->claimed && c->rd == c->claim_end &&
		    c->claim_delivered == 0) {
			/* A claim of padding only: nothing to hand out, so
			 * finish it here and claim again. */
			err = rp_mp_release(c);
			if (err)
				return err;
		}
		if (!c->claimed || c->rd == c->claim_end) {
			if (c->claimed)
				return -EBUSY; /* release before claiming */
			err = rp_mp_claim(c);
			if (err)
				return err;
		}
		/* The range was validated record by record under the lock,
		 * but it lives in memory the producer can still write:
		 * validate again at the point of use. */
		err = rp_rec_read(&c->m, c->rd, c->claim_end - c->rd, &h);
		if (err) {
			c->poisoned = 1;
			return err;
		}
		v->pos = c->rd;
		c->rd += rp_rec_size(h.len);
		if (h.type != RP_REC_T_PAD && !c->claim_replay)
			break;
		if (h.type != RP_REC_T_PAD)
			c->replays++;
	}
	c->claim_delivered++;
	v->data = c->m.sh_data + ((v->pos + sizeof(h)) & c->m.mask);
	v->len = h.len;
	v->type = h.type;
	v->flags = h.flags;
	v->origin = h.origin;
	v->sub = h.sub;
	v->end = c->rd;
	c->st.records++;
	c->st.bytes += h.len;
	return 0;
}

int rp_peek(struct rp_consumer *c, struct rp_view *v)
{
	int err;

	if (c->poisoned)
		return -EBADMSG;
	err = c->slot >= 0 ? mp_peek(c, v) : spsc_peek(c, v);
	if (err == -EAGAIN)
		c->st.stalls++;
	else if (err == 0)
		RP_CRASHPOINT(RP_CP_PEEKED);
	return err;
}

int rp_consumer_my_turn(const struct rp_consumer *c)
{
	uint64_t hd;

	if (c->poisoned)
		return -EBADMSG;
	if (!(c->m.flags & RP_RING_F_ORDERED) || !c->claimed)
		return 1;
	/* Pairs with the release store of the head in mp_recompute(): what
	 * the releasers published before they let go is seen too.  The
	 * head never passes a claim still held: one that did was written
	 * by someone else. */
	hd = rp_load64_acquire(&c->m.sh_c->c_head);
	if (hd == c->claim_start)
		return 1;
	return c->claim_start - hd <= c->m.cap ? 0 : -EBADMSG;
}

uint64_t rp_consumer_replays(const struct rp_consumer *c)
{
	return c->replays;
}

int rp_consumer_ready(struct rp_consumer *c)
{
	if (c->poisoned)
		return -EBADMSG;
	if (c->slot >= 0) {
		const struct rp_mp_side *side = &c->m.sh_c->c_mp;
		uint64_t t, cur;
		if (c->claimed)
			return c->rd != c->claim_end || c->claim_delivered == 0
				       ? 1
				       : -EBUSY;
		t = rp_load64_acquire(&c->m.sh_p->p_tail);
		cur = rp_load64_acquire(&side->m_cursor);
		/* Hints only (a voided claim or a death to reap also make
		 * us ready); the claim re-checks under the lock.  The end
		 * is near only once nobody else holds a claim. */
		return t != cur || rp_load32_relaxed(&side->m_attn) != 0 ||
		       (rp_load32_acquire(&c->m.sh_p->p_closed) &&
			!rp_mp_others_busy(side, c->m.nslots, c->slot));
	}
	if (c->rd != c->tail_cache)
		return 1;
	if (spsc_refresh_tail(c))
		return -EBADMSG;
	if (c->rd != c->tail_cache)
		return 1;
	return rp_load32_acquire(&c->m.sh_p->p_closed) ? 1 : 0;
}

static int peek_ready(void *arg)
{
	return rp_consumer_ready(arg);
}

int rp_peek_wait(struct rp_consumer *c, struct rp_view *v, int64_t timeout_ns)
{
	int64_t deadline;
	int err = rp_peek(c, v);

	/* The clock is read only once a wait is needed. */
	if (err != -EAGAIN)
		return err;
	deadline = rp_deadline(timeout_ns);
	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - rp_now_ns();

		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		if (c->slot >= 0) {
			/* MP: other consumers race us for what the bell
			 * announces (readiness is a hint): bounded slices. */
			if (left < 0 || left > 50000000)
				left = 50000000;
		}
		err = rp_bell_wait(c->own, peek_ready, c, left, RP_BELL_SPIN,
				   &c->st.waits);
		if (err < 0 && !(err == -ETIMEDOUT && c->slot >= 0))
			return err;
		err = rp_peek(c, v);
		if (err != -EAGAIN)
			return err;
	}
}

static void consumer_publish(struct rp_consumer *c)
{
	RP_CRASHPOINT(RP_CP_BEFORE_RELEASE);
	/* Pairs with the producer's acquire load in refresh_head(): we are
	 * done reading every byte below the new head. */
	rp_store64_release(&c->m.sh_c->c_head, c->head);
	c->st.batches++;
	if (rp_bell_ring(c->peer))
		c->st.wakes++;
	rp_stats_flush(&c->m.sh_c->c_stats, &c->st, &c->st_flushed);
}

/* --------------------------------------------------------- commit points */

void rp_ckpt_write(struct rp_ckpt_area *a, int keep, uint64_t pos,
		   const struct rp_ckpt *ck)
{
	uint32_t i = rp_load32_relaxed(&a->c_idx) & 1u;
	uint32_t w = keep >= 0 ? (uint32_t)keep ^ 1u : i ^ 1u;
	struct rp_ckpt_shm *sl = &a->c_slot[w];
	uint32_t flags;

	/* Invalid while it is written, in this order even for the
	 * compiler: a crash halfway leaves a slot nobody picks. */
	__atomic_store_n(&sl->c_flags, 0, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	sl->c_pos = pos;
	sl->c_seq = ck->seq;
	sl->c_origin = ck->origin;
	sl->c_sub = ck->sub;
	memcpy(sl->c_user, ck->user, sizeof(sl->c_user));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	flags = (ck->flags & (RP_CKPT_F_KEY | RP_CKPT_F_REPLAY)) |
		RP_CKPT_F_VALID;
	__atomic_store_n(&sl->c_flags, flags | rp_ckpt_check(sl, flags) << 16,
			 __ATOMIC_RELAXED);
	RP_CRASHPOINT(RP_CP_CKPT_WRITTEN);
	/* The flip publishes the whole slot (to a successor that maps the
	 * page after our death, or to an observer). */
	rp_store32_release(&a->c_idx, w);
}

int rp_keys_step(struct rp_keys *k, int dedup, int any, uint64_t origin,
		 uint32_t sub, uint16_t flags, uint64_t bound)
{
	if (flags & RP_REC_F_RESTART) {
		k->replaying = 1;
		/* Nothing the producer made before can be past its bound:
		 * the last key taken was pushed ahead, and the replays
		 * would never reach it. */
		if (dedup && !any && bound != 0 && k->has &&
		    k->origin >= bound)
			return -EBADMSG;
	}
	if (dedup && k->has &&
	    (origin < k->origin || (origin == k->origin && sub <= k->sub))) {
		if (!k->replaying && !any)
			return -EBADMSG;
		return 0;
	}
	k->replaying = 0;
	k->has = 1;
	k->origin = origin;
	k->sub = sub;
	return 1;
}

void rp_keys_load(struct rp_keys *k, const struct rp_ckpt *ck)
{
	memset(k, 0, sizeof(*k));
	if (!(ck->flags & RP_CKPT_F_VALID))
		return;
	k->has = (ck->flags & RP_CKPT_F_KEY) != 0;
	if (k->has) {
		k->origin = ck->origin;
		k->sub = ck->sub;
	}
	k->replaying = (ck->flags & RP_CKPT_F_REPLAY) != 0;
}

void rp_keys_store(const struct rp_keys *k, struct rp_ckpt *ck)
{
	ck->origin = k->has ? k->origin : 0;
	ck->sub = k->has ? k->sub : 0;
	ck->flags = (k->has ? RP_CKPT_F_KEY : 0) |
		    (k->replaying ? RP_CKPT_F_REPLAY : 0);
}

/* The newest valid slot, or with by_pos the one written for pos.  One
 * copy of each slot is taken and checked; a page that is someone else's
 * to write is only ever read through such a copy. */
static int ckpt_pick(const struct rp_ckpt_area *a, int by_pos, uint64_t pos,
		     struct rp_ckpt *ck, uint64_t *at)
{
	uint32_t i = rp_load32_acquire(&a->c_idx) & 1u;

	memset(ck, 0, sizeof(*ck));
	for (int k = 0; k < 2; k++, i ^= 1u) {
		struct rp_ckpt_shm sl;
		memcpy(&sl, &a->c_slot[i], sizeof(sl));
		uint32_t f = sl.c_flags & 0xffffu;
		if (!(f & RP_CKPT_F_VALID) || (f & ~RP_CKPT_F_ALL) ||
		    sl.c_flags >> 16 != rp_ckpt_check(&sl, f) ||
		    (by_pos && sl.c_pos != pos))
			continue;
		ck->seq = sl.c_seq;
		ck->origin = sl.c_origin;
		ck->sub = sl.c_sub;
		ck->flags = f;
		memcpy(ck->user, sl.c_user, sizeof(ck->user));
		if (at != NULL)
			*at = sl.c_pos;
		return (int)i;
	}
	return -1;
}

int rp_ckpt_pick(const struct rp_ckpt_area *a, int by_pos, uint64_t pos,
		 struct rp_ckpt *ck)
{
	return ckpt_pick(a, by_pos, pos, ck, NULL);
}

int rp_release_ckpt_upto(struct rp_consumer *c, uint64_t pos,
			 const struct rp_ckpt *ck)
{
	if (c->slot >= 0)
		return -EOPNOTSUPP;
	if (pos - c->head > c->rd - c->head || (pos & 7))
		return -EINVAL;
	/* The slot names the head it goes with and is flipped in before
	 * the head is stored: whoever attaches next sees the new head with
	 * this point, or the old head with the one before.  The slot that
	 * goes with the current head is never the one written. */
	rp_ckpt_write(&c->m.sh_c->c_ckpt, c->ck_slot, pos, ck);
	c->ck_slot = (int)(rp_load32_relaxed(&c->m.sh_c->c_ckpt.c_idx) & 1u);
	c->ck = *ck;
	c->ck.flags = (ck->flags & (RP_CKPT_F_KEY | RP_CKPT_F_REPLAY)) |
		      RP_CKPT_F_VALID;
	if (pos != c->head) {
		c->head = pos;
		consumer_publish(c);
	} else {
		/* Nothing let go (all held back): its counts still show. */
		rp_stats_flush(&c->m.sh_c->c_stats, &c->st, &c->st_flushed);
	}
	return 0;
}

int rp_release_ckpt(struct rp_consumer *c, const struct rp_ckpt *ck)
{
	if (c->slot >= 0)
		return rp_release(c); /* replicas: no commit point (yet) */
	return rp_release_ckpt_upto(c, c->rd, ck);
}

uint64_t rp_consumer_position(const struct rp_consumer *c)
{
	return c->rd;
}

void rp_consumer_set_claim_max(struct rp_consumer *c, unsigned n)
{
	c->claim_max = n;
}

uint32_t rp_consumer_capacity(const struct rp_consumer *c)
{
	return c->m.cap;
}

void rp_consumer_ckpt(const struct rp_consumer *c, struct rp_ckpt *ck)
{
	*ck = c->ck;
}

void rp_producer_set_ckpt(struct rp_producer *p, const struct rp_ckpt *ck)
{
	p->ck = *ck;
	p->ck_set = 1;
	/* Stored with the tail as it is now, not as it will be at the
	 * publication: what is committed after this belongs to origins
	 * from ck->seq on (rp_producer_source_bound counts them). */
	p->ck_pos = p->tail;
	/* Nothing waits for publication: save it now. */
	if (p->tail == p->pub_tail && p->slot < 0) {
		rp_ckpt_write(&p->m.sh_p->p_ckpt, -1, p->ck_pos, &p->ck);
		p->ck_set = 0;
	}
}

void rp_producer_ckpt(const struct rp_producer *p, struct rp_ckpt *ck)
{
	rp_ckpt_pick(&p->m.sh_p->p_ckpt, 0, 0, ck);
}

void rp_producer_set_note(struct rp_producer *p, uint64_t v)
{
	rp_store64_release(&p->m.sh_p->p_user[0], v);
}

uint64_t rp_producer_note(const struct rp_producer *p)
{
	return rp_load64_acquire(&p->m.sh_p->p_user[0]);
}

/* The bound the newest attach before this one said (0: none), of the
 * entries below the tail. */
static uint64_t last_restart_bound(const struct rp_producer *p)
{
	uint64_t best = 0, bound = 0;

	for (unsigned i = 0; i < RP_RESTARTS; i++) {
		uint64_t at = rp_load64_acquire(&p->m.sh_p->p_restart[i].pos);
		uint64_t b;
		if (at == ~0ull || at > p->tail || (bound != 0 && at < best))
			continue;
		if ((b = restart_bound_at(p->m.sh_p, at)) != 0) {
			best = at;
			bound = b;
		}
	}
	return bound;
}

int rp_producer_source_bound(struct rp_producer *p, uint64_t first,
			     uint64_t *bound)
{
	struct rp_ckpt ck;
	uint64_t base = first, from = 0, n, b, last, cap;

	*bound = 0;
	if (p->slot >= 0 || !p->restart_mark || p->resv_out ||
	    p->tail != p->pub_tail)
		return -EINVAL;
	if (ckpt_pick(&p->m.sh_p->p_ckpt, 0, 0, &ck, &from) >= 0) {
		base = ck.seq;
	} else if (first != 0) {
		return -ENOENT; /* where the numbering began is not known */
	}
	/* Every record takes a header at least, and each origin one
	 * record: past the point's position there are no more origins
	 * than headers fit.  Numbered from 0 at the ring's start, so
	 * neither are there before it: a point that counts more is not
	 * an honest one. */
	cap = p->tail / sizeof(struct rp_rec_hdr) + 1;
	if (from > p->tail || (from & 7) ||
	    base > from / sizeof(struct rp_rec_hdr)) {
		/* Written by the incarnation the bound is to check, maybe:
		 * the whole ring's headers bound it still. */
		*bound = cap;
		rp_producer_set_restart_bound(p, cap);
		return -EBADMSG;
	}
	n = (p->tail - from) / sizeof(struct rp_rec_hdr);
	b = base + n + 1;
	/* What attaches before the point's incarnation made is bounded by
	 * what the last attach said, which a point saved after it, amid
	 * its replays, no longer covers.  That word is from the producer's
	 * page, which the incarnation the bound is to check could write:
	 * no more than the whole ring's headers (every origin made so far)
	 * is believed of it. */
	last = last_restart_bound(p);
	if (last > cap)
		last = cap;
	*bound = b > last ? b : last;
	rp_producer_set_restart_bound(p, *bound);
	return 0;
}

uint32_t rp_consumer_flags(const struct rp_consumer *c)
{
	return c->m.flags;
}

int rp_release(struct rp_consumer *c)
{
	if (c->slot >= 0)
		return c->claimed ? rp_mp_release(c) : 0;
	if (c->rd == c->head)
		return 0;
	c->head = c->rd;
	consumer_publish(c);
	return 0;
}

int rp_release_upto(struct rp_consumer *c, const struct rp_view *v)
{
	if (c->slot >= 0)
		return -EOPNOTSUPP;
	if (v->end - c->head > c->rd - c->head || v->end == c->head)
		return -EINVAL;
	c->head = v->end;
	consumer_publish(c);
	return 0;
}

void rp_rewind(struct rp_consumer *c)
{
	if (c->slot >= 0) {
		if (c->claimed) {
			c->rd = c->claim_start;
			c->claim_delivered = 0;
		}
		return;
	}
	c->rd = c->head;
}

int rp_consumer_break(struct rp_consumer *c)
{
	/* Pairs with the producer's acquire load in refresh_head(). */
	rp_store32_release(&c->m.sh_c->c_broken, 1);
	rp_bell_ring(c->peer);
	return 0;
}

int rp_ring_mark_broken(const struct rp_ring_fds *fds,
			struct rp_bell *producer_bell)
{
	struct rp_ring_cside *cs;
	void *cm = NULL;
	int err = rp_memfd_check(fds->c_fd, RP_C_SEG_SIZE);

	if (!err)
		err = rp_map(fds->c_fd, 0, RP_C_SEG_SIZE, 1, &cm);
	if (err)
		return err;
	cs = cm;
	rp_store32_release(&cs->c_broken, 1);
	rp_unmap(cm, RP_C_SEG_SIZE);
	if (producer_bell)
		rp_bell_ring(producer_bell);
	return 0;
}

int rp_ring_verify(const struct rp_ring_fds *fds, int by_consumer)
{
	struct rp_ring_map m;
	uint64_t t, hd;
	int err;

	/* As a consumer would map it, read-only on both sides. */
	memset(&m, 0, sizeof(m));
	err = map_open(fds, 0, &m);
	if (err)
		return err == -EBADMSG ? err : -EBADMSG;
	t = rp_load64_acquire(&m.sh_p->p_tail);
	hd = rp_load64_acquire(&m.sh_c->c_head);
	if (t - hd > m.cap || (t & 7) || (hd & 7)) {
		err = -EBADMSG;
	} else if (!(m.flags & RP_RING_F_MP_CONSUMERS)) {
		/* Walk what is published and not yet released: the headers,
		 * and on a replaying producer's ring the order of its keys,
		 * from the key of the commit point that goes with the head
		 * (the last record released may be the one pushed ahead).
		 * That point is the consumer's to write, as its head is:
		 * taken as found, like the head.  The keys are the
		 * producer's own: its claim that they are out of order is
		 * not a claim against its consumer. */
		struct rp_keys k;
		struct rp_ckpt ck;
		int dedup = by_consumer && (m.flags & RP_RING_F_DEDUP) != 0;
		int any = (m.flags & RP_RING_F_MP_PRODUCERS) != 0;
		rp_ckpt_pick(&m.sh_c->c_ckpt, 1, hd, &ck);
		rp_keys_load(&k, &ck);
		for (uint64_t pos = hd; pos != t;) {
			struct rp_rec_hdr h;
			if (rp_rec_read(&m, pos, t - pos, &h) ||
			    (h.type != RP_REC_T_PAD &&
			     rp_keys_step(&k, dedup, any, h.origin, h.sub,
					  h.flags,
					  restart_bound_at(m.sh_p, pos)) < 0)) {
				err = -EBADMSG;
				break;
			}
			pos += rp_rec_size(h.len);
		}
	}
	map_close(&m);
	return err;
}

int rp_ring_geometry(const struct rp_ring_fds *fds, struct rp_ring_geo *out)
{
	ssize_t n;

	/* pread, not a mapping: what is read cannot change while read. */
	n = pread(fds->p_fd, &out->hdr, sizeof(out->hdr), RP_P_HDR_OFF);
	if (n != (ssize_t)sizeof(out->hdr))
		return n < 0 ? -errno : -EBADMSG;
	n = pread(fds->c_fd, out->c_copy, sizeof(out->c_copy),
		  RP_C_SIDE_OFF + offsetof(struct rp_ring_cside, s_magic));
	if (n != (ssize_t)sizeof(out->c_copy))
		return n < 0 ? -errno : -EBADMSG;
	return 0;
}

int rp_ring_geometry_changed(const struct rp_ring_fds *fds,
			     const struct rp_ring_geo *made)
{
	struct rp_ring_geo now;
	int err = rp_ring_geometry(fds, &now);

	if (err)
		return err;
	return (memcmp(&now.hdr, &made->hdr, sizeof(now.hdr)) ? RP_SIDE_PRODUCER
							      : 0) |
	       (memcmp(now.c_copy, made->c_copy, sizeof(now.c_copy))
			? RP_SIDE_CONSUMER
			: 0);
}

int rp_ring_watch_open(const struct rp_ring_fds *fds,
		       const struct rp_ring_geo *made, struct rp_ring_watch *w)
{
	void *pm = NULL, *cm = NULL;
	int err;

	memset(w, 0, sizeof(*w));
	/* Only the pages (the header and the producer's; the consumer's
	 * segment), read-only: the creator never writes through these. */
	if ((err = rp_map(fds->p_fd, 0, RP_P_DATA_OFF, 0, &pm)))
		return err;
	if ((err = rp_map(fds->c_fd, 0, RP_C_SEG_SIZE, 0, &cm))) {
		rp_unmap(pm, RP_P_DATA_OFF);
		return err;
	}
	w->p_page = pm;
	w->c_page = cm;
	w->cap = made->hdr.s_capacity;
	return 0;
}

void rp_ring_watch_close(struct rp_ring_watch *w)
{
	if (w->p_page)
		rp_unmap((void *)w->p_page, RP_P_DATA_OFF);
	if (w->c_page)
		rp_unmap((void *)w->c_page, RP_C_SEG_SIZE);
	memset(w, 0, sizeof(*w));
}

static void watch_read(const struct rp_ring_watch *w, uint64_t *t,
		       uint64_t *hd)
{
	const struct rp_ring_pside *ps =
		(const void *)((const unsigned char *)w->p_page +
			       RP_P_SIDE_OFF);
	const struct rp_ring_cside *cs =
		(const void *)((const unsigned char *)w->c_page +
			       RP_C_SIDE_OFF);

	/* Tail first: a head read after it may only be further on. */
	*t = rp_load64_acquire(&ps->p_tail);
	*hd = rp_load64_acquire(&cs->c_head);
}

void rp_ring_watch_sample(struct rp_ring_watch *w)
{
	uint64_t t, hd;

	if (w->p_page == NULL)
		return;
	watch_read(w, &t, &hd);
	if (!(t & 7) && !(hd & 7) && t - hd <= w->cap && t >= w->tail &&
	    hd >= w->head) {
		w->tail = t;
		w->head = hd;
	}
}

int rp_ring_watch_culprits(const struct rp_ring_watch *w)
{
	uint64_t t, hd;

	if (w->p_page == NULL)
		return 0;
	watch_read(w, &t, &hd);
	return ((t & 7) || t < w->tail ? RP_SIDE_PRODUCER : 0) |
	       ((hd & 7) || hd < w->head ? RP_SIDE_CONSUMER : 0);
}

/* For the supervisor's walks over a ring: map it read-only and take its
 * cursors, tail first.  -EBADMSG for any failure to map. */
static int walk_open(const struct rp_ring_fds *fds, struct rp_ring_map *m,
		     uint64_t *t, uint64_t *hd)
{
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = map_open(fds, 0, m)))
		return err == -EBADMSG ? err : -EBADMSG;
	*t = rp_load64_acquire(&m->sh_p->p_tail);
	*hd = rp_load64_acquire(&m->sh_c->c_head);
	return 0;
}

/* Copy the record whose header h is at pos out (up to cap bytes). */
static void walk_copy(const struct rp_ring_map *m, uint64_t pos,
		      const struct rp_rec_hdr *h, void *buf, uint32_t cap,
		      struct rp_found *f)
{
	f->len = h->len;
	f->type = h->type;
	f->origin = h->origin;
	f->sub = h->sub;
	memcpy(buf, m->sh_data + (pos & m->mask) + sizeof(*h),
	       h->len < cap ? h->len : cap);
}

int rp_ring_find(const struct rp_ring_fds *fds, uint64_t seq, void *buf,
		 uint32_t cap, struct rp_found *f)
{
	struct rp_ring_map m;
	struct rp_ckpt ck;
	struct rp_keys k;
	uint64_t t, hd, n;
	int err, dedup, any;

	if ((err = walk_open(fds, &m, &t, &hd)))
		return err;
	err = -ENOENT;
	rp_ckpt_pick(&m.sh_c->c_ckpt, 1, hd, &ck);
	rp_keys_load(&k, &ck);
	n = ck.seq;
	dedup = (m.flags & RP_RING_F_DEDUP) != 0;
	any = (m.flags & RP_RING_F_MP_PRODUCERS) != 0;
	if (m.flags & RP_RING_F_MP_CONSUMERS)
		err = -EOPNOTSUPP;
	else if (t - hd > m.cap || (t & 7) || (hd & 7))
		err = -EBADMSG;
	else if (!(ck.flags & RP_CKPT_F_VALID) && hd != 0)
		err = -ENOENT; /* nothing to count from */
	else
		for (uint64_t pos = hd; pos != t;) {
			struct rp_rec_hdr h;
			int r = 0;
			/* Checked like a consumer checks it, one copy. */
			if (rp_rec_read(&m, pos, t - pos, &h)) {
				err = -EBADMSG;
				break;
			}
			/* Counted as its consumer counts them, which stops
			 * at a key that went back. */
			if (h.type != RP_REC_T_PAD &&
			    (r = rp_keys_step(&k, dedup, any, h.origin, h.sub,
					      h.flags,
					      restart_bound_at(m.sh_p, pos))) <
				    0) {
				err = r;
				break;
			}
			if (r == 1 && n++ == seq) {
				walk_copy(&m, pos, &h, buf, cap, f);
				err = 0;
				break;
			}
			pos += rp_rec_size(h.len);
		}
	map_close(&m);
	return err;
}

int rp_ring_read_at(const struct rp_ring_fds *fds, uint64_t at, void *buf,
		    uint32_t cap, struct rp_found *f, uint64_t *head)
{
	struct rp_ring_map m;
	uint64_t t, hd;
	int err;

	if ((err = walk_open(fds, &m, &t, &hd)))
		return err;
	err = -ENOENT;
	if (head)
		*head = hd;
	if (t - hd > m.cap || (t & 7) || (hd & 7))
		err = -EBADMSG;
	else if (at - hd < t - hd)
		/* From the head, record by record: at must be where one
		 * starts, and everything before it must hold. */
		for (uint64_t pos = hd; pos != t;) {
			struct rp_rec_hdr h;
			if (rp_rec_read(&m, pos, t - pos, &h)) {
				err = -EBADMSG;
				break;
			}
			if (pos == at && h.type != RP_REC_T_PAD) {
				walk_copy(&m, pos, &h, buf, cap, f);
				err = 0;
				break;
			}
			pos += rp_rec_size(h.len);
			if (pos - hd > at - hd)
				break;
		}
	map_close(&m);
	return err;
}

int rp_ring_commit_seq(const struct rp_ring_fds *fds, uint64_t *seq)
{
	struct rp_ring_map m;
	struct rp_ckpt ck;

	memset(&m, 0, sizeof(m));
	if (map_open(fds, 0, &m))
		return -EBADMSG;
	rp_ckpt_pick(&m.sh_c->c_ckpt, 1, rp_load64_acquire(&m.sh_c->c_head),
		     &ck);
	map_close(&m);
	*seq = ck.seq;
	return (ck.flags & RP_CKPT_F_VALID) ? 0 : -ENOENT;
}

int rp_ring_mark_ended(const struct rp_ring_fds *fds,
		       struct rp_bell *consumer_bell)
{
	struct stat st;
	void *pm = NULL;
	int err;

	/* Not through the header or the geometry copies: either side may
	 * have scribbled them, and ending the stream for a producer that
	 * is gone must not depend on anyone's goodwill.  The page is at a
	 * fixed place of a segment sealed against shrinking. */
	if (fstat(fds->p_fd, &st) < 0)
		return -errno;
	if (st.st_size < (off_t)RP_P_DATA_OFF)
		return -EBADMSG;
	err = rp_map(fds->p_fd, 0, RP_P_DATA_OFF, 1, &pm);
	if (err)
		return err;
	/* Pairs with the consumer's acquire load of p_closed. */
	rp_store32_release(
		&((struct rp_ring_pside *)((unsigned char *)pm + RP_P_SIDE_OFF))
			 ->p_closed,
		1);
	rp_unmap(pm, RP_P_DATA_OFF);
	if (consumer_bell)
		rp_bell_ring(consumer_bell);
	return 0;
}

int rp_ring_mark_dead(const struct rp_ring_fds *fds, int32_t pid)
{
	struct rp_ring_hdr h;
	void *pm = NULL, *cm = NULL;
	int err, marked = 0;

	if (pid <= 0)
		return -EINVAL;
	err = hdr_load(fds, &h);
	if (err)
		return err;
	if (h.s_flags & RP_RING_F_MP_PRODUCERS) {
		err = rp_map(fds->p_fd, 0, RP_P_DATA_OFF, 1, &pm);
		if (err)
			return err;
		marked += rp_mp_mark_dead(
			&((struct rp_ring_pside *)((unsigned char *)pm +
						   RP_P_SIDE_OFF))->p_mp,
			h.s_nslots, pid);
		rp_unmap(pm, RP_P_DATA_OFF);
	}
	if (h.s_flags & RP_RING_F_MP_CONSUMERS) {
		err = rp_map(fds->c_fd, 0, RP_C_SEG_SIZE, 1, &cm);
		if (err)
			return err;
		marked += rp_mp_mark_dead(&((struct rp_ring_cside *)cm)->c_mp,
					  h.s_nslots, pid);
		rp_unmap(cm, RP_C_SEG_SIZE);
	}
	return marked;
}

static void lock_sample(const struct rp_mp_side *d, uint32_t nslots,
			struct rp_lock_sample *out)
{
	uint32_t h = rp_load32_relaxed(&d->m_holder);

	out->locks = rp_load32_relaxed(&d->m_locks);
	out->owner_tid = rp_mutex_owner(d->m_mutex);
	out->holder_pid = h >= 1 && h <= nslots && h <= RP_MP_MAX_SLOTS
				  ? rp_load32_relaxed(&d->m_slots[h - 1].m_pid)
				  : 0;
}

int rp_ring_lock_sample(const struct rp_ring_fds *fds, int producers,
			struct rp_lock_sample *out)
{
	struct rp_ring_hdr h;
	void *mem = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	err = hdr_load(fds, &h);
	if (err)
		return err;
	if (!(h.s_flags & (producers ? RP_RING_F_MP_PRODUCERS
				     : RP_RING_F_MP_CONSUMERS)))
		return -ENOTSUP;
	if (producers) {
		err = rp_map(fds->p_fd, 0, RP_P_DATA_OFF, 0, &mem);
		if (err)
			return err;
		lock_sample(&((struct rp_ring_pside *)((unsigned char *)mem +
						       RP_P_SIDE_OFF))->p_mp,
			    h.s_nslots, out);
		rp_unmap(mem, RP_P_DATA_OFF);
	} else {
		err = rp_map(fds->c_fd, 0, RP_C_SEG_SIZE, 0, &mem);
		if (err)
			return err;
		lock_sample(&((struct rp_ring_cside *)mem)->c_mp, h.s_nslots,
			    out);
		rp_unmap(mem, RP_C_SEG_SIZE);
	}
	return 0;
}

/* ----------------------------------------------------------------- knobs */

void rp_producer_set_batch(struct rp_producer *p, uint32_t bytes)
{
	if (p->slot < 0)
		p->batch_bytes = bytes;
}

void rp_ring_set_lock_timeout(struct rp_producer *p, struct rp_consumer *c,
			      int64_t ns)
{
	if (p)
		p->m.lock_timeout_ns = ns;
	if (c)
		c->m.lock_timeout_ns = ns;
}

uint32_t rp_producer_max_record(const struct rp_producer *p)
{
	return p->m.max_record;
}

uint32_t rp_consumer_max_record(const struct rp_consumer *c)
{
	return c->m.max_record;
}
