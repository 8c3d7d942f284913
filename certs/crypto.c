/*
 * crypto.c: one source of randomness for every mbedTLS operation
 * (libsodium's, which reads the kernel's CSPRNG), and PSA initialisation,
 * which TLS 1.3 in mbedTLS 3.6 requires.
 */
#include "certs/crypto.h"

#include <psa/crypto.h>
#include <sodium.h>

#include "certs/error.h"

int
certs_crypto_init(void)
{
	if (sodium_init() < 0)
		return CERTS_E_CRYPTO;
	if (psa_crypto_init() != PSA_SUCCESS)
		return CERTS_E_CRYPTO;
	return 0;
}

int
certs_rng(void *ctx, unsigned char *out, size_t len)
{
	(void)ctx;
	randombytes_buf(out, len);
	return 0;
}
