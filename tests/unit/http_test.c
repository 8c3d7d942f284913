/*
 * Unit tests for the admin server's HTTP (wire/http.c): real client
 * heads (curl, Prometheus), every error code, the size limits, prefix
 * stability (every prefix of every case, and random cuts of random
 * mutations, either ask for more or fail exactly as the whole head), and
 * the response writer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/http.h"
#include "common/strbuf.h"
#include "tests/unit/test.h"

#define CURL_HEAD							\
	"GET /metrics HTTP/1.1\r\n"					\
	"Host: 127.0.0.1:15000\r\n"					\
	"User-Agent: curl/7.88.1\r\n"					\
	"Accept: */*\r\n"						\
	"\r\n"
#define PROM_HEAD							\
	"GET /metrics HTTP/1.1\r\n"					\
	"Host: 10.0.0.7:15000\r\n"					\
	"User-Agent: Prometheus/2.42.0\r\n"				\
	"Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;" \
	"version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n" \
	"Accept-Encoding: gzip\r\n"					\
	"X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"			\
	"\r\n"
#define H11 " HTTP/1.1\r\nHost: localhost\r\n"

struct tcase {
	const char *s;
	size_t n;
	int err;
};

#define C(str, e) { (str), sizeof(str) - 1, (e) }

static const struct tcase cases[] = {
	C(CURL_HEAD, 0),
	C(PROM_HEAD, 0),
	C("GET / HTTP/1.0\r\n\r\n", 0),
	C("HEAD /healthz HTTP/1.0\r\n\r\n", 0),
	C("GET /healthz" H11 "\r\n", 0),
	C("GET /a/b/c?x=1&y=%20/?" H11 "\r\n", 0),
	C("GET /%7Ehome/%41%aF" H11 "\r\n", 0),
	C("GET /-._~!$&'()*+,;=:@" H11 "\r\n", 0),
	C("GET /" H11 "Content-Length: 0\r\n\r\n", 0),
	C("GET /" H11 "X-Empty:\r\n\r\n", 0),
	C("GET /" H11 "X-Tab:\tv\t \r\n\r\n", 0),
	C("GET /" H11 "X-Obs: caf\xc3\xa9\r\n\r\n", 0),
	C("GET / HTTP/1.1\r\nhOsT:\r\n\r\n", 0),

	/* 405: anything but GET and HEAD, judged as soon as it differs. */
	C("POST / HTTP/1.1\r\n\r\n", HTTP_E_METHOD),
	C("PUT / HTTP/1.1\r\n\r\n", HTTP_E_METHOD),
	C("get / HTTP/1.1\r\n\r\n", HTTP_E_METHOD),
	C("GETS / HTTP/1.1\r\n\r\n", HTTP_E_METHOD),
	C("GE / HTTP/1.1\r\n\r\n", HTTP_E_METHOD),
	C("HEA / HTTP/1.1\r\n\r\n", HTTP_E_METHOD),
	C("HEADER / HTTP/1.1\r\n\r\n", HTTP_E_METHOD),
	C("CONNECT a:1 HTTP/1.1\r\n\r\n", HTTP_E_METHOD),
	C("\x16\x03\x01\x02\x00", HTTP_E_SYNTAX),

	/* 400: framing and syntax. */
	C("\r\n", HTTP_E_SYNTAX),
	C("\r\nGET / HTTP/1.0\r\n\r\n", HTTP_E_SYNTAX),
	C(" GET / HTTP/1.0\r\n\r\n", HTTP_E_SYNTAX),
	C("GET  / HTTP/1.0\r\n\r\n", HTTP_E_SYNTAX),
	C("GET\t/ HTTP/1.0\r\n\r\n", HTTP_E_SYNTAX),
	C("GET\r\n\r\n", HTTP_E_SYNTAX),
	C("GET / HTTP/1.0 \r\n\r\n", HTTP_E_SYNTAX),
	C("GET /  HTTP/1.0\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /\x01 HTTP/1.0\r\n\r\n", HTTP_E_SYNTAX),
	C("GET / HTTP/1.0\n\n", HTTP_E_SYNTAX),
	C("GET / HTTP/1.0\r\r\n", HTTP_E_SYNTAX),
	C("GET / HTTP/1.0\r\n\n", HTTP_E_SYNTAX),
	C("GET / HTTP/1.0\r\nX: a\nY: b\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 " X: obs-fold\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 "X : space\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 ": no name\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 "No colon\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 "Na(me: v\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 "X: a\x01" "b\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 "X: a\x7f\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 "X: a\0b\r\n\r\n", HTTP_E_SYNTAX),
	/* HTTP/1.1 needs exactly one Host (RFC 9112 section 3.2). */
	C("GET / HTTP/1.1\r\n\r\n", HTTP_E_SYNTAX),
	C("GET / HTTP/1.1\r\nX: y\r\n\r\n", HTTP_E_SYNTAX),
	C("GET /" H11 "Host: b\r\n\r\n", HTTP_E_SYNTAX),

	/* 400: the target. */
	C("GET * HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET http://a/ HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET a:80 HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /a b HTTP/1.1\r\n\r\n", HTTP_E_VERSION),
	C("GET /a\"b HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /a<b> HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /a#frag HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /a\\b HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /%zz HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /%4 HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /% HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /%4g HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /?a{b} HTTP/1.1\r\n\r\n", HTTP_E_TARGET),
	C("GET /?%g0 HTTP/1.1\r\n\r\n", HTTP_E_TARGET),

	/* 505 */
	C("GET / HTTP/1.2\r\n\r\n", HTTP_E_VERSION),
	C("GET / HTTP/2.0\r\n\r\n", HTTP_E_VERSION),
	C("GET / HTTP/2\r\n\r\n", HTTP_E_VERSION),
	C("GET / HTTP/0.9\r\n\r\n", HTTP_E_VERSION),
	C("GET / http/1.1\r\n\r\n", HTTP_E_VERSION),
	C("GET / HTTP/1.10\r\n\r\n", HTTP_E_VERSION),
	C("GET / HTTP/1.\r\n\r\n", HTTP_E_VERSION),
	C("GET / HTTP\r\n\r\n", HTTP_E_VERSION),
	C("GET /\r\n\r\n", HTTP_E_VERSION),
	C("GET / FOO\r\n\r\n", HTTP_E_VERSION),

	/* 400: a body. */
	C("GET /" H11 "Content-Length: 1\r\n\r\n", HTTP_E_BODY),
	C("GET /" H11 "content-length: 00\r\n\r\n", HTTP_E_BODY),
	C("GET /" H11 "Content-Length: -0\r\n\r\n", HTTP_E_BODY),
	C("GET /" H11 "Content-Length: 0, 0\r\n\r\n", HTTP_E_BODY),
	C("GET /" H11 "Transfer-Encoding: chunked\r\n\r\n", HTTP_E_BODY),
	C("HEAD / HTTP/1.0\r\nTRANSFER-ENCODING: identity\r\n\r\n", HTTP_E_BODY),
};

/* Every prefix of a head is AGAIN or, once wrong, the same error for good. */
static void
check_prefixes(const uint8_t *s, size_t n, int final, const char *what)
{
	struct http_request req;
	bool failed = false;

	for (size_t k = 0; k <= n; k++) {
		int r = http_parse_request(s, k, &req);

		if (failed || r != HTTP_E_AGAIN) {
			failed = true;
			if (r != final)
				TEST__FAIL("%s: prefix %zu of %zu: %d, final %d", what, k, n, r, final);
		}
	}
}

TEST(test_cases)
{
	struct http_request req;

	for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
		const struct tcase *tc = &cases[i];
		int r = http_parse_request((const uint8_t *)tc->s, tc->n, &req);

		if (r != tc->err)
			TEST__FAIL("case %zu \"%.40s\": %d, expected %d", i, tc->s, r, tc->err);
		if (r == 0 && req.head_len != tc->n)
			TEST__FAIL("case %zu: head_len %zu of %zu", i, req.head_len, tc->n);
		if (r != 0 && (req.head_len != 0 || req.path[0] != '\0'))
			TEST__FAIL("case %zu: request not zeroed on error", i);
		check_prefixes((const uint8_t *)tc->s, tc->n, tc->err, tc->s);
	}
}

TEST(test_fields)
{
	struct http_request req;
	static const char head[] = "HEAD /a/b%20c?q=1&r=2 HTTP/1.0\r\n\r\nGET /next HTTP/1.1";

	EXPECT_OK(http_parse_request((const uint8_t *)CURL_HEAD, sizeof(CURL_HEAD) - 1, &req));
	EXPECT(!req.head);
	EXPECT_EQ(req.minor, 1);
	EXPECT_STR(req.path, "/metrics");
	EXPECT_EQ(req.path_len, 8);
	EXPECT(!req.has_query);

	/* Bytes after the head (a pipelined request) are not looked at. */
	EXPECT_OK(http_parse_request((const uint8_t *)head, sizeof(head) - 1, &req));
	EXPECT(req.head);
	EXPECT_EQ(req.minor, 0);
	EXPECT_STR(req.path, "/a/b%20c");
	EXPECT(req.has_query);
	EXPECT_EQ(req.head_len, 34);
}

TEST(test_limits)
{
	char path[HTTP_PATH_MAX + 2];
	uint8_t *big = malloc(HTTP_HEAD_MAX + 100);
	struct strbuf sb;
	struct http_request req;
	size_t n;

	REQUIRE(big != NULL);
	/* A path of exactly HTTP_PATH_MAX bytes, and one more. */
	path[0] = '/';
	memset(path + 1, 'p', HTTP_PATH_MAX - 1);
	path[HTTP_PATH_MAX] = '\0';
	strbuf_init(&sb, HTTP_HEAD_MAX * 2);
	strbuf_printf(&sb, "GET %s?%s HTTP/1.0\r\n\r\n", path, path);
	EXPECT_OK(http_parse_request((const uint8_t *)sb.p, sb.len, &req));
	EXPECT_EQ(req.path_len, HTTP_PATH_MAX);
	EXPECT(memcmp(req.path, path, HTTP_PATH_MAX + 1) == 0);
	strbuf_reset(&sb);
	strbuf_printf(&sb, "GET %sp HTTP/1.0\r\n\r\n", path);
	EXPECT_ERR(http_parse_request((const uint8_t *)sb.p, sb.len, &req), HTTP_E_TARGET);
	check_prefixes((const uint8_t *)sb.p, sb.len, HTTP_E_TARGET, "long path");
	/* Escapes count as their three bytes. */
	strbuf_reset(&sb);
	strbuf_printf(&sb, "GET %.*s%%41 HTTP/1.0\r\n\r\n", HTTP_PATH_MAX - 2, path);
	EXPECT_ERR(http_parse_request((const uint8_t *)sb.p, sb.len, &req), HTTP_E_TARGET);
	strbuf_free(&sb);

	/* A head of exactly HTTP_HEAD_MAX bytes is fine; one more is too big. */
	memcpy(big, "GET / HTTP/1.0\r\nX: ", 19);
	n = HTTP_HEAD_MAX - 4;
	memset(big + 19, 'v', n - 19);
	memcpy(big + n, "\r\n\r\n", 4);
	EXPECT_OK(http_parse_request(big, HTTP_HEAD_MAX, &req));
	EXPECT_EQ(req.head_len, HTTP_HEAD_MAX);
	memcpy(big + n, "v\r\n\r\n", 5);
	EXPECT_ERR(http_parse_request(big, HTTP_HEAD_MAX + 1, &req), HTTP_E_TOO_BIG);
	EXPECT_ERR(http_parse_request(big, HTTP_HEAD_MAX, &req), HTTP_E_TOO_BIG);
	EXPECT_ERR(http_parse_request(big, HTTP_HEAD_MAX - 1, &req), HTTP_E_AGAIN);
	/* A syntax error inside the first HTTP_HEAD_MAX bytes wins over the size. */
	big[100] = '\x01';
	EXPECT_ERR(http_parse_request(big, HTTP_HEAD_MAX + 1, &req), HTTP_E_SYNTAX);
	free(big);
}

TEST(test_args)
{
	struct http_request req;

	EXPECT_ERR(http_parse_request(NULL, 0, &req), HTTP_E_AGAIN);
	EXPECT_ERR(http_parse_request(NULL, 5, &req), HTTP_E_INVAL);
	EXPECT_ERR(http_parse_request((const uint8_t *)"GET", 3, NULL), HTTP_E_INVAL);
}

/* xorshift64: a fixed seed, so the test is the same every run. */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

TEST(test_random_prefixes)
{
	static const char alphabet[] = "GETHAD /%?:aZ0\r\n\t\x01\x80HTP1.";
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint8_t buf[256];

	for (int iter = 0; iter < 20000; iter++) {
		const struct tcase *tc = &cases[next_rand(&seed) % AD_ARRAY_LEN(cases)];
		size_t n = tc->n < sizeof(buf) ? tc->n : sizeof(buf);
		struct http_request req, cut;
		int full, r;
		size_t k;

		memcpy(buf, tc->s, n);
		/* Mutate up to three bytes of a known case. */
		for (int j = (int)(next_rand(&seed) % 4); j > 0 && n > 0; j--)
			buf[next_rand(&seed) % n] =
			    (uint8_t)alphabet[next_rand(&seed) % (sizeof(alphabet) - 1)];
		full = http_parse_request(buf, n, &req);
		k = n > 0 ? next_rand(&seed) % (n + 1) : 0;
		r = http_parse_request(buf, k, &cut);
		if (r != HTTP_E_AGAIN && r != full)
			TEST__FAIL("iteration %d: prefix %zu of %zu gives %d, whole %d", iter, k,
			    n, r, full);
		if (r == 0 && (cut.head_len != req.head_len || strcmp(cut.path, req.path) != 0))
			TEST__FAIL("iteration %d: prefix parses differently", iter);
	}
}

TEST(test_errors)
{
	EXPECT_EQ(http_error_status(HTTP_E_TOO_BIG), 431);
	EXPECT_EQ(http_error_status(HTTP_E_METHOD), 405);
	EXPECT_EQ(http_error_status(HTTP_E_SYNTAX), 400);
	EXPECT_EQ(http_error_status(HTTP_E_TARGET), 400);
	EXPECT_EQ(http_error_status(HTTP_E_BODY), 400);
	EXPECT_EQ(http_error_status(HTTP_E_VERSION), 505);
	EXPECT_EQ(http_error_status(-1), 500);
	EXPECT_STR(http_reason(HTTP_E_TOO_BIG), "too-big");
	EXPECT_STR(http_reason(0), "ok");
	EXPECT_STR(http_reason(12345), "error");
	EXPECT_STR(http_strerror(HTTP_E_METHOD), "method is not GET or HEAD");
	EXPECT_STR(http_strerror(-ENOMEM), "Cannot allocate memory");
	EXPECT_STR(http_strerror(0), "success");
}

TEST(test_response)
{
	struct strbuf sb;

	strbuf_init(&sb, 1024);
	EXPECT_OK(http_response(&sb, 200, "text/plain; charset=utf-8", "ok\n", 3, false));
	EXPECT_STR(sb.p, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 3\r\n"
	    "Cache-Control: no-store\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "ok\n");

	/* HEAD: the same head, announcing the body it leaves out. */
	strbuf_reset(&sb);
	EXPECT_OK(http_response(&sb, 200, "text/plain; charset=utf-8", "ok\n", 3, true));
	EXPECT_STR(sb.p, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 3\r\n"
	    "Cache-Control: no-store\r\n"
	    "Connection: close\r\n"
	    "\r\n");

	strbuf_reset(&sb);
	EXPECT_OK(http_response(&sb, 405, NULL, NULL, 0, false));
	EXPECT_STR(sb.p, "HTTP/1.1 405 Method Not Allowed\r\n"
	    "Content-Length: 0\r\n"
	    "Allow: GET, HEAD\r\n"
	    "Cache-Control: no-store\r\n"
	    "Connection: close\r\n"
	    "\r\n");

	/* A body with a NUL is sent as it is: the length says where it ends. */
	strbuf_reset(&sb);
	EXPECT_OK(http_response(&sb, 503, "application/json", "a\0b", 3, false));
	EXPECT_EQ(sb.len, strlen(sb.p) + 2);
	EXPECT(memcmp(sb.p + sb.len - 3, "a\0b", 3) == 0);

	static const int statuses[] = { 200, 400, 404, 405, 408, 431, 500, 503, 505 };
	for (size_t i = 0; i < AD_ARRAY_LEN(statuses); i++) {
		strbuf_reset(&sb);
		EXPECT_OK(http_response(&sb, statuses[i], NULL, "", 0, false));
	}

	/* Refused: nothing is appended. */
	strbuf_reset(&sb);
	EXPECT_ERR(http_response(&sb, 302, NULL, "", 0, false), -EINVAL);
	EXPECT_ERR(http_response(&sb, 200, "text/plain\r\nSet-Cookie: x=1", "", 0, false),
	    -EINVAL);
	EXPECT_ERR(http_response(&sb, 200, NULL, NULL, 1, false), -EINVAL);
	EXPECT_ERR(http_response(NULL, 200, NULL, NULL, 0, false), -EINVAL);
	EXPECT_EQ(sb.len, 0);
	strbuf_free(&sb);

	/* Too big for the buffer: -ENOSPC. */
	strbuf_init(&sb, 40);
	EXPECT_ERR(http_response(&sb, 200, NULL, "x", 1, false), -ENOSPC);
	strbuf_free(&sb);
}

TEST_MAIN(test_cases, test_fields, test_limits, test_args, test_random_prefixes, test_errors,
    test_response)
