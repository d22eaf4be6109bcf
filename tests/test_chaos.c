/*
 * test_chaos.c - ringpipe chaos, as a user runs it: a seeded fault
 * schedule against a pipeline, judged against a fault-free run.  The
 * judge must pass a pipeline that recovers exactly once, and must catch
 * one whose output is not the reference's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/futex.h"

#include "../supervisor/chaos.h"
#include "../supervisor/chaos_judge.h"
#include "cmd.h"
#include "harness.h"

void rp_suite_chaos(void);

static void write_pipeline_of(const char *yaml_name, const char *middle,
			      int lines)
{
	char in[256], text[1500];

	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, lines);
	snprintf(text, sizeof(text),
		 "name: chaos\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, in],"
		 " ring: 64k}\n"
		 "%s"
		 "  - {name: tally, input: mid, run: count, ring: 64k}\n"
		 "  - {name: write, input: tally, run: file-sink,"
		 " args: [--lines, out], ring: 64k}\n",
		 middle);
	rp_cmd_spit(yaml_name, text, strlen(text));
}

/* Write yaml as yaml_name in the directory, and its input "in" of n
 * lines. */
static void spit_with_input(const char *yaml_name, const char *yaml, int n)
{
	char in[256];

	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, n);
	rp_cmd_spit(yaml_name, yaml, strlen(yaml));
}

static void write_pipeline(const char *yaml_name, const char *middle)
{
	write_pipeline_of(yaml_name, middle, 200000);
}

/* A chaos JSON file's "schedule" (every fault drawn, "kind@stage ...")
 * into sched, and the faults that came, as the same words, into done.
 * The number of those. */
static int schedule_of(const char *json_name, char *sched, char *done,
		       size_t len)
{
	size_t n, at = 0;
	char *json = rp_cmd_slurp(json_name, &n), *p = json, *s;
	int count = 0;

	sched[0] = done[0] = '\0';
	if ((s = strstr(json, "\"schedule\":\"")) != NULL)
		sscanf(s, "\"schedule\":\"%2000[^\"]", sched);
	while ((p = strstr(p, "{\"kind\":\"")) != NULL && at + 1 < len) {
		char kind[32] = "", stage[64] = "";
		s = strstr(p, "\"stage\":\"");
		if (sscanf(p, "{\"kind\":\"%31[^\"]", kind) != 1 || s == NULL ||
		    sscanf(s, "\"stage\":\"%63[^\"]", stage) != 1)
			break;
		at += (size_t)snprintf(done + at, len - at, "%s%s@%s",
				       count ? " " : "", kind, stage);
		count++;
		p = s;
	}
	free(json);
	return count;
}

/* Kills and stops at random points of a library pipeline: the judge
 * finds nothing lost, repeated or reordered, the run finished, and the
 * JSON says so too; the same seed gives the same schedule. */
RP_TEST(test_chaos_kill_stop_is_safe, 120)
{
	char *args[] = {"chaos",   "c.yaml",   "--seed",  "11",
			"--faults", "12",      "--every", "25",
			"--kinds", "kill,stop", "--json", "c.json", NULL};
	char *text, *json;
	size_t n;

	rp_cmd_dir_make("chaos");
	write_pipeline("c.yaml", "  - {name: mid, input: read, run: grep, "
				 "args: [\"[05]$\"], ring: 64k}\n");
	/* The pipeline's own output (a real job's) is left alone: the runs
	 * write beside it. */
	rp_cmd_spit("out", "precious\n", 9);
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	json = rp_cmd_slurp("out", &n);
	CU_ASSERT(json != NULL && n == 9 && memcmp(json, "precious\n", 9) == 0);
	free(json);
	CU_ASSERT_EQUAL(rp_cmd_lines("out.chaos"), 40000);
	CU_ASSERT(strstr(text, "safety      ok: lost 0, duplicated 0, "
			       "order kept, quarantined 0") != NULL);
	CU_ASSERT(strstr(text, "liveness    ok: finished") != NULL);
	CU_ASSERT(strstr(text, "reference   ") != NULL &&
		  strstr(text, " 40000 records in out.chaos-ref") != NULL);
	CU_ASSERT(strstr(text, "replay      ringpipe chaos c.yaml --seed 11 "
			       "--faults 12 --every 25 --kinds kill,stop") !=
		  NULL);
	json = rp_cmd_slurp("c.json", &n);
	CU_ASSERT(strstr(json, "\"lost\":0,\"duplicated\":0,"
			       "\"reordered\":false") != NULL);
	CU_ASSERT(strstr(json, "\"safe\":true,\"finished\":true") != NULL);
	CU_ASSERT(strstr(json, "\"kind\":\"kill\"") != NULL ||
		  strstr(json, "\"kind\":\"stop\"") != NULL);
	free(json);
	free(text);
	{
		/* The same seed again: the same faults at the same stages
		 * (as far as both runs went: one may finish first). */
		char *again[] = {"chaos",   "c.yaml",   "--seed",  "11",
				 "--faults", "12",      "--every", "25",
				 "--kinds", "kill,stop", "--json", "d.json",
				 NULL};
		char s1[2048], s2[2048], d1[2048], d2[2048];
		int n1, n2, words = 0;
		CU_ASSERT_EQUAL(rp_cmd_run(again, &text), 0);
		free(text);
		n1 = schedule_of("c.json", s1, d1, sizeof(d1));
		n2 = schedule_of("d.json", s2, d2, sizeof(d2));
		for (const char *c = s1; *c; c++)
			words += *c == '@';
		/* The whole schedule, drawn before the run: the same. */
		CU_ASSERT_EQUAL(words, 12);
		CU_ASSERT_STRING_EQUAL(s1, s2);
		/* What came is the schedule's start, fault by fault (a
		 * run may end before the rest). */
		CU_ASSERT(n1 > 0 && n2 > 0);
		CU_ASSERT(strncmp(s1, d1, strlen(d1)) == 0);
		CU_ASSERT(strncmp(s2, d2, strlen(d2)) == 0);
		if (strcmp(s1, s2) != 0 || strncmp(s1, d1, strlen(d1)) != 0)
			fprintf(stderr, "seed 11: %s\n  came: %s\nagain: "
					"%s\n  came: %s\n",
				s1, d1, s2, d2);
	}

	/* Lines cut by lines out of 1000-byte chunks: a line spans two
	 * records, and a restart must cut it again from its start. */
	{
		char *largs[] = {"chaos",   "l.yaml", "--seed", "3",
				 "--faults", "30",    "--every", "10",
				 "--kinds", "kill,stop", NULL};
		const char *yaml =
			"name: lines\nstages:\n"
			"  - {name: read, run: file-source, args: [--chunks, "
			"\"1000\", in], ring: 16k, restart_backoff_ms: 0}\n"
			"  - {name: cut, input: read, run: lines, ring: 16k, "
			"restart_backoff_ms: 0}\n"
			"  - {name: write, input: cut, run: file-sink, args: "
			"[--lines, out], ring: 16k, restart_backoff_ms: 0}\n";
		rp_cmd_spit("l.yaml", yaml, strlen(yaml));
		CU_ASSERT_EQUAL(rp_cmd_run(largs, &text), 0);
		if (strstr(text, "safety      ok") == NULL)
			fprintf(stderr, "%s\n", text);
		CU_ASSERT(strstr(text, "safety      ok: lost 0, duplicated 0, "
				       "order kept") != NULL);
		/* Kills there were, among the faults the first line
		 * counts. */
		{
			char *eol = strchr(text, '\n');
			if (eol)
				*eol = '\0';
			CU_ASSERT(strstr(text, " kill") != NULL);
		}
		free(text);
	}
	rp_cmd_dir_remove();
}

/* The stages named by "stage X: killed by signal 9" in a log, in order,
 * as "X X ..." into out. */
static void killed_in_log(const char *log, char *out, size_t len)
{
	static const char key[] = "ringpipe: stage ";
	size_t at = 0;

	out[0] = '\0';
	for (const char *p = log; (p = strstr(p, key)) != NULL; p++) {
		const char *name = p + sizeof(key) - 1;
		size_t nl = strcspn(name, ":\n");
		if (strncmp(name + nl, ": killed by signal 9 ", 21) != 0 ||
		    at + nl + 2 >= len)
			continue;
		at += (size_t)snprintf(out + at, len - at, "%s%.*s",
				       at ? " " : "", (int)nl, name);
	}
}

/* Two stages with the same command line: each kill hits the stage the
 * schedule names (the supervisor says which process runs which), so the
 * stages its log says were killed, in order, are the schedule's kills
 * that came.  (Picked by command line, either stage's process could be
 * hit for either.) */
RP_TEST(test_chaos_same_command_lines, 120)
{
	char *args[] = {"chaos",    "c.yaml", "--seed",  "7",
			"--faults", "10",     "--every", "30",
			"--kinds",  "kill",   "--json",  "c.json", NULL};
	char *text, *json, *log, drawn[1024] = "", hit[1024];
	size_t n, at = 0;
	int g1 = 0, mid = 0;

	/* The sanitizers see the table read and written by the other
	 * chaos tests: this one is about which process is hit. */
	if (rp_test_sanitized())
		return;
	rp_cmd_dir_make("chaos");
	write_pipeline_of("c.yaml",
			  "  - {name: g1, input: read, run: grep, "
			  "args: [\"[05]$\"], ring: 64k}\n"
			  "  - {name: mid, input: g1, run: grep, "
			  "args: [\"[05]$\"], ring: 64k}\n",
			  1000000);
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	CU_ASSERT(strstr(text, "safety      ok: lost 0, duplicated 0") !=
		  NULL);
	json = rp_cmd_slurp("c.json", &n);
	for (const char *p = json; (p = strstr(p, "{\"kind\":\"kill\"")) != NULL;
	     p++) {
		char stage[64] = "";
		const char *s = strstr(p, "\"stage\":\""),
			   *m = strstr(p, "\"missed\":");
		if (s == NULL || m == NULL ||
		    sscanf(s, "\"stage\":\"%63[^\"]", stage) != 1)
			break;
		if (strncmp(m, "\"missed\":false", 14) != 0)
			continue;
		g1 += strcmp(stage, "g1") == 0;
		mid += strcmp(stage, "mid") == 0;
		at += (size_t)snprintf(drawn + at, sizeof(drawn) - at, "%s%s",
				       at ? " " : "", stage);
	}
	log = rp_cmd_slurp("out.chaos.log", &n);
	killed_in_log(log, hit, sizeof(hit));
	/* Both twins were drawn (seed 7), and each kill hit its own. */
	CU_ASSERT(g1 > 0 && mid > 0);
	CU_ASSERT_STRING_EQUAL(hit, drawn);
	if (strcmp(hit, drawn) != 0)
		fprintf(stderr, "drawn: %s\nhit:   %s\n%s\n", drawn, hit,
			text);
	free(log);
	free(json);
	free(text);
	rp_cmd_dir_remove();
}

/* A sums file instead of a reference run: the reference run keeps one
 * (FILE.chaos-ref.sums, a digest a line); given it, chaos runs no
 * reference and judges the same; a digest changed in it is caught as a
 * line lost and one duplicated (exit 1); a file that is not one is
 * refused, naming its line (exit 2). */
RP_TEST(test_chaos_expect_sums, 120)
{
	char *first[] = {"chaos",    "c.yaml", "--seed",  "3",
			 "--faults", "3",      "--every", "20", NULL};
	char *again[] = {"chaos",	"c.yaml",   "--seed",	 "3",
			 "--faults",	"6",	    "--every",	 "20",
			 "--kinds",	"kill,stop", "--expect", "kept.sums",
			 "--json",	"c.json",    NULL};
	char *bad[] = {"chaos",	   "c.yaml", "--faults", "1",
		       "--expect", "x.sums", NULL};
	char *text, *sums, path[256];
	size_t n;
	int lines = 0;

	rp_cmd_dir_make("chaos");
	write_pipeline("c.yaml", "  - {name: mid, input: read, run: grep, "
				 "args: [\"[05]$\"], ring: 64k}\n");
	CU_ASSERT_EQUAL(rp_cmd_run(first, &text), 0);
	CU_ASSERT(strstr(text, "records in out.chaos-ref (sums in "
			       "out.chaos-ref.sums)") != NULL);
	free(text);
	sums = rp_cmd_slurp("out.chaos-ref.sums", &n);
	for (size_t i = 0; i < n; i++)
		lines += sums[i] == '\n';
	CU_ASSERT(strncmp(sums, "ringpipe chaos sums 1 xxh3-64\n", 30) == 0);
	CU_ASSERT_EQUAL(lines, 40001);
	CU_ASSERT_FATAL(n == 30 + 40000 * 17);
	rp_cmd_spit("kept.sums", sums, n);
	rp_cmd_path(path, sizeof(path), "out.chaos-ref.sums");
	unlink(path);
	rp_cmd_path(path, sizeof(path), "out.chaos-ref");
	unlink(path);

	/* No reference run, the same verdict. */
	CU_ASSERT_EQUAL(rp_cmd_run(again, &text), 0);
	CU_ASSERT(strstr(text, "reference   none run: 40000 records expected "
			       "by kept.sums") != NULL);
	CU_ASSERT(strstr(text, "safety      ok: lost 0, duplicated 0") !=
		  NULL);
	CU_ASSERT(strstr(text, "--expect kept.sums") != NULL);
	/* (Nor its sums written again.) */
	CU_ASSERT(access(path, F_OK) != 0);
	CU_ASSERT_EQUAL(rp_cmd_lines("out.chaos-ref.sums"), 0);
	free(text);
	text = rp_cmd_slurp("c.json", &n);
	CU_ASSERT(strstr(text, "\"expect\":\"kept.sums\"") != NULL);
	CU_ASSERT(strstr(text, "\"reference_records\":40000,") != NULL);
	free(text);
	free(sums);
	sums = rp_cmd_slurp("kept.sums", &n);

	/* The 100th record's digest changed: that record lost, and one
	 * the sums do not hold came. */
	sums[30 + 99 * 17] = sums[30 + 99 * 17] == '0' ? '1' : '0';
	rp_cmd_spit("x.sums", sums, n);
	CU_ASSERT_EQUAL(rp_cmd_run(bad, &text), 1);
	CU_ASSERT(strstr(text, "safety      VIOLATED: lost 1, duplicated 1") !=
		  NULL);
	free(text);

	/* Not digests: refused, the place named. */
	rp_cmd_spit("x.sums", "ringpipe chaos sums 1 xxh3-64\nxyz\n", 34);
	CU_ASSERT_EQUAL(rp_cmd_run(bad, &text), 2);
	CU_ASSERT(strstr(text, "x.sums:2: not a digest") != NULL);
	free(text);
	rp_cmd_spit("x.sums", "0123456789abcdef\n", 17);
	CU_ASSERT_EQUAL(rp_cmd_run(bad, &text), 2);
	CU_ASSERT(strstr(text, "x.sums:1: not a sums file") != NULL);
	free(text);
	free(sums);
	rp_cmd_dir_remove();
}

/* What a killed supervisor left running past the grace period is killed
 * and named: here a program's daemon (its parent gone, it came to us)
 * and the job it had started in turn, which comes to us as the daemon
 * dies.  Nothing is left. */
RP_TEST(test_chaos_names_leftovers, 30)
{
	char who[512] = "";
	pid_t kid;
	int left, st;

	CU_ASSERT_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	kid = fork();
	CU_ASSERT_FATAL(kid >= 0);
	if (kid == 0) {
		if (fork() == 0) {
			execlp("sh", "sh", "-c",
			       "sleep 30.125 & exec sleep 30.124", (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	waitpid(kid, &st, 0);
	usleep(200000); /* both sleeps started */
	left = rp_chaos_reap_orphans(100 * 1000000LL, who, sizeof(who));
	CU_ASSERT_EQUAL(left, 2);
	CU_ASSERT(strstr(who, "sleep 30.124 (not a stage: a stage's program, "
			      "or a process it started)") != NULL);
	CU_ASSERT(strstr(who, "sleep 30.125 (not a stage") != NULL);
	CU_ASSERT(strstr(who, "pid ") == who);
	if (left != 2 || strstr(who, "sleep 30.125") == NULL)
		fprintf(stderr, "named: %s\n", who);
	CU_ASSERT(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD);
}

/* The supervisor killed mid-run: every stage is gone within the grace
 * period and the next run starts cleanly and gets it right; what the
 * killed run had written (most of its first 1000 lines) is judged too. */
RP_TEST(test_chaos_supervisor_kill, 120)
{
	char *args[] = {"chaos",   "c.yaml", "--seed",  "4",
			"--faults", "1",     "--every", "300",
			"--kinds", "supervisor-kill", NULL};
	char *text, *cut;
	unsigned long lines = 0;

	rp_cmd_dir_make("chaos");
	/* A stage that passes its first 1000 lines on at once, then takes
	 * its time: the supervisor is still there to be killed (at
	 * 150-450 ms), and the output has those lines by then. */
	write_pipeline("c.yaml",
		       "  - {name: mid, input: read, run: exec, ring: 64k,"
		       " args: [--, perl, -e, '$| = 1; while (<STDIN>) { "
		       "print; sleep 1 if $. == 1000 }']}\n");
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	CU_ASSERT(strstr(text, "supervisor killed") != NULL);
	CU_ASSERT(strstr(text, "stages all gone after the supervisor died; "
			       "the next run finished") != NULL);
	CU_ASSERT(strstr(text, "safety      ok: lost 0, duplicated 0") !=
		  NULL);
	/* What the killed run wrote is judged too: the reference's first
	 * lines, most of the 1000 the stage passed on at once (the
	 * last of them may be on its way still). */
	CU_ASSERT(strstr(text, "before the supervisor died (in ") != NULL &&
		  strstr(text, "the reference's first ones, as they should "
			       "be") != NULL);
	cut = strstr(text, "  cut run     ");
	CU_ASSERT(cut != NULL && sscanf(cut, "  cut run %lu", &lines) == 1);
	CU_ASSERT(lines >= 500);
	if (lines < 500)
		fprintf(stderr, "%s\n", text);
	free(text);
	/* A later run with no supervisor kill leaves nothing of this one
	 * beside its output (its cut, its rerun's log). */
	{
		char *later[] = {"chaos", "c.yaml", "--faults", "0", NULL};
		char cutp[256], rerun[256];
		rp_cmd_path(cutp, sizeof(cutp), "out.chaos-cut");
		rp_cmd_path(rerun, sizeof(rerun), "out.chaos-rerun.log");
		CU_ASSERT(access(cutp, F_OK) == 0 && access(rerun, F_OK) == 0);
		CU_ASSERT_EQUAL(rp_cmd_run(later, &text), 0);
		free(text);
		CU_ASSERT(access(cutp, F_OK) != 0 && errno == ENOENT);
		CU_ASSERT(access(rerun, F_OK) != 0 && errno == ENOENT);
	}
	rp_cmd_dir_remove();
}

/* What a run whose supervisor was killed wrote must be the reference's
 * first lines, byte for byte, but for a last line cut inside: not just
 * lines of the reference in its order (a gap is a loss). */
RP_TEST(test_chaos_cut_check, 10)
{
	static const char ref[] = "a\nb\na\nc\0x\nlast\n";
	static const struct {
		const char *cut;
		size_t len;
		int bad, partial;
		uint64_t lines;
	} cases[] = {
		{"", 0, -1, 0, 0},
		{"a\nb\n", 4, -1, 0, 2},
		{"a\nb\na\nc\0x\n", 10, -1, 0, 4},
		{"a\nb\na\nc\0", 8, -1, 1, 3},   /* cut inside line 4 */
		{"a\nb\na\nc\0y\n", 10, 3, 0, 3}, /* after the NUL */
		{"a\na\n", 4, 1, 0, 1},           /* b lost: a gap */
		{"a\nb\nq", 5, 2, 0, 2},          /* not the next's start */
		{"a\nb\na\nc\0x\nlast\nmore\n", 20, 5, 0, 5},
		{"b\n", 2, 0, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		uint64_t lines = 99;
		int partial = 9;
		int bad = rp_chaos_cut_check(ref, sizeof(ref) - 1, cases[i].cut,
					     cases[i].len, &lines, &partial);
		if (bad != cases[i].bad || partial != cases[i].partial ||
		    lines != cases[i].lines) {
			fprintf(stderr, "case %zu: bad %d partial %d lines "
					"%llu\n",
				i, bad, partial, (unsigned long long)lines);
			CU_FAIL("a cut output misjudged");
		}
	}
}

/* The same judgment against digests alone (a sums file written from
 * the reference and read back): whole lines by their digests, a last
 * line cut inside allowed but said unchecked (partial 2). */
RP_TEST(test_chaos_cut_by_sums, 10)
{
	static const char ref[] = "a\nb\na\nc\0x\nlast\n";
	struct rp_chaos_expect bytes, sums;
	char path[256], why[300] = "";
	uint64_t lines = 99;
	int partial = 9;

	rp_cmd_dir_make("chaos");
	rp_cmd_spit("ref", ref, sizeof(ref) - 1);
	rp_cmd_path(path, sizeof(path), "ref");
	CU_ASSERT_FATAL(rp_chaos_expect_file(&bytes, path) == 0);
	CU_ASSERT_EQUAL(bytes.count, 5);
	rp_cmd_path(path, sizeof(path), "ref.sums");
	CU_ASSERT_FATAL(rp_chaos_sums_write(&bytes, path) == 0);
	CU_ASSERT_FATAL(rp_chaos_expect_sums(&sums, path, why, sizeof(why)) ==
			0);
	CU_ASSERT_EQUAL(sums.count, 5);
	CU_ASSERT_EQUAL(rp_chaos_cut_judge(&sums, "a\nb\na\nc\0x\n", 10,
					   &lines, &partial),
			-1);
	CU_ASSERT(lines == 4 && partial == 0);
	/* Cut inside line 3 with bytes it never had: unchecked. */
	CU_ASSERT_EQUAL(rp_chaos_cut_judge(&sums, "a\nb\nzz", 6, &lines,
					   &partial),
			-1);
	CU_ASSERT(lines == 2 && partial == 2);
	/* After the NUL, a gap, an extra line: caught as with bytes. */
	CU_ASSERT_EQUAL(rp_chaos_cut_judge(&sums, "a\nb\na\nc\0y\n", 10,
					   &lines, &partial),
			3);
	CU_ASSERT_EQUAL(rp_chaos_cut_judge(&sums, "a\na\n", 4, &lines,
					   &partial),
			1);
	CU_ASSERT_EQUAL(rp_chaos_cut_judge(&sums,
					   "a\nb\na\nc\0x\nlast\nmore\n", 20,
					   &lines, &partial),
			5);
	/* With the bytes, the same cut inside line 3 is checked. */
	CU_ASSERT_EQUAL(rp_chaos_cut_judge(&bytes, "a\nb\nzz", 6, &lines,
					   &partial),
			2);
	rp_chaos_expect_free(&bytes);
	rp_chaos_expect_free(&sums);
	rp_cmd_dir_remove();
}

/* Relayed faults the supervisor dropped (their stage restarting) or
 * never handled (the run ended) are told from those it sent on, in
 * order, from its own lines of the log (not a stage's). */
RP_TEST(test_chaos_relays_done, 10)
{
	static const char log[] =
	    "12:00:00.001 ringpipe: chaos: hang fault sent to stage mid\n"
	    "12:00:00.002 mid: chaos: hanging on record 7\n"
	    /* A stage's stderr saying what the supervisor says: not its
	     * word. */
	    "12:00:00.002 mid: ringpipe: chaos: deny fault sent to stage "
	    "mid\n"
	    "12:00:00.003 ringpipe: chaos: deny fault for stage mid "
	    "dropped: it is restarting\n"
	    "12:00:00.004 ringpipe: chaos: corrupt fault sent to stage mid\n";
	int done[5] = {9, 9, 9, 9, 9};

	rp_chaos_relays_done(log, 4, done);
	CU_ASSERT(done[0] == 1 && done[1] == 0 && done[2] == 1 &&
		  done[3] == 0);
	CU_ASSERT_EQUAL(done[4], 9);
	rp_chaos_relays_done("", 2, done);
	CU_ASSERT(done[0] == 0 && done[1] == 0);
}

/* The judge itself: a stage whose output differs from run to run is
 * caught as lost and duplicated records, exit 1. */
RP_TEST(test_chaos_catches_a_difference, 120)
{
	char *args[] = {"chaos",   "c.yaml", "--seed", "2",
			"--faults", "1",     "--every", "20", NULL};
	char *text;

	rp_cmd_dir_make("chaos");
	write_pipeline("c.yaml",
		       "  - {name: mid, input: read, run: exec, ring: 64k,"
		       " args: [--, sh, -c, \"cat; date +%s%N\"]}\n");
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 1);
	CU_ASSERT(strstr(text, "safety      VIOLATED: lost 1, duplicated 1")
		  != NULL);
	free(text);
	/* A difference after a NUL byte in a line is a difference. */
	write_pipeline("c.yaml",
		       "  - {name: mid, input: read, run: exec, ring: 64k,"
		       " args: [--, sh, -c, \"cat; printf 'z\\\\000%s\\\\n' $(date +%s%N)\"]}\n");
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 1);
	if (strstr(text, "safety      VIOLATED: lost 1, duplicated 1") ==
	    NULL) {
		fprintf(stderr, "%s\n", text);
		CU_FAIL("a line differing after a NUL passed");
	}
	free(text);
	rp_cmd_dir_remove();
}

/* A compromised stage writes 8 random bytes somewhere it may write (its
 * rings' cursor pages, records just published, its control ring), then
 * carries on: whatever happens, nobody else fails or crashes, the
 * supervisor ends the run, and when the run fails the blame is the
 * scribbler's.  (A scribble its own next store overwrites, or one on
 * memory nobody reads again, goes unseen: it did no harm.) */
RP_TEST(test_scribbling_stage_blamed_alone, 400)
{
	int runs = rp_test_sanitized() ? 50 : 400, caught = 0;
	char in[256];

	rp_cmd_dir_make("chaos");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 20000);
	for (int seed = 1; seed <= runs; seed++) {
		char line[512], *text;
		char *args[] = {"-e", line, NULL};
		int code, bad = 0;
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! fault --at 3000 --do "
			 "scribble:%d ! count ! file-sink --lines out",
			 in, seed);
		code = rp_cmd_run(args, &text);
		bad |= code != 0 && code != 1;
		/* Nobody but the scribbler fails, or dies of a signal. */
		/* A consumer that caught a cursor the scribbler has
		 * rewritten since cannot prove it: the report must say
		 * who may have done it. */
		int unproven = strstr(text, "either 2-fault rewrote it "
					    "since") != NULL;
		bad |= strstr(text, "1-file-source    failed") != NULL ||
		       (strstr(text, "3-count          failed") != NULL &&
			!unproven) ||
		       strstr(text, "4-file-sink      failed") != NULL ||
		       strstr(text, "stage 1-file-source: killed") != NULL ||
		       strstr(text, "stage 3-count: killed") != NULL ||
		       strstr(text, "stage 4-file-sink: killed") != NULL ||
		       strstr(text, "AddressSanitizer") != NULL ||
		       strstr(text, "runtime error") != NULL;
		if (code == 1 && !unproven)
			bad |= strstr(text, "2-fault          failed") == NULL;
		caught += code == 1;
		if (bad) {
			fprintf(stderr, "scribble seed %d (exit %d):\n%s\n",
				seed, code, text);
			CU_FAIL("a scribble hurt someone else");
		}
		free(text);
	}
	fprintf(stderr, "  %d scribbles, %d caught and blamed on the "
			"scribbler, the rest harmless\n",
		runs, caught);
	/* Some land where they are read again and caught (about one in
	 * twelve, by timing): the test is not running on nothing. */
	CU_ASSERT(caught >= (rp_test_sanitized() ? 1 : 8));
	rp_cmd_dir_remove();
}

/* The crash-point sweep: every stage killed at its 1st, 2nd and 3rd pass
 * through every commit-path crash point, one run each, and every run's
 * output is the fault-free one; --json writes the same tallies.  (Under
 * the sanitizers, the first pass only: each step's memory, once.) */
RP_TEST(test_chaos_crashpoint_sweep, 120)
{
	unsigned passes = rp_test_sanitized() ? 1 : 3;
	char *args[] = {"chaos", "c.yaml", "--crashpoints",
			passes == 1 ? "1" : "3", "--json", "c.json", NULL};
	char *text, *q, *json, want[96];
	unsigned runs = 0, crashed = 0, differed = 1, points = 0;
	size_t n;

	rp_cmd_dir_make("chaos");
	/* (50 000 lines: each point is still passed as often as the
	 * sweep needs, as the count of runs that crashed at their point
	 * below says.) */
	write_pipeline_of("c.yaml",
			  "  - {name: mid, input: read, run: grep, "
			  "args: [\"[05]$\"], ring: 64k}\n",
			  50000);
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	q = strstr(text, "  sweep       ");
	CU_ASSERT_FATAL(q != NULL);
	CU_ASSERT_EQUAL(sscanf(q, "  sweep %u runs, %u crashed at their "
				  "point, %u differed",
			       &runs, &crashed, &differed),
			3);
	/* 4 stages x 6 points x 3 passes; a point a stage never passes
	 * (a source peeks nothing) does not crash it. */
	CU_ASSERT_EQUAL(runs, 24 * passes);
	CU_ASSERT(crashed >= 18 * passes);
	CU_ASSERT_EQUAL(differed, 0);
	CU_ASSERT(strstr(text, "FAILED") == NULL);
	free(text);
	json = rp_cmd_slurp("c.json", &n);
	CU_ASSERT_FATAL(json != NULL);
	CU_ASSERT(strstr(json, "\"mode\":\"crashpoints\"") != NULL);
	snprintf(want, sizeof(want), "\"runs\":%u,\"crashed\":%u,"
		 "\"differed\":0,\"safe\":true,\"failed\":[]}\n",
		 runs, crashed);
	CU_ASSERT(strstr(json, want) != NULL);
	for (q = json; (q = strstr(q, "\"point\":")) != NULL; q++)
		points++;
	CU_ASSERT_EQUAL(points, 24);
	free(json);
	rp_cmd_dir_remove();
}

/* What chaos cannot judge, and bad options: exit 2, saying why. */
/* Hangs and denied syscalls, done by the stages themselves on a record:
 * each is reported (the per-record timeout, the syscall by name), the
 * stage restarts, and nothing is lost or repeated.  quarantine_after is
 * 1, so a fault chaos caused that counted against its record would
 * quarantine it at once. */
RP_TEST(test_chaos_hang_deny_recover, 180)
{
	/* Seed 2 draws hangs and denials, both within the run (the
	 * hangs keep it going: asserted below). */
	char *args[] = {"chaos",   "c.yaml",   "--seed",  "2",
			"--faults", "4",       "--every", "10",
			"--kinds", "hang,deny", "--json", "c.json", NULL};
	char *text, *log, *json;
	size_t n;

	rp_cmd_dir_make("chaos");
	write_pipeline("c.yaml", "  - {name: mid, input: read, run: grep, "
				 "args: [\"[05]$\"], ring: 64k, "
				 "quarantine_after: 1, record_timeout_ms: 200, "
				 "restart_backoff_ms: 0}\n");
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	log = rp_cmd_slurp("out.chaos.log", &n);
	if (strstr(text, "safety      ok") == NULL)
		fprintf(stderr, "%s\n%s\n", text, log);
	CU_ASSERT(strstr(text, "safety      ok: lost 0, duplicated 0, "
			       "order kept, quarantined 0") != NULL);
	CU_ASSERT(strstr(text, "liveness    ok: finished") != NULL);
	/* Both kinds were sent, and each was done and reported. */
	CU_ASSERT(strstr(text, " hang, ") != NULL &&
		  strstr(text, " deny)") != NULL);
	CU_ASSERT(strstr(log, "chaos: hanging on record") != NULL);
	CU_ASSERT(strstr(log, "exceeded its per-record timeout of 200 ms on "
			      "record") != NULL);
	CU_ASSERT(strstr(log, "denied syscall socket (41) on record") != NULL);
	CU_ASSERT(strstr(log, "(a chaos fault); restarting") != NULL);
	CU_ASSERT(strstr(log, "quarantined to") == NULL);
	json = rp_cmd_slurp("c.json", &n);
	CU_ASSERT(strstr(json, "\"kind\":\"hang\"") != NULL);
	CU_ASSERT(strstr(json, "\"safe\":true,\"finished\":true") != NULL);
	free(json);
	free(log);
	free(text);
	rp_cmd_dir_remove();
}

/* What chaos runs quarantine goes beside the output, a file per run,
 * never into the pipeline's own dead-letter output: there, a later
 * replay would be fed each record once per run. */
RP_TEST(test_chaos_dead_letter_apart, 120)
{
	char *args[] = {"chaos", "c.yaml", "--seed", "3", "--faults", "1",
			"--every", "10", NULL};
	char *text, *ref, *run, own[256];
	size_t n;

	rp_cmd_dir_make("chaos");
	write_pipeline_of("c.yaml", "  - {name: mid, input: read, run: fault, "
				    "args: [--at, \"500\", --do, \"crash:6\"], "
				    "ring: 64k, restart_backoff_ms: 0}\n",
			  2000);
	/* A stale file of a run before is started over. */
	rp_cmd_spit("out.chaos.dead.jsonl", "stale\n", 6);
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	CU_ASSERT(strstr(text, "quarantined 1") != NULL);
	ref = rp_cmd_slurp("out.chaos-ref.dead.jsonl", &n);
	run = rp_cmd_slurp("out.chaos.dead.jsonl", &n);
	CU_ASSERT(ref != NULL && strstr(ref, "\"seq\":500,") != NULL);
	CU_ASSERT(run != NULL && strstr(run, "\"seq\":500,") != NULL);
	CU_ASSERT_EQUAL(rp_cmd_lines("out.chaos-ref.dead.jsonl"), 1);
	CU_ASSERT_EQUAL(rp_cmd_lines("out.chaos.dead.jsonl"), 1);
	rp_cmd_path(own, sizeof(own), "chaos.dead.jsonl");
	CU_ASSERT(access(own, F_OK) != 0);
	if (!strstr(text, "quarantined 1"))
		fprintf(stderr, "%s\n", text);
	free(ref);
	free(run);
	free(text);
	rp_cmd_dir_remove();
}

/* Corruptions, done by a stage over its own shared memory: whatever they
 * hit, the run ends (finished, or failed at the corruption) with the
 * supervisor alive to judge it, and only a stage that was corrupted is
 * ever blamed. */
RP_TEST(test_chaos_corrupt_contained, 300)
{
	int ran = 0, contained = 0, caught = 0;

	rp_cmd_dir_make("chaos");
	write_pipeline("c.yaml", "  - {name: mid, input: read, run: grep, "
				 "args: [\"[05]$\"], ring: 64k, "
				 "restart_backoff_ms: 0}\n");
	/* (6 under the sanitizers: the same paths, half the runs.) */
	for (int seed = 1; seed <= (rp_test_sanitized() ? 3 : 12); seed++) {
		char s[16], *text, *log;
		char *args[] = {"chaos",   "c.yaml", "--seed",  s,
				"--faults", "6",     "--every", "15",
				"--kinds", "corrupt", NULL};
		size_t n;
		int code;

		snprintf(s, sizeof(s), "%d", seed);
		code = rp_cmd_run(args, &text);
		log = rp_cmd_slurp("out.chaos.log", &n);
		CU_ASSERT(code == 0 || code == 1);
		/* The supervisor lived to write its report. */
		CU_ASSERT(strstr(log, "ringpipe: pipeline chaos: ") != NULL);
		if (strstr(text, "corrupt)") == NULL ||
		    (strstr(text, "containment ") == NULL &&
		     strstr(text, "missed (nobody there to hit)") != NULL)) {
			free(log);
			free(text);
			continue; /* finished before a fault was sent, or
				   * every one was dropped */
		}
		ran++;
		CU_ASSERT(strstr(text, "containment ") != NULL);
		if (strstr(text, "containment ok") != NULL)
			contained++;
		else
			fprintf(stderr, "seed %d:\n%s\n%s\n", seed, text, log);
		caught += strstr(text, "containment ok: failed") != NULL;
		free(log);
		free(text);
	}
	fprintf(stderr, "  %d corrupted runs, %d contained, %d caught\n", ran,
		contained, caught);
	CU_ASSERT(ran >= (rp_test_sanitized() ? 2 : 8));
	/* An innocent stage is blamed only when a scribbled cursor was
	 * rewritten after its reader's 5 ms look but before the supervisor
	 * looked (README: known limits). */
	CU_ASSERT(contained >= ran - 1);
	rp_cmd_dir_remove();
}

RP_TEST(test_chaos_usage, 60)
{
	char *stdout_sink[] = {"chaos", "s.yaml", NULL};
	char *bad_kind[] = {"chaos", "c.yaml", "--kinds", "melt", NULL};
	char *text, yaml[300];

	rp_cmd_dir_make("chaos");
	snprintf(yaml, sizeof(yaml),
		 "name: s\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, in]}\n"
		 "  - {name: out, input: read, run: file-sink, args: [-]}\n");
	rp_cmd_spit("s.yaml", yaml, strlen(yaml));
	rp_cmd_spit("in", "a\n", 2);
	CU_ASSERT_EQUAL(rp_cmd_run(stdout_sink, &text), 2);
	CU_ASSERT(strstr(text, "must end in file-sink FILE") != NULL);
	free(text);
	CU_ASSERT_EQUAL(rp_cmd_run(bad_kind, &text), 2);
	CU_ASSERT(strstr(text, "--kinds: bad value 'melt'") != NULL);
	free(text);
	{
		/* A sweep with a schedule's options: refused, not ignored. */
		char *sweep_seed[] = {"chaos", "s.yaml", "--crashpoints", "2",
				      "--kinds", "stop", NULL};
		CU_ASSERT_EQUAL(rp_cmd_run(sweep_seed, &text), 2);
		CU_ASSERT(strstr(text, "--crashpoints sweeps every crash "
				       "point in turn") != NULL);
		free(text);
	}
	{
		/* Output read back to be judged: a FIFO would wait. */
		char *fifo[] = {"chaos", "f.yaml", NULL};
		char path[256];
		const char *f =
			"name: f\nstages:\n"
			"  - {name: read, run: file-source, args: [--lines, in]}\n"
			"  - {name: out, input: read, run: file-sink, "
			"args: [ff]}\n";
		rp_cmd_path(path, sizeof(path), "ff");
		CU_ASSERT_FATAL(mkfifo(path, 0600) == 0);
		rp_cmd_spit("f.yaml", f, strlen(f));
		CU_ASSERT_EQUAL(rp_cmd_run(fifo, &text), 2);
		CU_ASSERT(strstr(text, "file-sink ff is not a regular "
				       "file") != NULL);
		free(text);
	}
	{
		char *both[] = {"chaos", "b.yaml", "--kinds",
				"corrupt,supervisor-kill", NULL};
		const char *b =
			"name: b\nstages:\n"
			"  - {name: read, run: file-source, args: [--lines, in]}\n"
			"  - {name: out, input: read, run: file-sink, "
			"args: [bo]}\n";
		rp_cmd_spit("b.yaml", b, strlen(b));
		CU_ASSERT_EQUAL(rp_cmd_run(both, &text), 2);
		CU_ASSERT(strstr(text, "cannot be judged in one run") != NULL);
		free(text);
	}
	{
		/* Nothing there can hang on a record: an exec stage and a
		 * sink that never restarts; and what a kill of either
		 * would show is said first. */
		char *hang[] = {"chaos", "h.yaml", "--kinds", "hang,kill",
				NULL};
		const char *h =
			"name: h\nstages:\n"
			"  - {name: read, run: file-source, args: [--lines, in]}\n"
			"  - {name: cat, input: read, run: exec, args: [--, cat]}\n"
			"  - {name: out, input: cat, run: file-sink, args: [o],"
			" restart: never}\n";
		rp_cmd_spit("h.yaml", h, strlen(h));
		CU_ASSERT_EQUAL(rp_cmd_run(hang, &text), 2);
		CU_ASSERT(strstr(text, "no stage can take hang, deny or "
				       "corrupt faults") != NULL);
		CU_ASSERT(strstr(text, "note: stage cat has restart: never "
				       "(exec's default): a kill there ends "
				       "the run") != NULL);
		CU_ASSERT(strstr(text, "note: stage out has restart: never")
			  != NULL);
		free(text);
	}
	rp_cmd_dir_remove();
}

/* A source on stdin: every run reads its input again, and the first
 * uses stdin up (a pipe; a file is left at its end), the chaos run then
 * judged on nothing.  Refused before anything runs, naming the stage,
 * as is an exec source given -. */
RP_TEST(test_chaos_stdin_source, 60)
{
	char *args[] = {"chaos",   "s.yaml", "--faults", "3",
			"--every", "20",     NULL};
	char *cat[] = {"chaos", "e.yaml", NULL};
	const char *s =
		"name: s\nstages:\n"
		"  - {name: read, run: file-source, args: [--lines, \"-\"]}\n"
		"  - {name: write, input: read, run: file-sink,"
		" args: [--lines, out]}\n";
	const char *e =
		"name: e\nstages:\n"
		"  - {name: cat, run: exec, args: [--lines, --, cat]}\n"
		"  - {name: write, input: cat, run: file-sink,"
		" args: [--lines, out]}\n";
	char *text, path[256];
	int p[2], fd;
	size_t n;

	rp_cmd_dir_make("chaos");
	rp_cmd_spit("s.yaml", s, strlen(s));
	rp_cmd_spit("e.yaml", e, strlen(e));
	rp_cmd_path(path, sizeof(path), "in");
	rp_cmd_write_lines(path, 20000);
	for (int file = 0; file < 2; file++) {
		/* A pipe, then a regular file. */
		if (file) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			CU_ASSERT_FATAL(fd >= 0);
		} else {
			CU_ASSERT_FATAL(pipe(p) == 0);
			CU_ASSERT(write(p[1], "a\nb\nc\n", 6) == 6);
			close(p[1]);
			fd = p[0];
		}
		CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(
					rp_cmd_start(args, fd), 60)),
				2);
		close(fd);
		text = rp_cmd_slurp("REPORT", &n);
		if (strstr(text, "s.yaml: stage read reads stdin: each run "
				 "reads its input again") == NULL) {
			fprintf(stderr, "%s\n", text);
			CU_FAIL("a source on stdin not refused");
		}
		free(text);
		/* Refused before the reference run. */
		CU_ASSERT_EQUAL(rp_cmd_lines("out.chaos-ref"), 0);
	}
	/* A command source may read stdin without naming it: refused
	 * when chaos is given one (its runs get /dev/null). */
	CU_ASSERT_FATAL(pipe(p) == 0);
	CU_ASSERT(write(p[1], "a\nb\n", 4) == 4);
	close(p[1]);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(rp_cmd_start(cat, p[0]),
						       60)),
			2);
	close(p[0]);
	text = rp_cmd_slurp("REPORT", &n);
	if (strstr(text, "e.yaml: stage cat's command may read stdin, which "
			 "each run would read again") == NULL) {
		fprintf(stderr, "%s\n", text);
		CU_FAIL("a command source with stdin given not refused");
	}
	free(text);
	rp_cmd_dir_remove();
}

/* A run that ends before its first fault is due proves nothing about
 * recovery: the report says so in words, the JSON with "injected": 0;
 * its output matched, so the exit code is still 0.  One whose output
 * differs with no fault is not deterministic: said so. */
RP_TEST(test_chaos_no_fault_said, 60)
{
	char *args[] = {"chaos",   "c.yaml", "--faults", "3",
			"--every", "2000",   "--json",	 "c.json", NULL};
	char *text, *json;
	size_t n;

	rp_cmd_dir_make("chaos");
	write_pipeline_of("c.yaml", "  - {name: mid, input: read, run: grep, "
				    "args: [\"[05]$\"], ring: 64k}\n",
			  10);
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	if (strstr(text, ": 0 faults\n  faults      NONE INJECTED: the run "
			 "ended before the first was due, so it proved "
			 "nothing about recovery") == NULL) {
		fprintf(stderr, "%s\n", text);
		CU_FAIL("a run without faults not said to be one");
	}
	CU_ASSERT(strstr(text, "safety      ok: lost 0") != NULL);
	json = rp_cmd_slurp("c.json", &n);
	CU_ASSERT(strstr(json, "\"faults\":[],\"missed\":0,"
			       "\"injected\":0,") != NULL);
	free(json);
	free(text);
	/* A supervisor kill drawn but due after the run ended: said, as
	 * its cleanup was never judged. */
	{
		char *late[] = {"chaos", "c.yaml", "--faults", "1", "--every",
				"2000", "--kinds", "supervisor-kill", NULL};
		CU_ASSERT_EQUAL(rp_cmd_run(late, &text), 0);
		CU_ASSERT(strstr(text, "the supervisor kill the seed drew came "
				       "after the run had ended") != NULL);
		free(text);
	}
	/* A sink that appends, for the real job: each run's output is
	 * still its own (run twice, the reference is not doubled). */
	{
		char *none[] = {"chaos", "a.yaml", "--faults", "0", NULL};
		static const char ap[] =
		    "name: ap\nstages:\n"
		    "  - {name: read, run: file-source, args: [--lines, in]}\n"
		    "  - {name: write, input: read, run: file-sink,"
		    " args: [--lines, --append, out]}\n";
		rp_cmd_spit("a.yaml", ap, sizeof(ap) - 1);
		for (int i = 0; i < 2; i++) {
			CU_ASSERT_EQUAL(rp_cmd_run(none, &text), 0);
			CU_ASSERT(strstr(text, " 10 records in out.chaos-ref") !=
				  NULL);
			free(text);
		}
	}
	/* Output that differs with no fault injected: the pipeline's own
	 * doing (a line with the time in it), said so; its order not
	 * called kept beside a line lost and one repeated. */
	{
		char *none[] = {"chaos", "c.yaml", "--faults", "0", NULL};
		write_pipeline_of("c.yaml",
				  "  - {name: mid, input: read, run: exec, "
				  "ring: 64k, args: [--, sh, -c, \"cat; date "
				  "+%s%N\"]}\n",
				  10);
		CU_ASSERT_EQUAL(rp_cmd_run(none, &text), 1);
		CU_ASSERT(strstr(text, "lost 1, duplicated 1, order not "
				       "judged") != NULL);
		CU_ASSERT(strstr(text, "with no fault injected the output "
				       "differs from the reference: the "
				       "pipeline does not give the same "
				       "output twice") != NULL);
		free(text);
	}
	rp_cmd_dir_remove();
}

/* --json to a path that cannot be written fails before anything runs
 * (exit 2), not after the runs with their verdict lost. */
RP_TEST(test_chaos_json_checked_first, 60)
{
	char *args[] = {"chaos", "c.yaml", "--json", "no/such/dir/c.json",
			NULL};
	char *text;

	rp_cmd_dir_make("chaos");
	write_pipeline_of("c.yaml", "  - {name: mid, input: read, run: grep, "
				    "args: [\"[05]$\"], ring: 64k}\n",
			  1000);
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 2);
	CU_ASSERT(strstr(text, "ringpipe chaos: cannot write "
			       "no/such/dir/c.json (--json): No such file or "
			       "directory") != NULL);
	/* Nothing ran: no reference, no output. */
	CU_ASSERT(strstr(text, "reference   ") == NULL);
	CU_ASSERT_EQUAL(rp_cmd_lines("out.chaos-ref"), 0);
	CU_ASSERT_EQUAL(rp_cmd_lines("out"), 0);
	free(text);
	rp_cmd_dir_remove();
}

/* A run refused before its verdict (a file that is not there, a bad
 * option after --json) leaves the --json file empty: an earlier run's
 * verdict there is not taken for its own. */
RP_TEST(test_chaos_json_emptied_when_refused, 60)
{
	char *ok[] = {"chaos", "c.yaml", "--faults", "0", "--json", "c.json",
		      NULL};
	char *missing[] = {"chaos", "nothere.yaml", "--json", "c.json", NULL};
	char *bad[] = {"chaos", "c.yaml", "--json", "c.json", "--seed", "x",
		       NULL};
	char *text;
	size_t len;

	rp_cmd_dir_make("chaos");
	write_pipeline_of("c.yaml", "  - {name: mid, input: read, run: grep, "
				    "args: [\"[05]$\"], ring: 64k}\n",
			  1000);
	CU_ASSERT_EQUAL(rp_cmd_run(ok, &text), 0);
	free(text);
	text = rp_cmd_slurp("c.json", &len);
	CU_ASSERT(text != NULL && strstr(text, "\"safe\":true") != NULL);
	free(text);
	CU_ASSERT_EQUAL(rp_cmd_run(missing, &text), 2);
	free(text);
	text = rp_cmd_slurp("c.json", &len);
	CU_ASSERT(text != NULL && text[0] == '\0');
	free(text);
	CU_ASSERT_EQUAL(rp_cmd_run(ok, &text), 0);
	free(text);
	CU_ASSERT_EQUAL(rp_cmd_run(bad, &text), 2);
	free(text);
	text = rp_cmd_slurp("c.json", &len);
	CU_ASSERT(text != NULL && text[0] == '\0');
	free(text);
	{
		/* Never the pipeline's own file. */
		char *own[] = {"chaos", "c.yaml", "--json", "c.yaml", NULL};
		CU_ASSERT_EQUAL(rp_cmd_run(own, &text), 2);
		CU_ASSERT(strstr(text, "is the pipeline's own file") != NULL);
		free(text);
		CU_ASSERT(rp_cmd_lines("c.yaml") > 3);
	}
	rp_cmd_dir_remove();
}

/* Replicas without ordered: true promise no order and at-least-once: a
 * kill among the kinds names them first, with the report's words, and
 * the order of their output is not judged (it is not the same twice). */
RP_TEST(test_chaos_unordered_replicas, 60)
{
	char *args[] = {"chaos", "u.yaml", "--faults", "0", "--kinds", "kill",
			NULL};
	char *text;

	rp_cmd_dir_make("chaos");
	write_pipeline_of("u.yaml", "  - {name: mid, input: read, run: grep, "
				    "args: [\"[05]$\"], replicas: 2, "
				    "ordered: false}\n",
			  20000);
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	CU_ASSERT(strstr(text, "note: stage mid delivers at-least-once: a "
			       "dead replica's records are done again") !=
		  NULL);
	CU_ASSERT(strstr(text, "order not judged (replicas without ordered: "
			       "true promise none)") != NULL);
	CU_ASSERT(strstr(text, "safety      ok") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* chaos killed by its pid (a CI job's cancel; a terminal's Ctrl-C reaches
 * its whole group): the run it was making is cancelled with it, not left
 * going without it. */
RP_TEST(test_chaos_killed_cancels_its_run, 60)
{
	char *args[] = {"chaos", "k.yaml", "--faults", "3", "--every", "300",
			"--kinds", "kill", NULL};
	char text[600];
	const char *token = "sleep 20; cat # chaos-kill";
	int64_t end;
	pid_t pid, left = 0;
	int st;

	rp_cmd_dir_make("chaos");
	snprintf(text, sizeof(text),
		 "name: chaoskill\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, in]}\n"
		 "  - {name: slow, input: read, run: exec, restart: on-failure,"
		 " args: [--, sh, -c, '%s']}\n"
		 "  - {name: write, input: slow, run: file-sink,"
		 " args: [--lines, out]}\n",
		 token);
	spit_with_input("k.yaml", text, 1000);
	pid = rp_cmd_start(args, -1);
	CU_ASSERT_FATAL(pid > 0);
	/* Its reference run under way: the shell is there. */
	for (end = rp_now_ns() + 10000000000LL;
	     !rp_cmd_find_process("chaos-kill", NULL) && rp_now_ns() < end;)
		usleep(10000);
	CU_ASSERT(rp_cmd_find_process("chaos-kill", NULL) != 0);
	kill(pid, SIGTERM);
	/* (Ended by the signal, as the shell's 143 says.) */
	CU_ASSERT(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) &&
		  WTERMSIG(st) == SIGTERM);
	/* Its run, and its stages, gone within a moment. */
	for (end = rp_now_ns() + 3000000000LL; rp_now_ns() < end;) {
		while (waitpid(-1, &st, WNOHANG) > 0)
			; /* orphans come to us, a subreaper */
		if ((left = rp_cmd_find_process("chaos-kill", NULL)) == 0 &&
		    (left = rp_cmd_find_process("k.yaml", NULL)) == 0)
			break;
		usleep(10000);
	}
	CU_ASSERT_EQUAL(left, 0);
	if (left != 0) {
		pid_t k;
		while ((k = rp_cmd_find_process("chaos-kill", NULL)) != 0 ||
		       (k = rp_cmd_find_process("k.yaml", NULL)) != 0) {
			kill(k, SIGKILL);
			waitpid(k, &st, 0);
		}
	}
	rp_cmd_dir_remove();
}

/* The crash-point sweep over an exec stage that restarts: each run ends
 * at its point (the adapter, pid 1 of its namespace where it runs alone,
 * cannot kill itself there: it was stuck until the run's 10-minute
 * bound), and each crash is counted. */
RP_TEST(test_chaos_crashpoints_exec, 60)
{
	char *args[] = {"chaos", "x.yaml", "--crashpoints", "1", NULL};
	const char *y = "name: cpx\nstages:\n"
			"  - {name: read, run: file-source, args: [--lines, in]}\n"
			"  - {name: ed, input: read, run: exec, restart: "
			"on-failure, args: [--, cat]}\n"
			"  - {name: out, input: ed, run: file-sink, "
			"args: [--lines, out]}\n";
	char *text;
	int code;

	rp_cmd_dir_make("chaos");
	spit_with_input("x.yaml", y, 1);
	code = rp_cmd_run(args, &text);
	/* (A kill before it releases may repeat its record: at-least-once,
	 * said first; the sweep may then say a run differed.) */
	CU_ASSERT(code == 0 || code == 1);
	CU_ASSERT(strstr(text, "ed               reserved        1/1 runs "
			       "match (1 crashed there)") != NULL);
	CU_ASSERT(strstr(text, "cannot kill itself") == NULL);
	CU_ASSERT(strstr(text, "sweep       18 runs") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* A deny fault makes its stage call socket(): where the stage's own
 * rules allow it, nothing would be denied, so none is sent there, said
 * before the run and counted missed (not injected). */
RP_TEST(test_chaos_deny_where_allowed, 60)
{
	char *args[] = {"chaos", "d.yaml", "--kinds", "deny", "--faults", "2",
			"--every", "20", NULL};
	const char *y = "name: dz\nstages:\n"
			"  - {name: read, run: file-source, args: [--lines, in]}\n"
			"  - {name: mid, input: read, run: grep, args: [\"1\"], "
			"sandbox: {allow: [socket]}}\n"
			"  - {name: out, input: mid, run: file-sink, "
			"args: [--lines, out], restart: never}\n";
	char *text;

	rp_cmd_dir_make("chaos");
	spit_with_input("d.yaml", y, 200000);
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	CU_ASSERT(strstr(text, "note: stage mid allows socket") != NULL);
	CU_ASSERT(strstr(text, "NONE INJECTED") != NULL);
	CU_ASSERT(strstr(text, "denied syscall") == NULL);
	free(text);
	rp_cmd_dir_remove();
}

void rp_suite_chaos(void)
{
	RP_SUITE("chaos",
		 {"kills and stops: nothing lost, repeated or reordered",
		  test_chaos_kill_stop_is_safe},
		 {"the supervisor killed: cleanup and a clean next run",
		  test_chaos_supervisor_kill},
		 {"what outlived a killed supervisor: killed and named",
		  test_chaos_names_leftovers},
		 {"a run that differs is caught",
		  test_chaos_catches_a_difference},
		 {"a killed run's output: the reference's first lines",
		  test_chaos_cut_check},
		 {"relayed faults dropped by the supervisor count as missed",
		  test_chaos_relays_done},
		 {"a scribbling stage is blamed alone",
		  test_scribbling_stage_blamed_alone},
		 {"a cut output judged by digests alone",
		  test_chaos_cut_by_sums},
		 {"a sums file instead of a reference run",
		  test_chaos_expect_sums},
		 {"two stages with one command line: each hit as drawn",
		  test_chaos_same_command_lines},
		 {"the crash-point sweep: every step, every stage",
		  test_chaos_crashpoint_sweep},
		 {"hangs and denied syscalls: reported, nothing lost",
		  test_chaos_hang_deny_recover},
		 {"what chaos runs quarantine is kept apart",
		  test_chaos_dead_letter_apart},
		 {"corruptions: contained, only the corrupted blamed",
		  test_chaos_corrupt_contained},
		 {"what chaos cannot judge, bad options", test_chaos_usage},
		 {"a source on stdin: refused before any run",
		  test_chaos_stdin_source},
		 {"a run no fault reached says it proved nothing",
		  test_chaos_no_fault_said},
		 {"--json that cannot be written: refused before any run",
		  test_chaos_json_checked_first},
		 {"--json emptied by a run refused before its verdict",
		  test_chaos_json_emptied_when_refused},
		 {"unordered replicas: named, their order not judged",
		  test_chaos_unordered_replicas},
		 {"chaos killed by its pid: its run cancelled too",
		  test_chaos_killed_cancels_its_run},
		 {"the crash-point sweep over an exec stage ends",
		  test_chaos_crashpoints_exec},
		 {"a deny fault for a stage that allows its call: not sent",
		  test_chaos_deny_where_allowed});
}
