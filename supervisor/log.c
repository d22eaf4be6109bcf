/*
 * log.c - timestamped log lines (log.h).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static enum rp_log_level level = RP_LOG_INFO;

void rp_log_set_level(enum rp_log_level l)
{
	level = l;
}

int rp_log_on(enum rp_log_level l)
{
	return l <= level;
}

void rp_log_stamp(char buf[16])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	snprintf(buf, 16, "%02u:%02u:%02u.%03u", (unsigned)tm.tm_hour % 24,
		 (unsigned)tm.tm_min % 60, (unsigned)tm.tm_sec % 61,
		 (unsigned)(ts.tv_nsec / 1000000) % 1000);
}

void rp_log(enum rp_log_level l, const char *stage, const char *fmt, ...)
{
	char stamp[16], msg[1024], line[1200];
	va_list ap;

	if (!rp_log_on(l))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rp_log_stamp(stamp);
	if (stage != NULL)
		snprintf(line, sizeof(line), "%s ringpipe: stage %s: %s\n",
			 stamp, stage, msg);
	else
		snprintf(line, sizeof(line), "%s ringpipe: %s\n", stamp, msg);
	/* The line in one piece (one write of it, whatever stderr's
	 * buffering). */
	fputs(line, stderr);
}
