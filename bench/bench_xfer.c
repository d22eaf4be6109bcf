/*
 * bench_xfer.c - producer/consumer pairs over a ring, a pipe or a
 * socketpair, each in two forked processes.
 *
 * Design note
 * -----------
 * The parent creates the transport, forks the consumer and the producer,
 * and starts both at once by closing the write end of a gate pipe.  Each
 * child times itself with CLOCK_MONOTONIC (one clock for the whole
 * machine) and leaves its results in an anonymous shared mapping; the
 * parent only sleeps in poll(2) on pidfds, so it takes no CPU from the
 * pair it measures.  Throughput is taken at the consumer, over a window
 * that opens after a warm-up (page tables, caches, pipe pages) and closes
 * at end of stream, so it counts only records that arrived and passed
 * their checks.
 *
 * Nothing may hang: every ringpipe wait is bounded, every child arms an
 * alarm, and the parent SIGKILLs and reaps a pair that overstays.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
/* The parent kills a pair that outlives even that. */
#define REAP_GRACE_NS ((CHILD_GRACE_S + 5) * 1000000000LL)
/* Records between two releases by the ring consumer, at most. */
#define RELEASE_EVERY 64u

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
	int err;
	char what[128];
};

struct shared {
	struct side_res prod, cons;
	uint64_t lat_ns[BENCH_LAT_SAMPLES];
};

enum pair_mode { PM_THROUGHPUT, PM_IDLE, PM_LATENCY };

struct pair {
	enum bench_xport x;
	enum pair_mode mode;
	uint32_t len, cap;
	int64_t warm_ns, run_ns, gap_ns;
	struct rp_ring_fds fds;
	struct rp_bell *pbell, *cbell;
	int sfd[2];  /* streams: [0] the consumer's end, [1] the producer's */
	int gate[2]; /* closing gate[1] starts both children */
	int ctl[2];  /* idle runs: a byte tells the producer to finish */
	struct shared *sh;
	pid_t prod, cons;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t self_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000,
			      .tv_nsec = ns % 1000000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

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

void bench_placement(int *prod_cpu, int *cons_cpu)
{
	cpu_set_t set;
	int cpus[2], n = 0;

	*prod_cpu = *cons_cpu = -1;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (int i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	if (n < 2)
		return; /* one CPU: nothing to choose, both share it */
	*prod_cpu = cpus[0];
	*cons_cpu = cpus[1];
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
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

static void gate_wait(struct pair *p)
{
	char c;

	/* Returns 0 (EOF) once the parent closes the write end. */
	while (read(p->gate[0], &c, 1) < 0 && errno == EINTR)
		;
	close(p->gate[0]);
}

/* Idle runs: block until the parent says the idle window is over. */
static int ctl_wait(struct pair *p, struct side_res *r)
{
	struct pollfd pfd = {.fd = p->ctl[0], .events = POLLIN};
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

/* ------------------------------------------------------------- the ring */

static int ring_producer(struct pair *p)
{
	struct side_res *r = &p->sh->prod;
	struct rp_ring_fds side;
	struct rp_producer *pr = NULL;
	struct rp_meta m = {.type = RP_REC_T_DATA};
	uint64_t seq = 0, mask = tick_mask(p->len), n = 0;
	int64_t end = 0;
	void *dst;
	int err;

	err = rp_ring_fds_for_producer(&p->fds, &side);
	if (!err) {
		err = rp_producer_open(&side, p->pbell, p->cbell, &pr);
		rp_ring_fds_close(&side);
	}
	gate_wait(p);
	if (err) {
		fail(r, err, "rp_producer_open");
		return 1;
	}
	switch (p->mode) {
	case PM_THROUGHPUT:
		end = now_ns() + p->warm_ns + p->run_ns;
		n = UINT64_MAX;
		break;
	case PM_IDLE:
		if (ctl_wait(p, r) != 0)
			goto out;
		n = 1;
		break;
	case PM_LATENCY:
		n = BENCH_LAT_SAMPLES;
		break;
	}
	for (; seq < n; seq++) {
		uint64_t stamp = 0;

		if (p->mode == PM_THROUGHPUT && (seq & mask) == 0 &&
		    now_ns() >= end)
			break;
		if (p->mode == PM_LATENCY) {
			sleep_ns(p->gap_ns);
			stamp = (uint64_t)now_ns();
		}
		/* rp_reserve_wait reads the clock before it even tries;
		 * try the fast path first so that only a full ring pays. */
		err = rp_reserve(pr, p->len, &dst);
		if (err == -EAGAIN)
			err = rp_reserve_wait(pr, p->len, WAIT_NS, &dst);
		if (err) {
			fail(r, err, "rp_reserve_wait, record %llu",
			     (unsigned long long)seq);
			break;
		}
		bench_fill(dst, p->len, seq);
		if (p->mode == PM_LATENCY)
			stamp_payload(dst, stamp);
		m.origin = seq;
		err = rp_commit(pr, p->len, &m);
		if (err) {
			fail(r, err, "rp_commit");
			break;
		}
	}
out:
	rp_producer_end(pr);
	r->records = seq;
	r->cpu_ns = self_cpu_ns();
	rp_producer_close(pr);
	return r->err ? 1 : 0;
}

static int ring_consumer(struct pair *p)
{
	struct side_res *r = &p->sh->cons;
	struct rp_ring_fds side;
	struct rp_consumer *c = NULL;
	struct rp_ring_stats cs;
	struct rp_view v;
	uint64_t seq = 0, mask = tick_mask(p->len), pend = 0, pend_bytes = 0;
	uint64_t release_bytes;
	int64_t warm_end, wait_ns = WAIT_NS;
	int err;

	err = rp_ring_fds_for_consumer(&p->fds, &side);
	if (!err) {
		err = rp_consumer_open(&side, p->cbell, p->pbell, &c);
		rp_ring_fds_close(&side);
	}
	gate_wait(p);
	if (err) {
		fail(r, err, "rp_consumer_open");
		return 1;
	}
	/* Hand space back often enough that the producer never waits on
	 * a release, rarely enough to amortise the release store. */
	release_bytes = p->cap / 8;
	if (p->mode == PM_IDLE)
		wait_ns = 60 * 1000000000LL;
	warm_end = now_ns() + p->warm_ns;
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
		if (p->mode == PM_LATENCY && seq < BENCH_LAT_SAMPLES)
			p->sh->lat_ns[seq] =
				(uint64_t)now_ns() - payload_stamp(v.data);
		if (v.len != p->len || v.type != RP_REC_T_DATA ||
		    v.origin != seq || !bench_check(v.data, v.len, seq)) {
			fail(r, -EBADMSG, "record %llu corrupt",
			     (unsigned long long)seq);
			break;
		}
		seq++;
		pend_bytes += v.len;
		if (++pend >= RELEASE_EVERY || pend_bytes >= release_bytes ||
		    p->mode != PM_THROUGHPUT) {
			rp_release(c);
			pend = pend_bytes = 0;
		}
		if ((seq & mask) == 0 && r->t0 == 0) {
			int64_t t = now_ns();
			if (t >= warm_end) {
				r->t0 = t;
				r->n0 = seq;
			}
		}
	}
	rp_release(c);
	r->t1 = now_ns();
	r->n1 = r->records = seq;
	r->cpu_ns = self_cpu_ns();
	if (rp_consumer_stats(c, &r->ps, &cs) == 0) {
		r->parks = cs.waits;
		r->cs = cs;
	}
	rp_consumer_close(c);
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

static void frame_fill(unsigned char *rec, uint32_t len, uint64_t seq)
{
	struct frame_hdr h = {.len = len, .magic = FRAME_MAGIC, .seq = seq};

	memcpy(rec, &h, FRAME_HDR);
	bench_fill(rec + FRAME_HDR, len, seq);
}

static int stream_producer(struct pair *p)
{
	struct side_res *r = &p->sh->prod;
	uint32_t rec = FRAME_HDR + p->len;
	struct packer k = {.fd = p->sfd[1]};
	unsigned char *one;
	uint64_t seq = 0, mask = tick_mask(p->len), n = 0;
	int64_t end = 0;
	int err = 0;

	close(p->sfd[0]);
	one = aligned_alloc(64, (rec + 63) & ~63u);
	k.buf = aligned_alloc(64, BENCH_PACK_BYTES);
	gate_wait(p);
	if (one == NULL || k.buf == NULL) {
		fail(r, -ENOMEM, "buffers");
		goto out;
	}
	switch (p->mode) {
	case PM_THROUGHPUT:
		end = now_ns() + p->warm_ns + p->run_ns;
		n = UINT64_MAX;
		break;
	case PM_IDLE:
		if (ctl_wait(p, r) != 0)
			goto out;
		n = 1;
		break;
	case PM_LATENCY:
		n = BENCH_LAT_SAMPLES;
		break;
	}
	for (; seq < n; seq++) {
		if (p->mode == PM_THROUGHPUT && (seq & mask) == 0 &&
		    now_ns() >= end)
			break;
		if (p->x == BX_PIPE_PACKED) {
			/* Build in place when the record fits, as if
			 * formatted straight into the stdio buffer. */
			if (rec <= BENCH_PACK_BYTES - k.used) {
				frame_fill(k.buf + k.used, p->len, seq);
				k.used += rec;
				err = 0;
				if (k.used == BENCH_PACK_BYTES) {
					err = write_all(k.fd, k.buf, k.used);
					k.used = 0;
				}
			} else {
				frame_fill(one, p->len, seq);
				err = pack_put(&k, one, rec);
			}
		} else if (p->mode == PM_LATENCY) {
			uint64_t stamp;

			sleep_ns(p->gap_ns);
			stamp = (uint64_t)now_ns();
			frame_fill(one, p->len, seq);
			stamp_payload(one + FRAME_HDR, stamp);
			err = write_all(p->sfd[1], one, rec);
		} else {
			frame_fill(one, p->len, seq);
			err = write_all(p->sfd[1], one, rec);
		}
		if (err) {
			fail(r, err, "write, record %llu",
			     (unsigned long long)seq);
			break;
		}
	}
	/* The tail of the stream, as fclose would flush it. */
	if (!err && k.used > 0) {
		err = write_all(k.fd, k.buf, k.used);
		if (err)
			fail(r, err, "write");
	}
out:
	close(p->sfd[1]);
	r->records = seq;
	r->cpu_ns = self_cpu_ns();
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

static int stream_consumer(struct pair *p)
{
	struct side_res *r = &p->sh->cons;
	uint32_t rec = FRAME_HDR + p->len;
	struct reader s = {.fd = p->sfd[0]};
	uint64_t seq = 0, mask = tick_mask(p->len);
	int64_t warm_end;
	int got;

	close(p->sfd[1]);
	s.cap = 4 * (size_t)rec;
	if (s.cap < (1u << 20))
		s.cap = 1u << 20;
	s.buf = aligned_alloc(64, s.cap);
	gate_wait(p);
	if (s.buf == NULL) {
		fail(r, -ENOMEM, "buffer");
		goto out;
	}
	warm_end = now_ns() + p->warm_ns;
	for (;;) {
		struct frame_hdr h;
		const unsigned char *pl;

		got = reader_need(&s, FRAME_HDR);
		if (got == 0)
			break;
		if (got > 0)
			got = reader_need(&s, rec);
		if (got <= 0) {
			fail(r, got < 0 ? got : -EPROTO,
			     "read, record %llu", (unsigned long long)seq);
			break;
		}
		memcpy(&h, s.buf + s.r, FRAME_HDR);
		pl = s.buf + s.r + FRAME_HDR;
		if (p->mode == PM_LATENCY && seq < BENCH_LAT_SAMPLES)
			p->sh->lat_ns[seq] =
				(uint64_t)now_ns() - payload_stamp(pl);
		if (h.len != p->len || h.magic != FRAME_MAGIC || h.seq != seq ||
		    !bench_check(pl, p->len, seq)) {
			fail(r, -EBADMSG, "record %llu corrupt",
			     (unsigned long long)seq);
			break;
		}
		s.r += rec;
		seq++;
		if ((seq & mask) == 0 && r->t0 == 0) {
			int64_t t = now_ns();
			if (t >= warm_end) {
				r->t0 = t;
				r->n0 = seq;
			}
		}
	}
	r->t1 = now_ns();
	r->n1 = r->records = seq;
out:
	close(p->sfd[0]);
	r->cpu_ns = self_cpu_ns();
	free(s.buf);
	return r->err ? 1 : 0;
}

/* ---------------------------------------------------------------- pairs */

/* Pipe buffer for the pipe baselines: the largest an unprivileged
 * program may ask for.  The default 64 KiB is no faster for small
 * records and less than half as fast for large ones. */
#define PIPE_BYTES (1 << 20)

static int pair_open(struct pair *p)
{
	p->fds.p_fd = p->fds.c_fd = -1;
	p->sfd[0] = p->sfd[1] = p->gate[0] = p->gate[1] = -1;
	p->ctl[0] = p->ctl[1] = -1;
	p->sh = mmap(NULL, sizeof(*p->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->sh == MAP_FAILED) {
		p->sh = NULL;
		return -errno;
	}
	if (pipe2(p->gate, O_CLOEXEC) != 0 || pipe2(p->ctl, O_CLOEXEC) != 0)
		return -errno;
	switch (p->x) {
	case BX_RING: {
		struct rp_ring_config cfg = {.capacity = p->cap};
		int err = rp_ring_create(&cfg, &p->fds);
		if (!err)
			err = rp_bell_create(0, &p->pbell);
		if (!err)
			err = rp_bell_create(0, &p->cbell);
		return err;
	}
	case BX_PIPE_EACH:
	case BX_PIPE_PACKED:
		if (pipe2(p->sfd, O_CLOEXEC) != 0)
			return -errno;
		/* Best effort: a lower pipe-max-size leaves the default. */
		fcntl(p->sfd[1], F_SETPIPE_SZ, PIPE_BYTES);
		return 0;
	case BX_SOCKET:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			       p->sfd) != 0)
			return -errno;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Drop the parent's copies: the children hold their own. */
static void pair_release_transport(struct pair *p)
{
	rp_ring_fds_close(&p->fds);
	rp_bell_close(p->pbell);
	rp_bell_close(p->cbell);
	p->pbell = p->cbell = NULL;
	for (int i = 0; i < 2; i++) {
		if (p->sfd[i] >= 0)
			close(p->sfd[i]);
		p->sfd[i] = -1;
	}
}

static void pair_close(struct pair *p)
{
	pair_release_transport(p);
	for (int i = 0; i < 2; i++) {
		if (p->gate[i] >= 0)
			close(p->gate[i]);
		if (p->ctl[i] >= 0)
			close(p->ctl[i]);
		p->gate[i] = p->ctl[i] = -1;
	}
	if (p->sh != NULL)
		munmap(p->sh, sizeof(*p->sh));
	p->sh = NULL;
}

static pid_t spawn(struct pair *p, int cpu, int (*body)(struct pair *),
		   unsigned alarm_s)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	/* A vanished peer shows up as EPIPE, reported like any error. */
	signal(SIGPIPE, SIG_IGN);
	/* The last resort against a hang: SIGALRM's default kills. */
	signal(SIGALRM, SIG_DFL);
	alarm(alarm_s);
	pin(cpu);
	close(p->gate[1]);
	close(p->ctl[1]);
	_exit(body(p));
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Reap both children by the deadline.  A child that fails takes its peer
 * down at once (the peer would otherwise sit out its full wait); a pair
 * that overstays is killed.  0 if both exited 0.
 */
static int pair_reap(struct pair *p, int64_t deadline, const char *what)
{
	pid_t pids[2] = {p->prod, p->cons};
	const char *names[2] = {"producer", "consumer"};
	int fds[2] = {-1, -1}, status[2] = {0, 0}, done[2] = {0, 0}, bad = 0;
	int killed[2] = {0, 0};

	for (int i = 0; i < 2; i++)
		fds[i] = pids[i] > 0 ? pidfd_open_(pids[i]) : -1;
	while (!(done[0] && done[1])) {
		struct pollfd pf[2];
		int64_t left = deadline - now_ns();
		int n = 0, ms;

		for (int i = 0; i < 2; i++) {
			if (!done[i] && pids[i] > 0 &&
			    waitpid(pids[i], &status[i], WNOHANG) == pids[i]) {
				done[i] = 1;
				if (!WIFEXITED(status[i]) ||
				    WEXITSTATUS(status[i]) != 0) {
					bad = 1;
					if (!done[1 - i] && pids[1 - i] > 0) {
						kill(pids[1 - i], SIGKILL);
						killed[1 - i] = 1;
					}
				}
			} else if (pids[i] <= 0) {
				done[i] = 1;
			}
		}
		if (done[0] && done[1])
			break;
		if (left <= 0) {
			fprintf(stderr, "bench-ring: %s %s: timed out\n",
				bench_xport_name[p->x], what);
			for (int i = 0; i < 2; i++) {
				if (!done[i]) {
					kill(pids[i], SIGKILL);
					killed[i] = 1;
				}
			}
			bad = 1;
			deadline = now_ns() + 5 * 1000000000LL;
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (!done[i] && fds[i] >= 0) {
				pf[n].fd = fds[i];
				pf[n].events = POLLIN;
				n++;
			}
		}
		ms = (int)(left / 1000000) + 1;
		if (n == 0 && ms > 20)
			ms = 20; /* no pidfds: poll the slow way */
		poll(pf, (nfds_t)n, ms);
	}
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (WIFSIGNALED(status[i]) && !killed[i])
			fprintf(stderr, "bench-ring: %s %s: %s killed by %s\n",
				bench_xport_name[p->x], what, names[i],
				strsignal(WTERMSIG(status[i])));
	}
	for (int i = 0; i < 2; i++) {
		struct side_res *r = i == 0 ? &p->sh->prod : &p->sh->cons;
		if (r->err)
			fprintf(stderr, "bench-ring: %s %s: %s: %s\n",
				bench_xport_name[p->x], what, names[i],
				r->what);
	}
	return bad ? -1 : 0;
}

static int prod_body(struct pair *p)
{
	return p->x == BX_RING ? ring_producer(p) : stream_producer(p);
}

static int cons_body(struct pair *p)
{
	return p->x == BX_RING ? ring_consumer(p) : stream_consumer(p);
}

/* Create the transport and fork both sides, stopped at the gate. */
static int pair_start(struct pair *p, unsigned alarm_s, const char *what)
{
	int pc, cc, err;

	bench_placement(&pc, &cc);
	err = pair_open(p);
	if (err) {
		fprintf(stderr, "bench-ring: %s %s: setup: %s\n",
			bench_xport_name[p->x], what, strerror(-err));
		return -1;
	}
	p->cons = spawn(p, cc, cons_body, alarm_s);
	if (p->cons > 0)
		p->prod = spawn(p, pc, prod_body, alarm_s);
	pair_release_transport(p);
	if (p->cons < 0 || p->prod < 0) {
		fprintf(stderr, "bench-ring: fork: %s\n", strerror(errno));
		if (p->cons > 0)
			kill(p->cons, SIGKILL);
		pair_reap(p, now_ns(), what);
		return -1;
	}
	close(p->ctl[0]);
	p->ctl[0] = -1;
	close(p->gate[0]);
	p->gate[0] = -1;
	return 0;
}

static void gate_open(struct pair *p)
{
	close(p->gate[1]);
	p->gate[1] = -1;
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

int bench_run(const struct bench_run_cfg *cfg, struct bench_run_out *out)
{
	struct pair p = {.x = cfg->x, .mode = PM_THROUGHPUT, .len = cfg->len,
			 .warm_ns = cfg->warm_ns, .run_ns = cfg->run_ns};
	unsigned alarm_s;
	int64_t total = cfg->warm_ns + cfg->run_ns, t0, t1, busy0, busy1;
	struct side_res *c, *pr;
	int err;

	memset(out, 0, sizeof(*out));
	p.cap = cfg->ring_cap ? cfg->ring_cap : bench_ring_cap(cfg->len);
	alarm_s = (unsigned)(total / 1000000000) + CHILD_GRACE_S;
	if (pair_start(&p, alarm_s, "run") != 0) {
		pair_close(&p);
		return -1;
	}
	busy0 = machine_busy_ns();
	t0 = now_ns();
	gate_open(&p);
	err = pair_reap(&p, now_ns() + total + REAP_GRACE_NS, "run");
	t1 = now_ns();
	busy1 = machine_busy_ns();
	c = &p.sh->cons;
	pr = &p.sh->prod;
	if (!err && (c->records != pr->records || c->t0 == 0 ||
		     c->t1 <= c->t0 || c->n1 <= c->n0)) {
		fprintf(stderr,
			"bench-ring: %s run: sent %llu, verified %llu, "
			"no measurable window\n",
			bench_xport_name[p.x],
			(unsigned long long)pr->records,
			(unsigned long long)c->records);
		err = -1;
	}
	if (!err) {
		double s = (double)(c->t1 - c->t0) / 1e9;
		double cpu = (double)(c->cpu_ns + pr->cpu_ns) / 1e9;
		double gb = (double)c->records * cfg->len / 1e9;

		out->rec_s = (double)(c->n1 - c->n0) / s;
		out->bytes_s = out->rec_s * cfg->len;
		out->cpu_s_gb = cpu / gb;
		out->records = c->records;
		if (busy0 >= 0 && busy1 >= 0) {
			double other = (double)(busy1 - busy0 - c->cpu_ns -
						pr->cpu_ns);
			long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			out->others = other / ((double)(t1 - t0) *
					       (double)(ncpu > 0 ? ncpu : 1));
			if (out->others < 0)
				out->others = 0;
		}
		if (cfg->verbose && p.x == BX_RING)
			print_ring_stats(cfg, out, pr, c);
	}
	pair_close(&p);
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
	struct pair p = {.x = x, .mode = PM_IDLE, .len = 64};
	int64_t settle = 300 * 1000000LL, t0, t1, c0, c1, q0, q1;
	int err;

	memset(out, 0, sizeof(*out));
	p.cap = bench_ring_cap(p.len);
	if (pair_start(&p, (unsigned)(idle_ns / 1000000000) + CHILD_GRACE_S,
		       "idle") != 0) {
		pair_close(&p);
		return -1;
	}
	gate_open(&p);
	/* Let both block (the consumer spins briefly before it parks). */
	sleep_ns(settle);
	t0 = now_ns();
	c0 = pid_cpu_ns(p.cons);
	q0 = pid_cpu_ns(p.prod);
	sleep_ns(idle_ns);
	t1 = now_ns();
	c1 = pid_cpu_ns(p.cons);
	q1 = pid_cpu_ns(p.prod);
	/* One record, then end of stream: both must finish cleanly. */
	if (write(p.ctl[1], "g", 1) != 1)
		fprintf(stderr, "bench-ring: idle: ctl: %s\n", strerror(errno));
	err = pair_reap(&p, now_ns() + 15 * 1000000000LL, "idle");
	if (!err && (p.sh->cons.records != 1 || c0 < 0 || c1 < 0 || q0 < 0 ||
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
	pair_close(&p);
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int bench_latency(enum bench_xport x, int64_t gap_ns, struct bench_lat_out *out)
{
	struct pair p = {.x = x, .mode = PM_LATENCY, .len = 64,
			 .gap_ns = gap_ns};
	int64_t total = gap_ns * (int64_t)BENCH_LAT_SAMPLES * 2;
	uint64_t *lat;
	int err;

	memset(out, 0, sizeof(*out));
	p.cap = bench_ring_cap(p.len);
	if (pair_start(&p, (unsigned)(total / 1000000000) + CHILD_GRACE_S,
		       "latency") != 0) {
		pair_close(&p);
		return -1;
	}
	gate_open(&p);
	err = pair_reap(&p, now_ns() + total + REAP_GRACE_NS, "latency");
	if (!err && p.sh->cons.records != BENCH_LAT_SAMPLES) {
		fprintf(stderr, "bench-ring: %s latency: %llu samples\n",
			bench_xport_name[x],
			(unsigned long long)p.sh->cons.records);
		err = -1;
	}
	if (!err) {
		lat = p.sh->lat_ns;
		qsort(lat, BENCH_LAT_SAMPLES, sizeof(*lat), cmp_u64);
		out->samples = BENCH_LAT_SAMPLES;
		out->p50_us = (double)lat[BENCH_LAT_SAMPLES / 2] / 1e3;
		out->p99_us = (double)lat[BENCH_LAT_SAMPLES * 99 / 100] / 1e3;
		out->max_us = (double)lat[BENCH_LAT_SAMPLES - 1] / 1e3;
		out->parks = p.sh->cons.parks;
	}
	pair_close(&p);
	return err;
}

/*
 * Round trip of one cache line between the producer's and the consumer's
 * CPU, in ns.  Tens of ns: the two CPUs share a cache.  Hundreds or
 * more: the hypervisor placed them far apart or is sharing them, and
 * everything that crosses CPUs - ringpipe most of all - slows down.
 * Returns -1 if it could not be measured.
 */
double bench_cpu_round_trip(void)
{
	const uint64_t rounds = 100000;
	cpu_set_t saved;
	_Atomic uint64_t *w;
	int pc, cc, status;
	double rtt = -1;
	int64_t t0, t1, limit;
	uint64_t i;
	pid_t pid;

	bench_placement(&pc, &cc);
	w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (w == MAP_FAILED)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(5);
		pin(cc);
		/* Echo each value back, on a line of its own. */
		for (i = 1; i <= rounds; i++) {
			while (atomic_load_explicit(&w[0],
						    memory_order_acquire) != i)
				rp_cpu_relax();
			atomic_store_explicit(&w[8], i, memory_order_release);
		}
		_exit(0);
	}
	if (pid < 0) {
		munmap(w, 4096);
		return -1;
	}
	sched_getaffinity(0, sizeof(saved), &saved);
	pin(pc);
	t0 = now_ns();
	limit = t0 + 2 * 1000000000LL;
	for (i = 1; i <= rounds; i++) {
		atomic_store_explicit(&w[0], i, memory_order_release);
		while (atomic_load_explicit(&w[8], memory_order_acquire) != i) {
			rp_cpu_relax();
			if ((i & 1023) == 0 && now_ns() > limit)
				goto out;
		}
	}
	t1 = now_ns();
	rtt = (double)(t1 - t0) / (double)rounds;
out:
	sched_setaffinity(0, sizeof(saved), &saved);
	if (i <= rounds)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	munmap(w, 4096);
	return rtt;
}
