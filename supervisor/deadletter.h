/*
 * deadletter.h - where quarantined records go.
 *
 * Two files per pipeline, made on the first quarantine:
 *   PREFIX.rec    the records, each a 4-byte little-endian length and its
 *                 bytes (the framing of `exec --records`; file-source
 *                 --records reads them back, for a replay);
 *   PREFIX.jsonl  one JSON object per record: pipeline, stage, the
 *                 stage's input sequence number, the record's origin,
 *                 sub-index and type, why (signal, syscall or timeout),
 *                 attempts, time, and where its bytes are in PREFIX.rec.
 * Appended to, never truncated: a second run adds to what is there.
 * Runs sharing a prefix never mix their writes (each is one append, at
 * the offset it got), and one that holds a lock on PREFIX.rec (flock)
 * can cut a failed put back; without it (another holds it past 5 ms:
 * not waited for) a put goes on unlocked.  Both are
 * regular files of mode 0600, never opened through a symbolic link.
 */
#ifndef RP_DEADLETTER_H
#define RP_DEADLETTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The longest prefix: room for ".replay" (ringpipe replay's output)
 * and ".jsonl" after it in 256 bytes. */
#define RP_DEADLETTER_PREFIX_MAX 233

struct rp_deadletter {
	char prefix[256];
	int rec, idx; /* -1 until the first quarantine */
	uint64_t count;
};

struct rp_dead_record {
	const char *pipeline, *stage, *reason;
	uint64_t seq, origin;
	uint32_t sub, attempts;
	uint16_t type; /* the record's (rp_record.type): a line's kind */
	const void *data;
	uint32_t len;
	/* A record quarantined again by ringpipe replay: its numbers in
	 * the run that quarantined it first. */
	int replayed;
	uint64_t first_seq, first_origin;
};

/* The prefix for a pipeline: its dead_letter setting, or NAME.dead
 * (len: at least RP_DEADLETTER_PREFIX_MAX + 1). */
void rp_deadletter_prefix(const char *setting, const char *name, char *buf,
			  size_t len);
void rp_deadletter_init(struct rp_deadletter *d, const char *prefix);
/* Could the output be written (its directory, and its files if they are
 * there)?  0, or -1 with what stands in the way in why.  A hint, said
 * before a run: the files are opened at the first quarantine. */
int rp_deadletter_writable(const struct rp_deadletter *d, char *why,
			   size_t len);
/* 0, or -errno with the files' trouble printed. */
int rp_deadletter_put(struct rp_deadletter *d, const struct rp_dead_record *r);
void rp_deadletter_close(struct rp_deadletter *d);
/* All of buf to fd, through short writes and EINTR: 0 or -errno. */
int rp_write_all(int fd, const void *buf, size_t len);

#endif /* RP_DEADLETTER_H */
