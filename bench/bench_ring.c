/*
 * bench_ring.c - ringpipe against pipes: throughput, idle CPU, latency.
 *
 *   bench-ring [--json FILE] [--plot-data FILE] [--runs N] [--seconds S]
 *              [--lat-runs N] [--no-sweep] [--no-latency] [--quick]
 *              [--verbose]
 *   bench-ring recovery ...    (bench_recover.c)
 *   bench-ring sigint ...      (bench_recover.c)
 *
 * Prints one line per comparison,
 *   NAME: ringpipe VALUE UNIT, BASELINE VALUE UNIT, ratio X.XX
 * where ratio is always the ringpipe value divided by the baseline's
 * (above 1 is better for throughput, below 1 for CPU and latency).
 * Values are medians of runs made in rounds - every contender once per
 * round, ringpipe first - so that a slow phase of the machine (virtual
 * CPUs get moved and shared) hits every contender alike.  A closing block
 * says which targets the run met.
 *
 * Optionally: a sweep of record sizes against the pipe in both styles and
 * a socketpair, written as JSON (--json) and as a table for gnuplot
 * (--plot-data).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_RUNS 31

struct series {
	double v[MAX_RUNS];
	int n;
};

static void series_add(struct series *s, double v)
{
	if (s->n < MAX_RUNS)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const struct series *s)
{
	double t[MAX_RUNS];

	if (s->n == 0)
		return NAN;
	memcpy(t, s->v, sizeof(double) * (size_t)s->n);
	qsort(t, (size_t)s->n, sizeof(double), cmp_double);
	if (s->n % 2)
		return t[s->n / 2];
	return (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

static double min_of(const struct series *s)
{
	double m = s->n ? s->v[0] : NAN;

	for (int i = 1; i < s->n; i++)
		if (s->v[i] < m)
			m = s->v[i];
	return m;
}

static double max_of(const struct series *s)
{
	double m = s->n ? s->v[0] : NAN;

	for (int i = 1; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return m;
}

/* Three significant digits or more, so small baselines keep theirs. */
static const char *num(char *buf, size_t n, double v)
{
	double m = v < 0 ? -v : v;

	if (isnan(v))
		snprintf(buf, n, "nan");
	else if (m >= 100)
		snprintf(buf, n, "%.0f", v);
	else if (m >= 10)
		snprintf(buf, n, "%.1f", v);
	else if (m >= 1)
		snprintf(buf, n, "%.2f", v);
	else
		snprintf(buf, n, "%.3f", v);
	return buf;
}

/* One comparison, in the one format scripts rely on. */
struct cmp_line {
	const char *name, *unit, *base_name;
	double ring, base;
	const struct series *ring_runs, *base_runs;
};

#define MAX_LINES 32
static struct cmp_line lines[MAX_LINES];
static int nlines;

static double ratio_of(double ring, double base)
{
	return base != 0 ? ring / base : INFINITY;
}

/* X.XX, or two significant digits below 0.01, so that a ratio of a few
 * thousandths does not print as 0.00. */
static const char *ratio_str(char *buf, size_t n, double r)
{
	if (isfinite(r) && r > 0 && r < 0.01)
		snprintf(buf, n, "%.2g", r);
	else
		snprintf(buf, n, "%.2f", r);
	return buf;
}

static void print_line(const struct cmp_line *l)
{
	char a[32], b[32], c[32];

	printf("%s: ringpipe %s %s, %s %s %s, ratio %s\n", l->name,
	       num(a, sizeof(a), l->ring), l->unit, l->base_name,
	       num(b, sizeof(b), l->base), l->unit,
	       ratio_str(c, sizeof(c), ratio_of(l->ring, l->base)));
	fflush(stdout);
	if (nlines < MAX_LINES)
		lines[nlines++] = *l;
}

struct opts {
	const char *json, *plot;
	int runs, sweep_runs, lat_runs, sweep, latency, verbose;
	double seconds, sweep_seconds, warm_seconds, idle_seconds;
	double load_seconds;
};

static int64_t ns(double s)
{
	return (int64_t)(s * 1e9);
}

/* Throughput series of one contender. */
struct tp {
	struct series rec_s, bytes_s, cpu;
};

/* Share of the machine other processes took during measured runs. */
static double others_sum, others_max;
static int others_n;

/* Cross-CPU round trips probed between alternations of the main runs. */
static struct series rtt_runs;
static int verbose;

/* A pair (stages 2), a chain of three (stages 3), or, with x ==
 * BX_COUNT, one core's memcpy: the floor of any copy. */
struct contender {
	enum bench_xport x;
	uint32_t len;
	int stages;
};
#define MEMCPY BX_COUNT

static int run_one(const struct contender *c, double seconds, double warm,
		   struct tp *out)
{
	struct bench_run_cfg cfg = {.x = c->x, .stages = c->stages,
				    .len = c->len, .warm_ns = ns(warm),
				    .run_ns = ns(seconds),
				    .verbose = verbose};
	struct bench_run_out o;

	if (c->x == (enum bench_xport)MEMCPY) {
		double bw = bench_memcpy_bw(ns(seconds));

		if (bw < 0) {
			fprintf(stderr, "bench-ring: memcpy failed\n");
			return -1;
		}
		series_add(&out->bytes_s, bw);
		return 0;
	}
	if (bench_run(&cfg, &o) != 0)
		return -1;
	series_add(&out->rec_s, o.rec_s);
	series_add(&out->bytes_s, o.bytes_s);
	series_add(&out->cpu, o.cpu_s_gb);
	others_sum += o.others;
	others_n++;
	if (o.others > others_max)
		others_max = o.others;
	return 0;
}

/*
 * Run every contender once per round, for several rounds, so that a slow
 * phase of the machine (hosts migrate and share virtual CPUs) hits all of
 * them alike.  Any failed run fails the benchmark.
 */
static int alternate(const struct contender *c, int nc, int runs,
		     double seconds, double warm, struct series *rtt,
		     struct tp *out)
{
	for (int r = 0; r < runs; r++) {
		double t = rtt != NULL ? bench_cpu_round_trip() : -1;
		if (t >= 0) /* (none on one CPU) */
			series_add(rtt, t);
		for (int i = 0; i < nc; i++)
			if (run_one(&c[i], seconds, warm, &out[i]) != 0)
				return -1;
	}
	return 0;
}

static struct series scale(const struct series *s, double k)
{
	struct series t = *s;

	for (int i = 0; i < t.n; i++)
		t.v[i] *= k;
	return t;
}

/* Series kept for the JSON file, in print order. */
static struct series kept[MAX_LINES * 2];
static int nkept;

static const struct series *keep(struct series s)
{
	if (nkept >= MAX_LINES * 2)
		return NULL;
	kept[nkept] = s;
	return &kept[nkept++];
}

static void compare(const char *name, const char *unit, double k,
		    const struct series *ring, const char *base_name,
		    const struct series *base)
{
	const struct series *r = keep(scale(ring, k));
	const struct series *b = keep(scale(base, k));

	print_line(&(struct cmp_line){name, unit, base_name,
				      r ? median(r) : NAN,
				      b ? median(b) : NAN, r, b});
}

/* ------------------------------------------------------------- targets */

/* A target: the ratio of a printed comparison against a bar. */
struct target {
	const char *line; /* the comparison's name */
	int at_most;      /* 1: the ratio must be <= bar; 0: >= bar */
	double bar;
	const char *what;
};

static const struct target targets[] = {
	{"64B records (vs one write per record)", 0, 10,
	 "64B records, at least 10x the one-write pipe"},
	{"64B records (vs 64 KiB packed writes)", 0, 1,
	 "64B records, no slower than the packed pipe"},
	{"64KiB records", 0, 3, "64KiB records, at least 3x the pipe"},
	{"latency p50, parked consumer (vs half a futex round trip)", 1, 1.2,
	 "parked consumer within 1.2x half a futex ping-pong"},
	{"latency p50, spinning consumer (vs a cache-line round trip)", 1, 2,
	 "spinning consumer within 2x a cache-line round trip"},
	{"latency p50 under load, 1M rec/s (vs 64 KiB packed writes)", 1, 0.1,
	 "under load, median at least 10x lower than the packed pipe"},
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

static const struct cmp_line *line_named(const char *name)
{
	for (int i = 0; i < nlines; i++)
		if (strcmp(lines[i].name, name) == 0)
			return &lines[i];
	return NULL;
}

/* 1 met, 0 missed, -1 not measured in this run. */
static int target_met(const struct target *t, double *ratio)
{
	const struct cmp_line *l = line_named(t->line);

	if (l == NULL || !isfinite(l->ring) || !isfinite(l->base))
		return -1;
	*ratio = ratio_of(l->ring, l->base);
	return t->at_most ? *ratio <= t->bar : *ratio >= t->bar;
}

static void print_targets(void)
{
	static const char *const verdict[] = {"not measured", "missed",
					      "met"};

	printf("targets:\n");
	for (size_t i = 0; i < NTARGETS; i++) {
		double r = NAN;
		int met = target_met(&targets[i], &r);
		char c[32];

		printf("  %s: ratio %s (%s %g): %s\n", targets[i].what,
		       ratio_str(c, sizeof(c), r),
		       targets[i].at_most ? "<=" : ">=", targets[i].bar,
		       verdict[met + 1]);
	}
	fflush(stdout);
}

/* ---------------------------------------------------------------- sweep */

static const uint32_t sweep_sizes[] = {16,	 64,	  256,	   1024,
				       4096,	 16384,	  65536,   262144,
				       1048576};
#define NSWEEP (sizeof(sweep_sizes) / sizeof(sweep_sizes[0]))

static struct tp sweep_res[NSWEEP][BX_COUNT];

static int run_sweep(const struct opts *o)
{
	char a[BX_COUNT][32];

	printf("sweep: payload MB/s by record size, medians of %d "
	       "alternating runs\n",
	       o->sweep_runs);
	printf("sweep %10s %10s %10s %12s %11s\n", "size", "ringpipe", "pipe",
	       "pipe-packed", "socketpair");
	for (size_t i = 0; i < NSWEEP; i++) {
		struct contender all[BX_COUNT];

		for (int x = 0; x < BX_COUNT; x++)
			all[x] = (struct contender){(enum bench_xport)x,
						    sweep_sizes[i], 2};
		if (alternate(all, BX_COUNT, o->sweep_runs, o->sweep_seconds,
			      o->warm_seconds / 2, NULL, sweep_res[i]) != 0)
			return -1;
		for (int x = 0; x < BX_COUNT; x++)
			num(a[x], sizeof(a[x]),
			    median(&sweep_res[i][x].bytes_s) / 1e6);
		printf("sweep %8u B %10s %10s %12s %11s\n", sweep_sizes[i],
		       a[0], a[1], a[2], a[3]);
		fflush(stdout);
	}
	return 0;
}

/* ------------------------------------------------------------- latency */

/* Records spaced well past the consumer's spin window (about 50 us of
 * pauses), so that it parks before each one. */
#define PARK_GAP_NS (1000 * 1000)
/* Well inside the spin window, past its quiet first microseconds: the
 * consumer is spinning and has said so, as it is between records of a
 * steady stream. */
#define SPIN_GAP_NS (10 * 1000)
#define LOAD_RATE 1e6

/* p50 and p99 of several runs of one contender. */
struct lat_series {
	struct series p50, p99;
	uint64_t parks, samples;
};

static void lat_add(struct lat_series *s, const struct bench_lat_out *o)
{
	series_add(&s->p50, o->p50_us);
	series_add(&s->p99, o->p99_us);
	s->parks += o->parks;
	s->samples += o->samples;
}

struct lat_results {
	/* parked: ring, half futex ping-pong, half pipe ping-pong, pipe
	 * one-way; spinning: ring, and the cache-line round trip */
	struct lat_series ring, futex, pipe_pp, pipe, spin;
	struct series rtt_us;
	/* under load: ring, packed pipe; the rates they reached */
	struct lat_series load_ring, load_pipe;
	struct series load_rate[2];
};

/* One round of the parked comparisons, each with its 1 ms gaps. */
static int parked_round(struct lat_results *L)
{
	struct bench_lat_out o;

	if (bench_latency(BX_RING, PARK_GAP_NS, 0, &o) != 0)
		return -1;
	lat_add(&L->ring, &o);
	if (bench_pingpong(BP_FUTEX, PARK_GAP_NS, &o) != 0)
		return -1;
	lat_add(&L->futex, &o);
	if (bench_pingpong(BP_PIPE, PARK_GAP_NS, &o) != 0)
		return -1;
	lat_add(&L->pipe_pp, &o);
	if (bench_latency(BX_PIPE_EACH, PARK_GAP_NS, 0, &o) != 0)
		return -1;
	lat_add(&L->pipe, &o);
	return 0;
}

static int spin_round(struct lat_results *L)
{
	struct bench_lat_out o;
	double rtt;

	if (bench_latency(BX_RING, SPIN_GAP_NS, 1, &o) != 0)
		return -1;
	lat_add(&L->spin, &o);
	rtt = bench_cpu_round_trip();
	/* (None on one CPU: that comparison is then not measured.) */
	if (rtt >= 0)
		series_add(&L->rtt_us, rtt / 1e3);
	return 0;
}

static int load_round(const struct opts *o, struct lat_results *L)
{
	struct bench_lat_out r;

	if (bench_load(BX_RING, LOAD_RATE, ns(o->warm_seconds),
		       ns(o->load_seconds), &r) != 0)
		return -1;
	lat_add(&L->load_ring, &r);
	series_add(&L->load_rate[0], r.rate);
	if (bench_load(BX_PIPE_PACKED, LOAD_RATE, ns(o->warm_seconds),
		       ns(o->load_seconds), &r) != 0)
		return -1;
	lat_add(&L->load_pipe, &r);
	series_add(&L->load_rate[1], r.rate);
	return 0;
}

static void print_latency(struct lat_results *L)
{
	char a[32], b[32];

	compare("latency p50, parked consumer (vs half a futex round trip)",
		"us", 1, &L->ring.p50, "futex ping-pong/2", &L->futex.p50);
	compare("latency p99, parked consumer (vs half a futex round trip)",
		"us", 1, &L->ring.p99, "futex ping-pong/2", &L->futex.p99);
	compare("latency p50, parked consumer (vs half a pipe round trip)",
		"us", 1, &L->ring.p50, "pipe ping-pong/2", &L->pipe_pp.p50);
	compare("latency p99, parked consumer (vs half a pipe round trip)",
		"us", 1, &L->ring.p99, "pipe ping-pong/2", &L->pipe_pp.p99);
	compare("latency p50, parked consumer (vs one-way pipe write)", "us",
		1, &L->ring.p50, "pipe", &L->pipe.p50);
	compare("latency p99, parked consumer (vs one-way pipe write)", "us",
		1, &L->ring.p99, "pipe", &L->pipe.p99);
	compare("latency p50, spinning consumer (vs a cache-line round trip)",
		"ns", 1e3, &L->spin.p50, "cache-line round trip", &L->rtt_us);
	compare("latency p99, spinning consumer (vs a cache-line round trip)",
		"ns", 1e3, &L->spin.p99, "cache-line round trip", &L->rtt_us);
	compare("latency p50 under load, 1M rec/s (vs 64 KiB packed writes)",
		"us", 1, &L->load_ring.p50, "pipe-packed", &L->load_pipe.p50);
	compare("latency p99 under load, 1M rec/s (vs 64 KiB packed writes)",
		"us", 1, &L->load_ring.p99, "pipe-packed", &L->load_pipe.p99);
	/* Proof that each regime was the one named. */
	printf("latency: the ringpipe consumer parked %llu times in %llu "
	       "records spaced 1 ms, %llu times in %llu spaced 10 us; "
	       "under load the ring carried %s M rec/s, the pipe %s M rec/s "
	       "(medians)\n",
	       (unsigned long long)L->ring.parks,
	       (unsigned long long)L->ring.samples,
	       (unsigned long long)L->spin.parks,
	       (unsigned long long)L->spin.samples,
	       num(a, sizeof(a), median(&L->load_rate[0]) / 1e6),
	       num(b, sizeof(b), median(&L->load_rate[1]) / 1e6));
	fflush(stdout);
}

/*
 * Latency: a parked consumer against the sleeping hand-offs the kernel
 * offers, a spinning one against the cache line it waits on, and both
 * transports under a steady load.  Each kind in rounds, like the rest.
 */
static int run_latency(const struct opts *o, struct lat_results *L)
{
	printf("latency: 64B records, medians of %d alternating runs of %u "
	       "records (p50 and p99 of each run)\n",
	       o->lat_runs, BENCH_LAT_SAMPLES);
	fflush(stdout);
	for (int r = 0; r < o->lat_runs; r++)
		if (parked_round(L) != 0 || spin_round(L) != 0 ||
		    load_round(o, L) != 0)
			return -1;
	print_latency(L);
	return 0;
}

/* ------------------------------------------------------------- outputs */

static void json_series(FILE *f, const struct series *s)
{
	fputc('[', f);
	for (int i = 0; s != NULL && i < s->n; i++)
		fprintf(f, "%s%.6g", i ? ", " : "", s->v[i]);
	fputc(']', f);
}

static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

struct extra {
	double rtt[2]; /* cross-CPU round trip: median of rounds, at end */
	struct bench_idle_out idle[2];
	struct lat_results lat;
	int have_lat;
	int prod_cpu, cons_cpu;
};

static void json_comparisons(FILE *f)
{
	fprintf(f, "  \"comparisons\": [\n");
	for (int i = 0; i < nlines; i++) {
		const struct cmp_line *l = &lines[i];
		fprintf(f, "    {\"name\": \"%s\", \"unit\": \"%s\", "
			   "\"baseline_name\": \"%s\", \"ringpipe\": ",
			l->name, l->unit, l->base_name);
		json_num(f, l->ring);
		fputs(", \"baseline\": ", f);
		json_num(f, l->base);
		fputs(", \"ratio\": ", f);
		json_num(f, l->base != 0 ? l->ring / l->base : NAN);
		fputs(", \"ringpipe_runs\": ", f);
		json_series(f, l->ring_runs);
		fputs(", \"baseline_runs\": ", f);
		json_series(f, l->base_runs);
		fprintf(f, "}%s\n", i + 1 < nlines ? "," : "");
	}
	fprintf(f, "  ],\n");
}

static void json_targets(FILE *f)
{
	fprintf(f, "  \"targets\": [");
	for (size_t i = 0; i < NTARGETS; i++) {
		double r = NAN;
		int met = target_met(&targets[i], &r);

		fprintf(f, "%s\n    {\"target\": \"%s\", \"comparison\": "
			   "\"%s\", \"bar\": %g, \"at_most\": %s, \"ratio\": ",
			i ? "," : "", targets[i].what, targets[i].line,
			targets[i].bar, targets[i].at_most ? "true" : "false");
		json_num(f, r);
		fprintf(f, ", \"met\": %s}",
			met < 0 ? "null" : met ? "true" : "false");
	}
	fprintf(f, "\n  ],\n");
}

static void json_sweep(FILE *f, const struct opts *o)
{
	fprintf(f, "  \"sweep\": [");
	for (size_t i = 0; o->sweep && i < NSWEEP; i++) {
		fprintf(f, "%s\n    {\"size\": %u", i ? "," : "",
			sweep_sizes[i]);
		for (int x = 0; x < BX_COUNT; x++) {
			const struct tp *t = &sweep_res[i][x];
			fprintf(f, ", \"%s\": {\"bytes_per_s\": ",
				bench_xport_name[x]);
			json_num(f, median(&t->bytes_s));
			fputs(", \"records_per_s\": ", f);
			json_num(f, median(&t->rec_s));
			fputs(", \"cpu_s_per_gb\": ", f);
			json_num(f, median(&t->cpu));
			fputs(", \"bytes_per_s_runs\": ", f);
			json_series(f, &t->bytes_s);
			fputc('}', f);
		}
		fputc('}', f);
	}
	fprintf(f, "%s]\n", o->sweep ? "\n  " : "");
}

static int write_json(const char *path, const struct opts *o,
		      const struct extra *e)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "bench-ring: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"benchmark\": \"ringpipe ring vs pipe\",\n");
	fprintf(f, "  \"cpus\": %ld,\n  \"producer_cpu\": %d,\n"
		   "  \"consumer_cpu\": %d,\n",
		sysconf(_SC_NPROCESSORS_ONLN), e->prod_cpu, e->cons_cpu);
	fprintf(f, "  \"runs\": %d,\n  \"run_seconds\": %g,\n", o->runs,
		o->seconds);
	/* (null for one CPU, where there is no round trip) */
	fprintf(f, "  \"cpu_round_trip_ns\": {\"median\": ");
	json_num(f, e->rtt[0] >= 0 ? e->rtt[0] : NAN);
	fprintf(f, ", \"end\": ");
	json_num(f, e->rtt[1] >= 0 ? e->rtt[1] : NAN);
	fprintf(f, ", \"rounds\": ");
	json_series(f, &rtt_runs);
	fprintf(f, "},\n");
	fprintf(f, "  \"others_cpu_share\": {\"mean\": %.4f, \"max\": %.4f},\n",
		others_n ? others_sum / others_n : 0.0, others_max);
	json_comparisons(f);
	json_targets(f);
	fprintf(f, "  \"idle_cpu_percent\": {\"ringpipe\": %.6f, "
		   "\"pipe\": %.6f, \"window_seconds\": %.3f},\n",
		e->idle[0].pct, e->idle[1].pct, e->idle[0].window_s);
	if (e->have_lat) {
		const struct lat_results *L = &e->lat;

		fprintf(f, "  \"latency\": {\"runs\": %d, \"samples_per_run\": "
			   "%u, \"parked_gap_us\": %d, \"spinning_gap_us\": "
			   "%d, \"ringpipe_parks\": {\"parked\": %llu, "
			   "\"spinning\": %llu}, \"load_rate\": %g, "
			   "\"load_rate_reached\": {\"ringpipe\": ",
			L->ring.p50.n, BENCH_LAT_SAMPLES, PARK_GAP_NS / 1000,
			SPIN_GAP_NS / 1000, (unsigned long long)L->ring.parks,
			(unsigned long long)L->spin.parks, LOAD_RATE);
		json_num(f, median(&L->load_rate[0]));
		fputs(", \"pipe-packed\": ", f);
		json_num(f, median(&L->load_rate[1]));
		fprintf(f, "}},\n");
	}
	json_sweep(f, o);
	fprintf(f, "}\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "bench-ring: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_plot_data(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "bench-ring: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "# size_bytes");
	for (int x = 0; x < BX_COUNT; x++)
		fprintf(f, "\t%s_GB_per_s", bench_xport_name[x]);
	fputc('\n', f);
	for (size_t i = 0; i < NSWEEP; i++) {
		fprintf(f, "%u", sweep_sizes[i]);
		for (int x = 0; x < BX_COUNT; x++)
			fprintf(f, "\t%.6g",
				median(&sweep_res[i][x].bytes_s) / 1e9);
		fputc('\n', f);
	}
	return fclose(f) == 0 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-ring [--json FILE] [--plot-data FILE] "
		"[--runs N] [--seconds S]\n"
		"                  [--lat-runs N] [--no-sweep] [--no-latency] "
		"[--quick] [--verbose]\n"
		"       bench-ring recovery ...  (see bench-ring recovery "
		"--help)\n"
		"       bench-ring sigint ...    (see bench-ring sigint "
		"--help)\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.runs = 7, .sweep_runs = 5, .lat_runs = 5,
			   .sweep = 1, .latency = 1, .seconds = 0.4,
			   .sweep_seconds = 0.15, .warm_seconds = 0.1,
			   .idle_seconds = 2.0, .load_seconds = 0.5};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--json") == 0 && v) {
			o->json = v;
			i++;
		} else if (strcmp(a, "--plot-data") == 0 && v) {
			o->plot = v;
			i++;
		} else if (strcmp(a, "--runs") == 0 && v) {
			o->runs = atoi(v);
			i++;
		} else if (strcmp(a, "--lat-runs") == 0 && v) {
			o->lat_runs = atoi(v);
			i++;
		} else if (strcmp(a, "--seconds") == 0 && v) {
			o->seconds = atof(v);
			i++;
		} else if (strcmp(a, "--no-sweep") == 0) {
			o->sweep = 0;
		} else if (strcmp(a, "--no-latency") == 0) {
			o->latency = 0;
		} else if (strcmp(a, "--verbose") == 0) {
			o->verbose = 1;
		} else if (strcmp(a, "--quick") == 0) {
			o->runs = 3;
			o->sweep_runs = 1;
			o->lat_runs = 1;
			o->seconds = 0.15;
			o->sweep_seconds = 0.05;
			o->warm_seconds = 0.05;
			o->idle_seconds = 0.5;
			o->load_seconds = 0.2;
		} else {
			usage();
			return -1;
		}
	}
	if (o->runs < 1 || o->runs > MAX_RUNS || o->lat_runs < 1 ||
	    o->lat_runs > MAX_RUNS || !(o->seconds > 0) || o->seconds > 60) {
		usage();
		return -1;
	}
	return 0;
}

/* The main rounds: every throughput comparison and its baseline. */
enum {
	R64, P64, K64,     /* 64 B: ring, pipe one write each, packed */
	R64K, P64K, MC,    /* 64 KiB: ring, pipe; one core's memcpy */
	CR64, CP64, CK64,  /* 64 B through a 3-process chain */
	NMAIN
};

static const struct contender main_runs[NMAIN] = {
	[R64] = {BX_RING, 64, 2},	  [P64] = {BX_PIPE_EACH, 64, 2},
	[K64] = {BX_PIPE_PACKED, 64, 2},  [R64K] = {BX_RING, 65536, 2},
	[P64K] = {BX_PIPE_EACH, 65536, 2}, [MC] = {MEMCPY, 0, 0},
	[CR64] = {BX_RING, 64, 3},	  [CP64] = {BX_PIPE_EACH, 64, 3},
	[CK64] = {BX_PIPE_PACKED, 64, 3},
};

static void print_throughput(const struct tp *t)
{
	compare("64B records (vs one write per record)", "M rec/s", 1e-6,
		&t[R64].rec_s, "pipe", &t[P64].rec_s);
	compare("64B records (vs 64 KiB packed writes)", "M rec/s", 1e-6,
		&t[R64].rec_s, "pipe-packed", &t[K64].rec_s);
	compare("64KiB records", "GB/s", 1e-9, &t[R64K].bytes_s, "pipe",
		&t[P64K].bytes_s);
	compare("64KiB records (vs one core's memcpy of 64 MiB)", "GB/s",
		1e-9, &t[R64K].bytes_s, "memcpy", &t[MC].bytes_s);
	compare("64B records, 3-stage chain (vs one write per record)",
		"M rec/s", 1e-6, &t[CR64].rec_s, "pipe chain", &t[CP64].rec_s);
	compare("64B records, 3-stage chain (vs 64 KiB packed writes)",
		"M rec/s", 1e-6, &t[CR64].rec_s, "pipe-packed chain",
		&t[CK64].rec_s);
	compare("CPU per GB, 64B records (vs one write per record)", "s/GB",
		1, &t[R64].cpu, "pipe", &t[P64].cpu);
	compare("CPU per GB, 64B records (vs 64 KiB packed writes)", "s/GB",
		1, &t[R64].cpu, "pipe-packed", &t[K64].cpu);
	compare("CPU per GB, 64KiB records", "s/GB", 1, &t[R64K].cpu, "pipe",
		&t[P64K].cpu);
	compare("CPU per GB, 3-stage chain (vs one write per record)", "s/GB",
		1, &t[CR64].cpu, "pipe chain", &t[CP64].cpu);
	compare("CPU per GB, 3-stage chain (vs 64 KiB packed writes)", "s/GB",
		1, &t[CR64].cpu, "pipe-packed chain", &t[CK64].cpu);
}

static int run_idle(struct extra *e, const struct opts *o)
{
	double floor_pct, pipe;

	if (bench_idle(BX_RING, ns(o->idle_seconds), &e->idle[0]) != 0 ||
	    bench_idle(BX_PIPE_EACH, ns(o->idle_seconds), &e->idle[1]) != 0)
		return -1;
	/* A blocked pipe reader takes no CPU at all, so ringpipe / pipe would
	 * divide by zero: the ratio is taken against one clock tick (10 ms)
	 * per window when the pipe shows less, the least that top(1) or
	 * ps(1) can show.  Below 1: not measurable by those tools. */
	floor_pct = 100.0 * 0.01 / e->idle[1].window_s;
	pipe = e->idle[1].pct > floor_pct ? e->idle[1].pct : floor_pct;
	printf("idle CPU, blocked pair for %.1f s (pipe floored at one "
	       "tick): ringpipe %.4f %% CPU, pipe %.4f %% CPU, ratio %.2f\n",
	       e->idle[0].window_s, e->idle[0].pct, e->idle[1].pct,
	       e->idle[0].pct / pipe);
	fflush(stdout);
	return 0;
}

static int bench_main(int argc, char **argv)
{
	static struct tp t[NMAIN];
	static struct extra e;
	struct opts o;

	if (parse_opts(argc, argv, &o) != 0)
		return 2;
	verbose = o.verbose;
	bench_placement(&e.prod_cpu, &e.cons_cpu);
	printf("ringpipe ring benchmark: %ld CPUs, ",
	       sysconf(_SC_NPROCESSORS_ONLN));
	if (e.prod_cpu >= 0)
		printf("producer on CPU %d, consumer on CPU %d",
		       e.prod_cpu, e.cons_cpu);
	else
		printf("producer and consumer unpinned");
	if (bench_third_cpu() < 0)
		printf(", a chain's forwarder unpinned");
	printf(" (every transport alike); medians of %d alternating runs of "
	       "%.2f s; ratio = ringpipe / baseline\n",
	       o.runs, o.seconds);
	fflush(stdout);

	if (alternate(main_runs, NMAIN, o.runs, o.seconds, o.warm_seconds,
		      &rtt_runs, t))
		return 1;
	print_throughput(t);
	/* Everything that crosses CPUs - ringpipe's zero copy most of all -
	 * slows down when this round trip grows, which happens when the
	 * host moves or shares virtual CPUs: it tells a slow phase of the
	 * machine from a slow ring. */
	e.rtt[0] = median(&rtt_runs);
	printf("machine: cross-CPU cache line round trip %.0f ns (median of "
	       "%d rounds, %.0f..%.0f)\n",
	       e.rtt[0], rtt_runs.n, min_of(&rtt_runs), max_of(&rtt_runs));
	fflush(stdout);

	if (run_idle(&e, &o) != 0)
		return 1;
	if (o.latency) {
		if (run_latency(&o, &e.lat) != 0)
			return 1;
		e.have_lat = 1;
	}
	if (o.sweep && run_sweep(&o) != 0)
		return 1;
	e.rtt[1] = bench_cpu_round_trip();
	printf("machine: cross-CPU round trip %.0f ns at the end; other "
	       "processes took %.1f %% of the CPUs during the runs (at most "
	       "%.1f %% in one)\n",
	       e.rtt[1], others_n ? 100 * others_sum / others_n : 0.0,
	       100 * others_max);
	print_targets();
	if (o.json && write_json(o.json, &o, &e) != 0)
		return 1;
	if (o.plot && o.sweep && write_plot_data(o.plot) != 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "recovery") == 0)
		return bench_recovery_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "sigint") == 0)
		return bench_sigint_main(argc - 1, argv + 1);
	return bench_main(argc, argv);
}
