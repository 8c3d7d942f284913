/*
 * Reconciliation (main loop): the served set against the config file and
 * the registry, and SVID statuses back into the registry.
 */
#ifndef AUTHD_AUTHD_RECONCILE_H
#define AUTHD_AUTHD_RECONCILE_H

struct daemon;
struct served;

/*
 * Make the served set equal to config + registry: a workload that is gone
 * or changed is retired, a new one is served (unless its listeners would
 * overlap another's) and queued for its first SVID; then every loop syncs.
 */
void reconcile_workloads(struct daemon *d);
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
