/*
 * futex.c - thin wrappers over the futex(2) system call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"

int rp_futex_wait(rp_atomic32 *word, uint32_t expect, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	long r;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	/* FUTEX_WAIT's timeout is relative; the kernel compares *word with
	 * expect under its hash-bucket lock, so a wake that changed the word
	 * first makes this return -EAGAIN instead of sleeping. */
	r = syscall(SYS_futex, word, FUTEX_WAIT, expect, tsp, NULL, 0);
	if (r < 0)
		return -errno;
	return 0;
}

int rp_futex_wake(rp_atomic32 *word, int n)
{
	long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);

	if (r < 0)
		return -errno;
	return (int)r;
}

int64_t rp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t rp_deadline(int64_t timeout_ns)
{
	int64_t now;

	if (timeout_ns < 0)
		return -1;
	now = rp_now_ns();
	if (timeout_ns > INT64_MAX - now)
		return -1;
	return now + timeout_ns;
}
