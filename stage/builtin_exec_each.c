/*
 * builtin_exec_each.c - exec --each: a run of the program per input
 * record.
 *
 * Design note
 * -----------
 * The record is the program's whole stdin; what it writes before it
 * exits is that record's output, and goes on (with the record's origin,
 * as a library stage's would) only once it has exited 0.  So the stage is
 * a library stage like any other, run by rp_stage_run: it keeps nothing
 * across records, a restart replays exactly from its commit point (for
 * a deterministic program), and replicas can share its rings.
 *
 * Which record a death belongs to is known, so nothing is narrowed: a
 * program that dies of its own doing (SIGSEGV, SIGABRT, ...) takes the
 * stage with it, as a crash (exit RP_EXIT_PROGRAM_SIGNAL + the signal:
 * the stage may be its namespace's pid 1, which no signal of its own
 * ends), and the supervisor counts that death against the record as it
 * does for any stage, restarts the stage, and quarantines the record
 * after quarantine_after deaths.  A
 * denied syscall or the per-record timeout (the whole run is working
 * time) ends the stage from outside, the same way.  A run that exits
 * with a --reject-exit status rejected its record: refused at once
 * (rp_stage_refuse).  One that exits otherwise non-zero, or is killed
 * from outside, fails the stage.  Whatever a run
 * left behind is killed before the next starts (its process group, and
 * in its PID namespace everything but the init).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builtin.h"
#include "builtin_exec.h"

/* End the stage as if it had crashed on the record, of sig: the
 * supervisor reads which record from the work words, set here again
 * (the loop said "between records" once the run was reaped). */
static void end_on_record(struct ex *x, int sig)
{
	rp_stage_set_work(x->s, x->each_cur, 1, x->progress);
	fflush(NULL);
	_exit(RP_EXIT_PROGRAM_SIGNAL + sig);
}

/* What a run that exited 0 wrote goes on as its record's outputs, cut
 * as the mode says (raw bytes: in chunks of x->chunk at most). */
static int send_output(struct ex *x)
{
	size_t off = 0, n;
	int err = 0;

	if (x->mode != M_CHUNKS)
		return (x->olen > 0 && (err = exec_output(x, x->obuf,
							   x->olen)))
			       ? err
			       : exec_output_end(x);
	while (err == 0 && off < x->olen) {
		n = x->olen - off < x->chunk ? x->olen - off : x->chunk;
		err = exec_output(x, x->obuf + off, n);
		off += n;
	}
	return err ? err : exec_output_end(x);
}

/* A run of the program fed in (or, NULL, nothing at all), to its end:
 * 0, or -errno (-EIO: it failed; x->status says how). */
static int each_run(struct ex *x, const struct rp_record *in)
{
	int err;

	exec_reset_cmd(x);
	if (in != NULL) {
		if ((err = exec_wbuf_room(x, (size_t)in->len + 4 + 1)))
			return err;
		x->wlen = (size_t)(exec_put_record(x, in) - x->wbuf);
	}
	x->appended = x->wlen;
	x->olen = 0;
	x->oeof = 0;
	x->too_much = 0;
	/* Before the start: its words name the record from the fork on. */
	x->alone = EACH_RUN;
	if ((err = exec_start(x, x->argv, x->max > 0))) {
		x->alone = 0;
		return err;
	}
	x->in_done = 1; /* this record only, then its stdin closes */
	err = exec_loop(x);
	x->alone = 0;
	if (x->exec_errno)
		return err ? err : -EIO;
	return err;
}

int exec_each_record(struct rp_stage *s, const struct rp_record *in,
		     void *arg)
{
	struct ex *x = arg;
	int replica, err, rejected;
	uint64_t rec = rp_stage_current(s, &replica);
	const char *on = replica ? "the record at input byte" : "record";

	x->each_cur = rec;
	err = each_run(x, in);
	if (x->exec_errno)
		return err;
	if (x->too_much) {
		fprintf(stderr, EXEC_SAYS "%s wrote over %u MiB for %s %llu: "
				"ended, as if past a file size limit, so that it "
				"counts against the record\n", x->cmd,
			EACH_OUT_MAX >> 20, on, (unsigned long long)(rec - 1));
		end_on_record(x, SIGXFSZ);
	}
	if (err == 0) {
		/* Its run is over: sending what it wrote on is not its
		 * time (waiting for room is waiting). */
		rp_stage_set_work(s, rec, 0, x->progress);
		if (x->max > 0 && (err = send_output(x)) == -EPROTO)
			fprintf(stderr, EXEC_SAYS "%s cut its last frame short on "
					"%s %llu\n", x->cmd, on,
				(unsigned long long)(rec - 1));
		return err;
	}
	if (err != -EIO)
		return err; /* a cancel, or the stage's own failure */
	/* The last stage, its reader gone: done, as head is. */
	if (exec_reader_gone(x))
		return RP_STOP;
	if ((rejected = exec_rejected(x)) != 0 && !x->reject_checked) {
		/* Before the first: a run fed nothing at all.  One that
		 * rejects that too fails for itself (a file it needs is
		 * missing), and would refuse every record. */
		if ((err = each_run(x, NULL)) != 0 && err != -EIO)
			return err;
		if (exec_rejected(x)) {
			fprintf(stderr, EXEC_SAYS "%s exited with status %d on %s "
					"%llu, and with status %d fed nothing at "
					"all: not the record's doing, the failure "
					"stands\n", x->cmd, rejected, on,
				(unsigned long long)(rec - 1), exec_rejected(x));
			return -EIO;
		}
		x->reject_checked = 1;
	}
	if (rejected) {
		/* It rejected its record: set aside at once, what it wrote
		 * for it dropped. */
		char why[32];
		snprintf(why, sizeof(why), "exited with status %d", rejected);
		fprintf(stderr, EXEC_SAYS "%s exited with status %d (a "
				"--reject-exit status) on %s %llu: the record is "
				"refused\n", x->cmd, rejected, on,
			(unsigned long long)(rec - 1));
		return rp_stage_refuse(s, why);
	}
	if (WIFEXITED(x->status)) {
		fprintf(stderr, EXEC_SAYS "%s exited with status %d on %s %llu\n",
			x->cmd, WEXITSTATUS(x->status), on,
			(unsigned long long)(rec - 1));
		return -EIO;
	}
	if (exec_own_death(x)) {
		int sig = WTERMSIG(x->status);
		fprintf(stderr, EXEC_SAYS "%s was killed by signal %d (%s) on %s "
				"%llu: the stage ends of it too, so that it "
				"counts against the record\n", x->cmd, sig,
			strsignal(sig), on, (unsigned long long)(rec - 1));
		/* As a crash would: what it had not published is lost,
		 * what it had not released comes again. */
		end_on_record(x, sig);
	}
	fprintf(stderr, EXEC_SAYS "%s was killed by signal %d (%s) on %s %llu\n",
		x->cmd, WTERMSIG(x->status), strsignal(WTERMSIG(x->status)), on,
		(unsigned long long)(rec - 1));
	return -EIO;
}
