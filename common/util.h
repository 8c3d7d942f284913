/*
 * Small helpers shared by the daemon, the CLI and the libraries.
 * Libraries (certs/, policy/) may include this header; it carries no state.
 */
#ifndef AUTHD_COMMON_UTIL_H
#define AUTHD_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A function whose result must be checked: 0 on success, negative on error. */
#define AD_MUST_CHECK __attribute__((warn_unused_result))
#define AD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define AD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Wipe secret memory in a way the compiler may not elide. Accepts NULL.
 */
void util_wipe(void *p, size_t len);

/*
 * Read a whole file of at most max bytes into a NUL-terminated heap buffer
 * the caller owns (free with util_free_wiped when it may hold a secret).
 * Returns 0, -ENOENT/-EACCES/... from open, -EFBIG when larger than max.
 */
int util_read_file(const char *path, size_t max, uint8_t **out, size_t *outlen) AD_MUST_CHECK;

/*
 * Write a file atomically: write to PATH.tmp with the given mode, fsync,
 * rename over PATH, fsync the directory. On failure PATH is unchanged.
 * Returns 0 or -errno.
 */
int util_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode) AD_MUST_CHECK;

/*
 * Create a new file (never an existing one: -EEXIST; never through a
 * symlink) holding data with exactly mode, fsynced. On failure no file is
 * left. Returns 0 or -errno.
 */
int util_write_file_new(const char *path, const void *data, size_t len, unsigned mode) AD_MUST_CHECK;

/*
 * Create dir and any missing parents with mode (like mkdir -p). An existing
 * directory is fine. Returns 0 or -errno.
 */
int util_mkdir_p(const char *dir, unsigned mode) AD_MUST_CHECK;

/*
 * Order two byte strings bytewise, a shorter prefix first (what sorting
 * by memcmp over lengths that differ needs). Returns <0, 0 or >0.
 */
int util_bytes_cmp(const void *a, size_t alen, const void *b, size_t blen);

/* util_wipe(p, len) then free(p). Accepts NULL. */
void util_free_wiped(void *p, size_t len);

/*
 * Format into a fixed buffer; returns 0, or -ENAMETOOLONG when it does not
 * fit (the buffer then holds a truncated, NUL-terminated string).
 */
int util_snprintf(char *buf, size_t size, const char *fmt, ...) AD_PRINTF(3, 4) AD_MUST_CHECK;

/*
 * Format a message into a fixed buffer where a cut is harmless (a reason
 * for a log line, an error string, a status page): a text that does not
 * fit is truncated, always NUL-terminated. size must be at least 1.
 */
void util_format(char *buf, size_t size, const char *fmt, ...) AD_PRINTF(3, 4);

#endif
