/*
 * What the data-plane bench tools (load_bench, backend_bench) share:
 * strict number parsing, loopback-only addresses, the descriptor limit and
 * CPU pinning. Header-only, like bench.h.
 *
 * Both tools refuse any address outside 127.0.0.0/8 and ::1: they generate
 * load, and load here only ever goes to this machine.
 */
#ifndef AUTHD_BENCH_NET_H
#define AUTHD_BENCH_NET_H

#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/addr.h"

/*
 * Parse an unsigned decimal in [min, max]: digits only (no sign, no
 * spaces, no hex), at most 12 of them. Returns 0 or -EINVAL / -ERANGE.
 */
static inline int
net_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 12)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[n] - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static inline bool
net_is_loopback(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
		const uint8_t *b = in6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127;
	}
	return false;
}

/*
 * A TCP address on this machine: "127.0.0.1:8443", "[::1]:8443". Returns 0
 * or -EINVAL with *why set.
 */
static inline int
net_parse_loopback(const char *s, bool allow_port0, struct addr *a, const char **why)
{
	int err;

	if (strlen(s) > ADDR_TEXT_MAX) {
		*why = "address too long";
		return -EINVAL;
	}
	if ((err = addr_parse(s, allow_port0, a, why)) != 0)
		return err;
	if (addr_is_unix(a)) {
		*why = "a TCP address (IP:port) is needed, not a unix socket";
		return -EINVAL;
	}
	if (!net_is_loopback(a)) {
		*why = "only loopback addresses (127.0.0.0/8, ::1) are allowed: this tool generates load";
		return -EINVAL;
	}
	return 0;
}

/*
 * Make room for need descriptors, raising the hard limit when allowed
 * (CAP_SYS_RESOURCE). When it is not, the soft limit goes up to the hard
 * one. *got is the limit in force afterwards. 0 when need fits, else -errno.
 */
static inline int
net_raise_nofile(uint64_t need, uint64_t *got)
{
	struct rlimit rl, want;
	int err = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
		*got = rl.rlim_cur;
		return 0;
	}
	want = rl;
	want.rlim_cur = need;
	if (want.rlim_max != RLIM_INFINITY && want.rlim_max < need)
		want.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
		*got = need;
		return 0;
	}
	err = -errno;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	*got = rl.rlim_cur;
	return err;
}

/* Pin the process to one CPU. 0 or -errno. */
static inline int
net_pin_cpu(unsigned cpu)
{
	cpu_set_t set;

	if (cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}
#endif
