/*
 * observe.h - ringpipe stat: a running pipeline's counters, from another
 * shell.
 *
 * The supervisor listens on two abstract unix sockets,
 * "@ringpipe/UID/NAME/PID/text.TAG" and ".../json.TAG" (TAG: 8 random
 * hex digits, so nobody can take the names first): abstract, so they vanish
 * with the process however it dies, and nothing is ever left behind.  A
 * client that connects is checked (its uid must be the supervisor's, or
 * root), gets one snapshot and is disconnected; nothing is read from it.
 * The supervisor sends without blocking: a client that does not read
 * loses its snapshot, never stalls the run.
 *
 * `ringpipe stat NAME` finds the sockets in /proc/net/unix (the same
 * network namespace), connects, checks that the process answering is
 * the one the name says, and prints what it is sent.
 */
#ifndef RP_OBSERVE_H
#define RP_OBSERVE_H

#include <stddef.h>

#define RP_OBSERVE_TEXT 0
#define RP_OBSERVE_JSON 1

struct rp_observe {
	int fd[2];       /* listeners, RP_OBSERVE_TEXT and _JSON; -1 */
};

/* Listen for pipeline name; what fails is said, and the run goes on
 * without it (0 or -errno). */
int rp_observe_open(struct rp_observe *o, const char *name);
/* One waiting client that may look: its fd, or -1 (none, or refused). */
int rp_observe_accept(int listen_fd);
/* Send buf without blocking, then close fd. */
void rp_observe_reply(int fd, const char *buf, size_t len);
void rp_observe_close(struct rp_observe *o);

/* The client: print every running pipeline called name (NULL: every
 * one you may observe; its text, or with json its JSON); with watch,
 * again every second until none runs.  0, or 1 if none runs. */
int rp_stat_main(const char *name, int json, int watch);

#endif /* RP_OBSERVE_H */
