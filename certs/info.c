/*
 * info.c: reading facts out of a parsed certificate: times, URI SANs,
 * fingerprints, and the printable summary `authctl ca show` uses.
 */
#include "certs/info.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1.h>
#include <mbedtls/pem.h>
#include <mbedtls/x509.h>
#include <sodium.h>

#include "certs/certs_int.h"
#include "certs/error.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int64_t
certs__time_from_x509(const mbedtls_x509_time *t)
{
	return days_from_civil(t->year, (unsigned)t->mon, (unsigned)t->day) * 86400 +
	    t->hour * 3600 + t->min * 60 + t->sec;
}

void
certs_time_format(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

size_t
certs__uri_sans(const mbedtls_x509_crt *crt, const unsigned char **uri, size_t *uri_len)
{
	const mbedtls_x509_sequence *san;
	size_t n = 0;

	for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
		if (san->buf.p == NULL)
			continue;
		if (san->buf.tag !=
		    (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER))
			continue;
		if (n++ == 0 && uri != NULL) {
			*uri = san->buf.p;
			*uri_len = san->buf.len;
		}
	}
	return n;
}

int
certs__self_signed(const mbedtls_x509_crt *crt)
{
	unsigned char hash[MBEDTLS_MD_MAX_SIZE];
	const mbedtls_md_info_t *md;

	if (crt->issuer_raw.len != crt->subject_raw.len ||
	    memcmp(crt->issuer_raw.p, crt->subject_raw.p, crt->issuer_raw.len) != 0)
		return 0;
	md = mbedtls_md_info_from_type(crt->MBEDTLS_PRIVATE(sig_md));
	if (md == NULL || mbedtls_md(md, crt->tbs.p, crt->tbs.len, hash) != 0)
		return 0;
	return mbedtls_pk_verify_ext(crt->MBEDTLS_PRIVATE(sig_pk), crt->MBEDTLS_PRIVATE(sig_opts), (mbedtls_pk_context *)&crt->pk,
	    crt->MBEDTLS_PRIVATE(sig_md), hash, mbedtls_md_get_size(md), crt->MBEDTLS_PRIVATE(sig).p, crt->MBEDTLS_PRIVATE(sig).len) == 0;
}

int
certs__parse_err(int mbedtls_err)
{
	if (mbedtls_err == MBEDTLS_ERR_X509_ALLOC_FAILED)
		return CERTS_E_NOMEM;
	return CERTS_E_PEM;
}

int
certs_info_from_der(const uint8_t *der, size_t len, struct certs_info *info)
{
	mbedtls_x509_crt crt;
	uint8_t digest[32];
	const unsigned char *uri = NULL;
	size_t uri_len = 0, i, n;
	int err = 0;

	memset(info, 0, sizeof(*info));
	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, der, len) != 0) {
		err = CERTS_E_PEM;
		goto out;
	}
	if (mbedtls_x509_dn_gets(info->subject, sizeof(info->subject), &crt.subject) < 0)
		info->subject[0] = '\0';
	if (mbedtls_x509_dn_gets(info->issuer, sizeof(info->issuer), &crt.issuer) < 0)
		info->issuer[0] = '\0';
	for (i = 0, n = 0; i < crt.serial.len && n + 3 <= sizeof(info->serial); i++) {
		/* Skip the sign-padding zero byte DER adds to positive serials. */
		if (n == 0 && crt.serial.p[i] == 0 && i + 1 < crt.serial.len)
			continue;
		snprintf(info->serial + n, 3, "%02x", crt.serial.p[i]);
		n += 2;
	}
	crypto_hash_sha256(digest, crt.raw.p, crt.raw.len);
	sodium_bin2hex(info->fingerprint, sizeof(info->fingerprint), digest, sizeof(digest));
	if (certs__uri_sans(&crt, &uri, &uri_len) > 0 && uri_len < sizeof(info->id)) {
		memcpy(info->id, uri, uri_len);
		info->id[uri_len] = '\0';
	}
	info->not_before = certs__time_from_x509(&crt.valid_from);
	info->not_after = certs__time_from_x509(&crt.valid_to);
	info->is_ca = crt.MBEDTLS_PRIVATE(ca_istrue) != 0;
	info->self_signed = certs__self_signed(&crt);
out:
	mbedtls_x509_crt_free(&crt);
	return err;
}

int
certs_info_load(const char *path, struct certs_info *info)
{
	mbedtls_x509_crt crt;
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	memset(info, 0, sizeof(*info));
	err = util_read_file(path, 256 * 1024, &data, &len);
	if (err != 0)
		return err == -EFBIG ? CERTS_E_PEM : err;
	mbedtls_x509_crt_init(&crt);
	/* Counting the NUL lets mbedTLS take PEM; DER ignores the extra byte. */
	if (mbedtls_x509_crt_parse(&crt, data, len + 1) < 0 && mbedtls_x509_crt_parse_der(&crt, data, len) != 0)
		err = CERTS_E_PEM;
	else if (crt.raw.p == NULL)
		err = CERTS_E_PEM;
	else
		err = certs_info_from_der(crt.raw.p, crt.raw.len, info);
	mbedtls_x509_crt_free(&crt);
	free(data);
	return err;
}

int
certs__chain_pem(const mbedtls_x509_crt *chain, char **out, size_t *outlen)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
	static const char end[] = "-----END CERTIFICATE-----\n";
	const mbedtls_x509_crt *c;
	size_t cap = 1, used = 0, n;
	char *buf;

	*out = NULL;
	*outlen = 0;
	/* Base64 grows 3 bytes to 4, plus a newline every 64 characters. */
	for (c = chain; c != NULL && c->raw.p != NULL; c = c->next)
		cap += sizeof(begin) + sizeof(end) + (c->raw.len + 2) / 3 * 4 * 65 / 64 + 4;
	buf = malloc(cap);
	if (buf == NULL)
		return CERTS_E_NOMEM;
	for (c = chain; c != NULL && c->raw.p != NULL; c = c->next) {
		if (mbedtls_pem_write_buffer(begin, end, c->raw.p, c->raw.len,
			(unsigned char *)buf + used, cap - used, &n) != 0) {
			free(buf);
			return CERTS_E_NOMEM;
		}
		used += n - 1; /* n counts the NUL */
	}
	buf[used] = '\0';
	*out = buf;
	*outlen = used;
	return 0;
}

int
certs__is_pem(const uint8_t *data, size_t len)
{
	static const char tag[] = "-----BEGIN";

	for (size_t i = 0; i + sizeof(tag) - 1 <= len; i++)
		if (memcmp(data + i, tag, sizeof(tag) - 1) == 0)
			return 1;
	return 0;
}

size_t
certs__pem_cert_blocks(const uint8_t *data, size_t len)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	size_t n = 0;

	for (size_t i = 0; i + sizeof(begin) - 1 <= len; i++)
		if (memcmp(data + i, begin, sizeof(begin) - 1) == 0)
			n++;
	return n;
}

int
certs__parse_der_chain(mbedtls_x509_crt *chain, const uint8_t *data, size_t len, size_t max)
{
	const uint8_t *p = data, *end = data + len;
	size_t n = 0;

	while (p < end) {
		unsigned char *q = (unsigned char *)(uintptr_t)p;
		size_t body;
		int ret;

		if (n == max)
			return CERTS_E_CHAIN_TOO_LONG;
		if (mbedtls_asn1_get_tag(&q, end, &body,
			MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return CERTS_E_PEM;
		body += (size_t)(q - p);
		ret = mbedtls_x509_crt_parse_der(chain, p, body);
		if (ret != 0)
			return certs__parse_err(ret);
		p += body;
		n++;
	}
	return n == 0 ? CERTS_E_PEM : 0;
}
