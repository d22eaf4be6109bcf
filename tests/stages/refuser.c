/*
 * refuser.c - a parser that refuses what it cannot parse: a record that
 * starts with "BAD" is refused (after it has already emitted three parts
 * of its output, none of which may reach anyone), every other record passes
 * through with its type.
 */
#include <ringpipe.h>
#include <string.h>

static int parse(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	int err;

	(void)arg;
	if (in->len >= 3 && memcmp(in->data, "BAD", 3) == 0) {
		/* Three parts: the first two are committed (the ring takes
		 * them) before the refusal, the last is still held. */
		for (int i = 0; i < 3; i++)
			if ((err = rp_emit(s, "a part of it", 12)))
				return err;
		return rp_stage_refuse(s, "it starts with BAD, which no "
					  "record may");
	}
	if ((err = rp_emit(s, in->data, in->len)))
		return err;
	return in->type >= 16 ? rp_emit_type(s, in->type) : 0;
}

int main(void)
{
	struct rp_stage *s;
	int err = rp_stage_open(&s);

	if (err)
		return err == -EPERM     ? RP_EXIT_SANDBOX
		     : err == -EBADMSG ? RP_EXIT_VIOLATION
				       : RP_EXIT_USAGE;
	return rp_stage_run(s, parse, NULL);
}
