/*
 * revoke_bench: revoke rules in the policy store and say exactly when the
 * write ran, for the lifecycle section of bench/run.sh (revocation latency:
 * commit -> tunnel closed, measured by `load_bench watch`).
 *
 *   revoke_bench --db STORE --from SEL --to SEL
 *
 * The store is opened first; then CLOCK_REALTIME is read, every rule
 * written with exactly those selectors is removed in one transaction
 * (policy_revoke_match, what `authctl policy revoke --from --to` does), and
 * the clock is read again as soon as the commit has returned. Prints
 *
 *   write_start_ns=T0 write_end_ns=T1 revoked=N
 *
 * T0..T1 brackets the whole write: LMDB syncs the data pages, writes the
 * meta page and syncs it, so a reader (authd) can see the new revision a
 * little before T1. Times are nanoseconds since the epoch, comparable
 * across processes on this machine.
 *
 * Exit 0 when rules were revoked, 1 when none matched, 2 on bad
 * arguments, 3 when the store fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "certs/crypto.h"
#include "policy/policy.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: revoke_bench --db STORE --from SEL --to SEL\n");
}

int
main(int argc, char **argv)
{
	const char *db = NULL, *from = NULL, *to = NULL, *why = NULL;
	struct policy_selector sel[2];
	struct policy_store *s = NULL;
	struct policy_actor actor = { .who = "revoke_bench", .now = 0 };
	uint64_t t0, t1;
	size_t n = 0;
	int err, rc = 3;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (v == NULL) {
			fprintf(stderr, "revoke_bench: %s: unknown option or missing value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--db") == 0) {
			db = v;
		} else if (strcmp(a, "--from") == 0) {
			from = v;
		} else if (strcmp(a, "--to") == 0) {
			to = v;
		} else {
			fprintf(stderr, "revoke_bench: unknown option %s\n", a);
			return 2;
		}
	}
	if (db == NULL || from == NULL || to == NULL) {
		usage(stderr);
		return 2;
	}
	if (policy_selector_parse(from, strlen(from), POLICY_FROM, &sel[0], &why) != 0 ||
	    policy_selector_parse(to, strlen(to), POLICY_TO, &sel[1], &why) != 0) {
		fprintf(stderr, "revoke_bench: %s\n", why != NULL ? why : "malformed selector");
		return 2;
	}
	if (certs_crypto_init() != 0) {
		fprintf(stderr, "revoke_bench: certs_crypto_init failed\n");
		return 3;
	}
	if ((err = policy_store_open(db, 0, 0, &s)) != 0) {
		fprintf(stderr, "revoke_bench: %s: %s\n", db, policy_strerror(err));
		return 3;
	}
	actor.now = (int64_t)time(NULL);
	t0 = bench_realtime_ns();
	err = policy_revoke_match(s, &sel[0], &sel[1], &n, &actor);
	t1 = bench_realtime_ns();
	if (err == POLICY_E_NOT_FOUND) {
		fprintf(stderr, "revoke_bench: no rule from %s to %s\n", sel[0].str, sel[1].str);
		rc = 1;
	} else if (err != 0) {
		fprintf(stderr, "revoke_bench: revoke: %s\n", policy_strerror(err));
	} else {
		printf("write_start_ns=%llu write_end_ns=%llu revoked=%zu\n", (unsigned long long)t0,
		    (unsigned long long)t1, n);
		rc = 0;
	}
	policy_store_close(s);
	return rc;
}
