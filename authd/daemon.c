/*
 * The daemon's lifecycle (daemon.h): start, run, signals, drain, reload and
 * the revision checks that tell the loops the store changed.
 */
#include "authd/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "authd/accesslog.h"
#include "authd/admin.h"
#include "authd/admin_api.h"
#include "authd/ca_watch.h"
#include "authd/log.h"
#include "authd/metrics.h"
#include "authd/reconcile.h"
#include "authd/trust.h"
#include "common/clock.h"
#include "policy/policy.h"
#include "policy/registry.h"

/* Revision checks also run on this tick, in case a file event was missed. */
#define DAEMON_TICK_MS 1000
/* While draining: how often to look whether the last connection has ended. */
#define DAEMON_DRAIN_TICK_MS 100

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
			(void)reconcile_workloads(d);	/* refusals are kept and logged */
	}
	prev = d->policy_rev;
	if (err == 0)
		err = policy_reader_revision(d->reader, &d->policy_rev);
	store_read_result(d, err);
	if (err == 0 && prev != d->policy_rev) {
		log_info("policy revision %llu: re-checking established connections",
		    (unsigned long long)d->policy_rev);
		workers_send(&d->workers, WORKER_RECHECK);
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
	kube_sync_stop(&d->kube);
	while (d->set.served != NULL)
		reconcile_remove(d, d->set.served);
	workers_send(&d->workers, WORKER_SYNC | WORKER_CLOSE_ALL | WORKER_EXIT);
	if (d->admin != NULL) {
		admin_close(d->admin, NULL, NULL);
		d->admin = NULL;
	}
	if (d->probes != NULL) {
		admin_close(d->probes, NULL, NULL);
		d->probes = NULL;
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
	if (!d->draining && reconcile_retry_due(d))
		(void)reconcile_workloads(d);
	reconcile_status_retry(d);
	served_prune(&d->set);
	if (!d->draining) {
		/*
		 * Rules expire between commits: on the tick, re-check the
		 * connections whose allowing rule has expired (a compare each
		 * for the rest).
		 */
		if (uv_timer_get_repeat(t) == DAEMON_TICK_MS)
			workers_send(&d->workers, WORKER_RECHECK_DUE);
		return;
	}
	if (atomic_load(&d->set.active) == 0) {
		log_info("drained; exiting");
		shutdown_all(d);
		return;
	}
	if (uv_now(d->loop) >= (uint64_t)d->drain_deadline_ms && !d->drain_forced) {
		log_warn("drain deadline: closing %u connections", atomic_load(&d->set.active));
		d->drain_forced = true;
		workers_send(&d->workers, WORKER_CLOSE_ALL);
	}
}

static void
start_drain(struct daemon *d)
{
	if (d->draining)
		return;
	d->draining = true;
	atomic_store(&d->set.closed, true);
	d->drain_deadline_ms = (int64_t)uv_now(d->loop) + d->cfg.limits.drain_timeout_ms;
	log_info("draining: %u connections, deadline %u ms", atomic_load(&d->set.active),
	    d->cfg.limits.drain_timeout_ms);
	metrics_state(d->metrics, 0, 1);
	served_set_unbind(&d->set);
	workers_send(&d->workers, WORKER_DRAIN);
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
	/* config_load's errors name the file; config_finish's do not. */
	err[0] = '\0';
	if ((r = config_load(d->config_path, &c, err, sizeof(err))) == 0) {
		if (d->apply_flags != NULL)
			d->apply_flags(&c, d->flags_arg);
		if ((r = config_finish(&c, err, sizeof(err))) != 0)
			util_format(d->reload_error, sizeof(d->reload_error), "%s: %s", d->config_path,
			    err);
	} else {
		util_format(d->reload_error, sizeof(d->reload_error), "%s", err);
	}
	if (r != 0) {
		log_warn("SIGHUP: %s; keeping the running configuration", d->reload_error);
		d->reload_failed_at = clock_now_ms() / 1000;
		metrics_reload(d->metrics, 0);
		config_free(&c);
		return;
	}
	if (strcmp(c.trust_domain, d->cfg.trust_domain) != 0 || strcmp(c.store, d->cfg.store) != 0 ||
	    strcmp(c.ca_dir, d->cfg.ca_dir) != 0 || strcmp(c.admin, d->cfg.admin) != 0 ||
	    strcmp(c.probes, d->cfg.probes) != 0) {
		log_warn("SIGHUP: trust_domain, store, ca_dir, admin and probes need a restart; "
		    "keeping their running values");
		memcpy(c.trust_domain, d->cfg.trust_domain, sizeof(c.trust_domain));
		memcpy(c.store, d->cfg.store, sizeof(c.store));
		memcpy(c.ca_dir, d->cfg.ca_dir, sizeof(c.ca_dir));
		memcpy(c.admin, d->cfg.admin, sizeof(c.admin));
		memcpy(c.probes, d->cfg.probes, sizeof(c.probes));
	}
	/* Reopened even when unchanged: logrotate moves the file, then sends SIGHUP. */
	if ((r = accesslog_open(c.access_log)) != 0)
		log_warn("SIGHUP: access log %s: %s", c.access_log, strerror(-r));
	log_set_level(c.log_level);
	if (c.workers != d->cfg.workers)
		log_warn("SIGHUP: workers needs a restart; keeping %u", d->workers.n);
	if (c.store_map_size != d->cfg.store_map_size) {
		log_warn("SIGHUP: store_map_size needs a restart; keeping %llu bytes",
		    (unsigned long long)d->cfg.store_map_size);
		c.store_map_size = d->cfg.store_map_size;
	}
	uv_mutex_lock(&d->set.lock);	/* loops copy the limits under it */
	config_free(&d->cfg);
	d->cfg = c;
	d->set.limits = c.limits;
	uv_mutex_unlock(&d->set.lock);
	log_info("SIGHUP: configuration reloaded (%zu workloads in the file)", c.n_workloads);
	d->reload_error[0] = '\0';
	metrics_reload(d->metrics, 1);
	(void)reconcile_workloads(d);	/* refusals are kept and logged */
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
 * One daemon per store: a second authd started by mistake on the same
 * store says so at once (its listeners would fail to bind anyway, bound.h).
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

/* Issuance's news: a new SVID is in wl->ident. */
static void
on_issued(struct served *wl, void *arg)
{
	struct daemon *d = arg;

	workers_send(&d->workers, WORKER_SYNC);	/* the first SVID brings the listeners up */
	reconcile_status(d, wl);
}

static int
start(struct daemon *d)
{
	struct addr admin_addr;
	struct trust *trust;
	unsigned n;
	int r;

	if ((r = metrics_new(&d->metrics)) != 0)
		return r;
	if ((r = ca_watch_load(d, &trust)) != 0)
		return r;
	issuance_init(&d->issuance, d->loop, &d->set, &d->cfg, d->metrics, trust, on_issued, d);
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
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	d->set.n_loops = n;
	if ((r = workers_start(&d->workers, n, d->loop, &d->set, d->store)) != 0) {
		/* libuv's errors are -errno here; policy_strerror names both those and its own. */
		log_warn("cannot start %u event loops: %s", n, policy_strerror(r));
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
		struct admin_handlers h;

		admin_api_handlers(d, &h);
		if (addr_parse(d->cfg.admin, true, &admin_addr, NULL) != 0 ||
		    (r = admin_start(d->loop, &admin_addr, &h, &d->admin)) != 0) {
			log_warn("admin %s: %s", d->cfg.admin, strerror(-r));
			return r != 0 ? r : -EINVAL;
		}
		log_info("admin on http://%s (/metrics /healthz /readyz /workloads)", d->cfg.admin);
	}
	if (d->cfg.probes[0] != '\0') {
		struct admin_handlers h;
		struct addr probe_addr;

		/*
		 * For kubelet and Prometheus, on any address: health, readiness
		 * and counters only. /workloads (identities, addresses) stays on
		 * the loopback admin listener.
		 */
		admin_api_handlers(d, &h);
		h.workloads = NULL;
		h.allow_public = true;
		if (addr_parse(d->cfg.probes, true, &probe_addr, NULL) != 0 ||
		    (r = admin_start(d->loop, &probe_addr, &h, &d->probes)) != 0) {
			log_warn("probes %s: %s", d->cfg.probes, strerror(-r));
			return r != 0 ? r : -EINVAL;
		}
		log_info("probes on http://%s (/metrics /healthz /readyz)", d->cfg.probes);
	}
	if (policy_reader_revision(d->reader, &d->policy_rev) != 0)
		d->policy_rev = 0;
	if (registry_revision(d->store, &d->registry_rev) != 0)
		d->registry_rev = 0;
	metrics_revisions(d->metrics, d->policy_rev, d->registry_rev);
	ca_watch_start(d);
	if ((r = kube_sync_start(&d->kube, d)) != 0)
		return r;
	if ((r = reconcile_workloads(d)) != 0) {
		log_warn("not starting: an address authd must serve is not free (%s)", strerror(-r));
		return r;
	}
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
	if ((r = served_set_init(&d->set, &d->cfg.limits)) != 0)
		return r;
	r = start(d);
	if (r == 0)
		r = uv_run(d->loop, UV_RUN_DEFAULT);
	else
		shutdown_all(d);
	daemon_close_handles(d->loop);
	workers_stop(&d->workers);
	served_set_free(&d->set);
	free(d->refused);
	accesslog_close();
	metrics_free(d->metrics);
	policy_reader_free(d->reader);
	policy_store_close(d->store);
	issuance_free(&d->issuance);
	if (d->lock_fd > 0)
		close(d->lock_fd);
	return r;
}
