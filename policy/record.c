/*
 * record.c: the byte layout of rules, index keys and index entries in the
 * store. Records carry a version byte so a later authd can change the
 * layout and still read this one; decoding checks every length and
 * re-validates selectors and ports, so a damaged file is an error, never a
 * crash or a widened rule.
 */
#include <string.h>

#include <sodium.h>

#include "common/buf.h"
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

	/* Stored selectors are canonical; anything else was not written by us. */
	if (p == NULL || policy_selector_parse((const char *)p, n, side, s, NULL) != 0 ||
	    (uint8_t)s->kind != kind || s->len != n || memcmp(s->str, p, n) != 0)
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

		/* Stored sets are sorted and merged: each range starts past the last. */
		if (!buf_ok(&b) || (i > 0 && (uint32_t)lo <= (uint32_t)r->ports.r[i - 1].hi + 1) ||
		    policy_ports_add(&r->ports, lo, hi) != 0)
			return POLICY_E_CORRUPT;
	}
	/* Stored ranges are already merged; a count that shrank means a bad record. */
	if (r->ports.n != n)
		return POLICY_E_CORRUPT;
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

void
policy__hash(const uint8_t key[static 16], const char *sel, size_t len,
    uint8_t out[static POLICY_HASH_LEN])
{
	crypto_shorthash_siphashx24(out, (const uint8_t *)sel, len, key);
}

void
policy__index_key(const uint8_t hdst[static POLICY_HASH_LEN],
    const uint8_t hsrc[static POLICY_HASH_LEN], uint8_t key[static POLICY_IKEY_LEN])
{
	memcpy(key, hdst, 8);
	memcpy(key + 8, hsrc, 8);
}

size_t
policy__rule_index(const struct policy_store *s, const struct policy_rule *r,
    uint8_t key[static POLICY_IKEY_LEN], uint8_t ent[static POLICY_ENTRY_MAX])
{
	uint8_t hd[POLICY_HASH_LEN], hs[POLICY_HASH_LEN];
	struct buf b;

	policy__hash(s->hash_key, r->to.str, r->to.len, hd);
	policy__hash(s->hash_key, r->from.str, r->from.len, hs);
	policy__index_key(hd, hs, key);
	buf_writer(&b, ent, POLICY_ENTRY_MAX);
	buf_put_u64(&b, r->id);
	buf_put_u64(&b, (uint64_t)r->expires);
	buf_put_bytes(&b, hd + 8, 4);
	buf_put_bytes(&b, hs + 8, 4);
	buf_put_u8(&b, r->ports.n);
	for (uint8_t i = 0; i < r->ports.n && i < POLICY_PORT_RANGES_MAX; i++) {
		buf_put_u16(&b, r->ports.r[i].lo);
		buf_put_u16(&b, r->ports.r[i].hi);
	}
	return b.off;
}

bool
policy__entry_matches(const uint8_t *ent, size_t len, const uint8_t hdst[static POLICY_HASH_LEN],
    const uint8_t hsrc[static POLICY_HASH_LEN])
{
	return len > POLICY_ENTRY_PORTS && memcmp(ent + POLICY_ENTRY_CHECK, hdst + 8, 4) == 0 &&
	    memcmp(ent + POLICY_ENTRY_CHECK + 4, hsrc + 8, 4) == 0;
}
