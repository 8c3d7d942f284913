/*
 * Process-wide crypto set-up. Call certs_crypto_init() once at program start,
 * before any other certs_* function and before starting threads.
 */
#ifndef AUTHD_CERTS_CRYPTO_H
#define AUTHD_CERTS_CRYPTO_H

#include "common/util.h"

/* Initialise libsodium and PSA Crypto. Returns 0 or CERTS_E_CRYPTO. */
int certs_crypto_init(void) AD_MUST_CHECK;

/*
 * An mbedTLS f_rng backed by libsodium's CSPRNG (the kernel's getrandom).
 * ctx is unused. Always returns 0.
 */
int certs_rng(void *ctx, unsigned char *out, size_t len);

#endif
