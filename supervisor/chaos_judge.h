/*
 * chaos_judge.h - ringpipe chaos's oracle: a run's output held to what
 * was expected of it, line by line (a record each).
 *
 * What is expected is either a fault-free run's output, whose lines are
 * compared byte for byte (NUL bytes and a last line's missing newline
 * included), or a sums file: a digest of each of those lines (XXH3, 64
 * bits, over the line and its newline), written from such a run, so
 * that later runs need not make one.  Then lines are compared by their
 * digests.
 *
 * A sums file is text: the line "ringpipe chaos sums 1 xxh3-64", then
 * one line per record, in order, of 16 lowercase hex digits.
 */
#ifndef RP_CHAOS_JUDGE_H
#define RP_CHAOS_JUDGE_H

#include <stddef.h>
#include <stdint.h>

/* A line: its bytes (NULL when known by its digest alone), whether a
 * newline ended it, and its digest. */
struct rp_chaos_line {
	const char *p;
	size_t len;
	int nl;
	uint64_t h;
};

struct rp_chaos_expect {
	char *bytes; /* a reference's, or NULL */
	struct rp_chaos_line *lines;
	size_t count;
};

/* The whole of a file, with room for a NUL after it; NULL with errno
 * set (ENOMEM: out of memory). */
char *rp_chaos_slurp(const char *path, size_t *len);

/* What was expected: the reference file's lines, or a sums file's
 * digests.  0; -ENOMEM; -errno reading it; -EINVAL a sums file that is
 * not one (why says where: "FILE:LINE: ..."). */
int rp_chaos_expect_file(struct rp_chaos_expect *e, const char *path);
int rp_chaos_expect_sums(struct rp_chaos_expect *e, const char *path,
			 char *why, size_t whylen);
/* e's digests as a sums file at path: 0 or -errno. */
int rp_chaos_sums_write(const struct rp_chaos_expect *e, const char *path);
void rp_chaos_expect_free(struct rp_chaos_expect *e);

struct rp_chaos_verdict {
	uint64_t lines, lost, dup;
	int reordered;
	int unjudged; /* out of memory: nothing could be */
};

/* out[0, on) held to e: the multiset difference both ways, and whether
 * the common lines kept their order. */
void rp_chaos_judge(const struct rp_chaos_expect *e, const char *out,
		    size_t on, struct rp_chaos_verdict *v);

/* What a run cut short (its supervisor killed) wrote, cut[0, cn): it
 * must be e's first lines, but for a last line cut inside (*partial 1:
 * the start of e's next; 2: not checked, e having digests alone).  -1 if
 * so (*lines: how many whole), -2 out of memory, else the index of the
 * first line that differs. */
int rp_chaos_cut_judge(const struct rp_chaos_expect *e, const char *cut,
		       size_t cn, uint64_t *lines, int *partial);

#endif /* RP_CHAOS_JUDGE_H */
