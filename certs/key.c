/*
 * key.c: P-256 private keys: generating them in memory and loading the CA's
 * from disk (plain PEM/DER, or sealed with seal.h).
 */
#include <errno.h>
#include <string.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>

#include "certs/certs_int.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/seal.h"

/* A key file larger than this is not a P-256 key. */
#define KEY_FILE_MAX (16 * 1024)

int
certs__key_new(mbedtls_pk_context *pk)
{
	if (mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0)
		return CERTS_E_NOMEM;
	if (mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk), certs_rng, NULL) != 0)
		return CERTS_E_CRYPTO;
	return 0;
}

static int
key_is_p256(const mbedtls_pk_context *pk)
{
	return mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY &&
	    mbedtls_pk_ec(*pk)->MBEDTLS_PRIVATE(grp).id == MBEDTLS_ECP_DP_SECP256R1;
}

/* Parse PEM (NUL-terminated at data[len]) or DER. */
static int
key_parse(mbedtls_pk_context *pk, const uint8_t *data, size_t len)
{
	/* mbedtls_pk_parse_key recognises PEM only with the NUL counted. */
	if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0)
		len++;
	return mbedtls_pk_parse_key(pk, data, len, NULL, 0, certs_rng, NULL);
}

int
certs__key_load(const char *path, const uint8_t *seal_key, mbedtls_pk_context *pk)
{
	uint8_t *data = NULL, *plain = NULL;
	size_t len = 0, plen = 0;
	int err;

	err = util_read_file(path, KEY_FILE_MAX, &data, &len);
	if (err == -EFBIG)
		err = CERTS_E_KEY;
	if (err != 0)
		goto out;
	if (certs_is_sealed(data, len)) {
		if (seal_key == NULL) {
			err = CERTS_E_SEAL_FORMAT;
			goto out;
		}
		err = certs_unseal(seal_key, data, len, &plain, &plen);
		if (err != 0)
			goto out;
		err = key_parse(pk, plain, plen);
	} else {
		err = key_parse(pk, data, len);
	}
	if (err != 0 || !key_is_p256(pk)) {
		err = CERTS_E_KEY;
		goto out;
	}
	err = 0;
out:
	util_free_wiped(data, len + 1);
	util_free_wiped(plain, plen + 1);
	return err;
}
