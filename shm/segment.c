/*
 * segment.c - sealed memfds, read-only reopens, mirrored mappings and
 * named segments with stale-owner recovery.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "segment.h"

void rp_close_fd(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -1;
}

int rp_memfd_create(const char *name, uint64_t size, int *fd_out)
{
	int fd, err;

	*fd_out = -1;
	if (size == 0 || size % RP_PAGE != 0)
		return -EINVAL;
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		goto out;
	}
	/* Back every page now: a store into a hole of a full tmpfs would
	 * otherwise raise SIGBUS in whichever participant touched it. */
	err = posix_fallocate(fd, 0, (off_t)size);
	if (err != 0) {
		err = -err;
		goto out;
	}
	if (fcntl(fd, F_ADD_SEALS, RP_SEALS_REQUIRED) < 0) {
		err = -errno;
		goto out;
	}
	*fd_out = fd;
	return 0;
out:
	rp_close_fd(&fd);
	return err;
}

int rp_memfd_check(int fd, uint64_t size)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return -EINVAL;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	if ((seals & RP_SEALS_REQUIRED) != RP_SEALS_REQUIRED)
		return -EPERM;
	return 0;
}

int rp_fd_reopen_ro(int fd, int *fd_out)
{
	char path[64];
	int nfd;

	*fd_out = -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nfd < 0)
		return -errno;
	*fd_out = nfd;
	return 0;
}

int rp_map(int fd, uint64_t off, uint64_t len, int writable, void **out)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p;

	*out = NULL;
	p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

int rp_map_mirror(int fd, uint64_t off, uint64_t len, int writable,
		  void **out)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	unsigned char *base;
	void *a, *b;
	int err;

	*out = NULL;
	if (len == 0 || len % RP_PAGE != 0 || off % RP_PAGE != 0)
		return -EINVAL;
	/* Reserve 2*len of address space, then place the two views inside
	 * the reservation with MAP_FIXED: nothing else can land there. */
	base = mmap(NULL, 2 * len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	a = mmap(base, len, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
	if (a == MAP_FAILED)
		goto fail;
	b = mmap(base + len, len, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
	if (b == MAP_FAILED)
		goto fail;
	*out = base;
	return 0;
fail:
	err = -errno;
	munmap(base, 2 * len);
	return err;
}

void rp_unmap(void *p, uint64_t len)
{
	if (p != NULL && len != 0)
		munmap(p, len);
}

/* ------------------------------------------------------- named segments */

#define SHM_DIR "/dev/shm"

static int named_path(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return -EINVAL;
	}
	if (name[0] == '.')
		return -EINVAL;
	snprintf(buf, len, SHM_DIR "/ringpipe.%s", name);
	return 0;
}

/*
 * Build the whole segment under a private temporary name - created
 * exclusively, locked, sized and initialised - then publish it with
 * link(), which fails atomically with EEXIST if the name is taken.  Nobody
 * can ever see (or reclaim) a half-made segment under the real name.
 */
static int named_build(const char *path, uint64_t total, int *fd_out,
		       void **map_out)
{
	char tmp[160];
	struct rp_named_hdr *h;
	void *map = NULL;
	int fd, err;

	*fd_out = -1;
	*map_out = NULL;
	snprintf(tmp, sizeof(tmp), "%s.new-%d", path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 ||
	    ftruncate(fd, (off_t)total) < 0) {
		err = -errno;
		goto fail;
	}
	err = rp_map(fd, 0, total, 1, &map);
	if (err)
		goto fail;
	h = map;
	h->s_magic = RP_NAMED_MAGIC;
	h->s_version = RP_NAMED_VERSION;
	h->s_hdr_size = sizeof(*h);
	h->s_size = total;
	h->s_owner_pid = (int32_t)getpid();
	if (link(tmp, path) < 0) {
		err = -errno;
		goto fail;
	}
	unlink(tmp);
	*fd_out = fd;
	*map_out = map;
	return 0;
fail:
	rp_unmap(map, total);
	unlink(tmp);
	rp_close_fd(&fd);
	return err;
}

/* The name exists.  If its owner is alive (holds the flock) fail fast;
 * if not, remove the stale segment - only if the name still refers to
 * the very file found dead - so the caller can retry once. */
static int named_reclaim_stale(const char *path)
{
	struct stat a, b;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int err = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EEXIST : -errno;
		goto out;
	}
	if (fstat(fd, &a) < 0) {
		err = -errno;
		goto out;
	}
	/* Still the same dead file under that name?  Then unlink it while
	 * holding its lock; a racing reclaimer finds it gone or locked. */
	if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
	    unlink(path) < 0 && errno != ENOENT)
		err = -errno;
out:
	rp_close_fd(&fd);
	return err;
}

int rp_named_create(const char *name, uint64_t size, struct rp_named *out)
{
	uint64_t total;
	int err, fd = -1;
	void *map = NULL;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	err = named_path(name, out->path, sizeof(out->path));
	if (err)
		return err;
	if (size == 0 || size > (1ull << 32))
		return -EINVAL;
	total = (sizeof(struct rp_named_hdr) + size + RP_PAGE - 1) &
		~(uint64_t)(RP_PAGE - 1);

	err = named_build(out->path, total, &fd, &map);
	if (err == -EEXIST) {
		/* The atomic create is the check; a failed one is answered
		 * by reclaiming a stale segment and retrying exactly once. */
		err = named_reclaim_stale(out->path);
		if (err)
			return err;
		err = named_build(out->path, total, &fd, &map);
	}
	if (err)
		return err;
	out->fd = fd;
	out->base = map;
	out->size = total;
	out->owner = 1;
	return 0;
}

int rp_named_open_ro(const char *name, struct rp_named *out)
{
	struct rp_named_hdr h;
	struct stat st;
	int err, fd;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	err = named_path(name, out->path, sizeof(out->path));
	if (err)
		return err;
	fd = open(out->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if ((uint64_t)st.st_size < sizeof(h) ||
	    (uint64_t)st.st_size % RP_PAGE != 0) {
		err = -EBADMSG;
		goto fail;
	}
	/* A segment whose owner is gone is stale: do not attach to it. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		err = -ESTALE;
		goto fail;
	}
	err = rp_map(fd, 0, (uint64_t)st.st_size, 0, &out->base);
	if (err)
		goto fail;
	memcpy(&h, out->base, sizeof(h));
	if (h.s_magic != RP_NAMED_MAGIC || h.s_version != RP_NAMED_VERSION ||
	    h.s_hdr_size != sizeof(h) || h.s_size != (uint64_t)st.st_size) {
		rp_unmap(out->base, (uint64_t)st.st_size);
		out->base = NULL;
		err = -EBADMSG;
		goto fail;
	}
	out->fd = fd;
	out->size = (uint64_t)st.st_size;
	return 0;
fail:
	rp_close_fd(&fd);
	return err;
}

void rp_named_close(struct rp_named *seg)
{
	rp_unmap(seg->base, seg->size);
	seg->base = NULL;
	if (seg->owner && seg->path[0] != '\0')
		unlink(seg->path); /* before the lock goes with the fd */
	seg->owner = 0;
	rp_close_fd(&seg->fd);
}

void *rp_named_data(const struct rp_named *seg)
{
	return (unsigned char *)seg->base + sizeof(struct rp_named_hdr);
}

uint64_t rp_named_data_size(const struct rp_named *seg)
{
	return seg->size - sizeof(struct rp_named_hdr);
}
