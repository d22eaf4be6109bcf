/*
 * builtin_exec_cpu.c - the CPU time used by the processes that read an
 * exec stage's program's stdin, for telling one stuck on the last of its
 * input (spinning) from one waiting for more (asleep in a read).
 *
 * The processes are found as /proc lists them: this stage's children
 * (/proc/thread-self/children: gettid() numbers this stage's own PID
 * namespace, which may not be /proc's), theirs, and so on, at most
 * CPU_WALK of them.  Of those, the ones whose stdin is the program's
 * input pipe count, by the time of their main thread alone: helper
 * threads (a compressor's workers, a runtime's collector) and helper
 * processes (a shell's background job reads /dev/null) may work while
 * the reader waits.  Only processes seen in both samples are compared,
 * so one that appears, ends or moves between them never makes the time
 * look larger than it was.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin_exec.h"

#define CPU_WALK 64

/* The whole of a small /proc file, NUL-terminated; its length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* utime + stime of a thread's stat file, in clock ticks: fields 14 and
 * 15, counted after the command name's closing parenthesis (field 2,
 * which may itself hold spaces and parentheses). */
static int stat_ticks(const char *path, uint64_t *ticks)
{
	char buf[1024], *p, *e;
	unsigned long long ut, st;

	if (slurp(path, buf, sizeof(buf)) <= 0 ||
	    (p = strrchr(buf, ')')) == NULL)
		return -1;
	p++;
	/* Fields 3 to 13 come first. */
	for (int f = 3; f <= 13; f++) {
		while (*p == ' ')
			p++;
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
	}
	ut = strtoull(p, &e, 10);
	if (e == p)
		return -1;
	st = strtoull(e, &p, 10);
	if (p == e)
		return -1;
	*ticks = ut + st;
	return 0;
}

/* Append the pids in a children file ("pid pid ... ") to q. */
static void children_of(const char *path, long *q, int *n)
{
	char buf[2048];

	if (slurp(path, buf, sizeof(buf)) <= 0)
		return;
	for (char *p = buf, *e; *n < CPU_WALK; p = e + 1) {
		long pid = strtol(p, &e, 10);
		/* A number cut short by the read has no space after it. */
		if (e == p || *e != ' ')
			break;
		if (pid > 0)
			q[(*n)++] = pid;
	}
}

int exec_cpu_sample(int pipe_fd, struct exec_cpu *out, int max)
{
	char path[64], want[64], link[64];
	long q[CPU_WALK];
	struct stat st;
	int n = 0, got = 0;

	if (fstat(pipe_fd, &st) != 0)
		return -1;
	snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)st.st_ino);
	children_of("/proc/thread-self/children", q, &n);
	for (int i = 0; i < n; i++) {
		ssize_t len;
		snprintf(path, sizeof(path), "/proc/%ld/fd/0", q[i]);
		len = readlink(path, link, sizeof(link) - 1);
		if (len > 0 && got < max) {
			link[len] = '\0';
			snprintf(path, sizeof(path), "/proc/%ld/task/%ld/stat",
				 q[i], q[i]);
			if (strcmp(link, want) == 0 &&
			    stat_ticks(path, &out[got].ticks) == 0)
				out[got++].pid = q[i];
		}
		snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children",
			 q[i], q[i]);
		children_of(path, q, &n);
	}
	return got > 0 ? got : -1;
}

uint64_t exec_cpu_since(const struct exec_cpu *then, int nthen,
			const struct exec_cpu *now, int nnow)
{
	uint64_t sum = 0;

	for (int i = 0; i < nnow; i++)
		for (int j = 0; j < nthen; j++)
			if (now[i].pid == then[j].pid &&
			    now[i].ticks > then[j].ticks)
				sum += now[i].ticks - then[j].ticks;
	return sum;
}
