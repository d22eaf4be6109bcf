/*
 * refuser.c - a parser that refuses what it cannot parse: a record that
 * starts with "BAD" is refused (after it has already emitted three parts
 * of its output, none of which may reach anyone), every other record passes
 * through with its type.  Given "peek" it tries to take the next record
 * before it refuses (the callback level refuses that), and given
 * "ignore" it returns 0 after refusing: the refusal must still name the
 * record it was called on, and drop what was emitted for it.  Given
 * "error" it fails on such a record instead (returns an error), and
 * given "exit" it exits there: no refusal, but a failure on the record,
 * which quarantines it as a crash on it would; given "again" it returns
 * -EAGAIN there, a failure that is not the record's; given "huge" it
 * emits a record larger than its output ring takes, and fails of it;
 * "refuse-error" refuses it and then returns an error, "leak" leaves a
 * reservation uncommitted, "overcommit" commits more than it reserved.
 * Given "shrink" every record becomes 100000 bytes, reserved longer.
 * Given "7" it returns 7 (no value a callback may return) there.
 * Given "header" it emits "HEADER" before its first record.
 * In every mode, rp_stage_release inside the callback must say -EBUSY,
 * and so must rp_stage_finish (asked once) and rp_emit_end_origin on a
 * record it refuses (its outputs must not go out before it is done).
 * In every mode it
 * crashes (SIGSEGV) on a record that starts with "SEGV", and sends
 * itself the signal a record "SIGKILL", "SIGTERM" or "SIGSTOP" names,
 * as a parser could to pass for a kill from outside, or "SIGUSR1",
 * which it may send itself and dies of.  Given "flaky
 * FLAG" (under policy none), a record "LOOP" makes the file FLAG and
 * kills the stage (SIGKILL, never the record's fault), and every start
 * that finds FLAG fails at once, before any record.
 */
#include <errno.h>
#include <fcntl.h>
#include <ringpipe.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int mode; /* 0, or 'p' (peek), 'i' (ignore), 'e' (error), 'x'
		  * (exit), 'a' (again), 'h' (huge), 'f' (flaky), 'r'
		  * (refuse-error), 'l' (leak), 'o' (overcommit), 's'
		  * (shrink) or '7': see below */
static const char *flag; /* flaky: its file */

static int parse(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	int err;

	(void)arg;
	static int asked;

	/* Inside the callback the loop releases and finishes, not the
	 * callback. */
	if (rp_stage_release(s) != -EBUSY)
		return -EPROTO;
	if (!asked++ && rp_stage_finish(s, 0, 0) != -EBUSY)
		return -EPROTO;
	/* "shrink": every record becomes 100000 bytes of 'a', reserved 8
	 * bytes longer than committed (which a claim copies share must
	 * still take past the 1 MiB a copy holds). */
	if (mode == 's') {
		void *b;
		if ((err = rp_emit_reserve(s, 100008, &b)))
			return err;
		memset(b, 'a', 100000);
		return rp_emit_commit(s, 100000);
	}
	/* In every mode: a record it crashes on, and ones it sends itself
	 * a signal on that reads as a kill from outside. */
	if (in->len >= 4 && memcmp(in->data, "SEGV", 4) == 0)
		raise(SIGSEGV);
	if (in->len == 7 && memcmp(in->data, "SIGKILL", 7) == 0)
		raise(SIGKILL);
	if (in->len == 7 && memcmp(in->data, "SIGTERM", 7) == 0)
		raise(SIGTERM);
	if (in->len == 7 && memcmp(in->data, "SIGSTOP", 7) == 0)
		raise(SIGSTOP);
	if (in->len == 7 && memcmp(in->data, "SIGUSR1", 7) == 0)
		raise(SIGUSR1); /* no handler: its own death */
	if (mode == 'f' && in->len == 4 && memcmp(in->data, "LOOP", 4) == 0) {
		close(open(flag, O_CREAT | O_WRONLY, 0644));
		raise(SIGKILL);
	}
	if (in->len >= 3 && memcmp(in->data, "BAD", 3) == 0) {
		/* Three parts: the first two are committed (the ring takes
		 * them) before the refusal, the last is still held. */
		for (int i = 0; i < 3; i++)
			if ((err = rp_emit(s, "a part of it", 12)))
				return err;
		if (rp_emit_end_origin(s) != -EBUSY)
			return -EPROTO;
		/* Careless ways: "peek" looks at the next record first,
		 * "ignore" does not return what the refusal returned. */
		if (mode == 'p') {
			struct rp_record next;
			if (rp_stage_peek(s, &next) != -EBUSY)
				return -EPROTO; /* (fails the run) */
		}
		/* Failing ways, which are not refusals: "error" returns an
		 * error, "exit" exits in the middle of the record. */
		if (mode == 'e')
			return -EILSEQ;
		if (mode == 'a')
			return -EAGAIN;
		if (mode == 'h') {
			static char huge[2 << 20];
			return rp_emit(s, huge, sizeof(huge));
		}
		/* Misuses: a refusal followed by an error, a reservation
		 * left open, a commit longer than its reservation. */
		if (mode == 'r') {
			rp_stage_refuse(s, "refused, then an error");
			return -EIO;
		}
		if (mode == 'l' || mode == 'o') {
			void *b;
			if ((err = rp_emit_reserve(s, 4, &b)))
				return err;
			memcpy(b, "leak", 4);
			return mode == 'l' ? 0 : rp_emit_commit(s, in->len + 100);
		}
		if (mode == 'x')
			exit(1);
		if (mode == '7')
			return 7; /* (means nothing) */
		err = rp_stage_refuse(s, "it starts with BAD, which no "
					 "record may");
		return mode == 'i' ? 0 : err;
	}
	if ((err = rp_emit(s, in->data, in->len)))
		return err;
	return in->type >= 16 ? rp_emit_type(s, in->type) : 0;
}

int main(int argc, char **argv)
{
	struct rp_stage *s;
	int err = rp_stage_open(&s);

	mode = argc < 2				     ? 0
	       : strcmp(argv[1], "exit") == 0	     ? 'x'
	       : strcmp(argv[1], "refuse-error") == 0 ? 'r'
	       : strcmp(argv[1], "leak") == 0	     ? 'l'
	       : strcmp(argv[1], "overcommit") == 0   ? 'o'
	       : strcmp(argv[1], "shrink") == 0	     ? 's'
	       : strcmp(argv[1], "header") == 0	     ? 'H'
						     : argv[1][0];
	if (mode == 'f' && (argc < 3 || access(argv[2], F_OK) == 0))
		return RP_EXIT_ERROR; /* flaky, from now on */
	flag = mode == 'f' ? argv[2] : NULL;
	/* Outside a callback there is no record to refuse. */
	if (err == 0 && rp_stage_refuse(s, "none") != -EINVAL)
		return RP_EXIT_ERROR;
	if (err)
		return err == -EPERM     ? RP_EXIT_SANDBOX
		     : err == -EBADMSG ? RP_EXIT_VIOLATION
				       : RP_EXIT_USAGE;
	if (mode == 'H' && rp_emit(s, "HEADER", 6) != 0)
		return RP_EXIT_ERROR;
	return rp_stage_run(s, parse, NULL);
}
