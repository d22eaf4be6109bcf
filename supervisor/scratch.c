/*
 * scratch.c - an exec stage's own temporary directory (see scratch.h).
 *
 * Where they go: a directory of ours, BASE/ringpipe-scratch-UID (mode
 * 0711: the stages' user may pass through, no one else may make or
 * rename anything in it), checked to be ours each time it is used.  So
 * a sweep, which empties as root what it finds there, finds only what
 * ringpipe made: no other user can put a directory where it looks.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scratch.h"

/* A directory being made: locked, then renamed into view. */
#define NEW_PREFIX ".new."
/* Deeper than this, what is below is moved up to the top, so that the
 * fds and stack a removal takes stay bounded however deep a tree is. */
#define MAX_DEPTH 64
/* How long a removal may hold up the supervisor's loop: one directory
 * as its stage ends, all a sweep finds as a run starts.  A directory
 * still being written (a process of its program's outlived it) is left
 * for a later sweep past that. */
#define REMOVE_BUDGET_NS (200 * 1000000LL)
#define SWEEP_BUDGET_NS (1000 * 1000000LL)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A base we may use: a directory that is ours or root's, and that others
 * may write in only if it is sticky (/tmp), so that nobody else can
 * rename or replace what we make there. */
static int base_ok(const char *base)
{
	struct stat st;

	return stat(base, &st) == 0 && S_ISDIR(st.st_mode) &&
	       (st.st_uid == 0 || st.st_uid == geteuid()) &&
	       (!(st.st_mode & 022) || (st.st_mode & S_ISVTX));
}

const char *rp_scratch_base(void)
{
	const char *t = getenv("TMPDIR");

	if (t && t[0] == '/' && strlen(t) < RP_SCRATCH_PATH_MAX - 96)
		return t;
	return "/tmp";
}

void rp_scratch_init(struct rp_scratch *s)
{
	s->path[0] = '\0';
	s->lock = -1;
}

/* Is fd a container of ours: a directory we own that nobody else may
 * write in?  Made searchable by all (the stages' user passes through). */
static int ours(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022) != 0)
		return -EPERM;
	if ((st.st_mode & 07777) != 0711 && fchmod(fd, 0711) != 0)
		return -errno;
	return 0;
}

/* Open base's container of ours: BASE/ringpipe-scratch-UID, or, that
 * name squatted by another user (made before ours), a fresh
 * BASE/ringpipe-scratch-UID.XXXXXX (with make: made).  Its fd, or
 * -errno; its path in out. */
static int container(const char *base, int make, char *out, size_t len)
{
	int fd = -1, n, err;

	n = snprintf(out, len, "%s/ringpipe-scratch-%u", base,
		     (unsigned)geteuid());
	if (n < 0 || (size_t)n + 8 >= len)
		return -ENAMETOOLONG;
	for (int tries = 0; tries < 3; tries++) {
		if (make && mkdir(out, 0711) != 0 && errno != EEXIST)
			return -errno;
		fd = open(out, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || !make)
			break; /* (ENOENT: emptied and removed by a run
				* ending just then: made again) */
	}
	if (fd < 0)
		return -errno;
	if ((err = ours(fd)) == 0)
		return fd;
	close(fd);
	if (!make || err != -EPERM)
		return err;
	/* Squatted: a name of our own nobody can guess. */
	memcpy(out + n, ".XXXXXX", 8);
	if (mkdtemp(out) == NULL)
		return -errno;
	fd = open(out, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((err = ours(fd)) != 0) {
		close(fd);
		return err;
	}
	return fd;
}

/* Make directory n in dfd searchable again (its owner may have taken
 * that away), through an O_PATH fd of what n is now: were it swapped
 * for a link by a process still running, the link is opened, never
 * what it names, and it is no directory. */
static int unlock_dir(int dfd, const char *n)
{
	char proc[64];
	struct stat st;
	int fd = openat(dfd, n, O_PATH | O_NOFOLLOW | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))
		err = -ENOTDIR;
	else if (chmod(proc, 0700) != 0)
		err = -errno;
	close(fd);
	return err;
}

/* Remove everything beneath directory dfd (which it closes), never
 * following a link: each name is unlinked, or opened as a directory
 * with O_NOFOLLOW, relative to its parent's fd.  A directory at
 * MAX_DEPTH is moved up into top instead, as .deep.SEQ (*moved counts
 * them: the caller goes again).  0 or the first -errno. */
static int empty_dir(int dfd, int depth, int top, unsigned *moved,
		     unsigned *seq, int64_t end)
{
	DIR *d;
	struct dirent *e;
	int err = 0;

	/* (its owner may have taken away the right to remove what is in
	 * it) */
	(void)fchmod(dfd, 0700);
	if ((d = fdopendir(dfd)) == NULL) {
		err = -errno;
		close(dfd);
		return err;
	}
	for (unsigned i = 0; (e = readdir(d)) != NULL; i++) {
		const char *n = e->d_name;
		int sub;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if ((i & 63) == 0 && now_ns() > end) {
			err = err ? err : -ETIMEDOUT;
			break;
		}
		if (unlinkat(dfd, n, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM && errno != EACCES) {
			err = err ? err : -errno;
			continue;
		}
		if (depth >= MAX_DEPTH) {
			char up[48];
			int r = -1;
			/* (a name the program put there first is passed
			 * over) */
			for (int t = 0; t < 8 && r != 0; t++) {
				snprintf(up, sizeof(up), ".deep.%u.%d",
					 (*seq)++, (int)getpid());
				r = renameat2(dfd, n, top, up,
					      RENAME_NOREPLACE);
			}
			if (r == 0)
				(*moved)++;
			else if (!err)
				err = -errno;
			continue;
		}
		/* A directory, maybe made unreadable by its owner (whose
		 * files these are, or ours as root). */
		sub = openat(dfd, n,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 && errno == EACCES && unlock_dir(dfd, n) == 0)
			sub = openat(dfd, n, O_RDONLY | O_DIRECTORY |
						     O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			err = err ? err : -errno;
			continue;
		}
		{
			int r = empty_dir(sub, depth + 1, top, moved, seq,
					  end);
			err = err ? err : r;
		}
		if (unlinkat(dfd, n, AT_REMOVEDIR) != 0 && errno != ENOENT)
			err = err ? err : -errno;
	}
	closedir(d);
	return err;
}

/* Empty directory fd (kept open), however deep: what lies past
 * MAX_DEPTH comes up to the top and goes in the next pass.  Until end
 * at most (-ETIMEDOUT). */
static int empty_tree(int fd, int64_t end)
{
	unsigned moved, passes = 0, seq = 0;
	int err, d;

	do {
		moved = 0;
		/* (a dup shares the offset the last pass read to) */
		if ((d = dup(fd)) < 0 || lseek(d, 0, SEEK_SET) != 0) {
			err = -errno;
			if (d >= 0)
				close(d);
			return err;
		}
		err = empty_dir(d, 0, fd, &moved, &seq, end);
	} while (moved > 0 && err != -ETIMEDOUT && ++passes < 100000);
	return err;
}

/* Can uid:gid (no other groups: the stage has none) reach beneath dir?
 * Only asked when we are root (a stage of ours otherwise is us).  By
 * the mode bits of every directory on the way; ACLs are not read. */
static int reachable(const char *dir, uid_t uid, gid_t gid)
{
	char p[RP_SCRATCH_PATH_MAX];
	size_t n = strlen(dir);
	struct stat st;

	if (geteuid() != 0 || uid == 0 || n >= sizeof(p))
		return 1;
	memcpy(p, dir, n + 1);
	for (;;) {
		mode_t want = S_IXOTH;
		if (stat(p, &st) != 0)
			return 0;
		if (st.st_uid == uid)
			want = S_IXUSR;
		else if (st.st_gid == gid)
			want = S_IXGRP;
		if (!(st.st_mode & want))
			return 0;
		{
			char *slash = strrchr(p, '/');
			if (slash == NULL || slash == p)
				return 1;
			*slash = '\0';
		}
	}
}

const char *rp_scratch_base_for(uid_t uid, gid_t gid)
{
	const char *base = rp_scratch_base();

	/* A TMPDIR the stage's user cannot reach (root's own, 0700), or
	 * where others could replace what we make: in /tmp instead. */
	return reachable(base, uid, gid) && base_ok(base) ? base : "/tmp";
}

int rp_scratch_make(struct rp_scratch *s, const char *stage, uid_t uid,
		    gid_t gid)
{
	char cpath[RP_SCRATCH_PATH_MAX], tmp[96], name[96];
	int cfd, fd = -1, err = -EEXIST;

	rp_scratch_init(s);
	if (strlen(stage) > 48)
		return -ENAMETOOLONG;
	if (!base_ok(rp_scratch_base_for(uid, gid)))
		return -EPERM;
	cfd = container(rp_scratch_base_for(uid, gid), 1, cpath,
			sizeof(cpath));
	if (cfd < 0)
		return cfd;
	/* Made under a name no sweep takes while it is fresh, locked,
	 * then renamed into view: a sweep never finds it unlocked while
	 * it is in use. */
	for (int tries = 0; tries < 100 && err == -EEXIST; tries++) {
		uint32_t r = 0;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
		snprintf(tmp, sizeof(tmp), NEW_PREFIX "%s.%08x", stage, r);
		snprintf(name, sizeof(name), "%s.%08x", stage, r);
		if (mkdirat(cfd, tmp, 0700) != 0) {
			err = -errno;
			/* (removed, empty, by a run ending as we opened it:
			 * made again) */
			if (err == -ENOENT) {
				close(cfd);
				cfd = container(rp_scratch_base_for(uid, gid), 1,
						cpath, sizeof(cpath));
				if (cfd < 0)
					return cfd;
				err = -EEXIST;
			}
			continue;
		}
		fd = openat(cfd, tmp,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || flock(fd, LOCK_EX) != 0 ||
		    (geteuid() == 0 && fchown(fd, uid, gid) != 0)) {
			err = -errno;
			if (fd < 0)
				unlinkat(cfd, tmp, AT_REMOVEDIR);
			break;
		}
		if (renameat2(cfd, tmp, cfd, name, RENAME_NOREPLACE) == 0) {
			err = 0;
			break;
		}
		err = -errno;
		close(fd);
		fd = -1;
		unlinkat(cfd, tmp, AT_REMOVEDIR);
	}
	if (err) {
		if (fd >= 0) {
			close(fd);
			unlinkat(cfd, tmp, AT_REMOVEDIR);
		}
		close(cfd);
		return err;
	}
	close(cfd);
	if ((size_t)snprintf(s->path, sizeof(s->path), "%.*s/%s",
			     (int)(sizeof(s->path) - 60), cpath, name) >=
	    sizeof(s->path)) {
		/* (bounded by rp_scratch_base and the stage name's 48) */
		close(fd);
		rp_scratch_init(s);
		return -ENAMETOOLONG;
	}
	s->lock = fd;
	return 0;
}

int rp_scratch_remove(struct rp_scratch *s)
{
	int err = 0;

	if (s->path[0] == '\0')
		return 0;
	if (s->lock >= 0)
		err = empty_tree(s->lock, now_ns() + REMOVE_BUDGET_NS);
	/* Removed by its name, in our container, where nobody else can
	 * put anything in its place; and the container too, once empty
	 * (a run that makes one there then makes the container again). */
	if (rmdir(s->path) != 0 && errno != ENOENT && !err)
		err = -errno;
	{
		char *slash = strrchr(s->path, '/');
		if (slash != NULL) {
			*slash = '\0';
			(void)rmdir(s->path);
		}
	}
	if (s->lock >= 0)
		close(s->lock);
	rp_scratch_init(s);
	return err;
}

/* Is name one we make in a container: STAGE.XXXXXXXX, or .new. before
 * it? */
static int our_name(const char *name)
{
	size_t n = strlen(name);

	if (n < 10 || name[n - 9] != '.')
		return 0;
	for (size_t i = n - 8; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}

/* Empty and remove what is unheld in container cfd (which it closes,
 * path cpath), until end.  How many. */
static unsigned sweep_container(int cfd, const char *cpath, int64_t end)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	if ((d = fdopendir(cfd)) == NULL) {
		close(cfd);
		return 0;
	}
	while ((e = readdir(d)) != NULL && now_ns() < end) {
		int fd, fresh;
		struct stat st;
		if (!our_name(e->d_name))
			continue;
		/* being made, or a run died making it */
		fresh = strncmp(e->d_name, NEW_PREFIX, strlen(NEW_PREFIX)) == 0;
		fd = openat(dirfd(d), e->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* A fresh one is not even locked (its maker locks it
		 * next); a held one is a live run's. */
		if (fstat(fd, &st) != 0 ||
		    (fresh && st.st_mtime > time(NULL) - 60) ||
		    flock(fd, LOCK_EX | LOCK_NB) != 0) {
			close(fd);
			continue;
		}
		/* (what is still being written stays for a later sweep) */
		if (empty_tree(fd, end) == 0)
			n += unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0;
		close(fd);
	}
	closedir(d);
	(void)rmdir(cpath); /* (once empty) */
	return n;
}

/* Sweep our containers in base: ringpipe-scratch-UID and the
 * ringpipe-scratch-UID.XXXXXX made where that name was squatted, each
 * checked to be ours (another user's directory of the name is passed
 * over, whatever it holds). */
static unsigned sweep(const char *base, int64_t end)
{
	char prefix[48], cpath[RP_SCRATCH_PATH_MAX];
	struct dirent *e;
	unsigned n = 0;
	size_t pl;
	DIR *d;

	if (!base_ok(base) || (d = opendir(base)) == NULL)
		return 0;
	pl = (size_t)snprintf(prefix, sizeof(prefix), "ringpipe-scratch-%u",
			      (unsigned)geteuid());
	while ((e = readdir(d)) != NULL && now_ns() < end) {
		int cfd;
		if (strncmp(e->d_name, prefix, pl) != 0 ||
		    (e->d_name[pl] != '\0' && e->d_name[pl] != '.'))
			continue;
		cfd = openat(dirfd(d), e->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue;
		if (ours(cfd) != 0 ||
		    (size_t)snprintf(cpath, sizeof(cpath), "%s/%s", base,
				     e->d_name) >= sizeof(cpath)) {
			close(cfd);
			continue;
		}
		n += sweep_container(cfd, cpath, end);
	}
	closedir(d);
	return n;
}

unsigned rp_scratch_sweep(void)
{
	const char *base = rp_scratch_base();
	int64_t end = now_ns() + SWEEP_BUDGET_NS;

	/* (/tmp too: where a TMPDIR the stages could not reach, or that
	 * was not safe, sent theirs) */
	return sweep(base, end) + (strcmp(base, "/tmp") ? sweep("/tmp", end)
							: 0);
}
