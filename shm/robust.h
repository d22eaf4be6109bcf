/*
 * robust.h - process-shared robust mutexes in shared memory.
 *
 * For state that several processes update (the claim cursor and slots of a
 * multi-producer or multi-consumer ring side).  If the holder dies, the
 * kernel hands the lock to the next locker with EOWNERDEAD; that locker
 * runs the caller's repair step for the protected state and only then
 * marks the mutex consistent.  A repair that fails leaves the mutex
 * unrecoverable: corrupted state is an error for everybody, never patched
 * by guesswork.
 *
 * Owners are identified by thread id, so every process locking one mutex
 * must live in the same PID namespace.  The supervisor never calls these on
 * memory a stage can write.
 */
#ifndef RP_ROBUST_H
#define RP_ROBUST_H

#include <stdint.h>

#include "layout.h"

/* Repair the protected state after its previous owner died holding the
 * lock.  Return 0 if the state is consistent again, -errno if not. */
typedef int (*rp_repair_fn)(void *arg);

/* Initialise RP_MUTEX_BYTES bytes at mem as a robust pshared mutex. */
int rp_mutex_init(void *mem);

/*
 * Lock, waiting at most timeout_ns (a live but stuck holder cannot hang
 * the caller).  Returns 0 when locked, 1 when locked after repairing a dead
 * owner's state, -ETIMEDOUT, -ENOTRECOVERABLE, or another -errno.
 */
int rp_mutex_lock(void *mem, int64_t timeout_ns, rp_repair_fn repair,
		  void *arg);
int rp_mutex_unlock(void *mem);
/* The thread id the mutex word names as its owner (0: unlocked, or its
 * owner died holding it): the robust-futex protocol the kernel itself
 * reads at a thread's death.
 * A hint from shared memory: it names, it does not prove. */
uint32_t rp_mutex_owner(const void *mem);

#endif /* RP_ROBUST_H */
