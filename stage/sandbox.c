/*
 * sandbox.c - the ordered checklist of sandbox.h, and the supervisor's
 * side of the seccomp listener.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"
#include "sandbox.h"

void rp_sandbox_defaults(struct rp_sandbox *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->policy = RP_POLICY_STRICT;
	sb->lifeline_fd = -1;
	sb->notify_sock = -1;
	sb->uid = 65534; /* nobody */
	sb->gid = 65534; /* nogroup */
}

static int fail(struct rp_sandbox_report *r, int err, const char *fmt, ...)
{
	va_list ap;
	int n = (int)strlen(r->why);

	if (n > 0 && n < (int)sizeof(r->why) - 2) {
		r->why[n++] = ';';
		r->why[n++] = ' ';
		r->why[n] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(r->why + n, sizeof(r->why) - (size_t)n, fmt, ap);
	va_end(ap);
	return err;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* 1. Close everything but stdin/stdout/stderr and keep_fds. */
static int step_fds(const struct rp_sandbox *sb)
{
	int keep[RP_SANDBOX_MAX_FDS + 3], n = 0;
	unsigned lo = 3;

	for (int i = 0; i < sb->nkeep && i < RP_SANDBOX_MAX_FDS; i++)
		if (sb->keep_fds[i] > 2)
			keep[n++] = sb->keep_fds[i];
	if (sb->lifeline_fd > 2)
		keep[n++] = sb->lifeline_fd;
	if (sb->notify_sock > 2)
		keep[n++] = sb->notify_sock;
	qsort(keep, (size_t)n, sizeof(int), cmp_int);
	for (int i = 0; i < n; i++) {
		if ((unsigned)keep[i] > lo &&
		    syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0) < 0)
			return -errno;
		lo = (unsigned)keep[i] + 1;
	}
	if (syscall(SYS_close_range, lo, ~0u, 0) < 0)
		return -errno;
	return 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

int rp_sandbox_map_ids(uid_t uid, gid_t gid)
{
	char map[64];
	int err;

	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	if ((err = write_file("/proc/self/setgroups", "deny")) ||
	    (err = write_file("/proc/self/uid_map", map)))
		return err;
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	return write_file("/proc/self/gid_map", map);
}

/* 2. Namespaces.  Root unshares directly; anyone else through a user
 * namespace in which it keeps its own ids. */
static int step_namespaces(const struct rp_sandbox *sb,
			   struct rp_sandbox_report *r, int *in_userns)
{
	int flags = 0;
	uid_t uid = getuid();
	gid_t gid = getgid();

	*in_userns = 0;
	if (sb->namespaces & RP_SB_NETNS)
		flags |= CLONE_NEWNET;
	if (sb->namespaces & RP_SB_IPCNS)
		flags |= CLONE_NEWIPC;
	if (sb->namespaces & RP_SB_MNTNS)
		flags |= CLONE_NEWNS;
	/* Created in it (the supervisor's clone3), the stage is pid 1 of
	 * its namespace already.  Else it stays where it is, and its first
	 * child (the exec adapter's init) is pid 1 of the new one. */
	if ((sb->namespaces & RP_SB_PIDNS) && getpid() == 1)
		r->applied |= RP_SB_PIDNS;
	else if (sb->namespaces & RP_SB_PIDNS)
		flags |= CLONE_NEWPID;
	if (flags == 0)
		return 0;
	if (geteuid() != 0) {
		if (unshare(CLONE_NEWUSER | flags) < 0)
			goto missing;
		*in_userns = 1;
		if (rp_sandbox_map_ids(uid, gid) != 0)
			return fail(r, -EPERM, "user namespace id map failed");
	} else if (unshare(flags) < 0) {
		goto missing;
	}
	r->applied |= sb->namespaces &
		      (RP_SB_NETNS | RP_SB_IPCNS | RP_SB_MNTNS | RP_SB_PIDNS);
	return 0;
missing: {
	int err = -errno;
	fail(r, err, "namespaces unavailable: unshare: %s", strerror(-err));
	return sb->ns_optional ? 0 : err;
}
}

/* 3. Resource limits. */
static int step_rlimits(const struct rp_sandbox *sb)
{
	struct {
		int res;
		uint64_t v;
	} lim[] = {
		{RLIMIT_AS, sb->limit_as},       {RLIMIT_CPU, sb->limit_cpu},
		{RLIMIT_NOFILE, sb->limit_nofile}, {RLIMIT_FSIZE, sb->limit_fsize},
		{RLIMIT_NPROC, sb->limit_nproc},
		{RLIMIT_CORE, 1}, /* forced to 0 below */
	};

	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		struct rlimit rl;
		if (lim[i].v == 0)
			continue;
		rl.rlim_cur = rl.rlim_max =
			lim[i].res == RLIMIT_CORE ? 0 : (rlim_t)lim[i].v;
		if (lim[i].res == RLIMIT_CPU) /* SIGXCPU first, then SIGKILL */
			rl.rlim_max = rl.rlim_cur + 1;
		if (setrlimit(lim[i].res, &rl) < 0)
			return -errno;
	}
	return 0;
}

static int caps_all_zero(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return (d[0].effective | d[1].effective | d[0].permitted |
		d[1].permitted | d[0].inheritable | d[1].inheritable) == 0;
}

static int caps_drop_all(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	/* The bounding set first (needs CAP_SETPCAP), so nothing can come
	 * back through an execve of a file with capabilities. */
	for (int c = 0; c <= 63; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			break;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

/* 4. No root, no capabilities.  Root drops the bounding set while it
 * still may, then switches ids, which clears every capability; anyone
 * else (or root inside a user namespace) clears its sets directly.  Either
 * way the result is checked, not assumed. */
static int step_noroot(const struct rp_sandbox *sb, int in_userns,
		       struct rp_sandbox_report *r)
{
	if (geteuid() == 0 && !in_userns) {
		for (int c = 0; c <= 63; c++)
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
			    errno != EINVAL)
				break;
		if (setgroups(0, NULL) < 0 ||
		    setresgid(sb->gid, sb->gid, sb->gid) < 0 ||
		    setresuid(sb->uid, sb->uid, sb->uid) < 0)
			return fail(r, -errno, "switching to uid %u: %s",
				    sb->uid, strerror(errno));
		if (getuid() == 0 || geteuid() == 0)
			return fail(r, -EPERM, "still root after setresuid");
	} else if (caps_drop_all() < 0) {
		return fail(r, -EPERM, "dropping capabilities failed");
	}
	if (!caps_all_zero())
		return fail(r, -EPERM, "capabilities remain after the drop");
	return 0;
}

/* 5. Die with the supervisor. */
static int step_pdeath(const struct rp_sandbox *sb)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	if (sb->lifeline_fd >= 0) {
		struct pollfd p = {.fd = sb->lifeline_fd, .events = POLLIN};
		/* Already hung up: the supervisor died before we got here,
		 * and PDEATHSIG will never come. */
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLIN)))
			return -EPIPE;
	}
	return 0;
}

/* 7. Landlock.  A kernel without it leaves the layer missing, said in
 * the report; that is fatal only when the configuration named paths and
 * did not make the layer optional. */
static int step_landlock(const struct rp_sandbox *sb,
			 struct rp_sandbox_report *r)
{
	char why[128];
	int abi, err;

	if (!rp_landlock_wanted(sb))
		return 0;
	abi = rp_landlock_abi();
	if (abi == -ENOSYS || abi == -EOPNOTSUPP) {
		fail(r, abi, "landlock unavailable: %s",
		     abi == -ENOSYS ? "not in this kernel"
				    : "disabled in this kernel");
		if (rp_landlock_explicit(sb) && !sb->landlock_optional)
			return fail(r, abi, "fs_read/fs_write need it "
					    "(landlock_optional: true runs "
					    "without)");
		return 0;
	}
	if (abi < 0)
		return fail(r, abi, "landlock: version query: %s",
			    strerror(-abi));
	err = rp_landlock_restrict(sb, abi, why, sizeof(why));
	if (err)
		return fail(r, err, "landlock: %s", why);
	r->applied |= RP_SB_LANDLOCK;
	if (rp_landlock_scoped(sb, abi))
		r->applied |= RP_SB_SIGSCOPE;
	return 0;
}

/* 8. The seccomp filter, its listener sent to the supervisor. */
static int send_listener(int sock, int listener)
{
	char byte = listener >= 0 ? 'L' : 'N';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (listener >= 0) {
		struct cmsghdr *c;
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &listener, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int rp_sandbox_pre_exec(const struct rp_sandbox *sb,
			struct rp_sandbox_report *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	/* Namespaces come later, from the stage itself: as an
	 * unprivileged process it gets them through a user namespace. */
	if ((err = step_rlimits(sb)))
		return fail(r, err, "rlimits: %s", strerror(-err));
	if ((err = step_noroot(sb, 0, r)))
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(r, -errno, "no_new_privs: %s", strerror(errno));
	r->applied = RP_SB_RLIMITS | RP_SB_NOROOT | RP_SB_NNP;
	return 0;
}

int rp_sandbox_as_stage_user(void)
{
	struct rp_sandbox sb;
	struct rp_sandbox_report r;

	rp_sandbox_defaults(&sb);
	memset(&r, 0, sizeof(r));
	return step_noroot(&sb, 0, &r);
}

int rp_sandbox_enter(const struct rp_sandbox *sb,
		     struct rp_sandbox_report *r)
{
	int err, in_userns = 0, listener = -1;

	memset(r, 0, sizeof(*r));
	if ((err = step_fds(sb)))
		return fail(r, err, "closing inherited fds: %s", strerror(-err));
	r->applied |= RP_SB_FDS;
	if ((err = step_namespaces(sb, r, &in_userns)))
		return fail(r, err, "namespaces");
	if ((err = step_rlimits(sb)))
		return fail(r, err, "rlimits: %s", strerror(-err));
	r->applied |= RP_SB_RLIMITS;
	if ((err = step_noroot(sb, in_userns, r)))
		return err;
	r->applied |= RP_SB_NOROOT;
	if ((err = step_pdeath(sb)))
		return fail(r, err, "supervisor gone");
	r->applied |= RP_SB_PDEATH;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return fail(r, -errno, "no_new_privs: %s", strerror(errno));
	r->applied |= RP_SB_NNP;
	/* After no_new_privs, which Landlock needs; before the filter,
	 * which does not allow its calls. */
	if ((err = step_landlock(sb, r)))
		return err;
	if (sb->policy != RP_POLICY_NONE) {
		if (sb->notify_sock < 0)
			return fail(r, -EINVAL,
				    "seccomp: nowhere to send the listener");
		err = rp_seccomp_load(sb, &listener);
		if (err)
			return fail(r, err, "seccomp %s: %s",
				    rp_policy_name(sb->policy), strerror(-err));
		r->applied |= RP_SB_SECCOMP;
	}
	if (sb->notify_sock >= 0) {
		err = send_listener(sb->notify_sock, listener);
		if (listener >= 0)
			close(listener);
		close(sb->notify_sock);
		if (err)
			return fail(r, err, "sending the seccomp listener: %s",
				    strerror(-err));
	}
	return 0;
}

const char *rp_sandbox_describe(unsigned mask, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} layers[] = {
		{RP_SB_FDS, "fds"},         {RP_SB_NETNS, "netns"},
		{RP_SB_IPCNS, "ipcns"},     {RP_SB_MNTNS, "mntns"},
		{RP_SB_PIDNS, "pidns"},
		{RP_SB_RLIMITS, "rlimits"}, {RP_SB_NOROOT, "noroot"},
		{RP_SB_PDEATH, "pdeath"},   {RP_SB_NNP, "nnp"},
		{RP_SB_LANDLOCK, "landlock"}, {RP_SB_SECCOMP, "seccomp"},
		{RP_SB_SIGSCOPE, "sigscope"},
	};
	size_t at = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(layers) / sizeof(*layers); i++) {
		int n;
		if (!(mask & layers[i].bit))
			continue;
		n = snprintf(buf + at, len - at, "%s%s", at ? "," : "",
			     layers[i].name);
		if (n < 0 || (size_t)n >= len - at)
			break;
		at += (size_t)n;
	}
	return buf;
}

/* ----------------------------------------------------- supervisor side */

int rp_sandbox_recv_listener(int sock, int timeout_ms, int *listener)
{
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct pollfd p = {.fd = sock, .events = POLLIN};
	struct cmsghdr *c;
	ssize_t n;
	int r;

	*listener = -1;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE; /* the stage died before its sandbox was up */
	c = CMSG_FIRSTHDR(&msg);
	if (byte == 'N' && c == NULL)
		return -ENOMSG;
	if (c == NULL || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EBADMSG;
	memcpy(listener, CMSG_DATA(c), sizeof(int));
	/* An fd sent with the wrong byte is installed all the same: not
	 * ours to keep. */
	if (byte != 'L') {
		close(*listener);
		*listener = -1;
		return -EBADMSG;
	}
	return 0;
}

/* A field of /proc/PID/status: the first number after "Key:"; -1 if
 * none. */
static long status_field(pid_t pid, const char *key)
{
	char path[64], buf[2048], *p;
	long v = -1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		size_t k = strlen(key);
		if (strncmp(p, key, k) != 0 || p[k] != ':')
			continue;
		{
			char *e;
			long x = strtol(p + k + 1, &e, 10);
			if (e != p + k + 1)
				v = x;
		}
		break;
	}
	return v;
}

int rp_sandbox_take_violation(int listener, const struct rp_sandbox *sb,
			      int kill_pidfd, pid_t spare_pid,
			      int (*spare)(void *arg,
					   const struct rp_violation *v),
			      void *arg, struct rp_violation *v)
{
	int errno_ = EPERM;

	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	struct pollfd p = {.fd = listener, .events = POLLIN};
	char *name;
	int err;

	memset(v, 0, sizeof(*v));
	if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
		return (p.revents & (POLLHUP | POLLERR)) ? -EPIPE : -EAGAIN;
	err = seccomp_notify_alloc(&req, &resp);
	if (err)
		return err;
	err = seccomp_notify_receive(listener, req);
	if (err)
		goto out;
	v->pid = (int32_t)req->pid;
	v->nr = req->data.nr;
	memcpy(v->args, req->data.args, sizeof(v->args));
	name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
	snprintf(v->name, sizeof(v->name), "%s", name ? name : "unknown");
	free(name);
	for (int i = 0; sb != NULL && i < sb->ndeny; i++)
		if (sb->deny[i].nr == v->nr && sb->deny[i].errno_ != 0)
			v->errno_ = errno_ = sb->deny[i].errno_;
	/* Kill before answering: once answered, the stage runs on and
	 * could exit on its own first, and its death must be ours.  The
	 * caller may be a process the stage started (an exec stage's
	 * command): it dies too.  It is blocked in the call, so its pid is
	 * still its own. */
	if (spare_pid > 0 && spare && v->errno_ == 0 && req->pid > 0) {
		/* The caller (a thread: its process, by a pidfd), checked
		 * while the notification is still pending: it is held in
		 * its call, so the ids /proc gave are its own.  Only the
		 * stage and what it started run under this filter: any
		 * caller but the stage itself is of its program's. */
		long tgid = status_field((pid_t)req->pid, "Tgid");
		int pfd = tgid > 0 && tgid != spare_pid
				  ? (int)syscall(SYS_pidfd_open, (pid_t)tgid, 0)
				  : -1;
		/* No longer in the call: a signal ended its wait (it goes
		 * on with EINTR, or tries again), or it died.  The call
		 * never ran, but the program's run still ends for trying
		 * it: the stage ends it (the run's processes are its own to
		 * kill; the ids read above may no longer be the caller's).
		 * The stage's own call ends the stage. */
		if (seccomp_notify_id_valid(listener, req->id) != 0) {
			if (tgid != spare_pid && spare(arg, v) == 0)
				v->spared = 1;
			else
				v->unspared = "it had left the call, and was "
					      "the stage or could not be told";
		} else if (tgid <= 0)
			v->unspared = "its caller's process was not found";
		else if (tgid == spare_pid)
			v->unspared = "the stage itself made the call";
		else if (pfd < 0)
			v->unspared = "pidfd_open on its caller failed";
		else if (spare(arg, v) != 0)
			v->unspared = "the stage could not be told";
		/* (Gone already, ESRCH: told, the stage may have ended
		 * its program's run first; the call never ran.) */
		else if (syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL,
				 0) != 0 && errno != ESRCH)
			v->unspared = "its caller could not be killed";
		else
			v->spared = 1;
		if (pfd >= 0)
			close(pfd);
	}
	if (!v->spared && kill_pidfd >= 0 && v->errno_ == 0) {
		syscall(SYS_pidfd_send_signal, kill_pidfd, SIGKILL, NULL, 0);
		if (req->pid > 0)
			kill((pid_t)req->pid, SIGKILL);
	}
	resp->id = req->id;
	resp->val = 0;
	resp->error = -errno_;
	resp->flags = 0;
	/* The answer fails when the stage died meanwhile (we may just have
	 * killed it; libseccomp reports that as -ECANCELED): the violation
	 * is known either way. */
	seccomp_notify_respond(listener, resp);
	err = 0;
out:
	seccomp_notify_free(req, resp);
	return err;
}
