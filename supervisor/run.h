/*
 * run.h - run a pipeline: create its rings, start its stages in their
 * sandboxes, and supervise them from one event loop until they are done.
 *
 * The loop is one epoll over a signalfd, each stage's pidfd, seccomp
 * listener and captured stderr, the supervisor's eventfd doorbell (rung by
 * every control record a stage sends) and a timer.  Signal handlers do no
 * work.  Each stage has a lifecycle state; every event is one transition:
 *
 *   starting -> running -> exited     (exit 0: done)
 *                       -> cancelled  (exit 10 + reason)
 *                       -> failed     (another exit code, a signal, a
 *                                      denied syscall)
 *
 * A failed stage fails the pipeline fast: its rings are marked broken (a
 * producer blocked on it gets an error at once) and every other stage is
 * cancelled with reason "sibling failed".  Ctrl-C (SIGINT) cancels every
 * stage with reason "user", SIGTERM with "shutdown"; a second signal
 * kills them.
 *
 * Exit codes: 0 every stage finished, 1 a stage failed, 2 a bad
 * configuration, 130 cancelled by SIGINT, 143 by SIGTERM.
 */
#ifndef RP_RUN_H
#define RP_RUN_H

#include "config.h"

#define RP_RUN_OK 0
#define RP_RUN_FAILED 1
#define RP_RUN_USAGE 2
#define RP_RUN_INTERRUPTED 130
#define RP_RUN_TERMINATED 143

struct rp_run_opts {
	const char *stage_bin; /* path of ringpipe-stage */
	int stats;             /* live counters on stderr, once a second */
	int quiet;             /* no report at the end */
	/* A crash-point sweep (ringpipe chaos): the stage at this place in
	 * the pipeline's order dies, in its first run only, at the
	 * crash_n-th pass through crash point crash_point. */
	int crash_stage;       /* -1: none */
	int crash_point;
	unsigned long crash_n;
};

int rp_run(const struct rp_cfg *cfg, const struct rp_run_opts *opts);

#endif /* RP_RUN_H */
