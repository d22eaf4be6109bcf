/*
 * test_landlock.c - the sandbox's Landlock layer as users rely on it: an
 * exec stage's command writes only beneath fs_write and reads only
 * beneath fs_read; strict stages open nothing, yet what they opened
 * before keep working (truncation included); the report lists the layer
 * wherever it is in force; `ringpipe check` names every mistake in the
 * lists; a missing path fails the stage by name; and a kernel without
 * Landlock is said, tolerated or fatal as configured.
 *
 * When the tests run as root, stages run as uid 65534: directories an
 * exec stage's command must reach are opened up to it here, so that a
 * denial can only come from Landlock, never from file modes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../shm/layout.h"
#include "../stage/landlock.h"
#include "../stage/wiring.h"
#include "cmd.h"
#include "harness.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif

static int run_yaml(const char *yaml, char **report)
{
	return rp_cmd_yaml("run", yaml, report);
}

static int check_yaml(const char *yaml, char **report)
{
	return rp_cmd_yaml("check", yaml, report);
}

/* dir/name, made with mode (not narrowed by the umask). */
static void make_dir(const char *name, mode_t mode)
{
	char p[256];

	rp_cmd_path(p, sizeof(p), name);
	CU_ASSERT_FATAL(mkdir(p, mode) == 0);
	CU_ASSERT_FATAL(chmod(p, mode) == 0);
}

static int exists(const char *name)
{
	char p[256];
	struct stat st;

	rp_cmd_path(p, sizeof(p), name);
	return stat(p, &st) == 0;
}

/* The layers the report lists for a stage ("" if it has no line). */
static void layers_of(const char *report, const char *stage, char *out,
		      size_t len)
{
	char head[64];
	const char *line, *l;

	out[0] = '\0';
	snprintf(head, sizeof(head), "\n  %s ", stage);
	line = strstr(report, head);
	if (line == NULL)
		return;
	l = strstr(line, " layers ");
	if (l == NULL || strchr(line + 1, '\n') < l)
		return;
	l += strlen(" layers ");
	snprintf(out, len, "%.*s", (int)strcspn(l, " \n"), l);
}

#define WITH_LL "fds,rlimits,noroot,pdeath,nnp,landlock,seccomp"

/* ------------------------------------------------------ exec, writes */

/* The command may create and write files beneath fs_write and nowhere
 * else, although the file modes would let it (0777 and 0666). */
RP_TEST(test_landlock_exec_writes_only_fs_write, 60)
{
	const char *d;
	char yaml[2048], *rep, *out, *kept;
	size_t n;
	int code;

	rp_cmd_dir_make("landlock");
	d = rp_cmd_dir();
	CU_ASSERT_FATAL(chmod(d, 0755) == 0);
	make_dir("w", 0777);
	make_dir("outside", 0777);
	rp_cmd_spit("outside/kept", "old\n", 4);
	{
		char p[256];
		rp_cmd_path(p, sizeof(p), "outside/kept");
		CU_ASSERT_FATAL(chmod(p, 0666) == 0);
	}
	snprintf(yaml, sizeof(yaml),
		 "name: ll\nstages:\n"
		 "  - name: sh\n    run: exec\n"
		 "    args: [--, bash, -c, '"
		 "echo in > %s/w/ok && echo created; "
		 "{ echo x > %s/outside/bad; } 2>&1; echo \"create $?\"; "
		 "{ echo x >> %s/outside/kept; } 2>&1; echo \"append $?\"; "
		 "mkdir %s/outside/sub 2>&1; echo \"mkdir $?\"']\n"
		 "    sandbox:\n      fs_write: [%s/w]\n"
		 "  - name: out\n    input: sh\n    run: file-sink\n"
		 "    args: [--lines, %s/OUT]\n",
		 d, d, d, d, d, d);
	code = run_yaml(yaml, &rep);
	out = rp_cmd_slurp("OUT", &n);
	if (code != 0)
		fprintf(stderr, "exit %d:\n%s\nOUT:\n%s\n", code, rep, out);
	CU_ASSERT_EQUAL(code, 0);
	/* Inside fs_write: created and written. */
	CU_ASSERT(strstr(out, "created\n") != NULL);
	kept = rp_cmd_slurp("w/ok", &n);
	CU_ASSERT_STRING_EQUAL(kept, "in\n");
	free(kept);
	/* Outside: each attempt fails with EACCES and leaves no trace. */
	CU_ASSERT(strstr(out, "outside/bad: Permission denied\ncreate 1\n") !=
		  NULL);
	CU_ASSERT(strstr(out, "outside/kept: Permission denied\nappend 1\n") !=
		  NULL);
	CU_ASSERT(strstr(out, "Permission denied\nmkdir 1\n") != NULL);
	CU_ASSERT_FALSE(exists("outside/bad"));
	CU_ASSERT_FALSE(exists("outside/sub"));
	kept = rp_cmd_slurp("outside/kept", &n);
	CU_ASSERT_STRING_EQUAL(kept, "old\n");
	free(kept);
	free(out);
	free(rep);
	rp_cmd_dir_remove();
}

/* ------------------------------------------------------- exec, reads */

/* With fs_read limited to where bash and its libraries live, /etc is out
 * of reach; with the default (/) it is readable.  /dev/null is writable
 * either way. */
RP_TEST(test_landlock_exec_reads_only_fs_read, 60)
{
	static const char *const sys[] = {"/usr", "/lib", "/lib64", "/bin"};
	static const char script[] =
		"if cat /etc/passwd > /dev/null; then echo readable; "
		"else echo unreadable; fi; "
		"echo x > /dev/null && echo devnull-ok";
	char list[128] = "", yaml[2048], *rep, *out;
	size_t n;
	int code;

	/* Only those this system has: a missing one would fail the stage. */
	for (size_t i = 0; i < sizeof(sys) / sizeof(*sys); i++) {
		size_t at = strlen(list);
		if (access(sys[i], F_OK) == 0)
			snprintf(list + at, sizeof(list) - at, "%s%s",
				 at ? ", " : "", sys[i]);
	}
	rp_cmd_dir_make("landlock");
	for (int limited = 1; limited >= 0; limited--) {
		char sandbox[256] = "";
		if (limited)
			snprintf(sandbox, sizeof(sandbox),
				 "    sandbox:\n      fs_read: [%s]\n", list);
		snprintf(yaml, sizeof(yaml),
			 "name: ll\nstages:\n"
			 "  - name: sh\n    run: exec\n"
			 "    args: [--, bash, -c, '%s']\n%s"
			 "  - name: out\n    input: sh\n    run: file-sink\n"
			 "    args: [--lines, OUT]\n",
			 script, sandbox);
		code = run_yaml(yaml, &rep);
		out = rp_cmd_slurp("OUT", &n);
		if (code != 0)
			fprintf(stderr, "exit %d:\n%s\n", code, rep);
		CU_ASSERT_EQUAL(code, 0);
		CU_ASSERT_STRING_EQUAL(out, limited
						    ? "unreadable\ndevnull-ok\n"
						    : "readable\ndevnull-ok\n");
		if (limited)
			CU_ASSERT(strstr(rep, "/etc/passwd: Permission "
					      "denied") != NULL);
		free(out);
		free(rep);
	}
	rp_cmd_dir_remove();
}

/* --------------------------------------------------- strict, directly */

struct strict_arg {
	char path[256];
};

/* A strict stage's ruleset has no rules: nothing can be opened, not
 * even by root and not even /dev/null, while the file it opened before
 * is still read, written and cut back (truncation is checked at open). */
static int strict_child(void *arg)
{
	struct strict_arg *a = arg;
	struct rp_sandbox sb;
	char why[128], buf[8];
	int fd, abi;

	rp_sandbox_defaults(&sb);
	fd = open(a->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 10;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 11;
	abi = rp_landlock_abi();
	if (abi < 1)
		return 12;
	if (rp_landlock_restrict(&sb, abi, why, sizeof(why)) != 0)
		return 13;
	if (open("/etc/passwd", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 14;
	if (open(a->path, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 15;
	if (open("/dev/null", O_WRONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 16;
	if (pread(fd, buf, 4, 0) != 4 || memcmp(buf, "abcd", 4) != 0)
		return 17;
	if (ftruncate(fd, 2) != 0 || pwrite(fd, "XY", 2, 2) != 2)
		return 18;
	return 0;
}

RP_TEST(test_landlock_strict_opens_nothing, 30)
{
	struct strict_arg a;
	char *got;
	size_t n;

	rp_cmd_dir_make("landlock");
	rp_cmd_spit("f", "abcdefgh", 8);
	rp_cmd_path(a.path, sizeof(a.path), "f");
	CU_ASSERT_EQUAL(rp_test_exit_code(rp_test_wait(
				rp_test_fork(strict_child, &a), 20)),
			0);
	got = rp_cmd_slurp("f", &n);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT(n == 4 && memcmp(got, "abXY", 4) == 0);
	free(got);
	rp_cmd_dir_remove();
}

/* ---------------------------------------------------------- the report */

/* strict and exec stages have the layer; none has it only when it names
 * paths.  The data still flows through all of them. */
RP_TEST(test_landlock_layer_in_report, 60)
{
	static const char yaml[] =
		"name: ll\nstages:\n"
		"  - {name: src, run: file-source, args: [--lines, IN]}\n"
		"  - {name: pick, input: src, run: grep, args: [a]}\n"
		"  - {name: sh, input: pick, run: exec, args: [--, cat]}\n"
		"  - {name: free, input: sh, run: grep, args: [3],\n"
		"     sandbox: {policy: none}}\n"
		"  - {name: fenced, input: free, run: head, args: [5],\n"
		"     sandbox: {policy: none, fs_read: [/usr]}}\n"
		"  - {name: out, input: fenced, run: file-sink,\n"
		"     args: [--lines, OUT]}\n";
	/* scoped: under a policy, signals are scoped too where the
	 * kernel can (Landlock ABI 6). */
	static const struct {
		const char *stage, *layers;
		int scoped;
	} want[] = {
		{"src", WITH_LL, 1},
		{"pick", WITH_LL, 1},
		/* exec: its own PID namespace too, by default */
		{"sh", "fds,pidns,rlimits,noroot,pdeath,nnp,landlock,seccomp", 1},
		{"free", "fds,rlimits,noroot,pdeath,nnp", 0},
		{"fenced", "fds,rlimits,noroot,pdeath,nnp,landlock", 0},
		{"out", WITH_LL, 1},
	};
	int abi = rp_landlock_abi();
	char *rep, *out, layers[128];
	const char *gaps;
	size_t n;
	int code;

	rp_cmd_dir_make("landlock");
	rp_cmd_spit("IN", "a1\nb2\na3\n", 9);
	code = run_yaml(yaml, &rep);
	CU_ASSERT_EQUAL(code, 0);
	out = rp_cmd_slurp("OUT", &n);
	CU_ASSERT_STRING_EQUAL(out, "a3\n");
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		char w[128];
		snprintf(w, sizeof(w), "%s%s", want[i].layers,
			 want[i].scoped && abi >= 6 ? ",sigscope" : "");
		layers_of(rep, want[i].stage, layers, sizeof(layers));
		if (strcmp(layers, w) != 0)
			fprintf(stderr, "%s: layers '%s', want '%s'\n%s\n",
				want[i].stage, layers, w, rep);
		CU_ASSERT_STRING_EQUAL(layers, w);
	}
	CU_ASSERT(strstr(rep, "landlock unavailable") == NULL);
	/* What this kernel's ABI cannot restrict is said once, and only
	 * then. */
	gaps = rp_landlock_gaps(abi);
	if (gaps != NULL) {
		CU_ASSERT(strstr(rep, gaps) != NULL);
		CU_ASSERT(strstr(strstr(rep, gaps) + 1, gaps) == NULL);
	} else {
		CU_ASSERT(strstr(rep, "landlock: this kernel") == NULL);
	}
	free(out);
	free(rep);
	rp_cmd_dir_remove();
}

/* Kernels older than ABI 3 cannot restrict truncate(2), older than 5
 * not ioctl(2) on devices, older than 6 cannot scope signals: the report
 * names exactly those gaps. */
RP_TEST(test_landlock_gaps_named, 10)
{
	for (int abi = 1; abi <= 8; abi++) {
		const char *g = rp_landlock_gaps(abi);
		if (abi >= 6) {
			CU_ASSERT_PTR_NULL(g);
			continue;
		}
		CU_ASSERT_FATAL(g != NULL);
		CU_ASSERT((strstr(g, "ioctl(2) on devices") != NULL) ==
			  (abi < 5));
		CU_ASSERT((strstr(g, "truncate(2)") != NULL) == (abi < 3));
		CU_ASSERT(strstr(g, "signals to processes outside a stage are "
				    "not scoped") != NULL);
	}
}

/* --------------------------------------------------- check, and paths */

RP_TEST(test_landlock_check_names_mistakes, 60)
{
	static const char head[] = "name: p\nstages:\n  - name: a\n"
				   "    run: exec\n    args: [cat]\n"
				   "    sandbox:\n";
	static const struct {
		const char *sandbox, *expect;
	} cases[] = {
		{"      fs_write: [/tmp, out]\n",
		 "p.yaml:7:24: fs_write: 'out' is not an absolute path"},
		{"      fs_read: /usr\n",
		 "p.yaml:7:16: fs_read: expected a list of absolute paths"},
		{"      fs_reed: [/usr]\n",
		 "p.yaml:7:7: unknown key 'fs_reed' in sandbox (did you mean "
		 "'fs_read'?)"},
		{"      landlock_optinal: true\n",
		 "p.yaml:7:7: unknown key 'landlock_optinal' in sandbox (did "
		 "you mean 'landlock_optional'?)"},
		{"      landlock_optional: maybe\n",
		 "p.yaml:7:26: landlock_optional: expected true or false"},
		{"      fs_read: [/a, /b, /c, /d, /e, /f, /g, /h, /i, /j, /k, "
		 "/l, /m, /n, /o, /p, /q]\n",
		 "p.yaml:7:81: fs_read: at most 16 paths"},
	};
	char yaml[1024], *rep;

	rp_cmd_dir_make("landlock");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(yaml, sizeof(yaml), "%s%s", head, cases[i].sandbox);
		CU_ASSERT_EQUAL(check_yaml(yaml, &rep), 2);
		if (strstr(rep, cases[i].expect) == NULL) {
			fprintf(stderr, "case %zu: want '%s', got '%s'\n", i,
				cases[i].expect, rep);
			CU_FAIL("check did not name the mistake");
		}
		free(rep);
	}
	/* Well formed: check passes, though a path is missing (it may be
	 * made before the run). */
	snprintf(yaml, sizeof(yaml),
		 "%s      fs_read: [/usr, /missing-%d]\n      fs_write: []\n"
		 "      landlock_optional: true\n"
		 "  - {name: b, input: a, run: count}\n",
		 head, (int)getpid());
	CU_ASSERT_EQUAL(check_yaml(yaml, &rep), 0);
	free(rep);
	rp_cmd_dir_remove();
}

/* A path missing when the stage starts fails it, by name, before it
 * runs anything. */
RP_TEST(test_landlock_missing_path_fails_stage, 60)
{
	char yaml[1024], want[512], *rep;
	const char *d;

	rp_cmd_dir_make("landlock");
	d = rp_cmd_dir();
	snprintf(yaml, sizeof(yaml),
		 "name: ll\nstages:\n"
		 "  - name: sh\n    run: exec\n"
		 "    args: [--, bash, -c, 'echo ran > %s/RAN']\n"
		 "    sandbox:\n      fs_write: [%s, %s/missing]\n"
		 "  - name: out\n    input: sh\n    run: file-sink\n"
		 "    args: [--lines, OUT]\n",
		 d, d, d);
	CU_ASSERT_EQUAL(run_yaml(yaml, &rep), 1);
	snprintf(want, sizeof(want),
		 "stage sh: could not start: landlock: fs_write path "
		 "'%s/missing' does not exist", d);
	if (strstr(rep, want) == NULL)
		fprintf(stderr, "want '%s' in:\n%s\n", want, rep);
	CU_ASSERT(strstr(rep, want) != NULL);
	CU_ASSERT_FALSE(exists("RAN"));
	free(rep);
	rp_cmd_dir_remove();
}

/* ------------------------------------------- a kernel without Landlock */

/* Run ringpipe with landlock_create_ruleset failing with ENOSYS, as on a
 * kernel built without Landlock: stages inherit the filter. */
static int run_without_landlock(const char *yaml, char **report)
{
	char p[256];
	char *args[] = {"run", p, NULL};

	rp_cmd_spit("p.yaml", yaml, strlen(yaml));
	rp_cmd_path(p, sizeof(p), "p.yaml");
	return rp_cmd_run_denied(args, __NR_landlock_create_ruleset, ENOSYS, 0,
				 report);
}

/* Unasked for, the layer is simply missing and the stage says so;
 * asked for (fs_read/fs_write), its absence fails the stage unless
 * landlock_optional. */
RP_TEST(test_landlock_unavailable, 60)
{
	static const struct {
		const char *sandbox;
		int code;
	} cases[] = {
		{"", 0},
		{"    sandbox: {fs_write: [/tmp]}\n", 1},
		{"    sandbox: {fs_write: [/tmp], "
		 "landlock_optional: true}\n", 0},
	};
	char yaml[1024], *rep, *out, layers[128];
	size_t n;

	rp_cmd_dir_make("landlock");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int code;

		snprintf(yaml, sizeof(yaml),
			 "name: ll\nstages:\n"
			 "  - name: sh\n    run: exec\n"
			 "    args: [--, echo, ran]\n%s"
			 "  - name: out\n    input: sh\n    run: file-sink\n"
			 "    args: [--lines, OUT]\n",
			 cases[i].sandbox);
		rp_cmd_spit("OUT", "old\n", 4);
		code = run_without_landlock(yaml, &rep);
		if (code != cases[i].code)
			fprintf(stderr, "case %zu: exit %d:\n%s\n", i, code,
				rep);
		CU_ASSERT_EQUAL(code, cases[i].code);
		CU_ASSERT(strstr(rep, "sandbox: landlock unavailable: not in "
				      "this kernel") != NULL);
		layers_of(rep, "sh", layers, sizeof(layers));
		CU_ASSERT(strstr(layers, "landlock") == NULL);
		out = rp_cmd_slurp("OUT", &n);
		if (cases[i].code == 0) {
			CU_ASSERT_STRING_EQUAL(layers,
					       "fds,pidns,rlimits,noroot,pdeath,"
					       "nnp,seccomp");
			CU_ASSERT_STRING_EQUAL(out, "ran\n");
		} else {
			CU_ASSERT(strstr(rep, "fs_read/fs_write need it") !=
				  NULL);
			/* (A run that fails to start leaves it as it was.) */
			CU_ASSERT_STRING_EQUAL(out, "old\n");
		}
		free(out);
		free(rep);
	}
	rp_cmd_dir_remove();
}

/* ------------------------------------------------------------- wiring */

/* The lists reach the stage as given, whatever bytes a path holds; an
 * absent list stays absent (the policy's default), an empty one empty. */
RP_TEST(test_landlock_wiring_round_trip, 10)
{
	static const char *const odd[] = {"/a;b=c", "/d+e%f", "/g h\t\xc3\xad",
					  "/"};
	static char buf[RP_WIRING_MAX];
	struct rp_wiring w, back;

	rp_wiring_init(&w);
	snprintf(w.name, sizeof(w.name), "t");
	w.cin.p_fd = w.cin.c_fd = w.cout.p_fd = w.cout.c_fd = 3;
	w.bell = w.sup_bell = w.sup_efd = 4;
	w.in.p_fd = w.in.c_fd = 5;
	w.in_bell = 6;
	for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++)
		snprintf(w.sandbox.fs_read[w.sandbox.nfs_read++],
			 RP_SANDBOX_PATH_MAX, "%s", odd[i]);
	w.sandbox.fs_read_set = 1;
	w.sandbox.fs_write_set = 1; /* given, and empty */
	w.sandbox.landlock_optional = 1;
	CU_ASSERT_FATAL(rp_wiring_format(&w, buf, sizeof(buf)) == 0);
	CU_ASSERT_FATAL(rp_wiring_parse(buf, &back) == 0);
	CU_ASSERT_EQUAL(back.sandbox.nfs_read, 4);
	for (int i = 0; i < 4 && i < back.sandbox.nfs_read; i++)
		CU_ASSERT_STRING_EQUAL(back.sandbox.fs_read[i], odd[i]);
	CU_ASSERT(back.sandbox.fs_read_set && back.sandbox.fs_write_set);
	CU_ASSERT_EQUAL(back.sandbox.nfs_write, 0);
	CU_ASSERT(back.sandbox.landlock_optional);

	/* Not given: not sent, so the stage uses the policy's default. */
	w.sandbox.fs_write_set = 0;
	w.sandbox.landlock_optional = 0;
	CU_ASSERT_FATAL(rp_wiring_format(&w, buf, sizeof(buf)) == 0);
	CU_ASSERT_FATAL(rp_wiring_parse(buf, &back) == 0);
	CU_ASSERT_FALSE(back.sandbox.fs_write_set);
	CU_ASSERT_FALSE(back.sandbox.landlock_optional);

	/* Every list at its longest, every byte escaped, still fits. */
	for (int i = 0; i < RP_SANDBOX_MAX_PATHS; i++) {
		memset(w.sandbox.fs_read[i], ';', RP_SANDBOX_PATH_MAX - 1);
		w.sandbox.fs_read[i][0] = '/';
		w.sandbox.fs_read[i][RP_SANDBOX_PATH_MAX - 1] = '\0';
		memcpy(w.sandbox.fs_write[i], w.sandbox.fs_read[i],
		       RP_SANDBOX_PATH_MAX);
	}
	w.sandbox.nfs_read = w.sandbox.nfs_write = RP_SANDBOX_MAX_PATHS;
	w.sandbox.fs_write_set = 1;
	/* and an exec stage's temporary directory too */
	memcpy(w.sandbox.tmpdir, w.sandbox.fs_read[0], RP_SANDBOX_PATH_MAX);
	CU_ASSERT_FATAL(rp_wiring_format(&w, buf, sizeof(buf)) == 0);
	CU_ASSERT_FATAL(rp_wiring_parse(buf, &back) == 0);
	CU_ASSERT_EQUAL(back.sandbox.nfs_write, RP_SANDBOX_MAX_PATHS);
	CU_ASSERT_STRING_EQUAL(back.sandbox.fs_write[15],
			       w.sandbox.fs_write[15]);
	CU_ASSERT_STRING_EQUAL(back.sandbox.tmpdir, w.sandbox.tmpdir);
	/* The doorbells' version comes from the supervisor's wiring; one
	 * that does not say it (an older supervisor's) leaves it 0, which
	 * the stage refuses. */
	CU_ASSERT_EQUAL(back.bell_version, RP_BELL_VERSION);
	{
		char *v = strstr(buf, "bellv="), *semi = v ? strchr(v, ';')
							   : NULL;
		CU_ASSERT_FATAL(semi != NULL);
		memmove(v, semi + 1, strlen(semi + 1) + 1);
		CU_ASSERT(rp_wiring_parse(buf, &back) == 0 &&
			  back.bell_version == 0);
	}
	CU_ASSERT(rp_wiring_parse("name=t;tmp=rel", &back) == -EINVAL);

	/* A stage refuses a relative path or a 17th one. */
	CU_ASSERT(rp_wiring_parse("name=t;fsr=usr", &back) == -EINVAL);
	CU_ASSERT(strstr(back.error, "not an absolute path") != NULL);
	CU_ASSERT(rp_wiring_parse("name=t;fsw=/a+/b+/c+/d+/e+/f+/g+/h+/i+/j+"
				  "/k+/l+/m+/n+/o+/p+/q",
				  &back) == -EINVAL);
	CU_ASSERT(strstr(back.error, "more than 16 paths") != NULL);
}

void rp_suite_landlock(void)
{
	RP_SUITE("landlock",
		 {"exec: writes only beneath fs_write",
		  test_landlock_exec_writes_only_fs_write},
		 {"exec: reads only beneath fs_read",
		  test_landlock_exec_reads_only_fs_read},
		 {"strict: opens nothing, keeps what it had",
		  test_landlock_strict_opens_nothing},
		 {"the report lists the layer", test_landlock_layer_in_report},
		 {"older ABIs' gaps are named", test_landlock_gaps_named},
		 {"check names mistakes in the lists",
		  test_landlock_check_names_mistakes},
		 {"a missing path fails the stage by name",
		  test_landlock_missing_path_fails_stage},
		 {"no Landlock: said, tolerated or fatal",
		  test_landlock_unavailable},
		 {"the lists travel to the stage intact",
		  test_landlock_wiring_round_trip});
}
