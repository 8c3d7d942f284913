/*
 * Bound listening sockets (authd/bound.c): one socket per address shared by
 * its takers, exclusive against every other socket (SO_REUSEPORT
 * included), closed with the last give; unix paths taken only from the
 * dead and removed when authd made them. Uses loopback ports the kernel
 * picks, and a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "authd/bound.h"
#include "test.h"

/* A loopback port that was free a moment ago, as addr text. */
static void
free_port(char *text, size_t size)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		abort();
	snprintf(text, size, "127.0.0.1:%u", ntohs(sin.sin_port));
	close(fd);
}

/* Bind a to a fresh socket with SO_REUSEADDR and SO_REUSEPORT, as a hijacker would: -errno or 0. */
static int
join(const struct addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM, 0), one = 1, r = 0;

	if (fd < 0)
		return -errno;
	if (a->ss.ss_family != AF_UNIX) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(fd, 1) != 0)
		r = -errno;
	close(fd);
	return r;
}

/* Whether a accepts a TCP or unix connection. */
static bool
answers(const struct addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM, 0);
	bool ok = fd >= 0 && connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

TEST(shared_then_closed)
{
	struct bound_set b = { 0 };
	char text[32];
	struct addr a;
	int fd1 = -1, fd2 = -1;

	free_port(text, sizeof(text));
	REQUIRE(addr_parse(text, false, &a, NULL) == 0);
	EXPECT_OK(bound_take(&b, &a, NULL));		/* the workload's hold */
	EXPECT_OK(bound_take(&b, &a, &fd1));		/* loop 0 */
	EXPECT_OK(bound_take(&b, &a, &fd2));		/* loop 1: the same socket */
	EXPECT(fd1 >= 0 && fd2 >= 0 && fd1 != fd2);
	EXPECT(answers(&a));
	EXPECT_ERR(join(&a), -EADDRINUSE);
	close(fd1);
	bound_give(&b, &a);
	close(fd2);
	bound_give(&b, &a);
	EXPECT(answers(&a));				/* the hold keeps it */
	EXPECT_ERR(join(&a), -EADDRINUSE);
	bound_give(&b, &a);
	EXPECT(!answers(&a));
	EXPECT_OK(join(&a));				/* free again */
	bound_give(&b, &a);				/* one too many: ignored */
	bound_set_free(&b);
}

TEST(exclusive)
{
	struct bound_set b = { 0 };
	char text[32], wild[32];
	struct addr a, any;
	int fd;

	free_port(text, sizeof(text));
	REQUIRE(addr_parse(text, false, &a, NULL) == 0);
	snprintf(wild, sizeof(wild), "0.0.0.0:%s", strchr(text, ':') + 1);
	REQUIRE(addr_parse(wild, false, &any, NULL) == 0);
	EXPECT_OK(bound_take(&b, &a, NULL));
	EXPECT_ERR(join(&any), -EADDRINUSE);		/* the wildcard overlaps */
	bound_set_free(&b);

	/* Something else holds it first: the take fails and keeps nothing. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE(fd >= 0);
	REQUIRE(bind(fd, (const struct sockaddr *)&a.ss, a.len) == 0 && listen(fd, 1) == 0);
	EXPECT_ERR(bound_take(&b, &a, NULL), -EADDRINUSE);
	EXPECT(b.head == NULL);
	close(fd);
	EXPECT_OK(bound_take(&b, &a, NULL));
	bound_set_free(&b);
}

TEST(unix_paths)
{
	char dir[] = "/tmp/bound_test.XXXXXX", text[128];
	struct bound_set b = { 0 }, other = { 0 };
	struct stat st;
	struct addr a;
	int fd;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(text, sizeof(text), "unix:%s/s.sock", dir);
	REQUIRE(addr_parse(text, false, &a, NULL) == 0);
	const char *path = ((struct sockaddr_un *)&a.ss)->sun_path;

	/* A socket file nobody answers on (a killed process's) is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(fd >= 0 && bind(fd, (const struct sockaddr *)&a.ss, a.len) == 0);
	close(fd);
	EXPECT_OK(bound_take(&b, &a, NULL));
	EXPECT(answers(&a));
	/* A live one is not: another set (another authd) cannot take it. */
	EXPECT_ERR(bound_take(&other, &a, NULL), -EADDRINUSE);
	EXPECT(answers(&a));
	/* The last give removes the path this process made. */
	bound_give(&b, &a);
	EXPECT(lstat(path, &st) != 0 && errno == ENOENT);

	/* Anything but a socket at the path stays, and the take fails. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	EXPECT_ERR(bound_take(&b, &a, NULL), -EEXIST);
	EXPECT(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	unlink(path);

	/* A path replaced under authd (someone else's now) is not removed at the end. */
	EXPECT_OK(bound_take(&b, &a, NULL));
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(fd >= 0 && bind(fd, (const struct sockaddr *)&a.ss, a.len) == 0);
	bound_set_free(&b);
	EXPECT(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	close(fd);
	unlink(path);
	rmdir(dir);
}

TEST_MAIN(shared_then_closed, exclusive, unix_paths)
