/*
 * layout.h - the shared-memory format of ringpipe.  This header owns it.
 *
 * Design note
 * -----------
 * A ring lives in two sealed memfds so that each side can write only what it
 * owns.  The producer segment holds the creator-written header, the
 * producer's cursor page and the record data; the consumer segment holds the
 * consumer's cursor page.  Each side maps its own segment read-write and the
 * peer's read-only (through a read-only reopen of the memfd, which mprotect
 * cannot upgrade), so a consumer cannot forge its producer's cursor and get
 * the producer blamed, and vice versa.  Doorbells (ipc/bell.h) live in a
 * memfd of their own that every waker may write.
 *
 *   producer segment (P)                   consumer segment (C)
 *   0x0000 struct rp_ring_hdr   creator    0x0000 struct rp_ring_cside  consumer
 *   0x1000 struct rp_ring_pside producer
 *   0x2000 data[capacity]       producer   (mapped twice back to back, so a
 *                                           record never wraps in memory)
 *
 *   bell segment (B): 0x0000 struct rp_bell_shm, written by its owner and by
 *   every waker.
 *
 * Every field is fixed-width; no pointers, size_t, long, bool or bitfields.
 * Cursors are free-running 64-bit byte counts compared only by unsigned
 * difference; the data offset of cursor x is (x & (capacity - 1)).
 * Field prefixes name the writer: p_ producer, c_ consumer, s_ creator
 * (the supervisor).  Everything here may have been written by a hostile
 * process: readers copy a value once, then check it, then use the copy.
 *
 * Changing anything below means bumping the matching version.
 */
#ifndef RP_LAYOUT_H
#define RP_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "atomics.h"

#define RP_PAGE 4096u
#define RP_CACHELINE 64u

/* ---------------------------------------------------------------- rings */

#define RP_RING_MAGIC 0x52504e47u /* "RPNG" */
#define RP_RING_VERSION 4u

#define RP_RING_F_MP_PRODUCERS 0x1u /* several producers, claims under mutex */
#define RP_RING_F_MP_CONSUMERS 0x2u /* several consumers, claims under mutex */
/* The producer replays deterministically after a restart: its consumer
 * drops a record whose (origin, sub) is not past the last one it took,
 * from the first record of a new incarnation (RP_REC_F_RESTART) until a
 * record is past it; elsewhere such a key is a corruption of the ring.
 * A ring with several producers (replicas) has no incarnations: there a
 * key not past the last is dropped wherever it comes. */
#define RP_RING_F_DEDUP 0x4u
/* Several consumers (replicas) that publish their outputs in input
 * order: each claims a few records at a time, and only the one whose
 * claim starts at the released head may publish (ring.h,
 * rp_consumer_my_turn).  With RP_RING_F_DEDUP, replays are dropped where
 * they are claimed. */
#define RP_RING_F_ORDERED 0x8u
#define RP_RING_F_MP (RP_RING_F_MP_PRODUCERS | RP_RING_F_MP_CONSUMERS)
#define RP_RING_F_ALL (RP_RING_F_MP | RP_RING_F_DEDUP | RP_RING_F_ORDERED)

#define RP_RING_MIN_CAPACITY RP_PAGE
#define RP_RING_MAX_CAPACITY (1u << 30)

#define RP_P_HDR_OFF 0x0000u
#define RP_P_SIDE_OFF 0x1000u
#define RP_P_DATA_OFF 0x2000u
#define RP_C_SIDE_OFF 0x0000u
#define RP_C_SEG_SIZE 0x1000u

/* Written once by the creator before any participant attaches. */
struct rp_ring_hdr {
	uint32_t s_magic;       /* 0x00 RP_RING_MAGIC */
	uint16_t s_version;     /* 0x04 RP_RING_VERSION */
	uint16_t s_hdr_size;    /* 0x06 sizeof(struct rp_ring_hdr) */
	uint32_t s_capacity;    /* 0x08 data bytes, power of two */
	uint32_t s_max_record;  /* 0x0c largest payload, <= capacity/2 - hdr */
	uint32_t s_flags;       /* 0x10 RP_RING_F_* */
	uint32_t s_nslots;      /* 0x14 MP claim slots per side (0 in SPSC) */
	uint64_t s_p_seg_size;  /* 0x18 size of the producer memfd */
	uint64_t s_data_off;    /* 0x20 RP_P_DATA_OFF */
	uint32_t s_nproducers;  /* 0x28 MP producers whose ends end the
				 *      stream (<= s_nslots) */
	uint8_t s_reserved[20]; /* 0x2c zero */
};
_Static_assert(sizeof(struct rp_ring_hdr) == 64, "ring header is one line");
_Static_assert(offsetof(struct rp_ring_hdr, s_capacity) == 0x08, "format");
_Static_assert(offsetof(struct rp_ring_hdr, s_data_off) == 0x20, "format");

/*
 * Counters, one block per writer, read by observers through a seqlock:
 * the writer makes seq odd, updates, makes it even; a reader retries while
 * seq is odd or changed (bounded: a hostile writer may hold it odd).
 * The writer accumulates privately and flushes once per publication, so
 * the hot path pays a few stores per batch, not per record.
 */
struct rp_stats_shm {
	rp_atomic32 seq;      /* 0x00 odd while being written */
	uint32_t pad;         /* 0x04 */
	rp_atomic64 records;  /* 0x08 records committed / released */
	rp_atomic64 bytes;    /* 0x10 payload bytes */
	rp_atomic64 batches;  /* 0x18 publications (one store of the cursor) */
	rp_atomic64 waits;    /* 0x20 times this side parked in the kernel */
	rp_atomic64 wakes;    /* 0x28 futex wakes / eventfd writes sent */
	rp_atomic64 stalls;   /* 0x30 full (producer) / empty (consumer) stalls */
	rp_atomic64 spare;    /* 0x38 */
};
_Static_assert(sizeof(struct rp_stats_shm) == 64, "stats are one line");

/* Multi-participant claim slot: one per producer (or consumer) of an MP
 * side.  Written by its owner under the side's mutex, by the next locker
 * when it repairs, and (field s_dead only, with the dead pid) by whoever
 * learns of a death. */
#define RP_SLOT_FREE 0u    /* no owner */
#define RP_SLOT_IDLE 1u    /* owned, no outstanding claim */
#define RP_SLOT_BUSY 2u    /* owner is inside the critical section */
#define RP_SLOT_HELD 3u    /* owner holds [start, end) outside the lock */
#define RP_SLOT_ENDED 4u   /* producer: ended its stream, still attached */
#define RP_SLOT_VOID 5u    /* claim of a dead owner, to redeliver / pad */

struct rp_mp_slot {
	rp_atomic32 m_pid;   /* 0x00 owner's pid, 0 when free */
	rp_atomic32 m_state; /* 0x04 RP_SLOT_* */
	rp_atomic32 s_dead;  /* 0x08 pid of a dead owner, 0: none known */
	rp_atomic32 m_flags; /* 0x0c RP_SLOT_F_*, of the claim */
	rp_atomic64 m_start; /* 0x10 claimed byte range [start, end) */
	rp_atomic64 m_end;   /* 0x18 */
};
_Static_assert(sizeof(struct rp_mp_slot) == 32, "slot size");

/* The claim is a replay, to be dropped (ordered consumers). */
#define RP_SLOT_F_REPLAY 0x1u

#define RP_MP_MAX_SLOTS 64u
#define RP_MUTEX_BYTES 64u

#define RP_KEY_F_LAST 0x1u /* m_key_origin/sub hold a key */
#define RP_KEY_F_PREV 0x2u /* m_prev_origin/sub hold one */

struct rp_mp_side {
	_Alignas(64) uint8_t m_mutex[RP_MUTEX_BYTES]; /* robust pshared mutex */
	rp_atomic64 m_cursor;  /* 0x40 next unclaimed byte */
	rp_atomic32 m_holder;  /* 0x48 slot index + 1 of the lock holder */
	rp_atomic32 m_repairs; /* 0x4c owner-death repairs done */
	rp_atomic32 m_attn;    /* 0x50 nonzero: a voided claim or a death
				*      waits for the next locker (a hint) */
	rp_atomic32 m_ended;   /* 0x54 producers that ended their stream */
	/* Ordered consumers on a replaying producer's ring: the key of the
	 * last record claimed, where the claim that took it starts, and the
	 * key before that claim (a claim made again there, after a death
	 * before the cursor moved, is judged against that one). */
	rp_atomic64 m_key_pos;    /* 0x58 */
	rp_atomic64 m_key_origin; /* 0x60 */
	rp_atomic32 m_key_sub;    /* 0x68 */
	rp_atomic32 m_key_has;    /* 0x6c RP_KEY_F_*: which keys are there */
	rp_atomic32 m_locks;      /* 0x70 times locked: with m_holder, how
				   *      the supervisor tells a holder that
				   *      keeps the lock from busy lockers */
	rp_atomic32 m_prev_sub;   /* 0x74 */
	rp_atomic64 m_prev_origin; /* 0x78 */
	struct rp_mp_slot m_slots[RP_MP_MAX_SLOTS]; /* 0x80 */
};
_Static_assert(offsetof(struct rp_mp_side, m_cursor) == 0x40, "format");
_Static_assert(offsetof(struct rp_mp_side, m_slots) == 0x80, "format");

#define RP_USER_WORDS 8u

/*
 * Commit points (ipc/ring.h, rp_release_ckpt and rp_producer_set_ckpt).
 * Two slots and an index: the writer fills the slot the index does not
 * name, then flips the index with one store, so a crash at any
 * instruction leaves one whole slot.  A consumer's slot names the head it
 * goes with (c_head is stored after the flip): at attach the slot whose
 * c_pos equals the head is the truth, whichever the index says.
 */
#define RP_CKPT_F_VALID 0x1u /* written by a commit */
#define RP_CKPT_F_KEY 0x2u   /* origin/sub hold the last record taken */
#define RP_CKPT_F_REPLAY 0x4u /* the producer's replays are being dropped */
#define RP_CKPT_F_ALL (RP_CKPT_F_VALID | RP_CKPT_F_KEY | RP_CKPT_F_REPLAY)
#define RP_CKPT_WORDS 4u

struct rp_ckpt_shm {
	uint64_t c_pos;                /* 0x00 consumer: head it goes with;
					* source: tail when it was saved */
	uint64_t c_seq;                /* 0x08 input records counted */
	uint64_t c_origin;             /* 0x10 key of the last record taken */
	uint32_t c_sub;                /* 0x18 */
	uint32_t c_flags;              /* 0x1c RP_CKPT_F_* in the low half,
					* rp_ckpt_check() in the high */
	uint64_t c_user[RP_CKPT_WORDS]; /* 0x20 the stage's own state */
};
_Static_assert(sizeof(struct rp_ckpt_shm) == 64, "commit slot is a line");

/* A check over a slot's other fields and its flags (the low half of
 * c_flags): bytes scribbled over a slot make it one nobody picks. */
static inline uint32_t rp_ckpt_check(const struct rp_ckpt_shm *sl,
				     uint32_t flags)
{
	uint64_t x = sl->c_pos * 0x9e3779b97f4a7c15ull;

	x ^= sl->c_seq * 0xbf58476d1ce4e5b9ull;
	x ^= sl->c_origin * 0x94d049bb133111ebull;
	x ^= ((uint64_t)sl->c_sub << 16 | flags) * 0xd6e8feb86659fd93ull;
	for (unsigned i = 0; i < RP_CKPT_WORDS; i++)
		x ^= sl->c_user[i] * (0xa0761d6478bd642full + 2 * i);
	x ^= x >> 32;
	return (uint32_t)(x ^ (x >> 16)) & 0xffffu;
}

struct rp_ckpt_area {
	rp_atomic32 c_idx; /* 0x00 slot holding the newest commit */
	uint32_t c_pad[15];
	struct rp_ckpt_shm c_slot[2]; /* 0x40 */
};
_Static_assert(sizeof(struct rp_ckpt_area) == 192, "commit area size");

/* What a producer's attach says of its replays: where its first record
 * (RP_REC_F_RESTART) went, and a bound their origins stay below, stored
 * before that record is published.  The last few attaches are kept, so
 * the next one does not erase what a consumer behind still needs; the
 * one with the lowest position (or the same one) is written over, its
 * pos ~0 while it changes. */
struct rp_restart_shm {
	rp_atomic64 pos;
	rp_atomic64 bound;
};
#define RP_RESTARTS 4u

/* The producer's page.  Cursor on its own line; stats on another. */
struct rp_ring_pside {
	rp_atomic64 p_tail;    /* 0x000 bytes published; release-stored */
	rp_atomic32 p_closed;  /* 0x008 1: end of stream after p_tail */
	uint32_t p_pad0[13];   /* 0x00c */
	struct rp_stats_shm p_stats;      /* 0x040 */
	rp_atomic64 p_user[RP_USER_WORDS]; /* 0x080 for upper layers: a
					    *      control ring's words, a
					    *      data ring's producer note */
	struct rp_restart_shm p_restart[RP_RESTARTS]; /* 0x0c0 */
	struct rp_mp_side p_mp;           /* 0x100 MP producers only */
	struct rp_ckpt_area p_ckpt;       /* 0x980 a source's commit point */
};
_Static_assert(offsetof(struct rp_ring_pside, p_ckpt) == 0x980, "format");
_Static_assert(offsetof(struct rp_ring_pside, p_stats) == 0x40, "format");
_Static_assert(offsetof(struct rp_ring_pside, p_user) == 0x80, "format");
_Static_assert(offsetof(struct rp_ring_pside, p_mp) == 0x100, "format");
_Static_assert(sizeof(struct rp_ring_pside) <= RP_PAGE, "pside fits a page");

/* The consumer's page. */
struct rp_ring_cside {
	rp_atomic64 c_head;   /* 0x000 bytes released; release-stored */
	rp_atomic32 c_broken; /* 0x008 1: consumer gone for good */
	/* The creator's copy of the geometry, on the consumer's page: each
	 * side compares it with the header on the producer's page, so
	 * neither side alone can change what the other attaches to. */
	uint32_t s_magic;      /* 0x00c RP_RING_MAGIC */
	uint32_t s_capacity;   /* 0x010 */
	uint32_t s_max_record; /* 0x014 */
	uint32_t s_flags;      /* 0x018 */
	uint32_t s_nslots;     /* 0x01c */
	uint32_t c_pad0[8];    /* 0x020 */
	struct rp_stats_shm c_stats;      /* 0x040 */
	rp_atomic64 c_user[RP_USER_WORDS]; /* 0x080 */
	uint8_t c_pad1[64];               /* 0x0c0 */
	struct rp_mp_side c_mp;           /* 0x100 MP consumers only */
	struct rp_ckpt_area c_ckpt;       /* 0x980 the consumer's commit */
};
_Static_assert(offsetof(struct rp_ring_cside, c_ckpt) == 0x980, "format");
_Static_assert(offsetof(struct rp_ring_cside, s_magic) == 0x0c, "format");
_Static_assert(offsetof(struct rp_ring_cside, c_stats) == 0x40, "format");
_Static_assert(offsetof(struct rp_ring_cside, c_mp) == 0x100, "format");
_Static_assert(sizeof(struct rp_ring_cside) <= RP_C_SEG_SIZE, "cside fits");

/*
 * Record header, at an 8-byte aligned cursor in the data area, followed by
 * the payload and padding to the next multiple of 8.
 *
 *   0x00 len     payload bytes (<= s_max_record)
 *   0x04 type    RP_REC_T_* or a user type >= RP_REC_T_USER
 *   0x06 flags   RP_REC_F_*
 *   0x08 sub     index of this record among the outputs of its origin
 *   0x0c check   rp_rec_check() of the other fields: catches scribbles
 *   0x10 origin  sequence number of the input record it derives from
 */
struct rp_rec_hdr {
	uint32_t len;
	uint16_t type;
	uint16_t flags;
	uint32_t sub;
	uint32_t check;
	uint64_t origin;
};
_Static_assert(sizeof(struct rp_rec_hdr) == 24, "record header size");
_Static_assert(sizeof(struct rp_rec_hdr) % 8 == 0, "payload 8-aligned");

#define RP_REC_T_PAD 0u   /* filler left by a voided MP claim; skipped */
#define RP_REC_T_DATA 1u  /* ordinary data */
#define RP_REC_T_USER 16u /* first type free for applications */

#define RP_REC_F_LAST 0x1u /* last output derived from its origin */
/* The first record a producer commits after it attached: its restart's
 * replays may follow (set by the ring, never by its user). */
#define RP_REC_F_RESTART 0x2u
#define RP_REC_F_ALL (RP_REC_F_LAST | RP_REC_F_RESTART)

static inline uint32_t rp_rec_check(uint32_t len, uint16_t type,
				    uint16_t flags, uint32_t sub,
				    uint64_t origin)
{
	uint32_t x = len * 0x9e3779b1u;
	x ^= ((uint32_t)type << 16 | flags) * 0x85ebca6bu;
	x ^= sub * 0xc2b2ae35u;
	x ^= (uint32_t)origin * 0x27d4eb2fu;
	x ^= (uint32_t)(origin >> 32) * 0x165667b1u;
	return x ^ RP_RING_MAGIC;
}

/* Bytes a record of payload length len occupies in the data area. */
static inline uint64_t rp_rec_size(uint32_t len)
{
	return sizeof(struct rp_rec_hdr) + (((uint64_t)len + 7u) & ~7ull);
}

/* ----------------------------------------------------------- doorbells */

#define RP_BELL_MAGIC 0x52504242u /* "RPBB" */
#define RP_BELL_VERSION 3u
#define RP_BELL_SEG_SIZE RP_PAGE

/*
 * A doorbell belongs to one receiver (a process, or a group of replicas
 * sharing it) and is rung by every producer, consumer or controller that
 * may have given it something to do.  Counts are announcements, not truth:
 * a scribbled bell can cause only a spurious or a late wake-up, and every
 * wait is sliced by a timeout so a late one is bounded.
 */
struct rp_bell_shm {
	uint32_t s_magic;   /* 0x00 RP_BELL_MAGIC */
	uint32_t s_version; /* 0x04 */
	rp_atomic32 seq;    /* 0x08 futex word: bit 0 armed by a waiter as it
			     * parks, cleared by the waker that moves the
			     * rest on (by 2) and wakes it */
	rp_atomic32 hungry; /* 0x0c low 16 bits: waiters wanting work now (spin
			     * or park); high 16: announcements so far */
	rp_atomic32 parked; /* 0x10 waiters asleep in the kernel */
	uint32_t pad[11];   /* 0x14 */
};
_Static_assert(sizeof(struct rp_bell_shm) == 64, "bell is one line");
_Static_assert(offsetof(struct rp_bell_shm, seq) % 4 == 0, "futex aligned");

/* ------------------------------------------------------ control records */

/* Fixed-size control record carried by a control ring (ipc/ctl.h). */
struct rp_ctl_msg {
	uint32_t kind;   /* 0x00 RP_CTL_* */
	uint32_t reason; /* 0x04 RP_REASON_* (cancel, done, error) */
	uint64_t seq;    /* 0x08 sender's message number */
	uint64_t arg0;   /* 0x10 kind-specific: record number, counts */
	uint64_t arg1;   /* 0x18 */
	int32_t code;    /* 0x20 errno, exit code or signal */
	uint32_t pad;    /* 0x24 */
	char text[24];   /* 0x28 short detail, NUL padded, untrusted */
};
_Static_assert(sizeof(struct rp_ctl_msg) == 64, "control record size");

/* ------------------------------------------------------- named segments */

#define RP_NAMED_MAGIC 0x52504e53u /* "RPNS" */
#define RP_NAMED_VERSION 1u

struct rp_named_hdr {
	uint32_t s_magic;     /* 0x00 */
	uint16_t s_version;   /* 0x04 */
	uint16_t s_hdr_size;  /* 0x06 */
	uint64_t s_size;      /* 0x08 total bytes, header included */
	int32_t s_owner_pid;  /* 0x10 informational; liveness is the flock */
	uint32_t s_pad;       /* 0x14 */
	uint8_t s_reserved[40];
};
_Static_assert(sizeof(struct rp_named_hdr) == 64, "named header size");

#endif /* RP_LAYOUT_H */
