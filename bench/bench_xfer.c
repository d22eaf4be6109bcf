/*
 * bench_xfer.c - producer/consumer pairs, and chains of three with a
 * forwarder in the middle, over rings, pipes or a socketpair, each side in
 * a forked process.
 *
 * Design note
 * -----------
 * The parent creates the links (one for a pair, two for a chain), forks
 * the consumer, the forwarder if any and the producer, and starts them all
 * at once by closing the write end of a gate pipe.  Each child times
 * itself with CLOCK_MONOTONIC (one clock for the whole machine) and leaves
 * its results in an anonymous shared mapping; the parent only sleeps in
 * poll(2) on pidfds, so it takes no CPU from the processes it measures.
 * Throughput is taken at the consumer, over a window that opens after a
 * warm-up (page tables, caches, pipe pages) and closes at end of stream,
 * so it counts only records that arrived and passed their checks.
 *
 * Nothing may hang: every ringpipe wait is bounded, every child arms an
 * alarm, and the parent SIGKILLs and reaps a group that overstays.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../ipc/bell.h"
#include "../ipc/ring.h"
#include "bench.h"

const char *const bench_xport_name[BX_COUNT] = {
	[BX_RING] = "ringpipe",
	[BX_PIPE_EACH] = "pipe",
	[BX_PIPE_PACKED] = "pipe-packed",
	[BX_SOCKET] = "socketpair",
};

/* Longest any single ringpipe wait may take; a timeout is a failure. */
#define WAIT_NS (10 * 1000 * 1000 * 1000LL)
/* Seconds a child may live beyond its planned run before its alarm. */
#define CHILD_GRACE_S 20
/* The parent kills a group that outlives even that. */
#define REAP_GRACE_NS ((CHILD_GRACE_S + 5) * 1000000000LL)
/* Records between two releases by the ring consumer, at most. */
#define RELEASE_EVERY 64u
/* Latency records: 64 bytes, as in the small-record throughput runs. */
#define LAT_LEN 64u

/* Framing of a record on a byte stream. */
struct frame_hdr {
	uint32_t len;
	uint32_t magic;
	uint64_t seq;
};
#define FRAME_MAGIC 0x52504652u
#define FRAME_HDR ((uint32_t)sizeof(struct frame_hdr))

/* What one child reports. */
struct side_res {
	int64_t t0, t1;   /* consumer: measured window */
	uint64_t n0, n1;  /* consumer: records delivered at t0 and t1 */
	uint64_t records; /* sent (producer) or verified (consumer) */
	int64_t cpu_ns;   /* this process's CPU time over the whole run */
	uint64_t parks;   /* ring consumer: times it slept in the kernel */
	struct rp_ring_stats ps, cs; /* ring: both sides' counters */
	struct bench_lat_out lat;    /* consumer under load */
	int err;
	char what[128];
};

struct shared {
	struct side_res prod, fwd, cons;
	uint64_t lat_ns[BENCH_LAT_WARM + BENCH_LAT_SAMPLES];
};

enum group_mode { PM_THROUGHPUT, PM_IDLE, PM_LATENCY, PM_LOAD };

/* One hop: a ring (with both sides' bells) or a byte stream. */
struct link {
	struct rp_ring_fds fds;
	struct rp_bell *pbell, *cbell;
	int sfd[2]; /* streams: [0] the reading end, [1] the writing end */
};

/* The processes of one measurement: a producer, for a chain a forwarder,
 * and a consumer, joined by nlinks links. */
struct group {
	enum bench_xport x;
	enum group_mode mode;
	uint32_t len, cap;
	int64_t warm_ns, run_ns, gap_ns;
	int busy;   /* latency runs: pace on the clock rather than sleep */
	int nlinks; /* 1: a pair; 2: a chain */
	struct link link[2];
	int gate[2]; /* closing gate[1] starts every child */
	int ctl[2];  /* idle runs: a byte tells the producer to finish */
	struct shared *sh;
	pid_t prod, fwd, cons;
};

static void fail(struct side_res *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct side_res *r, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->err)
		return; /* keep the first cause */
	r->err = err < 0 ? err : -EPROTO;
	va_start(ap, fmt);
	n = vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(r->what))
		snprintf(r->what + n, sizeof(r->what) - (size_t)n, ": %s",
			 strerror(-r->err));
}

/* Ring capacity for a payload size: room for 64 records in flight, so
 * that neither side ever waits for the other to finish a whole record,
 * but at least 2 MiB and at most 16 MiB (past that, only the caches
 * notice). */
uint32_t bench_ring_cap(uint32_t len)
{
	uint64_t cap = 2u << 20;

	while (cap < 64 * rp_rec_size(len) && cap < (16u << 20))
		cap <<= 1;
	while (rp_rec_size(len) > cap / 2)
		cap <<= 1;
	return (uint32_t)cap;
}

/* Time checks cost a clock read: make them every record only when a
 * record is large enough to hide it. */
static uint64_t tick_mask(uint32_t len)
{
	return len >= 4096 ? 0 : 255;
}

static void gate_wait(struct group *g)
{
	char c;

	/* Returns 0 (EOF) once the parent closes the write end. */
	while (read(g->gate[0], &c, 1) < 0 && errno == EINTR)
		;
	close(g->gate[0]);
}

/* Idle runs: block until the parent says the idle window is over. */
static int ctl_wait(struct group *g, struct side_res *r)
{
	struct pollfd pfd = {.fd = g->ctl[0], .events = POLLIN};
	int n;

	do
		n = poll(&pfd, 1, 60 * 1000);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		fail(r, n < 0 ? -errno : -ETIMEDOUT, "waiting for the parent");
		return -1;
	}
	return 0;
}

/* Latency records carry their send time in word 2, checksum kept. */
static void stamp_payload(void *buf, uint64_t stamp)
{
	uint64_t *w = buf;

	w[1] += stamp - w[2];
	w[2] = stamp;
}

static uint64_t payload_stamp(const void *buf)
{
	return ((const uint64_t *)buf)[2];
}

/* ---------------------------------------------------------- the schedule */

/* How many records the producer sends, and until when (0: no limit);
 * -1 if the parent never said go (idle runs). */
static int schedule(struct group *g, struct side_res *r, uint64_t *n,
		    int64_t *end)
{
	*end = 0;
	switch (g->mode) {
	case PM_THROUGHPUT:
	case PM_LOAD:
		*end = bench_now_ns() + g->warm_ns + g->run_ns;
		*n = UINT64_MAX;
		return 0;
	case PM_IDLE:
		*n = 1;
		return ctl_wait(g, r);
	case PM_LATENCY:
		*n = BENCH_LAT_WARM + BENCH_LAT_SAMPLES;
		return 0;
	}
	return -1;
}

/*
 * Wait until record seq is due; its send time, or 0 when it carries none.
 * Latency runs space records by gap_ns; under load record seq is due
 * seq * gap_ns after the first, so a late record does not push the rest
 * back (the rate stays the one asked for).
 */
static uint64_t pace(struct group *g, uint64_t seq, int64_t start)
{
	switch (g->mode) {
	case PM_LATENCY:
		if (g->busy)
			bench_spin_until(bench_now_ns() + g->gap_ns);
		else
			bench_sleep_ns(g->gap_ns);
		return (uint64_t)bench_now_ns();
	case PM_LOAD:
		bench_spin_until(start + (int64_t)seq * g->gap_ns);
		return (uint64_t)bench_now_ns();
	default:
		return 0;
	}
}

/*
 * Will the producer wait before its next record?  Then it publishes what
 * it committed first, as the stage library does before it waits (a
 * commit is published at once only if the consumer has already said it
 * is waiting; one that says so a moment later, because it was descheduled,
 * would otherwise find the record only with the next commit).
 */
static int will_wait(struct group *g, uint64_t seq, int64_t start)
{
	switch (g->mode) {
	case PM_LATENCY:
		return 1;
	case PM_LOAD:
		return bench_now_ns() < start + (int64_t)(seq + 1) * g->gap_ns;
	default:
		return 0;
	}
}

/* Latencies as the consumer sees them: one-way runs keep every record in
 * the shared page (the parent drops the warm-up ones); runs under load
 * keep those of the measured window in private memory. */
struct lat_log {
	uint64_t *v;
	size_t n, cap;
};

static int lat_log_open(struct group *g, struct lat_log *l)
{
	double rate;

	*l = (struct lat_log){0};
	if (g->mode == PM_LATENCY) {
		l->v = g->sh->lat_ns;
		l->cap = BENCH_LAT_WARM + BENCH_LAT_SAMPLES;
	} else if (g->mode == PM_LOAD) {
		/* The window at the rate asked for, with room to spare. */
		rate = 1e9 / (double)g->gap_ns;
		l->cap = (size_t)(rate * (double)g->run_ns / 1e9 * 1.5) + 4096;
		l->v = malloc(l->cap * sizeof(*l->v));
		if (l->v == NULL)
			return -ENOMEM;
	}
	return 0;
}

static void lat_note(struct group *g, struct side_res *r, struct lat_log *l,
		     const void *payload)
{
	if (l->v == NULL || l->n >= l->cap)
		return;
	if (g->mode == PM_LOAD && r->t0 == 0)
		return; /* still warming up */
	l->v[l->n++] = (uint64_t)bench_now_ns() - payload_stamp(payload);
}

static void lat_log_close(struct group *g, struct side_res *r,
			  struct lat_log *l)
{
	if (g->mode != PM_LOAD)
		return;
	bench_percentiles(l->v, l->n, &r->lat);
	if (r->t1 > r->t0)
		r->lat.rate = (double)(r->n1 - r->n0) /
			      ((double)(r->t1 - r->t0) / 1e9);
	free(l->v);
	l->v = NULL;
}

/* The measured window opens at the first time check after the warm-up. */
static void window_tick(struct side_res *r, uint64_t seq, uint64_t mask,
			int64_t warm_end)
{
	if ((seq & mask) == 0 && r->t0 == 0) {
		int64_t t = bench_now_ns();
		if (t >= warm_end) {
			r->t0 = t;
			r->n0 = seq;
		}
	}
}

/* ------------------------------------------------------------- the ring */

static int ring_open_producer(struct link *k, struct rp_producer **pr)
{
	struct rp_ring_fds side;
	int err = rp_ring_fds_for_producer(&k->fds, &side);

	if (!err) {
		err = rp_producer_open(&side, k->pbell, k->cbell, pr);
		rp_ring_fds_close(&side);
	}
	return err;
}

static int ring_open_consumer(struct link *k, struct rp_consumer **c)
{
	struct rp_ring_fds side;
	int err = rp_ring_fds_for_consumer(&k->fds, &side);

	if (!err) {
		err = rp_consumer_open(&side, k->cbell, k->pbell, c);
		rp_ring_fds_close(&side);
	}
	return err;
}

/* Reserve, trying the fast path first: rp_reserve_wait reads the clock
 * before it even tries, so only a full ring should pay for that. */
static int ring_reserve(struct rp_producer *pr, uint32_t len, void **dst)
{
	int err = rp_reserve(pr, len, dst);

	if (err == -EAGAIN)
		err = rp_reserve_wait(pr, len, WAIT_NS, dst);
	return err;
}

static int ring_producer(struct group *g)
{
	struct side_res *r = &g->sh->prod;
	struct rp_producer *pr = NULL;
	struct rp_meta m = {.type = RP_REC_T_DATA};
	uint64_t seq = 0, mask = tick_mask(g->len), n = 0;
	int64_t end = 0, start;
	void *dst;
	int err;

	err = ring_open_producer(&g->link[0], &pr);
	gate_wait(g);
	if (err) {
		fail(r, err, "rp_producer_open");
		return 1;
	}
	if (schedule(g, r, &n, &end) != 0)
		goto out;
	start = bench_now_ns();
	for (; seq < n; seq++) {
		uint64_t stamp;

		if (end && (seq & mask) == 0 && bench_now_ns() >= end)
			break;
		stamp = pace(g, seq, start);
		err = ring_reserve(pr, g->len, &dst);
		if (err) {
			fail(r, err, "rp_reserve_wait, record %llu",
			     (unsigned long long)seq);
			break;
		}
		bench_fill(dst, g->len, seq);
		if (stamp)
			stamp_payload(dst, stamp);
		m.origin = seq;
		err = rp_commit(pr, g->len, &m);
		if (!err && will_wait(g, seq, start))
			err = rp_flush(pr);
		if (err) {
			fail(r, err, "rp_commit");
			break;
		}
	}
out:
	rp_producer_end(pr);
	r->records = seq;
	r->cpu_ns = bench_self_cpu_ns();
	rp_producer_close(pr);
	return r->err ? 1 : 0;
}

/* A record as it must arrive: record seq of this run, intact. */
static int ring_record_ok(const struct group *g, const struct rp_view *v,
			  uint64_t seq)
{
	return v->len == g->len && v->type == RP_REC_T_DATA &&
	       v->origin == seq && bench_check(v->data, v->len, seq);
}

static int ring_consumer(struct group *g)
{
	struct side_res *r = &g->sh->cons;
	struct rp_consumer *c = NULL;
	struct rp_ring_stats cs;
	struct rp_view v;
	struct lat_log lat;
	uint64_t seq = 0, mask = tick_mask(g->len), pend = 0, pend_bytes = 0;
	uint64_t release_bytes;
	int64_t warm_end, wait_ns = WAIT_NS;
	int err, each = g->mode == PM_LATENCY || g->mode == PM_IDLE;

	err = ring_open_consumer(&g->link[g->nlinks - 1], &c);
	if (!err)
		err = lat_log_open(g, &lat);
	gate_wait(g);
	if (err) {
		fail(r, err, "attaching the consumer");
		return 1;
	}
	/* Hand space back often enough that the producer never waits on
	 * a release, rarely enough to amortise the release store. */
	release_bytes = g->cap / 8;
	if (g->mode == PM_IDLE)
		wait_ns = 60 * 1000000000LL;
	warm_end = bench_now_ns() + g->warm_ns;
	for (;;) {
		err = rp_peek(c, &v);
		if (err == -EAGAIN) {
			/* Caught up: release everything before waiting. */
			rp_release(c);
			pend = pend_bytes = 0;
			err = rp_peek_wait(c, &v, wait_ns);
		}
		if (err == -ENODATA)
			break;
		if (err) {
			fail(r, err, "rp_peek_wait after record %llu",
			     (unsigned long long)seq);
			break;
		}
		if (!ring_record_ok(g, &v, seq)) {
			fail(r, -EBADMSG, "record %llu corrupt",
			     (unsigned long long)seq);
			break;
		}
		lat_note(g, r, &lat, v.data);
		seq++;
		pend_bytes += v.len;
		if (++pend >= RELEASE_EVERY || pend_bytes >= release_bytes ||
		    each) {
			rp_release(c);
			pend = pend_bytes = 0;
		}
		window_tick(r, seq, mask, warm_end);
	}
	rp_release(c);
	r->t1 = bench_now_ns();
	r->n1 = r->records = seq;
	r->cpu_ns = bench_self_cpu_ns();
	lat_log_close(g, r, &lat);
	if (rp_consumer_stats(c, &r->ps, &cs) == 0) {
		r->parks = cs.waits;
		r->cs = cs;
	}
	rp_consumer_close(c);
	return r->err ? 1 : 0;
}

/*
 * The middle of a chain: takes each record from the first ring, checks
 * it, copies it into the second and releases the input, as a stage that
 * transforms records must (its output cannot point into its input).
 * Before waiting for input it publishes what it has committed, as the
 * stage library does, so records never sit behind an idle forwarder.
 */
static int ring_forwarder(struct group *g)
{
	struct side_res *r = &g->sh->fwd;
	struct rp_consumer *in = NULL;
	struct rp_producer *out = NULL;
	struct rp_meta m = {.type = RP_REC_T_DATA};
	struct rp_view v;
	uint64_t seq = 0, pend = 0, pend_bytes = 0, release_bytes = g->cap / 8;
	void *dst;
	int err;

	err = ring_open_consumer(&g->link[0], &in);
	if (!err)
		err = ring_open_producer(&g->link[1], &out);
	gate_wait(g);
	if (err) {
		fail(r, err, "attaching the forwarder");
		goto out;
	}
	for (;;) {
		err = rp_peek(in, &v);
		if (err == -EAGAIN) {
			rp_release(in);
			pend = pend_bytes = 0;
			rp_flush(out);
			err = rp_peek_wait(in, &v, WAIT_NS);
		}
		if (err == -ENODATA)
			break;
		if (err) {
			fail(r, err, "rp_peek_wait after record %llu",
			     (unsigned long long)seq);
			break;
		}
		if (!ring_record_ok(g, &v, seq)) {
			fail(r, -EBADMSG, "record %llu corrupt",
			     (unsigned long long)seq);
			break;
		}
		/* Input is not released while waiting for room: the view
		 * still points into it. */
		err = ring_reserve(out, v.len, &dst);
		if (err) {
			fail(r, err, "rp_reserve_wait, record %llu",
			     (unsigned long long)seq);
			break;
		}
		memcpy(dst, v.data, v.len);
		m.origin = v.origin;
		err = rp_commit(out, v.len, &m);
		if (err) {
			fail(r, err, "rp_commit");
			break;
		}
		seq++;
		pend_bytes += v.len;
		if (++pend >= RELEASE_EVERY || pend_bytes >= release_bytes) {
			rp_release(in);
			pend = pend_bytes = 0;
		}
	}
	rp_release(in);
out:
	if (out != NULL)
		rp_producer_end(out);
	r->records = seq;
	r->cpu_ns = bench_self_cpu_ns();
	rp_producer_close(out);
	rp_consumer_close(in);
	return r->err ? 1 : 0;
}

/* --------------------------------------------------------- byte streams */

static int write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *b = buf;

	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* stdio-style buffer: whole BENCH_PACK_BYTES writes, records may span. */
struct packer {
	int fd;
	uint32_t used;
	unsigned char *buf;
};

static int pack_put(struct packer *k, const unsigned char *src, size_t n)
{
	while (n > 0) {
		size_t c = BENCH_PACK_BYTES - k->used;
		int err;

		/* Like fwrite: whole buffers of a large block go straight
		 * from the caller's memory, without the extra copy. */
		if (k->used == 0 && n >= BENCH_PACK_BYTES) {
			c = n - n % BENCH_PACK_BYTES;
			err = write_all(k->fd, src, c);
			if (err)
				return err;
			src += c;
			n -= c;
			continue;
		}
		if (c > n)
			c = n;
		memcpy(k->buf + k->used, src, c);
		k->used += (uint32_t)c;
		src += c;
		n -= c;
		if (k->used == BENCH_PACK_BYTES) {
			err = write_all(k->fd, k->buf, BENCH_PACK_BYTES);
			if (err)
				return err;
			k->used = 0;
		}
	}
	return 0;
}

/* The tail of the stream, as fclose would flush it. */
static int pack_flush(struct packer *k)
{
	int err = k->used ? write_all(k->fd, k->buf, k->used) : 0;

	k->used = 0;
	return err;
}

static void frame_fill(unsigned char *rec, uint32_t len, uint64_t seq)
{
	struct frame_hdr h = {.len = len, .magic = FRAME_MAGIC, .seq = seq};

	memcpy(rec, &h, FRAME_HDR);
	bench_fill(rec + FRAME_HDR, len, seq);
}

/*
 * One record onto the stream: one write, or into the packing buffer.  A
 * record that fits is built in place, as if formatted straight into the
 * stdio buffer; one that does not is built aside and copied in.
 */
static int stream_put(struct group *g, struct packer *k, unsigned char *one,
		      uint64_t seq, uint64_t stamp)
{
	uint32_t rec = FRAME_HDR + g->len;
	int in_place = g->x == BX_PIPE_PACKED &&
		       rec <= BENCH_PACK_BYTES - k->used;
	unsigned char *dst = in_place ? k->buf + k->used : one;

	frame_fill(dst, g->len, seq);
	if (stamp)
		stamp_payload(dst + FRAME_HDR, stamp);
	if (g->x != BX_PIPE_PACKED)
		return write_all(k->fd, one, rec);
	if (!in_place)
		return pack_put(k, one, rec);
	k->used += rec;
	if (k->used < BENCH_PACK_BYTES)
		return 0;
	return pack_flush(k);
}

/* Close every stream end this process does not use: a reader sees end of
 * stream only once every copy of the writing end is gone. */
static void keep_streams(struct group *g, int in, int out)
{
	for (int l = 0; l < g->nlinks; l++) {
		for (int e = 0; e < 2; e++) {
			int *fd = &g->link[l].sfd[e];

			if (*fd < 0 || (e == 0 && l == in) ||
			    (e == 1 && l == out))
				continue;
			close(*fd);
			*fd = -1;
		}
	}
}

static int stream_producer(struct group *g)
{
	struct side_res *r = &g->sh->prod;
	uint32_t rec = FRAME_HDR + g->len;
	struct packer k = {.fd = g->link[0].sfd[1]};
	unsigned char *one;
	uint64_t seq = 0, mask = tick_mask(g->len), n = 0;
	int64_t end = 0, start;
	int err = 0;

	keep_streams(g, -1, 0);
	one = aligned_alloc(64, (rec + 63) & ~63u);
	k.buf = aligned_alloc(64, BENCH_PACK_BYTES);
	gate_wait(g);
	if (one == NULL || k.buf == NULL) {
		fail(r, -ENOMEM, "buffers");
		goto out;
	}
	if (schedule(g, r, &n, &end) != 0)
		goto out;
	start = bench_now_ns();
	for (; seq < n; seq++) {
		if (end && (seq & mask) == 0 && bench_now_ns() >= end)
			break;
		err = stream_put(g, &k, one, seq, pace(g, seq, start));
		if (err) {
			fail(r, err, "write, record %llu",
			     (unsigned long long)seq);
			break;
		}
	}
	if (!err) {
		err = pack_flush(&k);
		if (err)
			fail(r, err, "write");
	}
out:
	close(k.fd);
	r->records = seq;
	r->cpu_ns = bench_self_cpu_ns();
	free(one);
	free(k.buf);
	return r->err ? 1 : 0;
}

/* A reader that makes the next n bytes contiguous at buf + r. */
struct reader {
	int fd;
	unsigned char *buf;
	size_t cap, r, w;
};

/* 1 with n bytes ready, 0 at a clean end of stream, < 0 an error. */
static int reader_need(struct reader *s, size_t n)
{
	while (s->w - s->r < n) {
		size_t want;
		ssize_t k;

		if (s->w == s->r)
			s->r = s->w = 0;
		if (s->cap - s->r < n) {
			memmove(s->buf, s->buf + s->r, s->w - s->r);
			s->w -= s->r;
			s->r = 0;
		}
		/* Small needs read everything the stream has (amortising
		 * the system call); a large record is read exactly, so the
		 * next one starts at the front without being moved. */
		want = s->cap - s->w;
		if (n > 4096 && s->r + n - s->w < want)
			want = s->r + n - s->w;
		k = read(s->fd, s->buf + s->w, want);
		if (k > 0) {
			s->w += (size_t)k;
		} else if (k == 0) {
			return s->w == s->r ? 0 : -EPROTO;
		} else if (errno != EINTR) {
			return -errno;
		}
	}
	return 1;
}

static int reader_open(struct reader *s, int fd, uint32_t rec)
{
	*s = (struct reader){.fd = fd};
	s->cap = 4 * (size_t)rec;
	if (s->cap < (1u << 20))
		s->cap = 1u << 20;
	s->buf = aligned_alloc(64, s->cap);
	return s->buf ? 0 : -ENOMEM;
}

/* The next record, checked: 1, 0 at a clean end of stream, -1 after
 * failing r.  *rec_at is the frame, in the reader's buffer. */
static int stream_take(struct group *g, struct reader *s,
		       struct side_res *r, uint64_t seq,
		       const unsigned char **rec_at)
{
	uint32_t rec = FRAME_HDR + g->len;
	struct frame_hdr h;
	int got = reader_need(s, FRAME_HDR);

	if (got == 0)
		return 0;
	if (got > 0)
		got = reader_need(s, rec);
	if (got <= 0) {
		fail(r, got < 0 ? got : -EPROTO, "read, record %llu",
		     (unsigned long long)seq);
		return -1;
	}
	memcpy(&h, s->buf + s->r, FRAME_HDR);
	*rec_at = s->buf + s->r;
	if (h.len != g->len || h.magic != FRAME_MAGIC || h.seq != seq ||
	    !bench_check(*rec_at + FRAME_HDR, g->len, seq)) {
		fail(r, -EBADMSG, "record %llu corrupt",
		     (unsigned long long)seq);
		return -1;
	}
	s->r += rec;
	return 1;
}

static int stream_consumer(struct group *g)
{
	struct side_res *r = &g->sh->cons;
	struct reader s;
	struct lat_log lat = {0};
	uint64_t seq = 0, mask = tick_mask(g->len);
	int64_t warm_end;
	int err;

	keep_streams(g, g->nlinks - 1, -1);
	err = reader_open(&s, g->link[g->nlinks - 1].sfd[0],
			  FRAME_HDR + g->len);
	if (!err)
		err = lat_log_open(g, &lat);
	gate_wait(g);
	if (err) {
		fail(r, err, "buffers");
		goto out;
	}
	warm_end = bench_now_ns() + g->warm_ns;
	for (;;) {
		const unsigned char *rec;
		int got = stream_take(g, &s, r, seq, &rec);

		if (got <= 0)
			break;
		/* Delivered once checked, as on the ring. */
		lat_note(g, r, &lat, rec + FRAME_HDR);
		seq++;
		window_tick(r, seq, mask, warm_end);
	}
	r->t1 = bench_now_ns();
	r->n1 = r->records = seq;
	lat_log_close(g, r, &lat);
out:
	close(s.fd);
	r->cpu_ns = bench_self_cpu_ns();
	free(s.buf);
	return r->err ? 1 : 0;
}

/* The middle of a chain on streams: reads in bulk, checks each record and
 * writes it on, one write per record or packed like its producer. */
static int stream_forwarder(struct group *g)
{
	struct side_res *r = &g->sh->fwd;
	struct reader s;
	struct packer k = {.fd = g->link[1].sfd[1]};
	uint32_t rec = FRAME_HDR + g->len;
	uint64_t seq = 0;
	int err;

	keep_streams(g, 0, 1);
	err = reader_open(&s, g->link[0].sfd[0], rec);
	k.buf = aligned_alloc(64, BENCH_PACK_BYTES);
	gate_wait(g);
	if (err || k.buf == NULL) {
		fail(r, -ENOMEM, "buffers");
		goto out;
	}
	for (;;) {
		const unsigned char *at;
		int got = stream_take(g, &s, r, seq, &at);

		if (got <= 0)
			break;
		err = g->x == BX_PIPE_PACKED ? pack_put(&k, at, rec)
					     : write_all(k.fd, at, rec);
		if (err) {
			fail(r, err, "write, record %llu",
			     (unsigned long long)seq);
			break;
		}
		seq++;
	}
	if (!r->err && (err = pack_flush(&k)) != 0)
		fail(r, err, "write");
out:
	close(s.fd);
	close(k.fd);
	r->records = seq;
	r->cpu_ns = bench_self_cpu_ns();
	free(s.buf);
	free(k.buf);
	return r->err ? 1 : 0;
}

/* --------------------------------------------------------------- groups */

/* Pipe buffer for the pipe baselines: the largest an unprivileged
 * program may ask for.  The default 64 KiB is no faster for small
 * records and less than half as fast for large ones. */
#define PIPE_BYTES (1 << 20)

static int link_open(struct link *k, enum bench_xport x, uint32_t cap)
{
	switch (x) {
	case BX_RING: {
		struct rp_ring_config cfg = {.capacity = cap};
		int err = rp_ring_create(&cfg, &k->fds);
		if (!err)
			err = rp_bell_create(0, &k->pbell);
		if (!err)
			err = rp_bell_create(0, &k->cbell);
		return err;
	}
	case BX_PIPE_EACH:
	case BX_PIPE_PACKED:
		if (pipe2(k->sfd, O_CLOEXEC) != 0)
			return -errno;
		/* Best effort: a lower pipe-max-size leaves the default. */
		fcntl(k->sfd[1], F_SETPIPE_SZ, PIPE_BYTES);
		return 0;
	case BX_SOCKET:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			       k->sfd) != 0)
			return -errno;
		return 0;
	default:
		return -EINVAL;
	}
}

static int group_open(struct group *g)
{
	for (int l = 0; l < 2; l++) {
		g->link[l].fds.p_fd = g->link[l].fds.c_fd = -1;
		g->link[l].sfd[0] = g->link[l].sfd[1] = -1;
	}
	g->gate[0] = g->gate[1] = g->ctl[0] = g->ctl[1] = -1;
	g->sh = mmap(NULL, sizeof(*g->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g->sh == MAP_FAILED) {
		g->sh = NULL;
		return -errno;
	}
	if (pipe2(g->gate, O_CLOEXEC) != 0 || pipe2(g->ctl, O_CLOEXEC) != 0)
		return -errno;
	for (int l = 0; l < g->nlinks; l++) {
		int err = link_open(&g->link[l], g->x, g->cap);
		if (err)
			return err;
	}
	return 0;
}

/* Drop the parent's copies: the children hold their own. */
static void group_release_links(struct group *g)
{
	for (int l = 0; l < 2; l++) {
		struct link *k = &g->link[l];

		rp_ring_fds_close(&k->fds);
		rp_bell_close(k->pbell);
		rp_bell_close(k->cbell);
		k->pbell = k->cbell = NULL;
		for (int i = 0; i < 2; i++) {
			if (k->sfd[i] >= 0)
				close(k->sfd[i]);
			k->sfd[i] = -1;
		}
	}
}

static void group_close(struct group *g)
{
	group_release_links(g);
	for (int i = 0; i < 2; i++) {
		if (g->gate[i] >= 0)
			close(g->gate[i]);
		if (g->ctl[i] >= 0)
			close(g->ctl[i]);
		g->gate[i] = g->ctl[i] = -1;
	}
	if (g->sh != NULL)
		munmap(g->sh, sizeof(*g->sh));
	g->sh = NULL;
}

static pid_t spawn(struct group *g, int cpu, int (*body)(struct group *),
		   unsigned alarm_s)
{
	pid_t pid = bench_fork(cpu, alarm_s);

	if (pid != 0)
		return pid;
	close(g->gate[1]);
	close(g->ctl[1]);
	_exit(body(g));
}

static int prod_body(struct group *g)
{
	return g->x == BX_RING ? ring_producer(g) : stream_producer(g);
}

static int fwd_body(struct group *g)
{
	return g->x == BX_RING ? ring_forwarder(g) : stream_forwarder(g);
}

static int cons_body(struct group *g)
{
	return g->x == BX_RING ? ring_consumer(g) : stream_consumer(g);
}

/* Reap the group by the deadline and say what any side reported. */
static int group_reap(struct group *g, int64_t deadline, const char *what)
{
	const char *names[3] = {"producer", "consumer", "forwarder"};
	const struct side_res *res[3] = {&g->sh->prod, &g->sh->cons,
					 &g->sh->fwd};
	pid_t pids[3] = {g->prod, g->cons, g->fwd};
	int n = g->nlinks == 2 ? 3 : 2, err;
	char label[64];

	snprintf(label, sizeof(label), "%s %s", bench_xport_name[g->x], what);
	err = bench_reap(pids, names, n, deadline, label);
	for (int i = 0; i < n; i++)
		if (res[i]->err)
			fprintf(stderr, "bench-ring: %s: %s: %s\n", label,
				names[i], res[i]->what);
	return err;
}

/*
 * Create the links and fork every side, stopped at the gate.  The
 * producer and the consumer get the two CPUs; a chain's forwarder gets a
 * third if there is one, else floats between the two, for every
 * transport alike.
 */
static int group_start(struct group *g, unsigned alarm_s, const char *what)
{
	int pc, cc, err;

	bench_placement(&pc, &cc);
	err = group_open(g);
	if (err) {
		fprintf(stderr, "bench-ring: %s %s: setup: %s\n",
			bench_xport_name[g->x], what, strerror(-err));
		return -1;
	}
	g->cons = spawn(g, cc, cons_body, alarm_s);
	if (g->cons > 0 && g->nlinks == 2)
		g->fwd = spawn(g, bench_third_cpu(), fwd_body, alarm_s);
	if (g->cons > 0 && g->fwd >= 0)
		g->prod = spawn(g, pc, prod_body, alarm_s);
	group_release_links(g);
	if (g->cons < 0 || g->fwd < 0 || g->prod < 0) {
		fprintf(stderr, "bench-ring: fork: %s\n", strerror(errno));
		if (g->cons > 0)
			kill(g->cons, SIGKILL);
		if (g->fwd > 0)
			kill(g->fwd, SIGKILL);
		group_reap(g, bench_now_ns(), what);
		return -1;
	}
	close(g->ctl[0]);
	g->ctl[0] = -1;
	close(g->gate[0]);
	g->gate[0] = -1;
	return 0;
}

static void gate_open(struct group *g)
{
	close(g->gate[1]);
	g->gate[1] = -1;
}

/* The ring's own counters: how records were batched, who waited. */
static void print_ring_stats(const struct bench_run_cfg *cfg,
			     const struct bench_run_out *out,
			     const struct side_res *pr,
			     const struct side_res *c)
{
	fprintf(stderr,
		"  ringpipe %u B: %.3g rec/s; producer: batches %llu waits "
		"%llu wakes %llu stalls %llu; consumer: releases %llu waits "
		"%llu wakes %llu stalls %llu; CPU %.3f + %.3f s\n",
		cfg->len, out->rec_s, (unsigned long long)c->ps.batches,
		(unsigned long long)c->ps.waits,
		(unsigned long long)c->ps.wakes,
		(unsigned long long)c->ps.stalls,
		(unsigned long long)c->cs.batches,
		(unsigned long long)c->cs.waits,
		(unsigned long long)c->cs.wakes,
		(unsigned long long)c->cs.stalls, (double)pr->cpu_ns / 1e9,
		(double)c->cpu_ns / 1e9);
}

/* CPU time the whole machine spent busy (stolen time included: the
 * hypervisor gave it to someone else), from /proc/stat.  -1 if unknown. */
static int64_t machine_busy_ns(void)
{
	unsigned long long v[8] = {0};
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8 || hz <= 0)
		return -1;
	/* user nice system [idle iowait] irq softirq steal */
	return (int64_t)((v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) *
			 (1000000000ull / (unsigned long long)hz));
}

/* Every record the producer sent was verified, in a window that opened. */
static int group_delivered(const struct group *g)
{
	const struct side_res *c = &g->sh->cons, *pr = &g->sh->prod;

	if (c->records == pr->records && c->t0 != 0 && c->t1 > c->t0 &&
	    c->n1 > c->n0)
		return 1;
	fprintf(stderr,
		"bench-ring: %s run: sent %llu, verified %llu, no measurable "
		"window\n",
		bench_xport_name[g->x], (unsigned long long)pr->records,
		(unsigned long long)c->records);
	return 0;
}

/* Share of the machine's CPU time others took over [t0, t1]. */
static double others_share(const struct group *g, int64_t busy0,
			   int64_t busy1, int64_t t0, int64_t t1)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double own = (double)(g->sh->prod.cpu_ns + g->sh->fwd.cpu_ns +
			      g->sh->cons.cpu_ns);
	double other;

	if (busy0 < 0 || busy1 < 0)
		return 0;
	other = ((double)(busy1 - busy0) - own) /
		((double)(t1 - t0) * (double)(ncpu > 0 ? ncpu : 1));
	return other < 0 ? 0 : other;
}

int bench_run(const struct bench_run_cfg *cfg, struct bench_run_out *out)
{
	struct group g = {.x = cfg->x, .mode = PM_THROUGHPUT, .len = cfg->len,
			  .warm_ns = cfg->warm_ns, .run_ns = cfg->run_ns,
			  .nlinks = cfg->stages == 3 ? 2 : 1};
	unsigned alarm_s;
	int64_t total = cfg->warm_ns + cfg->run_ns, t0, t1, busy0, busy1;
	struct side_res *c, *pr;
	int err;

	memset(out, 0, sizeof(*out));
	g.cap = cfg->ring_cap ? cfg->ring_cap : bench_ring_cap(cfg->len);
	alarm_s = (unsigned)(total / 1000000000) + CHILD_GRACE_S;
	if (group_start(&g, alarm_s, "run") != 0) {
		group_close(&g);
		return -1;
	}
	busy0 = machine_busy_ns();
	t0 = bench_now_ns();
	gate_open(&g);
	err = group_reap(&g, bench_now_ns() + total + REAP_GRACE_NS, "run");
	t1 = bench_now_ns();
	busy1 = machine_busy_ns();
	c = &g.sh->cons;
	pr = &g.sh->prod;
	if (!err && !group_delivered(&g))
		err = -1;
	if (!err) {
		double s = (double)(c->t1 - c->t0) / 1e9;
		double cpu = (double)(c->cpu_ns + g.sh->fwd.cpu_ns +
				      pr->cpu_ns) / 1e9;
		double gb = (double)c->records * cfg->len / 1e9;

		out->rec_s = (double)(c->n1 - c->n0) / s;
		out->bytes_s = out->rec_s * cfg->len;
		out->cpu_s_gb = cpu / gb;
		out->records = c->records;
		out->others = others_share(&g, busy0, busy1, t0, t1);
		if (cfg->verbose && g.x == BX_RING)
			print_ring_stats(cfg, out, pr, c);
	}
	group_close(&g);
	return err;
}

/* CPU time of another process, from its CPU-time clock. */
static int64_t pid_cpu_ns(pid_t pid)
{
	struct timespec ts;
	clockid_t clk;

	if (clock_getcpuclockid(pid, &clk) != 0 ||
	    clock_gettime(clk, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_idle(enum bench_xport x, int64_t idle_ns, struct bench_idle_out *out)
{
	struct group g = {.x = x, .mode = PM_IDLE, .len = 64, .nlinks = 1};
	int64_t settle = 300 * 1000000LL, t0, t1, c0, c1, q0, q1;
	int err;

	memset(out, 0, sizeof(*out));
	g.cap = bench_ring_cap(g.len);
	if (group_start(&g, (unsigned)(idle_ns / 1000000000) + CHILD_GRACE_S,
			"idle") != 0) {
		group_close(&g);
		return -1;
	}
	gate_open(&g);
	/* Let both block (the consumer spins briefly before it parks). */
	bench_sleep_ns(settle);
	t0 = bench_now_ns();
	c0 = pid_cpu_ns(g.cons);
	q0 = pid_cpu_ns(g.prod);
	bench_sleep_ns(idle_ns);
	t1 = bench_now_ns();
	c1 = pid_cpu_ns(g.cons);
	q1 = pid_cpu_ns(g.prod);
	/* One record, then end of stream: both must finish cleanly. */
	if (write(g.ctl[1], "g", 1) != 1)
		fprintf(stderr, "bench-ring: idle: ctl: %s\n", strerror(errno));
	err = group_reap(&g, bench_now_ns() + 15 * 1000000000LL, "idle");
	if (!err && (g.sh->cons.records != 1 || c0 < 0 || c1 < 0 || q0 < 0 ||
		     q1 < 0)) {
		fprintf(stderr, "bench-ring: %s idle: no CPU clock or "
			"record lost\n", bench_xport_name[x]);
		err = -1;
	}
	if (!err) {
		out->window_s = (double)(t1 - t0) / 1e9;
		out->pct = 100.0 * (double)((c1 - c0) + (q1 - q0)) /
			   (double)(t1 - t0);
	}
	group_close(&g);
	return err;
}

int bench_latency(enum bench_xport x, int64_t gap_ns, int busy,
		  struct bench_lat_out *out)
{
	const uint32_t n = BENCH_LAT_WARM + BENCH_LAT_SAMPLES;
	struct group g = {.x = x, .mode = PM_LATENCY, .len = LAT_LEN,
			  .gap_ns = gap_ns, .busy = busy, .nlinks = 1};
	/* A slept gap overshoots by the timer slack (50 us by default). */
	int64_t total = (gap_ns + 100000) * (int64_t)n * 2;
	int err;

	memset(out, 0, sizeof(*out));
	g.cap = bench_ring_cap(g.len);
	if (group_start(&g, (unsigned)(total / 1000000000) + CHILD_GRACE_S,
			"latency") != 0) {
		group_close(&g);
		return -1;
	}
	gate_open(&g);
	err = group_reap(&g, bench_now_ns() + total + REAP_GRACE_NS,
			 "latency");
	if (!err && g.sh->cons.records != n) {
		fprintf(stderr, "bench-ring: %s latency: %llu samples\n",
			bench_xport_name[x],
			(unsigned long long)g.sh->cons.records);
		err = -1;
	}
	if (!err) {
		bench_percentiles(g.sh->lat_ns + BENCH_LAT_WARM,
				  BENCH_LAT_SAMPLES, out);
		out->parks = g.sh->cons.parks;
	}
	group_close(&g);
	return err;
}

int bench_load(enum bench_xport x, double rate, int64_t warm_ns,
	       int64_t run_ns, struct bench_lat_out *out)
{
	struct group g = {.x = x, .mode = PM_LOAD, .len = LAT_LEN,
			  .warm_ns = warm_ns, .run_ns = run_ns, .nlinks = 1};
	int64_t total = warm_ns + run_ns;
	int err;

	memset(out, 0, sizeof(*out));
	if (!(rate >= 1 && rate <= 1e9))
		return -1;
	g.gap_ns = (int64_t)(1e9 / rate);
	g.cap = bench_ring_cap(g.len);
	if (group_start(&g, (unsigned)(total / 1000000000) + CHILD_GRACE_S,
			"under load") != 0) {
		group_close(&g);
		return -1;
	}
	gate_open(&g);
	err = group_reap(&g, bench_now_ns() + total + REAP_GRACE_NS,
			 "under load");
	if (!err && !group_delivered(&g))
		err = -1;
	if (!err) {
		*out = g.sh->cons.lat;
		out->parks = g.sh->cons.parks;
	}
	group_close(&g);
	return err;
}
