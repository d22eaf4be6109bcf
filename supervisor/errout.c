/*
 * errout.c - stderr through a queue the event loop writes out (errout.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errout.h"
#include "jobctl.h"
#include "log.h"

static struct {
	int on;
	int fd;       /* queued: a non-blocking descriptor for stderr's
		       * pipe, FIFO, socket or terminal; -1: direct */
	int sock;     /* fd is a socket: send() without waiting */
	int broken;   /* the reader went away: nothing more is written */
	int mid;      /* the queue ends inside a line: its rest is taken */
	int dropping; /* a line is being dropped: its rest is too */
	int last;     /* the run is over: nothing more is dropped */
	char *q;      /* queued bytes: q[off, off + len) */
	size_t off, len, size;
	uint64_t lines, bytes; /* dropped since the last notice */
	FILE *cookie, *saved;
	void (*old_pipe)(int);
} eo = {.fd = -1};

/* One write that does not wait: bytes taken, 0 if none (EAGAIN). */
static size_t raw(const char *p, size_t n)
{
	ssize_t w;

	do
		w = eo.sock ? send(eo.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL)
			    : write(eo.fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN) {
		eo.broken = 1; /* EPIPE and the like: nobody reads on */
		eo.len = eo.off = 0;
	}
	return w > 0 ? (size_t)w : 0;
}

/* A file or a device that never waits: written as it comes. */
static void direct(const char *p, size_t n)
{
	while (n > 0 && !eo.broken) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			eo.broken = 1;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static int append(const char *p, size_t n)
{
	/* The written part is reclaimed once it outweighs what is left
	 * (each byte moved at most once on average). */
	if (eo.off + eo.len + n > eo.size && eo.off >= eo.len) {
		if (eo.len > 0)
			memmove(eo.q, eo.q + eo.off, eo.len);
		eo.off = 0;
	}
	if (eo.off + eo.len + n > eo.size) {
		size_t size = eo.size ? eo.size : 64 * 1024;
		char *q;
		while (size < eo.off + eo.len + n)
			size *= 2;
		if ((q = realloc(eo.q, size)) == NULL)
			return -1;
		eo.q = q;
		eo.size = size;
	}
	memcpy(eo.q + eo.off + eo.len, p, n);
	eo.len += n;
	return 0;
}

static void drop(const char *p, size_t n)
{
	eo.bytes += n;
	for (size_t i = 0; i < n; i++)
		eo.lines += p[i] == '\n';
	eo.dropping = p[n - 1] != '\n';
}

static void put(const char *p, size_t n)
{
	if (eo.broken || n == 0)
		return;
	if (eo.fd < 0) {
		direct(p, n);
		return;
	}
	if (eo.dropping) {
		drop(p, n);
		return;
	}
	if (eo.len == 0) {
		size_t w = raw(p, n);
		if (w > 0)
			eo.mid = 1; /* its rest is taken, whatever the room */
		if (w == n && !eo.broken)
			eo.mid = p[n - 1] != '\n';
		p += w;
		n -= w;
		if (n == 0 || eo.broken)
			return;
	}
	/* Whole lines are dropped, never a piece of one. */
	if ((!eo.mid && !eo.last && eo.len + n > RP_ERROUT_QUEUE) ||
	    append(p, n) != 0) {
		drop(p, n);
		return;
	}
	eo.mid = p[n - 1] != '\n';
}

/* Say what was dropped, after what was queued before. */
static void notice(void)
{
	char stamp[16], line[200];
	int n;

	rp_log_stamp(stamp);
	n = snprintf(line, sizeof(line),
		     "%s ringpipe: stderr was not read for a while: %llu "
		     "lines (%llu bytes) of messages were dropped\n",
		     stamp, (unsigned long long)eo.lines,
		     (unsigned long long)eo.bytes);
	eo.lines = eo.bytes = 0;
	if (n > 0)
		append(line, (size_t)n);
}

void rp_errout_pump(void)
{
	for (int said = 0;;) {
		while (eo.fd >= 0 && !eo.broken && eo.len > 0) {
			size_t w = raw(eo.q + eo.off, eo.len);
			if (w == 0)
				break;
			eo.off += w;
			eo.len -= w;
		}
		if (eo.len > 0 || eo.broken || eo.lines == 0 || eo.mid ||
		    said)
			return;
		notice(); /* caught up: what was lost on the way */
		said = 1;
	}
}

void rp_errout_last(void)
{
	if (!eo.on)
		return;
	fflush(eo.cookie);
	eo.last = 1;
	eo.dropping = 0; /* the report comes whole */
	if (eo.lines && !eo.broken && !eo.mid)
		notice();
	rp_errout_pump();
}

static ssize_t cookie_write(void *c, const char *buf, size_t n)
{
	(void)c;
	put(buf, n);
	return (ssize_t)n;
}

/* Our own descriptor for stderr's pipe, FIFO or terminal, non-blocking
 * (fd 2's flags are shared with the shell), or a socket's; -1: direct. */
static int own_fd(void)
{
	struct stat st;
	int fd = -1;

	int pty;

	if (fstat(STDERR_FILENO, &st) != 0)
		return -1;
	/* (Not a terminal's master side: opened again, that would be a
	 * new terminal.) */
	if (S_ISFIFO(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && isatty(STDERR_FILENO) &&
	     ioctl(STDERR_FILENO, TIOCGPTN, &pty) != 0))
		fd = open("/proc/self/fd/2",
			  O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	else if (S_ISSOCK(st.st_mode) &&
		 (fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) >= 0)
		eo.sock = 1;
	/* Never 0 or 1 (those closed): a stage's stdin or stdout. */
	if (fd >= 0 && fd <= STDERR_FILENO) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		fd = high;
	}
	return fd;
}

void rp_errout_begin(void)
{
	cookie_io_functions_t io = {.write = cookie_write};

	if (eo.on)
		return;
	fflush(stderr);
	memset(&eo, 0, sizeof(eo));
	eo.old_pipe = signal(SIGPIPE, SIG_IGN);
	eo.fd = own_fd();
	if ((eo.cookie = fopencookie(NULL, "w", io)) == NULL) {
		if (eo.fd >= 0)
			close(eo.fd);
		eo.fd = -1;
		signal(SIGPIPE, eo.old_pipe);
		return;
	}
	/* A line at a time (the report too): the queue drops whole ones. */
	setvbuf(eo.cookie, NULL, _IOLBF, 4096);
	eo.saved = stderr;
	stderr = eo.cookie;
	eo.on = 1;
}

int rp_errout_fd(void)
{
	return eo.on && eo.fd >= 0 && !eo.broken && eo.len > 0 ? eo.fd : -1;
}

int rp_errout_transient(const char *p, size_t n, int must)
{
	size_t w;

	if (eo.on)
		fflush(eo.cookie); /* after what the stream holds */
	if (!eo.on || eo.fd < 0) {
		direct(p, n);
		return !eo.broken;
	}
	if (eo.broken)
		return 0;
	if (eo.len > 0 && !must)
		return 0; /* the reader lags: not worth its room */
	w = eo.len == 0 ? raw(p, n) : 0;
	/* Never a piece of an escape sequence: the rest is queued whole,
	 * whatever the room (a few bytes); it leaves no line open. */
	if (w < n && !eo.broken && append(p + w, n - w) != 0)
		return 0;
	return !eo.broken;
}

/* The rest, waiting for the reader; a signal that ends a run ends the
 * wait (and stderr then goes to /dev/null), Ctrl-Z stops it (they are
 * blocked while a run is supervised). */
static void write_rest(void)
{
	sigset_t sigs;
	int sfd;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	sigaddset(&sigs, SIGTSTP);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	for (rp_errout_pump(); rp_errout_fd() >= 0; rp_errout_pump()) {
		struct pollfd p[2] = {{.fd = eo.fd, .events = POLLOUT},
				      {.fd = sfd, .events = POLLIN}};
		struct signalfd_siginfo si;
		int r = poll(p, sfd >= 0 ? 2 : 1, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0 || sfd < 0 || !p[1].revents)
			continue;
		if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo != SIGTSTP) {
			/* Given up on: what the caller still writes goes
			 * nowhere rather than wait for that reader. */
			int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (nul >= 0) {
				dup2(nul, STDERR_FILENO);
				close(nul);
			}
			break;
		}
		rp_stop_self(); /* Ctrl-Z: its stages are gone */
	}
	if (sfd >= 0)
		close(sfd);
}

void rp_errout_end(void)
{
	if (!eo.on)
		return;
	fflush(eo.cookie);
	if (stderr == eo.cookie)
		stderr = eo.saved;
	fclose(eo.cookie);
	eo.mid = eo.dropping = 0;
	if (eo.fd >= 0) {
		write_rest();
		close(eo.fd);
	}
	free(eo.q);
	/* Nobody reads it any more: a last word written by the caller
	 * fails (EPIPE) rather than kill it. */
	if (!eo.broken)
		signal(SIGPIPE, eo.old_pipe);
	memset(&eo, 0, sizeof(eo));
	eo.fd = -1;
}

void rp_errout_child(void)
{
	FILE *f;

	if (!eo.on)
		return;
	/* The parent's queue is the parent's to write. */
	eo.on = 0;
	if (eo.fd >= 0)
		close(eo.fd);
	eo.fd = -1;
	eo.len = 0;
	if ((f = fdopen(STDERR_FILENO, "w")) != NULL) {
		setvbuf(f, NULL, _IONBF, 0);
		stderr = f;
	}
}
