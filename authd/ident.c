/*
 * Identities: an SVID and the TLS configurations built on it.
 */
#include "authd/ident.h"

#include <errno.h>
#include <stdlib.h>

#include "authd/trust.h"
#include "wire/tls.h"
#include "certs/svid.h"

int
ident_new(struct trust *t, struct certs_svid *svid, const char *td, bool server, bool client,
    struct ident **out)
{
	struct ident *id = calloc(1, sizeof(*id));
	int r = 0;

	*out = NULL;
	if (id == NULL)
		return -ENOMEM;
	atomic_init(&id->refs, 1);
	id->trust = trust_ref(t);
	id->svid = svid;
	if (server)
		r = tls_config_new(TLS_SERVER, svid, t->bundle, td, &id->server);
	if (r == 0 && client)
		r = tls_config_new(TLS_CLIENT, svid, t->bundle, td, &id->client);
	if (r != 0) {
		id->svid = NULL;	/* the caller still owns it */
		ident_unref(id);
		return r;
	}
	*out = id;
	return 0;
}

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
