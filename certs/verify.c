/*
 * verify.c: is this peer who its certificate says, in our trust domain?
 *
 * mbedTLS does RFC 5280 path building and signature checks; its notion of
 * time is the wall clock, so its time flags are dropped and every
 * certificate on the verified path is checked against the caller's `now`
 * instead (which makes the verifier deterministic for tests and fuzzing).
 * The SPIFFE X509-SVID leaf rules (section 4 and 5 of the standard) are
 * checked here, after the path is known to be good.
 */
#include "certs/verify.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "certs/bundle.h"
#include "certs/certs_int.h"
#include "certs/error.h"

/* P-256/P-384 ECDSA with SHA-2; RSA only at 2048 bits or more. */
static const mbedtls_x509_crt_profile verify_profile = {
	.allowed_mds = MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) |
	    MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) | MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
	.allowed_pks = MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY) |
	    MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSA),
	.allowed_curves = MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) |
	    MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1),
	.rsa_min_bitlen = 2048,
};

#define PATH_MAX_DEPTH 16

/* What mbedTLS reported for each certificate of the path it built. */
struct path {
	const mbedtls_x509_crt *crt[PATH_MAX_DEPTH];
	uint32_t flags[PATH_MAX_DEPTH];
	int top;	/* depth of the last certificate: the anchor when trusted */
};

static int
path_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct path *p = ctx;

	if (depth >= 0 && depth < PATH_MAX_DEPTH) {
		p->crt[depth] = crt;
		p->flags[depth] = *flags;
		if (depth > p->top)
			p->top = depth;
	}
	/* Time is judged against the caller's clock below. */
	*flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
	return 0;
}

static int
same_name(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/*
 * No parent was found for the top of the path. If the presented chain holds
 * a certificate named as its issuer that mbedTLS refused as a parent because
 * it may not sign certificates, say so; otherwise the root is unknown.
 */
static int
why_untrusted(const mbedtls_x509_crt *chain, const mbedtls_x509_crt *top)
{
	const mbedtls_x509_crt *c;

	for (c = chain; c != NULL && c->raw.p != NULL; c = c->next) {
		if (c == top || !same_name(&c->subject_raw, &top->issuer_raw))
			continue;
		if (!c->MBEDTLS_PRIVATE(ca_istrue) ||
		    (mbedtls_x509_crt_has_ext_type(c, MBEDTLS_X509_EXT_KEY_USAGE) &&
			!(c->MBEDTLS_PRIVATE(key_usage) & MBEDTLS_X509_KU_KEY_CERT_SIGN)))
			return CERTS_E_BAD_CA;
	}
	return CERTS_E_UNKNOWN_AUTHORITY;
}

static int
check_path(const struct path *p, const mbedtls_x509_crt *chain, int64_t now)
{
	int d;

	for (d = 0; d <= p->top; d++) {
		uint32_t f = p->flags[d];

		if (p->crt[d] == NULL)
			return CERTS_E_UNKNOWN_AUTHORITY;
		if (f & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
			    MBEDTLS_X509_BADCERT_BAD_KEY))
			return CERTS_E_WEAK_CRYPTO;
		/* A parent was found (d < top) but its signature did not verify. */
		if ((f & MBEDTLS_X509_BADCERT_NOT_TRUSTED) && d < p->top)
			return CERTS_E_BAD_SIGNATURE;
		if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
			return why_untrusted(chain, p->crt[d]);
		if (f & ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))
			return CERTS_E_UNKNOWN_AUTHORITY;
	}
	for (d = 0; d <= p->top; d++) {
		if (now > certs__time_from_x509(&p->crt[d]->valid_to))
			return CERTS_E_EXPIRED;
		if (now < certs__time_from_x509(&p->crt[d]->valid_from))
			return CERTS_E_NOT_YET_VALID;
	}
	return 0;
}

static int
eku_allows(const mbedtls_x509_crt *leaf, enum certs_role role)
{
	int client = mbedtls_x509_crt_check_extended_key_usage(leaf, MBEDTLS_OID_CLIENT_AUTH,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) == 0;
	int server = mbedtls_x509_crt_check_extended_key_usage(leaf, MBEDTLS_OID_SERVER_AUTH,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0;

	switch (role) {
	case CERTS_ROLE_CLIENT:
		return client;
	case CERTS_ROLE_SERVER:
		return server;
	case CERTS_ROLE_ANY:
	default:
		return client || server;
	}
}

/* The X509-SVID rules for the leaf; fills *id. */
static int
check_leaf(const mbedtls_x509_crt *leaf, const char *td, enum certs_role role,
    struct spiffe_id *id)
{
	const unsigned char *uri = NULL;
	size_t uri_len = 0, n;

	n = certs__uri_sans(leaf, &uri, &uri_len);
	if (n == 0)
		return CERTS_E_NO_URI_SAN;
	if (n > 1)
		return CERTS_E_TWO_URI_SANS;
	if (spiffe_id_parse_workload((const char *)uri, uri_len, id, NULL) != 0)
		return CERTS_E_BAD_SPIFFE_ID;
	if (!spiffe_id_in_td(id, td, strlen(td)))
		return CERTS_E_FOREIGN_TD;
	if (leaf->MBEDTLS_PRIVATE(ca_istrue))
		return CERTS_E_LEAF_IS_CA;
	if (!mbedtls_x509_crt_has_ext_type(leaf, MBEDTLS_X509_EXT_KEY_USAGE) ||
	    !(leaf->MBEDTLS_PRIVATE(key_usage) & MBEDTLS_X509_KU_DIGITAL_SIGNATURE) ||
	    (leaf->MBEDTLS_PRIVATE(key_usage) & (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)))
		return CERTS_E_LEAF_KEY_USAGE;
	if (!eku_allows(leaf, role))
		return CERTS_E_LEAF_EKU;
	return 0;
}

int
certs_verify_chain(const struct certs_bundle *bundle, const char *td,
    const struct mbedtls_x509_crt *chain, int64_t now, enum certs_role role,
    struct spiffe_id *id)
{
	struct path p;
	uint32_t flags = 0;
	size_t n = 0;
	const mbedtls_x509_crt *c;
	int ret, err;

	id->len = id->td_len = 0;
	id->str[0] = '\0';
	if (chain == NULL || chain->raw.p == NULL)
		return CERTS_E_NO_CHAIN;
	for (c = chain; c != NULL && c->raw.p != NULL; c = c->next)
		if (++n > CERTS_CHAIN_MAX)
			return CERTS_E_CHAIN_TOO_LONG;
	memset(&p, 0, sizeof(p));
	p.top = -1;
	/* mbedTLS does not modify the chain; its prototype is not const. */
	ret = mbedtls_x509_crt_verify_with_profile((mbedtls_x509_crt *)(uintptr_t)chain,
	    (mbedtls_x509_crt *)(uintptr_t)certs_bundle_peek_chain(bundle), NULL, &verify_profile,
	    NULL, &flags, path_cb, &p);
	if (ret == MBEDTLS_ERR_X509_FATAL_ERROR)
		return CERTS_E_CHAIN_TOO_LONG;
	if (p.top < 0)
		return CERTS_E_UNKNOWN_AUTHORITY;
	err = check_path(&p, chain, now);
	if (err == 0 && ret != 0 && flags != 0)
		err = CERTS_E_UNKNOWN_AUTHORITY;
	if (err == 0)
		err = check_leaf(chain, td, role, id);
	if (err != 0) {
		id->len = id->td_len = 0;
		id->str[0] = '\0';
	}
	return err;
}

int
certs_verify_pem(const struct certs_bundle *bundle, const char *td, const uint8_t *data,
    size_t len, int64_t now, enum certs_role role, struct spiffe_id *id)
{
	mbedtls_x509_crt chain;
	uint8_t *copy = NULL;
	int err;

	id->len = id->td_len = 0;
	id->str[0] = '\0';
	if (len > CERTS_CHAIN_MAX_BYTES)
		return CERTS_E_TOO_BIG;
	mbedtls_x509_crt_init(&chain);
	if (certs__is_pem(data, len)) {
		const mbedtls_x509_crt *c;
		size_t n = 0;

		copy = malloc(len + 1);
		if (copy == NULL) {
			err = CERTS_E_NOMEM;
			goto out;
		}
		memcpy(copy, data, len);
		copy[len] = '\0';
		if (mbedtls_x509_crt_parse(&chain, copy, len + 1) != 0) {
			err = CERTS_E_MALFORMED;
			goto out;
		}
		for (c = &chain; c != NULL && c->raw.p != NULL; c = c->next)
			n++;
		if (certs__pem_cert_blocks(data, len) != n) {
			err = CERTS_E_MALFORMED;
			goto out;
		}
		if (n > CERTS_CHAIN_MAX) {
			err = CERTS_E_CHAIN_TOO_LONG;
			goto out;
		}
	} else {
		err = certs__parse_der_chain(&chain, data, len, CERTS_CHAIN_MAX);
		if (err == CERTS_E_PEM)
			err = len == 0 ? CERTS_E_NO_CHAIN : CERTS_E_MALFORMED;
		if (err != 0)
			goto out;
	}
	err = certs_verify_chain(bundle, td, &chain, now, role, id);
out:
	free(copy);
	mbedtls_x509_crt_free(&chain);
	return err;
}
