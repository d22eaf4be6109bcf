/*
 * test_replicas.c - replicas: copies of a stage sharing its rings.
 * SIGKILLs at random, deaths inside the shared lock at every step of a
 * claim, a holder stuck with the lock: every record comes out once and
 * in order.  Unordered replicas lose nothing and say they may repeat.
 * Pipelines that cannot have replicas are refused.  And the ring itself:
 * the turn to publish, replays dropped where they are claimed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "harness.h"

void rp_suite_replicas(void);

/* The lines 0..n-1 as file-source --lines reads them, and those of them
 * holding "7" (what grep 7 keeps). */
static char *lines(int n, int only7, size_t *len)
{
	char *buf = malloc((size_t)n * 16 + 1), line[32];
	size_t w = 0;

	CU_ASSERT_FATAL(buf != NULL);
	for (int i = 0; i < n; i++) {
		int k = snprintf(line, sizeof(line), "line %d\n", i);
		if (!only7 || strchr(line, '7')) {
			memcpy(buf + w, line, (size_t)k);
			w += (size_t)k;
		}
	}
	*len = w;
	return buf;
}

/* The sum of the N in every "KEY N" of the report. */
static unsigned sum_of(const char *report, const char *key)
{
	unsigned sum = 0;

	for (const char *p = report; (p = strstr(p, key)) != NULL; p++)
		sum += (unsigned)atoi(p + strlen(key));
	return sum;
}

/* The sum of the "restarted N times" the report gives. */
static unsigned restarts(const char *report)
{
	return sum_of(report, "restarted ");
}

/* The output file equals want byte for byte. */
static int out_is(const char *want, size_t wlen)
{
	size_t n;
	char *got = rp_cmd_slurp("out", &n);
	int same = n == wlen && memcmp(got, want, wlen) == 0;

	if (!same)
		fprintf(stderr, "out: %zu bytes, want %zu\n", n, wlen);
	free(got);
	return same;
}

/* The lines 0..n-1 but those listed (each "line N\n"); to free. */
static char *lines_without(int n, const char *const *drop, size_t ndrop,
			   size_t *len)
{
	size_t all, w = 0;
	char *text = lines(n, 0, &all), *keep = malloc(all + 1);

	CU_ASSERT_FATAL(keep != NULL);
	for (char *p = text; p < text + all;) {
		char *nl = memchr(p, '\n', (size_t)(text + all - p));
		size_t k = (size_t)(nl - p) + 1;
		int bad = 0;
		for (size_t i = 0; i < ndrop; i++)
			bad |= strlen(drop[i]) == k && !memcmp(p, drop[i], k);
		if (!bad) {
			memcpy(keep + w, p, k);
			w += k;
		}
		p = nl + 1;
	}
	free(text);
	*len = w;
	return keep;
}

/* Run "file-source --lines IN ! MID ! file-sink --lines OUT" (IN, OUT:
 * files of the scratch directory), with --fast-restart if fast; its
 * exit code, and what it printed in *report (to free). */
static int run_mid(const char *mid, int fast, char **report)
{
	char in[256], out[256], line[1024];
	char *args[] = {"-e", line, fast ? "--fast-restart" : NULL, NULL};

	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_path(out, sizeof(out), "out");
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! %s ! file-sink --lines %s", in, mid,
		 out);
	return rp_cmd_run(args, report);
}

/* Three replicas of a filter between a stdin source and a file sink;
 * 150 rounds of a batch of lines, each followed by a SIGKILL of one
 * replica (picked at random, its pid from ringpipe stat).  The output is
 * what grep alone gives, in order, and the replicas came back. */
RP_TEST(test_replicas_random_kills, 240)
{
	static char text[65536];
	char name[64], p[256], out[256], yaml[1024], *report;
	char *args[] = {"run", p, "--fast-restart", NULL};
	const int rounds = 150, per = 2000;
	int fds[2], killed = 0, code, n;
	size_t wlen, rlen;
	char *want = lines(rounds * per, 1, &wlen);
	char *feed = lines(rounds * per, 0, &rlen);
	size_t fed = 0;
	pid_t sup;

	srand((unsigned)getpid());
	rp_cmd_dir_make("replicas");
	snprintf(name, sizeof(name), "replicas-%d", (int)getpid());
	rp_cmd_path(p, sizeof(p), "p.yaml");
	rp_cmd_path(out, sizeof(out), "out");
	n = snprintf(yaml, sizeof(yaml),
		     "name: %s\n"
		     "stages:\n"
		     "  - {name: read, run: file-source, args: [--lines, \"-\"]}\n"
		     "  - {name: pick, input: read, run: grep, args: ['7'],\n"
		     "     replicas: 3, ring: 64k}\n"
		     "  - {name: write, input: pick, run: file-sink, "
		     "args: [--lines, \"%s\"]}\n",
		     name, out);
	rp_cmd_spit("p.yaml", yaml, (size_t)n);
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	sup = rp_cmd_start(args, fds[0]);
	close(fds[0]);
	for (int r = 0; r < rounds; r++) {
		/* One round's lines: the batch ends at a newline. */
		size_t end = fed;
		for (int i = 0; i < per && end < rlen; i++)
			end = (size_t)((char *)memchr(feed + end, '\n',
						      rlen - end) -
				       feed) + 1;
		CU_ASSERT_FATAL(write(fds[1], feed + fed, end - fed) ==
				(ssize_t)(end - fed));
		fed = end;
		if (rp_cmd_stat_json(name, text, sizeof(text)) == 0) {
			char stage[16];
			pid_t pid;
			snprintf(stage, sizeof(stage), "pick.%d",
				 1 + rand() % 3);
			pid = rp_cmd_stat_pid(text, stage);
			if (pid > 0 && kill(pid, SIGKILL) == 0)
				killed++;
		}
	}
	close(fds[1]);
	code = rp_test_exit_code(rp_test_wait(sup, 120));
	report = rp_cmd_slurp("REPORT", &rlen);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(out_is(want, wlen));
	/* Most kills found a replica running (a few find one just
	 * killed, not yet reaped), and each one killed came back. */
	CU_ASSERT(killed >= rounds / 2);
	CU_ASSERT(restarts(report) >= (unsigned)killed / 2);
	CU_ASSERT(restarts(report) <= (unsigned)killed);
	CU_ASSERT(strstr(report, "pick.3") != NULL);
	if (code != 0 || !out_is(want, wlen))
		fprintf(stderr, "%d killed\n%s\n", killed, report);
	free(report);
	free(want);
	free(feed);
	rp_cmd_dir_remove();
}

/* Replicas killed at each step of a claim on the lock they share, a few
 * hundred times in a run: inside it, with their slot busy or with the
 * cursor moved already (the next locker repairs what they left, told by
 * EOWNERDEAD), and outside it with a claim held (the supervisor marks
 * the claim, the next locker hands it to another).  Every line comes out
 * once, in order. */
RP_TEST(test_replicas_owner_death, 300)
{
	static const char *const points[] = {"mp-locked", "mp-cursor-moved",
					     "mp-claim-held"};
	char mid[256], *report;
	size_t wlen;
	char *want = lines(60000, 0, &wlen);

	rp_cmd_dir_make("replicas");
	rp_cmd_spit("in", want, wlen);
	/* (Under the sanitizers, which look for memory errors on the
	 * same paths, every 400th: half as many deaths.) */
	unsigned every = rp_test_sanitized() ? 400 : 200, least = 30000 / every;

	for (size_t i = 0; i < sizeof(points) / sizeof(*points); i++) {
		int code;
		unsigned r;
		snprintf(mid, sizeof(mid), "fault @replicas=3 --every %u "
			 "--do crashpoint:%s", every, points[i]);
		code = run_mid(mid, 1, &report);
		r = restarts(report);
		CU_ASSERT_EQUAL(code, 0);
		CU_ASSERT(out_is(want, wlen));
		/* Each replica dies at its 200th record, its next
		 * incarnation at its 400th, ...: some 300 deaths in all
		 * (150 every 400th). */
		CU_ASSERT(r >= least);
		if (code != 0 || r < least)
			fprintf(stderr, "%s: %u restarts\n%s\n", points[i], r,
				report);
		free(report);
	}
	free(want);
	rp_cmd_dir_remove();
}

/* A replica stuck while it holds the lock (stopped inside the critical
 * section) would stall the others: the supervisor kills it after
 * lock_timeout_ms, names it and the ring, and the run ends whole. */
RP_TEST(test_replicas_stuck_holder, 120)
{
	char *report;
	size_t wlen;
	char *want = lines(20000, 0, &wlen);
	int code;

	rp_cmd_dir_make("replicas");
	rp_cmd_spit("in", want, wlen);
	code = run_mid("fault @replicas=2 @lock_timeout_ms=200 --every 4000 "
		       "--do stall:mp-locked",
		       1, &report);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(out_is(want, wlen));
	CU_ASSERT(strstr(report, "held the lock of its output ring for over "
				 "200 ms: killed") != NULL);
	CU_ASSERT(restarts(report) >= 1);
	if (code != 0)
		fprintf(stderr, "%s\n", report);
	free(report);
	free(want);
	rp_cmd_dir_remove();
}

/* The stage after an ordered group finishes early (head): the copy
 * whose turn it is finds out as it reserves, and the others, waiting
 * for turns that will never come, find out too.  Five runs, each ends
 * with the first ten lines. */
RP_TEST(test_replicas_consumer_done_early, 120)
{
	char *report;
	size_t alen, wlen;
	char *all = lines(200000, 0, &alen), *want = lines(10, 0, &wlen);

	rp_cmd_dir_make("replicas");
	rp_cmd_spit("in", all, alen);
	for (int i = 0; i < 5; i++) {
		int code = run_mid("grep @replicas=3 line ! head 10", 0,
				   &report);
		CU_ASSERT_EQUAL(code, 0);
		CU_ASSERT(out_is(want, wlen));
		if (code != 0)
			fprintf(stderr, "%s\n", report);
		free(report);
	}
	free(all);
	free(want);
	rp_cmd_dir_remove();
}

/* Run MID between the file source and sink (see run_mid): it ends
 * well, its output is want, and its copies restarted at least
 * min_restarts times. */
static void run_expect(const char *mid, int fast, const char *want,
		       size_t wlen, unsigned min_restarts)
{
	char *report;
	int code = run_mid(mid, fast, &report);

	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(out_is(want, wlen));
	CU_ASSERT(restarts(report) >= min_restarts);
	if (code != 0)
		fprintf(stderr, "%.2000s\n", report);
	free(report);
}

/* Copies die on neighbouring records: the group counts each record's
 * deaths apart, and a death that quarantines its record counts one
 * fewer in a row, so with the default restart limits (five in a row,
 * backing off) three adjacent poison records are quarantined and the
 * run goes on.  And a copy dying inside a lock whose restart
 * backs off longer than lock_timeout_ms is no stuck holder: nobody
 * else is killed. */
RP_TEST(test_replicas_default_restarts, 120)
{
	static const char *const poison[] = {"line 5000\n", "line 5001\n",
					     "line 5002\n"};
	char *report;
	size_t wlen, w;
	char *all = lines(10000, 0, &wlen), *want = lines_without(10000,
		poison, sizeof(poison) / sizeof(*poison), &w);
	int code;

	/* Seconds of restart backoffs, the group's counting judged by
	 * the plain run; the sanitizers see the same paths elsewhere. */
	if (rp_test_sanitized()) {
		free(all);
		free(want);
		return;
	}
	rp_cmd_dir_make("replicas");
	rp_cmd_spit("in", all, wlen);
	code = run_mid("fault @replicas=3 @restart_backoff_ms=10 "
		       "--match '^line 500[012]$' --do crash:6",
		       0, &report);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(out_is(want, w));
	CU_ASSERT_EQUAL(sum_of(report, "quarantined "), 3);
	if (code != 0)
		fprintf(stderr, "%s\n", report);
	free(report);

	code = run_mid("fault @replicas=3 @restart_backoff_ms=1500 "
		       "@lock_timeout_ms=300 --every 3000 "
		       "--do crashpoint:mp-locked",
		       0, &report);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(out_is(all, wlen));
	CU_ASSERT(restarts(report) >= 1);
	CU_ASSERT(strstr(report, "the lock of its") == NULL);
	if (code != 0 || strstr(report, "the lock of its"))
		fprintf(stderr, "%s\n", report);
	free(report);

	/* Killed every 5th record a copy takes, fewer than a claim holds:
	 * a copy taking up its own claim again after its restart does not
	 * count its records twice, so it moves on instead of dying on the
	 * same one for ever.  Every line out, in order. */
	if (!rp_test_sanitized()) {
		run_expect("fault @replicas=3 --every 5 --do crash:9", 1, all,
			   wlen, 1000);
	} else {
		/* A fifth of it: each restart starts a sanitized process,
		 * and 2000 of them take most of this suite's time there. */
		size_t flen;
		char *fifth = lines(2000, 0, &flen);
		rp_cmd_spit("in", fifth, flen);
		run_expect("fault @replicas=3 --every 5 --do crash:9", 1,
			   fifth, flen, 200);
		rp_cmd_spit("in", all, wlen);
		free(fifth);
	}
	/* The same for --at: the record a copy died on, taken up again,
	 * is not chosen again (nor the ones before it): each copy dies once,
	 * at its own 20th record.  (SIGKILL: two copies whose 20th records
	 * fall on the same one would quarantine it after a crash.) */
	code = run_mid("fault @replicas=3 --at 20 --do crash:9", 1, &report);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(out_is(all, wlen));
	CU_ASSERT(restarts(report) >= 1 && restarts(report) <= 3);
	if (code != 0 || restarts(report) > 3)
		fprintf(stderr, "%.2000s\n", report);
	free(report);
	free(want);
	free(all);
	rp_cmd_dir_remove();
}

/* Outputs of a claim larger than a copy holds (1 MiB): each line of
 * 20 000 bytes comes out 15 times, a claim of 4 lines makes 1.2 MB, so a
 * copy waits for its turn in the middle of one and publishes the rest
 * directly.  The output is each line 15 times, in order; also with
 * copies SIGKILLed every 7th record they take. */
RP_TEST(test_replicas_large_outputs, 120)
{
	const size_t n = 60, width = 20000, copies = 15;
	char *all = malloc(n * width), *want = malloc(n * width * copies);
	size_t len = 0, wlen = 0;

	CU_ASSERT_FATAL(all != NULL && want != NULL);
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(all + len, width, "%zu ", i);
		memset(all + len + k, 'a' + (int)(i % 26), width - (size_t)k - 1);
		all[len + width - 1] = '\n';
		for (size_t c = 0; c < copies; c++, wlen += width)
			memcpy(want + wlen, all + len, width);
		len += width;
	}
	rp_cmd_dir_make("replicas");
	rp_cmd_spit("in", all, len);
	run_expect("fault @replicas=3 --copies 15", 0, want, wlen, 0);
	run_expect("fault @replicas=3 --copies 15 --every 7 --do crash:9", 1,
		   want, wlen, 5);
	free(want);
	free(all);
	rp_cmd_dir_remove();
}

/* Ctrl-C while copies work and wait for their turns: every copy ends
 * cancelled (exit 130), none failed.  Three runs, the signal at 150,
 * 300 and 450 ms. */
RP_TEST(test_replicas_ctrl_c, 90)
{
	char in[256], line[512], *rep;
	char *args[] = {"-e", line, NULL};
	size_t n;

	rp_cmd_dir_make("replicas");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 2000000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! grep @replicas=3 line ! "
		 "file-sink --lines OUT",
		 in);
	for (int i = 1; i <= 3; i++) {
		pid_t pid = rp_cmd_start(args, -1);
		int st;
		usleep(150000 * (useconds_t)i);
		kill(pid, SIGINT);
		st = rp_test_wait(pid, 20);
		rep = rp_cmd_slurp("REPORT", &n);
		if (rp_test_exit_code(st) != 130 && rp_test_exit_code(st) != 0)
			fprintf(stderr, "%.3000s\n", rep);
		/* (0: it was done before the signal came.) */
		CU_ASSERT(rp_test_exit_code(st) == 130 ||
			  rp_test_exit_code(st) == 0);
		CU_ASSERT(strstr(rep, "failed") == NULL);
		free(rep);
	}
	rp_cmd_dir_remove();
}

/* Copies killed 0-4 ms after they appear, while they start: one that
 * had attached to its rings before it died leaves its claim slots marked
 * for the next locker, so the copy started after it finds room.  Lines
 * stream in meanwhile; all of them come out, in order. */
RP_TEST(test_replicas_killed_while_starting, 120)
{
	char line[512], *report;
	char *args[] = {"-e", line, "--fast-restart", NULL};
	pid_t seen[512], sup;
	int nseen = 0, fds[2], kills = 0, code;
	size_t wlen, fed = 0;
	char *all = lines(40000, 0, &wlen);
	char out[256];

	srand((unsigned)getpid());
	rp_cmd_dir_make("replicas");
	rp_cmd_path(out, sizeof(out), "out");
	snprintf(line, sizeof(line),
		 "file-source --lines - ! grep @replicas=2 line ! file-sink "
		 "--lines %s",
		 out);
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	sup = rp_cmd_start(args, fds[0]);
	close(fds[0]);
	/* 20 kills, or 20 s (slow starts under the sanitizers), the
	 * input open and trickling meanwhile; then the rest of it. */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (t = t0; kills < 20 && t.tv_sec - t0.tv_sec < 20;
	     clock_gettime(CLOCK_MONOTONIC, &t)) {
		char path[64], buf[4096];
		struct timespec ts = {0, 2000000};
		size_t end = fed + 200 < wlen ? fed + 200 : wlen;
		FILE *f;
		while (end < wlen && all[end - 1] != '\n')
			end++;
		if (end > fed)
			CU_ASSERT_FATAL(write(fds[1], all + fed, end - fed) ==
					(ssize_t)(end - fed));
		fed = end;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
			 (int)sup, (int)sup);
		if ((f = fopen(path, "r")) == NULL)
			break;
		for (int kid; fscanf(f, "%d", &kid) == 1;) {
			char cl[128];
			int known = 0, fd;
			ssize_t n;
			for (int i = 0; i < nseen; i++)
				known |= seen[i] == kid;
			if (known || nseen >= 512)
				continue;
			snprintf(cl, sizeof(cl), "/proc/%d/cmdline", kid);
			fd = open(cl, O_RDONLY | O_CLOEXEC);
			n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
			if (fd >= 0)
				close(fd);
			/* The replicas only, once they run the stage binary
			 * (before, a child still shows our command line). */
			if (n <= 0 || memmem(buf, (size_t)n, "ringpipe-stage",
					     14) == NULL)
				continue;
			seen[nseen++] = kid;
			if (memmem(buf, (size_t)n, "\0grep\0", 6) == NULL)
				continue;
			ts.tv_nsec = (rand() % 4000) * 1000L;
			nanosleep(&ts, NULL);
			kills += kill(kid, SIGKILL) == 0;
		}
		fclose(f);
		nanosleep(&ts, NULL);
	}
	if (fed < wlen)
		CU_ASSERT_FATAL(write(fds[1], all + fed, wlen - fed) ==
				(ssize_t)(wlen - fed));
	fed = wlen;
	close(fds[1]);
	code = rp_test_exit_code(rp_test_wait(sup, 60));
	report = rp_cmd_slurp("REPORT", &wlen);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(kills >= 10);
	fprintf(stderr, "  %d kills\n", kills);
	CU_ASSERT(strstr(report, "Too many users") == NULL);
	if (code != 0)
		fprintf(stderr, "%d kills\n%s\n", kills, report);
	free(report);
	{
		size_t n;
		char *got = rp_cmd_slurp("out", &n);
		CU_ASSERT(n == fed && memcmp(got, all, n) == 0);
		free(got);
	}
	free(all);
	rp_cmd_dir_remove();
}

/* Unordered replicas publish as they finish: nothing is lost, a dead
 * one's records may come out twice, and the report says so for them and
 * the stages after them. */
RP_TEST(test_replicas_unordered, 120)
{
	char *report, *got;
	size_t wlen, n;
	char *want = lines(30000, 0, &wlen);
	int code, *seen = calloc(30000, sizeof(int)), missing = 0;

	rp_cmd_dir_make("replicas");
	rp_cmd_spit("in", want, wlen);
	code = run_mid("fault @replicas=3 @ordered=false --every 1000 "
		       "--do crashpoint:mp-claim-held",
		       1, &report);
	CU_ASSERT_EQUAL(code, 0);
	got = rp_cmd_slurp("out", &n);
	for (char *p = got; p < got + n;) {
		char *nl = memchr(p, '\n', (size_t)(got + n - p));
		int i = atoi(p + 5);
		if (nl == NULL || strncmp(p, "line ", 5) || i < 0 || i >= 30000)
			break;
		seen[i]++;
		p = nl + 1;
	}
	for (int i = 0; i < 30000; i++)
		missing += seen[i] == 0;
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT(n >= wlen);
	CU_ASSERT(restarts(report) >= 3); /* the faults did fire */
	CU_ASSERT(strstr(report, "delivery at-least-once: a dead replica's "
				 "records are done again") != NULL);
	CU_ASSERT(strstr(report, "delivery no better than 2-fault's") != NULL);
	free(got);
	free(seen);
	free(report);
	free(want);
	rp_cmd_dir_remove();
}

/* Parsers with replicas, one after the other, that abort on some
 * records, hang on one (record_timeout_ms) and try a syscall the sandbox
 * denies on another: each such record kills every replica that takes it
 * up, the group counts the deaths, and at quarantine_after the record
 * goes to the dead-letter output (named by its stage and its place in
 * the input) and every replica skips it.  Every other line comes out
 * once, in order. */
RP_TEST(test_replicas_quarantine, 120)
{
	static const char *const poison[] = {"line 3000\n", "line 7777\n",
					     "line 5000\n", "line 1234\n"};
	char *report, *dead;
	size_t wlen, n, w;
	char *all = lines(10000, 0, &wlen), *want = lines_without(10000,
		poison, sizeof(poison) / sizeof(*poison), &w);
	int code;

	rp_cmd_dir_make("replicas");
	rp_cmd_spit("in", all, wlen);
	code = run_mid("fault @replicas=3 --match '^line (3000|7777)$' "
		       "--do crash:6 "
		       "! fault @replicas=2 @record_timeout_ms=300 "
		       "--match '^line 5000$' --do hang "
		       "! fault @replicas=2 --match '^line 1234$' "
		       "--do syscall:openat",
		       1, &report);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(out_is(want, w));
	CU_ASSERT_EQUAL(sum_of(report, "quarantined "), 4);
	/* (SIGABRT: the sanitizers catch SIGSEGV, and their handler's
	 * first syscall is denied.) */
	CU_ASSERT(strstr(report, "killed by signal 6 (Aborted) on record at "
				 "input byte ") != NULL);
	CU_ASSERT(strstr(report, "exceeded its per-record timeout of 300 ms "
				 "on record at input byte ") != NULL);
	CU_ASSERT(strstr(report, "denied syscall openat (257) on record at "
				 "input byte ") != NULL);
	dead = rp_cmd_slurp("pipeline.dead.jsonl", &n);
	CU_ASSERT(strstr(dead, "\"stage\":\"2-fault\"") != NULL);
	CU_ASSERT(strstr(dead, "\"stage\":\"3-fault\"") != NULL);
	CU_ASSERT(strstr(dead, "\"stage\":\"4-fault\"") != NULL);
	CU_ASSERT(strstr(dead, "\"origin\":3000,") != NULL);
	CU_ASSERT(strstr(dead, "\"origin\":7777,") != NULL);
	if (code != 0 || sum_of(report, "quarantined ") != 4)
		fprintf(stderr, "%s\n", report);
	free(dead);
	free(report);
	free(want);
	free(all);
	rp_cmd_dir_remove();
}

/* Where replicas cannot work, the file is refused with its place and
 * the reason; as a one-liner they are @ settings, and each replica is a
 * line of the report. */
RP_TEST(test_replicas_configuration, 60)
{
	static const struct {
		const char *stage, *error;
	} bad[] = {
		{"  - {name: pick, input: read, run: count, replicas: 2}\n",
		 "stage 'pick': replicas: of the built-ins only grep, fault "
		 "and exec --each work record by record"},
		{"  - {name: pick, input: read, run: grep, args: [a],\n"
		 "     replicas: 2, standby: true}\n",
		 "standby and replicas do not go together"},
		{"  - {name: pick, input: read, run: exec, args: [cat],\n"
		 "     replicas: 2}\n",
		 "an exec stage's program keeps its state across records"},
		{"  - {name: pick, input: read, run: grep, replicas: 17}\n",
		 "replicas: expected a number from 1 to 16, got '17'"},
		{"  - {name: pick, input: read, run: grep, replicas: 0}\n",
		 "replicas: expected a number from 1 to 16, got '0'"},
		{"  - {name: pick, input: read, run: grep, replicas: 2, "
		 "lock_timeout_ms: 5}\n",
		 "lock_timeout_ms: expected a number from 10 to 3600000"},
	};
	char yaml[1024], *text, in[256], line[512];
	char *args[] = {"-e", line, NULL};
	int code;

	rp_cmd_dir_make("replicas");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(yaml, sizeof(yaml),
			 "name: x\n"
			 "stages:\n"
			 "  - {name: read, run: file-source, args: [/dev/null]}\n"
			 "%s",
			 bad[i].stage);
		code = rp_cmd_yaml("check", yaml, &text);
		CU_ASSERT_EQUAL(code, 2);
		CU_ASSERT(strstr(text, "p.yaml:4:") != NULL);
		CU_ASSERT(strstr(text, bad[i].error) != NULL);
		if (strstr(text, bad[i].error) == NULL)
			fprintf(stderr, "%zu: %s\n", i, text);
		free(text);
	}
	code = rp_cmd_yaml("check",
			   "name: x\n"
			   "stages:\n"
			   "  - {name: read, run: file-source, args: [/dev/null],\n"
			   "     replicas: 2}\n",
			   &text);
	CU_ASSERT_EQUAL(code, 2);
	CU_ASSERT(strstr(text, "a source cannot have replicas") != NULL);
	free(text);

	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! grep @replicas=4 'line 9' ! count",
		 in);
	code = rp_cmd_run(args, &text);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(strstr(text, "records=111 ") != NULL);
	CU_ASSERT(strstr(text, "2-grep.1 ") != NULL);
	CU_ASSERT(strstr(text, "2-grep.4 ") != NULL);
	CU_ASSERT(strstr(text, "(all replicas)") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* The ring underneath: on an ordered ring of several consumers, a
 * claim's turn comes once every record before it is released; a claim
 * holds new records or replays of ones claimed before, never both, and
 * replays are dropped where they are claimed; a claim holds at most 16
 * records, so copies share out what there is. */
RP_TEST(test_replicas_ring_turn, 30)
{
	struct rp_ring_config cfg = {
		.capacity = 4096,
		.flags = RP_RING_F_MP_CONSUMERS | RP_RING_F_ORDERED |
			 RP_RING_F_DEDUP,
		.nslots = 4};
	struct rp_ring_fds fds;
	struct rp_bell *pb, *cb;
	struct rp_producer *p;
	struct rp_consumer *a, *b;
	struct rp_view va, vb;
	/* keys: 0, 1, 1 again (a replay), 2, then 3 .. 22 */
	uint64_t keys[24] = {0, 1, 1, 2};
	int n;

	for (int i = 4; i < 24; i++)
		keys[i] = (uint64_t)i - 1;
	CU_ASSERT_FATAL(rp_ring_create(&cfg, &fds) == 0);
	CU_ASSERT_FATAL(rp_bell_create(0, &pb) == 0);
	CU_ASSERT_FATAL(rp_bell_create(0, &cb) == 0);
	CU_ASSERT_FATAL(rp_producer_open(&fds, pb, cb, &p) == 0);
	CU_ASSERT_FATAL(rp_consumer_open(&fds, cb, pb, &a) == 0);
	CU_ASSERT_FATAL(rp_consumer_open(&fds, cb, pb, &b) == 0);
	for (int i = 0; i < 4; i++) {
		struct rp_meta m = {.origin = keys[i], .type = RP_REC_T_DATA,
				    .flags = RP_REC_F_LAST};
		CU_ASSERT_FATAL(rp_send(p, &i, sizeof(i), &m, 0) == 0);
	}
	CU_ASSERT_FATAL(rp_flush(p) == 0);

	/* a claims keys 0 and 1, and stops before the replay. */
	CU_ASSERT_FATAL(rp_peek(a, &va) == 0);
	CU_ASSERT_EQUAL(va.origin, 0);
	CU_ASSERT_FATAL(rp_peek(a, &va) == 0);
	CU_ASSERT_EQUAL(va.origin, 1);
	CU_ASSERT_EQUAL(rp_peek(a, &va), -EBUSY);
	/* b's claim of the replay alone is dropped; its next is key 2. */
	CU_ASSERT_FATAL(rp_peek(b, &vb) == 0);
	CU_ASSERT_EQUAL(vb.origin, 2);
	CU_ASSERT_EQUAL(*(const int *)vb.data, 3);
	CU_ASSERT_EQUAL(rp_consumer_replays(b), 1);
	CU_ASSERT_EQUAL(rp_consumer_my_turn(a), 1);
	CU_ASSERT_EQUAL(rp_consumer_my_turn(b), 0); /* a still holds 0, 1 */
	CU_ASSERT_EQUAL(rp_release(a), 0);
	CU_ASSERT_EQUAL(rp_consumer_my_turn(b), 1);
	CU_ASSERT_EQUAL(rp_peek(b, &vb), -EBUSY);
	CU_ASSERT_EQUAL(rp_release(b), 0);

	/* Twenty more: a claims 16 of them, b the other 4. */
	for (int i = 4; i < 24; i++) {
		struct rp_meta m = {.origin = keys[i], .type = RP_REC_T_DATA,
				    .flags = RP_REC_F_LAST};
		CU_ASSERT_FATAL(rp_send(p, &i, sizeof(i), &m, 0) == 0);
	}
	CU_ASSERT_FATAL(rp_flush(p) == 0);
	for (n = 0; rp_peek(a, &va) == 0; n++)
		CU_ASSERT_EQUAL(va.origin, 3 + (uint64_t)n);
	CU_ASSERT_EQUAL(n, 16);
	for (n = 0; rp_peek(b, &vb) == 0; n++)
		CU_ASSERT_EQUAL(vb.origin, 19 + (uint64_t)n);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(rp_consumer_my_turn(b), 0);
	CU_ASSERT_EQUAL(rp_release(b), 0); /* out of turn: the head waits */
	CU_ASSERT_EQUAL(rp_release(a), 0);
	CU_ASSERT_EQUAL(rp_producer_end(p), 0);
	CU_ASSERT_EQUAL(rp_peek(b, &vb), -ENODATA);

	/* Ordered needs several consumers. */
	cfg.flags = RP_RING_F_ORDERED;
	{
		struct rp_ring_fds bad;
		CU_ASSERT_EQUAL(rp_ring_create(&cfg, &bad), -EINVAL);
	}
	rp_consumer_close(a);
	rp_consumer_close(b);
	rp_producer_close(p);
	rp_bell_close(pb);
	rp_bell_close(cb);
	rp_ring_fds_close(&fds);
}

void rp_suite_replicas(void)
{
	RP_SUITE("replicas",
		 {"replicas: 150 SIGKILLs at random, output as without",
		  test_replicas_random_kills},
		 {"replicas: deaths at each step of a claim on the shared lock",
		  test_replicas_owner_death},
		 {"replicas: one stuck holding the lock is killed",
		  test_replicas_stuck_holder},
		 {"replicas: a poison record is quarantined once for all",
		  test_replicas_quarantine},
		 {"replicas: the stage after them done early ends them",
		  test_replicas_consumer_done_early},
		 {"replicas: outputs of a claim over what a copy holds",
		  test_replicas_large_outputs},
		 {"replicas: Ctrl-C while copies wait for their turns",
		  test_replicas_ctrl_c},
		 {"replicas: neighbouring poison records, default restarts",
		  test_replicas_default_restarts},
		 {"replicas: copies killed while they start",
		  test_replicas_killed_while_starting},
		 {"replicas: unordered lose nothing and say they may repeat",
		  test_replicas_unordered},
		 {"replicas: where refused, and as a one-liner setting",
		  test_replicas_configuration},
		 {"replicas: the ring's turn to publish and replays at claim",
		  test_replicas_ring_turn});
}
