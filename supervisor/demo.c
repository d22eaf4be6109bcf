/*
 * demo.c - ringpipe-demo: a supervisor running two stage processes joined
 * by a shared-memory ring, with control rings both ways.
 *
 * The supervisor creates every ring and bell, forks the stages (each in its
 * own process group, dying with the supervisor), and then runs one epoll
 * loop over a signalfd, a pidfd per stage, the eventfd of its own bell
 * (rung by the stages' control records) and a 1 s timer for live
 * counters.  Ctrl-C becomes a cancel record (reason: user) to each stage;
 * a second Ctrl-C kills them.  A stage that dies abnormally gets its
 * sibling cancelled (reason: sibling failed) and its data ring marked
 * broken, so nobody waits on a dead peer.
 *
 * Exit codes: 0 all stages finished, 1 a stage failed, 2 bad usage,
 * 130 cancelled by the user.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../stage/demo_stages.h"

#define SEC 1000000000LL

enum { GEN, CHK, NSTAGE };
static const char *const stage_name[NSTAGE] = {"generator", "checker"};

struct stage {
	pid_t pid;
	int pidfd;
	int exited, status;
	struct rp_bell *bell;
	struct rp_ctl_tx *tx;      /* supervisor -> stage */
	struct rp_ctl_rx *rx;      /* stage -> supervisor */
	struct rp_ring_fds ctl_in, ctl_out;
	struct rp_ctl_msg done;    /* its last DONE / ERROR / VIOLATION */
	int has_done;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "ringpipe-demo: %s: %s\n", what, strerror(err));
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringpipe-demo [-n RECORDS] [-s BYTES] [-r KIB]\n"
		"  Streams RECORDS log lines of BYTES bytes (>= 40) from a\n"
		"  generator process to a checker process through a ring of\n"
		"  KIB KiB, printing live counters each second.\n"
		"  -n RECORDS  default 20000000\n"
		"  -s BYTES    default 64\n"
		"  -r KIB      ring size, a power of two >= 4; default 1024\n"
		"  Ctrl-C cancels both stages cleanly (exit 130).\n"
		"exit codes: 0 done, 1 a stage failed, 2 usage, 130 cancelled\n");
}

static struct rp_bell *sup_bell;
static struct rp_ring_fds data_ring;
static struct stage st[NSTAGE];

static pid_t spawn(int i, const struct demo_wiring *w, const sigset_t *mask)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	/* Die with the supervisor; never read the terminal's signals. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	setpgid(0, 0);
	sigprocmask(SIG_UNBLOCK, mask, NULL);
	_exit(i == GEN ? demo_producer_main(w) : demo_consumer_main(w));
}

static void wire(int i, struct demo_wiring *w, uint64_t records,
		 uint32_t payload)
{
	int err;

	memset(w, 0, sizeof(*w));
	err = i == GEN ? rp_ring_fds_for_producer(&data_ring, &w->data)
		       : rp_ring_fds_for_consumer(&data_ring, &w->data);
	if (!err)
		err = rp_ring_fds_for_consumer(&st[i].ctl_in, &w->ctl_in);
	if (!err)
		err = rp_ring_fds_for_producer(&st[i].ctl_out, &w->ctl_out);
	if (err)
		die("ring fds", -err);
	w->own_bell_fd = rp_bell_memfd(st[i].bell);
	w->peer_bell_fd = rp_bell_memfd(st[i == GEN ? CHK : GEN].bell);
	w->sup_bell_fd = rp_bell_memfd(sup_bell);
	w->sup_bell_efd = rp_bell_eventfd(sup_bell);
	w->records = records;
	w->payload = payload;
}

static void unwire(struct demo_wiring *w)
{
	rp_ring_fds_close(&w->data);
	rp_ring_fds_close(&w->ctl_in);
	rp_ring_fds_close(&w->ctl_out);
}

static void cancel_all(uint32_t reason, int except)
{
	for (int i = 0; i < NSTAGE; i++)
		if (i != except && !st[i].exited)
			rp_ctl_cancel(st[i].tx, reason);
}

static void read_control(int i)
{
	struct rp_ctl_msg m;
	int err;

	while ((err = rp_ctl_recv(st[i].rx, &m)) == 0) {
		switch (m.kind) {
		case RP_CTL_READY:
			fprintf(stderr, "[%s] ready (pid %d)\n", stage_name[i],
				(int)st[i].pid);
			break;
		case RP_CTL_PROGRESS:
			if (i == CHK)
				fprintf(stderr, "[%s] checksum %s\n",
					stage_name[i], m.text);
			break;
		case RP_CTL_DONE:
		case RP_CTL_ERROR:
		case RP_CTL_VIOLATION:
			st[i].done = m;
			st[i].has_done = 1;
			break;
		default:
			break;
		}
	}
	if (err == -EBADMSG) {
		fprintf(stderr, "[%s] broke the control-ring format: "
				"treated as failed\n", stage_name[i]);
		kill(st[i].pid, SIGKILL);
	}
}

static int stage_failed(const struct stage *s)
{
	return WIFSIGNALED(s->status) ||
	       (WEXITSTATUS(s->status) != RP_STAGE_EXIT_DONE &&
		WEXITSTATUS(s->status) != RP_STAGE_EXIT_CANCELLED);
}

static void on_exit_of(int i)
{
	struct stage *s = &st[i];
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	s->exited = 1;
	s->status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0)
					     : si.si_status;
	read_control(i);
	if (WIFSIGNALED(s->status))
		fprintf(stderr, "[%s] killed by signal %d (%s)\n",
			stage_name[i], WTERMSIG(s->status),
			strsignal(WTERMSIG(s->status)));
	else
		fprintf(stderr, "[%s] exited %d\n", stage_name[i],
			WEXITSTATUS(s->status));
	if (stage_failed(s)) {
		/* Nobody may wait on a dead peer: break its rings, then
		 * cancel the sibling (fail fast). */
		if (i == CHK)
			rp_ring_mark_broken(&data_ring, st[GEN].bell);
		rp_ring_mark_broken(&s->ctl_in, sup_bell);
		cancel_all(RP_REASON_SIBLING, i);
	}
}

static void print_counters(double secs, uint64_t *last_rec)
{
	struct rp_ring_stats ps, cs;
	uint64_t used = 0;

	if (rp_ring_observe(&data_ring, &ps, &cs, &used) != 0)
		return;
	fprintf(stderr,
		"[%5.1fs] %8.2f M rec/s  %6.2f GB/s total  in flight %6.1f "
		"KiB  wake-ups %llu\n",
		secs, (double)(cs.records - *last_rec) / 1e6,
		(double)cs.bytes / secs / 1e9, (double)used / 1024.0,
		(unsigned long long)(ps.wakes + cs.wakes));
	*last_rec = cs.records;
}

int main(int argc, char **argv)
{
	uint64_t records = 20000000, last_rec = 0;
	uint32_t payload = 64, ring_kib = 1024;
	struct demo_wiring w[NSTAGE];
	struct epoll_event ev;
	struct itimerspec one = {{1, 0}, {1, 0}};
	sigset_t mask;
	int ep, sfd, tfd, opt, err, interrupts = 0, running = NSTAGE;
	int64_t t0;

	while ((opt = getopt(argc, argv, "n:s:r:h")) != -1) {
		switch (opt) {
		case 'n': records = strtoull(optarg, NULL, 0); break;
		case 's': payload = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'r': ring_kib = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (ring_kib < 4 || (ring_kib & (ring_kib - 1)) || ring_kib > 1048576 ||
	    payload < 40 || payload > ring_kib * 512u - 24) {
		usage(stderr);
		return 2;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd", errno);

	{
		struct rp_ring_config cfg = {.capacity = ring_kib * 1024u};
		if ((err = rp_ring_create(&cfg, &data_ring)))
			die("data ring", -err);
	}
	if ((err = rp_bell_create(RP_BELL_EVENTFD, &sup_bell)))
		die("bell", -err);
	for (int i = 0; i < NSTAGE; i++) {
		if ((err = rp_bell_create(0, &st[i].bell)) ||
		    (err = rp_ctl_create(&st[i].ctl_in)) ||
		    (err = rp_ctl_create(&st[i].ctl_out)) ||
		    (err = rp_ctl_tx_open(&st[i].ctl_in, sup_bell, st[i].bell,
					  &st[i].tx)) ||
		    (err = rp_ctl_rx_open(&st[i].ctl_out, sup_bell, st[i].bell,
					  &st[i].rx)))
			die("control rings", -err);
	}
	for (int i = 0; i < NSTAGE; i++)
		wire(i, &w[i], records, payload);

	fprintf(stderr, "ringpipe-demo: %llu records of %u bytes through a "
			"%u KiB ring (Ctrl-C cancels)\n",
		(unsigned long long)records, payload, ring_kib);
	t0 = rp_now_ns();
	for (int i = 0; i < NSTAGE; i++) {
		st[i].pid = spawn(i, &w[i], &mask);
		if (st[i].pid < 0)
			die("fork", errno);
		st[i].pidfd = (int)syscall(SYS_pidfd_open, st[i].pid, 0);
		if (st[i].pidfd < 0)
			die("pidfd_open", errno);
		unwire(&w[i]);
	}

	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &one, NULL) < 0)
		die("epoll/timerfd", errno);
	ev.events = EPOLLIN;
	ev.data.u32 = 100;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.u32 = 101;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.u32 = 102;
	epoll_ctl(ep, EPOLL_CTL_ADD, rp_bell_eventfd(sup_bell), &ev);
	for (int i = 0; i < NSTAGE; i++) {
		ev.data.u32 = (uint32_t)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, st[i].pidfd, &ev);
	}

	while (running > 0) {
		struct epoll_event evs[8];
		int n, pending = 0;

		/* The bell protocol: announce, re-check, then sleep. */
		rp_bell_announce(sup_bell);
		rp_bell_park_begin(sup_bell);
		for (int i = 0; i < NSTAGE; i++)
			pending |= !st[i].exited && rp_ctl_ready(st[i].rx) > 0;
		n = epoll_wait(ep, evs, 8, pending ? 0 : -1);
		rp_bell_park_end(sup_bell);
		rp_bell_retire(sup_bell);
		if (n < 0 && errno != EINTR)
			die("epoll_wait", errno);
		for (int k = 0; k < n; k++) {
			uint32_t id = evs[k].data.u32;
			if (id == 100) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) ==
				       (ssize_t)sizeof(si)) {
					if (++interrupts == 1) {
						fprintf(stderr, "ringpipe-demo: "
							"cancelling (again to kill)\n");
						cancel_all(RP_REASON_USER, -1);
					} else {
						for (int i = 0; i < NSTAGE; i++)
							if (!st[i].exited)
								kill(st[i].pid,
								     SIGKILL);
					}
				}
			} else if (id == 101) {
				uint64_t ticks;
				if (read(tfd, &ticks, sizeof(ticks)) > 0)
					print_counters((double)(rp_now_ns() - t0) / 1e9,
						       &last_rec);
			} else if (id == 102) {
				rp_bell_drain(sup_bell);
			} else if (id < NSTAGE && !st[id].exited) {
				on_exit_of((int)id);
				if (st[id].exited)
					running--;
			}
		}
		for (int i = 0; i < NSTAGE; i++)
			if (!st[i].exited)
				read_control(i);
	}

	{
		double secs = (double)(rp_now_ns() - t0) / 1e9;
		struct rp_ring_stats ps, cs;
		int failed = stage_failed(&st[GEN]) || stage_failed(&st[CHK]);
		uint64_t got = st[CHK].has_done ? st[CHK].done.arg0 : 0;

		rp_ring_observe(&data_ring, &ps, &cs, NULL);
		printf("\nringpipe-demo report\n");
		for (int i = 0; i < NSTAGE; i++)
			printf("  %-9s %s%s\n", stage_name[i],
			       st[i].has_done
				       ? rp_ctl_kind_name(st[i].done.kind)
				       : "no final record",
			       st[i].has_done && st[i].done.reason
				       ? (st[i].done.reason == RP_REASON_EOF
						  ? " (end of input)"
						  : st[i].done.reason ==
								  RP_REASON_USER
							  ? " (cancelled by user)"
							  : " (cancelled: sibling "
							    "failed or shutdown)")
				       : "");
		printf("  records   %llu checked in order of %llu sent, "
		       "%llu ERROR lines\n",
		       (unsigned long long)got,
		       (unsigned long long)ps.records,
		       (unsigned long long)(st[CHK].has_done
						    ? st[CHK].done.arg1
						    : 0));
		printf("  rate      %.2f M records/s, %.2f GB/s over %.2f s\n",
		       (double)cs.records / secs / 1e6,
		       (double)cs.bytes / secs / 1e9, secs);
		printf("  ring      %llu publications, %llu releases, %llu "
		       "futex wake-ups\n",
		       (unsigned long long)ps.batches,
		       (unsigned long long)cs.batches,
		       (unsigned long long)(ps.wakes + cs.wakes));
		for (int i = 0; i < NSTAGE; i++) {
			rp_ctl_tx_close(st[i].tx);
			rp_ctl_rx_close(st[i].rx);
			rp_ring_fds_close(&st[i].ctl_in);
			rp_ring_fds_close(&st[i].ctl_out);
			rp_bell_close(st[i].bell);
			close(st[i].pidfd);
		}
		rp_bell_close(sup_bell);
		rp_ring_fds_close(&data_ring);
		if (failed)
			return 1;
		if (interrupts)
			return 130;
		return got == records ? 0 : 1;
	}
}
