/*
 * Internals shared between the certs library's files; not for other modules.
 */
#ifndef AUTHD_CERTS_CERTS_INT_H
#define AUTHD_CERTS_CERTS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "common/util.h"
#include "certs/spiffe.h"

/* Seconds since the epoch for an mbedTLS X.509 time (UTC). */
int64_t certs__time_from_x509(const mbedtls_x509_time *t);

/* Generate a P-256 key into an initialised, empty pk. */
int certs__key_new(mbedtls_pk_context *pk) AD_MUST_CHECK;

/*
 * The URI SANs of crt: the number of them, and the first one's bytes
 * (not NUL-terminated) in *uri / *uri_len when there is at least one.
 */
size_t certs__uri_sans(const mbedtls_x509_crt *crt, const unsigned char **uri, size_t *uri_len);

/* Whether crt is self-signed: issuer name equals subject and its own key verifies it. */
int certs__self_signed(const mbedtls_x509_crt *crt);

/* Map an mbedTLS error from parsing a certificate or key. */
int certs__parse_err(int mbedtls_err);

/* Read a PEM/DER private key file (possibly sealed) into pk. */
int certs__key_load(const char *path, const uint8_t *seal_key, mbedtls_pk_context *pk) AD_MUST_CHECK;

/* The chain's certificates as concatenated PEM in a new NUL-terminated buffer. */
int certs__chain_pem(const mbedtls_x509_crt *chain, char **out, size_t *outlen) AD_MUST_CHECK;

/* Whether data holds a PEM block ("-----BEGIN" anywhere in it). */
int certs__is_pem(const uint8_t *data, size_t len);

/*
 * How many certificate PEM blocks data begins. mbedTLS stops quietly at a
 * BEGIN line with no END line, so callers compare this with what it parsed
 * to catch a truncated last certificate.
 */
size_t certs__pem_cert_blocks(const uint8_t *data, size_t len);

/*
 * Append one or more concatenated DER certificates to chain. Returns 0,
 * CERTS_E_PEM (not DER certificates, or none), CERTS_E_NOMEM, or
 * CERTS_E_CHAIN_TOO_LONG when there are more than max.
 */
int certs__parse_der_chain(mbedtls_x509_crt *chain, const uint8_t *data, size_t len,
    size_t max) AD_MUST_CHECK;

#endif
