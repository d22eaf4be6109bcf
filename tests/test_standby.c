/*
 * test_standby.c - a stage's standby: it takes over at a crash, it is
 * replaced when it dies waiting, it goes with the pipeline, and a
 * pipeline that asks for one where it cannot be used is refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../stage/wiring.h"
#include "cmd.h"
#include "harness.h"

void rp_suite_standby(void);

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* What `ringpipe stat NAME --json` says of stage: its pid and its
 * standby's (0 when it has none ready).  0, or -1 (not running yet).
 * Its output comes through a pipe: the run's own REPORT is not touched. */
static int stat_pids(const char *pipeline, const char *stage, pid_t *pid,
		     pid_t *standby)
{
	static char text[65536];
	char key[96], *at, *end, *sb;

	*pid = *standby = 0;
	if (rp_cmd_stat_json(pipeline, text, sizeof(text)) != 0)
		return -1;
	snprintf(key, sizeof(key), "{\"name\":\"%s\"", stage);
	if ((at = strstr(text, key)) != NULL) {
		if ((end = strstr(at + 1, "{\"name\":")) != NULL)
			*end = '\0';
		sb = strstr(at, "\"standby_pid\":");
		if (sb && strncmp(sb + 14, "null", 4) != 0)
			*standby = (pid_t)atoi(sb + 14);
	}
	*pid = rp_cmd_stat_pid(text, stage);
	return *pid > 0 ? 0 : -1;
}

/* Wait (10 s at most) until stat shows stage running as a pid other
 * than not_pid, with a standby ready other than those in not_sb. */
static int await_pids(const char *pipeline, const char *stage, pid_t not_pid,
		      const pid_t *not_sb, int nnot, pid_t *pid,
		      pid_t *standby)
{
	for (int i = 0; i < 500; i++) {
		int fresh = 1;
		if (stat_pids(pipeline, stage, pid, standby) == 0 &&
		    *pid != not_pid && *standby > 0) {
			for (int j = 0; j < nnot; j++)
				fresh &= *standby != not_sb[j];
			if (fresh)
				return 0;
		}
		nap_ms(20);
	}
	return -1;
}

static void write_lines(int fd, int from, int to)
{
	char buf[64];

	for (int i = from; i < to; i++) {
		int n = snprintf(buf, sizeof(buf), "line %d\n", i);
		CU_ASSERT_EQUAL_FATAL(write(fd, buf, (size_t)n), n);
	}
}

/* Gone: no such process (pids are not reused this fast). */
static int gone(pid_t pid)
{
	for (int i = 0; i < 100; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return 1;
		nap_ms(20);
	}
	return 0;
}

static void write_pipeline(const char *name, const char *out)
{
	char yaml[1024];
	int n = snprintf(yaml, sizeof(yaml),
			 "name: %s\n"
			 "stages:\n"
			 "  - {name: read, run: file-source, args: [--lines, "
			 "\"-\"]}\n"
			 "  - {name: pick, input: read, run: grep, args: "
			 "[line], standby: true}\n"
			 "  - {name: write, input: pick, run: file-sink, "
			 "args: [--lines, \"%s\"]}\n",
			 name, out);
	rp_cmd_spit("p.yaml", yaml, (size_t)n);
}

/* In a scratch directory, the pipeline called name (a 'pick' stage with
 * a standby between a stdin source and a file sink, out), running with
 * its stdin fed by *feed.  The supervisor's pid. */
static pid_t start_pipeline(const char *name, int *feed)
{
	char p[256], out[256];
	char *args[] = {"run", p, NULL};
	int fds[2];
	pid_t sup;

	rp_cmd_dir_make("standby");
	rp_cmd_path(p, sizeof(p), "p.yaml");
	rp_cmd_path(out, sizeof(out), "out");
	write_pipeline(name, out);
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	sup = rp_cmd_start(args, fds[0]);
	close(fds[0]);
	*feed = fds[1];
	return sup;
}

/* The running stage is killed: its standby takes over at once, not
 * after the restart backoff (the pid stat shows is the standby's), and
 * a new standby follows.  The standby
 * killed while it waits: another replaces it, the stage runs on.  No
 * line is lost or written twice, the report says who restarted it, and
 * every process is gone at the end. */
RP_TEST(test_standby_takes_over, 60)
{
	char name[64], *text, *got;
	int feed, code;
	pid_t sup, p1, s1, p2, s2, p3, s3;
	size_t n;

	snprintf(name, sizeof(name), "standby-%d", (int)getpid());
	sup = start_pipeline(name, &feed);
	write_lines(feed, 0, 100);

	CU_ASSERT_FATAL(await_pids(name, "pick", 0, NULL, 0, &p1, &s1) == 0);
	CU_ASSERT_NOT_EQUAL(p1, s1);
	CU_ASSERT_EQUAL(kill(p1, SIGKILL), 0);
	/* The standby is the stage now, and another one waits. */
	CU_ASSERT_FATAL(await_pids(name, "pick", p1, &s1, 1, &p2, &s2) == 0);
	CU_ASSERT_EQUAL(p2, s1);
	write_lines(feed, 100, 200);

	/* Killing the standby itself costs the stage nothing. */
	CU_ASSERT_EQUAL(kill(s2, SIGKILL), 0);
	{
		pid_t seen[] = {s1, s2};
		CU_ASSERT_FATAL(await_pids(name, "pick", 0, seen, 2, &p3,
					   &s3) == 0);
	}
	CU_ASSERT_EQUAL(p3, p2);
	write_lines(feed, 200, 300);
	close(feed);

	code = rp_test_exit_code(rp_test_wait(sup, 30));
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(strstr(text, "restarted 1 time (1 by its standby)") != NULL);
	/* At once, not after restart_backoff_ms (100 ms by default). */
	CU_ASSERT(strstr(text, "restarting in 0 ms (1 of at most") != NULL);
	CU_ASSERT(strstr(text, "standby: died while waiting (signal 9") !=
		  NULL);
	if (code != 0)
		fprintf(stderr, "%s\n", text);
	free(text);
	/* Every line once, in order. */
	got = rp_cmd_slurp("out", &n);
	{
		char want[300 * 16];
		size_t w = 0;
		for (int i = 0; i < 300; i++)
			w += (size_t)snprintf(want + w, sizeof(want) - w,
					      "line %d\n", i);
		CU_ASSERT_EQUAL(n, w);
		CU_ASSERT(n == w && memcmp(got, want, w) == 0);
	}
	free(got);
	CU_ASSERT(gone(p2));
	CU_ASSERT(gone(s3));
	rp_cmd_dir_remove();
}

/* Ctrl-C with standbys waiting: the run ends 130 and the standbys are
 * gone with the stages. */
RP_TEST(test_standby_goes_with_the_run, 60)
{
	char name[64];
	int feed, code;
	pid_t sup, pid, sb;

	snprintf(name, sizeof(name), "standby-int-%d", (int)getpid());
	sup = start_pipeline(name, &feed);
	write_lines(feed, 0, 10);
	CU_ASSERT_FATAL(await_pids(name, "pick", 0, NULL, 0, &pid, &sb) == 0);
	CU_ASSERT_EQUAL(kill(sup, SIGINT), 0);
	code = rp_test_exit_code(rp_test_wait(sup, 30));
	close(feed);
	CU_ASSERT_EQUAL(code, 130);
	CU_ASSERT(gone(pid));
	CU_ASSERT(gone(sb));
	rp_cmd_dir_remove();
}

/* A standby attaches to its stage's rings as it starts, while the stage
 * runs.  One that finds a ring changed there by the stage across it (the
 * consumer's copy of its input ring's geometry, on the consumer's own
 * page) says so as it dies: the supervisor pins it on that consumer,
 * as it would at a restart, and the run fails (exit 1).  Before, the
 * claim was taken for the standby's own failure to start, standbys
 * were retried, then given up, and the run went on. */
RP_TEST(test_standby_claim_judged, 60)
{
	char name[64], p[256], yaml[1024], *text;
	char *args[] = {"run", p, NULL};
	int fds[2], n, code, changed = 0;
	pid_t sup, pid = 0, sb = 0;
	size_t len;

	snprintf(name, sizeof(name), "standby-claim-%d", (int)getpid());
	rp_cmd_dir_make("standby");
	rp_cmd_path(p, sizeof(p), "p.yaml");
	n = snprintf(yaml, sizeof(yaml),
		     "name: %s\n"
		     "stages:\n"
		     "  - {name: read, run: file-source, args: [--lines, "
		     "\"-\"]}\n"
		     "  - {name: pick, input: read, run: grep, args: [line], "
		     "standby: true, restart_backoff_ms: 0}\n"
		     "  - {name: bend, input: pick, run: fault, ring: 4K, "
		     "args: [--at, \"5\", --do, \"geometry:stay\"]}\n"
		     "  - {name: tally, input: bend, run: count}\n",
		     name);
	rp_cmd_spit("p.yaml", yaml, (size_t)n);
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	sup = rp_cmd_start(args, fds[0]);
	close(fds[0]);
	CU_ASSERT_FATAL(await_pids(name, "pick", 0, NULL, 0, &pid, &sb) == 0);
	write_lines(fds[1], 0, 20);
	for (int i = 0; i < 500 && !changed; i++) {
		text = rp_cmd_slurp("REPORT", &len);
		changed = strstr(text, "changed the geometry of its input "
				       "ring on its own page") != NULL;
		free(text);
		nap_ms(20);
	}
	CU_ASSERT(changed);
	/* Its standby takes over (attached before the change: it runs
	 * on); the next standby finds the change as it attaches. */
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	code = rp_test_exit_code(rp_test_wait(sup, 20));
	close(fds[1]);
	text = rp_cmd_slurp("REPORT", &len);
	CU_ASSERT_EQUAL(code, 1);
	if (strstr(text, "stage bend: changed the geometry of its input ring "
			 "where only it can write, against the supervisor's "
			 "copy (detected by pick's standby); killed") == NULL ||
	    strstr(text, "could not start") != NULL) {
		fprintf(stderr, "%s\n", text);
		CU_FAIL("a standby's claim was not judged");
	}
	free(text);
	CU_ASSERT(gone(pid));
	CU_ASSERT(gone(sb));
	rp_cmd_dir_remove();
}

/* A poison record kills the stage twice in a row: its standby takes the
 * first death over at once, the second (which quarantines the record)
 * waits its backoff as a cold restart would, so that a crash loop does
 * not use up one standby after another. */
RP_TEST(test_standby_series_backs_off, 60)
{
	char name[64], p[256], yaml[768], *text, *out;
	char *args[] = {"run", p, NULL};
	int fds[2], code, len;
	pid_t sup, pid = 0, sb = 0;
	size_t n;

	snprintf(name, sizeof(name), "sbseries-%d", (int)getpid());
	rp_cmd_dir_make("standby");
	rp_cmd_path(p, sizeof(p), "p.yaml");
	len = snprintf(yaml, sizeof(yaml),
		       "name: %s\nstages:\n"
		       "  - {name: read, run: file-source, args: [--lines, "
		       "\"-\"]}\n"
		       "  - {name: pick, input: read, run: fault, standby: "
		       "true,\n"
		       "     args: [--match, \"^line 500$\", --do, crash]}\n"
		       "  - {name: write, input: pick, run: file-sink, "
		       "args: [--lines, out]}\n",
		       name);
	rp_cmd_spit("p.yaml", yaml, (size_t)len);
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	sup = rp_cmd_start(args, fds[0]);
	close(fds[0]);
	/* Its standby ready before the poison record comes. */
	CU_ASSERT_FATAL(await_pids(name, "pick", 0, NULL, 0, &pid, &sb) == 0);
	write_lines(fds[1], 0, 1000);
	close(fds[1]);
	code = rp_test_exit_code(rp_test_wait(sup, 30));
	CU_ASSERT_EQUAL(code, 0);
	text = rp_cmd_slurp("REPORT", &n);
	if (!strstr(text, "on record 500; restarting in 0 ms (1 of at most "
			  "5 in a row)") ||
	    !strstr(text, "on record 500; restarting in 200 ms") ||
	    !strstr(text, "record 500 quarantined")) {
		fprintf(stderr, "%s\n", text);
		CU_FAIL("a standby's series not backed off");
	}
	free(text);
	out = rp_cmd_slurp("out", &n);
	CU_ASSERT(n == 8890 - 9 && strstr(out, "line 500\n") == NULL);
	free(out);
	rp_cmd_dir_remove();
}

/* A standby for a stage that is never restarted would never be used:
 * refused, naming the stage and the place.  In a one-liner it is an
 * @standby setting, and the JSON report counts take-overs. */
RP_TEST(test_standby_configuration, 30)
{
	char *text = NULL, in[256], jpath[256], line[512];
	char *args[] = {"-e", line, "--report-json", jpath, NULL};
	int code;
	size_t n;

	rp_cmd_dir_make("standby");
	code = rp_cmd_yaml("check",
			   "name: x\n"
			   "stages:\n"
			   "  - {name: read, run: file-source, args: [/dev/null]}\n"
			   "  - {name: pick, input: read, run: grep, args: [a],\n"
			   "     restart: never, standby: true}\n",
			   &text);
	CU_ASSERT_EQUAL(code, 2);
	CU_ASSERT(strstr(text, "p.yaml:4:") != NULL);
	CU_ASSERT(strstr(text, "stage 'pick': standby needs a restart "
			       "policy") != NULL);
	free(text);
	code = rp_cmd_yaml("check",
			   "name: x\n"
			   "stages:\n"
			   "  - {name: read, run: file-source, args: [/dev/null]}\n"
			   "  - {name: pick, input: read, run: grep, args: [a],\n"
			   "     standby: maybe}\n",
			   &text);
	CU_ASSERT_EQUAL(code, 2);
	CU_ASSERT(strstr(text, "standby") != NULL);
	free(text);

	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_path(jpath, sizeof(jpath), "r.json");
	rp_cmd_write_lines(in, 1000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! grep @standby=true 'line 9' ! count",
		 in);
	code = rp_cmd_run(args, &text);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(strstr(text, "records=111 ") != NULL);
	free(text);
	text = rp_cmd_slurp("r.json", &n);
	CU_ASSERT(strstr(text, "\"name\":\"2-grep\"") != NULL);
	CU_ASSERT(strstr(text, "\"takeovers\":0") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* The word to take over carries what only a restart knows, at its
 * longest, and nothing else: a standby refuses any other key (its rings
 * and sandbox were fixed when it started) and forgets what it had. */
RP_TEST(test_takeover_word, 10)
{
	struct rp_wiring w, back;
	char buf[RP_WIRING_TAKEOVER_MAX];

	rp_wiring_init(&w);
	w.has_seq = 1;
	w.seq = UINT64_MAX / 2;
	for (unsigned i = 0; i < RP_WIRING_MAX_SKIP; i++)
		w.skip[w.nskip++] = UINT64_MAX / 2 - i;
	w.chaos_gen = UINT32_MAX;
	w.incarnation = UINT32_MAX;
	CU_ASSERT_FATAL(rp_wiring_format_takeover(&w, buf, sizeof(buf)) == 0);
	rp_wiring_init(&back);
	back.nskip = 3;
	CU_ASSERT_FATAL(rp_wiring_take_over(buf, &back) == 0);
	CU_ASSERT(back.has_seq && back.seq == w.seq);
	CU_ASSERT_EQUAL(back.nskip, RP_WIRING_MAX_SKIP);
	CU_ASSERT(memcmp(back.skip, w.skip, sizeof(w.skip)) == 0);
	CU_ASSERT_EQUAL(back.chaos_gen, UINT32_MAX);
	CU_ASSERT_EQUAL(back.incarnation, UINT32_MAX);

	/* An empty word: a first incarnation's defaults. */
	CU_ASSERT(rp_wiring_take_over("", &back) == 0);
	CU_ASSERT(!back.has_seq && back.nskip == 0 && back.chaos_gen == 0);

	CU_ASSERT(rp_wiring_take_over("inc=2;cin=3,4", &back) == -EINVAL);
	CU_ASSERT(strstr(back.error, "key 'cin' not allowed") != NULL);
	CU_ASSERT(rp_wiring_take_over("policy=none", &back) == -EINVAL);
	CU_ASSERT(rp_wiring_take_over("inc=0", &back) == -EINVAL);
	CU_ASSERT(rp_wiring_take_over("seq", &back) == -EINVAL);
	CU_ASSERT(rp_wiring_take_over("skip=1+2+3+4+5+6+7+8+9+10+11+12+13+"
				      "14+15+16+17", &back) == -EINVAL);
	CU_ASSERT(rp_wiring_format_takeover(&w, buf, 16) == -ENOSPC);
}

void rp_suite_standby(void)
{
	RP_SUITE("standby",
		 {"the standby takes over at a crash and is replaced",
		  test_standby_takes_over},
		 {"a series of failures: only the first taken over at once",
		  test_standby_series_backs_off},
		 {"standbys go with the run at Ctrl-C",
		  test_standby_goes_with_the_run},
		 {"a standby's claim of a ring broken is judged",
		  test_standby_claim_judged},
		 {"standby: where it is refused, and as a one-liner setting",
		  test_standby_configuration},
		 {"the word to take over carries only restart facts",
		  test_takeover_word});
}
