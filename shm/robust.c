/*
 * robust.c - robust process-shared mutex over pthreads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <linux/futex.h>
#include <time.h>

#include "atomics.h"
#include "robust.h"

_Static_assert(sizeof(pthread_mutex_t) <= RP_MUTEX_BYTES,
	       "pthread_mutex_t must fit its slot in the layout");

int rp_mutex_init(void *mem)
{
	pthread_mutexattr_t a;
	int err;

	memset(mem, 0, RP_MUTEX_BYTES);
	err = pthread_mutexattr_init(&a);
	if (err)
		return -err;
	err = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!err)
		err = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!err)
		err = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	if (!err)
		err = pthread_mutex_init((pthread_mutex_t *)mem, &a);
	pthread_mutexattr_destroy(&a);
	return -err;
}

int rp_mutex_lock(void *mem, int64_t timeout_ns, rp_repair_fn repair,
		  void *arg)
{
	pthread_mutex_t *m = mem;
	struct timespec ts;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ns / 1000000000;
	ts.tv_nsec += timeout_ns % 1000000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	err = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
	if (err == 0)
		return 0;
	if (err != EOWNERDEAD)
		return -err;

	/* We own the lock; the state it protects is whatever the dead
	 * owner left.  Repair first, then declare it consistent. */
	if (repair != NULL) {
		int r = repair(arg);
		if (r < 0) {
			/* Unlocking without pthread_mutex_consistent makes
			 * the mutex permanently unrecoverable. */
			pthread_mutex_unlock(m);
			return r;
		}
	}
	err = pthread_mutex_consistent(m);
	if (err) {
		pthread_mutex_unlock(m);
		return -err;
	}
	return 1;
}

int rp_mutex_unlock(void *mem)
{
	return -pthread_mutex_unlock((pthread_mutex_t *)mem);
}

uint32_t rp_mutex_owner(const void *mem)
{
	/* glibc keeps the futex word first; the kernel's robust-list
	 * handling reads its low 30 bits as the owner's tid. */
	const rp_atomic32 *word = (const rp_atomic32 *)mem;
	uint32_t v = rp_load32_relaxed(word);

	/* The owner died holding it: nobody alive holds it, and the next
	 * locker repairs it. */
	return (v & FUTEX_OWNER_DIED) ? 0 : v & FUTEX_TID_MASK;
}
