/*
 * test_replay.c - ringpipe replay as a user relies on it: a record
 * quarantined by a broken stage goes through once the stage is fixed, and
 * exactly its bytes come out; through the still-broken stage it is
 * quarantined again, into PREFIX.replay.*, with the original dead-letter
 * files and the pipeline's real output left alone; a dead-letter output
 * that is cut short or lies is refused, naming the file and line, before
 * anything runs or any temporary file is made.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../supervisor/replay_index.h"
#include "cmd.h"
#include "harness.h"

void rp_suite_replay(void);

/* The poison record: line 700 of "in". */
#define POISON		 "line 700"
#define POISON_FRAME	 "\x08\0\0\0" POISON
#define POISON_FRAME_LEN 12

static const char broken_yaml[] =
    "name: rp\nstages:\n"
    "  - {name: read, run: file-source, args: [--lines, in]}\n"
    "  - name: parse\n    input: read\n    run: fault\n"
    "    args: [--match, \"^line 700$\", --do, crash]\n"
    "    restart_backoff_ms: 0\n"
    "  - {name: write, input: parse, run: file-sink, "
    "args: [--lines, out]}\n";

/* The same pipeline with its parser fixed: everything passes. */
static const char fixed_yaml[] =
    "name: rp\nstages:\n"
    "  - {name: read, run: file-source, args: [--lines, in]}\n"
    "  - name: parse\n    input: read\n    run: grep\n"
    "    args: [\"^line \"]\n"
    "  - {name: write, input: parse, run: file-sink, "
    "args: [--lines, out]}\n";

/* ------------------------------------------------------------ helpers */

static void spit_text(const char *name, const char *text)
{
	rp_cmd_spit(name, text, strlen(text));
}

/* Is the directory's file name exactly these bytes? */
static int has_bytes(const char *name, const void *want, size_t len)
{
	size_t n;
	char *got = rp_cmd_slurp(name, &n);
	int same = n == len && memcmp(got, want, len) == 0;

	if (!same)
		fprintf(stderr, "%s: %zu bytes, not the %zu expected\n", name,
			n, len);
	free(got);
	return same;
}

static int exists(const char *name)
{
	char p[256];

	rp_cmd_path(p, sizeof(p), name);
	return access(p, F_OK) == 0;
}

static void stat_in_dir(const char *name, struct stat *st)
{
	char p[256];

	rp_cmd_path(p, sizeof(p), name);
	CU_ASSERT_FATAL(stat(p, st) == 0);
}

/* Temporary files go to dir/tmp, so that leftovers can be counted. */
static void private_tmpdir(void)
{
	char p[256];

	rp_cmd_path(p, sizeof(p), "tmp");
	CU_ASSERT_FATAL(mkdir(p, 0700) == 0);
	setenv("TMPDIR", p, 1);
}

/* What is in it; but for the exec stages' own temporary directories
 * (ringpipe-scratch-UID/), there while their stages run, with
 * mine_only. */
static int entries_in_tmpdir(int mine_only)
{
	char p[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	rp_cmd_path(p, sizeof(p), "tmp");
	d = opendir(p);
	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    !(mine_only && !strncmp(e->d_name, "ringpipe-scratch-", 17)))
			n++;
	closedir(d);
	return n;
}

/* Everything: after a run, nothing may be left. */
static int files_in_tmpdir(void)
{
	return entries_in_tmpdir(0);
}

/* ringpipe replay FILE ARGS...; its exit code, stdout (to free) and
 * stderr (to free) apart. */
static int replay(const char *yaml, char *const more[], char **out, char **err)
{
	char p[256], e[256], *args[12] = {"replay", p};
	int n = 2, fd, code;
	size_t len;

	rp_cmd_path(p, sizeof(p), yaml);
	while (more && *more && n < 11)
		args[n++] = *more++;
	args[n] = NULL;
	rp_cmd_path(e, sizeof(e), "ERR");
	fd = open(e, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	code =
	    rp_test_exit_code(rp_test_wait(rp_cmd_start_err(args, -1, fd), 60));
	close(fd);
	*out = rp_cmd_slurp("REPORT", &len);
	*err = rp_cmd_slurp("ERR", &len);
	if (strstr(*err, "is not a transition") != NULL)
		CU_FAIL("a stage changed state outside the table");
	return code;
}

/* The broken pipeline's run: the other 999 lines in "out", line 700 in
 * the dead-letter output rp.dead.*. */
static void quarantine_poison(void)
{
	char in[256], *text;
	size_t n;

	rp_cmd_dir_make("replay");
	private_tmpdir();
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	spit_text("fixed.yaml", fixed_yaml);
	CU_ASSERT_EQUAL_FATAL(rp_cmd_yaml("run", broken_yaml, &text), 0);
	if (strstr(text, "record 700 quarantined to rp.dead.rec") == NULL)
		fprintf(stderr, "%s\n", text);
	CU_ASSERT(strstr(text, "record 700 quarantined to rp.dead.rec") !=
		  NULL);
	free(text);
	CU_ASSERT_FATAL(
	    has_bytes("rp.dead.rec", POISON_FRAME, POISON_FRAME_LEN));
	text = rp_cmd_slurp("out", &n);
	CU_ASSERT(n == 8890 - 9 && strstr(text, POISON "\n") == NULL);
	free(text);
}

/* ----------------------------------------------------------- through */

/* Through the fixed stage the record passes: its bytes, and only them,
 * reach --to; the summary says so; no new dead letters, no temporary
 * file left. */
RP_TEST(test_fixed_stage_passes_the_record, 90)
{
	char *more[] = {"--to", "replayed", "--quiet", NULL};
	char *out, *err;

	quarantine_poison();
	CU_ASSERT_EQUAL(replay("fixed.yaml", more, &out, &err), 0);
	if (strstr(err, "replay: 1 record from rp.dead.rec through parse: "
			"1 passed, 0 quarantined again "
			"(rp.dead.replay.rec)\n") == NULL) {
		fprintf(stderr, "%s\n", err);
		CU_FAIL("no summary, or the wrong one");
	}
	/* The sink is a file-sink --lines: its options stay. */
	CU_ASSERT(has_bytes("replayed", POISON "\n", 9));
	CU_ASSERT_STRING_EQUAL(out, "");
	CU_ASSERT(!exists("rp.dead.replay.rec"));
	CU_ASSERT(!exists("rp.dead.replay.jsonl"));
	CU_ASSERT(has_bytes("rp.dead.rec", POISON_FRAME, POISON_FRAME_LEN));
	CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
	free(out);
	free(err);
	rp_cmd_dir_remove();
}

/* A last stage that is not a file-sink gives way to `file-sink --lines
 * --to` in a line pipeline: the record as the line it was, nothing run
 * together with the next.  A --to naming one of the dead-letter files
 * the replay reads or appends to is refused, the file left as it was. */
RP_TEST(test_other_sink_replaced_by_file_sink, 90)
{
	static const char counted[] =
	    "name: rp\nstages:\n"
	    "  - {name: read, run: file-source, args: [--lines, in]}\n"
	    "  - {name: parse, input: read, run: grep, args: [line]}\n"
	    "  - {name: tally, input: parse, run: count}\n";
	char *more[] = {"--to", "raw", NULL};
	char *ours[] = {"--to", "rp.dead.rec", NULL};
	char *out, *err;

	quarantine_poison();
	spit_text("counted.yaml", counted);
	CU_ASSERT_EQUAL(replay("counted.yaml", more, &out, &err), 0);
	CU_ASSERT(has_bytes("raw", POISON "\n", 9));
	/* count never ran: file-sink took its place. */
	CU_ASSERT(strstr(err, "count: records=") == NULL);
	CU_ASSERT(strstr(err, "1 passed, 0 quarantined again") != NULL);
	free(out);
	free(err);
	CU_ASSERT_EQUAL(replay("counted.yaml", ours, &out, &err), 2);
	CU_ASSERT(strstr(err, "--to rp.dead.rec is ") != NULL);
	CU_ASSERT(has_bytes("rp.dead.rec", POISON_FRAME, POISON_FRAME_LEN));
	free(out);
	free(err);
	rp_cmd_dir_remove();
}

/* What a record was goes with it: a block of lines (file-source
 * --blocks), quarantined, is replayed through the fixed stage as it was
 * read, the index saying its type: no newline added after its lines.  A
 * piece of a long line comes out as a line of its own, not run together
 * with the next record replayed. */
RP_TEST(test_types_kept_through_replay, 90)
{
	static const char blocks[] =
	    "name: rp\nstages:\n"
	    "  - {name: read, run: file-source, args: [--blocks, 100, in]}\n"
	    "  - name: parse\n    input: read\n    run: fault\n"
	    "    args: [--match, \"line 700\", --do, crash]\n"
	    "    restart_backoff_ms: 0\n"
	    "  - {name: write, input: parse, run: file-sink, "
	    "args: [--lines, out]}\n";
	static const char lines[] =
	    "name: rp\nstages:\n"
	    "  - {name: read, run: file-source, args: [--lines, in]}\n"
	    "  - name: parse\n    input: read\n    run: fault\n"
	    "    args: [--match, \"^POISON\", --do, crash]\n"
	    "    restart_backoff_ms: 0\n    ring: 4K\n"
	    "  - {name: write, input: parse, run: file-sink, "
	    "args: [--lines, out]}\n";
	/* Fixed: the parser passes everything on as it came. */
	static const char fixed[] =
	    "name: rp\nstages:\n"
	    "  - {name: read, run: file-source, args: [--lines, in]}\n"
	    "  - name: parse\n    input: read\n    run: fault\n"
	    "    args: [--match, \"^never$\", --do, crash]\n"
	    "  - {name: write, input: parse, run: file-sink, "
	    "args: [--lines, out]}\n";
	char in[256], *more[] = {"--to", "replayed", "--quiet", NULL};
	char *out, *err, *text, *orig, *got, *at;
	size_t n, inlen, outlen, glen;

	rp_cmd_dir_make("replay");
	private_tmpdir();
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	spit_text("fixed.yaml", fixed);
	CU_ASSERT_EQUAL_FATAL(rp_cmd_yaml("run", blocks, &text), 0);
	free(text);
	text = rp_cmd_slurp("rp.dead.jsonl", &n);
	CU_ASSERT(strstr(text, "\"type\":18,") != NULL);
	free(text);
	CU_ASSERT_EQUAL(replay("fixed.yaml", more, &out, &err), 0);
	free(out);
	free(err);
	/* The block replayed is the bytes the run left out, exactly. */
	orig = rp_cmd_slurp("in", &inlen);
	text = rp_cmd_slurp("out", &outlen);
	got = rp_cmd_slurp("replayed", &glen);
	at = glen ? memmem(orig, inlen, got, glen) : NULL;
	CU_ASSERT(glen > 9 && memmem(got, glen, "\nline 700\n", 10) != NULL);
	CU_ASSERT_FATAL(at != NULL && outlen + glen == inlen);
	CU_ASSERT(memcmp(text, orig, (size_t)(at - orig)) == 0 &&
		  memcmp(text + (at - orig), at + glen,
			 inlen - (size_t)(at - orig) - glen) == 0);
	free(orig);
	free(text);
	free(got);
	rp_cmd_dir_remove();

	/* The first piece of a line longer than a 4K ring's record, and a
	 * line after it: the piece's bytes as a line of their own (its rest
	 * is not replayed: the next record is another), not run together
	 * with the next one. */
	rp_cmd_dir_make("replay");
	private_tmpdir();
	orig = malloc(9000);
	CU_ASSERT_FATAL(orig != NULL);
	memcpy(orig, "first\nPOISON", 13);
	memset(orig + 13, 'x', 9000 - 13 - 18);
	memcpy(orig + 9000 - 18, "\nmid\nPOISON2\nlast\n", 18);
	rp_cmd_spit("in", orig, 9000);
	spit_text("fixed.yaml", fixed);
	CU_ASSERT_EQUAL_FATAL(rp_cmd_yaml("run", lines, &text), 0);
	free(text);
	text = rp_cmd_slurp("rp.dead.jsonl", &n);
	CU_ASSERT(strstr(text, "\"type\":19,") != NULL);
	free(text);
	CU_ASSERT_EQUAL(replay("fixed.yaml", more, &out, &err), 0);
	got = rp_cmd_slurp("replayed", &glen);
	CU_ASSERT(glen > 1000 && glen < 4096 &&
		  memcmp(got, orig + 6, glen - 9) == 0 &&
		  memcmp(got + glen - 9, "\nPOISON2\n", 9) == 0);
	free(got);
	free(orig);
	free(out);
	free(err);
	rp_cmd_dir_remove();
}

/* Through the still-broken stage the record dies again: quarantined into
 * rp.dead.replay.*, naming its number in the run that quarantined it
 * (also when that output is replayed in turn), exit 1, the original
 * dead-letter files unchanged. */
RP_TEST(test_broken_stage_quarantines_again, 90)
{
	char *more[] = {"--to", "replayed", NULL};
	char *out, *err, *idx;
	size_t idxlen, n;

	quarantine_poison();
	spit_text("broken.yaml", broken_yaml);
	idx = rp_cmd_slurp("rp.dead.jsonl", &idxlen);
	CU_ASSERT_EQUAL(replay("broken.yaml", more, &out, &err), 1);
	if (strstr(err, "replay: 1 record from rp.dead.rec through parse: "
			"0 passed, 1 quarantined again "
			"(rp.dead.replay.rec)\n") == NULL) {
		fprintf(stderr, "%s\n", err);
		CU_FAIL("no summary, or the wrong one");
	}
	CU_ASSERT(strstr(err, "record 0 quarantined to rp.dead.replay.rec") !=
		  NULL);
	CU_ASSERT(
	    has_bytes("rp.dead.replay.rec", POISON_FRAME, POISON_FRAME_LEN));
	free(out);
	out = rp_cmd_slurp("rp.dead.replay.jsonl", &n);
	CU_ASSERT(strstr(out, "\"stage\":\"parse\",\"seq\":0,") != NULL);
	CU_ASSERT(strstr(out, "\"offset\":0,\"length\":8}\n") != NULL);
	/* Its number in the run that quarantined it, kept through a
	 * replay of the replay's own output. */
	CU_ASSERT(strstr(out, "(first quarantined: seq 700, origin 700)\","
			      "\"first_seq\":700,\"first_origin\":700,") !=
		  NULL);
	free(out);
	free(err);
	{
		char *again[] = {"--to", "replayed", "--dead", "rp.dead.replay",
				 NULL};
		CU_ASSERT_EQUAL(replay("broken.yaml", again, &out, &err), 1);
		free(out);
		out = rp_cmd_slurp("rp.dead.replay.replay.jsonl", &n);
		CU_ASSERT(strstr(out, "\"first_seq\":700,\"first_origin\":"
				      "700,") != NULL);
	}
	/* The original output: only read. */
	CU_ASSERT(has_bytes("rp.dead.rec", POISON_FRAME, POISON_FRAME_LEN));
	CU_ASSERT(has_bytes("rp.dead.jsonl", idx, idxlen));
	CU_ASSERT(has_bytes("replayed", "", 0));
	CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
	free(idx);
	free(out);
	free(err);
	rp_cmd_dir_remove();
}

/* Twenty neighbouring poison records (more than the 16 quarantined ones
 * a stage may have ahead of its commit point), quarantined by a run with
 * room for that many restarts, replayed through the still-broken stage
 * under its default restart limits (which a run of neighbouring poison
 * records would use up after five) and a quarantine_max of 4: every one
 * of them quarantined again, none left untried, none passed. */
RP_TEST(test_broken_stage_every_record_again, 90)
{
	static const char roomy[] =
	    "name: rp\nstages:\n"
	    "  - {name: read, run: file-source, args: [--lines, in]}\n"
	    "  - name: parse\n    input: read\n    run: fault\n"
	    "    args: [--match, \"^line 7[01][0-9]$\", --do, crash]\n"
	    "    restart_backoff_ms: 0\n    restart_max: 100\n"
	    "  - {name: write, input: parse, run: file-sink, "
	    "args: [--lines, out]}\n";
	static const char plain[] =
	    "name: rp\nquarantine_max: 4\nstages:\n"
	    "  - {name: read, run: file-source, args: [--lines, in]}\n"
	    "  - name: parse\n    input: read\n    run: fault\n"
	    "    args: [--match, \"^line 7[01][0-9]$\", --do, crash]\n"
	    "  - {name: write, input: parse, run: file-sink, "
	    "args: [--lines, out]}\n";
	char in[256], *more[] = {"--to", "replayed", NULL};
	char *out, *err, *text;
	size_t n;

	rp_cmd_dir_make("replay");
	private_tmpdir();
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	CU_ASSERT_EQUAL_FATAL(rp_cmd_yaml("run", roomy, &text), 0);
	free(text);
	/* The run quarantined all twenty. */
	text = rp_cmd_slurp("rp.dead.jsonl", &n);
	{
		size_t lines = 0;
		for (size_t i = 0; i < n; i++)
			lines += text[i] == '\n';
		CU_ASSERT_EQUAL_FATAL(lines, 20);
	}
	free(text);
	spit_text("plain.yaml", plain);
	CU_ASSERT_EQUAL(replay("plain.yaml", more, &out, &err), 1);
	if (strstr(err, "replay: 20 records from rp.dead.rec through parse: "
			"0 passed, 20 quarantined again "
			"(rp.dead.replay.rec)\n") == NULL) {
		fprintf(stderr, "%s\n", err);
		CU_FAIL("not every record was quarantined again");
	}
	CU_ASSERT(strstr(err, "giving up") == NULL);
	CU_ASSERT(has_bytes("replayed", "", 0));
	CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
	free(out);
	free(err);
	rp_cmd_dir_remove();
}

/* With the default --to (stdout), the pipeline's own output file is
 * neither rewritten nor even opened for writing: same bytes, same inode,
 * same modification time; the record is on stdout.  With --to it and
 * --append, the record is added after what it held. */
RP_TEST(test_real_output_untouched, 90)
{
	struct stat before, after;
	char *out, *err, *text;
	size_t n;

	quarantine_poison();
	text = rp_cmd_slurp("out", &n);
	stat_in_dir("out", &before);
	/* A rewrite would show in the modification time. */
	usleep(20000);
	CU_ASSERT_EQUAL(replay("fixed.yaml", NULL, &out, &err), 0);
	CU_ASSERT_STRING_EQUAL(out, POISON "\n");
	CU_ASSERT(strstr(err, "1 passed, 0 quarantined again") != NULL);
	stat_in_dir("out", &after);
	CU_ASSERT(has_bytes("out", text, n));
	CU_ASSERT_EQUAL(before.st_ino, after.st_ino);
	CU_ASSERT(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
		  before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
	free(out);
	free(err);
	/* --to the real output with --append: the record after what it
	 * held, nothing of it lost; --append without --to refused. */
	{
		char *more[] = {"--to", "out", "--append", NULL};
		char *bare[] = {"--append", NULL};
		char *now;
		size_t m;
		CU_ASSERT_EQUAL(replay("fixed.yaml", more, &out, &err), 0);
		free(out);
		free(err);
		now = rp_cmd_slurp("out", &m);
		CU_ASSERT(now != NULL && m == n + 9 &&
			  memcmp(now, text, n) == 0 &&
			  memcmp(now + n, POISON "\n", 9) == 0);
		free(now);
		CU_ASSERT_EQUAL(replay("fixed.yaml", bare, &out, &err), 2);
		CU_ASSERT(strstr(err, "--append needs --to PATH") != NULL);
		free(out);
		free(err);
	}
	/* A sink whose FILE comes after --: --append goes before it. */
	{
		char *more[] = {"--to", "out", "--append", NULL};
		char *yaml = rp_cmd_slurp("fixed.yaml", &n);
		char *at = yaml ? strstr(yaml, "args: [--lines, ") : NULL;
		size_t m;
		CU_ASSERT_FATAL(at != NULL);
		{
			char fixed2[4096];
			snprintf(fixed2, sizeof(fixed2), "%.*sargs: [--lines, "
				 "--, %s", (int)(at - yaml), yaml,
				 at + strlen("args: [--lines, "));
			spit_text("fixed2.yaml", fixed2);
		}
		free(yaml);
		yaml = rp_cmd_slurp("out", &m);
		CU_ASSERT_EQUAL(replay("fixed2.yaml", more, &out, &err), 0);
		free(out);
		free(err);
		free(text);
		text = rp_cmd_slurp("out", &n);
		CU_ASSERT(text != NULL && yaml != NULL && n == m + 9 &&
			  memcmp(text, yaml, m) == 0);
		free(yaml);
	}
	free(text);
	rp_cmd_dir_remove();
}

/* Ctrl-C or Ctrl-\ while the stage is stuck on the replayed record: the
 * run is cancelled as `run` would be (exit 130, 131), and the temporary
 * file, there while it ran, is gone. */
RP_TEST(test_interrupted_replay_cleans_up, 60)
{
	/* A parser that never answers (and obeys the cancel at once). */
	static const char hangs[] =
	    "name: rp\nstages:\n"
	    "  - {name: read, run: file-source, args: [--lines, in]}\n"
	    "  - {name: parse, input: read, run: exec, "
	    "args: [--, sh, -c, \"exec sleep 30\"]}\n"
	    "  - {name: write, input: parse, run: file-sink, "
	    "args: [--lines, out]}\n";
	/* Ctrl-C, and Ctrl-\ (whose default would end the process with
	 * the file left). */
	static const struct {
		int sig, code;
		const char *said;
	} sigs[] = {{SIGINT, 130, "the run failed (exit 130)"},
		    {SIGQUIT, 131, "the run failed (exit 131)"}};
	char p[256], e[256], *args[] = {"replay", p, "--quiet", NULL};
	int fd, st;
	pid_t pid;

	quarantine_poison();
	spit_text("hangs.yaml", hangs);
	rp_cmd_path(p, sizeof(p), "hangs.yaml");
	rp_cmd_path(e, sizeof(e), "ERR");
	for (size_t k = 0; k < sizeof(sigs) / sizeof(*sigs); k++) {
		int seen = 0;
		fd = open(e, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		CU_ASSERT_FATAL(fd >= 0);
		pid = rp_cmd_start_err(args, -1, fd);
		close(fd);
		/* The records are copied before the run starts: 10 s at
		 * most. */
		for (int i = 0; i < 1000 && !seen; i++) {
			seen = entries_in_tmpdir(1) == 1;
			usleep(10000);
		}
		CU_ASSERT(seen);
		usleep(300000);
		kill(pid, sigs[k].sig);
		st = rp_test_wait(pid, 20);
		CU_ASSERT_EQUAL(rp_test_exit_code(st), sigs[k].code);
		CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
		{
			size_t n;
			char *err = rp_cmd_slurp("ERR", &n);
			CU_ASSERT(strstr(err, sigs[k].said) != NULL);
			free(err);
		}
	}
	rp_cmd_dir_remove();
}

/* The replay's run is over and its messages wait for a reader of
 * stderr that is not reading (a pager left waiting): Ctrl-C gives up on
 * that reader.  The summary line that comes after must not wait for it
 * in turn: the replay ends at once, its record passed. */
RP_TEST(test_ctrl_c_while_stderr_waits, 60)
{
	/* A parser that passes the record and writes 100 000 lines to its
	 * stderr, more than a pipe holds. */
	static const char noisy[] =
	    "name: rp\nstages:\n"
	    "  - {name: read, run: file-source, args: [--lines, in]}\n"
	    "  - {name: parse, input: read, run: exec, "
	    "args: [--, sh, -c, \"seq 1 100000 >&2; cat\"]}\n"
	    "  - {name: write, input: parse, run: file-sink, "
	    "args: [--lines, out]}\n";
	char p[256];
	char *args[] = {"replay", p, "--to", "replayed", NULL};
	int e[2], st, seen = 0;
	pid_t pid;

	quarantine_poison();
	spit_text("noisy.yaml", noisy);
	rp_cmd_path(p, sizeof(p), "noisy.yaml");
	CU_ASSERT_FATAL(pipe2(e, O_CLOEXEC) == 0);
	pid = rp_cmd_start_err(args, -1, e[1]);
	close(e[1]);
	/* Its run starts once the records are copied; it is over once no
	 * stage is left. */
	for (int i = 0; i < 1000 && !seen; i++) {
		seen = entries_in_tmpdir(1) == 1;
		usleep(10000);
	}
	CU_ASSERT(seen);
	CU_ASSERT(rp_cmd_await_childless(pid, 20));
	usleep(300000);
	kill(pid, SIGINT);
	st = rp_test_wait(pid, 5);
	close(e[0]);
	CU_ASSERT(st != -1);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	CU_ASSERT(has_bytes("replayed", POISON "\n", 9));
	CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
	rp_cmd_dir_remove();
}

/* ---------------------------------------------------- hostile input */

/* The poison record and the next, framed: 24 bytes. */
static const char two_rec[] = POISON_FRAME "\x08\0\0\0line 701";

/* A dead-letter output made by hand: one good record (line 1), then
 * line 2 as given, over rec. */
static int replay_bad(const char *line2, const void *rec, size_t reclen,
		      char **err)
{
	char *idx, *out, *more[] = {"--dead", "hx", NULL};
	int code;

	CU_ASSERT_FATAL(
	    asprintf(&idx,
		     "{\"pipeline\":\"rp\",\"stage\":\"parse\",\"seq\":3,"
		     "\"origin\":3,\"sub\":0,\"reason\":\"killed by signal 11 "
		     "(\\\"x\\\")\",\"attempts\":2,"
		     "\"time\":\"2024-01-01T00:00:00Z\","
		     "\"offset\":0,\"length\":8}\n%s",
		     line2) > 0);
	spit_text("hx.jsonl", idx);
	free(idx);
	rp_cmd_spit("hx.rec", rec, reclen);
	code = replay("fixed.yaml", more, &out, err);
	free(out);
	return code;
}

/* A line of n bytes, all of them inside one string, and its newline. */
static char *long_line(size_t n)
{
	static const char head[] =
	    "{\"stage\":\"parse\",\"offset\":12,\"length\":8,\"x\":\"";
	char *line = malloc(n + 2);

	CU_ASSERT_FATAL(line != NULL && n > sizeof(head) + 2);
	memset(line, 'a', n);
	memcpy(line, head, sizeof(head) - 1);
	memcpy(line + n - 2, "\"}\n", 4);
	return line;
}

/* An index that points past the end of the records, a frame whose length
 * word disagrees with the index, a line cut short or too long, a line
 * that is not the index's JSON: each refused with exit 2 and
 * "FILE:LINE: why", before anything runs - no temporary file, no replay
 * output. */
RP_TEST(test_hostile_dead_letter_refused, 90)
{
	static const struct {
		const char *line2;
		const char *rec;
		size_t reclen;
		const char *expect;
	} cases[] = {
	    /* The file ends before the record the index points at. */
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8}\n", two_rec, 20,
	     "hx.jsonl:2: its record (8 bytes and a 4-byte length, at "
	     "offset 12) runs past the end of hx.rec (20 bytes)"},
	    /* Far past it, near the top of the range. */
	    {"{\"stage\":\"parse\",\"offset\":9223372036854775807,"
	     "\"length\":4294967295}\n",
	     two_rec, 24,
	     "hx.jsonl:2: its record (4294967295 bytes and a 4-byte "
	     "length, at offset 9223372036854775807) runs past the end"},
	    /* A length word that says more than the file holds. */
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8}\n",
	     POISON_FRAME "\xff\xff\xff\x7fline 701", 24,
	     "hx.jsonl:2: hx.rec has a record of 2147483647 bytes at "
	     "offset 12, not the 8 bytes the index says"},
	    /* The file ends inside the line. */
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8", two_rec, 24,
	     "hx.jsonl:2: cut short: the file ends inside the line"},
	    /* The line ends inside the object. */
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8\n", two_rec, 24,
	     "hx.jsonl:2: not a JSON object: did not find expected ',' or "
	     "'}' (while parsing a flow mapping)"},
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8,\"r\":\"ab}\n",
	     two_rec, 24,
	     "hx.jsonl:2: not a JSON object: found unexpected end of "
	     "stream (while scanning a quoted scalar)"},
	    /* Not an object at all. */
	    {"not json\n", two_rec, 24,
	     "hx.jsonl:2: expected a JSON object ({...})"},
	    {"[\"parse\",12,8]\n", two_rec, 24,
	     "hx.jsonl:2: expected a JSON object ({...})"},
	    {"\n", two_rec, 24, "hx.jsonl:2: an empty line, not a JSON object"},
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8} x\n", two_rec,
	     24, "hx.jsonl:2: something follows the object"},
	    /* The fields. */
	    {"{\"stage\":\"parse\",\"offset\":12}\n", two_rec, 24,
	     "hx.jsonl:2: no \"length\""},
	    {"{\"stage\":\"parse\",\"offset\":-12,\"length\":8}\n", two_rec, 24,
	     "hx.jsonl:2: \"offset\": expected a whole number"},
	    {"{\"stage\":\"parse\",\"offset\":\"12\",\"length\":8}\n", two_rec,
	     24, "hx.jsonl:2: \"offset\": expected a number, not a string"},
	    {"{\"stage\":\"parse\",\"offset\":012,\"length\":8}\n", two_rec, 24,
	     "hx.jsonl:2: \"offset\": a number with a leading zero"},
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":4294967296}\n",
	     two_rec, 24, "hx.jsonl:2: \"length\": too large"},
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8,"
	     "\"length\":8}\n",
	     two_rec, 24, "hx.jsonl:2: \"length\" is given twice"},
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8,"
	     "\"stage\":\"write\"}\n",
	     two_rec, 24, "hx.jsonl:2: \"stage\" is given twice"},
	    {"{offset:12,\"stage\":\"parse\",\"length\":8}\n", two_rec, 24,
	     "hx.jsonl:2: expected a key in double quotes"},
	    {"{\"stage\":\"../x\",\"offset\":12,\"length\":8}\n", two_rec, 24,
	     "hx.jsonl:2: \"stage\": not a stage name"},
	    {"{\"stage\":\"par\tse\",\"offset\":12,\"length\":8}\n", two_rec,
	     24, "hx.jsonl:2: \"stage\": not a stage name"},
	    {"{\"stage\":parse,\"offset\":12,\"length\":8}\n", two_rec, 24,
	     "hx.jsonl:2: \"stage\": expected a string in double quotes"},
	    /* Nested values, even in a field replay does not use. */
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8,\"a\":[1]}\n",
	     two_rec, 24, "hx.jsonl:2: \"a\": a nested list or object"},
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":{\"n\":8}}\n",
	     two_rec, 24, "hx.jsonl:2: \"length\": a nested list or object"},
	    /* Bytes that are not text. */
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8,\"r\":\"\x1b["
	     "2J\"}"
	     "\n",
	     two_rec, 24,
	     "hx.jsonl:2: not a JSON object: control characters are not "
	     "allowed (at byte 46: 0x1B)"},
	    {"{\"stage\":\"parse\",\"offset\":12,\"length\":8,\"r\":\"\xff\"}"
	     "\n",
	     two_rec, 24,
	     "hx.jsonl:2: not a JSON object: invalid leading UTF-8 octet "
	     "(at byte 46: 0xFF)"},
	    /* Two lines pointing at the same bytes: the record would go
	     * through twice.  And one pointing inside another's bytes,
	     * where they look like a frame. */
	    {"{\"stage\":\"parse\",\"offset\":0,\"length\":8}\n", two_rec,
	     24,
	     "hx.jsonl:2: its record (offset 0) overlaps the one of line 1 "
	     "(offset 0)"},
	    {"{\"stage\":\"parse\",\"offset\":4,\"length\":4}\n",
	     "\x08\0\0\0\x04\0\0\0abcd", 12,
	     "hx.jsonl:2: its record (offset 4) overlaps the one of line 1 "
	     "(offset 0)"},
	};

	rp_cmd_dir_make("replay");
	private_tmpdir();
	spit_text("fixed.yaml", fixed_yaml);
	spit_text("out", "real output\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *err;
		int code = replay_bad(cases[i].line2, cases[i].rec,
				      cases[i].reclen, &err);
		if (code != 2 || strstr(err, cases[i].expect) == NULL) {
			fprintf(stderr,
				"case %zu: exit %d, want 2 and '%s' "
				"in:\n%s\n",
				i, code, cases[i].expect, err);
			CU_FAIL("a bad dead-letter output not refused as "
				"expected");
		}
		/* Refused before anything ran or was made. */
		CU_ASSERT(strstr(err, "replay: 1 record") == NULL);
		CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
		CU_ASSERT(!exists("hx.replay.rec"));
		CU_ASSERT(has_bytes("out", "real output\n", 12));
		free(err);
	}
	/* A line longer than the cap, however well formed. */
	{
		char *line = long_line(RP_REPLAY_MAX_LINE + 1), *err;
		CU_ASSERT_EQUAL(replay_bad(line, two_rec, 24, &err), 2);
		CU_ASSERT(strstr(err, "hx.jsonl:2: longer than 4096 bytes") !=
			  NULL);
		CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
		free(line);
		free(err);
	}
	/* The same good line and the two records, well indexed, do go
	 * through: the failures above were the lines'. */
	{
		char *err;
		CU_ASSERT_EQUAL(replay_bad("{\"stage\":\"parse\",\"offset\":12,"
					   "\"length\":8}\n",
					   two_rec, 24, &err),
				0);
		CU_ASSERT(strstr(err, "replay: 2 records from hx.rec through "
				      "parse: 2 passed") != NULL);
		CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
		free(err);
	}
	rp_cmd_dir_remove();
}

/* A record larger than the replayed stage's input ring takes now (its
 * ring made smaller since): refused at its line, before anything runs,
 * instead of a run whose source fails on it. */
RP_TEST(test_record_larger_than_ring_refused, 30)
{
	static const char small_yaml[] =
	    "name: rp\nstages:\n"
	    "  - {name: read, run: file-source, args: [--lines, in]}\n"
	    "  - {name: parse, input: read, run: grep, args: [\"^\"], "
	    "ring: 4K}\n"
	    "  - {name: write, input: parse, run: file-sink, "
	    "args: [--lines, out]}\n";
	char rec[4 + 3000], *more[] = {"--dead", "hx", NULL}, *out, *err;

	rp_cmd_dir_make("replay");
	private_tmpdir();
	spit_text("small.yaml", small_yaml);
	memset(rec, 'x', sizeof(rec));
	memcpy(rec, "\xb8\x0b\0\0", 4); /* 3000 */
	rp_cmd_spit("hx.rec", rec, sizeof(rec));
	spit_text("hx.jsonl", "{\"stage\":\"parse\",\"offset\":0,"
			      "\"length\":3000}\n");
	CU_ASSERT_EQUAL(replay("small.yaml", more, &out, &err), 2);
	CU_ASSERT(strstr(err, "hx.jsonl:1: a record of 3000 bytes; stage "
			      "parse's input ring (ring: 4096) takes 2024 at "
			      "most") != NULL);
	CU_ASSERT(!exists("out"));
	CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
	free(out);
	free(err);
	rp_cmd_dir_remove();
}

/* Where the dead-letter output goes may hold something else: a FIFO
 * (whose open would block the supervisor for good), a symbolic link
 * (that would write wherever it points), or a file with other names.
 * Each fails the quarantine, said by name, and the run ends; what was
 * made is for its owner alone.  A lock on the files held by someone
 * else (another run, or anything that can open them) is not waited
 * for: the record goes in without it, whole, its line pointing at it. */
RP_TEST(test_dead_letter_files_guarded, 90)
{
	char in[256], p[256], t[256], *text;
	struct stat st;
	int fd;

	rp_cmd_dir_make("replay");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	rp_cmd_path(p, sizeof(p), "rp.dead.jsonl");
	CU_ASSERT_FATAL(mkfifo(p, 0600) == 0);
	CU_ASSERT_EQUAL(rp_cmd_yaml("run", broken_yaml, &text), 1);
	CU_ASSERT(strstr(text, "rp.dead.jsonl: not a regular file") != NULL);
	CU_ASSERT(strstr(text, "record 700 cannot be quarantined") != NULL);
	free(text);
	CU_ASSERT_FATAL(unlink(p) == 0);

	rp_cmd_path(t, sizeof(t), "elsewhere");
	rp_cmd_spit("elsewhere", "mine\n", 5);
	CU_ASSERT_FATAL(symlink(t, p) == 0);
	CU_ASSERT_EQUAL(rp_cmd_yaml("run", broken_yaml, &text), 1);
	CU_ASSERT(strstr(text, "rp.dead.jsonl: a symbolic link: refused") !=
		  NULL);
	free(text);
	CU_ASSERT(has_bytes("elsewhere", "mine\n", 5));
	CU_ASSERT_FATAL(unlink(p) == 0);

	/* Someone holding the lock for good: not waited for. */
	rp_cmd_path(p, sizeof(p), "rp.dead.rec");
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0 && flock(fd, LOCK_EX) == 0);
	{
		size_t n;
		CU_ASSERT_EQUAL(rp_cmd_yaml("run", broken_yaml, &text), 0);
		free(text);
		CU_ASSERT(has_bytes("rp.dead.rec", POISON_FRAME,
				    POISON_FRAME_LEN));
		text = rp_cmd_slurp("rp.dead.jsonl", &n);
		CU_ASSERT(strstr(text, "\"offset\":0,\"length\":8}\n") !=
			  NULL);
		free(text);
	}
	close(fd);
	/* (Emptied for the cases below.) */
	CU_ASSERT_FATAL(truncate(p, 0) == 0);
	rp_cmd_path(t, sizeof(t), "rp.dead.jsonl");
	CU_ASSERT_FATAL(unlink(t) == 0);
	/* A file with another name (a hard link): it could be anyone's. */
	rp_cmd_path(t, sizeof(t), "other");
	CU_ASSERT_FATAL(link(p, t) == 0);
	CU_ASSERT_EQUAL(rp_cmd_yaml("run", broken_yaml, &text), 1);
	CU_ASSERT(strstr(text, "rp.dead.rec: it has other names (hard "
			       "links): refused") != NULL);
	free(text);
	CU_ASSERT_FATAL(unlink(t) == 0);
	/* Let go of, the same run quarantines, into files of mode 0600
	 * (one an older run left readable to all made so) holding
	 * nothing of the failed tries. */
	CU_ASSERT_FATAL(chmod(p, 0644) == 0);
	CU_ASSERT_EQUAL(rp_cmd_yaml("run", broken_yaml, &text), 0);
	free(text);
	CU_ASSERT(has_bytes("rp.dead.rec", POISON_FRAME, POISON_FRAME_LEN));
	stat_in_dir("rp.dead.rec", &st);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	stat_in_dir("rp.dead.jsonl", &st);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	rp_cmd_dir_remove();
}

/* Records of several stages and no --stage: refused, naming them; a
 * --stage that is not in the file, or is its source, likewise. */
RP_TEST(test_stage_choice, 60)
{
	static const char idx[] =
	    "{\"stage\":\"parse\",\"offset\":0,\"length\":8}\n"
	    "{\"stage\":\"write\",\"offset\":12,\"length\":8}\n";
	char *more_none[] = {"--dead", "hx", NULL};
	char *more_bad[] = {"--dead", "hx", "--stage", "nope", NULL};
	char *more_src[] = {"--dead", "hx", "--stage", "read", NULL};
	char *out, *err;

	rp_cmd_dir_make("replay");
	private_tmpdir();
	spit_text("fixed.yaml", fixed_yaml);
	spit_text("hx.jsonl", idx);
	rp_cmd_spit("hx.rec", two_rec, 24);
	CU_ASSERT_EQUAL(replay("fixed.yaml", more_none, &out, &err), 2);
	CU_ASSERT(strstr(err, "hx.jsonl holds records of 2 stages: parse (1), "
			      "write (1); choose one with --stage") != NULL);
	free(out);
	free(err);
	CU_ASSERT_EQUAL(replay("fixed.yaml", more_bad, &out, &err), 2);
	CU_ASSERT(strstr(err, "--stage nope: ") != NULL);
	free(out);
	free(err);
	CU_ASSERT_EQUAL(replay("fixed.yaml", more_src, &out, &err), 2);
	CU_ASSERT(strstr(err, "stage read is the source") != NULL);
	free(out);
	free(err);
	CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
	rp_cmd_dir_remove();
}

/* A one-liner's quarantine replayed through the one-liner fixed
 * (replay -e), its stage named alike in both: the record passes to
 * --to, and a --stage it lacks is said of "the one-liner". */
RP_TEST(test_one_liner_replayed, 60)
{
	char in[256], broken[512], fixed[512], *text;
	char *run_args[] = {"-e", broken, NULL};
	char *replay_args[] = {"replay", "-q", "-e", fixed, "--to", "replayed",
			       NULL};
	char *bad_args[] = {"replay", "-e", fixed, "--stage", "nope", NULL};

	rp_cmd_dir_make("replay");
	private_tmpdir();
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 1000);
	snprintf(broken, sizeof(broken),
		 "file-source --lines %s ! fault @name=parse "
		 "@restart_backoff_ms=0 --match '^line 700$' --do crash ! "
		 "file-sink --lines out", in);
	snprintf(fixed, sizeof(fixed),
		 "file-source --lines %s ! grep @name=parse '^line ' ! "
		 "file-sink --lines out", in);
	CU_ASSERT_EQUAL_FATAL(rp_cmd_run(run_args, &text), 0);
	free(text);
	CU_ASSERT_EQUAL(rp_cmd_lines("pipeline.dead.jsonl"), 1);
	CU_ASSERT_EQUAL(rp_cmd_run(replay_args, &text), 0);
	free(text);
	CU_ASSERT(has_bytes("replayed", POISON "\n", 9));
	CU_ASSERT(!exists("pipeline.dead.replay.jsonl"));
	CU_ASSERT_EQUAL(rp_cmd_run(bad_args, &text), 2);
	CU_ASSERT(strstr(text, "--stage nope: the one-liner has no such "
			       "stage") != NULL);
	free(text);
	CU_ASSERT_EQUAL(files_in_tmpdir(), 0);
	rp_cmd_dir_remove();
}

/* ------------------------------------------------------- the index */

/* The index's lines as the supervisor writes them parse; the fields are
 * found wherever they are, whatever else the line holds; a line that is
 * not a flat object with the three fields, each once and of its type, is
 * refused, saying why. */
RP_TEST(test_index_line, 10)
{
	static const char ours[] =
	    "{\"pipeline\":\"rp\",\"stage\":\"2-fault\",\"seq\":700,"
	    "\"origin\":700,\"sub\":0,\"type\":18,\"reason\":\"killed by "
	    "signal 11 "
	    "(Segmentation fault) on record 700 \\u001b \\\\ \\\"\","
	    "\"attempts\":2,\"time\":\"2024-05-01T10:00:00Z\","
	    "\"offset\":4096,\"length\":8}";
	static const char other[] = " { \"length\" : 0 , \"x\" : -1.5e+3 , "
				    "\"y\" : null, \"offset\":0,\"z\":true,"
				    "\"stage\":\"a.b_c-d\" } \r";
	static const char top[] = "{\"stage\":\"a\",\"offset\":"
				  "9223372036854775807,\"length\":4294967295,"
				  "\"type\":65535}";
#define L(s) s, sizeof(s) - 1
	static const struct {
		const char *line;
		size_t len;
		const char *expect;
	} bad[] = {
	    {L(""), "an empty line"},
	    {L("  "), "an empty line"},
	    {L("{"), "not a JSON object: "},
	    {L("{}"), "no \"stage\""},
	    {L("[]"), "expected a JSON object"},
	    {L("\"stage\""), "expected a JSON object"},
	    {L("{\"stage\":\"a\",\"offset\":1}"), "no \"length\""},
	    {L("{\"stage\":\"a\",\"length\":1}"), "no \"offset\""},
	    {L("{\"stage\":\"a\",\"offset\":01,\"length\":1}"),
	     "\"offset\": a number with a leading zero"},
	    {L("{\"stage\":\"a\",\"offset\":1.0,\"length\":1}"),
	     "\"offset\": expected a whole number"},
	    {L("{\"stage\":\"a\",\"offset\":1e3,\"length\":1}"),
	     "\"offset\": expected a whole number"},
	    {L("{\"stage\":\"a\",\"offset\":+1,\"length\":1}"),
	     "\"offset\": expected a whole number"},
	    {L("{\"stage\":\"a\",\"offset\":0x10,\"length\":1}"),
	     "\"offset\": expected a whole number"},
	    {L("{\"stage\":\"a\",\"offset\":,\"length\":1}"),
	     "\"offset\": expected a whole number"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":'1'}"),
	     "\"length\": expected a number, not a string"},
	    {L("{\"stage\":\"a\",\"offset\":9223372036854775808,"
	       "\"length\":1}"),
	     "\"offset\": too large"},
	    {L("{\"stage\":\"a\",\"offset\":18446744073709551616,"
	       "\"length\":1}"),
	     "\"offset\": too large"},
	    {L("{\"stage\":\"\",\"offset\":1,\"length\":1}"),
	     "\"stage\": not a stage name"},
	    {L("{\"stage\":\"a\\u0000b\",\"offset\":1,\"length\":1}"),
	     "\"stage\": not a stage name"},
	    {L("{\"stage\":\"a\\/b\",\"offset\":1,\"length\":1}"),
	     "\"stage\": not a stage name"},
	    {L("{\"stage\":"
	       "\"a23456789012345678901234567890123456789012345678\","
	       "\"offset\":1,\"length\":1}"),
	     "\"stage\": not a stage name"},
	    {L("{\"stage\":'a',\"offset\":1,\"length\":1}"),
	     "\"stage\": expected a string in double quotes"},
	    {L("{\"stage\":[\"a\"],\"offset\":1,\"length\":1}"),
	     "\"stage\": a nested list or object"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"r\":{}}"),
	     "\"r\": a nested list or object"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"\\u001b\":[]}"),
	     "a key: a nested list or object"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,[1]:2}"),
	     "expected a key in double quotes"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,'r':2}"),
	     "expected a key in double quotes"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"offset\":1,\"length\":1}"),
	     "\"offset\" is given twice"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"type\":65536}"),
	     "\"type\": too large"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"type\":-1}"),
	     "\"type\": expected a whole number"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"type\":\"18\"}"),
	     "\"type\": expected a number, not a string"},
	    {L("{\"type\":1,\"stage\":\"a\",\"offset\":1,\"length\":1,"
	       "\"type\":1}"),
	     "\"type\" is given twice"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"r\":\"\\x\"}"),
	     "not a JSON object: "},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"r\":\"\\u12\"}"),
	     "not a JSON object: "},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"r\":\"abc}"),
	     "not a JSON object: "},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"r\":*x}"),
	     "not a JSON object: "},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1} {}"),
	     "something follows the object"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1}\n--- {}"),
	     "something follows the object"},
	    /* The length is the caller's: a NUL inside is a byte like any
	     * other, not the end. */
	    {L("{\"stage\":\"a\0\",\"offset\":1,\"length\":1}"),
	     "control characters are not allowed (at byte 12: 0x00)"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"r\":\"\x7f\"}"),
	     "control characters are not allowed"},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"r\":\"\xc3\"}"),
	     "not a JSON object: "},
	    {L("{\"stage\":\"a\",\"offset\":1,\"length\":1,\"r\":"
	       "\"\xed\xa0\x80\"}"),
	     "not a JSON object: "},
	    /* A byte-order mark does not make it UTF-16. */
	    {L("\xff\xfe{\0}\0"), "invalid leading UTF-8 octet"},
	};
#undef L
	struct rp_dead_ref r;
	char err[RP_REPLAY_ERR], *deep;

	CU_ASSERT_EQUAL(
	    rp_replay_index_line(ours, strlen(ours), &r, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(r.stage, "2-fault");
	CU_ASSERT_EQUAL(r.offset, 4096);
	CU_ASSERT_EQUAL(r.length, 8);
	CU_ASSERT_EQUAL(r.type, 18);
	CU_ASSERT_EQUAL(
	    rp_replay_index_line(other, strlen(other), &r, err, sizeof(err)),
	    0);
	CU_ASSERT_STRING_EQUAL(r.stage, "a.b_c-d");
	CU_ASSERT_EQUAL(r.offset, 0);
	CU_ASSERT_EQUAL(r.length, 0);
	/* An index from before types were kept: data. */
	CU_ASSERT_EQUAL(r.type, 1);
	CU_ASSERT_EQUAL(
	    rp_replay_index_line(top, strlen(top), &r, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(r.offset, INT64_MAX);
	CU_ASSERT_EQUAL(r.length, UINT32_MAX);
	CU_ASSERT_EQUAL(r.type, 65535);
	/* Cut anywhere, the supervisor's line is refused. */
	for (size_t n = 0; n < strlen(ours); n++)
		if (rp_replay_index_line(ours, n, &r, err, sizeof(err)) == 0)
			CU_FAIL("a line cut short was accepted");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		if (rp_replay_index_line(bad[i].line, bad[i].len, &r, err,
					 sizeof(err)) != -EINVAL ||
		    strstr(err, bad[i].expect) == NULL) {
			fprintf(stderr, "bad line %zu: want '%s', got '%s'\n",
				i, bad[i].expect, err);
			CU_FAIL("a malformed index line was not refused as "
				"expected");
		}
	}
	/* Nesting as deep as a line allows: refused, not a crash. */
	deep = malloc(RP_REPLAY_MAX_LINE);
	CU_ASSERT_FATAL(deep != NULL);
	memset(deep, '[', RP_REPLAY_MAX_LINE / 2);
	memset(deep + RP_REPLAY_MAX_LINE / 2, ']', RP_REPLAY_MAX_LINE / 2);
	memcpy(deep, "{\"a\":", 5);
	deep[RP_REPLAY_MAX_LINE - 1] = '}';
	CU_ASSERT_EQUAL(rp_replay_index_line(deep, RP_REPLAY_MAX_LINE, &r, err,
					     sizeof(err)),
			-EINVAL);
	free(deep);
}

/* The index of stage parse's records at 0 and 19, stage write's at 12. */
static const char three_idx[] =
    "{\"stage\":\"parse\",\"offset\":0,\"length\":8}\n"
    "{\"stage\":\"write\",\"offset\":12,\"length\":3,\"type\":275}\n"
    "{\"stage\":\"parse\",\"offset\":19,\"length\":0}\n";
static const char three_rec[] = POISON_FRAME "\x03\0\0\0abc"
					     "\0\0\0\0";

static struct rp_replay_index *open_ix(const char *prefix, int *e, char *err)
{
	char p[256];

	rp_cmd_path(p, sizeof(p), prefix);
	err[0] = '\0';
	return rp_replay_index_open(p, e, err, RP_REPLAY_ERR);
}

/* Copy stage s of ix to the directory's file name: its return. */
static int copy_to(const struct rp_replay_index *ix, unsigned s,
		   const char *name, char *err)
{
	char p[256];
	int fd, e;

	rp_cmd_path(p, sizeof(p), name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	err[0] = '\0';
	e = rp_replay_index_copy(ix, s, fd, name, err, RP_REPLAY_ERR);
	close(fd);
	return e;
}

/* A whole index read and checked: its stages in order of first
 * appearance with their counts and first lines, its records in order;
 * a stage's records copied out framed as in .rec.  A file that lies, at
 * any line, is refused naming it; a .rec that shrank after the check
 * fails the copy. */
/* A FIFO in place of either file is refused at once, not waited on
 * (nobody will ever write it: the open would block for good). */
RP_TEST(test_index_fifo_refused, 10)
{
	char err[RP_REPLAY_ERR], p[256];
	struct rp_replay_index *ix;
	int e = 0;

	rp_cmd_dir_make("replay");
	spit_text("hx.jsonl", three_idx);
	rp_cmd_path(p, sizeof(p), "hx.rec");
	CU_ASSERT_FATAL(mkfifo(p, 0600) == 0);
	ix = open_ix("hx", &e, err);
	CU_ASSERT_PTR_NULL(ix);
	CU_ASSERT(strstr(err, "hx.rec: not a regular file") != NULL);
	CU_ASSERT_FATAL(unlink(p) == 0);
	rp_cmd_spit("hx.rec", three_rec, sizeof(three_rec) - 1);
	rp_cmd_path(p, sizeof(p), "hx.jsonl");
	CU_ASSERT_FATAL(unlink(p) == 0 && mkfifo(p, 0600) == 0);
	ix = open_ix("hx", &e, err);
	CU_ASSERT_PTR_NULL(ix);
	CU_ASSERT(strstr(err, "hx.jsonl: not a regular file") != NULL);
	rp_cmd_dir_remove();
}

RP_TEST(test_index_open_and_copy, 20)
{
	char err[RP_REPLAY_ERR], *line, *idx;
	struct rp_replay_index *ix;
	int e = 0;

	rp_cmd_dir_make("replay");
	spit_text("hx.jsonl", three_idx);
	rp_cmd_spit("hx.rec", three_rec, sizeof(three_rec) - 1);
	ix = open_ix("hx", &e, err);
	if (ix == NULL)
		fprintf(stderr, "%s\n", err);
	CU_ASSERT_FATAL(ix != NULL);
	CU_ASSERT_EQUAL(ix->rec_size, 23);
	CU_ASSERT_EQUAL(ix->nstages, 2);
	CU_ASSERT_STRING_EQUAL(ix->stage[0].name, "parse");
	CU_ASSERT_EQUAL(ix->stage[0].count, 2);
	CU_ASSERT_EQUAL(ix->stage[0].first_line, 1);
	CU_ASSERT_STRING_EQUAL(ix->stage[1].name, "write");
	CU_ASSERT_EQUAL(ix->stage[1].count, 1);
	CU_ASSERT_EQUAL(ix->stage[1].first_line, 2);
	CU_ASSERT_FATAL(ix->nrec == 3);
	CU_ASSERT(ix->rec[1].offset == 12 && ix->rec[1].length == 3 &&
		  ix->rec[1].stage == 1);
	CU_ASSERT(ix->rec[2].offset == 19 && ix->rec[2].length == 0 &&
		  ix->rec[2].stage == 0);
	/* Typed frames: the length, the type (1 where the index gives
	 * none), the bytes. */
	CU_ASSERT_EQUAL(copy_to(ix, 0, "parse.rec", err), 0);
	CU_ASSERT(has_bytes("parse.rec",
			    "\x08\0\0\0\x01\0" POISON "\0\0\0\0\x01\0",
			    POISON_FRAME_LEN + 2 + 6));
	CU_ASSERT_EQUAL(copy_to(ix, 1, "write.rec", err), 0);
	CU_ASSERT(has_bytes("write.rec", "\x03\0\0\0\x13\x01" "abc", 9));
	/* A write that fails is the writer's trouble, named. */
	{
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		CU_ASSERT_EQUAL(rp_replay_index_copy(ix, 0, fd, "nowhere", err,
						     sizeof(err)),
				-EBADF);
		CU_ASSERT(strstr(err, "writing nowhere: ") != NULL);
		close(fd);
	}
	/* PREFIX.rec cut after the check: the copy says so. */
	rp_cmd_spit("hx.rec", POISON_FRAME, 4);
	CU_ASSERT_EQUAL(copy_to(ix, 0, "parse.rec", err), -EPROTO);
	CU_ASSERT(strstr(err, "hx.rec: reading at offset 4: the file is "
			      "shorter than when it was checked") != NULL);
	rp_replay_index_free(ix);

	/* A fourth line that lies: refused, naming line 4. */
	CU_ASSERT_FATAL(asprintf(&idx,
				 "%s{\"stage\":\"parse\",\"offset\":19,"
				 "\"length\":1}\n",
				 three_idx) > 0);
	spit_text("hx.jsonl", idx);
	free(idx);
	rp_cmd_spit("hx.rec", three_rec, sizeof(three_rec) - 1);
	CU_ASSERT(open_ix("hx", &e, err) == NULL);
	CU_ASSERT_EQUAL(e, -EINVAL);
	CU_ASSERT(strstr(err, "/hx.jsonl:4: its record (1 bytes and a "
			      "4-byte length, at offset 19) runs past the "
			      "end of ") != NULL);
	/* A line of exactly the longest length is read; one byte more
	 * is not. */
	line = long_line(RP_REPLAY_MAX_LINE);
	spit_text("hx.jsonl", line);
	free(line);
	rp_cmd_spit("hx.rec", two_rec, sizeof(two_rec) - 1);
	ix = open_ix("hx", &e, err);
	if (ix == NULL)
		fprintf(stderr, "%s\n", err);
	CU_ASSERT(ix != NULL && ix->nrec == 1);
	rp_replay_index_free(ix);
	line = long_line(RP_REPLAY_MAX_LINE + 1);
	spit_text("hx.jsonl", line);
	free(line);
	CU_ASSERT(open_ix("hx", &e, err) == NULL);
	CU_ASSERT(strstr(err, "/hx.jsonl:1: longer than 4096 bytes") != NULL);
	/* No index, no records. */
	CU_ASSERT(open_ix("nope", &e, err) == NULL);
	CU_ASSERT_EQUAL(e, -EINVAL);
	CU_ASSERT(strstr(err, "/nope.jsonl: No such file or directory "
			      "(nothing was quarantined under this "
			      "prefix?)") != NULL);
	spit_text("norec.jsonl", three_idx);
	CU_ASSERT(open_ix("norec", &e, err) == NULL);
	CU_ASSERT(strstr(err, "/norec.rec: No such file or directory") != NULL);
	rp_cmd_dir_remove();
}

void rp_suite_replay(void)
{
	RP_SUITE("replay",
		 {"the fixed stage passes the record, its bytes to --to",
		  test_fixed_stage_passes_the_record},
		 {"a last stage not a file-sink gives way to file-sink",
		  test_other_sink_replaced_by_file_sink},
		 {"a block replayed as it was read, a piece as a line of "
		  "its own",
		  test_types_kept_through_replay},
		 {"the still-broken stage quarantines it into PREFIX.replay",
		  test_broken_stage_quarantines_again},
		 {"twenty records through the still-broken stage: each "
		  "quarantined again",
		  test_broken_stage_every_record_again},
		 {"the real output not touched; appended to with --append",
		  test_real_output_untouched},
		 {"Ctrl-C or Ctrl-\\ mid-replay: no temporary file left",
		  test_interrupted_replay_cleans_up},
		 {"Ctrl-C while stderr is not read ends the replay at once",
		  test_ctrl_c_while_stderr_waits},
		 {"a cut-short or lying dead-letter output is refused",
		  test_hostile_dead_letter_refused},
		 {"a record larger than the stage's ring is refused",
		  test_record_larger_than_ring_refused},
		 {"dead-letter files: no FIFO, no link, one writer at a time",
		  test_dead_letter_files_guarded},
		 {"a one-liner's quarantine replayed through it fixed (-e)",
		  test_one_liner_replayed},
		 {"several stages need --stage; a bad --stage is refused",
		  test_stage_choice},
		 {"index lines parsed strictly, fields found anywhere",
		  test_index_line},
		 {"an index read, checked against .rec, records copied",
		  test_index_open_and_copy},
		 {"a FIFO in place of either file is refused at once",
		  test_index_fifo_refused});
}
