/*
 * observe.c - ringpipe stat's sockets, both ends (observe.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "log.h"
#include "observe.h"

static const char *const kind_name[2] = {"text", "json"};

/* An abstract address: a NUL, then the name (no terminator). */
static socklen_t address(struct sockaddr_un *a, const char *name)
{
	size_t n = strlen(name);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (n > sizeof(a->sun_path) - 1)
		n = sizeof(a->sun_path) - 1;
	memcpy(a->sun_path + 1, name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int rp_observe_open(struct rp_observe *o, const char *name)
{
	uint32_t tag = 0;

	/* Anyone may bind an abstract name: one that ends in a random tag
	 * cannot be taken ahead of us by someone who guesses our pid. */
	if (getrandom(&tag, sizeof(tag), GRND_NONBLOCK) != sizeof(tag))
		tag = (uint32_t)rp_now_ns() ^ (uint32_t)getpid();
	o->fd[0] = o->fd[1] = -1;
	for (int k = 0; k < 2; k++) {
		struct sockaddr_un a;
		char path[sizeof(a.sun_path)];
		socklen_t len;
		int fd;

		snprintf(path, sizeof(path), "ringpipe/%u/%s/%d/%s.%08x",
			 (unsigned)getuid(), name, (int)getpid(), kind_name[k],
			 (unsigned)tag);
		len = address(&a, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, len) < 0 ||
		    listen(fd, 8) < 0) {
			int err = -errno;
			if (fd >= 0)
				close(fd);
			rp_log(RP_LOG_INFO, NULL, "ringpipe stat will not see "
			       "this run: @%s: %s", path, strerror(-err));
			rp_observe_close(o);
			return err;
		}
		o->fd[k] = fd;
	}
	return 0;
}

int rp_observe_accept(int listen_fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return -1;
	/* Its counters are the user's business: the same uid, or root. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != getuid() && cred.uid != 0)) {
		static const char no[] = "not yours to observe\n";
		if (send(fd, no, sizeof(no) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) <
		    0) {
			/* nothing more to tell it */
		}
		close(fd);
		return -1;
	}
	return fd;
}

void rp_observe_reply(int fd, const char *buf, size_t len)
{
	/* A snapshot is a few KiB and the socket's buffer far more: one
	 * send, never a wait.  A client that cannot take it loses it. */
	if (send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* it went away; nothing to do */
	}
	close(fd);
}

void rp_observe_close(struct rp_observe *o)
{
	for (int k = 0; k < 2; k++) {
		if (o->fd[k] >= 0)
			close(o->fd[k]);
		o->fd[k] = -1;
	}
}

/* ------------------------------------------------------------ client */

/* Names are "ringpipe/UID/NAME/PID/KIND.TAG", abstract: anyone may
 * bind one, so what a name says is checked against who answers. */
struct found {
	char path[108];
	unsigned uid;
	int pid;
};

#define FIND_MAX 64

/* The addresses of running pipelines called name (NULL: any), for kind,
 * from /proc/net/unix: ours only (any uid's for root, ours first).
 * Returns how many (at most FIND_MAX). */
static int find(const char *name, int kind, struct found *out)
{
	FILE *f = fopen("/proc/net/unix", "re");
	char line[512];
	unsigned me = (unsigned)geteuid();
	int n = 0;

	if (f == NULL)
		return 0;
	while (n < FIND_MAX && fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, '@'), *end, nm[64], kd[8], tag[16];
		unsigned uid;
		int pid, used = 0, seen = 0;
		size_t len;
		if (p == NULL || strncmp(p, "@ringpipe/", 10) != 0)
			continue;
		p++;
		end = p + strcspn(p, "\n");
		*end = '\0';
		len = strlen(p);
		if (len >= sizeof(out[0].path) ||
		    sscanf(p, "ringpipe/%u/%63[^/]/%d/%7[a-z].%15[0-9a-f]%n",
			   &uid, nm, &pid, kd, tag, &used) != 5 ||
		    (size_t)used != len || (name && strcmp(nm, name) != 0) ||
		    strcmp(kd, kind_name[kind]) != 0 || pid <= 0 ||
		    (uid != me && me != 0))
			continue;
		/* Listening sockets appear once; a connection twice. */
		for (int i = 0; i < n; i++)
			seen |= strcmp(out[i].path, p) == 0;
		if (seen)
			continue;
		memcpy(out[n].path, p, len + 1);
		out[n].uid = uid;
		out[n].pid = pid;
		/* Root's own first. */
		if (uid == me)
			for (int i = n; i > 0 && out[i - 1].uid != me; i--) {
				struct found t = out[i];
				out[i] = out[i - 1];
				out[i - 1] = t;
			}
		n++;
	}
	fclose(f);
	return n;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Connected to f's address, within the deadline (a listener whose queue
 * is full, or kept full, makes a blocking connect wait for good), and
 * answered by the process the name says: -1 otherwise. */
static int reach(const struct found *f, int64_t deadline)
{
	struct sockaddr_un a;
	socklen_t alen = address(&a, f->path), clen;
	struct ucred cred = {0, (uid_t)-1, (gid_t)-1};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);

	if (fd < 0)
		return -1;
	while (connect(fd, (struct sockaddr *)&a, alen) < 0) {
		struct timespec t = {0, 10 * 1000000};
		if (errno == EISCONN) /* an interrupted try that got there */
			break;
		if ((errno != EAGAIN && errno != EINTR) ||
		    now_ms() >= deadline) {
			close(fd);
			return -1;
		}
		nanosleep(&t, NULL);
	}
	clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    cred.uid != f->uid || cred.pid != f->pid) {
		fprintf(stderr, "ringpipe stat: @%s: answered by another "
				"process (pid %d, uid %u): ignored\n",
			f->path, (int)cred.pid, (unsigned)cred.uid);
		close(fd);
		return -1;
	}
	return fd;
}

/* What came, to stdout: as JSON it is written as it is (the supervisor
 * escapes its strings); as text, bytes that would steer a terminal
 * are shown escaped. */
static void show(const char *buf, size_t len, int json)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (json || c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f))
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	fflush(stdout);
}

/* Connect to f and print what it sends (2 s at most in all): 0, or -1
 * if nothing came or it refused us. */
/* Is process pid stopped (state T in /proc/PID/stat)? */
static int stopped(int pid)
{
	char path[64], text[512], *close_paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	/* (The name, in parentheses, may hold anything: after its last.) */
	close_paren = strrchr(text, ')');
	return close_paren != NULL && close_paren[1] == ' ' &&
	       (close_paren[2] == 'T' || close_paren[2] == 't');
}

/* Show what the pipeline at f says: 0; -1 if it cannot be reached (gone,
 * or not its own), -2 if it was reached but said nothing (said so). */
static int fetch(const struct found *f, int json)
{
	static char buf[1 << 20];
	int64_t deadline = now_ms() + 2000;
	int fd = reach(f, deadline);
	size_t got = 0;
	int silent = 0; /* its time ran out, not its answer */

	if (fd < 0)
		return -1;
	while (got < sizeof(buf)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t r;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			silent = 1;
			break;
		}
		r = read(fd, buf + got, sizeof(buf) - got);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got == 0 && !silent)
		return -1; /* it closed: ending, gone */
	if (got == 0) {
		/* There, but silent: stopped (Ctrl-Z), or too busy to say;
		 * not gone. */
		fprintf(stderr, "ringpipe stat: @%s (pid %d) did not answer "
				"within 2 s: %s\n",
			f->path, f->pid,
			stopped(f->pid) ? "it is stopped (Ctrl-Z: fg, bg or "
					  "SIGCONT resumes it)"
					: "busy, or stuck");
		return -2;
	}
	if (got >= 9 && memcmp(buf, "not yours", 9) == 0) {
		fprintf(stderr, "ringpipe stat: @%s: not yours to observe\n",
			f->path);
		return -1;
	}
	show(buf, got, json);
	return 0;
}

int rp_stat_main(const char *name, int json, int watch)
{
	static struct found found[FIND_MAX];
	int shown = 0;

	for (;;) {
		int n = find(name, json, found), ok = 0, silent = 0;
		for (int i = 0; i < n; i++) {
			int r = fetch(&found[i], json);
			ok += r == 0;
			silent += r == -2;
		}
		/* Stopped or stuck: still there (watched on), not done. */
		if (ok == 0 && silent > 0 && !watch)
			return 1;
		if (ok == 0 && silent == 0) {
			if (!shown)
				fprintf(stderr, "ringpipe stat: no running "
						"pipeline%s%s that you may "
						"observe\n",
					name ? " " : "", name ? name : "");
			return shown ? 0 : 1;
		}
		shown = 1;
		if (!watch)
			return 0;
		{
			struct timespec t = {1, 0};
			nanosleep(&t, NULL);
		}
	}
}
