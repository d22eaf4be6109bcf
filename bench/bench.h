/*
 * bench.h - the ring benchmark: shared types of bench_ring.c (schedule,
 * report) and bench_xfer.c (the producer/consumer pairs).
 *
 * Every measurement forks two processes, a producer and a consumer, pinned
 * the same way whatever the transport, so ringpipe and its baselines differ
 * only in how the bytes travel.  Both sides do the same work per record:
 * the producer writes a payload that carries its sequence number and a
 * checksum, the consumer reads every payload byte and checks both.
 */
#ifndef RP_BENCH_H
#define RP_BENCH_H

#include <stddef.h>
#include <stdint.h>

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

#define BENCH_LAT_SAMPLES 1000u

struct bench_lat_out {
	double p50_us, p99_us, max_us;
	uint64_t parks;    /* ring only: times the consumer slept */
	uint32_t samples;
};

extern const char *const bench_xport_name[BX_COUNT];

/* Place the producer on one CPU and the consumer on another (when the
 * machine has two); the same for every transport. */
void bench_placement(int *prod_cpu, int *cons_cpu);
uint32_t bench_ring_cap(uint32_t len);

double bench_cpu_round_trip(void);

/* 0, or -1 after printing why to stderr. */
int bench_run(const struct bench_run_cfg *cfg, struct bench_run_out *out);
int bench_idle(enum bench_xport x, int64_t idle_ns, struct bench_idle_out *out);
int bench_latency(enum bench_xport x, int64_t gap_ns,
		  struct bench_lat_out *out);

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
