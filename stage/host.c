/*
 * host.c - ringpipe-stage NAME [OPTIONS...]: the built-in stages, one
 * binary.  A supervisor execs it with the stage's wiring in
 * RINGPIPE_STAGE; run by hand, --help lists the stages.
 */
#define _GNU_SOURCE
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "builtin.h"

static const struct builtin *const stages[] = {
	&builtin_file_source, &builtin_file_sink, &builtin_lines,
	&builtin_grep,        &builtin_head,      &builtin_count,
	&builtin_exec,
	&builtin_fault,
};
#define NSTAGES (sizeof(stages) / sizeof(stages[0]))

static void help_stage(FILE *f, const struct builtin *b)
{
	fprintf(f, "ringpipe-stage %s%s%s\n    %s\n%s", b->name,
		b->synopsis[0] ? " " : "", b->synopsis, b->summary, b->help);
}

static void help_all(FILE *f)
{
	fprintf(f,
		"usage: ringpipe-stage NAME [OPTIONS...]\n"
		"       ringpipe-stage NAME --help\n"
		"Runs the built-in stage NAME.  A supervisor (ringpipe)\n"
		"starts it with its rings, control rings and sandbox\n"
		"described in RINGPIPE_STAGE; run without it, a stage\n"
		"explains that and exits 2.  Messages go to stderr, prefixed\n"
		"with the stage's name.  Records are bytes; nothing is\n"
		"NUL-terminated.\n"
		"\nStages:\n\n");
	for (size_t i = 0; i < NSTAGES; i++) {
		help_stage(f, stages[i]);
		fputc('\n', f);
	}
	fprintf(f,
		"Record types: 1 data; %d a line that ended its input without\n"
		"a newline; %d a block of whole lines; %d a piece of a line\n"
		"longer than a record, the rest of it in the next record\n"
		"(file-sink --lines and exec --lines write no newline after\n"
		"these three).\n"
		"\nExit codes: 0 the input ended and all was written; 1 the\n"
		"stage failed (its message says why); 2 bad usage or no\n"
		"RINGPIPE_STAGE; 4 a peer broke the ring format; 5 the\n"
		"sandbox could not be entered; 6 the supervisor is gone; 8\n"
		"the output's consumer finished early (not a failure); 10 +\n"
		"reason cancelled (11 user, 12 deadline, 13 sibling failed,\n"
		"14 shutdown).  exec fails (1) when its program exits\n"
		"non-zero, is killed or cannot be run.\n",
		BUILTIN_T_UNTERMINATED, BUILTIN_T_LINES, BUILTIN_T_PIECE);
}

static const struct builtin *find(const char *name)
{
	for (size_t i = 0; i < NSTAGES; i++)
		if (strcmp(stages[i]->name, name) == 0)
			return stages[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct builtin *b;

	if (argc < 2) {
		fprintf(stderr, "ringpipe-stage: no stage named; "
				"ringpipe-stage --help lists them\n");
		return RP_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help_all(stdout);
		return RP_EXIT_OK;
	}
	b = find(argv[1]);
	if (b == NULL) {
		fprintf(stderr, "ringpipe-stage: no stage named '%s'; "
				"ringpipe-stage --help lists them\n", argv[1]);
		return RP_EXIT_USAGE;
	}
	/* --help anywhere before a "--" that ends the options. */
	for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			help_stage(stdout, b);
			return RP_EXIT_OK;
		}
	}
	/* Character classes and collation follow the user's locale, as
	 * grep's do.  Messages stay untranslated: catalogs would be
	 * opened after the sandbox forbids it. */
	setlocale(LC_CTYPE, "");
	setlocale(LC_COLLATE, "");
	return b->main(argc - 1, argv + 1);
}
