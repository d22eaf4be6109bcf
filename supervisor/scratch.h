/*
 * scratch.h - an exec stage's own temporary directory.
 *
 * Each process of an `exec` stage gets a directory of its own,
 * BASE/ringpipe-scratch-UID/STAGE.XXXXXXXX, mode 0700, owned by the uid
 * the stage runs as.  BASE is the supervisor's TMPDIR, or /tmp (also when
 * the stage's user could not reach that TMPDIR, or others could replace
 * what is made there: writable by them and not sticky, or not ours or
 * root's); UID is the supervisor's, whose container (mode 0711) nobody
 * else may write in (that name squatted: ringpipe-scratch-UID.XXXXXX).
 * Removal and sweeps are bounded in time: what is still being written
 * is left for a later sweep.  The stage's
 * TMPDIR names it and its Landlock rules let it write there, so a `sort`
 * can spill without being given all of /tmp, and what a killed program
 * leaves there is removed with the directory when its stage process is
 * gone.
 *
 * The supervisor holds an flock on the directory for as long as the
 * stage runs; a directory nobody holds is one a killed supervisor left,
 * and rp_scratch_sweep removes it at the next run.  Removal never
 * follows a link, and goes however deep the tree (the program owns
 * everything beneath, and may have planted links to files of others).
 */
#ifndef RP_SCRATCH_H
#define RP_SCRATCH_H

#include <sys/types.h>

#define RP_SCRATCH_PATH_MAX 200

struct rp_scratch {
	char path[RP_SCRATCH_PATH_MAX]; /* "" when none */
	int lock;                       /* its directory, flocked; -1 */
};

void rp_scratch_init(struct rp_scratch *s);
/* Make stage's directory, owned by uid:gid when we are root.  0 or
 * -errno (*s then says none). */
int rp_scratch_make(struct rp_scratch *s, const char *stage, uid_t uid,
		    gid_t gid);
/* Remove the directory and all beneath it, and let go of it.  0, or
 * -errno when something could not be removed (said by the caller). */
int rp_scratch_remove(struct rp_scratch *s);
/* Remove the directories of dead runs.  How many. */
unsigned rp_scratch_sweep(void);
/* Where the directories go: $TMPDIR when it is an absolute path, else
 * /tmp; for a stage run as uid:gid, /tmp where it could not reach that
 * TMPDIR. */
const char *rp_scratch_base(void);
const char *rp_scratch_base_for(uid_t uid, gid_t gid);

#endif /* RP_SCRATCH_H */
