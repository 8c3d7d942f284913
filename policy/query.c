/*
 * query.c: reading the store for people: listing rules, audit destinations
 * and history, and checking the store's consistency. Each walk runs in one
 * read transaction, so it sees one revision, and copies every value out
 * before calling back (LMDB values die with the transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "policy/policy_int.h"

/* Call visit for each entry of dbi in key order, in one read transaction. */
static int
walk(struct policy_store *s, MDB_dbi dbi, int (*visit)(const MDB_val *k, const MDB_val *d,
    void *ctx), void *ctx)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int rc, err;

	if ((err = policy__txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return err;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		if ((err = visit(&k, &d, ctx)) != 0)
			goto out;
	err = rc == MDB_NOTFOUND ? 0 : policy__mdb_err(rc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return err;
}

struct list_ctx {
	const struct policy_selector *from, *to;
	policy_rule_cb cb;
	void *arg;
	struct policy_rule r;
};

static int
list_visit(const MDB_val *k, const MDB_val *d, void *ctx)
{
	struct list_ctx *c = ctx;
	int err = policy__rule_decode(d->mv_data, d->mv_size, &c->r);

	(void)k;
	if (err != 0)
		return err;
	if (c->from != NULL && strcmp(c->from->str, c->r.from.str) != 0)
		return 0;
	if (c->to != NULL && strcmp(c->to->str, c->r.to.str) != 0)
		return 0;
	return c->cb(&c->r, c->arg);
}

int
policy_list(struct policy_store *s, const struct policy_selector *from,
    const struct policy_selector *to, policy_rule_cb cb, void *arg)
{
	struct list_ctx *c = malloc(sizeof(*c));
	int err;

	if (c == NULL)
		return POLICY_E_NOMEM;
	c->from = from;
	c->to = to;
	c->cb = cb;
	c->arg = arg;
	err = walk(s, s->rules, list_visit, c);
	free(c);
	return err;
}

int
policy_get(struct policy_store *s, uint64_t id, struct policy_rule *rule)
{
	uint8_t key[8];
	MDB_txn *txn = NULL;
	MDB_val k = { sizeof(key), key }, d;
	struct buf b;
	int rc, err;

	buf_writer(&b, key, sizeof(key));
	buf_put_u64(&b, id);
	if ((err = policy__txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return err;
	rc = mdb_get(txn, s->rules, &k, &d);
	if (rc == MDB_NOTFOUND)
		err = POLICY_E_NOT_FOUND;
	else if (rc != 0)
		err = policy__mdb_err(rc);
	else
		err = policy__rule_decode(d.mv_data, d.mv_size, rule);
	mdb_txn_abort(txn);
	return err;
}

struct audit_ctx {
	policy_audit_cb cb;
	void *arg;
	struct policy_selector sel;
};

static int
audit_visit(const MDB_val *k, const MDB_val *d, void *ctx)
{
	struct audit_ctx *c = ctx;

	(void)k;
	if (policy_selector_parse(d->mv_data, d->mv_size, POLICY_TO, &c->sel, NULL) != 0)
		return POLICY_E_CORRUPT;
	return c->cb(&c->sel, c->arg);
}

int
policy_audit_list(struct policy_store *s, policy_audit_cb cb, void *arg)
{
	struct audit_ctx *c = malloc(sizeof(*c));
	int err;

	if (c == NULL)
		return POLICY_E_NOMEM;
	c->cb = cb;
	c->arg = arg;
	err = walk(s, s->audit, audit_visit, c);
	free(c);
	return err;
}

static int
history_decode(const MDB_val *k, const MDB_val *d, struct policy_history *h)
{
	struct buf b;
	const uint8_t *p;
	uint16_t n;

	memset(h, 0, sizeof(*h));
	buf_reader(&b, k->mv_data, k->mv_size);
	h->revision = buf_get_u64(&b);
	if (!buf_ok(&b) || buf_left(&b) != 0)
		return POLICY_E_CORRUPT;
	buf_reader(&b, d->mv_data, d->mv_size);
	if (buf_get_u8(&b) != 1)
		return POLICY_E_CORRUPT;
	h->time = (int64_t)buf_get_u64(&b);
	n = buf_get_u16(&b);
	if (n >= sizeof(h->who) || (p = buf_get_bytes(&b, n)) == NULL)
		return POLICY_E_CORRUPT;
	memcpy(h->who, p, n);
	n = buf_get_u16(&b);
	if (n >= sizeof(h->what) || (p = buf_get_bytes(&b, n)) == NULL)
		return POLICY_E_CORRUPT;
	memcpy(h->what, p, n);
	return buf_left(&b) == 0 ? 0 : POLICY_E_CORRUPT;
}

int
policy_history_list(struct policy_store *s, size_t n, policy_history_cb cb, void *arg)
{
	struct policy_history *h;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_dbi signed_dbi = 0;
	MDB_val k, d, sd;
	bool has_signed;
	int rc, err;

	h = malloc(sizeof(*h));
	if (h == NULL)
		return POLICY_E_NOMEM;
	if ((err = policy__txn_begin(s, MDB_RDONLY, &txn)) != 0)
		goto out;
	if ((rc = mdb_cursor_open(txn, s->history, &cur)) != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	/* Step back n - 1 entries from the newest, then walk forward. */
	if (n == 0) {
		rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
	} else {
		rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
		for (size_t i = 1; rc == 0 && i < n; i++)
			rc = mdb_cursor_get(cur, &k, &d, MDB_PREV);
		if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
	}
	/* Stores that never took a signed write have no "signed" database. */
	has_signed = mdb_dbi_open(txn, "signed", 0, &signed_dbi) == 0;
	for (; rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if ((err = history_decode(&k, &d, h)) != 0)
			goto out;
		if (has_signed && mdb_get(txn, signed_dbi, &k, &sd) == 0) {
			if (sd.mv_size != POLICY_PUBKEY_LEN) {
				err = POLICY_E_CORRUPT;
				goto out;
			}
			h->is_signed = true;
			memcpy(h->signer, sd.mv_data, POLICY_PUBKEY_LEN);
		}
		if ((err = cb(h, arg)) != 0)
			goto out;
	}
	err = rc == MDB_NOTFOUND ? 0 : policy__mdb_err(rc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(h);
	return err;
}

int
policy_store_verify(struct policy_store *s, size_t *rules, const char **why)
{
	uint8_t key[POLICY_IKEY_LEN], ent[POLICY_ENTRY_MAX];
	struct policy_rule *r;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, d, ik, id;
	MDB_stat ist;
	uint64_t rev = 0, last = 0, next = 0;
	size_t n = 0, entries = 0;
	struct buf b;
	int rc, err;

	*rules = 0;
	*why = NULL;
	r = malloc(sizeof(*r));
	if (r == NULL)
		return POLICY_E_NOMEM;
	if ((err = policy__txn_begin(s, MDB_RDONLY, &txn)) != 0)
		goto out;
	if ((rc = mdb_cursor_open(txn, s->rules, &cur)) != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	/* Every rule decodes, has an id below next_id, and has its index entry. */
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		buf_reader(&b, k.mv_data, k.mv_size);
		if (policy__rule_decode(d.mv_data, d.mv_size, r) != 0 || k.mv_size != 8 ||
		    buf_get_u64(&b) != r->id) {
			*why = "a rule record does not decode or sits under the wrong id";
			err = POLICY_E_CORRUPT;
			goto out;
		}
		id.mv_size = policy__rule_index(s, r, key, ent);
		id.mv_data = ent;
		ik = (MDB_val){ POLICY_IKEY_LEN, key };
		{
			MDB_cursor *ic;

			if ((rc = mdb_cursor_open(txn, s->index, &ic)) != 0) {
				err = policy__mdb_err(rc);
				goto out;
			}
			rc = mdb_cursor_get(ic, &ik, &id, MDB_GET_BOTH);
			mdb_cursor_close(ic);
		}
		if (rc != 0) {
			*why = "a rule has no index entry";
			err = POLICY_E_CORRUPT;
			goto out;
		}
		if (r->id > last)
			last = r->id;
		n++;
	}
	if (rc != MDB_NOTFOUND) {
		err = policy__mdb_err(rc);
		goto out;
	}
	/* As many index entries as rules: none left behind by a revoke. */
	if ((rc = mdb_stat(txn, s->index, &ist)) != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	entries = ist.ms_entries;
	if (entries != n) {
		*why = "the index holds entries for rules that are gone";
		err = POLICY_E_CORRUPT;
		goto out;
	}
	/* The per-destination counts add up to the rules. */
	{
		MDB_cursor *dc;
		size_t sum = 0;

		if ((rc = mdb_cursor_open(txn, s->dsts, &dc)) != 0) {
			err = policy__mdb_err(rc);
			goto out;
		}
		for (rc = mdb_cursor_get(dc, &k, &d, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(dc, &k, &d, MDB_NEXT)) {
			buf_reader(&b, d.mv_data, d.mv_size);
			for (int i = 0; i < POLICY_DST_KINDS; i++)
				sum += buf_get_u32(&b);
		}
		mdb_cursor_close(dc);
		if (sum != n) {
			*why = "the per-destination rule counts do not add up";
			err = POLICY_E_CORRUPT;
			goto out;
		}
	}
	/* The revision matches the newest history entry; next_id is past every id. */
	{
		MDB_val mk = { 8, (void *)(uintptr_t)"revision" };
		MDB_val nk = { 7, (void *)(uintptr_t)"next_id" }, mv;

		if (mdb_get(txn, s->meta, &mk, &mv) != 0 || mv.mv_size != 8 ||
		    mdb_get(txn, s->meta, &nk, &d) != 0 || d.mv_size != 8) {
			*why = "the revision or next id is missing";
			err = POLICY_E_CORRUPT;
			goto out;
		}
		buf_reader(&b, mv.mv_data, 8);
		rev = buf_get_u64(&b);
		buf_reader(&b, d.mv_data, 8);
		next = buf_get_u64(&b);
	}
	if (next <= last) {
		*why = "the next rule id is not past every stored id";
		err = POLICY_E_CORRUPT;
		goto out;
	}
	mdb_cursor_close(cur);
	cur = NULL;
	if ((rc = mdb_cursor_open(txn, s->history, &cur)) != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (rc == MDB_NOTFOUND ? rev != 0 : rc != 0) {
		*why = "the history does not reach the revision";
		err = POLICY_E_CORRUPT;
		goto out;
	}
	if (rc == 0) {
		buf_reader(&b, k.mv_data, k.mv_size);
		if (buf_get_u64(&b) != rev) {
			*why = "the newest history entry is not the current revision";
			err = POLICY_E_CORRUPT;
			goto out;
		}
	}
	*rules = n;
	err = 0;
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	free(r);
	return err;
}
