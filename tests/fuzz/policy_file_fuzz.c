/* Target Functions: policy_set_parse, policy_set_canonical, policy_selector_parse, policy_ports_parse */
/*
 * The first byte picks a target ('0', '1', '2', or any byte modulo 3):
 *
 *   0  the rest is a policy file. A parsed set must canonicalise, its
 *      selectors re-parse to themselves, its port sets be sorted, merged
 *      and within 1..65535, and its canonical text not depend on rule
 *      order. A failure must leave the set empty and explain itself.
 *   1  the rest is "SELECTOR" or "SELECTOR\nSPIFFE-ID". A parsed selector
 *      re-parses to itself, and policy_selector_matches() agrees with the
 *      candidate selectors match.c derives from an ID for its lookups.
 *   2  the rest is a port list. A parsed set formats and re-parses to the
 *      same ranges, and policy_ports_add() builds the same set.
 *
 * Every err buffer must come back NUL-terminated. libFuzzer hands us an
 * exact-size heap buffer, so ASan flags any read past size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certs/error.h"
#include "certs/spiffe.h"
#include "policy/policy.h"
#include "tests/fuzz/fuzz.h"

static bool
known_err(int err)
{
	return (err <= POLICY_E_INVAL && err >= POLICY_E_COMMENT) ||
	    (err <= CERTS_E_ID_EMPTY && err >= CERTS_E_ID_NO_PATH);
}

static void
check_ports(const struct policy_ports *p)
{
	CHECK(p->n >= 1 && p->n <= POLICY_PORT_RANGES_MAX);
	for (size_t i = 0; i < p->n; i++) {
		CHECK(p->r[i].lo >= 1 && p->r[i].lo <= p->r[i].hi);
		/* Sorted and merged: a gap of at least one port between ranges. */
		if (i > 0)
			CHECK((unsigned)p->r[i - 1].hi + 1 < p->r[i].lo);
	}
	for (size_t i = p->n; i < POLICY_PORT_RANGES_MAX; i++)
		CHECK(p->r[i].lo == 0 && p->r[i].hi == 0);
}

static void
check_selector(const struct policy_selector *sel, enum policy_side side)
{
	struct policy_selector again;
	const char *why = NULL;

	CHECK(sel->len > 0 && sel->len < sizeof(sel->str));
	CHECK(strlen(sel->str) == sel->len);
	CHECK(sel->kind != POLICY_SEL_ANY || (side == POLICY_FROM && sel->len == 1));
	CHECK(policy_selector_parse(sel->str, sel->len, side, &again, &why) == 0);
	CHECK(why == NULL);
	CHECK(again.kind == sel->kind && again.len == sel->len);
	CHECK(memcmp(again.str, sel->str, sel->len + 1) == 0);
}

/* ---- 0: files ------------------------------------------------------------- */

static void
fuzz_file(const uint8_t *data, size_t size)
{
	struct policy_set set;
	char err[160], *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;
	int rc;

	memset(err, 0x55, sizeof(err));
	rc = policy_set_parse(data, size, &set, err, sizeof(err));
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc != 0) {
		CHECK(known_err(rc));
		CHECK(err[0] != '\0');
		CHECK(set.n == 0 && set.rules == NULL && set.naudit == 0 && set.audit == NULL);
		policy_set_free(&set);
		return;
	}
	CHECK(err[0] == '\0');
	CHECK(set.n <= POLICY_FILE_MAX_RULES && (set.n == 0 || set.rules != NULL));
	for (size_t i = 0; i < set.n; i++) {
		const struct policy_rule *r = &set.rules[i];

		CHECK(r->id == 0 && r->created == 0 && r->expires >= 0);
		check_selector(&r->from, POLICY_FROM);
		check_selector(&r->to, POLICY_TO);
		check_ports(&r->ports);
		CHECK(policy_comment_check(r->comment, strlen(r->comment)) == 0);
		CHECK(policy_rule_same(r, r));
	}
	for (size_t i = 0; i < set.naudit; i++)
		check_selector(&set.audit[i], POLICY_TO);

	CHECK(policy_set_canonical(&set, &text, &len) == 0);
	CHECK(text != NULL && strlen(text) == len);
	/* One line per rule and audit destination. */
	{
		size_t lines = 0;

		for (size_t i = 0; i < len; i++)
			lines += text[i] == '\n';
		CHECK(lines == set.n + set.naudit + 1);	/* the format line */
	}
	/* The text does not depend on the order rules and destinations came in. */
	for (size_t i = 0, j = set.n; i + 1 < j; i++, j--) {
		struct policy_rule tmp = set.rules[i];

		set.rules[i] = set.rules[j - 1];
		set.rules[j - 1] = tmp;
	}
	for (size_t i = 0, j = set.naudit; i + 1 < j; i++, j--) {
		struct policy_selector tmp = set.audit[i];

		set.audit[i] = set.audit[j - 1];
		set.audit[j - 1] = tmp;
	}
	CHECK(policy_set_canonical(&set, &text2, &len2) == 0);
	CHECK(len2 == len && memcmp(text, text2, len + 1) == 0);
	free(text);
	free(text2);
	policy_set_free(&set);
	policy_set_free(&set);
	CHECK(set.n == 0 && set.rules == NULL);
}

/* ---- 1: selectors --------------------------------------------------------- */

/*
 * The selectors that name id, built independently of selector.c the way
 * match.c builds its lookup keys: the ID, its namespace selector when the
 * path is /ns/NS/..., its trust domain selector, and "*".
 */
static bool
named_by(const struct policy_selector *sel, const struct spiffe_id *id)
{
	char buf[SPIFFE_ID_MAX + 8];
	size_t td_end = 9 + id->td_len;
	const char *path = id->str + td_end;
	size_t plen = id->len - td_end;

	if (sel->kind == POLICY_SEL_ANY)
		return strcmp(sel->str, "*") == 0;
	if (sel->len == id->len && memcmp(sel->str, id->str, id->len) == 0)
		return true;
	if (plen > 4 && memcmp(path, "/ns/", 4) == 0) {
		const char *end = memchr(path + 4, '/', plen - 4);

		if (end != NULL && end > path + 4 && (size_t)(end - id->str) + 1 < id->len) {
			size_t n = (size_t)(end - id->str) + 1;

			memcpy(buf, id->str, n);
			buf[n++] = '*';
			if (sel->len == n && memcmp(sel->str, buf, n) == 0)
				return true;
		}
	}
	memcpy(buf, id->str, td_end);
	memcpy(buf + td_end, "/*", 2);
	return sel->len == td_end + 2 && memcmp(sel->str, buf, td_end + 2) == 0;
}

static const char *const fixed_ids[] = {
	"spiffe://td/a",
	"spiffe://td",
	"spiffe://td/ns/a/sa/b",
	"spiffe://td/ns/a",
	"spiffe://example.org/ns/default/sa/web",
	"spiffe://td.example/ns/x/y",
};

static void
check_matches(const struct policy_selector *sel, const struct spiffe_id *id)
{
	bool m = policy_selector_matches(sel, id);

	CHECK(m == named_by(sel, id));
	if (sel->kind == POLICY_SEL_ANY)
		CHECK(m);
}

static void
fuzz_selector(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t slen = nl != NULL ? (size_t)(nl - data) : size;
	struct policy_selector from, to, self;
	struct spiffe_id id;
	const char *why_from = NULL, *why_to = NULL;
	int rf, rt;

	rf = policy_selector_parse(s, slen, POLICY_FROM, &from, &why_from);
	rt = policy_selector_parse(s, slen, POLICY_TO, &to, &why_to);
	if (rf != 0) {
		CHECK(known_err(rf) && why_from != NULL && why_from[0] != '\0');
		CHECK(from.len == 0 && from.str[0] == '\0');
		/* Whatever a source cannot be, a destination cannot be either. */
		CHECK(rt == rf);
		return;
	}
	check_selector(&from, POLICY_FROM);
	if (from.kind == POLICY_SEL_ANY) {
		CHECK(rt == POLICY_E_SELECTOR && why_to != NULL && to.len == 0);
	} else {
		CHECK(rt == 0);
		check_selector(&to, POLICY_TO);
		CHECK(to.kind == from.kind && to.len == from.len &&
		    memcmp(to.str, from.str, to.len) == 0);
	}

	/* Matching agrees with the lookup keys for a given ID and fixed ones. */
	if (nl != NULL && spiffe_id_parse((const char *)nl + 1, size - slen - 1, &id, NULL) == 0)
		check_matches(&from, &id);
	for (size_t i = 0; i < sizeof(fixed_ids) / sizeof(fixed_ids[0]); i++) {
		CHECK(spiffe_id_parse(fixed_ids[i], strlen(fixed_ids[i]), &id, NULL) == 0);
		check_matches(&from, &id);
	}
	/* A selector matches the IDs it is made from. */
	switch (from.kind) {
	case POLICY_SEL_ID:
		CHECK(spiffe_id_parse(from.str, from.len, &id, NULL) == 0);
		CHECK(policy_selector_matches(&from, &id));
		break;
	case POLICY_SEL_NS:
		/* "spiffe://td/ns/NS/" "*" becomes "spiffe://td/ns/NS/x". */
		memcpy(self.str, from.str, from.len);
		self.str[from.len - 1] = 'x';
		CHECK(spiffe_id_parse(self.str, from.len, &id, NULL) == 0);
		CHECK(policy_selector_matches(&from, &id));
		/* ... and not "spiffe://td/ns/NS" itself. */
		CHECK(spiffe_id_parse(from.str, from.len - 2, &id, NULL) == 0);
		CHECK(!policy_selector_matches(&from, &id));
		break;
	case POLICY_SEL_TD:
		CHECK(spiffe_id_parse(from.str, from.len - 2, &id, NULL) == 0);
		CHECK(policy_selector_matches(&from, &id));
		break;
	case POLICY_SEL_ANY:
		break;
	}
}

/* ---- 2: ports ------------------------------------------------------------- */

static void
fuzz_ports(const uint8_t *data, size_t size)
{
	struct policy_ports p, again, built;
	const char *why = NULL;
	char buf[12 * POLICY_PORT_RANGES_MAX + 1];
	int rc;

	rc = policy_ports_parse((const char *)data, size, &p, &why);
	if (rc != 0) {
		CHECK(rc == POLICY_E_PORT && why != NULL && why[0] != '\0' && p.n == 0);
		return;
	}
	CHECK(why == NULL);
	check_ports(&p);
	memset(buf, 0x55, sizeof(buf));
	policy_ports_format(&p, buf, sizeof(buf));
	CHECK(memchr(buf, '\0', sizeof(buf)) != NULL);
	/* The buffer is exactly big enough: no truncation marker. */
	CHECK(strstr(buf, "...") == NULL);
	CHECK(policy_ports_parse(buf, strlen(buf), &again, &why) == 0);
	CHECK(memcmp(&p, &again, sizeof(p)) == 0);
	CHECK(policy_ports_all(&p) == (strcmp(buf, "all") == 0));

	/* Adding the ranges back in reverse builds the same set. */
	memset(&built, 0, sizeof(built));
	for (size_t i = p.n; i > 0; i--)
		CHECK(policy_ports_add(&built, p.r[i - 1].lo, p.r[i - 1].hi) == 0);
	CHECK(memcmp(&p, &built, sizeof(p)) == 0);

	for (size_t i = 0; i < p.n; i++) {
		CHECK(policy_ports_contains(&p, p.r[i].lo));
		CHECK(policy_ports_contains(&p, p.r[i].hi));
		if (p.r[i].lo > 1)
			CHECK(!policy_ports_contains(&p, (uint16_t)(p.r[i].lo - 1)));
		if (p.r[i].hi < 65535)
			CHECK(!policy_ports_contains(&p, (uint16_t)(p.r[i].hi + 1)));
	}
	CHECK(!policy_ports_contains(&p, 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_file(data + 1, size - 1);
		break;
	case 1:
		fuzz_selector(data + 1, size - 1);
		break;
	default:
		fuzz_ports(data + 1, size - 1);
		break;
	}
	return 0;
}
