/* Target Functions: certs_verify_pem, certs_verify_chain, certs_bundle_parse */
/*
 * Feeds arbitrary bytes to the peer-chain verifier and the trust-bundle
 * parser, and aborts when a result breaks a property the rest of authd
 * relies on.
 *
 * The first byte selects the mode (byte % 3):
 *   0  certs_verify_pem(bundle, "example.org", rest...) where the second
 *      byte is the role (% 3: any, client, server) and the rest the chain;
 *   1  certs_bundle_parse(rest); on success write it as PEM, re-parse it
 *      (same count, and writing again gives the same bytes) and check
 *      every anchor is a self-signed CA;
 *   2  like 0, but the chain is first parsed the way a TLS stack hands it
 *      over (mbedTLS, leniently: whatever parses, any number of
 *      certificates) and given to certs_verify_chain directly; when
 *      certs_verify_pem would parse the same bytes to the same chain, both
 *      must give the same answer.
 *
 * Verification properties: on success the ID is a SPIFFE workload ID in
 * example.org, and (mode 2) it is the leaf's only URI SAN, the leaf is no
 * CA and FIXED_NOW is inside its validity; the same chain then fails with
 * foreign-trust-domain for another trust domain, expired far in the
 * future, not-yet-valid far in the past, and passes with role "any". On
 * failure the ID is empty and the code is one of those verify.h documents
 * (or CERTS_E_NOMEM).
 *
 * The trust bundle is fixed: the root of the public throwaway CA in
 * tests/fuzz/verify_ca/ (example.org, valid 2026-11-25 .. 2046-11-20).
 * The time is fixed too, so runs are deterministic (no time()): FIXED_NOW
 * is the time the good seeds in tests/fuzz/corpus/verify/ were issued plus
 * 60 s, inside every good leaf's validity. tests/fuzz/mkcorpus_verify.sh
 * regenerates the seeds from that CA and prints the FIXED_NOW that goes
 * with them; paste it below whenever the seeds are regenerated, or the good
 * seeds stop reaching the success path.
 *
 * Build with -DVERIFY_FUZZ_TRACE to print each input's mode, role and
 * result on stderr (e.g. to see which seeds verify).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "certs/bundle.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/info.h"
#include "certs/spiffe.h"
#include "certs/verify.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Issue time of the seeds' good SVIDs + 60 s (2026-11-25T21:09:09Z). */
#define FIXED_NOW INT64_C(1795640949)
/* Past every X.509 date (year 9999) and before every one (year 0). */
#define FAR_FUTURE (INT64_C(1) << 40)
#define FAR_PAST (-(INT64_C(1) << 40))

#define TD "example.org"
#define OTHER_TD "example.com"

/* Certificates mode 2 parses at most; above CERTS_CHAIN_MAX on purpose. */
#define PARSE_MAX (2 * CERTS_CHAIN_MAX)

/* tests/fuzz/verify_ca/bundle.pem */
static const char bundle_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIB4TCCAYagAwIBAgIQXhzW6+R0LD9/TY9WX526MDAKBggqhkjOPQQDAjAuMRww\n"
	"GgYDVQQDDBNhdXRoZCByb290IDlkODI2MzRhMQ4wDAYDVQQKDAVhdXRoZDAeFw0y\n"
	"NjExMjUyMTAwMThaFw00NjExMjAyMTAxMThaMC4xHDAaBgNVBAMME2F1dGhkIHJv\n"
	"b3QgOWQ4MjYzNGExDjAMBgNVBAoMBWF1dGhkMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
	"AQcDQgAE58o8AWlF0dlP/9e1aUt9OvBBIihGXE9x/suFqonSQLeCoqcQCd5nWTTC\n"
	"iEA0UoBjvaiYfvhSj/ZUXy7IGZ0hV6OBhTCBgjAfBgNVHREEGDAWhhRzcGlmZmU6\n"
	"Ly9leGFtcGxlLm9yZzAdBgNVHQ4EFgQUE38PPnWd0dvcRBA0tGTAlYVi1L0wHwYD\n"
	"VR0jBBgwFoAUE38PPnWd0dvcRBA0tGTAlYVi1L0wDwYDVR0TAQH/BAUwAwEB/zAO\n"
	"BgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSQAwRgIhAOSH4asxnzrg1ESrjOiz\n"
	"SML5jSLQ7vOfExYzbZ7y1SOYAiEAyQBZXXLurlLuTZ1k0dZdCevu6klXexNDwW49\n"
	"SQUYJsY=\n"
	"-----END CERTIFICATE-----\n";

static struct certs_bundle *bundle;
/* FIXED_NOW as an X.509 time, for comparing with a leaf's validity. */
static mbedtls_x509_time fixed_now_tm;

#ifdef VERIFY_FUZZ_TRACE
#define TRACE(...) fprintf(stderr, "verify_fuzz: " __VA_ARGS__)
#else
#define TRACE(...) ((void)0)
#endif

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tm tm;
	time_t t = (time_t)FIXED_NOW;
	struct spiffe_id id;

	(void)argc;
	(void)argv;
	CHECK(certs_crypto_init() == 0);
	CHECK(certs_bundle_parse((const uint8_t *)bundle_pem, sizeof(bundle_pem) - 1,
	    &bundle) == 0);
	CHECK(certs_bundle_count(bundle) == 1);
	CHECK(gmtime_r(&t, &tm) != NULL);
	fixed_now_tm.year = tm.tm_year + 1900;
	fixed_now_tm.mon = tm.tm_mon + 1;
	fixed_now_tm.day = tm.tm_mday;
	fixed_now_tm.hour = tm.tm_hour;
	fixed_now_tm.min = tm.tm_min;
	fixed_now_tm.sec = tm.tm_sec;
	/* No chain at all (not reachable through certs_verify_pem). */
	CHECK(certs_verify_chain(bundle, TD, NULL, FIXED_NOW, CERTS_ROLE_ANY, &id) ==
	    CERTS_E_NO_CHAIN);
	CHECK(id.len == 0 && id.str[0] == '\0');
	/* The bundle stays allocated (and reachable) for the whole run. */
	return 0;
}

/* Codes certs_verify_chain documents. */
static bool
is_verify_err(int err)
{
	switch (err) {
	case CERTS_E_NO_CHAIN:
	case CERTS_E_EXPIRED:
	case CERTS_E_NOT_YET_VALID:
	case CERTS_E_UNKNOWN_AUTHORITY:
	case CERTS_E_BAD_SIGNATURE:
	case CERTS_E_NO_URI_SAN:
	case CERTS_E_TWO_URI_SANS:
	case CERTS_E_BAD_SPIFFE_ID:
	case CERTS_E_FOREIGN_TD:
	case CERTS_E_LEAF_IS_CA:
	case CERTS_E_LEAF_KEY_USAGE:
	case CERTS_E_LEAF_EKU:
	case CERTS_E_WEAK_CRYPTO:
	case CERTS_E_CHAIN_TOO_LONG:
	case CERTS_E_BAD_CA:
	case CERTS_E_NOMEM:
		return true;
	default:
		return false;
	}
}

/* Codes certs_verify_pem adds for parse failures. */
static bool
is_parse_err(int err)
{
	return err == CERTS_E_MALFORMED || err == CERTS_E_TOO_BIG ||
	    err == CERTS_E_CHAIN_TOO_LONG;
}

static bool
is_empty_id(const struct spiffe_id *id)
{
	return id->len == 0 && id->td_len == 0 && id->str[0] == '\0';
}

/* The result of a verification, whatever the input was. */
static void
check_result(int err, const struct spiffe_id *id, bool pem)
{
	struct spiffe_id again;

	if (err != 0) {
		CHECK(is_verify_err(err) || (pem && is_parse_err(err)));
		CHECK(is_empty_id(id));
		return;
	}
	CHECK(id->len > 0 && id->len <= SPIFFE_ID_MAX && strlen(id->str) == id->len);
	CHECK(spiffe_id_parse_workload(id->str, id->len, &again, NULL) == 0);
	CHECK(spiffe_id_equal(id, &again));
	CHECK(spiffe_id_in_td(&again, TD, strlen(TD)));
}

static int
cmp_time(const mbedtls_x509_time *a, const mbedtls_x509_time *b)
{
	const int x[] = { a->year, a->mon, a->day, a->hour, a->min, a->sec };
	const int y[] = { b->year, b->mon, b->day, b->hour, b->min, b->sec };

	for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* More about a chain that verified (mode 2 only: it has the chain). */
static void
check_success(const mbedtls_x509_crt *chain, enum certs_role role, const struct spiffe_id *id)
{
	const mbedtls_x509_sequence *san;
	struct spiffe_id san_id, other;
	size_t uris = 0;

	/* The ID is the leaf's one URI SAN. */
	for (san = &chain->subject_alt_names; san != NULL; san = san->next) {
		if (san->buf.p == NULL || san->buf.tag !=
		    (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER))
			continue;
		uris++;
		CHECK(spiffe_id_parse_workload((const char *)san->buf.p, san->buf.len, &san_id,
		    NULL) == 0);
		CHECK(spiffe_id_equal(id, &san_id));
	}
	CHECK(uris == 1);
	CHECK(!chain->MBEDTLS_PRIVATE(ca_istrue));
	CHECK(cmp_time(&chain->valid_from, &fixed_now_tm) <= 0);
	CHECK(cmp_time(&fixed_now_tm, &chain->valid_to) <= 0);

	/* The same chain, one thing changed. */
	CHECK(certs_verify_chain(bundle, OTHER_TD, chain, FIXED_NOW, role, &other) ==
	    CERTS_E_FOREIGN_TD);
	CHECK(is_empty_id(&other));
	CHECK(certs_verify_chain(bundle, TD, chain, FAR_FUTURE, role, &other) ==
	    CERTS_E_EXPIRED);
	CHECK(is_empty_id(&other));
	CHECK(certs_verify_chain(bundle, TD, chain, FAR_PAST, role, &other) ==
	    CERTS_E_NOT_YET_VALID);
	CHECK(is_empty_id(&other));
	if (role != CERTS_ROLE_ANY) {
		CHECK(certs_verify_chain(bundle, TD, chain, FIXED_NOW, CERTS_ROLE_ANY, &other) == 0);
		CHECK(spiffe_id_equal(id, &other));
	}
}

static void
fuzz_verify_pem(const uint8_t *data, size_t size, enum certs_role role)
{
	struct spiffe_id id;
	int err;

	/* Poison the ID so a failure must really clear it. */
	memset(&id, 0xa5, sizeof(id));
	err = certs_verify_pem(bundle, TD, data, size, FIXED_NOW, role, &id);
	TRACE("verify_pem role %d: %s%s\n", (int)role, err == 0 ? "ok " : certs_reason(err),
	    err == 0 ? id.str : "");
	check_result(err, &id, true);
}

/*
 * Parse data into chain as a TLS stack would hand it over: PEM (when it
 * holds a PEM header, as certs_verify_pem decides) or concatenated DER, keeping
 * whatever parses. *clean: every byte parsed as certificates, so
 * certs_verify_pem builds the very same chain unless there are too many.
 */
static size_t
chain_len(const mbedtls_x509_crt *chain)
{
	size_t n = 0;

	for (const mbedtls_x509_crt *c = chain; c != NULL && c->raw.p != NULL; c = c->next)
		n++;
	return n;
}

static size_t
pem_blocks(const uint8_t *data, size_t size)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	const uint8_t *p = data, *end = data + size, *hit;
	size_t n = 0;

	while ((hit = memmem(p, (size_t)(end - p), begin, sizeof(begin) - 1)) != NULL) {
		n++;
		p = hit + sizeof(begin) - 1;
	}
	return n;
}

static size_t
parse_lenient(const uint8_t *data, size_t size, mbedtls_x509_crt *chain, bool *clean)
{
	const mbedtls_x509_crt *c;
	size_t n = 0;

	*clean = false;
	if (memmem(data, size, "-----BEGIN", 10) != NULL) {
		uint8_t *copy = malloc(size + 1);
		int ret;

		CHECK(copy != NULL);
		memcpy(copy, data, size);
		copy[size] = '\0';
		ret = mbedtls_x509_crt_parse(chain, copy, size + 1);
		free(copy);
		/*
		 * mbedTLS stops quietly at a BEGIN with no END; that is not clean.
		 * Nor is a NUL: mbedTLS looks for PEM with strstr, so DER bytes
		 * followed by a PEM header parse as DER, a mix with no one reading.
		 */
		*clean = ret == 0 && pem_blocks(data, size) == chain_len(chain) &&
		    memchr(data, '\0', size) == NULL;
	} else {
		const uint8_t *p = data, *end = data + size;

		while (p < end && n < PARSE_MAX) {
			unsigned char *q = (unsigned char *)(uintptr_t)p;
			size_t body;

			if (mbedtls_asn1_get_tag(&q, end, &body,
				MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
				break;
			body += (size_t)(q - p);
			if (mbedtls_x509_crt_parse_der(chain, p, body) != 0)
				break;
			p += body;
			n++;
		}
		*clean = p == end;
	}
	n = 0;
	for (c = chain; c != NULL && c->raw.p != NULL; c = c->next)
		n++;
	return n;
}

static void
fuzz_verify_chain(const uint8_t *data, size_t size, enum certs_role role)
{
	mbedtls_x509_crt chain;
	struct spiffe_id id, pem_id;
	bool clean;
	size_t n;
	int err, pem_err;

	mbedtls_x509_crt_init(&chain);
	n = parse_lenient(data, size, &chain, &clean);
	memset(&id, 0xa5, sizeof(id));
	err = certs_verify_chain(bundle, TD, &chain, FIXED_NOW, role, &id);
	TRACE("verify_chain role %d, %zu certs%s: %s%s\n", (int)role, n,
	    clean ? "" : " (partial)", err == 0 ? "ok " : certs_reason(err),
	    err == 0 ? id.str : "");
	check_result(err, &id, false);
	CHECK(n != 0 || err == CERTS_E_NO_CHAIN);
	CHECK(n <= CERTS_CHAIN_MAX || err == CERTS_E_CHAIN_TOO_LONG);
	if (err == 0)
		check_success(&chain, role, &id);

	/* The same bytes through certs_verify_pem: the same verdict. */
	if (clean && n <= CERTS_CHAIN_MAX && size <= CERTS_CHAIN_MAX_BYTES) {
		memset(&pem_id, 0x5a, sizeof(pem_id));
		pem_err = certs_verify_pem(bundle, TD, data, size, FIXED_NOW, role, &pem_id);
		CHECK(pem_err == err);
		CHECK(pem_id.len == id.len && memcmp(pem_id.str, id.str, id.len + 1) == 0);
	}
	mbedtls_x509_crt_free(&chain);
}

static void
fuzz_bundle(const uint8_t *data, size_t size)
{
	static char poison;
	/* Poisoned, so a failure must really set it to NULL. */
	struct certs_bundle *b = (struct certs_bundle *)(void *)&poison, *b2 = NULL;
	struct certs_info info;
	char *pem = NULL, *pem2 = NULL;
	size_t count, len = 0, len2 = 0;
	int err;

	err = certs_bundle_parse(data, size, &b);
	TRACE("bundle_parse: %s\n", err == 0 ? "ok" : certs_reason(err));
	if (err != 0) {
		CHECK(err == CERTS_E_PEM || err == CERTS_E_BUNDLE_NOT_ANCHOR ||
		    err == CERTS_E_BUNDLE_DUP || err == CERTS_E_TOO_BIG || err == CERTS_E_NOMEM);
		CHECK(b == NULL);
		return;
	}
	CHECK(b != NULL);
	count = certs_bundle_count(b);
	CHECK(count >= 1 && count <= CERTS_BUNDLE_MAX_ANCHORS);
	for (size_t i = 0; i < count; i++) {
		CHECK(certs_bundle_info(b, i, &info) == 0);
		CHECK(info.is_ca && info.self_signed);
		CHECK(strlen(info.fingerprint) == 64);
	}
	CHECK(certs_bundle_info(b, count, &info) == CERTS_E_INVAL);

	/* Round trip through PEM: same anchors, and a fixed point. */
	CHECK(certs_bundle_write_pem(b, &pem, &len) == 0);
	CHECK(pem != NULL && strlen(pem) == len);
	CHECK(len > 27 && memcmp(pem, "-----BEGIN CERTIFICATE-----", 27) == 0);
	err = certs_bundle_parse((const uint8_t *)pem, len, &b2);
	CHECK(err == 0);
	CHECK(certs_bundle_count(b2) == count);
	CHECK(certs_bundle_write_pem(b2, &pem2, &len2) == 0);
	CHECK(len2 == len && memcmp(pem, pem2, len + 1) == 0);

	free(pem);
	free(pem2);
	certs_bundle_free(b2);
	certs_bundle_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum certs_role role;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 1:
		fuzz_bundle(data + 1, size - 1);
		return 0;
	case 0:
	case 2:
		if (size < 2)
			return 0;
		role = (enum certs_role)(data[1] % 3);
		if (data[0] % 3 == 0)
			fuzz_verify_pem(data + 2, size - 2, role);
		else
			fuzz_verify_chain(data + 2, size - 2, role);
		return 0;
	}
	return 0;
}
