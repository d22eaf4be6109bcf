/*
 * builtin_head.c - head: the first N records, then the output ends.
 */
#define _GNU_SOURCE
#include <string.h>

#include "builtin.h"

struct head {
	uint64_t want, seen;
};

static int record(struct rp_stage *s, const struct rp_record *r, void *arg)
{
	struct head *h = arg;
	/* Passed as it came: a piece of a long line, a line without its
	 * newline or a block of lines is written out as such (cut to fit
	 * a smaller output ring). */
	int err = builtin_pass(s, r->data, r->len, r->type);

	if (err)
		return err;
	/* A piece the rest of its line follows is not a line yet: the
	 * line is counted, and stopped at, with its last piece. */
	if (r->type == BUILTIN_T_PIECE)
		return 0;
	/* Saved with the next release: a restarted head goes on counting
	 * from what it had released. */
	h->seen++;
	if ((err = rp_stage_save(s, &h->seen, 1)))
		return err;
	/* Stop on the N-th record, not on the one after it, which may
	 * never come. */
	return h->seen >= h->want ? RP_STOP : 0;
}

static int head_main(int argc, char **argv)
{
	const struct builtin *b = &builtin_head;
	struct head h = {0, 0};
	struct rp_stage *s;
	int i = 1, code;

	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return builtin_usage(b, "no N given");
	if ((code = builtin_parse_count(b, "N", argv[i], &h.want)))
		return code;
	if (i + 1 < argc)
		return builtin_usage(b, "one N only (%s is extra)",
				     argv[i + 1]);
	if ((code = builtin_open(NULL, 0, &s)))
		return code;
	rp_stage_restored(s, &h.seen, 1);
	if (h.want == 0 || h.seen >= h.want)
		return rp_stage_finish(s, 0, 0);
	return rp_stage_run(s, record, &h);
}

const struct builtin builtin_head = {
	.name = "head",
	.synopsis = "N",
	.summary = "pass the first N records, then end the output",
	.help =
	"  N           records to pass (decimal, 0 ends the output at once);\n"
	"              the pieces of a line longer than a record pass\n"
	"              together and count as one, and keep their type; a\n"
	"              record larger than the output's largest is cut to\n"
	"              fit (a line as pieces, a block as smaller blocks)\n"
	"  After the N-th record the stage ends successfully; the rest of\n"
	"  its input is left unread (the supervisor tells its producer).\n",
	.main = head_main,
};
