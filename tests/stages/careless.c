/*
 * careless.c - a stage program as a careless user writes one: it passes
 * records through, and ends with exit 1 whatever went wrong as it
 * opened, so its exit code says nothing of why.  The supervisor must
 * still judge what it said on its control ring before it ended.
 */
#include <ringpipe.h>
#include <stddef.h>

static int pass(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	(void)arg;
	return rp_emit(s, in->data, in->len);
}

int main(void)
{
	struct rp_stage *s;

	if (rp_stage_open(&s) != 0)
		return 1;
	return rp_stage_run(s, pass, NULL);
}
