/*
 * bench_ring.c - ringpipe against pipes: throughput, idle CPU, latency.
 *
 *   bench-ring [--json FILE] [--plot-data FILE] [--runs N] [--seconds S]
 *              [--no-sweep] [--no-latency] [--quick] [--verbose]
 *
 * Prints one line per comparison,
 *   NAME: ringpipe VALUE UNIT, pipe VALUE UNIT, ratio X.XX
 * where ratio is always the ringpipe value divided by the pipe value
 * (above 1 is better for throughput, below 1 for CPU and latency).  Values
 * are medians of runs made in rounds - every contender once per round,
 * ringpipe first - so that a slow phase of the machine (virtual CPUs get
 * moved and shared) hits every contender alike.
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
	const char *name, *unit;
	double ring, pipe;
	const struct series *ring_runs, *pipe_runs;
};

#define MAX_LINES 16
static struct cmp_line lines[MAX_LINES];
static int nlines;

static void print_line(const char *name, const char *unit, double ring,
		       double pipe, const struct series *rs,
		       const struct series *ps)
{
	char a[32], b[32];

	printf("%s: ringpipe %s %s, pipe %s %s, ratio %.2f\n", name,
	       num(a, sizeof(a), ring), unit, num(b, sizeof(b), pipe), unit,
	       pipe != 0 ? ring / pipe : INFINITY);
	fflush(stdout);
	if (nlines < MAX_LINES)
		lines[nlines++] = (struct cmp_line){name, unit, ring, pipe, rs,
						    ps};
}

struct opts {
	const char *json, *plot;
	int runs, sweep_runs, sweep, latency, verbose;
	double seconds, sweep_seconds, warm_seconds, idle_seconds;
};

static int64_t ns(double s)
{
	return (int64_t)(s * 1e9);
}

/* Throughput series of one transport and size. */
struct tp {
	struct series rec_s, bytes_s, cpu;
};

/* Share of the machine other processes took during measured runs. */
static double others_sum, others_max;
static int others_n;

/* Cross-CPU round trips probed between alternations of the main runs. */
static struct series rtt_runs;
static int verbose;

struct contender {
	enum bench_xport x;
	uint32_t len;
};

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
		if (rtt != NULL)
			series_add(rtt, bench_cpu_round_trip());
		for (int i = 0; i < nc; i++) {
			struct bench_run_cfg cfg = {
				.x = c[i].x, .len = c[i].len,
				.warm_ns = ns(warm), .run_ns = ns(seconds),
				.verbose = verbose};
			struct bench_run_out o;

			if (bench_run(&cfg, &o) != 0)
				return -1;
			series_add(&out[i].rec_s, o.rec_s);
			series_add(&out[i].bytes_s, o.bytes_s);
			series_add(&out[i].cpu, o.cpu_s_gb);
			others_sum += o.others;
			others_n++;
			if (o.others > others_max)
				others_max = o.others;
		}
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
		    const struct series *ring, const struct series *pipe)
{
	const struct series *r = keep(scale(ring, k));
	const struct series *p = keep(scale(pipe, k));

	print_line(name, unit, r ? median(r) : NAN, p ? median(p) : NAN, r,
		   p);
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
						    sweep_sizes[i]};
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
	struct bench_lat_out lat[2];
	int have_lat;
	int prod_cpu, cons_cpu;
};

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
	fprintf(f, "  \"cpu_round_trip_ns\": {\"median\": %.1f, \"end\": %.1f, "
		   "\"rounds\": ",
		e->rtt[0], e->rtt[1]);
	json_series(f, &rtt_runs);
	fprintf(f, "},\n");
	fprintf(f, "  \"others_cpu_share\": {\"mean\": %.4f, \"max\": %.4f},\n",
		others_n ? others_sum / others_n : 0.0, others_max);
	fprintf(f, "  \"comparisons\": [\n");
	for (int i = 0; i < nlines; i++) {
		const struct cmp_line *l = &lines[i];
		fprintf(f, "    {\"name\": \"%s\", \"unit\": \"%s\", "
			   "\"ringpipe\": ",
			l->name, l->unit);
		json_num(f, l->ring);
		fputs(", \"pipe\": ", f);
		json_num(f, l->pipe);
		fputs(", \"ratio\": ", f);
		json_num(f, l->pipe != 0 ? l->ring / l->pipe : NAN);
		fputs(", \"ringpipe_runs\": ", f);
		json_series(f, l->ring_runs);
		fputs(", \"pipe_runs\": ", f);
		json_series(f, l->pipe_runs);
		fprintf(f, "}%s\n", i + 1 < nlines ? "," : "");
	}
	fprintf(f, "  ],\n");
	fprintf(f, "  \"idle_cpu_percent\": {\"ringpipe\": %.6f, "
		   "\"pipe\": %.6f, \"window_seconds\": %.3f},\n",
		e->idle[0].pct, e->idle[1].pct, e->idle[0].window_s);
	if (e->have_lat) {
		fprintf(f, "  \"latency_us\": {");
		for (int i = 0; i < 2; i++)
			fprintf(f, "%s\"%s\": {\"p50\": %.3f, \"p99\": %.3f, "
				   "\"max\": %.3f, \"samples\": %u}",
				i ? ", " : "", i ? "pipe" : "ringpipe",
				e->lat[i].p50_us, e->lat[i].p99_us,
				e->lat[i].max_us, e->lat[i].samples);
		fprintf(f, ", \"ringpipe_consumer_parks\": %llu},\n",
			(unsigned long long)e->lat[0].parks);
	}
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
	fprintf(f, "%s]\n}\n", o->sweep ? "\n  " : "");
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
		"                  [--no-sweep] [--no-latency] [--quick] "
		"[--verbose]\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.runs = 7, .sweep_runs = 5, .sweep = 1,
			   .latency = 1, .seconds = 0.4, .sweep_seconds = 0.15,
			   .warm_seconds = 0.1, .idle_seconds = 2.0};
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
			o->seconds = 0.15;
			o->sweep_seconds = 0.05;
			o->warm_seconds = 0.05;
			o->idle_seconds = 0.5;
		} else {
			usage();
			return -1;
		}
	}
	if (o->runs < 1 || o->runs > MAX_RUNS || !(o->seconds > 0) ||
	    o->seconds > 60) {
		usage();
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct contender main_runs[] = {
		{BX_RING, 64},	     {BX_PIPE_EACH, 64}, {BX_PIPE_PACKED, 64},
		{BX_RING, 65536}, {BX_PIPE_EACH, 65536}};
	struct tp t[5] = {0}, *s64 = t, *s64k = t + 3;
	struct extra e = {0};
	struct opts o;
	char a[32], b[32];

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
	printf(" (every transport alike); medians of %d alternating runs of "
	       "%.2f s; ratio = ringpipe / pipe\n",
	       o.runs, o.seconds);
	fflush(stdout);

	if (alternate(main_runs, 5, o.runs, o.seconds, o.warm_seconds,
		      &rtt_runs, t))
		return 1;
	compare("64B records (vs one write per record)", "M rec/s", 1e-6,
		&s64[0].rec_s, &s64[1].rec_s);
	compare("64B records (vs 64 KiB packed writes)", "M rec/s", 1e-6,
		&s64[0].rec_s, &s64[2].rec_s);

	compare("64KiB records", "GB/s", 1e-9, &s64k[0].bytes_s,
		&s64k[1].bytes_s);
	compare("CPU per GB, 64B records (vs one write per record)", "s/GB",
		1, &s64[0].cpu, &s64[1].cpu);
	compare("CPU per GB, 64B records (vs 64 KiB packed writes)", "s/GB",
		1, &s64[0].cpu, &s64[2].cpu);
	compare("CPU per GB, 64KiB records", "s/GB", 1, &s64k[0].cpu,
		&s64k[1].cpu);
	/* Everything that crosses CPUs - ringpipe's zero copy most of all -
	 * slows down when this round trip grows, which happens when the
	 * host moves or shares virtual CPUs: it tells a slow phase of the
	 * machine from a slow ring. */
	e.rtt[0] = median(&rtt_runs);
	printf("machine: cross-CPU cache line round trip %.0f ns (median of "
	       "%d rounds, %.0f..%.0f)\n",
	       e.rtt[0], rtt_runs.n, min_of(&rtt_runs), max_of(&rtt_runs));
	fflush(stdout);

	if (bench_idle(BX_RING, ns(o.idle_seconds), &e.idle[0]) != 0 ||
	    bench_idle(BX_PIPE_EACH, ns(o.idle_seconds), &e.idle[1]) != 0)
		return 1;
	/* A blocked pipe reader takes no CPU at all, so ringpipe / pipe would
	 * divide by zero: the ratio is taken against one clock tick (10 ms)
	 * per window when the pipe shows less, the least that top(1) or
	 * ps(1) can show.  Below 1: not measurable by those tools. */
	{
		double floor_pct = 100.0 * 0.01 / e.idle[1].window_s;
		double pipe = e.idle[1].pct > floor_pct ? e.idle[1].pct
							: floor_pct;
		printf("idle CPU, blocked pair for %.1f s (pipe floored at one "
		       "tick): ringpipe %.4f %% CPU, pipe %.4f %% CPU, "
		       "ratio %.2f\n",
		       e.idle[0].window_s, e.idle[0].pct, e.idle[1].pct,
		       e.idle[0].pct / pipe);
		fflush(stdout);
	}

	if (o.latency) {
		int64_t gap = 1000 * 1000; /* long enough for a full park */

		if (bench_latency(BX_RING, gap, &e.lat[0]) != 0 ||
		    bench_latency(BX_PIPE_EACH, gap, &e.lat[1]) != 0)
			return 1;
		e.have_lat = 1;
		printf("latency p50 (parked consumer, 64B): ringpipe %s us, "
		       "pipe %s us, ratio %.2f\n",
		       num(a, sizeof(a), e.lat[0].p50_us),
		       num(b, sizeof(b), e.lat[1].p50_us),
		       e.lat[0].p50_us / e.lat[1].p50_us);
		printf("latency p99 (parked consumer, 64B): ringpipe %s us, "
		       "pipe %s us, ratio %.2f\n",
		       num(a, sizeof(a), e.lat[0].p99_us),
		       num(b, sizeof(b), e.lat[1].p99_us),
		       e.lat[0].p99_us / e.lat[1].p99_us);
		printf("latency: ringpipe consumer parked %llu times in %u "
		       "records\n",
		       (unsigned long long)e.lat[0].parks, e.lat[0].samples);
		fflush(stdout);
	}

	if (o.sweep && run_sweep(&o) != 0)
		return 1;
	e.rtt[1] = bench_cpu_round_trip();
	printf("machine: cross-CPU round trip %.0f ns at the end; other "
	       "processes took %.1f %% of the CPUs during the runs (at most "
	       "%.1f %% in one)\n",
	       e.rtt[1], others_n ? 100 * others_sum / others_n : 0.0,
	       100 * others_max);
	if (o.json && write_json(o.json, &o, &e) != 0)
		return 1;
	if (o.plot && o.sweep && write_plot_data(o.plot) != 0)
		return 1;
	return 0;
}
