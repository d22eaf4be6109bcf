/*
 * builtin_exec.c - exec: an ordinary program as a stage.  Input records
 * go to its stdin through one pipe; its stdout comes back through another
 * and is cut into output records.
 *
 * Design note
 * -----------
 * The program is started after the stage has attached to its rings and
 * entered its sandbox, so it inherits the seccomp filter.  That is why
 * the stage runs under the exec policy: strict forbids fork and execve,
 * and a filter can only ever be tightened.  The program's violations go
 * to the same listener as the stage's, so the supervisor names them and
 * kills the stage, or only the program when the stage can narrow its
 * deaths down to a record (builtin_exec_hold.c); a program left over
 * dies with the stage (PR_SET_PDEATHSIG).  It
 * holds no ring fd (the child closes every fd above stderr before
 * execve) and no mapping (execve drops them).
 *
 * One poll waits for everything: the rings' doorbell, both pipes and a
 * signalfd for SIGCHLD.  The stage's ends of the pipes are non-blocking,
 * so neither direction holds up the other: a program that reads all of
 * its input before writing (sort) works as well as one that streams
 * (grep).  An emit may still wait for room in the output ring; the
 * consumer of that ring never waits for this stage's input, so such a
 * wait always ends (and it lets a cancel through).
 *
 * A stage that is not a source cannot start origins of its own: its
 * outputs carry the origin of the latest input record taken (a program's
 * output cannot be traced to the lines it came from anyway), and the
 * library holds each output back until the next one, the next input
 * record or the end.  So the loop tries for input whenever it wants
 * some, which also sends that output on; in the middle of an over-long
 * line it waits until input is really there, so that the line's pieces
 * keep one origin whenever they can.  With no input ring the stage runs
 * as a source: every output line is an origin of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "builtin.h"
#include "builtin_exec.h"
#include "sandbox.h"
#include "stage_int.h"
#include "wiring.h"

static void note_work(struct ex *x);

/* ------------------------------------------------------- the program */

/* In the child: give the program its pipes as stdin and stdout, nothing
 * else, and a normal signal state; never returns. */
void exec_child(char **argv, int in_r, int out_w, int exec_w, pid_t parent)
{
	sigset_t none;
	int a = -1, b = -1, e, efd = exec_w;

	/* Its own process group, so that a cancel kills whatever it
	 * started too. */
	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	/* The stage ignores SIGPIPE and blocks SIGCHLD (and inherited the
	 * supervisor's blocked SIGINT and SIGTERM): not the program's. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Out of the way of 0, 1 and EXEC_FD first, then onto them. */
	e = fcntl(exec_w, F_DUPFD_CLOEXEC, 10);
	if (in_r >= 0)
		a = fcntl(in_r, F_DUPFD, 10);
	if (out_w >= 0)
		b = fcntl(out_w, F_DUPFD, 10);
	if (e < 0 || (in_r >= 0 && a < 0) || (out_w >= 0 && b < 0) ||
	    (a >= 0 && dup2(a, STDIN_FILENO) < 0) ||
	    (b >= 0 && dup2(b, STDOUT_FILENO) < 0) ||
	    dup3(e, EXEC_FD, O_CLOEXEC) < 0)
		goto fail;
	efd = EXEC_FD;
	/* Everything else goes: rings' eventfds, the lifeline, ... */
	if (syscall(SYS_close_range, EXEC_FD + 1, ~0u, 0) < 0)
		goto fail;
	execvp(argv[0], argv);
fail:
	e = errno;
	if (write(efd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

int exec_start(struct ex *x, char **argv, int has_out)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, ex[2] = {-1, -1};
	int pidns = (rp_stage_layers(x->s) & RP_SB_PIDNS) != 0;
	pid_t parent = getpid();
	sigset_t chld;
	int err = 0;

	/* Started in its namespace (clone3), this stage is its init and
	 * the program's parent.  Else (it unshared one) its first child is
	 * init, the keeper (builtin_exec_keeper.c), and the program is
	 * forked into the namespace next to it. */
	x->init = pidns && parent == 1;
	/* No namespace to end what a run leaves behind: it comes to this
	 * stage instead, to be killed (exec_orphans_sweep). */
	if (!pidns && !x->no_ns && prctl(PR_SET_CHILD_SUBREAPER, 1) == 0)
		x->no_ns = 1;
	pidns = pidns && !x->init;
	/* Denials and timeouts told before this run are not this run's. */
	if (x->s) {
		uint64_t seen;
		x->denials = rp_stage_denials(x->s);
		x->timeouts = rp_stage_timeouts(x->s, &seen);
	}
	x->denied = x->timed_out = 0;
	x->grace = 0;
	x->bump = 0;
	x->ending = 0;
	x->progress = ++x->runs << RUN_SHIFT;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0 ||
	    (x->sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    pipe2(ex, O_CLOEXEC) < 0 ||
	    (!x->source && pipe2(in, O_CLOEXEC) < 0) ||
	    (has_out && pipe2(out, O_CLOEXEC) < 0)) {
		err = -errno;
		goto out;
	}
	/* Only the stage's ends: the program gets ordinary pipes. */
	if ((in[1] >= 0 && (err = nonblock(in[1]))) ||
	    (out[0] >= 0 && (err = nonblock(out[0]))) ||
	    (err = nonblock(ex[0])))
		goto out;
	/* The namespace ends with its keeper: one that is gone cannot be
	 * replaced (fork fails: the stage fails, and its restart makes a
	 * new namespace). */
	if (pidns && x->keeper > 0 && !exec_keeper_alive(x))
		exec_keeper_stop(x);
	if (pidns && x->keeper < 0 &&
	    (err = x->runs == 1 ? exec_keeper_start(x) : -ESRCH)) {
		if (err == -ESRCH)
			fprintf(stderr, EXEC_SAYS "its PID namespace has ended (its "
					"init, the keeper, is gone): no more "
					"runs of %s in it\n", x->cmd);
		goto out;
	}
	fflush(NULL);
	x->pid = fork();
	if (x->pid < 0) {
		err = -errno;
		goto out;
	}
	/* In the namespace, its parent (this stage) is outside it. */
	if (x->pid == 0)
		exec_child(argv, in[0], out[1], ex[1], pidns ? 0 : parent);
	/* The parent too, so a kill of the group cannot miss it. */
	setpgid(x->pid, x->pid);
	x->to_fd = in[1];
	x->from_fd = out[0];
	x->exec_fd = ex[0];
	in[1] = out[0] = ex[0] = -1;
	/* The new run's word, at once: the last one's must not stand. */
	if (x->s && !x->source)
		note_work(x);
out:
	if (err)
		fprintf(stderr, EXEC_SAYS "starting %s: %s\n", x->cmd,
			strerror(-err));
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (ex[i] >= 0)
			close(ex[i]);
	}
	return err;
}

/* How much of its input the program has read: what is left in its
 * stdin pipe it never saw (once the pipe is closed there is no more to
 * learn: it is read once more just before). */
static void read_upto(struct ex *x)
{
	int unread = 0;

	if (x->alone || x->source || x->to_fd < 0 ||
	    ioctl(x->to_fd, FIONREAD, &unread) < 0)
		return;
	if (unread < 0 || (uint64_t)unread > x->fed)
		unread = 0;
	if (x->fed - (uint64_t)unread > x->taken)
		x->taken = x->fed - (uint64_t)unread;
}

/* Whatever the program left running must not outlive it: as the
 * namespace's init, everything else in the namespace (pid 1 is spared by
 * kill(-1)); otherwise its process group grp (a background job), and the
 * keeper the rest of its namespace. */
static void end_leftovers(struct ex *x, pid_t grp)
{
	kill(x->init ? -1 : -grp, SIGKILL);
	exec_keeper_clean(x);
	if (x->no_ns)
		exec_orphans_sweep(x);
}

/* The program (or the init it runs under) was reaped. */
static void ended(struct ex *x)
{
	pid_t grp = x->pid;
	int e;

	/* What it had read when it died, while its pipe still says. */
	read_upto(x);
	x->pid = -1; /* reaped */
	/* A line it left unterminated on stderr ends with it: the next
	 * run's (or our own message) starts a line of its own. */
	if (write(STDERR_FILENO, RP_STDERR_MARK_S, 1) < 0) {
		/* nobody to tell */
	}
	/* (Asked to end, what it started has its grace too: kill_cmd
	 * ends it after.) */
	if (!x->asked)
		end_leftovers(x, grp);
	/* Its exec failed if it said so before it ended. */
	if (read(x->exec_fd, &e, sizeof(e)) == (ssize_t)sizeof(e))
		x->exec_errno = e;
	/* Killed for its timeout, unless it died of something else
	 * first. */
	if (!WIFSIGNALED(x->status) || WTERMSIG(x->status) != SIGKILL)
		x->timed_out = 0;
}

/* Reap the program if it ended (or, with block, once it has). */
static void reap(struct ex *x, int block)
{
	struct signalfd_siginfo si;
	pid_t r;
	int st;

	while (read(x->sig_fd, &si, sizeof(si)) > 0)
		;
	if (x->init || x->no_ns) {
		/* pid 1, or a child subreaper: every orphan is ours to reap
		 * (as it ends: zombies must not pile up while a run
		 * lasts). */
		for (;;) {
			r = waitpid(-1, &st, block && x->pid > 0 ? 0 : WNOHANG);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			if (r == x->pid) {
				x->status = st;
				ended(x);
			}
		}
		return;
	}
	if (x->pid <= 0)
		return;
	do
		r = waitpid(x->pid, &x->status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == x->pid || (r < 0 && errno == ECHILD))
		ended(x);
}

/* End the program's run: it and whatever it started (what left its
 * process group goes once it is reaped: ended). */
static void kill_run(struct ex *x)
{
	if (x->pid <= 0)
		return;
	x->killed = 1;
	kill(x->init ? -1 : -x->pid, SIGKILL);
	kill(x->pid, SIGKILL);
}

/* How long a program asked to end (SIGTERM) has before it is made to. */
#define TERM_GRACE_MS 500

/* End the program and whatever it started, and reap it: asked first, as
 * a shell pipeline's end asks (its reader gone, Ctrl-C), so that one
 * that cleans up after itself - sort's temporary files - gets to;
 * SIGKILL after TERM_GRACE_MS.  (A timeout, a denied syscall or a death
 * narrowed down ends a run with kill_run at once.) */
static void kill_cmd(struct ex *x)
{
	int64_t end = rp_now_ns() + (int64_t)TERM_GRACE_MS * 1000000;
	pid_t grp = x->pid, all = x->init ? -1 : -grp;

	if (x->pid <= 0)
		return;
	x->killed = 1;
	kill(all, SIGTERM);
	kill(x->pid, SIGTERM);
	/* Until the program and what it started in its group (or
	 * namespace) are gone, or the grace is up: sort under a shell
	 * cleans up after the shell has ended. */
	x->asked = 1;
	for (;;) {
		struct pollfd pf = {.fd = x->sig_fd, .events = POLLIN};
		int64_t left = (end - rp_now_ns()) / 1000000;
		reap(x, 0);
		if ((x->pid <= 0 && kill(all, 0) != 0) || left <= 0)
			break;
		/* (What is not its child raises no SIGCHLD: looked at
		 * again every 10 ms.) */
		if (poll(&pf, 1, left < 10 ? (int)left : 10) < 0 &&
		    errno != EINTR)
			break;
	}
	x->asked = 0;
	if (x->pid > 0) {
		kill_run(x);
		reap(x, 1);
	} else {
		end_leftovers(x, grp);
	}
}

/* Is stdout a pipe or socket nobody reads any more? */
static int stdout_unread(void)
{
	struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

int exec_reader_gone(struct ex *x)
{
	if (x->max != 0 || !WIFSIGNALED(x->status) ||
	    WTERMSIG(x->status) != SIGPIPE || !stdout_unread())
		return 0;
	fprintf(stderr, EXEC_NOTES "%s: its reader is gone: "
			"ending early\n",
		x->cmd);
	return 1;
}

/* execvp's EACCES for a name looked up in PATH may only mean that a
 * directory on it could not be searched (root's own, for a stage that
 * runs as nobody) while the program is nowhere: said so, naming it. */
static void path_hint(const char *cmd, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	char dir[PATH_MAX], file[PATH_MAX + 256];
	struct stat st;
	int found = 0;

	buf[0] = '\0';
	if (strchr(cmd, '/') == NULL && path == NULL)
		snprintf(buf, len, " (the stage's environment has no PATH: "
			 "its sandbox's env: list leaves it out, or ringpipe "
			 "had none; /bin and /usr/bin were searched)");
	if (strchr(cmd, '/') != NULL || path == NULL)
		return;
	for (p = path; !found && *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		snprintf(dir, sizeof(dir), "%.*s", (int)(end - p), p);
		snprintf(file, sizeof(file), "%s/%s", dir[0] ? dir : ".", cmd);
		if (stat(file, &st) == 0)
			found = 1;
		else if (errno == EACCES && buf[0] == '\0')
			snprintf(buf, len, " (not found where it could look: "
				 "%.200s cannot be searched)", dir);
	}
	if (found)
		buf[0] = '\0';
}

/* For a check: can CMD be run, as execvp would look for it?  Said when
 * not. */
static int exec_findable(const char *cmd)
{
	const char *path = getenv("PATH"), *p, *end;
	char file[4096];

	if (strchr(cmd, '/') != NULL) {
		if (access(cmd, X_OK) == 0)
			return 1;
		fprintf(stderr, EXEC_SAYS "%s: %s%s\n", cmd, strerror(errno),
			errno == EACCES ? " (for the user stages run as)" : "");
		return 0;
	}
	if (path == NULL || *path == '\0')
		path = "/bin:/usr/bin"; /* (execvp's, without a PATH) */
	for (p = path;; p = end + 1) {
		end = strchrnul(p, ':');
		snprintf(file, sizeof(file), "%.*s/%s", (int)(end - p),
			 end > p ? p : ".", cmd);
		if (access(file, X_OK) == 0)
			return 1;
		if (*end == '\0')
			break;
	}
	{
		char hint[300] = "";
		path_hint(cmd, hint, sizeof(hint));
		/* exec --each @replicas=3 -- sed: the setting came after
		 * the stage's own words, so it is the command. */
		if (cmd[0] == '@' && strchr(cmd, '=') != NULL)
			snprintf(hint, sizeof(hint), " (a setting goes right "
				 "after the stage's name, before its own "
				 "words: exec @KEY=VALUE --each -- CMD)");
		fprintf(stderr, EXEC_SAYS "%s: not found in PATH%s\n", cmd,
			hint);
	}
	return 0;
}

/* An exec of CMD that failed so (not found, not executable, not a
 * program), not for want of memory or descriptors, fails again. */
static int exec_fails_for_good(int e)
{
	return e != 0 && e != ENOMEM && e != EAGAIN && e != EMFILE &&
	       e != ENFILE && e != ETXTBSY && e != EINTR;
}

/* --ok-exit or --reject-exit (opt) LIST: exit statuses 1-255,
 * comma-separated, into the bitmap.  0, or the usage error's code. */
static int parse_exit_list(const struct builtin *b, const char *opt,
			   const char *v, uint8_t *ok)
{
	if (v == NULL || *v == '\0')
		return builtin_usage(b, "%s needs exit statuses (1-255, "
					"comma-separated)", opt);
	while (*v) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (end == v || n < 1 || n > 255 || (*end && *end != ',') ||
		    (*end == ',' && end[1] == '\0'))
			return builtin_usage(b, "%s '%s': exit statuses "
						"1-255, comma-separated", opt, v);
		ok[n / 8] |= (uint8_t)(1u << (n % 8));
		v = *end ? end + 1 : end;
	}
	return 0;
}

int exec_rejected(const struct ex *x)
{
	int st;

	if (x->exec_errno || !WIFEXITED(x->status))
		return 0;
	st = WEXITSTATUS(x->status);
	return st != 0 && (x->reject_exit[st / 8] & 1u << (st % 8)) ? st : 0;
}

/* How long a program killed by a stop signal from outside waits for
 * the cancel that signal brings. */
#define STOP_WAIT_NS (1000 * 1000000LL)

/* Does the run's cancel come (a signal that stops a whole service or
 * tree reaches the supervisor too: systemd's control-group stop sends
 * SIGTERM to every process at once, a terminal's Ctrl-C the whole
 * group)?  Waited for a while; once such a signal came with no cancel
 * (a program that sends it itself, again as its runs are fed its record
 * once more), for STOP_AGAIN_NS only, still long enough for a service's
 * stop then to be told from it.  judging: a death by such a signal that
 * we did not send (only those count as one that came alone). */
#define STOP_AGAIN_NS (100 * 1000000LL)
static int cancel_comes(struct ex *x, int judging)
{
	int64_t end = rp_now_ns() + (x->no_cancel ? STOP_AGAIN_NS
						  : STOP_WAIT_NS),
		left;

	if (x->s == NULL)
		return 1;
	while (rp_stage_control(x->s, NULL) == 0) {
		if ((left = end - rp_now_ns()) <= 0) {
			x->no_cancel |= judging;
			return 0;
		}
		int r = rp_stage_wait(x->s, RP_WAIT_CONTROL, left);
		if (r < 0 && r != -ETIMEDOUT && r != -EINTR)
			return 1; /* -EPIPE: no supervisor, the run ends */
	}
	return 1;
}

int exec_stop_own(struct ex *x)
{
	if (x->asked || x->killed || x->timed_out || x->denied)
		return 0; /* (ours, or the supervisor's SIGKILL) */
	if (x->stop_judged == 0)
		x->stop_judged = cancel_comes(x, 1) ? 1 : 2;
	return x->stop_judged == 2;
}

/* The program was killed, not by us, by a signal that stops a whole
 * service or tree: is the run being cancelled for it?  Without a
 * cancel, the program sent it itself (or an operator to it alone):
 * its own doing, as a SIGKILL from nobody here is. */
static int stopped_with_run(struct ex *x)
{
	int sig = WIFSIGNALED(x->status) ? WTERMSIG(x->status) : 0;

	if (x->asked || x->timed_out || x->denied ||
	    (sig != SIGTERM && sig != SIGINT && sig != SIGHUP &&
	     sig != SIGQUIT))
		return 0;
	if (x->killed) /* our SIGTERM: for the cancel, if it comes */
		return cancel_comes(x, 0);
	return !exec_stop_own(x);
}

/* How the program ended: 0 if it exited 0, else said and -errno
 * (-ECANCELED: killed by the signal the run is being cancelled for). */
static int verdict(struct ex *x)
{
	if (x->exec_errno) {
		char hint[300] = "";
		if (x->exec_errno == EACCES)
			path_hint(x->cmd, hint, sizeof(hint));
		fprintf(stderr, EXEC_SAYS "cannot run %s: %s%s\n", x->cmd,
			strerror(x->exec_errno), hint);
		return -x->exec_errno;
	}
	if (WIFEXITED(x->status) &&
	    (WEXITSTATUS(x->status) == 0 ||
	     (x->ok_exit[WEXITSTATUS(x->status) / 8] &
	      1u << (WEXITSTATUS(x->status) % 8))))
		return 0;
	if (x->alone)
		return -EIO; /* judged by the caller */
	/* The last stage, writing to stdout, whose reader went away
	 * (`ringpipe ... | head -1`): it ends early, as file-sink does
	 * there, and as the shell's pipeline would. */
	if (exec_reader_gone(x))
		return 0;
	if (stopped_with_run(x))
		return -ECANCELED;
	if (WIFEXITED(x->status))
		fprintf(stderr, EXEC_SAYS "%s exited with status %d%s\n",
			x->cmd, WEXITSTATUS(x->status),
			exec_rejected(x) ? " (a --reject-exit status: it "
					   "rejected a record)"
					 : "");
	else if (x->timed_out == 2)
		fprintf(stderr, EXEC_SAYS "%s was killed for going silent past "
				"end_timeout_ms after its input ended\n",
			x->cmd);
	else if (x->timed_out)
		fprintf(stderr, EXEC_SAYS "%s was killed for working past the "
				"per-record timeout\n", x->cmd);
	else
		fprintf(stderr, EXEC_SAYS "%s was killed by signal %d (%s)\n",
			x->cmd, WTERMSIG(x->status),
			strsignal(WTERMSIG(x->status)));
	return -EIO;
}

/* ------------------------------------------------------------- input */

static int mid_line(const struct ex *x)
{
	/* linebuf sends a full piece on only once more of its line
	 * follows: pieces are out iff more than max bytes were seen. */
	return x->mode == M_LINES && x->line_len > x->max;
}

/* Room for n more bytes at the end of wbuf. */
int exec_wbuf_room(struct ex *x, size_t n)
{
	if (x->woff > 0) {
		memmove(x->wbuf, x->wbuf + x->woff, x->wlen - x->woff);
		x->wlen -= x->woff;
		x->woff = 0;
	}
	if (x->wlen + n > x->wcap) {
		size_t cap = x->wcap ? x->wcap : WRITE_HIGH;
		char *p;
		while (cap < x->wlen + n)
			cap *= 2;
		p = realloc(x->wbuf, cap);
		if (p == NULL) {
			fprintf(stderr, EXEC_SAYS "out of memory\n");
			return -ENOMEM;
		}
		x->wbuf = p;
		x->wcap = cap;
	}
	return 0;
}

/* Record r as the program reads it, at the end of wbuf (room for its
 * length + 5 bytes made): where it ends. */
char *exec_put_record(struct ex *x, const struct rp_record *r)
{
	/* A block of lines carries its newlines; a piece of a line is
	 * followed by the rest of it. */
	int nl = x->mode == M_LINES && builtin_line_ends(r->type);
	char *p = x->wbuf + x->wlen;

	if (x->mode == M_RECORDS) {
		for (int i = 0; i < 4; i++)
			*p++ = (char)(r->len >> (8 * i));
	}
	memcpy(p, r->data, r->len);
	p += r->len;
	if (nl)
		*p++ = '\n';
	return p;
}

/* One input record as the program reads it. */
static int append(struct ex *x, const struct rp_record *r)
{
	int nl = x->mode == M_LINES && builtin_line_ends(r->type);
	char *p;
	int err;

	if ((err = exec_wbuf_room(x, (size_t)r->len + 4 + 1)))
		return err;
	p = exec_put_record(x, r);
	x->last_seq = rp_stage_input_seq(x->s);
	if (x->h && (err = exec_hold_push(x, x->last_seq, x->wbuf + x->wlen,
				     (size_t)(p - (x->wbuf + x->wlen)),
				     x->mode == M_RECORDS || nl ||
					     r->type == BUILTIN_T_LINES)))
		return err;
	x->appended += (uint64_t)(p - (x->wbuf + x->wlen));
	x->wlen = (size_t)(p - x->wbuf);
	if (x->qlen == UNREAD_MAX) {
		/* Full (many short records in the pipe): the newest entry
		 * grows to cover this record too.  Only the record named
		 * for a timeout that far back gets less precise; input is
		 * never held back for it. */
		x->q[(x->qhead + x->qlen - 1) % UNREAD_MAX].end = x->appended;
		return 0;
	}
	x->q[(x->qhead + x->qlen) % UNREAD_MAX] =
		(struct unread){x->appended, x->last_seq};
	x->qlen++;
	return 0;
}

static int want_input(const struct ex *x)
{
	return !x->in_done && x->to_fd >= 0 && x->wlen - x->woff < WRITE_HIGH &&
	       !exec_hold_full(x);
}

/* Take input records while there is room for them.  Also what sends the
 * latest output on (see the design note). */
static int take_input(struct ex *x, int draining)
{
	struct rp_record r;
	int err, took = 0;

	while (want_input(x)) {
		err = rp_stage_peek(x->s, &r);
		if (err == -EAGAIN) {
			/* A drain ends the input where it stands. */
			if (draining)
				x->in_done = 1;
			break;
		}
		if (err == -ENODATA) {
			x->in_done = x->in_eof = 1;
			break;
		}
		if (err)
			return err;
		took = 1;
		if (x->skip_line) {
			/* The rest of a line whose start a run before
			 * this one had: no line for its program. */
			x->skipped += r.len;
			if (r.type == BUILTIN_T_PIECE)
				continue;
			x->skip_line = 0;
			fprintf(stderr, EXEC_NOTES "restarted inside a line "
					"whose start it had let go: the rest "
					"of it (%llu bytes) dropped\n",
				(unsigned long long)x->skipped);
			continue;
		}
		if ((err = append(x, &r)))
			return err;
	}
	/* Copied out: the records go back to the ring (after the outputs
	 * so far are published), but for those held back.  (Replays the
	 * library dropped moved its position too: the bound again.) */
	if (took)
		exec_hold_trim(x);
	return took ? rp_stage_release(x->s) : 0;
}

static void close_stdin(struct ex *x)
{
	read_upto(x);
	if (x->to_fd >= 0)
		close(x->to_fd);
	x->to_fd = -1;
	x->woff = x->wlen = 0;
	x->qlen = 0; /* what it had not read, it never will */
}

static int write_stdin(struct ex *x)
{
	while (x->to_fd >= 0 && x->woff < x->wlen) {
		ssize_t n = write(x->to_fd, x->wbuf + x->woff,
				  x->wlen - x->woff);
		if (n >= 0) {
			x->woff += (size_t)n;
			x->fed += (uint64_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		if (errno == EPIPE) {
			/* It stopped reading (like head): its input is no
			 * longer wanted, as in a shell pipeline. */
			close_stdin(x);
			x->in_done = 1;
			break;
		}
		fprintf(stderr, EXEC_SAYS "writing to %s: %s\n", x->cmd,
			strerror(errno));
		return -errno;
	}
	if (x->woff == x->wlen)
		x->woff = x->wlen = 0;
	return 0;
}

/* ------------------------------------------------------------ output */

static int emit_line(void *arg, const void *buf, uint32_t len, int first,
		     int last, int unterminated)
{
	struct ex *x = arg;
	int err;

	/* A source starts an origin per line; the pieces of a line share
	 * it, and the last one ends it at once. */
	if (x->source && !first)
		rp_emit_same_origin(x->s);
	err = rp_emit(x->s, buf, len);
	if (err == 0 && unterminated)
		err = rp_emit_type(x->s, BUILTIN_T_UNTERMINATED);
	if (err == 0 && !last)
		err = rp_emit_type(x->s, BUILTIN_T_PIECE);
	if (err == 0 && x->source && last)
		err = rp_emit_end_origin(x->s);
	return err;
}

static int frames(struct ex *x, const char *p, size_t n)
{
	while (n > 0) {
		size_t take;
		int err;
		if (x->hdr_have < 4) {
			x->hdr[x->hdr_have++] = (unsigned char)*p++;
			n--;
			if (x->hdr_have < 4)
				continue;
			x->frame_len = (uint32_t)x->hdr[0] |
				       (uint32_t)x->hdr[1] << 8 |
				       (uint32_t)x->hdr[2] << 16 |
				       (uint32_t)x->hdr[3] << 24;
			x->frame_have = 0;
			if (x->frame_len > x->max) {
				fprintf(stderr, EXEC_SAYS "%s wrote a frame of "
						"%u bytes; the output takes "
						"%u at most\n",
					x->cmd, x->frame_len, x->max);
				return -EMSGSIZE;
			}
		}
		take = x->frame_len - x->frame_have;
		if (take > n)
			take = n;
		memcpy(x->frame + x->frame_have, p, take);
		x->frame_have += (uint32_t)take;
		p += take;
		n -= take;
		if (x->frame_have == x->frame_len) {
			x->hdr_have = 0;
			if ((err = rp_emit(x->s, x->frame, x->frame_len)))
				return err;
			if (x->source && (err = rp_emit_end_origin(x->s)))
				return err;
		}
	}
	return 0;
}

int exec_output(struct ex *x, const char *p, size_t n)
{
	const char *nl;

	switch (x->mode) {
	case M_CHUNKS: {
		int err = rp_emit(x->s, p, (uint32_t)n);
		if (err == 0 && x->source)
			err = rp_emit_end_origin(x->s);
		return err;
	}
	case M_RECORDS:
		return frames(x, p, n);
	case M_LINES:
		nl = memrchr(p, '\n', n);
		x->line_len = nl ? (uint64_t)(p + n - nl - 1) : x->line_len + n;
		return linebuf_feed(x->lb, p, n);
	}
	return -EINVAL;
}

/* Its stdout ended: what is left of a line goes out unterminated; a
 * frame cut short is an error. */
int exec_output_end(struct ex *x)
{
	if (x->from_fd >= 0)
		close(x->from_fd);
	x->from_fd = -1;
	if (x->mode == M_LINES) {
		x->line_len = 0;
		return linebuf_end(x->lb);
	}
	if (x->mode == M_RECORDS && x->hdr_have > 0) {
		fprintf(stderr, EXEC_SAYS "%s ended its output inside a frame "
				"(%u of %u bytes)\n", x->cmd,
			x->hdr_have < 4 ? x->hdr_have : x->frame_have + 4,
			x->hdr_have < 4 ? 4 : x->frame_len + 4);
		return -EPROTO;
	}
	return 0;
}

/* Fed one record alone: what it writes waits until it has survived. */
static int keep_output(struct ex *x, const char *p, size_t n)
{
	/* --each: one record's output, bounded.  Past the bound the run is
	 * ended as one past a file size limit: its own doing, on the
	 * record (exec_each_record). */
	if (x->alone == EACH_RUN && x->olen + n > EACH_OUT_MAX) {
		if (!x->too_much) {
			x->too_much = 1;
			kill_run(x);
		}
		return 0;
	}
	if (x->olen + n > x->ocap) {
		size_t cap = x->ocap ? x->ocap : READ_BUF;
		char *q;
		while (cap < x->olen + n)
			cap *= 2;
		if ((q = realloc(x->obuf, cap)) == NULL) {
			fprintf(stderr, EXEC_SAYS "out of memory\n");
			return -ENOMEM;
		}
		x->obuf = q;
		x->ocap = cap;
	}
	memcpy(x->obuf + x->olen, p, n);
	x->olen += n;
	return 0;
}

/* Read what its stdout has, up to READ_TURN bytes. */
static int read_stdout(struct ex *x)
{
	size_t done = 0;

	while (x->from_fd >= 0 && done < READ_TURN) {
		size_t want = x->mode == M_CHUNKS ? x->chunk : READ_BUF;
		ssize_t n = read(x->from_fd, x->rbuf, want);
		int err;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fprintf(stderr, EXEC_SAYS "reading from %s: %s\n", x->cmd,
				strerror(errno));
			return -errno;
		}
		if (n == 0 && (x->alone || x->h != NULL)) {
			close(x->from_fd);
			x->from_fd = -1;
			x->oeof = x->alone;
			x->eof_pending = !x->alone;
			return 0;
		}
		if (n == 0)
			return exec_output_end(x);
		x->out_bytes += (uint64_t)n;
		if (x->alone)
			err = keep_output(x, x->rbuf, (size_t)n);
		else
			err = exec_output(x, x->rbuf, (size_t)n);
		if (err)
			return err;
		done += (size_t)n;
	}
	return 0;
}

/* ----------------------------------------------------------- the loop */

/*
 * Does the program still have input it has not read, with the input at
 * its end?  Then its stdin stays open until it has (checked every
 * LINGER_MS), so that its unread input stays in sight of note_work: a
 * program that hangs on the last records is then timed like one that
 * hangs on any other.  It makes no difference to the program, whose
 * read returns 0 only after the last byte either way.  One that closed
 * its stdin without reading the rest (no reader left) gets it closed at
 * once, and so does one that ended.
 */
static int unread_input(struct ex *x)
{
	struct pollfd p = {.fd = x->to_fd, .events = 0};
	int unread = 0;

	if (x->source || ioctl(x->to_fd, FIONREAD, &unread) < 0 ||
	    unread <= 0)
		return 0;
	return !(poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)));
}

/* Does the stage's sandbox deny listing a directory, or reading at an
 * offset (a poll's descriptors, in its program's memory)?  The adapter's
 * own call would then be denied (killed, or reported as the program's),
 * so the program's threads are not looked at. */
static int denies_dirs(const struct rp_sandbox *sb)
{
	for (int i = 0; i < sb->ndeny; i++)
		if (sb->deny[i].nr == SYS_getdents64 ||
		    sb->deny[i].nr == SYS_pread64)
			return 1;
	return 0;
}

/* Where the CPU time an idle program's readers use is counted from, and
 * whether they sleep away from their input. */
static void idle_sample(struct ex *x)
{
	x->ncpu = exec_cpu_sample(x->to_fd, x->cpu, EXEC_CPU_MAX,
				  x->no_dirs ? NULL : &x->sleep);
	x->cpu_at = rp_now_ns();
}

/* Was the program stuck on the last input it read, not waiting for more?
 * Its readers used the CPU for half the time since the sample (two clock
 * ticks at least), or they slept where no input wakes them then and
 * still do, not woken once (a sleep, a deadlock). */
static int idle_stuck(struct ex *x)
{
	static struct exec_sleep sl; /* 6 KiB: off the stack */
	struct exec_cpu now[EXEC_CPU_MAX];
	int64_t wall = rp_now_ns() - x->cpu_at;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t ticks;
	int n;

	if (x->ncpu <= 0 || hz <= 0 || wall <= 0 ||
	    (n = exec_cpu_sample(x->to_fd, now, EXEC_CPU_MAX,
				 x->no_dirs ? NULL : &sl)) <= 0)
		return 0;
	if (!x->no_dirs && exec_sleep_same(&x->sleep, &sl))
		return 1;
	ticks = exec_cpu_since(x->cpu, x->ncpu, now, n);
	return ticks >= 2 && (double)ticks / (double)hz * 2e9 >= (double)wall;
}

/*
 * What the program is working on, for the per-record timeout.  Which
 * record it is busy with cannot be known, but whether it is stuck can:
 * it holds input it has not read (bytes in its stdin pipe), and neither
 * reads more nor writes anything.  The record named is the oldest one
 * whose bytes it has not all read; any byte it reads or writes starts
 * the time again.  A program that has read all it was given is waiting
 * for more, not working; nor is one blocked by a full output ring,
 * since this stage then waits in rp_emit, which counts as waiting.
 */
static void note_work(struct ex *x)
{
	int unread = 0, working, ending, idle;
	uint64_t taken, cur;

	if (x->source)
		return;
	if (x->to_fd >= 0 && ioctl(x->to_fd, FIONREAD, &unread) < 0)
		unread = 0;
	if (unread < 0 || (uint64_t)unread > x->fed)
		unread = 0;
	taken = x->fed - (uint64_t)unread;
	/* Held input it has read (its pipe open: otherwise it is known
	 * from before the close) need not all stay held. */
	if (!x->alone && x->to_fd >= 0 && taken > x->taken) {
		x->taken = taken;
		exec_hold_trim(x);
	}
	while (x->qlen > 0 && x->q[x->qhead].end <= taken) {
		x->qhead = (x->qhead + 1) % UNREAD_MAX;
		x->qlen--;
	}
	cur = x->qlen ? x->q[x->qhead].seq + 1 : x->last_seq + 1;
	working = x->qlen > 0 && unread > 0;
	/* Its input all read and its stdin closed (the stream): silence
	 * from here on is timed as work on its last record, and judged
	 * against end_n timeouts (check_timeout).  Held input is needed to
	 * narrow it down, and an output ring to see it write (without one
	 * it writes to the stage's stdout): else nothing is timed. */
	ending = !x->alone && x->end_n > 0 && x->h != NULL && x->in_done &&
		 x->to_fd < 0 && x->pid > 0 && x->appended > 0 && x->max > 0;
	if (ending) {
		uint64_t real = taken + x->out_bytes;
		if (!x->ending || real != x->end_real) {
			x->end_real = real;
			x->end_told = 0;
		}
		cur = x->last_seq + 1;
		working = 1;
	}
	x->ending = ending;
	/* Mid-stream, its input all read (the ring had no more for it):
	 * waiting for more, or stuck on the last of it.  Timed as work on
	 * its last record, and judged by its CPU time and where it sleeps
	 * when the timeout comes (check_timeout).  Held input is needed
	 * to narrow it down, and an output ring to see it write. */
	idle = x->timed && !working && !ending && !x->alone &&
	       x->h != NULL && x->pid > 0 && x->to_fd >= 0 && x->qlen == 0 &&
	       x->appended > 0 && x->max > 0 && !x->in_done;
	if (idle) {
		cur = x->last_seq + 1;
		working = 2; /* timed, though maybe waiting */
	}
	if (idle != x->idle)
		x->ncpu = -1;
	/* Idle no more (new input, or its end): a new word.  Time it
	 * waited idle is not the new work's, and a timeout the supervisor
	 * sent about the idle word, which the input may have crossed, is
	 * not about this: the progress word alone is compared then, and
	 * input fed and not yet read does not move it. */
	if (x->idle && !idle)
		x->bump++;
	x->idle = idle;
	/* Fed held records again, alone: it has nothing more to wait for,
	 * so all its time until it ends is theirs (the first one named).
	 * Narrowing a crash, time after the end of that input gets
	 * CRASH_GRACE timeouts more (check_timeout): the work a sort does
	 * at the end is not counted in a run of the stream either. */
	if (x->alone && x->pid > 0 && x->hlen > 0) {
		cur = x->h[x->hhead].seq + 1;
		working = 1;
		/* Narrowing a silence after the input's end: its end is
		 * judged as in the stream, the count restarting when it
		 * writes (check_timeout). */
		if (x->hang == 2 && x->to_fd < 0 &&
		    taken + x->out_bytes != x->end_real) {
			x->end_real = taken + x->out_bytes;
			x->grace = 0;
		}
	}
	/* --each: its run is the work on the record, all of it, whatever
	 * it reads or writes (the word moves with the run only). */
	if (x->alone == EACH_RUN) {
		cur = x->each_cur;
		working = 1;
		x->progress = x->runs << RUN_SHIFT;
		rp_stage_set_work(x->s, cur, working, x->progress);
		return;
	}
	x->cur = cur;
	x->progress = (x->runs << RUN_SHIFT) |
		      ((taken + x->out_bytes + x->bump) & RUN_BYTES);
	rp_stage_set_work(x->s, cur, working, x->progress);
}

/* The supervisor says the program has worked past the per-record
 * timeout: if its word names this run as it stands (the same progress
 * word), the run is killed, a death of its own doing; a word about an
 * earlier run, or one the program has moved on from since, is not. */
static void check_timeout(struct ex *x)
{
	uint64_t seen, n = rp_stage_timeouts(x->s, &seen);
	int pending = 0;

	if (n == x->timeouts)
		return;
	x->timeouts = n;
	if (x->pid <= 0 || x->timed_out)
		return;
	/* The word as it stands now, not as it was last set: the program
	 * may have read on since (while the loop slept). */
	note_work(x);
	if (seen != x->progress)
		return;
	/* Output it wrote that is not read yet: not silent. */
	if ((x->ending || x->alone || x->idle) && x->from_fd >= 0 &&
	    ioctl(x->from_fd, FIONREAD, &pending) == 0 && pending > 0) {
		x->bump++;
		note_work(x);
		return;
	}
	/* Idle mid-stream: sampled at the first timeout, judged at the
	 * next one if it has made no progress since (its word is the one
	 * sampled); neither busy nor asleep away from its input, it was
	 * waiting for input.  Timed again from now (a new word) either
	 * way. */
	if (x->idle && (x->ncpu < 0 || x->idle_word != x->progress ||
			!idle_stuck(x))) {
		x->bump++;
		note_work(x);
		idle_sample(x);
		x->idle_word = x->progress;
		return;
	}
	/* Its input all read: narrowing a crash, CRASH_GRACE timeouts more
	 * (or end_n's, if more); narrowing a silence after the input's
	 * end, end_n's, as in the stream; in the stream, end_n's. */
	if ((x->alone == 1 && x->to_fd < 0 &&
	     x->grace < (x->end_n > CRASH_GRACE ? x->end_n : CRASH_GRACE)) ||
	    (x->alone == 2 && x->hang == 2 && x->to_fd < 0 &&
	     x->grace + 1 < x->end_n) ||
	    (x->ending && ++x->end_told < x->end_n)) {
		x->grace += x->alone != 0;
		x->bump++; /* a new word: timed again from now */
		note_work(x);
		return;
	}
	x->timed_out = x->ending ? 2 : 1;
	kill_run(x);
	rp_stage_timed_out(x->s, x->cur ? x->cur - 1 : 0,
			   x->alone ? 1 : x->ending ? 2 : 0);
}

/* Is there something to read on fd (data, or its end)? */
static int readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) != 0;
}

/* Until the program has ended and its output is out: 0, -ECANCELED after
 * a cancel, or the error that ends the stage.  The program is gone either
 * way. */
int exec_loop(struct ex *x)
{
	int in_ready = 1, out_ready = 1, sig_ready = 0, draining = 0, err;
	int lingering = 0, linger_ms = LINGER_MS;

	for (;;) {
		struct pollfd pf[3];
		unsigned what = RP_WAIT_CONTROL;
		int r;

		if (rp_stage_control(x->s, &draining) > 0) {
			err = -ECANCELED;
			break;
		}
		/* The supervisor killed a process of the program's for a
		 * denied syscall (told before the kill): the program's run
		 * ends here, of its own doing, whichever process it was. */
		if (x->pid > 0 && rp_stage_denials(x->s) != x->denials) {
			x->denials = rp_stage_denials(x->s);
			x->denied = 1;
			kill_run(x);
		}
		if (!x->source)
			check_timeout(x);
		if (draining && x->source) {
			/* A drain stops a source where it stands: what its
			 * program wrote and we read goes out (a line cut
			 * short as an unterminated one), then the program is
			 * stopped and the output ends. */
			kill_cmd(x);
			if (x->mode == M_RECORDS && x->hdr_have > 0) {
				/* A frame cut by the stop is not a record:
				 * said, and dropped. */
				fprintf(stderr, EXEC_SAYS "drained: an unfinished "
						"frame (%u bytes) dropped\n",
					x->hdr_have < 4
						? x->hdr_have
						: 4 + x->frame_have);
				x->hdr_have = 0;
			}
			err = x->from_fd >= 0 ? exec_output_end(x) : 0;
			break;
		}
		if (want_input(x) && (in_ready || !mid_line(x)) &&
		    (err = take_input(x, draining)))
			break;
		if ((err = write_stdin(x)))
			break;
		/* The program sees its end once it has read all it was
		 * given (see unread_input); a run of --each, timed whole
		 * whatever it has read, sees it at once (a program that
		 * writes only at the end of its input, as stdio does into
		 * a pipe, waited a re-check for each record). */
		lingering = x->in_done && x->woff == x->wlen &&
			    x->to_fd >= 0 && x->pid > 0 &&
			    x->alone != EACH_RUN && unread_input(x);
		if (x->in_done && x->woff == x->wlen && !lingering)
			close_stdin(x);
		if (out_ready && (err = read_stdout(x)))
			break;
		if (sig_ready || (x->from_fd < 0 && x->pid > 0))
			reap(x, 0);
		/* A run that died of its own doing (a crash, or killed for
		 * its timeout or a denied syscall) is over once what it
		 * wrote is read: a process it left outside its group may
		 * hold its stdout open for ever.  What it cut short is
		 * dropped, as below. */
		if (x->pid < 0 && x->from_fd >= 0 && exec_own_death(x) &&
		    !readable(x->from_fd)) {
			close(x->from_fd);
			x->from_fd = -1;
			x->oeof = 0;
			x->eof_pending = !x->alone;
		}
		if (x->from_fd < 0 && x->pid < 0) {
			/* Its output ends as it ended: a line or frame a
			 * crash cut off is dropped (narrowing sends what the
			 * records make again), else it goes out. */
			if (x->eof_pending && exec_own_death(x)) {
				if (x->lb != NULL)
					linebuf_drop(x->lb);
				x->line_len = 0;
				x->hdr_have = 0;
			} else if (x->eof_pending && (err = exec_output_end(x))) {
				x->eof_pending = 0;
				break;
			}
			x->eof_pending = 0;
			err = verdict(x);
			break;
		}
		/* With the input at its end, only a peek sends the latest
		 * output on; between pieces of a line it would mark one
		 * last of its origin too soon. */
		if (x->in_eof && !mid_line(x)) {
			struct rp_record rec;
			rp_stage_peek(x->s, &rec); /* -ENODATA */
		}
		if ((err = rp_stage_flush(x->s)))
			break;
		note_work(x);

		/* Lingering, its hang-up (POLLERR: no reader left) ends
		 * the wait too. */
		pf[0].fd = x->woff < x->wlen || lingering ? x->to_fd : -1;
		pf[0].events = x->woff < x->wlen ? POLLOUT : 0;
		pf[1].fd = x->from_fd;
		pf[1].events = POLLIN;
		pf[2].fd = x->pid > 0 ? x->sig_fd : -1;
		pf[2].events = POLLIN;
		if (want_input(x))
			what |= RP_WAIT_INPUT;
		r = rp_stage_poll(x->s, what, pf, 3,
				  lingering ? linger_ms
				  : exec_hold_full(x) ? HOLD_POLL_MS : WAIT_MS);
		/* A program that never reads the rest is checked less and
		 * less often, up to LINGER_MAX_MS: the working word says
		 * "unread" that long after it has read it all. */
		if (!lingering)
			linger_ms = LINGER_MS;
		else if (r == 0 && linger_ms < LINGER_MAX_MS / 2)
			linger_ms *= 2;
		else if (r == 0)
			linger_ms = LINGER_MAX_MS;
		if (r < 0 && r != -EINTR) {
			err = r; /* -EPIPE: the supervisor is gone */
			break;
		}
		in_ready = r > 0 && (r & RP_WAIT_INPUT);
		out_ready = pf[1].fd >= 0 && pf[1].revents != 0;
		sig_ready = pf[2].fd >= 0 && pf[2].revents != 0;
	}
	kill_cmd(x);
	return err;
}

/* The stage's end when it has an input: as rp_stage_run ends. */
/* How long a program that ended first waits for its input's next word. */
#define INPUT_LOOK_NS (200 * 1000000LL)

static int finish(struct ex *x, int err)
{
	int c;

	if (err == -ECANCELED && (c = rp_stage_control(x->s, NULL)) > 0)
		return rp_stage_finish(x->s, 0, c);
	/* Done well with input it had not read (it ended, or stopped
	 * reading, first): dropped, as a shell pipeline drops it after
	 * head; said, as a parser that stops short is no head. */
	/* (Its input not ended yet: what comes next within a moment, a
	 * record or the end, says - a program that needs no input ends
	 * before an empty one does.) */
	if (err == 0 && !x->source && !x->each && !x->in_done &&
	    !rp_stage_input_done(x->s))
		(void)rp_stage_wait(x->s, RP_WAIT_INPUT, INPUT_LOOK_NS);
	if (err == 0 && !x->source && !x->each &&
	    (x->woff < x->wlen || x->taken < x->fed ||
	     (!x->in_done && !rp_stage_input_done(x->s)))) {
		fprintf(stderr, EXEC_NOTES "%s ended before its input did: the "
				"rest of its input was not read\n",
			x->cmd);
		rp_stage_ended_early(x->s);
	}
	return rp_stage_finish(x->s, err, 0);
}

static int produce(struct rp_stage *s, void *arg)
{
	(void)s;
	return exec_loop(arg);
}

/* ------------------------------------------------------ command line */

static int exec_main(int argc, char **argv)
{
	const struct builtin *b = &builtin_exec;
	struct ex x = {.pid = -1, .to_fd = -1, .from_fd = -1, .sig_fd = -1,
		       .exec_fd = -1, .keeper = -1, .keeper_ask = -1,
		       .keeper_done = -1};
	const char *desc = getenv("RINGPIPE_STAGE");
	uint64_t chunk = BUILTIN_CHUNK_DEFAULT;
	int i, code, err = 0, nmodes = 0, has_out, reject = 0;
	enum rp_policy policy = RP_POLICY_STRICT;
	struct rp_wiring w;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--lines") == 0) {
			x.mode = M_LINES;
			nmodes++;
		} else if (strcmp(a, "--records") == 0) {
			x.mode = M_RECORDS;
			nmodes++;
		} else if (strcmp(a, "--each") == 0) {
			x.each = 1;
		} else if (strcmp(a, "--ok-exit") == 0 ||
			   strncmp(a, "--ok-exit=", 10) == 0) {
			const char *v = a[9] == '=' ? a + 10 : argv[++i];
			if ((code = parse_exit_list(b, "--ok-exit", v,
						    x.ok_exit)))
				return code;
		} else if (strcmp(a, "--reject-exit") == 0 ||
			   strncmp(a, "--reject-exit=", 14) == 0) {
			const char *v = a[13] == '=' ? a + 14 : argv[++i];
			if ((code = parse_exit_list(b, "--reject-exit", v,
						    x.reject_exit)))
				return code;
			reject = 1;
		} else if (strcmp(a, "--chunks") == 0 ||
			   strncmp(a, "--chunks=", 9) == 0) {
			const char *v = a[8] == '=' ? a + 9 : argv[++i];
			if ((code = builtin_parse_size(b, "--chunks", v, 1,
						       1u << 30, &chunk)))
				return code;
			x.mode = M_CHUNKS;
			nmodes++;
		} else if (a[0] == '-' && a[1] != '\0') {
			return builtin_usage(b, "unknown option %s (the "
						"program's own options go "
						"after --)", a);
		} else {
			break;
		}
	}
	if (i >= argc)
		return builtin_usage(b, "no CMD given");
	if (nmodes > 1)
		return builtin_usage(b, "--lines, --chunks and --records "
					"exclude each other");
	for (int st = 1; st < 256; st++)
		if (x.ok_exit[st / 8] & x.reject_exit[st / 8] & 1u << (st % 8))
			return builtin_usage(b, "exit status %d is both an "
						"--ok-exit and a --reject-exit "
						"status", st);
	if (reject && x.mode == M_CHUNKS && !x.each)
		return builtin_usage(b, "--reject-exit needs records to find "
					"the one rejected: --lines, --records, "
					"or --each");
	x.cmd = argv[i];
	/* Which rings there are, and the policy, from the wiring (the
	 * library reports a bad one when it attaches). */
	if (desc != NULL && rp_wiring_parse(desc, &w) == 0) {
		x.source = w.in.p_fd < 0;
		policy = w.sandbox.policy;
		/* Raw bytes (--chunks) have no records a program could be
		 * fed again one by one: nothing is held back. */
		x.quarantine = x.mode == M_CHUNKS ? 0 : w.quarantine;
		x.end_n = w.end_n;
		x.timed = w.timed;
		x.no_dirs = denies_dirs(&w.sandbox);
		x.ncpu = -1;
		/* --each holds nothing back: a death is the record's. */
		if (x.each)
			x.quarantine = x.end_n = 0;
	}
	x.argv = argv + i;
	/* Looked for as the stage's user, who runs it (root's PATH may
	 * hold what that user cannot reach). */
	if (builtin_checking() && rp_sandbox_as_stage_user() != 0) {
		fprintf(stderr, EXEC_SAYS "cannot become the stage's user to "
				"look for %s\n", x.cmd);
		return RP_EXIT_NO_RESTART;
	}
	if (builtin_checking() && !exec_findable(x.cmd))
		return RP_EXIT_NO_RESTART;
	if ((code = builtin_open(NULL, 0, &x.s)))
		return code;
	if (policy == RP_POLICY_STRICT) {
		fprintf(stderr, EXEC_SAYS "the strict sandbox policy forbids "
				"starting a program; run this stage with "
				"policy exec\n");
		return rp_stage_finish(x.s, -EPERM, 0);
	}
	/* Lines: whether what it lets go ends inside one is kept with
	 * each commit point, so that a restart there does not feed the
	 * rest of that line to its program as a line of its own. */
	if (x.mode == M_LINES && !x.source && !x.each) {
		uint64_t mid = 0;
		rp_stage_keep_line_place(x.s);
		x.skip_line = rp_stage_restored(x.s, &mid, 1) == 1 && mid == 1;
	}
	/* The program must not try to attach to rings that are not its. */
	unsetenv("RINGPIPE_STAGE");
	/* A program that stops reading is an EPIPE, not a death. */
	signal(SIGPIPE, SIG_IGN);
	x.max = rp_stage_max_record(x.s);
	has_out = x.max > 0;
	x.chunk = (uint32_t)(chunk < x.max ? chunk : x.max);
	if (has_out) {
		x.rbuf = malloc(x.mode == M_CHUNKS ? x.chunk : READ_BUF);
		if (x.rbuf == NULL ||
		    (x.mode == M_LINES &&
		     linebuf_new(x.max, emit_line, &x, &x.lb) != 0) ||
		    (x.mode == M_RECORDS &&
		     (x.frame = malloc(x.max ? x.max : 1)) == NULL)) {
			fprintf(stderr, EXEC_SAYS "out of memory\n");
			err = -ENOMEM;
			goto out;
		}
	}
	if (!x.source &&
	    ((x.q = calloc(UNREAD_MAX, sizeof(*x.q))) == NULL ||
	     (x.quarantine > 0 &&
	      (x.h = calloc(HOLD_MAX, sizeof(*x.h))) == NULL))) {
		fprintf(stderr, EXEC_SAYS "out of memory\n");
		err = -ENOMEM;
		goto out;
	}
	if (x.each) {
		if (x.source) {
			fprintf(stderr, EXEC_SAYS "--each runs CMD once per input "
					"record, and this stage has no input\n");
			rp_stage_finish(x.s, -EINVAL, 0);
			x.s = NULL;
			code = RP_EXIT_USAGE;
			goto out;
		}
		/* Each record takes a run of CMD: copies share them out
		 * one at a time. */
		rp_stage_claim_one(x.s);
		code = rp_stage_run(x.s, exec_each_record, &x);
		x.s = NULL;
		kill_cmd(&x);
		/* CMD cannot be run: a restart would not help. */
		if (code == RP_EXIT_ERROR && exec_fails_for_good(x.exec_errno))
			code = RP_EXIT_NO_RESTART;
		goto out;
	}
	if ((err = exec_start(&x, argv + i, has_out)))
		goto out;
	x.in_done = x.source;
	if (x.source && has_out) {
		code = rp_stage_run_source(x.s, produce, &x);
		x.s = NULL;
	} else {
		err = exec_loop(&x);
		/* A death of its own doing with input held: narrowed down
		 * to the record, if one kills it alone. */
		if (err == -EIO && x.hlen > 0 && exec_own_death(&x)) {
			int r = exec_narrow(&x, argv + i, has_out, &code);
			if (r < 0)
				err = r;
			if (r < 0 || x.s == NULL)
				kill_cmd(&x);
		}
	}
out:
	if (x.s != NULL)
		code = finish(&x, err);
	/* CMD cannot be run (not found, not executable): a restart would
	 * fail the same way. */
	if (code == RP_EXIT_ERROR && exec_fails_for_good(x.exec_errno))
		code = RP_EXIT_NO_RESTART;
	/* The program first, while its fds are still open for the reap:
	 * a namespace's init ends only once every process in it is gone,
	 * the stage's own unreaped child too. */
	kill_cmd(&x);
	exec_keeper_stop(&x);
	if (x.to_fd >= 0)
		close(x.to_fd);
	if (x.from_fd >= 0)
		close(x.from_fd);
	if (x.sig_fd >= 0)
		close(x.sig_fd);
	if (x.exec_fd >= 0)
		close(x.exec_fd);
	linebuf_free(x.lb);
	while (x.h && x.hlen > 0)
		exec_hold_pop(&x);
	free(x.h);
	free(x.innocent.data);
	free(x.obuf);
	free(x.q);
	free(x.wbuf);
	free(x.rbuf);
	free(x.frame);
	return code;
}

const struct builtin builtin_exec = {
	.name = "exec",
	.synopsis = "[--lines | --chunks N | --records] [--each] "
		    "[--ok-exit N,...] [--reject-exit N,...] [--] CMD "
		    "[ARGS...]",
	.summary = "run a program (PATH is searched) with its stdin fed from "
		   "the input\n    and its stdout cut into output records",
	.help =
	"  --lines     (default) each input record is written with a newline\n"
	"              appended (none after a record of type 17); each line\n"
	"              of the output becomes a record, without its newline.\n"
	"              A last line without a newline becomes a record of\n"
	"              type 17, so file-sink --lines writes it back without\n"
	"              one.  A line longer than the output's largest record\n"
	"              becomes several records (like file-source --lines).\n"
	"              Bytes are bytes: NUL and invalid UTF-8 pass as they\n"
	"              are; only newlines delimit.\n"
	"  --chunks N  raw bytes both ways: input records written as they\n"
	"              are; the output is what each read returns, at most N\n"
	"              bytes (N is needed, 64k a good one; never more than\n"
	"              the output's largest record) per record.  For binary\n"
	"              data.  N takes k or m.\n"
	"  --each      a run of CMD per input record: the record (as the\n"
	"              mode writes it) is its whole stdin, and what it writes\n"
	"              before it exits 0 is that record's output.  Nothing is\n"
	"              held back or narrowed: a run that dies of its own doing\n"
	"              ends the stage as a crash on that record (exit 64 + the\n"
	"              signal), which the supervisor counts and quarantines;\n"
	"              one that exits non-zero fails the stage (but for a\n"
	"              --reject-exit status: its record is refused).  A stage\n"
	"              that keeps nothing across records: it can have\n"
	"              replicas.\n"
	"  --records   frames both ways: a 4-byte little-endian length, then\n"
	"              that many bytes.  An output frame larger than the\n"
	"              output's largest record, or cut short by the end of\n"
	"              the output, fails the stage.\n"
	"  --ok-exit N,...  exit statuses besides 0 that mean CMD did its\n"
	"              work, as a shell pipeline takes any: grep's 1 (no line\n"
	"              selected), diff's 1 (they differ).\n"
	"  --reject-exit N,...  exit statuses that mean CMD rejected a record\n"
	"              (a parser's \"malformed input\"): the record is found\n"
	"              and quarantined as for a crash (with --each, at once),\n"
	"              and CMD is run again on what follows.  One that exits\n"
	"              so fed nothing at all rejects no record: it fails.\n"
	"  CMD runs after the stage has entered its sandbox and inherits it:\n"
	"  the stage needs policy exec (ringpipe gives it that unless the\n"
	"  pipeline sets a policy); strict fails the stage at once.  CMD gets\n"
	"  no descriptors but stdin, stdout and stderr (the stage's, which\n"
	"  the supervisor shows under the stage's name), its own process\n"
	"  group, and dies with the stage.  A syscall the policy denies (a\n"
	"  socket, say) is reported by name.  Without an\n"
	"  input ring CMD reads the stage's stdin and the stage is a source\n"
	"  (one origin per output record); without an output ring CMD\n"
	"  writes to the stage's stdout.  Put -- before CMD when its\n"
	"  arguments include --help.\n"
	"  At the end of the input CMD's stdin is closed; the stage reads\n"
	"  its stdout to the end and waits for it, then ends its output.  A\n"
	"  CMD that stops reading early (like head) ends its input there,\n"
	"  as in a shell.  Exit 0 if CMD exited 0 (or an --ok-exit status);\n"
	"  otherwise its status or\n"
	"  signal is reported and the stage fails (exit 1), as it does when\n"
	"  CMD cannot be run.  A cancel kills CMD's process group (SIGKILL)\n"
	"  and ends the stage with the cancel's exit code; so does an output\n"
	"  whose consumer finished early (exit 8, not a failure).\n"
	"  Input CMD has not read, and what it read last, is held back (not\n"
	"  released) with --lines and --records.  If CMD dies of a signal of\n"
	"  its own doing (SIGSEGV, SIGABRT, ...), makes a denied syscall or\n"
	"  works past the stage's record_timeout_ms (or, its input ended,\n"
	"  stays silent past end_timeout_ms), what it had read is fed\n"
	"  again to new copies of CMD, halving, until one record alone kills\n"
	"  it (a hang: and CMD fed nothing does not hang); that record goes\n"
	"  to the dead-letter output, and the rest comes out at least once.\n",
	.main = exec_main,
};
