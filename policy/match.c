/*
 * match.c: the decision on the daemon's hot path.
 *
 * A source and a destination each expand to the selectors that could name
 * them (exact ID, namespace, trust domain, and "*" for sources). Each
 * (destination, source) pair is one LMDB point lookup in the index; its
 * entries carry the rule id, expiry and ports, so no rule record is read.
 * Pairs are tried most specific first, so the rule reported is the most
 * specific that allows. The read transaction is reset between checks and
 * renewed for the next: no allocation, and never a wait for a writer.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "policy/policy_int.h"

struct policy_reader {
	struct policy_store *s;
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t h_any[POLICY_HASH_LEN];	/* H("*"), the same for every check */
};

int
policy_reader_new(struct policy_store *s, struct policy_reader **out)
{
	struct policy_reader *r;
	int err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return POLICY_E_NOMEM;
	r->s = s;
	policy__hash(s->hash_key, "*", 1, r->h_any);
	err = policy__txn_begin(s, MDB_RDONLY, &r->txn);
	if (err == 0)
		err = policy__mdb_err(mdb_cursor_open(r->txn, s->index, &r->cur));
	if (err != 0) {
		policy_reader_free(r);
		return err;
	}
	mdb_txn_reset(r->txn);
	*out = r;
	return 0;
}

void
policy_reader_free(struct policy_reader *r)
{
	if (r == NULL)
		return;
	if (r->cur != NULL)
		mdb_cursor_close(r->cur);
	if (r->txn != NULL)
		mdb_txn_abort(r->txn);
	free(r);
}

static int
reader_renew(struct policy_reader *r)
{
	int err = policy__txn_renew(r->s, r->txn);

	if (err == 0)
		err = policy__mdb_err(mdb_cursor_renew(r->txn, r->cur));
	if (err != 0)
		mdb_txn_reset(r->txn);
	return err;
}

static int
revision_in(struct policy_reader *r, uint64_t *rev)
{
	MDB_val k = { 8, (void *)(uintptr_t)"revision" }, d;
	struct buf b;
	int rc = mdb_get(r->txn, r->s->meta, &k, &d);

	if (rc != 0)
		return policy__mdb_err(rc);
	buf_reader(&b, d.mv_data, d.mv_size);
	*rev = buf_get_u64(&b);
	return buf_ok(&b) ? 0 : POLICY_E_CORRUPT;
}

int
policy_reader_revision(struct policy_reader *r, uint64_t *rev)
{
	int err = reader_renew(r);

	if (err != 0)
		return err;
	err = revision_in(r, rev);
	mdb_txn_reset(r->txn);
	return err;
}

/* The selectors that can name id, most specific first ("*" is added for sources). */
struct cands {
	size_t n;
	struct {
		const char *p;
		size_t len;
		enum policy_sel_kind kind;
	} c[4];
	char ns[SPIFFE_ID_MAX + 3];
	char td[SPIFFE_TD_MAX + 12];
};

static void
expand(const struct spiffe_id *id, struct cands *cs)
{
	const char *path = id->str + 9 + id->td_len;
	size_t plen = id->len - 9 - id->td_len, n = 0;

	cs->n = 0;
	cs->c[cs->n].kind = POLICY_SEL_ID;
	cs->c[cs->n].p = id->str;
	cs->c[cs->n++].len = id->len;
	/* "spiffe://td/ns/NS/x" also answers to the namespace selector "spiffe://td/ns/NS/" "*". */
	if (plen > 4 && memcmp(path, "/ns/", 4) == 0) {
		const char *seg = path + 4, *end = memchr(seg, '/', plen - 4);

		if (end != NULL && end > seg && (size_t)(end - id->str) + 1 < id->len) {
			n = (size_t)(end - id->str) + 1;
			memcpy(cs->ns, id->str, n);
			cs->ns[n++] = '*';
			cs->c[cs->n].kind = POLICY_SEL_NS;
			cs->c[cs->n].p = cs->ns;
			cs->c[cs->n++].len = n;
		}
	}
	n = 9 + id->td_len;
	memcpy(cs->td, id->str, n);
	cs->td[n++] = '/';
	cs->td[n++] = '*';
	cs->c[cs->n].kind = POLICY_SEL_TD;
	cs->c[cs->n].p = cs->td;
	cs->c[cs->n++].len = n;
}

static bool
entry_has_port(const uint8_t *ent, size_t len, uint16_t port)
{
	struct buf b;
	uint8_t n;

	buf_reader(&b, ent + POLICY_ENTRY_PORTS, len - POLICY_ENTRY_PORTS);
	n = buf_get_u8(&b);
	for (uint8_t i = 0; i < n; i++) {
		uint16_t lo = buf_get_u16(&b), hi = buf_get_u16(&b);

		if (!buf_ok(&b))
			return false;
		if (port >= lo && port <= hi)
			return true;
	}
	return false;
}

static bool
audited(struct policy_reader *r, const struct cands *dst, uint8_t (*hd)[POLICY_HASH_LEN])
{
	MDB_stat st;
	MDB_val k, d;

	/* Most stores audit nothing: one look at the table's size settles it. */
	if (mdb_stat(r->txn, r->s->audit, &st) != 0 || st.ms_entries == 0)
		return false;
	for (size_t i = 0; i < dst->n; i++) {
		k = (MDB_val){ POLICY_DKEY_LEN, hd[i] };
		if (mdb_get(r->txn, r->s->audit, &k, &d) == 0 && d.mv_size == dst->c[i].len &&
		    memcmp(d.mv_data, dst->c[i].p, d.mv_size) == 0)
			return true;
	}
	return false;
}

/* What the walk over candidate pairs has found so far. */
struct walk {
	uint16_t port;
	int64_t now;
	uint64_t allow_rule;
	int64_t allow_expires;	/* of allow_rule; 0 = never */
	uint64_t port_rule;	/* first rule naming the pair on other ports */
	uint64_t expired_rule;	/* first expired rule naming the pair */
};

/* Look one (destination, source) pair up. 1: allowed, 0: not, < 0: error. */
static int
probe(struct policy_reader *r, const uint8_t hd[static POLICY_HASH_LEN],
    const uint8_t hs[static POLICY_HASH_LEN], struct walk *w)
{
	uint8_t key[POLICY_IKEY_LEN];
	MDB_val k = { POLICY_IKEY_LEN, key }, d;
	int rc;

	policy__index_key(hd, hs, key);
	for (rc = mdb_cursor_get(r->cur, &k, &d, MDB_SET_KEY); rc == 0;
	     rc = mdb_cursor_get(r->cur, &k, &d, MDB_NEXT_DUP)) {
		const uint8_t *ent = d.mv_data;
		struct buf b;
		uint64_t id;
		int64_t expires;

		if (!policy__entry_matches(ent, d.mv_size, hd, hs))
			continue;
		buf_reader(&b, ent, d.mv_size);
		id = buf_get_u64(&b);
		expires = (int64_t)buf_get_u64(&b);
		if (expires != 0 && expires <= w->now) {
			if (w->expired_rule == 0)
				w->expired_rule = id;
			continue;
		}
		if (entry_has_port(ent, d.mv_size, w->port)) {
			w->allow_rule = id;
			w->allow_expires = expires;
			return 1;
		}
		if (w->port_rule == 0)
			w->port_rule = id;
	}
	return rc == MDB_NOTFOUND ? 0 : policy__mdb_err(rc);
}

int
policy_check(struct policy_reader *r, const struct spiffe_id *src, const struct spiffe_id *dst,
    uint16_t port, int64_t now, struct policy_decision *out)
{
	struct cands sc, dc;
	uint8_t hs[4][POLICY_HASH_LEN], hd[4][POLICY_HASH_LEN];
	uint8_t kinds[POLICY_DST_KINDS][4];
	struct walk w = { .port = port, .now = now };
	MDB_val k, d;
	int rc, err;

	memset(out, 0, sizeof(*out));
	out->verdict = POLICY_DENY;
	out->reason = POLICY_R_NO_RULE;
	if (src->len == 0 || dst->len == 0 || port == 0)
		return POLICY_E_INVAL;
	if ((err = reader_renew(r)) != 0)
		return err;
	/*
	 * The exact pair first, before any other hashing or the destination's
	 * counts: it is the most specific pair and the commonest rule, so most
	 * allowed connections cost one index lookup.
	 */
	policy__hash(r->s->hash_key, dst->str, dst->len, hd[0]);
	policy__hash(r->s->hash_key, src->str, src->len, hs[0]);
	if ((rc = probe(r, hd[0], hs[0], &w)) != 0)
		goto decided;
	expand(src, &sc);
	expand(dst, &dc);
	for (size_t j = 1; j < sc.n; j++)
		policy__hash(r->s->hash_key, sc.c[j].p, sc.c[j].len, hs[j]);
	memcpy(hs[sc.n], r->h_any, POLICY_HASH_LEN);
	sc.c[sc.n].kind = POLICY_SEL_ANY;
	sc.c[sc.n].p = "*";
	sc.c[sc.n++].len = 1;
	for (size_t i = 1; i < dc.n; i++)
		policy__hash(r->s->hash_key, dc.c[i].p, dc.c[i].len, hd[i]);
	for (size_t i = 0; i < dc.n; i++) {
		/* A destination no rule protects needs no source lookups. */
		k = (MDB_val){ POLICY_DKEY_LEN, hd[i] };
		rc = mdb_get(r->txn, r->s->dsts, &k, &d);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0 || d.mv_size != 4 * POLICY_DST_KINDS) {
			rc = rc != 0 ? policy__mdb_err(rc) : POLICY_E_CORRUPT;
			goto decided;
		}
		memcpy(kinds, d.mv_data, sizeof(kinds));
		for (size_t j = i == 0 ? 1 : 0; j < sc.n; j++) {
			/* No rule for this destination names a source of this kind. */
			if (memcmp(kinds[sc.c[j].kind], "\0\0\0\0", 4) == 0)
				continue;
			if ((rc = probe(r, hd[i], hs[j], &w)) != 0)
				goto decided;
		}
	}
	if (w.port_rule != 0) {
		out->reason = POLICY_R_PORT;
		out->rule_id = w.port_rule;
	} else if (w.expired_rule != 0) {
		out->reason = POLICY_R_EXPIRED;
		out->rule_id = w.expired_rule;
	}
	if (audited(r, &dc, hd))
		out->verdict = POLICY_AUDIT;
	rc = 0;
decided:
	if (rc == 1) {
		out->verdict = POLICY_ALLOW;
		out->reason = POLICY_R_RULE;
		out->rule_id = w.allow_rule;
		out->expires = w.allow_expires;
		rc = 0;
	}
	err = rc;
	if (err == 0)
		err = revision_in(r, &out->revision);
	mdb_txn_reset(r->txn);
	return err;
}
