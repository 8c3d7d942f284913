/*
 * Unit tests for certs/seal.c: the issuer key sealed at rest, and the seal
 * key file format.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/seal.h"
#include "tests/unit/test.h"

/* "AUTHDSEAL1" || 24-byte nonce || ciphertext || 16-byte tag. */
#define OVERHEAD (10 + 24 + 16)

static const char plain_text[] =
    "-----BEGIN EC PRIVATE KEY-----\nnot really a key, but secret all the same\n"
    "-----END EC PRIVATE KEY-----\n";

static uint8_t key_a[CERTS_SEAL_KEY_LEN];
static uint8_t key_b[CERTS_SEAL_KEY_LEN];

/* A per-test scratch directory under /tmp. */
struct scratch {
	char dir[64];
};

static int
setup(struct scratch *s)
{
	if (certs_crypto_init() != 0)
		return -1;
	for (size_t i = 0; i < CERTS_SEAL_KEY_LEN; i++) {
		key_a[i] = (uint8_t)i;
		key_b[i] = (uint8_t)(i + 1);
	}
	if (s == NULL)
		return 0;
	snprintf(s->dir, sizeof(s->dir), "/tmp/authd-seal-XXXXXX");
	return mkdtemp(s->dir) != NULL ? 0 : -1;
}

static void
teardown(struct scratch *s)
{
	if (test_rm_tree(s->dir) != 0)
		fprintf(stderr, "  cannot remove %s\n", s->dir);
}

static void
path_in(const struct scratch *s, const char *name, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s/%s", s->dir, name);
}

static int
write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Sealing then unsealing with the same key gives back the exact bytes. */
TEST(round_trip)
{
	uint8_t *sealed = NULL, *plain = NULL, *sealed2 = NULL;
	size_t sealed_len = 0, plain_len = 0, sealed2_len = 0;
	size_t len = strlen(plain_text);

	REQUIRE(setup(NULL) == 0);
	EXPECT_OK(certs_seal(key_a, (const uint8_t *)plain_text, len, &sealed, &sealed_len));
	REQUIRE(sealed != NULL);
	EXPECT_EQ(sealed_len, len + OVERHEAD);
	EXPECT(certs_is_sealed(sealed, sealed_len));
	EXPECT(memmem(sealed, sealed_len, "PRIVATE KEY", 11) == NULL);
	EXPECT_OK(certs_unseal(key_a, sealed, sealed_len, &plain, &plain_len));
	REQUIRE(plain != NULL);
	EXPECT_EQ(plain_len, len);
	EXPECT(memcmp(plain, plain_text, len) == 0);
	EXPECT_EQ(plain[plain_len], '\0');

	/* A fresh nonce each time: sealing twice never gives the same bytes. */
	EXPECT_OK(certs_seal(key_a, (const uint8_t *)plain_text, len, &sealed2, &sealed2_len));
	EXPECT(sealed2 != NULL && sealed2_len == sealed_len &&
	    memcmp(sealed, sealed2, sealed_len) != 0);

	util_free_wiped(plain, plain_len + 1);
	free(sealed);
	free(sealed2);
}

/* An empty plaintext seals and opens too (no off-by-one at the bounds). */
TEST(round_trip_empty)
{
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len = 0, plain_len = 99;

	REQUIRE(setup(NULL) == 0);
	EXPECT_OK(certs_seal(key_a, (const uint8_t *)"", 0, &sealed, &sealed_len));
	EXPECT_EQ(sealed_len, OVERHEAD);
	EXPECT_OK(certs_unseal(key_a, sealed, sealed_len, &plain, &plain_len));
	EXPECT_EQ(plain_len, 0);
	EXPECT(plain != NULL && plain[0] == '\0');
	util_free_wiped(plain, plain_len + 1);
	free(sealed);
}

/* Any single altered byte (magic, nonce, ciphertext or tag) makes opening fail. */
TEST(every_byte_authenticated)
{
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len = 0, plain_len = 0;

	REQUIRE(setup(NULL) == 0);
	REQUIRE(certs_seal(key_a, (const uint8_t *)plain_text, strlen(plain_text), &sealed,
		    &sealed_len) == 0);
	for (size_t i = 0; i < sealed_len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 7) {
			int err;

			sealed[i] ^= (uint8_t)(1u << bit);
			err = certs_unseal(key_a, sealed, sealed_len, &plain, &plain_len);
			sealed[i] ^= (uint8_t)(1u << bit);
			if (err != CERTS_E_SEAL && err != CERTS_E_SEAL_FORMAT)
				TEST__FAIL("flipping bit %u of byte %zu: unseal returned %d", bit,
				    i, err);
			/* The magic is a format check; everything after it is the AEAD's. */
			if (i >= 10 && err != CERTS_E_SEAL)
				TEST__FAIL("byte %zu: %d, expected CERTS_E_SEAL", i, err);
			if (plain != NULL || plain_len != 0) {
				TEST__FAIL("byte %zu: output not cleared on failure", i);
				util_free_wiped(plain, plain_len + 1);
				plain = NULL;
			}
		}
	}
	/* Untouched, it still opens. */
	EXPECT_OK(certs_unseal(key_a, sealed, sealed_len, &plain, &plain_len));
	util_free_wiped(plain, plain_len + 1);
	free(sealed);
}

/* Another key does not open it, and says so as CERTS_E_SEAL. */
TEST(wrong_key)
{
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len = 0, plain_len = 0;

	REQUIRE(setup(NULL) == 0);
	REQUIRE(certs_seal(key_a, (const uint8_t *)plain_text, strlen(plain_text), &sealed,
		    &sealed_len) == 0);
	EXPECT_ERR(certs_unseal(key_b, sealed, sealed_len, &plain, &plain_len), CERTS_E_SEAL);
	EXPECT(plain == NULL);
	free(sealed);
}

/* Every truncation fails: short of the header it is not a sealed file, past it the tag breaks. */
TEST(truncated)
{
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len = 0, plain_len = 0;

	REQUIRE(setup(NULL) == 0);
	REQUIRE(certs_seal(key_a, (const uint8_t *)plain_text, strlen(plain_text), &sealed,
		    &sealed_len) == 0);
	for (size_t n = 0; n < sealed_len; n++) {
		/* An exact-size copy, so ASan sees any read past n. */
		uint8_t *cut = malloc(n ? n : 1);
		int err;

		REQUIRE(cut != NULL);
		memcpy(cut, sealed, n);
		err = certs_unseal(key_a, cut, n, &plain, &plain_len);
		if (n < OVERHEAD ? err != CERTS_E_SEAL_FORMAT : err != CERTS_E_SEAL)
			TEST__FAIL("truncated to %zu bytes: unseal returned %d", n, err);
		free(cut);
		if (err == 0)
			util_free_wiped(plain, plain_len + 1);
	}
	/* Bytes appended are refused as well. */
	{
		uint8_t *longer = malloc(sealed_len + 1);

		REQUIRE(longer != NULL);
		memcpy(longer, sealed, sealed_len);
		longer[sealed_len] = 0;
		EXPECT_ERR(certs_unseal(key_a, longer, sealed_len + 1, &plain, &plain_len),
		    CERTS_E_SEAL);
		free(longer);
	}
	free(sealed);
}

/* A plaintext over the 64 KiB bound is refused before anything is allocated. */
TEST(too_big)
{
	static uint8_t big[64 * 1024 + 1];
	uint8_t *sealed = (uint8_t *)1;
	size_t sealed_len = 1;

	REQUIRE(setup(NULL) == 0);
	EXPECT_ERR(certs_seal(key_a, big, sizeof(big), &sealed, &sealed_len), CERTS_E_TOO_BIG);
	EXPECT(sealed == NULL && sealed_len == 0);
	EXPECT_OK(certs_seal(key_a, big, sizeof(big) - 1, &sealed, &sealed_len));
	free(sealed);
}

/* keygen writes a 0600 key file that key_read accepts and refuses to overwrite it. */
TEST(keygen)
{
	struct scratch s;
	char path[PATH_MAX];
	uint8_t k1[CERTS_SEAL_KEY_LEN], k2[CERTS_SEAL_KEY_LEN], zero[CERTS_SEAL_KEY_LEN] = { 0 };
	uint8_t *sealed = NULL, *plain = NULL;
	size_t sealed_len = 0, plain_len = 0;
	struct stat st;

	REQUIRE(setup(&s) == 0);
	path_in(&s, "seal.key", path);
	EXPECT_OK(certs_seal_keygen(path));
	EXPECT(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	EXPECT(st.st_size == 45);	/* 44 base64 characters and a newline */
	EXPECT_OK(certs_seal_key_read(path, k1));
	EXPECT(memcmp(k1, zero, sizeof(k1)) != 0);
	EXPECT_OK(certs_seal_key_read(path, k2));
	EXPECT(memcmp(k1, k2, sizeof(k1)) == 0);

	/* The key read back is the one that seals and opens. */
	EXPECT_OK(certs_seal(k1, (const uint8_t *)"x", 1, &sealed, &sealed_len));
	EXPECT_OK(certs_unseal(k2, sealed, sealed_len, &plain, &plain_len));
	util_free_wiped(plain, plain_len + 1);
	free(sealed);

	/* No overwrite: the existing key survives. */
	EXPECT_ERR(certs_seal_keygen(path), -EEXIST);
	EXPECT_OK(certs_seal_key_read(path, k2));
	EXPECT(memcmp(k1, k2, sizeof(k1)) == 0);

	/* Two keygens give two different keys. */
	path_in(&s, "seal2.key", path);
	EXPECT_OK(certs_seal_keygen(path));
	EXPECT_OK(certs_seal_key_read(path, k2));
	EXPECT(memcmp(k1, k2, sizeof(k1)) != 0);

	/* A missing file is -ENOENT, not a format error. */
	path_in(&s, "missing.key", path);
	EXPECT_ERR(certs_seal_key_read(path, k2), -ENOENT);
	teardown(&s);
}

struct keyfile_case {
	const char *what;
	const char *data;
	size_t len;
	int err;
};

/* base64 of the bytes 0x00..0x1f. */
#define B64_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const struct keyfile_case keyfile_cases[] = {
	{ "canonical", B64_KEY, 44, 0 },
	{ "trailing newline", B64_KEY "\n", 45, 0 },
	{ "trailing CRLF", B64_KEY "\r\n", 46, 0 },
	{ "43 characters", B64_KEY, 43, CERTS_E_SEAL_FORMAT },
	{ "45 characters", B64_KEY "A", 45, CERTS_E_SEAL_FORMAT },
	{ "44 characters, 33 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", 44,
	    CERTS_E_SEAL_FORMAT },
	{ "non-base64", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd!h8=", 44,
	    CERTS_E_SEAL_FORMAT },
	{ "URL-safe alphabet", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h8=", 44,
	    CERTS_E_SEAL_FORMAT },
	{ "leading space", " " B64_KEY, 45, CERTS_E_SEAL_FORMAT },
	{ "raw 32 bytes",
	    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0b\x0c\x0d\x0e\x0f\x10"
	    "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20",
	    32, CERTS_E_SEAL_FORMAT },
	{ "empty", "", 0, CERTS_E_SEAL_FORMAT },
	{ "newline only", "\n", 1, CERTS_E_SEAL_FORMAT },
};

/* Only base64 of exactly 32 bytes, with at most a trailing newline, is a seal key. */
TEST(key_file_format)
{
	struct scratch s;
	char path[PATH_MAX];
	uint8_t key[CERTS_SEAL_KEY_LEN];
	static char big[300];

	REQUIRE(setup(&s) == 0);
	path_in(&s, "k", path);
	for (size_t i = 0; i < AD_ARRAY_LEN(keyfile_cases); i++) {
		const struct keyfile_case *c = &keyfile_cases[i];
		int err;

		unlink(path);
		REQUIRE(write_bytes(path, c->data, c->len) == 0);
		memset(key, 0xee, sizeof(key));
		err = certs_seal_key_read(path, key);
		if (err != c->err) {
			TEST__FAIL("%s: key_read returned %d, expected %d", c->what, err, c->err);
			continue;
		}
		if (err == 0) {
			for (size_t j = 0; j < sizeof(key); j++)
				if (key[j] != j)
					TEST__FAIL("%s: key byte %zu is %u", c->what, j, key[j]);
		}
	}

	/* A file far too large for a key is a format error, not an I/O error. */
	memset(big, 'A', sizeof(big));
	unlink(path);
	REQUIRE(write_bytes(path, big, sizeof(big)) == 0);
	EXPECT_ERR(certs_seal_key_read(path, key), CERTS_E_SEAL_FORMAT);
	teardown(&s);
}

TEST_MAIN(round_trip, round_trip_empty, every_byte_authenticated, wrong_key, truncated, too_big,
    keygen, key_file_format)
