/*
 * builtin_grep.c - grep: pass the records a POSIX regular expression
 * matches (or, with -v, does not).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <langinfo.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "stage_int.h"

struct grep {
	regex_t re;
	const char *literal; /* the REGEX is a plain string: memmem */
	size_t literal_len;
	int invert;
	char *copy; /* the record, out of shared memory, NUL-terminated */
	size_t cap;
	/* A line longer than a record comes as pieces (type 19, then a
	 * last one of another type): joined here, and matched whole. */
	char *line;
	size_t llen, lcap;
	int joining;
	int skipping; /* the rest of a line a restart cut: dropped */
	int replica;  /* copies share a line's pieces out: each alone */
};

/* The longest line whose pieces are joined. */
#define LINE_MAX_JOINED (256u << 20)

/* Does line [p, p + n) of the private copy match?  1, 0, or -errno.
 * The line is the string regexec sees: ^ and $ are its ends. */
static int match(struct grep *g, const char *p, size_t n)
{
	regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)n};
	int rc;

	if (g->literal != NULL)
		return memmem(p, n, g->literal, g->literal_len) != NULL;
	rc = regexec(&g->re, p, 1, &m, REG_STARTEND);
	if (rc != 0 && rc != REG_NOMATCH) {
		char msg[128];
		regerror(rc, &g->re, msg, sizeof(msg));
		fprintf(stderr, "grep: matching: %s\n", msg);
		return -ENOMEM; /* REG_ESPACE: the only runtime failure */
	}
	return rc == 0;
}

/*
 * A block of lines (file-source --blocks): each line is matched as a
 * record would be, and passes as a record of its own, without its
 * newline.  A plain string is searched for in the whole block at once,
 * and only the lines it occurs in are looked at (as GNU grep does).
 */
static int block(struct rp_stage *s, struct grep *g, size_t len)
{
	const char *p = g->copy, *end = g->copy + len;
	int err = 0;

	if (g->literal != NULL && !g->invert) {
		while (err == 0 && p < end) {
			const char *hit = memmem(p, (size_t)(end - p),
						 g->literal, g->literal_len);
			const char *bol, *eol;
			if (hit == NULL)
				break;
			bol = memrchr(p, '\n', (size_t)(hit - p));
			bol = bol ? bol + 1 : p;
			eol = memchr(hit, '\n', (size_t)(end - hit));
			err = builtin_pass(s, bol,
					   (uint32_t)((eol ? eol : end) - bol), 1);
			if (eol == NULL)
				break;
			p = eol + 1;
		}
		return err;
	}
	while (err == 0 && p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((eol ? eol : end) - p);
		int m = match(g, p, n);
		if (m < 0)
			return m;
		if (m != g->invert)
			err = builtin_pass(s, p, (uint32_t)n, 1);
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	return err;
}

/* A piece of a long line: kept until its last piece, the record it began
 * in held (a restart cuts the line again from its start); then the line
 * is matched whole, as grep(1) matches it. */
static int piece(struct rp_stage *s, struct grep *g, const struct rp_record *r)
{
	int m, err;

	if (g->llen + r->len + 1 > g->lcap) {
		size_t cap = g->lcap ? g->lcap : 1u << 20;
		char *p;
		if (g->llen + r->len >= LINE_MAX_JOINED) {
			fprintf(stderr, "grep: a line longer than %u MiB: "
					"too long to match whole\n",
				LINE_MAX_JOINED >> 20);
			return -EFBIG;
		}
		while (cap < g->llen + r->len + 1)
			cap *= 2;
		if ((p = realloc(g->line, cap)) == NULL) {
			fprintf(stderr, "grep: a line of over %zu bytes: out "
					"of memory\n",
				g->llen + r->len);
			return -ENOMEM;
		}
		g->line = p;
		g->lcap = cap;
	}
	if (!g->joining) {
		uint64_t mid = 1;
		g->joining = 1;
		/* Saved for a restart past the hold (given up for a line
		 * over half the input ring): it must not take the rest of
		 * the line for a line. */
		if ((err = rp_stage_hold(s)) < 0 ||
		    (err = rp_stage_save(s, &mid, 1)) < 0)
			return err;
	}
	memcpy(g->line + g->llen, r->data, r->len);
	g->llen += r->len;
	if (r->type == BUILTIN_T_PIECE)
		return 0;
	g->joining = 0;
	rp_stage_unhold(s);
	if ((err = rp_stage_save(s, &(uint64_t){0}, 1)) < 0)
		return err;
	/* Its end as a block (file-source --blocks): its newline is
	 * not part of the line. */
	if (r->type == BUILTIN_T_LINES && g->llen > 0 &&
	    g->line[g->llen - 1] == '\n')
		g->llen--;
	g->line[g->llen] = '\0';
	m = match(g, g->line, g->llen);
	err = m < 0 ? m : m != g->invert ? builtin_pass(s, g->line, (uint32_t)g->llen, 1)
					  : 0;
	g->llen = 0;
	return err;
}

static int record(struct rp_stage *s, const struct rp_record *r, void *arg)
{
	struct grep *g = arg;
	int rc;

	if (g->skipping) {
		/* Up to the end of the line the restart came in the middle
		 * of: what is left of it is no line. */
		if (r->type != BUILTIN_T_PIECE) {
			g->skipping = 0;
			return rp_stage_save(s, &(uint64_t){0}, 1);
		}
		return 0;
	}
	if (!g->replica && (r->type == BUILTIN_T_PIECE || g->joining))
		return piece(s, g, r);

	/* The producer can change shared bytes while they are read: match
	 * and emit one private copy.  REG_STARTEND bounds the match, so
	 * NUL bytes inside a record are just bytes; the copy still ends in
	 * a NUL for whatever reads the string up to one (the sanitizers'
	 * regexec does). */
	if (r->len >= g->cap) {
		char *p = realloc(g->copy, (size_t)r->len + 1);
		if (p == NULL) {
			fprintf(stderr, "grep: out of memory\n");
			return -ENOMEM;
		}
		g->copy = p;
		g->cap = (size_t)r->len + 1;
	}
	memcpy(g->copy, r->data, r->len);
	g->copy[r->len] = '\0';
	if (r->type == BUILTIN_T_LINES)
		return block(s, g, r->len);
	rc = match(g, g->copy, r->len);
	if (rc < 0)
		return rc;
	if (rc != g->invert)
		return builtin_pass(s, g->copy, r->len, 1);
	return 0;
}

/* A REGEX without one special character matches exactly where its bytes
 * occur, as a string search does - when a byte is a character: printable
 * ASCII, in a single-byte locale or UTF-8 (where ASCII bytes are never
 * part of another character). */
static int is_literal(const char *p)
{
	const char *cs = nl_langinfo(CODESET);

	if (MB_CUR_MAX != 1 && strcmp(cs, "UTF-8") != 0)
		return 0;
	for (; *p; p++)
		if (*p < 0x20 || *p > 0x7e || strchr(".[]()*+?{}|^$\\", *p))
			return 0;
	return 1;
}

static int grep_main(int argc, char **argv)
{
	const struct builtin *b = &builtin_grep;
	struct grep g = {.invert = 0};
	const char *pattern = NULL;
	struct rp_stage *s;
	int i, rc, code;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-v") == 0) {
			g.invert = 1;
		} else if (a[0] == '-' && a[1] != '\0') {
			return builtin_usage(b, "unknown option %s (a REGEX "
						"that starts with - goes "
						"after --)", a);
		} else {
			break;
		}
	}
	if (i < argc)
		pattern = argv[i++];
	if (pattern == NULL)
		return builtin_usage(b, "no REGEX given");
	if (i < argc)
		return builtin_usage(b, "one REGEX only (%s is extra)",
				     argv[i]);
	rc = regcomp(&g.re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[128];
		regerror(rc, &g.re, msg, sizeof(msg));
		return builtin_usage(b, "bad REGEX '%s': %s", pattern, msg);
	}
	if (is_literal(pattern)) {
		g.literal = pattern;
		g.literal_len = strlen(pattern);
	}
	code = builtin_open(NULL, 0, &s);
	if (code == 0) {
		uint64_t mid = 0;
		rp_stage_current(s, &g.replica);
		if (!g.replica && rp_stage_restored(s, &mid, 1) && mid == 1) {
			fprintf(stderr, "grep: restarted inside a line longer "
					"than half its input ring (not held): "
					"the rest of that line is dropped\n");
			g.skipping = 1;
		}
		code = rp_stage_run(s, record, &g);
	}
	regfree(&g.re);
	free(g.copy);
	free(g.line);
	return code;
}

const struct builtin builtin_grep = {
	.name = "grep",
	.synopsis = "[-v] [--] REGEX",
	.summary = "pass the records a POSIX extended REGEX matches",
	.help =
	"  -v          pass the records it does not match instead\n"
	"  REGEX is POSIX extended (regcomp REG_EXTENDED), matched against\n"
	"  each whole record as bytes in the locale's character set\n"
	"  (LC_CTYPE, LC_COLLATE); ^ and $ are the record's ends, and a NUL\n"
	"  byte does not end it: a plain string and the characters named in\n"
	"  REGEX are matched across one, but . and [^...] do not match it\n"
	"  (as grep -a's do).  A bad REGEX is a usage error.\n"
	"  A block of lines (file-source --blocks) is taken line by line: each\n"
	"  line that passes is a record of its own, without its newline.\n"
	"  A line longer than a record, which comes as pieces (type 19), is\n"
	"  joined and matched whole (up to 256 MiB), and passes as the same\n"
	"  pieces; after a restart it is taken again from its first piece,\n"
	"  unless it is longer than half the input ring (not held): then\n"
	"  the rest of it is dropped, said.  Replicas share a line's pieces\n"
	"  out: each copy matches the pieces it takes on their own, and each\n"
	"  piece that passes is a line of its own.\n",
	.main = grep_main,
};
