/*
 * main.c - the ringpipe test runner (CUnit, basic interface).
 *
 *   ringpipe-tests            every suite
 *   ringpipe-tests SUITE...   only those suites
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

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

int main(int argc, char **argv)
{
	unsigned failed = 0;

	/* Tests' orphaned grandchildren are re-parented to us and reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
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
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			CU_pSuite s = CU_get_suite(argv[i]);
			const char *only = getenv("RP_TEST_ONLY");
			if (s == NULL) {
				fprintf(stderr, "no suite named %s\n", argv[i]);
				CU_cleanup_registry();
				return 2;
			}
			/* RP_TEST_ONLY=TEXT: only the suite's tests whose
			 * names hold TEXT (while working on one). */
			for (CU_pTest t = s->pTest; only && t; t = t->pNext)
				CU_set_test_active(t, strstr(t->pName, only)
							      ? CU_TRUE
							      : CU_FALSE);
			CU_basic_run_suite(s);
			/* Each run resets CUnit's counts: add them up. */
			failed += CU_get_number_of_failures() +
				  CU_get_number_of_tests_failed();
		}
	} else {
		CU_basic_run_tests();
		failed = CU_get_number_of_failures() +
			 CU_get_number_of_tests_failed();
	}
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
