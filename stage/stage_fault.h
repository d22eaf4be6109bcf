/*
 * stage_fault.h - what the fault stage may do that no real stage should.
 * Not installed.
 */
#ifndef RP_STAGE_FAULT_H
#define RP_STAGE_FAULT_H

#include "ringpipe.h"

/* Before rp_stage_open: its filter lets it send itself any signal (it
 * stands for a kill from outside with crash:9, stall, key-ahead:kill). */
void rp_stage_fault_self_signals(void);
/* Scribble over the stage's own output cursor. */
int rp_stage_fault_scribble(struct rp_stage *s);
/* Push the key (origin) of the record being worked on, and so of its
 * outputs, ahead by n: what a compromised stage could write, with a
 * header that passes its check. */
void rp_stage_fault_key_ahead(struct rp_stage *s, uint64_t n);
/* Send out what it has made so far, its origin ended, even inside
 * rp_stage_run's callback (where no real stage may). */
int rp_stage_fault_publish(struct rp_stage *s);
/* Write 8 random bytes, drawn from seed, at a random place of memory the
 * stage may write: its output ring's producer page or data, its input
 * ring's consumer page, or its control ring to the supervisor; then wake
 * every reader.  Returns which (0-3), for the message. */
int rp_stage_fault_scribble_random(struct rp_stage *s, uint64_t seed,
				   char *what, size_t len);
/* Change the geometry copy on its input ring's consumer page (the
 * capacity it says).  -EPIPE without an input ring. */
int rp_stage_fault_geometry(struct rp_stage *s);
/* Store its input ring's cursor (c_head) back to the ring's start: a
 * release undone.  -EPIPE without an input ring. */
int rp_stage_fault_head_back(struct rp_stage *s);
/* Store its input ring's cursor (c_head) ahead of all that was
 * published, by twice the ring: a release of records never written.
 * -EPIPE without an input ring. */
int rp_stage_fault_head_ahead(struct rp_stage *s);

/* Mark its control ring to the supervisor ended (nobody ends one), and
 * ring the supervisor's bell.  -EPIPE without a control ring. */
int rp_stage_fault_ctl_end(struct rp_stage *s);

/* Say it refused input record rec (which need not be the one it works
 * on) and end, as rp_stage_run does for a record refused; returns the
 * exit code. */
int rp_stage_fault_refuse(struct rp_stage *s, uint64_t rec);

#endif /* RP_STAGE_FAULT_H */
