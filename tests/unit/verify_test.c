/*
 * Unit tests for certs/verify.c: peer chains built with the library itself
 * (a CA in a temp directory, SVIDs from it), checked against bundles, times,
 * trust domains and malformed inputs. Also certs/error.c's tables.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/x509_crt.h>

#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/svid.h"
#include "certs/verify.h"
#include "tests/unit/test.h"

/* A fixed clock (2026-01-01T00:00:00Z). */
#define NOW INT64_C(1767225600)
#define TD "example.org"
#define WORKLOAD "spiffe://example.org/ns/default/sa/web"

/* A CA, one SVID from it, and the CA's bundle. */
struct world {
	char tmp[64];
	struct certs_ca *ca;
	struct certs_svid *svid;
	struct certs_bundle *bundle;
	struct spiffe_id id;
};

/* Make a CA in tmp/sub; load its issuer and bundle. */
static int
make_ca(const char *tmp, const char *sub, struct certs_ca **ca, struct certs_bundle **b)
{
	struct certs_ca_params p = { .now = NOW };
	char dir[128], path[160];

	snprintf(dir, sizeof(dir), "%s/%s", tmp, sub);
	snprintf(path, sizeof(path), "%s/%s", dir, CERTS_CA_BUNDLE);
	if (certs_ca_init(dir, TD, &p) != 0 || certs_ca_load(dir, NULL, ca) != 0)
		return -1;
	return certs_bundle_load(path, b);
}

static void
world_close(struct world *w)
{
	certs_svid_free(w->svid);
	certs_bundle_free(w->bundle);
	certs_ca_free(w->ca);
	if (w->tmp[0] != '\0' && test_rm_tree(w->tmp) != 0)
		fprintf(stderr, "  cannot remove %s\n", w->tmp);
}

/* Make the world; on failure nothing is left behind. */
static int
world_open(struct world *w)
{
	memset(w, 0, sizeof(*w));
	if (certs_crypto_init() != 0)
		return -1;
	snprintf(w->tmp, sizeof(w->tmp), "/tmp/authd-verify-XXXXXX");
	if (mkdtemp(w->tmp) == NULL) {
		w->tmp[0] = '\0';
		return -1;
	}
	if (make_ca(w->tmp, "ca", &w->ca, &w->bundle) != 0 ||
	    spiffe_id_parse(WORKLOAD, strlen(WORKLOAD), &w->id, NULL) != 0 ||
	    certs_svid_new(w->ca, &w->id, 0, NOW, &w->svid) != 0) {
		world_close(w);
		return -1;
	}
	return 0;
}

/* An ID that is visibly not cleared, to prove failures clear it. */
static void
dirty(struct spiffe_id *id)
{
	if (spiffe_id_parse("spiffe://stale.example/x", 24, id, NULL) != 0)
		abort();
}

/*
 * Check one verdict: the error, and the ID (WORKLOAD on success, empty on
 * any failure).
 */
static void
check_verdict(const char *what, int err, int want, const struct spiffe_id *got)
{
	if (err != want)
		TEST__FAIL("%s: returned %d (%s), expected %d (%s)", what, err, certs_reason(err),
		    want, certs_reason(want));
	if (err == 0 && strcmp(got->str, WORKLOAD) != 0)
		TEST__FAIL("%s: id \"%s\"", what, got->str);
	if (err != 0 && (got->len != 0 || got->td_len != 0 || got->str[0] != '\0'))
		TEST__FAIL("%s: failed but left id \"%s\" (len %zu)", what, got->str, got->len);
}

static void
chain_case(const char *what, const struct certs_bundle *b, const char *td,
    const mbedtls_x509_crt *chain, int64_t now, enum certs_role role, int want)
{
	struct spiffe_id got;

	dirty(&got);
	check_verdict(what, certs_verify_chain(b, td, chain, now, role, &got), want, &got);
}

/* certs_verify_pem on an exact-size heap copy, so ASan sees any read past len. */
static int
verify_pem_exact(const struct certs_bundle *b, const uint8_t *data, size_t len, int64_t now,
    struct spiffe_id *got)
{
	uint8_t *copy = malloc(len ? len : 1);
	int err;

	if (copy == NULL)
		abort();
	memcpy(copy, data, len);
	dirty(got);
	err = certs_verify_pem(b, TD, copy, len, now, CERTS_ROLE_ANY, got);
	free(copy);
	return err;
}

static void
pem_case(const char *what, const struct certs_bundle *b, const uint8_t *data, size_t len,
    int64_t now, int want)
{
	struct spiffe_id got;

	check_verdict(what, verify_pem_exact(b, data, len, now, &got), want, &got);
}

/* A good chain verifies for every role and yields the leaf's SPIFFE ID. */
TEST(good_chain)
{
	struct world w;
	const mbedtls_x509_crt *chain;

	REQUIRE(world_open(&w) == 0);
	chain = certs_svid_peek_chain(w.svid);
	chain_case("any", w.bundle, TD, chain, NOW, CERTS_ROLE_ANY, 0);
	chain_case("client", w.bundle, TD, chain, NOW, CERTS_ROLE_CLIENT, 0);
	chain_case("server", w.bundle, TD, chain, NOW, CERTS_ROLE_SERVER, 0);
	world_close(&w);
}

/* Validity is judged by the caller's clock, inclusive at both ends. */
TEST(validity_window)
{
	struct world w;
	const mbedtls_x509_crt *chain;
	int64_t nb, na;

	REQUIRE(world_open(&w) == 0);
	chain = certs_svid_peek_chain(w.svid);
	nb = certs_svid_not_before(w.svid);
	na = certs_svid_not_after(w.svid);
	EXPECT_EQ(nb, NOW - CERTS_BACKDATE);
	EXPECT_EQ(na, NOW + CERTS_SVID_TTL_DEFAULT);
	chain_case("at notBefore", w.bundle, TD, chain, nb, CERTS_ROLE_ANY, 0);
	chain_case("at notAfter", w.bundle, TD, chain, na, CERTS_ROLE_ANY, 0);
	chain_case("past notAfter", w.bundle, TD, chain, na + 1, CERTS_ROLE_ANY,
	    CERTS_E_EXPIRED);
	chain_case("a year later", w.bundle, TD, chain, na + 365 * 86400, CERTS_ROLE_ANY,
	    CERTS_E_EXPIRED);
	chain_case("before notBefore", w.bundle, TD, chain, nb - 1, CERTS_ROLE_ANY,
	    CERTS_E_NOT_YET_VALID);
	chain_case("at the epoch", w.bundle, TD, chain, 0, CERTS_ROLE_ANY,
	    CERTS_E_NOT_YET_VALID);
	world_close(&w);
}

/* The expected trust domain is the caller's, compared exactly. */
TEST(trust_domain)
{
	static const char *const foreign[] = { "other.org", "example.org.evil", "example.or",
		"org", "sub.example.org" };
	struct world w;
	const mbedtls_x509_crt *chain;

	REQUIRE(world_open(&w) == 0);
	chain = certs_svid_peek_chain(w.svid);
	for (size_t i = 0; i < AD_ARRAY_LEN(foreign); i++)
		chain_case(foreign[i], w.bundle, foreign[i], chain, NOW, CERTS_ROLE_ANY,
		    CERTS_E_FOREIGN_TD);
	world_close(&w);
}

/* A chain that does not lead to one of the bundle's anchors is refused. */
TEST(unknown_authority)
{
	struct world w;
	struct certs_ca *other_ca = NULL;
	struct certs_bundle *other = NULL;
	struct certs_svid *other_svid = NULL;
	mbedtls_x509_crt leaf_only, empty;
	const mbedtls_x509_crt *chain;

	REQUIRE(world_open(&w) == 0);
	chain = certs_svid_peek_chain(w.svid);
	/* Another CA for the same trust domain name is not ours. */
	REQUIRE(make_ca(w.tmp, "other", &other_ca, &other) == 0);
	chain_case("other bundle", other, TD, chain, NOW, CERTS_ROLE_ANY,
	    CERTS_E_UNKNOWN_AUTHORITY);
	REQUIRE(certs_svid_new(other_ca, &w.id, 0, NOW, &other_svid) == 0);
	chain_case("other CA's SVID", w.bundle, TD, certs_svid_peek_chain(other_svid), NOW,
	    CERTS_ROLE_ANY, CERTS_E_UNKNOWN_AUTHORITY);
	chain_case("other CA's SVID, its bundle", other, TD, certs_svid_peek_chain(other_svid),
	    NOW, CERTS_ROLE_ANY, 0);

	/* The leaf without its issuer. */
	mbedtls_x509_crt_init(&leaf_only);
	REQUIRE(mbedtls_x509_crt_parse_der(&leaf_only, chain->raw.p, chain->raw.len) == 0);
	chain_case("leaf alone", w.bundle, TD, &leaf_only, NOW, CERTS_ROLE_ANY,
	    CERTS_E_UNKNOWN_AUTHORITY);
	mbedtls_x509_crt_free(&leaf_only);

	/* No certificate at all. */
	mbedtls_x509_crt_init(&empty);
	chain_case("empty chain", w.bundle, TD, &empty, NOW, CERTS_ROLE_ANY, CERTS_E_NO_CHAIN);
	chain_case("NULL chain", w.bundle, TD, NULL, NOW, CERTS_ROLE_ANY, CERTS_E_NO_CHAIN);

	certs_svid_free(other_svid);
	certs_bundle_free(other);
	certs_ca_free(other_ca);
	world_close(&w);
}

/* A chain may hold CERTS_CHAIN_MAX certificates, not one more. */
TEST(chain_length)
{
	struct world w;
	const mbedtls_x509_crt *chain;
	mbedtls_x509_crt longer;

	REQUIRE(world_open(&w) == 0);
	chain = certs_svid_peek_chain(w.svid);
	mbedtls_x509_crt_init(&longer);
	REQUIRE(mbedtls_x509_crt_parse_der(&longer, chain->raw.p, chain->raw.len) == 0);
	/* Leaf, then the issuer repeated: harmless extras up to the limit. */
	for (int n = 2; n <= CERTS_CHAIN_MAX + 1; n++) {
		char what[32];

		REQUIRE(mbedtls_x509_crt_parse_der(&longer, chain->next->raw.p,
			    chain->next->raw.len) == 0);
		snprintf(what, sizeof(what), "%d certificates", n);
		chain_case(what, w.bundle, TD, &longer, NOW, CERTS_ROLE_ANY,
		    n <= CERTS_CHAIN_MAX ? 0 : CERTS_E_CHAIN_TOO_LONG);
	}
	mbedtls_x509_crt_free(&longer);
	world_close(&w);
}

/* certs_verify_pem takes what certs_svid_write_pem gives, as PEM or as DER. */
TEST(pem_and_der_input)
{
	struct world w;
	const mbedtls_x509_crt *chain;
	char *pem = NULL, *key = NULL;
	size_t pem_len = 0, key_len = 0, der_len;
	uint8_t *der;

	REQUIRE(world_open(&w) == 0);
	REQUIRE(certs_svid_write_pem(w.svid, &pem, &pem_len, &key, &key_len) == 0);
	EXPECT(strstr(key, "-----BEGIN EC PRIVATE KEY-----") != NULL);
	EXPECT_EQ(strlen(pem), pem_len);
	pem_case("PEM", w.bundle, (const uint8_t *)pem, pem_len, NOW, 0);
	pem_case("PEM with NUL", w.bundle, (const uint8_t *)pem, pem_len + 1, NOW, 0);
	pem_case("PEM, expired", w.bundle, (const uint8_t *)pem, pem_len, NOW + 7200,
	    CERTS_E_EXPIRED);

	chain = certs_svid_peek_chain(w.svid);
	der_len = chain->raw.len + chain->next->raw.len;
	der = malloc(der_len);
	REQUIRE(der != NULL);
	memcpy(der, chain->raw.p, chain->raw.len);
	memcpy(der + chain->raw.len, chain->next->raw.p, chain->next->raw.len);
	pem_case("DER", w.bundle, der, der_len, NOW, 0);
	pem_case("DER leaf only", w.bundle, der, chain->raw.len, NOW, CERTS_E_UNKNOWN_AUTHORITY);
	pem_case("DER cut short", w.bundle, der, der_len - 1, NOW, CERTS_E_MALFORMED);
	pem_case("DER cut in the leaf", w.bundle, der, chain->raw.len / 2, NOW,
	    CERTS_E_MALFORMED);
	pem_case("empty", w.bundle, der, 0, NOW, CERTS_E_NO_CHAIN);
	free(der);

	free(pem);
	util_free_wiped(key, key_len);
	world_close(&w);
}

/* A PEM chain cut short inside a certificate is malformed, wherever the cut falls. */
TEST(pem_truncated)
{
	static const char end_line[] = "-----END CERTIFICATE-----\n";
	struct world w;
	char *pem = NULL, *key = NULL;
	size_t pem_len = 0, key_len = 0, first_end;

	REQUIRE(world_open(&w) == 0);
	REQUIRE(certs_svid_write_pem(w.svid, &pem, &pem_len, &key, &key_len) == 0);
	first_end = (size_t)(strstr(pem, end_line) - pem) + strlen(end_line);

	pem_case("cut in the middle", w.bundle, (const uint8_t *)pem, pem_len / 2, NOW,
	    CERTS_E_MALFORMED);
	pem_case("cut in the leaf", w.bundle, (const uint8_t *)pem, first_end / 2, NOW,
	    CERTS_E_MALFORMED);
	pem_case("cut after BEGIN", w.bundle, (const uint8_t *)pem, 40, NOW, CERTS_E_MALFORMED);
	/* Cut exactly after the leaf, it is a whole (if untrusted) chain. */
	pem_case("leaf only", w.bundle, (const uint8_t *)pem, first_end, NOW,
	    CERTS_E_UNKNOWN_AUTHORITY);
	/* Text after the last block is ignored, as PEM readers do. */
	{
		size_t n = pem_len + 7;
		char *more = malloc(n + 1);

		REQUIRE(more != NULL);
		memcpy(more, pem, pem_len);
		memcpy(more + pem_len, "trailer", 8);
		pem_case("trailing text", w.bundle, (const uint8_t *)more, n, NOW, 0);
		free(more);
	}
	/* Cut inside the second (last) block: malformed, not a shorter chain. */
	pem_case("cut in the issuer", w.bundle, (const uint8_t *)pem,
	    first_end + (pem_len - first_end) / 2, NOW, CERTS_E_MALFORMED);
	pem_case("cut in the issuer's END line", w.bundle, (const uint8_t *)pem,
	    pem_len - 5, NOW, CERTS_E_MALFORMED);
	free(pem);
	util_free_wiped(key, key_len);
	world_close(&w);
}

/* Altered bytes: a leaf whose signature fails, an issuer presented as a leaf. */
TEST(tampered)
{
	struct world w;
	const mbedtls_x509_crt *chain;
	mbedtls_x509_crt forged, issuer_only;
	uint8_t *der;

	REQUIRE(world_open(&w) == 0);
	chain = certs_svid_peek_chain(w.svid);

	/* The last byte of a certificate is in its signature's s value. */
	der = malloc(chain->raw.len);
	REQUIRE(der != NULL);
	memcpy(der, chain->raw.p, chain->raw.len);
	der[chain->raw.len - 1] ^= 0x01;
	mbedtls_x509_crt_init(&forged);
	REQUIRE(mbedtls_x509_crt_parse_der(&forged, der, chain->raw.len) == 0);
	REQUIRE(mbedtls_x509_crt_parse_der(&forged, chain->next->raw.p, chain->next->raw.len) ==
	    0);
	chain_case("leaf signature", w.bundle, TD, &forged, NOW, CERTS_ROLE_ANY,
	    CERTS_E_BAD_SIGNATURE);
	mbedtls_x509_crt_free(&forged);
	free(der);

	/* The issuer is a valid path by itself, but its ID has no path: not a workload. */
	mbedtls_x509_crt_init(&issuer_only);
	REQUIRE(mbedtls_x509_crt_parse_der(&issuer_only, chain->next->raw.p,
		    chain->next->raw.len) == 0);
	chain_case("issuer as leaf", w.bundle, TD, &issuer_only, NOW, CERTS_ROLE_ANY,
	    CERTS_E_BAD_SPIFFE_ID);
	mbedtls_x509_crt_free(&issuer_only);
	world_close(&w);
}

/* Input that is not a chain is CERTS_E_MALFORMED; input over the size bound CERTS_E_TOO_BIG. */
TEST(malformed_and_too_big)
{
	static const char text[] = "this is not a certificate chain at all";
	static const char bad_pem[] = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n"
				      "-----END CERTIFICATE-----\n";
	static const uint8_t bad_der[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	static const uint8_t long_der[] = { 0x30, 0x82, 0xff, 0xff, 0x00 };
	struct world w;
	uint8_t *big;

	REQUIRE(world_open(&w) == 0);
	pem_case("text", w.bundle, (const uint8_t *)text, sizeof(text) - 1, NOW,
	    CERTS_E_MALFORMED);
	pem_case("bad PEM body", w.bundle, (const uint8_t *)bad_pem, sizeof(bad_pem) - 1, NOW,
	    CERTS_E_MALFORMED);
	pem_case("BEGIN line only", w.bundle, (const uint8_t *)bad_pem, 28, NOW,
	    CERTS_E_MALFORMED);
	pem_case("DER, not a certificate", w.bundle, bad_der, sizeof(bad_der), NOW,
	    CERTS_E_MALFORMED);
	pem_case("DER, length past the end", w.bundle, long_der, sizeof(long_der), NOW,
	    CERTS_E_MALFORMED);
	pem_case("one zero byte", w.bundle, (const uint8_t *)"", 1, NOW, CERTS_E_MALFORMED);

	big = malloc(CERTS_CHAIN_MAX_BYTES + 1);
	REQUIRE(big != NULL);
	memset(big, 'A', CERTS_CHAIN_MAX_BYTES + 1);
	pem_case("at the bound", w.bundle, big, CERTS_CHAIN_MAX_BYTES, NOW, CERTS_E_MALFORMED);
	pem_case("over the bound", w.bundle, big, CERTS_CHAIN_MAX_BYTES + 1, NOW,
	    CERTS_E_TOO_BIG);
	free(big);
	world_close(&w);
}

/* Parsing stops at CERTS_CHAIN_MAX certificates, for PEM and for DER. */
TEST(too_many_certificates)
{
	struct world w;
	const mbedtls_x509_crt *leaf;
	char *pem = NULL, *key = NULL, *many;
	size_t pem_len = 0, key_len = 0, leaf_pem_len;
	uint8_t *many_der;

	REQUIRE(world_open(&w) == 0);
	REQUIRE(certs_svid_write_pem(w.svid, &pem, &pem_len, &key, &key_len) == 0);
	leaf_pem_len = (size_t)(strstr(pem, "-----END CERTIFICATE-----\n") - pem) + 26;
	leaf = certs_svid_peek_chain(w.svid);

	many = malloc(leaf_pem_len * (CERTS_CHAIN_MAX + 1));
	many_der = malloc(leaf->raw.len * (CERTS_CHAIN_MAX + 1));
	REQUIRE(many != NULL && many_der != NULL);
	for (size_t i = 0; i < CERTS_CHAIN_MAX + 1; i++) {
		memcpy(many + i * leaf_pem_len, pem, leaf_pem_len);
		memcpy(many_der + i * leaf->raw.len, leaf->raw.p, leaf->raw.len);
	}
	pem_case("9 PEM leaves", w.bundle, (const uint8_t *)many,
	    leaf_pem_len * (CERTS_CHAIN_MAX + 1), NOW, CERTS_E_CHAIN_TOO_LONG);
	pem_case("9 DER leaves", w.bundle, many_der, leaf->raw.len * (CERTS_CHAIN_MAX + 1), NOW,
	    CERTS_E_CHAIN_TOO_LONG);
	/* Eight leaves parse, and then fail for want of an issuer. */
	pem_case("8 PEM leaves", w.bundle, (const uint8_t *)many,
	    leaf_pem_len * CERTS_CHAIN_MAX, NOW, CERTS_E_UNKNOWN_AUTHORITY);
	pem_case("8 DER leaves", w.bundle, many_der, leaf->raw.len * CERTS_CHAIN_MAX, NOW,
	    CERTS_E_UNKNOWN_AUTHORITY);
	free(many);
	free(many_der);
	free(pem);
	util_free_wiped(key, key_len);
	world_close(&w);
}

/* Every code in certs/error.h, to hold the tables in error.c to the header. */
static const int all_codes[] = {
	CERTS_E_INVAL, CERTS_E_NOMEM, CERTS_E_CRYPTO,
	CERTS_E_ID_EMPTY, CERTS_E_ID_TOO_LONG, CERTS_E_ID_SCHEME, CERTS_E_ID_TD_EMPTY,
	CERTS_E_ID_TD_TOO_LONG, CERTS_E_ID_TD_CHAR, CERTS_E_ID_PORT, CERTS_E_ID_USERINFO,
	CERTS_E_ID_QUERY, CERTS_E_ID_FRAGMENT, CERTS_E_ID_PERCENT, CERTS_E_ID_SEG_EMPTY,
	CERTS_E_ID_SEG_DOT, CERTS_E_ID_TRAILING_SLASH, CERTS_E_ID_PATH_CHAR, CERTS_E_ID_NO_PATH,
	CERTS_E_PEM, CERTS_E_KEY, CERTS_E_SEAL, CERTS_E_SEAL_FORMAT, CERTS_E_TTL,
	CERTS_E_CA_EXPIRED, CERTS_E_EXISTS, CERTS_E_NO_CA, CERTS_E_NO_ROOT_KEY,
	CERTS_E_BUNDLE_LAST, CERTS_E_BUNDLE_IN_USE, CERTS_E_BUNDLE_DUP,
	CERTS_E_BUNDLE_NOT_ANCHOR, CERTS_E_NOT_FOUND, CERTS_E_TOO_BIG,
	CERTS_E_MALFORMED, CERTS_E_NO_CHAIN, CERTS_E_EXPIRED, CERTS_E_NOT_YET_VALID,
	CERTS_E_UNKNOWN_AUTHORITY, CERTS_E_BAD_SIGNATURE, CERTS_E_NO_URI_SAN,
	CERTS_E_TWO_URI_SANS, CERTS_E_BAD_SPIFFE_ID, CERTS_E_FOREIGN_TD, CERTS_E_LEAF_IS_CA,
	CERTS_E_LEAF_KEY_USAGE, CERTS_E_LEAF_EKU, CERTS_E_WEAK_CRYPTO, CERTS_E_CHAIN_TOO_LONG,
	CERTS_E_BAD_CA,
};

static bool
is_known(int code)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(all_codes); i++)
		if (all_codes[i] == code)
			return true;
	return false;
}

/* Every code has its own stable reason token and a sentence; no other code in range does. */
TEST(reasons_distinct)
{
	const char *seen[100] = { 0 };

	for (int code = -1000; code >= -1099; code--) {
		const char *reason = certs_reason(code), *text = certs_strerror(code);

		REQUIRE(reason != NULL && text != NULL);
		if (!is_known(code)) {
			/* Not in the header: the table has no stray entry either. */
			if (strcmp(reason, "error") != 0)
				TEST__FAIL("code %d is not in error.h but has reason \"%s\"", code,
				    reason);
			continue;
		}
		if (strcmp(reason, "error") == 0 || strcmp(reason, "ok") == 0 || reason[0] == '\0')
			TEST__FAIL("code %d has no reason token (\"%s\")", code, reason);
		if (strcmp(text, "unknown error") == 0 || text[0] == '\0')
			TEST__FAIL("code %d has no sentence", code);
		/* Tokens are for metrics labels: lower case, digits and '-'. */
		for (const char *c = reason; *c != '\0'; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
				TEST__FAIL("code %d: reason \"%s\" has '%c'", code, reason, *c);
		for (int j = 0; j < 100; j++)
			if (seen[j] != NULL && strcmp(seen[j], reason) == 0)
				TEST__FAIL("codes %d and %d share the reason \"%s\"", -1000 - j,
				    code, reason);
		seen[-1000 - code] = reason;
	}
	EXPECT_EQ(AD_ARRAY_LEN(all_codes), 50);
}

/* Zero is success, negative errno reads as strerror, anything else is "unknown". */
TEST(strerror_other_codes)
{
	EXPECT_STR(certs_reason(0), "ok");
	EXPECT_STR(certs_strerror(0), "success");
	EXPECT_STR(certs_strerror(-ENOENT), strerror(ENOENT));
	EXPECT_STR(certs_strerror(-EACCES), strerror(EACCES));
	EXPECT_STR(certs_strerror(-EEXIST), strerror(EEXIST));
	EXPECT_STR(certs_reason(-ENOENT), "error");
	EXPECT_STR(certs_strerror(-1100), "unknown error");
	EXPECT_STR(certs_strerror(12345), "unknown error");
	EXPECT_STR(certs_reason(12345), "error");
	EXPECT_STR(certs_reason(CERTS_E_EXPIRED), "expired");
	EXPECT_STR(certs_reason(CERTS_E_TWO_URI_SANS), "two-uri-sans");
}

TEST_MAIN(good_chain, validity_window, trust_domain, unknown_authority, chain_length,
    pem_and_der_input, pem_truncated, tampered, malformed_and_too_big, too_many_certificates,
    reasons_distinct, strerror_other_codes)
