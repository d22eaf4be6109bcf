/*
 * bench.h - the ring benchmark: shared types of bench_ring.c (schedule,
 * report), bench_xfer.c (producer/consumer pairs and 3-process chains),
 * bench_base.c (baselines that are not transports: ping-pongs, the
 * cache-line round trip, memcpy), bench_proc.c (clocks, forking,
 * reaping) and bench_recover.c (a stage's crash and Ctrl-C, timed on the
 * real ringpipe binary).
 *
 * Every measurement forks its processes, pinned the same way whatever the
 * transport, so ringpipe and its baselines differ only in how the bytes
 * travel.  Every side does the same work per record: the producer writes
 * a payload that carries its sequence number and a checksum, a forwarder
 * checks and passes it on, the consumer reads every payload byte and
 * checks both.
 */
#ifndef RP_BENCH_H
#define RP_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How records travel. */
enum bench_xport {
	BX_RING,        /* ringpipe ring, zero copy both sides */
	BX_PIPE_EACH,   /* pipe, one write(2) per record */
	BX_PIPE_PACKED, /* pipe, records packed into 64 KiB writes (stdio) */
	BX_SOCKET,      /* AF_UNIX stream socketpair, one write per record */
	BX_COUNT
};

/* Packed writes are this large, like a stdio buffer of BUFSIZ 64 KiB. */
#define BENCH_PACK_BYTES (64u * 1024u)
/* Smallest payload: the sequence number and the checksum. */
#define BENCH_MIN_LEN 16u

struct bench_run_cfg {
	enum bench_xport x;
	int stages;        /* 0 or 2: a pair; 3: a chain, producer ->
			    * forwarder -> consumer (two rings or pipes) */
	uint32_t len;      /* payload bytes, a multiple of 8, >= 16 */
	uint32_t ring_cap; /* ring capacity; 0: chosen from len */
	int64_t warm_ns;   /* traffic before the measured window */
	int64_t run_ns;    /* measured window (approximately) */
	int verbose;       /* print the ring's counters to stderr */
};

struct bench_run_out {
	double rec_s;      /* records per second, measured at the consumer */
	double bytes_s;    /* payload bytes per second */
	double cpu_s_gb;   /* CPU seconds (both processes) per GB of payload */
	uint64_t records;  /* records delivered and verified in the run */
	double others;     /* share of the machine's CPU time that other
			    * processes (or the hypervisor) took meanwhile */
};

struct bench_idle_out {
	double pct;        /* CPU of the pair, percent of one CPU */
	double window_s;   /* wall time it was measured over */
};

/* Latency runs: records measured, after a few that warm up the caches,
 * the page tables and the scheduler's view of both processes. */
#define BENCH_LAT_SAMPLES 1000u
#define BENCH_LAT_WARM 20u

struct bench_lat_out {
	double p50_us, p99_us, max_us;
	uint64_t parks;    /* ring only: times the consumer slept */
	uint32_t samples;
	double rate;       /* under load: records per second achieved */
};

extern const char *const bench_xport_name[BX_COUNT];

/* --------------------------------------------------------- bench_proc.c */

#define BENCH_MAX_PROCS 3

int64_t bench_now_ns(void);
int64_t bench_self_cpu_ns(void);
void bench_sleep_ns(int64_t ns);
void bench_spin_until(int64_t t);
/* Place the producer on one CPU and the consumer on another (when the
 * machine has two); the same for every transport. */
void bench_placement(int *prod_cpu, int *cons_cpu);
/* A third CPU for a chain's forwarder, or -1 (it then floats). */
int bench_third_cpu(void);
void bench_pin(int cpu);
/* fork(); the child (0) ignores SIGPIPE, dies of SIGALRM after alarm_s
 * and runs on cpu (-1: anywhere). */
pid_t bench_fork(int cpu, unsigned alarm_s);
/* Reap n children by the deadline; one that fails takes the others down
 * at once, and a group that overstays is killed.  0 if all exited 0. */
int bench_reap(const pid_t *pids, const char *const *names, int n,
	       int64_t deadline, const char *what);
/* Sorts ns[0..n) and fills p50, p99, max and samples. */
void bench_percentiles(uint64_t *ns, size_t n, struct bench_lat_out *out);

/* --------------------------------------------------------- bench_xfer.c */

uint32_t bench_ring_cap(uint32_t len);

/* 0, or -1 after printing why to stderr. */
int bench_run(const struct bench_run_cfg *cfg, struct bench_run_out *out);
int bench_idle(enum bench_xport x, int64_t idle_ns, struct bench_idle_out *out);
/* One-way latency of 64-byte records sent gap_ns apart: slept (busy 0),
 * so that a ring consumer has parked, or paced on the clock (busy 1),
 * for gaps inside its spin window. */
int bench_latency(enum bench_xport x, int64_t gap_ns, int busy,
		  struct bench_lat_out *out);
/* Latency under load: 64-byte records paced at rate per second, each
 * stamped when made, measured over run_ns after warm_ns.  In both kinds
 * a ring producer publishes before it waits for its next record, as the
 * stage library does; packed pipe writes hold records back by design. */
int bench_load(enum bench_xport x, double rate, int64_t warm_ns,
	       int64_t run_ns, struct bench_lat_out *out);

/* --------------------------------------------------------- bench_base.c */

enum bench_pingpong {
	BP_FUTEX, /* a shared futex word each way, FUTEX_WAIT / FUTEX_WAKE */
	BP_PIPE,  /* a pipe each way, 64-byte messages */
};

/* Cross-CPU round trip of one cache line, ns; -1 if not measurable. */
double bench_cpu_round_trip(void);
/* Half round trips between the producer's and the consumer's CPU, one
 * every gap_ns (slept, so both sides are asleep when it starts). */
int bench_pingpong(enum bench_pingpong k, int64_t gap_ns,
		   struct bench_lat_out *out);
/* One core copying a 64 MiB buffer to another, bytes per second; -1 on
 * failure. */
double bench_memcpy_bw(int64_t run_ns);

/* ------------------------------------------------------ bench_recover.c */

/* bench-ring recovery ... and bench-ring sigint ...: see their usage. */
int bench_recovery_main(int argc, char **argv);
int bench_sigint_main(int argc, char **argv);

/*
 * Payload: word 0 the sequence number, word 1 the sum of every other
 * word, then a pattern that changes with the sequence number (so a stale
 * or misplaced record cannot pass).  Cheap to make and to check, but both
 * touch every byte.  Four accumulators keep the loops from being one long
 * dependency chain; the compiler is free to vectorise them.
 */
static inline void bench_fill(void *buf, uint32_t len, uint64_t seq)
{
	uint64_t *w = buf;
	size_t n = len / 8, i = 2;
	uint64_t k = 0x9e3779b97f4a7c15ull, x = seq * k;
	uint64_t s0 = seq, s1 = 0, s2 = 0, s3 = 0;

	w[0] = seq;
	for (; i + 4 <= n; i += 4) {
		uint64_t a = x + i * k, b = a + k, c = b + k, d = c + k;
		w[i] = a;
		w[i + 1] = b;
		w[i + 2] = c;
		w[i + 3] = d;
		s0 += a;
		s1 += b;
		s2 += c;
		s3 += d;
	}
	for (; i < n; i++) {
		w[i] = x + i * k;
		s0 += w[i];
	}
	w[1] = s0 + s1 + s2 + s3;
}

/* 1 if the payload is record seq, intact. */
static inline int bench_check(const void *buf, uint32_t len, uint64_t seq)
{
	const uint64_t *w = buf;
	size_t n = len / 8, i = 2;
	uint64_t s0 = w[0], s1 = 0, s2 = 0, s3 = 0;

	for (; i + 4 <= n; i += 4) {
		s0 += w[i];
		s1 += w[i + 1];
		s2 += w[i + 2];
		s3 += w[i + 3];
	}
	for (; i < n; i++)
		s0 += w[i];
	return w[0] == seq && w[1] == s0 + s1 + s2 + s3;
}

#endif /* RP_BENCH_H */
