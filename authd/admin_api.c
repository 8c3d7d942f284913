/*
 * What the admin endpoint answers (admin.c serves it): /metrics with the
 * loops' connection metrics added up, /readyz with one line per reason
 * authd is not ready, and /workloads as JSON. Main loop only.
 */
#include "authd/admin_api.h"

#include <stdatomic.h>
#include <string.h>

#include "authd/accesslog.h"
#include "authd/admin.h"
#include "authd/daemon.h"
#include "authd/ident.h"
#include "authd/metrics.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "certs/info.h"
#include "certs/svid.h"
#include "policy/policy.h"

/*
 * Whether authd is ready; each reason it is not goes to out (NULL: only the
 * verdict). Faults it serves through (ca_dir, store, access log) count: the
 * operator must act, and an orchestrator should hear of it.
 */
static bool
readiness(struct daemon *d, int64_t now, struct strbuf *out)
{
	struct served *wl;
	bool ready = true;
	int log_err = accesslog_error();

#define NOT_READY(...) do { ready = false; if (out != NULL) strbuf_printf(out, __VA_ARGS__); } while (0)
	if (d->draining)
		NOT_READY("draining\n");
	if (d->trust_error[0] != '\0')
		NOT_READY("ca_dir reload failed: %s\n", d->trust_error);
	if (d->store_read_error[0] != '\0')
		NOT_READY("store: %s\n", d->store_read_error);
	if (d->store_write_error[0] != '\0')
		NOT_READY("store: %s\n", d->store_write_error);
	if (log_err != 0)
		NOT_READY("access log: write failed: %s\n", strerror(log_err));
	for (size_t i = 0; i < d->n_refused; i++)
		NOT_READY("%s: not served: %s\n", d->refused[i].key, d->refused[i].why);
	if (d->kube.on) {
		const struct kube_watch *ws[3] = { &d->kube.namespaces, &d->kube.pods,
			&d->kube.allowlists };

		for (size_t i = 0; i < 3; i++) {
			if (ws[i]->api == NULL || ws[i]->synced)
				continue;
			NOT_READY("kubernetes: %s not listed yet%s%s\n",
			    kube_kind_name(ws[i]->query.kind), ws[i]->error[0] ? ": " : "",
			    ws[i]->error);
		}
		if (d->kube.pods_error[0] != '\0')
			NOT_READY("kubernetes: %s\n", d->kube.pods_error);
		if (d->kube.al_error[0] != '\0')
			NOT_READY("kubernetes: %s\n", d->kube.al_error);
	}
	for (wl = d->set.served; wl != NULL; wl = wl->next) {
		if (served_ready(wl, now))
			continue;
		if (wl->ident == NULL)
			NOT_READY("%s: no SVID yet\n", wl->key);
		else if (certs_svid_not_after(wl->ident->svid) <= now)
			NOT_READY("%s: SVID expired\n", wl->key);
		else if (wl->failures > 0)
			NOT_READY("%s: SVID renewal failing (%u attempts)\n", wl->key, wl->failures);
		else
			NOT_READY("%s: %s\n", wl->key,
			    wl->listen_error[0] != '\0' ? wl->listen_error : "listeners not bound");
	}
#undef NOT_READY
	return ready;
}

static void
admin_metrics(void *arg, struct strbuf *out)
{
	struct daemon *d = arg;
	int64_t now = clock_now_ms() / 1000;
	uint64_t used = 0, map = 0;
	struct metrics *all;

	metrics_state(d->metrics, readiness(d, now, NULL), d->draining);
	if (policy_store_size(d->store, &used, &map) == 0)
		metrics_store(d->metrics, used, map);
	metrics_access_log_errors(d->metrics, accesslog_errors());
	if (metrics_new(&all) != 0) {
		strbuf_puts(out, "# out of memory\n");
		return;
	}
	metrics_copy(all, d->metrics);
	workers_metrics(&d->workers, all);
	metrics_render(all, now, out);
	metrics_free(all);
}

static int
admin_readyz(void *arg, struct strbuf *out)
{
	struct daemon *d = arg;
	bool ready = readiness(d, clock_now_ms() / 1000, out);

	if (ready)
		strbuf_puts(out, "ready\n");
	/* A watch that fails after its first list serves on from what it holds: say so. */
	if (d->kube.on) {
		const struct kube_watch *ws[3] = { &d->kube.namespaces, &d->kube.pods,
			&d->kube.allowlists };

		for (size_t i = 0; i < 3; i++)
			if (ws[i]->api != NULL && ws[i]->synced && ws[i]->error[0] != '\0')
				strbuf_printf(out, "kubernetes: %s watch failing (serving what was "
				    "last seen): %s\n", kube_kind_name(ws[i]->query.kind), ws[i]->error);
	}
	/* Served through (the running configuration is kept), but the operator should know. */
	if (d->reload_error[0] != '\0') {
		char when[32];

		certs_time_format(d->reload_failed_at, when, sizeof(when));
		strbuf_printf(out, "last reload failed at %s: %s (running configuration kept)\n", when,
		    d->reload_error);
	}
	return ready ? 200 : 503;
}

static void
json_str(struct strbuf *out, const char *key, const char *val, bool comma)
{
	strbuf_printf(out, "%s\"%s\":", comma ? "," : "", key);
	strbuf_json_string(out, val, strlen(val));
}

static void
admin_workloads(void *arg, struct strbuf *out)
{
	struct daemon *d = arg;
	struct served *wl;
	int64_t now = clock_now_ms() / 1000;
	size_t i;

	strbuf_puts(out, "[");
	for (wl = d->set.served; wl != NULL; wl = wl->next) {
		strbuf_puts(out, wl == d->set.served ? "\n{" : ",\n{");
		json_str(out, "name", wl->spec.name, false);
		json_str(out, "namespace", wl->spec.ns, true);
		json_str(out, "service_account", wl->spec.sa, true);
		json_str(out, "spiffe_id", wl->id.str, true);
		json_str(out, "source", wl->from_config ? "config" : "registry", true);
		json_str(out, "listen", wl->spec.listen, true);
		strbuf_puts(out, ",\"apps\":[");
		for (i = 0; i < wl->spec.n_apps; i++) {
			if (i > 0)
				strbuf_puts(out, ",");
			strbuf_json_string(out, wl->spec.apps[i], strlen(wl->spec.apps[i]));
		}
		strbuf_puts(out, "],\"upstreams\":[");
		for (i = 0; i < wl->n_up; i++) {
			const struct workload_upstream *u = wl->up[i].spec;

			strbuf_puts(out, i > 0 ? ",{" : "{");
			json_str(out, "listen", u->listen, false);
			json_str(out, "peer", u->peer, true);
			strbuf_printf(out, ",\"target\":\"%s:%u\"", u->target_host, u->target_port);
			json_str(out, "expect_id", u->expect_id, true);
			strbuf_printf(out, ",\"listening\":%s}", wl->up[i].listening ? "true" : "false");
		}
		strbuf_puts(out, "]");
		if (wl->ident != NULL) {
			int64_t na = certs_svid_not_after(wl->ident->svid);

			strbuf_puts(out, ",\"svid\":{");
			json_str(out, "serial", certs_svid_serial(wl->ident->svid), false);
			strbuf_printf(out, ",\"not_after\":%lld,\"expires_in\":%lld}", (long long)na,
			    (long long)(na - now));
		} else {
			strbuf_puts(out, ",\"svid\":null");
		}
		strbuf_printf(out, ",\"refused\":null,\"ready\":%s,\"active_connections\":%u}",
		    served_ready(wl, now) ? "true" : "false", atomic_load(&wl->active));
	}
	/* Not served, and why: the operator's first question about a missing workload. */
	for (i = 0; i < d->n_refused; i++) {
		const struct refusal *r = &d->refused[i];

		strbuf_puts(out, d->set.served == NULL && i == 0 ? "\n{" : ",\n{");
		json_str(out, "name", r->name, false);
		json_str(out, "namespace", r->ns, true);
		json_str(out, "source", r->from_config ? "config" : "registry", true);
		json_str(out, "refused", r->why, true);
		strbuf_puts(out, ",\"svid\":null,\"ready\":false,\"active_connections\":0}");
	}
	strbuf_puts(out, d->set.served != NULL || d->n_refused > 0 ? "\n]\n" : "]\n");
}

void
admin_api_handlers(struct daemon *d, struct admin_handlers *h)
{
	memset(h, 0, sizeof(*h));	/* allow_public false: the admin API stays on loopback */
	h->metrics = admin_metrics;
	h->readyz = admin_readyz;
	h->workloads = admin_workloads;
	h->arg = d;
}
