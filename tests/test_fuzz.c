/*
 * test_fuzz.c - every fuzz target (tests/fuzz) over its kept corpus: the
 * seeds and each input that once found a bug.  A target aborts on a
 * failed check, and under the sanitizers on any bad memory access, so
 * an input that finds its bug again fails here.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

void rp_suite_fuzz(void);

static unsigned files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Run build/VARIANT/fuzz/fuzz-name over tests/fuzz/corpus/name: it must
 * exit 0 having run every input there. */
static void corpus_run(const char *name)
{
	const char *b = getenv("RP_TEST_BUILD");
	char bin[512], dir[256], out[256], *argv[3], buf[4096];
	unsigned want, ran = 0;
	posix_spawn_file_actions_t fa;
	struct stat st;
	pid_t pid;
	int status, fd;
	ssize_t n;

	snprintf(bin, sizeof(bin), "%s/fuzz/fuzz-%s", b ? b : "build/plain",
		 name);
	snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", name);
	snprintf(out, sizeof(out), "/tmp/rp-fuzzout-%d-%s", (int)getpid(),
		 name);
	want = files_in(dir);
	CU_ASSERT_FATAL(want > 0);
	argv[0] = bin;
	argv[1] = dir;
	argv[2] = NULL;
	CU_ASSERT_FATAL(posix_spawn_file_actions_init(&fa) == 0);
	posix_spawn_file_actions_addopen(&fa, 1, out,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	CU_ASSERT_FATAL(posix_spawn(&pid, bin, &fa, NULL, argv, environ) ==
			0);
	posix_spawn_file_actions_destroy(&fa);
	status = rp_test_wait(pid, 120);
	/* Its last 4 KiB: the count, or a sanitizer's report ending with
	 * the input that failed. */
	fd = open(out, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0) {
		off_t at = st.st_size > (off_t)sizeof(buf) - 1
				   ? st.st_size - (off_t)sizeof(buf) + 1
				   : 0;
		n = pread(fd, buf, sizeof(buf) - 1, at);
	} else {
		n = -1;
	}
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	unlink(out);
	/* The count is the driver's last line. */
	for (char *p = buf; (p = strstr(p, " inputs ran")) != NULL; p++) {
		char *l = p;
		while (l > buf && l[-1] != '\n')
			l--;
		if (sscanf(l, "%u inputs ran", &ran) != 1)
			ran = 0;
	}
	if (status == -1 || rp_test_exit_code(status) != 0 || ran != want)
		fprintf(stderr, "\n    fuzz-%s over %s: %s%s\n", name, dir,
			status == -1 ? "timed out; " : "", buf);
	CU_ASSERT_EQUAL(rp_test_exit_code(status), 0);
	CU_ASSERT_EQUAL(ran, want);
}

/* Pipeline files: a pipeline that holds together, or an error naming
 * the file and the place. */
RP_TEST(fuzz_corpus_config, 150) { corpus_run("config"); }
/* One-liners: the same. */
RP_TEST(fuzz_corpus_oneliner, 150) { corpus_run("oneliner"); }
/* Dead-letter files read back by replay: every record given lies inside
 * the record file. */
RP_TEST(fuzz_corpus_index, 150) { corpus_run("index"); }
/* Chaos sums files and outputs: refused with their line, or judged with
 * counts that add up; a reference exact against itself and its sums. */
RP_TEST(fuzz_corpus_sums, 150) { corpus_run("sums"); }
/* A ring's pages and data scribbled between the honest sides' steps and
 * the supervisor's reads: no crash, no record out of bounds, a broken
 * ring stays broken. */
RP_TEST(fuzz_corpus_ring, 150) { corpus_run("ring"); }
/* A byte stream cut into line records, fed in any pieces: put back
 * together, the stream; no piece over the largest record. */
RP_TEST(fuzz_corpus_linebuf, 150) { corpus_run("linebuf"); }
/* A stage's control ring as the supervisor receives it: known kinds and
 * reasons, a cancel or drain once, nothing after the format broke. */
RP_TEST(fuzz_corpus_ctl, 150) { corpus_run("ctl"); }

void rp_suite_fuzz(void)
{
	RP_SUITE("fuzz", {"corpus_config", fuzz_corpus_config},
		 {"corpus_oneliner", fuzz_corpus_oneliner},
		 {"corpus_index", fuzz_corpus_index},
		 {"corpus_sums", fuzz_corpus_sums},
		 {"corpus_ring", fuzz_corpus_ring},
		 {"corpus_linebuf", fuzz_corpus_linebuf},
		 {"corpus_ctl", fuzz_corpus_ctl});
}
