/*
 * ring.h - record rings between processes.
 *
 * A ring carries variable-length records from producers to consumers
 * through shared memory (format: shm/layout.h).  By default it has one
 * producer and one consumer (the _spsc fast path); a ring created with
 * RP_RING_F_MP_PRODUCERS or RP_RING_F_MP_CONSUMERS lets several copies of
 * one stage share that side, claiming under a robust mutex.
 *
 * Records.  Each record has a payload of 0..max_record bytes (max_record is
 * fixed at creation, at most capacity/2 - 24; the default is exactly
 * that), a type, and the origin metadata crash recovery relies on: the
 * sequence number of the input record it derives from, its index among that
 * origin's outputs, and a last-of-origin mark.  Payloads are 8-byte
 * aligned and contiguous in memory, even across the end of the ring (the
 * data area is mapped twice back to back).
 *
 * Zero copy.  The producer reserves space, writes the payload in place and
 * commits; commits are published in batches (one release store and at most
 * one wake-up per batch): at once when the consumer is waiting, otherwise
 * when a batch fills, when the producer flushes, ends, or would block.  The
 * consumer peeks records in place and releases them later; peeked but
 * unreleased records are delivered again to the next consumer attached to
 * the ring, so a crash between peek and release loses nothing, and nothing
 * released is ever delivered again.  A producer has at most one outstanding
 * reservation.
 *
 * Hostile peers.  Every cursor and header read from shared memory is read
 * once, checked, and used from the private copy.  A peer that writes
 * garbage poisons the ring: calls return -EBADMSG from then on, and nothing
 * is read out of bounds.  Payload bytes stay in shared memory: a hostile
 * producer can change them while the consumer reads (copy first if that
 * matters), but never their length.
 *
 * Returns: 0 or a negative errno.  Common ones:
 *   -EAGAIN  ring full (producer) or empty (consumer): try again or wait
 *   -ENODATA end of stream: the producer ended and everything was peeked
 *   -EPIPE   the consumer is gone for good (ring broken)
 *   -EBADMSG the peer broke the format; the ring is poisoned
 *   -EMSGSIZE record larger than max_record
 *   -EBUSY   a reservation is already outstanding (or, for an MP consumer,
 *            its claim must be released before it can claim more)
 *   -ETIMEDOUT a wait ran out
 */
#ifndef RP_RING_H
#define RP_RING_H

#include <stdint.h>

#include "../shm/layout.h"
#include "bell.h"

/* The memfds behind a ring.  The creator (the supervisor) keeps both
 * read-write; each participant should be handed only what it needs (see
 * rp_ring_fds_for_producer/consumer). */
struct rp_ring_fds {
	int p_fd; /* producer segment: header, producer page, data */
	int c_fd; /* consumer segment: consumer page */
};

struct rp_ring_config {
	uint32_t capacity;   /* data bytes, power of two, 4 KiB .. 1 GiB */
	uint32_t max_record; /* 0: capacity/2 - 24 */
	uint32_t flags;      /* RP_RING_F_* */
	uint32_t nslots;     /* MP sides: max participants (<= 64) */
	uint32_t nproducers; /* MP producers: how many end the stream
			      * (0: nslots); fewer than nslots when the
			      * consumer side needs more slots */
};

int rp_ring_create(const struct rp_ring_config *cfg, struct rp_ring_fds *out);
void rp_ring_fds_close(struct rp_ring_fds *fds);
/* New fds for one side: its own segment read-write, the peer's read-only.
 * The result is the caller's to close. */
int rp_ring_fds_for_producer(const struct rp_ring_fds *fds,
			     struct rp_ring_fds *out);
int rp_ring_fds_for_consumer(const struct rp_ring_fds *fds,
			     struct rp_ring_fds *out);

struct rp_producer;
struct rp_consumer;

/*
 * Attach.  `own` is the bell this side waits on (rung when space frees or
 * a control record arrives); `peer` is the other side's bell, rung after
 * each publication.  Both stay owned by the caller and must outlive the
 * handle.  The peer's segment is always mapped read-only.
 */
int rp_producer_open(const struct rp_ring_fds *fds, struct rp_bell *own,
		     struct rp_bell *peer, struct rp_producer **out);
int rp_consumer_open(const struct rp_ring_fds *fds, struct rp_bell *own,
		     struct rp_bell *peer, struct rp_consumer **out);
/* Take up the ring's cursors as they are now, as a fresh open would: for
 * a side mapped early (a standby) that starts working later.  Single
 * producer and consumer only (-ENOTSUP), with nothing outstanding
 * (-EBUSY); -EBADMSG for cursors that make no sense. */
int rp_producer_resync(struct rp_producer *p);
int rp_consumer_resync(struct rp_consumer *c);
/* Detach.  Does not end the stream; unpublished commits are flushed. */
void rp_producer_close(struct rp_producer *p);
void rp_consumer_close(struct rp_consumer *c);

/* --------------------------------------------------------------- producer */

struct rp_meta {
	uint64_t origin; /* sequence number of the input it derives from */
	uint32_t sub;    /* index among the outputs of that origin */
	uint16_t type;   /* RP_REC_T_DATA or >= RP_REC_T_USER */
	uint16_t flags;  /* RP_REC_F_LAST (the ring sets RP_REC_F_RESTART) */
};

/* Reserve room for a payload of len bytes; *payload points into the ring. */
int rp_reserve(struct rp_producer *p, uint32_t len, void **payload);
/* Same, waiting up to timeout_ns for room (publishing pending commits
 * first so the consumer can make progress). */
int rp_reserve_wait(struct rp_producer *p, uint32_t len, int64_t timeout_ns,
		    void **payload);
/* Commit the reservation with its final length (<= the reserved one).
 * On an MP-producer ring the unused rest becomes padding, which needs 24
 * bytes: a length whose record is 8 or 16 bytes shorter than the reserved
 * one is refused (-EINVAL) and the reservation stays.  If the side's lock
 * cannot be had (-ETIMEDOUT) the reservation also stays: commit again or
 * abandon. */
int rp_commit(struct rp_producer *p, uint32_t len, const struct rp_meta *m);
/* Drop the outstanding reservation. */
int rp_abandon(struct rp_producer *p);
/* Several producers (RP_RING_F_MP_PRODUCERS): room for several records
 * at once, size bytes (the sum of their rp_rec_size, at most one of the
 * largest record), filled in order by rp_batch_put and published
 * together by rp_batch_commit (what is left over becomes padding; a
 * rest smaller than a record header cannot be, -EINVAL).  One lock round
 * trip and one wake-up for them all; rp_abandon gives it up.
 * rp_reserve_batch: 0, -EAGAIN (no room yet), -EMSGSIZE, -EINVAL, or
 * rp_reserve's errors. */
int rp_reserve_batch(struct rp_producer *p, uint64_t size);
int rp_batch_put(struct rp_producer *p, const void *data, uint32_t len,
		 const struct rp_meta *m);
int rp_batch_commit(struct rp_producer *p);
/* Publish all commits now (with rp_producer_set_whole: those up to the
 * last one marked RP_REC_F_LAST). */
int rp_flush(struct rp_producer *p);
/* The same, if the consumer waits (fed or not).  A commit publishes early
 * only once each time its consumer starts waiting, so what is committed
 * after that waits for a batch, the consumer's next wait, or this: call
 * it before work that may take long (a stage library calls it after each
 * record's outputs), so a waiting consumer does not wait on that work. */
int rp_flush_waited(struct rp_producer *p);
/* on: publish whole origins only - the records after the last one marked
 * RP_REC_F_LAST wait for it, so a producer that dies amid an origin's
 * records has published none of them.  Records of an origin that find
 * the ring full (at a reservation, or a wait for room) go out as they
 * are: rp_producer_gave_up_whole says so of the origin being made, until
 * its last record.  rp_producer_end publishes everything.  SPSC only. */
void rp_producer_set_whole(struct rp_producer *p, int on);
int rp_producer_gave_up_whole(const struct rp_producer *p);
/* Forget every commit not yet published (SPSC, no reservation out): a
 * producer that ends so that its input is taken again (a refusal) makes
 * them again. */
void rp_producer_drop_unpublished(struct rp_producer *p);
/* End of stream: publish, then mark closed.  Consumers drain, then see
 * -ENODATA.  With several producers, the stream ends when nproducers of
 * them have ended. */
int rp_producer_end(struct rp_producer *p);
/* Would a reservation of len bytes succeed (> 0), or fail for good (< 0)?
 * For loops that wait on several sources with one bell. */
int rp_producer_ready(struct rp_producer *p, uint32_t len);
/* Convenience: reserve_wait + memcpy + commit. */
int rp_send(struct rp_producer *p, const void *buf, uint32_t len,
	    const struct rp_meta *m, int64_t timeout_ns);

/* --------------------------------------------------------------- consumer */

struct rp_view {
	const void *data; /* payload, in the shared mapping (read-only) */
	uint32_t len;
	uint16_t type;
	uint16_t flags;   /* RP_REC_F_LAST, and RP_REC_F_RESTART on the first
			   * record of each producer attach */
	uint64_t origin;
	uint32_t sub;
	uint64_t pos;     /* ring cursor of the record (private bookkeeping) */
	uint64_t end;     /* cursor just past it */
};

/* Next record after the last one peeked. */
int rp_peek(struct rp_consumer *c, struct rp_view *v);
/* Same, waiting up to timeout_ns for one. */
int rp_peek_wait(struct rp_consumer *c, struct rp_view *v, int64_t timeout_ns);
/* Release everything peeked: the producer may reuse the space, and the
 * records will never be delivered again. */
int rp_release(struct rp_consumer *c);
/* Release the records up to and including v (SPSC only). */
int rp_release_upto(struct rp_consumer *c, const struct rp_view *v);
/* Forget what was peeked but not released: it will be peeked again. */
void rp_rewind(struct rp_consumer *c);
/* RP_RING_F_ORDERED: may the records claimed now publish their outputs?
 * 1 once every record before them is released (the replicas before it
 * published theirs and let go), 0 until then, -EBADMSG for a head that
 * makes no sense.  1 on other rings, and with nothing claimed.  Siblings
 * ring the consumers' own bell when they release: wait on it. */
int rp_consumer_my_turn(const struct rp_consumer *c);
/* Records dropped at their claim as replays (ordered and dedup). */
uint64_t rp_consumer_replays(const struct rp_consumer *c);
/* Is there a record, end of stream or an error to report (> 0)? */
int rp_consumer_ready(struct rp_consumer *c);
/* The consumer is gone for good: the producer gets -EPIPE at once. */
int rp_consumer_break(struct rp_consumer *c);

/* ---------------------------------------------------------- commit points */

/*
 * What a stage needs to resume exactly where its released input left
 * off: how many input records it had counted, the key of the last one
 * (to drop a replayed duplicate), and a few words of its own state (a
 * file offset, a running count).  Stored on the writer's own page in a
 * way a crash at any instruction cannot tear (shm/layout.h).
 */
struct rp_ckpt {
	uint64_t seq;    /* input records counted */
	uint64_t origin; /* key of the last record taken, if RP_CKPT_F_KEY */
	uint32_t sub;
	uint32_t flags;  /* RP_CKPT_F_*; 0: there is no commit point */
	uint64_t user[RP_CKPT_WORDS];
};

/*
 * The order of keys a consumer checks on a replaying producer's ring
 * (RP_RING_F_DEDUP).  Within one producer incarnation keys rise; the
 * first record of a new one (RP_REC_F_RESTART) may go back, and its
 * replays are dropped until a key is past the last one taken.  A key not
 * past it anywhere else is the producer's corruption, except behind
 * replicas (any): their replays come unmarked and are dropped anywhere.
 */
struct rp_keys {
	uint64_t origin; /* of the last record taken, if has */
	uint32_t sub;
	int has;
	int replaying;   /* the producer's replays are being dropped */
};

/* 1: a new record, now the last taken; 0: a replay, to drop; -EBADMSG:
 * its key went back, or at a restart mark the last key taken is not
 * below the bound the restarted producer gave its replays (bound: 0 if
 * none; rp_consumer_restart_bound).  Without dedup every record is
 * new. */
int rp_keys_step(struct rp_keys *k, int dedup, int any, uint64_t origin,
		 uint32_t sub, uint16_t flags, uint64_t bound);
/* The bound a producer's attach gave the origins of its replays, if the
 * record at pos is the first of one of the last RP_RESTARTS attaches
 * that said one; else 0. */
uint64_t rp_consumer_restart_bound(const struct rp_consumer *c,
				   uint64_t pos);
/* A restarted stage, before it commits anything: none of the outputs it
 * (or an earlier attach) made of its input has an origin of bound or
 * more.  No effect after the first commit, or on an MP-producer ring. */
void rp_producer_set_restart_bound(struct rp_producer *p, uint64_t bound);
/* The most records that can be published and not yet peeked (each takes
 * a header at least): an upper bound on the input a crashed incarnation
 * had taken past its commit point.  -EBADMSG if the cursors are out of
 * bounds. */
int rp_consumer_ahead_max(const struct rp_consumer *c, uint64_t *n);
/* From and into a commit point's key and flags. */
void rp_keys_load(struct rp_keys *k, const struct rp_ckpt *ck);
void rp_keys_store(const struct rp_keys *k, struct rp_ckpt *ck);

/* Release everything peeked with a commit point: after a crash the
 * consumer that attaches next finds this one iff the release happened.
 * On an MP-consumer ring it is a plain release (no commit point). */
int rp_release_ckpt(struct rp_consumer *c, const struct rp_ckpt *ck);
/* The same, releasing only [head, pos): pos is the cursor of a record
 * peeked (rp_view.pos), or rd.  -EINVAL if pos is not between the head
 * and what was peeked; SPSC only (-EOPNOTSUPP). */
int rp_release_ckpt_upto(struct rp_consumer *c, uint64_t pos,
			 const struct rp_ckpt *ck);
/* The cursor just past the last record peeked, and the ring's capacity. */
uint64_t rp_consumer_position(const struct rp_consumer *c);
uint32_t rp_consumer_capacity(const struct rp_consumer *c);
/* MP consumers: claim at most n records at a time (0: the ring's
 * default, 16 ordered and 64 not): 1 where each takes long, so that the
 * copies share them out evenly. */
void rp_consumer_set_claim_max(struct rp_consumer *c, unsigned n);
/* The commit point that goes with the released head, as found at attach
 * or last released; flags 0 if none (a fresh ring, or plain releases). */
void rp_consumer_ckpt(const struct rp_consumer *c, struct rp_ckpt *ck);
/* A source's commit point: saved once everything committed so far has
 * been published, so the saved point never runs ahead of the records. */
void rp_producer_set_ckpt(struct rp_producer *p, const struct rp_ckpt *ck);
/* The last saved source commit point (flags 0 if none). */
void rp_producer_ckpt(const struct rp_producer *p, struct rp_ckpt *ck);
/* A word the producer keeps on its own page for its next incarnation,
 * stored at once (not with a publication): where a source left its
 * input, say.  Its consumer and the supervisor never read it, so a
 * restart reads only what its own earlier runs wrote.  0 until set.
 * Not on a control ring (whose words these are, ipc/ctl.h). */
void rp_producer_set_note(struct rp_producer *p, uint64_t v);
uint64_t rp_producer_note(const struct rp_producer *p);
/* A restarted source, before it commits anything: the origins earlier
 * attaches published are below the commit point's count plus the
 * records that fit past its position (from origin first, at the ring's
 * start, if there is none), and below what the last attach said (no
 * more than one origin per header the whole ring took): said as this
 * attach's restart bound (rp_producer_set_restart_bound), and in
 * *bound.  0; -ENOENT without a point if first is not 0; -EBADMSG if
 * the point is not one an honest source numbering from 0 leaves (its
 * position past the tail, or more origins than headers fit before it):
 * the bound is then one origin per header in the whole ring; -EINVAL
 * after a commit, or on an MP-producer ring. */
int rp_producer_source_bound(struct rp_producer *p, uint64_t first,
			     uint64_t *bound);
/* RP_RING_F_* of the ring. */
uint32_t rp_consumer_flags(const struct rp_consumer *c);

/* ------------------------------------------------------------ supervisor */

/* Mark a ring broken on behalf of a consumer known to be dead, and wake
 * its producer (producer_bell may be NULL). */
int rp_ring_mark_broken(const struct rp_ring_fds *fds,
			struct rp_bell *producer_bell);
/* Check a ring as its creator sees it, through read-only mappings: the
 * cursors, every record header between them and, on a replaying
 * producer's ring, the order of their keys from the consumer's commit
 * point on (rp_keys_step) if by_consumer: the consumer makes the claim
 * (the keys are the producer's to write).  0 if the format holds,
 * -EBADMSG if not.  A stage's claim that its peer broke the ring is
 * checked with this before anyone is blamed. */
int rp_ring_verify(const struct rp_ring_fds *fds, int by_consumer);
/* A ring's geometry as its creator read it back at once: the header on
 * the producer's page and the copy on the consumer's.  Each side can
 * write only its own page, so the creator, keeping this, can tell which
 * side changed one later (rp_ring_verify alone sees only that they no
 * longer agree). */
struct rp_ring_geo {
	struct rp_ring_hdr hdr;
	uint32_t c_copy[5]; /* magic, capacity, max_record, flags, nslots */
};
/* A side of a ring, as a bit: whose page holds what is found wrong. */
#define RP_SIDE_PRODUCER 0x1
#define RP_SIDE_CONSUMER 0x2
int rp_ring_geometry(const struct rp_ring_fds *fds, struct rp_ring_geo *out);
/* Which of them differ from made now: a mask of RP_SIDE_*, or -errno. */
int rp_ring_geometry_changed(const struct rp_ring_fds *fds,
			     const struct rp_ring_geo *made);
/*
 * The creator's own account of a ring's cursors.  p_tail and c_head each
 * only move forward, in multiples of 8, and each is written by one side
 * alone: one found behind a value sampled earlier, or out of step, is
 * that side's doing, whoever complains.  Samples are taken through
 * read-only mappings of the two pages, and kept only when they are sound
 * (in step, at most the capacity apart) and neither goes back.
 */
struct rp_ring_watch {
	const void *p_page, *c_page;
	uint64_t tail, head; /* the last sound sample */
	uint32_t cap;
};
int rp_ring_watch_open(const struct rp_ring_fds *fds,
		       const struct rp_ring_geo *made, struct rp_ring_watch *w);
void rp_ring_watch_close(struct rp_ring_watch *w);
void rp_ring_watch_sample(struct rp_ring_watch *w);
/* Whose cursor is out of line now: a mask of RP_SIDE_*. */
int rp_ring_watch_culprits(const struct rp_ring_watch *w);
/* The input record a consumer numbered seq (counting as the stage
 * library does from its commit point: replays dropped, quarantined
 * records counted), among those published and not yet released.  Up to
 * cap bytes of its payload are copied to buf; *f gets its length and
 * key.  -ENOENT if it is not there (released already, or no commit point
 * to count from), -EBADMSG if the ring's format is broken, -EOPNOTSUPP
 * on MP-consumer rings. */
struct rp_found {
	uint32_t len;
	uint16_t type;
	uint64_t origin;
	uint32_t sub;
};
int rp_ring_find(const struct rp_ring_fds *fds, uint64_t seq, void *buf,
		 uint32_t cap, struct rp_found *f);
/* The same for the record that starts at ring position at (a replica's
 * key for it), among those published and not yet released; *head (if
 * not NULL) gets the released position.  -ENOENT if no record starts
 * there. */
int rp_ring_read_at(const struct rp_ring_fds *fds, uint64_t at, void *buf,
		    uint32_t cap, struct rp_found *f, uint64_t *head);
/* The input count of the consumer's commit point (what it had released):
 * 0, or -ENOENT if there is none. */
int rp_ring_commit_seq(const struct rp_ring_fds *fds, uint64_t *seq);
/* End the stream on behalf of a producer that exited saying it was done
 * without ending it, and wake its consumer (consumer_bell may be NULL).
 * What it published stays readable; then the consumer sees -ENODATA. */
int rp_ring_mark_ended(const struct rp_ring_fds *fds,
		       struct rp_bell *consumer_bell);
/* Multi-participant sides: a participant with this pid died.  Marks its
 * claim slots so the next locker voids them (its records are redelivered
 * or padded).  Only atomic stores; never takes the mutex.  Call it before
 * reaping the process (a pidfd says it died; waitid reaps it after), so
 * its pid cannot have been reused.  Returns how many slots were marked;
 * the caller then rings the side's bell. */
int rp_ring_mark_dead(const struct rp_ring_fds *fds, int32_t pid);

/* Multi-participant sides: who holds the lock now.  owner_tid is the
 * mutex word's owner (0: nobody alive: free, or its owner died in it),
 * holder_pid the pid in the claim slot the holder said is its own;
 * locks counts every locking, so two samples with the same owner and
 * count mean one holding all along.  All three come from shared memory
 * the participants write: hints that name, never proof.  -ENOTSUP if
 * that side has one participant. */
struct rp_lock_sample {
	uint32_t holder_pid, owner_tid, locks;
};
int rp_ring_lock_sample(const struct rp_ring_fds *fds, int producers,
			struct rp_lock_sample *out);

/* --------------------------------------------------------------- counters */

struct rp_ring_stats {
	uint64_t records, bytes, batches, waits, wakes, stalls;
};

/* A consistent snapshot of one side's counters, without locks.  -EAGAIN if
 * the writer kept them busy (or is scribbling) for too long; -ERANGE if
 * one is past UINT64_MAX / 2, which no run reaches (a scribbled page). */
int rp_stats_read(const struct rp_stats_shm *s, struct rp_ring_stats *out);
int rp_producer_stats(const struct rp_producer *p, struct rp_ring_stats *ps,
		      struct rp_ring_stats *cs);
int rp_consumer_stats(const struct rp_consumer *c, struct rp_ring_stats *ps,
		      struct rp_ring_stats *cs);
/* For an observer holding the fds: map read-only, snapshot, unmap.
 * *used gets the bytes published and not yet released. */
int rp_ring_observe(const struct rp_ring_fds *fds, struct rp_ring_stats *ps,
		    struct rp_ring_stats *cs, uint64_t *used);

/* Knobs (defaults are right for most uses). */
void rp_producer_set_batch(struct rp_producer *p, uint32_t bytes);
void rp_ring_set_lock_timeout(struct rp_producer *p, struct rp_consumer *c,
			      int64_t ns);
uint32_t rp_producer_max_record(const struct rp_producer *p);
uint32_t rp_consumer_max_record(const struct rp_consumer *c);
/* The largest record a ring of capacity bytes takes by default. */
uint32_t rp_ring_largest_record(uint32_t capacity);

#endif /* RP_RING_H */
