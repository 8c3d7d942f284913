/*
 * resp.c: HTTP/1.1 response framing for the API client (RFC 9112). The
 * head is scanned with the same line splitter the mesh's parsers use
 * (wire/http1.c); then the body is unframed here, one byte class at a time,
 * so any split of the input across reads gives the same result (the fuzz
 * target checks that).
 */
#include "kube/resp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire/http1.h"

/* Chunked body states. */
enum {
	C_SIZE,		/* hex digits of a chunk-size line */
	C_EXT,		/* ;extensions up to the CR */
	C_SIZE_LF,	/* the LF after a chunk-size line */
	C_DATA,
	C_DATA_CR,
	C_DATA_LF,
	C_TRAILER,	/* a trailer line (ignored) or the final empty line */
	C_TRAILER_LF,
};

/* A chunk-size line (size and extensions) or a trailer line at most this long. */
#define CHUNK_LINE_MAX 1024
/* A chunk of at most 2^40 bytes: far beyond any bound, and no overflow. */
#define CHUNK_DIGITS_MAX 10

void
kube_resp_init(struct kube_resp *r, enum kube_resp_mode mode, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->max = max;
}

void
kube_resp_free(struct kube_resp *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}

/* The bound on what r->buf collects now. */
static size_t
limit(const struct kube_resp *r)
{
	if (!r->head_done)
		return KUBE_HEAD_MAX;
	if (r->status < 200 || r->status > 299)
		return KUBE_STATUS_BODY_MAX;
	return r->max;
}

static int
append(struct kube_resp *r, const uint8_t *p, size_t n)
{
	if (n > limit(r) - r->len)
		return KUBE_E_TOO_BIG;
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		uint8_t *b;

		while (cap < r->len + n)
			cap *= 2;
		if (cap > limit(r))
			cap = limit(r);
		if ((b = realloc(r->buf, cap)) == NULL)
			return KUBE_E_NOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

static bool
lines_mode(const struct kube_resp *r)
{
	return r->mode == KUBE_RESP_LINES && r->status >= 200 && r->status <= 299;
}

/* Body bytes: into the whole body, or split into lines. */
static int
body(struct kube_resp *r, const uint8_t *p, size_t n, kube_resp_fn fn, void *arg)
{
	int err;

	if (!lines_mode(r))
		return append(r, p, n);
	/*
	 * A CRLF ends a line too. A CR is held back (r->cr) until the next byte
	 * shows whether it ends the line, so a line of max bytes ended by CRLF
	 * fits, as one ended by LF does, and the buffer never holds more than max.
	 */
	if (r->cr && n > 0) {
		r->cr = false;
		if (p[0] != '\n' && (err = append(r, (const uint8_t *)"\r", 1)) != 0)
			return err;
	}
	while (n > 0) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		bool cr = take > 0 && p[take - 1] == '\r';

		if ((err = append(r, p, cr ? take - 1 : take)) != 0)
			return err;
		if (nl == NULL) {
			r->cr = cr;
			return 0;
		}
		/* Empty lines are keep-alives. */
		if (r->len > 0 && (err = fn(arg, r, r->buf, r->len)) != 0)
			return err;
		r->len = 0;
		p += take + 1;
		n -= take + 1;
	}
	return 0;
}

/* The body is complete. */
static int
body_end(struct kube_resp *r, kube_resp_fn fn, void *arg)
{
	int err = 0;

	r->done = true;
	if (lines_mode(r)) {
		if (r->len > 0 || r->cr)
			return KUBE_E_TRUNCATED;
		return 0;
	}
	err = fn(arg, r, r->buf != NULL ? r->buf : (const uint8_t *)"", r->len);
	return err;
}

struct head_ctx {
	struct kube_resp *r;
	bool te_seen;
};

static int
parse_status_line(struct kube_resp *r, const struct http1_line *l)
{
	const uint8_t *s = l->s;

	/* "HTTP/1.1 200 OK": version, SP, three digits, SP, optional reason. */
	if (l->n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '1' && s[7] != '0') ||
	    s[8] != ' ' || !http1_is_digit(s[9]) || !http1_is_digit(s[10]) ||
	    !http1_is_digit(s[11]) || (l->n > 12 && s[12] != ' '))
		return KUBE_E_SYNTAX;
	for (size_t i = 13; i < l->n; i++)
		if (!http1_is_field_char(s[i]))
			return KUBE_E_SYNTAX;
	r->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	/* No 1xx: authd never sends Expect, and never upgrades. */
	if (r->status < 200 || r->status > 599)
		return KUBE_E_SYNTAX;
	return 0;
}

static int
parse_header(struct head_ctx *h, const struct http1_line *l)
{
	struct kube_resp *r = h->r;
	const uint8_t *s = l->s, *v;
	size_t i = 0, vn;

	while (i < l->n && http1_is_tchar(s[i]))
		i++;
	if (i == 0 || i >= l->n || s[i] != ':')
		return KUBE_E_SYNTAX;
	v = s + i + 1;
	vn = l->n - i - 1;
	while (vn > 0 && http1_is_ows(v[0])) {
		v++;
		vn--;
	}
	while (vn > 0 && http1_is_ows(v[vn - 1]))
		vn--;
	for (size_t j = 0; j < vn; j++)
		if (!http1_is_field_char(v[j]))
			return KUBE_E_SYNTAX;
	if (http1_eq_nocase(s, i, "content-length", 14)) {
		uint64_t len = 0;

		/* One value, digits only; a second Content-Length is a smuggling signal. */
		if (r->has_length || vn == 0 || vn > 15)
			return KUBE_E_SYNTAX;
		for (size_t j = 0; j < vn; j++) {
			if (!http1_is_digit(v[j]))
				return KUBE_E_SYNTAX;
			len = len * 10 + (uint64_t)(v[j] - '0');
		}
		r->has_length = true;
		r->length = len;
	} else if (http1_eq_nocase(s, i, "transfer-encoding", 17)) {
		/* chunked is the only coding an API server uses; anything else we cannot read. */
		if (h->te_seen || !http1_eq_nocase(v, vn, "chunked", 7))
			return KUBE_E_SYNTAX;
		h->te_seen = true;
		r->chunked = true;
	}
	return 0;
}

static int
head_line(void *ctx, size_t idx, const struct http1_line *l)
{
	struct head_ctx *h = ctx;

	if (!l->complete)
		return 0;
	if (idx == 0)
		return parse_status_line(h->r, l);
	return parse_header(h, l);
}

/* One chunked-body byte run; returns bytes used or an error. */
static int
chunked(struct kube_resp *r, const uint8_t *p, size_t n, size_t *used, kube_resp_fn fn, void *arg)
{
	size_t i = 0;
	int err;

	while (i < n && !r->done) {
		uint8_t c = p[i];

		switch (r->cstate) {
		case C_SIZE:
			if (http1_is_hex(c)) {
				if (++r->cline > CHUNK_DIGITS_MAX)
					return KUBE_E_TOO_BIG;
				r->chunk_left = r->chunk_left * 16 +
				    (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
			} else if (r->cline == 0) {
				return KUBE_E_SYNTAX;
			} else if (c == ';' || http1_is_ows(c)) {
				r->cstate = C_EXT;
			} else if (c == '\r') {
				r->cstate = C_SIZE_LF;
			} else {
				return KUBE_E_SYNTAX;
			}
			i++;
			break;
		case C_EXT:
			if (++r->cline > CHUNK_LINE_MAX)
				return KUBE_E_TOO_BIG;
			if (c == '\r')
				r->cstate = C_SIZE_LF;
			else if (!http1_is_field_char(c))
				return KUBE_E_SYNTAX;
			i++;
			break;
		case C_SIZE_LF:
			if (c != '\n')
				return KUBE_E_SYNTAX;
			i++;
			r->cline = 0;
			r->cstate = r->chunk_left == 0 ? C_TRAILER : C_DATA;
			break;
		case C_DATA: {
			size_t take = n - i;

			if (take > r->chunk_left)
				take = (size_t)r->chunk_left;
			if ((err = body(r, p + i, take, fn, arg)) != 0)
				return err;
			i += take;
			r->chunk_left -= take;
			if (r->chunk_left == 0)
				r->cstate = C_DATA_CR;
			break;
		}
		case C_DATA_CR:
			if (c != '\r')
				return KUBE_E_SYNTAX;
			i++;
			r->cstate = C_DATA_LF;
			break;
		case C_DATA_LF:
			if (c != '\n')
				return KUBE_E_SYNTAX;
			i++;
			r->cstate = C_SIZE;
			break;
		case C_TRAILER:
			if (c == '\r') {
				r->cstate = C_TRAILER_LF;
			} else if (!http1_is_field_char(c)) {
				return KUBE_E_SYNTAX;
			} else if (++r->cline > CHUNK_LINE_MAX) {
				return KUBE_E_TOO_BIG;
			}
			i++;
			break;
		case C_TRAILER_LF:
			if (c != '\n')
				return KUBE_E_SYNTAX;
			i++;
			if (r->cline == 0) {
				*used = i;
				return body_end(r, fn, arg);
			}
			r->cline = 0;
			r->cstate = C_TRAILER;
			break;
		}
	}
	*used = i;
	return 0;
}

int
kube_resp_feed(struct kube_resp *r, const uint8_t *p, size_t n, kube_resp_fn fn, void *arg)
{
	int err;

	if (n == 0)
		return 0;
	if (r->done)
		return KUBE_E_SYNTAX;
	if (!r->head_done) {
		struct head_ctx h = { r, false };
		size_t old = r->len, head_len = 0;

		/* Keep only up to the head's end here: the rest is body. */
		if ((err = append(r, p, n > KUBE_HEAD_MAX - old ? KUBE_HEAD_MAX - old : n)) != 0)
			return err;
		r->status = 0;
		r->has_length = r->chunked = false;
		err = http1_scan_head(r->buf, r->len, KUBE_HEAD_MAX, head_line, &h, &head_len);
		if (err == HTTP1_AGAIN) {
			if (r->len >= KUBE_HEAD_MAX)
				return KUBE_E_TOO_BIG;
			if (n > KUBE_HEAD_MAX - old)
				return KUBE_E_TOO_BIG;
			return 0;
		}
		if (err == HTTP1_TOO_BIG)
			return KUBE_E_TOO_BIG;
		if (err != 0)
			return err < 0 ? err : KUBE_E_SYNTAX;
		if (r->chunked && r->has_length)
			return KUBE_E_SYNTAX;
		r->head_done = true;
		/* The bytes of this feed past the head are the body's start. */
		p += head_len - old;
		n -= head_len - old;
		r->len = 0;
		/* In LINES mode max bounds each line, not the body: body() checks those. */
		if (r->has_length && !lines_mode(r) && r->length > limit(r))
			return KUBE_E_TOO_BIG;
		if (r->has_length && r->length == 0 && (err = body_end(r, fn, arg)) != 0)
			return err;
		if (r->done)
			return n > 0 ? KUBE_E_SYNTAX : 0;
	}
	if (r->chunked) {
		size_t used = 0;

		if ((err = chunked(r, p, n, &used, fn, arg)) != 0)
			return err;
		return used < n ? KUBE_E_SYNTAX : 0;
	}
	if (r->has_length) {
		size_t take = n > r->length ? (size_t)r->length : n;

		if ((err = body(r, p, take, fn, arg)) != 0)
			return err;
		r->length -= take;
		if (r->length == 0 && (err = body_end(r, fn, arg)) != 0)
			return err;
		return take < n ? KUBE_E_SYNTAX : 0;
	}
	/* Framed by the end of the connection. */
	return body(r, p, n, fn, arg);
}

int
kube_resp_eof(struct kube_resp *r, kube_resp_fn fn, void *arg)
{
	if (r->done)
		return 0;
	if (!r->head_done || r->chunked || r->has_length)
		return KUBE_E_TRUNCATED;
	return body_end(r, fn, arg);
}
