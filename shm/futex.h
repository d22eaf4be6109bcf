/*
 * futex.h - raw futex calls on 32-bit words in shared mappings.
 *
 * These are the non-private (FUTEX_WAIT / FUTEX_WAKE without
 * FUTEX_PRIVATE_FLAG) operations: the kernel keys them on the shared page,
 * so a waiter and a waker in different processes meet.  Nothing here
 * decides whether to sleep: callers announce, re-check, then wait (see
 * ipc/bell.h), and treat any return as a hint to re-check.
 */
#ifndef RP_FUTEX_H
#define RP_FUTEX_H

#include <stdint.h>

#include "atomics.h"

/* Sleep while *word == expect, for at most timeout_ns (< 0: no bound,
 * which ringpipe itself never uses).  Returns 0 when woken, -EAGAIN when
 * *word already differed, -ETIMEDOUT, or -EINTR; all mean "re-check". */
int rp_futex_wait(rp_atomic32 *word, uint32_t expect, int64_t timeout_ns);

/* Wake up to n waiters sleeping on word.  Returns how many were woken or
 * -errno. */
int rp_futex_wake(rp_atomic32 *word, int n);

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t rp_now_ns(void);
/* The deadline timeout_ns from now, or -1 (none) for a negative timeout
 * or one too large to add without overflow. */
int64_t rp_deadline(int64_t timeout_ns);

#endif /* RP_FUTEX_H */
