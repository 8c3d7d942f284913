/*
 * Reconciliation (main loop): the served set against the config file and
 * the registry, and SVID statuses back into the registry.
 */
#ifndef AUTHD_AUTHD_RECONCILE_H
#define AUTHD_AUTHD_RECONCILE_H

#include <stdbool.h>

struct daemon;
struct served;

/*
 * Make the served set equal to config + registry: a workload that is gone
 * or changed is retired, a new one is served and queued for its first
 * SVID; then every loop syncs. A workload that cannot be served (its
 * listeners overlap another's, its name is in both sources, its spec is
 * refused, an address is taken) is kept in d->refused with the reason,
 * logged once. Returns 0, or the first error binding an address (at start:
 * authd must not run beside another process that serves its addresses).
 */
int reconcile_workloads(struct daemon *d);
/* Whether a refusal may clear by itself (an address in use): the tick reconciles again. */
bool reconcile_retry_due(const struct daemon *d);
/* Stop serving wl: retired, its renewal stopped, its SVID gauge cleared. */
void reconcile_remove(struct daemon *d, struct served *wl);
/*
 * Record wl's new SVID in the registry (registry workloads only). A store
 * that refuses it (disk or map full) keeps it pending, named in /readyz.
 */
void reconcile_status(struct daemon *d, struct served *wl);
/* Write the SVID statuses a failed store write left pending (the tick). */
void reconcile_status_retry(struct daemon *d);
#endif
