/*
 * The daemon's counters and gauges, rendered as Prometheus text exposition
 * format 0.0.4 for /metrics. All updates happen on the loop thread: plain
 * integers, no atomics.
 *
 * Label values come from small fixed sets (decision and reason tokens,
 * workload names), held in a bounded table per family; a family that would
 * exceed METRICS_SERIES_MAX series counts the rest under a series whose
 * labels are all "other" (or workload="other") rather than grow without
 * bound.
 */
#ifndef AUTHD_AUTHD_METRICS_H
#define AUTHD_AUTHD_METRICS_H

#include <stdint.h>

#include "common/util.h"

#define METRICS_SERIES_MAX 256

struct metrics;
struct strbuf;

enum metrics_dir {
	METRICS_INBOUND,
	METRICS_OUTBOUND,
};

enum metrics_counter {
	/* labels: direction, decision ("allow", "deny", "audit", "error"), reason */
	METRICS_CONNECTIONS,		/* authd_connections_total */
	/* labels: direction, reason (tls_error_reason tokens) */
	METRICS_HANDSHAKE_FAILURES,	/* authd_handshake_failures_total */
	/* labels: direction, reason (tls_error_reason tokens): after the handshake */
	METRICS_TLS_ERRORS,		/* authd_tls_errors_total */
	/* labels: direction, limit ("handshake_timeout", "header_timeout", "idle_timeout",
	 * "max_connections", "max_connections_per_workload", "max_header_bytes", "connect_timeout") */
	METRICS_LIMITS,			/* authd_limit_hits_total */
	/* labels: direction, reason (e.g. "too-big", "syntax", "method") */
	METRICS_BAD_REQUESTS,		/* authd_bad_requests_total */
	/* labels: result ("ok", "failed"); no direction label, dir is ignored */
	METRICS_SVID_ISSUED,		/* authd_svid_issued_total */
	/* labels: result ("ok", "failed"); no direction */
	METRICS_CONFIG_RELOADS,		/* authd_config_reloads_total */
	/* labels: resource ("pods", "namespaces", "allowlists", "events"), code ("200", "410", "error") */
	METRICS_KUBE_REQUESTS,		/* authd_kube_requests_total */
	/* labels: resource, reason ("start", "too-old", "error") */
	METRICS_KUBE_RELISTS,		/* authd_kube_relists_total */
	/* labels: resource, type ("added", "modified", "deleted", "bookmark", "error") */
	METRICS_KUBE_EVENTS,		/* authd_kube_watch_events_total */
	METRICS_COUNTER_COUNT_,
};

int metrics_new(struct metrics **out) AD_MUST_CHECK;
void metrics_free(struct metrics *m);

/*
 * Add n to a counter. label1 is the value of the family's first label after
 * direction, label2 the second (only METRICS_CONNECTIONS has one: reason);
 * NULL counts as "", a value over 64 bytes as "other". Values are copied.
 */
void metrics_count(struct metrics *m, enum metrics_counter c, enum metrics_dir dir,
    const char *label1, const char *label2, uint64_t n);
/* Bytes proxied: authd_bytes_total{direction, way="rx"|"tx"}. rx = from the peer/app into authd. */
void metrics_bytes(struct metrics *m, enum metrics_dir dir, uint64_t rx, uint64_t tx);
/* authd_active_connections{direction}: +1 / -1. */
void metrics_active(struct metrics *m, enum metrics_dir dir, int delta);
/* authd_svid_expiry_seconds{workload="NS/NAME"}: set to not_after - now at render time; 0 removes. */
void metrics_svid(struct metrics *m, const char *workload, int64_t not_after);
/*
 * authd_ca_expiry_seconds{cert="issuer"|"trust_anchor"}, judged at render
 * time; rendered once set (the CA is loaded).
 */
void metrics_ca(struct metrics *m, int64_t issuer_not_after, int64_t anchor_not_after);
/* authd_policy_revision, authd_registry_revision. */
void metrics_revisions(struct metrics *m, uint64_t policy, uint64_t registry);
/* authd_store_bytes{kind="used"|"map"}. */
void metrics_store(struct metrics *m, uint64_t used, uint64_t map);
/* authd_access_log_lost_total. */
void metrics_access_log_errors(struct metrics *m, uint64_t lost);
/* authd_ready (1/0), authd_draining (1/0). */
void metrics_state(struct metrics *m, int ready, int draining);
/*
 * A SIGHUP reload's result: authd_config_reloads_total{result} and
 * authd_config_last_reload_successful (1 until a reload fails, 1 again
 * after one works).
 */
void metrics_reload(struct metrics *m, int ok);
/* authd_workloads_refused: workloads of the file or registry not served (/readyz says why). */
void metrics_refused(struct metrics *m, uint64_t n);

/* Kinds of Kubernetes object authd watches: at most this many gauges of each. */
#define METRICS_KUBE_KINDS 3
/*
 * authd_kube_synced{resource} (1 once a LIST completed; it stays 1 while a
 * watch reconnects), authd_kube_objects{resource} (held now) and
 * authd_kube_invalid{resource} (held but unusable: a pod that cannot be a
 * workload, an AllowList the policy parser refuses). Shown once set.
 */
void metrics_kube(struct metrics *m, const char *resource, int synced, uint64_t objects,
    uint64_t invalid);

/*
 * Add src's counters, bytes and active connections into dst (one loop's
 * connection metrics into the daemon's, at render time). Gauges the daemon
 * sets (SVID expiry, revisions, ready, draining) are not added.
 */
void metrics_add(struct metrics *dst, const struct metrics *src);
/* dst becomes a copy of src. */
void metrics_copy(struct metrics *dst, const struct metrics *src);

/* Append the whole exposition, with # HELP and # TYPE lines, judged at now. */
void metrics_render(const struct metrics *m, int64_t now, struct strbuf *out);
#endif
