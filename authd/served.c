/*
 * The served set: workloads with their runtime state, reference counted,
 * and the connection slots they admit.
 */
#include "authd/served.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authd/ident.h"
#include "common/clock.h"
#include "wire/tls.h"
#include "certs/svid.h"

int
served_set_init(struct served_set *set, const struct config_limits *limits)
{
	memset(set, 0, sizeof(*set));
	if (uv_mutex_init(&set->lock) != 0)
		return -ENOMEM;
	set->limits = *limits;
	atomic_init(&set->active, 0);
	atomic_init(&set->closed, false);
	return 0;
}

void
served_set_free(struct served_set *set)
{
	served_prune(set);
	bound_set_free(&set->bound);
	uv_mutex_destroy(&set->lock);
}

static void
served_free(struct served *wl)
{
	size_t i;
	unsigned k;

	ident_unref(wl->ident);
	for (i = 0; i < wl->n_up; i++) {
		if (wl->up[i].ticket != NULL)
			for (k = 0; k < wl->set->n_loops; k++)
				tls_ticket_free(wl->up[i].ticket[k]);
		free(wl->up[i].ticket);
		free(wl->up[i].lh);
		free(wl->up[i].listening);
	}
	free(wl->lh);
	free(wl->listening);
	free(wl);
}

void
served_ref(struct served *wl)
{
	atomic_fetch_add(&wl->refs, 1);
}

void
served_unref(struct served *wl)
{
	if (wl != NULL && atomic_fetch_sub(&wl->refs, 1) == 1)
		served_free(wl);
}

struct ident *
served_ident(struct served *wl)
{
	struct ident *id;

	uv_mutex_lock(&wl->set->lock);
	id = wl->ident != NULL ? ident_ref(wl->ident) : NULL;
	uv_mutex_unlock(&wl->set->lock);
	/* Never serve with an expired certificate: refuse until a renewal lands. */
	if (id != NULL && certs_svid_not_after(id->svid) <= clock_now_ms() / 1000) {
		ident_unref(id);
		return NULL;
	}
	return id;
}

int
served_new(struct served_set *set, const struct workload *spec, const char *td, bool from_config,
    struct served **out, char *why, size_t why_size)
{
	unsigned n = set->n_loops;
	struct served *wl;
	const char *reason;
	size_t i;
	int r;

	*out = NULL;
	if ((r = workload_validate(spec, &reason)) != 0) {
		util_format(why, why_size, "%s", reason);
		return r;
	}
	if ((wl = calloc(1, sizeof(*wl))) == NULL) {
		util_format(why, why_size, "out of memory");
		return -ENOMEM;
	}
	wl->set = set;
	atomic_init(&wl->refs, 1);
	wl->spec = *spec;
	wl->n_up = spec->n_upstreams;
	if ((wl->lh = calloc(n, sizeof(*wl->lh))) == NULL ||
	    (wl->listening = calloc(n, sizeof(bool))) == NULL)
		goto nomem;
	for (i = 0; i < wl->n_up; i++) {
		struct upstream_rt *up = &wl->up[i];

		if ((up->lh = calloc(n, sizeof(*up->lh))) == NULL ||
		    (up->listening = calloc(n, sizeof(bool))) == NULL ||
		    (up->ticket = calloc(n, sizeof(*up->ticket))) == NULL)
			goto nomem;
	}
	wl->from_config = from_config;
	/* workload_validate has checked the names and addresses these parse. */
	if (util_snprintf(wl->key, sizeof(wl->key), "%s/%s", spec->ns, spec->name) != 0 ||
	    workload_spiffe_id(spec, td, &wl->id) != 0 ||
	    (spec->listen[0] != '\0' && addr_parse(spec->listen, false, &wl->listen, NULL) != 0)) {
		util_format(why, why_size, "no SPIFFE ID or listen address in trust domain %s", td);
		goto bad;
	}
	for (i = 0; i < spec->n_apps; i++)
		if (addr_parse(spec->apps[i], false, &wl->apps[i], NULL) != 0)
			goto bad;
	for (i = 0; i < wl->n_up; i++) {
		struct upstream_rt *up = &wl->up[i];

		up->wl = wl;
		up->spec = &wl->spec.upstreams[i];
		if (addr_parse(up->spec->listen, false, &up->listen, NULL) != 0 ||
		    addr_parse(up->spec->peer, false, &up->peer, NULL) != 0)
			goto bad;
		if (up->spec->expect_id[0] == '\0')
			continue;
		/* A peer outside the trust domain can never pass verification (as config.c says). */
		if (spiffe_id_parse_workload(up->spec->expect_id, strlen(up->spec->expect_id),
		    &up->expect, NULL) != 0 || !spiffe_id_in_td(&up->expect, td, strlen(td))) {
			util_format(why, why_size, "upstream %s: id %s is not a workload ID in trust "
			    "domain %s", up->spec->listen, up->spec->expect_id, td);
			goto bad;
		}
		up->has_expect = true;
	}
	*out = wl;
	return 0;
nomem:
	util_format(why, why_size, "out of memory");
	served_free(wl);
	return -ENOMEM;
bad:
	if (why[0] == '\0')
		util_format(why, why_size, "an address does not parse");
	served_free(wl);
	return -EINVAL;
}

size_t
served_addrs(const struct served *wl, const struct addr **out)
{
	size_t n = 0, i;

	if (wl->spec.listen[0] != '\0')
		out[n++] = &wl->listen;
	for (i = 0; i < wl->n_up; i++)
		out[n++] = &wl->up[i].listen;
	return n;
}

/* Give back the first n of wl's addresses (under the lock). */
static void
give_addrs(struct served *wl, size_t n)
{
	const struct addr *a[SERVED_ADDRS_MAX];

	(void)served_addrs(wl, a);
	while (n > 0)
		bound_give(&wl->set->bound, a[--n]);
}

int
served_add(struct served *wl, char *why, size_t why_size)
{
	struct served_set *set = wl->set;
	const struct addr *a[SERVED_ADDRS_MAX];
	size_t n = served_addrs(wl, a), i;
	char text[ADDR_TEXT_MAX + 1];
	int r = 0;

	uv_mutex_lock(&set->lock);
	for (i = 0; i < n && r == 0; i++) {
		if ((r = bound_take(&set->bound, a[i], NULL)) == 0)
			continue;
		if (addr_format(a[i], text, sizeof(text)) != 0)
			text[0] = '\0';
		util_format(why, why_size, "listen %s: %s%s", text, strerror(-r),
		    r == -EADDRINUSE ? " (another process serves it)" : "");
		give_addrs(wl, i);
	}
	if (r == 0) {
		wl->holds_addrs = true;
		wl->next = set->served;
		set->served = wl;
	}
	uv_mutex_unlock(&set->lock);
	return r;
}

struct served *
served_find(struct served_set *set, const char *ns, const char *name)
{
	struct served *wl;

	for (wl = set->served; wl != NULL; wl = wl->next)
		if (strcmp(wl->spec.ns, ns) == 0 && strcmp(wl->spec.name, name) == 0)
			return wl;
	return NULL;
}

void
served_remove(struct served *wl)
{
	struct served_set *set = wl->set;
	struct served **pp;

	uv_mutex_lock(&set->lock);
	for (pp = &set->served; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == wl) {
			*pp = wl->next;
			break;
		}
	}
	wl->removed = true;
	if (wl->holds_addrs) {
		wl->holds_addrs = false;
		const struct addr *a[SERVED_ADDRS_MAX];

		give_addrs(wl, served_addrs(wl, a));
	}
	wl->next = set->retired;
	set->retired = wl;
	uv_mutex_unlock(&set->lock);
}

void
served_set_unbind(struct served_set *set)
{
	const struct addr *a[SERVED_ADDRS_MAX];
	struct served *wl;

	uv_mutex_lock(&set->lock);
	for (wl = set->served; wl != NULL; wl = wl->next) {
		if (wl->holds_addrs) {
			wl->holds_addrs = false;
			give_addrs(wl, served_addrs(wl, a));
		}
	}
	uv_mutex_unlock(&set->lock);
}

void
served_prune(struct served_set *set)
{
	struct served **pp, *wl;

	uv_mutex_lock(&set->lock);
	for (pp = &set->retired; (wl = *pp) != NULL;) {
		if (atomic_load(&wl->listeners) != 0) {
			pp = &wl->next;
			continue;
		}
		*pp = wl->next;
		served_unref(wl);
	}
	uv_mutex_unlock(&set->lock);
}

bool
served_ready(const struct served *wl, int64_t now)
{
	size_t i;

	/*
	 * A renewal that keeps failing makes the workload not ready well before
	 * its SVID expires.
	 */
	if (wl->ident == NULL || certs_svid_not_after(wl->ident->svid) <= now || wl->failures > 0)
		return false;
	if (wl->spec.listen[0] != '\0' && !wl->listening[0])
		return false;
	for (i = 0; i < wl->n_up; i++)
		if (!wl->up[i].listening[0])
			return false;
	return true;
}

bool
served_admit(struct served *wl, const struct config_limits *lim, const char **limit)
{
	struct served_set *set = wl->set;

	*limit = NULL;
	if (atomic_load(&set->closed))
		return false;
	if (atomic_fetch_add(&set->active, 1) >= lim->max_connections) {
		atomic_fetch_sub(&set->active, 1);
		*limit = "max_connections";
		return false;
	}
	if (atomic_fetch_add(&wl->active, 1) >= lim->max_connections_per_workload) {
		atomic_fetch_sub(&wl->active, 1);
		atomic_fetch_sub(&set->active, 1);
		*limit = "max_connections_per_workload";
		return false;
	}
	return true;
}

void
served_release(struct served *wl)
{
	atomic_fetch_sub(&wl->active, 1);
	atomic_fetch_sub(&wl->set->active, 1);
}
