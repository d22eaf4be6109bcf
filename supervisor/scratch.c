/*
 * scratch.c - an exec stage's own temporary directory (see scratch.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scratch.h"

#define PREFIX "ringpipe-tmp."
#define NEW_PREFIX "ringpipe-tmpnew."
/* Deeper than this, a tree is a program's attack on our stack and fds:
 * left, and said. */
#define MAX_DEPTH 128

const char *rp_scratch_base(void)
{
	const char *t = getenv("TMPDIR");

	if (t && t[0] == '/' && strlen(t) < RP_SCRATCH_PATH_MAX - 64)
		return t;
	return "/tmp";
}

void rp_scratch_init(struct rp_scratch *s)
{
	s->path[0] = '\0';
	s->lock = -1;
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
 * with O_NOFOLLOW, relative to its parent's fd.  0 or the first
 * -errno. */
static int empty_dir(int dfd, int depth)
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
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		int sub;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (unlinkat(dfd, n, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM && errno != EACCES) {
			err = err ? err : -errno;
			continue;
		}
		if (depth >= MAX_DEPTH) {
			err = err ? err : -ELOOP;
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
			int r = empty_dir(sub, depth + 1);
			err = err ? err : r;
		}
		if (unlinkat(dfd, n, AT_REMOVEDIR) != 0 && errno != ENOENT)
			err = err ? err : -errno;
	}
	closedir(d);
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

int rp_scratch_make(struct rp_scratch *s, const char *stage, uid_t uid,
		    gid_t gid)
{
	char tmp[RP_SCRATCH_PATH_MAX];
	const char *base = rp_scratch_base();
	int fd, n, err;

	rp_scratch_init(s);
	/* A TMPDIR the stage's user cannot reach (root's own, 0700): in
	 * /tmp instead. */
	if (!reachable(base, uid, gid))
		base = "/tmp";
	/* Made under a name no sweep looks at, locked, then renamed into
	 * view: a sweep never finds it unlocked while it is in use. */
	n = snprintf(tmp, sizeof(tmp), "%s/" NEW_PREFIX "%s.XXXXXX", base,
		     stage);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	if (mkdtemp(tmp) == NULL)
		return -errno;
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 ||
	    (geteuid() == 0 && fchown(fd, uid, gid) != 0)) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		rmdir(tmp);
		return err;
	}
	snprintf(s->path, sizeof(s->path), "%s/" PREFIX "%s", base,
		 tmp + strlen(base) + 1 + strlen(NEW_PREFIX));
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, s->path, RENAME_NOREPLACE) !=
	    0) {
		err = -errno;
		close(fd);
		rmdir(tmp);
		rp_scratch_init(s);
		return err;
	}
	s->lock = fd;
	return 0;
}

int rp_scratch_remove(struct rp_scratch *s)
{
	int err = 0;

	if (s->path[0] == '\0')
		return 0;
	if (s->lock >= 0) {
		int fd = dup(s->lock);
		err = fd < 0 ? -errno : empty_dir(fd, 0);
	}
	/* Removed by its name: the directory itself is ours, its name in
	 * a sticky /tmp only ours to remove. */
	if (rmdir(s->path) != 0 && errno != ENOENT && !err)
		err = -errno;
	if (s->lock >= 0)
		close(s->lock);
	rp_scratch_init(s);
	return err;
}

static unsigned sweep(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		int fd, fresh = 0;
		struct stat st;
		if (strncmp(e->d_name, NEW_PREFIX, strlen(NEW_PREFIX)) == 0)
			fresh = 1; /* being made, or a run died making it */
		else if (strncmp(e->d_name, PREFIX, strlen(PREFIX)) != 0)
			continue;
		fd = openat(dirfd(d), e->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Held: a live run's.  Not ours (another user's, when we
		 * are not root): not ours to judge. */
		if (fstat(fd, &st) != 0 ||
		    (geteuid() != 0 && st.st_uid != geteuid()) ||
		    flock(fd, LOCK_EX | LOCK_NB) != 0 ||
		    (fresh && st.st_mtime > time(NULL) - 60)) {
			close(fd);
			continue;
		}
		{
			int dup_fd = dup(fd);
			if (dup_fd >= 0)
				empty_dir(dup_fd, 0);
		}
		n += unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) == 0;
		close(fd);
	}
	closedir(d);
	return n;
}

unsigned rp_scratch_sweep(void)
{
	const char *base = rp_scratch_base();

	/* (/tmp too: where a TMPDIR the stages could not reach sent
	 * theirs) */
	return sweep(base) + (strcmp(base, "/tmp") ? sweep("/tmp") : 0);
}
