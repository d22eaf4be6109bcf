/*
 * progress.h - the one-line progress display a run keeps on a terminal.
 *
 * While it is on, the supervisor's stderr goes through a stream that
 * erases the line before anything else is written (a stage's stderr, a
 * restart, the report), so the line never mixes with other output; the
 * next tick draws it again.  Off when stderr is not a terminal.
 */
#ifndef RP_PROGRESS_H
#define RP_PROGRESS_H

/* Turn it on if stderr is a terminal: 1 if on, 0 if not. */
int rp_progress_begin(void);
/* Draw text as the line, cut to the terminal's width. */
void rp_progress_show(const char *text);
/* Erase the line and give stderr back. */
void rp_progress_end(void);

#endif /* RP_PROGRESS_H */
