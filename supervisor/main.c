/*
 * main.c - the ringpipe command.
 *
 *   ringpipe run FILE [--stats]      run the pipeline in a YAML file
 *   ringpipe -e 'STAGE ARGS ! ...'   run a pipeline given on the line
 *   ringpipe check FILE              validate a file without running it
 *   ringpipe check -e '...'          ... or a one-liner
 *   ringpipe stat NAME [--json]      a running pipeline's counters
 *   ringpipe chaos FILE [...]        run it under seeded faults, judged
 *   ringpipe replay FILE [...]       quarantined records through a stage
 *   ringpipe replay -e '...' [...]   ... of a one-liner
 *
 * Options may come before the command, and before or after the FILE
 * (NAME, the one-liner).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argcheck.h"
#include "chaos.h"
#include "observe.h"
#include "config.h"
#include "deadletter.h"
#include "log.h"
#include "replay.h"
#include "run.h"

/* A usage mistake: said, then where the whole of it is, not all of it. */
static void usage_hint(void)
{
	fprintf(stderr, "usage: ringpipe run FILE | ringpipe -e 'STAGE ... ! "
			"STAGE ...' | ringpipe check|chaos|replay|stat ...\n"
			"(ringpipe --help explains)\n");
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ringpipe run FILE [--stats] [-q|-v] [--drain] [--fast-restart]\n"
"                [--report-json OUT]\n"
"       ringpipe [run] -e 'STAGE [ARGS] ! STAGE [ARGS] ! ...' [--stats]\n"
"                [-q|-v] [--drain] [--fast-restart] [--report-json OUT]\n"
"       ringpipe check FILE\n"
"       ringpipe check -e 'STAGE [ARGS] ! ...'\n"
"       ringpipe stat [NAME] [--json] [--watch]\n"
"       ringpipe chaos FILE [--seed S] [--faults N] [--every MS]\n"
"                      [--kinds KIND,...] [--json OUT] [--fast-restart]\n"
"                      [--expect SUMS]\n"
"       ringpipe chaos FILE --crashpoints N [--expect SUMS] [--json OUT]\n"
"       ringpipe replay FILE|-e 'STAGE ...' [--dead PREFIX] [--stage NAME]\n"
"                       [--to PATH [--append]] [--quiet] [--report-json OUT]\n"
"       ringpipe [COMMAND] --help\n"
"       ringpipe --version\n"
"\n"
"Options may come before the command, and before FILE or NAME as well as\n"
"after it (after --, a word is FILE or NAME even if it starts with -).\n"
"\n"
"Runs a pipeline of isolated stage processes joined by shared-memory\n"
"rings, supervised from one event loop.  Stages are built-ins of\n"
"ringpipe-stage (file-source, file-sink, lines, grep, head, count,\n"
"exec, fault) or stage programs named by path.  In a one-liner, stages\n"
"are separated by a lone '!' (quote the whole line for the shell;\n"
"inside it, '...' and \"...\" quote a word).  Right after a stage's\n"
"name, @KEY=VALUE words set what the YAML file's keys set, sandbox keys\n"
"included (lists comma-separated): exec @record_timeout_ms=500\n"
"@fs_write=/tmp -- sort.\n"
"\n"
"  --stats   print each ring's counters once a second, a line each\n"
"            (without it, a terminal gets a one-line progress display)\n"
"  -q, --quiet    no report at the end (but for a line saying how many\n"
"            records were quarantined, if any), no progress line, and of\n"
"            the log lines only errors (a built-in's note that its\n"
"            reader is gone, a normal end, is left out too)\n"
"  -v, --verbose  log lines also for each stage's start, state changes\n"
"            and control records\n"
"Log lines go to stderr: time, \"ringpipe:\", the stage, the event.\n"
"  --fast-restart  for tests and crash-heavy runs: restarts at once, up\n"
"            to 100000 in a row (21 failing with no record done between),\n"
"            1 s grace after a cancel\n"
"  --drain   the first Ctrl-C or SIGTERM drains instead of cancelling:\n"
"            the source stops, the other stages finish what is queued\n"
"            and end (10 s at most); the next one cancels.  SIGUSR1\n"
"            always drains (exit 0 when all finish)\n"
"  stat      from another shell: each stage's state, records read and\n"
"            written, restarts, quarantined and input-ring fill, for\n"
"            every running pipeline called NAME (without NAME, every\n"
"            one) that you may observe\n"
"            (your uid, or root); --json as in --report-json; --watch\n"
"            again every second until it ends\n"
"  --report-json OUT  the report as JSON in OUT too: per stage its\n"
"            state, records in and out, bytes out, waits for input and\n"
"            for room, restarts, quarantined, sandbox, delivery, why\n"
"            (OUT - is stdout, after anything a stage wrote there)\n"
"\n"
"Sandbox (per stage, in the YAML file under sandbox:): policy strict\n"
"(default), exec or none; allow/deny syscall lists; memory, cpu, files,\n"
"file_size, processes limits; namespaces net, ipc, mnt, pid (exec stages\n"
"that name none get pid where the kernel allows).  Exec stages get a\n"
"TMPDIR of their own, removed with them.  Every stage runs with no\n"
"root, no capabilities, no_new_privs, only its own fds, and dies with\n"
"the supervisor.  A denied syscall is reported by name and ends the\n"
"stage (a deny entry NAME:ERRNO fails the call instead); on a record, it\n"
"counts towards quarantining that record, like a crash.  Landlock limits\n"
"the files a stage may open: fs_read: [PATH, ...] (read and execute\n"
"beneath; default [/] under exec and none), fs_write: [PATH, ...] (also\n"
"write, create, remove; default none); /dev/null is always writable.\n"
"Paths are absolute and must exist when the stage starts.  strict gets\n"
"no file access at all; none gets Landlock only if fs_read or fs_write\n"
"is given.  Files a stage opened before its sandbox keep working.  A\n"
"kernel without Landlock is reported, and fatal when fs_read or\n"
"fs_write is given unless landlock_optional: true.  The report at the\n"
"end lists the layers in force per stage.  env: [NAME, ...] keeps only\n"
"those environment variables (default: all, as a shell's pipeline).\n"
"\n"
"Ctrl-Z stops the supervisor and every stage; fg (SIGCONT) resumes all.\n"
"Ctrl-C cancels every stage (reason: user); a second Ctrl-C kills them;\n"
"stages that ignore a cancel are killed after 5 s.\n"
"A stage that fails for good cancels the others (reason: sibling\n"
"failed).  Per stage, in the YAML file: restart: never | on-failure\n"
"(default; never for exec but exec --each) | always, restart_max (in a\n"
"row; a stage that got past records after a quarantine starts anew),\n"
"restart_window, restart_backoff_ms; record_timeout_ms (working time\n"
"allowed per record; for exec, how long the command may hold unread\n"
"input without reading or writing), end_timeout_ms (exec: how long the\n"
"command may stay silent after its input ended; default ten record\n"
"timeouts, 0: untimed); standby: true keeps a copy started\n"
"and sandboxed ahead that takes over at a crash (stat --json shows its\n"
"standby_pid).  A broken ring is checked, then blamed on the stage that\n"
"wrote it.  exec --each runs its program once per record (exactly once,\n"
"a crash quarantines its record; replicas: N allowed).\n"
"\n"
"Crash recovery: a restarted stage resumes from its last commit point;\n"
"its consumer drops what it had already taken, so library stages between\n"
"a file source and a file sink deliver exactly once (the report says\n"
"which stages do).  A record a stage dies on by its own doing (a crash,\n"
"a denied syscall, its timeout; for a program of one's own also an\n"
"exit() on it or an error its callback returns, but -EAGAIN)\n"
"quarantine_after times (default 2) goes to NAME.dead.rec and .jsonl\n"
"(top-level keys dead_letter: PREFIX, quarantine_max: N, default 100).\n"
"A source program of one's own that goes back to what it saved says\n"
"replays: true, and is then exactly-once.\n"
"\n"
"replay feeds the records quarantined at stage NAME (--stage; default:\n"
"the one stage the index names) back through the pipeline from NAME on:\n"
"the stages before it give way to file-source --typed-records, and the last\n"
"stage writes to PATH (--to, default - for stdout; a file-sink keeps its\n"
"options, anything else is replaced by file-sink --lines PATH, or\n"
"file-sink PATH where records reach it as raw chunks or frames; a PATH\n"
"naming the dead-letter files is refused), so the real\n"
"output is never touched; with --append the sink writes after what PATH\n"
"holds (the real output, say) instead of replacing it.  PREFIX (--dead)\n"
"defaults to the pipeline's\n"
"dead-letter prefix; PREFIX.jsonl and PREFIX.rec are checked line by line\n"
"before anything runs.  Records quarantined again go to\n"
"PREFIX.replay.rec and .jsonl (first_seq and first_origin: their\n"
"numbers in the run that first quarantined them).  With -e the pipeline\n"
"is a one-liner, as the run that quarantined them had it.  It ends with\n"
"a line on stderr:\n"
"  replay: N records from PREFIX.rec through NAME: P passed, Q\n"
"  quarantined again (PREFIX.replay.rec)\n"
"and exits 0 when all passed, 1 when any was quarantined again or the\n"
"run failed, 2 on bad usage or a bad dead-letter output.\n"
"\n"
"chaos runs the pipeline (it must end in file-sink FILE) once without\n"
"faults, then again with N faults (default 20, every ~MS ms, default\n"
"100) drawn from seed S (default 1), and compares FILE with the\n"
"reference: lost, duplicated, reordered, quarantined; exit 1 on any\n"
"loss, duplicate or hang.  Kinds (default kill): kill, stop (SIGSTOP\n"
"50-300 ms), supervisor-kill (last), and, done by a stage itself on its\n"
"next record: hang (its record_timeout_ms, 500 unless set, ends it),\n"
"deny (a forbidden syscall) and corrupt (8 bytes over its own shared\n"
"memory; a run with corruptions is judged on containment: only\n"
"corrupted stages blamed).  Faults chaos causes never quarantine a\n"
"record.  --crashpoints N instead kills each stage at its 1st..Nth\n"
"pass through each library crash point, one run each.  The reference\n"
"run's line digests are kept in FILE.chaos-ref.sums; --expect SUMS\n"
"judges against such a file instead of making a reference run.  Each\n"
"run reads the input again, so a source on stdin (file-source -) is\n"
"refused, and so is an exec or program source when chaos is given a\n"
"stdin (each run gets /dev/null); --json OUT is opened before\n"
"anything runs.\n"
"A run that no fault reached (it ended before the first, or each one\n"
"missed) says so: it proved nothing about recovery (still exit 0 if\n"
"nothing was lost).\n"
"\n"
"run, chaos and check first ask each built-in to judge its arguments\n"
"(a missing input, a bad regex, a command the stage's user cannot run):\n"
"a mistake is exit 2, at its file, line and column.\n"
"\n"
"exit codes: 0 done, 1 a stage failed, 2 bad usage or configuration,\n"
"            130 interrupted (SIGINT), 143 terminated (SIGTERM),\n"
"            129 hung up (SIGHUP)\n"
"            131 quit (SIGQUIT, Ctrl-\\)\n");
}

/* ringpipe-stage lives next to ringpipe, unless RINGPIPE_STAGE_BIN says
 * otherwise. */
static void stage_bin(char *buf, size_t len)
{
	const char *env = getenv("RINGPIPE_STAGE_BIN");
	ssize_t n;
	char *slash;

	if (env != NULL) {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", buf, len - 32);
	if (n <= 0) {
		snprintf(buf, len, "ringpipe-stage");
		return;
	}
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	snprintf(slash ? slash + 1 : buf, 32, "ringpipe-stage");
}

/* Each command, what its one operand is, and its options that take a
 * value (the word after them). */
static const char *const run_valued[] = {"--report-json", NULL};
/* chaos --json: emptied as soon as it is read, so a run refused from
 * there on (a bad option or file) leaves no earlier verdict in it to be
 * taken for its own; never the pipeline's own file.  0, or -1 said. */
static int chaos_json_empty(const char *json, const char *file)
{
	struct stat a, b;
	int fd;

	if (stat(json, &a) == 0 && stat(file, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		fprintf(stderr, "ringpipe chaos: --json %s is the pipeline's "
				"own file\n",
			json);
		return -1;
	}
	fd = open(json, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY |
				O_NONBLOCK,
		  0666);
	if (fd < 0) {
		fprintf(stderr, "ringpipe chaos: cannot write %s (--json): "
				"%s\n",
			json, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

static const char *const chaos_valued[] = {
	"--seed", "--faults", "--every", "--kinds", "--crashpoints", "--json",
	"--expect", NULL};
static const char *const replay_valued[] = {"--dead", "--stage", "--to",
					    "--report-json", NULL};
static const char *const stat_valued[] = {NULL};

static const struct {
	const char *name, *operand;
	const char *const *valued;
} commands[] = {
	{"run", "FILE", run_valued},	 {"-e", "pipeline", run_valued},
	{"check", "FILE", run_valued},	 {"stat", "NAME", stat_valued},
	{"chaos", "FILE", chaos_valued}, {"replay", "FILE", replay_valued},
};

static int takes_value(const char *const *valued, const char *a)
{
	for (; *valued != NULL; valued++)
		if (!strcmp(*valued, a))
			return 1;
	return 0;
}

/* Options may come before the operand (FILE, NAME, the one-liner) as
 * well as after it: move the first word that is neither an option nor
 * an option's value to argv[2], where the commands look for it, the
 * options keeping their order.  After "--" the next word is the
 * operand whatever it looks like (a FILE named -x); the "--" goes.
 * 1 if -h or --help is among the options, -1 if there is no operand,
 * else 0. */
static int operand_first(int *argc, char **argv, const char *const *valued)
{
	int at = -1;
	char *op;

	for (int i = 2; i < *argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		if (at < 0 && !strcmp(a, "--") && i + 1 < *argc) {
			/* (argv[argc] is NULL: it moves too.) */
			memmove(&argv[i], &argv[i + 1],
				(size_t)(*argc - i) * sizeof(*argv));
			(*argc)--;
			at = i;
		} else if (at < 0 && (a[0] != '-' || a[1] == '\0')) {
			at = i; /* (a lone "-" is no option) */
		} else if (takes_value(valued, a)) {
			i++;
		}
	}
	if (at < 0)
		return -1;
	op = argv[at];
	memmove(&argv[3], &argv[2], (size_t)(at - 2) * sizeof(*argv));
	argv[2] = op;
	return 0;
}

/* A word a command does not take: an option it does not know, or a
 * second operand. */
static int unexpected(const char *who, const char *word, const char *what,
		      const char *first)
{
	if (word[0] == '-' && word[1] != '\0')
		fprintf(stderr, "%s: unknown option %s\n", who, word);
	else
		fprintf(stderr, "%s: %s: a second %s (%s is the first)\n", who,
			word, what, first);
	return RP_RUN_USAGE;
}

/* Options given before the command move right behind it (operand_first
 * then takes the first plain word after them for its operand), so
 * "ringpipe -q --report-json r.json -e '...'" means what it says.  The
 * command is the first word that names one and is no option's value;
 * the command checks the options as its own.  Without one, nothing
 * moves and the first word is reported as an unknown command. */
static int command_of(const char *word)
{
	for (size_t c = 0; c < sizeof(commands) / sizeof(*commands); c++)
		if (!strcmp(word, commands[c].name))
			return (int)c;
	return -1;
}

static void command_first(int argc, char **argv)
{
	int at = -1;

	/* Each word that names a command, in turn: it is the command if
	 * the words before it are options of that command, each with its
	 * value (so --json, chaos's option with a value, is stat's
	 * without one: ringpipe --json stat NAME). */
	for (int c = 1; c < argc && at < 0; c++) {
		int cmd = command_of(argv[c]), i = 1;
		if (cmd < 0)
			continue;
		while (i < c && argv[i][0] == '-' && strcmp(argv[i], "-h") &&
		       strcmp(argv[i], "--help"))
			i += takes_value(commands[cmd].valued, argv[i]) ? 2 : 1;
		if (i == c)
			at = c;
		else if (i < c)
			break; /* a plain word or a help before it */
	}
	if (at <= 1)
		return;
	/* The command first, its options right after it (before its
	 * operand, which operand_first finds among them): not at the end,
	 * where one left without its value would take the next word. */
	{
		char *command = argv[at];
		memmove(&argv[2], &argv[1], (size_t)(at - 1) * sizeof(*argv));
		argv[1] = command;
	}
}

/* ringpipe stat [NAME] [--json] [--watch]: its options from argv[from]
 * on; name NULL for every pipeline. */
static int stat_main(int argc, char **argv, int from, const char *name)
{
	int json = 0, watch = 0;

	for (int i = from; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--watch"))
			watch = 1;
		else
			return unexpected("ringpipe stat", argv[i], "NAME",
					  name ? name : "");
	}
	return rp_stat_main(name, json, watch);
}

/* Was stdout closed when ringpipe started (>&-)? */
static int stdout_closed;

/* A path that names our stdout. */
static int names_stdout(const char *path)
{
	return !strcmp(path, "-") || !strcmp(path, "/dev/stdout") ||
	       !strcmp(path, "/dev/fd/1") || !strcmp(path, "/proc/self/fd/1");
}

/* Said, if stdout is closed and path names it: 1. */
static int closed_stdout(const char *who, const char *path)
{
	if (!stdout_closed || !names_stdout(path))
		return 0;
	fprintf(stderr, "ringpipe: stdout is closed (>&-): %s writes to it, "
			"and would write nowhere\n", who);
	return 1;
}

/* ringpipe replay FILE [--dead PREFIX] [--stage NAME] [--to PATH]
 * [--quiet] [--report-json OUT], or -e PIPELINE for FILE */
static int replay_main(int argc, char **argv, struct rp_run_opts *o)
{
	struct rp_replay_opts ro = {.file = argv[2]};
	char bin[PATH_MAX];

	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], **val = NULL;
		if (!strcmp(a, "--dead"))
			val = &ro.dead;
		else if (!strcmp(a, "--stage"))
			val = &ro.stage;
		else if (!strcmp(a, "--to"))
			val = &ro.to;
		else if (!strcmp(a, "--report-json"))
			val = &o->report_json;
		if (val != NULL && i + 1 < argc && argv[i + 1][0] != '\0') {
			*val = argv[++i];
		} else if (val != NULL) {
			fprintf(stderr, "ringpipe replay: %s needs a value\n",
				a);
			return RP_RUN_USAGE;
		} else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
			o->quiet = 1;
			rp_log_set_level(RP_LOG_ERROR);
		} else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			rp_log_set_level(RP_LOG_DEBUG);
		} else if (!strcmp(a, "-e")) {
			ro.line = 1; /* FILE is a one-liner */
		} else if (!strcmp(a, "--append")) {
			ro.append = 1;
		} else {
			return unexpected("ringpipe replay", a, "FILE",
					  argv[2]);
		}
	}
	if (closed_stdout("the replay", ro.to ? ro.to : "-"))
		return RP_RUN_USAGE;
	if (ro.append && ro.to == NULL) {
		fprintf(stderr, "ringpipe replay: --append needs --to PATH: "
				"stdout is written as it is\n");
		return RP_RUN_USAGE;
	}
	stage_bin(bin, sizeof(bin));
	o->stage_bin = bin;
	return rp_replay(&ro, o);
}

/* The dead-letter output cfg names cannot be written: said, 1. */
static int dead_letter_unwritable(const struct rp_cfg *cfg)
{
	struct rp_deadletter d;
	char prefix[256], why[400];
	int bad;

	rp_deadletter_prefix(cfg->dead_letter, cfg->name, prefix,
			     sizeof(prefix));
	rp_deadletter_init(&d, prefix);
	bad = rp_deadletter_writable(&d, why, sizeof(why)) != 0;
	if (bad && cfg->dl_line > 0)
		fprintf(stderr, "ringpipe: %s:%d:%d: dead_letter: %s.rec cannot "
				"be written (%s)\n",
			cfg->file[0] ? cfg->file : "-e", cfg->dl_line,
			cfg->dl_column, prefix, why);
	else if (bad)
		fprintf(stderr, "ringpipe: %s: dead_letter (not given: "
				"NAME.dead in the directory ringpipe runs "
				"in): %s.rec cannot be written (%s)\n",
			cfg->file[0] ? cfg->file : "-e", prefix, why);
	rp_deadletter_close(&d);
	return bad;
}

/* Started with stdin, stdout or stderr closed (cmd <&-): /dev/null in
 * its place, as a shell's job would have, or the first ring or socket
 * opened would take the number, and a stage would get it as its stdin
 * (and a stage's own first fd, its seccomp listener, a number libseccomp
 * refuses).  A closed stdin reads as empty. */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nul;
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		stdout_closed |= fd == 1;
		nul = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nul >= 0 && nul != fd) {
			/* (A lower one was closed too, and is taken.) */
			dup2(nul, fd);
			close(nul);
		}
	}
}

int main(int argc, char **argv)
{
	struct rp_run_opts o = {.crash_stage = -1};
	struct rp_chaos_opts co = {.seed = 1, .faults = 20, .every_ms = 100,
				   .kinds = RP_CHAOS_KILL};
	struct rp_cfg *cfg = calloc(1, sizeof(*cfg));
	char bin[PATH_MAX];
	const char *cmd, *arg = NULL, *what = NULL;
	const char *const *valued = NULL;
	int err, code, chaos, check_only = 0, sched_given = 0;

	if (cfg == NULL)
		return RP_RUN_FAILED;
	/* Stages may run under our uid: none may attach to us through
	 * /proc (ptrace, /proc/PID/mem, our fds). */
	prctl(PR_SET_DUMPABLE, 0);
	/* An ignored SIGCHLD, inherited, would reap the stages before the
	 * supervisor could learn how they ended. */
	signal(SIGCHLD, SIG_DFL);
	std_fds_open();
	/* Options may also come before the command: ringpipe -q run FILE,
	 * ringpipe --report-json r.json -e '...'. */
	command_first(argc, argv);
	if (argc < 2) {
		usage_hint();
		free(cfg);
		return RP_RUN_USAGE;
	}
	cmd = argv[1];
	/* ringpipe check -e 'PIPELINE': a one-liner checked, not run (the
	 * -e among the options before the one-liner: ringpipe -v check -e
	 * came to check -v -e). */
	/* ringpipe run -e 'PIPELINE': the one-liner's form, ringpipe -e. */
	if (!strcmp(cmd, "check") || !strcmp(cmd, "run")) {
		int j = 2;
		while (j < argc && argv[j][0] == '-' && strcmp(argv[j], "-e") &&
		       strcmp(argv[j], "--"))
			j += takes_value(run_valued, argv[j]) ? 2 : 1;
		if (j < argc && !strcmp(argv[j], "-e")) {
			char *e = argv[j];
			/* (argv[argc], the NULL, moves too.) */
			memmove(&argv[j], &argv[j + 1],
				(size_t)(argc - j) * sizeof(*argv));
			argc--;
			check_only = !strcmp(cmd, "check");
			argv[1] = e;
			cmd = argv[1];
		}
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		free(cfg);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("ringpipe %s\n", RP_VERSION);
		free(cfg);
		return 0;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(*commands); c++)
		if (!strcmp(cmd, commands[c].name)) {
			what = commands[c].operand;
			valued = commands[c].valued;
		}
	if (valued == NULL) {
		if (cmd[0] == '-')
			fprintf(stderr, "ringpipe: no command given (%s is "
				"an option)\n", cmd);
		else
			fprintf(stderr, "ringpipe: unknown command %s\n",
				cmd);
		usage_hint();
		free(cfg);
		return RP_RUN_USAGE;
	}
	switch (operand_first(&argc, argv, valued)) {
	case 1:
		usage(stdout);
		free(cfg);
		return 0;
	case -1:
		/* ringpipe stat: every pipeline there is. */
		if (!strcmp(cmd, "stat")) {
			free(cfg);
			return stat_main(argc, argv, 2, NULL);
		}
		fprintf(stderr, "ringpipe %s%s: no %s given\n",
			check_only ? "check " : "", cmd, what);
		usage_hint();
		free(cfg);
		return RP_RUN_USAGE;
	}
	arg = argv[2];
	if (!strcmp(cmd, "stat")) {
		free(cfg);
		return stat_main(argc, argv, 3, arg);
	}
	if (!strcmp(cmd, "replay")) {
		free(cfg);
		return replay_main(argc, argv, &o);
	}
	chaos = !strcmp(cmd, "chaos");
	for (int i = 3; i < argc; i++) {
		char *end = (char *)"";
		if (takes_value(valued, argv[i]) && i + 1 >= argc) {
			fprintf(stderr, "ringpipe: %s needs a value\n",
				argv[i]);
			return RP_RUN_USAGE;
		}
		errno = 0;
		if (chaos && !strcmp(argv[i], "--seed")) {
			sched_given = 1;
			co.seed = strtoull(argv[++i], &end, 10);
			if (argv[i][0] < '0' || argv[i][0] > '9')
				end = NULL; /* strtoull takes -1, " 1" */
		} else if (chaos && !strcmp(argv[i], "--faults")) {
			sched_given = 1;
			unsigned long v = strtoul(argv[++i], &end, 10);
			co.faults = (unsigned)v;
			if (v > 10000 || argv[i][0] < '0' || argv[i][0] > '9')
				end = NULL;
		} else if (chaos && !strcmp(argv[i], "--every")) {
			sched_given = 1;
			unsigned long v = strtoul(argv[++i], &end, 10);
			co.every_ms = (unsigned)v;
			if (v == 0 || v > 60000 || argv[i][0] < '0' ||
			    argv[i][0] > '9')
				end = NULL;
		} else if (chaos && !strcmp(argv[i], "--kinds")) {
			sched_given = 1;
			co.kinds = rp_chaos_kinds(argv[++i]);
			end = co.kinds ? argv[i] + strlen(argv[i]) : NULL;
		} else if (chaos && !strcmp(argv[i], "--crashpoints")) {
			unsigned long v = strtoul(argv[++i], &end, 10);
			co.crashpoints = (unsigned)v;
			if (v == 0 || v > 1000 || argv[i][0] < '0' ||
			    argv[i][0] > '9')
				end = NULL;
		} else if (chaos && !strcmp(argv[i], "--json")) {
			co.json = argv[++i];
			end = argv[i] + strlen(argv[i]);
			if (chaos_json_empty(co.json, arg) != 0)
				return RP_RUN_USAGE;
		} else if (chaos && !strcmp(argv[i], "--expect")) {
			co.expect = argv[++i];
			end = argv[i] + strlen(argv[i]);
		} else if (!chaos && !strcmp(argv[i], "--report-json")) {
			o.report_json = argv[++i];
		} else if (!chaos && !strcmp(argv[i], "--drain")) {
			o.drain = 1;
		} else if (!strcmp(argv[i], "--fast-restart")) {
			o.fast_restart = 1;
		} else if (!strcmp(argv[i], "--stats"))
			o.stats = 1;
		else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			o.quiet = 1;
			rp_log_set_level(RP_LOG_ERROR);
		} else if (!strcmp(argv[i], "--verbose") ||
			   !strcmp(argv[i], "-v")) {
			rp_log_set_level(RP_LOG_DEBUG);
		} else {
			return unexpected("ringpipe", argv[i], what, arg);
		}
		if (end == NULL || *end != '\0' || errno == ERANGE) {
			fprintf(stderr, "ringpipe chaos: %s: bad value '%s'",
				argv[i - 1], argv[i]);
			if (!strcmp(argv[i - 1], "--kinds")) {
				fprintf(stderr, " (kinds: ");
				rp_chaos_kinds_list(stderr);
				fprintf(stderr, ")");
			}
			fprintf(stderr, "\n");
			return RP_RUN_USAGE;
		}
	}
	/* A sweep runs every point in turn: a schedule's options would
	 * be ignored, which is refused rather than done silently. */
	if (chaos && co.crashpoints && sched_given) {
		fprintf(stderr, "ringpipe chaos: --crashpoints sweeps every "
				"crash point in turn: --seed, --faults, "
				"--every and --kinds do not apply to it\n");
		free(cfg);
		return RP_RUN_USAGE;
	}
	if (!strcmp(cmd, "-e"))
		err = rp_cfg_parse_line(arg, cfg);
	else
		err = rp_cfg_load(arg, cfg);
	if (err) {
		fprintf(stderr, "ringpipe: %s\n", cfg->error);
		free(cfg);
		return RP_RUN_USAGE;
	}
	if (o.fast_restart)
		rp_cfg_fast_restart(cfg);
	/* Its output would go to /dev/null, put in place of the closed
	 * stdout: as cat >&- fails, the run does not start.  (What an
	 * exec stage's program writes cannot be told.) */
	if (stdout_closed && !check_only && strcmp(cmd, "check") != 0) {
		const struct rp_cfg_stage *last =
			&cfg->stages[cfg->order[cfg->nstages - 1]];
		char who[RP_CFG_NAME + 16];
		snprintf(who, sizeof(who), "stage '%s'", last->name);
		if (last->builtin && last->argc > 1 &&
		    !strcmp(last->argv[0], "file-sink") &&
		    closed_stdout(who, last->argv[last->argc - 1])) {
			rp_cfg_free(cfg);
			free(cfg);
			return RP_RUN_USAGE;
		}
	}
	/* Each built-in judges its own arguments, before anything starts
	 * (check, run and chaos alike: a mistake is exit 2, placed).  A run
	 * takes the signals it handles from here on, as the run does (a
	 * Ctrl-C or a drain meanwhile waits for it, not the default end). */
	if (!chaos && !check_only && strcmp(cmd, "check") != 0)
		rp_run_hold_signals();
	stage_bin(bin, sizeof(bin));
	if (rp_argcheck(cfg, bin) != 0) {
		fprintf(stderr, "ringpipe: %s\n", cfg->error);
		rp_cfg_free(cfg);
		free(cfg);
		return RP_RUN_USAGE;
	}
	if (check_only || !strcmp(cmd, "check")) {
		/* A dead_letter: named where nothing can be written fails
		 * the run at its first poison record: said now. */
		if (cfg->dead_letter[0] != '\0' &&
		    dead_letter_unwritable(cfg) != 0) {
			rp_cfg_free(cfg);
			free(cfg);
			return RP_RUN_USAGE;
		}
		printf("%s: pipeline %s: %d stages, ok\n",
		       check_only ? "one-liner" : arg, cfg->name,
		       cfg->nstages);
		rp_cfg_free(cfg);
		free(cfg);
		return 0;
	}
	o.stage_bin = bin;
	co.file = arg;
	code = chaos ? rp_chaos(cfg, &o, &co) : rp_run(cfg, &o);
	rp_cfg_free(cfg);
	free(cfg);
	return code;
}
