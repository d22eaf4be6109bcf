/*
 * orphans.c - what a dead stage leaves behind (orphans.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orphans.h"

/* Our children, as the kernel lists them (the supervisor is one thread:
 * its task's list is all of them).  Their number, at most max. */
static int children(pid_t *out, int max)
{
	char path[64], buf[8192];
	FILE *f;
	size_t n;
	int k = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children",
		 (int)getpid());
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *p = buf, *end; k < max; p = end) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v > 0)
			out[k++] = (pid_t)v;
	}
	return k;
}

static int listed(const pid_t *set, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (set[i] == pid)
			return 1;
	return 0;
}

void rp_orphans_init(struct rp_orphans *o)
{
	memset(o, 0, sizeof(*o));
	/* Children from before the run (a shell's jobs, which ringpipe
	 * exec'ed into) have descendants of their own, whose orphans would
	 * come to a subreaper too: then what comes cannot be told to be a
	 * stage's, and nothing is adopted. */
	o->nbefore = children(o->before, RP_ORPHANS_MAX);
	o->adopting = o->nbefore == 0 &&
		      prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
}

/* Reap those killed that have died. */
static void reap(struct rp_orphans *o)
{
	for (int i = 0; i < o->nkilled;) {
		pid_t r = waitpid(o->killed[i], NULL, WNOHANG);
		if (r == o->killed[i] || (r < 0 && errno == ECHILD))
			o->killed[i] = o->killed[--o->nkilled];
		else
			i++;
	}
}

void rp_orphans_sweep(struct rp_orphans *o, int (*is_stage)(void *, pid_t),
		      void *arg)
{
	pid_t now[RP_ORPHANS_MAX];
	int n;

	if (!o->adopting)
		return;
	n = children(now, RP_ORPHANS_MAX);
	for (int i = 0; i < n; i++) {
		pid_t pid = now[i];
		if (listed(o->before, o->nbefore, pid) || is_stage(arg, pid) ||
		    listed(o->killed, o->nkilled, pid))
			continue;
		kill(pid, SIGKILL);
		o->swept++;
		if (o->nkilled < RP_ORPHANS_MAX)
			o->killed[o->nkilled++] = pid;
	}
	reap(o);
}

void rp_orphans_end(struct rp_orphans *o, int (*is_stage)(void *, pid_t),
		    void *arg, int wait_ms)
{
	struct timespec nap = {0, 2 * 1000 * 1000};

	for (int t = 0; t < wait_ms; t += 2) {
		unsigned long swept = o->swept;
		rp_orphans_sweep(o, is_stage, arg);
		if (o->nkilled == 0 && o->swept == swept)
			break;
		nanosleep(&nap, NULL);
	}
}
