/*
 * duration.c: parsing and printing "1h30m"-style durations.
 */
#include "common/duration.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct unit {
	const char *name;
	uint64_t mult;
};

/* Largest first: a duration names its units in this order, each at most once. */
static const struct unit sec_units[] = {
	{ "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 },
};
static const struct unit ms_units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
};

/*
 * The grammar both parsers share: NUMBER UNIT pairs, where a unit is the
 * whole run of letters after the number, so "ms" is never read as "m"
 * followed by a stray "s". At most digits_max digits per number (leading
 * zeros count), which keeps n * mult inside 64 bits before the bound check.
 */
static int
parse_units(const char *s, const struct unit *units, size_t nunits, uint64_t max,
    int digits_max, uint64_t *out)
{
	uint64_t total = 0;
	size_t next_unit = 0;
	const char *p = s;

	*out = 0;
	if (s == NULL || *p == '\0')
		return -EINVAL;
	while (*p != '\0') {
		uint64_t n = 0;
		int digits = 0;
		size_t u, ulen = 0;

		for (; *p >= '0' && *p <= '9'; p++) {
			if (++digits > digits_max)
				return -ERANGE;
			n = n * 10 + (uint64_t)(*p - '0');
		}
		if (digits == 0)
			return -EINVAL;
		while (p[ulen] >= 'a' && p[ulen] <= 'z')
			ulen++;
		for (u = next_unit; u < nunits; u++)
			if (strlen(units[u].name) == ulen && memcmp(units[u].name, p, ulen) == 0)
				break;
		if (ulen == 0 || u == nunits)
			return -EINVAL;
		p += ulen;
		next_unit = u + 1;
		if (n > max / units[u].mult)
			return -ERANGE;
		total += n * units[u].mult;
		if (total > max)
			return -ERANGE;
	}
	if (total == 0)
		return -ERANGE;
	*out = total;
	return 0;
}

int
duration_parse(const char *s, uint64_t *secs)
{
	return parse_units(s, sec_units, sizeof(sec_units) / sizeof(sec_units[0]), DURATION_MAX,
	    12, secs);
}

int
duration_parse_ms(const char *s, uint64_t *ms)
{
	return parse_units(s, ms_units, sizeof(ms_units) / sizeof(ms_units[0]),
	    DURATION_MAX * 1000, 15, ms);
}

void
duration_format(uint64_t secs, char *buf, unsigned size)
{
	uint64_t d = secs / 86400, h = secs % 86400 / 3600, m = secs % 3600 / 60, s = secs % 60;
	int n = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	if (d > 0 && n >= 0 && (unsigned)n < size)
		n += snprintf(buf + n, size - (unsigned)n, "%llud", (unsigned long long)d);
	if (h > 0 && n >= 0 && (unsigned)n < size)
		n += snprintf(buf + n, size - (unsigned)n, "%lluh", (unsigned long long)h);
	if (m > 0 && n >= 0 && (unsigned)n < size)
		n += snprintf(buf + n, size - (unsigned)n, "%llum", (unsigned long long)m);
	if ((s > 0 || secs == 0) && n >= 0 && (unsigned)n < size)
		snprintf(buf + n, size - (unsigned)n, "%llus", (unsigned long long)s);
}
