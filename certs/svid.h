/*
 * A workload's X509-SVID: a fresh P-256 key that lives only in memory and
 * the certificate the issuer signed for it, plus the issuer certificate so
 * the pair can be presented as a chain.
 */
#ifndef AUTHD_CERTS_SVID_H
#define AUTHD_CERTS_SVID_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "certs/spiffe.h"

struct certs_ca;
struct certs_svid;
struct mbedtls_pk_context;
struct mbedtls_x509_crt;

/*
 * Generate a key and have ca sign an SVID for id (see certs_ca_sign).
 * ttl 0 means CERTS_SVID_TTL_DEFAULT.
 */
int certs_svid_new(struct certs_ca *ca, const struct spiffe_id *id, uint32_t ttl, int64_t now,
    struct certs_svid **out) AD_MUST_CHECK;
/* Wipes the key. Accepts NULL. */
void certs_svid_free(struct certs_svid *svid);

const struct spiffe_id *certs_svid_id(const struct certs_svid *svid);
int64_t certs_svid_not_before(const struct certs_svid *svid);
int64_t certs_svid_not_after(const struct certs_svid *svid);
/* Lower-case hex serial number, NUL-terminated, borrowed. */
const char *certs_svid_serial(const struct certs_svid *svid);

/* Leaf then issuer, parsed, for mbedtls_ssl_conf_own_cert; borrowed. */
struct mbedtls_x509_crt *certs_svid_peek_chain(struct certs_svid *svid);
/* The private key, for mbedtls_ssl_conf_own_cert; borrowed. */
struct mbedtls_pk_context *certs_svid_peek_key(struct certs_svid *svid);

/*
 * PEM of the chain (leaf then issuer) and of the key (SEC 1 "EC PRIVATE
 * KEY", which OpenSSL, curl and mbedTLS read), in new
 * NUL-terminated buffers. Free the key with util_free_wiped(key, key_len).
 */
int certs_svid_write_pem(const struct certs_svid *svid, char **chain, size_t *chain_len,
    char **key, size_t *key_len) AD_MUST_CHECK;

#endif
