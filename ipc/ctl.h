/*
 * ctl.h - control rings: the control plane, out of the data plane.
 *
 * Each stage has two control rings, one each way, separate from its data
 * rings, carrying fixed-size records (struct rp_ctl_msg, shm/layout.h).
 * A control record rings its receiver's doorbell like data does, so a
 * stage waits for data and control in one wait.
 *
 * Sending never blocks without bound: a full ring makes rp_ctl_send wait
 * at most its timeout (-ETIMEDOUT), and a ring whose receiver is dead
 * (marked broken by the supervisor) fails at once (-EPIPE).  Cancel and
 * drain never need room: they are sticky words on the sender's page,
 * stored atomically and seen by the receiver at its next check point, so a
 * full ring can never refuse a cancel.  A cancel carries its reason; the
 * first reason sent is the one reported.
 */
#ifndef RP_CTL_H
#define RP_CTL_H

#include <stdint.h>

#include "ring.h"

/* Kinds, supervisor -> stage. */
#define RP_CTL_CANCEL 1u   /* stop now (sticky; reason says why) */
#define RP_CTL_DRAIN 2u    /* finish what is in the input, then end */
#define RP_CTL_PAUSE 3u
#define RP_CTL_RESUME 4u
#define RP_CTL_PING 5u
#define RP_CTL_FAULT 6u    /* ringpipe chaos: misbehave on the next input
			    * record (arg0: RP_FAULT_*, arg1: the
			    * incarnation it is for); ignored unless the
			    * wiring armed it */
#define RP_CTL_DENIED 7u   /* exec: its program made a denied syscall
			    * (arg0: its number) and is being killed for
			    * it, the stage spared: sent before the kill */
#define RP_CTL_TIMEOUT 8u  /* exec: its program has worked past the
			    * per-record timeout (arg0: the progress word
			    * seen, which names the program's run; arg1:
			    * the current word).  The stage ends that run
			    * if its progress word still says so, else it
			    * is killed after one more timeout */
/* Kinds, stage -> supervisor. */
#define RP_CTL_READY 16u     /* attached and sandboxed */
#define RP_CTL_PROGRESS 17u  /* arg0: records in, arg1: records out */
#define RP_CTL_ERROR 18u     /* code: errno, text: detail */
#define RP_CTL_DONE 19u      /* reason: why it ended (arg0: records in;
			      * arg1: RP_CTL_DONE_EARLY or _UNREAD if it
			      * ended before its input did) */
#define RP_CTL_VIOLATION 20u /* a peer broke the format (code: errno;
				* arg1: the ring's side, 1 input or 2
				* output, | RP_CTL_AT_ATTACH) */
/* A violation found as the stage attached (or took over as a standby):
 * the stage had not read the ring before, so its own side's earlier run
 * may have left it broken. */
#define RP_CTL_AT_ATTACH 0x100u
#define RP_CTL_DONE_EARLY 1u   /* its input had not ended when it did */
#define RP_CTL_DONE_UNREAD 2u  /* and some of it was left unread for
				* certain (exec: its program's) */
#define RP_CTL_PONG 21u      /* arg0: the ping's seq */
#define RP_CTL_POISON 22u    /* arg0: the input record its program dies
			      * on alone, arg1: how many times, code: the
			      * signal (exec; then it ends) */
#define RP_CTL_TIMED_OUT 23u /* exec: its program's run was ended for its
			      * per-record timeout (arg0: the record the
			      * words named; arg1: 1 for a run fed held
			      * records again, 2 for one silent past its
			      * end timeout after its input ended, arg0
			      * then its last record), told when done */
#define RP_CTL_REFUSED 24u   /* the stage refuses input record arg0 (for
			      * a replica, its place in the ring; text:
			      * why, short), then ends with
			      * RP_EXIT_REFUSED */
#define RP_CTL_KIND_MAX 24u

/* RP_CTL_FAULT kinds. */
#define RP_FAULT_HANG 1u    /* never finish the record */
#define RP_FAULT_DENY 2u    /* make a syscall no policy allows */
#define RP_FAULT_CORRUPT 3u /* scribble over its own shared memory */

/* Why a stage was cancelled or ended. */
#define RP_REASON_NONE 0u
#define RP_REASON_USER 1u     /* the user asked (Ctrl-C, ringpipe stop) */
#define RP_REASON_DEADLINE 2u /* a deadline passed */
#define RP_REASON_SIBLING 3u  /* another stage failed */
#define RP_REASON_SHUTDOWN 4u /* the pipeline is shutting down */
#define RP_REASON_EOF 5u      /* end of input (done) */
#define RP_REASON_MAX 5u

const char *rp_ctl_kind_name(uint32_t kind);
const char *rp_reason_name(uint32_t reason);

/* A control ring: 4 KiB, records of exactly sizeof(struct rp_ctl_msg). */
int rp_ctl_create(struct rp_ring_fds *out);

struct rp_ctl_tx;
struct rp_ctl_rx;

int rp_ctl_tx_open(const struct rp_ring_fds *fds, struct rp_bell *own,
		   struct rp_bell *peer, struct rp_ctl_tx **out);
int rp_ctl_rx_open(const struct rp_ring_fds *fds, struct rp_bell *own,
		   struct rp_bell *peer, struct rp_ctl_rx **out);
void rp_ctl_tx_close(struct rp_ctl_tx *tx);
/* The ring under a sender (for the fault stage's scribbles only). */
struct rp_producer *rp_ctl_tx_producer(struct rp_ctl_tx *tx);
void rp_ctl_rx_close(struct rp_ctl_rx *rx);

/* Send one record (seq is filled in).  0, -ETIMEDOUT, -EPIPE, -EINVAL. */
int rp_ctl_send(struct rp_ctl_tx *tx, uint32_t kind, uint32_t reason,
		uint64_t arg0, uint64_t arg1, int32_t code, const char *text,
		int64_t timeout_ns);
/* Sticky cancel / drain: never block, never need room.  -EPIPE if the
 * receiver is known dead (the word is still set). */
int rp_ctl_cancel(struct rp_ctl_tx *tx, uint32_t reason);
int rp_ctl_drain(struct rp_ctl_tx *tx);

/* Receive: a pending cancel or drain first (once each), then records in
 * order.  0, -EAGAIN, -EBADMSG (the sender broke the format, or its ring
 * was marked ended: nobody ends a control ring). */
int rp_ctl_recv(struct rp_ctl_rx *rx, struct rp_ctl_msg *out);
/* The cancel reason if a cancel was sent, else 0.  One load; for the
 * check points of a stage's loop. */
uint32_t rp_ctl_cancelled(const struct rp_ctl_rx *rx);
int rp_ctl_draining(const struct rp_ctl_rx *rx);
/* Anything to receive (> 0)? */
int rp_ctl_ready(struct rp_ctl_rx *rx);

/*
 * Status words: a few 64-bit values on the sender's page that the
 * receiver reads at any time without a record (the stage's current input
 * record, its input position).  Index 1..RP_CTL_STATUS_WORDS; the sender
 * is the only writer; the receiver must treat them as untrusted hints.
 */
#define RP_CTL_STATUS_WORDS 7
#define RP_CTL_WORD_CURRENT 1  /* record being processed, + 1; 0: none */
#define RP_CTL_WORD_INPUT_SEQ 2 /* input records released so far */
#define RP_CTL_WORD_WORKING 3   /* 1 while working on a record, 0 while
				 * waiting (for input, output room or
				 * control): per-record timeouts count
				 * only working time.  2 (exec): timed,
				 * but maybe waiting for input: the stage
				 * judges the timeout, and a death then
				 * is not on the record */
#define RP_CTL_WORD_UNHELD 4    /* holds given up (rp_stage_hold): lines
				 * longer than half the input ring */
#define RP_CTL_WORD_WAIT_IN_US 6 /* time spent waiting for input, and */
#define RP_CTL_WORD_WAIT_OUT_US 7 /* for room in the output ring (us) */
#define RP_CTL_WORD_PROGRESS 5  /* a count that moves whenever the work on
				 * the current record moves (exec: bytes
				 * the program read or wrote); a change
				 * starts the per-record time anew */
int rp_ctl_status_set(struct rp_ctl_tx *tx, unsigned idx, uint64_t v);
uint64_t rp_ctl_status_get(const struct rp_ctl_tx *tx, unsigned idx);
uint64_t rp_ctl_status_read(const struct rp_ctl_rx *rx, unsigned idx);

#endif /* RP_CTL_H */
