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
/* The sandbox layers in force (RP_SB_* of sandbox.h). */
unsigned rp_stage_layers(const struct rp_stage *s);

#endif /* RP_STAGE_INT_H */
