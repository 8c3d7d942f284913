/*
 * Unit tests for policy/sign.c: key generation, signing and verifying
 * policy bundles, and refusal of tampered messages, wrong keys, malformed
 * key files and malformed signatures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/unit/test.h"

struct dir {
	char path[64];
	char sk[128];
	char pk[128];
};

static int
dir_new(struct dir *d)
{
	memcpy(d->path, "/tmp/authd-sign-XXXXXX", 23);
	if (mkdtemp(d->path) == NULL)
		return -1;
	(void)snprintf(d->sk, sizeof(d->sk), "%s/policy.key", d->path);
	(void)snprintf(d->pk, sizeof(d->pk), "%s/policy.pub", d->path);
	return 0;
}

static int
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int
read_text(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

static const uint8_t msg[] = "allow * spiffe://td/a all never \"\"\n";

TEST(round_trip)
{
	struct dir d;
	struct stat st;
	char sig[POLICY_SIG_B64_LEN + 1], text[256];

	REQUIRE(dir_new(&d) == 0);
	EXPECT_OK(policy_sign_keygen(d.sk, d.pk));
	/* The secret key is private whatever the umask; the public one readable. */
	EXPECT(stat(d.sk, &st) == 0 && (st.st_mode & 0777) == 0600);
	EXPECT(stat(d.pk, &st) == 0 && (st.st_mode & 0777) == 0644);
	/* Base64 text and a newline: 88 + 1 and 44 + 1 bytes. */
	EXPECT(read_text(d.sk, text, sizeof(text)) == 0 && strlen(text) == 89 && text[88] == '\n');
	EXPECT(read_text(d.pk, text, sizeof(text)) == 0 && strlen(text) == 45 && text[44] == '\n');

	memset(sig, 'x', sizeof(sig));
	EXPECT_OK(policy_sign(d.sk, msg, sizeof(msg) - 1, sig));
	EXPECT_EQ(strlen(sig), POLICY_SIG_B64_LEN);
	EXPECT_OK(policy_verify(d.pk, msg, sizeof(msg) - 1, sig, strlen(sig)));
	/* Ed25519 is deterministic. */
	{
		char again[POLICY_SIG_B64_LEN + 1];

		EXPECT_OK(policy_sign(d.sk, msg, sizeof(msg) - 1, again));
		EXPECT_STR(again, sig);
	}
	/* Whitespace around the signature is ignored (it comes from files). */
	(void)snprintf(text, sizeof(text), "  %s\n", sig);
	EXPECT_OK(policy_verify(d.pk, msg, sizeof(msg) - 1, text, strlen(text)));
	/* The empty message signs and verifies too. */
	EXPECT_OK(policy_sign(d.sk, NULL, 0, sig));
	EXPECT_OK(policy_verify(d.pk, NULL, 0, sig, strlen(sig)));
	EXPECT_OK(test_rm_tree(d.path));
}

TEST(tampering)
{
	struct dir d, other;
	char sig[POLICY_SIG_B64_LEN + 1], bad[POLICY_SIG_B64_LEN + 1];
	uint8_t m[sizeof(msg)];

	REQUIRE(dir_new(&d) == 0);
	REQUIRE(dir_new(&other) == 0);
	REQUIRE(policy_sign_keygen(d.sk, d.pk) == 0);
	REQUIRE(policy_sign_keygen(other.sk, other.pk) == 0);
	REQUIRE(policy_sign(d.sk, msg, sizeof(msg) - 1, sig) == 0);

	/* Any changed byte of the message. */
	for (size_t i = 0; i < sizeof(msg) - 1; i += 7) {
		memcpy(m, msg, sizeof(msg));
		m[i] ^= 1;
		EXPECT_ERR(policy_verify(d.pk, m, sizeof(msg) - 1, sig, strlen(sig)),
		    POLICY_E_SIGNATURE);
	}
	/* A truncated or extended message. */
	EXPECT_ERR(policy_verify(d.pk, msg, sizeof(msg) - 2, sig, strlen(sig)), POLICY_E_SIGNATURE);
	EXPECT_ERR(policy_verify(d.pk, msg, sizeof(msg), sig, strlen(sig)), POLICY_E_SIGNATURE);
	/* The wrong public key. */
	EXPECT_ERR(policy_verify(other.pk, msg, sizeof(msg) - 1, sig, strlen(sig)),
	    POLICY_E_SIGNATURE);
	/* A changed signature, and malformed ones. */
	memcpy(bad, sig, sizeof(sig));
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	EXPECT_ERR(policy_verify(d.pk, msg, sizeof(msg) - 1, bad, strlen(bad)), POLICY_E_SIGNATURE);
	EXPECT_ERR(policy_verify(d.pk, msg, sizeof(msg) - 1, sig, strlen(sig) - 4),
	    POLICY_E_SIGNATURE);
	EXPECT_ERR(policy_verify(d.pk, msg, sizeof(msg) - 1, "", 0), POLICY_E_SIGNATURE);
	EXPECT_ERR(policy_verify(d.pk, msg, sizeof(msg) - 1, NULL, 0), POLICY_E_SIGNATURE);
	memcpy(bad, sig, sizeof(sig));
	bad[20] = '!';
	EXPECT_ERR(policy_verify(d.pk, msg, sizeof(msg) - 1, bad, strlen(bad)), POLICY_E_SIGNATURE);
	/* A signature by the other key. */
	REQUIRE(policy_sign(other.sk, msg, sizeof(msg) - 1, bad) == 0);
	EXPECT_ERR(policy_verify(d.pk, msg, sizeof(msg) - 1, bad, strlen(bad)), POLICY_E_SIGNATURE);
	EXPECT_OK(test_rm_tree(d.path));
	EXPECT_OK(test_rm_tree(other.path));
}

TEST(keygen_refuses_overwrite)
{
	struct dir d;
	char before[256], after[256];

	REQUIRE(dir_new(&d) == 0);
	REQUIRE(policy_sign_keygen(d.sk, d.pk) == 0);
	REQUIRE(read_text(d.sk, before, sizeof(before)) == 0);
	EXPECT_ERR(policy_sign_keygen(d.sk, d.pk), -EEXIST);
	EXPECT(read_text(d.sk, after, sizeof(after)) == 0 && strcmp(before, after) == 0);

	/* When the public file exists, no secret key is left behind. */
	EXPECT(unlink(d.sk) == 0);
	EXPECT_ERR(policy_sign_keygen(d.sk, d.pk), -EEXIST);
	EXPECT(access(d.sk, F_OK) != 0 && errno == ENOENT);
	/* The same path for both halves. */
	EXPECT(unlink(d.pk) == 0);
	EXPECT_ERR(policy_sign_keygen(d.sk, d.sk), -EEXIST);
	EXPECT(access(d.sk, F_OK) != 0);
	/* A directory that is not there. */
	EXPECT_ERR(policy_sign_keygen("/nonexistent-authd/k", "/nonexistent-authd/p"), -ENOENT);
	/* A symlink in place of the key is not followed. */
	EXPECT(symlink("/tmp/authd-sign-target-never", d.sk) == 0);
	EXPECT_ERR(policy_sign_keygen(d.sk, d.pk), -EEXIST);
	EXPECT(access("/tmp/authd-sign-target-never", F_OK) != 0);
	EXPECT_ERR(policy_sign_keygen(NULL, d.pk), POLICY_E_INVAL);
	EXPECT_OK(test_rm_tree(d.path));
}

TEST(malformed_keys)
{
	struct dir d;
	char sig[POLICY_SIG_B64_LEN + 1], path[160], text[256], big[2048];
	static const char *const bad_texts[] = {
		"",
		"\n",
		"not base64 at all\n",
		"AAAA\n",		/* 3 bytes */
		/* 32 zero bytes (the size of a public key) and 64 (of a secret one). */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",	/* no padding */
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_=\n",	/* URL-safe alphabet */
		"AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA=\n",	/* inner space */
	};

	REQUIRE(dir_new(&d) == 0);
	REQUIRE(policy_sign_keygen(d.sk, d.pk) == 0);
	REQUIRE(policy_sign(d.sk, msg, sizeof(msg) - 1, sig) == 0);
	(void)snprintf(path, sizeof(path), "%s/bad", d.path);

	for (size_t i = 0; i < AD_ARRAY_LEN(bad_texts); i++) {
		char s[POLICY_SIG_B64_LEN + 1];

		REQUIRE(write_text(path, bad_texts[i]) == 0);
		/*
		 * 32 zero bytes have a public key's size: that fails as a
		 * signature (a small-order point) rather than as a key. 64 zero
		 * bytes fail the seed check as a secret key.
		 */
		EXPECT_ERR(policy_sign(path, msg, sizeof(msg) - 1, s), POLICY_E_KEY);
		if (i == 4)
			EXPECT_ERR(policy_verify(path, msg, sizeof(msg) - 1, sig, strlen(sig)),
			    POLICY_E_SIGNATURE);
		else
			EXPECT_ERR(policy_verify(path, msg, sizeof(msg) - 1, sig, strlen(sig)),
			    POLICY_E_KEY);
	}
	/* The right sizes swapped: a secret key given as the public one, and back. */
	EXPECT_ERR(policy_verify(d.sk, msg, sizeof(msg) - 1, sig, strlen(sig)), POLICY_E_KEY);
	EXPECT_ERR(policy_sign(d.pk, msg, sizeof(msg) - 1, sig), POLICY_E_KEY);

	/* A secret key whose public half does not belong to its seed. */
	REQUIRE(read_text(d.sk, text, sizeof(text)) == 0);
	text[80] = text[80] == 'A' ? 'B' : 'A';
	REQUIRE(write_text(path, text) == 0);
	EXPECT_ERR(policy_sign(path, msg, sizeof(msg) - 1, sig), POLICY_E_KEY);

	/* Trailing garbage after the key, and a huge file. */
	REQUIRE(read_text(d.pk, text, sizeof(text)) == 0);
	text[44] = '\0';
	strcat(text, "AAAA\n");
	REQUIRE(write_text(path, text) == 0);
	EXPECT_ERR(policy_verify(path, msg, sizeof(msg) - 1, sig, strlen(sig)), POLICY_E_KEY);
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	REQUIRE(write_text(path, big) == 0);
	EXPECT_ERR(policy_verify(path, msg, sizeof(msg) - 1, sig, strlen(sig)), POLICY_E_KEY);

	/* Key files with CRLF or no newline are still keys. */
	REQUIRE(read_text(d.pk, text, sizeof(text)) == 0);
	text[44] = '\0';
	REQUIRE(write_text(path, text) == 0);
	REQUIRE(policy_sign(d.sk, msg, sizeof(msg) - 1, sig) == 0);
	EXPECT_OK(policy_verify(path, msg, sizeof(msg) - 1, sig, strlen(sig)));
	strcat(text, "\r\n");
	REQUIRE(write_text(path, text) == 0);
	EXPECT_OK(policy_verify(path, msg, sizeof(msg) - 1, sig, strlen(sig)));

	/* A missing file is an I/O error, not a malformed key. */
	(void)snprintf(path, sizeof(path), "%s/missing", d.path);
	EXPECT_ERR(policy_sign(path, msg, sizeof(msg) - 1, sig), -ENOENT);
	EXPECT_ERR(policy_verify(path, msg, sizeof(msg) - 1, sig, strlen(sig)), -ENOENT);
	EXPECT_OK(test_rm_tree(d.path));
}

TEST(canonical_signature)
{
	static const char a[] = "apiVersion: authd.io/v1\nkind: AllowList\nspec:\n  rules:\n"
	    "  - from: '*'\n    to: spiffe://td/a\n    ports: 443\n"
	    "  - from: spiffe://td/b\n    to: spiffe://td/a\n";
	static const char b[] = "{kind: AllowList, apiVersion: authd.io/v1, spec: {rules: ["
	    "{to: 'spiffe://td/a', from: 'spiffe://td/b'}, {from: '*', to: 'spiffe://td/a', "
	    "ports: '443'}]}}";
	static const char c[] = "{kind: AllowList, apiVersion: authd.io/v1, spec: {rules: ["
	    "{to: 'spiffe://td/a', from: 'spiffe://td/b'}, {from: '*', to: 'spiffe://td/a', "
	    "ports: '444'}]}}";
	struct policy_set set;
	struct dir d;
	char sig[POLICY_SIG_B64_LEN + 1], err[256], *text = NULL;
	size_t len = 0;

	/* A signature over one file's canonical text holds for a reformatted copy only. */
	REQUIRE(dir_new(&d) == 0);
	REQUIRE(policy_sign_keygen(d.sk, d.pk) == 0);
	REQUIRE(policy_set_parse((const uint8_t *)a, strlen(a), &set, err, sizeof(err)) == 0);
	REQUIRE(policy_set_canonical(&set, &text, &len) == 0);
	policy_set_free(&set);
	EXPECT_OK(policy_sign(d.sk, (const uint8_t *)text, len, sig));
	free(text);

	REQUIRE(policy_set_parse((const uint8_t *)b, strlen(b), &set, err, sizeof(err)) == 0);
	REQUIRE(policy_set_canonical(&set, &text, &len) == 0);
	policy_set_free(&set);
	EXPECT_OK(policy_verify(d.pk, (const uint8_t *)text, len, sig, strlen(sig)));
	free(text);

	REQUIRE(policy_set_parse((const uint8_t *)c, strlen(c), &set, err, sizeof(err)) == 0);
	REQUIRE(policy_set_canonical(&set, &text, &len) == 0);
	policy_set_free(&set);
	EXPECT_ERR(policy_verify(d.pk, (const uint8_t *)text, len, sig, strlen(sig)),
	    POLICY_E_SIGNATURE);
	free(text);
	EXPECT_OK(test_rm_tree(d.path));
}

TEST_MAIN(round_trip, tampering, keygen_refuses_overwrite, malformed_keys, canonical_signature)
