/*
 * test_file_ends.c - file-source and file-sink, the ends of a pipeline,
 * as a user runs them: blocks of lines come out byte for byte whatever
 * the line lengths; `ringpipe ... | head -1` ends at once and well; a
 * write error or a missing input fails at once instead of being retried;
 * a pipeline writing the file it reads is refused; a stdin given part
 * read is replayed from the right place after a crash, and one that is
 * a pipe restarts at a line's start.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "harness.h"

/* Lines "line from" ... "line to-1" into fd, in one write. */
static void write_numbered(int fd, int from, int to)
{
	char buf[100 * 12];
	size_t len = 0;

	for (int i = from; i < to && len + 12 < sizeof(buf); i++)
		len += (size_t)sprintf(buf + len, "line %d\n", i);
	CU_ASSERT_EQUAL(write(fd, buf, len), (ssize_t)len);
}

/* The pid of stage of the running pipeline once the stat shows it (and,
 * with after, once it has sent on that many records); 0 after 10 s. */
static pid_t stage_pid(const char *pipeline, const char *stage,
		       unsigned long after)
{
	char json[8192], key[96];
	pid_t pid;

	snprintf(key, sizeof(key), "{\"name\":\"%s\"", stage);
	for (int i = 0; i < 2000; i++) {
		const char *at, *r;
		if (rp_cmd_stat_json(pipeline, json, sizeof(json)) == 0 &&
		    (at = strstr(json, key)) != NULL &&
		    (after == 0 ||
		     ((r = strstr(at, "\"records_out\":")) != NULL &&
		      strtoul(r + 14, NULL, 10) >= after)) &&
		    (pid = rp_cmd_stat_pid(json, stage)) > 0)
			return pid;
		usleep(5000);
	}
	return 0;
}

/* Send sig (0: none) to stage of the running pipeline once stage_pid
 * finds it: 1 if it was there. */
static int signal_stage(const char *pipeline, const char *stage,
			unsigned long after, int sig)
{
	pid_t pid = stage_pid(pipeline, stage, after);

	return pid > 0 && kill(pid, sig) == 0;
}

/* SIGKILL stage of the running pipeline once it has sent on `after`
 * records (0: at once; a sink sends none), then wait for its restart
 * (another pid): 1 if both came (10 s each at most). */
static int kill_and_await_restart(const char *pipeline, const char *stage,
				  unsigned long after)
{
	char json[8192];
	pid_t first = stage_pid(pipeline, stage, after), again = 0;
	int killed = first > 0 && kill(first, SIGKILL) == 0;

	for (int i = 0; i < 2000 && killed; i++) {
		if (rp_cmd_stat_json(pipeline, json, sizeof(json)) == 0 &&
		    (again = rp_cmd_stat_pid(json, stage)) > 0 &&
		    again != first)
			return 1;
		usleep(5000);
	}
	return 0;
}

/* A source on a pipe killed where its reads had ended a line (it had
 * read and published lines 0-99, all the pipe then held): its restart
 * drops nothing, and every line comes out once.  (It used to drop up
 * to the next line's start all the same: line 100, whole.) */
RP_TEST(test_pipe_restart_at_line_start, 60)
{
	char name[48], yaml[512], p[256], *text, *out;
	char *args[] = {"run", p, NULL};
	int fds[2];
	pid_t pid;
	size_t n;

	rp_cmd_dir_make("files");
	rp_cmd_path(p, sizeof(p), "s.yaml");
	snprintf(name, sizeof(name), "pipeline-%d", (int)getpid());
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, \"-\"], "
		 "restart_backoff_ms: 0}\n"
		 "  - {name: write, input: read, run: file-sink, "
		 "args: [--lines, out]}\n",
		 name);
	rp_cmd_spit("s.yaml", yaml, strlen(yaml));
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	pid = rp_cmd_start(args, fds[0]);
	close(fds[0]);
	write_numbered(fds[1], 0, 100);
	/* Killed once all it read is published: it was left where its
	 * reads had ended a line. */
	CU_ASSERT(kill_and_await_restart(name, "read", 100));
	write_numbered(fds[1], 100, 200);
	close(fds[1]);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 30)), 0);
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT(strstr(text, "restarted on a pipe at a line's start: "
			       "nothing dropped") != NULL);
	CU_ASSERT(strstr(text, "dropped ") == NULL);
	out = rp_cmd_slurp("out", &n);
	{
		char want[200 * 12];
		size_t w = 0;
		for (int i = 0; i < 200; i++)
			w += (size_t)sprintf(want + w, "line %d\n", i);
		if (n != w || memcmp(out, want, w) != 0) {
			fprintf(stderr, "%s\n%zu bytes out, %zu wanted\n",
				text, n, w);
			CU_FAIL("a line lost or repeated at the restart");
		}
	}
	free(text);
	free(out);
	rp_cmd_dir_remove();
}

void rp_suite_file_ends(void);

/* A line of n bytes (newline excluded) of ch, then its newline. */
static size_t put_line(char *at, size_t n, char ch)
{
	memset(at, ch, n);
	at[n] = '\n';
	return n + 1;
}

/* A source on a pipe killed after it sent pieces of a long line (5000
 * bytes through a 4K ring), before the rest came: its restart drops the
 * rest of that line; the next line comes out joined to the pieces that
 * went out before the kill (a pipe source is at-most-once: the line is
 * cut, as the README says), and no line after it is lost, with --lines
 * and with --blocks. */
RP_TEST(test_pipe_restart_inside_long_line, 60)
{
	static const char *const how[] = {"--lines", "--blocks, \"100\""};
	char name[48], yaml[640], p[256], *out, big[5000];
	char *args[] = {"run", p, NULL};

	rp_cmd_dir_make("files");
	rp_cmd_path(p, sizeof(p), "s.yaml");
	snprintf(name, sizeof(name), "pipeline-%d", (int)getpid());
	for (int k = 0; k < 2; k++) {
		int fds[2];
		pid_t pid;
		size_t n;
		snprintf(yaml, sizeof(yaml),
			 "name: %s\nstages:\n"
			 "  - {name: read, run: file-source, args: [%s, \"-\"], "
			 "restart_backoff_ms: 0}\n"
			 "  - {name: pick, input: read, run: grep, "
			 "args: [-v, zzz], ring: 4K}\n"
			 "  - {name: write, input: pick, run: file-sink, "
			 "args: [--lines, out]}\n",
			 name, how[k]);
		rp_cmd_spit("s.yaml", yaml, strlen(yaml));
		CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
		pid = rp_cmd_start(args, fds[0]);
		close(fds[0]);
		memset(big, 'x', sizeof(big));
		CU_ASSERT(write(fds[1], "a\n", 2) == 2);
		CU_ASSERT(write(fds[1], big, sizeof(big)) ==
			  (ssize_t)sizeof(big));
		/* "a" and a piece of 2024 out, the next made. */
		CU_ASSERT(kill_and_await_restart(name, "read", 2));
		memset(big, 'y', 3000);
		CU_ASSERT(write(fds[1], big, 3000) == 3000);
		CU_ASSERT(write(fds[1], "\nline1\nline2\nline3\n", 19) == 19);
		close(fds[1]);
		CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(pid, 30)), 0);
		out = rp_cmd_slurp("out", &n);
		if (n < 19 || strncmp(out, "a\nx", 3) != 0 ||
		    strcmp(out + n - 18, "line1\nline2\nline3\n") != 0) {
			char *rep = rp_cmd_slurp("REPORT", &n);
			fprintf(stderr, "%s: %zu bytes out\n%s\n", how[k],
				strlen(out), rep);
			free(rep);
			CU_FAIL("a line after the cut one lost or joined");
		}
		free(out);
	}
	rp_cmd_dir_remove();
}

/* --blocks over a 4K ring (largest record 2024): lines around the cut
 * and across two cuts, each followed by a short one, through both kinds
 * of sink, and through count on the way: the output is the input.  A
 * line of exactly the largest record used to lose its newline, gluing it
 * to the next; count used to pass blocks and pieces on as lines, adding
 * newlines.  The same where a stage's output ring is smaller than its
 * input ring (a later stage's ring:): grep, head and count pass what
 * they pass cut to fit, lines as pieces, blocks as smaller blocks (such
 * a line used to fail the stage on it, again and again); and grep over
 * blocks whose long lines came as pieces matches them whole (it used
 * to take each cut part for a line). */
RP_TEST(test_blocks_lines_at_the_cut, 60)
{
	static const size_t lens[] = {2022, 2023, 2024, 2025, 4047, 4048,
				      4049, 0, 1};
	static const char *const sinks[] = {"", "--lines ",
					    "--lines ", "--lines "};
	static const char *const narrowing[] = {
	    "file-source --blocks 100 in ! grep @ring=64K -v zzz ! "
	    "file-sink @ring=4K --lines out",
	    "file-source --blocks 100 in ! grep @ring=4K -v zzz ! "
	    "file-sink @ring=4K --lines out",
	    "file-source --lines in ! head @ring=64K 1000 ! file-sink "
	    "@ring=4K --lines out",
	    "file-source --blocks 100 in ! count @ring=64K ! file-sink "
	    "@ring=4K out",
	    "file-source --blocks 3000 in ! head @ring=64K 1000 ! file-sink "
	    "@ring=4K --lines out",
	};
	size_t len = 0;
	char *in = malloc(64 * 1024), line[512], *text, *out;
	char *args[] = {"-e", line, NULL};

	CU_ASSERT_FATAL(in != NULL);
	rp_cmd_dir_make("files");
	len += put_line(in + len, 1, 'a');
	for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
		len += put_line(in + len, lens[i], 'x');
		len += (size_t)sprintf(in + len, "next %zu\n", i);
	}
	rp_cmd_spit("in", in, len);
	for (size_t k = 0; k < 4; k++) {
		size_t n;
		/* 2: count on the way; 3: lines longer than a record. */
		snprintf(line, sizeof(line),
			 "file-source --%s in ! %sfile-sink @ring=4K %sout",
			 k == 3 ? "lines" : "blocks 100",
			 k >= 2 ? "count @ring=4K ! " : "", sinks[k]);
		CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
		free(text);
		out = rp_cmd_slurp("out", &n);
		if (n != len || memcmp(out, in, len) != 0) {
			fprintf(stderr, "file-sink %s: %zu bytes out of %zu\n",
				sinks[k], n, len);
			CU_FAIL("blocks did not come out as they went in");
		}
		free(out);
	}
	for (size_t k = 0; k < sizeof(narrowing) / sizeof(*narrowing); k++) {
		size_t n;
		snprintf(line, sizeof(line), "%s", narrowing[k]);
		CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
		CU_ASSERT(strstr(text, "restarting") == NULL);
		out = rp_cmd_slurp("out", &n);
		if (n != len || memcmp(out, in, len) != 0) {
			fprintf(stderr, "%s: %zu bytes out of %zu\n%s\n",
				narrowing[k], n, len, text);
			CU_FAIL("lines did not come out as they went in");
		}
		free(out);
		free(text);
	}
	free(in);
	rp_cmd_dir_remove();
}

/* Lines longer than a 4K ring's largest record (2024 bytes) travel as
 * pieces: `head 4` passes the first four lines whole, each counted once,
 * and file-sink --lines writes them whole: what head -4 gives. */
RP_TEST(test_head_counts_long_lines, 60)
{
	static const size_t lens[] = {5000, 1, 2024, 9000, 3, 4};
	size_t len = 0, want = 0, n;
	char *in = malloc(32 * 1024), line[256], *text, *out;
	char *args[] = {"-e", line, NULL};

	CU_ASSERT_FATAL(in != NULL);
	rp_cmd_dir_make("files");
	for (size_t i = 0; i < sizeof(lens) / sizeof(*lens); i++) {
		len += put_line(in + len, lens[i], (char)('a' + i));
		if (i == 3)
			want = len;
	}
	rp_cmd_spit("in", in, len);
	snprintf(line, sizeof(line),
		 "file-source --lines in ! head @ring=4K 4 ! file-sink "
		 "--lines out");
	CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
	free(text);
	out = rp_cmd_slurp("out", &n);
	if (n != want || memcmp(out, in, want) != 0) {
		fprintf(stderr, "head 4: %zu bytes out, want %zu\n", n, want);
		CU_FAIL("head did not pass four whole lines");
	}
	free(out);
	free(in);
	rp_cmd_dir_remove();
}

/* A source's "in" in the report is what it made: four chunks of 4 KiB,
 * ten lines of an exec source (its last records made in the call that
 * also said it was done were once left out). */
RP_TEST(test_source_counts, 60)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
		{"file-source --chunks 4k in ! count",
		 "  1-file-source    done      in 4 "},
		{"exec -- seq 1 10 ! count", "  1-exec           done      in 10 "},
	};
	char *buf = calloc(1, 16384), line[256], *text;
	char *args[] = {"-e", line, NULL};

	CU_ASSERT_FATAL(buf != NULL);
	rp_cmd_dir_make("files");
	rp_cmd_spit("in", buf, 16384);
	free(buf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(line, sizeof(line), "%s", cases[i].line);
		CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 0);
		if (!strstr(text, cases[i].want)) {
			fprintf(stderr, "%s\n", text);
			CU_FAIL("a source's count is not what it made");
		}
		free(text);
	}
	rp_cmd_dir_remove();
}

/* `ringpipe ... | head -1`: the last stage's reader goes; the stage
 * ends as a filter finished early does, the stages before it stop, the
 * run exits 0 at once - not a write error retried five times over 3 s.
 * A file-sink sees EPIPE; an exec stage's program writing stdout is
 * killed by SIGPIPE, as in the shell's pipeline (with --each, the run
 * of the record after: the stage ends there, not one run a record).
 * The stage's note of it is left out under -q. */
RP_TEST(test_sink_reader_gone, 60)
{
	static const struct {
		const char *last, *said;
	} cases[] = {
		{"file-sink --lines -",
		 "file-sink: stdout: its reader is gone: ending early"},
		{"exec -- cat", "exec: cat: its reader is gone: ending early"},
		{"exec --each -- cat",
		 "exec: cat: its reader is gone: ending early"},
	};
	char cmd[1024], bin[600], in[256], *err, *got, *code;
	size_t n;

	rp_cmd_dir_make("files");
	rp_cmd_bin(bin, sizeof(bin));
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 300000);
	/* Under -q the note, a normal end, is left out: a cron job's
	 * stderr stays empty. */
	for (size_t k = 0; k < 2 * sizeof(cases) / sizeof(*cases); k++) {
		size_t i = k / 2;
		int quiet = k % 2;
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && (timeout 30 '%s' %s-e 'file-source --lines "
			 "in ! grep line ! %s' 2>ERR; echo $? >CODE) | "
			 "head -1 >OUT",
			 rp_cmd_dir(), bin, quiet ? "-q " : "", cases[i].last);
		CU_ASSERT_FATAL(system(cmd) == 0);
		code = rp_cmd_slurp("CODE", &n);
		got = rp_cmd_slurp("OUT", &n);
		err = rp_cmd_slurp("ERR", &n);
		CU_ASSERT_STRING_EQUAL(got, "line 0\n");
		CU_ASSERT_STRING_EQUAL(code, "0\n");
		if (quiet)
			CU_ASSERT_STRING_EQUAL(err, "");
		CU_ASSERT(quiet || strstr(err, cases[i].said) != NULL);
		CU_ASSERT(strstr(err, "restarting") == NULL);
		if (strcmp(code, "0\n") != 0 ||
		    !(quiet ? !*err : strstr(err, cases[i].said) != NULL))
			fprintf(stderr, "%s%s: exit %s%s\n",
				quiet ? "-q " : "", cases[i].last, code, err);
		free(code);
		free(got);
		free(err);
	}
	rp_cmd_dir_remove();
}

/* What a restart would only repeat fails the run at once: a sink over
 * its file_size limit (a write error, not a death by SIGXFSZ), a source
 * whose file is missing, a --records input cut inside a frame. */
RP_TEST(test_fixed_failures_not_restarted, 60)
{
	static const struct {
		const char *line, *said;
		int code;
	} cases[] = {
		{"file-source --lines in ! file-sink @file_size=4K --lines "
		 "fs.out",
		 "file-sink: writing fs.out: File too large", 1},
		/* (Found before anything starts, at its stage.) */
		{"file-source --lines missing ! file-sink --lines out",
		 "-e:1:1: stage '1-file-source': missing: No such file or "
		 "directory", 2},
		{"file-source --records cut ! file-sink --lines out",
		 "file-source: cut: ends inside a frame (offset 0)", 1},
	};
	char in[256], line[256], *text;
	char *args[] = {"-e", line, NULL};

	rp_cmd_dir_make("files");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 2000);
	rp_cmd_spit("cut", "\x10\0\0\0abc", 7);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(line, sizeof(line), "%s", cases[i].line);
		CU_ASSERT_EQUAL(rp_cmd_run(args, &text), cases[i].code);
		if (!strstr(text, cases[i].said) ||
		    strstr(text, "restarting") || strstr(text, "signal")) {
			fprintf(stderr, "case %zu:\n%s\n", i, text);
			CU_FAIL("not failed at once, saying why");
		}
		free(text);
	}
	rp_cmd_dir_remove();
}

/* A file-sink given a FIFO waits for its reader as `cat > FIFO` does:
 * one that comes half a second later gets every line.  With no reader
 * the stage fails within the start, naming the FIFO, rather than the
 * supervisor giving up on a start without its hand-shake after 10 s. */
RP_TEST(test_sink_fifo_reader, 60)
{
	char cmd[1024], bin[600], fifo[256], in[256], line[256], *got, *text;
	char *args[] = {"-e", line, NULL};
	struct timespec t0, t1;
	size_t n;

	rp_cmd_dir_make("files");
	rp_cmd_bin(bin, sizeof(bin));
	rp_cmd_path(fifo, sizeof(fifo), "fifo");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 5000);
	CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && { (sleep 0.5; exec timeout 30 cat fifo >OUT) & "
		 "timeout 30 '%s' -e 'file-source --lines in ! file-sink "
		 "--lines fifo' 2>ERR; echo $? >CODE; wait; }",
		 rp_cmd_dir(), bin);
	CU_ASSERT_FATAL(system(cmd) == 0);
	got = rp_cmd_slurp("CODE", &n);
	CU_ASSERT_STRING_EQUAL(got, "0\n");
	free(got);
	got = rp_cmd_slurp("OUT", &n);
	text = rp_cmd_slurp("in", &n);
	CU_ASSERT_STRING_EQUAL(got, text);
	free(got);
	free(text);

	/* Nobody reads it: a failure in about 5 s, not a hand-shake lost. */
	if (!rp_test_sanitized()) {
		snprintf(line, sizeof(line),
			 "file-source --lines in ! file-sink --lines fifo");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CU_ASSERT_EQUAL(rp_cmd_run(args, &text), 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		CU_ASSERT(t1.tv_sec - t0.tv_sec < 9);
		CU_ASSERT(strstr(text, "a FIFO that no reader opened within "
				       "5 s") != NULL);
		CU_ASSERT(strstr(text, "hand-shake") == NULL);
		CU_ASSERT(strstr(text, "restarting") == NULL);
		free(text);
	}
	rp_cmd_dir_remove();
}

/* A reader of the FIFO paths[0] into the file paths[1] as it reads,
 * until the end. */
static int fifo_reader(void *arg)
{
	char (*paths)[256] = arg;
	char buf[4096];
	int in = open(paths[0], O_RDONLY | O_CLOEXEC);
	int out = open(paths[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		       0644);
	ssize_t n;

	if (in < 0 || out < 0)
		return 1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return 1;
	return n == 0 ? 0 : 1;
}

/* A file-sink on a FIFO, SIGKILLed between batches of lines (a record
 * it dies writing may arrive cut: not tested): its reader does not see
 * the end of the stream there (the supervisor holds the FIFO open), and
 * the restart writes on to it.  Every line reaches the reader, in order
 * after the restart's repeats (at least once), the reader sees the end
 * once the run is over, exit 0.  (The restart used to find no reader:
 * it had seen the first writer's end and gone, and the run failed.) */
RP_TEST(test_sink_fifo_restarted, 60)
{
	char name[48], yaml[512], p[256], fifo[2][256], *got;
	char *args[] = {"run", p, NULL};
	int fds[2], code;
	pid_t pid, reader;
	size_t n;

	rp_cmd_dir_make("files");
	rp_cmd_path(p, sizeof(p), "s.yaml");
	rp_cmd_path(fifo[0], sizeof(fifo[0]), "fifo");
	rp_cmd_path(fifo[1], sizeof(fifo[1]), "got");
	CU_ASSERT_FATAL(mkfifo(fifo[0], 0600) == 0);
	snprintf(name, sizeof(name), "fifo-%d", (int)getpid());
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, \"-\"]}\n"
		 "  - {name: write, input: read, run: file-sink, "
		 "args: [--lines, fifo], restart_backoff_ms: 0}\n",
		 name);
	rp_cmd_spit("s.yaml", yaml, strlen(yaml));
	reader = rp_test_fork(fifo_reader, fifo);
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	pid = rp_cmd_start(args, fds[0]);
	close(fds[0]);
	write_numbered(fds[1], 0, 100);
	for (int i = 0; i < 2000 && rp_cmd_lines("got") < 100; i++)
		usleep(5000);
	CU_ASSERT_EQUAL(rp_cmd_lines("got"), 100);
	CU_ASSERT(kill_and_await_restart(name, "write", 0));
	/* The reader is still there, not at the end of its stream. */
	CU_ASSERT_EQUAL(waitpid(reader, NULL, WNOHANG), 0);
	write_numbered(fds[1], 100, 200);
	close(fds[1]);
	code = rp_test_exit_code(rp_test_wait(pid, 30));
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(reader, 10)), 0);
	got = rp_cmd_slurp("got", &n);
	{
		/* Each line there, in order once repeats are set aside: a
		 * line is either the next one wanted or one seen before. */
		int next = 0, bad = 0;
		for (size_t i = 0; i < n;) {
			char *e = memchr(got + i, '\n', n - i);
			int num;
			if (e == NULL || sscanf(got + i, "line %d", &num) != 1)
				bad++;
			else if (num == next)
				next++;
			else if (num > next)
				bad++;
			i = e ? (size_t)(e - got) + 1 : n;
		}
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT_EQUAL(next, 200);
		if (bad || next != 200 || code != 0) {
			char *text = rp_cmd_slurp("REPORT", &n);
			fprintf(stderr, "%s\nlines to %d, %d out of place\n",
				text, next, bad);
			free(text);
		}
	}
	free(got);
	rp_cmd_dir_remove();
}

/* A log rotation under a running pipeline: the file a file-source reads
 * renamed away and a new one made under its name, or the file a
 * file-sink writes renamed away or emptied, then the stage killed.  Its
 * restart opens the name again: not the file its place was in.  It
 * used to read the new file from the old one's offset (the lines before
 * it lost, the old file's rest too, "exactly-once" and exit 0), or to
 * cut a new file "back" to the old one's length (zeros where the lines
 * had been).  Now said, naming the file, and the run fails; the old
 * file is left whole. */
RP_TEST(test_file_rotated_under_restart, 60)
{
	char name[48], yaml[768], p[256], from[256], to[256], *text, *got;
	char *args[] = {"run", p, NULL};
	int fds[2], code;
	pid_t pid;
	size_t n;

	rp_cmd_dir_make("files");
	rp_cmd_path(p, sizeof(p), "r.yaml");
	rp_cmd_path(from, sizeof(from), "IN");
	rp_cmd_write_lines(from, 20000);
	snprintf(name, sizeof(name), "rot-%d", (int)getpid());
	/* The source held up mid-file by a reader that reads one line. */
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, IN], "
		 "restart_backoff_ms: 0}\n"
		 "  - {name: slow, input: read, run: exec, ring: 4K, "
		 "args: [--, sh, -c, 'read l; sleep 30']}\n",
		 name);
	rp_cmd_spit("r.yaml", yaml, strlen(yaml));
	pid = rp_cmd_start(args, -1);
	CU_ASSERT(signal_stage(name, "read", 100, 0));
	rp_cmd_path(to, sizeof(to), "IN.old");
	CU_ASSERT(rename(from, to) == 0);
	rp_cmd_write_lines(from, 100);
	CU_ASSERT(signal_stage(name, "read", 0, SIGKILL));
	code = rp_test_exit_code(rp_test_wait(pid, 20));
	CU_ASSERT_EQUAL(code, 1);
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT(text != NULL &&
		  strstr(text, "file-source: IN: not the file it had read up "
			       "to byte ") != NULL &&
		  strstr(text, "renamed or replaced since (a log rotation?)") !=
			  NULL);
	if (code != 1)
		fprintf(stderr, "%s\n", text);
	free(text);

	/* The sink's file renamed away, then emptied in place. */
	for (int how = 0; how < 2; how++) {
		rp_cmd_path(to, sizeof(to), "OUT");
		snprintf(yaml, sizeof(yaml),
			 "name: %s\nstages:\n"
			 "  - {name: read, run: file-source, "
			 "args: [--lines, \"-\"]}\n"
			 "  - {name: write, input: read, run: file-sink, "
			 "args: [--lines, OUT], restart_backoff_ms: 0}\n",
			 name);
		rp_cmd_spit("r.yaml", yaml, strlen(yaml));
		CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
		pid = rp_cmd_start(args, fds[0]);
		close(fds[0]);
		write_numbered(fds[1], 0, 100);
		for (int i = 0; i < 2000 && rp_cmd_lines("OUT") < 100; i++)
			usleep(5000);
		CU_ASSERT_EQUAL(rp_cmd_lines("OUT"), 100);
		if (how == 0) {
			rp_cmd_path(from, sizeof(from), "OUT.old");
			CU_ASSERT(rename(to, from) == 0);
		} else {
			CU_ASSERT(truncate(to, 0) == 0);
		}
		CU_ASSERT(signal_stage(name, "write", 0, SIGKILL));
		write_numbered(fds[1], 100, 200);
		close(fds[1]);
		code = rp_test_exit_code(rp_test_wait(pid, 20));
		CU_ASSERT_EQUAL(code, 1);
		text = rp_cmd_slurp("REPORT", &n);
		CU_ASSERT(text != NULL &&
			  strstr(text, how == 0 ? "file-sink: OUT: not the file "
						  "it had written up to byte "
						: "file-sink: OUT: 0 bytes long, "
						  "shorter than the ") != NULL);
		if (code != 1)
			fprintf(stderr, "%s\n", text);
		free(text);
		/* Nothing but zeros' absence to check in the new file; the
		 * old one whole. */
		got = rp_cmd_slurp(how == 0 ? "OUT.old" : "OUT", &n);
		CU_ASSERT(got != NULL &&
			  (how == 0 ? n == 790 : n == 0) &&
			  memchr(got, '\0', n) == NULL);
		free(got);
		unlink(to);
	}
	rp_cmd_dir_remove();
}

/* file-sink --append: after what the file held, also through restarts -
 * one before its first record came (which must not take what the file
 * holds then for the starting length) and one after 100 lines: the old
 * line, then every line once, in order. */
RP_TEST(test_sink_append_restarts, 60)
{
	char name[48], yaml[512], p[256], *got, want[4096];
	char *args[] = {"run", p, NULL};
	int fds[2], code;
	size_t n, wn = 0;
	pid_t pid;

	rp_cmd_dir_make("files");
	rp_cmd_path(p, sizeof(p), "a.yaml");
	snprintf(name, sizeof(name), "app-%d", (int)getpid());
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, \"-\"]}\n"
		 "  - {name: write, input: read, run: file-sink, "
		 "args: [--lines, --append, OUT], restart_backoff_ms: 0}\n",
		 name);
	rp_cmd_spit("a.yaml", yaml, strlen(yaml));
	rp_cmd_spit("OUT", "old\n", 4);
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	pid = rp_cmd_start(args, fds[0]);
	close(fds[0]);
	/* Killed before its first record, then after 100 lines. */
	CU_ASSERT(signal_stage(name, "write", 0, SIGKILL));
	write_numbered(fds[1], 0, 100);
	for (int i = 0; i < 2000 && rp_cmd_lines("OUT") < 101; i++)
		usleep(5000);
	CU_ASSERT_EQUAL(rp_cmd_lines("OUT"), 101);
	CU_ASSERT(kill_and_await_restart(name, "write", 0));
	write_numbered(fds[1], 100, 200);
	close(fds[1]);
	code = rp_test_exit_code(rp_test_wait(pid, 30));
	CU_ASSERT_EQUAL(code, 0);
	wn = (size_t)sprintf(want, "old\n");
	for (int i = 0; i < 200; i++)
		wn += (size_t)sprintf(want + wn, "line %d\n", i);
	got = rp_cmd_slurp("OUT", &n);
	CU_ASSERT(got != NULL && n == wn && memcmp(got, want, wn) == 0);
	if (got == NULL || n != wn || memcmp(got, want, wn) != 0) {
		char *text = rp_cmd_slurp("REPORT", &n);
		fprintf(stderr, "%s\n", text);
		free(text);
	}
	free(got);
	rp_cmd_dir_remove();
}

/* A file-sink writing the file a file-source reads (by its name,
 * through a link, or as the run's stdin) would empty it as the run
 * starts: refused, and the file is left as it was. */
RP_TEST(test_same_file_refused, 30)
{
	static const char *const lines[] = {
		"file-source --lines same ! grep x ! file-sink --lines same",
		"file-source --lines same ! file-sink --lines link",
	};
	char line[256], p[256], *text, *kept;
	char *args[] = {"-e", line, NULL};
	size_t n;

	rp_cmd_dir_make("files");
	rp_cmd_spit("same", "x 1\nx 2\n", 8);
	rp_cmd_path(p, sizeof(p), "link");
	CU_ASSERT_FATAL(symlink("same", p) == 0);
	for (size_t i = 0; i < 3; i++) {
		int fd = -1, code;
		/* The third: stdin the file the sink writes, as a shell's
		 * `< same` would make it. */
		snprintf(line, sizeof(line), "%s",
			 i < 2 ? lines[i]
			       : "file-source --lines - ! file-sink --lines "
				 "same");
		if (i == 2) {
			rp_cmd_path(p, sizeof(p), "same");
			fd = open(p, O_RDONLY | O_CLOEXEC);
			CU_ASSERT_FATAL(fd >= 0);
		}
		code = rp_test_exit_code(rp_test_wait(rp_cmd_start(args, fd),
						      30));
		if (fd >= 0)
			close(fd);
		text = rp_cmd_slurp("REPORT", &n);
		CU_ASSERT_EQUAL(code, 2);
		CU_ASSERT(strstr(text, "is the file stage '1-file-source' "
				       "reads (it would be emptied as the "
				       "run starts") != NULL);
		free(text);
		kept = rp_cmd_slurp("same", &n);
		CU_ASSERT(n == 8 && memcmp(kept, "x 1\nx 2\n", 8) == 0);
		free(kept);
	}
	rp_cmd_dir_remove();
}

/* Run args (pipeline `pipeline`, found by ringpipe stat) with stdin
 * from in_fd; SIGKILL its stage `victim` once that has sent on `after`
 * records (the next restart goes on).  The run's
 * exit code; *killed says whether the kill came before the end. */
static int run_killing(char *const args[], int in_fd, const char *pipeline,
		       const char *victim, unsigned long after, int *killed)
{
	pid_t pid = rp_cmd_start(args, in_fd);
	char json[8192], key[96];
	int st;

	*killed = 0;
	snprintf(key, sizeof(key), "{\"name\":\"%s\"", victim);
	for (int i = 0; i < 4000 && !*killed; i++) {
		const char *at, *r;
		pid_t v;
		if (rp_cmd_stat_json(pipeline, json, sizeof(json)) == 0 &&
		    (at = strstr(json, key)) != NULL &&
		    (r = strstr(at, "\"records_out\":")) != NULL &&
		    strtoul(r + 14, NULL, 10) >= after &&
		    (v = rp_cmd_stat_pid(json, victim)) > 0) {
			*killed = kill(v, SIGKILL) == 0;
			break;
		}
		if (waitpid(pid, &st, WNOHANG) == pid)
			return rp_test_exit_code(st);
		usleep(2000);
	}
	return rp_test_exit_code(rp_test_wait(pid, 60));
}

/* Lines 0 to 39999 into the pipe fd, in pieces of 997 bytes (most end
 * inside a line, about one in ten at a line's end) 1 ms apart: about
 * half a second. */
static int write_slowly(void *arg)
{
	int fd = *(int *)arg;
	static char text[40000 * 12];
	size_t len = 0;

	for (int i = 0; i < 40000; i++)
		len += (size_t)sprintf(text + len, "line %d\n", i);
	for (size_t at = 0; at < len; at += 997) {
		size_t n = len - at < 997 ? len - at : 997;
		if (write(fd, text + at, n) != (ssize_t)n)
			return 1;
		usleep(1000);
	}
	return 0;
}

/* stdin a regular file of which the first 100 lines were read before
 * ringpipe started: a source killed mid-run seeks back to where its
 * published lines end in the file, not that far from where it began
 * (which repeated 100 lines).  Stdin a pipe: where the crash left it
 * inside a line, the restart drops what is before the next line's start
 * instead of sending it on as a line. */
RP_TEST(test_stdin_restarts, 90)
{
	char in[256], name[48], yaml[512], p[256], *text, *out, *want;
	char *args[] = {"run", p, NULL};
	size_t n, wn;
	off_t skip;
	int fd, killed = 0, tries;

	rp_cmd_dir_make("files");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_path(p, sizeof(p), "s.yaml");
	rp_cmd_write_lines(in, 400000);
	{
		/* The lines after the first 100, as the run should give. */
		char *all = rp_cmd_slurp("in", &n);
		char *at = all;
		for (int i = 0; i < 100; i++)
			at = strchr(at, '\n') + 1;
		skip = (off_t)(at - all);
		rp_cmd_spit("want", at, n - (size_t)skip);
		free(all);
	}
	/* Named for this test alone: another run's stages are not ours. */
	snprintf(name, sizeof(name), "stdin-%d", (int)getpid());
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nstages:\n"
		 "  - {name: read, run: file-source, args: [--lines, \"-\"]}\n"
		 "  - {name: pick, input: read, run: grep, args: [\"[0-9]\"], "
		 "ring: 4K}\n"
		 "  - {name: write, input: pick, run: file-sink, "
		 "args: [--lines, %s], ring: 4K}\n",
		 name, "out");
	rp_cmd_spit("s.yaml", yaml, strlen(yaml));
	for (tries = 0; tries < 3 && !killed; tries++) {
		fd = open(in, O_RDONLY | O_CLOEXEC);
		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT_FATAL(lseek(fd, skip, SEEK_SET) == skip);
		CU_ASSERT_EQUAL(run_killing(args, fd, name, "read", 20000,
					    &killed),
				0);
		close(fd);
	}
	CU_ASSERT(killed);
	/* Read back exactly: the report says so of that stdin, and its
	 * consumer drops what the restart sent again. */
	text = rp_cmd_slurp("REPORT", &n);
	CU_ASSERT(strstr(text, "at-most-once") == NULL);
	CU_ASSERT(strstr(text, "delivery exactly-once") != NULL);
	free(text);
	out = rp_cmd_slurp("out", &n);
	want = rp_cmd_slurp("want", &wn);
	if (n != wn || memcmp(out, want, n) != 0) {
		fprintf(stderr, "%zu bytes out, %zu wanted\n", n, wn);
		CU_FAIL("a part-read stdin replayed from the wrong place");
	}
	free(out);
	free(want);

	/* A pipe, written in pieces that end inside lines: every line that
	 * comes out is a whole line of the input (some are lost: at most
	 * once, as the report says). */
	{
		int fds[2], bad = 0;
		pid_t writer;
		size_t i = 0;
		CU_ASSERT_FATAL(pipe(fds) == 0);
		writer = rp_test_fork(write_slowly, &fds[1]);
		close(fds[1]);
		snprintf(yaml, sizeof(yaml),
			 "name: %s\nstages:\n"
			 "  - {name: read, run: file-source, args: [--lines, "
			 "\"-\"]}\n"
			 "  - {name: pick, input: read, run: grep, args: [\"[0-9]\"], "
			 "ring: 4K}\n"
			 "  - {name: write, input: pick, run: file-sink, "
			 "args: [--lines, pout], ring: 4K}\n",
			 name);
		rp_cmd_spit("s.yaml", yaml, strlen(yaml));
		killed = 0;
		CU_ASSERT_EQUAL(run_killing(args, fds[0], name, "read", 5000,
					    &killed),
				0);
		close(fds[0]);
		CU_ASSERT(killed);
		CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(writer, 30)), 0);
		text = rp_cmd_slurp("REPORT", &n);
		CU_ASSERT(strstr(text, "at-most-once: a restarted source on "
				       "stdin, a pipe or a device") != NULL);
		/* A source has no input record to be killed on. */
		CU_ASSERT(strstr(text, "stage read: killed by signal 9 "
				       "(Killed) as a source (no input "
				       "record); restarting") != NULL);
		/* (Where its last read had ended a line, one piece in ten
		 * or so, nothing is dropped.) */
		CU_ASSERT(strstr(text, "read: file-source: stdin: restarted on a "
				       "pipe: dropped ") != NULL ||
			  strstr(text, "read: file-source: stdin: restarted on a "
				       "pipe at a line's start: nothing "
				       "dropped") != NULL);
		free(text);
		out = rp_cmd_slurp("pout", &n);
		while (i < n) {
			char *e = memchr(out + i, '\n', n - i);
			int num;
			char tail;
			if (e == NULL ||
			    sscanf(out + i, "line %d%c", &num, &tail) != 2 ||
			    tail != '\n' || num < 0 || num >= 40000)
				bad++;
			i = e ? (size_t)(e - out) + 1 : n;
		}
		CU_ASSERT_EQUAL(bad, 0);
		CU_ASSERT(n > 100000);
		free(out);
	}
	rp_cmd_dir_remove();
}

void rp_suite_file_ends(void)
{
	RP_SUITE("files",
		 {"a pipe source restarted inside a long line: no line "
		  "after it lost",
		  test_pipe_restart_inside_long_line},
		 {"--blocks: lines at and across the cut, byte for byte",
		  test_blocks_lines_at_the_cut},
		 {"a source's count is what it made",
		  test_source_counts},
		 {"head counts a long line's pieces as one line",
		  test_head_counts_long_lines},
		 {"| head -1: the last stage's reader gone ends the run at once",
		  test_sink_reader_gone},
		 {"a FIFO sink waits for its reader, fails without one",
		  test_sink_fifo_reader},
		 {"a FIFO sink restarted writes on to the same reader",
		  test_sink_fifo_restarted},
		 {"a file renamed or cut under a restart: said, the run fails",
		  test_file_rotated_under_restart},
		 {"file-sink --append: after what was there, through restarts",
		  test_sink_append_restarts},
		 {"a pipe source restarted where it had ended a line",
		  test_pipe_restart_at_line_start},
		 {"failures a restart would repeat are not retried",
		  test_fixed_failures_not_restarted},
		 {"a file-sink writing the file a file-source reads: refused",
		  test_same_file_refused},
		 {"stdin part read, or a pipe: restarts in the right place",
		  test_stdin_restarts});
}
