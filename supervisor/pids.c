/*
 * pids.c - who runs each place of a pipeline (see pids.h).
 */
#include "pids.h"

void rp_pids_begin(struct rp_run_pids *t)
{
	/* Odd, then (release fence) the fields: pairs with the reader's
	 * acquire fence before its second look at seq. */
	rp_store32_relaxed(&t->seq, rp_load32_relaxed(&t->seq) | 1u);
	rp_fence_release();
}

void rp_pids_set(struct rp_run_pids *t, int i, int pos, pid_t pid,
		 pid_t standby)
{
	if (i < 0 || i >= RP_CFG_MAX_PROCS)
		return;
	rp_store32_relaxed(&t->p[i].pos, (uint32_t)pos);
	rp_store32_relaxed(&t->p[i].pid, pid > 0 ? (uint32_t)pid : 0);
	rp_store32_relaxed(&t->p[i].standby,
			   standby > 0 ? (uint32_t)standby : 0);
}

void rp_pids_end(struct rp_run_pids *t, int n)
{
	rp_store32_relaxed(&t->n, (uint32_t)n);
	/* Even: everything above is seen with it. */
	rp_store32_release(&t->seq, rp_load32_relaxed(&t->seq) + 1u);
}

int rp_pids_at(const struct rp_run_pids *t, int pos, pid_t *out, int max)
{
	pid_t run[RP_CFG_MAX_PROCS], spare[RP_CFG_MAX_PROCS];

	for (int tries = 0; tries < 1000; tries++) {
		uint32_t a = rp_load32_acquire(&t->seq), n;
		int nr = 0, ns = 0, k = 0;
		if (a & 1u) {
			rp_cpu_relax();
			continue;
		}
		n = rp_load32_relaxed(&t->n);
		/* Read as written, and checked all the same. */
		if (n > RP_CFG_MAX_PROCS)
			n = RP_CFG_MAX_PROCS;
		for (uint32_t i = 0; i < n; i++) {
			pid_t p, sb;
			if ((int)rp_load32_relaxed(&t->p[i].pos) != pos)
				continue;
			p = (pid_t)rp_load32_relaxed(&t->p[i].pid);
			sb = (pid_t)rp_load32_relaxed(&t->p[i].standby);
			if (p > 0)
				run[nr++] = p;
			if (sb > 0)
				spare[ns++] = sb;
		}
		rp_fence_acquire();
		if (rp_load32_relaxed(&t->seq) != a)
			continue;
		for (int i = 0; i < nr && k < max; i++)
			out[k++] = run[i];
		for (int i = 0; i < ns && k < max; i++)
			out[k++] = spare[i];
		return k;
	}
	return -1;
}
