/*
 * What the C benchmarks share: a monotonic and a wall clock, latency samples with
 * nearest-rank percentiles, and pinning to one core. Header-only, because
 * each bench program (bench/NAME_bench.c) is linked only with the library.
 */
#ifndef AUTHD_BENCH_BENCH_H
#define AUTHD_BENCH_BENCH_H

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall-clock time, comparable with another process's (revoke_bench -> load_bench watch). */
static inline uint64_t
bench_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Latency samples in nanoseconds (saturating at ~4.3 s), grown on demand. */
struct bench_samples {
	uint32_t *v;
	size_t n;
	size_t cap;
};

/* Returns 0 or -ENOMEM. */
static inline int
bench_push(struct bench_samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	return 0;
}

static inline int
bench__cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static inline void
bench_sort(struct bench_samples *s)
{
	qsort(s->v, s->n, sizeof(s->v[0]), bench__cmp_u32);
}

/* Nearest-rank percentile (0 < pct <= 100) of sorted samples, in ns. */
static inline uint32_t
bench_percentile(const struct bench_samples *s, double pct)
{
	size_t rank;

	if (s->n == 0)
		return 0;
	rank = (size_t)((pct / 100.0) * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

/* Pin the process to CPU 0, so figures are one core's. Whether it worked. */
static inline bool
bench_pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

#endif
