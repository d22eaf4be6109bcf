/*
 * cfg_check.h - the checks fuzz_config and fuzz_oneliner share.
 */
#ifndef RP_FUZZ_CFG_CHECK_H
#define RP_FUZZ_CFG_CHECK_H

#include "../../supervisor/config.h"

/* err: what the parse returned; file: the name errors must start with.
 * Aborts on anything a parse must never give. */
void fz_cfg_check(const struct rp_cfg *cfg, int err, const char *file);

#endif
