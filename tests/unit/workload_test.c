/*
 * Workloads (policy/workload.c) and their records (policy/registry_record.c):
 * what validation accepts and everything it must refuse, the SPIFFE ID, and
 * the codecs: exact round trips, the size bound, and truncated, padded or
 * garbage records refused as POLICY_E_CORRUPT.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/registry.h"
#include "policy/workload.h"
#include "certs/error.h"
#include "policy/policy.h"
#include "test.h"

static struct workload w, w2;
static uint8_t rec[WORKLOAD_RECORD_MAX + 16];

#define SET(field, s) snprintf((field), sizeof(field), "%s", (s))

/* frontend in shop: inbound on 15008 to two apps, two upstreams. */
static void
base(struct workload *x)
{
	memset(x, 0, sizeof(*x));
	SET(x->name, "frontend");
	SET(x->ns, "shop");
	SET(x->sa, "frontend");
	SET(x->listen, "0.0.0.0:15008");
	SET(x->apps[0], "127.0.0.1:8080");
	SET(x->apps[1], "[::1]:9090");
	x->n_apps = 2;
	SET(x->upstreams[0].listen, "127.0.0.1:9000");
	SET(x->upstreams[0].peer, "10.0.0.2:15008");
	SET(x->upstreams[0].target_host, "db.shop.svc");
	x->upstreams[0].target_port = 5432;
	SET(x->upstreams[0].expect_id, "spiffe://example.org/ns/shop/sa/db");
	SET(x->upstreams[1].listen, "unix:/run/authd/cache.sock");
	SET(x->upstreams[1].peer, "[fd00::2]:15008");
	SET(x->upstreams[1].target_host, "::1");
	x->upstreams[1].target_port = 6379;
	x->n_upstreams = 2;
}

/* Validate x, expecting -EINVAL and a reason that contains want. */
static int
refused(const struct workload *x, const char *want)
{
	const char *why = NULL;
	int err = workload_validate(x, &why);

	if (err != -EINVAL || why == NULL)
		return -1;
	if (strstr(why, want) == NULL) {
		fprintf(stderr, "  reason \"%s\" lacks \"%s\"\n", why, want);
		return -2;
	}
	return 0;
}

TEST(valid)
{
	const char *why = "unset";

	base(&w);
	EXPECT_OK(workload_validate(&w, &why));
	EXPECT(why == NULL);
	/* Identity only: no listener, no upstreams. */
	memset(&w, 0, sizeof(w));
	SET(w.name, "batch");
	SET(w.ns, "jobs");
	SET(w.sa, "report-9");
	EXPECT_OK(workload_validate(&w, NULL));
	/* Outbound only. */
	base(&w);
	w.listen[0] = '\0';
	w.n_apps = 0;
	EXPECT_OK(workload_validate(&w, NULL));
	/* Labels at their limits. */
	base(&w);
	memset(w.name, 'a', WORKLOAD_NAME_MAX);
	w.name[WORKLOAD_NAME_MAX] = '\0';
	SET(w.ns, "0");
	SET(w.sa, "a-b-c");
	EXPECT_OK(workload_validate(&w, NULL));
	/* The same app IP on two ports; an IPv6 listener; an IPv4 target. */
	base(&w);
	SET(w.apps[1], "127.0.0.1:8081");
	SET(w.listen, "[::]:15008");
	SET(w.upstreams[1].target_host, "10.0.0.9");
	EXPECT_OK(workload_validate(&w, NULL));
}

TEST(valid_maximal)
{
	base(&w);
	for (size_t i = 0; i < WORKLOAD_APPS_MAX; i++)
		snprintf(w.apps[i], sizeof(w.apps[i]), "127.0.0.1:%zu", 8000 + i);
	w.n_apps = WORKLOAD_APPS_MAX;
	for (size_t i = 0; i < WORKLOAD_UPSTREAMS_MAX; i++) {
		w.upstreams[i] = w.upstreams[0];
		snprintf(w.upstreams[i].listen, sizeof(w.upstreams[i].listen), "127.0.0.1:%zu",
		    9000 + i);
	}
	w.n_upstreams = WORKLOAD_UPSTREAMS_MAX;
	EXPECT_OK(workload_validate(&w, NULL));
	w.n_apps = WORKLOAD_APPS_MAX + 1;
	EXPECT_OK(refused(&w, "too many app"));
	w.n_apps = WORKLOAD_APPS_MAX;
	w.n_upstreams = WORKLOAD_UPSTREAMS_MAX + 1;
	EXPECT_OK(refused(&w, "too many upstreams"));
	w.n_upstreams = SIZE_MAX;
	EXPECT_OK(refused(&w, "too many upstreams"));
}

TEST(bad_names)
{
	static const char *const bad[] = { "", "Frontend", "-web", "web-", "we_b", "we.b", "a/b",
		"we b", "wéb", "x\n" };
	char long_label[WORKLOAD_NAME_MAX + 2];

	for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
		base(&w);
		SET(w.name, bad[i]);
		EXPECT_OK(refused(&w, "name"));
		base(&w);
		SET(w.ns, bad[i]);
		EXPECT_OK(refused(&w, "namespace"));
		base(&w);
		SET(w.sa, bad[i]);
		EXPECT_OK(refused(&w, "service account"));
	}
	memset(long_label, 'a', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	base(&w);
	memcpy(w.name, long_label, sizeof(w.name));	/* no NUL inside the field */
	EXPECT_OK(refused(&w, "name"));
	base(&w);
	memcpy(w.ns, long_label, sizeof(w.ns));
	EXPECT_OK(refused(&w, "namespace"));
}

TEST(bad_listen_and_apps)
{
	static const char *const bad_listen[] = { "unix:/run/in.sock", "localhost:15008",
		"0.0.0.0", "0.0.0.0:0", "0.0.0.0:015008", "::1:15008", "[::1]" };

	for (size_t i = 0; i < AD_ARRAY_LEN(bad_listen); i++) {
		base(&w);
		SET(w.listen, bad_listen[i]);
		EXPECT_OK(refused(&w, "listen address"));
	}
	base(&w);
	memset(w.listen, '1', sizeof(w.listen));
	EXPECT_OK(refused(&w, "listen address"));

	base(&w);
	w.n_apps = 0;
	EXPECT_OK(refused(&w, "at least one app"));
	base(&w);
	w.listen[0] = '\0';
	EXPECT_OK(refused(&w, "need a listen address"));
	base(&w);
	SET(w.apps[1], "unix:/run/app.sock");
	EXPECT_OK(refused(&w, "app address"));
	base(&w);
	SET(w.apps[1], "app.local:9090");
	EXPECT_OK(refused(&w, "app address"));
	base(&w);
	SET(w.apps[1], "");
	EXPECT_OK(refused(&w, "app address"));
	/* Peers pick an app by port only, so two apps on one port are ambiguous. */
	base(&w);
	SET(w.apps[1], "10.0.0.1:8080");
	EXPECT_OK(refused(&w, "share a port"));
	base(&w);
	SET(w.apps[1], "[::1]:8080");
	EXPECT_OK(refused(&w, "share a port"));
}

TEST(bad_upstreams)
{
	static const char *const bad_hosts[] = { "", "a..b", "a b", "127.1", "0x7f.1", "db:5432",
		"[::1]", "x/y", "host\r\n" };
	static const char *const bad_ids[] = { "spiffe://example.org", "http://example.org/x",
		"spiffe://example.org/a//b", "spiffe://example.org/x/", "spiffe://example.org:80/x" };

	base(&w);
	SET(w.upstreams[0].listen, "");
	EXPECT_OK(refused(&w, "upstream's listen"));
	base(&w);
	SET(w.upstreams[0].listen, "unix:run/relative.sock");
	EXPECT_OK(refused(&w, "upstream's listen"));
	base(&w);
	SET(w.upstreams[1].listen, "unix:/run/a\tb.sock");
	EXPECT_OK(refused(&w, "upstream's listen"));
	base(&w);
	SET(w.upstreams[0].peer, "unix:/run/peer.sock");
	EXPECT_OK(refused(&w, "peer"));
	base(&w);
	SET(w.upstreams[0].peer, "db.shop:15008");
	EXPECT_OK(refused(&w, "peer"));
	base(&w);
	SET(w.upstreams[0].peer, "10.0.0.2:0");
	EXPECT_OK(refused(&w, "peer"));
	for (size_t i = 0; i < AD_ARRAY_LEN(bad_hosts); i++) {
		base(&w);
		SET(w.upstreams[0].target_host, bad_hosts[i]);
		EXPECT_OK(refused(&w, "target"));
	}
	base(&w);
	memset(w.upstreams[0].target_host, 'a', sizeof(w.upstreams[0].target_host));
	EXPECT_OK(refused(&w, "target"));
	base(&w);
	w.upstreams[0].target_port = 0;
	EXPECT_OK(refused(&w, "target"));
	for (size_t i = 0; i < AD_ARRAY_LEN(bad_ids); i++) {
		base(&w);
		SET(w.upstreams[0].expect_id, bad_ids[i]);
		EXPECT_OK(refused(&w, "expected ID"));
	}
	base(&w);
	memset(w.upstreams[0].expect_id, 'a', sizeof(w.upstreams[0].expect_id));
	EXPECT_OK(refused(&w, "expected ID"));
	/* Two listeners on one address cannot both bind; compared as addresses. */
	base(&w);
	SET(w.upstreams[1].listen, "127.0.0.1:9000");
	EXPECT_OK(refused(&w, "share a listen address"));
	base(&w);
	SET(w.upstreams[0].listen, "[::1]:9000");
	SET(w.upstreams[1].listen, "[0:0::1]:9000");
	EXPECT_OK(refused(&w, "share a listen address"));
	base(&w);
	SET(w.upstreams[1].listen, "0.0.0.0:15008");
	EXPECT_OK(refused(&w, "own listen address"));
}

TEST(spiffe_id)
{
	struct spiffe_id *id = malloc(sizeof(*id));

	REQUIRE(id != NULL);
	base(&w);
	SET(w.sa, "web-sa");
	EXPECT_OK(workload_spiffe_id(&w, "example.org", id));
	EXPECT_STR(id->str, "spiffe://example.org/ns/shop/sa/web-sa");
	EXPECT(workload_spiffe_id(&w, "bad/td", id) != 0);
	EXPECT(workload_spiffe_id(&w, "", id) != 0);
	SET(w.sa, "a/b");
	EXPECT_ERR(workload_spiffe_id(&w, "example.org", id), -EINVAL);
	free(id);
}

TEST(codec_round_trip)
{
	size_t len = 0;

	base(&w);
	REQUIRE(registry_record_encode(&w, rec, WORKLOAD_RECORD_MAX, &len) == 0);
	EXPECT(len > 0 && len < WORKLOAD_RECORD_MAX);
	EXPECT_EQ(rec[0], 1);
	memset(&w2, 0x5a, sizeof(w2));
	EXPECT_OK(registry_record_decode(rec, len, &w2));
	EXPECT(memcmp(&w, &w2, sizeof(w)) == 0);

	/* Identity only. */
	memset(&w, 0, sizeof(w));
	SET(w.name, "a");
	SET(w.ns, "b");
	SET(w.sa, "c");
	REQUIRE(registry_record_encode(&w, rec, WORKLOAD_RECORD_MAX, &len) == 0);
	EXPECT_EQ(len, 1 + 2 * 3 + 1 + 1 + 1);
	EXPECT_OK(registry_record_decode(rec, len, &w2));
	EXPECT(memcmp(&w, &w2, sizeof(w)) == 0);
}

TEST(codec_bounds)
{
	size_t len = 0;

	/* Every field full: exactly WORKLOAD_RECORD_MAX (encode does not validate). */
	memset(&w, 'a', sizeof(w));
	w.name[sizeof(w.name) - 1] = w.ns[sizeof(w.ns) - 1] = w.sa[sizeof(w.sa) - 1] = '\0';
	w.listen[sizeof(w.listen) - 1] = w.pod_uid[sizeof(w.pod_uid) - 1] = '\0';
	w.n_apps = WORKLOAD_APPS_MAX;
	for (size_t i = 0; i < WORKLOAD_APPS_MAX; i++)
		w.apps[i][sizeof(w.apps[i]) - 1] = '\0';
	w.n_upstreams = WORKLOAD_UPSTREAMS_MAX;
	for (size_t i = 0; i < WORKLOAD_UPSTREAMS_MAX; i++) {
		struct workload_upstream *u = &w.upstreams[i];

		u->listen[sizeof(u->listen) - 1] = u->peer[sizeof(u->peer) - 1] = '\0';
		u->target_host[sizeof(u->target_host) - 1] = '\0';
		u->expect_id[sizeof(u->expect_id) - 1] = '\0';
	}
	EXPECT_OK(registry_record_encode(&w, rec, WORKLOAD_RECORD_MAX, &len));
	EXPECT_EQ(len, WORKLOAD_RECORD_MAX);
	EXPECT_ERR(registry_record_encode(&w, rec, WORKLOAD_RECORD_MAX - 1, &len), -ENOSPC);
	EXPECT_EQ(len, 0);
	/* It is not a valid workload, so it does not decode. */
	EXPECT_ERR(registry_record_decode(rec, WORKLOAD_RECORD_MAX, &w2), POLICY_E_CORRUPT);
	/* Unterminated fields and counts over the limits are not encoded. */
	w.upstreams[3].expect_id[sizeof(w.upstreams[3].expect_id) - 1] = 'a';
	EXPECT_ERR(registry_record_encode(&w, rec, sizeof(rec), &len), -EINVAL);
	base(&w);
	w.n_apps = WORKLOAD_APPS_MAX + 1;
	EXPECT_ERR(registry_record_encode(&w, rec, sizeof(rec), &len), -EINVAL);
	base(&w);
	memset(w.name, 'x', sizeof(w.name));
	EXPECT_ERR(registry_record_encode(&w, rec, sizeof(rec), &len), -EINVAL);
}

static int
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return -1;
	return 0;
}

TEST(codec_refuses_damage)
{
	size_t len = 0;

	base(&w);
	REQUIRE(registry_record_encode(&w, rec, WORKLOAD_RECORD_MAX, &len) == 0);
	/* Every truncation. */
	for (size_t n = 0; n < len; n++) {
		memset(&w2, 0x5a, sizeof(w2));
		EXPECT_ERR(registry_record_decode(rec, n, &w2), POLICY_E_CORRUPT);
		EXPECT_OK(all_zero(&w2, sizeof(w2)));
	}
	EXPECT_ERR(registry_record_decode(NULL, 0, &w2), POLICY_E_CORRUPT);
	/* A trailing byte. */
	rec[len] = 0;
	EXPECT_ERR(registry_record_decode(rec, len + 1, &w2), POLICY_E_CORRUPT);
	/* Another version. */
	rec[0] = 2;
	EXPECT_ERR(registry_record_decode(rec, len, &w2), POLICY_E_CORRUPT);
	rec[0] = 1;
	EXPECT_OK(registry_record_decode(rec, len, &w2));
	/* A NUL inside the name: "fronte\0d". */
	rec[2 + 6] = 0;
	EXPECT_ERR(registry_record_decode(rec, len, &w2), POLICY_E_CORRUPT);
	rec[2 + 6] = 'n';
	/* Structurally sound but no longer valid: upper case in the name. */
	rec[2] = 'F';
	EXPECT_ERR(registry_record_decode(rec, len, &w2), POLICY_E_CORRUPT);
	rec[2] = 'f';
	/* A name length longer than the field. */
	rec[1] = WORKLOAD_NAME_MAX + 1;
	EXPECT_ERR(registry_record_decode(rec, len, &w2), POLICY_E_CORRUPT);
	rec[1] = 8;
	EXPECT_OK(registry_record_decode(rec, len, &w2));

	/* An app count over the limit, whatever follows. */
	memset(&w, 0, sizeof(w));
	SET(w.name, "a");
	SET(w.ns, "b");
	SET(w.sa, "c");
	REQUIRE(registry_record_encode(&w, rec, WORKLOAD_RECORD_MAX, &len) == 0);
	rec[len - 2] = WORKLOAD_APPS_MAX + 1;
	EXPECT_ERR(registry_record_decode(rec, len, &w2), POLICY_E_CORRUPT);
	rec[len - 2] = 0;
	rec[len - 1] = WORKLOAD_UPSTREAMS_MAX + 1;
	EXPECT_ERR(registry_record_decode(rec, len, &w2), POLICY_E_CORRUPT);
}

TEST(codec_garbage)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t len, base_len = 0, again = 0;
	int decoded = 0;

	base(&w);
	REQUIRE(registry_record_encode(&w, rec, WORKLOAD_RECORD_MAX, &base_len) == 0);
	/* Random bytes, and the valid record with random bytes flipped (xorshift, fixed seed). */
	for (int i = 0; i < 20000; i++) {
		int err;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (i % 2 == 0) {
			len = x % 512;
			for (size_t j = 0; j < len; j++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				rec[j] = (uint8_t)x;
			}
		} else {
			REQUIRE(registry_record_encode(&w, rec, WORKLOAD_RECORD_MAX, &len) == 0);
			rec[x % len] ^= (uint8_t)(x >> 32 | 1);
		}
		err = registry_record_decode(rec, len, &w2);
		if (err == 0) {
			static uint8_t out[WORKLOAD_RECORD_MAX];

			decoded++;
			EXPECT_OK(workload_validate(&w2, NULL));
			EXPECT_OK(registry_record_encode(&w2, out, sizeof(out), &again));
			EXPECT(again == len && memcmp(out, rec, len) == 0);
		} else {
			EXPECT_ERR(err, POLICY_E_CORRUPT);
		}
	}
	/* Some flips (e.g. a digit of a port) leave a valid workload. */
	EXPECT(decoded > 0);
}

static void
status(struct workload_svid_status *st)
{
	memset(st, 0, sizeof(*st));
	SET(st->spiffe_id, "spiffe://example.org/ns/shop/sa/frontend");
	SET(st->serial, "0123456789abcdef0123456789abcdef");
	st->not_after = 1800003600;
	st->updated = 1800000000;
}

TEST(status_codec)
{
	struct workload_svid_status st, st2;
	uint8_t srec[WORKLOAD_STATUS_RECORD_MAX + 1];
	size_t len = 0;

	status(&st);
	EXPECT_OK(registry_status_check(&st));
	REQUIRE(registry_status_encode(&st, srec, sizeof(srec), &len) == 0);
	EXPECT(len <= WORKLOAD_STATUS_RECORD_MAX);
	EXPECT_OK(registry_status_decode(srec, len, &st2));
	EXPECT(memcmp(&st, &st2, sizeof(st)) == 0);
	for (size_t n = 0; n < len; n++)
		EXPECT_ERR(registry_status_decode(srec, n, &st2), POLICY_E_CORRUPT);
	srec[len] = 0;
	EXPECT_ERR(registry_status_decode(srec, len + 1, &st2), POLICY_E_CORRUPT);
	EXPECT_ERR(registry_status_encode(&st, srec, 10, &len), -ENOSPC);

	/* Not issued: no serial; the ID may name what will be issued. */
	status(&st);
	st.serial[0] = '\0';
	st.not_after = 0;
	EXPECT_OK(registry_status_check(&st));
	st.spiffe_id[0] = '\0';
	EXPECT_OK(registry_status_check(&st));

	status(&st);
	SET(st.serial, "ABCDEF");
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	status(&st);
	SET(st.serial, "12 34");
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	status(&st);
	memset(st.serial, 'a', sizeof(st.serial));
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	status(&st);
	st.serial[0] = '\0';
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	status(&st);
	st.spiffe_id[0] = '\0';
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	status(&st);
	SET(st.spiffe_id, "spiffe://example.org");
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	status(&st);
	st.not_after = -1;
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
	status(&st);
	st.updated = -5;
	EXPECT_ERR(registry_status_encode(&st, srec, sizeof(srec), &len), -EINVAL);
	status(&st);
	st.not_after = 0;
	EXPECT_ERR(registry_status_check(&st), -EINVAL);
}

TEST_MAIN(valid, valid_maximal, bad_names, bad_listen_and_apps, bad_upstreams, spiffe_id,
    codec_round_trip, codec_bounds, codec_refuses_damage, codec_garbage, status_codec)
