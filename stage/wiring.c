/*
 * wiring.c - parse and format RINGPIPE_STAGE (see wiring.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shm/crashpoint.h"
#include "../shm/layout.h"
#include "wiring.h"

void rp_wiring_init(struct rp_wiring *w)
{
	memset(w, 0, sizeof(*w));
	w->in.p_fd = w->in.c_fd = w->out.p_fd = w->out.c_fd = -1;
	w->cin.p_fd = w->cin.c_fd = w->cout.p_fd = w->cout.c_fd = -1;
	w->bell = w->bell_efd = w->in_bell = w->out_bell = -1;
	w->in_bell_efd = w->out_bell_efd = -1;
	w->sup_bell = w->sup_efd = -1;
	w->lifeline = w->notify_sock = w->filter = -1;
	rp_sandbox_defaults(&w->sandbox);
}

static int bad(struct rp_wiring *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int rp_wiring_valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= RP_WIRING_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return 0;
	}
	return 1;
}

static int num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int fd_of(const char *s, int *fd)
{
	uint64_t v;

	if (num(s, 1 << 20, &v))
		return -EINVAL;
	*fd = (int)v;
	return 0;
}

static int fd_pair(char *s, int *a, int *b)
{
	char *comma = strchr(s, ',');

	if (comma == NULL)
		return -EINVAL;
	*comma = '\0';
	return fd_of(s, a) || fd_of(comma + 1, b) ? -EINVAL : 0;
}

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{"EPERM", EPERM}, {"EACCES", EACCES}, {"ENOSYS", ENOSYS},
	{"EINVAL", EINVAL}, {"ENOENT", ENOENT},
};

static int rules(struct rp_wiring *w, char *list, int deny,
		 struct rp_syscall_rule *out, int *n)
{
	char *save = NULL;

	for (char *tok = strtok_r(list, "+", &save); tok;
	     tok = strtok_r(NULL, "+", &save)) {
		char *colon = strchr(tok, ':');
		int nr, e = 0;

		if (colon) {
			if (!deny)
				return bad(w, "allow=%s: no errno on allow", tok);
			*colon++ = '\0';
			for (size_t i = 0; i < sizeof(errnos) / sizeof(*errnos);
			     i++)
				if (strcmp(colon, errnos[i].name) == 0)
					e = errnos[i].value;
			if (e == 0)
				return bad(w, "%s: unknown errno %s", tok, colon);
		}
		if (*tok >= '0' && *tok <= '9') {
			uint64_t v;
			if (num(tok, 4095, &v))
				return bad(w, "bad syscall number '%s'", tok);
			nr = (int)v;
		} else {
			nr = rp_syscall_number(tok);
		}
		if (nr < 0)
			return bad(w, "unknown syscall name '%s'", tok);
		if (*n >= RP_SANDBOX_MAX_RULES)
			return bad(w, "too many syscall rules");
		out[*n].nr = nr;
		out[*n].errno_ = e;
		(*n)++;
	}
	return 0;
}

/* Landlock paths travel escaped: any byte outside [A-Za-z0-9/._-] as
 * %XX, so that ';' and '+' inside a path cannot split it. */
static int path_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '/' || c == '.' || c == '_' ||
	       c == '-';
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int paths(struct rp_wiring *w, const char *key, char *val,
		 char (*out)[RP_SANDBOX_PATH_MAX], int *n, int *set)
{
	char *save = NULL;

	*set = 1;
	*n = 0;
	for (char *tok = strtok_r(val, "+", &save); tok;
	     tok = strtok_r(NULL, "+", &save)) {
		char *p = out[*n];
		size_t k = 0;

		if (*n >= RP_SANDBOX_MAX_PATHS)
			return bad(w, "%s: more than %d paths", key,
				   RP_SANDBOX_MAX_PATHS);
		for (const char *c = tok; *c; c++) {
			int ch = (unsigned char)*c;
			if (ch == '%') {
				int hi = hex(c[1]);
				int lo = hi < 0 ? -1 : hex(c[2]);
				if (lo < 0 || (hi | lo) == 0)
					return bad(w, "%s: bad escape", key);
				ch = hi << 4 | lo;
				c += 2;
			}
			if (k + 1 >= RP_SANDBOX_PATH_MAX)
				return bad(w, "%s: a path over %d bytes", key,
					   RP_SANDBOX_PATH_MAX - 1);
			p[k++] = (char)ch;
		}
		p[k] = '\0';
		if (p[0] != '/')
			return bad(w, "%s: '%s' is not an absolute path", key,
				   p);
		(*n)++;
	}
	return 0;
}

static int one(struct rp_wiring *w, char *key, char *val)
{
	struct rp_sandbox *sb = &w->sandbox;
	uint64_t v;

#define PAIR(k, field)                                                        \
	if (strcmp(key, k) == 0)                                              \
		return fd_pair(val, &w->field.p_fd, &w->field.c_fd)           \
			       ? bad(w, "%s: expected FD,FD", key)            \
			       : 0
#define FD(k, field)                                                          \
	if (strcmp(key, k) == 0)                                              \
		return fd_of(val, &w->field) ? bad(w, "%s: expected an fd", key) \
					     : 0
#define LIMIT(k, field)                                                       \
	if (strcmp(key, k) == 0)                                              \
		return num(val, UINT64_MAX / 2, &sb->field)                   \
			       ? bad(w, "%s: expected a number", key)         \
			       : 0
	PAIR("in", in);
	PAIR("out", out);
	PAIR("cin", cin);
	PAIR("cout", cout);
	if (strcmp(key, "bell") == 0) {
		if (strchr(val, ','))
			return fd_pair(val, &w->bell, &w->bell_efd)
				       ? bad(w, "bell: expected FD or FD,EFD")
				       : 0;
		return fd_of(val, &w->bell) ? bad(w, "bell: expected an fd") : 0;
	}
	if (strcmp(key, "bellv") == 0) {
		if (num(val, 1000, &v) || v == 0)
			return bad(w, "bellv: expected a version");
		w->bell_version = (unsigned)v;
		return 0;
	}
	if (strcmp(key, "inbell") == 0 || strcmp(key, "outbell") == 0) {
		int *fd = key[0] == 'i' ? &w->in_bell : &w->out_bell;
		int *efd = key[0] == 'i' ? &w->in_bell_efd : &w->out_bell_efd;
		if (strchr(val, ','))
			return fd_pair(val, fd, efd)
				       ? bad(w, "%s: expected FD or FD,EFD", key)
				       : 0;
		return fd_of(val, fd) ? bad(w, "%s: expected an fd", key) : 0;
	}
	FD("life", lifeline);
	FD("sock", notify_sock);
	FD("filter", filter);
	LIMIT("as", limit_as);
	LIMIT("cpu", limit_cpu);
	LIMIT("nofile", limit_nofile);
	LIMIT("nproc", limit_nproc);
	LIMIT("fsize", limit_fsize);
#undef PAIR
#undef FD
#undef LIMIT
	if (strcmp(key, "sup") == 0)
		return fd_pair(val, &w->sup_bell, &w->sup_efd)
			       ? bad(w, "sup: expected FD,FD")
			       : 0;
	if (strcmp(key, "name") == 0) {
		if (!rp_wiring_valid_name(val))
			return bad(w, "name: 1-%d of [A-Za-z0-9._-]",
				   RP_WIRING_NAME_MAX - 1);
		snprintf(w->name, sizeof(w->name), "%s", val);
		return 0;
	}
	if (strcmp(key, "policy") == 0)
		return rp_policy_parse(val, &sb->policy)
			       ? bad(w, "policy: expected strict, exec or none")
			       : 0;
	if (strcmp(key, "allow") == 0)
		return rules(w, val, 0, sb->allow, &sb->nallow);
	if (strcmp(key, "deny") == 0)
		return rules(w, val, 1, sb->deny, &sb->ndeny);
	if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0) {
		if (num(val, 0xfffffffe, &v))
			return bad(w, "%s: expected an id", key);
		if (key[0] == 'u')
			sb->uid = (uint32_t)v;
		else
			sb->gid = (uint32_t)v;
		return 0;
	}
	if (strcmp(key, "ns") == 0) {
		char *save = NULL;
		for (char *t = strtok_r(val, "+", &save); t;
		     t = strtok_r(NULL, "+", &save)) {
			if (strcmp(t, "net") == 0)
				sb->namespaces |= RP_SB_NETNS;
			else if (strcmp(t, "ipc") == 0)
				sb->namespaces |= RP_SB_IPCNS;
			else if (strcmp(t, "mnt") == 0)
				sb->namespaces |= RP_SB_MNTNS;
			else if (strcmp(t, "pid") == 0)
				sb->namespaces |= RP_SB_PIDNS;
			else
				return bad(w, "ns: unknown namespace '%s'", t);
		}
		return 0;
	}
	if (strcmp(key, "crash") == 0) {
		char *colon = strchr(val, ':');
		uint64_t n;
		if (colon == NULL)
			return bad(w, "crash: expected NAME:N");
		*colon = '\0';
		w->crash_point = (int)rp_crashpoint_parse(val);
		if (w->crash_point == RP_CP_NONE ||
		    num(colon + 1, 1000000000, &n) || n == 0)
			return bad(w, "crash: unknown point or bad count");
		w->crash_n = (unsigned long)n;
		return 0;
	}
	if (strcmp(key, "inc") == 0) {
		uint64_t n;
		if (num(val, UINT32_MAX, &n) || n == 0)
			return bad(w, "inc: expected a number from 1");
		w->incarnation = (uint32_t)n;
		return 0;
	}
	if (strcmp(key, "chaos") == 0) {
		uint64_t n;
		if (num(val, UINT32_MAX, &n) || n == 0)
			return bad(w, "chaos: expected a number from 1");
		w->chaos_gen = (uint32_t)n;
		return 0;
	}
	if (strcmp(key, "skip") == 0) {
		char *t, *save2 = NULL;
		for (t = strtok_r(val, "+", &save2); t != NULL;
		     t = strtok_r(NULL, "+", &save2)) {
			if (w->nskip >= RP_WIRING_MAX_SKIP)
				return bad(w, "skip: more than %u numbers",
					   RP_WIRING_MAX_SKIP);
			if (num(t, UINT64_MAX / 2, &w->skip[w->nskip]))
				return bad(w, "skip: expected numbers "
					      "joined by +");
			w->nskip++;
		}
		return 0;
	}
	if (strcmp(key, "seq") == 0) {
		if (num(val, UINT64_MAX / 2, &w->seq))
			return bad(w, "seq: expected a number");
		w->has_seq = 1;
		return 0;
	}
	if (strcmp(key, "after") == 0) {
		if (num(val, UINT64_MAX / 2, &w->after))
			return bad(w, "after: expected a number");
		return 0;
	}
	if (strcmp(key, "fsr") == 0)
		return paths(w, key, val, sb->fs_read, &sb->nfs_read,
			     &sb->fs_read_set);
	if (strcmp(key, "fsw") == 0)
		return paths(w, key, val, sb->fs_write, &sb->nfs_write,
			     &sb->fs_write_set);
	if (strcmp(key, "tmp") == 0) {
		char one[RP_SANDBOX_MAX_PATHS][RP_SANDBOX_PATH_MAX];
		int n = 0, set = 0, err = paths(w, key, val, one, &n, &set);
		if (err)
			return err;
		if (n != 1 || one[0][0] != '/')
			return bad(w, "tmp: expected one absolute path");
		memcpy(sb->tmpdir, one[0], sizeof(sb->tmpdir));
		return 0;
	}
	if (strcmp(key, "quar") == 0)
		return num(val, 64, &v) ? bad(w, "quar: 0 to 64")
				       : (w->quarantine = (unsigned)v, 0);
	if (strcmp(key, "endn") == 0)
		return num(val, 36000000, &v) ? bad(w, "endn: 0 to 36000000")
					      : (w->end_n = (unsigned)v, 0);
	if (strcmp(key, "timed") == 0)
		return num(val, 1, &v) ? bad(w, "timed: 0 or 1")
				      : (w->timed = (int)v, 0);
	if (strcmp(key, "lock") == 0)
		return num(val, 3600000, &v) ? bad(w, "lock: 0 to 3600000")
					     : (w->lock_ms = (unsigned)v, 0);
	if (strcmp(key, "standby") == 0)
		return num(val, 1, &v) ? bad(w, "standby: 0 or 1")
				       : (w->standby = (int)v, 0);
	if (strcmp(key, "llopt") == 0)
		return num(val, 1, &v) ? bad(w, "llopt: 0 or 1")
				       : (sb->landlock_optional = (int)v, 0);
	if (strcmp(key, "nsopt") == 0)
		return num(val, 1, &v) ? bad(w, "nsopt: 0 or 1")
				       : (sb->ns_optional = (int)v, 0);
	return bad(w, "unknown key '%s'", key);
}

int rp_wiring_parse(const char *desc, struct rp_wiring *w)
{
	char buf[RP_WIRING_MAX], *save = NULL;
	int err;

	rp_wiring_init(w);
	if (strlen(desc) >= sizeof(buf))
		return bad(w, "too long");
	strcpy(buf, desc);
	for (char *kv = strtok_r(buf, ";", &save); kv;
	     kv = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(kv, '=');
		if (eq == NULL)
			return bad(w, "'%s': expected key=value", kv);
		*eq = '\0';
		err = one(w, kv, eq + 1);
		if (err)
			return err;
	}
	if (w->name[0] == '\0')
		return bad(w, "name missing");
	if (w->bell < 0 || w->sup_bell < 0 || w->cin.p_fd < 0 ||
	    w->cout.p_fd < 0)
		return bad(w, "bell, sup, cin and cout are required");
	if (w->in.p_fd < 0 && w->out.p_fd < 0)
		return bad(w, "a stage needs an input or an output ring");
	if ((w->in.p_fd >= 0 && w->in_bell < 0) ||
	    (w->out.p_fd >= 0 && w->out_bell < 0))
		return bad(w, "inbell/outbell missing for a ring");
	return 0;
}

static int append(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *at)
		return -ENOSPC;
	*at += (size_t)n;
	return 0;
}

static int fmt_rules(char *buf, size_t len, size_t *at, const char *key,
		     const struct rp_syscall_rule *r, int n)
{
	int err = 0;

	for (int i = 0; i < n && !err; i++) {
		const char *ename = NULL;
		for (size_t k = 0; k < sizeof(errnos) / sizeof(*errnos); k++)
			if (errnos[k].value == r[i].errno_)
				ename = errnos[k].name;
		err = append(buf, len, at, "%s%d", i ? "+" : key, r[i].nr);
		if (!err && r[i].errno_)
			err = append(buf, len, at, ":%s", ename ? ename : "EPERM");
	}
	return err ? err : (n ? append(buf, len, at, ";") : 0);
}

/* Only a list the configuration gave: an absent key is the policy's
 * default, "key=;" an empty list. */
static int fmt_paths(char *buf, size_t len, size_t *at, const char *key,
		     const char (*p)[RP_SANDBOX_PATH_MAX], int n, int set)
{
	int err;

	if (!set)
		return 0;
	err = append(buf, len, at, "%s=", key);
	for (int i = 0; i < n && i < RP_SANDBOX_MAX_PATHS && !err; i++) {
		if (i)
			err = append(buf, len, at, "+");
		for (const char *c = p[i]; *c && !err; c++)
			err = path_safe((unsigned char)*c)
				      ? append(buf, len, at, "%c", *c)
				      : append(buf, len, at, "%%%02X",
					       (unsigned char)*c);
	}
	return err ? err : append(buf, len, at, ";");
}

static int fmt_late(const struct rp_wiring *w, char *buf, size_t len,
		    size_t *atp)
{
	size_t at = *atp;
	int err = 0;

	if (!err && w->has_seq)
		err = append(buf, len, &at, "seq=%llu;",
			     (unsigned long long)w->seq);
	if (!err && w->after)
		err = append(buf, len, &at, "after=%llu;",
			     (unsigned long long)w->after);
	if (!err && w->chaos_gen)
		err = append(buf, len, &at, "chaos=%u;", w->chaos_gen);
	if (!err && w->incarnation)
		err = append(buf, len, &at, "inc=%u;", w->incarnation);
	for (unsigned i = 0; !err && i < w->nskip; i++)
		err = append(buf, len, &at, "%s%llu%s", i ? "" : "skip=",
			     (unsigned long long)w->skip[i],
			     i + 1 < w->nskip ? "+" : ";");
	*atp = at;
	return err;
}

int rp_wiring_format(const struct rp_wiring *w, char *buf, size_t len)
{
	const struct rp_sandbox *sb = &w->sandbox;
	size_t at = 0;
	int err;

	err = append(buf, len, &at,
		     "name=%s;cin=%d,%d;cout=%d,%d;bell=%d;sup=%d,%d;"
		     "bellv=%u;policy=%s;uid=%u;gid=%u;",
		     w->name, w->cin.p_fd, w->cin.c_fd, w->cout.p_fd,
		     w->cout.c_fd, w->bell, w->sup_bell, w->sup_efd,
		     (unsigned)RP_BELL_VERSION, rp_policy_name(sb->policy),
		     sb->uid, sb->gid);
	if (!err && w->bell_efd >= 0)
		err = append(buf, len, &at, "bell=%d,%d;", w->bell, w->bell_efd);
	if (!err && w->in.p_fd >= 0)
		err = append(buf, len, &at, "in=%d,%d;inbell=%d;", w->in.p_fd,
			     w->in.c_fd, w->in_bell);
	if (!err && w->in.p_fd >= 0 && w->in_bell_efd >= 0)
		err = append(buf, len, &at, "inbell=%d,%d;", w->in_bell,
			     w->in_bell_efd);
	if (!err && w->out.p_fd >= 0)
		err = append(buf, len, &at, "out=%d,%d;outbell=%d;",
			     w->out.p_fd, w->out.c_fd, w->out_bell);
	if (!err && w->out.p_fd >= 0 && w->out_bell_efd >= 0)
		err = append(buf, len, &at, "outbell=%d,%d;", w->out_bell,
			     w->out_bell_efd);
	if (!err && w->crash_point != RP_CP_NONE)
		err = append(buf, len, &at, "crash=%s:%lu;",
			     rp_crashpoint_name(
				     (enum rp_crash_point)w->crash_point),
			     w->crash_n);
	if (!err)
		err = fmt_late(w, buf, len, &at);
	if (!err && w->standby)
		err = append(buf, len, &at, "standby=1;");
	if (!err && w->quarantine)
		err = append(buf, len, &at, "quar=%u;", w->quarantine);
	if (!err && w->end_n)
		err = append(buf, len, &at, "endn=%u;", w->end_n);
	if (!err && w->timed)
		err = append(buf, len, &at, "timed=1;");
	if (!err && w->lock_ms)
		err = append(buf, len, &at, "lock=%u;", w->lock_ms);
	if (!err && w->lifeline >= 0)
		err = append(buf, len, &at, "life=%d;", w->lifeline);
	if (!err && w->notify_sock >= 0)
		err = append(buf, len, &at, "sock=%d;", w->notify_sock);
	if (!err && w->filter >= 0)
		err = append(buf, len, &at, "filter=%d;", w->filter);
	if (!err && sb->limit_as)
		err = append(buf, len, &at, "as=%llu;",
			     (unsigned long long)sb->limit_as);
	if (!err && sb->limit_cpu)
		err = append(buf, len, &at, "cpu=%llu;",
			     (unsigned long long)sb->limit_cpu);
	if (!err && sb->limit_nofile)
		err = append(buf, len, &at, "nofile=%llu;",
			     (unsigned long long)sb->limit_nofile);
	if (!err && sb->limit_fsize)
		err = append(buf, len, &at, "fsize=%llu;",
			     (unsigned long long)sb->limit_fsize);
	if (!err && sb->limit_nproc)
		err = append(buf, len, &at, "nproc=%llu;",
			     (unsigned long long)sb->limit_nproc);
	if (!err && sb->namespaces)
		err = append(buf, len, &at, "ns=%s%s%s%s;nsopt=%d;",
			     sb->namespaces & RP_SB_PIDNS ? "pid+" : "",
			     sb->namespaces & RP_SB_NETNS ? "net+" : "",
			     sb->namespaces & RP_SB_IPCNS ? "ipc+" : "",
			     sb->namespaces & RP_SB_MNTNS ? "mnt" : "",
			     sb->ns_optional);
	if (!err)
		err = fmt_paths(buf, len, &at, "fsr", sb->fs_read,
				sb->nfs_read, sb->fs_read_set);
	if (!err)
		err = fmt_paths(buf, len, &at, "fsw", sb->fs_write,
				sb->nfs_write, sb->fs_write_set);
	if (!err && sb->tmpdir[0] != '\0')
		err = fmt_paths(buf, len, &at, "tmp",
				(const char (*)[RP_SANDBOX_PATH_MAX])sb->tmpdir,
				1, 1);
	if (!err && sb->landlock_optional)
		err = append(buf, len, &at, "llopt=1;");
	if (!err)
		err = fmt_rules(buf, len, &at, "allow=", sb->allow, sb->nallow);
	if (!err)
		err = fmt_rules(buf, len, &at, "deny=", sb->deny, sb->ndeny);
	return err;
}

void rp_wiring_close_fds(struct rp_wiring *w)
{
	int *fds[] = {&w->in.p_fd,  &w->in.c_fd,   &w->out.p_fd,
		      &w->out.c_fd, &w->cin.p_fd,  &w->cin.c_fd,
		      &w->cout.p_fd, &w->cout.c_fd, &w->bell, &w->bell_efd,
		      &w->in_bell_efd, &w->out_bell_efd,
		      &w->in_bell,  &w->out_bell,  &w->sup_bell,
		      &w->sup_efd,  &w->lifeline,  &w->notify_sock,
		      &w->filter};

	for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int rp_wiring_format_takeover(const struct rp_wiring *w, char *buf,
			      size_t len)
{
	size_t at = 0;

	if (len == 0)
		return -ENOSPC;
	buf[0] = '\0';
	return fmt_late(w, buf, len, &at);
}

int rp_wiring_take_over(const char *desc, struct rp_wiring *w)
{
	char buf[RP_WIRING_TAKEOVER_MAX], *save = NULL;
	static const char *const late[] = {"seq", "after", "skip", "chaos",
					   "inc"};

	w->has_seq = 0;
	w->seq = 0;
	w->after = 0;
	w->nskip = 0;
	w->chaos_gen = 0;
	w->incarnation = 0;
	w->error[0] = '\0';
	if (strlen(desc) >= sizeof(buf))
		return bad(w, "take-over: too long");
	strcpy(buf, desc);
	for (char *kv = strtok_r(buf, ";", &save); kv;
	     kv = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(kv, '=');
		size_t i;
		if (eq == NULL)
			return bad(w, "take-over: '%s': expected key=value",
				   kv);
		*eq = '\0';
		for (i = 0; i < sizeof(late) / sizeof(*late); i++)
			if (strcmp(kv, late[i]) == 0)
				break;
		if (i == sizeof(late) / sizeof(*late))
			return bad(w, "take-over: key '%s' not allowed", kv);
		int err = one(w, kv, eq + 1);
		if (err)
			return err;
	}
	return 0;
}
