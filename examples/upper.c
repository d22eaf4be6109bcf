/*
 * upper.c - an example ringpipe stage: upper-cases every record.
 *
 * Copy this file to start a stage of your own.  Build it with
 *     cc -o upper upper.c $(pkg-config --cflags --libs ringpipe)
 * and name it in a pipeline; ringpipe starts it with its rings and
 * sandbox described in RINGPIPE_STAGE.  Run by hand, it explains that.
 */
#include <ringpipe.h>
#include <stdio.h>
#include <stdlib.h>

/* Called once per input record.  The record's bytes live in the input
 * ring until this returns; the output is written straight into the
 * output ring (zero copy). */
static int upper(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	const unsigned char *src = in->data;
	unsigned char *dst;
	int err;

	(void)arg;
	err = rp_emit_reserve(s, in->len, (void **)&dst);
	if (err)
		return err; /* -ECANCELED when cancelled while waiting */
	for (uint32_t i = 0; i < in->len; i++) {
		unsigned char c = src[i];
		dst[i] = (unsigned char)(c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	err = rp_emit_commit(s, in->len);
	/* Keep the record's type: a line longer than a record comes as
	 * pieces (type 19, all but its last) that file-sink --lines joins
	 * again, and a last line without its newline is type 17.  (Types
	 * below 16 but 1 are not ours to pass on.) */
	if (err == 0 && in->type >= 16)
		err = rp_emit_type(s, in->type);
	return err;
}

int main(void)
{
	struct rp_stage *s;
	int err = rp_stage_open(&s);

	if (err)
		return err == -EPERM     ? RP_EXIT_SANDBOX
		     : err == -EBADMSG ? RP_EXIT_VIOLATION
				       : RP_EXIT_USAGE;
	/* Runs until the input ends or the stage is cancelled; returns
	 * the exit code that tells the supervisor which. */
	return rp_stage_run(s, upper, NULL);
}
