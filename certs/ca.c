/*
 * ca.c: the trust domain's root and issuer, and signing X509-SVIDs.
 *
 * Profiles follow the SPIFFE X509-SVID standard (section 4) and RFC 5280:
 *   signing CAs: basicConstraints critical cA=true (issuer: pathLen 0),
 *     keyUsage critical keyCertSign|cRLSign, URI SAN spiffe://TD (no path);
 *   leaves: basicConstraints critical cA=false, keyUsage critical
 *     digitalSignature, extKeyUsage serverAuth+clientAuth, exactly one URI
 *     SAN (the workload's SPIFFE ID), subject/authority key identifiers.
 * Serials are 128 random bits (positive), well above the 64 the baseline
 * requirements ask for.
 */
#include "certs/ca.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <sodium.h>

#include "certs/bundle.h"
#include "certs/certs_int.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/seal.h"

struct certs_ca {
	mbedtls_x509_crt issuer;
	mbedtls_pk_context key;
	char issuer_name[256];
	char td[SPIFFE_TD_MAX + 1];
	int64_t not_before;
	int64_t not_after;
};

/* What one certificate to write looks like. */
struct cert_tmpl {
	mbedtls_pk_context *subject_key;
	mbedtls_pk_context *issuer_key;
	const char *subject_name;
	const char *issuer_name;
	const char *uri;		/* the one URI SAN */
	int64_t not_before;
	int64_t not_after;
	int is_ca;
	int path_len;			/* -1: no pathLenConstraint */
};

/* basicConstraints values, DER: SEQUENCE { [cA BOOLEAN], [pathLen INTEGER] }. */
static const unsigned char bc_leaf[] = { 0x30, 0x00 };
static const unsigned char bc_root[] = { 0x30, 0x03, 0x01, 0x01, 0xff };
static const unsigned char bc_issuer[] = { 0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00 };
/* extKeyUsage: SEQUENCE { id-kp-serverAuth, id-kp-clientAuth }. */
static const unsigned char eku_tls[] = {
	0x30, 0x14,
	0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01,
	0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02,
};

static int
x509_time(int64_t t, char out[16])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, 16, "%Y%m%d%H%M%S", &tm) != 14)
		return CERTS_E_INVAL;
	return 0;
}

/* Write the certificate tmpl describes; DER lands at the end of buf. */
static int
cert_write(const struct cert_tmpl *tmpl, uint8_t *buf, size_t size, const uint8_t **der,
    size_t *der_len)
{
	mbedtls_x509write_cert w;
	mbedtls_x509_san_list san;
	uint8_t serial[16];
	char nb[16], na[16];
	int ret, err = CERTS_E_CRYPTO;

	mbedtls_x509write_crt_init(&w);
	randombytes_buf(serial, sizeof(serial));
	serial[0] &= 0x7f;	/* positive */
	serial[0] |= 0x40;	/* full length, so the DER stays 16 bytes */
	if (x509_time(tmpl->not_before, nb) != 0 || x509_time(tmpl->not_after, na) != 0) {
		err = CERTS_E_INVAL;
		goto out;
	}
	memset(&san, 0, sizeof(san));
	san.node.type = MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER;
	san.node.san.unstructured_name.p = (unsigned char *)(uintptr_t)tmpl->uri;
	san.node.san.unstructured_name.len = strlen(tmpl->uri);

	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, tmpl->subject_key);
	mbedtls_x509write_crt_set_issuer_key(&w, tmpl->issuer_key);
	if (mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof(serial)) != 0 ||
	    mbedtls_x509write_crt_set_validity(&w, nb, na) != 0 ||
	    mbedtls_x509write_crt_set_subject_name(&w, tmpl->subject_name) != 0 ||
	    mbedtls_x509write_crt_set_issuer_name(&w, tmpl->issuer_name) != 0 ||
	    mbedtls_x509write_crt_set_subject_alternative_name(&w, &san) != 0 ||
	    mbedtls_x509write_crt_set_subject_key_identifier(&w) != 0 ||
	    mbedtls_x509write_crt_set_authority_key_identifier(&w) != 0)
		goto out;
	/* Written by hand: mbedTLS marks basicConstraints critical only for CAs. */
	if (mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_BASIC_CONSTRAINTS,
		MBEDTLS_OID_SIZE(MBEDTLS_OID_BASIC_CONSTRAINTS), 1,
		!tmpl->is_ca ? bc_leaf : tmpl->path_len < 0 ? bc_root : bc_issuer,
		!tmpl->is_ca ? sizeof(bc_leaf) : tmpl->path_len < 0 ? sizeof(bc_root)
								    : sizeof(bc_issuer)) != 0)
		goto out;
	if (tmpl->is_ca) {
		if (mbedtls_x509write_crt_set_key_usage(&w,
			MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN) != 0)
			goto out;
	} else {
		if (mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0 ||
		    mbedtls_x509write_crt_set_extension(&w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, eku_tls,
			sizeof(eku_tls)) != 0)
			goto out;
	}
	ret = mbedtls_x509write_crt_der(&w, buf, size, certs_rng, NULL);
	if (ret <= 0)
		goto out;
	*der = buf + size - (size_t)ret;
	*der_len = (size_t)ret;
	err = 0;
out:
	mbedtls_x509write_crt_free(&w);
	return err;
}

static int
path_join(char *out, size_t size, const char *dir, const char *file)
{
	return util_snprintf(out, size, "%s/%s", dir, file) == 0 ? 0 : -ENAMETOOLONG;
}

static int
file_exists(const char *dir, const char *file)
{
	char p[PATH_MAX];
	struct stat st;

	return path_join(p, sizeof(p), dir, file) == 0 && lstat(p, &st) == 0;
}

static int
write_in(const char *dir, const char *file, const void *data, size_t len, unsigned mode)
{
	char p[PATH_MAX];
	int err = path_join(p, sizeof(p), dir, file);

	return err != 0 ? err : util_write_file_atomic(p, data, len, mode);
}

static int
write_cert_pem(const char *dir, const char *file, const uint8_t *der, size_t len)
{
	unsigned char pem[4096];
	size_t n = 0;

	if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
		der, len, pem, sizeof(pem), &n) != 0)
		return CERTS_E_INVAL;
	return write_in(dir, file, pem, n - 1, 0644);
}

/* Write a private key (PEM), sealed when seal_key is given; wipes its buffers. */
static int
write_key(const char *dir, const char *file, mbedtls_pk_context *key, const uint8_t *seal_key)
{
	unsigned char pem[1024];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	int err;

	if (mbedtls_pk_write_key_pem(key, pem, sizeof(pem)) != 0) {
		err = CERTS_E_CRYPTO;
		goto out;
	}
	if (seal_key != NULL) {
		err = certs_seal(seal_key, pem, strlen((char *)pem), &sealed, &sealed_len);
		if (err == 0)
			err = write_in(dir, file, sealed, sealed_len, 0600);
	} else {
		err = write_in(dir, file, pem, strlen((char *)pem), 0600);
	}
out:
	util_wipe(pem, sizeof(pem));
	util_free_wiped(sealed, sealed_len);
	return err;
}

static void
unlink_in(const char *dir, const char *file)
{
	char p[PATH_MAX];

	if (path_join(p, sizeof(p), dir, file) == 0)
		unlink(p);
}

static int
load_cert(const char *dir, const char *file, mbedtls_x509_crt *crt)
{
	char p[PATH_MAX];
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	err = path_join(p, sizeof(p), dir, file);
	if (err != 0)
		return err;
	err = util_read_file(p, 64 * 1024, &data, &len);
	if (err == -ENOENT)
		return CERTS_E_NO_CA;
	if (err != 0)
		return err == -EFBIG ? CERTS_E_PEM : err;
	err = mbedtls_x509_crt_parse(crt, data, len + 1);
	free(data);
	return err == 0 ? 0 : CERTS_E_PEM;
}

static int
random_name(char *out, size_t size, const char *role)
{
	uint8_t r[4];
	char hex[9];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	return util_snprintf(out, size, "CN=authd %s %s,O=authd", role, hex) == 0 ? 0 : CERTS_E_INVAL;
}

static int
check_ttl(uint32_t *ttl, uint32_t def)
{
	if (*ttl == 0)
		*ttl = def;
	return *ttl < CERTS_CA_TTL_MIN || *ttl > CERTS_CA_TTL_MAX ? CERTS_E_TTL : 0;
}

/*
 * Make an issuer key and certificate signed by (root_key, root) and write
 * them to dir. On success the new issuer is on disk.
 */
static int
make_issuer(const char *dir, const char *td_uri, mbedtls_pk_context *root_key,
    const mbedtls_x509_crt *root, uint32_t ttl, const uint8_t *seal_key, int64_t now)
{
	mbedtls_pk_context key;
	struct cert_tmpl t;
	char subject[128], root_name[256];
	uint8_t buf[CERTS_DER_MAX];
	const uint8_t *der;
	size_t der_len;
	int64_t root_after = certs__time_from_x509(&root->valid_to);
	int err;

	mbedtls_pk_init(&key);
	err = certs__key_new(&key);
	if (err != 0)
		goto out;
	if (mbedtls_x509_dn_gets(root_name, sizeof(root_name), &root->subject) < 0) {
		err = CERTS_E_PEM;
		goto out;
	}
	err = random_name(subject, sizeof(subject), "issuer");
	if (err != 0)
		goto out;
	t = (struct cert_tmpl){
		.subject_key = &key, .issuer_key = root_key,
		.subject_name = subject, .issuer_name = root_name, .uri = td_uri,
		.not_before = now - CERTS_BACKDATE,
		.not_after = now + (int64_t)ttl < root_after ? now + (int64_t)ttl : root_after,
		.is_ca = 1, .path_len = 0,
	};
	if (t.not_after <= now) {
		err = CERTS_E_CA_EXPIRED;
		goto out;
	}
	err = cert_write(&t, buf, sizeof(buf), &der, &der_len);
	if (err != 0)
		goto out;
	/* Key first: a crash between the two leaves a mismatch load() reports. */
	err = write_key(dir, seal_key ? CERTS_CA_ISSUER_KEY_SEALED : CERTS_CA_ISSUER_KEY, &key,
	    seal_key);
	if (err == 0)
		err = write_cert_pem(dir, CERTS_CA_ISSUER_CRT, der, der_len);
	if (err == 0)
		unlink_in(dir, seal_key ? CERTS_CA_ISSUER_KEY : CERTS_CA_ISSUER_KEY_SEALED);
out:
	mbedtls_pk_free(&key);
	return err;
}

/* Make a self-signed root; returns its key and parsed certificate. */
static int
make_root(const char *td_uri, uint32_t ttl, int64_t now, mbedtls_pk_context *key,
    mbedtls_x509_crt *crt)
{
	struct cert_tmpl t;
	char name[128];
	uint8_t buf[CERTS_DER_MAX];
	const uint8_t *der;
	size_t der_len;
	int err;

	err = certs__key_new(key);
	if (err != 0)
		return err;
	err = random_name(name, sizeof(name), "root");
	if (err != 0)
		return err;
	t = (struct cert_tmpl){
		.subject_key = key, .issuer_key = key,
		.subject_name = name, .issuer_name = name, .uri = td_uri,
		.not_before = now - CERTS_BACKDATE, .not_after = now + (int64_t)ttl,
		.is_ca = 1, .path_len = -1,
	};
	err = cert_write(&t, buf, sizeof(buf), &der, &der_len);
	if (err != 0)
		return err;
	return mbedtls_x509_crt_parse_der(crt, der, der_len) == 0 ? 0 : CERTS_E_CRYPTO;
}

static int
write_bundle(const char *dir, const struct certs_bundle *b)
{
	char *pem = NULL;
	size_t len = 0;
	int err = certs_bundle_write_pem(b, &pem, &len);

	if (err == 0)
		err = write_in(dir, CERTS_CA_BUNDLE, pem, len, 0644);
	free(pem);
	return err;
}

int
certs_ca_init(const char *dir, const char *td, const struct certs_ca_params *p)
{
	char tdc[SPIFFE_TD_MAX + 1], uri[SPIFFE_TD_MAX + 16];
	uint32_t root_ttl = p->root_ttl, issuer_ttl = p->issuer_ttl;
	mbedtls_pk_context root_key;
	mbedtls_x509_crt root;
	struct certs_bundle *b = NULL;
	int err, wrote = 0;

	mbedtls_pk_init(&root_key);
	mbedtls_x509_crt_init(&root);
	err = spiffe_td_parse(td, strlen(td), tdc, NULL);
	if (err != 0)
		goto out;
	if ((err = check_ttl(&root_ttl, CERTS_ROOT_TTL_DEFAULT)) != 0 ||
	    (err = check_ttl(&issuer_ttl, CERTS_ISSUER_TTL_DEFAULT)) != 0)
		goto out;
	if (util_snprintf(uri, sizeof(uri), "spiffe://%s", tdc) != 0) {
		err = CERTS_E_INVAL;
		goto out;
	}
	err = util_mkdir_p(dir, 0700);
	if (err != 0)
		goto out;
	/* Any CA file, keys included, means a CA (or its remains) is there. */
	if (file_exists(dir, CERTS_CA_ROOT_CRT) || file_exists(dir, CERTS_CA_ROOT_KEY) ||
	    file_exists(dir, CERTS_CA_ISSUER_CRT) || file_exists(dir, CERTS_CA_ISSUER_KEY) ||
	    file_exists(dir, CERTS_CA_ISSUER_KEY_SEALED) || file_exists(dir, CERTS_CA_BUNDLE)) {
		err = CERTS_E_EXISTS;
		goto out;
	}
	err = make_root(uri, root_ttl, p->now, &root_key, &root);
	if (err != 0)
		goto out;
	wrote = 1;
	err = write_key(dir, CERTS_CA_ROOT_KEY, &root_key, p->seal_key);
	if (err == 0)
		err = write_cert_pem(dir, CERTS_CA_ROOT_CRT, root.raw.p, root.raw.len);
	if (err == 0)
		err = make_issuer(dir, uri, &root_key, &root, issuer_ttl, p->seal_key, p->now);
	if (err == 0)
		err = certs_bundle_parse(root.raw.p, root.raw.len, &b);
	if (err == 0)
		err = write_bundle(dir, b);
out:
	if (err != 0 && wrote) {
		static const char *const files[] = { CERTS_CA_ROOT_KEY, CERTS_CA_ROOT_CRT,
			CERTS_CA_ISSUER_KEY, CERTS_CA_ISSUER_KEY_SEALED, CERTS_CA_ISSUER_CRT,
			CERTS_CA_BUNDLE };
		for (size_t i = 0; i < AD_ARRAY_LEN(files); i++)
			unlink_in(dir, files[i]);
	}
	certs_bundle_free(b);
	mbedtls_x509_crt_free(&root);
	mbedtls_pk_free(&root_key);
	return err;
}

/* The trust domain of a signing CA, from its spiffe://TD URI SAN. */
static int
ca_td(const mbedtls_x509_crt *crt, char td[SPIFFE_TD_MAX + 1])
{
	const unsigned char *uri = NULL;
	size_t uri_len = 0, td_len;
	struct spiffe_id *id;
	int err;

	if (certs__uri_sans(crt, &uri, &uri_len) != 1)
		return CERTS_E_PEM;
	id = malloc(sizeof(*id));
	if (id == NULL)
		return CERTS_E_NOMEM;
	err = spiffe_id_parse((const char *)uri, uri_len, id, NULL);
	if (err == 0) {
		const char *t = spiffe_id_td(id, &td_len);
		memcpy(td, t, td_len);
		td[td_len] = '\0';
	}
	free(id);
	return err == 0 ? 0 : CERTS_E_PEM;
}

int
certs_ca_rotate(const char *dir, bool new_root, const struct certs_ca_params *p)
{
	char td[SPIFFE_TD_MAX + 1], uri[SPIFFE_TD_MAX + 16], path[PATH_MAX];
	uint32_t root_ttl = p->root_ttl, issuer_ttl = p->issuer_ttl;
	mbedtls_pk_context root_key;
	mbedtls_x509_crt root;
	struct certs_bundle *b = NULL;
	int err, sealed = file_exists(dir, CERTS_CA_ISSUER_KEY_SEALED);

	mbedtls_pk_init(&root_key);
	mbedtls_x509_crt_init(&root);
	if ((err = check_ttl(&root_ttl, CERTS_ROOT_TTL_DEFAULT)) != 0 ||
	    (err = check_ttl(&issuer_ttl, CERTS_ISSUER_TTL_DEFAULT)) != 0)
		goto out;
	/*
	 * A sealed issuer key stays sealed: never write it out in the clear. And
	 * the seal key must open the current one, or a mistyped key would
	 * re-seal the CA under a key nobody else holds.
	 */
	if (sealed) {
		if (p->seal_key == NULL) {
			err = CERTS_E_SEAL_FORMAT;
			goto out;
		}
		mbedtls_pk_context current;

		mbedtls_pk_init(&current);
		err = path_join(path, sizeof(path), dir, CERTS_CA_ISSUER_KEY_SEALED);
		if (err == 0)
			err = certs__key_load(path, p->seal_key, &current);
		mbedtls_pk_free(&current);
		if (err != 0)
			goto out;
	}
	err = load_cert(dir, CERTS_CA_ROOT_CRT, &root);
	if (err != 0)
		goto out;
	err = ca_td(&root, td);
	if (err != 0)
		goto out;
	if (util_snprintf(uri, sizeof(uri), "spiffe://%s", td) != 0) {
		err = CERTS_E_INVAL;
		goto out;
	}
	err = path_join(path, sizeof(path), dir, CERTS_CA_BUNDLE);
	if (err == 0)
		err = certs_bundle_load(path, &b);
	if (err != 0)
		goto out;
	if (new_root) {
		mbedtls_x509_crt_free(&root);
		mbedtls_x509_crt_init(&root);
		err = make_root(uri, root_ttl, p->now, &root_key, &root);
		if (err != 0)
			goto out;
		/* Trust the new root everywhere before anything is signed by it. */
		err = certs_bundle_add(b, root.raw.p, root.raw.len);
		if (err == 0)
			err = write_bundle(dir, b);
		if (err == 0)
			err = write_key(dir, CERTS_CA_ROOT_KEY, &root_key, p->seal_key);
		if (err == 0)
			err = write_cert_pem(dir, CERTS_CA_ROOT_CRT, root.raw.p, root.raw.len);
	} else {
		err = path_join(path, sizeof(path), dir, CERTS_CA_ROOT_KEY);
		if (err == 0)
			err = certs__key_load(path, p->seal_key, &root_key);
		if (err == -ENOENT)
			err = CERTS_E_NO_ROOT_KEY;
		if (err == 0 && mbedtls_pk_check_pair(&root.pk, &root_key, certs_rng, NULL) != 0)
			err = CERTS_E_KEY;
	}
	if (err == 0)
		err = make_issuer(dir, uri, &root_key, &root, issuer_ttl, p->seal_key, p->now);
out:
	certs_bundle_free(b);
	mbedtls_x509_crt_free(&root);
	mbedtls_pk_free(&root_key);
	return err;
}

int
certs_ca_load(const char *dir, const uint8_t *seal_key, struct certs_ca **out)
{
	struct certs_ca *ca;
	char path[PATH_MAX];
	int err;

	*out = NULL;
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL)
		return CERTS_E_NOMEM;
	mbedtls_x509_crt_init(&ca->issuer);
	mbedtls_pk_init(&ca->key);
	err = load_cert(dir, CERTS_CA_ISSUER_CRT, &ca->issuer);
	if (err != 0)
		goto out;
	if (!ca->issuer.MBEDTLS_PRIVATE(ca_istrue)) {
		err = CERTS_E_PEM;
		goto out;
	}
	err = ca_td(&ca->issuer, ca->td);
	if (err != 0)
		goto out;
	err = path_join(path, sizeof(path), dir,
	    file_exists(dir, CERTS_CA_ISSUER_KEY_SEALED) ? CERTS_CA_ISSUER_KEY_SEALED
							 : CERTS_CA_ISSUER_KEY);
	if (err == 0)
		err = certs__key_load(path, seal_key, &ca->key);
	if (err == -ENOENT)
		err = CERTS_E_NO_CA;
	if (err != 0)
		goto out;
	if (mbedtls_pk_check_pair(&ca->issuer.pk, &ca->key, certs_rng, NULL) != 0) {
		err = CERTS_E_KEY;
		goto out;
	}
	if (mbedtls_x509_dn_gets(ca->issuer_name, sizeof(ca->issuer_name),
		&ca->issuer.subject) < 0) {
		err = CERTS_E_PEM;
		goto out;
	}
	ca->not_before = certs__time_from_x509(&ca->issuer.valid_from);
	ca->not_after = certs__time_from_x509(&ca->issuer.valid_to);
	*out = ca;
	ca = NULL;
out:
	certs_ca_free(ca);
	return err;
}

void
certs_ca_free(struct certs_ca *ca)
{
	if (ca == NULL)
		return;
	mbedtls_pk_free(&ca->key);	/* zeroizes */
	mbedtls_x509_crt_free(&ca->issuer);
	free(ca);
}

const char *
certs_ca_td(const struct certs_ca *ca)
{
	return ca->td;
}

int64_t
certs_ca_not_after(const struct certs_ca *ca)
{
	return ca->not_after;
}

const uint8_t *
certs_ca_issuer_der(const struct certs_ca *ca, size_t *len)
{
	*len = ca->issuer.raw.len;
	return ca->issuer.raw.p;
}

int
certs_ca_sign(struct certs_ca *ca, const struct spiffe_id *id, const uint8_t *spki,
    size_t spki_len, uint32_t ttl, int64_t now, uint8_t der[static CERTS_DER_MAX],
    size_t *der_len)
{
	mbedtls_pk_context pub;
	struct cert_tmpl t;
	const uint8_t *out;
	size_t len;
	int err;

	*der_len = 0;
	mbedtls_pk_init(&pub);
	if (ttl == 0)
		ttl = CERTS_SVID_TTL_DEFAULT;
	if (ttl < CERTS_SVID_TTL_MIN || ttl > CERTS_SVID_TTL_MAX) {
		err = CERTS_E_TTL;
		goto out;
	}
	if (id->len == 0 || spiffe_id_path(id)[0] == '\0') {
		err = CERTS_E_ID_NO_PATH;
		goto out;
	}
	if (!spiffe_id_in_td(id, ca->td, strlen(ca->td))) {
		err = CERTS_E_FOREIGN_TD;
		goto out;
	}
	if (now < ca->not_before || now >= ca->not_after) {
		err = CERTS_E_CA_EXPIRED;
		goto out;
	}
	if (mbedtls_pk_parse_public_key(&pub, spki, spki_len) != 0 ||
	    mbedtls_pk_get_type(&pub) != MBEDTLS_PK_ECKEY ||
	    mbedtls_pk_ec(pub)->MBEDTLS_PRIVATE(grp).id != MBEDTLS_ECP_DP_SECP256R1) {
		err = CERTS_E_KEY;
		goto out;
	}
	t = (struct cert_tmpl){
		.subject_key = &pub, .issuer_key = &ca->key,
		.subject_name = "O=authd", .issuer_name = ca->issuer_name, .uri = id->str,
		.not_before = now - CERTS_BACKDATE,
		.not_after = now + (int64_t)ttl < ca->not_after ? now + (int64_t)ttl : ca->not_after,
		.is_ca = 0, .path_len = -1,
	};
	err = cert_write(&t, der, CERTS_DER_MAX, &out, &len);
	if (err != 0)
		goto out;
	memmove(der, out, len);
	*der_len = len;
out:
	mbedtls_pk_free(&pub);
	return err;
}
