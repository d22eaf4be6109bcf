/*
 * builtin_file_sink.c - file-sink: records into a file (or stdout).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin.h"
#include "wiring.h"

#define OUT_BUF (64u * 1024u)
#define WAIT_MS 1000 /* longest wait for a full pipe, between checks */
/* How long a FIFO's reader is waited for: within the stage's start, for
 * which the supervisor waits 10 s. */
#define FIFO_WAIT_MS 5000
#define FIFO_NAP_MS 20

struct sink {
	const char *name; /* for messages */
	int fd;
	int lines;
	char *buf;
	uint32_t have;
	uint64_t at;   /* bytes of the file written */
	uint64_t id[2]; /* a regular file's identity, saved with at */
	int write_err; /* the write error that ended the stage */
	int gone;      /* its reader went away: it ends, as head does */
	int cut;       /* a regular file, not yet cut back to at */
	int append;    /* --append: a fresh start keeps what is there */
};

/* A regular file is cut back to what the last release vouched for (to
 * nothing at a fresh start) only when there is something to write or
 * the input has ended: a run that fails or is cancelled before its
 * first record leaves the file as it was. */
static int cut_back(struct sink *k)
{
	if (!k->cut)
		return 0;
	k->cut = 0;
	if (ftruncate(k->fd, (off_t)k->at) < 0 ||
	    lseek(k->fd, (off_t)k->at, SEEK_SET) < 0) {
		k->write_err = -errno;
		fprintf(stderr, "file-sink: %s: cutting back to %llu bytes: "
				"%s\n",
			k->name, (unsigned long long)k->at, strerror(errno));
		return k->write_err;
	}
	return 0;
}

/* Write all of it.  A full non-blocking pipe is waited for, in slices
 * that let a cancel through.  A pipe whose reader went away (`ringpipe
 * ... | head -1`) takes nothing more: the stage ends at the next record
 * as a filter finished early does, and the stages before it stop. */
static int write_all(struct rp_stage *s, struct sink *k, const char *p,
		     size_t n)
{
	int err;

	if (n > 0 && (err = cut_back(k)))
		return err;
	while (n > 0 && !k->gone) {
		ssize_t w = write(k->fd, p, n);
		if (w >= 0) {
			k->at += (uint64_t)w;
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE) {
			k->gone = 1;
			fprintf(stderr, RP_STDERR_INFO_S "file-sink: %s: its "
					"reader is gone: ending early\n",
				k->name);
			break;
		}
		if (errno == EAGAIN) {
			struct pollfd pf = {.fd = k->fd, .events = POLLOUT};
			if (rp_stage_control(s, NULL) > 0)
				return -ECANCELED;
			poll(&pf, 1, WAIT_MS);
			continue;
		}
		k->write_err = -errno;
		fprintf(stderr, "file-sink: writing %s: %s\n", k->name,
			strerror(errno));
		return k->write_err;
	}
	return 0;
}

static int flush(struct rp_stage *s, void *arg)
{
	struct sink *k = arg;
	int err = write_all(s, k, k->buf, k->have);

	k->have = 0;
	return err;
}

/* The input ended (or the stage stops early): an empty output is the
 * output too. */
static int end(struct rp_stage *s, void *arg)
{
	struct sink *k = arg;
	int err = flush(s, k);

	return err ? err : cut_back(k);
}

/* Everything taken is in the file before the input is released, and the
 * file's length goes with the release: a restarted sink cuts the file
 * back to it, so what it writes again is not there twice. */
static int save(struct rp_stage *s, void *arg)
{
	struct sink *k = arg;
	uint64_t w[3] = {0, k->id[0], k->id[1]};
	int err = flush(s, k);

	w[0] = k->at;
	return err ? err : rp_stage_save(s, w, 3);
}

static int record(struct rp_stage *s, const struct rp_record *r, void *arg)
{
	struct sink *k = arg;
	/* A block of lines carries its newlines; a piece of a line is
	 * followed by the rest of it. */
	int nl = k->lines && builtin_line_ends(r->type);
	int err;

	if (k->gone)
		return RP_STOP;
	if (k->have + r->len + (uint32_t)nl > OUT_BUF &&
	    (err = flush(s, k)))
		return err;
	if (r->len + (uint32_t)nl > OUT_BUF) {
		/* Too large to gather: straight from the ring. */
		if ((err = write_all(s, k, r->data, r->len)))
			return err;
	} else {
		memcpy(k->buf + k->have, r->data, r->len);
		k->have += r->len;
	}
	if (nl)
		k->buf[k->have++] = '\n';
	return 0;
}

/* Open FILE (before the sandbox, which cannot).  A FIFO is opened
 * without blocking: a blocking open waits for a reader with no end, and
 * the supervisor would see only a start without its hand-shake.  Its
 * reader is given FIFO_WAIT_MS to come, as `cat > FIFO` waits for one;
 * then the stage fails, saying so.  The fd, or -errno (said). */
static int open_output(const char *path)
{
	struct stat st;
	int waited = 0, fd, flags;

	for (;;) {
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOCTTY |
					O_NONBLOCK,
			  0644);
		if (fd >= 0 || errno != ENXIO || stat(path, &st) < 0 ||
		    !S_ISFIFO(st.st_mode))
			break;
		if (waited >= FIFO_WAIT_MS) {
			fprintf(stderr, "file-sink: %s: a FIFO that no "
					"reader opened within %d s\n",
				path, FIFO_WAIT_MS / 1000);
			return -ENXIO;
		}
		usleep(FIFO_NAP_MS * 1000);
		waited += FIFO_NAP_MS;
	}
	if (fd < 0) {
		int err = errno;
		fprintf(stderr, "file-sink: %s: %s\n", path, strerror(err));
		return -err;
	}
	/* Pipes and devices stay non-blocking: write_all waits for room
	 * in poll, where a cancel gets through. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (flags = fcntl(fd, F_GETFL)) >= 0)
		(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

/* For a check: could open_output open FILE, without creating or
 * opening it?  0 or -errno: a file there must be writable and not a
 * directory; else its directory must take a new file. */
static int writable(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		return access(path, W_OK) == 0 ? 0 : -errno;
	}
	if (errno != ENOENT)
		return -errno;
	snprintf(dir, sizeof(dir), "%.*s",
		 slash == NULL ? 1 : slash == path ? 1 : (int)(slash - path),
		 slash == NULL ? "." : path);
	return access(dir, W_OK | X_OK) == 0 ? 0 : -errno;
}

static int no_restart(int code)
{
	return code == RP_EXIT_ERROR ? RP_EXIT_NO_RESTART : code;
}

static int file_sink_main(int argc, char **argv)
{
	const struct builtin *b = &builtin_file_sink;
	static const struct builtin_loop loop = {
		.record = record, .save = save, .idle = flush, .end = end};
	struct sink k = {.fd = -1};
	const char *path = NULL;
	struct stat st;
	struct rp_stage *s;
	int i, err = 0, code;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--lines") == 0) {
			k.lines = 1;
		} else if (strcmp(a, "--append") == 0) {
			k.append = 1;
		} else if (a[0] == '-' && a[1] != '\0') {
			return builtin_usage(b, "unknown option %s", a);
		} else {
			break;
		}
	}
	if (i < argc)
		path = argv[i++];
	if (path == NULL)
		return builtin_usage(b, "no FILE given (- writes stdout)");
	if (i < argc)
		return builtin_usage(b, "one FILE only (%s is extra)", argv[i]);

	/* A reader that went away is EPIPE, not a silent death by SIGPIPE;
	 * a file_size limit is EFBIG, reported, not a death by SIGXFSZ. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	k.name = strcmp(path, "-") == 0 ? "stdout" : path;
	if (builtin_checking()) { /* nothing created */
		if (strcmp(path, "-") != 0 && (err = writable(path)) != 0) {
			fprintf(stderr, "file-sink: %s: %s\n", path,
				strerror(-err));
			return RP_EXIT_NO_RESTART;
		}
		return builtin_open(NULL, 0, &s);
	}
	k.fd = strcmp(path, "-") == 0 ? STDOUT_FILENO : open_output(path);
	if (k.fd < 0) {
		err = k.fd;
		k.fd = -1;
	}
	code = builtin_open(&k.fd, k.fd > STDERR_FILENO ? 1 : 0, &s);
	if (code)
		return code;
	if (err) /* a restart would fail the same way */
		return no_restart(rp_stage_finish(s, err, 0));
	/* A fresh start truncates the file, a restart cuts it back to the
	 * length its last release vouched for: both at the first write or
	 * the end of input (cut_back). */
	{
		uint64_t w[3] = {0, 0, 0};
		int restored = rp_stage_restored(s, w, 3);
		k.at = w[0];
		builtin_file_id(k.fd, k.id);
		/* Its FILE renamed away (a log rotation) or cut short since:
		 * cutting another file back to that length would fill it
		 * with zeros.  Said, and the run fails. */
		if (restored && k.fd != STDOUT_FILENO &&
		    builtin_same_file("file-sink", k.name, k.fd, w + 1, k.at) !=
			    0)
			return no_restart(rp_stage_finish(s, -ESTALE, 0));
		/* Appending: the run's first start writes after what the
		 * file holds, and stores that length at once (a release of
		 * nothing), so a restart, even before its first record
		 * went, cuts back to it and no further. */
		if (!restored && k.append && k.fd != STDOUT_FILENO &&
		    fstat(k.fd, &st) == 0 && S_ISREG(st.st_mode)) {
			uint64_t first[3] = {(uint64_t)st.st_size, k.id[0],
					     k.id[1]};
			k.at = first[0];
			if ((err = rp_stage_save(s, first, 3)) != 0 ||
			    (err = rp_stage_release(s)) != 0)
				return rp_stage_finish(s, err, 0);
		}
	}
	k.cut = k.fd != STDOUT_FILENO && fstat(k.fd, &st) == 0 &&
		S_ISREG(st.st_mode);
	k.buf = malloc(OUT_BUF);
	if (k.buf == NULL) {
		fprintf(stderr, "file-sink: out of memory\n");
		return rp_stage_finish(s, -ENOMEM, 0);
	}
	code = builtin_run(s, &loop, &k);
	free(k.buf);
	/* A write error (ENOSPC, EFBIG, EIO) would come again at once. */
	return k.write_err ? no_restart(code) : code;
}

const struct builtin builtin_file_sink = {
	.name = "file-sink",
	.synopsis = "[--lines] [--append] FILE|-",
	.summary = "write every record's bytes to a file (- for stdout)",
	.help =
	"  --lines     end each record with a newline, except a record of\n"
	"              type 17 (unterminated), 18 (a block of lines) or 19\n"
	"              (a piece of a line longer than a record, the rest\n"
	"              in the next): such a line is written whole.\n"
	"  --append    write after what FILE holds as the run starts (not\n"
	"              truncated); a restart cuts it back to what the sink\n"
	"              had released, never below that starting length.\n"
	"              Nothing else may write FILE meanwhile: what another\n"
	"              writer adds is cut away.\n"
	"  FILE is created (mode 0644) before the sandbox is entered, and\n"
	"  truncated when the first record comes or the input ends, so a\n"
	"  run that fails or is cancelled before then leaves it as it\n"
	"  was.  After a restart it is cut back to what the sink had\n"
	"  released, so nothing is written twice.  Writes are gathered up\n"
	"  to 64k and written when the input pauses or ends, and before\n"
	"  every release of input.  A write error (ENOSPC, EFBIG, ...)\n"
	"  fails the stage, not restarted (exit 7); so does a FILE that\n"
	"  cannot be created.  A pipe whose reader went away (| head)\n"
	"  ends it early, as head ends, and the stages before it stop.\n"
	"  A FIFO's reader is waited for 5 s as the stage starts; with\n"
	"  none by then the stage fails (exit 7).  Under ringpipe, a\n"
	"  restart writes on to the same reader (the supervisor holds\n"
	"  the FIFO open for writing until the stage has ended).\n",
	.main = file_sink_main,
};
