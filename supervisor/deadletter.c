/*
 * deadletter.c - the dead-letter output (deadletter.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "deadletter.h"
#include "log.h"
#include "json.h"

void rp_deadletter_prefix(const char *setting, const char *name, char *buf,
			  size_t len)
{
	snprintf(buf, len, "%s%s", setting[0] ? setting : name,
		 setting[0] ? "" : ".dead");
}

void rp_deadletter_init(struct rp_deadletter *d, const char *prefix)
{
	memset(d, 0, sizeof(*d));
	d->rec = d->idx = -1;
	snprintf(d->prefix, sizeof(d->prefix), "%s", prefix);
}

int rp_deadletter_writable(const struct rp_deadletter *d, char *why,
			   size_t len)
{
	static const char *const ext[] = {".rec", ".jsonl"};
	const char *slash = strrchr(d->prefix, '/');
	char path[300];

	if (slash == NULL)
		snprintf(path, sizeof(path), ".");
	else if (slash == d->prefix)
		snprintf(path, sizeof(path), "/");
	else
		snprintf(path, sizeof(path), "%.*s",
			 (int)(slash - d->prefix), d->prefix);
	if (access(path, W_OK | X_OK) != 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", d->prefix, ext[i]);
		if (access(path, W_OK) != 0 && errno != ENOENT) {
			snprintf(why, len, "%s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Why fd, just opened, is not a file the output may go to, or NULL. */
static const char *unfit(int fd)
{
	static char why[64];
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		return why;
	}
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (st.st_uid != geteuid())
		return "owned by another user: refused";
	if (st.st_nlink != 1)
		return "it has other names (hard links): refused";
	/* Made by an older run, or another tool: ours alone from now. */
	if ((st.st_mode & 077) && fchmod(fd, 0600) != 0) {
		snprintf(why, sizeof(why), "making it 0600: %s",
			 strerror(errno));
		return why;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) != 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		return why;
	}
	return NULL;
}

/* A regular file of ours, opened to append: not a FIFO (its open would
 * block the supervisor's loop), not through a symbolic link or another
 * user's file (put where the output may go, it could be anything),
 * readable by us alone (quarantined records may hold what nobody else
 * should read). */
static int open_append(const char *prefix, const char *ext)
{
	char path[300];
	const char *why;
	int fd;

	snprintf(path, sizeof(path), "%s%s", prefix, ext);
	fd = open(path,
		  O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOFOLLOW |
			  O_NOCTTY | O_CLOEXEC,
		  0600);
	if (fd >= 0 && (why = unfit(fd)) == NULL)
		return fd;
	if (fd < 0) {
		/* (A FIFO nobody reads fails a non-blocking open with
		 * ENXIO; a link, O_NOFOLLOW with ELOOP.) */
		why = errno == ENXIO   ? "not a regular file"
		      : errno == ELOOP ? "a symbolic link: refused"
				       : strerror(errno);
	} else {
		close(fd);
	}
	rp_log(RP_LOG_ERROR, NULL, "dead-letter output %s: %s", path, why);
	return -1;
}

int rp_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* How long a put tries for the lock: another run's put holds it for
 * two appends, far less than this; a holder for longer is not a put. */
#define LOCK_TRY_NS (5 * 1000000LL)

/* The files are shared by every run with the same prefix: a put takes
 * a lock on PREFIX.rec (flock), so that a failed one can be cut back
 * without cutting anyone else's.  0: locked.  1: not, and the put goes
 * on without it: the lock is held past LOCK_TRY_NS (by anyone who can
 * open the file: the supervisor's loop does not wait for them), or the
 * file system has no locks.  Each write appends whole (O_APPEND, one
 * call), at an offset read back after it, so puts side by side never
 * mix.  (A reader needs no lock: a line is written after its frame.) */
static int lock_files(const struct rp_deadletter *d)
{
	int64_t until = rp_now_ns() + LOCK_TRY_NS;

	for (;;) {
		if (flock(d->rec, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == ENOLCK || errno == EOPNOTSUPP || errno == EINVAL)
			return 1;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (rp_now_ns() >= until)
			return 1;
		usleep(100);
	}
}

/* One append of all of buf, in one call: its offset in the file, or
 * -errno (-EIO for a short write, whose rest could not follow it
 * unmixed without the lock). */
static int64_t append_whole(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;
	off_t end;

	/* A short write (a file system filling up) goes on with the rest,
	 * whose write then says why: ENOSPC, not a bare EIO. */
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	/* With O_APPEND, the offset is left at the end of this write. */
	if ((end = lseek(fd, 0, SEEK_CUR)) < 0)
		return -errno;
	return (int64_t)end - (int64_t)len;
}

/* The index line for r, whose frame is at offset at: in memory, to be
 * written in one call.  NULL when out of memory. */
static char *index_line(const struct rp_dead_record *r, uint64_t at,
			size_t *len)
{
	char when[40], *text = NULL;
	struct timespec ts;
	struct tm tm;
	FILE *f = open_memstream(&text, len);

	if (f == NULL)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs("{\"pipeline\":", f);
	rp_json_str(f, r->pipeline);
	fputs(",\"stage\":", f);
	rp_json_str(f, r->stage);
	fprintf(f, ",\"seq\":%llu,\"origin\":%llu,\"sub\":%u,\"type\":%u,"
		   "\"reason\":",
		(unsigned long long)r->seq, (unsigned long long)r->origin,
		r->sub, (unsigned)r->type);
	rp_json_str(f, r->reason);
	if (r->replayed)
		fprintf(f, ",\"first_seq\":%llu,\"first_origin\":%llu",
			(unsigned long long)r->first_seq,
			(unsigned long long)r->first_origin);
	fprintf(f, ",\"attempts\":%u,\"time\":\"%s\",\"offset\":%llu,"
		   "\"length\":%u}\n",
		r->attempts, when, (unsigned long long)at, r->len);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* The frame, then its index line, each in one write.  Locked, on any
 * failure both files are cut back to where they were, so that neither
 * holds half of a record or of a line.  Not locked, nothing is cut back
 * (another run may have appended since): a frame whose line failed is
 * bytes no line points at, which readers never reach, and a line cut
 * short is ended, which a reader refuses by its number. */
static int put(struct rp_deadletter *d, const struct rp_dead_record *r,
	       int locked)
{
	struct stat rs, is;
	unsigned char *frame;
	char *line = NULL;
	size_t n = 0;
	int64_t at;
	int err = 0;

	if (fstat(d->rec, &rs) < 0 || fstat(d->idx, &is) < 0)
		return -errno;
	frame = malloc((size_t)r->len + 4);
	if (frame == NULL)
		return -ENOMEM;
	frame[0] = (unsigned char)r->len;
	frame[1] = (unsigned char)(r->len >> 8);
	frame[2] = (unsigned char)(r->len >> 16);
	frame[3] = (unsigned char)(r->len >> 24);
	memcpy(frame + 4, r->data, r->len);
	at = append_whole(d->rec, frame, (size_t)r->len + 4);
	free(frame);
	if (at < 0)
		err = (int)at;
	if (err == 0 && (line = index_line(r, (uint64_t)at, &n)) == NULL)
		err = -ENOMEM;
	if (err == 0 && (at = append_whole(d->idx, line, n)) < 0) {
		err = (int)at;
		/* Unlocked, a line cut short stays: ended here, so that the
		 * next put's line is a line of its own. */
		if (!locked && write(d->idx, "\n", 1) < 0)
			rp_log(RP_LOG_ERROR, NULL, "ending a cut line of "
			       "%s.jsonl: %s", d->prefix, strerror(errno));
	}
	free(line);
	if (err != 0 && locked) {
		/* (Best effort, each file on its own: what cannot be cut
		 * back stays as it is.) */
		if (ftruncate(d->rec, rs.st_size) < 0)
			rp_log(RP_LOG_ERROR, NULL, "cutting %s.rec back: %s",
			       d->prefix, strerror(errno));
		if (ftruncate(d->idx, is.st_size) < 0)
			rp_log(RP_LOG_ERROR, NULL, "cutting %s.jsonl back: %s",
			       d->prefix, strerror(errno));
	}
	return err;
}

int rp_deadletter_put(struct rp_deadletter *d, const struct rp_dead_record *r)
{
	int err, locked;

	if (d->rec < 0 && (d->rec = open_append(d->prefix, ".rec")) < 0)
		return -EIO;
	if (d->idx < 0 && (d->idx = open_append(d->prefix, ".jsonl")) < 0)
		return -EIO;
	if ((err = lock_files(d)) < 0) {
		rp_log(RP_LOG_ERROR, NULL, "dead-letter output %s.rec: %s",
		       d->prefix, strerror(-err));
		return -EIO;
	}
	locked = err == 0;
	err = put(d, r, locked);
	if (locked)
		flock(d->rec, LOCK_UN);
	if (err != 0) {
		rp_log(RP_LOG_ERROR, NULL, "writing dead-letter output %s: %s",
		       d->prefix, strerror(-err));
		return -EIO;
	}
	d->count++;
	return 0;
}

void rp_deadletter_close(struct rp_deadletter *d)
{
	if (d->rec >= 0)
		close(d->rec);
	if (d->idx >= 0)
		close(d->idx);
	d->rec = d->idx = -1;
}
