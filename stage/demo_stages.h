/*
 * demo_stages.h - the two stages of the ring demo: a generator of log
 * records and a checker that filters and verifies them.
 *
 * Each stage waits on one bell for everything it can be given (data,
 * space, control) and checks for cancellation once per batch.
 */
#ifndef RP_DEMO_STAGES_H
#define RP_DEMO_STAGES_H

#include <stdint.h>

#include "../ipc/bell.h"
#include "../ipc/ctl.h"
#include "../ipc/ring.h"

/* Exit codes of a stage (documented in the README). */
#define RP_STAGE_EXIT_DONE 0
#define RP_STAGE_EXIT_ERROR 1
#define RP_STAGE_EXIT_CANCELLED 3
#define RP_STAGE_EXIT_VIOLATION 4

/* Everything a stage is handed by the supervisor. */
struct demo_wiring {
	struct rp_ring_fds data;    /* this stage's side of the data ring */
	struct rp_ring_fds ctl_in;  /* supervisor -> stage */
	struct rp_ring_fds ctl_out; /* stage -> supervisor */
	int own_bell_fd;            /* the bell this stage waits on */
	int peer_bell_fd;           /* the data peer's bell */
	int sup_bell_fd, sup_bell_efd; /* the supervisor's bell */
	uint64_t records;           /* producer: how many to generate */
	uint32_t payload;           /* producer: bytes per record */
};

int demo_producer_main(const struct demo_wiring *w);
int demo_consumer_main(const struct demo_wiring *w);

#endif /* RP_DEMO_STAGES_H */
