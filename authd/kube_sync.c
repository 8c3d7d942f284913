/*
 * kube_sync.c: pods and namespaces into the registry, AllowLists into the
 * policy store (the rules are in kube_sync.h). Everything here runs on the
 * main loop, like every other writer of the store in this process.
 */
#include "authd/kube_sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authd/daemon.h"
#include "authd/kube_http.h"
#include "authd/log.h"
#include "authd/metrics.h"
#include "certs/info.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "policy/policy.h"
#include "policy/registry.h"

#define EVENT_BODY_MAX 8192
#define EVENT_NAMESPACE "default"	/* where Events about cluster-scoped objects go */

/* ---- What is held ------------------------------------------------------------ */

static void
entry_free(struct kube_entry *e)
{
	kube_object_free(&e->obj);
	if (e->has_good)
		policy_set_free(&e->good);
	e->has_good = false;
}

static void
entries_clear(struct kube_entries *es)
{
	for (size_t i = 0; i < es->n; i++)
		entry_free(&es->v[i]);
	free(es->v);
	memset(es, 0, sizeof(*es));
}

static struct kube_entry *
entries_find(struct kube_entries *es, const char *ns, const char *name)
{
	for (size_t i = 0; i < es->n; i++)
		if (strcmp(es->v[i].obj.name, name) == 0 && strcmp(es->v[i].obj.ns, ns) == 0)
			return &es->v[i];
	return NULL;
}

/*
 * Take o in (the entries own it after): a new entry, or the new version of
 * one held. An AllowList's rules become its "good" rules when they parse;
 * when they do not, the good ones it had stay. Returns the entry, or NULL
 * out of memory (o is freed).
 */
static struct kube_entry *
entries_put(struct kube_entries *es, struct kube_object *o)
{
	struct kube_entry *e = entries_find(es, o->ns, o->name);

	if (e == NULL) {
		if (es->n == es->cap) {
			size_t cap = es->cap ? es->cap * 2 : 16;
			void *v = realloc(es->v, cap * sizeof(*es->v));

			if (v == NULL) {
				kube_object_free(o);
				return NULL;
			}
			es->v = v;
			es->cap = cap;
		}
		e = &es->v[es->n++];
		memset(e, 0, sizeof(*e));
		e->state = 0;
	} else {
		kube_object_free(&e->obj);
	}
	e->obj = *o;
	if (o->kind == KUBE_ALLOWLISTS && o->u.al.valid) {
		/* The parsed rules move to good; the object keeps only its verdict. */
		if (e->has_good)
			policy_set_free(&e->good);
		e->good = o->u.al.set;
		e->has_good = true;
		e->obj.u.al.valid = true;
		memset(&e->obj.u.al.set, 0, sizeof(e->obj.u.al.set));
	}
	/* Holding the object means o's memory is ours now: the caller must not free it. */
	memset(o, 0, sizeof(*o));
	return e;
}

static void
entries_remove(struct kube_entries *es, const char *ns, const char *name)
{
	struct kube_entry *e = entries_find(es, ns, name);

	if (e == NULL)
		return;
	entry_free(e);
	*e = es->v[--es->n];
}

/* Swap in a completed LIST; what it replaced is freed. Pod verdicts carry over (for logs). */
static void
entries_swap(struct kube_entries *held, struct kube_entries *next)
{
	for (size_t i = 0; i < next->n; i++) {
		struct kube_entry *old = entries_find(held, next->v[i].obj.ns, next->v[i].obj.name);

		if (old != NULL) {
			next->v[i].state = old->state;
			next->v[i].reported_gen = old->reported_gen;
			/* A refused new version keeps the last good rules it had. */
			if (!next->v[i].has_good && old->has_good &&
			    strcmp(old->obj.uid, next->v[i].obj.uid) == 0) {
				next->v[i].good = old->good;
				next->v[i].has_good = true;
				old->has_good = false;
			}
		}
	}
	entries_clear(held);
	*held = *next;
	memset(next, 0, sizeof(*next));
}

/* ---- Pods into the registry ---------------------------------------------------- */

static bool
ns_enrolled(struct kube_sync *k, const char *ns)
{
	struct kube_entry *e = entries_find(&k->ns, "", ns);

	return e != NULL && strcmp(e->obj.u.ns.enroll, KUBE_ENROLL_ON) == 0;
}

static void
pods_apply(struct kube_sync *k)
{
	struct workload *ws;
	size_t n = 0, changed = 0, conflicts = 0;
	const char *why = NULL;
	char err[sizeof(k->pods_error)];
	int r;

	if (!k->pods_dirty || !k->pods.synced || !k->namespaces.synced)
		return;
	if ((ws = calloc(k->pod.n ? k->pod.n : 1, sizeof(*ws))) == NULL) {
		log_warn("kubernetes: out of memory judging %zu pods", k->pod.n);
		return;
	}
	k->pods_invalid = 0;
	for (size_t i = 0; i < k->pod.n; i++) {
		struct kube_entry *e = &k->pod.v[i];
		int state = kube_pod_workload(&e->obj, ns_enrolled(k, e->obj.ns), &ws[n], &why);

		if (state < 0)
			k->pods_invalid++;
		if (state != e->state) {
			if (state == 1)
				log_info("kubernetes: pod %s/%s enrolled as spiffe://%s/ns/%s/sa/%s",
				    e->obj.ns, e->obj.name, k->d->cfg.trust_domain, ws[n].ns, ws[n].sa);
			else if (state < 0)
				log_warn("kubernetes: pod %s/%s is enrolled but cannot be a workload: %s",
				    e->obj.ns, e->obj.name, why);
			else if (e->state == 1)
				log_info("kubernetes: pod %s/%s retired: %s", e->obj.ns, e->obj.name,
				    why);
			e->state = state;
		}
		if (state == 1)
			n++;
	}
	r = registry_sync_pods(k->d->store, ws, n, &changed, &conflicts, &why);
	free(ws);
	if (r != 0) {
		util_format(err, sizeof(err), "cannot write the pods' workloads: %s%s%s",
		    policy_strerror(r), why ? ": " : "", why ? why : "");
		if (strcmp(err, k->pods_error) != 0)
			log_warn("kubernetes: %s", err);
		memcpy(k->pods_error, err, sizeof(err));
		return;	/* dirty stays: tried again on the next change */
	}
	if (k->pods_error[0] != '\0')
		log_info("kubernetes: pods' workloads written again");
	k->pods_error[0] = '\0';
	k->pods_dirty = false;
	if (changed > 0)
		log_info("kubernetes: %zu pod workload%s on this node (%zu change%s)", n,
		    n == 1 ? "" : "s", changed, changed == 1 ? "" : "s");
	if (conflicts > 0)
		log_warn("kubernetes: %zu pod%s share a namespace and name with a workload an "
		    "operator wrote; the operator's is kept", conflicts, conflicts == 1 ? "" : "s");
	metrics_kube(k->d->metrics, "pods", 1, k->pod.n, k->pods_invalid);
}

/* ---- AllowLists into the store ------------------------------------------------- */

static void post_next_event(struct kube_sync *k);

/* The created Event (or the Status of a refusal) is not needed: done has the code. */
static int
event_unit(void *arg, int status, const uint8_t *p, size_t n)
{
	(void)arg;
	(void)status;
	(void)p;
	(void)n;
	return 0;
}

static void
event_done(void *arg, int err, int status, const char *why)
{
	struct kube_sync *k = arg;
	char code[8];

	k->event_req = NULL;
	util_format(code, sizeof(code), "%d", status);
	metrics_count(k->d->metrics, METRICS_KUBE_REQUESTS, METRICS_INBOUND, "events",
	    err != 0 && status == 0 ? "error" : code, 1);
	/* 409: this node reported this generation already (before a restart). */
	if (err != 0 || (status != 201 && status != 409))
		log_warn("kubernetes: cannot post an Event: %s%s%d", err ? why : "", err ? " " : "HTTP ",
		    status);
	else
		k->events_posted++;
	post_next_event(k);
}

static const struct kube_http_ops event_ops = { event_unit, NULL, event_done };

/* Report, one at a time, the AllowLists whose current generation is refused. */
static void
post_next_event(struct kube_sync *k)
{
	struct kube_entry *e = NULL;
	struct strbuf body, path;
	char now[32];
	struct kube_http_req req;
	int r;

	if (k->event_req != NULL)
		return;
	for (size_t i = 0; i < k->al.n && e == NULL; i++)
		if (k->al.v[i].report)
			e = &k->al.v[i];
	if (e == NULL)
		return;
	e->report = false;
	certs_time_format(clock_now_ms() / 1000, now, sizeof(now));
	strbuf_init(&body, EVENT_BODY_MAX);
	strbuf_init(&path, 128);
	kube_event_body(&body, &e->obj, k->d->cfg.kube.node_name, "InvalidPolicy",
	    e->obj.u.al.error, now);
	strbuf_puts(&path, "/api/v1/namespaces/" EVENT_NAMESPACE "/events");
	memset(&req, 0, sizeof(req));
	req.server = &k->api.server;
	req.tls = k->api.tls;
	req.method = "POST";
	req.path = path.p;
	req.token = k->api.token;
	req.token_len = k->api.token_len;
	req.content_type = "application/json";
	req.body = (const uint8_t *)body.p;
	req.body_len = body.len;
	req.mode = KUBE_RESP_WHOLE;
	req.max = KUBE_STATUS_BODY_MAX;
	req.connect_ms = 10000;
	req.idle_ms = 30000;
	r = body.failed || path.failed ? KUBE_E_TOO_BIG :
	    kube_http_start(k->api.loop, &req, &event_ops, k, &k->event_req);
	if (r != 0)
		log_warn("kubernetes: cannot post an Event: %s", kube_strerror(r));
	strbuf_free(&body);
	strbuf_free(&path);
}

static void
al_apply(struct kube_sync *k)
{
	struct policy_rule *rules = NULL;
	struct policy_selector *audit = NULL;
	size_t nr = 0, na = 0, changes = 0;
	struct policy_actor actor = { .who = "kubernetes (AllowList resources)" };
	char err[sizeof(k->al_error)];
	int r;

	if (!k->al_dirty || !k->allowlists.synced)
		return;
	k->al_invalid = 0;
	for (size_t i = 0; i < k->al.n; i++) {
		struct kube_entry *e = &k->al.v[i];

		if (!e->obj.u.al.valid) {
			k->al_invalid++;
			if (e->reported_gen != e->obj.u.al.generation) {
				log_warn("kubernetes: AllowList %s (generation %lld) refused, %s: %s",
				    e->obj.name, (long long)e->obj.u.al.generation,
				    e->has_good ? "its previous rules stay" : "it adds nothing",
				    e->obj.u.al.error);
				e->reported_gen = e->obj.u.al.generation;
				e->report = true;
			}
		}
		if (e->has_good) {
			nr += e->good.n;
			na += e->good.naudit;
		}
	}
	rules = calloc(nr ? nr : 1, sizeof(*rules));
	audit = calloc(na ? na : 1, sizeof(*audit));
	if (rules == NULL || audit == NULL) {
		log_warn("kubernetes: out of memory joining %zu rules", nr);
		goto out;
	}
	nr = na = 0;
	actor.now = clock_now_ms() / 1000;
	for (size_t i = 0; i < k->al.n; i++) {
		struct kube_entry *e = &k->al.v[i];

		if (!e->has_good)
			continue;
		/*
		 * A rule past its expiry allows nothing, and the store refuses
		 * to be given one: leave it out, or one stale rule would stop
		 * every later change on every node.
		 */
		for (size_t j = 0; j < e->good.n; j++)
			if (e->good.rules[j].expires == 0 || e->good.rules[j].expires > actor.now)
				rules[nr++] = e->good.rules[j];
		for (size_t j = 0; j < e->good.naudit; j++)
			audit[na++] = e->good.audit[j];
	}
	r = policy_apply(k->d->store, rules, nr, audit, na, false, NULL, NULL, &changes, &actor);
	if (r != 0) {
		util_format(err, sizeof(err), "cannot apply the AllowLists (%zu rules): %s", nr,
		    policy_strerror(r));
		if (strcmp(err, k->al_error) != 0)
			log_warn("kubernetes: %s; the store keeps its rules", err);
		memcpy(k->al_error, err, sizeof(err));
	} else {
		if (k->al_error[0] != '\0')
			log_info("kubernetes: AllowLists applied again");
		k->al_error[0] = '\0';
		k->al_dirty = false;
		if (changes > 0)
			log_info("kubernetes: %zu AllowList%s applied: %zu rule%s, %zu change%s",
			    k->al.n, k->al.n == 1 ? "" : "s", nr, nr == 1 ? "" : "s", changes,
			    changes == 1 ? "" : "s");
	}
	metrics_kube(k->d->metrics, "allowlists", 1, k->al.n, k->al_invalid);
	post_next_event(k);
out:
	free(rules);
	free(audit);
}

/* ---- Watch callbacks ------------------------------------------------------------ */

#define WATCH_OPS(kind, held, next, apply, dirty)                                          \
	static void kind##_list_begin(void *arg)                                           \
	{                                                                                   \
		struct kube_sync *k = arg;                                                  \
		entries_clear(&k->next);                                                    \
	}                                                                                   \
	static void kind##_list_item(void *arg, struct kube_object *o)                     \
	{                                                                                   \
		struct kube_sync *k = arg;                                                  \
		if (entries_put(&k->next, o) == NULL)                                       \
			log_warn("kubernetes: out of memory holding " #kind);               \
	}                                                                                   \
	static void kind##_list_end(void *arg)                                             \
	{                                                                                   \
		struct kube_sync *k = arg;                                                  \
		entries_swap(&k->held, &k->next);                                           \
		k->dirty = true;                                                            \
		apply(k);                                                                   \
	}                                                                                   \
	static void kind##_event(void *arg, enum kube_event_type t, struct kube_object *o) \
	{                                                                                   \
		struct kube_sync *k = arg;                                                  \
		if (t == KUBE_EV_DELETED) {                                                 \
			entries_remove(&k->held, o->ns, o->name);                           \
			kube_object_free(o);                                                \
		} else if (entries_put(&k->held, o) == NULL) {                              \
			log_warn("kubernetes: out of memory holding " #kind);               \
		}                                                                           \
		k->dirty = true;                                                            \
	}                                                                                   \
	static void kind##_batch(void *arg)                                                \
	{                                                                                   \
		apply((struct kube_sync *)arg);                                             \
	}                                                                                   \
	static const struct kube_watch_ops kind##_ops = { kind##_list_begin,               \
		kind##_list_item, kind##_list_end, kind##_event, kind##_batch };

WATCH_OPS(pods, pod, pod_next, pods_apply, pods_dirty)
WATCH_OPS(namespaces, ns, ns_next, pods_apply, pods_dirty)
WATCH_OPS(allowlists, al, al_next, al_apply, al_dirty)

/* ---- Start and stop --------------------------------------------------------------- */

int
kube_sync_start(struct kube_sync *k, struct daemon *d)
{
	const struct config_kube *kc = &d->cfg.kube;
	char err[512];
	int r;

	memset(k, 0, sizeof(*k));
	k->d = d;
	if (!kc->enabled)
		return 0;
	if ((r = kube_api_init(&k->api, d->loop, kc, d->metrics, err, sizeof(err))) != 0) {
		log_warn("%s", err);
		return r;
	}
	k->on = true;
	log_info("kubernetes: node %s, API server %s%s%s:%u, enrolling by label %s=%s%s",
	    kc->node_name, k->api.server.ipv6 ? "[" : "", k->api.server.host,
	    k->api.server.ipv6 ? "]" : "", k->api.server.port, kc->enroll_label, KUBE_ENROLL_ON,
	    kc->allowlists ? "; policy from AllowLists" : "");
	kube_watch_start(&k->namespaces, &k->api, KUBE_NAMESPACES, NULL, kc->enroll_label,
	    &namespaces_ops, k);
	kube_watch_start(&k->pods, &k->api, KUBE_PODS, kc->node_name, kc->enroll_label, &pods_ops,
	    k);
	if (kc->allowlists)
		kube_watch_start(&k->allowlists, &k->api, KUBE_ALLOWLISTS, NULL, NULL,
		    &allowlists_ops, k);
	return 0;
}

void
kube_sync_stop(struct kube_sync *k)
{
	if (!k->on)
		return;
	kube_watch_stop(&k->pods);
	kube_watch_stop(&k->namespaces);
	kube_watch_stop(&k->allowlists);
	kube_http_cancel(k->event_req);
	k->event_req = NULL;
	entries_clear(&k->pod);
	entries_clear(&k->ns);
	entries_clear(&k->al);
	entries_clear(&k->pod_next);
	entries_clear(&k->ns_next);
	entries_clear(&k->al_next);
	kube_api_free(&k->api);
	k->on = false;
}

bool
kube_sync_ready(const struct kube_sync *k)
{
	if (!k->on)
		return true;
	return k->pods.synced && k->namespaces.synced &&
	    (!k->d->cfg.kube.allowlists || k->allowlists.synced);
}
