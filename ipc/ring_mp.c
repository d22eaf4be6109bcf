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
 * ordered (with compiler fences: a death is as asynchronous as a signal)
 * so that the next locker, told EOWNERDEAD, can see how far the dead
 * holder got (mp_settle_busy()): "range set while IDLE; BUSY; cursor =
 * end; HELD".  Outside it, a dead participant's slot is marked with its
 * pid by whoever learns of the death (the supervisor, with one atomic
 * store, before it reaps the process so the pid cannot be reused); the
 * next locker voids it: a consumer's claim becomes VOID and is handed to
 * the next consumer that claims (redelivered, never lost), a producer's
 * becomes a PAD record that consumers skip.  A participant whose slot was
 * voided (declared dead while alive) gets -EOWNERDEAD and must detach.
 *
 * End of stream with several producers: each producer's end marks its
 * slot ENDED and counts it; the stream ends when nproducers of them have
 * ended (the ring's header says how many; nslots unless told).
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
/* Ordered: fewer, so that copies share out what there is. */
#define MP_CLAIM_ORDERED 16u

/* Keep the compiler from moving claim steps across each other: the order
 * of these stores is what a repair reads after a death at any point. */
#define STEP() atomic_signal_fence(memory_order_seq_cst)

struct mp_ctx {
	struct rp_ring_map *m;
	struct rp_mp_side *side;
	int producer;
};

static struct rp_mp_slot *slot_at(struct mp_ctx *x, int i)
{
	return &x->side->m_slots[i];
}

static rp_atomic64 *published(struct mp_ctx *x)
{
	return x->producer ? &x->m->sh_p->p_tail : &x->m->sh_c->c_head;
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
	h.check = rp_rec_check(len, RP_REC_T_PAD, 0, 0, 0);
	h.origin = 0;
	memcpy(x->m->sh_data + (start & x->m->mask), &h, sizeof(h));
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

/* A slot left BUSY by a death inside the critical section: decide
 * whether its claim (a fresh take or the adoption of a voided claim) took
 * effect.  Leaves it HELD or IDLE.  0 or -EBADMSG. */
static int mp_settle_busy(struct mp_ctx *x, struct rp_mp_slot *s)
{
	uint64_t base = rp_load64_relaxed(published(x));
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

/* The owner of slot s is dead: void its claim and free the slot. */
static int mp_void(struct mp_ctx *x, struct rp_mp_slot *s)
{
	uint32_t st = rp_load32_relaxed(&s->m_state);
	uint64_t start, end;

	if (st == RP_SLOT_BUSY) {
		int err = mp_settle_busy(x, s);
		if (err)
			return err;
		st = rp_load32_relaxed(&s->m_state);
	}
	start = rp_load64_relaxed(&s->m_start);
	end = rp_load64_relaxed(&s->m_end);
	if (st == RP_SLOT_HELD && end != start) {
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
	/* Release: a newcomer's lock-free take (slot_take) that sees the
	 * pid gone sees the state as left here. */
	rp_store32_release(&s->m_pid, 0);
	return 0;
}

/* Void the claims of participants marked dead.  Under the lock.  A mark
 * carries the dead pid; a slot owned by anyone else now is left alone.
 * Returns how many were voided, or -EBADMSG. */
static int mp_reap(struct mp_ctx *x)
{
	int n = 0;

	for (uint32_t i = 0; i < x->m->nslots; i++) {
		struct rp_mp_slot *s = slot_at(x, (int)i);
		/* Pairs with the release store in rp_mp_mark_dead(). */
		uint32_t dead = rp_load32_acquire(&s->s_dead);
		if (dead == 0)
			continue;
		rp_store32_relaxed(&s->s_dead, 0);
		if (dead != rp_load32_relaxed(&s->m_pid))
			continue;
		if (mp_void(x, s) < 0)
			return -EBADMSG;
		n++;
	}
	return n;
}

/* Derive and publish this side's cursor.  Under the lock.  0 or -EBADMSG
 * when the slots are inconsistent (a scribble, not a death). */
static int mp_recompute(struct mp_ctx *x)
{
	rp_atomic64 *pub = published(x);
	uint64_t base = rp_load64_relaxed(pub);
	uint64_t cur = rp_load64_relaxed(&x->side->m_cursor);
	uint64_t low = cur - base;
	uint32_t attn = 0;

	if (low > x->m->cap || (cur & 7))
		return -EBADMSG;
	for (uint32_t i = 0; i < x->m->nslots; i++) {
		struct rp_mp_slot *s = slot_at(x, (int)i);
		uint32_t st = rp_load32_relaxed(&s->m_state);
		uint64_t d;

		if (st == RP_SLOT_VOID)
			attn = 1;
		if (rp_load32_relaxed(&s->s_dead) != 0)
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
	rp_store32_relaxed(&x->side->m_attn, attn);
	if (low != 0) {
		/* Pairs with the peer's acquire load of this cursor: every
		 * record below it is complete (producers) or no longer read
		 * (consumers).  The lock orders the writers' stores before
		 * this store. */
		rp_store64_release(pub, base + low);
	}
	return 0;
}

/* EOWNERDEAD: the previous holder died inside the critical section.  The
 * holder's identity is cleared last, so a repairer that dies too leaves
 * the next one everything it needs. */
static int mp_repair(void *arg)
{
	struct mp_ctx *x = arg;
	uint32_t h = rp_load32_relaxed(&x->side->m_holder);
	int err;

	if (h >= 1 && h <= x->m->nslots) {
		struct rp_mp_slot *s = slot_at(x, (int)h - 1);
		if (rp_load32_relaxed(&s->m_state) == RP_SLOT_BUSY) {
			err = mp_settle_busy(x, s);
			if (err)
				return err;
		}
		if (rp_load32_relaxed(&s->m_pid) != 0)
			rp_store32_relaxed(&s->s_dead,
					   rp_load32_relaxed(&s->m_pid));
	}
	RP_CRASHPOINT(RP_CP_MP_REPAIR);
	if (mp_reap(x) < 0)
		return -EBADMSG;
	err = mp_recompute(x);
	if (err)
		return err;
	rp_add32(&x->side->m_repairs, 1);
	rp_store32_relaxed(&x->side->m_holder, 0);
	return 0;
}

/* Lock the side, reaping marked deaths and publishing the cursor they
 * held back.  Returns 1 if the cursor may have moved (the caller rings
 * the peer after unlocking), 0 if not, or -errno. */
static int mp_lock(struct mp_ctx *x, int slot)
{
	int r = rp_mutex_lock(x->side->m_mutex, x->m->lock_timeout_ns,
			      mp_repair, x);
	int n;

	if (r < 0)
		return r;
	rp_store32_relaxed(&x->side->m_holder, (uint32_t)slot + 1);
	rp_store32_relaxed(&x->side->m_locks,
			   rp_load32_relaxed(&x->side->m_locks) + 1);
	n = mp_reap(x);
	if (n < 0)
		goto bad;
	if (n > 0 || r == 1 || rp_load32_relaxed(&x->side->m_attn)) {
		/* Also clears a stale attention flag, so idle waiters do
		 * not keep taking the lock for nothing. */
		if (mp_recompute(x) < 0)
			goto bad;
		return 1;
	}
	return 0;
bad:
	rp_store32_relaxed(&x->side->m_holder, 0);
	rp_mutex_unlock(x->side->m_mutex);
	return -EBADMSG;
}

static void mp_unlock(struct mp_ctx *x)
{
	rp_store32_relaxed(&x->side->m_holder, 0);
	rp_mutex_unlock(x->side->m_mutex);
}

/* mp_lock for a participant whose handle remembers a broken side: a side
 * found broken, now or before, stays so (-EBADMSG from then on). */
static int mp_lock_handle(struct mp_ctx *x, int slot, int *poisoned)
{
	int r;

	if (*poisoned)
		return -EBADMSG;
	r = mp_lock(x, slot);
	if (r == -EBADMSG)
		*poisoned = 1;
	return r;
}

/* Is slot s still ours, in the state we left it? */
static int mp_mine(struct rp_mp_slot *s, uint32_t state)
{
	return rp_load32_relaxed(&s->m_pid) == (uint32_t)getpid() &&
	       rp_load32_relaxed(&s->m_state) == state;
}

/* Without the lock, so that a holder stuck in it cannot keep a new
 * participant from starting (the supervisor kills such a holder, once
 * the newcomer is up).  A FREE slot with no pid is taken with one
 * compare-and-swap of its pid, then made IDLE.  Lockers look only at
 * slots that hold or await a claim, and void a slot only for a death
 * marked with its pid: one that dies half-way, its pid set and its
 * state still FREE, is freed by that mark like any other. */
static int slot_take(struct rp_ring_map *m, struct rp_mp_side *side,
		     int *slot)
{
	*slot = -1;
	for (uint32_t i = 0; i < m->nslots && i < RP_MP_MAX_SLOTS; i++) {
		struct rp_mp_slot *s = &side->m_slots[i];
		uint32_t none = 0;
		if (rp_load32_acquire(&s->m_state) != RP_SLOT_FREE ||
		    !rp_cas32(&s->m_pid, &none, (uint32_t)getpid()))
			continue;
		/* A stale mark naming our pid (a reused one) must not void
		 * us: cleared before the slot is in use. */
		rp_store32_relaxed(&s->s_dead, 0);
		rp_store32_release(&s->m_state, RP_SLOT_IDLE);
		*slot = (int)i;
		return 0;
	}
	return -EUSERS;
}

int rp_mp_slot_attach(struct rp_ring_map *m, struct rp_mp_side *side,
		      int producer, int *slot)
{
	struct mp_ctx x = {m, side, producer};
	int err;

	if (slot_take(m, side, slot) == 0)
		return 0;
	/* None free: the dead may still hold theirs until a locker reaps
	 * them.  Lock (which reaps), then look again. */
	if ((err = mp_lock(&x, -1)) < 0)
		return err;
	mp_unlock(&x);
	return slot_take(m, side, slot);
}

void rp_mp_slot_detach(struct rp_ring_map *m, struct rp_mp_side *side,
		       int producer, int slot)
{
	struct mp_ctx x = {m, side, producer};
	struct rp_mp_slot *s = slot_at(&x, slot);

	if (mp_lock(&x, slot) < 0)
		return; /* the supervisor's death mark will void it */
	if (rp_load32_relaxed(&s->m_pid) == (uint32_t)getpid()) {
		mp_void(&x, s);
		mp_recompute(&x);
	}
	mp_unlock(&x);
}

/* Claim [cur, cur + n) for slot s, in the order mp_settle_busy() reads:
 * the range is set while the slot is still IDLE (ignored by everyone),
 * then BUSY, then the cursor moves, then HELD. */
static void mp_take(struct mp_ctx *x, struct rp_mp_slot *s, uint64_t cur,
		    uint64_t n)
{
	rp_store64_relaxed(&s->m_start, cur);
	rp_store64_relaxed(&s->m_end, cur + n);
	STEP();
	rp_store32_relaxed(&s->m_state, RP_SLOT_BUSY);
	STEP();
	RP_CRASHPOINT(RP_CP_MP_LOCKED);
	rp_store64_relaxed(&x->side->m_cursor, cur + n);
	STEP();
	RP_CRASHPOINT(RP_CP_MP_CURSOR_MOVED);
	rp_store32_relaxed(&s->m_state, RP_SLOT_HELD);
}

/* ------------------------------------------------------------ producers */

/* One try at a reservation: -ESTALE if the consumer's head failed its
 * check (looked at again by rp_mp_reserve, out of the lock). */
static int mp_reserve_once(struct rp_producer *p, uint64_t need)
{
	struct mp_ctx x = {&p->m, &p->m.sh_p->p_mp, 1};
	struct rp_mp_slot *s = slot_at(&x, p->slot);
	uint64_t hd, cur;
	int err = mp_lock_handle(&x, p->slot, &p->poisoned);
	int moved = err == 1;

	if (err < 0)
		return err;
	err = 0;
	if (!mp_mine(s, RP_SLOT_IDLE)) {
		err = -EOWNERDEAD; /* declared dead, or already ended */
		goto out;
	}
	/* Pairs with the consumer's release store of c_head. */
	hd = rp_load64_acquire(&p->m.sh_c->c_head);
	cur = rp_load64_relaxed(&x.side->m_cursor);
	if (cur - hd > p->m.cap || (hd & 7)) {
		err = -ESTALE;
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
	if (moved)
		rp_bell_ring(p->peer);
	return err;
}

int rp_mp_reserve(struct rp_producer *p, uint64_t need)
{
	int64_t until = 0;
	int err;

	/* A bad head may be one its consumer is about to store over: not
	 * waited for under the lock the copies share. */
	while ((err = mp_reserve_once(p, need)) == -ESTALE)
		if (rp_cursor_settle(p->no_settle, &until)) {
			p->poisoned = 1;
			return -EBADMSG;
		}
	return err;
}

/* Finish the claim of slot s: pad what the record did not use. */
static int mp_finish(struct mp_ctx *x, struct rp_mp_slot *s, uint64_t used)
{
	uint64_t start = rp_load64_relaxed(&s->m_start);
	uint64_t end = rp_load64_relaxed(&s->m_end);

	if (end - start != used)
		mp_pad(x, start + used, end);
	STEP();
	rp_store32_relaxed(&s->m_state, RP_SLOT_IDLE);
	rp_store64_relaxed(&s->m_start, end);
	return mp_recompute(x);
}

int rp_mp_commit(struct rp_producer *p, uint64_t used)
{
	struct mp_ctx x = {&p->m, &p->m.sh_p->p_mp, 1};
	struct rp_mp_slot *s = slot_at(&x, p->slot);
	int err = mp_lock_handle(&x, p->slot, &p->poisoned);

	if (err < 0)
		return err; /* the reservation stays: commit again or abandon */
	if (!mp_mine(s, RP_SLOT_HELD)) {
		mp_unlock(&x);
		return -EOWNERDEAD;
	}
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

int rp_mp_abandon(struct rp_producer *p)
{
	struct mp_ctx x = {&p->m, &p->m.sh_p->p_mp, 1};
	struct rp_mp_slot *s = slot_at(&x, p->slot);
	int err = mp_lock_handle(&x, p->slot, &p->poisoned);

	if (err < 0)
		return err;
	if (!mp_mine(s, RP_SLOT_HELD))
		err = -EOWNERDEAD;
	else if (mp_finish(&x, s, 0) < 0)
		err = -EBADMSG;
	else
		err = 0;
	mp_unlock(&x);
	if (err == -EBADMSG)
		p->poisoned = 1;
	rp_bell_ring(p->peer);
	return err;
}

int rp_mp_end(struct rp_producer *p)
{
	struct mp_ctx x = {&p->m, &p->m.sh_p->p_mp, 1};
	struct rp_mp_slot *s = slot_at(&x, p->slot);
	int err = mp_lock_handle(&x, p->slot, &p->poisoned);

	if (err < 0)
		return err;
	err = 0;
	if (mp_mine(s, RP_SLOT_IDLE)) {
		rp_store32_relaxed(&s->m_state, RP_SLOT_ENDED);
		/* The stream ends when every producer has ended.  Pairs
		 * with the consumer's acquire load of p_closed. */
		if (rp_add32(&x.side->m_ended, 1) + 1 >= p->m.nproducers)
			rp_store32_release(&p->m.sh_p->p_closed, 1);
	} else if (!mp_mine(s, RP_SLOT_ENDED)) {
		err = -EOWNERDEAD;
	}
	mp_unlock(&x);
	rp_bell_ring(p->peer);
	return err;
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
		rp_store32_relaxed(&me->m_flags,
				   rp_load32_relaxed(&v->m_flags));
		STEP();
		rp_store32_relaxed(&me->m_state, RP_SLOT_BUSY);
		STEP();
		RP_CRASHPOINT(RP_CP_MP_LOCKED);
		rp_store32_relaxed(&v->m_state, RP_SLOT_FREE);
		STEP();
		rp_store32_relaxed(&me->m_state, RP_SLOT_HELD);
		return 1;
	}
	return 0;
}

/* Does any slot other than me hold or await a claim?  (Under the lock, or
 * as a hint without it.) */
int rp_mp_others_busy(const struct rp_mp_side *side, uint32_t nslots, int me)
{
	for (uint32_t i = 0; i < nslots && i < RP_MP_MAX_SLOTS; i++) {
		uint32_t st = rp_load32_relaxed(&side->m_slots[i].m_state);
		if ((int)i != me && (st == RP_SLOT_HELD || st == RP_SLOT_BUSY ||
				     st == RP_SLOT_VOID))
			return 1;
	}
	return 0;
}

/*
 * Ordered consumers of a replaying producer: records claimed are told
 * apart from replays of ones claimed before (their key not past the last
 * one), a claim holding only one or only the other.  The key is stored
 * before the claim moves the cursor; a death in between leaves the claim
 * to be made again at the same place, so the key before it is kept too
 * and a claim starting where the last one did is judged against that.
 * Under the lock.
 */
struct mp_key {
	uint64_t origin;
	uint32_t sub;
	int has;
};

/* The key the records of a claim at cur are judged against. */
static struct mp_key mp_key_before(struct mp_ctx *x, uint64_t cur)
{
	struct rp_mp_side *d = x->side;
	uint32_t has = rp_load32_relaxed(&d->m_key_has);
	struct mp_key k = {0, 0, 0};

	if (rp_load64_relaxed(&d->m_key_pos) == cur) {
		if (has & RP_KEY_F_PREV)
			k = (struct mp_key){rp_load64_relaxed(&d->m_prev_origin),
					    rp_load32_relaxed(&d->m_prev_sub), 1};
	} else if (has & RP_KEY_F_LAST) {
		k = (struct mp_key){rp_load64_relaxed(&d->m_key_origin),
				    rp_load32_relaxed(&d->m_key_sub), 1};
	}
	return k;
}

static int mp_key_replays(const struct mp_key *k, const struct rp_rec_hdr *h)
{
	return k->has && (h->origin < k->origin ||
			  (h->origin == k->origin && h->sub <= k->sub));
}

/* A claim at cur took records up to key k (new ones: not replays). */
static void mp_key_store(struct mp_ctx *x, uint64_t cur, const struct mp_key *k)
{
	struct rp_mp_side *d = x->side;
	uint32_t has = rp_load32_relaxed(&d->m_key_has);

	if (rp_load64_relaxed(&d->m_key_pos) != cur) {
		/* The last key becomes the one before this claim: copied
		 * (still unnamed), then named, then the place moves. */
		if (has & RP_KEY_F_LAST) {
			rp_store64_relaxed(&d->m_prev_origin,
					   rp_load64_relaxed(&d->m_key_origin));
			rp_store32_relaxed(&d->m_prev_sub,
					   rp_load32_relaxed(&d->m_key_sub));
		}
		STEP();
		rp_store32_relaxed(&d->m_key_has,
				   (has & RP_KEY_F_LAST) ? has | RP_KEY_F_PREV
							 : has & ~RP_KEY_F_PREV);
		STEP();
		rp_store64_relaxed(&d->m_key_pos, cur);
		STEP();
	}
	/* Judged against the key before from here on: the last one may
	 * be half written. */
	rp_store32_relaxed(&d->m_key_has,
			   rp_load32_relaxed(&d->m_key_has) & ~RP_KEY_F_LAST);
	STEP();
	rp_store64_relaxed(&d->m_key_origin, k->origin);
	rp_store32_relaxed(&d->m_key_sub, k->sub);
	STEP();
	rp_store32_relaxed(&d->m_key_has,
			   rp_load32_relaxed(&d->m_key_has) | RP_KEY_F_LAST);
	STEP();
}

/* One try at a claim: -ESTALE if the cursors failed their check
 * (looked at again by rp_mp_claim, out of the lock). */
static int mp_claim_once(struct rp_consumer *c)
{
	struct mp_ctx x = {&c->m, &c->m.sh_c->c_mp, 0};
	struct rp_mp_slot *s = slot_at(&x, c->slot);
	uint64_t t, hd, cur, pos;
	struct rp_rec_hdr h = {0};
	int ordered = (c->m.flags & RP_RING_F_ORDERED) != 0;
	int dedup = ordered && (c->m.flags & RP_RING_F_DEDUP);
	int max = ordered ? (int)MP_CLAIM_ORDERED : (int)MP_CLAIM_RECORDS;
	if (c->claim_max > 0 && c->claim_max < (unsigned)max)
		max = (int)c->claim_max;
	int err = mp_lock_handle(&x, c->slot, &c->poisoned);
	int n = 0, replay = -1;
	struct mp_key last;

	if (err < 0)
		return err;
	err = 0;
	if (!mp_mine(s, RP_SLOT_IDLE)) {
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
		err = -ESTALE;
		goto out;
	}
	if (cur == t) {
		err = -EAGAIN;
		if (rp_load32_acquire(&c->m.sh_p->p_closed) &&
		    rp_load64_acquire(&c->m.sh_p->p_tail) == t &&
		    !rp_mp_others_busy(x.side, c->m.nslots, c->slot))
			err = -ENODATA;
		goto out;
	}
	/* Claim whole records only, each validated here and again at the
	 * point of use in mp_peek().  Ordered on a replaying producer: all
	 * replays or none, the new ones' keys rising. */
	if (dedup)
		last = mp_key_before(&x, cur);
	for (pos = cur; pos != t && n < max &&
			pos - cur < MP_CLAIM_BYTES;
	     n++) {
		err = rp_rec_read(&c->m, pos, t - pos, &h);
		if (err)
			goto out;
		if (dedup && h.type != RP_REC_T_PAD) {
			int r = mp_key_replays(&last, &h);
			if (replay >= 0 && r != replay)
				break;
			replay = r;
			if (!r)
				last = (struct mp_key){h.origin, h.sub, 1};
		}
		pos += rp_rec_size(h.len);
	}
	if (replay == 0)
		mp_key_store(&x, cur, &last);
	rp_store32_relaxed(&s->m_flags, replay == 1 ? RP_SLOT_F_REPLAY : 0);
	mp_take(&x, s, cur, pos - cur);
claimed:
	/* Private copies: nothing later re-reads the claim from the page. */
	c->rd = c->claim_start = rp_load64_relaxed(&s->m_start);
	c->claim_end = rp_load64_relaxed(&s->m_end);
	c->claimed = 1;
	c->claim_delivered = 0;
	c->claim_replay = (rp_load32_relaxed(&s->m_flags) &
			   RP_SLOT_F_REPLAY) != 0;
	if (c->claim_end - c->claim_start > c->m.cap) {
		err = -EBADMSG;
		c->claimed = 0;
	}
out:
	mp_unlock(&x);
	if (err == -EBADMSG)
		c->poisoned = 1;
	if (err == 0)
		RP_CRASHPOINT(RP_CP_MP_CLAIM_HELD);
	return err;
}

int rp_mp_claim(struct rp_consumer *c)
{
	int64_t until = 0;
	int err;

	/* A bad tail may be one its producer is about to store over: not
	 * waited for under the lock the copies share, and said hungry
	 * meanwhile, so that it publishes at once. */
	while ((err = mp_claim_once(c)) == -ESTALE) {
		if (until == 0 && !c->no_settle)
			rp_bell_announce(c->own);
		if (rp_cursor_settle(c->no_settle, &until)) {
			err = -EBADMSG;
			c->poisoned = 1;
			break;
		}
	}
	if (until != 0)
		rp_bell_retire(c->own);
	return err;
}

int rp_mp_release(struct rp_consumer *c)
{
	struct mp_ctx x = {&c->m, &c->m.sh_c->c_mp, 0};
	struct rp_mp_slot *s = slot_at(&x, c->slot);
	int err = mp_lock_handle(&x, c->slot, &c->poisoned);

	if (err < 0)
		return err;
	RP_CRASHPOINT(RP_CP_BEFORE_RELEASE);
	if (!mp_mine(s, RP_SLOT_HELD)) {
		mp_unlock(&x);
		c->claimed = 0;
		return -EOWNERDEAD;
	}
	if (c->rd == c->claim_end) {
		rp_store32_relaxed(&s->m_state, RP_SLOT_IDLE);
		rp_store64_relaxed(&s->m_start, c->claim_end);
		c->claimed = 0;
	} else {
		/* Partial release: keep the unpeeked rest claimed. */
		rp_store64_relaxed(&s->m_start, c->rd);
		c->claim_start = c->rd;
		c->claim_delivered = 0;
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
	/* Ordered: the head moved, so a sibling may have its turn now. */
	if (c->m.flags & RP_RING_F_ORDERED)
		rp_bell_ring(c->own);
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
		/* The mark names the pid: the next locker voids the slot
		 * only if that pid still owns it.  Pairs with the acquire
		 * load in mp_reap(); attention first, so a locker that sees
		 * the mark also recomputes. */
		rp_store32_release(&side->m_attn, 1);
		rp_store32_release(&s->s_dead, (uint32_t)pid);
		marked++;
	}
	return marked;
}
