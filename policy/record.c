/*
 * record.c: the byte layout of rules, index keys and index entries in the
 * store. Records carry a version byte so a later authd can change the
 * layout and still read this one; decoding checks every length and
 * re-validates selectors and ports, so a damaged file is an error, never a
 * crash or a widened rule.
 */
#include <string.h>

#include <sodium.h>

#include "authd/buf.h"
#include "policy/policy_int.h"

#define RECORD_V1 1

static void
put_selector(struct buf *b, const struct policy_selector *s)
{
	buf_put_u8(b, (uint8_t)s->kind);
	buf_put_u16(b, (uint16_t)s->len);
	buf_put_bytes(b, s->str, s->len);
}

int
policy__rule_encode(const struct policy_rule *r, bool content_only, uint8_t *out, size_t cap,
    size_t *len)
{
	struct buf b;
	size_t clen = strlen(r->comment);

	buf_writer(&b, out, cap);
	buf_put_u8(&b, RECORD_V1);
	if (!content_only) {
		buf_put_u64(&b, r->id);
		buf_put_u64(&b, (uint64_t)r->created);
	}
	put_selector(&b, &r->to);
	put_selector(&b, &r->from);
	buf_put_u8(&b, r->ports.n);
	for (uint8_t i = 0; i < r->ports.n && i < POLICY_PORT_RANGES_MAX; i++) {
		buf_put_u16(&b, r->ports.r[i].lo);
		buf_put_u16(&b, r->ports.r[i].hi);
	}
	buf_put_u64(&b, (uint64_t)r->expires);
	buf_put_u16(&b, (uint16_t)clen);
	buf_put_bytes(&b, r->comment, clen);
	if (!buf_ok(&b) || r->ports.n > POLICY_PORT_RANGES_MAX || clen > POLICY_COMMENT_MAX)
		return POLICY_E_TOO_BIG;
	*len = b.off;
	return 0;
}

static int
get_selector(struct buf *b, enum policy_side side, struct policy_selector *s)
{
	uint8_t kind = buf_get_u8(b);
	uint16_t n = buf_get_u16(b);
	const uint8_t *p = buf_get_bytes(b, n);

	if (p == NULL || policy_selector_parse((const char *)p, n, side, s, NULL) != 0 ||
	    (uint8_t)s->kind != kind)
		return POLICY_E_CORRUPT;
	return 0;
}

int
policy__rule_decode(const uint8_t *p, size_t len, struct policy_rule *r)
{
	struct buf b;
	const uint8_t *c;
	uint16_t clen;
	uint8_t n;

	memset(r, 0, sizeof(*r));
	buf_reader(&b, p, len);
	if (buf_get_u8(&b) != RECORD_V1)
		return POLICY_E_CORRUPT;
	r->id = buf_get_u64(&b);
	r->created = (int64_t)buf_get_u64(&b);
	if (get_selector(&b, POLICY_TO, &r->to) != 0 || get_selector(&b, POLICY_FROM, &r->from) != 0)
		return POLICY_E_CORRUPT;
	n = buf_get_u8(&b);
	if (n == 0 || n > POLICY_PORT_RANGES_MAX)
		return POLICY_E_CORRUPT;
	for (uint8_t i = 0; i < n; i++) {
		uint16_t lo = buf_get_u16(&b), hi = buf_get_u16(&b);

		if (!buf_ok(&b) || policy_ports_add(&r->ports, lo, hi) != 0)
			return POLICY_E_CORRUPT;
	}
	r->expires = (int64_t)buf_get_u64(&b);
	clen = buf_get_u16(&b);
	c = buf_get_bytes(&b, clen);
	if (c == NULL || clen > POLICY_COMMENT_MAX || policy_comment_check((const char *)c, clen) != 0 ||
	    buf_left(&b) != 0 || r->id == 0)
		return POLICY_E_CORRUPT;
	memcpy(r->comment, c, clen);
	r->comment[clen] = '\0';
	return 0;
}

/*
 * Selector strings never hold a NUL, so "1 | dst | 0 | src" is unambiguous.
 * Pairs too long for LMDB's key limit use "2 | H(dst) | H(src)" with a
 * 128-bit BLAKE2b; the tag byte keeps the two forms apart.
 */
size_t
policy__index_key(const char *dst, size_t dlen, const char *src, size_t slen,
    uint8_t key[static POLICY_KEY_MAX])
{
	if (dlen + slen + 2 <= POLICY_KEY_MAX) {
		key[0] = 1;
		memcpy(key + 1, dst, dlen);
		key[1 + dlen] = 0;
		memcpy(key + 2 + dlen, src, slen);
		return dlen + slen + 2;
	}
	key[0] = 2;
	crypto_generichash(key + 1, 16, (const uint8_t *)dst, dlen, NULL, 0);
	crypto_generichash(key + 17, 16, (const uint8_t *)src, slen, NULL, 0);
	return 33;
}

size_t
policy__audit_key(const char *dst, size_t dlen, uint8_t key[static POLICY_KEY_MAX])
{
	if (dlen + 1 <= POLICY_KEY_MAX) {
		key[0] = 1;
		memcpy(key + 1, dst, dlen);
		return dlen + 1;
	}
	key[0] = 2;
	crypto_generichash(key + 1, 16, (const uint8_t *)dst, dlen, NULL, 0);
	return 17;
}

size_t
policy__entry_encode(const struct policy_rule *r, uint8_t out[static POLICY_ENTRY_MAX])
{
	struct buf b;

	buf_writer(&b, out, POLICY_ENTRY_MAX);
	buf_put_u64(&b, r->id);
	buf_put_u64(&b, (uint64_t)r->expires);
	buf_put_u8(&b, r->ports.n);
	for (uint8_t i = 0; i < r->ports.n && i < POLICY_PORT_RANGES_MAX; i++) {
		buf_put_u16(&b, r->ports.r[i].lo);
		buf_put_u16(&b, r->ports.r[i].hi);
	}
	return b.off;
}
