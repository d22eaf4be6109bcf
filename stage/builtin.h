/*
 * builtin.h - the built-in stages of ringpipe-stage, and what they share.
 *
 * Each stage is one file (builtin_NAME.c) exporting a struct builtin: its
 * name, a one-line synopsis and summary, its help text, and its main.
 * host.c dispatches on the name.  A stage's main gets argv with argv[0]
 * the stage name, parses its options, opens whatever files it needs
 * (the strict sandbox cannot open anything afterwards), then attaches to
 * its rings.
 */
#ifndef RP_BUILTIN_H
#define RP_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

#include "ringpipe.h"

struct builtin {
	const char *name;
	const char *synopsis; /* what follows the name on a command line */
	const char *summary;  /* one line */
	const char *help;     /* options and behaviour, lines indented */
	int (*main)(int argc, char **argv);
};

extern const struct builtin builtin_file_source;
extern const struct builtin builtin_file_sink;
extern const struct builtin builtin_lines;
extern const struct builtin builtin_grep;
extern const struct builtin builtin_head;
extern const struct builtin builtin_count;
extern const struct builtin builtin_exec;
extern const struct builtin builtin_fault;

/* The record type of a line that ended the input without a newline
 * (file-source --lines, lines, exec's output).  file-sink --lines and
 * exec --lines write no newline after it; grep passes it as a line. */
#define BUILTIN_T_UNTERMINATED 17
/* A block of whole lines (file-source --blocks): each ends in a newline,
 * but for a last line without one; also the end, newline and all, of a
 * line longer than a record sent as pieces (grep then strips that
 * newline from the line it joined).  grep takes its lines one by one. */
#define BUILTIN_T_LINES 18
/* A piece of a line longer than a record, not its last: the line goes on
 * in the next record of its origin.  file-sink --lines and exec --lines
 * write no newline after it, so the line comes out whole; grep joins the
 * pieces and matches the line whole; head and count pass them on, a
 * line counted once by head. */
#define BUILTIN_T_PIECE 19

/* Does a newline follow a record of this type where lines are written
 * out (file-sink --lines, exec --lines)? */
static inline int builtin_line_ends(uint16_t type)
{
	return type != BUILTIN_T_UNTERMINATED && type != BUILTIN_T_LINES &&
	       type != BUILTIN_T_PIECE;
}

/* Default size of a raw chunk read by file-source. */
#define BUILTIN_CHUNK_DEFAULT (64u * 1024u)

/* ------------------------------------------------------ command lines */

/* Print "ringpipe-stage NAME: MESSAGE" and the stage's synopsis to
 * stderr; returns RP_EXIT_USAGE. */
int builtin_usage(const struct builtin *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A byte count: decimal digits, optionally followed by k or m (KiB,
 * MiB), within [min, max].  0, or a usage error already printed. */
int builtin_parse_size(const struct builtin *b, const char *opt,
		       const char *text, uint64_t min, uint64_t max,
		       uint64_t *out);
/* A plain decimal count (no suffix). */
int builtin_parse_count(const struct builtin *b, const char *opt,
			const char *text, uint64_t *out);

/* Attach to the rings and enter the sandbox, keeping nkeep fds open.
 * 0, or the exit code the process should end with (the library has
 * printed why). */
int builtin_open(const int *keep, int nkeep, struct rp_stage **s);

/* A regular file's identity (device, inode), saved with a place in it
 * ({0, 0} for anything else).  A restart opens the file by its name
 * again: builtin_same_file says whether it is still the file that place
 * was in, and at least that long (0), or says on stderr what changed
 * (a log rotation renamed or replaced it, or it was cut short) and
 * returns -ESTALE: the place means nothing in another file. */
void builtin_file_id(int fd, uint64_t id[2]);
int builtin_same_file(const char *who, const char *name, int fd,
		      const uint64_t id[2], uint64_t at);
/* ringpipe check runs a built-in with RINGPIPE_CHECK_ARGS set, to judge
 * its arguments only: it opens and creates nothing (a file-source looks
 * for its FILE, an exec for its CMD), and builtin_open exits 0 there. */
int builtin_checking(void);

/* ------------------------------------------ a loop with an end of input */

/*
 * rp_stage_run() ends the stage as soon as the input ends, so a stage that
 * must act then (emit a carried partial line, write a buffer, print a
 * total) runs this loop instead, built on the low-level calls.  It
 * follows rp_stage_run(): cancel checks, batched releases, one wait for
 * input and control.  record() returns 0, RP_STOP or -errno; save() (may
 * be NULL) runs before every release of input, to finish what was taken
 * (write it out) and rp_stage_save() the stage's state with it; idle()
 * (may be NULL) runs before the loop sleeps for want of input; end() (may
 * be NULL) runs at the end of input, of a drain, or after RP_STOP, never
 * on a cancel or an error.  Returns the process exit code.
 */
struct builtin_loop {
	int (*record)(struct rp_stage *s, const struct rp_record *r,
		      void *arg);
	int (*save)(struct rp_stage *s, void *arg);
	int (*idle)(struct rp_stage *s, void *arg);
	int (*end)(struct rp_stage *s, void *arg);
};
int builtin_run(struct rp_stage *s, const struct builtin_loop *loop,
		void *arg);

/* ------------------------------------------------------------- lines */

/*
 * Cuts a byte stream into lines, without their newlines.  A line longer
 * than max bytes goes out as pieces of max bytes and a last, shorter or
 * equal, piece; a piece is never empty unless the whole line is.  emit()
 * is told whether the piece is the first of its line (so a source starts
 * a new origin), the last (so a source ends the origin at once, not when
 * the next line begins), and whether the line ended the input without a
 * newline.
 */
struct linebuf;
typedef int (*linebuf_emit_fn)(void *arg, const void *buf, uint32_t len,
			       int first, int last, int unterminated);
int linebuf_new(uint32_t max, linebuf_emit_fn emit, void *arg,
		struct linebuf **out);
void linebuf_free(struct linebuf *lb);
/* Feed n bytes; emits every piece they complete.  0 or emit's error. */
int linebuf_feed(struct linebuf *lb, const void *data, size_t n);
/* The input ended: emit the partial line, if any, as unterminated. */
int linebuf_end(struct linebuf *lb);
/* Is a line begun and not finished (bytes held, or pieces out)? */
int linebuf_partial(const struct linebuf *lb);
/* Forget the line being cut (its writer died in the middle of it): what
 * is held of it is dropped, and the next byte starts a new line. */
void linebuf_drop(struct linebuf *lb);
/* Lines completed so far. */
uint64_t linebuf_lines(const struct linebuf *lb);

/* Emit one line piece from a stage (a source continues the origin of a
 * piece that is not the first of its line). */
int builtin_emit_piece(struct rp_stage *s, int source, const void *buf,
		       uint32_t len, int first, int last, int unterminated);

/* Pass a record on as it came, type and all (a type below 16 as data),
 * cut to fit the output ring (builtin_pass.c): a line longer than its
 * largest record as pieces, a block as smaller blocks.  0 or emit's
 * error. */
int builtin_pass(struct rp_stage *s, const void *data, uint32_t len,
		 uint16_t type);

#endif /* RP_BUILTIN_H */
