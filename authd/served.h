/*
 * The served set: the workloads this daemon serves, each with its runtime
 * state (parsed addresses, current identity, per-loop listener slots), and
 * the connection slots they admit.
 *
 * Threads: the main loop changes the set (and swaps identities) under
 * set->lock; every loop reads it under that lock. A served workload is
 * reference counted (atomically): the set's list, each open listener or
 * timer handle and each connection hold one, so a workload removed while
 * connections run stays valid until the last one ends.
 */
#ifndef AUTHD_AUTHD_SERVED_H
#define AUTHD_AUTHD_SERVED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "authd/bound.h"
#include "authd/config.h"
#include "common/addr.h"
#include "certs/spiffe.h"
#include "policy/registry.h"
#include "policy/workload.h"

struct ident;
struct issuance;
struct tls_ticket;

/* Longest "NS/NAME". */
#define SERVED_KEY_MAX (2 * WORKLOAD_NAME_MAX + 1)

/* Addresses a workload listens on: its mesh listener and its upstreams'. */
#define SERVED_ADDRS_MAX (WORKLOAD_UPSTREAMS_MAX + 1)

/* A listener: TCP or unix socket. */
union listener {
	uv_handle_t h;
	uv_stream_t s;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct served;

/* One upstream of a served workload: a local listener and the peer it dials. */
struct upstream_rt {
	struct served *wl;
	const struct workload_upstream *spec;	/* inside wl->spec */
	struct addr listen, peer;
	struct spiffe_id expect;
	bool has_expect;
	union listener *lh;		/* one per loop */
	bool *listening;		/* one per loop; owned by that loop */
	struct tls_ticket **ticket;	/* one per loop: for resumption with this peer */
};

/* A workload this daemon serves. */
struct served {
	struct served_set *set;
	struct served *next;
	atomic_uint refs;		/* the set's list, connections, open handles */
	char key[SERVED_KEY_MAX + 1];	/* "NS/NAME" */
	struct workload spec;
	bool from_config;
	bool removed;			/* no longer served; freed when the last ref goes */
	struct spiffe_id id;
	struct ident *ident;		/* current identity, NULL until the first SVID (set->lock) */
	struct addr listen;
	union listener *lh;		/* one per loop */
	bool *listening;		/* one per loop; owned by that loop */
	struct addr apps[WORKLOAD_APPS_MAX];
	size_t n_up;
	struct upstream_rt up[WORKLOAD_UPSTREAMS_MAX];
	atomic_uint active;		/* connections, all loops */
	atomic_uint listeners;		/* listener handles open, all loops */
	char listen_error[128];		/* why a listener did not bind, for /readyz (set->lock) */
	bool holds_addrs;		/* served_add took its addresses in set->bound */
	/* Issuance's (issuance.c): the renewal timer and the retry state. */
	struct issuance *issuer;
	uv_timer_t renew;		/* next SVID issuance */
	bool renew_open;
	bool queued;			/* waiting in or running in the issuance queue */
	unsigned failures;		/* issuance failures in a row */
	/* The SVID status the registry has not taken yet (a store write failed). */
	bool status_pending;
	struct workload_svid_status status;
};

struct served_set {
	uv_mutex_t lock;		/* served, retired, identity swaps, listen_error, limits */
	struct served *served;
	struct served *retired;		/* removed, listeners still closing on some loop */
	unsigned n_loops;		/* the size of every per-loop array: set before the first workload */
	struct config_limits limits;	/* loops copy them under lock */
	struct bound_set bound;		/* the listening sockets (under lock) */
	atomic_uint active;		/* connections, all loops */
	atomic_bool closed;		/* draining: admit nothing more */
};

/* An empty set admitting under limits. Returns 0 or -ENOMEM. */
int served_set_init(struct served_set *set, const struct config_limits *limits) AD_MUST_CHECK;
/* After every loop has ended: drops what is left and destroys the lock. */
void served_set_free(struct served_set *set);

/*
 * A served workload for spec (validated first), its SPIFFE ID in trust
 * domain td, with every upstream's expected ID in td too. Not yet in the
 * set (served_add). Returns 0, or -EINVAL or -ENOMEM with the reason in
 * why (which starts empty).
 */
int served_new(struct served_set *set, const struct workload *spec, const char *td,
    bool from_config, struct served **out, char *why, size_t why_size) AD_MUST_CHECK;
/*
 * Put wl at the head of the set (taking the caller's reference), after
 * taking its listen addresses: from then on no other process can bind
 * them, even before the first SVID brings the loops' listeners up. When
 * one cannot be taken, wl is not added and the caller keeps its
 * reference: returns -errno (-EADDRINUSE: another process serves it) and
 * the address in why.
 */
int served_add(struct served *wl, char *why, size_t why_size) AD_MUST_CHECK;
/* wl's listen addresses (SERVED_ADDRS_MAX at most) into out; returns how many. */
size_t served_addrs(const struct served *wl, const struct addr **out);
/* The served workload ns/name, or NULL (main loop). */
struct served *served_find(struct served_set *set, const char *ns, const char *name);
/*
 * Stop serving wl: it gives back its addresses and moves to the retired
 * list, where each loop closes its listeners on its next sync; the list's reference goes when every
 * listener has closed (served_prune).
 */
void served_remove(struct served *wl);
/*
 * Draining: every served workload gives back its addresses, so each
 * socket closes with the loops' listeners and a new client is refused at
 * once rather than left waiting in a backlog nobody accepts from.
 */
void served_set_unbind(struct served_set *set);
/* Drop retired workloads whose listeners have all closed. */
void served_prune(struct served_set *set);
void served_ref(struct served *wl);
/* Accepts NULL. */
void served_unref(struct served *wl);

/* The workload's current identity, referenced; NULL before the first SVID and once it expired. */
struct ident *served_ident(struct served *wl);
/*
 * A served workload's readiness at now (seconds): an unexpired SVID, no
 * renewal failing, and its listeners bound (loop 0 stands for all, as
 * every loop binds the same addresses).
 */
bool served_ready(const struct served *wl, int64_t now);

/*
 * Reserve a connection slot, total and per workload, under lim. Increment
 * first, then compare, so loops admitting at the same moment cannot
 * overshoot a limit. False when refused: *limit names the limit hit, or is
 * NULL when the set is closed (draining).
 */
bool served_admit(struct served *wl, const struct config_limits *lim, const char **limit);
/* Give back a slot served_admit reserved. */
void served_release(struct served *wl);
#endif
