/*
 * Address text <-> sockaddr, without name resolution.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/addr.h"

static int
parse_port(const char *s, bool allow_port0, uint16_t *port)
{
	unsigned long v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535 || (v == 0 && !allow_port0))
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int
addr_parse(const char *s, bool allow_port0, struct addr *a, const char **why)
{
	const char *dummy, *colon;
	char host[INET6_ADDRSTRLEN + 1];
	size_t n, hlen;
	uint16_t port;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	memset(a, 0, sizeof(*a));
	if (s == NULL || (n = strnlen(s, ADDR_TEXT_MAX + 1)) == 0) {
		*why = "empty address";
		return -EINVAL;
	}
	if (n > ADDR_TEXT_MAX) {
		*why = "address too long";
		return -EINVAL;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&a->ss;
		size_t plen = n - 5;

		if (plen == 0 || s[5] != '/') {
			*why = "a unix socket path must be absolute";
			return -EINVAL;
		}
		if (plen >= sizeof(sun->sun_path)) {
			*why = "unix socket path too long";
			return -EINVAL;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, s + 5, plen);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1);
		return 0;
	}
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -EINVAL;
		}
		hlen = (size_t)(end - s - 1);
		colon = end + 1;
		if (hlen == 0 || hlen >= sizeof(host)) {
			*why = "malformed IPv6 address";
			return -EINVAL;
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*why = "expected HOST:PORT or unix:/PATH";
			return -EINVAL;
		}
		hlen = (size_t)(colon - s);
		if (hlen == 0 || hlen >= sizeof(host) || memchr(s, ':', hlen) != NULL) {
			*why = "malformed host (IPv6 needs brackets)";
			return -EINVAL;
		}
		memcpy(host, s, hlen);
		host[hlen] = '\0';
	}
	if (parse_port(colon + 1, allow_port0, &port) != 0) {
		*why = allow_port0 ? "port must be 0..65535" : "port must be 1..65535";
		return -EINVAL;
	}
	if (s[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
			*why = "malformed IPv6 address";
			memset(a, 0, sizeof(*a));
			return -EINVAL;
		}
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		a->len = sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;

		/* inet_pton takes strict dotted quads only, which is what we want. */
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1) {
			*why = "host must be an IP address";
			memset(a, 0, sizeof(*a));
			return -EINVAL;
		}
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		a->len = sizeof(*in4);
	}
	return 0;
}

int
addr_format(const struct addr *a, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	switch (a->ss.ss_family) {
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->ss;
		size_t max = a->len > offsetof(struct sockaddr_un, sun_path) ?
		    a->len - offsetof(struct sockaddr_un, sun_path) : 0;

		/*
		 * Bounded by len: an address from getsockname or accept need not
		 * hold a NUL inside sun_path.
		 */
		if (max > sizeof(sun->sun_path))
			max = sizeof(sun->sun_path);
		return util_snprintf(buf, size, "unix:%.*s", (int)strnlen(sun->sun_path, max),
		    sun->sun_path) ? -ENOSPC : 0;
	}
	case AF_INET: {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->ss;

		if (inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host)) == NULL)
			return -ENOSPC;
		return util_snprintf(buf, size, "%s:%u", host, ntohs(in4->sin_port)) ? -ENOSPC : 0;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)) == NULL)
			return -ENOSPC;
		return util_snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port)) ? -ENOSPC : 0;
	}
	default:
		return util_snprintf(buf, size, "%s", "unset") ? -ENOSPC : 0;
	}
}

uint16_t
addr_port(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

bool
addr_is_unix(const struct addr *a)
{
	return a->ss.ss_family == AF_UNIX;
}

/* Whether a is the IPv6 wildcard, which (dual-stack) takes IPv4 connections too. */
static bool
is_any6(const struct addr *a)
{
	return a->ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

bool
addr_overlaps(const struct addr *a, const struct addr *b)
{
	if (addr_is_unix(a) || addr_is_unix(b))
		return addr_is_unix(a) && addr_is_unix(b) &&
		    strcmp(((const struct sockaddr_un *)&a->ss)->sun_path,
		    ((const struct sockaddr_un *)&b->ss)->sun_path) == 0;
	if (addr_port(a) != addr_port(b))
		return false;
	if (a->ss.ss_family != b->ss.ss_family)
		return is_any6(a) || is_any6(b);
	if (a->ss.ss_family == AF_INET) {
		in_addr_t x = ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr;
		in_addr_t y = ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;

		return x == y || x == htonl(INADDR_ANY) || y == htonl(INADDR_ANY);
	}
	return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
	    &((const struct sockaddr_in6 *)&b->ss)->sin6_addr, sizeof(struct in6_addr)) == 0 ||
	    is_any6(a) || is_any6(b);
}

int
addr_unix_clear_stale(const struct addr *a)
{
	const char *path = ((const struct sockaddr_un *)&a->ss)->sun_path;
	struct stat st;
	bool live;
	int fd;

	if (!addr_is_unix(a))
		return -EINVAL;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	/* A refused connect means the process that bound it is gone. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	live = connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 || errno == EAGAIN;
	close(fd);
	if (live)
		return -EADDRINUSE;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}
