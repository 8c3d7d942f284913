/*
 * Socket addresses as operators write them: "127.0.0.1:8080",
 * "[::1]:15008", "0.0.0.0:15008" or "unix:/run/authd/db.sock". Hosts are IP
 * literals only: resolving a name would block the event loop, and a mesh
 * address that changes under DNS is an identity question authd does not
 * answer silently.
 */
#ifndef AUTHD_COMMON_ADDR_H
#define AUTHD_COMMON_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"

/* Longest address text, NUL excluded ("unix:" plus a sun_path). */
#define ADDR_TEXT_MAX 112

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Parse s (NUL-terminated, at most ADDR_TEXT_MAX bytes) into a. A TCP
 * address needs a port 1..65535 (0 when allow_port0, for "any free port"),
 * no leading zeros or sign. A unix path must be absolute and fit sun_path.
 * Returns 0 or -EINVAL; *why (when not NULL) then says what is wrong.
 */
int addr_parse(const char *s, bool allow_port0, struct addr *a, const char **why) AD_MUST_CHECK;

/* Format a back into text ("[::1]:80", "unix:/p"); returns 0 or -ENOSPC. */
int addr_format(const struct addr *a, char *buf, size_t size) AD_MUST_CHECK;

/* The TCP port, or 0 for a unix address. */
uint16_t addr_port(const struct addr *a);
bool addr_is_unix(const struct addr *a);
/*
 * Whether two listen addresses would take the same connections: the same
 * unix path, or the same port on the same IP or with a wildcard on either
 * side ("[::]" covers IPv4 too, as Linux binds it dual-stack by default).
 */
bool addr_overlaps(const struct addr *a, const struct addr *b);
/*
 * Before binding the unix address a: remove a socket file left by a process
 * that is gone (nothing answers a connect). Returns 0 (the path is free),
 * -EADDRINUSE (a live socket: something serves it), -EEXIST (not a socket:
 * never removed) or -errno.
 */
int addr_unix_clear_stale(const struct addr *a) AD_MUST_CHECK;
#endif
