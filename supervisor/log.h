/*
 * log.h - the supervisor's log lines on stderr.
 *
 *   12:04:31.208 ringpipe: stage parse: killed by SIGSEGV on record 99
 *
 * Each line: the local time to the millisecond, "ringpipe:", the stage
 * it concerns if any, and the event.  The level decides which lines are
 * written: -q keeps errors only, -v adds every stage's start, state
 * changes and control records.  The report at the end and the progress
 * line are not log lines.
 */
#ifndef RP_LOG_H
#define RP_LOG_H

enum rp_log_level {
	RP_LOG_ERROR, /* the run fails, or a stage does for good */
	RP_LOG_INFO,  /* what a user watches for: restarts, quarantines,
		       * cancels, drains, waits at shutdown (the default) */
	RP_LOG_DEBUG, /* -v: starts, state changes, control records */
};

void rp_log_set_level(enum rp_log_level level);
/* Would a line at this level be written? */
int rp_log_on(enum rp_log_level level);
/* One line; stage may be NULL.  No newline in fmt. */
void rp_log(enum rp_log_level level, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "12:04:31.208" (13 bytes with the NUL) for now. */
void rp_log_stamp(char buf[16]);

#endif /* RP_LOG_H */
