/*
 * fuzz_linebuf.c - cutting a byte stream into line records (file-source
 * --lines, lines, exec's output): whatever the bytes and however they
 * arrive, the pieces put back together, with a newline after each line
 * that had one, are the stream; a piece is never longer than the
 * largest record; only a line's last piece is shorter, and it is empty
 * only for an empty line.
 *
 * The input: a 2-byte largest record, then chunks (a byte's length, then
 * that many bytes) fed one after the other.
 */
#include <string.h>

#include "../../stage/builtin.h"
#include "fuzz.h"

struct seen {
	uint8_t *out; /* the stream put back together */
	size_t len, cap;
	uint32_t max;
	uint64_t lines;
	int in_line; /* a piece of the current line went out */
};

static int got(void *arg, const void *buf, uint32_t len, int first, int last,
	       int unterminated)
{
	struct seen *s = arg;

	FZ_CHECK(len <= s->max);
	FZ_CHECK(first == !s->in_line);
	if (!last)
		FZ_CHECK(len == s->max);
	if (last && len == 0)
		FZ_CHECK(first && !unterminated);
	FZ_CHECK(!unterminated || last);
	FZ_CHECK(s->len + len + 1 <= s->cap);
	memcpy(s->out + s->len, buf, len);
	s->len += len;
	if (last && !unterminated)
		s->out[s->len++] = '\n';
	s->lines += last != 0;
	s->in_line = !last;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct seen s;
	struct linebuf *lb;
	uint8_t *fed = malloc(size + 1);
	size_t fn = 0;
	uint64_t nls = 0;

	memset(&s, 0, sizeof(s));
	s.max = fz_u16(&in) % 300 + 1;
	s.cap = size + 1;
	s.out = malloc(s.cap);
	FZ_CHECK(fed && s.out);
	FZ_CHECK(linebuf_new(s.max, got, &s, &lb) == 0);
	while (in.n > 0) {
		uint8_t chunk[255];
		size_t n = fz_bytes(&in, chunk, fz_u8(&in));
		FZ_CHECK(linebuf_feed(lb, chunk, n) == 0);
		memcpy(fed + fn, chunk, n);
		fn += n;
		for (size_t i = 0; i < n; i++)
			nls += chunk[i] == '\n';
		FZ_CHECK(linebuf_lines(lb) == nls);
		/* What is held or begun is the line after the last newline. */
		FZ_CHECK(linebuf_partial(lb) ==
			 (fn > 0 && fed[fn - 1] != '\n'));
	}
	FZ_CHECK(linebuf_end(lb) == 0);
	FZ_CHECK(!linebuf_partial(lb));
	FZ_CHECK(s.lines == nls + (fn > 0 && fed[fn - 1] != '\n'));
	FZ_CHECK(s.len == fn && memcmp(s.out, fed, fn) == 0);
	linebuf_free(lb);
	free(s.out);
	free(fed);
	return 0;
}
