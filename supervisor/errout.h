/*
 * errout.h - the supervisor's stderr, never waited for while it
 * supervises.
 *
 * From rp_errout_begin to rp_errout_end, what the supervisor writes to
 * stderr (log lines, its stages' lines, the progress line, the report)
 * goes through a queue.  When stderr is a pipe, a FIFO, a socket or a
 * terminal, the queue is written out through a non-blocking descriptor
 * of the supervisor's own (the shared one's flags stay as the shell left
 * them), as the reader takes it: the event loop watches rp_errout_fd()
 * and calls rp_errout_pump().  A reader that stops reading does not stop
 * the supervisor: past RP_ERROUT_QUEUE bytes, whole lines are dropped
 * and counted, and a line says how many once the reader has caught up.
 * A reader that went away ends the writing, not the run (SIGPIPE is
 * ignored meanwhile, and after the end if the reader is gone; the
 * stages get it back).  A regular file or another device is written
 * directly, as before: such writes do not wait.  So are a terminal or
 * FIFO that cannot be opened again (another user's, no /proc) and a
 * terminal's master side, whose writes can wait.
 *
 * Once rp_errout_last is called nothing is dropped any more, and at
 * rp_errout_end the rest is written, waiting for the reader as a
 * program writing its last words does; an INT, TERM, HUP or QUIT signal
 * ends that wait (stderr is /dev/null from then on), and Ctrl-Z stops
 * it.
 */
#ifndef RP_ERROUT_H
#define RP_ERROUT_H

#include <stddef.h>

#define RP_ERROUT_QUEUE (1u << 20)

void rp_errout_begin(void);
/* The descriptor to watch for EPOLLOUT while something waits in the
 * queue; -1 when nothing does (or stderr is written directly). */
int rp_errout_fd(void);
/* Write out what the reader takes now. */
void rp_errout_pump(void);
/* Bytes that are not lines (the progress line and its erasure), in
 * order after what the stream holds: written at once if nothing waits,
 * else left out, unless must is set (an erasure: queued whatever the
 * room).  1 if written or queued.  Outside begin..end: written
 * directly. */
int rp_errout_transient(const char *p, size_t n, int must);
/* The run is over: what was dropped is said now, and nothing more is
 * (the report follows). */
void rp_errout_last(void);
void rp_errout_end(void);
/* In a child after fork: stderr is plain fd 2 again. */
void rp_errout_child(void);

#endif /* RP_ERROUT_H */
