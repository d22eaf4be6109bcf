/*
 * chaos.c - ringpipe chaos (chaos.h).
 *
 * The supervisor runs in a child; this process is the fault injector and
 * the judge.  It is the children's subreaper, so when it kills the
 * supervisor the orphaned stages become its own to watch and reap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../ipc/ctl.h"
#include "../shm/crashpoint.h"
#include "../shm/futex.h"
#include "chaos.h"
#include "chaos_judge.h"
#include "deadletter.h"
#include "json.h"

#define MAX_FAULTS 10000
#define MAX_KIDS 64
#define MS 1000000LL

/* One fault as the seed draws it, all of it before the run: the same
 * seed, the same schedule, whatever happens on the way. */
struct plan {
	unsigned kind;    /* RP_CHAOS_* */
	int64_t delay_ns; /* after the fault before */
	uint64_t target;  /* which stage (and copy) */
	uint64_t extra;   /* a stop's pause, a relayed fault's value */
};

struct fault {
	unsigned kind;    /* RP_CHAOS_* */
	int64_t at_ns;    /* since the start of the run */
	int64_t recovery_ns; /* -1: none measured */
	int missed;       /* nobody was there to hit */
	char stage[48];   /* the stage drawn */
	char victim[48];  /* the command line hit, shortened */
};

/* What a run whose supervisor was killed wrote: bad -1 the reference's
 * first lines (and maybe part of the next), -2 not judged, else the
 * first line that differs. */
struct cut {
	uint64_t lines;
	int partial, bad;
};

struct outcome {
	uint64_t ref_lines, lines, lost, dup, quarantined;
	int reordered, finished, code, orphans_left, rerun_ok;
	char orphans[512];        /* what was left, named: reap_orphans */
	int unjudged;             /* out of memory, or the output
				   * unreadable: nothing could be */
	int order_free;           /* replicas without ordered: true: no
				   * order is promised, none judged */
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

void rp_chaos_kinds_list(FILE *f)
{
	for (size_t i = 0; i < NKINDS; i++)
		fprintf(f, "%s%s", i ? ", " : "", kind_names[i].name);
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

/* pid's command line, its words joined by spaces, the stage host's
 * path left out; cut to fit buf. */
static void cmdline(pid_t pid, char *buf, size_t len)
{
	char path[64], all[4096], *from = all, *host;
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((f = fopen(path, "re")) != NULL) {
		n = fread(all, 1, sizeof(all) - 1, f);
		fclose(f);
	}
	if (n > 0 && all[n - 1] == '\0')
		n--; /* the last word's end */
	for (size_t i = 0; i < n; i++)
		if (all[i] == '\0')
			all[i] = ' ';
	all[n] = '\0';
	/* The stage host's path says nothing: keep the stage and args. */
	if ((host = strstr(all, "ringpipe-stage ")) != NULL)
		from = host + 15;
	n = strlen(from);
	if (n >= len)
		n = len - 1;
	memcpy(buf, from, n);
	buf[n] = '\0';
}

/* Run the pipeline in a child with stderr to log; returns its pid. */
static pid_t spawn_run(const struct rp_cfg *cfg, const struct rp_run_opts *o,
		       const char *log)
{
	pid_t pid;

	pid_t chaos = getpid();

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int code, nul;
		/* Chaos gone (killed by its pid, as a CI job's cancel does,
		 * not its whole group as a terminal's Ctrl-C does): its run
		 * is cancelled as a SIGTERM cancels one, not left going. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
		    getppid() != chaos)
			_exit(RP_RUN_TERMINATED);
		nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		/* No run reads chaos's own stdin: each must read the same. */
		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0)
			_exit(RP_RUN_FAILED);
		close(nul);
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

/* Is pid a stage host (a stage, not a program one started)? */
static int is_stage_host(pid_t pid)
{
	char path[64], exe[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) <= 0)
		return 0;
	exe[n] = '\0';
	base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	return strncmp(base, "ringpipe-stage", 14) == 0;
}

/* Reap whatever orphans came to us; not 0 if some were still alive
 * after the grace period (1: stages among them, 2: processes that are
 * not stages, 3: both).  Those are killed, and named into who (when not
 * NULL): `pid 12 stage pass`, or `pid 13 sleep 1000 (not a stage...)`
 * for a stage's program or a process it started and left (a daemon of
 * its own, where no PID namespace took it along), with their children
 * too, which come to us as their parents die.  Bounded: what
 * a SIGKILL cannot end in 5 s more is left, and said. */
int rp_chaos_reap_orphans(int64_t grace_ns, char *who, size_t wlen)
{
	int64_t end = rp_now_ns() + grace_ns, hard = end + 5000 * MS;
	pid_t named[16];
	int nnamed = 0, left = 0, st;
	size_t wn = 0;

	if (who && wlen)
		who[0] = '\0';
	for (;;) {
		pid_t r = waitpid(-1, &st, WNOHANG);
		if (r < 0 && errno == ECHILD)
			return left;
		if (r > 0)
			continue;
		if (rp_now_ns() > hard) {
			if (who && wn + 40 < wlen)
				snprintf(who + wn, wlen - wn, "%s(some not "
					 "ended by SIGKILL)", wn ? "; " : "");
			return left ? left : 1;
		}
		if (rp_now_ns() > end) {
			pid_t k[MAX_KIDS];
			int n = kids(getpid(), k, MAX_KIDS);
			for (int i = 0; i < n; i++) {
				int seen = 0;
				for (int j = 0; j < nnamed; j++)
					seen |= named[j] == k[i];
				if (!seen && who && wn + 8 < wlen) {
					char cmd[80];
					int w;
					int host = is_stage_host(k[i]);
					cmdline(k[i], cmd, sizeof(cmd));
					w = snprintf(who + wn, wlen - wn,
						     "%spid %d %s%s%s",
						     wn ? "; " : "", (int)k[i],
						     host ? "stage " : "",
						     cmd[0] ? cmd : "?",
						     host ? ""
							  : " (not a stage: a "
							    "stage's program, "
							    "or a process it "
							    "started)");
					wn = w < 0 ? wn
					     : wn + (size_t)w >= wlen
						 ? wlen - 1
						 : wn + (size_t)w;
				}
				if (!seen && nnamed < 16)
					named[nnamed++] = k[i];
				left |= is_stage_host(k[i]) ? 1 : 2;
				kill(k[i], SIGKILL);
			}
		}
		nap_ns(5 * MS);
	}
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/* Does a stage run as replicas without ordered: true?  Their output
 * comes in whatever order the copies finish, run to run. */
static int unordered_replicas(const struct rp_cfg *cfg)
{
	for (int i = 0; i < cfg->nstages; i++)
		if (cfg->stages[i].replicas > 1 && !cfg->stages[i].ordered)
			return 1;
	return 0;
}

/* The verdict on an output, into the outcome. */
static void judge(const struct rp_cfg *cfg, const struct rp_chaos_expect *e,
		  const char *out, size_t on, struct outcome *res)
{
	struct rp_chaos_verdict v;

	rp_chaos_judge(e, out, on, &v);
	res->ref_lines = e->count;
	res->lines = v.lines;
	res->lost = v.lost;
	res->dup = v.dup;
	res->order_free = unordered_replicas(cfg);
	res->reordered = v.reordered && !res->order_free;
	res->unjudged = v.unjudged;
}

/* Where needle is in the first of the supervisor's own lines from p on
 * (before end) that holds it: a line whose time stamp is followed by
 * "ringpipe: ".  A stage's stderr comes as "STAMP NAME: ..." (escaped,
 * one line each, and no stage is named ringpipe), so nothing a stage
 * prints is taken for the supervisor's word.  NULL if none. */
static const char *own_line_with(const char *p, const char *end,
				 const char *needle)
{
	size_t nl = strlen(needle);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *stop = eol ? eol : end;
		const char *sp = memchr(p, ' ', (size_t)(stop - p));
		if (sp && (size_t)(stop - sp) > 10 &&
		    memcmp(sp + 1, "ringpipe: ", 10) == 0) {
			const char *hit = memmem(sp, (size_t)(stop - sp), needle,
						 nl);
			if (hit)
				return hit;
		}
		p = stop + 1;
	}
	return NULL;
}

void rp_chaos_relays_done(const char *log, unsigned n, int *done)
{
	const char *p = log, *end = log + strlen(log);
	unsigned i = 0;

	for (; i < n; i++) {
		const char *sent = own_line_with(p, end,
						 " fault sent to stage ");
		const char *dropped = own_line_with(p, end, " fault for stage ");
		const char *at;
		/* (The next of the two, if any is left.) */
		if (sent == NULL && dropped == NULL)
			break;
		if (dropped == NULL || (sent != NULL && sent < dropped)) {
			done[i] = 1;
			at = sent;
		} else {
			done[i] = 0;
			at = dropped;
		}
		/* On from the next line. */
		p = memchr(at, '\n', (size_t)(end - at));
		p = p ? p + 1 : end;
	}
	for (; i < n; i++)
		done[i] = 0; /* never handled: the run ended first */
}

/* A run's dead-letter output: FILE + suffix, its files started over.
 * (The caller checked that it fits.) */
static void dead_letter_for(struct rp_cfg *cfg, const char *out,
			    const char *suffix)
{
	char p[sizeof(cfg->dead_letter) + 8];

	snprintf(cfg->dead_letter, sizeof(cfg->dead_letter), "%s%s", out,
		 suffix);
	snprintf(p, sizeof(p), "%s.rec", cfg->dead_letter);
	unlink(p);
	snprintf(p, sizeof(p), "%s.jsonl", cfg->dead_letter);
	unlink(p);
}

static uint64_t file_lines(const char *path)
{
	size_t n = 0;
	char *p = rp_chaos_slurp(path, &n);
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

/* pid's parent, 0 if it is gone or has ended (a zombie not reaped yet:
 * a signal would do nothing). */
static pid_t getppid_of(pid_t pid)
{
	char path[64], buf[256], *rp, state = 0;
	FILE *f;
	int pp = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL && (rp = strrchr(buf, ')')))
		sscanf(rp + 1, " %c %d", &state, &pp);
	fclose(f);
	return state == 'Z' || state == 'X' ? 0 : (pid_t)pp;
}

/* The stage a planned fault is for: a stage-library one able to take
 * it for the kinds a stage does itself (elig), any for kill and stop. */
static const char *plan_stage(const struct rp_cfg *cfg, const struct plan *pl,
			      const int *elig, int nelig)
{
	if (pl->kind == RP_CHAOS_SUPERVISOR)
		return "(supervisor)";
	if (pl->kind & (RP_CHAOS_HANG | RP_CHAOS_DENY | RP_CHAOS_CORRUPT))
		return nelig ? cfg->stages[cfg->order[elig[pl->target %
							   (uint64_t)nelig]]]
				   .name
			     : "(none)";
	return cfg->stages[cfg->order[pl->target % (uint64_t)cfg->nstages]]
	    .name;
}

/* Hit one stage (or the supervisor); fills f.  The stage is the one
 * the plan draws, in pipeline order; of the processes the supervisor
 * says run it (copies, then their standbys), the one the plan draws
 * too. */
static void strike(pid_t sup, const struct rp_run_pids *who, struct fault *f,
		   const struct plan *pl, const struct rp_cfg *cfg, int64_t t0)
{
	int place = (int)(pl->target % (uint64_t)cfg->nstages);
	const struct rp_cfg_stage *st = &cfg->stages[cfg->order[place]];
	pid_t match[MAX_KIDS], victim;
	int nm = 0, pfd;

	f->recovery_ns = -1;
	f->at_ns = rp_now_ns() - t0;
	if (f->kind == RP_CHAOS_SUPERVISOR) {
		snprintf(f->stage, sizeof(f->stage), "(supervisor)");
		snprintf(f->victim, sizeof(f->victim), "the supervisor");
		kill(sup, SIGKILL);
		return;
	}
	snprintf(f->stage, sizeof(f->stage), "%s", st->name);
	/* Between a death and its restart it may not be there; what the
	 * table says of one just ended (a zombie, or gone) is not yet
	 * rewritten. */
	for (int tries = 0; tries < 200 && !ended(sup) && nm <= 0; tries++) {
		int got = rp_pids_at(who, place, match, MAX_KIDS);
		nm = 0;
		for (int i = 0; i < got; i++)
			if (getppid_of(match[i]) == sup)
				match[nm++] = match[i];
		if (nm <= 0)
			nap_ns(2 * MS);
	}
	if (nm <= 0) {
		f->missed = 1;
		snprintf(f->victim, sizeof(f->victim), "(not running)");
		return;
	}
	victim = match[(pl->target >> 32) % (uint64_t)nm];
	/* Still the supervisor's child once we hold it: the same process. */
	pfd = pidfd_of(victim);
	if (pfd < 0 || getppid_of(victim) != sup) {
		f->missed = 1;
		snprintf(f->victim, sizeof(f->victim), "(gone before the hit)");
		if (pfd >= 0)
			close(pfd);
		return;
	}
	cmdline(victim, f->victim, sizeof(f->victim));
	if (f->kind == RP_CHAOS_STOP) {
		int64_t pause = (50 + (int64_t)(pl->extra % 251)) * MS;
		signal_fd(pfd, SIGSTOP);
		nap_ns(pause);
		signal_fd(pfd, SIGCONT);
		close(pfd);
		f->recovery_ns = pause;
		return;
	}
	signal_fd(pfd, SIGKILL);
	close(pfd);
	/* Recovered when the stage has as many processes at work again
	 * (past their hand-shakes), the victim not among them. */
	for (int64_t t = rp_now_ns(), end = t + 10000 * MS;
	     rp_now_ns() < end; nap_ns(MS)) {
		pid_t now[MAX_KIDS];
		int m = rp_pids_at(who, place, now, MAX_KIDS), back = 0;
		for (int i = 0; i < m; i++)
			back += now[i] != victim && getppid_of(now[i]) == sup;
		if (back >= nm) {
			f->recovery_ns = rp_now_ns() - t;
			break;
		}
		if (ended(sup))
			break;
	}
}

/* A deny fault makes the stage call socket(), which no policy allows
 * unless the stage's own rules do: then nothing would be denied. */
static int allows_socket(const struct rp_cfg_stage *st)
{
	int nr = rp_syscall_number("socket");

	for (int i = 0; i < st->sandbox.nallow; i++)
		if (st->sandbox.allow[i].nr == nr)
			return 1;
	return 0;
}

/* Was a deny fault missed for a stage that allows its call? */
static int denies_allowed(const struct rp_cfg *cfg, const struct fault *fs,
			  unsigned nf)
{
	for (unsigned i = 0; i < nf; i++)
		for (int k = 0; fs[i].missed && fs[i].kind == RP_CHAOS_DENY &&
				k < cfg->nstages; k++)
			if (!strcmp(cfg->stages[k].name, fs[i].stage) &&
			    allows_socket(&cfg->stages[k]))
				return 1;
	return 0;
}

/* Have the supervisor relay a hang, deny or corrupt fault to one of the
 * stages that can take it (elig: places in the order); fills f.  A hang
 * or a denial is recovered from when one of the stage's processes at
 * work has died and it has as many at work again. */
static void relay(pid_t sup, const struct rp_run_pids *who, struct fault *f,
		  const struct plan *pl, int64_t t0, const struct rp_cfg *cfg,
		  const int *elig, int nelig, int64_t wait_ns)
{
	unsigned fault = f->kind == RP_CHAOS_HANG   ? RP_FAULT_HANG
			 : f->kind == RP_CHAOS_DENY ? RP_FAULT_DENY
						    : RP_FAULT_CORRUPT;
	int k = elig[pl->target % (uint64_t)nelig];
	union sigval v = {.sival_int = rp_run_chaos_value(
				  fault, k, (uint32_t)pl->extra)};
	pid_t before[MAX_KIDS];
	int got = rp_pids_at(who, k, before, MAX_KIDS), n = 0;

	/* At work now, not one the table has yet to forget. */
	for (int i = 0; i < got; i++)
		if (getppid_of(before[i]) == sup)
			before[n++] = before[i];

	f->recovery_ns = -1;
	f->at_ns = rp_now_ns() - t0;
	snprintf(f->stage, sizeof(f->stage), "%s",
		 cfg->stages[cfg->order[k]].name);
	snprintf(f->victim, sizeof(f->victim), "%s", f->stage);
	/* (Said before the run; the schedule stays what the seed drew.) */
	if ((f->kind == RP_CHAOS_DENY &&
	     allows_socket(&cfg->stages[cfg->order[k]])) ||
	    sigqueue(sup, RP_CHAOS_SIGNAL, v) < 0) {
		f->missed = 1;
		return;
	}
	if (f->kind == RP_CHAOS_CORRUPT)
		return;
	for (int64_t t = rp_now_ns(), end = t + wait_ns; rp_now_ns() < end;
	     nap_ns(MS)) {
		pid_t now[MAX_KIDS];
		int m = rp_pids_at(who, k, now, MAX_KIDS), gone = 0, back = 0;
		for (int i = 0; i < n; i++) {
			int here = 0;
			for (int j = 0; j < m; j++)
				here |= now[j] == before[i];
			gone |= !here;
		}
		for (int j = 0; j < m; j++)
			back += getppid_of(now[j]) == sup;
		if (gone && back >= n) {
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
	char *p = rp_chaos_slurp(log, &n), *line, *save = NULL;

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

/* A path as a shell takes it back: as it is when it is plain, else in
 * single quotes (its own single quotes as '\''). */
static void shell_word(const char *w)
{
	if (w[0] != '\0' &&
	    strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789_-./+,:@%=") == strlen(w)) {
		fputs(w, stdout);
		return;
	}
	putchar('\'');
	for (; *w; w++)
		if (*w == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*w);
	putchar('\'');
}

/* contained: -1 without corruptions (not judged on containment). */
static void print_json(FILE *j, const struct rp_cfg *cfg,
		       const struct rp_chaos_opts *o, const struct fault *fs,
		       unsigned nf, const struct outcome *res,
		       const struct cut *cut, int sup_kill, int contained,
		       const char *schedule, int64_t med, int64_t worst,
		       unsigned recs)
{
	unsigned missed = 0;
	int safe = res->lost == 0 && res->dup == 0 && !res->reordered &&
		   cut->bad == -1;

	fprintf(j, "{\"pipeline\":");
	rp_json_str(j, cfg->name);
	fprintf(j, ",\"seed\":%llu,\"schedule\":", (unsigned long long)o->seed);
	rp_json_str(j, schedule ? schedule : "");
	/* What was expected: a sums file given, or (null) a reference run. */
	fprintf(j, ",\"expect\":");
	if (o->expect)
		rp_json_str(j, o->expect);
	else
		fputs("null", j);
	fprintf(j, ",\"faults\":[");
	for (unsigned i = 0; i < nf; i++) {
		missed += fs[i].missed;
		fprintf(j, "%s{\"kind\":\"%s\",\"at_ms\":%.1f,\"stage\":",
			i ? "," : "", kind_name(fs[i].kind),
			(double)fs[i].at_ns / 1e6);
		rp_json_str(j, fs[i].stage);
		fprintf(j, ",\"victim\":");
		rp_json_str(j, fs[i].victim);
		fprintf(j, ",\"missed\":%s,\"recovery_ms\":",
			fs[i].missed ? "true" : "false");
		/* (null: not timed - missed, a stop, the supervisor) */
		if (fs[i].recovery_ns < 0)
			fprintf(j, "null}");
		else
			fprintf(j, "%.1f}", (double)fs[i].recovery_ns / 1e6);
	}
	fprintf(j, "],\"missed\":%u,\"injected\":%u,\"judged\":%s,"
		   "\"contained\":%s",
		missed, nf - missed,
		res->unjudged || cut->bad == -2 || contained >= 0 ? "false"
							    : "true",
		contained < 0 ? "null" : contained ? "true" : "false");
	if (sup_kill)
		fprintf(j, ",\"cut_records\":%llu,\"cut_partial\":%s,"
			   "\"cut_partial_checked\":%s,"
			   "\"cut_differs_at\":%lld,\"orphans_left\":%s,"
			   "\"rerun_ok\":%s",
			(unsigned long long)cut->lines,
			cut->partial ? "true" : "false",
			cut->partial == 2 ? "false"
			: cut->partial	  ? "true"
					  : "null",
			cut->bad >= 0 ? (long long)cut->bad + 1 : 0,
			res->orphans_left ? "true" : "false",
			res->rerun_ok ? "true" : "false");
	if (sup_kill && res->orphans[0]) {
		fprintf(j, ",\"orphans\":");
		rp_json_str(j, res->orphans);
	}
	fprintf(j, ",");
	fprintf(j, "\"reference_records\":%llu,\"records\":%llu,"
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
		contained >= 0 || res->unjudged || cut->bad == -2 ? "null"
		: safe					      ? "true"
							      : "false",
		res->finished ? "true" : "false", res->code, recs,
		(double)med / 1e6, (double)worst / 1e6, res->blamed_corrupted,
		res->blamed_other, res->ref_s, res->run_s);
}

/* Does a source read the run's stdin by name (file-source -)? */
static int reads_stdin(const struct rp_cfg_stage *st)
{
	if (!st->builtin || strcmp(st->argv[0], "file-source") != 0)
		return 0;
	for (int i = 1; i < st->argc; i++)
		if (!strcmp(st->argv[i], "-"))
			return 1;
	return 0;
}

/* A source whose command is not ours to read: an exec one, or a stage
 * program.  It may read stdin without saying so. */
static int may_read_stdin(const struct rp_cfg_stage *st)
{
	return !st->builtin || strcmp(st->argv[0], "exec") == 0;
}

/* Was chaos given something on stdin (a pipe, a file, a socket), which
 * the user may mean its runs to read? */
static int stdin_given(void)
{
	struct stat st;

	return fstat(STDIN_FILENO, &st) == 0 &&
	       (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) ||
		S_ISSOCK(st.st_mode));
}

/* What a kill will show of stages that do not promise to recover from
 * one: said before, so a verdict of loss or duplicates is not taken for
 * a fault of ringpipe's. */
static void kill_notes(const struct rp_cfg *cfg)
{
	for (int k = 0; k < cfg->nstages; k++) {
		const struct rp_cfg_stage *st = &cfg->stages[cfg->order[k]];
		int stream_exec = st->builtin && !strcmp(st->argv[0], "exec") &&
				  !rp_cfg_exec_option(st, "--each");
		const char *promise =
			rp_run_promise(st, k < cfg->nstages - 1);
		if (st->restart == RP_RESTART_NEVER)
			fprintf(stderr, "ringpipe chaos: note: stage %s has "
					"restart: never%s: a kill there ends "
					"the run, judged a loss (give it "
					"restart: on-failure to test its "
					"recovery)\n",
				st->name,
				stream_exec ? " (exec's default)" : "");
		else if (promise != NULL)
			fprintf(stderr, "ringpipe chaos: note: stage %s "
					"delivers %s: what a kill there loses "
					"or repeats is judged so\n",
				st->name, promise);
	}
}

/* One run of the sweep that differed from the reference, as a JSON
 * object (the i-th: a comma before all but the first). */
static void fail_json(FILE *f, unsigned i, const char *stage,
		      const char *point, unsigned pass,
		      const struct outcome *res, const char *log)
{
	fprintf(f, "%s{\"stage\":", i ? "," : "");
	rp_json_str(f, stage);
	fprintf(f, ",\"point\":\"%s\",\"pass\":%u,\"exit\":%d,\"lost\":"
		   "%llu,\"duplicated\":%llu,\"reordered\":%s,\"judged\":%s,"
		   "\"log\":",
		point, pass, res->code, (unsigned long long)res->lost,
		(unsigned long long)res->dup, res->reordered ? "true" : "false",
		res->unjudged ? "false" : "true");
	rp_json_str(f, log);
	fputc('}', f);
}

/* The crash-point sweep (chaos.h): 0 if every run matched.  With json,
 * the same as one object: each stage and point's tally in "points",
 * each run that differed in "failed". */
static int sweep(struct rp_cfg *cfg, const struct rp_run_opts *run,
		 const struct rp_chaos_opts *o, const char *out,
		 const char *got, const struct rp_chaos_expect *e, FILE *json)
{
	static const char *const points[] = {
		"reserved",	  "commit-half",    "before-publish",
		"peeked",	  "before-release", "ckpt-written"};
	struct rp_run_opts ro = *run;
	unsigned runs = 0, fired = 0, bad = 0, npoints = 0;
	char log[320], *fbuf = NULL;
	size_t flen = 0;
	FILE *fails = json ? open_memstream(&fbuf, &flen) : NULL;

	snprintf(log, sizeof(log), "%s.chaos.log", out);
	ro.quiet = 0;
	if (json) {
		fprintf(json, "{\"pipeline\":");
		rp_json_str(json, cfg->name);
		fprintf(json, ",\"mode\":\"crashpoints\",\"passes\":%u,"
			      "\"points\":[",
			o->crashpoints);
	}
	for (int k = 0; k < cfg->nstages; k++) {
		const struct rp_cfg_stage *st = &cfg->stages[cfg->order[k]];
		if (st->restart == RP_RESTART_NEVER)
			continue; /* a death there fails the run, rightly */
		for (size_t p = 0; p < sizeof(points) / sizeof(*points); p++) {
			unsigned ok = 0, hit = 0;
			for (unsigned n = 1; n <= o->crashpoints; n++) {
				struct outcome res;
				size_t on = 0, ln = 0;
				char *ob, *lb;
				memset(&res, 0, sizeof(res));
				ro.crash_stage = k;
				ro.crash_point = (int)rp_crashpoint_parse(points[p]);
				ro.crash_n = n;
				unlink(got); /* each run's output its own */
				res.code = wait_code(spawn_run(cfg, &ro, log),
						     600000 * MS);
				rp_chaos_reap_orphans(5000 * MS, NULL, 0);
				ob = rp_chaos_slurp(got, &on);
				lb = rp_chaos_slurp(log, &ln);
				if (ob)
					judge(cfg, e, ob, on, &res);
				else
					res.lost = 1;
				runs++;
				if (lb && ln &&
				    own_line_with(lb, lb + ln,
						  "killed by signal 9")) {
					hit++;
					fired++;
				}
				if (res.code == 0 && res.lost == 0 &&
				    res.dup == 0 && !res.reordered &&
				    !res.unjudged) {
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
					if (fails)
						fail_json(fails, bad - 1, st->name,
							  points[p], n, &res,
							  keep);
					printf("  FAILED      %s at %s, pass %u: exit "
					       "%d, lost %llu, duplicated %llu%s%s "
					       "(log %s)\n",
					       st->name, points[p], n, res.code,
					       (unsigned long long)res.lost,
					       (unsigned long long)res.dup,
					       res.reordered ? ", reordered" : "",
					       res.unjudged ? ", not judged (out "
							      "of memory)"
							    : "",
					       keep);
				}
				free(ob);
				free(lb);
			}
			printf("  %-16s %-15s %u/%u runs match (%u crashed "
			       "there)\n",
			       st->name, points[p], ok, o->crashpoints, hit);
			if (json) {
				fprintf(json, "%s{\"stage\":", npoints++ ?
							      "," : "");
				rp_json_str(json, st->name);
				fprintf(json, ",\"point\":\"%s\",\"match\":%u,"
					      "\"runs\":%u,\"crashed\":%u}",
					points[p], ok, o->crashpoints, hit);
			}
		}
	}
	printf("  sweep       %u runs, %u crashed at their point, %u "
	       "differed from the reference\n",
	       runs, fired, bad);
	if (json) {
		/* (The failed runs, gathered apart as they came.) */
		fprintf(json, "],\"runs\":%u,\"crashed\":%u,\"differed\":"
			      "%u,\"safe\":%s,\"failed\":[",
			runs, fired, bad, bad ? "false" : "true");
		if (fails != NULL && fclose(fails) == 0 && fbuf != NULL)
			fwrite(fbuf, 1, flen, json);
		fprintf(json, "]}\n");
	} else if (fails != NULL) {
		fclose(fails);
	}
	free(fbuf);
	return bad != 0;
}

int rp_chaos(struct rp_cfg *cfg, const struct rp_run_opts *run,
	     const struct rp_chaos_opts *o)
{
	struct rp_cfg_stage *sink = &cfg->stages[cfg->order[cfg->nstages - 1]];
	const struct rp_cfg_stage *src = &cfg->stages[cfg->order[0]];
	char out[300], ref[320], log[320], dead_idx[320], chaos_out[320];
	struct rp_run_opts ro = *run;
	struct outcome res;
	struct cut cut = {0, 0, -1};
	struct fault *fs;
	struct plan *plan;
	struct stat sst;
	char *schedule = NULL;
	int64_t t0, rec[MAX_FAULTS], med = 0, worst = 0, hang_ns = 0;
	unsigned nf = 0, nrec = 0, sup_kill = 0, ncorrupt = 0, missed = 0;
	int sup_skipped = 0;
	int elig[RP_CFG_MAX_STAGES], nelig = 0;
	uint64_t rng = o->seed, dead_before;
	char *orig, *ob, cut_path[330] = "";
	size_t on = 0;
	struct rp_run_pids *who;
	struct rp_chaos_expect exp;
	int sums_kept = 0;
	FILE *json = NULL;
	pid_t sup;

	memset(&res, 0, sizeof(res));
	memset(&exp, 0, sizeof(exp));
	if (!sink->builtin || strcmp(sink->argv[0], "file-sink") != 0 ||
	    sink->argc < 2 || !strcmp(sink->argv[sink->argc - 1], "-")) {
		fprintf(stderr, "ringpipe chaos: %s: the pipeline must end in "
				"file-sink FILE (its output is what is "
				"judged)\n",
			cfg->file);
		return 2;
	}
	/* (A FIFO or a device would be read back as the output: it would
	 * wait for a writer, or read something else.) */
	if (stat(sink->argv[sink->argc - 1], &sst) == 0 &&
	    !S_ISREG(sst.st_mode)) {
		fprintf(stderr, "ringpipe chaos: %s: file-sink %s is not a "
				"regular file (its output is read back to be "
				"judged)\n",
			cfg->file, sink->argv[sink->argc - 1]);
		return 2;
	}
	/* Every run reads the input anew (the reference, the chaos run, a
	 * rerun, each of a sweep), and stdin is used up by the first: a
	 * pipe cannot go back, a file is left at its end.  So every run
	 * gets /dev/null for stdin (spawn_run), and a source meant to
	 * read it is refused. */
	if (reads_stdin(src)) {
		fprintf(stderr, "ringpipe chaos: %s: stage %s reads stdin: "
				"each run reads its input again, and the "
				"first would use stdin up (name the file "
				"instead of -)\n",
			cfg->file, src->name);
		return 2;
	}
	if (may_read_stdin(src) && stdin_given()) {
		fprintf(stderr, "ringpipe chaos: %s: stage %s's command may "
				"read stdin, which each run would read "
				"again: its runs get /dev/null for stdin; "
				"name a file for it, or give chaos no stdin "
				"(< /dev/null)\n",
			cfg->file, src->name);
		return 2;
	}
	if ((o->kinds & RP_CHAOS_CORRUPT) && (o->kinds & RP_CHAOS_SUPERVISOR)) {
		fprintf(stderr, "ringpipe chaos: corrupt and supervisor-kill "
				"cannot be judged in one run (a corruption on "
				"its containment, a supervisor's death on its "
				"cleanup): run them apart\n");
		return 2;
	}
	if (o->faults > MAX_FAULTS)
		return 2;
	if (o->kinds & RP_CHAOS_KILL)
		kill_notes(cfg);
	fs = calloc(o->faults + 1, sizeof(*fs));
	plan = calloc(o->faults + 1, sizeof(*plan));
	if (fs == NULL || plan == NULL) {
		free(fs);
		free(plan);
		return 2;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	orig = sink->argv[sink->argc - 1];
	snprintf(out, sizeof(out), "%s", orig);
	/* Each run writes its output afresh (each is judged whole): a
	 * sink's --append, for the real job, is left out. */
	for (int i = 1; i < sink->argc - 1 &&
			strcmp(sink->argv[i], "--") != 0;)
		if (strcmp(sink->argv[i], "--append") == 0) {
			free(sink->argv[i]);
			memmove(&sink->argv[i], &sink->argv[i + 1],
				(size_t)(sink->argc - i) * sizeof(*sink->argv));
			sink->argc--;
		} else {
			i++;
		}
	snprintf(ref, sizeof(ref), "%s.chaos-ref", out);
	/* The runs with faults write beside FILE too: FILE itself (a real
	 * job's output) is never written. */
	snprintf(chaos_out, sizeof(chaos_out), "%s.chaos", out);
	/* What its runs quarantine goes beside FILE, a file per run,
	 * started over: never into the pipeline's own dead-letter output
	 * (a replay of that would feed the records of every chaos run). */
	if (strlen(out) + sizeof(".chaos-rerun.dead") > sizeof(cfg->dead_letter)) {
		fprintf(stderr, "ringpipe chaos: %s: a path too long for the "
				"files beside it\n", out);
		free(fs);
		free(plan);
		return 2;
	}
	dead_letter_for(cfg, out, ".chaos-ref.dead");
	snprintf(dead_idx, sizeof(dead_idx), "%s.chaos.dead.jsonl", out);
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
		if ((o->kinds & RP_CHAOS_DENY) && allows_socket(st))
			fprintf(stderr, "ringpipe chaos: note: stage %s allows "
					"socket: a deny fault drawn for it is "
					"not sent (its call would not be "
					"denied), counted missed\n",
				st->name);
		/* (Only for hangs: elsewhere it would change what the runs
		 * do, a slow record quarantined in one and not the other.) */
		if (st->record_timeout_ms == 0 && (o->kinds & RP_CHAOS_HANG))
			st->record_timeout_ms = 500;
		if ((int64_t)st->record_timeout_ms * MS > hang_ns)
			hang_ns = (int64_t)st->record_timeout_ms * MS;
	}
	if (nelig == 0 && !o->crashpoints &&
	    (o->kinds & (RP_CHAOS_HANG | RP_CHAOS_DENY | RP_CHAOS_CORRUPT))) {
		fprintf(stderr, "ringpipe chaos: %s: no stage can take hang, "
				"deny or corrupt faults: that needs a stage of "
				"the stage library with an input, restart "
				"on-failure and a seccomp policy (not exec)\n",
			cfg->file);
		free(fs);
		free(plan);
		return 2;
	}

	/* Where the verdict goes is known before anything runs: a path
	 * that cannot be written fails now, not after the runs.  (A run
	 * that fails before its verdict leaves it empty: no earlier verdict
	 * is taken for this one's.) */
	if (o->json && (json = fopen(o->json, "we")) == NULL) {
		fprintf(stderr, "ringpipe chaos: cannot write %s (--json): "
				"%s\n",
			o->json, strerror(errno));
		free(fs);
		free(plan);
		return 2;
	}

	/* 1. What is expected: a sums file given, or the reference, the
	 * same pipeline without faults (its sums kept for later runs). */
	if (o->expect) {
		char why[400];
		int err = rp_chaos_expect_sums(&exp, o->expect, why,
					       sizeof(why));
		if (err) {
			fprintf(stderr, "ringpipe chaos: %s%s\n", why,
				err == -ENOMEM ? ": NOT JUDGED" : "");
			if (json)
				fclose(json);
			free(fs);
			free(plan);
			return err == -ENOMEM ? 1 : 2;
		}
		snprintf(ref, sizeof(ref), "%s", o->expect);
	} else {
		char sums[340];
		int err;
		sink->argv[sink->argc - 1] = ref;
		unlink(ref);
		snprintf(log, sizeof(log), "%s.chaos-ref.log", out);
		t0 = rp_now_ns();
		res.code = wait_code(spawn_run(cfg, &ro, log), 600000 * MS);
		res.ref_s = (double)(rp_now_ns() - t0) / 1e9;
		sink->argv[sink->argc - 1] = orig;
		if (res.code != 0) {
			fprintf(stderr, "ringpipe chaos: the reference run "
					"failed (exit %d); see %s\n",
				res.code, log);
			if (json)
				fclose(json);
			free(fs);
			free(plan);
			return 2;
		}
		rp_chaos_reap_orphans(0, NULL, 0);
		if ((err = rp_chaos_expect_file(&exp, ref)) != 0) {
			fprintf(stderr, "ringpipe chaos: the reference %s: "
					"%s%s\n",
				ref, strerror(-err),
				err == -ENOMEM ? ": NOT JUDGED" : "");
			if (json)
				fclose(json);
			free(fs);
			free(plan);
			return err == -ENOMEM ? 1 : 2;
		}
		snprintf(sums, sizeof(sums), "%s.sums", ref);
		unlink(sums);
		if ((err = rp_chaos_sums_write(&exp, sums)) != 0) {
			fprintf(stderr, "ringpipe chaos: %s: %s\n", sums,
				strerror(-err));
			unlink(sums);
		} else {
			sums_kept = 1;
		}
	}

	{
		/* (The stage's words are the configuration's to free.) */
		char *dup = strdup(chaos_out);
		if (dup == NULL) {
			if (json)
				fclose(json);
			rp_chaos_expect_free(&exp);
			free(fs);
			free(plan);
			return 2;
		}
		free(sink->argv[sink->argc - 1]);
		sink->argv[sink->argc - 1] = dup;
	}
	if (o->crashpoints) {
		int bad;
		printf("ringpipe chaos: pipeline %s: crash-point sweep, "
		       "passes 1..%u\n",
		       cfg->name, o->crashpoints);
		/* (Its runs' quarantines, all of them, apart too.) */
		dead_letter_for(cfg, out, ".chaos.dead");
		bad = sweep(cfg, run, o, out, chaos_out, &exp, json);
		if (json != NULL && fclose(json) != 0) {
			fprintf(stderr, "ringpipe chaos: writing %s (--json): "
					"%s\n",
				o->json, strerror(errno));
			bad = 1;
		}
		json = NULL;
		printf("  replay      ringpipe chaos %s",
		       o->file[0] == '-' ? "-- " : "");
		shell_word(o->file);
		printf(" --crashpoints %u%s", o->crashpoints,
		       run->fast_restart ? " --fast-restart" : "");
		if (o->expect) {
			printf(" --expect ");
			shell_word(o->expect);
		}
		printf("\n");
		rp_chaos_expect_free(&exp);
		free(fs);
		free(plan);
		return bad;
	}

	/* 2. The same under the schedule, drawn whole first: a fault that
	 * finds nobody to hit, or a run that ends early, shifts nothing. */
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
		plan[i].kind = nk ? kinds[next(&rng) % nk] : 0;
		plan[i].delay_ns =
		    mean / 2 + (int64_t)(next(&rng) % (uint64_t)(mean + 1));
		plan[i].target = next(&rng);
		plan[i].extra = next(&rng);
	}
	/* The whole of it, as drawn, for the JSON: "kind@stage ...". */
	if ((schedule = malloc((size_t)o->faults * 80 + 1)) != NULL) {
		size_t at = 0;
		schedule[0] = '\0';
		for (unsigned i = 0; i < o->faults && plan[i].kind; i++)
			at += (size_t)sprintf(
			    schedule + at, "%s%s@%.60s", i ? " " : "",
			    kind_name(plan[i].kind),
			    plan_stage(cfg, &plan[i], elig, nelig));
	}
	/* The output starts empty: what a run that never opened it leaves
	 * is not judged. */
	unlink(chaos_out);
	/* What an earlier run with a supervisor kill left beside it (its
	 * cut output, its rerun's log and dead letters) is not this run's. */
	snprintf(cut_path, sizeof(cut_path), "%s.chaos-cut", out);
	unlink(cut_path);
	cut_path[0] = '\0';
	snprintf(log, sizeof(log), "%s.chaos-rerun.log", out);
	unlink(log);
	dead_letter_for(cfg, out, ".chaos-rerun.dead");
	dead_letter_for(cfg, out, ".chaos.dead");
	dead_before = file_lines(dead_idx);
	snprintf(log, sizeof(log), "%s.chaos.log", out);
	ro.chaos = 1;
	/* Where the supervisor says who runs each stage: a fault hits the
	 * stage drawn, whatever else runs the same command line. */
	who = mmap(NULL, sizeof(*who), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (who == MAP_FAILED) {
		fprintf(stderr, "ringpipe chaos: a table of its stages' "
				"processes: %s\n",
			strerror(errno));
		if (json)
			fclose(json);
		rp_chaos_expect_free(&exp);
		free(fs);
		free(plan);
		free(schedule);
		return 2;
	}
	ro.pids = who;
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
		if (plan[i].kind == 0)
			break;
		fs[nf].kind = plan[i].kind;
		nap_ns(plan[i].delay_ns);
		if (ended(sup)) {
			/* Finished before the schedule did: a supervisor
			 * kill still to come is said never to have come. */
			for (unsigned j = i; j < o->faults && plan[j].kind; j++)
				sup_skipped |= plan[j].kind ==
					       RP_CHAOS_SUPERVISOR;
			break;
		}
		if (fs[nf].kind & (RP_CHAOS_HANG | RP_CHAOS_DENY |
				   RP_CHAOS_CORRUPT))
			relay(sup, who, &fs[nf], &plan[i], t0, cfg, elig, nelig,
			      (fs[nf].kind == RP_CHAOS_HANG ? hang_ns : 0) +
				      1000 * MS);
		else
			strike(sup, who, &fs[nf], &plan[i], cfg, t0);
		if (fs[nf].kind != RP_CHAOS_STOP && fs[nf].recovery_ns >= 0)
			rec[nrec++] = fs[nf].recovery_ns;
		sup_kill |= fs[nf].kind == RP_CHAOS_SUPERVISOR;
		nf++;
		if (sup_kill)
			break;
	}
	res.code = wait_code(sup, sup_kill ? 10000 * MS : 600000 * MS);
	munmap(who, sizeof(*who));
	ro.pids = NULL;
	res.run_s = (double)(rp_now_ns() - t0) / 1e9;
	res.finished = res.code == 0;
	res.orphans_left = rp_chaos_reap_orphans(5000 * MS, res.orphans,
					 sizeof(res.orphans));
	res.quarantined = file_lines(dead_idx) - dead_before;
	/* The supervisor drops a relayed fault whose stage is not running
	 * (its log says which, in order): that one missed too. */
	{
		size_t ln = 0;
		char *lt = rp_chaos_slurp(log, &ln);
		unsigned nrel = 0;
		int got[MAX_FAULTS];
		for (unsigned i = 0; i < nf; i++)
			nrel += (fs[i].kind & (RP_CHAOS_HANG | RP_CHAOS_DENY |
					       RP_CHAOS_CORRUPT)) &&
				!fs[i].missed;
		if (lt)
			lt[ln] = '\0';
		rp_chaos_relays_done(lt ? lt : "", nrel, got);
		for (unsigned i = 0, r = 0; i < nf; i++) {
			if (!(fs[i].kind & (RP_CHAOS_HANG | RP_CHAOS_DENY |
					    RP_CHAOS_CORRUPT)) ||
			    fs[i].missed)
				continue;
			if (!got[r++])
				fs[i].missed = 1;
		}
		free(lt);
	}
	for (unsigned i = 0; i < nf; i++) {
		missed += fs[i].missed;
		ncorrupt += fs[i].kind == RP_CHAOS_CORRUPT && !fs[i].missed;
	}
	if (ncorrupt)
		blame(log, fs, nf, &res);

	/* A killed supervisor is judged on its cleanup and on the next run
	 * starting cleanly and getting it right. */
	if (sup_kill) {
		/* What the killed run wrote before it died, kept apart (the
		 * rerun starts the file over): cut short by design, but
		 * nothing in it twice, nothing not in the reference, in the
		 * reference's order.  The faults before the supervisor's
		 * are judged on it. */
		char *cb;
		size_t cn = 0;
		int none;
		snprintf(cut_path, sizeof(cut_path), "%s.chaos-cut", out);
		errno = 0;
		cb = rp_chaos_slurp(chaos_out, &cn);
		none = cb == NULL && errno == ENOENT;
		if (cb)
			cut.bad = rp_chaos_cut_judge(&exp, cb, cn, &cut.lines,
						     &cut.partial);
		else if (!none) /* (none: nothing written, no harm) */
			cut.bad = -2;
		free(cb);
		unlink(cut_path);
		if (rename(chaos_out, cut_path) != 0)
			cut_path[0] = '\0';
		snprintf(log, sizeof(log), "%s.chaos-rerun.log", out);
		dead_letter_for(cfg, out, ".chaos-rerun.dead");
		res.code = wait_code(spawn_run(cfg, &ro, log), 600000 * MS);
		res.rerun_ok = res.code == 0;
		res.finished = res.rerun_ok && !res.orphans_left;
		rp_chaos_reap_orphans(5000 * MS, NULL, 0);
	}
	errno = 0;
	ob = rp_chaos_slurp(chaos_out, &on);
	if (ob) {
		judge(cfg, &exp, ob, on, &res);
	} else if (errno == ENOENT) {
		/* Never written: every record expected is lost. */
		judge(cfg, &exp, "", 0, &res);
	} else {
		fprintf(stderr, "ringpipe chaos: cannot read %s: %s\n", chaos_out,
			strerror(errno));
		res.ref_lines = exp.count;
		res.unjudged = 1;
	}
	free(ob);

	if (nrec) {
		qsort(rec, nrec, sizeof(*rec), cmp_i64);
		med = rec[nrec / 2];
		worst = rec[nrec - 1];
	}
	{
		int safe = res.lost == 0 && res.dup == 0 && !res.reordered &&
			   !res.unjudged && cut.bad == -1;
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
		printf("ringpipe chaos: pipeline %s, seed %llu: %u faults",
		       cfg->name, (unsigned long long)o->seed, nf);
		if (counts[0] || sup_kill)
			printf(" (%s%s)", counts,
			       !sup_kill    ? ""
			       : counts[0] ? ", supervisor killed"
					   : "supervisor killed");
		if (missed)
			printf(", %u of them missed (nobody there to hit%s)",
			       missed, denies_allowed(cfg, fs, nf)
					       ? ", or a deny its stage allows"
					       : "");
		printf("\n");
		/* A verdict with nothing to recover from says nothing of
		 * recovery: plainly so, lest an ok be read as a proof. */
		if (nf == missed)
			printf("  faults      NONE INJECTED: %s, so it proved "
			       "nothing about recovery%s\n",
			       o->faults == 0 ? "none were asked for"
			       : nf	      ? "every one missed"
					      : "the run ended before the "
						"first was due",
			       o->faults && !nf ? " (a longer input or a "
						  "shorter --every gives "
						  "them time)"
						: "");
		if (o->expect)
			printf("  reference   none run: %llu records expected "
			       "by %s\n",
			       (unsigned long long)exp.count, ref);
		else
			printf("  reference   %.2f s, %llu records in %s%s%s%s\n",
			       res.ref_s, (unsigned long long)exp.count, ref,
			       sums_kept ? " (sums in " : "",
			       sums_kept ? ref : "", sums_kept ? ".sums)" : "");
		if (sup_kill)
			printf("  chaos run   %.2f s, its supervisor killed (log "
			       "%s.chaos.log); the next run exit %d (log "
			       "%s.chaos-rerun.log)\n",
			       res.run_s, out, res.code, out);
		else
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
		if (sup_kill) {
			char verdict[80];
			if (cut.bad >= 0)
				snprintf(verdict, sizeof(verdict),
					 "DIFFERS from the reference at line "
					 "%lld", (long long)cut.bad + 1);
			printf("  cut run     %llu records%s before the "
			       "supervisor died (in %s): %s\n",
			       (unsigned long long)cut.lines,
			       cut.partial == 2 ? " and part of the next (not "
						  "checked: digests alone)"
			       : cut.partial   ? " and part of the next"
					       : "",
			       cut_path[0] ? cut_path : "no file",
			       cut.bad == -1 ? "the reference's first ones, "
					       "as they should be"
			       : cut.bad == -2 ? "NOT JUDGED (out of memory, "
						 "or unreadable)"
					       : verdict);
		}
		printf("  safety      %s: lost %llu, duplicated %llu, order %s, "
		       "quarantined %llu\n",
		       ncorrupt ? "not judged (a corrupted stage owns its "
				  "output)"
		       : res.unjudged || cut.bad == -2
			   ? "NOT JUDGED (out of memory, or its output "
			     "unreadable)"
		       : safe ? "ok"
			      : "VIOLATED",
		       (unsigned long long)res.lost,
		       (unsigned long long)res.dup,
		       res.reordered ? "CHANGED"
		       : res.lost || res.dup
			   ? "not judged (lines lost or repeated; a line "
			     "that differs counts as one of each)"
		       : res.order_free ? "not judged (replicas without "
					  "ordered: true promise none)"
			   : "kept",
		       (unsigned long long)res.quarantined);
		/* Different output with nothing injected: the pipeline's
		 * own doing, which no fault explains. */
		if (nf == missed && !ncorrupt && !res.unjudged &&
		    (res.lost || res.dup || res.reordered))
			printf("%s", o->expect
				? "  note        with no fault injected the "
				  "output differs from the sums it was given: "
				  "the pipeline's output is not what they were "
				  "made of\n"
				: "  note        with no fault injected the "
				  "output differs from the reference: the "
				  "pipeline does not give the same output twice "
				  "(a random or time-dependent stage?), which "
				  "chaos cannot judge\n");
		if (sup_kill)
			printf("  liveness    %s: stages %s after the supervisor "
			       "died%s%s%s; the next run %s\n",
			       res.finished ? "ok" : "FAILED",
			       res.orphans_left == 2
				   ? "gone but for processes STILL RUNNING 5 s"
			       : res.orphans_left ? "STILL RUNNING 5 s"
						  : "all gone",
			       res.orphans[0] ? " (killed then: " : "",
			       res.orphans, res.orphans[0] ? ")" : "",
			       res.rerun_ok ? "finished" : "FAILED");
		else if (ncorrupt && res.code == 1)
			printf("  liveness    %s\n",
			       contained ? "stopped by a corruption it caught"
					 : "FAILED");
		else
			printf("  liveness    %s\n",
			       res.finished ? "ok: finished"
			       : res.code == 1
				   ? "FAILED: the run failed (exit 1; its log "
				     "says which stage and why)"
				   : "FAILED: the run did not end by itself");
		if (sup_skipped)
			printf("  note        the supervisor kill the seed drew "
			       "came after the run had ended: its cleanup was "
			       "not judged (a longer input, or --every "
			       "shorter, brings it in)\n");
		if (nrec)
			printf("  recoveries  %u: median %.1f ms, worst %.1f ms\n",
			       nrec, (double)med / 1e6, (double)worst / 1e6);
		char kinds[96] = "";
		for (size_t b = 0; b < NKINDS; b++)
			if (o->kinds & kind_names[b].bit) {
				strcat(kinds, ",");
				strcat(kinds, kind_names[b].name);
			}
		printf("  replay      ringpipe chaos %s",
		       o->file[0] == '-' ? "-- " : "");
		shell_word(o->file);
		printf(" --seed %llu --faults %u --every %u --kinds %s%s",
		       (unsigned long long)o->seed, o->faults, o->every_ms,
		       kinds + 1, run->fast_restart ? " --fast-restart" : "");
		if (o->expect) {
			printf(" --expect ");
			shell_word(o->expect);
		}
		printf("\n");
		if (json) {
			print_json(json, cfg, o, fs, nf, &res, &cut, sup_kill,
				   ncorrupt ? contained : -1, schedule, med,
				   worst, nrec);
			if (fclose(json) != 0)
				fprintf(stderr, "ringpipe chaos: %s: %s\n",
					o->json, strerror(errno));
		}
		rp_chaos_expect_free(&exp);
		free(fs);
		free(plan);
		free(schedule);
		return ncorrupt ? !contained : !(safe && res.finished);
	}
}
