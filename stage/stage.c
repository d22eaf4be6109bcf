/*
 * stage.c - the stage library (ringpipe.h): attach, sandbox, loops.
 *
 * Design note
 * -----------
 * A stage waits on one bell: its input's producer rings it after
 * publishing, its output's consumer after releasing, the supervisor after
 * a control record.  Every loop turn checks the sticky cancel word (one
 * load) before taking the next input record.
 *
 * Outputs carry origin metadata: the origin is the stage's input sequence
 * number (for a source, its own record count), the sub-index counts the
 * outputs of that origin, and the last output of each origin carries
 * RP_REC_F_LAST.  Since whether an output is the last one is known only
 * when the next one starts or the origin ends, each output stays reserved
 * until then and is committed with the right flag (one outstanding
 * reservation, as the ring requires).
 *
 * Ordering for at-least-once: outputs are published before the inputs
 * they derive from are released, so a crash in between redelivers the
 * input rather than losing its outputs.
 *
 * Exactly-once on top: every release stores a commit point (ipc/ring.h)
 * with the input count, the key (origin, sub) of the last record taken
 * and the stage's saved words, in a step a crash cannot split from the
 * release itself.  A restarted stage resumes from it, so it numbers the
 * redelivered records as before and, being deterministic, emits the same
 * keys again; its consumer, on a ring marked RP_RING_F_DEDUP, drops every
 * record whose key is not past the last one it took, from the first record
 * of the restart (RP_REC_F_RESTART) until one is past it.  Anywhere else
 * such a key is its producer's corruption (a key pushed far ahead would
 * otherwise have everything after it dropped), reported as one; so is a
 * last key at or past the bound the restarted producer gives what its
 * earlier incarnations made (a filter: from its input's count; a source:
 * from its commit point and the records that fit past it).  A
 * group of replicas has no incarnations to mark: behind one, keys not
 * past the last are dropped wherever they come.  A source saves its
 * point after the publication it covers (rp_stage_save), never before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../ipc/ctl.h"
#include "../ipc/ring_int.h"
#include "../shm/crashpoint.h"
#include "../shm/futex.h"
#include "ringpipe.h"
#include "sandbox.h"
#include "stage_fault.h"
#include "stage_int.h"
#include "wiring.h"

/* A piece of a line longer than a record, its line going on in the next
 * record (the built-ins' type 19, builtin.h). */
#define RP_T_PIECE 19

#define SEC 1000000000LL
#define RELEASE_EVERY 64u /* input records per release */
#define POLL_SLICE_MS 10  /* rp_stage_poll without an eventfd doorbell */

struct rp_stage {
	char name[RP_WIRING_NAME_MAX];
	struct rp_bell *own, *inbell, *outbell, *sup;
	struct rp_consumer *in;
	struct rp_producer *out;
	struct rp_ctl_rx *rx;
	struct rp_ctl_tx *tx;
	int lifeline;
	unsigned sandbox_applied;

	/* input */
	uint64_t in_seq;       /* sequence number of the next input record */
	unsigned unreleased;
	int save_pending;      /* words saved, to be stored with a release
				* even of nothing */
	/* output: the origin being emitted and its pending record */
	uint64_t origin;
	uint32_t sub;
	int pending;           /* a reserved output not yet committed */
	uint32_t pending_len;
	uint16_t pending_type;
	int user_resv;         /* rp_emit_reserve without commit */
	int same_origin;       /* sources: next emit continues the origin */
	int source;
	int draining;
	uint32_t cancel;
	int broken_side;       /* 1: input ring, 2: output ring (-EBADMSG) */
	int refused;           /* the callback refused its record */
	int run_loop;          /* in rp_stage_run: what it peeked is done */
	int in_callback;       /* rp_stage_run's callback is running */
	uint64_t cb_origin;    /* on this record (what a refusal names) */
	uint32_t too_big;      /* the last emit larger than the output takes */
	int in_ended;          /* a peek found the end of input */
	int ended_early;       /* its work ended before its input did, said
				* by exec (its program's exit) */
	int no_restart;        /* it failed as it would again (RP_EXIT_NO_RESTART) */
	char refusal[24];      /* why, as the control record carries it */
	int work_external;     /* rp_stage_set_work: polls are working time */
	uint64_t wait_in_us, wait_out_us; /* time blocked, for the report */

	/* replicas: copies of this stage share its rings; a claim's
	 * outputs are held in ho/hb until it is done, and ordered, until
	 * the records before it are released (the turn); turn: this
	 * record's outputs go out directly */
	int replica, ordered, turn;
	uint64_t after;        /* counted already, up to position after - 1 */
	int retaken;           /* the current record is such a one */
	uint32_t resv_held_len; /* the held reservation's length */
	uint32_t resv_len;     /* the user's reservation's length */
	void *resv_buf;        /* and where it is */
	struct held_out {
		size_t off;        /* its bytes: hb[off, off + len) */
		uint32_t len;
		struct rp_meta m;
	} *ho;
	size_t nho, cho;
	unsigned char *hb;
	size_t hb_len, hb_cap;
	int resv_held;         /* the user's reservation is at hb + hb_len */
	int pending_held;      /* and so is the pending output */

	/* crash recovery */
	int dedup;             /* the input's producer replays after a crash */
	int dedup_any;         /* replicas produce it: replays come unmarked */
	int bound_said;        /* its replays' bound, at its first peek */
	struct rp_keys key;    /* of the last input record taken */
	uint64_t dups;         /* replayed input records dropped */
	uint64_t words[RP_STAGE_STATE_WORDS]; /* saved with the next commit */
	uint64_t start_words[RP_STAGE_STATE_WORDS]; /* its start's point's */
	int line_place;    /* rp_stage_keep_line_place: word 0 says so */
	uint16_t last_type; /* of the record taken last */
	int restored;          /* started from a commit point */
	uint64_t skip[RP_WIRING_MAX_SKIP]; /* quarantined input numbers */
	unsigned nskip;
	/* the record last taken: where a hold on it would resume */
	struct rp_ckpt cur_ck; /* the commit point just before it */
	uint64_t cur_pos;
	/* rp_stage_hold: releases stop before this record */
	int held;
	struct rp_ckpt hold_ck;
	uint64_t hold_pos;
	/* a hold given up (counted once), until the stage lets go of it or
	 * holds from another mark */
	int gave_up;
	uint64_t gave_up_pos;

	/* ringpipe chaos: fault records for this incarnation (0: none) */
	uint32_t chaos_gen;
	uint32_t incarnation;  /* 1 at the first start (0: not said) */
	uint64_t denials;      /* its program's denied syscalls (exec) */
	uint64_t timeouts;     /* its program's per-record timeouts told */
	uint64_t timeout_progress; /* the progress word the last one saw */
	uint64_t fault;        /* RP_FAULT_* | seed << 8, for the next record */
};

unsigned rp_stage_layers(const struct rp_stage *s)
{
	return s->sandbox_applied;
}

const char *rp_stage_name(const struct rp_stage *s)
{
	return s->name;
}

uint32_t rp_stage_max_record(const struct rp_stage *s)
{
	return s->out ? rp_producer_max_record(s->out) : 0;
}

uint64_t rp_stage_input_seq(const struct rp_stage *s)
{
	return s->origin;
}

uint64_t rp_stage_denials(struct rp_stage *s)
{
	rp_stage_control(s, NULL);
	return s->denials;
}

uint64_t rp_stage_timeouts(struct rp_stage *s, uint64_t *progress)
{
	rp_stage_control(s, NULL);
	*progress = s->timeout_progress;
	return s->timeouts;
}

void rp_stage_timed_out(struct rp_stage *s, uint64_t seq, int kind)
{
	rp_ctl_send(s->tx, RP_CTL_TIMED_OUT, RP_REASON_NONE, seq,
		    kind >= 0 && kind <= 2 ? kind : 0, 0, NULL, SEC);
}

void rp_stage_claim_one(struct rp_stage *s)
{
	if (s->in != NULL && s->replica)
		rp_consumer_set_claim_max(s->in, 1);
}

uint64_t rp_stage_current(const struct rp_stage *s, int *replica)
{
	*replica = s->replica;
	return s->origin + 1;
}

uint64_t rp_stage_taken(const struct rp_stage *s)
{
	if (s->replica && s->retaken)
		return UINT64_MAX;
	return s->in_seq ? s->in_seq - 1 : 0;
}

void rp_stage_close(struct rp_stage *s)
{
	if (s == NULL)
		return;
	rp_producer_close(s->out);
	rp_consumer_close(s->in);
	rp_ctl_rx_close(s->rx);
	rp_ctl_tx_close(s->tx);
	rp_bell_close(s->own);
	rp_bell_close(s->inbell);
	rp_bell_close(s->outbell);
	rp_bell_close(s->sup);
	if (s->lifeline >= 0)
		close(s->lifeline);
	free(s->ho);
	free(s->hb);
	free(s);
}

static int attach(struct rp_stage *s, const struct rp_wiring *w)
{
	int err;

	if ((err = rp_bell_open(w->bell, w->bell_efd, &s->own)) ||
	    (err = rp_bell_open(w->sup_bell, w->sup_efd, &s->sup)) ||
	    (err = rp_ctl_rx_open(&w->cin, s->own, s->sup, &s->rx)) ||
	    (err = rp_ctl_tx_open(&w->cout, s->own, s->sup, &s->tx)))
		return err;
	/* A ring found broken says which (broken_side); a bell any waker
	 * may write found so does not name a ring. */
	if (w->in.p_fd >= 0) {
		if ((err = rp_bell_open(w->in_bell, w->in_bell_efd,
					&s->inbell)))
			return err;
		if ((err = rp_consumer_open(&w->in, s->own, s->inbell,
					    &s->in))) {
			s->broken_side = err == -EBADMSG ? 1 : 0;
			return err;
		}
	}
	if (w->out.p_fd >= 0) {
		if ((err = rp_bell_open(w->out_bell, w->out_bell_efd,
					&s->outbell)))
			return err;
		if ((err = rp_producer_open(&w->out, s->own, s->outbell,
					    &s->out))) {
			s->broken_side = err == -EBADMSG ? 2 : 0;
			return err;
		}
	}
	/* Once attached (which waits the ring's short default, and a
	 * replica that gives up is started again), a replica waits for a
	 * shared lock longer than the supervisor lets anyone hold it: a
	 * stuck holder is killed, not waited out. */
	if (w->lock_ms)
		rp_ring_set_lock_timeout(
			s->out, s->in, (2 * (int64_t)w->lock_ms + 1000) * 1000000);
	return 0;
}

/* What the rings and the wiring say about where to begin: at the start,
 * or for a standby once it takes over. */
/* A stage without input makes records of its own, each a new origin
 * (unless it says otherwise), numbered on from its commit point, whether
 * under rp_stage_run_source or a loop of its own.  What earlier
 * incarnations published has origins below what its commit point and
 * the records past it allow: said to its consumer with its first
 * record, so a key pushed ahead before a crash is caught there.  Where
 * that is not known, none is said. */
static void source_begin(struct rp_stage *s)
{
	uint64_t bound;

	s->source = 1;
	s->origin = s->in_seq;
	if (rp_producer_source_bound(s->out, s->in_seq, &bound) == -EBADMSG)
		fprintf(stderr, "%s: the commit point it resumes from is not "
			"one its output ring's records allow: its replays are "
			"bounded by the whole ring's\n", s->name);
}

static int begin(struct rp_stage *s, const struct rp_wiring *w)
{
	struct rp_ckpt ck;

	/* A restarted stage continues from its last commit point: the
	 * numbering of its input from what it had released (where the
	 * redelivery starts, so the record it crashed on keeps its number),
	 * a source from what it had published. */
	memset(&ck, 0, sizeof(ck));
	if (s->in) {
		uint32_t f = rp_consumer_flags(s->in);
		rp_consumer_ckpt(s->in, &ck);
		/* Replicas: an ordered ring drops replays as they are
		 * claimed (each replica sees only some records). */
		s->replica = (f & RP_RING_F_MP_CONSUMERS) != 0;
		s->ordered = (f & RP_RING_F_ORDERED) != 0;
		s->dedup = !s->replica && (f & RP_RING_F_DEDUP) != 0;
		s->dedup_any = (f & RP_RING_F_MP_PRODUCERS) != 0;
	} else if (s->out) {
		rp_producer_ckpt(s->out, &ck);
	}
	if (ck.flags & RP_CKPT_F_VALID) {
		s->restored = 1;
		s->in_seq = ck.seq;
		memcpy(s->words, ck.user, sizeof(s->words));
		memcpy(s->start_words, ck.user, sizeof(s->start_words));
		rp_keys_load(&s->key, &ck);
	} else {
		s->in_seq = w->has_seq ? w->seq : 0;
	}
	if (s->in == NULL && s->out != NULL)
		source_begin(s);
	s->after = w->after;
	s->nskip = w->nskip;
	memcpy(s->skip, w->skip, sizeof(s->skip));
	/* A crash-point sweep: die at the N-th pass through the point. */
	if (w->crash_point != RP_CP_NONE)
		rp_crashpoint_arm((enum rp_crash_point)w->crash_point,
				  w->crash_n);
	s->chaos_gen = w->chaos_gen;
	s->incarnation = w->incarnation;
	rp_ctl_status_set(s->tx, RP_CTL_WORD_INPUT_SEQ, s->in_seq);
	return 0;
}

/* A ring found broken as the stage attaches (a restart, a neighbour that
 * changed it meanwhile) is a violation like one found later: said with
 * its side, for the supervisor to check and pin on whoever can write what
 * is broken - with the mark that the stage had not read it before. */
static void attach_violation(struct rp_stage *s, int side, int err)
{
	s->broken_side = side;
	if (s->tx)
		rp_ctl_send(s->tx, RP_CTL_VIOLATION, RP_REASON_NONE, 0,
			    (uint64_t)side | RP_CTL_AT_ATTACH, err, NULL, SEC);
}

/*
 * A standby is attached and sandboxed already; it waits for the word to
 * take over, which says what only a restart knows (where the numbering
 * resumes, what to skip, its incarnation), then takes up the rings'
 * cursors as they are now.  The supervisor hanging up, or dying (the
 * lifeline), ends it: it was never used.
 */
static int take_over(struct rp_stage *s, int go, struct rp_wiring *w)
{
	char buf[RP_WIRING_TAKEOVER_MAX];
	struct pollfd p[2] = {{.fd = go, .events = POLLIN},
			      {.fd = s->lifeline, .events = POLLIN}};
	ssize_t n;
	int err = 0, side = 0;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return -ECANCELED;
		if (p[0].revents & POLLIN)
			break;
		if (p[0].revents)
			return -ECANCELED;
	}
	n = read(go, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -ECANCELED;
	buf[n] = '\0';
	if (rp_wiring_take_over(buf, w) != 0) {
		fprintf(stderr, "%s: standby: %s\n", s->name, w->error);
		return -EINVAL;
	}
	if (s->in && (err = rp_consumer_resync(s->in)))
		side = 1;
	else if (s->out && (err = rp_producer_resync(s->out)))
		side = 2;
	if (err) {
		fprintf(stderr, "%s: taking over the rings: %s\n", s->name,
			strerror(-err));
		if (err == -EBADMSG)
			attach_violation(s, side, err);
		return err;
	}
	return begin(s, w);
}

static int stage_open(const char *desc, const int *keep, int nkeep,
		      struct rp_stage **out);

int rp_stage_open_env(const char *desc, struct rp_stage **out)
{
	return stage_open(desc, NULL, 0, out);
}

void rp_stage_ended_early(struct rp_stage *s)
{
	s->ended_early = 1;
}

int rp_stage_input_done(struct rp_stage *s)
{
	struct rp_view v;

	if (s->in == NULL || s->in_ended)
		return 1;
	/* A look that takes nothing (a copy's would claim): its end
	 * there, all of it taken.  (head 2 of two lines.) */
	return !s->replica && rp_peek(s->in, &v) == -ENODATA;
}

/* The fault stage's: any signal to itself (stage_fault.h). */
static int self_signals_any;

void rp_stage_fault_self_signals(void)
{
	self_signals_any = 1;
}

int rp_stage_open_fds(const int *keep, int nkeep, struct rp_stage **out)
{
	return stage_open(getenv("RINGPIPE_STAGE"), keep, nkeep, out);
}

static int stage_open(const char *desc, const int *keep, int nkeep,
		      struct rp_stage **out)
{
	struct rp_wiring w;
	struct rp_sandbox_report rep;
	struct rp_filter filter = {NULL, 0, 0, 0};
	struct rp_stage *s;
	int err, go = -1;

	*out = NULL;
	/* Room for the library's own fds (eventfds) besides the caller's:
	 * more would be closed by the sandbox behind the caller's back. */
	if (nkeep < 0 || nkeep > RP_SANDBOX_MAX_FDS - 8)
		return -EINVAL;
	if (desc == NULL) {
		fprintf(stderr, "ringpipe stage: RINGPIPE_STAGE is not set "
				"(stages are started by ringpipe)\n");
		return -EINVAL;
	}
	err = rp_wiring_parse(desc, &w);
	if (err) {
		fprintf(stderr, "ringpipe stage: bad RINGPIPE_STAGE: %s\n",
			w.error);
		return -EINVAL;
	}
	if (w.bell_version != RP_BELL_VERSION) {
		fprintf(stderr, "%s: the supervisor's doorbells are version %u, "
				"this stage library's %u: build the stage "
				"against the ringpipe that runs it\n",
			w.name, w.bell_version, (unsigned)RP_BELL_VERSION);
		rp_wiring_close_fds(&w);
		return -EPROTO;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->lifeline = -1;
	snprintf(s->name, sizeof(s->name), "%s", w.name);
	err = attach(s, &w);
	if (!err && !w.standby)
		err = begin(s, &w);
	if (err) {
		fprintf(stderr, "%s: attaching to the rings: %s\n", s->name,
			strerror(-err));
		if (s->broken_side)
			attach_violation(s, s->broken_side, err);
		else if (err == -EBADMSG)
			err = -EPROTO; /* a doorbell or control ring: no ring
					* to name, nothing for the supervisor
					* to check */
		rp_stage_close(s);
		rp_wiring_close_fds(&w);
		return err;
	}
	/* The mappings are made: the ring memfds are no longer needed, and
	 * the sandbox keeps only what the loop still uses. */
	s->lifeline = w.lifeline;
	w.lifeline = -1;
	w.sandbox.keep_fds[w.sandbox.nkeep++] = w.sup_efd;
	/* Eventfds are written to wake, and polled: they stay open. */
	if (w.bell_efd >= 0)
		w.sandbox.keep_fds[w.sandbox.nkeep++] = w.bell_efd;
	if (w.in_bell_efd >= 0)
		w.sandbox.keep_fds[w.sandbox.nkeep++] = w.in_bell_efd;
	if (w.out_bell_efd >= 0)
		w.sandbox.keep_fds[w.sandbox.nkeep++] = w.out_bell_efd;
	for (int i = 0; i < nkeep && w.sandbox.nkeep < RP_SANDBOX_MAX_FDS;
	     i++)
		w.sandbox.keep_fds[w.sandbox.nkeep++] = keep[i];
	w.sandbox.lifeline_fd = s->lifeline;
	w.sandbox.notify_sock = w.notify_sock;
	/* A crash point kills the stage with SIGKILL (or stops it), as
	 * from outside. */
	w.sandbox.self_signals_any = self_signals_any ||
				     w.crash_point != RP_CP_NONE;
	/* A standby hears on the same socket when to take over. */
	if (w.standby) {
		go = w.notify_sock >= 0
			? fcntl(w.notify_sock, F_DUPFD_CLOEXEC, 3) : -1;
		if (go < 0) {
			fprintf(stderr, "%s: standby: no socket to wait on\n",
				s->name);
			rp_stage_close(s);
			return -EINVAL;
		}
		if (w.sandbox.nkeep < RP_SANDBOX_MAX_FDS)
			w.sandbox.keep_fds[w.sandbox.nkeep++] = go;
	}
	/* The filter the supervisor compiled for this process, unless it
	 * has a signal rule of its own (the fault stage's): else it is
	 * built as it enters. */
	if (w.filter >= 0) {
		if (!self_signals_any &&
		    rp_seccomp_read(w.filter, &filter) == 0)
			w.sandbox.filter = &filter;
		close(w.filter);
		w.filter = -1;
	}
	err = rp_sandbox_enter(&w.sandbox, &rep);
	free(filter.insns);
	w.sandbox.filter = NULL;
	if (err) {
		fprintf(stderr, "%s: sandbox: %s\n", s->name, rep.why);
		if (go >= 0)
			close(go);
		rp_stage_close(s);
		return -EPERM;
	}
	if (rep.why[0] != '\0')
		fprintf(stderr, "%s: sandbox: %s\n", s->name, rep.why);
	s->sandbox_applied = rep.applied;
	if (w.standby) {
		err = take_over(s, go, &w);
		close(go);
		if (err) {
			rp_stage_close(s);
			return err;
		}
	}
	rp_ctl_send(s->tx, RP_CTL_READY, 0, rep.applied, 0, 0, s->name, SEC);
	*out = s;
	return 0;
}

int rp_stage_open(struct rp_stage **out)
{
	return rp_stage_open_env(getenv("RINGPIPE_STAGE"), out);
}

/* ------------------------------------------------------------- control */

int rp_stage_control(struct rp_stage *s, int *draining)
{
	struct rp_ctl_msg m;

	while (rp_ctl_recv(s->rx, &m) == 0) {
		switch (m.kind) {
		case RP_CTL_CANCEL:
			if (s->cancel == 0)
				s->cancel = m.reason;
			break;
		case RP_CTL_DRAIN:
			s->draining = 1;
			break;
		case RP_CTL_PING:
			rp_ctl_send(s->tx, RP_CTL_PONG, 0, m.seq, s->in_seq, 0,
				    NULL, SEC);
			break;
		case RP_CTL_DENIED:
			s->denials++;
			break;
		case RP_CTL_TIMEOUT:
			s->timeouts++;
			s->timeout_progress = m.arg0;
			break;
		case RP_CTL_FAULT:
			/* Only when armed, and only for this incarnation: a
			 * fault meant for the one that died stays unread. */
			if (s->chaos_gen != 0 && m.arg1 == s->chaos_gen &&
			    (m.arg0 & 0xff) >= RP_FAULT_HANG &&
			    (m.arg0 & 0xff) <= RP_FAULT_CORRUPT)
				s->fault = m.arg0;
			break;
		default:
			break; /* pause/resume: not yet acted upon */
		}
	}
	if (draining)
		*draining = s->draining;
	return (int)s->cancel;
}

/* The cheap check made before every record: one load of the sticky
 * word, the full receive only when something is there. */
static int cancel_point(struct rp_stage *s)
{
	if (s->cancel)
		return (int)s->cancel;
	if (rp_ctl_cancelled(s->rx) || rp_ctl_draining(s->rx))
		return rp_stage_control(s, NULL);
	return 0;
}

/* The supervisor is gone if the lifeline hung up. */
static int supervisor_gone(struct rp_stage *s)
{
	struct pollfd p = {.fd = s->lifeline, .events = POLLIN};

	return s->lifeline >= 0 && poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLHUP | POLLIN | POLLERR));
}

struct wait_arg {
	struct rp_stage *s;
	unsigned what;
};

/* Internal to stage_wait: an ordered replica's turn to publish. */
#define WAIT_TURN 0x100u

static int wait_ready(void *arg)
{
	struct wait_arg *a = arg;
	unsigned got = 0;
	int r;

	if ((a->what & RP_WAIT_INPUT) && a->s->in) {
		r = rp_consumer_ready(a->s->in);
		if (r != 0)
			got |= RP_WAIT_INPUT; /* errors too: peek reports */
	}
	if ((a->what & RP_WAIT_OUTPUT) && a->s->out) {
		r = rp_producer_ready(a->s->out,
				      rp_producer_max_record(a->s->out));
		if (r != 0)
			got |= RP_WAIT_OUTPUT;
	}
	if (a->what & RP_WAIT_CONTROL) {
		if (rp_ctl_ready(a->s->rx) != 0)
			got |= RP_WAIT_CONTROL;
	}
	/* (A consumer gone for good ends the wait too: only the replica
	 * whose turn it is would ever find out by reserving.) */
	if ((a->what & WAIT_TURN) &&
	    (rp_consumer_my_turn(a->s->in) != 0 ||
	     (a->s->out && rp_producer_ready(a->s->out, 0) < 0)))
		got |= WAIT_TURN;
	return (int)got;
}

static int stage_wait(struct rp_stage *s, unsigned what, int64_t timeout_ns);

/* Time blocked since t0 on input (what has RP_WAIT_INPUT) or on room
 * in the output ring (RP_WAIT_OUTPUT), in the status words the report
 * reads; and, if it took any time, one wait more in that ring's
 * counters (its next publication or release flushes them), as the
 * ring's own waits count theirs. */
static void blocked(struct rp_stage *s, unsigned what, int64_t t0)
{
	uint64_t us = (uint64_t)(rp_now_ns() - t0) / 1000;

	if (what & (RP_WAIT_OUTPUT | WAIT_TURN)) {
		s->wait_out_us += us;
		rp_ctl_status_set(s->tx, RP_CTL_WORD_WAIT_OUT_US,
				  s->wait_out_us);
		if (s->out && (what & RP_WAIT_OUTPUT) && us > 0)
			s->out->st.waits++;
	} else if (what & RP_WAIT_INPUT) {
		s->wait_in_us += us;
		rp_ctl_status_set(s->tx, RP_CTL_WORD_WAIT_IN_US, s->wait_in_us);
		if (s->in && us > 0)
			s->in->st.waits++;
	}
}

/* Waiting is not working: a per-record timeout does not count it. */
int rp_stage_wait(struct rp_stage *s, unsigned what, int64_t timeout_ns)
{
	uint64_t working;
	int64_t t0;
	int r;

	/* Nothing to wait for would only time out. */
	if (what == 0 || (what & ~(RP_WAIT_INPUT | RP_WAIT_OUTPUT |
				   RP_WAIT_CONTROL | WAIT_TURN)))
		return -EINVAL;
	working = rp_ctl_status_get(s->tx, RP_CTL_WORD_WORKING);
	t0 = rp_now_ns();

	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 0);
	r = stage_wait(s, what, timeout_ns);
	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, working);
	blocked(s, what, t0);
	return r;
}

static int stage_wait(struct rp_stage *s, unsigned what, int64_t timeout_ns)
{
	int64_t deadline = rp_now_ns() + timeout_ns;
	struct wait_arg a = {s, what};

	for (;;) {
		int64_t left = timeout_ns < 0 ? SEC : deadline - rp_now_ns();
		int r;

		if (timeout_ns >= 0 && left <= 0)
			return -ETIMEDOUT;
		if (left > SEC)
			left = SEC;
		r = rp_bell_wait(s->own, wait_ready, &a, left, RP_BELL_SPIN,
				 NULL);
		if (r != -ETIMEDOUT)
			return r;
		/* Each quiet second: is anyone still there to talk to? */
		if (supervisor_gone(s))
			return -EPIPE;
	}
}

/* rp_stage_poll where the doorbell has no eventfd (a futex bell, as
 * replicas share: it cannot be polled): the fds alone, in slices of
 * POLL_SLICE_MS at most, the rings and control looked at after each. */
static int poll_sliced(struct rp_stage *s, unsigned what, struct pollfd *fds,
		       int nfds, int timeout_ms)
{
	struct wait_arg a = {s, what};
	int r = wait_ready(&a), n = 0;

	if (r == 0 && timeout_ms != 0) {
		int64_t t0 = rp_now_ns();
		int64_t end = t0 + (int64_t)timeout_ms * 1000000;
		uint64_t working = rp_ctl_status_get(s->tx,
						     RP_CTL_WORD_WORKING);
		/* As rp_stage_poll: whose time it is. */
		if (!s->work_external)
			rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 0);
		for (;;) {
			int64_t left = (end - rp_now_ns()) / 1000000;
			n = poll(fds, (nfds_t)nfds,
				 left < POLL_SLICE_MS ? (int)(left > 0 ? left : 0)
						      : POLL_SLICE_MS);
			if (n != 0 || (r = wait_ready(&a)) != 0 || left <= 0)
				break;
		}
		if (!s->work_external) {
			rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, working);
			blocked(s, what & (RP_WAIT_INPUT | RP_WAIT_OUTPUT),
				t0);
		} else if (working == 0) {
			blocked(s, what & RP_WAIT_INPUT, t0);
		}
		if (n < 0 && errno != EINTR)
			return -errno;
		if (r == 0)
			r = wait_ready(&a);
	} else {
		poll(fds, (nfds_t)nfds, 0);
	}
	if (r == 0 && n == 0 && supervisor_gone(s))
		return -EPIPE;
	return r;
}

int rp_stage_poll(struct rp_stage *s, unsigned what, struct pollfd *fds,
		  int nfds, int timeout_ms)
{
	struct wait_arg a = {s, what};
	struct pollfd p[17];
	int efd = rp_bell_eventfd(s->own), r, n;

	if (nfds < 0 || nfds > 16)
		return -EINVAL;
	if (timeout_ms < 0 || timeout_ms > 1000)
		timeout_ms = 1000;
	if (efd < 0)
		return poll_sliced(s, what, fds, nfds, timeout_ms);
	p[0].fd = efd;
	p[0].events = POLLIN;
	for (int i = 0; i < nfds; i++)
		p[i + 1] = fds[i];
	/* The bell protocol: announce, re-check, then sleep. */
	rp_bell_announce(s->own);
	rp_bell_park_begin(s->own);
	r = wait_ready(&a);
	if (r == 0 && timeout_ms != 0 && s->work_external) {
		/* Its program's time: blocked on input only while the
		 * program has nothing left to work on. */
		int64_t t0 = rp_now_ns();
		int idle = rp_ctl_status_get(s->tx, RP_CTL_WORD_WORKING) != 1;
		n = poll(p, (nfds_t)nfds + 1, timeout_ms);
		if (idle)
			blocked(s, what & RP_WAIT_INPUT, t0);
	} else if (r == 0 && timeout_ms != 0) {
		int64_t t0 = rp_now_ns();
		/* Waiting is not working (per-record timeouts). */
		uint64_t working = rp_ctl_status_get(s->tx,
						     RP_CTL_WORD_WORKING);
		rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 0);
		n = poll(p, (nfds_t)nfds + 1, timeout_ms);
		rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, working);
		blocked(s, what & (RP_WAIT_INPUT | RP_WAIT_OUTPUT), t0);
	} else {
		n = poll(p, (nfds_t)nfds + 1, 0);
	}
	if (n < 0)
		n = -errno;
	rp_bell_drain(s->own);
	rp_bell_park_end(s->own);
	rp_bell_retire(s->own);
	for (int i = 0; i < nfds; i++)
		fds[i].revents = p[i + 1].revents;
	if (n < 0 && n != -EINTR)
		return n;
	if (r == 0)
		r = wait_ready(&a);
	if (r == 0 && n == 0 && supervisor_gone(s))
		return -EPIPE;
	return r;
}

/* ---------------------------------------------------------------- input */

static int commit_pending(struct rp_stage *s, int last);
static int held_add(struct rp_stage *s, uint32_t len, const struct rp_meta *m);
static int wait_turn(struct rp_stage *s);
static int held_publish(struct rp_stage *s);

/* A record the supervisor quarantined: taken (it keeps its number), never
 * processed. */
static int skipped(const struct rp_stage *s, uint64_t seq)
{
	for (unsigned i = 0; i < s->nskip; i++)
		if (s->skip[i] == seq)
			return 1;
	return 0;
}

/* ringpipe chaos: a fault the supervisor sent is done here, on the
 * record just taken (the stage is working on it), as a parser that hostile
 * input broke would: hang, make a forbidden syscall, or scribble over its
 * shared memory and carry on.  Only a stage whose wiring armed it looks. */
static void chaos_point(struct rp_stage *s)
{
	struct timespec t = {3600, 0};
	uint64_t f;
	char what[64];

	if (s->fault == 0 && rp_ctl_ready(s->rx) > 0)
		rp_stage_control(s, NULL);
	if ((f = s->fault) == 0)
		return;
	s->fault = 0;
	switch (f & 0xff) {
	case RP_FAULT_HANG:
		fprintf(stderr, "chaos: hanging on record %llu\n",
			(unsigned long long)s->origin);
		for (;;)
			nanosleep(&t, NULL);
	case RP_FAULT_DENY: {
		long fd;
		fprintf(stderr, "chaos: socket() on record %llu\n",
			(unsigned long long)s->origin);
		fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		if (fd >= 0)
			close((int)fd); /* no filter denied it: policy none */
		break;
	}
	case RP_FAULT_CORRUPT:
		rp_stage_fault_scribble_random(s, f >> 8, what, sizeof(what));
		fprintf(stderr, "chaos: scribbled over %s on record %llu\n",
			what, (unsigned long long)s->origin);
		break;
	}
}

int rp_stage_peek(struct rp_stage *s, struct rp_record *r)
{
	uint64_t was = s->origin;
	struct rp_view v;
	int err;

	if (s->in == NULL)
		return -ENODATA;
	/* rp_stage_run takes the records: a callback that took the next
	 * one would declare its own record's outputs complete.  One
	 * reservation open: its record would get the next one's key. */
	if (s->in_callback || s->user_resv)
		return -EBUSY;
	/* A stage that takes input numbers its outputs by it: whatever an
	 * earlier incarnation made has an origin below what it can have
	 * taken (its point's count, and what waits in the input ring).
	 * Said to its consumer with its first record, if not committed
	 * yet, so a key pushed ahead before a crash is caught there. */
	if (!s->bound_said) {
		uint64_t ahead;
		s->bound_said = 1;
		if (s->out && !s->replica &&
		    rp_consumer_ahead_max(s->in, &ahead) == 0)
			rp_producer_set_restart_bound(s->out,
						      s->in_seq + ahead + 1);
	}
	/* The outputs of the previous record are complete: its last one
	 * goes out marked, under its own origin, before the next begins. */
	err = commit_pending(s, 1);
	if (err)
		return err;
	for (;;) {
		struct rp_keys prev;
		uint64_t seq, bound;
		err = rp_peek(s->in, &v);
		if (err == -EBUSY && s->replica) {
			/* A replica's claim is done: its outputs are out
			 * (above), so it lets go before claiming more. */
			err = rp_stage_release(s);
			if (err == 0)
				continue;
		}
		if (err == -EBADMSG)
			s->broken_side = 1;
		if (err == -ENODATA && !s->replica && s->origin != s->in_seq) {
			/* What it makes from here on (a total at the end)
			 * has the origin past its last record, sub-index 0
			 * on: the same key in a restart that finds its
			 * input all released, and so dropped downstream
			 * there if it had gone out, never lost. */
			s->origin = s->in_seq;
			s->sub = 0;
		}
		if (err == -ENODATA)
			s->in_ended = 1;
		/* No record to work on: what it does until the next (its
		 * end's work, a sleep) is no record's doing, whatever it
		 * has not released yet (a restart takes that again). */
		if ((err == -ENODATA || err == -EAGAIN) && !s->work_external)
			rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 0);
		if (err)
			return err;
		s->unreleased++;
		if (s->replica) {
			/* A replica numbers nothing: its records' place in
			 * the input ring is their key, unique and in order,
			 * and what the supervisor quarantines by.  It counts
			 * what it takes, once: a claim its earlier
			 * incarnation held comes again. */
			s->retaken = v.pos < s->after;
			if (!s->retaken)
				s->in_seq++;
			s->origin = v.pos;
			s->turn = 0;
			/* Its count of what it took, for its restart: what
			 * it had not released goes to a sibling. */
			rp_ctl_status_set(s->tx, RP_CTL_WORD_INPUT_SEQ,
					  s->in_seq);
			if (skipped(s, v.pos))
				continue;
			break;
		}
		/* The commit point a release just before this record would
		 * store (for a hold on it). */
		s->cur_pos = v.pos;
		s->cur_ck.seq = s->in_seq;
		rp_keys_store(&s->key, &s->cur_ck);
		memcpy(s->cur_ck.user, s->words, sizeof(s->cur_ck.user));
		if (s->line_place)
			s->cur_ck.user[0] = s->last_type == RP_T_PIECE;
		/* A replay of what we already took (our producer restarted
		 * and is deterministic): dropped, released with the rest.
		 * Outside a restart's replays, a key that went back. */
		prev = s->key;
		bound = (v.flags & RP_REC_F_RESTART)
				? rp_consumer_restart_bound(s->in, v.pos)
				: 0;
		err = rp_keys_step(&s->key, s->dedup, s->dedup_any, v.origin,
				   v.sub, v.flags, bound);
		if (err < 0 && (v.flags & RP_REC_F_RESTART)) {
			fprintf(stderr, "the key of the last input record it "
				"took, %llu.%u, is past anything its restarted "
				"producer made before (origins below %llu)\n",
				(unsigned long long)prev.origin, prev.sub,
				(unsigned long long)bound);
		} else if (err < 0) {
			fprintf(stderr, "the key of its input record went "
				"back from %llu.%u to %llu.%u, with no restart "
				"of its producer in between\n",
				(unsigned long long)prev.origin, prev.sub,
				(unsigned long long)v.origin, v.sub);
		}
		if (err < 0) {
			s->broken_side = 1;
			return err;
		}
		if (err == 0) {
			s->dups++;
			continue;
		}
		seq = s->in_seq++;
		if (!skipped(s, seq)) {
			s->origin = seq;
			break;
		}
		/* Quarantined, so it makes nothing; with nothing taken before
		 * it still unreleased (or under rp_stage_run, where what was
		 * taken before is done with), it goes at once: the commit
		 * point moves past it, and the supervisor's list of records
		 * to skip stays short however many poison records come in a
		 * row (a replay of still-poison ones). */
		if ((s->unreleased == 1 || s->run_loop) && !s->held &&
		    !s->pending && !s->user_resv &&
		    (err = rp_stage_release(s)) != 0)
			return err;
	}
	r->data = v.data;
	r->len = v.len;
	r->type = v.type;
	r->flags = v.flags & RP_REC_F_LAST; /* the ring's own are its own */
	r->origin = v.origin;
	r->sub = v.sub;
	s->last_type = v.type;
	/* Its outputs' sub-indexes start over, but after outputs made
	 * before its first record (a header), which had that record's
	 * origin (0; a replica's record at ring position 0 too): they go
	 * on from those, so no key comes twice (a restart makes the header
	 * again under the same key, dropped as a repeat once its consumer
	 * is past it, as is a second copy's). */
	if (s->origin != was)
		s->sub = 0;
	/* Where the supervisor looks for the record a crash happened on. */
	rp_ctl_status_set(s->tx, RP_CTL_WORD_CURRENT, s->origin + 1);
	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 1);
	if (s->chaos_gen != 0)
		chaos_point(s);
	return 0;
}

/* --------------------------------------------------------------- output */

/* A replica's reservation or commit (reserve: 1), under the lock its
 * copies share: waiting for that lock is not working on the record
 * (the supervisor kills a holder that keeps it). */
static int locked(struct rp_stage *s, int reserve, uint32_t len,
		  const struct rp_meta *m, void **buf)
{
	uint64_t working = rp_ctl_status_get(s->tx, RP_CTL_WORD_WORKING);
	int err;

	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 0);
	err = reserve ? rp_reserve(s->out, len, buf)
		      : rp_commit(s->out, len, m);
	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, working);
	return err;
}

/* ---------------------------------------------- a replica's held outputs */

/* A replica's outputs wait in its own memory until its claim is done,
 * at most HELD_MAX bytes (past that they go out, and the rest of the
 * record's directly), and then go out in as few reservations as the
 * largest record allows: one lock round trip and one wake-up for many.
 * Ordered, they wait for the copy's turn: the copies do their work side
 * by side, and only publishing goes in turn.  A copy that dies with
 * outputs held has published none of them; its claim goes to another
 * copy, which makes them again. */
#define HELD_MAX (1u << 20)

static int held_reserve(struct rp_stage *s, uint32_t len, void **buf)
{
	if (s->hb_len + len > HELD_MAX)
		return -ENOSPC;
	if (s->hb_len + len > s->hb_cap) {
		size_t cap = s->hb_cap ? s->hb_cap : 4096;
		unsigned char *nb;
		while (cap < s->hb_len + len)
			cap *= 2;
		if ((nb = realloc(s->hb, cap)) == NULL)
			return -ENOMEM;
		s->hb = nb;
		s->hb_cap = cap;
	}
	*buf = s->hb + s->hb_len;
	return 0;
}

/* The output reserved at hb + hb_len is complete: held with its meta. */
static int held_add(struct rp_stage *s, uint32_t len, const struct rp_meta *m)
{
	if (s->nho == s->cho) {
		size_t n = s->cho ? s->cho * 2 : 64;
		struct held_out *no = realloc(s->ho, n * sizeof(*no));
		if (no == NULL)
			return -ENOMEM;
		s->ho = no;
		s->cho = n;
	}
	s->ho[s->nho++] = (struct held_out){s->hb_len, len, *m};
	s->hb_len += len;
	return 0;
}

/* Held outputs, and the pending one or a reservation among them, are
 * given up (the stage ends without publishing them). */
static void held_drop(struct rp_stage *s)
{
	s->nho = 0;
	s->hb_len = 0;
	s->resv_held = s->pending_held = 0;
}

/* Commit the pending output; last says whether its origin is complete. */
static int commit_pending(struct rp_stage *s, int last)
{
	struct rp_meta m = {.origin = s->origin, .sub = s->sub,
			    .type = s->pending_type,
			    .flags = last ? RP_REC_F_LAST : 0};
	int err;

	if (!s->pending)
		return 0;
	s->pending = 0;
	if (s->pending_held) {
		s->pending_held = 0;
		err = held_add(s, s->pending_len, &m);
	} else {
		err = s->replica ? locked(s, 0, s->pending_len, &m, NULL)
				 : rp_commit(s->out, s->pending_len, &m);
	}
	s->sub++;
	return err;
}

int rp_stage_flush(struct rp_stage *s)
{
	/* Only what is committed: whether the held record is its origin's
	 * last is not known here (rp_emit_end_origin says so). */
	return s->out ? rp_flush(s->out) : 0;
}

int rp_emit_end_origin(struct rp_stage *s)
{
	/* Inside rp_stage_run's callback the record's outputs are not
	 * done until it returns: one sent on now would stay out if the
	 * record were then refused, or the stage died on it. */
	if (s->in_callback)
		return -EBUSY;
	if (!s->pending)
		return -EINVAL;
	return commit_pending(s, 1);
}

int rp_stage_release(struct rp_stage *s)
{
	struct rp_ckpt ck;

	/* rp_stage_run releases after the callback: inside it, a release
	 * would publish a record's outputs before all are made, and let go
	 * of the record a crash must find again. */
	if (s->in_callback)
		return -EBUSY;
	/* An output still being written comes of what would be let go: a
	 * crash after the release would lose it. */
	if (s->user_resv)
		return -EBUSY;
	/* The records being released have all their outputs: the last
	 * one goes out marked, and before the input is let go (a source's
	 * last record is complete too, and goes out). */
	int err = commit_pending(s, 1);

	/* A replica's held outputs go out (ordered: in its turn), before
	 * the input they came from; not while one more is being written
	 * among them. */
	if (!err && s->resv_held)
		err = -EBUSY;
	if (!err && s->nho > 0)
		err = s->ordered ? wait_turn(s) : held_publish(s);
	if (!err)
		err = rp_stage_flush(s);

	if (err || s->in == NULL || (s->unreleased == 0 && !s->save_pending))
		return err;
	/* Held: only what comes before the held record goes, with the
	 * point that record would resume from - unless what is held fills
	 * half the ring, when its producer may wait for room we would never
	 * give (a line that long is not held). */
	if (s->held && rp_consumer_position(s->in) - s->hold_pos <=
			       rp_consumer_capacity(s->in) / 2) {
		err = rp_release_ckpt_upto(s->in, s->hold_pos, &s->hold_ck);
		if (!err)
			rp_ctl_status_set(s->tx, RP_CTL_WORD_INPUT_SEQ,
					  s->hold_ck.seq);
		s->unreleased = 1; /* the held ones, for a later release */
		return err;
	}
	if (s->held) {
		/* Given up: a crash now would resume inside what was held.
		 * Said, so the report does not claim exactly-once - once for
		 * each thing held (a line the stage goes on holding, record
		 * after record, is one). */
		if (!s->gave_up)
			rp_ctl_status_set(
				s->tx, RP_CTL_WORD_UNHELD,
				rp_ctl_status_get(s->tx, RP_CTL_WORD_UNHELD) +
					1);
		s->gave_up = 1;
		s->gave_up_pos = s->hold_pos;
		s->held = 0;
	}
	/* Outputs first (above), then the input with its commit point. */
	ck.seq = s->in_seq;
	rp_keys_store(&s->key, &ck);
	memcpy(ck.user, s->words, sizeof(ck.user));
	if (s->line_place)
		ck.user[0] = s->last_type == RP_T_PIECE;
	err = rp_release_ckpt(s->in, &ck);
	if (!err) {
		s->unreleased = 0;
		s->save_pending = 0;
		rp_ctl_status_set(s->tx, RP_CTL_WORD_INPUT_SEQ, s->in_seq);
		/* Every record it took is let go: what it does until the
		 * next one (an idle loop's sleep, a last error) is not
		 * that record's doing. */
		if (!s->work_external)
			rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 0);
	}
	return err;
}

/* Room in the output ring for len bytes, waiting for it. */
static int out_reserve(struct rp_stage *s, uint32_t len, void **buf)
{
	int err;

	while ((err = s->replica ? locked(s, 1, len, NULL, buf)
				 : rp_reserve(s->out, len, buf)) == -EAGAIN) {
		int r = cancel_point(s);
		if (r)
			return -ECANCELED;
		r = rp_stage_wait(s, RP_WAIT_OUTPUT | RP_WAIT_CONTROL, SEC);
		if (r < 0 && r != -ETIMEDOUT)
			return r;
	}
	if (err == -EBADMSG)
		s->broken_side = 2;
	return err;
}

/* The held outputs go out, in order, as few reservations as the largest
 * record allows (one lock round trip and one wake-up each).  Publishing
 * is not working on a record. */
static int held_publish(struct rp_stage *s)
{
	uint64_t working = rp_ctl_status_get(s->tx, RP_CTL_WORD_WORKING);
	uint64_t lim = rp_rec_size(rp_producer_max_record(s->out));
	size_t i = 0, done = 0;
	int err = 0;

	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 0);
	while (i < s->nho && err == 0) {
		uint64_t size = 0;
		size_t j = i;
		while (j < s->nho && size + rp_rec_size(s->ho[j].len) <= lim)
			size += rp_rec_size(s->ho[j++].len);
		while ((err = rp_reserve_batch(s->out, size)) == -EAGAIN) {
			if (cancel_point(s)) {
				err = -ECANCELED;
				break;
			}
			err = rp_stage_wait(s, RP_WAIT_OUTPUT | RP_WAIT_CONTROL,
					    SEC);
			if (err < 0 && err != -ETIMEDOUT)
				break;
		}
		if (err == -EBADMSG)
			s->broken_side = 2;
		if (err)
			break;
		for (; i < j && err == 0; i++)
			err = rp_batch_put(s->out, s->hb + s->ho[i].off,
					   s->ho[i].len, &s->ho[i].m);
		if (err == 0)
			err = rp_batch_commit(s->out);
		if (err == -EBADMSG)
			s->broken_side = 2;
		if (err) {
			rp_abandon(s->out);
			i = done;
		}
		done = i;
	}
	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, working);
	/* What went out is gone from here (offsets stay as they are). */
	memmove(s->ho, s->ho + done, (s->nho - done) * sizeof(*s->ho));
	s->nho -= done;
	if (s->nho == 0)
		s->hb_len = 0;
	return err;
}

/* An ordered replica publishes its claim's outputs only once every
 * record before it has been released by its sibling: then those it held
 * go out, in order. */
static int wait_turn(struct rp_stage *s)
{
	int r;

	while ((r = rp_consumer_my_turn(s->in)) == 0) {
		if (cancel_point(s))
			return -ECANCELED;
		if (s->out && (r = rp_producer_ready(s->out, 0)) < 0)
			return r; /* -EPIPE: the stage after us is done */
		r = rp_stage_wait(s, WAIT_TURN | RP_WAIT_CONTROL, SEC);
		if (r < 0 && r != -ETIMEDOUT)
			return r;
	}
	if (r == -EBADMSG)
		s->broken_side = 1;
	if (r < 0)
		return r;
	s->turn = 1;
	return held_publish(s);
}

int rp_emit_reserve(struct rp_stage *s, uint32_t len, void **buf)
{
	int err;

	*buf = NULL;
	if (s->out == NULL)
		return -EDESTADDRREQ; /* the last stage: nothing reads it */
	if (s->user_resv)
		return -EBUSY;
	if (len > rp_producer_max_record(s->out)) {
		/* Said with the sizes if the stage fails of it (a program
		 * may cut the record up instead). */
		s->too_big = len;
		return -EMSGSIZE;
	}
	if (s->replica && s->ordered && s->in_ended) {
		/* Its key would be the last record it took: behind what its
		 * siblings published since, so dropped downstream as a
		 * replay.  Said, rather than lost without a word. */
		fprintf(stderr, "it emitted a record after its input ended: "
			"as one of several ordered copies (replicas) it has "
			"no place in the order (a stage that keeps state "
			"across records runs as one copy, or with ordered: "
			"false)\n");
		s->no_restart = 1;
		return -ENOTSUP;
	}
	if (s->source && !s->same_origin) {
		/* A new origin: the previous one is complete. */
		err = commit_pending(s, 1);
		if (err)
			return err;
		if (s->pending == 0 && s->sub != 0) {
			s->origin++;
			s->sub = 0;
		}
	} else {
		err = commit_pending(s, 0);
		if (err)
			return err;
	}
	s->same_origin = 0;
	if (s->replica && !s->turn) {
		/* A replica's outputs are held until its claim is done (see
		 * held_reserve); past HELD_MAX they go out (ordered: in its
		 * turn), and the rest of the record's directly. */
		err = held_reserve(s, len, buf);
		if (err == 0) {
			s->user_resv = s->resv_held = 1;
			s->resv_held_len = s->resv_len = len;
			s->resv_buf = *buf;
			return 0;
		}
		if (err != -ENOSPC ||
		    (err = s->ordered ? wait_turn(s) : held_publish(s)) != 0)
			return err;
		s->turn = 1;
	}
	if ((err = out_reserve(s, len, buf)))
		return err;
	s->user_resv = 1;
	/* A source's count of what it made, the record being made among
	 * them (rp_stage_run_source says the same after each call; a loop
	 * of its own has it too). */
	if (s->source)
		s->in_seq = s->origin + 1;
	s->resv_len = len;
	s->resv_buf = *buf;
	return 0;
}

/* A replica's reservation in the ring copies share is a claim that must
 * stay exact: committed shorter, the rest is padded, and a rest shorter
 * than a record header cannot be.  Then the record is reserved again at
 * its length and its bytes moved there. */
static int shrink_claim(struct rp_stage *s, uint32_t len)
{
	uint64_t rest = rp_rec_size(s->resv_len) - rp_rec_size(len);
	void *tmp, *dst;
	int err;

	if (!s->replica || s->resv_held || rest == 0 ||
	    rest >= sizeof(struct rp_rec_hdr))
		return 0;
	if ((tmp = malloc(len ? len : 1)) == NULL)
		return -ENOMEM;
	memcpy(tmp, s->resv_buf, len);
	rp_abandon(s->out);
	s->user_resv = 0;
	err = out_reserve(s, len, &dst);
	if (err == 0) {
		memcpy(dst, tmp, len);
		s->user_resv = 1;
		s->resv_len = len;
		s->resv_buf = dst;
	}
	free(tmp);
	return err;
}

int rp_emit_commit(struct rp_stage *s, uint32_t len)
{
	int err;

	/* (Longer than reserved: said now, of this record, not later of
	 * none.) */
	if (!s->user_resv || len > s->resv_len)
		return -EINVAL;
	if ((err = shrink_claim(s, len)))
		return err;
	s->user_resv = 0;
	s->pending = 1;
	s->pending_held = s->resv_held;
	s->resv_held = 0;
	s->pending_len = len;
	s->pending_type = RP_REC_T_DATA;
	return 0;
}

int rp_emit_type(struct rp_stage *s, uint16_t type)
{
	if (!s->pending || (type != RP_REC_T_DATA && type < RP_REC_T_USER))
		return -EINVAL;
	s->pending_type = type;
	return 0;
}

int rp_emit(struct rp_stage *s, const void *buf, uint32_t len)
{
	void *dst;
	int err = rp_emit_reserve(s, len, &dst);

	if (err)
		return err;
	memcpy(dst, buf, len);
	return rp_emit_commit(s, len);
}

void rp_emit_same_origin(struct rp_stage *s)
{
	s->same_origin = 1;
}

/* ------------------------------------------------------- crash recovery */

int rp_stage_save(struct rp_stage *s, const uint64_t *words, unsigned n)
{
	struct rp_ckpt ck;
	int err;

	if (n > RP_STAGE_STATE_WORDS || s->user_resv)
		return -EINVAL;
	memset(s->words, 0, sizeof(s->words));
	memcpy(s->words, words, n * sizeof(*words));
	s->save_pending = s->in != NULL && !s->replica;
	if (s->in != NULL || s->out == NULL)
		return 0; /* stored with the next release */
	/* A source: its current origin is complete; the point is saved
	 * once the records up to here are published. */
	if ((err = commit_pending(s, 1)))
		return err;
	memset(&ck, 0, sizeof(ck));
	ck.seq = s->origin + (s->sub != 0);
	memcpy(ck.user, s->words, sizeof(ck.user));
	rp_producer_set_ckpt(s->out, &ck);
	return 0;
}

int rp_stage_restored(const struct rp_stage *s, uint64_t *words, unsigned n)
{
	if (n > RP_STAGE_STATE_WORDS)
		n = RP_STAGE_STATE_WORDS;
	/* Those of the point it started from, whatever it saved since. */
	memcpy(words, s->start_words, n * sizeof(*words));
	return s->restored;
}

void rp_stage_set_work(struct rp_stage *s, uint64_t current, int working,
		       uint64_t progress)
{
	s->work_external = 1;
	rp_ctl_status_set(s->tx, RP_CTL_WORD_CURRENT, current);
	rp_ctl_status_set(s->tx, RP_CTL_WORD_PROGRESS, progress);
	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING,
			  working == 2 ? 2 : working ? 1 : 0);
}

uint32_t rp_stage_incarnation(const struct rp_stage *s)
{
	return s->incarnation;
}

void rp_stage_set_note(struct rp_stage *s, uint64_t v)
{
	/* (Not where copies share the page: it would not be its own.) */
	if (s->out && !(s->out->m.flags & RP_RING_F_MP_PRODUCERS))
		rp_producer_set_note(s->out, v);
}

uint64_t rp_stage_note(const struct rp_stage *s)
{
	return s->out ? rp_producer_note(s->out) : 0;
}

void rp_stage_keep_line_place(struct rp_stage *s)
{
	if (s->in != NULL && !s->replica)
		s->line_place = 1;
}

void rp_stage_record_done(struct rp_stage *s)
{
	rp_ctl_status_set(s->tx, RP_CTL_WORD_WORKING, 0);
}

int rp_stage_hold(struct rp_stage *s)
{
	if (s->in == NULL || s->unreleased == 0)
		return -EINVAL;
	/* Replicas release whole claims: nothing to hold back. */
	if (rp_consumer_flags(s->in) & RP_RING_F_MP_CONSUMERS)
		return 0;
	if (!s->held) {
		s->held = 1;
		s->hold_pos = s->cur_pos;
		s->hold_ck = s->cur_ck;
	}
	return 0;
}

void rp_stage_unhold(struct rp_stage *s)
{
	s->held = 0;
	s->gave_up = 0;
}

void rp_stage_mark(const struct rp_stage *s, struct rp_stage_mark *m)
{
	m->pos = s->cur_pos;
	m->ck = s->cur_ck;
}

void rp_stage_hold_at(struct rp_stage *s, const struct rp_stage_mark *m)
{
	/* Replicas release whole claims: nothing to hold back. */
	if (s->in == NULL ||
	    (rp_consumer_flags(s->in) & RP_RING_F_MP_CONSUMERS))
		return;
	if (s->gave_up && m->pos != s->gave_up_pos)
		s->gave_up = 0;
	s->held = 1;
	s->hold_pos = m->pos;
	s->hold_ck = m->ck;
}

uint64_t rp_stage_in_position(const struct rp_stage *s)
{
	return s->in ? rp_consumer_position(s->in) : 0;
}

uint32_t rp_stage_in_capacity(const struct rp_stage *s)
{
	return s->in ? rp_consumer_capacity(s->in) : 0;
}

/* What was reserved and not published goes: the ring's reservation
 * is given back, the held outputs dropped. */
static void drop_unpublished(struct rp_stage *s)
{
	if ((s->user_resv && !s->resv_held) || (s->pending && !s->pending_held))
		rp_abandon(s->out);
	s->user_resv = s->pending = 0;
	held_drop(s);
}

int rp_stage_finish_poison(struct rp_stage *s, uint64_t seq, int sig,
			   unsigned attempts, const char *how)
{
	drop_unpublished(s);
	rp_stage_flush(s);
	rp_ctl_status_set(s->tx, RP_CTL_WORD_CURRENT, seq + 1);
	rp_ctl_send(s->tx, RP_CTL_POISON, RP_REASON_NONE, seq, attempts, sig,
		    how, SEC);
	rp_stage_close(s);
	return RP_EXIT_POISON;
}

uint64_t rp_stage_duplicates(const struct rp_stage *s)
{
	return s->dups;
}

/* ------------------------------------------------------------ finishing */

int rp_stage_finish(struct rp_stage *s, int error, int cancel_reason)
{
	uint32_t kind = RP_CTL_DONE, reason = RP_REASON_EOF;
	int code = RP_EXIT_OK;

	/* rp_stage_run finishes when its callback returns (RP_STOP ends
	 * it early): the stage is still in use until then. */
	if (s->in_callback) {
		fprintf(stderr, "rp_stage_finish called inside rp_stage_run's "
			"callback: refused (return RP_STOP to end early)\n");
		return -EBUSY;
	}
	/* A cancel it was not sent, or a reason no cancel has, is an
	 * error of its own: said, not passed off as a cancel. */
	if (cancel_reason < 0 || cancel_reason > (int)RP_REASON_SHUTDOWN ||
	    (cancel_reason > 0 && s->cancel == 0)) {
		fprintf(stderr, "rp_stage_finish: cancel reason %d, but %s\n",
			cancel_reason,
			cancel_reason < 0 || cancel_reason > (int)RP_REASON_SHUTDOWN
				? "there is no such reason"
				: "no cancel came (rp_stage_control says when "
				  "one has)");
		cancel_reason = 0;
		if (!error)
			error = -EINVAL;
	}

	if (s->user_resv) {
		if (!s->resv_held)
			rp_abandon(s->out);
		s->user_resv = s->resv_held = 0;
	}
	/* An emit refused for good (after the input of ordered copies
	 * ended), which the program let pass: its record went nowhere. */
	if (!error && cancel_reason <= 0 && s->no_restart)
		error = -ENOTSUP;
	if (cancel_reason > 0) {
		/* Cancelled: what was produced is not a complete stream, so
		 * the output is not ended (downstream is cancelled too). */
		drop_unpublished(s);
		rp_stage_flush(s);
		reason = (uint32_t)cancel_reason;
		code = RP_EXIT_CANCELLED_BASE + cancel_reason;
	} else if (error) {
		/* A bare "Message too long" tells the author nothing to
		 * change. */
		if (error == -EMSGSIZE && s->too_big && s->out)
			fprintf(stderr, "it emitted a record of %u bytes; its "
				"output ring takes %u at most (give the stage "
				"a larger ring:, or cut the record up)\n",
				s->too_big, rp_producer_max_record(s->out));
		drop_unpublished(s);
		rp_stage_flush(s);
		kind = error == -EBADMSG ? RP_CTL_VIOLATION : RP_CTL_ERROR;
		reason = RP_REASON_NONE;
		code = error == -EBADMSG ? RP_EXIT_VIOLATION : RP_EXIT_ERROR;
		/* An emit with no output ring, or one after the input of
		 * ordered copies ended: it would do so again. */
		if (error == -EDESTADDRREQ || s->no_restart)
			code = RP_EXIT_NO_RESTART;
		if (error == -EPIPE && supervisor_gone(s)) {
			code = RP_EXIT_SUPERVISOR;
		} else if (error == -EPIPE && s->out &&
			   rp_producer_ready(s->out, 0) == -EPIPE) {
			/* Its consumer finished early: a normal end. */
			kind = RP_CTL_DONE;
			code = RP_EXIT_OUTPUT_CLOSED;
		}
	} else {
		/* The input is done with, held or not. */
		s->held = 0;
		commit_pending(s, 1);
		rp_stage_release(s);
		if (s->out)
			rp_producer_end(s->out);
	}
	/* A violation says which ring was broken: the supervisor blames the
	 * only side that can write what was found broken.  Done, it says
	 * whether it ended before its input did (head, RP_STOP): what was
	 * written to it after that went unread, which the report says. */
	rp_ctl_send(s->tx, kind, reason, s->in_seq,
		    kind == RP_CTL_VIOLATION ? (uint64_t)s->broken_side
		    : kind != RP_CTL_DONE || reason != RP_REASON_EOF ? 0
		    : s->ended_early		  ? RP_CTL_DONE_UNREAD
		    : !rp_stage_input_done(s)	  ? RP_CTL_DONE_EARLY
						  : 0,
		    error, NULL, SEC);
	rp_stage_close(s);
	return code;
}

/* ---------------------------------------------------------------- loops */

/* A wait in a peek, a release or a commit (a replica's turn, room in the
 * output) that a cancel ended is that cancel, not a failure. */
static int finish_err(struct rp_stage *s, int err)
{
	if (err == -ECANCELED && s->cancel)
		return rp_stage_finish(s, 0, (int)s->cancel);
	return rp_stage_finish(s, err, 0);
}

int rp_stage_refuse(struct rp_stage *s, const char *why)
{
	if (!s->in_callback)
		return -EINVAL; /* there is no record of rp_stage_run's */
	if (why == NULL)
		why = "";
	/* All of why here, its start in the control record. */
	fprintf(stderr, "refused %s %llu: %s\n",
		s->replica ? "the record at input byte" : "record",
		(unsigned long long)s->cb_origin, why);
	snprintf(s->refusal, sizeof(s->refusal), "%s", why);
	s->refused = 1;
	return RP_REFUSE;
}

/* The callback refused its record: what it emitted for it goes (none of
 * it was published, rp_stage_whole_outputs: but for the outputs of a
 * record that filled the output ring), and so does what is committed
 * and not published before it; the supervisor is told
 * which record (its quarantine) before the stage ends.  Its restart goes
 * on past it; the records before it not yet released come again, and
 * their outputs are dropped downstream as replays, as after a crash. */
static int refuse(struct rp_stage *s)
{
	/* The callback's record (which no peek can have moved on). */
	uint64_t rec = s->cb_origin;
	int gone_on = s->out && !s->replica &&
		      rp_producer_gave_up_whole(s->out);

	drop_unpublished(s);
	/* Nothing more goes out: what is committed and not published
	 * (the refused record's outputs, and those of the records before
	 * it) is made again by the restart, which takes those records
	 * again. */
	if (s->out && !s->replica)
		rp_producer_drop_unpublished(s->out);
	rp_ctl_status_set(s->tx, RP_CTL_WORD_CURRENT, rec + 1);
	/* (arg1: some of its outputs had gone on, for the reason.) */
	rp_ctl_send(s->tx, RP_CTL_REFUSED, RP_REASON_NONE, rec,
		    gone_on ? 1 : 0, 0, s->refusal, SEC);
	rp_stage_close(s);
	return RP_EXIT_REFUSED;
}

void rp_stage_whole_outputs(struct rp_stage *s)
{
	if (s->out != NULL && s->in != NULL)
		rp_producer_set_whole(s->out, 1);
}

int rp_stage_run(struct rp_stage *s, rp_process_fn fn, void *arg)
{
	struct rp_record r;
	int err, c;

	if (s->in == NULL) {
		fprintf(stderr, "%s: a stage without input needs "
				"rp_stage_run_source\n", s->name);
		return rp_stage_finish(s, -EINVAL, 0);
	}
	rp_stage_whole_outputs(s);
	s->run_loop = 1;
	for (;;) {
		if ((c = cancel_point(s)))
			return rp_stage_finish(s, 0, c);
		err = rp_stage_peek(s, &r);
		if (err == 0) {
			int ret;
			s->cb_origin = s->origin;
			s->in_callback = 1;
			ret = fn(s, &r, arg);
			s->in_callback = 0;
			/* Only 0, RP_STOP, a refusal's RP_REFUSE or an
			 * error mean anything: another value is a mistake,
			 * said, not taken for "go on". */
			if (ret > 0 && ret != RP_STOP &&
			    !(ret == RP_REFUSE && s->refused)) {
				fprintf(stderr, "its callback returned %d on "
					"record %llu: not 0, RP_STOP, what "
					"rp_stage_refuse returned or a "
					"negative errno\n",
					ret, (unsigned long long)s->cb_origin);
				ret = -EINVAL;
			}
			/* A reservation left open is this record's mistake,
			 * said here, not the next record's -EBUSY. */
			if (s->user_resv) {
				if (!s->resv_held)
					rp_abandon(s->out);
				s->user_resv = s->resv_held = 0;
				if (ret >= 0 && !s->refused) {
					fprintf(stderr, "its callback left a "
						"reservation uncommitted "
						"(rp_emit_reserve without "
						"rp_emit_commit) on record "
						"%llu\n",
						(unsigned long long)
							s->cb_origin);
					ret = -EINVAL;
				}
			}
			/* A failure is the record's, for the supervisor, as a
			 * crash on it would be: it stays the one worked on.
			 * -EAGAIN says it is not (a service it needs is
			 * down): a restart tries the record again. */
			if (ret < 0 && ret != -EAGAIN && !s->refused &&
			    !(ret == -ECANCELED && s->cancel))
				return rp_stage_finish(s, ret, 0);
			rp_stage_record_done(s);
			/* (A cancel that came meanwhile wins: what it
			 * emitted for the record is dropped either way.)
			 * A refusal the callback did not pass on, or
			 * followed with an error, is a refusal all the
			 * same: it was said. */
			if (s->refused && !(ret == -ECANCELED && s->cancel))
				return s->cancel ? rp_stage_finish(s, 0,
								   (int)s->cancel)
						 : refuse(s);
			if (ret == -ECANCELED && s->cancel)
				return rp_stage_finish(s, 0, (int)s->cancel);
			if (ret < 0)
				return rp_stage_finish(s, ret, 0);
			if ((err = commit_pending(s, 1)))
				return finish_err(s, err);
			/* What this record made goes out now to a consumer
			 * that waits, not after the next record, which may
			 * take long (a commit feeds a waiting consumer once
			 * per wait). */
			if (s->out != NULL && (err = rp_flush_waited(s->out)))
				return finish_err(s, err);
			if (ret == RP_STOP)
				return rp_stage_finish(s, 0, 0);
			if (s->unreleased >= RELEASE_EVERY &&
			    (err = rp_stage_release(s)))
				return finish_err(s, err);
			continue;
		}
		if (err == -ENODATA)
			return rp_stage_finish(s, 0, 0);
		if (err != -EAGAIN)
			return finish_err(s, err);
		/* Nothing to read: hand back what was read and published,
		 * then sleep until the input or the supervisor speaks. */
		if ((err = rp_stage_release(s)))
			return finish_err(s, err);
		if (s->draining)
			return rp_stage_finish(s, 0, 0);
		err = rp_stage_wait(s, RP_WAIT_INPUT | RP_WAIT_CONTROL, SEC);
		if (err < 0 && err != -ETIMEDOUT)
			return rp_stage_finish(s, err, 0);
	}
}

int rp_stage_run_source(struct rp_stage *s, rp_produce_fn fn, void *arg)
{
	int c;

	if (s->out == NULL || !s->source) {
		fprintf(stderr, "%s: %s\n", s->name,
			s->out == NULL ? "a source needs an output ring"
				       : "a stage with an input takes it with "
					 "rp_stage_run, not "
					 "rp_stage_run_source");
		return rp_stage_finish(s, -EINVAL, 0);
	}
	for (;;) {
		int r;
		if ((c = cancel_point(s)))
			return rp_stage_finish(s, 0, c);
		if (s->draining)
			return rp_stage_finish(s, 0, 0);
		r = fn(s, arg);
		if (r == -ECANCELED && s->cancel)
			return rp_stage_finish(s, 0, (int)s->cancel);
		if (r < 0)
			return rp_stage_finish(s, r, 0);
		/* (As rp_stage_run does after each record.) */
		rp_flush_waited(s->out);
		/* A source's input position is its own record count (also
		 * after a last call that made records and said it is done:
		 * its final count has them).  (Not said in its status word
		 * as it goes: a restart numbers from that word.) */
		s->in_seq = s->origin + (s->pending || s->sub ? 1 : 0);
		if (r == 0)
			return rp_stage_finish(s, 0, 0);
	}
}

static uint64_t mix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int rp_stage_fault_scribble_random(struct rp_stage *s, uint64_t seed,
				   char *what, size_t len)
{
	static const char *const names[] = {
		"its output ring's producer page", "its output ring's records",
		"its input ring's consumer page",
		"its control ring's producer page",
		"its control ring's records"};
	struct rp_producer *ctl = rp_ctl_tx_producer(s->tx);
	uint64_t x = seed, v = mix(&x);
	unsigned char *base = NULL;
	size_t size = 0, off;
	int which = (int)(mix(&x) % 5);

	/* The first of the five, from the drawn one on, that it has. */
	for (int tries = 0; base == NULL && tries < 5; tries++) {
		switch (which) {
		case 0:
			if (s->out) {
				base = (unsigned char *)s->out->m.sh_p;
				size = sizeof(struct rp_ring_pside);
			}
			break;
		case 1:
			if (s->out) {
				base = s->out->m.sh_data;
				size = s->out->m.cap;
			}
			break;
		case 2:
			if (s->in) {
				base = (unsigned char *)s->in->m.sh_c;
				size = sizeof(struct rp_ring_cside);
			}
			break;
		case 3:
			base = (unsigned char *)ctl->m.sh_p;
			size = sizeof(struct rp_ring_pside);
			break;
		default:
			base = ctl->m.sh_data;
			size = ctl->m.cap;
			break;
		}
		if (base == NULL)
			which = (which + 1) % 5;
	}
	/* Where it hurts, mostly: a page's cursor line, or the records
	 * just published (not yet read, or being read). */
	if (mix(&x) % 4 != 0) {
		uint64_t back = 8 * (1 + mix(&x) % 32);
		if (which == 1)
			off = (s->out->pub_tail - back) & (s->out->m.cap - 1);
		else if (which == 4)
			off = (ctl->pub_tail - back) & (ctl->m.cap - 1);
		else
			off = (mix(&x) % 8) * 8;
	} else {
		off = (mix(&x) % (size / 8)) * 8;
	}
	memcpy(base + off, &v, sizeof(v));
	snprintf(what, len, "%s", names[which]);
	if (s->out)
		rp_bell_ring(s->out->peer);
	if (s->in)
		rp_bell_ring(s->in->peer);
	rp_bell_ring(s->sup);
	return which;
}

/* For the fault stage only (stage_fault.h). */
void rp_stage_fault_key_ahead(struct rp_stage *s, uint64_t n)
{
	s->origin += n;
}

/* For the fault stage only (stage_fault.h). */
int rp_stage_fault_publish(struct rp_stage *s)
{
	int err = s->pending ? commit_pending(s, 1) : 0;

	return err ? err : rp_stage_flush(s);
}

/* For the fault stage only (stage_fault.h). */
int rp_stage_fault_head_back(struct rp_stage *s)
{
	if (s->in == NULL)
		return -EPIPE;
	rp_store64_release(&s->in->m.sh_c->c_head, 0);
	return 0;
}

/* For the fault stage only (stage_fault.h). */
int rp_stage_fault_head_ahead(struct rp_stage *s)
{
	if (s->in == NULL)
		return -EPIPE;
	rp_store64_release(&s->in->m.sh_c->c_head,
			   rp_load64_acquire(&s->in->m.sh_p->p_tail) +
				   2 * (uint64_t)s->in->m.cap);
	return 0;
}

/* For the fault stage only (stage_fault.h). */
int rp_stage_fault_ctl_end(struct rp_stage *s)
{
	struct rp_producer *ctl = rp_ctl_tx_producer(s->tx);

	if (ctl == NULL)
		return -EPIPE;
	rp_store32_release(&ctl->m.sh_p->p_closed, 1);
	rp_bell_ring(s->sup);
	return 0;
}

/* For the fault stage only (stage_fault.h). */
int rp_stage_fault_refuse(struct rp_stage *s, uint64_t rec)
{
	drop_unpublished(s);
	if (s->out && !s->replica)
		rp_producer_drop_unpublished(s->out);
	rp_ctl_status_set(s->tx, RP_CTL_WORD_CURRENT, rec + 1);
	rp_ctl_send(s->tx, RP_CTL_REFUSED, RP_REASON_NONE, rec, 0, 0,
		    "said by the fault stage", SEC);
	rp_stage_close(s);
	return RP_EXIT_REFUSED;
}

/* For the fault stage only (stage_fault.h). */
int rp_stage_fault_geometry(struct rp_stage *s)
{
	if (s->in == NULL)
		return -EPIPE;
	s->in->m.sh_c->s_capacity *= 2;
	return 0;
}

/* For the fault stage only (stage_fault.h): write garbage over this
 * stage's own output cursor, as a compromised stage could, and wake the
 * consumer, which must detect it and name this stage as the culprit. */
int rp_stage_fault_scribble(struct rp_stage *s)
{
	if (s->out == NULL)
		return -EPIPE;
	rp_store64_release(&s->out->m.sh_p->p_tail,
			   rp_load64_relaxed(&s->out->m.sh_p->p_tail) +
				   ((uint64_t)s->out->m.cap << 4) + 3);
	rp_bell_ring(s->out->peer);
	return 0;
}
