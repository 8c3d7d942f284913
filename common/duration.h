/*
 * Durations on the command line and in config files, in the form operators
 * know from Go and Kubernetes: "90s", "15m", "1h", "1h30m", "7d".
 */
#ifndef AUTHD_COMMON_DURATION_H
#define AUTHD_COMMON_DURATION_H

#include <stdint.h>

#include "common/util.h"

/* Longest duration accepted: 100 years. */
#define DURATION_MAX ((uint64_t)100 * 365 * 24 * 3600)

/*
 * Parse a NUL-terminated duration of one or more NUMBER UNIT pairs
 * (units s, m, h, d; each unit at most once, in that order from largest).
 * Returns 0, -EINVAL (malformed) or -ERANGE (zero or over DURATION_MAX).
 */
int duration_parse(const char *s, uint64_t *secs) AD_MUST_CHECK;

/*
 * The same in milliseconds, for timeouts: units d, h, m, s and ms, in that
 * order, each at most once ("500ms", "1m30s", "1s500ms"). Returns 0, -EINVAL
 * (malformed) or -ERANGE (zero, or over DURATION_MAX seconds); *ms is 0 on
 * error.
 */
int duration_parse_ms(const char *s, uint64_t *ms) AD_MUST_CHECK;

/* Format secs compactly ("1h30m", "45s", "2d3h") into buf (>= 24 bytes). */
void duration_format(uint64_t secs, char *buf, unsigned size);

#endif
