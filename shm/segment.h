/*
 * segment.h - shared-memory segments: sealed memfds and named segments.
 *
 * All functions return 0 or -errno, never print and never exit.
 */
#ifndef RP_SEGMENT_H
#define RP_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

/* Seals every ring memfd carries: no participant can shrink or grow it
 * (which would make its peers die of SIGBUS), and no one can add seals
 * (F_SEAL_FUTURE_WRITE would lock a writer out). */
#define RP_SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

/* Create an anonymous memfd of `size` bytes (close-on-exec, backed now by
 * posix_fallocate so later stores cannot fault for lack of memory), then
 * seal it.  `name` only shows in /proc/PID/fd. */
int rp_memfd_create(const char *name, uint64_t size, int *fd_out);

/* Check that fd is a memfd of exactly `size` bytes carrying the seals. */
int rp_memfd_check(int fd, uint64_t size);

/* Open a new, read-only file description for fd (through /proc/self/fd):
 * a mapping of it can never be made writable with mprotect. */
int rp_fd_reopen_ro(int fd, int *fd_out);

/* Map [off, off+len) of fd shared, read-only or read-write. */
int rp_map(int fd, uint64_t off, uint64_t len, int writable, void **out);

/* Map [off, off+len) of fd twice, back to back, so that an access running
 * off the end of the first copy continues at the start of the second.
 * len and off must be multiples of the page size.  Unmap with
 * rp_unmap(p, 2 * len). */
int rp_map_mirror(int fd, uint64_t off, uint64_t len, int writable,
		  void **out);

void rp_unmap(void *p, uint64_t len);

/* Close fd if it is >= 0 and set it to -1. */
void rp_close_fd(int *fd);

/*
 * Named segments, for an observer attaching from another shell.  Lives in
 * /dev/shm as "ringpipe.NAME" (NAME: 1-64 of [A-Za-z0-9._-]).  The owner
 * holds an exclusive flock on it while alive.  Creation is an exclusive
 * create; if the name exists and nobody holds the lock, the segment is a
 * stale one left by a dead owner: it is unlinked and the create retried
 * once.  A live owner makes create fail with -EEXIST at once.
 */
struct rp_named {
	int fd;
	void *base;
	uint64_t size; /* total, header included */
	int owner;     /* 1: this handle created it and unlinks it */
	char path[112];
};

/* Create `size` usable bytes after a header; *out->base points at the
 * header, usable bytes start at rp_named_data(). */
int rp_named_create(const char *name, uint64_t size, struct rp_named *out);
/* Attach read-only to a segment created by a live owner. */
int rp_named_open_ro(const char *name, struct rp_named *out);
/* Unmap, close, and (owner only) unlink.  Idempotent. */
void rp_named_close(struct rp_named *seg);
void *rp_named_data(const struct rp_named *seg);
uint64_t rp_named_data_size(const struct rp_named *seg);

#endif /* RP_SEGMENT_H */
