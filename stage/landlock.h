/*
 * landlock.h - the file-system layer of the stage sandbox.
 *
 * Landlock lets an unprivileged process (with no_new_privs) give up
 * file-system access for itself and everything it starts: once
 * restricted, a path may be opened only beneath a rule that grants the
 * access.  Descriptors opened before keep the rights they were opened
 * with, so a stage that opened its file first (file-source, file-sink)
 * goes on reading, writing and cutting it back (the kernel checks
 * truncation when a file is opened, not when it is cut).
 *
 * Which rules a stage gets (sandbox.h has the settings):
 *   strict, nothing configured   a ruleset with no rules: no access at all
 *   otherwise                    read and execute beneath each fs_read
 *                                path (default /, none under strict);
 *                                read, write, create and remove beneath
 *                                each fs_write path; /dev/null read and
 *                                written (shell redirections need it)
 *   none, nothing configured     no ruleset
 *
 * Under a policy (strict or exec) the ruleset also scopes signals and
 * abstract unix sockets (ABI 6): the stage, and whatever it starts,
 * can signal only processes of its own, never the supervisor, another
 * stage or another pipeline, although they all share a uid.
 *
 * Best effort across kernels: the ruleset handles only the rights the
 * running kernel's ABI knows (1: the 13 base rights, 2: +REFER,
 * 3: +TRUNCATE, 5: +IOCTL_DEV, 6: scopes); older ABIs leave truncation,
 * device ioctls and signals unrestricted (the PID namespace that exec
 * stages get by default still confines their signals).
 */
#ifndef RP_LANDLOCK_H
#define RP_LANDLOCK_H

#include <stddef.h>

#include "sandbox.h"

/* The running kernel's Landlock ABI version (>= 1), or -ENOSYS (not
 * built in), -EOPNOTSUPP (disabled at boot) or another -errno. */
int rp_landlock_abi(void);

/* What a ruleset under ABI version abi cannot restrict, for the report
 * ("truncate(2) ..."), or NULL if nothing a stage is denied gets
 * through. */
const char *rp_landlock_gaps(int abi);

/* Does the ruleset for sb under ABI version abi scope signals? */
int rp_landlock_scoped(const struct rp_sandbox *sb, int abi);

/* Does sb ask for a Landlock ruleset at all? */
int rp_landlock_wanted(const struct rp_sandbox *sb);

/* Did the configuration name paths (so a kernel without Landlock is an
 * error unless landlock_optional)? */
int rp_landlock_explicit(const struct rp_sandbox *sb);

/* Restrict the calling thread, and whatever it starts from now on, to
 * the rules sb asks for under ABI version abi.  Needs no_new_privs (or
 * CAP_SYS_ADMIN).  0, or -errno with why saying which path or call
 * failed. */
int rp_landlock_restrict(const struct rp_sandbox *sb, int abi, char *why,
			 size_t len);

#endif /* RP_LANDLOCK_H */
