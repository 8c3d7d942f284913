/*
 * The CA and trust bundle from ca_dir, as one reference-counted value. A
 * rollover on a running daemon (ca_watch.c) loads a new one while
 * identities built on the old one keep it until their last connection.
 */
#include "authd/trust.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authd/log.h"
#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/error.h"
#include "certs/info.h"
#include "certs/seal.h"

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

void
trust_expiry(const struct trust *t, int64_t *issuer, int64_t *anchor)
{
	struct certs_info a;

	*issuer = certs_ca_not_after(t->ca);
	*anchor = 0;
	for (size_t i = 0; i < certs_bundle_count(t->bundle); i++)
		if (certs_bundle_info(t->bundle, i, &a) == 0 && (*anchor == 0 || a.not_after < *anchor))
			*anchor = a.not_after;
}

int
trust_load(const char *ca_dir, const char *seal_key, const char *td, char *why, size_t why_size,
    struct trust **out)
{
	uint8_t key[CERTS_SEAL_KEY_LEN];
	struct trust *t;
	char path[4200];
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	atomic_init(&t->refs, 1);
	if (seal_key[0] != '\0' && (r = certs_seal_key_read(seal_key, key)) != 0) {
		log_warn("seal key %s: %s", seal_key, certs_strerror(r));
		util_format(why, why_size, "seal key %s: %s", seal_key, certs_strerror(r));
		goto fail;
	}
	r = certs_ca_load(ca_dir, seal_key[0] != '\0' ? key : NULL, &t->ca);
	util_wipe(key, sizeof(key));
	if (r != 0) {
		log_warn("CA %s: %s (create one with: authctl ca init --dir %s --trust-domain %s)",
		    ca_dir, certs_strerror(r), ca_dir, td);
		util_format(why, why_size, "CA %s: %s", ca_dir, certs_strerror(r));
		goto fail;
	}
	if (strcmp(certs_ca_td(t->ca), td) != 0) {
		log_warn("CA %s is for trust domain %s, not %s", ca_dir, certs_ca_td(t->ca), td);
		util_format(why, why_size, "CA %s is for another trust domain", ca_dir);
		r = -EINVAL;
		goto fail;
	}
	if ((r = util_snprintf(path, sizeof(path), "%s/%s", ca_dir, CERTS_CA_BUNDLE)) != 0) {
		util_format(why, why_size, "ca_dir %s: %s", ca_dir, strerror(-r));
		goto fail;
	}
	if ((r = certs_bundle_load(path, &t->bundle)) != 0) {
		log_warn("trust bundle %s: %s", path, certs_strerror(r));
		util_format(why, why_size, "trust bundle %s: %s", path, certs_strerror(r));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	trust_unref(t);
	return r;
}
