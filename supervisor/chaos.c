/*
 * chaos.c - ringpipe chaos (chaos.h).
 *
 * The supervisor runs in a child; this process is the fault injector and
 * the judge.  It is the children's subreaper, so when it kills the
 * supervisor the orphaned stages become its own to watch and reap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../ipc/ctl.h"
#include "../shm/crashpoint.h"
#include "../shm/futex.h"
#include "chaos.h"
#include "deadletter.h"
#include "json.h"

#define MAX_FAULTS 10000
#define MAX_KIDS 64
#define MS 1000000LL

struct fault {
	unsigned kind;    /* RP_CHAOS_* */
	int64_t at_ns;    /* since the start of the run */
	int64_t recovery_ns; /* -1: none measured */
	char victim[48];  /* its command line, shortened */
};

struct outcome {
	uint64_t ref_lines, lines, lost, dup, quarantined;
	int reordered, finished, code, orphans_left, rerun_ok;
	double ref_s, run_s;
	/* corruptions: failed stages that were, and were not, corrupted */
	int blamed_corrupted, blamed_other;
};

static const struct {
	unsigned bit;
	const char *name;
} kind_names[] = {
	{RP_CHAOS_KILL, "kill"},	 {RP_CHAOS_STOP, "stop"},
	{RP_CHAOS_HANG, "hang"},	 {RP_CHAOS_DENY, "deny"},
	{RP_CHAOS_CORRUPT, "corrupt"}, {RP_CHAOS_SUPERVISOR, "supervisor-kill"},
};
#define NKINDS (sizeof(kind_names) / sizeof(*kind_names))

static const char *kind_name(unsigned bit)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (kind_names[i].bit == bit)
			return kind_names[i].name;
	return "?";
}

unsigned rp_chaos_kinds(const char *text)
{
	char buf[128], *save = NULL;
	unsigned k = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	for (char *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		unsigned bit = 0;
		for (size_t i = 0; i < NKINDS; i++)
			if (!strcmp(t, kind_names[i].name))
				bit = kind_names[i].bit;
		if (bit == 0)
			return 0;
		k |= bit;
	}
	return k;
}

/* splitmix64: the same seed, the same schedule. */
static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void nap_ns(int64_t ns)
{
	struct timespec t = {ns / 1000000000LL, ns % 1000000000LL};

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* The supervisor's children (its stages) now. */
static int kids(pid_t sup, pid_t *out, int max)
{
	char path[64], buf[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)sup,
		 (int)sup);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL)
		for (char *p = buf, *end; n < max; p = end) {
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			out[n++] = (pid_t)v;
		}
	fclose(f);
	return n;
}

static void cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	buf[0] = '\0';
	if ((f = fopen(path, "re")) != NULL) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	/* The stage host's path says nothing: keep the stage and args. */
	char *host = strstr(buf, "ringpipe-stage ");
	if (host)
		memmove(buf, host + 15, strlen(host + 15) + 1);
}

/* Run the pipeline in a child with stderr to log; returns its pid. */
static pid_t spawn_run(const struct rp_cfg *cfg, const struct rp_run_opts *o,
		       const char *log)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int code;
		/* freopen leaves stderr buffered, and _exit flushes nothing:
		 * the report would be lost. */
		if (freopen(log, "we", stderr) != NULL)
			setvbuf(stderr, NULL, _IONBF, 0);
		code = rp_run(cfg, o);
		fflush(NULL);
		_exit(code);
	}
	return pid;
}

/* Wait for pid up to timeout; its exit code, or -1 if it had to be
 * killed (not live). */
static int wait_code(pid_t pid, int64_t timeout_ns)
{
	int64_t end = rp_now_ns() + timeout_ns;
	int st;

	if (pid <= 0)
		return -1; /* the fork failed: never wait for, or kill, -1 */
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st)
					     : 128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		if (rp_now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		nap_ns(2 * MS);
	}
}

/* Reap whatever orphans came to us; 1 if some were still alive after
 * the grace period. */
static int reap_orphans(int64_t grace_ns)
{
	int64_t end = rp_now_ns() + grace_ns;
	int st;

	for (;;) {
		pid_t r = waitpid(-1, &st, WNOHANG);
		if (r < 0 && errno == ECHILD)
			return 0;
		if (r > 0)
			continue;
		if (rp_now_ns() > end) {
			pid_t k[MAX_KIDS];
			int n = kids(getpid(), k, MAX_KIDS);
			for (int i = 0; i < n; i++)
				kill(k[i], SIGKILL);
			while (waitpid(-1, &st, 0) > 0)
				;
			return 1;
		}
		nap_ns(5 * MS);
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 65537 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 65536);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/* Split into lines (the newlines become NULs). */
static char **lines_of(char *p, size_t n, size_t *count)
{
	size_t k = 0, cap = count_lines(p, n) + 2;
	char **v = malloc(cap * sizeof(*v));

	size_t start = 0;

	for (size_t i = 0; v && i < n; i++)
		if (p[i] == '\n') {
			p[i] = '\0';
			v[k++] = p + start;
			start = i + 1;
		}
	/* A last line without a newline is a line too (the buffer has a
	 * spare byte for its terminator). */
	if (v && start < n) {
		p[n] = '\0';
		v[k++] = p + start;
	}
	*count = k;
	return v;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The oracle: the multiset difference both ways, and whether the common
 * lines kept their order. */
static void judge(char *ref, size_t rn, char *out, size_t on,
		  struct outcome *res)
{
	size_t a, b;
	char **r = lines_of(ref, rn, &a), **o = lines_of(out, on, &b);
	char **rs, **os;
	size_t i = 0, j = 0;

	res->ref_lines = a;
	res->lines = b;
	if (r == NULL || o == NULL) {
		free(r);
		free(o);
		return;
	}
	rs = malloc((a + 1) * sizeof(*rs));
	os = malloc((b + 1) * sizeof(*os));
	if (rs && os) {
		memcpy(rs, r, a * sizeof(*r));
		memcpy(os, o, b * sizeof(*o));
		qsort(rs, a, sizeof(*rs), cmp_str);
		qsort(os, b, sizeof(*os), cmp_str);
		while (i < a || j < b) {
			int c = i == a ? 1 : j == b ? -1 : strcmp(rs[i], os[j]);
			if (c == 0) {
				i++;
				j++;
			} else if (c < 0) {
				res->lost++;
				i++;
			} else {
				res->dup++;
				j++;
			}
		}
		/* Same lines, another sequence: reordered. */
		if (res->lost == 0 && res->dup == 0)
			for (size_t k = 0; k < a; k++)
				if (strcmp(r[k], o[k]) != 0) {
					res->reordered = 1;
					break;
				}
	}
	free(rs);
	free(os);
	free(r);
	free(o);
}

static uint64_t file_lines(const char *path)
{
	size_t n = 0;
	char *p = slurp(path, &n);
	uint64_t c = p ? count_lines(p, n) : 0;

	free(p);
	return c;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Signal pid through a pidfd: a pid read from /proc may have been
 * reaped and reused by the time we act; a pidfd cannot be. */
static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void signal_fd(int pfd, int sig)
{
	if (pfd >= 0)
		syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
}

/* Has pid exited?  (Leaves it to be reaped.) */
static int ended(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	       si.si_pid == pid;
}

static pid_t getppid_of(pid_t pid)
{
	char path[64], buf[256], *rp;
	FILE *f;
	int pp = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL && (rp = strrchr(buf, ')')))
		sscanf(rp + 1, " %*c %d", &pp);
	fclose(f);
	return (pid_t)pp;
}

/* Hit one stage (or the supervisor); fills f. */
static void strike(pid_t sup, struct fault *f, uint64_t *rng, int64_t t0)
{
	pid_t k[MAX_KIDS], victim;
	int n = 0, pfd;

	f->recovery_ns = -1;
	f->at_ns = rp_now_ns() - t0;
	if (f->kind == RP_CHAOS_SUPERVISOR) {
		snprintf(f->victim, sizeof(f->victim), "the supervisor");
		kill(sup, SIGKILL);
		return;
	}
	/* Between a death and its restart there may be nobody to hit. */
	for (int tries = 0;
	     tries < 200 && !ended(sup) && (n = kids(sup, k, MAX_KIDS)) == 0;
	     tries++)
		nap_ns(2 * MS);
	if (n == 0) {
		snprintf(f->victim, sizeof(f->victim), "(no stage running)");
		return;
	}
	victim = k[next(rng) % (uint64_t)n];
	/* Still the supervisor's child once we hold it: the same process. */
	pfd = pidfd_of(victim);
	if (pfd < 0 || getppid_of(victim) != sup) {
		snprintf(f->victim, sizeof(f->victim), "(gone before the hit)");
		if (pfd >= 0)
			close(pfd);
		return;
	}
	cmdline(victim, f->victim, sizeof(f->victim));
	if (f->kind == RP_CHAOS_STOP) {
		int64_t pause = (50 + (int64_t)(next(rng) % 251)) * MS;
		signal_fd(pfd, SIGSTOP);
		nap_ns(pause);
		signal_fd(pfd, SIGCONT);
		close(pfd);
		f->recovery_ns = pause;
		return;
	}
	signal_fd(pfd, SIGKILL);
	close(pfd);
	/* Recovered when the supervisor has as many stages again. */
	for (int64_t t = rp_now_ns(), end = t + 10000 * MS;
	     rp_now_ns() < end; nap_ns(MS)) {
		pid_t now[MAX_KIDS];
		int m = kids(sup, now, MAX_KIDS), gone = 1;
		for (int i = 0; i < m; i++)
			gone &= now[i] != victim;
		if (m >= n && gone) {
			f->recovery_ns = rp_now_ns() - t;
			break;
		}
		if (ended(sup))
			break;
	}
}

/* Have the supervisor relay a hang, deny or corrupt fault to one of the
 * stages that can take it (elig: places in the order); fills f.  A hang
 * or a denial is recovered from when a stage has died and the supervisor
 * has as many again. */
static void relay(pid_t sup, struct fault *f, uint64_t *rng, int64_t t0,
		  const struct rp_cfg *cfg, const int *elig, int nelig,
		  int64_t wait_ns)
{
	unsigned fault = f->kind == RP_CHAOS_HANG   ? RP_FAULT_HANG
			 : f->kind == RP_CHAOS_DENY ? RP_FAULT_DENY
						    : RP_FAULT_CORRUPT;
	int k = elig[next(rng) % (uint64_t)nelig];
	union sigval v = {.sival_int = rp_run_chaos_value(
				  fault, k, (uint32_t)next(rng))};
	pid_t before[MAX_KIDS];
	int n = kids(sup, before, MAX_KIDS);

	f->recovery_ns = -1;
	f->at_ns = rp_now_ns() - t0;
	snprintf(f->victim, sizeof(f->victim), "%s",
		 cfg->stages[cfg->order[k]].name);
	if (sigqueue(sup, RP_CHAOS_SIGNAL, v) < 0 ||
	    f->kind == RP_CHAOS_CORRUPT)
		return;
	for (int64_t t = rp_now_ns(), end = t + wait_ns; rp_now_ns() < end;
	     nap_ns(MS)) {
		pid_t now[MAX_KIDS];
		int m = kids(sup, now, MAX_KIDS), gone = 0;
		for (int i = 0; i < n; i++) {
			int here = 0;
			for (int j = 0; j < m; j++)
				here |= now[j] == before[i];
			gone |= !here;
		}
		if (gone && m >= n) {
			f->recovery_ns = rp_now_ns() - t;
			break;
		}
		if (ended(sup))
			break;
	}
}

/* The stages the chaos run's report says failed: were they all ones a
 * corruption was sent to? */
static void blame(const char *log, const struct fault *fs, unsigned nf,
		  struct outcome *res)
{
	size_t n = 0;
	char *p = slurp(log, &n), *line, *save = NULL;

	if (p == NULL)
		return;
	p[n] = '\0';
	for (line = strtok_r(p, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64], state[16];
		int hit = 0;
		if (sscanf(line, "  %63s %15s", name, state) != 2 ||
		    strcmp(state, "failed") != 0)
			continue;
		for (unsigned i = 0; i < nf; i++)
			hit |= fs[i].kind == RP_CHAOS_CORRUPT &&
			       !strcmp(fs[i].victim, name);
		if (hit)
			res->blamed_corrupted++;
		else
			res->blamed_other++;
	}
	free(p);
}

static void print_json(FILE *j, const struct rp_cfg *cfg,
		       const struct rp_chaos_opts *o, const struct fault *fs,
		       unsigned nf, const struct outcome *res, int64_t med,
		       int64_t worst, unsigned recs)
{
	fprintf(j, "{\"pipeline\":");
	rp_json_str(j, cfg->name);
	fprintf(j, ",\"seed\":%llu,\"faults\":[", (unsigned long long)o->seed);
	for (unsigned i = 0; i < nf; i++) {
		fprintf(j, "%s{\"kind\":\"%s\",\"at_ms\":%.1f,\"victim\":",
			i ? "," : "", kind_name(fs[i].kind),
			(double)fs[i].at_ns / 1e6);
		rp_json_str(j, fs[i].victim);
		fprintf(j, ",\"recovery_ms\":%.1f}",
			fs[i].recovery_ns < 0 ? -1.0
					      : (double)fs[i].recovery_ns / 1e6);
	}
	fprintf(j, "],\"reference_records\":%llu,\"records\":%llu,"
		   "\"lost\":%llu,\"duplicated\":%llu,\"reordered\":%s,"
		   "\"quarantined\":%llu,\"safe\":%s,\"finished\":%s,"
		   "\"exit_code\":%d,\"recoveries\":%u,"
		   "\"recovery_median_ms\":%.1f,\"recovery_worst_ms\":%.1f,"
		   "\"failed_corrupted\":%d,\"failed_other\":%d,"
		   "\"reference_s\":%.3f,\"run_s\":%.3f}\n",
		(unsigned long long)res->ref_lines,
		(unsigned long long)res->lines, (unsigned long long)res->lost,
		(unsigned long long)res->dup,
		res->reordered ? "true" : "false",
		(unsigned long long)res->quarantined,
		res->lost == 0 && res->dup == 0 && !res->reordered ? "true"
								    : "false",
		res->finished ? "true" : "false", res->code, recs,
		(double)med / 1e6, (double)worst / 1e6, res->blamed_corrupted,
		res->blamed_other, res->ref_s, res->run_s);
}

/* The crash-point sweep (chaos.h): 0 if every run matched. */
static int sweep(struct rp_cfg *cfg, const struct rp_run_opts *run,
		 const struct rp_chaos_opts *o, const char *out,
		 const char *ref)
{
	static const char *const points[] = {
		"reserved",	  "commit-half",    "before-publish",
		"peeked",	  "before-release", "ckpt-written"};
	struct rp_run_opts ro = *run;
	unsigned runs = 0, fired = 0, bad = 0;
	char log[320];
	size_t rn = 0;
	char *rb = slurp(ref, &rn);

	if (rb == NULL)
		return 1;
	snprintf(log, sizeof(log), "%s.chaos.log", out);
	ro.quiet = 0;
	for (int k = 0; k < cfg->nstages; k++) {
		const struct rp_cfg_stage *st = &cfg->stages[cfg->order[k]];
		if (st->restart == RP_RESTART_NEVER)
			continue; /* a death there fails the run, rightly */
		for (size_t p = 0; p < sizeof(points) / sizeof(*points); p++) {
			unsigned ok = 0, hit = 0;
			for (unsigned n = 1; n <= o->crashpoints; n++) {
				struct outcome res;
				size_t on = 0, ln = 0;
				char *ob, *lb, *copy;
				memset(&res, 0, sizeof(res));
				ro.crash_stage = k;
				ro.crash_point = (int)rp_crashpoint_parse(points[p]);
				ro.crash_n = n;
				res.code = wait_code(spawn_run(cfg, &ro, log),
						     600000 * MS);
				reap_orphans(5000 * MS);
				ob = slurp(out, &on);
				lb = slurp(log, &ln);
				copy = malloc(rn + 1);
				if (ob && copy) {
					memcpy(copy, rb, rn);
					judge(copy, rn, ob, on, &res);
				} else {
					res.lost = 1;
				}
				runs++;
				if (lb && ln && memmem(lb, ln, "killed by signal 9",
						       18)) {
					hit++;
					fired++;
				}
				if (res.code == 0 && res.lost == 0 &&
				    res.dup == 0 && !res.reordered) {
					ok++;
				} else {
					/* Kept apart: the next run reuses the
					 * names. */
					char keep[400];
					snprintf(keep, sizeof(keep),
						 "%.300s.%s.%s.%u.log", out,
						 st->name, points[p], n);
					rename(log, keep);
					bad++;
					printf("  FAILED      %s at %s, pass %u: exit "
					       "%d, lost %llu, duplicated %llu%s "
					       "(log %s)\n",
					       st->name, points[p], n, res.code,
					       (unsigned long long)res.lost,
					       (unsigned long long)res.dup,
					       res.reordered ? ", reordered" : "",
					       keep);
				}
				free(ob);
				free(lb);
				free(copy);
			}
			printf("  %-16s %-15s %u/%u runs match (%u crashed "
			       "there)\n",
			       st->name, points[p], ok, o->crashpoints, hit);
		}
	}
	free(rb);
	printf("  sweep       %u runs, %u crashed at their point, %u "
	       "differed from the reference\n",
	       runs, fired, bad);
	return bad != 0;
}

int rp_chaos(struct rp_cfg *cfg, const struct rp_run_opts *run,
	     const struct rp_chaos_opts *o)
{
	struct rp_cfg_stage *sink = &cfg->stages[cfg->order[cfg->nstages - 1]];
	char out[300], ref[320], log[320], dead_idx[300];
	struct rp_run_opts ro = *run;
	struct outcome res;
	struct fault *fs;
	int64_t t0, rec[MAX_FAULTS], med = 0, worst = 0, hang_ns = 0;
	unsigned nf = 0, nrec = 0, sup_kill = 0, ncorrupt = 0;
	int elig[RP_CFG_MAX_STAGES], nelig = 0;
	uint64_t rng = o->seed, dead_before;
	char *orig, *rb, *ob;
	size_t rn = 0, on = 0;
	pid_t sup;

	memset(&res, 0, sizeof(res));
	if (!sink->builtin || strcmp(sink->argv[0], "file-sink") != 0 ||
	    sink->argc < 2 || !strcmp(sink->argv[sink->argc - 1], "-")) {
		fprintf(stderr, "ringpipe chaos: %s: the pipeline must end in "
				"file-sink FILE (its output is what is "
				"judged)\n",
			cfg->file);
		return 2;
	}
	if (o->faults > MAX_FAULTS)
		return 2;
	fs = calloc(o->faults + 1, sizeof(*fs));
	if (fs == NULL)
		return 2;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	orig = sink->argv[sink->argc - 1];
	snprintf(out, sizeof(out), "%s", orig);
	snprintf(ref, sizeof(ref), "%s.chaos-ref", out);
	rp_deadletter_prefix(cfg->dead_letter, cfg->name, dead_idx,
			     sizeof(dead_idx) - 8);
	strcat(dead_idx, ".jsonl");
	ro.quiet = 0;
	for (int i = 0; i < cfg->nstages; i++) {
		struct rp_cfg_stage *st = &cfg->stages[i];
		if (st->restart_max < o->faults + 1)
			st->restart_max = o->faults + 1;
		st->restart_window_s = 1;
	}
	/* Faults a stage does itself: only where it can, and a hang needs a
	 * per-record timeout to end it. */
	for (int k = 0; k < cfg->nstages; k++) {
		struct rp_cfg_stage *st = &cfg->stages[cfg->order[k]];
		if (!rp_run_injectable(cfg, k))
			continue;
		elig[nelig++] = k;
		if (st->record_timeout_ms == 0)
			st->record_timeout_ms = 500;
		if ((int64_t)st->record_timeout_ms * MS > hang_ns)
			hang_ns = (int64_t)st->record_timeout_ms * MS;
	}
	if (nelig == 0 && !o->crashpoints &&
	    (o->kinds & (RP_CHAOS_HANG | RP_CHAOS_DENY | RP_CHAOS_CORRUPT))) {
		fprintf(stderr, "ringpipe chaos: %s: no stage can take hang, "
				"deny or corrupt faults: that needs a stage of "
				"the stage library with an input, restart "
				"on-failure, quarantine_after above 0 and a "
				"seccomp policy (not exec)\n",
			cfg->file);
		free(fs);
		return 2;
	}

	/* 1. The reference: the same pipeline, no faults. */
	sink->argv[sink->argc - 1] = ref;
	snprintf(log, sizeof(log), "%s.chaos-ref.log", out);
	t0 = rp_now_ns();
	res.code = wait_code(spawn_run(cfg, &ro, log), 600000 * MS);
	res.ref_s = (double)(rp_now_ns() - t0) / 1e9;
	sink->argv[sink->argc - 1] = orig;
	if (res.code != 0) {
		fprintf(stderr, "ringpipe chaos: the reference run failed "
				"(exit %d); see %s\n",
			res.code, log);
		free(fs);
		return 2;
	}
	reap_orphans(0);

	if (o->crashpoints) {
		int bad;
		printf("ringpipe chaos: pipeline %s: crash-point sweep, "
		       "passes 1..%u\n",
		       cfg->name, o->crashpoints);
		bad = sweep(cfg, run, o, out, ref);
		free(fs);
		return bad;
	}

	/* 2. The same under the schedule. */
	dead_before = file_lines(dead_idx);
	snprintf(log, sizeof(log), "%s.chaos.log", out);
	ro.chaos = 1;
	t0 = rp_now_ns();
	sup = spawn_run(cfg, &ro, log);
	/* The schedule starts once every stage is up (5 s at most): a
	 * fault for a stage still starting would be dropped. */
	for (int64_t end = t0 + 5000 * MS; rp_now_ns() < end && !ended(sup);
	     nap_ns(MS)) {
		pid_t k[MAX_KIDS];
		if (kids(sup, k, MAX_KIDS) >= cfg->nstages)
			break;
	}
	for (unsigned i = 0; i < o->faults; i++) {
		unsigned kinds[NKINDS], nk = 0;
		int64_t mean = (int64_t)o->every_ms * MS;
		for (size_t b = 0; b < NKINDS; b++)
			if ((o->kinds & kind_names[b].bit) &&
			    kind_names[b].bit != RP_CHAOS_SUPERVISOR)
				kinds[nk++] = kind_names[b].bit;
		/* A dead supervisor ends the run: its fault comes last. */
		if ((o->kinds & RP_CHAOS_SUPERVISOR) &&
		    (nk == 0 || i + 1 == o->faults)) {
			kinds[0] = RP_CHAOS_SUPERVISOR;
			nk = 1;
		}
		if (nk == 0)
			break;
		fs[nf].kind = kinds[next(&rng) % nk];
		nap_ns(mean / 2 + (int64_t)(next(&rng) % (uint64_t)(mean + 1)));
		if (ended(sup))
			break; /* finished before the schedule did */
		if (fs[nf].kind & (RP_CHAOS_HANG | RP_CHAOS_DENY |
				   RP_CHAOS_CORRUPT))
			relay(sup, &fs[nf], &rng, t0, cfg, elig, nelig,
			      (fs[nf].kind == RP_CHAOS_HANG ? hang_ns : 0) +
				      1000 * MS);
		else
			strike(sup, &fs[nf], &rng, t0);
		ncorrupt += fs[nf].kind == RP_CHAOS_CORRUPT;
		if (fs[nf].kind != RP_CHAOS_STOP && fs[nf].recovery_ns >= 0)
			rec[nrec++] = fs[nf].recovery_ns;
		sup_kill |= fs[nf].kind == RP_CHAOS_SUPERVISOR;
		nf++;
		if (sup_kill)
			break;
	}
	res.code = wait_code(sup, sup_kill ? 10000 * MS : 600000 * MS);
	res.run_s = (double)(rp_now_ns() - t0) / 1e9;
	res.finished = res.code == 0;
	res.orphans_left = reap_orphans(5000 * MS);
	res.quarantined = file_lines(dead_idx) - dead_before;
	if (ncorrupt)
		blame(log, fs, nf, &res);

	/* A killed supervisor is judged on its cleanup and on the next run
	 * starting cleanly and getting it right. */
	if (sup_kill) {
		snprintf(log, sizeof(log), "%s.chaos-rerun.log", out);
		res.code = wait_code(spawn_run(cfg, &ro, log), 600000 * MS);
		res.rerun_ok = res.code == 0;
		res.finished = res.rerun_ok && !res.orphans_left;
		reap_orphans(5000 * MS);
	}
	rb = slurp(ref, &rn);
	ob = slurp(out, &on);
	if (rb && ob) {
		judge(rb, rn, ob, on, &res);
	} else {
		fprintf(stderr, "ringpipe chaos: cannot read %s\n",
			rb ? out : ref);
		res.lost = rb ? count_lines(rb, rn) : 1;
	}
	free(rb);
	free(ob);

	if (nrec) {
		qsort(rec, nrec, sizeof(*rec), cmp_i64);
		med = rec[nrec / 2];
		worst = rec[nrec - 1];
	}
	{
		int safe = res.lost == 0 && res.dup == 0 && !res.reordered;
		/* A corrupted stage owns its output: what it wrote over its
		 * own records may pass unseen, as any output of a compromised
		 * stage would.  So corruptions are judged on containment:
		 * the run ended (finished, or failed blaming a corrupted
		 * stage), no other stage was blamed, nothing was left. */
		int contained = ncorrupt && !sup_kill && !res.orphans_left &&
				res.blamed_other == 0 &&
				(res.code == 0 ||
				 (res.code == 1 && res.blamed_corrupted > 0));
		char counts[160] = "";
		size_t at = 0;
		for (size_t b = 0; b < NKINDS; b++) {
			unsigned c = 0;
			for (unsigned i = 0; i < nf; i++)
				c += fs[i].kind == kind_names[b].bit;
			if (c && kind_names[b].bit != RP_CHAOS_SUPERVISOR)
				at += (size_t)snprintf(counts + at,
						       sizeof(counts) - at,
						       "%s%u %s", at ? ", " : "",
						       c, kind_names[b].name);
		}
		printf("ringpipe chaos: pipeline %s, seed %llu: %u faults "
		       "(%s%s)\n",
		       cfg->name, (unsigned long long)o->seed, nf, counts,
		       sup_kill ? ", supervisor killed" : "");
		printf("  reference   %.2f s, %llu records in %s\n", res.ref_s,
		       (unsigned long long)res.ref_lines, ref);
		printf("  chaos run   %.2f s, exit %d (log %s.chaos.log)\n",
		       res.run_s, res.code, out);
		if (ncorrupt)
			printf("  containment %s: %s; %d failed stage(s) that "
			       "were corrupted, %d that were not\n",
			       contained ? "ok" : "VIOLATED",
			       res.code == 0	? "finished"
			       : res.code == 1 ? "failed"
					       : "did not end",
			       res.blamed_corrupted, res.blamed_other);
		printf("  safety      %s: lost %llu, duplicated %llu, order %s, "
		       "quarantined %llu\n",
		       ncorrupt ? "not judged (a corrupted stage owns its "
				  "output)"
		       : safe	 ? "ok"
				 : "VIOLATED",
		       (unsigned long long)res.lost,
		       (unsigned long long)res.dup,
		       res.reordered ? "CHANGED" : "kept",
		       (unsigned long long)res.quarantined);
		if (sup_kill)
			printf("  liveness    %s: stages %s after the supervisor "
			       "died; the next run %s\n",
			       res.finished ? "ok" : "FAILED",
			       res.orphans_left ? "STILL RUNNING 5 s"
						: "all gone",
			       res.rerun_ok ? "finished" : "FAILED");
		else if (ncorrupt && res.code == 1)
			printf("  liveness    %s\n",
			       contained ? "stopped by a corruption it caught"
					 : "FAILED");
		else
			printf("  liveness    %s\n",
			       res.finished ? "ok: finished" : "FAILED");
		if (nrec)
			printf("  recoveries  %u: median %.1f ms, worst %.1f ms\n",
			       nrec, (double)med / 1e6, (double)worst / 1e6);
		char kinds[96] = "";
		for (size_t b = 0; b < NKINDS; b++)
			if (o->kinds & kind_names[b].bit) {
				strcat(kinds, ",");
				strcat(kinds, kind_names[b].name);
			}
		printf("  replay      ringpipe chaos %s --seed %llu --faults %u "
		       "--every %u --kinds %s\n",
		       o->file, (unsigned long long)o->seed, o->faults,
		       o->every_ms, kinds + 1);
		if (o->json) {
			FILE *j = fopen(o->json, "we");
			if (j) {
				print_json(j, cfg, o, fs, nf, &res, med, worst,
					   nrec);
				fclose(j);
			} else {
				fprintf(stderr, "ringpipe chaos: %s: %s\n",
					o->json, strerror(errno));
			}
		}
		free(fs);
		return ncorrupt ? !contained : !(safe && res.finished);
	}
}
