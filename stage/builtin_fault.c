/*
 * builtin_fault.c - the fault stage, for crash-recovery tests: passes
 * records through and misbehaves on purpose on a chosen record.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../shm/crashpoint.h"
#include "sandbox.h"
#include "builtin.h"
#include "stage_int.h"
#include "stage_fault.h"

enum action { A_CRASH, A_HANG, A_EXIT, A_SYSCALL, A_CRASHPOINT, A_STALL,
	      A_SCRIBBLE, A_SCRIBBLE_RANDOM, A_KEY_AHEAD, A_GEOMETRY,
	      A_HEAD_BACK, A_HEAD_AHEAD, A_CTL_END, A_REFUSE_AHEAD };

struct fault {
	int have_at, have_match;
	uint64_t at;           /* the stage's input sequence number (a
				* replica's: its own count) */
	int at_start;          /* --at start: as it starts, before any */
	regex_t re;
	uint64_t random_at;    /* --random: drawn once per run */
	int have_random;
	uint64_t every;        /* --every: each N-th record, once */
	enum action act;
	int value;             /* signal, exit code or syscall number */
	enum rp_crash_point point;
	int have_do;
	uint64_t copies;       /* --copies: outputs per record (0: 1) */
	int midway;            /* --midway: misbehave after its first copy */
	int have_make;
	uint64_t make;         /* --make: records it makes, as a source */
	uint64_t next;         /* the next of them (saved and restored) */
};

/* Saved every this many records made: a restart makes the ones after
 * the last save again, numbered as before. */
#define MAKE_SAVE_EVERY 16u

/* seq: the record's input sequence number (a source's: its own). */
static int chosen(const struct fault *f, struct rp_stage *s, uint64_t seq,
		  const struct rp_record *r)
{
	/* A replica's record taken up again, counted before: the count
	 * that chose it then has moved on. */
	if (seq == UINT64_MAX && !f->have_match)
		return 0;
	if (f->have_at && !f->at_start && seq == f->at)
		return 1;
	/* Once per run: in the stage's first start only. */
	if (f->have_random && seq == f->random_at &&
	    rp_stage_incarnation(s) <= 1)
		return 1;
	/* The k-th multiple of N in the k-th incarnation only: each is
	 * hit once, and the restart goes on past it. */
	if (f->every && seq > 0 && seq % f->every == 0 &&
	    seq / f->every == rp_stage_incarnation(s))
		return 1;
	if (f->have_match) {
		regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)r->len};
		char nul = 0;
		/* REG_STARTEND: records are not NUL-terminated.  A record
		 * of length 0 still needs a valid pointer. */
		return regexec(&f->re, r->len ? r->data : &nul, 1, &m,
			       REG_STARTEND) == 0;
	}
	return 0;
}

static void misbehave(const struct fault *f, struct rp_stage *s)
{
	struct timespec t = {3600, 0};

	switch (f->act) {
	case A_CRASH:
		kill(getpid(), f->value);
		break;
	case A_HANG:
		for (;;)
			nanosleep(&t, NULL);
	case A_EXIT:
		_exit(f->value);
	case A_SYSCALL:
		syscall(f->value, 0, 0, 0, 0, 0, 0);
		break;
	case A_CRASHPOINT:
		/* Peeked is reached at the next record's peek, and a stage
		 * that has caught up with its producer releases what it read
		 * before it waits for more: held, this record is not among
		 * them, so a restart reads it again and dies again (it is a
		 * poison record for every point, as for the others). */
		if (f->point == RP_CP_PEEKED)
			(void)rp_stage_hold(s);
		rp_crashpoint_arm(f->point, 1);
		break;
	case A_STALL:
		rp_crashpoint_arm_signal(f->point, 1, SIGSTOP);
		break;
	case A_SCRIBBLE:
		/* Publish honestly first, then scribble and keep quiet, so
		 * the garbage is what the consumer reads next. */
		rp_stage_flush(s);
		rp_stage_fault_scribble(s);
		if (f->value) /* :crash - its restart finds it too */
			kill(getpid(), SIGSEGV);
		for (;;)
			nanosleep(&t, NULL);
	case A_KEY_AHEAD:
		rp_stage_fault_key_ahead(s, (uint64_t)1 << 40);
		break;
	case A_GEOMETRY:
		/* Then either claim the input ring is broken (framing its
		 * producer, if the supervisor took the ring as found) or
		 * crash, and find it so at the restart's attach. */
		if (rp_stage_fault_geometry(s) == 0)
			fprintf(stderr, "fault: changed the geometry of its "
					"input ring on its own page\n");
		if (f->value == 1)
			kill(getpid(), SIGSEGV);
		if (f->value == 0)
			_exit(RP_EXIT_VIOLATION);
		break; /* :stay - for its producer's next attach to find */
	case A_HEAD_BACK: {
		/* Long enough for the supervisor to have looked at the
		 * ring (it does at least once a second). */
		struct timespec look = {1, 200 * 1000000L};
		nanosleep(&look, NULL);
		if (rp_stage_fault_head_back(s) == 0)
			fprintf(stderr, "fault: stored its input ring's cursor "
					"back to 0\n");
		_exit(RP_EXIT_VIOLATION);
	}
	case A_HEAD_AHEAD:
		/* Then keep it there, reading nothing (a release would
		 * store its true cursor over it), for its producer to find
		 * at its attach or when its ring is full (the supervisor's
		 * samples take only cursors that stay in bounds); after
		 * 10 s unfound, go on. */
		if (rp_stage_fault_head_ahead(s) == 0) {
			struct timespec ten = {10, 0};
			fprintf(stderr, "fault: stored its input ring's cursor "
					"ahead of its producer's\n");
			nanosleep(&ten, NULL);
		}
		break;
	case A_CTL_END:
		/* Then go on: the supervisor must not take the mark for
		 * something to read at every turn of its loop.  Said first:
		 * it may be killed as soon as the mark is down. */
		fprintf(stderr, "fault: marking its control ring ended\n");
		if (rp_stage_fault_ctl_end(s) != 0)
			fprintf(stderr, "fault: its control ring could not "
					"be marked\n");
		break;
	case A_REFUSE_AHEAD:
		/* A lie the supervisor can only take at its word once:
		 * the restart, told to skip that record, says it again. */
		fprintf(stderr, "fault: saying it refused the record %d "
				"after this one\n", f->value);
		_exit(rp_stage_fault_refuse(s, rp_stage_taken(s) +
						       (uint64_t)f->value));
	case A_SCRIBBLE_RANDOM: {
		/* As a compromised stage would: garbage somewhere it may
		 * write, then carry on as if nothing happened. */
		char what[64];
		rp_stage_flush(s);
		rp_stage_fault_scribble_random(s, (uint64_t)f->value, what,
					       sizeof(what));
		fprintf(stderr, "fault: scribbled over %s\n", what);
		break;
	}
	}
}

static int fault_record(struct rp_stage *s, const struct rp_record *r,
			void *arg)
{
	struct fault *f = arg;
	int bad = f->have_do && chosen(f, s, rp_stage_taken(s), r), err = 0;

	if (bad && !f->midway)
		misbehave(f, s);
	for (uint64_t i = 0; i < (f->copies ? f->copies : 1) && !err; i++) {
		err = rp_emit(s, r->data, r->len);
		/* A line's kind goes on with it (a block, a piece). */
		if (err == 0 && r->type >= 16)
			err = rp_emit_type(s, r->type);
		/* (The second emit commits the first: the ring has it.) */
		if (bad && f->midway && i == 1)
			misbehave(f, s);
	}
	if (bad && f->act == A_KEY_AHEAD && f->value) {
		/* Published, then killed as if from outside: restarted,
		 * the record not blamed. */
		rp_stage_fault_publish(s);
		kill(getpid(), SIGKILL);
	}
	return err;
}

/* As a source: record K is K in decimal, its own origin, and what it
 * misbehaves on is chosen by K. */
static int fault_make(struct rp_stage *s, void *arg)
{
	struct fault *f = arg;
	char text[24];
	struct rp_record r = {.data = text};
	uint64_t k = f->next;
	int bad, err = 0;

	if (k >= f->make)
		return 0;
	r.len = (uint32_t)snprintf(text, sizeof(text), "%llu",
				   (unsigned long long)k);
	bad = f->have_do && chosen(f, s, k, &r);
	if (bad)
		misbehave(f, s);
	for (uint64_t i = 0; i < (f->copies ? f->copies : 1) && !err; i++) {
		if (i > 0)
			rp_emit_same_origin(s);
		err = rp_emit(s, r.data, r.len);
	}
	if (err == 0)
		err = rp_emit_end_origin(s);
	if (bad && f->act == A_KEY_AHEAD && f->value) {
		rp_stage_flush(s);
		kill(getpid(), SIGKILL);
	}
	/* A source numbers on from its last origin: back to honest keys,
	 * so the next one goes back from the far one (as behind a filter,
	 * whose keys are its input's). */
	if (bad && f->act == A_KEY_AHEAD)
		rp_stage_fault_key_ahead(s, (uint64_t)0 - ((uint64_t)1 << 40));
	f->next = k + 1;
	/* Where a restart makes on from: saved once published. */
	if (err == 0 && (f->next % MAKE_SAVE_EVERY == 0 || f->next == f->make))
		err = rp_stage_save(s, &f->next, 1);
	return err ? err : 1;
}

static const struct builtin *self(void);

static int parse_action(struct fault *f, const char *text)
{
	const char *colon = strchr(text, ':');
	const char *arg = colon ? colon + 1 : "";
	size_t n = colon ? (size_t)(colon - text) : strlen(text);

	if (n == 5 && !strncmp(text, "crash", n)) {
		f->act = A_CRASH;
		f->value = *arg ? atoi(arg) : SIGSEGV;
		if (f->value <= 0 || f->value >= 65)
			return builtin_usage(self(), "--do crash:SIG needs a "
						     "signal number");
	} else if (n == 4 && !strncmp(text, "hang", n)) {
		f->act = A_HANG;
	} else if (n == 4 && !strncmp(text, "exit", n)) {
		f->act = A_EXIT;
		f->value = atoi(arg);
		if (f->value < 0 || f->value > 255)
			return builtin_usage(self(), "--do exit:CODE, 0-255");
	} else if (n == 7 && !strncmp(text, "syscall", n) &&
		   !strcmp(arg, "x32")) {
#ifdef __x86_64__
		/* getppid through the x32 ABI: the filter's arch check. */
		f->act = A_SYSCALL;
		f->value = 0x40000000 | SYS_getppid;
#else
		return builtin_usage(self(), "--do syscall:x32 is for x86_64");
#endif
	} else if (n == 7 && !strncmp(text, "syscall", n)) {
		f->act = A_SYSCALL;
		f->value = rp_syscall_number(arg);
		if (f->value < 0)
			return builtin_usage(self(), "--do syscall:%s: unknown "
						     "syscall", arg);
	} else if (n == 8 && !strncmp(text, "scribble", n) &&
		   !strcmp(arg, "crash")) {
		f->act = A_SCRIBBLE;
		f->value = 1;
	} else if (n == 8 && !strncmp(text, "scribble", n) && *arg) {
		char *end;
		f->act = A_SCRIBBLE_RANDOM;
		f->value = (int)strtol(arg, &end, 10);
		if (*end != '\0' || f->value < 0)
			return builtin_usage(self(), "--do scribble:SEED needs "
						     "a number");
	} else if (n == 8 && !strncmp(text, "scribble", n)) {
		f->act = A_SCRIBBLE;
	} else if (n == 8 && !strncmp(text, "geometry", n)) {
		f->act = A_GEOMETRY;
		f->value = !strcmp(arg, "crash") ? 1 : !strcmp(arg, "stay") ? 2 : 0;
		if (*arg && !f->value)
			return builtin_usage(self(), "--do geometry[:crash|:stay]");
	} else if (n == 9 && !strncmp(text, "head-back", n) && !*arg) {
		f->act = A_HEAD_BACK;
	} else if (n == 10 && !strncmp(text, "head-ahead", n) && !*arg) {
		f->act = A_HEAD_AHEAD;
	} else if (n == 7 && !strncmp(text, "ctl-end", n) && !*arg) {
		f->act = A_CTL_END;
	} else if (n == 12 && !strncmp(text, "refuse-ahead", n)) {
		char *end;
		f->act = A_REFUSE_AHEAD;
		f->value = (int)strtol(arg, &end, 10);
		if (end == arg || *end != '\0' || f->value < 1 ||
		    f->value > 1000000)
			return builtin_usage(self(), "--do refuse-ahead:N needs "
						     "a count, 1 to 1000000");
	} else if (n == 9 && !strncmp(text, "key-ahead", n)) {
		f->act = A_KEY_AHEAD;
		f->value = !strcmp(arg, "kill");
		if (*arg && !f->value)
			return builtin_usage(self(), "--do key-ahead[:kill]");
	} else if ((n == 10 && !strncmp(text, "crashpoint", n)) ||
		   (n == 5 && !strncmp(text, "stall", n))) {
		f->act = n == 5 ? A_STALL : A_CRASHPOINT;
		f->point = rp_crashpoint_parse(arg);
		if (f->point == RP_CP_NONE)
			return builtin_usage(self(), "--do crashpoint:%s: "
						     "unknown crash point", arg);
	} else {
		return builtin_usage(self(), "--do %s: expected crash[:SIG], "
					     "hang, exit:CODE, syscall:NAME, "
					     "scribble[:SEED|:crash], key-ahead[:kill], "
					     "geometry[:crash|:stay], head-back, "
					     "head-ahead, ctl-end, refuse-ahead:N, "
					     "crashpoint:NAME or stall:NAME",
				     text);
	}
	return 0;
}

static int fault_main(int argc, char **argv)
{
	struct fault f;
	struct rp_stage *s;
	int err;

	memset(&f, 0, sizeof(f));
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 >= argc)
			return builtin_usage(self(), "%s needs a value", o);
		if (!strcmp(o, "--at") && !strcmp(argv[i + 1], "start")) {
			f.have_at = f.at_start = 1;
			i++;
		} else if (!strcmp(o, "--at")) {
			if ((err = builtin_parse_count(self(), o, argv[++i],
						       &f.at)))
				return err;
			f.have_at = 1;
		} else if (!strcmp(o, "--match")) {
			if (regcomp(&f.re, argv[++i],
				    REG_EXTENDED | REG_NOSUB) != 0)
				return builtin_usage(self(), "--match: bad "
							     "regex");
			f.have_match = 1;
		} else if (!strcmp(o, "--random")) {
			/* SEED:MAX - one record in [0, MAX), the same for
			 * the same seed, hit in the first start only. */
			unsigned long seed, max;
			if (sscanf(argv[++i], "%lu:%lu", &seed, &max) != 2 ||
			    max == 0)
				return builtin_usage(self(), "--random "
							     "SEED:MAX");
			srand((unsigned)seed);
			f.random_at = (uint64_t)rand() % max;
			f.have_random = 1;
		} else if (!strcmp(o, "--every")) {
			if ((err = builtin_parse_count(self(), o, argv[++i],
						       &f.every)))
				return err;
			if (f.every == 0)
				return builtin_usage(self(), "--every: at "
							     "least 1");
		} else if (!strcmp(o, "--do")) {
			if ((err = parse_action(&f, argv[++i])))
				return err;
			f.have_do = 1;
		} else if (!strcmp(o, "--make")) {
			if ((err = builtin_parse_count(self(), o, argv[++i],
						       &f.make)))
				return err;
			f.have_make = 1;
		} else if (!strcmp(o, "--midway")) {
			f.midway = 1;
		} else if (!strcmp(o, "--copies")) {
			if ((err = builtin_parse_count(self(), o, argv[++i],
						       &f.copies)))
				return err;
			if (f.copies == 0 || f.copies > 1000)
				return builtin_usage(self(), "--copies: 1 to "
							     "1000");
		} else {
			return builtin_usage(self(), "unknown option %s", o);
		}
	}
	if (f.have_do !=
	    (f.have_at || f.have_match || f.have_random || f.every != 0))
		return builtin_usage(self(), "--do and one of --at, --match, "
					     "--random, --every go together");
	if (f.midway && (f.copies < 2 || f.have_make))
		return builtin_usage(self(), "--midway needs --copies 2 or "
					     "more, and an input");
	if (!f.have_do && !f.copies && !f.have_make)
		return builtin_usage(self(), "needs --do and one of --at, "
					     "--match, --random, --every, or "
					     "--copies, or --make");
	rp_stage_fault_self_signals();
	if ((err = builtin_open(NULL, 0, &s)))
		return err;
	if (!f.have_make && rp_stage_in_capacity(s) == 0) {
		fprintf(stderr, "fault: it has no input: as a source it needs "
				"--make N\n");
		rp_stage_finish(s, -EINVAL, 0);
		return RP_EXIT_USAGE; /* the same every time: no restart */
	}
	/* Attached, its hand-shake done: before its producer's first
	 * attach, as the supervisor starts the sink first. */
	if (f.at_start)
		misbehave(&f, s);
	if (!f.have_make)
		return rp_stage_run(s, fault_record, &f);
	if (rp_stage_in_capacity(s) != 0) {
		fprintf(stderr, "fault: --make makes its own records: it "
				"takes no input\n");
		rp_stage_finish(s, -EINVAL, 0);
		return RP_EXIT_USAGE;
	}
	/* A restart makes on after the last record it had saved. */
	if (!rp_stage_restored(s, &f.next, 1))
		f.next = 0;
	return rp_stage_run_source(s, fault_make, &f);
}

const struct builtin builtin_fault = {
	.name = "fault",
	.synopsis = "(--at N | --match REGEX | --random SEED:MAX | --every N) "
		    "--do ACTION [--copies N [--midway]] | --copies N "
		    "[--midway] | --make N",
	.summary = "pass records through (or make them); misbehave on a "
		   "chosen one",
	.help =
"  --at N          the record with input sequence number N (it keeps\n"
"                  its number after a restart, so it is a poison record)\n"
"  --at start      as it starts, attached, before any record (and so,\n"
"                  the sink being started first, most likely before\n"
"                  its producer attaches); at each start\n"
"  --match REGEX   every record matching the extended regex\n"
"  --random S:MAX  one record in [0, MAX), drawn from seed S, once per\n"
"                  run (a restart goes on past it)\n"
"  --every N       records N, 2N, 3N, ... each once: the k-th in the\n"
"                  stage's k-th start, so a restart goes on past it\n"
"  --do crash[:SIG]      kill itself with signal SIG (default SIGSEGV)\n"
"  --do hang             stop making progress (sleeps)\n"
"  --do exit:CODE        exit with CODE\n"
"  --do syscall:NAME     make syscall NAME (denied: reported by name)\n"
"  --do syscall:x32      make one through the x32 ABI (x86_64), which\n"
"                        the filter kills outright\n"
"  --do scribble:SEED    write 8 random bytes (from SEED) somewhere it\n"
"                        may write - its output ring's page or records,\n"
"                        its input ring's page, its control ring - then\n"
"                        carry on as if nothing happened\n"
"  --do scribble[:crash] write garbage over its output ring's cursor,\n"
"                        then stop making progress;\n"
"                        the consumer detects it, and the report blames\n"
"                        this stage, the only one that can write it;\n"
"                        with :crash it crashes instead, and whoever\n"
"                        finds it first, its consumer or its restart,\n"
"                        this stage is still the one blamed\n"
"  --do key-ahead[:kill] give this record's output a key (origin)\n"
"                        2^40 ahead, with a valid header, and go on\n"
"                        honestly: its consumer sees the next key go\n"
"                        back and blames this stage; with :kill it\n"
"                        publishes that record and SIGKILLs itself,\n"
"                        and its restart's first record is caught\n"
"  --do geometry[:crash|:stay]\n"
"                        change the geometry copy on its own page of\n"
"                        its input ring, then say that ring is broken\n"
"                        (found on its own page, against the\n"
"                        supervisor's copy);\n"
"                        with :crash crash, and find it so when\n"
"                        restarted; with :stay go on, for its\n"
"                        producer's next attach to find\n"
"  --do head-back        after 1.2 s, store its input ring's cursor\n"
"                        back to 0 and say that ring is broken (the lie\n"
"                        is found against the supervisor's samples)\n"
"  --do head-ahead       store its input ring's cursor ahead of all its\n"
"                        producer published and keep it there, reading\n"
"                        nothing for 10 s: its producer finds it so (at\n"
"                        its attach, or when its ring is full)\n"
"  --do ctl-end          mark its control ring to the supervisor ended\n"
"                        (nobody ends one), then go on: the supervisor\n"
"                        calls its format broken and kills it\n"
"  --do refuse-ahead:N   say it refused the record N after this one,\n"
"                        which it does not have, and end: a lie taken\n"
"                        once, and caught when its restart, told to\n"
"                        skip that record, says it again\n"
"  --do crashpoint:NAME  die at the library's named step while\n"
"                        emitting this record (reserved, commit-half,\n"
"                        before-publish, peeked, before-release, ...)\n"
"  --do stall:NAME       stop itself (SIGSTOP) at that step instead:\n"
"                        stuck there, alive (mp-locked: holding the\n"
"                        lock replicas share)\n"
"  --copies N      emit each record N times (1-1000), as outputs of\n"
"                  its one origin: a stage whose output outgrows its\n"
"                  input\n"
"  --midway        misbehave amid the chosen record's copies, after\n"
"                  the second is emitted (the first committed)\n"
"  --make N        as a source (no input): make records 0 to N-1 (the\n"
"                  number in decimal, each its own origin), saving its\n"
"                  place every 16 so a restart goes on from there;\n"
"                  --at and the others choose by that number\n"
"  (With replicas, N counts the records each replica took, once each\n"
"  across its restarts.)\n",
	.main = fault_main,
};

static const struct builtin *self(void)
{
	return &builtin_fault;
}
