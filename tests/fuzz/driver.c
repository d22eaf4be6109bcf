/*
 * driver.c - a fuzz target without libFuzzer: each file named (or each
 * file in each directory named) is fed to it once, in name order.  The
 * tests run every target this way over its kept corpus.  Exit 0 when
 * every input ran (a failing check aborts), 2 on a usage or read error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define DRIVER_MAX (1u << 20)

/* The input being run, named if it aborts (a failed check, a sanitizer's
 * report). */
static char current[4096];

static void say_input(int sig)
{
	static const char pre[] = "driver: the input that failed: ";

	(void)sig;
	if (write(STDERR_FILENO, pre, sizeof(pre) - 1) > 0 &&
	    write(STDERR_FILENO, current, strlen(current)) > 0)
		(void)!write(STDERR_FILENO, "\n", 1);
	if (sig) {
		signal(SIGABRT, SIG_DFL);
		raise(SIGABRT);
	}
}

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
/* A sanitizer's report ends the run without a signal. */
static void say_input_dying(void)
{
	say_input(0);
}
#endif

static int run_file(const char *path)
{
	static uint8_t buf[DRIVER_MAX];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof(buf)) {
			fprintf(stderr, "%s: larger than %u bytes\n", path,
				DRIVER_MAX);
			close(fd);
			return -1;
		}
	}
	close(fd);
	snprintf(current, sizeof(current), "%s", path);
	/* A copy of exactly its size, so reads past the end are caught. */
	uint8_t *copy = malloc(n ? n : 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	unsigned long runs = 0;

	signal(SIGABRT, say_input);
#ifdef __SANITIZE_ADDRESS__
	__sanitizer_set_death_callback(say_input_dying);
#endif
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR ...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **ents;
		int n;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) != 0)
				return 2;
			runs++;
			continue;
		}
		n = scandir(argv[i], &ents, NULL, by_name);
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		for (int j = 0; j < n; j++) {
			char path[4096];
			int bad = 0;
			if (ents[j]->d_name[0] != '.' &&
			    ents[j]->d_type != DT_DIR) {
				snprintf(path, sizeof(path), "%s/%s", argv[i],
					 ents[j]->d_name);
				bad = run_file(path) != 0;
				runs += !bad;
			}
			free(ents[j]);
			if (bad) {
				while (++j < n)
					free(ents[j]);
				free(ents);
				return 2;
			}
		}
		free(ents);
	}
	printf("%lu inputs ran\n", runs);
	return 0;
}
