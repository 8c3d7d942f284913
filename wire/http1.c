/*
 * HTTP/1.1 head framing and character classes (see http1.h).
 */
#include "wire/http1.h"

#include "common/buf.h"

int
http1_scan_head(const uint8_t *p, size_t len, size_t max, http1_line_fn fn, void *ctx,
    size_t *head_len)
{
	struct buf b;
	int err;

	buf_reader(&b, p, len < max ? len : max);
	for (size_t idx = 0;; idx++) {
		const uint8_t *s = b.r + b.off;
		size_t left = buf_left(&b), i = 0;
		struct http1_line l;

		while (i < left && s[i] != '\r' && s[i] != '\n')
			i++;
		l.s = s;
		l.n = i;
		l.complete = i < left && s[i] == '\r';
		/* After the start line an empty line ends the head. */
		if (idx == 0 || i > 0 || !l.complete) {
			err = fn(ctx, idx, &l);
			if (err != 0)
				return err;
		}
		if (i == left)
			break;
		if (s[i] == '\n')
			return HTTP1_SYNTAX;	/* bare LF */
		if (i + 1 == left)
			break;
		if (s[i + 1] != '\n')
			return HTTP1_SYNTAX;	/* bare CR */
		(void)buf_get_bytes(&b, i + 2);
		if (idx > 0 && i == 0) {
			*head_len = b.off;
			return 0;
		}
	}
	return len >= max ? HTTP1_TOO_BIG : HTTP1_AGAIN;
}

bool
http1_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

bool
http1_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool
http1_is_hex(int c)
{
	return http1_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool
http1_is_ows(int c)
{
	return c == ' ' || c == '\t';
}

bool
http1_is_tchar(int c)
{
	if (http1_is_alpha(c) || http1_is_digit(c))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '.': case '^': case '_': case '`': case '|':
	case '~':
		return true;
	default:
		return false;
	}
}

bool
http1_is_token_char(int c)
{
	return c > 0x20 && c != 0x7f;
}

bool
http1_is_field_char(int c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

bool
http1_eq_nocase(const uint8_t *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (lower(a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}
