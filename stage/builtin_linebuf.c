/*
 * builtin_linebuf.c - cutting a byte stream into line records, shared by
 * file-source --lines and lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

struct linebuf {
	uint32_t max;     /* largest piece: the output's largest record */
	uint32_t len;     /* bytes of the current line held in buf */
	uint32_t pieces;  /* pieces of the current line already emitted */
	uint64_t ended;   /* lines completed so far */
	linebuf_emit_fn emit;
	void *arg;
	char buf[];
};

int linebuf_new(uint32_t max, linebuf_emit_fn emit, void *arg,
		struct linebuf **out)
{
	struct linebuf *lb;

	*out = NULL;
	if (max == 0)
		return -EINVAL;
	lb = malloc(sizeof(*lb) + max);
	if (lb == NULL)
		return -ENOMEM;
	memset(lb, 0, sizeof(*lb));
	lb->max = max;
	lb->emit = emit;
	lb->arg = arg;
	*out = lb;
	return 0;
}

void linebuf_free(struct linebuf *lb)
{
	free(lb);
}

static int piece(struct linebuf *lb, const void *buf, uint32_t len,
		 int last, int unterminated)
{
	int first = lb->pieces == 0;

	lb->pieces = last ? 0 : lb->pieces + 1;
	lb->ended += last != 0;
	return lb->emit(lb->arg, buf, len, first, last, unterminated);
}

int linebuf_feed(struct linebuf *lb, const void *data, size_t n)
{
	const char *p = data, *end = p + n;
	int err = 0;

	while (p < end && err == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end; /* the line's bytes here */

		/* Complete what is held.  A full buffer goes out as a piece
		 * only once more of its line is known to follow, so a line's
		 * last piece is never empty. */
		while (lb->len > 0 && p < stop) {
			uint32_t take;
			if (lb->len == lb->max) {
				err = piece(lb, lb->buf, lb->len, 0, 0);
				lb->len = 0;
				break;
			}
			take = (size_t)(stop - p) < lb->max - lb->len
				       ? (uint32_t)(stop - p)
				       : lb->max - lb->len;
			memcpy(lb->buf + lb->len, p, take);
			lb->len += take;
			p += take;
		}
		if (err)
			break;
		if (lb->len > 0) {
			/* All of this stretch is held (p == stop). */
			if (nl) {
				err = piece(lb, lb->buf, lb->len, 1, 0);
				lb->len = 0;
			}
		} else {
			/* Nothing held: pieces go out straight from the
			 * input, and only a line's unfinished end is kept. */
			while (err == 0 && (size_t)(stop - p) > lb->max) {
				err = piece(lb, p, lb->max, 0, 0);
				p += lb->max;
			}
			if (err == 0 && nl) {
				err = piece(lb, p, (uint32_t)(stop - p), 1, 0);
			} else if (err == 0) {
				memcpy(lb->buf, p, (size_t)(stop - p));
				lb->len = (uint32_t)(stop - p);
			}
		}
		p = nl ? nl + 1 : end;
	}
	return err;
}

int linebuf_partial(const struct linebuf *lb)
{
	return lb->len > 0 || lb->pieces > 0;
}

void linebuf_drop(struct linebuf *lb)
{
	lb->len = 0;
	lb->pieces = 0;
}

uint64_t linebuf_lines(const struct linebuf *lb)
{
	return lb->ended;
}

int linebuf_end(struct linebuf *lb)
{
	int err = 0;

	if (lb->len > 0)
		err = piece(lb, lb->buf, lb->len, 1, 1);
	lb->len = 0;
	lb->pieces = 0;
	return err;
}

int builtin_emit_piece(struct rp_stage *s, int source, const void *buf,
		       uint32_t len, int first, int last, int unterminated)
{
	int err;

	/* Every emit of a source starts a new origin unless told: the
	 * pieces of one line share theirs. */
	if (source && !first)
		rp_emit_same_origin(s);
	err = rp_emit(s, buf, len);
	/* A piece the rest of its line follows: written out, the line is
	 * whole again.  A last line without its newline says so: a writer
	 * of lines (file-sink --lines, exec --lines) leaves it without one,
	 * as cat does; grep makes it a line, as grep(1) prints it. */
	if (err == 0 && !last)
		err = rp_emit_type(s, BUILTIN_T_PIECE);
	else if (err == 0 && unterminated)
		err = rp_emit_type(s, BUILTIN_T_UNTERMINATED);
	/* A source's line is complete: it goes out now, marked last,
	 * instead of waiting for the next line to begin. */
	if (err == 0 && source && last)
		err = rp_emit_end_origin(s);
	return err;
}
