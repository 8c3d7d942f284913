/*
 * The policy store and its decisions, on a real LMDB file in a temp dir:
 * every selector kind on both sides, ports, expiry, audit, the rule
 * reported, writes and their revision/history, apply, and bad files.
 */
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs/crypto.h"
#include "policy/policy.h"
#include "test.h"

#define NOW 1800000000

static char dir[64];
static char db[128];

static struct policy_actor actor = { .who = "test (uid 0)", .now = NOW };

static void
fresh(void)
{
	if (dir[0] != '\0')
		(void)test_rm_tree(dir);
	snprintf(dir, sizeof(dir), "/tmp/authd-policy-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db, sizeof(db), "%s/policy.mdb", dir);
}

static struct policy_store *
open_rw(void)
{
	struct policy_store *s = NULL;

	if (policy_store_open(db, POLICY_OPEN_CREATE, 0, &s) != 0)
		return NULL;
	return s;
}

static void
sel(struct policy_selector *out, const char *s, enum policy_side side)
{
	if (policy_selector_parse(s, strlen(s), side, out, NULL) != 0) {
		fprintf(stderr, "bad selector in test: %s\n", s);
		abort();
	}
}

static void
rule(struct policy_rule *r, const char *from, const char *to, const char *ports, int64_t expires)
{
	memset(r, 0, sizeof(*r));
	sel(&r->from, from, POLICY_FROM);
	sel(&r->to, to, POLICY_TO);
	if (policy_ports_parse(ports, strlen(ports), &r->ports, NULL) != 0)
		abort();
	r->expires = expires;
}

static uint64_t
add(struct policy_store *s, const char *from, const char *to, const char *ports, int64_t exp)
{
	struct policy_rule *r = malloc(sizeof(*r));
	uint64_t id = 0;

	rule(r, from, to, ports, exp);
	if (policy_add(s, r, &actor) == 0)
		id = r->id;
	free(r);
	return id;
}

static void
id(struct spiffe_id *out, const char *s)
{
	if (spiffe_id_parse_workload(s, strlen(s), out, NULL) != 0)
		abort();
}

/* Decide src -> dst:port; returns the verdict and fills *d. */
static enum policy_verdict
decide(struct policy_store *s, const char *src, const char *dst, uint16_t port, int64_t now,
    struct policy_decision *d)
{
	static struct spiffe_id a, b;
	struct policy_reader *r = NULL;

	id(&a, src);
	id(&b, dst);
	if (policy_reader_new(s, &r) != 0 || policy_check(r, &a, &b, port, now, d) != 0)
		abort();
	policy_reader_free(r);
	return d->verdict;
}

#define A "spiffe://example.org/ns/shop/sa/frontend"
#define B "spiffe://example.org/ns/shop/sa/db"
#define C "spiffe://example.org/ns/other/sa/batch"
#define X "spiffe://other.org/ns/shop/sa/frontend"

/* A missing store is an error for readers and is created for writers. */
TEST(open_create)
{
	struct policy_store *s = NULL;
	uint64_t rev = 1;

	fresh();
	EXPECT_ERR(policy_store_open(db, POLICY_OPEN_RDONLY, 0, &s), POLICY_E_NO_STORE);
	EXPECT_ERR(policy_store_open(db, 0, 0, &s), POLICY_E_NO_STORE);
	EXPECT(access(db, F_OK) != 0);
	s = open_rw();
	REQUIRE(s != NULL);
	EXPECT_OK(policy_store_revision(s, &rev));
	EXPECT_EQ(rev, 0);
	policy_store_close(s);
	EXPECT_OK(policy_store_open(db, POLICY_OPEN_RDONLY, 0, &s));
	policy_store_close(s);
}

/* A text file, random bytes or someone else's LMDB: clear error, file untouched. */
TEST(foreign_files)
{
	static const char text[] = "hello, I am not a database\n";
	struct policy_store *s = NULL;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 3, (void *)(uintptr_t)"key" }, v = { 5, (void *)(uintptr_t)"value" };
	struct stat before, after;
	uint8_t junk[8192];

	fresh();
	REQUIRE(util_write_file_atomic(db, text, sizeof(text) - 1, 0644) == 0);
	EXPECT_ERR(policy_store_open(db, POLICY_OPEN_CREATE, 0, &s), POLICY_E_CORRUPT);
	EXPECT_ERR(policy_store_open(db, POLICY_OPEN_RDONLY, 0, &s), POLICY_E_CORRUPT);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	REQUIRE(util_write_file_atomic(db, junk, sizeof(junk), 0644) == 0);
	EXPECT_ERR(policy_store_open(db, POLICY_OPEN_CREATE, 0, &s), POLICY_E_CORRUPT);

	/* An LMDB file with data of its own. */
	fresh();
	REQUIRE(mdb_env_create(&env) == 0);
	REQUIRE(mdb_env_open(env, db, MDB_NOSUBDIR, 0644) == 0);
	REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	REQUIRE(mdb_dbi_open(txn, NULL, 0, &dbi) == 0);
	REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
	REQUIRE(mdb_txn_commit(txn) == 0);
	mdb_env_close(env);
	REQUIRE(stat(db, &before) == 0);
	EXPECT_ERR(policy_store_open(db, POLICY_OPEN_CREATE, 0, &s), POLICY_E_CORRUPT);
	REQUIRE(stat(db, &after) == 0);
	EXPECT_EQ(before.st_mtime, after.st_mtime);
	EXPECT_EQ(before.st_size, after.st_size);

	/* A directory is not a store either. */
	EXPECT_ERR(policy_store_open(dir, POLICY_OPEN_CREATE, 0, &s), POLICY_E_CORRUPT);
}

/* Default deny; each selector kind allows what it names and nothing else. */
TEST(selector_kinds)
{
	struct policy_decision d;
	struct policy_store *s;

	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	EXPECT_EQ(decide(s, A, B, 5432, NOW, &d), POLICY_DENY);
	EXPECT_EQ(d.reason, POLICY_R_NO_RULE);

	/* exact -> exact */
	EXPECT(add(s, A, B, "5432", 0) != 0);
	EXPECT_EQ(decide(s, A, B, 5432, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, B, A, 5432, NOW, &d), POLICY_DENY);
	EXPECT_EQ(decide(s, C, B, 5432, NOW, &d), POLICY_DENY);
	EXPECT_EQ(decide(s, X, B, 5432, NOW, &d), POLICY_DENY);

	/* namespace source */
	EXPECT(add(s, "spiffe://example.org/ns/other/*", B, "80", 0) != 0);
	EXPECT_EQ(decide(s, C, B, 80, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, A, B, 80, NOW, &d), POLICY_DENY);

	/* trust-domain source, namespace destination */
	EXPECT(add(s, "spiffe://other.org/*", "spiffe://example.org/ns/shop/*", "443", 0) != 0);
	EXPECT_EQ(decide(s, X, B, 443, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, X, A, 443, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, X, C, 443, NOW, &d), POLICY_DENY);

	/* any source, trust-domain destination */
	EXPECT(add(s, "*", "spiffe://example.org/*", "9090", 0) != 0);
	EXPECT_EQ(decide(s, X, C, 9090, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, A, "spiffe://other.org/ns/shop/sa/db", 9090, NOW, &d), POLICY_DENY);

	/* A namespace selector needs a path below the namespace. */
	EXPECT_EQ(decide(s, "spiffe://example.org/ns/other", B, 80, NOW, &d), POLICY_DENY);
	EXPECT_EQ(decide(s, "spiffe://example.org/ns/otherx/sa/y", B, 80, NOW, &d), POLICY_DENY);
	policy_store_close(s);
}

/* Ports: single, range, list; a miss says which rule allows other ports. */
TEST(ports)
{
	struct policy_decision d;
	struct policy_store *s;
	uint64_t r1;

	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	r1 = add(s, A, B, "80,443,8000-8099", 0);
	EXPECT(r1 != 0);
	EXPECT_EQ(decide(s, A, B, 80, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, A, B, 8000, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, A, B, 8099, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, A, B, 8100, NOW, &d), POLICY_DENY);
	EXPECT_EQ(d.reason, POLICY_R_PORT);
	EXPECT_EQ(d.rule_id, r1);
	EXPECT_EQ(decide(s, A, B, 79, NOW, &d), POLICY_DENY);
	EXPECT_EQ(decide(s, A, B, 65535, NOW, &d), POLICY_DENY);
	EXPECT(add(s, A, C, "all", 0) != 0);
	EXPECT_EQ(decide(s, A, C, 1, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, A, C, 65535, NOW, &d), POLICY_ALLOW);
	policy_store_close(s);
}

/*
 * An expiring rule allows until its time (and says so), then denies with
 * reason expired, unless a lasting rule allows too.
 */
TEST(expiry)
{
	struct policy_decision d;
	struct policy_store *s;
	struct policy_rule *r = malloc(sizeof(*r));
	uint64_t e;

	REQUIRE(r != NULL);
	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	e = add(s, A, B, "5432", NOW + 3600);
	EXPECT(e != 0);
	EXPECT_EQ(decide(s, A, B, 5432, NOW + 3599, &d), POLICY_ALLOW);
	/* The allow says until when it holds (a holder re-checks then). */
	EXPECT_EQ(d.expires, NOW + 3600);
	EXPECT_EQ(decide(s, A, B, 5432, NOW + 3600, &d), POLICY_DENY);
	EXPECT_EQ(d.reason, POLICY_R_EXPIRED);
	EXPECT_EQ(d.rule_id, e);
	EXPECT_EQ(d.expires, 0);
	/* A lasting rule besides it: allowed past the expiry, for good. */
	EXPECT(add(s, A, B, "5432", 0) != 0);
	EXPECT_EQ(decide(s, A, B, 5432, NOW + 3600, &d), POLICY_ALLOW);
	EXPECT_EQ(d.expires, 0);
	/* A rule that is already expired is refused. */
	rule(r, A, C, "1", NOW);
	EXPECT_ERR(policy_add(s, r, &actor), POLICY_E_EXPIRED);
	free(r);
	policy_store_close(s);
}

/* The most specific allowing rule is reported; equals by lowest id. */
TEST(precedence)
{
	struct policy_decision d;
	struct policy_store *s;
	uint64_t any, ns, exact, exact2;

	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	any = add(s, "*", "spiffe://example.org/*", "all", 0);
	ns = add(s, "spiffe://example.org/ns/shop/*", B, "all", 0);
	exact = add(s, A, B, "5432", 0);
	exact2 = add(s, A, B, "5000-6000", 0);
	EXPECT(any && ns && exact && exact2);
	EXPECT_EQ(decide(s, A, B, 5432, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(d.rule_id, exact);
	EXPECT_EQ(decide(s, A, B, 5001, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(d.rule_id, exact2);
	EXPECT_EQ(decide(s, A, B, 22, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(d.rule_id, ns);
	EXPECT_EQ(decide(s, C, A, 22, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(d.rule_id, any);
	policy_store_close(s);
}

/* Audit: a would-be denial passes as AUDIT; allowed traffic stays ALLOW. */
TEST(audit)
{
	struct policy_decision d;
	struct policy_store *s;
	struct policy_selector to;

	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	EXPECT(add(s, A, B, "5432", 0) != 0);
	sel(&to, "spiffe://example.org/ns/shop/*", POLICY_TO);
	EXPECT_OK(policy_audit_set(s, &to, true, &actor));
	EXPECT_EQ(decide(s, C, B, 5432, NOW, &d), POLICY_AUDIT);
	EXPECT_EQ(d.reason, POLICY_R_NO_RULE);
	EXPECT_EQ(decide(s, A, B, 5432, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, A, C, 5432, NOW, &d), POLICY_DENY);
	EXPECT_OK(policy_audit_set(s, &to, false, &actor));
	EXPECT_EQ(decide(s, C, B, 5432, NOW, &d), POLICY_DENY);
	sel(&to, "*", POLICY_FROM);
	EXPECT_ERR(policy_audit_set(s, &to, true, &actor), POLICY_E_INVAL);
	policy_store_close(s);
}

static int
count_cb(const struct policy_history *h, void *arg)
{
	(void)h;
	(*(size_t *)arg)++;
	return 0;
}

/* Writes bump the revision and the history; a repeated rule is not a write. */
TEST(revision_history_revoke)
{
	struct policy_decision d;
	struct policy_store *s;
	struct policy_selector f, t;
	uint64_t rev, r1, r2;
	size_t n = 0, removed = 0, rules = 0;
	const char *why = NULL;

	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	r1 = add(s, A, B, "5432", 0);
	EXPECT_EQ(add(s, A, B, "5432", 0), r1);
	EXPECT_OK(policy_store_revision(s, &rev));
	EXPECT_EQ(rev, 1);
	r2 = add(s, A, B, "6000", 0);
	EXPECT(r2 > r1);
	{
		struct policy_rule *got = malloc(sizeof(*got));

		REQUIRE(got != NULL);
		EXPECT_OK(policy_get(s, r2, got));
		EXPECT_EQ(got->id, r2);
		EXPECT_STR(got->from.str, A);
		EXPECT(policy_ports_contains(&got->ports, 6000));
		EXPECT_OK(policy_revoke(s, r1, &actor));
		EXPECT_ERR(policy_get(s, r1, got), POLICY_E_NOT_FOUND);
		free(got);
	}
	EXPECT_ERR(policy_revoke(s, r1, &actor), POLICY_E_NOT_FOUND);
	EXPECT_EQ(decide(s, A, B, 5432, NOW, &d), POLICY_DENY);
	EXPECT_EQ(decide(s, A, B, 6000, NOW, &d), POLICY_ALLOW);
	sel(&f, A, POLICY_FROM);
	sel(&t, B, POLICY_TO);
	EXPECT_OK(policy_revoke_match(s, &f, &t, &removed, &actor));
	EXPECT_EQ(removed, 1);
	EXPECT_ERR(policy_revoke_match(s, &f, &t, &removed, &actor), POLICY_E_NOT_FOUND);
	EXPECT_OK(policy_store_revision(s, &rev));
	EXPECT_EQ(rev, 4);
	EXPECT_OK(policy_history_list(s, 0, count_cb, &n));
	EXPECT_EQ(n, 4);
	n = 0;
	EXPECT_OK(policy_history_list(s, 2, count_cb, &n));
	EXPECT_EQ(n, 2);
	EXPECT_OK(policy_store_verify(s, &rules, &why));
	EXPECT_EQ(rules, 0);
	policy_store_close(s);
}

static int
collect_ids(const struct policy_rule *r, void *arg)
{
	uint64_t *ids = arg;

	ids[++ids[0]] = r->id;
	return 0;
}

/* apply makes the store hold exactly the set; unchanged rules keep ids. */
TEST(apply)
{
	struct policy_store *s;
	struct policy_rule *set = calloc(3, sizeof(*set));
	struct policy_selector audit;
	struct policy_decision d;
	uint64_t ids[8] = { 0 }, keep, rev, rev2;
	size_t changes = 0, rules = 0;
	const char *why = NULL;

	REQUIRE(set != NULL);
	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	keep = add(s, A, B, "5432", 0);
	EXPECT(add(s, C, B, "22", 0) != 0);
	rule(&set[0], A, B, "5432", 0);		/* unchanged */
	rule(&set[1], C, A, "80", 0);		/* new */
	rule(&set[2], C, A, "80", 0);		/* duplicate of the new one */
	sel(&audit, "spiffe://example.org/ns/other/*", POLICY_TO);

	/* A dry run reports the diff and writes nothing. */
	EXPECT_OK(policy_store_revision(s, &rev));
	EXPECT_OK(policy_apply(s, set, 3, &audit, 1, true, NULL, NULL, &changes, &actor));
	EXPECT_EQ(changes, 3);
	EXPECT_OK(policy_store_revision(s, &rev2));
	EXPECT_EQ(rev, rev2);
	EXPECT_EQ(decide(s, C, B, 22, NOW, &d), POLICY_ALLOW);

	EXPECT_OK(policy_apply(s, set, 3, &audit, 1, false, NULL, NULL, &changes, &actor));
	EXPECT_EQ(changes, 3);	/* +1 rule, -1 rule, +1 audit */
	EXPECT_OK(policy_list(s, NULL, NULL, collect_ids, ids));
	EXPECT_EQ(ids[0], 2);
	EXPECT_EQ(ids[1], keep);
	EXPECT_EQ(decide(s, C, B, 22, NOW, &d), POLICY_DENY);
	EXPECT_EQ(decide(s, C, A, 80, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, A, C, 80, NOW, &d), POLICY_AUDIT);

	/* Applying the same set again changes nothing, not even the revision. */
	EXPECT_OK(policy_store_revision(s, &rev));
	EXPECT_OK(policy_apply(s, set, 3, &audit, 1, false, NULL, NULL, &changes, &actor));
	EXPECT_EQ(changes, 0);
	EXPECT_OK(policy_store_revision(s, &rev2));
	EXPECT_EQ(rev, rev2);

	/* The empty set denies everything. */
	EXPECT_OK(policy_apply(s, NULL, 0, NULL, 0, false, NULL, NULL, &changes, &actor));
	EXPECT_EQ(changes, 3);
	EXPECT_EQ(decide(s, A, B, 5432, NOW, &d), POLICY_DENY);
	EXPECT_OK(policy_store_verify(s, &rules, &why));
	EXPECT_EQ(rules, 0);
	free(set);
	policy_store_close(s);
}

/* A full map grows and the write is redone; nothing half-written. */
TEST(map_grows)
{
	struct policy_store *s = NULL;
	struct policy_rule *set;
	char from[96];
	size_t n = 3000, changes = 0, rules = 0;
	uint64_t used = 0, map = 0;
	const char *why = NULL;

	fresh();
	set = calloc(n, sizeof(*set));
	REQUIRE(set != NULL);
	for (size_t i = 0; i < n; i++) {
		snprintf(from, sizeof(from), "spiffe://example.org/ns/load/sa/client-%zu", i);
		rule(&set[i], from, B, "443", 0);
	}
	REQUIRE(policy_store_open(db, POLICY_OPEN_CREATE, 64 * 1024, &s) == 0);
	EXPECT_OK(policy_apply(s, set, n, NULL, 0, false, NULL, NULL, &changes, &actor));
	EXPECT_EQ(changes, n);
	EXPECT_OK(policy_store_size(s, &used, &map));
	EXPECT(map > 64 * 1024);
	EXPECT_OK(policy_store_verify(s, &rules, &why));
	EXPECT_EQ(rules, n);
	policy_store_close(s);
	free(set);
}

/* IDs too long for LMDB's key limit go through the hashed index keys. */
TEST(long_ids)
{
	struct policy_decision d;
	struct policy_store *s;
	char longa[700], longb[700];

	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	snprintf(longa, sizeof(longa), "spiffe://example.org/ns/shop/sa/%0600d", 1);
	snprintf(longb, sizeof(longb), "spiffe://example.org/ns/shop/sa/%0600d", 2);
	EXPECT(add(s, longa, longb, "443", 0) != 0);
	EXPECT_EQ(decide(s, longa, longb, 443, NOW, &d), POLICY_ALLOW);
	EXPECT_EQ(decide(s, longb, longa, 443, NOW, &d), POLICY_DENY);
	policy_store_close(s);
}

/* A reader kept across writes sees each new revision. */
TEST(reader_reuse)
{
	struct policy_store *s;
	struct policy_reader *r = NULL;
	struct policy_decision d;
	struct spiffe_id a, b;
	uint64_t rev = 0, rule_id;

	fresh();
	s = open_rw();
	REQUIRE(s != NULL);
	REQUIRE(policy_reader_new(s, &r) == 0);
	id(&a, A);
	id(&b, B);
	EXPECT_OK(policy_check(r, &a, &b, 1, NOW, &d));
	EXPECT_EQ(d.verdict, POLICY_DENY);
	rule_id = add(s, A, B, "1", 0);
	EXPECT_OK(policy_check(r, &a, &b, 1, NOW, &d));
	EXPECT_EQ(d.verdict, POLICY_ALLOW);
	EXPECT_EQ(d.revision, 1);
	EXPECT_OK(policy_revoke(s, rule_id, &actor));
	EXPECT_OK(policy_reader_revision(r, &rev));
	EXPECT_EQ(rev, 2);
	EXPECT_OK(policy_check(r, &a, &b, 1, NOW, &d));
	EXPECT_EQ(d.verdict, POLICY_DENY);
	EXPECT_ERR(policy_check(r, &a, &b, 0, NOW, &d), POLICY_E_INVAL);
	policy_reader_free(r);
	policy_store_close(s);
	(void)test_rm_tree(dir);
}

static int
last_history(const struct policy_history *h, void *arg)
{
	*(struct policy_history *)arg = *h;
	return 0;
}

static uint32_t
schema_of(const char *path)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	MDB_val k = { 6, (void *)(uintptr_t)"schema" }, d;
	uint32_t v = 0;

	if (mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 &&
	    mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0644) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0 &&
	    mdb_dbi_open(txn, "meta", 0, &meta) == 0 && mdb_get(txn, meta, &k, &d) == 0 &&
	    d.mv_size == 4) {
		const uint8_t *p = d.mv_data;

		v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (env != NULL)
		mdb_env_close(env);
	return v;
}

/*
 * A store that accepts only signed changes: unsigned edits and applies,
 * other keys and a replayed statement are refused with nothing written;
 * signed writes are recorded as signed; the schema marks the store for
 * older readers only while keys are set.
 */
TEST(require_signed)
{
	struct policy_store *s;
	struct policy_signers keys, none, got;
	struct policy_rule r, *set = calloc(1, sizeof(*set));
	struct policy_history *h = calloc(1, sizeof(*h));
	struct policy_selector to;
	char k1[160], p1[160], k2[160], p2[160], sig[POLICY_SIG_B64_LEN + 1];
	char sig_old[POLICY_SIG_B64_LEN + 1], *canon = NULL, *msg = NULL;
	struct policy_set ps;
	size_t clen = 0, mlen = 0, changes = 0, n = 0;
	uint64_t rev, rev2, rid;
	struct policy_actor signed_by = actor;

	REQUIRE(set != NULL && h != NULL);
	fresh();
	snprintf(k1, sizeof(k1), "%s/k1", dir);
	snprintf(p1, sizeof(p1), "%s/p1", dir);
	snprintf(k2, sizeof(k2), "%s/k2", dir);
	snprintf(p2, sizeof(p2), "%s/p2", dir);
	EXPECT_OK(policy_sign_keygen(k1, p1));
	EXPECT_OK(policy_sign_keygen(k2, p2));
	memset(&keys, 0, sizeof(keys));
	memset(&none, 0, sizeof(none));
	keys.n = 1;
	EXPECT_OK(policy_pubkey_read(p1, keys.key[0]));
	s = open_rw();
	REQUIRE(s != NULL);
	rid = add(s, A, B, "5432", 0);
	EXPECT_EQ(schema_of(db), 1);

	/* On needs no signature; the keys read back. */
	EXPECT_OK(policy_signers_set(s, &keys, &actor));
	EXPECT_OK(policy_signers_get(s, &got));
	EXPECT_EQ(got.n, 1);
	EXPECT(memcmp(got.key[0], keys.key[0], POLICY_PUBKEY_LEN) == 0);
	EXPECT_EQ(schema_of(db), 2);

	/* Unsigned edits are refused, and write nothing. */
	EXPECT_OK(policy_store_revision(s, &rev));
	rule(&r, C, B, "80", 0);
	EXPECT_ERR(policy_add(s, &r, &actor), POLICY_E_UNSIGNED);
	EXPECT_ERR(policy_revoke(s, rid, &actor), POLICY_E_UNSIGNED);
	EXPECT_ERR(policy_revoke_match(s, &r.from, &r.to, &n, &actor), POLICY_E_UNSIGNED);
	sel(&to, B, POLICY_TO);
	EXPECT_ERR(policy_audit_set(s, &to, true, &actor), POLICY_E_UNSIGNED);
	rule(&set[0], C, B, "80", 0);
	EXPECT_ERR(policy_apply(s, set, 1, NULL, 0, false, NULL, NULL, &changes, &actor),
	    POLICY_E_UNSIGNED);
	/* A dry run is no write. */
	EXPECT_OK(policy_apply(s, set, 1, NULL, 0, true, NULL, NULL, &changes, &actor));

	/* Signed by another key (claimed as pub): refused. */
	ps = (struct policy_set){ set, 1, NULL, 0 };
	EXPECT_OK(policy_set_canonical(&ps, &canon, &clen));
	EXPECT_OK(policy_sign(k2, (const uint8_t *)canon, clen, sig));
	signed_by.sig = sig;
	signed_by.siglen = strlen(sig);
	signed_by.pub = got.key[0];	/* ignored: the store's keys decide */
	EXPECT_ERR(policy_apply(s, set, 1, NULL, 0, false, NULL, NULL, &changes, &signed_by),
	    POLICY_E_SIGNATURE);
	EXPECT_OK(policy_store_revision(s, &rev2));
	EXPECT_EQ(rev, rev2);

	/* Signed by the store's key: applied and recorded as signed. */
	EXPECT_OK(policy_sign(k1, (const uint8_t *)canon, clen, sig));
	signed_by.siglen = strlen(sig);
	EXPECT_OK(policy_apply(s, set, 1, NULL, 0, false, NULL, NULL, &changes, &signed_by));
	EXPECT_EQ(changes, 2);
	EXPECT_OK(policy_history_list(s, 1, last_history, h));
	EXPECT(h->is_signed);
	EXPECT(memcmp(h->signer, keys.key[0], POLICY_PUBKEY_LEN) == 0);

	/* Off needs a signature over this revision's statement. */
	EXPECT_ERR(policy_signers_set(s, &none, &actor), POLICY_E_UNSIGNED);
	EXPECT_OK(policy_signers_statement(s, &none, &msg, &mlen));
	EXPECT_OK(policy_sign(k1, (const uint8_t *)msg, mlen, sig_old));
	free(msg);
	msg = NULL;
	/* ... which a later revision no longer accepts (no replay). */
	EXPECT_OK(policy_sign(k1, (const uint8_t *)canon, clen, sig));
	set[0].ports.r[0].lo = set[0].ports.r[0].hi = 81;
	free(canon);
	canon = NULL;
	EXPECT_OK(policy_set_canonical(&ps, &canon, &clen));
	EXPECT_OK(policy_sign(k1, (const uint8_t *)canon, clen, sig));
	signed_by.siglen = strlen(sig);
	EXPECT_OK(policy_apply(s, set, 1, NULL, 0, false, NULL, NULL, &changes, &signed_by));
	signed_by.sig = sig_old;
	signed_by.siglen = strlen(sig_old);
	EXPECT_ERR(policy_signers_set(s, &none, &signed_by), POLICY_E_SIGNATURE);
	EXPECT_OK(policy_signers_get(s, &got));
	EXPECT_EQ(got.n, 1);
	/* The statement for now, signed by the store's key: off. */
	EXPECT_OK(policy_signers_statement(s, &none, &msg, &mlen));
	EXPECT_OK(policy_sign(k1, (const uint8_t *)msg, mlen, sig));
	signed_by.sig = sig;
	signed_by.siglen = strlen(sig);
	EXPECT_OK(policy_signers_set(s, &none, &signed_by));
	EXPECT_OK(policy_signers_get(s, &got));
	EXPECT_EQ(got.n, 0);
	EXPECT_EQ(schema_of(db), 1);
	EXPECT(add(s, C, A, "80", 0) != 0);
	{
		const char *why = NULL;

		EXPECT_OK(policy_store_verify(s, &n, &why));
	}
	free(msg);
	free(canon);
	free(set);
	free(h);
	policy_store_close(s);
}

static void
setup(void)
{
	if (certs_crypto_init() != 0)
		abort();
}

TEST(init)
{
	setup();
}

TEST_MAIN(init, open_create, foreign_files, selector_kinds, ports, expiry, precedence, audit,
    revision_history_revoke, apply, map_grows, long_ids, reader_reuse, require_signed)
