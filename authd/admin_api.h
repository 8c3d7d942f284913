/*
 * The daemon's answers behind the admin endpoint: /metrics, /readyz and
 * /workloads (docs/daemon.md, docs/metrics.md).
 */
#ifndef AUTHD_AUTHD_ADMIN_API_H
#define AUTHD_AUTHD_ADMIN_API_H

struct admin_handlers;
struct daemon;

/* Fill h with the daemon's handlers (h->arg is d). */
void admin_api_handlers(struct daemon *d, struct admin_handlers *h);
#endif
