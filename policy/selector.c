/*
 * selector.c: selectors, port sets, comments, and the policy library's
 * error texts. Pure functions: no I/O, no allocation, no state.
 *
 * A selector's canonical string is what the store keys on and what
 * match.c rebuilds from a peer's ID, so both sides must agree byte for
 * byte: "spiffe://td/path", "spiffe://td/ns/NS/" "*", "spiffe://td/" "*"
 * and "*", with the scheme and trust domain in lower case.
 */
#include <stdio.h>
#include <string.h>

#include "certs/error.h"
#include "policy/policy.h"

#define SCHEME_LEN 9	/* "spiffe://" */

static const char why_forms[] =
    "'*' may only end spiffe://TD/* (a trust domain) or spiffe://TD/ns/NAMESPACE/* "
    "(a namespace), or stand alone as a source";

static void
set_why(const char **why, const char *text)
{
	if (why != NULL)
		*why = text;
}

int
policy_selector_parse(const char *s, size_t len, enum policy_side side,
    struct policy_selector *sel, const char **why)
{
	struct spiffe_id id;
	const char *path;
	size_t plen;
	int err;

	set_why(why, NULL);
	if (sel == NULL || (s == NULL && len > 0) || (side != POLICY_FROM && side != POLICY_TO)) {
		set_why(why, "invalid argument");
		return POLICY_E_INVAL;
	}
	memset(sel, 0, sizeof(*sel));
	if (s == NULL)
		s = "";

	if (len == 1 && s[0] == '*') {
		if (side != POLICY_FROM) {
			set_why(why, "'*' is allowed only as a source; name the destination");
			return POLICY_E_SELECTOR;
		}
		sel->kind = POLICY_SEL_ANY;
		sel->str[0] = '*';
		sel->len = 1;
		return 0;
	}

	if (memchr(s, '*', len) == NULL) {
		err = spiffe_id_parse_workload(s, len, &id, NULL);
		if (err != 0) {
			set_why(why, certs_strerror(err));
			return err;
		}
		sel->kind = POLICY_SEL_ID;
		memcpy(sel->str, id.str, id.len + 1);
		sel->len = id.len;
		return 0;
	}

	/* A wildcard: exactly one '*', last, right after a '/'. */
	if (len < 2 || memchr(s, '*', len) != s + len - 1 || s[len - 2] != '/') {
		set_why(why, why_forms);
		return POLICY_E_SELECTOR;
	}
	err = spiffe_id_parse(s, len - 2, &id, NULL);
	if (err != 0) {
		set_why(why, certs_strerror(err));
		return err;
	}
	path = spiffe_id_path(&id);
	plen = id.len - SCHEME_LEN - id.td_len;
	if (plen == 0) {
		sel->kind = POLICY_SEL_TD;
	} else if (plen > 4 && memcmp(path, "/ns/", 4) == 0 &&
	    memchr(path + 4, '/', plen - 4) == NULL) {
		/*
		 * The shortest ID it can match is "spiffe://td/ns/NS/x"; a
		 * selector that can match nothing is a mistake, not a rule.
		 */
		if (id.len + 2 > SPIFFE_ID_MAX) {
			set_why(why, "a namespace this long leaves no room for a SPIFFE ID "
			    "(at most 2048 bytes) under it");
			return POLICY_E_SELECTOR;
		}
		sel->kind = POLICY_SEL_NS;
	} else if (plen == 3 && memcmp(path, "/ns", 3) == 0) {
		set_why(why, "a namespace selector is spiffe://TD/ns/NAMESPACE/*; name the namespace");
		return POLICY_E_SELECTOR;
	} else if (plen > 4 && memcmp(path, "/ns/", 4) == 0) {
		set_why(why, "a namespace selector is spiffe://TD/ns/NAMESPACE/*; '*' must "
		    "follow the namespace directly");
		return POLICY_E_SELECTOR;
	} else {
		set_why(why, why_forms);
		return POLICY_E_SELECTOR;
	}
	memcpy(sel->str, id.str, id.len);
	sel->str[id.len] = '/';
	sel->str[id.len + 1] = '*';
	sel->str[id.len + 2] = '\0';
	sel->len = id.len + 2;
	return 0;
}

bool
policy_selector_matches(const struct policy_selector *sel, const struct spiffe_id *id)
{
	if (sel == NULL || id == NULL || id->len == 0 || id->len > SPIFFE_ID_MAX)
		return false;
	switch (sel->kind) {
	case POLICY_SEL_ANY:
		return true;
	case POLICY_SEL_TD:
		/* "spiffe://td/" "*": the trust domain sits between scheme and "/" "*". */
		if (sel->len < SCHEME_LEN + 3)
			return false;
		return spiffe_id_in_td(id, sel->str + SCHEME_LEN, sel->len - SCHEME_LEN - 2);
	case POLICY_SEL_NS:
		/*
		 * "spiffe://td/ns/NS/" is a prefix of the ID and something
		 * follows it. The prefix holds the trust domain and its closing
		 * '/', so "spiffe://td.evil/..." cannot pass as "spiffe://td/...".
		 */
		if (sel->len < 2)
			return false;
		return id->len > sel->len - 1 && memcmp(id->str, sel->str, sel->len - 1) == 0;
	case POLICY_SEL_ID:
		return sel->len == id->len && memcmp(sel->str, id->str, id->len) == 0;
	}
	return false;
}

/* ---- Ports ---------------------------------------------------------------- */

#define PORT_MAX 65535u

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* One decimal port at s[*i], advancing *i past it. */
static int
port_number(const char *s, size_t end, size_t *i, unsigned *port, const char **why)
{
	size_t start = *i;
	unsigned v = 0;

	while (*i < end && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (unsigned)(s[*i] - '0');
		if (v > PORT_MAX) {
			set_why(why, "a port is at most 65535");
			return POLICY_E_PORT;
		}
		(*i)++;
	}
	if (*i == start) {
		if (start == end)
			set_why(why, "the list ends where a port should be (a trailing ',' or '-'?)");
		else if (s[start] == ',')
			set_why(why, "an empty item between commas");
		else if (s[start] == '+' || s[start] == '-')
			set_why(why, "a port is a plain decimal number, without a sign");
		else
			set_why(why, "a port is a decimal number from 1 to 65535, a range LO-HI, "
			    "a comma-separated list of those, or all");
		return POLICY_E_PORT;
	}
	if (v == 0) {
		set_why(why, "port 0 is not a port (ports are 1 to 65535)");
		return POLICY_E_PORT;
	}
	/* YAML 1.1 reads 010 as octal 8; refuse the ambiguity outright. */
	if (s[start] == '0') {
		set_why(why, "a port has no leading zeros");
		return POLICY_E_PORT;
	}
	*port = v;
	return 0;
}

static void
map_set(uint64_t *map, unsigned lo, unsigned hi)
{
	while (lo <= hi) {
		if ((lo & 63) == 0 && hi - lo >= 63) {
			map[lo >> 6] = UINT64_MAX;
			lo += 64;
		} else {
			map[lo >> 6] |= 1ull << (lo & 63);
			lo++;
		}
	}
}

static bool
map_get(const uint64_t *map, unsigned p)
{
	return (map[p >> 6] >> (p & 63)) & 1;
}

int
policy_ports_parse(const char *s, size_t len, struct policy_ports *ports, const char **why)
{
	/*
	 * A bitmap of all ports (8 KiB) merges any list in one pass, however
	 * its items overlap, without allocating: the bound on ranges applies
	 * to the merged result, as documented.
	 */
	uint64_t map[(PORT_MAX + 1) / 64];
	size_t b = 0, e = len, i;
	unsigned p, n = 0;
	int err;

	set_why(why, NULL);
	if (ports == NULL || (s == NULL && len > 0)) {
		set_why(why, "invalid argument");
		return POLICY_E_INVAL;
	}
	memset(ports, 0, sizeof(*ports));
	while (b < e && is_space(s[b]))
		b++;
	while (e > b && is_space(s[e - 1]))
		e--;
	if (b == e) {
		set_why(why, "no ports given: write a port, a range LO-HI, a list of those, or all");
		return POLICY_E_PORT;
	}
	if ((e - b == 3 && memcmp(s + b, "all", 3) == 0) || (e - b == 1 && s[b] == '*')) {
		ports->n = 1;
		ports->r[0].lo = 1;
		ports->r[0].hi = PORT_MAX;
		return 0;
	}

	memset(map, 0, sizeof(map));
	i = b;
	for (;;) {
		unsigned lo, hi;

		while (i < e && is_space(s[i]))
			i++;
		err = port_number(s, e, &i, &lo, why);
		if (err != 0)
			return err;
		hi = lo;
		if (i < e && s[i] == '-') {
			i++;
			err = port_number(s, e, &i, &hi, why);
			if (err != 0)
				return err;
			if (hi < lo) {
				set_why(why, "a range LO-HI needs LO <= HI");
				return POLICY_E_PORT;
			}
		}
		map_set(map, lo, hi);
		while (i < e && is_space(s[i]))
			i++;
		if (i == e)
			break;
		if (s[i] != ',') {
			set_why(why, "ports are separated by ',' (and a port is a decimal "
			    "number from 1 to 65535)");
			return POLICY_E_PORT;
		}
		i++;
	}

	for (p = 1; p <= PORT_MAX;) {
		unsigned lo;

		/* Skip whole empty words quickly. */
		if ((p & 63) == 0 && map[p >> 6] == 0) {
			p += 64;
			continue;
		}
		if (!map_get(map, p)) {
			p++;
			continue;
		}
		lo = p;
		while (p <= PORT_MAX && map_get(map, p)) {
			if ((p & 63) == 0 && map[p >> 6] == UINT64_MAX && p + 63 <= PORT_MAX)
				p += 64;
			else
				p++;
		}
		if (n == POLICY_PORT_RANGES_MAX) {
			memset(ports, 0, sizeof(*ports));
			set_why(why, "more than 32 separate port ranges; merge some or use all");
			return POLICY_E_PORT;
		}
		ports->r[n].lo = (uint16_t)lo;
		ports->r[n].hi = (uint16_t)(p - 1);
		n++;
	}
	ports->n = (uint8_t)n;
	return 0;
}

int
policy_ports_add(struct policy_ports *ports, uint16_t lo, uint16_t hi)
{
	struct policy_ports out;
	unsigned nlo = lo, nhi = hi;
	size_t i = 0, k = 0;

	if (ports == NULL || ports->n > POLICY_PORT_RANGES_MAX)
		return POLICY_E_INVAL;
	if (lo == 0 || lo > hi)
		return POLICY_E_PORT;
	memset(&out, 0, sizeof(out));
	/* Ranges wholly before the new one, not even adjacent. */
	while (i < ports->n && (unsigned)ports->r[i].hi + 1 < nlo)
		out.r[k++] = ports->r[i++];
	/* Ranges overlapping or adjacent: swallow them. */
	while (i < ports->n && ports->r[i].lo <= nhi + 1) {
		if (ports->r[i].lo < nlo)
			nlo = ports->r[i].lo;
		if (ports->r[i].hi > nhi)
			nhi = ports->r[i].hi;
		i++;
	}
	if (k + 1 + (ports->n - i) > POLICY_PORT_RANGES_MAX)
		return POLICY_E_PORT;
	out.r[k].lo = (uint16_t)nlo;
	out.r[k].hi = (uint16_t)nhi;
	k++;
	while (i < ports->n)
		out.r[k++] = ports->r[i++];
	out.n = (uint8_t)k;
	*ports = out;
	return 0;
}

bool
policy_ports_contains(const struct policy_ports *ports, uint16_t port)
{
	if (ports == NULL)
		return false;
	for (size_t i = 0; i < ports->n && i < POLICY_PORT_RANGES_MAX; i++) {
		if (port < ports->r[i].lo)
			return false;
		if (port <= ports->r[i].hi)
			return true;
	}
	return false;
}

bool
policy_ports_all(const struct policy_ports *ports)
{
	return ports != NULL && ports->n == 1 && ports->r[0].lo == 1 && ports->r[0].hi == PORT_MAX;
}

static int
port_item(char *buf, size_t size, bool comma, uint16_t lo, uint16_t hi)
{
	if (lo == hi)
		return snprintf(buf, size, "%s%u", comma ? "," : "", (unsigned)lo);
	return snprintf(buf, size, "%s%u-%u", comma ? "," : "", (unsigned)lo, (unsigned)hi);
}

void
policy_ports_format(const struct policy_ports *ports, char *buf, size_t size)
{
	char item[16];
	size_t n, total = 0, off = 0, room;

	if (buf == NULL || size == 0)
		return;
	buf[0] = '\0';
	if (ports == NULL)
		return;
	if (policy_ports_all(ports)) {
		if (size > 3)
			memcpy(buf, "all", 4);
		return;
	}
	n = ports->n < POLICY_PORT_RANGES_MAX ? ports->n : POLICY_PORT_RANGES_MAX;
	for (size_t i = 0; i < n; i++)
		total += (size_t)port_item(item, sizeof(item), i > 0, ports->r[i].lo, ports->r[i].hi);
	/*
	 * When the whole list does not fit, end with ",..." after the items
	 * that do, so a truncated list never reads as a complete one.
	 */
	room = total < size ? size - 1 : (size > 5 ? size - 5 : 0);
	for (size_t i = 0; i < n; i++) {
		size_t k = (size_t)port_item(item, sizeof(item), i > 0, ports->r[i].lo,
		    ports->r[i].hi);

		if (off + k > room)
			break;
		memcpy(buf + off, item, k);
		off += k;
	}
	if (total >= size && size > 4) {
		if (off == 0) {
			memcpy(buf, "...", 3);
			off = 3;
		} else {
			memcpy(buf + off, ",...", 4);
			off += 4;
		}
	}
	buf[off] = '\0';
}

/* ---- Rules and comments --------------------------------------------------- */

bool
policy_rule_same(const struct policy_rule *a, const struct policy_rule *b)
{
	if (a == NULL || b == NULL)
		return false;
	if (a->from.len != b->from.len || a->to.len != b->to.len ||
	    a->from.len > SPIFFE_ID_MAX + 2 || a->to.len > SPIFFE_ID_MAX + 2 ||
	    memcmp(a->from.str, b->from.str, a->from.len) != 0 ||
	    memcmp(a->to.str, b->to.str, a->to.len) != 0)
		return false;
	if (a->ports.n != b->ports.n || a->ports.n > POLICY_PORT_RANGES_MAX)
		return false;
	for (size_t i = 0; i < a->ports.n; i++)
		if (a->ports.r[i].lo != b->ports.r[i].lo || a->ports.r[i].hi != b->ports.r[i].hi)
			return false;
	return a->expires == b->expires &&
	    strncmp(a->comment, b->comment, sizeof(a->comment)) == 0;
}

int
policy_comment_check(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	if (s == NULL && len > 0)
		return POLICY_E_INVAL;
	if (len > POLICY_COMMENT_MAX)
		return POLICY_E_COMMENT;
	while (i < len) {
		unsigned c = p[i], cp, need, min;

		if (c < 0x80) {
			/* C0 controls and DEL: no newlines or escapes in a one-line comment. */
			if (c < 0x20 || c == 0x7f)
				return POLICY_E_COMMENT;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return POLICY_E_COMMENT;
		}
		if (len - i <= need)
			return POLICY_E_COMMENT;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return POLICY_E_COMMENT;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF, C1 controls. */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
		    (cp >= 0x80 && cp <= 0x9f))
			return POLICY_E_COMMENT;
		i += need + 1;
	}
	return 0;
}

/* ---- Names and sentences -------------------------------------------------- */

static const struct {
	int code;
	const char *text;
} policy_errors[] = {
	{ POLICY_E_INVAL, "invalid argument" },
	{ POLICY_E_NOMEM, "out of memory" },
	{ POLICY_E_SELECTOR, "malformed selector: use a SPIFFE ID, spiffe://TD/ns/NAMESPACE/*, "
	    "spiffe://TD/* or (as a source only) *" },
	{ POLICY_E_PORT, "malformed ports: use a port (1-65535), a range LO-HI, a "
	    "comma-separated list of those, or all" },
	{ POLICY_E_FILE, "the policy file is malformed" },
	{ POLICY_E_STORE, "the policy store failed (I/O error or permissions)" },
	{ POLICY_E_CORRUPT, "not an authd policy store, or the store is damaged" },
	{ POLICY_E_VERSION, "the policy store was written by a newer authd" },
	{ POLICY_E_NOT_FOUND, "no such rule" },
	{ POLICY_E_MAP_FULL, "the policy store reached its size limit" },
	{ POLICY_E_MAP_OUTGROWN, "the store grew past this process's map size (authd: raise "
	    "store_map_size and restart)" },
	{ POLICY_E_NO_STORE, "no policy store at that path" },
	{ POLICY_E_TOO_BIG, "input is larger than a documented bound" },
	{ POLICY_E_SIGNATURE, "the policy signature does not verify" },
	{ POLICY_E_KEY, "malformed signing or verify key file" },
	{ POLICY_E_EXPIRED, "the expiry time is already past" },
	{ POLICY_E_UNSIGNED, "this store accepts only signed changes (authctl policy apply -f "
	    "FILE --sig SIGFILE; see 'authctl policy require-signed')" },
	{ POLICY_E_COMMENT, "a comment must be at most 256 bytes of printable UTF-8 "
	    "without control characters" },
};

const char *
policy_strerror(int err)
{
	if (err == 0)
		return "success";
	for (size_t i = 0; i < AD_ARRAY_LEN(policy_errors); i++)
		if (policy_errors[i].code == err)
			return policy_errors[i].text;
	/* The certs range (-1000 .. -1099) and negative errno are certs' to describe. */
	if (err < 0 && err > -1100)
		return certs_strerror(err);
	return "unknown error";
}

const char *
policy_verdict_name(enum policy_verdict v)
{
	switch (v) {
	case POLICY_DENY:
		return "deny";
	case POLICY_ALLOW:
		return "allow";
	case POLICY_AUDIT:
		return "audit";
	}
	return "unknown";
}

const char *
policy_reason_name(enum policy_reason r)
{
	switch (r) {
	case POLICY_R_RULE:
		return "rule";
	case POLICY_R_NO_RULE:
		return "no-rule";
	case POLICY_R_PORT:
		return "port";
	case POLICY_R_EXPIRED:
		return "expired";
	}
	return "unknown";
}
