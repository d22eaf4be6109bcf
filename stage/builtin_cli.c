/*
 * builtin_cli.c - what the built-in stages share on the command line:
 * usage errors, numbers, and attaching to the rings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builtin.h"

int builtin_usage(const struct builtin *b, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ringpipe-stage %s: ", b->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: ringpipe-stage %s %s\n"
			"(ringpipe-stage %s --help explains)\n",
		b->name, b->synopsis, b->name);
	return RP_EXIT_USAGE;
}

/* Digits only: strtoull would take signs, spaces and hex. */
static int parse_digits(const char *text, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return 0;
}

int builtin_parse_size(const struct builtin *b, const char *opt,
		       const char *text, uint64_t min, uint64_t max,
		       uint64_t *out)
{
	const char *end;
	uint64_t v, unit = 1;

	if (text == NULL)
		return builtin_usage(b, "%s needs a value", opt);
	if (parse_digits(text, &end, &v) != 0)
		goto bad;
	if (*end == 'k' || *end == 'K')
		unit = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		unit = 1024 * 1024, end++;
	if (*end != '\0' || v > UINT64_MAX / unit)
		goto bad;
	v *= unit;
	if (v < min || v > max)
		return builtin_usage(b, "%s %s: out of range (%llu to %llu)",
				     opt, text, (unsigned long long)min,
				     (unsigned long long)max);
	*out = v;
	return 0;
bad:
	return builtin_usage(b, "%s '%s': not a byte count (digits, then k "
				"or m if wanted)", opt, text);
}

int builtin_parse_count(const struct builtin *b, const char *opt,
			const char *text, uint64_t *out)
{
	const char *end = text;
	uint64_t v;
	int err;

	if (text == NULL)
		return builtin_usage(b, "%s is missing", opt);
	if ((err = parse_digits(text, &end, &v)) == -ERANGE)
		return builtin_usage(b, "%s '%s': more than %llu", opt, text,
				     (unsigned long long)UINT64_MAX);
	if (err != 0 || *end != '\0')
		return builtin_usage(b, "%s '%s': not a count (decimal digits)",
				     opt, text);
	*out = v;
	return 0;
}

int builtin_checking(void)
{
	return getenv("RINGPIPE_CHECK_ARGS") != NULL;
}

int builtin_open(const int *keep, int nkeep, struct rp_stage **s)
{
	int err;

	/* The arguments were taken: that is all a check asks. */
	if (builtin_checking())
		exit(RP_EXIT_OK);
	err = rp_stage_open_fds(keep, nkeep, s);

	if (err == 0)
		return 0;
	return err == -EPERM    ? RP_EXIT_SANDBOX
	     : err == -ENOMEM   ? RP_EXIT_ERROR
	     : err == -EBADMSG  ? RP_EXIT_VIOLATION
				: RP_EXIT_USAGE;
}

void builtin_file_id(int fd, uint64_t id[2])
{
	struct stat st;

	id[0] = id[1] = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		id[0] = (uint64_t)st.st_dev;
		id[1] = (uint64_t)st.st_ino;
	}
}

int builtin_same_file(const char *who, const char *name, int fd,
		      const uint64_t id[2], uint64_t at)
{
	uint64_t now[2];
	struct stat st;

	if (id[0] == 0 && id[1] == 0)
		return 0; /* not a regular file then: nothing to check */
	builtin_file_id(fd, now);
	if (now[0] != id[0] || now[1] != id[1]) {
		fprintf(stderr, "%s: %s: not the file it had %s up to byte "
				"%llu: renamed or replaced since (a log "
				"rotation?); its restart cannot go on in "
				"another file\n",
			who, name, strcmp(who, "file-sink") == 0 ? "written"
								  : "read",
			(unsigned long long)at);
		return -ESTALE;
	}
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < at) {
		fprintf(stderr, "%s: %s: %llu bytes long, shorter than the "
				"%llu it had %s: cut short since; its restart "
				"cannot go on where it was\n",
			who, name, (unsigned long long)st.st_size,
			(unsigned long long)at,
			strcmp(who, "file-sink") == 0 ? "written" : "read");
		return -ESTALE;
	}
	return 0;
}
