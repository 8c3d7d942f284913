/*
 * The daemon: composes the store, the CA, the workloads, the listeners and
 * the admin endpoint on one libuv loop, and handles what changes under it
 * (registry and policy commits, SIGHUP, SIGTERM).
 *
 * Served workloads are reference counted: the daemon's list, each open
 * listener or timer handle and each connection hold one, so a workload
 * removed while connections run stays valid until the last one ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/un.h>

#include "authd/accesslog.h"
#include "authd/admin.h"
#include "authd/log.h"
#include "authd/proxy.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "wire/tls.h"
#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/info.h"
#include "certs/seal.h"
#include "certs/svid.h"
#include "policy/policy.h"
#include "policy/registry.h"

/* Revision checks also run on this tick, in case a file event was missed. */
#define DAEMON_TICK_MS 1000
/* While draining: how often to look whether the last connection has ended. */
#define DAEMON_DRAIN_TICK_MS 100

/* ---- Served workloads ---------------------------------------------------- */

static void
served_free(struct served *wl)
{
	struct daemon *d = wl->d;
	size_t i;
	unsigned k;

	ident_unref(wl->ident);
	for (i = 0; i < wl->n_up; i++) {
		if (wl->up[i].ticket != NULL)
			for (k = 0; k < d->n_workers; k++)
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
served_unref(struct served *wl)
{
	if (atomic_fetch_sub(&wl->refs, 1) == 1)
		served_free(wl);
}

struct ident *
served_ident(struct served *wl)
{
	struct ident *id;

	uv_mutex_lock(&wl->d->lock);
	id = wl->ident != NULL ? ident_ref(wl->ident) : NULL;
	uv_mutex_unlock(&wl->d->lock);
	/* Never serve with an expired certificate: refuse until a renewal lands. */
	if (id != NULL && certs_svid_not_after(id->svid) <= clock_now_ms() / 1000) {
		ident_unref(id);
		return NULL;
	}
	return id;
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct served *wl = h->data;

	atomic_fetch_sub(&wl->listeners, 1);
	served_unref(wl);
}

void
listener_close(union listener *lh, struct served *wl)
{
	if (uv_is_closing(&lh->h))
		return;
	lh->h.data = wl;
	uv_close(&lh->h, on_listener_closed);
}

static int
served_new(struct daemon *d, const struct workload *spec, bool from_config, struct served **out)
{
	struct served *wl;
	const char *why;
	size_t i;
	int r;

	*out = NULL;
	if ((r = workload_validate(spec, &why)) != 0) {
		log_warn("workload %s/%s: %s", spec->ns, spec->name, why);
		return r;
	}
	if ((wl = calloc(1, sizeof(*wl))) == NULL)
		return -ENOMEM;
	wl->d = d;
	atomic_init(&wl->refs, 1);
	wl->spec = *spec;
	wl->n_up = spec->n_upstreams;
	if ((wl->lh = calloc(d->n_workers, sizeof(*wl->lh))) == NULL ||
	    (wl->listening = calloc(d->n_workers, sizeof(bool))) == NULL)
		goto nomem;
	for (i = 0; i < wl->n_up; i++) {
		struct upstream_rt *up = &wl->up[i];

		if ((up->lh = calloc(d->n_workers, sizeof(*up->lh))) == NULL ||
		    (up->listening = calloc(d->n_workers, sizeof(bool))) == NULL ||
		    (up->ticket = calloc(d->n_workers, sizeof(*up->ticket))) == NULL)
			goto nomem;
	}
	wl->from_config = from_config;
	if (util_snprintf(wl->key, sizeof(wl->key), "%s/%s", spec->ns, spec->name) != 0 ||
	    (r = workload_spiffe_id(spec, d->cfg.trust_domain, &wl->id)) != 0 ||
	    (spec->listen[0] != '\0' && addr_parse(spec->listen, false, &wl->listen, NULL) != 0))
		goto bad;
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
		if (up->spec->expect_id[0] != '\0') {
			if (spiffe_id_parse_workload(up->spec->expect_id, strlen(up->spec->expect_id),
			    &up->expect, NULL) != 0)
				goto bad;
			up->has_expect = true;
		}
	}
	*out = wl;
	return 0;
nomem:
	served_free(wl);
	return -ENOMEM;
bad:
	served_free(wl);
	return -EINVAL;
}

/*
 * Stop serving wl: it moves to the retired list, where each worker closes
 * its listeners on its next WORKER_SYNC (the caller sends it); the list's
 * reference goes when every listener has closed (prune_retired).
 */
static void
served_remove(struct daemon *d, struct served *wl)
{
	struct served **pp;

	uv_mutex_lock(&d->lock);
	for (pp = &d->served; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == wl) {
			*pp = wl->next;
			break;
		}
	}
	wl->removed = true;
	wl->next = d->retired;
	d->retired = wl;
	uv_mutex_unlock(&d->lock);
	identity_stop(wl);
	metrics_svid(d->metrics, wl->key, 0);
}

static void
prune_retired(struct daemon *d)
{
	struct served **pp, *wl;

	uv_mutex_lock(&d->lock);
	for (pp = &d->retired; (wl = *pp) != NULL;) {
		if (atomic_load(&wl->listeners) != 0) {
			pp = &wl->next;
			continue;
		}
		*pp = wl->next;
		served_unref(wl);
	}
	uv_mutex_unlock(&d->lock);
}

static struct served *
served_find(struct daemon *d, const char *ns, const char *name)
{
	struct served *wl;

	for (wl = d->served; wl != NULL; wl = wl->next)
		if (strcmp(wl->spec.ns, ns) == 0 && strcmp(wl->spec.name, name) == 0)
			return wl;
	return NULL;
}

bool
served_ready(const struct served *wl, int64_t now)
{
	size_t i;

	/*
	 * A renewal that keeps failing makes the workload not ready well before
	 * its SVID expires; the main loop's worker (0) stands for all, as every
	 * worker binds the same addresses.
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

static void
count_limit(struct worker *w, enum metrics_dir dir, const char *limit)
{
	uv_mutex_lock(&w->mlock);
	metrics_count(w->metrics, METRICS_LIMITS, dir, limit, NULL, 1);
	uv_mutex_unlock(&w->mlock);
}

/*
 * Reserve a connection slot, total and per workload. Increment first, then
 * compare, so loops admitting at the same moment cannot overshoot a limit.
 */
bool
daemon_admit(struct worker *w, struct served *wl, enum metrics_dir dir)
{
	struct daemon *d = w->d;

	if (w->draining || d->draining)
		return false;
	if (atomic_fetch_add(&d->active, 1) >= w->limits.max_connections) {
		atomic_fetch_sub(&d->active, 1);
		count_limit(w, dir, "max_connections");
		return false;
	}
	if (atomic_fetch_add(&wl->active, 1) >= w->limits.max_connections_per_workload) {
		atomic_fetch_sub(&wl->active, 1);
		atomic_fetch_sub(&d->active, 1);
		count_limit(w, dir, "max_connections_per_workload");
		return false;
	}
	return true;
}

void
daemon_release(struct served *wl)
{
	atomic_fetch_sub(&wl->active, 1);
	atomic_fetch_sub(&wl->d->active, 1);
}

/* ---- Keeping the served set equal to config + registry ------------------- */

struct desired {
	struct workload *w;
	bool from_config;
	bool matched;
};

struct desired_list {
	struct desired *v;
	size_t n, cap;
	struct workload *reg;	/* registry copies, owned */
	size_t reg_n, reg_cap;
};

/*
 * Whether two listen addresses would share connections. Every loop binds
 * with SO_REUSEPORT, so the kernel would let two workloads bind one
 * address and split its connections between them: a peer could reach the
 * wrong identity's listener. The same port with a wildcard on either side
 * overlaps too.
 */
static bool
addrs_overlap(const struct addr *a, const struct addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return false;
	if (a->ss.ss_family == AF_UNIX)
		return strcmp(((const struct sockaddr_un *)&a->ss)->sun_path,
		    ((const struct sockaddr_un *)&b->ss)->sun_path) == 0;
	if (addr_port(a) != addr_port(b))
		return false;
	if (a->ss.ss_family == AF_INET) {
		in_addr_t x = ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr;
		in_addr_t y = ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;

		return x == y || x == htonl(INADDR_ANY) || y == htonl(INADDR_ANY);
	} else {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
		const struct in6_addr *y = &((const struct sockaddr_in6 *)&b->ss)->sin6_addr;

		return memcmp(x, y, sizeof(*x)) == 0 || IN6_IS_ADDR_UNSPECIFIED(x) ||
		    IN6_IS_ADDR_UNSPECIFIED(y);
	}
}

/* The addresses wl listens on: its mesh listener and its upstreams'. */
static size_t
listen_addrs(const struct served *wl, const struct addr **out)
{
	size_t n = 0, i;

	if (wl->spec.listen[0] != '\0')
		out[n++] = &wl->listen;
	for (i = 0; i < wl->n_up; i++)
		out[n++] = &wl->up[i].listen;
	return n;
}

/* Whether wl would listen where a served workload already does (logged). */
static bool
listen_conflict(struct daemon *d, const struct served *wl)
{
	const struct addr *mine[WORKLOAD_UPSTREAMS_MAX + 1], *theirs[WORKLOAD_UPSTREAMS_MAX + 1];
	const struct served *o;
	size_t n = listen_addrs(wl, mine), m, i, j;
	char text[ADDR_TEXT_MAX + 1];

	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (addrs_overlap(mine[i], mine[j])) {
				log_warn("%s: not served: two of its listeners overlap", wl->key);
				return true;
			}
		}
	}
	for (o = d->served; o != NULL; o = o->next) {
		m = listen_addrs(o, theirs);
		for (i = 0; i < n; i++) {
			for (j = 0; j < m; j++) {
				if (!addrs_overlap(mine[i], theirs[j]))
					continue;
				if (addr_format(mine[i], text, sizeof(text)) != 0)
					text[0] = '\0';
				log_warn("%s: not served: %s overlaps a listener of %s", wl->key, text,
				    o->key);
				return true;
			}
		}
	}
	return false;
}

static int
collect_registry(const struct workload *w, const struct workload_svid_status *st, void *arg)
{
	struct desired_list *l = arg;

	(void)st;
	if (l->reg_n == l->reg_cap) {
		size_t cap = l->reg_cap ? l->reg_cap * 2 : 16;
		struct workload *p = realloc(l->reg, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		l->reg = p;
		l->reg_cap = cap;
	}
	l->reg[l->reg_n++] = *w;
	return 0;
}

static void
sync_workloads(struct daemon *d)
{
	struct desired_list l;
	struct served *wl, *next;
	size_t i, j;
	int r;

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
		return;
	}
	for (i = 0; i < d->cfg.n_workloads; i++)
		l.v[l.n++] = (struct desired){ &d->cfg.workloads[i], true, false };
	for (i = 0; i < l.reg_n; i++) {
		bool clash = false;

		for (j = 0; j < d->cfg.n_workloads; j++) {
			if (strcmp(l.reg[i].ns, d->cfg.workloads[j].ns) == 0 &&
			    strcmp(l.reg[i].name, d->cfg.workloads[j].name) == 0) {
				clash = true;
				break;
			}
		}
		if (clash) {
			log_warn("registry workload %s/%s is also in the config file; the file wins",
			    l.reg[i].ns, l.reg[i].name);
			continue;
		}
		l.v[l.n++] = (struct desired){ &l.reg[i], false, false };
	}
	/* Drop what is gone or changed; a changed workload is re-created. */
	for (wl = d->served; wl != NULL; wl = next) {
		bool keep = false;

		next = wl->next;
		for (i = 0; i < l.n; i++) {
			if (strcmp(wl->spec.ns, l.v[i].w->ns) != 0 ||
			    strcmp(wl->spec.name, l.v[i].w->name) != 0)
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
			served_remove(d, wl);
		}
	}
	for (i = 0; i < l.n; i++) {
		if (l.v[i].matched || served_find(d, l.v[i].w->ns, l.v[i].w->name) != NULL)
			continue;
		if (served_new(d, l.v[i].w, l.v[i].from_config, &wl) != 0)
			continue;
		if (listen_conflict(d, wl)) {
			served_free(wl);
			continue;
		}
		uv_mutex_lock(&d->lock);
		wl->next = d->served;
		d->served = wl;
		uv_mutex_unlock(&d->lock);
		log_info("%s: serving %s", wl->key, wl->id.str);
		identity_request(wl);
	}
	free(l.v);
	free(l.reg);
	/* Removed workloads' listeners close; limits from a reload apply. */
	workers_send(d, WORKER_SYNC);
}

/*
 * Remember (for /readyz) and log, once per change, why reading the store
 * failed; err 0 clears it. Meanwhile the loops keep what they decided and
 * refuse what they cannot check.
 */
static void
store_read_result(struct daemon *d, int err)
{
	char why[sizeof(d->store_read_error)];

	if (err == 0) {
		if (d->store_read_error[0] != '\0')
			log_info("store: readable again");
		d->store_read_error[0] = '\0';
		return;
	}
	util_format(why, sizeof(why), "cannot read %s: %s", d->cfg.store,
	    policy_strerror(err));
	if (strcmp(why, d->store_read_error) != 0)
		log_warn("store: %s; new connections are refused until it reads again", why);
	memcpy(d->store_read_error, why, sizeof(why));
}

static void
check_revisions(struct daemon *d)
{
	uint64_t prev, reg = 0;
	int err;

	err = registry_revision(d->store, &reg);
	if (err == 0 && reg != d->registry_rev) {
		d->registry_rev = reg;
		if (!d->draining)
			sync_workloads(d);
	}
	prev = d->policy_rev;
	if (err == 0)
		err = policy_reader_revision(d->reader, &d->policy_rev);
	store_read_result(d, err);
	if (err == 0 && prev != d->policy_rev) {
		log_info("policy revision %llu: re-checking established connections",
		    (unsigned long long)d->policy_rev);
		workers_send(d, WORKER_RECHECK);
	}
	metrics_revisions(d->metrics, d->policy_rev, d->registry_rev);
}

/* ---- Lifecycle ------------------------------------------------------------ */

/* Close h unless it was never initialised (a start that failed early) or is closing. */
static void
close_handle(uv_handle_t *h)
{
	if (h->type != UV_UNKNOWN_HANDLE && h->loop != NULL && !uv_is_closing(h))
		uv_close(h, NULL);
}

static void
shutdown_all(struct daemon *d)
{
	while (d->served != NULL)
		served_remove(d, d->served);
	workers_send(d, WORKER_SYNC | WORKER_CLOSE_ALL | WORKER_EXIT);
	if (d->admin != NULL) {
		admin_close(d->admin, NULL, NULL);
		d->admin = NULL;
	}
	close_handle((uv_handle_t *)&d->sig_term);
	close_handle((uv_handle_t *)&d->sig_int);
	close_handle((uv_handle_t *)&d->sig_hup);
	close_handle((uv_handle_t *)&d->tick);
	close_handle((uv_handle_t *)&d->store_watch);
	close_handle((uv_handle_t *)&d->ca_watch);
	close_handle((uv_handle_t *)&d->ca_debounce);
	for (size_t i = 0; i < d->n_dev_apps; i++)
		close_handle((uv_handle_t *)&d->dev_apps[i]);
}

static void
on_tick(uv_timer_t *t)
{
	struct daemon *d = t->data;

	check_revisions(d);
	identity_retry_status(d);
	prune_retired(d);
	if (!d->draining) {
		/*
		 * Rules expire between commits: on the tick, re-check the
		 * connections whose allowing rule has expired (a compare each
		 * for the rest).
		 */
		if (uv_timer_get_repeat(t) == DAEMON_TICK_MS)
			workers_send(d, WORKER_RECHECK_DUE);
		return;
	}
	if (atomic_load(&d->active) == 0) {
		log_info("drained; exiting");
		shutdown_all(d);
		return;
	}
	if (uv_now(d->loop) >= (uint64_t)d->drain_deadline_ms && !d->drain_forced) {
		log_warn("drain deadline: closing %u connections", atomic_load(&d->active));
		d->drain_forced = true;
		workers_send(d, WORKER_CLOSE_ALL);
	}
}

static void
start_drain(struct daemon *d)
{
	if (d->draining)
		return;
	d->draining = true;
	d->drain_deadline_ms = (int64_t)uv_now(d->loop) + d->cfg.limits.drain_timeout_ms;
	log_info("draining: %u connections, deadline %u ms", atomic_load(&d->active),
	    d->cfg.limits.drain_timeout_ms);
	metrics_state(d->metrics, 0, 1);
	workers_send(d, WORKER_DRAIN);
	/* Drain progress is checked often; connections end on any worker's thread. */
	uv_timer_start(&d->tick, on_tick, 0, DAEMON_DRAIN_TICK_MS);
}

static void
reload(struct daemon *d)
{
	struct config c;
	char err[512];
	int r;

	if (d->config_path == NULL) {
		log_info("SIGHUP: no config file to reload");
		return;
	}
	config_defaults(&c);
	if ((r = config_load(d->config_path, &c, err, sizeof(err))) != 0 ||
	    (d->apply_flags != NULL && (d->apply_flags(&c, d->flags_arg), 0)) ||
	    (r = config_finish(&c, err, sizeof(err))) != 0) {
		log_warn("SIGHUP: %s: %s; keeping the running configuration", d->config_path, err);
		config_free(&c);
		return;
	}
	if (strcmp(c.trust_domain, d->cfg.trust_domain) != 0 || strcmp(c.store, d->cfg.store) != 0 ||
	    strcmp(c.ca_dir, d->cfg.ca_dir) != 0 || strcmp(c.admin, d->cfg.admin) != 0) {
		log_warn("SIGHUP: trust_domain, store, ca_dir and admin need a restart; "
		    "keeping their running values");
		memcpy(c.trust_domain, d->cfg.trust_domain, sizeof(c.trust_domain));
		memcpy(c.store, d->cfg.store, sizeof(c.store));
		memcpy(c.ca_dir, d->cfg.ca_dir, sizeof(c.ca_dir));
		memcpy(c.admin, d->cfg.admin, sizeof(c.admin));
	}
	/* Reopened even when unchanged: logrotate moves the file, then sends SIGHUP. */
	if ((r = accesslog_open(c.access_log)) != 0)
		log_warn("SIGHUP: access log %s: %s", c.access_log, strerror(-r));
	log_set_level(c.log_level);
	if (c.workers != d->cfg.workers)
		log_warn("SIGHUP: workers needs a restart; keeping %u", d->n_workers);
	if (c.store_map_size != d->cfg.store_map_size) {
		log_warn("SIGHUP: store_map_size needs a restart; keeping %llu bytes",
		    (unsigned long long)d->cfg.store_map_size);
		c.store_map_size = d->cfg.store_map_size;
	}
	uv_mutex_lock(&d->lock);	/* workers copy the limits under it */
	config_free(&d->cfg);
	d->cfg = c;
	uv_mutex_unlock(&d->lock);
	log_info("SIGHUP: configuration reloaded (%zu workloads in the file)", c.n_workloads);
	sync_workloads(d);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP)
		reload(d);
	else
		start_drain(d);
}

static void
on_store_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	(void)name;
	(void)events;
	if (status == 0)
		check_revisions(h->data);
}

/* ---- Admin handlers ------------------------------------------------------- */

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
	for (wl = d->served; wl != NULL; wl = wl->next) {
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
	workers_metrics(d, all);
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
	for (wl = d->served; wl != NULL; wl = wl->next) {
		strbuf_puts(out, wl == d->served ? "\n{" : ",\n{");
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
		strbuf_printf(out, ",\"ready\":%s,\"active_connections\":%u}",
		    served_ready(wl, now) ? "true" : "false", atomic_load(&wl->active));
	}
	strbuf_puts(out, d->served != NULL ? "\n]\n" : "]\n");
}

/* ---- Start and run ---------------------------------------------------------- */

/* The store's directory (the state dir, usually) is created 0700 when missing. */
static int
make_parent(const char *path)
{
	char dir[4096];
	char *slash;

	if (util_snprintf(dir, sizeof(dir), "%s", path) != 0)
		return -ENAMETOOLONG;
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	return util_mkdir_p(dir, 0700);
}

/*
 * One daemon per store. Its listeners use SO_REUSEPORT (one per loop), so a
 * second authd started by mistake would bind the same ports and silently
 * take half the connections; the lock makes it refuse to start instead.
 */
static int
lock_store(struct daemon *d)
{
	char path[4200];
	int fd;

	if (util_snprintf(path, sizeof(path), "%s.authd-lock", d->cfg.store) != 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_warn("%s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;

		close(fd);
		if (err == EWOULDBLOCK)
			log_warn("another authd is running with the store %s", d->cfg.store);
		else
			log_warn("%s: %s", path, strerror(err));
		return -err;
	}
	d->lock_fd = fd;	/* held until exit */
	return 0;
}

static int
start(struct daemon *d)
{
	struct addr admin_addr;
	unsigned n;
	int r;

	if ((r = metrics_new(&d->metrics)) != 0)
		return r;
	if ((r = trust_load(d, &d->trust)) != 0)
		return r;
	if ((r = make_parent(d->cfg.store)) != 0) {
		log_warn("cannot create the directory of %s: %s", d->cfg.store, strerror(-r));
		return r;
	}
	if ((r = lock_store(d)) != 0)
		return r;
	/* Mapped once: a remap under another loop's reader would crash it. */
	if ((r = policy_store_open(d->cfg.store, POLICY_OPEN_CREATE | POLICY_OPEN_FIXED_MAP,
	    d->cfg.store_map_size, &d->store)) != 0) {
		log_warn("policy store %s: %s", d->cfg.store, policy_strerror(r));
		return r;
	}
	if ((r = policy_reader_new(d->store, &d->reader)) != 0) {
		log_warn("policy store %s: %s", d->cfg.store, policy_strerror(r));
		return r;
	}
	n = d->cfg.workers != 0 ? d->cfg.workers : uv_available_parallelism();
	if (n > PROXY_WORKERS_MAX)
		n = PROXY_WORKERS_MAX;
	if ((r = workers_start(d, n)) != 0) {
		log_warn("cannot start %u event loops: %s", n, strerror(r < 0 ? -r : EINVAL));
		return r;
	}
	log_info("%u event loop%s", n, n == 1 ? "" : "s");
	if ((r = accesslog_open(d->cfg.access_log)) != 0) {
		log_warn("access log %s: %s", d->cfg.access_log, strerror(-r));
		return r;
	}
	uv_signal_init(d->loop, &d->sig_term);
	uv_signal_init(d->loop, &d->sig_int);
	uv_signal_init(d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	uv_signal_start(&d->sig_int, on_signal, SIGINT);
	uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
	uv_timer_init(d->loop, &d->tick);
	d->tick.data = d;
	uv_timer_start(&d->tick, on_tick, DAEMON_TICK_MS, DAEMON_TICK_MS);
	uv_fs_event_init(d->loop, &d->store_watch);
	d->store_watch.data = d;
	if ((r = uv_fs_event_start(&d->store_watch, on_store_event, d->cfg.store, 0)) < 0)
		log_warn("cannot watch %s (%s); changes are seen within %d ms", d->cfg.store,
		    uv_strerror(r), DAEMON_TICK_MS);
	if (d->cfg.admin[0] != '\0') {
		struct admin_handlers h = {
			.metrics = admin_metrics,
			.readyz = admin_readyz,
			.workloads = admin_workloads,
			.arg = d,
		};

		if (addr_parse(d->cfg.admin, true, &admin_addr, NULL) != 0 ||
		    (r = admin_start(d->loop, &admin_addr, &h, &d->admin)) != 0) {
			log_warn("admin %s: %s", d->cfg.admin, strerror(-r));
			return r != 0 ? r : -EINVAL;
		}
		log_info("admin on http://%s (/metrics /healthz /readyz /workloads)", d->cfg.admin);
	}
	if (policy_reader_revision(d->reader, &d->policy_rev) != 0)
		d->policy_rev = 0;
	if (registry_revision(d->store, &d->registry_rev) != 0)
		d->registry_rev = 0;
	metrics_revisions(d->metrics, d->policy_rev, d->registry_rev);
	trust_watch(d);
	sync_workloads(d);
	return 0;
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void
daemon_close_handles(uv_loop_t *loop)
{
	uv_walk(loop, close_walk, NULL);
	while (uv_run(loop, UV_RUN_DEFAULT) != 0)
		;
}

int
daemon_run(struct daemon *d)
{
	int r;

	log_info("authd starting: trust domain %s, store %s", d->cfg.trust_domain, d->cfg.store);
	if (uv_mutex_init(&d->lock) != 0)
		return -ENOMEM;
	r = start(d);
	if (r == 0)
		r = uv_run(d->loop, UV_RUN_DEFAULT);
	else
		shutdown_all(d);
	daemon_close_handles(d->loop);
	workers_stop(d);
	prune_retired(d);
	accesslog_close();
	metrics_free(d->metrics);
	policy_reader_free(d->reader);
	policy_store_close(d->store);
	trust_unref(d->trust);
	if (d->lock_fd > 0)
		close(d->lock_fd);
	uv_mutex_destroy(&d->lock);
	return r;
}
