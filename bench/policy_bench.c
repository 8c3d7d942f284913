/*
 * policy_bench: the allow-list store at 1k, 100k and 1M rules, in process,
 * on one core.
 *
 *   policy_bench [--rules N[,N...]] [--seconds S] [--json]
 *
 * For each rule count N (default 1000,100000,1000000), in a fresh store in a
 * mkdtemp directory under $TMPDIR (removed on exit, also on SIGINT, SIGTERM
 * and SIGHUP):
 *
 *   apply     policy_apply of N generated rules into the empty store: one
 *             LMDB write transaction, commit and fsync included
 *   re-apply  policy_apply of the same N rules again: a diff that finds
 *             nothing to change and writes nothing (the revision must stay)
 *   size      policy_store_size "used" over N (bytes per rule), and the data
 *             file's allocated size on disk (st_blocks * 512)
 *   checks    policy_check through one reader on a pre-built workload:
 *             50 % allowed by an exact -> exact rule, 25 % allowed through a
 *             namespace, trust-domain or "*" source rule, 25 % denied (no
 *             rule: every one of the 12 index lookups misses, then the
 *             audit lookups). Latency: each call timed alone with
 *             clock_gettime(CLOCK_MONOTONIC) for about S seconds; the
 *             clock's own cost (reported as timer_overhead_ns, ~20-40 ns) is
 *             included in every sample, not subtracted. Throughput: total
 *             calls over wall time of a separate tight loop of about S seconds
 *             without per-call timing.
 *   memory    the peak RSS while handling N (VmHWM, reset through
 *             /proc/self/clear_refs before each N; falls back to the
 *             process-wide getrusage ru_maxrss when the reset is refused).
 *             It includes the N-rule array handed to policy_apply
 *             (sizeof(struct policy_rule) bytes per rule), which is freed
 *             before the checks run.
 *   trees     depth and pages of the store's index and rules B+trees
 *             (mdb_stat, read with plain LMDB after the store is closed):
 *             each of a check's index lookups descends the index's depth.
 *
 * Rules (rule i of N; every rule is unique; "NS/" "*" below is a namespace
 * selector, "TD/" "*" a trust-domain selector, written apart because the
 * two characters together would end this comment):
 *   i % 100 <  70  exact -> exact   spiffe://bench.local/ns/ns<i%1000>/sa/sa<i> ->
 *                                   spiffe://bench.local/ns/ns<(i*7)%1000>/sa/svc<i%5000>,
 *                                   one port (443, 8080, 5432, 6379 or 9090 by i%5)
 *   i % 100 <  90  namespace -> exact  spiffe://bench.local/ns/ns<i%1000>/ "*" ->
 *                                   spiffe://bench.local/ns/ns<(i*3)%1000>/sa/api<i>, 8000-8099
 *   i % 100 <  99  trust domain -> namespace  spiffe://partner<i%97>.example/ "*" ->
 *                                   spiffe://bench.local/ns/team<i/100>/ "*", 443,8443
 *   i % 100 == 99  any -> namespace  "*" -> spiffe://bench.local/ns/public<i/100>/ "*", 443
 *
 * The queries (2^18 of them, drawn at random over the whole rule set with a
 * fixed seed, so a 1M-rule store is touched all over, as a busy node would)
 * hold their SPIFFE IDs already parsed and in canonical form; each call
 * copies the two short ID strings into the spiffe_id structs it passes (a
 * few ns; outside the timed region in the latency loop, inside it in the
 * throughput loop). Every query's verdict is checked once before timing.
 *
 * The process pins itself to CPU 0 (sched_setaffinity). --json prints one
 * JSON object per rule count, one per line.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "bench/bench.h"
#include "certs/crypto.h"
#include "certs/spiffe.h"
#include "policy/policy.h"

#define BENCH_TD "bench.local"
#define BENCH_NOW INT64_C(1767225600)	/* 2026-01-01T00:00:00Z: actor time and check time */
#define NQUERIES (1u << 18)
#define RULES_MIN 100u			/* every rule kind appears */
#define RULES_MAX 2000000u		/* POLICY_FILE_MAX_RULES */
#define RULES_LIST_MAX 16
#define QID_MAX 96			/* longest generated ID is ~60 bytes */
#define CHUNK 256			/* throughput loop: checks between clock reads */

enum qkind { Q_EXACT, Q_WILD, Q_DENY, Q_KINDS };

/* A SPIFFE ID parsed ahead of time, kept compact so the query array streams. */
struct qid {
	uint16_t len;
	uint16_t td_len;
	char str[QID_MAX];
};

struct query {
	struct qid src;
	struct qid dst;
	uint16_t port;
	uint8_t kind;
};


struct lat {
	size_t count;
	uint32_t p50, p99, p999, max;
	double mean;
};

struct result {
	size_t rules;
	double gen_s, apply_s, reapply_s;
	size_t apply_changes, reapply_changes;
	uint64_t rev_apply, rev_reapply;
	uint64_t used, map, map_initial;
	uint64_t file_bytes, file_alloc;
	double checks_per_sec;
	size_t tput_count;
	double tput_s;
	double lat_s;
	struct lat l[Q_KINDS];	/* exact allow, wildcard allow, deny */
	struct lat allow;	/* exact and wildcard allows together */
	struct lat mix;
	double rss_peak_mb;	/* VmHWM while handling this N (or ru_maxrss) */
	bool rss_scoped;	/* the peak was reset before this N */
	double ru_maxrss_mb;	/* getrusage: whole process so far */
	double rss_checks_mb;	/* VmRSS after the check loops */
	double rules_array_mb;
	/* The LMDB B+trees: index (what a check searches) and rules (records). */
	unsigned idx_depth, rules_depth;
	uint64_t idx_pages, idx_entries, rules_pages, psize;
};

/* For the signal handler: plain paths, removed with async-signal-safe calls. */
static char tmp_dir[256];
static char db_path[300];
static char lock_path[310];
static volatile sig_atomic_t tmp_made;

static void
remove_db_files(void)
{
	if (db_path[0] != '\0') {
		(void)unlink(db_path);
		(void)unlink(lock_path);
	}
}

static void
cleanup_tmp(void)
{
	if (tmp_made) {
		remove_db_files();
		(void)rmdir(tmp_dir);
		tmp_made = 0;
	}
}

static void
on_signal(int sig)
{
	if (tmp_made) {
		remove_db_files();
		(void)rmdir(tmp_dir);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
fail(const char *what, int err)
{
	fprintf(stderr, "policy_bench: %s: %s (%d)\n", what, policy_strerror(err), err);
	return -1;
}

/* splitmix64: a fixed, portable sequence so every run draws the same queries. */
static uint64_t
rnd(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static int
fmt(char *buf, size_t size, const char *f, ...) AD_PRINTF(3, 4);

static int
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? POLICY_E_TOO_BIG : 0;
}

/* ---- The rule set -------------------------------------------------------- */

static const uint16_t exact_ports[5] = { 443, 8080, 5432, 6379, 9090 };

static bool
is_exact(size_t i)
{
	return i % 100 < 70;
}

/* Rule i's selectors and ports as text (the same text a policy file would hold). */
static int
rule_text(size_t i, char *from, char *to, size_t size, char *ports, size_t psize)
{
	unsigned cat = (unsigned)(i % 100);
	int err;

	if (cat < 70) {
		err = fmt(from, size, "spiffe://" BENCH_TD "/ns/ns%zu/sa/sa%zu", i % 1000, i);
		if (err == 0)
			err = fmt(to, size, "spiffe://" BENCH_TD "/ns/ns%zu/sa/svc%zu",
			    (i * 7) % 1000, i % 5000);
		if (err == 0)
			err = fmt(ports, psize, "%u", (unsigned)exact_ports[i % 5]);
	} else if (cat < 90) {
		err = fmt(from, size, "spiffe://" BENCH_TD "/ns/ns%zu/*", i % 1000);
		if (err == 0)
			err = fmt(to, size, "spiffe://" BENCH_TD "/ns/ns%zu/sa/api%zu",
			    (i * 3) % 1000, i);
		if (err == 0)
			err = fmt(ports, psize, "8000-8099");
	} else if (cat < 99) {
		err = fmt(from, size, "spiffe://partner%zu.example/*", i % 97);
		if (err == 0)
			err = fmt(to, size, "spiffe://" BENCH_TD "/ns/team%zu/*", i / 100);
		if (err == 0)
			err = fmt(ports, psize, "443,8443");
	} else {
		err = fmt(from, size, "*");
		if (err == 0)
			err = fmt(to, size, "spiffe://" BENCH_TD "/ns/public%zu/*", i / 100);
		if (err == 0)
			err = fmt(ports, psize, "443");
	}
	return err;
}

static int
rule_make(size_t i, struct policy_rule *r)
{
	char from[128], to[128], ports[32];
	const char *why = NULL;
	int err;

	memset(r, 0, sizeof(*r));
	if ((err = rule_text(i, from, to, sizeof(from), ports, sizeof(ports))) != 0)
		return err;
	if ((err = policy_selector_parse(from, strlen(from), POLICY_FROM, &r->from, &why)) != 0 ||
	    (err = policy_selector_parse(to, strlen(to), POLICY_TO, &r->to, &why)) != 0 ||
	    (err = policy_ports_parse(ports, strlen(ports), &r->ports, &why)) != 0) {
		fprintf(stderr, "policy_bench: rule %zu (%s -> %s : %s): %s\n", i, from, to, ports,
		    why != NULL ? why : policy_strerror(err));
		return err;
	}
	return 0;
}

/* ---- The queries ---------------------------------------------------------- */

static int
qid_set(struct qid *q, struct spiffe_id *scratch, const char *f, ...) AD_PRINTF(3, 4);

static int
qid_set(struct qid *q, struct spiffe_id *scratch, const char *f, ...)
{
	char buf[QID_MAX];
	size_t where = 0;
	va_list ap;
	int n, err;

	va_start(ap, f);
	n = vsnprintf(buf, sizeof(buf), f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return POLICY_E_TOO_BIG;
	err = spiffe_id_parse_workload(buf, (size_t)n, scratch, &where);
	if (err != 0) {
		fprintf(stderr, "policy_bench: query ID %s: %s\n", buf, policy_strerror(err));
		return err;
	}
	if (scratch->len >= QID_MAX)
		return POLICY_E_TOO_BIG;
	memcpy(q->str, scratch->str, scratch->len + 1);
	q->len = (uint16_t)scratch->len;
	q->td_len = (uint16_t)scratch->td_len;
	return 0;
}

static void
qid_load(struct spiffe_id *id, const struct qid *q)
{
	memcpy(id->str, q->str, (size_t)q->len + 1);
	id->len = q->len;
	id->td_len = q->td_len;
}

/* A random rule index below n of the exact kind (want_exact) or of the others. */
static size_t
pick(uint64_t *st, size_t n, bool want_exact)
{
	size_t i;

	do
		i = (size_t)(rnd(st) % n);
	while (is_exact(i) != want_exact);
	return i;
}

static int
exact_src(struct qid *q, struct spiffe_id *sc, size_t i)
{
	return qid_set(q, sc, "spiffe://" BENCH_TD "/ns/ns%zu/sa/sa%zu", i % 1000, i);
}

static int
exact_dst(struct qid *q, struct spiffe_id *sc, size_t i)
{
	return qid_set(q, sc, "spiffe://" BENCH_TD "/ns/ns%zu/sa/svc%zu", (i * 7) % 1000, i % 5000);
}

static int
query_make(struct query *q, struct spiffe_id *sc, size_t n, uint64_t *st)
{
	uint64_t r = rnd(st);
	size_t i, j;
	int err;

	memset(q, 0, sizeof(*q));
	switch (r % 4) {
	case 0:
	case 1:
		/* The source's own rule: the first lookup finds it. */
		q->kind = Q_EXACT;
		i = pick(st, n, true);
		q->port = exact_ports[i % 5];
		if ((err = exact_src(&q->src, sc, i)) != 0)
			return err;
		return exact_dst(&q->dst, sc, i);
	case 2:
		q->kind = Q_WILD;
		i = pick(st, n, false);
		r = rnd(st);
		if (i % 100 < 90) {
			/* A workload of the namespace: 2 lookups (exact misses, namespace hits). */
			q->port = (uint16_t)(8000 + r % 100);
			err = qid_set(&q->src, sc, "spiffe://" BENCH_TD "/ns/ns%zu/sa/client%" PRIu64,
			    i % 1000, (r >> 8) % 100000);
			if (err == 0)
				err = qid_set(&q->dst, sc, "spiffe://" BENCH_TD "/ns/ns%zu/sa/api%zu",
				    (i * 3) % 1000, i);
		} else if (i % 100 < 99) {
			/* A partner's workload: 7 lookups (destination exact x 4, then namespace x 3). */
			q->port = r % 2 ? 443 : 8443;
			err = qid_set(&q->src, sc, "spiffe://partner%zu.example/ns/ext%" PRIu64
			    "/sa/caller%" PRIu64, i % 97, (r >> 8) % 50, (r >> 16) % 1000);
			if (err == 0)
				err = qid_set(&q->dst, sc, "spiffe://" BENCH_TD "/ns/team%zu/sa/worker%"
				    PRIu64, i / 100, (r >> 32) % 1000);
		} else {
			/* Anyone: 7 lookups (no namespace in the source: 3 x exact, TD, any). */
			q->port = 443;
			err = qid_set(&q->src, sc, "spiffe://elsewhere%" PRIu64 ".example/sa/visitor%"
			    PRIu64, (r >> 8) % 10, (r >> 16) % 100000);
			if (err == 0)
				err = qid_set(&q->dst, sc, "spiffe://" BENCH_TD "/ns/public%zu/sa/web%"
				    PRIu64, i / 100, (r >> 40) % 100);
		}
		return err;
	default:
		/* A real source to a real service it has no rule for: all 12 lookups miss. */
		q->kind = Q_DENY;
		i = pick(st, n, true);
		do
			j = pick(st, n, true);
		while (j % 5000 == i % 5000);
		q->port = exact_ports[j % 5];
		if ((err = exact_src(&q->src, sc, i)) != 0)
			return err;
		return exact_dst(&q->dst, sc, j);
	}
}

/* ---- Measuring ------------------------------------------------------------- */

static void
summarise(struct bench_samples *s, struct lat *l)
{
	double sum = 0.0;

	bench_sort(s);
	for (size_t i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	l->count = s->n;
	l->p50 = bench_percentile(s, 50.0);
	l->p99 = bench_percentile(s, 99.0);
	l->p999 = bench_percentile(s, 99.9);
	l->max = s->n ? s->v[s->n - 1] : 0;
	l->mean = s->n ? sum / (double)s->n : 0.0;
}

/* Append b's samples to a (for the allow and mix summaries). */
static int
samples_cat(struct bench_samples *a, const struct bench_samples *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (bench_push(a, b->v[i]) != 0)
			return POLICY_E_NOMEM;
	return 0;
}

/* The median cost of one clock_gettime pair, which every latency sample includes. */
static uint64_t
timer_overhead(void)
{
	static uint32_t d[100001];
	struct bench_samples s = { d, 0, AD_ARRAY_LEN(d) };

	for (size_t i = 0; i < AD_ARRAY_LEN(d); i++) {
		uint64_t t0 = bench_now_ns(), t1 = bench_now_ns();

		d[s.n++] = (uint32_t)(t1 - t0);
	}
	bench_sort(&s);
	return bench_percentile(&s, 50.0);
}

struct ids {
	struct spiffe_id src;
	struct spiffe_id dst;
};

/* Run every query once, untimed: the verdicts must be what the rule set says. */
static int
validate(struct policy_reader *rd, const struct query *q, size_t nq, struct ids *ids)
{
	struct policy_decision d;
	int err;

	for (size_t i = 0; i < nq; i++) {
		bool want_allow = q[i].kind != Q_DENY;

		qid_load(&ids->src, &q[i].src);
		qid_load(&ids->dst, &q[i].dst);
		err = policy_check(rd, &ids->src, &ids->dst, q[i].port, BENCH_NOW, &d);
		if (err != 0)
			return fail("policy_check", err);
		if ((want_allow && d.verdict != POLICY_ALLOW) ||
		    (!want_allow && (d.verdict != POLICY_DENY || d.reason != POLICY_R_NO_RULE))) {
			fprintf(stderr, "policy_bench: %s -> %s :%u: %s/%s, expected %s\n",
			    ids->src.str, ids->dst.str, (unsigned)q[i].port,
			    policy_verdict_name(d.verdict), policy_reason_name(d.reason),
			    want_allow ? "allow" : "deny/no-rule");
			return -1;
		}
	}
	return 0;
}

static int
measure_latency(struct policy_reader *rd, const struct query *q, size_t nq, double seconds,
    struct ids *ids, struct result *res)
{
	struct bench_samples s[Q_KINDS], all = { 0 };
	struct policy_decision d;
	uint64_t start, t0, t1, budget = (uint64_t)(seconds * 1e9);
	size_t i = 0;
	int err = 0, rc = -1;

	memset(s, 0, sizeof(s));
	start = bench_now_ns();
	do {
		const struct query *x = &q[i];

		qid_load(&ids->src, &x->src);
		qid_load(&ids->dst, &x->dst);
		t0 = bench_now_ns();
		err = policy_check(rd, &ids->src, &ids->dst, x->port, BENCH_NOW, &d);
		t1 = bench_now_ns();
		if (err != 0) {
			fail("policy_check", err);
			goto out;
		}
		if ((err = bench_push(&s[x->kind], t1 - t0)) != 0) {
			fail("samples", err);
			goto out;
		}
		if (++i == nq)
			i = 0;
	} while (t1 - start < budget);
	res->lat_s = (double)(t1 - start) / 1e9;

	for (int k = 0; k < Q_KINDS; k++)
		summarise(&s[k], &res->l[k]);
	if (samples_cat(&all, &s[Q_EXACT]) != 0 || samples_cat(&all, &s[Q_WILD]) != 0) {
		fail("samples", POLICY_E_NOMEM);
		goto out;
	}
	summarise(&all, &res->allow);
	if (samples_cat(&all, &s[Q_DENY]) != 0) {
		fail("samples", POLICY_E_NOMEM);
		goto out;
	}
	summarise(&all, &res->mix);
	rc = 0;
out:
	for (int k = 0; k < Q_KINDS; k++)
		free(s[k].v);
	free(all.v);
	return rc;
}

static int
measure_throughput(struct policy_reader *rd, const struct query *q, size_t nq, double seconds,
    struct ids *ids, struct result *res)
{
	struct policy_decision d;
	uint64_t start, end, budget = (uint64_t)(seconds * 1e9);
	size_t i = 0, count = 0, allowed = 0, want = 0;
	int err;

	start = bench_now_ns();
	do {
		for (int c = 0; c < CHUNK; c++) {
			const struct query *x = &q[i];

			qid_load(&ids->src, &x->src);
			qid_load(&ids->dst, &x->dst);
			err = policy_check(rd, &ids->src, &ids->dst, x->port, BENCH_NOW, &d);
			if (err != 0)
				return fail("policy_check", err);
			allowed += d.verdict == POLICY_ALLOW;
			want += x->kind != Q_DENY;
			if (++i == nq)
				i = 0;
		}
		count += CHUNK;
		end = bench_now_ns();
	} while (end - start < budget);
	if (allowed != want) {
		fprintf(stderr, "policy_bench: throughput loop: %zu allowed, expected %zu\n",
		    allowed, want);
		return -1;
	}
	res->tput_count = count;
	res->tput_s = (double)(end - start) / 1e9;
	res->checks_per_sec = (double)count / res->tput_s;
	return 0;
}

/* ---- Memory ------------------------------------------------------------------- */

/* Reset the kernel's peak-RSS mark (VmHWM) for this process; false if refused. */
static bool
rss_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	bool ok;

	if (f == NULL)
		return false;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
}

/* A "VmHWM:" / "VmRSS:" line of /proc/self/status, in MiB; -1 when absent. */
static double
proc_status_mb(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	double mb = -1.0;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1.0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, flen) == 0) {
			mb = strtod(line + flen, NULL) / 1024.0;
			break;
		}
	}
	fclose(f);
	return mb;
}

static double
ru_maxrss_mb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1.0;
	return (double)ru.ru_maxrss / 1024.0;	/* kilobytes on Linux */
}

/* ---- The store's trees --------------------------------------------------------------- */

static void
tree_fill(const MDB_stat *st, unsigned *depth, uint64_t *pages, uint64_t *entries)
{
	*depth = st->ms_depth;
	*pages = (uint64_t)st->ms_branch_pages + st->ms_leaf_pages + st->ms_overflow_pages;
	if (entries != NULL)
		*entries = st->ms_entries;
}

/*
 * Depth and pages of the index and rules trees, read with plain LMDB once
 * the store is closed (LMDB must not have one file open twice in a process).
 * A diagnostic only: the figures explain where check time goes.
 */
static int
tree_stats(const char *path, struct result *res)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_stat st;
	int rc;

	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	if ((rc = mdb_env_set_maxdbs(env, 8)) == 0 &&
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY, 0644)) == 0 &&
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0) {
		if ((rc = mdb_dbi_open(txn, "index", MDB_DUPSORT, &dbi)) == 0 &&
		    (rc = mdb_stat(txn, dbi, &st)) == 0) {
			tree_fill(&st, &res->idx_depth, &res->idx_pages, &res->idx_entries);
			res->psize = st.ms_psize;
		}
		if (rc == 0 && (rc = mdb_dbi_open(txn, "rules", 0, &dbi)) == 0 &&
		    (rc = mdb_stat(txn, dbi, &st)) == 0)
			tree_fill(&st, &res->rules_depth, &res->rules_pages, NULL);
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return rc;
}

/* ---- One rule count ------------------------------------------------------------- */

static int
apply_timed(struct policy_store *s, const struct policy_rule *rules, size_t n, double *secs,
    size_t *changes, uint64_t *rev)
{
	struct policy_actor actor = { .who = "policy_bench", .now = BENCH_NOW };
	uint64_t t0, t1;
	int err;

	t0 = bench_now_ns();
	err = policy_apply(s, rules, n, NULL, 0, false, NULL, NULL, changes, &actor);
	t1 = bench_now_ns();
	if (err != 0)
		return fail("policy_apply", err);
	*secs = (double)(t1 - t0) / 1e9;
	if ((err = policy_store_revision(s, rev)) != 0)
		return fail("policy_store_revision", err);
	return 0;
}

static int
run_one(size_t n, double seconds, struct query *q, struct ids *ids, struct result *res)
{
	struct policy_store *s = NULL;
	struct policy_reader *rd = NULL;
	struct policy_rule *rules = NULL;
	struct stat st;
	uint64_t t0, seed = UINT64_C(0x706f6c696379) ^ n;
	int err, rc = -1;

	memset(res, 0, sizeof(*res));
	res->rules = n;
	res->rss_scoped = rss_reset();
	/* Room for the whole set without growing: growing would redo the write. */
	res->map_initial = (uint64_t)n * 4096u;
	if (res->map_initial < POLICY_MAP_DEFAULT)
		res->map_initial = POLICY_MAP_DEFAULT;

	if (fmt(db_path, sizeof(db_path), "%s/policy-%zu.mdb", tmp_dir, n) != 0 ||
	    fmt(lock_path, sizeof(lock_path), "%s-lock", db_path) != 0)
		return fail("path", POLICY_E_TOO_BIG);
	err = policy_store_open(db_path, POLICY_OPEN_CREATE, res->map_initial, &s);
	if (err != 0)
		return fail("policy_store_open", err);

	t0 = bench_now_ns();
	rules = calloc(n, sizeof(*rules));
	if (rules == NULL) {
		fprintf(stderr, "policy_bench: cannot allocate %zu rules (%.0f MiB)\n", n,
		    (double)n * sizeof(*rules) / 1048576.0);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (rule_make(i, &rules[i]) != 0)
			goto out;
	res->gen_s = (double)(bench_now_ns() - t0) / 1e9;
	res->rules_array_mb = (double)n * sizeof(*rules) / 1048576.0;

	if (apply_timed(s, rules, n, &res->apply_s, &res->apply_changes, &res->rev_apply) != 0)
		goto out;
	if (res->apply_changes != n) {
		fprintf(stderr, "policy_bench: apply made %zu changes for %zu rules\n",
		    res->apply_changes, n);
		goto out;
	}
	if (apply_timed(s, rules, n, &res->reapply_s, &res->reapply_changes,
	    &res->rev_reapply) != 0)
		goto out;
	if (res->reapply_changes != 0 || res->rev_reapply != res->rev_apply) {
		fprintf(stderr, "policy_bench: re-apply of the same set made %zu changes "
		    "(revision %" PRIu64 " -> %" PRIu64 ")\n", res->reapply_changes,
		    res->rev_apply, res->rev_reapply);
		goto out;
	}
	/* The checks run against the store alone, as the daemon would. */
	free(rules);
	rules = NULL;

	if ((err = policy_store_size(s, &res->used, &res->map)) != 0) {
		fail("policy_store_size", err);
		goto out;
	}
	if (res->map > res->map_initial)
		fprintf(stderr, "policy_bench: warning: the map grew from %" PRIu64 " to %" PRIu64
		    " bytes during apply; apply time includes the redone write\n",
		    res->map_initial, res->map);
	if (stat(db_path, &st) != 0) {
		fprintf(stderr, "policy_bench: stat %s: %s\n", db_path, strerror(errno));
		goto out;
	}
	res->file_bytes = (uint64_t)st.st_size;
	res->file_alloc = (uint64_t)st.st_blocks * 512u;

	for (size_t i = 0; i < NQUERIES; i++)
		if (query_make(&q[i], &ids->src, n, &seed) != 0)
			goto out;
	if ((err = policy_reader_new(s, &rd)) != 0) {
		fail("policy_reader_new", err);
		goto out;
	}
	if (validate(rd, q, NQUERIES, ids) != 0)
		goto out;
	if (measure_latency(rd, q, NQUERIES, seconds, ids, res) != 0)
		goto out;
	if (measure_throughput(rd, q, NQUERIES, seconds, ids, res) != 0)
		goto out;
	res->rss_checks_mb = proc_status_mb("VmRSS:");
	rc = 0;
out:
	free(rules);
	res->rss_peak_mb = res->rss_scoped ? proc_status_mb("VmHWM:") : -1.0;
	res->ru_maxrss_mb = ru_maxrss_mb();
	if (res->rss_peak_mb < 0) {
		res->rss_scoped = false;
		res->rss_peak_mb = res->ru_maxrss_mb;
	}
	policy_reader_free(rd);
	policy_store_close(s);
	if (rc == 0 && (err = tree_stats(db_path, res)) != 0)
		fprintf(stderr, "policy_bench: warning: LMDB tree statistics: %s\n", mdb_strerror(err));
	remove_db_files();
	return rc;
}

/* ---- Output ----------------------------------------------------------------------- */

static const char *
fs_name(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) != 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53: return "ext4";
	case 0x01021994: return "tmpfs";
	case 0x58465342: return "xfs";
	case 0x9123683E: return "btrfs";
	case 0x794C7630: return "overlayfs";
	case 0x2FC12FC1: return "zfs";
	default: return "other";
	}
}

struct run_info {
	int cpu;
	double seconds;
	uint64_t timer_ns;
	const char *fs;
	const char *dir;
};

static void
print_table_header(const struct run_info *ri)
{
	printf("policy_bench: %s, %.1f s per check loop, %u queries (50 %% exact allow, 25 %% "
	       "wildcard allow, 25 %% deny), %s\n", ri->cpu >= 0 ? "pinned to CPU 0" :
	       "NOT pinned (sched_setaffinity failed)", ri->seconds, NQUERIES, MDB_VERSION_STRING);
	printf("store in %s (%s); latencies include ~%" PRIu64 " ns of clock_gettime per sample\n\n",
	    ri->dir, ri->fs, ri->timer_ns);
	printf("%9s %8s %9s %7s %8s %10s %13s %13s %13s %8s %6s\n", "rules", "apply s", "re-apply",
	    "B/rule", "file MB", "checks/s", "allow p50/99", "deny p50/99", "mix p50/99", "RSS MB",
	    "depth");
}

static void
print_table_row(const struct result *r)
{
	char a[32], d[32], m[32];

	snprintf(a, sizeof(a), "%" PRIu32 "/%" PRIu32, r->allow.p50, r->allow.p99);
	snprintf(d, sizeof(d), "%" PRIu32 "/%" PRIu32, r->l[Q_DENY].p50, r->l[Q_DENY].p99);
	snprintf(m, sizeof(m), "%" PRIu32 "/%" PRIu32, r->mix.p50, r->mix.p99);
	printf("%9zu %8.3f %9.3f %7.0f %8.1f %10.0f %13s %13s %13s %8.0f %6u\n", r->rules,
	    r->apply_s, r->reapply_s, (double)r->used / (double)r->rules,
	    (double)r->file_alloc / 1048576.0, r->checks_per_sec, a, d, m, r->rss_peak_mb,
	    r->idx_depth);
	fflush(stdout);
}

static void
print_lat(const char *name, const struct lat *l, const char *sep)
{
	printf("\"%s\":{\"p50_ns\":%" PRIu32 ",\"p99_ns\":%" PRIu32 ",\"p999_ns\":%" PRIu32
	       ",\"max_ns\":%" PRIu32 ",\"mean_ns\":%.1f,\"count\":%zu}%s", name, l->p50, l->p99,
	    l->p999, l->max, l->mean, l->count, sep);
}

static void
print_json(const struct run_info *ri, const struct result *r)
{
	printf("{\"benchmark\":\"policy\",\"pinned\":%s,\"cpu\":%d,\"seconds\":%.3f,"
	       "\"lmdb\":\"%s\",\"fs\":\"%s\",\"timer_overhead_ns\":%" PRIu64 ",\"queries\":%u,"
	       "\"rules\":%zu,\"generate_s\":%.3f,\"apply_s\":%.6f,\"apply_changes\":%zu,"
	       "\"reapply_s\":%.6f,\"reapply_changes\":%zu,\"revision\":%" PRIu64 ","
	       "\"store_used_bytes\":%" PRIu64 ",\"bytes_per_rule\":%.1f,\"map_bytes\":%" PRIu64
	       ",\"map_grew\":%s,\"file_bytes\":%" PRIu64 ",\"file_alloc_bytes\":%" PRIu64 ","
	       "\"checks_per_sec\":%.1f,\"throughput_count\":%zu,\"throughput_s\":%.3f,"
	       "\"latency_s\":%.3f,",
	    ri->cpu >= 0 ? "true" : "false", ri->cpu, ri->seconds, MDB_VERSION_STRING, ri->fs,
	    ri->timer_ns, NQUERIES, r->rules, r->gen_s, r->apply_s, r->apply_changes,
	    r->reapply_s, r->reapply_changes, r->rev_reapply, r->used,
	    (double)r->used / (double)r->rules, r->map, r->map > r->map_initial ? "true" : "false",
	    r->file_bytes, r->file_alloc, r->checks_per_sec, r->tput_count, r->tput_s, r->lat_s);
	print_lat("allow", &r->allow, ",");
	print_lat("allow_exact", &r->l[Q_EXACT], ",");
	print_lat("allow_wildcard", &r->l[Q_WILD], ",");
	print_lat("deny", &r->l[Q_DENY], ",");
	print_lat("mix", &r->mix, ",");
	printf("\"peak_rss_mb\":%.1f,\"peak_rss_scope\":\"%s\",\"ru_maxrss_mb\":%.1f,"
	       "\"rss_after_checks_mb\":%.1f,\"rules_array_mb\":%.1f,\"rule_struct_bytes\":%zu,",
	    r->rss_peak_mb, r->rss_scoped ? "this_size" : "process", r->ru_maxrss_mb,
	    r->rss_checks_mb, r->rules_array_mb, sizeof(struct policy_rule));
	printf("\"page_bytes\":%" PRIu64 ",\"index_depth\":%u,\"index_pages\":%" PRIu64
	       ",\"index_entries\":%" PRIu64 ",\"rules_db_depth\":%u,\"rules_db_pages\":%" PRIu64
	       "}\n", r->psize, r->idx_depth, r->idx_pages, r->idx_entries, r->rules_depth,
	    r->rules_pages);
	fflush(stdout);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: policy_bench [--rules N[,N...]] [--seconds S] [--json]\n"
		   "  --rules N,...  rule counts, %u to %u each (default 1000,100000,1000000)\n"
		   "  --seconds S    each check loop (latency, throughput) runs about S seconds "
		   "(default 3)\n"
		   "  --json         one JSON object per rule count, one per line\n",
	    RULES_MIN, RULES_MAX);
}

static int
parse_rules(const char *s, size_t *out, size_t *n)
{
	const char *p = s;

	*n = 0;
	for (;;) {
		unsigned long long v;
		char *end;

		if (*p < '0' || *p > '9' || *n == RULES_LIST_MAX)
			return -1;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno != 0 || v < RULES_MIN || v > RULES_MAX)
			return -1;
		out[(*n)++] = (size_t)v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
}

int
main(int argc, char **argv)
{
	size_t counts[RULES_LIST_MAX] = { 1000, 100000, 1000000 }, ncounts = 3;
	struct run_info ri = { 0, 3.0, 0, NULL, NULL };
	struct query *q = NULL;
	struct ids *ids = NULL;
	struct result res;
	struct sigaction sa;
	bool json = false;
	const char *tmp;
	int err, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			ri.seconds = strtod(argv[++i], &end);
			if (errno != 0 || *end != '\0' || !(ri.seconds > 0.0) || ri.seconds > 3600.0) {
				fprintf(stderr, "policy_bench: --seconds: expected a number in (0, 3600]\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
			if (parse_rules(argv[++i], counts, &ncounts) != 0) {
				fprintf(stderr, "policy_bench: --rules: expected up to %u counts, "
				    "each %u to %u, separated by commas\n", RULES_LIST_MAX, RULES_MIN,
				    RULES_MAX);
				return 2;
			}
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}

	if (!bench_pin_cpu0()) {
		fprintf(stderr, "policy_bench: sched_setaffinity(CPU 0): %s; running unpinned\n",
		    strerror(errno));
		ri.cpu = -1;
	}
	if ((err = certs_crypto_init()) != 0) {
		fprintf(stderr, "policy_bench: certs_crypto_init failed (%d)\n", err);
		return 1;
	}

	tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (fmt(tmp_dir, sizeof(tmp_dir), "%s/policy_bench.XXXXXX", tmp) != 0) {
		fprintf(stderr, "policy_bench: TMPDIR too long\n");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (mkdtemp(tmp_dir) == NULL) {
		fprintf(stderr, "policy_bench: mkdtemp %s: %s\n", tmp_dir, strerror(errno));
		return 1;
	}
	tmp_made = 1;
	ri.dir = tmp_dir;
	ri.fs = fs_name(tmp_dir);

	q = calloc(NQUERIES, sizeof(*q));
	ids = calloc(1, sizeof(*ids));
	if (q == NULL || ids == NULL) {
		fprintf(stderr, "policy_bench: out of memory\n");
		goto out;
	}
	ri.timer_ns = timer_overhead();
	if (!json)
		print_table_header(&ri);
	for (size_t i = 0; i < ncounts; i++) {
		if (run_one(counts[i], ri.seconds, q, ids, &res) != 0)
			goto out;
		if (json)
			print_json(&ri, &res);
		else
			print_table_row(&res);
	}
	rc = 0;
out:
	free(q);
	free(ids);
	cleanup_tmp();
	return rc;
}
