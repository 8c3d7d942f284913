/*
 * Unit tests for authd/duration.c: the "1h30m" durations of the command
 * line and config files. Pure functions; no crypto, no files.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "authd/duration.h"
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

TEST_MAIN(parse_table, format_table, format_parse_round_trip, format_small_buffer)
