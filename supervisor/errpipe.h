/*
 * errpipe.h - a stage's stderr, captured and shown under its name.
 *
 * The supervisor gives each stage a pipe as its stderr and pumps the read
 * end from its event loop.  Every complete line is written out as
 * "NAME: line" ("12:04:31.208 NAME: line" with stamp set).  A stage is untrusted: bytes that are not printable are
 * shown escaped (\xNN), and a line longer than RP_ERRPIPE_LINE is cut
 * into pieces, so a hostile stage cannot forge another stage's prefix or
 * drive the terminal.  RP_STDERR_MARK (wiring.h) is not shown: it ends a
 * line left unterminated, where an exec stage's own message follows its
 * program's output; RP_STDERR_INFO at a line's start marks it as one
 * that only informs, left out when only errors are logged (-q).
 */
#ifndef RP_ERRPIPE_H
#define RP_ERRPIPE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define RP_ERRPIPE_LINE 1024

struct rp_errpipe {
	int rfd;
	char name[48];
	char line[RP_ERRPIPE_LINE];
	size_t len;
	int stamp;  /* lines start with the time, as log lines do (log.h) */
	int info;   /* the line began with RP_STDERR_INFO: not shown when
		     * only errors are (-q) */
};

/* Make the pipe; *stage_fd is the write end to hand to the stage (close
 * it in the supervisor once the stage has it).  Made by root, the pipe
 * is given to uid and gid, the stage's user, who may then open it by
 * name (/dev/stderr). */
int rp_errpipe_open(struct rp_errpipe *e, const char *name, uid_t uid,
		    gid_t gid, int *stage_fd);
/* Read what is there (non-blocking) and write complete lines to out.
 * Returns 1 while the pipe is open, 0 at end (a last partial line is
 * written then), or -errno. */
int rp_errpipe_pump(struct rp_errpipe *e, FILE *out);
void rp_errpipe_close(struct rp_errpipe *e);

#endif /* RP_ERRPIPE_H */
