/*
 * wiring.h - how the supervisor tells a stage what it was given.
 *
 * The RINGPIPE_STAGE environment variable holds "key=value" pairs
 * separated by ';'.  Every value is checked; an unknown key, a bad number
 * or a missing ring is an error naming the key.
 *
 *   name=grep           the stage's name (1-47 of [A-Za-z0-9._-])
 *   in=P,C out=P,C      data rings: producer and consumer segment fds
 *   cin=P,C cout=P,C    control rings (supervisor->stage, stage->sup.)
 *   bell=FD[,EFD]       the stage's own bell (and its eventfd, for a
 *                       stage that also waits on file descriptors)
 *   inbell=FD[,EFD] outbell=FD[,EFD]  the bells of its input's producer
 *                       and its output's consumer (with their eventfds
 *                       when they have them: a waker must use them)
 *   sup=FD,EFD          the supervisor's bell and its eventfd
 *   seq=N               the input sequence number to continue from (a
 *                       restarted stage: what it had released)
 *   skip=N+N            input sequence numbers it must not process (its
 *                       records went to the dead-letter output); at most
 *                       RP_WIRING_MAX_SKIP
 *   crash=NAME:N        die (SIGKILL) the N-th time the library passes
 *                       crash point NAME (ringpipe chaos --crashpoints)
 *   chaos=G             act on RP_CTL_FAULT records for incarnation G
 *                       (ringpipe chaos: hang, deny, corrupt)
 *   life=FD             read end of the lifeline pipe
 *   sock=FD             socket for the seccomp listener
 *   filter=FD           its seccomp filter, compiled by the supervisor
 *                       for its pid, sock=FD and crash point (a sealed
 *                       memfd: rp_seccomp_compile, rp_seccomp_bind); a
 *                       stage with rules of its own builds its own
 *   policy=strict|exec|none
 *   allow=a+b deny=c+d:EPERM   syscall names (deny with an errno name:
 *                       the call fails with it instead of killing)
 *   as= cpu= nofile= fsize= nproc=  limits (bytes, seconds, count,
 *                       bytes, processes of its uid)
 *   uid= gid=           ids to switch to when started as root
 *   ns=pid+net+ipc+mnt nsopt=1 namespaces, and whether missing ones are
 *                       tolerated (reported) rather than fatal
 *   fsr=/a+/b fsw=/c    Landlock's fs_read and fs_write lists, absolute
 *                       paths with any byte outside [A-Za-z0-9/._-]
 *                       escaped as %XX; absent: the policy's default,
 *                       empty: none.  At most RP_SANDBOX_MAX_PATHS each
 *   bellv=N             the doorbells' protocol version (always said)
 *   tmp=/t              its own temporary directory, writable beneath
 *                       wherever Landlock applies (escaped as fsw is)
 *   llopt=1             a kernel without Landlock is reported, not fatal
 *   quar=K              deaths of its program on one record, alone,
 *                       that quarantine it (exec; 0: none)
 *   endn=N              exec: once its input has ended, its program is
 *                       timed out at the N-th record timeout it stays
 *                       silent for (end_timeout_ms; 0: never)
 *   timed=1             the supervisor times its records
 *                       (record_timeout_ms)
 *   lock=MS             replicas: the supervisor kills a holder of a
 *                       shared ring lock after MS; waits for one are
 *                       longer (0: the ring's default)
 *   standby=1           a standby: attach and enter the sandbox, then wait
 *                       on sock=FD for the word to take over, which
 *                       carries what only a restart knows (seq, skip,
 *                       chaos, inc: rp_wiring_take_over)
 */
#ifndef RP_WIRING_H
#define RP_WIRING_H

#include "../ipc/ring.h"
#include "sandbox.h"

/* An exec stage's program shares the stage's stderr.  The stage starts
 * each message of its own with this byte; the supervisor ends there a
 * line the program left unterminated, so the two do not run together
 * ("partialexec: ... killed").  A program that writes the byte only cuts
 * its own line in two. */
#define RP_STDERR_MARK 0x1e
#define RP_STDERR_MARK_S "\x1e"
/* At a line's start (after RP_STDERR_MARK, where a program shares the
 * stderr), a line that only informs (its reader gone, the stage ends
 * early, as it should): shown unless the run is quiet (-q). */
#define RP_STDERR_INFO 0x1f
#define RP_STDERR_INFO_S "\x1f"

#define RP_WIRING_NAME_MAX 48
/* Room for everything else (2048), and both Landlock lists and the
 * temporary directory at their longest, every byte escaped. */
#define RP_WIRING_MAX                                                         \
	(2048 + (2 * RP_SANDBOX_MAX_PATHS + 1) * (3 * RP_SANDBOX_PATH_MAX + 1))
#define RP_WIRING_MAX_SKIP 16

struct rp_wiring {
	char name[RP_WIRING_NAME_MAX];
	struct rp_ring_fds in, out, cin, cout;
	int bell, bell_efd, in_bell, in_bell_efd, out_bell, out_bell_efd;
	int sup_bell, sup_efd;
	/* The doorbells' protocol version, as the supervisor that made them
	 * says (bellv=; 0: not said, an older supervisor's wiring).  Carried
	 * here, not read from the bells' own pages, which every waker may
	 * write: a scribbled page must not stop a stage attaching. */
	unsigned bell_version;
	int lifeline, notify_sock;
	int filter;               /* a compiled seccomp filter, or -1 */
	uint64_t seq;
	int has_seq;
	uint64_t after;           /* replicas: the input position + 1 of the
				   * last record its earlier incarnations
				   * took and counted in seq (0: none) */
	uint64_t skip[RP_WIRING_MAX_SKIP];
	unsigned nskip;
	int crash_point;          /* enum rp_crash_point, 0: none */
	unsigned long crash_n;
	uint32_t chaos_gen;       /* 0: RP_CTL_FAULT ignored */
	uint32_t incarnation;     /* 1 at the first start, + 1 a restart;
				   * 0: not said */
	int standby;              /* wait for the word to take over */
	unsigned quarantine;      /* exec: deaths on one record, alone */
	unsigned end_n;           /* exec: endn (0: none) */
	int timed;                /* its records are timed */
	unsigned lock_ms;         /* replicas: lock_timeout_ms */
	struct rp_sandbox sandbox;
	char error[128];
};

void rp_wiring_init(struct rp_wiring *w);
int rp_wiring_parse(const char *desc, struct rp_wiring *w);
/* Write w as a RINGPIPE_STAGE value.  -ENOSPC if buf is too small. */
int rp_wiring_format(const struct rp_wiring *w, char *buf, size_t len);
void rp_wiring_close_fds(struct rp_wiring *w);
/* The word that makes a standby the running stage: the keys only a
 * restart knows (seq, skip, chaos, inc), in the same format.  Parsing
 * takes nothing else, and resets those four first. */
#define RP_WIRING_TAKEOVER_MAX 512
int rp_wiring_format_takeover(const struct rp_wiring *w, char *buf,
			      size_t len);
int rp_wiring_take_over(const char *desc, struct rp_wiring *w);
int rp_wiring_valid_name(const char *name);

#endif /* RP_WIRING_H */
