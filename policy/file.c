/*
 * file.c: AllowList policy files (YAML, or JSON, which is YAML) and their
 * canonical text.
 *
 * The parser walks libyaml's event stream against a fixed schema instead of
 * loading a document tree: memory stays proportional to the rules kept,
 * aliases and anchors are refused as they arrive (an alias bomb never
 * expands), nesting is bounded before anything is built on it, and every
 * field is checked where it stands, so an error can name its path and line.
 * Unknown and duplicate fields are errors: a typo must not silently widen
 * or narrow what the file allows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yaml.h>

#include "policy/policy.h"

#define API_VERSION "authd.io/v1"
#define KIND "AllowList"
#define DEPTH_MAX 8
#define SHOW_MAX 64				/* value bytes quoted in a message */
#define SHOW_BUF (SHOW_MAX * 4 + 4)		/* escaped, plus "..." and NUL */
#define PATH_BUF 96
#define PORTS_BUF POLICY_PORTS_FMT_MAX
#define CANONICAL_HEADER "authd.io/v1 AllowList canonical\n"

struct fp {
	yaml_parser_t yp;
	yaml_event_t ev;
	bool have_ev;
	bool failed;
	int depth;
	char path[PATH_BUF];
	size_t plen;
	char *err;
	size_t errlen;
	struct policy_set *set;
	size_t rcap;
	size_t acap;
};

/* ---- Messages ------------------------------------------------------------- */

/* Quote a value for a message: at most SHOW_MAX bytes, unprintables escaped. */
static void
show(char out[static SHOW_BUF], const void *v, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = v;
	size_t o = 0, n = len < SHOW_MAX ? len : SHOW_MAX;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	if (len > SHOW_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static size_t
ev_line(const struct fp *p)
{
	return p->ev.start_mark.line + 1;
}

static bool ev_is_null(const yaml_event_t *ev);

static const char *
ev_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return ev_is_null(ev) ? "an empty value" : "a string";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* Record the first error only: later ones are consequences of it. */
static int fp_vmsg(struct fp *p, int code, bool at_path, size_t line, const char *fmt,
    va_list ap) AD_PRINTF(5, 0);
static int
fp_vmsg(struct fp *p, int code, bool at_path, size_t line, const char *fmt, va_list ap)
{
	int n = 0;

	/* A failure is never 0, whatever a caller passed on. */
	if (code == 0)
		code = POLICY_E_FILE;
	if (p->failed)
		return code;
	p->failed = true;
	if (p->err == NULL || p->errlen == 0)
		return code;
	p->err[0] = '\0';
	if (at_path && p->plen > 0)
		n = snprintf(p->err, p->errlen, "%s (line %zu): ", p->path, line);
	else if (at_path)
		n = snprintf(p->err, p->errlen, "line %zu: ", line);
	if (n >= 0 && (size_t)n < p->errlen)
		(void)vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	return code;
}

static int fp_fail(struct fp *p, int code, size_t line, const char *fmt, ...) AD_PRINTF(4, 5);
static int
fp_fail(struct fp *p, int code, size_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = fp_vmsg(p, code, true, line, fmt, ap);
	va_end(ap);
	return code;
}

static int fp_raw(struct fp *p, int code, const char *fmt, ...) AD_PRINTF(3, 4);
static int
fp_raw(struct fp *p, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = fp_vmsg(p, code, false, 0, fmt, ap);
	va_end(ap);
	return code;
}

static size_t path_push(struct fp *p, const char *fmt, ...) AD_PRINTF(2, 3);
static size_t
path_push(struct fp *p, const char *fmt, ...)
{
	size_t old = p->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->path + old, sizeof(p->path) - old, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->plen = old + (size_t)n < sizeof(p->path) ? old + (size_t)n : sizeof(p->path) - 1;
	return old;
}

static void
path_pop(struct fp *p, size_t old)
{
	p->plen = old;
	p->path[old] = '\0';
}

/* ---- Events --------------------------------------------------------------- */

static int
fp_yaml_fail(struct fp *p)
{
	const yaml_parser_t *y = &p->yp;
	const char *problem = y->problem != NULL ? y->problem : "malformed YAML";

	switch (y->error) {
	case YAML_MEMORY_ERROR:
		return fp_raw(p, POLICY_E_NOMEM, "out of memory");
	case YAML_READER_ERROR:
		if (y->problem_value != -1)
			return fp_raw(p, POLICY_E_FILE, "byte %zu: %s (#%X)", y->problem_offset,
			    problem, (unsigned)y->problem_value);
		return fp_raw(p, POLICY_E_FILE, "byte %zu: %s", y->problem_offset, problem);
	default:
		if (y->context != NULL)
			return fp_raw(p, POLICY_E_FILE, "line %zu column %zu: %s (%s)",
			    y->problem_mark.line + 1, y->problem_mark.column + 1, problem,
			    y->context);
		return fp_raw(p, POLICY_E_FILE, "line %zu column %zu: %s",
		    y->problem_mark.line + 1, y->problem_mark.column + 1, problem);
	}
}

/* The next event into p->ev, refusing what the schema never needs. */
static int
fp_next(struct fp *p)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (p->have_ev) {
		yaml_event_delete(&p->ev);
		p->have_ev = false;
	}
	if (!yaml_parser_parse(&p->yp, &p->ev))
		return fp_yaml_fail(p);
	p->have_ev = true;
	switch (p->ev.type) {
	case YAML_ALIAS_EVENT:
		return fp_fail(p, POLICY_E_FILE, ev_line(p), "aliases are not allowed");
	case YAML_SCALAR_EVENT:
		anchor = p->ev.data.scalar.anchor;
		tag = p->ev.data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = p->ev.data.sequence_start.anchor;
		tag = p->ev.data.sequence_start.tag;
		p->depth++;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = p->ev.data.mapping_start.anchor;
		tag = p->ev.data.mapping_start.tag;
		p->depth++;
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		p->depth--;
		break;
	default:
		break;
	}
	if (anchor != NULL)
		return fp_fail(p, POLICY_E_FILE, ev_line(p), "anchors are not allowed");
	/* A tag could change what a value means; nothing here needs one. */
	if (tag != NULL)
		return fp_fail(p, POLICY_E_FILE, ev_line(p), "tags are not allowed");
	if (p->depth > DEPTH_MAX)
		return fp_fail(p, POLICY_E_FILE, ev_line(p), "nesting deeper than %d levels",
		    DEPTH_MAX);
	return 0;
}

static bool
ev_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return n == 0 || (n == 1 && v[0] == '~') ||
	    (n == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
	    memcmp(v, "NULL", 4) == 0));
}

/* The current event as a non-null scalar; what says what was expected. */
static int
fp_cur_scalar(struct fp *p, const char *what, const char **v, size_t *len)
{
	*v = "";
	*len = 0;
	if (p->ev.type != YAML_SCALAR_EVENT)
		return fp_fail(p, POLICY_E_FILE, ev_line(p), "expected %s, found %s", what,
		    ev_kind(&p->ev));
	/* An empty value is refused, not defaulted: "ports:" must not mean all ports. */
	if (ev_is_null(&p->ev))
		return fp_fail(p, POLICY_E_FILE, ev_line(p),
		    "expected %s, found an empty value (leave the field out instead)", what);
	*v = (const char *)p->ev.data.scalar.value;
	*len = p->ev.data.scalar.length;
	return 0;
}

static int
fp_scalar(struct fp *p, const char *what, const char **v, size_t *len)
{
	int err;

	*v = "";
	*len = 0;
	err = fp_next(p);

	return err != 0 ? err : fp_cur_scalar(p, what, v, len);
}

static int
fp_expect(struct fp *p, yaml_event_type_t type, const char *what)
{
	int err = fp_next(p);

	if (err != 0)
		return err;
	if (p->ev.type != type)
		return fp_fail(p, POLICY_E_FILE, ev_line(p), "expected %s, found %s", what,
		    ev_kind(&p->ev));
	return 0;
}

/*
 * The next key of the current mapping: 1 with *which set, 0 at its end, or
 * an error for a non-string, unknown or repeated key.
 */
static int
fp_key(struct fp *p, const char *const *names, size_t n, const char *allowed, unsigned *seen,
    size_t *which)
{
	char shown[SHOW_BUF];
	const char *v = NULL;
	size_t len = 0;
	int err = fp_next(p);

	if (err != 0)
		return err;
	if (p->ev.type == YAML_MAPPING_END_EVENT)
		return 0;
	if (p->ev.type != YAML_SCALAR_EVENT)
		return fp_fail(p, POLICY_E_FILE, ev_line(p), "a field name must be a string, not %s",
		    ev_kind(&p->ev));
	v = (const char *)p->ev.data.scalar.value;
	len = p->ev.data.scalar.length;
	for (size_t i = 0; i < n; i++) {
		if (strlen(names[i]) != len || memcmp(names[i], v, len) != 0)
			continue;
		if (*seen & (1u << i))
			return fp_fail(p, POLICY_E_FILE, ev_line(p), "field '%s' appears twice",
			    names[i]);
		*seen |= 1u << i;
		*which = i;
		return 1;
	}
	show(shown, v, len);
	return fp_fail(p, POLICY_E_FILE, ev_line(p), "unknown field '%s' (expected %s)", shown,
	    allowed);
}

/* ---- Values --------------------------------------------------------------- */

static bool
digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339 in UTC, to the second, and nothing else: "2026-12-01T00:00:00Z". */
static int
parse_time(const char *s, size_t len, int64_t *t, const char **why)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm;
	int y, mo, d, h, mi, sec;
	time_t r;

	*why = "expected YYYY-MM-DDTHH:MM:SSZ (UTC)";
	if (len > 19 && (s[19] == '+' || s[19] == '-' || s[19] == '.')) {
		*why = s[19] == '.' ? "no fractional seconds: write YYYY-MM-DDTHH:MM:SSZ" :
		    "write the time in UTC, ending in Z (YYYY-MM-DDTHH:MM:SSZ)";
		return POLICY_E_FILE;
	}
	if (len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return POLICY_E_FILE;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return POLICY_E_FILE;
	if (y < 1970) {
		*why = "the year must be 1970 or later";
		return POLICY_E_FILE;
	}
	if (mo < 1 || mo > 12) {
		*why = "the month must be 01 to 12";
		return POLICY_E_FILE;
	}
	if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y))) {
		*why = "that month has no such day";
		return POLICY_E_FILE;
	}
	if (h > 23 || mi > 59 || sec > 59) {
		*why = "the time of day must be 00:00:00 to 23:59:59";
		return POLICY_E_FILE;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	r = timegm(&tm);
	/* 0 means "never" in a rule, so the epoch itself cannot be an expiry. */
	if (r <= 0) {
		*why = "the time must be after 1970-01-01T00:00:00Z";
		return POLICY_E_FILE;
	}
	*t = (int64_t)r;
	return 0;
}

static int
parse_selector(struct fp *p, enum policy_side side, struct policy_selector *sel)
{
	char shown[SHOW_BUF];
	const char *v = NULL, *why = NULL;
	size_t len = 0;
	int err = fp_scalar(p, "a selector", &v, &len);

	if (err != 0)
		return err;
	err = policy_selector_parse(v, len, side, sel, &why);
	if (err != 0) {
		show(shown, v, len);
		return fp_fail(p, err, ev_line(p), "'%s' is not a selector: %s", shown,
		    why != NULL ? why : policy_strerror(err));
	}
	return 0;
}

static int
append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*buf == NULL || n + 2 > *cap - *len) {
		size_t ncap = (*cap + n + 2) * 2;
		char *nb = realloc(*buf, ncap);

		if (nb == NULL)
			return POLICY_E_NOMEM;
		*buf = nb;
		*cap = ncap;
	}
	if (*len > 0)
		(*buf)[(*len)++] = ',';
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

/* ports: 443 | "8000-8099" | "80,443" | all | [80, "8000-8099"]. */
static int
parse_ports(struct fp *p, struct policy_ports *ports)
{
	char shown[SHOW_BUF], *joined = NULL;
	const char *v = NULL, *why = NULL;
	size_t len = 0, jlen = 0, jcap = 0, line, n = 0;
	int err = fp_next(p);

	if (err != 0)
		return err;
	if (p->ev.type == YAML_SCALAR_EVENT) {
		err = fp_cur_scalar(p, "ports", &v, &len);
		if (err != 0)
			return err;
		err = policy_ports_parse(v, len, ports, &why);
		if (err != 0) {
			show(shown, v, len);
			return fp_fail(p, err, ev_line(p), "'%s' is not a port: %s", shown,
			    why != NULL ? why : policy_strerror(err));
		}
		return 0;
	}
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return fp_fail(p, POLICY_E_FILE, ev_line(p),
		    "expected a port, a range, a list of those or all, found %s", ev_kind(&p->ev));

	/*
	 * Check each item alone (so the message names it), then parse them
	 * joined, so the bound on ranges applies after merging, as for "80,443".
	 */
	line = ev_line(p);
	for (;;) {
		struct policy_ports one;
		size_t old;

		err = fp_next(p);
		if (err != 0)
			goto out;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		old = path_push(p, "[%zu]", n);
		err = fp_cur_scalar(p, "a port or a range", &v, &len);
		if (err == 0 && (memchr(v, ',', len) != NULL || memchr(v, '*', len) != NULL ||
		    (len >= 3 && memmem(v, len, "all", 3) != NULL))) {
			show(shown, v, len);
			err = fp_fail(p, POLICY_E_PORT, ev_line(p),
			    "'%s' is not a port: each list item is one port or one range LO-HI",
			    shown);
		}
		if (err == 0) {
			err = policy_ports_parse(v, len, &one, &why);
			if (err != 0) {
				show(shown, v, len);
				err = fp_fail(p, err, ev_line(p), "'%s' is not a port: %s", shown,
				    why != NULL ? why : policy_strerror(err));
			}
		}
		if (err == 0)
			err = append(&joined, &jlen, &jcap, v, len);
		path_pop(p, old);
		if (err != 0)
			goto out;
		n++;
	}
	if (n == 0) {
		err = fp_fail(p, POLICY_E_PORT, line,
		    "an empty list allows no port; leave ports out to allow all ports");
		goto out;
	}
	err = policy_ports_parse(joined, jlen, ports, &why);
	if (err != 0)
		err = fp_fail(p, err, line, "the list is not a port set: %s",
		    why != NULL ? why : policy_strerror(err));
out:
	free(joined);
	if (err == POLICY_E_NOMEM)
		(void)fp_raw(p, err, "out of memory");
	return err;
}

static int
parse_expires(struct fp *p, int64_t *t)
{
	char shown[SHOW_BUF];
	const char *v = NULL, *why = NULL;
	size_t len = 0;
	int err = fp_scalar(p, "a time (YYYY-MM-DDTHH:MM:SSZ)", &v, &len);

	if (err != 0)
		return err;
	err = parse_time(v, len, t, &why);
	if (err != 0) {
		show(shown, v, len);
		return fp_fail(p, err, ev_line(p), "'%s' is not a time: %s", shown, why);
	}
	return 0;
}

static int
parse_comment(struct fp *p, char out[static POLICY_COMMENT_MAX + 1])
{
	char shown[SHOW_BUF];
	const char *v = NULL;
	size_t len = 0;
	int err = fp_scalar(p, "a comment", &v, &len);

	if (err != 0)
		return err;
	err = policy_comment_check(v, len);
	if (err != 0) {
		show(shown, v, len);
		return fp_fail(p, err, ev_line(p), "'%s' is not a valid comment: %s", shown,
		    len > POLICY_COMMENT_MAX ? "longer than 256 bytes" :
		    "it must be printable UTF-8 without control characters");
	}
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

/* ---- Structure ------------------------------------------------------------ */

static const char *const rule_keys[] = { "from", "to", "ports", "expires", "comment" };
enum { K_FROM, K_TO, K_PORTS, K_EXPIRES, K_COMMENT };

/* One rule; its MAPPING_START is the current event. */
static int
parse_rule(struct fp *p, struct policy_rule *r)
{
	size_t line = ev_line(p), which = 0, old;
	unsigned seen = 0;
	int k, err = 0;

	memset(r, 0, sizeof(*r));
	while ((k = fp_key(p, rule_keys, AD_ARRAY_LEN(rule_keys),
	    "from, to, ports, expires or comment", &seen, &which)) > 0) {
		old = path_push(p, ".%s", rule_keys[which]);
		switch (which) {
		case K_FROM:
			err = parse_selector(p, POLICY_FROM, &r->from);
			break;
		case K_TO:
			err = parse_selector(p, POLICY_TO, &r->to);
			break;
		case K_PORTS:
			err = parse_ports(p, &r->ports);
			break;
		case K_EXPIRES:
			err = parse_expires(p, &r->expires);
			break;
		default:
			err = parse_comment(p, r->comment);
			break;
		}
		path_pop(p, old);
		if (err != 0)
			return err;
	}
	if (k < 0)
		return k;
	if (!(seen & (1u << K_FROM)))
		return fp_fail(p, POLICY_E_FILE, line, "field 'from' is missing (the source selector)");
	if (!(seen & (1u << K_TO)))
		return fp_fail(p, POLICY_E_FILE, line,
		    "field 'to' is missing (the destination selector)");
	if (!(seen & (1u << K_PORTS))) {
		r->ports.n = 1;
		r->ports.r[0].lo = 1;
		r->ports.r[0].hi = 65535;
	}
	return 0;
}

/* Room for element n in arr (geometric growth); *out is the array to keep. */
static int
grow(void *arr, size_t *cap, size_t n, size_t elem, void **out)
{
	size_t ncap;
	void *a;

	*out = arr;
	if (n < *cap)
		return 0;
	/* The count bound is the caller's to check. */
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > POLICY_FILE_MAX_RULES)
		ncap = POLICY_FILE_MAX_RULES;
	if (ncap <= n || ncap > SIZE_MAX / elem)
		return POLICY_E_NOMEM;
	a = realloc(arr, ncap * elem);
	if (a == NULL)
		return POLICY_E_NOMEM;
	*out = a;
	*cap = ncap;
	return 0;
}

static int
parse_rules(struct fp *p)
{
	struct policy_set *set = p->set;
	size_t old;
	int err = fp_expect(p, YAML_SEQUENCE_START_EVENT, "a list of rules");

	if (err != 0)
		return err;
	for (;;) {
		err = fp_next(p);
		if (err != 0)
			return err;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		old = path_push(p, "[%zu]", set->n);
		if (p->ev.type != YAML_MAPPING_START_EVENT) {
			err = fp_fail(p, POLICY_E_FILE, ev_line(p),
			    "a rule is a mapping with from, to and optionally ports, expires, "
			    "comment; found %s", ev_kind(&p->ev));
		} else if (set->n >= POLICY_FILE_MAX_RULES) {
			err = fp_fail(p, POLICY_E_TOO_BIG, ev_line(p), "more than %u rules",
			    POLICY_FILE_MAX_RULES);
		} else {
			void *a = NULL;

			err = grow(set->rules, &p->rcap, set->n, sizeof(*set->rules), &a);
			set->rules = a;
			if (err != 0)
				err = fp_raw(p, err, "out of memory");
		}
		if (err == 0)
			err = parse_rule(p, &set->rules[set->n]);
		path_pop(p, old);
		if (err != 0)
			return err;
		set->n++;
	}
}

static int
parse_audit(struct fp *p)
{
	struct policy_set *set = p->set;
	char shown[SHOW_BUF];
	const char *v = NULL, *why;
	size_t len = 0, old;
	int err = fp_expect(p, YAML_SEQUENCE_START_EVENT, "a list of destination selectors");

	if (err != 0)
		return err;
	for (;;) {
		err = fp_next(p);
		if (err != 0)
			return err;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		old = path_push(p, "[%zu]", set->naudit);
		err = fp_cur_scalar(p, "a destination selector", &v, &len);
		if (err == 0 && set->naudit >= POLICY_FILE_MAX_RULES)
			err = fp_fail(p, POLICY_E_TOO_BIG, ev_line(p),
			    "more than %u audit destinations", POLICY_FILE_MAX_RULES);
		if (err == 0) {
			void *a = NULL;

			err = grow(set->audit, &p->acap, set->naudit, sizeof(*set->audit), &a);
			set->audit = a;
			if (err != 0)
				err = fp_raw(p, err, "out of memory");
		}
		if (err == 0) {
			why = NULL;
			err = policy_selector_parse(v, len, POLICY_TO, &set->audit[set->naudit], &why);
			if (err != 0) {
				show(shown, v, len);
				err = fp_fail(p, err, ev_line(p), "'%s' is not a selector: %s", shown,
				    why != NULL ? why : policy_strerror(err));
			}
		}
		path_pop(p, old);
		if (err != 0)
			return err;
		set->naudit++;
	}
}

struct strkey {
	char *s;
	size_t len;
	size_t line;
};

static int
strkey_cmp(const void *a, const void *b)
{
	const struct strkey *x = a, *y = b;

	return util_bytes_cmp(x->s, x->len, y->s, y->len);
}

/*
 * metadata.labels / metadata.annotations: a mapping of strings, accepted
 * and ignored, though its keys must still be unique.
 */
static int
parse_strmap(struct fp *p)
{
	struct strkey *keys = NULL;
	char shown[SHOW_BUF];
	size_t n = 0, cap = 0;
	int err = fp_expect(p, YAML_MAPPING_START_EVENT, "a mapping of strings");

	if (err != 0)
		return err;
	for (;;) {
		err = fp_next(p);
		if (err != 0)
			goto out;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (p->ev.type != YAML_SCALAR_EVENT) {
			err = fp_fail(p, POLICY_E_FILE, ev_line(p), "a key must be a string, not %s",
			    ev_kind(&p->ev));
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct strkey *nk = realloc(keys, ncap * sizeof(*keys));

			if (nk == NULL) {
				err = fp_raw(p, POLICY_E_NOMEM, "out of memory");
				goto out;
			}
			keys = nk;
			cap = ncap;
		}
		keys[n].len = p->ev.data.scalar.length;
		keys[n].line = ev_line(p);
		keys[n].s = malloc(keys[n].len + 1);
		if (keys[n].s == NULL) {
			err = fp_raw(p, POLICY_E_NOMEM, "out of memory");
			goto out;
		}
		memcpy(keys[n].s, p->ev.data.scalar.value, keys[n].len);
		n++;
		err = fp_next(p);
		if (err != 0)
			goto out;
		if (p->ev.type != YAML_SCALAR_EVENT) {
			err = fp_fail(p, POLICY_E_FILE, ev_line(p), "expected a string, found %s",
			    ev_kind(&p->ev));
			goto out;
		}
	}
	if (n > 1)
		qsort(keys, n, sizeof(*keys), strkey_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strkey_cmp(&keys[i - 1], &keys[i]) == 0) {
			show(shown, keys[i].s, keys[i].len);
			err = fp_fail(p, POLICY_E_FILE,
			    keys[i].line > keys[i - 1].line ? keys[i].line : keys[i - 1].line,
			    "key '%s' appears twice", shown);
			goto out;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(keys[i].s);
	free(keys);
	return err;
}

static const char *const meta_keys[] = { "name", "labels", "annotations" };

static int
parse_metadata(struct fp *p)
{
	const char *v = NULL;
	size_t which = 0, len = 0, old;
	unsigned seen = 0;
	int k, err = fp_expect(p, YAML_MAPPING_START_EVENT, "a mapping");

	if (err != 0)
		return err;
	while ((k = fp_key(p, meta_keys, AD_ARRAY_LEN(meta_keys), "name, labels or annotations",
	    &seen, &which)) > 0) {
		old = path_push(p, ".%s", meta_keys[which]);
		if (which == 0)
			err = fp_scalar(p, "a name", &v, &len);
		else
			err = parse_strmap(p);
		path_pop(p, old);
		if (err != 0)
			return err;
	}
	return k;
}

static const char *const spec_keys[] = { "audit", "rules" };

static int
parse_spec(struct fp *p)
{
	size_t which = 0, old;
	unsigned seen = 0;
	int k, err = fp_expect(p, YAML_MAPPING_START_EVENT, "a mapping with rules and audit");

	if (err != 0)
		return err;
	while ((k = fp_key(p, spec_keys, AD_ARRAY_LEN(spec_keys), "rules or audit", &seen,
	    &which)) > 0) {
		old = path_push(p, ".%s", spec_keys[which]);
		err = which == 0 ? parse_audit(p) : parse_rules(p);
		path_pop(p, old);
		if (err != 0)
			return err;
	}
	return k;
}

static const char *const top_keys[] = { "apiVersion", "kind", "metadata", "spec" };
enum { T_API, T_KIND, T_META, T_SPEC };

/* The top-level mapping; its MAPPING_START is the current event. */
static int
parse_top(struct fp *p)
{
	char shown[SHOW_BUF];
	const char *v = NULL;
	size_t line = ev_line(p), which = 0, len = 0, old;
	unsigned seen = 0;
	int k, err = 0;

	while ((k = fp_key(p, top_keys, AD_ARRAY_LEN(top_keys),
	    "apiVersion, kind, metadata or spec", &seen, &which)) > 0) {
		old = path_push(p, "%s", top_keys[which]);
		switch (which) {
		case T_API:
			err = fp_scalar(p, "an API version", &v, &len);
			if (err == 0 && (len != strlen(API_VERSION) || memcmp(v, API_VERSION, len) != 0)) {
				show(shown, v, len);
				err = fp_fail(p, POLICY_E_FILE, ev_line(p),
				    "'%s' is not supported; use " API_VERSION, shown);
			}
			break;
		case T_KIND:
			err = fp_scalar(p, "a kind", &v, &len);
			if (err == 0 && (len != strlen(KIND) || memcmp(v, KIND, len) != 0)) {
				show(shown, v, len);
				err = fp_fail(p, POLICY_E_FILE, ev_line(p),
				    "'%s' is not supported; use " KIND, shown);
			}
			break;
		case T_META:
			err = parse_metadata(p);
			break;
		default:
			err = parse_spec(p);
			break;
		}
		path_pop(p, old);
		if (err != 0)
			return err;
	}
	if (k < 0)
		return k;
	if (!(seen & (1u << T_API)))
		return fp_fail(p, POLICY_E_FILE, line, "field 'apiVersion' is missing (use "
		    API_VERSION ")");
	if (!(seen & (1u << T_KIND)))
		return fp_fail(p, POLICY_E_FILE, line, "field 'kind' is missing (use " KIND ")");
	if (!(seen & (1u << T_SPEC)))
		return fp_fail(p, POLICY_E_FILE, line, "field 'spec' is missing");
	return 0;
}

static int
parse_stream(struct fp *p)
{
	int err = fp_expect(p, YAML_STREAM_START_EVENT, "a YAML stream");

	if (err == 0)
		err = fp_next(p);
	if (err != 0)
		return err;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return fp_fail(p, POLICY_E_FILE, ev_line(p),
		    "the file is empty: expected an AllowList mapping");
	if (p->ev.type != YAML_DOCUMENT_START_EVENT)
		return fp_fail(p, POLICY_E_FILE, ev_line(p), "expected a document");
	err = fp_next(p);
	if (err != 0)
		return err;
	if (p->ev.type == YAML_SCALAR_EVENT && ev_is_null(&p->ev))
		return fp_fail(p, POLICY_E_FILE, ev_line(p),
		    "the document is empty: expected an AllowList mapping");
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return fp_fail(p, POLICY_E_FILE, ev_line(p),
		    "the document must be a mapping with apiVersion, kind and spec, not %s",
		    ev_kind(&p->ev));
	err = parse_top(p);
	if (err == 0)
		err = fp_expect(p, YAML_DOCUMENT_END_EVENT, "the end of the document");
	if (err == 0)
		err = fp_next(p);
	if (err == 0 && p->ev.type != YAML_STREAM_END_EVENT)
		err = fp_fail(p, POLICY_E_FILE, ev_line(p), "only one document is allowed");
	return err;
}

int
policy_set_parse(const uint8_t *data, size_t len, struct policy_set *set, char *err,
    size_t errlen)
{
	struct fp p;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (set == NULL || (data == NULL && len > 0)) {
		if (err != NULL && errlen > 0)
			util_format(err, errlen, "invalid argument");
		return POLICY_E_INVAL;
	}
	memset(set, 0, sizeof(*set));
	if (len > POLICY_FILE_MAX_BYTES) {
		if (err != NULL && errlen > 0)
			util_format(err, errlen, "the file is larger than %u bytes",
			    POLICY_FILE_MAX_BYTES);
		return POLICY_E_TOO_BIG;
	}
	memset(&p, 0, sizeof(p));
	p.err = err;
	p.errlen = errlen;
	p.set = set;
	if (!yaml_parser_initialize(&p.yp)) {
		if (err != NULL && errlen > 0)
			util_format(err, errlen, "out of memory");
		return POLICY_E_NOMEM;
	}
	/* libyaml asserts on a NULL input, even an empty one. */
	yaml_parser_set_input_string(&p.yp, data != NULL ? data : (const uint8_t *)"", len);
	rc = parse_stream(&p);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yp);
	if (rc != 0) {
		/* Every failure path records a message; this is a backstop. */
		if (!p.failed)
			(void)fp_raw(&p, rc, "%s", policy_strerror(rc));
		policy_set_free(set);
	}
	return rc;
}

void
policy_set_free(struct policy_set *set)
{
	if (set == NULL)
		return;
	free(set->rules);
	free(set->audit);
	memset(set, 0, sizeof(*set));
}

/* ---- Canonical text ------------------------------------------------------- */

struct line {
	const char *p;
	size_t len;
};

static int
line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	return util_bytes_cmp(x->p, x->len, y->p, y->len);
}

static bool
sel_ok(const struct policy_selector *s)
{
	return s->len > 0 && s->len < sizeof(s->str) && s->str[s->len] == '\0' &&
	    memchr(s->str, '\0', s->len) == NULL;
}

int
policy_set_canonical(const struct policy_set *set, char **out, size_t *outlen)
{
	struct line *lines = NULL;
	char *scratch = NULL, *res = NULL;
	size_t nl, cap = 1, off = 0, total = 0;
	int err = 0;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (set == NULL || out == NULL || outlen == NULL || (set->n > 0 && set->rules == NULL) ||
	    (set->naudit > 0 && set->audit == NULL))
		return POLICY_E_INVAL;
	if (set->n > SIZE_MAX / sizeof(*lines) - set->naudit - 1)
		return POLICY_E_NOMEM;
	nl = set->n + set->naudit;

	/* An upper bound per line, so the scratch buffer is sized once. */
	for (size_t i = 0; i < set->n; i++) {
		const struct policy_rule *r = &set->rules[i];

		if (!sel_ok(&r->from) || !sel_ok(&r->to))
			return POLICY_E_INVAL;
		/* The quoting below relies on comments holding no newline. */
		if (policy_comment_check(r->comment, strnlen(r->comment, sizeof(r->comment))) != 0)
			return POLICY_E_COMMENT;
		cap += 6 + r->from.len + 1 + r->to.len + 1 + PORTS_BUF + 1 + 21 + 1 +
		    2 + 2 * POLICY_COMMENT_MAX + 1;
	}
	for (size_t i = 0; i < set->naudit; i++) {
		if (!sel_ok(&set->audit[i]))
			return POLICY_E_INVAL;
		cap += 6 + set->audit[i].len + 1;
	}
	lines = malloc((nl > 0 ? nl : 1) * sizeof(*lines));
	scratch = malloc(cap);
	if (lines == NULL || scratch == NULL) {
		err = POLICY_E_NOMEM;
		goto out;
	}

	for (size_t i = 0; i < set->n; i++) {
		const struct policy_rule *r = &set->rules[i];
		char ports[PORTS_BUF], exp[24];
		size_t start = off, clen = strnlen(r->comment, POLICY_COMMENT_MAX);

		policy_ports_format(&r->ports, ports, sizeof(ports));
		if (r->expires == 0)
			memcpy(exp, "never", 6);
		else
			util_format(exp, sizeof(exp), "%lld", (long long)r->expires);
		off += (size_t)snprintf(scratch + off, cap - off, "allow %s %s %s %s \"",
		    r->from.str, r->to.str, ports, exp);
		for (size_t k = 0; k < clen; k++) {
			if (r->comment[k] == '"' || r->comment[k] == '\\')
				scratch[off++] = '\\';
			scratch[off++] = r->comment[k];
		}
		scratch[off++] = '"';
		scratch[off++] = '\n';
		lines[i].p = scratch + start;
		lines[i].len = off - start;
	}
	for (size_t i = 0; i < set->naudit; i++) {
		size_t start = off;

		off += (size_t)snprintf(scratch + off, cap - off, "audit %s\n", set->audit[i].str);
		lines[set->n + i].p = scratch + start;
		lines[set->n + i].len = off - start;
	}
	if (set->n > 1)
		qsort(lines, set->n, sizeof(*lines), line_cmp);
	if (set->naudit > 1)
		qsort(lines + set->n, set->naudit, sizeof(*lines), line_cmp);

	res = malloc(sizeof(CANONICAL_HEADER) + off);
	if (res == NULL) {
		err = POLICY_E_NOMEM;
		goto out;
	}
	/* The format is named, so a signature cannot carry over to another one. */
	memcpy(res, CANONICAL_HEADER, sizeof(CANONICAL_HEADER) - 1);
	total = sizeof(CANONICAL_HEADER) - 1;
	for (size_t i = 0; i < nl; i++) {
		memcpy(res + total, lines[i].p, lines[i].len);
		total += lines[i].len;
	}
	res[total] = '\0';
	*out = res;
	*outlen = total;
out:
	free(lines);
	free(scratch);
	return err;
}
