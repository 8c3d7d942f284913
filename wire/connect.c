/*
 * connect.c: the mesh protocol's CONNECT request and response heads.
 *
 * A head is framed into lines by scan_head(); each line goes, possibly
 * still incomplete, to a per-line parser that walks it left to right
 * through a struct buf and stops at the first byte that breaks the
 * grammar. Checks that need a whole token (the target, a field's value)
 * run when the token is closed, and nothing looks at a byte after the one
 * being judged, so a prefix of a head fails exactly as the whole head
 * would, or asks for more bytes.
 */
#include "wire/connect.h"

#include <errno.h>
#include <string.h>

#include "common/authority.h"
#include "common/buf.h"
#include "wire/http1.h"

/* A later version's traceparent we are willing to send on. */
#define TRACEPARENT_MAX 256

static const char method_connect[] = "CONNECT";
static const char version_11[] = "HTTP/1.1";
#define METHOD_LEN (sizeof(method_connect) - 1)
#define VERSION_LEN (sizeof(version_11) - 1)

struct field {
	const uint8_t *name;
	size_t name_len;
	const uint8_t *value;	/* without surrounding whitespace */
	size_t value_len;
};

struct req_ctx {
	struct connect_req *req;
	const uint8_t *target;	/* the request-target as sent, for Host */
	size_t target_len;
	bool has_host;
};

struct resp_ctx {
	int status;
	char *reason;
	size_t reason_size;
	bool has_deny;
};

/* Trace context allows only lower-case hex. */
static bool
is_lhex(int c)
{
	return http1_is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool
name_is(const struct field *f, const char *name)
{
	return http1_eq_nocase(f->name, f->name_len, name, strlen(name));
}

static bool
all(const uint8_t *s, size_t n, bool (*pred)(int))
{
	for (size_t i = 0; i < n; i++)
		if (!pred(s[i]))
			return false;
	return true;
}

/*
 * Copy s[0..n) into dst as printable ASCII (anything else becomes a space),
 * without outer spaces, cut to size - 1 bytes and NUL-terminated, so the
 * text can go into a header value or a log line. Returns its length.
 */
static size_t
sanitise(char *dst, size_t size, const uint8_t *s, size_t n)
{
	size_t k = 0;

	if (dst == NULL || size == 0)
		return 0;
	for (size_t i = 0; i < n && k + 1 < size; i++) {
		uint8_t c = s[i];

		if (c < 0x20 || c > 0x7e)
			c = ' ';
		if (c == ' ' && k == 0)
			continue;
		dst[k++] = (char)c;
	}
	while (k > 0 && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
	return k;
}

/*
 * A header field line (RFC 9112 section 5): name ":" OWS value OWS. A line
 * starting with whitespace is an obs-fold continuation or hides a name,
 * and whitespace before the colon is forbidden; both are rejected.
 */
static int
parse_field(const struct http1_line *l, size_t idx, struct field *f)
{
	struct buf b;
	const uint8_t *v;
	size_t n, vn;
	int c;

	if (l->n == 0 && !l->complete)
		return 0;
	if (idx > CONNECT_HEADERS_MAX)
		return CONNECT_E_HEADERS;
	buf_reader(&b, l->s, l->n);
	if (http1_is_ows(buf_peek(&b)))
		return CONNECT_E_SYNTAX;
	f->name = buf_take(&b, http1_is_tchar, &f->name_len);
	c = buf_peek(&b);
	if (c < 0)
		return l->complete ? CONNECT_E_SYNTAX : 0;
	if (c != ':' || f->name_len == 0)
		return CONNECT_E_SYNTAX;
	(void)buf_get_u8(&b);
	(void)buf_take(&b, http1_is_ows, &n);
	v = buf_take(&b, http1_is_field_char, &vn);
	if (buf_left(&b) > 0)
		return CONNECT_E_SYNTAX;	/* a control byte in the value */
	while (vn > 0 && http1_is_ows(v[vn - 1]))
		vn--;
	f->value = v;
	f->value_len = vn;
	return 0;
}

/* request-line = method SP request-target SP HTTP-version */
static int
parse_request_line(const struct http1_line *l, struct req_ctx *c)
{
	struct buf b;
	const uint8_t *m, *t, *v;
	size_t mn, tn, vn;
	int ch;

	buf_reader(&b, l->s, l->n);
	m = buf_take(&b, http1_is_tchar, &mn);
	if (mn > METHOD_LEN || memcmp(m, method_connect, mn) != 0)
		return CONNECT_E_METHOD;
	ch = buf_peek(&b);
	if (ch < 0 && !l->complete)
		return 0;
	if (mn == 0)
		return CONNECT_E_SYNTAX;	/* empty line, leading space or CTL */
	if (mn < METHOD_LEN)
		return CONNECT_E_METHOD;
	if (ch < 0)
		return CONNECT_E_TARGET;
	if (ch != ' ')
		return CONNECT_E_SYNTAX;
	(void)buf_get_u8(&b);

	t = buf_take(&b, http1_is_token_char, &tn);
	if (tn > AUTHORITY_MAX || !all(t, tn, authority_is_char))
		return CONNECT_E_TARGET;
	ch = buf_peek(&b);
	if (ch < 0 && !l->complete)
		return 0;
	if (tn == 0)
		return CONNECT_E_SYNTAX;	/* two spaces, or a CTL */
	if (authority_parse(t, tn, c->req->host, &c->req->port) != 0)
		return CONNECT_E_TARGET;
	if (ch < 0)
		return CONNECT_E_VERSION;	/* no version at all */
	if (ch != ' ')
		return CONNECT_E_SYNTAX;
	(void)buf_get_u8(&b);

	v = buf_take(&b, http1_is_token_char, &vn);
	if (vn > VERSION_LEN || memcmp(v, version_11, vn) != 0)
		return CONNECT_E_VERSION;
	ch = buf_peek(&b);
	if (ch < 0 && !l->complete)
		return 0;
	if (vn == 0)
		return CONNECT_E_SYNTAX;
	if (vn < VERSION_LEN)
		return CONNECT_E_VERSION;
	if (ch >= 0)
		return CONNECT_E_SYNTAX;	/* trailing whitespace or a CTL */
	c->target = t;
	c->target_len = tn;
	return 0;
}

/*
 * W3C Trace Context, section 3.2: version "-" trace-id "-" parent-id "-"
 * flags in lower-case hex. Version ff is invalid; version 00 is exactly 55
 * bytes; a later version may carry more after a '-', which we do not pass
 * on (the first 55 bytes are a complete traceparent).
 */
static bool
traceparent_valid(const uint8_t *v, size_t n)
{
	static const struct {
		size_t off, len;
	} parts[] = { { 0, 2 }, { 3, 32 }, { 36, 16 }, { 53, 2 } };
	bool zero;

	if (n < CONNECT_TRACEPARENT_LEN)
		return false;
	for (size_t i = 0; i < AD_ARRAY_LEN(parts); i++) {
		if (!all(v + parts[i].off, parts[i].len, is_lhex))
			return false;
		if (i > 0 && v[parts[i].off - 1] != '-')
			return false;
		zero = true;
		for (size_t k = 0; k < parts[i].len; k++)
			zero = zero && v[parts[i].off + k] == '0';
		if ((i == 1 || i == 2) && zero)
			return false;
	}
	if (v[0] == 'f' && v[1] == 'f')
		return false;
	if (v[0] == '0' && v[1] == '0')
		return n == CONNECT_TRACEPARENT_LEN;
	return n == CONNECT_TRACEPARENT_LEN || v[CONNECT_TRACEPARENT_LEN] == '-';
}

static int
request_field(struct req_ctx *c, const struct field *f)
{
	struct connect_req *req = c->req;

	if (name_is(f, "host")) {
		if (c->has_host)
			return CONNECT_E_DUP;
		c->has_host = true;
		if (!http1_eq_nocase(f->value, f->value_len, (const char *)c->target, c->target_len))
			return CONNECT_E_HOST;
	} else if (name_is(f, "traceparent")) {
		/* Trace Context: several traceparent fields make it invalid. */
		if (req->has_traceparent)
			return CONNECT_E_DUP;
		if (!traceparent_valid(f->value, f->value_len))
			return CONNECT_E_TRACEPARENT;
		memcpy(req->traceparent, f->value, CONNECT_TRACEPARENT_LEN);
		req->traceparent[CONNECT_TRACEPARENT_LEN] = '\0';
		req->has_traceparent = true;
	} else if (name_is(f, "content-length")) {
		if (f->value_len != 1 || f->value[0] != '0')
			return CONNECT_E_BODY;
	} else if (name_is(f, "transfer-encoding")) {
		return CONNECT_E_BODY;
	}
	return 0;
}

static int
request_line(void *ctx, size_t idx, const struct http1_line *l)
{
	struct req_ctx *c = ctx;
	struct field f;
	int err;

	if (idx == 0)
		return parse_request_line(l, c);
	err = parse_field(l, idx, &f);
	if (err != 0 || !l->complete)
		return err;
	return request_field(c, &f);
}

/* Frame a head into lines (http1.h), in this parser's error codes. */
static int
scan_head(const uint8_t *p, size_t len, http1_line_fn fn, void *ctx, size_t *head_len)
{
	int r = http1_scan_head(p, len, CONNECT_HEAD_MAX, fn, ctx, head_len);

	if (r == HTTP1_AGAIN)
		return CONNECT_E_AGAIN;
	if (r == HTTP1_TOO_BIG)
		return CONNECT_E_TOO_BIG;
	if (r == HTTP1_SYNTAX)
		return CONNECT_E_SYNTAX;
	return r;
}

int
connect_parse(const uint8_t *p, size_t len, struct connect_req *req)
{
	struct req_ctx c = { .req = req };
	size_t head_len = 0;
	int err;

	if (req == NULL || (p == NULL && len > 0))
		return CONNECT_E_INVAL;
	memset(req, 0, sizeof(*req));
	if (len == 0)
		return CONNECT_E_AGAIN;
	err = scan_head(p, len, request_line, &c, &head_len);
	if (err != 0)
		goto out;
	req->head_len = head_len;
out:
	if (err != 0)
		memset(req, 0, sizeof(*req));
	return err;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
static int
parse_status_line(const struct http1_line *l, struct resp_ctx *c)
{
	struct buf b;
	const uint8_t *v, *d;
	size_t vn, dn, rn;
	int ch;

	buf_reader(&b, l->s, l->n);
	v = buf_take(&b, http1_is_token_char, &vn);
	if (vn > VERSION_LEN || memcmp(v, version_11, vn) != 0)
		return CONNECT_E_VERSION;
	ch = buf_peek(&b);
	if (ch < 0 && !l->complete)
		return 0;
	if (vn == 0)
		return CONNECT_E_SYNTAX;
	if (vn < VERSION_LEN)
		return CONNECT_E_VERSION;
	if (ch != ' ')
		return CONNECT_E_SYNTAX;
	(void)buf_get_u8(&b);

	d = buf_take(&b, http1_is_digit, &dn);
	if (dn > 3 || (dn > 0 && (d[0] < '1' || d[0] > '5')))
		return CONNECT_E_SYNTAX;
	ch = buf_peek(&b);
	if (ch < 0 && !l->complete)
		return 0;
	if (dn < 3)
		return CONNECT_E_SYNTAX;
	/* RFC 9112 section 4: accept a status line without the second SP. */
	if (ch >= 0) {
		if (ch != ' ')
			return CONNECT_E_SYNTAX;
		(void)buf_get_u8(&b);
		(void)buf_take(&b, http1_is_field_char, &rn);
		if (buf_left(&b) > 0)
			return CONNECT_E_SYNTAX;
	}
	c->status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
	return 0;
}

static int
response_field(struct resp_ctx *c, const struct field *f)
{
	bool ok = c->status >= 200 && c->status < 300;

	if (name_is(f, "x-authd-deny")) {
		if (c->has_deny)
			return CONNECT_E_DUP;
		c->has_deny = true;
		(void)sanitise(c->reason, c->reason_size, f->value, f->value_len);
	} else if (name_is(f, "content-length")) {
		/* After a 2xx the bytes are the tunnel (RFC 9110 section 9.3.6). */
		if (ok && (f->value_len != 1 || f->value[0] != '0'))
			return CONNECT_E_BODY;
	} else if (name_is(f, "transfer-encoding")) {
		if (ok)
			return CONNECT_E_BODY;
	}
	return 0;
}

static int
response_line(void *ctx, size_t idx, const struct http1_line *l)
{
	struct resp_ctx *c = ctx;
	struct field f;
	int err;

	if (idx == 0)
		return parse_status_line(l, c);
	err = parse_field(l, idx, &f);
	if (err != 0 || !l->complete)
		return err;
	return response_field(c, &f);
}

int
connect_status(const uint8_t *p, size_t len, int *status, size_t *head_len, char *reason,
    size_t reason_size)
{
	struct resp_ctx c = { .reason = reason, .reason_size = reason != NULL ? reason_size : 0 };
	size_t hl = 0;
	int err;

	if (c.reason_size > 0)
		reason[0] = '\0';
	if (status == NULL || head_len == NULL || (p == NULL && len > 0))
		return CONNECT_E_INVAL;
	*status = 0;
	*head_len = 0;
	if (len == 0)
		return CONNECT_E_AGAIN;
	err = scan_head(p, len, response_line, &c, &hl);
	if (err != 0)
		goto out;
	*status = c.status;
	*head_len = hl;
out:
	if (err != 0 && c.reason_size > 0)
		reason[0] = '\0';
	return err;
}

static void
put_str(struct buf *b, const char *s)
{
	buf_put_bytes(b, s, strlen(s));
}

int
connect_response(char *out, size_t size, int status, const char *reason_header, size_t *len)
{
	char reason[CONNECT_REASON_MAX + 1];
	const char *text;
	struct buf b;
	size_t rn = 0;

	if (len != NULL)
		*len = 0;
	if (out == NULL || len == NULL)
		return -EINVAL;
	switch (status) {
	case 200:
		text = "OK";
		break;
	case 400:
		text = "Bad Request";
		break;
	case 403:
		text = "Forbidden";
		break;
	case 408:
		text = "Request Timeout";
		break;
	case 503:
		text = "Service Unavailable";
		break;
	default:
		return -EINVAL;
	}
	if (status != 200 && reason_header != NULL)
		rn = sanitise(reason, sizeof(reason), (const uint8_t *)reason_header,
		    strlen(reason_header));

	buf_writer(&b, out, size);
	put_str(&b, "HTTP/1.1 ");
	buf_put_u8(&b, (uint8_t)('0' + status / 100));
	buf_put_u8(&b, (uint8_t)('0' + status / 10 % 10));
	buf_put_u8(&b, (uint8_t)('0' + status % 10));
	buf_put_u8(&b, ' ');
	put_str(&b, text);
	put_str(&b, "\r\n");
	if (status != 200) {
		if (rn > 0) {
			put_str(&b, "x-authd-deny: ");
			buf_put_bytes(&b, reason, rn);
			put_str(&b, "\r\n");
		}
		put_str(&b, "content-length: 0\r\nconnection: close\r\n");
	}
	put_str(&b, "\r\n");
	buf_put_u8(&b, 0);
	if (!buf_ok(&b))
		return -ENOSPC;
	*len = b.off - 1;
	return 0;
}

int
connect_request(char *out, size_t size, const char *host, uint16_t port,
    const char *traceparent, size_t *len)
{
	char target[AUTHORITY_MAX + 1];
	struct buf b;
	size_t tn = 0;

	if (len != NULL)
		*len = 0;
	if (out == NULL || len == NULL)
		return -EINVAL;
	/* What we send must be what connect_parse accepts, for the same host. */
	if (authority_format(host, port, target, sizeof(target), &tn) != 0)
		return -EINVAL;
	if (traceparent != NULL) {
		size_t pn = strnlen(traceparent, TRACEPARENT_MAX + 1);

		if (pn > TRACEPARENT_MAX || !traceparent_valid((const uint8_t *)traceparent, pn))
			return -EINVAL;
	}

	buf_writer(&b, out, size);
	put_str(&b, "CONNECT ");
	buf_put_bytes(&b, target, tn);
	put_str(&b, " HTTP/1.1\r\nHost: ");
	buf_put_bytes(&b, target, tn);
	put_str(&b, "\r\n");
	if (traceparent != NULL) {
		put_str(&b, "traceparent: ");
		put_str(&b, traceparent);
		put_str(&b, "\r\n");
	}
	put_str(&b, "\r\n");
	buf_put_u8(&b, 0);
	if (!buf_ok(&b))
		return -ENOSPC;
	*len = b.off - 1;
	return 0;
}

static const struct {
	int code;
	const char *reason;
	const char *text;
} connect_errors[] = {
	{ CONNECT_E_INVAL, "invalid-argument", "invalid argument" },
	{ CONNECT_E_AGAIN, "incomplete", "request head is incomplete" },
	{ CONNECT_E_TOO_BIG, "too-big", "request head is larger than 8192 bytes" },
	{ CONNECT_E_METHOD, "method", "method is not CONNECT" },
	{ CONNECT_E_TARGET, "target", "target is not host:port (authority-form)" },
	{ CONNECT_E_VERSION, "version", "protocol version is not HTTP/1.1" },
	{ CONNECT_E_SYNTAX, "syntax", "malformed HTTP/1.1 head" },
	{ CONNECT_E_HEADERS, "too-many-headers", "more than 64 header fields" },
	{ CONNECT_E_HOST, "host-mismatch", "Host header differs from the CONNECT target" },
	{ CONNECT_E_TRACEPARENT, "traceparent", "malformed traceparent header" },
	{ CONNECT_E_DUP, "duplicate-header", "Host, traceparent or x-authd-deny sent twice" },
	{ CONNECT_E_BODY, "body", "a CONNECT head may not announce a body" },
};

const char *
connect_strerror(int err)
{
	if (err == 0)
		return "success";
	for (size_t i = 0; i < AD_ARRAY_LEN(connect_errors); i++)
		if (connect_errors[i].code == err)
			return connect_errors[i].text;
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

const char *
connect_reason(int err)
{
	if (err == 0)
		return "ok";
	for (size_t i = 0; i < AD_ARRAY_LEN(connect_errors); i++)
		if (connect_errors[i].code == err)
			return connect_errors[i].reason;
	return "error";
}
