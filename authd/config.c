/*
 * config.c: the daemon's configuration file (docs/config.md).
 *
 * As policy/file.c does for policy files, the parser walks libyaml's event
 * stream against a fixed schema instead of loading a document tree:
 * anchors, aliases and tags are refused as they arrive (an alias bomb never
 * expands), the first error ends the walk, and each value is checked where
 * it stands, so a message can name its line and key. Unknown and duplicate
 * keys are errors: a misspelt limit must not silently keep its default.
 *
 * The event helpers are this file's own, not file.c's: those are static to
 * the policy library and speak POLICY_E_* codes and policy paths.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "authd/config.h"
#include "certs/ca.h"
#include "wire/connect.h"
#include "common/duration.h"
#include "certs/error.h"

#define KEY_BUF 96			/* "workloads[255].upstreams[15].expect_id" */
#define SHOW_MAX 64			/* value bytes quoted in a message */
#define SHOW_BUF (SHOW_MAX * 4 + 4)	/* escaped, plus "..." and NUL */
#define DURATION_TEXT_MAX 31		/* longer than any duration in bounds */

struct cp {
	yaml_parser_t yp;
	yaml_event_t ev;
	bool have_ev;
	bool unread;			/* cp_next returns ev again */
	bool failed;
	const uint8_t *text;
	size_t len;
	char *err;
	size_t errlen;
	char key[KEY_BUF];		/* dotted path of what is being read */
	size_t klen;
	struct config *c;		/* the copy being filled */
	struct workload *ws;		/* workloads read so far (owned until the swap) */
	size_t nws;
	bool have_workloads;
};

/* ---- Messages ------------------------------------------------------------- */

/* Quote a value for a message: at most SHOW_MAX bytes, unprintables escaped. */
static void
show(char out[static SHOW_BUF], const char *v, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, n = len < SHOW_MAX ? len : SHOW_MAX;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '\\' || ch == '\'') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	if (len > SHOW_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static size_t
ev_line(const struct cp *p)
{
	return p->ev.start_mark.line + 1;
}

/* Keep the first error only: later ones are its consequences. */
static int cp_fail(struct cp *p, size_t line, const char *fmt, ...) AD_PRINTF(3, 4);
static int
cp_fail(struct cp *p, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return -EINVAL;
	p->failed = true;
	if (p->err == NULL || p->errlen == 0)
		return -EINVAL;
	if (p->klen > 0)
		n = snprintf(p->err, p->errlen, "line %zu: %s: ", line, p->key);
	else
		n = snprintf(p->err, p->errlen, "line %zu: ", line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		(void)vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int
cp_nomem(struct cp *p)
{
	if (!p->failed && p->err != NULL && p->errlen > 0)
		util_format(p->err, p->errlen, "out of memory");
	p->failed = true;
	return -ENOMEM;
}

static size_t key_push(struct cp *p, const char *fmt, ...) AD_PRINTF(2, 3);
static size_t
key_push(struct cp *p, const char *fmt, ...)
{
	size_t old = p->klen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->key + old, sizeof(p->key) - old, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->klen = old + (size_t)n < sizeof(p->key) ? old + (size_t)n : sizeof(p->key) - 1;
	return old;
}

static void
key_pop(struct cp *p, size_t old)
{
	p->klen = old;
	p->key[old] = '\0';
}

/* ---- Events --------------------------------------------------------------- */

static int
cp_yaml_fail(struct cp *p)
{
	const yaml_parser_t *y = &p->yp;
	const char *problem = y->problem != NULL ? y->problem : "malformed YAML";
	size_t line = 1;

	if (y->error == YAML_MEMORY_ERROR)
		return cp_nomem(p);
	/* The reader (bad UTF-8, NUL bytes) knows an offset, not a line. */
	if (y->error == YAML_READER_ERROR) {
		for (size_t i = 0; i < y->problem_offset && i < p->len; i++)
			line += p->text[i] == '\n';
	} else {
		line = y->problem_mark.line + 1;
	}
	key_pop(p, 0);
	if (y->context != NULL)
		return cp_fail(p, line, "malformed YAML: %s %s", y->context, problem);
	return cp_fail(p, line, "malformed YAML: %s", problem);
}

static bool
ev_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return n == 0 || (n == 1 && v[0] == '~') ||
	    (n == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
	    memcmp(v, "NULL", 4) == 0));
}

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

/* The next event into p->ev, refusing what the schema never needs. */
static int
cp_next(struct cp *p)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (p->unread) {
		p->unread = false;
		return 0;
	}
	if (p->have_ev) {
		yaml_event_delete(&p->ev);
		p->have_ev = false;
	}
	if (!yaml_parser_parse(&p->yp, &p->ev))
		return cp_yaml_fail(p);
	p->have_ev = true;
	switch (p->ev.type) {
	case YAML_ALIAS_EVENT:
		return cp_fail(p, ev_line(p), "aliases are not allowed");
	case YAML_SCALAR_EVENT:
		anchor = p->ev.data.scalar.anchor;
		tag = p->ev.data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = p->ev.data.sequence_start.anchor;
		tag = p->ev.data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = p->ev.data.mapping_start.anchor;
		tag = p->ev.data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor != NULL)
		return cp_fail(p, ev_line(p), "anchors are not allowed");
	/* A tag could change what a value means; nothing here needs one. */
	if (tag != NULL)
		return cp_fail(p, ev_line(p), "tags are not allowed");
	return 0;
}

/* Make the next cp_next return the current event (already checked) again. */
static void
cp_unread(struct cp *p)
{
	p->unread = true;
}

static int
cp_expect(struct cp *p, yaml_event_type_t type, const char *what)
{
	int err = cp_next(p);

	if (err != 0)
		return err;
	if (p->ev.type != type)
		return cp_fail(p, ev_line(p), "expected %s, found %s", what, ev_kind(&p->ev));
	return 0;
}

/* The current event as a non-null scalar. */
static int
cp_cur_scalar(struct cp *p, const char *what, const char **v, size_t *len)
{
	*v = "";
	*len = 0;
	if (p->ev.type != YAML_SCALAR_EVENT)
		return cp_fail(p, ev_line(p), "expected %s, found %s", what, ev_kind(&p->ev));
	/* An empty value is refused, not defaulted: "store:" is more likely a slip. */
	if (ev_is_null(&p->ev))
		return cp_fail(p, ev_line(p),
		    "expected %s, found an empty value (leave the key out for the default)", what);
	*v = (const char *)p->ev.data.scalar.value;
	*len = p->ev.data.scalar.length;
	return 0;
}

static int
cp_scalar(struct cp *p, const char *what, const char **v, size_t *len)
{
	int err = cp_next(p);

	if (err != 0) {
		*v = "";
		*len = 0;
		return err;
	}
	return cp_cur_scalar(p, what, v, len);
}

/*
 * The next key of the current mapping: 1 with *which set, 0 at its end, or
 * an error for a non-string, unknown or repeated key. The mapping's keys
 * are names[0..n), at most 32 of them.
 */
static int
cp_key(struct cp *p, const char *const *names, size_t n, const char *expected, unsigned *seen,
    size_t *which)
{
	char shown[SHOW_BUF];
	const char *v;
	size_t len, old;
	int err = cp_next(p);

	if (err != 0)
		return err;
	if (p->ev.type == YAML_MAPPING_END_EVENT)
		return 0;
	if (p->ev.type != YAML_SCALAR_EVENT)
		return cp_fail(p, ev_line(p), "a key must be a string, not %s", ev_kind(&p->ev));
	v = (const char *)p->ev.data.scalar.value;
	len = p->ev.data.scalar.length;
	for (size_t i = 0; i < n; i++) {
		if (strlen(names[i]) != len || memcmp(names[i], v, len) != 0)
			continue;
		if (*seen & (1u << i)) {
			old = key_push(p, "%s%s", p->klen > 0 ? "." : "", names[i]);
			err = cp_fail(p, ev_line(p), "appears twice");
			key_pop(p, old);
			return err;
		}
		*seen |= 1u << i;
		*which = i;
		return 1;
	}
	show(shown, v, len);
	return cp_fail(p, ev_line(p), "unknown key '%s' (expected %s)", shown, expected);
}

/* ---- Values --------------------------------------------------------------- */

/*
 * A string that fits out (size bytes with its NUL). NUL bytes (YAML's "\0")
 * and control characters are refused: they would cut or forge log lines
 * and paths. Empty only when allow_empty.
 */
static int
cp_string(struct cp *p, const char *what, bool allow_empty, char *out, size_t size)
{
	const char *v;
	size_t len;
	int err = cp_scalar(p, what, &v, &len);

	if (err != 0)
		return err;
	if (len == 0 && !allow_empty)
		return cp_fail(p, ev_line(p), "expected %s, found an empty string", what);
	if (len >= size)
		return cp_fail(p, ev_line(p), "too long (%zu bytes; at most %zu)", len, size - 1);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return cp_fail(p, ev_line(p), "control character at byte %zu", i);
	}
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

/* An address as addr_parse takes it; ip_only refuses unix sockets. */
static int
cp_addr(struct cp *p, bool ip_only, char out[static ADDR_TEXT_MAX + 1])
{
	char shown[SHOW_BUF];
	const char *why = NULL;
	struct addr a;
	int err = cp_string(p, ip_only ? "IP:PORT" : "an address (IP:PORT or unix:/PATH)", false,
	    out, ADDR_TEXT_MAX + 1);

	if (err != 0)
		return err;
	show(shown, out, strlen(out));
	if (addr_parse(out, false, &a, &why) != 0)
		return cp_fail(p, ev_line(p), "'%s' is not an address: %s", shown, why);
	if (ip_only && addr_is_unix(&a))
		return cp_fail(p, ev_line(p), "'%s' must be IP:PORT, not a unix socket", shown);
	return 0;
}

/* A whole number in min..max, decimal, no sign, no leading zero. */
static int
cp_uint(struct cp *p, uint32_t min, uint32_t max, uint32_t *out)
{
	char shown[SHOW_BUF];
	const char *v;
	size_t len;
	uint64_t n = 0;
	int err = cp_scalar(p, "a whole number", &v, &len);

	if (err != 0)
		return err;
	show(shown, v, len);
	if (len == 0 || len > 10 || (len > 1 && v[0] == '0'))
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			goto bad;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n < min || n > max)
		return cp_fail(p, ev_line(p), "%s is out of range (%u..%u)", shown, min, max);
	*out = (uint32_t)n;
	return 0;
bad:
	/* Ten digits and more are over every bound here: say so, not "not a number". */
	if (len > 10 && strspn(v, "0123456789") == len && v[0] != '0')
		return cp_fail(p, ev_line(p), "%s is out of range (%u..%u)", shown, min, max);
	return cp_fail(p, ev_line(p), "'%s' is not a whole number", shown);
}

/*
 * A size: a whole number of bytes, or with KiB, MiB or GiB after it, in
 * min..max (range: the bounds as a reader writes them).
 */
static int
cp_size(struct cp *p, uint64_t min, uint64_t max, const char *range, uint64_t *out)
{
	static const struct {
		const char *unit;
		unsigned shift;
	} units[] = { { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "", 0 } };
	char shown[SHOW_BUF];
	const char *v;
	size_t len, digits;
	uint64_t n = 0;
	int err = cp_scalar(p, "a size", &v, &len);

	if (err != 0)
		return err;
	show(shown, v, len);
	for (digits = 0; digits < len && v[digits] >= '0' && v[digits] <= '9'; digits++)
		;
	if (digits == 0 || digits > 12 || (digits > 1 && v[0] == '0'))
		goto bad;
	for (size_t i = 0; i < digits; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	for (size_t u = 0; u < AD_ARRAY_LEN(units); u++) {
		if (len - digits != strlen(units[u].unit) ||
		    memcmp(v + digits, units[u].unit, len - digits) != 0)
			continue;
		n <<= units[u].shift;	/* at most 12 digits << 30: no overflow */
		if (n < min || n > max)
			return cp_fail(p, ev_line(p), "%s is out of range (%s)", shown, range);
		*out = n;
		return 0;
	}
bad:
	return cp_fail(p, ev_line(p), "'%s' is not a size (bytes, or a number with KiB, MiB or "
	    "GiB)", shown);
}

/*
 * A duration in min_ms..max_ms; range is the bounds as a reader writes
 * them. In seconds (svid_ttl) when secs. "0" (or "0s") is a duration only
 * where min_ms is 0: duration_parse refuses zero, since for most of its
 * uses zero is a slip.
 */
static int
cp_duration(struct cp *p, bool secs, uint64_t min, uint64_t max, const char *range, uint32_t *out)
{
	char shown[SHOW_BUF], buf[DURATION_TEXT_MAX + 1];
	const char *v;
	size_t len;
	uint64_t n = 0;
	int err = cp_scalar(p, "a duration", &v, &len);

	if (err != 0)
		return err;
	show(shown, v, len);
	if (len > DURATION_TEXT_MAX || memchr(v, '\0', len) != NULL)
		return cp_fail(p, ev_line(p), "'%s' is not a duration (write %s)", shown,
		    secs ? "90s, 15m, 1h" : "500ms, 10s, 1m30s");
	memcpy(buf, v, len);
	buf[len] = '\0';
	err = secs ? duration_parse(buf, &n) : duration_parse_ms(buf, &n);
	if (err == -ERANGE && min == 0 && strspn(buf, "0dhms") == len)
		err = 0;	/* only zeros, and a valid form (else -EINVAL): zero */
	else if (err == -EINVAL && min == 0 && strcmp(buf, "0") == 0)
		err = 0;
	if (err == -EINVAL)
		return cp_fail(p, ev_line(p), "'%s' is not a duration (write %s)", shown,
		    secs ? "90s, 15m, 1h" : "500ms, 10s, 1m30s");
	if (err != 0 || n < min || n > max)
		return cp_fail(p, ev_line(p), "%s is out of range (%s)", shown, range);
	*out = (uint32_t)n;
	return 0;
}

/* "HOST:PORT" or "[IPv6]:PORT" into host (without brackets) and port. */
static int
cp_target(struct cp *p, struct workload_upstream *u)
{
	char shown[SHOW_BUF], text[sizeof(u->target_host) + 8], host[sizeof(u->target_host)];
	const char *port = "", *why = NULL;
	char *sep;
	struct in6_addr in6;
	size_t hlen = 0, plen;
	unsigned long n = 0;
	int err = cp_string(p, "HOST:PORT", false, text, sizeof(text));

	if (err != 0)
		return err;
	show(shown, text, strlen(text));
	if (text[0] == '[') {
		sep = strchr(text, ']');
		if (sep == NULL || sep[1] != ':') {
			why = "expected [IPv6]:PORT";
		} else {
			hlen = (size_t)(sep - text - 1);
			port = sep + 2;
		}
	} else {
		sep = strrchr(text, ':');
		if (sep == NULL) {
			why = "expected HOST:PORT";
		} else {
			hlen = (size_t)(sep - text);
			port = sep + 1;
			if (memchr(text, ':', hlen) != NULL)
				why = "an IPv6 host needs brackets: [::1]:PORT";
		}
	}
	if (why == NULL && hlen == 0)
		why = "the host is empty";
	if (why == NULL && hlen >= sizeof(host))
		why = "the host is too long";
	if (why == NULL) {
		memcpy(host, text + (text[0] == '['), hlen);
		host[hlen] = '\0';
		/* Brackets mean IPv6, as in a URL: "[db]:80" is not "db:80". */
		if (text[0] == '[' && inet_pton(AF_INET6, host, &in6) != 1)
			why = "brackets must hold an IPv6 address";
	}
	plen = strlen(port);
	if (why == NULL && (plen == 0 || plen > 5 || port[0] == '0' ||
	    strspn(port, "0123456789") != plen || (n = strtoul(port, NULL, 10)) > 65535))
		why = "the port must be 1..65535";
	if (why != NULL)
		return cp_fail(p, ev_line(p), "'%s' is not a target: %s", shown, why);
	memcpy(u->target_host, host, hlen + 1);
	u->target_port = (uint16_t)n;
	return 0;
}

/* ---- Workloads ------------------------------------------------------------ */

static const char *const up_keys[] = { "listen", "peer", "target", "expect_id" };
enum { U_LISTEN, U_PEER, U_TARGET, U_EXPECT };

static int
cp_upstream(struct cp *p, struct workload_upstream *u)
{
	size_t line = ev_line(p), which = 0, old;
	unsigned seen = 0;
	int k, err = 0;

	while ((k = cp_key(p, up_keys, AD_ARRAY_LEN(up_keys), "listen, peer, target or expect_id",
	    &seen, &which)) > 0) {
		old = key_push(p, ".%s", up_keys[which]);
		switch (which) {
		case U_LISTEN:
			err = cp_addr(p, false, u->listen);
			break;
		case U_PEER:
			err = cp_addr(p, true, u->peer);
			break;
		case U_TARGET:
			err = cp_target(p, u);
			break;
		default:
			err = cp_string(p, "a SPIFFE ID", false, u->expect_id, sizeof(u->expect_id));
			break;
		}
		key_pop(p, old);
		if (err != 0)
			return err;
	}
	if (k < 0)
		return k;
	for (size_t i = 0; i < U_EXPECT; i++)
		if (!(seen & (1u << i)))
			return cp_fail(p, line, "'%s' is missing", up_keys[i]);
	return 0;
}

/*
 * A list of items, each read by one(p, i, arg) from its first event (which
 * cp_next returns again); at most max of them, "what" names them.
 */
typedef int (*item_fn)(struct cp *p, size_t i, void *arg);

static int
cp_list(struct cp *p, const char *expected, size_t max, const char *what, item_fn one, void *arg,
    size_t *count)
{
	size_t n = 0, old;
	int err = cp_expect(p, YAML_SEQUENCE_START_EVENT, expected);

	*count = 0;
	if (err != 0)
		return err;
	for (;;) {
		/* The index goes on the key first, so a refused anchor names the item. */
		old = key_push(p, "[%zu]", n);
		if ((err = cp_next(p)) != 0) {
			key_pop(p, old);
			return err;
		}
		if (p->ev.type == YAML_SEQUENCE_END_EVENT) {
			key_pop(p, old);
			break;
		}
		if (n == max) {
			key_pop(p, old);
			return cp_fail(p, ev_line(p), "more than %zu %s", max, what);
		}
		cp_unread(p);
		err = one(p, n, arg);
		key_pop(p, old);
		if (err != 0)
			return err;
		*count = ++n;
	}
	return 0;
}

static int
app_item(struct cp *p, size_t i, void *arg)
{
	struct workload *w = arg;

	return cp_addr(p, true, w->apps[i]);
}

static int
upstream_item(struct cp *p, size_t i, void *arg)
{
	struct workload *w = arg;
	int err = cp_expect(p, YAML_MAPPING_START_EVENT,
	    "a mapping with listen, peer, target and expect_id");

	return err != 0 ? err : cp_upstream(p, &w->upstreams[i]);
}

static const char *const wl_keys[] = {
	"name", "namespace", "service_account", "listen", "apps", "upstreams",
};
enum { W_NAME, W_NS, W_SA, W_LISTEN, W_APPS, W_UPSTREAMS };

static int
cp_workload(struct cp *p, struct workload *w)
{
	size_t which = 0, old;
	unsigned seen = 0;
	int k, err = 0;

	while ((k = cp_key(p, wl_keys, AD_ARRAY_LEN(wl_keys),
	    "name, namespace, service_account, listen, apps or upstreams", &seen, &which)) > 0) {
		old = key_push(p, ".%s", wl_keys[which]);
		switch (which) {
		case W_NAME:
			err = cp_string(p, "a name", false, w->name, sizeof(w->name));
			break;
		case W_NS:
			err = cp_string(p, "a namespace", false, w->ns, sizeof(w->ns));
			break;
		case W_SA:
			err = cp_string(p, "a service account", false, w->sa, sizeof(w->sa));
			break;
		case W_LISTEN:
			err = cp_addr(p, false, w->listen);
			break;
		case W_APPS:
			err = cp_list(p, "a list of IP:PORT", WORKLOAD_APPS_MAX, "apps", app_item, w,
			    &w->n_apps);
			break;
		default:
			err = cp_list(p, "a list of upstreams", WORKLOAD_UPSTREAMS_MAX, "upstreams",
			    upstream_item, w, &w->n_upstreams);
			break;
		}
		key_pop(p, old);
		if (err != 0)
			return err;
	}
	return k;
}

/*
 * What the file must say about a workload, then workload_validate for the
 * rest (the registry applies the same rules to `authctl workload add`).
 */
static int
check_workload(struct cp *p, size_t i, size_t line)
{
	struct workload *w = &p->ws[i];
	const char *why = NULL;

	if (w->name[0] == '\0')
		return cp_fail(p, line, "'name' is missing");
	if (w->ns[0] == '\0')
		return cp_fail(p, line, "'namespace' is missing");
	if (w->sa[0] == '\0')
		memcpy(w->sa, w->name, sizeof(w->sa));
	if (workload_validate(w, &why) != 0)
		return cp_fail(p, line, "%s/%s: %s", w->ns, w->name,
		    why != NULL ? why : "invalid workload");
	for (size_t j = 0; j < i; j++) {
		if (strcmp(p->ws[j].ns, w->ns) == 0 && strcmp(p->ws[j].name, w->name) == 0)
			return cp_fail(p, line, "workload %s/%s is already declared (workloads[%zu])",
			    w->ns, w->name, j);
	}
	return 0;
}

static int
workload_item(struct cp *p, size_t i, void *arg)
{
	struct workload *nw;
	size_t line;
	int err;

	(void)arg;
	/* Grow by doubling; i < CONFIG_WORKLOADS_MAX bounds the total. */
	if ((i & (i - 1)) == 0) {
		size_t cap = i == 0 ? 1 : i * 2;

		nw = realloc(p->ws, cap * sizeof(*nw));
		if (nw == NULL)
			return cp_nomem(p);
		p->ws = nw;
	}
	memset(&p->ws[i], 0, sizeof(p->ws[i]));
	p->nws = i + 1;
	err = cp_expect(p, YAML_MAPPING_START_EVENT, "a workload mapping");
	if (err != 0)
		return err;
	line = ev_line(p);
	err = cp_workload(p, &p->ws[i]);
	return err != 0 ? err : check_workload(p, i, line);
}

/* ---- Limits and the top level --------------------------------------------- */

struct limit_key {
	bool duration;
	uint32_t min, max;
	const char *range;
	size_t off;
};

static const char *const limit_names[] = {
	"handshake_timeout", "header_timeout", "connect_timeout", "idle_timeout", "drain_timeout",
	"max_connections", "max_connections_per_workload", "max_header_bytes",
};

#define LIM(f) offsetof(struct config_limits, f)
static const struct limit_key limit_keys[] = {
	{ true, 100, 300000, "100ms..5m", LIM(handshake_timeout_ms) },
	{ true, 100, 300000, "100ms..5m", LIM(header_timeout_ms) },
	{ true, 100, 300000, "100ms..5m", LIM(connect_timeout_ms) },
	{ true, 1000, 7 * 86400000u, "1s..7d", LIM(idle_timeout_ms) },
	{ true, 0, 3600000, "0..1h", LIM(drain_timeout_ms) },
	{ false, 1, 1000000, NULL, LIM(max_connections) },
	{ false, 1, 1000000, NULL, LIM(max_connections_per_workload) },
	{ false, 256, CONNECT_HEAD_MAX, NULL, LIM(max_header_bytes) },
};
#undef LIM
_Static_assert(AD_ARRAY_LEN(limit_names) == AD_ARRAY_LEN(limit_keys), "one bound per limit");

static int
cp_limits(struct cp *p, struct config_limits *l)
{
	size_t which = 0, old;
	unsigned seen = 0;
	int k, err = cp_expect(p, YAML_MAPPING_START_EVENT, "a mapping of limits");

	if (err != 0)
		return err;
	while ((k = cp_key(p, limit_names, AD_ARRAY_LEN(limit_names),
	    "handshake_timeout, header_timeout, connect_timeout, idle_timeout, drain_timeout, "
	    "max_connections, max_connections_per_workload or max_header_bytes",
	    &seen, &which)) > 0) {
		const struct limit_key *lk = &limit_keys[which];
		uint32_t *field = (uint32_t *)(void *)((char *)l + lk->off);

		old = key_push(p, ".%s", limit_names[which]);
		if (lk->duration)
			err = cp_duration(p, false, lk->min, lk->max, lk->range, field);
		else
			err = cp_uint(p, lk->min, lk->max, field);
		key_pop(p, old);
		if (err != 0)
			return err;
	}
	return k;
}

static int
cp_trust_domain(struct cp *p, char out[static SPIFFE_TD_MAX + 1])
{
	char shown[SHOW_BUF];
	const char *v;
	size_t len, where = 0;
	int err = cp_scalar(p, "a trust domain", &v, &len);

	if (err != 0)
		return err;
	err = spiffe_td_parse(v, len, out, &where);
	if (err != 0) {
		show(shown, v, len);
		return cp_fail(p, ev_line(p), "'%s' is not a trust domain: %s (at byte %zu)", shown,
		    certs_strerror(err), where);
	}
	return 0;
}

static int
cp_log_level(struct cp *p, enum config_log_level *out)
{
	static const char *const names[] = { "debug", "info", "warn" };
	static const enum config_log_level levels[] = {
		CONFIG_LOG_DEBUG, CONFIG_LOG_INFO, CONFIG_LOG_WARN,
	};
	char shown[SHOW_BUF];
	const char *v;
	size_t len;
	int err = cp_scalar(p, "debug, info or warn", &v, &len);

	if (err != 0)
		return err;
	for (size_t i = 0; i < AD_ARRAY_LEN(names); i++) {
		if (strlen(names[i]) == len && memcmp(names[i], v, len) == 0) {
			*out = levels[i];
			return 0;
		}
	}
	show(shown, v, len);
	return cp_fail(p, ev_line(p), "'%s' is not a level (debug, info or warn)", shown);
}

/* "stdout", "off", or a path; a path holds a '/', so "stderr" is no file in the cwd. */
static int
cp_access_log(struct cp *p, char out[static 4096])
{
	char shown[SHOW_BUF];
	int err = cp_string(p, "stdout, off or a path", false, out, 4096);

	if (err != 0)
		return err;
	if (strcmp(out, "stdout") == 0 || strcmp(out, "off") == 0 || strchr(out, '/') != NULL)
		return 0;
	show(shown, out, strlen(out));
	return cp_fail(p, ev_line(p),
	    "'%s' is not stdout, off or a path (write ./%s for a file here)", shown, shown);
}

/* "" or "off" turns the admin (or probe) listener off; else an address (probes: IP:PORT). */
static int
cp_admin(struct cp *p, bool ip_only, char out[static ADDR_TEXT_MAX + 1])
{
	const char *v;
	size_t len;
	int err = cp_scalar(p, "an address or off", &v, &len);

	if (err != 0)
		return err;
	if (len == 0 || (len == 3 && memcmp(v, "off", 3) == 0)) {
		out[0] = '\0';
		return 0;
	}
	cp_unread(p);
	return cp_addr(p, ip_only, out);
}

static int
cp_bool(struct cp *p, bool *out)
{
	const char *v;
	size_t len;
	int err = cp_scalar(p, "true or false", &v, &len);

	if (err != 0)
		return err;
	if (len == 4 && memcmp(v, "true", 4) == 0)
		*out = true;
	else if (len == 5 && memcmp(v, "false", 5) == 0)
		*out = false;
	else
		return cp_fail(p, ev_line(p), "expected true or false");
	return 0;
}

/* Kubernetes name rules, checked here so a typo fails at load, not at the first event. */
static bool
dns_subdomain_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.'))
			return false;
	return true;
}

bool
config_label_key_ok(const char *key)
{
	const char *slash = strchr(key, '/'), *name = slash ? slash + 1 : key;
	size_t n = strlen(name);

	if (slash != NULL && !dns_subdomain_ok(key, (size_t)(slash - key)))
		return false;
	if (n == 0 || n > 63 || !isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_' &&
		    name[i] != '.')
			return false;
	return true;
}

static const char *const kube_keys[] = {
	"node_name", "server", "ca_file", "token_file", "enroll_label", "allowlists",
};
enum { K_NODE, K_SERVER, K_CA, K_TOKEN, K_LABEL, K_ALLOWLISTS };

static int
cp_kube(struct cp *p, struct config_kube *k)
{
	size_t which = 0, old;
	unsigned seen = 0;
	int r, err = cp_expect(p, YAML_MAPPING_START_EVENT, "a mapping of Kubernetes settings");

	if (err != 0)
		return err;
	k->enabled = true;
	while ((r = cp_key(p, kube_keys, AD_ARRAY_LEN(kube_keys),
	    "node_name, server, ca_file, token_file, enroll_label or allowlists", &seen,
	    &which)) > 0) {
		old = key_push(p, ".%s", kube_keys[which]);
		switch (which) {
		case K_NODE:
			err = cp_string(p, "a node name", true, k->node_name, sizeof(k->node_name));
			if (err == 0 && k->node_name[0] != '\0' &&
			    !dns_subdomain_ok(k->node_name, strlen(k->node_name)))
				err = cp_fail(p, ev_line(p), "not a Kubernetes node name");
			break;
		case K_SERVER:
			err = cp_string(p, "an https:// URL", true, k->server, sizeof(k->server));
			if (err == 0 && k->server[0] != '\0' && strncmp(k->server, "https://", 8) != 0)
				err = cp_fail(p, ev_line(p), "the API server must be an https:// URL");
			break;
		case K_CA:
			err = cp_string(p, "a file", false, k->ca_file, sizeof(k->ca_file));
			break;
		case K_TOKEN:
			err = cp_string(p, "a file", false, k->token_file, sizeof(k->token_file));
			break;
		case K_LABEL:
			err = cp_string(p, "a label key", false, k->enroll_label,
			    sizeof(k->enroll_label));
			if (err == 0 && !config_label_key_ok(k->enroll_label))
				err = cp_fail(p, ev_line(p), "not a Kubernetes label key");
			break;
		default:
			err = cp_bool(p, &k->allowlists);
			break;
		}
		key_pop(p, old);
		if (err != 0)
			return err;
	}
	return r;
}

static const char *const top_keys[] = {
	"trust_domain", "state_dir", "ca_dir", "seal_key", "store", "admin", "access_log",
	"log_level", "svid_ttl", "limits", "workloads", "workers", "store_map_size", "probes",
	"kubernetes",
};
enum { T_TD, T_STATE, T_CA, T_SEAL, T_STORE, T_ADMIN, T_ACCESS, T_LEVEL, T_TTL, T_LIMITS,
	T_WORKLOADS, T_WORKERS, T_MAP, T_PROBES, T_KUBE };

/* The top-level mapping; its MAPPING_START is the current event. */
static int
cp_top(struct cp *p)
{
	struct config *c = p->c;
	uint32_t ttl = 0;
	size_t which = 0, old, n = 0;
	unsigned seen = 0;
	int k, err = 0;

	while ((k = cp_key(p, top_keys, AD_ARRAY_LEN(top_keys),
	    "trust_domain, state_dir, ca_dir, seal_key, store, admin, access_log, log_level, "
	    "svid_ttl, limits, workloads, workers, store_map_size, probes or kubernetes", &seen,
	    &which)) > 0) {
		old = key_push(p, "%s", top_keys[which]);
		switch (which) {
		case T_TD:
			err = cp_trust_domain(p, c->trust_domain);
			break;
		case T_STATE:
			err = cp_string(p, "a directory", false, c->state_dir, sizeof(c->state_dir));
			break;
		case T_CA:
			err = cp_string(p, "a directory", false, c->ca_dir, sizeof(c->ca_dir));
			break;
		case T_SEAL:
			err = cp_string(p, "a file", true, c->seal_key, sizeof(c->seal_key));
			break;
		case T_STORE:
			err = cp_string(p, "a file", false, c->store, sizeof(c->store));
			break;
		case T_ADMIN:
			err = cp_admin(p, false, c->admin);
			break;
		case T_PROBES:
			err = cp_admin(p, true, c->probes);
			break;
		case T_ACCESS:
			err = cp_access_log(p, c->access_log);
			break;
		case T_LEVEL:
			err = cp_log_level(p, &c->log_level);
			break;
		case T_TTL:
			err = cp_duration(p, true, CERTS_SVID_TTL_MIN, CERTS_SVID_TTL_MAX, "5s..24h", &ttl);
			if (err == 0)
				c->svid_ttl = ttl;
			break;
		case T_LIMITS:
			err = cp_limits(p, &c->limits);
			break;
		case T_KUBE:
			err = cp_kube(p, &c->kube);
			break;
		case T_WORKERS:
			err = cp_uint(p, 0, CONFIG_WORKERS_MAX, &c->workers);
			break;
		case T_MAP:
			err = cp_size(p, CONFIG_STORE_MAP_MIN, CONFIG_STORE_MAP_MAX, "1MiB..64GiB",
			    &c->store_map_size);
			break;
		default:
			err = cp_list(p, "a list of workloads", CONFIG_WORKLOADS_MAX, "workloads",
			    workload_item, NULL, &n);
			p->have_workloads = true;
			break;
		}
		key_pop(p, old);
		if (err != 0)
			return err;
	}
	return k;
}

static int
cp_stream(struct cp *p)
{
	int err = cp_expect(p, YAML_STREAM_START_EVENT, "a YAML stream");

	if (err == 0)
		err = cp_next(p);
	if (err != 0)
		return err;
	/* An empty file sets nothing: everything may come from flags. */
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return 0;
	if (p->ev.type != YAML_DOCUMENT_START_EVENT)
		return cp_fail(p, ev_line(p), "expected a document");
	if ((err = cp_next(p)) != 0)
		return err;
	if (p->ev.type == YAML_MAPPING_START_EVENT)
		err = cp_top(p);
	else if (!ev_is_null(&p->ev))
		return cp_fail(p, ev_line(p), "the document must be a mapping of settings, not %s",
		    ev_kind(&p->ev));
	if (err == 0)
		err = cp_expect(p, YAML_DOCUMENT_END_EVENT, "the end of the document");
	if (err == 0)
		err = cp_next(p);
	if (err == 0 && p->ev.type != YAML_STREAM_END_EVENT)
		err = cp_fail(p, ev_line(p), "only one document is allowed");
	return err;
}

/* ---- API ------------------------------------------------------------------ */

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->state_dir, "/var/lib/authd", sizeof("/var/lib/authd"));
	memcpy(c->admin, "127.0.0.1:15000", sizeof("127.0.0.1:15000"));
	memcpy(c->access_log, "stdout", sizeof("stdout"));
	c->log_level = CONFIG_LOG_INFO;
	c->svid_ttl = 3600;
	c->store_map_size = CONFIG_STORE_MAP_MAX;
	c->limits.handshake_timeout_ms = 10000;
	c->limits.header_timeout_ms = 5000;
	c->limits.connect_timeout_ms = 5000;
	c->limits.idle_timeout_ms = 3600000;
	c->limits.drain_timeout_ms = 30000;
	c->limits.max_connections = 10000;
	c->limits.max_connections_per_workload = 1000;
	c->limits.max_header_bytes = CONNECT_HEAD_MAX;
	memcpy(c->kube.enroll_label, "authd.io/mesh", sizeof("authd.io/mesh"));
	c->kube.allowlists = true;
}

static void
set_err(char *err, size_t size, const char *fmt, ...) AD_PRINTF(3, 4);
static void
set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || size == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

int
config_parse(const uint8_t *text, size_t len, struct config *c, char *err, size_t size)
{
	struct config *tmp = NULL;
	struct cp p;
	int rc;

	if (err != NULL && size > 0)
		err[0] = '\0';
	if (c == NULL || (text == NULL && len > 0)) {
		set_err(err, size, "invalid argument");
		return -EINVAL;
	}
	if (len > CONFIG_FILE_MAX) {
		set_err(err, size, "line 1: the file is larger than %d bytes", CONFIG_FILE_MAX);
		return -EINVAL;
	}
	/* Parse into a copy, so a failure leaves c as it was. */
	tmp = malloc(sizeof(*tmp));
	if (tmp == NULL) {
		set_err(err, size, "out of memory");
		return -ENOMEM;
	}
	*tmp = *c;
	memset(&p, 0, sizeof(p));
	p.text = text;
	p.len = len;
	p.err = err;
	p.errlen = size;
	p.c = tmp;
	if (!yaml_parser_initialize(&p.yp)) {
		free(tmp);
		set_err(err, size, "out of memory");
		return -ENOMEM;
	}
	/* libyaml asserts on a NULL input, even an empty one. */
	yaml_parser_set_input_string(&p.yp, text != NULL ? text : (const uint8_t *)"", len);
	rc = cp_stream(&p);
	if (p.have_ev)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.yp);
	if (rc == 0 && p.have_workloads) {
		if (p.nws == 0) {
			free(p.ws);
			p.ws = NULL;
		}
		free(c->workloads);
		tmp->workloads = p.ws;
		tmp->n_workloads = p.nws;
		p.ws = NULL;
	}
	if (rc == 0)
		*c = *tmp;
	else if (!p.failed)
		set_err(err, size, "line 1: invalid configuration");	/* a backstop */
	free(p.ws);
	free(tmp);
	return rc;
}

int
config_load(const char *path, struct config *c, char *err, size_t size)
{
	uint8_t *text = NULL;
	size_t len = 0, n;
	int rc;

	if (err != NULL && size > 0)
		err[0] = '\0';
	if (path == NULL || c == NULL) {
		set_err(err, size, "invalid argument");
		return -EINVAL;
	}
	rc = util_read_file(path, CONFIG_FILE_MAX, &text, &len);
	if (rc == -EFBIG) {
		set_err(err, size, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		return rc;
	}
	if (rc != 0) {
		set_err(err, size, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = config_parse(text, len, c, err, size);
	/* Name the file in front of "line N: ...". */
	if (rc != 0 && err != NULL && size > 0 && (n = strlen(path) + 2) < size) {
		size_t elen = strnlen(err, size - 1);

		if (elen + n >= size)
			elen = size - n - 1;
		memmove(err + n, err, elen);
		err[n + elen] = '\0';
		memcpy(err, path, n - 2);
		memcpy(err + n - 2, ": ", 2);
	}
	free(text);
	return rc;
}

int
config_finish(struct config *c, char *err, size_t size)
{
	char td[SPIFFE_TD_MAX + 1], ca_dir[sizeof(c->ca_dir)], store[sizeof(c->store)];
	const char *why = NULL;
	size_t where = 0, tdlen;
	struct addr a;

	if (err != NULL && size > 0)
		err[0] = '\0';
	if (c == NULL) {
		set_err(err, size, "invalid argument");
		return -EINVAL;
	}
	if (c->trust_domain[0] == '\0') {
		set_err(err, size, "trust_domain is not set (in the config file or --trust-domain)");
		return -EINVAL;
	}
	/* Again here: --trust-domain comes in after the file was parsed. */
	tdlen = strnlen(c->trust_domain, sizeof(c->trust_domain));
	if (spiffe_td_parse(c->trust_domain, tdlen, td, &where) != 0) {
		set_err(err, size, "trust_domain: not a trust domain (at byte %zu)", where);
		return -EINVAL;
	}
	/* Again here too: --admin comes in after the file. */
	if (c->admin[0] != '\0' && addr_parse(c->admin, false, &a, &why) != 0) {
		set_err(err, size, "admin: '%s' is not an address: %s", c->admin, why);
		return -EINVAL;
	}
	if (c->probes[0] != '\0' && addr_parse(c->probes, false, &a, &why) != 0) {
		set_err(err, size, "probes: '%s' is not an address: %s", c->probes, why);
		return -EINVAL;
	}
	if (c->admin[0] != '\0' && strcmp(c->admin, c->probes) == 0) {
		set_err(err, size, "probes: %s is the admin address; give the probes their own", c->probes);
		return -EINVAL;
	}
	if (c->kube.enabled) {
		struct config_kube *k = &c->kube;

		if (k->node_name[0] == '\0') {
			set_err(err, size, "kubernetes.node_name is not set (nor NODE_NAME, "
			    "which a DaemonSet sets from spec.nodeName)");
			return -EINVAL;
		}
		/* In a pod, the files Kubernetes mounts; elsewhere the operator must name them. */
		if (k->ca_file[0] == '\0' && k->server[0] == '\0')
			util_format(k->ca_file, sizeof(k->ca_file), "%s/ca.crt", CONFIG_KUBE_SA_DIR);
		if (k->token_file[0] == '\0' && k->server[0] == '\0')
			util_format(k->token_file, sizeof(k->token_file), "%s/token", CONFIG_KUBE_SA_DIR);
		if (k->ca_file[0] == '\0' || k->token_file[0] == '\0') {
			set_err(err, size, "kubernetes: with a server URL, name its CA file and a "
			    "token file too (ca_file, token_file)");
			return -EINVAL;
		}
	}
	if (c->state_dir[0] == '\0' && (c->ca_dir[0] == '\0' || c->store[0] == '\0')) {
		set_err(err, size, "state_dir is empty");
		return -EINVAL;
	}
	memcpy(ca_dir, c->ca_dir, sizeof(ca_dir));
	memcpy(store, c->store, sizeof(store));
	if (ca_dir[0] == '\0' && util_snprintf(ca_dir, sizeof(ca_dir), "%s/ca", c->state_dir) != 0) {
		set_err(err, size, "state_dir: too long for ca_dir under it");
		return -EINVAL;
	}
	if (store[0] == '\0' &&
	    util_snprintf(store, sizeof(store), "%s/store.mdb", c->state_dir) != 0) {
		set_err(err, size, "state_dir: too long for store under it");
		return -EINVAL;
	}
	/* A peer outside the trust domain can never pass verification. */
	for (size_t i = 0; i < c->n_workloads; i++) {
		const struct workload *w = &c->workloads[i];

		for (size_t j = 0; j < w->n_upstreams; j++) {
			const char *id = w->upstreams[j].expect_id;
			size_t idlen = strlen(id);
			struct spiffe_id sid;

			if (id[0] == '\0')
				continue;
			if (spiffe_id_parse_workload(id, idlen, &sid, NULL) != 0 ||
			    !spiffe_id_in_td(&sid, td, strlen(td))) {
				set_err(err, size, "workloads[%zu].upstreams[%zu].expect_id: "
				    "not a workload ID in trust domain %s", i, j, td);
				return -EINVAL;
			}
		}
	}
	memcpy(c->trust_domain, td, sizeof(td));
	memcpy(c->ca_dir, ca_dir, sizeof(ca_dir));
	memcpy(c->store, store, sizeof(store));
	return 0;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	free(c->workloads);
	c->workloads = NULL;
	c->n_workloads = 0;
}
