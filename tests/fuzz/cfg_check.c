/*
 * cfg_check.c - what a parsed pipeline promises, from a file or a
 * one-liner alike.
 */
#include <errno.h>
#include <string.h>

#include "../../stage/wiring.h"
#include "cfg_check.h"
#include "fuzz.h"

/* What every parse promises, file or one-liner. */
void fz_cfg_check(const struct rp_cfg *cfg, int err, const char *file)
{
	int seen[RP_CFG_MAX_STAGES] = {0};

	FZ_CHECK(err == 0 || err == -EINVAL || err == -ENOMEM);
	if (err == -ENOMEM)
		return; /* (said by the caller, not in cfg->error) */
	if (err) {
		/* "FILE: ..." or "FILE:LINE:COL: ..." */
		size_t fl = strlen(file);
		FZ_CHECK(strncmp(cfg->error, file, fl) == 0);
		FZ_CHECK(cfg->error[fl] == ':');
		FZ_CHECK(strlen(cfg->error) > fl + 2);
		return;
	}
	FZ_CHECK(cfg->nstages >= 2 && cfg->nstages <= RP_CFG_MAX_STAGES);
	for (int i = 0; i < cfg->nstages; i++) {
		const struct rp_cfg_stage *st = &cfg->stages[i];
		int o = cfg->order[i];

		FZ_CHECK(o >= 0 && o < cfg->nstages && !seen[o]);
		seen[o] = 1;
		FZ_CHECK(rp_wiring_valid_name(st->name));
		FZ_CHECK(st->argc >= 1 && st->argc <= RP_CFG_MAX_ARGS + 1);
		for (int a = 0; a < st->argc; a++)
			FZ_CHECK(st->argv[a] != NULL);
		FZ_CHECK(st->argv[st->argc] == NULL);
		FZ_CHECK(st->replicas >= 1 &&
			 st->replicas <= RP_CFG_MAX_REPLICAS);
		FZ_CHECK(st->ring >= 4096 && (st->ring & (st->ring - 1)) == 0);
		/* The source has no input; every other stage's input is a
		 * stage before it in the order. */
		if (i == 0)
			FZ_CHECK(cfg->stages[o].input[0] == '\0');
	}
	for (int i = 1; i < cfg->nstages; i++) {
		const struct rp_cfg_stage *st = &cfg->stages[cfg->order[i]];
		int found = 0;
		for (int j = 0; j < i; j++)
			found |= !strcmp(cfg->stages[cfg->order[j]].name,
					 st->input);
		FZ_CHECK(found);
	}
	/* The last stage, read by none, is not a built-in that only
	 * passes records on. */
	{
		const struct rp_cfg_stage *st =
			&cfg->stages[cfg->order[cfg->nstages - 1]];
		static const char *const passers[] = {"lines", "grep", "head",
						      "fault"};
		for (size_t i = 0; i < sizeof(passers) / sizeof(*passers); i++)
			FZ_CHECK(!st->builtin ||
				 strcmp(st->argv[0], passers[i]) != 0);
	}
}

