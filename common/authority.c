/*
 * Authority-form targets: the host syntax checks behind the mesh
 * protocol's CONNECT target (RFC 9112 section 3.2.3, RFC 3986 section
 * 3.2.2), walked left to right through a struct buf.
 */
#include "common/authority.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "common/buf.h"

#define DNS_LABEL_MAX 63

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved: all a reg-name may hold without percent-encoding. */
static bool
is_host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	    c == '.' || c == '_' || c == '~';
}

static bool
is_ipv6_char(int c)
{
	return is_hex(c) || c == ':' || c == '.';
}

bool
authority_is_char(int c)
{
	return is_host_char(c) || c == ':' || c == '[' || c == ']';
}

static bool
all(const uint8_t *s, size_t n, bool (*pred)(int))
{
	for (size_t i = 0; i < n; i++)
		if (!pred(s[i]))
			return false;
	return true;
}

/* 4 decimal octets without leading zeros: the only numeric host we take. */
static bool
is_dotted_quad(const uint8_t *s, size_t n)
{
	struct buf b;
	const uint8_t *d;
	size_t dn;

	buf_reader(&b, s, n);
	for (int part = 0; part < 4; part++) {
		unsigned v = 0;

		if (part > 0 && buf_get_u8(&b) != '.')
			return false;
		d = buf_take(&b, is_digit, &dn);
		if (dn == 0 || dn > 3 || (dn > 1 && d[0] == '0'))
			return false;
		for (size_t i = 0; i < dn; i++)
			v = v * 10 + (unsigned)(d[i] - '0');
		if (v > 255)
			return false;
	}
	return buf_ok(&b) && buf_left(&b) == 0;
}

/*
 * Decimal digits, or "0x" and hex digits: a label resolvers (inet_aton)
 * and URL parsers read as a number.
 */
static bool
is_numeric_label(const uint8_t *s, size_t n)
{
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return all(s + 2, n - 2, is_hex);
	return n > 0 && all(s, n, is_digit);
}

/*
 * A reg-name of unreserved bytes with non-empty labels of at most 63
 * bytes; a name whose last label is numeric must be a dotted quad.
 */
static bool
is_valid_name(const uint8_t *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (i == start || i - start > DNS_LABEL_MAX)
			return false;
		if (i == n && is_numeric_label(s + start, i - start))
			return is_dotted_quad(s, n);
		start = i + 1;
	}
	return true;
}

int
authority_parse(const uint8_t *p, size_t len, char host[static AUTHORITY_HOST_MAX + 1],
    uint16_t *port)
{
	char ip[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	struct buf b;
	const uint8_t *h, *d;
	size_t hn, dn;
	unsigned long v = 0;

	buf_reader(&b, p, len);
	if (buf_peek(&b) == '[') {
		(void)buf_get_u8(&b);
		h = buf_take(&b, is_ipv6_char, &hn);
		if (buf_get_u8(&b) != ']' || hn == 0 || hn >= sizeof(ip))
			return -EINVAL;
		memcpy(ip, h, hn);
		ip[hn] = '\0';
		if (inet_pton(AF_INET6, ip, &a6) != 1)
			return -EINVAL;
	} else {
		h = buf_take(&b, is_host_char, &hn);
		if (hn == 0 || hn > AUTHORITY_HOST_MAX || !is_valid_name(h, hn))
			return -EINVAL;
	}
	if (buf_get_u8(&b) != ':')
		return -EINVAL;
	d = buf_take(&b, is_digit, &dn);
	if (!buf_ok(&b) || buf_left(&b) > 0 || dn == 0 || dn > 5 || d[0] == '0')
		return -EINVAL;
	for (size_t i = 0; i < dn; i++)
		v = v * 10 + (unsigned long)(d[i] - '0');
	if (v > 65535)
		return -EINVAL;
	memcpy(host, h, hn);
	host[hn] = '\0';
	*port = (uint16_t)v;
	return 0;
}

int
authority_format(const char *host, uint16_t port, char *out, size_t size, size_t *len)
{
	char back[AUTHORITY_HOST_MAX + 1];
	uint16_t back_port;
	struct buf b;
	size_t hn;

	if (len != NULL)
		*len = 0;
	if (host == NULL || out == NULL || len == NULL || port == 0)
		return -EINVAL;
	hn = strnlen(host, AUTHORITY_HOST_MAX + 1);
	if (hn == 0 || hn > AUTHORITY_HOST_MAX)
		return -EINVAL;
	buf_writer(&b, out, size);
	if (memchr(host, ':', hn) != NULL) {
		buf_put_u8(&b, '[');
		buf_put_bytes(&b, host, hn);
		buf_put_u8(&b, ']');
	} else {
		buf_put_bytes(&b, host, hn);
	}
	buf_put_u8(&b, ':');
	for (unsigned d = 10000; d > 0; d /= 10)
		if (port >= d)
			buf_put_u8(&b, (uint8_t)('0' + port / d % 10));
	buf_put_u8(&b, 0);
	if (!buf_ok(&b))
		return -ENOSPC;
	/* Only what a peer's parser gives back unchanged. */
	if (authority_parse((const uint8_t *)out, b.off - 1, back, &back_port) != 0 ||
	    strcmp(back, host) != 0) {
		out[0] = '\0';
		return -EINVAL;
	}
	*len = b.off - 1;
	return 0;
}
