/*
 * Authority-form targets, host ":" port (RFC 9112 section 3.2.3): what a
 * CONNECT request names, and so what a workload's upstream target must be.
 * The mesh protocol's parser (wire/connect.c) and the workload checks
 * (policy/workload.c) share this one definition, so authd never stores a
 * target its peers would refuse.
 *
 * The host is a reg-name (letters, digits, '-', '.', '_', '~'; labels of
 * 1..63 bytes), a dotted-quad IPv4 address, or an IPv6 address in
 * brackets; the port is 1..65535 without sign or leading zero. A name whose
 * last label is numeric ("127.1", "0x7f.1") must be a strict dotted quad:
 * resolvers read such names as addresses, while policy and logs would have
 * seen a name.
 */
#ifndef AUTHD_COMMON_AUTHORITY_H
#define AUTHD_COMMON_AUTHORITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Longest host: a 255-byte name (an IPv6 address is shorter). */
#define AUTHORITY_HOST_MAX 255
/* Longest authority: that name, ':' and five digits. */
#define AUTHORITY_MAX (AUTHORITY_HOST_MAX + 1 + 5)

/* Whether c may appear in an authority at all (for rejecting a prefix early). */
bool authority_is_char(int c);

/*
 * Parse p[0..len), the whole authority. On success host gets the host as
 * sent (IPv6 without its brackets), NUL-terminated, and *port the port.
 * Returns 0 or -EINVAL (host and *port then untouched).
 */
int authority_parse(const uint8_t *p, size_t len, char host[static AUTHORITY_HOST_MAX + 1],
    uint16_t *port) AD_MUST_CHECK;

/*
 * Write host and port as an authority into out[0..size) (an IPv6 host in
 * brackets), NUL-terminated, *len its length. Only what authority_parse
 * gives back as the same host is written: -EINVAL for anything else (an
 * empty or invalid host, port 0), -ENOSPC when out is too small
 * (AUTHORITY_MAX + 1 always fits).
 */
int authority_format(const char *host, uint16_t port, char *out, size_t size, size_t *len)
    AD_MUST_CHECK;
#endif
