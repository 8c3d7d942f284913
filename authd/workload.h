/*
 * Workloads: what authd serves on this node, and the registry that holds
 * them in the node's LMDB environment (next to the policy), so the daemon
 * sees `authctl workload add|rm` without a restart.
 *
 * A workload is a Kubernetes-style identity (namespace, service account,
 * name) plus three kinds of address:
 *  - apps: where its plaintext application listens (peers' CONNECT port
 *    must be one of these ports);
 *  - listen: its inbound mesh listener (mTLS, presents its SVID);
 *  - upstreams: for each, a local plaintext listener the app connects to,
 *    the peer mesh listener authd dials as this workload, the CONNECT
 *    target it asks for, and optionally the SPIFFE ID the peer must prove.
 * Its SPIFFE ID is derived: spiffe://TD/ns/NS/sa/SA.
 *
 * The registry also keeps what the daemon reports back about each SVID
 * (serial, expiry, SPIFFE ID), so `authctl workload list` can show it.
 *
 * Errors: 0, -EINVAL (with a reason in *why), or POLICY_E_* from the store.
 */
#ifndef AUTHD_AUTHD_WORKLOAD_H
#define AUTHD_AUTHD_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authd/addr.h"
#include "authd/util.h"
#include "certs/spiffe.h"

/* Names are DNS labels (RFC 1123): [a-z0-9-], 1..63, no leading/trailing '-'. */
#define WORKLOAD_NAME_MAX 63
#define WORKLOAD_APPS_MAX 8
#define WORKLOAD_UPSTREAMS_MAX 16
/* Workloads one registry (one node) holds. */
#define WORKLOAD_MAX 4096

struct workload_upstream {
	char listen[ADDR_TEXT_MAX + 1];	/* local plaintext listener: "127.0.0.1:9000", "unix:/p" */
	char peer[ADDR_TEXT_MAX + 1];	/* the destination's mesh listener, IP:port */
	char target_host[256];		/* CONNECT target host (a name or IP, as connect_request takes) */
	uint16_t target_port;		/* CONNECT target port: the destination app's port */
	char expect_id[SPIFFE_ID_MAX + 1]; /* the server must prove this ID; "" = any in the trust domain */
};

struct workload {
	char name[WORKLOAD_NAME_MAX + 1];
	char ns[WORKLOAD_NAME_MAX + 1];
	char sa[WORKLOAD_NAME_MAX + 1];	/* service account; defaults to name */
	char listen[ADDR_TEXT_MAX + 1];	/* inbound mesh listener; "" = no inbound */
	size_t n_apps;
	char apps[WORKLOAD_APPS_MAX][ADDR_TEXT_MAX + 1]; /* IP:port, one per served port */
	size_t n_upstreams;
	struct workload_upstream upstreams[WORKLOAD_UPSTREAMS_MAX];
};

/* What the daemon last issued for a workload. */
struct workload_svid_status {
	char spiffe_id[SPIFFE_ID_MAX + 1];
	char serial[64];		/* lower-case hex */
	int64_t not_after;		/* seconds since the epoch; 0 = not issued */
	int64_t updated;		/* when the daemon wrote this */
};

/*
 * Check a workload for consistency: names are DNS labels, addresses parse
 * (listen/apps/upstream listen and peer; apps and peer are IP:port, not
 * unix), app ports are distinct, expect_id (when set) is a workload SPIFFE
 * ID, the CONNECT target is valid. Returns 0 or -EINVAL with *why set to a
 * sentence that names the field.
 */
int workload_validate(const struct workload *w, const char **why) AD_MUST_CHECK;

/* The workload's SPIFFE ID in trust domain td. */
int workload_spiffe_id(const struct workload *w, const char *td, struct spiffe_id *id) AD_MUST_CHECK;

/*
 * Registry (registry.c), stored in named databases of the policy store's
 * LMDB environment. Keys are "NS/NAME".
 */
struct policy_store;

/* Add or replace (replace only when replace is true: else -EEXIST). */
int registry_put(struct policy_store *s, const struct workload *w, bool replace, const char **why)
    AD_MUST_CHECK;
/* Remove; -ENOENT when absent. Its SVID status goes too. */
int registry_remove(struct policy_store *s, const char *ns, const char *name) AD_MUST_CHECK;
/* Fetch one; -ENOENT when absent. */
int registry_get(struct policy_store *s, const char *ns, const char *name, struct workload *w)
    AD_MUST_CHECK;

/*
 * Call cb for every workload in key order, with its SVID status (NULL when
 * the daemon has not reported one). A non-zero return from cb stops the
 * walk and is returned. The pointers are valid only during the call.
 */
typedef int (*registry_cb)(const struct workload *w, const struct workload_svid_status *st, void *arg);
int registry_list(struct policy_store *s, registry_cb cb, void *arg) AD_MUST_CHECK;

/*
 * A counter bumped by every registry_put/registry_remove (not by status
 * writes), so the daemon can tell cheaply whether to reload.
 */
int registry_revision(struct policy_store *s, uint64_t *rev) AD_MUST_CHECK;

/* The daemon's report for ns/name (no revision bump). -ENOENT if the workload is gone. */
int registry_set_status(struct policy_store *s, const char *ns, const char *name,
    const struct workload_svid_status *st) AD_MUST_CHECK;
#endif
