/*
 * Workloads: what authd serves on this node.
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
 * The registry that stores them is registry.h.
 *
 * Errors: 0, -EINVAL (with a reason in *why), or a CERTS_E_ID_* code.
 */
#ifndef AUTHD_POLICY_WORKLOAD_H
#define AUTHD_POLICY_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/util.h"
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
	char target_host[256];		/* CONNECT target host (a name or IP, as authority_format takes) */
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
	/*
	 * The Kubernetes pod this workload is (its metadata.uid), "" for one
	 * an operator wrote (config file, authctl). authd's pod watch owns
	 * the workloads that have one: registry_sync_pods replaces them all
	 * and never touches the others.
	 */
	char pod_uid[WORKLOAD_NAME_MAX + 1];
};

/*
 * Check a workload for consistency: names are DNS labels, addresses parse
 * (listen/apps/upstream listen and peer; apps and peer are IP:port, not
 * unix), app ports are distinct, expect_id (when set) is a workload SPIFFE
 * ID, the CONNECT target is valid, pod_uid is "" or 1..63 of [a-z0-9-]. Returns 0 or -EINVAL with *why set to a
 * sentence that names the field.
 */
int workload_validate(const struct workload *w, const char **why) AD_MUST_CHECK;

/*
 * The workload's SPIFFE ID in trust domain td. Returns 0, -EINVAL when ns
 * or sa is not a DNS label, or a CERTS_E_ID_* code (e.g. a bad td).
 */
int workload_spiffe_id(const struct workload *w, const char *td, struct spiffe_id *id) AD_MUST_CHECK;

#endif
