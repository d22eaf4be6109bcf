/*
 * sandbox.h - what a stage process gives up before it reads any input.
 *
 * rp_sandbox_enter() runs one ordered checklist; each step either takes
 * effect or fails the whole entry (unless the configuration allows that
 * layer to be missing, in which case the report says why it is missing):
 *
 *   1. close every file descriptor not in keep_fds (close_range)
 *   2. namespaces: no network, private IPC and mounts (unshare; through a
 *      user namespace when not root)
 *   3. resource limits: address space, CPU seconds, open files, file size,
 *      core dumps (always 0)
 *   4. no root: a root process switches to an unprivileged uid/gid with
 *      no supplementary groups; every capability is dropped and checked
 *   5. die with the supervisor: PR_SET_PDEATHSIG (set after the uid
 *      switch, which clears it) and the lifeline pipe checked now
 *   6. PR_SET_NO_NEW_PRIVS, not dumpable
 *   7. Landlock (landlock.h): the file-system hierarchies the stage may
 *      still read or write; what it had open before keeps working
 *   8. seccomp-bpf through libseccomp: architecture checked first, then
 *      the named policy; every syscall the policy does not allow raises a
 *      user notification on a listener fd that is sent to the supervisor
 *      (SCM_RIGHTS) before the stage runs, so the supervisor - not the
 *      stage - learns the syscall's name, and answers by killing the
 *      stage.  The filter and its listener survive execve.
 *
 * Policies:
 *   strict  what a record loop needs: memory (never executable), futex,
 *           clocks, read/write on descriptors it already has, poll, exit,
 *           signals to itself, restart_syscall and rt_sigreturn; Landlock
 *           grants no file-system access at all
 *   exec    what an ordinary dynamically linked program needs, including
 *           opening files and running programs; networking, ptrace,
 *           mount, modules, keyrings, bpf, namespaces and similar denied;
 *           Landlock: fs_read (default /) and fs_write (default none)
 *   none    no filter, and Landlock only if fs_read or fs_write is given
 *           (the other layers still apply)
 * Probes glibc makes for newer syscalls (clone3, rseq) get ENOSYS instead
 * of a kill, so policies survive libc upgrades.
 */
#ifndef RP_SANDBOX_H
#define RP_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sock_filter;

enum rp_policy { RP_POLICY_NONE, RP_POLICY_STRICT, RP_POLICY_EXEC };

#define RP_SANDBOX_MAX_FDS 32
#define RP_SANDBOX_MAX_RULES 32
/* Landlock paths: per list, and bytes per path with its NUL. */
#define RP_SANDBOX_MAX_PATHS 16
#define RP_SANDBOX_PATH_MAX 256
#define RP_SANDBOX_MAX_ENV 32
#define RP_SANDBOX_ENV_NAME 64

/* Layers, as bits of rp_sandbox_report.applied. */
#define RP_SB_FDS 0x01u
#define RP_SB_NETNS 0x02u
#define RP_SB_IPCNS 0x04u
#define RP_SB_MNTNS 0x08u
#define RP_SB_RLIMITS 0x10u
#define RP_SB_NOROOT 0x20u
#define RP_SB_PDEATH 0x40u
#define RP_SB_NNP 0x80u
#define RP_SB_SECCOMP 0x100u
#define RP_SB_LANDLOCK 0x200u
#define RP_SB_PIDNS 0x400u
#define RP_SB_SIGSCOPE 0x800u /* Landlock: no signals out of the stage */
#define RP_SB_ALL 0xfffu /* every layer above */

struct rp_syscall_rule {
	int nr;    /* syscall number (native architecture) */
	int errno_; /* deny rules: 0 kill and report, else fail with it */
};

/* A seccomp filter compiled ahead (rp_seccomp_compile, rp_seccomp_read). */
struct rp_filter {
	struct sock_filter *insns;
	unsigned len;   /* instructions */
	unsigned marks; /* a template's places for the stage's pid */
	unsigned sock_marks; /* ... and for its socket's fd */
};

struct rp_sandbox {
	enum rp_policy policy;
	int keep_fds[RP_SANDBOX_MAX_FDS];
	int nkeep;
	int lifeline_fd;        /* read end; hang-up: supervisor gone; -1 */
	int notify_sock;        /* where the seccomp listener goes; -1 */
	int self_signals_any;   /* strict: any signal to itself (the fault
				 * stage, a crash point armed), not only
				 * those of a crash */
	/* The filter the supervisor compiled for this start, or NULL: the
	 * library builds it (not carried in the wiring as such). */
	const struct rp_filter *filter;
	unsigned namespaces;    /* RP_SB_NETNS | RP_SB_IPCNS | RP_SB_MNTNS |
				 * RP_SB_PIDNS */
	int ns_optional;        /* missing namespaces are reported, not fatal */
	uint64_t limit_as;      /* bytes; 0: leave as is */
	uint64_t limit_cpu;     /* seconds; 0: leave */
	uint64_t limit_nofile;  /* 0: leave */
	uint64_t limit_fsize;   /* bytes; 0: leave */
	uint64_t limit_nproc;   /* processes of its uid (RLIMIT_NPROC); 0:
				 * leave */
	uint32_t uid, gid;      /* used when started as root */
	struct rp_syscall_rule allow[RP_SANDBOX_MAX_RULES];
	int nallow;
	struct rp_syscall_rule deny[RP_SANDBOX_MAX_RULES];
	int ndeny;
	/* Landlock: beneath fs_read the stage may read and execute, beneath
	 * fs_write also write, create and remove.  *_set: the configuration
	 * gave the list, so the policy's default does not apply (an empty
	 * list given means nothing) and a kernel without Landlock is an
	 * error unless landlock_optional. */
	char fs_read[RP_SANDBOX_MAX_PATHS][RP_SANDBOX_PATH_MAX];
	int nfs_read, fs_read_set;
	char fs_write[RP_SANDBOX_MAX_PATHS][RP_SANDBOX_PATH_MAX];
	int nfs_write, fs_write_set;
	/* Its own temporary directory (an exec stage's TMPDIR, made and
	 * removed by the supervisor), writable beneath whenever Landlock
	 * applies; "": none.  No list's default changes for it. */
	char tmpdir[RP_SANDBOX_PATH_MAX];
	int landlock_optional;
	/* env: the names of the environment variables the stage keeps,
	 * the rest cleared before it starts (env_set: the list was given;
	 * without it, it gets the supervisor's whole environment, as a
	 * shell's pipeline would).  Applied by the supervisor as it starts
	 * the stage, not carried in the wiring. */
	char env[RP_SANDBOX_MAX_ENV][RP_SANDBOX_ENV_NAME];
	int nenv, env_set;
};

struct rp_sandbox_report {
	unsigned applied;  /* RP_SB_* in force */
	char why[160];     /* why a requested layer is missing, or the error */
};

/* In a user namespace just made (unshare or clone with CLONE_NEWUSER):
 * map the ids the process had outside, uid and gid, to themselves, so it
 * keeps them, with setgroups denied.  0 or -errno. */
int rp_sandbox_map_ids(uid_t uid, gid_t gid);

/* What a supervisor applies to a stage program before executing it, so
 * that not one instruction of it runs with root, capabilities or the
 * right to gain privileges: rlimits, no root, no_new_privs.  The stage
 * library then enters the whole sandbox (the seccomp filter included)
 * before it reads any input.  0 or -errno (report->why says why). */
int rp_sandbox_pre_exec(const struct rp_sandbox *sb,
			struct rp_sandbox_report *report);

/* Become the user a stage runs as (no root, no capabilities), for a
 * check of what a stage could open or run: a process that does nothing
 * else after.  0 or -errno. */
int rp_sandbox_as_stage_user(void);

/* Defaults: strict, unprivileged id 65534, no namespaces requested. */
void rp_sandbox_defaults(struct rp_sandbox *sb);
/* Enter.  0 or -errno (then report->why says which step failed). */
int rp_sandbox_enter(const struct rp_sandbox *sb,
		     struct rp_sandbox_report *report);

/* "fds,netns,ipcns,mntns,rlimits,noroot,pdeath,nnp,landlock,seccomp": the
 * layers in mask, for reports.  Returns buf. */
const char *rp_sandbox_describe(unsigned mask, char *buf, size_t len);

/* Policy names. */
const char *rp_policy_name(enum rp_policy p);
int rp_policy_parse(const char *name, enum rp_policy *out);
/* Syscall name <-> number for the native architecture. */
int rp_syscall_number(const char *name);
/* 1 if the stage library itself makes syscall nr (a deny rule for it would
 * stop or kill a stage on its own work, not on a record). */
int rp_syscall_needed(int nr);
/* Load the seccomp filter for sb (sb->filter, or one built now); *listener
 * gets the user notification fd. */
int rp_seccomp_load(const struct rp_sandbox *sb, int *listener);
/* Compile the filter sb's stage would build, as a template with marks
 * where its pid goes (its kill and tgkill rules) and its socket's fd (the
 * sendmsg rule, when sb->notify_sock >= 0): building takes longer than
 * starting the rest of a stage, and every restart needs the same filter
 * but for those.  out->insns is allocated.  0 or -errno. */
int rp_seccomp_compile(const struct rp_sandbox *sb, struct rp_filter *out);
/* In the stage's process before it executes (a forked copy of the
 * template: it is changed in place): put its pid, self, and its socket's
 * fd, sock, in the template's places and the result in a sealed memfd.
 * The fd, or -errno. */
int rp_seccomp_bind(struct rp_filter *f, pid_t self, int sock);
/* The filter sb's stage would build as process self, compiled (what the
 * template bound to self must equal).  out->insns is allocated.  0 or
 * -errno. */
int rp_seccomp_export(const struct rp_sandbox *sb, pid_t self,
		      struct rp_filter *out);
/* Read a compiled filter from fd (whole instructions, at most the kernel's
 * limit) into out, allocated: free(out->insns).  0 or -errno. */
int rp_seccomp_read(int fd, struct rp_filter *out);

/* ----------------------------------------------------- supervisor side */

/* A syscall a stage was denied, as the kernel reported it to the
 * listener (the stage cannot forge this). */
struct rp_violation {
	int32_t pid;
	int nr;
	char name[40];
	uint64_t args[6];
	int errno_;   /* a deny rule's errno it was answered with; 0: fatal */
	int spared;   /* only the caller (the stage's program) was stopped */
	const char *unspared; /* asked to, why it was not (static text) */
};

/* Receive the listener fd a stage sent (bounded wait).  0 or -errno;
 * -ENOMSG if the stage sent "no filter". */
int rp_sandbox_recv_listener(int sock, int timeout_ms, int *listener);
/* Read one notification from a listener and answer it.  A syscall that
 * sb denies with an errno fails with it and the stage goes on
 * (v->errno_ says which); any other is fatal: with kill_pidfd >= 0 the
 * stage (and the caller, if the stage started it) is SIGKILLed before
 * the answer, so it cannot carry on.  With spare_pid > 0 (the stage's
 * pid), a caller other than the stage itself (its program, or anything
 * that started) is killed alone, and the stage lives on (v->spared),
 * once spare(arg, v) has returned 0: it tells the stage, before the
 * kill, which then ends its program's run.  The stage itself calling
 * ends the stage.  A caller that has left the call meanwhile (a
 * signal, or its death) is not killed here: the stage is told, and ends
 * its program's run itself.  A caller not spared says why
 * (v->unspared).  0 and *v filled, -EAGAIN if none is pending,
 * -errno. */
int rp_sandbox_take_violation(int listener, const struct rp_sandbox *sb,
			      int kill_pidfd, pid_t spare_pid,
			      int (*spare)(void *arg,
					   const struct rp_violation *v),
			      void *arg, struct rp_violation *v);

#endif /* RP_SANDBOX_H */
