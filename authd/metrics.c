/*
 * metrics.c: counters and gauges for /metrics.
 *
 * Each labelled counter family is a fixed array of METRICS_SERIES_MAX series
 * with a small open-addressing index over it, so counting is a hash of two
 * short strings and a probe or two; nothing is allocated after metrics_new.
 * Label values are copied (at most METRICS_LABEL_MAX bytes; a longer value
 * counts as "other"), so callers may pass stack strings.
 *
 * Bounding: a family keeps two series in reserve for the overflow series
 * (one per direction, every label "other"). Once the other slots are used,
 * a new label combination is counted there, so the family never exceeds
 * METRICS_SERIES_MAX series and the scrape stays bounded whatever peers send.
 */
#include "authd/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

/* Longest counter label value kept as is. */
#define METRICS_LABEL_MAX 64
/* "NS/NAME": two DNS labels and a slash. */
#define METRICS_WORKLOAD_MAX 127
/* Index slots per family: a power of two, at least twice the series. */
#define METRICS_SLOTS 512
/* Series a family keeps for the overflow series, one per direction. */
#define METRICS_RESERVED 2

static const char other[] = "other";

struct series {
	uint64_t v;
	uint8_t dir;
	char l1[METRICS_LABEL_MAX + 1];
	char l2[METRICS_LABEL_MAX + 1];
};

struct family {
	size_t n;
	uint16_t slot[METRICS_SLOTS];	/* index + 1 into s; 0 = empty */
	struct series s[METRICS_SERIES_MAX];
};

struct svid_gauge {
	int64_t not_after;
	char workload[METRICS_WORKLOAD_MAX + 1];
};

struct metrics {
	struct family fam[METRICS_COUNTER_COUNT_];
	uint64_t bytes[2][2];		/* [dir][0 = rx, 1 = tx] */
	int64_t active[2];
	size_t n_svid;
	struct svid_gauge svid[METRICS_SERIES_MAX];
	uint64_t policy_rev, registry_rev;
	int ready, draining;
	int reload_failed;		/* the last reload failed */
	uint64_t refused;
	int64_t ca_issuer, ca_anchor;	/* not_after; 0 = not set */
	uint64_t store_used, store_map;
	uint64_t access_log_lost;
	struct {
		char resource[16];	/* "" = unused */
		int synced;
		uint64_t objects, invalid;
	} kube[METRICS_KUBE_KINDS];
};

static const struct {
	const char *name;
	const char *help;
	const char *l1;		/* first label after direction */
	const char *l2;		/* NULL: one label only */
	bool dir;		/* has a direction label */
} families[METRICS_COUNTER_COUNT_] = {
	[METRICS_CONNECTIONS] = { "authd_connections_total",
	    "Connections that reached a decision, by decision and reason.",
	    "decision", "reason", true },
	[METRICS_HANDSHAKE_FAILURES] = { "authd_handshake_failures_total",
	    "TLS handshakes that failed, by reason.", "reason", NULL, true },
	[METRICS_TLS_ERRORS] = { "authd_tls_errors_total",
	    "TLS sessions that failed after the handshake, by reason.", "reason", NULL, true },
	[METRICS_LIMITS] = { "authd_limit_hits_total",
	    "Connections a configured limit stopped, by limit.", "limit", NULL, true },
	[METRICS_BAD_REQUESTS] = { "authd_bad_requests_total",
	    "Malformed CONNECT heads, by reason.", "reason", NULL, true },
	[METRICS_SVID_ISSUED] = { "authd_svid_issued_total",
	    "Workload SVID issuance attempts, by result.", "result", NULL, false },
	[METRICS_CONFIG_RELOADS] = { "authd_config_reloads_total",
	    "SIGHUP reloads of the config file, by result.", "result", NULL, false },
	[METRICS_KUBE_REQUESTS] = { "authd_kube_requests_total",
	    "Requests to the Kubernetes API server, by resource and HTTP status "
	    "(\"error\": no response).", "resource", "code", false },
	[METRICS_KUBE_RELISTS] = { "authd_kube_relists_total",
	    "Full LISTs of a resource, by why: the first, a watch too old to resume, "
	    "an error.", "resource", "reason", false },
	[METRICS_KUBE_EVENTS] = { "authd_kube_watch_events_total",
	    "Watch events received, by resource and type.", "resource", "type", false },
};

static const char *const dir_names[2] = { "inbound", "outbound" };

int
metrics_new(struct metrics **out)
{
	struct metrics *m;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	*out = m;
	return 0;
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

static bool
dir_ok(enum metrics_dir dir)
{
	return dir == METRICS_INBOUND || dir == METRICS_OUTBOUND;
}

/* NULL counts as "", a value too long to keep as "other". */
static const char *
label_value(const char *s, size_t max)
{
	if (s == NULL)
		return "";
	return strnlen(s, max + 1) > max ? other : s;
}

/* FNV-1a over the key; the separator keeps ("ab", "c") apart from ("a", "bc"). */
static uint32_t
key_hash(uint8_t dir, const char *l1, const char *l2)
{
	uint32_t h = 2166136261u;

	h = (h ^ dir) * 16777619u;
	for (const char *p = l1; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (const char *p = l2; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

/*
 * The series for a key, created when there is room. Returns NULL when the
 * key is new and only the reserve is left (overflow false), or when the
 * family is full.
 */
static struct series *
family_find(struct family *f, uint8_t dir, const char *l1, const char *l2, bool overflow)
{
	uint32_t i = key_hash(dir, l1, l2) & (METRICS_SLOTS - 1);
	struct series *s;

	for (;; i = (i + 1) & (METRICS_SLOTS - 1)) {
		uint16_t k = f->slot[i];

		if (k == 0)
			break;
		s = &f->s[k - 1];
		if (s->dir == dir && strcmp(s->l1, l1) == 0 && strcmp(s->l2, l2) == 0)
			return s;
	}
	if (f->n >= METRICS_SERIES_MAX - (overflow ? 0 : METRICS_RESERVED))
		return NULL;
	s = &f->s[f->n];
	s->dir = dir;
	/* Lengths were bounded by label_value. */
	memcpy(s->l1, l1, strlen(l1) + 1);
	memcpy(s->l2, l2, strlen(l2) + 1);
	f->slot[i] = (uint16_t)(++f->n);
	return s;
}

void
metrics_count(struct metrics *m, enum metrics_counter c, enum metrics_dir dir,
    const char *label1, const char *label2, uint64_t n)
{
	const char *l1, *l2;
	struct family *f;
	struct series *s;
	uint8_t d;

	if (m == NULL || (unsigned)c >= METRICS_COUNTER_COUNT_ || !dir_ok(dir))
		return;
	f = &m->fam[c];
	d = families[c].dir ? (uint8_t)dir : 0;
	l1 = label_value(label1, METRICS_LABEL_MAX);
	l2 = families[c].l2 != NULL ? label_value(label2, METRICS_LABEL_MAX) : "";
	s = family_find(f, d, l1, l2, false);
	if (s == NULL)
		s = family_find(f, d, other, families[c].l2 != NULL ? other : "", true);
	if (s != NULL)
		s->v += n;
}

void
metrics_bytes(struct metrics *m, enum metrics_dir dir, uint64_t rx, uint64_t tx)
{
	if (m == NULL || !dir_ok(dir))
		return;
	m->bytes[dir][0] += rx;
	m->bytes[dir][1] += tx;
}

void
metrics_active(struct metrics *m, enum metrics_dir dir, int delta)
{
	if (m == NULL || !dir_ok(dir))
		return;
	m->active[dir] += delta;
}

void
metrics_add(struct metrics *dst, const struct metrics *src)
{
	size_t c, i;

	if (dst == NULL || src == NULL)
		return;
	for (c = 0; c < METRICS_COUNTER_COUNT_; c++) {
		const struct family *f = &src->fam[c];

		for (i = 0; i < f->n; i++) {
			const struct series *s = &f->s[i];

			if (s->v != 0)
				metrics_count(dst, (enum metrics_counter)c, (enum metrics_dir)s->dir, s->l1,
				    families[c].l2 != NULL ? s->l2 : NULL, s->v);
		}
	}
	for (i = 0; i < 2; i++) {
		dst->bytes[i][0] += src->bytes[i][0];
		dst->bytes[i][1] += src->bytes[i][1];
		dst->active[i] += src->active[i];
	}
}

void
metrics_copy(struct metrics *dst, const struct metrics *src)
{
	if (dst != NULL && src != NULL)
		memcpy(dst, src, sizeof(*dst));
}

static struct svid_gauge *
svid_find(struct metrics *m, const char *w)
{
	for (size_t i = 0; i < m->n_svid; i++)
		if (strcmp(m->svid[i].workload, w) == 0)
			return &m->svid[i];
	return NULL;
}

/*
 * Workloads past the table's size share workload="other", which shows the
 * expiry last set for any of them: enough to see that the table is too
 * small, while the scrape stays bounded.
 */
void
metrics_svid(struct metrics *m, const char *workload, int64_t not_after)
{
	struct svid_gauge *g;
	const char *w;

	if (m == NULL || workload == NULL || workload[0] == '\0')
		return;
	w = label_value(workload, METRICS_WORKLOAD_MAX);
	g = svid_find(m, w);
	/* One series stays free for "other" until it is used. */
	if (g == NULL && strcmp(w, other) != 0 &&
	    m->n_svid - (svid_find(m, other) != NULL) >= METRICS_SERIES_MAX - 1) {
		w = other;
		g = svid_find(m, w);
	}
	if (not_after == 0) {
		if (g != NULL)
			*g = m->svid[--m->n_svid];
		return;
	}
	if (g == NULL) {
		if (m->n_svid >= METRICS_SERIES_MAX)
			return;
		g = &m->svid[m->n_svid++];
		memcpy(g->workload, w, strlen(w) + 1);
	}
	g->not_after = not_after;
}

void
metrics_revisions(struct metrics *m, uint64_t policy, uint64_t registry)
{
	if (m == NULL)
		return;
	m->policy_rev = policy;
	m->registry_rev = registry;
}

void
metrics_store(struct metrics *m, uint64_t used, uint64_t map)
{
	if (m == NULL)
		return;
	m->store_used = used;
	m->store_map = map;
}

void
metrics_access_log_errors(struct metrics *m, uint64_t lost)
{
	if (m != NULL)
		m->access_log_lost = lost;
}

void
metrics_reload(struct metrics *m, int ok)
{
	if (m == NULL)
		return;
	metrics_count(m, METRICS_CONFIG_RELOADS, METRICS_INBOUND, ok ? "ok" : "failed", NULL, 1);
	m->reload_failed = !ok;
}

void
metrics_refused(struct metrics *m, uint64_t n)
{
	if (m != NULL)
		m->refused = n;
}

void
metrics_state(struct metrics *m, int ready, int draining)
{
	if (m == NULL)
		return;
	m->ready = ready != 0;
	m->draining = draining != 0;
}

static void
header(struct strbuf *out, const char *name, const char *help, const char *type)
{
	strbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
label(struct strbuf *out, bool first, const char *name, const char *value)
{
	strbuf_printf(out, "%s%s=\"", first ? "{" : ",", name);
	strbuf_prom_label(out, value);
	strbuf_puts(out, "\"");
}

static int
series_cmp(const void *a, const void *b)
{
	const struct series *x = *(const struct series *const *)a;
	const struct series *y = *(const struct series *const *)b;
	int r;

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	r = strcmp(x->l1, y->l1);
	return r != 0 ? r : strcmp(x->l2, y->l2);
}

static int
svid_cmp(const void *a, const void *b)
{
	const struct svid_gauge *x = *(const struct svid_gauge *const *)a;
	const struct svid_gauge *y = *(const struct svid_gauge *const *)b;

	return strcmp(x->workload, y->workload);
}

static void
render_family(const struct metrics *m, enum metrics_counter c, struct strbuf *out)
{
	const struct series *sorted[METRICS_SERIES_MAX];
	const struct family *f = &m->fam[c];

	header(out, families[c].name, families[c].help, "counter");
	for (size_t i = 0; i < f->n; i++)
		sorted[i] = &f->s[i];
	if (f->n > 1)
		qsort(sorted, f->n, sizeof(sorted[0]), series_cmp);
	for (size_t i = 0; i < f->n; i++) {
		const struct series *s = sorted[i];
		bool first = true;

		strbuf_puts(out, families[c].name);
		if (families[c].dir) {
			label(out, first, "direction", dir_names[s->dir]);
			first = false;
		}
		label(out, first, families[c].l1, s->l1);
		if (families[c].l2 != NULL)
			label(out, false, families[c].l2, s->l2);
		strbuf_printf(out, "} %" PRIu64 "\n", s->v);
	}
}

/* not_after - now, saturated instead of overflowing on absurd inputs. */
static int64_t
seconds_left(int64_t not_after, int64_t now)
{
	int64_t d;

	if (__builtin_sub_overflow(not_after, now, &d))
		return now < 0 ? INT64_MAX : INT64_MIN;
	return d;
}

static void
gauge(struct strbuf *out, const char *name, const char *help, uint64_t v)
{
	header(out, name, help, "gauge");
	strbuf_printf(out, "%s %" PRIu64 "\n", name, v);
}

void
metrics_render(const struct metrics *m, int64_t now, struct strbuf *out)
{
	const struct svid_gauge *sorted[METRICS_SERIES_MAX];
	static const char *const way[2] = { "rx", "tx" };

	if (m == NULL || out == NULL)
		return;
	for (int c = 0; c < METRICS_COUNTER_COUNT_; c++)
		render_family(m, (enum metrics_counter)c, out);

	header(out, "authd_bytes_total",
	    "Bytes proxied; rx from the peer or app into authd, tx out of authd.", "counter");
	for (int d = 0; d < 2; d++)
		for (int w = 0; w < 2; w++)
			strbuf_printf(out,
			    "authd_bytes_total{direction=\"%s\",way=\"%s\"} %" PRIu64 "\n",
			    dir_names[d], way[w], m->bytes[d][w]);

	header(out, "authd_active_connections", "Connections open now.", "gauge");
	for (int d = 0; d < 2; d++)
		strbuf_printf(out, "authd_active_connections{direction=\"%s\"} %" PRId64 "\n",
		    dir_names[d], m->active[d]);

	header(out, "authd_svid_expiry_seconds",
	    "Seconds until each workload's SVID expires; negative once expired.", "gauge");
	for (size_t i = 0; i < m->n_svid; i++)
		sorted[i] = &m->svid[i];
	if (m->n_svid > 1)
		qsort(sorted, m->n_svid, sizeof(sorted[0]), svid_cmp);
	for (size_t i = 0; i < m->n_svid; i++) {
		strbuf_puts(out, "authd_svid_expiry_seconds");
		label(out, true, "workload", sorted[i]->workload);
		strbuf_printf(out, "} %" PRId64 "\n", seconds_left(sorted[i]->not_after, now));
	}

	gauge(out, "authd_policy_revision", "Revision of the policy store in use.",
	    m->policy_rev);
	gauge(out, "authd_registry_revision", "Revision of the workload registry in use.",
	    m->registry_rev);
	gauge(out, "authd_ready", "1 when /readyz answers 200.", (uint64_t)m->ready);
	gauge(out, "authd_draining", "1 while shutting down.", (uint64_t)m->draining);
	gauge(out, "authd_config_last_reload_successful", "0 when the last SIGHUP reload failed "
	    "(the running configuration was kept), else 1.", (uint64_t)!m->reload_failed);
	gauge(out, "authd_workloads_refused", "Workloads of the config file or the registry that "
	    "are not served; /readyz and /workloads say why.", m->refused);
	header(out, "authd_store_bytes", "The LMDB store: bytes its data reaches (used) and "
	    "the map it may fill (map, store_map_size).", "gauge");
	strbuf_printf(out, "authd_store_bytes{kind=\"used\"} %" PRIu64 "\n"
	    "authd_store_bytes{kind=\"map\"} %" PRIu64 "\n", m->store_used, m->store_map);
	header(out, "authd_access_log_lost_total", "Access-log lines lost to failed writes "
	    "(a full disk).", "counter");
	strbuf_printf(out, "authd_access_log_lost_total %" PRIu64 "\n", m->access_log_lost);
	if (m->kube[0].resource[0] != '\0') {
		static const char *const names[3] = { "authd_kube_synced", "authd_kube_objects",
			"authd_kube_invalid" };
		static const char *const helps[3] = {
			"1 once a LIST of the resource completed (it stays 1 while a watch reconnects).",
			"Objects of the resource authd holds now.",
			"Objects held but unusable: a pod that cannot be a workload, an AllowList "
			"the policy parser refuses (logged, and an Event).",
		};

		for (int g = 0; g < 3; g++) {
			header(out, names[g], helps[g], "gauge");
			for (size_t i = 0; i < METRICS_KUBE_KINDS && m->kube[i].resource[0]; i++)
				strbuf_printf(out, "%s{resource=\"%s\"} %" PRIu64 "\n", names[g],
				    m->kube[i].resource,
				    g == 0 ? (uint64_t)m->kube[i].synced :
				    g == 1 ? m->kube[i].objects : m->kube[i].invalid);
		}
	}
	if (m->ca_issuer != 0 || m->ca_anchor != 0) {
		strbuf_puts(out, "# HELP authd_ca_expiry_seconds Seconds until a CA certificate "
		    "expires: the issuer signing this node's SVIDs, and the trust anchor that "
		    "expires first.\n# TYPE authd_ca_expiry_seconds gauge\n");
		strbuf_printf(out, "authd_ca_expiry_seconds{cert=\"issuer\"} %" PRId64 "\n",
		    seconds_left(m->ca_issuer, now));
		strbuf_printf(out, "authd_ca_expiry_seconds{cert=\"trust_anchor\"} %" PRId64 "\n",
		    seconds_left(m->ca_anchor, now));
	}
}

void
metrics_kube(struct metrics *m, const char *resource, int synced, uint64_t objects,
    uint64_t invalid)
{
	size_t i;

	if (m == NULL || resource == NULL || strlen(resource) >= sizeof(m->kube[0].resource))
		return;
	for (i = 0; i < METRICS_KUBE_KINDS; i++)
		if (m->kube[i].resource[0] == '\0' || strcmp(m->kube[i].resource, resource) == 0)
			break;
	if (i == METRICS_KUBE_KINDS)
		return;
	memcpy(m->kube[i].resource, resource, strlen(resource) + 1);
	m->kube[i].synced = synced;
	m->kube[i].objects = objects;
	m->kube[i].invalid = invalid;
}

void
metrics_ca(struct metrics *m, int64_t issuer_not_after, int64_t anchor_not_after)
{
	if (m == NULL)
		return;
	m->ca_issuer = issuer_not_after;
	m->ca_anchor = anchor_not_after;
}
