/*
 * Unit tests for certs/schedule.c: when an SVID is renewed. The function is
 * pure, so every case is exact.
 */
#include <stdint.h>

#include "certs/crypto.h"
#include "certs/schedule.h"
#include "tests/unit/test.h"

/* An arbitrary notBefore (2026-01-01T00:00:00Z) and a one-hour certificate. */
#define NB INT64_C(1767225600)
#define LIFE 3600
#define NA (NB + LIFE)
#define HALF (LIFE / 2)
#define SPAN (HALF / 10)	/* +-10% of the half-life */

/* A simple LCG, so the "random" inputs are the same on every run. */
static uint32_t
lcg(uint32_t *state)
{
	*state = *state * 1664525u + 1013904223u;
	return *state;
}

/* The ends and the middle of the rnd range map to the ends and middle of the jitter. */
TEST(jitter_endpoints)
{
	int64_t mid = certs_renew_at(NB, NA, 0, UINT32_C(1) << 31);

	EXPECT_EQ(certs_renew_at(NB, NA, 0, 0), NB + HALF - SPAN);
	EXPECT_EQ(certs_renew_at(NB, NA, 0, UINT32_MAX), NB + HALF + SPAN);
	EXPECT(mid >= NB + HALF - 1 && mid <= NB + HALF + 1);
}

/* Whatever rnd is, the renewal lands within +-10% of the half-life. */
TEST(jitter_bounded)
{
	uint32_t state = 1;

	for (int i = 0; i < 100000; i++) {
		uint32_t rnd = lcg(&state);
		int64_t at = certs_renew_at(NB, NA, 0, rnd);

		if (at < NB + HALF - SPAN || at > NB + HALF + SPAN) {
			TEST__FAIL("rnd %u: renew at nb+%lld", rnd, (long long)(at - NB));
			return;
		}
	}
	/* And rnd grows the jitter monotonically. */
	for (uint64_t r = 0, prev = 0; r <= UINT32_MAX; r += 65537) {
		uint64_t at = (uint64_t)(certs_renew_at(NB, NA, 0, (uint32_t)r) - NB);

		if (at < prev) {
			TEST__FAIL("rnd %llu: nb+%llu before nb+%llu", (unsigned long long)r,
			    (unsigned long long)at, (unsigned long long)prev);
			return;
		}
		prev = at;
	}
}

/* A safety margin over half the life moves renewal to na - margin, never before nb. */
TEST(margin_clamps)
{
	EXPECT_EQ(certs_renew_at(NB, NA, 2000, 0), NA - 2000);
	EXPECT_EQ(certs_renew_at(NB, NA, 2000, UINT32_MAX), NA - 2000);
	/* A margin that keeps clear of the jitter changes nothing. */
	EXPECT_EQ(certs_renew_at(NB, NA, 1000, 0), NB + HALF - SPAN);
	EXPECT_EQ(certs_renew_at(NB, NA, 1620, UINT32_MAX), NA - 1620);
	/* A margin longer than the whole life: renew at once, not before nb. */
	EXPECT_EQ(certs_renew_at(NB, NA, 5000, 0), NB);
	EXPECT_EQ(certs_renew_at(NB, NA, LIFE, UINT32_MAX), NB);
	/* A negative margin counts as none. */
	EXPECT_EQ(certs_renew_at(NB, NA, -100000, UINT32_MAX), NB + HALF + SPAN);
}

/* An empty or inverted validity renews at notBefore. */
TEST(degenerate_validity)
{
	EXPECT_EQ(certs_renew_at(NB, NB, 0, 0), NB);
	EXPECT_EQ(certs_renew_at(NB, NB, 0, UINT32_MAX), NB);
	EXPECT_EQ(certs_renew_at(NB, NB - 10, 0, UINT32_MAX), NB);
	EXPECT_EQ(certs_renew_at(NB, NB - 10, 60, 12345), NB);
	/* One second of life: never outside it. */
	EXPECT(certs_renew_at(NB, NB + 1, 0, UINT32_MAX) >= NB);
	EXPECT(certs_renew_at(NB, NB + 1, 0, UINT32_MAX) <= NB + 1);
}

/* Over many rnd values renewals spread to both sides of the half-life, roughly evenly. */
TEST(jitter_spreads)
{
	uint32_t state = 42;
	int early = 0, late = 0, at_min = 0, at_max = 0;
	int64_t lo = INT64_MAX, hi = INT64_MIN;

	for (int i = 0; i < 10000; i++) {
		int64_t at = certs_renew_at(NB, NA, 0, lcg(&state));

		early += at < NB + HALF;
		late += at > NB + HALF;
		at_min += at == NB + HALF - SPAN;
		at_max += at == NB + HALF + SPAN;
		lo = at < lo ? at : lo;
		hi = at > hi ? at : hi;
	}
	/* Each side expects ~4986 of 10000; 4500 is over 9 sigma away. */
	EXPECT(early > 4500);
	EXPECT(late > 4500);
	/* Both ends of the range are reachable (~28 hits expected each). */
	EXPECT(at_min > 0);
	EXPECT(at_max > 0);
	EXPECT(hi - lo >= 2 * SPAN - 2);
}

/* The library's contract: certs_crypto_init() first (a no-op for this pure module). */
TEST(crypto_init)
{
	EXPECT_OK(certs_crypto_init());
}

TEST_MAIN(crypto_init, jitter_endpoints, jitter_bounded, margin_clamps, degenerate_validity,
    jitter_spreads)
