/*
 * Unit tests for certs/spiffe.c. Every input is copied into a heap buffer of
 * exactly its length, with no NUL after it, so ASan catches any read past
 * len (the parser must never rely on a terminator).
 */
#include <stdlib.h>
#include <string.h>

#include "certs/error.h"
#include "certs/spiffe.h"
#include "tests/unit/test.h"

/* Marks a case whose *where is not checked. */
#define ANY ((size_t)-1)

struct id_case {
	const char *in;
	int err;
	size_t where;		/* on error */
	const char *canon;	/* on success; NULL means the input itself */
};

static const struct id_case id_cases[] = {
	/* Valid, including an empty path and case folding of scheme+TD only. */
	{ "spiffe://example.org", 0, 0, NULL },
	{ "spiffe://example.org/ns/default/sa/web", 0, 0, NULL },
	{ "SPIFFE://Example.ORG/Path", 0, 0, "spiffe://example.org/Path" },
	{ "SpIfFe://A/B/c", 0, 0, "spiffe://a/B/c" },
	{ "spiffe://a-b_c.d9/x.y/z-_9/AZaz09", 0, 0, NULL },
	{ "spiffe://td/.../.a/a./..b/b..", 0, 0, NULL },
	{ "spiffe://1/2", 0, 0, NULL },
	{ "spiffe://-._/-._", 0, 0, NULL },

	{ "", CERTS_E_ID_EMPTY, 0, NULL },

	/* Scheme. */
	{ "spiffe", CERTS_E_ID_SCHEME, 6, NULL },
	{ "spiffe:", CERTS_E_ID_SCHEME, 7, NULL },
	{ "spiffe:/td/a", CERTS_E_ID_SCHEME, 8, NULL },
	{ "spiffe:td/a", CERTS_E_ID_SCHEME, 7, NULL },
	{ "http://td/a", CERTS_E_ID_SCHEME, 0, NULL },
	{ "spiffex://td/a", CERTS_E_ID_SCHEME, 6, NULL },
	{ "spife://td/a", CERTS_E_ID_SCHEME, 4, NULL },
	{ " spiffe://td/a", CERTS_E_ID_SCHEME, 0, NULL },
	{ "td/a", CERTS_E_ID_SCHEME, 0, NULL },
	{ "/a", CERTS_E_ID_SCHEME, 0, NULL },

	/* Trust domain. */
	{ "spiffe://", CERTS_E_ID_TD_EMPTY, 9, NULL },
	{ "spiffe:///a", CERTS_E_ID_TD_EMPTY, 9, NULL },
	{ "spiffe://td:443/a", CERTS_E_ID_PORT, 11, NULL },
	{ "spiffe://td:", CERTS_E_ID_PORT, 11, NULL },
	{ "spiffe://user@td/a", CERTS_E_ID_USERINFO, 13, NULL },
	{ "spiffe://@td", CERTS_E_ID_USERINFO, 9, NULL },
	{ "spiffe://t d/a", CERTS_E_ID_TD_CHAR, 10, NULL },
	{ "spiffe://td!/a", CERTS_E_ID_TD_CHAR, 11, NULL },
	{ "spiffe://t+d", CERTS_E_ID_TD_CHAR, 10, NULL },
	{ "spiffe://t\xc3\xa9/a", CERTS_E_ID_TD_CHAR, 10, NULL },
	{ "spiffe://[::1]/a", CERTS_E_ID_TD_CHAR, 9, NULL },
	{ "spiffe://td\\a", CERTS_E_ID_TD_CHAR, 11, NULL },
	{ "spiffe://td?x", CERTS_E_ID_QUERY, 11, NULL },
	{ "spiffe://td#x", CERTS_E_ID_FRAGMENT, 11, NULL },
	{ "spiffe://t%41/a", CERTS_E_ID_PERCENT, 10, NULL },

	/* Path. */
	{ "spiffe://td/", CERTS_E_ID_TRAILING_SLASH, 11, NULL },
	{ "spiffe://td/a/", CERTS_E_ID_TRAILING_SLASH, 13, NULL },
	{ "spiffe://td//a", CERTS_E_ID_SEG_EMPTY, 12, NULL },
	{ "spiffe://td/a//b", CERTS_E_ID_SEG_EMPTY, 14, NULL },
	{ "spiffe://td//", CERTS_E_ID_SEG_EMPTY, 12, NULL },
	{ "spiffe://td/.", CERTS_E_ID_SEG_DOT, 12, NULL },
	{ "spiffe://td/..", CERTS_E_ID_SEG_DOT, 12, NULL },
	{ "spiffe://td/a/./b", CERTS_E_ID_SEG_DOT, 14, NULL },
	{ "spiffe://td/a/../b", CERTS_E_ID_SEG_DOT, 14, NULL },
	{ "spiffe://td/a/..", CERTS_E_ID_SEG_DOT, 14, NULL },
	{ "spiffe://td/a?x=1", CERTS_E_ID_QUERY, 13, NULL },
	{ "spiffe://td/?", CERTS_E_ID_QUERY, 12, NULL },
	{ "spiffe://td/a#frag", CERTS_E_ID_FRAGMENT, 13, NULL },
	{ "spiffe://td/a%20b", CERTS_E_ID_PERCENT, 13, NULL },
	{ "spiffe://td/a b", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/a:b", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/a@b", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/a+b", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/a~b", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/a*", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/a\\b", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/a\tb", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/a\nb", CERTS_E_ID_PATH_CHAR, 13, NULL },
	{ "spiffe://td/caf\xc3\xa9", CERTS_E_ID_PATH_CHAR, 15, NULL },
	{ "spiffe://td/\x7f", CERTS_E_ID_PATH_CHAR, 12, NULL },
	{ "spiffe://td/\xff", CERTS_E_ID_PATH_CHAR, 12, NULL },

	/* The first offending byte wins. */
	{ "spiffe://td/a//b?c", CERTS_E_ID_SEG_EMPTY, 14, NULL },
	{ "spiffe://td/a?b//c", CERTS_E_ID_QUERY, 13, NULL },
	{ "spiffe://td:1/./", CERTS_E_ID_PORT, 11, NULL },
	{ "spiffe://td/./a%", CERTS_E_ID_SEG_DOT, 12, NULL },
};

/* Parse an exact-size heap copy of s[0 .. len), so nothing follows it. */
static int
parse_exact(const char *s, size_t len, struct spiffe_id *id, size_t *where, bool workload)
{
	char *copy = malloc(len ? len : 1);
	int err;

	if (copy == NULL)
		abort();
	memcpy(copy, s, len);
	if (workload)
		err = spiffe_id_parse_workload(copy, len, id, where);
	else
		err = spiffe_id_parse(copy, len, id, where);
	free(copy);
	return err;
}

static int
td_exact(const char *s, size_t len, char *out, size_t *where)
{
	char *copy = malloc(len ? len : 1);
	int err;

	if (copy == NULL)
		abort();
	memcpy(copy, s, len);
	err = spiffe_td_parse(copy, len, out, where);
	free(copy);
	return err;
}

static void
check_id_case(const struct id_case *c, bool workload)
{
	struct spiffe_id id;
	size_t where = ANY, len = strlen(c->in);
	const char *want = c->canon != NULL ? c->canon : c->in;
	int err, expect = c->err;
	const char *path;

	/* Start from a valid ID so a failure must visibly clear it. */
	if (spiffe_id_parse("spiffe://x/y", 12, &id, NULL) != 0)
		abort();
	if (workload && expect == 0 && strchr(c->in + 9, '/') == NULL)
		expect = CERTS_E_ID_NO_PATH;
	err = parse_exact(c->in, len, &id, &where, workload);
	if (err != expect) {
		TEST__FAIL("%s(\"%s\") returned %d, expected %d",
		    workload ? "parse_workload" : "parse", c->in, err, expect);
		return;
	}
	if (err != 0) {
		EXPECT_EQ(id.len, 0);
		EXPECT_EQ(id.td_len, 0);
		EXPECT_EQ(id.str[0], '\0');
		EXPECT_STR(spiffe_id_path(&id), "");
		if (expect == CERTS_E_ID_NO_PATH)
			EXPECT_EQ(where, len);
		else if (c->where != ANY && where != c->where)
			TEST__FAIL("\"%s\": where %zu, expected %zu", c->in,
			    where, c->where);
		return;
	}
	EXPECT_STR(id.str, want);
	EXPECT_EQ(id.len, strlen(want));
	EXPECT_EQ(where, ANY);
	path = spiffe_id_path(&id);
	EXPECT(path == id.str + 9 + id.td_len);
	EXPECT(path[0] == '\0' || path[0] == '/');
}

TEST(parse_table)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(id_cases); i++)
		check_id_case(&id_cases[i], false);
}

TEST(parse_workload_table)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(id_cases); i++)
		check_id_case(&id_cases[i], true);
}

TEST(case_folding)
{
	struct spiffe_id id;
	const char *td;
	size_t td_len = 0;

	EXPECT_OK(spiffe_id_parse("SPIFFE://Example.ORG/Path", 25, &id, NULL));
	EXPECT_STR(id.str, "spiffe://example.org/Path");
	td = spiffe_id_td(&id, &td_len);
	EXPECT_EQ(td_len, 11);
	EXPECT(memcmp(td, "example.org", 11) == 0);
	EXPECT_STR(spiffe_id_path(&id), "/Path");
	/* The td accessor may be called without a length. */
	EXPECT(spiffe_id_td(&id, NULL) == td);
}

TEST(embedded_nul)
{
	struct spiffe_id id;
	size_t where = 0;

	EXPECT_ERR(parse_exact("spiffe://td/a\0b", 15, &id, &where, false),
	    CERTS_E_ID_PATH_CHAR);
	EXPECT_EQ(where, 13);
	EXPECT_ERR(parse_exact("spiffe://td/a\0", 14, &id, &where, false),
	    CERTS_E_ID_PATH_CHAR);
	EXPECT_EQ(where, 13);
	EXPECT_ERR(parse_exact("spiffe://t\0d/a", 14, &id, &where, false),
	    CERTS_E_ID_TD_CHAR);
	EXPECT_EQ(where, 10);
	EXPECT_ERR(parse_exact("spif\0fe://td", 12, &id, &where, false),
	    CERTS_E_ID_SCHEME);
	EXPECT_EQ(where, 4);
	EXPECT_ERR(parse_exact("\0", 1, &id, &where, false), CERTS_E_ID_SCHEME);
	EXPECT_EQ(where, 0);
	EXPECT_ERR(td_exact("td\0", 3, NULL, &where), CERTS_E_ID_TD_CHAR);
	EXPECT_EQ(where, 2);
}

TEST(not_nul_terminated)
{
	static const char buf[] = "spiffe://Example.org/a/b?query";
	struct spiffe_id id;
	char td[SPIFFE_TD_MAX + 1];

	/* Prefixes of a longer buffer: what follows len must not matter. */
	EXPECT_OK(spiffe_id_parse(buf, 22, &id, NULL));
	EXPECT_STR(id.str, "spiffe://example.org/a");
	EXPECT_OK(spiffe_id_parse_workload(buf, 24, &id, NULL));
	EXPECT_STR(id.str, "spiffe://example.org/a/b");
	EXPECT_OK(spiffe_id_parse(buf, 20, &id, NULL));
	EXPECT_STR(id.str, "spiffe://example.org");
	EXPECT_ERR(spiffe_id_parse(buf, 23, &id, NULL),
	    CERTS_E_ID_TRAILING_SLASH);
	EXPECT_ERR(spiffe_id_parse(buf, 8, &id, NULL), CERTS_E_ID_SCHEME);
	EXPECT_ERR(spiffe_id_parse(buf, 0, &id, NULL), CERTS_E_ID_EMPTY);
	EXPECT_OK(spiffe_td_parse(buf + 9, 7, td, NULL));
	EXPECT_STR(td, "example");
	/* An empty input may come with a NULL pointer. */
	EXPECT_ERR(spiffe_id_parse(NULL, 0, &id, NULL), CERTS_E_ID_EMPTY);
	EXPECT_ERR(spiffe_id_parse(NULL, 5, &id, NULL), CERTS_E_INVAL);
	EXPECT_ERR(spiffe_id_parse(buf, 22, NULL, NULL), CERTS_E_INVAL);
}

TEST(length_bounds)
{
	char buf[SPIFFE_ID_MAX + 64];
	char td[SPIFFE_TD_MAX + 1];
	struct spiffe_id id;
	size_t where = 0, n;

	/* A trust domain of exactly 255 bytes, then 256. */
	memcpy(buf, "spiffe://", 9);
	memset(buf + 9, 'A', 256);
	memcpy(buf + 9 + 255, "/x", 2);
	EXPECT_OK(parse_exact(buf, 9 + 255 + 2, &id, &where, true));
	EXPECT_EQ(id.td_len, 255);
	EXPECT_EQ(id.len, 9 + 255 + 2);
	EXPECT_EQ(id.str[9 + 254], 'a');
	EXPECT_STR(spiffe_id_path(&id), "/x");
	EXPECT_OK(parse_exact(buf, 9 + 255, &id, &where, false));
	memset(buf + 9, 'a', 256);
	memcpy(buf + 9 + 256, "/x", 2);
	EXPECT_ERR(parse_exact(buf, 9 + 256 + 2, &id, &where, false),
	    CERTS_E_ID_TD_TOO_LONG);
	EXPECT_EQ(where, 9 + 255);
	EXPECT_ERR(parse_exact(buf, 9 + 256, &id, &where, false),
	    CERTS_E_ID_TD_TOO_LONG);

	/* The same bounds for a bare trust domain. */
	EXPECT_OK(td_exact(buf + 9, 255, td, &where));
	EXPECT_EQ(strlen(td), 255);
	EXPECT_ERR(td_exact(buf + 9, 256, td, &where), CERTS_E_ID_TD_TOO_LONG);
	EXPECT_EQ(where, 255);
	EXPECT_STR(td, "");

	/* A whole ID of exactly 2048 bytes, then 2049. */
	n = 9 + 255;
	while (n < SPIFFE_ID_MAX + 1) {
		buf[n++] = '/';
		while (n < SPIFFE_ID_MAX + 1 && n % 100 != 0)
			buf[n++] = 'p';
	}
	/* Neither prefix may end on a '/'. */
	REQUIRE(buf[SPIFFE_ID_MAX - 1] != '/' && buf[SPIFFE_ID_MAX] != '/');
	EXPECT_OK(parse_exact(buf, SPIFFE_ID_MAX, &id, &where, true));
	EXPECT_EQ(id.len, SPIFFE_ID_MAX);
	EXPECT_EQ(strlen(id.str), SPIFFE_ID_MAX);
	EXPECT_EQ(id.td_len, 255);
	EXPECT_ERR(parse_exact(buf, SPIFFE_ID_MAX + 1, &id, &where, true),
	    CERTS_E_ID_TOO_LONG);
	EXPECT_EQ(where, SPIFFE_ID_MAX);
	EXPECT_EQ(id.len, 0);

	/* Too long wins over any other error, before a byte is looked at. */
	memset(buf, '?', sizeof(buf));
	EXPECT_ERR(parse_exact(buf, sizeof(buf), &id, &where, false),
	    CERTS_E_ID_TOO_LONG);
	EXPECT_EQ(where, SPIFFE_ID_MAX);
}

struct td_case {
	const char *in;
	int err;
	size_t where;
	const char *canon;
};

static const struct td_case td_cases[] = {
	{ "example.org", 0, 0, "example.org" },
	{ "Example.ORG", 0, 0, "example.org" },
	{ "a-b_c.9", 0, 0, "a-b_c.9" },
	{ "", CERTS_E_ID_TD_EMPTY, 0, NULL },
	{ "example.org:443", CERTS_E_ID_PORT, 11, NULL },
	{ "user@example.org", CERTS_E_ID_USERINFO, 4, NULL },
	{ "example.org/", CERTS_E_ID_TD_CHAR, 11, NULL },
	{ "example.org/a", CERTS_E_ID_TD_CHAR, 11, NULL },
	{ "/", CERTS_E_ID_TD_CHAR, 0, NULL },
	{ "spiffe://example.org", CERTS_E_ID_PORT, 6, NULL },
	{ "exa mple", CERTS_E_ID_TD_CHAR, 3, NULL },
	{ "ex\xc3\xa4mple", CERTS_E_ID_TD_CHAR, 2, NULL },
	{ "td?", CERTS_E_ID_QUERY, 2, NULL },
	{ "td#", CERTS_E_ID_FRAGMENT, 2, NULL },
	{ "t%64", CERTS_E_ID_PERCENT, 1, NULL },
};

TEST(td_parse_table)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(td_cases); i++) {
		const struct td_case *c = &td_cases[i];
		char out[SPIFFE_TD_MAX + 1];
		size_t where = ANY;
		int err;

		memset(out, 'x', sizeof(out));
		err = td_exact(c->in, strlen(c->in), out, &where);
		if (err != c->err) {
			TEST__FAIL("td_parse(\"%s\") returned %d, expected %d",
			    c->in, err, c->err);
			continue;
		}
		if (err != 0) {
			EXPECT_STR(out, "");
			if (where != c->where)
				TEST__FAIL("\"%s\": where %zu, expected %zu",
				    c->in, where, c->where);
			continue;
		}
		EXPECT_STR(out, c->canon);
		EXPECT_EQ(where, ANY);
		/* Validation alone, with nowhere to write. */
		EXPECT_OK(td_exact(c->in, strlen(c->in), NULL, NULL));
	}
}

static void
must_parse(const char *s, struct spiffe_id *id)
{
	if (spiffe_id_parse(s, strlen(s), id, NULL) != 0)
		TEST__FAIL("cannot parse %s", s);
}

TEST(equal_and_in_td)
{
	struct spiffe_id a, b, c, d, bad1, bad2;

	must_parse("SPIFFE://Example.org/ns/a", &a);
	must_parse("spiffe://example.org/ns/a", &b);
	must_parse("spiffe://example.org/ns/A", &c);
	must_parse("spiffe://example.org.evil/ns/a", &d);
	EXPECT(spiffe_id_equal(&a, &b));
	EXPECT(spiffe_id_equal(&b, &a));
	EXPECT(spiffe_id_equal(&a, &a));
	EXPECT(!spiffe_id_equal(&a, &c));
	EXPECT(!spiffe_id_equal(&a, &d));
	must_parse("spiffe://example.org/ns", &c);
	EXPECT(!spiffe_id_equal(&a, &c));

	EXPECT(spiffe_id_in_td(&a, "example.org", 11));
	EXPECT(!spiffe_id_in_td(&a, "example.or", 10));
	EXPECT(!spiffe_id_in_td(&a, "example.org.evil", 16));
	EXPECT(!spiffe_id_in_td(&d, "example.org", 11));
	EXPECT(spiffe_id_in_td(&d, "example.org.evil", 16));
	/* The caller passes the canonical (lower-case) name. */
	EXPECT(!spiffe_id_in_td(&a, "Example.org", 11));
	EXPECT(!spiffe_id_in_td(&a, "", 0));

	/* A trust domain's own ID is in it, and is not its workloads. */
	must_parse("spiffe://example.org", &c);
	EXPECT(spiffe_id_in_td(&c, "example.org", 11));
	EXPECT(!spiffe_id_equal(&a, &c));

	/* A failed parse is equal to nothing and in no trust domain. */
	EXPECT_ERR(spiffe_id_parse("x", 1, &bad1, NULL), CERTS_E_ID_SCHEME);
	EXPECT_ERR(spiffe_id_parse("y", 1, &bad2, NULL), CERTS_E_ID_SCHEME);
	EXPECT(!spiffe_id_equal(&bad1, &bad2));
	EXPECT(!spiffe_id_equal(&bad1, &a));
	EXPECT(!spiffe_id_in_td(&bad1, "", 0));
}

TEST(from_k8s)
{
	static const char prefix[] = "spiffe://example.org/ns/default/sa/";
	const size_t fit = SPIFFE_ID_MAX - (sizeof(prefix) - 1);
	struct spiffe_id id;
	char long_sa[SPIFFE_ID_MAX + 16];

	EXPECT_OK(spiffe_id_from_k8s("example.org", "default", "web", &id));
	EXPECT_STR(id.str, "spiffe://example.org/ns/default/sa/web");
	EXPECT_STR(spiffe_id_path(&id), "/ns/default/sa/web");
	EXPECT_OK(spiffe_id_from_k8s("Cluster.Local", "kube-system", "core.dns", &id));
	EXPECT_STR(id.str, "spiffe://cluster.local/ns/kube-system/sa/core.dns");

	/* A '/' would smuggle in extra segments that still parse. */
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "a/b", "web", &id),
	    CERTS_E_ID_PATH_CHAR);
	EXPECT_EQ(id.len, 0);
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "default", "sa/web", &id),
	    CERTS_E_ID_PATH_CHAR);
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "default", "/", &id),
	    CERTS_E_ID_PATH_CHAR);
	EXPECT_ERR(spiffe_id_from_k8s("example.org/x", "default", "web", &id),
	    CERTS_E_ID_TD_CHAR);
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "", "web", &id),
	    CERTS_E_ID_SEG_EMPTY);
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "default", "", &id),
	    CERTS_E_ID_TRAILING_SLASH);
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "..", "web", &id),
	    CERTS_E_ID_SEG_DOT);
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "default", "w b", &id),
	    CERTS_E_ID_PATH_CHAR);
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "default", "web?x", &id),
	    CERTS_E_ID_QUERY);
	EXPECT_ERR(spiffe_id_from_k8s("example.org:443", "default", "web", &id),
	    CERTS_E_ID_PORT);
	EXPECT_ERR(spiffe_id_from_k8s("", "default", "web", &id),
	    CERTS_E_ID_TD_EMPTY);
	EXPECT_ERR(spiffe_id_from_k8s(NULL, "default", "web", &id),
	    CERTS_E_INVAL);

	/* Exactly 2048 bytes fits; one more does not, nor far more. */
	memset(long_sa, 'a', sizeof(long_sa));
	long_sa[fit] = '\0';
	EXPECT_OK(spiffe_id_from_k8s("example.org", "default", long_sa, &id));
	EXPECT_EQ(id.len, SPIFFE_ID_MAX);
	long_sa[fit] = 'a';
	long_sa[fit + 1] = '\0';
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "default", long_sa, &id),
	    CERTS_E_ID_TOO_LONG);
	long_sa[sizeof(long_sa) - 1] = '\0';
	EXPECT_ERR(spiffe_id_from_k8s("example.org", "default", long_sa, &id),
	    CERTS_E_ID_TOO_LONG);
	EXPECT_EQ(id.len, 0);
}

TEST_MAIN(parse_table, parse_workload_table, case_folding, embedded_nul,
    not_nul_terminated, length_bounds, td_parse_table, equal_and_in_td,
    from_k8s)
