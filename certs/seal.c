/*
 * seal.c: the issuer key at rest, encrypted and authenticated with a seal
 * key (libsodium XChaCha20-Poly1305 IETF). The 24-byte random nonce makes
 * reusing a seal key for many files safe.
 */
#include "certs/seal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "certs/error.h"

static const uint8_t seal_magic[] = { 'A', 'U', 'T', 'H', 'D', 'S', 'E', 'A', 'L', '1' };
#define SEAL_MAGIC_LEN sizeof(seal_magic)
#define SEAL_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
/* Base64 of 32 bytes is 44 characters. */
#define SEAL_KEY_B64_LEN 44
#define SEAL_PLAIN_MAX (64 * 1024)

int
certs_seal_keygen(const char *path)
{
	uint8_t key[CERTS_SEAL_KEY_LEN];
	char b64[SEAL_KEY_B64_LEN + 2];
	size_t len;
	int err;

	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	len = strlen(b64);
	b64[len++] = '\n';
	err = util_write_file_new(path, b64, len, 0600);
	util_wipe(key, sizeof(key));
	util_wipe(b64, sizeof(b64));
	return err;
}

int
certs_seal_key_read(const char *path, uint8_t key[static CERTS_SEAL_KEY_LEN])
{
	uint8_t *data = NULL;
	size_t len = 0, got = 0;
	int err;

	err = util_read_file(path, 256, &data, &len);
	if (err == -EFBIG)
		return CERTS_E_SEAL_FORMAT;
	if (err != 0)
		return err;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len != SEAL_KEY_B64_LEN ||
	    sodium_base642bin(key, CERTS_SEAL_KEY_LEN, (const char *)data, len, NULL, &got, NULL,
		sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != CERTS_SEAL_KEY_LEN) {
		util_wipe(key, CERTS_SEAL_KEY_LEN);
		err = CERTS_E_SEAL_FORMAT;
	}
	util_free_wiped(data, len);
	return err;
}

int
certs_is_sealed(const uint8_t *data, size_t len)
{
	return len >= SEAL_MAGIC_LEN && memcmp(data, seal_magic, SEAL_MAGIC_LEN) == 0;
}

int
certs_seal(const uint8_t key[static CERTS_SEAL_KEY_LEN], const uint8_t *plain, size_t len,
    uint8_t **out, size_t *outlen)
{
	size_t total = SEAL_MAGIC_LEN + SEAL_NONCE_LEN + len + SEAL_TAG_LEN;
	unsigned long long clen = 0;
	uint8_t *buf, *nonce;

	*out = NULL;
	*outlen = 0;
	if (len > SEAL_PLAIN_MAX)
		return CERTS_E_TOO_BIG;
	buf = malloc(total);
	if (buf == NULL)
		return CERTS_E_NOMEM;
	memcpy(buf, seal_magic, SEAL_MAGIC_LEN);
	nonce = buf + SEAL_MAGIC_LEN;
	randombytes_buf(nonce, SEAL_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + SEAL_NONCE_LEN, &clen, plain, len,
	    seal_magic, SEAL_MAGIC_LEN, NULL, nonce, key);
	*out = buf;
	*outlen = SEAL_MAGIC_LEN + SEAL_NONCE_LEN + (size_t)clen;
	return 0;
}

int
certs_unseal(const uint8_t key[static CERTS_SEAL_KEY_LEN], const uint8_t *sealed, size_t len,
    uint8_t **out, size_t *outlen)
{
	const uint8_t *nonce, *ct;
	unsigned long long plen = 0;
	size_t ctlen;
	uint8_t *buf;

	*out = NULL;
	*outlen = 0;
	if (!certs_is_sealed(sealed, len) ||
	    len < SEAL_MAGIC_LEN + SEAL_NONCE_LEN + SEAL_TAG_LEN ||
	    len > SEAL_MAGIC_LEN + SEAL_NONCE_LEN + SEAL_TAG_LEN + SEAL_PLAIN_MAX)
		return CERTS_E_SEAL_FORMAT;
	nonce = sealed + SEAL_MAGIC_LEN;
	ct = nonce + SEAL_NONCE_LEN;
	ctlen = len - SEAL_MAGIC_LEN - SEAL_NONCE_LEN;
	buf = malloc(ctlen - SEAL_TAG_LEN + 1);
	if (buf == NULL)
		return CERTS_E_NOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &plen, NULL, ct, ctlen, seal_magic,
		SEAL_MAGIC_LEN, nonce, key) != 0) {
		util_free_wiped(buf, ctlen - SEAL_TAG_LEN + 1);
		return CERTS_E_SEAL;
	}
	buf[plen] = '\0';
	*out = buf;
	*outlen = (size_t)plen;
	return 0;
}
