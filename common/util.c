/*
 * util.c: memory wiping and whole-file I/O shared by every part of authd.
 */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

void
util_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		sodium_memzero(p, len);
}

void
util_free_wiped(void *p, size_t len)
{
	util_wipe(p, len);
	free(p);
}

int
util_read_file(const char *path, size_t max, uint8_t **out, size_t *outlen)
{
	uint8_t *data = NULL;
	size_t len = 0, cap = 0;
	int fd, err = 0;

	*out = NULL;
	*outlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nd;

			if (cap > max) {
				err = -EFBIG;
				goto out;
			}
			/* Grow by copy so a secret never sits in a freed realloc block. */
			nd = malloc(ncap + 1);
			if (nd == NULL) {
				err = -ENOMEM;
				goto out;
			}
			if (len > 0)
				memcpy(nd, data, len);
			util_free_wiped(data, cap);
			data = nd;
			cap = ncap;
		}
		n = read(fd, data + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			err = -EFBIG;
			goto out;
		}
	}
	data[len] = '\0';
	*out = data;
	*outlen = len;
	data = NULL;
out:
	util_free_wiped(data, cap);
	close(fd);
	return err;
}

/* Write all of p to fd, retrying short writes and EINTR. Returns 0 or -errno. */
static int
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write data to an open fd with exactly mode, then fsync. Returns 0 or -errno. */
static int
fill(int fd, const void *data, size_t len, unsigned mode)
{
	int err;

	/* The umask must not widen or narrow what the caller asked for. */
	if (fchmod(fd, mode) != 0)
		return -errno;
	err = write_all(fd, data, len);
	if (err == 0 && fsync(fd) != 0)
		err = -errno;
	return err;
}

int
util_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, err;

	if (util_snprintf(tmp, sizeof(tmp), "%s.tmp", path) != 0 ||
	    util_snprintf(dir, sizeof(dir), "%s", path) != 0)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	err = fill(fd, data, len, mode);
	if (close(fd) != 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = -errno;
	if (err != 0) {
		unlink(tmp);
		return err;
	}
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

int
util_write_file_new(const char *path, const void *data, size_t len, unsigned mode)
{
	int fd, err;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	err = fill(fd, data, len, mode);
	if (close(fd) != 0 && err == 0)
		err = -errno;
	if (err != 0)
		unlink(path);
	return err;
}

int
util_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

void
util_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(buf, size, fmt, ap) < 0)
		buf[0] = '\0';
	va_end(ap);
}

int
util_mkdir_p(const char *dir, unsigned mode)
{
	char p[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(p))
		return len == 0 ? -EINVAL : -ENAMETOOLONG;
	memcpy(p, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			return -errno;
		p[i] = i == len ? '\0' : '/';
	}
	return 0;
}

int
util_bytes_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}
