/*
 * signaller.c - a hostile parser that reaches for other processes,
 * which share its uid.  Given "pid" it says its own pid before its first
 * record ("PID n") and passes records through (a record "wait" keeps it
 * a second longer).  Given "probe" it tries
 * each such pid with kill(pid, 0), which asks the kernel whether a
 * signal could be sent and sends none, and its parent (the supervisor)
 * likewise: "sibling ok" or "sibling EPERM", "parent ...".  Given
 * "limit" it asks for such a pid's open-file limit with prlimit.
 * Given "inherit" it says, before its first record, whether fd 9 was
 * open when it started, before its library could close anything ("fd9
 * open" or "fd9 closed").
 * Other records pass through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ringpipe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static char mode;
static int told, fd9_open;

static int say(struct rp_stage *s, const char *who, int r)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s %s", who,
			 r == 0 ? "ok" : strerrorname_np(errno));
	return rp_emit(s, line, (uint32_t)n);
}

static int step(struct rp_stage *s, const struct rp_record *in, void *arg)
{
	char text[32];
	long pid;
	int err;

	(void)arg;
	if (mode == 'i' && !told) {
		told = 1;
		if ((err = rp_emit(s, fd9_open ? "fd9 open" : "fd9 closed",
				   fd9_open ? 8 : 10)))
			return err;
	}
	if (mode == 'p' && !told) {
		int n = snprintf(text, sizeof(text), "PID %d", (int)getpid());
		told = 1;
		if ((err = rp_emit(s, text, (uint32_t)n)))
			return err;
	}
	snprintf(text, sizeof(text), "%.*s",
		 (int)(in->len < sizeof(text) - 1 ? in->len : sizeof(text) - 1),
		 (const char *)in->data);
	/* Alive while the probe is made: a record "wait" holds it. */
	if (mode == 'p' && strcmp(text, "wait") == 0)
		sleep(1);
	if (strncmp(text, "PID ", 4) != 0 || mode == 'p' ||
	    (pid = strtol(text + 4, NULL, 10)) <= 1)
		return rp_emit(s, in->data, in->len);
	if (mode == 'l') {
		struct rlimit rl;
		int r = prlimit((pid_t)pid, RLIMIT_NOFILE, NULL, &rl);
		return say(s, "limit", r);
	}
	if ((err = say(s, "sibling", kill((pid_t)pid, 0))))
		return err;
	return say(s, "parent", kill(getppid(), 0));
}

int main(int argc, char **argv)
{
	struct rp_stage *s;
	int err;

	fd9_open = fcntl(9, F_GETFD) >= 0;
	err = rp_stage_open(&s);

	mode = argc < 2			     ? 0
	       : strcmp(argv[1], "pid") == 0   ? 'p'
	       : strcmp(argv[1], "probe") == 0 ? 'k'
	       : strcmp(argv[1], "limit") == 0 ? 'l'
	       : strcmp(argv[1], "inherit") == 0 ? 'i'
					       : 0;
	if (err)
		return err == -EPERM     ? RP_EXIT_SANDBOX
		     : err == -EBADMSG ? RP_EXIT_VIOLATION
				       : RP_EXIT_USAGE;
	return rp_stage_run(s, step, NULL);
}
