/*
 * Unit tests for certs/ca.c (with certs/svid.c): making a CA directory,
 * loading it, signing SVIDs, rotating the issuer and the root, and sealing
 * the issuer key. Each test gets its own CA under a fresh /tmp directory.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/info.h"
#include "certs/seal.h"
#include "certs/svid.h"
#include "certs/verify.h"
#include "tests/unit/test.h"

/* A fixed clock (2026-01-01T00:00:00Z): every validity below is exact. */
#define NOW INT64_C(1767225600)
#define TD "example.org"
#define WORKLOAD "spiffe://example.org/ns/default/sa/web"

static const uint8_t seal_key[CERTS_SEAL_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const uint8_t other_seal_key[CERTS_SEAL_KEY_LEN] = "fedcba9876543210fedcba987654321";

/* A scratch directory; the CA lives in its subdirectory "ca", made by init. */
struct fx {
	char tmp[64];
	char dir[128];
};

static int
fx_open(struct fx *f)
{
	if (certs_crypto_init() != 0)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/authd-ca-XXXXXX");
	if (mkdtemp(f->tmp) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/ca", f->tmp);
	return 0;
}

static void
rm_tree(const char *path)
{
	if (test_rm_tree(path) != 0)
		fprintf(stderr, "  cannot remove %s\n", path);
}

static void
fx_close(struct fx *f)
{
	rm_tree(f->tmp);
}

/* dir/file, in one of four static buffers: up to four results may be in use at once. */
static const char *
in_ca(const struct fx *f, const char *file)
{
	static char bufs[4][PATH_MAX];
	static unsigned next;
	char *p = bufs[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", f->dir, file);
	return p;
}

static struct certs_ca_params
params(const uint8_t *key)
{
	return (struct certs_ca_params){ .seal_key = key, .now = NOW };
}

/* The names in the CA directory, sorted and comma-separated; "(none)" if it is missing. */
static const char *
listing(const struct fx *f)
{
	static char out[1024];
	struct dirent **names = NULL;
	int n = scandir(f->dir, &names, NULL, alphasort);

	out[0] = '\0';
	if (n < 0)
		return "(none)";
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			if (out[0] != '\0')
				strncat(out, ",", sizeof(out) - strlen(out) - 1);
			strncat(out, name, sizeof(out) - strlen(out) - 1);
		}
		free(names[i]);
	}
	free(names);
	return out;
}

#define PLAIN_FILES "bundle.pem,issuer.crt,issuer.key,root.crt,root.key"
#define SEALED_FILES "bundle.pem,issuer.crt,issuer.key.sealed,root.crt,root.key"

static unsigned
file_mode(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

/* Every CA file's bytes, to prove an operation changed nothing. */
enum { F_ROOT_CRT, F_ROOT_KEY, F_ISSUER_CRT, F_ISSUER_KEY, F_ISSUER_SEALED, F_BUNDLE };
static const char *const ca_files[] = {
	[F_ROOT_CRT] = CERTS_CA_ROOT_CRT,
	[F_ROOT_KEY] = CERTS_CA_ROOT_KEY,
	[F_ISSUER_CRT] = CERTS_CA_ISSUER_CRT,
	[F_ISSUER_KEY] = CERTS_CA_ISSUER_KEY,
	[F_ISSUER_SEALED] = CERTS_CA_ISSUER_KEY_SEALED,
	[F_BUNDLE] = CERTS_CA_BUNDLE,
};

struct snapshot {
	char names[1024];
	uint8_t *data[AD_ARRAY_LEN(ca_files)];
	size_t len[AD_ARRAY_LEN(ca_files)];
};

static void
snap_take(const struct fx *f, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->names, sizeof(s->names), "%s", listing(f));
	for (size_t i = 0; i < AD_ARRAY_LEN(ca_files); i++)
		if (util_read_file(in_ca(f, ca_files[i]), 1 << 20, &s->data[i], &s->len[i]) != 0)
			s->data[i] = NULL;
}

static void
snap_free(struct snapshot *s)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(ca_files); i++)
		util_free_wiped(s->data[i], s->len[i]);
}

/* Whether the directory still holds exactly what s recorded. */
static bool
snap_same(const struct fx *f, const struct snapshot *s)
{
	struct snapshot now;
	bool same;

	snap_take(f, &now);
	same = strcmp(now.names, s->names) == 0;
	if (!same)
		fprintf(stderr, "  files now %s, were %s\n", now.names, s->names);
	for (size_t i = 0; i < AD_ARRAY_LEN(ca_files); i++) {
		bool eq = (now.data[i] == NULL && s->data[i] == NULL) ||
		    (now.data[i] != NULL && s->data[i] != NULL && now.len[i] == s->len[i] &&
			memcmp(now.data[i], s->data[i], s->len[i]) == 0);

		if (!eq)
			fprintf(stderr, "  %s changed\n", ca_files[i]);
		same = same && eq;
	}
	snap_free(&now);
	return same;
}

/* Whether the file at path holds exactly len bytes at data. */
static bool
file_is(const char *path, const uint8_t *data, size_t len)
{
	uint8_t *now = NULL;
	size_t now_len = 0;
	bool same;

	if (data == NULL || util_read_file(path, 1 << 20, &now, &now_len) != 0)
		return false;
	same = now_len == len && memcmp(now, data, len) == 0;
	util_free_wiped(now, now_len);
	return same;
}

static int
copy_file(const char *from, const char *to)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int err = util_read_file(from, 1 << 20, &data, &len);

	if (err == 0)
		err = util_write_file_atomic(to, data, len, 0600);
	util_free_wiped(data, len);
	return err;
}

static int
fingerprint_of(const char *path, char fp[65])
{
	struct certs_info info;
	int err = certs_info_load(path, &info);

	snprintf(fp, 65, "%s", err == 0 ? info.fingerprint : "");
	return err;
}

static void
must_id(const char *s, struct spiffe_id *id)
{
	if (spiffe_id_parse(s, strlen(s), id, NULL) != 0) {
		fprintf(stderr, "cannot parse %s\n", s);
		abort();
	}
}

/* Verify svid's chain against the CA directory's bundle.pem. */
static int
verify_svid(const struct fx *f, struct certs_svid *s, int64_t now, enum certs_role role,
    struct spiffe_id *id)
{
	struct certs_bundle *b = NULL;
	int err = certs_bundle_load(in_ca(f, CERTS_CA_BUNDLE), &b);

	if (err == 0)
		err = certs_verify_chain(b, TD, certs_svid_peek_chain(s), now, role, id);
	certs_bundle_free(b);
	return err;
}

/* Init creates exactly the five CA files, keys 0600, certificates 0644, directory 0700. */
TEST(init_files_and_modes)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_info root, issuer;

	REQUIRE(fx_open(&f) == 0);
	EXPECT_OK(certs_ca_init(f.dir, TD, &p));
	EXPECT_STR(listing(&f), PLAIN_FILES);
	EXPECT_EQ(file_mode(f.dir), 0700);
	EXPECT_EQ(file_mode(in_ca(&f, CERTS_CA_ROOT_KEY)), 0600);
	EXPECT_EQ(file_mode(in_ca(&f, CERTS_CA_ISSUER_KEY)), 0600);
	EXPECT_EQ(file_mode(in_ca(&f, CERTS_CA_ROOT_CRT)), 0644);
	EXPECT_EQ(file_mode(in_ca(&f, CERTS_CA_ISSUER_CRT)), 0644);
	EXPECT_EQ(file_mode(in_ca(&f, CERTS_CA_BUNDLE)), 0644);

	/* The root is a self-signed CA, the issuer a CA under it; both name the trust domain. */
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ROOT_CRT), &root) == 0);
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ISSUER_CRT), &issuer) == 0);
	EXPECT(root.is_ca && root.self_signed);
	EXPECT(issuer.is_ca && !issuer.self_signed);
	EXPECT_STR(issuer.issuer, root.subject);
	EXPECT_STR(root.id, "spiffe://" TD);
	EXPECT_STR(issuer.id, "spiffe://" TD);
	EXPECT_EQ(root.not_before, NOW - CERTS_BACKDATE);
	EXPECT_EQ(root.not_after, NOW + CERTS_ROOT_TTL_DEFAULT);
	EXPECT_EQ(issuer.not_before, NOW - CERTS_BACKDATE);
	EXPECT_EQ(issuer.not_after, NOW + CERTS_ISSUER_TTL_DEFAULT);
	fx_close(&f);
}

/* A second init fails with CERTS_E_EXISTS and leaves every byte of the CA as it was. */
TEST(init_refuses_existing)
{
	struct fx f;
	struct certs_ca_params p = params(NULL), ps = params(seal_key);
	struct snapshot before;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	snap_take(&f, &before);
	EXPECT_ERR(certs_ca_init(f.dir, TD, &p), CERTS_E_EXISTS);
	EXPECT(snap_same(&f, &before));
	/* Also for another trust domain, or when asked to seal. */
	EXPECT_ERR(certs_ca_init(f.dir, "other.org", &p), CERTS_E_EXISTS);
	EXPECT_ERR(certs_ca_init(f.dir, TD, &ps), CERTS_E_EXISTS);
	EXPECT(snap_same(&f, &before));
	snap_free(&before);
	fx_close(&f);
}

/* Any one CA file already in the directory blocks init, and survives it. */
TEST(init_refuses_any_ca_file)
{
	static const char precious[] = "precious\n";
	struct fx f;
	struct certs_ca_params p = params(NULL);

	REQUIRE(fx_open(&f) == 0);
	for (size_t i = 0; i < AD_ARRAY_LEN(ca_files); i++) {
		int err;

		REQUIRE(mkdir(f.dir, 0700) == 0);
		REQUIRE(util_write_file_atomic(in_ca(&f, ca_files[i]), precious,
			    sizeof(precious) - 1, 0600) == 0);
		err = certs_ca_init(f.dir, TD, &p);
		{
			if (err != CERTS_E_EXISTS)
				TEST__FAIL("with %s present, init returned %d", ca_files[i], err);
			if (!file_is(in_ca(&f, ca_files[i]), (const uint8_t *)precious,
				sizeof(precious) - 1))
				TEST__FAIL("init changed the existing %s", ca_files[i]);
			if (strcmp(listing(&f), ca_files[i]) != 0)
				TEST__FAIL("with %s present, init left %s", ca_files[i],
				    listing(&f));
		}
		rm_tree(f.dir);
	}
	fx_close(&f);
}

/* When a write fails part-way through init, no CA file is left behind. */
TEST(init_failure_leaves_nothing)
{
	static const char *const blockers[] = { "root.key.tmp", "root.crt.tmp",
		"issuer.key.tmp", "issuer.crt.tmp", "bundle.pem.tmp" };
	struct fx f;
	struct certs_ca_params p = params(NULL);

	REQUIRE(fx_open(&f) == 0);
	for (size_t i = 0; i < AD_ARRAY_LEN(blockers); i++) {
		/* A directory where a temporary file must go makes that write fail. */
		REQUIRE(mkdir(f.dir, 0700) == 0);
		REQUIRE(mkdir(in_ca(&f, blockers[i]), 0700) == 0);
		EXPECT_ERR(certs_ca_init(f.dir, TD, &p), -EISDIR);
		if (strcmp(listing(&f), blockers[i]) != 0)
			TEST__FAIL("init failing at %s left %s", blockers[i], listing(&f));
		rm_tree(f.dir);
	}
	fx_close(&f);
}

struct bad_init {
	const char *td;
	uint32_t root_ttl, issuer_ttl;
	int err;
};

/* Bad trust domains and CA lifetimes are refused before anything is written. */
TEST(init_rejects_bad_input)
{
	static char long_td[SPIFFE_TD_MAX + 2];
	struct bad_init cases[] = {
		{ "", 0, 0, CERTS_E_ID_TD_EMPTY },
		{ "exa mple.org", 0, 0, CERTS_E_ID_TD_CHAR },
		{ "example.org/ns", 0, 0, CERTS_E_ID_TD_CHAR },
		{ "ex\xc3\xa4mple.org", 0, 0, CERTS_E_ID_TD_CHAR },
		{ "example.org:443", 0, 0, CERTS_E_ID_PORT },
		{ "user@example.org", 0, 0, CERTS_E_ID_USERINFO },
		{ long_td, 0, 0, CERTS_E_ID_TD_TOO_LONG },
		{ TD, CERTS_CA_TTL_MIN - 1, 0, CERTS_E_TTL },
		{ TD, CERTS_CA_TTL_MAX + 1, 0, CERTS_E_TTL },
		{ TD, 0, CERTS_CA_TTL_MIN - 1, CERTS_E_TTL },
		{ TD, 0, CERTS_CA_TTL_MAX + 1, CERTS_E_TTL },
		{ TD, UINT32_MAX, 0, CERTS_E_TTL },
	};
	struct fx f;

	memset(long_td, 'a', SPIFFE_TD_MAX + 1);
	REQUIRE(fx_open(&f) == 0);
	for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
		struct certs_ca_params p = params(NULL);
		int err;

		p.root_ttl = cases[i].root_ttl;
		p.issuer_ttl = cases[i].issuer_ttl;
		err = certs_ca_init(f.dir, cases[i].td, &p);
		if (err != cases[i].err)
			TEST__FAIL("case %zu (\"%.20s\"): init returned %d, expected %d", i,
			    cases[i].td, err, cases[i].err);
		if (strcmp(listing(&f), "(none)") != 0)
			TEST__FAIL("case %zu left %s", i, listing(&f));
		rmdir(f.dir);
	}
	fx_close(&f);
}

/* The lifetime bounds themselves are accepted, and an issuer never outlives its root. */
TEST(init_ttl_bounds)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_info root, issuer;

	REQUIRE(fx_open(&f) == 0);
	p.root_ttl = CERTS_CA_TTL_MIN;
	p.issuer_ttl = CERTS_CA_TTL_MAX;
	EXPECT_OK(certs_ca_init(f.dir, TD, &p));
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ROOT_CRT), &root) == 0);
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ISSUER_CRT), &issuer) == 0);
	EXPECT_EQ(root.not_after, NOW + CERTS_CA_TTL_MIN);
	EXPECT_EQ(issuer.not_after, root.not_after);
	fx_close(&f);

	REQUIRE(fx_open(&f) == 0);
	p.root_ttl = CERTS_CA_TTL_MAX;
	p.issuer_ttl = CERTS_CA_TTL_MIN;
	EXPECT_OK(certs_ca_init(f.dir, TD, &p));
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ROOT_CRT), &root) == 0);
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ISSUER_CRT), &issuer) == 0);
	EXPECT_EQ(root.not_after, NOW + CERTS_CA_TTL_MAX);
	EXPECT_EQ(issuer.not_after, NOW + CERTS_CA_TTL_MIN);
	fx_close(&f);
}

/* Load gives the issuer back: lower-case trust domain, its validity and its DER. */
TEST(load)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = (struct certs_ca *)1;
	struct certs_info from_file, from_ca;
	const uint8_t *der;
	size_t der_len = 0;

	REQUIRE(fx_open(&f) == 0);
	/* Nothing there yet. */
	EXPECT_ERR(certs_ca_load(f.dir, NULL, &ca), CERTS_E_NO_CA);
	EXPECT(ca == NULL);
	REQUIRE(certs_ca_init(f.dir, "Example.ORG", &p) == 0);
	EXPECT_OK(certs_ca_load(f.dir, NULL, &ca));
	REQUIRE(ca != NULL);
	EXPECT_STR(certs_ca_td(ca), TD);
	EXPECT_EQ(certs_ca_not_after(ca), NOW + CERTS_ISSUER_TTL_DEFAULT);
	der = certs_ca_issuer_der(ca, &der_len);
	REQUIRE(der != NULL && der_len > 0);
	EXPECT_OK(certs_info_from_der(der, der_len, &from_ca));
	EXPECT_OK(certs_info_load(in_ca(&f, CERTS_CA_ISSUER_CRT), &from_file));
	EXPECT_STR(from_ca.fingerprint, from_file.fingerprint);
	certs_ca_free(ca);
	certs_ca_free(NULL);
	fx_close(&f);
}

struct ttl_case {
	uint32_t ttl;
	int err;
	int64_t life;		/* notAfter - now on success */
};

/* SVID lifetimes: 0 means one hour, 5 s..24 h accepted, anything else CERTS_E_TTL. */
TEST(svid_ttl)
{
	static const struct ttl_case cases[] = {
		{ 0, 0, CERTS_SVID_TTL_DEFAULT },
		{ CERTS_SVID_TTL_MIN, 0, 5 },
		{ CERTS_SVID_TTL_MAX, 0, 86400 },
		{ 3600, 0, 3600 },
		{ CERTS_SVID_TTL_MIN - 1, CERTS_E_TTL, 0 },
		{ CERTS_SVID_TTL_MAX + 1, CERTS_E_TTL, 0 },
		{ UINT32_MAX, CERTS_E_TTL, 0 },
	};
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = NULL;
	struct spiffe_id id;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(certs_ca_load(f.dir, NULL, &ca) == 0);
	must_id(WORKLOAD, &id);
	EXPECT_EQ(CERTS_SVID_TTL_DEFAULT, 3600);
	for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
		struct certs_svid *s = (struct certs_svid *)1;
		int err = certs_svid_new(ca, &id, cases[i].ttl, NOW, &s);

		if (err != cases[i].err) {
			TEST__FAIL("ttl %u: returned %d, expected %d", cases[i].ttl, err,
			    cases[i].err);
			if (err == 0)
				certs_svid_free(s);
			continue;
		}
		if (err != 0) {
			EXPECT(s == NULL);
			continue;
		}
		/* Back-dated for clock skew; ends exactly ttl after now. */
		EXPECT_EQ(certs_svid_not_before(s), NOW - CERTS_BACKDATE);
		EXPECT_EQ(certs_svid_not_after(s), NOW + cases[i].life);
		EXPECT(spiffe_id_equal(certs_svid_id(s), &id));
		certs_svid_free(s);
	}
	certs_ca_free(ca);
	fx_close(&f);
}

struct id_case {
	const char *id;		/* NULL: an all-zero struct spiffe_id */
	int err;
};

/* Only workload IDs (with a path) of the CA's own trust domain are signed. */
TEST(svid_id_checks)
{
	static const struct id_case cases[] = {
		{ WORKLOAD, 0 },
		{ "SPIFFE://EXAMPLE.org/W", 0 },
		{ "spiffe://other.org/ns/default/sa/web", CERTS_E_FOREIGN_TD },
		{ "spiffe://example.org.evil/w", CERTS_E_FOREIGN_TD },
		{ "spiffe://sub.example.org/w", CERTS_E_FOREIGN_TD },
		{ "spiffe://example.or/w", CERTS_E_FOREIGN_TD },
		{ "spiffe://example.org", CERTS_E_ID_NO_PATH },
		{ "spiffe://other.org", CERTS_E_ID_NO_PATH },
		{ NULL, CERTS_E_ID_NO_PATH },
	};
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = NULL;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(certs_ca_load(f.dir, NULL, &ca) == 0);
	for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
		struct spiffe_id id;
		struct certs_svid *s = NULL;
		int err;

		memset(&id, 0, sizeof(id));
		if (cases[i].id != NULL)
			must_id(cases[i].id, &id);
		err = certs_svid_new(ca, &id, 0, NOW, &s);
		if (err != cases[i].err)
			TEST__FAIL("%s: returned %d, expected %d",
			    cases[i].id ? cases[i].id : "(zero id)", err, cases[i].err);
		EXPECT((err == 0) == (s != NULL));
		certs_svid_free(s);
	}
	certs_ca_free(ca);
	fx_close(&f);
}

/* The issuer signs only inside its validity, and never past its own notAfter. */
TEST(svid_issuer_validity)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = NULL;
	struct certs_svid *s = NULL;
	struct spiffe_id id;
	int64_t ca_na;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(certs_ca_load(f.dir, NULL, &ca) == 0);
	must_id(WORKLOAD, &id);
	ca_na = certs_ca_not_after(ca);

	EXPECT_ERR(certs_svid_new(ca, &id, 0, ca_na + 1, &s), CERTS_E_CA_EXPIRED);
	EXPECT_ERR(certs_svid_new(ca, &id, 0, ca_na, &s), CERTS_E_CA_EXPIRED);
	EXPECT_ERR(certs_svid_new(ca, &id, 0, ca_na + 365 * 86400, &s), CERTS_E_CA_EXPIRED);
	/* Before the issuer's notBefore (now - 60) it cannot sign either. */
	EXPECT_ERR(certs_svid_new(ca, &id, 0, NOW - CERTS_BACKDATE - 1, &s),
	    CERTS_E_CA_EXPIRED);
	EXPECT(s == NULL);

	/* Close to expiry the SVID is cut short at the issuer's notAfter. */
	EXPECT_OK(certs_svid_new(ca, &id, 3600, ca_na - 100, &s));
	if (s != NULL) {
		EXPECT_EQ(certs_svid_not_before(s), ca_na - 100 - CERTS_BACKDATE);
		EXPECT_EQ(certs_svid_not_after(s), ca_na);
	}
	certs_svid_free(s);
	/* One second before expiry still works, for one second. */
	EXPECT_OK(certs_svid_new(ca, &id, 60, ca_na - 1, &s));
	if (s != NULL)
		EXPECT_EQ(certs_svid_not_after(s), ca_na);
	certs_svid_free(s);
	/* A ttl that ends exactly at the issuer's notAfter is not cut. */
	EXPECT_OK(certs_svid_new(ca, &id, 3600, ca_na - 3600, &s));
	if (s != NULL)
		EXPECT_EQ(certs_svid_not_after(s), ca_na);
	certs_svid_free(s);
	certs_ca_free(ca);
	fx_close(&f);
}

static bool
is_lower_hex(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Serials are 128 random bits: 32 lower-case hex digits, different every time. */
TEST(svid_serials)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = NULL;
	struct certs_svid *a = NULL, *b = NULL;
	struct certs_info info;
	const mbedtls_x509_crt *leaf;
	struct spiffe_id id;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(certs_ca_load(f.dir, NULL, &ca) == 0);
	must_id(WORKLOAD, &id);
	REQUIRE(certs_svid_new(ca, &id, 0, NOW, &a) == 0);
	REQUIRE(certs_svid_new(ca, &id, 0, NOW, &b) == 0);
	EXPECT_EQ(strlen(certs_svid_serial(a)), 32);
	EXPECT_EQ(strlen(certs_svid_serial(b)), 32);
	EXPECT(is_lower_hex(certs_svid_serial(a)));
	EXPECT(strcmp(certs_svid_serial(a), certs_svid_serial(b)) != 0);
	/* The reported serial is the certificate's. */
	leaf = certs_svid_peek_chain(a);
	EXPECT_OK(certs_info_from_der(leaf->raw.p, leaf->raw.len, &info));
	EXPECT_STR(info.serial, certs_svid_serial(a));
	EXPECT_STR(info.id, WORKLOAD);
	EXPECT(!info.is_ca);
	certs_svid_free(a);
	certs_svid_free(b);
	certs_ca_free(ca);
	fx_close(&f);
}

/* An issued chain (leaf, issuer) verifies against the CA's bundle for either TLS role. */
TEST(svid_chain_verifies)
{
	static const enum certs_role roles[] = { CERTS_ROLE_CLIENT, CERTS_ROLE_SERVER,
		CERTS_ROLE_ANY };
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = NULL;
	struct certs_svid *s = NULL;
	struct spiffe_id id, got;
	const mbedtls_x509_crt *chain;
	const uint8_t *issuer_der;
	size_t issuer_len = 0;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(certs_ca_load(f.dir, NULL, &ca) == 0);
	must_id(WORKLOAD, &id);
	REQUIRE(certs_svid_new(ca, &id, 0, NOW, &s) == 0);

	/* Exactly two certificates, the second the CA's issuer. */
	chain = certs_svid_peek_chain(s);
	issuer_der = certs_ca_issuer_der(ca, &issuer_len);
	REQUIRE(chain->next != NULL);
	EXPECT(chain->next->next == NULL || chain->next->next->raw.p == NULL);
	EXPECT(chain->next->raw.len == issuer_len &&
	    memcmp(chain->next->raw.p, issuer_der, issuer_len) == 0);
	/* The key held is the one certified. */
	EXPECT_OK(mbedtls_pk_check_pair(&chain->pk, certs_svid_peek_key(s), certs_rng, NULL));

	for (size_t i = 0; i < AD_ARRAY_LEN(roles); i++) {
		memset(&got, 0xaa, sizeof(got));
		EXPECT_OK(verify_svid(&f, s, NOW, roles[i], &got));
		EXPECT(spiffe_id_equal(&got, &id));
		EXPECT_STR(got.str, WORKLOAD);
	}
	certs_svid_free(s);
	certs_ca_free(ca);
	fx_close(&f);
}

/* Make a SubjectPublicKeyInfo for a fresh key on curve grp. */
static int
spki_for(mbedtls_ecp_group_id grp, uint8_t *buf, size_t size, const uint8_t **spki,
    size_t *len)
{
	mbedtls_pk_context pk;
	int n = -1;

	mbedtls_pk_init(&pk);
	if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0 &&
	    mbedtls_ecp_gen_key(grp, mbedtls_pk_ec(pk), certs_rng, NULL) == 0)
		n = mbedtls_pk_write_pubkey_der(&pk, buf, size);
	mbedtls_pk_free(&pk);
	if (n <= 0)
		return -1;
	*spki = buf + size - (size_t)n;
	*len = (size_t)n;
	return 0;
}

/* certs_ca_sign takes only a well-formed P-256 public key (CERTS_E_KEY otherwise). */
TEST(sign_checks_key)
{
	static const uint8_t garbage[] = "this is not a SubjectPublicKeyInfo";
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = NULL;
	struct spiffe_id id;
	uint8_t der[CERTS_DER_MAX], buf[256];
	const uint8_t *spki;
	size_t der_len = 1, spki_len = 0;
	struct certs_info info;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(certs_ca_load(f.dir, NULL, &ca) == 0);
	must_id(WORKLOAD, &id);

	EXPECT_ERR(certs_ca_sign(ca, &id, garbage, sizeof(garbage), 0, NOW, der, &der_len),
	    CERTS_E_KEY);
	EXPECT_EQ(der_len, 0);
	EXPECT_ERR(certs_ca_sign(ca, &id, garbage, 0, 0, NOW, der, &der_len), CERTS_E_KEY);

	/* A valid key on the wrong curve. */
	REQUIRE(spki_for(MBEDTLS_ECP_DP_SECP384R1, buf, sizeof(buf), &spki, &spki_len) == 0);
	EXPECT_ERR(certs_ca_sign(ca, &id, spki, spki_len, 0, NOW, der, &der_len), CERTS_E_KEY);

	/* A P-256 key is signed; a cut-short one is not. */
	REQUIRE(spki_for(MBEDTLS_ECP_DP_SECP256R1, buf, sizeof(buf), &spki, &spki_len) == 0);
	EXPECT_ERR(certs_ca_sign(ca, &id, spki, spki_len - 1, 0, NOW, der, &der_len),
	    CERTS_E_KEY);
	EXPECT_OK(certs_ca_sign(ca, &id, spki, spki_len, 0, NOW, der, &der_len));
	REQUIRE(der_len > 0 && der_len <= CERTS_DER_MAX);
	EXPECT_OK(certs_info_from_der(der, der_len, &info));
	EXPECT_STR(info.id, WORKLOAD);
	EXPECT_EQ(info.not_after, NOW + CERTS_SVID_TTL_DEFAULT);
	certs_ca_free(ca);
	fx_close(&f);
}

/* Rotating the issuer alone: new issuer, same root and bundle, old SVIDs still verify. */
TEST(rotate_issuer)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *old_ca = NULL, *new_ca = NULL;
	struct certs_svid *old_svid = NULL, *new_svid = NULL;
	struct snapshot before;
	struct spiffe_id id, got;
	char fp_before[65], fp_after[65];
	struct certs_info root, issuer;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(certs_ca_load(f.dir, NULL, &old_ca) == 0);
	must_id(WORKLOAD, &id);
	REQUIRE(certs_svid_new(old_ca, &id, 0, NOW, &old_svid) == 0);
	REQUIRE(fingerprint_of(in_ca(&f, CERTS_CA_ISSUER_CRT), fp_before) == 0);
	snap_take(&f, &before);

	p.now = NOW + 600;
	EXPECT_OK(certs_ca_rotate(f.dir, false, &p));
	EXPECT_STR(listing(&f), PLAIN_FILES);
	REQUIRE(fingerprint_of(in_ca(&f, CERTS_CA_ISSUER_CRT), fp_after) == 0);
	EXPECT(strcmp(fp_before, fp_after) != 0);
	/* Root and bundle are untouched; the issuer key is new. */
	EXPECT(file_is(in_ca(&f, CERTS_CA_BUNDLE), before.data[F_BUNDLE], before.len[F_BUNDLE]));
	EXPECT(file_is(in_ca(&f, CERTS_CA_ROOT_CRT), before.data[F_ROOT_CRT],
	    before.len[F_ROOT_CRT]));
	EXPECT(file_is(in_ca(&f, CERTS_CA_ROOT_KEY), before.data[F_ROOT_KEY],
	    before.len[F_ROOT_KEY]));
	EXPECT(!file_is(in_ca(&f, CERTS_CA_ISSUER_KEY), before.data[F_ISSUER_KEY],
	    before.len[F_ISSUER_KEY]));
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ROOT_CRT), &root) == 0);
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ISSUER_CRT), &issuer) == 0);
	EXPECT_STR(issuer.issuer, root.subject);
	EXPECT_EQ(issuer.not_before, NOW + 600 - CERTS_BACKDATE);

	REQUIRE(certs_ca_load(f.dir, NULL, &new_ca) == 0);
	REQUIRE(certs_svid_new(new_ca, &id, 0, NOW + 600, &new_svid) == 0);
	EXPECT_OK(verify_svid(&f, old_svid, NOW + 600, CERTS_ROLE_ANY, &got));
	EXPECT_OK(verify_svid(&f, new_svid, NOW + 600, CERTS_ROLE_ANY, &got));
	EXPECT(spiffe_id_equal(&got, &id));

	snap_free(&before);
	certs_svid_free(old_svid);
	certs_svid_free(new_svid);
	certs_ca_free(old_ca);
	certs_ca_free(new_ca);
	fx_close(&f);
}

/* Without the root key (moved offline) the issuer cannot rotate, and nothing changes. */
TEST(rotate_needs_root_key)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct snapshot before;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(unlink(in_ca(&f, CERTS_CA_ROOT_KEY)) == 0);
	snap_take(&f, &before);
	EXPECT_ERR(certs_ca_rotate(f.dir, false, &p), CERTS_E_NO_ROOT_KEY);
	EXPECT(snap_same(&f, &before));
	snap_free(&before);

	/* A root key that is not the root's is refused the same way. */
	REQUIRE(copy_file(in_ca(&f, CERTS_CA_ISSUER_KEY), in_ca(&f, CERTS_CA_ROOT_KEY)) == 0);
	snap_take(&f, &before);
	EXPECT_ERR(certs_ca_rotate(f.dir, false, &p), CERTS_E_KEY);
	EXPECT(snap_same(&f, &before));
	snap_free(&before);

	/* And a directory without a CA has nothing to rotate. */
	REQUIRE(mkdir(in_ca(&f, "empty"), 0700) == 0);
	EXPECT_ERR(certs_ca_rotate(in_ca(&f, "empty"), false, &p), CERTS_E_NO_CA);
	fx_close(&f);
}

/*
 * A rotation that fails between the new issuer key and its certificate
 * leaves a pair that load refuses (CERTS_E_KEY), never one it signs with;
 * the next rotation repairs it.
 */
TEST(rotate_failure_detected)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = NULL;
	struct snapshot before;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	snap_take(&f, &before);
	REQUIRE(mkdir(in_ca(&f, "issuer.crt.tmp"), 0700) == 0);
	EXPECT_ERR(certs_ca_rotate(f.dir, false, &p), -EISDIR);
	EXPECT(file_is(in_ca(&f, CERTS_CA_ISSUER_CRT), before.data[F_ISSUER_CRT],
	    before.len[F_ISSUER_CRT]));
	EXPECT(file_is(in_ca(&f, CERTS_CA_BUNDLE), before.data[F_BUNDLE], before.len[F_BUNDLE]));
	EXPECT_ERR(certs_ca_load(f.dir, NULL, &ca), CERTS_E_KEY);
	EXPECT(ca == NULL);
	snap_free(&before);

	REQUIRE(rmdir(in_ca(&f, "issuer.crt.tmp")) == 0);
	EXPECT_OK(certs_ca_rotate(f.dir, false, &p));
	EXPECT_OK(certs_ca_load(f.dir, NULL, &ca));
	certs_ca_free(ca);
	fx_close(&f);
}

/* A root rotation keeps both anchors until the old one is removed, then only new SVIDs verify. */
TEST(rotate_root)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *old_ca = NULL, *new_ca = NULL;
	struct certs_svid *old_svid = NULL, *new_svid = NULL;
	struct certs_bundle *b = NULL;
	struct certs_info a0, a1, issuer, root;
	struct spiffe_id id, got;
	char old_root[65], new_root[65], prefix[9];
	int64_t t = NOW + 3600;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	REQUIRE(certs_ca_load(f.dir, NULL, &old_ca) == 0);
	must_id(WORKLOAD, &id);
	REQUIRE(certs_svid_new(old_ca, &id, 0, t - 60, &old_svid) == 0);
	REQUIRE(fingerprint_of(in_ca(&f, CERTS_CA_ROOT_CRT), old_root) == 0);

	p.now = t - 30;
	EXPECT_OK(certs_ca_rotate(f.dir, true, &p));
	EXPECT_STR(listing(&f), PLAIN_FILES);
	REQUIRE(fingerprint_of(in_ca(&f, CERTS_CA_ROOT_CRT), new_root) == 0);
	EXPECT(strcmp(old_root, new_root) != 0);
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ROOT_CRT), &root) == 0);
	REQUIRE(certs_info_load(in_ca(&f, CERTS_CA_ISSUER_CRT), &issuer) == 0);
	EXPECT_STR(issuer.issuer, root.subject);

	/* The bundle holds the old anchor, then the new one. */
	REQUIRE(certs_bundle_load(in_ca(&f, CERTS_CA_BUNDLE), &b) == 0);
	EXPECT_EQ(certs_bundle_count(b), 2);
	EXPECT_OK(certs_bundle_info(b, 0, &a0));
	EXPECT_OK(certs_bundle_info(b, 1, &a1));
	EXPECT_STR(a0.fingerprint, old_root);
	EXPECT_STR(a1.fingerprint, new_root);

	REQUIRE(certs_ca_load(f.dir, NULL, &new_ca) == 0);
	REQUIRE(certs_svid_new(new_ca, &id, 0, t, &new_svid) == 0);
	EXPECT_OK(certs_verify_chain(b, TD, certs_svid_peek_chain(old_svid), t, CERTS_ROLE_ANY,
	    &got));
	EXPECT_OK(certs_verify_chain(b, TD, certs_svid_peek_chain(new_svid), t, CERTS_ROLE_ANY,
	    &got));

	/* Retire the old root by fingerprint prefix. */
	memcpy(prefix, old_root, 8);
	prefix[8] = '\0';
	EXPECT_OK(certs_bundle_remove(b, prefix));
	EXPECT_EQ(certs_bundle_count(b), 1);
	memset(&got, 0xaa, sizeof(got));
	EXPECT_ERR(certs_verify_chain(b, TD, certs_svid_peek_chain(old_svid), t, CERTS_ROLE_ANY,
		       &got),
	    CERTS_E_UNKNOWN_AUTHORITY);
	EXPECT_EQ(got.len, 0);
	EXPECT_OK(certs_verify_chain(b, TD, certs_svid_peek_chain(new_svid), t, CERTS_ROLE_ANY,
	    &got));
	EXPECT(spiffe_id_equal(&got, &id));

	certs_bundle_free(b);
	certs_svid_free(old_svid);
	certs_svid_free(new_svid);
	certs_ca_free(old_ca);
	certs_ca_free(new_ca);
	fx_close(&f);
}

/* A sealed CA keeps no clear issuer key on disk and opens only with its seal key. */
TEST(sealed_init_and_load)
{
	struct fx f;
	struct certs_ca_params p = params(seal_key);
	struct certs_ca *ca = (struct certs_ca *)1;
	struct certs_svid *s = NULL;
	struct spiffe_id id, got;
	uint8_t *data = NULL;
	size_t len = 0;

	REQUIRE(fx_open(&f) == 0);
	EXPECT_OK(certs_ca_init(f.dir, TD, &p));
	EXPECT_STR(listing(&f), SEALED_FILES);
	EXPECT_EQ(file_mode(in_ca(&f, CERTS_CA_ISSUER_KEY_SEALED)), 0600);
	EXPECT(access(in_ca(&f, CERTS_CA_ISSUER_KEY), F_OK) != 0);
	REQUIRE(util_read_file(in_ca(&f, CERTS_CA_ISSUER_KEY_SEALED), 1 << 20, &data, &len) == 0);
	EXPECT(certs_is_sealed(data, len));
	EXPECT(memmem(data, len, "PRIVATE KEY", 11) == NULL);
	free(data);

	EXPECT_ERR(certs_ca_load(f.dir, other_seal_key, &ca), CERTS_E_SEAL);
	EXPECT(ca == NULL);
	EXPECT_ERR(certs_ca_load(f.dir, NULL, &ca), CERTS_E_SEAL_FORMAT);
	EXPECT(ca == NULL);
	EXPECT_OK(certs_ca_load(f.dir, seal_key, &ca));
	REQUIRE(ca != NULL);
	must_id(WORKLOAD, &id);
	EXPECT_OK(certs_svid_new(ca, &id, 0, NOW, &s));
	if (s != NULL)
		EXPECT_OK(verify_svid(&f, s, NOW, CERTS_ROLE_ANY, &got));
	certs_svid_free(s);
	certs_ca_free(ca);

	/* A damaged sealed key does not open. */
	REQUIRE(truncate(in_ca(&f, CERTS_CA_ISSUER_KEY_SEALED), (off_t)len / 2) == 0);
	EXPECT_ERR(certs_ca_load(f.dir, seal_key, &ca), CERTS_E_SEAL);
	fx_close(&f);
}

/* Rotating a sealed CA without its seal key is refused and changes nothing. */
TEST(sealed_rotate)
{
	struct fx f;
	struct certs_ca_params p = params(seal_key), nokey = params(NULL);
	struct certs_ca *ca = NULL;
	struct snapshot before;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	snap_take(&f, &before);
	EXPECT_ERR(certs_ca_rotate(f.dir, false, &nokey), CERTS_E_SEAL_FORMAT);
	EXPECT(snap_same(&f, &before));
	EXPECT_ERR(certs_ca_rotate(f.dir, true, &nokey), CERTS_E_SEAL_FORMAT);
	EXPECT(snap_same(&f, &before));
	snap_free(&before);

	/* With the key it rotates and stays sealed. */
	EXPECT_OK(certs_ca_rotate(f.dir, false, &p));
	EXPECT_STR(listing(&f), SEALED_FILES);
	EXPECT_OK(certs_ca_load(f.dir, seal_key, &ca));
	certs_ca_free(ca);
	fx_close(&f);
}

/* Rotating a plain CA with a seal key seals the new issuer key and removes the clear one. */
TEST(rotate_seals_plain_ca)
{
	struct fx f;
	struct certs_ca_params p = params(NULL), ps = params(seal_key);
	struct certs_ca *ca = NULL;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	EXPECT_OK(certs_ca_rotate(f.dir, false, &ps));
	EXPECT_STR(listing(&f), SEALED_FILES);
	EXPECT_ERR(certs_ca_load(f.dir, NULL, &ca), CERTS_E_SEAL_FORMAT);
	EXPECT_OK(certs_ca_load(f.dir, seal_key, &ca));
	certs_ca_free(ca);
	fx_close(&f);
}

/* A damaged or wrong issuer key is reported as CERTS_E_KEY, never a crash or a bad CA. */
TEST(bad_issuer_key)
{
	struct fx f;
	struct certs_ca_params p = params(NULL);
	struct certs_ca *ca = (struct certs_ca *)1;
	struct stat st;
	const char *key;

	REQUIRE(fx_open(&f) == 0);
	REQUIRE(certs_ca_init(f.dir, TD, &p) == 0);
	key = in_ca(&f, CERTS_CA_ISSUER_KEY);
	REQUIRE(copy_file(key, in_ca(&f, "issuer.key.orig")) == 0);

	/* Cut in half. */
	REQUIRE(stat(key, &st) == 0);
	REQUIRE(truncate(key, st.st_size / 2) == 0);
	EXPECT_ERR(certs_ca_load(f.dir, NULL, &ca), CERTS_E_KEY);
	EXPECT(ca == NULL);
	/* Empty. */
	REQUIRE(truncate(key, 0) == 0);
	EXPECT_ERR(certs_ca_load(f.dir, NULL, &ca), CERTS_E_KEY);
	/* A good key, but the root's: it does not match the issuer certificate. */
	REQUIRE(copy_file(in_ca(&f, CERTS_CA_ROOT_KEY), key) == 0);
	EXPECT_ERR(certs_ca_load(f.dir, NULL, &ca), CERTS_E_KEY);
	EXPECT(ca == NULL);
	/* Missing altogether. */
	REQUIRE(unlink(key) == 0);
	EXPECT_ERR(certs_ca_load(f.dir, NULL, &ca), CERTS_E_NO_CA);
	/* Put back, it loads again. */
	REQUIRE(copy_file(in_ca(&f, "issuer.key.orig"), key) == 0);
	EXPECT_OK(certs_ca_load(f.dir, NULL, &ca));
	certs_ca_free(ca);
	fx_close(&f);
}

TEST_MAIN(init_files_and_modes, init_refuses_existing, init_refuses_any_ca_file,
    init_failure_leaves_nothing, init_rejects_bad_input, init_ttl_bounds, load, svid_ttl,
    svid_id_checks, svid_issuer_validity, svid_serials, svid_chain_verifies, sign_checks_key,
    rotate_issuer, rotate_needs_root_key, rotate_failure_detected, rotate_root,
    sealed_init_and_load, sealed_rotate, rotate_seals_plain_ca, bad_issuer_key)
