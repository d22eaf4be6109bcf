/*
 * stage_int.h - stage library internals the built-in stages share.  Not
 * installed.
 */
#ifndef RP_STAGE_INT_H
#define RP_STAGE_INT_H

#include "../ipc/ring.h"
#include "ringpipe.h"

/* The record last taken is done with: until the next one the stage is
 * between records (a death now is no record's fault, and per-record time
 * does not run). */
void rp_stage_record_done(struct rp_stage *s);
/* For a stage that saves no words of its own (exec): each commit point's
 * word 0 says whether what it let go ends inside a line (its last record
 * a piece, type 19), so that a restart from there, whose first records
 * are the rest of that line, can drop them (rp_stage_restored: 1). */
void rp_stage_keep_line_place(struct rp_stage *s);

/* A record's outputs are published only once they are all made (its
 * last is marked): a stage that dies or refuses amid them has published
 * none, so none reaches its consumer as well as the dead-letter output.
 * The callback loops (rp_stage_run, builtin_run) ask for it; an exec
 * stage, whose outputs follow no input record, does not. */
void rp_stage_whole_outputs(struct rp_stage *s);
/* For a stage whose work is done by another process (exec): it says
 * itself what is being worked on.  current is the record's number + 1
 * (0: none), working 1 while that process holds input it has not taken
 * up (2: timed all the same, though it may be waiting for more: its
 * polls count as waits in the report, and a death is no record's
 * fault), progress moves whenever it takes up or hands back anything.  From
 * the first call on, rp_stage_poll leaves the working word as set here
 * (its waits are that process's working time); rp_stage_wait, a wait for
 * room in the output ring, still counts as waiting. */
void rp_stage_set_work(struct rp_stage *s, uint64_t current, int working,
		       uint64_t progress);
/* exec: how many times the supervisor has said its program made a
 * denied syscall (and killed it for that, sparing the stage); reads the
 * control ring first. */
uint64_t rp_stage_denials(struct rp_stage *s);
/* exec: how many times the supervisor has said its program worked past
 * the per-record timeout, and (*progress) the progress word it saw the
 * last time: the program's run it is meant for, if that still says so;
 * reads the control ring first. */
uint64_t rp_stage_timeouts(struct rp_stage *s, uint64_t *progress);
/* exec: its program's run was ended for such a word, while working on
 * input record seq (kind 1: a run fed held records again; 2: silent
 * past end_timeout_ms after its input ended, seq its last record): said
 * to the supervisor (for its log and report). */
void rp_stage_timed_out(struct rp_stage *s, uint64_t seq, int kind);
/* The number of the record being processed among those this process
 * and its earlier incarnations took: rp_stage_input_seq for a stage
 * alone; for a replica, its own count (its outputs' origin is a place in
 * the ring), or UINT64_MAX for a record of a claim it takes up again
 * that an earlier incarnation had counted already. */
uint64_t rp_stage_taken(const struct rp_stage *s);
/* Its work ended before its input did, whatever it took in (exec: its
 * program exited 0 with input it had not read): its final word says so,
 * for the report. */
void rp_stage_ended_early(struct rp_stage *s);
/* Has its input ended with all of it taken (what peeks found, or a look
 * now that takes nothing)?  1 without an input. */
int rp_stage_input_done(struct rp_stage *s);
/* The current word of the record being processed, as rp_stage_peek set
 * it: its number + 1, or for a replica its place in the input ring + 1
 * (*replica set to 1 then). */
uint64_t rp_stage_current(const struct rp_stage *s, int *replica);
/* Replicas: take the input one record at a time (each takes long). */
void rp_stage_claim_one(struct rp_stage *s);
/* 1 at the stage's first start, + 1 at each restart; 0 if the
 * supervisor did not say. */
uint32_t rp_stage_incarnation(const struct rp_stage *s);
/* A word of the stage's own kept across its restarts, on its output
 * ring's page (rp_producer_set_note): 0 until set, or without an output
 * ring.  A stage alone on that side only (a source): where copies share
 * the page, it is not set. */
void rp_stage_set_note(struct rp_stage *s, uint64_t v);
uint64_t rp_stage_note(const struct rp_stage *s);
/* The sandbox layers in force (RP_SB_* of sandbox.h). */
unsigned rp_stage_layers(const struct rp_stage *s);

/* Where the record last taken sits in the input ring, with the commit
 * point a release just before it stores: to hold input back from there
 * later (rp_stage_hold_at), when the record is no longer the current
 * one. */
struct rp_stage_mark {
	uint64_t pos;
	struct rp_ckpt ck;
};
void rp_stage_mark(const struct rp_stage *s, struct rp_stage_mark *m);
/* Hold the input from m on: releases stop before that record (as
 * rp_stage_hold does for the current one), moving a hold in place. */
void rp_stage_hold_at(struct rp_stage *s, const struct rp_stage_mark *m);
/* The input ring: bytes peeked past so far (a position, as the marks'),
 * and its capacity; 0 without one. */
uint64_t rp_stage_in_position(const struct rp_stage *s);
uint32_t rp_stage_in_capacity(const struct rp_stage *s);
/* The stage's program died of its own doing on input record seq, alone,
 * attempts times, with signal sig (how: NULL, or what the last death
 * was when sig is SIGKILL: "denied" or "timeout"): tell the supervisor,
 * which quarantines it, and end (RP_EXIT_POISON).  What comes before it
 * must have been released. */
int rp_stage_finish_poison(struct rp_stage *s, uint64_t seq, int sig,
			   unsigned attempts, const char *how);

#endif /* RP_STAGE_INT_H */
