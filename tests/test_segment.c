/*
 * test_segment.c - sealed memfds, read-only reopens, mirrored mappings and
 * named segments (exclusive create, stale recovery, observers).
 *
 * Named segments made here are called rp_test_shm_prefix() + suffix, and
 * every test removes them on its way out, whatever happened before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "../shm/segment.h"
#include "harness.h"

/* ------------------------------------------------------------- helpers */

static void shm_name(char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "%s%s", rp_test_shm_prefix(), suffix);
}

static int shm_exists(const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), "/dev/shm/ringpipe.%s", name);
	return access(path, F_OK) == 0;
}

/* Inode of the file currently bound to the name, 0 if none. */
static ino_t shm_inode(const char *name)
{
	char path[160];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm/ringpipe.%s", name);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Last resort on failure paths: the assertions already said what went
 * wrong, and a leftover would only fail the next check too. */
static void shm_scrub(const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), "/ringpipe.%s", name);
	shm_unlink(path);
}

static uint64_t fd_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return UINT64_MAX;
	return (uint64_t)st.st_size;
}

/* Wait up to ms for one int from a pipe; -ETIMEDOUT if none came. */
static int read_int_timeout(int fd, int ms, int *out)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -ETIMEDOUT;
	return read(fd, out, sizeof(*out)) == (ssize_t)sizeof(*out) ? 0 : -EIO;
}

/* ----------------------------------------------------------------- seals */

/* Everything that would change a ring memfd's size or seals, tried on a
 * participant's own read-write descriptor. */
static void assert_sealed_rw(int fd, uint64_t size)
{
	CU_ASSERT_EQUAL(ftruncate(fd, (off_t)(size - RP_PAGE)), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_EQUAL(ftruncate(fd, 0), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_EQUAL(ftruncate(fd, (off_t)(size + RP_PAGE)), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_EQUAL(fallocate(fd, 0, (off_t)size, RP_PAGE), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_EQUAL(posix_fallocate(fd, 0, (off_t)(size + RP_PAGE)), EPERM);
	/* A write seal would lock the owner out of its own segment. */
	CU_ASSERT_EQUAL(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_EQUAL(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	CU_ASSERT_EQUAL(fcntl(fd, F_GET_SEALS), RP_SEALS_REQUIRED);
	CU_ASSERT_EQUAL(fd_size(fd), size);
	CU_ASSERT_EQUAL(rp_memfd_check(fd, size), 0);
}

/* No participant can resize a ring segment (which would SIGBUS its peers)
 * or add seals, through either side's descriptors. */
RP_TEST(segment_seals_block_resize, 20)
{
	const uint64_t psize = RP_P_DATA_OFF + 8192u;
	struct rp_ring_fds pside, cside;
	struct rp_test_ring r;

	rp_test_ring_make(&r, 8192, 0, 0);
	CU_ASSERT_FATAL(rp_ring_fds_for_producer(&r.fds, &pside) == 0);
	CU_ASSERT_FATAL(rp_ring_fds_for_consumer(&r.fds, &cside) == 0);

	assert_sealed_rw(pside.p_fd, psize);
	assert_sealed_rw(cside.c_fd, RP_C_SEG_SIZE);
	assert_sealed_rw(rp_bell_memfd(r.pbell), RP_BELL_SEG_SIZE);

	/* The read-only reopens cannot resize either. */
	CU_ASSERT_EQUAL(ftruncate(cside.p_fd, 0), -1);
	CU_ASSERT_EQUAL(ftruncate(pside.c_fd, RP_C_SEG_SIZE * 2), -1);
	CU_ASSERT_EQUAL(fd_size(cside.p_fd), psize);
	CU_ASSERT_EQUAL(fd_size(pside.c_fd), RP_C_SEG_SIZE);

	/* And the ring still works after all those attempts. */
	{
		struct rp_producer *p = NULL;
		struct rp_consumer *c = NULL;
		struct rp_meta m = {.origin = 7, .type = RP_REC_T_DATA};
		struct rp_view v;
		char buf[40];

		CU_ASSERT_FATAL(rp_producer_open(&pside, r.pbell, r.cbell,
						 &p) == 0);
		CU_ASSERT_FATAL(rp_consumer_open(&cside, r.cbell, r.pbell,
						 &c) == 0);
		rp_test_fill(buf, sizeof(buf), 7);
		CU_ASSERT_EQUAL(rp_send(p, buf, sizeof(buf), &m, 0), 0);
		CU_ASSERT_EQUAL(rp_flush(p), 0);
		CU_ASSERT_EQUAL(rp_peek(c, &v), 0);
		CU_ASSERT_EQUAL(v.len, sizeof(buf));
		CU_ASSERT_EQUAL(v.origin, 7);
		CU_ASSERT(rp_test_verify(v.data, v.len, 7));
		rp_consumer_close(c);
		rp_producer_close(p);
	}
	rp_ring_fds_close(&pside);
	rp_ring_fds_close(&cside);
	rp_test_ring_free(&r);
}

/* rp_memfd_create makes what rp_memfd_check accepts; anything unsealed,
 * partly sealed, of another size or not a file is refused. */
RP_TEST(segment_memfd_check, 20)
{
	int fd = -1, u = -1, pfd[2], ro = -1;
	char buf[16];

	CU_ASSERT_EQUAL(rp_memfd_create("t", 0, &fd), -EINVAL);
	CU_ASSERT_EQUAL(fd, -1);
	CU_ASSERT_EQUAL(rp_memfd_create("t", 100, &fd), -EINVAL);
	CU_ASSERT_EQUAL(fd, -1);
	CU_ASSERT_EQUAL(rp_memfd_create("t", RP_PAGE + 1, &fd), -EINVAL);
	CU_ASSERT_EQUAL(fd, -1);

	CU_ASSERT_FATAL(rp_memfd_create("t", 2 * RP_PAGE, &fd) == 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CU_ASSERT_EQUAL(fcntl(fd, F_GET_SEALS), RP_SEALS_REQUIRED);
	CU_ASSERT_EQUAL(rp_memfd_check(fd, 2 * RP_PAGE), 0);
	CU_ASSERT_EQUAL(rp_memfd_check(fd, RP_PAGE), -EINVAL);
	CU_ASSERT_EQUAL(rp_memfd_check(fd, 3 * RP_PAGE), -EINVAL);
	CU_ASSERT_EQUAL(rp_memfd_check(fd, 0), -EINVAL);

	/* Unsealed, then sealed step by step: only the full set passes. */
	u = memfd_create("u", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CU_ASSERT_FATAL(u >= 0);
	CU_ASSERT_FATAL(ftruncate(u, 2 * RP_PAGE) == 0);
	CU_ASSERT_EQUAL(rp_memfd_check(u, 2 * RP_PAGE), -EPERM);
	CU_ASSERT_EQUAL(fcntl(u, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	CU_ASSERT_EQUAL(rp_memfd_check(u, 2 * RP_PAGE), -EPERM);
	CU_ASSERT_EQUAL(fcntl(u, F_ADD_SEALS, F_SEAL_SEAL), 0);
	CU_ASSERT_EQUAL(rp_memfd_check(u, 2 * RP_PAGE), 0);
	rp_close_fd(&u);

	/* A memfd that never allowed sealing carries only F_SEAL_SEAL. */
	u = memfd_create("n", MFD_CLOEXEC);
	CU_ASSERT_FATAL(u >= 0);
	CU_ASSERT_FATAL(ftruncate(u, RP_PAGE) == 0);
	CU_ASSERT_EQUAL(rp_memfd_check(u, RP_PAGE), -EPERM);
	rp_close_fd(&u);

	/* Not a regular file at all. */
	CU_ASSERT_FATAL(pipe2(pfd, O_CLOEXEC) == 0);
	CU_ASSERT_EQUAL(rp_memfd_check(pfd[0], 0), -EINVAL);
	close(pfd[0]);
	close(pfd[1]);
	CU_ASSERT_EQUAL(rp_memfd_check(-1, RP_PAGE), -EBADF);

	/* The read-only reopen: its own description, read-only, cloexec,
	 * same pages. */
	CU_ASSERT_EQUAL(pwrite(fd, "sealed", 6, 100), 6);
	CU_ASSERT_FATAL(rp_fd_reopen_ro(fd, &ro) == 0);
	CU_ASSERT_EQUAL(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
	CU_ASSERT(fcntl(ro, F_GETFD) & FD_CLOEXEC);
	CU_ASSERT_EQUAL(pread(ro, buf, 6, 100), 6);
	CU_ASSERT(memcmp(buf, "sealed", 6) == 0);
	CU_ASSERT_EQUAL(pwrite(ro, "x", 1, 0), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	CU_ASSERT_EQUAL(rp_memfd_check(ro, 2 * RP_PAGE), 0);
	{
		int bad = 7;
		CU_ASSERT_EQUAL(rp_fd_reopen_ro(-1, &bad), -ENOENT);
		CU_ASSERT_EQUAL(bad, -1);
	}
	rp_close_fd(&ro);
	rp_close_fd(&fd);
	CU_ASSERT_EQUAL(fd, -1);
	rp_close_fd(&fd); /* idempotent */
}

/* ---------------------------------------------------------------- mirror */

/* The two copies alias behind the compiler's back: it may move a load of
 * one copy above a store to the other.  Make it re-read memory. */
static inline void compiler_barrier(void)
{
	__asm__ __volatile__("" ::: "memory");
}

/* A ring data area mapped twice: bytes written past the end of the first
 * copy are the start of the area, and the reverse. */
RP_TEST(segment_mirror_wraps, 20)
{
	const uint32_t cap = 8192;
	unsigned char *m = NULL, *ro_m = NULL, *flat = NULL;
	unsigned char pat[16];
	struct rp_test_ring r;
	int ro = -1;

	rp_test_ring_make(&r, cap, 0, 0);
	CU_ASSERT_FATAL(rp_map_mirror(r.fds.p_fd, RP_P_DATA_OFF, cap, 1,
				      (void **)&m) == 0);
	CU_ASSERT_FATAL(rp_fd_reopen_ro(r.fds.p_fd, &ro) == 0);
	CU_ASSERT_FATAL(rp_map_mirror(ro, RP_P_DATA_OFF, cap, 0,
				      (void **)&ro_m) == 0);
	/* An independent single view of the same pages, as witness. */
	CU_ASSERT_FATAL(rp_map(r.fds.p_fd, RP_P_DATA_OFF, cap, 0,
			       (void **)&flat) == 0);

	for (unsigned i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(0xa0 + i);
	/* Straddle the seam from the first copy into the second. */
	memcpy(m + cap - 8, pat, sizeof(pat));
	compiler_barrier();
	CU_ASSERT(memcmp(m, pat + 8, 8) == 0);
	CU_ASSERT(memcmp(flat, pat + 8, 8) == 0);
	CU_ASSERT(memcmp(flat + cap - 8, pat, 8) == 0);
	CU_ASSERT(memcmp(m + 2 * cap - 8, pat, 8) == 0);
	CU_ASSERT(memcmp(ro_m + cap - 8, pat, sizeof(pat)) == 0);

	/* And the other way: the start of the area shows past the end. */
	memcpy(m, "mirror!!", 8);
	compiler_barrier();
	CU_ASSERT(memcmp(m + cap, "mirror!!", 8) == 0);
	CU_ASSERT(memcmp(ro_m + cap, "mirror!!", 8) == 0);
	memcpy(m + 2 * cap - 4, "tail", 4);
	compiler_barrier();
	CU_ASSERT(memcmp(m + cap - 4, "tail", 4) == 0);
	CU_ASSERT(memcmp(flat + cap - 4, "tail", 4) == 0);

	/* The read-only mirror stays read-only. */
	CU_ASSERT_EQUAL(mprotect(ro_m, cap, PROT_READ | PROT_WRITE), -1);
	CU_ASSERT_EQUAL(errno, EACCES);

	/* Geometry the mirror cannot honour. */
	{
		void *bad = (void *)1;
		CU_ASSERT_EQUAL(rp_map_mirror(r.fds.p_fd, RP_P_DATA_OFF, 0, 1,
					      &bad), -EINVAL);
		CU_ASSERT_PTR_NULL(bad);
		CU_ASSERT_EQUAL(rp_map_mirror(r.fds.p_fd, RP_P_DATA_OFF, 100,
					      1, &bad), -EINVAL);
		CU_ASSERT_EQUAL(rp_map_mirror(r.fds.p_fd, 100, cap, 1, &bad),
				-EINVAL);
	}

	rp_unmap(flat, cap);
	rp_unmap(ro_m, 2 * (uint64_t)cap);
	rp_unmap(m, 2 * (uint64_t)cap);
	rp_close_fd(&ro);
	rp_test_ring_free(&r);
}

/* Through a ring: a record that crosses the end of the data area reaches
 * the consumer as one contiguous payload. */
RP_TEST(segment_mirror_record_contiguous, 20)
{
	const uint32_t cap = 4096;
	struct rp_test_ring r;
	struct rp_producer *p;
	struct rp_consumer *c;
	struct rp_meta meta = {.type = RP_REC_T_DATA};
	unsigned char buf[1024];
	unsigned crossed = 0;

	rp_test_ring_make(&r, cap, 0, 0);
	p = rp_test_producer(&r);
	c = rp_test_consumer(&r);
	for (uint64_t i = 0; i < 64; i++) {
		uint32_t len = 1000 + (uint32_t)(i % 3) * 8;
		struct rp_view v;

		meta.origin = i;
		rp_test_fill(buf, len, i);
		CU_ASSERT_FATAL(rp_send(p, buf, len, &meta, 0) == 0);
		CU_ASSERT_FATAL(rp_flush(p) == 0);
		CU_ASSERT_FATAL(rp_peek(c, &v) == 0);
		CU_ASSERT_EQUAL(v.len, len);
		CU_ASSERT(rp_test_verify(v.data, v.len, i));
		if ((v.pos & (cap - 1)) + rp_rec_size(len) > cap)
			crossed++;
		CU_ASSERT_FATAL(rp_release(c) == 0);
	}
	CU_ASSERT(crossed >= 10);
	rp_consumer_close(c);
	rp_producer_close(p);
	rp_test_ring_free(&r);
}

/* -------------------------------------------------------- named segments */

/* The name is exclusive while its owner lives: a second create fails at
 * once with -EEXIST and leaves the first segment as it was. */
RP_TEST(segment_named_exclusive, 20)
{
	struct rp_named a, b;
	char name[80];
	int64_t t0, dt;

	shm_name(name, sizeof(name), "excl");
	CU_ASSERT_FATAL(rp_named_create(name, 1000, &a) == 0);
	CU_ASSERT_EQUAL(a.owner, 1);
	CU_ASSERT(a.fd >= 0);
	CU_ASSERT_EQUAL(a.size % RP_PAGE, 0);
	CU_ASSERT(rp_named_data_size(&a) >= 1000);
	CU_ASSERT_EQUAL(rp_named_data_size(&a) + sizeof(struct rp_named_hdr),
			a.size);
	CU_ASSERT_EQUAL((unsigned char *)rp_named_data(&a) -
				(unsigned char *)a.base,
			sizeof(struct rp_named_hdr));
	CU_ASSERT(shm_exists(name));
	memcpy(rp_named_data(&a), "owner data", 11);

	t0 = rp_now_ns();
	CU_ASSERT_EQUAL(rp_named_create(name, 1000, &b), -EEXIST);
	dt = rp_now_ns() - t0;
	CU_ASSERT(dt < 1000 * 1000 * 1000LL); /* fails fast, no waiting */
	CU_ASSERT_EQUAL(b.fd, -1);
	CU_ASSERT_EQUAL(b.owner, 0);
	rp_named_close(&b); /* harmless on a failed handle */
	/* A different size changes nothing either. */
	CU_ASSERT_EQUAL(rp_named_create(name, 1 << 20, &b), -EEXIST);
	rp_named_close(&b);

	CU_ASSERT(shm_exists(name));
	CU_ASSERT(memcmp(rp_named_data(&a), "owner data", 11) == 0);
	CU_ASSERT_EQUAL(((struct rp_named_hdr *)a.base)->s_owner_pid,
			(int32_t)getpid());

	rp_named_close(&a);
	CU_ASSERT(!shm_exists(name));
	rp_named_close(&a); /* idempotent */
	CU_ASSERT_EQUAL(a.fd, -1);

	/* Once the owner closed, the name is free again. */
	CU_ASSERT_EQUAL(rp_named_create(name, 10, &a), 0);
	rp_named_close(&a);
	CU_ASSERT(!shm_exists(name));
	shm_scrub(name);
}

struct named_child_arg {
	const char *name;
	int wfd;     /* reports rp_named_create's result */
	uint64_t tag;
};

/* Child: become the owner, fill the data, report, then wait to die. */
static int named_owner_child(void *argp)
{
	struct named_child_arg *a = argp;
	struct rp_named s;
	int err = rp_named_create(a->name, 4096, &s);

	if (err == 0)
		memcpy(rp_named_data(&s), &a->tag, sizeof(a->tag));
	if (write(a->wfd, &err, sizeof(err)) != (ssize_t)sizeof(err))
		return 2;
	if (err)
		return 1;
	for (;;)
		pause();
}

/* A segment whose owner was SIGKILLed is stale: observers get -ESTALE,
 * and the next create recovers the name and starts from a fresh segment. */
RP_TEST(segment_named_stale_recovered, 20)
{
	struct named_child_arg arg;
	struct rp_named s, o;
	int pfd[2], cerr = -1, st;
	char name[80];
	ino_t old_ino;
	pid_t pid;
	uint64_t seen;

	shm_name(name, sizeof(name), "stale");
	CU_ASSERT_FATAL(pipe2(pfd, O_CLOEXEC) == 0);
	arg.name = name;
	arg.wfd = pfd[1];
	arg.tag = 0x5eedfacecafe0001ull;
	pid = rp_test_fork(named_owner_child, &arg);
	CU_ASSERT_FATAL(pid > 0);
	close(pfd[1]);
	CU_ASSERT_EQUAL(read_int_timeout(pfd[0], 5000, &cerr), 0);
	close(pfd[0]);
	CU_ASSERT_EQUAL(cerr, 0);

	/* While the child lives, the name is its own. */
	CU_ASSERT_EQUAL(rp_named_create(name, 4096, &s), -EEXIST);
	CU_ASSERT_EQUAL(rp_named_open_ro(name, &o), 0);
	memcpy(&seen, rp_named_data(&o), sizeof(seen));
	CU_ASSERT_EQUAL(seen, arg.tag);
	rp_named_close(&o);

	kill(pid, SIGKILL);
	st = rp_test_wait(pid, 5);
	CU_ASSERT_EQUAL(rp_test_exit_code(st), -1000 - SIGKILL);

	/* The dead owner could not unlink it. */
	CU_ASSERT(shm_exists(name));
	old_ino = shm_inode(name);
	CU_ASSERT_EQUAL(rp_named_open_ro(name, &o), -ESTALE);
	CU_ASSERT_PTR_NULL(o.base);
	CU_ASSERT_EQUAL(o.fd, -1);

	/* Recovery: one create, which must succeed at once. */
	CU_ASSERT_EQUAL(rp_named_create(name, 4096, &s), 0);
	if (s.base != NULL) {
		CU_ASSERT_EQUAL(s.owner, 1);
		CU_ASSERT(shm_inode(name) != old_ino);
		memcpy(&seen, rp_named_data(&s), sizeof(seen));
		CU_ASSERT_EQUAL(seen, 0); /* not the dead owner's pages */
		CU_ASSERT_EQUAL(((struct rp_named_hdr *)s.base)->s_owner_pid,
				(int32_t)getpid());
		/* And it is live now: observers attach, creators bounce. */
		CU_ASSERT_EQUAL(rp_named_open_ro(name, &o), 0);
		rp_named_close(&o);
		CU_ASSERT_EQUAL(rp_named_create(name, 4096, &o), -EEXIST);
	}
	rp_named_close(&s);
	CU_ASSERT(!shm_exists(name));
	shm_scrub(name);
}

struct observer_arg {
	const char *name;
	uint64_t size;
	int32_t owner_pid;
	int go_fd;   /* parent writes one int when it changed the data */
	int done_fd; /* child writes one int when it looked at the data */
};

/* Exit codes of observer_child, so a failure names its cause. */
enum {
	OBS_OK = 0,
	OBS_OPEN = 10,
	OBS_NOT_OWNER,
	OBS_SIZE,
	OBS_PID,
	OBS_DATA,
	OBS_MPROTECT,
	OBS_WRITE_FD,
	OBS_SYNC,
	OBS_LIVE,
	OBS_WROTE,
	OBS_UNLINKED,
};

/* Grandchild: try to write through the observer's mapping.  Survives
 * (exit 0) only if the mapping was writable. */
static int scribble_child(void *p)
{
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	*(volatile unsigned char *)p = 0x55;
	return 0;
}

static int observer_child(void *argp)
{
	struct observer_arg *a = argp;
	struct rp_named o;
	int v = 0, st;
	pid_t g;

	if (rp_named_open_ro(a->name, &o) != 0)
		return OBS_OPEN;
	if (o.owner != 0)
		return OBS_NOT_OWNER;
	if (o.size != a->size)
		return OBS_SIZE;
	if (((const struct rp_named_hdr *)o.base)->s_owner_pid != a->owner_pid)
		return OBS_PID;
	if (memcmp(rp_named_data(&o), "first", 6) != 0)
		return OBS_DATA;
	/* Read-only mapping that cannot be upgraded... */
	if (mprotect(o.base, o.size, PROT_READ | PROT_WRITE) == 0 ||
	    errno != EACCES)
		return OBS_MPROTECT;
	/* ...on a read-only descriptor... */
	if ((fcntl(o.fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
		return OBS_WRITE_FD;
	/* ...and a store through it faults. */
	g = rp_test_fork(scribble_child, rp_named_data(&o));
	st = rp_test_wait(g, 5);
	if (rp_test_exit_code(st) == 0)
		return OBS_WROTE;
	/* The owner's later writes show up: it is the same pages. */
	if (write(a->done_fd, &v, sizeof(v)) != (ssize_t)sizeof(v) ||
	    read_int_timeout(a->go_fd, 5000, &v) != 0)
		return OBS_SYNC;
	if (memcmp(rp_named_data(&o), "second", 7) != 0)
		return OBS_LIVE;
	rp_named_close(&o);
	/* An observer's close never removes the owner's segment. */
	if (!shm_exists(a->name))
		return OBS_UNLINKED;
	return OBS_OK;
}

/* An observer in another process attaches to a live owner's segment: it
 * reads the owner's data, live, through a mapping it cannot write. */
RP_TEST(segment_named_observer, 20)
{
	struct observer_arg arg;
	struct rp_named s, o;
	int go[2], done[2], v = 0, st;
	char name[80];
	pid_t pid;

	/* Pipes first: nothing to clean up if they fail. */
	CU_ASSERT_FATAL(pipe2(go, O_CLOEXEC) == 0);
	CU_ASSERT_FATAL(pipe2(done, O_CLOEXEC) == 0);
	shm_name(name, sizeof(name), "obs");
	CU_ASSERT_FATAL(rp_named_create(name, 3 * RP_PAGE, &s) == 0);
	memcpy(rp_named_data(&s), "first", 6);

	/* In-process first: a second description of the file does not
	 * share the owner's lock, so this exercises the same checks. */
	CU_ASSERT_EQUAL(rp_named_open_ro(name, &o), 0);
	CU_ASSERT_EQUAL(o.size, s.size);
	CU_ASSERT_EQUAL(o.owner, 0);
	CU_ASSERT(memcmp(rp_named_data(&o), "first", 6) == 0);
	CU_ASSERT_EQUAL(mprotect(o.base, o.size, PROT_READ | PROT_WRITE), -1);
	CU_ASSERT_EQUAL(errno, EACCES);
	rp_named_close(&o);
	CU_ASSERT(shm_exists(name));

	arg.name = name;
	arg.size = s.size;
	arg.owner_pid = (int32_t)getpid();
	arg.go_fd = go[0];
	arg.done_fd = done[1];
	pid = rp_test_fork(observer_child, &arg);
	CU_ASSERT(pid > 0);
	if (pid > 0 && read_int_timeout(done[0], 10000, &v) == 0) {
		memcpy(rp_named_data(&s), "second", 7);
		CU_ASSERT_EQUAL(write(go[1], &v, sizeof(v)), sizeof(v));
	}
	st = pid > 0 ? rp_test_wait(pid, 10) : -1;
	CU_ASSERT_EQUAL(rp_test_exit_code(st), OBS_OK);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);

	/* The observer's scribble attempt changed nothing. */
	CU_ASSERT(memcmp(rp_named_data(&s), "second", 7) == 0);
	rp_named_close(&s);
	CU_ASSERT(!shm_exists(name));
	shm_scrub(name);
}

/* Observers refuse what is not a live, well-formed segment. */
RP_TEST(segment_named_observer_refuses, 20)
{
	struct rp_named s, o;
	char name[80];

	shm_name(name, sizeof(name), "missing");
	CU_ASSERT_EQUAL(rp_named_open_ro(name, &o), -ENOENT);
	CU_ASSERT_EQUAL(o.fd, -1);

	/* A live owner whose header was scribbled. */
	shm_name(name, sizeof(name), "badhdr");
	CU_ASSERT_FATAL(rp_named_create(name, 100, &s) == 0);
	((struct rp_named_hdr *)s.base)->s_magic ^= 1;
	CU_ASSERT_EQUAL(rp_named_open_ro(name, &o), -EBADMSG);
	CU_ASSERT_PTR_NULL(o.base);
	CU_ASSERT_EQUAL(o.fd, -1);
	((struct rp_named_hdr *)s.base)->s_magic ^= 1;
	((struct rp_named_hdr *)s.base)->s_size += RP_PAGE;
	CU_ASSERT_EQUAL(rp_named_open_ro(name, &o), -EBADMSG);
	((struct rp_named_hdr *)s.base)->s_size -= RP_PAGE;
	CU_ASSERT_EQUAL(rp_named_open_ro(name, &o), 0);
	rp_named_close(&o);
	rp_named_close(&s);
	CU_ASSERT(!shm_exists(name));
	shm_scrub(name);
}

/* Names outside [A-Za-z0-9._-]{1,64}, or starting with '.', and sizes of
 * zero or over 4 GiB are refused before anything is created. */
RP_TEST(segment_named_bad_names, 20)
{
	static const char *const bad[] = {
		"", "a/b", "../x", "/abs", ".hidden", ".", "..", "has space",
		"tab\tname", "new\nline", "caf\xc3\xa9", "star*", "q?",
		"semi;colon",
	};
	struct rp_named s;
	char name[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(rp_named_create(bad[i], 100, &s), -EINVAL);
		CU_ASSERT_EQUAL(s.fd, -1);
		CU_ASSERT_EQUAL(s.owner, 0);
		rp_named_close(&s);
		CU_ASSERT_EQUAL(rp_named_open_ro(bad[i], &s), -EINVAL);
	}

	/* 64 characters is the longest name; 65 is one too many. */
	shm_name(name, sizeof(name), "");
	while (strlen(name) < 64)
		strcat(name, "x");
	CU_ASSERT_EQUAL(rp_named_create(name, 100, &s), 0);
	CU_ASSERT(shm_exists(name));
	rp_named_close(&s);
	CU_ASSERT(!shm_exists(name));
	shm_scrub(name);
	strcat(name, "x");
	CU_ASSERT_EQUAL(rp_named_create(name, 100, &s), -EINVAL);
	CU_ASSERT(!shm_exists(name));
	shm_scrub(name);

	/* Sizes. */
	shm_name(name, sizeof(name), "size");
	CU_ASSERT_EQUAL(rp_named_create(name, 0, &s), -EINVAL);
	CU_ASSERT_EQUAL(rp_named_create(name, (1ull << 32) + 1, &s), -EINVAL);
	CU_ASSERT(!shm_exists(name));
	shm_scrub(name);
}

/* Exit code: how many of its successful creates found their segment not
 * bound to the name (unlinked or replaced by someone else's) while they
 * still owned it, plus 100 if a create failed with anything but -EEXIST
 * (the one documented answer to a name that is taken). */
static int create_racer(void *argp)
{
	const char *name = argp;
	int64_t end = rp_now_ns() + 300 * 1000 * 1000LL;
	int lost = 0, odd = 0;

	while (rp_now_ns() < end && lost < 99) {
		struct rp_named s;
		struct stat st;
		int err = rp_named_create(name, 100, &s);

		if (err != 0) {
			odd |= err != -EEXIST;
			continue;
		}
		if (fstat(s.fd, &st) != 0 || shm_inode(name) != st.st_ino)
			lost++;
		rp_named_close(&s);
	}
	return lost + (odd ? 100 : 0);
}

/* Two processes creating and closing the same name as fast as they can:
 * a live owner's segment is never taken from it (the name never points
 * to another file, and no one else unlinks it, while it is owned). */
RP_TEST(segment_named_create_race, 20)
{
	char name[80];
	pid_t a, b;
	int sa, sb;

	shm_name(name, sizeof(name), "race");
	a = rp_test_fork(create_racer, name);
	b = rp_test_fork(create_racer, name);
	CU_ASSERT_FATAL(a > 0 && b > 0);
	sa = rp_test_wait(a, 10);
	sb = rp_test_wait(b, 10);
	CU_ASSERT_EQUAL(rp_test_exit_code(sa), 0);
	CU_ASSERT_EQUAL(rp_test_exit_code(sb), 0);
	shm_scrub(name);
}

void rp_suite_segment(void)
{
	RP_SUITE("segment",
		 {"seals_block_resize", segment_seals_block_resize},
		 {"memfd_check", segment_memfd_check},
		 {"mirror_wraps", segment_mirror_wraps},
		 {"mirror_record_contiguous", segment_mirror_record_contiguous},
		 {"named_exclusive", segment_named_exclusive},
		 {"named_stale_recovered", segment_named_stale_recovered},
		 {"named_observer", segment_named_observer},
		 {"named_observer_refuses", segment_named_observer_refuses},
		 {"named_bad_names", segment_named_bad_names},
		 {"named_create_race", segment_named_create_race});
}
