/*
 * builtin_loop.c - rp_stage_run() with an end of input, for the stages
 * that have something left to do when their input ends.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "builtin.h"
#include "stage_int.h"

#define SEC 1000000000LL
#define RELEASE_EVERY 64u /* input records per release, as rp_stage_run */

/* A hook failed: a cancel seen while it waited for output space is a
 * cancel, anything else fails the stage. */
static int fail(struct rp_stage *s, int err)
{
	int c;

	if (err == -ECANCELED && (c = rp_stage_control(s, NULL)) > 0)
		return rp_stage_finish(s, 0, c);
	return rp_stage_finish(s, err, 0);
}

static int end(struct rp_stage *s, const struct builtin_loop *loop,
	       void *arg)
{
	int err = loop->end ? loop->end(s, arg) : 0;

	/* The finish releases what is left: with the state it goes with,
	 * or a crash before the exit would resume from stale words. */
	if (err >= 0 && loop->save)
		err = loop->save(s, arg);
	return err < 0 ? fail(s, err) : rp_stage_finish(s, 0, 0);
}

/* Before input is let go: what the stage did with it is done (written)
 * and its state saved with the release. */
static int release(struct rp_stage *s, const struct builtin_loop *loop,
		   void *arg)
{
	int err = loop->save ? loop->save(s, arg) : 0;

	return err < 0 ? err : rp_stage_release(s);
}

int builtin_run(struct rp_stage *s, const struct builtin_loop *loop,
		void *arg)
{
	unsigned unreleased = 0;
	struct rp_record r;
	int err, c, draining = 0;

	rp_stage_whole_outputs(s);
	for (;;) {
		/* The cancel check point before every record. */
		if ((c = rp_stage_control(s, &draining)) > 0)
			return rp_stage_finish(s, 0, c);
		err = rp_stage_peek(s, &r);
		if (err == 0) {
			err = loop->record(s, &r, arg);
			rp_stage_record_done(s);
			if (err < 0)
				return fail(s, err);
			if (err == RP_STOP)
				return end(s, loop, arg);
			if (++unreleased >= RELEASE_EVERY) {
				if ((err = release(s, loop, arg)))
					return fail(s, err);
				unreleased = 0;
			}
			continue;
		}
		if (err == -ENODATA)
			return end(s, loop, arg);
		if (err != -EAGAIN)
			return fail(s, err);
		/* Nothing to read: hand back what was read, let the stage
		 * write out what it holds, then sleep. */
		if ((err = release(s, loop, arg)))
			return fail(s, err);
		unreleased = 0;
		if (loop->idle && (err = loop->idle(s, arg)) < 0)
			return fail(s, err);
		if (draining)
			return end(s, loop, arg);
		err = rp_stage_wait(s, RP_WAIT_INPUT | RP_WAIT_CONTROL, SEC);
		if (err < 0 && err != -ETIMEDOUT)
			return rp_stage_finish(s, err, 0);
	}
}
