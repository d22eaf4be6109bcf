/*
 * test_each.c - exec --each: a run of a program per input record, its
 * crashes, hangs and denied syscalls quarantined with their record,
 * exactly once between file ends, alone and as replicas.
 */
#define _GNU_SOURCE
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "harness.h"

/* P: "line N" for N in 0..n-1, but "segv", "hang", "sock" and "abrt" at
 * n/4, n/2, 3n/4 and n - 10. */
static const char *kind_of(int i, int n)
{
	return i == n / 4	? "segv"
	       : i == n / 2	? "hang"
	       : i == 3 * n / 4 ? "sock"
	       : i == n - 10	? "abrt"
				: "line";
}

static void poison_lines(int n)
{
	rp_cmd_write_kinds("P", n, kind_of);
}

/* OUT is exactly "got line N" for every line of P that is no poison, in
 * order, each once. */
static void exactly_the_good_lines(int n)
{
	size_t len = 0, cap = 32 * (size_t)n, got;
	char *want = malloc(cap), *out = rp_cmd_slurp("OUT", &got);

	CU_ASSERT_FATAL(want != NULL);
	for (int i = 0; i < n; i++)
		if (strcmp(kind_of(i, n), "line") == 0)
			len += (size_t)snprintf(want + len, cap - len,
						"got line %d\n", i);
	CU_ASSERT_EQUAL(got, len);
	CU_ASSERT(got == len && memcmp(out, want, len) == 0);
	if (got != len || memcmp(out, want, len) != 0)
		fprintf(stderr, "OUT: %zu bytes, %zu wanted\n", got, len);
	free(want);
	free(out);
}

/* A perl parser: a run per line, each killed its own way on a poison
 * line. */
#define PARSER                                                                \
	"[--each, --, perl, -e, '$_ = <STDIN>; kill \"SEGV\", $$ if /^segv/; "        \
	"kill \"ABRT\", $$ if /^abrt/; sleep 30 if /^hang/; "                 \
	"socket(my $s, 2, 1, 0) if /^sock/; print \"got $_\"']"

static void check_dead_letters(const char *prefix, int n, const char *on)
{
	char name[64], want[160], *dead;
	size_t len;

	snprintf(name, sizeof(name), "%s.dead.jsonl", prefix);
	dead = rp_cmd_slurp(name, &len);
	{
		int lines = 0;
		for (size_t i = 0; i < len; i++)
			lines += dead[i] == '\n';
		CU_ASSERT_EQUAL(lines, 4);
	}
	snprintf(want, sizeof(want), "its program was killed by signal 11 "
		 "(Segmentation fault) on %s", on);
	CU_ASSERT(strstr(dead, want) != NULL);
	snprintf(want, sizeof(want), "its program was killed by signal 6 "
		 "(Aborted) on %s", on);
	CU_ASSERT(strstr(dead, want) != NULL);
	CU_ASSERT(strstr(dead, "exceeded its per-record timeout of 300 ms") !=
		  NULL);
	CU_ASSERT(strstr(dead, "denied syscall socket (41)") != NULL);
	for (int i = 0; i < n; i++) {
		char origin[48];
		snprintf(origin, sizeof(origin), "\"origin\":%d,", i);
		if (strcmp(kind_of(i, n), "line") != 0)
			CU_ASSERT(strstr(dead, origin) != NULL);
	}
	if (!strstr(dead, "denied syscall socket"))
		fprintf(stderr, "%s\n", dead);
	free(dead);
}

/* Each record is the whole stdin of a run; what the run writes is that
 * record's output, several lines of it, the last one unterminated too. */
RP_TEST(test_each_outputs, 60)
{
	static const char yaml[] =
		"name: each\nstages:\n"
		"  - {name: read, run: file-source, args: [--lines, IN]}\n"
		"  - {name: twice, input: read, run: exec, args: [--each, --, "
		"sh, -c, 'read l; echo \"<$l>\"; printf \"%s\" \"$l\" | rev; "
		"echo']}\n"
		"  - {name: write, input: twice, run: file-sink, "
		"args: [--lines, OUT]}\n";
	char path[512], *rep, *out, want[64];
	size_t n, at = 0;
	int code;

	rp_cmd_dir_make("each");
	rp_cmd_path(path, sizeof(path), "IN");
	rp_cmd_write_lines(path, 300);
	code = rp_cmd_yaml("run", yaml, &rep);
	if (code != 0)
		fprintf(stderr, "%s\n", rep);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(strstr(rep, "delivery exactly-once") != NULL);
	out = rp_cmd_slurp("OUT", &n);
	{
		size_t il;
		char *in = rp_cmd_slurp("IN", &il);
		for (char *p = in, *e; p < in + il; p = e + 1) {
			char rev[64];
			size_t l;
			e = memchr(p, '\n', (size_t)(in + il - p));
			l = (size_t)(e - p);
			CU_ASSERT_FATAL(l < sizeof(rev));
			for (size_t i = 0; i < l; i++)
				rev[i] = p[l - 1 - i];
			snprintf(want, sizeof(want), "<%.*s>\n%.*s\n", (int)l,
				 p, (int)l, rev);
			if (at + strlen(want) > n ||
			    memcmp(out + at, want, strlen(want)) != 0) {
				CU_FAIL("an output differs");
				break;
			}
			at += strlen(want);
		}
		CU_ASSERT_EQUAL(at, n);
		free(in);
	}
	free(out);
	free(rep);
	rp_cmd_dir_remove();
}

/* A segfault, an abort, a hang past the per-record timeout and a denied
 * syscall, each on its own line: each line is quarantined with its
 * reason, and every other line comes out exactly once, in order, under
 * the default restart limits. */
RP_TEST(test_each_poison_quarantined, 120)
{
	char yaml[1024], *rep;
	int code;

	rp_cmd_dir_make("each");
	poison_lines(200);
	snprintf(yaml, sizeof(yaml),
		 "name: ep\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, P]}\n"
		 "  - {name: parse, input: read, run: exec, "
		 "record_timeout_ms: 300, args: %s}\n"
		 "  - {name: write, input: parse, run: file-sink, "
		 "args: [--lines, OUT]}\n",
		 PARSER);
	code = rp_cmd_yaml("run", yaml, &rep);
	if (code != 0 || !strstr(rep, "quarantined 4 records"))
		fprintf(stderr, "%s\n", rep);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(strstr(rep, "quarantined 4 records to ep.dead.rec") != NULL);
	CU_ASSERT(strstr(rep, "delivery exactly-once") != NULL);
	free(rep);
	check_dead_letters("ep", 200, "record ");
	exactly_the_good_lines(200);
	rp_cmd_dir_remove();
}

/* The same parser as two ordered replicas: the same records quarantined
 * (named by their place in the input ring), the same output byte for
 * byte.  Each copy's program runs in a PID namespace of the copy's own
 * (its keeper as init), not the copy itself. */
RP_TEST(test_each_replicas, 120)
{
	char yaml[1024], *rep;
	int code;

	rp_cmd_dir_make("each");
	poison_lines(200);
	snprintf(yaml, sizeof(yaml),
		 "name: er\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, P]}\n"
		 "  - {name: parse, input: read, run: exec, replicas: 2, "
		 "record_timeout_ms: 300, args: %s}\n"
		 "  - {name: write, input: parse, run: file-sink, "
		 "args: [--lines, OUT]}\n",
		 PARSER);
	code = rp_cmd_yaml("run", yaml, &rep);
	if (code != 0)
		fprintf(stderr, "%s\n", rep);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(strstr(rep, "pidns") != NULL);
	free(rep);
	check_dead_letters("er", 200, "record at input byte ");
	exactly_the_good_lines(200);
	rp_cmd_dir_remove();
}

/* SIGKILLs and stops at random points into two ordered replicas running
 * a program per record: nothing lost, repeated or reordered. */
RP_TEST(test_each_replicas_chaos, 180)
{
	static const char yaml[] =
		"name: ec\nstages:\n"
		"  - {name: read, run: file-source, args: [--lines, in], "
		"restart_backoff_ms: 0}\n"
		"  - {name: parse, input: read, run: exec, replicas: 2, "
		"restart_backoff_ms: 0, restart_max: 1000, args: [--each, --, "
		"sh, -c, 'read l; echo \"got $l\"']}\n"
		"  - {name: write, input: parse, run: file-sink, "
		"args: [--lines, out], restart_backoff_ms: 0}\n";
	char *args[] = {"chaos",   "c.yaml",    "--seed",  "5",
			"--faults", "12",       "--every", "40",
			"--kinds", "kill,stop", NULL};
	char path[512], *text;

	rp_cmd_dir_make("each");
	rp_cmd_path(path, sizeof(path), "in");
	rp_cmd_write_lines(path, 1500);
	rp_cmd_spit("c.yaml", yaml, strlen(yaml));
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	if (strstr(text, "safety      ok") == NULL)
		fprintf(stderr, "%s\n", text);
	CU_ASSERT(strstr(text, "safety      ok: lost 0, duplicated 0, "
			       "order kept") != NULL);
	CU_ASSERT(strstr(text, "liveness    ok: finished") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* A job a run leaves behind outside its process group is gone when
 * that run ends: alone (the stage is its namespace's init) and as
 * replicas (each copy's keeper is).  Such a job would say so a second
 * later, while the run on the last line still lasts 1.5 s. */
RP_TEST(test_each_leftovers_killed, 90)
{
	char yaml[1024], path[512], *rep;
	size_t n;

	rp_cmd_dir_make("each");
	CU_ASSERT_FATAL(chmod(rp_cmd_dir(), 0777) == 0);
	rp_cmd_path(path, sizeof(path), "IN");
	rp_cmd_write_lines(path, 100);
	for (int copies = 1; copies <= 2; copies++) {
		snprintf(yaml, sizeof(yaml),
			 "name: el\nstages:\n"
			 "  - {name: read, run: file-source, "
			 "args: [--lines, IN]}\n"
			 "  - {name: parse, input: read, run: exec, "
			 "replicas: %d, args: [--each, --, sh, -c, 'read l; "
			 "case \"$l\" in *\" 99\") sleep 1.5;; *) setsid sh -c "
			 "\"sleep 1; echo left >> LEFT\" & ;; esac; "
			 "echo \"$l\"']}\n"
			 "  - {name: write, input: parse, run: file-sink, "
			 "args: [--lines, OUT]}\n",
			 copies);
		CU_ASSERT_EQUAL(rp_cmd_yaml("run", yaml, &rep), 0);
		free(rep);
		rp_cmd_path(path, sizeof(path), "LEFT");
		CU_ASSERT(access(path, F_OK) != 0);
		if (access(path, F_OK) == 0) {
			char *left = rp_cmd_slurp("LEFT", &n);
			fprintf(stderr, "%d copies: %zu jobs outlived their "
					"run\n", copies, n / 5);
			free(left);
			unlink(path);
		}
	}
	rp_cmd_dir_remove();
}

/* A run that exits non-zero fails the stage, naming the record; a
 * program that cannot be run is not restarted; replicas of a stream
 * exec and --each without an input are refused; a run that writes
 * without end is ended. */
RP_TEST(test_each_failures, 90)
{
	char path[512], *rep;

	rp_cmd_dir_make("each");
	rp_cmd_path(path, sizeof(path), "IN");
	rp_cmd_write_lines(path, 20);
	CU_ASSERT_EQUAL(rp_cmd_yaml("run",
				    "name: ef\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [--lines, IN]}\n"
				    "  - {name: parse, input: read, run: exec, "
				    "restart: never, args: [--each, --, sh, -c, "
				    "'read l; echo $l; [ \"$l\" != \"line 7\" "
				    "]']}\n"
				    "  - {name: write, input: parse, "
				    "run: file-sink, args: [--lines, OUT]}\n",
				    &rep),
			1);
	CU_ASSERT(strstr(rep, "exec: sh exited with status 1 on record 7") !=
		  NULL);
	free(rep);
	CU_ASSERT_EQUAL(rp_cmd_yaml("run",
				    "name: ef\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [--lines, IN]}\n"
				    "  - {name: parse, input: read, run: exec, "
				    "args: [--each, --, ./no-such-program]}\n"
				    "  - {name: write, input: parse, "
				    "run: file-sink, args: [--lines, OUT]}\n",
				    &rep),
			2);
	/* (Found before anything starts, at its stage: not there, or
	 * where the stage's user cannot look.) */
	CU_ASSERT(strstr(rep, ": stage 'parse': ./no-such-program: ") != NULL);
	CU_ASSERT(strstr(rep, "restarting") == NULL);
	free(rep);
	/* A run that writes without end is ended past 64 MiB, as if past
	 * a file size limit: its record quarantined, the rest out. */
	CU_ASSERT_EQUAL(rp_cmd_yaml("run",
				    "name: ey\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [--lines, IN]}\n"
				    "  - {name: parse, input: read, run: exec, "
				    "restart_backoff_ms: 0, args: [--each, --, "
				    "sh, -c, 'read l; [ \"$l\" = \"line 3\" ] && "
				    "yes; echo $l']}\n"
				    "  - {name: write, input: parse, "
				    "run: file-sink, args: [--lines, OUT]}\n",
				    &rep),
			0);
	CU_ASSERT(strstr(rep, "wrote over 64 MiB for record 3") != NULL);
	CU_ASSERT(strstr(rep, "quarantined 1 record to ") != NULL);
	free(rep);
	{
		size_t n;
		char *out = rp_cmd_slurp("OUT", &n);
		CU_ASSERT(n > 0 && strstr(out, "line 3\n") == NULL &&
			  strstr(out, "line 19\n") != NULL);
		free(out);
	}
	CU_ASSERT_EQUAL(rp_cmd_yaml("check",
				    "name: x\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [/dev/null]}\n"
				    "  - {name: pick, input: read, run: exec, "
				    "args: [cat], replicas: 2}\n",
				    &rep),
			2);
	CU_ASSERT(strstr(rep, "p.yaml:4:") != NULL);
	CU_ASSERT(strstr(rep, "stage 'pick': replicas: an exec stage's "
			      "program keeps its state across records; exec "
			      "--each (a run of it per record) can have "
			      "replicas") != NULL);
	free(rep);
	CU_ASSERT_EQUAL(rp_cmd_yaml("check",
				    "name: x\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [/dev/null]}\n"
				    "  - {name: pick, input: read, run: exec, "
				    "record_timeout_ms: 100, end_timeout_ms: 500, "
				    "args: [--each, cat]}\n",
				    &rep),
			2);
	CU_ASSERT(strstr(rep, "stage 'pick': end_timeout_ms: with --each a "
			      "whole run is one record's work") != NULL);
	free(rep);
	CU_ASSERT_EQUAL(rp_cmd_yaml("check",
				    "name: es\nstages:\n"
				    "  - {name: gen, run: exec, args: [--each, "
				    "--, echo, hi]}\n"
				    "  - {name: write, input: gen, "
				    "run: file-sink, args: [--lines, OUT]}\n",
				    &rep),
			2);
	CU_ASSERT(strstr(rep, "stage 'gen': exec --each runs its program "
			      "once per input record: it needs an input") !=
		  NULL);
	free(rep);
	rp_cmd_dir_remove();
}

/* What a run may not do to its record's accounting: trickle output to
 * dodge the per-record timeout (the whole run is the record's time), or
 * have the sending of a large output on counted as its time.  Raw
 * bytes (--chunks 4, its value a word of its own) are cut into records
 * of 4 bytes at most, and the stage still counts as --each (restarted,
 * exactly once). */
RP_TEST(test_each_timing_and_chunks, 120)
{
	char path[512], *rep, *out;
	size_t n;

	rp_cmd_dir_make("each");
	rp_cmd_path(path, sizeof(path), "IN");
	rp_cmd_write_lines(path, 6);
	CU_ASSERT_EQUAL(rp_cmd_yaml("run",
				    "name: et\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [--lines, IN]}\n"
				    "  - {name: parse, input: read, run: exec, "
				    "record_timeout_ms: 300, restart_backoff_ms: 0, "
				    "args: [--each, --, sh, -c, 'read l; "
				    "if [ \"$l\" = \"line 2\" ]; then while :; do "
				    "printf x; sleep 0.1; done; fi; echo \"$l\"']}\n"
				    "  - {name: write, input: parse, "
				    "run: file-sink, args: [--lines, OUT]}\n",
				    &rep),
			0);
	CU_ASSERT(strstr(rep, "exceeded its per-record timeout of 300 ms on "
			      "record 2") != NULL);
	CU_ASSERT(strstr(rep, "quarantined 1 record to ") != NULL);
	free(rep);
	out = rp_cmd_slurp("OUT", &n);
	CU_ASSERT_STRING_EQUAL(out, "line 0\nline 1\nline 3\nline 4\nline 5\n");
	free(out);

	/* 300 000 lines a run (a few ms of it), sent on into a ring (64K)
	 * whose consumer waits 1 s before it reads: sending them takes far
	 * longer than the run's 300 ms, and is not the run's time. */
	rp_cmd_spit("IN2", "a\n", 2);
	CU_ASSERT_EQUAL(rp_cmd_yaml("run",
				    "name: eb\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [--lines, IN2]}\n"
				    "  - {name: parse, input: read, run: exec, "
				    "record_timeout_ms: 300, args: [--each, --, "
				    "sh, -c, 'cat > /dev/null; yes | head -n "
				    "300000']}\n"
				    "  - {name: slow, input: parse, run: exec, "
				    "ring: 64K, args: [--lines, --, sh, -c, "
				    "'sleep 1; exec cat']}\n"
				    "  - {name: tally, input: slow, run: count}\n",
				    &rep),
			0);
	CU_ASSERT(strstr(rep, "count: records=300000 ") != NULL);
	CU_ASSERT(strstr(rep, "timeout") == NULL);
	{
		/* It did wait that long to send them. */
		const char *p = strstr(rep, "\n  parse ");
		double in_s = 0, out_s = 0;
		p = p ? strstr(p, "blocked ") : NULL;
		CU_ASSERT(p != NULL &&
			  sscanf(p, "blocked %lf s on input, %lf s on output",
				 &in_s, &out_s) == 2 &&
			  out_s >= 0.6);
	}
	if (!strstr(rep, "records=300000 ") || strstr(rep, "timeout"))
		fprintf(stderr, "%s\n", rep);
	free(rep);

	CU_ASSERT_EQUAL(rp_cmd_yaml("run",
				    "name: ec\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [--lines, IN]}\n"
				    "  - {name: parse, input: read, run: exec, "
				    "args: [--chunks, \"4\", --each, --, sh, -c, "
				    "'cat > /dev/null; printf xxxxxxxxxxxxxxx']}\n"
				    "  - {name: tally, input: parse, run: count}\n",
				    &rep),
			0);
	CU_ASSERT(strstr(rep, "count: records=24 bytes=90") != NULL);
	CU_ASSERT(strstr(rep, "restart never") == NULL);
	if (!strstr(rep, "records=24 "))
		fprintf(stderr, "%s\n", rep);
	free(rep);

	/* As the last stage its runs write to stdout: at least once. */
	CU_ASSERT_EQUAL(rp_cmd_yaml("run",
				    "name: ed\nstages:\n"
				    "  - {name: read, run: file-source, "
				    "args: [--lines, IN]}\n"
				    "  - {name: parse, input: read, run: exec, "
				    "args: [--each, --, cat]}\n",
				    &rep),
			0);
	CU_ASSERT(strstr(rep, "delivery at-least-once: its program's runs "
			      "write to stdout") != NULL);
	free(rep);
	rp_cmd_dir_remove();
}

void rp_suite_each(void)
{
	RP_SUITE("each",
		 {"a run per record, its output the record's",
		  test_each_outputs},
		 {"crash, hang, denied syscall: quarantined, the rest once",
		  test_each_poison_quarantined},
		 {"as replicas: the same quarantines and bytes",
		  test_each_replicas},
		 {"replicas killed and stopped: nothing lost or repeated",
		  test_each_replicas_chaos},
		 {"what a run leaves behind is gone before the next",
		  test_each_leftovers_killed},
		 {"a failing run, a missing program, refused settings",
		  test_each_failures},
		 {"a run's time, its output's sending, raw chunks",
		  test_each_timing_and_chunks});
}
