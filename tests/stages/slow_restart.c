/*
 * slow_restart.c - a sink program slow to start again, as one with a
 * heavy start is: its first run waits half a second (its source is done
 * by then), takes records and ends with exit 1 at its 100th; each later
 * run sleeps SECONDS (argv[1]) before it opens its stage, then takes
 * every record.  (The supervisor's report counts what it took.)
 *
 * With "die" for SECONDS every run, with "die-again" every run after
 * the first, forks a child that keeps what it inherited but its stdio
 * (the hand-shake socket among it) for 30 s, and ends with exit 1 before
 * it opens its stage.  With "first:SECONDS", its first run sleeps that
 * long before it opens its stage, then takes every record.
 */
#include <ringpipe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int first_run;

static int take(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	static int n;

	(void)s;
	(void)in;
	(void)arg;
	if (first_run && ++n == 100)
		_exit(1);
	return 0;
}

int main(int argc, char **argv)
{
	const char *w = getenv("RINGPIPE_STAGE"), *how = argc > 1 ? argv[1] : "";
	struct rp_stage *s;

	/* The supervisor's wiring says which start this is (inc=N). */
	first_run = w == NULL || strstr(w, "inc=") == NULL ||
		    strstr(w, "inc=1;") != NULL;
	if (!strcmp(how, "die") || (!first_run && !strcmp(how, "die-again"))) {
		if (fork() == 0) {
			/* Not its stdio: the supervisor would read on from
			 * its stderr for a moment. */
			close(0);
			close(1);
			close(2);
			sleep(30);
			_exit(0);
		}
		_exit(1);
	}
	if (!strncmp(how, "first:", 6)) {
		usleep((useconds_t)(atof(how + 6) * 1e6));
		first_run = 0; /* (no end at its 100th record) */
	} else if (!first_run) {
		sleep((unsigned)atoi(how));
	}
	if (rp_stage_open(&s) != 0)
		return 1;
	if (first_run)
		usleep(500000);
	return rp_stage_run(s, take, NULL);
}
