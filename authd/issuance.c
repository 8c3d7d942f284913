/*
 * Workload identities: SVIDs issued on libuv's thread pool, one signing job
 * at a time (the CA handle is not shared between threads), renewed at
 * half-life with jitter, retried with backoff when signing fails.
 *
 * A new SVID becomes a new struct ident (the SVID plus the TLS configs built
 * on it); new handshakes use it at once, established connections keep the
 * one they started with until they end.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "authd/log.h"
#include "authd/proxy.h"
#include "common/clock.h"
#include "wire/tls.h"
#include "policy/registry.h"
#include "policy/workload.h"
#include "certs/ca.h"
#include "certs/error.h"
#include "certs/schedule.h"
#include "certs/svid.h"
#include "policy/policy.h"

/* Renew no later than this long before expiry, so a failure has time for retries. */
#define IDENTITY_MARGIN 30
/* Retry delays after failures: 1 s doubling up to a minute. */
#define IDENTITY_RETRY_MAX_MS 60000

struct ident *
ident_ref(struct ident *id)
{
	atomic_fetch_add(&id->refs, 1);
	return id;
}

void
ident_unref(struct ident *id)
{
	if (id == NULL || atomic_fetch_sub(&id->refs, 1) != 1)
		return;
	tls_config_free(id->server);
	tls_config_free(id->client);
	certs_svid_free(id->svid);
	trust_unref(id->trust);
	free(id);
}

static void start_next(struct daemon *d);

static void
on_renew_timer(uv_timer_t *t)
{
	identity_request(t->data);
}

static void
schedule(struct served *wl, uint64_t ms)
{
	if (!wl->renew_open) {
		uv_timer_init(wl->d->loop, &wl->renew);
		wl->renew.data = wl;
		wl->renew_open = true;
		atomic_fetch_add(&wl->refs, 1);
	}
	uv_timer_start(&wl->renew, on_renew_timer, ms, 0);
}

static void
on_renew_closed(uv_handle_t *h)
{
	served_unref(h->data);
}

void
identity_stop(struct served *wl)
{
	if (wl->renew_open) {
		wl->renew_open = false;
		uv_close((uv_handle_t *)&wl->renew, on_renew_closed);
	}
}

bool
identity_busy(const struct daemon *d)
{
	return d->issue_running;
}

void
identity_request(struct served *wl)
{
	struct daemon *d = wl->d;

	if (wl->queued || wl->removed)
		return;
	if (d->issue_len == WORKLOAD_MAX) {
		schedule(wl, 1000);	/* cannot happen: one slot per workload */
		return;
	}
	wl->queued = true;
	atomic_fetch_add(&wl->refs, 1);
	d->issue_queue[(d->issue_head + d->issue_len++) % WORKLOAD_MAX] = wl;
	start_next(d);
}

/* On the thread pool: key generation and signing, the slow part. */
static void
issue_work(uv_work_t *w)
{
	struct daemon *d = w->data;

	d->issue_svid = NULL;
	d->issue_err = certs_svid_new(d->issue_trust->ca, &d->issue_wl->id, d->issue_ttl,
	    clock_now_ms() / 1000, &d->issue_svid);
}

/*
 * Write wl's pending SVID status to the registry. On the loop thread:
 * registry calls must not run concurrently in one process. One commit per
 * renewal is a small price. A failure (disk or map full) keeps it pending
 * for the tick to retry, and /readyz says why meanwhile.
 */
static bool
write_status(struct served *wl)
{
	struct daemon *d = wl->d;
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

/* Report a new SVID for `authctl workload list` (registry workloads only). */
static void
record_status(struct served *wl, const struct certs_svid *svid)
{
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
	if (write_status(wl) && wl->d->store_write_error[0] != '\0')
		identity_retry_status(wl->d);
}

void
identity_retry_status(struct daemon *d)
{
	struct served *wl;
	bool ok = true;

	for (wl = d->served; wl != NULL && ok; wl = wl->next)
		if (wl->status_pending)
			ok = write_status(wl);
	if (ok && d->store_write_error[0] != '\0') {
		log_info("store: SVID statuses recorded again");
		d->store_write_error[0] = '\0';
	}
}

static int
make_ident(struct served *wl, struct trust *t, struct certs_svid *svid, struct ident **out)
{
	struct daemon *d = wl->d;
	struct ident *id = calloc(1, sizeof(*id));
	int r = 0;

	*out = NULL;
	if (id == NULL)
		return -ENOMEM;
	atomic_init(&id->refs, 1);
	id->trust = trust_ref(t);
	id->svid = svid;
	if (wl->spec.listen[0] != '\0')
		r = tls_config_new(TLS_SERVER, svid, t->bundle, d->cfg.trust_domain, &id->server);
	if (r == 0 && wl->n_up > 0)
		r = tls_config_new(TLS_CLIENT, svid, t->bundle, d->cfg.trust_domain, &id->client);
	if (r != 0) {
		id->svid = NULL;	/* the caller still owns it */
		ident_unref(id);
		return r;
	}
	*out = id;
	return 0;
}

static void
issue_done(uv_work_t *w, int status)
{
	struct daemon *d = w->data;
	struct served *wl = d->issue_wl;
	struct certs_svid *svid = d->issue_svid;
	struct trust *t = d->issue_trust;
	struct ident *id = NULL;
	int err = status < 0 ? -ECANCELED : d->issue_err;

	d->issue_running = false;
	d->issue_trust = NULL;
	d->issue_wl = NULL;
	d->issue_svid = NULL;
	wl->queued = false;
	if (err == 0 && !wl->removed && t != d->trust) {
		/* The CA rolled over while this was signed: sign again under the new one. */
		certs_svid_free(svid);
		trust_unref(t);
		served_unref(wl);
		identity_request(wl);
		start_next(d);
		return;
	}
	if (err == 0 && !wl->removed && (err = make_ident(wl, t, svid, &id)) == 0)
		svid = NULL;
	certs_svid_free(svid);
	trust_unref(t);
	if (wl->removed) {
		ident_unref(id);
	} else if (err != 0) {
		uint64_t delay = 1000u << (wl->failures < 6 ? wl->failures : 6);

		wl->failures++;
		if (delay > IDENTITY_RETRY_MAX_MS)
			delay = IDENTITY_RETRY_MAX_MS;
		metrics_count(d->metrics, METRICS_SVID_ISSUED, METRICS_INBOUND, "failed", NULL, 1);
		log_warn("%s: SVID issuance failed (%s); retrying in %llu ms", wl->key,
		    tls_strerror(err), (unsigned long long)delay);
		schedule(wl, delay);
	} else {
		int64_t nb = certs_svid_not_before(id->svid), na = certs_svid_not_after(id->svid);
		int64_t now = clock_now_ms() / 1000, at;
		struct ident *old;

		/* Workers take references under the lock; new handshakes use id at once. */
		uv_mutex_lock(&d->lock);
		old = wl->ident;
		wl->ident = id;
		uv_mutex_unlock(&d->lock);
		ident_unref(old);
		wl->failures = 0;
		metrics_count(d->metrics, METRICS_SVID_ISSUED, METRICS_INBOUND, "ok", NULL, 1);
		metrics_svid(d->metrics, wl->key, na);
		log_info("%s: SVID %s serial %s, expires in %llds", wl->key, wl->id.str,
		    certs_svid_serial(id->svid), (long long)(na - now));
		/*
		 * Half of the life left from now, not from the back-dated
		 * notBefore (that is for clock skew, not lifetime).
		 */
		at = certs_renew_at(now > nb ? now : nb, na, na - now > 4 * IDENTITY_MARGIN ?
		    IDENTITY_MARGIN : 0, randombytes_random());
		schedule(wl, at > now ? (uint64_t)(at - now) * 1000 : 1000);
		workers_send(d, WORKER_SYNC);	/* the first SVID brings the listeners up */
		record_status(wl, id->svid);
	}
	served_unref(wl);
	start_next(d);
}

static void
start_next(struct daemon *d)
{
	struct served *wl;

	while (!d->issue_running && d->issue_len > 0) {
		wl = d->issue_queue[d->issue_head];
		d->issue_head = (d->issue_head + 1) % WORKLOAD_MAX;
		d->issue_len--;
		if (wl->removed) {
			wl->queued = false;
			served_unref(wl);
			continue;
		}
		d->issue_wl = wl;
		d->issue_trust = trust_ref(d->trust);
		d->issue_ttl = d->cfg.svid_ttl;
		d->issue_work.data = d;
		if (uv_queue_work(d->loop, &d->issue_work, issue_work, issue_done) < 0) {
			wl->queued = false;
			d->issue_wl = NULL;
			trust_unref(d->issue_trust);
			d->issue_trust = NULL;
			schedule(wl, 1000);
			served_unref(wl);
			continue;
		}
		d->issue_running = true;
	}
}
