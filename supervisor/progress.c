/*
 * progress.c - the progress line (progress.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "errout.h"
#include "progress.h"

static FILE *saved;   /* the real stderr while the line is on */
static int shown;     /* the line is on the screen now */

#define ERASE "\r\033[K"

static void erase(void)
{
	if (shown) {
		rp_errout_transient(ERASE, sizeof(ERASE) - 1, 1);
		shown = 0;
	}
}

/* The stream stderr becomes: erase, then write. */
static ssize_t cookie_write(void *c, const char *buf, size_t n)
{
	(void)c;
	erase();
	fwrite(buf, 1, n, saved);
	return (ssize_t)n;
}

/* stdout is the terminal stderr is: a stage writing it (file-sink -,
 * an exec program last) would run into the line, which only the
 * supervisor's own writes erase. */
static int stdout_shares_terminal(void)
{
	struct stat o, e;

	return isatty(STDOUT_FILENO) && fstat(STDOUT_FILENO, &o) == 0 &&
	       fstat(STDERR_FILENO, &e) == 0 && o.st_rdev == e.st_rdev;
}

int rp_progress_begin(void)
{
	cookie_io_functions_t io = {.write = cookie_write};
	FILE *f;

	if (saved != NULL || !isatty(STDERR_FILENO) ||
	    stdout_shares_terminal())
		return 0;
	if ((f = fopencookie(NULL, "w", io)) == NULL)
		return 0;
	setvbuf(f, NULL, _IONBF, 0);
	fflush(stderr);
	saved = stderr;
	stderr = f;
	return 1;
}

void rp_progress_show(const char *text)
{
	struct winsize ws;
	char line[1024];
	size_t n = strlen(text), width = 80;

	if (saved == NULL)
		return;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		width = ws.ws_col;
	/* One column spare: a line that fills the width wraps on some
	 * terminals, and then \r no longer reaches its start. */
	if (n > width - 1)
		n = width - 1;
	if (n > sizeof(line) - sizeof(ERASE))
		n = sizeof(line) - sizeof(ERASE);
	memcpy(line, ERASE, sizeof(ERASE) - 1);
	memcpy(line + sizeof(ERASE) - 1, text, n);
	/* Left out while stderr's reader lags: shown then or never. */
	if (rp_errout_transient(line, sizeof(ERASE) - 1 + n, 0))
		shown = 1;
}

void rp_progress_end(void)
{
	if (saved == NULL)
		return;
	erase();
	fclose(stderr);
	stderr = saved;
	saved = NULL;
}
