/*
 * replay_index.c - a dead-letter output read back (replay_index.h).
 *
 * libyaml does the parsing: a line of the index, one JSON object, is a
 * YAML flow mapping.  What JSON forbids and YAML allows (a comment, a
 * trailing comma, an anchor) is let through where it cannot change what
 * the fields say; everything replay relies on is checked here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "../stage/wiring.h"
#include "deadletter.h"
#include "replay_index.h"

#define COPY_BUF (64u * 1024u)

static int bad(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ------------------------------------------------------ one index line */

/* The first three are needed; "seq" and "origin", the record's number
 * in the run that quarantined it, are taken when there, and so are
 * "first_seq" and "first_origin" (a replay's: its number in the run that
 * first quarantined it), which win; "type" is the record's (1, data,
 * when not there: an index written before it was kept). */
static const char *const fields[] = {"stage",	 "offset",    "length",
				     "seq",	 "origin",    "first_seq",
				     "first_origin", "type"};
#define NEEDED 3
#define NFIELDS (int)(sizeof(fields) / sizeof(*fields))

static int field_of(const yaml_node_t *k)
{
	for (int f = 0; f < NFIELDS; f++)
		if (k->data.scalar.length == strlen(fields[f]) &&
		    memcmp(k->data.scalar.value, fields[f],
			   k->data.scalar.length) == 0)
			return f;
	return -1;
}

/* A key for a message: quoted when it is a plain word, else "a key" (its
 * bytes are the file's, not to be echoed to a terminal). */
static void key_name(const yaml_node_t *k, char *buf, size_t len)
{
	const unsigned char *s = k->data.scalar.value;
	size_t n = k->data.scalar.length;
	int plain = n > 0 && n < 32;

	for (size_t i = 0; plain && i < n; i++)
		plain = (s[i] >= 'a' && s[i] <= 'z') ||
			(s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_';
	if (plain)
		snprintf(buf, len, "\"%.*s\"", (int)n, (const char *)s);
	else
		snprintf(buf, len, "a key");
}

/* A whole number from 0 to max, unquoted, in plain decimal. */
static int number_value(const yaml_node_t *v, const char *key, uint64_t max,
			uint64_t *out, char *err, size_t errlen)
{
	const unsigned char *s = v->data.scalar.value;
	size_t n = v->data.scalar.length;
	uint64_t x = 0;

	if (v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return bad(err, errlen,
			   "\"%s\": expected a number, not a string", key);
	/* The value is NUL-terminated; a NUL inside stops the span. */
	if (n == 0 || strspn((const char *)s, "0123456789") != n)
		return bad(err, errlen, "\"%s\": expected a whole number", key);
	if (s[0] == '0' && n > 1)
		return bad(err, errlen, "\"%s\": a number with a leading zero",
			   key);
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (max - d) / 10)
			return bad(err, errlen, "\"%s\": too large", key);
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

/* A stage name as the supervisor writes it, in double quotes. */
static int stage_value(const yaml_node_t *v, char *out, size_t len, char *err,
		       size_t errlen)
{
	size_t n = v->data.scalar.length;

	if (v->data.scalar.style != YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		return bad(err, errlen,
			   "\"stage\": expected a string in double quotes");
	/* A NUL inside (an escaped one) would cut the name short. */
	if (n >= len || memchr(v->data.scalar.value, '\0', n) != NULL)
		n = 0;
	memcpy(out, v->data.scalar.value, n);
	out[n] = '\0';
	if (!rp_wiring_valid_name(out))
		return bad(err, errlen,
			   "\"stage\": not a stage name (1-%d of "
			   "[A-Za-z0-9._-])",
			   RP_CFG_NAME - 1);
	return 0;
}

/* The line's one document, a flat mapping with the fields. */
static int read_mapping(yaml_document_t *doc, struct rp_dead_ref *ref,
			char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	unsigned have = 0;
	uint64_t len = 0, first[2] = {0, 0}, type = 1;
	char name[40];
	int f, r;

	if (root == NULL)
		return bad(err, errlen, "an empty line, not a JSON object");
	if (root->type != YAML_MAPPING_NODE)
		return bad(err, errlen, "expected a JSON object ({...})");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE ||
		    k->data.scalar.style != YAML_DOUBLE_QUOTED_SCALAR_STYLE)
			return bad(err, errlen,
				   "expected a key in double quotes");
		key_name(k, name, sizeof(name));
		if (v->type != YAML_SCALAR_NODE)
			return bad(err, errlen,
				   "%s: a nested list or object (the index "
				   "has none)",
				   name);
		if ((f = field_of(k)) < 0)
			continue;
		if (have & 1u << f)
			return bad(err, errlen, "%s is given twice", name);
		have |= 1u << f;
		if (f == 0)
			r = stage_value(v, ref->stage, sizeof(ref->stage), err,
					errlen);
		else if (f == 1)
			r = number_value(v, "offset", INT64_MAX, &ref->offset,
					 err, errlen);
		else if (f == 2)
			r = number_value(v, "length", UINT32_MAX, &len, err,
					 errlen);
		else if (f == 7)
			r = number_value(v, "type", UINT16_MAX, &type, err,
					 errlen);
		else
			r = number_value(v, fields[f], UINT64_MAX,
					 f == 3 ? &ref->seq
					 : f == 4 ? &ref->origin
					 : f == 5 ? &first[0]
						  : &first[1],
					 err, errlen);
		if (r != 0)
			return r;
	}
	ref->length = (uint32_t)len;
	ref->type = (uint16_t)type;
	ref->numbered = (have & 3u << 3) == 3u << 3;
	if ((have & 3u << 5) == 3u << 5) {
		ref->seq = first[0];
		ref->origin = first[1];
		ref->numbered = 1;
	}
	for (f = 0; f < NEEDED; f++)
		if (!(have & 1u << f))
			return bad(err, errlen, "no \"%s\"", fields[f]);
	return 0;
}

/* libyaml's complaint about the line; its problems are its own fixed
 * words, fit to print. */
static int not_json(const yaml_parser_t *p, char *err, size_t errlen)
{
	const char *why = p->problem ? p->problem : "unreadable";

	if (p->error == YAML_MEMORY_ERROR) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (p->error == YAML_READER_ERROR && p->problem_value >= 0)
		return bad(err, errlen,
			   "not a JSON object: %s (at byte %zu: 0x%02X)", why,
			   p->problem_offset + 1, (unsigned)p->problem_value);
	if (p->error == YAML_READER_ERROR)
		return bad(err, errlen, "not a JSON object: %s (at byte %zu)",
			   why, p->problem_offset + 1);
	if (p->context != NULL)
		return bad(err, errlen, "not a JSON object: %s (%s)", why,
			   p->context);
	return bad(err, errlen, "not a JSON object: %s", why);
}

int rp_replay_index_line(const char *line, size_t len, struct rp_dead_ref *ref,
			 char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_document_t doc, more;
	int r;

	memset(ref, 0, sizeof(*ref));
	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* No byte-order mark may turn the line into UTF-16. */
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&p, (const unsigned char *)line, len);
	if (!yaml_parser_load(&p, &doc)) {
		r = not_json(&p, err, errlen);
		yaml_parser_delete(&p);
		return r;
	}
	/* The object must be all there is: a second document, or
	 * anything that is not one, is refused. */
	if (!yaml_parser_load(&p, &more)) {
		r = p.error == YAML_MEMORY_ERROR
			? not_json(&p, err, errlen)
			: bad(err, errlen, "something follows the object");
	} else {
		r = yaml_document_get_root_node(&more) != NULL
			? bad(err, errlen, "something follows the object")
			: read_mapping(&doc, ref, err, errlen);
		yaml_document_delete(&more);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return r;
}

/* ---------------------------------------------------------- the index */

static int at_line(char *err, size_t len, const struct rp_replay_index *ix,
		   unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* "PREFIX.jsonl:LINE: ..." */
static int at_line(char *err, size_t len, const struct rp_replay_index *ix,
		   unsigned long line, const char *fmt, ...)
{
	int n = snprintf(err, len, "%s:%lu: ", ix->idx_path, line);
	va_list ap;

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < len)
		vsnprintf(err + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The next line of f, without its newline, into buf: 1, 0 at the end,
 * -E2BIG if longer than cap, -EPROTO if the file ends inside it, or
 * -errno. */
static int next_line(FILE *f, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF) {
		if (ch == '\n') {
			*len = n;
			return 1;
		}
		if (n == cap)
			return -E2BIG;
		buf[n++] = (char)ch;
	}
	if (ferror(f))
		return errno ? -errno : -EIO;
	return n == 0 ? 0 : -EPROTO;
}

static uint32_t le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* The frame a line points at lies inside PREFIX.rec and has the length
 * the line says. */
static int check_frame(struct rp_replay_index *ix, unsigned long line,
		       const struct rp_dead_ref *r, char *err, size_t len)
{
	unsigned char w[4];
	ssize_t n;

	/* Past the end as it was: a pipeline still running may have added
	 * the frame since (before its line), so look at the size again. */
	if (r->offset > ix->rec_size || ix->rec_size - r->offset < 4 ||
	    ix->rec_size - r->offset - 4 < r->length) {
		struct stat st;
		if (fstat(ix->rec_fd, &st) == 0)
			ix->rec_size = (uint64_t)st.st_size;
	}
	if (r->offset > ix->rec_size || ix->rec_size - r->offset < 4 ||
	    ix->rec_size - r->offset - 4 < r->length)
		return at_line(err, len, ix, line,
			       "its record (%u bytes and a 4-byte "
			       "length, at offset %llu) runs past the end of "
			       "%s (%llu bytes)",
			       r->length, (unsigned long long)r->offset,
			       ix->rec_path, (unsigned long long)ix->rec_size);
	do
		n = pread(ix->rec_fd, w, 4, (off_t)r->offset);
	while (n < 0 && errno == EINTR);
	if (n != 4)
		return at_line(err, len, ix, line,
			       "reading %s at offset %llu: %s", ix->rec_path,
			       (unsigned long long)r->offset,
			       n < 0 ? strerror(errno) : "cut short");
	if (le32(w) != r->length)
		return at_line(err, len, ix, line,
			       "%s has a record of %u bytes at offset "
			       "%llu, not the %u bytes the index says",
			       ix->rec_path, le32(w),
			       (unsigned long long)r->offset, r->length);
	return 0;
}

static int add_rec(struct rp_replay_index *ix, unsigned long line,
		   const struct rp_dead_ref *r, char *err, size_t len)
{
	unsigned s = 0;

	while (s < ix->nstages && strcmp(ix->stage[s].name, r->stage) != 0)
		s++;
	if (s == ix->nstages) {
		if (s == RP_REPLAY_MAX_STAGES)
			return at_line(err, len, ix, line,
				       "more than %d different stages",
				       RP_REPLAY_MAX_STAGES);
		memcpy(ix->stage[s].name, r->stage, sizeof(r->stage));
		ix->stage[s].first_line = line;
		ix->nstages++;
	}
	if (ix->nrec == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		struct rp_replay_rec *p =
		    reallocarray(ix->rec, cap, sizeof(*p));
		if (p == NULL) {
			snprintf(err, len, "out of memory");
			return -ENOMEM;
		}
		ix->rec = p;
		ix->cap = cap;
	}
	ix->rec[ix->nrec].offset = r->offset;
	ix->rec[ix->nrec].length = r->length;
	ix->rec[ix->nrec].stage = s;
	ix->rec[ix->nrec].seq = r->seq;
	ix->rec[ix->nrec].origin = r->origin;
	ix->rec[ix->nrec].numbered = r->numbered;
	ix->rec[ix->nrec].type = r->type;
	ix->rec[ix->nrec].line = line;
	ix->nrec++;
	ix->stage[s].count++;
	return 0;
}

static int open_rec(struct rp_replay_index *ix, char *err, size_t len)
{
	struct stat st;

	/* Non-blocking: a FIFO in its place must not hang the open. */
	ix->rec_fd = open(ix->rec_path,
			  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (ix->rec_fd < 0 || fstat(ix->rec_fd, &st) < 0)
		return bad(err, len, "%s: %s", ix->rec_path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bad(err, len, "%s: not a regular file", ix->rec_path);
	ix->rec_size = (uint64_t)st.st_size;
	fcntl(ix->rec_fd, F_SETFL, 0);
	return 0;
}

/* The index, as a stream: a regular file only (a FIFO in its place
 * would block the open or the reads). */
static FILE *open_index(const char *path)
{
	struct stat st = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	FILE *f;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISREG(st.st_mode) ? errno : EINVAL;
		close(fd);
		errno = e;
		return NULL;
	}
	fcntl(fd, F_SETFL, 0);
	if ((f = fdopen(fd, "r")) == NULL)
		close(fd);
	return f;
}

/* Every line parsed and its frame checked; stops at the first that is
 * wrong. */
static int read_lines(struct rp_replay_index *ix, FILE *f, char *err,
		      size_t len)
{
	char line[RP_REPLAY_MAX_LINE], why[200];
	unsigned long no = 0;
	struct rp_dead_ref ref;
	size_t n = 0;
	int r, e = 0;

	while (e == 0 && (r = next_line(f, line, sizeof(line), &n)) != 0) {
		no++;
		if (r == -E2BIG)
			e = at_line(err, len, ix, no, "longer than %d bytes",
				    RP_REPLAY_MAX_LINE);
		else if (r == -EPROTO)
			e = at_line(err, len, ix, no,
				    "cut short: the file ends inside the line");
		else if (r < 0)
			e = at_line(err, len, ix, no, "%s", strerror(-r));
		else if ((e = rp_replay_index_line(line, n, &ref, why,
						   sizeof(why))) != 0)
			at_line(err, len, ix, no, "%s", why);
		else if ((e = check_frame(ix, no, &ref, err, len)) == 0)
			e = add_rec(ix, no, &ref, err, len);
	}
	return e;
}

static int by_offset(const void *a, const void *b)
{
	const struct rp_replay_rec *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* No two lines point at the same bytes: a line given twice would replay
 * its record twice, and one pointing inside another record would take
 * some of its bytes for a record. */
static int check_overlaps(const struct rp_replay_index *ix, char *err,
			  size_t len)
{
	struct rp_replay_rec *v;
	int e = 0;

	if (ix->nrec < 2)
		return 0;
	if ((v = malloc(ix->nrec * sizeof(*v))) == NULL) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	memcpy(v, ix->rec, ix->nrec * sizeof(*v));
	qsort(v, ix->nrec, sizeof(*v), by_offset);
	for (size_t i = 1; i < ix->nrec && e == 0; i++) {
		const struct rp_replay_rec *a = &v[i - 1], *b = &v[i];
		/* (offset + 4 + length lies inside the file: checked.) */
		if (b->offset < a->offset + 4 + a->length) {
			const struct rp_replay_rec *later =
				a->line > b->line ? a : b;
			e = at_line(err, len, ix, later->line,
				    "its record (offset %llu) overlaps the "
				    "one of line %lu (offset %llu)",
				    (unsigned long long)later->offset,
				    later == a ? b->line : a->line,
				    (unsigned long long)(later == a
							     ? b->offset
							     : a->offset));
		}
	}
	free(v);
	return e;
}

struct rp_replay_index *rp_replay_index_open(const char *prefix, int *error,
					     char *err, size_t errlen)
{
	struct rp_replay_index *ix = calloc(1, sizeof(*ix));
	FILE *f;

	if (ix == NULL) {
		snprintf(err, errlen, "out of memory");
		*error = -ENOMEM;
		return NULL;
	}
	ix->rec_fd = -1;
	snprintf(ix->idx_path, sizeof(ix->idx_path), "%s.jsonl", prefix);
	snprintf(ix->rec_path, sizeof(ix->rec_path), "%s.rec", prefix);
	if ((f = open_index(ix->idx_path)) == NULL) {
		*error =
		    bad(err, errlen, "%s: %s%s", ix->idx_path,
			errno == EINVAL ? "not a regular file"
					: strerror(errno),
			errno == ENOENT ? " (nothing was quarantined "
					  "under this prefix?)"
					: "");
	} else {
		if ((*error = open_rec(ix, err, errlen)) == 0)
			*error = read_lines(ix, f, err, errlen);
		if (*error == 0)
			*error = check_overlaps(ix, err, errlen);
		fclose(f);
	}
	if (*error == 0)
		return ix;
	rp_replay_index_free(ix);
	return NULL;
}

void rp_replay_index_free(struct rp_replay_index *ix)
{
	if (ix == NULL)
		return;
	if (ix->rec_fd >= 0)
		close(ix->rec_fd);
	free(ix->rec);
	free(ix);
}

/* ------------------------------------------------ the records, copied */

/* The type a record is replayed with: its own, but for what says the
 * next record of its origin goes on with it (a piece of a long line, 19;
 * a line without its newline, 17, but for the last), since the next
 * record replayed is another one: it is a line of its own. */
static uint16_t replay_type(uint16_t type, int last)
{
	return type == 19 || (type == 17 && !last) ? 1 : type;
}

/* One record: the length word from the index (checked against the file
 * already, never read twice), its type, then its bytes. */
static int copy_record(const struct rp_replay_index *ix,
		       const struct rp_replay_rec *r, int last, int fd,
		       const char *to, unsigned char *buf, char *err,
		       size_t len)
{
	uint16_t type = replay_type(r->type, last);
	unsigned char w[6] = {
	    (unsigned char)r->length,	      (unsigned char)(r->length >> 8),
	    (unsigned char)(r->length >> 16), (unsigned char)(r->length >> 24),
	    (unsigned char)type,	      (unsigned char)(type >> 8)};
	uint64_t at = r->offset + 4, left = r->length;
	int e = rp_write_all(fd, w, sizeof(w));

	while (e == 0 && left > 0) {
		size_t want = left < COPY_BUF ? (size_t)left : COPY_BUF;
		ssize_t n = pread(ix->rec_fd, buf, want, (off_t)at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, len, "%s: reading at offset %llu: %s",
				 ix->rec_path, (unsigned long long)at,
				 n < 0 ? strerror(errno)
				       : "the file is shorter than when it "
					 "was checked");
			return -EPROTO;
		}
		e = rp_write_all(fd, buf, (size_t)n);
		at += (uint64_t)n;
		left -= (uint64_t)n;
	}
	if (e != 0)
		snprintf(err, len, "writing %s: %s", to, strerror(-e));
	return e;
}

int rp_replay_index_copy(const struct rp_replay_index *ix, unsigned s, int fd,
			 const char *to, char *err, size_t errlen)
{
	unsigned char *buf = malloc(COPY_BUF);
	size_t last = ix->nrec;
	int e = 0;

	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < ix->nrec; i++)
		if (ix->rec[i].stage == s)
			last = i;
	for (size_t i = 0; e == 0 && i < ix->nrec; i++)
		if (ix->rec[i].stage == s)
			e = copy_record(ix, &ix->rec[i], i == last, fd, to,
					buf, err, errlen);
	free(buf);
	return e;
}
