/*
 * builtin_exec_keeper.c - the init of a PID namespace the exec stage made
 * itself, which keeps the namespace alive for every run of its program.
 *
 * Design note
 * -----------
 * A stage that unshared a PID namespace (the supervisor could not create
 * it in one: no clone3) is not in it; its first child is, as pid 1.  A
 * namespace whose pid 1 has ended takes no new process (fork fails with
 * ENOMEM), so that child must outlive every run of the program: a crash
 * narrowed down, a hang, feed the program again and again.  It is the
 * keeper: it only reaps the orphans the namespace hands it and, when the
 * stage writes a byte after a run, kills whatever is left in the
 * namespace (kill(-1) spares pid 1 alone: a job that left the process
 * group too), reaps it, and writes a byte back.  The program itself is
 * still the stage's child (forked into the namespace while its pid 1
 * lives), so its status and pipes are the stage's as without one.
 *
 * The keeper holds nothing but its two pipes and stderr, runs only this
 * code under the stage's filter, never execs, and dies with the stage
 * (PR_SET_PDEATHSIG, or the end of its pipe).
 *
 * Without a PID namespace (namespaces: [], or a kernel that refuses
 * one) the stage is a child subreaper instead: what a run left behind
 * becomes its child once the processes between are gone, and after the
 * run it kills and reaps each child /proc/self/task/TID/children lists,
 * again while any is left (exec_orphans_sweep).  Where /proc cannot be
 * read (a Landlock fs_read without it) only the run's process group is
 * killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin_exec.h"

#define KEEPER_ASK 3  /* its fds: the stage's asks */
#define KEEPER_DONE 4 /* and its answers */
#define KEEPER_WAIT_MS 5000

/* Kill everything in the namespace but pid 1 and reap what is its own
 * (orphans): again while any is left, since one may have forked before
 * it died. */
static void clean(void)
{
	pid_t r;

	for (;;) {
		kill(-1, SIGKILL);
		r = waitpid(-1, NULL, 0);
		if (r > 0 || (r < 0 && errno == EINTR))
			continue;
		break;
	}
}

static void keeper(int ask, int done)
{
	sigset_t chld;
	int sfd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if ((ask = fcntl(ask, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (done = fcntl(done, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    dup3(ask, KEEPER_ASK, O_CLOEXEC) < 0 ||
	    dup3(done, KEEPER_DONE, O_CLOEXEC) < 0)
		_exit(127);
	close(STDIN_FILENO);
	close(STDOUT_FILENO);
	if (syscall(SYS_close_range, KEEPER_DONE + 1, ~0u, 0) < 0)
		_exit(127);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0 ||
	    (sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		_exit(127);
	for (;;) {
		struct pollfd pf[2] = {{.fd = KEEPER_ASK, .events = POLLIN},
				       {.fd = sfd, .events = POLLIN}};
		struct signalfd_siginfo si;
		char c;
		ssize_t n;

		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			_exit(127);
		while (read(sfd, &si, sizeof(si)) > 0)
			;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(KEEPER_ASK, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* the stage is gone */
		clean();
		if (write(KEEPER_DONE, &c, 1) != 1)
			_exit(127);
	}
}

int exec_keeper_start(struct ex *x)
{
	int ask[2] = {-1, -1}, done[2] = {-1, -1}, err = 0;
	pid_t pid;

	if (pipe2(ask, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) {
		err = -errno;
		goto out;
	}
	pid = fork();
	if (pid == 0)
		keeper(ask[0], done[1]);
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	setpgid(pid, pid);
	x->keeper = pid;
	x->keeper_ask = ask[1];
	x->keeper_done = done[0];
	ask[1] = done[0] = -1;
out:
	for (int i = 0; i < 2; i++) {
		if (ask[i] >= 0)
			close(ask[i]);
		if (done[i] >= 0)
			close(done[i]);
	}
	return err;
}

void exec_keeper_clean(struct ex *x)
{
	struct pollfd p = {.fd = x->keeper_done, .events = POLLIN};
	char c = 'K';

	if (x->keeper_ask < 0)
		return;
	/* A keeper that is gone took its namespace with it: nothing is
	 * left to clean (and no run can start again).  One that does not
	 * answer in KEEPER_WAIT_MS is ended, with the namespace. */
	if (write(x->keeper_ask, &c, 1) != 1 ||
	    poll(&p, 1, KEEPER_WAIT_MS) != 1 ||
	    read(x->keeper_done, &c, 1) != 1) {
		fprintf(stderr, EXEC_SAYS "its PID namespace's init (the keeper) "
				"is gone or did not answer: the namespace "
				"ends\n");
		exec_keeper_stop(x);
	}
}

int exec_keeper_alive(struct ex *x)
{
	pid_t r;

	if (x->keeper <= 0)
		return 0;
	do
		r = waitpid(x->keeper, NULL, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 1;
	x->keeper = -1; /* reaped (or not ours) */
	return 0;
}

void exec_keeper_stop(struct ex *x)
{
	if (x->keeper_ask >= 0)
		close(x->keeper_ask);
	if (x->keeper_done >= 0)
		close(x->keeper_done);
	x->keeper_ask = x->keeper_done = -1;
	if (x->keeper > 0) {
		/* Dying, the namespace's init waits until every process in
		 * it is gone: the program, this stage's child, is killed
		 * and reaped first (its status is of no more use). */
		if (x->pid > 0) {
			kill(-x->pid, SIGKILL);
			kill(x->pid, SIGKILL);
			while (waitpid(x->pid, NULL, 0) < 0 && errno == EINTR)
				;
			x->pid = -1;
		}
		kill(x->keeper, SIGKILL);
		while (waitpid(x->keeper, NULL, 0) < 0 && errno == EINTR)
			;
	}
	x->keeper = -1;
}

#define SWEEP_ROUNDS 64
#define SWEEP_MAX 512       /* children a round kills, at most */
#define SWEEP_WAIT_MS 200   /* for those to die, a round */

void exec_orphans_sweep(struct ex *x)
{
	char path[64], buf[4096];
	pid_t killed[SWEEP_MAX];

	snprintf(path, sizeof(path), "/proc/self/task/%d/children",
		 (int)gettid());
	for (int round = 0; round < SWEEP_ROUNDS; round++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC), nk = 0, left = 0;
		ssize_t n;
		if (fd < 0)
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return;
		buf[n] = '\0';
		/* "pid pid ... ": a number the read cut short has no space
		 * after it, and is left to the next round. */
		for (char *p = buf, *e; nk < SWEEP_MAX; p = e + 1) {
			long pid = strtol(p, &e, 10);
			if (e == p || *e != ' ')
				break;
			/* Its own: the run's program is reaped by now, and
			 * there is no keeper without a namespace. */
			if (pid <= 0 || pid == x->pid || pid == x->keeper)
				continue;
			kill((pid_t)pid, SIGKILL);
			killed[nk++] = (pid_t)pid;
		}
		if (nk == 0)
			return;
		/* Reaped as they die, for SWEEP_WAIT_MS at most: one that
		 * will not (uninterruptible) is left to reap(). */
		for (int ms = 0; ms < SWEEP_WAIT_MS; ms++) {
			left = 0;
			for (int i = 0; i < nk; i++) {
				if (killed[i] > 0 &&
				    waitpid(killed[i], NULL, WNOHANG) == 0)
					left++;
				else
					killed[i] = 0;
			}
			if (left == 0)
				break;
			usleep(1000);
		}
		if (left > 0)
			return;
	}
}
