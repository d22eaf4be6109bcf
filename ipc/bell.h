/*
 * bell.h - doorbells: one wake-up point per receiver.
 *
 * A receiver (a stage, the supervisor, a group of replicas) owns one bell
 * and waits on it alone; everything that can give it work - the producer of
 * its input ring, the consumer of its output ring, the sender of its
 * control ring - rings that bell after publishing.  So a process's loop is
 * one wait, never a thread per source.
 *
 * A bell is a futex word in a one-page memfd that every waker maps
 * read-write, plus optionally an eventfd for a receiver that must also wait
 * on file descriptors (an epoll loop): then wakers write the eventfd instead
 * of calling FUTEX_WAKE.
 *
 * Protocol (no lost wake-up):
 *   waiter                               waker
 *   hungry++ ; fence                      publish (release store of cursor)
 *   spin: re-check sources                rp_bell_ring():
 *   parked++                                fence
 *   snap = fetch_or(seq, 1) | 1 ; fence     if parked:
 *   re-check sources                          old = seq; seq = (old+2)&~1
 *                                             if old & 1: wake
 *   futex_wait(seq, snap, slice)
 *   parked-- ; loop ; hungry--
 * Either the waiter's re-check sees the publication, or the waker's load
 * sees parked != 0 and bumps seq, which makes the futex_wait return; the
 * system call is made once per parking (bit 0 of seq, armed by the
 * waiter's snapshot), not once per publication while a woken waiter has
 * yet to run.  Every wake-up is only a hint to
 * re-check.  Waits are sliced (RP_BELL_SLICE_NS)
 * so a bell scribbled by a hostile peer causes a late wake-up at worst.
 */
#ifndef RP_BELL_H
#define RP_BELL_H

#include <stdint.h>

#include "../shm/layout.h"

#define RP_BELL_EVENTFD 0x1u

/* Longest single sleep; a wake-up lost to a scribbled bell costs at most
 * this, and an idle waiter wakes this often (a few microseconds of CPU per
 * second). */
#define RP_BELL_SLICE_NS (1000 * 1000 * 1000LL)
/* Re-checks before parking.  The first RP_BELL_QUIET (a microsecond or
 * two) are quiet, so a peer that is merely between two batches is not told
 * to publish every record at once; the rest are announced (the peer then
 * publishes each commit at once).  A spin costs CPU; a park costs a
 * wake-up (tens of microseconds across CPUs). */
#define RP_BELL_QUIET 128u
#define RP_BELL_SPIN 2000u
/* Every this many announced re-checks, a sched_yield instead of a pause
 * (three stages on two CPUs: 1.5x the throughput of a chain, at no cost
 * to a spinning consumer's latency on a free CPU).  A power of two. */
#define RP_BELL_YIELD 512u

struct rp_bell;

/* Create a bell (and its eventfd with RP_BELL_EVENTFD). */
int rp_bell_create(unsigned flags, struct rp_bell **out);
/* Map the bell in memfd (and use eventfd efd, or -1) to ring it, or to wait
 * on it as one of a group.  The fds stay owned by the caller. */
int rp_bell_open(int memfd, int efd, struct rp_bell **out);
void rp_bell_close(struct rp_bell *b);

int rp_bell_memfd(const struct rp_bell *b);
int rp_bell_eventfd(const struct rp_bell *b);

/* Waker side: call after the release store that publishes.  Returns 1 if
 * a sleeper was woken (counted in the stats), 0 if none was parked or the
 * parked ones were woken already. */
int rp_bell_ring(struct rp_bell *b);
/* Does the receiver wait for work (spinning or parked) and has it said so
 * since *seen?  Then *seen is brought up to date and 1 returned: a hint for
 * publishing a batch early, once per wait (a waiter fed once leaves its
 * wait; publishing every record to one that is not running - it yielded or
 * was preempted by the very producer - would only slow that producer).
 * Correctness never depends on it. */
int rp_bell_hungry(const struct rp_bell *b, uint32_t *seen);
/* Is any receiver waiting for work (spinning or parked), fed or not? */
int rp_bell_waiting(const struct rp_bell *b);

/*
 * Waiter side.  ready(arg) returns > 0 when the waiter has something to do,
 * 0 if not, < 0 for an error (returned as is).  Spins, then parks, until
 * ready or timeout_ns passes (-ETIMEDOUT).  Returns ready's positive value.
 * *parks counts the times the caller slept in the kernel.
 */
typedef int (*rp_ready_fn)(void *arg);
int rp_bell_wait(struct rp_bell *b, rp_ready_fn ready, void *arg,
		 int64_t timeout_ns, unsigned spin, uint64_t *parks);

/* Pieces of rp_bell_wait for an epoll loop (eventfd bells):
 *   rp_bell_announce(b); if (!ready) { rp_bell_park_begin(b);
 *   if (!ready) epoll_wait(...); rp_bell_drain(b); rp_bell_park_end(b); }
 *   rp_bell_retire(b);                                                   */
void rp_bell_announce(struct rp_bell *b);
void rp_bell_retire(struct rp_bell *b);
uint32_t rp_bell_park_begin(struct rp_bell *b);
void rp_bell_park_end(struct rp_bell *b);
void rp_bell_drain(struct rp_bell *b);

#endif /* RP_BELL_H */
