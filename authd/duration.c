/*
 * duration.c: parsing and printing "1h30m"-style durations.
 */
#include "authd/duration.h"

#include <errno.h>
#include <stdio.h>

int
duration_parse(const char *s, uint64_t *secs)
{
	static const struct {
		char unit;
		uint64_t mult;
	} units[] = { { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 } };
	uint64_t total = 0;
	size_t next_unit = 0;
	const char *p = s;

	*secs = 0;
	if (*p == '\0')
		return -EINVAL;
	while (*p != '\0') {
		uint64_t n = 0;
		int digits = 0;
		size_t u;

		for (; *p >= '0' && *p <= '9'; p++) {
			if (++digits > 12)
				return -ERANGE;
			n = n * 10 + (uint64_t)(*p - '0');
		}
		if (digits == 0)
			return -EINVAL;
		/* Units must come from largest to smallest, each once. */
		for (u = next_unit; u < sizeof(units) / sizeof(units[0]); u++)
			if (units[u].unit == *p)
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		p++;
		next_unit = u + 1;
		if (n > DURATION_MAX / units[u].mult)
			return -ERANGE;
		total += n * units[u].mult;
		if (total > DURATION_MAX)
			return -ERANGE;
	}
	if (total == 0)
		return -ERANGE;
	*secs = total;
	return 0;
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
