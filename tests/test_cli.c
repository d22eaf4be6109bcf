/*
 * test_cli.c - the ringpipe command as a user runs it: `check` names the
 * file, line and column of every mistake; a one-liner pipeline gives the
 * same bytes as the shell pipeline it replaces; a denied syscall, a
 * failing stage and Ctrl-C each end the run with the documented exit code
 * and report, and nothing is left running.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../stage/landlock.h"
#include "../supervisor/scratch.h"
#include "cmd.h"
#include "harness.h"

/* Run ringpipe to its end; its exit code and what it printed. */
static void stage_prog_copy(const char *name, const char *as, char *prog,
			    size_t len);

static int run(char *const args[], char **text)
{
	return rp_cmd_run(args, text);
}

static void unlink_in_dir(const char *name)
{
	char path[256];

	rp_cmd_path(path, sizeof(path), name);
	CU_ASSERT(unlink(path) == 0);
}

static void write_file(const char *name, const char *text)
{
	rp_cmd_spit(name, text, strlen(text));
}

static char *read_file(const char *path)
{
	size_t n;
	const char *slash = strrchr(path, '/');

	return rp_cmd_slurp(slash ? slash + 1 : path, &n);
}

/* ------------------------------------------------------------- check */

struct bad_case {
	const char *yaml;
	const char *expect; /* substring of the error */
};

RP_TEST(test_check_names_line_and_column, 60)
{
	static const struct bad_case cases[] = {
		/* Replicas writing their results themselves cannot keep
		 * the order ordered: true promises (their lines came out
		 * mixed). */
		{"name: p\nstages:\n"
		 "  - {name: a, run: fault, args: [--make, \"3\"]}\n"
		 "  - {name: b, input: a, run: exec, args: [--each, --, cat], "
		 "replicas: 2}\n",
		 "p.yaml:4:5: stage 'b': replicas: as the last stage each copy "
		 "writes its results itself, in no order"},
		/* A memory limit its rings fill, mapped twice over: the
		 * stage could allocate nothing, at every start. */
		{"name: p\nstages:\n"
		 "  - {name: a, run: fault, args: [--make, \"3\"]}\n"
		 "  - {name: b, input: a, run: count, ring: 64M, "
		 "sandbox: {memory: 64M}}\n",
		 "p.yaml:4:5: stage 'b': memory: 64 MiB is less than its rings "
		 "take, mapped twice over (its input ring 65536 KiB, its output "
		 "ring 0 KiB), and 16 MiB besides: give it 144 MiB or more"},
		/* (Relative: to the directory ringpipe runs in, the test's.) */
		{"name: p\ndead_letter: no/such/dir/d\nstages:\n"
		 "  - {name: a, run: fault, args: [--make, \"3\"]}\n"
		 "  - {name: b, input: a, run: count}\n",
		 "p.yaml:2:14: dead_letter: no/such/dir/d.rec cannot be written "
		 "("},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    argz: [x]\n",
		 "p.yaml:5:5: unknown key 'argz' in a stage (did you mean "
		 "'args'?)"},
		{"name: p\nstages:\n  - name: a\n    run: fiel-source\n",
		 "p.yaml:4:10: run: 'fiel-source' is not a built-in stage"},
		/* What libyaml's reader refuses (a control character, bad
		 * UTF-8): placed where it is, not at 1:1. */
		{"name: p\nstages:\n  - {name: a, run: file-source}\n"
		 "# a \001 here\n",
		 "p.yaml:4:5: not valid YAML: control characters are not "
		 "allowed"},
		{"name: p\nstages:\n  - {name: a, run: file-source}\n"
		 "# \xc3\x28\n",
		 "p.yaml:4:4: not valid YAML: invalid trailing UTF-8 octet"},
		/* The environment a stage keeps: names only. */
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    sandbox: {env: [PATH, \"A=B\"]}\n",
		 "p.yaml:5:27: env: 'A=B' is not a variable name"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    sandbox: {policy: strict, allow: [opne]}\n",
		 "allow: unknown syscall name 'opne'"},
		/* A call the stage library makes itself: denied, it would
		 * kill or stall the stage on its own work, and a record
		 * would be blamed. */
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    sandbox:\n      deny: [socket, \"futex:EPERM\"]\n",
		 "p.yaml:6:22: deny: 'futex' cannot be denied: every stage "
		 "makes it itself"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    args: [x]\n    ring: 1.5M\n"
		 "  - {name: b, input: a, run: count}\n",
		 "p.yaml:6:11: ring: '1.5M' is not a size: a whole number, then "
		 "K, M or G or nothing"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    args: [x]\n    sandbox: {allow: [uname], deny: [uname]}\n"
		 "  - {name: b, input: a, run: count}\n",
		 "sandbox: 'uname' is both allowed and denied"},
		/* Rules the policy cannot carry: none has no filter at all,
		 * and strict allows a few calls in a narrow form only. */
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    args: [x]\n    sandbox: {policy: none, deny: [uname]}\n"
		 "  - {name: b, input: a, run: count}\n",
		 "p.yaml:3:5: stage 'a': sandbox: allow and deny need a seccomp "
		 "filter, and policy none has none: use strict or exec"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    args: [x]\n    sandbox: {deny: [mmap]}\n"
		 "  - {name: b, input: a, run: count}\n",
		 "p.yaml:3:5: stage 'a': sandbox: deny: 'mmap' cannot be denied "
		 "under policy strict"},
		/* exec's adapter holds some descriptors of its own. */
		{"name: p\nstages:\n  - {name: a, run: file-source, args: [x]}\n"
		 "  - name: b\n    input: a\n    run: exec\n    args: [--, cat]\n"
		 "    sandbox: {files: 16}\n",
		 "p.yaml:4:5: stage 'b': sandbox: files: an exec stage needs at "
		 "least 32"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "  - name: b\n    run: count\n    input: b\n",
		 "p.yaml:5:5: stage 'b' reads from itself"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "  - name: b\n    run: count\n    input: a\n    ring: 0\n",
		 "p.yaml:8:11: ring: a power of two from 4K to 1G"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    sandbox: {polcy: strict}\n",
		 "unknown key 'polcy' in sandbox (did you mean 'policy'?)"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "  - name: b\n    run: count\n",
		 "stage 'b' has no input, but 'a' is already the source"},
		{"name: p\nstages: [\n", "p.yaml:3:1: not valid YAML"},
		{"name: p\n\nstages: 5\n",
		 "p.yaml:3:9: stages: expected a list of stages"},
		/* What libyaml takes but a pipeline must not: the last of
		 * two keys silently winning, a value cut at a NUL byte, a
		 * second document left unread, nesting whose parse time
		 * grows with its square, a stage name cut to fit. */
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "    ring: 4K\n    ring: 1G\n",
		 "p.yaml:6:5: 'ring' given twice (first at line 5)"},
		{"name: p\nstages:\n  - name: a\n"
		 "    run: \"file-source\\0 --bogus\"\n",
		 "p.yaml:4:10: a value with a NUL byte in it"},
		{"name: p\nstages: [{name: a, run: file-source}]\n---\n"
		 "{ this: is [ not valid\n",
		 "p.yaml:3:1: a second YAML document: a pipeline file holds "
		 "one"},
		{"name: p\nstages: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
		 "p.yaml:2:40: nested deeper than 32 levels"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "  - name: b\n    run: count\n    input: "
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_no_such\n",
		 "p.yaml:7:12: input: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "...' is longer than a stage name can be (47 bytes)"},
		/* A stage an alias repeats is named where the alias is,
		 * not at its anchor. */
		{"name: p\nstages:\n  - &s\n    name: a\n"
		 "    run: file-source\n  - name: b\n    run: count\n"
		 "    input: a\n  - *s\n",
		 "p.yaml:9:5: stage name 'a' is used twice"},
		/* What is wrong with the whole list is named at the list. */
		{"name: p\nstages:\n  - name: a\n    run: count\n"
		 "    input: b\n  - name: b\n    run: grep\n    args: [x]\n"
		 "    input: a\n",
		 "p.yaml:3:3: stages: no source"},
		{"name: p\nstages:\n"
		 "  - {name: a, run: file-source}\n"
		 "  - {name: b, run: grep, args: [x], input: a, replicas: 16}\n"
		 "  - {name: c, run: grep, args: [x], input: b, replicas: 16}\n"
		 "  - {name: d, run: grep, args: [x], input: c, replicas: 16}\n"
		 "  - {name: e, run: grep, args: [x], input: d, replicas: 16}\n",
		 "p.yaml:7:5: stage 'e': 65 processes with the replicas up to "
		 "here; a pipeline has at most 64"},
		/* Built-ins in a place they cannot work: each used to start
		 * and end with nothing done, or fail only as it ran. */
		{"name: p\nstages:\n  - name: a\n    run: file-source\n",
		 "p.yaml:3:5: stage 'a': a pipeline needs a second stage to "
		 "read what it makes"},
		{"name: p\nstages:\n  - name: a\n    run: lines\n"
		 "  - name: b\n    run: count\n    input: a\n",
		 "p.yaml:3:5: stage 'a': lines reads records: it needs an "
		 "input"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "  - name: b\n    run: file-source\n    input: a\n",
		 "p.yaml:5:5: stage 'b': file-source is a source: it cannot "
		 "read from 'a'"},
		{"name: p\nstages:\n  - name: a\n    run: file-source\n"
		 "  - name: b\n    run: file-sink\n    input: a\n"
		 "  - name: c\n    run: count\n    input: b\n",
		 "p.yaml:8:5: stage 'c': input 'b' is a file-sink, which "
		 "passes no records on"},
		/* A built-in that passes records on cannot end a pipeline:
		 * it used to fail at its first record, restarted five
		 * times.  The last in the chain, not in the file. */
		{"name: p\nstages:\n  - name: read\n    run: file-source\n"
		 "    args: [x]\n  - name: pick\n    input: read\n"
		 "    run: grep\n    args: [x]\n",
		 "p.yaml:6:5: stage 'pick': grep passes records on, but "
		 "nothing reads them: end the pipeline with a sink (file-sink "
		 "--lines - for stdout, or count)"},
		{"name: p\nstages:\n"
		 "  - {name: c, input: b, run: head, args: ['3']}\n"
		 "  - {name: a, run: file-source, args: [x]}\n"
		 "  - {name: b, input: a, run: count}\n",
		 "p.yaml:3:5: stage 'c': head passes records on, but nothing "
		 "reads them"},
		{"name: p\nstages:\n  - {name: a, run: file-source, args: [x]}\n"
		 "  - {name: b, input: a, run: lines}\n",
		 "p.yaml:4:5: stage 'b': lines passes records on"},
		{"name: p\nstages:\n  - {name: a, run: fault, args: [--make, "
		 "'9']}\n  - {name: b, input: a, run: fault}\n",
		 "p.yaml:4:5: stage 'b': fault passes records on"},
	};

	rp_cmd_dir_make("cli");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char p[256], *text;
		char *args[] = {"check", p, NULL};
		int code;

		write_file("p.yaml", cases[i].yaml);
		rp_cmd_path(p, sizeof(p), "p.yaml");
		code = run(args, &text);
		CU_ASSERT_EQUAL(code, 2);
		if (strstr(text, cases[i].expect) == NULL) {
			fprintf(stderr, "case %zu: want '%s', got '%s'\n", i,
				cases[i].expect, text);
			CU_FAIL("check did not name the mistake");
		}
		free(text);
	}
	{
		/* A mapping of 65 keys: refused before the check for a key
		 * given twice (which compares each with each) can take
		 * seconds over a large file. */
		char p[256], yaml[2048], *text;
		char *args[] = {"check", p, NULL};
		size_t at = (size_t)snprintf(yaml, sizeof(yaml),
					     "name: p\nstages:\n  - name: a\n");
		for (int i = 0; i < 65; i++)
			at += (size_t)snprintf(yaml + at, sizeof(yaml) - at,
					       "    k%d: 1\n", i);
		write_file("k.yaml", yaml);
		rp_cmd_path(p, sizeof(p), "k.yaml");
		CU_ASSERT_EQUAL(run(args, &text), 2);
		CU_ASSERT(strstr(text, "k.yaml:3:5: more than 64 keys in one "
				       "mapping") != NULL);
		free(text);
	}
	{
		char p[256], *text;
		char *args[] = {"check", p, NULL};
		/* (check looks for a file-source's input.) */
		write_file("in", "x\n");
		write_file("x", "x\n");
		write_file("ok.yaml",
			   "name: ok\nstages:\n  - name: read\n"
			   "    run: file-source\n    args: [--lines, in]\n"
			   "  - name: pick\n    input: read\n    run: grep\n"
			   "    args: [x]\n    ring: 64K\n"
			   "    sandbox:\n      policy: strict\n"
			   "      memory: 256M\n      deny: [\"openat:EACCES\"]\n"
			   "  - name: tally\n    input: pick\n    run: count\n");
		rp_cmd_path(p, sizeof(p), "ok.yaml");
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strstr(text, "pipeline ok: 3 stages, ok") != NULL);
		free(text);
	}
	{
		/* A program of one's own may end a pipeline (nothing says
		 * it passes records on), and so may exec. */
		static const char *const ends[] = {"program: [./mine]",
						   "run: exec\n    args: [cat]"};
		char mine[256];
		/* (check looks for a program named by path, as the user
		 * stages run as: the directory must let that user in.) */
		CU_ASSERT_FATAL(chmod(rp_cmd_dir(), 0755) == 0);
		write_file("mine", "#!/bin/sh\n");
		rp_cmd_path(mine, sizeof(mine), "mine");
		CU_ASSERT(chmod(mine, 0755) == 0);
		for (size_t i = 0; i < 2; i++) {
			char p[256], yaml[512], *text;
			char *args[] = {"check", p, NULL};
			snprintf(yaml, sizeof(yaml),
				 "name: ok\nstages:\n  - name: read\n"
				 "    run: file-source\n    args: [x]\n"
				 "  - name: pick\n    input: read\n"
				 "    run: grep\n    args: [x]\n"
				 "  - name: end\n    input: pick\n    %s\n",
				 ends[i]);
			write_file("end.yaml", yaml);
			rp_cmd_path(p, sizeof(p), "end.yaml");
			CU_ASSERT_EQUAL(run(args, &text), 0);
			CU_ASSERT(strstr(text, "pipeline ok: 3 stages, ok") !=
				  NULL);
			free(text);
		}
	}
	rp_cmd_dir_remove();
}

/* A one-liner's mistakes are named at their column in the line (its
 * byte, from 1): the quote left open, the '!' out of place, the word at
 * fault, a stage's name; a setting given twice is refused as a YAML key
 * given twice is.  And a pipeline ending in a built-in that passes
 * records on is refused by run as by check, before anything starts. */
RP_TEST(test_one_liner_places, 60)
{
	static const struct bad_case cases[] = {
		{"file-source --lines x ! grep x ! exec -- sh -c 'echo",
		 "-e:1:48: a quote is not closed (the ' here)"},
		{"file-source \"x ! count", "-e:1:13: a quote is not closed"},
		{"file-source x ! ! count", "-e:1:17: '!' with no stage before "
					    "it"},
		{"! count", "-e:1:1: '!' with no stage before it"},
		{"file-source x ! count !", "-e:1:23: '!' with no stage after "
					    "it"},
		{"file-source x ! exec @name=p @name=q -- cat",
		 "-e:1:30: @name=q: 'name' given twice (first at column 22)"},
		{"file-source x ! exec @policy=exec @fs_read=/usr "
		 "@policy=none -- cat",
		 "-e:1:49: @policy=none: 'policy' given twice (first at "
		 "column 22)"},
		{"file-source x ! exec @nmae=p -- cat",
		 "-e:1:22: @nmae=p: unknown setting 'nmae' (did you mean "
		 "'@name'?)"},
		{"file-source x ! exec @record_timeout_ms=soon -- cat",
		 "-e:1:22: @record_timeout_ms=soon: record_timeout_ms: "
		 "expected a number"},
		{"file-source x ! @replicas=2 grep x ! count",
		 "-e:1:17: '@replicas=2' where stage 2's name is due"},
		{"file-source x ! nosuch y ! count",
		 "-e:1:17: 'nosuch' is not a built-in stage"},
		{"file-source x ! exec @name=p -- cat ! exec @name=p -- cat ! "
		 "count",
		 "-e:1:39: stage name 'p' is used twice"},
		{"file-source x ! exec @name=ringpipe -- cat ! count",
		 "-e:1:17: stage name 'ringpipe' is the supervisor's own in "
		 "the log: choose another"},
		{"file-source x ! grep x",
		 "-e:1:17: stage '2-grep': grep passes records on, but nothing "
		 "reads them: end the pipeline with a sink (file-sink --lines "
		 "- for stdout, or count)"},
		{"file-source x ! head 3 ! count ! lines",
		 "-e:1:34: stage '4-lines': lines passes records on"},
		{"fault --make 9 ! fault", "-e:1:18: stage '2-fault': fault "
					   "passes records on"},
		{"file-source x ! ./no-such-parser ! count",
		 "-e:1:17: stage '2-no-such-parser': program ./no-such-parser: "
		 "No such file or directory (a relative path is taken from "
		 "the directory ringpipe runs in)"},
		/* A built-in's own arguments: judged by it, as it starts
		 * or when check asks it. */
		{"file-source --line x ! count", "unknown option --line"},
		{"fault --make 5 ! fault --at x --do crash ! count",
		 "--at 'x': not a count (decimal digits)"},
	};
	char p[256], *text;
	char *args[] = {"run", p, NULL};

	rp_cmd_dir_make("cli");
	/* Each through run (-e) and through check -e alike. */
	for (size_t i = 0; i < 2 * sizeof(cases) / sizeof(*cases); i++) {
		char *line = (char *)cases[i / 2].yaml;
		char *eargs[] = {"-e", line, NULL};
		char *cargs[] = {"check", "-e", line, NULL};
		int code = run(i % 2 ? cargs : eargs, &text);

		CU_ASSERT_EQUAL(code, 2);
		if (code != 2 || strstr(text, cases[i / 2].expect) == NULL) {
			fprintf(stderr, "case %zu (%s): want '%s', exit %d, "
					"got '%s'\n", i / 2,
				i % 2 ? "check -e" : "-e",
				cases[i / 2].expect, code, text);
			CU_FAIL("the one-liner's mistake was not placed");
		}
		free(text);
	}
	/* check -e: a sound one-liner is said so, and nothing runs (the
	 * file-sink's FILE is not made); an input that is not there, or a
	 * command not in PATH, is named at its stage. */
	{
		char *cargs[] = {"check", "-e", "file-source --lines in ! "
						"exec -- cat ! file-sink made",
				 NULL};
		char *nosuch[] = {"check", "-e", "file-source --lines nosuch ! "
						 "count", NULL};
		char *nocmd[] = {"check", "-e", "file-source in ! exec -- "
						"no-such-cmd-x ! count", NULL};
		write_file("in", "x\n");
		CU_ASSERT_EQUAL(run(cargs, &text), 0);
		CU_ASSERT(strstr(text, "one-liner: pipeline pipeline: 3 "
				       "stages, ok") != NULL);
		rp_cmd_path(p, sizeof(p), "made");
		CU_ASSERT(access(p, F_OK) != 0);
		free(text);
		CU_ASSERT_EQUAL(run(nosuch, &text), 2);
		CU_ASSERT(strstr(text, "-e:1:1: stage '1-file-source': nosuch: "
				       "No such file or directory") != NULL);
		free(text);
		CU_ASSERT_EQUAL(run(nocmd, &text), 2);
		CU_ASSERT(strstr(text, "-e:1:18: stage '2-exec': no-such-cmd-x: "
				       "not found in PATH") != NULL);
		free(text);
		/* A setting after the stage's own words is its command:
		 * said where settings go. */
		{
			char *late[] = {"check", "-e", "file-source in ! exec "
					"--each @replicas=2 -- sed p ! count",
					NULL};
			CU_ASSERT_EQUAL(run(late, &text), 2);
			CU_ASSERT(strstr(text, "@replicas=2: not found in PATH "
					       "(a setting goes right after "
					       "the stage's name") != NULL);
			free(text);
		}
		/* So does any built-in's refusal that names one. */
		{
			char *late[] = {"check", "-e", "file-source in ! head 3 "
					"@name=x ! count", NULL};
			CU_ASSERT_EQUAL(run(late, &text), 2);
			CU_ASSERT(strstr(text, "stage '2-head': one N only "
					       "(@name=x is extra) (@name=x is "
					       "a setting: a setting goes right "
					       "after the stage's name, before "
					       "its own words: head @name=x "
					       "...)") != NULL);
			free(text);
		}
		/* Also where the refusal names another word. */
		{
			char *late[] = {"check", "-e", "file-source in ! "
					"file-sink --lines @ring=4K out",
					NULL};
			CU_ASSERT_EQUAL(run(late, &text), 2);
			CU_ASSERT(strstr(text, "(out is extra) (@ring=4K is a "
					       "setting: a setting goes right "
					       "after") != NULL);
			free(text);
		}
	}
	/* check -e judges as run would: a directory given to file-source,
	 * a file-sink FILE in a directory not there or a directory, and
	 * (as root) a program only root may run, which the stage's user
	 * (65534) runs: each said at its stage, not "ok" before a run that
	 * fails. */
	{
		static const struct {
			const char *line, *expect;
		} bad[] = {
			{"file-source --lines . ! count",
			 "stage '1-file-source': .: Is a directory"},
			{"file-source in ! file-sink nodir/out",
			 "stage '2-file-sink': nodir/out: No such file or "
			 "directory"},
			{"file-source in ! file-sink .",
			 "stage '2-file-sink': .: Is a directory"},
		};
		char prog[128], line[512];
		char *cargs[] = {"check", "-e", line, NULL};
		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			snprintf(line, sizeof(line), "%s", bad[i].line);
			CU_ASSERT_EQUAL(run(cargs, &text), 2);
			CU_ASSERT(strstr(text, bad[i].expect) != NULL);
			if (strstr(text, bad[i].expect) == NULL)
				fprintf(stderr, "%s: %s\n", line, text);
			free(text);
		}
		if (geteuid() == 0) {
			stage_prog_copy("refuser", "rootonly", prog,
					sizeof(prog));
			CU_ASSERT_FATAL(chmod(prog, 0700) == 0);
			snprintf(line, sizeof(line), "file-source in ! %s ! "
				 "file-sink out", prog);
			CU_ASSERT_EQUAL(run(cargs, &text), 2);
			CU_ASSERT(strstr(text, ": Permission denied (for the "
					       "user stages run as, uid "
					       "65534)") != NULL);
			free(text);
			snprintf(line, sizeof(line), "file-source in ! exec -- "
				 "%s ! file-sink out", prog);
			CU_ASSERT_EQUAL(run(cargs, &text), 2);
			CU_ASSERT(strstr(text, ": Permission denied (for the "
					       "user stages run as)") != NULL);
			free(text);
			unlink(prog);
		}
	}
	/* run: refused with the place, nothing started (no restart). */
	write_file("in", "x\n");
	write_file("g.yaml", "name: g\nstages:\n"
			     "  - {name: read, run: file-source, args: [in]}\n"
			     "  - {name: pick, input: read, run: grep, "
			     "args: [x]}\n");
	rp_cmd_path(p, sizeof(p), "g.yaml");
	CU_ASSERT_EQUAL(run(args, &text), 2);
	CU_ASSERT(strstr(text, "g.yaml:4:5: stage 'pick': grep passes "
			       "records on") != NULL);
	CU_ASSERT(strstr(text, "restarting") == NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* ------------------------------------------------------------- runs */

RP_TEST(test_one_liner_matches_shell, 60)
{
	char in[256], out[256], want[256], line[1024], cmd[800], *text;
	char *a, *b;
	FILE *f;

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in.log");
	rp_cmd_path(out, sizeof(out), "out.log");
	rp_cmd_path(want, sizeof(want), "want.log");
	f = fopen(in, "w");
	CU_ASSERT_FATAL(f != NULL);
	for (int i = 0; i < 50000; i++)
		fprintf(f, "%d %s request %d\n", i,
			i % 7 == 0 ? "ERROR" : i % 3 ? "INFO" : "DEBUG", i * 31);
	fprintf(f, "last line without a newline ERROR");
	fclose(f);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! grep ERROR ! file-sink --lines %s",
		 in, out);
	{
		char *args[] = {"-e", line, NULL};
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
	}
	/* The same through the shell, with LC_ALL=C for bytes. */
	snprintf(cmd, sizeof(cmd), "LC_ALL=C grep ERROR '%s' > '%s'", in,
		 want);
	CU_ASSERT_FATAL(system(cmd) == 0);
	a = read_file(out);
	b = read_file(want);
	CU_ASSERT(strlen(a) > 100000);
	CU_ASSERT_STRING_EQUAL(a, b);
	free(a);
	free(b);
	/* A backslash inside "..." stays, as in sh, before anything but
	 * '"', '\\', '$' or '`': the regex a\.b matches a dot only. */
	write_file("dots", "a.b\naxb\n");
	snprintf(line, sizeof(line),
		 "file-source --lines dots ! grep \"a\\.b\" ! exec -- sh -c "
		 "\"echo \\\"q\\\"; cat\" ! file-sink --lines %s", out);
	{
		char *args[] = {"-e", line, NULL};
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
	}
	a = read_file(out);
	CU_ASSERT_STRING_EQUAL(a, "q\na.b\n");
	free(a);
	rp_cmd_dir_remove();
}

/* A one-liner sets what a YAML file would with @KEY=VALUE words right
 * after a stage's name, checked by the same code: a name and a
 * per-record timeout (the report uses both), sandbox keys (no PID
 * namespace for the second exec), and mistakes named at the word's
 * column, with the word.  An @ word among a program's own arguments is
 * just an argument. */
RP_TEST(test_one_liner_settings, 60)
{
	static const struct bad_case bad[] = {
		{"@fs_wrte=/tmp", "@fs_wrte=/tmp: unknown setting 'fs_wrte' "
				  "(did you mean '@fs_write'?)"},
		{"@record_timeout_ms=soon", "@record_timeout_ms=soon: "
					    "record_timeout_ms: expected a "
					    "number"},
		{"@namespaces=pid,usr", "namespaces: 'usr' is not net, ipc, "
					"mnt or pid"},
		{"@fs_write=tmp", "fs_write: 'tmp' is not an absolute path"},
		{"@input=x", "@input=x: input is what the line itself says"},
		/* No "did you mean '@args'" for what the line says itself,
		 * nor a guess for a key too short to be near anything. */
		{"@arg=x", "@arg=x: unknown setting 'arg'\n"},
		{"@=x", "@=x: unknown setting ''\n"},
		/* A long word is shortened where it is echoed, so the
		 * reason still fits. */
		{"@cpu=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		 "xxxxxx...: cpu: expected a number"},
	};
	char line[1024], token[64], in[256], *text, *out;
	char *args[] = {"-e", line, NULL};
	size_t n;
	int code;

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in.log");
	rp_cmd_write_lines(in, 10);
	snprintf(token, sizeof(token), "30.%d", (int)getpid());
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! exec @name=parse "
		 "@record_timeout_ms=300 @policy=exec -- sh -c "
		 "'read a; read b; exec sleep %s' ! file-sink -",
		 in, token);
	code = run(args, &text);
	if (!strstr(text, "stage parse: its program exceeded its per-record "
			  "timeout of 300 ms on record 2"))
		fprintf(stderr, "exit %d:\n%s\n", code, text);
	CU_ASSERT_NOT_EQUAL(code, 0);
	CU_ASSERT(strstr(text, "stage parse: its program exceeded its "
			       "per-record timeout of 300 ms on record 2") !=
		  NULL);
	/* It hangs after two lines whatever they hold: no record blamed. */
	CU_ASSERT(strstr(text, "the hang stands") != NULL);
	CU_ASSERT(strstr(text, "quarantined") == NULL);
	free(text);

	snprintf(line, sizeof(line),
		 "file-source --lines %s ! head 1 ! exec -- sh -c 'echo $$' ! "
		 "exec @namespaces= -- sh -c 'cat; echo $$; echo @a=b' ! "
		 "file-sink --lines OUT",
		 in);
	code = run(args, &text);
	out = rp_cmd_slurp("OUT", &n);
	CU_ASSERT_EQUAL(code, 0);
	/* pid 2 in its own namespace; not in the host's. */
	CU_ASSERT(strncmp(out, "2\n", 2) == 0);
	CU_ASSERT(n >= 2 && strcmp(out + 2, "2\n@a=b\n") != 0);
	CU_ASSERT(strstr(out, "\n@a=b\n") != NULL);
	CU_ASSERT(strstr(text, "4-exec           done      in 1          "
			       "policy exec   layers fds,rlimits,") != NULL);
	free(out);
	free(text);

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char at[64];
		/* Named at the word's column in the line. */
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! exec %s -- cat ! file-sink -",
			 in, bad[i].yaml);
		snprintf(at, sizeof(at), "-e:1:%d: %.8s",
			 (int)(strstr(line, " ! exec ") - line) + 9,
			 bad[i].yaml);
		code = run(args, &text);
		if (code != 2 || !strstr(text, bad[i].expect) ||
		    !strstr(text, at))
			fprintf(stderr, "%s: exit %d:\n%s\n", bad[i].yaml,
				code, text);
		CU_ASSERT_EQUAL(code, 2);
		CU_ASSERT(strstr(text, bad[i].expect) != NULL);
		CU_ASSERT(strstr(text, at) != NULL);
		free(text);
	}
	/* A setting before a stage's name: said, not taken for a
	 * program's path because it has a '/' in it. */
	{
		static const char *const early[] = {"@replicas=2 grep x",
						    "@fs_read=/etc grep x"};
		for (size_t i = 0; i < 2; i++) {
			char at[32];
			snprintf(line, sizeof(line),
				 "file-source --lines %s ! %s ! file-sink -",
				 in, early[i]);
			snprintf(at, sizeof(at), "-e:1:%d: '@",
				 (int)(strchr(line, '@') - line) + 1);
			code = run(args, &text);
			CU_ASSERT_EQUAL(code, 2);
			CU_ASSERT(strstr(text, at) != NULL);
			CU_ASSERT(strstr(text, "' where stage 2's name is "
					       "due: @settings come after "
					       "the name") != NULL);
			free(text);
		}
	}
	/* Long words: refused past 900 bytes; up to there, the worst
	 * quoting (all commas) still fits the checker's buffer (the
	 * sanitizer run would see an overflow). */
	for (int len = 850; len <= 1500; len += 650) {
		char word[1600], big[2048];
		char *bargs[] = {"-e", big, NULL};

		memset(word, ',', (size_t)len);
		word[len] = '\0';
		snprintf(big, sizeof(big),
			 "file-source x ! exec @namespaces=%s -- cat", word);
		code = run(bargs, &text);
		CU_ASSERT_EQUAL(code, 2);
		CU_ASSERT((strstr(text, "longer than 900 bytes") != NULL) ==
			  (len > 900));
		free(text);
	}
	CU_ASSERT(rp_cmd_find_process(token, NULL) == 0);
	rp_cmd_dir_remove();
}

/* A denied syscall ends the run with exit 1 and a report naming it. */
RP_TEST(test_violation_reported_by_name, 60)
{
	char p[256], in[256], *text;
	char *args[] = {"run", p, NULL};
	char yaml[1024];

	rp_cmd_dir_make("cli");
	write_file("in", "one\ntwo\n");
	rp_cmd_path(in, sizeof(in), "in");
	/* munmap is what a stage calls as it detaches: denying it makes
	 * a violation certain, at a known place. */
	snprintf(yaml, sizeof(yaml),
		 "name: v\nstages:\n  - name: read\n    run: file-source\n"
		 "    args: [--lines, %s]\n  - name: count\n    input: read\n"
		 "    run: count\n    sandbox: {deny: [munmap]}\n",
		 in);
	write_file("v.yaml", yaml);
	rp_cmd_path(p, sizeof(p), "v.yaml");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "stage count: denied syscall munmap") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* A stage that fails cancels the others; the run exits 1.  The stage
 * feeding it is said cancelled, not done, though it ends seeing its
 * output cut as it would behind a head that finished early. */
RP_TEST(test_failing_stage_cancels_siblings, 60)
{
	static const char *const who[] = {"1-file-source", "2-fault",
					  "3-count"};
	static const char *const state[] = {"cancelled", "failed",
					    "cancelled"};
	char *text;
	char *args[] = {"-e",
			"file-source --lines /nonexistent/file ! count", NULL};
	char line[512], in[256];
	char *mid[] = {"-e", line, NULL};

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 200000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault @restart=never --at 5000 "
		 "--do exit:1 ! count", in);
	/* (A missing input is found before anything starts: exit 2, at
	 * its stage.) */
	CU_ASSERT_EQUAL(run(args, &text), 2);
	CU_ASSERT(strstr(text, "-e:1:1: stage '1-file-source': "
			       "/nonexistent/file: No such file") != NULL);
	free(text);
	CU_ASSERT_EQUAL(run(mid, &text), 1);
	for (int i = 0; i < 3; i++) {
		char *b = rp_cmd_stage_block(text, who[i]);
		char want[64];
		snprintf(want, sizeof(want), "%s ", state[i]);
		CU_ASSERT(b != NULL && strstr(b, want) != NULL);
		if (b == NULL || strstr(b, want) == NULL)
			fprintf(stderr, "%s not %s:\n%s\n", who[i], state[i],
				text);
		free(b);
	}
	free(text);
	rp_cmd_dir_remove();
}

/* Ctrl-C: every stage is cancelled with reason user, the run exits 130
 * soon, and no stage is left running; the same for SIGTERM and SIGHUP,
 * with their own exit codes. */
RP_TEST(test_ctrl_c_cancels_cleanly, 60)
{
	char out[256], *text;
	char *args[] = {"-e", "file-source --chunks 64k /dev/zero ! lines ! "
			      "count", NULL};
	/* SIGINT: reason user, exit 130; SIGTERM: shutdown, exit 143;
	 * SIGHUP (the terminal closed): shutdown, exit 129. */
	const int sigs[] = {SIGINT, SIGTERM, SIGHUP}, codes[] = {130, 143, 129};

	for (int i = 0; i < 3; i++) {
		pid_t pid;
		int st;

		rp_cmd_dir_make("cli");
		pid = rp_cmd_start(args, -1);
		usleep(500000);
		kill(pid, sigs[i]);
		st = rp_test_wait(pid, 10);
		CU_ASSERT_EQUAL(rp_test_exit_code(st), codes[i]);
		rp_cmd_path(out, sizeof(out), "REPORT");
		text = read_file(out);
		CU_ASSERT(strstr(text, "cancelled") != NULL);
		CU_ASSERT(strstr(text, "failed") == NULL);
		free(text);
		rp_cmd_dir_remove();
	}
}

/* Started under nohup (SIGHUP ignored), as a program started so it
 * keeps the hang-up ignored: the terminal closing does not end the run;
 * SIGTERM still does (exit 143). */
RP_TEST(test_nohup_keeps_running, 30)
{
	char *args[] = {"-e", "file-source --chunks 64k /dev/zero ! count",
			NULL};
	pid_t pid;
	int st;

	rp_cmd_dir_make("cli");
	signal(SIGHUP, SIG_IGN);
	pid = rp_cmd_start(args, -1);
	signal(SIGHUP, SIG_DFL);
	usleep(400000);
	CU_ASSERT_EQUAL(kill(pid, SIGHUP), 0);
	usleep(400000);
	CU_ASSERT_EQUAL(waitpid(pid, &st, WNOHANG), 0); /* still running */
	kill(pid, SIGTERM);
	st = rp_test_wait(pid, 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 143);
	rp_cmd_dir_remove();
}

/* A SIGTERM to every process at once, ringpipe first (systemd's
 * control-group stop; a kill of the whole tree): a cancel as for
 * ringpipe alone, exit 143, every stage cancelled and none failed, an
 * exec stage whose command died of it included, and every process gone.
 * With --drain, the stages it killed are restarted and finish the
 * drain: the count at the end is every record the source read. */
RP_TEST(test_sigterm_to_every_process, 60)
{
	char *cancel[] = {"-e", "file-source --chunks 64k /dev/zero ! exec "
				"--chunks 64k -- cat ! count", NULL};
	char *drain[] = {"--drain", "-e", "file-source --chunks 64k "
					  "/dev/zero ! count", NULL};

	for (int i = 0; i < 2; i++) {
		pid_t pid, tree[16];
		unsigned long long out = 0, counted = 1;
		const char *p;
		char *text;
		size_t len;
		int n, st, gone = 0;

		rp_cmd_dir_make("cli");
		pid = rp_cmd_start(i ? drain : cancel, -1);
		usleep(700000);
		/* ringpipe, its stages, and cat. */
		n = rp_cmd_tree(pid, tree, 16);
		CU_ASSERT(n == (i ? 3 : 5));
		for (int j = 0; j < n; j++)
			kill(tree[j], SIGTERM);
		st = rp_test_wait(pid, 20);
		CU_ASSERT_EQUAL(rp_test_exit_code(st), 143);
		for (int t = 0; t < 40 && gone < n - 1; t++) {
			usleep(50000);
			gone = 0;
			for (int j = 1; j < n; j++)
				gone += rp_cmd_proc_state(tree[j], NULL) == '?';
		}
		CU_ASSERT_EQUAL(gone, n - 1);
		text = rp_cmd_slurp("REPORT", &len);
		CU_ASSERT(strstr(text, "failed") == NULL);
		if (i == 0) {
			CU_ASSERT(strstr(text, "3-count          cancelled") !=
				  NULL);
			CU_ASSERT(strstr(text, "2-exec           cancelled") !=
				  NULL);
			CU_ASSERT(strstr(text, "ended by the SIGTERM that "
					       "cancelled the run") != NULL);
			/* The source, killed before its final count, read
			 * at least what it wrote (it said 0). */
			if ((p = strstr(text, "1-file-source  ")) != NULL &&
			    (p = strstr(p, " in ")) != NULL)
				out = strtoull(p + 4, NULL, 10);
			CU_ASSERT(out > 0);
		} else {
			if ((p = strstr(text, "\n                   out ")))
				out = strtoull(p + 24, NULL, 10);
			if ((p = strstr(text, "count: records=")))
				counted = strtoull(p + 15, NULL, 10);
			CU_ASSERT(out > 0 && out == counted);
			CU_ASSERT(strstr(text, "2-count          done") != NULL);
		}
		if (strstr(text, "failed") != NULL || gone != n - 1)
			fprintf(stderr, "%s\n", text);
		free(text);
		rp_cmd_dir_remove();
	}
}

/* Ctrl-C to the run pid: it ends within 3 s, exit 130.  Its report
 * (to free). */
static char *ctrl_c_ends_it(pid_t pid)
{
	int64_t t0 = rp_now_ns();
	size_t n;
	int st;

	kill(pid, SIGINT);
	st = rp_test_wait(pid, 20);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 130);
	CU_ASSERT(rp_now_ns() - t0 < 3000000000LL);
	return rp_cmd_slurp("REPORT", &n);
}

/* A first start that does not come (a program that never gives its
 * sandbox hand-shake, waited for up to 10 s) holds up nothing: `ringpipe
 * stat` answers at once, showing both stages starting (the source not
 * started yet: the sink starts first).  Ctrl-C ends the run at once,
 * exit 130, the report says which stages never started, and the program
 * is gone.  The same with --drain, where the first Ctrl-C drains (the
 * stage would drain once started) and the second one cancels. */
RP_TEST(test_ctrl_c_during_a_start, 60)
{
	char json[8192], name[64], yaml[512], token[32], *text;
	int64_t took = 0;

	rp_cmd_dir_make("cli");
	snprintf(token, sizeof(token), "29.%06d", (int)getpid() % 1000000);
	for (int i = 0; i < 2; i++) {
		char *args[] = {"run", "s.yaml", i ? "--drain" : NULL, NULL};
		int asked = -1;
		pid_t pid;
		snprintf(name, sizeof(name), "slowstart%d-%d", i,
			 (int)getpid());
		snprintf(yaml, sizeof(yaml),
			 "name: %s\nstages:\n"
			 "  - {name: read, run: file-source, "
			 "args: [--lines, s.yaml]}\n"
			 "  - {name: never, input: read, program: [/bin/sleep, "
			 "\"%s\"]}\n",
			 name, token);
		write_file("s.yaml", yaml);
		pid = rp_cmd_start(args, -1);
		/* (Until its socket is there; then at once.) */
		for (int t = 0; t < 100 && asked != 0; t++) {
			int64_t t0;
			usleep(50000);
			t0 = rp_now_ns();
			asked = rp_cmd_stat_json(name, json, sizeof(json));
			took = rp_now_ns() - t0;
		}
		CU_ASSERT_EQUAL(asked, 0);
		CU_ASSERT(took < 1000000000LL);
		CU_ASSERT(strstr(json, "{\"name\":\"read\",\"state\":"
				       "\"starting\"") != NULL);
		CU_ASSERT(strstr(json, "{\"name\":\"never\",\"state\":"
				       "\"starting\"") != NULL);
		CU_ASSERT(rp_cmd_find_process(token, NULL) > 0);
		if (i) {
			kill(pid, SIGINT);
			usleep(200000);
		}
		text = ctrl_c_ends_it(pid);
		CU_ASSERT(strstr(text, "never            cancelled in 0 "
				       "         policy strict layers -  -- not "
				       "started: the pipeline was cancelled") !=
			  NULL);
		CU_ASSERT(strstr(text, "read             cancelled in 0 "
				       "         policy strict layers -  -- not "
				       "started: the pipeline was cancelled") !=
			  NULL);
		CU_ASSERT(!i || strstr(text, "Interrupt: draining") != NULL);
		CU_ASSERT(strstr(text, "is not a transition") == NULL);
		CU_ASSERT(rp_cmd_find_process(token, NULL) <= 0);
		if (asked != 0 || !strstr(text, "not started: the pipeline"))
			fprintf(stderr, "stat (%.2f s): %s\n%s\n",
				took / 1e9, json, text);
		free(text);
	}
	rp_cmd_dir_remove();
}

/* Is stage "slow" starting again after one restart, as stat --json
 * shows pipeline name?  (How long stat took to answer in *ns.) */
static int slow_restarting(const char *name, int64_t *ns)
{
	char json[8192], *at;
	int64_t t0 = rp_now_ns();
	int ok = rp_cmd_stat_json(name, json, sizeof(json)) == 0;

	*ns = rp_now_ns() - t0;
	at = ok ? strstr(json, "{\"name\":\"slow\",\"state\":\"starting\"")
		: NULL;
	return at != NULL && strstr(at, "\"restarts\":1") != NULL;
}

/* tests/stages/NAME, copied to /tmp/rp-AS-PID where uid 65534 can run
 * it (the stages run as that user when the tests run as root); the
 * stage is then named after AS in the report. */
static void stage_prog_copy(const char *name, const char *as, char *prog,
			    size_t len)
{
	const char *b = getenv("RP_TEST_BUILD");
	char cmd[512];

	snprintf(prog, len, "/tmp/rp-%s-%d", as, (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "cp '%s/tests/stages/%s' '%s' && chmod 755 '%s'",
		 b ? b : "build/plain", name, prog, prog);
	CU_ASSERT_FATAL(system(cmd) == 0);
}

static void slow_restart_copy(char *prog, size_t len)
{
	stage_prog_copy("slow_restart", "slowrestart", prog, len);
}

/* A stage that dies before its sandbox hand-shake while a child of its
 * own keeps the hand-shake socket open: its death is seen at once, at a
 * first start as at a restart, not after the 10 s a hand-shake is
 * given. */
RP_TEST(test_died_before_hand_shake, 60)
{
	static const char *const how[] = {"die", "die-again"};
	char prog[128], yaml[768], in[256], token[32], *text;
	char *args[] = {"run", "s.yaml", NULL};
	size_t n;

	rp_cmd_dir_make("cli");
	slow_restart_copy(prog, sizeof(prog));
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 500);
	snprintf(token, sizeof(token), "%d", 9000000 + (int)getpid());
	for (int i = 0; i < 2; i++) {
		int64_t t0 = rp_now_ns();
		int st;
		pid_t pid;
		snprintf(yaml, sizeof(yaml),
			 "name: die%d-%d\nstages:\n"
			 "  - {name: read, run: file-source, "
			 "args: [--lines, %s]}\n"
			 "  - {name: slow, input: read, program: [%s, %s, "
			 "\"%s\"], restart: on-failure, "
			 "restart_backoff_ms: 0}\n",
			 i, (int)getpid(), in, prog, how[i], token);
		write_file("s.yaml", yaml);
		pid = rp_cmd_start(args, -1);
		st = rp_test_wait(pid, 30);
		CU_ASSERT_EQUAL(rp_test_exit_code(st), 1);
		CU_ASSERT(rp_now_ns() - t0 < 5000000000LL);
		text = rp_cmd_slurp("REPORT", &n);
		CU_ASSERT(strstr(text, "could not start: the stage died "
				       "before entering its sandbox") != NULL);
		CU_ASSERT(!i || strstr(text, "restarting in 0 ms") != NULL);
		if (!strstr(text, "died before entering its sandbox"))
			fprintf(stderr, "%s\n", text);
		free(text);
		for (pid_t p; (p = rp_cmd_find_process(token, NULL)) > 0;) {
			kill(p, SIGKILL);
			usleep(10000);
		}
	}
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A restart slow to start (a sink program that sleeps before its
 * sandbox hand-shake on every run after its first, as one with a heavy
 * start does) holds up nothing else: meanwhile `ringpipe stat` answers
 * at once, showing it starting.  The run waits for it, though nothing
 * else is left running, and ends with every record taken once.  Ctrl-C
 * while such a restart is awaited ends the run at once (exit 130), the
 * stage said not restarted, its process gone.  A drain (SIGUSR1) while it
 * is awaited: the stage drains once it has started, takes what is
 * queued for it, and the run ends with exit 0. */
RP_TEST(test_slow_restart_holds_nothing, 90)
{
	char prog[128], yaml[1024], name[64], in[256], token[32], *text;
	char *args[] = {"run", "s.yaml", NULL};
	int64_t took, slowest = 0;
	size_t n;
	pid_t pid;
	int st;

	/* Seconds of a sleeping start, timing judged by the plain run. */
	if (rp_test_sanitized())
		return;

	rp_cmd_dir_make("cli");
	slow_restart_copy(prog, sizeof(prog));
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 2000);
	snprintf(token, sizeof(token), "%d", 8000000 + (int)getpid());
	/* (The drain, in the plain run only: the same waits again.) */
	for (int i = 0; i < (rp_test_sanitized() ? 2 : 3); i++) {
		int seen = 0;
		snprintf(name, sizeof(name), "slowre%d-%d", i, (int)getpid());
		snprintf(yaml, sizeof(yaml),
			 "name: %s\nstages:\n"
			 "  - {name: read, run: file-source, "
			 "args: [--lines, %s]}\n"
			 "  - {name: slow, input: read, program: [%s, \"%d\", "
			 "\"%s\"], restart: on-failure, "
			 "restart_backoff_ms: 0}\n",
			 name, in, prog, i == 1 ? 30 : i == 2 ? 2 : 3, token);
		write_file("s.yaml", yaml);
		pid = rp_cmd_start(args, -1);
		for (int t = 0; t < 100 && !seen; t++) {
			seen = slow_restarting(name, &took);
			if (!seen)
				usleep(50000);
		}
		CU_ASSERT(seen);
		/* While it sleeps, stat is answered at once... */
		slowest = took;
		for (int t = 0; t < 5 && seen; t++) {
			usleep(100000);
			if (!slow_restarting(name, &took))
				break; /* a slow machine: started since */
			if (took > slowest)
				slowest = took;
		}
		CU_ASSERT(slowest < 1000000000LL);
		/* A drain meanwhile (SIGUSR1): it drains once started. */
		if (i == 2)
			kill(pid, SIGUSR1);
		if (i != 1) {
			/* ... and then it runs, as it would have. */
			st = rp_test_wait(pid, 20);
			CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
			text = rp_cmd_slurp("REPORT", &n);
			CU_ASSERT(strstr(text, "  slow             done      "
					       "in 2000 ") != NULL);
			CU_ASSERT(strstr(text, "restarted 1 time") != NULL);
			CU_ASSERT(strstr(text, "is not a transition") == NULL);
			CU_ASSERT(i != 2 ||
				  strstr(text, "User defined signal 1: "
					       "draining") != NULL);
			if (!strstr(text, "slow             done      in 2000") ||
			    strstr(text, "is not a transition"))
				fprintf(stderr, "%s\n", text);
			free(text);
			continue;
		}
		/* Ctrl-C while its hand-shake is awaited: the end at once. */
		text = ctrl_c_ends_it(pid);
		CU_ASSERT(strstr(text, "-- not restarted: the pipeline was "
				       "cancelled") != NULL);
		if (!strstr(text, "not restarted: the pipeline was cancelled"))
			fprintf(stderr, "%s\n", text);
		free(text);
		CU_ASSERT(rp_cmd_find_process(token, NULL) <= 0);
		/* (Failed, it may have left one: not for 30 s more.) */
		for (pid_t p; (p = rp_cmd_find_process(token, NULL)) > 0;) {
			kill(p, SIGKILL);
			usleep(10000);
		}
	}
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A drain (SIGUSR1) while the first starts are under way (a sink that
 * takes 1.5 s to start, an endless source not started yet): each stage
 * drains once it says it is ready, so the source stops as soon as it
 * has started and the run ends well (exit 0), long before the drain's
 * 10 s deadline, every record read delivered. */
RP_TEST(test_drain_during_first_starts, 60)
{
	char prog[128], yaml[768], name[64], *text;
	char *args[] = {"run", "s.yaml", NULL};
	unsigned long long out = 0, in = 1;
	int64_t t0 = rp_now_ns();
	size_t n;
	pid_t pid;
	int st;

	rp_cmd_dir_make("cli");
	slow_restart_copy(prog, sizeof(prog));
	snprintf(name, sizeof(name), "drfirst-%d", (int)getpid());
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nstages:\n"
		 "  - {name: read, run: file-source, "
		 "args: [--chunks, 4k, /dev/zero]}\n"
		 "  - {name: slow, input: read, program: [%s, "
		 "\"first:1.5\"]}\n",
		 name, prog);
	write_file("s.yaml", yaml);
	pid = rp_cmd_start(args, -1);
	usleep(500000);
	kill(pid, SIGUSR1);
	st = rp_test_wait(pid, 20);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	CU_ASSERT(rp_now_ns() - t0 < 6000000000LL);
	text = rp_cmd_slurp("REPORT", &n);
	{
		const char *o = strstr(text, "  read ");
		const char *i = strstr(text, "  slow ");
		CU_ASSERT(o && sscanf(strstr(o, "out ") ? strstr(o, "out ")
							: "",
				      "out %llu", &out) == 1);
		CU_ASSERT(i && sscanf(i, "  slow             done      in "
					 "%llu", &in) == 1);
	}
	/* The source started, and stopped at once: it may have read
	 * nothing yet (a drain that reaches it before its first read). */
	CU_ASSERT(strstr(text, "  read             done      in ") != NULL);
	CU_ASSERT(in == out);
	CU_ASSERT(strstr(text, "is not a transition") == NULL);
	if (rp_test_exit_code(st) != 0 || in != out)
		fprintf(stderr, "%s\n", text);
	free(text);
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A stage that ignores the cancel (it hangs in a record) is killed
 * after the grace period (5 s): the run still exits 130, says whom it
 * waited for, and the report says why that stage was killed. */
RP_TEST(test_ctrl_c_kills_a_stage_that_ignores_it, 60)
{
	char *args[] = {"-e", "file-source --chunks 64k /dev/zero ! "
			      "fault --at 5 --do hang ! count", NULL};
	int64_t t0;
	char *text;
	size_t n;
	pid_t pid;
	int st;

	/* 5 s of waiting, the same code either way: judged by the plain
	 * run. */
	if (rp_test_sanitized())
		return;
	rp_cmd_dir_make("cli");
	pid = rp_cmd_start(args, -1);
	/* Until the fault stage hangs: it has passed records 0-4 on, and
	 * the source waits for room (0.1 s of it; 10 s at most).  (A
	 * source slowed down by a busy machine may wait before.) */
	for (int i = 0; i < 200; i++) {
		char json[4096];
		const char *b, *f;
		if (rp_cmd_stat_json("pipeline", json, sizeof(json)) == 0 &&
		    (b = strstr(json, "\"blocked_output_s\":")) != NULL &&
		    strtod(b + 19, NULL) >= 0.1 &&
		    (f = strstr(json, "\"name\":\"2-fault\"")) != NULL &&
		    (f = strstr(f, "\"records_out\":")) != NULL &&
		    strtoull(f + 14, NULL, 10) >= 5)
			break;
		usleep(50000);
	}
	t0 = rp_now_ns();
	kill(pid, SIGINT);
	st = rp_test_wait(pid, 20);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 130);
	CU_ASSERT(rp_now_ns() - t0 >= 4500000000LL);
	CU_ASSERT(rp_now_ns() - t0 < 9000000000LL);
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT(strstr(text, "stages still running 5 s after the cancel: "
			       "killed") != NULL);
	CU_ASSERT(strstr(text, "waiting for stage 2-fault (cancelling)") !=
		  NULL);
	CU_ASSERT(strstr(text, "killed after it did not obey the cancel") !=
		  NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* A second Ctrl-C kills the stages at once - a person pressing again;
 * one that comes within a few ms of the first (a closing terminal's
 * hang-up comes twice, from the kernel and from the shell) is the same
 * one: the stage that ignores the cancel is not killed for it, and its
 * report does not say it was.  A hang-up never kills. */
RP_TEST(test_repeated_signal_is_one, 60)
{
	char *args[] = {"-e", "file-source --chunks 64k /dev/zero ! "
			      "fault --at 5 --do hang ! count", NULL};
	const int sigs[] = {SIGINT, SIGHUP};
	char *text;
	size_t n;
	pid_t pid;
	int st;

	for (int i = 0; i < 2; i++) {
		rp_cmd_dir_make("cli");
		pid = rp_cmd_start(args, -1);
		for (int j = 0; j < 200; j++) {
			char json[4096];
			const char *f;
			if (rp_cmd_stat_json("pipeline", json, sizeof(json)) ==
				    0 &&
			    (f = strstr(json, "\"name\":\"2-fault\"")) != NULL &&
			    (f = strstr(f, "\"records_out\":")) != NULL &&
			    strtoull(f + 14, NULL, 10) >= 5)
				break;
			usleep(50000);
		}
		kill(pid, sigs[i]);
		usleep(10000);
		kill(pid, sigs[i]);
		usleep(600000);
		/* Still waiting for the hung stage: not killed. */
		CU_ASSERT_EQUAL(waitpid(pid, &st, WNOHANG), 0);
		usleep(100000);
		kill(pid, sigs[i]);
		/* Ctrl-C again, 0.7 s on: killed at once; a third hang-up
		 * kills nothing (then a Ctrl-C does). */
		if (i == 1) {
			usleep(300000);
			CU_ASSERT_EQUAL(waitpid(pid, &st, WNOHANG), 0);
			kill(pid, SIGINT);
		}
		st = rp_test_wait(pid, 20);
		CU_ASSERT_EQUAL(rp_test_exit_code(st), i ? 129 : 130);
		text = rp_cmd_slurp("REPORT", &n);
		CU_ASSERT(text != NULL &&
			  strstr(text, "killed after it did not obey the "
				       "cancel") != NULL &&
			  strstr(text, "stages still running 5 s after the "
				       "cancel") == NULL);
		free(text);
		rp_cmd_dir_remove();
	}
}

/* Ctrl-Z (SIGTSTP) stops the whole pipeline, as it would a shell
 * pipeline: the supervisor and every stage, and nothing flows (ringpipe
 * stat says it is stopped, not that there is no such pipeline); SIGCONT
 * (fg) resumes them all, and the stop is not working time for the
 * per-record timeout (300 ms here, stopped for over a second). */
RP_TEST(test_ctrl_z_stops_every_stage, 60)
{
	char *args[] = {"-e", "file-source --lines - ! exec "
			      "@record_timeout_ms=300 -- cat ! file-sink "
			      "--lines OUT", NULL};
	char states[16], *text;
	int p[2], st, a, b, c;
	pid_t pid, writer;
	size_t n;

	rp_cmd_dir_make("cli");
	CU_ASSERT_FATAL(pipe(p) == 0);
	writer = rp_cmd_slow_lines(p[1]);
	close(p[1]);
	/* A job of its own, as a shell runs it: SIGTSTP stops only a
	 * process group that someone outside it could continue. */
	pid = rp_cmd_start_job(args, p[0]);
	close(p[0]);
	usleep(700000);
	kill(pid, SIGTSTP);
	usleep(400000);
	CU_ASSERT_EQUAL(rp_cmd_proc_state(pid, NULL), 'T');
	rp_cmd_child_states(pid, states, sizeof(states));
	CU_ASSERT_STRING_EQUAL(states, "TTT");
	a = rp_cmd_lines("OUT");
	/* (Meanwhile, 2 s:) ringpipe stat finds it stopped, not gone. */
	{
		char bin[512], cmd[1024], *said;
		rp_cmd_bin(bin, sizeof(bin));
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && { '%s' stat pipeline; echo \"exit $?\"; } "
			 ">said 2>&1", rp_cmd_dir(), bin);
		CU_ASSERT(system(cmd) == 0);
		said = rp_cmd_slurp("said", &n);
		/* (Ours, by its pid: another run may share the name.) */
		snprintf(cmd, sizeof(cmd), " (pid %d) did not answer within "
			 "2 s: it is stopped (Ctrl-Z", (int)pid);
		CU_ASSERT(said != NULL && strstr(said, cmd) != NULL &&
			  strstr(said, "no running pipeline") == NULL);
		free(said);
	}
	b = rp_cmd_lines("OUT");
	CU_ASSERT(a > 0);
	CU_ASSERT_EQUAL(a, b);
	kill(pid, SIGCONT);
	usleep(600000);
	c = rp_cmd_lines("OUT");
	CU_ASSERT(c > b);
	rp_cmd_child_states(pid, states, sizeof(states));
	CU_ASSERT(strlen(states) == 3 && strchr(states, 'T') == NULL);
	if (a == 0 || a != b || c <= b)
		fprintf(stderr, "lines %d %d %d, states %s\n", a, b, c,
			states);
	kill(pid, SIGINT);
	st = rp_test_wait(pid, 20);
	kill(writer, SIGKILL);
	rp_test_wait(writer, 5);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 130);
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT(strstr(text, "ringpipe: stopped, with every stage") != NULL);
	CU_ASSERT(strstr(text, "timeout") == NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* A key pushed far ahead, with a header that passes its check, would
 * have its consumer drop every record after it as a replay.  It is caught
 * at the next record and blamed on the stage that wrote it, also when
 * that stage publishes one record at a time (slow runs before it), so
 * that its consumer has taken the far key alone before the next comes,
 * and when the stage is killed right after it and restarted, a source
 * too. */
RP_TEST(test_key_ahead_blamed, 60)
{
	char in[256], line[512], *text;
	char *args[] = {"-e", line, NULL};

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! exec --each -- cat ! fault --at 200 "
		 "--do key-ahead ! count", in);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	if (strstr(text, "stage 3-fault: broke the format of its output ring "
			 "(detected by 4-count)") == NULL ||
	    strstr(text, "the key of its input record went back from "
			 "1099511627976.0 to 201.0") == NULL ||
	    strstr(text, "4-count: said") != NULL) {
		fprintf(stderr, "key-ahead:\n%s\n", text);
		CU_FAIL("a key pushed ahead was not blamed on its writer");
	}
	free(text);

	/* Published, and the stage killed before its next record: its
	 * restart replays, which would never reach that key.  The bound it
	 * gives its replays shows the key for what it is. */
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault --random 7:250 "
		 "--do key-ahead:kill ! count", in);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	if (strstr(text, "stage 2-fault: killed by signal 9") == NULL ||
	    strstr(text, "is past anything its restarted producer made "
			 "before (origins below ") == NULL ||
	    strstr(text, "stage 2-fault: broke the format of its output ring "
			 "(detected by 3-count)") == NULL) {
		fprintf(stderr, "key-ahead:kill:\n%s\n", text);
		CU_FAIL("a key pushed ahead before a restart was not blamed");
	}
	free(text);

	/* The same taken over by a standby, behind which the next standby
	 * attaches while a slow consumer is still far behind: the bound
	 * the restart gave must still be there when it gets to it. */
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault @standby=true --random 3:250 "
		 "--do key-ahead:kill ! exec @ring=4K --each -- cat ! count",
		 in);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	if (strstr(text, "is past anything its restarted producer made "
			 "before (origins below ") == NULL ||
	    strstr(text, "stage 2-fault: broke the format of its output ring "
			 "(detected by 3-exec)") == NULL) {
		fprintf(stderr, "key-ahead:kill, standby:\n%s\n", text);
		CU_FAIL("a key pushed ahead before a take-over was not blamed");
	}
	free(text);

	/* A source has no input to bound its replays by: its commit point
	 * does (saved every 16 records here), with the records that fit
	 * past its position. */
	snprintf(line, sizeof(line),
		 "fault --make 1000 --random 7:900 --do key-ahead:kill "
		 "! count");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	if (strstr(text, "stage 1-fault: killed by signal 9") == NULL ||
	    strstr(text, "is past anything its restarted producer made "
			 "before (origins below ") == NULL ||
	    strstr(text, "stage 1-fault: broke the format of its output ring "
			 "(detected by 2-count)") == NULL) {
		fprintf(stderr, "key-ahead:kill, source:\n%s\n", text);
		CU_FAIL("a source's key pushed ahead before a restart was not "
			"blamed");
	}
	free(text);
	/* Honest, killed as often, it is not blamed: the bound covers
	 * what it published past its last save, and what the attaches
	 * before it made (a save amid its replays covers less). */
	{
		char clean[160] = "", *c;
		snprintf(line, sizeof(line), "fault --make 100000 ! count");
		CU_ASSERT_EQUAL(run(args, &text), 0);
		if ((c = strstr(text, "count: records=")) != NULL)
			snprintf(clean, sizeof(clean), "%.*s",
				 (int)strcspn(c, "\n"), c);
		CU_ASSERT(strstr(clean, "records=100000 ") != NULL);
		free(text);
		snprintf(line, sizeof(line),
			 "fault @restart_max=100 @restart_backoff_ms=0 "
			 "--make 100000 --every 5000 --do crash:9 ! count");
		CU_ASSERT_EQUAL(run(args, &text), 0);
		/* As the run without a kill counted it. */
		if (clean[0] == '\0' || strstr(text, clean) == NULL ||
		    strstr(text, "restarted 19 times") == NULL) {
			fprintf(stderr, "source killed, honest:\n%s\n", text);
			CU_FAIL("an honest source was blamed at its restarts");
		}
		free(text);
	}
	/* Where it has no input it needs --make, and with --make it takes
	 * none: said, and not restarted. */
	snprintf(line, sizeof(line), "fault --at 3 --do crash ! count");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "as a source it needs --make N") != NULL);
	CU_ASSERT(strstr(text, "restarting") == NULL);
	free(text);
	snprintf(line, sizeof(line), "fault --make 5 ! fault --make 3 ! count");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "--make makes its own records: it takes no "
			       "input") != NULL);
	CU_ASSERT(strstr(text, "restarting") == NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* The fault stage misbehaves on the chosen record; each way is reported
 * with the record it happened on.  A death of its own doing on a record
 * (a crash, a denied syscall, an exit whatever its code) twice on the
 * same record quarantines it and the run goes on without it; anything
 * else fails the run. */
RP_TEST(test_fault_stage_reported, 90)
{
	static const struct {
		const char *action, *expect;
		int code;
		const char *sink; /* NULL: count */
	} cases[] = {
		{"crash:11", "killed by signal 11 (Segmentation fault) on "
			     "record 700", 0, NULL},
		{"exit:3", "failed (exit 3) on record 700", 0, NULL},
		/* The library's own "bad environment" and "sandbox"
		 * codes come before any record: in the middle of one
		 * they are the program's exit on it.  "Do not restart"
		 * is granted, naming the record. */
		{"exit:2", "failed (exit 2) on record 700", 0, NULL},
		{"exit:7", "failed (exit 7) on record 700", 1, NULL},
		{"syscall:socket", "denied syscall socket (", 0, NULL},
#ifdef __x86_64__
		/* Another ABI meets the filter's arch check, which kills
		 * at once, telling nobody: said as the likely cause. */
		{"syscall:x32", "killed by signal 31 (Bad system call) on "
				"record 700 (likely a syscall through a "
				"foreign ABI", 0, NULL},
#endif
		/* SIGKILL comes from outside: never the record's fault. */
		{"crashpoint:reserved", "killed by signal 9 (Killed) on "
					"record 700", 1, NULL},
		/* A cancelled exit code with no cancel sent is a failure. */
		{"exit:11", "failed (exit 11) on record 700", 0, NULL},
		/* Garbage in a ring is blamed on the one side that can
		 * write it. */
		{"scribble", "stage 2-fault: wrote a cursor that went back "
			     "or out of step on its output ring (detected by "
			     "3-count)", 1, NULL},
		/* Crashed right after: whoever finds it first (its
		 * consumer, or its own restart as it attaches), the cursor
		 * is its own, and it is the one blamed. */
		{"scribble:crash", "stage 2-fault: wrote a cursor that went "
				   "back or out of step on its output ring",
		 1, NULL},
		/* Its consumer looks at the cursor again for a moment
		 * before it says so, without a sleep call its own sandbox
		 * may deny. */
		{"scribble", "stage 2-fault: wrote a cursor that went back "
			     "or out of step on its output ring (detected by "
			     "3-count)", 1,
		 "count @deny=nanosleep,clock_nanosleep"},
		/* So is a key pushed far ahead: its consumer would drop
		 * every record after it as a replay. */
		{"key-ahead", "stage 2-fault: broke the format of its output "
			      "ring (detected by 3-count)", 1, NULL},
		/* A false claim of a broken ring is checked, and fails the
		 * one who made it, not its neighbour. */
		{"exit:4", "stage 2-fault: said its input ring was broken, "
			   "but it is sound now: either 1-file-source "
			   "rewrote it since, or the claim is false", 1, NULL},
		/* Unless it changed the ring's geometry on its own page
		 * first: found against the supervisor's copy, it is the
		 * one failed (its producer was blamed before); also when
		 * it crashes and its restart finds it so (said only as
		 * exit 2 before). */
		{"geometry", "stage 2-fault: changed the geometry of its "
			     "input ring where only it can write, against the "
			     "supervisor's copy; failed", 1, NULL},
		{"geometry:crash", "stage 2-fault: changed the geometry of "
				   "its input ring where only it can write, "
				   "against the supervisor's copy; failed", 1,
		 NULL},
	};
	char in[256];

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 5000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char line[512], *text;
		char *args[] = {"-e", line, NULL};
		/* Restarted at once: what is reported is the same. */
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! fault @restart_backoff_ms=0 "
			 "--at 700 --do %s ! %s", in, cases[i].action,
			 cases[i].sink ? cases[i].sink : "count");
		const char *expect = cases[i].expect;
		/* The sanitizer's own SIGSEGV handler makes syscalls the
		 * policy denies: then the record is what must be right. */
		if (rp_test_sanitized() && i == 0)
			expect = "on record 700";
		CU_ASSERT_EQUAL(run(args, &text), cases[i].code);
		if (strstr(text, expect) == NULL) {
			fprintf(stderr, "fault %s: want '%s' in:\n%s\n",
				cases[i].action, expect, text);
			CU_FAIL("fault not reported as expected");
		}
		if (cases[i].code == 0) {
			/* Every other record made it, the poison one went
			 * to the dead-letter output, with its bytes. */
			size_t n = 0;
			char *dl;
			CU_ASSERT(strstr(text, "record 700 quarantined to "
					       "pipeline.dead.rec") != NULL);
			CU_ASSERT(strstr(text, "count: records=4999 ") != NULL);
			dl = rp_cmd_slurp("pipeline.dead.rec", &n);
			CU_ASSERT(n == 4 + 8 &&
				  memcmp(dl, "\x08\0\0\0line 700", 12) == 0);
			free(dl);
			dl = rp_cmd_slurp("pipeline.dead.jsonl", &n);
			CU_ASSERT(strstr(dl, "\"stage\":\"2-fault\",\"seq\":700,"
					     "\"origin\":700,\"sub\":0,") != NULL);
			free(dl);
			if (i == 0) {
				/* Replayed from the dead-letter output, as
				 * it would be through a fixed parser. */
				char *rargs[] = {"-e", "file-source --records "
						       "pipeline.dead.rec ! "
						       "file-sink --lines "
						       "replayed", NULL};
				char *rt;
				CU_ASSERT_EQUAL(run(rargs, &rt), 0);
				free(rt);
				dl = rp_cmd_slurp("replayed", &n);
				CU_ASSERT(n == 9 &&
					  memcmp(dl, "line 700\n", 9) == 0);
				free(dl);
			}
			unlink_in_dir("pipeline.dead.rec");
			unlink_in_dir("pipeline.dead.jsonl");
		}
		free(text);
	}
	rp_cmd_dir_remove();
}

/* A stage that names a record it does not have is taken at its word
 * once (it could have died on that record when it got there), but its
 * restart was told to skip that record: saying it again is a lie, which
 * fails the stage.  The record went to the dead-letter output once, not
 * again at every restart until the skip list or the restarts ran out. */
RP_TEST(test_false_refusal_caught, 60)
{
	char line[512], *text, *dl;
	char *args[] = {"-e", line, NULL};
	size_t n = 0;
	int lines = 0;

	rp_cmd_dir_make("cli");
	{
		char in[2048];
		int len = 0;
		for (int i = 0; i < 100; i++)
			len += snprintf(in + len, sizeof(in) - (size_t)len,
					"line %d\n", i);
		rp_cmd_spit("in", in, (size_t)len);
	}
	snprintf(line, sizeof(line),
		 "file-source --lines in ! fault @restart_backoff_ms=0 --at 10 "
		 "--do refuse-ahead:5 ! file-sink --lines out");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "but record 15 had been quarantined and its "
			       "restart told to skip it: the claim is false") !=
		  NULL);
	dl = rp_cmd_slurp("pipeline.dead.jsonl", &n);
	for (const char *p = dl; p != NULL && (p = strchr(p, '\n')) != NULL;
	     p++)
		lines++;
	CU_ASSERT_EQUAL(lines, 1);
	CU_ASSERT(dl != NULL && strstr(dl, "\"seq\":15,") != NULL);
	if (lines != 1 || strstr(text, "the claim is false") == NULL)
		fprintf(stderr, "%s\n%s\n", text, dl ? dl : "(no index)");
	free(dl);
	free(text);
	rp_cmd_dir_remove();
}

/* What the supervisor can show was written on one side's page is pinned
 * on that side, whoever complains (a stage changing its own copy of a
 * ring's geometry, or scribbling its own cursor: test_fault_stage_reported).
 * - A ring's geometry is on both pages, checked against each other at
 *   every attach: a producer whose restart finds its consumer's copy
 *   changed gets that consumer blamed, against the supervisor's own copy
 *   (the producer was failed itself before, exit 2).  A small ring holds
 *   the source back until the change is made.  (Killed, not crashed:
 *   the sanitizer's own handler would make a call the policy denies.)
 * - A cursor only moves forward: a consumer that stores its own back
 *   and says its input ring is broken is failed itself, against the
 *   supervisor's samples of the ring (its producer was blamed before).
 *   It waits 1.2 s first: the supervisor looks at least once a second,
 *   and every 50 ms while a stage is timed, as this one is. */
RP_TEST(test_side_pinned, 60)
{
	static const struct {
		const char *line, *expect, *wrong;
	} cases[] = {
		{"fault @restart_backoff_ms=0 --make 3000 --at 1500 "
		 "--do crash:9 ! fault @ring=4K --at 0 --do geometry:stay ! "
		 "count",
		 "stage 2-fault: changed the geometry of its input ring where "
		 "only it can write, against the supervisor's copy (detected "
		 "by 1-fault); killed",
		 "1-fault: broke"},
		{"fault --make 3000 ! fault @ring=4K @record_timeout_ms=5000 "
		 "--at 700 --do head-back ! count",
		 "stage 2-fault: wrote a cursor that went back or out of step "
		 "on its input ring",
		 "1-fault: broke"},
	};

	rp_cmd_dir_make("cli");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *text;
		char *args[] = {"-e", (char *)cases[i].line, NULL};

		CU_ASSERT_EQUAL(run(args, &text), 1);
		if (strstr(text, cases[i].expect) == NULL ||
		    strstr(text, cases[i].wrong) != NULL) {
			fprintf(stderr, "case %zu: want '%s' in:\n%s\n", i,
				cases[i].expect, text);
			CU_FAIL("not pinned on the side that wrote it");
		}
		free(text);
	}
	rp_cmd_dir_remove();
}

/* A consumer that breaks its input ring as it starts, before its
 * producer's first attach (the sink starts first), in a way nothing
 * pins on a side (its cursor moved ahead of all that was published):
 * the producer, starting for the first time, cannot have written its
 * side, so the consumer is blamed, not the producer.  Whatever exit
 * code the producer ends with after saying so: a program of one's own
 * may end with 1 for every error. */
RP_TEST(test_first_start_blames_peer, 60)
{
	char prog[128], line[1024], *text;
	char *args[] = {"-e", line, NULL};

	rp_cmd_dir_make("cli");
	/* Run as uid 65534 when we are root: a copy it can reach. */
	stage_prog_copy("careless", "careless", prog, sizeof(prog));
	for (int i = 0; i < 2; i++) {
		/* The program attaches 0.3 s late: after the consumer
		 * has broken the ring, also on a loaded machine. */
		/* A ring of 4 KiB: the producer, if it attached before
		 * the break, fills it and looks (the stage keeps its
		 * cursor ahead). */
		snprintf(line, sizeof(line),
			 "fault --make 3000 ! %s%sfault @ring=4K "
			 "--at start --do head-ahead ! count",
			 i ? prog : "", i ? " -1 300 ! " : "");
		CU_ASSERT_EQUAL(run(args, &text), 1);
		if (!strstr(text, i ? "stage 3-fault: broke the format of "
				      "its input ring (detected by "
				      "2-rp-careless-"
				    : "stage 2-fault: broke the format of "
				      "its input ring (detected by 1-fault)") ||
		    strstr(text, "failed itself") ||
		    strstr(text, "restarting")) {
			fprintf(stderr, "case %d:\n%s\n", i, text);
			CU_FAIL("the producer's first attach: not its doing");
		}
		/* Its source was never started: said so.  (Unless the
		 * machine held the consumer up past the program's attach:
		 * then the program found the ring broken as it wrote, was
		 * judged the same way, and its source had started.) */
		CU_ASSERT(!i || !strstr(text, "attaching to the rings: Bad "
					      "message") ||
			  strstr(text, "1-fault          cancelled in 0 "
				       "         policy strict layers -  "
				       "-- not started: the pipeline had "
				       "failed") != NULL);
		free(text);
	}
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A program of one's own that ends with exit 0 whatever happened, after
 * its run found its input ring scribbled by its producer: what it said
 * is judged all the same, and the producer blamed, instead of the stage
 * taken as done (and its stuck producer waited for). */
RP_TEST(test_claim_then_exit_zero_judged, 60)
{
	char prog[128], line[1024], *text;
	char *args[] = {"-e", line, NULL};

	rp_cmd_dir_make("cli");
	stage_prog_copy("careless", "careless", prog, sizeof(prog));
	snprintf(line, sizeof(line),
		 "fault --make 5000 ! fault --at 100 --do scribble ! %s 0 ! "
		 "count", prog);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	if (!strstr(text, "ringpipe: stage 2-fault: wrote a cursor that "
			  "went back or out of step on its output ring "
			  "(detected by 3-rp-careless-") ||
	    strstr(text, "restarting")) {
		fprintf(stderr, "%s\n", text);
		CU_FAIL("a claim followed by exit 0 was not judged");
	}
	free(text);
	unlink(prog);
	rp_cmd_dir_remove();
}

/*
 * Failures a stage's own words or exit make plain, each said as such and
 * none restarted:
 * - a stage that marks its control ring ended (nobody ends one) and goes
 *   on is failed for breaking its format, not left running while the
 *   supervisor finds the mark "something to read" at every turn;
 * - an ordinary command put where a stage program goes never gives the
 *   hand-shake: the error says what to write instead;
 * - a built-in refusing its arguments as it starts (they are its own to
 *   judge: check does not run it) fails the run as bad usage does,
 *   exit 2;
 * - a program of one's own that emits records as the last stage, where
 *   nothing reads them (it was "Broken pipe", restarted five times).
 * A file-sink's FILE is left as it was by a run that fails to start (it
 * was truncated), and emptied by a run that ends with nothing for it.
 */
RP_TEST(test_start_and_control_failures_said, 60)
{
	static const struct {
		const char *line;
		int code;
		const char *said[2];
	} cases[] = {
		{"fault --make 400000 ! fault --at 100 --do ctl-end ! count", 1,
		 {"fault: marking its control ring ended",
		  "stage 2-fault: broke the control-ring format; killed"}},
		{"fault --make 10 ! /bin/true ! count", 1,
		 {"stage 2-true: could not start: the stage died before "
		  "entering its sandbox (see its stderr) - is it a ringpipe "
		  "stage program? (an ordinary command runs as exec -- CMD)",
		  NULL}},
		/* (Judged before anything starts, placed.) */
		{"fault --make 100 ! grep '(' ! count", 2,
		 {"-e:1:20: stage '2-grep': bad REGEX '('", NULL}},
		{"fault --make 10 ! PROG", 1,
		 {"it emitted a record, but it is the last stage: nothing "
		  "reads what it emits",
		  /* (What it writes itself, a restart writes again.) */
		  "delivery at-least-once: it writes its results itself"}},
	};
	char line[256], prog[128], *text;
	char *args[] = {"-e", line, NULL};

	rp_cmd_dir_make("cli");
	stage_prog_copy("careless", "careless", prog, sizeof(prog));
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int code, ok;
		const char *p = strstr(cases[i].line, "PROG");
		if (p)
			snprintf(line, sizeof(line), "%.*s%s",
				 (int)(p - cases[i].line), cases[i].line, prog);
		else
			snprintf(line, sizeof(line), "%s", cases[i].line);
		code = run(args, &text);
		ok = code == cases[i].code && !strstr(text, "restarting");
		for (int j = 0; j < 2 && cases[i].said[j]; j++)
			ok = ok && strstr(text, cases[i].said[j]) != NULL;
		if (!ok) {
			fprintf(stderr, "%s: exit %d\n%s\n", cases[i].line,
				code, text);
			CU_FAIL("a failure not said as such");
		}
		free(text);
	}
	unlink(prog);
	write_file("out", "kept\n");
	rp_cmd_path(prog, sizeof(prog), "out");
	for (int clean = 0; clean < 2; clean++) {
		size_t n;
		snprintf(line, sizeof(line),
			 "fault --make 100 ! grep %s ! file-sink %s",
			 clean ? "no-such-word" : "'('", prog);
		CU_ASSERT_EQUAL(run(args, &text), clean ? 0 : 2);
		free(text);
		text = rp_cmd_slurp("out", &n);
		CU_ASSERT_STRING_EQUAL(text, clean ? "" : "kept\n");
		free(text);
	}
	rp_cmd_dir_remove();
}

/* A stage that exits 0 without saying it is done has not finished its
 * input: it is a failure, never a short output passed off as the whole,
 * and its consumer is not left waiting.  Before any record it is
 * restarted, then given up on; in the middle of a record it is counted
 * against the record, as a crash on it would be, and the record is
 * quarantined: the count is of every other record. */
RP_TEST(test_done_without_end_does_not_hang, 60)
{
	char in[256], line[512], *text;
	char *args[] = {"-e", line, NULL};

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 5000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault @restart_backoff_ms=0 "
		 "--at start --do exit:0 ! count",
		 in);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "2-fault: exited before saying it was done "
			       "(exit 0); restarting") != NULL);
	CU_ASSERT(strstr(text, "giving up") != NULL);
	CU_ASSERT(strstr(text, "3-count: count: records=") == NULL);
	free(text);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault @restart_backoff_ms=0 "
		 "--at 700 --do exit:0 ! count",
		 in);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "2-fault: exited before saying it was done "
			       "(exit 0) on record 700; restarting") != NULL);
	CU_ASSERT(strstr(text, "1 record quarantined") != NULL);
	CU_ASSERT(strstr(text, "3-count: count: records=4999 ") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* A stage program of one's own that printf()s to stdout, as parsers
 * often do, and does a record's work in a thread: under strict (clone
 * allowed for the thread) and under exec, every record passes once and
 * nothing is denied; its delivery is exactly-once if it keeps no state
 * but what it saves.  (stdio's question whether stdout is a terminal
 * used to be a denied ioctl, and a thread could not register its rseq
 * area: each record it touched was quarantined as poison.) */
RP_TEST(test_program_prints_and_threads, 60)
{
	/* (The sanitizer's thread start asks for the CPU mask too.) */
	static const char *const how[] = {"@allow=clone", "@policy=exec"};
	const char *san = rp_test_sanitized() ? ",sched_getaffinity" : "";
	char prog[128], line[1024], in[256], out[256], *text, *got;
	char *args[] = {"-e", line, NULL};
	size_t n;

	rp_cmd_dir_make("cli");
	stage_prog_copy("chatty", "chatty", prog, sizeof(prog));
	write_file("in", "one two\nthread\nthree\n");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_path(out, sizeof(out), "out");
	for (size_t i = 0; i < sizeof(how) / sizeof(*how); i++) {
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! %s %s%s ! file-sink --lines "
			 "%s", in, prog, how[i], i == 0 ? san : "", out);
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strstr(text, "denied") == NULL);
		CU_ASSERT(strstr(text, "quarantined") == NULL);
		CU_ASSERT(strstr(text, "restart") == NULL);
		/* What it keeps in memory ringpipe cannot see: said. */
		CU_ASSERT(strstr(text, "delivery exactly-once if it keeps no "
				       "state across records but what it "
				       "saves (rp_stage_save)\n") != NULL);
		got = rp_cmd_slurp("out", &n);
		CU_ASSERT_STRING_EQUAL(got, "one two\nthread\nthree\n");
		if (strstr(text, "denied") || strcmp(got, "one two\nthread\n"
							  "three\n"))
			fprintf(stderr, "%s:\n%s\n", how[i], text);
		free(got);
		free(text);
	}
	unlink(prog);
	rp_cmd_dir_remove();
}

/* grep over lines longer than half its input ring, which come as
 * pieces it cannot hold, SIGKILLed again and again while they stream:
 * a restart in the middle of such a line drops the rest of it, said,
 * rather than match that rest as a line of its own and pass it on. */
RP_TEST(test_grep_killed_amid_long_lines, 60)
{
	char line[1024], in[256], *text, *got, *want;
	char *args[] = {"-e", line, NULL};
	size_t n, wn;
	int kills = 0, bad = 0, cut = 0, lines = 0;
	int most = rp_test_sanitized() ? 4 : 14; /* kills */
	pid_t pid, stage;
	FILE *f;

	rp_cmd_dir_make("cli");
	/* In /tmp: the source's command runs as a user that may not
	 * enter the test's directory. */
	snprintf(in, sizeof(in), "/tmp/rp-long-%d", (int)getpid());
	f = fopen(in, "w");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT(fchmod(fileno(f), 0644) == 0);
	for (int i = 0; i < 400; i++) {
		fprintf(f, "%04d", i);
		for (int j = (i * 7919) % 9000 + 3000; j > 0; j--)
			fputc('a' + (i + j) % 26, f);
		fputs(i % 3 ? "NEEDLE\n" : "\n", f);
	}
	CU_ASSERT_FATAL(fclose(f) == 0);
	/* Eight passes over it (three under the sanitizers, slower), a
	 * pause between: time for the kills. */
	snprintf(line, sizeof(line),
		 "exec -- sh -c 'for i in $(seq %d); do cat %s; sleep "
		 "0.05; done' ! grep @ring=4K @restart_backoff_ms=0 "
		 "@restart_max=100 NEEDLE ! file-sink @ring=4K --lines out",
		 most / 2 + 1, in);
	pid = rp_cmd_start(args, -1);
	for (int i = 0; i < 200 && kills < most; i++) {
		usleep(20000);
		stage = rp_cmd_find_process("ringpipe-stage grep", "NEEDLE");
		if (stage > 0 && kill(stage, SIGKILL) == 0)
			kills++;
	}
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 30)), 0);
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT(kills > 0 && strstr(text, "restarted ") != NULL);
	CU_ASSERT(strstr(text, "lines longer than half its input ring were "
			       "not held") != NULL);
	{
		FILE *r = fopen(in, "r");
		CU_ASSERT_FATAL(r != NULL);
		want = calloc(1, 8 << 20);
		CU_ASSERT_FATAL(want != NULL);
		wn = fread(want, 1, (8 << 20) - 1, r);
		CU_ASSERT(wn > 0 && wn < (8 << 20) - 1);
		fclose(r);
		unlink(in);
	}
	got = rp_cmd_slurp("out", &n);
	/* Every line out begins as the input line it names does (never the
	 * rest of one, matched as a line: the restart skips that); it is
	 * that line whole, but for one a kill came amid the writing of,
	 * which may be cut (the report's "none"), at most one a kill. */
	for (char *p = got, *e; p < got + n; p = e + 1) {
		char head[8], *at;
		e = memchr(p, '\n', (size_t)(got + n - p));
		if (e == NULL)
			e = got + n;
		*e = '\0';
		lines++;
		snprintf(head, sizeof(head), "%.4s", p);
		at = strlen(head) == 4 && strspn(head, "0123456789") == 4
			     ? strstr(want, head)
			     : NULL;
		while (at != NULL && at != want && at[-1] != '\n')
			at = strstr(at + 1, head);
		if (at == NULL ||
		    strncmp(at, p, strlen(p) < 64 ? strlen(p) : 64) != 0)
			bad++;
		else if (strncmp(at, p, strlen(p)) != 0 ||
			 at[strlen(p)] != '\n')
			cut++;
	}
	CU_ASSERT(lines > 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(cut <= kills);
	if (bad || cut > kills || kills == 0 || lines == 0)
		fprintf(stderr, "%d kills: %d of %d lines not the input's, %d "
				"cut\n%s\n", kills, bad, lines, cut, text);
	free(want);
	free(got);
	free(text);
	rp_cmd_dir_remove();
}

/* A program that waits for room in its output before each of a record's
 * eight outputs, into a ring of 4K: the outputs it holds back (a
 * record's are published together) go out when the ring is full rather
 * than wait for room that cannot come; every byte arrives.  A record it
 * refuses after such outputs is quarantined saying some went on. */
RP_TEST(test_program_waits_for_room, 60)
{
	char prog[128], line[1024], in[256], *text;
	char *args[] = {"-e", line, NULL};
	size_t n;

	rp_cmd_dir_make("cli");
	stage_prog_copy("polite", "polite", prog, sizeof(prog));
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 50);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! %s ! file-sink @ring=4K out", in,
		 prog);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	free(text);
	free(rp_cmd_slurp("out", &n));
	CU_ASSERT_EQUAL(n, 50 * 8 * 1000);
	/* One it refuses after its eight outputs, more than the ring
	 * holds: the dead-letter reason says some of them went on. */
	write_file("in", "a\nBAD b\nc\n");
	CU_ASSERT_EQUAL(run(args, &text), 0);
	free(text);
	text = rp_cmd_slurp("pipeline.dead.jsonl", &n);
	CU_ASSERT(strstr(text, "it refused record 1: bad (some of its "
			       "outputs had gone on: they filled the output "
			       "ring)") != NULL);
	free(text);
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A stage that keeps a count and emits it when its input ends: as one
 * copy, its total; as two unordered copies, a total each, adding up;
 * as two ordered copies (the default), whose end records have no place
 * in the order, the run fails saying why and is not restarted (one
 * copy's total was dropped downstream as a replay, without a word).
 * One copy that saves its count, killed right after emitting its total
 * (before it went out, or after): the one total, once (the restart's
 * total, made with its input all released, was dropped as a repeat
 * where the first had not gone out). */
RP_TEST(test_program_total_at_end, 60)
{
	/* (It dies by its own SIGKILL, standing for one from outside: its
	 * policy must let it.) */
	static const char *const how[] = {"", "@replicas=2 @ordered=false",
					  "@replicas=2",
					  "@allow=tgkill keep-die-pass",
					  "@allow=tgkill keep-die-late-pass"};
	char prog[128], line[1024], in[256], out[256], *text, *got;
	char *args[] = {"-e", line, NULL};
	size_t n;

	rp_cmd_dir_make("cli");
	stage_prog_copy("totaler", "totaler", prog, sizeof(prog));
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_path(out, sizeof(out), "out");
	rp_cmd_write_lines(in, 20000);
	for (size_t i = 0; i < sizeof(how) / sizeof(*how); i++) {
		unsigned long a = 0, b = 0;
		int code, k, c = 0;
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! %s %s ! file-sink --lines "
			 "%s", in, prog, how[i], out);
		code = run(args, &text);
		got = rp_cmd_slurp("out", &n);
		k = sscanf(got, "total %lu\ntotal %lu\n", &a, &b);
		if (i >= 3) {
			/* Its input passed on, then the total. */
			char *want = rp_cmd_slurp("in", &n);
			size_t wn = strlen(want);
			k = strncmp(got, want, wn) == 0 &&
				    sscanf(got + wn, "total %lu\n%n", &a,
					   &c) == 1 &&
				    got[wn + (size_t)c] == '\0'
				? 1
				: 0;
			free(want);
		}
		if (i == 0 || i >= 3) {
			CU_ASSERT_EQUAL(code, 0);
			CU_ASSERT(k == 1 && a == 20000);
			/* Killed once, after or before its total went out:
			 * the restart's total is dropped as its repeat, or
			 * is the one. */
			CU_ASSERT(i == 0 ||
				  strstr(text, "restarted 1 time\n") != NULL);
		} else if (i == 1) {
			CU_ASSERT_EQUAL(code, 0);
			CU_ASSERT(k == 2 && a + b == 20000);
		} else {
			CU_ASSERT_EQUAL(code, 1);
			CU_ASSERT(strstr(text, "it emitted a record after its "
					       "input ended, which ordered "
					       "copies cannot place") != NULL);
			CU_ASSERT(strstr(text, "restarting") == NULL);
		}
		if (code != (i == 2))
			fprintf(stderr, "%s: exit %d\n%s\n", how[i], code,
				text);
		free(got);
		free(text);
	}
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A program that emits a header before its first record: the header,
 * then every record, as one copy and as two ordered copies (the first
 * record's output took the header's key, 0.0, and was dropped as its
 * repeat: line 0 was lost). */
RP_TEST(test_program_header_first, 60)
{
	static const char *const how[] = {"", "@replicas=2"};
	char prog[128], line[512], in[256], *text, *got, *want;
	char *args[] = {"-e", line, NULL};
	size_t n, wn;

	rp_cmd_dir_make("cli");
	stage_prog_copy("refuser", "refuser", prog, sizeof(prog));
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 200);
	want = rp_cmd_slurp("in", &wn);
	for (size_t i = 0; i < 2; i++) {
		snprintf(line, sizeof(line), "file-source --lines %s ! %s %s "
			 "header ! file-sink --lines out", in, prog, how[i]);
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
		got = rp_cmd_slurp("out", &n);
		CU_ASSERT(n == wn + 7 && strncmp(got, "HEADER\n", 7) == 0 &&
			  memcmp(got + 7, want, wn) == 0);
		if (n != wn + 7)
			fprintf(stderr, "%s: %zu bytes, %zu wanted\n", how[i],
				n, wn + 7);
		free(got);
	}
	free(want);
	unlink(prog);
	rp_cmd_dir_remove();
}

/* Under --fast-restart, a stage that fails of its own doing at every
 * start, doing no record between, is given up on after 20 failures in
 * a row (it was restarted 100 000 times, for minutes); stages killed
 * from outside, or failing with records done between, go on (the
 * chaos and crash tests). */
RP_TEST(test_fast_restart_gives_up_when_stuck, 60)
{
	char *args[] = {"--fast-restart", "-e",
			"fault --make 10 ! exec @restart=on-failure -- sh -c "
			"'exit 1' ! count",
			NULL};
	int64_t t0 = rp_now_ns();
	char *text;

	rp_cmd_dir_make("cli");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(rp_now_ns() - t0 < 20000000000LL);
	CU_ASSERT(strstr(text, "failed 21 times in a row with no record done "
			       "between: giving up (--fast-restart)") != NULL);
	/* (An exec stage replays what it held at each restart: said, with
	 * what makes that less.) */
	CU_ASSERT(strstr(text, "each restart replays what it held (a quarter "
			       "of its ring): try a smaller ring") != NULL);
	CU_ASSERT(strstr(text, "restarted 20 times") != NULL);
	free(text);
	/* Also one that makes its held input's outputs again each time
	 * (repeats, dropped downstream: no progress) before it fails. */
	args[2] = "fault --make 10 ! exec @restart=on-failure -- sh -c "
		  "'head -n 2; exit 1' ! count";
	t0 = rp_now_ns();
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(rp_now_ns() - t0 < 20000000000LL);
	CU_ASSERT(strstr(text, "giving up (--fast-restart)") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* A source that head stops early (its output closed under it): the
 * report's count of what it read covers every record it sent on (it
 * said fewer, the last batch's missing). */
RP_TEST(test_source_stopped_early_counts, 60)
{
	char in[256], line[512], *text;
	char *args[] = {"-q", "--report-json", "r.json", "-e", line, NULL};

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 200000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! head 2 ! count", in);
	for (int i = 0; i < 3; i++) {
		unsigned long long rin = 0, rout = 1;
		const char *p;
		size_t n;
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
		text = rp_cmd_slurp("r.json", &n);
		p = strstr(text, "{\"name\":\"1-file-source\"");
		CU_ASSERT_FATAL(p != NULL);
		CU_ASSERT(sscanf(p, "{\"name\":\"1-file-source\",\"state\":"
				    "\"done\",\"records_in\":%llu,"
				    "\"records_out\":%llu", &rin, &rout) == 2);
		CU_ASSERT(rout > 0 && rin >= rout);
		if (rin < rout)
			fprintf(stderr, "in %llu, out %llu\n", rin, rout);
		free(text);
	}
	rp_cmd_dir_remove();
}

/* A stage that ends before its input does drops the rest, as head does
 * in a shell pipeline; the report says so on its row (and its JSON),
 * for head and for a parser that stops short, which a glance at the
 * counts missed: an exec program exiting 0 halfway, and says so itself.
 * A stage that reads its input to the end says nothing of the kind. */
RP_TEST(test_ended_early_said, 60)
{
	char in[256], line[512], *text, *json;
	char *args[] = {"--report-json", "r.json", "-e", line, NULL};
	size_t n;

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 2000);
	snprintf(line, sizeof(line), "file-source --lines %s ! head 2 ! count",
		 in);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "ended before its input did (as head does): "
			       "the rest of its input was not read") != NULL);
	free(text);
	json = rp_cmd_slurp("r.json", &n);
	CU_ASSERT(json != NULL &&
		  strstr(json, "\"name\":\"2-head\"") != NULL &&
		  strstr(strstr(json, "\"name\":\"2-head\""),
			 "\"ended_early\":true") != NULL);
	CU_ASSERT(json != NULL && strstr(json, "\"ended_early\":false") !=
					  NULL);
	free(json);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! exec -- sh -c 'while read -r l; do "
		 "case \"$l\" in *1000*) exit 0;; esac; echo \"$l\"; done' ! "
		 "count", in);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "exec: sh ended before its input did: the rest "
			       "of its input was not read") != NULL);
	CU_ASSERT(strstr(text, "ended before its input did (as head does)") !=
		  NULL);
	free(text);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! exec -- cat ! grep 1 ! count", in);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "ended before its input did") == NULL);
	free(text);
	/* Nor head 2 of two lines, nor a program that reads nothing of
	 * an empty input (it may end first): nothing was left. */
	rp_cmd_spit("two", "a\nb\n", 4);
	rp_cmd_spit("none", "", 0);
	for (int i = 0; i < 2; i++) {
		snprintf(line, sizeof(line), "%s",
			 i ? "file-source --lines none ! exec -- true ! count"
			   : "file-source --lines two ! head 2 ! count");
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strstr(text, "ended before its input did") == NULL);
		free(text);
	}
	json = rp_cmd_slurp("r.json", &n);
	CU_ASSERT(json != NULL && strstr(json, "\"ended_early\":true") == NULL);
	free(json);
	rp_cmd_dir_remove();
}

/* A program of its own loop that sleeps between records (not in
 * rp_stage_wait) with all it took released works on no record: a
 * per-record timeout shorter than its sleeps and the gaps between
 * records never fires (each record it had let go was timed out, and
 * the run failed); nor does its work after its input ended. */
RP_TEST(test_program_idle_not_timed, 60)
{
	char prog[128], line[1024], *text;
	char *args[] = {"-e", line, NULL};

	rp_cmd_dir_make("cli");
	stage_prog_copy("totaler", "totaler", prog, sizeof(prog));
	snprintf(line, sizeof(line),
		 "exec -- sh -c 'for i in 1 2 3 4 5; do echo $i; sleep 0.6; "
		 "done' ! %s @record_timeout_ms=300 idle ! file-sink --lines "
		 "out", prog);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "timeout") == NULL);
	CU_ASSERT(strstr(text, "restarting") == NULL);
	if (strstr(text, "timeout") != NULL)
		fprintf(stderr, "%s\n", text);
	free(text);
	{
		size_t n;
		char *got = rp_cmd_slurp("out", &n);
		CU_ASSERT_STRING_EQUAL(got, "total 5\n");
		free(got);
	}
	/* Its work once the input has ended, all it took unreleased, is
	 * no record's either (its records were timed out one by one,
	 * quarantined, and the run failed). */
	rp_cmd_spit("in", "a\nb\nc\n", 6);
	snprintf(line, sizeof(line),
		 "file-source --lines in ! %s @record_timeout_ms=300 slowend ! "
		 "file-sink --lines out", prog);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "timeout") == NULL);
	CU_ASSERT(strstr(text, "quarantined") == NULL);
	free(text);
	{
		size_t n;
		char *got = rp_cmd_slurp("out", &n);
		CU_ASSERT_STRING_EQUAL(got, "total 3\n");
		free(got);
	}
	unlink(prog);
	rp_cmd_dir_remove();
}

/* The file "in" in the test's directory: lines "line I" for I in
 * [0, 1000), those in bad[] (ascending) as "BAD line I"; want gets the
 * others, in order.  Its length. */
static size_t bad_lines(const int *bad, int nbad, char *want)
{
	char in[256];
	size_t wn = 0;
	FILE *f;

	rp_cmd_path(in, sizeof(in), "in");
	f = fopen(in, "w");
	CU_ASSERT_FATAL(f != NULL);
	want[0] = '\0';
	for (int i = 0, b = 0; i < 1000; i++) {
		int is_bad = b < nbad && i == bad[b];
		b += is_bad;
		fprintf(f, "%sline %d\n", is_bad ? "BAD " : "", i);
		if (!is_bad)
			wn += (size_t)sprintf(want + wn, "line %d\n", i);
	}
	fclose(f);
	return wn;
}

/* A parser under the strict policy that sends itself SIGKILL, SIGTERM
 * or SIGSTOP on a record, as if from outside (which never counts
 * against a record, and which the per-record timeout leaves alone):
 * denied, said by name, and each record quarantined as a crash on it
 * would be; every other line out once, in order, the run ending well.
 * (It used to be restarted until it was given up on, nothing
 * quarantined, or to sit stopped for ever.)  SIGUSR1 it may send
 * itself; with no handler, its death by it is its own doing. */
RP_TEST(test_program_self_signals_quarantined, 60)
{
	char prog[128], line[512], in[4096], *text, *got;
	char *args[] = {"-e", line, NULL};
	size_t n, len = 0, wl = 0;
	char want[4096];

	rp_cmd_dir_make("cli");
	stage_prog_copy("refuser", "refuser", prog, sizeof(prog));
	for (int i = 0; i < 300; i++) {
		const char *w = i == 50    ? "SIGKILL"
				: i == 150 ? "SIGTERM"
				: i == 200 ? "SIGUSR1"
				: i == 250 ? "SIGSTOP"
					   : NULL;
		char one[32];
		int k = w ? snprintf(one, sizeof(one), "%s\n", w)
			  : snprintf(one, sizeof(one), "line %d\n", i);
		memcpy(in + len, one, (size_t)k);
		len += (size_t)k;
		if (!w) {
			memcpy(want + wl, one, (size_t)k);
			wl += (size_t)k;
		}
	}
	rp_cmd_spit("in", in, len);
	snprintf(line, sizeof(line),
		 "file-source --lines in ! %s @record_timeout_ms=2000 "
		 "@restart_backoff_ms=0 ! file-sink --lines out", prog);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "4 records quarantined") != NULL);
	CU_ASSERT(strstr(text, "record 50 quarantined") != NULL);
	/* A signal it may send itself, and dies of: its own doing. */
	CU_ASSERT(strstr(text, "record 200 quarantined") != NULL &&
		  strstr(text, "killed by signal 10 (User defined signal 1) "
			       "on record 200") != NULL);
	CU_ASSERT(strstr(text, "record 150 quarantined") != NULL);
	CU_ASSERT(strstr(text, "record 250 quarantined") != NULL);
	CU_ASSERT(strstr(text, "denied syscall tgkill") != NULL); /* raise */
	got = rp_cmd_slurp("out", &n);
	CU_ASSERT(got != NULL && n == wl && memcmp(got, want, wl) == 0);
	if (strstr(text, "4 records quarantined") == NULL)
		fprintf(stderr, "%s\n", text);
	free(got);
	free(text);
	/* Quiet, the run still says records were set aside, and that
	 * alone. */
	{
		char *qargs[] = {"-q", "-e", line, NULL};
		CU_ASSERT_EQUAL(run(qargs, &text), 0);
		/* (Its own stderr lines are shown too, as ever.) */
		CU_ASSERT(text != NULL &&
			  strstr(text, "ringpipe: pipeline pipeline: 4 records "
				       "quarantined to pipeline.dead.rec\n") !=
				  NULL &&
			  strstr(text, "delivery") == NULL);
		if (text != NULL && strstr(text, "quarantined to") == NULL)
			fprintf(stderr, "%s\n", text);
		free(text);
	}
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A parser that refuses what it cannot parse (rp_stage_refuse): each
 * refused record is quarantined at once with the parser's reason, what
 * the parser emitted for it goes nowhere, and every other record comes
 * out once, in order - also for refused records one after the other,
 * which never count as failures in a row, for one refused before the
 * stage has released anything, and for two copies.  Under restart:
 * never the run fails at the first, naming it, nothing quarantined.
 * Likewise, a stage that crashes amid a record's outputs (the first
 * already committed) has none of them reach the sink once the record is
 * quarantined. */
RP_TEST(test_program_refuses_records, 60)
{
	/* (Record 1 before the stage has released anything.) */
	static const int bad[] = {1, 100, 101, 102, 500};
	char prog[128], line[1024], in[256], *text, *got, *dead, *want;
	char *args[] = {"-e", line, NULL};
	size_t n, wn;

	rp_cmd_dir_make("cli");
	stage_prog_copy("refuser", "refuser", prog, sizeof(prog));
	rp_cmd_path(in, sizeof(in), "in");
	want = calloc(1, 40000);
	CU_ASSERT_FATAL(want != NULL);
	wn = bad_lines(bad, 5, want);
	for (int copies = 1; copies <= 2; copies++) {
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! %s @replicas=%d ! file-sink "
			 "--lines out", in, prog, copies);
		rp_cmd_spit("pipeline.dead.jsonl", "", 0);
		CU_ASSERT_EQUAL(run(args, &text), 0);
		/* (Two copies count their own quarantines.) */
		CU_ASSERT(copies == 2 ||
			  strstr(text, "quarantined 5 records") != NULL);
		/* The report's first line says it too. */
		CU_ASSERT(strstr(text, ", 5 records quarantined to "
				       "pipeline.dead.rec\n") != NULL);
		CU_ASSERT(strstr(text, "giving up") == NULL);
		got = rp_cmd_slurp("out", &n);
		if (copies == 1) {
			CU_ASSERT_STRING_EQUAL(got, want);
		} else {
			/* Copies interleave: the same lines, each once. */
			int ok = n == wn;
			for (char *p = want, *e; ok && *p; p = e + 1) {
				char l[64];
				e = strchr(p, '\n');
				snprintf(l, sizeof(l), "%.*s", (int)(e - p + 1), p);
				char *at = strstr(got, l);
				ok = at != NULL && (at == got || at[-1] == '\n');
			}
			CU_ASSERT(ok);
		}
		CU_ASSERT(strstr(got, "a part of it") == NULL);
		free(got);
		dead = rp_cmd_slurp("pipeline.dead.jsonl", &n);
		CU_ASSERT_EQUAL(rp_cmd_lines("pipeline.dead.jsonl"), 5);
		CU_ASSERT(strstr(dead, "\"attempts\":1,") != NULL);
		CU_ASSERT(copies == 2 ||
			  strstr(dead, "\"seq\":100,\"origin\":100,\"sub\":0,\"type\":1,"
				       "\"reason\":\"it refused record 100: "
				       "it starts with BAD, whi...\"") != NULL);
		for (int o = 0; o < 5; o++) {
			char want_o[32];
			snprintf(want_o, sizeof(want_o), "\"origin\":%d,",
				 bad[o]);
			CU_ASSERT(strstr(dead, want_o) != NULL);
		}
		if (rp_cmd_lines("pipeline.dead.jsonl") != 5)
			fprintf(stderr, "%d copies:\n%s\n%s\n", copies, text,
				dead);
		free(dead);
		free(text);
	}
	/* Careless callers: one that peeks at the next record before it
	 * refuses, one that returns 0 after refusing: the same five
	 * records, the callback's own, quarantined. */
	for (int m = 0; m < 2; m++) {
		static const char *const how[] = {"peek", "ignore"};
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! %s %s ! file-sink --lines "
			 "out", in, prog, how[m]);
		rp_cmd_spit("pipeline.dead.jsonl", "", 0);
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
		got = rp_cmd_slurp("out", &n);
		CU_ASSERT_STRING_EQUAL(got, want);
		free(got);
		dead = rp_cmd_slurp("pipeline.dead.jsonl", &n);
		CU_ASSERT_EQUAL(rp_cmd_lines("pipeline.dead.jsonl"), 5);
		for (int o = 0; o < 5; o++) {
			char want_o[48];
			snprintf(want_o, sizeof(want_o), "\"seq\":%d,", bad[o]);
			CU_ASSERT(strstr(dead, want_o) != NULL);
		}
		free(dead);
	}
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! %s @restart=never ! file-sink "
		 "--lines out", in, prog);
	rp_cmd_spit("pipeline.dead.jsonl", "", 0);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "it refused record 1: it starts with BAD, "
			       "whi...; with restart: never, the run ends "
			       "there") != NULL);
	CU_ASSERT_EQUAL(rp_cmd_lines("pipeline.dead.jsonl"), 0);
	free(text);
	/* A crash amid a record's outputs, the first committed: twice,
	 * then quarantined, and none of its outputs out. */
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault @restart_backoff_ms=0 "
		 "--copies 3 --midway --match '^BAD line 500$' --do crash ! "
		 "file-sink --lines out", in);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "quarantined 1 record") != NULL);
	free(text);
	got = rp_cmd_slurp("out", &n);
	wn = 0;
	for (int i = 0, b = 0; i < 1000; i++) {
		int is_bad = b < 5 && i == bad[b];
		b += is_bad;
		for (int c = 0; c < 3 && i != 500; c++)
			wn += (size_t)sprintf(want + wn, "%sline %d\n",
					      is_bad ? "BAD " : "", i);
	}
	CU_ASSERT_FATAL(wn < 40000);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
	CU_ASSERT_EQUAL(rp_cmd_lines("pipeline.dead.jsonl"), 1);
	free(want);
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A parser that fails on what it cannot parse, without refusing it: its
 * callback returns an error, or it exits in the middle of the record.
 * Either is counted against the record as a crash on it is: twice on
 * the same record and it is quarantined, saying how the parser failed,
 * nothing it emitted for the record reaches the sink, and every other
 * record comes out once, in order. */
RP_TEST(test_program_fails_on_records, 60)
{
	static const int bad[] = {1, 100, 102, 500};
	char prog[128], line[1024], in[256], *text, *got, *dead, *want;
	char *args[] = {"-e", line, NULL};
	size_t n;

	rp_cmd_dir_make("cli");
	stage_prog_copy("refuser", "refuser", prog, sizeof(prog));
	rp_cmd_path(in, sizeof(in), "in");
	want = calloc(1, 40000);
	CU_ASSERT_FATAL(want != NULL);
	bad_lines(bad, 4, want);
	for (int m = 0; m < 4; m++) {
		static const char *const how[] = {"error", "exit", "huge",
						  "7"};
		static const char *const said[] = {
			"error: Invalid or incomplete multibyte or wide "
			"character (exit 1) on record 100",
			"failed (exit 1) on record 100",
			"it emitted a record of 2097152 bytes; its output ring "
			"takes 524264 at most",
			/* (A value that means nothing: it used to go on,
			 * as if 0.) */
			"its callback returned 7 on record 100: not 0, "
			"RP_STOP,"};
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! %s @restart_backoff_ms=0 %s "
			 "! file-sink --lines out", in, prog, how[m]);
		rp_cmd_spit("pipeline.dead.jsonl", "", 0);
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strstr(text, ", 4 records quarantined to "
				       "pipeline.dead.rec\n") != NULL);
		CU_ASSERT(strstr(text, said[m]) != NULL);
		got = rp_cmd_slurp("out", &n);
		CU_ASSERT_STRING_EQUAL(got, want);
		free(got);
		dead = rp_cmd_slurp("pipeline.dead.jsonl", &n);
		CU_ASSERT_EQUAL(rp_cmd_lines("pipeline.dead.jsonl"), 4);
		CU_ASSERT(strstr(dead, "\"attempts\":2,") != NULL);
		for (int o = 0; o < 4; o++) {
			char want_o[48];
			snprintf(want_o, sizeof(want_o), "\"seq\":%d,", bad[o]);
			CU_ASSERT(strstr(dead, want_o) != NULL);
		}
		if (rp_cmd_lines("pipeline.dead.jsonl") != 4)
			fprintf(stderr, "%s:\n%s\n%s\n", how[m], text, dead);
		free(dead);
		free(text);
	}
	/* Misuses, each said of the record it happened on: a refusal
	 * followed by an error is a refusal (it used to restart without
	 * end under --fast-restart); a reservation left open is this
	 * record's mistake (the next record used to be blamed); a commit
	 * longer than its reservation fails at once. */
	for (int m = 0; m < 3; m++) {
		static const char *const how[] = {"refuse-error", "leak",
						  "overcommit"};
		static const char *const said[] = {
			"it refused record 100: refused, then an error",
			"its callback left a reservation uncommitted "
			"(rp_emit_reserve without rp_emit_commit) on record "
			"100",
			"error: Invalid argument (exit 1) on record 100"};
		snprintf(line, sizeof(line),
			 "file-source --lines %s ! %s @restart_backoff_ms=0 %s "
			 "! file-sink --lines out", in, prog, how[m]);
		rp_cmd_spit("pipeline.dead.jsonl", "", 0);
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strstr(text, said[m]) != NULL);
		CU_ASSERT(strstr(text, ", 4 records quarantined to ") != NULL);
		if (strstr(text, said[m]) == NULL)
			fprintf(stderr, "%s:\n%s\n", how[m], text);
		free(text);
		CU_ASSERT_EQUAL(rp_cmd_lines("pipeline.dead.jsonl"), 4);
		got = rp_cmd_slurp("out", &n);
		CU_ASSERT_STRING_EQUAL(got, want);
		free(got);
	}
	/* Two copies committing 8 bytes less than they reserved, past the
	 * 1 MiB a copy holds per claim: every record out whole (the rest
	 * of such a claim could not be padded, and the run failed). */
	{
		char small[200];
		for (int i = 0; i < 100; i++)
			small[2 * i] = 'x', small[2 * i + 1] = '\n';
		rp_cmd_spit("in100", small, 200);
		snprintf(line, sizeof(line),
			 "file-source --lines in100 ! %s @replicas=2 shrink ! "
			 "file-sink out", prog);
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
		got = rp_cmd_slurp("out", &n);
		CU_ASSERT_EQUAL(n, 100u * 100000u);
		free(got);
	}
	/* -EAGAIN is a failure that is not the record's: restarted, it
	 * fails again, gives up, quarantines nothing. */
	snprintf(line, sizeof(line),
		 "file-source --lines in ! %s @restart_backoff_ms=0 again ! "
		 "file-sink --lines out", prog);
	rp_cmd_spit("pipeline.dead.jsonl", "", 0);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "Resource temporarily unavailable (exit 1); "
			       "restarted 5 times without staying up 10 s: "
			       "giving up") != NULL);
	CU_ASSERT(strstr(text, "quarantined") == NULL);
	CU_ASSERT_EQUAL(rp_cmd_lines("pipeline.dead.jsonl"), 0);
	free(text);
	/* A crash after a refusal waits out restart_backoff_ms as any
	 * first failure does (the refusal's restart, at once, used to
	 * leave every later one at 0 ms). */
	rp_cmd_spit("in", "a\nBAD b\nSEGV c\nd\n", 17);
	snprintf(line, sizeof(line),
		 "file-source --lines in ! %s ! file-sink --lines out", prog);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "on record 2; restarting in 100 ms (1 of at "
			       "most 5 in a row)") != NULL);
	CU_ASSERT(strstr(text, "restarting in 0 ms") == NULL);
	CU_ASSERT(strstr(text, "2 records quarantined") != NULL);
	free(text);
	got = rp_cmd_slurp("out", &n);
	CU_ASSERT_STRING_EQUAL(got, "a\nd\n");
	free(got);
	free(want);
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A hostile parser under policy exec, which allows kill and prlimit,
 * reaches for a neighbouring stage (same uid, no PID namespace between
 * them) and for the supervisor: where the kernel scopes signals
 * (Landlock ABI 6), both are out of reach and the report's layers say
 * sigscope; elsewhere the report says signals are not scoped.  Another
 * process's limits are never its to read or set: prlimit on the
 * neighbour fails with EPERM, as another user's would. */
RP_TEST(test_program_cannot_reach_other_stages, 60)
{
	char prog[128], line[1024], *text, *got;
	char *args[] = {"-e", line, NULL};
	int scoped = rp_landlock_abi() >= 6;
	size_t n;

	rp_cmd_dir_make("cli");
	stage_prog_copy("signaller", "signaller", prog, sizeof(prog));
	rp_cmd_spit("in", "x\nwait\n", 7);
	snprintf(line, sizeof(line),
		 "file-source --lines in ! %s @policy=exec pid ! %s "
		 "@policy=exec probe ! file-sink --lines out", prog, prog);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	got = rp_cmd_slurp("out", &n);
	if (scoped) {
		CU_ASSERT_STRING_EQUAL(got, "sibling EPERM\nparent EPERM\n"
					    "x\nwait\n");
		CU_ASSERT(strstr(text, "policy exec   layers fds,rlimits,"
				       "noroot,pdeath,nnp,landlock,seccomp,"
				       "sigscope\n") != NULL);
	} else {
		CU_ASSERT(strstr(got, "x\nwait\n") != NULL);
		CU_ASSERT(strstr(text, "signals to processes outside a stage "
				       "are not scoped") != NULL);
	}
	free(got);
	free(text);
	snprintf(line, sizeof(line),
		 "file-source --lines in ! %s @policy=exec pid ! %s "
		 "@policy=exec limit ! file-sink --lines out", prog, prog);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	free(text);
	got = rp_cmd_slurp("out", &n);
	CU_ASSERT_STRING_EQUAL(got, "limit EPERM\nx\nwait\n");
	free(got);
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A descriptor ringpipe's caller left open (9<secret, as root) does not
 * reach a program of one's own, which runs as the stage user from its
 * first instruction: closed before it starts, not only once its library
 * closes what it does not need.  A built-in may still be given it by
 * name (file-source /dev/fd/9). */
RP_TEST(test_program_inherits_no_fds, 30)
{
	char bin[512], prog[128], cmd[2048], *out;
	size_t n;

	rp_cmd_dir_make("cli");
	rp_cmd_bin(bin, sizeof(bin));
	stage_prog_copy("signaller", "signaller", prog, sizeof(prog));
	rp_cmd_spit("in", "x\n", 2);
	rp_cmd_spit("secret", "s\n", 2);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && chmod 600 secret && '%s' -q -e 'file-source "
		 "--lines in ! %s inherit ! file-sink --lines out' 9<secret "
		 "2>err && '%s' -q -e 'file-source --lines /dev/fd/9 ! "
		 "file-sink --lines out2' 9<in 2>>err",
		 rp_cmd_dir(), bin, prog, bin);
	CU_ASSERT_EQUAL(system(cmd), 0);
	out = rp_cmd_slurp("out", &n);
	CU_ASSERT(out != NULL && strcmp(out, "fd9 closed\nx\n") == 0);
	free(out);
	out = rp_cmd_slurp("out2", &n);
	CU_ASSERT(out != NULL && strcmp(out, "x\n") == 0);
	free(out);
	unlink(prog);
	rp_cmd_dir_remove();
}

/* Started with stdin closed (cmd <&-), as cron and daemons sometimes
 * start jobs: a source reading stdin reads nothing, an exec command's
 * too, and the run ends well, instead of a ring or the seccomp listener
 * taking fd 0 (which failed the stage with a seccomp error).  With
 * stdout closed, a last stage writing to it is refused. */
RP_TEST(test_closed_stdin, 30)
{
	char bin[512], cmd[2048], *out;
	size_t n;

	rp_cmd_dir_make("cli");
	rp_cmd_bin(bin, sizeof(bin));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && '%s' -q -e 'exec -- cat ! count ! file-sink "
		 "--lines out' <&- 2>err; echo $? >code; '%s' -q -e "
		 "'file-source - ! file-sink out2' <&- 2>>err; echo $? >>code",
		 rp_cmd_dir(), bin, bin);
	CU_ASSERT_EQUAL(system(cmd), 0);
	out = rp_cmd_slurp("code", &n);
	CU_ASSERT_STRING_EQUAL(out, "0\n0\n");
	free(out);
	out = rp_cmd_slurp("err", &n);
	CU_ASSERT(strstr(out, "count: records=0 ") != NULL);
	CU_ASSERT(strstr(out, "seccomp") == NULL);
	free(out);
	out = rp_cmd_slurp("out2", &n);
	CU_ASSERT(out != NULL && n == 0);
	free(out);
	/* A closed stdout, written to by the last stage, is no stdout:
	 * refused (exit 2), as cat >&- fails; written to a file, the run
	 * goes. */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && printf 'x\\n' > in3 && '%s' -q -e 'file-source "
		 "--lines in3 ! file-sink --lines -' >&- 2>err3; echo $? >code3; "
		 "'%s' -q -e 'file-source --lines in3 ! file-sink --lines out3' "
		 ">&- 2>>err3; echo $? >>code3",
		 rp_cmd_dir(), bin, bin);
	CU_ASSERT_EQUAL(system(cmd), 0);
	out = rp_cmd_slurp("code3", &n);
	CU_ASSERT(out != NULL && strcmp(out, "2\n0\n") == 0);
	free(out);
	out = rp_cmd_slurp("err3", &n);
	CU_ASSERT(out != NULL && strstr(out, "stdout is closed (>&-): stage "
					     "'2-file-sink' writes to it") !=
					 NULL);
	free(out);
	out = rp_cmd_slurp("out3", &n);
	CU_ASSERT(out != NULL && n == 2 && memcmp(out, "x\n", 2) == 0);
	free(out);
	rp_cmd_dir_remove();
}

/* A deny rule with an errno fails the call and lets the stage go on;
 * the supervisor still hears of it, by name, from the kernel. */
RP_TEST(test_soft_deny_reported, 60)
{
	char p[256], in[256], yaml[1024], *text;
	char *args[] = {"run", p, NULL};

	rp_cmd_dir_make("cli");
	write_file("in", "one\ntwo\nthree\n");
	rp_cmd_path(in, sizeof(in), "in");
	snprintf(yaml, sizeof(yaml),
		 "name: soft\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - name: odd\n    input: read\n    run: fault\n"
		 "    args: [--at, \"1\", --do, \"syscall:getppid\"]\n"
		 "    sandbox: {deny: [\"getppid:EPERM\"]}\n"
		 "  - {name: tally, input: odd, run: count}\n", in);
	write_file("s.yaml", yaml);
	rp_cmd_path(p, sizeof(p), "s.yaml");
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "stage odd: denied syscall getppid") != NULL);
	CU_ASSERT(strstr(text, "failed with EPERM") != NULL);
	CU_ASSERT(strstr(text, "tally: count: records=3 ") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* A stage that keeps failing, before any record, is restarted by its
 * policy until the intensity limit, then the run fails saying so. */
RP_TEST(test_restart_gives_up_on_poison, 60)
{
	char p[256], in[256], yaml[1024], *text;
	char *args[] = {"run", p, NULL};

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(yaml, sizeof(yaml),
		 "name: poison\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - name: p\n    input: read\n    run: fault\n"
		 "    args: [--at, start, --do, \"exit:3\"]\n"
		 "    restart: on-failure\n    restart_max: 3\n"
		 "    restart_backoff_ms: 0\n"
		 "  - {name: tally, input: p, run: count}\n", in);
	write_file("r.yaml", yaml);
	rp_cmd_path(p, sizeof(p), "r.yaml");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "restarting in 0 ms (3 of at most 3 in a row)") !=
		  NULL);
	CU_ASSERT(strstr(text, "failed (exit 3); restarted 3 times without "
			       "staying up 10 s: giving up") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* Poison records far apart, under the default restart limits (5 in a
 * row): each quarantine takes its cause away, and a stage that gets
 * past records after it starts a new series, so twelve go through and
 * the run finishes, every other line out once.  One crashing on every
 * record still gives up after five restarts. */
RP_TEST(test_sparse_poison_goes_on, 90)
{
	char line[512], *text, *out;
	char *args[] = {"-e", line, NULL};
	size_t n, len = 0;
	char want[16000], in[16000];
	int nin = 0;

	/* Seconds of restart backoffs, the supervisor's counting judged
	 * by the plain run; the sanitizers see the same paths elsewhere. */
	if (rp_test_sanitized())
		return;

	rp_cmd_dir_make("cli");
	for (int i = 0; i < 1200; i++) {
		nin += snprintf(in + nin, sizeof(in) - (size_t)nin, "%d\n", i);
		if (!(i < 300 ? i % 5 == 3 : i >= 600 && i % 100 == 17))
			len += (size_t)snprintf(want + len, sizeof(want) - len,
						"%d\n", i);
	}
	rp_cmd_spit("N", in, (size_t)nin);
	/* 60 records 5 apart (fewer than a release takes), then 6 a
	 * hundred apart. */
	snprintf(line, sizeof(line),
		 "file-source --lines N ! fault @restart_backoff_ms=0 --match "
		 "'^([0-2]?[0-9]?[38]|[6-9]17|1[01]17)$' --do crash ! "
		 "file-sink --lines OUT");
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "quarantined 66 records") != NULL);
	if (!strstr(text, "quarantined 66 records"))
		fprintf(stderr, "%s\n", text);
	free(text);
	out = rp_cmd_slurp("OUT", &n);
	CU_ASSERT(n == len && memcmp(out, want, len) == 0);
	free(out);
	snprintf(line, sizeof(line),
		 "file-source --lines N ! fault --match . --do crash ! "
		 "file-sink --lines OUT");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "restarted 5 times without staying up 10 s: "
			       "giving up") != NULL);
	free(text);
	/* So do two copies crashing on every record. */
	snprintf(line, sizeof(line),
		 "file-source --lines N ! fault @replicas=2 "
		 "@restart_backoff_ms=0 --match . --do crash ! "
		 "file-sink --lines OUT");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "giving up") != NULL);
	if (!strstr(text, "giving up"))
		fprintf(stderr, "%s\n", text);
	free(text);
	/* But two copies go on through twelve poison records 8000 apart,
	 * as one does: the copy whose death did not quarantine a record
	 * used to count every such death in a row, and gave up. */
	{
		char path[256];
		size_t wl = 0;
		char *w = malloc(1200000);
		FILE *f;
		rp_cmd_path(path, sizeof(path), "M");
		f = fopen(path, "w");
		CU_ASSERT_FATAL(f != NULL && w != NULL);
		for (int i = 1; i <= 100000; i++) {
			fprintf(f, "%s %d\n", i % 8000 ? "line" : "segv", i);
			if (i % 8000)
				wl += (size_t)sprintf(w + wl, "line %d\n", i);
		}
		fclose(f);
		snprintf(line, sizeof(line),
			 "file-source --lines M ! fault @replicas=2 "
			 "@restart_backoff_ms=10 --match '^segv' --do crash "
			 "! file-sink --lines OUT");
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strstr(text, "12 records quarantined") != NULL);
		if (!strstr(text, "12 records quarantined"))
			fprintf(stderr, "%s\n", text);
		free(text);
		out = rp_cmd_slurp("OUT", &n);
		/* Copies interleave: the same lines, as many. */
		CU_ASSERT_EQUAL(n, wl);
		free(out);
		free(w);
	}
	/* A new series once past a quarantined record is once per copy:
	 * copies that then fail as they start, on no record, over and
	 * over, still give up (they used to restart for ever). */
	{
		char prog[128], flag[64], text_in[64];
		size_t len_in = 0;
		char *big = malloc(16000);
		CU_ASSERT_FATAL(big != NULL);
		stage_prog_copy("refuser", "flaky", prog, sizeof(prog));
		snprintf(flag, sizeof(flag), "/tmp/rp-flag-%d", (int)getpid());
		unlink(flag);
		for (int i = 0; i < 1000; i++) {
			snprintf(text_in, sizeof(text_in), "%s\n",
				 i == 200 ? "SEGV" : i == 600 ? "LOOP" : "x");
			memcpy(big + len_in, text_in, strlen(text_in));
			len_in += strlen(text_in);
		}
		rp_cmd_spit("F", big, len_in);
		free(big);
		snprintf(line, sizeof(line),
			 "file-source --lines F ! %s @replicas=2 @policy=none "
			 "@restart_backoff_ms=0 flaky %s ! file-sink --lines "
			 "OUT", prog, flag);
		CU_ASSERT_EQUAL(run(args, &text), 1);
		CU_ASSERT(strstr(text, "giving up") != NULL);
		CU_ASSERT(strstr(text, "1 record quarantined") != NULL);
		if (!strstr(text, "giving up"))
			fprintf(stderr, "%s\n", text);
		free(text);
		unlink(flag);
		unlink(prog);
	}
	rp_cmd_dir_remove();
}

/* A stage crashing on every 1000th record, restarting on failure: the
 * run finishes, its restarts are counted, and the output is the input,
 * nothing lost or repeated.  The same with one crash at a seeded random
 * record. */
RP_TEST(test_crash_every_1000th_record, 60)
{
	char in[256], line[768], *text, *a, *b;
	char *args[] = {"-e", line, NULL};
	size_t na, nb;

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 10000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault @restart_max=20 "
		 "@restart_backoff_ms=0 --every 1000 --do crash ! "
		 "file-sink --lines OUT", in);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "on record 9000; restarting in 0 ms") != NULL);
	CU_ASSERT(strstr(text, "restarted 9 times") != NULL);
	a = rp_cmd_slurp("in", &na);
	b = rp_cmd_slurp("OUT", &nb);
	CU_ASSERT(na > 80000 && na == nb && memcmp(a, b, na) == 0);
	if (na != nb)
		fprintf(stderr, "%zu bytes in, %zu out:\n%s\n", na, nb, text);
	free(a);
	free(b);
	free(text);
	/* The same with the default limit (5 in a row, 100 ms backoff
	 * doubling): it gives up; with --fast-restart, no backoff and no
	 * limit: it finishes, restarting at once. */
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault --every 1000 --do crash ! "
		 "file-sink --lines OUT", in);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "restarted 5 times") != NULL);
	free(text);
	{
		char *fast[] = {"-e", line, "--fast-restart", NULL};
		CU_ASSERT_EQUAL(run(fast, &text), 0);
		CU_ASSERT(strstr(text, "on record 9000; restarting in 0 ms") !=
			  NULL);
		CU_ASSERT(strstr(text, "restarted 9 times") != NULL);
		free(text);
	}
	/* --random: once per run at a seeded point; the restart goes on
	 * past it. */
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! fault @restart_backoff_ms=0 "
		 "--random 7:10000 --do crash ! file-sink --lines OUT", in);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "restarted 1 time") != NULL);
	CU_ASSERT(strstr(text, "quarantined") == NULL);
	a = rp_cmd_slurp("in", &na);
	b = rp_cmd_slurp("OUT", &nb);
	CU_ASSERT(na == nb && memcmp(a, b, na) == 0);
	free(a);
	free(b);
	free(text);
	rp_cmd_dir_remove();
}

/* A restarted stage continues its input numbering from what it had
 * released, where its redelivery starts: the record it died on keeps its
 * number, restart after restart (here past a release at 64). */
RP_TEST(test_restart_keeps_record_numbers, 60)
{
	char p[256], in[256], yaml[1024], *text;
	char *args[] = {"run", p, NULL};

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(yaml, sizeof(yaml),
		 "name: poison\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - name: p\n    input: read\n    run: fault\n"
		 "    args: [--match, \"^line 100$\", --do, "
		 "\"crashpoint:reserved\"]\n"
		 "    restart: on-failure\n    restart_max: 3\n"
		 "    restart_backoff_ms: 0\n"
		 "  - {name: tally, input: p, run: count}\n", in);
	write_file("r.yaml", yaml);
	rp_cmd_path(p, sizeof(p), "r.yaml");
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "on record 100; restarting in 0 ms (3 of at "
			       "most 3 in a row)") != NULL);
	CU_ASSERT(strstr(text, "on record 100; restarted 3 times") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* The number after "KEY": in stage NAME's object of a JSON report, or
 * -1. */
static double stage_figure(const char *json, const char *name,
			   const char *key)
{
	char head[96], k[64];
	const char *at, *end;

	snprintf(head, sizeof(head), "{\"name\":\"%s\",", name);
	snprintf(k, sizeof(k), "\"%s\":", key);
	at = strstr(json, head);
	if (at == NULL)
		return -1;
	end = strstr(at + 1, "{\"name\":");
	at = strstr(at, k);
	if (at == NULL || (end != NULL && at > end))
		return -1;
	return strtod(at + strlen(k), NULL);
}

/* Time blocked, per stage, in the report and its JSON: a sink whose
 * input comes a second late waited about that long for it; a source
 * whose consumer sleeps a second before reading (behind a 64K ring)
 * waited for room; the sleeper itself, whose program held its input
 * all along, was not blocked on input: that was its program's work. */
RP_TEST(test_report_blocked_time, 60)
{
	char line[512], *text, *json;
	char *args[] = {"-e", line, "--report-json", "b.json", NULL};
	size_t n;

	rp_cmd_dir_make("cli");
	snprintf(line, sizeof(line),
		 "exec @name=gen -- seq 1 200000 ! "
		 "exec @name=late @ring=64K --lines -- sh -c 'sleep 1; "
		 "exec cat' ! file-sink @name=keep --lines OUT");
	CU_ASSERT_EQUAL(run(args, &text), 0);
	json = rp_cmd_slurp("b.json", &n);
	if (stage_figure(json, "keep", "blocked_input_s") < 0.7)
		fprintf(stderr, "%s\n%s\n", json, text);
	CU_ASSERT(stage_figure(json, "keep", "blocked_input_s") >= 0.7);
	CU_ASSERT(stage_figure(json, "gen", "blocked_output_s") >= 0.5);
	CU_ASSERT(stage_figure(json, "late", "blocked_input_s") >= 0);
	CU_ASSERT(stage_figure(json, "late", "blocked_input_s") < 0.5);
	CU_ASSERT(strstr(text, "blocked 0.") != NULL ||
		  strstr(text, "blocked 1.") != NULL);
	/* Lines without their newlines: 1288895 - 200000 bytes. */
	CU_ASSERT(strstr(text, "out 200000 records, 1088895 bytes; "
			       "blocked ") != NULL);
	free(json);
	free(text);
	rp_cmd_dir_remove();
}

/* --report-json: the report as one JSON object for scripts, with the
 * counts a user checks (records in and out per stage, restarts, the
 * quarantine); a file it cannot write is said, and changes no exit code. */
RP_TEST(test_report_json, 60)
{
	char p[256], in[256], yaml[1024], *text, *json;
	char *args[] = {"run", p, "--report-json", "r.json", NULL};
	char *bad[] = {"run", p, "--report-json", "/nonexistent/r.json", NULL};
	size_t n;

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(yaml, sizeof(yaml),
		 "name: rj\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - name: parse\n    input: read\n    run: fault\n"
		 "    args: [--match, \"^line 100$\", --do, crash]\n"
		 "    restart_backoff_ms: 0\n"
		 "  - {name: pick, input: parse, run: grep, args: [\"5$\"]}\n"
		 "  - {name: tally, input: pick, run: count}\n", in);
	write_file("r.yaml", yaml);
	rp_cmd_path(p, sizeof(p), "r.yaml");
	CU_ASSERT_EQUAL(run(args, &text), 0);
	json = rp_cmd_slurp("r.json", &n);
	if (strstr(json, "\"exit_code\":0,\"quarantined\":1,") == NULL)
		fprintf(stderr, "%s\n%s\n", json, text);
	CU_ASSERT(strncmp(json, "{\"pipeline\":\"rj\",\"seconds\":", 27) ==
		  0);
	CU_ASSERT(strstr(json, "\"exit_code\":0,\"quarantined\":1,"
			       "\"dead_letter\":\"rj.dead\"") != NULL);
	/* A source's "in" is what it read. */
	CU_ASSERT(strstr(json, "{\"name\":\"read\",\"state\":\"done\","
			       "\"records_in\":1000,\"records_out\":1000,"
			       "\"bytes_out\":7890,") != NULL);
	/* line 100 died twice and was quarantined: 999 went on (its "out"
	 * counts publications, the replays after each restart too). */
	CU_ASSERT(strstr(json, "{\"name\":\"parse\",\"state\":\"done\","
			       "\"records_in\":1000,\"records_out\":") !=
		  NULL);
	CU_ASSERT(strstr(json, "\"restarts\":2,\"quarantined\":1,") != NULL);
	CU_ASSERT(strstr(json, "{\"name\":\"pick\",\"state\":\"done\","
			       "\"records_in\":999,\"records_out\":100,") !=
		  NULL);
	CU_ASSERT(strstr(json, "\"policy\":\"strict\",\"layers\":\"fds,") !=
		  NULL);
	CU_ASSERT(strstr(json, "\"delivery\":\"exactly-once\"") != NULL);
	CU_ASSERT(strstr(json, "\"why\":\"\",\"ended_early\":false,"
			       "\"pid\":null}]}\n") != NULL);
	free(json);
	free(text);
	unlink_in_dir("rj.dead.rec");
	unlink_in_dir("rj.dead.jsonl");
	/* Same run, nowhere to write: said, and the run's code stands. */
	CU_ASSERT_EQUAL(run(bad, &text), 0);
	CU_ASSERT(strstr(text, "ringpipe: --report-json /nonexistent/r.json: "
			       "No such file or directory") != NULL);
	free(text);
	unlink_in_dir("rj.dead.rec");
	unlink_in_dir("rj.dead.jsonl");
	rp_cmd_dir_remove();
}
/* -h and --help after any command print the usage on stdout, exit 0,
 * instead of being taken for its FILE or NAME; options come before FILE
 * as well as after it, and before the command; an option missing its
 * value, and a second FILE, are said for what they are, not as unknown
 * options. */
RP_TEST(test_help_and_option_order, 60)
{
	static const char *const cmds[] = {"run",    "check", "chaos",
					   "replay", "stat",  "-e"};
	char in[256], yaml[512], *text, *json;
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	size_t n;

	CU_ASSERT_FATAL(nul >= 0);
	rp_cmd_dir_make("cli");
	for (size_t c = 0; c < sizeof(cmds) / sizeof(*cmds); c++)
		for (int h = 0; h < 2; h++) {
			char *args[] = {(char *)cmds[c], h ? "-h" : "--help",
					NULL};
			/* stderr to /dev/null: REPORT is stdout alone. */
			int code = rp_test_exit_code(
			    rp_test_wait(rp_cmd_start_err(args, -1, nul), 10));
			text = rp_cmd_slurp("REPORT", &n);
			CU_ASSERT_EQUAL(code, 0);
			CU_ASSERT(strstr(text, "usage: ringpipe run FILE") !=
				  NULL);
			if (code != 0)
				fprintf(stderr, "ringpipe %s %s: exit %d\n",
					cmds[c], args[1], code);
			free(text);
		}
	close(nul);

	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 100);
	snprintf(yaml, sizeof(yaml),
		 "name: order\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - {name: write, input: read, run: file-sink,"
		 " args: [--lines, out]}\n",
		 in);
	write_file("p.yaml", yaml);
	{
		/* Options before the command, one of them taking a
		 * value. */
		char *args[] = {"--report-json", "r.json", "-q", "run",
				"p.yaml", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
		CU_ASSERT_EQUAL(rp_cmd_lines("out"), 100);
		json = rp_cmd_slurp("r.json", &n);
		CU_ASSERT(strstr(json, "\"exit_code\":0") != NULL);
		free(json);
	}
	{
		char *args[] = {"check", "--fast-restart", "p.yaml", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strstr(text, "p.yaml: pipeline order: 2 stages, "
				       "ok") != NULL);
		free(text);
	}
	{
		/* After --, a FILE that starts with -. */
		char *args[] = {"run", "-q", "--", "-p.yaml", NULL};
		write_file("-p.yaml", yaml);
		unlink_in_dir("out");
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
		CU_ASSERT_EQUAL(rp_cmd_lines("out"), 100);
	}
	{
		char *args[] = {"stat", "--json", "no-such-pipeline", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 1);
		CU_ASSERT(strstr(text, "no running pipeline no-such-pipeline ")
			  != NULL);
		free(text);
	}
	{
		char *args[] = {"run", "p.yaml", "--report-json", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 2);
		CU_ASSERT(strstr(text, "--report-json needs a value") != NULL);
		CU_ASSERT(strstr(text, "unknown option") == NULL);
		free(text);
	}
	/* Left without its value behind options given before the
	 * command: said, and none of those options taken for it (a
	 * report written to a file named -q). */
	{
		char *args[] = {"-q", "run", "p.yaml", "--report-json", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 2);
		CU_ASSERT(strstr(text, "--report-json needs a value") != NULL);
		free(text);
		{
			char q[256];
			rp_cmd_path(q, sizeof(q), "-q");
			CU_ASSERT(access(q, F_OK) != 0);
		}
	}
	{
		/* run -e, as check -e and replay -e: the one-liner. */
		char *args[] = {"run", "-q", "-e", "fault --make 3 ! file-sink "
						   "--lines made", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 0);
		free(text);
		CU_ASSERT_EQUAL(rp_cmd_lines("made"), 3);
	}
	{
		/* A mistake of usage: said, and where the rest is, not
		 * the whole usage; a seed that is not a count refused. */
		char *args[] = {"run", NULL};
		char *seed[] = {"chaos", "p.yaml", "--seed", "-1", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 2);
		CU_ASSERT(strstr(text, "no FILE given") != NULL &&
			  strstr(text, "(ringpipe --help explains)") != NULL &&
			  strstr(text, "--report-json OUT") == NULL);
		free(text);
		CU_ASSERT_EQUAL(run(seed, &text), 2);
		CU_ASSERT(strstr(text, "--seed: bad value '-1'") != NULL);
		free(text);
	}
	{
		char *args[] = {"-v", "check", "-e", "fault --make 3 ! count",
				NULL};
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strstr(text, "2 stages, ok") != NULL);
		free(text);
	}
	{
		char *args[] = {"chaos", "p.yaml", "--seed", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 2);
		CU_ASSERT(strstr(text, "--seed needs a value") != NULL);
		free(text);
	}
	{
		char *args[] = {"run", "p.yaml", "q.yaml", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 2);
		CU_ASSERT(strstr(text, "q.yaml: a second FILE (p.yaml is the "
				       "first)") != NULL);
		free(text);
	}
	{
		char *args[] = {"--version", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 0);
		CU_ASSERT(strncmp(text, "ringpipe 0.", 11) == 0);
		free(text);
	}
	{
		char *args[] = {"-q", "--stats", NULL};
		CU_ASSERT_EQUAL(run(args, &text), 2);
		CU_ASSERT(strstr(text, "no command given (-q is an option)")
			  != NULL);
		free(text);
	}
	rp_cmd_dir_remove();
}

/* On a terminal, a run longer than a second keeps a progress line on
 * stderr (records/s and fill per ring), erased before anything else is
 * written and before the report; off the terminal there is none. */
RP_TEST(test_progress_line_on_a_terminal, 60)
{
	char in[256], line[512], *text, buf[16384];
	char *args[] = {"-e", line, NULL};
	size_t got = 0;
	int master, slave, st;
	pid_t pid;

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! exec -- bash -c 'cat; sleep 2.3' "
		 "! count", in);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	CU_ASSERT_FATAL(master >= 0 && grantpt(master) == 0 &&
			unlockpt(master) == 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	CU_ASSERT_FATAL(slave >= 0);
	pid = rp_cmd_start_err(args, -1, slave);
	close(slave);
	/* Read as it comes (a full terminal would stall it), until the
	 * last writer is gone (EIO), within the bound. */
	for (int64_t end = rp_now_ns() + 30000000000LL; rp_now_ns() < end;) {
		struct pollfd p = {.fd = master, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(master, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	st = rp_test_wait(pid, 10);
	close(master);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	CU_ASSERT(strstr(buf, "\r\033[K[1s] 2-exec ") != NULL);
	CU_ASSERT(strstr(buf, "/s 0%") != NULL);
	/* The report comes after the last line, which was erased. */
	{
		char *rep = strstr(buf, "ringpipe: pipeline pipeline: ");
		char *last = NULL;
		for (char *p = buf; (p = strstr(p, "\033[K")) != NULL; p++)
			last = p;
		CU_ASSERT(rep != NULL && last != NULL && last < rep);
		CU_ASSERT(rep != NULL && strstr(rep, "[2s]") == NULL);
	}
	if (strstr(buf, "[1s]") == NULL)
		fprintf(stderr, "on the terminal:\n%s\n", buf);
	/* Not a terminal: no line, no escapes. */
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "\033[") == NULL);
	CU_ASSERT(strstr(text, "ringpipe: pipeline pipeline: ") != NULL);
	free(text);
	rp_cmd_dir_remove();
}

/* stdout on the same terminal as stderr (`ringpipe ... | ` nothing, a
 * stage writing stdout): no progress line, which the stage's output
 * would run into; stdout elsewhere, the line is drawn.  Both on a
 * terminal that script(1) makes. */
RP_TEST(test_no_progress_line_over_stdout, 60)
{
	static const char *const runs[] = {"", " > out.txt"};
	char cmd[1400], bin[600], in[256], *text;
	size_t n;

	rp_cmd_dir_make("cli");
	rp_cmd_bin(bin, sizeof(bin));
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 100);
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd),
			 "'%s' -e 'file-source --lines in ! exec -- bash -c "
			 "\"cat; sleep 1.4\" ! file-sink --lines -'%s\n",
			 bin, runs[i]);
		rp_cmd_spit("run.sh", cmd, strlen(cmd));
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && timeout 30 script -qfec 'sh run.sh' "
			 "/dev/null > tty.out 2>&1",
			 rp_cmd_dir());
		CU_ASSERT_FATAL(system(cmd) == 0);
		text = rp_cmd_slurp("tty.out", &n);
		CU_ASSERT((strstr(text, "\033[K[1s]") != NULL) == (i == 1));
		CU_ASSERT(strstr(text, "line 99") != NULL || i == 1);
		free(text);
	}
	text = rp_cmd_slurp("out.txt", &n);
	CU_ASSERT(strstr(text, "line 99\n") != NULL);
	free(text);
	rp_cmd_dir_remove();
}
/* `ringpipe stat NAME` as another uid (65534), its output in file out;
 * its exit code. */
static int stat_as_nobody(const char *name, const char *out)
{
	char bin[1024], path[256];
	pid_t pid;

	rp_cmd_bin(bin, sizeof(bin));
	rp_cmd_path(path, sizeof(path), out);
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ||
		    setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(99);
		execl(bin, "ringpipe", "stat", name, (char *)NULL);
		_exit(98);
	}
	return rp_test_exit_code(rp_test_wait(pid, 10));
}

/* Listen on `path` (abstract) as this process; answer one client with
 * what a hostile process might send, then end. */
struct squat {
	char name[48];
	char path[108];
	int fd;
};

static int squat_open(struct squat *q, int pid)
{
	struct sockaddr_un a;
	size_t n;

	snprintf(q->path, sizeof(q->path), "ringpipe/%u/%s/%d/text.0badf00d",
		 (unsigned)geteuid(), q->name, pid);
	n = strlen(q->path);
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path + 1, q->path, n);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0 ||
	    bind(q->fd, (struct sockaddr *)&a,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) <
		    0 ||
	    listen(q->fd, 4) < 0)
		return -1;
	return 0;
}

static int squat_answer(void *arg)
{
	struct squat *q = arg;
	static const char evil[] = "\x1b]0;owned\x07\x1b[2Jall fine\n";
	int c;

	/* Bound here, under this child's own pid (the name says it). */
	if (squat_open(q, (int)getpid()) != 0)
		return 1;
	c = accept(q->fd, NULL, NULL);
	if (c < 0 || write(c, evil, sizeof(evil) - 1) < 0)
		return 1;
	close(c);
	return 0;
}

/* Anyone may bind an abstract name: a socket claiming a pipeline's name
 * under another process's pid is ignored, and what a process answers
 * under its own cannot steer the terminal (escape bytes shown, not
 * sent). */
RP_TEST(test_stat_squatters, 30)
{
	struct squat q;
	char *text;
	char *args[] = {"stat", q.name, NULL};
	pid_t kid;

	rp_cmd_dir_make("cli");
	snprintf(q.name, sizeof(q.name), "squat-%d", (int)getpid());
	CU_ASSERT_FATAL(squat_open(&q, 1) == 0);
	CU_ASSERT_EQUAL(run(args, &text), 1);
	CU_ASSERT(strstr(text, "answered by another process") != NULL);
	CU_ASSERT(strstr(text, "no running pipeline ") != NULL);
	free(text);
	close(q.fd);

	kid = rp_test_fork(squat_answer, &q);
	/* Until it listens (5 s at most), then once. */
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen("/proc/net/unix", "re");
		char line[512];
		int up = 0;
		while (f && fgets(line, sizeof(line), f))
			up |= strstr(line, q.name) != NULL;
		if (f)
			fclose(f);
		if (up)
			break;
		usleep(10000);
	}
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "\\x1b]0;owned\\x07\\x1b[2Jall fine\n") !=
		  NULL);
	CU_ASSERT(strchr(text, '\x1b') == NULL);
	free(text);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(kid, 10)), 0);
	rp_cmd_dir_remove();
}

/* ringpipe stat's text for two copies of a stage: each copy's own read
 * count (they add up to the records read; each showed the group's),
 * the group's written count marked as such, and said below. */
RP_TEST(test_stat_text_of_replicas, 60)
{
	char in[256], name[64], yaml[1024], token[64], *text = NULL;
	char *args[] = {"run", "s.yaml", NULL};
	char *stat[] = {"stat", name, NULL};
	unsigned long r1 = 0, r2 = 0;
	int code = 1, found = 0;
	pid_t pid;

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(name, sizeof(name), "statr%d", (int)getpid());
	snprintf(token, sizeof(token), "6%d", (int)getpid() % 100000 + 100000);
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - {name: pick, input: read, run: grep, args: [line],\n"
		 "     replicas: 2}\n"
		 "  - {name: slow, input: pick, run: exec,\n"
		 "     args: [--, bash, -c, \"cat >/dev/null; exec sleep "
		 "%s\"]}\n",
		 name, in, token);
	write_file("s.yaml", yaml);
	pid = rp_cmd_start(args, -1);
	for (int i = 0; i < 50 && !found; i++) {
		const char *a, *b;
		usleep(100000);
		free(text);
		code = run(stat, &text);
		a = strstr(text, "  pick.1 ");
		b = strstr(text, "  pick.2 ");
		found = code == 0 && a && b &&
			sscanf(a, "  pick.1 %*s %lu", &r1) == 1 &&
			sscanf(b, "  pick.2 %*s %lu", &r2) == 1 &&
			r1 + r2 == 1000;
	}
	CU_ASSERT(found);
	CU_ASSERT(strstr(text, "       1000*") != NULL);
	CU_ASSERT(strstr(text, "(* written: by all the copies of the "
			       "stage)") != NULL);
	if (!found)
		fprintf(stderr, "%s\n", text);
	free(text);
	kill(pid, SIGINT);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 20)), 130);
	rp_cmd_dir_remove();
}

/* ringpipe stat, from another shell: a running pipeline's stages, as
 * text and as JSON; refused to another uid; and once the supervisor is
 * SIGKILLed, nothing is left to find (its sockets died with it), nor any
 * of its processes. */
RP_TEST(test_stat_observes_a_running_pipeline, 60)
{
	char in[256], name[64], yaml[1024], token[64], *text;
	char *args[] = {"run", "s.yaml", NULL};
	char *stat[] = {"stat", name, NULL};
	char *stat_json[] = {"stat", name, "--json", NULL};
	char *watch[] = {"stat", name, "--watch", NULL};
	int code = 1, st;
	pid_t pid, watcher;

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(name, sizeof(name), "stat%d", (int)getpid());
	snprintf(token, sizeof(token), "5%d", (int)getpid() % 100000 + 100000);
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - {name: slow, input: read, run: exec,\n"
		 "     args: [--, bash, -c, \"cat; exec sleep %s\"]}\n"
		 "  - {name: tally, input: slow, run: count}\n",
		 name, in, token);
	write_file("s.yaml", yaml);
	pid = rp_cmd_start(args, -1);
	/* Up, and its input read, within 5 s: stat shows it. */
	text = NULL;
	for (int i = 0; i < 50; i++) {
		usleep(100000);
		free(text);
		code = run(stat, &text);
		if (code == 0 && strstr(text, "running            1000 ") != NULL)
			break;
	}
	CU_ASSERT_EQUAL_FATAL(code, 0);
	CU_ASSERT(strstr(text, name) != NULL);
	CU_ASSERT(strstr(text, ", supervisor pid ") != NULL);
	CU_ASSERT(strstr(text, "  slow             running            1000 ") !=
		  NULL);
	CU_ASSERT(strstr(text, "  read             done ") != NULL);
	if (strstr(text, "  slow             running            1000 ") == NULL)
		fprintf(stderr, "%s\n", text);
	free(text);
	{
		/* Without a NAME: every pipeline there is, this one too. */
		char *all[] = {"stat", NULL}, want[96];
		snprintf(want, sizeof(want), "pipeline %s, supervisor pid %d,",
			 name, (int)pid);
		CU_ASSERT_EQUAL(run(all, &text), 0);
		CU_ASSERT(strstr(text, want) != NULL);
		free(text);
	}
	/* What a running stage has taken in so far, and how often it
	 * waited for input (count waited for its first records at least;
	 * each wait is counted once it ends, flushed at its release): the
	 * lines reach count some time after slow has read them, so the
	 * snapshot is taken again until they have (5 s at most). */
	text = NULL;
	for (int i = 0; i < 50; i++) {
		free(text);
		code = run(stat_json, &text);
		if (code == 0 && strstr(text, "{\"name\":\"tally\",\"state\":"
					      "\"running\",\"records_in\":1000,"))
			break;
		usleep(100000);
	}
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT(strstr(text, "\"exit_code\":null") != NULL);
	{
		char sp[48];
		snprintf(sp, sizeof(sp), "\"supervisor_pid\":%d,", (int)pid);
		CU_ASSERT(strstr(text, sp) != NULL);
	}
	CU_ASSERT(strstr(text, "{\"name\":\"slow\",\"state\":\"running\"") !=
		  NULL);
	{
		const char *t = strstr(text, "{\"name\":\"tally\",\"state\":"
					     "\"running\",\"records_in\":1000,");
		const char *w = t ? strstr(t, "\"waits_for_input\":") : NULL;
		CU_ASSERT(t != NULL);
		CU_ASSERT(w != NULL && strtoull(w + 18, NULL, 10) > 0);
		if (t == NULL || w == NULL || strtoull(w + 18, NULL, 10) == 0)
			fprintf(stderr, "%s\n", text);
	}
	/* A stage blocks none of the signals the supervisor reads through
	 * its signalfd: one sent to it acts. */
	{
		pid_t tally = rp_cmd_stat_pid(text, "tally");
		char path[64], status[4096], *at;
		ssize_t n;
		int fd;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)tally);
		fd = tally > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		n = fd >= 0 ? read(fd, status, sizeof(status) - 1) : -1;
		if (fd >= 0)
			close(fd);
		status[n > 0 ? n : 0] = '\0';
		at = strstr(status, "SigBlk:");
		CU_ASSERT(at != NULL &&
			  strtoull(at + 7, NULL, 16) == 0);
	}
	free(text);
	/* Another user may not look (root may, and is who runs this). */
	if (getuid() == 0) {
		size_t n;
		CU_ASSERT_EQUAL(stat_as_nobody(name, "nobody.txt"), 1);
		text = rp_cmd_slurp("nobody.txt", &n);
		CU_ASSERT(strstr(text, "no running pipeline ") != NULL &&
			  strstr(text, " that you may observe") != NULL);
		free(text);
	}
	/* --watch: a snapshot a second while it runs, and an end (exit 0)
	 * once the pipeline is gone. */
	watcher = rp_cmd_start(watch, -1);
	/* Two snapshots out (10 s at most). */
	for (int i = 0, snaps = 0; i < 200 && snaps < 2; i++) {
		size_t n;
		char *w, *at;
		usleep(50000);
		at = w = rp_cmd_slurp("REPORT", &n);
		for (snaps = 0; w != NULL && (at = strstr(at, "  slow  "));
		     at++)
			snaps++;
		free(w);
	}
	/* The supervisor killed: its stages follow, nothing is found. */
	kill(pid, SIGKILL);
	st = rp_test_wait(pid, 10);
	CU_ASSERT(WIFSIGNALED(st));
	st = rp_test_wait(watcher, 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	{
		size_t n;
		char *w = rp_cmd_slurp("REPORT", &n), *at = w;
		int snaps = 0;
		while ((at = strstr(at, "  slow             running ")) != NULL) {
			snaps++;
			at++;
		}
		if (snaps < 2)
			fprintf(stderr, "--watch printed:\n%s\n", w);
		CU_ASSERT(snaps >= 2);
		free(w);
	}
	CU_ASSERT_EQUAL(run(stat, &text), 1);
	CU_ASSERT(strstr(text, "no running pipeline") != NULL);
	free(text);
	for (int i = 0; i < 50 && rp_cmd_find_process(token, NULL); i++)
		usleep(100000);
	CU_ASSERT_EQUAL(rp_cmd_find_process(token, NULL), 0);
	/* What it left: its exec stage's temporary directory, held by no
	 * one now, which the next run's sweep removes. */
	{
		unsigned swept = 0;
		for (int i = 0; i < 50 && swept == 0; i++) {
			swept = rp_scratch_sweep();
			if (swept == 0)
				usleep(100000);
		}
		CU_ASSERT_EQUAL(swept, 1);
	}
	rp_cmd_dir_remove();
}
/* A drained run: started with args (-e LINE ...), reading a slow pipe,
 * sent sig after 0.7 s; its exit code, with *report what it printed
 * and *lines the lines in OUT, which must be "line 0", "line 1", ...
 * with none missing (-1 if not). */
static int drained_run(char *const args[], int sig, char **report, int *lines)
{
	size_t n;
	int code = rp_cmd_signal_slow(args, sig);
	char *out, *at;

	*report = rp_cmd_slurp("REPORT", &n);
	out = rp_cmd_slurp("OUT", &n);
	*lines = 0;
	for (at = out; *at; (*lines)++) {
		char want[32];
		int w = snprintf(want, sizeof(want), "line %d\n", *lines);
		if (strncmp(at, want, (size_t)w) != 0) {
			*lines = -1;
			break;
		}
		at += w;
	}
	free(out);
	return code;
}

/* --drain: the first Ctrl-C stops the source, and every line it had read
 * still reaches the sink, whole and in order; every stage ends "done",
 * none cancelled, and the shell still sees 130.  SIGUSR1 drains without
 * the option, and the run then exits 0; an exec source drains too. */
RP_TEST(test_drain_delivers_what_was_read, 60)
{
	char line[256], *rep, want[64];
	char *with_drain[] = {"-e", line, "--drain", NULL};
	char *plain[] = {"-e", line, NULL};
	unsigned long long in = 0;
	const char *p;
	int lines;

	rp_cmd_dir_make("cli");
	snprintf(line, sizeof(line), "file-source --lines - ! grep line ! "
				     "file-sink --lines OUT");
	CU_ASSERT_EQUAL(drained_run(with_drain, SIGINT, &rep, &lines), 130);
	CU_ASSERT(strstr(rep, "draining: the source stops") != NULL);
	CU_ASSERT(strstr(rep, "cancelled") == NULL);
	CU_ASSERT(strstr(rep, "  3-file-sink      done") != NULL);
	/* Everything the source read is in OUT: nothing lost in between. */
	p = strstr(rep, "  1-file-source    done      in ");
	CU_ASSERT(p != NULL && sscanf(p + 32, "%llu", &in) == 1);
	CU_ASSERT(lines > 10);
	CU_ASSERT_EQUAL((unsigned long long)lines, in);
	if (lines <= 10 || (unsigned long long)lines != in)
		fprintf(stderr, "%d lines in OUT, source read %llu:\n%s\n",
			lines, in, rep);
	free(rep);
	CU_ASSERT_EQUAL(drained_run(plain, SIGUSR1, &rep, &lines), 0);
	snprintf(want, sizeof(want), "User defined signal 1: draining");
	CU_ASSERT(strstr(rep, want) != NULL);
	CU_ASSERT(strstr(rep, "cancelled") == NULL);
	CU_ASSERT(lines > 10);
	free(rep);
	/* An exec source: its program (cat, reading the slow pipe) is
	 * stopped, and what it wrote goes on, in order. */
	snprintf(line, sizeof(line), "exec -- cat ! grep line ! "
				     "file-sink --lines OUT");
	CU_ASSERT_EQUAL(drained_run(plain, SIGUSR1, &rep, &lines), 0);
	CU_ASSERT(strstr(rep, "  1-exec           done") != NULL);
	CU_ASSERT(strstr(rep, "cancelled") == NULL);
	CU_ASSERT(lines > 10);
	if (lines <= 10 || strstr(rep, "cancelled") != NULL)
		fprintf(stderr, "%d lines:\n%s\n", lines, rep);
	free(rep);
	/* A poison record met while draining is quarantined and the stage
	 * restarted past it, as at any other time: everything else queued
	 * is delivered and the run exits 0 (it used to fail, the stages
	 * after it cancelled and what was queued lost). */
	{
		char *args[] = {"-e", line, NULL};
		size_t n;
		pid_t pid;
		FILE *f;
		rp_cmd_path(want, sizeof(want), "IN");
		f = fopen(want, "w");
		CU_ASSERT_FATAL(f != NULL);
		for (int i = 0; i < 1000; i++)
			fprintf(f, "line %d\n", i);
		fclose(f);
		snprintf(line, sizeof(line),
			 "file-source --lines IN ! fault @ring=64K "
			 "@quarantine_after=1 --at 600 --do crash ! exec "
			 "@ring=4K -- sh -c 'while read l; do echo $l; sleep "
			 "0.001; done' ! file-sink --lines OUT");
		pid = rp_cmd_start(args, -1);
		usleep(300000);
		kill(pid, SIGUSR1);
		CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 30)), 0);
		rep = rp_cmd_slurp("REPORT", &n);
		/* (The drain first: the poison record is met in it, the
		 * exec stage taking a line each millisecond.) */
		CU_ASSERT(strstr(rep, "User defined signal 1: draining") !=
			  NULL);
		CU_ASSERT(strstr(rep, "record 600 quarantined") != NULL);
		CU_ASSERT(strstr(rep, "User defined signal 1: draining") <
			  strstr(rep, "record 600 quarantined"));
		CU_ASSERT(strstr(rep, "cancelled") == NULL);
		CU_ASSERT_EQUAL(rp_cmd_lines("OUT"), 999);
		if (rp_cmd_lines("OUT") != 999)
			fprintf(stderr, "%s\n", rep);
		free(rep);
	}
	rp_cmd_dir_remove();
}

/* A stage killed from outside is restarted on the same rings and the run
 * completes: what it had read but not released is delivered to it again
 * (at least once), nothing is lost. */
RP_TEST(test_restart_after_kill_completes, 60)
{
	char p[256], yaml[1024], token[64], out[256], *text, *got;
	char *args[] = {"run", p, NULL};
	pid_t ringpipe, victim = 0;
	size_t n;
	int st, lines = 0;

	rp_cmd_dir_make("cli");
	snprintf(token, sizeof(token), "NEVER%d", (int)getpid());
	rp_cmd_path(out, sizeof(out), "out");
	snprintf(yaml, sizeof(yaml),
		 "name: heal\nstages:\n"
		 "  - name: slow\n    run: exec\n"
		 "    args: [--, sh, -c, \"i=0; while [ $i -lt 300 ]; do "
		 "echo line $i; i=$((i+1)); sleep 0.01; done\"]\n"
		 "  - name: pick\n    input: slow\n    run: grep\n"
		 "    args: [-v, %s]\n    restart: on-failure\n"
		 "    restart_backoff_ms: 10\n"
		 "  - {name: write, input: pick, run: file-sink, "
		 "args: [--lines, %s]}\n", token, out);
	write_file("h.yaml", yaml);
	rp_cmd_path(p, sizeof(p), "h.yaml");
	ringpipe = rp_cmd_start(args, -1);
	for (int i = 0; i < 200 && victim == 0; i++) {
		usleep(10000);
		victim = rp_cmd_find_process(token, "ringpipe-stage");
	}
	CU_ASSERT_FATAL(victim > 0);
	usleep(500000);
	kill(victim, SIGKILL);
	st = rp_test_wait(ringpipe, 30);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT(strstr(text, "pick: killed by signal 9") != NULL);
	CU_ASSERT(strstr(text, "restarted 1 time") != NULL);
	got = rp_cmd_slurp("out", &n);
	/* Every line, in order, some perhaps twice: at least once. */
	for (char *q = got; (q = strstr(q, "line ")) != NULL; q++)
		lines++;
	CU_ASSERT(lines >= 300);
	CU_ASSERT(strstr(got, "line 0\n") == got);
	CU_ASSERT(strstr(got, "line 299\n") != NULL);
	free(got);
	free(text);
	rp_cmd_dir_remove();
}

/* A source program of one's own that saves where it is (every 5000
 * records) and goes back there says so (replays: true): SIGKILLed again
 * and again, the first time as it appears, it repeats what it had
 * published past its last saved point, and its consumer drops those
 * repeats: every record once, in order, and the report says
 * exactly-once (without the key, such repeats went through; with a
 * restart numbered from what the source had made, not from its saved
 * point, they did too). */
static void source_replays(const char *prog, const char *how)
{
	char line[512], *text, *got;
	char *args[] = {"--fast-restart", "-e", line, NULL};
	pid_t pid;
	size_t n;
	int kills = 0;

	snprintf(line, sizeof(line),
		 "%s @replays=true %s2000000 ! file-sink @ring=64K --lines out",
		 prog, how);
	pid = rp_cmd_start(args, -1);
	/* At once as it appears (before its first save), then every
	 * 15 ms while it runs, 30 times at most. */
	for (int i = 0; i < 2000 && kills < 30 &&
			strchr("Z?", rp_cmd_proc_state(pid, NULL)) == NULL;
	     i++) {
		/* (The stage alone: its command line is these two words.) */
		char word[32];
		pid_t victim;
		snprintf(word, sizeof(word), "%s2000000", how);
		victim = rp_cmd_find_argv(prog, word);
		usleep(kills == 0 ? 1000 : 15000);
		if (victim > 0 && kill(victim, SIGKILL) == 0)
			kills++;
	}
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 30)), 0);
	CU_ASSERT(kills >= 5);
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT(strstr(text, "delivery exactly-once") != NULL);
	free(text);
	got = rp_cmd_slurp("out", &n);
	{
		/* "gen 0\n" ... "gen 999999\n", each once, in order. */
		char want[32];
		size_t at = 0;
		int ok = 1;
		for (int i = 0; i < 2000000 && ok; i++) {
			int w = snprintf(want, sizeof(want), "gen %d\n", i);
			ok = at + (size_t)w <= n &&
			     memcmp(got + at, want, (size_t)w) == 0;
			if (!ok)
				fprintf(stderr, "%s: at gen %d (%d kills)\n",
					how, i, kills);
			at += (size_t)w;
		}
		CU_ASSERT(ok && at == n);
	}
	free(got);
}

/* The same for one making its records in a loop of its own, rp_emit
 * after rp_emit (each a new origin, as under rp_stage_run_source:
 * they were all one origin, and a restart's records were dropped as
 * repeats of it).  Only a source program of one's own may say so. */
RP_TEST(test_program_source_replays, 90)
{
	char prog[128], line[512], *text;
	char *args[] = {"-e", line, NULL};

	rp_cmd_dir_make("cli");
	stage_prog_copy("counter", "counter", prog, sizeof(prog));
	source_replays(prog, "");
	source_replays(prog, "loop");
	/* Only a source program of one's own may say so. */
	snprintf(line, sizeof(line), "file-source --lines out ! %s "
		 "@replays=true 5 ! count", prog);
	CU_ASSERT_EQUAL(run(args, &text), 2);
	CU_ASSERT(strstr(text, "replays: only a source program of one's own") !=
		  NULL);
	free(text);
	unlink(prog);
	rp_cmd_dir_remove();
}

/* A stage that works on one record past its per-record timeout is killed
 * and reported; time spent blocked on a full output ring does not count. */
RP_TEST(test_record_timeout, 60)
{
	char p[256], in[256], yaml[1200], *text;
	char *args[] = {"run", p, NULL};

	rp_cmd_dir_make("cli");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 5000);
	rp_cmd_path(p, sizeof(p), "t.yaml");
	snprintf(yaml, sizeof(yaml),
		 "name: hang\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - name: stuck\n    input: read\n    run: fault\n"
		 "    args: [--at, \"3\", --do, hang]\n"
		 "    record_timeout_ms: 300\n"
		 "  - {name: tally, input: stuck, run: count}\n", in);
	write_file("t.yaml", yaml);
	/* Twice on the same record: that record is quarantined, the rest
	 * goes through. */
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "stage stuck: exceeded its per-record timeout "
			       "of 300 ms on record 3") != NULL);
	CU_ASSERT(strstr(text, "stage stuck: record 3 quarantined to "
			       "hang.dead.rec after 2 deaths") != NULL);
	CU_ASSERT(strstr(text, "tally: count: records=4999 ") != NULL);
	free(text);

	/* Blocked for a second by a consumer that does not read yet (more
	 * than its pipe and its ring hold): not working, so not timed
	 * out. */
	rp_cmd_write_lines(in, 100000);
	snprintf(yaml, sizeof(yaml),
		 "name: blocked\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, %s]}\n"
		 "  - name: pass\n    input: read\n    run: fault\n"
		 "    args: [--match, NEVER-MATCHES, --do, \"exit:3\"]\n"
		 "    record_timeout_ms: 500\n"
		 "  - name: late\n    input: pass\n    run: exec\n"
		 "    ring: 4K\n"
		 "    args: [--, sh, -c, \"sleep 1; cat\"]\n"
		 "  - {name: tally, input: late, run: count}\n", in);
	write_file("t.yaml", yaml);
	CU_ASSERT_EQUAL(run(args, &text), 0);
	CU_ASSERT(strstr(text, "tally: count: records=100000 ") != NULL);
	CU_ASSERT(strstr(text, "timeout") == NULL);
	free(text);
	rp_cmd_dir_remove();
}

void rp_suite_cli(void)
{
	RP_SUITE("cli",
		 {"check names file, line and column",
		  test_check_names_line_and_column},
		 {"a one-liner gives the shell pipeline's bytes",
		  test_one_liner_matches_shell},
		 {"a one-liner's @settings", test_one_liner_settings},
		 {"a one-liner's mistakes at their column",
		  test_one_liner_places},
		 {"a denied syscall is reported by name",
		  test_violation_reported_by_name},
		 {"a failing stage cancels its siblings",
		  test_failing_stage_cancels_siblings},
		 {"Ctrl-C, SIGTERM and SIGHUP cancel cleanly",
		  test_ctrl_c_cancels_cleanly},
		 {"a SIGTERM to every process at once cancels cleanly, or "
		  "drains",
		  test_sigterm_to_every_process},
		 {"Ctrl-C while a stage starts: exit 130 at once",
		  test_ctrl_c_during_a_start},
		 {"a restart slow to start holds up nothing else",
		  test_slow_restart_holds_nothing},
		 {"dead before its hand-shake, its socket held: seen at once",
		  test_died_before_hand_shake},
		 {"a drain while the first starts are under way",
		  test_drain_during_first_starts},
		 {"Ctrl-C: a stage that ignores it is killed after 5 s",
		  test_ctrl_c_kills_a_stage_that_ignores_it},
		 {"a signal repeated at once is one; a hang-up never kills",
		  test_repeated_signal_is_one},
		 {"Ctrl-Z stops every stage, fg resumes them",
		  test_ctrl_z_stops_every_stage},
		 {"the fault stage, reported with its record",
		  test_fault_stage_reported},
		 {"a record said refused again after its quarantine: a lie",
		  test_false_refusal_caught},
		 {"a key pushed far ahead is blamed on its writer",
		  test_key_ahead_blamed},
		 {"what one side's page shows: pinned on that side",
		  test_side_pinned},
		 {"a ring broken before a producer's first attach: its "
		  "consumer blamed",
		  test_first_start_blames_peer},
		 {"a broken ring said, then exit 0: judged",
		  test_claim_then_exit_zero_judged},
		 {"a broken control ring, a plain command as a program, a "
		  "built-in's bad arguments: each said",
		  test_start_and_control_failures_said},
		 {"done without ending its output does not hang",
		  test_done_without_end_does_not_hang},
		 {"a program that prints and runs a thread: nothing denied",
		  test_program_prints_and_threads},
		 {"a program that refuses records: each quarantined at once",
		  test_program_refuses_records},
		 {"a program that fails on records: each quarantined twice over",
		  test_program_fails_on_records},
		 {"a parser's signals to itself that pass for a kill: denied",
		  test_program_self_signals_quarantined},
		 {"a hostile program cannot signal or limit other stages",
		  test_program_cannot_reach_other_stages},
		 {"an fd left open by the caller reaches no program",
		  test_program_inherits_no_fds},
		 {"under nohup a hang-up does not end the run",
		  test_nohup_keeps_running},
		 {"stdin closed: read as empty", test_closed_stdin},
		 {"a source program that replays: exactly-once through kills",
		  test_program_source_replays},
		 {"grep killed amid lines longer than half its ring: no rests",
		  test_grep_killed_amid_long_lines},
		 {"a program that waits for room before each emit",
		  test_program_waits_for_room},
		 {"a header before the first record, one copy or two",
		  test_program_header_first},
		 {"--fast-restart gives up on a stage failing at every start",
		  test_fast_restart_gives_up_when_stuck},
		 {"a source head stops early counts all it sent",
		  test_source_stopped_early_counts},
		 {"a stage ending before its input did is said",
		  test_ended_early_said},
		 {"a program asleep between records, all released: not timed",
		  test_program_idle_not_timed},
		 {"a program's total at its end, as one copy and as replicas",
		  test_program_total_at_end},
		 {"a deny rule with an errno: reported, not fatal",
		  test_soft_deny_reported},
		 {"poison records far apart: each quarantined, the run goes on",
		  test_sparse_poison_goes_on},
		 {"restarts give up on a poison record",
		  test_restart_gives_up_on_poison},
		 {"a restarted stage keeps its record numbers",
		  test_restart_keeps_record_numbers},
		 {"a crash on every 1000th record: all delivered",
		  test_crash_every_1000th_record},
		 {"a stage killed from outside is restarted",
		  test_restart_after_kill_completes},
		 {"per-record timeout: working time only", test_record_timeout},
		 {"--report-json: the report for scripts", test_report_json},
		 {"--help after a command; options before the command, before or after FILE",
		  test_help_and_option_order},
		 {"time blocked on input and on output",
		  test_report_blocked_time},
		 {"a progress line on a terminal only",
		  test_progress_line_on_a_terminal},
		 {"no progress line when stdout is that terminal",
		  test_no_progress_line_over_stdout},
		 {"ringpipe stat's text: copies' own counts, the group's marked",
		  test_stat_text_of_replicas},
		 {"ringpipe stat: a running pipeline from another shell",
		  test_stat_observes_a_running_pipeline},
		 {"ringpipe stat: squatted names ignored, escapes shown",
		  test_stat_squatters},
		 {"--drain and SIGUSR1: what was read is delivered",
		  test_drain_delivers_what_was_read});
}
