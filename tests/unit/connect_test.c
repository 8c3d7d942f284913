/*
 * Unit tests for the mesh protocol's CONNECT heads (wire/connect.c):
 * curl's real head, incremental feeding, the size and field limits, every
 * error code, and round trips between the formatters and the parsers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/connect.h"
#include "tests/unit/test.h"

#define CURL_HEAD							\
	"CONNECT 127.0.0.1:8080 HTTP/1.1\r\n"				\
	"Host: 127.0.0.1:8080\r\n"					\
	"User-Agent: curl/7.88.1\r\n"					\
	"Proxy-Connection: Keep-Alive\r\n"				\
	"\r\n"
#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TP_HEAD								\
	"CONNECT web.default.svc:443 HTTP/1.1\r\n"			\
	"Host: web.default.svc:443\r\n"					\
	"traceparent: " TP "\r\n"					\
	"\r\n"
#define V6_HEAD "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"
/* The start of a valid head, for cases about the fields. */
#define RL "CONNECT a:1 HTTP/1.1\r\n"

struct tcase {
	const char *s;
	size_t n;
	int err;
};

#define C(str, e) { (str), sizeof(str) - 1, (e) }

static const struct tcase request_cases[] = {
	C(CURL_HEAD, 0),
	C(TP_HEAD, 0),
	C(V6_HEAD, 0),
	C("CONNECT [::ffff:10.0.0.1]:80 HTTP/1.1\r\n\r\n", 0),
	C("CONNECT a:1 HTTP/1.1\r\n\r\n", 0),
	C("CONNECT 10.0.0.1:65535 HTTP/1.1\r\n\r\n", 0),
	C("CONNECT my_host~x.example:1 HTTP/1.1\r\n\r\n", 0),
	C(RL "Host: A:1\r\n\r\n", 0),
	C(RL "Content-Length: 0\r\n\r\n", 0),
	C(RL "X-Empty:\r\n\r\n", 0),
	C(RL "X-Tab:\tv\t \r\n\r\n", 0),
	C(RL "X-Obs: caf\xc3\xa9\r\n\r\n", 0),
	C(RL "traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ext\r\n\r\n",
	    0),

	C("GET / HTTP/1.1\r\n\r\n", CONNECT_E_METHOD),
	C("connect a:1 HTTP/1.1\r\n\r\n", CONNECT_E_METHOD),
	C("CONNECTX a:1 HTTP/1.1\r\n\r\n", CONNECT_E_METHOD),
	C("CONN a:1 HTTP/1.1\r\n\r\n", CONNECT_E_METHOD),
	C("\x16\x03\x01\x02\x00", CONNECT_E_SYNTAX),

	C("CONNECT a HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a:0 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a:65536 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a:+80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a:080 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a:123456 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a: HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT :80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT /index.html HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT http://a:1/ HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT user@a:1 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a%2eb:1 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT [::1 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT [::1]443 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT ::1:443 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT [1.2.3.4]:80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT [fe80::1%25eth0]:80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT [:::]:80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT 127.1:80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT 0x7f.0.0.1:80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT 2130706433:80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT 1.2.3.256:80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT 01.2.3.4:80 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a..b:1 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT .a:1 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a.:1 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT a:1:2 HTTP/1.1\r\n\r\n", CONNECT_E_TARGET),
	C("CONNECT\r\n\r\n", CONNECT_E_TARGET),

	C("CONNECT a:1 HTTP/1.0\r\n\r\n", CONNECT_E_VERSION),
	C("CONNECT a:1 HTTP/2\r\n\r\n", CONNECT_E_VERSION),
	C("CONNECT a:1 http/1.1\r\n\r\n", CONNECT_E_VERSION),
	C("CONNECT a:1 HTTP/1.10\r\n\r\n", CONNECT_E_VERSION),
	C("CONNECT a:1\r\n\r\n", CONNECT_E_VERSION),

	C("CONNECT a:1 HTTP/1.1\n\n", CONNECT_E_SYNTAX),
	C(RL "Host: a:1\n\r\n", CONNECT_E_SYNTAX),
	C(RL "\n", CONNECT_E_SYNTAX),
	C(RL "X: a\rb\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "\r\r\n", CONNECT_E_SYNTAX),
	C("CONNECT  a:1 HTTP/1.1\r\n\r\n", CONNECT_E_SYNTAX),
	C("CONNECT a:1  HTTP/1.1\r\n\r\n", CONNECT_E_SYNTAX),
	C(" CONNECT a:1 HTTP/1.1\r\n\r\n", CONNECT_E_SYNTAX),
	C("CONNECT a:1 HTTP/1.1 \r\n\r\n", CONNECT_E_SYNTAX),
	C("CONNECT\ta:1 HTTP/1.1\r\n\r\n", CONNECT_E_SYNTAX),
	C("\r\nCONNECT a:1 HTTP/1.1\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "X: a\0b\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "X: a\x7f\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "X: a\r\n b\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "X: a\r\n\tb\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL ": x\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "Bad Name: x\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "Host : a:1\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "NoColon\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL "X(y): z\r\n\r\n", CONNECT_E_SYNTAX),
	C(RL " Host: a:1\r\n\r\n", CONNECT_E_SYNTAX),

	C(RL "Host: b:1\r\n\r\n", CONNECT_E_HOST),
	C(RL "Host: a:2\r\n\r\n", CONNECT_E_HOST),
	C(RL "Host: a\r\n\r\n", CONNECT_E_HOST),
	C(RL "Host:\r\n\r\n", CONNECT_E_HOST),
	C(V6_HEAD "Host: [::1]:443\r\n\r\n", 0),	/* the second head is tunnel data */
	C("CONNECT [::1]:443 HTTP/1.1\r\nHost: [0::1]:443\r\n\r\n", CONNECT_E_HOST),

	C(RL "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\r\n\r\n",
	    CONNECT_E_TRACEPARENT),
	C(RL "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n\r\n",
	    CONNECT_E_TRACEPARENT),
	C(RL "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01\r\n\r\n",
	    CONNECT_E_TRACEPARENT),
	C(RL "traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
	    CONNECT_E_TRACEPARENT),
	C(RL "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x\r\n\r\n",
	    CONNECT_E_TRACEPARENT),
	C(RL "traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x\r\n\r\n",
	    CONNECT_E_TRACEPARENT),
	C(RL "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01\r\n\r\n",
	    CONNECT_E_TRACEPARENT),
	C(RL "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01\r\n\r\n",
	    CONNECT_E_TRACEPARENT),
	C(RL "traceparent:\r\n\r\n", CONNECT_E_TRACEPARENT),

	C(RL "Host: a:1\r\nHost: a:1\r\n\r\n", CONNECT_E_DUP),
	C(RL "host: a:1\r\nHOST: b:1\r\n\r\n", CONNECT_E_DUP),
	C(RL "traceparent: " TP "\r\nTraceparent: " TP "\r\n\r\n", CONNECT_E_DUP),

	C(RL "Content-Length: 5\r\n\r\n", CONNECT_E_BODY),
	C(RL "Content-Length: 00\r\n\r\n", CONNECT_E_BODY),
	C(RL "Content-Length:\r\n\r\n", CONNECT_E_BODY),
	C(RL "Transfer-Encoding: chunked\r\n\r\n", CONNECT_E_BODY),
	C(RL "transfer-encoding: identity\r\n\r\n", CONNECT_E_BODY),
};

static const struct tcase status_cases[] = {
	C("HTTP/1.1 200 OK\r\n\r\n", 200),
	C("HTTP/1.1 200\r\n\r\n", 200),
	C("HTTP/1.1 200 \r\n\r\n", 200),
	C("HTTP/1.1 403 Forbidden\r\nx-authd-deny: no\r\nContent-Length: 7\r\n\r\n", 403),
	C("HTTP/1.1 407 Proxy Auth\r\nTransfer-Encoding: chunked\r\n\r\n", 407),
	C("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200),

	C("HTTP/1.0 200 OK\r\n\r\n", CONNECT_E_VERSION),
	C("HTTP/2 200\r\n\r\n", CONNECT_E_VERSION),
	C("HTTP/1.1 20 OK\r\n\r\n", CONNECT_E_SYNTAX),
	C("HTTP/1.1 600 X\r\n\r\n", CONNECT_E_SYNTAX),
	C("HTTP/1.1 2000 X\r\n\r\n", CONNECT_E_SYNTAX),
	C("HTTP/1.1  200 OK\r\n\r\n", CONNECT_E_SYNTAX),
	C("HTTP/1.1 200 OK\n\n", CONNECT_E_SYNTAX),
	C("HTTP/1.1 200 O\x01K\r\n\r\n", CONNECT_E_SYNTAX),
	C("HTTP/1.1 200 OK\r\n folded\r\n\r\n", CONNECT_E_SYNTAX),
	C("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", CONNECT_E_BODY),
	C("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", CONNECT_E_BODY),
	C("HTTP/1.1 403 Forbidden\r\nx-authd-deny: a\r\nX-Authd-Deny: b\r\n\r\n",
	    CONNECT_E_DUP),
	C("HTTP/1.1 403 Forbidden\r\nx-authd-deny: a\r\nx-authd-deny: a\r\n\r\n",
	    CONNECT_E_DUP),
};

/* Every prefix of a head is AGAIN or, once wrong, the same error for good. */
static void
check_prefixes(const struct tcase *tc, int final)
{
	struct connect_req req;
	bool failed = false;

	for (size_t k = 0; k < tc->n; k++) {
		int r = connect_parse((const uint8_t *)tc->s, k, &req);

		if (failed || r != CONNECT_E_AGAIN) {
			failed = true;
			if (r != final)
				TEST__FAIL("case \"%.40s\" prefix %zu: %d, final %d", tc->s, k, r,
				    final);
		}
	}
}

TEST(test_curl)
{
	static const char head[] = CURL_HEAD;
	struct connect_req req;

	EXPECT_OK(connect_parse((const uint8_t *)head, sizeof(head) - 1, &req));
	EXPECT_STR(req.host, "127.0.0.1");
	EXPECT_EQ(req.port, 8080);
	EXPECT_EQ(req.head_len, sizeof(head) - 1);
	EXPECT(!req.has_traceparent);
	EXPECT_STR(req.traceparent, "");
}

TEST(test_traceparent)
{
	static const char head[] = TP_HEAD;
	struct connect_req req;

	EXPECT_OK(connect_parse((const uint8_t *)head, sizeof(head) - 1, &req));
	EXPECT_STR(req.host, "web.default.svc");
	EXPECT_EQ(req.port, 443);
	EXPECT(req.has_traceparent);
	EXPECT_STR(req.traceparent, TP);
	EXPECT_EQ(strlen(req.traceparent), CONNECT_TRACEPARENT_LEN);
}

/* A later version's extra fields are not passed on; its first 55 bytes are. */
TEST(test_traceparent_later_version)
{
	static const char head[] = RL
	    "traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ext\r\n\r\n";
	struct connect_req req;

	EXPECT_OK(connect_parse((const uint8_t *)head, sizeof(head) - 1, &req));
	EXPECT_STR(req.traceparent, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(test_split_every_byte)
{
	static const char *const heads[] = { CURL_HEAD, TP_HEAD, V6_HEAD };
	struct connect_req req;

	for (size_t h = 0; h < AD_ARRAY_LEN(heads); h++) {
		size_t n = strlen(heads[h]);
		/* An exact-size heap copy, so ASan sees any read past len. */
		for (size_t k = 0; k <= n; k++) {
			uint8_t *p = malloc(k ? k : 1);

			REQUIRE(p != NULL);
			memcpy(p, heads[h], k);
			if (k < n)
				EXPECT_ERR(connect_parse(p, k, &req), CONNECT_E_AGAIN);
			else
				EXPECT_OK(connect_parse(p, k, &req));
			free(p);
		}
		EXPECT_EQ(req.head_len, n);
	}
	EXPECT_ERR(connect_parse(NULL, 0, &req), CONNECT_E_AGAIN);
	EXPECT_ERR(connect_parse(NULL, 1, &req), CONNECT_E_INVAL);
	EXPECT_ERR(connect_parse((const uint8_t *)"C", 1, NULL), CONNECT_E_INVAL);
}

TEST(test_tunnel_bytes)
{
	static const char in[] = CURL_HEAD "\x16\x03\x01\x00\x05hello\r\n\r\nGET / HTTP/1.1\r\n";
	static const char head[] = CURL_HEAD;
	struct connect_req req;

	EXPECT_OK(connect_parse((const uint8_t *)in, sizeof(in) - 1, &req));
	EXPECT_EQ(req.head_len, sizeof(head) - 1);
	/* Bytes after the head are never judged, whatever they are. */
	for (size_t k = sizeof(head) - 1; k < sizeof(in) - 1; k++) {
		EXPECT_OK(connect_parse((const uint8_t *)in, k, &req));
		EXPECT_EQ(req.head_len, sizeof(head) - 1);
	}
}

TEST(test_request_table)
{
	struct connect_req req;
	int counts[16] = { 0 };

	for (size_t i = 0; i < AD_ARRAY_LEN(request_cases); i++) {
		const struct tcase *tc = &request_cases[i];
		int r = connect_parse((const uint8_t *)tc->s, tc->n, &req);

		if (r != tc->err)
			TEST__FAIL("case %zu \"%.50s\": %d (%s), expected %d", i, tc->s, r,
			    connect_reason(r), tc->err);
		if (r == 0) {
			EXPECT(req.head_len <= tc->n);
			EXPECT(req.port >= 1);
			EXPECT(req.host[0] != '\0');
		} else {
			EXPECT_EQ(req.head_len, 0);
			EXPECT_EQ(req.host[0], '\0');
		}
		check_prefixes(tc, tc->err);
		if (tc->err <= CONNECT_E_INVAL && tc->err > -1216)
			counts[CONNECT_E_INVAL - tc->err]++;
	}
	/* At least two cases per error the table covers (limits: below). */
	for (int e = CONNECT_E_METHOD; e >= CONNECT_E_BODY; e--)
		if (e != CONNECT_E_HEADERS && counts[CONNECT_E_INVAL - e] < 2)
			TEST__FAIL("only %d cases for %s", counts[CONNECT_E_INVAL - e],
			    connect_reason(e));
}

/* Make a head of exactly n bytes (n >= 64) padded by one field. */
static size_t
make_head(char *out, size_t n, bool end)
{
	static const char rl[] = RL "X-Pad: ";
	size_t k = sizeof(rl) - 1;

	memcpy(out, rl, k);
	memset(out + k, 'p', n - k);
	if (end)
		memcpy(out + n - 4, "\r\n\r\n", 4);
	return n;
}

TEST(test_size_limit)
{
	static char head[CONNECT_HEAD_MAX + 16];
	struct connect_req req;
	size_t n;

	n = make_head(head, CONNECT_HEAD_MAX, true);
	EXPECT_OK(connect_parse((const uint8_t *)head, n, &req));
	EXPECT_EQ(req.head_len, CONNECT_HEAD_MAX);
	EXPECT_ERR(connect_parse((const uint8_t *)head, n - 1, &req), CONNECT_E_AGAIN);

	n = make_head(head, CONNECT_HEAD_MAX + 1, true);
	EXPECT_ERR(connect_parse((const uint8_t *)head, n, &req), CONNECT_E_TOO_BIG);
	EXPECT_ERR(connect_parse((const uint8_t *)head, n - 1, &req), CONNECT_E_TOO_BIG);
	EXPECT_ERR(connect_parse((const uint8_t *)head, n - 2, &req), CONNECT_E_AGAIN);

	/* The final CR fits, its LF does not. */
	n = make_head(head, CONNECT_HEAD_MAX + 1, true);
	EXPECT_ERR(connect_parse((const uint8_t *)head, CONNECT_HEAD_MAX, &req),
	    CONNECT_E_TOO_BIG);

	/* No end at all. */
	n = make_head(head, sizeof(head), false);
	EXPECT_ERR(connect_parse((const uint8_t *)head, n, &req), CONNECT_E_TOO_BIG);
	EXPECT_ERR(connect_parse((const uint8_t *)head, CONNECT_HEAD_MAX, &req),
	    CONNECT_E_TOO_BIG);
	EXPECT_ERR(connect_parse((const uint8_t *)head, CONNECT_HEAD_MAX - 1, &req),
	    CONNECT_E_AGAIN);

	/* A violation inside the limit wins over the size. */
	head[30] = '\x01';
	EXPECT_ERR(connect_parse((const uint8_t *)head, n, &req), CONNECT_E_SYNTAX);
}

static size_t
make_fields(char *out, size_t size, int nfields)
{
	size_t n = 0;

	n += (size_t)snprintf(out + n, size - n, "%s", RL);
	for (int i = 0; i < nfields; i++)
		n += (size_t)snprintf(out + n, size - n, "X-F%d: %d\r\n", i, i);
	n += (size_t)snprintf(out + n, size - n, "\r\n");
	return n;
}

TEST(test_header_count)
{
	static char head[4096];
	struct connect_req req;
	size_t n;

	n = make_fields(head, sizeof(head), CONNECT_HEADERS_MAX);
	EXPECT_OK(connect_parse((const uint8_t *)head, n, &req));
	EXPECT_EQ(req.head_len, n);

	n = make_fields(head, sizeof(head), CONNECT_HEADERS_MAX + 1);
	EXPECT_ERR(connect_parse((const uint8_t *)head, n, &req), CONNECT_E_HEADERS);
	/* Known as soon as the 65th field's first byte arrives. */
	n -= 2 + strlen("X-F64: 64\r\n");
	EXPECT_ERR(connect_parse((const uint8_t *)head, n + 1, &req), CONNECT_E_HEADERS);
	EXPECT_ERR(connect_parse((const uint8_t *)head, n, &req), CONNECT_E_AGAIN);

	n = make_fields(head, sizeof(head), 200);
	EXPECT_ERR(connect_parse((const uint8_t *)head, n, &req), CONNECT_E_HEADERS);
}

TEST(test_ipv6)
{
	static const char head[] = V6_HEAD;
	static const char mapped[] = "CONNECT [2001:DB8::a]:8443 HTTP/1.1\r\n"
	    "host: [2001:db8::A]:8443\r\n\r\n";
	struct connect_req req;

	EXPECT_OK(connect_parse((const uint8_t *)head, sizeof(head) - 1, &req));
	EXPECT_STR(req.host, "::1");
	EXPECT_EQ(req.port, 443);
	EXPECT_OK(connect_parse((const uint8_t *)mapped, sizeof(mapped) - 1, &req));
	EXPECT_STR(req.host, "2001:DB8::a");
	EXPECT_EQ(req.port, 8443);
}

TEST(test_case_insensitive_names)
{
	static const char head[] = "CONNECT Web.Example:80 HTTP/1.1\r\n"
	    "hOsT: web.EXAMPLE:80\r\n"
	    "TRACEPARENT: " TP "\r\n"
	    "content-LENGTH: 0\r\n\r\n";
	static const char dup[] = RL "Traceparent: " TP "\r\ntraceparent: " TP "\r\n\r\n";
	struct connect_req req;

	EXPECT_OK(connect_parse((const uint8_t *)head, sizeof(head) - 1, &req));
	EXPECT_STR(req.host, "Web.Example");
	EXPECT_STR(req.traceparent, TP);
	EXPECT_ERR(connect_parse((const uint8_t *)dup, sizeof(dup) - 1, &req), CONNECT_E_DUP);
}

TEST(test_request_roundtrip)
{
	static const struct {
		const char *host;
		uint16_t port;
		const char *tp;
	} ok[] = {
		{ "127.0.0.1", 8080, NULL },
		{ "::1", 443, TP },
		{ "web.default.svc.cluster.local", 1, NULL },
		{ "a", 65535, TP },
		{ "fe80::1:2", 22, NULL },
	};
	static const char *const bad[] = {
		"", "[::1]", "a b", "a:b", "127.1", "a..b", "x\r\nHost: evil", "h@x",
	};
	char buf[512], want[300];
	struct connect_req req;
	size_t len;

	for (size_t i = 0; i < AD_ARRAY_LEN(ok); i++) {
		EXPECT_OK(connect_request(buf, sizeof(buf), ok[i].host, ok[i].port, ok[i].tp,
		    &len));
		EXPECT_EQ(strlen(buf), len);
		EXPECT_OK(connect_parse((const uint8_t *)buf, len, &req));
		EXPECT_EQ(req.head_len, len);
		EXPECT_STR(req.host, ok[i].host);
		EXPECT_EQ(req.port, ok[i].port);
		EXPECT_EQ(req.has_traceparent, ok[i].tp != NULL);
		if (ok[i].tp != NULL)
			EXPECT_STR(req.traceparent, ok[i].tp);
	}
	EXPECT_OK(connect_request(buf, sizeof(buf), "::1", 443, NULL, &len));
	EXPECT_STR(buf, "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n");
	(void)snprintf(want, sizeof(want), "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n"
	    "traceparent: %s\r\n\r\n", TP);
	EXPECT_OK(connect_request(buf, sizeof(buf), "a", 1, TP, &len));
	EXPECT_STR(buf, want);

	for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++)
		EXPECT_ERR(connect_request(buf, sizeof(buf), bad[i], 80, NULL, &len), -EINVAL);
	EXPECT_ERR(connect_request(buf, sizeof(buf), "a", 0, NULL, &len), -EINVAL);
	EXPECT_ERR(connect_request(buf, sizeof(buf), "a", 1, "00-00", &len), -EINVAL);
	EXPECT_ERR(connect_request(buf, sizeof(buf), NULL, 1, NULL, &len), -EINVAL);
	/* "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n" is 35 bytes, plus the NUL. */
	EXPECT_ERR(connect_request(buf, 35, "a", 1, NULL, &len), -ENOSPC);
	EXPECT_EQ(len, 0);
	EXPECT_OK(connect_request(buf, 36, "a", 1, NULL, &len));
	EXPECT_EQ(len, 35);
}

TEST(test_response_roundtrip)
{
	static const int statuses[] = { 200, 400, 403, 408, 503 };
	char buf[1024], reason[64];
	size_t len, hl;
	int status;

	EXPECT_OK(connect_response(buf, sizeof(buf), 200, NULL, &len));
	EXPECT_STR(buf, "HTTP/1.1 200 OK\r\n\r\n");
	EXPECT_OK(connect_response(buf, sizeof(buf), 403, "policy-deny", &len));
	EXPECT_STR(buf, "HTTP/1.1 403 Forbidden\r\nx-authd-deny: policy-deny\r\n"
	    "content-length: 0\r\nconnection: close\r\n\r\n");

	for (size_t i = 0; i < AD_ARRAY_LEN(statuses); i++) {
		EXPECT_OK(connect_response(buf, sizeof(buf), statuses[i], "some reason", &len));
		EXPECT_EQ(strlen(buf), len);
		EXPECT_OK(connect_status((const uint8_t *)buf, len, &status, &hl, reason,
		    sizeof(reason)));
		EXPECT_EQ(status, statuses[i]);
		EXPECT_EQ(hl, len);
		EXPECT_STR(reason, statuses[i] == 200 ? "" : "some reason");
		for (size_t k = 0; k < len; k++)
			EXPECT_ERR(connect_status((const uint8_t *)buf, k, &status, &hl, reason,
			    sizeof(reason)), CONNECT_E_AGAIN);
	}
	/* No reason, or a blank one: no header. */
	EXPECT_OK(connect_response(buf, sizeof(buf), 503, NULL, &len));
	EXPECT(strstr(buf, "x-authd-deny") == NULL);
	EXPECT_OK(connect_response(buf, sizeof(buf), 503, " \r\n ", &len));
	EXPECT(strstr(buf, "x-authd-deny") == NULL);

	EXPECT_ERR(connect_response(buf, sizeof(buf), 302, "x", &len), -EINVAL);
	EXPECT_ERR(connect_response(buf, sizeof(buf), 0, NULL, &len), -EINVAL);
	EXPECT_ERR(connect_response(buf, 19, 200, NULL, &len), -ENOSPC);
	EXPECT_OK(connect_response(buf, 20, 200, NULL, &len));
	EXPECT_EQ(len, 19);
	EXPECT_ERR(connect_response(NULL, 0, 200, NULL, &len), -EINVAL);
}

TEST(test_reason_sanitise)
{
	char buf[2048], reason[CONNECT_REASON_MAX + 8], longr[700];
	size_t len, hl;
	int status;

	EXPECT_OK(connect_response(buf, sizeof(buf), 403, "denied\r\nSet-Cookie: x", &len));
	EXPECT(strstr(buf, "\r\nSet-Cookie") == NULL);
	EXPECT(strstr(buf, "\nSet-Cookie") == NULL);
	EXPECT_STR(buf, "HTTP/1.1 403 Forbidden\r\nx-authd-deny: denied  Set-Cookie: x\r\n"
	    "content-length: 0\r\nconnection: close\r\n\r\n");
	EXPECT_OK(connect_status((const uint8_t *)buf, len, &status, &hl, reason,
	    sizeof(reason)));
	EXPECT_STR(reason, "denied  Set-Cookie: x");

	EXPECT_OK(connect_response(buf, sizeof(buf), 403, "a\0b", &len));
	EXPECT(strstr(buf, "x-authd-deny: a\r\n") != NULL);
	EXPECT_OK(connect_response(buf, sizeof(buf), 400, "\x01tab\there\x7f\xff", &len));
	EXPECT(strstr(buf, "x-authd-deny: tab here\r\n") != NULL);

	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	EXPECT_OK(connect_response(buf, sizeof(buf), 403, longr, &len));
	EXPECT_OK(connect_status((const uint8_t *)buf, len, &status, &hl, reason,
	    sizeof(reason)));
	EXPECT_EQ(strlen(reason), CONNECT_REASON_MAX);

	/* The client side cuts to its buffer and cleans what it is given. */
	EXPECT_OK(connect_status((const uint8_t *)buf, len, &status, &hl, reason, 4));
	EXPECT_STR(reason, "rrr");
	{
		static const char in[] = "HTTP/1.1 403 Forbidden\r\nx-authd-deny:  a\tb\xc3\xa9 \r\n\r\n";

		EXPECT_OK(connect_status((const uint8_t *)in, sizeof(in) - 1, &status, &hl,
		    reason, sizeof(reason)));
		EXPECT_STR(reason, "a b");
		EXPECT_OK(connect_status((const uint8_t *)in, sizeof(in) - 1, &status, &hl,
		    NULL, 0));
		EXPECT_EQ(status, 403);
	}
}

TEST(test_status_table)
{
	char reason[32];
	size_t hl;
	int status;

	for (size_t i = 0; i < AD_ARRAY_LEN(status_cases); i++) {
		const struct tcase *tc = &status_cases[i];
		int want = tc->err > 0 ? 0 : tc->err;
		int r = connect_status((const uint8_t *)tc->s, tc->n, &status, &hl, reason,
		    sizeof(reason));

		if (r != want)
			TEST__FAIL("case %zu \"%.40s\": %d, expected %d", i, tc->s, r, want);
		if (want == 0) {
			EXPECT_EQ(status, tc->err);
			EXPECT_EQ(hl, tc->n);
		} else {
			EXPECT_EQ(status, 0);
			EXPECT_EQ(hl, 0);
			EXPECT_STR(reason, "");
		}
		/* Prefixes: AGAIN, or the final error. */
		for (size_t k = 0; k < tc->n; k++) {
			r = connect_status((const uint8_t *)tc->s, k, &status, &hl, reason,
			    sizeof(reason));
			if (r != CONNECT_E_AGAIN && r != want)
				TEST__FAIL("case %zu prefix %zu: %d", i, k, r);
		}
	}
	EXPECT_ERR(connect_status(NULL, 0, &status, &hl, NULL, 0), CONNECT_E_AGAIN);
	EXPECT_ERR(connect_status((const uint8_t *)"H", 1, NULL, &hl, NULL, 0),
	    CONNECT_E_INVAL);
}

TEST(test_strerror)
{
	for (int e = CONNECT_E_INVAL; e >= CONNECT_E_BODY; e--) {
		EXPECT(strcmp(connect_strerror(e), "unknown error") != 0);
		EXPECT(strcmp(connect_reason(e), "error") != 0);
		for (int f = e - 1; f >= CONNECT_E_BODY; f--)
			EXPECT(strcmp(connect_reason(e), connect_reason(f)) != 0);
	}
	EXPECT_STR(connect_reason(CONNECT_E_TOO_BIG), "too-big");
	EXPECT_STR(connect_reason(CONNECT_E_METHOD), "method");
	EXPECT_STR(connect_reason(0), "ok");
	EXPECT_STR(connect_strerror(-ENOSPC), strerror(ENOSPC));
	EXPECT_STR(connect_strerror(-99999), "unknown error");
}

TEST_MAIN(test_curl, test_traceparent, test_traceparent_later_version, test_split_every_byte,
    test_tunnel_bytes, test_request_table, test_size_limit, test_header_count, test_ipv6,
    test_case_insensitive_names, test_request_roundtrip, test_response_roundtrip,
    test_reason_sanitise, test_status_table, test_strerror)
