/*
 * Unit tests for the daemon's metrics (authd/metrics.c): the exact text of
 * a small scenario (so the exposition format is pinned down), families
 * present when empty, overflow into the "other" series, long and hostile
 * label values, SVID expiry removal and negative values, and bad arguments
 * that change nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd/metrics.h"
#include "common/strbuf.h"
#include "tests/unit/test.h"

#define RENDER_MAX (4u * 1024 * 1024)

/* Every family's HELP and TYPE, and the series always present. */
/* The store and access-log series: used and map bytes, lines lost. */
#define STORE_TEXT(used, map, lost)					\
	"# HELP authd_store_bytes The LMDB store: bytes its data reaches (used) and the map it may fill (map, store_map_size).\n" \
	"# TYPE authd_store_bytes gauge\n"					\
	"authd_store_bytes{kind=\"used\"} " used "\n"			\
	"authd_store_bytes{kind=\"map\"} " map "\n"			\
	"# HELP authd_access_log_lost_total Access-log lines lost to failed writes (a full disk).\n" \
	"# TYPE authd_access_log_lost_total counter\n"			\
	"authd_access_log_lost_total " lost "\n"

/* The last reload's result and the refused workloads. */
#define RELOAD_TEXT(ok, refused)					\
	"# HELP authd_config_last_reload_successful 0 when the last SIGHUP reload failed (the running configuration was kept), else 1.\n" \
	"# TYPE authd_config_last_reload_successful gauge\n"		\
	"authd_config_last_reload_successful " ok "\n"			\
	"# HELP authd_workloads_refused Workloads of the config file or the registry that are not served; /readyz and /workloads say why.\n" \
	"# TYPE authd_workloads_refused gauge\n"			\
	"authd_workloads_refused " refused "\n"

#define EMPTY_TEXT							\
	"# HELP authd_connections_total Connections that reached a decision, by decision and reason.\n" \
	"# TYPE authd_connections_total counter\n"			\
	"# HELP authd_handshake_failures_total TLS handshakes that failed, by reason.\n" \
	"# TYPE authd_handshake_failures_total counter\n"		\
	"# HELP authd_tls_errors_total TLS sessions that failed after the handshake, by reason.\n" \
	"# TYPE authd_tls_errors_total counter\n"			\
	"# HELP authd_limit_hits_total Connections a configured limit stopped, by limit.\n" \
	"# TYPE authd_limit_hits_total counter\n"			\
	"# HELP authd_bad_requests_total Malformed CONNECT heads, by reason.\n" \
	"# TYPE authd_bad_requests_total counter\n"			\
	"# HELP authd_svid_issued_total Workload SVID issuance attempts, by result.\n" \
	"# TYPE authd_svid_issued_total counter\n"			\
	"# HELP authd_config_reloads_total SIGHUP reloads of the config file, by result.\n" \
	"# TYPE authd_config_reloads_total counter\n"			\
	"# HELP authd_kube_requests_total Requests to the Kubernetes API server, by resource and HTTP status (\"error\": no response).\n" \
	"# TYPE authd_kube_requests_total counter\n"			\
	"# HELP authd_kube_relists_total Full LISTs of a resource, by why: the first, a watch too old to resume, an error.\n" \
	"# TYPE authd_kube_relists_total counter\n"			\
	"# HELP authd_kube_watch_events_total Watch events received, by resource and type.\n" \
	"# TYPE authd_kube_watch_events_total counter\n"		\
	"# HELP authd_bytes_total Bytes proxied; rx from the peer or app into authd, tx out of authd.\n" \
	"# TYPE authd_bytes_total counter\n"				\
	"authd_bytes_total{direction=\"inbound\",way=\"rx\"} 0\n"	\
	"authd_bytes_total{direction=\"inbound\",way=\"tx\"} 0\n"	\
	"authd_bytes_total{direction=\"outbound\",way=\"rx\"} 0\n"	\
	"authd_bytes_total{direction=\"outbound\",way=\"tx\"} 0\n"	\
	"# HELP authd_active_connections Connections open now.\n"	\
	"# TYPE authd_active_connections gauge\n"			\
	"authd_active_connections{direction=\"inbound\"} 0\n"		\
	"authd_active_connections{direction=\"outbound\"} 0\n"		\
	"# HELP authd_svid_expiry_seconds Seconds until each workload's SVID expires; negative once expired.\n" \
	"# TYPE authd_svid_expiry_seconds gauge\n"			\
	"# HELP authd_policy_revision Revision of the policy store in use.\n" \
	"# TYPE authd_policy_revision gauge\n"				\
	"authd_policy_revision 0\n"					\
	"# HELP authd_registry_revision Revision of the workload registry in use.\n" \
	"# TYPE authd_registry_revision gauge\n"			\
	"authd_registry_revision 0\n"					\
	"# HELP authd_ready 1 when /readyz answers 200.\n"		\
	"# TYPE authd_ready gauge\n"					\
	"authd_ready 0\n"						\
	"# HELP authd_draining 1 while shutting down.\n"		\
	"# TYPE authd_draining gauge\n"					\
	"authd_draining 0\n"						\
	RELOAD_TEXT("1", "0")						\
	STORE_TEXT("0", "0", "0")

/* Render m at now into a fresh heap string the caller frees. */
static char *
render(const struct metrics *m, int64_t now)
{
	struct strbuf sb;
	char *s;

	strbuf_init(&sb, RENDER_MAX);
	metrics_render(m, now, &sb);
	if (sb.failed || sb.p == NULL) {
		strbuf_free(&sb);
		return NULL;
	}
	s = sb.p;	/* the buffer's allocation is the string */
	return s;
}

/* The lines of text that start with prefix, concatenated. */
static char *
grep(const char *text, const char *prefix)
{
	static char out[64 * 1024];
	size_t k = 0, pn = strlen(prefix);

	out[0] = '\0';
	for (const char *l = text; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n');
		size_t n = nl != NULL ? (size_t)(nl - l) + 1 : strlen(l);

		if (strncmp(l, prefix, pn) == 0 && k + n < sizeof(out)) {
			memcpy(out + k, l, n);
			k += n;
			out[k] = '\0';
		}
		l = nl != NULL ? nl + 1 : NULL;
	}
	return out;
}

static size_t
count_lines(const char *text, const char *prefix)
{
	size_t n = 0;
	const char *g = grep(text, prefix);

	for (const char *q = g; *q != '\0'; q++)
		n += *q == '\n';
	return n;
}

TEST(test_empty)
{
	struct metrics *m = NULL;
	char *text;

	EXPECT_ERR(metrics_new(NULL), -EINVAL);
	REQUIRE(metrics_new(&m) == 0);
	text = render(m, 1000);
	REQUIRE(text != NULL);
	EXPECT_STR(text, EMPTY_TEXT);
	free(text);
	metrics_free(m);
	metrics_free(NULL);
}

TEST(test_scenario)
{
	static const char want[] =
	    "# HELP authd_connections_total Connections that reached a decision, by decision and reason.\n"
	    "# TYPE authd_connections_total counter\n"
	    "authd_connections_total{direction=\"inbound\",decision=\"allow\",reason=\"rule\"} 3\n"
	    "authd_connections_total{direction=\"inbound\",decision=\"deny\",reason=\"no-rule\"} 1\n"
	    "authd_connections_total{direction=\"outbound\",decision=\"allow\",reason=\"rule\"} 2\n"
	    "# HELP authd_handshake_failures_total TLS handshakes that failed, by reason.\n"
	    "# TYPE authd_handshake_failures_total counter\n"
	    "authd_handshake_failures_total{direction=\"inbound\",reason=\"expired\"} 1\n"
	    "# HELP authd_tls_errors_total TLS sessions that failed after the handshake, by reason.\n"
	    "# TYPE authd_tls_errors_total counter\n"
	    "# HELP authd_limit_hits_total Connections a configured limit stopped, by limit.\n"
	    "# TYPE authd_limit_hits_total counter\n"
	    "authd_limit_hits_total{direction=\"outbound\",limit=\"connect_timeout\"} 4\n"
	    "# HELP authd_bad_requests_total Malformed CONNECT heads, by reason.\n"
	    "# TYPE authd_bad_requests_total counter\n"
	    "authd_bad_requests_total{direction=\"inbound\",reason=\"syntax\"} 1\n"
	    "authd_bad_requests_total{direction=\"inbound\",reason=\"too-big\"} 2\n"
	    "# HELP authd_svid_issued_total Workload SVID issuance attempts, by result.\n"
	    "# TYPE authd_svid_issued_total counter\n"
	    "authd_svid_issued_total{result=\"failed\"} 1\n"
	    "authd_svid_issued_total{result=\"ok\"} 3\n"
	    "# HELP authd_config_reloads_total SIGHUP reloads of the config file, by result.\n"
	    "# TYPE authd_config_reloads_total counter\n"
	    "authd_config_reloads_total{result=\"failed\"} 2\n"
	    "authd_config_reloads_total{result=\"ok\"} 1\n"
	    "# HELP authd_kube_requests_total Requests to the Kubernetes API server, by resource and HTTP status (\"error\": no response).\n"
	    "# TYPE authd_kube_requests_total counter\n"
	    "# HELP authd_kube_relists_total Full LISTs of a resource, by why: the first, a watch too old to resume, an error.\n"
	    "# TYPE authd_kube_relists_total counter\n"
	    "# HELP authd_kube_watch_events_total Watch events received, by resource and type.\n"
	    "# TYPE authd_kube_watch_events_total counter\n"
	    "# HELP authd_bytes_total Bytes proxied; rx from the peer or app into authd, tx out of authd.\n"
	    "# TYPE authd_bytes_total counter\n"
	    "authd_bytes_total{direction=\"inbound\",way=\"rx\"} 1500\n"
	    "authd_bytes_total{direction=\"inbound\",way=\"tx\"} 20\n"
	    "authd_bytes_total{direction=\"outbound\",way=\"rx\"} 0\n"
	    "authd_bytes_total{direction=\"outbound\",way=\"tx\"} 18446744073709551615\n"
	    "# HELP authd_active_connections Connections open now.\n"
	    "# TYPE authd_active_connections gauge\n"
	    "authd_active_connections{direction=\"inbound\"} 1\n"
	    "authd_active_connections{direction=\"outbound\"} 0\n"
	    "# HELP authd_svid_expiry_seconds Seconds until each workload's SVID expires; negative once expired.\n"
	    "# TYPE authd_svid_expiry_seconds gauge\n"
	    "authd_svid_expiry_seconds{workload=\"demo/backend\"} -5\n"
	    "authd_svid_expiry_seconds{workload=\"demo/frontend\"} 3600\n"
	    "# HELP authd_policy_revision Revision of the policy store in use.\n"
	    "# TYPE authd_policy_revision gauge\n"
	    "authd_policy_revision 42\n"
	    "# HELP authd_registry_revision Revision of the workload registry in use.\n"
	    "# TYPE authd_registry_revision gauge\n"
	    "authd_registry_revision 7\n"
	    "# HELP authd_ready 1 when /readyz answers 200.\n"
	    "# TYPE authd_ready gauge\n"
	    "authd_ready 1\n"
	    "# HELP authd_draining 1 while shutting down.\n"
	    "# TYPE authd_draining gauge\n"
	    "authd_draining 0\n"
	    RELOAD_TEXT("0", "2")
	    STORE_TEXT("65536", "1048576", "3");
	struct metrics *m = NULL;
	char reason[16];
	char *text;

	REQUIRE(metrics_new(&m) == 0);
	/* Inserted out of order, counted in several steps. */
	metrics_count(m, METRICS_CONNECTIONS, METRICS_OUTBOUND, "allow", "rule", 2);
	metrics_count(m, METRICS_CONNECTIONS, METRICS_INBOUND, "deny", "no-rule", 1);
	metrics_count(m, METRICS_CONNECTIONS, METRICS_INBOUND, "allow", "rule", 1);
	/* A copy in a buffer that changes afterwards: the value is copied. */
	memcpy(reason, "rule", 5);
	metrics_count(m, METRICS_CONNECTIONS, METRICS_INBOUND, "allow", reason, 2);
	memcpy(reason, "XXXX", 5);
	metrics_count(m, METRICS_HANDSHAKE_FAILURES, METRICS_INBOUND, "expired", "ignored", 1);
	metrics_count(m, METRICS_LIMITS, METRICS_OUTBOUND, "connect_timeout", NULL, 4);
	metrics_count(m, METRICS_BAD_REQUESTS, METRICS_INBOUND, "too-big", NULL, 2);
	metrics_count(m, METRICS_BAD_REQUESTS, METRICS_INBOUND, "syntax", NULL, 1);
	/* No direction label: both directions count together. */
	metrics_count(m, METRICS_SVID_ISSUED, METRICS_INBOUND, "ok", NULL, 2);
	/* A reload that worked, then two that failed: the gauge says the last one failed. */
	metrics_reload(m, 1);
	metrics_reload(m, 0);
	metrics_reload(m, 0);
	metrics_refused(m, 2);
	metrics_count(m, METRICS_SVID_ISSUED, METRICS_OUTBOUND, "ok", NULL, 1);
	metrics_count(m, METRICS_SVID_ISSUED, METRICS_INBOUND, "failed", NULL, 1);
	metrics_bytes(m, METRICS_INBOUND, 1000, 20);
	metrics_bytes(m, METRICS_INBOUND, 500, 0);
	metrics_bytes(m, METRICS_OUTBOUND, 0, UINT64_MAX);
	metrics_active(m, METRICS_INBOUND, 1);
	metrics_active(m, METRICS_INBOUND, 1);
	metrics_active(m, METRICS_INBOUND, -1);
	metrics_active(m, METRICS_OUTBOUND, 1);
	metrics_active(m, METRICS_OUTBOUND, -1);
	metrics_store(m, 65536, 1048576);
	metrics_access_log_errors(m, 3);
	metrics_svid(m, "demo/frontend", 10000 + 3600);
	metrics_svid(m, "demo/backend", 10000 - 5);
	metrics_svid(m, "demo/gone", 10000 + 60);
	metrics_svid(m, "demo/gone", 0);	/* removed */
	metrics_svid(m, "demo/never", 0);	/* nothing to remove */
	metrics_revisions(m, 42, 7);
	metrics_state(m, 1, 0);

	text = render(m, 10000);
	REQUIRE(text != NULL);
	EXPECT_STR(text, want);
	free(text);

	/* Rendering is pure: twice gives the same text. */
	text = render(m, 10000);
	REQUIRE(text != NULL);
	EXPECT_STR(text, want);
	free(text);
	metrics_free(m);
}

TEST(test_escaping)
{
	struct metrics *m = NULL;
	char *text;

	REQUIRE(metrics_new(&m) == 0);
	metrics_count(m, METRICS_HANDSHAKE_FAILURES, METRICS_INBOUND, "a\"b\\c\nd", NULL, 1);
	metrics_count(m, METRICS_CONNECTIONS, METRICS_INBOUND, "deny", "} 99\nfake 1", 1);
	metrics_count(m, METRICS_BAD_REQUESTS, METRICS_OUTBOUND, "bad\xff", NULL, 1);
	metrics_svid(m, "ns/\"quoted\"", 100);
	text = render(m, 0);
	REQUIRE(text != NULL);
	EXPECT_STR(grep(text, "authd_handshake_failures_total{"),
	    "authd_handshake_failures_total{direction=\"inbound\",reason=\"a\\\"b\\\\c\\nd\"} 1\n");
	EXPECT_STR(grep(text, "authd_connections_total{"),
	    "authd_connections_total{direction=\"inbound\",decision=\"deny\","
	    "reason=\"} 99\\nfake 1\"} 1\n");
	EXPECT_STR(grep(text, "authd_bad_requests_total{"),
	    "authd_bad_requests_total{direction=\"outbound\",reason=\"bad\xef\xbf\xbd\"} 1\n");
	EXPECT_STR(grep(text, "authd_svid_expiry_seconds{"),
	    "authd_svid_expiry_seconds{workload=\"ns/\\\"quoted\\\"\"} 100\n");
	EXPECT_STR(grep(text, "fake"), "");
	free(text);
	metrics_free(m);
}

TEST(test_long_labels)
{
	char l64[65], l65[66], w[200];
	struct metrics *m = NULL;
	char want[256];
	char *text;

	REQUIRE(metrics_new(&m) == 0);
	memset(l64, 'a', 64);
	l64[64] = '\0';
	memset(l65, 'b', 65);
	l65[65] = '\0';
	memset(w, 'c', sizeof(w) - 1);
	w[sizeof(w) - 1] = '\0';
	metrics_count(m, METRICS_LIMITS, METRICS_INBOUND, l64, NULL, 1);
	metrics_count(m, METRICS_LIMITS, METRICS_INBOUND, l65, NULL, 2);
	metrics_count(m, METRICS_CONNECTIONS, METRICS_INBOUND, "deny", l65, 3);
	metrics_count(m, METRICS_CONNECTIONS, METRICS_INBOUND, NULL, NULL, 1);
	metrics_svid(m, w, 50);
	text = render(m, 0);
	REQUIRE(text != NULL);
	(void)snprintf(want, sizeof(want),
	    "authd_limit_hits_total{direction=\"inbound\",limit=\"%s\"} 1\n"
	    "authd_limit_hits_total{direction=\"inbound\",limit=\"other\"} 2\n", l64);
	EXPECT_STR(grep(text, "authd_limit_hits_total{"), want);
	EXPECT_STR(grep(text, "authd_connections_total{"),
	    "authd_connections_total{direction=\"inbound\",decision=\"\",reason=\"\"} 1\n"
	    "authd_connections_total{direction=\"inbound\",decision=\"deny\",reason=\"other\"} 3\n");
	EXPECT_STR(grep(text, "authd_svid_expiry_seconds{"),
	    "authd_svid_expiry_seconds{workload=\"other\"} 50\n");
	free(text);
	metrics_free(m);
}

TEST(test_overflow)
{
	struct metrics *m = NULL;
	char name[32];
	char *text;

	REQUIRE(metrics_new(&m) == 0);
	/* 300 reasons in each direction: far more than a family holds. */
	for (int i = 0; i < 300; i++) {
		(void)snprintf(name, sizeof(name), "r%03d", i);
		metrics_count(m, METRICS_CONNECTIONS, METRICS_INBOUND, "deny", name, 1);
		metrics_count(m, METRICS_CONNECTIONS, METRICS_OUTBOUND, "deny", name, 10);
		metrics_count(m, METRICS_SVID_ISSUED, METRICS_INBOUND, name, NULL, 1);
	}
	/* A known series still counts where it is. */
	metrics_count(m, METRICS_CONNECTIONS, METRICS_INBOUND, "deny", "r000", 5);
	text = render(m, 0);
	REQUIRE(text != NULL);
	EXPECT_EQ(count_lines(text, "authd_connections_total{"), METRICS_SERIES_MAX);
	/* 254 ordinary series were filled in the order of arrival: r000..r126 twice. */
	EXPECT_EQ(count_lines(text, "authd_connections_total{direction=\"inbound\",decision=\"deny\",reason=\"r"),
	    127);
	EXPECT_EQ(count_lines(text, "authd_connections_total{direction=\"outbound\",decision=\"deny\",reason=\"r"),
	    127);
	EXPECT_STR(grep(text, "authd_connections_total{direction=\"inbound\",decision=\"deny\",reason=\"r000\"}"),
	    "authd_connections_total{direction=\"inbound\",decision=\"deny\",reason=\"r000\"} 6\n");
	EXPECT_STR(grep(text, "authd_connections_total{direction=\"inbound\",decision=\"other\""),
	    "authd_connections_total{direction=\"inbound\",decision=\"other\",reason=\"other\"} 173\n");
	EXPECT_STR(grep(text, "authd_connections_total{direction=\"outbound\",decision=\"other\""),
	    "authd_connections_total{direction=\"outbound\",decision=\"other\",reason=\"other\"} 1730\n");
	/* One label, no direction: 254 ordinary series and "other". */
	EXPECT_EQ(count_lines(text, "authd_svid_issued_total{"), 255);
	EXPECT_STR(grep(text, "authd_svid_issued_total{result=\"other\"}"),
	    "authd_svid_issued_total{result=\"other\"} 46\n");
	free(text);
	metrics_free(m);
}

TEST(test_svid_overflow)
{
	struct metrics *m = NULL;
	char name[32];
	char *text;

	REQUIRE(metrics_new(&m) == 0);
	for (int i = 0; i < 300; i++) {
		(void)snprintf(name, sizeof(name), "ns/w%03d", i);
		metrics_svid(m, name, 1000 + i);
	}
	text = render(m, 1000);
	REQUIRE(text != NULL);
	EXPECT_EQ(count_lines(text, "authd_svid_expiry_seconds{"), METRICS_SERIES_MAX);
	EXPECT_STR(grep(text, "authd_svid_expiry_seconds{workload=\"other\"}"),
	    "authd_svid_expiry_seconds{workload=\"other\"} 299\n");
	EXPECT_STR(grep(text, "authd_svid_expiry_seconds{workload=\"ns/w000\"}"),
	    "authd_svid_expiry_seconds{workload=\"ns/w000\"} 0\n");
	free(text);

	/* Removing a tracked workload frees its series for a new one. */
	metrics_svid(m, "ns/w000", 0);
	metrics_svid(m, "ns/new", 2000);
	text = render(m, 1000);
	REQUIRE(text != NULL);
	EXPECT_EQ(count_lines(text, "authd_svid_expiry_seconds{"), METRICS_SERIES_MAX);
	EXPECT_STR(grep(text, "authd_svid_expiry_seconds{workload=\"ns/w000\"}"), "");
	EXPECT_STR(grep(text, "authd_svid_expiry_seconds{workload=\"ns/new\"}"),
	    "authd_svid_expiry_seconds{workload=\"ns/new\"} 1000\n");
	free(text);
	metrics_free(m);
}

TEST(test_bad_args)
{
	struct metrics *m = NULL;
	struct strbuf sb;
	char *text;

	REQUIRE(metrics_new(&m) == 0);
	/* Out-of-range enums and NULLs change nothing. */
	metrics_count(m, METRICS_COUNTER_COUNT_, METRICS_INBOUND, "x", "y", 1);
	metrics_count(m, (enum metrics_counter)-1, METRICS_INBOUND, "x", "y", 1);
	metrics_count(m, METRICS_LIMITS, (enum metrics_dir)2, "x", NULL, 1);
	metrics_bytes(m, (enum metrics_dir)7, 1, 1);
	metrics_active(m, (enum metrics_dir)-1, 1);
	metrics_svid(m, NULL, 5);
	metrics_svid(m, "", 5);
	metrics_count(NULL, METRICS_LIMITS, METRICS_INBOUND, "x", NULL, 1);
	metrics_bytes(NULL, METRICS_INBOUND, 1, 1);
	metrics_active(NULL, METRICS_INBOUND, 1);
	metrics_svid(NULL, "a/b", 1);
	metrics_revisions(NULL, 1, 1);
	metrics_state(NULL, 1, 1);
	text = render(m, 0);
	REQUIRE(text != NULL);
	EXPECT_STR(text, EMPTY_TEXT);
	free(text);

	/* A buffer too small fails instead of cutting the page. */
	strbuf_init(&sb, 100);
	metrics_render(m, 0, &sb);
	EXPECT(sb.failed);
	strbuf_free(&sb);
	metrics_render(NULL, 0, &sb);
	metrics_free(m);
}

TEST(test_expiry_extremes)
{
	struct metrics *m = NULL;
	char *text;

	REQUIRE(metrics_new(&m) == 0);
	metrics_svid(m, "a/max", INT64_MAX);
	metrics_svid(m, "a/min", INT64_MIN);
	metrics_state(m, 7, 1);
	text = render(m, -10);
	REQUIRE(text != NULL);
	EXPECT_STR(grep(text, "authd_svid_expiry_seconds{"),
	    "authd_svid_expiry_seconds{workload=\"a/max\"} 9223372036854775807\n"
	    "authd_svid_expiry_seconds{workload=\"a/min\"} -9223372036854775798\n");
	EXPECT_STR(grep(text, "authd_ready "), "authd_ready 1\n");
	EXPECT_STR(grep(text, "authd_draining "), "authd_draining 1\n");
	free(text);
	metrics_free(m);
}

TEST_MAIN(test_empty, test_scenario, test_escaping, test_long_labels, test_overflow,
    test_svid_overflow, test_bad_args, test_expiry_extremes)
