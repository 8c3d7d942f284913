/*
 * Unit tests for authd/config.c: the daemon's YAML configuration. Each
 * rejected file must say "line N: KEY: ..." and leave the config exactly as
 * it was; each limit is tried just inside and just outside its bounds.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd/config.h"
#include "wire/connect.h"
#include "tests/unit/test.h"

#define ERR_SIZE 512

/* The example in authd/config.h, verbatim. */
static const char example[] =
    "trust_domain: example.org\n"
    "state_dir: /var/lib/authd          # store.mdb and the CA dir live here by default\n"
    "ca_dir: /var/lib/authd/ca          # root.crt, issuer.crt, issuer.key[.sealed], bundle.pem\n"
    "seal_key: /etc/authd/seal.key      # optional: unseals issuer.key.sealed\n"
    "store: /var/lib/authd/store.mdb\n"
    "admin: 127.0.0.1:15000\n"
    "access_log: stdout                 # or a file path, or \"off\"\n"
    "log_level: info                    # debug | info | warn\n"
    "svid_ttl: 1h\n"
    "limits:\n"
    "  handshake_timeout: 10s\n"
    "  header_timeout: 5s               # CONNECT head, after the handshake\n"
    "  connect_timeout: 5s              # outbound TCP connect and CONNECT response\n"
    "  idle_timeout: 1h\n"
    "  drain_timeout: 30s\n"
    "  max_connections: 10000\n"
    "  max_connections_per_workload: 1000\n"
    "  max_header_bytes: 8192\n"
    "workloads:\n"
    "  - name: web\n"
    "    namespace: shop\n"
    "    service_account: web\n"
    "    listen: 0.0.0.0:15008\n"
    "    apps: [127.0.0.1:8080]\n"
    "    upstreams:\n"
    "      - listen: 127.0.0.1:9000\n"
    "        peer: 10.0.2.2:15008\n"
    "        target: db:5432\n"
    "        expect_id: spiffe://example.org/ns/shop/sa/db\n";

/* One workload, for tests that need a valid one to start from. */
#define WORKLOAD_WEB                                                          \
	"workloads:\n"                                                        \
	"  - name: web\n"                                                     \
	"    namespace: shop\n"                                               \
	"    listen: 0.0.0.0:15008\n"                                         \
	"    apps: [127.0.0.1:8080]\n"

static int
parse(struct config *c, const char *yaml, char *err)
{
	return config_parse((const uint8_t *)yaml, strlen(yaml), c, err, ERR_SIZE);
}

/*
 * yaml must be rejected with -EINVAL, with a message holding every string
 * given (NULL ends the list), and leave a config that holds defaults plus
 * one workload untouched, byte for byte (the workloads pointer included).
 */
static void
check_bad(int line, const char *yaml, ...)
{
	static struct config c, before;
	char err[ERR_SIZE];
	const char *want;
	va_list ap;
	int rc;

	config_defaults(&c);
	if (parse(&c, "trust_domain: example.org\n" WORKLOAD_WEB, err) != 0) {
		fprintf(stderr, "  %s:%d: setup failed: %s\n", __FILE__, line, err);
		test__failed_here = 1;
		return;
	}
	before = c;
	rc = parse(&c, yaml, err);
	if (rc != -EINVAL) {
		fprintf(stderr, "  %s:%d: config_parse returned %d, expected -EINVAL\n", __FILE__,
		    line, rc);
		test__failed_here = 1;
	}
	if (strncmp(err, "line ", 5) != 0) {
		fprintf(stderr, "  %s:%d: message \"%s\" does not start with \"line \"\n",
		    __FILE__, line, err);
		test__failed_here = 1;
	}
	va_start(ap, yaml);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (strstr(err, want) == NULL) {
			fprintf(stderr, "  %s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, line,
			    err, want);
			test__failed_here = 1;
		}
	}
	va_end(ap);
	if (memcmp(&c, &before, sizeof(c)) != 0 || c.n_workloads != 1 ||
	    strcmp(c.workloads[0].name, "web") != 0) {
		fprintf(stderr, "  %s:%d: the config changed on error\n", __FILE__, line);
		test__failed_here = 1;
	}
	config_free(&c);
}

#define EXPECT_BAD(yaml, ...) check_bad(__LINE__, yaml, __VA_ARGS__, (const char *)NULL)

/* The header's example parses to what it says, and config_finish keeps it. */
TEST(header_example)
{
	static struct config c;
	char err[ERR_SIZE];
	const struct workload *w;
	const struct workload_upstream *u;

	config_defaults(&c);
	EXPECT_OK(parse(&c, example, err));
	EXPECT_STR(err, "");
	EXPECT_STR(c.trust_domain, "example.org");
	EXPECT_STR(c.state_dir, "/var/lib/authd");
	EXPECT_STR(c.ca_dir, "/var/lib/authd/ca");
	EXPECT_STR(c.seal_key, "/etc/authd/seal.key");
	EXPECT_STR(c.store, "/var/lib/authd/store.mdb");
	EXPECT_STR(c.admin, "127.0.0.1:15000");
	EXPECT_STR(c.access_log, "stdout");
	EXPECT_EQ(c.log_level, CONFIG_LOG_INFO);
	EXPECT_EQ(c.svid_ttl, 3600);
	EXPECT_EQ(c.limits.handshake_timeout_ms, 10000);
	EXPECT_EQ(c.limits.header_timeout_ms, 5000);
	EXPECT_EQ(c.limits.connect_timeout_ms, 5000);
	EXPECT_EQ(c.limits.idle_timeout_ms, 3600000);
	EXPECT_EQ(c.limits.drain_timeout_ms, 30000);
	EXPECT_EQ(c.limits.max_connections, 10000);
	EXPECT_EQ(c.limits.max_connections_per_workload, 1000);
	EXPECT_EQ(c.limits.max_header_bytes, 8192);
	REQUIRE(c.n_workloads == 1 && c.workloads != NULL);
	w = &c.workloads[0];
	EXPECT_STR(w->name, "web");
	EXPECT_STR(w->ns, "shop");
	EXPECT_STR(w->sa, "web");
	EXPECT_STR(w->listen, "0.0.0.0:15008");
	EXPECT_EQ(w->n_apps, 1);
	EXPECT_STR(w->apps[0], "127.0.0.1:8080");
	REQUIRE(w->n_upstreams == 1);
	u = &w->upstreams[0];
	EXPECT_STR(u->listen, "127.0.0.1:9000");
	EXPECT_STR(u->peer, "10.0.2.2:15008");
	EXPECT_STR(u->target_host, "db");
	EXPECT_EQ(u->target_port, 5432);
	EXPECT_STR(u->expect_id, "spiffe://example.org/ns/shop/sa/db");
	EXPECT_OK(config_finish(&c, err, sizeof(err)));
	EXPECT_STR(c.ca_dir, "/var/lib/authd/ca");
	EXPECT_STR(c.store, "/var/lib/authd/store.mdb");
	config_free(&c);
	EXPECT(c.workloads == NULL && c.n_workloads == 0);
	config_free(&c);
	config_free(NULL);
}

/* Defaults as documented; an empty file or document sets nothing. */
TEST(defaults)
{
	static struct config c, d;
	char err[ERR_SIZE];

	config_defaults(&c);
	EXPECT_STR(c.trust_domain, "");
	EXPECT_STR(c.state_dir, "/var/lib/authd");
	EXPECT_STR(c.ca_dir, "");
	EXPECT_STR(c.seal_key, "");
	EXPECT_STR(c.store, "");
	EXPECT_STR(c.admin, "127.0.0.1:15000");
	EXPECT_STR(c.access_log, "stdout");
	EXPECT_EQ(c.log_level, CONFIG_LOG_INFO);
	EXPECT_EQ(c.svid_ttl, 3600);
	EXPECT_EQ(c.limits.handshake_timeout_ms, 10000);
	EXPECT_EQ(c.limits.header_timeout_ms, 5000);
	EXPECT_EQ(c.limits.connect_timeout_ms, 5000);
	EXPECT_EQ(c.limits.idle_timeout_ms, 3600000);
	EXPECT_EQ(c.limits.drain_timeout_ms, 30000);
	EXPECT_EQ(c.limits.max_connections, 10000);
	EXPECT_EQ(c.limits.max_connections_per_workload, 1000);
	EXPECT_EQ(c.limits.max_header_bytes, CONNECT_HEAD_MAX);
	EXPECT(c.n_workloads == 0 && c.workloads == NULL);

	d = c;
	EXPECT_OK(config_parse(NULL, 0, &c, err, sizeof(err)));
	EXPECT_OK(parse(&c, "# only a comment\n", err));
	EXPECT_OK(parse(&c, "---\n", err));
	EXPECT_OK(parse(&c, "---\n...\n", err));
	EXPECT(memcmp(&c, &d, sizeof(c)) == 0);

	/* Without a trust domain the daemon cannot start. */
	EXPECT_ERR(config_finish(&c, err, sizeof(err)), -EINVAL);
	EXPECT(strstr(err, "trust_domain") != NULL);
	EXPECT(memcmp(&c, &d, sizeof(c)) == 0);

	/* ca_dir and store follow state_dir unless set. */
	EXPECT_OK(parse(&c, "trust_domain: td\nstate_dir: /srv/a\n", err));
	EXPECT_OK(config_finish(&c, err, sizeof(err)));
	EXPECT_STR(c.ca_dir, "/srv/a/ca");
	EXPECT_STR(c.store, "/srv/a/store.mdb");
	config_defaults(&c);
	EXPECT_OK(parse(&c, "trust_domain: td\nstate_dir: /srv/a\nca_dir: /etc/ca\n", err));
	EXPECT_OK(config_finish(&c, err, sizeof(err)));
	EXPECT_STR(c.ca_dir, "/etc/ca");
	EXPECT_STR(c.store, "/srv/a/store.mdb");
	config_free(&c);
}

struct bound_case {
	const char *key;	/* under limits:, or a top-level key when top */
	bool top;
	const char *ok_lo, *ok_hi, *bad_lo, *bad_hi;	/* NULL: no such case */
	uint32_t lo, hi;	/* what ok_lo and ok_hi parse to */
};

static const struct bound_case bounds[] = {
	{ "handshake_timeout", false, "100ms", "5m", "99ms", "300001ms", 100, 300000 },
	{ "header_timeout", false, "100ms", "5m", "99ms", "5m1ms", 100, 300000 },
	{ "connect_timeout", false, "100ms", "300s", "99ms", "5m1ms", 100, 300000 },
	{ "idle_timeout", false, "1s", "7d", "999ms", "7d1ms", 1000, 7 * 86400000u },
	{ "drain_timeout", false, "0", "1h", NULL, "1h1ms", 0, 3600000 },
	{ "drain_timeout", false, "0s", "3600000ms", NULL, "3600001ms", 0, 3600000 },
	{ "max_connections", false, "1", "1000000", "0", "1000001", 1, 1000000 },
	{ "max_connections_per_workload", false, "1", "1000000", "0", "1000001", 1, 1000000 },
	{ "max_header_bytes", false, "256", "8192", "255", "8193", 256, CONNECT_HEAD_MAX },
	{ "svid_ttl", true, "5s", "24h", "4s", "24h1s", 5, 86400 },
	{ "svid_ttl", true, "5s", "1d", "1s", "1d1s", 5, 86400 },
};

static uint32_t
bound_value(const struct config *c, const char *key)
{
	if (strcmp(key, "handshake_timeout") == 0)
		return c->limits.handshake_timeout_ms;
	if (strcmp(key, "header_timeout") == 0)
		return c->limits.header_timeout_ms;
	if (strcmp(key, "connect_timeout") == 0)
		return c->limits.connect_timeout_ms;
	if (strcmp(key, "idle_timeout") == 0)
		return c->limits.idle_timeout_ms;
	if (strcmp(key, "drain_timeout") == 0)
		return c->limits.drain_timeout_ms;
	if (strcmp(key, "max_connections") == 0)
		return c->limits.max_connections;
	if (strcmp(key, "max_connections_per_workload") == 0)
		return c->limits.max_connections_per_workload;
	if (strcmp(key, "max_header_bytes") == 0)
		return c->limits.max_header_bytes;
	return c->svid_ttl;
}

static void
bound_yaml(char *buf, size_t size, const struct bound_case *b, const char *v)
{
	/* A first line, so the value's line is not 1 by accident. */
	if (b->top)
		(void)snprintf(buf, size, "log_level: info\n%s: %s\n", b->key, v);
	else
		(void)snprintf(buf, size, "log_level: info\nlimits:\n  %s: %s\n", b->key, v);
}

/* Each limit: both ends accepted, one step past either end refused, naming key and line. */
TEST(limit_bounds)
{
	static struct config c;
	char yaml[256], err[ERR_SIZE], key[64], line[16];

	for (size_t i = 0; i < AD_ARRAY_LEN(bounds); i++) {
		const struct bound_case *b = &bounds[i];

		config_defaults(&c);
		bound_yaml(yaml, sizeof(yaml), b, b->ok_lo);
		EXPECT_OK(parse(&c, yaml, err));
		EXPECT_EQ(bound_value(&c, b->key), b->lo);
		bound_yaml(yaml, sizeof(yaml), b, b->ok_hi);
		EXPECT_OK(parse(&c, yaml, err));
		EXPECT_EQ(bound_value(&c, b->key), b->hi);

		(void)snprintf(key, sizeof(key), "%s%s: ", b->top ? "" : "limits.", b->key);
		(void)snprintf(line, sizeof(line), "line %d: ", b->top ? 2 : 3);
		if (b->bad_lo != NULL) {
			bound_yaml(yaml, sizeof(yaml), b, b->bad_lo);
			check_bad(__LINE__, yaml, line, key, "out of range", (const char *)NULL);
		}
		bound_yaml(yaml, sizeof(yaml), b, b->bad_hi);
		check_bad(__LINE__, yaml, line, key, "out of range", (const char *)NULL);
	}
	EXPECT_BAD("limits:\n  max_connections: 99999999999\n", "line 2: limits.max_connections: ",
	    "out of range");
	EXPECT_BAD("limits:\n  drain_timeout: -1s\n", "line 2: limits.drain_timeout: ",
	    "not a duration");
}

/* Build "workloads:" with n workloads w0..w(n-1), each with apps apps and ups upstreams. */
static char *
workloads_yaml(size_t n, size_t apps, size_t ups)
{
	size_t size = 200 + n * (120 + apps * 24 + ups * 96), off = 0;
	char *s = malloc(size);

	if (s == NULL)
		return NULL;
	off += (size_t)snprintf(s + off, size - off, "trust_domain: td\nworkloads:\n");
	for (size_t i = 0; i < n; i++) {
		off += (size_t)snprintf(s + off, size - off,
		    "- name: w%zu\n  namespace: ns\n  listen: 0.0.0.0:%zu\n  apps: [", i, 20000 + i);
		for (size_t a = 0; a < apps; a++)
			off += (size_t)snprintf(s + off, size - off, "%s127.0.0.1:%zu",
			    a > 0 ? ", " : "", 8000 + a);
		off += (size_t)snprintf(s + off, size - off, "]\n%s", ups > 0 ? "  upstreams:\n" : "");
		for (size_t u = 0; u < ups; u++)
			off += (size_t)snprintf(s + off, size - off,
			    "  - {listen: '127.0.0.1:%zu', peer: '10.0.0.1:15008', target: 'db:%zu'}\n",
			    9000 + u, 5000 + u);
	}
	return s;
}

/* At most CONFIG_WORKLOADS_MAX workloads, WORKLOAD_APPS_MAX apps, WORKLOAD_UPSTREAMS_MAX upstreams. */
TEST(count_bounds)
{
	static struct config c;
	char err[ERR_SIZE], *y;

	config_defaults(&c);
	y = workloads_yaml(CONFIG_WORKLOADS_MAX, 1, 0);
	REQUIRE(y != NULL);
	EXPECT_OK(parse(&c, y, err));
	REQUIRE(c.n_workloads == CONFIG_WORKLOADS_MAX);
	EXPECT_STR(c.workloads[CONFIG_WORKLOADS_MAX - 1].name, "w255");
	free(y);
	y = workloads_yaml(CONFIG_WORKLOADS_MAX + 1, 1, 0);
	REQUIRE(y != NULL);
	/* Workload i starts on line 3 + 4 * i: each takes four lines here. */
	EXPECT_BAD(y, "line 1027: workloads: more than 256 workloads");
	free(y);

	y = workloads_yaml(1, WORKLOAD_APPS_MAX, WORKLOAD_UPSTREAMS_MAX);
	REQUIRE(y != NULL);
	EXPECT_OK(parse(&c, y, err));
	REQUIRE(c.n_workloads == 1);
	EXPECT_EQ(c.workloads[0].n_apps, WORKLOAD_APPS_MAX);
	EXPECT_EQ(c.workloads[0].n_upstreams, WORKLOAD_UPSTREAMS_MAX);
	EXPECT_STR(c.workloads[0].upstreams[15].target_host, "db");
	EXPECT_EQ(c.workloads[0].upstreams[15].target_port, 5015);
	free(y);
	y = workloads_yaml(1, WORKLOAD_APPS_MAX + 1, 0);
	REQUIRE(y != NULL);
	EXPECT_BAD(y, "line 6: workloads[0].apps: more than 8 apps");
	free(y);
	y = workloads_yaml(1, 1, WORKLOAD_UPSTREAMS_MAX + 1);
	REQUIRE(y != NULL);
	EXPECT_BAD(y, "line 24: workloads[0].upstreams: more than 16 upstreams");
	free(y);

	/* Event loops: 0 (one per CPU) .. CONFIG_WORKERS_MAX. */
	EXPECT_OK(parse(&c, "workers: 0\n", err));
	EXPECT_EQ(c.workers, 0u);
	EXPECT_OK(parse(&c, "workers: 64\n", err));
	EXPECT_EQ(c.workers, 64u);
	EXPECT_BAD("workers: 65\n", "line 1: workers: ");
	EXPECT_BAD("workers: -1\n", "line 1: workers: ");
	EXPECT_EQ(c.workers, 64u);

	/* The store's map: bytes or KiB/MiB/GiB, 1 MiB .. 64 GiB, default the most. */
	EXPECT_EQ(c.store_map_size, 64ull << 30);
	EXPECT_OK(parse(&c, "store_map_size: 2MiB\n", err));
	EXPECT_EQ(c.store_map_size, 2ull << 20);
	EXPECT_OK(parse(&c, "store_map_size: 1048576\n", err));
	EXPECT_EQ(c.store_map_size, 1ull << 20);
	EXPECT_OK(parse(&c, "store_map_size: 64GiB\n", err));
	EXPECT_EQ(c.store_map_size, 64ull << 30);
	EXPECT_BAD("store_map_size: 65GiB\n", "line 1: store_map_size: ", "out of range (1MiB..64GiB)");
	EXPECT_BAD("store_map_size: 1023KiB\n", "out of range");
	EXPECT_BAD("store_map_size: 2MB\n", "'2MB' is not a size");
	EXPECT_BAD("store_map_size: MiB\n", "not a size");
	EXPECT_BAD("store_map_size: 02MiB\n", "not a size");
	EXPECT_BAD("store_map_size: 9999999999999GiB\n", "not a size");
	EXPECT_BAD("store_map_size: [1]\n", "store_map_size: ");
	EXPECT_EQ(c.store_map_size, 64ull << 30);
	config_free(&c);
}

TEST(unknown_key)
{
	EXPECT_BAD("trust_domain: td\ntrust_domian: td\n", "line 2: ", "unknown key 'trust_domian'",
	    "expected trust_domain, state_dir");
	EXPECT_BAD("limits:\n  max_conections: 5\n", "line 2: limits: ",
	    "unknown key 'max_conections'");
	EXPECT_BAD(WORKLOAD_WEB "    port: 80\n", "line 6: workloads[0]: unknown key 'port'");
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  upstreams:\n  - listen: 127.0.0.1:1\n"
	    "    peer: 10.0.0.1:2\n    target: a:1\n    expect: x\n",
	    "line 8: workloads[0].upstreams[0]: unknown key 'expect'");
	/* Keys are case-sensitive, and a non-printable one is quoted safely. */
	EXPECT_BAD("Trust_Domain: td\n", "line 1: unknown key 'Trust_Domain'");
	EXPECT_BAD("\"a\\x01b\": 1\n", "line 1: unknown key 'a\\x01b'");
}

TEST(duplicate_key)
{
	EXPECT_BAD("admin: off\nlog_level: warn\nadmin: 127.0.0.1:1\n", "line 3: admin: appears twice");
	EXPECT_BAD("limits:\n  idle_timeout: 1h\n  idle_timeout: 2h\n",
	    "line 3: limits.idle_timeout: appears twice");
	EXPECT_BAD("limits: {}\nlimits: {}\n", "line 2: limits: appears twice");
	EXPECT_BAD(WORKLOAD_WEB "    name: web2\n", "line 6: workloads[0].name: appears twice");
	/* Quoting does not make a key different. */
	EXPECT_BAD("log_level: info\n'log_level': warn\n", "line 2: log_level: appears twice");
}

TEST(wrong_type)
{
	EXPECT_BAD("trust_domain: [a, b]\n", "line 1: trust_domain: expected a trust domain, found a list");
	EXPECT_BAD("state_dir: {a: b}\n", "line 1: state_dir: expected a directory, found a mapping");
	EXPECT_BAD("limits: 5\n", "line 1: limits: expected a mapping of limits, found a string");
	EXPECT_BAD("limits: [1]\n", "line 1: limits: ", "found a list");
	EXPECT_BAD("workloads: {}\n", "line 1: workloads: expected a list of workloads, found a mapping");
	EXPECT_BAD("workloads: [web]\n", "line 1: workloads[0]: expected a workload mapping, found a string");
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  apps: 127.0.0.1:80\n",
	    "line 4: workloads[0].apps: expected a list of IP:PORT, found a string");
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  apps: [[127.0.0.1:80]]\n",
	    "line 4: workloads[0].apps[0]: expected IP:PORT, found a list");
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  upstreams: [x]\n",
	    "line 4: workloads[0].upstreams[0]: expected a mapping");
	EXPECT_BAD("limits:\n  max_connections: 1e3\n", "line 2: limits.max_connections: ",
	    "not a whole number");
	EXPECT_BAD("limits:\n  max_connections: 0100\n", "not a whole number");
	EXPECT_BAD("limits:\n  max_connections: +100\n", "not a whole number");
	EXPECT_BAD("log_level: verbose\n", "line 1: log_level: 'verbose' is not a level");
	EXPECT_BAD("log_level: INFO\n", "line 1: log_level: ");
	/* An empty value is refused, not taken as the default. */
	EXPECT_BAD("store:\n", "line 1: store: ", "empty value");
	EXPECT_BAD("svid_ttl: ~\n", "line 1: svid_ttl: ", "empty value");
	EXPECT_BAD("state_dir: ''\n", "line 1: state_dir: ", "empty string");
	/* A key must be a string. */
	EXPECT_BAD("[a]: b\n", "line 1: a key must be a string, not a list");
	/* The document is one mapping. */
	EXPECT_BAD("- a\n- b\n", "line 1: the document must be a mapping");
	EXPECT_BAD("hello\n", "line 1: the document must be a mapping");
	EXPECT_BAD("a: b\n---\nc: d\n", "line 1: unknown key 'a'");
	EXPECT_BAD("log_level: info\n---\nlog_level: warn\n", "line 2: only one document is allowed");
	EXPECT_BAD("log_level: info\nstore: a: b\n", "line 2: malformed YAML");
	EXPECT_BAD("log_level: info\nstore: 'a\n", "line 3: malformed YAML");
	EXPECT_BAD("log_level: info\n\tstore: a\n", "line 2: malformed YAML");
	/* NUL and control characters, in the text or as escapes. */
	EXPECT_BAD("state_dir: \"/a\\0b\"\n", "line 1: state_dir: control character at byte 2");
	EXPECT_BAD("access_log: \"/a\\nb\"\n", "line 1: access_log: control character");
}

TEST(alias_anchor_tag)
{
	EXPECT_BAD("state_dir: &d /srv\nstore: *d\n", "line 1: state_dir: anchors are not allowed");
	EXPECT_BAD("log_level: *x\n", "line 1:");
	EXPECT_BAD("limits: &l {}\n", "line 1: limits: anchors are not allowed");
	EXPECT_BAD("svid_ttl: !!str 1h\n", "line 1: svid_ttl: tags are not allowed");
	EXPECT_BAD("workloads:\n- &w {name: a, namespace: b}\n",
	    "line 2: workloads[0]: anchors are not allowed");
	EXPECT_BAD("&k log_level: info\n", "line 1: anchors are not allowed");
}

TEST(trust_domain)
{
	static struct config c;
	char err[ERR_SIZE];

	config_defaults(&c);
	EXPECT_OK(parse(&c, "trust_domain: Example.ORG\n", err));
	EXPECT_STR(c.trust_domain, "example.org");
	EXPECT_BAD("trust_domain: spiffe://example.org\n", "line 1: trust_domain: ",
	    "is not a trust domain");
	EXPECT_BAD("trust_domain: exa mple.org\n", "line 1: trust_domain: ", "at byte 3");
	EXPECT_BAD("trust_domain: example.org:443\n", "line 1: trust_domain: ");
	EXPECT_BAD("trust_domain: ''\n", "line 1: trust_domain: ");

	/* A trust domain given by a flag after parsing is checked and folded too. */
	config_defaults(&c);
	memcpy(c.trust_domain, "TD.Test", 8);
	EXPECT_OK(config_finish(&c, err, sizeof(err)));
	EXPECT_STR(c.trust_domain, "td.test");
	memcpy(c.trust_domain, "a/b", 4);
	EXPECT_ERR(config_finish(&c, err, sizeof(err)), -EINVAL);
	EXPECT(strstr(err, "trust_domain") != NULL);
}

TEST(addresses)
{
	static struct config c;
	char err[ERR_SIZE];

	config_defaults(&c);
	EXPECT_OK(parse(&c, "admin: off\n", err));
	EXPECT_STR(c.admin, "");
	config_defaults(&c);
	EXPECT_OK(parse(&c, "admin: ''\n", err));
	EXPECT_STR(c.admin, "");
	EXPECT_OK(parse(&c, "admin: '[::1]:9901'\n", err));
	EXPECT_STR(c.admin, "[::1]:9901");
	EXPECT_OK(parse(&c, "admin: unix:/run/authd/admin.sock\n", err));
	EXPECT_STR(c.admin, "unix:/run/authd/admin.sock");

	EXPECT_BAD("admin: localhost:15000\n", "line 1: admin: 'localhost:15000' is not an address",
	    "IP");
	EXPECT_BAD("admin: 127.0.0.1\n", "line 1: admin: ", "not an address");
	EXPECT_BAD("admin: 127.0.0.1:0\n", "line 1: admin: ", "port");
	EXPECT_BAD("admin: 127.0.0.1:65536\n", "line 1: admin: ");
	EXPECT_BAD("admin: unix:relative\n", "line 1: admin: ", "absolute");
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  listen: 0.0.0.0:x\n",
	    "line 4: workloads[0].listen: ", "not an address");
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  apps: [127.0.0.1:80, unix:/a]\n",
	    "line 4: workloads[0].apps[1]: ", "not a unix socket");
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  upstreams:\n"
	    "  - {listen: 127.0.0.1:1, peer: unix:/p, target: a:1}\n",
	    "line 5: workloads[0].upstreams[0].peer: ", "not a unix socket");

	/* An admin address set by a flag is checked by config_finish. */
	config_defaults(&c);
	memcpy(c.trust_domain, "td", 3);
	memcpy(c.admin, "nowhere", 8);
	EXPECT_ERR(config_finish(&c, err, sizeof(err)), -EINVAL);
	EXPECT(strstr(err, "admin") != NULL);
}

TEST(access_log)
{
	static struct config c;
	char err[ERR_SIZE];

	config_defaults(&c);
	EXPECT_OK(parse(&c, "access_log: off\n", err));
	EXPECT_STR(c.access_log, "off");
	EXPECT_OK(parse(&c, "access_log: /var/log/authd/access.log\n", err));
	EXPECT_STR(c.access_log, "/var/log/authd/access.log");
	EXPECT_OK(parse(&c, "access_log: ./access.log\n", err));
	EXPECT_OK(parse(&c, "access_log: stdout\n", err));
	EXPECT_STR(c.access_log, "stdout");
	EXPECT_OK(parse(&c, "log_level: debug\n", err));
	EXPECT_EQ(c.log_level, CONFIG_LOG_DEBUG);
	EXPECT_OK(parse(&c, "log_level: warn\n", err));
	EXPECT_EQ(c.log_level, CONFIG_LOG_WARN);
	/* A typo must not quietly become a file in the working directory. */
	EXPECT_BAD("access_log: stderr\n", "line 1: access_log: 'stderr' is not stdout, off or a path");
}

TEST(durations)
{
	static struct config c;
	char err[ERR_SIZE];

	config_defaults(&c);
	EXPECT_OK(parse(&c, "limits:\n  handshake_timeout: 1m30s\n  header_timeout: 1s500ms\n", err));
	EXPECT_EQ(c.limits.handshake_timeout_ms, 90000);
	EXPECT_EQ(c.limits.header_timeout_ms, 1500);
	EXPECT_OK(parse(&c, "svid_ttl: 1h30m\n", err));
	EXPECT_EQ(c.svid_ttl, 5400);

	EXPECT_BAD("limits:\n  idle_timeout: 10\n", "line 2: limits.idle_timeout: '10' is not a duration");
	EXPECT_BAD("limits:\n  idle_timeout: 10 s\n", "line 2: limits.idle_timeout: ", "not a duration");
	EXPECT_BAD("limits:\n  idle_timeout: 1.5h\n", "not a duration");
	EXPECT_BAD("limits:\n  idle_timeout: ten\n", "not a duration");
	EXPECT_BAD("limits:\n  idle_timeout: 0s\n", "line 2: limits.idle_timeout: ", "out of range");
	EXPECT_BAD("limits:\n  idle_timeout: 99999999999999999999999999999999999s\n",
	    "not a duration");
	EXPECT_BAD("limits:\n  idle_timeout: 9999999999999d\n", "out of range");
	/* svid_ttl is whole seconds. */
	EXPECT_BAD("svid_ttl: 90000ms\n", "line 1: svid_ttl: ", "not a duration");
	EXPECT_BAD("svid_ttl: 3600\n", "line 1: svid_ttl: ", "not a duration");
}

TEST(workloads)
{
	static struct config c;
	char err[ERR_SIZE];
	const struct workload_upstream *u;

	config_defaults(&c);
	EXPECT_OK(parse(&c,
	    "workloads:\n"
	    "- name: db\n"
	    "  namespace: shop\n"
	    "  service_account: postgres\n"
	    "  listen: '[::]:15008'\n"
	    "  apps: ['[::1]:5432', 127.0.0.1:5433]\n"
	    "- name: web\n"
	    "  namespace: shop\n"
	    "  upstreams:\n"
	    "  - listen: unix:/run/authd/db.sock\n"
	    "    peer: '[fd00::2]:15008'\n"
	    "    target: '[fd00::2]:5432'\n"
	    "  - listen: 127.0.0.1:9001\n"
	    "    peer: 10.0.0.2:15008\n"
	    "    target: db.shop.svc:5432\n", err));
	EXPECT_STR(err, "");
	REQUIRE(c.n_workloads == 2);
	EXPECT_STR(c.workloads[0].sa, "postgres");
	EXPECT_EQ(c.workloads[0].n_apps, 2);
	EXPECT_STR(c.workloads[0].apps[0], "[::1]:5432");
	EXPECT_STR(c.workloads[1].sa, "web");		/* defaults to the name */
	EXPECT_STR(c.workloads[1].listen, "");
	EXPECT_EQ(c.workloads[1].n_apps, 0);
	REQUIRE(c.workloads[1].n_upstreams == 2);
	u = &c.workloads[1].upstreams[0];
	EXPECT_STR(u->listen, "unix:/run/authd/db.sock");
	EXPECT_STR(u->target_host, "fd00::2");
	EXPECT_EQ(u->target_port, 5432);
	EXPECT_STR(u->expect_id, "");
	EXPECT_STR(c.workloads[1].upstreams[1].target_host, "db.shop.svc");

	/* A second file's workloads replace the first's (ASan sees the old array freed). */
	EXPECT_OK(parse(&c, WORKLOAD_WEB, err));
	EXPECT_EQ(c.n_workloads, 1);
	/* A file without workloads keeps the ones there. */
	EXPECT_OK(parse(&c, "log_level: warn\n", err));
	EXPECT_EQ(c.n_workloads, 1);
	/* An empty list clears them. */
	EXPECT_OK(parse(&c, "workloads: []\n", err));
	EXPECT(c.n_workloads == 0 && c.workloads == NULL);
	config_free(&c);
}

TEST(bad_workloads)
{
	EXPECT_BAD("workloads:\n- namespace: shop\n", "line 2: workloads[0]: 'name' is missing");
	EXPECT_BAD("workloads:\n- name: web\n", "line 2: workloads[0]: 'namespace' is missing");
	EXPECT_BAD("workloads:\n- {}\n", "line 2: workloads[0]: 'name' is missing");
	EXPECT_BAD("workloads:\n- name: ''\n  namespace: a\n", "line 2: workloads[0].name: ",
	    "empty string");
	/* workload_validate: names are DNS labels. */
	EXPECT_BAD("workloads:\n- name: Web\n  namespace: shop\n", "line 2: workloads[0]: ",
	    "name");
	EXPECT_BAD("workloads:\n- name: web\n  namespace: shop\n  service_account: a_b\n",
	    "line 2: workloads[0]: ", "service account");
	EXPECT_BAD("workloads:\n- name: web\n  namespace: shop\n"
	    "  service_account: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	    "line 4: workloads[0].service_account: too long");
	EXPECT_BAD("workloads:\n- name: web\n  namespace: shop\n  upstreams:\n"
	    "  - {listen: 127.0.0.1:1, peer: 10.0.0.1:2, target: a:1, expect_id: 'spiffe://td'}\n",
	    "line 2: workloads[0]: ", "expected ID");
	/* Duplicate NS/NAME, even with another service account. */
	EXPECT_BAD(WORKLOAD_WEB "  - name: db\n    namespace: shop\n"
	    "  - name: web\n    namespace: shop\n    service_account: other\n",
	    "line 8: workloads[2]: workload shop/web is already declared (workloads[0])");
	/* The same name in another namespace is another workload. */
	{
		static struct config c;
		char err[ERR_SIZE];

		config_defaults(&c);
		EXPECT_OK(parse(&c, WORKLOAD_WEB "  - name: web\n    namespace: shop2\n", err));
		EXPECT_EQ(c.n_workloads, 2);
		config_free(&c);
	}
	/* Upstreams: every field but expect_id is required. */
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  upstreams:\n"
	    "  - {listen: 127.0.0.1:1, peer: 10.0.0.1:2}\n",
	    "line 5: workloads[0].upstreams[0]: 'target' is missing");
	EXPECT_BAD("workloads:\n- name: a\n  namespace: b\n  upstreams:\n"
	    "  - {peer: 10.0.0.1:2, target: a:1}\n",
	    "line 5: workloads[0].upstreams[0]: 'listen' is missing");
}

TEST(targets)
{
	static const char *const bad[] = {
		"db", "db:", ":5432", "db:0", "db:05432", "db:65536", "db:-1", "db:54x",
		"::1:5432", "[::1]5432", "[::1]", "[]:80", "[db]:80", "[::1:80",
	};
	char yaml[256];

	for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
		(void)snprintf(yaml, sizeof(yaml), "workloads:\n- name: a\n  namespace: b\n"
		    "  upstreams:\n  - listen: 127.0.0.1:1\n    peer: 10.0.0.1:2\n    target: '%s'\n",
		    bad[i]);
		check_bad(__LINE__, yaml, "line 7: workloads[0].upstreams[0].target: ",
		    "is not a target", (const char *)NULL);
	}
}

/* config_finish: an expected peer ID must be in the trust domain, or no peer can prove it. */
TEST(finish_expect_id)
{
	static struct config c;
	char err[ERR_SIZE];

	config_defaults(&c);
	EXPECT_OK(parse(&c, example, err));
	memcpy(c.trust_domain, "other.org", 10);
	EXPECT_ERR(config_finish(&c, err, sizeof(err)), -EINVAL);
	EXPECT(strstr(err, "workloads[0].upstreams[0].expect_id") != NULL);
	memcpy(c.trust_domain, "EXAMPLE.org", 12);
	EXPECT_OK(config_finish(&c, err, sizeof(err)));
	config_free(&c);
}

/* The whole struct, workloads pointer and all, survives a failed parse. */
TEST(unchanged_on_error)
{
	static struct config c, before;
	char err[ERR_SIZE];
	struct workload *ws;

	config_defaults(&c);
	REQUIRE(parse(&c, example, err) == 0);
	before = c;
	ws = c.workloads;
	/* Fails late: after settings, limits and one good workload were read. */
	EXPECT_ERR(parse(&c, "trust_domain: other.org\nsvid_ttl: 2h\nlimits:\n"
	    "  max_connections: 5\n" WORKLOAD_WEB "  - name: x\n    namespace: y\n    listen: z\n",
	    err), -EINVAL);
	EXPECT(strstr(err, "line 12: workloads[1].listen: ") != NULL);
	EXPECT(memcmp(&c, &before, sizeof(c)) == 0);
	EXPECT(c.workloads == ws);
	EXPECT_STR(c.workloads[0].upstreams[0].target_host, "db");
	/* Bad arguments change nothing either. */
	EXPECT_ERR(config_parse(NULL, 5, &c, err, sizeof(err)), -EINVAL);
	EXPECT_ERR(config_parse((const uint8_t *)"a", 1, NULL, err, sizeof(err)), -EINVAL);
	EXPECT_ERR(config_parse((const uint8_t *)"x", CONFIG_FILE_MAX + 1, &c, err, sizeof(err)),
	    -EINVAL);
	EXPECT(memcmp(&c, &before, sizeof(c)) == 0);
	/* No err buffer is fine. */
	EXPECT_ERR(config_parse((const uint8_t *)"x: 1", 4, &c, NULL, 0), -EINVAL);
	EXPECT(memcmp(&c, &before, sizeof(c)) == 0);
	config_free(&c);
}

/* A message always fits and ends: a tiny buffer gets a NUL-terminated prefix. */
TEST(small_err_buffer)
{
	static struct config c;
	char err[8];

	config_defaults(&c);
	memset(err, 'x', sizeof(err));
	EXPECT_ERR(config_parse((const uint8_t *)"bogus: 1", 8, &c, err, sizeof(err)), -EINVAL);
	EXPECT_STR(err, "line 1:");
}

static int
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

TEST(load)
{
	static struct config c, before;
	char dir[] = "/tmp/config_test.XXXXXX", path[256], err[ERR_SIZE];
	char *big;

	REQUIRE(mkdtemp(dir) != NULL);
	config_defaults(&c);
	before = c;

	(void)snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	EXPECT_ERR(config_load(path, &c, err, sizeof(err)), -ENOENT);
	EXPECT(strstr(err, "missing.yaml") != NULL);
	EXPECT(memcmp(&c, &before, sizeof(c)) == 0);

	(void)snprintf(path, sizeof(path), "%s/big.yaml", dir);
	big = malloc(CONFIG_FILE_MAX + 1);
	REQUIRE(big != NULL);
	memset(big, '#', CONFIG_FILE_MAX + 1);
	REQUIRE(write_file(path, big, CONFIG_FILE_MAX + 1) == 0);
	EXPECT_ERR(config_load(path, &c, err, sizeof(err)), -EFBIG);
	EXPECT(strstr(err, "larger than") != NULL);
	EXPECT(memcmp(&c, &before, sizeof(c)) == 0);
	/* Exactly CONFIG_FILE_MAX bytes (a comment) is accepted. */
	REQUIRE(write_file(path, big, CONFIG_FILE_MAX) == 0);
	EXPECT_OK(config_load(path, &c, err, sizeof(err)));
	free(big);

	(void)snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	REQUIRE(write_file(path, "log_level: info\nsvid_ttl: 1s\n", 28) == 0);
	EXPECT_ERR(config_load(path, &c, err, sizeof(err)), -EINVAL);
	/* The file is named in front of the line. */
	EXPECT(strncmp(err, path, strlen(path)) == 0);
	EXPECT(strstr(err, ": line 2: svid_ttl: ") != NULL);
	EXPECT(memcmp(&c, &before, sizeof(c)) == 0);

	(void)snprintf(path, sizeof(path), "%s/good.yaml", dir);
	REQUIRE(write_file(path, example, strlen(example)) == 0);
	EXPECT_OK(config_load(path, &c, err, sizeof(err)));
	EXPECT_STR(c.trust_domain, "example.org");
	EXPECT_EQ(c.n_workloads, 1);

	/* A directory is not a file. */
	EXPECT(config_load(dir, &c, err, sizeof(err)) < 0);
	EXPECT_EQ(c.n_workloads, 1);
	config_free(&c);
	EXPECT_OK(test_rm_tree(dir));
}

TEST_MAIN(header_example, defaults, limit_bounds, count_bounds, unknown_key, duplicate_key, wrong_type,
    alias_anchor_tag, trust_domain, addresses, access_log, durations, workloads, bad_workloads,
    targets, finish_expect_id, unchanged_on_error, small_err_buffer, load)
