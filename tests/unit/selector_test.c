/*
 * Unit tests for policy/selector.c: selectors on both sides, matching,
 * port sets, comments, rule comparison and the error texts. Inputs are
 * copied into exact-size heap buffers so ASan catches a read past len.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "certs/error.h"
#include "policy/policy.h"
#include "tests/unit/test.h"

static char *
dup_exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	if (p != NULL && len > 0)
		memcpy(p, s, len);
	return p;
}

static int
sel_parse(const char *s, enum policy_side side, struct policy_selector *sel, const char **why)
{
	size_t len = strlen(s);
	char *p = dup_exact(s, len);
	int err;

	memset(sel, 0, sizeof(*sel));
	err = p != NULL ? policy_selector_parse(p, len, side, sel, why) : -ENOMEM;

	free(p);
	return err;
}

#define BOTH 2	/* the case holds on either side */

struct sel_case {
	const char *in;
	int side;			/* POLICY_FROM, POLICY_TO or BOTH */
	int err;
	enum policy_sel_kind kind;	/* on success */
	const char *canon;		/* on success; NULL: the input */
};

static const struct sel_case sel_cases[] = {
	/* Exact IDs, with scheme and trust domain folded, the path kept. */
	{ "spiffe://example.org/ns/default/sa/web", BOTH, 0, POLICY_SEL_ID, NULL },
	{ "SPIFFE://Example.ORG/Path/X", BOTH, 0, POLICY_SEL_ID, "spiffe://example.org/Path/X" },
	{ "spiffe://td/a", BOTH, 0, POLICY_SEL_ID, NULL },
	/* Namespaces. */
	{ "spiffe://td/ns/default/*", BOTH, 0, POLICY_SEL_NS, NULL },
	{ "spiffe://TD.Example/ns/Prod/*", BOTH, 0, POLICY_SEL_NS, "spiffe://td.example/ns/Prod/*" },
	{ "spiffe://td/ns/a.b-c_d/*", BOTH, 0, POLICY_SEL_NS, NULL },
	/* Trust domains. */
	{ "spiffe://td/*", BOTH, 0, POLICY_SEL_TD, NULL },
	{ "Spiffe://Example.Org/*", BOTH, 0, POLICY_SEL_TD, "spiffe://example.org/*" },
	/* Any peer: a source only. */
	{ "*", POLICY_FROM, 0, POLICY_SEL_ANY, NULL },
	{ "*", POLICY_TO, POLICY_E_SELECTOR, 0, NULL },

	/* Wildcards anywhere else. */
	{ "spiffe://td/ns/*", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "spiffe://td/ns/a/sa/*", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "spiffe://td/x*", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "spiffe://td/x/*", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "spiffe://td/NS/a/*", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "spiffe://td/*/a", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "spiffe://*", BOTH, CERTS_E_ID_SCHEME, 0, NULL },
	{ "spiffe://td/ns/a/**", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "spiffe://td/ns/*/sa/x", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "**", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "*/*", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ " *", BOTH, POLICY_E_SELECTOR, 0, NULL },
	{ "spiffe://t*d/*", BOTH, POLICY_E_SELECTOR, 0, NULL },

	/* Malformed IDs keep their certs code. */
	{ "", BOTH, CERTS_E_ID_EMPTY, 0, NULL },
	{ "spiffe://td", BOTH, CERTS_E_ID_NO_PATH, 0, NULL },
	{ "http://td/a", BOTH, CERTS_E_ID_SCHEME, 0, NULL },
	{ "spiffe://td/a/", BOTH, CERTS_E_ID_TRAILING_SLASH, 0, NULL },
	{ "spiffe://t d/*", BOTH, CERTS_E_ID_TD_CHAR, 0, NULL },
	{ "spiffe://td//*", BOTH, CERTS_E_ID_TRAILING_SLASH, 0, NULL },
	{ "spiffe://td/ns/../*", BOTH, CERTS_E_ID_SEG_DOT, 0, NULL },
	{ "spiffe://td/ns/a b/*", BOTH, CERTS_E_ID_PATH_CHAR, 0, NULL },
	{ "spiffe://td:80/*", BOTH, CERTS_E_ID_PORT, 0, NULL },
	{ "spiffe:///*", BOTH, CERTS_E_ID_TD_EMPTY, 0, NULL },
	{ "spiffe://td/a?b", BOTH, CERTS_E_ID_QUERY, 0, NULL },
};

static void
check_sel_case(const struct sel_case *c, enum policy_side side)
{
	struct policy_selector sel;
	const char *why = (const char *)1;
	int err = sel_parse(c->in, side, &sel, &why);

	if (err != c->err) {
		fprintf(stderr, "  case \"%s\" side %d\n", c->in, (int)side);
		EXPECT_EQ(err, c->err);
		return;
	}
	if (err == 0) {
		const char *canon = c->canon ? c->canon : c->in;

		EXPECT(why == NULL);
		EXPECT_EQ(sel.kind, c->kind);
		EXPECT_STR(sel.str, canon);
		EXPECT_EQ(sel.len, strlen(canon));
	} else {
		/* Every failure explains itself, and leaves an empty selector. */
		EXPECT(why != NULL && why != (const char *)1 && strlen(why) > 10);
		EXPECT_EQ(sel.len, 0);
		EXPECT(sel.str[0] == '\0');
	}
}

TEST(selector_table)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(sel_cases); i++) {
		const struct sel_case *c = &sel_cases[i];

		if (c->side == BOTH || c->side == POLICY_FROM)
			check_sel_case(c, POLICY_FROM);
		if (c->side == BOTH || c->side == POLICY_TO)
			check_sel_case(c, POLICY_TO);
	}
}

TEST(selector_whys)
{
	struct policy_selector sel;
	const char *why = NULL;

	EXPECT_ERR(sel_parse("*", POLICY_TO, &sel, &why), POLICY_E_SELECTOR);
	EXPECT_STR(why, "'*' is allowed only as a source; name the destination");
	EXPECT_ERR(sel_parse("spiffe://td/x*", POLICY_FROM, &sel, &why), POLICY_E_SELECTOR);
	EXPECT(why != NULL && strstr(why, "spiffe://TD/ns/NAMESPACE/*") != NULL &&
	    strstr(why, "spiffe://TD/*") != NULL);
	EXPECT_ERR(sel_parse("spiffe://td/ns/*", POLICY_FROM, &sel, &why), POLICY_E_SELECTOR);
	EXPECT(why != NULL && strstr(why, "namespace") != NULL);
	EXPECT_ERR(sel_parse("spiffe://td/ns/a/sa/*", POLICY_TO, &sel, &why), POLICY_E_SELECTOR);
	EXPECT(why != NULL && strstr(why, "namespace") != NULL);
	EXPECT_ERR(sel_parse("spiffe://td", POLICY_TO, &sel, &why), CERTS_E_ID_NO_PATH);
	EXPECT_STR(why, certs_strerror(CERTS_E_ID_NO_PATH));
	/* why may be NULL. */
	EXPECT_ERR(sel_parse("*", POLICY_TO, &sel, NULL), POLICY_E_SELECTOR);
	EXPECT_OK(sel_parse("*", POLICY_FROM, &sel, NULL));
	/* An embedded NUL is not a selector character. */
	EXPECT_ERR(policy_selector_parse("spiffe://td/a\0b", 15, POLICY_FROM, &sel, &why),
	    CERTS_E_ID_PATH_CHAR);
	EXPECT_ERR(policy_selector_parse("spiffe://td/*\0", 14, POLICY_FROM, &sel, &why),
	    POLICY_E_SELECTOR);
	EXPECT_ERR(policy_selector_parse(NULL, 3, POLICY_FROM, &sel, &why), POLICY_E_INVAL);
	EXPECT_ERR(policy_selector_parse("*", 1, POLICY_FROM, NULL, &why), POLICY_E_INVAL);
}

TEST(selector_lengths)
{
	struct policy_selector sel;
	char *s = malloc(SPIFFE_ID_MAX + 8);
	size_t n;

	REQUIRE(s != NULL);
	/* The longest exact ID (2048 bytes) fits; one more byte does not. */
	memcpy(s, "spiffe://td/", 12);
	memset(s + 12, 'a', SPIFFE_ID_MAX - 12);
	EXPECT_OK(policy_selector_parse(s, SPIFFE_ID_MAX, POLICY_TO, &sel, NULL));
	EXPECT_EQ(sel.len, SPIFFE_ID_MAX);
	EXPECT_EQ(strlen(sel.str), SPIFFE_ID_MAX);
	s[SPIFFE_ID_MAX] = 'a';
	EXPECT_ERR(policy_selector_parse(s, SPIFFE_ID_MAX + 1, POLICY_TO, &sel, NULL),
	    CERTS_E_ID_TOO_LONG);

	/* A namespace selector must leave room for one ID under it. */
	memcpy(s, "spiffe://td/ns/", 15);
	n = SPIFFE_ID_MAX - 2;	/* "spiffe://td/ns/NS" of 2046 bytes */
	memset(s + 15, 'n', n - 15);
	memcpy(s + n, "/*", 2);
	EXPECT_OK(policy_selector_parse(s, n + 2, POLICY_FROM, &sel, NULL));
	EXPECT_EQ(sel.kind, POLICY_SEL_NS);
	EXPECT_EQ(sel.len, n + 2);
	memset(s + 15, 'n', n + 1 - 15);
	memcpy(s + n + 1, "/*", 2);
	EXPECT_ERR(policy_selector_parse(s, n + 3, POLICY_FROM, &sel, NULL), POLICY_E_SELECTOR);
	free(s);
}

static struct spiffe_id
id_of(const char *s)
{
	struct spiffe_id id;

	memset(&id, 0, sizeof(id));
	if (spiffe_id_parse(s, strlen(s), &id, NULL) != 0)
		memset(&id, 0, sizeof(id));
	return id;
}

struct match_case {
	const char *sel;
	const char *id;
	bool match;
};

static const struct match_case match_cases[] = {
	{ "*", "spiffe://td/a", true },
	{ "*", "spiffe://other/ns/x/sa/y", true },
	{ "*", "spiffe://td", true },

	{ "spiffe://td/*", "spiffe://td/a", true },
	{ "spiffe://td/*", "spiffe://TD/ns/a/sa/b", true },
	{ "spiffe://td/*", "spiffe://td", true },
	{ "spiffe://td/*", "spiffe://td2/a", false },
	{ "spiffe://td/*", "spiffe://t/a", false },
	{ "spiffe://td/*", "spiffe://xtd/a", false },

	{ "spiffe://td/ns/a/*", "spiffe://td/ns/a/sa/x", true },
	{ "spiffe://td/ns/a/*", "spiffe://td/ns/a/x", true },
	{ "spiffe://td/ns/a/*", "spiffe://td/ns/a/b/c/d", true },
	{ "spiffe://td/ns/a/*", "spiffe://td/ns/ab/sa/x", false },
	{ "spiffe://td/ns/a/*", "spiffe://td/ns/a", false },
	{ "spiffe://td/ns/a/*", "spiffe://td/ns/A/sa/x", false },
	{ "spiffe://td/ns/a/*", "spiffe://other/ns/a/sa/x", false },
	{ "spiffe://td/ns/a/*", "spiffe://td.x/ns/a/sa/x", false },
	{ "spiffe://td/ns/a/*", "spiffe://td/x/ns/a/sa/x", false },
	{ "spiffe://td/ns/a/*", "spiffe://td", false },

	{ "spiffe://td/ns/a/sa/x", "spiffe://td/ns/a/sa/x", true },
	{ "spiffe://TD/ns/a/sa/x", "spiffe://td/ns/a/sa/x", true },
	{ "spiffe://td/ns/a/sa/x", "spiffe://td/ns/a/sa/X", false },
	{ "spiffe://td/ns/a/sa/x", "spiffe://td/ns/a/sa/x2", false },
	{ "spiffe://td/ns/a/sa/x", "spiffe://td/ns/a/sa", false },
	{ "spiffe://td/ns/a/sa/x", "spiffe://td2/ns/a/sa/x", false },
};

TEST(selector_matches)
{
	struct spiffe_id none;

	memset(&none, 0, sizeof(none));
	for (size_t i = 0; i < AD_ARRAY_LEN(match_cases); i++) {
		const struct match_case *c = &match_cases[i];
		struct policy_selector sel;
		struct spiffe_id id = id_of(c->id);

		REQUIRE(id.len > 0);
		REQUIRE(sel_parse(c->sel, POLICY_FROM, &sel, NULL) == 0);
		if (policy_selector_matches(&sel, &id) != c->match) {
			fprintf(stderr, "  %s vs %s\n", c->sel, c->id);
			EXPECT(policy_selector_matches(&sel, &id) == c->match);
		}
		/* A failed parse is no ID and matches nothing, not even "*". */
		EXPECT(!policy_selector_matches(&sel, &none));
	}
	EXPECT(!policy_selector_matches(NULL, &none));
}

/* ---- Ports ---------------------------------------------------------------- */

struct ports_case {
	const char *in;
	int err;
	const char *fmt;	/* on success: the formatted set */
};

static const struct ports_case ports_cases[] = {
	{ "443", 0, "443" },
	{ "1", 0, "1" },
	{ "65535", 0, "65535" },
	{ "8000-8099", 0, "8000-8099" },
	{ "80,443,8000-8099", 0, "80,443,8000-8099" },
	{ "443, 80", 0, "80,443" },
	{ " 80 , 443 ", 0, "80,443" },
	{ "\t80,\t443", 0, "80,443" },
	{ "all", 0, "all" },
	{ "*", 0, "all" },
	{ " all ", 0, "all" },
	{ "1-65535", 0, "all" },
	{ "1-100,101-65535", 0, "all" },
	/* Merging: overlap, adjacency, containment, duplicates, order. */
	{ "80-90,85-95", 0, "80-95" },
	{ "80-90,91-95", 0, "80-95" },
	{ "80,81,82", 0, "80-82" },
	{ "100-200,150", 0, "100-200" },
	{ "443,443,443", 0, "443" },
	{ "9000,22,80-81,79", 0, "22,79-81,9000" },
	{ "5-5", 0, "5" },
	{ "1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,47,49,51,53,55,57,"
	  "59,61,63", 0, NULL },
	/* 33 items that merge into one are fine: the bound is after merging. */
	{ "1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,47,49,51,53,55,57,"
	  "59,61,63,65,1-100", 0, "1-100" },
	{ "1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,47,49,51,53,55,57,"
	  "59,61,63,65", POLICY_E_PORT, NULL },

	{ "", POLICY_E_PORT, NULL },
	{ "   ", POLICY_E_PORT, NULL },
	{ "0", POLICY_E_PORT, NULL },
	{ "0-80", POLICY_E_PORT, NULL },
	{ "65536", POLICY_E_PORT, NULL },
	{ "99999999999999999999", POLICY_E_PORT, NULL },
	{ "-1", POLICY_E_PORT, NULL },
	{ "+80", POLICY_E_PORT, NULL },
	{ "080", POLICY_E_PORT, NULL },
	{ "00", POLICY_E_PORT, NULL },
	{ "8 0", POLICY_E_PORT, NULL },
	{ "80 443", POLICY_E_PORT, NULL },
	{ "80,", POLICY_E_PORT, NULL },
	{ ",80", POLICY_E_PORT, NULL },
	{ "80,,443", POLICY_E_PORT, NULL },
	{ "90-80", POLICY_E_PORT, NULL },
	{ "80-", POLICY_E_PORT, NULL },
	{ "-80", POLICY_E_PORT, NULL },
	{ "80 - 90", POLICY_E_PORT, NULL },
	{ "1-2-3", POLICY_E_PORT, NULL },
	{ "abc", POLICY_E_PORT, NULL },
	{ "0x50", POLICY_E_PORT, NULL },
	{ "80.0", POLICY_E_PORT, NULL },
	{ "ALL", POLICY_E_PORT, NULL },
	{ "all,80", POLICY_E_PORT, NULL },
	{ "80;443", POLICY_E_PORT, NULL },
	{ "80\n", POLICY_E_PORT, NULL },
};

TEST(ports_table)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(ports_cases); i++) {
		const struct ports_case *c = &ports_cases[i];
		struct policy_ports p, again;
		const char *why = (const char *)1;
		char buf[512];
		size_t len = strlen(c->in);
		char *s = dup_exact(c->in, len);
		int err;

		REQUIRE(s != NULL);
		err = policy_ports_parse(s, len, &p, &why);
		free(s);
		if (err != c->err) {
			fprintf(stderr, "  case \"%s\"\n", c->in);
			EXPECT_EQ(err, c->err);
			continue;
		}
		if (err != 0) {
			EXPECT(why != NULL && why != (const char *)1);
			EXPECT_EQ(p.n, 0);
			continue;
		}
		EXPECT(why == NULL);
		EXPECT(p.n >= 1 && p.n <= POLICY_PORT_RANGES_MAX);
		for (size_t k = 0; k < p.n; k++) {
			EXPECT(p.r[k].lo >= 1 && p.r[k].lo <= p.r[k].hi);
			if (k > 0)
				EXPECT((unsigned)p.r[k - 1].hi + 1 < p.r[k].lo);
		}
		policy_ports_format(&p, buf, sizeof(buf));
		if (c->fmt != NULL)
			EXPECT_STR(buf, c->fmt);
		/* Formatting round-trips. */
		EXPECT_OK(policy_ports_parse(buf, strlen(buf), &again, NULL));
		EXPECT(memcmp(&p, &again, sizeof(p)) == 0);
	}
}

TEST(ports_whys)
{
	struct policy_ports p;
	const char *why = NULL;

	EXPECT_ERR(policy_ports_parse("0", 1, &p, &why), POLICY_E_PORT);
	EXPECT(why != NULL && strstr(why, "port 0") != NULL);
	EXPECT_ERR(policy_ports_parse("080", 3, &p, &why), POLICY_E_PORT);
	EXPECT(why != NULL && strstr(why, "leading zeros") != NULL);
	EXPECT_ERR(policy_ports_parse("65536", 5, &p, &why), POLICY_E_PORT);
	EXPECT(why != NULL && strstr(why, "65535") != NULL);
	EXPECT_ERR(policy_ports_parse("90-80", 5, &p, &why), POLICY_E_PORT);
	EXPECT(why != NULL && strstr(why, "LO <= HI") != NULL);
	EXPECT_ERR(policy_ports_parse("", 0, &p, &why), POLICY_E_PORT);
	EXPECT(why != NULL && strstr(why, "no ports") != NULL);
	EXPECT_ERR(policy_ports_parse(NULL, 0, &p, &why), POLICY_E_PORT);
	EXPECT_ERR(policy_ports_parse(NULL, 1, &p, &why), POLICY_E_INVAL);
	EXPECT_ERR(policy_ports_parse("80\0", 3, &p, &why), POLICY_E_PORT);
	EXPECT_ERR(policy_ports_parse("80", 2, &p, NULL), 0);
}

TEST(ports_limit)
{
	struct policy_ports p;
	char buf[1024];
	const char *why = NULL;
	size_t off = 0;

	/* 32 separate ranges are the most; the 33rd is refused. */
	for (unsigned i = 0; i < 33; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u-%u", i ? "," : "",
		    10000 + 3 * i, 10001 + 3 * i);
	EXPECT_ERR(policy_ports_parse(buf, off, &p, &why), POLICY_E_PORT);
	EXPECT(why != NULL && strstr(why, "32") != NULL);
	EXPECT_EQ(p.n, 0);
	off = (size_t)(strrchr(buf, ',') - buf);
	EXPECT_OK(policy_ports_parse(buf, off, &p, &why));
	EXPECT_EQ(p.n, 32);
}

TEST(ports_add)
{
	struct policy_ports p;
	char buf[512];

	memset(&p, 0, sizeof(p));
	EXPECT_OK(policy_ports_add(&p, 443, 443));
	EXPECT_OK(policy_ports_add(&p, 80, 80));
	EXPECT_OK(policy_ports_add(&p, 8000, 8099));
	policy_ports_format(&p, buf, sizeof(buf));
	EXPECT_STR(buf, "80,443,8000-8099");
	EXPECT_OK(policy_ports_add(&p, 81, 442));	/* bridges 80 and 443 */
	policy_ports_format(&p, buf, sizeof(buf));
	EXPECT_STR(buf, "80-443,8000-8099");
	EXPECT_OK(policy_ports_add(&p, 8100, 8100));	/* adjacent above */
	EXPECT_OK(policy_ports_add(&p, 7999, 7999));	/* adjacent below */
	policy_ports_format(&p, buf, sizeof(buf));
	EXPECT_STR(buf, "80-443,7999-8100");
	EXPECT_OK(policy_ports_add(&p, 1, 65535));
	EXPECT(policy_ports_all(&p));
	policy_ports_format(&p, buf, sizeof(buf));
	EXPECT_STR(buf, "all");

	EXPECT_ERR(policy_ports_add(&p, 0, 5), POLICY_E_PORT);
	EXPECT_ERR(policy_ports_add(&p, 9, 5), POLICY_E_PORT);
	EXPECT_ERR(policy_ports_add(NULL, 1, 5), POLICY_E_INVAL);

	/* Full: a 33rd separate range is refused and the set unchanged. */
	memset(&p, 0, sizeof(p));
	for (unsigned i = 0; i < POLICY_PORT_RANGES_MAX; i++)
		EXPECT_OK(policy_ports_add(&p, (uint16_t)(100 + 10 * i), (uint16_t)(101 + 10 * i)));
	EXPECT_EQ(p.n, POLICY_PORT_RANGES_MAX);
	EXPECT_ERR(policy_ports_add(&p, 5000, 5000), POLICY_E_PORT);
	EXPECT_EQ(p.n, POLICY_PORT_RANGES_MAX);
	/* Yet one that merges into existing ranges still fits. */
	EXPECT_OK(policy_ports_add(&p, 102, 109));
	EXPECT_EQ(p.n, POLICY_PORT_RANGES_MAX - 1);
	EXPECT_OK(policy_ports_add(&p, 1, 65535));
	EXPECT_EQ(p.n, 1);
}

TEST(ports_contains)
{
	struct policy_ports p;

	EXPECT_OK(policy_ports_parse("80,443,8000-8099", 16, &p, NULL));
	EXPECT(policy_ports_contains(&p, 80));
	EXPECT(policy_ports_contains(&p, 443));
	EXPECT(policy_ports_contains(&p, 8000));
	EXPECT(policy_ports_contains(&p, 8050));
	EXPECT(policy_ports_contains(&p, 8099));
	EXPECT(!policy_ports_contains(&p, 0));
	EXPECT(!policy_ports_contains(&p, 79));
	EXPECT(!policy_ports_contains(&p, 81));
	EXPECT(!policy_ports_contains(&p, 7999));
	EXPECT(!policy_ports_contains(&p, 8100));
	EXPECT(!policy_ports_contains(&p, 65535));
	EXPECT(!policy_ports_all(&p));
	EXPECT_OK(policy_ports_parse("all", 3, &p, NULL));
	EXPECT(policy_ports_all(&p));
	EXPECT(policy_ports_contains(&p, 1));
	EXPECT(policy_ports_contains(&p, 65535));
	EXPECT(!policy_ports_contains(&p, 0));
	EXPECT_OK(policy_ports_parse("1-65534", 7, &p, NULL));
	EXPECT(!policy_ports_all(&p));
	EXPECT(!policy_ports_contains(NULL, 80));
}

TEST(ports_format_bounds)
{
	struct policy_ports p;
	char buf[512], small[16];
	size_t off = 0;

	/* The widest set: 32 five-digit ranges, 383 characters. */
	for (unsigned i = 0; i < POLICY_PORT_RANGES_MAX; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u-%u", i ? "," : "",
		    10000 + 3 * i, 10001 + 3 * i);
	EXPECT_OK(policy_ports_parse(buf, off, &p, NULL));
	policy_ports_format(&p, buf, sizeof(buf));
	EXPECT_EQ(strlen(buf), 383);
	/* Too small a buffer: whole items, then ",...", always terminated. */
	memset(small, 'x', sizeof(small));
	policy_ports_format(&p, small, sizeof(small));
	EXPECT_STR(small, "10000-10001,...");
	policy_ports_format(&p, small, 5);
	EXPECT_STR(small, "...");
	policy_ports_format(&p, small, 1);
	EXPECT_STR(small, "");
	policy_ports_format(&p, NULL, 0);
	memset(&p, 0, sizeof(p));
	policy_ports_format(&p, buf, sizeof(buf));
	EXPECT_STR(buf, "");
}

/* ---- Comments, rules, names ----------------------------------------------- */

struct comment_case {
	const char *in;
	size_t len;	/* 0: strlen */
	int err;
};

static const struct comment_case comment_cases[] = {
	{ "", 0, 0 },
	{ "web to db, ticket OPS-123", 0, 0 },
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92", 0, 0 },	/* é € 🔒 */
	{ "quote \" and backslash \\", 0, 0 },
	{ "tab\there", 0, POLICY_E_COMMENT },
	{ "line\nbreak", 0, POLICY_E_COMMENT },
	{ "cr\r", 0, POLICY_E_COMMENT },
	{ "esc\x1b[31m", 0, POLICY_E_COMMENT },
	{ "del\x7f", 0, POLICY_E_COMMENT },
	{ "nul\0x", 5, POLICY_E_COMMENT },
	{ "\x80", 0, POLICY_E_COMMENT },			/* lone continuation */
	{ "\xc3", 0, POLICY_E_COMMENT },			/* truncated */
	{ "\xc3(", 0, POLICY_E_COMMENT },			/* bad continuation */
	{ "\xc0\xaf", 0, POLICY_E_COMMENT },			/* overlong '/' */
	{ "\xe0\x80\xaf", 0, POLICY_E_COMMENT },		/* overlong */
	{ "\xed\xa0\x80", 0, POLICY_E_COMMENT },		/* surrogate */
	{ "\xf4\x90\x80\x80", 0, POLICY_E_COMMENT },		/* > U+10FFFF */
	{ "\xf5\x80\x80\x80", 0, POLICY_E_COMMENT },
	{ "\xff", 0, POLICY_E_COMMENT },
	{ "\xc2\x85", 0, POLICY_E_COMMENT },			/* C1 NEL */
	{ "\xc2\xa0", 0, 0 },					/* NBSP is printable */
	{ "\xf0\x9f\x94", 0, POLICY_E_COMMENT },		/* truncated 4-byte */
};

TEST(comment_check)
{
	char big[POLICY_COMMENT_MAX + 2];

	for (size_t i = 0; i < AD_ARRAY_LEN(comment_cases); i++) {
		const struct comment_case *c = &comment_cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		char *s = dup_exact(c->in, len);

		REQUIRE(s != NULL);
		if (policy_comment_check(s, len) != c->err) {
			fprintf(stderr, "  comment case %zu\n", i);
			EXPECT_EQ(policy_comment_check(s, len), c->err);
		}
		free(s);
	}
	memset(big, 'a', sizeof(big));
	EXPECT_OK(policy_comment_check(big, POLICY_COMMENT_MAX));
	EXPECT_ERR(policy_comment_check(big, POLICY_COMMENT_MAX + 1), POLICY_E_COMMENT);
	EXPECT_OK(policy_comment_check(NULL, 0));
}

static void
make_rule(struct policy_rule *r)
{
	memset(r, 0, sizeof(*r));
	if (sel_parse("spiffe://td/ns/a/*", POLICY_FROM, &r->from, NULL) != 0 ||
	    sel_parse("spiffe://td/ns/b/sa/db", POLICY_TO, &r->to, NULL) != 0 ||
	    policy_ports_parse("5432", 4, &r->ports, NULL) != 0)
		abort();
	r->expires = 1800000000;
	memcpy(r->comment, "db access", 10);
}

TEST(rule_same)
{
	struct policy_rule a, b;

	make_rule(&a);
	make_rule(&b);
	EXPECT(policy_rule_same(&a, &b));
	/* Ids and creation times do not count. */
	b.id = 7;
	b.created = 123;
	EXPECT(policy_rule_same(&a, &b));

	make_rule(&b);
	EXPECT_OK(sel_parse("*", POLICY_FROM, &b.from, NULL));
	EXPECT(!policy_rule_same(&a, &b));
	make_rule(&b);
	EXPECT_OK(sel_parse("spiffe://td/ns/b/sa/dc", POLICY_TO, &b.to, NULL));
	EXPECT(!policy_rule_same(&a, &b));
	make_rule(&b);
	EXPECT_OK(policy_ports_add(&b.ports, 5433, 5433));
	EXPECT(!policy_rule_same(&a, &b));
	make_rule(&b);
	EXPECT_OK(policy_ports_parse("5433", 4, &b.ports, NULL));
	EXPECT(!policy_rule_same(&a, &b));
	make_rule(&b);
	b.expires = 0;
	EXPECT(!policy_rule_same(&a, &b));
	make_rule(&b);
	b.comment[0] = 'D';
	EXPECT(!policy_rule_same(&a, &b));
	make_rule(&b);
	b.comment[0] = '\0';
	EXPECT(!policy_rule_same(&a, &b));
	EXPECT(!policy_rule_same(&a, NULL));
}

TEST(names_and_errors)
{
	static const int codes[] = {
		POLICY_E_INVAL, POLICY_E_NOMEM, POLICY_E_SELECTOR, POLICY_E_PORT, POLICY_E_FILE,
		POLICY_E_STORE, POLICY_E_CORRUPT, POLICY_E_VERSION, POLICY_E_NOT_FOUND,
		POLICY_E_MAP_FULL, POLICY_E_NO_STORE, POLICY_E_TOO_BIG, POLICY_E_SIGNATURE,
		POLICY_E_KEY, POLICY_E_EXPIRED, POLICY_E_COMMENT,
	};

	for (size_t i = 0; i < AD_ARRAY_LEN(codes); i++) {
		const char *t = policy_strerror(codes[i]);

		REQUIRE(t != NULL);
		EXPECT(strlen(t) > 5 && strcmp(t, "unknown error") != 0);
		/* Each sentence is its own. */
		for (size_t k = 0; k < i; k++)
			EXPECT(strcmp(t, policy_strerror(codes[k])) != 0);
	}
	EXPECT_STR(policy_strerror(0), "success");
	EXPECT_STR(policy_strerror(CERTS_E_ID_NO_PATH), certs_strerror(CERTS_E_ID_NO_PATH));
	EXPECT_STR(policy_strerror(CERTS_E_ID_TD_CHAR), certs_strerror(CERTS_E_ID_TD_CHAR));
	EXPECT_STR(policy_strerror(-ENOENT), strerror(ENOENT));
	EXPECT_STR(policy_strerror(-EEXIST), strerror(EEXIST));
	EXPECT_STR(policy_strerror(-1099), "unknown error");
	EXPECT_STR(policy_strerror(-1199), "unknown error");
	EXPECT_STR(policy_strerror(5), "unknown error");

	EXPECT_STR(policy_verdict_name(POLICY_ALLOW), "allow");
	EXPECT_STR(policy_verdict_name(POLICY_DENY), "deny");
	EXPECT_STR(policy_verdict_name(POLICY_AUDIT), "audit");
	EXPECT_STR(policy_verdict_name((enum policy_verdict)42), "unknown");
	EXPECT_STR(policy_reason_name(POLICY_R_RULE), "rule");
	EXPECT_STR(policy_reason_name(POLICY_R_NO_RULE), "no-rule");
	EXPECT_STR(policy_reason_name(POLICY_R_PORT), "port");
	EXPECT_STR(policy_reason_name(POLICY_R_EXPIRED), "expired");
	EXPECT_STR(policy_reason_name((enum policy_reason)42), "unknown");
}

TEST_MAIN(selector_table, selector_whys, selector_lengths, selector_matches, ports_table,
    ports_whys, ports_limit, ports_add, ports_contains, ports_format_bounds, comment_check,
    rule_same, names_and_errors)
