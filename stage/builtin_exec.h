/*
 * builtin_exec.h - the exec adapter's state, shared by builtin_exec.c
 * (the program, its pipes and the loop) and builtin_exec_hold.c (input
 * held back, and a crash narrowed down to its record).
 */
#ifndef RP_BUILTIN_EXEC_H
#define RP_BUILTIN_EXEC_H

#include <stdint.h>
#include <sys/types.h>

#include "stage_int.h"
#include "wiring.h"

/* How the adapter's messages start on the stderr it shares with its
 * program (see RP_STDERR_MARK). */
#define EXEC_SAYS RP_STDERR_MARK_S "exec: "
/* The same for a note that only informs (left out under -q): how a
 * narrowing goes, its program's reader gone. */
#define EXEC_NOTES RP_STDERR_MARK_S RP_STDERR_INFO_S "exec: "
#define READ_BUF (64u * 1024u)    /* bytes per read of the stdout pipe */
#define READ_TURN (256u * 1024u)  /* stdout bytes per loop turn, at most */
#define WRITE_HIGH (64u * 1024u)  /* stdin bytes held before taking more */
#define WAIT_MS 1000              /* longest sleep between checks */
#define EXEC_FD 3                 /* the child's exec-failure pipe */
#define LINGER_MS 5               /* first re-check of a program's unread
				   * input after the input ended (then
				   * doubling, while nothing else wakes the
				   * loop, up to LINGER_MAX_MS) */
#define LINGER_MAX_MS 40
#define UNREAD_MAX 8192u          /* input records told apart while the
				   * program has them unread (note_work) */
#define HOLD_MAX 65536u           /* input records held back, at most (and
				   * a quarter of the input ring) */
#define HOLD_READ (256u * 1024u)  /* of those, bytes the program has read */
#define HOLD_POLL_MS 5            /* with all it may hold unread held */
#define CRASH_GRACE 9             /* see struct ex, grace */

enum mode { M_LINES, M_CHUNKS, M_RECORDS };

/* An input record held back: not released, and its bytes kept, in case
 * the program dies and it must be fed again alone. */
struct held {
	uint64_t seq;
	struct rp_stage_mark mark;
	char *data;        /* the bytes the program reads for it */
	size_t len;
	uint64_t end;      /* where they end in its stdin (x->appended) */
	int unit_end;      /* the last record of a line or frame (a long
			    * line comes in pieces, each a record) */
};

/* A process reading the program's stdin, and its main thread's CPU time
 * in clock ticks (builtin_exec_cpu.c). */
struct exec_cpu {
	long pid; /* as /proc numbers it */
	uint64_t ticks;
};
#define EXEC_CPU_MAX 16

/* The threads of those processes and of the processes below them, when
 * each sleeps where no input wakes it (asleep), with their context
 * switches (builtin_exec_cpu.c).  A thread reading a pipe of the
 * program's own (not its input) counts when every process that holds
 * the pipe's write end is one of those judged: the pipes read, and the
 * write ends found, are noted for that. */
#define EXEC_THREADS_MAX 256
#define EXEC_PIPES_MAX 64
struct exec_sleep {
	int asleep;
	int n;
	struct {
		long tid;
		uint64_t switches;
	} t[EXEC_THREADS_MAX];
	uint64_t input;  /* the input pipe's inode */
	int nreads, nwriters;
	uint64_t reads[EXEC_PIPES_MAX];
	struct {
		uint64_t ino;
		int judged; /* its holder's threads are judged */
	} writers[EXEC_PIPES_MAX];
};

struct ex {
	struct rp_stage *s;
	enum mode mode;
	const char *cmd;   /* the program, for messages */
	int source;        /* no input ring */
	uint32_t max;      /* the output's largest record */
	uint32_t chunk;    /* --chunks: bytes per record, at most */

	pid_t pid;         /* the program; -1 once reaped */
	int status;        /* its wait status */
	int exec_errno;    /* execvp failed with it */
	int to_fd;         /* its stdin; -1 once closed */
	int from_fd;       /* its stdout; -1 at its end */
	int sig_fd;        /* SIGCHLD */
	int exec_fd;       /* read end of the exec-failure pipe */
	int init;          /* this stage is pid 1 of its own namespace */
	int no_ns;         /* no PID namespace: a child subreaper */
	int asked;         /* kill_cmd asked it to end: what it started is
			    * given the same grace, not killed as it ends */
	/* In a PID namespace the stage made itself: its init, which keeps
	 * it alive between runs and kills what a run left in it
	 * (builtin_exec_keeper.c).  -1: none. */
	pid_t keeper;
	int keeper_ask, keeper_done;

	/* Bytes for its stdin: wbuf[woff, wlen). */
	char *wbuf;
	size_t wcap, woff, wlen;
	int in_done;       /* no more input will be taken */
	int in_eof;        /* because the input ended */
	/* Which input records the program has not read yet, for the
	 * per-record timeout: bytes appended to wbuf and bytes written to
	 * its stdin, both counted from the start, and per record appended
	 * (oldest first, a circular queue) where its bytes end. */
	uint64_t appended, fed, out_bytes, last_seq;
	struct unread { uint64_t end, seq; } *q;
	size_t qhead, qlen;

	/* Its stdout. */
	char *rbuf;
	struct linebuf *lb;
	uint64_t line_len; /* --lines: bytes of the unfinished line */
	unsigned char hdr[4]; /* --records: the frame being read */
	unsigned hdr_have;
	uint32_t frame_len, frame_have;
	char *frame;

	/* Narrowing a crash down to one record (quarantine > 0): the
	 * latest records given to the program, oldest first (circular). */
	unsigned quarantine; /* deaths alone that quarantine a record */
	struct held *h;
	size_t hhead, hlen;
	size_t hread;        /* of them, the oldest, the program has read */
	uint64_t hread_bytes;
	uint64_t taken;      /* bytes of its stdin it has read (at least) */
	/* Feeding held records again: the output is kept here, and sent
	 * on only if the program survives them.  1, or 2 narrowing a hang
	 * (all its time counts then: note_work), or EACH_RUN. */
	int alone;
	/* --each: a run of the program per input record (builtin_exec_each.c),
	 * each_cur the record's current word (its number + 1). */
	int each;
	uint64_t each_cur;
	/* --ok-exit: exit statuses besides 0 that mean CMD did its work
	 * (grep's 1, no line selected), a bit each. */
	uint8_t ok_exit[32];
	/* --reject-exit: exit statuses that mean CMD rejected its input
	 * (a parser's "malformed"): the record is found and quarantined
	 * as a crash's is, a bit each. */
	uint8_t reject_exit[32];
	int reject_checked; /* --each: a run fed nothing did not reject */
	int too_much;      /* its run wrote over EACH_OUT_MAX: ended */
	/* Restarted where what was let go ends inside a line: the rest of
	 * that line is dropped (skip_line), and how much (skipped). */
	int skip_line;
	uint64_t skipped;
	char **argv;
	char *obuf;
	size_t olen, ocap;
	int oeof;
	int eof_pending;   /* its stdout ended; the output is ended once
			    * how it ended is known (see loop) */
	/* The supervisor killed it for a denied syscall (told before the
	 * kill): its death is its own doing. */
	uint64_t denials;  /* such kills seen so far */
	int denied;        /* the program that ended now was one */
	/* The supervisor said the program worked past the per-record
	 * timeout: the run its word names (by the progress word, whose top
	 * bits count the runs) is killed, and its death is its own doing. */
	uint64_t runs;     /* programs started so far */
	uint64_t progress; /* the progress word last set */
	uint64_t timeouts; /* such words seen so far */
	int timed_out;     /* the program that ended now was killed for one
			    * (2: for its silence after its input ended) */
	int killed;        /* the adapter killed the program that ended now
			    * (its SIGKILL is no crash; one from nobody
			    * here is its own doing, or its memory's) */
	int stop_judged;   /* its death by a stop signal we did not send:
			    * 0 not judged yet, 1 the run's cancel came
			    * with it, 2 none came: its own doing */
	int no_cancel;     /* a stop signal came once with no cancel:
			    * later ones are not waited for */
	uint64_t cur;      /* the current word last set (record + 1) */
	int hang;          /* narrowing a hang, not a crash */
	/* Narrowing a crash, a run past the end of its input is given
	 * CRASH_GRACE timeouts (each moves the word on, bump) before it
	 * counts as stuck. */
	unsigned grace;
	uint64_t bump;
	/* The stream, its input all read and its stdin closed: what the
	 * program does now is work at the end (sort) or a hang on its last
	 * records.  Silence is timed (note_work): the end_n-th timeout
	 * told in a row, with no output in between, ends it
	 * (check_timeout); 0: not timed. */
	unsigned end_n;
	int ending;
	unsigned end_told; /* timeouts told since its last output */
	uint64_t end_real; /* its words' bytes then (without bump) */
	/* Mid-stream, its input all read: it waits for more, or it is
	 * stuck on the last of it.  With its records timed (timed), timed
	 * as work on that record (idle).  The first timeout takes a sample
	 * of the CPU its readers use (cpu, at cpu_at, for the progress word
	 * idle_word) and of where they sleep (asleep) and times it again;
	 * the next, with no progress since, judges it: busy half that time,
	 * or asleep away from its input at both, it was stuck. */
	int timed;
	int idle;
	struct exec_cpu cpu[EXEC_CPU_MAX];
	int ncpu;              /* -1: no sample */
	struct exec_sleep sleep;
	int no_dirs;           /* its sandbox denies getdents64 or
				* pread64: no sleep is judged, only the
				* CPU time */
	int64_t cpu_at;
	uint64_t idle_word;
	/* Narrowing a hang: a record that went through alone or with
	 * others in this narrowing, known innocent: what the control run
	 * is fed (none: nothing). */
	struct held innocent;
};

/* x->alone while --each runs the program on a record: its output kept
 * until it has exited. */
#define EACH_RUN 3
#define EACH_OUT_MAX (64u << 20) /* bytes of output a run may write */

/* The progress word: the program's run in the top bits, so that a word
 * about an earlier run never matches the current one. */
#define RUN_SHIFT 48
#define RUN_BYTES ((1ull << RUN_SHIFT) - 1)

/* builtin_exec.c */
int exec_start(struct ex *x, char **argv, int has_out);
/* Until the program has ended and its output is out (see there). */
int exec_loop(struct ex *x);
int exec_wbuf_room(struct ex *x, size_t n);
char *exec_put_record(struct ex *x, const struct rp_record *r);
int exec_output(struct ex *x, const char *p, size_t n);
int exec_output_end(struct ex *x);

/* In the child: the program, with in_r and out_w as its stdin and
 * stdout (-1: the stage's own), told of an exec failure through exec_w;
 * parent is its parent's pid, to check it is not orphaned already.
 * Never returns. */
void exec_child(char **argv, int in_r, int out_w, int exec_w, pid_t parent);

/* builtin_exec_keeper.c */
/* Fork the keeper: the first child after the stage unshared its PID
 * namespace, its pid 1.  0 or -errno. */
int exec_keeper_start(struct ex *x);
/* After a run: everything left in the namespace is killed and reaped
 * (nothing without a keeper). */
void exec_keeper_clean(struct ex *x);
/* Without a PID namespace (the stage a child subreaper): kill and reap
 * what a run left behind. */
void exec_orphans_sweep(struct ex *x);

/* builtin_exec_cpu.c */
/* The main thread CPU time, in clock ticks, of each process (at most
 * max) below this stage whose stdin is the pipe pipe_fd is an end of;
 * how many, or -1 if none is found.  In sl (NULL: no directory is
 * listed, and no sleep judged), whether every thread of the processes
 * that hold the pipe and of every process below them sleeps where no
 * input can wake it (a timer, a futex, a wait for a child, a lock). */
int exec_cpu_sample(int pipe_fd, struct exec_cpu *out, int max,
		    struct exec_sleep *sl);
/* Were they asleep so in both samples, the same threads, none woken? */
int exec_sleep_same(const struct exec_sleep *then,
		    const struct exec_sleep *now);
/* The ticks the processes in both samples used between them. */
uint64_t exec_cpu_since(const struct exec_cpu *then, int nthen,
			const struct exec_cpu *now, int nnow);
/* Is the keeper still there (0: it died, and is reaped)? */
int exec_keeper_alive(struct ex *x);
/* The keeper, and so the namespace, ends (a run still going with it). */
void exec_keeper_stop(struct ex *x);

/* builtin_exec_each.c */
/* rp_stage_run's callback for --each (arg: the struct ex). */
int exec_each_record(struct rp_stage *s, const struct rp_record *in,
		     void *arg);

/* The last stage's program killed by SIGPIPE with nobody reading
 * stdout any more: said, 1 (the stage ends early and well); else 0. */
int exec_reader_gone(struct ex *x);
/* Its death by SIGTERM, SIGINT, SIGHUP or SIGQUIT, which this adapter
 * did not send: its own doing (1) unless the run's cancel comes with it
 * (waited for, up to a second, the first time). */
int exec_stop_own(struct ex *x);
/* The status its program exited with, when --reject-exit names it; else
 * 0. */
int exec_rejected(const struct ex *x);

/* builtin_exec_hold.c */
void exec_reset_cmd(struct ex *x);
void exec_hold_pop(struct ex *x);
void exec_hold_mark(struct ex *x);
void exec_hold_trim(struct ex *x);
int exec_hold_push(struct ex *x, uint64_t seq, const char *p, size_t n,
		   int unit_end);
int exec_hold_full(const struct ex *x);
int exec_own_death(struct ex *x);
int exec_narrow(struct ex *x, char **argv, int has_out, int *code);

#endif /* RP_BUILTIN_EXEC_H */
