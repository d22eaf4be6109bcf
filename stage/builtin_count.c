/*
 * builtin_count.c - count: records, bytes and a checksum, reported at the
 * end; records pass through when there is an output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

struct count {
	uint64_t records, bytes, fnv;
	int pass; /* there is an output ring */
	char *copy; /* a record larger than the output takes, read once */
	size_t cap;
};

static uint64_t fnv1a(uint64_t h, const unsigned char *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static int record(struct rp_stage *s, const struct rp_record *r, void *arg)
{
	struct count *c = arg;
	void *dst;
	int err;

	c->records++;
	c->bytes += r->len;
	if (!c->pass) {
		c->fnv = fnv1a(c->fnv, r->data, r->len);
		return 0;
	}
	/* Longer than the output takes: cut to fit (a line as pieces, a
	 * block as smaller blocks), from one private copy, the one summed
	 * (its producer may change the shared bytes between two reads). */
	if (r->len > rp_stage_max_record(s)) {
		if (r->len > c->cap) {
			char *p = realloc(c->copy, r->len);
			if (p == NULL)
				return -ENOMEM;
			c->copy = p;
			c->cap = r->len;
		}
		memcpy(c->copy, r->data, r->len);
		c->fnv = fnv1a(c->fnv, (const unsigned char *)c->copy, r->len);
		return builtin_pass(s, c->copy, r->len, r->type);
	}
	/* Sum the copy that goes out: what is reported is what passed. */
	if ((err = rp_emit_reserve(s, r->len, &dst)))
		return err;
	memcpy(dst, r->data, r->len);
	c->fnv = fnv1a(c->fnv, dst, r->len);
	if ((err = rp_emit_commit(s, r->len)))
		return err;
	/* Passed as it came, type and all: a piece of a long line, a line
	 * without its newline or a block of lines stays one. */
	return r->type >= 16 ? rp_emit_type(s, r->type) : 0;
}

/* The totals go with every release, so a restarted count goes on from
 * what it had released instead of from zero. */
static int save(struct rp_stage *s, void *arg)
{
	struct count *c = arg;
	uint64_t w[3] = {c->records, c->bytes, c->fnv};

	return rp_stage_save(s, w, 3);
}

static int end(struct rp_stage *s, void *arg)
{
	struct count *c = arg;

	(void)s;
	fprintf(stderr, "count: records=%" PRIu64 " bytes=%" PRIu64
			" fnv1a=%016" PRIx64 "\n",
		c->records, c->bytes, c->fnv);
	return 0;
}

static int count_main(int argc, char **argv)
{
	static const struct builtin_loop loop = {
		.record = record, .save = save, .end = end};
	struct count c = {.fnv = FNV_OFFSET};
	struct rp_stage *s;
	int code;

	if (argc > 1)
		return builtin_usage(&builtin_count, "takes no %s (%s)",
				     argv[1][0] == '-' ? "options"
						       : "arguments",
				     argv[1]);
	if ((code = builtin_open(NULL, 0, &s)))
		return code;
	c.pass = rp_stage_max_record(s) > 0;
	{
		uint64_t w[3];
		if (rp_stage_restored(s, w, 3)) {
			c.records = w[0];
			c.bytes = w[1];
			c.fnv = w[2];
		}
	}
	code = builtin_run(s, &loop, &c);
	free(c.copy);
	return code;
}

const struct builtin builtin_count = {
	.name = "count",
	.synopsis = "",
	.summary = "count records and bytes, checksum them, pass them on",
	.help =
	"  At the end of the input, writes one line to stderr:\n"
	"    count: records=R bytes=B fnv1a=HEX\n"
	"  HEX is FNV-1a 64 over every payload byte in order (16 hex\n"
	"  digits; 64-bit offset basis for no input).  With an output ring\n"
	"  every record passes through unchanged; without one it is a\n"
	"  sink.  A cancelled count reports nothing.\n",
	.main = count_main,
};
