/*
 * The admin server's HTTP/1.x: a request-head parser that accepts only what
 * /healthz, /readyz, /metrics and /workloads need (GET or HEAD, an
 * origin-form target, no body), and a writer for complete responses.
 *
 * Like connect.h, the parser is strict, bounded and stateless: the caller
 * keeps the bytes received so far and calls again with the grown buffer.
 * Bytes are judged left to right and the first violation wins, so once a
 * call returns an error other than HTTP_E_AGAIN, every longer buffer with
 * the same prefix returns the same error. Nothing here reads past len or
 * assumes NUL termination. The time limit is the caller's job.
 */
#ifndef AUTHD_WIRE_HTTP_H
#define AUTHD_WIRE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct strbuf;

/* A request head, final CRLF included, is at most this many bytes. */
#define HTTP_HEAD_MAX 4096
/* The path of the target, without the query. */
#define HTTP_PATH_MAX 256

enum http_err {
	HTTP_E_INVAL = -1400,	/* invalid argument */
	HTTP_E_AGAIN = -1401,	/* head incomplete: call again with more bytes */
	HTTP_E_TOO_BIG = -1402,	/* no end of head within HTTP_HEAD_MAX bytes (431) */
	HTTP_E_METHOD = -1403,	/* method other than GET or HEAD (405) */
	HTTP_E_SYNTAX = -1404,	/* framing, whitespace, control bytes, field syntax, Host (400) */
	HTTP_E_VERSION = -1405,	/* not HTTP/1.0 or HTTP/1.1 (505) */
	HTTP_E_BODY = -1406,	/* Content-Length other than 0, or Transfer-Encoding (400) */
	HTTP_E_TARGET = -1407,	/* not origin-form, or a path over HTTP_PATH_MAX (400) */
	HTTP_E_HOST = -1408,	/* Host not localhost or an IP literal: DNS rebinding (421) */
};

struct http_request {
	bool head;			/* HEAD: answer without the body */
	int minor;			/* HTTP/1.<minor>: 0 or 1 */
	char path[HTTP_PATH_MAX + 1];	/* as sent, not percent-decoded; NUL-terminated */
	size_t path_len;
	bool has_query;			/* a "?..." followed the path; its text is ignored */
	size_t head_len;		/* bytes consumed incl. the final CRLF */
};

/*
 * Parse a request head from p[0..len). Returns 0 when a complete, valid
 * head is there (req filled; bytes after req->head_len are not looked at),
 * HTTP_E_AGAIN when no violation has been seen and len < HTTP_HEAD_MAX, or
 * one of the other HTTP_E_* codes; on any non-zero return req is zeroed.
 *
 * The request line is "GET|HEAD SP origin-form SP HTTP/1.0|HTTP/1.1": the
 * path is '/' followed by RFC 3986 pchars and '/', percent-escapes must be
 * two hex digits, and the query (pchars, '/' and '?') is checked and
 * skipped. Header fields (RFC 9112 section 5) are checked for syntax: a
 * token name, ':' directly after it, no obs-fold, no control bytes in the
 * value. HTTP/1.1 requires exactly one Host field (RFC 9112 section 3.2);
 * its value is not interpreted. Content-Length must be "0" if present and
 * Transfer-Encoding must be absent: the admin endpoints take no body.
 */
int http_parse_request(const uint8_t *p, size_t len, struct http_request *req) AD_MUST_CHECK;

/* The status the server answers an error with: 400, 405, 431 or 505 (500 otherwise). */
int http_error_status(int err);
/* A sentence for logs and humans; never NULL. */
const char *http_strerror(int err);
/* A short stable token for metrics ("too-big", "method", ...). */
const char *http_reason(int err);

/*
 * Append a complete HTTP/1.1 response to out: status line, Content-Type
 * (omitted when content_type is NULL), Content-Length: body_len,
 * Cache-Control: no-store, Connection: close (and Allow: GET, HEAD for a
 * 405), an empty line, then body[0..body_len) unless head_only. With
 * head_only the head still announces body_len, as a HEAD response must
 * (RFC 9110 section 9.3.2), so a caller can also write the body itself.
 * Status is one of 200, 400, 404, 405, 408, 431, 500, 503, 505; a
 * content_type holding a control byte is refused. Returns 0, -EINVAL, or
 * -ENOSPC when out is (or becomes) failed; out may then hold a partial
 * response and must not be sent.
 */
int http_response(struct strbuf *out, int status, const char *content_type, const char *body,
    size_t body_len, bool head_only) AD_MUST_CHECK;

#endif
