/*
 * A bounded byte cursor for every encoder and decoder in authd (policy
 * records, IPC messages, wire heads). Reads past the end fail instead of
 * reading; writes past the capacity fail instead of writing. After the first
 * failure the cursor stays failed, so a codec can do all its steps and check
 * once (buf_ok) at the end.
 */
#ifndef AUTHD_COMMON_BUF_H
#define AUTHD_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *p;	/* NULL for a read-only cursor's writes */
	const uint8_t *r;
	size_t len;	/* bytes readable (reader) or capacity (writer) */
	size_t off;
	bool failed;
};

/* A reader over len bytes at p; the bytes must outlive the cursor. */
void buf_reader(struct buf *b, const void *p, size_t len);
/* A writer into cap bytes at p. */
void buf_writer(struct buf *b, void *p, size_t cap);

bool buf_ok(const struct buf *b);
/* Bytes left to read, or capacity left to write. */
size_t buf_left(const struct buf *b);

/* Readers: big-endian integers; on failure the output is zero. */
uint8_t buf_get_u8(struct buf *b);
uint16_t buf_get_u16(struct buf *b);
uint32_t buf_get_u32(struct buf *b);
uint64_t buf_get_u64(struct buf *b);
/* Borrow n bytes in place (NULL on failure). */
const uint8_t *buf_get_bytes(struct buf *b, size_t n);

/* The next byte, or -1 at the end (nothing consumed). */
int buf_peek(const struct buf *b);
/* Consume the run of bytes that satisfy pred; returns its start, *n its length. */
const uint8_t *buf_take(struct buf *b, bool (*pred)(int), size_t *n);

/* Writers: big-endian integers and raw bytes. */
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u16(struct buf *b, uint16_t v);
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_bytes(struct buf *b, const void *p, size_t n);

#endif
