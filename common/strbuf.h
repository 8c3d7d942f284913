/*
 * A growable text buffer with a hard cap, for what authd renders: the
 * /metrics page, JSON documents, access-log lines. Appends past the cap fail
 * and leave the buffer marked failed (like struct buf), so a renderer can
 * append everything and check once.
 */
#ifndef AUTHD_COMMON_STRBUF_H
#define AUTHD_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct strbuf {
	char *p;	/* NUL-terminated while !failed; NULL before the first append */
	size_t len;
	size_t cap;	/* allocated */
	size_t max;	/* hard cap on len */
	bool failed;	/* an append did not fit or allocation failed */
};

/* An empty buffer that will hold at most max bytes. */
void strbuf_init(struct strbuf *sb, size_t max);
void strbuf_free(struct strbuf *sb);
/* Drop the content, keep the allocation and the cap; clears failed. */
void strbuf_reset(struct strbuf *sb);
void strbuf_append(struct strbuf *sb, const char *s, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...) AD_PRINTF(2, 3);
/*
 * Append s[0..n) as a JSON string, quotes included: '"' '\\' and control
 * bytes escaped (\n, \t, \u00XX); bytes >= 0x80 pass through when they
 * form valid UTF-8, else become \ufffd.
 */
void strbuf_json_string(struct strbuf *sb, const char *s, size_t n);
/*
 * Append a Prometheus label value: '\\', '"' and newline escaped; bytes
 * that are not valid UTF-8 become U+FFFD, since the text format requires
 * UTF-8 and one stray byte would fail the whole scrape.
 */
void strbuf_prom_label(struct strbuf *sb, const char *s);
#endif
