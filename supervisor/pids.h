/*
 * pids.h - who runs each place of a pipeline, said by its supervisor to
 * the process that started it (ringpipe chaos, which must hit the stage
 * its schedule names, not whatever runs the same command line).
 *
 * The table lives in memory the caller maps shared before it forks the
 * supervisor; the supervisor rewrites it before each wait of its loop
 * and keeps it from the stages it starts.  A seqlock: the writer makes
 * seq odd, writes, makes it even; a reader copies and retries while seq
 * was odd or moved (boundedly).
 */
#ifndef RP_PIDS_H
#define RP_PIDS_H

#include <sys/types.h>

#include "../shm/atomics.h"
#include "config.h"

struct rp_run_pids {
	rp_atomic32 seq;
	rp_atomic32 n;      /* processes: a stage's replicas each one */
	struct {
		rp_atomic32 pos;     /* its place in the pipeline's order */
		rp_atomic32 pid;     /* running (0: none now) */
		rp_atomic32 standby; /* its standby (0: none now) */
	} p[RP_CFG_MAX_PROCS];
};

/* The writer: begin, set each process i (below RP_CFG_MAX_PROCS), end
 * with how many there are. */
void rp_pids_begin(struct rp_run_pids *t);
void rp_pids_set(struct rp_run_pids *t, int i, int pos, pid_t pid,
		 pid_t standby);
void rp_pids_end(struct rp_run_pids *t, int n);

/* The processes at place pos into out (at most max): each copy's
 * running process in order, then their standbys.  How many, or -1 when
 * no steady copy of the table could be read. */
int rp_pids_at(const struct rp_run_pids *t, int pos, pid_t *out, int max);

#endif /* RP_PIDS_H */
