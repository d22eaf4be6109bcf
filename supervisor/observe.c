/*
 * observe.c - ringpipe stat's sockets, both ends (observe.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

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
	o->fd[0] = o->fd[1] = -1;
	for (int k = 0; k < 2; k++) {
		struct sockaddr_un a;
		char path[sizeof(a.sun_path)];
		socklen_t len;
		int fd;

		snprintf(path, sizeof(path), "ringpipe/%u/%s/%d/%s",
			 (unsigned)getuid(), name, (int)getpid(), kind_name[k]);
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

/* The addresses of running pipelines called name, for kind, from
 * /proc/net/unix: "ringpipe/UID/NAME/PID/KIND".  Returns how many (at
 * most max). */
static int find(const char *name, int kind, char (*out)[108], int max)
{
	FILE *f = fopen("/proc/net/unix", "re");
	char line[512], want[160];
	int n = 0;

	if (f == NULL)
		return 0;
	snprintf(want, sizeof(want), "/%s/", name);
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		char *p = strchr(line, '@'), *end, *slash;
		size_t len;
		if (p == NULL || strncmp(p, "@ringpipe/", 10) != 0)
			continue;
		p++;
		end = p + strcspn(p, "\n");
		*end = '\0';
		len = strlen(p);
		/* ringpipe/UID + /NAME/ + PID/ + KIND */
		slash = strchr(p + 9, '/');
		if (slash == NULL || strncmp(slash, want, strlen(want)) != 0 ||
		    len < 5 || strcmp(end - strlen(kind_name[kind]),
				      kind_name[kind]) != 0)
			continue;
		/* Listening sockets appear once; a connection twice. */
		int seen = 0;
		for (int i = 0; i < n; i++)
			seen |= strcmp(out[i], p) == 0;
		if (!seen && len < sizeof(out[0]))
			memcpy(out[n++], p, len + 1);
	}
	fclose(f);
	return n;
}

/* Connect to path and print what it sends (2 s at most): 0, or -1 if
 * nothing came or it refused us. */
static int fetch(const char *path)
{
	struct sockaddr_un a;
	socklen_t alen = address(&a, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	static char buf[1 << 20];
	size_t got = 0;

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, alen) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (got < sizeof(buf)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		if (poll(&p, 1, 2000) <= 0)
			break;
		r = read(fd, buf + got, sizeof(buf) - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got == 0)
		return -1;
	if (got >= 9 && memcmp(buf, "not yours", 9) == 0) {
		fprintf(stderr, "ringpipe stat: @%s: not yours to observe\n",
			path);
		return -1;
	}
	fwrite(buf, 1, got, stdout);
	fflush(stdout);
	return 0;
}

int rp_stat_main(const char *name, int json, int watch)
{
	char found[16][108];
	int shown = 0;

	for (;;) {
		int n = find(name, json, found, 16), ok = 0;
		for (int i = 0; i < n; i++)
			ok += fetch(found[i]) == 0;
		if (ok == 0) {
			if (!shown)
				fprintf(stderr, "ringpipe stat: no running "
						"pipeline %s that you may "
						"observe\n",
					name);
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
