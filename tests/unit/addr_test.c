/*
 * Address text <-> sockaddr (common/addr.c): IPv4, bracketed IPv6, unix
 * paths, the port rules, everything that must be refused (names, IPv6
 * without brackets, leading zeros, over-long text), and formatting back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "common/addr.h"
#include "test.h"

/* Parse s, format it back and compare with want (NULL: the same text). */
static int
round_trip(const char *s, const char *want)
{
	char out[ADDR_TEXT_MAX + 1];
	struct addr a;
	const char *why = "unset";

	if (addr_parse(s, false, &a, &why) != 0 || why != NULL)
		return -1;
	if (addr_format(&a, out, sizeof(out)) != 0)
		return -2;
	return strcmp(out, want != NULL ? want : s) == 0 ? 0 : -3;
}

/* addr_parse must refuse s, say why, and leave a zeroed. */
static int
refused(const char *s, bool port0)
{
	static const struct addr zero;
	const char *why = NULL;
	struct addr a;

	memset(&a, 0xa5, sizeof(a));
	if (addr_parse(s, port0, &a, &why) != -EINVAL || why == NULL || *why == '\0')
		return -1;
	return memcmp(&a, &zero, sizeof(a)) == 0 ? 0 : -2;
}

TEST(ipv4)
{
	struct addr a;
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a.ss;

	REQUIRE(addr_parse("127.0.0.1:8080", false, &a, NULL) == 0);
	EXPECT_EQ(in4->sin_family, AF_INET);
	EXPECT_EQ(a.len, sizeof(struct sockaddr_in));
	EXPECT_EQ(ntohl(in4->sin_addr.s_addr), 0x7f000001);
	EXPECT_EQ(addr_port(&a), 8080);
	EXPECT(!addr_is_unix(&a));
	EXPECT_OK(round_trip("127.0.0.1:8080", NULL));
	EXPECT_OK(round_trip("0.0.0.0:15008", NULL));
	EXPECT_OK(round_trip("255.255.255.255:65535", NULL));
	EXPECT_OK(round_trip("10.1.2.3:1", NULL));
}

TEST(ipv6)
{
	struct addr a;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.ss;

	REQUIRE(addr_parse("[::1]:15008", false, &a, NULL) == 0);
	EXPECT_EQ(in6->sin6_family, AF_INET6);
	EXPECT_EQ(a.len, sizeof(struct sockaddr_in6));
	EXPECT(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
	EXPECT_EQ(addr_port(&a), 15008);
	EXPECT(!addr_is_unix(&a));
	EXPECT_OK(round_trip("[::1]:15008", NULL));
	EXPECT_OK(round_trip("[::]:80", NULL));
	EXPECT_OK(round_trip("[2001:db8::7]:443", NULL));
	/* Formatting gives the canonical (RFC 5952) text. */
	EXPECT_OK(round_trip("[0:0:0:0:0:0:0:1]:80", "[::1]:80"));
	EXPECT_OK(round_trip("[2001:DB8::A]:80", "[2001:db8::a]:80"));
	EXPECT_OK(round_trip("[::ffff:10.0.0.1]:80", NULL));
}

TEST(unix_paths)
{
	char path[ADDR_TEXT_MAX + 2];
	struct addr a;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.ss;

	REQUIRE(addr_parse("unix:/run/authd/db.sock", false, &a, NULL) == 0);
	EXPECT(addr_is_unix(&a));
	EXPECT_EQ(sun->sun_family, AF_UNIX);
	EXPECT_STR(sun->sun_path, "/run/authd/db.sock");
	EXPECT_EQ(a.len, offsetof(struct sockaddr_un, sun_path) + strlen("/run/authd/db.sock") + 1);
	EXPECT_EQ(addr_port(&a), 0);
	EXPECT_OK(round_trip("unix:/run/authd/db.sock", NULL));
	EXPECT_OK(round_trip("unix:/", NULL));

	/* The longest path sun_path holds (107 bytes and the NUL) is ADDR_TEXT_MAX. */
	memcpy(path, "unix:/", 6);
	memset(path + 6, 'p', sizeof(sun->sun_path) - 2);
	path[5 + sizeof(sun->sun_path) - 1] = '\0';
	EXPECT_EQ(strlen(path), ADDR_TEXT_MAX);
	EXPECT_OK(round_trip(path, NULL));
	/* One more byte no longer fits. */
	memset(path, 0, sizeof(path));
	memcpy(path, "unix:/", 6);
	memset(path + 6, 'p', sizeof(sun->sun_path) - 1);
	EXPECT_OK(refused(path, false));

	EXPECT_OK(refused("unix:", false));
	EXPECT_OK(refused("unix:relative.sock", false));
	EXPECT_OK(refused("unix:./x", false));
}

TEST(ports)
{
	struct addr a;

	EXPECT_OK(refused("127.0.0.1:0", false));
	EXPECT_OK(addr_parse("127.0.0.1:0", true, &a, NULL));
	EXPECT_EQ(addr_port(&a), 0);
	EXPECT_OK(addr_parse("[::1]:0", true, &a, NULL));
	EXPECT_OK(refused("127.0.0.1:65536", false));
	EXPECT_OK(refused("127.0.0.1:99999", true));
	EXPECT_OK(refused("127.0.0.1:100000", true));
	EXPECT_OK(refused("127.0.0.1:-1", true));
	EXPECT_OK(refused("127.0.0.1:+80", false));
	EXPECT_OK(refused("127.0.0.1: 80", false));
	EXPECT_OK(refused("127.0.0.1:80 ", false));
	EXPECT_OK(refused("127.0.0.1:8a", false));
	EXPECT_OK(refused("127.0.0.1:0x50", false));
	EXPECT_OK(refused("127.0.0.1:", false));
	EXPECT_OK(refused("[::1]:", false));
	EXPECT_OK(refused("[::1]", false));
	EXPECT_OK(refused("[::1]80", false));
	EXPECT_OK(refused("127.0.0.1", false));
	/* Leading zeros: "080" could be read as octal somewhere else. */
	EXPECT_OK(refused("127.0.0.1:080", false));
	EXPECT_OK(refused("127.0.0.1:00", true));
	EXPECT_OK(refused("[::1]:0443", false));
	EXPECT_OK(round_trip("127.0.0.1:65535", NULL));
}

TEST(hosts_refused)
{
	/* Names would need resolving, which blocks and moves under DNS. */
	EXPECT_OK(refused("localhost:80", false));
	EXPECT_OK(refused("db.shop.svc:5432", false));
	EXPECT_OK(refused("[localhost]:80", false));
	/* IPv6 needs brackets, so the port is never ambiguous. */
	EXPECT_OK(refused("::1:80", false));
	EXPECT_OK(refused("2001:db8::1:443", false));
	EXPECT_OK(refused("[::1:80", false));
	EXPECT_OK(refused("[]:80", false));
	EXPECT_OK(refused("[1.2.3.4]:80", false));
	EXPECT_OK(refused("[fe80::1%eth0]:80", false));
	/* Only strict dotted quads. */
	EXPECT_OK(refused("127.1:80", false));
	EXPECT_OK(refused("1.2.3:80", false));
	EXPECT_OK(refused("01.2.3.4:80", false));
	EXPECT_OK(refused("1.2.3.256:80", false));
	EXPECT_OK(refused("0x7f.0.0.1:80", false));
	EXPECT_OK(refused(" 1.2.3.4:80", false));
	EXPECT_OK(refused(":80", false));
	EXPECT_OK(refused("", false));
	EXPECT_OK(refused("UNIX:/x", false));
}

TEST(too_long)
{
	char s[ADDR_TEXT_MAX + 40];
	const char *why = NULL;
	struct addr a;

	memset(s, '1', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	EXPECT_ERR(addr_parse(s, false, &a, &why), -EINVAL);
	EXPECT_STR(why, "address too long");
	/* Not NULL-safe callers: a NULL string and a NULL why. */
	EXPECT_ERR(addr_parse(NULL, false, &a, &why), -EINVAL);
	EXPECT_ERR(addr_parse("nope", false, &a, NULL), -EINVAL);
}

TEST(format_bounds)
{
	char small[8], out[ADDR_TEXT_MAX + 16];
	struct addr a;
	struct sockaddr_un *sun = (struct sockaddr_un *)&a.ss;

	REQUIRE(addr_parse("[2001:db8::1]:443", false, &a, NULL) == 0);
	EXPECT_ERR(addr_format(&a, small, sizeof(small)), -ENOSPC);
	REQUIRE(addr_parse("unix:/run/x.sock", false, &a, NULL) == 0);
	EXPECT_ERR(addr_format(&a, small, sizeof(small)), -ENOSPC);

	/*
	 * An address from the kernel may fill sun_path without a NUL; format
	 * stops at len instead of reading on.
	 */
	memset(&a, 0, sizeof(a));
	sun->sun_family = AF_UNIX;
	memset(sun->sun_path, 'q', sizeof(sun->sun_path));
	memset((char *)&a.ss + offsetof(struct sockaddr_un, sun_path) + sizeof(sun->sun_path), 'z',
	    sizeof(a.ss) - offsetof(struct sockaddr_un, sun_path) - sizeof(sun->sun_path));
	a.len = sizeof(struct sockaddr_un);
	/* Such a path is one byte over what address text holds. */
	EXPECT_ERR(addr_format(&a, out, ADDR_TEXT_MAX + 1), -ENOSPC);
	REQUIRE(addr_format(&a, out, sizeof(out)) == 0);
	EXPECT_EQ(strlen(out), 5 + sizeof(sun->sun_path));
	EXPECT(strchr(out, 'z') == NULL);
	/* A len shorter than the path bounds it too. */
	a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 3);
	REQUIRE(addr_format(&a, out, sizeof(out)) == 0);
	EXPECT_STR(out, "unix:qqq");

	memset(&a, 0, sizeof(a));
	REQUIRE(addr_format(&a, out, sizeof(out)) == 0);
	EXPECT_STR(out, "unset");
	EXPECT_EQ(addr_port(&a), 0);
	EXPECT(!addr_is_unix(&a));
}

/* Whether the listen addresses x and y overlap (both ways round must agree). */
static int
overlap(const char *x, const char *y)
{
	struct addr a, b;

	if (addr_parse(x, false, &a, NULL) != 0 || addr_parse(y, false, &b, NULL) != 0)
		return -1;
	if (addr_overlaps(&a, &b) != addr_overlaps(&b, &a))
		return -2;
	return addr_overlaps(&a, &b);
}

TEST(overlaps)
{
	EXPECT_EQ(overlap("127.0.0.1:80", "127.0.0.1:80"), 1);
	EXPECT_EQ(overlap("127.0.0.1:80", "0.0.0.0:80"), 1);
	EXPECT_EQ(overlap("127.0.0.1:80", "127.0.0.2:80"), 0);
	EXPECT_EQ(overlap("127.0.0.1:80", "127.0.0.1:81"), 0);
	EXPECT_EQ(overlap("[::1]:80", "[::1]:80"), 1);
	EXPECT_EQ(overlap("[::1]:80", "[::]:80"), 1);
	EXPECT_EQ(overlap("[::1]:80", "[::2]:80"), 0);
	/* Dual-stack: the IPv6 wildcard takes IPv4 too; other IPv6 addresses do not. */
	EXPECT_EQ(overlap("[::]:80", "10.0.0.1:80"), 1);
	EXPECT_EQ(overlap("[::1]:80", "0.0.0.0:80"), 0);
	EXPECT_EQ(overlap("unix:/run/a.sock", "unix:/run/a.sock"), 1);
	EXPECT_EQ(overlap("unix:/run/a.sock", "unix:/run/b.sock"), 0);
	EXPECT_EQ(overlap("unix:/run/a.sock", "0.0.0.0:80"), 0);
}

TEST_MAIN(ipv4, ipv6, unix_paths, ports, hosts_refused, too_long, format_bounds, overlaps)
