/*
 * ring_int.h - private handles of ring.c and ring_mp.c.  Not installed.
 *
 * sh_* pointers point into shared memory (hostile input); every other
 * field is a private copy that no peer can change.
 */
#ifndef RP_RING_INT_H
#define RP_RING_INT_H

#include "ring.h"

/* Private accumulation of one side's counters, flushed to shared memory
 * once per publication. */
struct rp_local_stats {
	uint64_t records, bytes, batches, waits, wakes, stalls;
};

/* What both handles share: the mappings and the private geometry. */
struct rp_ring_map {
	struct rp_ring_pside *sh_p;
	struct rp_ring_cside *sh_c;
	unsigned char *sh_data;  /* mirrored: 2 * cap bytes */
	void *p_map;             /* header + producer page */
	void *c_map;
	uint32_t cap, mask, max_record, flags, nslots, nproducers;
	int64_t lock_timeout_ns;
};

struct rp_producer {
	struct rp_ring_map m;
	struct rp_bell *own, *peer;
	uint64_t tail;       /* committed, maybe unpublished */
	uint64_t pub_tail;   /* last published */
	/* rp_producer_set_whole: only records up to whole_tail, the end of
	 * the last one marked RP_REC_F_LAST, are published (without it,
	 * whole_tail is the tail) */
	uint64_t whole_tail;
	int whole;
	int gave_up_whole;   /* whole: an origin that did not fit, published */
	uint64_t head_cache; /* last validated consumer head */
	uint64_t resv_pos;   /* outstanding reservation [pos, pos+size) */
	uint32_t resv_len;
	int resv_out;
	/* rp_reserve_batch: the reservation holds several records, used
	 * bytes of its size written so far */
	int batch;
	uint64_t batch_size, batch_used;
	uint64_t batch_records, batch_bytes_in; /* stats, once published */
	int broken;          /* sticky -EPIPE */
	int poisoned;        /* sticky -EBADMSG */
	int no_settle;       /* a bad c_head is not looked at again */
	int ck_set;          /* a commit point waits for its publication */
	struct rp_ckpt ck;
	uint64_t ck_pos;     /* the tail when it was set: the records of
			      * the origins it covers all lie below */
	uint32_t batch_bytes;
	uint32_t hunger_seen; /* the consumer's last announcement fed */
	int slot;            /* MP producers: my claim slot, else -1 */
	int restart_mark;    /* the next record is this attach's first */
	struct rp_local_stats st, st_flushed;
};

struct rp_consumer {
	struct rp_ring_map m;
	struct rp_bell *own, *peer;
	uint64_t rd;         /* peeked up to */
	uint64_t head;       /* released up to (SPSC) */
	uint64_t tail_cache; /* last validated producer tail (SPSC) */
	uint64_t claim_start; /* MP consumers: my claim, private copy */
	uint64_t claim_end;
	int claimed;          /* MP consumers: a claim is outstanding */
	unsigned claim_delivered; /* records of it handed out so far */
	int claim_replay;     /* ordered: the claimed record is a replay */
	unsigned claim_max;   /* records a claim takes at most; 0: the
			       * default */
	uint64_t replays;     /* records dropped as replays at their claim */
	int poisoned;
	int no_settle;        /* a bad p_tail is not looked at again */
	int slot;
	struct rp_ckpt ck;    /* the commit point of the last release */
	int ck_slot;          /* its slot on our page, -1: none */
	struct rp_local_stats st, st_flushed;
};

/* ring.c */
/* Write ck into the slot other than keep (-1: other than the newest) and
 * make it the newest. */
void rp_ckpt_write(struct rp_ckpt_area *a, int keep, uint64_t pos,
		   const struct rp_ckpt *ck);
/* The slot index it picked, or -1 (ck zeroed). */
int rp_ckpt_pick(const struct rp_ckpt_area *a, int by_pos, uint64_t pos,
		 struct rp_ckpt *ck);
void rp_stats_flush(struct rp_stats_shm *s, struct rp_local_stats *now,
		    struct rp_local_stats *flushed);
int rp_rec_read(const struct rp_ring_map *m, uint64_t pos, uint64_t limit,
		struct rp_rec_hdr *h);

/* rp_producer_open and rp_consumer_open, where no_settle says a bad peer
 * cursor is refused at once, at the attach and at every later read (the
 * control rings: the supervisor never waits on a stage's memory). */
int rp_producer_attach(const struct rp_ring_fds *fds, struct rp_bell *own,
		       struct rp_bell *peer, int no_settle,
		       struct rp_producer **out);
int rp_consumer_attach(const struct rp_ring_fds *fds, struct rp_bell *own,
		       struct rp_bell *peer, int no_settle,
		       struct rp_consumer **out);

/* ring_mp.c */
int rp_mp_slot_attach(struct rp_ring_map *m, struct rp_mp_side *side,
		      int producer, int *slot);
void rp_mp_slot_detach(struct rp_ring_map *m, struct rp_mp_side *side,
		       int producer, int slot);
/* A peer's cursor failed its check: 0 to read it again after a moment,
 * -EBADMSG once it has stayed bad long enough (at once with no_settle).
 * *until: 0 before the first call. */
int rp_cursor_settle(int no_settle, int64_t *until);
int rp_mp_reserve(struct rp_producer *p, uint64_t need);
/* Publish the reservation's first used bytes (whole records), padding
 * the rest. */
int rp_mp_commit(struct rp_producer *p, uint64_t used);
int rp_mp_abandon(struct rp_producer *p);
int rp_mp_end(struct rp_producer *p);
int rp_mp_others_busy(const struct rp_mp_side *side, uint32_t nslots, int me);
int rp_mp_claim(struct rp_consumer *c);
int rp_mp_release(struct rp_consumer *c);
int rp_mp_mark_dead(struct rp_mp_side *side, uint32_t nslots, int32_t pid);

#endif /* RP_RING_INT_H */
