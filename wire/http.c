/*
 * http.c: the admin server's request heads and responses.
 *
 * The head is framed into CRLF lines by scan_head(); each line, possibly
 * still incomplete, goes to a parser that walks it left to right through a
 * struct buf and stops at the first byte that breaks the grammar. A token
 * is judged as far as it has arrived (a method is wrong as soon as it stops
 * being a prefix of GET or HEAD) and once more when it is closed, and no
 * check looks ahead, so a prefix of a head fails exactly as the whole head
 * would, or asks for more bytes. The same scheme as connect.c; the small
 * character classes are repeated here rather than shared, to keep the two
 * wire formats free to differ.
 */
#include "wire/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "wire/http1.h"
#include "common/strbuf.h"

static const char version_prefix[] = "HTTP/1.";
#define VERSION_LEN (sizeof(version_prefix) - 1 + 1)

struct req_ctx {
	struct http_request *req;
	bool has_host;
};

/* RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':' and '@'. */
static bool
is_pchar(int c)
{
	if (http1_is_alpha(c) || http1_is_digit(c))
		return true;
	return c != '\0' && strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

/* s[0..n) is a prefix of word (case-sensitive). */
static bool
is_prefix(const uint8_t *s, size_t n, const char *word)
{
	return n <= strlen(word) && memcmp(s, word, n) == 0;
}

/*
 * Split p[0..len) into CRLF-terminated lines and hand each to parse_line,
 * the last one possibly incomplete. Only the first HTTP_HEAD_MAX bytes are
 * looked at. On 0, *head_len is the offset just past the empty line.
 */
static int parse_line(struct req_ctx *c, size_t idx, const struct http1_line *l);

static int
line_cb(void *ctx, size_t idx, const struct http1_line *l)
{
	return parse_line(ctx, idx, l);
}

static int
scan_head(const uint8_t *p, size_t len, struct req_ctx *c, size_t *head_len)
{
	int r = http1_scan_head(p, len, HTTP_HEAD_MAX, line_cb, c, head_len);

	if (r == HTTP1_AGAIN)
		return HTTP_E_AGAIN;
	if (r == HTTP1_TOO_BIG)
		return HTTP_E_TOO_BIG;
	if (r == HTTP1_SYNTAX)
		return HTTP_E_SYNTAX;
	return r;
}

/*
 * origin-form = absolute-path [ "?" query ] (RFC 9112 section 3.2.1), as
 * far as it has arrived: t[0..n) is the target so far and closed says
 * whether more of it can follow. The path is copied into req.
 */
static int
parse_target(const uint8_t *t, size_t n, bool closed, struct http_request *req)
{
	size_t i = 0, path_len = 0;
	bool query = false;

	if (n > 0 && t[0] != '/')
		return HTTP_E_TARGET;	/* absolute-form, authority-form, asterisk-form */
	while (i < n) {
		uint8_t ch = t[i];

		if (ch == '%') {
			if ((i + 1 < n && !http1_is_hex(t[i + 1])) || (i + 2 < n && !http1_is_hex(t[i + 2])))
				return HTTP_E_TARGET;
			if (i + 2 >= n)
				return closed ? HTTP_E_TARGET : 0;
		} else if (ch == '?') {
			query = true;
		} else if (!is_pchar(ch) && ch != '/') {
			return HTTP_E_TARGET;
		}
		if (!query && (path_len += ch == '%' ? 3 : 1) > HTTP_PATH_MAX)
			return HTTP_E_TARGET;
		i += ch == '%' ? 3 : 1;
	}
	if (!closed)
		return 0;
	/* t[0..path_len) is the path; checked above, so it fits. */
	memcpy(req->path, t, path_len);
	req->path[path_len] = '\0';
	req->path_len = path_len;
	req->has_query = query;
	return 0;
}

/* request-line = method SP request-target SP HTTP-version */
static int
parse_request_line(const struct http1_line *l, struct http_request *req)
{
	struct buf b;
	const uint8_t *m, *t, *v;
	size_t mn, tn, vn;
	int ch, err;

	buf_reader(&b, l->s, l->n);
	m = buf_take(&b, http1_is_tchar, &mn);
	if (!is_prefix(m, mn, "GET") && !is_prefix(m, mn, "HEAD"))
		return HTTP_E_METHOD;
	ch = buf_peek(&b);
	if (ch < 0 && !l->complete)
		return 0;
	if (mn == 0)
		return HTTP_E_SYNTAX;	/* empty line, leading space or a CTL */
	req->head = mn == 4;
	if (!is_prefix(m, mn, req->head ? "HEAD" : "GET") || mn < 3)
		return HTTP_E_METHOD;	/* "GE", "HEA" */
	if (ch != ' ')
		return HTTP_E_SYNTAX;
	(void)buf_get_u8(&b);

	t = buf_take(&b, http1_is_token_char, &tn);
	ch = buf_peek(&b);
	err = parse_target(t, tn, ch >= 0 || l->complete, req);
	if (err != 0 || (ch < 0 && !l->complete))
		return err;
	if (tn == 0)
		return HTTP_E_SYNTAX;	/* two spaces, or a CTL */
	if (ch < 0)
		return HTTP_E_VERSION;	/* no version at all (HTTP/0.9) */
	if (ch != ' ')
		return HTTP_E_SYNTAX;
	(void)buf_get_u8(&b);

	v = buf_take(&b, http1_is_token_char, &vn);
	if (!is_prefix(v, vn < VERSION_LEN - 1 ? vn : VERSION_LEN - 1, version_prefix) ||
	    vn > VERSION_LEN || (vn == VERSION_LEN && v[vn - 1] != '0' && v[vn - 1] != '1'))
		return HTTP_E_VERSION;
	ch = buf_peek(&b);
	if (ch < 0 && !l->complete)
		return 0;
	if (vn == 0)
		return HTTP_E_SYNTAX;
	if (vn < VERSION_LEN)
		return HTTP_E_VERSION;
	if (ch >= 0)
		return HTTP_E_SYNTAX;	/* trailing whitespace or a CTL */
	req->minor = v[vn - 1] - '0';
	return 0;
}

/*
 * A header field line (RFC 9112 section 5): name ":" OWS value OWS. A line
 * starting with whitespace is an obs-fold continuation (or hides a name),
 * and whitespace before the colon is forbidden; both are rejected.
 */
/*
 * The admin endpoint answers only requests addressed to an IP literal or
 * localhost: a browser tricked by DNS rebinding sends the attacker's host
 * name, and must not read /workloads.
 */
static bool
host_is_local(const uint8_t *v, size_t n)
{
	char text[64];
	size_t i = n;

	if (n == 0)
		return true;	/* no authority to rebind */
	if (n >= sizeof(text))
		return false;
	/* Drop a ":port" that is not inside brackets. */
	while (i > 0 && v[i - 1] >= '0' && v[i - 1] <= '9')
		i--;
	if (i > 0 && i < n && v[i - 1] == ':' && v[0] != '[')
		n = i - 1;
	else if (i > 0 && i < n && v[i - 1] == ':' && v[i - 2] == ']')
		n = i - 1;
	memcpy(text, v, n);
	text[n] = '\0';
	if (n == 9 && strncasecmp(text, "localhost", 9) == 0)
		return true;
	if (text[0] == '[' && n > 2 && text[n - 1] == ']') {
		struct in6_addr a6;

		text[n - 1] = '\0';
		return inet_pton(AF_INET6, text + 1, &a6) == 1;
	}
	{
		struct in_addr a4;

		return inet_pton(AF_INET, text, &a4) == 1;
	}
}

static int
parse_field(struct req_ctx *c, const struct http1_line *l)
{
	const uint8_t *name, *v;
	size_t name_len, n, vn;
	struct buf b;
	int ch;

	buf_reader(&b, l->s, l->n);
	if (http1_is_ows(buf_peek(&b)))
		return HTTP_E_SYNTAX;
	name = buf_take(&b, http1_is_tchar, &name_len);
	ch = buf_peek(&b);
	if (ch < 0)
		return l->complete ? HTTP_E_SYNTAX : 0;
	if (ch != ':' || name_len == 0)
		return HTTP_E_SYNTAX;
	(void)buf_get_u8(&b);
	(void)buf_take(&b, http1_is_ows, &n);
	v = buf_take(&b, http1_is_field_char, &vn);
	if (buf_left(&b) > 0)
		return HTTP_E_SYNTAX;	/* a control byte in the value */
	if (!l->complete)
		return 0;
	while (vn > 0 && http1_is_ows(v[vn - 1]))
		vn--;

	if (http1_eq_nocase(name, name_len, "host", 4)) {
		if (c->has_host)
			return HTTP_E_SYNTAX;	/* RFC 9112 section 3.2 */
		c->has_host = true;
		if (!host_is_local(v, vn))
			return HTTP_E_HOST;
	} else if (http1_eq_nocase(name, name_len, "content-length", 14)) {
		if (vn != 1 || v[0] != '0')
			return HTTP_E_BODY;
	} else if (http1_eq_nocase(name, name_len, "transfer-encoding", 17)) {
		return HTTP_E_BODY;
	}
	return 0;
}

static int
parse_line(struct req_ctx *c, size_t idx, const struct http1_line *l)
{
	if (idx == 0)
		return parse_request_line(l, c->req);
	return parse_field(c, l);
}

int
http_parse_request(const uint8_t *p, size_t len, struct http_request *req)
{
	struct req_ctx c = { .req = req };
	size_t head_len = 0;
	int err;

	if (req == NULL || (p == NULL && len > 0))
		return HTTP_E_INVAL;
	memset(req, 0, sizeof(*req));
	if (len == 0)
		return HTTP_E_AGAIN;
	err = scan_head(p, len, &c, &head_len);
	if (err != 0)
		goto out;
	/* Judged at the empty line, so every prefix before it is AGAIN. */
	if (req->minor == 1 && !c.has_host) {
		err = HTTP_E_SYNTAX;
		goto out;
	}
	req->head_len = head_len;
out:
	if (err != 0)
		memset(req, 0, sizeof(*req));
	return err;
}

static const struct {
	int code;
	int status;
	const char *reason;
	const char *text;
} http_errors[] = {
	{ HTTP_E_INVAL, 500, "invalid-argument", "invalid argument" },
	{ HTTP_E_AGAIN, 500, "incomplete", "request head is incomplete" },
	{ HTTP_E_TOO_BIG, 431, "too-big", "request head is larger than 4096 bytes" },
	{ HTTP_E_METHOD, 405, "method", "method is not GET or HEAD" },
	{ HTTP_E_SYNTAX, 400, "syntax", "malformed HTTP/1.x head" },
	{ HTTP_E_VERSION, 505, "version", "protocol version is not HTTP/1.0 or HTTP/1.1" },
	{ HTTP_E_BODY, 400, "body", "a request may not carry a body" },
	{ HTTP_E_TARGET, 400, "target", "target is not an origin-form path of at most 256 bytes" },
	{ HTTP_E_HOST, 421, "host", "Host is not localhost or an IP literal" },
};

int
http_error_status(int err)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(http_errors); i++)
		if (http_errors[i].code == err)
			return http_errors[i].status;
	return 500;
}

const char *
http_strerror(int err)
{
	if (err == 0)
		return "success";
	for (size_t i = 0; i < AD_ARRAY_LEN(http_errors); i++)
		if (http_errors[i].code == err)
			return http_errors[i].text;
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

const char *
http_reason(int err)
{
	if (err == 0)
		return "ok";
	for (size_t i = 0; i < AD_ARRAY_LEN(http_errors); i++)
		if (http_errors[i].code == err)
			return http_errors[i].reason;
	return "error";
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return NULL;
	}
}

int
http_response(struct strbuf *out, int status, const char *content_type, const char *body,
    size_t body_len, bool head_only)
{
	const char *text = status_text(status);

	if (out == NULL || text == NULL || (body == NULL && body_len > 0 && !head_only))
		return -EINVAL;
	if (content_type != NULL)
		for (const char *q = content_type; *q != '\0'; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				return -EINVAL;	/* it could end the field and add one */
	strbuf_printf(out, "HTTP/1.1 %d %s\r\n", status, text);
	if (content_type != NULL)
		strbuf_printf(out, "Content-Type: %s\r\n", content_type);
	strbuf_printf(out, "Content-Length: %zu\r\n", body_len);
	if (status == 405)
		strbuf_puts(out, "Allow: GET, HEAD\r\n");
	strbuf_puts(out, "Cache-Control: no-store\r\nConnection: close\r\n\r\n");
	if (!head_only && body_len > 0)
		strbuf_append(out, body, body_len);
	return out->failed ? -ENOSPC : 0;
}
