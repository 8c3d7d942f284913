/*
 * store.c: the LMDB environment and every write to it.
 *
 * Every write is one LMDB transaction that changes rules and index, bumps
 * the revision and appends a history entry, so readers see either all of it
 * or none of it, and a writer killed at any moment leaves the previous
 * state (LMDB commits by a single meta-page write after the data is synced).
 * Concurrent writers are serialised by LMDB's writer lock. When the map
 * fills, the transaction is dropped, the map doubled and the write redone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "common/buf.h"
#include "policy/policy_int.h"

#define K_SCHEMA "schema"
#define K_REVISION "revision"
#define K_NEXT_ID "next_id"
#define K_HASH_KEY "hash_key"
#define K_SIGNERS "signers"

int
policy__mdb_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
		return POLICY_E_MAP_FULL;
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INCOMPATIBLE:
	case MDB_BAD_DBI:
		return POLICY_E_CORRUPT;
	case ENOMEM:
		return POLICY_E_NOMEM;
	default:
		return rc > 0 && rc < 1000 ? -rc : POLICY_E_STORE;
	}
}

static int
get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *v)
{
	MDB_val k = { strlen(name), (void *)(uintptr_t)name }, d;
	struct buf b;
	int rc = mdb_get(txn, dbi, &k, &d);

	*v = 0;
	if (rc != 0)
		return rc == MDB_NOTFOUND ? POLICY_E_CORRUPT : policy__mdb_err(rc);
	buf_reader(&b, d.mv_data, d.mv_size);
	*v = d.mv_size == 4 ? buf_get_u32(&b) : buf_get_u64(&b);
	return d.mv_size == 8 || d.mv_size == 4 ? 0 : POLICY_E_CORRUPT;
}

static int
put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t v, size_t width)
{
	MDB_val k = { strlen(name), (void *)(uintptr_t)name }, d;
	uint8_t raw[8];
	struct buf b;

	buf_writer(&b, raw, sizeof(raw));
	if (width == 4)
		buf_put_u32(&b, (uint32_t)v);
	else
		buf_put_u64(&b, v);
	d.mv_size = width;
	d.mv_data = raw;
	return policy__mdb_err(mdb_put(txn, dbi, &k, &d, 0));
}

/* ---- Opening --------------------------------------------------------------- */

static int
open_dbis(struct policy_store *s, MDB_txn *txn, unsigned flags)
{
	int rc;

	if ((rc = mdb_dbi_open(txn, "meta", flags, &s->meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "rules", flags, &s->rules)) != 0 ||
	    (rc = mdb_dbi_open(txn, "index", flags | MDB_DUPSORT, &s->index)) != 0 ||
	    (rc = mdb_dbi_open(txn, "dsts", flags, &s->dsts)) != 0 ||
	    (rc = mdb_dbi_open(txn, "audit", flags, &s->audit)) != 0 ||
	    (rc = mdb_dbi_open(txn, "history", flags, &s->history)) != 0)
		return rc == MDB_NOTFOUND ? POLICY_E_CORRUPT : policy__mdb_err(rc);
	return 0;
}

/*
 * Whether the environment holds an authd store (1), is empty (0), or holds
 * something else (POLICY_E_CORRUPT). Looks without writing: a foreign LMDB
 * file must never be modified.
 */
static int
probe(MDB_env *env)
{
	MDB_txn *txn = NULL;
	MDB_dbi main_dbi, meta;
	MDB_stat st;
	int rc, ret;

	rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return policy__mdb_err(rc);
	rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
	if (rc == 0)
		rc = mdb_stat(txn, main_dbi, &st);
	if (rc != 0) {
		ret = policy__mdb_err(rc);
	} else if (st.ms_entries == 0) {
		ret = 0;
	} else if (mdb_dbi_open(txn, "meta", 0, &meta) == 0) {
		uint64_t schema;

		ret = get_u64(txn, meta, K_SCHEMA, &schema);
		if (ret == 0)
			ret = schema > POLICY_SCHEMA ? POLICY_E_VERSION : 1;
	} else {
		ret = POLICY_E_CORRUPT;
	}
	mdb_txn_abort(txn);
	return ret;
}

int
policy_store_open(const char *path, unsigned flags, uint64_t map_size, struct policy_store **out)
{
	struct policy_store *s = NULL;
	struct stat st;
	MDB_txn *txn = NULL;
	unsigned env_flags = MDB_NOSUBDIR | MDB_NOTLS;
	int rc, err, dead = 0, found;

	*out = NULL;
	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return -errno;
		if (!(flags & POLICY_OPEN_CREATE) || (flags & POLICY_OPEN_RDONLY))
			return POLICY_E_NO_STORE;
	} else if (!S_ISREG(st.st_mode)) {
		return POLICY_E_CORRUPT;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return POLICY_E_NOMEM;
	s->rdonly = (flags & POLICY_OPEN_RDONLY) != 0;
	s->fixed_map = (flags & POLICY_OPEN_FIXED_MAP) != 0;
	s->map_max = POLICY_MAP_MAX;
	if (s->rdonly)
		env_flags |= MDB_RDONLY;
	if ((rc = mdb_env_create(&s->env)) != 0 || (rc = mdb_env_set_maxdbs(s->env, 16)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, map_size ? map_size : POLICY_MAP_DEFAULT)) != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	rc = mdb_env_open(s->env, path, env_flags, 0644);
	if (rc != 0) {
		err = rc == ENOENT ? POLICY_E_NO_STORE : policy__mdb_err(rc);
		goto out;
	}
	/* Reader slots of processes that died (kill -9) would pin old pages. */
	(void)mdb_reader_check(s->env, &dead);
	found = probe(s->env);
	if (found < 0) {
		err = found;
		goto out;
	}
	if (found == 0 && s->rdonly) {
		err = POLICY_E_NO_STORE;
		goto out;
	}
	rc = mdb_txn_begin(s->env, NULL, s->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	err = open_dbis(s, txn, s->rdonly ? 0 : MDB_CREATE);
	if (err == 0 && found == 0) {
		err = put_u64(txn, s->meta, K_SCHEMA, POLICY_SCHEMA_PLAIN, 4);
		if (err == 0)
			err = put_u64(txn, s->meta, K_REVISION, 0, 8);
		if (err == 0)
			err = put_u64(txn, s->meta, K_NEXT_ID, 1, 8);
		if (err == 0) {
			MDB_val k = { strlen(K_HASH_KEY), (void *)(uintptr_t)K_HASH_KEY };
			MDB_val d = { sizeof(s->hash_key), s->hash_key };

			randombytes_buf(s->hash_key, sizeof(s->hash_key));
			err = policy__mdb_err(mdb_put(txn, s->meta, &k, &d, 0));
		}
	} else if (err == 0) {
		MDB_val k = { strlen(K_HASH_KEY), (void *)(uintptr_t)K_HASH_KEY }, d;

		rc = mdb_get(txn, s->meta, &k, &d);
		if (rc != 0 || d.mv_size != sizeof(s->hash_key))
			err = POLICY_E_CORRUPT;
		else
			memcpy(s->hash_key, d.mv_data, sizeof(s->hash_key));
	}
	if (err != 0) {
		mdb_txn_abort(txn);
		goto out;
	}
	/* Committing (even read-only) keeps the DBI handles for the environment. */
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	*out = s;
	return 0;
out:
	policy_store_close(s);
	return err;
}

void
policy_store_close(struct policy_store *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
}

MDB_env *
policy__store_env(struct policy_store *s)
{
	return s->env;
}

void
policy_store_set_map_max(struct policy_store *s, uint64_t max)
{
	s->map_max = max < POLICY_MAP_MAX ? max : POLICY_MAP_MAX;
}

/*
 * MDB_MAP_RESIZED: another process grew the map past ours. Adopting its
 * size remaps the file, which is only safe with no transaction open in this
 * process; a fixed-map process never does it.
 */
static int
adopt_size(struct policy_store *s)
{
	if (s->fixed_map)
		return POLICY_E_MAP_OUTGROWN;
	return policy__mdb_err(mdb_env_set_mapsize(s->env, 0));
}

int
policy__txn_begin(struct policy_store *s, unsigned mdb_flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, mdb_flags, txn);
	int err;

	if (rc == MDB_MAP_RESIZED) {
		if ((err = adopt_size(s)) != 0)
			return err;
		rc = mdb_txn_begin(s->env, NULL, mdb_flags, txn);
	}
	if (rc != 0)
		*txn = NULL;
	return policy__mdb_err(rc);
}

int
policy__txn_renew(struct policy_store *s, MDB_txn *txn)
{
	int rc = mdb_txn_renew(txn);
	int err;

	if (rc == MDB_MAP_RESIZED) {
		if ((err = adopt_size(s)) != 0)
			return err;
		rc = mdb_txn_renew(txn);
	}
	return policy__mdb_err(rc);
}

int
policy__txn_commit(struct policy_store *s, MDB_txn *txn)
{
	int rc = mdb_txn_commit(txn);
	int fd;

	if (rc == 0 && mdb_env_get_fd(s->env, &fd) == 0)
		(void)futimens(fd, NULL);	/* a watcher wakes late at worst (its tick) */
	return policy__mdb_err(rc);
}

bool
policy__store_grow(struct policy_store *s)
{
	MDB_envinfo info;
	uint64_t to;

	if (s->fixed_map || mdb_env_info(s->env, &info) != 0 || info.me_mapsize >= s->map_max)
		return false;
	to = info.me_mapsize * 2 < s->map_max ? info.me_mapsize * 2 : s->map_max;
	return mdb_env_set_mapsize(s->env, to) == 0;
}

int
policy_store_revision(struct policy_store *s, uint64_t *rev)
{
	MDB_txn *txn;
	int err;

	if ((err = policy__txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return err;
	err = get_u64(txn, s->meta, K_REVISION, rev);
	mdb_txn_abort(txn);
	return err;
}

int
policy_store_size(struct policy_store *s, uint64_t *used, uint64_t *map)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	if ((rc = mdb_env_info(s->env, &info)) != 0 || (rc = mdb_env_stat(s->env, &st)) != 0)
		return policy__mdb_err(rc);
	*used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	*map = info.me_mapsize;
	return 0;
}

/* ---- Writing ----------------------------------------------------------------- */

/* One write transaction in progress. */
struct wtx {
	struct policy_store *s;
	MDB_txn *txn;
	int64_t now;
	const struct policy_actor *actor;
	bool changed;		/* anything written: commit, bump the revision */
	bool is_signed;		/* signed by signer: recorded with the revision */
	uint8_t signer[POLICY_PUBKEY_LEN];
	char what[POLICY_HISTORY_WHAT_MAX + 1];
};

typedef int (*write_fn)(struct wtx *w, void *ctx);

static void
what_set(struct wtx *w, const char *fmt, ...) AD_PRINTF(2, 3);

static void
what_set(struct wtx *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->what, sizeof(w->what), fmt, ap);
	va_end(ap);
}

static int
history_append(struct wtx *w, uint64_t rev, const char *who)
{
	uint8_t key[8], val[16 + 128 + POLICY_HISTORY_WHAT_MAX];
	size_t wlen = strnlen(who, 127), tlen = strlen(w->what);
	struct buf kb, vb;
	MDB_val k, d;

	buf_writer(&kb, key, sizeof(key));
	buf_put_u64(&kb, rev);
	buf_writer(&vb, val, sizeof(val));
	buf_put_u8(&vb, 1);
	buf_put_u64(&vb, (uint64_t)w->now);
	buf_put_u16(&vb, (uint16_t)wlen);
	buf_put_bytes(&vb, who, wlen);
	buf_put_u16(&vb, (uint16_t)tlen);
	buf_put_bytes(&vb, w->what, tlen);
	if (!buf_ok(&vb))
		return POLICY_E_TOO_BIG;
	k = (MDB_val){ sizeof(key), key };
	d = (MDB_val){ vb.off, val };
	return policy__mdb_err(mdb_put(w->txn, w->s->history, &k, &d, MDB_APPEND));
}

/*
 * What a write is, for a store that accepts only signed changes: an edit
 * nobody can sign (add, revoke, audit), a change signed over msg (apply),
 * a change of the keys (checked by do_signers itself), or nothing to
 * enforce (a dry run, which never commits).
 */
enum write_kind { W_EDIT, W_SIGNABLE, W_SIGNERS, W_DRY };

static int
signers_load(MDB_txn *txn, const struct policy_store *s, struct policy_signers *out)
{
	MDB_val k = { strlen(K_SIGNERS), (void *)(uintptr_t)K_SIGNERS }, d;
	int rc = mdb_get(txn, s->meta, &k, &d);

	memset(out, 0, sizeof(*out));
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return policy__mdb_err(rc);
	if (d.mv_size == 0 || d.mv_size % POLICY_PUBKEY_LEN != 0 ||
	    d.mv_size / POLICY_PUBKEY_LEN > POLICY_SIGNERS_MAX)
		return POLICY_E_CORRUPT;
	out->n = d.mv_size / POLICY_PUBKEY_LEN;
	memcpy(out->key, d.mv_data, d.mv_size);
	return 0;
}

/* Which of keys signed msg: 0 and its index, or POLICY_E_SIGNATURE. */
static int
verify_any(const struct policy_signers *keys, const uint8_t *msg, size_t len,
    const struct policy_actor *a, size_t *which)
{
	for (size_t i = 0; i < keys->n; i++) {
		int err = policy_verify_key(keys->key[i], msg, len, a->sig, a->siglen);

		if (err == 0) {
			*which = i;
			return 0;
		}
		if (err != POLICY_E_SIGNATURE)
			return err;
	}
	return POLICY_E_SIGNATURE;
}

/* The store's answer to an unsigned or signed write, in its transaction. */
static int
signed_check(struct wtx *w, const struct policy_actor *a, enum write_kind kind,
    const uint8_t *msg, size_t len)
{
	struct policy_signers cur;
	size_t i = 0;
	int err;

	if (kind == W_DRY || kind == W_SIGNERS)
		return 0;
	if ((err = signers_load(w->txn, w->s, &cur)) != 0)
		return err;
	if (cur.n > 0) {
		if (kind == W_EDIT || a->sig == NULL)
			return POLICY_E_UNSIGNED;
		if ((err = verify_any(&cur, msg, len, a, &i)) != 0)
			return err;
		memcpy(w->signer, cur.key[i], POLICY_PUBKEY_LEN);
		w->is_signed = true;
	} else if (a->sig != NULL) {
		/* Not required here, but a signed apply is recorded as signed. */
		if (kind == W_EDIT || a->pub == NULL)
			return POLICY_E_INVAL;
		if ((err = policy_verify_key(a->pub, msg, len, a->sig, a->siglen)) != 0)
			return err;
		memcpy(w->signer, a->pub, POLICY_PUBKEY_LEN);
		w->is_signed = true;
	}
	return 0;
}

/* The signer of a revision, in the "signed" database (revision -> key). */
static int
signed_append(struct wtx *w, uint64_t rev)
{
	uint8_t key[8];
	struct buf kb;
	MDB_dbi dbi;
	MDB_val k, d;
	int rc;

	if ((rc = mdb_dbi_open(w->txn, "signed", MDB_CREATE, &dbi)) != 0)
		return policy__mdb_err(rc);
	buf_writer(&kb, key, sizeof(key));
	buf_put_u64(&kb, rev);
	k = (MDB_val){ sizeof(key), key };
	d = (MDB_val){ POLICY_PUBKEY_LEN, w->signer };
	return policy__mdb_err(mdb_put(w->txn, dbi, &k, &d, MDB_APPEND));
}

static int
store_write(struct policy_store *s, write_fn fn, void *ctx, const struct policy_actor *actor,
    enum write_kind kind, const uint8_t *msg, size_t len)
{
	struct wtx w;
	uint64_t rev;
	int err;

	if (s->rdonly)
		return POLICY_E_INVAL;
	for (;;) {
		memset(&w, 0, sizeof(w));
		w.s = s;
		w.now = actor->now;
		w.actor = actor;
		if ((err = policy__txn_begin(s, 0, &w.txn)) != 0)
			return err;
		err = signed_check(&w, actor, kind, msg, len);
		if (err == 0)
			err = fn(&w, ctx);
		if (err == 0 && w.changed) {
			err = get_u64(w.txn, s->meta, K_REVISION, &rev);
			if (err == 0)
				err = put_u64(w.txn, s->meta, K_REVISION, ++rev, 8);
			if (err == 0)
				err = history_append(&w, rev, actor->who ? actor->who : "unknown");
			if (err == 0 && w.is_signed)
				err = signed_append(&w, rev);
			if (err == 0) {
				err = policy__txn_commit(s, w.txn);
				w.txn = NULL;
			}
		}
		if (w.txn != NULL)
			mdb_txn_abort(w.txn);
		/* Nothing was written; grow the map and do it all again. */
		if (err == POLICY_E_MAP_FULL && policy__store_grow(s))
			continue;
		return err;
	}
}

static int
next_id(struct wtx *w, uint64_t *id)
{
	int err = get_u64(w->txn, w->s->meta, K_NEXT_ID, id);

	return err != 0 ? err : put_u64(w->txn, w->s->meta, K_NEXT_ID, *id + 1, 8);
}

static int
rule_key(uint64_t id, uint8_t key[8], MDB_val *k)
{
	struct buf b;

	buf_writer(&b, key, 8);
	buf_put_u64(&b, id);
	*k = (MDB_val){ 8, key };
	return 0;
}

/*
 * Count, per destination, the rules for each kind of source selector, so a
 * check skips destinations nobody protects and source kinds no rule names.
 * The value is four u32 counts: exact, namespace, trust domain, any.
 */
static int
dst_count(struct wtx *w, const uint8_t key[static POLICY_IKEY_LEN], enum policy_sel_kind kind,
    int delta)
{
	MDB_val k = { POLICY_DKEY_LEN, (void *)(uintptr_t)key }, d;
	uint32_t n[POLICY_DST_KINDS] = { 0 }, total = 0;
	uint8_t raw[4 * POLICY_DST_KINDS];
	struct buf b;
	int rc = mdb_get(w->txn, w->s->dsts, &k, &d);

	if (rc == 0 && d.mv_size == sizeof(raw)) {
		buf_reader(&b, d.mv_data, d.mv_size);
		for (int i = 0; i < POLICY_DST_KINDS; i++)
			n[i] = buf_get_u32(&b);
	} else if (rc != MDB_NOTFOUND) {
		return rc == 0 ? POLICY_E_CORRUPT : policy__mdb_err(rc);
	}
	if ((unsigned)kind >= POLICY_DST_KINDS || (delta < 0 && n[kind] == 0))
		return POLICY_E_CORRUPT;
	n[kind] = delta < 0 ? n[kind] - 1 : n[kind] + 1;
	for (int i = 0; i < POLICY_DST_KINDS; i++)
		total += n[i];
	if (total == 0)
		return policy__mdb_err(mdb_del(w->txn, w->s->dsts, &k, NULL));
	buf_writer(&b, raw, sizeof(raw));
	for (int i = 0; i < POLICY_DST_KINDS; i++)
		buf_put_u32(&b, n[i]);
	d = (MDB_val){ sizeof(raw), raw };
	return policy__mdb_err(mdb_put(w->txn, w->s->dsts, &k, &d, 0));
}

/* Insert rule (id already set, above every stored id) into rules and index. */
static int
rule_insert(struct wtx *w, const struct policy_rule *r)
{
	uint8_t rec[POLICY_RECORD_MAX], key[POLICY_IKEY_LEN], ent[POLICY_ENTRY_MAX], idk[8];
	size_t len;
	MDB_val k, d;
	int err;

	err = policy__rule_encode(r, false, rec, sizeof(rec), &len);
	if (err != 0)
		return err;
	(void)rule_key(r->id, idk, &k);
	d = (MDB_val){ len, rec };
	/* Ids only grow, so every insert appends: full pages, no splits. */
	err = policy__mdb_err(mdb_put(w->txn, w->s->rules, &k, &d, MDB_APPEND));
	if (err != 0)
		return err;
	len = policy__rule_index(w->s, r, key, ent);
	k = (MDB_val){ POLICY_IKEY_LEN, key };
	d = (MDB_val){ len, ent };
	err = policy__mdb_err(mdb_put(w->txn, w->s->index, &k, &d, MDB_NODUPDATA));
	if (err == 0)
		err = dst_count(w, key, r->from.kind, +1);
	w->changed = true;
	return err;
}

static int
rule_load(MDB_txn *txn, struct policy_store *s, uint64_t id, struct policy_rule *r)
{
	uint8_t idk[8];
	MDB_val k, d;
	int rc;

	(void)rule_key(id, idk, &k);
	rc = mdb_get(txn, s->rules, &k, &d);
	if (rc == MDB_NOTFOUND)
		return POLICY_E_NOT_FOUND;
	if (rc != 0)
		return policy__mdb_err(rc);
	return policy__rule_decode(d.mv_data, d.mv_size, r);
}

/* Remove a rule (already loaded into r) from rules and index. */
static int
rule_delete(struct wtx *w, const struct policy_rule *r)
{
	uint8_t key[POLICY_IKEY_LEN], ent[POLICY_ENTRY_MAX], idk[8];
	MDB_val k, d;
	size_t len;
	int rc;

	(void)rule_key(r->id, idk, &k);
	rc = mdb_del(w->txn, w->s->rules, &k, NULL);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? POLICY_E_CORRUPT : policy__mdb_err(rc);
	len = policy__rule_index(w->s, r, key, ent);
	k = (MDB_val){ POLICY_IKEY_LEN, key };
	d = (MDB_val){ len, ent };
	rc = mdb_del(w->txn, w->s->index, &k, &d);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? POLICY_E_CORRUPT : policy__mdb_err(rc);
	w->changed = true;
	return dst_count(w, key, r->from.kind, -1);
}

/*
 * The id of a stored rule identical to r (same selectors, so the same index
 * key), or 0. Bounded by the rules sharing that (destination, source) pair.
 */
static int
find_same(MDB_txn *txn, struct policy_store *s, const struct policy_rule *r, uint64_t *id,
    struct policy_rule *scratch)
{
	uint8_t key[POLICY_IKEY_LEN], ent[POLICY_ENTRY_MAX];
	MDB_cursor *c;
	MDB_val k, d;
	int rc, err = 0;

	*id = 0;
	(void)policy__rule_index(s, r, key, ent);
	k = (MDB_val){ POLICY_IKEY_LEN, key };
	rc = mdb_cursor_open(txn, s->index, &c);
	if (rc != 0)
		return policy__mdb_err(rc);
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_KEY); rc == 0;
	     rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_DUP)) {
		struct buf b;
		uint64_t cand;

		if (d.mv_size < POLICY_ENTRY_PORTS ||
		    memcmp((uint8_t *)d.mv_data + POLICY_ENTRY_CHECK, ent + POLICY_ENTRY_CHECK, 8) != 0)
			continue;
		buf_reader(&b, d.mv_data, d.mv_size);
		cand = buf_get_u64(&b);
		err = rule_load(txn, s, cand, scratch);
		if (err != 0)
			break;
		if (policy_rule_same(scratch, r)) {
			*id = cand;
			break;
		}
	}
	if (err == 0 && rc != 0 && rc != MDB_NOTFOUND)
		err = policy__mdb_err(rc);
	mdb_cursor_close(c);
	return err == POLICY_E_NOT_FOUND ? POLICY_E_CORRUPT : err;
}

struct add_ctx {
	struct policy_rule *rule;
	struct policy_rule scratch;
};

static int
do_add(struct wtx *w, void *arg)
{
	struct add_ctx *a = arg;
	struct policy_rule *r = a->rule;
	char ports[POLICY_PORTS_FMT_MAX];
	uint64_t existing;
	int err;

	err = find_same(w->txn, w->s, r, &existing, &a->scratch);
	if (err != 0)
		return err;
	if (existing != 0) {
		r->id = existing;
		r->created = a->scratch.created;
		return 0;
	}
	err = next_id(w, &r->id);
	if (err != 0)
		return err;
	r->created = w->now;
	err = rule_insert(w, r);
	policy_ports_format(&r->ports, ports, sizeof(ports));
	what_set(w, "allow #%llu from %s to %s ports %s%s%s", (unsigned long long)r->id,
	    r->from.str, r->to.str, ports, r->expires ? " until " : "",
	    r->expires ? "(expiring)" : "");
	return err;
}

int
policy_add(struct policy_store *s, struct policy_rule *rule, const struct policy_actor *actor)
{
	struct add_ctx *a;
	int err;

	if (rule->ports.n == 0 || rule->from.len == 0 || rule->to.len == 0 ||
	    rule->to.kind == POLICY_SEL_ANY)
		return POLICY_E_INVAL;
	if (rule->expires != 0 && rule->expires <= actor->now)
		return POLICY_E_EXPIRED;
	a = malloc(sizeof(*a));
	if (a == NULL)
		return POLICY_E_NOMEM;
	a->rule = rule;
	err = store_write(s, do_add, a, actor, W_EDIT, NULL, 0);
	free(a);
	return err;
}

struct revoke_ctx {
	uint64_t id;
	const struct policy_selector *from, *to;
	size_t n;
	struct policy_rule r;
};

static int
do_revoke(struct wtx *w, void *arg)
{
	struct revoke_ctx *c = arg;
	int err = rule_load(w->txn, w->s, c->id, &c->r);

	if (err == 0)
		err = rule_delete(w, &c->r);
	what_set(w, "revoke #%llu (from %s to %s)", (unsigned long long)c->id, c->r.from.str,
	    c->r.to.str);
	return err;
}

int
policy_revoke(struct policy_store *s, uint64_t id, const struct policy_actor *actor)
{
	struct revoke_ctx *c = calloc(1, sizeof(*c));
	int err;

	if (c == NULL)
		return POLICY_E_NOMEM;
	c->id = id;
	err = store_write(s, do_revoke, c, actor, W_EDIT, NULL, 0);
	free(c);
	return err;
}

static int
do_revoke_match(struct wtx *w, void *arg)
{
	struct revoke_ctx *c = arg;
	uint8_t key[POLICY_IKEY_LEN], hd[POLICY_HASH_LEN], hs[POLICY_HASH_LEN];
	uint64_t ids[256];
	size_t n = 0;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, err = 0;

	c->n = 0;
	/* Collect first: deleting under the cursor would skip entries. */
	policy__hash(w->s->hash_key, c->to->str, c->to->len, hd);
	policy__hash(w->s->hash_key, c->from->str, c->from->len, hs);
	policy__index_key(hd, hs, key);
	k = (MDB_val){ POLICY_IKEY_LEN, key };
	rc = mdb_cursor_open(w->txn, w->s->index, &cur);
	if (rc != 0)
		return policy__mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY); rc == 0 && n < AD_ARRAY_LEN(ids);
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT_DUP)) {
		struct buf b;

		buf_reader(&b, d.mv_data, d.mv_size);
		ids[n++] = buf_get_u64(&b);
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return policy__mdb_err(rc);
	if (n == AD_ARRAY_LEN(ids))
		return POLICY_E_TOO_BIG;
	for (size_t i = 0; i < n && err == 0; i++) {
		err = rule_load(w->txn, w->s, ids[i], &c->r);
		/* A hashed key could in theory be shared: match the selectors themselves. */
		if (err == 0 && strcmp(c->r.from.str, c->from->str) == 0 &&
		    strcmp(c->r.to.str, c->to->str) == 0) {
			err = rule_delete(w, &c->r);
			c->n++;
		}
	}
	if (err == 0 && c->n == 0)
		err = POLICY_E_NOT_FOUND;
	what_set(w, "revoke %zu rule%s from %s to %s", c->n, c->n == 1 ? "" : "s", c->from->str,
	    c->to->str);
	return err;
}

int
policy_revoke_match(struct policy_store *s, const struct policy_selector *from,
    const struct policy_selector *to, size_t *n, const struct policy_actor *actor)
{
	struct revoke_ctx *c = calloc(1, sizeof(*c));
	int err;

	*n = 0;
	if (c == NULL)
		return POLICY_E_NOMEM;
	c->from = from;
	c->to = to;
	err = store_write(s, do_revoke_match, c, actor, W_EDIT, NULL, 0);
	if (err == 0)
		*n = c->n;
	free(c);
	return err;
}

struct audit_ctx {
	const struct policy_selector *to;
	bool on;
};

static int
do_audit(struct wtx *w, void *arg)
{
	struct audit_ctx *a = arg;
	uint8_t key[POLICY_HASH_LEN];
	MDB_val k = { POLICY_DKEY_LEN, key }, d;
	int rc;

	policy__hash(w->s->hash_key, a->to->str, a->to->len, key);
	if (a->on) {
		rc = mdb_get(w->txn, w->s->audit, &k, &d);
		if (rc == 0)
			return 0;
		d = (MDB_val){ a->to->len, (void *)(uintptr_t)a->to->str };
		rc = mdb_put(w->txn, w->s->audit, &k, &d, 0);
	} else {
		rc = mdb_del(w->txn, w->s->audit, &k, NULL);
		if (rc == MDB_NOTFOUND)
			return 0;
	}
	if (rc != 0)
		return policy__mdb_err(rc);
	w->changed = true;
	what_set(w, "audit %s %s", a->on ? "on" : "off", a->to->str);
	return 0;
}

int
policy_audit_set(struct policy_store *s, const struct policy_selector *to, bool on,
    const struct policy_actor *actor)
{
	struct audit_ctx a = { to, on };

	if (to->kind == POLICY_SEL_ANY)
		return POLICY_E_INVAL;
	return store_write(s, do_audit, &a, actor, W_EDIT, NULL, 0);
}

/* ---- apply ------------------------------------------------------------------ */

/* A rule reduced to its content (record without id and creation time). */
struct keyed {
	uint8_t *key;
	size_t len;
	uint64_t id;		/* existing rules: the stored id */
	size_t idx;		/* new rules: index into the set; removed: record copy */
	bool matched;
};

struct apply_ctx {
	const struct policy_rule *rules;
	size_t n;
	const struct policy_selector *audit;
	size_t naudit;
	bool dry_run;
	struct keyed *old, *new;
	size_t nold, nnew;
	uint64_t *new_ids;		/* id given to each added rule (by set index) */
	struct policy_selector *audit_off;
	size_t naudit_off;
	bool *audit_on;			/* per set audit entry: newly turned on */
	size_t added, removed;
	struct policy_rule scratch;
};

static int
keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	return util_bytes_cmp(x->key, x->len, y->key, y->len);
}

static void
keyed_free(struct keyed *k, size_t n)
{
	for (size_t i = 0; k != NULL && i < n; i++)
		free(k[i].key);
	free(k);
}

static void
apply_reset(struct apply_ctx *c)
{
	keyed_free(c->old, c->nold);
	keyed_free(c->new, c->nnew);
	free(c->audit_off);
	c->old = c->new = NULL;
	c->audit_off = NULL;
	c->nold = c->nnew = c->naudit_off = c->added = c->removed = 0;
}

static int
keyed_dup(struct keyed *k, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	k->key = malloc(alen + blen + 1);
	if (k->key == NULL)
		return POLICY_E_NOMEM;
	memcpy(k->key, a, alen);
	if (blen > 0)
		memcpy(k->key + alen, b, blen);
	k->len = alen + blen;
	return 0;
}

/* Every stored rule as (content key, id); the record is [v][id][created][content]. */
static int
load_old(struct wtx *w, struct apply_ctx *c)
{
	MDB_cursor *cur;
	MDB_val k, d;
	MDB_stat st;
	int rc, err = 0;

	rc = mdb_stat(w->txn, w->s->rules, &st);
	if (rc != 0)
		return policy__mdb_err(rc);
	c->old = calloc(st.ms_entries + 1, sizeof(*c->old));
	if (c->old == NULL)
		return POLICY_E_NOMEM;
	rc = mdb_cursor_open(w->txn, w->s->rules, &cur);
	if (rc != 0)
		return policy__mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && c->nold < st.ms_entries;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *p = d.mv_data;
		struct buf b;

		if (d.mv_size < 17 || k.mv_size != 8) {
			err = POLICY_E_CORRUPT;
			break;
		}
		buf_reader(&b, k.mv_data, 8);
		c->old[c->nold].id = buf_get_u64(&b);
		err = keyed_dup(&c->old[c->nold], p, 1, p + 17, d.mv_size - 17);
		if (err != 0)
			break;
		c->nold++;
	}
	mdb_cursor_close(cur);
	if (err == 0 && rc != 0 && rc != MDB_NOTFOUND)
		err = policy__mdb_err(rc);
	return err;
}

static int
load_new(struct apply_ctx *c)
{
	uint8_t rec[POLICY_RECORD_MAX];
	size_t len;
	int err;

	c->new = calloc(c->n + 1, sizeof(*c->new));
	if (c->new == NULL)
		return POLICY_E_NOMEM;
	for (size_t i = 0; i < c->n; i++) {
		err = policy__rule_encode(&c->rules[i], true, rec, sizeof(rec), &len);
		if (err == 0)
			err = keyed_dup(&c->new[i], rec, len, NULL, 0);
		if (err != 0)
			return err;
		c->new[i].idx = i;
		c->nnew++;
	}
	return 0;
}

static int
apply_audit(struct wtx *w, struct apply_ctx *c)
{
	uint8_t key[POLICY_HASH_LEN];
	MDB_cursor *cur;
	MDB_val k, d;
	MDB_stat st;
	int rc, err = 0;

	/* Destinations to turn off: stored but not in the set. */
	rc = mdb_stat(w->txn, w->s->audit, &st);
	if (rc != 0)
		return policy__mdb_err(rc);
	c->audit_off = calloc(st.ms_entries + 1, sizeof(*c->audit_off));
	if (c->audit_off == NULL)
		return POLICY_E_NOMEM;
	rc = mdb_cursor_open(w->txn, w->s->audit, &cur);
	if (rc != 0)
		return policy__mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		struct policy_selector *sel = &c->audit_off[c->naudit_off];
		bool keep = false;

		if (c->naudit_off >= st.ms_entries ||
		    policy_selector_parse(d.mv_data, d.mv_size, POLICY_TO, sel, NULL) != 0) {
			err = POLICY_E_CORRUPT;
			break;
		}
		for (size_t i = 0; i < c->naudit && !keep; i++)
			keep = strcmp(c->audit[i].str, sel->str) == 0;
		if (!keep)
			c->naudit_off++;
	}
	mdb_cursor_close(cur);
	if (err == 0 && rc != 0 && rc != MDB_NOTFOUND)
		err = policy__mdb_err(rc);
	for (size_t i = 0; err == 0 && i < c->naudit; i++) {
		policy__hash(w->s->hash_key, c->audit[i].str, c->audit[i].len, key);
		k = (MDB_val){ POLICY_DKEY_LEN, key };
		rc = mdb_get(w->txn, w->s->audit, &k, &d);
		c->audit_on[i] = rc == MDB_NOTFOUND;
		if (rc != 0 && rc != MDB_NOTFOUND)
			err = policy__mdb_err(rc);
		if (err == 0 && c->audit_on[i] && !c->dry_run) {
			d = (MDB_val){ c->audit[i].len, (void *)(uintptr_t)c->audit[i].str };
			err = policy__mdb_err(mdb_put(w->txn, w->s->audit, &k, &d, 0));
			w->changed = true;
		}
	}
	for (size_t i = 0; err == 0 && !c->dry_run && i < c->naudit_off; i++) {
		policy__hash(w->s->hash_key, c->audit_off[i].str, c->audit_off[i].len, key);
		k = (MDB_val){ POLICY_DKEY_LEN, key };
		err = policy__mdb_err(mdb_del(w->txn, w->s->audit, &k, NULL));
		w->changed = true;
	}
	return err;
}

/* An added rule's place in the index, so inserts can go in index order. */
struct placed {
	uint8_t key[POLICY_IKEY_LEN];
	size_t idx;
};

static int
placed_cmp(const void *a, const void *b)
{
	return memcmp(((const struct placed *)a)->key, ((const struct placed *)b)->key,
	    POLICY_IKEY_LEN);
}

/*
 * Insert the set's unmatched rules in index-key order: LMDB then fills
 * index pages instead of splitting them half-empty, which keeps the index
 * small and shallow for the checks.
 */
static int
insert_added(struct wtx *w, struct apply_ctx *c)
{
	uint8_t ent[POLICY_ENTRY_MAX];
	struct placed *p;
	uint64_t id = 0;
	size_t n = 0;
	int err = 0;

	p = calloc(c->added + 1, sizeof(*p));
	if (p == NULL)
		return POLICY_E_NOMEM;
	for (size_t j = 0; j < c->nnew; j++) {
		if (c->new[j].matched)
			continue;
		p[n].idx = c->new[j].idx;
		(void)policy__rule_index(w->s, &c->rules[p[n].idx], p[n].key, ent);
		n++;
	}
	qsort(p, n, sizeof(*p), placed_cmp);
	err = get_u64(w->txn, w->s->meta, K_NEXT_ID, &id);
	for (size_t i = 0; i < n && err == 0; i++) {
		struct policy_rule *r = &c->scratch;

		*r = c->rules[p[i].idx];
		r->id = id++;
		r->created = w->now;
		err = rule_insert(w, r);
		c->new_ids[p[i].idx] = r->id;
	}
	if (err == 0)
		err = put_u64(w->txn, w->s->meta, K_NEXT_ID, id, 8);
	free(p);
	return err;
}

static int
do_apply(struct wtx *w, void *arg)
{
	struct apply_ctx *c = arg;
	size_t i = 0, j = 0, audit_on = 0;
	int err;

	apply_reset(c);
	if ((err = load_old(w, c)) != 0 || (err = load_new(c)) != 0)
		return err;
	qsort(c->old, c->nold, sizeof(*c->old), keyed_cmp);
	qsort(c->new, c->nnew, sizeof(*c->new), keyed_cmp);
	/* Merge: equal content keeps the stored rule and its id. */
	while (i < c->nold || j < c->nnew) {
		int cmp = i == c->nold ? 1 : j == c->nnew ? -1 : keyed_cmp(&c->old[i], &c->new[j]);

		if (cmp == 0) {
			c->old[i].matched = c->new[j].matched = true;
			c->new_ids[c->new[j].idx] = c->old[i].id;
			/* The same rule twice in the set is one rule. */
			while (j + 1 < c->nnew && keyed_cmp(&c->new[j], &c->new[j + 1]) == 0)
				c->new[++j].matched = true;
			i++;
			j++;
		} else if (cmp < 0) {
			i++;
		} else {
			while (j + 1 < c->nnew && keyed_cmp(&c->new[j], &c->new[j + 1]) == 0)
				c->new[++j].matched = true;
			j++;
		}
	}
	for (i = 0; i < c->nold; i++) {
		if (c->old[i].matched)
			continue;
		c->removed++;
		if (c->dry_run)
			continue;
		err = rule_load(w->txn, w->s, c->old[i].id, &c->scratch);
		if (err == 0)
			err = rule_delete(w, &c->scratch);
		if (err != 0)
			return err;
	}
	for (j = 0; j < c->nnew; j++)
		c->added += !c->new[j].matched;
	if (!c->dry_run && c->added > 0) {
		err = insert_added(w, c);
		if (err != 0)
			return err;
	}
	err = apply_audit(w, c);
	for (i = 0; i < c->naudit; i++)
		audit_on += c->audit_on[i];
	what_set(w, "apply: %zu added, %zu removed, audit %zu on %zu off; %zu rules", c->added,
	    c->removed, audit_on, c->naudit_off, c->nnew);
	return err;
}

/* Report the changes apply made (or would make), after it is settled. */
static int
apply_report(struct apply_ctx *c, policy_change_cb cb, void *arg)
{
	struct policy_change ch;
	size_t j;

	if (cb == NULL)
		return 0;
	for (size_t i = 0; i < c->nold; i++) {
		uint8_t rec[POLICY_RECORD_MAX];

		if (c->old[i].matched)
			continue;
		/* Rebuild [v][id][created][content] to decode what was removed. */
		if (c->old[i].len + 16 > sizeof(rec))
			return POLICY_E_CORRUPT;
		rec[0] = c->old[i].key[0];
		memset(rec + 1, 0, 16);
		memcpy(rec + 17, c->old[i].key + 1, c->old[i].len - 1);
		for (int b = 0; b < 8; b++)
			rec[1 + b] = (uint8_t)(c->old[i].id >> (56 - 8 * b));
		if (policy__rule_decode(rec, c->old[i].len + 16, &c->scratch) != 0)
			return POLICY_E_CORRUPT;
		ch = (struct policy_change){ .op = POLICY_CHANGE_REMOVE, .rule = &c->scratch };
		cb(&ch, arg);
	}
	for (j = 0; j < c->nnew; j++) {
		if (c->new[j].matched)
			continue;
		c->scratch = c->rules[c->new[j].idx];
		c->scratch.id = c->dry_run ? 0 : c->new_ids[c->new[j].idx];
		ch = (struct policy_change){ .op = POLICY_CHANGE_ADD, .rule = &c->scratch };
		cb(&ch, arg);
	}
	for (j = 0; j < c->naudit; j++) {
		if (!c->audit_on[j])
			continue;
		ch = (struct policy_change){ .op = POLICY_CHANGE_AUDIT_ON, .to = &c->audit[j] };
		cb(&ch, arg);
	}
	for (j = 0; j < c->naudit_off; j++) {
		ch = (struct policy_change){ .op = POLICY_CHANGE_AUDIT_OFF, .to = &c->audit_off[j] };
		cb(&ch, arg);
	}
	return 0;
}

int
policy_apply(struct policy_store *s, const struct policy_rule *rules, size_t n,
    const struct policy_selector *audit, size_t naudit, bool dry_run, policy_change_cb cb,
    void *arg, size_t *changes, const struct policy_actor *actor)
{
	struct apply_ctx *c;
	char *canon = NULL;
	size_t clen = 0;
	int err;

	*changes = 0;
	for (size_t i = 0; i < n; i++) {
		if (rules[i].ports.n == 0 || rules[i].to.kind == POLICY_SEL_ANY)
			return POLICY_E_INVAL;
		if (rules[i].expires != 0 && rules[i].expires <= actor->now)
			return POLICY_E_EXPIRED;
	}
	for (size_t i = 0; i < naudit; i++)
		if (audit[i].kind == POLICY_SEL_ANY)
			return POLICY_E_INVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return POLICY_E_NOMEM;
	c->rules = rules;
	c->n = n;
	c->audit = audit;
	c->naudit = naudit;
	c->dry_run = dry_run;
	c->new_ids = calloc(n + 1, sizeof(*c->new_ids));
	c->audit_on = calloc(naudit + 1, sizeof(*c->audit_on));
	if (c->new_ids == NULL || c->audit_on == NULL) {
		err = POLICY_E_NOMEM;
		goto out;
	}
	/* A signature covers the canonical text of exactly this set. */
	if (actor->sig != NULL && !dry_run) {
		struct policy_set set = { (struct policy_rule *)(uintptr_t)rules, n,
			(struct policy_selector *)(uintptr_t)audit, naudit };

		if ((err = policy_set_canonical(&set, &canon, &clen)) != 0)
			goto out;
	}
	err = store_write(s, do_apply, c, actor, dry_run ? W_DRY : W_SIGNABLE,
	    (const uint8_t *)canon, clen);
	if (err == 0) {
		size_t on = 0;

		for (size_t i = 0; i < naudit; i++)
			on += c->audit_on[i];
		*changes = c->added + c->removed + on + c->naudit_off;
		err = apply_report(c, cb, arg);
	}
out:
	free(canon);
	apply_reset(c);
	free(c->new_ids);
	free(c->audit_on);
	free(c);
	return err;
}

/* ---- Keys for signed-only stores ----------------------------------------------- */

int
policy_signers_get(struct policy_store *s, struct policy_signers *out)
{
	MDB_txn *txn;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = policy__txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return err;
	err = signers_load(txn, s, out);
	mdb_txn_abort(txn);
	return err;
}

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, POLICY_PUBKEY_LEN);
}

/* Sorted, without duplicates: the same keys are the same set in any order. */
static void
signers_normalize(const struct policy_signers *in, struct policy_signers *out)
{
	*out = *in;
	if (out->n > POLICY_SIGNERS_MAX)
		out->n = POLICY_SIGNERS_MAX;
	qsort(out->key, out->n, POLICY_PUBKEY_LEN, key_cmp);
	for (size_t i = 1; i < out->n;) {
		if (key_cmp(out->key[i - 1], out->key[i]) == 0) {
			memmove(out->key[i], out->key[i + 1], (out->n - i - 1) * POLICY_PUBKEY_LEN);
			out->n--;
		} else {
			i++;
		}
	}
}

/*
 * What a change of keys is signed over: the store (an id derived one-way
 * from its secret hash key, so it is not disclosed), the revision the
 * change applies to, and the new keys.
 */
static int
statement_build(const struct policy_store *s, uint64_t rev, const struct policy_signers *next,
    char **out, size_t *len)
{
	static const char ctx[] = "authd store id";
	uint8_t id[16];
	char hex[2 * sizeof(id) + 1], b64[POLICY_PUBKEY_B64_LEN + 1];
	size_t cap = 128 + next->n * (POLICY_PUBKEY_B64_LEN + 1), off;
	char *p;
	int k;

	if (crypto_generichash(id, sizeof(id), (const uint8_t *)ctx, sizeof(ctx) - 1, s->hash_key,
	    sizeof(s->hash_key)) != 0)
		return POLICY_E_INVAL;
	sodium_bin2hex(hex, sizeof(hex), id, sizeof(id));
	if ((p = malloc(cap)) == NULL)
		return POLICY_E_NOMEM;
	k = snprintf(p, cap, "authd.io/v1 require-signed\nstore %s\nrevision %llu\nkeys", hex,
	    (unsigned long long)rev);
	off = k > 0 ? (size_t)k : 0;
	for (size_t i = 0; i < next->n; i++) {
		policy_pubkey_format(next->key[i], b64);
		k = snprintf(p + off, cap - off, " %s", b64);
		off += k > 0 ? (size_t)k : 0;
	}
	k = snprintf(p + off, cap - off, "%s\n", next->n == 0 ? " none" : "");
	off += k > 0 ? (size_t)k : 0;
	*out = p;
	*len = off;
	return 0;
}

int
policy_signers_statement(struct policy_store *s, const struct policy_signers *next, char **out,
    size_t *len)
{
	struct policy_signers norm;
	MDB_txn *txn;
	uint64_t rev;
	int err;

	*out = NULL;
	*len = 0;
	signers_normalize(next, &norm);
	if ((err = policy__txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return err;
	err = get_u64(txn, s->meta, K_REVISION, &rev);
	mdb_txn_abort(txn);
	return err != 0 ? err : statement_build(s, rev, &norm, out, len);
}

static int
do_signers(struct wtx *w, void *arg)
{
	const struct policy_signers *next = arg;
	const struct policy_actor *a = w->actor;
	struct policy_signers cur;
	char *msg = NULL, b64[POLICY_PUBKEY_B64_LEN + 1];
	uint64_t rev;
	size_t len = 0, i = 0;
	int err;

	if ((err = signers_load(w->txn, w->s, &cur)) != 0)
		return err;
	if (cur.n == next->n && memcmp(cur.key, next->key, cur.n * POLICY_PUBKEY_LEN) == 0)
		return 0;
	/* From none the store only gets stricter; after that the keys decide. */
	if (cur.n > 0) {
		if (a->sig == NULL)
			return POLICY_E_UNSIGNED;
		if ((err = get_u64(w->txn, w->s->meta, K_REVISION, &rev)) != 0 ||
		    (err = statement_build(w->s, rev, next, &msg, &len)) != 0)
			return err;
		err = verify_any(&cur, (const uint8_t *)msg, len, a, &i);
		free(msg);
		if (err != 0)
			return err;
		memcpy(w->signer, cur.key[i], POLICY_PUBKEY_LEN);
		w->is_signed = true;
	}
	if (next->n == 0) {
		MDB_val k = { strlen(K_SIGNERS), (void *)(uintptr_t)K_SIGNERS };

		err = policy__mdb_err(mdb_del(w->txn, w->s->meta, &k, NULL));
		/* Readable again by an authd that predates signed-only stores. */
		if (err == 0)
			err = put_u64(w->txn, w->s->meta, K_SCHEMA, POLICY_SCHEMA_PLAIN, 4);
		what_set(w, "require-signed off: unsigned changes accepted");
	} else {
		MDB_val k = { strlen(K_SIGNERS), (void *)(uintptr_t)K_SIGNERS };
		MDB_val d = { next->n * POLICY_PUBKEY_LEN, (void *)(uintptr_t)next->key };

		err = policy__mdb_err(mdb_put(w->txn, w->s->meta, &k, &d, 0));
		/*
		 * An older authd or authctl would ignore the keys and accept
		 * unsigned changes: the schema makes it refuse the store instead.
		 */
		if (err == 0)
			err = put_u64(w->txn, w->s->meta, K_SCHEMA, POLICY_SCHEMA, 4);
		policy_pubkey_format(next->key[0], b64);
		what_set(w, "require-signed on: %zu key%s (%.8s...%s)", next->n,
		    next->n == 1 ? "" : "s", b64, next->n > 1 ? " and others" : "");
	}
	w->changed = true;
	return err;
}

int
policy_signers_set(struct policy_store *s, const struct policy_signers *next,
    const struct policy_actor *actor)
{
	struct policy_signers *norm = malloc(sizeof(*norm));
	int err;

	if (norm == NULL)
		return POLICY_E_NOMEM;
	if (next->n > POLICY_SIGNERS_MAX) {
		free(norm);
		return POLICY_E_TOO_BIG;
	}
	signers_normalize(next, norm);
	err = store_write(s, do_signers, norm, actor, W_SIGNERS, NULL, 0);
	free(norm);
	return err;
}
