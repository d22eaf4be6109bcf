/*
 * test_errout.c - the supervisor's stderr: a reader that went away, or
 * one that stopped reading, stops nothing.  The run goes on and ends as
 * it would have, every record delivered; `ringpipe stat` and Ctrl-C work
 * meanwhile; what could not be shown is counted in a line of its own,
 * and the report is never dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../supervisor/errout.h"
#include "cmd.h"
#include "harness.h"

void rp_suite_errout(void);

/* Read fd until it ends or needle shows up (bounded); what came, to
 * free. */
static char *read_until(int fd, const char *needle, int secs)
{
	size_t cap = 1 << 16, got = 0;
	char *buf = malloc(cap + 1);

	CU_ASSERT_FATAL(buf != NULL);
	buf[0] = '\0';
	for (int64_t end = rp_now_ns() + secs * 1000000000LL;
	     rp_now_ns() < end;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (got == cap) {
			char *more = realloc(buf, 2 * cap + 1);
			CU_ASSERT_FATAL(more != NULL);
			buf = more;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (needle != NULL && strstr(buf, needle) != NULL)
			break;
	}
	return buf;
}

/* `ringpipe ... 2>&1 | head -1`: the reader of stderr is gone after
 * the first line.  The supervisor is not killed by SIGPIPE (exit 141,
 * its stages with it, the output cut short): the run ends as it would
 * have, with exit 0 and every line in the output. */
RP_TEST(test_stderr_reader_gone, 60)
{
	char in[256], out[256], line[700];
	char *args[] = {"-e", line, NULL};
	char *first, *a, *b;
	size_t na, nb;
	int p[2], st;
	pid_t pid;

	rp_cmd_dir_make("errout");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_path(out, sizeof(out), "out");
	rp_cmd_write_lines(in, 200000);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! exec -- sh -c 'echo start >&2; "
		 "sleep 0.3; seq 1 2000 >&2; cat' ! file-sink --lines %s",
		 in, out);
	CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
	pid = rp_cmd_start_err(args, -1, p[1]);
	close(p[1]);
	first = read_until(p[0], "start\n", 20);
	CU_ASSERT(strstr(first, "2-exec: start") != NULL);
	free(first);
	close(p[0]); /* as head does once it has its line */
	st = rp_test_wait(pid, 20);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	a = rp_cmd_slurp("in", &na);
	b = rp_cmd_slurp("out", &nb);
	CU_ASSERT(na > 0 && na == nb && memcmp(a, b, na) == 0);
	free(a);
	free(b);
	rp_cmd_dir_remove();
}

/* A line ending with needle (a terminal ends lines with \r\n). */
static int has_line(const char *text, const char *needle)
{
	size_t n = strlen(needle);

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		if (p[n] == '\n' || (p[n] == '\r' && p[n + 1] == '\n'))
			return 1;
	return 0;
}

/* stderr into a pipe, or a terminal, that nobody reads for a while (a
 * pager left waiting, a terminal stopped with Ctrl-S), while a stage
 * writes 100 000 lines to its own: the supervisor goes on supervising.
 * `ringpipe stat` answers, and Ctrl-C ends every stage at once, though
 * the supervisor itself then waits for the reader to write its last
 * lines.  Once read: a line of its own counts the lines dropped, the
 * report follows whole, exit 130.  On the terminal the progress line,
 * drawn once a second meanwhile, is left out rather than queued. */
static void stderr_not_read(int pty)
{
	char out[256], line[700], text[16384];
	char *args[] = {"-e", line, NULL};
	pid_t pid, writer, stages[3];
	int p[2], q[2], st, asked = -1;
	int64_t t0, took = 0;
	char *rest, *say;

	rp_cmd_dir_make("errout");
	rp_cmd_path(out, sizeof(out), "out");
	snprintf(line, sizeof(line),
		 "file-source --lines - ! exec -- sh -c 'seq 1 100000 >&2; "
		 "cat' ! file-sink --lines %s",
		 out);
	CU_ASSERT_FATAL(pipe2(q, O_CLOEXEC) == 0);
	writer = rp_cmd_slow_lines(q[1]);
	close(q[1]);
	/* (Made after the writer's fork: it must not hold them.) */
	if (pty) {
		p[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		CU_ASSERT_FATAL(p[0] >= 0 && grantpt(p[0]) == 0 &&
				unlockpt(p[0]) == 0);
		p[1] = open(ptsname(p[0]), O_RDWR | O_NOCTTY | O_CLOEXEC);
		CU_ASSERT_FATAL(p[1] >= 0);
	} else {
		CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
	}
	pid = rp_cmd_start_err(args, q[0], p[1]);
	close(q[0]);
	close(p[1]);
	/* The flood is over once lines reach the sink (after seq); on a
	 * terminal, a progress line is due meanwhile. */
	for (int64_t end = rp_now_ns() + 10000000000LL; rp_now_ns() < end;) {
		size_t n = 0;
		free(rp_cmd_slurp("out", &n));
		if (n >= 10 * 7)
			break;
		usleep(20000);
	}
	usleep(1200000);
	t0 = rp_now_ns();
	asked = rp_cmd_stat_json("pipeline", text, sizeof(text));
	took = rp_now_ns() - t0;
	CU_ASSERT_EQUAL(asked, 0);
	CU_ASSERT(took < 1500000000LL);
	stages[0] = rp_cmd_stat_pid(text, "1-file-source");
	stages[1] = rp_cmd_stat_pid(text, "2-exec");
	stages[2] = rp_cmd_stat_pid(text, "3-file-sink");
	CU_ASSERT(stages[0] > 0 && stages[1] > 0 && stages[2] > 0);
	kill(pid, SIGINT);
	/* Every stage gone (reaped) within 3 s, nothing read yet. */
	for (int64_t end = rp_now_ns() + 3000000000LL;;) {
		int left = 0;
		for (int i = 0; i < 3; i++)
			left += stages[i] > 0 &&
				(kill(stages[i], 0) == 0 || errno != ESRCH);
		if (left == 0)
			break;
		if (rp_now_ns() > end) {
			CU_FAIL("stages still there 3 s after Ctrl-C");
			break;
		}
		usleep(10000);
	}
	rest = read_until(p[0], NULL, 10);
	close(p[0]);
	st = rp_test_wait(pid, 10);
	kill(writer, SIGKILL);
	rp_test_wait(writer, 5);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 130);
	CU_ASSERT(has_line(rest, " 2-exec: 1"));
	/* The count, on a line of its own, before the report. */
	say = strstr(rest, " ringpipe: stderr was not read for a while: ");
	CU_ASSERT(say != NULL && say - rest >= 12 &&
		  (say - 12 == rest || say[-13] == '\n'));
	CU_ASSERT(say != NULL && strstr(say, "of messages were dropped") !=
					 NULL);
	CU_ASSERT(say != NULL &&
		  strstr(say, "ringpipe: pipeline pipeline: ") != NULL);
	CU_ASSERT(strlen(rest) < 2 * (1u << 20));
	/* No progress line was shown: the reader lagged at every tick. */
	CU_ASSERT(strstr(rest, "\033[K[") == NULL);
	if (asked != 0 || say == NULL)
		fprintf(stderr, "stat took %.2f s; stderr ended with:\n%s\n",
			took / 1e9,
			strlen(rest) > 2000 ? rest + strlen(rest) - 2000 : rest);
	free(rest);
	rp_cmd_dir_remove();
}

/* (In the plain run only: the terminal's case goes through the same
 * queue, and its progress line too.) */
RP_TEST(test_stderr_not_read, 60)
{
	if (!rp_test_sanitized())
		stderr_not_read(0);
}

RP_TEST(test_stderr_terminal_stopped, 60)
{
	stderr_not_read(1);
}

/* The queue itself, in this process, its stderr a pipe read only once
 * the run is over: the lines before the reader lagged come whole and in
 * order; past the bound whole lines are dropped (a line written after
 * the progress line was left out, too); the progress line is left out
 * while the reader lags and its erasure queued; after rp_errout_last the
 * count comes on a line of its own, then the report whole. */
/* The reader: waits for a byte on go, then reads fd to its end, into
 * the file "got". */
static int late_reader(void *arg)
{
	const int *fds = arg;
	char c, *buf = malloc(4u << 20);
	size_t got = 0;

	close(fds[2]); /* (the writers' ends, the fork's copies) */
	close(fds[3]);
	if (buf == NULL || read(fds[1], &c, 1) != 1)
		return 1;
	for (ssize_t n; got < (4u << 20) &&
			(n = read(fds[0], buf + got, (4u << 20) - got)) > 0;)
		got += (size_t)n;
	rp_cmd_spit("got", buf, got);
	free(buf);
	return 0;
}

/* stderr into a pipe whose reader (late_reader) starts reading only
 * when told, and the queue begun. */
struct late {
	pid_t reader;
	int go;    /* written to: the reader starts */
	int saved; /* our stderr before */
};

static void late_begin(struct late *l)
{
	int p[2], g[2], fds[4];

	rp_cmd_dir_make("errout");
	CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0 && pipe2(g, O_CLOEXEC) == 0);
	fds[0] = p[0];
	fds[1] = g[0];
	fds[2] = p[1];
	fds[3] = g[1];
	l->reader = rp_test_fork(late_reader, fds);
	close(p[0]);
	close(g[0]);
	l->go = g[1];
	l->saved = dup(STDERR_FILENO);
	CU_ASSERT_FATAL(l->saved >= 0 && dup2(p[1], STDERR_FILENO) == 2);
	close(p[1]);
	rp_errout_begin();
}

/* The reader comes: the rest is written, stderr is ours again, and what
 * the reader got is returned (to free), *got bytes. */
static char *late_end(struct late *l, size_t *got)
{
	CU_ASSERT(write(l->go, "g", 1) == 1);
	close(l->go);
	rp_errout_end();
	dup2(l->saved, STDERR_FILENO);
	close(l->saved);
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(l->reader, 20)), 0);
	return rp_cmd_slurp("got", got);
}

RP_TEST(test_queue_lines_whole, 60)
{
	size_t got = 0, want = 0;
	char *buf, *say;
	unsigned long long lines = 0, bytes = 0;
	struct late lt;

	late_begin(&lt);
	CU_ASSERT(rp_errout_fd() < 0);
	for (int i = 0; i < 100000; i++)
		fprintf(stderr, "L%06d %s\n", i, "....................");
	CU_ASSERT(rp_errout_fd() > 2);
	CU_ASSERT_EQUAL(rp_errout_transient("\r\033[K[1s] progress", 17, 0),
			0);
	CU_ASSERT_EQUAL(rp_errout_transient("\r\033[K", 4, 1), 1);
	fprintf(stderr, "after the erasure, longer than the lines before\n");
	rp_errout_last();
	fprintf(stderr, "REPORT first\nREPORT last\n");
	/* The reader comes: the rest is written, then stderr is ours. */
	buf = late_end(&lt, &got);
	/* Whole lines from the first on, in order (what the pipe took,
	 * then the queue), then the erasure, then the count. */
	say = strstr(buf, " ringpipe: stderr was not read for a while: ");
	CU_ASSERT_FATAL(say != NULL);
	{
		char *l = buf;
		for (;; want++) {
			char expect[40];
			int n = snprintf(expect, sizeof(expect), "L%06zu %s\n",
					 want, "....................");
			if (strncmp(l, expect, (size_t)n) != 0)
				break;
			l += n;
		}
		CU_ASSERT(want > 1000 &&
			  want * 29 <= RP_ERROUT_QUEUE + (1u << 20));
		CU_ASSERT(strncmp(l, "\r\033[K", 4) == 0 && l + 4 == say - 12);
	}
	CU_ASSERT_EQUAL(sscanf(say, " ringpipe: stderr was not read for a "
				    "while: %llu lines (%llu bytes)",
			       &lines, &bytes),
			2);
	/* Every line not shown is counted, the one after the erasure too. */
	CU_ASSERT_EQUAL(lines, 100000 - want + 1);
	CU_ASSERT(strstr(buf, "progress") == NULL);
	CU_ASSERT(strstr(buf, "after the erasure") == NULL);
	CU_ASSERT(strstr(say, "dropped\nREPORT first\nREPORT last\n") !=
		  NULL);
	free(buf);
	rp_cmd_dir_remove();
}

/* One line longer than the whole queue (a stage's message of 2.5 MiB)
 * while the reader lags: the pipe takes its start, and then its rest is
 * queued whatever the room, so it arrives whole, never cut where the
 * pipe was full.  The line after it, with the queue over its limit, is
 * dropped whole and counted. */
RP_TEST(test_queue_long_line_whole, 60)
{
	const size_t len = (5u << 20) / 2;
	size_t got = 0;
	char *line = malloc(len + 1), *buf, *say;
	unsigned long long lines = 0;
	struct late lt;

	CU_ASSERT_FATAL(line != NULL);
	for (size_t i = 0; i < len; i++)
		line[i] = (char)('a' + i % 23);
	line[len] = '\n';
	late_begin(&lt);
	CU_ASSERT(fwrite(line, 1, len + 1, stderr) == len + 1);
	fflush(stderr);
	CU_ASSERT(rp_errout_fd() > 2); /* the pipe did not take it all */
	fprintf(stderr, "the next line\n");
	rp_errout_last();
	fprintf(stderr, "REPORT\n");
	buf = late_end(&lt, &got);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT(got > len && memcmp(buf, line, len + 1) == 0);
	say = got > len ? strstr(buf + len + 1, " ringpipe: stderr was not "
						"read for a while: ")
			: NULL;
	CU_ASSERT_FATAL(say != NULL);
	CU_ASSERT_EQUAL(sscanf(say, " ringpipe: stderr was not read for a "
				    "while: %llu lines",
			       &lines),
			1);
	CU_ASSERT_EQUAL(lines, 1);
	CU_ASSERT(strstr(buf + len + 1, "the next line") == NULL);
	CU_ASSERT(strstr(say, "dropped\nREPORT\n") != NULL);
	free(buf);
	free(line);
	rp_cmd_dir_remove();
}

/* stderr a terminal's master side (a program that runs ringpipe on a
 * terminal of its own and reads what it writes through the slave): it
 * is written as it is, not opened again through /proc, which would make
 * a new terminal whose lines nobody sees. */
RP_TEST(test_terminal_master_side, 30)
{
	static const char want[] = "one\ntwo\nthree\n";
	char got[256];
	size_t n = 0;
	int m, sl, saved;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	CU_ASSERT_FATAL(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0);
	sl = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	CU_ASSERT_FATAL(sl >= 0);
	saved = dup(STDERR_FILENO);
	CU_ASSERT_FATAL(saved >= 0 && dup2(m, STDERR_FILENO) == 2);
	rp_errout_begin();
	fputs("one\n", stderr);
	fputs("two\nthree\n", stderr);
	rp_errout_last();
	rp_errout_end();
	dup2(saved, STDERR_FILENO);
	close(saved);
	/* What the slave reads, a line at a time (bounded). */
	for (int64_t end = rp_now_ns() + 2000000000LL;
	     n < strlen(want) && rp_now_ns() < end;) {
		struct pollfd p = {.fd = sl, .events = POLLIN};
		ssize_t r;
		if (poll(&p, 1, 100) <= 0)
			continue;
		r = read(sl, got + n, sizeof(got) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	got[n] = '\0';
	CU_ASSERT_STRING_EQUAL(got, want);
	close(sl);
	close(m);
}

/* After the run, the supervisor waits for a reader of stderr that is
 * not reading, to give it the report: Ctrl-Z stops it there as it would
 * any job (its stages are gone), fg goes on with the wait, and once read
 * the report is whole and the exit 0. */
RP_TEST(test_ctrl_z_while_stderr_waits, 60)
{
	char in[256], line[700];
	char *args[] = {"-e", line, NULL};
	char *rest;
	int p[2], st;
	char state = '?';
	pid_t pid;

	rp_cmd_dir_make("errout");
	rp_cmd_path(in, sizeof(in), "in");
	rp_cmd_write_lines(in, 10);
	snprintf(line, sizeof(line),
		 "file-source --lines %s ! exec -- sh -c 'seq 1 100000 >&2; "
		 "cat' ! count",
		 in);
	CU_ASSERT_FATAL(pipe2(p, O_CLOEXEC) == 0);
	pid = rp_cmd_start_job_err(args, -1, p[1]);
	close(p[1]);
	/* The run is over once no stage is left; then it waits. */
	CU_ASSERT(rp_cmd_await_childless(pid, 20));
	usleep(300000);
	CU_ASSERT_EQUAL(rp_cmd_proc_state(pid, NULL), 'S');
	kill(pid, SIGTSTP);
	for (int64_t end = rp_now_ns() + 2000000000LL;
	     (state = rp_cmd_proc_state(pid, NULL)) != 'T' &&
	     rp_now_ns() < end;)
		usleep(20000);
	CU_ASSERT_EQUAL(state, 'T');
	kill(pid, SIGCONT);
	rest = read_until(p[0], NULL, 20);
	close(p[0]);
	st = rp_test_wait(pid, 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), 0);
	CU_ASSERT(strstr(rest, "of messages were dropped") != NULL);
	CU_ASSERT(strstr(rest, "ringpipe: pipeline pipeline: ") != NULL);
	free(rest);
	rp_cmd_dir_remove();
}

void rp_suite_errout(void)
{
	RP_SUITE("errout",
		 {"the queue: whole lines, counted drops, the report whole",
		  test_queue_lines_whole},
		 {"a line longer than the queue arrives whole",
		  test_queue_long_line_whole},
		 {"the reader of stderr gone: the run ends as it would have",
		  test_stderr_reader_gone},
		 {"stderr not read: stat and Ctrl-C work, drops are counted",
		  test_stderr_not_read},
		 {"the same on a terminal, with its progress line",
		  test_stderr_terminal_stopped},
		 {"stderr a terminal's master side is written as it is",
		  test_terminal_master_side},
		 {"Ctrl-Z while the report waits for its reader",
		  test_ctrl_z_while_stderr_waits});
}
