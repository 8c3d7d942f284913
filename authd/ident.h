/*
 * One SVID generation of a workload and the TLS configurations built on
 * it. Connections hold a reference, so a renewal swaps in a new identity
 * for new handshakes while established ones keep theirs. Reference counts
 * are atomic: identities are taken and dropped on every loop's thread.
 */
#ifndef AUTHD_AUTHD_IDENT_H
#define AUTHD_AUTHD_IDENT_H

#include <stdatomic.h>
#include <stdbool.h>

#include "common/util.h"

struct certs_svid;
struct tls_config;
struct trust;

struct ident {
	atomic_uint refs;
	struct trust *trust;		/* the CA that signed svid; configs borrow its bundle */
	struct certs_svid *svid;
	struct tls_config *server;	/* NULL without an inbound listener */
	struct tls_config *client;	/* NULL without upstreams */
};

/*
 * An identity of svid (signed under t, for trust domain td) with a server
 * config, a client config or both. On success it owns svid and holds a
 * reference to t; on failure the caller still owns svid. Returns 0,
 * -ENOMEM or an error of tls_config_new (tls_strerror names both).
 */
int ident_new(struct trust *t, struct certs_svid *svid, const char *td, bool server, bool client,
    struct ident **out) AD_MUST_CHECK;
struct ident *ident_ref(struct ident *id);
/* Accepts NULL. */
void ident_unref(struct ident *id);
#endif
