/*
 * builtin_file_source.c - file-source: a file (or stdin) into records.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin.h"
#include "stage_int.h"

#define READ_BUF (64u * 1024u) /* --lines: bytes per read */
#define WAIT_MS 200 /* longest wait for a pipe, between cancel checks */

/* Where a pipe was left, noted for a restart (rp_stage_set_note): 0
 * nothing read yet, or: */
#define PIPE_READING 1 /* a read under way: not known */
#define PIPE_AT_LINE 2 /* the last byte read ended a line */
#define PIPE_IN_LINE 3 /* it did not */

struct source {
	struct rp_stage *s;
	const char *name; /* for messages */
	int fd;
	int regular;      /* a regular file: reads never wait */
	int resync;       /* restarted on a pipe: drop to a line's start */
	uint64_t left;    /* a pipe: PIPE_* (what the note says) */
	int fixed;        /* failed in a way a restart would repeat */
	int eof;
	char *buf;
	uint32_t size;    /* bytes per read (raw: the chunk size; --blocks:
			   * the size aimed at) */
	uint32_t cap;     /* --blocks: bytes in buf, at most */
	int mid_line;     /* --blocks: pieces of a long line are out */
	uint32_t off;     /* --blocks: buf[off, have) is not sent yet */
	uint32_t scanned; /* --blocks: buf[off + size, scanned) holds no
			   * newline */
	uint32_t head;    /* --records: 4 (a frame's length word);
			   * --typed-records: 6 (and its type) */
	uint32_t have;    /* raw: bytes read into buf, not yet emitted */
	uint64_t at;      /* bytes of the file in complete origins (a
			   * regular file's: from its start) */
	uint64_t id[2];   /* a regular file's identity, saved with at */
	uint64_t dropped; /* by resync */
	uint64_t rpos;    /* a regular file: where the next read is (pread:
			   * a stdin's offset, shared with the run, stays
			   * where the run began until the end) */
	struct linebuf *lb; /* --lines */
};

/* Its place, with the file's identity: a restart checks that the file
 * its FILE names is still that file (builtin_same_file). */
static int save_place(struct rp_stage *s, const struct source *src)
{
	uint64_t w[3] = {src->at, src->id[0], src->id[1]};

	return rp_stage_save(s, w, 3);
}

/* A restart on a pipe goes on wherever the crashed run's reads left
 * it.  Inside a line (or not known: it died in a read), what comes
 * before the next line's start is dropped, not sent on as a line of its
 * own (at most once, as the report says of such a source).  n bytes
 * read into buf: what is left of them there, or -EAGAIN when that is
 * nothing. */
static int resync(struct source *src, char *buf, size_t n)
{
	const char *nl = memchr(buf, '\n', n);
	size_t drop = nl ? (size_t)(nl - buf) + 1 : n;

	src->dropped += drop;
	memmove(buf, buf + drop, n - drop);
	if (nl != NULL) {
		src->resync = 0;
		fprintf(stderr, "file-source: %s: restarted on a pipe: "
				"dropped %llu bytes, up to the next line\n",
			src->name, (unsigned long long)src->dropped);
	}
	return n - drop > 0 ? (int)(n - drop) : -EAGAIN;
}

/* Read what is there: > 0 bytes, 0 at the end, -EAGAIN if a pipe or
 * terminal had nothing for a while (the caller checks for a cancel and
 * comes back), -errno. */
static int read_some(struct source *src, char *buf, uint32_t len)
{
	ssize_t n;

	if (!src->regular) {
		struct pollfd p = {.fd = src->fd, .events = POLLIN};
		int r;
		/* What is committed goes downstream before a wait. */
		rp_stage_flush(src->s);
		r = poll(&p, 1, WAIT_MS);
		if (r == 0 || (r < 0 && errno == EINTR))
			return -EAGAIN;
		if (r < 0)
			goto fail;
	}
	/* A pipe's bytes are gone from it once read: a restart must know
	 * whether they ended a line (then nothing of the next one is lost
	 * and none is dropped); it will not while a read is under way. */
	if (!src->regular)
		rp_stage_set_note(src->s, PIPE_READING);
	do
		n = src->regular ? pread(src->fd, buf, len, (off_t)src->rpos)
				 : read(src->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n > 0 && src->regular)
		src->rpos += (uint64_t)n;
	if (!src->regular) {
		int e = errno;
		if (n > 0)
			src->left = buf[n - 1] == '\n' ? PIPE_AT_LINE
						       : PIPE_IN_LINE;
		rp_stage_set_note(src->s, src->left); /* (as it was if none) */
		errno = e;
	}
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN; /* a non-blocking stdin */
	if (n > 0 && src->resync)
		return resync(src, buf, (size_t)n);
	if (n >= 0)
		return (int)n;
fail:
	n = -errno;
	fprintf(stderr, "file-source: reading %s: %s\n", src->name,
		strerror(errno));
	return (int)n;
}

/* One read into buf, up to want bytes held: the bytes it got (then in
 * have; 0 at the end, then eof is set), -EAGAIN or -errno. */
static int read_more(struct source *src, uint32_t want)
{
	int n = read_some(src, src->buf + src->have, want - src->have);

	if (n == 0)
		src->eof = 1;
	if (n > 0)
		src->have += (uint32_t)n;
	return n;
}

static int produce_chunks(struct rp_stage *s, void *arg)
{
	struct source *src = arg;
	int err;

	/* A regular file fills whole chunks; a pipe gives what one read
	 * returns, so records are not held back waiting for more. */
	while (src->have < src->size && !src->eof) {
		int n = read_more(src, src->size);
		if (n == -EAGAIN)
			return 1;
		if (n < 0)
			return n;
		if (!src->regular && n > 0)
			break;
	}
	if (src->have > 0) {
		/* A chunk is a whole origin: out at once, marked last. */
		err = rp_emit(s, src->buf, src->have);
		src->at += src->have;
		/* Where a restart reads on from: saved once published. */
		if (err == 0)
			err = save_place(s, src);
		src->have = 0;
		if (err)
			return err;
	}
	return src->eof ? 0 : 1;
}

/* Where the next block ends (its last newline), or NULL: the whole lines
 * within N bytes; if the first line is longer, that line; up to N, what
 * complete lines there are.  The bytes not yet sent are buf[off, have);
 * what it has looked through past N without a newline (up to scanned) is
 * not looked through again (a long line read in many reads). */
static const char *block_end(struct source *src)
{
	const char *base = src->buf + src->off, *nl;
	uint32_t avail = src->have - src->off, from;

	if (avail <= src->size)
		return memrchr(base, '\n', avail);
	if ((nl = memrchr(base, '\n', src->size)) != NULL)
		return nl;
	from = src->off + src->size;
	if (src->scanned > from)
		from = src->scanned;
	if ((nl = memchr(src->buf + from, '\n', src->have - from)) == NULL)
		src->scanned = src->have;
	return nl;
}

/* The first n bytes not yet sent are sent: they stay in buf until the
 * next read makes room (no move of the rest at every block). */
static void consumed(struct source *src, uint32_t n)
{
	src->off += n;
	if (src->off == src->have)
		src->off = src->have = src->scanned = 0;
}

/* Room to read more: what is not yet sent moved to the start of buf. */
static void compact(struct source *src)
{
	if (src->off == 0)
		return;
	memmove(src->buf, src->buf + src->off, src->have - src->off);
	src->have -= src->off;
	src->scanned = src->scanned > src->off ? src->scanned - src->off : 0;
	src->off = 0;
}

/* A line longer than the output's largest record, from the first byte
 * not yet sent: pieces of that size (type 19) of one origin, its end with
 * its newline a block of its own (type 18), so that grep takes the line
 * whole and every writer writes its bytes as they were.  Saved only once
 * the line is out: a restart sends it again from its start, under the
 * same keys.  1, or emit's error. */
static int long_line(struct rp_stage *s, struct source *src)
{
	const char *base = src->buf + src->off;
	uint32_t avail = src->have - src->off, n;
	const char *nl = memchr(base, '\n', avail);
	int last, err;

	if (nl != NULL && (uint32_t)(nl - base) < src->cap) {
		n = (uint32_t)(nl - base) + 1;
		last = 1;
	} else if (avail >= src->cap) {
		n = src->cap; /* (its newline, if next, in the next part) */
		last = 0;
	} else if (src->eof) {
		n = avail; /* a last line without newline */
		last = 1;
	} else {
		return 1; /* more of the line first */
	}
	if (src->mid_line)
		rp_emit_same_origin(s);
	err = rp_emit(s, base, n);
	if (err == 0)
		err = rp_emit_type(s, last ? BUILTIN_T_LINES : BUILTIN_T_PIECE);
	if (err == 0 && last)
		err = rp_emit_end_origin(s);
	src->at += n;
	src->mid_line = !last;
	if (err == 0 && last)
		err = save_place(s, src);
	consumed(src, n);
	if (err)
		return err;
	return src->eof && src->have == src->off ? 0 : 1;
}

/* --blocks: whole lines, about N bytes of them, one record (one origin)
 * each.  A line longer than N makes its block longer, up to the output's
 * largest record; one longer still goes as pieces (long_line).  What
 * follows the last newline waits for the next block. */
static int produce_blocks(struct rp_stage *s, void *arg)
{
	struct source *src = arg;
	const char *nl;
	uint32_t cut;
	int err;

	for (;;) {
		uint32_t avail = src->have - src->off;
		int n;
		if (avail >= src->size &&
		    (block_end(src) != NULL || avail >= src->cap))
			break;
		if (src->eof)
			break;
		/* Up to N; past it (a line longer than N), as much as the
		 * buffer takes, not N at a time. */
		compact(src);
		n = read_more(src, src->have < src->size ? src->size
							  : src->cap);
		if (n == -EAGAIN)
			return 1;
		if (n < 0)
			return n;
		/* A pipe: its complete lines go out now, not once N came. */
		if (!src->regular && n > 0 && block_end(src) != NULL)
			break;
	}
	/* (At the end right after a full piece, its line still ends:
	 * with an empty last part.) */
	if (src->mid_line)
		return long_line(s, src);
	if (src->have == src->off)
		return src->eof ? 0 : 1;
	nl = block_end(src);
	if (nl != NULL)
		cut = (uint32_t)(nl - (src->buf + src->off)) + 1;
	else if (src->eof)
		cut = src->have - src->off; /* a last line without newline */
	else if (src->have - src->off >= src->cap)
		return long_line(s, src); /* longer than a record */
	else
		return 1; /* a pipe: the rest of the line first */
	err = rp_emit(s, src->buf + src->off, cut);
	if (err == 0)
		err = rp_emit_type(s, BUILTIN_T_LINES);
	src->at += cut;
	/* Where a restart reads on from: saved once published. */
	if (err == 0)
		err = save_place(s, src);
	consumed(src, cut);
	if (err)
		return err;
	return src->eof && src->have == src->off ? 0 : 1;
}

/* Read exactly n bytes: n, 0 at a clean end (nothing read), -EPROTO at an
 * end inside, -EAGAIN (a pipe had nothing for a while: nothing consumed
 * only if have is 0), -errno. */
static int read_full(struct source *src, char *buf, uint32_t n,
		     uint32_t *have)
{
	while (*have < n) {
		int r = read_some(src, buf + *have, n - *have);
		if (r < 0)
			return r;
		if (r == 0)
			return *have == 0 ? 0 : -EPROTO;
		*have += (uint32_t)r;
	}
	return (int)n;
}

/* --records: a 4-byte little-endian length, then that many bytes; one
 * record (one origin) per frame, as the dead-letter output holds them.
 * --typed-records: a 2-byte little-endian record type after the length
 * (ringpipe replay's frames). */
static int produce_frames(struct rp_stage *s, void *arg)
{
	struct source *src = arg;
	unsigned char *l = (unsigned char *)src->buf;
	uint32_t len, head = src->head;
	uint16_t type;
	int r;

	if (src->have < head) {
		r = read_full(src, src->buf, head, &src->have);
		if (r == -EAGAIN)
			return 1;
		if (r <= 0)
			goto end;
	}
	len = (uint32_t)l[0] | (uint32_t)l[1] << 8 | (uint32_t)l[2] << 16 |
	      (uint32_t)l[3] << 24;
	type = head == 6 ? (uint16_t)(l[4] | l[5] << 8) : 1;
	if (len > src->size - head) {
		fprintf(stderr, "file-source: %s: a frame of %u bytes at "
				"offset %llu is larger than the output's "
				"largest record (%u)\n",
			src->name, len, (unsigned long long)src->at,
			src->size - head);
		src->fixed = 1;
		return -EMSGSIZE;
	}
	r = read_full(src, src->buf, head + len, &src->have);
	if (r == -EAGAIN)
		return 1;
	if (r < 0 || (r == 0 && len > 0))
		goto end;
	src->have = 0;
	src->at += head + (uint64_t)len;
	/* A type no stage may emit (0, 2-15) goes on as data (1). */
	if ((r = rp_emit(s, src->buf + head, len)) == 0 && type >= 16)
		r = rp_emit_type(s, type);
	if (r == 0)
		r = save_place(s, src);
	return r < 0 ? r : 1;
end:
	if (r == 0)
		return 0;
	if (r == -EPROTO) {
		fprintf(stderr, "file-source: %s: ends inside a frame (offset "
				"%llu)\n",
			src->name, (unsigned long long)src->at);
		src->fixed = 1;
	}
	return r;
}

static int emit_line(void *arg, const void *buf, uint32_t len, int first,
		     int last, int unterminated)
{
	struct source *src = arg;
	int err = builtin_emit_piece(src->s, 1, buf, len, first, last,
				     unterminated);

	src->at += len + (uint64_t)(last && !unterminated);
	/* A line is complete: where a restart reads on from (saved once
	 * it is published). */
	if (err == 0 && last)
		err = save_place(src->s, src);
	return err;
}

static int produce_lines(struct rp_stage *s, void *arg)
{
	struct source *src = arg;
	int n = read_some(src, src->buf, src->size), err;

	(void)s;
	if (n == -EAGAIN)
		return 1;
	if (n < 0)
		return n;
	if (n == 0) {
		err = linebuf_end(src->lb);
		return err < 0 ? err : 0;
	}
	err = linebuf_feed(src->lb, src->buf, (size_t)n);
	return err < 0 ? err : 1;
}

/* Open before the sandbox, which cannot.  A failure is reported after
 * attaching, so the supervisor gets it as the stage's error.  A FIFO is
 * opened without waiting for its writer (which may come long after the
 * stage must have started); reads wait for it in poll. */
static int open_input(struct source *src, const char *path)
{
	struct stat st;

	src->fd = strcmp(path, "-") == 0
			  ? STDIN_FILENO
			  : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
					       O_NONBLOCK);
	if (src->fd < 0)
		return -errno;
	if (fstat(src->fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	src->regular = S_ISREG(st.st_mode);
	builtin_file_id(src->fd, src->id);
	if (src->fd != STDIN_FILENO && src->regular &&
	    fcntl(src->fd, F_SETFL, 0) < 0)
		return -errno;
	return 0;
}

/* The stage's end: a failure a restart would only repeat (its FILE
 * cannot be opened, a frame that cannot be read) is said so. */
static int finish(const struct source *src, int code)
{
	return src->fixed && code == RP_EXIT_ERROR ? RP_EXIT_NO_RESTART
						   : code;
}

/* Digits, then k or m if wanted: what builtin_parse_size takes. */
static int is_size(const char *v)
{
	size_t n = strspn(v, "0123456789");

	return n > 0 && (v[n] == '\0' ||
			 (strchr("kKmM", v[n]) != NULL && v[n + 1] == '\0'));
}

static int file_source_main(int argc, char **argv)
{
	const struct builtin *b = &builtin_file_source;
	struct source src = {.fd = -1};
	uint64_t chunk = BUILTIN_CHUNK_DEFAULT;
	const char *path = NULL;
	int lines = 0, chunks = 0, frames = 0, nframes = 0, blocks = 0, i,
	    err, code;
	struct rp_stage *s;
	uint32_t max;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--lines") == 0) {
			lines = 1;
		} else if (strcmp(a, "--records") == 0) {
			frames = 4;
			nframes++;
		} else if (strcmp(a, "--typed-records") == 0) {
			frames = 6;
			nframes++;
		} else if (strcmp(a, "--blocks") == 0 ||
			   strncmp(a, "--blocks=", 9) == 0) {
			/* N is optional: --blocks=N, or --blocks N when a
			 * FILE follows N (so N cannot be the FILE). */
			const char *v = a[8] == '=' ? a + 9
				      : i + 2 < argc && is_size(argv[i + 1])
					      ? argv[++i]
					      : NULL;
			if (v != NULL &&
			    (code = builtin_parse_size(b, "--blocks", v, 1,
						       1u << 30, &chunk)))
				return code;
			blocks = 1;
		} else if (strcmp(a, "--chunks") == 0 ||
			   strncmp(a, "--chunks=", 9) == 0) {
			const char *v = a[8] == '=' ? a + 9 : argv[++i];
			if ((code = builtin_parse_size(b, "--chunks", v, 1,
						       1u << 30, &chunk)))
				return code;
			chunks = 1;
		} else if (a[0] == '-' && a[1] != '\0') {
			return builtin_usage(b, "unknown option %s", a);
		} else {
			break;
		}
	}
	if (i < argc)
		path = argv[i++];
	if (path == NULL)
		return builtin_usage(b, "no FILE given (- reads stdin)");
	if (i < argc)
		return builtin_usage(b, "one FILE only (%s is extra)", argv[i]);
	if (lines + chunks + nframes + blocks > 1)
		return builtin_usage(b, "--lines, --chunks, --blocks, "
					"--records and --typed-records "
					"exclude each other");

	src.name = strcmp(path, "-") == 0 ? "stdin" : path;
	/* Checked, not opened (a FIFO would wait for its writer). */
	if (builtin_checking() && strcmp(path, "-") != 0) {
		struct stat st;
		int e = access(path, R_OK) != 0	      ? errno
			: stat(path, &st) != 0	      ? errno
			: S_ISDIR(st.st_mode) ? EISDIR
					      : 0;
		if (e) {
			fprintf(stderr, "file-source: %s: %s\n", path,
				strerror(e));
			return RP_EXIT_NO_RESTART;
		}
	}
	if (builtin_checking())
		return builtin_open(NULL, 0, &s);
	err = open_input(&src, path);
	if (err)
		fprintf(stderr, "file-source: %s: %s\n", src.name,
			strerror(-err));
	code = builtin_open(&src.fd, src.fd > STDERR_FILENO ? 1 : 0, &s);
	if (code)
		return code;
	if (err) {
		src.fixed = 1;
		return finish(&src, rp_stage_finish(s, err, 0));
	}
	src.s = s;
	/* A restart reads on after the last line or chunk it had
	 * published (numbered as before); a pipe cannot go back.  Offsets
	 * in a regular file count from its start: one given part read (a
	 * stdin) is read on from where it was when the run began, which
	 * its shared offset still says (reads do not move it), also for a
	 * restart that died before it published anything. */
	{
		uint64_t word[3] = {0, 0, 0};
		off_t here;
		int restored = rp_stage_restored(s, word, 3);
		if (restored)
			src.at = word[0];
		else if (src.regular &&
			 (here = lseek(src.fd, 0, SEEK_CUR)) > 0)
			src.at = (uint64_t)here;
		/* Its FILE renamed away (a log rotation) or cut short since:
		 * another file's bytes at that place would be lost or read
		 * twice, as exactly-once.  Said, and the run fails. */
		if (restored && src.regular &&
		    builtin_same_file("file-source", src.name, src.fd,
				      word + 1, src.at) != 0) {
			src.fixed = 1;
			return finish(&src, rp_stage_finish(s, -ESTALE, 0));
		}
		src.rpos = src.at;
		src.left = rp_stage_note(s);
		if (restored || rp_stage_incarnation(s) > 1) {
			/* (Nothing read before, or all read ending a line:
			 * the pipe is at a line's start.) */
			src.resync = !src.regular && (lines || blocks) &&
				     src.left != 0 && src.left != PIPE_AT_LINE;
			if (!src.regular && (lines || blocks) && !src.resync)
				fprintf(stderr, "file-source: %s: restarted on "
						"a pipe at a line's start: "
						"nothing dropped\n",
					src.name);
			if (!src.regular && frames) {
				fprintf(stderr, "file-source: %s: restarted "
						"on a pipe: its next frame "
						"cannot be found\n",
					src.name);
				src.fixed = 1;
				return finish(&src,
					      rp_stage_finish(s, -EPROTO, 0));
			}
		}
	}
	max = rp_stage_max_record(s);
	if (max == 0) {
		fprintf(stderr, "file-source: no output ring\n");
		return rp_stage_finish(s, -EINVAL, 0);
	}
	/* A chunk is one record: never larger than the output takes. */
	src.size = lines    ? READ_BUF
		   : frames ? max + frames
			    : (uint32_t)(chunk < max ? chunk : max);
	src.head = (uint32_t)frames;
	src.cap = blocks ? max : src.size;
	src.buf = malloc(src.cap);
	if (src.buf == NULL ||
	    (lines && linebuf_new(max, emit_line, &src, &src.lb) != 0)) {
		fprintf(stderr, "file-source: out of memory\n");
		free(src.buf);
		return rp_stage_finish(s, -ENOMEM, 0);
	}
	code = rp_stage_run_source(s, lines    ? produce_lines
				      : frames ? produce_frames
				      : blocks ? produce_blocks
					       : produce_chunks,
				   &src);
	linebuf_free(src.lb);
	free(src.buf);
	/* A stdin read to its end is left there, as any reader leaves it. */
	if (code == RP_EXIT_OK && src.regular && src.fd == STDIN_FILENO)
		(void)lseek(src.fd, (off_t)src.rpos, SEEK_SET);
	return finish(&src, code);
}

const struct builtin builtin_file_source = {
	.name = "file-source",
	.synopsis = "[--lines | --blocks [N] | --chunks N | --records | "
		    "--typed-records] FILE|-",
	.summary = "read a file (- for stdin) into records",
	.help =
	"  --chunks N  raw records of N bytes (default 64k), at most the\n"
	"              output's largest record; from a pipe or terminal,\n"
	"              what one read returns, up to N.  N takes k or m.\n"
	"  --lines     one record per line, without its newline.  A last\n"
	"              line without a newline is emitted marked so (type\n"
	"              17: written out, it gets none).  A line longer than\n"
	"              the output's largest record is emitted as several\n"
	"              records of one origin (sub-index 0, 1, ...; the last\n"
	"              one is marked last-of-origin); only the last may be\n"
	"              short.\n"
	"  --blocks [N] whole lines, about N bytes of them (default 64k),\n"
	"              newlines kept, one record each (type 18: grep takes\n"
	"              it line by line, file-sink --lines and exec --lines\n"
	"              write it as it is; head and count count blocks): far\n"
	"              fewer records than --lines for a line pipeline.  A\n"
	"              longer line makes its block longer, up to the output's\n"
	"              largest record; a line longer still goes as pieces\n"
	"              of that size (type 19) and its end, newline and all,\n"
	"              as a block, so it comes out whole (grep matches the\n"
	"              line whole).\n"
	"  --records   frames: a 4-byte little-endian length, then that\n"
	"              many bytes, one record each (the framing of exec\n"
	"              --records and of the dead-letter output NAME.dead.rec,\n"
	"              so quarantined records can be replayed).  A frame\n"
	"              larger than the output's largest record, or cut short\n"
	"              by the end of FILE, fails the stage.\n"
	"  --typed-records  frames as --records with a 2-byte little-endian\n"
	"              record type after the length (1, data, or 16 and up:\n"
	"              17 a line without its newline, 18 a block of lines,\n"
	"              19 a piece of a long line; others go on as data):\n"
	"              what ringpipe replay feeds, from the dead-letter\n"
	"              index's \"type\", so a record is replayed as it was.\n"
	"  FILE is opened before the sandbox is entered (a FIFO without\n"
	"  waiting for its writer).  A FILE that cannot be opened, or a\n"
	"  frame cut short, fails the stage, not restarted (exit 7); a\n"
	"  read error fails it (exit 1).  After a restart a regular FILE,\n"
	"  stdin too, is read on from the last line or chunk published\n"
	"  before the crash (stdin's offsets count from where it was when\n"
	"  the run began); a pipe goes on where the crash left it: what\n"
	"  the crashed run had read and not published is lost, the rest\n"
	"  of a line it had read part of is dropped (all up to the next\n"
	"  line's start if it died inside a read, which may be a whole\n"
	"  line), and --records and --typed-records fail.\n",
	.main = file_source_main,
};
