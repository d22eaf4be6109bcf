/*
 * replay.h - ringpipe replay: quarantined records back through the stage
 * that choked on them, once it is fixed.
 *
 * The dead-letter output (deadletter.h) is read as hostile input
 * (replay_index.h): of each line of PREFIX.jsonl only "stage", "offset"
 * and "length" are used, every line must be a flat JSON object, every
 * offset and length must lie inside PREFIX.rec, and the frame there must
 * carry the length the index says.  Anything else is reported as
 * "PREFIX.jsonl:LINE: what is wrong" and nothing runs.
 *
 * The records of one stage NAME (--stage, or the only stage the index
 * names; several stages and no --stage is refused) are copied to a
 * private temporary file, and the pipeline is rebuilt around NAME:
 *
 *   file-source --records TMP ! NAME ! (the stages after NAME) ! SINK
 *
 * The stages before NAME are gone; NAME and those after it run as
 * configured, except the last: a built-in file-sink keeps its options but
 * writes to --to (default -, stdout), anything else after NAME is replaced
 * by `file-sink --to`.  So a replay never touches the pipeline's real
 * output.  When NAME itself is the last stage and not a file-sink, it is
 * kept as it is and --to is refused.  The run's own quarantines go to
 * PREFIX.replay.rec and .jsonl (appended to; the original files are only
 * read), and the run is `ringpipe run`'s (run.h).  The temporary file is
 * removed whatever the outcome, short of a SIGKILL.
 *
 * Ends with one line on stderr:
 *   replay: N records from PREFIX.rec through NAME: P passed, Q
 *   quarantined again (PREFIX.replay.rec)
 * Q counts the lines the run added to PREFIX.replay.jsonl (at any stage);
 * P is N - Q: records not quarantined again in a run that ended well
 * (a stage after NAME may still have filtered them out, as grep does).
 * When the run fails, P is not known: "the run failed (exit C)" stands
 * in its place.
 *
 * The pipeline may be given as a one-liner (replay -e '...'), as the run
 * that quarantined the records was.
 *
 * Exit codes: 0 every record passed, 1 some were quarantined again or the
 * run failed, 2 bad usage or a bad dead-letter output, 130/143 as `run`.
 */
#ifndef RP_REPLAY_H
#define RP_REPLAY_H

#include "run.h"

struct rp_replay_opts {
	const char *file;  /* the pipeline's YAML file, or with line: */
	int line;          /* the pipeline, as ringpipe -e takes it */
	const char *dead;  /* dead-letter prefix; NULL: the file's */
	const char *stage; /* the stage to replay through; NULL: the index's */
	const char *to;	   /* the sink's file; NULL: "-" */
	int append;        /* the sink writes after what to holds */
};

/* The replay command; an exit code as above. */
int rp_replay(const struct rp_replay_opts *o, const struct rp_run_opts *run);

#endif /* RP_REPLAY_H */
