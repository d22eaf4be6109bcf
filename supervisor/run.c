/*
 * run.c - the supervisor's event loop (see run.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../shm/layout.h"
#include "../stage/landlock.h"
#include "../stage/ringpipe.h"
#include "../stage/wiring.h"
#include "errout.h"
#include "errpipe.h"
#include "jobctl.h"
#include "deadletter.h"
#include "json.h"
#include "log.h"
#include "observe.h"
#include "orphans.h"
#include "progress.h"
#include "run.h"
#include "spawn.h"

/* A stage's lifecycle (run.h).  The first four have a process (but a
 * first start still to come: starting, none yet); the order matters:
 * state <= ST_CANCELLING is "alive". */
enum state {
	ST_STARTING, ST_RUNNING, ST_DRAINING, ST_CANCELLING, ST_RESTARTING,
	ST_EXITED, ST_CANCELLED, ST_FAILED
};
static const char *const state_name[] = {
	"starting", "running",   "draining",  "cancelling",
	"restarting", "done",    "cancelled", "failed"};

#define B(st) (1u << (st))
/* Which states each may go to.  Failed is reachable from every other:
 * blame can land after a stage has ended (it broke a ring, then exited
 * 0 before the check). */
static const unsigned next_states[] = {
	[ST_STARTING] = B(ST_RUNNING) | B(ST_CANCELLING) | B(ST_RESTARTING) |
			B(ST_EXITED) | B(ST_CANCELLED) | B(ST_FAILED),
	[ST_RUNNING] = B(ST_DRAINING) | B(ST_CANCELLING) | B(ST_RESTARTING) |
		       B(ST_EXITED) | B(ST_CANCELLED) | B(ST_FAILED),
	[ST_DRAINING] = B(ST_CANCELLING) | B(ST_RESTARTING) | B(ST_EXITED) |
			B(ST_CANCELLED) | B(ST_FAILED),
	[ST_CANCELLING] = B(ST_EXITED) | B(ST_CANCELLED) | B(ST_FAILED),
	[ST_RESTARTING] = B(ST_STARTING) | B(ST_CANCELLED) | B(ST_FAILED),
	[ST_EXITED] = B(ST_FAILED),
	[ST_CANCELLED] = B(ST_FAILED),
	[ST_FAILED] = 0,
};
#undef B

static int alive(enum state st)
{
	return st <= ST_CANCELLING;
}
/* (A stage whose consumer finished early ends "done" too, with exit code
 * RP_EXIT_OUTPUT_CLOSED, as a shell pipeline ignores SIGPIPE.) */

enum { EV_SIGNAL = 1, EV_TIMER, EV_BELL, EV_PID, EV_LISTENER, EV_STDERR,
       EV_OBSERVE, EV_SPARE_PID, EV_SPARE_STDERR, EV_SPARE_SOCK, EV_GO,
       EV_ERROUT };
#define EV(kind, i) ((uint64_t)(kind) << 32 | (uint32_t)(i))

struct stage_run {
	const struct rp_cfg_stage *cfg;
	enum state state;
	struct rp_stage_proc proc;
	struct rp_filter_cache filter; /* its seccomp filter, compiled */
	struct rp_errpipe err;
	int err_open;
	int status;
	unsigned layers;          /* sandbox layers from READY */
	uint64_t records_in;      /* from its final control record */
	int broken_side;          /* its VIOLATION: 1 input, 2 output */
	int broken_at_attach;     /* ... found as it attached */
	int killed_by_us;         /* after a cancel it did not obey */
	uint64_t soft_denials;    /* calls failed by deny rules with errno */
	int soft_nr[8], nsoft;
	/* restarts */
	int64_t started_at, restart_at, backoff_ns;
	uint64_t cleared;         /* its last death quarantined its record:
				   * that record + 1; 0: not so */
	uint64_t death_rec;       /* the record (+ 1) this death was on */
	uint64_t q_end;           /* replicas (the group's first): the
				   * input place just past the record last
				   * quarantined; 0: none yet */
	uint64_t q_seen;          /* replicas: the q_end that gave this
				   * copy a new series already */
	uint32_t restarts, in_a_row; /* in all; failures in a row */
	/* --fast-restart: its own failures in a row with no record taken
	 * or made between (stuck), and what it had taken and made at the
	 * last (progress_mark); outside: its last death came from outside
	 * (a kill), which never counts. */
	uint32_t stuck;
	uint64_t fast_mark;
	int outside;
	uint64_t resume_seq, resume_after;
	int has_resume;
	/* per-record timeout: working time on the current record */
	uint64_t seen_current, seen_progress;
	int64_t worked_ns, sampled_at;
	int timed_out;            /* we killed it for its per-record timeout */
	/* exec: its program was told to stop for it (RP_CTL_TIMEOUT), for
	 * the work words as they stand; and the last such, in words, for
	 * the report should the stage then fail */
	int told_timeout;
	uint32_t timeouts_told;   /* this incarnation */
	uint32_t timeouts_acted;  /* of those, said acted on (TIMED_OUT) */
	char timeout_why[128];
	uint64_t unheld;          /* holds it gave up (over its incarnations) */
	/* time blocked on input and on output, in microseconds, of the
	 * incarnations that ended (the running one's is in its words) */
	uint64_t wait_us[2];
	int waits_taken;          /* this incarnation's are in wait_us */
	int denied;               /* killed for a denied syscall on a record */
	/* poison records: deaths of its own doing on one input record
	 * (input sequence number + 1; 0: none).  A stage alone counts
	 * deaths in a row on one record; a group of replicas, on each of
	 * a few records at once (its copies die on neighbouring records
	 * side by side), kept with its first replica. */
#define SUSPECTS 8
	struct suspect {
		uint64_t rec;
		uint32_t deaths;
		uint64_t last;    /* sus_clock at its last death */
	} sus[SUSPECTS];
	uint64_t sus_clock;       /* deaths counted so far */
	uint64_t skip[RP_WIRING_MAX_SKIP]; /* quarantined: never again */
	unsigned nskip;
	uint64_t quarantined;
	/* exec: the record its program died on alone (+ 1; 0: none), how,
	 * how many times (its RP_CTL_POISON) */
	uint64_t told_rec;
	int told_sig;
	int told_hang;            /* it says: killed for its timeout */
	int told_exit;            /* it says: told_sig is the exit status
				   * its program rejected the record with */
	int said_done;            /* this incarnation sent its RP_CTL_DONE */
	uint64_t refused_rec;     /* the record it refused (+ 1; 0: none) */
	int refused_gone_on;      /* and some of its outputs had gone on */
	unsigned refuse_again;    /* replicas (on the first): refusals of a
				   * record already quarantined that are
				   * still its siblings' due */
	char refusal[24];         /* why, as it said (untrusted, shown) */
	int ended_early;          /* it said it ended before its input did
				   * (1), leaving some unread (2) */
	int cut_short;            /* it ended as its consumer had: with
				   * more it would have written */
	uint32_t told_deaths;
	char spared_call[56];     /* its program's last denied syscall */
	uint32_t fault_gen;       /* ringpipe chaos sent this incarnation a
				   * fault: its death is not the record's */
	/* standby: a copy started and sandboxed ahead, waiting to take
	 * over at a crash (spare.pid > 0 while there is one) */
	struct rp_stage_proc spare;
	struct rp_errpipe spare_err;
	int64_t spare_at;         /* start one then; 0: none wanted */
	int64_t spare_since;      /* started (ready: when it was) */
	int spare_ready;          /* its sandbox hand-shake came */
	int spare_off;            /* could not keep one: restarts go cold */
	int fifo_fd;              /* a file-sink's FIFO, held open for
				   * writing while the sink lives on */
	uint32_t spare_fails;     /* in a row */
	uint32_t takeovers;       /* restarts its standby made */
	/* a start whose sandbox hand-shake is awaited as an event (its
	 * socket in proc.go), given up on at hs_deadline */
	int hs_pending;
	int64_t hs_deadline;
	/* where it sits: its stage's place in the chain; a replica has its
	 * own copy of the stage's settings, named NAME.i */
	int pos, nrep;
	struct rp_cfg_stage rcfg;
	char why[256];            /* what failed, for the report */
};

struct sup {
	const struct rp_cfg *cfg;
	int n;                    /* processes: a stage's replicas each one */
	int npos;                 /* stages: places in the chain */
	int first[RP_CFG_MAX_STAGES]; /* a place's first process */
	struct stage_run st[RP_CFG_MAX_PROCS];
	/* By place: ring[p] goes from place p to p + 1; bell[p] is what the
	 * process(es) at p wait on, shared by replicas. */
	struct rp_ring_fds ring[RP_CFG_MAX_STAGES];
	/* Each ring's geometry as made, and its cursors as sampled: which
	 * side wrote what is found broken. */
	struct rp_ring_geo geo[RP_CFG_MAX_STAGES];
	struct rp_ring_watch watch[RP_CFG_MAX_STAGES];
	int64_t watched_at;
	struct rp_bell *bell[RP_CFG_MAX_STAGES];
	/* replicas: the lock of each shared ring side, as last sampled
	 * ([p][0] the input's consumers, [p][1] the output's producers) */
	struct lock_watch {
		struct rp_lock_sample last;
		int64_t since;    /* held by last's holder since; 0: free */
	} lw[RP_CFG_MAX_STAGES][2];
	struct rp_bell *sup_bell;
	int ep, sfd, tfd;
	int signals, failed, alive;
	int64_t signal_ns;        /* when the signal that cancelled came */
	int misused;              /* the first failure: a built-in's usage */
	uint32_t cancel_reason;
	int64_t cancel_deadline;  /* then kill who still runs */
	int64_t t0;
	int landlock_abi;         /* the kernel's, or -errno */
	struct rp_deadletter dead;
	uint64_t quarantined;
	int chaos;                /* ringpipe chaos may send faults */
	/* the progress line on a terminal: each ring's count last tick */
	int progress;
	uint64_t prev_read[RP_CFG_MAX_STAGES];
	int64_t prev_at;
	struct rp_observe obs;    /* ringpipe stat's sockets */
	/* drain: the signal that asked for it (0: none), and until when */
	int drain_opt, drain_sig;
	int end_sig;              /* the cancel came from SIGHUP or SIGQUIT */
	int cancel_sig;           /* the signal the cancel came from, if one */
	int64_t grace_ns;         /* a cancel's, then stragglers are killed */
	int64_t drain_deadline;
	const struct rp_run_opts *o;
	struct rp_orphans orphans; /* what dead stages leave behind */
	/* first starts: the next stage to start (-1: none left, the last
	 * one's start may still be awaited; -2: all done, the standbys
	 * scheduled), and the one whose hand-shake is awaited (-1: none) */
	int next_first, first_k;
};

/* Never started yet: a first start still to come (no process). */
static int unstarted(const struct stage_run *r)
{
	return r->started_at == 0;
}

static struct stage_run *at(struct sup *s, int k)
{
	return &s->st[k];
}

/* Process k's place, its rings, and the names of places. */
static int P(struct sup *s, int k)
{
	return s->st[k].pos;
}
static int has_in(struct sup *s, int k)
{
	return P(s, k) > 0;
}
static int has_out(struct sup *s, int k)
{
	return P(s, k) + 1 < s->npos;
}
static struct rp_ring_fds *ring_in(struct sup *s, int k)
{
	return &s->ring[P(s, k) - 1];
}
static struct rp_ring_fds *ring_out(struct sup *s, int k)
{
	return &s->ring[P(s, k)];
}
static const char *pos_name(struct sup *s, int p)
{
	return s->cfg->stages[s->cfg->order[p]].name;
}
/* Every process at place p, in k: for (k = first; k < end; k++). */
static int pos_end(struct sup *s, int p)
{
	return p + 1 < s->npos ? s->first[p + 1] : s->n;
}

/* The running incarnation's time blocked on input (0) or output (1),
 * in us: its own word, a hint; a value no run could reach counts 0. */
static uint64_t wait_word(struct stage_run *r, int out)
{
	uint64_t v;

	if (r->proc.rx == NULL || r->waits_taken)
		return 0;
	v = rp_ctl_status_read(r->proc.rx, out ? RP_CTL_WORD_WAIT_OUT_US
					       : RP_CTL_WORD_WAIT_IN_US);
	/* Never longer than it has lived (its own word: a scribbler's
	 * figure would otherwise be shown). */
	{
		int64_t alive_ns = rp_now_ns() - r->started_at;
		uint64_t most = alive_ns > 0 ? (uint64_t)alive_ns / 1000 : 0;
		return v <= most + 1000000 ? v : 0;
	}
}

/* Seconds blocked on input (0) or output (1), every incarnation. */
static double waited(struct stage_run *r, int out)
{
	return (double)(r->wait_us[out] + wait_word(r, out)) / 1e6;
}

static void fifo_release(struct stage_run *r);

/* Who runs each place now, for ringpipe chaos (opts.pids): a stage's
 * process once it is past its sandbox hand-shake and at work (not
 * while it starts, ends or is gone), its standby once that is ready. */
static void pids_say(struct sup *s)
{
	struct rp_run_pids *t = s->o ? s->o->pids : NULL;

	if (t == NULL)
		return;
	rp_pids_begin(t);
	for (int k = 0; k < s->n; k++) {
		const struct stage_run *r = at(s, k);
		int working = r->state == ST_RUNNING ||
			      r->state == ST_DRAINING;
		rp_pids_set(t, k, P(s, k), working ? r->proc.pid : 0,
			    r->cfg->standby && r->spare_ready ? r->spare.pid
							      : 0);
	}
	rp_pids_end(t, s->n);
}

/* Every change of a stage's state goes through here, checked against
 * the table: a move it does not list is a bug of ours, said loudly. */
static void set_state(struct sup *s, int k, enum state to)
{
	struct stage_run *r = at(s, k);

	if (r->state == to)
		return;
	if (to == ST_EXITED || to == ST_CANCELLED || to == ST_FAILED)
		fifo_release(r); /* ended for good */
	if (!(next_states[r->state] & (1u << to)))
		rp_log(RP_LOG_ERROR, r->cfg->name, "%s -> %s is not a "
		       "transition (internal error)", state_name[r->state],
		       state_name[to]);
	else
		rp_log(RP_LOG_DEBUG, r->cfg->name, "%s -> %s",
		       state_name[r->state], state_name[to]);
	r->state = to;
	pids_say(s);
}

/* A file-sink writing a FIFO: from the time it has opened it (its
 * reader came), the supervisor holds the FIFO open for writing too, and
 * never writes.  A sink that dies is then not the FIFO's last writer:
 * its reader does not see the end of the stream, and the sink's restart
 * opens it again to the same reader and writes on (at least once: what
 * the dead one wrote stays written).  Let go once the sink has ended
 * for good, so that the reader then sees the end. */
static void fifo_hold(struct stage_run *r)
{
	const struct rp_cfg_stage *c = r->cfg;
	const char *path;
	struct stat st;
	int pfd, fd = -1;

	if (r->fifo_fd >= 0 || !c->builtin || c->argc < 2 ||
	    strcmp(c->argv[0], "file-sink") != 0)
		return;
	path = c->argv[c->argc - 1];
	if (strcmp(path, "-") == 0)
		return; /* stdout: ours already */
	/* Nothing but a FIFO is opened (a device's open may do
	 * something): the name is looked up once, without opening what it
	 * names, and what was found is opened if it is one. */
	if ((pfd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return;
	if (fstat(pfd, &st) == 0 && S_ISFIFO(st.st_mode)) {
		char self[40];
		snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
		/* (-1 if its reader is gone already: ENXIO.) */
		fd = open(self, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	}
	close(pfd);
	r->fifo_fd = fd;
}

static void fifo_release(struct stage_run *r)
{
	if (r->fifo_fd >= 0)
		close(r->fifo_fd);
	r->fifo_fd = -1;
}

/* Stages have this long to obey a cancel before they are killed. */
#define CANCEL_GRACE_NS (5 * 1000000000LL)
/* A second signal this soon after the one that cancelled is a repeat of
 * it, not a person pressing Ctrl-C again to kill. */
#define REPEAT_NS (200 * 1000000LL)
#define FAST_GRACE_NS (1 * 1000000000LL) /* --fast-restart */

static void cancel_all(struct sup *s, uint32_t reason, int except)
{
	if (s->cancel_reason == 0)
		s->cancel_reason = reason;
	if (s->cancel_deadline == 0)
		s->cancel_deadline = rp_now_ns() + s->grace_ns;
	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		if (k != except && alive(r->state) && r->proc.tx) {
			rp_ctl_cancel(r->proc.tx, reason);
			set_state(s, k, ST_CANCELLING);
		}
	}
}

/* Kills the supervisor orders are not failures of the stage. */
static void kill_all(struct sup *s)
{
	for (int k = 0; k < s->n; k++)
		if (alive(at(s, k)->state) && at(s, k)->proc.pid > 0) {
			at(s, k)->killed_by_us = 1;
			rp_spawn_kill(&at(s, k)->proc);
		}
}

static void fail(struct sup *s, int k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A stage failed for good: tell its neighbours at once and cancel the
 * rest (fail fast). */
static void fail(struct sup *s, int k, const char *fmt, ...)
{
	struct stage_run *r = at(s, k);
	char msg[sizeof(r->why)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->why[0] == '\0')
		memcpy(r->why, msg, sizeof(msg));
	rp_log(RP_LOG_ERROR, r->cfg->name, "%s", msg);
	if (s->failed++)
		return;
	/* The ring it read from: its producer must not wait for it. */
	if (has_in(s, k))
		rp_ring_mark_broken(ring_in(s, k), s->bell[P(s, k) - 1]);
	cancel_all(s, RP_REASON_SIBLING, k);
}

static void read_control(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	struct rp_ctl_msg m;
	int err = 0;

	/* Not before its hand-shake is taken: what it says is judged
	 * once it is known to be in its sandbox (start_done). */
	if (r->hs_pending)
		return;
	/* Bounded: a stage flooding its control ring cannot keep the
	 * loop from its other events. */
	for (int budget = 64;
	     budget-- > 0 && r->proc.rx && (err = rp_ctl_recv(r->proc.rx, &m)) == 0;) {
		if (rp_log_on(RP_LOG_DEBUG))
			rp_log(RP_LOG_DEBUG, r->cfg->name, "control record "
			       "%s (%lld, %lld, code %d)", rp_ctl_kind_name(m.kind),
			       (long long)m.arg0, (long long)m.arg1, (int)m.code);
		switch (m.kind) {
		case RP_CTL_READY:
			/* Once, as it starts: a stage taken over later
			 * cannot say it has layers it lacks. */
			if (r->state != ST_STARTING)
				break;
			r->layers = (unsigned)m.arg0 & RP_SB_ALL;
			set_state(s, k, ST_RUNNING);
			fifo_hold(r);
			/* Started while the pipeline drains. */
			if (s->drain_sig && !s->cancel_reason) {
				if (P(s, k) == 0 && r->proc.tx)
					rp_ctl_drain(r->proc.tx);
				set_state(s, k, ST_DRAINING);
			}
			break;
		case RP_CTL_TIMED_OUT:
			/* The adapter ended its program's run for the
			 * timeout we told it of (if we did: else it is
			 * nothing). */
			if (r->timeouts_acted >= r->timeouts_told)
				break;
			r->timeouts_acted++;
			if (m.arg1 == 1) {
				/* One of the runs the narrowing makes. */
				if (rp_log_on(RP_LOG_DEBUG))
					rp_log(RP_LOG_DEBUG, r->cfg->name,
					       "a run of its program fed held "
					       "records again, from record "
					       "%llu, exceeded its per-record "
					       "timeout", (unsigned long long)
					       m.arg0);
				break;
			}
			if (m.arg1 == 2) {
				/* Silent past end_timeout_ms after its input
				 * ended: a hang on its last records, or end
				 * work that long. */
				uint32_t end = rp_cfg_end_timeout(r->cfg);
				if (r->timeout_why[0] == '\0')
					snprintf(r->timeout_why,
						 sizeof(r->timeout_why),
						 "its program had gone silent "
						 "past its end_timeout_ms of %u "
						 "ms after its input ended "
						 "(last record %llu)", end,
						 (unsigned long long)m.arg0);
				rp_log(RP_LOG_INFO, r->cfg->name, "its program "
				       "went silent past its end_timeout_ms of "
				       "%u ms after its input ended (last "
				       "record %llu): that run of it is ended, "
				       "and the stage narrows its last records "
				       "down to the one it hangs on", end,
				       (unsigned long long)m.arg0);
				break;
			}
			if (r->timeout_why[0] == '\0')
				snprintf(r->timeout_why, sizeof(r->timeout_why),
					 "its program had exceeded its "
					 "per-record timeout of %u ms on "
					 "record %llu",
					 r->cfg->record_timeout_ms,
					 (unsigned long long)m.arg0);
			rp_log(RP_LOG_INFO, r->cfg->name, "its program "
			       "exceeded its per-record timeout of %u ms on "
			       "record %llu: that run of it is ended, and the "
			       "stage narrows its input down to the record",
			       r->cfg->record_timeout_ms,
			       (unsigned long long)m.arg0);
			break;
		case RP_CTL_REFUSED:
			/* A claim, checked against its ring when judged. */
			r->refused_rec = m.arg0 < UINT64_MAX / 2 ? m.arg0 + 1 : 0;
			/* (Its word: some of the record's outputs had filled
			 * the output ring and gone on.) */
			r->refused_gone_on = m.arg1 == 1;
			for (size_t i = 0; i < sizeof(r->refusal); i++) {
				char c = i + 1 < sizeof(r->refusal) ? m.text[i]
								     : '\0';
				r->refusal[i] = c == '\0' || (c >= ' ' && c < 127)
							? c
							: '?';
				if (c == '\0')
					break;
			}
			break;
		case RP_CTL_POISON:
			/* Hints, bounded where they are used. */
			r->told_rec = m.arg0 < UINT64_MAX / 2 ? m.arg0 + 1 : 0;
			r->told_sig = m.code;
			r->told_hang = strcmp(m.text, "timeout") == 0;
			r->told_exit = strcmp(m.text, "exit") == 0;
			r->told_deaths = (uint32_t)m.arg1;
			break;
		case RP_CTL_DONE:
		case RP_CTL_ERROR:
		case RP_CTL_VIOLATION:
			/* (A cancelled stage's final record is a DONE with
			 * the cancel's reason: not done.) */
			r->said_done = m.kind == RP_CTL_DONE &&
				       (m.reason == RP_REASON_EOF ||
					m.reason == RP_REASON_NONE);
			/* (Its word, for the report only.) */
			r->ended_early = !r->said_done ? 0
					 : m.arg1 == RP_CTL_DONE_UNREAD ? 2
					 : m.arg1 == RP_CTL_DONE_EARLY	 ? 1
									 : 0;
			/* (a count no run reaches is a scribble: kept
			 * from the report) */
			if (m.arg0 < UINT64_MAX / 2)
				r->records_in = m.arg0;
			if (m.kind == RP_CTL_ERROR &&
			    (m.code == -EIO || m.code == EIO) &&
			    r->cfg->builtin &&
			    strcmp(r->cfg->argv[0], "exec") == 0)
				/* (The adapter's word for its program's
				 * failure, which its own line tells.) */
				snprintf(r->why, sizeof(r->why), "its program "
					 "failed (its message above says how)");
			else if (m.kind == RP_CTL_ERROR && r->cfg->builtin &&
				 strcmp(r->cfg->argv[0], "exec") == 0 &&
				 (m.code == -ENOENT || m.code == -EACCES ||
				  m.code == -ENOEXEC || m.code == -ENOTDIR))
				snprintf(r->why, sizeof(r->why), "its program "
					 "could not be run: %s (its message "
					 "above says more)",
					 strerror(-m.code));
			else if (m.kind == RP_CTL_ERROR &&
				 m.code == -EDESTADDRREQ)
				snprintf(r->why, sizeof(r->why), "it emitted a "
					 "record, but it is the last stage: "
					 "nothing reads what it emits (a sink "
					 "writes its results itself, to its "
					 "stdout or a file)");
			else if (m.kind == RP_CTL_ERROR &&
				 m.code == -ENOTSUP && r->cfg->replicas > 1 &&
				 r->cfg->ordered)
				snprintf(r->why, sizeof(r->why), "it emitted a "
					 "record after its input ended, which "
					 "ordered copies cannot place (its "
					 "message above says more)");
			else if (m.kind == RP_CTL_ERROR &&
				 m.code == -EMSGSIZE)
				snprintf(r->why, sizeof(r->why), "it emitted a "
					 "record larger than its output ring "
					 "takes (its message above says how "
					 "large)");
			else if (m.kind == RP_CTL_ERROR && m.code)
				snprintf(r->why, sizeof(r->why), "error: %s",
					 strerror(m.code < 0 && m.code > -4096
							  ? -m.code
							  : m.code));
			if (m.kind == RP_CTL_VIOLATION) {
				r->broken_side = (m.arg1 & 3) == 2 ? 2 : 1;
				r->broken_at_attach =
					(m.arg1 & RP_CTL_AT_ATTACH) != 0;
				snprintf(r->why, sizeof(r->why),
					 "its %s ring's format was broken",
					 r->broken_side == 2 ? "output"
							     : "input");
			}
			break;
		default:
			break;
		}
	}
	if (r->proc.rx && err == -EBADMSG && alive(r->state)) {
		/* Judged now: however it exits, it failed (what it said
		 * before, a claim included, stands unjudged). */
		set_state(s, k, ST_FAILED);
		rp_spawn_kill(&r->proc);
		fail(s, k, "broke the control-ring format; killed");
	}
}

static void on_violation(struct sup *s, int k);

#define BACKOFF_CAP_NS (5 * 1000000000LL)

/* The stage failed: restart it if its policy and its intensity limit
 * allow (then 1), else 0 (the caller fails the pipeline). */
/* How much of its input a stage alone on it has released (its commit
 * point's count; a hint, from the ring), or UINT64_MAX if not known
 * (no input, replicas). */
static uint64_t released(struct sup *s, int k)
{
	uint64_t done;
	int err;

	if (!has_in(s, k) || at(s, k)->nrep > 1)
		return UINT64_MAX;
	err = rp_ring_commit_seq(ring_in(s, k), &done);
	return err == 0 ? done : err == -ENOENT ? 0 : UINT64_MAX;
}

/* Replicas: has the group got past the record after the one it last
 * quarantined - released beyond it, or the copy died on a record further
 * on (died_on: + 1)?  Its places are ring positions; what copies take is
 * interleaved, so their own words cannot say (see maybe_restart).  Once
 * per copy and quarantine, as a lone stage's cleared record is: a copy
 * that then fails over and over still reaches its limit. */
static int group_moved_on(struct sup *s, int k, uint64_t died_on)
{
	struct stage_run *g = at(s, s->first[P(s, k)]), *r = at(s, k);
	struct rp_found f;
	uint64_t head = 0;
	int err, moved;

	if (r->nrep < 2 || g->q_end == 0 || r->q_seen == g->q_end)
		return 0;
	/* (No record starts at the last place: the head alone.) */
	moved = died_on > g->q_end + 1;
	if (!moved) {
		err = rp_ring_read_at(ring_in(s, k), UINT64_MAX, NULL, 0, &f,
				      &head);
		moved = (err == 0 || err == -ENOENT) && head > g->q_end;
	}
	if (moved)
		r->q_seen = g->q_end;
	return moved;
}

/* How far stage k has got, as its rings count it (a hint; UINT64_MAX
 * where it cannot be told: a copy of a replicated stage, a ring not
 * read): what it released of its input, or a source's records made. */
static uint64_t progress_mark(struct sup *s, int k)
{
	struct rp_ring_stats p, c;
	uint64_t used;

	if (at(s, k)->nrep > 1)
		return UINT64_MAX;
	/* A stage with input: what it let go (what it makes again of what
	 * it holds, repeats dropped downstream, is none). */
	if (has_in(s, k))
		return released(s, k);
	if (!has_out(s, k) ||
	    rp_ring_observe(ring_out(s, k), &p, &c, &used) != 0)
		return UINT64_MAX;
	return p.records;
}

/* Under --fast-restart (no limit short of RP_CFG_FAST_MAX in a row), a
 * stage that fails of its own doing this many times in a row, taking and
 * making nothing between, fails the same way at every start: given up
 * on rather than restarted for minutes. */
#define FAST_STUCK_MAX 20

static int maybe_restart(struct sup *s, int k, const char *why,
			 int quarantined)
{
	struct stage_run *r = at(s, k);
	const struct rp_cfg_stage *c = r->cfg;
	int64_t now = rp_now_ns(), window = (int64_t)c->restart_window_s *
					     1000000000LL;
	int64_t first = (int64_t)c->restart_backoff_ms * 1000000;
	int64_t cap = first > BACKOFF_CAP_NS ? first : BACKOFF_CAP_NS;
	int64_t delay;
	int fresh = 0; /* the first failure of a series */
	uint64_t done = released(s, k), died_on = r->death_rec;
	uint64_t cleared = r->cleared;

	r->cleared = 0; /* (recover says so again of this death) */
	/* (Draining too: what is queued is still to be done, past a
	 * record quarantined on the way; the drain's deadline bounds it.) */
	if (c->restart == RP_RESTART_NEVER || s->cancel_reason || s->failed)
		return 0;
	if (c->fast_restart && quarantined != 2) {
		uint64_t mark = progress_mark(s, k);
		if (!r->outside && mark != UINT64_MAX && r->restarts > 0 &&
		    mark == r->fast_mark)
			r->stuck++;
		else
			r->stuck = 0;
		r->fast_mark = mark;
		if (r->stuck >= FAST_STUCK_MAX) {
			/* An exec stage's restart feeds its program again
			 * what it held back (up to a quarter of its input
			 * ring): one that fails that often never gets past
			 * it, where a smaller ring would. */
			int held = c->builtin && !strcmp(c->argv[0], "exec") &&
				   !rp_cfg_exec_option(c, "--each") &&
				   !rp_cfg_exec_option(c, "--chunks");
			snprintf(r->why, sizeof(r->why), "%.*s; failed %u "
				 "times in a row with no record done between: "
				 "giving up (--fast-restart)%s",
				 held ? 60 : 150, why, r->stuck + 1,
				 held ? "; each restart replays what it held "
					"(a quarter of its ring): try a "
					"smaller ring"
				      : "");
			return 0;
		}
	}
	if (quarantined == 2) {
		/* It refused a record, now quarantined: its word on the
		 * record, not a failure of its own.  Back at once (also
		 * while draining: what is queued is still to be done), and
		 * not one in a row (quarantine_max bounds how often). */
		r->death_rec = 0;
		r->restarts++;
		r->restart_at = now;
		set_state(s, k, ST_RESTARTING);
		rp_log(RP_LOG_DEBUG, c->name, "%s; restarting at once", why);
		r->why[0] = '\0';
		return 1;
	}
	/* Up for a whole window, or, restarted after a death that
	 * quarantined its record, past records since: it released, or it
	 * died on a record (a hint from its words), beyond the one after
	 * the quarantined one - on the next poison record, not on every
	 * record.  A new series of failures, from the first delay.  (Not
	 * replicas: their records are places in the ring, and copies take
	 * them interleaved; a quarantine forgives one death of theirs.)
	 * Otherwise one more failure in a row; the limit counts these, so
	 * no backoff can stretch them out of a window. */
	r->death_rec = 0;
	if (r->restarts == 0 || now - r->started_at > window ||
	    (cleared && r->nrep == 1 &&
	     ((done != UINT64_MAX && done > cleared) ||
	      (died_on > cleared + 1))) ||
	    group_moved_on(s, k, died_on)) {
		r->in_a_row = 0;
		r->backoff_ns = first;
		fresh = 1;
	} else {
		/* Its death took the record that caused it out of the way:
		 * one death of the series is the record's, not the copy's
		 * (a copy crashing on every record still reaches the limit,
		 * one record a death); the delay grows on - from the first
		 * where a refusal's restart, which waits for none, left
		 * none. */
		if (quarantined && r->in_a_row > 0)
			r->in_a_row--;
		if (r->backoff_ns == 0)
			r->backoff_ns = first;
		else if ((r->backoff_ns *= 2) > cap)
			r->backoff_ns = cap;
	}
	if (r->in_a_row >= c->restart_max) {
		snprintf(r->why, sizeof(r->why), "%s; restarted %u times "
			 "without staying up %u s: giving up", why,
			 r->in_a_row, c->restart_window_s);
		return 0;
	}
	r->in_a_row++;
	r->restarts++;
	/* A ready standby takes the first failure of a series over at
	 * once: the start the backoff spaces out is paid already.  Failures
	 * in a row still wait theirs, so a crash loop does not burn one
	 * standby after another. */
	delay = c->standby && r->spare.pid > 0 && r->spare_ready && fresh
			? 0
			: r->backoff_ns;
	r->restart_at = now + delay;
	set_state(s, k, ST_RESTARTING);
	rp_log(RP_LOG_INFO, c->name, "%s; restarting in %lld ms (%u of at "
	       "most %u in a row)", why, (long long)(delay / 1000000),
	       r->in_a_row, c->restart_max);
	r->why[0] = '\0';
	return 1;
}

/* The input record the stage is working on (its number + 1), or 0
 * between records, and where that is in words.  Read from the stage's
 * status words: a hint for the report and for quarantine, bounded by
 * the ring walk that finds the record. */
static uint64_t working_on(struct stage_run *r, char *where, size_t len)
{
	uint64_t rec = rp_spawn_current_record(&r->proc);
	int working = r->proc.rx &&
		      rp_ctl_status_read(r->proc.rx, RP_CTL_WORD_WORKING) == 1;

	if (rec == 0 && r->cfg->input[0] == '\0')
		snprintf(where, len, "as a source (no input record)");
	else if (rec == 0)
		snprintf(where, len, "before its first record");
	else
		snprintf(where, len, "%s record %s%llu",
			 working ? "on" : "after",
			 r->nrep > 1 ? "at input byte " : "",
			 (unsigned long long)(rec - 1));
	/* The per-record timeout judged it working, whatever it says. */
	return working || r->timed_out ? rec : 0;
}

/* Deaths that are the stage's own doing, and so may be the record's
 * fault: by every signal but those that stop a process from outside
 * (SIGKILL, SIGTERM, SIGINT, SIGHUP, SIGQUIT: an operator, a service
 * manager, ringpipe chaos) or come of a reader gone (SIGPIPE).  A
 * strict stage cannot send itself those; under the exec policy or none
 * it could, and escape the quarantine so. */
static int own_signal(int sig)
{
	return sig > 0 && sig != SIGKILL && sig != SIGTERM && sig != SIGINT &&
	       sig != SIGHUP && sig != SIGQUIT && sig != SIGPIPE;
}

/* Stage k died of its own doing while working on input record rec - 1
 * (rec 0: on none).  The quarantine_after-th such death in a row on the
 * same record quarantines it: its bytes go to the dead-letter output and
 * the restarted stage never sees it again.  1 if it did, 2 if the group
 * had already (a sibling died on it too), 0 if not (yet),
 * -1 if it should have but cannot (r->why says why). */
/* Replicas: has the group quarantined the record at input position
 * pos already (a sibling that had claimed it died on it too)? */
static int group_skips(struct sup *s, int k, uint64_t pos)
{
	struct stage_run *g = at(s, s->first[P(s, k)]);

	for (unsigned i = 0; i < g->nskip; i++)
		if (g->skip[i] == pos)
			return 1;
	return 0;
}

/* The count of deaths on record rec: a stage alone keeps one (a death
 * on another record starts it over); a group finds rec's among its
 * few, or takes for it the one no death has touched for longest. */
static struct suspect *suspect_of(struct stage_run *g, uint64_t rec)
{
	struct suspect *sp = &g->sus[0];
	int n = g->nrep > 1 ? SUSPECTS : 1;

	g->sus_clock++;
	for (int i = 0; i < n; i++) {
		if (g->sus[i].rec == rec) {
			g->sus[i].last = g->sus_clock;
			return &g->sus[i];
		}
		if (g->sus[i].last < sp->last)
			sp = &g->sus[i];
	}
	/* That one was a one-off crash, not a record that keeps
	 * killing. */
	sp->rec = rec;
	sp->deaths = 0;
	sp->last = g->sus_clock;
	return sp;
}

static int poison(struct sup *s, int k, uint64_t rec, const char *why,
		  int told)
{
	struct stage_run *r = at(s, k);
	/* Replicas: deaths on a record are counted for the group (another
	 * replica takes up the dead one's record), and its skip list is
	 * the group's, kept with the first replica.  A replica's record
	 * numbers are places in the input ring. */
	struct stage_run *g = at(s, s->first[P(s, k)]);
	uint32_t cap = r->cfg->ring / 2;
	uint64_t seq = rec - 1, done;
	struct rp_dead_record d;
	char said[256];
	struct rp_found f;
	struct suspect *sp;
	unsigned char *buf;
	int err;

	/* A source's input is not ours to quarantine; an exec stage's
	 * program reads ahead of what it is working on: its record is
	 * the one its adapter found killing it alone (told), only - but
	 * with --each, where a run of it is fed one record. */
	if (r->cfg->quarantine_after == 0 || rec == 0 || !has_in(s, k) ||
	    (!told && r->cfg->builtin && strcmp(r->cfg->argv[0], "exec") == 0 &&
	     !rp_cfg_exec_option(r->cfg, "--each")))
		return 0;
	if (r->nrep > 1 && group_skips(s, k, seq))
		return 2; /* known: its restart skips it */
	/* Alone, it was started past that record: it never had it. */
	if (r->nrep == 1 && group_skips(s, k, seq)) {
		snprintf(r->why, sizeof(r->why), "%.120s; but record %llu "
			 "had been quarantined and its restart told to skip "
			 "it: the claim is false", why,
			 (unsigned long long)seq);
		return -1;
	}
	sp = suspect_of(g, rec);
	/* Told: the adapter saw it die that many times on it alone. */
	if (told)
		sp->deaths = r->cfg->quarantine_after;
	else if (++sp->deaths < r->cfg->quarantine_after)
		return 0;
	sp->rec = 0;
	sp->deaths = 0;
	sp->last = 0; /* free: taken first */
	if (s->quarantined >= s->cfg->quarantine_max) {
		snprintf(r->why, sizeof(r->why), "%.120s; record %llu would be "
			 "quarantined, but quarantine_max (%u) is reached",
			 why, (unsigned long long)seq, s->cfg->quarantine_max);
		return -1;
	}
	/* What it has released is behind it for good: those numbers need
	 * no skipping any more. */
	buf = malloc(cap ? cap : 1);
	if (r->nrep > 1)
		err = buf ? rp_ring_read_at(ring_in(s, k), seq, buf, cap, &f,
					    &done)
			  : -ENOMEM;
	else
		err = rp_ring_commit_seq(ring_in(s, k), &done);
	if (err == 0 || (r->nrep > 1 && err == -ENOENT)) {
		for (unsigned i = 0; i < g->nskip;) {
			if (g->skip[i] < done)
				g->skip[i] = g->skip[--g->nskip];
			else
				i++;
		}
	}
	if (g->nskip >= RP_WIRING_MAX_SKIP) {
		free(buf);
		snprintf(r->why, sizeof(r->why), "%.120s; more than %u records "
			 "quarantined and not yet behind it", why,
			 RP_WIRING_MAX_SKIP);
		return -1;
	}
	if (r->nrep == 1)
		err = buf ? rp_ring_find(ring_in(s, k), seq, buf, cap, &f)
			  : -ENOMEM;
	if (err) {
		/* A number the stage gave (its claim, or the word a
		 * crashed stage left): said as what it is. */
		snprintf(r->why, sizeof(r->why), "%.100s; record %s%llu cannot "
			 "be quarantined: %.70s", why,
			 r->nrep > 1 ? "at input byte " : "",
			 (unsigned long long)seq,
			 err == -ENOENT ? "it is not on its input ring (let "
					  "go of, or never written)"
					: strerror(-err));
		free(buf);
		return -1;
	}
	memset(&d, 0, sizeof(d));
	/* Replayed: which record it was in the run that quarantined it. */
	if (P(s, k) == 1 && f.origin < s->o->nreplay_of &&
	    s->o->replay_of[f.origin].numbered) {
		d.replayed = 1;
		d.first_seq = s->o->replay_of[f.origin].seq;
		d.first_origin = s->o->replay_of[f.origin].origin;
		snprintf(said, sizeof(said), "%.160s (first quarantined: "
			 "seq %llu, origin %llu)", why,
			 (unsigned long long)d.first_seq,
			 (unsigned long long)d.first_origin);
		why = said;
	}
	d.pipeline = s->cfg->name;
	d.stage = pos_name(s, P(s, k)); /* a replica: its stage's name */
	d.reason = why;
	d.seq = seq;
	d.origin = f.origin;
	d.sub = f.sub;
	d.type = f.type;
	d.attempts = told == 2 ? 1 : r->cfg->quarantine_after;
	d.data = buf;
	d.len = f.len < cap ? f.len : cap;
	err = rp_deadletter_put(&s->dead, &d);
	free(buf);
	if (err) {
		snprintf(r->why, sizeof(r->why), "%.120s; record %llu cannot be "
			 "quarantined: the dead-letter output failed", why,
			 (unsigned long long)seq);
		return -1;
	}
	g->skip[g->nskip++] = seq;
	if (r->nrep > 1)
		g->q_end = seq + rp_rec_size(f.len);
	/* Every replica's next start skips it too. */
	for (int i = s->first[P(s, k)] + 1; i < pos_end(s, P(s, k)); i++) {
		at(s, i)->nskip = g->nskip;
		memcpy(at(s, i)->skip, g->skip, sizeof(g->skip));
	}
	r->quarantined++;
	s->quarantined++;
	if (told == 2)
		g->refuse_again += (unsigned)(r->nrep - 1);
	if (told == 2)
		rp_log(RP_LOG_INFO, r->cfg->name, "record %s%llu quarantined "
		       "to %s.rec (%s)", r->nrep > 1 ? "at input byte " : "",
		       (unsigned long long)seq, s->dead.prefix, why);
	else
		rp_log(RP_LOG_INFO, r->cfg->name, "record %s%llu quarantined "
		       "to %s.rec after %u death%s on it (%s)",
		       r->nrep > 1 ? "at input byte " : "",
		       (unsigned long long)seq, s->dead.prefix,
		       r->cfg->quarantine_after,
		       r->cfg->quarantine_after == 1 ? "" : "s", why);
	return 1;
}

/* Stage k died of its own doing on input record rec (+ 1; 0: none or
 * not its fault; told: its adapter found it, see poison; 2: the stage
 * refused it): the record is quarantined if that was its last chance,
 * and the stage restarted under its policy; else the stage fails. */
static void recover(struct sup *s, int k, uint64_t rec, const char *why,
		    int told)
{
	struct stage_run *r = at(s, k);
	int q = rec != 0 ? poison(s, k, rec, why, told) : 0;

	/* A copy of a group that quarantined the record it died on made
	 * progress: deaths on neighbouring poison records fall on the
	 * copy that takes up the claim, however many copies there are. */
	r->death_rec = rec;
	if (q < 0) {
		char fwhy[sizeof(r->why)];
		snprintf(fwhy, sizeof(fwhy), "%s", r->why);
		set_state(s, k, ST_FAILED);
		fail(s, k, "%s", fwhy);
	} else if (!maybe_restart(s, k, why,
				  q == 1 && told == 2 ? 2
						      : q == 1 && r->nrep > 1)) {
		set_state(s, k, ST_FAILED);
		fail(s, k, "%s", strstr(r->why, "giving up") ? r->why : why);
	}
	r->cleared = q == 1 ? rec : 0;
}

/* An exec adapter says its program dies alone on record told_rec - 1.
 * Only an exec stage may say so, and only of the first record it has
 * not released (it lets go of what comes before first). */
static int told_ok(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	uint64_t done;

	return r->told_rec != 0 && has_in(s, k) && r->cfg->builtin &&
	       strcmp(r->cfg->argv[0], "exec") == 0 &&
	       rp_ring_commit_seq(ring_in(s, k), &done) == 0 &&
	       done == r->told_rec - 1;
}

/* Replicas: is place pos behind what the group has released (a record a
 * sibling refused and the quarantine has put behind it)? */
static int released_place(struct sup *s, int k, uint64_t pos)
{
	unsigned char b[8];
	struct rp_found f;
	uint64_t head = 0;

	return rp_ring_read_at(ring_in(s, k), pos, b, sizeof(b), &f,
			       &head) == -ENOENT &&
	       pos < head;
}

/* A stage says it refused input record refused_rec - 1: one it has not
 * released (a replica's is a place in the ring, which the quarantine's
 * read of it checks).  exec reads ahead of its program: never. */
static int refused_ok(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	uint64_t done;

	/* (An exec adapter refuses only a record its program's run alone
	 * rejected: with --each, a run per record.) */
	if (r->refused_rec == 0 || !has_in(s, k) ||
	    (r->cfg->builtin && strcmp(r->cfg->argv[0], "exec") == 0 &&
	     !rp_cfg_exec_option(r->cfg, "--each")))
		return 0;
	if (r->nrep > 1)
		return 1;
	/* (Nothing released yet: its commit point is the start.) */
	switch (rp_ring_commit_seq(ring_in(s, k), &done)) {
	case 0:
		break;
	case -ENOENT:
		done = 0;
		break;
	default:
		return 0;
	}
	return r->refused_rec - 1 >= done;
}

/* A replica died: its claims on the rings it shares are marked, so the
 * next locker voids them (its input records go to another replica, what
 * it had reserved for output is padded).  Before it is reaped, while its
 * pid cannot be anyone else's. */
static void mark_dead(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	int p = P(s, k);

	if (has_in(s, k) && rp_ring_mark_dead(ring_in(s, k), r->proc.pid) > 0) {
		rp_bell_ring(s->bell[p]);
		rp_bell_ring(s->bell[p - 1]);
	}
	if (has_out(s, k) &&
	    rp_ring_mark_dead(ring_out(s, k), r->proc.pid) > 0) {
		rp_bell_ring(s->bell[p + 1]);
		rp_bell_ring(s->bell[p]);
	}
}

/* Has every process at place p ended done? */
static int pos_done(struct sup *s, int p)
{
	for (int k = s->first[p]; k < pos_end(s, p); k++)
		if (at(s, k)->state != ST_EXITED)
			return 0;
	return 1;
}

/* Is a process at place p still running, or coming back? */
static int pos_live(struct sup *s, int p)
{
	for (int k = s->first[p]; k < pos_end(s, p); k++)
		if (at(s, k)->state <= ST_RESTARTING)
			return 1;
	return 0;
}

/* The processes at place p, appended to who[] (n of them so far),
 * and their names to names. */
static int group_add(struct sup *s, int p, int skip, int *who, int n,
		     char *names, size_t cap)
{
	for (int c = s->first[p]; c < pos_end(s, p); c++) {
		size_t len = strlen(names);
		/* (One never started has written nothing.) */
		if (c == skip || unstarted(at(s, c)))
			continue;
		if (len + 2 < cap)
			snprintf(names + len, cap - len, "%s%s",
				 len ? ", " : "", at(s, c)->cfg->name);
		who[n++] = c;
	}
	return n;
}

/* What the writers of a broken ring did, as far as the supervisor can
 * tell: broke its format (found broken, whose page unknown), changed its
 * geometry (against the supervisor's copy), or wrote a cursor that went
 * back or out of step (against its samples). */
enum writ { W_BROKE, W_GEOMETRY, W_CURSOR };

/* Fail the processes in who[0..n) (names lists them) as the writers of
 * what process k found broken on its ring at side `side` (1 input, 2
 * output).  k is marked stopped (cancelled) first, and failed after if
 * it is among them; not when k's standby found it (spare): k runs on
 * until the failure cancels it. */
static void fail_writers(struct sup *s, int k, int side, const int *who,
			 int n, const char *names, enum writ w, int spare)
{
	static const char *const did[] = {
		[W_BROKE] = "broke the format of",
		[W_GEOMETRY] = "changed the geometry of",
		[W_CURSOR] = "wrote a cursor that went back or out of step on",
	};
	struct stage_run *r = at(s, k);
	const char *ring = side == 2 ? "output" : "input";
	const char *how = w == W_GEOMETRY ? ", against the supervisor's copy"
					  : "";
	char by[RP_CFG_NAME + 16];

	snprintf(by, sizeof(by), "%s%s", r->cfg->name,
		 spare ? "'s standby" : "");
	if (r->state != ST_FAILED && !spare) {
		set_state(s, k, ST_CANCELLED);
		snprintf(r->why, sizeof(r->why), "stopped: its %s ring was "
			 "broken by %s%s", ring, n > 1 ? "one of " : "", names);
	}
	for (int i = 0; i < n; i++) {
		struct stage_run *c = at(s, who[i]);
		int own = P(s, who[i]) == P(s, k);
		const char *theirs = own ? ring : side == 2 ? "input" : "output";
		/* Failed already: both ends of a ring may find what it
		 * broke (its restart and its neighbour). */
		if (c->state == ST_FAILED && (who[i] != k || spare))
			continue;
		if (alive(c->state) && c->proc.pid > 0)
			rp_spawn_kill(&c->proc);
		c->killed_by_us = 0;
		set_state(s, who[i], ST_FAILED);
		c->why[0] = '\0';
		if (n > 1 && w == W_BROKE)
			fail(s, who[i], "killed: the %s ring %s found broken "
			     "is written by %s, and which of them broke it "
			     "cannot be told", ring, by, names);
		else if (n > 1)
			fail(s, who[i], "killed: one of %s %s their %s ring%s%s "
			     "(detected by %s), and which cannot be told",
			     names, did[w], theirs,
			     w == W_GEOMETRY ? " where only they can write"
					     : "",
			     how, by);
		else if (who[i] == k && !spare)
			fail(s, who[i], "%s its %s ring%s%s; failed", did[w],
			     ring,
			     w == W_GEOMETRY ? " where only it can write" : "",
			     how);
		else
			fail(s, who[i], "%s its %s ring%s%s (detected by %s); "
			     "killed", did[w], theirs,
			     w == W_GEOMETRY ? " where only it can write" : "",
			     how, by);
	}
}

/* Process k found the ring on its side `side` broken, and the
 * supervisor's own check agrees, with nothing to show whose page holds
 * what is broken.  Each side maps the other's pages read-only, so the
 * writer is across that ring - or, for a replica, one of its siblings,
 * which share its page.  Several suspects (replicas) are all killed and
 * failed, since which one it was cannot be told. */
static void blame(struct sup *s, int k, int side)
{
	int cp = side == 2 ? P(s, k) + 1 : P(s, k) - 1, who[RP_CFG_MAX_PROCS];
	char names[200] = "";
	int n = group_add(s, cp, -1, who, 0, names, sizeof(names));

	if (at(s, k)->nrep > 1)
		n = group_add(s, P(s, k), k, who, n, names, sizeof(names));
	if (n == 0) {
		/* Nobody else has written it yet: the claim is its own. */
		set_state(s, k, ST_FAILED);
		at(s, k)->why[0] = '\0';
		fail(s, k, "said its %s ring was broken before any other stage "
			   "had written it", side == 2 ? "output" : "input");
		return;
	}
	fail_writers(s, k, side, who, n, names, W_BROKE, 0);
}

/* The same where the supervisor can show whose page holds it: the
 * ring's geometry against its copy from the ring's making, a cursor
 * against its samples (geo, cur: RP_SIDE_* bits).  Each side group is
 * failed on its own showing, the claimant's own included (spare: the
 * claimant is k's standby, see fail_writers).  How many were named. */
static int blame_proven(struct sup *s, int k, int side, int geo, int cur,
			int spare)
{
	int mine = side == 2 ? RP_SIDE_PRODUCER : RP_SIDE_CONSUMER;
	int cp = side == 2 ? P(s, k) + 1 : P(s, k) - 1, who[RP_CFG_MAX_PROCS];
	int failed = 0;

	for (int g = 0; g < 2; g++) {
		int bit = g == 0 ? mine : ~mine & 3;
		char names[200] = "";
		int n;
		if (!((geo | cur) & bit))
			continue;
		n = group_add(s, g == 0 ? P(s, k) : cp, -1, who, 0, names,
			      sizeof(names));
		if (n == 0)
			continue; /* (a side never started wrote nothing) */
		fail_writers(s, k, side, who, n, names,
			     (geo & bit) ? W_GEOMETRY : W_CURSOR, spare);
		failed += n;
	}
	return failed;
}

/* Process k ended saying its ring on side broken_side is broken
 * (RP_EXIT_VIOLATION, while it ran, or as it attached: at_attach).  The
 * supervisor checks the ring itself and fails whoever can write what it
 * finds broken.  A claim against a ring it finds sound fails the
 * claimant; so does one made as it attached against a ring found broken
 * with nothing to show whose page holds it (its own earlier run may
 * have left it so: the restarted stage never read it before). */
static void judge_violation(struct sup *s, int k, int code, int at_attach)
{
	struct stage_run *r = at(s, k);
	int side = r->broken_side == 2 ? 2 : 1, c, ring, geo, cur;
	const char *name = side == 2 ? "output" : "input";

	if (side == 2 ? has_out(s, k) : has_in(s, k)) {
		ring = side == 2 ? P(s, k) : P(s, k) - 1;
		geo = rp_ring_geometry_changed(&s->ring[ring], &s->geo[ring]);
		cur = rp_ring_watch_culprits(&s->watch[ring]);
		if (geo > 0 || cur > 0) {
			blame_proven(s, k, side, geo > 0 ? geo : 0, cur, 0);
			return;
		}
		if (rp_ring_verify(&s->ring[ring], side != 2) != 0) {
			/* A first start of a single copy: nothing but the
			 * supervisor ever wrote its side of the ring. */
			if (!at_attach || (r->restarts == 0 &&
					   r->takeovers == 0 && r->nrep == 1)) {
				blame(s, k, side);
				return;
			}
			set_state(s, k, ST_FAILED);
			r->why[0] = '\0'; /* not "its ring's format was..." */
			fail(s, k, "found its %s ring broken as it attached, "
				   "with nothing to show which side broke it: "
				   "failed itself, as its own earlier run may "
				   "have left it so (exit %d)", name, code);
			return;
		}
	}
	/* It says a ring is broken, but the ring is sound (or it has no
	 * neighbour there): its own failure - unless the neighbour rewrote
	 * a cursor it had scribbled (its next store repairs it), which looks
	 * the same from here.  Said as such. */
	c = side == 2 ? P(s, k) + 1 : P(s, k) - 1;
	set_state(s, k, ST_FAILED);
	r->why[0] = '\0';
	if (c >= 0 && c < s->npos)
		fail(s, k, "said its %s ring was broken, but it is sound now: "
			   "either %s rewrote it since, or the claim is false "
			   "(exit %d)", name, pos_name(s, c), code);
	else
		fail(s, k, "said its %s ring was broken, but it has none "
			   "(exit %d)", name, code);
}

/* An exec --each stage ended as its program did, of its own doing
 * (RP_EXIT_PROGRAM_SIGNAL + the signal)? */
static int program_died(const struct stage_run *r, int code)
{
	int sig = code - RP_EXIT_PROGRAM_SIGNAL;

	/* (SIGXFSZ: a run that wrote past what a record may have.) */
	return sig > 0 && sig < 32 && (own_signal(sig) || sig == SIGXFSZ) &&
	       rp_cfg_exec_option(r->cfg, "--each");
}

/* Stage k exited with code, failed, while working on an input record:
 * that record (+ 1) if the failure may be its doing, as a crash on it
 * may be, else 0.  A program of one's own (and fault, which stands for
 * one in tests) fails on a record when its callback returns an error or
 * it exits in the middle; a built-in's errors are its environment's (a
 * file it cannot write), which no record causes; exec's program is
 * judged by exec. */
static uint64_t failed_on(struct sup *s, int k, int code, char *where,
			  size_t len)
{
	struct stage_run *r = at(s, k);

	if (s->cancel_reason || code == RP_EXIT_SUPERVISOR ||
	    r->spared_call[0] || r->timeout_why[0] ||
	    (r->cfg->builtin && strcmp(r->cfg->argv[0], "fault") != 0))
		return 0;
	return working_on(r, where, len);
}

/* Is pid a process of the run's: a stage, a copy or a standby? */
static int is_stage(void *arg, pid_t pid)
{
	struct sup *s = arg;

	for (int k = 0; k < s->n; k++)
		if (at(s, k)->proc.pid == pid || at(s, k)->spare.pid == pid)
			return 1;
	return 0;
}

/* Stage k died of the signal the run is being cancelled for, which
 * reached it too (sent to every process at once: systemd's control-group
 * stop, a kill of the whole tree): the end we were asking of it, not a
 * failure. */
static void ended_by_cancel_signal(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	const char *abbrev = sigabbrev_np(s->cancel_sig);

	set_state(s, k, ST_CANCELLED);
	snprintf(r->why, sizeof(r->why), "ended by the SIG%s that cancelled "
		 "the run", abbrev ? abbrev : "?");
}

static void on_signal(struct sup *s);

/* The signals that stop a run (sent by an operator, a terminal or a
 * service manager), never a stage's own doing. */
static int stop_signal(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP ||
	       sig == SIGQUIT;
}

static void on_exit_of(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)r->proc.pidfd, &si,
		   WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
		return;
	if (r->nrep > 1)
		mark_dead(s, k);
	r->outside = 0;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)r->proc.pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	/* What it left behind came to us as it died; what it left in its
	 * temporary directory goes now. */
	rp_orphans_sweep(&s->orphans, is_stage, s);
	rp_spawn_scratch_remove(&r->proc);
	read_control(s, k);
	/* A stage that sent no final count (killed) still had released
	 * this much (a display figure only: bounded, not trusted); and
	 * holds it gave up mean a long line was not kept whole. */
	if (r->proc.rx) {
		uint64_t u = rp_ctl_status_read(r->proc.rx,
						RP_CTL_WORD_UNHELD);
		if (u < UINT64_MAX / 2)
			r->unheld += u;
		uint64_t v = rp_ctl_status_read(r->proc.rx,
						RP_CTL_WORD_INPUT_SEQ);
		if (v > r->records_in && v < UINT64_MAX / 2)
			r->records_in = v;
		for (int i = 0; i < 2 && !r->waits_taken; i++)
			r->wait_us[i] += wait_word(r, i);
		r->waits_taken = 1;
	}
	/* Any request to it from now on fails at once, instead of waiting
	 * for a reader that is gone. */
	if (r->proc.cin.c_fd >= 0)
		rp_ring_mark_broken(&r->proc.cin, NULL);
	r->proc.pid = -1;
	s->alive--;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, r->proc.pidfd, NULL);
	/* A dead stage's listener only reports hang-up from now on. */
	if (r->proc.listener >= 0) {
		on_violation(s, k);
		epoll_ctl(s->ep, EPOLL_CTL_DEL, r->proc.listener, NULL);
	}
	/* Already judged (a denied syscall, a broken ring it was blamed
	 * for): its death is the consequence, told once. */
	if (r->state == ST_FAILED)
		return;
	read_control(s, k);
	/* A stop signal: one sent to every process (a kill of the whole
	 * tree) may have reached it before us.  Ours, if it is pending, is
	 * taken first, so that this death is judged as part of the cancel
	 * it brings.  (An exec stage whose program died of one waits for
	 * that cancel itself.) */
	if (s->cancel_sig == 0 && si.si_code != CLD_EXITED &&
	    stop_signal(si.si_status))
		on_signal(s);
	if (si.si_code == CLD_EXITED && program_died(r, si.si_status)) {
		/* exec --each: its program's crash, as the stage's own. */
		char where[64], why[240];
		uint64_t rec = working_on(r, where, sizeof(where));
		int sig = si.si_status - RP_EXIT_PROGRAM_SIGNAL;
		snprintf(why, sizeof(why), "its program was killed by signal "
			 "%d (%s) %s", sig, strsignal(sig), where);
		r->status = si.si_status;
		r->fault_gen = 0;
		r->why[0] = '\0';
		r->timed_out = r->denied = 0;
		recover(s, k, rec, why, 0);
	} else if (si.si_code == CLD_EXITED) {
		int code = si.si_status;
		r->status = code;
		if (code == RP_EXIT_VIOLATION || r->broken_side) {
			/* It said a ring was broken: judged, whatever exit
			 * code it chose after saying so (a program of one's
			 * own may end with 0 or 1 whatever went wrong). */
			judge_violation(s, k, code, r->broken_at_attach);
		} else if (code == RP_EXIT_OUTPUT_CLOSED && r->said_done &&
			   s->cancel_reason != 0 && has_out(s, k) &&
			   !pos_done(s, P(s, k) + 1)) {
			/* Its consumer did not finish early: it failed, or
			 * was cancelled, and the stream was cut for it. */
			set_state(s, k, ST_CANCELLED);
		} else if ((code == RP_EXIT_OK ||
			    code == RP_EXIT_OUTPUT_CLOSED) && r->said_done) {
			set_state(s, k, ST_EXITED);
			r->cut_short = code == RP_EXIT_OUTPUT_CLOSED;
			/* It says it is done (and its replicas with it):
			 * whatever it did not end, end for it, or its
			 * consumer would wait for ever. */
			if (has_out(s, k) && pos_done(s, P(s, k)))
				rp_ring_mark_ended(ring_out(s, k),
						   s->bell[P(s, k) + 1]);
			/* Done early (like head): whoever still feeds it must
			 * stop, as a writer to a closed pipe does. */
			if (has_in(s, k) && pos_done(s, P(s, k)) &&
			    pos_live(s, P(s, k) - 1))
				rp_ring_mark_broken(ring_in(s, k),
						    s->bell[P(s, k) - 1]);
		} else if (code > RP_EXIT_CANCELLED_BASE &&
			   code <= RP_EXIT_CANCELLED_BASE + (int)RP_REASON_MAX &&
			   s->cancel_reason != 0) {
			/* Only a cancel we sent makes a cancelled stage. */
			set_state(s, k, ST_CANCELLED);
		} else if (code == RP_EXIT_REFUSED && refused_ok(s, k)) {
			struct stage_run *g = at(s, s->first[P(s, k)]);
			char why[240];
			snprintf(why, sizeof(why), "it refused %s%llu: %s%s%s",
				 r->nrep > 1 ? "the record at input byte "
					     : "record ",
				 (unsigned long long)(r->refused_rec - 1),
				 r->refusal,
				 strlen(r->refusal) + 1 == sizeof(r->refusal)
					 ? "..."
					 : "",
				 r->refused_gone_on
					 ? " (some of its outputs had gone on: "
					   "they filled the output ring)"
					 : "");
			if (s->cancel_reason) {
				/* Ending anyway: no quarantine, no blame. */
				set_state(s, k, ST_CANCELLED);
			} else if (r->cfg->restart == RP_RESTART_NEVER ||
				   r->cfg->quarantine_after == 0) {
				/* It cannot go on past the record: said, and
				 * the record left where it is. */
				set_state(s, k, ST_FAILED);
				fail(s, k, "%s; with %s, the run ends there",
				     why,
				     r->cfg->quarantine_after == 0
					     ? "quarantine_after: 0"
					     : "restart: never");
			} else if (r->nrep > 1 && g->refuse_again > 0 &&
				   (group_skips(s, k, r->refused_rec - 1) ||
				    released_place(s, k, r->refused_rec - 1))) {
				/* A copy took up a record a sibling refused,
				 * before the quarantine reached it, and
				 * refused it too, as it must: once per copy
				 * and quarantine, no more. */
				g->refuse_again--;
				if (!maybe_restart(s, k, why, 2)) {
					set_state(s, k, ST_FAILED);
					fail(s, k, "%s", why);
				}
			} else {
				recover(s, k, r->refused_rec, why, 2);
			}
			r->refused_rec = 0;
		} else if (code == RP_EXIT_POISON && told_ok(s, k)) {
			char why[240];
			int sig = r->told_sig;
			/* SIGKILL is never a program's own doing but
			 * ours, for its timeout or a denied syscall (it says
			 * which; we know whether either was so). */
			if (sig == SIGKILL && r->told_hang &&
			    r->timeout_why[0])
				snprintf(why, sizeof(why), "its program "
					 "exceeded its per-record timeout of "
					 "%u ms on record %llu, fed to it alone "
					 "%u times", r->cfg->record_timeout_ms,
					 (unsigned long long)(r->told_rec - 1),
					 r->told_deaths);
			else if (r->told_exit && sig > 0 && sig < 256)
				snprintf(why, sizeof(why), "its program "
					 "exited with status %d (a "
					 "--reject-exit status) on record %llu, "
					 "fed to it alone %u times", sig,
					 (unsigned long long)(r->told_rec - 1),
					 r->told_deaths);
			else if (sig == SIGKILL && r->spared_call[0])
				snprintf(why, sizeof(why), "its program made "
					 "denied syscall %s on record %llu, fed "
					 "to it alone %u times", r->spared_call,
					 (unsigned long long)(r->told_rec - 1),
					 r->told_deaths);
			else
				snprintf(why, sizeof(why), "its program was "
					 "killed by signal %d (%s) on record "
					 "%llu, fed to it alone %u times", sig,
					 sig > 0 && sig < 65 ? strsignal(sig)
							     : "?",
					 (unsigned long long)(r->told_rec - 1),
					 r->told_deaths);
			recover(s, k, r->told_rec, why, 1);
			r->told_rec = 0;
		} else {
			char why[240], where[64];
			uint64_t rec;
			/* A stage is done when it says so: an exit 0 without
			 * its final control record (or after an error it
			 * sent) left its input unfinished, and is a failure
			 * like any other, or its output would end short. */
			if (code == RP_EXIT_OK || code == RP_EXIT_OUTPUT_CLOSED)
				if (r->why[0] == '\0')
					snprintf(r->why, sizeof(r->why),
						 "exited before saying it "
						 "was done");
			snprintf(why, sizeof(why), "%s (exit %d)%s%s%s%s",
				 r->why[0] ? r->why : "failed", code,
				 r->spared_call[0] ? "; its program had made "
						     "denied syscall "
						   : "",
				 r->spared_call, r->timeout_why[0] ? "; " : "",
				 r->timeout_why);
			/* These fail the same way every time - but for a
			 * program's that comes in the middle of a record: the
			 * library says them only before its first, so there
			 * it is the program's own exit on the record (which
			 * a hostile one would take to escape the quarantine).
			 * No restart is the program's to ask: granted, with
			 * the record named. */
			rec = failed_on(s, k, code, where, sizeof(where));
			if (code == RP_EXIT_NO_RESTART ||
			    ((code == RP_EXIT_USAGE || code == RP_EXIT_SANDBOX) &&
			     rec == 0)) {
				size_t n = strlen(why);
				if (rec != 0)
					snprintf(why + n, sizeof(why) - n, " %s",
						 where);
				set_state(s, k, ST_FAILED);
				fail(s, k, "%s", why);
			} else if (rec != 0) {
				/* Its error on a record may be the record's
				 * doing, as a crash on it may be. */
				size_t n = strlen(why);
				snprintf(why + n, sizeof(why) - n, " %s", where);
				r->why[0] = '\0';
				recover(s, k, rec, why, 0);
			} else if (!maybe_restart(s, k, why, 0)) {
				set_state(s, k, ST_FAILED);
				/* Its program's timeout belongs in the report's
				 * line for it, with the error it led to. */
				if (r->timeout_why[0] &&
				    !strstr(r->why, "giving up"))
					snprintf(r->why, sizeof(r->why), "%s",
						 why);
				fail(s, k, "%s", r->why[0] && strstr(r->why, "giving up")
							 ? r->why
							 : why);
			}
		}
	} else if (r->killed_by_us) {
		set_state(s, k, ST_CANCELLED);
		snprintf(r->why, sizeof(r->why), "killed after it did not "
						 "obey the cancel");
	} else if (s->cancel_sig != 0 && si.si_status == s->cancel_sig &&
		   r->state == ST_CANCELLING) {
		/* The signal we are cancelling for reached it too (sent to
		 * every process at once: systemd's control-group stop, a
		 * kill of the whole tree): the end we were asking of it. */
		ended_by_cancel_signal(s, k);
	} else {
		char where[64];
		uint64_t rec = working_on(r, where, sizeof(where));
		char why[240];
		int own = r->timed_out || r->denied ||
			  (si.si_code != CLD_EXITED && own_signal(si.si_status));
		/* A fault ringpipe chaos sent it is not the record's fault:
		 * never counted towards quarantining it. */
		int injected = r->fault_gen != 0 &&
			       r->fault_gen == r->restarts + 1;
		if (r->why[0] == '\0' && si.si_code != CLD_EXITED &&
		    si.si_status == SIGSYS && !r->denied &&
		    r->cfg->sandbox.policy != RP_POLICY_NONE)
			/* No denied call was told of: the filter's own kill,
			 * which only a call through another ABI meets. */
			snprintf(why, sizeof(why), "killed by signal %d (%s) %s "
				 "(likely a syscall through a foreign ABI, x32 "
				 "or i386, which the filter kills outright)",
				 si.si_status, strsignal(si.si_status), where);
		else if (r->why[0] == '\0')
			snprintf(why, sizeof(why), "killed by signal %d (%s) %s",
				 si.si_status, strsignal(si.si_status), where);
		else
			snprintf(why, sizeof(why), "%s", r->why);
		if (injected && own && strlen(why) + 24 < sizeof(why))
			strcat(why, " (a chaos fault)");
		r->fault_gen = 0;
		own = own && !injected;
		r->why[0] = '\0';
		r->timed_out = r->denied = 0;
		r->outside = !own;
		recover(s, k, own ? rec : 0, why, 0);
	}
}

static int exec_chunks(const struct rp_cfg_stage *c);

/* An exec stage that holds its input back can narrow its program's
 * deaths down to a record: a denied syscall of the program then stops
 * the program alone, as a crash of it would. */
static int narrows(struct sup *s, int k)
{
	const struct rp_cfg_stage *c = at(s, k)->cfg;

	return c->builtin && strcmp(c->argv[0], "exec") == 0 &&
	       !exec_chunks(c) && !rp_cfg_exec_option(c, "--each") &&
	       has_in(s, k) && c->quarantine_after > 0 &&
	       !s->cancel_reason && at(s, k)->proc.pid > 0;
}

static void on_violation(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	struct rp_violation v;
	char where[64];
	uint64_t rec = working_on(r, where, sizeof(where));

	for (int budget = 64;
	     budget-- > 0 && r->proc.listener >= 0 &&
	     rp_spawn_violation(&r->proc, narrows(s, k), &v) == 0;) {
		if (v.spared) {
			snprintf(r->spared_call, sizeof(r->spared_call),
				 "%s (%d)", v.name, v.nr);
			rp_log(RP_LOG_INFO, r->cfg->name, "its program made "
			       "denied syscall %s: the program is killed, "
			       "and the stage narrows its input down to the "
			       "record", r->spared_call);
			continue;
		}
		if (v.unspared)
			rp_log(RP_LOG_INFO, r->cfg->name, "denied syscall %s "
			       "(%d): the stage is killed, not its program "
			       "alone: %s", v.name, v.nr, v.unspared);
		if (v.errno_) {
			/* A deny rule with an errno: not fatal; reported the
			 * first time for each syscall, counted after. */
			int seen = 0;
			r->soft_denials++;
			for (int i = 0; i < r->nsoft; i++)
				seen |= r->soft_nr[i] == v.nr;
			if (!seen && r->nsoft < 8)
				r->soft_nr[r->nsoft++] = v.nr;
			if (!seen)
				rp_log(RP_LOG_INFO, r->cfg->name, "denied "
				       "syscall %s (%d) %s: failed with %s "
				       "(reported once)", v.name, v.nr, where,
				       strerrorname_np(v.errno_));
			continue;
		}
		/* On a record, with restarts: maybe that record's fault, so
		 * judged when it has died (it is being killed). */
		if (rec != 0 && k > 0 && r->cfg->quarantine_after > 0 &&
		    r->cfg->restart != RP_RESTART_NEVER && !s->cancel_reason &&
		    r->proc.pid > 0) {
			r->denied = 1;
			snprintf(r->why, sizeof(r->why), "denied syscall %s "
				 "(%d) %s", v.name, v.nr, where);
			continue;
		}
		set_state(s, k, ST_FAILED);
		fail(s, k, "denied syscall %s (%d) %s; killed", v.name, v.nr,
		     where);
	}
}

static void print_stats(struct sup *s)
{
	double secs = (double)(rp_now_ns() - s->t0) / 1e9;

	fprintf(stderr, "[%6.1fs]", secs);
	for (int p = 0; p + 1 < s->npos; p++) {
		struct rp_ring_stats ps, cs;
		uint64_t used = 0;
		if (rp_ring_observe(&s->ring[p], &ps, &cs, &used) == 0)
			fprintf(stderr, "  %s>%s %llu rec %.1f MB (%llu KiB "
					"queued)",
				pos_name(s, p), pos_name(s, p + 1),
				(unsigned long long)cs.records,
				(double)cs.bytes / 1e6,
				(unsigned long long)(used / 1024));
	}
	fprintf(stderr, "\n");
}

/* Records/s through each ring in the last tick and how full it is, as
 * its consumer counted them (a hint, like every figure from a stage). */
static void print_progress(struct sup *s)
{
	int64_t now = rp_now_ns();
	double dt = (double)(now - (s->prev_at ? s->prev_at : s->t0)) / 1e9;
	char line[512];
	int len = snprintf(line, sizeof(line), "[%.0fs]",
			  (double)(now - s->t0) / 1e9);

	for (int k = 0; k + 1 < s->npos && len < (int)sizeof(line); k++) {
		const struct rp_cfg_stage *c =
			&s->cfg->stages[s->cfg->order[k + 1]];
		struct rp_ring_stats ps, cs;
		uint64_t used = 0, d;
		double rate;
		if (rp_ring_observe(&s->ring[k], &ps, &cs, &used) != 0)
			continue;
		d = cs.records > s->prev_read[k] ? cs.records - s->prev_read[k]
						 : 0;
		s->prev_read[k] = cs.records;
		rate = dt > 0 ? (double)d / dt : 0;
		len += snprintf(line + len, sizeof(line) - (size_t)len,
			       " %s %.*f%s/s %llu%%", c->name,
			       rate >= 1e5 ? 1 : 0,
			       rate >= 1e6   ? rate / 1e6
			       : rate >= 1e5 ? rate / 1e3
					     : rate,
			       rate >= 1e6 ? "M" : rate >= 1e5 ? "k" : "",
			       (unsigned long long)(used > c->ring ? 100
							: used * 100 / c->ring));
	}
	s->prev_at = now;
	rp_progress_show(line);
}

/* The signals a run ends or drains on. */
static void held_signals(sigset_t *mask)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1};

	sigemptyset(mask);
	/* One ignored when ringpipe started stays ignored, as it would for
	 * any program started so: nohup ignores SIGHUP (the terminal may
	 * close), a script's background job starts with SIGINT and SIGQUIT
	 * ignored.  (Blocked and read, it would be taken all the same.) */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
		struct sigaction sa;
		if (sigaction(sigs[i], NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_IGN)
			continue;
		sigaddset(mask, sigs[i]);
	}
}

void rp_run_hold_signals(void)
{
	sigset_t mask;

	held_signals(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);
}

static int setup(struct sup *s, const struct rp_run_opts *o)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t mask;
	int err;

	held_signals(&mask);
	sigaddset(&mask, SIGTSTP);
	sigaddset(&mask, SIGCONT);
	if (o->chaos)
		sigaddset(&mask, RP_CHAOS_SIGNAL);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->sfd < 0 || s->ep < 0 || s->tfd < 0)
		return -errno;
	if ((err = rp_bell_create(RP_BELL_EVENTFD, &s->sup_bell)))
		return err;
	/* Eventfd bells: a stage may also wait on its own fds (the exec
	 * adapter's pipes) in the same poll.  Replicas share a futex bell
	 * (every waiter wakes; an eventfd would wake one). */
	for (int p = 0; p < s->npos; p++)
		if ((err = rp_bell_create(at(s, s->first[p])->nrep > 1
						  ? 0
						  : RP_BELL_EVENTFD,
					  &s->bell[p])))
			return err;
	for (int k = 0; k + 1 < s->npos; k++) {
		const struct rp_cfg_stage *from =
			&s->cfg->stages[s->cfg->order[k]];
		const struct rp_cfg_stage *to =
			&s->cfg->stages[s->cfg->order[k + 1]];
		struct rp_ring_config rc = {.capacity = to->ring};
		/* A producer that replays after a restart: its consumer
		 * drops what it had already taken (replicas: if they
		 * publish in order). */
		if (rp_cfg_replays(from) &&
		    (from->replicas == 1 || from->ordered))
			rc.flags = RP_RING_F_DEDUP;
		/* Replicas claim under the side's lock; a dead one's
		 * claim waits in its slot for another, so there are
		 * slots to spare for the restarted. */
		if (to->replicas > 1) {
			rc.flags |= RP_RING_F_MP_CONSUMERS |
				    (to->ordered ? RP_RING_F_ORDERED : 0);
			rc.nslots = 2 * to->replicas;
		}
		if (from->replicas > 1) {
			rc.flags |= RP_RING_F_MP_PRODUCERS;
			rc.nproducers = from->replicas;
			if (rc.nslots < 2 * from->replicas)
				rc.nslots = 2 * from->replicas;
		}
		s->ring[k].p_fd = s->ring[k].c_fd = -1;
		if ((err = rp_ring_create(&rc, &s->ring[k])) ||
		    (err = rp_ring_geometry(&s->ring[k], &s->geo[k])) ||
		    (err = rp_ring_watch_open(&s->ring[k], &s->geo[k],
					      &s->watch[k])))
			return err;
	}
	ev.data.u64 = EV(EV_SIGNAL, 0);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sfd, &ev);
	ev.data.u64 = EV(EV_BELL, 0);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, rp_bell_eventfd(s->sup_bell), &ev);
	if (rp_observe_open(&s->obs, s->cfg->name) == 0)
		for (int kind = 0; kind < 2; kind++) {
			ev.data.u64 = EV(EV_OBSERVE, kind);
			epoll_ctl(s->ep, EPOLL_CTL_ADD, s->obs.fd[kind], &ev);
		}
	if (o->stats || s->progress) {
		struct itimerspec one = {{1, 0}, {1, 0}};
		timerfd_settime(s->tfd, 0, &one, NULL);
		ev.data.u64 = EV(EV_TIMER, 0);
		epoll_ctl(s->ep, EPOLL_CTL_ADD, s->tfd, &ev);
	}
	return 0;
}

/* What stage k is started with now: its rings, and its spec (argv
 * has room for RP_CFG_MAX_ARGS + 3). */
static void fill_spec(struct sup *s, int k, const struct rp_run_opts *o,
		      struct rp_stage_spec *spec, struct rp_stage_links *l,
		      char **argv)
{
	struct stage_run *r = at(s, k);
	const struct rp_cfg_stage *c = r->cfg;
	int n = 0;

	memset(l, 0, sizeof(*l));
	l->in = has_in(s, k) ? ring_in(s, k) : NULL;
	l->in_bell = has_in(s, k) ? s->bell[P(s, k) - 1] : NULL;
	l->out = has_out(s, k) ? ring_out(s, k) : NULL;
	l->out_bell = has_out(s, k) ? s->bell[P(s, k) + 1] : NULL;
	l->sup_bell = s->sup_bell;
	l->own_bell = s->bell[P(s, k)];
	memset(spec, 0, sizeof(*spec));
	spec->name = c->name;
	spec->sandbox = c->sandbox;
	spec->trusted = c->builtin;
	spec->filter = &r->filter;
	/* The exec adapter can be its namespace's init (pid 1 ignores
	 * the signals it has no handler for, even its own abort()). */
	/* Not replicas: each would be pid 1 of its own, and their lock
	 * words (thread ids) could not be told apart; each makes its own
	 * namespace for its program instead (a keeper as its init). */
	spec->own_pidns = c->builtin && !strcmp(c->argv[0], "exec") &&
			  r->nrep <= 1;
	spec->scratch = c->builtin && !strcmp(c->argv[0], "exec");
	/* A stage started by root runs as a user every such stage shares
	 * (65534): unless it names its own cap, one whose policy lets it
	 * fork (exec, none: an exec stage, or a program of one's own) has
	 * the processes of that user capped, so a fork bomb stops there
	 * and not at the machine's last pid. */
	if (spec->sandbox.policy != RP_POLICY_STRICT &&
	    spec->sandbox.limit_nproc == 0 && geteuid() == 0 &&
	    spec->sandbox.uid != 0)
		spec->sandbox.limit_nproc = RP_EXEC_NPROC_DEFAULT;
	spec->has_seq = r->has_resume;
	spec->seq = r->resume_seq;
	spec->after = r->nrep > 1 ? r->resume_after : 0;
	spec->skip = r->skip;
	spec->nskip = r->nskip;
	if (o->crash_n && P(s, k) == o->crash_stage && k == s->first[P(s, k)] &&
	    r->restarts == 0) {
		spec->crash_point = o->crash_point;
		spec->crash_n = o->crash_n;
		/* It must die at its crash point by SIGKILL, which pid 1 of
		 * a namespace cannot send itself: it makes one for its
		 * program instead, as a replica does. */
		spec->own_pidns = 0;
	}
	if (o->chaos && rp_run_injectable(s->cfg, P(s, k)))
		spec->chaos_gen = r->restarts + 1;
	spec->incarnation = r->restarts + 1;
	spec->quarantine = c->quarantine_after;
	spec->end_n = c->record_timeout_ms == 0 ? 0
		      : (rp_cfg_end_timeout(c) + c->record_timeout_ms - 1) /
				c->record_timeout_ms;
	spec->timed = c->record_timeout_ms > 0;
	spec->lock_ms = r->nrep > 1 ? c->lock_timeout_ms : 0;
	spec->null_stdin = has_in(s, k);
	spec->null_stdout = has_out(s, k);
	if (c->builtin)
		argv[n++] = (char *)o->stage_bin;
	for (int i = 0; i < c->argc; i++)
		argv[n++] = c->argv[i];
	argv[n] = NULL;
	spec->argv = argv;
}

/* A new incarnation begins: its per-incarnation counts start over. */
static void fresh_incarnation(struct stage_run *r)
{
	r->told_rec = 0;
	r->spared_call[0] = '\0';
	r->timeout_why[0] = '\0';
	r->told_timeout = 0;
	r->timeouts_told = r->timeouts_acted = 0;
	r->started_at = rp_now_ns();
	r->worked_ns = r->sampled_at = 0;
	r->seen_current = r->seen_progress = 0;
	r->waits_taken = 0;
	r->broken_side = r->broken_at_attach = 0;
	r->said_done = 0;
	r->refused_rec = 0;
	r->refused_gone_on = 0;
}

/* How long a restart's sandbox hand-shake is waited for, as a first
 * start's is. */
#define HANDSHAKE_NS (10000 * 1000000LL)

/* The end of a start, its hand-shake taken (err 0) or failed. */
static int start_done(struct sup *s, int k, int err)
{
	struct stage_run *r = at(s, k);
	struct epoll_event ev = {.events = EPOLLIN};

	if (err) {
		char why[sizeof(r->why)];
		int st = r->proc.start_status;
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		/* Its stderr may say why. */
		rp_errpipe_pump(&r->err, stderr);
		/* It found a ring broken as it attached (said on its
		 * control ring, then ended; the end of its hand-shake may
		 * have had it killed before its exit): judged as when found
		 * later, on who can write what is broken. */
		if (err == -EPIPE)
			read_control(s, k);
		if (r->state == ST_FAILED)
			return err; /* its control ring said enough */
		if (err == -EPIPE && r->broken_side) {
			/* (Killed at the hand-shake: it was ending with 4.) */
			judge_violation(s, k,
					WIFEXITED(st) ? code : RP_EXIT_VIOLATION,
					1);
			return err;
		}
		/* A program that ends well (exit 0) or stays silent
		 * without ever giving the hand-shake is most likely an
		 * ordinary command put where a stage program goes: said
		 * so, with what to write instead.  (A stage program that
		 * fails as it opens ends with an error of its own.) */
		if (r->cfg->builtin && err == -EPIPE && WIFEXITED(st) &&
		    code == RP_EXIT_USAGE)
			snprintf(why, sizeof(why), "could not start: its "
				 "arguments were refused (exit 2; its message "
				 "above says why)");
		else
			snprintf(why, sizeof(why), "could not start: %.150s%s",
				 r->why,
				 !r->cfg->builtin && !r->broken_side &&
					 ((err == -EPIPE && WIFEXITED(st) &&
					   code == 0) ||
					  err == -ETIMEDOUT)
				 ? " - is it a ringpipe stage program? (an "
				   "ordinary command runs as exec -- CMD)"
				 : "");
		r->why[0] = '\0';
		/* Killed while it started (an operator, a fault schedule):
		 * one more failure for its restart policy to judge; an exit
		 * (a usage error, a missing program) fails the same way
		 * every time - but for a replica's other failures: it may
		 * have found a lock it shares held by a stuck copy (which
		 * the loop's watch kills meanwhile). */
		/* (A signal not of its own doing came from outside: never
		 * counted as stuck under --fast-restart.) */
		r->outside = WIFSIGNALED(st) && !own_signal(WTERMSIG(st));
		if (err == -EPIPE &&
		    (WIFSIGNALED(st) ||
		     (r->nrep > 1 && code != RP_EXIT_USAGE &&
		      code != RP_EXIT_NO_RESTART && code != RP_EXIT_SANDBOX)) &&
		    maybe_restart(s, k, why, 0))
			return 0;
		set_state(s, k, ST_FAILED);
		/* A built-in refusing its arguments (exit 2) fails the run
		 * as bad usage does, not as a stage that failed at work. */
		if (!s->failed && r->cfg->builtin && WIFEXITED(st) &&
		    code == RP_EXIT_USAGE)
			s->misused = 1;
		fail(s, k, "%s", r->why[0] ? r->why : why);
		return err;
	}
	s->alive++;
	rp_log(RP_LOG_DEBUG, r->cfg->name, "started: pid %d, policy %s",
	       (int)r->proc.pid, rp_policy_name(r->cfg->sandbox.policy));
	ev.data.u64 = EV(EV_PID, k);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, r->proc.pidfd, &ev);
	if (r->proc.listener >= 0) {
		ev.data.u64 = EV(EV_LISTENER, k);
		epoll_ctl(s->ep, EPOLL_CTL_ADD, r->proc.listener, &ev);
	}
	ev.data.u64 = EV(EV_STDERR, k);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, r->err.rfd, &ev);
	return 0;
}

/*
 * Start stage k.  Its hand-shake does not hold the loop: it is an event
 * (on_go), so while a stage is slow to start, the others' stderr,
 * seccomp notices, deaths and timeouts, `ringpipe stat`, Ctrl-Z and
 * Ctrl-C are served.  0 while its hand-shake is awaited, else
 * start_done's answer.
 */
static int start(struct sup *s, int k, const struct rp_run_opts *o)
{
	struct stage_run *r = at(s, k);
	const struct rp_cfg_stage *c = r->cfg;
	struct rp_stage_spec spec;
	struct rp_stage_links l;
	char *argv[RP_CFG_MAX_ARGS + 3];
	struct epoll_event ev = {.events = EPOLLIN};
	int wfd, err;

	fresh_incarnation(r);
	fill_spec(s, k, o, &spec, &l, argv);
	if ((err = rp_errpipe_open(&r->err, c->name, c->sandbox.uid,
				   c->sandbox.gid, &wfd))) {
		/* Failed, said: not left "starting" with no process. */
		snprintf(r->why, sizeof(r->why), "no pipe for its stderr: %s",
			 strerror(-err));
		return start_done(s, k, err);
	}
	r->err.stamp = 1;
	r->err_open = 1;
	spec.stderr_fd = wfd;
	spec.defer_handshake = 1;
	err = rp_spawn(&spec, &l, &r->proc, r->why, sizeof(r->why));
	close(wfd);
	if (err)
		return start_done(s, k, err);
	r->hs_pending = 1;
	r->hs_deadline = rp_now_ns() + HANDSHAKE_NS;
	/* Its socket, or its death (a child of its own may hold the
	 * socket open). */
	ev.data.u64 = EV(EV_GO, k);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, r->proc.go, &ev);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, r->proc.pidfd, &ev);
	/* What it says as it starts is shown as it comes (start_done's
	 * second add of the pipe is refused, harmlessly). */
	ev.data.u64 = EV(EV_STDERR, k);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, r->err.rfd, &ev);
	return 0;
}

/* A deferred start's hand-shake is no longer awaited: its socket goes. */
static void hs_stop(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);

	r->hs_pending = 0;
	/* (start_done watches its pidfd for its death from now on.) */
	if (r->proc.pidfd >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, r->proc.pidfd, NULL);
	if (r->proc.go >= 0) {
		epoll_ctl(s->ep, EPOLL_CTL_DEL, r->proc.go, NULL);
		close(r->proc.go);
		r->proc.go = -1;
	}
}

/*
 * The first starts, one after the other, sink first: every stage's
 * consumer exists before it produces, and blame at a first attach
 * depends on that order.  Each goes on from where the last one's start
 * was done or given up on.  What a failure or a cancel keeps from
 * starting is said so, not left "starting".  Then the standbys (forked
 * at the loop's next turn; each one's hand-shake is an event too).
 */
static void start_firsts(struct sup *s)
{
	if (s->first_k >= 0)
		return; /* one at a time */
	while (s->next_first >= 0) {
		int k = s->next_first--;
		struct stage_run *r = at(s, k);
		if (r->state != ST_STARTING)
			continue; /* judged meanwhile */
		if (s->failed || s->cancel_reason) {
			set_state(s, k, ST_CANCELLED);
			snprintf(r->why, sizeof(r->why),
				 "not started: the pipeline %s",
				 s->failed ? "had failed" : "was cancelled");
			continue;
		}
		start(s, k, s->o);
		if (r->hs_pending) {
			s->first_k = k;
			return;
		}
	}
	s->next_first = -2; /* the standbys once: (-1 while starting) */
	for (int k = 0; k < s->n; k++)
		if (at(s, k)->cfg->standby)
			at(s, k)->spare_at = rp_now_ns();
}

/* Stage k's start is done or given up on: the first starts go on. */
static void start_ended(struct sup *s, int k)
{
	if (k != s->first_k)
		return;
	s->first_k = -1;
	start_firsts(s);
}

/* A deferred start given up on: the pipeline is ending meanwhile (its
 * stage was never at work), or its hand-shake is late. */
static void hs_give_up(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	int late = !(s->cancel_reason || s->failed), err = -EAGAIN;

	/* Its hand-shake may have come in this very turn: then it did
	 * start (and may have read records), and it ends as the started
	 * ones do, told to stop, not said to be "not started". */
	if (!late && r->state <= ST_RESTARTING)
		err = rp_spawn_finish(&r->proc, r->why, sizeof(r->why));
	hs_stop(s, k);
	if (err == 0) {
		start_done(s, k, 0);
		if (alive(r->state) && r->state != ST_CANCELLING &&
		    r->proc.tx) {
			rp_ctl_cancel(r->proc.tx, s->cancel_reason
							  ? s->cancel_reason
							  : RP_REASON_SIBLING);
			set_state(s, k, ST_CANCELLING);
		}
	} else if (r->state > ST_RESTARTING) {
		/* Judged meanwhile (a ring it broke before its restart,
		 * found by its peer): that stands. */
		char why[sizeof(r->why)];
		rp_spawn_abandon(&r->proc, why, sizeof(why));
		rp_errpipe_pump(&r->err, stderr);
	} else {
		/* (A death before it is already reaped.) */
		if (err == -EAGAIN)
			rp_spawn_abandon(&r->proc, r->why, sizeof(r->why));
		rp_errpipe_pump(&r->err, stderr);
		if (late) {
			start_done(s, k, -ETIMEDOUT);
		} else {
			set_state(s, k, ST_CANCELLED);
			snprintf(r->why, sizeof(r->why),
				 "not %s: the pipeline %s",
				 r->restarts ? "restarted" : "started",
				 s->failed ? "had failed" : "was cancelled");
		}
	}
	start_ended(s, k);
}

/* A deferred start's socket is readable: its hand-shake came (or the
 * stage died before it). */
static void on_go(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	int err;

	if (!r->hs_pending)
		return; /* given up on earlier in this turn */
	if (s->cancel_reason || s->failed) {
		hs_give_up(s, k);
		return;
	}
	err = rp_spawn_finish(&r->proc, r->why, sizeof(r->why));
	if (err == -EAGAIN)
		return; /* a wake-up with nothing to take */
	hs_stop(s, k);
	start_done(s, k, err);
	start_ended(s, k);
}

/*
 * Standby.  A stage with standby: true keeps a copy of itself started
 * ahead: forked, exec'ed, attached to its rings and sandboxed, waiting
 * on a socket.  At a crash that copy takes over (it is told what only the
 * restart knows: where its numbering resumes, what to skip), which saves
 * the whole start-up from the time to recover; a new standby follows a
 * moment later.  Starting one does not hold the loop: it is forked,
 * and its sandbox hand-shake is taken when its socket says it came.  One
 * killed while it waits (an operator, a fault schedule) is replaced as
 * soon; one that cannot be started or fails by itself is retried twice
 * a second apart, then restarts go cold again (said once).
 */
#define SPARE_AFTER_NS (5 * 1000000LL)    /* after a take-over, or a
					   * standby killed from outside */
#define SPARE_RETRY_NS (1000 * 1000000LL) /* after a standby failed */
#define SPARE_HEALTHY_NS SPARE_RETRY_NS   /* ready this long: its
					   * failures in a row start over */
#define SPARE_HANDSHAKE_NS (10000 * 1000000LL)
#define SPARE_TRIES 3

static void spare_reset(struct stage_run *r)
{
	memset(&r->spare, 0, sizeof(r->spare));
	r->spare.pid = -1;
	r->spare.pidfd = r->spare.listener = r->spare.lifeline = -1;
	r->spare.go = -1;
	r->spare.cin.p_fd = r->spare.cin.c_fd = -1;
	r->spare.cout.p_fd = r->spare.cout.c_fd = -1;
	r->spare_err.rfd = -1;
	r->spare_ready = 0;
}

static void spare_failed(struct sup *s, int k, const char *what)
{
	struct stage_run *r = at(s, k);

	if (++r->spare_fails >= SPARE_TRIES) {
		r->spare_off = 1;
		r->spare_at = 0;
		rp_log(RP_LOG_INFO, r->cfg->name, "standby: %s, %u times in a "
		       "row: restarts start cold from now on", what,
		       r->spare_fails);
	} else {
		r->spare_at = rp_now_ns() + SPARE_RETRY_NS;
		rp_log(RP_LOG_INFO, r->cfg->name, "standby: %s; another in "
		       "%lld ms", what, SPARE_RETRY_NS / 1000000);
	}
}

static void spare_start(struct sup *s, int k, const struct rp_run_opts *o)
{
	struct stage_run *r = at(s, k);
	struct rp_stage_spec spec;
	struct rp_stage_links l;
	char *argv[RP_CFG_MAX_ARGS + 3], why[200];
	struct epoll_event ev = {.events = EPOLLIN};
	int wfd, err;

	r->spare_at = 0;
	fill_spec(s, k, o, &spec, &l, argv);
	spec.standby = 1;
	spec.crash_point = 0; /* a crash-point sweep is for first runs */
	spec.crash_n = 0;
	if ((err = rp_errpipe_open(&r->spare_err, r->cfg->name,
				   r->cfg->sandbox.uid, r->cfg->sandbox.gid,
				   &wfd))) {
		r->spare_err.rfd = -1;
		spare_failed(s, k, "no pipe for its stderr");
		return;
	}
	r->spare_err.stamp = 1;
	spec.stderr_fd = wfd;
	err = rp_spawn(&spec, &l, &r->spare, why, sizeof(why));
	close(wfd);
	if (err) {
		char what[sizeof(why) + 24];
		rp_errpipe_pump(&r->spare_err, stderr);
		rp_errpipe_close(&r->spare_err);
		rp_spawn_close(&r->spare);
		spare_reset(r);
		snprintf(what, sizeof(what), "could not start: %s", why);
		spare_failed(s, k, what);
		return;
	}
	r->spare_since = rp_now_ns();
	ev.data.u64 = EV(EV_SPARE_PID, k);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, r->spare.pidfd, &ev);
	ev.data.u64 = EV(EV_SPARE_STDERR, k);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, r->spare_err.rfd, &ev);
	ev.data.u64 = EV(EV_SPARE_SOCK, k);
	epoll_ctl(s->ep, EPOLL_CTL_ADD, r->spare.go, &ev);
}

static void spare_drop(struct sup *s, int k);

/* A standby attaches to its stage's rings as it starts, before its
 * hand-shake, while the stage runs.  One that ended saying (on its own
 * control ring) that it found a ring broken there is a claim like any
 * stage's: what the supervisor can pin on a page (a geometry changed, a
 * cursor out of step) fails whoever writes that page, as it would at a
 * restart's attach.  Else the ring is broken with nothing to show whose
 * doing (the stage's own side may be: its running copy writes it), or
 * sound: the standby's own failure, however it ended.  1: writers
 * failed; -1: a claim with nothing to show (said); 0: no claim. */
static int spare_claim(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	struct rp_ctl_msg m;
	int side = 0, ring, geo, cur;

	for (int budget = 64; budget-- > 0 && r->spare.rx &&
			      rp_ctl_recv(r->spare.rx, &m) == 0;)
		if (m.kind == RP_CTL_VIOLATION &&
		    (m.arg1 & RP_CTL_AT_ATTACH))
			side = (m.arg1 & 3) == 2 ? 2 : 1;
	if (side == 0 || !(side == 2 ? has_out(s, k) : has_in(s, k)))
		return 0;
	ring = side == 2 ? P(s, k) : P(s, k) - 1;
	geo = rp_ring_geometry_changed(&s->ring[ring], &s->geo[ring]);
	cur = rp_ring_watch_culprits(&s->watch[ring]);
	if ((geo > 0 || cur > 0) &&
	    blame_proven(s, k, side, geo > 0 ? geo : 0, cur, 1) > 0)
		return 1;
	rp_log(RP_LOG_INFO, r->cfg->name, "standby: said its %s ring was "
	       "broken as it attached, with nothing there to show whose "
	       "doing", side == 2 ? "output" : "input");
	return -1;
}

/* Its socket is readable: the sandbox hand-shake came (or it died). */
static void on_spare_sock(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	char why[200], what[sizeof(why) + 24];
	int err;

	if (r->spare_ready || r->spare.go < 0 || r->spare.pid <= 0)
		return; /* dropped earlier in this turn */
	if ((err = rp_spawn_finish(&r->spare, why, sizeof(why))) == -EAGAIN)
		return; /* a wake-up with nothing to take */
	epoll_ctl(s->ep, EPOLL_CTL_DEL, r->spare.go, NULL);
	if (err != 0) {
		/* Killed and reaped: how it ended says whose doing. */
		int st = r->spare.start_status;
		int outside = WIFSIGNALED(st) && !own_signal(WTERMSIG(st));
		int claim = spare_claim(s, k);
		snprintf(what, sizeof(what), "could not start: %s", why);
		spare_drop(s, k);
		if (claim > 0)
			return; /* the run fails: no other standby */
		/* (A claim is its own doing, whatever ended it: the end
		 * of its hand-shake may have had it killed.) */
		if (outside && claim == 0) {
			r->spare_at = rp_now_ns() + SPARE_AFTER_NS;
			return;
		}
		spare_failed(s, k, what);
		return;
	}
	r->spare_ready = 1;
	r->spare_since = rp_now_ns();
	rp_log(RP_LOG_DEBUG, r->cfg->name, "standby ready: pid %d",
	       (int)r->spare.pid);
}

/* Kill it and reap it (it has no state of its own to lose). */
static void spare_drop(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);

	if (r->spare.pidfd >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, r->spare.pidfd, NULL);
	if (r->spare.go >= 0 && !r->spare_ready)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, r->spare.go, NULL);
	if (r->spare.pid > 0) {
		rp_spawn_kill(&r->spare);
		r->spare.start_status = rp_spawn_reap(&r->spare, 1000);
	}
	rp_errpipe_pump(&r->spare_err, stderr);
	rp_errpipe_close(&r->spare_err);
	rp_spawn_close(&r->spare);
	spare_reset(r);
}

/* The standby died while it waited (killed by someone, out of memory):
 * it never ran; another is started. */
static void on_spare_exit(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	siginfo_t si;
	char what[96];
	int claim;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)r->spare.pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	r->spare.pid = -1;
	rp_orphans_sweep(&s->orphans, is_stage, s);
	if (si.si_code == CLD_EXITED)
		snprintf(what, sizeof(what), "died while waiting (exit %d)",
			 si.si_status);
	else
		snprintf(what, sizeof(what), "died while waiting (signal "
			 "%d, %s)", si.si_status, strsignal(si.si_status));
	claim = spare_claim(s, k);
	spare_drop(s, k);
	if (claim > 0)
		return; /* the run fails: no other standby */
	if (claim == 0 && si.si_code != CLD_EXITED &&
	    !own_signal(si.si_status)) {
		/* Killed from outside: not its failure. */
		rp_log(RP_LOG_INFO, r->cfg->name, "standby: %s; another "
		       "now", what);
		r->spare_at = rp_now_ns() + SPARE_AFTER_NS;
		return;
	}
	spare_failed(s, k, what);
}

/* Stage k is restarting: its standby takes over, if it has one.  0, or
 * -errno (it had none, or it could not: the caller starts one cold). */
static int spare_take_over(struct sup *s, int k, const struct rp_run_opts *o)
{
	struct stage_run *r = at(s, k);
	struct rp_stage_spec spec;
	struct rp_stage_links l;
	char *argv[RP_CFG_MAX_ARGS + 3];
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	if (r->spare.pid <= 0 || !r->spare_ready)
		return -ENOENT;
	fill_spec(s, k, o, &spec, &l, argv);
	err = rp_spawn_take_over(&r->spare, &spec);
	if (err) {
		int st;
		rp_log(RP_LOG_INFO, r->cfg->name, "standby could not take "
		       "over (%s): starting cold", strerror(-err));
		spare_drop(s, k);
		/* Killed from outside at that moment: not its failure. */
		st = r->spare.start_status;
		if (WIFSIGNALED(st) && !own_signal(WTERMSIG(st)))
			r->spare_at = rp_now_ns() + SPARE_AFTER_NS;
		else
			spare_failed(s, k, "could not take over");
		return err;
	}
	fresh_incarnation(r);
	r->proc = r->spare;
	r->err = r->spare_err;
	r->err_open = 1;
	spare_reset(r);
	ev.data.u64 = EV(EV_PID, k);
	epoll_ctl(s->ep, EPOLL_CTL_MOD, r->proc.pidfd, &ev);
	ev.data.u64 = EV(EV_STDERR, k);
	if (r->err.rfd >= 0)
		epoll_ctl(s->ep, EPOLL_CTL_MOD, r->err.rfd, &ev);
	if (r->proc.listener >= 0) {
		ev.data.u64 = EV(EV_LISTENER, k);
		epoll_ctl(s->ep, EPOLL_CTL_ADD, r->proc.listener, &ev);
	}
	s->alive++;
	r->takeovers++;
	r->spare_fails = 0;
	r->spare_at = rp_now_ns() + SPARE_AFTER_NS;
	rp_log(RP_LOG_DEBUG, r->cfg->name, "its standby took over: pid %d",
	       (int)r->proc.pid);
	return 0;
}

/* Start, keep or drop each stage's standby, as its state asks; the time
 * the next one is due (0: none). */
static int64_t spares_tend(struct sup *s, const struct rp_run_opts *o)
{
	int64_t next = 0;

	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		int want = r->cfg->standby && !r->spare_off &&
			   (r->state == ST_STARTING ||
			    r->state == ST_RUNNING ||
			    r->state == ST_RESTARTING) &&
			   !s->cancel_reason && !s->failed && !s->drain_sig;
		if (!want) {
			if (r->spare.pid > 0 || r->spare.pidfd >= 0)
				spare_drop(s, k);
			continue;
		}
		if (r->spare.pid > 0 && r->spare_ready &&
		    rp_now_ns() - r->spare_since > SPARE_HEALTHY_NS)
			r->spare_fails = 0;
		if (r->spare.pid > 0 && !r->spare_ready &&
		    rp_now_ns() - r->spare_since > SPARE_HANDSHAKE_NS) {
			int claim = spare_claim(s, k);
			spare_drop(s, k);
			if (claim > 0)
				continue; /* the run fails */
			spare_failed(s, k, "no sandbox hand-shake in 10 s");
		}
		if (r->spare.pid > 0 || r->spare_at == 0)
			continue;
		if (rp_now_ns() >= r->spare_at)
			spare_start(s, k, o);
		else if (next == 0 || r->spare_at < next)
			next = r->spare_at;
	}
	return next;
}

/* A status word of a stage's that its restart carries on (a hint from
 * its memory): a value the wiring cannot carry is 0, a start over. */
static uint64_t carried_word(struct stage_run *r, unsigned idx)
{
	uint64_t v = r->proc.rx ? rp_ctl_status_read(r->proc.rx, idx) : 0;

	return v > UINT64_MAX / 2 ? 0 : v;
}

/* Stage k's restart is due: its old pieces go, and its standby takes
 * over or a new process starts.  It re-attaches to the same rings: what
 * it had read but not released is delivered to it again. */
static void restart_now(struct sup *s, int k, const struct rp_run_opts *o)
{
	struct stage_run *r = at(s, k);

	rp_errpipe_pump(&r->err, stderr);
	rp_errpipe_close(&r->err);
	/* Where its input numbering resumes: what it had released (a hint
	 * from its memory).  A replica's count is of records it took:
	 * those of a claim it takes up again, up to the one it was on, are
	 * counted already. */
	r->resume_seq = carried_word(r, RP_CTL_WORD_INPUT_SEQ);
	r->resume_after = carried_word(r, RP_CTL_WORD_CURRENT);
	r->has_resume = 1;
	rp_spawn_close(&r->proc);
	set_state(s, k, ST_STARTING);
	if (spare_take_over(s, k, o) != 0)
		start(s, k, o);
}

/* Per-record timeouts: a stage that keeps working on one record for
 * longer than its limit is killed, as if it had crashed on it.  Time it
 * spends waiting (for input, or room in a full output ring) does not
 * count: the stage says which it is doing in a status word.  The words
 * are hints from the stage's memory; they can only stop a runaway
 * parser, not a stage that lies. */
/* Is pid stopped (SIGSTOP, a debugger)?  Its state in /proc. */
static int stopped(pid_t pid)
{
	char path[64], buf[256], *rp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* After the command name, which may hold anything. */
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'T' || rp[2] == 't');
}

/* A longer gap between samples is time we were not watching (starved
 * of the CPU, blocked writing to a stalled terminal, the whole machine
 * paused): counted as half the limit at most (60 ms at least, more than
 * a sample's 50), and never more than SAMPLE_GAP_NS, so that a stuck
 * stage is still caught, at a later sample, but the gap alone never
 * takes one that was paused with us over its limit before it could
 * move its word (time it had worked before the gap still counts).  A
 * Ctrl-Z stop is not counted at all (resume_all). */
#define SAMPLE_GAP_NS (500 * 1000000LL)
#define SAMPLE_GAP_MIN_NS (60 * 1000000LL)

static int64_t gap_credit(int64_t gap, int64_t limit)
{
	int64_t cap = limit / 2 > SAMPLE_GAP_MIN_NS ? limit / 2
						    : SAMPLE_GAP_MIN_NS;

	if (cap > SAMPLE_GAP_NS)
		cap = SAMPLE_GAP_NS;
	return gap < cap ? gap : cap;
}

static void check_record_timeouts(struct sup *s)
{
	int64_t now = rp_now_ns();

	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		uint64_t cur, working, progress;
		int64_t limit = (int64_t)r->cfg->record_timeout_ms * 1000000;

		/* A cancel in progress has its own deadline. */
		if (limit == 0 || !alive(r->state) || r->proc.pid <= 0 ||
		    r->proc.rx == NULL || s->cancel_reason)
			continue;
		cur = rp_ctl_status_read(r->proc.rx, RP_CTL_WORD_CURRENT);
		working = rp_ctl_status_read(r->proc.rx, RP_CTL_WORD_WORKING);
		progress = rp_ctl_status_read(r->proc.rx,
					      RP_CTL_WORD_PROGRESS);
		/* A new record, or progress on this one, starts the count
		 * again; waiting pauses it, and so does being stopped from
		 * outside (SIGSTOP). */
		if (cur != r->seen_current || progress != r->seen_progress) {
			r->worked_ns = 0;
			r->told_timeout = 0;
		} else if ((working == 1 || working == 2) && cur != 0 &&
			   r->sampled_at != 0 && !stopped(r->proc.pid))
			r->worked_ns += gap_credit(now - r->sampled_at,
						   limit);
		r->seen_current = cur;
		r->seen_progress = progress;
		r->sampled_at = now;
		if (r->worked_ns > limit && r->why[0] == '\0') {
			char what[96];
			snprintf(what, sizeof(what), "exceeded its per-record "
				 "timeout of %u ms on record %s%llu",
				 r->cfg->record_timeout_ms,
				 r->nrep > 1 ? "at input byte " : "",
				 (unsigned long long)(cur - 1));
			/* An exec stage that narrows its program's deaths
			 * down to a record ends that run of its program
			 * itself, and narrows a hang as it does a crash.  It
			 * is told once for these words; if they still stand
			 * a timeout later, the stage is killed after all. */
			if (narrows(s, k) && !r->told_timeout &&
			    rp_ctl_send(r->proc.tx, RP_CTL_TIMEOUT, 0, progress,
					cur, 0, NULL, 0) == 0) {
				/* Said when the adapter has acted on it
				 * (RP_CTL_TIMED_OUT). */
				r->told_timeout = 1;
				r->timeouts_told++;
				r->worked_ns = 0;
				if (rp_log_on(RP_LOG_DEBUG))
					rp_log(RP_LOG_DEBUG, r->cfg->name,
					       "its program %s: told", what);
				continue;
			}
			snprintf(r->why, sizeof(r->why), "%s", what);
			r->timed_out = 1;
			rp_spawn_kill(&r->proc);
		}
	}
}

/*
 * Replicas claim under a lock on each ring side they share.  One that
 * keeps it (stuck, stopped, hostile) would stall the others, so the lock
 * is sampled: the same holder and the same count of lockings for longer
 * than lock_timeout_ms means one holding all along, and it is killed
 * (its claim is repaired by the next locker, as at any death).  Who
 * holds it is read from the mutex word (the robust-futex protocol's
 * owner), shared memory the replicas write: a word naming none of them
 * means one of them wrote it, and every replica of the stage is
 * killed.  A holder that died in the lock holds nothing.
 */
static void watch_lock(struct sup *s, int p, int producers, int64_t now)
{
	const struct rp_cfg_stage *c = at(s, s->first[p])->cfg;
	struct lock_watch *w = &s->lw[p][producers];
	struct rp_ring_fds *ring = producers ? &s->ring[p] : &s->ring[p - 1];
	struct rp_lock_sample cur;
	int64_t limit = (int64_t)c->lock_timeout_ms * 1000000;
	int who = -1;

	/* Nobody alive holds it: free, or its holder died in it (the
	 * next locker repairs that; a restart may be backing off). */
	if (rp_ring_lock_sample(ring, producers, &cur) != 0 ||
	    cur.owner_tid == 0 || memcmp(&cur, &w->last, sizeof(cur)) != 0) {
		w->last = cur;
		w->since = now;
		return;
	}
	if (now - w->since <= limit)
		return;
	/* The mutex word names the holder; a word naming none of the
	 * replicas (written by one of them) names nobody. */
	for (int k = s->first[p]; k < pos_end(s, p); k++)
		if (at(s, k)->proc.pid > 0 && alive(at(s, k)->state) &&
		    (uint32_t)at(s, k)->proc.pid == cur.owner_tid)
			who = k;
	for (int k = s->first[p]; k < pos_end(s, p); k++) {
		struct stage_run *r = at(s, k);
		if ((who >= 0 && k != who) || r->proc.pid <= 0 ||
		    !alive(r->state) || r->why[0])
			continue;
		snprintf(r->why, sizeof(r->why), "%s the lock of its %s ring "
			 "for over %u ms: killed",
			 who >= 0 ? "held" : "a replica of it (which one "
					     "cannot be told) held",
			 producers ? "output" : "input", c->lock_timeout_ms);
		rp_log(RP_LOG_INFO, r->cfg->name, "%s", r->why);
		rp_spawn_kill(&r->proc);
	}
	w->since = now;
}

/* The rings' cursors, sampled now and then (every turn of the loop, at
 * most every WATCH_NS): what a side is later found to have moved back is
 * its own doing. */
#define WATCH_NS (10 * 1000000LL)
static void watch_cursors(struct sup *s)
{
	int64_t now = rp_now_ns();

	if (now - s->watched_at < WATCH_NS)
		return;
	s->watched_at = now;
	for (int p = 0; p + 1 < s->npos; p++)
		rp_ring_watch_sample(&s->watch[p]);
}

static void check_locks(struct sup *s)
{
	int64_t now = rp_now_ns();

	if (s->cancel_reason)
		return;
	for (int p = 0; p < s->npos; p++) {
		if (at(s, s->first[p])->nrep < 2)
			continue;
		if (p > 0)
			watch_lock(s, p, 0, now);
		if (p + 1 < s->npos)
			watch_lock(s, p, 1, now);
	}
}

int rp_run_injectable(const struct rp_cfg *cfg, int k)
{
	const struct rp_cfg_stage *c = &cfg->stages[cfg->order[k]];

	return k > 0 && k < cfg->nstages && c->restart != RP_RESTART_NEVER &&
	       c->replicas == 1 &&
	       c->quarantine_after > 0 &&
	       c->sandbox.policy != RP_POLICY_NONE &&
	       !(c->builtin && strcmp(c->argv[0], "exec") == 0);
}

/* ringpipe chaos asks (rp_run_chaos_value): a fault record to a running
 * stage, for its current incarnation only.  One that is restarting or
 * done gets none; the log says so either way. */
static void inject(struct sup *s, uint32_t v)
{
	static const char *const names[] = {"", "hang", "deny", "corrupt"};
	unsigned kind = v & 0xff, k = (v >> 8) & 0xff;
	struct stage_run *r;

	if (kind < RP_FAULT_HANG || kind > RP_FAULT_CORRUPT ||
	    (int)k >= s->npos || !rp_run_injectable(s->cfg, (int)k))
		return;
	r = at(s, s->first[k]);
	if (r->state != ST_RUNNING || r->proc.tx == NULL || s->cancel_reason ||
	    rp_ctl_send(r->proc.tx, RP_CTL_FAULT, 0, kind | (uint64_t)(v >> 16) << 8,
			r->restarts + 1, 0, NULL, 0) != 0) {
		rp_log(RP_LOG_INFO, NULL, "chaos: %s fault for stage %s "
		       "dropped: it is %s", names[kind], r->cfg->name,
		       state_name[r->state]);
		return;
	}
	r->fault_gen = r->restarts + 1;
	rp_log(RP_LOG_INFO, NULL, "chaos: %s fault sent to stage %s",
	       names[kind], r->cfg->name);
}

/* Which stages a shutdown is still waiting for, and what is queued
 * before each (its input ring's counters: hints). */
static void say_waiting(struct sup *s)
{
	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		struct rp_ring_stats ps, cs;
		uint64_t used = 0;
		/* (One restarting is waited for too.) */
		if ((!alive(r->state) && r->state != ST_RESTARTING) ||
		    unstarted(r))
			continue;
		if (has_in(s, k) && rp_ring_observe(ring_in(s, k), &ps, &cs,
						    &used) == 0)
			rp_log(RP_LOG_INFO, NULL, "waiting for stage %s (%s): "
			       "%llu records, %llu bytes queued on its input "
			       "ring from %s", r->cfg->name,
			       state_name[r->state],
			       (unsigned long long)(ps.records > cs.records
						    ? ps.records - cs.records
						    : 0),
			       (unsigned long long)used,
			       pos_name(s, P(s, k) - 1));
		else
			rp_log(RP_LOG_INFO, NULL, "waiting for stage %s (%s)",
			       r->cfg->name, state_name[r->state]);
	}
}

/* Drain: the source stops taking input and ends its output; every other
 * stage finishes what is in its input ring and ends with it, so what
 * was read is delivered whole.  Bounded: after DRAIN_GRACE_NS whatever
 * still runs is cancelled.  A stage that fails meanwhile is restarted by
 * its policy, so that what is queued still gets through (a poison
 * record quarantined on the way); a restart drains once ready. */
#define DRAIN_GRACE_NS (10 * 1000000000LL)

static void drain(struct sup *s, int sig)
{
	if (s->drain_sig || s->cancel_reason || s->failed)
		return;
	s->drain_sig = sig;
	s->drain_deadline = rp_now_ns() + DRAIN_GRACE_NS;
	rp_log(RP_LOG_INFO, NULL, "%s: draining: the source stops, the other "
	       "stages finish what is queued (%.0f s at most; Ctrl-C to "
	       "cancel)", strsignal(sig), DRAIN_GRACE_NS / 1e9);
	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		if (!alive(r->state) || r->state == ST_CANCELLING)
			continue;
		if (P(s, k) == 0 && r->proc.tx)
			rp_ctl_drain(r->proc.tx);
		/* One still starting (its hand-shake awaited, or a first
		 * start still to come) drains once it says it is ready. */
		if (r->state != ST_STARTING)
			set_state(s, k, ST_DRAINING);
	}
}

static void resume_all(struct sup *s)
{
	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		if (alive(r->state) && r->proc.pid > 0)
			kill(-r->proc.pid, SIGCONT);
		if (r->spare.pid > 0)
			kill(-r->spare.pid, SIGCONT);
		r->sampled_at = 0;
	}
	/* Time stopped is nobody's hold. */
	memset(s->lw, 0, sizeof(s->lw));
}

/*
 * Ctrl-Z (SIGTSTP): the whole pipeline stops, as a shell pipeline does.
 * The stages run in sessions of their own, so the terminal's stop
 * reaches only us: every stage's process group gets SIGSTOP (an exec
 * command in a group of its own stops once its pipes fill), then we
 * stop ourselves.  SIGCONT (fg, bg) continues us, and we them.  Deadlines move on
 * by the time stopped, and per-record time does not count it.
 */
static void pause_all(struct sup *s)
{
	int64_t t0 = rp_now_ns(), stopped_ns;

	rp_log(RP_LOG_INFO, NULL, "stopped, with every stage (fg or "
	       "kill -CONT %d resumes)", (int)getpid());
	for (int k = 0; k < s->n; k++) {
		if (alive(at(s, k)->state) && at(s, k)->proc.pid > 0)
			kill(-at(s, k)->proc.pid, SIGSTOP);
		if (at(s, k)->spare.pid > 0)
			kill(-at(s, k)->spare.pid, SIGSTOP);
	}
	/* (Not stopped at all in an orphaned process group: we go
	 * straight on.) */
	rp_stop_self();
	/* Continued, or never stopped: the stages go on either way. */
	resume_all(s);
	stopped_ns = rp_now_ns() - t0;
	if (s->drain_deadline)
		s->drain_deadline += stopped_ns;
	if (s->cancel_deadline)
		s->cancel_deadline += stopped_ns;
	for (int k = 0; k < s->n; k++)
		if (at(s, k)->hs_pending)
			at(s, k)->hs_deadline += stopped_ns;
}

static void on_signal(struct sup *s)
{
	struct signalfd_siginfo si;

	while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if ((int)si.ssi_signo == RP_CHAOS_SIGNAL) {
			/* Only from ringpipe chaos, our parent. */
			if (s->chaos && si.ssi_code == SI_QUEUE &&
			    (pid_t)si.ssi_pid == getppid())
				inject(s, (uint32_t)si.ssi_int);
			continue;
		}
		if ((int)si.ssi_signo == SIGUSR1) {
			drain(s, SIGUSR1);
			continue;
		}
		if ((int)si.ssi_signo == SIGTSTP) {
			pause_all(s);
			continue;
		}
		if ((int)si.ssi_signo == SIGCONT) {
			resume_all(s);
			continue;
		}
		/* A hang-up (the terminal closed) or Ctrl-\ shuts down like
		 * SIGTERM, never drains, and is what the exit code says. */
		if (((int)si.ssi_signo == SIGHUP ||
		     (int)si.ssi_signo == SIGQUIT) && !s->cancel_reason)
			s->end_sig = (int)si.ssi_signo;
		/* With --drain the first Ctrl-C or SIGTERM drains; then
		 * one cancels, and one more kills. */
		if (s->drain_opt && s->signals == 0 && s->drain_sig == 0 &&
		    !s->cancel_reason && (int)si.ssi_signo != SIGHUP &&
		    (int)si.ssi_signo != SIGQUIT) {
			s->signals++;
			drain(s, (int)si.ssi_signo);
			continue;
		}
		if (++s->signals == 1 || (s->drain_sig && !s->cancel_reason)) {
			uint32_t reason = si.ssi_signo == SIGINT
						  ? RP_REASON_USER
						  : RP_REASON_SHUTDOWN;
			rp_log(RP_LOG_INFO, NULL, "%s: cancelling every stage "
			       "(again to kill)", strsignal((int)si.ssi_signo));
			if (s->cancel_reason == 0)
				s->cancel_sig = (int)si.ssi_signo;
			s->signal_ns = rp_now_ns();
			cancel_all(s, reason, -1);
		} else if ((int)si.ssi_signo == SIGHUP ||
			   rp_now_ns() - s->signal_ns < REPEAT_NS) {
			/* Not someone insisting: a closing terminal's hang-up
			 * comes twice (from the kernel, then from the shell to
			 * its jobs), as can one signal sent to a tree. */
			s->signals--;
			rp_log(RP_LOG_DEBUG, NULL, "%s: taken for a repeat of "
			       "the one that cancelled", strsignal((int)
							   si.ssi_signo));
		} else {
			kill_all(s);
		}
	}
}

/* What a crash of stage c costs its output, or NULL if nothing (it
 * replays exactly from its commit point). */
/* An exec stage passing raw bytes (--chunks): nothing held back. */
static int exec_chunks(const struct rp_cfg_stage *c)
{
	return rp_cfg_exec_option(c, "--chunks");
}

static const char *not_once(const struct rp_cfg_stage *c, int out)
{
	const char *n = c->builtin ? c->argv[0] : "";

	/* A program of one's own as the last stage writes its results
	 * itself (stdout, a file): what it wrote and had not released, a
	 * restart writes again. */
	if (!out && !c->builtin && c->input[0] != '\0')
		return "at-least-once: it writes its results itself, and a "
		       "restart writes again what it had not released";
	/* Its runs write to stdout, which a restart cannot cut back. */
	if (!out && rp_cfg_exec_option(c, "--each"))
		return "at-least-once: its program's runs write to stdout, "
		       "and a restart runs again what it had not released";

	if (c->replicas > 1 && !c->ordered)
		return "at-least-once: a dead replica's records are done "
		       "again by another, and unordered outputs cannot be "
		       "told from replays";
	if (rp_cfg_replays(c))
		return NULL;
	if (!strcmp(n, "exec") && c->restart == RP_RESTART_NEVER)
		return NULL; /* a crash fails the run */
	if (!strcmp(n, "exec") && c->input[0] != '\0' && !exec_chunks(c))
		return "at-least-once for its program's latest input (what "
		       "it had not read, and had read last: a quarter of the "
		       "input ring at most); at-most-once before that";
	if (!strcmp(n, "exec") && c->input[0] != '\0')
		return "at-most-once: a restart loses what its program held";
	/* A source's command run again starts again: seq, cat FILE write
	 * it all again, under new numbers (no replay to drop); tail -f
	 * goes on, and what it held is lost. */
	if (!strcmp(n, "exec"))
		return "none: a restart runs its command again, which may "
		       "write again what it wrote (duplicates: seq, cat FILE) "
		       "or go on, losing what it held (tail -f)";
	if (!strcmp(n, "file-source"))
		return "at-most-once: a restarted source on stdin, a pipe or "
		       "a device loses what it had read";
	if (!strcmp(n, "file-sink"))
		return "at-least-once: stdout, a pipe or a device cannot be "
		       "cut back";
	return "unknown: a source program may not go back";
}

const char *rp_run_promise(const struct rp_cfg_stage *c, int has_out)
{
	return not_once(c, has_out);
}

/* What a crash of stage k costs its output, as the report says it:
 * written into buf.  The first stage that cannot replay exactly bounds
 * every stage after it. */
static const char *delivery(struct sup *s, int k, char *buf, size_t len)
{
	struct stage_run *r = at(s, k);
	const char *first_loss = NULL;

	for (int i = 0; i < s->first[P(s, k)] && first_loss == NULL; i++)
		if (not_once(at(s, i)->cfg, 1) != NULL || at(s, i)->unheld)
			first_loss = pos_name(s, P(s, i));
	if (not_once(r->cfg, has_out(s, k)) != NULL)
		snprintf(buf, len, "%s", not_once(r->cfg, has_out(s, k)));
	else if (r->unheld)
		snprintf(buf, len, "none: %llu lines longer than half its "
			 "input ring were not held (a crash inside one cuts "
			 "it)", (unsigned long long)r->unheld);
	else if (first_loss != NULL)
		snprintf(buf, len, "no better than %s's", first_loss);
	else
		snprintf(buf, len, "exactly-once%s%s",
			 r->cfg->restart == RP_RESTART_NEVER
				 ? " (or the run fails: restart never)"
				 : "",
			 /* What it keeps in its memory a restart loses:
			  * ringpipe cannot see that. */
			 !r->cfg->builtin && has_in(s, k)
				 ? " if it keeps no state across records but "
				   "what it saves (rp_stage_save)"
				 : "");
	return buf;
}

/* "out N records, B bytes; " from its output ring's counters (the
 * stage's own, so a hint), or "" for a sink. */
static const char *flow(struct sup *s, int k, char *buf, size_t len)
{
	struct rp_ring_stats ps, cs;
	uint64_t used;

	buf[0] = '\0';
	if (has_out(s, k) &&
	    rp_ring_observe(ring_out(s, k), &ps, &cs, &used) == 0)
		snprintf(buf, len, "out %llu record%s, %llu bytes%s; ",
			 (unsigned long long)ps.records,
			 ps.records == 1 ? "" : "s",
			 (unsigned long long)ps.bytes,
			 at(s, k)->nrep > 1 ? " (all replicas)" : "");
	return buf;
}

/* Did any stage get the Landlock layer? */
static int landlock_used(struct sup *s)
{
	for (int k = 0; k < s->n; k++)
		if (at(s, k)->layers & RP_SB_LANDLOCK)
			return 1;
	return 0;
}

static uint64_t records_in_now(struct sup *s, int k);

/* Did stage k end before its input did, leaving some of it unread?  Its
 * word, weighed with what came after: records left in its input ring,
 * or a stage before it that ended as its output closed, with more to
 * write.  (head 2 of two lines took all there was, whether or not the
 * end had come by then.)  For the report only. */
static int ended_early(struct sup *s, int k)
{
	struct stage_run *r = at(s, k);
	struct rp_ring_stats p, c;
	uint64_t used = 0;

	if (r->state != ST_EXITED || r->ended_early == 0)
		return 0;
	if (r->ended_early == 2)
		return 1;
	if (!has_in(s, k))
		return 0;
	if (rp_ring_observe(ring_in(s, k), &p, &c, &used) == 0 && used > 0)
		return 1;
	for (int i = s->first[P(s, k) - 1]; i < pos_end(s, P(s, k) - 1); i++)
		if (at(s, i)->cut_short)
			return 1;
	return 0;
}

static void report(struct sup *s)
{
	char layers[128], how[160], out[96];

	fprintf(stderr, "ringpipe: pipeline %s: %.2f s", s->cfg->name,
		(double)(rp_now_ns() - s->t0) / 1e9);
	/* (What a glance at the end must not miss.) */
	if (s->quarantined)
		fprintf(stderr, ", %llu record%s quarantined to %s.rec",
			(unsigned long long)s->quarantined,
			s->quarantined == 1 ? "" : "s", s->dead.prefix);
	fprintf(stderr, "\n");
	if (landlock_used(s) && rp_landlock_gaps(s->landlock_abi))
		fprintf(stderr, "  landlock: this kernel has ABI %d: %s\n",
			s->landlock_abi, rp_landlock_gaps(s->landlock_abi));
	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		rp_sandbox_describe(r->layers, layers, sizeof(layers));
		fprintf(stderr, "  %-16s %-9s in %-10llu policy %-6s layers %s%s%s\n",
			r->cfg->name, state_name[r->state],
			(unsigned long long)records_in_now(s, k),
			rp_policy_name(r->cfg->sandbox.policy),
			layers[0] ? layers : "-", r->why[0] ? "  -- " : "",
			r->why);
		/* What a crash of it (or of a stage before it) costs. */
		fprintf(stderr, "  %-16s delivery %s\n", "",
			delivery(s, k, how, sizeof(how)));
		fprintf(stderr, "  %-16s %sblocked %.2f s on input, %.2f s on "
				"output\n", "", flow(s, k, out, sizeof(out)),
			waited(r, 0), waited(r, 1));
		if (r->restarts && r->cfg->standby)
			fprintf(stderr, "  %-16s restarted %u time%s (%u by "
					"its standby)\n", "", r->restarts,
				r->restarts == 1 ? "" : "s", r->takeovers);
		else if (r->restarts)
			fprintf(stderr, "  %-16s restarted %u time%s\n", "",
				r->restarts, r->restarts == 1 ? "" : "s");
		/* head's way, or a parser's that stopped short: what
		 * came after was dropped without a word otherwise. */
		if (ended_early(s, k))
			fprintf(stderr, "  %-16s ended before its input did "
					"(as head does): the rest of its input "
					"was not read\n", "");
		if (r->quarantined)
			fprintf(stderr, "  %-16s quarantined %llu record%s to "
					"%s.rec\n",
				"", (unsigned long long)r->quarantined,
				r->quarantined == 1 ? "" : "s", s->dead.prefix);
		if (r->soft_denials)
			fprintf(stderr, "  %-16s %llu calls failed by its deny "
					"rules\n",
				"", (unsigned long long)r->soft_denials);
	}
}

/* Records a stage has taken in: what its final control record said,
 * or, while it runs (ringpipe stat), its input count as it stands
 * (a status word: a hint, bounded, never taken lower). */
static uint64_t records_in_now(struct sup *s, int k)
{
	const struct stage_run *r = at(s, k);
	struct rp_ring_stats p, c;
	uint64_t v, used;

	v = r->proc.rx ? rp_ctl_status_read(r->proc.rx, RP_CTL_WORD_INPUT_SEQ)
		       : 0;
	if (v <= r->records_in || v >= UINT64_MAX / 2)
		v = r->records_in;
	/* Its word moves as it releases: a stage that holds its input (an
	 * exec command that keeps what it reads, as sort does) has taken
	 * more, which its ring's count of what was read shows, as the
	 * table does (a hint too: a restart reads some again, so never
	 * more than was published). */
	if (alive(r->state) && r->nrep == 1 && has_in(s, k) &&
	    rp_ring_observe(ring_in(s, k), &p, &c, &used) == 0 &&
	    (c.records < p.records ? c.records : p.records) > v &&
	    (c.records < p.records ? c.records : p.records) < UINT64_MAX / 2)
		v = c.records < p.records ? c.records : p.records;
	/* A source's word moves only as it starts (a restart numbers from
	 * it): what it has published so far stands for what it read,
	 * running, or killed before its final count (a SIGTERM to every
	 * process). */
	else if (!has_in(s, k) && has_out(s, k) &&
		 rp_ring_observe(ring_out(s, k), &p, &c, &used) == 0 &&
		 p.records > v && p.records < UINT64_MAX / 2)
		v = p.records;
	return v;
}

/* The report as one JSON object, for scripts (--report-json FILE):
 * the pipeline's time and exit code, and per stage its state, records
 * in (records_in_now; a source's: what it read), records
 * and bytes out and the times it waited for input or for room (from its
 * rings' counters: the stages' own counts, so hints; "out" counts every
 * publication, a restarted stage's replays too), restarts, quarantined
 * records, its sandbox, what a crash costs its output, and why it
 * failed. */
static void write_json(struct sup *s, FILE *f, int code)
{
	char layers[128], how[160], exit_code[16] = "null";

	/* A running pipeline (ringpipe stat) has none yet. */
	if (code >= 0)
		snprintf(exit_code, sizeof(exit_code), "%d", code);
	fprintf(f, "{\"pipeline\":");
	rp_json_str(f, s->cfg->name);
	fprintf(f, ",\"seconds\":%.3f,\"exit_code\":%s,\"quarantined\":%llu,"
		   "\"dead_letter\":",
		(double)(rp_now_ns() - s->t0) / 1e9, exit_code,
		(unsigned long long)s->quarantined);
	rp_json_str(f, s->dead.prefix);
	if (landlock_used(s)) {
		fprintf(f, ",\"landlock_abi\":%d,\"landlock_gaps\":",
			s->landlock_abi);
		if (rp_landlock_gaps(s->landlock_abi))
			rp_json_str(f, rp_landlock_gaps(s->landlock_abi));
		else
			fputs("null", f);
	}
	fprintf(f, ",\"supervisor_pid\":%d,\"stages\":[", (int)getpid());
	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		struct rp_ring_stats in_p, in_c, out_p, out_c;
		uint64_t used;
		int have_in = has_in(s, k) &&
			      rp_ring_observe(ring_in(s, k), &in_p, &in_c,
					      &used) == 0;
		int have_out = has_out(s, k) &&
			       rp_ring_observe(ring_out(s, k), &out_p, &out_c,
					       &used) == 0;

		fprintf(f, "%s{\"name\":", k ? "," : "");
		rp_json_str(f, r->cfg->name);
		fprintf(f, ",\"state\":\"%s\",\"records_in\":%llu",
			state_name[r->state],
			(unsigned long long)records_in_now(s, k));
		if (have_out)
			fprintf(f, ",\"records_out\":%llu,\"bytes_out\":%llu,"
				   "\"waits_for_room\":%llu",
				(unsigned long long)out_p.records,
				(unsigned long long)out_p.bytes,
				(unsigned long long)out_p.waits);
		if (have_in)
			fprintf(f, ",\"waits_for_input\":%llu",
				(unsigned long long)in_c.waits);
		/* A copy's ring counts are its group's, as the text says
		 * "(all replicas)": said, so none is summed over copies. */
		if (r->nrep > 1) {
			fprintf(f, ",\"replica_of\":");
			rp_json_str(f, pos_name(s, P(s, k)));
			fprintf(f, ",\"ring_counts\":\"group\"");
		}
		rp_sandbox_describe(r->layers, layers, sizeof(layers));
		fprintf(f, ",\"blocked_input_s\":%.3f,\"blocked_output_s\":%.3f",
			waited(r, 0), waited(r, 1));
		fprintf(f, ",\"restarts\":%u,\"quarantined\":%llu,"
			   "\"denials_failed\":%llu,\"policy\":\"%s\","
			   "\"layers\":",
			r->restarts, (unsigned long long)r->quarantined,
			(unsigned long long)r->soft_denials,
			rp_policy_name(r->cfg->sandbox.policy));
		rp_json_str(f, layers);
		fprintf(f, ",\"delivery\":");
		rp_json_str(f, delivery(s, k, how, sizeof(how)));
		fprintf(f, ",\"why\":");
		rp_json_str(f, r->why);
		fprintf(f, ",\"ended_early\":%s",
			ended_early(s, k) ? "true" : "false");
		if (r->proc.pid > 0)
			fprintf(f, ",\"pid\":%d", (int)r->proc.pid);
		else
			fprintf(f, ",\"pid\":null");
		if (r->cfg->standby && r->spare.pid > 0 && r->spare_ready)
			fprintf(f, ",\"standby_pid\":%d,\"takeovers\":%u",
				(int)r->spare.pid, r->takeovers);
		else if (r->cfg->standby)
			fprintf(f, ",\"standby_pid\":null,\"takeovers\":%u",
				r->takeovers);
		fputc('}', f);
	}
	fprintf(f, "]}\n");
}

static void report_json(struct sup *s, const char *path, int code)
{
	FILE *f = strcmp(path, "-") == 0 ? fdopen(dup(STDOUT_FILENO), "w")
					 : fopen(path, "we");

	if (f == NULL) {
		rp_log(RP_LOG_ERROR, NULL, "--report-json %s: %s", path,
		       strerror(errno));
		return;
	}
	write_json(s, f, code);
	if (fclose(f) != 0)
		rp_log(RP_LOG_ERROR, NULL, "--report-json %s: %s", path,
		       strerror(errno));
}

/* ringpipe stat's snapshot of a running pipeline: per stage its state,
 * the records it has read and written (its rings' counters), restarts,
 * quarantined records and how full its input ring is. */
static void write_text(struct sup *s, FILE *f)
{
	int group = 0;

	fprintf(f, "pipeline %s, supervisor pid %d, running %.1f s\n",
		s->cfg->name, (int)getpid(),
		(double)(rp_now_ns() - s->t0) / 1e9);
	fprintf(f, "  %-16s %-10s %12s %12s %8s %11s %6s\n", "stage",
		"state", "read", "written", "restarts", "quarantined",
		"input");
	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		struct rp_ring_stats ip, ic, op, oc;
		uint64_t iused = 0, oused = 0;
		char rd[24] = "-", wr[24] = "-", fill[24] = "-";
		if (has_in(s, k) && rp_ring_observe(ring_in(s, k), &ip, &ic,
						    &iused) == 0) {
			/* A copy: what it took, as the JSON says (the
			 * ring's count is the group's). */
			snprintf(rd, sizeof(rd), "%llu",
				 (unsigned long long)(r->nrep > 1
					? records_in_now(s, k) : ic.records));
			snprintf(fill, sizeof(fill), "%llu%%",
				 (unsigned long long)(iused > r->cfg->ring
					? 100 : iused * 100 / r->cfg->ring));
		}
		if (has_out(s, k) &&
		    rp_ring_observe(ring_out(s, k), &op, &oc, &oused) == 0)
			snprintf(wr, sizeof(wr), "%llu%s",
				 (unsigned long long)op.records,
				 r->nrep > 1 ? "*" : "");
		group |= r->nrep > 1 && has_out(s, k);
		fprintf(f, "  %-16s %-10s %12s %12s %8u %11llu %6s\n",
			r->cfg->name, state_name[r->state], rd, wr, r->restarts,
			(unsigned long long)r->quarantined, fill);
	}
	if (group)
		fprintf(f, "  (* written: by all the copies of the stage)\n");
}

/* A client of ringpipe stat is waiting on listener kind. */
static void on_observe(struct sup *s, int kind)
{
	int fd = rp_observe_accept(s->obs.fd[kind]);
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (fd < 0)
		return;
	if ((m = open_memstream(&buf, &len)) != NULL) {
		if (kind == RP_OBSERVE_JSON)
			write_json(s, m, -1);
		else
			write_text(s, m);
		fclose(m);
	}
	rp_observe_reply(fd, buf ? buf : "", buf ? len : 0);
	free(buf);
}

int rp_run(const struct rp_cfg *cfg, const struct rp_run_opts *o)
{
	struct sup *s = calloc(1, sizeof(*s));
	int err, code;

	if (s == NULL)
		return RP_RUN_FAILED;
	s->cfg = cfg;
	s->grace_ns = o->fast_restart ? FAST_GRACE_NS : CANCEL_GRACE_NS;
	s->chaos = o->chaos;
	s->drain_opt = o->drain;
	/* What the caller reads: not for the stages to inherit. */
	if (o->pids)
		(void)madvise(o->pids, sizeof(*o->pids), MADV_DONTFORK);
	/* A stderr nobody reads must not stop the supervision. */
	rp_errout_begin();
	/* On a terminal, unless asked for the counters or for quiet. */
	s->progress = !o->stats && !o->quiet && rp_progress_begin();
	s->npos = cfg->nstages;
	s->sfd = s->ep = s->tfd = -1;
	s->obs.fd[0] = s->obs.fd[1] = -1;
	/* One process per stage, a replica each for replicated ones
	 * (config.c keeps the total within RP_CFG_MAX_PROCS). */
	for (int p = 0; p < s->npos; p++) {
		const struct rp_cfg_stage *c = &cfg->stages[cfg->order[p]];
		s->first[p] = s->n;
		for (uint32_t i = 0; i < c->replicas && s->n < RP_CFG_MAX_PROCS;
		     i++) {
			struct stage_run *r = at(s, s->n++);
			r->pos = p;
			r->nrep = (int)c->replicas;
			r->cfg = c;
			if (c->replicas > 1) {
				r->rcfg = *c;
				snprintf(r->rcfg.name, sizeof(r->rcfg.name),
					 "%.40s.%u", c->name, (i + 1) % 100u);
				r->cfg = &r->rcfg;
			}
		}
	}
	/* No fd is 0 until it is made (the cleanup closes what is >= 0). */
	for (int k = 0; k < s->n; k++) {
		struct rp_stage_proc *pr = &at(s, k)->proc;
		pr->pid = -1;
		pr->pidfd = pr->go = pr->listener = pr->lifeline = -1;
		pr->cin.p_fd = pr->cin.c_fd = pr->cout.p_fd = pr->cout.c_fd = -1;
		at(s, k)->err.rfd = -1;
		at(s, k)->fifo_fd = -1;
		rp_filter_cache_init(&at(s, k)->filter);
		spare_reset(at(s, k));
	}
	for (int p = 0; p < RP_CFG_MAX_STAGES; p++)
		s->ring[p].p_fd = s->ring[p].c_fd = -1;
	s->t0 = rp_now_ns();
	s->landlock_abi = rp_landlock_abi();
	{
		char prefix[sizeof(s->dead.prefix)];
		rp_deadletter_prefix(cfg->dead_letter, cfg->name, prefix,
				     sizeof(prefix));
		rp_deadletter_init(&s->dead, prefix);
	}
	rp_orphans_init(&s->orphans);
	/* What a run that was killed left in its exec stages' temporary
	 * directories (held by no one now) goes. */
	rp_scratch_sweep();
	{
		/* Said now, not at the first record to quarantine, which
		 * would then fail the run. */
		char why[400];
		int may = 0;
		for (int i = 0; i < cfg->nstages; i++)
			may |= cfg->stages[i].input[0] != '\0' &&
			       cfg->stages[i].quarantine_after > 0;
		if (may && rp_deadletter_writable(&s->dead, why,
						  sizeof(why)) != 0)
			rp_log(RP_LOG_INFO, NULL, "the dead-letter output "
			       "%s.rec cannot be written (%s): a record to "
			       "quarantine would fail the run (dead_letter: "
			       "PREFIX puts it elsewhere)", s->dead.prefix,
			       why);
	}
	err = setup(s, o);
	if (err) {
		rp_log(RP_LOG_ERROR, NULL, "setting up: %s", strerror(-err));
		code = RP_RUN_FAILED;
		goto out;
	}
	s->o = o;
	s->first_k = -1;
	s->next_first = s->n - 1;
	start_firsts(s);

	int eo_watch = -1; /* our stderr, while its reader lags behind */
	for (int64_t drain_until = 0;;) {
		struct epoll_event evs[16];
		int n, open_pipes = 0, pending = 0;

		int restarting = 0;
		int64_t next_restart = 0, next_spare;

		for (int k = 0; k < s->n; k++) {
			struct stage_run *r = at(s, k);
			int64_t due;

			/* A restart awaiting its hand-shake: given up on
			 * when the run ends meanwhile, or when it is late. */
			if (r->hs_pending &&
			    (s->cancel_reason || s->failed ||
			     rp_now_ns() >= r->hs_deadline))
				hs_give_up(s, k);
			if (!r->hs_pending && r->state == ST_RESTARTING) {
				if (s->cancel_reason || s->failed) {
					/* Nothing to come back for. */
					set_state(s, k, ST_CANCELLED);
					continue;
				}
				if (rp_now_ns() >= r->restart_at)
					restart_now(s, k, o);
			}
			/* Awaiting its hand-shake, or its restart (again,
			 * if a start failed and is to be tried again): the
			 * run goes on. */
			if (r->hs_pending)
				due = r->hs_deadline;
			else if (r->state == ST_RESTARTING)
				due = r->restart_at;
			else
				continue;
			restarting++;
			if (next_restart == 0 || due < next_restart)
				next_restart = due;
		}
		/* First starts still to come: the run goes on. */
		if (s->next_first >= 0)
			restarting++;
		next_spare = spares_tend(s, o);
		if (next_spare && (next_restart == 0 || next_spare < next_restart))
			next_restart = next_spare;
		for (int k = 0; k < s->n; k++)
			open_pipes += at(s, k)->err.rfd >= 0;
		if (s->alive == 0 && open_pipes == 0 && restarting == 0)
			break;
		/* Every stage is gone but a stderr pipe is still open: a
		 * stray grandchild (a command's background job) holds it.
		 * Read what comes for a moment, then stop waiting. */
		if (s->alive == 0 && restarting == 0 && drain_until == 0)
			drain_until = rp_now_ns() + 2000000000LL;
		else if (s->alive || restarting)
			drain_until = 0; /* not the end after all */
		/* (A restart still awaited counts: the deadline ends the
		 * wait for it too.) */
		if (s->drain_deadline && (s->alive || restarting) &&
		    !s->cancel_reason && rp_now_ns() > s->drain_deadline) {
			rp_log(RP_LOG_INFO, NULL, "still draining %.0f s on: "
			       "cancelling", DRAIN_GRACE_NS / 1e9);
			say_waiting(s);
			cancel_all(s, RP_REASON_DEADLINE, -1);
		}
		if (s->cancel_deadline && s->alive &&
		    rp_now_ns() > s->cancel_deadline) {
			rp_log(RP_LOG_INFO, NULL, "stages still running %.0f s "
			       "after the cancel: killed", s->grace_ns / 1e9);
			say_waiting(s);
			kill_all(s);
			s->cancel_deadline = 0;
		}
		if (drain_until && rp_now_ns() > drain_until) {
			for (int k = 0; k < s->n; k++)
				if (at(s, k)->err.rfd >= 0) {
					rp_errpipe_pump(&at(s, k)->err, stderr);
					rp_log(RP_LOG_INFO, at(s, k)->cfg->name,
					       "its stderr is held open by a "
					       "process it left behind");
					rp_errpipe_close(&at(s, k)->err);
				}
			break;
		}
		/* The bell protocol: announce, re-check, then sleep. */
		rp_bell_announce(s->sup_bell);
		rp_bell_park_begin(s->sup_bell);
		/* (Not one whose hand-shake is awaited: its control ring
		 * is read once that is taken.) */
		for (int k = 0; k < s->n; k++)
			pending |= at(s, k)->proc.rx && !at(s, k)->hs_pending &&
				   rp_ctl_ready(at(s, k)->proc.rx) > 0;
		{
			int ms = pending ? 0 : drain_until ? 100 : 1000;
			for (int k = 0; k < s->n; k++) {
				const struct rp_cfg_stage *c = at(s, k)->cfg;
				if (c->record_timeout_ms && ms > 50)
					ms = 50; /* sample the timeouts */
				/* and the replicas' locks */
				if (at(s, k)->nrep > 1 &&
				    ms > (int)c->lock_timeout_ms / 4)
					ms = (int)c->lock_timeout_ms / 4;
			}
			if (!pending && next_restart) {
				int64_t w = (next_restart - rp_now_ns()) / 1000000;
				if (w < ms)
					ms = w < 0 ? 0 : (int)w;
			}
			if (rp_errout_fd() != eo_watch) {
				struct epoll_event ev = {
					.events = EPOLLOUT,
					.data.u64 = EV(EV_ERROUT, 0)};
				if (eo_watch >= 0)
					epoll_ctl(s->ep, EPOLL_CTL_DEL,
						  eo_watch, NULL);
				eo_watch = rp_errout_fd();
				if (eo_watch >= 0)
					epoll_ctl(s->ep, EPOLL_CTL_ADD,
						  eo_watch, &ev);
			}
			pids_say(s);
			n = epoll_wait(s->ep, evs, 16, ms);
		}
		rp_bell_park_end(s->sup_bell);
		rp_bell_retire(s->sup_bell);
		for (int k = 0; k < s->n; k++)
			read_control(s, k);
		check_record_timeouts(s);
		check_locks(s);
		watch_cursors(s);
		/* Our signals first: a stage that a signal sent to every
		 * process at once killed is judged knowing of ours. */
		for (int e = 0; e < n; e++)
			if ((int)(evs[e].data.u64 >> 32) == EV_SIGNAL)
				on_signal(s);
		for (int e = 0; e < n; e++) {
			int kind = (int)(evs[e].data.u64 >> 32);
			int k = (int)(uint32_t)evs[e].data.u64;
			switch (kind) {
			case EV_SIGNAL: break;
			case EV_BELL: rp_bell_drain(s->sup_bell); break;
			case EV_TIMER: {
				uint64_t t;
				if (read(s->tfd, &t, sizeof(t)) <= 0)
					break;
				if (s->progress)
					print_progress(s);
				else
					print_stats(s);
				break;
			}
			case EV_LISTENER: on_violation(s, k); break;
			case EV_PID: on_exit_of(s, k); break;
			case EV_OBSERVE: on_observe(s, k); break;
			case EV_STDERR:
				/* At its end the pipe is closed, which also
				 * takes it out of the epoll set. */
				rp_errpipe_pump(&at(s, k)->err, stderr);
				break;
			case EV_SPARE_PID: on_spare_exit(s, k); break;
			case EV_SPARE_SOCK: on_spare_sock(s, k); break;
			case EV_GO: on_go(s, k); break;
			case EV_ERROUT: rp_errout_pump(); break;
			case EV_SPARE_STDERR:
				rp_errpipe_pump(&at(s, k)->spare_err, stderr);
				break;
			}
		}
	}
	rp_progress_end();
	rp_errout_last();
	if (!o->quiet)
		report(s);
	else if (s->quarantined)
		/* Records set aside in a run that exits 0: what a quiet
		 * cron job must still show (its first line alone). */
		fprintf(stderr, "ringpipe: pipeline %s: %llu record%s "
				"quarantined to %s.rec\n",
			s->cfg->name, (unsigned long long)s->quarantined,
			s->quarantined == 1 ? "" : "s", s->dead.prefix);
	/* A drain that finished still tells the shell it was stopped. */
	code = s->failed && s->misused ? RP_RUN_USAGE
	     : s->failed ? RP_RUN_FAILED
	     : s->cancel_reason == RP_REASON_USER     ? RP_RUN_INTERRUPTED
	     : s->end_sig == SIGHUP		      ? RP_RUN_HANGUP
	     : s->end_sig == SIGQUIT		      ? RP_RUN_QUIT
	     : s->cancel_reason == RP_REASON_SHUTDOWN ? RP_RUN_TERMINATED
	     : s->drain_sig == SIGINT		      ? RP_RUN_INTERRUPTED
	     : s->drain_sig == SIGTERM		      ? RP_RUN_TERMINATED
	     : s->cancel_reason == RP_REASON_DEADLINE ? RP_RUN_FAILED
						      : RP_RUN_OK;
	if (o->report_json)
		report_json(s, o->report_json, code);
out:
	rp_progress_end();
	rp_observe_close(&s->obs);
	for (int k = 0; k < s->n; k++) {
		struct stage_run *r = at(s, k);
		if (r->spare.pid > 0 || r->spare.pidfd >= 0)
			spare_drop(s, k);
		if (r->proc.pid > 0) {
			rp_spawn_kill(&r->proc);
			rp_spawn_reap(&r->proc, 1000);
		}
		rp_spawn_close(&r->proc);
		rp_errpipe_close(&r->err);
		rp_filter_cache_close(&r->filter);
		fifo_release(r);
	}
	/* Every stage is gone: so is what they left. */
	rp_orphans_end(&s->orphans, is_stage, s, 1000);
	for (int p = 0; p < s->npos; p++)
		rp_bell_close(s->bell[p]);
	for (int p = 0; p + 1 < s->npos; p++) {
		rp_ring_watch_close(&s->watch[p]);
		rp_ring_fds_close(&s->ring[p]);
	}
	rp_bell_close(s->sup_bell);
	if (s->ep >= 0)
		close(s->ep);
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->tfd >= 0)
		close(s->tfd);
	rp_deadletter_close(&s->dead);
	if (o->quarantined != NULL)
		*o->quarantined = s->quarantined;
	free(s);
	/* The report and the last lines: written out, waiting for the
	 * reader now that nothing else waits for the supervisor. */
	rp_errout_end();
	return code;
}
