/*
 * ringpipe.h - the ringpipe stage library.
 *
 * A stage is a process with one input ring, one output ring (a source has
 * no input, a sink no output), a control ring each way, and a sandbox.
 * The supervisor creates all of them and hands them to the stage as
 * inherited file descriptors, described by the RINGPIPE_STAGE environment
 * variable.  This library attaches to them, enters the sandbox the
 * supervisor asked for, and runs the stage's loop.
 *
 * Two levels:
 *
 *   Callback level.  rp_stage_run() calls your function once per input
 *   record; inside it, rp_emit() (or rp_emit_reserve/rp_emit_commit for
 *   zero copy) produces zero or more output records derived from it.  The
 *   library handles the control ring, cancellation, end of stream,
 *   batching, the origin metadata of every output and the final report.
 *   Sources use rp_stage_run_source() with a function that emits records
 *   until it returns 0.
 *
 *   Low level.  For stages with their own loop: rp_stage_peek(),
 *   rp_stage_release(), rp_emit*, rp_stage_flush(), and rp_stage_wait(),
 *   one wait over input, output space and control together (never a
 *   thread per source).
 *
 * Cancellation is cooperative and checked at well-defined points: before
 * each input record, while waiting, and in rp_emit when the output is
 * full.  A cancel carries its reason.  The stage then ends with exit code
 * RP_EXIT_CANCELLED_BASE + reason and sends a final `done` control record
 * with that reason, so the supervisor tells a user cancel from a deadline,
 * a failed sibling or a shutdown.  A drain finishes the records already in
 * the input ring, then ends the output as if the input had ended.  No
 * thread is ever spawned to cancel anything.
 *
 * All functions return 0 (or a count) on success and a negative errno on
 * failure.  They never print to stdout; the final report goes to the
 * supervisor on the control ring, and diagnostics to stderr, which the
 * supervisor captures and shows under the stage's name.
 *
 * Link with: pkg-config --cflags --libs ringpipe
 */
#ifndef RINGPIPE_H
#define RINGPIPE_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RINGPIPE_VERSION_MAJOR 0
#define RINGPIPE_VERSION_MINOR 1

/* Exit codes of a stage process. */
#define RP_EXIT_OK 0          /* input ended and everything was processed */
#define RP_EXIT_ERROR 1       /* the stage failed (its own error) */
#define RP_EXIT_USAGE 2       /* bad options or a bad environment */
#define RP_EXIT_REFUSED 3     /* it refused its input record (rp_stage_refuse) */
#define RP_EXIT_VIOLATION 4   /* a peer broke the ring format */
#define RP_EXIT_SANDBOX 5     /* the sandbox could not be entered */
#define RP_EXIT_SUPERVISOR 6  /* the supervisor is gone */
#define RP_EXIT_NO_RESTART 7  /* failed; the supervisor must not restart */
#define RP_EXIT_OUTPUT_CLOSED 8 /* its consumer finished early (like head):
				 * not a failure, as SIGPIPE in a shell */
#define RP_EXIT_POISON 9      /* its program died of its own doing on one
			       * input record, alone (exec): the supervisor
			       * quarantines the record it names */
#define RP_EXIT_PROGRAM_SIGNAL 64 /* + a signal: its program (exec --each)
				   * died of it, of its own doing, on the
				   * record being processed */
#define RP_EXIT_CANCELLED_BASE 10 /* + reason: 11 user, 12 deadline,
				   * 13 sibling failed, 14 shutdown */

/* Cancel reasons (same values as the control ring's). */
#define RP_CANCEL_USER 1
#define RP_CANCEL_DEADLINE 2
#define RP_CANCEL_SIBLING 3
#define RP_CANCEL_SHUTDOWN 4

/* A record as a stage sees it.  data points into the input ring (shared,
 * read-only memory): valid until the record is released, which the
 * callback level does after your function returns.  Its bytes may be
 * changed by a hostile producer while you read them, never its length. */
struct rp_record {
	const void *data;
	uint32_t len;
	uint16_t type;   /* 1: data; >= 16: application-defined */
	uint16_t flags;  /* 0x1: last output of its origin */
	uint64_t origin; /* sequence number of the input it derives from */
	uint32_t sub;    /* its index among that origin's outputs */
};

struct rp_stage;

/* Attach to the rings described by RINGPIPE_STAGE, then enter the sandbox
 * (rp_stage_open_env() with getenv).  On failure a message is written to
 * stderr and the process should exit with the returned code's meaning:
 * -EINVAL bad environment (RP_EXIT_USAGE), -EPERM sandbox
 * (RP_EXIT_SANDBOX), -EBADMSG a ring found broken (RP_EXIT_VIOLATION:
 * the supervisor was told which, and checks it), -EPROTO a doorbell or
 * control ring found broken (RP_EXIT_USAGE). */
int rp_stage_open(struct rp_stage **out);
int rp_stage_open_env(const char *desc, struct rp_stage **out);
/* Same, keeping nkeep more file descriptors open through the sandbox
 * (a file a source reads, opened before: the strict policy cannot open
 * anything afterwards). */
int rp_stage_open_fds(const int *keep, int nkeep, struct rp_stage **out);
/* Detach without reporting (rp_stage_finish reports and closes). */
void rp_stage_close(struct rp_stage *s);

/* The stage's name, as the supervisor named it. */
const char *rp_stage_name(const struct rp_stage *s);
/* Largest payload the output ring takes (0 for a sink). */
uint32_t rp_stage_max_record(const struct rp_stage *s);
/* The stage's sequence number of the input record being processed (its
 * outputs' origin; 0 before its first record, also in a restart, and
 * the count of its input once that has ended).  It continues across a
 * restart of the stage.  A
 * replica's is the record's place in its input ring instead: unique and
 * increasing, but not a count. */
uint64_t rp_stage_input_seq(const struct rp_stage *s);

/* ---------------------------------------------------------- callbacks */

/* Process one input record.  Return 0 to go on, a negative errno to fail
 * the stage (RP_EXIT_ERROR), what rp_stage_refuse returned, or RP_STOP
 * to end the stage successfully (like head after N records: the output
 * ends, remaining input is left); any other value is taken for -EINVAL,
 * said.  A failure is counted against the record, as a crash on it is:
 * restarted, the stage fails on it again, and quarantine_after such
 * failures in a row quarantine it (so does an exit() in the middle of
 * a record) - but -EAGAIN, which says the record is not the cause (a
 * service the stage needs is down): the stage is restarted by its
 * policy, the record taken again, and never quarantined for it. */
#define RP_STOP 1
#define RP_REFUSE 2 /* returned by rp_stage_refuse: pass it on */
typedef int (*rp_process_fn)(struct rp_stage *s, const struct rp_record *in,
			     void *arg);
/* Refuse the input record the callback is working on (a parser that
 * finds it malformed): return what this returns from the callback.
 * What was emitted for the record is dropped (under rp_stage_run, a
 * record's outputs are published together once all are made, unless
 * they find the output ring full).  The record goes to the dead-letter
 * output at once, with why (its first 23 bytes; all of it goes to
 * stderr), as a record the stage died on would, and the stage goes on
 * after it: it ends and is restarted at once past it (a refusal costs a
 * restart: about 2 ms, less with a standby; it never counts towards the
 * restart limit, and quarantine_max bounds how many).  Under restart:
 * never the run fails instead.  For rp_stage_run's callback only
 * (elsewhere -EINVAL); it names the callback's record, and a refusal the
 * callback does not return counts all the same. */
int rp_stage_refuse(struct rp_stage *s, const char *why);
/* Produce records: return 1 to be called again, 0 when done, < 0 on
 * error. */
typedef int (*rp_produce_fn)(struct rp_stage *s, void *arg);

/* Run the loop until the input ends, a cancel or drain arrives, or fn
 * fails.  Sends the final control record, detaches, and returns the exit
 * code for the process (pass it to exit()). */
int rp_stage_run(struct rp_stage *s, rp_process_fn fn, void *arg);
int rp_stage_run_source(struct rp_stage *s, rp_produce_fn fn, void *arg);

/* Emit one output record derived from the current input (or, for a
 * source, a new origin per call of rp_emit unless rp_emit_same_origin()
 * was called, under rp_stage_run_source or a loop of its own).  What a
 * stage with input emits once its input has ended (-ENODATA: a total)
 * has an origin of its own, past its last record: a restart that finds
 * its input all released makes it again under the same key, so it goes
 * out once.  What it emits before its first record (a header) has the
 * origin of the first, whose outputs follow it.  Blocks while the output ring is full, checking for
 * cancellation (-ECANCELED) and a dead consumer (-EPIPE).  -EMSGSIZE: len
 * is more than the output ring's largest record; -EDESTADDRREQ: the stage
 * is the pipeline's last and has no output ring (a sink writes its
 * results itself, to its stdout or a file; returned from the callback,
 * the stage fails, said so, and is not restarted); -ENOTSUP: an emit
 * after the input ended in one of ordered replicas, where it would have
 * no place in the order (the stage fails likewise). */
int rp_emit(struct rp_stage *s, const void *buf, uint32_t len);
/* Zero copy: reserve len bytes in the output ring, write them, commit
 * with the final length (<= len).  One reservation at a time.  (A
 * replica's outputs are held in its own memory until its claim of input
 * records is done, then published together: its reservation is there.) */
int rp_emit_reserve(struct rp_stage *s, uint32_t len, void **buf);
int rp_emit_commit(struct rp_stage *s, uint32_t len);
/* Sources: the next rp_emit continues the current origin (its outputs
 * get sub-indexes 0, 1, ...) instead of starting a new one. */
void rp_emit_same_origin(struct rp_stage *s);
/* The record just emitted completes its origin: commit it now, marked
 * last (rather than when the next emit or record shows it was last).  A
 * source that waits between records calls this so its latest record is
 * not held back; the next emit starts a new origin.  -EBUSY inside
 * rp_stage_run's callback (a record's outputs go out when it is done,
 * so that none of them goes out of one refused or crashed on). */
int rp_emit_end_origin(struct rp_stage *s);
/* Set the type of the record just emitted (default 1, data; >= 16 is
 * the application's, e.g. 17 for a line without its newline).  A stage
 * that passes lines on passes in->type on: a line longer than the ring's
 * largest record arrives as pieces of type 19 (all but its last), and
 * file-sink --lines writes a newline after every record but those. */
int rp_emit_type(struct rp_stage *s, uint16_t type);

/* ---------------------------------------------------------- low level */

#define RP_WAIT_INPUT 0x1u   /* a record, end of input or an error */
#define RP_WAIT_OUTPUT 0x2u  /* room for a record of the largest size */
#define RP_WAIT_CONTROL 0x4u /* a control record, cancel or drain */

/* Wait until one of what (RP_WAIT_*) is ready or timeout_ns passes.
 * Returns the ready subset (> 0), or -ETIMEDOUT, or -errno (-EINVAL:
 * what is 0 or has other bits). */
int rp_stage_wait(struct rp_stage *s, unsigned what, int64_t timeout_ns);
/* The same wait, together with file descriptors of the stage's own (a
 * pipe to a child, a socket): one poll over the rings' doorbell and fds.
 * A doorbell without an eventfd (replicas share a futex one) cannot be
 * polled: the rings and control are then looked at every 10 ms while
 * the fds are polled.  Returns the ready RP_WAIT_* subset (0 if
 * only fds are ready or timeout_ms passed), with fds[i].revents filled;
 * -errno on failure.  At most 16 fds.  A wait longer than a second
 * (or a negative timeout_ms) returns after a second at most, so that a
 * doorbell a hostile peer scribbled on can only delay, never hang. */
int rp_stage_poll(struct rp_stage *s, unsigned what, struct pollfd *fds,
		  int nfds, int timeout_ms);
/* Next input record: 0, -EAGAIN (none yet), -ENODATA (input ended),
 * -EBADMSG (the producer broke the format), -EBUSY (called from
 * rp_stage_run's callback, where the loop takes the records, or while
 * an rp_emit_reserve is not yet committed). */
int rp_stage_peek(struct rp_stage *s, struct rp_record *r);
/* Release every record peeked so far: their outputs are complete (the
 * last one is marked and committed) and published first.  The stage is
 * then working on no record: a per-record timeout, a crash or an error
 * before its next peek is not charged to one.  -EBUSY while an
 * rp_emit_reserve is not yet committed, and inside
 * rp_stage_run's callback (the loop releases after it, so that a
 * record's outputs go out together and a crash finds it again). */
int rp_stage_release(struct rp_stage *s);
/* Publish committed output now.  The record emitted last stays held
 * until its origin is known complete (rp_emit_end_origin, the next emit
 * or record, or the end); under rp_stage_run, so do all the outputs of
 * the input record being worked on. */
int rp_stage_flush(struct rp_stage *s);
/* Handle pending control records; returns the cancel reason (> 0) if a
 * cancel arrived, 0 otherwise.  *draining is set when a drain arrived. */
int rp_stage_control(struct rp_stage *s, int *draining);
/* Report the end: end the output, send `done` (reason 0 for end of input
 * or a cancel reason), detach, and return the process exit code for it.
 * error: 0, or the negative errno that failed the stage; cancel_reason:
 * 0, or the one rp_stage_control returned (any other is taken for an
 * error of the stage's, -EINVAL, said on stderr).  Inside rp_stage_run's
 * callback it is refused, -EBUSY (return RP_STOP to end early). */
int rp_stage_finish(struct rp_stage *s, int error, int cancel_reason);

/* --------------------------------------------------------- crash recovery
 *
 * A stage restarted after a crash resumes from its last commit point: the
 * input after what it had released is delivered again and keeps its
 * numbers, and its consumer drops the outputs it had already taken.  So a
 * deterministic stage (the same input gives the same outputs) that keeps
 * no state across records gets exactly-once delivery for free.  A stage
 * that does keep state (a count, a position in a file) saves it here. */
#define RP_STAGE_STATE_WORDS 4
/* Save n (<= RP_STAGE_STATE_WORDS) words of state describing everything
 * taken so far; they are stored with the next release of input, in one
 * step with it (also a release of nothing: state from before the first
 * record, an appending sink's starting length, is stored so).  For a source (no input) the words describe what it has
 * emitted so far (a file offset): the current origin ends here (so its
 * last record's type is set, and rp_emit_end_origin called, before it:
 * after it both return -EINVAL), and the
 * words are stored once those records are published; a source program
 * of one's own that goes back to them says so in its configuration
 * (replays: true), and is then exactly-once.  A copy of a replicated
 * stage stores none (copies share no commit point: they must keep no
 * state), and restarts with zeros.  -EINVAL if n is too large or a
 * reservation is outstanding. */
int rp_stage_save(struct rp_stage *s, const uint64_t *words, unsigned n);
/* Copy the saved words of the commit point the stage started from into
 * words (zeros on a fresh start; whatever it saved since is not what it
 * gets here), n of them at most RP_STAGE_STATE_WORDS (more are left as
 * they are).  1 after a restart, 0 on a fresh start. */
int rp_stage_restored(const struct rp_stage *s, uint64_t *words, unsigned n);
/* The record last taken is not finished with (a line begun in it goes
 * on in the next ones): releases stop before it, so a restart replays it,
 * until rp_stage_unhold().  A hold already in place stays where it is.
 * Once the held records fill half the input ring the hold is dropped
 * (their producer would wait for room).  -EINVAL without a record taken. */
int rp_stage_hold(struct rp_stage *s);
void rp_stage_unhold(struct rp_stage *s);
/* Input records dropped as replays of ones already taken. */
uint64_t rp_stage_duplicates(const struct rp_stage *s);

#ifdef __cplusplus
}
#endif
#endif /* RINGPIPE_H */
