/*
 * buf.c: the bounded cursor. Every access checks the remaining length
 * first; nothing here can read or write outside [p, p + len).
 */
#include "common/buf.h"

#include <string.h>

void
buf_reader(struct buf *b, const void *p, size_t len)
{
	b->p = NULL;
	b->r = p;
	b->len = p != NULL ? len : 0;
	b->off = 0;
	b->failed = false;
}

void
buf_writer(struct buf *b, void *p, size_t cap)
{
	b->p = p;
	b->r = p;
	b->len = p != NULL ? cap : 0;
	b->off = 0;
	b->failed = false;
}

bool
buf_ok(const struct buf *b)
{
	return !b->failed;
}

size_t
buf_left(const struct buf *b)
{
	return b->failed ? 0 : b->len - b->off;
}

const uint8_t *
buf_get_bytes(struct buf *b, size_t n)
{
	const uint8_t *q;

	if (b->failed || n > b->len - b->off) {
		b->failed = true;
		return NULL;
	}
	q = b->r + b->off;
	b->off += n;
	return q;
}

static uint64_t
get_be(struct buf *b, size_t n)
{
	const uint8_t *q = buf_get_bytes(b, n);
	uint64_t v = 0;

	if (q == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | q[i];
	return v;
}

uint8_t
buf_get_u8(struct buf *b)
{
	return (uint8_t)get_be(b, 1);
}

uint16_t
buf_get_u16(struct buf *b)
{
	return (uint16_t)get_be(b, 2);
}

uint32_t
buf_get_u32(struct buf *b)
{
	return (uint32_t)get_be(b, 4);
}

uint64_t
buf_get_u64(struct buf *b)
{
	return get_be(b, 8);
}

void
buf_put_bytes(struct buf *b, const void *p, size_t n)
{
	if (b->failed || b->p == NULL || n > b->len - b->off) {
		b->failed = true;
		return;
	}
	if (n > 0)
		memcpy(b->p + b->off, p, n);
	b->off += n;
}

static void
put_be(struct buf *b, uint64_t v, size_t n)
{
	uint8_t q[8];

	for (size_t i = 0; i < n; i++)
		q[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	buf_put_bytes(b, q, n);
}

void
buf_put_u8(struct buf *b, uint8_t v)
{
	put_be(b, v, 1);
}

void
buf_put_u16(struct buf *b, uint16_t v)
{
	put_be(b, v, 2);
}

void
buf_put_u32(struct buf *b, uint32_t v)
{
	put_be(b, v, 4);
}

void
buf_put_u64(struct buf *b, uint64_t v)
{
	put_be(b, v, 8);
}

int
buf_peek(const struct buf *b)
{
	return buf_left(b) > 0 ? b->r[b->off] : -1;
}

const uint8_t *
buf_take(struct buf *b, bool (*pred)(int), size_t *n)
{
	const uint8_t *s = b->r + b->off;
	size_t k = 0, left = buf_left(b);

	while (k < left && pred(s[k]))
		k++;
	(void)buf_get_bytes(b, k);
	*n = k;
	return s;
}
