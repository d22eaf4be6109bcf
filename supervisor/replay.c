/*
 * replay.c - ringpipe replay (replay.h).
 *
 * Nothing runs, and nothing is written, until every line of the index has
 * been parsed and its frame found in PREFIX.rec where it says
 * (replay_index.h).  Only then are the chosen records copied into a
 * temporary file that the run's file-source reads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ipc/ring.h"
#include "deadletter.h"
#include "replay.h"
#include "replay_index.h"

#define REPLAY_EXT ".replay"
/* Any prefix a pipeline may have (PREFIX.replay still fits). */
#define PREFIX_MAX  RP_DEADLETTER_PREFIX_MAX

/* ------------------------------------------------------ the stage */

/* Where a stage is in the pipeline's order, or -1. */
static int place_of(const struct rp_cfg *cfg, const char *name)
{
	for (int k = 0; k < cfg->nstages; k++)
		if (strcmp(cfg->stages[cfg->order[k]].name, name) == 0)
			return k;
	return -1;
}

/* The pipeline, for a message: its file, or the one-liner. */
static const char *pipeline_of(const struct rp_cfg *cfg)
{
	return strcmp(cfg->file, "-e") == 0 ? "the one-liner" : cfg->file;
}

/* Which of the index's stages (*sel, -1: none has records) and where in
 * the pipeline (*k).  0, or an exit code. */
static int choose(const struct rp_replay_index *ix, const struct rp_cfg *cfg,
		  const char *want, int *sel, int *k)
{
	*sel = *k = -1;
	if (want == NULL && ix->nstages > 1) {
		fprintf(stderr,
			"ringpipe replay: %s holds records of %u "
			"stages:",
			ix->idx_path, ix->nstages);
		for (unsigned s = 0; s < ix->nstages; s++)
			fprintf(stderr, "%s %s (%llu)", s ? "," : "",
				ix->stage[s].name,
				(unsigned long long)ix->stage[s].count);
		fprintf(stderr, "; choose one with --stage\n");
		return RP_RUN_USAGE;
	}
	if (want == NULL && ix->nstages == 0)
		return 0;
	if (want == NULL) {
		*sel = 0;
		*k = place_of(cfg, ix->stage[0].name);
		if (*k < 0) {
			fprintf(stderr,
				"ringpipe replay: %s:%lu: stage %s is not a "
				"stage of %s (name one with --stage)\n",
				ix->idx_path, ix->stage[0].first_line,
				ix->stage[0].name, pipeline_of(cfg));
			return RP_RUN_USAGE;
		}
	} else {
		*k = place_of(cfg, want);
		if (*k < 0) {
			fprintf(stderr,
				"ringpipe replay: --stage %s: %s has "
				"no such stage\n",
				want, pipeline_of(cfg));
			return RP_RUN_USAGE;
		}
		for (unsigned s = 0; s < ix->nstages; s++)
			if (strcmp(ix->stage[s].name, want) == 0)
				*sel = (int)s;
	}
	if (*k == 0) {
		fprintf(stderr,
			"ringpipe replay: stage %s is the source of "
			"%s: it reads no records to replay\n",
			cfg->stages[cfg->order[0]].name, pipeline_of(cfg));
		return RP_RUN_USAGE;
	}
	return 0;
}

/* ------------------------------------------ the records, to a new file */

/* The records of stage sel, framed with their types, into a new private
 * file under $TMPDIR (or /tmp), named in path ("" if none was made).  0,
 * or an exit code. */
static int write_records(const struct rp_replay_index *ix, unsigned sel,
			 char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char err[RP_REPLAY_ERR];
	int fd, code = 0, n, e;

	path[0] = '\0';
	dir = dir && dir[0] ? dir : "/tmp";
	n = snprintf(path, len, "%s/ringpipe-replay-XXXXXX", dir);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr,
			"ringpipe replay: a temporary file in %s: the path "
			"is too long\n",
			dir);
		path[0] = '\0';
		return RP_RUN_FAILED;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		fprintf(stderr, "ringpipe replay: making %s: %s\n", path,
			strerror(errno));
		path[0] = '\0';
		return RP_RUN_FAILED;
	}
	/* PREFIX.rec changed under us is bad input; a failed write is
	 * not. */
	if ((e = rp_replay_index_copy(ix, sel, fd, path, err, sizeof(err)))) {
		fprintf(stderr, "ringpipe replay: %s\n", err);
		code = e == -EPROTO ? RP_RUN_USAGE : RP_RUN_FAILED;
	}
	if (close(fd) < 0 && code == 0) {
		fprintf(stderr, "ringpipe replay: writing %s: %s\n", path,
			strerror(errno));
		code = RP_RUN_FAILED;
	}
	return code;
}

/* ----------------------------------------------------- the pipeline */

/* A built-in stage as config.c makes one with no settings; argv is
 * copied. */
static int builtin_stage(struct rp_cfg_stage *st, const char *name,
			 const char *input, const char *const *argv)
{
	uint32_t ring = st->ring; /* a source's slot has none */
	int line = st->line, column = st->column;

	for (int i = 0; i < RP_CFG_MAX_ARGS + 2; i++)
		free(st->argv[i]);
	memset(st, 0, sizeof(*st));
	rp_cfg_stage_defaults(st);
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->input, sizeof(st->input), "%s", input);
	st->builtin = 1;
	if (ring != 0)
		st->ring = ring;
	st->line = line;
	st->column = column;
	for (; *argv; argv++)
		if ((st->argv[st->argc++] = strdup(*argv)) == NULL)
			return -ENOMEM;
	return 0;
}

/* A name for the new source that no kept stage has. */
static void source_name(const struct rp_cfg *rc, char *buf, size_t len)
{
	for (int i = 0;; i++) {
		int used = 0;
		if (i == 0)
			snprintf(buf, len, "replay");
		else
			snprintf(buf, len, "replay-%d", i);
		for (int s = 1; s < rc->nstages; s++)
			used |= strcmp(rc->stages[s].name, buf) == 0;
		if (!used)
			return;
	}
}

/* Does the pipeline's end carry raw bytes or frames rather than lines?
 * The last stage, in its order, that frames what it passes on says: a
 * file-source or an exec stage with --chunks or --records, raw; one
 * without, or lines, lines.  (A program of one's own frames as it
 * likes: lines are taken.) */
static int raw_records(const struct rp_cfg *cfg)
{
	int raw = 0;

	for (int i = 0; i < cfg->nstages; i++) {
		const struct rp_cfg_stage *st = &cfg->stages[cfg->order[i]];
		int src = st->builtin && st->argc >= 1 &&
			  strcmp(st->argv[0], "file-source") == 0;
		if (st->builtin && st->argc >= 1 &&
		    strcmp(st->argv[0], "exec") == 0) {
			raw = rp_cfg_exec_option(st, "--chunks") ||
			      rp_cfg_exec_option(st, "--records");
		} else if (src) {
			raw = 0;
			for (int a = 1; a < st->argc; a++)
				if (!strcmp(st->argv[a], "--chunks") ||
				    !strcmp(st->argv[a], "--records") ||
				    !strcmp(st->argv[a], "--typed-records"))
					raw = 1;
		} else if (st->builtin && st->argc >= 1 &&
			   strcmp(st->argv[0], "lines") == 0) {
			raw = 0;
		}
	}
	return raw;
}

/* The last stage writes to `to`: a file-sink keeps its options; anything
 * else after the replayed stage becomes `file-sink --lines to` (a line
 * each record, as the records of a line pipeline are), or `file-sink
 * to` where the pipeline moves raw bytes or frames (raw). */
static int redirect_sink(struct rp_cfg *rc, const char *to, int to_given,
			 int raw, int append)
{
	struct rp_cfg_stage *last = &rc->stages[rc->nstages - 1];
	char name[RP_CFG_NAME], input[RP_CFG_NAME];
	const char *lines[] = {"file-sink", "--lines", "--append", to, NULL};
	const char *bytes[] = {"file-sink", "--append", to, NULL};
	const char **argv = raw ? bytes : lines;

	if (!append) {
		/* (Without it: the words after --append move up.) */
		lines[2] = to, lines[3] = NULL;
		bytes[1] = to, bytes[2] = NULL;
	}
	if (last->builtin && strcmp(last->argv[0], "file-sink") == 0 &&
	    last->argc >= 2) {
		char *path = strdup(to);
		int has = 0;
		if (path == NULL)
			return -ENOMEM;
		free(last->argv[last->argc - 1]);
		last->argv[last->argc - 1] = path;
		for (int i = 1; i < last->argc - 1 &&
				strcmp(last->argv[i], "--") != 0;
		     i++)
			has |= strcmp(last->argv[i], "--append") == 0;
		/* Its options kept, and --append among them. */
		if (append && !has) {
			char *opt = strdup("--append");
			if (opt == NULL || last->argc > RP_CFG_MAX_ARGS) {
				free(opt);
				return -ENOMEM;
			}
			/* First among its options: before a --. */
			memmove(&last->argv[2], &last->argv[1],
				(size_t)(last->argc - 1) * sizeof(*last->argv));
			last->argv[1] = opt;
			last->argc++;
			last->argv[last->argc] = NULL;
		}
		return 0;
	}
	if (rc->nstages == 2) {
		if (!to_given)
			return 0;
		fprintf(stderr,
			"ringpipe replay: --to: stage %s is the last "
			"stage and writes where it writes; leave out "
			"--to\n",
			last->name);
		return -EINVAL;
	}
	memcpy(name, last->name, sizeof(name));
	memcpy(input, last->input, sizeof(input));
	return builtin_stage(last, name, input, argv);
}

/* Every record replayed was a poison record once: the replayed stage
 * may well die on each of them again, one after the other.  Its restart
 * limits are made to let it (at once, and as many times in a row as
 * quarantining every record again takes, and its own limit more), so
 * that each record ends passed or quarantined again, not the run given
 * up halfway with the rest untried.  Its restart policy stays. */
static void allow_poison_run(struct rp_cfg_stage *st, uint64_t n)
{
	uint64_t most = n * (st->quarantine_after ? st->quarantine_after : 1) +
			st->restart_max;

	st->restart_backoff_ms = 0;
	st->restart_max = most > 100000 ? 100000 : (uint32_t)most;
}

/* From the pipeline's stage k on, fed by `file-source --typed-records tmp`,
 * n records; the stages move from cfg to rc.  0, or an exit code. */
static int build(struct rp_cfg *cfg, int k, const char *tmp, uint64_t n,
		 const struct rp_replay_opts *o, const char *prefix,
		 struct rp_cfg *rc)
{
	const char *to = o->to ? o->to : "-";
	char src[RP_CFG_NAME], to_buf[PATH_MAX + 3];
	const char *argv[] = {"file-source", "--typed-records", tmp, NULL};
	int err, raw = raw_records(cfg);

	/* A path file-sink would take for an option: ./-name. */
	if (to[0] == '-' && to[1] != '\0') {
		snprintf(to_buf, sizeof(to_buf), "./%s", to);
		to = to_buf;
	}

	memset(rc, 0, sizeof(*rc));
	memcpy(rc->name, cfg->name, sizeof(rc->name));
	memcpy(rc->file, cfg->file, sizeof(rc->file));
	/* The prefix is PREFIX_MAX bytes at most (dead_prefix). */
	_Static_assert(PREFIX_MAX == 233, "the precision below");
	snprintf(rc->dead_letter, sizeof(rc->dead_letter), "%.233s%s", prefix,
		 REPLAY_EXT);
	/* Every record may be quarantined again: none left untried for
	 * the pipeline's cap (which counts one run's new poison). */
	rc->quarantine_max = cfg->quarantine_max >= n ? cfg->quarantine_max
			     : n > UINT32_MAX			? UINT32_MAX
								: (uint32_t)n;
	rc->nstages = 1 + cfg->nstages - k;
	for (int j = 1; j < rc->nstages; j++) {
		struct rp_cfg_stage *st = &cfg->stages[cfg->order[k + j - 1]];
		rc->stages[j] = *st;
		/* Its arguments are rc's to free now. */
		memset(st->argv, 0, sizeof(st->argv));
		st->argc = 0;
	}
	for (int j = 0; j < rc->nstages; j++)
		rc->order[j] = j;
	allow_poison_run(&rc->stages[1], n);
	source_name(rc, src, sizeof(src));
	memcpy(rc->stages[1].input, src, sizeof(src));
	err = builtin_stage(&rc->stages[0], src, "", argv);
	if (err == 0)
		err = redirect_sink(rc, to, o->to != NULL, raw, o->append);
	if (err == -ENOMEM)
		fprintf(stderr, "ringpipe replay: out of memory\n");
	return err == 0 ? 0 : err == -ENOMEM ? RP_RUN_FAILED : RP_RUN_USAGE;
}

/* ------------------------------------------------------------ the run */

/* path with its directory made absolute and resolved (the file itself
 * need not exist): 0, or -1 if its directory is not there. */
static int resolved(const char *path, char *out, size_t len)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');

	snprintf(dir, sizeof(dir), "%.*s",
		 slash == NULL ? 1 : slash == path ? 1 : (int)(slash - path),
		 slash == NULL ? "." : path);
	if (realpath(dir, real) == NULL)
		return -1;
	snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "",
		 slash ? slash + 1 : path);
	return 0;
}

/* Would writing to `to` overwrite the dead-letter files the replay reads
 * (PREFIX.rec, .jsonl) or appends to (PREFIX.replay.*)?  The one it
 * names, or NULL. */
static const char *to_is_ours(const char *to, const char *prefix,
			      char *hit, size_t len)
{
	static const char *const ext[] = {".rec", ".jsonl", REPLAY_EXT ".rec",
					  REPLAY_EXT ".jsonl"};
	char a[PATH_MAX + 2], b[PATH_MAX + 2];
	struct stat st_to, st;
	int have_to = stat(to, &st_to) == 0;

	if (strcmp(to, "-") == 0 || resolved(to, a, sizeof(a)) != 0)
		return NULL;
	for (size_t i = 0; i < sizeof(ext) / sizeof(*ext); i++) {
		snprintf(hit, len, "%s%s", prefix, ext[i]);
		if ((have_to && stat(hit, &st) == 0 &&
		     st.st_dev == st_to.st_dev && st.st_ino == st_to.st_ino) ||
		    (resolved(hit, b, sizeof(b)) == 0 && strcmp(a, b) == 0))
			return hit;
	}
	return NULL;
}

static int dead_prefix(const struct rp_replay_opts *o, const struct rp_cfg *cfg,
		       char *buf, size_t len)
{
	if (o->dead != NULL)
		snprintf(buf, len, "%s", o->dead);
	else
		rp_deadletter_prefix(cfg->dead_letter, cfg->name, buf, len);
	if (buf[0] == '\0' || strlen(buf) > PREFIX_MAX) {
		fprintf(stderr,
			"ringpipe replay: the dead-letter prefix must "
			"be 1-%d bytes, as a pipeline's may be\n",
			PREFIX_MAX);
		return RP_RUN_USAGE;
	}
	return 0;
}

/* Run rc; the summary line, and the exit code. */
static int run_replay(const struct rp_cfg *rc, const struct rp_run_opts *run,
		      const char *rec_path, const char *stage, uint64_t n)
{
	struct rp_run_opts ro = *run;
	uint64_t q = 0;
	int code;

	/* Its own count: another run may append to the same files. */
	ro.quarantined = &q;
	code = rp_run(rc, &ro);
	fprintf(stderr, "replay: %llu record%s from %s through %s: ",
		(unsigned long long)n, n == 1 ? "" : "s", rec_path, stage);
	if (code == RP_RUN_OK)
		fprintf(stderr, "%llu passed, ",
			(unsigned long long)(q < n ? n - q : 0));
	else
		fprintf(stderr, "the run failed (exit %d), ", code);
	fprintf(stderr, "%llu quarantined again (%s.rec)\n",
		(unsigned long long)q, rc->dead_letter);
	if (code == RP_RUN_OK && q > 0)
		code = RP_RUN_FAILED;
	return code;
}

/* Each record fits the replayed stage's input ring as configured now
 * (a smaller ring than the run that quarantined them had): else the
 * run's source would fail on it, with nothing else replayed. */
static int records_fit(const struct rp_replay_index *ix, unsigned sel,
		       const struct rp_cfg_stage *st)
{
	uint32_t most = rp_ring_largest_record(st->ring);

	for (size_t i = 0; i < ix->nrec; i++)
		if (ix->rec[i].stage == sel && ix->rec[i].length > most) {
			fprintf(stderr,
				"ringpipe replay: %s:%lu: a record of %u "
				"bytes; stage %s's input ring (ring: %u) "
				"takes %u at most\n",
				ix->idx_path, ix->rec[i].line,
				ix->rec[i].length, st->name, st->ring, most);
			return RP_RUN_USAGE;
		}
	return 0;
}

/* Run rc with each record's numbers from the index, in the order they
 * were copied (a record quarantined again names its first number). */
static int run_numbered(const struct rp_cfg *rc,
			const struct rp_run_opts *run,
			const struct rp_replay_index *ix, unsigned sel)
{
	struct rp_run_opts o = *run;
	struct rp_replay_of *of = calloc(ix->nrec ? ix->nrec : 1, sizeof(*of));
	size_t n = 0;
	int code;

	if (of == NULL) {
		fprintf(stderr, "ringpipe replay: out of memory\n");
		return RP_RUN_FAILED;
	}
	for (size_t i = 0; i < ix->nrec; i++)
		if (ix->rec[i].stage == sel)
			of[n++] = (struct rp_replay_of){ix->rec[i].seq,
							ix->rec[i].origin,
							ix->rec[i].numbered};
	o.replay_of = of;
	o.nreplay_of = n;
	code = run_replay(rc, &o, ix->rec_path, ix->stage[sel].name, n);
	free(of);
	return code;
}

/* Read, check and choose; then copy, build and run. */
static int replay(const struct rp_replay_opts *o, const struct rp_run_opts *run,
		  struct rp_cfg *cfg, struct rp_cfg *rc,
		  struct rp_replay_index **ixp, char *tmp, size_t tmplen)
{
	char prefix[256], err[RP_REPLAY_ERR], hit[300];
	struct rp_replay_index *ix;
	int code, sel, k, e;

	if ((o->line ? rp_cfg_parse_line(o->file, cfg)
		     : rp_cfg_load(o->file, cfg)) != 0) {
		fprintf(stderr, "ringpipe: %s\n", cfg->error);
		return RP_RUN_USAGE;
	}
	if ((code = dead_prefix(o, cfg, prefix, sizeof(prefix))))
		return code;
	if (o->to != NULL &&
	    to_is_ours(o->to, prefix, hit, sizeof(hit)) != NULL) {
		fprintf(stderr, "ringpipe replay: --to %s is %s, a dead-letter "
				"file of this replay: it would be overwritten "
				"(name another file)\n",
			o->to, hit);
		return RP_RUN_USAGE;
	}
	if ((*ixp = ix = rp_replay_index_open(prefix, &e, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "ringpipe replay: %s\n", err);
		return e == -ENOMEM ? RP_RUN_FAILED : RP_RUN_USAGE;
	}
	if ((code = choose(ix, cfg, o->stage, &sel, &k)))
		return code;
	if (sel < 0) {
		if (o->stage)
			fprintf(stderr,
				"replay: no records of stage %s in %s: "
				"nothing to do\n",
				o->stage, ix->idx_path);
		else
			fprintf(stderr,
				"replay: %s holds no records: nothing "
				"to do\n",
				ix->idx_path);
		return RP_RUN_OK;
	}
	if ((code = records_fit(ix, (unsigned)sel,
				&cfg->stages[cfg->order[k]])))
		return code;
	/* From here SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR1 wait for
	 * the run, which takes them as its own, so that the temporary file
	 * is always removed. */
	rp_run_hold_signals();
	if ((code = write_records(ix, (unsigned)sel, tmp, tmplen)) ||
	    (code = build(cfg, k, tmp, ix->stage[sel].count, o, prefix, rc)))
		return code;
	return run_numbered(rc, run, ix, (unsigned)sel);
}

int rp_replay(const struct rp_replay_opts *o, const struct rp_run_opts *run)
{
	struct rp_cfg *cfg = calloc(1, sizeof(*cfg));
	struct rp_cfg *rc = calloc(1, sizeof(*rc));
	struct rp_replay_index *ix = NULL;
	char tmp[PATH_MAX] = "";
	int code = RP_RUN_FAILED;

	if (cfg && rc) {
		code = replay(o, run, cfg, rc, &ix, tmp, sizeof(tmp));
	} else {
		fprintf(stderr, "ringpipe replay: out of memory\n");
	}
	if (tmp[0] != '\0' && unlink(tmp) < 0)
		fprintf(stderr, "ringpipe replay: removing %s: %s\n", tmp,
			strerror(errno));
	rp_replay_index_free(ix);
	if (cfg != NULL)
		rp_cfg_free(cfg);
	if (rc != NULL)
		rp_cfg_free(rc);
	free(rc);
	free(cfg);
	return code;
}
