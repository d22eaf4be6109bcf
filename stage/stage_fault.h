/*
 * stage_fault.h - what the fault stage may do that no real stage should.
 * Not installed.
 */
#ifndef RP_STAGE_FAULT_H
#define RP_STAGE_FAULT_H

#include "ringpipe.h"

/* Scribble over the stage's own output cursor. */
int rp_stage_fault_scribble(struct rp_stage *s);

#endif /* RP_STAGE_FAULT_H */
