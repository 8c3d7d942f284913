/*
 * The workload registry: the node's workloads (workload.h) in the policy
 * store's LMDB environment, next to the policy, so the daemon sees
 * `authctl workload add|rm` without a restart. It also keeps what the
 * daemon reports back about each SVID (serial, expiry, SPIFFE ID), so
 * `authctl workload list` can show it.
 *
 * Errors: 0, -EINVAL (with a reason in *why), or POLICY_E_* from the store.
 */
#ifndef AUTHD_POLICY_REGISTRY_H
#define AUTHD_POLICY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "certs/spiffe.h"
#include "policy/workload.h"

/* Longest reason the daemon gives for not serving a workload. */
#define WORKLOAD_REFUSED_MAX 159

/* What the daemon last issued for a workload, or why it does not serve it. */
struct workload_svid_status {
	char spiffe_id[SPIFFE_ID_MAX + 1];
	char serial[64];		/* lower-case hex */
	int64_t not_after;		/* seconds since the epoch; 0 = not issued */
	int64_t updated;		/* when the daemon wrote this */
	char refused[WORKLOAD_REFUSED_MAX + 1];	/* "" = served; else why not (not issued then) */
};

/*
 * Stored in named databases of the policy store's
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
/*
 * Make the registry's Kubernetes workloads (those with a pod_uid) exactly
 * ws[0..n), in one transaction: the ones not in ws are removed with their
 * status, the others added or replaced (the status goes when the service
 * account or the pod changes: it was another identity or another pod).
 * Workloads without a pod_uid are never touched; a w whose NS/NAME one of
 * them holds is skipped and counted in *conflicts, so a pod never takes
 * over what an operator wrote. Every w must validate and have a pod_uid,
 * and no two share NS/NAME (else -EINVAL, *why set, nothing written).
 * *changed counts the workloads added, replaced or removed; 0 writes
 * nothing and keeps the revision. POLICY_E_TOO_BIG past WORKLOAD_MAX.
 */
int registry_sync_pods(struct policy_store *s, const struct workload *ws, size_t n,
    size_t *changed, size_t *conflicts, const char **why) AD_MUST_CHECK;
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
 * not-issued one (not_after 0) has no serial; a refusal is printable text
 * and comes with no SVID.
 */
int registry_set_status(struct policy_store *s, const char *ns, const char *name,
    const struct workload_svid_status *st) AD_MUST_CHECK;

/* ---- Record codec (for tests and fuzzing) ------------------------------- */

/*
 * Version 1 workload record: u8 version, then name, ns, sa, listen as
 * (u8 length, bytes), u8 n_apps and each app as (u8 length, bytes), u8
 * n_upstreams and for each: listen, peer, target_host as (u8 length,
 * bytes), u16 target_port, expect_id as (u16 length, bytes). Big-endian,
 * no padding, nothing after the last upstream. Version 2 (a workload with
 * a pod_uid) adds the UID as (u8 length, 1..63 bytes); one without is
 * still written as version 1, so older readers still read it.
 */
#define WORKLOAD_RECORD_MAX (1 + 3 * (1 + WORKLOAD_NAME_MAX) + (1 + ADDR_TEXT_MAX) + \
	1 + WORKLOAD_APPS_MAX * (1 + ADDR_TEXT_MAX) + 1 + \
	WORKLOAD_UPSTREAMS_MAX * (2 * (1 + ADDR_TEXT_MAX) + (1 + 255) + 2 + (2 + SPIFFE_ID_MAX)) + \
	1 + WORKLOAD_NAME_MAX)

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
 * Status record: u8 version, spiffe_id (u16 length, bytes), serial (u8
 * length, bytes), not_after (i64), updated (i64); version 2 adds refused
 * (u8 length, 1..159 bytes). A status without a refusal is written as
 * version 1, as before refusals were recorded, so older readers still read it.
 */
#define WORKLOAD_STATUS_RECORD_MAX (1 + 2 + SPIFFE_ID_MAX + 1 + 63 + 8 + 8 + 1 + WORKLOAD_REFUSED_MAX)

/* Whether st is a status set_status accepts (see there). Returns 0 or -EINVAL. */
int registry_status_check(const struct workload_svid_status *st) AD_MUST_CHECK;
/* As for workload records: -EINVAL, -ENOSPC; decode: POLICY_E_CORRUPT. */
int registry_status_encode(const struct workload_svid_status *st, uint8_t *out, size_t cap,
    size_t *len) AD_MUST_CHECK;
int registry_status_decode(const uint8_t *p, size_t len, struct workload_svid_status *st)
    AD_MUST_CHECK;
#endif
