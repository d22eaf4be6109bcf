/*
 * crashpoint.h - named places in the library where a test or the fault
 * stage can make the process die on purpose (SIGKILL, so no cleanup runs),
 * to prove that a crash at exactly that step loses and duplicates nothing.
 *
 * Disarmed, a crash point costs one load and a predictable branch.
 */
#ifndef RP_CRASHPOINT_H
#define RP_CRASHPOINT_H

enum rp_crash_point {
	RP_CP_NONE = 0,
	RP_CP_RESERVED,         /* producer: after reserve, before commit */
	RP_CP_COMMIT_HALF,      /* producer: header half written */
	RP_CP_BEFORE_PUBLISH,   /* producer: committed, cursor not stored */
	RP_CP_PEEKED,           /* consumer: peeked, not released */
	RP_CP_BEFORE_RELEASE,   /* consumer: inside release, cursor not stored */
	RP_CP_MP_LOCKED,        /* MP: holding the mutex, slot marked busy */
	RP_CP_MP_CURSOR_MOVED,  /* MP: holding the mutex, cursor advanced */
	RP_CP_MP_CLAIM_HELD,    /* MP: claim held outside the lock */
	RP_CP_MP_REPAIR,        /* MP: repairing a dead holder's state */
	RP_CP_CKPT_WRITTEN,     /* commit point written, index not flipped */
	RP_CP_COUNT
};

/* Arm: the n-th time (1-based) point is passed, the process SIGKILLs
 * itself.  n == 0 disarms. */
void rp_crashpoint_arm(enum rp_crash_point point, unsigned long n);
/* The same, but sending sig instead: SIGSTOP makes a process stuck at
 * that step (holding a lock, say), alive, until it is killed. */
void rp_crashpoint_arm_signal(enum rp_crash_point point, unsigned long n,
			      int sig);
const char *rp_crashpoint_name(enum rp_crash_point point);
/* Parse a name as printed by rp_crashpoint_name(); RP_CP_NONE if unknown. */
enum rp_crash_point rp_crashpoint_parse(const char *name);

extern enum rp_crash_point rp_crash_armed;
void rp_crashpoint_hit(enum rp_crash_point point);

#define RP_CRASHPOINT(p)                                                      \
	do {                                                                  \
		if (__builtin_expect(rp_crash_armed == (p), 0))               \
			rp_crashpoint_hit(p);                                 \
	} while (0)

#endif /* RP_CRASHPOINT_H */
