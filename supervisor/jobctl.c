/*
 * jobctl.c - stopping the supervisor itself (jobctl.h).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>

#include "jobctl.h"

void rp_stop_self(void)
{
	struct sigaction dfl, old;
	sigset_t tstp;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	sigaction(SIGTSTP, &dfl, &old);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);
	raise(SIGTSTP);
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	sigaction(SIGTSTP, &old, NULL);
}
