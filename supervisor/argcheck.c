/*
 * argcheck.c - ringpipe check asks each built-in stage whether it takes
 * its arguments (argcheck.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../stage/wiring.h"
#include "argcheck.h"

extern char **environ;

#define ANSWER_MS 5000 /* a stage that has not answered by then fails */

/* Is the variable "NAME=..." among those sandbox sb keeps (all, unless
 * it has `env:`)? */
static int kept(const struct rp_sandbox *sb, const char *var)
{
	size_t len = strcspn(var, "=");

	if (!sb->env_set)
		return 1;
	for (int i = 0; i < sb->nenv && i < RP_SANDBOX_MAX_ENV; i++)
		if (strlen(sb->env[i]) == len &&
		    strncmp(sb->env[i], var, len) == 0)
			return 1;
	return 0;
}

/* The stage's environment, as its sandbox keeps it, with
 * RINGPIPE_CHECK_ARGS set and no RINGPIPE_STAGE (to free; NULL when out
 * of memory): an `exec` command is looked for in the PATH the stage
 * will have. */
static char **check_env(const struct rp_sandbox *sb)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "RINGPIPE_STAGE=", 15) != 0 &&
		    strncmp(environ[i], "RINGPIPE_CHECK_ARGS=", 20) != 0 &&
		    kept(sb, environ[i]))
			env[k++] = environ[i];
	env[k++] = "RINGPIPE_CHECK_ARGS=1";
	env[k] = NULL;
	return env;
}

/* Its first line, printable, without the mark an exec stage's own
 * lines carry (RP_STDERR_MARK) and the "ringpipe-stage NAME: " or
 * "NAME: " it starts with. */
static void first_line(const char *text, const char *name, char *out,
		       size_t len)
{
	char prefix[64];
	size_t n = 0;

	if (*text == RP_STDERR_MARK)
		text++;
	snprintf(prefix, sizeof(prefix), "ringpipe-stage %s: ", name);
	if (strncmp(text, prefix, strlen(prefix)) == 0)
		text += strlen(prefix);
	snprintf(prefix, sizeof(prefix), "%s: ", name);
	if (strncmp(text, prefix, strlen(prefix)) == 0)
		text += strlen(prefix);
	for (; *text && *text != '\n' && n + 1 < len; text++)
		out[n++] = (*text >= 0x20 && *text < 0x7f) ? *text : '?';
	out[n] = '\0';
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A one-liner's setting written after the stage's own words is one of
 * them (grep x @name=pick): where the refusal names it, said where
 * settings go.  (exec says so itself, of its command.) */
static void setting_hint(const struct rp_cfg_stage *st, char *why,
			 size_t len)
{
	size_t n = strlen(why);

	if (strstr(why, "a setting goes") != NULL)
		return;
	/* The word the refusal names first; else any setting among them
	 * (file-sink --lines @ring=4K out: "out is extra"). */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 1;
		     i < st->argc && strcmp(st->argv[i], "--") != 0; i++) {
			const char *w = st->argv[i];
			if (rp_cfg_is_setting(w) &&
			    (pass == 1 || strstr(why, w) != NULL)) {
				snprintf(why + n, len - n, " (%s is a setting: "
					 "a setting goes right after the "
					 "stage's name, before its own words: "
					 "%s %s ...)",
					 w, st->argv[0], w);
				return;
			}
		}
}

/* A stage's check under way: its process, and the read end of its
 * stderr (-1: none started). */
struct check {
	pid_t pid;
	int fd;
	char why[160]; /* it could not start: why */
};

/* Start the stage's check (c->pid 0 and c->why set: it could not). */
static void start(const char *bin, const struct rp_cfg_stage *st,
		  char **env, struct check *c)
{
	char *argv[RP_CFG_MAX_ARGS + 3];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	int fd[2], code;
	int n = st->argc < RP_CFG_MAX_ARGS + 1 ? st->argc : RP_CFG_MAX_ARGS + 1;

	c->pid = 0;
	c->fd = -1;
	c->why[0] = '\0';
	/* (Named apart from the stage it checks: what looks for the
	 * running stage by its command line does not find the check.) */
	argv[0] = "ringpipe-argcheck";
	for (int i = 0; i < n; i++)
		argv[i + 1] = st->argv[i];
	argv[n + 1] = NULL;
	if (pipe2(fd, O_CLOEXEC) < 0) {
		snprintf(c->why, sizeof(c->why), "checking its arguments: %s",
			 strerror(errno));
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
	/* (With none of the signals a run holds for itself blocked.) */
	sigemptyset(&none);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	code = posix_spawn(&c->pid, bin, &fa, &at, argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	if (code != 0) {
		close(fd[0]);
		c->pid = 0;
		snprintf(c->why, sizeof(c->why), "checking its arguments: "
			 "cannot run %s: %s", bin, strerror(code));
		return;
	}
	c->fd = fd[0];
}

/* Its verdict, by until (ms): 0 if it took its arguments, else 1 with
 * why. */
static int finish(struct check *c, const struct rp_cfg_stage *st,
		  int oneliner, int64_t until, char *why, size_t len)
{
	char err[4096];
	size_t got = 0;
	int status = 0;

	if (c->pid == 0) {
		snprintf(why, len, "%s", c->why);
		return 1;
	}
	/* What it says, until it closes stderr or its time is up (past
	 * it, what the pipe holds already: an earlier check may have used
	 * the time this one answered in). */
	for (;;) {
		struct pollfd pf = {.fd = c->fd, .events = POLLIN};
		int64_t left = until - now_ms();
		ssize_t r;
		int n = poll(&pf, 1, left > 0 ? (int)left : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r = read(c->fd, err + got, sizeof(err) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(err) - 1)
			break;
	}
	err[got] = '\0';
	close(c->fd);
	c->fd = -1;
	if (now_ms() >= until && waitpid(c->pid, &status, WNOHANG) == 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &status, 0);
		snprintf(why, len, "checking its arguments: no answer in %d s",
			 ANSWER_MS / 1000);
		return 1;
	}
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* Killed from outside before it said: not judged, and the stage
	 * judges its arguments again as it starts.  A crash of its own is
	 * said. */
	if (WIFSIGNALED(status) && err[0] == '\0' &&
	    (WTERMSIG(status) == SIGKILL || WTERMSIG(status) == SIGTERM ||
	     WTERMSIG(status) == SIGINT || WTERMSIG(status) == SIGHUP))
		return 0;
	if (WIFSIGNALED(status) && err[0] == '\0') {
		snprintf(why, len, "checking its arguments: it was killed by "
			 "signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		return 1;
	}
	first_line(err, st->argv[0], why, len);
	if (why[0] == '\0')
		snprintf(why, len, "its arguments were refused (status %d)",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	if (oneliner)
		setting_hint(st, why, len);
	return 1;
}

int rp_argcheck(struct rp_cfg *cfg, const char *stage_bin)
{
	struct check c[RP_CFG_MAX_STAGES];
	int64_t until = now_ms() + ANSWER_MS;
	int err = 0;

	/* All at once (each is a start of the stage binary), judged in
	 * the pipeline's order: the first refusal is said. */
	for (int k = 0; k < cfg->nstages && k < RP_CFG_MAX_STAGES; k++) {
		const struct rp_cfg_stage *st = &cfg->stages[cfg->order[k]];
		char **env;
		c[k].pid = 0;
		c[k].fd = -1;
		c[k].why[0] = '\0';
		if (!st->builtin || st->argc < 1)
			continue;
		if ((env = check_env(&st->sandbox)) == NULL) {
			snprintf(c[k].why, sizeof(c[k].why), "checking its "
				 "arguments: out of memory");
			continue;
		}
		start(stage_bin, st, env, &c[k]);
		free(env);
	}
	for (int k = 0; k < cfg->nstages && k < RP_CFG_MAX_STAGES; k++) {
		const struct rp_cfg_stage *st = &cfg->stages[cfg->order[k]];
		char why[400];
		if (!st->builtin || st->argc < 1)
			continue;
		if (finish(&c[k], st, strcmp(cfg->file, "-e") == 0, until,
			   why, sizeof(why)) != 0 &&
		    err == 0) {
			snprintf(cfg->error, sizeof(cfg->error),
				 "%s:%d:%d: stage '%s': %s", cfg->file,
				 st->line, st->column, st->name, why);
			err = -EINVAL;
		}
	}
	return err;
}
