/*
 * stage_int.h - stage library internals the built-in stages share.  Not
 * installed.
 */
#ifndef RP_STAGE_INT_H
#define RP_STAGE_INT_H

#include "ringpipe.h"

/* The record last taken is done with: until the next one the stage is
 * between records (a death now is no record's fault, and per-record time
 * does not run). */
void rp_stage_record_done(struct rp_stage *s);
/* For a stage whose work is done by another process (exec): it says
 * itself what is being worked on.  current is the record's number + 1
 * (0: none), working 1 while that process holds input it has not taken
 * up, progress moves whenever it takes up or hands back anything.  From
 * the first call on, rp_stage_poll leaves the working word as set here
 * (its waits are that process's working time); rp_stage_wait, a wait for
 * room in the output ring, still counts as waiting. */
void rp_stage_set_work(struct rp_stage *s, uint64_t current, int working,
		       uint64_t progress);
/* 1 at the stage's first start, + 1 at each restart; 0 if the
 * supervisor did not say. */
uint32_t rp_stage_incarnation(const struct rp_stage *s);
/* The sandbox layers in force (RP_SB_* of sandbox.h). */
unsigned rp_stage_layers(const struct rp_stage *s);

#endif /* RP_STAGE_INT_H */
