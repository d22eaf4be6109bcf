/*
 * replay_index.h - a dead-letter output (deadletter.h) read back for
 * ringpipe replay, as hostile input.
 *
 * Each line of PREFIX.jsonl is one JSON object, which is a YAML flow
 * mapping: libyaml parses it.  Of its keys only "stage" (a stage name in
 * double quotes), "offset" and "length" (unquoted whole numbers in plain
 * decimal) are needed, each exactly once, and "seq" and "origin" (the
 * record's numbers in the run that quarantined it; numbers likewise)
 * are taken when both are there, and "first_seq" and "first_origin" (a
 * replay's: those of the run that first quarantined it) instead when
 * both of those are; "type" (a number up to 65535) when there, else 1
 * (an index from before types were kept); every key must be a string in
 * double quotes and every value a single value (no list or mapping).
 * The record a line points at must lie inside PREFIX.rec, and the length
 * word there must be the one the line says; no two lines may point at
 * the same bytes.  A line longer than
 * RP_REPLAY_MAX_LINE, or one the file ends inside, is refused too.
 */
#ifndef RP_REPLAY_INDEX_H
#define RP_REPLAY_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define RP_REPLAY_MAX_LINE   4096 /* the supervisor's lines are < 1K */
#define RP_REPLAY_MAX_STAGES 64	  /* different stages one index may name */
#define RP_REPLAY_ERR	     1024 /* room for any message below */

/* One line of the index, as replay uses it. */
struct rp_dead_ref {
	char stage[RP_CFG_NAME];
	uint64_t offset; /* of the frame (its length word) in PREFIX.rec */
	uint32_t length; /* of the record, the length word excluded */
	uint64_t seq, origin; /* in the run that quarantined it */
	int numbered;         /* both were given */
	uint16_t type;        /* the record's type (1 if not given) */
};

/* A stage the index names, in order of first appearance. */
struct rp_replay_stage {
	char name[RP_CFG_NAME];
	uint64_t count;		  /* its records */
	unsigned long first_line; /* where the index first names it */
};

/* A record in PREFIX.rec, checked. */
struct rp_replay_rec {
	uint64_t offset;
	uint32_t length;
	uint32_t stage; /* into rp_replay_index.stage */
	unsigned long line; /* of the index */
	uint64_t seq, origin; /* as in rp_dead_ref */
	int numbered;
	uint16_t type;
};

struct rp_replay_index {
	char idx_path[300], rec_path[300];
	int rec_fd; /* PREFIX.rec, open for reading */
	uint64_t rec_size;
	struct rp_replay_stage stage[RP_REPLAY_MAX_STAGES];
	unsigned nstages;
	struct rp_replay_rec *rec; /* in the index's order */
	size_t nrec, cap;
};

/* Parse one index line of len bytes (its newline excluded; it need not be
 * NUL-terminated).  0, or -EINVAL with what is wrong in err. */
int rp_replay_index_line(const char *line, size_t len, struct rp_dead_ref *ref,
			 char *err, size_t errlen);

/* PREFIX.jsonl read whole, each line parsed and its record checked in
 * PREFIX.rec.  The index (rp_replay_index_free), or NULL with *error set
 * and what is wrong in err: -ENOMEM, or -EINVAL for anything about the
 * files ("PREFIX.jsonl:LINE: what is wrong" for a line). */
struct rp_replay_index *rp_replay_index_open(const char *prefix, int *error,
					     char *err, size_t errlen);

/* The records of stage s, framed as file-source --typed-records reads
 * them (a 4-byte little-endian length, the one checked, the record's
 * 2-byte little-endian type, then the bytes), written to fd.  A piece of
 * a long line (19), and a line without its newline (17) but for the
 * last record, go as lines (1): the next record is not their rest.  0; -EPROTO if
 * PREFIX.rec no longer holds them; or the -errno of a failed write.  What
 * is wrong in err, naming `to` for fd. */
int rp_replay_index_copy(const struct rp_replay_index *ix, unsigned s, int fd,
			 const char *to, char *err, size_t errlen);

void rp_replay_index_free(struct rp_replay_index *ix);

#endif /* RP_REPLAY_INDEX_H */
