/*
 * A trust bundle: the set of trust anchors (self-signed root CA
 * certificates) a node accepts for its trust domain. During a root rotation
 * it holds the old and the new root.
 */
#ifndef AUTHD_CERTS_BUNDLE_H
#define AUTHD_CERTS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "certs/info.h"

struct certs_bundle;
struct mbedtls_x509_crt;

/* Largest bundle file accepted, and most anchors in one bundle. */
#define CERTS_BUNDLE_MAX_BYTES (1024 * 1024)
#define CERTS_BUNDLE_MAX_ANCHORS 64

/*
 * Parse PEM (one or more CERTIFICATE blocks) or concatenated DER
 * certificates. Every certificate must be a self-signed CA certificate, none
 * twice, and a PEM block cut short is an error. Returns 0, CERTS_E_PEM,
 * CERTS_E_BUNDLE_NOT_ANCHOR, CERTS_E_BUNDLE_DUP, CERTS_E_TOO_BIG, CERTS_E_NOMEM.
 */
int certs_bundle_parse(const uint8_t *data, size_t len, struct certs_bundle **out) AD_MUST_CHECK;
/* Read and parse a bundle file; -errno for I/O errors. */
int certs_bundle_load(const char *path, struct certs_bundle **out) AD_MUST_CHECK;
/* Accepts NULL. */
void certs_bundle_free(struct certs_bundle *b);

size_t certs_bundle_count(const struct certs_bundle *b);
/* Facts about anchor i (0 <= i < count). */
int certs_bundle_info(const struct certs_bundle *b, size_t i, struct certs_info *info) AD_MUST_CHECK;
/* The anchors as an mbedTLS chain, borrowed for the bundle's lifetime. */
const struct mbedtls_x509_crt *certs_bundle_peek_chain(const struct certs_bundle *b);

/*
 * Add the anchors in data (PEM or DER) to b. CERTS_E_BUNDLE_DUP if one is
 * already there; b is unchanged on any error.
 */
int certs_bundle_add(struct certs_bundle *b, const uint8_t *data, size_t len) AD_MUST_CHECK;
/*
 * Remove the anchor whose SHA-256 fingerprint starts with the given hex
 * prefix (at least 8 digits, unambiguous). CERTS_E_NOT_FOUND,
 * CERTS_E_INVAL (prefix too short or ambiguous), CERTS_E_BUNDLE_LAST.
 * b is unchanged on any error.
 */
int certs_bundle_remove(struct certs_bundle *b, const char *fingerprint_prefix) AD_MUST_CHECK;
/* The bundle as concatenated PEM, in a new NUL-terminated buffer. */
int certs_bundle_write_pem(const struct certs_bundle *b, char **out, size_t *outlen) AD_MUST_CHECK;

#endif
