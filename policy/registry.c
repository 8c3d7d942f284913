/*
 * registry.c: the node's workloads, in named databases of the policy
 * store's LMDB environment (layout and rules in workload.h).
 *
 * Each call is one transaction. Writes change the workload, its status and
 * the revision together, so the daemon, which polls the revision, sees all
 * of a change or none of it. A write that fills the map is dropped whole,
 * the map doubled and the write redone, as the policy store does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "common/buf.h"
#include "policy/registry.h"
#include "policy/workload.h"
#include "policy/policy_int.h"

#define DB_WORKLOADS "workloads"
#define DB_STATUS "svid_status"
#define DB_META "registry_meta"
#define K_REVISION "revision"

/* "NS/NAME" and its NUL. */
#define KEY_MAX (2 * WORKLOAD_NAME_MAX + 2)

/* The registry's databases inside one transaction; absent (read-only) when !present. */
struct rtx {
	MDB_txn *txn;
	MDB_dbi workloads;
	MDB_dbi status;
	MDB_dbi meta;
	bool present;
};

static int
make_key(const char *ns, const char *name, char key[static KEY_MAX], MDB_val *k)
{
	size_t nl = strnlen(ns, WORKLOAD_NAME_MAX + 1), ml = strnlen(name, WORKLOAD_NAME_MAX + 1);

	/* Labels hold no '/', so "NS/NAME" names one workload only. */
	if (nl == 0 || ml == 0 || nl > WORKLOAD_NAME_MAX || ml > WORKLOAD_NAME_MAX ||
	    memchr(ns, '/', nl) != NULL || memchr(name, '/', ml) != NULL)
		return -EINVAL;
	memcpy(key, ns, nl);
	key[nl] = '/';
	memcpy(key + nl + 1, name, ml);
	key[nl + 1 + ml] = '\0';
	*k = (MDB_val){ nl + 1 + ml, key };
	return 0;
}

static int
open_dbis(struct rtx *t, bool create)
{
	unsigned flags = create ? MDB_CREATE : 0;
	int rc;

	if ((rc = mdb_dbi_open(t->txn, DB_WORKLOADS, flags, &t->workloads)) != 0 ||
	    (rc = mdb_dbi_open(t->txn, DB_STATUS, flags, &t->status)) != 0 ||
	    (rc = mdb_dbi_open(t->txn, DB_META, flags, &t->meta)) != 0) {
		/* Nothing was ever registered in this store. */
		if (rc == MDB_NOTFOUND && !create)
			return 0;
		return policy__mdb_err(rc);
	}
	t->present = true;
	return 0;
}

/* A read transaction with the registry's databases (t->present false when none). */
static int
read_begin(struct policy_store *s, struct rtx *t)
{
	int err;

	memset(t, 0, sizeof(*t));
	if ((err = policy__txn_begin(s, MDB_RDONLY, &t->txn)) != 0)
		return err;
	err = open_dbis(t, false);
	if (err != 0) {
		mdb_txn_abort(t->txn);
		t->txn = NULL;
	}
	return err;
}

/* Committing a read transaction keeps the handles it opened for the next one. */
static void
read_end(struct rtx *t)
{
	/* A read transaction has nothing to lose: commit only ends it. */
	if (t->txn != NULL)
		(void)mdb_txn_commit(t->txn);
	t->txn = NULL;
}

static int
get_revision(struct rtx *t, uint64_t *rev)
{
	MDB_val k = { strlen(K_REVISION), (void *)(uintptr_t)K_REVISION }, d;
	struct buf b;
	int rc;

	*rev = 0;
	if (!t->present)
		return 0;
	rc = mdb_get(t->txn, t->meta, &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return policy__mdb_err(rc);
	if (d.mv_size != 8)
		return POLICY_E_CORRUPT;
	buf_reader(&b, d.mv_data, d.mv_size);
	*rev = buf_get_u64(&b);
	return 0;
}

static int
bump_revision(struct rtx *t)
{
	MDB_val k = { strlen(K_REVISION), (void *)(uintptr_t)K_REVISION }, d;
	uint8_t raw[8];
	uint64_t rev;
	struct buf b;
	int err = get_revision(t, &rev);

	if (err != 0)
		return err;
	buf_writer(&b, raw, sizeof(raw));
	buf_put_u64(&b, rev + 1);
	d = (MDB_val){ sizeof(raw), raw };
	return policy__mdb_err(mdb_put(t->txn, t->meta, &k, &d, 0));
}

typedef int (*write_fn)(struct rtx *t, void *ctx);

/*
 * Run fn in a write transaction and commit when it returns 0 (1: nothing to
 * commit). Map full anywhere: abort, grow, redo, so a failure leaves the
 * store exactly as it was.
 */
static int
reg_write(struct policy_store *s, write_fn fn, void *ctx)
{
	MDB_env *env = policy__store_env(s);
	unsigned env_flags = 0;
	struct rtx t;
	int err;

	if (mdb_env_get_flags(env, &env_flags) != 0 || (env_flags & MDB_RDONLY))
		return POLICY_E_INVAL;
	for (;;) {
		memset(&t, 0, sizeof(t));
		if ((err = policy__txn_begin(s, 0, &t.txn)) != 0)
			return err;
		err = open_dbis(&t, true);
		if (err == 0)
			err = fn(&t, ctx);
		if (err == 0) {
			err = policy__txn_commit(s, t.txn);
			t.txn = NULL;
		}
		if (t.txn != NULL)
			mdb_txn_abort(t.txn);
		if (err == POLICY_E_MAP_FULL && policy__store_grow(s))
			continue;
		return err > 0 ? 0 : err;
	}
}

/* ---- Writes ------------------------------------------------------------------ */

struct put_ctx {
	const struct workload *w;
	bool replace;
	uint8_t *rec;
	size_t len;
	struct workload *old;
};

static int
do_put(struct rtx *t, void *arg)
{
	struct put_ctx *c = arg;
	char key[KEY_MAX];
	MDB_val k, d;
	MDB_stat st;
	int rc, err;

	if (make_key(c->w->ns, c->w->name, key, &k) != 0)
		return -EINVAL;
	rc = mdb_get(t->txn, t->workloads, &k, &d);
	if (rc == 0) {
		if (!c->replace)
			return -EEXIST;
		/* Same bytes: nothing changes, so neither does the revision. */
		if (d.mv_size == c->len && memcmp(d.mv_data, c->rec, c->len) == 0)
			return 1;
		err = registry_record_decode(d.mv_data, d.mv_size, c->old);
		if (err != 0)
			return err;
		if (strcmp(c->old->sa, c->w->sa) != 0) {
			rc = mdb_del(t->txn, t->status, &k, NULL);
			if (rc != 0 && rc != MDB_NOTFOUND)
				return policy__mdb_err(rc);
		}
	} else if (rc == MDB_NOTFOUND) {
		rc = mdb_stat(t->txn, t->workloads, &st);
		if (rc != 0)
			return policy__mdb_err(rc);
		if (st.ms_entries >= WORKLOAD_MAX)
			return POLICY_E_TOO_BIG;
	} else {
		return policy__mdb_err(rc);
	}
	d = (MDB_val){ c->len, c->rec };
	rc = mdb_put(t->txn, t->workloads, &k, &d, 0);
	if (rc != 0)
		return policy__mdb_err(rc);
	return bump_revision(t);
}

int
registry_put(struct policy_store *s, const struct workload *w, bool replace, const char **why)
{
	struct put_ctx c = { w, replace, NULL, 0, NULL };
	const char *dummy;
	int err;

	if (why == NULL)
		why = &dummy;
	err = workload_validate(w, why);
	if (err != 0)
		return err;
	c.rec = malloc(WORKLOAD_RECORD_MAX);
	c.old = malloc(sizeof(*c.old));
	if (c.rec == NULL || c.old == NULL) {
		err = POLICY_E_NOMEM;
		goto out;
	}
	err = registry_record_encode(w, c.rec, WORKLOAD_RECORD_MAX, &c.len);
	if (err != 0)
		goto out;
	err = reg_write(s, do_put, &c);
	if (err == -EEXIST)
		*why = "a workload with that namespace and name exists (replace it to change it)";
out:
	free(c.rec);
	free(c.old);
	return err;
}

/* ---- The pod watch's workloads ------------------------------------------------ */

struct sync_ctx {
	const struct workload *ws;
	size_t n;
	size_t *order;		/* ws sorted by key */
	uint8_t *rec;
	struct workload *old;
	size_t changed, conflicts;
};

static int
cmp_ns_name(const struct workload *a, const struct workload *b)
{
	int c = strcmp(a->ns, b->ns);

	return c != 0 ? c : strcmp(a->name, b->name);
}

static const struct workload *sort_ws;

static int
cmp_order(const void *a, const void *b)
{
	return cmp_ns_name(&sort_ws[*(const size_t *)a], &sort_ws[*(const size_t *)b]);
}

/* Whether ws holds NS/NAME of old (binary search over c->order). */
static bool
sync_wants(const struct sync_ctx *c, const struct workload *old)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = cmp_ns_name(&c->ws[c->order[mid]], old);

		if (r == 0)
			return true;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Remove the pod workloads ws no longer holds: collected first, deleted after the walk. */
static int
sync_remove_gone(struct rtx *t, struct sync_ctx *c)
{
	MDB_cursor *cur = NULL;
	char (*gone)[KEY_MAX] = NULL;
	size_t ngone = 0, cap = 0;
	MDB_val k, d;
	int rc, err = 0;

	rc = mdb_cursor_open(t->txn, t->workloads, &cur);
	if (rc != 0)
		return policy__mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if ((err = registry_record_decode(d.mv_data, d.mv_size, c->old)) != 0)
			break;
		if (c->old->pod_uid[0] == '\0' || sync_wants(c, c->old))
			continue;
		if (k.mv_size >= KEY_MAX) {
			err = POLICY_E_CORRUPT;
			break;
		}
		if (ngone == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			void *p = realloc(gone, ncap * sizeof(*gone));

			if (p == NULL) {
				err = POLICY_E_NOMEM;
				break;
			}
			gone = p;
			cap = ncap;
		}
		memcpy(gone[ngone], k.mv_data, k.mv_size);
		gone[ngone][k.mv_size] = '\0';
		ngone++;
	}
	if (err == 0 && rc != MDB_NOTFOUND)
		err = policy__mdb_err(rc);
	mdb_cursor_close(cur);
	for (size_t i = 0; err == 0 && i < ngone; i++) {
		MDB_val gk = { strlen(gone[i]), gone[i] };

		rc = mdb_del(t->txn, t->workloads, &gk, NULL);
		if (rc == 0)
			rc = mdb_del(t->txn, t->status, &gk, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			err = policy__mdb_err(rc);
		c->changed++;
	}
	free(gone);
	return err;
}

static int
do_sync(struct rtx *t, void *arg)
{
	struct sync_ctx *c = arg;
	MDB_stat st;
	int rc, err;

	c->changed = c->conflicts = 0;
	if ((err = sync_remove_gone(t, c)) != 0)
		return err;
	for (size_t i = 0; i < c->n; i++) {
		const struct workload *w = &c->ws[i];
		char key[KEY_MAX];
		size_t len;
		MDB_val k, d;

		if ((err = registry_record_encode(w, c->rec, WORKLOAD_RECORD_MAX, &len)) != 0 ||
		    (err = make_key(w->ns, w->name, key, &k)) != 0)
			return err;
		rc = mdb_get(t->txn, t->workloads, &k, &d);
		if (rc == 0) {
			if (d.mv_size == len && memcmp(d.mv_data, c->rec, len) == 0)
				continue;
			if ((err = registry_record_decode(d.mv_data, d.mv_size, c->old)) != 0)
				return err;
			if (c->old->pod_uid[0] == '\0') {
				c->conflicts++;
				continue;
			}
			if (strcmp(c->old->sa, w->sa) != 0 || strcmp(c->old->pod_uid, w->pod_uid) != 0) {
				rc = mdb_del(t->txn, t->status, &k, NULL);
				if (rc != 0 && rc != MDB_NOTFOUND)
					return policy__mdb_err(rc);
			}
		} else if (rc == MDB_NOTFOUND) {
			if ((rc = mdb_stat(t->txn, t->workloads, &st)) != 0)
				return policy__mdb_err(rc);
			if (st.ms_entries >= WORKLOAD_MAX)
				return POLICY_E_TOO_BIG;
		} else {
			return policy__mdb_err(rc);
		}
		d = (MDB_val){ len, c->rec };
		if ((rc = mdb_put(t->txn, t->workloads, &k, &d, 0)) != 0)
			return policy__mdb_err(rc);
		c->changed++;
	}
	return c->changed == 0 ? 1 : bump_revision(t);
}

int
registry_sync_pods(struct policy_store *s, const struct workload *ws, size_t n, size_t *changed,
    size_t *conflicts, const char **why)
{
	struct sync_ctx c = { .ws = ws, .n = n };
	const char *dummy;
	int err = 0;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	*changed = *conflicts = 0;
	if (n > WORKLOAD_MAX) {
		*why = "more pods than one registry holds";
		return POLICY_E_TOO_BIG;
	}
	for (size_t i = 0; i < n; i++) {
		if ((err = workload_validate(&ws[i], why)) != 0)
			return err;
		if (ws[i].pod_uid[0] == '\0') {
			*why = "a pod's workload must carry its pod UID";
			return -EINVAL;
		}
	}
	c.order = malloc((n ? n : 1) * sizeof(*c.order));
	c.rec = malloc(WORKLOAD_RECORD_MAX);
	c.old = malloc(sizeof(*c.old));
	if (c.order == NULL || c.rec == NULL || c.old == NULL) {
		err = POLICY_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		c.order[i] = i;
	/* The registry is used from one thread (see registry.h), so a static comparator base is safe. */
	sort_ws = ws;
	qsort(c.order, n, sizeof(*c.order), cmp_order);
	sort_ws = NULL;
	for (size_t i = 1; i < n; i++) {
		if (cmp_ns_name(&ws[c.order[i - 1]], &ws[c.order[i]]) == 0) {
			*why = "two pods share a namespace and name";
			err = -EINVAL;
			goto out;
		}
	}
	err = reg_write(s, do_sync, &c);
	if (err == 0) {
		*changed = c.changed;
		*conflicts = c.conflicts;
	}
out:
	free(c.order);
	free(c.rec);
	free(c.old);
	return err;
}

struct del_ctx {
	const char *ns;
	const char *name;
};

static int
do_remove(struct rtx *t, void *arg)
{
	struct del_ctx *c = arg;
	char key[KEY_MAX];
	MDB_val k;
	int rc;

	if (make_key(c->ns, c->name, key, &k) != 0)
		return -ENOENT;
	rc = mdb_del(t->txn, t->workloads, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return policy__mdb_err(rc);
	rc = mdb_del(t->txn, t->status, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return policy__mdb_err(rc);
	return bump_revision(t);
}

int
registry_remove(struct policy_store *s, const char *ns, const char *name)
{
	struct del_ctx c = { ns, name };

	return reg_write(s, do_remove, &c);
}

struct status_ctx {
	const char *ns;
	const char *name;
	uint8_t rec[WORKLOAD_STATUS_RECORD_MAX];
	size_t len;
};

static int
do_set_status(struct rtx *t, void *arg)
{
	struct status_ctx *c = arg;
	char key[KEY_MAX];
	MDB_val k, d;
	int rc;

	if (make_key(c->ns, c->name, key, &k) != 0)
		return -ENOENT;
	rc = mdb_get(t->txn, t->workloads, &k, &d);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return policy__mdb_err(rc);
	d = (MDB_val){ c->len, c->rec };
	return policy__mdb_err(mdb_put(t->txn, t->status, &k, &d, 0));
}

int
registry_set_status(struct policy_store *s, const char *ns, const char *name,
    const struct workload_svid_status *st)
{
	struct status_ctx *c = calloc(1, sizeof(*c));
	int err;

	if (c == NULL)
		return POLICY_E_NOMEM;
	c->ns = ns;
	c->name = name;
	err = registry_status_encode(st, c->rec, sizeof(c->rec), &c->len);
	if (err == 0)
		err = reg_write(s, do_set_status, c);
	free(c);
	return err;
}

/* ---- Reads ------------------------------------------------------------------- */

int
registry_revision(struct policy_store *s, uint64_t *rev)
{
	struct rtx t;
	int err;

	*rev = 0;
	err = read_begin(s, &t);
	if (err != 0)
		return err;
	err = get_revision(&t, rev);
	read_end(&t);
	return err;
}

int
registry_get(struct policy_store *s, const char *ns, const char *name, struct workload *w)
{
	char key[KEY_MAX];
	struct rtx t;
	MDB_val k, d;
	int rc, err;

	memset(w, 0, sizeof(*w));
	if (make_key(ns, name, key, &k) != 0)
		return -ENOENT;
	err = read_begin(s, &t);
	if (err != 0)
		return err;
	if (!t.present) {
		err = -ENOENT;
	} else {
		rc = mdb_get(t.txn, t.workloads, &k, &d);
		if (rc == MDB_NOTFOUND)
			err = -ENOENT;
		else if (rc != 0)
			err = policy__mdb_err(rc);
		else
			err = registry_record_decode(d.mv_data, d.mv_size, w);
		if (err == 0 && (strcmp(w->ns, ns) != 0 || strcmp(w->name, name) != 0)) {
			memset(w, 0, sizeof(*w));
			err = POLICY_E_CORRUPT;
		}
	}
	read_end(&t);
	return err;
}

/* Look up the status stored under key k; *found false when there is none. */
static int
get_status(struct rtx *t, MDB_val *k, struct workload_svid_status *st, bool *found)
{
	MDB_val d;
	int rc = mdb_get(t->txn, t->status, k, &d);

	*found = false;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return policy__mdb_err(rc);
	*found = true;
	return registry_status_decode(d.mv_data, d.mv_size, st);
}

int
registry_list(struct policy_store *s, registry_cb cb, void *arg)
{
	struct workload *w = NULL;
	struct workload_svid_status *st = NULL;
	MDB_cursor *cur = NULL;
	struct rtx t;
	MDB_val k, d;
	bool found;
	int rc, err;

	err = read_begin(s, &t);
	if (err != 0)
		return err;
	if (!t.present)
		goto out;
	w = malloc(sizeof(*w));
	st = malloc(sizeof(*st));
	if (w == NULL || st == NULL) {
		err = POLICY_E_NOMEM;
		goto out;
	}
	rc = mdb_cursor_open(t.txn, t.workloads, &cur);
	if (rc != 0) {
		err = policy__mdb_err(rc);
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		char key[KEY_MAX];
		MDB_val want;

		err = registry_record_decode(d.mv_data, d.mv_size, w);
		/* A record under another workload's key is as damaged as one that does not decode. */
		if (err == 0 && (make_key(w->ns, w->name, key, &want) != 0 ||
		    want.mv_size != k.mv_size || memcmp(want.mv_data, k.mv_data, k.mv_size) != 0))
			err = POLICY_E_CORRUPT;
		if (err == 0)
			err = get_status(&t, &k, st, &found);
		if (err == 0)
			err = cb(w, found ? st : NULL, arg);
		if (err != 0)
			break;
	}
	if (err == 0 && rc != MDB_NOTFOUND)
		err = policy__mdb_err(rc);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	read_end(&t);
	free(w);
	free(st);
	return err;
}
