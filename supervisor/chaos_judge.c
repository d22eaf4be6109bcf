/*
 * chaos_judge.c - ringpipe chaos's oracle (chaos_judge.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* XXH3 is stable, and public, from 0.8.0: a sums file written here must
 * be read the same elsewhere. */
#if !defined(XXH_VERSION_NUMBER) || XXH_VERSION_NUMBER < 800
#error "ringpipe chaos needs xxHash 0.8.0 or later (libxxhash-dev)"
#endif

#include "chaos.h"
#include "chaos_judge.h"

#define SUMS_HEAD "ringpipe chaos sums 1 xxh3-64\n"

char *rp_chaos_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t r;
		if (n + 65537 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 65536);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		int err = errno ? errno : EIO;
		free(buf);
		fclose(f);
		errno = err;
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* A line's digest: its bytes and its newline, which follows them in
 * their buffer (a last line without one is not the same line with
 * one). */
static uint64_t digest(const char *p, size_t len, int nl)
{
	return XXH3_64bits(p, len + (nl ? 1 : 0));
}

/* The lines of p[0, n), each with its digest; NULL out of memory. */
static struct rp_chaos_line *lines_of(const char *p, size_t n, size_t *count)
{
	size_t k = 0, start = 0, nl = 0;
	struct rp_chaos_line *v;

	for (size_t i = 0; i < n; i++)
		nl += p[i] == '\n';
	if ((v = malloc((nl + 1) * sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n') {
			v[k] = (struct rp_chaos_line){p + start, i - start, 1,
						      0};
			v[k].h = digest(v[k].p, v[k].len, 1);
			k++;
			start = i + 1;
		}
	if (start < n) {
		v[k] = (struct rp_chaos_line){p + start, n - start, 0, 0};
		v[k].h = digest(v[k].p, v[k].len, 0);
		k++;
	}
	*count = k;
	return v;
}

/* By digest; where both lines have their bytes, byte for byte too. */
static int line_cmp(const struct rp_chaos_line *a,
		    const struct rp_chaos_line *b)
{
	size_t n;
	int c;

	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	if (a->p == NULL || b->p == NULL)
		return 0;
	n = a->len < b->len ? a->len : b->len;
	if ((c = memcmp(a->p, b->p, n)) != 0)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->nl - b->nl;
}

static int cmp_line(const void *a, const void *b)
{
	return line_cmp(a, b);
}

int rp_chaos_expect_file(struct rp_chaos_expect *e, const char *path)
{
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	errno = 0;
	if ((e->bytes = rp_chaos_slurp(path, &n)) == NULL)
		return errno ? -errno : -EIO;
	if ((e->lines = lines_of(e->bytes, n, &e->count)) == NULL) {
		free(e->bytes);
		e->bytes = NULL;
		return -ENOMEM;
	}
	return 0;
}

int rp_chaos_expect_sums(struct rp_chaos_expect *e, const char *path,
			 char *why, size_t whylen)
{
	size_t n = 0, lines = 0, hl = strlen(SUMS_HEAD);
	char *t;

	memset(e, 0, sizeof(*e));
	errno = 0;
	if ((t = rp_chaos_slurp(path, &n)) == NULL) {
		int err = errno ? errno : EIO;
		snprintf(why, whylen, "%s: %s", path, strerror(err));
		return -err;
	}
	if (n < hl || memcmp(t, SUMS_HEAD, hl) != 0) {
		snprintf(why, whylen, "%s:1: not a sums file (its first line "
				      "must be \"%.*s\")",
			 path, (int)hl - 1, SUMS_HEAD);
		free(t);
		return -EINVAL;
	}
	/* Every line after it: 16 lowercase hex digits and a newline. */
	for (size_t i = hl; i < n; i++)
		lines += t[i] == '\n';
	if ((e->lines = calloc(lines + 1, sizeof(*e->lines))) == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(ENOMEM));
		free(t);
		return -ENOMEM;
	}
	for (size_t i = 0, at = hl; at < n; i++) {
		const char *p = t + at, *nl = memchr(p, '\n', n - at);
		uint64_t h = 0;
		int ok = nl != NULL && nl - p == 16;
		for (int d = 0; ok && d < 16; d++) {
			char c = p[d];
			int v = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
						       : -1;
			ok = v >= 0;
			h = h << 4 | (uint64_t)(v & 0xf);
		}
		if (!ok) {
			snprintf(why, whylen,
				 "%s:%zu: not a digest (16 lowercase hex "
				 "digits and a newline)",
				 path, i + 2);
			free(t);
			rp_chaos_expect_free(e);
			return -EINVAL;
		}
		e->lines[i].h = h;
		e->lines[i].nl = 1;
		at += 17;
	}
	e->count = lines;
	free(t);
	return 0;
}

int rp_chaos_sums_write(const struct rp_chaos_expect *e, const char *path)
{
	FILE *f = fopen(path, "we");
	int err = 0;

	if (f == NULL)
		return -errno;
	fputs(SUMS_HEAD, f);
	for (size_t i = 0; i < e->count; i++)
		fprintf(f, "%016llx\n", (unsigned long long)e->lines[i].h);
	if (ferror(f))
		err = errno ? -errno : -EIO;
	if (fclose(f) != 0 && err == 0)
		err = -errno;
	return err;
}

void rp_chaos_expect_free(struct rp_chaos_expect *e)
{
	free(e->lines);
	free(e->bytes);
	memset(e, 0, sizeof(*e));
}

void rp_chaos_judge(const struct rp_chaos_expect *e, const char *out,
		    size_t on, struct rp_chaos_verdict *v)
{
	size_t a = e->count, b = 0, i = 0, j = 0;
	struct rp_chaos_line *o = lines_of(out, on, &b);
	struct rp_chaos_line *rs = NULL, *os = NULL;

	memset(v, 0, sizeof(*v));
	v->lines = b;
	if (o) {
		rs = malloc((a + 1) * sizeof(*rs));
		os = malloc((b + 1) * sizeof(*os));
	}
	if (rs == NULL || os == NULL) {
		v->unjudged = 1;
		goto out;
	}
	if (a)
		memcpy(rs, e->lines, a * sizeof(*rs));
	if (b)
		memcpy(os, o, b * sizeof(*os));
	qsort(rs, a, sizeof(*rs), cmp_line);
	qsort(os, b, sizeof(*os), cmp_line);
	while (i < a || j < b) {
		int c = i == a	 ? 1
			: j == b ? -1
				 : line_cmp(&rs[i], &os[j]);
		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			v->lost++;
			i++;
		} else {
			v->dup++;
			j++;
		}
	}
	/* Same lines, another sequence: reordered. */
	if (v->lost == 0 && v->dup == 0)
		for (size_t m = 0; m < b; m++)
			if (line_cmp(&e->lines[m], &o[m]) != 0) {
				v->reordered = 1;
				break;
			}
out:
	free(rs);
	free(os);
	free(o);
}

int rp_chaos_cut_judge(const struct rp_chaos_expect *e, const char *cut,
		       size_t cn, uint64_t *lines, int *partial)
{
	size_t a = e->count, b = 0;
	const struct rp_chaos_line *r = e->lines;
	struct rp_chaos_line *o = lines_of(cut, cn, &b);
	int bad = -1;

	*lines = 0;
	*partial = 0;
	if (o == NULL)
		return -2;
	for (size_t m = 0; m < b && bad < 0; m++) {
		if (m < a && line_cmp(&r[m], &o[m]) == 0) {
			(*lines)++;
			continue;
		}
		/* A last line cut inside: the start of the expected one
		 * (which digests alone cannot tell: 2, unchecked). */
		if (m + 1 == b && m < a && !o[m].nl &&
		    (r[m].p == NULL ||
		     (o[m].len <= r[m].len &&
		      memcmp(o[m].p, r[m].p, o[m].len) == 0))) {
			*partial = r[m].p == NULL ? 2 : 1;
			continue;
		}
		bad = m < (size_t)INT32_MAX ? (int)m : INT32_MAX;
	}
	free(o);
	return bad;
}

int rp_chaos_cut_check(const char *ref, size_t rn, const char *cut,
		       size_t cn, uint64_t *lines, int *partial)
{
	struct rp_chaos_expect e = {NULL, NULL, 0};
	int bad;

	*lines = 0;
	*partial = 0;
	if ((e.lines = lines_of(ref, rn, &e.count)) == NULL)
		return -2;
	bad = rp_chaos_cut_judge(&e, cut, cn, lines, partial);
	free(e.lines);
	return bad;
}
