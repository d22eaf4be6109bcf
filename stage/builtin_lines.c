/*
 * builtin_lines.c - lines: raw chunks into one record per line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "builtin.h"

static int emit_line(void *arg, const void *buf, uint32_t len, int first,
		     int last, int unterminated)
{
	return builtin_emit_piece(arg, 0, buf, len, first, last,
				  unterminated);
}

/* A line begun in this record and not finished keeps the record from
 * being released: after a crash the line is cut again from its start,
 * the same way, instead of from its middle. */
static int record(struct rp_stage *s, const struct rp_record *r, void *arg)
{
	uint64_t before = linebuf_lines(arg);
	int err = linebuf_feed(arg, r->data, r->len);

	if (err)
		return err;
	/* The line left open began here if one ended here (or none was
	 * open): the hold moves here.  Otherwise it goes on from an
	 * earlier record, which stays held. */
	if (linebuf_lines(arg) != before)
		rp_stage_unhold(s);
	return linebuf_partial(arg) ? rp_stage_hold(s) : 0;
}

/* The input ended: the line it ended inside goes out unterminated. */
static int end(struct rp_stage *s, void *arg)
{
	rp_stage_unhold(s);
	return linebuf_end(arg);
}

static int lines_main(int argc, char **argv)
{
	static const struct builtin_loop loop = {.record = record,
						 .end = end};
	struct linebuf *lb;
	struct rp_stage *s;
	uint32_t max;
	int code;

	if (argc > 1)
		return builtin_usage(&builtin_lines, "takes no %s (%s)",
				     argv[1][0] == '-' ? "options"
						       : "arguments",
				     argv[1]);
	if ((code = builtin_open(NULL, 0, &s)))
		return code;
	max = rp_stage_max_record(s);
	if (max == 0) {
		fprintf(stderr, "lines: no output ring\n");
		return rp_stage_finish(s, -EINVAL, 0);
	}
	if (linebuf_new(max, emit_line, s, &lb) != 0) {
		fprintf(stderr, "lines: out of memory\n");
		return rp_stage_finish(s, -ENOMEM, 0);
	}
	code = builtin_run(s, &loop, lb);
	linebuf_free(lb);
	return code;
}

const struct builtin builtin_lines = {
	.name = "lines",
	.synopsis = "",
	.summary = "cut raw chunks into one record per line",
	.help =
	"  Records are bytes of one stream; lines run across record\n"
	"  boundaries.  Each line goes out without its newline.  The\n"
	"  partial line the input ends with goes out at the end, marked\n"
	"  as a line without its newline (type 17: written out, it gets\n"
	"  none).  A line longer than the output's largest record\n"
	"  goes out as pieces of that size and a last, shorter or equal,\n"
	"  piece, which is never empty.\n",
	.main = lines_main,
};
