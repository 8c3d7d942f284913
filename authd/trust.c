/*
 * The CA and trust bundle from ca_dir, as one reference-counted value. A
 * rollover on a running daemon (ca_watch.c) loads a new one while
 * identities built on the old one keep it until their last connection.
 */
#include "authd/trust.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Whether ca_dir/file exists: 0, or -errno. */
static int
ca_file(const char *dir, const char *file)
{
	char path[4200];
	struct stat st;

	if (util_snprintf(path, sizeof(path), "%s/%s", dir, file) != 0)
		return -ENAMETOOLONG;
	return stat(path, &st) == 0 ? 0 : -errno;
}

/*
 * What to do about a CA that did not load, for the log: "authctl ca init"
 * only where there is no CA at all, permission denied as such, a sealed
 * issuer key without seal_key by name.
 */
static void
ca_hint(const char *ca_dir, const char *seal_key, const char *td, int err, char *buf, size_t size)
{
	static const char *const files[] = { CERTS_CA_ROOT_CRT, CERTS_CA_ISSUER_CRT,
		CERTS_CA_ISSUER_KEY, CERTS_CA_ISSUER_KEY_SEALED, CERTS_CA_BUNDLE };
	bool any = false, denied = err == -EACCES || err == -EPERM;

	for (size_t i = 0; i < AD_ARRAY_LEN(files); i++) {
		int e = ca_file(ca_dir, files[i]);

		any |= e == 0;
		denied |= e == -EACCES;
	}
	buf[0] = '\0';
	if (denied)
		util_format(buf, size, " (permission denied: authd must be able to read ca_dir %s; "
		    "check its owner and modes)", ca_dir);
	else if (err == CERTS_E_SEAL_FORMAT && seal_key[0] == '\0' &&
	    ca_file(ca_dir, CERTS_CA_ISSUER_KEY_SEALED) == 0)
		util_format(buf, size, " (the issuer key is sealed: set seal_key in the config to "
		    "the seal key file)");
	else if (err == CERTS_E_NO_CA && !any)
		util_format(buf, size, " (create one with: authctl ca init --dir %s --trust-domain %s)",
		    ca_dir, td);
	else if (err == CERTS_E_NO_CA)
		util_format(buf, size, " (the CA there is incomplete: restore the missing file from "
		    "a backup)");
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
		char hint[400];

		ca_hint(ca_dir, seal_key, td, r, hint, sizeof(hint));
		log_warn("CA %s: %s%s", ca_dir, certs_strerror(r), hint);
		util_format(why, why_size, "CA %s: %s%s", ca_dir, certs_strerror(r), hint);
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
