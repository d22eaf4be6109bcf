/*
 * chaos.h - ringpipe chaos: a pipeline under a seeded fault schedule,
 * judged against a fault-free run of itself (or the digests of one).
 *
 * The pipeline must end in `file-sink FILE`: its output is what the
 * oracle compares (chaos_judge.h); and its source must not read stdin,
 * which the first run would use up.  A reference run writes
 * FILE.chaos-ref, and the digest of each of its lines to
 * FILE.chaos-ref.sums; given such a sums file (--expect), no reference
 * is run.  Then the pipeline runs again, as configured, while faults
 * drawn from the seed hit its stages; then FILE is compared with what
 * is expected, line by line: records lost, duplicated, out of order, and
 * the ones quarantined (counted in the dead-letter index).  Safety
 * (nothing lost or duplicated) and liveness (it finished) are reported
 * apart.
 *
 * --crashpoints N replaces the schedule with a sweep, as SQLite's crash
 * tests do: for every stage that restarts, every commit-path crash point
 * of the library and n = 1..N, a run where that stage dies at the n-th
 * pass through that point (its first run only), each judged against
 * what is expected.
 *
 * Faults: kill (SIGKILL a stage), stop (SIGSTOP a stage for 50-300 ms,
 * then SIGCONT), supervisor-kill (SIGKILL the supervisor, last: judged on
 * every stage exiting within 5 s and a second, fault-free run matching
 * what is expected).  Restart budgets are raised for the run (restart_max
 * at least the number of faults, restart_window 1 s) so the schedule
 * does not exhaust them.
 *
 * hang, deny and corrupt are done by a stage itself, on the next record
 * it takes, when the supervisor relays them as a control record (run.h:
 * rp_run_injectable says which stages can): it hangs (its per-record
 * timeout, 500 ms unless configured, kills it), makes a syscall no policy
 * allows (socket), or scribbles 8 bytes over its own shared memory and
 * carries on.  Hangs and denials are recovered from like crashes, and
 * never count towards quarantining the record.  A run with corruptions
 * is judged on containment: either it matched the reference, or it
 * failed and only stages that were corrupted are blamed.
 */
#ifndef RP_CHAOS_H
#define RP_CHAOS_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "run.h"

#define RP_CHAOS_KILL 0x1u
#define RP_CHAOS_STOP 0x2u
#define RP_CHAOS_SUPERVISOR 0x4u
#define RP_CHAOS_HANG 0x8u
#define RP_CHAOS_DENY 0x10u
#define RP_CHAOS_CORRUPT 0x20u

struct rp_chaos_opts {
	uint64_t seed;
	unsigned faults;
	unsigned kinds;        /* RP_CHAOS_* */
	unsigned every_ms;     /* mean time between faults */
	const char *json;      /* write the result there too, or NULL */
	unsigned crashpoints;  /* > 0: the crash-point sweep, 1..N passes */
	const char *file;      /* the pipeline file, for the replay line */
	const char *expect;    /* a sums file instead of a reference run */
};

/* Parse "kill,stop,supervisor-kill" into RP_CHAOS_* bits; 0 if bad. */
unsigned rp_chaos_kinds(const char *text);
/* The kinds' names, comma-separated, to f. */
void rp_chaos_kinds_list(FILE *f);
/* What a run cut short (its supervisor killed) wrote, cut[0, cn), held
 * to the reference ref[0, rn): it must be the reference's first lines,
 * byte for byte, but for a last line cut inside (the start of the
 * reference's next: *partial).  -1 if so (*lines: how many whole), -2
 * out of memory, else the index of the first line that differs. */
int rp_chaos_cut_check(const char *ref, size_t rn, const char *cut,
		       size_t cn, uint64_t *lines, int *partial);
/* Of the n faults relayed to the supervisor, in order, which it sent
 * on (done[i] 1) and which it dropped or never handled (0), as its log
 * says ("... fault sent to stage ..." or "... fault for stage ...
 * dropped: ..." lines, in the order it handled them). */
void rp_chaos_relays_done(const char *log, unsigned n, int *done);
/* Reap the orphans that came to us (a subreaper); not 0 if some were
 * still alive after grace_ns (1: stages among them, 2: processes that
 * are not stages, 3: both), killed then and named into who (when not
 * NULL): `pid 12 stage pass`, `pid 13 sleep 300 (not a stage: ...)`. */
int rp_chaos_reap_orphans(int64_t grace_ns, char *who, size_t wlen);
/* 0 safe and live, 1 not, 2 a pipeline chaos cannot judge. */
int rp_chaos(struct rp_cfg *cfg, const struct rp_run_opts *run,
	     const struct rp_chaos_opts *o);

#endif /* RP_CHAOS_H */
