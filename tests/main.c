/*
 * main.c - the ringpipe test runner (CUnit, basic interface).
 *
 *   ringpipe-tests            every suite
 *   ringpipe-tests SUITE...   only those suites (in the runner's order)
 *
 * Each suite's time is printed after it, and the sum at the end.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "harness.h"

/* tests/test_recovery.c, tests/test_chaos.c, tests/test_replay.c */
void rp_suite_recovery(void);
void rp_suite_chaos(void);
void rp_suite_replay(void);
void rp_suite_standby(void);
void rp_suite_replicas(void);
void rp_suite_each(void);
void rp_suite_file_ends(void);
void rp_suite_errout(void);
void rp_suite_fuzz(void);

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned failed = 0;
	double total = 0;

	/* Tests' orphaned grandchildren are re-parented to us and reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	/* The tests send these to ringpipe as a terminal, a service
	 * manager or an operator would.  Started in the background by a
	 * script, the suite would have SIGINT and SIGQUIT ignored, and
	 * ringpipe, which keeps a signal ignored at its start ignored,
	 * with them. */
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	void (*suites[])(void) = {rp_suite_segment, rp_suite_ring,
				  rp_suite_stream,  rp_suite_crash,
				  rp_suite_mp,      rp_suite_mp_edges,
				  rp_suite_hostile,
				  rp_suite_ctl,     rp_suite_stage,
				  rp_suite_builtin, rp_suite_file_ends,
				  rp_suite_cli,     rp_suite_errout,
				  rp_suite_exec,    rp_suite_landlock,
				  rp_suite_recovery, rp_suite_chaos,
				  rp_suite_replay,  rp_suite_standby,
				  rp_suite_replicas, rp_suite_each,
				  rp_suite_fuzz};
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		suites[i]();

	CU_basic_set_mode(CU_BRM_VERBOSE);
	for (int i = 1; i < argc; i++)
		if (CU_get_suite(argv[i]) == NULL) {
			fprintf(stderr, "no suite named %s\n", argv[i]);
			CU_cleanup_registry();
			return 2;
		}
	/* The suites named, or all of them, one at a time, each timed: the
	 * whole run must stay within its budget. */
	for (CU_pSuite s = CU_get_registry()->pSuite; s; s = s->pNext) {
		const char *only = getenv("RP_TEST_ONLY");
		int chosen = argc == 1;
		double t0;
		for (int i = 1; i < argc; i++)
			chosen |= strcmp(argv[i], s->pName) == 0;
		if (!chosen)
			continue;
		/* RP_TEST_ONLY=TEXT: only the suite's tests whose names
		 * hold TEXT (while working on one). */
		for (CU_pTest t = s->pTest; only && t; t = t->pNext)
			CU_set_test_active(t, strstr(t->pName, only)
						      ? CU_TRUE
						      : CU_FALSE);
		t0 = now_s();
		CU_basic_run_suite(s);
		printf("[suite %s: %.1f s]\n", s->pName, now_s() - t0);
		total += now_s() - t0;
		/* Each run resets CUnit's counts: add them up. */
		failed += CU_get_number_of_failures() +
			  CU_get_number_of_tests_failed();
	}
	printf("[all suites: %.1f s, %u failure%s]\n", total, failed,
	       failed == 1 ? "" : "s");
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
