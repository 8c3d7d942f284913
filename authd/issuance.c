/*
 * Issuance: SVIDs signed on the thread pool, renewed at half-life with
 * jitter, retried with backoff (see issuance.h).
 */
#include "authd/issuance.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "authd/config.h"
#include "authd/ident.h"
#include "authd/log.h"
#include "authd/metrics.h"
#include "authd/served.h"
#include "authd/trust.h"
#include "common/clock.h"
#include "wire/tls.h"
#include "certs/schedule.h"
#include "certs/svid.h"

/* Renew no later than this long before expiry, so a failure has time for retries. */
#define ISSUANCE_MARGIN 30
/* Retry delays after failures: 1 s doubling up to a minute. */
#define ISSUANCE_RETRY_MAX_MS 60000

static void start_next(struct issuance *is);

void
issuance_init(struct issuance *is, uv_loop_t *loop, struct served_set *set,
    const struct config *cfg, struct metrics *metrics, struct trust *t, issuance_issued_fn issued,
    void *arg)
{
	memset(is, 0, sizeof(*is));
	is->loop = loop;
	is->set = set;
	is->cfg = cfg;
	is->metrics = metrics;
	is->trust = t;
	is->issued = issued;
	is->arg = arg;
}

void
issuance_free(struct issuance *is)
{
	trust_unref(is->trust);
	is->trust = NULL;
}

void
issuance_set_trust(struct issuance *is, struct trust *t)
{
	struct served *wl;

	trust_unref(is->trust);
	is->trust = t;
	for (wl = is->set->served; wl != NULL; wl = wl->next)
		issuance_request(is, wl);
}

static void
on_renew_timer(uv_timer_t *t)
{
	struct served *wl = t->data;

	issuance_request(wl->issuer, wl);
}

static void
schedule(struct issuance *is, struct served *wl, uint64_t ms)
{
	if (!wl->renew_open) {
		uv_timer_init(is->loop, &wl->renew);
		wl->renew.data = wl;
		wl->issuer = is;
		wl->renew_open = true;
		served_ref(wl);
	}
	uv_timer_start(&wl->renew, on_renew_timer, ms, 0);
}

static void
on_renew_closed(uv_handle_t *h)
{
	served_unref(h->data);
}

void
issuance_stop(struct served *wl)
{
	if (wl->renew_open) {
		wl->renew_open = false;
		uv_close((uv_handle_t *)&wl->renew, on_renew_closed);
	}
}

void
issuance_request(struct issuance *is, struct served *wl)
{
	if (wl->queued || wl->removed)
		return;
	if (is->len == WORKLOAD_MAX) {
		schedule(is, wl, 1000);	/* cannot happen: one slot per workload */
		return;
	}
	wl->queued = true;
	served_ref(wl);
	is->queue[(is->head + is->len++) % WORKLOAD_MAX] = wl;
	start_next(is);
}

/* On the thread pool: key generation and signing, the slow part. */
static void
issue_work(uv_work_t *w)
{
	struct issuance *is = w->data;

	is->job_svid = NULL;
	is->job_err = certs_svid_new(is->job_trust->ca, &is->job_wl->id, is->job_ttl,
	    clock_now_ms() / 1000, &is->job_svid);
}

static void
issue_done(uv_work_t *w, int status)
{
	struct issuance *is = w->data;
	struct served *wl = is->job_wl;
	struct certs_svid *svid = is->job_svid;
	struct trust *t = is->job_trust;
	struct ident *id = NULL;
	int err = status < 0 ? -ECANCELED : is->job_err;

	is->running = false;
	is->job_trust = NULL;
	is->job_wl = NULL;
	is->job_svid = NULL;
	wl->queued = false;
	if (err == 0 && !wl->removed && t != is->trust) {
		/* The CA rolled over while this was signed: sign again under the new one. */
		certs_svid_free(svid);
		trust_unref(t);
		served_unref(wl);
		issuance_request(is, wl);
		start_next(is);
		return;
	}
	if (err == 0 && !wl->removed && (err = ident_new(t, svid, is->cfg->trust_domain,
	    wl->spec.listen[0] != '\0', wl->n_up > 0, &id)) == 0)
		svid = NULL;
	certs_svid_free(svid);
	trust_unref(t);
	if (wl->removed) {
		ident_unref(id);
	} else if (err != 0) {
		uint64_t delay = 1000u << (wl->failures < 6 ? wl->failures : 6);

		wl->failures++;
		if (delay > ISSUANCE_RETRY_MAX_MS)
			delay = ISSUANCE_RETRY_MAX_MS;
		metrics_count(is->metrics, METRICS_SVID_ISSUED, METRICS_INBOUND, "failed", NULL, 1);
		log_warn("%s: SVID issuance failed (%s); retrying in %llu ms", wl->key,
		    tls_strerror(err), (unsigned long long)delay);
		schedule(is, wl, delay);
	} else {
		int64_t nb = certs_svid_not_before(id->svid), na = certs_svid_not_after(id->svid);
		int64_t now = clock_now_ms() / 1000, at;
		struct ident *old;

		/* Loops take references under the lock; new handshakes use id at once. */
		uv_mutex_lock(&is->set->lock);
		old = wl->ident;
		wl->ident = id;
		uv_mutex_unlock(&is->set->lock);
		ident_unref(old);
		wl->failures = 0;
		metrics_count(is->metrics, METRICS_SVID_ISSUED, METRICS_INBOUND, "ok", NULL, 1);
		metrics_svid(is->metrics, wl->key, na);
		log_info("%s: SVID %s serial %s, expires in %llds", wl->key, wl->id.str,
		    certs_svid_serial(id->svid), (long long)(na - now));
		/*
		 * Half of the life left from now, not from the back-dated
		 * notBefore (that is for clock skew, not lifetime).
		 */
		at = certs_renew_at(now > nb ? now : nb, na, na - now > 4 * ISSUANCE_MARGIN ?
		    ISSUANCE_MARGIN : 0, randombytes_random());
		schedule(is, wl, at > now ? (uint64_t)(at - now) * 1000 : 1000);
		is->issued(wl, is->arg);
	}
	served_unref(wl);
	start_next(is);
}

static void
start_next(struct issuance *is)
{
	struct served *wl;

	while (!is->running && is->len > 0) {
		wl = is->queue[is->head];
		is->head = (is->head + 1) % WORKLOAD_MAX;
		is->len--;
		if (wl->removed) {
			wl->queued = false;
			served_unref(wl);
			continue;
		}
		is->job_wl = wl;
		is->job_trust = trust_ref(is->trust);
		is->job_ttl = is->cfg->svid_ttl;
		is->work.data = is;
		if (uv_queue_work(is->loop, &is->work, issue_work, issue_done) < 0) {
			wl->queued = false;
			is->job_wl = NULL;
			trust_unref(is->job_trust);
			is->job_trust = NULL;
			schedule(is, wl, 1000);
			served_unref(wl);
			continue;
		}
		is->running = true;
	}
}
