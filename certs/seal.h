/*
 * Sealing the issuer key at rest with libsodium's XChaCha20-Poly1305 (IETF
 * AEAD). A seal key is 32 random bytes kept in a file as base64 (e.g. a
 * Kubernetes Secret). A sealed file is "AUTHDSEAL1" || 24-byte nonce ||
 * ciphertext || 16-byte tag; the magic is authenticated as associated data.
 */
#ifndef AUTHD_CERTS_SEAL_H
#define AUTHD_CERTS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define CERTS_SEAL_KEY_LEN 32

/* Create a new random seal key file (base64, mode 0600). Fails if it exists. */
int certs_seal_keygen(const char *path) AD_MUST_CHECK;

/*
 * Read a seal key file: base64 of 32 bytes with an optional trailing newline.
 * Returns 0, -errno, or CERTS_E_SEAL_FORMAT.
 */
int certs_seal_key_read(const char *path, uint8_t key[static CERTS_SEAL_KEY_LEN]) AD_MUST_CHECK;

/* Whether data starts like a sealed file. */
int certs_is_sealed(const uint8_t *data, size_t len);

/* Seal plain into a new buffer *out (caller frees). Returns 0 or CERTS_E_*. */
int certs_seal(const uint8_t key[static CERTS_SEAL_KEY_LEN], const uint8_t *plain, size_t len,
    uint8_t **out, size_t *outlen) AD_MUST_CHECK;

/*
 * Open a sealed buffer into a new buffer *out, NUL-terminated, that the caller
 * frees with util_free_wiped(*out, *outlen + 1). Returns 0, CERTS_E_SEAL_FORMAT
 * (not a sealed file) or CERTS_E_SEAL (wrong key, or the file was altered).
 */
int certs_unseal(const uint8_t key[static CERTS_SEAL_KEY_LEN], const uint8_t *sealed, size_t len,
    uint8_t **out, size_t *outlen) AD_MUST_CHECK;

#endif
