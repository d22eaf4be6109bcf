/*
 * spawn.c - start a stage in its sandbox and watch its seccomp listener.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/sched.h>

#include "../stage/ringpipe.h"
#include "../stage/wiring.h"
#include "errout.h"
#include "spawn.h"

#define SEC 1000000000LL
#define HANDSHAKE_MS 10000

static void say(char *why, size_t len, const char *what, int err)
{
	snprintf(why, len, "%s: %s", what, strerror(err < 0 ? -err : err));
}

/*
 * A new process as fork() makes one, but with its pidfd from the same
 * call, and in a new PID namespace (as its pid 1) when newpid is set,
 * inside a new user namespace when newuser is (what an unprivileged
 * process needs for the PID namespace; the child maps its ids).
 * Only for a child that goes on to execve: the raw call skips glibc's
 * fork bookkeeping (the child's cached thread id is the parent's), which
 * the child must not rely on before it execs.  -1 with errno.
 */
static pid_t clone_stage(int newpid, int newuser, int *pidfd)
{
	struct clone_args ca;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PIDFD | (newpid ? CLONE_NEWPID : 0) |
		   (newuser ? CLONE_NEWUSER : 0);
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = SIGCHLD;
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

/* In the child: only the variables sb->env names stay in its
 * environment (RINGPIPE_STAGE is set after).  The strings stay where
 * they are; clearenv only drops the list. */
static void keep_env(const struct rp_sandbox *sb)
{
	char *kept[RP_SANDBOX_MAX_ENV];
	int n = 0;

	for (int i = 0; i < sb->nenv && i < RP_SANDBOX_MAX_ENV; i++) {
		char *v = getenv(sb->env[i]);
		if (v != NULL)
			kept[n++] = v - strlen(sb->env[i]) - 1;
	}
	clearenv();
	for (int i = 0; i < n; i++)
		putenv(kept[i]);
}

/* In the child of a program of one's own: no fd it did not make crosses
 * the execve (one that ringpipe's caller left open on a secret, say, read
 * before the program's library closes it), but 0-2 and the wiring's, let
 * through after this.  The built-ins may open what they were given
 * (/dev/fd/N) before their sandbox closes the rest. */
static int cloexec_inherited(void)
{
	struct rlimit rl;

	if (syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	for (rlim_t fd = 3; fd < rl.rlim_cur && fd < (1u << 20); fd++)
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
			return -1;
	return 0;
}

/* In the child: make the wiring's fds survive execve. */
static void keep_across_exec(const struct rp_wiring *w)
{
	const int fds[] = {w->in.p_fd,   w->in.c_fd,   w->out.p_fd,
			   w->out.c_fd,  w->cin.p_fd,  w->cin.c_fd,
			   w->cout.p_fd, w->cout.c_fd, w->bell, w->bell_efd,
			   w->in_bell_efd, w->out_bell_efd,
			   w->in_bell,   w->out_bell,  w->sup_bell,
			   w->sup_efd,   w->lifeline,  w->notify_sock,
			   w->filter};

	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFD, 0);
}

static void child(const struct rp_stage_spec *spec, struct rp_wiring *w,
		  pid_t parent, const uid_t *ids, struct rp_filter *filter,
		  const char *tmpdir)
{
	char env[RP_WIRING_MAX];

	/* Its stderr is plain fd 2, not the supervisor's queue. */
	rp_errout_child();
	/* Created in a user namespace of its own: keep our ids in it
	 * before anything else (until then it has none).  Its /proc/self
	 * files are its own to write only while it is dumpable, which the
	 * supervisor is not: for as short as that takes, since it still
	 * holds the supervisor's fds until execve. */
	if (ids != NULL) {
		int bad = prctl(PR_SET_DUMPABLE, 1) < 0 ||
			  rp_sandbox_map_ids(ids[0], (gid_t)ids[1]) != 0;
		prctl(PR_SET_DUMPABLE, 0);
		if (bad) {
			fprintf(stderr, "%s: sandbox: user namespace id map "
					"failed\n", w->name);
			_exit(RP_EXIT_SANDBOX);
		}
	}

	/* Die with the supervisor (the lifeline covers the gap before the
	 * sandbox sets this again after switching ids). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* In a namespace of its own, the parent is outside it: pid 0. */
	if (getppid() != (getpid() == 1 ? 0 : parent))
		_exit(RP_EXIT_SUPERVISOR);
	/* Its own session, without a controlling terminal: Ctrl-C goes to
	 * the supervisor, which cancels stages through their control rings,
	 * and no stage can reach the terminal (TIOCSTI and the like). */
	setsid();
	/* Only the first stage may read our stdin, only the last write our
	 * stdout (file-source -, file-sink -): the rest get /dev/null. */
	if (spec->null_stdin || spec->null_stdout) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul >= 0 && spec->null_stdin)
			dup2(nul, 0);
		if (nul >= 0 && spec->null_stdout)
			dup2(nul, 1);
		if (nul > 2)
			close(nul);
	}
	signal(SIGPIPE, SIG_DFL);
	/* The supervisor blocks the signals it reads through a signalfd;
	 * a stage starts with none blocked, so that a signal sent to it (an
	 * operator's kill) acts, and a program's own handlers run. */
	{
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	if (spec->stderr_fd >= 0)
		dup2(spec->stderr_fd, 2);
	if (spec->sandbox.env_set)
		keep_env(&spec->sandbox);
	/* Its own temporary directory, whatever the environment said. */
	if (tmpdir[0] != '\0' && setenv("TMPDIR", tmpdir, 1) != 0)
		_exit(2);
	/* Its filter, bound to its pid (this copy of the template is its
	 * own).  Without one, the stage builds its own. */
	if (filter != NULL) {
		int fd = rp_seccomp_bind(filter, getpid(), w->notify_sock);
		w->filter = fd >= 0 ? fd : -1;
	}
	if (rp_wiring_format(w, env, sizeof(env)) != 0)
		_exit(2);
	setenv("RINGPIPE_STAGE", env, 1);
	if (spec->main != NULL)
		_exit(spec->main(spec->arg));
	if (!spec->trusted && cloexec_inherited() != 0) {
		fprintf(stderr, "%s: sandbox: cannot close inherited fds: %s\n",
			w->name, strerror(errno));
		_exit(RP_EXIT_SANDBOX);
	}
	keep_across_exec(w);
	/* A stage program runs not one instruction as root or able to gain
	 * privileges; its library adds the rest before reading input. */
	if (!spec->trusted) {
		struct rp_sandbox_report rep;
		if (rp_sandbox_pre_exec(&spec->sandbox, &rep) != 0) {
			fprintf(stderr, "%s: sandbox: %s\n", w->name, rep.why);
			_exit(RP_EXIT_SANDBOX);
		}
	}
	execvp(spec->argv[0], spec->argv);
	/* (Its stderr's lines are stamped with its name.) */
	fprintf(stderr, "cannot run %s: %s\n", spec->argv[0],
		strerror(errno));
	_exit(127);
}

static int listener_is_seccomp(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	return strcmp(target, "anon_inode:seccomp notify") == 0;
}

/* /proc/PID/status says Seccomp: 2 (filter), or 3 (killed by it), and
 * NoNewPrivs: 1. */
static int filtered(pid_t pid)
{
	char path[64], line[256];
	int seccomp = 0, nnp = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		/* 2: a filter; 3 (SECCOMP_MODE_DEAD): its filter has
		 * killed it already - a stage whose first record after its
		 * hand-shake made a call through another ABI. */
		if (!strncmp(line, "Seccomp:", 8))
			seccomp = atoi(line + 8) == 2 || atoi(line + 8) == 3;
		else if (!strncmp(line, "NoNewPrivs:", 11))
			nnp = atoi(line + 11) == 1;
	}
	fclose(f);
	return seccomp && nnp;
}

/* A Landlock path that is not there is a mistake in the pipeline: named
 * here, before anything starts.  The stage looks again as its own uid
 * when it builds its ruleset. */
static int fs_paths_exist(const struct rp_sandbox *sb, char *why,
			  size_t whylen)
{
	const struct {
		const char *what;
		const char (*p)[RP_SANDBOX_PATH_MAX];
		int n;
	} lists[] = {{"fs_read", sb->fs_read, sb->nfs_read},
		     {"fs_write", sb->fs_write, sb->nfs_write}};
	struct stat st;

	for (size_t l = 0; l < sizeof(lists) / sizeof(*lists); l++)
		for (int i = 0; i < lists[l].n; i++)
			if (stat(lists[l].p[i], &st) < 0 &&
			    (errno == ENOENT || errno == ENOTDIR)) {
				snprintf(why, whylen, "landlock: %s path '%s' "
						      "does not exist",
					 lists[l].what, lists[l].p[i]);
				return -ENOENT;
			}
	return 0;
}

/* What only a restart knows, as the wiring (or a take-over) carries it. */
static void restart_facts(struct rp_wiring *w,
			  const struct rp_stage_spec *spec)
{
	w->has_seq = spec->has_seq;
	w->seq = spec->seq;
	w->after = spec->after;
	w->nskip = 0;
	for (unsigned i = 0; i < spec->nskip && i < RP_WIRING_MAX_SKIP; i++)
		w->skip[w->nskip++] = spec->skip[i];
	w->chaos_gen = spec->chaos_gen;
	w->incarnation = spec->incarnation;
}

/* The sandbox hand-shake: the stage sends its seccomp listener once its
 * sandbox is in force.  On failure the stage is killed and reaped (how
 * it ended in start_status). */
/* Until sock is readable (the hand-shake came, or the stage died): 0;
 * the stage died with its socket held open by a child of its own, so
 * that it never will be (-EPIPE); or timeout_ms passed (-ETIMEDOUT, at
 * once with 0). */
static int await(int sock, int pidfd, int timeout_ms)
{
	struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
			      {.fd = pidfd, .events = POLLIN}};
	int r;

	do
		r = poll(p, 2, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return p[0].revents ? 0 : -EPIPE;
}

/* err: what await said. */
static int handshake(struct rp_stage_proc *out, int sock, int err,
		     char *why, size_t whylen)
{
	int filter = out->sandbox.policy != RP_POLICY_NONE;

	if (err == 0)
		err = rp_sandbox_recv_listener(sock, 0, &out->listener);

	if (err == -ENOMSG && !filter)
		err = 0;
	/* Trust, but check what the kernel says: the fd must be a seccomp
	 * listener, and the stage must be under a filter with no new
	 * privileges. */
	if (!err && filter && !listener_is_seccomp(out->listener)) {
		snprintf(why, whylen, "the stage sent something that is not "
				      "a seccomp listener");
		err = -EBADMSG;
	} else if (!err && filter && !filtered(out->pid)) {
		snprintf(why, whylen, "the stage is not under a seccomp filter "
				      "with no_new_privs");
		err = -EPERM;
	} else if (err) {
		snprintf(why, whylen, "%s",
			 err == -EPIPE ? "the stage died before entering its "
					 "sandbox (see its stderr)"
			 : err == -ENOMSG ? "the stage ran without its seccomp "
					    "filter"
					  : "no sandbox hand-shake");
	}
	if (err) {
		rp_spawn_kill(out);
		out->start_status = rp_spawn_reap(out, 5000);
	}
	return err;
}

int rp_spawn_finish(struct rp_stage_proc *p, char *why, size_t whylen)
{
	int err;

	why[0] = '\0';
	if (p->go < 0 || p->pid <= 0)
		return -EINVAL;
	err = await(p->go, p->pidfd, 0);
	if (err == -ETIMEDOUT)
		return -EAGAIN; /* nothing to take yet */
	return handshake(p, p->go, err, why, whylen);
}

int rp_spawn_abandon(struct rp_stage_proc *p, char *why, size_t whylen)
{
	snprintf(why, whylen, "no sandbox hand-shake");
	rp_spawn_kill(p);
	p->start_status = rp_spawn_reap(p, 5000);
	if (p->go >= 0)
		close(p->go);
	p->go = -1;
	return -ETIMEDOUT;
}

void rp_filter_cache_init(struct rp_filter_cache *c)
{
	c->tmpl.insns = NULL;
	c->tmpl.len = c->tmpl.marks = c->tmpl.sock_marks = 0;
	c->crash = c->failed = 0;
}

void rp_filter_cache_close(struct rp_filter_cache *c)
{
	free(c->tmpl.insns);
	rp_filter_cache_init(c);
}

/*
 * The template of a stage's filter: as the cache holds it, or compiled
 * now.  Building one takes a third of a restart, and it is the same from
 * one start to the next (a standby's too) but for the pid and the socket,
 * which the child puts in.  NULL where it cannot be had: the stage then
 * builds its own, and says what fails.
 */
static struct rp_filter *filter_for(const struct rp_stage_spec *spec)
{
	struct rp_filter_cache *c = spec->filter;
	struct rp_sandbox sb;
	int crash = spec->crash_point != 0;

	if (c == NULL || spec->sandbox.policy == RP_POLICY_NONE)
		return NULL;
	if (c->crash == crash && (c->tmpl.insns != NULL || c->failed))
		return c->failed ? NULL : &c->tmpl;
	rp_filter_cache_close(c);
	sb = spec->sandbox;
	sb.notify_sock = 0; /* one there: the template marks its place */
	sb.self_signals_any = crash;
	sb.filter = NULL;
	c->crash = crash;
	/* Not tried again at each restart: it would fail the same way. */
	c->failed = rp_seccomp_compile(&sb, &c->tmpl) != 0;
	return c->failed ? NULL : &c->tmpl;
}

int rp_spawn(const struct rp_stage_spec *spec,
	     const struct rp_stage_links *links, struct rp_stage_proc *out,
	     char *why, size_t whylen)
{
	struct rp_wiring w;
	struct rp_filter *filter;
	int life[2] = {-1, -1}, sock[2] = {-1, -1}, err = 0, userns = 0;
	pid_t parent = getpid();
	uid_t ids[2] = {geteuid(), (uid_t)getegid()};

	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->pidfd = out->listener = out->lifeline = out->go = -1;
	out->cin.p_fd = out->cin.c_fd = out->cout.p_fd = out->cout.c_fd = -1;
	why[0] = '\0';
	if (!rp_wiring_valid_name(spec->name)) {
		snprintf(why, whylen, "bad stage name");
		return -EINVAL;
	}
	if ((err = fs_paths_exist(&spec->sandbox, why, whylen)))
		return err;
	rp_scratch_init(&out->scratch);
	snprintf(out->name, sizeof(out->name), "%s", spec->name);
	out->rings[0] = links->in;
	out->rings[1] = links->out;
	out->sandbox = spec->sandbox;
	rp_wiring_init(&w);
	snprintf(w.name, sizeof(w.name), "%s", spec->name);
	w.sandbox = spec->sandbox;
	restart_facts(&w, spec);
	w.crash_point = spec->crash_point;
	w.crash_n = spec->crash_n;
	w.standby = spec->standby;
	w.quarantine = spec->quarantine;
	w.end_n = spec->end_n;
	w.timed = spec->timed;
	w.lock_ms = spec->lock_ms;
	if (spec->scratch) {
		/* Its own TMPDIR, writable beneath. */
		err = rp_scratch_make(&out->scratch, spec->name,
				      spec->sandbox.uid, spec->sandbox.gid);
		if (err == 0)
			snprintf(w.sandbox.tmpdir, sizeof(w.sandbox.tmpdir),
				 "%s", out->scratch.path);
		else /* (a read-only /tmp fails no pipeline) */
			fprintf(stderr, "ringpipe: stage %s: no temporary "
					"directory of its own in %s (%s): its "
					"TMPDIR is left as it was\n",
				spec->name,
				rp_scratch_base_for(spec->sandbox.uid,
						    spec->sandbox.gid),
				strerror(-err));
		err = 0;
	}

	if (links->own_bell != NULL) {
		out->bell = links->own_bell;
	} else if ((err = rp_bell_create(0, &out->bell)) == 0) {
		out->own_bell = 1;
	}
	if (err ||
	    (err = rp_ctl_create(&out->cin)) ||
	    (err = rp_ctl_create(&out->cout)) ||
	    (err = rp_ctl_tx_open(&out->cin, links->sup_bell, out->bell,
				  &out->tx)) ||
	    (err = rp_ctl_rx_open(&out->cout, links->sup_bell, out->bell,
				  &out->rx))) {
		say(why, whylen, "control rings", err);
		goto fail;
	}
	/* Each side gets its own segment writable and the peer's only as
	 * a read-only reopen. */
	if ((err = rp_ring_fds_for_consumer(&out->cin, &w.cin)) ||
	    (err = rp_ring_fds_for_producer(&out->cout, &w.cout)) ||
	    (links->in && (err = rp_ring_fds_for_consumer(links->in, &w.in))) ||
	    (links->out &&
	     (err = rp_ring_fds_for_producer(links->out, &w.out)))) {
		say(why, whylen, "ring fds", err);
		goto fail;
	}
	w.bell = rp_bell_memfd(out->bell);
	w.bell_efd = rp_bell_eventfd(out->bell);
	w.in_bell = links->in ? rp_bell_memfd(links->in_bell) : -1;
	w.in_bell_efd = links->in ? rp_bell_eventfd(links->in_bell) : -1;
	w.out_bell = links->out ? rp_bell_memfd(links->out_bell) : -1;
	w.out_bell_efd = links->out ? rp_bell_eventfd(links->out_bell) : -1;
	w.sup_bell = rp_bell_memfd(links->sup_bell);
	w.sup_efd = rp_bell_eventfd(links->sup_bell);
	if (pipe2(life, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0) {
		err = -errno;
		say(why, whylen, "lifeline", err);
		goto fail;
	}
	w.lifeline = life[0];
	w.notify_sock = sock[1];
	filter = filter_for(spec);

	fflush(NULL);
	if (spec->own_pidns && spec->main == NULL &&
	    (spec->sandbox.namespaces & RP_SB_PIDNS)) {
		/* Where the kernel refuses, the stage tries for itself, and
		 * reports what it gets. */
		userns = geteuid() != 0;
		out->pid = clone_stage(1, userns, &out->pidfd);
		if (out->pid < 0) {
			/* The fork below makes no user namespace. */
			out->pidfd = -1;
			userns = 0;
		}
	} else {
		out->pid = -1;
		errno = ENOSYS;
	}
	if (out->pid < 0 && errno != EAGAIN && errno != ENOMEM)
		out->pid = fork();
	if (out->pid < 0) {
		err = -errno;
		say(why, whylen, "fork", err);
		goto fail;
	}
	if (out->pid == 0) {
		close(life[1]);
		close(sock[0]);
		child(spec, &w, parent, userns ? ids : NULL, filter,
		      out->scratch.path);
	}
	/* Parent: keep the lifeline's write end and our end of the socket;
	 * everything handed to the stage is the stage's now. */
	out->lifeline = life[1];
	life[1] = -1;
	/* The bells' memfds belong to the bells: close only the ring fds
	 * dup'ed for the child, its lifeline end and its socket end. */
	w.bell = w.bell_efd = w.in_bell = w.out_bell = -1;
	w.in_bell_efd = w.out_bell_efd = w.sup_bell = w.sup_efd = -1;
	rp_wiring_close_fds(&w);
	if (out->pidfd < 0)
		out->pidfd = (int)syscall(SYS_pidfd_open, out->pid, 0);
	if (out->pidfd < 0) {
		err = -errno;
		say(why, whylen, "pidfd_open", err);
		close(sock[0]);
		goto fail_child;
	}
	if (spec->standby || spec->defer_handshake) {
		/* Its hand-shake comes when it comes: the caller waits for
		 * out->go to be readable, then calls rp_spawn_finish. */
		out->go = sock[0];
		return 0;
	}
	err = handshake(out, sock[0],
			await(sock[0], out->pidfd, HANDSHAKE_MS),
			why, whylen);
	close(sock[0]);
	return err;

fail_child:
	if (out->pidfd >= 0)
		rp_spawn_kill(out);
	else
		kill(out->pid, SIGKILL); /* just forked: the pid is ours */
	/* Dead already (poll sees it), or killed now: how it ended. */
	out->start_status = rp_spawn_reap(out, 5000);
	return err;
fail:
	/* rp_wiring_close_fds would close the bells' memfds, which
	 * belong to the bells: only close what was dup'ed for the child. */
	w.bell = w.bell_efd = w.in_bell = w.out_bell = -1;
	w.in_bell_efd = w.out_bell_efd = w.sup_bell = w.sup_efd = -1;
	w.lifeline = w.notify_sock = -1;
	rp_wiring_close_fds(&w);
	for (int i = 0; i < 2; i++) {
		if (life[i] >= 0)
			close(life[i]);
		if (sock[i] >= 0)
			close(sock[i]);
	}
	rp_spawn_close(out);
	return err;
}

int rp_spawn_take_over(struct rp_stage_proc *p,
		       const struct rp_stage_spec *spec)
{
	struct rp_wiring w;
	char buf[RP_WIRING_TAKEOVER_MAX];
	int err;

	if (p->go < 0)
		return -EINVAL;
	rp_wiring_init(&w);
	restart_facts(&w, spec);
	err = rp_wiring_format_takeover(&w, buf, sizeof(buf));
	/* A datagram: all of it or nothing, and never a wait (the socket
	 * is empty, and a standby that died only refuses it). */
	if (!err) {
		ssize_t n = send(p->go, buf, strlen(buf),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			err = -errno;
		else if ((size_t)n != strlen(buf))
			err = -EPIPE;
	}
	close(p->go);
	p->go = -1;
	return err;
}

/* The stage is told its program is being killed for a denied syscall
 * before the kill, so the death it sees next is known for what it is. */
static int tell_denied(void *arg, const struct rp_violation *v)
{
	struct rp_stage_proc *p = arg;

	if (p->tx == NULL)
		return -EPIPE;
	return rp_ctl_send(p->tx, RP_CTL_DENIED, 0, (uint64_t)(uint32_t)v->nr,
			   0, 0, NULL, 0);
}

int rp_spawn_violation(struct rp_stage_proc *p, int spare_program,
		       struct rp_violation *v)
{
	if (p->listener < 0)
		return -EAGAIN;
	/* A violation ends the stage (or its program): killed before the
	 * call returns. */
	return rp_sandbox_take_violation(p->listener, &p->sandbox, p->pidfd,
					 spare_program ? p->pid : 0,
					 tell_denied, p, v);
}

uint64_t rp_spawn_current_record(const struct rp_stage_proc *p)
{
	return p->rx ? rp_ctl_status_read(p->rx, RP_CTL_WORD_CURRENT) : 0;
}

int rp_spawn_kill(struct rp_stage_proc *p)
{
	if (p->pidfd < 0)
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) < 0)
		return -errno;
	return 0;
}

int rp_spawn_reap(struct rp_stage_proc *p, int timeout_ms)
{
	siginfo_t si;
	int status = 0;

	if (p->pid <= 0)
		return -1;
	if (p->pidfd >= 0) {
		struct pollfd pf = {.fd = p->pidfd, .events = POLLIN};
		if (poll(&pf, 1, timeout_ms) == 0)
			rp_spawn_kill(p);
	}
	/* Dead and not yet reaped, its pid still its own: a replica's
	 * claims on the rings it shares are marked for the next locker
	 * (it may have attached before it failed to start). */
	while (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOWAIT) < 0 &&
	       errno == EINTR)
		;
	for (int i = 0; i < 2; i++)
		if (p->rings[i])
			rp_ring_mark_dead(p->rings[i], p->pid);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;
	/* Gone, and with it (its PID namespace's) whatever could still
	 * write in its temporary directory. */
	rp_spawn_scratch_remove(p);
	return status;
}

int rp_spawn_scratch_remove(struct rp_stage_proc *p)
{
	char path[RP_SCRATCH_PATH_MAX];
	int err;

	if (p->scratch.path[0] == '\0')
		return 0;
	snprintf(path, sizeof(path), "%s", p->scratch.path);
	if ((err = rp_scratch_remove(&p->scratch)) == -ETIMEDOUT)
		fprintf(stderr, "ringpipe: stage %s: its temporary directory "
				"%s is still being written after the stage "
				"ended (a process its program started lives "
				"on): left for a later run to remove\n",
			p->name, path);
	else if (err != 0)
		fprintf(stderr, "ringpipe: stage %s: its temporary directory "
				"%s was not removed entirely: %s\n",
			p->name, path, strerror(-err));
	return err;
}

void rp_spawn_close(struct rp_stage_proc *p)
{
	rp_ctl_tx_close(p->tx);
	rp_ctl_rx_close(p->rx);
	p->tx = NULL;
	p->rx = NULL;
	rp_ring_fds_close(&p->cin);
	rp_ring_fds_close(&p->cout);
	if (p->own_bell)
		rp_bell_close(p->bell);
	p->bell = NULL;
	p->own_bell = 0;
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->listener >= 0)
		close(p->listener);
	if (p->lifeline >= 0)
		close(p->lifeline);
	if (p->go >= 0)
		close(p->go);
	p->pidfd = p->listener = p->lifeline = p->go = -1;
	rp_spawn_scratch_remove(p);
}
