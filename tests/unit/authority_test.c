/*
 * Unit tests for common/authority.c: the host:port of a CONNECT target,
 * which the mesh parser (wire/connect.c) and the workload checks
 * (policy/workload.c) share. Pure functions.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/authority.h"
#include "tests/unit/test.h"

struct case_ {
	const char *in;
	const char *host;	/* NULL: must be refused */
	uint16_t port;
};

static const struct case_ cases[] = {
	{ "db:5432", "db", 5432 },
	{ "db.shop.svc.cluster.local:80", "db.shop.svc.cluster.local", 80 },
	{ "127.0.0.1:1", "127.0.0.1", 1 },
	{ "[::1]:65535", "::1", 65535 },
	{ "[2001:db8::7]:443", "2001:db8::7", 443 },
	{ "a_b~c-d:9", "a_b~c-d", 9 },
	{ "web1:8080", "web1", 8080 },

	{ "", NULL, 0 },
	{ ":80", NULL, 0 },			/* no host */
	{ "db", NULL, 0 },			/* no port */
	{ "db:", NULL, 0 },
	{ "db:0", NULL, 0 },			/* port 0 */
	{ "db:65536", NULL, 0 },
	{ "db:080", NULL, 0 },			/* leading zero */
	{ "db:+80", NULL, 0 },
	{ "db:80x", NULL, 0 },			/* trailing bytes */
	{ "db:123456", NULL, 0 },
	{ "db..x:80", NULL, 0 },		/* empty label */
	{ ".db:80", NULL, 0 },
	{ "db.:80", NULL, 0 },
	{ "127.1:80", NULL, 0 },		/* a resolver reads it as 127.0.0.1 */
	{ "0x7f.1:80", NULL, 0 },
	{ "10.0.0.256:80", NULL, 0 },
	{ "010.0.0.1:80", NULL, 0 },		/* octal to inet_aton */
	{ "2130706433:80", NULL, 0 },		/* a number is an address */
	{ "[::1:80", NULL, 0 },
	{ "[zz::1]:80", NULL, 0 },
	{ "[]:80", NULL, 0 },
	{ "db%41:80", NULL, 0 },		/* no percent-encoding */
	{ "user@db:80", NULL, 0 },
	{ "db:80:80", NULL, 0 },
};

TEST(parse)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
		char host[AUTHORITY_HOST_MAX + 1] = "untouched";
		uint16_t port = 7;
		int r = authority_parse((const uint8_t *)cases[i].in, strlen(cases[i].in), host, &port);

		if (cases[i].host == NULL) {
			EXPECT_EQ(r, -EINVAL);
			EXPECT_STR(host, "untouched");
			EXPECT_EQ(port, 7);
		} else {
			EXPECT_EQ(r, 0);
			EXPECT_STR(host, cases[i].host);
			EXPECT_EQ(port, cases[i].port);
		}
	}
}

TEST(label_and_name_bounds)
{
	char in[AUTHORITY_MAX + 8], host[AUTHORITY_HOST_MAX + 1];
	uint16_t port;

	/* A 63-byte label is the most; 64 is refused. */
	memset(in, 'a', 63);
	memcpy(in + 63, ":1", 3);
	EXPECT_OK(authority_parse((const uint8_t *)in, strlen(in), host, &port));
	memset(in, 'a', 64);
	memcpy(in + 64, ":1", 3);
	EXPECT_ERR(authority_parse((const uint8_t *)in, strlen(in), host, &port), -EINVAL);
	/* 255 bytes of name in labels of 63 is the most; 256 is refused. */
	for (size_t i = 0; i < 255; i++)
		in[i] = i % 64 == 63 ? '.' : 'b';
	memcpy(in + 255, ":1", 3);
	EXPECT_OK(authority_parse((const uint8_t *)in, strlen(in), host, &port));
	EXPECT_EQ(strlen(host), 255);
	in[255] = 'b';
	memcpy(in + 256, ":1", 3);
	EXPECT_ERR(authority_parse((const uint8_t *)in, strlen(in), host, &port), -EINVAL);
}

TEST(format_round_trips)
{
	char out[AUTHORITY_MAX + 1], host[AUTHORITY_HOST_MAX + 1];
	uint16_t port;
	size_t len;

	EXPECT_OK(authority_format("db", 5432, out, sizeof(out), &len));
	EXPECT_STR(out, "db:5432");
	EXPECT_EQ(len, strlen("db:5432"));
	EXPECT_OK(authority_format("::1", 8, out, sizeof(out), &len));
	EXPECT_STR(out, "[::1]:8");
	EXPECT_OK(authority_parse((const uint8_t *)out, len, host, &port));
	EXPECT_STR(host, "::1");
	EXPECT_EQ(port, 8);
	EXPECT_OK(authority_format("10.1.2.3", 65535, out, sizeof(out), &len));
	EXPECT_STR(out, "10.1.2.3:65535");
}

TEST(format_refuses_what_a_peer_would)
{
	char out[AUTHORITY_MAX + 1];
	size_t len = 99;

	EXPECT_ERR(authority_format("", 80, out, sizeof(out), &len), -EINVAL);
	EXPECT_EQ(len, 0);
	EXPECT_ERR(authority_format("db", 0, out, sizeof(out), &len), -EINVAL);
	EXPECT_ERR(authority_format("127.1", 80, out, sizeof(out), &len), -EINVAL);
	EXPECT_ERR(authority_format("db:80", 80, out, sizeof(out), &len), -EINVAL);
	EXPECT_ERR(authority_format("a b", 80, out, sizeof(out), &len), -EINVAL);
	EXPECT_ERR(authority_format("zz::1", 80, out, sizeof(out), &len), -EINVAL);
	EXPECT_ERR(authority_format("db", 80, out, 5, &len), -ENOSPC);
	EXPECT_ERR(authority_format(NULL, 80, out, sizeof(out), &len), -EINVAL);
}

TEST_MAIN(parse, label_and_name_bounds, format_round_trips, format_refuses_what_a_peer_would)
