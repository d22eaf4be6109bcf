/*
 * builtin_exec_hold.c - the exec adapter's input held back, and a crash
 * of its program narrowed down to the record that causes it.
 *
 * Design note
 * -----------
 * Which input record a program is working on cannot be known: it reads
 * ahead (cat takes 128 KiB at a time), and its output lags behind.  So
 * the adapter does not release what the program has not read, nor what
 * it read last (HOLD_READ bytes), within a quarter of the input ring:
 * each record keeps its place in the ring (a mark to release up to) and
 * its bytes.  A restart of the stage then feeds that input again, and
 * when the program dies of its own doing, the records it had read are
 * the suspects: they are fed again to new copies of it, halving by whole
 * lines, until one alone kills it (exec_narrow).
 *
 * Its own doing is a crash, a denied syscall (the supervisor kills the
 * caller and tells), or its per-record timeout (the supervisor tells,
 * naming the run by its progress word, and the adapter kills it).  A
 * run fed held records has nothing more to wait for, so all its time
 * counts (note_work): one that hangs is timed out too.  That is a death
 * when narrowing a hang.  When narrowing a crash, time after the run's
 * input ended gets CRASH_GRACE timeouts more (the work a sort does at
 * the end), and a run timed out then ends the narrowing.  Before a
 * record is quarantined for a hang, the program runs once more, fed a
 * record known innocent (or nothing): a hang then too is no record's
 * doing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "builtin.h"
#include "builtin_exec.h"

/* Did its last run die of a limit a program may reach whatever it is
 * fed: 1, its CPU time (RLIMIT_CPU's SIGXCPU); 2, a SIGKILL nobody here
 * sent (the kernel's, at the CPU time's hard limit or for its memory)? */
static int out_of_cpu(const struct ex *x)
{
	if (!WIFSIGNALED(x->status) || x->timed_out || x->denied)
		return 0;
	return WTERMSIG(x->status) == SIGXCPU			  ? 1
	       : WTERMSIG(x->status) == SIGKILL && !x->killed ? 2
							      : 0;
}

/* ------------------------------------------------------------- holds */

void exec_hold_pop(struct ex *x)
{
	struct held *e = &x->h[x->hhead];

	if (x->hread > 0) {
		x->hread--;
		x->hread_bytes -= e->len;
	}
	free(e->data);
	e->data = NULL;
	x->hhead = (x->hhead + 1) % HOLD_MAX;
	x->hlen--;
}

/* Releases stop at the oldest record held (none held: they go on). */
void exec_hold_mark(struct ex *x)
{
	if (x->hlen > 0)
		rp_stage_hold_at(x->s, &x->h[x->hhead].mark);
	else
		rp_stage_unhold(x->s);
}

/*
 * What is held: every record the program has not read all of, and of
 * those it has, the latest HOLD_READ bytes (what it may still be working
 * on: programs read ahead, cat 128 KiB at a time, and their output lags
 * behind).  Bounded besides by HOLD_MAX records and a quarter of the
 * input ring, so that its producer never waits for room kept from it:
 * over those the oldest go, read or not.
 */
void exec_hold_trim(struct ex *x)
{
	if (x->h == NULL)
		return;
	while (x->hread < x->hlen &&
	       x->h[(x->hhead + x->hread) % HOLD_MAX].end <= x->taken) {
		x->hread_bytes += x->h[(x->hhead + x->hread) % HOLD_MAX].len;
		x->hread++;
	}
	while (x->hlen > 1 &&
	       ((x->hread > 1 && x->hread_bytes > HOLD_READ) ||
		x->hlen > HOLD_MAX - 1 ||
		rp_stage_in_position(x->s) - x->h[x->hhead].mark.pos >
			rp_stage_in_capacity(x->s) / 4))
		exec_hold_pop(x);
	exec_hold_mark(x);
}

/* Keep the record just taken back: unreleased, and its bytes. */
int exec_hold_push(struct ex *x, uint64_t seq, const char *p, size_t n,
		     int unit_end)
{
	struct held *e;

	if (x->hlen == HOLD_MAX)
		exec_hold_pop(x);
	e = &x->h[(x->hhead + x->hlen) % HOLD_MAX];
	e->data = malloc(n ? n : 1);
	if (e->data == NULL) {
		fprintf(stderr, EXEC_SAYS "out of memory\n");
		return -ENOMEM;
	}
	memcpy(e->data, p, n);
	e->len = n;
	e->seq = seq;
	e->end = x->appended + n;
	e->unit_end = unit_end;
	rp_stage_mark(x->s, &e->mark);
	x->hlen++;
	exec_hold_trim(x);
	return 0;
}

/*
 * Is as much held back as the program may have unread?  What it has not
 * read spans an eighth of the input ring, or half of HOLD_MAX records:
 * no more is taken until it reads, so that the bounds leave room for
 * what it has read too (else they would drop that first, and a crash
 * could no longer be traced, nor its input fed again).  Its reading wakes nobody: the loop looks again
 * every HOLD_POLL_MS meanwhile.
 */
int exec_hold_full(const struct ex *x)
{
	return x->h != NULL && x->hread < x->hlen &&
	       (x->hlen - x->hread >= HOLD_MAX / 2 ||
		rp_stage_in_position(x->s) -
				x->h[(x->hhead + x->hread) % HOLD_MAX].mark.pos >=
			rp_stage_in_capacity(x->s) / 8);
}

/* ---------------------------------------------------------- narrowing */

/* Did the program die of its own doing: a fault, an abort, a limit, a
 * signal of its own (SIGUSR1 with no handler, an alarm), or a denied
 * syscall (the supervisor's SIGKILL, told ahead)?  Not SIGPIPE (its
 * reader gone), nor a signal that stops a process from outside
 * (SIGTERM, SIGINT, SIGHUP, SIGQUIT) that the run's cancel comes with;
 * one that comes alone it sent itself (exec_stop_own).  A SIGKILL
 * that neither the supervisor nor this adapter sent is its own too: it
 * sent it itself (to pass for a kill from outside, which a stage's death
 * by SIGKILL is), or the kernel did, for its memory (the OOM killer) or
 * its CPU time's hard limit.  From outside, the stage is killed, not
 * its program alone. */
int exec_own_death(struct ex *x)
{
	int sig = WIFSIGNALED(x->status) ? WTERMSIG(x->status) : 0;

	if (sig == SIGKILL && !x->denied && x->s) {
		uint64_t d = rp_stage_denials(x->s);
		x->denied = d != x->denials;
		x->denials = d;
	}
	if (exec_rejected(x))
		return 1; /* (--reject-exit: it said so) */
	if (x->exec_errno || sig == 0 || sig == SIGPIPE)
		return 0;
	if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP ||
	    sig == SIGQUIT)
		return exec_stop_own(x);
	return sig != SIGKILL || x->denied || x->timed_out || !x->killed;
}

/* The program is gone: its pipes go, and a new one starts afresh. */
void exec_reset_cmd(struct ex *x)
{
	int *fds[] = {&x->to_fd, &x->from_fd, &x->sig_fd, &x->exec_fd};

	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	x->pid = -1;
	x->status = x->exec_errno = 0;
	x->denied = x->timed_out = x->killed = 0;
	x->stop_judged = 0;
	x->woff = x->wlen = 0;
	x->qhead = x->qlen = 0;
	x->appended = x->fed = 0;
	x->in_done = x->in_eof = 0;
	x->line_len = 0;
	x->hdr_have = 0;
	x->frame_have = 0;
}

/* Feed the n oldest held records (or, alt not NULL, that record alone)
 * to a new program, and wait for it.  0 if it survived them (whatever
 * its exit status: grep says 1 for no match), with its output kept in
 * obuf; 1 if it died of its own doing; else -errno. */
static int run_held(struct ex *x, char **argv, int has_out, size_t n,
		    const struct held *alt)
{
	int err;

	exec_reset_cmd(x);
	if ((err = exec_start(x, argv, has_out)))
		return err;
	if (alt != NULL)
		n = alt->data != NULL;
	for (size_t i = 0; i < n; i++) {
		const struct held *r =
			alt ? alt : &x->h[(x->hhead + i) % HOLD_MAX];
		if ((err = exec_wbuf_room(x, r->len)))
			return err;
		memcpy(x->wbuf + x->wlen, r->data, r->len);
		x->wlen += r->len;
		x->appended += r->len;
		if (x->qlen == UNREAD_MAX) {
			x->q[x->qlen - 1].end = x->appended;
		} else {
			x->q[x->qlen++] = (struct unread){x->appended, r->seq};
		}
		x->last_seq = r->seq;
	}
	x->in_done = 1; /* these only, then its stdin closes */
	x->alone = x->hang ? 2 : 1;
	x->olen = 0;
	x->oeof = 0;
	err = exec_loop(x);
	x->alone = 0;
	if (x->exec_errno)
		return err ? err : -EIO;
	if (err == -EIO && exec_own_death(x))
		return 1;
	if (err != 0 && !(err == -EIO && WIFEXITED(x->status)))
		return err;
	return 0;
}

/* The n oldest held records are done with: what the program made of
 * them goes on, and they are released.  Narrowing a hang, with innocent
 * (they went through the first time they were fed), the last of them is
 * kept as a record known innocent (see exec_narrow). */
static int pass_held(struct ex *x, size_t n, int innocent)
{
	int err;

	if (x->max > 0 &&
	    ((x->olen > 0 && (err = exec_output(x, x->obuf, x->olen))) ||
	     (x->oeof && (err = exec_output_end(x)))))
		return err;
	if (x->hang && innocent && n > 0) {
		struct held *last = &x->h[(x->hhead + n - 1) % HOLD_MAX];
		char *copy = malloc(last->len ? last->len : 1);
		if (copy != NULL) {
			memcpy(copy, last->data, last->len);
			free(x->innocent.data);
			x->innocent = *last;
			x->innocent.data = copy;
		}
	}
	while (n-- > 0)
		exec_hold_pop(x);
	exec_hold_mark(x);
	return rp_stage_release(x->s);
}

/* How many of the n oldest held records make up their first u units
 * (lines or frames: a long line comes in pieces; a unit the records run
 * out in counts whole). */
static size_t unit_records(const struct ex *x, size_t u, size_t n)
{
	size_t i = 0;

	while (i < n && u > 0)
		u -= x->h[(x->hhead + i++) % HOLD_MAX].unit_end != 0;
	return i;
}

/*
 * The program died of its own doing: which record killed it cannot be
 * known (it reads ahead, and its output lags), so the held records it
 * had read are fed again to new programs, oldest first, narrowing down
 * by whole lines (or frames): all of them; if it dies, the first half,
 * and so on, until one line alone kills it.  Records it survives have
 * their output sent on (again, for those whose output had come out
 * before the crash: at least once) and are released, in order.  A
 * one-record line that kills it alone is fed alone until it has done so
 * quarantine times; then, what came before it released, the stage ends
 * with RP_EXIT_POISON naming it, and the supervisor quarantines it: 1
 * with *code set.  0 when nothing quarantinable kills it alone (none
 * does, or a line of several records does): the crash stands, and what
 * is left stays held for a restart.  Or -errno.
 */
/* How the program's last run died, in words. */
static const char *death(const struct ex *x, char *buf, size_t len)
{
	int sig = WTERMSIG(x->status);

	if (exec_rejected(x))
		snprintf(buf, len, "exit status %d (a --reject-exit status)",
			 exec_rejected(x));
	else if (x->timed_out == 2)
		snprintf(buf, len, "its end timeout (silent after its input "
				   "ended)");
	else if (x->timed_out)
		snprintf(buf, len, "its per-record timeout");
	else
		snprintf(buf, len, "signal %d (%s%s)", sig, strsignal(sig),
			 x->denied ? ", for a denied syscall" : "");
	return buf;
}

int exec_narrow(struct ex *x, char **argv, int has_out, int *code)
{
	int sig = WTERMSIG(x->status), err;
	uint64_t upto = x->taken; /* what it had read: the suspects */
	size_t n = 0, nu = 0, dying = 0, runs = 0;
	char how[96];

	while (n < x->hlen &&
	       x->h[(x->hhead + n) % HOLD_MAX].end -
			       x->h[(x->hhead + n) % HOLD_MAX].len <
		       upto)
		n++;
	/* A line it had begun counts whole. */
	while (n > 0 && n < x->hlen &&
	       !x->h[(x->hhead + n - 1) % HOLD_MAX].unit_end)
		n++;
	for (size_t i = 0; i < n; i++)
		nu += x->h[(x->hhead + i) % HOLD_MAX].unit_end != 0;
	if (n > 0 && !x->h[(x->hhead + n - 1) % HOLD_MAX].unit_end)
		nu++;
	/* The oldest held records end a line whose start was let go
	 * already (a line longer than what is held back): fed to a run,
	 * that rest would be a line of its own.  Dropped, said. */
	if (n > 0 && x->mode == M_LINES && x->h[x->hhead].mark.ck.user[0] == 1) {
		size_t k = 0;
		uint64_t bytes = 0;
		int ends = 0;
		while (k < n && !ends) {
			const struct held *e = &x->h[(x->hhead + k) % HOLD_MAX];
			bytes += e->len;
			ends = e->unit_end;
			k++;
		}
		fprintf(stderr, EXEC_NOTES "%s died in a line whose start it "
				"had let go: the rest of it (%llu bytes) is "
				"dropped, not fed to it again\n",
			x->cmd, (unsigned long long)bytes);
		if ((err = pass_held(x, k, 0)))
			return err;
		n -= k;
		nu -= ends ? 1 : nu;
	}
	if (n == 0)
		return 0;
	/* Narrowing a hang: runs fed again that hang are deaths too.
	 * Narrowing a crash, a run that hangs instead proves nothing about
	 * the crash: the narrowing ends there, and the crash stands. */
	x->hang = x->timed_out;
	fprintf(stderr, EXEC_NOTES "%s died of %s: narrowing the last %zu "
			"records it had read down to the one it dies on\n",
		x->cmd, death(x, how, sizeof(how)), n);
	while (nu > 0) {
		/* dying: the fewest oldest units known to kill it */
		size_t len = dying > 1 ? dying / 2 : dying ? 1 : nu;
		size_t recs = unit_records(x, len, n);
		err = run_held(x, argv, has_out, recs, NULL);
		runs++;
		if (err < 0)
			return err;
		if (err == 0) {
			if ((err = pass_held(x, recs, 1)))
				return err;
			n -= recs;
			nu -= len;
			dying = dying > len ? dying - len : 0;
			continue;
		}
		sig = WTERMSIG(x->status);
		if (x->timed_out && !x->hang) {
			fprintf(stderr, EXEC_SAYS "%s worked past the per-record "
					"timeout on records fed again after a "
					"crash: narrowing ends, the crash "
					"stands\n", x->cmd);
			return 0;
		}
		if (len > 1) {
			dying = len;
			continue;
		}
		if (recs > 1) {
			fprintf(stderr, EXEC_SAYS "%s dies of %s on a line of %zu "
					"records alone, from record %llu: not "
					"quarantined (a record at a time can "
					"be)\n",
				x->cmd, death(x, how, sizeof(how)), recs,
				(unsigned long long)x->h[x->hhead].seq);
			return 0;
		}
		/* One record kills it alone: again, until it has done so
		 * quarantine times (one it then survives was not it). */
		unsigned deaths = 1;
		while (deaths < x->quarantine) {
			err = run_held(x, argv, has_out, 1, NULL);
			runs++;
			if (err != 1)
				break;
			if (x->timed_out && !x->hang) {
				fprintf(stderr, EXEC_SAYS "%s worked past the "
						"per-record timeout on a record "
						"fed again after a crash: "
						"narrowing ends, the crash "
						"stands\n", x->cmd);
				return 0;
			}
			deaths++;
		}
		if (err < 0)
			return err;
		if (deaths < x->quarantine) {
			/* (It hung once: not known innocent.) */
			if ((err = pass_held(x, 1, 0)))
				return err;
			n--;
			nu--;
			dying = 0;
			continue;
		}
		if ((x->hang && x->timed_out) || out_of_cpu(x) ||
		    exec_rejected(x)) {
			/* A hang, or its CPU limit (which a program busy
			 * whatever its input reaches as well): one run more,
			 * fed a record known innocent (one that went through
			 * in this narrowing), or nothing.  A program that
			 * dies so too (it stops after so many lines, or its
			 * work at the end takes longer than the timeout)
			 * does not die of the record. */
			int status = x->status, cpu = out_of_cpu(x);
			int rej = exec_rejected(x);
			if ((err = run_held(x, argv, has_out, 0,
					    x->hang ? &x->innocent
						    : NULL)) < 0)
				return err;
			runs++;
			if (err == 1 && (rej   ? exec_rejected(x) != 0
					 : cpu ? out_of_cpu(x) != 0
					       : x->timed_out)) {
				fprintf(stderr, EXEC_SAYS "%s dies of %s on "
						"record %llu alone, but %s too: "
						"not the record's doing, the %s "
						"stands\n",
					x->cmd,
					rej ? "a --reject-exit status"
					: cpu == 1 ? "its CPU limit (SIGXCPU)"
					: cpu	 ? "a SIGKILL nobody here sent "
						   "(a limit: CPU time, memory)"
						 : "its per-record timeout",
					(unsigned long long)x->h[x->hhead].seq,
					x->hang && x->innocent.data
						? "on one that went through"
						: "with no input at all",
					cpu || rej ? "failure" : "hang");
				return 0;
			}
			/* The deaths on the record, as they were. */
			x->status = status;
			x->timed_out = !cpu && !rej;
			x->denied = 0;
			x->killed = 0;
		}
		sig = WTERMSIG(x->status);
		fprintf(stderr, EXEC_NOTES "%s dies of %s on record %llu alone, %u "
				"times (%zu runs to find it)\n",
			x->cmd, death(x, how, sizeof(how)),
			(unsigned long long)x->h[x->hhead].seq, deaths, runs);
		exec_hold_mark(x);
		if ((err = rp_stage_release(x->s)))
			return err;
		*code = rp_stage_finish_poison(x->s, x->h[x->hhead].seq,
					       exec_rejected(x) ? exec_rejected(x)
								: sig,
					       deaths,
					       exec_rejected(x) ? "exit"
					       : x->timed_out	? "timeout"
					       : x->denied	? "denied"
								: NULL);
		x->s = NULL;
		return 1;
	}
	/* What it had not read stays held: a restart feeds it again. */
	fprintf(stderr, EXEC_SAYS "no record it had read kills %s alone (%zu "
			"runs)\n", x->cmd, runs);
	return 0;
}
