/*
 * bench_proc.c - clocks, placement, and forking and reaping the processes
 * every measurement runs in (bench.h).
 *
 * Nothing may hang: every child arms an alarm, and the reaper kills the
 * whole group when one member fails or the group overstays its deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../shm/atomics.h"
#include "bench.h"

int64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_self_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000,
			      .tv_nsec = ns % 1000000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/* A sleep this short would overshoot by the timer slack (50 us by
 * default), so pacing below the spin window is done on the clock. */
void bench_spin_until(int64_t t)
{
	while (bench_now_ns() < t)
		rp_cpu_relax();
}

void bench_placement(int *prod_cpu, int *cons_cpu)
{
	cpu_set_t set;
	int cpus[2], n = 0;

	*prod_cpu = *cons_cpu = -1;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	if (n < 2)
		return; /* one CPU: nothing to choose, both share it */
	*prod_cpu = cpus[0];
	*cons_cpu = cpus[1];
}

int bench_third_cpu(void)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set) && ++n == 3)
			return i;
	return -1;
}

void bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

pid_t bench_fork(int cpu, unsigned alarm_s)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	/* A vanished peer shows up as EPIPE, reported like any error. */
	signal(SIGPIPE, SIG_IGN);
	/* The last resort against a hang: SIGALRM's default kills. */
	signal(SIGALRM, SIG_DFL);
	alarm(alarm_s);
	bench_pin(cpu);
	return 0;
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Collect whoever has exited; a failure takes the rest down at once (they
 * would otherwise sit out their full waits).  1 once all are done. */
static int reap_some(const pid_t *pids, int n, int *status, int *done,
		     int *killed, int *bad)
{
	int all = 1;

	for (int i = 0; i < n; i++) {
		if (done[i])
			continue;
		if (pids[i] <= 0) {
			done[i] = 1;
			continue;
		}
		if (waitpid(pids[i], &status[i], WNOHANG) != pids[i]) {
			all = 0;
			continue;
		}
		done[i] = 1;
		if (WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0)
			continue;
		*bad = 1;
		for (int j = 0; j < n; j++) {
			if (!done[j] && pids[j] > 0 && !killed[j]) {
				kill(pids[j], SIGKILL);
				killed[j] = 1;
			}
		}
	}
	return all;
}

int bench_reap(const pid_t *pids, const char *const *names, int n,
	       int64_t deadline, const char *what)
{
	int fds[BENCH_MAX_PROCS], status[BENCH_MAX_PROCS] = {0};
	int done[BENCH_MAX_PROCS] = {0}, killed[BENCH_MAX_PROCS] = {0};
	int bad = 0;

	if (n > BENCH_MAX_PROCS)
		n = BENCH_MAX_PROCS;
	for (int i = 0; i < n; i++)
		fds[i] = pids[i] > 0 ? pidfd_open_(pids[i]) : -1;
	while (!reap_some(pids, n, status, done, killed, &bad)) {
		struct pollfd pf[BENCH_MAX_PROCS];
		int64_t left = deadline - bench_now_ns();
		int np = 0, blind = 0, ms;

		if (left <= 0) {
			fprintf(stderr, "bench-ring: %s: timed out\n", what);
			for (int i = 0; i < n; i++) {
				if (!done[i] && !killed[i]) {
					kill(pids[i], SIGKILL);
					killed[i] = 1;
				}
			}
			bad = 1;
			deadline = bench_now_ns() + 5 * 1000000000LL;
			continue;
		}
		for (int i = 0; i < n; i++) {
			if (done[i])
				continue;
			if (fds[i] < 0) {
				blind++;
				continue;
			}
			pf[np].fd = fds[i];
			pf[np].events = POLLIN;
			np++;
		}
		ms = (int)(left / 1000000) + 1;
		if (blind && ms > 20)
			ms = 20; /* some without a pidfd: poll the slow way */
		poll(pf, (nfds_t)np, ms);
	}
	for (int i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (WIFSIGNALED(status[i]) && !killed[i])
			fprintf(stderr, "bench-ring: %s: %s killed by %s\n",
				what, names[i], strsignal(WTERMSIG(status[i])));
	}
	return bad ? -1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_percentiles(uint64_t *ns, size_t n, struct bench_lat_out *out)
{
	out->samples = (uint32_t)n;
	if (n == 0) {
		out->p50_us = out->p99_us = out->max_us = -1;
		return;
	}
	qsort(ns, n, sizeof(*ns), cmp_u64);
	out->p50_us = (double)ns[n / 2] / 1e3;
	out->p99_us = (double)ns[n * 99 / 100] / 1e3;
	out->max_us = (double)ns[n - 1] / 1e3;
}
