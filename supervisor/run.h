/*
 * run.h - run a pipeline: create its rings, start its stages in their
 * sandboxes, and supervise them from one event loop until they are done.
 *
 * The loop is one epoll over a signalfd, each stage's pidfd, seccomp
 * listener and captured stderr, the supervisor's eventfd doorbell (rung by
 * every control record a stage sends) and a timer.  Signal handlers do no
 * work.  Each stage has a lifecycle state; every event is one transition,
 * checked against a table in run.c (a move it does not list is reported
 * as an internal error):
 *
 *   starting -> running -> draining   (a drain: the source stops, the
 *                                      rest finish what is queued)
 *            -> cancelling            (a cancel sent, not yet obeyed)
 *            -> restarting -> starting (a crash, under its policy)
 *            -> done                  (exit 0)
 *            -> cancelled             (exit 10 + reason, or killed by us)
 *            -> failed                (another exit code, a signal, a
 *                                      denied syscall; from any state,
 *                                      as blame may come after an exit)
 *
 * A failed stage fails the pipeline fast: its rings are marked broken (a
 * producer blocked on it gets an error at once) and every other stage is
 * cancelled with reason "sibling failed".  Ctrl-C (SIGINT) cancels every
 * stage with reason "user", SIGTERM with "shutdown"; a second signal
 * kills them.  SIGUSR1 drains (10 s at most, then a cancel); with
 * opts.drain so does the first SIGINT or SIGTERM, and the next cancels.
 *
 * Exit codes: 0 every stage finished, 1 a stage failed, 2 a bad
 * configuration, 130 cancelled (or drained) by SIGINT, 143 by SIGTERM,
 * 129 by SIGHUP, 131 by SIGQUIT (Ctrl-\\; neither drains).
 */
#ifndef RP_RUN_H
#define RP_RUN_H

#include <signal.h>

#include "config.h"
#include "pids.h"

#define RP_RUN_OK 0
#define RP_RUN_FAILED 1
#define RP_RUN_USAGE 2
#define RP_RUN_INTERRUPTED 130
#define RP_RUN_TERMINATED 143
#define RP_RUN_HANGUP 129
#define RP_RUN_QUIT 131

/* The cap on the processes of a stage's user when it is started by root,
 * its policy is not strict, and it names none (processes:). */
#define RP_EXEC_NPROC_DEFAULT 1024

struct rp_run_opts {
	const char *stage_bin; /* path of ringpipe-stage */
	int stats;             /* live counters on stderr, once a second */
	int quiet;             /* no report at the end */
	const char *report_json; /* the report as JSON there too, or NULL */
	int drain;             /* the first SIGINT or SIGTERM drains */
	/* --fast-restart: stages that ignore a cancel are killed after 1 s
	 * instead of 5 (the caller also lifts every stage's backoff and
	 * restart limit: rp_cfg_fast_restart). */
	int fast_restart;
	/* A crash-point sweep (ringpipe chaos): the stage at this place in
	 * the pipeline's order dies, in its first run only, at the
	 * crash_n-th pass through crash point crash_point. */
	int crash_stage;       /* -1: none */
	int crash_point;
	unsigned long crash_n;
	/* ringpipe chaos: the parent may queue RP_CHAOS_SIGNAL with
	 * rp_run_chaos_value() to have a stage hang, make a denied syscall
	 * or scribble, on its next record.  Deaths it causes are never
	 * counted against a record. */
	int chaos;
	/* ringpipe chaos: where the supervisor says who runs each place
	 * (NULL: nowhere).  Memory the caller shares with it (MAP_SHARED,
	 * page-aligned; no stage inherits it). */
	struct rp_run_pids *pids;
	/* ringpipe replay: the records fed to the stage at place 1 of the
	 * order, by their origin there (0, 1, ...), with their numbers in
	 * the run that quarantined them: one quarantined again says so. */
	const struct rp_replay_of *replay_of;
	size_t nreplay_of;
	/* Where the run says how many records it quarantined (NULL:
	 * nowhere): its own, whoever else appends to the same files. */
	uint64_t *quarantined;
};

struct rp_replay_of {
	uint64_t seq, origin;
	int numbered; /* the index gave them */
};


#define RP_CHAOS_SIGNAL (SIGRTMIN + 1)
/* The value to queue: RP_FAULT_* for the stage at place k of the order,
 * with a seed for a scribble. */
static inline int rp_run_chaos_value(unsigned fault, int k, uint32_t seed)
{
	return (int)(fault | (unsigned)k << 8 | (seed & 0xffffu) << 16);
}
/* What a crash of stage c costs its output (has_out: it has an output
 * ring), as the run report says it; NULL if nothing (it replays exactly
 * from its commit point). */
const char *rp_run_promise(const struct rp_cfg_stage *c, int has_out);
/* Can stage k (in pipeline order) take such faults: a library stage
 * with an input, restarted on failure, under a seccomp policy. */
int rp_run_injectable(const struct rp_cfg *cfg, int k);

int rp_run(const struct rp_cfg *cfg, const struct rp_run_opts *opts);

/* Block the signals a run takes as its own (SIGINT, SIGTERM, SIGHUP,
 * SIGQUIT, SIGUSR1): from then on they wait for it, rather than end the
 * process before it can clean up.  rp_run blocks them too. */
void rp_run_hold_signals(void);

#endif /* RP_RUN_H */
