/*
 * Unit tests for certs/bundle.c: parsing trust anchors, adding and removing
 * them, and writing the bundle back out. The certificates come from CAs made
 * with certs_ca_init in a temp directory.
 */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/x509_crt.h>

#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/info.h"
#include "certs/svid.h"
#include "tests/unit/test.h"

#define NOW INT64_C(1767225600)
#define TD "example.org"

/* PEM text, NUL-terminated. */
struct pem {
	char *p;
	size_t len;
};

/* Three unrelated roots, the first CA's issuer, and a leaf it signed. */
struct world {
	char tmp[64];
	struct pem root[3];
	struct pem issuer;
	struct pem leaf;
	char fp[3][65];		/* the roots' SHA-256 fingerprints */
};

static int
read_pem(const char *dir, const char *file, struct pem *out)
{
	char path[160];
	uint8_t *data = NULL;
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	err = util_read_file(path, 1 << 20, &data, &out->len);
	out->p = (char *)data;
	return err;
}

/* The first certificate of a PEM chain, as its own PEM text. */
static int
first_pem(const char *chain, struct pem *out)
{
	static const char end[] = "-----END CERTIFICATE-----\n";
	const char *e = strstr(chain, end);

	if (e == NULL)
		return -1;
	out->len = (size_t)(e - chain) + strlen(end);
	out->p = strndup(chain, out->len);
	return out->p != NULL ? 0 : -1;
}

static int
make_leaf(const char *dir, struct pem *out)
{
	struct certs_ca *ca = NULL;
	struct certs_svid *s = NULL;
	struct spiffe_id id;
	char *chain = NULL, *key = NULL;
	size_t chain_len = 0, key_len = 0;
	int err;

	err = spiffe_id_parse("spiffe://example.org/w", 22, &id, NULL);
	if (err == 0)
		err = certs_ca_load(dir, NULL, &ca);
	if (err == 0)
		err = certs_svid_new(ca, &id, 0, NOW, &s);
	if (err == 0)
		err = certs_svid_write_pem(s, &chain, &chain_len, &key, &key_len);
	if (err == 0)
		err = first_pem(chain, out);
	free(chain);
	util_free_wiped(key, key_len);
	certs_svid_free(s);
	certs_ca_free(ca);
	return err;
}

static void world_close(struct world *w);

/* Make three CAs and gather their material; on failure nothing is left behind. */
static int
world_open(struct world *w)
{
	struct certs_ca_params p = { .now = NOW };
	char dir[128];
	struct certs_info info;

	memset(w, 0, sizeof(*w));
	if (certs_crypto_init() != 0)
		return -1;
	snprintf(w->tmp, sizeof(w->tmp), "/tmp/authd-bundle-XXXXXX");
	if (mkdtemp(w->tmp) == NULL) {
		w->tmp[0] = '\0';
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), "%s/ca%d", w->tmp, i);
		if (certs_ca_init(dir, TD, &p) != 0 ||
		    read_pem(dir, CERTS_CA_ROOT_CRT, &w->root[i]) != 0)
			goto fail;
		snprintf(dir, sizeof(dir), "%s/ca%d/%s", w->tmp, i, CERTS_CA_ROOT_CRT);
		if (certs_info_load(dir, &info) != 0)
			goto fail;
		memcpy(w->fp[i], info.fingerprint, sizeof(w->fp[i]));
	}
	snprintf(dir, sizeof(dir), "%s/ca0", w->tmp);
	if (read_pem(dir, CERTS_CA_ISSUER_CRT, &w->issuer) != 0 || make_leaf(dir, &w->leaf) != 0)
		goto fail;
	return 0;
fail:
	world_close(w);
	return -1;
}

static void
world_close(struct world *w)
{
	for (int i = 0; i < 3; i++)
		free(w->root[i].p);
	free(w->issuer.p);
	free(w->leaf.p);
	if (w->tmp[0] != '\0' && test_rm_tree(w->tmp) != 0)
		fprintf(stderr, "  cannot remove %s\n", w->tmp);
}

/* Parse an exact-size heap copy of data, so nothing follows it. */
static int
parse_exact(const void *data, size_t len, struct certs_bundle **out)
{
	uint8_t *copy = malloc(len ? len : 1);
	int err;

	if (copy == NULL)
		abort();
	memcpy(copy, data, len);
	err = certs_bundle_parse(copy, len, out);
	free(copy);
	return err;
}

static int
parse_pem(const struct pem *pem, struct certs_bundle **out)
{
	return parse_exact(pem->p, pem->len, out);
}

static int
add_pem(struct certs_bundle *b, const struct pem *pem)
{
	return certs_bundle_add(b, (const uint8_t *)pem->p, pem->len);
}

/* Two PEM texts one after the other, in a new buffer. */
static struct pem
concat(const struct pem *a, const struct pem *b)
{
	struct pem out = { malloc(a->len + b->len + 1), a->len + b->len };

	if (out.p == NULL)
		abort();
	memcpy(out.p, a->p, a->len);
	memcpy(out.p + a->len, b->p, b->len);
	out.p[out.len] = '\0';
	return out;
}

/* Whether anchor i of b has fingerprint fp. */
static bool
anchor_is(const struct certs_bundle *b, size_t i, const char *fp)
{
	struct certs_info info;

	return certs_bundle_info(b, i, &info) == 0 && strcmp(info.fingerprint, fp) == 0;
}

/* One root parses to a bundle of one anchor with that root's facts. */
TEST(parse_root)
{
	struct world w;
	struct certs_bundle *b = NULL;
	struct certs_info info;

	REQUIRE(world_open(&w) == 0);
	EXPECT_OK(parse_pem(&w.root[0], &b));
	REQUIRE(b != NULL);
	EXPECT_EQ(certs_bundle_count(b), 1);
	EXPECT_OK(certs_bundle_info(b, 0, &info));
	EXPECT_STR(info.fingerprint, w.fp[0]);
	EXPECT(info.is_ca && info.self_signed);
	EXPECT_STR(info.id, "spiffe://" TD);
	EXPECT_ERR(certs_bundle_info(b, 1, &info), CERTS_E_INVAL);
	EXPECT(certs_bundle_peek_chain(b) != NULL && certs_bundle_peek_chain(b)->raw.p != NULL);
	certs_bundle_free(b);
	certs_bundle_free(NULL);
	world_close(&w);
}

/* Only self-signed CA certificates are anchors; anything else fails the whole parse. */
TEST(parse_rejects)
{
	static const char bad_pem[] = "-----BEGIN CERTIFICATE-----\nAAAA\n"
				      "-----END CERTIFICATE-----\n";
	static const char text[] = "not a certificate";
	struct world w;
	struct certs_bundle *b = (struct certs_bundle *)1;
	struct pem root_leaf, root_issuer;
	uint8_t *big;

	REQUIRE(world_open(&w) == 0);
	EXPECT_ERR(parse_pem(&w.leaf, &b), CERTS_E_BUNDLE_NOT_ANCHOR);
	EXPECT(b == NULL);
	EXPECT_ERR(parse_pem(&w.issuer, &b), CERTS_E_BUNDLE_NOT_ANCHOR);
	root_leaf = concat(&w.root[0], &w.leaf);
	root_issuer = concat(&w.root[0], &w.issuer);
	EXPECT_ERR(parse_pem(&root_leaf, &b), CERTS_E_BUNDLE_NOT_ANCHOR);
	EXPECT_ERR(parse_pem(&root_issuer, &b), CERTS_E_BUNDLE_NOT_ANCHOR);
	free(root_leaf.p);
	free(root_issuer.p);

	EXPECT_ERR(parse_exact(text, sizeof(text) - 1, &b), CERTS_E_PEM);
	EXPECT_ERR(parse_exact(bad_pem, sizeof(bad_pem) - 1, &b), CERTS_E_PEM);
	EXPECT_ERR(parse_exact("", 0, &b), CERTS_E_PEM);
	EXPECT_ERR(parse_exact("\n", 1, &b), CERTS_E_PEM);
	/* The PEM cut inside its only block. */
	EXPECT_ERR(parse_exact(w.root[0].p, w.root[0].len / 2, &b), CERTS_E_PEM);
	EXPECT(b == NULL);

	big = calloc(1, CERTS_BUNDLE_MAX_BYTES + 1);
	REQUIRE(big != NULL);
	EXPECT_ERR(certs_bundle_parse(big, CERTS_BUNDLE_MAX_BYTES + 1, &b), CERTS_E_TOO_BIG);
	free(big);
	world_close(&w);
}

/* A bundle cut inside its last anchor must not quietly lose that anchor. */
TEST(parse_truncated_last_anchor)
{
	struct world w;
	struct certs_bundle *b = NULL;
	struct pem both;
	size_t cut;
	int err;

	REQUIRE(world_open(&w) == 0);
	both = concat(&w.root[0], &w.root[1]);
	cut = w.root[0].len + w.root[1].len / 2;
	err = parse_exact(both.p, cut, &b);
	EXPECT_ERR(err, CERTS_E_PEM);
	certs_bundle_free(b);
	free(both.p);
	world_close(&w);
}

/* A single DER certificate is accepted as well as PEM. */
TEST(parse_der)
{
	struct world w;
	struct certs_bundle *pem = NULL, *der = NULL;
	const mbedtls_x509_crt *c;

	REQUIRE(world_open(&w) == 0);
	REQUIRE(parse_pem(&w.root[0], &pem) == 0);
	c = certs_bundle_peek_chain(pem);
	EXPECT_OK(parse_exact(c->raw.p, c->raw.len, &der));
	REQUIRE(der != NULL);
	EXPECT_EQ(certs_bundle_count(der), 1);
	EXPECT(anchor_is(der, 0, w.fp[0]));
	/* The DER of a non-anchor is refused like its PEM. */
	certs_bundle_free(der);
	der = NULL;
	certs_bundle_free(pem);
	REQUIRE(parse_pem(&w.root[1], &pem) == 0);
	c = certs_bundle_peek_chain(pem);
	EXPECT_ERR(parse_exact(c->raw.p, c->raw.len - 1, &der), CERTS_E_PEM);
	certs_bundle_free(pem);
	world_close(&w);
}

/* Add appends new anchors, refuses duplicates and non-anchors, and is all-or-nothing. */
TEST(add)
{
	static const char text[] = "garbage";
	struct world w;
	struct certs_bundle *b = NULL;
	struct pem new_and_dup;

	REQUIRE(world_open(&w) == 0);
	REQUIRE(parse_pem(&w.root[0], &b) == 0);
	EXPECT_OK(add_pem(b, &w.root[1]));
	EXPECT_EQ(certs_bundle_count(b), 2);
	EXPECT(anchor_is(b, 0, w.fp[0]));
	EXPECT(anchor_is(b, 1, w.fp[1]));

	EXPECT_ERR(add_pem(b, &w.root[1]), CERTS_E_BUNDLE_DUP);
	EXPECT_ERR(add_pem(b, &w.root[0]), CERTS_E_BUNDLE_DUP);
	EXPECT_EQ(certs_bundle_count(b), 2);
	EXPECT_ERR(add_pem(b, &w.leaf), CERTS_E_BUNDLE_NOT_ANCHOR);
	EXPECT_ERR(add_pem(b, &w.issuer), CERTS_E_BUNDLE_NOT_ANCHOR);
	EXPECT_ERR(certs_bundle_add(b, (const uint8_t *)text, sizeof(text) - 1), CERTS_E_PEM);
	EXPECT_ERR(certs_bundle_add(b, (const uint8_t *)"", 0), CERTS_E_PEM);
	EXPECT_EQ(certs_bundle_count(b), 2);

	/* A new anchor together with a duplicate: neither is added. */
	new_and_dup = concat(&w.root[2], &w.root[0]);
	EXPECT_ERR(add_pem(b, &new_and_dup), CERTS_E_BUNDLE_DUP);
	EXPECT_EQ(certs_bundle_count(b), 2);
	EXPECT(anchor_is(b, 0, w.fp[0]));
	EXPECT(anchor_is(b, 1, w.fp[1]));
	free(new_and_dup.p);

	EXPECT_OK(add_pem(b, &w.root[2]));
	EXPECT_EQ(certs_bundle_count(b), 3);
	EXPECT(anchor_is(b, 2, w.fp[2]));
	certs_bundle_free(b);
	world_close(&w);
}

/* Remove takes an unambiguous prefix of 8+ hex digits and never empties the bundle. */
TEST(remove_anchor)
{
	struct world w;
	struct certs_bundle *b = NULL;
	char prefix[66], upper[9];

	REQUIRE(world_open(&w) == 0);
	REQUIRE(parse_pem(&w.root[0], &b) == 0);
	REQUIRE(add_pem(b, &w.root[1]) == 0);

	/* Too short, empty, or longer than a fingerprint. */
	snprintf(prefix, sizeof(prefix), "%.7s", w.fp[1]);
	EXPECT_ERR(certs_bundle_remove(b, prefix), CERTS_E_INVAL);
	EXPECT_ERR(certs_bundle_remove(b, ""), CERTS_E_INVAL);
	snprintf(prefix, sizeof(prefix), "%s0", w.fp[1]);
	EXPECT_ERR(certs_bundle_remove(b, prefix), CERTS_E_INVAL);
	/* Not there: the third root, and a prefix of neither. */
	snprintf(prefix, sizeof(prefix), "%.8s", w.fp[2]);
	if (strncmp(prefix, w.fp[0], 8) != 0 && strncmp(prefix, w.fp[1], 8) != 0)
		EXPECT_ERR(certs_bundle_remove(b, prefix), CERTS_E_NOT_FOUND);
	for (const char *d = "0123456789abcdef"; *d != '\0'; d++) {
		memset(prefix, *d, 8);
		prefix[8] = '\0';
		if (strncmp(prefix, w.fp[0], 8) != 0 && strncmp(prefix, w.fp[1], 8) != 0)
			break;
	}
	EXPECT_ERR(certs_bundle_remove(b, prefix), CERTS_E_NOT_FOUND);
	EXPECT_EQ(certs_bundle_count(b), 2);

	/* Upper-case hex works too; the full fingerprint is a prefix of itself. */
	for (int i = 0; i < 8; i++)
		upper[i] = (char)(w.fp[1][i] >= 'a' ? w.fp[1][i] - 'a' + 'A' : w.fp[1][i]);
	upper[8] = '\0';
	EXPECT_OK(certs_bundle_remove(b, upper));
	EXPECT_EQ(certs_bundle_count(b), 1);
	EXPECT(anchor_is(b, 0, w.fp[0]));
	EXPECT_ERR(certs_bundle_remove(b, upper), CERTS_E_NOT_FOUND);

	/* The last anchor stays. */
	EXPECT_ERR(certs_bundle_remove(b, w.fp[0]), CERTS_E_BUNDLE_LAST);
	EXPECT_EQ(certs_bundle_count(b), 1);
	EXPECT(anchor_is(b, 0, w.fp[0]));
	certs_bundle_free(b);
	world_close(&w);
}

/* write_pem gives back what parses to the same anchors, in order. */
TEST(write_pem_round_trip)
{
	struct world w;
	struct certs_bundle *b = NULL, *again = NULL;
	char *out = NULL;
	size_t out_len = 0;

	REQUIRE(world_open(&w) == 0);
	REQUIRE(parse_pem(&w.root[0], &b) == 0);
	/* One anchor is written exactly as the CA wrote its root.crt. */
	EXPECT_OK(certs_bundle_write_pem(b, &out, &out_len));
	EXPECT(out != NULL && out_len == w.root[0].len && memcmp(out, w.root[0].p, out_len) == 0);
	free(out);

	REQUIRE(add_pem(b, &w.root[1]) == 0);
	REQUIRE(add_pem(b, &w.root[2]) == 0);
	EXPECT_OK(certs_bundle_write_pem(b, &out, &out_len));
	REQUIRE(out != NULL);
	EXPECT_EQ(strlen(out), out_len);
	EXPECT_OK(parse_exact(out, out_len, &again));
	REQUIRE(again != NULL);
	EXPECT_EQ(certs_bundle_count(again), 3);
	for (size_t i = 0; i < 3; i++)
		EXPECT(anchor_is(again, i, w.fp[i]));
	certs_bundle_free(again);
	free(out);
	certs_bundle_free(b);
	world_close(&w);
}

/* Loading from a file: the CA's bundle.pem, a missing file, and one too big. */
TEST(load_file)
{
	struct world w;
	struct certs_bundle *b = (struct certs_bundle *)1;
	char path[160];
	FILE *f;

	REQUIRE(world_open(&w) == 0);
	snprintf(path, sizeof(path), "%s/ca1/%s", w.tmp, CERTS_CA_BUNDLE);
	EXPECT_OK(certs_bundle_load(path, &b));
	REQUIRE(b != NULL);
	EXPECT_EQ(certs_bundle_count(b), 1);
	EXPECT(anchor_is(b, 0, w.fp[1]));
	certs_bundle_free(b);

	snprintf(path, sizeof(path), "%s/missing.pem", w.tmp);
	EXPECT_ERR(certs_bundle_load(path, &b), -ENOENT);
	EXPECT(b == NULL);

	snprintf(path, sizeof(path), "%s/big.pem", w.tmp);
	f = fopen(path, "wb");
	REQUIRE(f != NULL);
	for (size_t n = 0; n <= CERTS_BUNDLE_MAX_BYTES; n += w.root[0].len)
		fwrite(w.root[0].p, 1, w.root[0].len, f);
	fclose(f);
	EXPECT_ERR(certs_bundle_load(path, &b), CERTS_E_TOO_BIG);
	world_close(&w);
}

TEST_MAIN(parse_root, parse_rejects, parse_truncated_last_anchor, parse_der, add, remove_anchor,
    write_pem_round_trip, load_file)
