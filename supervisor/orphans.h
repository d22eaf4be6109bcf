/*
 * orphans.h - what a dead stage leaves behind.
 *
 * A stage without a PID namespace (an exec stage with namespaces: [])
 * may leave processes of its program's behind when it is killed: a
 * background job, a child that outlived the program.  The supervisor is
 * a child subreaper, so they come to it as it reaps the stage; it kills
 * and reaps every child that is not a stage of its run.  Only when it
 * had no child as the run began: ringpipe exec'ed by a shell keeps that
 * shell's children, whose own orphans it could not tell from a stage's.
 */
#ifndef RP_ORPHANS_H
#define RP_ORPHANS_H

#include <sys/types.h>

#define RP_ORPHANS_MAX 256

struct rp_orphans {
	pid_t before[RP_ORPHANS_MAX]; /* children when the run began */
	int nbefore;
	pid_t killed[RP_ORPHANS_MAX]; /* killed, not yet reaped */
	int nkilled;
	unsigned long swept;          /* killed in all */
	int adopting;                 /* the subreaper flag was set */
};

/* Become a subreaper and note the children there are. */
void rp_orphans_init(struct rp_orphans *o);
/* Kill every child that is not one of the run's (is_stage) nor one from
 * before, and reap what has died of them. */
void rp_orphans_sweep(struct rp_orphans *o, int (*is_stage)(void *, pid_t),
		      void *arg);
/* The run is over: sweep until nothing is left, waiting up to wait_ms
 * for those killed (and what they leave in turn) to die. */
void rp_orphans_end(struct rp_orphans *o, int (*is_stage)(void *, pid_t),
		    void *arg, int wait_ms);

#endif /* RP_ORPHANS_H */
