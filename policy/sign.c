/*
 * sign.c: Ed25519 detached signatures over a policy set's canonical text,
 * for policy distributed as a signed bundle. Keys are base64 text files.
 * libsodium's secret key is seed || public key; a loaded secret key is
 * checked against its seed, so a damaged file fails as POLICY_E_KEY
 * instead of producing signatures nobody can verify.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "certs/error.h"
#include "policy/policy.h"

#define PK_LEN crypto_sign_ed25519_PUBLICKEYBYTES
_Static_assert(PK_LEN == POLICY_PUBKEY_LEN, "policy.h names the key length");
_Static_assert(sodium_base64_ENCODED_LEN(PK_LEN, sodium_base64_VARIANT_ORIGINAL) == POLICY_PUBKEY_B64_LEN + 1,
    "and its base64 length");
#define SK_LEN crypto_sign_ed25519_SECRETKEYBYTES
#define SIG_LEN crypto_sign_ed25519_BYTES
#define KEY_FILE_MAX 1024
#define B64 sodium_base64_VARIANT_ORIGINAL

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Decode base64 text (surrounding whitespace ignored) of exactly outlen bytes. */
static int
decode_exact(const char *s, size_t len, uint8_t *out, size_t outlen)
{
	const char *end = NULL;
	size_t n = 0;

	while (len > 0 && is_ws(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_ws(s[len - 1]))
		len--;
	if (len != sodium_base64_ENCODED_LEN(outlen, B64) - 1)
		return -1;
	if (sodium_base642bin(out, outlen, s, len, NULL, &n, &end, B64) != 0 || n != outlen ||
	    end != s + len) {
		sodium_memzero(out, outlen);
		return -1;
	}
	return 0;
}

static int
read_key(const char *path, uint8_t *key, size_t keylen)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	if (path == NULL)
		return POLICY_E_INVAL;
	err = util_read_file(path, KEY_FILE_MAX, &data, &len);
	if (err == -EFBIG)
		return POLICY_E_KEY;
	if (err != 0)
		return err;
	err = decode_exact((const char *)data, len, key, keylen) == 0 ? 0 : POLICY_E_KEY;
	util_free_wiped(data, len);
	return err;
}

int
policy_sign_keygen(const char *secret_path, const char *public_path)
{
	uint8_t pk[PK_LEN], sk[SK_LEN];
	char skb[sodium_base64_ENCODED_LEN(SK_LEN, B64)];
	char pkb[sodium_base64_ENCODED_LEN(PK_LEN, B64)];
	int err;

	if (secret_path == NULL || public_path == NULL)
		return POLICY_E_INVAL;
	if (sodium_init() < 0)
		return CERTS_E_CRYPTO;
	crypto_sign_ed25519_keypair(pk, sk);
	sodium_bin2base64(skb, sizeof(skb), sk, sizeof(sk), B64);
	sodium_bin2base64(pkb, sizeof(pkb), pk, sizeof(pk), B64);
	/* Each text ends in a newline where its NUL was. */
	skb[sizeof(skb) - 1] = '\n';
	pkb[sizeof(pkb) - 1] = '\n';
	err = util_write_file_new(secret_path, skb, sizeof(skb), 0600);
	if (err != 0)
		goto out;
	err = util_write_file_new(public_path, pkb, sizeof(pkb), 0644);
	/* Half a key pair is no use, and the secret half is a liability. */
	if (err != 0)
		(void)unlink(secret_path);
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(skb, sizeof(skb));
	return err;
}

int
policy_sign(const char *secret_path, const uint8_t *msg, size_t len,
    char sig[static POLICY_SIG_B64_LEN + 1])
{
	uint8_t sk[SK_LEN], check_pk[PK_LEN], check_sk[SK_LEN], bin[SIG_LEN];
	int err;

	if (msg == NULL && len > 0)
		return POLICY_E_INVAL;
	sig[0] = '\0';
	if (sodium_init() < 0)
		return CERTS_E_CRYPTO;
	err = read_key(secret_path, sk, sizeof(sk));
	if (err != 0)
		goto out;
	/* The public half stored in the secret key must be the seed's. */
	if (crypto_sign_ed25519_seed_keypair(check_pk, check_sk, sk) != 0 ||
	    sodium_memcmp(check_sk, sk, sizeof(sk)) != 0) {
		err = POLICY_E_KEY;
		goto out;
	}
	if (crypto_sign_ed25519_detached(bin, NULL, msg != NULL ? msg : (const uint8_t *)"", len,
	    sk) != 0) {
		err = CERTS_E_CRYPTO;
		goto out;
	}
	sodium_bin2base64(sig, POLICY_SIG_B64_LEN + 1, bin, sizeof(bin), B64);
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(check_sk, sizeof(check_sk));
	return err;
}

int
policy_verify_key(const uint8_t pub[static POLICY_PUBKEY_LEN], const uint8_t *msg, size_t len,
    const char *sig, size_t siglen)
{
	uint8_t bin[SIG_LEN];

	if ((msg == NULL && len > 0) || (sig == NULL && siglen > 0))
		return POLICY_E_INVAL;
	if (sodium_init() < 0)
		return CERTS_E_CRYPTO;
	if (sig == NULL || decode_exact(sig, siglen, bin, sizeof(bin)) != 0)
		return POLICY_E_SIGNATURE;
	if (crypto_sign_ed25519_verify_detached(bin, msg != NULL ? msg : (const uint8_t *)"", len,
	    pub) != 0)
		return POLICY_E_SIGNATURE;
	return 0;
}

int
policy_verify(const char *public_path, const uint8_t *msg, size_t len, const char *sig,
    size_t siglen)
{
	uint8_t pk[PK_LEN];
	int err;

	if ((msg == NULL && len > 0) || (sig == NULL && siglen > 0))
		return POLICY_E_INVAL;
	if (sodium_init() < 0)
		return CERTS_E_CRYPTO;
	err = read_key(public_path, pk, sizeof(pk));
	if (err != 0)
		return err;
	return policy_verify_key(pk, msg, len, sig, siglen);
}

int
policy_pubkey_read(const char *path, uint8_t pub[static POLICY_PUBKEY_LEN])
{
	if (sodium_init() < 0)
		return CERTS_E_CRYPTO;
	return read_key(path, pub, PK_LEN);
}

int
policy_pubkey_of(const char *secret_path, uint8_t pub[static POLICY_PUBKEY_LEN])
{
	uint8_t sk[SK_LEN];
	int err;

	if (sodium_init() < 0)
		return CERTS_E_CRYPTO;
	err = read_key(secret_path, sk, sizeof(sk));
	if (err == 0 && crypto_sign_ed25519_sk_to_pk(pub, sk) != 0)
		err = POLICY_E_KEY;
	sodium_memzero(sk, sizeof(sk));
	return err;
}

void
policy_pubkey_format(const uint8_t pub[static POLICY_PUBKEY_LEN],
    char out[static POLICY_PUBKEY_B64_LEN + 1])
{
	sodium_bin2base64(out, POLICY_PUBKEY_B64_LEN + 1, pub, POLICY_PUBKEY_LEN, B64);
}
