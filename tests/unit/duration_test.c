/*
 * Unit tests for common/duration.c: the "1h30m" durations of the command
 * line and config files. Pure functions; no crypto, no files.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/duration.h"
#include "tests/unit/test.h"

struct parse_case {
	const char *in;
	int err;
	uint64_t secs;		/* on success */
};

static const struct parse_case parse_cases[] = {
	{ "90s", 0, 90 },
	{ "15m", 0, 15 * 60 },
	{ "1h", 0, 3600 },
	{ "1h30m", 0, 5400 },
	{ "7d", 0, 7 * 86400 },
	{ "1d2h3m4s", 0, 86400 + 2 * 3600 + 3 * 60 + 4 },
	{ "0h5m", 0, 300 },			/* a zero part is fine if the total is not */
	{ "36500d", 0, DURATION_MAX },		/* exactly the bound */

	{ "", -EINVAL, 0 },
	{ "h", -EINVAL, 0 },			/* unit without number */
	{ "1", -EINVAL, 0 },			/* number without unit */
	{ "1x", -EINVAL, 0 },
	{ "1h1h", -EINVAL, 0 },			/* a unit twice */
	{ "1m1h", -EINVAL, 0 },			/* smaller unit first */
	{ "1s1d", -EINVAL, 0 },
	{ "-1h", -EINVAL, 0 },
	{ "+1h", -EINVAL, 0 },
	{ "1.5h", -EINVAL, 0 },
	{ " 1h", -EINVAL, 0 },
	{ "1h ", -EINVAL, 0 },
	{ "1H", -EINVAL, 0 },			/* units are lower case */
	{ "0s", -ERANGE, 0 },
	{ "0d0h0m0s", -ERANGE, 0 },
	{ "36501d", -ERANGE, 0 },		/* one day over the bound */
	{ "99999999999999d", -ERANGE, 0 },	/* would overflow if multiplied */
	{ "999999999999999999999s", -ERANGE, 0 },
	{ "18446744073709551706s", -ERANGE, 0 },	/* 2^64 + 90: must not wrap to 90 */
	{ "000000000000090s", -ERANGE, 0 },	/* over 12 digits, even with leading zeros */
};

/* Every accepted form gives its exact number of seconds; every other form fails. */
TEST(parse_table)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		uint64_t secs = 12345;
		int err = duration_parse(c->in, &secs);

		if (err != c->err) {
			TEST__FAIL("duration_parse(\"%s\") returned %d, expected %d", c->in, err,
			    c->err);
			continue;
		}
		/* On failure the output is zeroed, not left stale. */
		if (secs != (c->err == 0 ? c->secs : 0))
			TEST__FAIL("duration_parse(\"%s\") gave %llu, expected %llu", c->in,
			    (unsigned long long)secs, (unsigned long long)c->secs);
	}
}

struct format_case {
	uint64_t secs;
	const char *out;
};

static const struct format_case format_cases[] = {
	{ 0, "0s" },
	{ 45, "45s" },
	{ 60, "1m" },
	{ 5400, "1h30m" },
	{ 86400, "1d" },
	{ 90061, "1d1h1m1s" },
	{ 2 * 86400 + 3 * 3600, "2d3h" },
	{ 3601, "1h1s" },
};

/* Formatting is compact: zero parts are left out, and 0 is "0s". */
TEST(format_table)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(format_cases); i++) {
		char buf[24];

		duration_format(format_cases[i].secs, buf, sizeof(buf));
		EXPECT_STR(buf, format_cases[i].out);
	}
}

/* What duration_format prints, duration_parse reads back to the same value. */
TEST(format_parse_round_trip)
{
	static const uint64_t values[] = { 1, 59, 61, 3599, 3600, 5400, 86399, 90061,
		7 * 86400 + 1, DURATION_MAX };

	for (size_t i = 0; i < AD_ARRAY_LEN(values); i++) {
		char buf[24];
		uint64_t back = 0;

		duration_format(values[i], buf, sizeof(buf));
		EXPECT_OK(duration_parse(buf, &back));
		EXPECT_EQ(back, values[i]);
	}
}

/* A buffer too small truncates, NUL-terminated, and never writes past size. */
TEST(format_small_buffer)
{
	char buf[8];

	memset(buf, 'x', sizeof(buf));
	duration_format(90061, buf, 5);
	EXPECT_STR(buf, "1d1h");
	EXPECT_EQ(buf[5], 'x');
	duration_format(90061, buf, 1);
	EXPECT_STR(buf, "");
	buf[0] = 'x';
	duration_format(90061, buf, 0);
	EXPECT_EQ(buf[0], 'x');
}

static const struct parse_case ms_cases[] = {
	{ "500ms", 0, 500 },
	{ "10s", 0, 10000 },
	{ "1m30s", 0, 90000 },
	{ "1h", 0, 3600000 },
	{ "7d", 0, 7 * 86400000ULL },
	{ "1s500ms", 0, 1500 },
	{ "1m1ms", 0, 60001 },			/* "m" then "ms": each unit whole */
	{ "1d2h3m4s5ms", 0, 86400000 + 2 * 3600000 + 3 * 60000 + 4000 + 5 },
	{ "0s100ms", 0, 100 },
	{ "1ms", 0, 1 },
	{ "36500d", 0, DURATION_MAX * 1000 },	/* exactly the bound */
	{ "3153600000000ms", 0, DURATION_MAX * 1000 },

	{ "", -EINVAL, 0 },
	{ "ms", -EINVAL, 0 },			/* unit without number */
	{ "100", -EINVAL, 0 },			/* number without unit */
	{ "1x", -EINVAL, 0 },
	{ "1mss", -EINVAL, 0 },			/* "mss" is no unit */
	{ "1sm", -EINVAL, 0 },
	{ "1ms1s", -EINVAL, 0 },		/* smaller unit first */
	{ "1ms1ms", -EINVAL, 0 },		/* a unit twice */
	{ "1s1s", -EINVAL, 0 },
	{ "1MS", -EINVAL, 0 },			/* units are lower case */
	{ "1us", -EINVAL, 0 },
	{ "-1ms", -EINVAL, 0 },
	{ "+1ms", -EINVAL, 0 },
	{ "1.5s", -EINVAL, 0 },
	{ " 1s", -EINVAL, 0 },
	{ "1s ", -EINVAL, 0 },
	{ "1s 500ms", -EINVAL, 0 },
	{ "0ms", -ERANGE, 0 },
	{ "0s0ms", -ERANGE, 0 },
	{ "36500d1ms", -ERANGE, 0 },		/* one millisecond over the bound */
	{ "3153600000001ms", -ERANGE, 0 },
	{ "999999999999999d", -ERANGE, 0 },	/* would overflow if multiplied */
	{ "9999999999999999ms", -ERANGE, 0 },	/* over 15 digits */
	{ "18446744073709551616ms", -ERANGE, 0 },	/* 2^64: must not wrap to 0 */
	{ "18446744073709552116ms", -ERANGE, 0 },	/* 2^64 + 500: must not wrap to 500 */
	{ "0000000000000000500ms", -ERANGE, 0 },	/* over 15 digits, even with leading zeros */
};

/* Millisecond durations: the same grammar with "ms" added, the same strictness. */
TEST(parse_ms_table)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(ms_cases); i++) {
		const struct parse_case *c = &ms_cases[i];
		uint64_t ms = 12345;
		int err = duration_parse_ms(c->in, &ms);

		if (err != c->err) {
			TEST__FAIL("duration_parse_ms(\"%s\") returned %d, expected %d", c->in, err,
			    c->err);
			continue;
		}
		if (ms != (c->err == 0 ? c->secs : 0))
			TEST__FAIL("duration_parse_ms(\"%s\") gave %llu, expected %llu", c->in,
			    (unsigned long long)ms, (unsigned long long)c->secs);
	}
}

/* Every duration in seconds reads as the same span in milliseconds. */
TEST(parse_ms_agrees_with_seconds)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(parse_cases); i++) {
		uint64_t secs = 0, ms = 0;
		int e1 = duration_parse(parse_cases[i].in, &secs);
		int e2 = duration_parse_ms(parse_cases[i].in, &ms);

		/* Over 12 digits is -ERANGE in seconds only; 15 are allowed in ms. */
		if (strcmp(parse_cases[i].in, "000000000000090s") == 0) {
			EXPECT_EQ(e2, 0);
			EXPECT_EQ(ms, 90000);
			continue;
		}
		EXPECT_EQ(e1, e2);
		EXPECT_EQ(secs * 1000, ms);
	}
}

TEST_MAIN(parse_table, format_table, format_parse_round_trip, format_small_buffer, parse_ms_table,
    parse_ms_agrees_with_seconds)
