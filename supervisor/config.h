/*
 * config.h - a pipeline as the user describes it: a YAML file or a
 * one-liner, both parsed into the same structure and validated before any
 * process starts.
 *
 *   name: logs                      # pipeline name
 *   stages:
 *     - name: read                  # unique, [A-Za-z0-9._-]
 *       run: file-source            # a built-in stage ...
 *       args: [--lines, app.log]
 *     - name: parse
 *       input: read                 # the stage it reads from
 *       program: [./my-parser, -v]  # ... or a stage program
 *       ring: 1M                    # its input ring (default 1M)
 *       sandbox:
 *         policy: strict            # strict | exec | none
 *         allow: [getrandom]        # syscall names
 *         deny: ["openat:EACCES"]   # name, or name:ERRNO to fail softly
 *         memory: 512M              # address space
 *         cpu: 60                   # seconds
 *         files: 64                 # open files
 *         file_size: 1G
 *         namespaces: [net, ipc, mnt, pid]
 *         namespaces_optional: false
 *         fs_read: [/usr, /etc]     # Landlock: read and execute beneath
 *         fs_write: [/tmp/out]      # also write, create and remove
 *         landlock_optional: false  # no Landlock in the kernel: say so,
 *                                   # run without (else fail)
 *       restart: on-failure         # never | on-failure (the default;
 *                                   # never for exec stages) | always
 *       restart_max: 5              # at most this many restarts in a row
 *       restart_window: 10          # (a stage up this long starts anew)
 *       restart_backoff_ms: 100     # first delay, doubling to 5 s; 0: none
 *       record_timeout_ms: 2000     # working time allowed per record
 *       standby: false              # keep a started, sandboxed copy
 *                                   # waiting, to take over at a crash
 *       replicas: 1                 # copies sharing its rings (1-16)
 *       ordered: true               # replicas publish in input order
 *       replays: false              # a source program that goes back to
 *                                   # what it saved: exactly-once
 *       lock_timeout_ms: 2000       # a replica holding a ring's lock
 *                                   # longer is killed
 *
 * Every error names the file, line and column and what was expected.
 */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <stdint.h>

#include "../stage/sandbox.h"

#define RP_CFG_MAX_STAGES 32
#define RP_CFG_MAX_ARGS 32
#define RP_CFG_NAME 48
#define RP_CFG_MAX_REPLICAS 16
/* Processes of one pipeline, replicas counted one by one. */
#define RP_CFG_MAX_PROCS 64

enum rp_restart { RP_RESTART_NEVER, RP_RESTART_ON_FAILURE, RP_RESTART_ALWAYS };

struct rp_cfg_stage {
	char name[RP_CFG_NAME];
	char input[RP_CFG_NAME];  /* "" for the source */
	int builtin;              /* argv[0] is a built-in stage's name */
	char *argv[RP_CFG_MAX_ARGS + 2];
	int argc;
	uint32_t ring;            /* bytes of its input ring */
	int fast_restart;         /* under --fast-restart */
	struct rp_sandbox sandbox;
	enum rp_restart restart;
	uint32_t restart_max, restart_window_s, restart_backoff_ms;
	uint32_t record_timeout_ms;   /* 0: none */
	uint32_t end_timeout_ms;      /* exec: its program's silent time after
				       * its input ended; 0: none (default
				       * RP_CFG_END_TIMEOUTS record timeouts) */
	uint32_t quarantine_after;    /* deaths on one record; 0: never */
	int standby;              /* a waiting copy takes over at a crash */
	int replays;              /* a source program of one's own says it
				   * goes back to where it saved */
	uint32_t replicas;        /* copies sharing its rings; 1: alone */
	int ordered;              /* replicas publish in input order */
	uint32_t lock_timeout_ms; /* replicas: longest hold of a ring lock */
	int line, column;         /* where it was defined */
};

/* An exec stage's end_timeout_ms, unless set: this many record timeouts. */
#define RP_CFG_END_TIMEOUTS 10u
#define RP_CFG_END_TIMEOUT_MAX 36000000u

struct rp_cfg {
	char name[RP_CFG_NAME];
	char file[256];
	char dead_letter[256];    /* path prefix; "" : NAME.dead */
	int dl_line, dl_column;   /* where it is given (0: not given) */
	uint32_t quarantine_max;  /* records it may quarantine, then fails */
	struct rp_cfg_stage stages[RP_CFG_MAX_STAGES];
	int nstages;
	int order[RP_CFG_MAX_STAGES]; /* source first, then each consumer */
	int line, column;         /* where its stages are listed */
	char error[1024];
};

/* Parse and validate a YAML file.  0, or -EINVAL with cfg->error set to
 * "FILE:LINE:COL: message". */
int rp_cfg_load(const char *path, struct rp_cfg *cfg);
/* Parse a one-liner: "stage [@KEY=VALUE ...] args ! stage args ! ...";
 * the settings are a YAML stage's keys, checked by the same code.
 * Errors are "-e:1:COL: message", COL the line's byte (from 1) where
 * the mistake is; a stage's line and column are its name's. */
int rp_cfg_parse_line(const char *line, struct rp_cfg *cfg);
void rp_cfg_free(struct rp_cfg *cfg);

/* Does the stage replay deterministically from its commit point after a
 * restart (so its output ring can drop replayed records)?  Library stages
 * do, built-in or not, except a source program of one's own (whether it
 * can go back is its own affair); exec (a program's private state, but
 * for exec --each, a run per record) and stdin and stdout ends do not. */
int rp_cfg_replays(const struct rp_cfg_stage *c);
/* Is c an exec stage given option opt (--each; --chunks matches
 * --chunks=N too)?  Its options come first, up to "--" or CMD, as the
 * adapter reads them. */
int rp_cfg_exec_option(const struct rp_cfg_stage *c, const char *opt);
/* The default namespaces of an exec stage that names none: its own PID
 * namespace, left out (and reported) where the kernel refuses it. */
void rp_cfg_exec_pidns(struct rp_sandbox *sb);

/* A stage's settings as a file that says nothing of them gets them
 * (ring, sandbox, restarts, quarantine); exec's own defaults apply
 * once its run: is known. */
void rp_cfg_stage_defaults(struct rp_cfg_stage *st);

/* An exec stage's end_timeout_ms as it applies: as set, or (unset)
 * RP_CFG_END_TIMEOUTS of its record timeouts; 0 for any other stage. */
uint32_t rp_cfg_end_timeout(const struct rp_cfg_stage *c);

/* --fast-restart, for tests and crash-heavy runs: every stage restarts
 * at once (no backoff), up to RP_CFG_FAST_MAX times in a row (the run
 * gives up sooner on a stage that fails of its own doing at every start,
 * taking and making nothing: see maybe_restart). */
#define RP_CFG_FAST_MAX 100000u
void rp_cfg_fast_restart(struct rp_cfg *cfg);

/* Is name one of the built-in stages? */
int rp_cfg_is_builtin(const char *name);
/* Is word a one-liner's setting, @KEY=VALUE with a KEY a stage takes? */
int rp_cfg_is_setting(const char *word);

#endif /* RP_CONFIG_H */
