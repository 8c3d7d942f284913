/*
 * Unit tests for policy/file.c: AllowList parsing (YAML block and flow
 * style, JSON), every error form with the path and line it names, and the
 * canonical text that signatures cover. Each document is copied into an
 * exact-size heap buffer so ASan catches a read past len.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "certs/error.h"
#include "policy/policy.h"
#include "tests/unit/test.h"

static int
parse(const char *doc, struct policy_set *set, char *err, size_t errlen)
{
	size_t len = strlen(doc);
	uint8_t *p = malloc(len ? len : 1);
	int rc;

	memset(set, 0, sizeof(*set));
	if (p == NULL)
		return -ENOMEM;
	memcpy(p, doc, len);
	rc = policy_set_parse(p, len, set, err, errlen);
	free(p);
	return rc;
}

#define HEAD "apiVersion: authd.io/v1\nkind: AllowList\n"

static const char good_doc[] =
    "# The payments allow-list.\n"
    "apiVersion: authd.io/v1\n"
    "kind: AllowList\n"
    "metadata:\n"
    "  name: payments\n"
    "  labels:\n"
    "    team: payments\n"
    "    tier: \"1\"\n"
    "  annotations:\n"
    "    owner: alice@example.org\n"
    "spec:\n"
    "  audit:\n"
    "    - spiffe://Prod.Example/ns/billing/*\n"
    "    - spiffe://prod.example/ns/web/sa/frontend\n"
    "  rules:\n"
    "    - from: spiffe://prod.example/ns/web/sa/frontend\n"
    "      to: spiffe://prod.example/ns/billing/sa/api\n"
    "      ports: 443\n"
    "      expires: 2026-12-01T00:00:00Z\n"
    "      comment: frontend to billing (OPS-12)\n"
    "    - from: \"*\"\n"
    "      to: spiffe://prod.example/ns/public/*\n"
    "      ports: [80, \"8000-8099\", 8100]\n"
    "    - from: spiffe://prod.example/*\n"
    "      to: spiffe://prod.example/ns/db/sa/pg\n"
    "      ports: \"5432, 6432\"\n"
    "      expires: \"2028-02-29T23:59:59Z\"\n"
    "      comment: 'db \"primary\" \\ caf\xc3\xa9'\n"
    "    - from: spiffe://prod.example/ns/ops/*\n"
    "      to: spiffe://prod.example/*\n"
    "      ports: all\n"
    "    - to: spiffe://prod.example/ns/x/sa/y\n"
    "      from: spiffe://other.example/ns/x/sa/z\n";

TEST(good_file)
{
	struct policy_set set;
	char err[256] = "untouched";
	const struct policy_rule *r;
	char ports[512];

	EXPECT_OK(parse(good_doc, &set, err, sizeof(err)));
	EXPECT_STR(err, "");
	REQUIRE(set.n == 5 && set.naudit == 2);
	EXPECT_STR(set.audit[0].str, "spiffe://prod.example/ns/billing/*");
	EXPECT_EQ(set.audit[0].kind, POLICY_SEL_NS);
	EXPECT_STR(set.audit[1].str, "spiffe://prod.example/ns/web/sa/frontend");
	EXPECT_EQ(set.audit[1].kind, POLICY_SEL_ID);

	r = &set.rules[0];
	EXPECT_EQ(r->id, 0);
	EXPECT_EQ(r->created, 0);
	EXPECT_STR(r->from.str, "spiffe://prod.example/ns/web/sa/frontend");
	EXPECT_EQ(r->from.kind, POLICY_SEL_ID);
	EXPECT_STR(r->to.str, "spiffe://prod.example/ns/billing/sa/api");
	policy_ports_format(&r->ports, ports, sizeof(ports));
	EXPECT_STR(ports, "443");
	EXPECT_EQ(r->expires, 1796083200);
	EXPECT_STR(r->comment, "frontend to billing (OPS-12)");

	r = &set.rules[1];
	EXPECT_EQ(r->from.kind, POLICY_SEL_ANY);
	EXPECT_STR(r->from.str, "*");
	EXPECT_EQ(r->to.kind, POLICY_SEL_NS);
	policy_ports_format(&r->ports, ports, sizeof(ports));
	EXPECT_STR(ports, "80,8000-8100");
	EXPECT_EQ(r->expires, 0);
	EXPECT_STR(r->comment, "");

	r = &set.rules[2];
	EXPECT_EQ(r->from.kind, POLICY_SEL_TD);
	policy_ports_format(&r->ports, ports, sizeof(ports));
	EXPECT_STR(ports, "5432,6432");
	EXPECT_EQ(r->expires, 1835481599);
	EXPECT_STR(r->comment, "db \"primary\" \\ caf\xc3\xa9");

	r = &set.rules[3];
	EXPECT_EQ(r->to.kind, POLICY_SEL_TD);
	EXPECT(policy_ports_all(&r->ports));

	/* ports left out means all ports; field order does not matter. */
	r = &set.rules[4];
	EXPECT_STR(r->from.str, "spiffe://other.example/ns/x/sa/z");
	EXPECT(policy_ports_all(&r->ports));

	policy_set_free(&set);
	EXPECT(set.rules == NULL && set.audit == NULL && set.n == 0 && set.naudit == 0);
	policy_set_free(&set);
	policy_set_free(NULL);
}

TEST(minimal_files)
{
	struct policy_set set;
	char err[256];

	/* No rules: deny everything. */
	EXPECT_OK(parse(HEAD "spec: {}\n", &set, err, sizeof(err)));
	EXPECT(set.n == 0 && set.naudit == 0 && set.rules == NULL);
	policy_set_free(&set);
	EXPECT_OK(parse(HEAD "spec:\n  rules: []\n  audit: []\n", &set, err, sizeof(err)));
	EXPECT(set.n == 0 && set.naudit == 0);
	policy_set_free(&set);
	/* An explicit document start and end, and a %YAML directive. */
	EXPECT_OK(parse("%YAML 1.1\n---\n" HEAD "spec: {}\n...\n", &set, err, sizeof(err)));
	policy_set_free(&set);
	/* Windows line endings and a UTF-8 byte order mark. */
	EXPECT_OK(parse("\xef\xbb\xbf" "apiVersion: authd.io/v1\r\nkind: AllowList\r\nspec:\r\n"
	    "  rules:\r\n  - {from: '*', to: 'spiffe://td/a'}\r\n", &set, err, sizeof(err)));
	EXPECT_EQ(set.n, 1);
	policy_set_free(&set);
}

TEST(json_file)
{
	struct policy_set set;
	char err[256];
	static const char json[] =
	    "{\"apiVersion\": \"authd.io/v1\", \"kind\": \"AllowList\",\n"
	    " \"metadata\": {\"name\": \"j\", \"labels\": {\"a\": \"b\"}},\n"
	    " \"spec\": {\"audit\": [\"spiffe://td/*\"],\n"
	    "  \"rules\": [\n"
	    "   {\"from\": \"*\", \"to\": \"spiffe://td/ns/a/*\", \"ports\": [443, \"8000-8001\"],\n"
	    "    \"expires\": \"2026-12-01T00:00:00Z\", \"comment\": \"j\\u00e9son \\\"q\\\"\"},\n"
	    "   {\"from\": \"spiffe://td/x\", \"to\": \"spiffe://td/y\", \"ports\": 22}\n"
	    "  ]}}\n";

	EXPECT_OK(parse(json, &set, err, sizeof(err)));
	REQUIRE(set.n == 2 && set.naudit == 1);
	EXPECT_EQ(set.rules[0].expires, 1796083200);
	EXPECT_STR(set.rules[0].comment, "j\xc3\xa9son \"q\"");
	EXPECT(policy_ports_contains(&set.rules[0].ports, 8001));
	EXPECT(policy_ports_contains(&set.rules[1].ports, 22));
	EXPECT(!policy_ports_contains(&set.rules[1].ports, 23));
	policy_set_free(&set);

	/* JSON null is an empty value, refused. */
	EXPECT_ERR(parse("{\"apiVersion\": \"authd.io/v1\", \"kind\": \"AllowList\", \"spec\":"
	    " {\"rules\": [{\"from\": \"*\", \"to\": \"spiffe://td/a\", \"ports\": null}]}}",
	    &set, err, sizeof(err)), POLICY_E_FILE);
	EXPECT(strstr(err, "spec.rules[0].ports (line 1)") != NULL);
}

struct err_case {
	const char *name;
	const char *doc;
	int code;
	const char *want1;	/* substrings of the message */
	const char *want2;
};

static const struct err_case err_cases[] = {
	{ "wrong apiVersion", "apiVersion: authd.io/v2\nkind: AllowList\nspec: {}\n",
	    POLICY_E_FILE, "apiVersion (line 1): 'authd.io/v2' is not supported", "authd.io/v1" },
	{ "apiVersion not a string", "apiVersion: [1]\nkind: AllowList\nspec: {}\n",
	    POLICY_E_FILE, "apiVersion (line 1): expected", "found a list" },
	{ "wrong kind", "apiVersion: authd.io/v1\nkind: DenyList\nspec: {}\n", POLICY_E_FILE,
	    "kind (line 2): 'DenyList' is not supported", "AllowList" },
	{ "missing apiVersion", "kind: AllowList\nspec: {}\n", POLICY_E_FILE,
	    "line 1: field 'apiVersion' is missing", NULL },
	{ "missing kind", "apiVersion: authd.io/v1\nspec: {}\n", POLICY_E_FILE,
	    "field 'kind' is missing", NULL },
	{ "missing spec", HEAD "metadata: {name: x}\n", POLICY_E_FILE,
	    "field 'spec' is missing", NULL },
	{ "unknown top key", HEAD "spce: {}\n", POLICY_E_FILE,
	    "line 3: unknown field 'spce'", "apiVersion, kind, metadata or spec" },
	{ "unknown metadata key", HEAD "metadata:\n  name: x\n  nmae: y\nspec: {}\n",
	    POLICY_E_FILE, "metadata (line 5): unknown field 'nmae'", NULL },
	{ "unknown spec key", HEAD "spec:\n  rule: []\n", POLICY_E_FILE,
	    "spec (line 4): unknown field 'rule'", "rules or audit" },
	{ "unknown rule key",
	    HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n    prots: 80\n",
	    POLICY_E_FILE, "spec.rules[0] (line 7): unknown field 'prots'", NULL },
	{ "duplicate top key", HEAD "kind: AllowList\nspec: {}\n", POLICY_E_FILE,
	    "line 3: field 'kind' appears twice", NULL },
	{ "duplicate rule key",
	    HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n    from: spiffe://td/b\n",
	    POLICY_E_FILE, "spec.rules[0] (line 7): field 'from' appears twice", NULL },
	{ "duplicate spec key", HEAD "spec:\n  rules: []\n  rules: []\n", POLICY_E_FILE,
	    "spec (line 5): field 'rules' appears twice", NULL },
	{ "duplicate label key",
	    HEAD "metadata:\n  labels:\n    a: x\n    b: y\n    a: z\nspec: {}\n", POLICY_E_FILE,
	    "metadata.labels (line 7): key 'a' appears twice", NULL },
	{ "label value not a string", HEAD "metadata:\n  labels:\n    a: [x]\nspec: {}\n",
	    POLICY_E_FILE, "metadata.labels (line 5): expected a string, found a list", NULL },
	{ "missing from", HEAD "spec:\n  rules:\n  - to: spiffe://td/a\n", POLICY_E_FILE,
	    "spec.rules[0] (line 5): field 'from' is missing", NULL },
	{ "missing to",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: spiffe://td/a}\n  - from: '*'\n",
	    POLICY_E_FILE, "spec.rules[1] (line 6): field 'to' is missing", NULL },
	{ "bad selector",
	    HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n"
	    "  - from: '*'\n    to: spiffe://td/ns/*\n",
	    POLICY_E_SELECTOR, "spec.rules[1].to (line 8): 'spiffe://td/ns/*' is not a selector: ",
	    "namespace" },
	{ "star as destination", HEAD "spec:\n  rules:\n  - from: spiffe://td/a\n    to: '*'\n",
	    POLICY_E_SELECTOR, "spec.rules[0].to (line 6): '*' is not a selector: ",
	    "only as a source" },
	{ "malformed ID", HEAD "spec:\n  rules:\n  - from: spiffe://td/a/\n    to: spiffe://td/b\n",
	    CERTS_E_ID_TRAILING_SLASH, "spec.rules[0].from (line 5): 'spiffe://td/a/' is not a "
	    "selector: ", "end with '/'" },
	{ "selector not a string", HEAD "spec:\n  rules:\n  - from: {a: b}\n    to: spiffe://td/b\n",
	    POLICY_E_FILE, "spec.rules[0].from (line 5): expected a selector, found a mapping",
	    NULL },
	{ "bad audit", HEAD "spec:\n  audit:\n  - spiffe://td/*\n  - '*'\n", POLICY_E_SELECTOR,
	    "spec.audit[1] (line 6): '*' is not a selector", NULL },
	{ "bad port", HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n    ports: abc\n",
	    POLICY_E_PORT, "spec.rules[0].ports (line 7): 'abc' is not a port: ", NULL },
	{ "port 0", HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', ports: 0}\n",
	    POLICY_E_PORT, "spec.rules[0].ports (line 5): '0' is not a port: port 0", NULL },
	{ "octal-looking port",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', ports: 010}\n",
	    POLICY_E_PORT, "leading zeros", NULL },
	{ "bad port in list",
	    HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n    ports:\n"
	    "    - 80\n    - 70000\n",
	    POLICY_E_PORT, "spec.rules[0].ports[1] (line 9): '70000' is not a port: ", "65535" },
	{ "list item holding a list",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', ports: [80, '443,444']}\n",
	    POLICY_E_PORT, "spec.rules[0].ports[1] (line 5): '443,444' is not a port", NULL },
	{ "all inside a list",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', ports: [80, all]}\n",
	    POLICY_E_PORT, "spec.rules[0].ports[1]", NULL },
	{ "empty port list",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', ports: []}\n",
	    POLICY_E_PORT, "spec.rules[0].ports (line 5): an empty list allows no port", NULL },
	{ "empty ports value",
	    HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n    ports:\n",
	    POLICY_E_FILE, "spec.rules[0].ports (line 7): expected ports, found an empty value",
	    NULL },
	{ "ports a mapping",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', ports: {a: 1}}\n",
	    POLICY_E_FILE, "spec.rules[0].ports (line 5): expected a port", "found a mapping" },
	{ "too many port ranges in a list",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', ports: [1,3,5,7,9,11,13,"
	    "15,17,19,21,23,25,27,29,31,33,35,37,39,41,43,45,47,49,51,53,55,57,59,61,63,65]}\n",
	    POLICY_E_PORT, "spec.rules[0].ports (line 5): the list is not a port set", "32" },
	{ "bad expires day",
	    HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n"
	    "    expires: 2026-02-30T00:00:00Z\n",
	    POLICY_E_FILE, "spec.rules[0].expires (line 7): '2026-02-30T00:00:00Z' is not a time",
	    "no such day" },
	{ "not a leap year",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: 2027-02-29T00:00:00Z}\n", POLICY_E_FILE, "no such day", NULL },
	{ "expires offset",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: '2026-12-01T00:00:00+01:00'}\n", POLICY_E_FILE, "is not a time", "UTC" },
	{ "expires fraction",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: '2026-12-01T00:00:00.5Z'}\n", POLICY_E_FILE, "fractional", NULL },
	{ "expires lower case",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: '2026-12-01t00:00:00z'}\n", POLICY_E_FILE, "is not a time", NULL },
	{ "expires date only",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', expires: 2026-12-01}\n",
	    POLICY_E_FILE, "'2026-12-01' is not a time", NULL },
	{ "expires month 13",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: 2026-13-01T00:00:00Z}\n", POLICY_E_FILE, "month", NULL },
	{ "expires hour 24",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: 2026-12-01T24:00:00Z}\n", POLICY_E_FILE, "time of day", NULL },
	{ "expires leap second",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: 2016-12-31T23:59:60Z}\n", POLICY_E_FILE, "time of day", NULL },
	{ "expires at the epoch",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: 1970-01-01T00:00:00Z}\n", POLICY_E_FILE, "after 1970", NULL },
	{ "expires before the epoch",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: 1969-12-31T23:59:59Z}\n", POLICY_E_FILE, "1970", NULL },
	{ "expires sign",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', "
	    "expires: 2026-12-+1T00:00:00Z}\n", POLICY_E_FILE, "is not a time", NULL },
	{ "comment with a tab",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', comment: \"a\\tb\"}\n",
	    POLICY_E_COMMENT, "spec.rules[0].comment (line 5): 'a\\x09b' is not a valid comment",
	    NULL },
	{ "comment with a newline",
	    HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n    comment: |\n"
	    "      two\n      lines\n", POLICY_E_COMMENT, "spec.rules[0].comment (line 7)", NULL },
	{ "comment too long",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', comment: "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaa}\n",
	    POLICY_E_COMMENT, "...' is not a valid comment: longer than 256 bytes", NULL },
	{ "empty comment value",
	    HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/a', comment: }\n",
	    POLICY_E_FILE, "spec.rules[0].comment (line 5): expected a comment, found an empty",
	    NULL },
	{ "anchor", HEAD "spec:\n  rules:\n  - &r {from: '*', to: 'spiffe://td/a'}\n",
	    POLICY_E_FILE, "spec.rules (line 5): anchors are not allowed", NULL },
	{ "alias", HEAD "spec:\n  rules:\n  - *r\n", POLICY_E_FILE,
	    "spec.rules (line 5): aliases are not allowed", NULL },
	{ "alias as a value", HEAD "spec:\n  rules:\n  - {from: *x, to: 'spiffe://td/a'}\n",
	    POLICY_E_FILE, "spec.rules[0].from (line 5): aliases are not allowed", NULL },
	{ "billion laughs",
	    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", POLICY_E_FILE, "unknown field 'a'",
	    NULL },
	{ "billion laughs in metadata",
	    HEAD "metadata:\n  labels: &a {x: y}\n  annotations: *a\nspec: {}\n", POLICY_E_FILE,
	    "metadata.labels (line 4): anchors are not allowed", NULL },
	{ "tag", HEAD "spec:\n  rules:\n  - {from: !!str '*', to: 'spiffe://td/a'}\n",
	    POLICY_E_FILE, "spec.rules[0].from (line 5): tags are not allowed", NULL },
	{ "too deep", "apiVersion: [[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]\n", POLICY_E_FILE,
	    "apiVersion (line 1): expected an API version, found a list", NULL },
	{ "too deep in labels", HEAD "metadata:\n  labels:\n    a: [[[[[[[[[[x]]]]]]]]]]\nspec: {}\n",
	    POLICY_E_FILE, "metadata.labels (line 5)", NULL },
	{ "key not a string", HEAD "? [a]\n: b\nspec: {}\n", POLICY_E_FILE,
	    "line 3: a field name must be a string, not a list", NULL },
	{ "sequence document", "- a\n- b\n", POLICY_E_FILE,
	    "line 1: the document must be a mapping", "not a list" },
	{ "scalar document", "hello\n", POLICY_E_FILE, "line 1: the document must be a mapping",
	    "not a string" },
	{ "empty file", "", POLICY_E_FILE, "the file is empty", NULL },
	{ "only a comment", "# nothing here\n\n", POLICY_E_FILE, "the file is empty", NULL },
	{ "empty document", "---\n", POLICY_E_FILE, "the document is empty", NULL },
	{ "two documents", HEAD "spec: {}\n---\n" HEAD "spec: {}\n", POLICY_E_FILE,
	    "line 4: only one document is allowed", NULL },
	{ "invalid YAML", HEAD "spec:\n  rules: [\n", POLICY_E_FILE, "line ", " column " },
	{ "tab indentation", HEAD "spec:\n\trules: []\n", POLICY_E_FILE,
	    "line 4 column 1: found character that cannot start any token", NULL },
	{ "unterminated quote", HEAD "spec: {rules: [{from: '*}]}\n", POLICY_E_FILE,
	    "column", "quoted scalar" },
	{ "invalid UTF-8", HEAD "metadata: {name: \"\xff\"}\nspec: {}\n", POLICY_E_FILE,
	    "byte ", NULL },
	{ "NUL byte", HEAD "spec: {}\n#\x01\n", POLICY_E_FILE, "byte ", NULL },
	{ "rules null", HEAD "spec:\n  rules:\n", POLICY_E_FILE,
	    "spec.rules (line 4): expected a list of rules, found an empty value", NULL },
	{ "rules a mapping", HEAD "spec:\n  rules: {from: a}\n", POLICY_E_FILE,
	    "spec.rules (line 4): expected a list of rules, found a mapping", NULL },
	{ "rule a string", HEAD "spec:\n  rules:\n  - allow all\n", POLICY_E_FILE,
	    "spec.rules[0] (line 5): a rule is a mapping", NULL },
	{ "spec a list", HEAD "spec: []\n", POLICY_E_FILE, "spec (line 3): expected a mapping",
	    NULL },
	{ "metadata a string", HEAD "metadata: x\nspec: {}\n", POLICY_E_FILE,
	    "metadata (line 3): expected a mapping, found a string", NULL },
};

TEST(error_forms)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(err_cases); i++) {
		const struct err_case *c = &err_cases[i];
		struct policy_set set;
		char err[512];
		int rc;

		memset(err, 'x', sizeof(err));
		rc = parse(c->doc, &set, err, sizeof(err));
		if (rc != c->code || strlen(err) >= sizeof(err) ||
		    strstr(err, c->want1) == NULL || (c->want2 && strstr(err, c->want2) == NULL)) {
			fprintf(stderr, "  case \"%s\": rc %d (want %d), err \"%.*s\"\n", c->name, rc,
			    c->code, (int)sizeof(err) - 1, err);
			EXPECT(rc == c->code);
			EXPECT(strstr(err, c->want1) != NULL);
			EXPECT(c->want2 == NULL || strstr(err, c->want2) != NULL);
		}
		/* Nothing is handed back on failure. */
		EXPECT(set.n == 0 && set.rules == NULL && set.naudit == 0 && set.audit == NULL);
	}
}

TEST(error_later_rule)
{
	struct policy_set set;
	char err[256], doc[4096];
	size_t off;

	/* A bad rule after good ones: everything is released, the index is right. */
	off = (size_t)snprintf(doc, sizeof(doc), HEAD "spec:\n  rules:\n");
	for (int i = 0; i < 20; i++)
		off += (size_t)snprintf(doc + off, sizeof(doc) - off,
		    "  - {from: 'spiffe://td/s%d', to: 'spiffe://td/d', ports: %d}\n", i, 1000 + i);
	(void)snprintf(doc + off, sizeof(doc) - off,
	    "  - {from: 'spiffe://td/s', to: 'spiffe://td/d', ports: 99999}\n");
	EXPECT_ERR(parse(doc, &set, err, sizeof(err)), POLICY_E_PORT);
	EXPECT(strstr(err, "spec.rules[20].ports (line 25): '99999' is not a port") != NULL);
	EXPECT(set.n == 0 && set.rules == NULL);
}

TEST(error_buffer)
{
	struct policy_set set;
	char err[16], big[300];
	uint8_t one = 'a';
	const char *doc = HEAD "spec:\n  rules:\n  - from: '*'\n    to: spiffe://td/a\n    "
	    "prots: 80\n";

	/* Truncated, always terminated. */
	memset(err, 'x', sizeof(err));
	EXPECT_ERR(parse(doc, &set, err, sizeof(err)), POLICY_E_FILE);
	EXPECT_EQ(strlen(err), sizeof(err) - 1);
	EXPECT(memcmp(err, "spec.rules[0] (", 15) == 0);
	err[0] = 'x';
	EXPECT_ERR(parse(doc, &set, err, 1), POLICY_E_FILE);
	EXPECT(err[0] == '\0');
	/* No buffer at all is fine. */
	EXPECT_ERR(parse(doc, &set, NULL, 0), POLICY_E_FILE);
	EXPECT_ERR(parse(doc, &set, err, 0), POLICY_E_FILE);

	/* A long value is shown to 64 bytes and "...". */
	EXPECT_ERR(parse(HEAD "spec:\n  rules:\n  - {from: '*', to: 'spiffe://td/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/'}\n",
	    &set, big, sizeof(big)), CERTS_E_ID_TRAILING_SLASH);
	EXPECT(strstr(big, "'spiffe://td/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is "
	    "not a selector") != NULL);

	/* The size bound is checked before anything is read. */
	EXPECT_ERR(policy_set_parse(&one, (size_t)POLICY_FILE_MAX_BYTES + 1, &set, big,
	    sizeof(big)), POLICY_E_TOO_BIG);
	EXPECT(strstr(big, "larger than") != NULL);
	EXPECT_ERR(policy_set_parse(NULL, 1, &set, big, sizeof(big)), POLICY_E_INVAL);
	EXPECT_ERR(policy_set_parse(&one, 1, NULL, big, sizeof(big)), POLICY_E_INVAL);
	EXPECT_ERR(policy_set_parse(NULL, 0, &set, big, sizeof(big)), POLICY_E_FILE);
	EXPECT(strstr(big, "empty") != NULL);
}

TEST(deep_nesting)
{
	struct policy_set set;
	char err[256];
	size_t depth = 100000, off = 0;
	char *doc = malloc(2 * depth + 64);

	/* Deep input fails at once, without recursion or building anything. */
	REQUIRE(doc != NULL);
	off += (size_t)sprintf(doc, "apiVersion: ");
	memset(doc + off, '[', depth);
	off += depth;
	memset(doc + off, ']', depth);
	off += depth;
	doc[off] = '\0';
	EXPECT_ERR(parse(doc, &set, err, sizeof(err)), POLICY_E_FILE);
	EXPECT(strstr(err, "apiVersion (line 1)") != NULL);
	/* Deep where the schema allows a mapping. */
	off = (size_t)sprintf(doc, HEAD "spec:\n  rules:\n  - {from: ");
	memset(doc + off, '{', depth);
	doc[off + depth] = '\0';
	EXPECT_ERR(parse(doc, &set, err, sizeof(err)), POLICY_E_FILE);
	EXPECT(strstr(err, "spec.rules[0].from (line 5)") != NULL);
	free(doc);
}

/* ---- Canonical text ------------------------------------------------------- */

static char *
canon_of(const char *doc)
{
	struct policy_set set;
	char err[256], *out = NULL;
	size_t len = 0;

	if (parse(doc, &set, err, sizeof(err)) != 0) {
		fprintf(stderr, "  parse: %s\n", err);
		return NULL;
	}
	if (policy_set_canonical(&set, &out, &len) != 0 || strlen(out) != len) {
		free(out);
		out = NULL;
	}
	policy_set_free(&set);
	return out;
}

static const char block_doc[] =
    HEAD
    "metadata:\n"
    "  name: a\n"
    "spec:\n"
    "  audit:\n"
    "    - spiffe://td/ns/z/*\n"
    "    - spiffe://td/ns/a/*\n"
    "  rules:\n"
    "    - from: spiffe://td/ns/web/sa/fe\n"
    "      to: spiffe://td/ns/db/sa/pg\n"
    "      ports: 5432\n"
    "      expires: 2026-12-01T00:00:00Z\n"
    "      comment: say \"hi\" \\ bye\n"
    "    - from: '*'\n"
    "      to: spiffe://td/ns/pub/*\n"
    "      ports: [443, 80]\n"
    "    - from: spiffe://td/*\n"
    "      to: spiffe://td/ns/db/sa/pg\n";

/* The same rules, other order, flow style, other spellings of equal values. */
static const char flow_doc[] =
    "{kind: AllowList, apiVersion: authd.io/v1, spec: {rules: [\n"
    "  {to: 'spiffe://TD/ns/db/sa/pg', from: 'SPIFFE://td/*', ports: all},\n"
    "  {from: '*', to: 'spiffe://td/ns/pub/*', ports: '80,443'},\n"
    "  {from: 'spiffe://td/ns/web/sa/fe', to: 'spiffe://td/ns/db/sa/pg', ports: '5432',\n"
    "   expires: '2026-12-01T00:00:00Z', comment: 'say \"hi\" \\ bye'}],\n"
    " audit: ['spiffe://td/ns/a/*', 'spiffe://td/ns/z/*']}}\n";

static const char json_doc[] =
    "{\"apiVersion\": \"authd.io/v1\", \"kind\": \"AllowList\", \"spec\": {\"rules\": [\n"
    " {\"from\": \"*\", \"to\": \"spiffe://td/ns/pub/*\", \"ports\": [80, 443]},\n"
    " {\"from\": \"spiffe://td/*\", \"to\": \"spiffe://td/ns/db/sa/pg\"},\n"
    " {\"from\": \"spiffe://td/ns/web/sa/fe\", \"to\": \"spiffe://td/ns/db/sa/pg\",\n"
    "  \"ports\": 5432, \"expires\": \"2026-12-01T00:00:00Z\",\n"
    "  \"comment\": \"say \\\"hi\\\" \\\\ bye\"}],\n"
    " \"audit\": [\"spiffe://td/ns/z/*\", \"spiffe://td/ns/a/*\"]}}\n";

TEST(canonical_text)
{
	char *a = canon_of(block_doc);

	REQUIRE(a != NULL);
	EXPECT_STR(a,
	    "authd.io/v1 AllowList canonical\n"
	    "allow * spiffe://td/ns/pub/* 80,443 never \"\"\n"
	    "allow spiffe://td/* spiffe://td/ns/db/sa/pg all never \"\"\n"
	    "allow spiffe://td/ns/web/sa/fe spiffe://td/ns/db/sa/pg 5432 1796083200 "
	    "\"say \\\"hi\\\" \\\\ bye\"\n"
	    "audit spiffe://td/ns/a/*\n"
	    "audit spiffe://td/ns/z/*\n");
	free(a);
}

TEST(canonical_independent_of_form)
{
	char *a = canon_of(block_doc), *b = canon_of(flow_doc), *c = canon_of(json_doc);

	EXPECT(a != NULL && b != NULL && c != NULL);
	if (a != NULL && b != NULL && c != NULL) {
		EXPECT_STR(a, b);
		EXPECT_STR(a, c);
	}
	free(a);
	free(b);
	free(c);
}

/* Each edit changes what block_doc allows; each must change the text. */
static const struct {
	const char *from;
	const char *to;
} edits[] = {
	{ "from: spiffe://td/ns/web/sa/fe", "from: spiffe://td/ns/web/sa/fe2" },
	{ "from: '*'", "from: spiffe://td/*" },
	{ "to: spiffe://td/ns/pub/*", "to: spiffe://td/ns/pub2/*" },
	{ "ports: 5432", "ports: 5433" },
	{ "ports: [443, 80]", "ports: [443, 81]" },
	{ "ports: [443, 80]", "ports: all" },
	{ "2026-12-01T00:00:00Z", "2026-12-01T00:00:01Z" },
	{ "      expires: 2026-12-01T00:00:00Z\n", "" },
	{ "comment: say \"hi\" \\ bye", "comment: say \"hi\" \\ bye." },
	{ "    - spiffe://td/ns/z/*\n", "" },
	{ "    - spiffe://td/ns/z/*\n", "    - spiffe://td/ns/y/*\n" },
	{ "    - from: spiffe://td/*\n      to: spiffe://td/ns/db/sa/pg\n", "" },
	/* A duplicate rule is kept: the text says what the file says. */
	{ "  rules:\n", "  rules:\n    - {from: '*', to: 'spiffe://td/ns/pub/*', ports: [443, 80]}\n" },
};

static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to) + 1, pre;
	char *out;

	if (at == NULL)
		return NULL;
	out = malloc(n);
	if (out == NULL)
		return NULL;
	pre = (size_t)(at - s);
	memcpy(out, s, pre);
	memcpy(out + pre, to, strlen(to));
	strcpy(out + pre + strlen(to), at + strlen(from));
	return out;
}

TEST(canonical_changes_with_rules)
{
	char *base = canon_of(block_doc);

	REQUIRE(base != NULL);
	for (size_t i = 0; i < AD_ARRAY_LEN(edits); i++) {
		char *doc = replace(block_doc, edits[i].from, edits[i].to), *c;

		REQUIRE(doc != NULL);
		c = canon_of(doc);
		if (c == NULL || strcmp(c, base) == 0) {
			fprintf(stderr, "  edit %zu left the text unchanged\n", i);
			EXPECT(c != NULL && strcmp(c, base) != 0);
		}
		free(c);
		free(doc);
	}
	free(base);
}

TEST(canonical_edges)
{
	struct policy_set set;
	struct policy_rule r;
	char *out = (char *)1;
	size_t len = 99;

	/* An empty set is the header alone. */
	memset(&set, 0, sizeof(set));
	EXPECT_OK(policy_set_canonical(&set, &out, &len));
	EXPECT(out != NULL && strcmp(out, "authd.io/v1 AllowList canonical\n") == 0 &&
	    len == strlen(out));
	free(out);
	/* Malformed sets are refused. */
	set.n = 1;
	EXPECT_ERR(policy_set_canonical(&set, &out, &len), POLICY_E_INVAL);
	EXPECT(out == NULL && len == 0);
	memset(&r, 0, sizeof(r));
	set.rules = &r;
	EXPECT_ERR(policy_set_canonical(&set, &out, &len), POLICY_E_INVAL);
	EXPECT_OK(policy_selector_parse("*", 1, POLICY_FROM, &r.from, NULL));
	EXPECT_OK(policy_selector_parse("spiffe://td/a", 13, POLICY_TO, &r.to, NULL));
	EXPECT_OK(policy_ports_parse("all", 3, &r.ports, NULL));
	memcpy(r.comment, "a\nb", 4);
	EXPECT_ERR(policy_set_canonical(&set, &out, &len), POLICY_E_COMMENT);
	memcpy(r.comment, "ok", 3);
	r.expires = 42;
	EXPECT_OK(policy_set_canonical(&set, &out, &len));
	EXPECT_STR(out, "authd.io/v1 AllowList canonical\nallow * spiffe://td/a all 42 \"ok\"\n");
	free(out);
	EXPECT_ERR(policy_set_canonical(NULL, &out, &len), POLICY_E_INVAL);
	EXPECT_ERR(policy_set_canonical(&set, NULL, &len), POLICY_E_INVAL);
}

TEST(many_rules)
{
	struct policy_set set;
	char err[256], *doc, *out = NULL;
	size_t n = 5000, off, len = 0;

	/* Enough rules to exercise the array's growth. */
	doc = malloc(n * 80 + 256);
	REQUIRE(doc != NULL);
	off = (size_t)sprintf(doc, HEAD "spec:\n  rules:\n");
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(doc + off, "  - {from: 'spiffe://td/s%zu', to: '*'}\n", n - i);
	EXPECT_ERR(parse(doc, &set, err, sizeof(err)), POLICY_E_SELECTOR);
	EXPECT(strstr(err, "spec.rules[0].to (line 5)") != NULL);
	off = (size_t)sprintf(doc, HEAD "spec:\n  rules:\n");
	for (size_t i = 0; i < n; i++)
		off += (size_t)sprintf(doc + off, "  - {from: 'spiffe://td/s%zu', to: 'spiffe://td/*'}\n",
		    n - i);
	EXPECT_OK(parse(doc, &set, err, sizeof(err)));
	EXPECT_EQ(set.n, n);
	EXPECT_OK(policy_set_canonical(&set, &out, &len));
	/* Sorted bytewise: s1 < s10 < s100 ... */
	EXPECT(out != NULL && strncmp(out, "authd.io/v1 AllowList canonical\n"
	    "allow spiffe://td/s1 spiffe://td/* all never \"\"\n"
	    "allow spiffe://td/s10 ", 102) == 0);
	free(out);
	policy_set_free(&set);
	free(doc);
}

TEST_MAIN(good_file, minimal_files, json_file, error_forms, error_later_rule, error_buffer,
    deep_nesting, canonical_text, canonical_independent_of_form, canonical_changes_with_rules,
    canonical_edges, many_rules)
