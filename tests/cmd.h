/*
 * cmd.h - running the ringpipe command from tests, in a scratch
 * directory, as a user would.
 */
#ifndef RP_TEST_CMD_H
#define RP_TEST_CMD_H

#include <stddef.h>
#include <sys/types.h>

/* Make a scratch directory /tmp/rp-PREFIX-PID-XXXXXX; the tools run with
 * LC_ALL=C (and, sanitized, without the leak checker, which cannot run
 * inside a stage's sandbox).  Remove it with rp_cmd_dir_remove(). */
void rp_cmd_dir_make(const char *prefix);
void rp_cmd_dir_remove(void);
const char *rp_cmd_dir(void);
/* dir/name */
void rp_cmd_path(char *buf, size_t len, const char *name);
void rp_cmd_spit(const char *name, const void *data, size_t len);
/* The newlines in a file of the directory (0 if missing). */
int rp_cmd_lines(const char *name);
/* The part of a run report about stage name: its line and the lines
 * under it, up to the next stage's; "" if there is none.  To free. */
char *rp_cmd_stage_block(const char *report, const char *name);
/* "restarted N times" of stage name in a run report; 0 if it was not. */
unsigned rp_cmd_restarts_of(const char *report, const char *name);
/* A whole file of the directory (binary safe); "" if missing; to free. */
char *rp_cmd_slurp(const char *name, size_t *len);
/* Start ringpipe with args in the directory, stdin from in_fd (-1:
 * /dev/null), stdout and stderr into the file REPORT. */
pid_t rp_cmd_start(char *const args[], int in_fd);
/* The absolute path of the ringpipe binary under test. */
void rp_cmd_bin(char *bin, size_t len);
/* A child writing "line 0\n", "line 1\n", ... to fd, one every 20 ms, up
 * to 3000, until the reader goes; its pid (to kill and reap). */
pid_t rp_cmd_slow_lines(int fd);
/* Run ringpipe with args, its stdin fed by rp_cmd_slow_lines, send it
 * sig after 0.7 s and wait (20 s at most); its exit code.  The writer is
 * gone when this returns. */
int rp_cmd_signal_slow(char *const args[], int sig);
/* The same in a process group of its own, as a shell starts a job (one
 * that job control may stop: its parent, we, are in another group). */
pid_t rp_cmd_start_job(char *const args[], int in_fd);
/* The same with stderr on err_fd (a terminal, say) instead. */
pid_t rp_cmd_start_err(char *const args[], int in_fd, int err_fd);
/* Both: a job of its own, stderr on err_fd. */
pid_t rp_cmd_start_job_err(char *const args[], int in_fd, int err_fd);
/* Run it to its end (bounded: a hang fails); its exit code, and in
 * *report (to free) what it printed. */
int rp_cmd_run(char *const args[], char **report);
/* Write yaml to p.yaml in the directory and run `ringpipe VERB p.yaml`
 * (run, check) as rp_cmd_run does. */
int rp_cmd_yaml(const char *verb, const char *yaml, char **report);

/* Run ringpipe with args in the directory, as rp_cmd_run does, with
 * syscall nr failing with err (as on a kernel without it), and as uid
 * 65534 when nobody is set (we must be root then); its exit code. */
int rp_cmd_run_denied(char *const args[], int nr, int err, int nobody,
		      char **report);
/* The same, started: its pid (its output goes to REPORT). */
pid_t rp_cmd_start_denied(char *const args[], int nr, int err, int nobody);

/* What `ringpipe stat PIPELINE --json` prints, into text (cap bytes,
 * NUL-terminated), through a pipe (the run's REPORT is not touched).
 * 0, or -1 if it is not running (yet). */
int rp_cmd_stat_json(const char *pipeline, char *text, size_t cap);
/* The pid that text (from rp_cmd_stat_json) gives stage, or 0 (none,
 * or not running). */
pid_t rp_cmd_stat_pid(const char *text, const char *stage);

/* A process (other than us) whose command line holds token, and also
 * `also` when it is not NULL: its pid, or 0. */
pid_t rp_cmd_find_process(const char *token, const char *also);
/* The process whose command line is exactly a0 a1 (two words), or 0. */
pid_t rp_cmd_find_argv(const char *a0, const char *a1);
/* The state letter of pid in /proc (R, S, T, Z, ...; '?': gone), and
 * its parent in *ppid when that is not NULL. */
char rp_cmd_proc_state(pid_t pid, pid_t *ppid);
/* The states of pid's children, a letter each, into out. */
void rp_cmd_child_states(pid_t pid, char *out, size_t len);
/* pid and every process below it (found at once, up to max of them)
 * into pids, pid first: how many. */
int rp_cmd_tree(pid_t pid, pid_t *pids, int max);
/* Wait (secs at most) until pid has no child left: 1, or 0 if it
 * still had one. */
int rp_cmd_await_childless(pid_t pid, int secs);
/* Write n lines "line 0\n" ... to path (an absolute path). */
void rp_cmd_write_lines(const char *path, int n);
/* Write name in the directory: n lines "KIND i", KIND being kind(i, n)
 * (16 bytes at most). */
void rp_cmd_write_kinds(const char *name, int n,
			const char *(*kind)(int i, int n));

#endif /* RP_TEST_CMD_H */
