/*
 * The workload registry (policy/registry.c) on a real LMDB file in a temp
 * dir: put/get/list/remove, the revision, SVID status, replace, the
 * errors (-EEXIST, -ENOENT, -EINVAL), read-only stores, damaged records,
 * the WORKLOAD_MAX bound, and a full map that leaves the store unchanged,
 * whether the map may grow (to a lowered maximum) or is fixed (authd).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/registry.h"
#include "policy/workload.h"
#include "policy/policy_int.h"
#include "test.h"

#define MAP_MAX (2ull << 20)

static char dir[64];
static char db[128];
static struct workload w, got;

#define SET(field, s) snprintf((field), sizeof(field), "%s", (s))

static void
fresh(void)
{
	if (dir[0] != '\0')
		(void)test_rm_tree(dir);
	snprintf(dir, sizeof(dir), "/tmp/authd-registry-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(db, sizeof(db), "%s/policy.mdb", dir);
}

static struct policy_store *
open_store(unsigned flags, uint64_t map)
{
	struct policy_store *s = NULL;

	if (policy_store_open(db, flags, map, &s) != 0)
		return NULL;
	return s;
}

static void
make(struct workload *x, const char *ns, const char *name)
{
	memset(x, 0, sizeof(*x));
	SET(x->name, name);
	SET(x->ns, ns);
	SET(x->sa, name);
	SET(x->listen, "0.0.0.0:15008");
	SET(x->apps[0], "127.0.0.1:8080");
	x->n_apps = 1;
	SET(x->upstreams[0].listen, "127.0.0.1:9000");
	SET(x->upstreams[0].peer, "10.0.0.2:15008");
	SET(x->upstreams[0].target_host, "db.shop.svc");
	x->upstreams[0].target_port = 5432;
	x->n_upstreams = 1;
}

static uint64_t
rev(struct policy_store *s)
{
	uint64_t r = 999;

	if (registry_revision(s, &r) != 0)
		return 998;
	return r;
}

/* What list saw: "ns/name[sa]{serial}" joined by spaces, and how many. */
struct seen {
	char text[1024];
	size_t n;
	int stop_at;
};

static int
seen_cb(const struct workload *x, const struct workload_svid_status *st, void *arg)
{
	struct seen *sn = arg;
	size_t off = strlen(sn->text);

	snprintf(sn->text + off, sizeof(sn->text) - off, "%s%s/%s[%s]%s%s%s", off ? " " : "", x->ns,
	    x->name, x->sa, st ? "{" : "", st ? st->serial : "", st ? "}" : "");
	sn->n++;
	return sn->stop_at != 0 && (int)sn->n == sn->stop_at ? 42 : 0;
}

static const char *
listing(struct policy_store *s)
{
	static struct seen sn;

	memset(&sn, 0, sizeof(sn));
	if (registry_list(s, seen_cb, &sn) != 0)
		return "(list failed)";
	return sn.text;
}

/* registry_list callback: keep a copy of the (last) status seen in *arg. */
static int
keep_status(const struct workload *x, const struct workload_svid_status *st, void *arg)
{
	struct workload_svid_status **out = arg;

	(void)x;
	if (st != NULL && (*out != NULL || (*out = malloc(sizeof(**out))) != NULL))
		**out = *st;
	return 0;
}

static void
status(struct workload_svid_status *st, const char *sa, const char *serial)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->spiffe_id, sizeof(st->spiffe_id), "spiffe://example.org/ns/shop/sa/%s", sa);
	SET(st->serial, serial);
	st->not_after = 1800003600;
	st->updated = 1800000000;
}

TEST(empty_store)
{
	struct policy_store *s;

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	EXPECT_EQ(rev(s), 0);
	EXPECT_STR(listing(s), "");
	EXPECT_ERR(registry_get(s, "shop", "web", &got), -ENOENT);
	EXPECT_ERR(registry_remove(s, "shop", "web"), -ENOENT);
	EXPECT_EQ(rev(s), 0);
	policy_store_close(s);
}

TEST(put_get_list_remove)
{
	struct policy_store *s;
	const char *why = NULL;
	struct seen sn;
	uint64_t prev;

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	REQUIRE(policy_store_revision(s, &prev) == 0);
	make(&w, "shop", "web");
	EXPECT_OK(registry_put(s, &w, false, &why));
	EXPECT_EQ(rev(s), 1);
	EXPECT_OK(registry_get(s, "shop", "web", &got));
	EXPECT(memcmp(&w, &got, sizeof(w)) == 0);
	EXPECT_ERR(registry_get(s, "shop", "db", &got), -ENOENT);
	EXPECT_ERR(registry_get(s, "other", "web", &got), -ENOENT);
	EXPECT_ERR(registry_get(s, "shop/web", "", &got), -ENOENT);

	/* Key order is "NS/NAME" bytewise: '-' sorts before '/'. */
	make(&w, "b", "x");
	EXPECT_OK(registry_put(s, &w, false, NULL));
	make(&w, "a", "y");
	EXPECT_OK(registry_put(s, &w, false, NULL));
	make(&w, "a-b", "z");
	EXPECT_OK(registry_put(s, &w, false, NULL));
	EXPECT_EQ(rev(s), 4);
	EXPECT_STR(listing(s), "a-b/z[z] a/y[y] b/x[x] shop/web[web]");

	/* A callback's non-zero return stops the walk and comes back. */
	memset(&sn, 0, sizeof(sn));
	sn.stop_at = 2;
	EXPECT_ERR(registry_list(s, seen_cb, &sn), 42);
	EXPECT_EQ(sn.n, 2);

	EXPECT_OK(registry_remove(s, "a", "y"));
	EXPECT_EQ(rev(s), 5);
	EXPECT_ERR(registry_remove(s, "a", "y"), -ENOENT);
	EXPECT_ERR(registry_remove(s, "a", ""), -ENOENT);
	EXPECT_EQ(rev(s), 5);
	EXPECT_STR(listing(s), "a-b/z[z] b/x[x] shop/web[web]");

	/* The registry keeps its own revision: the policy's did not move. */
	{
		uint64_t now;

		EXPECT_OK(policy_store_revision(s, &now));
		EXPECT_EQ(now, prev);
	}
	policy_store_close(s);

	/* It is all in the file. */
	REQUIRE((s = open_store(0, 0)) != NULL);
	EXPECT_EQ(rev(s), 5);
	EXPECT_STR(listing(s), "a-b/z[z] b/x[x] shop/web[web]");
	policy_store_close(s);
}

TEST(replace_and_exists)
{
	struct policy_store *s;
	const char *why = NULL;

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	make(&w, "shop", "web");
	REQUIRE(registry_put(s, &w, false, NULL) == 0);
	SET(w.listen, "0.0.0.0:15009");
	EXPECT_ERR(registry_put(s, &w, false, &why), -EEXIST);
	EXPECT(why != NULL);
	EXPECT_EQ(rev(s), 1);
	EXPECT_OK(registry_get(s, "shop", "web", &got));
	EXPECT_STR(got.listen, "0.0.0.0:15008");

	EXPECT_OK(registry_put(s, &w, true, NULL));
	EXPECT_EQ(rev(s), 2);
	EXPECT_OK(registry_get(s, "shop", "web", &got));
	EXPECT_STR(got.listen, "0.0.0.0:15009");
	/* The same again changes nothing, not even the revision. */
	EXPECT_OK(registry_put(s, &w, true, NULL));
	EXPECT_EQ(rev(s), 2);
	/* Replace also adds. */
	make(&w, "shop", "db");
	EXPECT_OK(registry_put(s, &w, true, NULL));
	EXPECT_EQ(rev(s), 3);
	policy_store_close(s);
}

TEST(invalid_changes_nothing)
{
	struct policy_store *s;
	const char *why = NULL;

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	make(&w, "shop", "web");
	REQUIRE(registry_put(s, &w, false, NULL) == 0);

	make(&w, "shop", "Bad");
	EXPECT_ERR(registry_put(s, &w, false, &why), -EINVAL);
	EXPECT(why != NULL && strstr(why, "name") != NULL);
	make(&w, "shop", "web");
	SET(w.upstreams[0].peer, "unix:/p");
	why = NULL;
	EXPECT_ERR(registry_put(s, &w, true, &why), -EINVAL);
	EXPECT(why != NULL && strstr(why, "peer") != NULL);
	make(&w, "shop", "web");
	w.n_apps = 0;
	EXPECT_ERR(registry_put(s, &w, true, NULL), -EINVAL);

	EXPECT_EQ(rev(s), 1);
	EXPECT_STR(listing(s), "shop/web[web]");
	EXPECT_OK(registry_get(s, "shop", "web", &got));
	EXPECT_STR(got.upstreams[0].peer, "10.0.0.2:15008");
	policy_store_close(s);
}

TEST(svid_status)
{
	struct workload_svid_status st;
	struct policy_store *s;

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	status(&st, "web", "aa01");
	EXPECT_ERR(registry_set_status(s, "shop", "web", &st), -ENOENT);
	make(&w, "shop", "web");
	REQUIRE(registry_put(s, &w, false, NULL) == 0);
	make(&w, "shop", "db");
	REQUIRE(registry_put(s, &w, false, NULL) == 0);
	EXPECT_EQ(rev(s), 2);

	EXPECT_OK(registry_set_status(s, "shop", "web", &st));
	/* Status writes do not bump the revision (the daemon writes them). */
	EXPECT_EQ(rev(s), 2);
	EXPECT_STR(listing(s), "shop/db[db] shop/web[web]{aa01}");
	status(&st, "web", "bb02");
	EXPECT_OK(registry_set_status(s, "shop", "web", &st));
	EXPECT_STR(listing(s), "shop/db[db] shop/web[web]{bb02}");

	/* A malformed status is refused and changes nothing. */
	status(&st, "web", "NOT-HEX");
	EXPECT_ERR(registry_set_status(s, "shop", "web", &st), -EINVAL);
	status(&st, "web", "cc03");
	st.not_after = -1;
	EXPECT_ERR(registry_set_status(s, "shop", "web", &st), -EINVAL);
	EXPECT_STR(listing(s), "shop/db[db] shop/web[web]{bb02}");

	/* Replacing with the same service account keeps the status... */
	make(&w, "shop", "web");
	SET(w.listen, "0.0.0.0:16000");
	EXPECT_OK(registry_put(s, &w, true, NULL));
	EXPECT_STR(listing(s), "shop/db[db] shop/web[web]{bb02}");
	/* ...another identity drops it: the SVID was for someone else. */
	SET(w.sa, "web2");
	EXPECT_OK(registry_put(s, &w, true, NULL));
	EXPECT_STR(listing(s), "shop/db[db] shop/web[web2]");

	/* Removing a workload removes its status: re-added, it has none. */
	status(&st, "web2", "dd04");
	EXPECT_OK(registry_set_status(s, "shop", "web", &st));
	EXPECT_OK(registry_remove(s, "shop", "web"));
	make(&w, "shop", "web");
	EXPECT_OK(registry_put(s, &w, false, NULL));
	EXPECT_STR(listing(s), "shop/db[db] shop/web[web]");
	policy_store_close(s);
}

TEST(read_only)
{
	struct workload_svid_status st;
	struct policy_store *s;

	fresh();
	/* A policy store that has never seen a workload: no registry databases. */
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	policy_store_close(s);
	REQUIRE((s = open_store(POLICY_OPEN_RDONLY, 0)) != NULL);
	EXPECT_EQ(rev(s), 0);
	EXPECT_STR(listing(s), "");
	EXPECT_ERR(registry_get(s, "shop", "web", &got), -ENOENT);
	make(&w, "shop", "web");
	EXPECT_ERR(registry_put(s, &w, false, NULL), POLICY_E_INVAL);
	EXPECT_ERR(registry_remove(s, "shop", "web"), POLICY_E_INVAL);
	status(&st, "web", "aa");
	EXPECT_ERR(registry_set_status(s, "shop", "web", &st), POLICY_E_INVAL);
	/* Invalid input is still reported as such. */
	w.n_apps = 0;
	EXPECT_ERR(registry_put(s, &w, false, NULL), -EINVAL);

	/*
	 * A reader open while a writer (another process: LMDB wants one env
	 * per file per process) adds sees the change on its next call.
	 */
	{
		pid_t pid = fork();
		int wst = 0;

		REQUIRE(pid >= 0);
		if (pid == 0) {
			struct policy_store *rw = open_store(0, 0);

			make(&w, "shop", "web");
			_exit(rw != NULL && registry_put(rw, &w, false, NULL) == 0 ? 0 : 1);
		}
		REQUIRE(waitpid(pid, &wst, 0) == pid);
		EXPECT(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	}
	EXPECT_EQ(rev(s), 1);
	EXPECT_STR(listing(s), "shop/web[web]");
	EXPECT_OK(registry_get(s, "shop", "web", &got));
	policy_store_close(s);
}

/* Write raw bytes under a key of one of the registry's databases. */
static int
raw_put(struct policy_store *s, const char *dbname, const char *key, const void *val, size_t len)
{
	MDB_env *env = policy__store_env(s);
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { strlen(key), (void *)(uintptr_t)key }, d = { len, (void *)(uintptr_t)val };

	if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
		return -1;
	if (mdb_dbi_open(txn, dbname, MDB_CREATE, &dbi) != 0 || mdb_put(txn, dbi, &k, &d, 0) != 0) {
		mdb_txn_abort(txn);
		return -1;
	}
	return mdb_txn_commit(txn) == 0 ? 0 : -1;
}

TEST(damaged_records)
{
	static uint8_t rec[WORKLOAD_RECORD_MAX];
	struct workload_svid_status st;
	struct policy_store *s;
	size_t len;

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	make(&w, "shop", "web");
	REQUIRE(registry_put(s, &w, false, NULL) == 0);

	/* Garbage under a key. */
	REQUIRE(raw_put(s, "workloads", "shop/bad", "\x01\xff garbage", 10) == 0);
	EXPECT_ERR(registry_get(s, "shop", "bad", &got), POLICY_E_CORRUPT);
	EXPECT_ERR(registry_list(s, seen_cb, &(struct seen){ 0 }), POLICY_E_CORRUPT);
	/* Still readable: the other workload. */
	EXPECT_OK(registry_get(s, "shop", "web", &got));

	/* A valid record under another workload's key. */
	REQUIRE(registry_record_encode(&w, rec, sizeof(rec), &len) == 0);
	REQUIRE(raw_put(s, "workloads", "shop/bad", rec, len) == 0);
	EXPECT_ERR(registry_get(s, "shop", "bad", &got), POLICY_E_CORRUPT);
	EXPECT_ERR(registry_list(s, seen_cb, &(struct seen){ 0 }), POLICY_E_CORRUPT);
	/* Removing the damaged entry repairs the registry. */
	EXPECT_OK(registry_remove(s, "shop", "bad"));
	EXPECT_STR(listing(s), "shop/web[web]");

	/* A damaged status. */
	REQUIRE(raw_put(s, "svid_status", "shop/web", "\x01\x00", 2) == 0);
	EXPECT_ERR(registry_list(s, seen_cb, &(struct seen){ 0 }), POLICY_E_CORRUPT);
	status(&st, "web", "ab");
	EXPECT_OK(registry_set_status(s, "shop", "web", &st));
	EXPECT_STR(listing(s), "shop/web[web]{ab}");

	/* A revision of the wrong size. */
	REQUIRE(raw_put(s, "registry_meta", "revision", "\x01", 1) == 0);
	{
		uint64_t r;

		EXPECT_ERR(registry_revision(s, &r), POLICY_E_CORRUPT);
	}
	make(&w, "shop", "db");
	EXPECT_ERR(registry_put(s, &w, false, NULL), POLICY_E_CORRUPT);
	EXPECT_ERR(registry_get(s, "shop", "db", &got), -ENOENT);
	policy_store_close(s);
}

TEST(workload_max)
{
	static uint8_t rec[WORKLOAD_RECORD_MAX];
	struct policy_store *s;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	size_t len;
	int failed = 0;

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	/* Fill the registry in one transaction (as many puts would, only faster). */
	env = policy__store_env(s);
	REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	REQUIRE(mdb_dbi_open(txn, "workloads", MDB_CREATE, &dbi) == 0);
	for (int i = 0; i < WORKLOAD_MAX && !failed; i++) {
		char name[16], key[32];
		MDB_val k, d;

		snprintf(name, sizeof(name), "w%d", i);
		make(&w, "fill", name);
		snprintf(key, sizeof(key), "fill/%s", name);
		k = (MDB_val){ strlen(key), key };
		failed = registry_record_encode(&w, rec, sizeof(rec), &len) != 0;
		d = (MDB_val){ len, rec };
		failed = failed || mdb_put(txn, dbi, &k, &d, 0) != 0;
	}
	REQUIRE(!failed);
	REQUIRE(mdb_txn_commit(txn) == 0);

	make(&w, "shop", "one-more");
	EXPECT_ERR(registry_put(s, &w, false, NULL), POLICY_E_TOO_BIG);
	EXPECT_ERR(registry_get(s, "shop", "one-more", &got), -ENOENT);
	/* Replacing one that is there is still fine, and after a removal there is room. */
	make(&w, "fill", "w7");
	SET(w.listen, "0.0.0.0:1");
	EXPECT_OK(registry_put(s, &w, true, NULL));
	EXPECT_OK(registry_remove(s, "fill", "w8"));
	make(&w, "shop", "one-more");
	EXPECT_OK(registry_put(s, &w, false, NULL));
	policy_store_close(s);
}

/* A workload whose record is near the largest (about 40 KiB). */
static void
big(struct workload *x, int i)
{
	char name[16];

	snprintf(name, sizeof(name), "big%d", i);
	make(x, "load", name);
	for (size_t u = 0; u < WORKLOAD_UPSTREAMS_MAX; u++) {
		struct workload_upstream *up = &x->upstreams[u];
		size_t off;

		*up = x->upstreams[0];
		snprintf(up->listen, sizeof(up->listen), "127.0.0.1:%zu", 9000 + u);
		off = (size_t)snprintf(up->expect_id, sizeof(up->expect_id), "spiffe://example.org/");
		memset(up->expect_id + off, 'x', SPIFFE_ID_MAX - off);
		up->expect_id[SPIFFE_ID_MAX] = '\0';
	}
	x->n_upstreams = WORKLOAD_UPSTREAMS_MAX;
}

TEST(map_full_changes_nothing)
{
	struct policy_store *s;
	struct seen sn;
	uint64_t used, map, before;
	int i, err = 0;

	fresh();
	/* Start at 256 KiB; the registry may grow it to MAP_MAX (2 MiB) only. */
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 256 << 10)) != NULL);
	policy_store_set_map_max(s, MAP_MAX);
	for (i = 0; i < 200; i++) {
		big(&w, i);
		err = registry_put(s, &w, false, NULL);
		if (err != 0)
			break;
	}
	EXPECT_ERR(err, POLICY_E_MAP_FULL);
	/* The map grew past its start before it was full. */
	EXPECT(i > 8);
	printf("  map full after %d workloads of ~40 KiB\n", i);
	REQUIRE(policy_store_size(s, &used, &map) == 0);
	EXPECT_EQ(map, MAP_MAX);

	/* The failed put left nothing: not the workload, not a revision. */
	EXPECT_EQ(rev(s), (uint64_t)i);
	EXPECT_ERR(registry_get(s, "load", w.name, &got), -ENOENT);
	memset(&sn, 0, sizeof(sn));
	EXPECT_OK(registry_list(s, seen_cb, &sn));
	EXPECT_EQ(sn.n, (size_t)i);
	before = rev(s);
	EXPECT_ERR(registry_put(s, &w, false, NULL), POLICY_E_MAP_FULL);
	EXPECT_EQ(rev(s), before);
	policy_store_close(s);

	/* And the file says the same after reopening. */
	REQUIRE((s = open_store(POLICY_OPEN_RDONLY, 0)) != NULL);
	EXPECT_EQ(rev(s), before);
	memset(&sn, 0, sizeof(sn));
	EXPECT_OK(registry_list(s, seen_cb, &sn));
	EXPECT_EQ(sn.n, (size_t)i);
	policy_store_close(s);
	(void)test_rm_tree(dir);
}

/*
 * authd opens the store with a fixed map: a remap under another thread's
 * reader would crash it. Full is an error that writes nothing, and a store
 * another process grew past the map is an error, never an adopted size.
 */
TEST(fixed_map_never_remaps)
{
	struct policy_store *s, *t;
	struct policy_reader *r;
	uint64_t used, map, before;
	int i, err = 0, status;
	pid_t pid;

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE | POLICY_OPEN_FIXED_MAP, 512 << 10)) != NULL);
	REQUIRE(policy_reader_new(s, &r) == 0);
	for (i = 0; i < 100; i++) {
		big(&w, i);
		if ((err = registry_put(s, &w, false, NULL)) != 0)
			break;
	}
	EXPECT_ERR(err, POLICY_E_MAP_FULL);
	REQUIRE(policy_store_size(s, &used, &map) == 0);
	EXPECT_EQ(map, (uint64_t)512 << 10);
	before = rev(s);
	EXPECT_OK(policy_reader_revision(r, &used));

	/* Another process (authctl) grows the map and writes past ours. */
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int j, e = 0;

		if (policy_store_open(db, 0, 0, &t) != 0)
			_exit(2);
		for (j = 100; j < 130 && e == 0; j++) {
			big(&w, j);
			e = registry_put(t, &w, false, NULL);
		}
		policy_store_close(t);
		_exit(e == 0 ? 0 : 3);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_ERR(registry_revision(s, &used), POLICY_E_MAP_OUTGROWN);
	EXPECT_ERR(policy_reader_revision(r, &used), POLICY_E_MAP_OUTGROWN);
	EXPECT_ERR(registry_put(s, &w, true, NULL), POLICY_E_MAP_OUTGROWN);
	REQUIRE(policy_store_size(s, &used, &map) == 0);
	EXPECT_EQ(map, (uint64_t)512 << 10);
	policy_reader_free(r);
	policy_store_close(s);

	/* Opened again with room, it reads everything. */
	REQUIRE((s = open_store(POLICY_OPEN_RDONLY | POLICY_OPEN_FIXED_MAP, 64ull << 20)) != NULL);
	EXPECT(rev(s) > before);
	policy_store_close(s);
	(void)test_rm_tree(dir);
}

/*
 * A refusal (the daemon's reason for not serving a workload) is stored as a
 * version 2 status; one without is still version 1, byte for byte.
 */
TEST(refused_status)
{
	uint8_t rec[WORKLOAD_STATUS_RECORD_MAX], v1[WORKLOAD_STATUS_RECORD_MAX];
	struct workload_svid_status st, back;
	size_t len = 0, len1 = 0;

	status(&st, "web", "aa01");
	REQUIRE(registry_status_encode(&st, v1, sizeof(v1), &len1) == 0);
	EXPECT_EQ(v1[0], 1);

	memset(&st, 0, sizeof(st));
	SET(st.refused, "listen 127.0.0.1:80 overlaps a listener of shop/db");
	st.updated = 1800000000;
	REQUIRE(registry_status_encode(&st, rec, sizeof(rec), &len) == 0);
	EXPECT_EQ(rec[0], 2);
	REQUIRE(registry_status_decode(rec, len, &back) == 0);
	EXPECT_STR(back.refused, st.refused);
	EXPECT_EQ(back.not_after, 0);
	/* Truncated, or a version 2 record with an empty reason: corrupt. */
	EXPECT_ERR(registry_status_decode(rec, len - 1, &back), POLICY_E_CORRUPT);
	v1[0] = 2;
	v1[len1] = 0;
	EXPECT_ERR(registry_status_decode(v1, len1 + 1, &back), POLICY_E_CORRUPT);

	/* A refused workload has no SVID; the reason is printable text. */
	st.not_after = 1800003600;
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	st.not_after = 0;
	SET(st.serial, "aa");
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	SET(st.serial, "");
	SET(st.refused, "two\nlines");
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	memset(st.refused, 'x', sizeof(st.refused));
	EXPECT_ERR(registry_status_check(&st), -EINVAL);

	/* Stored and listed like any status. */
	{
		struct policy_store *s;
		struct workload_svid_status *seen = NULL;

		fresh();
		REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
		make(&w, "shop", "web");
		REQUIRE(registry_put(s, &w, false, NULL) == 0);
		memset(&st, 0, sizeof(st));
		SET(st.refused, "the config file has a workload of this name (the file wins)");
		EXPECT_OK(registry_set_status(s, "shop", "web", &st));
		EXPECT_OK(registry_list(s, keep_status, &seen));
		EXPECT(seen != NULL && strcmp(seen->refused, st.refused) == 0);
		free(seen);
		policy_store_close(s);
	}
}

/* A pod's workload: no listeners, an identity and its pod's UID. */
static void
make_pod(struct workload *x, const char *ns, const char *name, const char *sa, const char *uid)
{
	memset(x, 0, sizeof(*x));
	SET(x->name, name);
	SET(x->ns, ns);
	SET(x->sa, sa);
	SET(x->pod_uid, uid);
}

TEST(sync_pods)
{
	struct workload ws[3], op;
	struct workload_svid_status st, *seen = NULL;
	uint8_t rec[WORKLOAD_RECORD_MAX];
	struct policy_store *s;
	size_t changed = 9, conflicts = 9, len = 0;
	const char *why = NULL;
	uint64_t r0;

	/* The UID makes a version 2 record that decodes to the same workload. */
	make_pod(&ws[0], "shop", "web-1", "web", "0b6c6a9e-2f0c-4c8e-9c39-1f2d7c9b3a11");
	REQUIRE(registry_record_encode(&ws[0], rec, sizeof(rec), &len) == 0);
	EXPECT_EQ(rec[0], 2);
	REQUIRE(registry_record_decode(rec, len, &got) == 0);
	EXPECT_STR(got.pod_uid, ws[0].pod_uid);
	EXPECT_ERR(registry_record_decode(rec, len - 1, &got), POLICY_E_CORRUPT);
	rec[len - 1 - strlen(ws[0].pod_uid)] = 0;	/* version 2 with an empty UID */
	EXPECT_ERR(registry_record_decode(rec, len - strlen(ws[0].pod_uid), &got), POLICY_E_CORRUPT);
	SET(got.pod_uid, "Not/A-UID");
	EXPECT_ERR(workload_validate(&got, &why), -EINVAL);

	fresh();
	REQUIRE((s = open_store(POLICY_OPEN_CREATE, 0)) != NULL);
	/* An operator's workload, and one that shares a pod's name. */
	make(&op, "shop", "db");
	REQUIRE(registry_put(s, &op, false, NULL) == 0);
	make(&op, "shop", "web-2");
	REQUIRE(registry_put(s, &op, false, NULL) == 0);
	make_pod(&ws[1], "shop", "web-2", "web", "11111111-2222-3333-4444-555555555555");
	make_pod(&ws[2], "pay", "api-0", "api", "66666666-2222-3333-4444-555555555555");
	r0 = rev(s);
	EXPECT_OK(registry_sync_pods(s, ws, 3, &changed, &conflicts, &why));
	EXPECT_EQ(changed, 2);
	EXPECT_EQ(conflicts, 1);
	EXPECT_EQ(rev(s), r0 + 1);
	EXPECT_STR(listing(s), "pay/api-0[api] shop/db[db] shop/web-1[web] shop/web-2[web-2]");
	REQUIRE(registry_get(s, "shop", "web-2", &got) == 0);
	EXPECT_STR(got.pod_uid, "");

	/* The same set again writes nothing. */
	EXPECT_OK(registry_sync_pods(s, ws, 3, &changed, &conflicts, &why));
	EXPECT_EQ(changed, 0);
	EXPECT_EQ(rev(s), r0 + 1);

	/* A status survives an unchanged pod, goes with a new pod of the same name. */
	status(&st, "web", "ab");
	SET(st.spiffe_id, "spiffe://example.org/ns/shop/sa/web");
	REQUIRE(registry_set_status(s, "shop", "web-1", &st) == 0);
	SET(ws[0].pod_uid, "0b6c6a9e-2f0c-4c8e-9c39-000000000000");
	EXPECT_OK(registry_sync_pods(s, ws, 1, &changed, &conflicts, &why));
	EXPECT_EQ(changed, 2);	/* web-1 replaced, pay/api-0 removed */
	EXPECT_STR(listing(s), "shop/db[db] shop/web-1[web] shop/web-2[web-2]");
	EXPECT_OK(registry_list(s, keep_status, &seen));
	EXPECT(seen == NULL);

	/* Invalid input changes nothing: no UID, duplicates, a bad name. */
	r0 = rev(s);
	make_pod(&ws[1], "shop", "web-9", "web", "");
	EXPECT_ERR(registry_sync_pods(s, ws, 2, &changed, &conflicts, &why), -EINVAL);
	EXPECT(why != NULL && strstr(why, "UID") != NULL);
	ws[1] = ws[0];
	EXPECT_ERR(registry_sync_pods(s, ws, 2, &changed, &conflicts, &why), -EINVAL);
	make_pod(&ws[1], "shop", "Web.9", "web", "abc");
	EXPECT_ERR(registry_sync_pods(s, ws, 2, &changed, &conflicts, &why), -EINVAL);
	EXPECT_EQ(rev(s), r0);

	/* No pods: every pod workload goes, the operator's stay. */
	EXPECT_OK(registry_sync_pods(s, NULL, 0, &changed, &conflicts, &why));
	EXPECT_EQ(changed, 1);
	EXPECT_STR(listing(s), "shop/db[db] shop/web-2[web-2]");
	policy_store_close(s);
}

TEST_MAIN(empty_store, sync_pods, put_get_list_remove, replace_and_exists, invalid_changes_nothing,
    svid_status, refused_status, read_only, damaged_records, workload_max, map_full_changes_nothing,
    fixed_map_never_remaps)
