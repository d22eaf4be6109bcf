/*
 * careless.c - a stage program as a careless user writes one: it passes
 * records through, and ends with exit 1 whatever went wrong as it
 * opened, so its exit code says nothing of why.  Given a number, it
 * ends with that code whatever happened, even after its run failed.
 * The supervisor must still judge what it said on its control ring
 * before it ended.
 */
#include <ringpipe.h>
#include <stddef.h>
#include <stdlib.h>

static int pass(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	(void)arg;
	return rp_emit(s, in->data, in->len);
}

int main(int argc, char **argv)
{
	int always = argc > 1 ? atoi(argv[1]) : -1;
	struct rp_stage *s;
	int code;

	if (rp_stage_open(&s) != 0)
		return always >= 0 ? always : 1;
	code = rp_stage_run(s, pass, NULL);
	return always >= 0 ? always : code;
}
