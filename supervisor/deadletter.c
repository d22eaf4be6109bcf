/*
 * deadletter.c - the dead-letter output (deadletter.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deadletter.h"
#include "log.h"
#include "json.h"

void rp_deadletter_prefix(const char *setting, const char *name, char *buf,
			  size_t len)
{
	snprintf(buf, len, "%.240s%s", setting[0] ? setting : name,
		 setting[0] ? "" : ".dead");
}

void rp_deadletter_init(struct rp_deadletter *d, const char *prefix)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->prefix, sizeof(d->prefix), "%s", prefix);
}

static FILE *open_append(const char *prefix, const char *ext)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", prefix, ext);
	f = fopen(path, "ae");
	if (f == NULL)
		rp_log(RP_LOG_ERROR, NULL, "dead-letter output %s: %s", path,
		       strerror(errno));
	return f;
}

int rp_deadletter_put(struct rp_deadletter *d, const struct rp_dead_record *r)
{
	unsigned char len[4] = {(unsigned char)r->len,
				(unsigned char)(r->len >> 8),
				(unsigned char)(r->len >> 16),
				(unsigned char)(r->len >> 24)};
	char when[40];
	struct timespec ts;
	struct tm tm;
	long at;

	if (d->rec == NULL && (d->rec = open_append(d->prefix, ".rec")) == NULL)
		return -EIO;
	if (d->idx == NULL &&
	    (d->idx = open_append(d->prefix, ".jsonl")) == NULL)
		return -EIO;
	fseek(d->rec, 0, SEEK_END);
	at = ftell(d->rec);
	if (fwrite(len, 1, 4, d->rec) != 4 ||
	    fwrite(r->data, 1, r->len, d->rec) != r->len ||
	    fflush(d->rec) != 0) {
		rp_log(RP_LOG_ERROR, NULL, "writing %s.rec: %s", d->prefix,
		       strerror(errno));
		return -EIO;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs("{\"pipeline\":", d->idx);
	rp_json_str(d->idx, r->pipeline);
	fputs(",\"stage\":", d->idx);
	rp_json_str(d->idx, r->stage);
	fprintf(d->idx, ",\"seq\":%llu,\"origin\":%llu,\"sub\":%u,"
			"\"reason\":",
		(unsigned long long)r->seq, (unsigned long long)r->origin,
		r->sub);
	rp_json_str(d->idx, r->reason);
	fprintf(d->idx, ",\"attempts\":%u,\"time\":\"%s\",\"offset\":%ld,"
			"\"length\":%u}\n",
		r->attempts, when, at, r->len);
	if (fflush(d->idx) != 0) {
		rp_log(RP_LOG_ERROR, NULL, "writing %s.jsonl: %s", d->prefix,
		       strerror(errno));
		return -EIO;
	}
	d->count++;
	return 0;
}

void rp_deadletter_close(struct rp_deadletter *d)
{
	if (d->rec)
		fclose(d->rec);
	if (d->idx)
		fclose(d->idx);
	d->rec = d->idx = NULL;
}
