/*
 * careless.c - a stage program as a careless user writes one: it passes
 * records through, and ends with exit 1 whatever went wrong as it
 * opened, so its exit code says nothing of why.  Given a number, it
 * ends with that code whatever happened, even after its run failed (-1:
 * its run's code); given a second, it waits that many milliseconds before
 * it opens (attaches to) its rings.
 * The supervisor must still judge what it said on its control ring
 * before it ended.
 */
#include <ringpipe.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

static int pass(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	(void)arg;
	return rp_emit(s, in->data, in->len);
}

int main(int argc, char **argv)
{
	int always = argc > 1 ? atoi(argv[1]) : -1;
	long ms = argc > 2 ? atol(argv[2]) : 0;
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	struct rp_stage *s;
	int code;

	if (ms > 0)
		nanosleep(&t, NULL);
	if (rp_stage_open(&s) != 0)
		return always >= 0 ? always : 1;
	code = rp_stage_run(s, pass, NULL);
	return always >= 0 ? always : code;
}
