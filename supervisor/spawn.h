/*
 * spawn.h - the supervisor's side of a stage: wiring, fork, sandbox
 * hand-shake, and the seccomp listener.
 *
 * rp_spawn() gives a stage its rings, bells, control rings, a lifeline and
 * a socket, forks it from the calling (main) thread, and returns once the
 * stage has entered its sandbox and handed over its seccomp listener (or
 * said it runs without a filter).  The stage either runs a function in the
 * forked process (built-in stages) or execs a program linked with the
 * stage library; either way it finds its wiring in RINGPIPE_STAGE.
 *
 * The supervisor then polls the stage's pidfd and listener.  A
 * notification on the listener is a syscall the policy denies:
 * rp_spawn_violation() reads it (name from the kernel, not the stage),
 * answers it with EPERM, and kills the stage.
 */
#ifndef RP_SPAWN_H
#define RP_SPAWN_H

#include <sys/types.h>

#include "../ipc/ctl.h"
#include "../ipc/ring.h"
#include "../stage/sandbox.h"
#include "scratch.h"

/* A stage's seccomp filter, compiled once as a template and kept from one
 * start to the next (rp_seccomp_compile): what it was compiled for. */
struct rp_filter_cache {
	struct rp_filter tmpl; /* tmpl.insns NULL: none yet */
	int crash;    /* compiled for a crash point (any signal to itself) */
	int failed;   /* it could not be: the stage builds (and says) */
};

void rp_filter_cache_init(struct rp_filter_cache *c);
void rp_filter_cache_close(struct rp_filter_cache *c);

struct rp_stage_spec {
	const char *name;
	struct rp_sandbox sandbox; /* policy, limits, rules, ids, namespaces */
	int (*main)(void *arg);    /* run in the forked process, or NULL */
	void *arg;
	char *const *argv;         /* or exec this program */
	int stderr_fd;             /* the stage's stderr (-1: inherit) */
	int null_stdin, null_stdout; /* give it /dev/null instead of ours */
	/* argv is ringpipe's own stage host, which opens its files before
	 * it drops root; any other program gets no root before it runs. */
	int trusted;
	/* With namespaces: [pid], start it in the namespace as its pid 1
	 * (clone3; through a user namespace when not root), so that
	 * killing it ends everything in there.  Where clone3 cannot, and
	 * for stages that cannot be an init, the stage unshares the
	 * namespace for its children. */
	int own_pidns;
	/* A restarted stage: the input sequence number to continue from
	 * (a replica: what it counted, up to input position after - 1). */
	int has_seq;
	uint64_t seq;
	uint64_t after;
	/* Input records it must not process (quarantined). */
	const uint64_t *skip;
	unsigned nskip;
	/* A crash-point sweep: die at the crash_n-th pass (0: none). */
	int crash_point;
	unsigned long crash_n;
	/* ringpipe chaos: act on fault records for this incarnation. */
	uint32_t chaos_gen;
	/* 1 at its first start, + 1 each restart (the fault stage's
	 * --every). */
	uint32_t incarnation;
	/* A standby: it attaches and enters its sandbox, then waits for
	 * rp_spawn_take_over (the restart fields above are sent then).
	 * rp_spawn does not wait for its hand-shake: rp_spawn_finish. */
	int standby;
	/* Not a standby, but rp_spawn does not wait for its hand-shake
	 * either: the caller waits for p->go in its own loop, then calls
	 * rp_spawn_finish (or rp_spawn_abandon when it gives up). */
	int defer_handshake;
	/* exec: deaths of its program alone on one record that quarantine
	 * it (the stage narrows a crash down to one record; 0: never). */
	unsigned quarantine;
	/* exec: end_timeout_ms in record timeouts, rounded up (0: none). */
	unsigned end_n;
	int timed;       /* record_timeout_ms is set */
	/* Replicas: how long the supervisor lets one hold a shared ring
	 * lock (its own waits for one are longer); 0: not a replica. */
	unsigned lock_ms;
	/* Where its filter is kept between starts, or NULL: the stage
	 * builds its own each time. */
	struct rp_filter_cache *filter;
	/* A temporary directory of its own (scratch.h), its TMPDIR, which
	 * its Landlock rules let it write; removed with the process. */
	int scratch;
};

struct rp_stage_proc {
	char name[48];
	pid_t pid;
	int pidfd;
	int listener;      /* seccomp notifications, -1 without a filter */
	int lifeline;      /* write end: closing it tells the stage */
	struct rp_bell *bell;  /* the stage's bell */
	int own_bell;          /* 1: bell created (and closed) by rp_spawn */
	struct rp_sandbox sandbox; /* its rules, to answer notifications */
	struct rp_ring_fds cin, cout;
	struct rp_ctl_tx *tx;  /* supervisor -> stage */
	struct rp_ctl_rx *rx;  /* stage -> supervisor */
	int start_status;      /* wait status of a child that died while
				* starting (rp_spawn failed), else 0 */
	int go;                /* a standby's socket: the word to take over
				* goes there; -1 otherwise */
	/* its rings, whose multi-participant sides (replicas) get its
	 * death marked when rp_spawn_reap reaps it */
	const struct rp_ring_fds *rings[2];
	struct rp_scratch scratch; /* spec->scratch: its TMPDIR */
};

/* The rings around the stage: in (it consumes) and out (it produces) may
 * be NULL for a source or a sink; their bells are the peers' bells. */
struct rp_stage_links {
	const struct rp_ring_fds *in;
	struct rp_bell *in_bell;
	const struct rp_ring_fds *out;
	struct rp_bell *out_bell;
	struct rp_bell *sup_bell; /* the supervisor's (eventfd) bell */
	/* The stage's own bell, which its input's producer and its
	 * output's consumer ring; NULL: rp_spawn creates one. */
	struct rp_bell *own_bell;
};

/* Spawn; 0 or -errno with *why filled (at most 160 bytes).  -ENOENT,
 * before anything starts: an fs_read or fs_write path does not exist. */
int rp_spawn(const struct rp_stage_spec *spec,
	     const struct rp_stage_links *links, struct rp_stage_proc *out,
	     char *why, size_t whylen);
/* A standby's rp_spawn returns once it is forked: when p->go is
 * readable, or its pidfd (dead, its socket held open by a child of its
 * own), this takes its sandbox hand-shake (without waiting).  0;
 * -EAGAIN: neither yet; or -errno with *why filled, and then it is
 * killed and reaped. */
int rp_spawn_finish(struct rp_stage_proc *p, char *why, size_t whylen);
/* Give up on the hand-shake of a deferred start: it is killed and
 * reaped, *why says so.  -ETIMEDOUT. */
int rp_spawn_abandon(struct rp_stage_proc *p, char *why, size_t whylen);
/* Make standby p the running stage, with what only a restart knows
 * (spec's has_seq, seq, skip, nskip, chaos_gen, incarnation).  0, or
 * -errno (-EPIPE: it died waiting); the socket is closed either way. */
int rp_spawn_take_over(struct rp_stage_proc *p,
		       const struct rp_stage_spec *spec);
/* A denied syscall arrived on p->listener: take it, and kill the stage
 * unless a deny rule names an errno for it (v->errno_ then says which),
 * or, with spare_program, the caller is the stage's program: then the
 * stage is told (RP_CTL_DENIED) and the program alone is killed
 * (v->spared).  0 with *v filled, -EAGAIN if none was pending. */
int rp_spawn_violation(struct rp_stage_proc *p, int spare_program,
		       struct rp_violation *v);
/* The record the stage said it was working on (+1; 0: none).  A hint
 * from the stage's own memory. */
uint64_t rp_spawn_current_record(const struct rp_stage_proc *p);
/* SIGKILL the stage through its pidfd (never by a pid that may be stale
 * or -1).  0 or -errno. */
int rp_spawn_kill(struct rp_stage_proc *p);
/* Wait for the stage to exit (bounded), SIGKILL it past the bound; the
 * wait status.  Closes what rp_spawn opened. */
int rp_spawn_reap(struct rp_stage_proc *p, int timeout_ms);
void rp_spawn_close(struct rp_stage_proc *p);
/* Its process is gone: its temporary directory goes too (rp_spawn_reap
 * and rp_spawn_close do it, for a caller that reaped it itself).  A
 * part that could not be removed is said on stderr; 0 or -errno. */
int rp_spawn_scratch_remove(struct rp_stage_proc *p);

#endif /* RP_SPAWN_H */
