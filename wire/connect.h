/*
 * The mesh protocol's (v1) request and response heads: after mutual TLS the
 * client sends one HTTP/1.1 "CONNECT host:port" head (RFC 9110 section
 * 9.3.6, RFC 9112 message syntax); the server answers 200 and splices, or
 * 403 with an x-authd-deny reason and closes.
 *
 * The parsers are strict, bounded and stateless: the caller keeps the bytes
 * received so far and calls again with the grown buffer. Bytes are judged
 * left to right and the first violation wins, so once a call returns an
 * error other than CONNECT_E_AGAIN, every longer buffer with the same prefix
 * returns the same error. Nothing here allocates, reads past len or assumes
 * NUL termination. The time limit for a head is the caller's job.
 */
#ifndef AUTHD_WIRE_CONNECT_H
#define AUTHD_WIRE_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/authority.h"
#include "common/util.h"

/* A head, final CRLF included, is at most this many bytes. */
#define CONNECT_HEAD_MAX 8192
/* Header fields after the request or status line. */
#define CONNECT_HEADERS_MAX 64
/* Longest x-authd-deny value connect_response writes. */
#define CONNECT_REASON_MAX 512
/* A version-00 traceparent: 2 + 1 + 32 + 1 + 16 + 1 + 2 characters. */
#define CONNECT_TRACEPARENT_LEN 55

enum connect_err {
	CONNECT_E_INVAL = -1200,	/* invalid argument */
	CONNECT_E_AGAIN = -1201,	/* head incomplete: call again with more bytes */
	CONNECT_E_TOO_BIG = -1202,	/* no end of head within CONNECT_HEAD_MAX bytes */
	CONNECT_E_METHOD = -1203,	/* method is not CONNECT */
	CONNECT_E_TARGET = -1204,	/* target is not authority-form host:port */
	CONNECT_E_VERSION = -1205,	/* not HTTP/1.1 */
	CONNECT_E_SYNTAX = -1206,	/* framing, whitespace, control bytes, field syntax */
	CONNECT_E_HEADERS = -1207,	/* more than CONNECT_HEADERS_MAX fields */
	CONNECT_E_HOST = -1208,		/* Host differs from the target */
	CONNECT_E_TRACEPARENT = -1209,	/* malformed traceparent */
	CONNECT_E_DUP = -1210,		/* Host, traceparent or x-authd-deny twice */
	CONNECT_E_BODY = -1211,		/* Content-Length other than 0, or Transfer-Encoding */
};

struct connect_req {
	/* reg-name or dotted-quad IPv4 as sent; IPv6 without the brackets. */
	char host[AUTHORITY_HOST_MAX + 1];
	uint16_t port;			/* 1..65535 */
	char traceparent[56];		/* CONNECT_TRACEPARENT_LEN characters */
	bool has_traceparent;
	size_t head_len;		/* bytes consumed incl. final CRLF */
};

/*
 * Parse a client's CONNECT head from p[0..len). Returns 0 when a complete,
 * valid head is there: req is filled and req->head_len says how many bytes
 * it used (bytes after it belong to the tunnel). Returns CONNECT_E_AGAIN
 * when no violation has been seen and len < CONNECT_HEAD_MAX, or one of the
 * other CONNECT_E_* codes; on any non-zero return req is zeroed.
 *
 * The target is authority-form: a reg-name (letters, digits, '-', '.',
 * '_', '~'; no empty label) or dotted-quad IPv4 or [IPv6], then ':' and a
 * port 1..65535 without sign or leading zero. A name whose last label is
 * numeric ("127.1", "0x7f.1") must be a strict dotted quad, because
 * resolvers read such names as addresses. A Host field is optional and,
 * when present, must equal the target (case-insensitively). A traceparent
 * field must be valid W3C trace context; a duplicate Host or traceparent is
 * CONNECT_E_DUP.
 */
int connect_parse(const uint8_t *p, size_t len, struct connect_req *req) AD_MUST_CHECK;

/* A sentence for logs and humans; never NULL. */
const char *connect_strerror(int err);
/* A short stable token for metrics and the x-authd-deny header ("too-big"). */
const char *connect_reason(int err);

/*
 * Format the server's response head into buf: "HTTP/1.1 200 OK" and an
 * empty line, or for 400, 403, 408 and 503 a head with "x-authd-deny:
 * <reason>" (omitted when reason_header is NULL or blank), "content-length:
 * 0" and "connection: close". The reason is sanitised: bytes other than
 * printable ASCII become spaces, outer spaces are dropped, and it is cut to
 * CONNECT_REASON_MAX bytes, so it cannot add a header. A 200 carries no
 * reason. *len gets the head's length; a NUL follows it in buf.
 * Returns 0, -EINVAL (other status) or -ENOSPC.
 */
int connect_response(char *buf, size_t size, int status, const char *reason_header,
    size_t *len) AD_MUST_CHECK;

/*
 * Format the client's head: "CONNECT h:p HTTP/1.1", "Host: h:p", and a
 * traceparent field when traceparent is not NULL. A host holding ':' is
 * IPv6 and is written in brackets. host and traceparent must pass the same
 * checks connect_parse applies. *len gets the head's length; a NUL follows
 * it in buf. Returns 0, -EINVAL or -ENOSPC.
 */
int connect_request(char *buf, size_t size, const char *host, uint16_t port,
    const char *traceparent, size_t *len) AD_MUST_CHECK;

/*
 * Parse the server's response head from p[0..len) on the client side:
 * "HTTP/1.1 NNN text" and fields. On 0, *status is 100..599, *head_len the
 * bytes the head used, and reason (when not NULL and reason_size > 0)
 * holds the x-authd-deny value, sanitised and cut to fit, or "". A 2xx
 * response with Transfer-Encoding or a non-zero Content-Length is
 * CONNECT_E_BODY (the tunnel would be ambiguous); other statuses end the
 * connection, so their framing fields are ignored. Returns 0,
 * CONNECT_E_AGAIN or an error as for connect_parse; on error *status and
 * *head_len are 0 and reason is "".
 */
int connect_status(const uint8_t *p, size_t len, int *status, size_t *head_len, char *reason,
    size_t reason_size) AD_MUST_CHECK;

#endif
