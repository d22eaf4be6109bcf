/*
 * argcheck.h - ringpipe check asks each built-in stage whether it takes
 * its arguments.
 *
 * A built-in's arguments are its own to judge (config.c does not know
 * grep's regular expressions or file-source's options): check runs
 * ringpipe-stage NAME ARGS with RINGPIPE_CHECK_ARGS set, which parses
 * them, looks for a file-source's FILE and an exec's CMD, and exits
 * without opening or creating anything (builtin.h).  Its first line on
 * stderr is the error, placed at the stage's line and column.
 */
#ifndef RP_ARGCHECK_H
#define RP_ARGCHECK_H

#include "config.h"

/* 0, or -EINVAL with cfg->error set ("FILE:LINE:COL: stage 'x': ..."). */
int rp_argcheck(struct rp_cfg *cfg, const char *stage_bin);

#endif /* RP_ARGCHECK_H */
