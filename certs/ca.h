/*
 * The trust domain's certificate authority: a root (trust anchor, kept
 * offline in production) and an issuer (intermediate) that signs workload
 * SVIDs. Both are ECDSA P-256 and carry the trust domain's SPIFFE ID
 * (spiffe://TD, no path) as their only URI SAN.
 *
 * A CA directory holds:
 *   root.crt          the current root certificate
 *   root.key          its key (0600); may be moved offline after init
 *   issuer.crt        the current issuer certificate
 *   issuer.key        its key (0600), or issuer.key.sealed (see seal.h)
 *   bundle.pem        trust anchors: every root peers should accept
 */
#ifndef AUTHD_CERTS_CA_H
#define AUTHD_CERTS_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "certs/spiffe.h"

#define CERTS_CA_ROOT_CRT "root.crt"
#define CERTS_CA_ROOT_KEY "root.key"
#define CERTS_CA_ISSUER_CRT "issuer.crt"
#define CERTS_CA_ISSUER_KEY "issuer.key"
#define CERTS_CA_ISSUER_KEY_SEALED "issuer.key.sealed"
#define CERTS_CA_BUNDLE "bundle.pem"

#define CERTS_ROOT_TTL_DEFAULT (365u * 24 * 3600)
#define CERTS_ISSUER_TTL_DEFAULT (30u * 24 * 3600)
/* Accepted range of CA lifetimes: one hour to twenty years. */
#define CERTS_CA_TTL_MIN 3600u
#define CERTS_CA_TTL_MAX (20u * 365 * 24 * 3600)

/*
 * Workload SVID lifetimes: default one hour, 5 s to 24 h. Below a minute is
 * for tests of rotation (renewals then come every few seconds).
 */
#define CERTS_SVID_TTL_DEFAULT 3600u
#define CERTS_SVID_TTL_MIN 5u
#define CERTS_SVID_TTL_MAX (24u * 3600)
/* notBefore is back-dated by this much to tolerate clock skew between nodes. */
#define CERTS_BACKDATE 60

struct certs_ca;

struct certs_ca_params {
	uint32_t root_ttl;		/* 0: default */
	uint32_t issuer_ttl;		/* 0: default */
	const uint8_t *seal_key;	/* CERTS_SEAL_KEY_LEN bytes, or NULL */
	int64_t now;			/* seconds since the epoch */
};

/*
 * Create a new CA in dir (created 0700 if missing) for trust domain td.
 * CERTS_E_EXISTS if dir already holds a CA; on failure no CA file is left.
 */
int certs_ca_init(const char *dir, const char *td, const struct certs_ca_params *p) AD_MUST_CHECK;

/*
 * Make a new issuer. With new_root, first make a new root and add it to the
 * bundle (the old root stays there until removed); otherwise the new issuer
 * is signed by the current root, whose key must be present
 * (CERTS_E_NO_ROOT_KEY). Files are replaced atomically.
 */
int certs_ca_rotate(const char *dir, bool new_root, const struct certs_ca_params *p) AD_MUST_CHECK;

/*
 * Load the issuer (certificate, key, chain to its root) from dir. seal_key is
 * required when the key is sealed (CERTS_E_SEAL_FORMAT when missing,
 * CERTS_E_SEAL when wrong). CERTS_E_NO_CA when dir holds no CA.
 */
int certs_ca_load(const char *dir, const uint8_t *seal_key, struct certs_ca **out) AD_MUST_CHECK;
/* Wipes the key. Accepts NULL. */
void certs_ca_free(struct certs_ca *ca);

/* The trust domain name, lower case. */
const char *certs_ca_td(const struct certs_ca *ca);
/* The issuer's validity, seconds since the epoch. */
int64_t certs_ca_not_after(const struct certs_ca *ca);
/* The issuer certificate (DER), borrowed. */
const uint8_t *certs_ca_issuer_der(const struct certs_ca *ca, size_t *len);

/* Largest DER certificate certs_ca_sign produces. */
#define CERTS_DER_MAX 2048

/*
 * Sign an X509-SVID for id over the public key spki (DER
 * SubjectPublicKeyInfo, P-256), valid from now - CERTS_BACKDATE for ttl
 * seconds but never past the issuer's notAfter. Writes the DER certificate
 * into der (CERTS_DER_MAX bytes) and its length into *der_len.
 * Returns 0, CERTS_E_TTL, CERTS_E_KEY, CERTS_E_CA_EXPIRED, CERTS_E_FOREIGN_TD,
 * CERTS_E_ID_*, CERTS_E_CRYPTO.
 */
int certs_ca_sign(struct certs_ca *ca, const struct spiffe_id *id, const uint8_t *spki,
    size_t spki_len, uint32_t ttl, int64_t now, uint8_t der[static CERTS_DER_MAX],
    size_t *der_len) AD_MUST_CHECK;

#endif
