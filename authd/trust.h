/*
 * The trust a daemon works under: the CA (issuer) and the trust bundle
 * loaded from ca_dir. A rollover (ca_watch.c) loads a new one; identities
 * keep the one they were built on, since their TLS configs borrow its
 * bundle, so it is reference counted (atomically: loops on other threads
 * drop identities).
 */
#ifndef AUTHD_AUTHD_TRUST_H
#define AUTHD_AUTHD_TRUST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct certs_bundle;
struct certs_ca;

struct trust {
	atomic_uint refs;
	struct certs_ca *ca;
	struct certs_bundle *bundle;
};

/*
 * Load ca_dir's CA (its issuer key unsealed with the key in seal_key when
 * that is not "") and trust bundle, for trust domain td. On failure the
 * reason is logged with what to do, and a shorter form goes to why (for
 * /readyz). Returns 0, -errno or a CERTS_E_* code.
 */
int trust_load(const char *ca_dir, const char *seal_key, const char *td, char *why, size_t why_size,
    struct trust **out) AD_MUST_CHECK;
struct trust *trust_ref(struct trust *t);
/* Accepts NULL. */
void trust_unref(struct trust *t);
/* When the issuer expires, and the first trust anchor to expire (seconds since the epoch). */
void trust_expiry(const struct trust *t, int64_t *issuer, int64_t *anchor);
#endif
