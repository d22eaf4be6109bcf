/*
 * policy.c - seccomp policies, built with libseccomp as constant tables.
 *
 * Every filter starts with libseccomp's architecture check (a foreign
 * architecture kills the process), allows the policy's table, and sends
 * everything else to the supervisor as a user notification (the default
 * action), so a denied syscall is reported by name from a source the stage
 * cannot forge.  glibc's probes for newer syscalls fail with ENOSYS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

/* What a record loop needs.  Memory is never made executable (checked
 * below, per call).  ftruncate acts only on a file already open for
 * writing (a sink cutting its file back after a restart). */
static const char *const strict_allow[] = {
	"read", "pread64", "write", "readv", "writev", "close", "lseek",
	"ftruncate", "fstat", "newfstatat", "futex", "futex_waitv", "clock_gettime", "clock_getres",
	"gettimeofday", "nanosleep", "clock_nanosleep", "sched_yield",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "brk", "munmap", "mremap", "madvise", "getrandom",
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack",
	"restart_syscall", "poll", "ppoll", "exit", "exit_group",
	"set_robust_list", "get_robust_list", "membarrier", "getrlimit",
	"times", "getrusage",
	/* A thread's restartable sequences: glibc registered the main
	 * thread's before the filter, and a thread it cannot register for
	 * (clone allowed by the stage's rules) aborts. */
	"rseq",
};

/* What an ordinary dynamically linked program needs. */
static const char *const exec_allow[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64",
	"preadv", "pwritev", "open", "openat", "close", "close_range",
	"creat", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs",
	"fstatfs", "lseek", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename",
	"renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
	"chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown",
	"fchownat", "utime", "utimes", "utimensat", "futimesat", "truncate",
	"ftruncate", "fallocate", "fadvise64", "fsync", "fdatasync",
	"sync_file_range", "umask", "dup", "dup2", "dup3", "fcntl",
	"flock", "ioctl", "pipe", "pipe2", "select", "pselect6", "poll",
	"ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
	"sendfile", "splice", "tee", "copy_file_range", "memfd_create",
	"mmap", "mprotect", "munmap", "mremap", "madvise", "mlock",
	"munlock", "brk", "msync", "mincore", "futex", "futex_waitv", "rseq",
	"set_robust_list", "get_robust_list", "set_tid_address",
	"arch_prctl", "prctl", "rt_sigaction", "rt_sigprocmask",
	"rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
	"rt_sigtimedwait", "sigaltstack", "restart_syscall", "pause",
	"alarm", "getitimer", "setitimer", "timer_create", "timer_settime",
	"timer_gettime", "timer_delete", "timerfd_create",
	"timerfd_settime", "timerfd_gettime", "signalfd", "signalfd4",
	"clock_gettime", "clock_getres", "clock_nanosleep", "gettimeofday",
	"nanosleep", "time", "times", "getrusage", "sysinfo", "uname",
	"getrandom", "getpid", "gettid", "getppid", "getpgid", "getpgrp",
	"getsid", "setsid", "setpgid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups", "getpriority",
	"sched_yield", "sched_getaffinity", "sched_getparam",
	"sched_getscheduler", "getrlimit", "setrlimit",
	"execve", "execveat", "fork", "vfork", "wait4", "waitid",
	"kill", "tgkill", "tkill", "exit", "exit_group", "membarrier",
	"capget", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	/* Read-only extended attributes: ls -l asks for ACLs and labels. */
	"getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr",
	"flistxattr",
	/* NUMA policy of its own memory (procps's ps sets its own, libnuma
	 * asks): no other process's. */
	"get_mempolicy", "set_mempolicy",
	/* Asked of stdin by shells; on a pipe they fail with ENOTSOCK. */
	"getpeername", "getsockname",
};

/* glibc probes this and falls back to clone when it sees ENOSYS (a
 * stage's own allow or deny rule for it wins). */
static const char *const probe_enosys[] = {"clone3"};

static int denied(const struct rp_sandbox *sb, int nr)
{
	for (int i = 0; i < sb->ndeny; i++)
		if (sb->deny[i].nr == nr)
			return 1;
	return 0;
}

static int allowed(const struct rp_sandbox *sb, int nr)
{
	for (int i = 0; i < sb->nallow; i++)
		if (sb->allow[i].nr == nr)
			return 1;
	return 0;
}

/* exec: glibc opens a local socket to ask nscd for user and host names
 * (bash without HOME, ls -l, id) and syslog does the same; both fall
 * back when socket fails.  So a local socket fails with EACCES, quietly;
 * any other family is still denied, reported by name and fatal.  A
 * stage's own allow or deny rule for socket replaces this one. */
static int add_exec_conditional(scmp_filter_ctx ctx,
				const struct rp_sandbox *sb)
{
	/* clone makes processes and threads, not namespaces (unshare and
	 * setns are not allowed either); CLONE_NEWTIME is left out of the
	 * mask: for clone that bit is part of the exit signal. */
	const scmp_datum_t ns = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
				CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
				CLONE_NEWNET;
	int nr = SCMP_SYS(socket), err = 0;

	if (!denied(sb, SCMP_SYS(clone)) && !allowed(sb, SCMP_SYS(clone)))
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, ns, 0));
	/* Limits of its own (pid 0, as glibc's getrlimit, setrlimit and
	 * ulimit ask): every stage shares a uid, so another pid could be
	 * another stage's, or another pipeline's.  Another pid's fail
	 * with EPERM, as another user's would (prlimit --pid, Python's
	 * resource.prlimit), rather than killing the program. */
	if (!err && !denied(sb, SCMP_SYS(prlimit64)) &&
	    !allowed(sb, SCMP_SYS(prlimit64)))
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64),
				       1, SCMP_A0(SCMP_CMP_EQ, 0));
	if (!err && !denied(sb, SCMP_SYS(prlimit64)) &&
	    !allowed(sb, SCMP_SYS(prlimit64)))
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
				       SCMP_SYS(prlimit64), 1,
				       SCMP_A0(SCMP_CMP_NE, 0));
	if (err || denied(sb, nr) || allowed(sb, nr))
		return err;
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 1,
				SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)AF_UNIX));
}

/* A per-stage deny rule wins over the policy's table: the syscall is
 * left out of the table rather than given two rules. */
static int add_names(scmp_filter_ctx ctx, const struct rp_sandbox *sb,
		     const char *const *names, int n, uint32_t action)
{
	for (int i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int err;
		if (nr == __NR_SCMP_ERROR || denied(sb, nr) ||
		    (action != SCMP_ACT_ALLOW && allowed(sb, nr)))
			continue; /* not on this architecture, or the
				   * stage's own rule says otherwise */
		err = seccomp_rule_add(ctx, action, nr, 0);
		if (err && err != -EEXIST)
			return err;
	}
	return 0;
}

/* The signals a stage may send itself (or a thread of its own), as
 * masked values: every one (and 0) but those a death by which reads as
 * a stop from outside - SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGPIPE,
 * SIGTERM - and the stops, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU.  (A death
 * by any other, SIGUSR1 included, is the stage's own doing.) */
static const struct {
	scmp_datum_t mask, value;
} self_signals[] = {
	{~(scmp_datum_t)0, 0},		/* 0: sends none */
	{~(scmp_datum_t)3, 4},		/* 4-7: ILL, TRAP, ABRT, BUS */
	{~(scmp_datum_t)0, 8},		/* FPE */
	{~(scmp_datum_t)1, 10},		/* 10-11: USR1, SEGV */
	{~(scmp_datum_t)0, 12},		/* USR2 */
	{~(scmp_datum_t)0, 14},		/* ALRM */
	{~(scmp_datum_t)1, 16},		/* 16-17: STKFLT, CHLD */
	{~(scmp_datum_t)0, 18},		/* CONT */
	{~(scmp_datum_t)0, 23},		/* URG */
	{~(scmp_datum_t)7, 24},		/* 24-31: XCPU ... SYS */
	{~(scmp_datum_t)31, 32},	/* 32-63: real-time */
	{~(scmp_datum_t)0, 64},
};

/* strict: memory mappings and protections never executable, no file
 * mappings of new files (there are none to open), signals only to self.
 * stdio asks whether stdout is a terminal (TCGETS) before its first
 * printf: told it is not, quietly, rather than the stage killed for a
 * debugging line (any other ioctl is still denied, and a rule of the
 * stage's own for ioctl replaces this one). */
static int add_strict_conditional(scmp_filter_ctx ctx,
				  const struct rp_sandbox *sb, pid_t self)
{
	int err = 0;

	if (denied(sb, SCMP_SYS(mmap)) || denied(sb, SCMP_SYS(mprotect)) ||
	    denied(sb, SCMP_SYS(kill)) || denied(sb, SCMP_SYS(tgkill)) ||
	    denied(sb, SCMP_SYS(prlimit64)))
		return -EINVAL; /* conditional rules cannot be overridden */

	err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!err && !denied(sb, SCMP_SYS(ioctl)) &&
	    !allowed(sb, SCMP_SYS(ioctl)))
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY),
				       SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)TCGETS));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect),
				       1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* Signals to itself (its threads too): not those a death by which
	 * reads as a stop from outside (SIGKILL, SIGTERM), which never
	 * counts against a record - sent by itself, it would escape the
	 * quarantine - nor the stops (SIGSTOP would halt its per-record
	 * timeout).  Denied, it is said by name, on the record. */
	for (size_t i = 0; !err && !sb->self_signals_any &&
			   i < sizeof(self_signals) / sizeof(*self_signals);
	     i++) {
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 2,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self),
				       SCMP_A1(SCMP_CMP_MASKED_EQ,
					       self_signals[i].mask,
					       self_signals[i].value));
		if (!err)
			err = seccomp_rule_add(
				ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 2,
				SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self),
				SCMP_A2(SCMP_CMP_MASKED_EQ, self_signals[i].mask,
					self_signals[i].value));
	}
	if (!err && sb->self_signals_any)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	if (!err && sb->self_signals_any)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	/* Its own limits only (pid 0, as glibc calls it): every stage
	 * shares a uid, so another pid would be a sibling's. */
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64),
				       1, SCMP_A0(SCMP_CMP_EQ, 0));
	return err;
}

/* The filter for sb, as process self (its kill and tgkill rules name
 * it), in *out.  0 or -errno. */
static int build(const struct rp_sandbox *sb, pid_t self, scmp_filter_ctx *out)
{
	scmp_filter_ctx ctx;
	int err;

	*out = NULL;
	ctx = seccomp_init(SCMP_ACT_NOTIFY);
	if (ctx == NULL)
		return -ENOMEM;
	/* A syscall made through a foreign ABI (x32, i386 on x86_64)
	 * bypasses the tables: kill it outright. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			       SCMP_ACT_KILL_PROCESS);
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (!err && sb->policy == RP_POLICY_STRICT) {
		err = add_names(ctx, sb, strict_allow,
				sizeof(strict_allow) / sizeof(*strict_allow),
				SCMP_ACT_ALLOW);
		if (!err)
			err = add_strict_conditional(ctx, sb, self);
	} else if (!err) {
		err = add_names(ctx, sb, exec_allow,
				sizeof(exec_allow) / sizeof(*exec_allow),
				SCMP_ACT_ALLOW);
		if (!err)
			err = add_exec_conditional(ctx, sb);
	}
	if (!err)
		err = add_names(ctx, sb, probe_enosys,
				sizeof(probe_enosys) / sizeof(*probe_enosys),
				SCMP_ACT_ERRNO(ENOSYS));
	/* Only the socket the listener travels on may be written to with
	 * sendmsg, and only until it is closed right after. */
	if (!err && sb->notify_sock >= 0)
		err = seccomp_rule_add(
			ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
			SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sb->notify_sock));
	for (int i = 0; !err && i < sb->nallow; i++) {
		if (denied(sb, sb->allow[i].nr)) {
			err = -EINVAL; /* a contradiction */
			break;
		}
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sb->allow[i].nr, 0);
		if (err == -EEXIST)
			err = 0;
	}
	/* Every deny, with or without an errno, is the default action:
	 * a notification, so the supervisor learns of it by name.  It then
	 * answers with the errno (the stage goes on) or kills the stage. */
	if (err) {
		seccomp_release(ctx);
		return err;
	}
	*out = ctx;
	return 0;
}

/* What a template names where the stage's pid and its socket's fd will
 * be: no syscall number, architecture, flag or mask the filters compare
 * with, and above any pid or fd. */
#define SELF_MARK 0x2a5e1f5eu
#define SOCK_MARK 0x2a5e1f5fu

/* Set every comparison with mark in f to v; how many there were. */
static unsigned put_mark(struct rp_filter *f, uint32_t mark, uint32_t v)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->len; i++) {
		struct sock_filter *in = &f->insns[i];
		if (in->code == (BPF_JMP | BPF_JEQ | BPF_K) && in->k == mark) {
			in->k = v;
			n++;
		}
	}
	return n;
}

int rp_seccomp_export(const struct rp_sandbox *sb, pid_t self,
		      struct rp_filter *out)
{
	scmp_filter_ctx ctx;
	int err, mfd;

	out->insns = NULL;
	out->len = out->marks = out->sock_marks = 0;
	if (sb->policy == RP_POLICY_NONE)
		return -EINVAL;
	if ((err = build(sb, self, &ctx)))
		return err;
	mfd = memfd_create("ringpipe-filter", MFD_CLOEXEC);
	if (mfd < 0)
		err = -errno;
	else if ((err = seccomp_export_bpf(ctx, mfd)) == 0)
		err = rp_seccomp_read(mfd, out);
	if (mfd >= 0)
		close(mfd);
	seccomp_release(ctx);
	return err;
}

int rp_seccomp_compile(const struct rp_sandbox *sb, struct rp_filter *out)
{
	struct rp_sandbox marked = *sb;
	int err;

	if (sb->notify_sock >= 0)
		marked.notify_sock = (int)SOCK_MARK;
	if ((err = rp_seccomp_export(&marked, (pid_t)SELF_MARK, out)))
		return err;
	/* Counted without changing them: strict names itself in its kill
	 * and tgkill rules, and a socket its sendmsg rule, so its template
	 * must hold those marks. */
	out->marks = put_mark(out, SELF_MARK, SELF_MARK);
	out->sock_marks = put_mark(out, SOCK_MARK, SOCK_MARK);
	if ((sb->policy == RP_POLICY_STRICT && out->marks == 0) ||
	    (sb->notify_sock >= 0 && out->sock_marks == 0)) {
		free(out->insns);
		out->insns = NULL;
		out->len = 0;
		return -EPROTO;
	}
	return 0;
}

int rp_seccomp_bind(struct rp_filter *f, pid_t self, int sock)
{
	const unsigned seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
			       F_SEAL_WRITE;
	size_t size = f->len * sizeof(*f->insns);
	int fd;

	if (put_mark(f, SELF_MARK, (uint32_t)self) != f->marks ||
	    put_mark(f, SOCK_MARK, (uint32_t)sock) != f->sock_marks ||
	    (f->sock_marks > 0 && sock < 0))
		return -EPROTO;
	fd = memfd_create("ringpipe-filter", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (write(fd, f->insns, size) != (ssize_t)size ||
	    fcntl(fd, F_ADD_SEALS, seals) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

int rp_seccomp_read(int fd, struct rp_filter *out)
{
	struct stat st;
	ssize_t n;

	out->insns = NULL;
	out->len = out->marks = out->sock_marks = 0;
	if (fstat(fd, &st) != 0)
		return -errno;
	/* Whole instructions, as many as the kernel takes. */
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size > BPF_MAXINSNS * (off_t)sizeof(struct sock_filter))
		return -EINVAL;
	out->insns = malloc((size_t)st.st_size);
	if (out->insns == NULL)
		return -ENOMEM;
	n = pread(fd, out->insns, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(out->insns);
		out->insns = NULL;
		return n < 0 ? -errno : -EIO;
	}
	out->len = (unsigned)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

int rp_seccomp_load(const struct rp_sandbox *sb, int *listener)
{
	scmp_filter_ctx ctx;
	int err;

	*listener = -1;
	if (sb->policy == RP_POLICY_NONE)
		return 0;
	if (sb->filter != NULL && sb->filter->len > 0) {
		/* Compiled by the supervisor, bound to this process's
		 * pid before it executed (rp_seccomp_bind): loaded as
		 * libseccomp loads one, no_new_privs being set already. */
		struct sock_fprog prog = {
			.len = (unsigned short)sb->filter->len,
			.filter = sb->filter->insns,
		};
		int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				      SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (fd < 0)
			return -errno;
		*listener = fd;
		return 0;
	}
	if ((err = build(sb, getpid(), &ctx)))
		return err;
	err = seccomp_load(ctx);
	if (!err) {
		*listener = seccomp_notify_fd(ctx);
		if (*listener < 0)
			err = -ENOTSUP;
	}
	seccomp_release(ctx);
	return err;
}

const char *rp_policy_name(enum rp_policy p)
{
	switch (p) {
	case RP_POLICY_NONE: return "none";
	case RP_POLICY_STRICT: return "strict";
	case RP_POLICY_EXEC: return "exec";
	}
	return "unknown";
}

int rp_policy_parse(const char *name, enum rp_policy *out)
{
	if (strcmp(name, "none") == 0)
		*out = RP_POLICY_NONE;
	else if (strcmp(name, "strict") == 0)
		*out = RP_POLICY_STRICT;
	else if (strcmp(name, "exec") == 0)
		*out = RP_POLICY_EXEC;
	else
		return -EINVAL;
	return 0;
}

/* The calls the stage library makes itself while it works: reading and
 * writing its fds and doorbells, waiting on them (futex, poll, the spin's
 * yield), its locks' owner id, the clock, signals and ending.  (Its
 * detach at the end, munmap and close, may be denied: a violation at a
 * known place.) */
static const char *const library_needs[] = {
	"read", "write", "poll", "ppoll", "futex", "sched_yield", "getpid",
	"clock_gettime", "rt_sigreturn", "restart_syscall", "exit",
	"exit_group",
};

int rp_syscall_needed(int nr)
{
	for (size_t i = 0; i < sizeof(library_needs) / sizeof(*library_needs);
	     i++)
		if (seccomp_syscall_resolve_name(library_needs[i]) == nr)
			return 1;
	return 0;
}

int rp_syscall_number(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	return nr == __NR_SCMP_ERROR ? -ENOENT : nr;
}
