/*
 * CA rollover: watch ca_dir, reload it, hand a new trust to issuance.
 */
#include "authd/ca_watch.h"

#include "authd/daemon.h"
#include "authd/log.h"
#include "authd/metrics.h"
#include "authd/trust.h"
#include "common/clock.h"
#include "certs/bundle.h"

/* A rotation writes several files: reload once they have all landed. */
#define CA_WATCH_DEBOUNCE_MS 200

/* CA expiry into /metrics, and a warning well before it matters. */
static void
report(struct daemon *d, const struct trust *t)
{
	int64_t now = clock_now_ms() / 1000, issuer, anchor;

	trust_expiry(t, &issuer, &anchor);
	metrics_ca(d->metrics, issuer, anchor);
	if (issuer - now < 7 * 86400)
		log_warn("the issuer in %s expires in %lld h: run 'authctl ca rotate'", d->cfg.ca_dir,
		    (long long)((issuer - now) / 3600));
	if (anchor - now < 30 * 86400)
		log_warn("a trust anchor in %s expires in %lld days: run 'authctl ca rotate --new-root'",
		    d->cfg.ca_dir, (long long)((anchor - now) / 86400));
}

int
ca_watch_load(struct daemon *d, struct trust **out)
{
	int r = trust_load(d->cfg.ca_dir, d->cfg.seal_key, d->cfg.trust_domain, d->trust_error,
	    sizeof(d->trust_error), out);

	if (r == 0) {
		d->trust_error[0] = '\0';
		report(d, *out);
	}
	return r;
}

static void
reload(uv_timer_t *timer)
{
	struct daemon *d = timer->data;
	struct trust *t;

	if (d->draining || ca_watch_load(d, &t) != 0)
		return;	/* logged; the running trust stays, /readyz names the problem */
	log_info("trust reloaded from %s: %zu anchor%s; re-issuing every SVID", d->cfg.ca_dir,
	    certs_bundle_count(t->bundle), certs_bundle_count(t->bundle) == 1 ? "" : "s");
	issuance_set_trust(&d->issuance, t);
}

static void
on_ca_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	struct daemon *d = h->data;

	(void)name;
	(void)events;
	if (status == 0)
		uv_timer_start(&d->ca_debounce, reload, CA_WATCH_DEBOUNCE_MS, 0);
}

void
ca_watch_start(struct daemon *d)
{
	int r;

	uv_timer_init(d->loop, &d->ca_debounce);
	d->ca_debounce.data = d;
	uv_fs_event_init(d->loop, &d->ca_watch);
	d->ca_watch.data = d;
	if ((r = uv_fs_event_start(&d->ca_watch, on_ca_event, d->cfg.ca_dir, 0)) < 0)
		log_warn("cannot watch %s (%s): a CA rollover needs a restart", d->cfg.ca_dir,
		    uv_strerror(r));
}
