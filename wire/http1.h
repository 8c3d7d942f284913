/*
 * HTTP/1.1 message-head framing and character classes shared by the two
 * strict head parsers: the mesh protocol's CONNECT heads (connect.c) and
 * the admin endpoint's requests (http.c). RFC 9112 framing: CRLF lines,
 * a bare CR or LF is an error, an empty line ends the head.
 */
#ifndef AUTHD_WIRE_HTTP1_H
#define AUTHD_WIRE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line of a head: its bytes without the line ending. */
struct http1_line {
	const uint8_t *s;
	size_t n;
	bool complete;		/* a CR follows s[n - 1]; the content is final */
};

/* Judge line idx (0: the start line); 0 to go on, or a (negative) error. */
typedef int (*http1_line_fn)(void *ctx, size_t idx, const struct http1_line *l);

/* http1_scan_head's own outcomes; positive, so they never clash with fn's errors. */
enum {
	HTTP1_AGAIN = 1,	/* no violation yet, the head is not complete */
	HTTP1_TOO_BIG = 2,	/* no end of head within max bytes */
	HTTP1_SYNTAX = 3,	/* a bare CR or LF */
};

/*
 * Split p[0..len) into CRLF-terminated lines and hand each to fn, the last
 * one possibly incomplete (so a parser can reject a prefix early). Only the
 * first max bytes are looked at. Returns 0 with *head_len just past the
 * empty line, fn's error, or HTTP1_AGAIN / HTTP1_TOO_BIG / HTTP1_SYNTAX.
 */
int http1_scan_head(const uint8_t *p, size_t len, size_t max, http1_line_fn fn, void *ctx,
    size_t *head_len);

bool http1_is_digit(int c);
bool http1_is_alpha(int c);
bool http1_is_hex(int c);
/* SP or HTAB. */
bool http1_is_ows(int c);
/* RFC 9110 section 5.6.2 tchar. */
bool http1_is_tchar(int c);
/* A byte of a start-line token: VCHAR or obs-text. */
bool http1_is_token_char(int c);
/* field-vchar, SP or HTAB (RFC 9110 section 5.5): no CTL but HTAB. */
bool http1_is_field_char(int c);
/* ASCII case-insensitive equality of a[0..an) and b[0..bn). */
bool http1_eq_nocase(const uint8_t *a, size_t an, const char *b, size_t bn);
#endif
