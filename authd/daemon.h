/*
 * The daemon: composes the store, the trust, the served set, the loops,
 * issuance and the admin endpoint on the main libuv loop, and handles what
 * changes under it (registry and policy commits, SIGHUP, SIGTERM).
 *
 * The layers below it (see docs/architecture.md) never call up: loops,
 * directions and connections reach only the served set and the values;
 * issuance reports each new SVID through the callback the daemon
 * registers. The composition files share this struct: daemon.c (start,
 * run, signals, drain, reload, revision checks), reconcile.c (the served
 * set against config + registry, SVID statuses back), ca_watch.c (CA
 * rollover) and admin_api.c (what /metrics, /readyz and /workloads say).
 */
#ifndef AUTHD_AUTHD_DAEMON_H
#define AUTHD_AUTHD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "authd/config.h"
#include "authd/issuance.h"
#include "authd/kube_sync.h"
#include "authd/served.h"
#include "authd/worker.h"

struct admin;
struct metrics;
struct policy_reader;
struct policy_store;

/* A workload of the config file or the registry that is not served, and why (reconcile.c). */
struct refusal {
	char key[SERVED_KEY_MAX + 1];	/* "NS/NAME" */
	char ns[WORKLOAD_NAME_MAX + 1], name[WORKLOAD_NAME_MAX + 1];
	char why[WORKLOAD_REFUSED_MAX + 1];
	bool from_config;
	bool busy;			/* an address in use: tried again on the tick */
};

struct daemon {
	uv_loop_t *loop;
	struct config cfg;
	const char *config_path;	/* NULL: no file (dev mode, flags only) */
	/* Re-applies the command line's flags after a SIGHUP reload of the file. */
	void (*apply_flags)(struct config *c, void *arg);
	void *flags_arg;
	struct policy_store *store;
	struct policy_reader *reader;
	char trust_error[256];		/* why the last reload of ca_dir failed, for /readyz */
	/* Why the last SIGHUP reload failed ("" = it worked) and when, for /readyz. */
	char reload_error[600];
	int64_t reload_failed_at;
	/* Why the last read / write of the store failed ("" = it worked), for /readyz. */
	char store_read_error[192];
	char store_write_error[192];
	uv_fs_event_t ca_watch;
	uv_timer_t ca_debounce;
	struct metrics *metrics;
	struct admin *admin;
	struct admin *probes;		/* /healthz /readyz /metrics only, when configured */
	struct served_set set;
	struct workers workers;
	struct issuance issuance;	/* holds the current trust */
	struct kube_sync kube;		/* the node agent, when cfg.kube.enabled */
	int lock_fd;			/* flock on STORE.authd-lock: one daemon per store */
	struct refusal *refused;	/* the last reconcile's, for /readyz and /workloads */
	size_t n_refused;
	uint64_t policy_rev, registry_rev;
	bool draining;
	bool drain_forced;		/* the deadline passed; WORKER_CLOSE_ALL sent */
	int exit_code;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t tick;		/* revision checks and drain deadline */
	uv_fs_event_t store_watch;
	int64_t drain_deadline_ms;
	/* Dev mode's sample apps. */
	uv_tcp_t dev_apps[2];
	size_t n_dev_apps;
};

/*
 * Run the daemon configured in d->cfg on d->loop until it drains or fails.
 * Returns 0, or the error that stopped the start (logged).
 */
int daemon_run(struct daemon *d);
/* Close every handle still open on loop and run it until they are gone (any exit path). */
void daemon_close_handles(uv_loop_t *loop);
#endif
