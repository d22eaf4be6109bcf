/*
 * totaler.c - a stage program with state: it counts its input records,
 * low level, and emits one record at the end of its input, "total N".
 * Run as replicas, each copy emits its own total.  With "keep" it saves
 * its count as it releases (rp_stage_save) and takes it up again after
 * a restart, releasing all before the total; "keep-die" then kills
 * itself (as if from outside) right after emitting the total, in its
 * first start, and "keep-die-late" once the total is sent on.  With
 * "-pass" after that it also passes each record on as it counts it.
 * With "idle", between records it sleeps 200 ms at a time (nanosleep,
 * not rp_stage_wait) with everything it took released: not working on
 * any record, whatever a per-record timeout is.  With "slowend" it
 * works 1 s once its input has ended (sleeps, all it took unreleased)
 * before its total: no record's doing either.
 */
#include <errno.h>
#include <ringpipe.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "";
	int keep = strncmp(how, "keep", 4) == 0;
	int pass = strstr(how, "-pass") != NULL;
	struct rp_stage *s;
	struct rp_record r;
	uint64_t n = 0, w;
	char line[64];
	int err, c, len, first = 1;

	if ((err = rp_stage_open(&s)) != 0)
		return err == -EPERM ? RP_EXIT_SANDBOX : RP_EXIT_USAGE;
	if (keep && rp_stage_restored(s, &w, 1) == 1) {
		n = w;
		first = 0;
	}
	for (;;) {
		if ((c = rp_stage_control(s, NULL)) > 0)
			return rp_stage_finish(s, 0, c);
		err = rp_stage_peek(s, &r);
		if (err == 0) {
			n++;
			if (pass && (err = rp_emit(s, r.data, r.len)) < 0)
				return rp_stage_finish(s, err, 0);
			continue;
		}
		if (err == -ENODATA)
			break;
		if (err != -EAGAIN)
			return rp_stage_finish(s, err, 0);
		if (keep && (err = rp_stage_save(s, &n, 1)) < 0)
			return rp_stage_finish(s, err, 0);
		if ((err = rp_stage_release(s)) < 0)
			return rp_stage_finish(s, err, 0);
		if (strcmp(how, "idle") == 0) {
			struct timespec t = {0, 200000000};
			nanosleep(&t, NULL);
			continue;
		}
		err = rp_stage_wait(s, RP_WAIT_INPUT | RP_WAIT_CONTROL,
				    1000000000);
		if (err < 0 && err != -ETIMEDOUT)
			return rp_stage_finish(s, err, 0);
	}
	if (strcmp(how, "slowend") == 0) {
		struct timespec t = {1, 0};
		nanosleep(&t, NULL);
	}
	if (keep && ((err = rp_stage_save(s, &n, 1)) < 0 ||
		     (err = rp_stage_release(s)) < 0))
		return rp_stage_finish(s, err, 0);
	len = snprintf(line, sizeof(line), "total %llu",
		       (unsigned long long)n);
	if ((err = rp_emit(s, line, (uint32_t)len)) < 0)
		return rp_stage_finish(s, err, 0);
	if (first && strncmp(how, "keep-die-late", 13) == 0) {
		/* Sent on: the output's origin ends at the next look. */
		(void)rp_stage_peek(s, &r);
		if ((err = rp_stage_flush(s)) < 0)
			return rp_stage_finish(s, err, 0);
	}
	if (first && strncmp(how, "keep-die", 8) == 0)
		raise(SIGKILL);
	return rp_stage_finish(s, 0, 0);
}
