/*
 * Verifying a peer's X509-SVID chain: RFC 5280 path validation to one of
 * the bundle's anchors, validity at a given time, and the SPIFFE X509-SVID
 * rules for the leaf (exactly one URI SAN holding a valid SPIFFE ID with a
 * path, in the expected trust domain; not a CA; digitalSignature and no
 * keyCertSign/cRLSign; an extended key usage, when present, that allows the
 * role). Intermediates must be CAs allowed to sign certificates.
 */
#ifndef AUTHD_CERTS_VERIFY_H
#define AUTHD_CERTS_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "certs/spiffe.h"

struct certs_bundle;
struct mbedtls_x509_crt;

enum certs_role {
	CERTS_ROLE_ANY = 0,
	CERTS_ROLE_CLIENT,	/* the peer authenticates as a TLS client */
	CERTS_ROLE_SERVER,	/* the peer authenticates as a TLS server */
};

/* Most certificates in a presented chain (leaf included). */
#define CERTS_CHAIN_MAX 8
/* Largest chain accepted by certs_verify_pem. */
#define CERTS_CHAIN_MAX_BYTES (64 * 1024)

/*
 * Verify chain (leaf first) against bundle for trust domain td (canonical,
 * lower case, as spiffe_td_parse writes it) at time now.
 * On success returns 0 and fills *id with the peer's SPIFFE ID. On failure
 * returns the reason: CERTS_E_NO_CHAIN, CERTS_E_EXPIRED, CERTS_E_NOT_YET_VALID,
 * CERTS_E_UNKNOWN_AUTHORITY, CERTS_E_BAD_SIGNATURE, CERTS_E_NO_URI_SAN,
 * CERTS_E_TWO_URI_SANS, CERTS_E_BAD_SPIFFE_ID, CERTS_E_FOREIGN_TD,
 * CERTS_E_LEAF_IS_CA, CERTS_E_LEAF_KEY_USAGE, CERTS_E_LEAF_EKU,
 * CERTS_E_WEAK_CRYPTO, CERTS_E_CHAIN_TOO_LONG, CERTS_E_BAD_CA.
 */
int certs_verify_chain(const struct certs_bundle *bundle, const char *td,
    const struct mbedtls_x509_crt *chain, int64_t now, enum certs_role role,
    struct spiffe_id *id) AD_MUST_CHECK;

/*
 * Parse a PEM (or concatenated DER) chain, at most CERTS_CHAIN_MAX_BYTES
 * and CERTS_CHAIN_MAX certificates, and verify it as above. Parse failures
 * are CERTS_E_MALFORMED, CERTS_E_TOO_BIG or CERTS_E_CHAIN_TOO_LONG.
 */
int certs_verify_pem(const struct certs_bundle *bundle, const char *td, const uint8_t *data,
    size_t len, int64_t now, enum certs_role role, struct spiffe_id *id) AD_MUST_CHECK;

#endif
