/*
 * landlock.c - Landlock rulesets through the raw system calls, which
 * glibc does not wrap (see landlock.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"

/* Debian 12's kernel headers (6.1) know ABI 2 at most; the numbers and
 * bits below are fixed by the kernel's ABI and the same everywhere. */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

/* ABI 6: scopes, a field Debian 12's headers do not have yet. */
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* struct landlock_ruleset_attr as of ABI 6.  An older kernel takes it
 * whole as long as the fields it does not know are zero. */
struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* ABI 1: the 13 base rights. */
#define FS_ABI1                                                               \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |         \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |         \
	 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |     \
	 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |         \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |         \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |       \
	 LANDLOCK_ACCESS_FS_MAKE_SYM)

/* fs_read: look, read, run. */
#define FS_READ                                                               \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |          \
	 LANDLOCK_ACCESS_FS_READ_DIR)

/* fs_write: everything but device nodes, which need CAP_MKNOD that no
 * stage has anyway.  REFER lets files move between directories beneath
 * fs_write paths (both ends must grant it). */
#define FS_WRITE                                                              \
	(FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE |                            \
	 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |     \
	 LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |          \
	 LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |        \
	 LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER |             \
	 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* The rights a rule on something other than a directory may hold (the
 * kernel refuses any other). */
#define FS_FILE                                                               \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |         \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |         \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* What shells do with /dev/null: open it to read, or with O_TRUNC to
 * write, and ask whether it is a terminal. */
#define FS_DEVNULL                                                            \
	(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |       \
	 LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* The rights ABI version abi knows; a ruleset handling any other is
 * refused. */
static uint64_t fs_known(int abi)
{
	uint64_t m = FS_ABI1;

	if (abi >= 2)
		m |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		m |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		m |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return m;
}

int rp_landlock_abi(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, 0,
			 LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? -errno : (int)v;
}

const char *rp_landlock_gaps(int abi)
{
	if (abi >= 6)
		return NULL;
	if (abi >= 5)
		return "signals to processes outside a stage are not scoped "
		       "(that needs Landlock ABI 6)";
	if (abi >= 3)
		return "ioctl(2) on devices is not restricted and signals to "
		       "processes outside a stage are not scoped (that needs "
		       "Landlock ABI 5 and 6)";
	return "truncate(2) of files and ioctl(2) on devices are not "
	       "restricted and signals to processes outside a stage are not "
	       "scoped (that needs Landlock ABI 3, 5 and 6)";
}

int rp_landlock_scoped(const struct rp_sandbox *sb, int abi)
{
	return abi >= 6 && sb->policy != RP_POLICY_NONE;
}

int rp_landlock_explicit(const struct rp_sandbox *sb)
{
	return sb->fs_read_set || sb->fs_write_set;
}

int rp_landlock_wanted(const struct rp_sandbox *sb)
{
	return sb->policy != RP_POLICY_NONE || rp_landlock_explicit(sb);
}

/* A rule granting access beneath path (a directory), or to it (anything
 * else, which may only hold a file's rights).  The path is opened here,
 * as the stage's own uid: one it cannot reach is an error, never a rule
 * quietly left out. */
static int add_path(int ruleset, const char *what, const char *path,
		    uint64_t access, uint64_t known, char *why, size_t len)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int fd, err = 0;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT)
			snprintf(why, len, "%s path '%s' does not exist", what,
				 path);
		else
			snprintf(why, len, "%s path '%s': %s", what, path,
				 strerror(-err));
		return err;
	}
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= FS_FILE;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access & known;
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 &&
	    syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
		    &pb, 0) < 0) {
		err = -errno;
		snprintf(why, len, "%s path '%s': landlock_add_rule: %s", what,
			 path, strerror(-err));
	}
	close(fd);
	return err;
}

static int add_rules(int rs, const struct rp_sandbox *sb, uint64_t known,
		     char *why, size_t len)
{
	int err = 0;

	if (sb->fs_read_set) {
		for (int i = 0; i < sb->nfs_read && !err; i++)
			err = add_path(rs, "fs_read", sb->fs_read[i], FS_READ,
				       known, why, len);
	} else if (sb->policy != RP_POLICY_STRICT) {
		err = add_path(rs, "fs_read", "/", FS_READ, known, why, len);
	}
	for (int i = 0; i < sb->nfs_write && !err; i++)
		err = add_path(rs, "fs_write", sb->fs_write[i], FS_WRITE, known,
			       why, len);
	if (!err && sb->tmpdir[0] != '\0')
		err = add_path(rs, "temporary directory", sb->tmpdir, FS_WRITE,
			       known, why, len);
	/* A system without /dev/null has nothing to grant. */
	if (!err) {
		err = add_path(rs, "always writable", "/dev/null", FS_DEVNULL,
			       known, why, len);
		if (err == -ENOENT) {
			why[0] = '\0';
			err = 0;
		}
	}
	return err;
}

int rp_landlock_restrict(const struct rp_sandbox *sb, int abi, char *why,
			 size_t len)
{
	uint64_t known = fs_known(abi);
	struct ruleset_attr attr;
	int rs, err = 0;

	why[0] = '\0';
	/* The network is the namespace's and the filter's to fence: left
	 * zero, it handles nothing, and any kernel accepts zeros it lacks.
	 * Signals out of the stage, and connections to abstract sockets
	 * outside it, are scoped where the kernel can. */
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = known;
	if (rp_landlock_scoped(sb, abi))
		attr.scoped = LANDLOCK_SCOPE_SIGNAL |
			      LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
	rs = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0) {
		err = -errno;
		snprintf(why, len, "landlock_create_ruleset: %s",
			 strerror(-err));
		return err;
	}
	/* strict with nothing configured: no rules, so no file-system
	 * access at all.  The filter already forbids opening files; this
	 * holds even if it let one through. */
	if (sb->policy != RP_POLICY_STRICT || rp_landlock_explicit(sb))
		err = add_rules(rs, sb, known, why, len);
	if (!err && syscall(__NR_landlock_restrict_self, rs, 0) < 0) {
		err = -errno;
		snprintf(why, len, "landlock_restrict_self: %s",
			 strerror(-err));
	}
	close(rs);
	return err;
}
