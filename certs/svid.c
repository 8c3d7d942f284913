/*
 * svid.c: a workload's identity: a P-256 key generated in memory (never
 * written anywhere by the daemon) and its certificate chain.
 */
#include "certs/svid.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "certs/ca.h"
#include "certs/certs_int.h"
#include "certs/error.h"
#include "certs/info.h"

struct certs_svid {
	struct spiffe_id id;
	mbedtls_pk_context key;
	mbedtls_x509_crt chain;
	int64_t not_before;
	int64_t not_after;
	char serial[80];
};

int
certs_svid_new(struct certs_ca *ca, const struct spiffe_id *id, uint32_t ttl, int64_t now,
    struct certs_svid **out)
{
	struct certs_svid *s;
	struct certs_info info;
	uint8_t spki[256], der[CERTS_DER_MAX];
	const uint8_t *issuer;
	size_t der_len = 0, issuer_len;
	int n, err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CERTS_E_NOMEM;
	mbedtls_pk_init(&s->key);
	mbedtls_x509_crt_init(&s->chain);
	s->id = *id;
	err = certs__key_new(&s->key);
	if (err != 0)
		goto out;
	n = mbedtls_pk_write_pubkey_der(&s->key, spki, sizeof(spki));
	if (n <= 0) {
		err = CERTS_E_CRYPTO;
		goto out;
	}
	err = certs_ca_sign(ca, id, spki + sizeof(spki) - n, (size_t)n, ttl, now, der, &der_len);
	if (err != 0)
		goto out;
	issuer = certs_ca_issuer_der(ca, &issuer_len);
	if (mbedtls_x509_crt_parse_der(&s->chain, der, der_len) != 0 ||
	    mbedtls_x509_crt_parse_der(&s->chain, issuer, issuer_len) != 0) {
		err = CERTS_E_CRYPTO;
		goto out;
	}
	err = certs_info_from_der(der, der_len, &info);
	if (err != 0)
		goto out;
	memcpy(s->serial, info.serial, sizeof(s->serial));
	s->not_before = info.not_before;
	s->not_after = info.not_after;
	*out = s;
	s = NULL;
out:
	certs_svid_free(s);
	return err;
}

void
certs_svid_free(struct certs_svid *s)
{
	if (s == NULL)
		return;
	mbedtls_pk_free(&s->key);	/* zeroizes the private key */
	mbedtls_x509_crt_free(&s->chain);
	free(s);
}

const struct spiffe_id *
certs_svid_id(const struct certs_svid *s)
{
	return &s->id;
}

int64_t
certs_svid_not_before(const struct certs_svid *s)
{
	return s->not_before;
}

int64_t
certs_svid_not_after(const struct certs_svid *s)
{
	return s->not_after;
}

const char *
certs_svid_serial(const struct certs_svid *s)
{
	return s->serial;
}

struct mbedtls_x509_crt *
certs_svid_peek_chain(struct certs_svid *s)
{
	return &s->chain;
}

struct mbedtls_pk_context *
certs_svid_peek_key(struct certs_svid *s)
{
	return &s->key;
}

int
certs_svid_write_pem(const struct certs_svid *s, char **chain, size_t *chain_len, char **key,
    size_t *key_len)
{
	unsigned char kbuf[1024];
	size_t n;
	char *k = NULL;
	int err;

	*key = NULL;
	*key_len = 0;
	err = certs__chain_pem(&s->chain, chain, chain_len);
	if (err != 0)
		return err;
	if (mbedtls_pk_write_key_pem(&s->key, kbuf, sizeof(kbuf)) != 0) {
		err = CERTS_E_CRYPTO;
		goto out;
	}
	n = strlen((char *)kbuf);
	k = malloc(n + 1);
	if (k == NULL) {
		err = CERTS_E_NOMEM;
		goto out;
	}
	memcpy(k, kbuf, n + 1);
	*key = k;
	*key_len = n;
out:
	util_wipe(kbuf, sizeof(kbuf));
	if (err != 0) {
		free(*chain);
		*chain = NULL;
		*chain_len = 0;
	}
	return err;
}
