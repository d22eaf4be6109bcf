/*
 * config.c - pipelines from YAML (libyaml's document API) or a one-liner,
 * validated before anything runs (see config.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml.h>

#include "../stage/sandbox.h"
#include "../stage/wiring.h"
#include "config.h"
#include "deadletter.h"

#define DEFAULT_RING (1u << 20)

static const char *const builtins[] = {
	"file-source", "file-sink", "lines", "grep", "head", "count", "exec",
	"fault",
};

/* A file a stage can go back in: a regular file, or none yet (a
 * file-sink makes one).  A FIFO or a device named by path cannot.  For
 * "-", a source's stdin if it is a regular file (a stdin, shared with
 * the run, is read without moving its offset); stdout never is (a
 * restart cannot cut it back). */
static int seekable_path(const char *path, int source)
{
	struct stat st;

	if (strcmp(path, "-") == 0)
		return source && fstat(STDIN_FILENO, &st) == 0 &&
		       S_ISREG(st.st_mode);
	return stat(path, &st) != 0 || S_ISREG(st.st_mode);
}

int rp_cfg_replays(const struct rp_cfg_stage *c)
{
	const char *n = c->argv[0];

	/* A program of one's own replays if it is a deterministic stage;
	 * as a source, only if it saves where it is and goes back there,
	 * which we cannot know: it says so (replays: true). */
	if (!c->builtin)
		return c->input[0] != '\0' || c->replays;
	if (strcmp(n, "exec") == 0)
		return rp_cfg_exec_option(c, "--each");
	if (strcmp(n, "file-source") == 0 || strcmp(n, "file-sink") == 0)
		return c->argc > 1 &&
		       seekable_path(c->argv[c->argc - 1],
				      strcmp(n, "file-source") == 0);
	return 1;
}

int rp_cfg_exec_option(const struct rp_cfg_stage *c, const char *opt)
{
	size_t n = strlen(opt);

	if (!c->builtin || c->argc < 1 || strcmp(c->argv[0], "exec") != 0)
		return 0;
	for (int i = 1; i < c->argc && c->argv[i][0] == '-' &&
			strcmp(c->argv[i], "--") != 0;
	     i++) {
		if (strncmp(c->argv[i], opt, n) == 0 &&
		    (c->argv[i][n] == '\0' || c->argv[i][n] == '='))
			return 1;
		/* Their values, as the adapter takes them: the next word. */
		if (strcmp(c->argv[i], "--chunks") == 0 ||
		    strcmp(c->argv[i], "--ok-exit") == 0 ||
		    strcmp(c->argv[i], "--reject-exit") == 0)
			i++;
	}
	return 0;
}

void rp_cfg_fast_restart(struct rp_cfg *cfg)
{
	for (int i = 0; i < cfg->nstages; i++) {
		cfg->stages[i].restart_backoff_ms = 0;
		cfg->stages[i].restart_max = RP_CFG_FAST_MAX;
		cfg->stages[i].fast_restart = 1;
	}
}

int rp_cfg_is_builtin(const char *name)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(*builtins); i++)
		if (strcmp(name, builtins[i]) == 0)
			return 1;
	return 0;
}

/* Where each item of the root's stages list starts as written, from a
 * pass over the events: the document a parser builds gives an alias the
 * place of its anchor, and a stage repeated by an alias must be named
 * at the alias. */
struct shape {
	int n; /* items of the list */
	yaml_mark_t at[RP_CFG_MAX_STAGES];
};

struct ctx {
	struct rp_cfg *cfg;
	yaml_document_t *doc;
	const struct shape *shape; /* a file's; NULL for a one-liner */
};

static int fail_at(struct rp_cfg *cfg, int line, int col, const char *fmt,
		   ...)
{
	va_list ap;
	int n = snprintf(cfg->error, sizeof(cfg->error), "%s:%d:%d: ",
			 cfg->file, line, col);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(cfg->error))
		vsnprintf(cfg->error + n, sizeof(cfg->error) - (size_t)n, fmt,
			  ap);
	va_end(ap);
	return -EINVAL;
}

#define FAIL(c, node, ...)                                                    \
	fail_at((c)->cfg, (int)(node)->start_mark.line + 1,                   \
		(int)(node)->start_mark.column + 1, __VA_ARGS__)

/* Edit distance, for "did you mean". */
static int distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b), d[64][64];

	if (la > 63 || lb > 63)
		return 99;
	for (int i = 0; i <= la; i++)
		d[i][0] = i;
	for (int j = 0; j <= lb; j++)
		d[0][j] = j;
	for (int i = 1; i <= la; i++)
		for (int j = 1; j <= lb; j++) {
			int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < c)
				c = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < c)
				c = d[i][j - 1] + 1;
			d[i][j] = c;
		}
	return d[la][lb];
}

static int unknown_key(struct ctx *c, yaml_node_t *k, const char *key,
		       const char *const *valid, int nvalid, const char *where)
{
	const char *best = NULL;
	int bd = 99;

	for (int i = 0; i < nvalid; i++) {
		int dd = distance(key, valid[i]);
		if (dd < bd) {
			bd = dd;
			best = valid[i];
		}
	}
	if (best && bd <= 3)
		return FAIL(c, k, "unknown key '%s' in %s (did you mean '%s'?)",
			    key, where, best);
	return FAIL(c, k, "unknown key '%s' in %s", key, where);
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
						: NULL;
}

/* Does mapping n have key? */
static int has_key(struct ctx *c, yaml_node_t *n, const char *key)
{
	if (n->type != YAML_MAPPING_NODE)
		return 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(c->doc, p->key));
		if (k && !strcmp(k, key))
			return 1;
	}
	return 0;
}

static int want_scalar(struct ctx *c, yaml_node_t *n, const char *what,
		       const char **out)
{
	*out = scalar(n);
	if (*out == NULL)
		return FAIL(c, n, "%s: expected a single value", what);
	return 0;
}

/* "64", "512K", "1M", "2G" -> bytes. */
static int size_value(struct ctx *c, yaml_node_t *n, const char *what,
		      uint64_t max, uint64_t *out)
{
	const char *s;
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	if (want_scalar(c, n, what, &s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || *s < '0' || *s > '9')
		return FAIL(c, n, "%s: expected a size like 64K, 1M or 256M, "
				  "got '%s'", what, s);
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024ull * 1024 * 1024, end++;
	if (*end != '\0')
		return FAIL(c, n, "%s: '%s' is not a size: a whole number, then "
				  "K, M or G or nothing (like 64K, 1M or 256M)",
			    what, s);
	if (v > max / mult)
		return FAIL(c, n, "%s: '%s' is more than %llu bytes", what, s,
			    (unsigned long long)max);
	*out = v * mult;
	return 0;
}

/* A whole number from min to max. */
static int range_value(struct ctx *c, yaml_node_t *n, const char *what,
		       uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s;
	char *end;
	unsigned long long v;

	if (want_scalar(c, n, what, &s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max || *s < '0' ||
	    *s > '9')
		return FAIL(c, n, "%s: expected a number from %llu to %llu, "
				  "got '%s'", what, (unsigned long long)min,
			    (unsigned long long)max, s);
	*out = v;
	return 0;
}

static int count_value(struct ctx *c, yaml_node_t *n, const char *what,
		       uint64_t max, uint64_t *out)
{
	return range_value(c, n, what, 1, max, out);
}

/* The same, 0 allowed. */
static int count0_value(struct ctx *c, yaml_node_t *n, const char *what,
			uint64_t max, uint64_t *out)
{
	return range_value(c, n, what, 0, max, out);
}

static int bool_value(struct ctx *c, yaml_node_t *n, const char *what,
		      int *out)
{
	const char *s;

	if (want_scalar(c, n, what, &s))
		return -EINVAL;
	if (!strcmp(s, "true") || !strcmp(s, "yes"))
		*out = 1;
	else if (!strcmp(s, "false") || !strcmp(s, "no"))
		*out = 0;
	else
		return FAIL(c, n, "%s: expected true or false", what);
	return 0;
}

static int string_list(struct ctx *c, yaml_node_t *n, const char *what,
		       char **out, int max, int *count)
{
	*count = 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return FAIL(c, n, "%s: expected a list like [a, b]", what);
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		const char *s;
		if (want_scalar(c, e, what, &s))
			return -EINVAL;
		if (*count >= max)
			return FAIL(c, e, "%s: at most %d entries", what, max);
		out[(*count)++] = strdup(s);
	}
	return 0;
}

static int syscall_rules(struct ctx *c, yaml_node_t *n, const char *what,
			 int deny, struct rp_syscall_rule *out, int *count)
{
	static const struct {
		const char *name;
		int value;
	} errnos[] = {{"EPERM", EPERM}, {"EACCES", EACCES},
		      {"ENOSYS", ENOSYS}, {"EINVAL", EINVAL},
		      {"ENOENT", ENOENT}};

	if (n->type != YAML_SEQUENCE_NODE)
		return FAIL(c, n, "%s: expected a list of syscall names", what);
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		char name[64], *colon;
		const char *s;
		int nr, err_ = 0;

		if (want_scalar(c, e, what, &s))
			return -EINVAL;
		snprintf(name, sizeof(name), "%s", s);
		colon = strchr(name, ':');
		if (colon) {
			if (!deny)
				return FAIL(c, e, "%s: an errno belongs only on "
						  "deny entries", what);
			*colon++ = '\0';
			for (size_t i = 0; i < sizeof(errnos) / sizeof(*errnos);
			     i++)
				if (!strcmp(colon, errnos[i].name))
					err_ = errnos[i].value;
			if (!err_)
				return FAIL(c, e, "%s: unknown errno '%s' "
						  "(EPERM, EACCES, ENOSYS, "
						  "EINVAL or ENOENT)",
					    what, colon);
		}
		nr = rp_syscall_number(name);
		if (nr < 0)
			return FAIL(c, e, "%s: unknown syscall name '%s'", what,
				    name);
		if (deny && rp_syscall_needed(nr))
			return FAIL(c, e, "%s: '%s' cannot be denied: every "
					  "stage makes it itself (to wait on, "
					  "read and write its rings and "
					  "control, and to end)", what, name);
		if (*count >= RP_SANDBOX_MAX_RULES)
			return FAIL(c, e, "%s: too many entries", what);
		out[*count].nr = nr;
		out[*count].errno_ = err_;
		(*count)++;
	}
	return 0;
}

/* fs_read, fs_write: absolute paths, checked for form here and for
 * existence when the stage starts (they may be made in between). */
static int path_list(struct ctx *c, yaml_node_t *n, const char *what,
		     char (*out)[RP_SANDBOX_PATH_MAX], int *count, int *set)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return FAIL(c, n, "%s: expected a list of absolute paths like "
				  "[/usr, /etc]", what);
	*count = 0;
	*set = 1;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		const char *s;

		if (want_scalar(c, e, what, &s))
			return -EINVAL;
		if (s[0] != '/')
			return FAIL(c, e, "%s: '%s' is not an absolute path",
				    what, s);
		if (strlen(s) >= RP_SANDBOX_PATH_MAX)
			return FAIL(c, e, "%s: a path of at most %d bytes",
				    what, RP_SANDBOX_PATH_MAX - 1);
		if (*count >= RP_SANDBOX_MAX_PATHS)
			return FAIL(c, e, "%s: at most %d paths", what,
				    RP_SANDBOX_MAX_PATHS);
		snprintf(out[*count], RP_SANDBOX_PATH_MAX, "%s", s);
		(*count)++;
	}
	return 0;
}

/* env: the names of the variables a stage keeps, as the shell spells
 * them (a letter or _, then letters, digits and _). */
static int env_list(struct ctx *c, yaml_node_t *n, struct rp_sandbox *sb)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return FAIL(c, n, "env: expected a list of variable names like "
				  "[PATH, LANG] ([] keeps none)");
	sb->nenv = 0;
	sb->env_set = 1;
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(c->doc, *it);
		const char *s;
		size_t len;

		if (want_scalar(c, e, "env", &s))
			return -EINVAL;
		len = strlen(s);
		if (len == 0 || len >= RP_SANDBOX_ENV_NAME ||
		    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
			      "vwxyz_0123456789") != len ||
		    (s[0] >= '0' && s[0] <= '9'))
			return FAIL(c, e, "env: '%.80s' is not a variable name "
					  "(letters, digits and _, at most %d, "
					  "not starting with a digit)",
				    s, RP_SANDBOX_ENV_NAME - 1);
		if (!strcmp(s, "RINGPIPE_STAGE"))
			return FAIL(c, e, "env: RINGPIPE_STAGE is the stage's "
					  "own, always set");
		if (sb->nenv >= RP_SANDBOX_MAX_ENV)
			return FAIL(c, e, "env: at most %d names",
				    RP_SANDBOX_MAX_ENV);
		snprintf(sb->env[sb->nenv++], RP_SANDBOX_ENV_NAME, "%s", s);
	}
	return 0;
}

/* An exec stage's program may signal any process of its uid, which
 * every stage shares: unless the stage names its namespaces, it gets a
 * PID namespace of its own (see builtin_exec.c), where it can reach only
 * what it started.  A kernel that refuses one leaves it out, said in the
 * report, rather than failing a pipeline that did not ask. */
void rp_cfg_exec_pidns(struct rp_sandbox *sb)
{
	sb->namespaces |= RP_SB_PIDNS;
	sb->ns_optional = 1;
}

static const char *const stage_keys[] = {
	"name",        "run",          "args",
	"program",     "input",        "ring",
	"sandbox",     "restart",      "restart_max",
	"restart_window", "restart_backoff_ms", "record_timeout_ms",
	"end_timeout_ms", "quarantine_after", "standby", "replicas", "ordered",
	"replays",
	"lock_timeout_ms"};
static const char *const sandbox_keys[] = {
	"policy", "allow", "deny", "memory", "cpu", "files",
	"file_size", "processes", "namespaces", "namespaces_optional",
	"fs_read", "fs_write", "landlock_optional", "env"};
#define NKEYS(a) ((int)(sizeof(a) / sizeof(*(a))))

/* What a stage's keys said, for the defaults that depend on it. */
struct seen {
	int run, program, nargs, policy, ns, restart;
	char *args[RP_CFG_MAX_ARGS];
	/* A one-liner's: the column each key was set at (stage_keys, then
	 * sandbox_keys), 0 if not yet; a YAML mapping's keys are checked
	 * in yaml_values. */
	int at[NKEYS(stage_keys) + NKEYS(sandbox_keys)];
};

static int parse_sandbox(struct ctx *c, yaml_node_t *n,
			 struct rp_sandbox *sb)
{
	if (n->type != YAML_MAPPING_NODE)
		return FAIL(c, n, "sandbox: expected a mapping of settings");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(k), *s;
		int err = 0;

		if (key == NULL)
			return FAIL(c, k, "sandbox: keys are names");
		if (!strcmp(key, "policy")) {
			if (want_scalar(c, v, "policy", &s))
				return -EINVAL;
			if (rp_policy_parse(s, &sb->policy))
				return FAIL(c, v, "policy: expected strict, "
						  "exec or none, got '%s'", s);
		} else if (!strcmp(key, "allow")) {
			err = syscall_rules(c, v, "allow", 0, sb->allow,
					    &sb->nallow);
		} else if (!strcmp(key, "deny")) {
			err = syscall_rules(c, v, "deny", 1, sb->deny,
					    &sb->ndeny);
		} else if (!strcmp(key, "memory")) {
			err = size_value(c, v, "memory", 1ull << 46,
					 &sb->limit_as);
			if (!err && sb->limit_as < (16u << 20))
				return FAIL(c, v, "memory: at least 16M");
		} else if (!strcmp(key, "cpu")) {
			err = count_value(c, v, "cpu", 1u << 30, &sb->limit_cpu);
		} else if (!strcmp(key, "files")) {
			err = count_value(c, v, "files", 1u << 20,
					  &sb->limit_nofile);
			if (!err && sb->limit_nofile < 8)
				return FAIL(c, v, "files: at least 8");
		} else if (!strcmp(key, "file_size")) {
			err = size_value(c, v, "file_size", 1ull << 50,
					 &sb->limit_fsize);
			if (!err && sb->limit_fsize == 0)
				return FAIL(c, v, "file_size: at least 1 (leave "
						  "it out for no limit)");
		} else if (!strcmp(key, "processes")) {
			err = count_value(c, v, "processes", 1u << 22,
					  &sb->limit_nproc);
			if (!err && sb->limit_nproc < 16)
				return FAIL(c, v, "processes: at least 16 (they "
						  "are counted over every process "
						  "of the stage's user)");
		} else if (!strcmp(key, "namespaces")) {
			char *names[8];
			int cnt = 0;
			err = string_list(c, v, "namespaces", names, 8, &cnt);
			for (int i = 0; !err && i < cnt; i++) {
				if (!strcmp(names[i], "net"))
					sb->namespaces |= RP_SB_NETNS;
				else if (!strcmp(names[i], "ipc"))
					sb->namespaces |= RP_SB_IPCNS;
				else if (!strcmp(names[i], "mnt"))
					sb->namespaces |= RP_SB_MNTNS;
				else if (!strcmp(names[i], "pid"))
					sb->namespaces |= RP_SB_PIDNS;
				else
					err = FAIL(c, v, "namespaces: '%s' is "
							 "not net, ipc, mnt or pid",
						   names[i]);
			}
			for (int i = 0; i < cnt; i++)
				free(names[i]);
		} else if (!strcmp(key, "namespaces_optional")) {
			err = bool_value(c, v, "namespaces_optional",
					 &sb->ns_optional);
		} else if (!strcmp(key, "fs_read")) {
			err = path_list(c, v, key, sb->fs_read, &sb->nfs_read,
					&sb->fs_read_set);
		} else if (!strcmp(key, "fs_write")) {
			err = path_list(c, v, key, sb->fs_write,
					&sb->nfs_write, &sb->fs_write_set);
		} else if (!strcmp(key, "landlock_optional")) {
			err = bool_value(c, v, key, &sb->landlock_optional);
		} else if (!strcmp(key, "env")) {
			err = env_list(c, v, sb);
		} else {
			return unknown_key(c, k, key, sandbox_keys,
					   NKEYS(sandbox_keys), "sandbox");
		}
		if (err)
			return err;
	}
	for (int i = 0; i < sb->nallow; i++)
		for (int j = 0; j < sb->ndeny; j++)
			if (sb->allow[i].nr == sb->deny[j].nr) {
				char *name = seccomp_syscall_resolve_num_arch(
					SCMP_ARCH_NATIVE, sb->allow[i].nr);
				int err = FAIL(c, n, "sandbox: '%s' is both "
						     "allowed and denied",
					       name ? name : "?");
				free(name);
				return err;
			}
	return 0;
}

void rp_cfg_stage_defaults(struct rp_cfg_stage *st)
{
	rp_sandbox_defaults(&st->sandbox);
	st->ring = DEFAULT_RING;
	st->restart = RP_RESTART_ON_FAILURE;
	st->restart_max = 5;
	st->restart_window_s = 10;
	st->restart_backoff_ms = 100;
	st->quarantine_after = 2;
	st->replicas = 1;
	st->ordered = 1;
	st->lock_timeout_ms = 2000;
	st->end_timeout_ms = UINT32_MAX; /* not set (check_end_timeout) */
}

/* exec starts its program inside its sandbox, which strict forbids: it
 * gets the exec policy unless one is given, its own PID namespace unless
 * namespaces are named, and no restarts unless asked (its program keeps
 * private state a restart would lose; not so with --each, a run per
 * record, whose crash counts against its record through a restart). */
static void exec_defaults(struct rp_cfg_stage *st, const struct seen *sn)
{
	if (!st->builtin || strcmp(st->argv[0], "exec") != 0)
		return;
	if (!sn->policy)
		st->sandbox.policy = RP_POLICY_EXEC;
	if (!sn->ns)
		rp_cfg_exec_pidns(&st->sandbox);
	if (!sn->restart && !rp_cfg_exec_option(st, "--each"))
		st->restart = RP_RESTART_NEVER;
}

/* One key of a stage's mapping (k: v). */
static int stage_key(struct ctx *c, yaml_node_t *k, yaml_node_t *v,
		     struct rp_cfg_stage *st, struct seen *sn)
{
	const char *key = scalar(k), *s;
	int err = 0;

	if (key == NULL)
		return FAIL(c, k, "stage keys are names");
	if (!strcmp(key, "name")) {
		if (want_scalar(c, v, "name", &s))
			return -EINVAL;
		if (!rp_wiring_valid_name(s))
			return FAIL(c, v, "name: 1-47 of [A-Za-z0-9._-], got "
					  "'%s'", s);
		snprintf(st->name, sizeof(st->name), "%s", s);
	} else if (!strcmp(key, "run")) {
		if (sn->run || sn->program)
			return FAIL(c, k, "run: given twice, or with program");
		if (want_scalar(c, v, "run", &s))
			return -EINVAL;
		if (!rp_cfg_is_builtin(s))
			return FAIL(c, v, "run: '%s' is not a built-in stage "
					  "(see ringpipe-stage --help; use "
					  "program: for your own)", s);
		st->argv[0] = strdup(s);
		sn->run = 1;
	} else if (!strcmp(key, "args")) {
		if (sn->nargs)
			return FAIL(c, k, "args: given twice");
		err = string_list(c, v, "args", sn->args, RP_CFG_MAX_ARGS,
				  &sn->nargs);
	} else if (!strcmp(key, "program")) {
		if (sn->run || sn->program)
			return FAIL(c, k, "program: given twice, or with run");
		err = string_list(c, v, "program", st->argv, RP_CFG_MAX_ARGS,
				  &st->argc);
		if (!err && st->argc == 0)
			return FAIL(c, v, "program: the command is missing");
		sn->program = 1;
	} else if (!strcmp(key, "input")) {
		if (want_scalar(c, v, "input", &s))
			return -EINVAL;
		if (strlen(s) >= sizeof(st->input))
			return FAIL(c, v, "input: '%.40s...' is longer than a "
					  "stage name can be (%d bytes)", s,
				    RP_CFG_NAME - 1);
		snprintf(st->input, sizeof(st->input), "%s", s);
	} else if (!strcmp(key, "ring")) {
		uint64_t b;
		err = size_value(c, v, "ring", 1u << 30, &b);
		if (!err && (b < 4096 || (b & (b - 1))))
			return FAIL(c, v, "ring: a power of two from 4K to 1G");
		st->ring = (uint32_t)b;
	} else if (!strcmp(key, "sandbox")) {
		err = parse_sandbox(c, v, &st->sandbox);
		sn->policy |= has_key(c, v, "policy");
		sn->ns |= has_key(c, v, "namespaces");
	} else if (!strcmp(key, "restart")) {
		sn->restart = 1;
		if (want_scalar(c, v, "restart", &s))
			return -EINVAL;
		if (!strcmp(s, "never"))
			st->restart = RP_RESTART_NEVER;
		else if (!strcmp(s, "on-failure"))
			st->restart = RP_RESTART_ON_FAILURE;
		else if (!strcmp(s, "always"))
			st->restart = RP_RESTART_ALWAYS;
		else
			return FAIL(c, v, "restart: expected never, on-failure "
					  "or always, got '%s'", s);
	} else if (!strcmp(key, "restart_max") ||
		   !strcmp(key, "restart_window")) {
		uint64_t x;
		err = count_value(c, v, key, key[8] == 'm' ? 100000 : 1000000,
				  &x);
		if (!err && key[8] == 'm')
			st->restart_max = (uint32_t)x;
		else if (!err)
			st->restart_window_s = (uint32_t)x;
	} else if (!strcmp(key, "record_timeout_ms")) {
		uint64_t x;
		err = count_value(c, v, key, 3600000, &x);
		st->record_timeout_ms = (uint32_t)x;
	} else if (!strcmp(key, "end_timeout_ms")) {
		/* 0: its end is not timed. */
		uint64_t x;
		err = count0_value(c, v, key, RP_CFG_END_TIMEOUT_MAX, &x);
		st->end_timeout_ms = (uint32_t)x;
	} else if (!strcmp(key, "quarantine_after")) {
		uint64_t x;
		err = count_value(c, v, key, 64, &x);
		st->quarantine_after = (uint32_t)x;
	} else if (!strcmp(key, "standby")) {
		err = bool_value(c, v, key, &st->standby);
	} else if (!strcmp(key, "ordered")) {
		err = bool_value(c, v, key, &st->ordered);
	} else if (!strcmp(key, "replays")) {
		err = bool_value(c, v, key, &st->replays);
	} else if (!strcmp(key, "replicas")) {
		uint64_t x;
		err = count_value(c, v, key, RP_CFG_MAX_REPLICAS, &x);
		st->replicas = (uint32_t)x;
	} else if (!strcmp(key, "lock_timeout_ms")) {
		uint64_t x;
		err = count_value(c, v, key, 3600000, &x);
		if (!err && x < 10)
			err = FAIL(c, v, "lock_timeout_ms: expected a number "
				   "from 10 to 3600000, got '%llu'",
				   (unsigned long long)x);
		st->lock_timeout_ms = (uint32_t)x;
	} else if (!strcmp(key, "restart_backoff_ms")) {
		uint64_t x;
		err = count0_value(c, v, key, 60000, &x);
		st->restart_backoff_ms = (uint32_t)x;
	} else {
		return unknown_key(c, k, key, stage_keys, NKEYS(stage_keys),
				   "a stage");
	}
	return err;
}

static int parse_stage(struct ctx *c, yaml_node_t *n, struct rp_cfg_stage *st)
{
	struct seen sn = {0};
	int err = 0;

	if (n->type != YAML_MAPPING_NODE)
		return FAIL(c, n, "a stage: expected a mapping with name and "
				  "run or program");
	rp_cfg_stage_defaults(st);
	st->line = (int)n->start_mark.line + 1;
	st->column = (int)n->start_mark.column + 1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     !err && p < n->data.mapping.pairs.top; p++)
		err = stage_key(c, yaml_document_get_node(c->doc, p->key),
				yaml_document_get_node(c->doc, p->value), st,
				&sn);
	if (err)
		goto out;
	if (st->name[0] == '\0')
		err = FAIL(c, n, "a stage needs a name");
	else if (sn.run == sn.program)
		err = FAIL(c, n, "stage '%s': give exactly one of run (a "
				 "built-in) or program", st->name);
	else if (sn.program && sn.nargs)
		err = FAIL(c, n, "stage '%s': args go with run; put a "
				 "program's arguments in its list", st->name);
	if (err || sn.program)
		goto out;
	st->builtin = 1;
	st->argc = 1;
	for (int i = 0; i < sn.nargs; i++)
		st->argv[st->argc++] = sn.args[i];
	exec_defaults(st, &sn);
	return 0;
out:
	for (int i = 0; i < sn.nargs; i++)
		free(sn.args[i]);
	return err;
}

static int builtin_is(const struct rp_cfg_stage *st, const char *name)
{
	return st->builtin && strcmp(st->argv[0], name) == 0;
}

/* Built-ins that only read records: each needs an input. */
static int reads_records(const struct rp_cfg_stage *st)
{
	static const char *const readers[] = {"file-sink", "lines", "grep",
					      "head", "count"};

	for (size_t i = 0; i < sizeof(readers) / sizeof(*readers); i++)
		if (builtin_is(st, readers[i]))
			return 1;
	return 0;
}

/* Built-ins that pass records on and have no other end: each needs a
 * stage reading them (without an output ring lines and fault fail as
 * they start, grep and head at their first record). */
static int passes_records(const struct rp_cfg_stage *st)
{
	static const char *const passers[] = {"lines", "grep", "head",
					      "fault"};

	for (size_t i = 0; i < sizeof(passers) / sizeof(*passers); i++)
		if (builtin_is(st, passers[i]))
			return 1;
	return 0;
}

static int find(const struct rp_cfg *cfg, const char *name)
{
	for (int i = 0; i < cfg->nstages; i++)
		if (!strcmp(cfg->stages[i].name, name))
			return i;
	return -1;
}

static int is_exec(const struct rp_cfg_stage *st)
{
	return builtin_is(st, "exec");
}

/* Replicas share the stage's rings and each sees only some records: the
 * stage must work record by record, keeping nothing across them.  The
 * built-ins that keep state (a count, a partial line, a file offset) and
 * exec (a program's private state, its own pipes; not --each, a run of
 * it per record) are refused. */
static int check_replicas(struct rp_cfg *cfg, const struct rp_cfg_stage *st)
{
	const char *why = NULL;

	if (st->input[0] == '\0')
		why = "a source cannot have replicas (nothing to share out)";
	else if (st->standby)
		why = "standby and replicas do not go together (the other "
		      "replicas go on while one restarts)";
	else if (is_exec(st) && !rp_cfg_exec_option(st, "--each"))
		why = "an exec stage's program keeps its state across records; "
		      "exec --each (a run of it per record) can have replicas";
	else if (st->builtin && !is_exec(st) &&
		 strcmp(st->argv[0], "grep") != 0 &&
		 strcmp(st->argv[0], "fault") != 0)
		why = "of the built-ins only grep, fault and exec --each work "
		      "record by record, as replicas must";
	if (why == NULL)
		return 0;
	return fail_at(cfg, st->line, st->column, "stage '%s': replicas: %s",
		       st->name, why);
}

uint32_t rp_cfg_end_timeout(const struct rp_cfg_stage *c)
{
	uint64_t ms = (uint64_t)c->record_timeout_ms * RP_CFG_END_TIMEOUTS;

	if (!is_exec(c))
		return 0;
	if (c->end_timeout_ms != UINT32_MAX)
		return c->end_timeout_ms;
	return ms < RP_CFG_END_TIMEOUT_MAX ? (uint32_t)ms
					   : RP_CFG_END_TIMEOUT_MAX;
}

/* end_timeout_ms is how long an exec stage's program may go silent once
 * its input has ended; it is checked when the record timeout would
 * fire, so it needs one. */
static int check_end_timeout(struct rp_cfg *cfg, const struct rp_cfg_stage *st)
{
	const char *why = NULL;

	if (st->end_timeout_ms == UINT32_MAX)
		return 0;
	if (!is_exec(st))
		why = "only an exec stage's program works on after its input "
		      "ends";
	else if (rp_cfg_exec_option(st, "--each"))
		why = "with --each a whole run is one record's work "
		      "(record_timeout_ms times it)";
	else if (st->end_timeout_ms > 0 && st->record_timeout_ms == 0)
		why = "it needs record_timeout_ms (it is checked as often)";
	if (why == NULL)
		return 0;
	return fail_at(cfg, st->line, st->column,
		       "stage '%s': end_timeout_ms: %s", st->name, why);
}

/* The regular file an end stage's last argument names: "-" is the
 * stdin or stdout the run will hand it (fd).  0, or -1 for none. */
static int end_file(const struct rp_cfg_stage *st, const char *name, int fd,
		    struct stat *out)
{
	const char *path;

	if (!builtin_is(st, name) || st->argc < 2)
		return -1;
	path = st->argv[st->argc - 1];
	if (strcmp(path, "-") == 0 ? fstat(fd, out) : stat(path, out))
		return -1;
	return S_ISREG(out->st_mode) ? 0 : -1;
}

/* A file-sink writing the very file a file-source reads would empty it
 * as it starts (through another name, a link, or a shell's redirection
 * of stdin and stdout too): refused.  Only files there now are
 * compared. */
static int check_same_file(struct rp_cfg *cfg)
{
	for (int i = 0; i < cfg->nstages; i++) {
		const struct rp_cfg_stage *w = &cfg->stages[i];
		struct stat ws, rs;
		if (end_file(w, "file-sink", STDOUT_FILENO, &ws) != 0)
			continue;
		for (int j = 0; j < cfg->nstages; j++) {
			const struct rp_cfg_stage *r = &cfg->stages[j];
			if (end_file(r, "file-source", STDIN_FILENO, &rs) == 0 &&
			    rs.st_dev == ws.st_dev && rs.st_ino == ws.st_ino)
				return fail_at(cfg, w->line, w->column,
					       "stage '%s': file-sink %s is the "
					       "file stage '%s' reads (it would "
					       "be emptied as the run starts, "
					       "or read back as it is written)",
					       w->name, w->argv[w->argc - 1],
					       r->name);
		}
	}
	return 0;
}

/* Today a pipeline is a chain: one source, each stage read by at most
 * one other, no cycles.  Fills cfg->order from the source. */
/* The most descriptors an exec stage's adapter holds itself (its rings,
 * bells, control, lifeline, the program's pipes, signalfd, pidfd and
 * the like), so that a `files:` limit leaves its program room: below
 * it the adapter cannot even start the program. */
#define EXEC_FILES_MIN 32

/* What a stage's sandbox says, as its policy lets it be said (the policy
 * is final here, exec's default taken). */
/* Can the user stages run as run path?  0 or an errno (*theirs: for
 * that user only).  Root drops to that user before it executes a
 * program stage: the look is that user's, in a child that becomes it. */
static int runnable_by_stage(const char *path, int *theirs)
{
	pid_t pid;
	int st;

	*theirs = 0;
	/* (Not there at all says more than "not for that user".) */
	if (access(path, X_OK) != 0)
		return errno;
	*theirs = 1;
	if (geteuid() != 0 || (pid = fork()) < 0)
		return 0;
	if (pid == 0)
		_exit(rp_sandbox_as_stage_user() != 0 ? EPERM
		      : access(path, X_OK) == 0	   ? 0
						   : errno & 0xff);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 0; /* (not ours to judge, then) */
	return WIFEXITED(st) ? WEXITSTATUS(st) : EPERM;
}

static int check_rules(struct rp_cfg *cfg, const struct rp_cfg_stage *st)
{
	/* Allowed only in a narrow form (no executable memory, signals
	 * to itself, its own limits): a rule cannot take that form's
	 * place. */
	static const char *const narrow[] = {"mmap", "mprotect", "kill",
					     "tgkill", "prlimit64"};
	int err, theirs;
	const struct rp_sandbox *sb = &st->sandbox;

	if (sb->policy == RP_POLICY_NONE && (sb->nallow || sb->ndeny))
		return fail_at(cfg, st->line, st->column,
			       "stage '%s': sandbox: allow and deny need a "
			       "seccomp filter, and policy none has none: "
			       "use strict or exec", st->name);
	/* (What the stage would say as it starts, failing the run.) */
	if (sb->policy == RP_POLICY_STRICT && st->builtin &&
	    !strcmp(st->argv[0], "exec"))
		return fail_at(cfg, st->line, st->column,
			       "stage '%s': policy strict forbids starting a "
			       "program, which exec does: use policy exec "
			       "(its default) and deny what the program must "
			       "not do", st->name);
	for (int i = 0; sb->policy == RP_POLICY_STRICT && i < sb->ndeny; i++)
		for (size_t j = 0; j < sizeof(narrow) / sizeof(*narrow); j++)
			if (sb->deny[i].nr == rp_syscall_number(narrow[j]))
				return fail_at(cfg, st->line, st->column,
					       "stage '%s': sandbox: deny: "
					       "'%s' cannot be denied under "
					       "policy strict, which allows it "
					       "only in a narrow form of its "
					       "own (no executable memory, "
					       "signals to itself, its own "
					       "limits)", st->name, narrow[j]);
	/* A program named by path must be there to run (one named
	 * without a '/' is looked for in PATH as it starts), for the
	 * stage's user, who runs it. */
	if (!st->builtin && strchr(st->argv[0], '/') &&
	    (err = runnable_by_stage(st->argv[0], &theirs)) != 0)
		return fail_at(cfg, st->line, st->column,
			       "stage '%s': program %s: %s%s%s", st->name,
			       st->argv[0], strerror(err),
			       theirs ? " (for the user stages run as, "
					"uid 65534)"
				      : "",
			       st->argv[0][0] == '/'
				       ? ""
				       : " (a relative path is taken from the "
					 "directory ringpipe runs in)");
	if (builtin_is(st, "exec") && sb->limit_nofile &&
	    sb->limit_nofile < EXEC_FILES_MIN)
		return fail_at(cfg, st->line, st->column,
			       "stage '%s': sandbox: files: an exec stage "
			       "needs at least %d (its adapter holds some %d "
			       "descriptors before its program opens any)",
			       st->name, EXEC_FILES_MIN, EXEC_FILES_MIN / 2);
	return 0;
}

static int check_graph(struct rp_cfg *cfg)
{
	int source = -1, readers[RP_CFG_MAX_STAGES] = {0}, nprocs = 0, err;

	for (int i = 0; i < cfg->nstages; i++) {
		struct rp_cfg_stage *st = &cfg->stages[i];
		int from;
		if (st->standby && st->restart == RP_RESTART_NEVER)
			return fail_at(cfg, st->line, st->column,
				       "stage '%s': standby needs a restart "
				       "policy (it has restart: never)",
				       st->name);
		if (st->replicas > 1 && (err = check_replicas(cfg, st)))
			return err;
		if (st->replays && (st->builtin || st->input[0] != '\0'))
			return fail_at(cfg, st->line, st->column,
				       "stage '%s': replays: only a source "
				       "program of one's own says so (a "
				       "built-in or a stage with an input "
				       "is judged by ringpipe)", st->name);
		if ((err = check_end_timeout(cfg, st)))
			return err;
		if ((err = check_rules(cfg, st)))
			return err;
		if (st->input[0] == '\0' && rp_cfg_exec_option(st, "--each"))
			return fail_at(cfg, st->line, st->column,
				       "stage '%s': exec --each runs its "
				       "program once per input record: it "
				       "needs an input", st->name);
		nprocs += (int)st->replicas;
		if (nprocs > RP_CFG_MAX_PROCS)
			return fail_at(cfg, st->line, st->column,
				       "stage '%s': %d processes with the "
				       "replicas up to here; a pipeline has at "
				       "most %d", st->name, nprocs,
				       RP_CFG_MAX_PROCS);
		if (find(cfg, st->name) != i)
			return fail_at(cfg, st->line, st->column,
				       "stage name '%s' is used twice",
				       st->name);
		/* The log tells the supervisor's lines from a stage's by
		 * the name after the time stamp. */
		if (strcmp(st->name, "ringpipe") == 0)
			return fail_at(cfg, st->line, st->column,
				       "stage name 'ringpipe' is the "
				       "supervisor's own in the log: choose "
				       "another");
		if (st->input[0] == '\0') {
			if (source >= 0)
				return fail_at(cfg, st->line, st->column,
					       "stage '%s' has no input, but "
					       "'%s' is already the source",
					       st->name,
					       cfg->stages[source].name);
			if (reads_records(st))
				return fail_at(cfg, st->line, st->column,
					       "stage '%s': %s reads records: "
					       "it needs an input (a source such "
					       "as file-source comes first)",
					       st->name, st->argv[0]);
			source = i;
			continue;
		}
		if (builtin_is(st, "file-source"))
			return fail_at(cfg, st->line, st->column,
				       "stage '%s': file-source is a source: "
				       "it cannot read from '%s'", st->name,
				       st->input);
		from = find(cfg, st->input);
		if (from < 0)
			return fail_at(cfg, st->line, st->column,
				       "stage '%s': input '%s' is not a stage",
				       st->name, st->input);
		if (from == i)
			return fail_at(cfg, st->line, st->column,
				       "stage '%s' reads from itself",
				       st->name);
		if (builtin_is(&cfg->stages[from], "file-sink"))
			return fail_at(cfg, st->line, st->column,
				       "stage '%s': input '%s' is a file-sink, "
				       "which passes no records on (a "
				       "file-sink ends a pipeline)",
				       st->name, st->input);
		if (readers[from]++)
			return fail_at(cfg, st->line, st->column,
				       "stage '%s' is read by two stages; "
				       "branches are not supported yet",
				       st->input);
	}
	if (source < 0)
		return fail_at(cfg, cfg->line, cfg->column,
			       "stages: no source (one stage must have no "
			       "input)");
	if (cfg->nstages < 2)
		return fail_at(cfg, cfg->stages[0].line, cfg->stages[0].column,
			       "stage '%s': a pipeline needs a second stage "
			       "to read what it makes", cfg->stages[0].name);
	cfg->order[0] = source;
	for (int k = 1; k < cfg->nstages; k++) {
		int next = -1;
		for (int i = 0; i < cfg->nstages; i++)
			if (!strcmp(cfg->stages[i].input,
				    cfg->stages[cfg->order[k - 1]].name))
				next = i;
		if (next < 0) {
			struct rp_cfg_stage *st = NULL;
			for (int i = 0; i < cfg->nstages; i++) {
				int seen = 0;
				for (int j = 0; j < k; j++)
					seen |= cfg->order[j] == i;
				if (!seen) {
					st = &cfg->stages[i];
					break;
				}
			}
			return fail_at(cfg, st->line, st->column,
				       "stage '%s' is not connected to the "
				       "source (a cycle?)", st->name);
		}
		cfg->order[k] = next;
	}
	/* Nothing reads the last stage: one that passes records on would
	 * fail at its first record, and again at every restart. */
	{
		struct rp_cfg_stage *last =
			&cfg->stages[cfg->order[cfg->nstages - 1]];
		if (passes_records(last))
			return fail_at(cfg, last->line, last->column,
				       "stage '%s': %s passes records on, but "
				       "nothing reads them: end the pipeline "
				       "with a sink (file-sink --lines - for "
				       "stdout, or count)",
				       last->name, last->argv[0]);
		/* Each copy of a last stage writes its results itself, as
		 * it makes them: the order of its input cannot hold. */
		if (last->replicas > 1 && last->ordered)
			return fail_at(cfg, last->line, last->column,
				       "stage '%s': replicas: as the last "
				       "stage each copy writes its results "
				       "itself, in no order: say ordered: "
				       "false, or end the pipeline with a "
				       "file-sink, which writes them in "
				       "order", last->name);
	}
	if ((err = check_same_file(cfg)))
		return err;
	/* memory: is an address-space limit, and a stage's rings are mapped
	 * in its address space, each twice over (the mirror that lets a
	 * record wrap): a limit they fill leaves the stage nothing to
	 * allocate, and it would fail at every start. */
	for (int k = 0; k < cfg->nstages; k++) {
		struct rp_cfg_stage *st = &cfg->stages[cfg->order[k]];
		uint64_t in = k > 0 ? st->ring : 0;
		uint64_t out = k + 1 < cfg->nstages
				       ? cfg->stages[cfg->order[k + 1]].ring
				       : 0;
		uint64_t need = 2 * (in + out) + (16ull << 20);
		if (st->sandbox.limit_as == 0 || st->sandbox.limit_as >= need)
			continue;
		return fail_at(cfg, st->line, st->column,
			       "stage '%s': memory: %llu MiB is less than "
			       "its rings take, mapped twice over (its input "
			       "ring %llu KiB, its output ring %llu KiB), and "
			       "16 MiB besides: give it %llu MiB or more, or "
			       "smaller rings",
			       st->name,
			       (unsigned long long)(st->sandbox.limit_as >> 20),
			       (unsigned long long)(in >> 10),
			       (unsigned long long)(out >> 10),
			       (unsigned long long)((need + (1u << 20) - 1) >>
						    20));
	}
	/* The last stage's program writes to stdout, where the stage
	 * cannot see it write: its end cannot be timed. */
	{
		struct rp_cfg_stage *last =
			&cfg->stages[cfg->order[cfg->nstages - 1]];
		if (last->end_timeout_ms != UINT32_MAX &&
		    last->end_timeout_ms > 0 && is_exec(last) &&
		    !rp_cfg_exec_option(last, "--each"))
			return fail_at(cfg, last->line, last->column,
				       "stage '%s': end_timeout_ms: as the "
				       "last stage its program writes to "
				       "stdout, where the stage cannot see it "
				       "write (give it a file-sink to write "
				       "through)", last->name);
	}
	return 0;
}

static int parse_root(struct ctx *c, yaml_node_t *root)
{
	static const char *const keys[] = {"name", "stages", "dead_letter",
					   "quarantine_max"};
	yaml_node_t *stages = NULL;

	if (root == NULL || root->type != YAML_MAPPING_NODE)
		return fail_at(c->cfg, 1, 1, "expected a mapping with name and "
					     "stages");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *key = scalar(k), *s;

		if (key && !strcmp(key, "name")) {
			if (want_scalar(c, v, "name", &s))
				return -EINVAL;
			if (!rp_wiring_valid_name(s))
				return FAIL(c, v, "name: 1-47 of "
						  "[A-Za-z0-9._-], got '%s'", s);
			snprintf(c->cfg->name, sizeof(c->cfg->name), "%s", s);
		} else if (key && !strcmp(key, "stages")) {
			stages = v;
		} else if (key && !strcmp(key, "dead_letter")) {
			if (want_scalar(c, v, key, &s))
				return -EINVAL;
			if (*s == '\0' || strlen(s) > RP_DEADLETTER_PREFIX_MAX)
				return FAIL(c, v, "dead_letter: a path of 1-%d "
						  "bytes",
					    RP_DEADLETTER_PREFIX_MAX);
			snprintf(c->cfg->dead_letter,
				 sizeof(c->cfg->dead_letter), "%s", s);
			c->cfg->dl_line = (int)v->start_mark.line + 1;
			c->cfg->dl_column = (int)v->start_mark.column + 1;
		} else if (key && !strcmp(key, "quarantine_max")) {
			uint64_t x;
			if (count_value(c, v, key, 1000000, &x))
				return -EINVAL;
			c->cfg->quarantine_max = (uint32_t)x;
		} else {
			return unknown_key(c, k, key ? key : "?", keys, 4,
					   "the pipeline");
		}
	}
	if (stages != NULL && stages->type != YAML_SEQUENCE_NODE)
		return FAIL(c, stages, "stages: expected a list of stages");
	if (stages == NULL)
		return fail_at(c->cfg, (int)root->start_mark.line + 1,
			       (int)root->start_mark.column + 1,
			       "stages: missing (a list of stages)");
	c->cfg->line = (int)stages->start_mark.line + 1;
	c->cfg->column = (int)stages->start_mark.column + 1;
	for (yaml_node_item_t *it = stages->data.sequence.items.start;
	     it < stages->data.sequence.items.top; it++) {
		int err;
		if (c->cfg->nstages >= RP_CFG_MAX_STAGES)
			return FAIL(c, stages, "at most %d stages",
				    RP_CFG_MAX_STAGES);
		struct rp_cfg_stage *st = &c->cfg->stages[c->cfg->nstages];
		size_t k = (size_t)(it - stages->data.sequence.items.start);
		err = parse_stage(c, yaml_document_get_node(c->doc, *it), st);
		c->cfg->nstages++;
		if (err)
			return err;
		if (c->shape->n == stages->data.sequence.items.top -
					   stages->data.sequence.items.start) {
			st->line = (int)c->shape->at[k].line + 1;
			st->column = (int)c->shape->at[k].column + 1;
		}
	}
	if (c->cfg->nstages == 0)
		return FAIL(c, stages, "stages: the list is empty");
	if (c->cfg->name[0] == '\0')
		snprintf(c->cfg->name, sizeof(c->cfg->name), "pipeline");
	return check_graph(c->cfg);
}

/* Bounds on a pipeline file: its size, and how deep its collections
 * nest (libyaml's time grows with the square of the nesting). */
#define CFG_MAX_BYTES (1u << 20)
#define CFG_MAX_DEPTH 32

static int yaml_problem(struct rp_cfg *cfg, const yaml_parser_t *p,
			const unsigned char *text, size_t len)
{
	int line = (int)p->problem_mark.line + 1;
	int col = (int)p->problem_mark.column + 1;

	/* libyaml's reader (a control character, bad UTF-8) leaves the
	 * mark at the start and says the byte offset instead: the line
	 * and column counted from it (a byte a column). */
	if (p->error == YAML_READER_ERROR && p->problem_offset <= len) {
		line = col = 1;
		for (size_t i = 0; i < p->problem_offset; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
	}
	return fail_at(cfg, line, col, "not valid YAML: %s",
		       p->problem ? p->problem : "?");
}

/* A first pass over the events, before any document is built: one
 * document, nested no deeper than CFG_MAX_DEPTH (stopping there bounds
 * the time); and where the items of the stages list start. */
static int yaml_shape(struct rp_cfg *cfg, const unsigned char *text,
		      size_t len, struct shape *sh)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, docs = 0, err = 0;
	int root_map = 0, nodes1 = 0, key_stages = 0, in_stages = 0;

	sh->n = -1;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, text, len);
	for (int done = 0; !done && !err;) {
		int starts;
		if (!yaml_parser_parse(&p, &ev)) {
			err = yaml_problem(cfg, &p, text, len);
			break;
		}
		starts = ev.type == YAML_SCALAR_EVENT ||
			 ev.type == YAML_ALIAS_EVENT ||
			 ev.type == YAML_SEQUENCE_START_EVENT ||
			 ev.type == YAML_MAPPING_START_EVENT;
		if (starts && depth == 0)
			root_map = ev.type == YAML_MAPPING_START_EVENT;
		/* The root's keys and values alternate at depth 1. */
		if (starts && depth == 1 && root_map) {
			if (nodes1 % 2 == 0)
				key_stages =
					ev.type == YAML_SCALAR_EVENT &&
					!strcmp((const char *)
							ev.data.scalar.value,
						"stages");
			else if (key_stages &&
				 ev.type == YAML_SEQUENCE_START_EVENT)
				in_stages = 1, sh->n = 0;
			nodes1++;
		}
		if (starts && depth == 2 && in_stages &&
		    sh->n++ < RP_CFG_MAX_STAGES)
			sh->at[sh->n - 1] = ev.start_mark;
		if (ev.type == YAML_SEQUENCE_END_EVENT && depth == 2)
			in_stages = 0;
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > CFG_MAX_DEPTH)
				err = fail_at(cfg, (int)ev.start_mark.line + 1,
					      (int)ev.start_mark.column + 1,
					      "nested deeper than %d levels",
					      CFG_MAX_DEPTH);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				err = fail_at(cfg, (int)ev.start_mark.line + 1,
					      (int)ev.start_mark.column + 1,
					      "a second YAML document: a pipeline "
					      "file holds one");
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return err;
}

/* Keys in one mapping: a stage has fewer than 32 it may use.  (Bounds
 * the check for a key given twice, which compares each with each.) */
#define CFG_MAX_KEYS 64

/* What libyaml takes but a pipeline must not have: a NUL byte inside a
 * value (it would end there), and a key given twice in one mapping (the
 * last would silently win). */
static int yaml_values(struct ctx *c)
{
	for (yaml_node_t *n = c->doc->nodes.start; n < c->doc->nodes.top;
	     n++) {
		if (n->type == YAML_SCALAR_NODE &&
		    strlen((const char *)n->data.scalar.value) !=
			    n->data.scalar.length)
			return FAIL(c, n, "a value with a NUL byte in it");
		if (n->type != YAML_MAPPING_NODE)
			continue;
		if (n->data.mapping.pairs.top - n->data.mapping.pairs.start >
		    CFG_MAX_KEYS)
			return FAIL(c, n, "more than %d keys in one mapping",
				    CFG_MAX_KEYS);
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++)
			for (yaml_node_pair_t *q = n->data.mapping.pairs.start;
			     q < p; q++) {
				yaml_node_t *a = yaml_document_get_node(c->doc,
									q->key);
				yaml_node_t *b = yaml_document_get_node(c->doc,
									p->key);
				if (scalar(a) && scalar(b) &&
				    !strcmp(scalar(a), scalar(b)))
					return FAIL(c, b, "'%.60s' given twice "
						    "(first at line %d)",
						    scalar(b),
						    (int)a->start_mark.line + 1);
			}
	}
	return 0;
}

int rp_cfg_load(const char *path, struct rp_cfg *cfg)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct shape shape;
	struct ctx c = {cfg, &doc, &shape};
	unsigned char *text;
	size_t len;
	FILE *f;
	int err;

	memset(cfg, 0, sizeof(*cfg));
	cfg->quarantine_max = 100;
	snprintf(cfg->file, sizeof(cfg->file), "%s", path);
	f = fopen(path, "rb");
	text = f ? malloc(CFG_MAX_BYTES + 1) : NULL;
	if (f == NULL || text == NULL) {
		err = f ? -ENOMEM : -errno;
		snprintf(cfg->error, sizeof(cfg->error), "%s: %s", path,
			 strerror(-err));
		if (f)
			fclose(f);
		return err;
	}
	len = fread(text, 1, CFG_MAX_BYTES + 1, f);
	err = ferror(f) ? -errno : 0;
	fclose(f);
	if (err || len > CFG_MAX_BYTES) {
		snprintf(cfg->error, sizeof(cfg->error), "%s: %s", path,
			 err ? strerror(-err)
			     : "larger than 1 MiB: not a pipeline file");
		free(text);
		return err ? err : -EINVAL;
	}
	if ((err = yaml_shape(cfg, text, len, &shape))) {
		free(text);
		return err;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		err = yaml_problem(cfg, &parser, text, len);
		yaml_parser_delete(&parser);
		free(text);
		return err;
	}
	err = yaml_values(&c);
	if (!err)
		err = parse_root(&c, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(text);
	if (err)
		rp_cfg_free(cfg);
	return err;
}

/* ------------------------------------------------ one-liner settings */

static int in_list(const char *key, const char *const *keys, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(key, keys[i]))
			return 1;
	return 0;
}

/* value as a YAML double-quoted scalar, appended to buf. */
static void yaml_quoted(char *buf, size_t len, const char *v, size_t n)
{
	size_t at = strlen(buf);

	if (at + 1 < len)
		buf[at++] = '"';
	for (size_t i = 0; i < n && at + 5 < len; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch == '"' || ch == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			at += (size_t)snprintf(buf + at, len - at, "\\x%02x",
					       ch);
		} else {
			buf[at++] = (char)ch;
		}
	}
	if (at + 1 < len)
		buf[at++] = '"';
	buf[at] = '\0';
}

/* The i-th key a one-liner's stage may be given: stage_keys, then
 * sandbox_keys. */
static const char *line_key(int i)
{
	return i < NKEYS(stage_keys) ? stage_keys[i]
				     : sandbox_keys[i - NKEYS(stage_keys)];
}

int rp_cfg_is_setting(const char *word)
{
	const char *eq = word[0] == '@' ? strchr(word, '=') : NULL;

	for (int i = 0; eq != NULL && i < NKEYS(stage_keys) +
					       NKEYS(sandbox_keys);
	     i++)
		if (strlen(line_key(i)) == (size_t)(eq - word - 1) &&
		    strncmp(line_key(i), word + 1, (size_t)(eq - word - 1)) ==
			    0)
			return 1;
	return 0;
}

/*
 * One "@KEY=VALUE" word of a one-liner, at column col: the YAML file's
 * KEY for this stage (a sandbox key goes under sandbox:), checked by the
 * same code.  Lists are comma-separated.  Errors name the word's column
 * and the word.
 */
#define SETTING_MAX 900

static int line_setting(struct rp_cfg *cfg, struct rp_cfg_stage *st,
			struct seen *sn, const char *word, int col)
{
	static const char *const lists[] = {"allow", "deny", "namespaces",
					    "fs_read", "fs_write", "env"};
	const char *eq = strchr(word, '='), *v;
	char key[32], text[4096], msg[sizeof(cfg->error)], shown[72];
	int sandbox, err, slot;
	yaml_parser_t parser;
	yaml_document_t doc;
	struct ctx c = {cfg, &doc, NULL};
	yaml_node_t *root;

	/* Bounded, so that the document below always fits: quoting takes
	 * at most 4 bytes a byte (\xNN), and a list 4 more an element. */
	if (strlen(word) > SETTING_MAX)
		return fail_at(cfg, 1, col, "%.40s...: longer than %d bytes",
			       word, SETTING_MAX);
	/* Echoed in messages no longer than this, so the reason fits. */
	snprintf(shown, sizeof(shown), strlen(word) > 64 ? "%.60s..." : "%s",
		 word);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - word - 1), word + 1);
	if (!strcmp(key, "run") || !strcmp(key, "args") ||
	    !strcmp(key, "program") || !strcmp(key, "input"))
		return fail_at(cfg, 1, col, "%s: %s is what the line itself "
					   "says, not a setting", shown, key);
	sandbox = in_list(key, sandbox_keys, NKEYS(sandbox_keys));
	if (!sandbox && !in_list(key, stage_keys, NKEYS(stage_keys))) {
		const char *best = NULL;
		int bd = 99;
		for (int i = 0; i < NKEYS(sn->at); i++) {
			const char *k = line_key(i);
			/* Not one the line itself says. */
			if (!strcmp(k, "run") || !strcmp(k, "args") ||
			    !strcmp(k, "program") || !strcmp(k, "input"))
				continue;
			if (distance(key, k) < bd) {
				bd = distance(key, k);
				best = k;
			}
		}
		/* Close, and for a short key closer still. */
		if (bd <= 3 && bd <= (int)strlen(key) / 2 + 1)
			return fail_at(cfg, 1, col, "%s: unknown setting '%s' "
						    "(did you mean '@%s'?)",
				       shown, key, best);
		return fail_at(cfg, 1, col, "%s: unknown setting '%s'", shown,
			       key);
	}
	/* As a YAML mapping refuses a key given twice: the last would
	 * silently win (or a list be added to). */
	for (slot = 0; slot < NKEYS(sn->at) - 1 &&
		       strcmp(line_key(slot), key) != 0;
	     slot++)
		;
	if (sn->at[slot])
		return fail_at(cfg, 1, col, "%s: '%s' given twice (first at "
					    "column %d)", shown, key,
			       sn->at[slot]);
	sn->at[slot] = col;
	snprintf(text, sizeof(text), "%s%s: ", sandbox ? "sandbox: {" : "",
		 key);
	v = eq + 1;
	if (in_list(key, lists, NKEYS(lists))) {
		strcat(text, "[");
		for (int first = 1; *v; first = 0) {
			size_t n = strcspn(v, ",");
			if (!first)
				strcat(text, ", ");
			yaml_quoted(text, sizeof(text) - 4, v, n);
			v += n + (v[n] == ',');
		}
		strcat(text, "]");
	} else {
		yaml_quoted(text, sizeof(text) - 4, v, strlen(v));
	}
	if (sandbox)
		strcat(text, "}");

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
				     strlen(text));
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		return fail_at(cfg, 1, col, "%s: not a value this setting can "
					    "take", shown);
	}
	root = yaml_document_get_root_node(&doc);
	err = root == NULL || root->type != YAML_MAPPING_NODE ||
	      root->data.mapping.pairs.top - root->data.mapping.pairs.start != 1;
	if (err) {
		err = fail_at(cfg, 1, col, "%s: not a value this setting can "
					   "take", shown);
	} else {
		yaml_node_pair_t *p = root->data.mapping.pairs.start;
		err = stage_key(&c, yaml_document_get_node(&doc, p->key),
				yaml_document_get_node(&doc, p->value), st, sn);
		if (err && !strncmp(cfg->error, cfg->file, strlen(cfg->file))) {
			/* "-e:L:C: what": the place in the little document
			 * above means nothing to the user; the stage and
			 * the word do. */
			const char *m = strstr(cfg->error + strlen(cfg->file),
					       ": ");
			snprintf(msg, sizeof(msg), "%s",
				 m ? m + 2 : cfg->error);
			fail_at(cfg, 1, col, "%s: %s", shown, msg);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return err;
}

/* The next word of a one-liner, in place: blanks separate words; '...'
 * and "..." quote (so a word may hold blanks or a '!'), and a backslash
 * escapes the next character outside quotes, and inside "..." a '"',
 * '\\', '$' or '`' (as in sh: elsewhere it stays, as a regex needs).  *quoted is set when
 * any part was quoted.  NULL at the end; *open at a quote left open.
 * Only what was read is written over, so a word starts, and a quote
 * stands, where it does in the line. */
static char *next_word(char **p, int *quoted, char **open)
{
	char *r = *p, *w, *start, *at = NULL;
	char q = 0;

	*quoted = 0;
	while (*r == ' ' || *r == '\t' || *r == '\n')
		r++;
	if (*r == '\0')
		return NULL;
	start = w = r;
	for (; *r; r++) {
		if (q) {
			if (*r == q)
				q = 0;
			else if (*r == '\\' && q == '"' && r[1] &&
				 strchr("\"\\$`", r[1]) != NULL)
				*w++ = *++r; /* as sh: "a\.b" keeps its '\' */
			else
				*w++ = *r;
		} else if (*r == '\'' || *r == '"') {
			q = *r;
			at = r;
			*quoted = 1;
		} else if (*r == '\\' && r[1]) {
			*w++ = *++r;
		} else if (*r == ' ' || *r == '\t' || *r == '\n') {
			r++;
			break;
		} else {
			*w++ = *r;
		}
	}
	if (q)
		*open = at;
	*w = '\0';
	*p = r;
	return start;
}

/* Errors name the line's byte, from 1: the word at fault, or the quote
 * or '!'; a stage's own place is its name's. */
int rp_cfg_parse_line(const char *line, struct rp_cfg *cfg)
{
	char *buf = strdup(line), *cur, *open = NULL;
	int err = 0, quoted = 0, settings = 0, bang = 1;
	struct seen sn[RP_CFG_MAX_STAGES];

	memset(cfg, 0, sizeof(*cfg));
	cfg->quarantine_max = 100;
	snprintf(cfg->file, sizeof(cfg->file), "-e");
	snprintf(cfg->name, sizeof(cfg->name), "pipeline");
	cfg->line = cfg->column = 1;
	memset(sn, 0, sizeof(sn));
	if (buf == NULL)
		return -ENOMEM;
	/* Stages are separated by a lone, unquoted '!' word (as gst-launch
	 * does). */
	cur = buf;
	for (char *word; (word = next_word(&cur, &quoted, &open)) != NULL;) {
		struct rp_cfg_stage *st;
		int col = (int)(word - buf) + 1;
		if (open) {
			err = fail_at(cfg, 1, (int)(open - buf) + 1,
				      "a quote is not closed (the %c here)",
				      line[open - buf]);
			goto out;
		}
		if (!quoted && !strcmp(word, "!")) {
			if (cfg->nstages == 0 ||
			    cfg->stages[cfg->nstages - 1].argc == 0) {
				err = fail_at(cfg, 1, col, "'!' with no stage "
							   "before it");
				goto out;
			}
			if (cfg->nstages >= RP_CFG_MAX_STAGES) {
				err = fail_at(cfg, 1, col, "too many stages "
							   "(at most %d)",
					      RP_CFG_MAX_STAGES);
				goto out;
			}
			cfg->nstages++;
			bang = col;
			continue;
		}
		if (cfg->nstages == 0)
			cfg->nstages = 1;
		st = &cfg->stages[cfg->nstages - 1];
		/* Not a program's path: a setting put before the name. */
		if (st->argc == 0 && !quoted && word[0] == '@') {
			err = fail_at(cfg, 1, col,
				      "'%.60s%s' where stage %d's name is due: "
				      "@settings come after the name "
				      "(grep @replicas=2 ERROR); a program "
				      "whose path starts with @ is ./@...",
				      word, strlen(word) > 60 ? "..." : "",
				      cfg->nstages);
			goto out;
		}
		if (st->argc == 0) {
			rp_cfg_stage_defaults(st);
			st->builtin = rp_cfg_is_builtin(word);
			settings = 1;
			st->line = 1;
			st->column = col;
			snprintf(st->name, sizeof(st->name), "%d-%.40s",
				 cfg->nstages, strrchr(word, '/')
						       ? strrchr(word, '/') + 1
						       : word);
			for (char *q = st->name; *q; q++)
				if (!((*q >= 'a' && *q <= 'z') ||
				      (*q >= 'A' && *q <= 'Z') ||
				      (*q >= '0' && *q <= '9') || *q == '.' ||
				      *q == '-'))
					*q = '_';
			if (cfg->nstages > 1)
				memcpy(st->input,
				       cfg->stages[cfg->nstages - 2].name,
				       sizeof(st->input));
		}
		/* Settings (@KEY=VALUE) come first after the stage's name. */
		if (settings && st->argc > 0 && word[0] == '@' &&
		    strchr(word, '=') != NULL) {
			if ((err = line_setting(cfg, st,
						&sn[cfg->nstages - 1], word,
						col)))
				goto out;
			continue;
		}
		if (st->argc > 0)
			settings = 0;
		if (st->argc >= RP_CFG_MAX_ARGS) {
			err = fail_at(cfg, 1, col, "too many arguments (a "
						   "stage takes at most %d)",
				      RP_CFG_MAX_ARGS - 1);
			goto out;
		}
		st->argv[st->argc++] = strdup(word);
	}
	if (cfg->nstages == 0) {
		err = fail_at(cfg, 1, 1, "a pipeline needs at least one stage");
		goto out;
	}
	if (cfg->stages[cfg->nstages - 1].argc == 0) {
		err = fail_at(cfg, 1, bang, "'!' with no stage after it");
		goto out;
	}
	/* A program named by path runs as a stage program; anything else
	 * must be a built-in. */
	for (int i = 0; i < cfg->nstages; i++) {
		struct rp_cfg_stage *st = &cfg->stages[i];
		exec_defaults(st, &sn[i]);
		if (!st->builtin && strchr(st->argv[0], '/') == NULL) {
			err = fail_at(cfg, 1, st->column,
				      "'%s' is not a built-in stage; name a "
				      "stage program by its path (./prog)",
				      st->argv[0]);
			goto out;
		}
	}
	err = check_graph(cfg);
out:
	free(buf);
	if (err)
		rp_cfg_free(cfg);
	return err;
}

void rp_cfg_free(struct rp_cfg *cfg)
{
	for (int i = 0; i < RP_CFG_MAX_STAGES; i++)
		for (int j = 0; j < RP_CFG_MAX_ARGS + 2; j++) {
			free(cfg->stages[i].argv[j]);
			cfg->stages[i].argv[j] = NULL;
		}
}
