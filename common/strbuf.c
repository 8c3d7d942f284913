/*
 * strbuf.c: the capped text buffer. The allocation doubles until it reaches
 * max + 1 (room for the NUL), so rendering a page costs O(log n)
 * reallocations and never more memory than the cap allows.
 */
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRBUF_MIN_CAP 64

void
strbuf_init(struct strbuf *sb, size_t max)
{
	sb->p = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->max = max;
	sb->failed = false;
}

void
strbuf_free(struct strbuf *sb)
{
	if (sb == NULL)
		return;
	free(sb->p);
	strbuf_init(sb, sb->max);
}

void
strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->failed = false;
	if (sb->p != NULL)
		sb->p[0] = '\0';
}

/* Make room for n more bytes and a NUL; on failure mark the buffer failed. */
static bool
reserve(struct strbuf *sb, size_t n)
{
	size_t need, cap;
	char *p;

	if (sb->failed)
		return false;
	if (n > sb->max - sb->len) {
		sb->failed = true;
		return false;
	}
	need = sb->len + n + 1;
	if (need <= sb->cap)
		return true;
	cap = sb->cap > 0 ? sb->cap : STRBUF_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap > sb->max && sb->max < SIZE_MAX)
		cap = sb->max + 1;
	p = realloc(sb->p, cap);
	if (p == NULL) {
		sb->failed = true;
		return false;
	}
	sb->p = p;
	sb->cap = cap;
	return true;
}

void
strbuf_append(struct strbuf *sb, const char *s, size_t n)
{
	if (!reserve(sb, n))
		return;
	if (n > 0)
		memcpy(sb->p + sb->len, s, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

void
strbuf_puts(struct strbuf *sb, const char *s)
{
	strbuf_append(sb, s, strlen(s));
}

void
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	if (!reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(sb->p + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

/*
 * How many bytes at s[0..n) form one valid UTF-8 sequence (RFC 3629:
 * shortest form only, no surrogates, nothing above U+10FFFF). Returns 0
 * when they do not; *bad then gets the length of the maximal invalid
 * subpart (at least 1), which Unicode (section 3.9, "U+FFFD substitution
 * of maximal subparts") replaces with one U+FFFD.
 */
static size_t
utf8_len(const uint8_t *s, size_t n, size_t *bad)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	*bad = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else {
		return 0;
	}
	for (i = 1; i < need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

void
strbuf_json_string(struct strbuf *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0, run = 0, k, bad;
	char esc[7];

	strbuf_append(sb, "\"", 1);
	while (i < n) {
		uint8_t c = u[i];
		const char *rep = NULL;
		size_t rn = 2;

		if (c >= 0x80) {
			k = utf8_len(u + i, n - i, &bad);
			if (k > 0) {
				i += k;
				continue;
			}
			rep = "\\ufffd";
			rn = 6;
			k = bad;
		} else {
			k = 1;
			switch (c) {
			case '"':
				rep = "\\\"";
				break;
			case '\\':
				rep = "\\\\";
				break;
			case '\n':
				rep = "\\n";
				break;
			case '\r':
				rep = "\\r";
				break;
			case '\t':
				rep = "\\t";
				break;
			default:
				if (c < 0x20 || c == 0x7f) {
					memcpy(esc, "\\u00", 4);
					esc[4] = hex[c >> 4];
					esc[5] = hex[c & 0xf];
					esc[6] = '\0';
					rep = esc;
					rn = 6;
				}
				break;
			}
			if (rep == NULL) {
				i++;
				continue;
			}
		}
		/* Flush the bytes that needed no escape, then the escape. */
		strbuf_append(sb, s + run, i - run);
		strbuf_append(sb, rep, rn);
		i += k;
		run = i;
	}
	strbuf_append(sb, s + run, i - run);
	strbuf_append(sb, "\"", 1);
}

void
strbuf_prom_label(struct strbuf *sb, const char *s)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0, run = 0, n = strlen(s), k, bad;

	while (i < n) {
		const char *rep;
		size_t rn = 2;

		switch (u[i]) {
		case '\\':
			rep = "\\\\";
			k = 1;
			break;
		case '"':
			rep = "\\\"";
			k = 1;
			break;
		case '\n':
			rep = "\\n";
			k = 1;
			break;
		default:
			/* Label values are UTF-8; a stray byte would break the scrape. */
			k = utf8_len(u + i, n - i, &bad);
			if (k > 0) {
				i += k;
				continue;
			}
			rep = "\xef\xbf\xbd";
			rn = 3;
			k = bad;
			break;
		}
		strbuf_append(sb, s + run, i - run);
		strbuf_append(sb, rep, rn);
		i += k;
		run = i;
	}
	strbuf_append(sb, s + run, i - run);
}
