/*
 * cmd.c - running the ringpipe command from tests (see cmd.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "cmd.h"
#include "harness.h"

extern char **environ;

static char dir[128];

void rp_cmd_dir_make(const char *prefix)
{
	snprintf(dir, sizeof(dir), "/tmp/rp-%s-%d-XXXXXX", prefix,
		 (int)getpid());
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	/* The shell's tools and the pipeline's see the same bytes and
	 * collate the same way. */
	setenv("LC_ALL", "C", 1);
	/* Sanitized stages cannot run the leak checker's stop-the-world
	 * inside their sandbox. */
	if (rp_test_sanitized())
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
}

const char *rp_cmd_dir(void)
{
	return dir;
}

void rp_cmd_dir_remove(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CU_ASSERT(system(cmd) == 0);
}

void rp_cmd_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

void rp_cmd_spit(const char *name, const void *data, size_t len)
{
	char p[256];
	FILE *f;

	rp_cmd_path(p, sizeof(p), name);
	f = fopen(p, "w");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT(fwrite(data, 1, len, f) == len);
	fclose(f);
}

char *rp_cmd_slurp(const char *name, size_t *len)
{
	char p[256], *buf;
	FILE *f;
	long n;

	rp_cmd_path(p, sizeof(p), name);
	*len = 0;
	f = fopen(p, "r");
	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	fclose(f);
	return buf;
}

/* Start ringpipe with args in dir, stdin from in_fd (-1: /dev/null),
 * stdout and stderr into the file REPORT. */
pid_t rp_cmd_start(char *const args[], int in_fd)
{
	return rp_cmd_start_err(args, in_fd, -1);
}

void rp_cmd_bin(char *bin, size_t len)
{
	const char *b = getenv("RP_TEST_BUILD");
	char cwd[512];

	/* It runs in dir: the binary's path must not be relative. */
	CU_ASSERT_FATAL(getcwd(cwd, sizeof(cwd)) != NULL);
	b = b ? b : "build/plain";
	snprintf(bin, len, "%s%s%s/ringpipe", b[0] == '/' ? "" : cwd,
		 b[0] == '/' ? "" : "/", b);
}

static pid_t start(char *const args[], int in_fd, int err_fd, int job)
{
	char bin[1024], rep[256], *argv[16];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;
	int n = 0;

	rp_cmd_bin(bin, sizeof(bin));
	rp_cmd_path(rep, sizeof(rep), "REPORT");
	argv[n++] = bin;
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addchdir_np(&fa, dir);
	if (in_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
						 0);
	posix_spawn_file_actions_addopen(&fa, 1, rep,
					 O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, err_fd >= 0 ? err_fd : 1, 2);
	posix_spawnattr_init(&at);
	if (job) {
		posix_spawnattr_setpgroup(&at, 0);
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	}
	CU_ASSERT_FATAL(posix_spawn(&pid, bin, &fa, &at, argv, environ) == 0);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

pid_t rp_cmd_start_err(char *const args[], int in_fd, int err_fd)
{
	return start(args, in_fd, err_fd, 0);
}

pid_t rp_cmd_start_job(char *const args[], int in_fd)
{
	return start(args, in_fd, -1, 1);
}

pid_t rp_cmd_start_job_err(char *const args[], int in_fd, int err_fd)
{
	return start(args, in_fd, err_fd, 1);
}

/* Run ringpipe to its end (bounded); its exit code, and in *report (to
 * free) what it printed. */
int rp_cmd_run(char *const args[], char **report)
{
	size_t n;
	int st = rp_test_wait(rp_cmd_start(args, -1), 60);

	*report = rp_cmd_slurp("REPORT", &n);
	/* Whatever the run, the supervisor's lifecycle table held. */
	if (strstr(*report, "is not a transition") != NULL) {
		fprintf(stderr, "%s\n", *report);
		CU_FAIL("a stage changed state outside the table");
	}
	return rp_test_exit_code(st);
}

static int slow_lines(void *arg)
{
	int fd = *(int *)arg;
	char line[64];

	for (int i = 0; i < 3000; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		if (write(fd, line, (size_t)n) != n)
			return 0;
		usleep(20000);
	}
	return 0;
}

pid_t rp_cmd_slow_lines(int fd)
{
	return rp_test_fork(slow_lines, &fd);
}

int rp_cmd_signal_slow(char *const args[], int sig)
{
	int p[2], st;
	pid_t pid, writer;

	CU_ASSERT_FATAL(pipe(p) == 0);
	writer = rp_cmd_slow_lines(p[1]);
	close(p[1]);
	pid = rp_cmd_start(args, p[0]);
	close(p[0]);
	usleep(700000);
	kill(pid, sig);
	st = rp_test_wait(pid, 20);
	kill(writer, SIGKILL);
	rp_test_wait(writer, 5);
	return rp_test_exit_code(st);
}

int rp_cmd_yaml(const char *verb, const char *yaml, char **report)
{
	char p[256];
	char *args[] = {(char *)verb, p, NULL};

	rp_cmd_spit("p.yaml", yaml, strlen(yaml));
	rp_cmd_path(p, sizeof(p), "p.yaml");
	return rp_cmd_run(args, report);
}


int rp_cmd_stat_json(const char *pipeline, char *text, size_t cap)
{
	char bin[512];
	size_t have = 0;
	int fds[2];
	pid_t kid;

	rp_cmd_bin(bin, sizeof(bin));
	if (cap == 0 || pipe(fds) < 0)
		return -1;
	kid = fork();
	if (kid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(fds[1], 1);
		if (nul >= 0)
			dup2(nul, 2); /* "not running yet" */
		execl(bin, "ringpipe", "stat", pipeline, "--json",
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (ssize_t n; kid > 0 && have + 1 < cap &&
			(n = read(fds[0], text + have, cap - 1 - have)) > 0;)
		have += (size_t)n;
	close(fds[0]);
	text[have] = '\0';
	if (kid < 0 || rp_test_exit_code(rp_test_wait(kid, 10)) != 0)
		return -1;
	return 0;
}

pid_t rp_cmd_stat_pid(const char *text, const char *stage)
{
	char key[96];
	const char *at, *end, *p;

	snprintf(key, sizeof(key), "{\"name\":\"%s\"", stage);
	if ((at = strstr(text, key)) == NULL)
		return 0;
	end = strstr(at + 1, "{\"name\":");
	p = strstr(at, "\"pid\":");
	if (p == NULL || (end != NULL && p > end) ||
	    strncmp(p + 6, "null", 4) == 0)
		return 0;
	return (pid_t)atoi(p + 6);
}

/* The first process (not this one) whose command line, its words
 * NUL-separated in buf[0, n) (buf[n] is a NUL, and buf may be written),
 * match accepts; 0 if none. */
static pid_t find_cmdline(int (*match)(char *buf, size_t n, void *arg),
			  void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	while (d != NULL && (e = readdir(d)) != NULL && found == 0) {
		char path[300], buf[4096];
		ssize_t n;
		int fd;
		if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
		    atoi(e->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (match(buf, (size_t)n, arg))
			found = (pid_t)atoi(e->d_name);
	}
	if (d != NULL)
		closedir(d);
	return found;
}

struct words {
	const char *a, *b;
};

/* Both words (b may be NULL) anywhere in the line, its words joined by
 * blanks. */
static int mentions(char *buf, size_t n, void *arg)
{
	const struct words *w = arg;

	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return strstr(buf, w->a) && (w->b == NULL || strstr(buf, w->b));
}

/* Exactly the two words a b. */
static int is_argv(char *buf, size_t n, void *arg)
{
	const struct words *w = arg;
	size_t l0 = strlen(w->a);

	return strcmp(buf, w->a) == 0 && n > l0 + 1 &&
	       strcmp(buf + l0 + 1, w->b) == 0 &&
	       l0 + 1 + strlen(w->b) + 1 == n;
}

pid_t rp_cmd_find_process(const char *token, const char *also)
{
	struct words w = {token, also};

	return find_cmdline(mentions, &w);
}

pid_t rp_cmd_find_argv(const char *a0, const char *a1)
{
	struct words w = {a0, a1};

	return find_cmdline(is_argv, &w);
}

void rp_cmd_write_kinds(const char *name, int n,
			const char *(*kind)(int i, int n))
{
	size_t len = 0, cap = 32 * (size_t)n + 32;
	char *text = malloc(cap);

	CU_ASSERT_FATAL(text != NULL);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%.16s %d\n",
					kind(i, n), i);
	rp_cmd_spit(name, text, len);
	free(text);
}

void rp_cmd_write_lines(const char *path, int n)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_FATAL(f != NULL);
	for (int i = 0; i < n; i++)
		fprintf(f, "line %d\n", i);
	fclose(f);
}

pid_t rp_cmd_start_denied(char *const args[], int nr, int err, int nobody)
{
	char rep[256], bin[1024], *argv[16];
	pid_t pid;
	int k = 0;

	rp_cmd_path(rep, sizeof(rep), "REPORT");
	rp_cmd_bin(bin, sizeof(bin));
	argv[k++] = bin;
	while (*args && k < 15)
		argv[k++] = *args++;
	argv[k] = NULL;
	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		int out = open(rep, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			       0644);
		int in = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (ctx == NULL || out < 0 || in < 0 || chdir(dir) ||
		    dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(99);
		if (nobody && (setgroups(0, NULL) < 0 ||
			       setresgid(65534, 65534, 65534) < 0 ||
			       setresuid(65534, 65534, 65534) < 0))
			_exit(97);
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)err), nr, 0) ||
		    seccomp_load(ctx))
			_exit(96);
		execv(bin, argv);
		_exit(98);
	}
	return pid;
}

int rp_cmd_run_denied(char *const args[], int nr, int err, int nobody,
		      char **report)
{
	pid_t pid = rp_cmd_start_denied(args, nr, err, nobody);
	size_t n;
	int st = rp_test_wait(pid, 60);

	*report = rp_cmd_slurp("REPORT", &n);
	return rp_test_exit_code(st);
}


/* /proc/PID/stat's state letter, and the ppid; '?' if it is gone. */
char rp_cmd_proc_state(pid_t pid, pid_t *ppid)
{
	char path[64], buf[512], *rp;
	int n = -1, fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	if (rp == NULL || rp[1] != ' ')
		return '?';
	if (ppid)
		*ppid = (pid_t)strtol(rp + 4, NULL, 10);
	return rp[2];
}

/* The states of pid's children, as a string of letters. */
void rp_cmd_child_states(pid_t pid, char *out, size_t len)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)) != NULL && n + 1 < len) {
		pid_t c = (pid_t)atoi(e->d_name), pp = 0;
		char st;
		if (c <= 0)
			continue;
		st = rp_cmd_proc_state(c, &pp);
		if (st != '?' && pp == pid)
			out[n++] = st;
	}
	out[n] = '\0';
	if (d)
		closedir(d);
}

int rp_cmd_tree(pid_t pid, pid_t *pids, int max)
{
	int n = 0, grew = 1;

	if (max < 1)
		return 0;
	pids[n++] = pid;
	/* Again until a pass finds no one new: a child listed in /proc
	 * before its parent was known is taken on the next pass. */
	while (grew && n < max) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		grew = 0;
		while (d && (e = readdir(d)) != NULL && n < max) {
			pid_t c = (pid_t)atoi(e->d_name), pp = 0;
			int known = 0, parent = 0;
			if (c <= 0 || rp_cmd_proc_state(c, &pp) == '?')
				continue;
			for (int i = 0; i < n; i++) {
				known |= pids[i] == c;
				parent |= pids[i] == pp;
			}
			if (parent && !known) {
				pids[n++] = c;
				grew = 1;
			}
		}
		if (d)
			closedir(d);
	}
	return n;
}

int rp_cmd_await_childless(pid_t pid, int secs)
{
	char kids[16] = "?";

	for (int64_t end = rp_now_ns() + secs * 1000000000LL;
	     rp_now_ns() < end;) {
		usleep(50000);
		rp_cmd_child_states(pid, kids, sizeof(kids));
		if (kids[0] == '\0')
			return 1;
	}
	return 0;
}

char *rp_cmd_stage_block(const char *report, const char *name)
{
	char head[64];
	const char *p, *end;

	snprintf(head, sizeof(head), "\n  %s ", name);
	p = strstr(report, head);
	if (p == NULL)
		return strdup("");
	p++;
	/* Lines under it are indented past the name column. */
	for (end = strchr(p, '\n'); end && !strncmp(end, "\n   ", 4);
	     end = strchr(end + 1, '\n'))
		;
	return strndup(p, end ? (size_t)(end - p) : strlen(p));
}

unsigned rp_cmd_restarts_of(const char *report, const char *name)
{
	char *b = rp_cmd_stage_block(report, name), *r = strstr(b, "restarted ");
	unsigned n = 0;

	if (r)
		n = (unsigned)strtoul(r + 10, NULL, 10);
	free(b);
	return n;
}

int rp_cmd_lines(const char *name)
{
	size_t n;
	char *t = rp_cmd_slurp(name, &n);
	int lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += t[i] == '\n';
	free(t);
	return lines;
}
