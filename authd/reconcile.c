/*
 * Reconciliation: the served set kept equal to the config file's
 * workloads plus the registry's (new ones served and issued, removed or
 * changed ones retired), and each new SVID reported back to the registry
 * for `authctl workload list`. Main loop only.
 */
#include "authd/reconcile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authd/daemon.h"
#include "authd/ident.h"
#include "authd/log.h"
#include "authd/metrics.h"
#include "common/clock.h"
#include "certs/svid.h"
#include "policy/policy.h"
#include "policy/registry.h"

void
reconcile_remove(struct daemon *d, struct served *wl)
{
	served_remove(wl);
	issuance_stop(wl);
	metrics_svid(d->metrics, wl->key, 0);
}

struct desired {
	struct workload *w;
	bool from_config;
	bool matched;			/* served already, unchanged */
	bool busy;			/* see struct refusal */
	const struct reg_entry *reg;	/* a registry workload's entry, else NULL */
	char why[sizeof(((struct refusal *)0)->why)];	/* not served: why */
};

/* A registry workload as read, with the refusal last recorded for it. */
struct reg_entry {
	struct workload w;
	char was_refused[WORKLOAD_REFUSED_MAX + 1];
};

struct desired_list {
	struct desired *v;
	size_t n, cap;
	struct reg_entry *reg;	/* registry copies, owned */
	size_t reg_n, reg_cap;
};

/* Whether wl would listen where a served workload already does; why says where. */
static bool
listen_conflict(struct served_set *set, const struct served *wl, char *why, size_t why_size)
{
	const struct addr *mine[SERVED_ADDRS_MAX], *theirs[SERVED_ADDRS_MAX];
	const struct served *o;
	size_t n = served_addrs(wl, mine), m, i, j;
	char text[ADDR_TEXT_MAX + 1];

	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (addr_overlaps(mine[i], mine[j])) {
				util_format(why, why_size, "two of its listeners overlap");
				return true;
			}
		}
	}
	for (o = set->served; o != NULL; o = o->next) {
		m = served_addrs(o, theirs);
		for (i = 0; i < n; i++) {
			for (j = 0; j < m; j++) {
				if (!addr_overlaps(mine[i], theirs[j]))
					continue;
				if (addr_format(mine[i], text, sizeof(text)) != 0)
					text[0] = '\0';
				util_format(why, why_size, "listen %s overlaps a listener of %s", text,
				    o->key);
				return true;
			}
		}
	}
	return false;
}

/* The refusal of key in list (n entries), or NULL. */
static const struct refusal *
find_refusal(const struct refusal *list, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i].key, key) == 0)
			return &list[i];
	return NULL;
}

/*
 * Tell the registry why a workload of it is not served, or that it is now
 * (its SVID status follows at issuance), for `authctl workload list`. Only
 * on a change: the tick's retries write nothing. A store that refuses the
 * write is logged; the next change tries again.
 */
static void
record_refusal(struct daemon *d, const struct desired *w)
{
	struct workload_svid_status st;
	size_t i;
	int err;

	memset(&st, 0, sizeof(st));
	memcpy(st.refused, w->why, sizeof(st.refused));
	/* Reasons quote names and addresses; the registry keeps printable text only. */
	for (i = 0; st.refused[i] != '\0'; i++)
		if (st.refused[i] < 0x20 || st.refused[i] > 0x7e)
			st.refused[i] = '?';
	st.updated = clock_now_ms() / 1000;
	if ((err = registry_set_status(d->store, w->w->ns, w->w->name, &st)) != 0 && err != -ENOENT)
		log_warn("store: cannot record why %s/%s is %sserved: %s", w->w->ns, w->w->name,
		    w->why[0] != '\0' ? "not " : "", policy_strerror(err));
}

/*
 * Keep this reconcile's refusals for /readyz and /workloads, logging each
 * new or changed one (the tick's retries repeat them unchanged).
 */
static void
note_refusals(struct daemon *d, const struct desired_list *l)
{
	struct refusal *v = NULL;
	size_t n = 0, i;

	for (i = 0; i < l->n; i++)
		n += l->v[i].why[0] != '\0';
	if (n > 0 && (v = calloc(n, sizeof(*v))) == NULL) {
		log_warn("out of memory recording %zu refused workloads", n);
		return;
	}
	n = 0;
	for (i = 0; i < l->n; i++) {
		const struct desired *w = &l->v[i];
		const struct refusal *old;
		struct refusal *r;

		if (w->why[0] == '\0')
			continue;
		r = &v[n++];
		util_format(r->key, sizeof(r->key), "%s/%s", w->w->ns, w->w->name);
		memcpy(r->ns, w->w->ns, sizeof(r->ns));
		memcpy(r->name, w->w->name, sizeof(r->name));
		memcpy(r->why, w->why, sizeof(r->why));
		r->from_config = w->from_config;
		r->busy = w->busy;
		old = find_refusal(d->refused, d->n_refused, r->key);
		if (old == NULL || strcmp(old->why, r->why) != 0)
			log_warn("%s (%s): not served: %s", r->key,
			    r->from_config ? "config file" : "registry", r->why);
	}
	for (i = 0; i < l->n; i++)
		if (l->v[i].reg != NULL && strcmp(l->v[i].why, l->v[i].reg->was_refused) != 0)
			record_refusal(d, &l->v[i]);
	for (i = 0; i < d->n_refused; i++)
		if (find_refusal(v, n, d->refused[i].key) == NULL)
			log_info("%s: no longer refused", d->refused[i].key);
	free(d->refused);
	d->refused = v;
	d->n_refused = n;
	metrics_refused(d->metrics, n);
}

bool
reconcile_retry_due(const struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->n_refused; i++)
		if (d->refused[i].busy)
			return true;
	return false;
}

static int
collect_registry(const struct workload *w, const struct workload_svid_status *st, void *arg)
{
	struct desired_list *l = arg;
	struct reg_entry *e;

	if (l->reg_n == l->reg_cap) {
		size_t cap = l->reg_cap ? l->reg_cap * 2 : 16;
		struct reg_entry *p = realloc(l->reg, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		l->reg = p;
		l->reg_cap = cap;
	}
	e = &l->reg[l->reg_n++];
	e->w = *w;
	memcpy(e->was_refused, st != NULL ? st->refused : "", st != NULL ? sizeof(e->was_refused) : 1);
	return 0;
}

int
reconcile_workloads(struct daemon *d)
{
	struct desired_list l;
	struct served *wl, *next;
	size_t i, j;
	int r, first_err = 0;

	memset(&l, 0, sizeof(l));
	r = registry_list(d->store, collect_registry, &l);
	if (r != 0) {
		log_warn("cannot read the workload registry: %s", policy_strerror(r));
		l.reg_n = 0;
	}
	l.cap = d->cfg.n_workloads + l.reg_n;
	if (l.cap > 0 && (l.v = calloc(l.cap, sizeof(*l.v))) == NULL) {
		free(l.reg);
		log_warn("out of memory reloading workloads");
		return -ENOMEM;
	}
	for (i = 0; i < d->cfg.n_workloads; i++)
		l.v[l.n++] = (struct desired){ .w = &d->cfg.workloads[i], .from_config = true };
	for (i = 0; i < l.reg_n; i++) {
		bool clash = false;

		for (j = 0; j < d->cfg.n_workloads; j++) {
			if (strcmp(l.reg[i].w.ns, d->cfg.workloads[j].ns) == 0 &&
			    strcmp(l.reg[i].w.name, d->cfg.workloads[j].name) == 0) {
				clash = true;
				break;
			}
		}
		l.v[l.n] = (struct desired){ .w = &l.reg[i].w, .reg = &l.reg[i] };
		if (clash)
			util_format(l.v[l.n].why, sizeof(l.v[l.n].why),
			    "the config file has a workload of this name (the file wins)");
		l.n++;
	}
	/* Drop what is gone or changed; a changed workload is re-created. */
	for (wl = d->set.served; wl != NULL; wl = next) {
		bool keep = false;

		next = wl->next;
		for (i = 0; i < l.n; i++) {
			if (strcmp(wl->spec.ns, l.v[i].w->ns) != 0 ||
			    strcmp(wl->spec.name, l.v[i].w->name) != 0 || l.v[i].why[0] != '\0')
				continue;
			if (memcmp(&wl->spec, l.v[i].w, sizeof(wl->spec)) == 0 &&
			    wl->from_config == l.v[i].from_config) {
				keep = true;
				l.v[i].matched = true;
			}
			break;
		}
		if (!keep) {
			log_info("%s: no longer served", wl->key);
			reconcile_remove(d, wl);
		}
	}
	for (i = 0; i < l.n; i++) {
		char why[sizeof(l.v[i].why)];

		if (l.v[i].matched || served_find(&d->set, l.v[i].w->ns, l.v[i].w->name) != NULL ||
		    l.v[i].why[0] != '\0')
			continue;
		if (served_new(&d->set, l.v[i].w, d->cfg.trust_domain, l.v[i].from_config, &wl,
		    l.v[i].why, sizeof(l.v[i].why)) != 0)
			continue;
		if (listen_conflict(&d->set, wl, l.v[i].why, sizeof(l.v[i].why))) {
			served_unref(wl);
			continue;
		}
		if ((r = served_add(wl, why, sizeof(why))) != 0) {
			memcpy(l.v[i].why, why, sizeof(why));
			l.v[i].busy = r == -EADDRINUSE;
			if (first_err == 0)
				first_err = r;
			served_unref(wl);
			continue;
		}
		log_info("%s: serving %s", wl->key, wl->id.str);
		issuance_request(&d->issuance, wl);
	}
	note_refusals(d, &l);
	free(l.v);
	free(l.reg);
	/* Removed workloads' listeners close; limits from a reload apply. */
	workers_send(&d->workers, WORKER_SYNC);
	return first_err;
}

/*
 * Write wl's pending SVID status to the registry. On the loop thread:
 * registry calls must not run concurrently in one process. One commit per
 * renewal is a small price. A failure (disk or map full) keeps it pending
 * for the tick to retry, and /readyz says why meanwhile.
 */
static bool
write_status(struct daemon *d, struct served *wl)
{
	char why[sizeof(d->store_write_error)];
	int err = registry_set_status(d->store, wl->spec.ns, wl->spec.name, &wl->status);

	if (err == 0 || err == -ENOENT) {
		/* -ENOENT: removed from the registry meanwhile; nothing to record. */
		wl->status_pending = false;
		return true;
	}
	/* A truncated reason is still a reason; logged when it changes, not every retry. */
	util_format(why, sizeof(why), "cannot record the SVID of %s: %s", wl->key,
	    policy_strerror(err));
	if (strcmp(why, d->store_write_error) != 0)
		log_warn("store: %s (retrying every second)", why);
	memcpy(d->store_write_error, why, sizeof(why));
	return false;
}

void
reconcile_status(struct daemon *d, struct served *wl)
{
	const struct certs_svid *svid = wl->ident->svid;
	struct workload_svid_status *st = &wl->status;

	if (wl->from_config)
		return;
	memset(st, 0, sizeof(*st));
	if (util_snprintf(st->spiffe_id, sizeof(st->spiffe_id), "%s", wl->id.str) != 0 ||
	    util_snprintf(st->serial, sizeof(st->serial), "%s", certs_svid_serial(svid)) != 0)
		return;
	st->not_after = certs_svid_not_after(svid);
	st->updated = clock_now_ms() / 1000;
	wl->status_pending = true;
	if (write_status(d, wl) && d->store_write_error[0] != '\0')
		reconcile_status_retry(d);
}

void
reconcile_status_retry(struct daemon *d)
{
	struct served *wl;
	bool ok = true;

	for (wl = d->set.served; wl != NULL && ok; wl = wl->next)
		if (wl->status_pending)
			ok = write_status(d, wl);
	if (ok && d->store_write_error[0] != '\0') {
		log_info("store: SVID statuses recorded again");
		d->store_write_error[0] = '\0';
	}
}

