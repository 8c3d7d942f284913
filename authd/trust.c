/*
 * The CA and trust bundle from ca_dir, and their rollover on a running
 * daemon. `authctl ca rotate` writes a new issuer (and, with --new-root, adds
 * a root to the bundle); `authctl ca bundle remove` drops an anchor. A file
 * event on ca_dir (debounced: a rotation writes several files) reloads the
 * directory; a directory that does not load (unreadable bundle, truncated
 * key) is reported and the running trust stays. A new trust re-issues every
 * SVID under the new issuer and new handshakes verify peers against the new
 * bundle; established connections keep what they started with.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd/log.h"
#include "authd/proxy.h"
#include "common/clock.h"
#include "wire/tls.h"
#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/info.h"
#include "certs/seal.h"

/* A rotation writes several files: reload once they have all landed. */
#define TRUST_DEBOUNCE_MS 200

struct trust *
trust_ref(struct trust *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

void
trust_unref(struct trust *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	certs_bundle_free(t->bundle);
	certs_ca_free(t->ca);
	free(t);
}

/* Why ca_dir does not load, for /readyz (the log has it too). */
static void AD_PRINTF(2, 3)
set_error(struct daemon *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(d->trust_error, sizeof(d->trust_error), fmt, ap);
	va_end(ap);
}

/* CA expiry into /metrics, and a warning well before it matters. */
static void
report(struct daemon *d, const struct trust *t)
{
	struct certs_info a;
	int64_t now = clock_now_ms() / 1000, issuer = certs_ca_not_after(t->ca), anchor = 0;

	for (size_t i = 0; i < certs_bundle_count(t->bundle); i++)
		if (certs_bundle_info(t->bundle, i, &a) == 0 && (anchor == 0 || a.not_after < anchor))
			anchor = a.not_after;
	metrics_ca(d->metrics, issuer, anchor);
	if (issuer - now < 7 * 86400)
		log_warn("the issuer in %s expires in %lld h: run 'authctl ca rotate'", d->cfg.ca_dir,
		    (long long)((issuer - now) / 3600));
	if (anchor - now < 30 * 86400)
		log_warn("a trust anchor in %s expires in %lld days: run 'authctl ca rotate --new-root'",
		    d->cfg.ca_dir, (long long)((anchor - now) / 86400));
}

int
trust_load(struct daemon *d, struct trust **out)
{
	uint8_t key[CERTS_SEAL_KEY_LEN];
	struct trust *t;
	char path[4200];
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	atomic_init(&t->refs, 1);
	if (d->cfg.seal_key[0] != '\0' && (r = certs_seal_key_read(d->cfg.seal_key, key)) != 0) {
		log_warn("seal key %s: %s", d->cfg.seal_key, tls_strerror(r));
		set_error(d, "seal key %s: %s",
		    d->cfg.seal_key, tls_strerror(r));
		goto fail;
	}
	r = certs_ca_load(d->cfg.ca_dir, d->cfg.seal_key[0] != '\0' ? key : NULL, &t->ca);
	util_wipe(key, sizeof(key));
	if (r != 0) {
		log_warn("CA %s: %s (create one with: authctl ca init --dir %s --trust-domain %s)",
		    d->cfg.ca_dir, tls_strerror(r), d->cfg.ca_dir, d->cfg.trust_domain);
		set_error(d, "CA %s: %s",
		    d->cfg.ca_dir, tls_strerror(r));
		goto fail;
	}
	if (strcmp(certs_ca_td(t->ca), d->cfg.trust_domain) != 0) {
		log_warn("CA %s is for trust domain %s, not %s", d->cfg.ca_dir, certs_ca_td(t->ca),
		    d->cfg.trust_domain);
		set_error(d, "CA %s is for another trust domain", d->cfg.ca_dir);
		r = -EINVAL;
		goto fail;
	}
	if ((r = util_snprintf(path, sizeof(path), "%s/%s", d->cfg.ca_dir, CERTS_CA_BUNDLE)) != 0)
		goto fail;
	if ((r = certs_bundle_load(path, &t->bundle)) != 0) {
		log_warn("trust bundle %s: %s", path, tls_strerror(r));
		set_error(d, "trust bundle %s: %s",
		    path, tls_strerror(r));
		goto fail;
	}
	d->trust_error[0] = '\0';
	report(d, t);
	*out = t;
	return 0;
fail:
	trust_unref(t);
	return r;
}

static void
reload(uv_timer_t *timer)
{
	struct daemon *d = timer->data;
	struct trust *t;
	struct served *wl;

	if (d->draining || trust_load(d, &t) != 0)
		return;	/* logged; the running trust stays, /readyz names the problem */
	trust_unref(d->trust);
	d->trust = t;
	log_info("trust reloaded from %s: %zu anchor%s; re-issuing every SVID", d->cfg.ca_dir,
	    certs_bundle_count(t->bundle), certs_bundle_count(t->bundle) == 1 ? "" : "s");
	for (wl = d->served; wl != NULL; wl = wl->next)
		identity_request(wl);
}

static void
on_ca_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	struct daemon *d = h->data;

	(void)name;
	(void)events;
	if (status == 0)
		uv_timer_start(&d->ca_debounce, reload, TRUST_DEBOUNCE_MS, 0);
}

void
trust_watch(struct daemon *d)
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
