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

/*
 * The workload's SPIFFE ID in trust domain td. Returns 0, -EINVAL when ns
 * or sa is not a DNS label, or a CERTS_E_ID_* code (e.g. a bad td).
 */
int workload_spiffe_id(const struct workload *w, const char *td, struct spiffe_id *id) AD_MUST_CHECK;

/*
 * Registry (registry.c), stored in named databases of the policy store's
 * LMDB environment: "workloads" and "svid_status" (key "NS/NAME" -> record)
 * and "registry_meta" ("revision" -> u64). Every write is one LMDB
 * transaction; like the policy store's writes, one that fills the map is
 * dropped, the map doubled (up to POLICY_MAP_MAX) and the write redone, and
 * past that it is POLICY_E_MAP_FULL with nothing written. Writes on a store
 * opened POLICY_OPEN_RDONLY are POLICY_E_INVAL. A stored record that does
 * not decode (or no longer validates) is POLICY_E_CORRUPT.
 *
 * These functions open the registry's databases inside each transaction
 * (mdb_dbi_open), so within one process they must not run concurrently with
 * each other (the daemon calls them from its loop thread).
 */
struct policy_store;

/*
 * Add or replace (replace only when replace is true: else -EEXIST). The
 * workload is validated first (-EINVAL, *why set; nothing is written).
 * POLICY_E_TOO_BIG when the registry already holds WORKLOAD_MAX. Replacing
 * with an identical record writes nothing and keeps the revision; a
 * replacement with another service account drops the SVID status (it was
 * for another identity).
 */
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

/*
 * The daemon's report for ns/name (no revision bump). -ENOENT if the
 * workload is gone; -EINVAL for a malformed status: spiffe_id is "" or a
 * workload SPIFFE ID, serial "" or 1..63 lower-case hex digits, times >= 0,
 * and an issued SVID (not_after > 0) has both an ID and a serial while a
 * not-issued one (not_after 0) has no serial.
 */
int registry_set_status(struct policy_store *s, const char *ns, const char *name,
    const struct workload_svid_status *st) AD_MUST_CHECK;

/* ---- Record codec (for tests and fuzzing) ------------------------------- */

/*
 * Version 1 workload record: u8 version, then name, ns, sa, listen as
 * (u8 length, bytes), u8 n_apps and each app as (u8 length, bytes), u8
 * n_upstreams and for each: listen, peer, target_host as (u8 length,
 * bytes), u16 target_port, expect_id as (u16 length, bytes). Big-endian,
 * no padding, nothing after the last upstream.
 */
#define WORKLOAD_RECORD_MAX (1 + 3 * (1 + WORKLOAD_NAME_MAX) + (1 + ADDR_TEXT_MAX) + \
	1 + WORKLOAD_APPS_MAX * (1 + ADDR_TEXT_MAX) + 1 + \
	WORKLOAD_UPSTREAMS_MAX * (2 * (1 + ADDR_TEXT_MAX) + (1 + 255) + 2 + (2 + SPIFFE_ID_MAX)))

/*
 * Encode w (which should have passed workload_validate) into out. Returns
 * 0, -EINVAL (an unterminated field or a count over its maximum) or
 * -ENOSPC (cap too small; WORKLOAD_RECORD_MAX always fits).
 */
int registry_record_encode(const struct workload *w, uint8_t *out, size_t cap, size_t *len)
    AD_MUST_CHECK;
/*
 * Decode a stored record: every length and count is checked, and the
 * result must pass workload_validate; anything else (truncated, trailing
 * bytes, unknown version) is POLICY_E_CORRUPT with *w zeroed. Whatever
 * decodes re-encodes to the same bytes.
 */
int registry_record_decode(const uint8_t *p, size_t len, struct workload *w) AD_MUST_CHECK;

/*
 * Version 1 status record: u8 version, spiffe_id (u16 length, bytes),
 * serial (u8 length, bytes), not_after (i64), updated (i64).
 */
#define WORKLOAD_STATUS_RECORD_MAX (1 + 2 + SPIFFE_ID_MAX + 1 + 63 + 8 + 8)

/* Whether st is a status set_status accepts (see there). Returns 0 or -EINVAL. */
int registry_status_check(const struct workload_svid_status *st) AD_MUST_CHECK;
/* As for workload records: -EINVAL, -ENOSPC; decode: POLICY_E_CORRUPT. */
int registry_status_encode(const struct workload_svid_status *st, uint8_t *out, size_t cap,
    size_t *len) AD_MUST_CHECK;
int registry_status_decode(const uint8_t *p, size_t len, struct workload_svid_status *st)
    AD_MUST_CHECK;
#endif
