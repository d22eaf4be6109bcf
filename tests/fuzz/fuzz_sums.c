/*
 * fuzz_sums.c - ringpipe chaos's oracle.  The input is a 2-byte length
 * n, then n bytes read as a sums file (and as a reference output), then
 * a run's output.  A sums file is taken or refused with its line; a
 * reference judged against itself, or against its own sums, is exact;
 * judging any output gives counts that add up.
 */
#include <errno.h>
#include <string.h>

#include "../../supervisor/chaos_judge.h"
#include "fuzz.h"

static uint64_t lines_of(const uint8_t *p, size_t n)
{
	uint64_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k + (n > 0 && p[n - 1] != '\n');
}

static void judge_any(const struct rp_chaos_expect *e, const uint8_t *out,
		      size_t on)
{
	struct rp_chaos_verdict v;
	uint64_t whole = 0;
	int partial = 0, rc;

	memset(&v, 0, sizeof(v));
	rp_chaos_judge(e, (const char *)out, on, &v);
	if (v.unjudged)
		return;
	FZ_CHECK(v.lines == lines_of(out, on));
	FZ_CHECK(v.lost <= e->count && v.dup <= v.lines);
	/* Every line out is expected or extra; every expected one came or
	 * was lost. */
	FZ_CHECK(v.lines - v.dup == e->count - v.lost);
	rc = rp_chaos_cut_judge(e, (const char *)out, on, &whole, &partial);
	FZ_CHECK(rc == -1 || rc == -2 || (rc >= 0 && (uint64_t)rc <= e->count));
	if (rc == -1)
		FZ_CHECK(whole <= e->count);
}

static void self_judged(const struct rp_chaos_expect *e, const uint8_t *ref,
			size_t rn)
{
	struct rp_chaos_verdict v;
	uint64_t whole = 0;
	int partial = 0;

	memset(&v, 0, sizeof(v));
	rp_chaos_judge(e, (const char *)ref, rn, &v);
	if (v.unjudged)
		return;
	FZ_CHECK(v.lost == 0 && v.dup == 0 && !v.reordered);
	FZ_CHECK(v.lines == e->count);
	FZ_CHECK(rp_chaos_cut_judge(e, (const char *)ref, rn, &whole,
				    &partial) == -1);
	FZ_CHECK(whole + (partial != 0) == e->count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct rp_chaos_expect e, back;
	size_t n = fz_u16(&in);
	const uint8_t *ref, *out;
	size_t on;
	char why[512], sums[4096];
	const char *path;
	int rc;

	if (n > in.n)
		n = in.n;
	ref = in.p;
	out = in.p + n;
	on = in.n - n;
	path = fz_file(ref, n);

	/* As a sums file. */
	memset(&e, 0, sizeof(e));
	memset(why, 'x', sizeof(why));
	rc = rp_chaos_expect_sums(&e, path, why, sizeof(why));
	FZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == -EINVAL) {
		FZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
		FZ_CHECK(strncmp(why, path, strlen(path)) == 0);
	}
	if (rc == 0)
		judge_any(&e, out, on);
	rp_chaos_expect_free(&e);

	/* As a reference output: exact against itself and its sums. */
	memset(&e, 0, sizeof(e));
	if (rp_chaos_expect_file(&e, path) != 0)
		return 0;
	self_judged(&e, ref, n);
	judge_any(&e, out, on);
	snprintf(sums, sizeof(sums), "%s/sums", fz_dir());
	if (rp_chaos_sums_write(&e, sums) == 0) {
		memset(&back, 0, sizeof(back));
		FZ_CHECK(rp_chaos_expect_sums(&back, sums, why, sizeof(why)) ==
			 0);
		FZ_CHECK(back.count == e.count);
		for (size_t i = 0; i < e.count; i++)
			FZ_CHECK(back.lines[i].h == e.lines[i].h);
		self_judged(&back, ref, n);
		rp_chaos_expect_free(&back);
	}
	rp_chaos_expect_free(&e);
	return 0;
}
