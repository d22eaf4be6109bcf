/*
 * bell.c - doorbells (see bell.h for the protocol).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../shm/segment.h"
#include "bell.h"

struct rp_bell {
	struct rp_bell_shm *sh_bell;
	int memfd;  /* owned only if owner */
	int efd;    /* owned only if owner; -1 in futex mode */
	int owner;
};

int rp_bell_create(unsigned flags, struct rp_bell **out)
{
	struct rp_bell *b;
	void *map = NULL;
	int err;

	*out = NULL;
	if (flags & ~RP_BELL_EVENTFD)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	b->memfd = b->efd = -1;
	b->owner = 1;
	err = rp_memfd_create("ringpipe-bell", RP_BELL_SEG_SIZE, &b->memfd);
	if (err)
		goto out;
	if (flags & RP_BELL_EVENTFD) {
		b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (b->efd < 0) {
			err = -errno;
			goto out;
		}
	}
	err = rp_map(b->memfd, 0, RP_BELL_SEG_SIZE, 1, &map);
	if (err)
		goto out;
	b->sh_bell = map;
	b->sh_bell->s_magic = RP_BELL_MAGIC;
	b->sh_bell->s_version = RP_BELL_VERSION;
	*out = b;
	return 0;
out:
	rp_bell_close(b);
	return err;
}

int rp_bell_open(int memfd, int efd, struct rp_bell **out)
{
	struct rp_bell *b;
	void *map = NULL;
	int err;

	*out = NULL;
	err = rp_memfd_check(memfd, RP_BELL_SEG_SIZE);
	if (err)
		return err;
	err = rp_map(memfd, 0, RP_BELL_SEG_SIZE, 1, &map);
	if (err)
		return err;
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		rp_unmap(map, RP_BELL_SEG_SIZE);
		return -ENOMEM;
	}
	b->sh_bell = map;
	b->memfd = memfd;
	b->efd = efd;
	b->owner = 0;
	/* Its magic and version are not checked: every waker may write
	 * this page, so what it says cannot decide whether a stage
	 * attaches (a scribbler would stop its neighbours' restarts).  The
	 * version comes in the wiring, from the supervisor; scribbles here
	 * only cost wake-ups. */
	*out = b;
	return 0;
}

void rp_bell_close(struct rp_bell *b)
{
	if (b == NULL)
		return;
	rp_unmap(b->sh_bell, RP_BELL_SEG_SIZE);
	if (b->owner) {
		rp_close_fd(&b->memfd);
		rp_close_fd(&b->efd);
	}
	free(b);
}

int rp_bell_memfd(const struct rp_bell *b)
{
	return b->memfd;
}

int rp_bell_eventfd(const struct rp_bell *b)
{
	return b->efd;
}

int rp_bell_ring(struct rp_bell *b)
{
	struct rp_bell_shm *sh = b->sh_bell;
	uint32_t old;

	/* Pairs with the fence in rp_bell_park_begin(): orders the caller's
	 * publishing store before our load of parked (store-load edge). */
	rp_fence_full();
	if (rp_load32_relaxed(&sh->parked) == 0)
		return 0;
	/* Move seq on (a sleeper's futex_wait(seq, snap) then fails) and
	 * disarm it in one step.  Only an armed seq needs the system call:
	 * a waiter woken but not yet running needs no second one, since
	 * its wait fails on the moved seq (a stage publishing every record
	 * would otherwise make a system call per record while its
	 * consumer gets going).  The arm is part of the waiter's snapshot,
	 * so a waiter that parks again after an earlier wake arms again,
	 * and is woken by the next ring.  Two steps, no retry loop: a
	 * peer that keeps storing to seq (it is in memory every waker may
	 * write) cannot keep us here.  A waiter arming between the two
	 * takes its snapshot before the add moves seq past it, so its
	 * wait fails and it looks again (and the next ring makes one
	 * system call for nobody). */
	old = rp_and32(&sh->seq, ~1u);
	rp_add32(&sh->seq, 2);
	if ((old & 1) == 0)
		return 0;
	if (b->efd >= 0) {
		uint64_t one = 1;
		ssize_t r = write(b->efd, &one, sizeof(one));
		(void)r; /* EAGAIN: counter saturated, a wake is pending */
	} else {
		rp_futex_wake(&sh->seq, INT_MAX);
	}
	return 1;
}

/* hungry: the waiters in its low half, an announcement count above. */
#define HUNGRY_WAITERS 0xffffu
#define HUNGRY_ANNOUNCE 0x10000u

int rp_bell_hungry(const struct rp_bell *b, uint32_t *seen)
{
	uint32_t h = rp_load32_relaxed(&b->sh_bell->hungry);

	if ((h & HUNGRY_WAITERS) == 0 || (h & ~HUNGRY_WAITERS) == *seen)
		return 0;
	*seen = h & ~HUNGRY_WAITERS;
	return 1;
}

int rp_bell_waiting(const struct rp_bell *b)
{
	return (rp_load32_relaxed(&b->sh_bell->hungry) & HUNGRY_WAITERS) != 0;
}

void rp_bell_announce(struct rp_bell *b)
{
	rp_add32(&b->sh_bell->hungry, HUNGRY_ANNOUNCE + 1);
	/* Pairs with the fence wakers run before reading hungry/parked. */
	rp_fence_full();
}

void rp_bell_retire(struct rp_bell *b)
{
	rp_sub32(&b->sh_bell->hungry, 1);
}

uint32_t rp_bell_park_begin(struct rp_bell *b)
{
	uint32_t snap;

	rp_add32(&b->sh_bell->parked, 1);
	/* Arm and snapshot in one step: the waker that moves seq past
	 * snap sees the arm and wakes us. */
	snap = rp_or32(&b->sh_bell->seq, 1) | 1;
	/* Pairs with the fence in rp_bell_ring(): after this, either the
	 * waker sees parked != 0 (and moves seq past our armed snap), or
	 * our re-check sees its publication. */
	rp_fence_full();
	return snap;
}

void rp_bell_park_end(struct rp_bell *b)
{
	rp_sub32(&b->sh_bell->parked, 1);
}

void rp_bell_drain(struct rp_bell *b)
{
	uint64_t v;

	if (b->efd >= 0) {
		ssize_t r = read(b->efd, &v, sizeof(v));
		(void)r; /* EAGAIN: nothing pending */
	}
}

/* Sleep until the bell's seq moves from snap, for at most ns. */
static void bell_sleep(struct rp_bell *b, uint32_t snap, int64_t ns)
{
	if (b->efd >= 0) {
		struct pollfd pfd = {.fd = b->efd, .events = POLLIN};
		int ms = (int)((ns + 999999) / 1000000);
		if (rp_load32_relaxed(&b->sh_bell->seq) == snap)
			poll(&pfd, 1, ms);
		rp_bell_drain(b);
	} else {
		/* -EINTR, -EAGAIN, -ETIMEDOUT, 0: all mean re-check. */
		rp_futex_wait(&b->sh_bell->seq, snap, ns);
	}
}

int rp_bell_wait(struct rp_bell *b, rp_ready_fn ready, void *arg,
		 int64_t timeout_ns, unsigned spin, uint64_t *parks)
{
	int64_t deadline, left = RP_BELL_SLICE_NS;
	int r;

	r = ready(arg);
	if (r != 0)
		return r;
	/* A quiet spin first: a peer that is merely between two batches
	 * should not be told to publish each record at once. */
	for (unsigned i = 0; i < RP_BELL_QUIET && i < spin; i++) {
		rp_cpu_relax();
		r = ready(arg);
		if (r != 0)
			return r;
	}
	deadline = rp_deadline(timeout_ns);
	rp_bell_announce(b);
	for (unsigned i = RP_BELL_QUIET; i < spin; i++) {
		/* Now and then the CPU goes to whoever else is runnable:
		 * where stages outnumber CPUs (three on two), the peer we
		 * spin for may be waiting for ours.  Where a CPU is free
		 * it costs a syscall that returns at once. */
		if ((i & (RP_BELL_YIELD - 1)) == RP_BELL_YIELD - 1)
			sched_yield();
		else
			rp_cpu_relax();
		r = ready(arg);
		if (r != 0)
			goto out;
	}
	for (;;) {
		uint32_t snap;

		if (deadline >= 0) {
			left = deadline - rp_now_ns();
			if (left <= 0) {
				r = -ETIMEDOUT;
				goto out;
			}
			if (left > RP_BELL_SLICE_NS)
				left = RP_BELL_SLICE_NS;
		}
		snap = rp_bell_park_begin(b);
		r = ready(arg);
		if (r == 0) {
			bell_sleep(b, snap, left);
			if (parks != NULL)
				(*parks)++;
		}
		rp_bell_park_end(b);
		if (r == 0)
			r = ready(arg);
		if (r != 0)
			goto out;
	}
out:
	rp_bell_retire(b);
	return r;
}
