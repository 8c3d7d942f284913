/*
 * certs_bench: throughput and latency of the certs library's hot paths, in
 * process, on one core.
 *
 *   certs_bench [--seconds N] [--json]
 *
 * Measures, for about N seconds each (default 3):
 *   svid_issue   certs_svid_new: a fresh P-256 key and the issuer's signature
 *   ca_sign      certs_ca_sign over a pre-generated SubjectPublicKeyInfo
 *   verify_chain certs_verify_chain of an issued (leaf, issuer) chain against
 *                the CA's bundle, role client
 *
 * Each operation is timed on its own with CLOCK_MONOTONIC; the report gives
 * ops/s (operations over the loop's wall time, clean-up included) and the
 * p50/p99 of the per-operation latencies. The process pins itself to CPU 0
 * so the figures are single-core figures and comparable with
 * `taskset -c 0 openssl speed`. A throw-away CA is made in a mkdtemp
 * directory that is removed as soon as the CA and bundle are loaded (and on
 * any exit path).
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/build_info.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "bench/bench.h"
#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/spiffe.h"
#include "certs/svid.h"
#include "certs/verify.h"

#define BENCH_TD "bench.example.org"
#define BENCH_ID "spiffe://" BENCH_TD "/ns/bench/sa/workload"
#define BENCH_TTL 3600u
/* Untimed runs before each measurement: caches, lazy tables, page faults. */
#define WARMUP_OPS 20

enum op_kind { OP_ISSUE, OP_SIGN, OP_VERIFY };

struct op_result {
	const char *name;	/* stable key for JSON and scripts */
	const char *label;	/* for the table */
	size_t count;
	double seconds;		/* wall time of the measured loop */
	double ops_per_sec;
	double p50_us;
	double p99_us;
	double mean_us;
};

struct bench_ctx {
	struct certs_ca *ca;
	struct certs_bundle *bundle;
	struct spiffe_id id;
	struct certs_svid *svid;	/* the chain verify_chain checks */
	uint8_t spki[256];
	size_t spki_len;
	int64_t now;
};


static char ca_dir[64];
static bool ca_dir_made;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "certs_bench: remove %s: %s\n", path, strerror(errno));
	return 0;
}

static void
cleanup_ca_dir(void)
{
	if (ca_dir_made) {
		ca_dir_made = false;
		nftw(ca_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
}

static int
fail(const char *what, int err)
{
	fprintf(stderr, "certs_bench: %s: %s (%d)\n", what, certs_strerror(err), err);
	return -1;
}

/* One operation of the given kind; 0 on success. */
static int
run_op(struct bench_ctx *c, enum op_kind kind, uint64_t *elapsed_ns)
{
	struct certs_svid *svid = NULL;
	struct spiffe_id peer;
	uint8_t der[CERTS_DER_MAX];
	size_t der_len = 0;
	uint64_t t0, t1;
	int err;

	switch (kind) {
	case OP_ISSUE:
		t0 = bench_now_ns();
		err = certs_svid_new(c->ca, &c->id, BENCH_TTL, c->now, &svid);
		t1 = bench_now_ns();
		certs_svid_free(svid);
		break;
	case OP_SIGN:
		t0 = bench_now_ns();
		err = certs_ca_sign(c->ca, &c->id, c->spki, c->spki_len, BENCH_TTL, c->now, der,
		    &der_len);
		t1 = bench_now_ns();
		break;
	case OP_VERIFY:
	default:
		t0 = bench_now_ns();
		err = certs_verify_chain(c->bundle, BENCH_TD, certs_svid_peek_chain(c->svid),
		    c->now, CERTS_ROLE_CLIENT, &peer);
		t1 = bench_now_ns();
		if (err == 0 && !spiffe_id_equal(&peer, &c->id))
			err = CERTS_E_BAD_SPIFFE_ID;
		break;
	}
	*elapsed_ns = t1 - t0;
	return err;
}

static int
measure(struct bench_ctx *c, enum op_kind kind, double seconds, struct op_result *r)
{
	struct bench_samples s = { 0 };
	uint64_t start, end, budget, lat;
	double sum = 0.0;
	int err;

	for (int i = 0; i < WARMUP_OPS; i++) {
		if ((err = run_op(c, kind, &lat)) != 0)
			return fail(r->name, err);
	}
	budget = (uint64_t)(seconds * 1e9);
	start = bench_now_ns();
	do {
		if ((err = run_op(c, kind, &lat)) != 0) {
			free(s.v);
			return fail(r->name, err);
		}
		if (bench_push(&s, lat) != 0) {
			free(s.v);
			return fail(r->name, CERTS_E_NOMEM);
		}
		sum += (double)lat;
		end = bench_now_ns();
	} while (end - start < budget);

	bench_sort(&s);
	r->count = s.n;
	r->seconds = (double)(end - start) / 1e9;
	r->ops_per_sec = (double)s.n / r->seconds;
	r->p50_us = bench_percentile(&s, 50.0) / 1000.0;
	r->p99_us = bench_percentile(&s, 99.0) / 1000.0;
	r->mean_us = sum / (double)s.n / 1000.0;
	free(s.v);
	return 0;
}

static int
setup(struct bench_ctx *c)
{
	struct certs_ca_params p;
	mbedtls_pk_context *key;
	char bundle_path[sizeof(ca_dir) + 32];
	size_t where = 0;
	int n, err;

	c->now = (int64_t)time(NULL);
	memset(&p, 0, sizeof(p));
	p.now = c->now;

	snprintf(ca_dir, sizeof(ca_dir), "/tmp/certs_bench.XXXXXX");
	if (mkdtemp(ca_dir) == NULL) {
		fprintf(stderr, "certs_bench: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	ca_dir_made = true;
	/* certs_ca_init wants to create the CA in a fresh directory of its own. */
	if (snprintf(bundle_path, sizeof(bundle_path), "%s/ca", ca_dir) >= (int)sizeof(bundle_path))
		return fail("path", CERTS_E_INVAL);
	if ((err = certs_ca_init(bundle_path, BENCH_TD, &p)) != 0)
		return fail("certs_ca_init", err);
	if ((err = certs_ca_load(bundle_path, NULL, &c->ca)) != 0)
		return fail("certs_ca_load", err);
	if (snprintf(bundle_path, sizeof(bundle_path), "%s/ca/%s", ca_dir, CERTS_CA_BUNDLE) >=
	    (int)sizeof(bundle_path))
		return fail("path", CERTS_E_INVAL);
	if ((err = certs_bundle_load(bundle_path, &c->bundle)) != 0)
		return fail("certs_bundle_load", err);
	/* Everything is in memory now: no key material stays on disk while we run. */
	cleanup_ca_dir();

	err = spiffe_id_parse_workload(BENCH_ID, strlen(BENCH_ID), &c->id, &where);
	if (err != 0)
		return fail("spiffe_id_parse_workload", err);

	/* The chain to verify, and the public key to sign over. */
	if ((err = certs_svid_new(c->ca, &c->id, BENCH_TTL, c->now, &c->svid)) != 0)
		return fail("certs_svid_new", err);
	key = certs_svid_peek_key(c->svid);
	n = mbedtls_pk_write_pubkey_der(key, c->spki, sizeof(c->spki));
	if (n <= 0)
		return fail("mbedtls_pk_write_pubkey_der", CERTS_E_CRYPTO);
	memmove(c->spki, c->spki + sizeof(c->spki) - (size_t)n, (size_t)n);
	c->spki_len = (size_t)n;
	return 0;
}

static void
teardown(struct bench_ctx *c)
{
	certs_svid_free(c->svid);
	certs_bundle_free(c->bundle);
	certs_ca_free(c->ca);
	cleanup_ca_dir();
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: certs_bench [--seconds N] [--json]\n"
		   "  --seconds N  measure each operation for about N seconds (default 3)\n"
		   "  --json       print one JSON object instead of a table\n");
}

static void
print_table(const struct op_result *r, size_t n, int cpu, double seconds)
{
	if (cpu >= 0)
		printf("certs_bench: pinned to CPU %d (sched_setaffinity), %.1f s per operation, "
		       "mbedTLS %s\n\n", cpu, seconds, MBEDTLS_VERSION_STRING);
	else
		printf("certs_bench: NOT pinned (sched_setaffinity failed), %.1f s per operation, "
		       "mbedTLS %s\n\n", seconds, MBEDTLS_VERSION_STRING);
	/* "µ" is two bytes in UTF-8: widen those fields by one to keep columns. */
	printf("%-38s %10s %11s %11s %8s\n", "operation", "ops/s", "p50 µs", "p99 µs", "count");
	for (size_t i = 0; i < n; i++)
		printf("%-38s %10.1f %10.1f %10.1f %8zu\n", r[i].label, r[i].ops_per_sec,
		    r[i].p50_us, r[i].p99_us, r[i].count);
}

static void
print_json(const struct op_result *r, size_t n, int cpu, double seconds)
{
	/* One operation per line, so shell scripts can pick lines apart without jq. */
	printf("{\"benchmark\":\"certs\",\"pinned\":%s,\"cpu\":%d,\"seconds_per_op\":%.3f,"
	       "\"mbedtls\":\"%s\",\"ops\":[\n", cpu >= 0 ? "true" : "false", cpu, seconds,
	    MBEDTLS_VERSION_STRING);
	for (size_t i = 0; i < n; i++)
		printf("{\"name\":\"%s\",\"ops_per_sec\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
		       "\"mean_us\":%.1f,\"count\":%zu,\"seconds\":%.3f}%s\n", r[i].name,
		    r[i].ops_per_sec, r[i].p50_us, r[i].p99_us, r[i].mean_us, r[i].count,
		    r[i].seconds, i + 1 < n ? "," : "");
	printf("]}\n");
}

int
main(int argc, char **argv)
{
	struct bench_ctx c;
	struct op_result res[] = {
		{ .name = "svid_issue", .label = "SVID issuance (P-256 keygen + sign)" },
		{ .name = "ca_sign", .label = "signing only (certs_ca_sign)" },
		{ .name = "verify_chain", .label = "chain verification (role client)" },
	};
	static const enum op_kind kinds[] = { OP_ISSUE, OP_SIGN, OP_VERIFY };
	double seconds = 3.0;
	bool json = false;
	int cpu = 0, err, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			seconds = strtod(argv[++i], &end);
			if (errno != 0 || *end != '\0' || !(seconds > 0.0) || seconds > 3600.0) {
				fprintf(stderr, "certs_bench: --seconds: expected a number in (0, 3600]\n");
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
		fprintf(stderr, "certs_bench: sched_setaffinity(CPU 0): %s; running unpinned\n",
		    strerror(errno));
		cpu = -1;
	}

	if ((err = certs_crypto_init()) != 0) {
		fail("certs_crypto_init", err);
		return 1;
	}
	memset(&c, 0, sizeof(c));
	if (setup(&c) != 0)
		goto out;
	for (size_t i = 0; i < AD_ARRAY_LEN(res); i++) {
		if (measure(&c, kinds[i], seconds, &res[i]) != 0)
			goto out;
	}
	if (json)
		print_json(res, AD_ARRAY_LEN(res), cpu, seconds);
	else
		print_table(res, AD_ARRAY_LEN(res), cpu, seconds);
	rc = 0;
out:
	teardown(&c);
	return rc;
}
