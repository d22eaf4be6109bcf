/*
 * ring_mp.c - several producers or several consumers on one ring side.
 *
 * Design note
 * -----------
 * The participants of an MP side share its page read-write: a robust
 * mutex, a claim cursor and one claim slot each.  A claim is a byte range
 * [start, end) of the data area: for a producer, room reserved for one
 * record; for a consumer, a batch of whole records.  Claims are made and
 * finished under the mutex; the records themselves are written or read
 * outside it.
 *
 * The published cursor (p_tail for producers, c_head for consumers) is
 * derived: the start of the oldest claim still held, or the claim cursor
 * when none is.  mp_recompute() derives it and is idempotent, so a repair
 * can always run it again.
 *
 * Deaths.  Inside the critical section a slot is BUSY, and the steps are
 * ordered so that the next locker, told EOWNERDEAD, can see how far the
 * dead holder got (mp_repair()): "start = end = cursor; end = new; cursor
 * = new; HELD".  Outside it, a dead participant's slot is marked s_dead by
 * whoever learns of the death (the supervisor, with one atomic store); the
 * next locker voids it: a consumer's claim becomes VOID and is handed to
 * the next consumer that claims (redelivered, never lost), a producer's
 * becomes a PAD record that consumers skip.
 *
 * Robust mutexes identify owners by thread id: all participants of one
 * side must share a PID namespace.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../shm/crashpoint.h"
#include "../shm/robust.h"
#include "ring_int.h"

#define MP_CLAIM_RECORDS 64u
#define MP_CLAIM_BYTES (64u * 1024u)

struct mp_ctx {
	struct rp_ring_map *m;
	struct rp_mp_side *side;
	int producer;
};

static struct rp_mp_slot *slot_at(struct mp_ctx *x, int i)
{
	return &x->side->m_slots[i];
}

/* Fill [start, end) with one PAD record so consumers skip it. */
static void mp_pad(struct mp_ctx *x, uint64_t start, uint64_t end)
{
	struct rp_rec_hdr h;
	uint32_t len;

	if (end - start < sizeof(h) || end - start > x->m->cap)
		return;
	len = (uint32_t)(end - start - sizeof(h));
	h.len = len;
	h.type = RP_REC_T_PAD;
	h.flags = 0;
	h.sub = 0;
	h.check = rp_rec_check(len, RP_REC_T_PAD, 0, 0);
	h.origin = 0;
	memcpy(x->m->sh_data + (start & x->m->mask), &h, sizeof(h));
}

/* The owner of slot s is dead and its claim unfinished: void it. */
static void mp_void(struct mp_ctx *x, struct rp_mp_slot *s)
{
	uint32_t st = rp_load32_relaxed(&s->m_state);
	uint64_t start = rp_load64_relaxed(&s->m_start);
	uint64_t end = rp_load64_relaxed(&s->m_end);

	if ((st == RP_SLOT_HELD || st == RP_SLOT_BUSY) && end != start) {
		if (x->producer) {
			mp_pad(x, start, end);
			rp_store32_relaxed(&s->m_state, RP_SLOT_FREE);
		} else {
			/* Keep the range: the next claimer takes it over. */
			rp_store32_relaxed(&s->m_state, RP_SLOT_VOID);
			rp_store32_relaxed(&x->side->m_attn, 1);
		}
	} else if (st != RP_SLOT_VOID) {
		rp_store32_relaxed(&s->m_state, RP_SLOT_FREE);
	}
	rp_store32_relaxed(&s->m_pid, 0);
}

/* Void the claims of participants marked dead.  Under the lock.
 * Returns how many were voided. */
static int mp_reap(struct mp_ctx *x)
{
	int n = 0;

	for (uint32_t i = 0; i < x->m->nslots; i++) {
		struct rp_mp_slot *s = slot_at(x, (int)i);
		if (rp_load32_acquire(&s->s_dead) == 0)
			continue;
		mp_void(x, s);
		rp_store32_relaxed(&s->s_dead, 0);
		n++;
	}
	return n;
}

/* Derive and publish this side's cursor.  Under the lock.  0 or -EBADMSG
 * when the slots are inconsistent (a scribble, not a death). */
static int mp_recompute(struct mp_ctx *x)
{
	rp_atomic64 *pub = x->producer ? &x->m->sh_p->p_tail
				       : &x->m->sh_c->c_head;
	uint64_t base = rp_load64_relaxed(pub);
	uint64_t cur = rp_load64_relaxed(&x->side->m_cursor);
	uint64_t low = cur - base, attn = 0;

	if (low > x->m->cap || (cur & 7))
		return -EBADMSG;
	for (uint32_t i = 0; i < x->m->nslots; i++) {
		struct rp_mp_slot *s = slot_at(x, (int)i);
		uint32_t st = rp_load32_relaxed(&s->m_state);
		uint64_t d;

		if (st == RP_SLOT_VOID)
			attn = 1;
		if (st != RP_SLOT_HELD && st != RP_SLOT_BUSY &&
		    st != RP_SLOT_VOID)
			continue;
		d = rp_load64_relaxed(&s->m_start) - base;
		if (d > cur - base)
			return -EBADMSG;
		if (d < low)
			low = d;
	}
	rp_store32_relaxed(&x->side->m_attn, (uint32_t)attn);
	if (low != 0) {
		/* Pairs with the peer's acquire load of this cursor: every
		 * record below it is complete (producers) or no longer read
		 * (consumers).  The lock orders the writers' stores before
		 * this store. */
		rp_store64_release(pub, base + low);
	}
	return 0;
}

/* Is there a VOID slot other than me with exactly my range? */
static int mp_void_twin(struct mp_ctx *x, struct rp_mp_slot *me)
{
	for (uint32_t i = 0; i < x->m->nslots; i++) {
		struct rp_mp_slot *v = slot_at(x, (int)i);
		if (v != me && rp_load32_relaxed(&v->m_state) == RP_SLOT_VOID &&
		    rp_load64_relaxed(&v->m_start) ==
			    rp_load64_relaxed(&me->m_start) &&
		    rp_load64_relaxed(&v->m_end) == rp_load64_relaxed(&me->m_end))
			return 1;
	}
	return 0;
}

/* The holder died with its slot BUSY: decide whether its claim (a fresh
 * take or the adoption of a voided claim) took effect.  0 or -EBADMSG. */
static int mp_settle_busy(struct mp_ctx *x, struct rp_mp_slot *s)
{
	rp_atomic64 *pub = x->producer ? &x->m->sh_p->p_tail
				       : &x->m->sh_c->c_head;
	uint64_t base = rp_load64_relaxed(pub);
	uint64_t cur = rp_load64_relaxed(&x->side->m_cursor);
	uint64_t start = rp_load64_relaxed(&s->m_start);
	uint64_t end = rp_load64_relaxed(&s->m_end);
	uint32_t to = RP_SLOT_HELD;

	if (mp_void_twin(x, s) || start == cur)
		to = RP_SLOT_IDLE; /* adoption or take not done: drop ours */
	else if (end == start || start - base > cur - base ||
		 end - base > cur - base || end - start > x->m->cap)
		return -EBADMSG;
	if (to == RP_SLOT_IDLE)
		rp_store64_relaxed(&s->m_end, start);
	rp_store32_relaxed(&s->m_state, to);
	return 0;
}

/* EOWNERDEAD: the previous holder died inside the critical section. */
static int mp_repair(void *arg)
{
	struct mp_ctx *x = arg;
	uint32_t h = rp_load32_relaxed(&x->side->m_holder);
	int err;

	rp_store32_relaxed(&x->side->m_holder, 0);
	if (h >= 1 && h <= x->m->nslots) {
		struct rp_mp_slot *s = slot_at(x, (int)h - 1);
		if (rp_load32_relaxed(&s->m_state) == RP_SLOT_BUSY) {
			err = mp_settle_busy(x, s);
			if (err)
				return err;
		}
		rp_store32_relaxed(&s->s_dead, 1);
	}
	mp_reap(x);
	rp_add32(&x->side->m_repairs, 1);
	return mp_recompute(x);
}

/* Lock the side.  Deaths marked since the last locker are voided here,
 * and the cursor they held back is published: returns 1 then (the caller
 * rings the peer after unlocking), 0 otherwise, or -errno. */
static int mp_lock(struct mp_ctx *x, int slot)
{
	int r = rp_mutex_lock(x->side->m_mutex, x->m->lock_timeout_ns,
			      mp_repair, x);

	if (r < 0)
		return r;
	rp_store32_relaxed(&x->side->m_holder, (uint32_t)slot + 1);
	if (mp_reap(x) > 0 || r == 1) {
		if (mp_recompute(x) < 0) {
			rp_store32_relaxed(&x->side->m_holder, 0);
			rp_mutex_unlock(x->side->m_mutex);
			return -EBADMSG;
		}
		return 1;
	}
	return 0;
}

static void mp_unlock(struct mp_ctx *x)
{
	rp_store32_relaxed(&x->side->m_holder, 0);
	rp_mutex_unlock(x->side->m_mutex);
}

int rp_mp_slot_attach(struct rp_ring_map *m, struct rp_mp_side *side,
		      int producer, int *slot)
{
	struct mp_ctx x = {m, side, producer};
	int err = mp_lock(&x, -1);

	*slot = -1;
	if (err < 0)
		return err;
	for (uint32_t i = 0; i < m->nslots; i++) {
		struct rp_mp_slot *s = slot_at(&x, (int)i);
		uint64_t cur = rp_load64_relaxed(&side->m_cursor);
		if (rp_load32_relaxed(&s->m_state) != RP_SLOT_FREE ||
		    rp_load32_relaxed(&s->m_pid) != 0)
			continue;
		rp_store64_relaxed(&s->m_start, cur);
		rp_store64_relaxed(&s->m_end, cur);
		rp_store32_relaxed(&s->m_pid, (uint32_t)getpid());
		rp_store32_relaxed(&s->m_state, RP_SLOT_IDLE);
		*slot = (int)i;
		break;
	}
	mp_unlock(&x);
	return *slot < 0 ? -EUSERS : 0;
}

void rp_mp_slot_detach(struct rp_ring_map *m, struct rp_mp_side *side,
		       int producer, int slot)
{
	struct mp_ctx x = {m, side, producer};

	if (mp_lock(&x, slot) < 0)
		return; /* the supervisor's death mark will void it */
	mp_void(&x, slot_at(&x, slot));
	mp_recompute(&x);
	mp_unlock(&x);
}

/* Claim [cur, cur + n) for slot s, in the order mp_repair() relies on:
 * the range is set while the slot is still IDLE (ignored by everyone),
 * then BUSY, then the cursor moves, then HELD. */
static void mp_take(struct mp_ctx *x, struct rp_mp_slot *s, uint64_t cur,
		    uint64_t n)
{
	rp_store64_relaxed(&s->m_start, cur);
	rp_store64_relaxed(&s->m_end, cur + n);
	rp_store32_relaxed(&s->m_state, RP_SLOT_BUSY);
	RP_CRASHPOINT(RP_CP_MP_LOCKED);
	rp_store64_relaxed(&x->side->m_cursor, cur + n);
	RP_CRASHPOINT(RP_CP_MP_CURSOR_MOVED);
	rp_store32_relaxed(&s->m_state, RP_SLOT_HELD);
}

/* ------------------------------------------------------------ producers */

int rp_mp_reserve(struct rp_producer *p, uint64_t need)
{
	struct mp_ctx x = {&p->m, &p->m.sh_p->p_mp, 1};
	struct rp_mp_slot *s = slot_at(&x, p->slot);
	uint64_t hd, cur;
	int err = mp_lock(&x, p->slot), reaped = err == 1;

	if (err < 0)
		return err;
	err = 0;
	if (rp_load32_relaxed(&s->m_pid) != (uint32_t)getpid()) {
		err = -EOWNERDEAD; /* we were declared dead */
		goto out;
	}
	/* Pairs with the consumer's release store of c_head. */
	hd = rp_load64_acquire(&p->m.sh_c->c_head);
	cur = rp_load64_relaxed(&x.side->m_cursor);
	if (cur - hd > p->m.cap || (hd & 7)) {
		p->poisoned = 1;
		err = -EBADMSG;
		goto out;
	}
	if (rp_load32_acquire(&p->m.sh_c->c_broken)) {
		p->broken = 1;
		err = -EPIPE;
		goto out;
	}
	if (p->m.cap - (cur - hd) < need) {
		p->st.stalls++;
		err = -EAGAIN;
		goto out;
	}
	mp_take(&x, s, cur, need);
	p->resv_pos = cur;
out:
	mp_unlock(&x);
	if (reaped)
		rp_bell_ring(p->peer);
	return err;
}

/* Finish the claim of slot s: pad what the record did not use. */
static int mp_finish(struct mp_ctx *x, struct rp_mp_slot *s, uint64_t used)
{
	uint64_t start = rp_load64_relaxed(&s->m_start);
	uint64_t end = rp_load64_relaxed(&s->m_end);
	uint64_t rest = end - start - used;

	if (rest != 0)
		mp_pad(x, start + used, end);
	rp_store32_relaxed(&s->m_state, RP_SLOT_IDLE);
	rp_store64_relaxed(&s->m_start, end);
	return mp_recompute(x);
}

int rp_mp_commit(struct rp_producer *p)
{
	struct mp_ctx x = {&p->m, &p->m.sh_p->p_mp, 1};
	struct rp_mp_slot *s = slot_at(&x, p->slot);
	struct rp_rec_hdr h;
	uint64_t used, claimed;
	int err;

	memcpy(&h, p->m.sh_data + (p->resv_pos & p->m.mask), sizeof(h));
	used = rp_rec_size(h.len);
	claimed = rp_rec_size(p->resv_len);
	if (claimed != used && claimed - used < sizeof(h)) {
		/* Too little left over for a PAD record: keep the claim
		 * and let the caller commit a length that fits. */
		p->resv_out = 1;
		p->st.records--;
		p->st.bytes -= h.len;
		return -EINVAL;
	}
	err = mp_lock(&x, p->slot);
	if (err < 0)
		return err;
	err = mp_finish(&x, s, used);
	rp_stats_flush(&p->m.sh_p->p_stats, &p->st, &p->st_flushed);
	mp_unlock(&x);
	if (err) {
		p->poisoned = 1;
		return err;
	}
	p->st.batches++;
	if (rp_bell_ring(p->peer))
		p->st.wakes++;
	return 0;
}

void rp_mp_abandon(struct rp_producer *p)
{
	struct mp_ctx x = {&p->m, &p->m.sh_p->p_mp, 1};

	if (mp_lock(&x, p->slot) < 0)
		return;
	if (mp_finish(&x, slot_at(&x, p->slot), 0) < 0)
		p->poisoned = 1;
	mp_unlock(&x);
	rp_bell_ring(p->peer);
}

/* ------------------------------------------------------------ consumers */

/* Take over a voided claim, if any.  1 if taken.  Order for
 * mp_settle_busy(): copy the range while IDLE, BUSY, free the void, HELD. */
static int mp_adopt(struct mp_ctx *x, struct rp_mp_slot *me)
{
	for (uint32_t i = 0; i < x->m->nslots; i++) {
		struct rp_mp_slot *v = slot_at(x, (int)i);
		if (v == me || rp_load32_relaxed(&v->m_state) != RP_SLOT_VOID)
			continue;
		rp_store64_relaxed(&me->m_start,
				   rp_load64_relaxed(&v->m_start));
		rp_store64_relaxed(&me->m_end, rp_load64_relaxed(&v->m_end));
		rp_store32_relaxed(&me->m_state, RP_SLOT_BUSY);
		RP_CRASHPOINT(RP_CP_MP_LOCKED);
		rp_store32_relaxed(&v->m_state, RP_SLOT_FREE);
		rp_store32_relaxed(&me->m_state, RP_SLOT_HELD);
		return 1;
	}
	return 0;
}

static int mp_others_busy(struct mp_ctx *x, struct rp_mp_slot *me)
{
	for (uint32_t i = 0; i < x->m->nslots; i++) {
		struct rp_mp_slot *s = slot_at(x, (int)i);
		uint32_t st = rp_load32_relaxed(&s->m_state);
		if (s != me && (st == RP_SLOT_HELD || st == RP_SLOT_BUSY ||
				st == RP_SLOT_VOID))
			return 1;
	}
	return 0;
}

int rp_mp_claim(struct rp_consumer *c)
{
	struct mp_ctx x = {&c->m, &c->m.sh_c->c_mp, 0};
	struct rp_mp_slot *s = slot_at(&x, c->slot);
	uint64_t t, hd, cur, pos;
	int err = mp_lock(&x, c->slot), n = 0;

	if (err < 0)
		return err;
	err = 0;
	if (rp_load32_relaxed(&s->m_pid) != (uint32_t)getpid()) {
		err = -EOWNERDEAD;
		goto out;
	}
	if (mp_adopt(&x, s))
		goto claimed;
	/* Pairs with the producer's release store of p_tail. */
	t = rp_load64_acquire(&c->m.sh_p->p_tail);
	hd = rp_load64_relaxed(&c->m.sh_c->c_head);
	cur = rp_load64_relaxed(&x.side->m_cursor);
	if (t - hd > c->m.cap || cur - hd > t - hd || (t & 7)) {
		err = -EBADMSG;
		goto out;
	}
	if (cur == t) {
		err = -EAGAIN;
		if (rp_load32_acquire(&c->m.sh_p->p_closed) &&
		    rp_load64_acquire(&c->m.sh_p->p_tail) == t &&
		    !mp_others_busy(&x, s))
			err = -ENODATA;
		goto out;
	}
	/* Claim whole records only, each validated here and again at the
	 * point of use in mp_peek(). */
	for (pos = cur; pos != t && n < (int)MP_CLAIM_RECORDS &&
			pos - cur < MP_CLAIM_BYTES;
	     n++) {
		struct rp_rec_hdr h;
		err = rp_rec_read(&c->m, pos, t - pos, &h);
		if (err)
			goto out;
		pos += rp_rec_size(h.len);
	}
	mp_take(&x, s, cur, pos - cur);
claimed:
	c->rd = rp_load64_relaxed(&s->m_start);
	c->claim_end = rp_load64_relaxed(&s->m_end);
	c->claimed = 1;
out:
	mp_unlock(&x);
	if (err == -EBADMSG)
		c->poisoned = 1;
	if (err == 0)
		RP_CRASHPOINT(RP_CP_MP_CLAIM_HELD);
	return err;
}

int rp_mp_release(struct rp_consumer *c)
{
	struct mp_ctx x = {&c->m, &c->m.sh_c->c_mp, 0};
	struct rp_mp_slot *s = slot_at(&x, c->slot);
	int err = mp_lock(&x, c->slot);

	if (err < 0)
		return err;
	RP_CRASHPOINT(RP_CP_BEFORE_RELEASE);
	if (c->rd == c->claim_end) {
		rp_store32_relaxed(&s->m_state, RP_SLOT_IDLE);
		rp_store64_relaxed(&s->m_start, c->claim_end);
		c->claimed = 0;
	} else {
		/* Partial release: keep the unpeeked rest claimed. */
		rp_store64_relaxed(&s->m_start, c->rd);
	}
	err = mp_recompute(&x);
	c->st.batches++;
	rp_stats_flush(&c->m.sh_c->c_stats, &c->st, &c->st_flushed);
	mp_unlock(&x);
	if (err) {
		c->poisoned = 1;
		return err;
	}
	if (rp_bell_ring(c->peer))
		c->st.wakes++;
	return 0;
}

/* ----------------------------------------------------------- supervisor */

int rp_mp_mark_dead(struct rp_mp_side *side, uint32_t nslots, int32_t pid)
{
	int marked = 0;

	for (uint32_t i = 0; i < nslots && i < RP_MP_MAX_SLOTS; i++) {
		struct rp_mp_slot *s = &side->m_slots[i];
		if ((int32_t)rp_load32_relaxed(&s->m_pid) != pid)
			continue;
		/* Pairs with the acquire load in mp_reap(). */
		rp_store32_release(&s->s_dead, 1);
		marked++;
	}
	if (marked)
		rp_store32_release(&side->m_attn, 1);
	return marked;
}
