/*
 * bench_base.c - the baselines that are not transports, each measured in
 * the same run as what it is compared with: the cross-CPU round trip of a
 * cache line (the floor of any shared-memory hand-off), futex and pipe
 * ping-pongs (the floor of any hand-off to a sleeping process), and the
 * bandwidth of one core's memcpy (the floor of any copy).
 *
 * Every side runs pinned as a ring's producer and consumer are, so the
 * ring and its floor cross the same two CPUs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../shm/futex.h"
#include "bench.h"

/* A wait of a ping-pong that outlasts this failed. */
#define PP_WAIT_NS (10 * 1000000000LL)
#define PP_GRACE_S 20
#define REAP_GRACE_NS ((PP_GRACE_S + 5) * 1000000000LL)
#define PP_MSG 64u

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
	if (pc < 0)
		return -1; /* one CPU: there is no other to go round to */
	w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (w == MAP_FAILED)
		return -1;
	pid = bench_fork(cc, 5);
	if (pid == 0) {
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
	bench_pin(pc);
	t0 = bench_now_ns();
	limit = t0 + 2 * 1000000000LL;
	for (i = 1; i <= rounds; i++) {
		uint64_t spins = 0;
		atomic_store_explicit(&w[0], i, memory_order_release);
		/* Bounded: an echo that stops (its process gone, or sharing
		 * our CPU after all) ends the probe, not the benchmark. */
		while (atomic_load_explicit(&w[8], memory_order_acquire) != i) {
			rp_cpu_relax();
			if ((++spins & 1023) == 0 && bench_now_ns() > limit)
				goto out;
		}
	}
	t1 = bench_now_ns();
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

/* ----------------------------------------------------------- ping-pongs */

struct pp_shared {
	rp_atomic32 ping, pong; /* futex words, on lines of their own */
	char pad[120];
	uint64_t half_ns[BENCH_LAT_WARM + BENCH_LAT_SAMPLES];
	char what[128];
};

struct pingpong {
	enum bench_pingpong k;
	int64_t gap_ns;
	int ab[2], ba[2]; /* pipes: initiator to responder, and back */
	struct pp_shared *sh;
};

/* Sleep on *w until it holds v (no spinning: the point is the cost of a
 * sleeping hand-off).  0, or -ETIMEDOUT. */
static int futex_await(rp_atomic32 *w, uint32_t v)
{
	int64_t end = bench_now_ns() + PP_WAIT_NS;

	for (;;) {
		uint32_t now = rp_load32_acquire(w);

		if (now == v)
			return 0;
		if (bench_now_ns() > end)
			return -ETIMEDOUT;
		rp_futex_wait(w, now, 1000000000LL);
	}
}

static void futex_post(rp_atomic32 *w, uint32_t v)
{
	rp_store32_release(w, v);
	rp_futex_wake(w, 1);
}

/* A 64-byte message, as a latency record is; the peer echoes it. */
static int pipe_send(int fd, uint32_t i)
{
	unsigned char m[PP_MSG] = {0};

	memcpy(m, &i, sizeof(i));
	return write(fd, m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : -EPIPE;
}

static int pipe_await(int fd, uint32_t i)
{
	unsigned char m[PP_MSG];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	uint32_t v;

	while (got < sizeof(m)) {
		int n = poll(&pfd, 1, (int)(PP_WAIT_NS / 1000000));
		ssize_t k;

		if (n == 0)
			return -ETIMEDOUT;
		if (n < 0) {
			if (errno != EINTR)
				return -errno;
			continue;
		}
		k = read(fd, m + got, sizeof(m) - got);
		if (k == 0)
			return -EPIPE;
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k > 0)
			got += (size_t)k;
	}
	memcpy(&v, m, sizeof(v));
	return v == i ? 0 : -EBADMSG;
}

static int pp_initiator(struct pingpong *p)
{
	const uint32_t n = BENCH_LAT_WARM + BENCH_LAT_SAMPLES;
	int err = 0;

	for (uint32_t i = 1; i <= n && !err; i++) {
		int64_t t0, t1;

		bench_sleep_ns(p->gap_ns);
		t0 = bench_now_ns();
		if (p->k == BP_FUTEX) {
			futex_post(&p->sh->ping, i);
			err = futex_await(&p->sh->pong, i);
		} else {
			err = pipe_send(p->ab[1], i);
			if (!err)
				err = pipe_await(p->ba[0], i);
		}
		t1 = bench_now_ns();
		p->sh->half_ns[i - 1] = (uint64_t)(t1 - t0) / 2;
	}
	if (err)
		snprintf(p->sh->what, sizeof(p->sh->what), "initiator: %s",
			 strerror(-err));
	return err ? 1 : 0;
}

static int pp_responder(struct pingpong *p)
{
	const uint32_t n = BENCH_LAT_WARM + BENCH_LAT_SAMPLES;
	int err = 0;

	for (uint32_t i = 1; i <= n && !err; i++) {
		if (p->k == BP_FUTEX) {
			err = futex_await(&p->sh->ping, i);
			if (!err)
				futex_post(&p->sh->pong, i);
		} else {
			err = pipe_await(p->ab[0], i);
			if (!err)
				err = pipe_send(p->ba[1], i);
		}
	}
	if (err)
		snprintf(p->sh->what, sizeof(p->sh->what), "responder: %s",
			 strerror(-err));
	return err ? 1 : 0;
}

static void pp_close(struct pingpong *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->ab[i] >= 0)
			close(p->ab[i]);
		if (p->ba[i] >= 0)
			close(p->ba[i]);
		p->ab[i] = p->ba[i] = -1;
	}
}

/* Fork one side; it keeps only the pipe ends it uses. */
static pid_t pp_spawn(struct pingpong *p, int cpu, int initiator,
		      unsigned alarm_s)
{
	pid_t pid = bench_fork(cpu, alarm_s);

	if (pid != 0)
		return pid;
	close(initiator ? p->ab[0] : p->ab[1]);
	close(initiator ? p->ba[1] : p->ba[0]);
	_exit(initiator ? pp_initiator(p) : pp_responder(p));
}

int bench_pingpong(enum bench_pingpong k, int64_t gap_ns,
		   struct bench_lat_out *out)
{
	const uint32_t n = BENCH_LAT_WARM + BENCH_LAT_SAMPLES;
	struct pingpong p = {.k = k, .gap_ns = gap_ns,
			     .ab = {-1, -1}, .ba = {-1, -1}};
	const char *names[2] = {"initiator", "responder"};
	int64_t total = (gap_ns + 100000) * (int64_t)n * 2;
	unsigned alarm_s = (unsigned)(total / 1000000000) + PP_GRACE_S;
	pid_t pids[2] = {-1, -1};
	int pc, cc, err = -1;

	memset(out, 0, sizeof(*out));
	bench_placement(&pc, &cc);
	p.sh = mmap(NULL, sizeof(*p.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p.sh == MAP_FAILED)
		return -1;
	if (pipe2(p.ab, O_CLOEXEC) != 0 || pipe2(p.ba, O_CLOEXEC) != 0) {
		fprintf(stderr, "bench-ring: ping-pong: pipe: %s\n",
			strerror(errno));
		goto out;
	}
	pids[1] = pp_spawn(&p, cc, 0, alarm_s);
	if (pids[1] > 0)
		pids[0] = pp_spawn(&p, pc, 1, alarm_s);
	pp_close(&p);
	if (pids[1] > 0 && pids[0] < 0)
		kill(pids[1], SIGKILL);
	err = bench_reap(pids, names, 2, bench_now_ns() + total + REAP_GRACE_NS,
			 k == BP_FUTEX ? "futex ping-pong" : "pipe ping-pong");
	if (p.sh->what[0])
		fprintf(stderr, "bench-ring: ping-pong: %s\n", p.sh->what);
	if (pids[0] < 0 || pids[1] < 0)
		err = -1;
	if (!err)
		bench_percentiles(p.sh->half_ns + BENCH_LAT_WARM,
				  BENCH_LAT_SAMPLES, out);
out:
	pp_close(&p);
	munmap(p.sh, sizeof(*p.sh));
	return err;
}

/* --------------------------------------------------------------- memcpy */

#define COPY_BYTES (64u << 20)

/* In a child on the consumer's CPU: copy one 64 MiB buffer to another
 * (both touched first) for run_ns; bytes per second into *bw. */
static int copy_child(int64_t run_ns, double *bw)
{
	unsigned char *a = mmap(NULL, 2 * (size_t)COPY_BYTES,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t copies = 0;
	int64_t t0, t1, end;

	if (a == MAP_FAILED)
		return 1;
	memset(a, 1, 2 * (size_t)COPY_BYTES);
	memcpy(a + COPY_BYTES, a, COPY_BYTES); /* warm-up */
	t0 = bench_now_ns();
	end = t0 + run_ns;
	do {
		/* Alternate directions so no copy can be skipped. */
		if (copies & 1)
			memcpy(a, a + COPY_BYTES, COPY_BYTES);
		else
			memcpy(a + COPY_BYTES, a, COPY_BYTES);
		copies++;
		t1 = bench_now_ns();
	} while (t1 < end);
	*bw = (double)copies * COPY_BYTES / ((double)(t1 - t0) / 1e9);
	return a[COPY_BYTES - 1] == 1 ? 0 : 1;
}

double bench_memcpy_bw(int64_t run_ns)
{
	const char *names[1] = {"copier"};
	double *bw, res = -1;
	int pc, cc;
	pid_t pid;

	bw = mmap(NULL, sizeof(*bw), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bw == MAP_FAILED)
		return -1;
	*bw = -1;
	bench_placement(&pc, &cc);
	pid = bench_fork(cc, (unsigned)(run_ns / 1000000000) + PP_GRACE_S);
	if (pid == 0)
		_exit(copy_child(run_ns, bw));
	if (pid > 0 && bench_reap(&pid, names, 1,
				  bench_now_ns() + run_ns + REAP_GRACE_NS,
				  "memcpy") == 0)
		res = *bw;
	munmap(bw, sizeof(*bw));
	return res;
}
