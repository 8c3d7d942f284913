/*
 * Unit tests for the capped text buffer (common/strbuf.c): growth, the hard
 * cap and its sticky failure, reset, printf, JSON strings with UTF-8
 * validation, and Prometheus label escaping.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "tests/unit/test.h"

/* The JSON string s[0..n) renders to, or NULL when the buffer failed. */
static char *
json(const char *s, size_t n)
{
	static char out[512];
	struct strbuf sb;

	strbuf_init(&sb, sizeof(out) - 1);
	strbuf_json_string(&sb, s, n);
	if (sb.failed) {
		strbuf_free(&sb);
		return NULL;
	}
	memcpy(out, sb.p, sb.len + 1);
	strbuf_free(&sb);
	return out;
}

#define JSON(lit) json((lit), sizeof(lit) - 1)

static char *
label(const char *s)
{
	static char out[512];
	struct strbuf sb;

	strbuf_init(&sb, sizeof(out) - 1);
	strbuf_prom_label(&sb, s);
	if (sb.failed || sb.p == NULL) {
		strbuf_free(&sb);
		return NULL;
	}
	memcpy(out, sb.p, sb.len + 1);
	strbuf_free(&sb);
	return out;
}

TEST(test_append_grow)
{
	struct strbuf sb;
	size_t cap_before;

	strbuf_init(&sb, 1 << 20);
	EXPECT(sb.p == NULL && sb.len == 0 && !sb.failed);
	strbuf_append(&sb, "", 0);
	REQUIRE(sb.p != NULL);
	EXPECT_STR(sb.p, "");
	for (int i = 0; i < 1000; i++)
		strbuf_puts(&sb, "0123456789");
	EXPECT(!sb.failed);
	EXPECT_EQ(sb.len, 10000);
	EXPECT_EQ(strlen(sb.p), 10000);
	EXPECT(sb.cap >= sb.len + 1);
	/* Doubling: the allocation is less than twice what is needed. */
	EXPECT(sb.cap < 2 * (sb.len + 1));
	EXPECT(memcmp(sb.p + 9990, "0123456789", 10) == 0);

	cap_before = sb.cap;
	strbuf_reset(&sb);
	EXPECT_EQ(sb.len, 0);
	EXPECT_EQ(sb.cap, cap_before);
	EXPECT_STR(sb.p, "");
	strbuf_free(&sb);
	EXPECT(sb.p == NULL && sb.len == 0 && sb.cap == 0);
	strbuf_free(&sb);	/* twice is fine */
	strbuf_free(NULL);
}

TEST(test_cap)
{
	struct strbuf sb;

	strbuf_init(&sb, 10);
	strbuf_puts(&sb, "0123456789");
	EXPECT(!sb.failed);
	EXPECT_STR(sb.p, "0123456789");
	EXPECT(sb.cap <= 11);
	/* One more byte does not fit: failed, content unchanged. */
	strbuf_puts(&sb, "x");
	EXPECT(sb.failed);
	EXPECT_EQ(sb.len, 10);
	/* Sticky: even an append that would fit now fails. */
	strbuf_reset(&sb);
	EXPECT(!sb.failed);
	strbuf_puts(&sb, "abc");
	strbuf_puts(&sb, "0123456789");
	EXPECT(sb.failed);
	strbuf_puts(&sb, "d");
	strbuf_printf(&sb, "%d", 1);
	strbuf_json_string(&sb, "e", 1);
	strbuf_prom_label(&sb, "f");
	EXPECT(sb.failed);
	EXPECT_EQ(sb.len, 3);
	strbuf_reset(&sb);
	strbuf_puts(&sb, "ok");
	EXPECT(!sb.failed);
	EXPECT_STR(sb.p, "ok");
	strbuf_free(&sb);

	/* A zero cap holds only the empty string. */
	strbuf_init(&sb, 0);
	strbuf_append(&sb, "", 0);
	EXPECT(!sb.failed);
	strbuf_append(&sb, "a", 1);
	EXPECT(sb.failed);
	strbuf_free(&sb);
}

TEST(test_printf)
{
	struct strbuf sb;
	char big[300];

	strbuf_init(&sb, 1000);
	strbuf_printf(&sb, "%s=%d;", "a", 42);
	strbuf_printf(&sb, "%llu", 18446744073709551615ull);
	EXPECT_STR(sb.p, "a=42;18446744073709551615");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	strbuf_printf(&sb, "[%s]", big);
	EXPECT(!sb.failed);
	EXPECT_EQ(sb.len, 25 + 301);
	EXPECT(sb.p[sb.len - 1] == ']');
	/* Does not fit: failed, and nothing half-written. */
	strbuf_printf(&sb, "%s%s%s", big, big, big);
	EXPECT(sb.failed);
	EXPECT_EQ(sb.len, 25 + 301);
	strbuf_free(&sb);
}

TEST(test_json_escapes)
{
	EXPECT_STR(JSON(""), "\"\"");
	EXPECT_STR(JSON("plain text"), "\"plain text\"");
	EXPECT_STR(JSON("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	EXPECT_STR(JSON("\n\r\t"), "\"\\n\\r\\t\"");
	EXPECT_STR(JSON("\x01\x1f\x7f\b\f"), "\"\\u0001\\u001f\\u007f\\u0008\\u000c\"");
	/* NUL inside the range is data, not an end. */
	EXPECT_STR(JSON("a\0b"), "\"a\\u0000b\"");
}

TEST(test_json_utf8)
{
	/* Valid sequences of every length pass through. */
	EXPECT_STR(JSON("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
	EXPECT_STR(JSON("\xe2\x82\xac"), "\"\xe2\x82\xac\"");
	EXPECT_STR(JSON("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
	EXPECT_STR(JSON("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");	/* U+10FFFF */
	EXPECT_STR(JSON("\xed\x9f\xbf"), "\"\xed\x9f\xbf\"");		/* U+D7FF */
	EXPECT_STR(JSON("\xee\x80\x80"), "\"\xee\x80\x80\"");		/* U+E000 */

	/* Overlong forms. */
	EXPECT_STR(JSON("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
	EXPECT_STR(JSON("\xc1\xbf"), "\"\\ufffd\\ufffd\"");
	EXPECT_STR(JSON("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"");
	EXPECT_STR(JSON("\xf0\x80\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* Surrogates U+D800..U+DFFF. */
	EXPECT_STR(JSON("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
	EXPECT_STR(JSON("\xed\xbf\xbf"), "\"\\ufffd\\ufffd\\ufffd\"");
	/* Above U+10FFFF, and lead bytes that cannot start anything. */
	EXPECT_STR(JSON("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	EXPECT_STR(JSON("\xf5\x80\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	EXPECT_STR(JSON("\xff"), "\"\\ufffd\"");
	/* A lone continuation byte. */
	EXPECT_STR(JSON("a\x80z"), "\"a\\ufffdz\"");
	/* A truncated sequence is one replacement (its maximal subpart). */
	EXPECT_STR(JSON("\xe2\x82"), "\"\\ufffd\"");
	EXPECT_STR(JSON("\xe2\x82z"), "\"\\ufffdz\"");
	EXPECT_STR(JSON("\xf0\x9f\x98"), "\"\\ufffd\"");
	EXPECT_STR(JSON("\xf0\x9f\x98\xc3\xa9"), "\"\\ufffd\xc3\xa9\"");
	/* Only n bytes are read, even when the sequence would go on. */
	EXPECT_STR(json("\xc3\xa9", 1), "\"\\ufffd\"");
}

TEST(test_prom_label)
{
	EXPECT_STR(label(""), "");
	EXPECT_STR(label("plain"), "plain");
	EXPECT_STR(label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
	/* Other bytes pass as they are; the format only escapes those three. */
	EXPECT_STR(label("tab\there\r"), "tab\there\r");
	EXPECT_STR(label("caf\xc3\xa9"), "caf\xc3\xa9");
	/* Invalid UTF-8 becomes U+FFFD. */
	EXPECT_STR(label("a\xff" "b"), "a\xef\xbf\xbd" "b");
	EXPECT_STR(label("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	EXPECT_STR(label("\xe2\x82"), "\xef\xbf\xbd");
}

TEST(test_json_cap)
{
	struct strbuf sb;

	/* Escapes count against the cap: "\"\\n\"" is 4 bytes. */
	strbuf_init(&sb, 4);
	strbuf_json_string(&sb, "\n", 1);
	EXPECT(!sb.failed);
	EXPECT_STR(sb.p, "\"\\n\"");
	strbuf_reset(&sb);
	strbuf_json_string(&sb, "\x01", 1);
	EXPECT(sb.failed);
	strbuf_free(&sb);
}

TEST_MAIN(test_append_grow, test_cap, test_printf, test_json_escapes, test_json_utf8,
    test_prom_label, test_json_cap)
