/*
 * bundle.c: the trust anchors of a trust domain, kept as one mbedTLS chain
 * so the verifier can hand it straight to path validation.
 */
#include "certs/bundle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/x509_crt.h>
#include <sodium.h>

#include "certs/certs_int.h"
#include "certs/error.h"

struct certs_bundle {
	mbedtls_x509_crt chain;
	size_t count;
};

/*
 * Parse data (PEM, or one or more concatenated DER certificates) into a
 * fresh chain in *out, which the caller has initialised. Every certificate
 * must be a trust anchor, and none may appear twice.
 */
static int
parse_anchors(const uint8_t *data, size_t len, mbedtls_x509_crt *out, size_t *count)
{
	const mbedtls_x509_crt *c;
	uint8_t *copy = NULL;
	size_t n = 0;
	int ret, err = 0;

	*count = 0;
	if (len > CERTS_BUNDLE_MAX_BYTES)
		return CERTS_E_TOO_BIG;
	if (len == 0)
		return CERTS_E_PEM;
	if (certs__is_pem(data, len)) {
		/* mbedTLS reads PEM only from a NUL-terminated buffer. */
		copy = malloc(len + 1);
		if (copy == NULL)
			return CERTS_E_NOMEM;
		memcpy(copy, data, len);
		copy[len] = '\0';
		ret = mbedtls_x509_crt_parse(out, copy, len + 1);
		if (ret != 0)
			err = ret > 0 ? CERTS_E_PEM : certs__parse_err(ret);
	} else {
		err = certs__parse_der_chain(out, data, len, CERTS_BUNDLE_MAX_ANCHORS);
		if (err == CERTS_E_CHAIN_TOO_LONG)
			err = CERTS_E_TOO_BIG;
	}
	if (err != 0)
		goto out;
	for (c = out; c != NULL && c->raw.p != NULL; c = c->next) {
		const mbedtls_x509_crt *d;

		if (!c->MBEDTLS_PRIVATE(ca_istrue) || !certs__self_signed(c)) {
			err = CERTS_E_BUNDLE_NOT_ANCHOR;
			goto out;
		}
		for (d = out; d != c; d = d->next) {
			if (d->raw.len == c->raw.len && memcmp(d->raw.p, c->raw.p, c->raw.len) == 0) {
				err = CERTS_E_BUNDLE_DUP;
				goto out;
			}
		}
		n++;
	}
	if (n == 0 || (copy != NULL && certs__pem_cert_blocks(copy, len) != n))
		err = CERTS_E_PEM;
	else if (n > CERTS_BUNDLE_MAX_ANCHORS)
		err = CERTS_E_TOO_BIG;
	*count = n;
out:
	free(copy);
	return err;
}

int
certs_bundle_parse(const uint8_t *data, size_t len, struct certs_bundle **out)
{
	struct certs_bundle *b;
	int err;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return CERTS_E_NOMEM;
	mbedtls_x509_crt_init(&b->chain);
	err = parse_anchors(data, len, &b->chain, &b->count);
	if (err != 0) {
		certs_bundle_free(b);
		return err;
	}
	*out = b;
	return 0;
}

int
certs_bundle_load(const char *path, struct certs_bundle **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	err = util_read_file(path, CERTS_BUNDLE_MAX_BYTES, &data, &len);
	if (err == -EFBIG)
		return CERTS_E_TOO_BIG;
	if (err != 0)
		return err;
	err = certs_bundle_parse(data, len, out);
	free(data);
	return err;
}

void
certs_bundle_free(struct certs_bundle *b)
{
	if (b == NULL)
		return;
	mbedtls_x509_crt_free(&b->chain);
	free(b);
}

size_t
certs_bundle_count(const struct certs_bundle *b)
{
	return b->count;
}

static const mbedtls_x509_crt *
nth(const struct certs_bundle *b, size_t i)
{
	const mbedtls_x509_crt *c = &b->chain;

	while (c != NULL && i-- > 0)
		c = c->next;
	return c;
}

int
certs_bundle_info(const struct certs_bundle *b, size_t i, struct certs_info *info)
{
	const mbedtls_x509_crt *c;

	if (i >= b->count || (c = nth(b, i)) == NULL)
		return CERTS_E_INVAL;
	return certs_info_from_der(c->raw.p, c->raw.len, info);
}

const struct mbedtls_x509_crt *
certs_bundle_peek_chain(const struct certs_bundle *b)
{
	return &b->chain;
}

static void
fingerprint(const mbedtls_x509_crt *c, char hex[65])
{
	uint8_t d[32];

	crypto_hash_sha256(d, c->raw.p, c->raw.len);
	sodium_bin2hex(hex, 65, d, sizeof(d));
}

/* Replace b's chain with its certificates (but skip) followed by extra's. */
static int
rebuild(struct certs_bundle *b, const mbedtls_x509_crt *extra, const mbedtls_x509_crt *skip)
{
	mbedtls_x509_crt fresh;
	const mbedtls_x509_crt *c;
	size_t n = 0;
	int err = 0;

	mbedtls_x509_crt_init(&fresh);
	for (int pass = 0; pass < 2; pass++) {
		for (c = pass == 0 ? &b->chain : extra; c != NULL && c->raw.p != NULL; c = c->next) {
			if (c == skip)
				continue;
			if (mbedtls_x509_crt_parse_der(&fresh, c->raw.p, c->raw.len) != 0) {
				err = CERTS_E_NOMEM;
				goto out;
			}
			n++;
		}
	}
	if (n > CERTS_BUNDLE_MAX_ANCHORS) {
		err = CERTS_E_TOO_BIG;
		goto out;
	}
	mbedtls_x509_crt_free(&b->chain);
	b->chain = fresh;
	b->count = n;
	return 0;
out:
	mbedtls_x509_crt_free(&fresh);
	return err;
}

int
certs_bundle_add(struct certs_bundle *b, const uint8_t *data, size_t len)
{
	mbedtls_x509_crt add;
	const mbedtls_x509_crt *c, *d;
	char fa[65], fb[65];
	size_t n = 0;
	int err;

	mbedtls_x509_crt_init(&add);
	err = parse_anchors(data, len, &add, &n);
	if (err != 0)
		goto out;
	for (c = &add; c != NULL && c->raw.p != NULL; c = c->next) {
		fingerprint(c, fa);
		for (d = &b->chain; d != NULL && d->raw.p != NULL; d = d->next) {
			fingerprint(d, fb);
			if (strcmp(fa, fb) == 0) {
				err = CERTS_E_BUNDLE_DUP;
				goto out;
			}
		}
	}
	err = rebuild(b, &add, NULL);
out:
	mbedtls_x509_crt_free(&add);
	return err;
}

int
certs_bundle_remove(struct certs_bundle *b, const char *prefix)
{
	const mbedtls_x509_crt *c, *found = NULL;
	size_t plen = strlen(prefix), matches = 0;
	char fp[65];

	if (plen < 8 || plen > 64)
		return CERTS_E_INVAL;
	for (c = &b->chain; c != NULL && c->raw.p != NULL; c = c->next) {
		fingerprint(c, fp);
		if (strncasecmp(fp, prefix, plen) == 0) {
			found = c;
			matches++;
		}
	}
	if (matches == 0)
		return CERTS_E_NOT_FOUND;
	if (matches > 1)
		return CERTS_E_INVAL;
	if (b->count == 1)
		return CERTS_E_BUNDLE_LAST;
	return rebuild(b, NULL, found);
}

int
certs_bundle_write_pem(const struct certs_bundle *b, char **out, size_t *outlen)
{
	return certs__chain_pem(&b->chain, out, outlen);
}
