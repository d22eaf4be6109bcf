/*
 * counter.c - a source program of one's own that goes back to where it
 * saved: it makes "gen 0" ... "gen N-1", a record a call, saves the next
 * number every SAVE_EVERY records (rp_stage_save), and at a restart takes
 * it up from rp_stage_restored: what it had published past its last save
 * comes again.  Run with replays: true, a restart's repeats are
 * dropped downstream: exactly-once through SIGKILLs.  Argument: N, or
 * loopN to make them in a loop of its own (rp_emit between its own
 * looks at rp_stage_control) rather than under rp_stage_run_source.
 */
#include <errno.h>
#include <ringpipe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAVE_EVERY 5000

struct gen {
	uint64_t next, n;
};

static int make(struct rp_stage *s, void *arg)
{
	struct gen *g = arg;
	char line[32];
	int len, err;

	if (g->next >= g->n)
		return 0;
	len = snprintf(line, sizeof(line), "gen %llu",
		       (unsigned long long)g->next);
	if ((err = rp_emit(s, line, (uint32_t)len)))
		return err;
	g->next++;
	/* What it has emitted so far: stored once those are published. */
	if (g->next % SAVE_EVERY == 0 && (err = rp_stage_save(s, &g->next, 1)))
		return err;
	return 1;
}

/* The same records, each emit a new origin, without rp_stage_run_source. */
static int own_loop(struct rp_stage *s, struct gen *g)
{
	int c, r;

	for (;;) {
		if ((c = rp_stage_control(s, NULL)) > 0)
			return rp_stage_finish(s, 0, c);
		if ((r = make(s, g)) <= 0)
			return rp_stage_finish(s, r, 0);
	}
}

int main(int argc, char **argv)
{
	struct rp_stage *s;
	const char *n = argc > 1 ? argv[1] : "10";
	int loop = strncmp(n, "loop", 4) == 0;
	struct gen g = {0, strtoull(loop ? n + 4 : n, NULL, 10)};
	uint64_t w;
	int err = rp_stage_open(&s);

	if (err)
		return err == -EPERM     ? RP_EXIT_SANDBOX
		     : err == -EBADMSG ? RP_EXIT_VIOLATION
				       : RP_EXIT_USAGE;
	if (rp_stage_restored(s, &w, 1) == 1)
		g.next = w;
	return loop ? own_loop(s, &g) : rp_stage_run_source(s, make, &g);
}
