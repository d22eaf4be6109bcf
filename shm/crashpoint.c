/*
 * crashpoint.c - deliberate deaths at named steps (see crashpoint.h).
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"

enum rp_crash_point rp_crash_armed = RP_CP_NONE;
static unsigned long crash_countdown;

static const char *const names[RP_CP_COUNT] = {
	[RP_CP_NONE] = "none",
	[RP_CP_RESERVED] = "reserved",
	[RP_CP_COMMIT_HALF] = "commit-half",
	[RP_CP_BEFORE_PUBLISH] = "before-publish",
	[RP_CP_PEEKED] = "peeked",
	[RP_CP_BEFORE_RELEASE] = "before-release",
	[RP_CP_MP_LOCKED] = "mp-locked",
	[RP_CP_MP_CURSOR_MOVED] = "mp-cursor-moved",
	[RP_CP_MP_CLAIM_HELD] = "mp-claim-held",
	[RP_CP_MP_REPAIR] = "mp-repair",
	[RP_CP_CKPT_WRITTEN] = "ckpt-written",
};

static int crash_sig = SIGKILL;

void rp_crashpoint_arm_signal(enum rp_crash_point point, unsigned long n,
			      int sig)
{
	rp_crashpoint_arm(point, n);
	crash_sig = sig;
}

void rp_crashpoint_arm(enum rp_crash_point point, unsigned long n)
{
	crash_sig = SIGKILL;
	if (point <= RP_CP_NONE || point >= RP_CP_COUNT || n == 0) {
		rp_crash_armed = RP_CP_NONE;
		crash_countdown = 0;
		return;
	}
	crash_countdown = n;
	rp_crash_armed = point;
}

void rp_crashpoint_hit(enum rp_crash_point point)
{
	if (point != rp_crash_armed || --crash_countdown > 0)
		return;
	rp_crash_armed = RP_CP_NONE;
	kill(getpid(), crash_sig);
	/* Still here after a SIGKILL: pid 1 of a namespace, which cannot
	 * kill itself.  Said and ended, not hung until a timeout. */
	if (crash_sig == SIGKILL) {
		static const char msg[] = "crash point: cannot kill itself "
					  "(pid 1 of its namespace)\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
		_exit(1);
	}
	/* SIGSTOP: stuck right here until someone kills us. */
	for (;;)
		pause();
}

const char *rp_crashpoint_name(enum rp_crash_point point)
{
	if (point < 0 || point >= RP_CP_COUNT)
		return "unknown";
	return names[point];
}

enum rp_crash_point rp_crashpoint_parse(const char *name)
{
	for (int i = 1; i < RP_CP_COUNT; i++)
		if (strcmp(name, names[i]) == 0)
			return (enum rp_crash_point)i;
	return RP_CP_NONE;
}
