/*
 * A log-linear latency histogram in the manner of HdrHistogram: values
 * below 128 ns have a bucket each; above, every power of two is split into
 * 64 linear buckets, so a reported value is at most 1/64 (1.6 %) above the
 * true one. Fixed size (about 18 KiB), no allocation, so a load generator
 * can record millions of samples in constant memory. Header-only, like
 * bench.h, because each bench program is linked only with the library.
 */
#ifndef AUTHD_BENCH_HIST_H
#define AUTHD_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
/* Values at or above 2^HIST_TOP_EXP ns (about 18 minutes) share the last bucket. */
#define HIST_TOP_EXP 40
#define HIST_BUCKETS ((HIST_TOP_EXP - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t min_ns;
	uint64_t max_ns;
	uint64_t sum_ns;
	uint64_t b[HIST_BUCKETS];
};

static inline void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

static inline unsigned
hist__index(uint64_t v)
{
	unsigned e;

	if (v >= (1ull << HIST_TOP_EXP))
		return HIST_BUCKETS - 1;
	if (v < 2 * HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	/* v >> (e - SUB_BITS) is in [SUB, 2 SUB): the top 7 bits of v. */
	return (e - HIST_SUB_BITS) * HIST_SUB + (unsigned)(v >> (e - HIST_SUB_BITS));
}

/* The largest value that lands in bucket i (what percentiles report). */
static inline uint64_t
hist__upper(unsigned i)
{
	unsigned q = i / HIST_SUB, shift;
	uint64_t mant;

	if (i < 2 * HIST_SUB)
		return i;
	shift = q - 1;
	mant = HIST_SUB + i % HIST_SUB;
	return ((mant + 1) << shift) - 1;
}

static inline void
hist_add(struct hist *h, uint64_t ns)
{
	h->b[hist__index(ns)]++;
	h->count++;
	h->sum_ns += ns;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/*
 * Nearest-rank percentile (0 < pct <= 100) in ns: the upper edge of the
 * bucket holding that rank, capped at the exact maximum. 0 when empty.
 */
static inline uint64_t
hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank, seen = 0, v;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)((pct / 100.0) * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			v = hist__upper(i);
			return v > h->max_ns ? h->max_ns : v;
		}
	}
	return h->max_ns;
}
#endif
