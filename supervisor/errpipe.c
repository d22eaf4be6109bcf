/*
 * errpipe.c - capture a stage's stderr line by line (see errpipe.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "errpipe.h"
#include "log.h"
#include "../stage/wiring.h"

int rp_errpipe_open(struct rp_errpipe *e, const char *name, uid_t uid,
		    gid_t gid, int *stage_fd)
{
	int p[2];

	memset(e, 0, sizeof(*e));
	e->rfd = -1;
	*stage_fd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Made by root, the pipe is root's: a stage's program could not
	 * open its own stderr by name (/dev/stderr: the shell's echo >
	 * /dev/stderr) once it runs as the stage user.  Its to open, then
	 * (only its processes hold it; their /proc is not another's). */
	if (geteuid() == 0 && fchown(p[1], uid, gid) < 0) {
		/* (Root of a user namespace without that uid: the stage's
		 * switch to it fails, and says so better.) */
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		int err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	e->rfd = p[0];
	*stage_fd = p[1];
	snprintf(e->name, sizeof(e->name), "%s", name);
	return 0;
}

static void emit(struct rp_errpipe *e, FILE *out)
{
	char stamp[16];

	if (e->info && !rp_log_on(RP_LOG_INFO)) {
		e->len = 0;
		e->info = 0;
		return;
	}
	e->info = 0;
	if (e->stamp) {
		rp_log_stamp(stamp);
		fprintf(out, "%s %s: %.*s\n", stamp, e->name, (int)e->len,
			e->line);
	} else {
		fprintf(out, "%s: %.*s\n", e->name, (int)e->len, e->line);
	}
	e->len = 0;
}

/* Append one byte, escaped unless it is printable ASCII or a tab. */
static void put(struct rp_errpipe *e, FILE *out, unsigned char c)
{
	char esc[5];
	size_t n = 1;

	if ((c >= 0x20 && c < 0x7f) || c == '\t') {
		esc[0] = (char)c;
	} else {
		snprintf(esc, sizeof(esc), "\\x%02x", c);
		n = 4;
	}
	if (e->len + n > sizeof(e->line))
		emit(e, out); /* cut an over-long line */
	memcpy(e->line + e->len, esc, n);
	e->len += n;
}

int rp_errpipe_pump(struct rp_errpipe *e, FILE *out)
{
	unsigned char buf[4096];

	if (e->rfd < 0)
		return 0;
	/* Bounded: a stage flooding its stderr gets 64 KiB a turn and
	 * cannot keep the supervisor from everything else. */
	for (int turns = 0; turns < 16; turns++) {
		ssize_t n = read(e->rfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		if (n == 0) {
			if (e->len)
				emit(e, out);
			close(e->rfd);
			e->rfd = -1;
			fflush(out);
			return 0;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				emit(e, out);
			} else if (buf[i] == RP_STDERR_MARK) {
				/* The stage's own, after a program's partial
				 * line: that line ends here. */
				if (e->len)
					emit(e, out);
			} else if (buf[i] == RP_STDERR_INFO && e->len == 0) {
				/* (Only at a line's start: a program's byte
				 * inside its line is shown, escaped.) */
				e->info = 1;
			} else {
				put(e, out, buf[i]);
			}
		}
	}
	fflush(out);
	return 1;
}

void rp_errpipe_close(struct rp_errpipe *e)
{
	/* A last line without its newline is still shown. */
	if (e->len)
		emit(e, stderr);
	if (e->rfd >= 0)
		close(e->rfd);
	e->rfd = -1;
}
