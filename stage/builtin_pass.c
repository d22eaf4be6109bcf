/*
 * builtin_pass.c - a record passed on as it came, cut to fit the output.
 *
 * A stage's output ring may take smaller records than its input ring (a
 * later stage's `ring:`).  A line longer than the output's largest
 * record goes on as pieces of it (type 19, all but the last), as a
 * source cuts one, so that a line the input took whole reaches the end
 * whole instead of failing the stage on it.  A block of lines goes on as
 * smaller blocks, cut at newlines, each line too long for one as pieces
 * and its end, newline and all, a block of its own (as file-source
 * --blocks sends one): bytes written as they are come out the same.
 */
#define _GNU_SOURCE
#include <string.h>

#include "builtin.h"

/* n bytes of one line as pieces of at most max, the last of type. */
static int pieces(struct rp_stage *s, const char *p, size_t n, uint32_t max,
		  uint16_t type)
{
	int err = 0;

	for (;;) {
		uint32_t take = n > max ? max : (uint32_t)n;
		if ((err = rp_emit(s, p, take)))
			return err;
		p += take;
		n -= take;
		if (n == 0)
			return type >= 16 ? rp_emit_type(s, type) : 0;
		if ((err = rp_emit_type(s, BUILTIN_T_PIECE)))
			return err;
	}
}

/* A block too large for one output record: blocks of whole lines up to
 * max bytes each, newlines kept; a line longer than that alone, as
 * pieces and its end, with its newline (if it has one), a block. */
static int split_block(struct rp_stage *s, const char *p, size_t n,
		       uint32_t max)
{
	const char *end = p + n, *nl;
	int err = 0;

	while (err == 0 && p < end) {
		const char *cut = p;
		/* Whole lines, their newlines with them, as many as fit. */
		for (;;) {
			const char *next;
			nl = memchr(cut, '\n', (size_t)(end - cut));
			next = nl ? nl + 1 : end;
			if ((size_t)(next - p) > max)
				break;
			cut = next;
			if (nl == NULL)
				break;
		}
		if (cut > p) {
			if ((err = rp_emit(s, p, (uint32_t)(cut - p))) == 0)
				err = rp_emit_type(s, BUILTIN_T_LINES);
			p = cut;
			continue;
		}
		/* Its first line alone is longer than a record. */
		nl = memchr(p, '\n', (size_t)(end - p));
		err = pieces(s, p, (size_t)((nl ? nl + 1 : end) - p), max,
			     BUILTIN_T_LINES);
		p = nl ? nl + 1 : end;
	}
	return err;
}

int builtin_pass(struct rp_stage *s, const void *data, uint32_t len,
		 uint16_t type)
{
	uint32_t max = rp_stage_max_record(s);
	int err;

	if (max == 0 || len <= max) {
		/* (max 0: the last stage, which rp_emit says.) */
		err = rp_emit(s, data, len);
		return err == 0 && type >= 16 ? rp_emit_type(s, type) : err;
	}
	if (type == BUILTIN_T_LINES)
		return split_block(s, data, len, max);
	return pieces(s, data, len, max, type);
}
