/*
 * The daemon's runtime: what daemon.c, worker.c, identity.c, conn.c,
 * inbound.c and outbound.c share.
 *
 * Threads: the main loop owns the daemon (signals, admin, the store watch,
 * identities, the served set); one worker per core (the main loop is worker
 * 0) owns its listeners (SO_REUSEPORT, so the kernel spreads connections),
 * its connections, its LMDB reader and its metrics. Workers read the served
 * set and swap in identities under d->lock; reference counts that cross
 * threads are atomic. SVID signing runs on libuv's thread pool.
 *
 * Layers, bottom up, so a multiplexed transport can replace the middle one
 * later without touching identity or policy:
 *  - conn.c: a connection's two sockets (the mTLS side and the plaintext
 *    side), bounded buffers, backpressure, half-close, timers, the access
 *    log line;
 *  - inbound.c / outbound.c: the v1 tunnel (one CONNECT per TLS connection);
 *  - identity.c and policy: who the peer is and whether it may pass,
 *    consulted by the tunnel through served workloads and the daemon.
 */
#ifndef AUTHD_AUTHD_PROXY_H
#define AUTHD_AUTHD_PROXY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/addr.h"
#include "authd/config.h"
#include "wire/connect.h"
#include "authd/metrics.h"
#include "policy/registry.h"
#include "policy/workload.h"
#include "certs/spiffe.h"

struct admin;
struct certs_bundle;
struct certs_ca;
struct certs_svid;
struct conn;
struct daemon;
struct policy_reader;
struct policy_store;
struct tls_config;
struct tls_session;
struct tls_ticket;

/* Size of a worker's shared read buffer (one socket read at a time). */
#define PROXY_READ_MAX 65536
/* Most loops (workers) a daemon runs. */
#define PROXY_WORKERS_MAX 64
/* Longest "NS/NAME". */
#define PROXY_KEY_MAX (2 * WORKLOAD_NAME_MAX + 1)

/*
 * One SVID generation of a workload and the TLS configurations built on
 * it. Connections hold a reference, so a renewal swaps in a new identity
 * for new handshakes while established ones keep theirs.
 */
/*
 * The CA and trust bundle loaded from ca_dir. A rollover (a changed file
 * there) loads a new one; identities keep the one they were built on, since
 * their TLS configs borrow its bundle, so it is reference counted.
 */
struct trust {
	atomic_uint refs;
	struct certs_ca *ca;
	struct certs_bundle *bundle;
};

struct trust *trust_ref(struct trust *t);
void trust_unref(struct trust *t);

struct ident {
	atomic_uint refs;
	struct trust *trust;		/* the CA that signed svid; configs borrow its bundle */
	struct certs_svid *svid;
	struct tls_config *server;	/* NULL without an inbound listener */
	struct tls_config *client;	/* NULL without upstreams */
};

struct ident *ident_ref(struct ident *id);
void ident_unref(struct ident *id);

/* A listener: TCP or unix socket. */
union listener {
	uv_handle_t h;
	uv_stream_t s;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct upstream_rt {
	struct served *wl;
	const struct workload_upstream *spec;	/* inside wl->spec */
	struct addr listen, peer;
	struct spiffe_id expect;
	bool has_expect;
	union listener *lh;		/* one per worker */
	bool *listening;		/* one per worker; owned by that worker */
	struct tls_ticket **ticket;	/* one per worker: for resumption with this peer */
};

/* A workload this daemon serves. */
struct served {
	struct daemon *d;
	struct served *next;
	atomic_uint refs;		/* the daemon's list, connections, open handles */
	char key[PROXY_KEY_MAX + 1];	/* "NS/NAME" */
	struct workload spec;
	bool from_config;
	bool removed;			/* no longer served; freed when the last ref goes */
	struct spiffe_id id;
	struct ident *ident;		/* current identity, NULL until the first SVID (d->lock) */
	struct addr listen;
	union listener *lh;		/* one per worker */
	bool *listening;		/* one per worker; owned by that worker */
	struct addr apps[WORKLOAD_APPS_MAX];
	size_t n_up;
	struct upstream_rt up[WORKLOAD_UPSTREAMS_MAX];
	uv_timer_t renew;		/* next SVID issuance */
	bool renew_open;
	bool queued;			/* waiting in or running in the issuance queue */
	unsigned failures;		/* issuance failures in a row */
	atomic_uint active;		/* connections, all workers */
	atomic_uint listeners;		/* listener handles open, all workers */
	char listen_error[128];		/* why a listener did not bind, for /readyz (d->lock) */
	/* The SVID status the registry has not taken yet (a store write failed). */
	bool status_pending;
	struct workload_svid_status status;
};

/* Commands the main loop sends a worker (bits of worker.cmd). */
enum worker_cmd {
	WORKER_SYNC = 1,		/* bind listeners of new workloads, close removed ones */
	WORKER_DRAIN = 2,		/* close every listener */
	WORKER_CLOSE_ALL = 4,		/* close every connection (drain deadline) */
	WORKER_EXIT = 8,		/* close the wake handle and let the loop end */
	WORKER_RECHECK = 16,		/* re-check established inbound connections (a new revision) */
	WORKER_RECHECK_DUE = 32,	/* re-check those whose allowing rule has expired (the tick) */
};

/* A loop with its own listeners and connections. */
struct worker {
	struct daemon *d;
	unsigned index;
	uv_loop_t *loop;		/* worker 0: the main loop */
	uv_loop_t own_loop;		/* workers 1..n-1 */
	uv_thread_t thread;
	bool started;
	uv_async_t wake;
	atomic_uint cmd;
	struct config_limits limits;	/* a copy, refreshed on SYNC: reloads do not race */
	struct policy_reader *reader;
	/* Connection metrics; the admin handler adds them up under mlock. */
	struct metrics *metrics;
	uv_mutex_t mlock;
	struct conn *conns;
	bool draining;
	uint8_t rbuf[PROXY_READ_MAX];
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
	struct trust *trust;		/* current; main loop only */
	char trust_error[256];		/* why the last reload of ca_dir failed, for /readyz */
	/* Why the last read / write of the store failed ("" = it worked), for /readyz. */
	char store_read_error[192];
	char store_write_error[192];
	uv_fs_event_t ca_watch;
	uv_timer_t ca_debounce;
	struct metrics *metrics;
	struct admin *admin;
	struct served *served;
	struct served *retired;		/* removed, listeners still closing on some worker */
	uv_mutex_t lock;		/* served, retired, ident swaps, listen_error */
	int lock_fd;			/* flock on STORE.authd-lock: one daemon per store */
	struct worker *workers[PROXY_WORKERS_MAX];
	unsigned n_workers;
	atomic_uint active;		/* connections, all workers */
	uint64_t policy_rev, registry_rev;
	bool draining;
	bool drain_forced;		/* the deadline passed; WORKER_CLOSE_ALL sent */
	int exit_code;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t tick;		/* revision checks and drain deadline */
	uv_fs_event_t store_watch;
	int64_t drain_deadline_ms;
	/* Issuance: one signing job at a time on the thread pool. */
	struct served *issue_queue[WORKLOAD_MAX];
	size_t issue_head, issue_len;
	bool issue_running;
	uv_work_t issue_work;
	struct served *issue_wl;
	struct trust *issue_trust;	/* the CA the running job signs with */
	struct certs_svid *issue_svid;
	int issue_err;
	uint32_t issue_ttl;		/* copied for the job: a reload may change cfg meanwhile */
	/* Dev mode's sample apps. */
	uv_tcp_t dev_apps[2];
	size_t n_dev_apps;
};

/* ---- Connections (conn.c) ------------------------------------------------ */

enum conn_state {
	CONN_DIAL_PEER,		/* outbound: TCP connect to the peer's mesh listener */
	CONN_HANDSHAKE,		/* mutual TLS */
	CONN_REQUEST,		/* inbound: reading the CONNECT head */
	CONN_DIAL_APP,		/* inbound: TCP connect to the app */
	CONN_RESPONSE,		/* outbound: waiting for the peer's answer */
	CONN_SPLICE,		/* tunnel open: bytes flow both ways */
	CONN_LINGER,		/* answer sent; draining the peer's input until EOF */
	CONN_CLOSED,		/* handles closing; freed when the last one is */
};

/* One socket of a connection. */
struct side {
	union {
		uv_handle_t h;
		uv_stream_t s;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} u;
	bool open;		/* handle initialised: must be closed */
	bool reading;
	bool eof;		/* the remote end finished sending */
	bool shut;		/* our FIN was requested */
	bool shut_done;		/* ... and sent */
	bool wbusy;		/* a write is in flight: produce nothing more for it */
	uint8_t *wbuf;		/* the unsent rest of that write (heap) */
	uv_write_t wreq;
	uv_shutdown_t sreq;
};

/* What the tunnel protocol does at each step (inbound.c, outbound.c). */
struct tunnel_ops {
	void (*handshake_done)(struct conn *c);
	/* Bytes arrived in c->head (REQUEST or RESPONSE state). */
	void (*head_input)(struct conn *c);
	/* The outgoing TCP connect finished (status as uv_connect_cb). */
	void (*dialed)(struct conn *c, int status);
	/* The policy changed: close c if it is no longer allowed (NULL: nothing to check). */
	void (*recheck)(struct conn *c, int64_t now);
};

struct conn {
	struct daemon *d;
	struct worker *w;		/* the loop it lives on */
	struct conn *prev, *next;
	struct served *wl;
	struct upstream_rt *up;		/* outbound only */
	const struct tunnel_ops *ops;
	enum metrics_dir dir;
	enum conn_state st;
	struct side net;		/* the mTLS socket */
	struct side app;		/* the plaintext socket */
	uv_timer_t timer;
	bool timer_open;
	uv_connect_t creq;
	unsigned open_handles;
	struct tls_session *tls;
	struct ident *ident;
	uint8_t *head;			/* request/response head; then tunnel bytes after it */
	size_t head_len, head_cap, head_used;
	uint8_t *pend;			/* app bytes tls_write has not taken yet */
	size_t pend_len, pend_off;
	bool net_read_done;		/* peer's TLS stream ended (close_notify/EOF) */
	bool tls_closed;		/* our close_notify is queued */
	/* For the access log and metrics. */
	int64_t start_ms;
	uint64_t last_io;		/* uv_now at the last byte either way */
	uint32_t idle_ms;
	char peer_addr[ADDR_TEXT_MAX + 1];
	uint16_t port;
	const char *decision;		/* NULL until decided */
	const char *reason;		/* a token: why the decision */
	const char *end;		/* a token: how it ended ("done", "idle-timeout", ...) */
	uint64_t rule;
	int64_t recheck_at;		/* inbound allow: when its rule expires (0 = never) */
	uint64_t bytes_in, bytes_out;
	char trace_id[33];
};

struct conn *conn_new(struct worker *w, struct served *wl, enum metrics_dir dir,
    const struct tunnel_ops *ops);
/* Count into the worker's metrics (locked: the admin handler reads them). */
void conn_count(struct conn *c, enum metrics_counter k, const char *l1, const char *l2);
/*
 * The accept path of both directions: a slot under the limits, the
 * workload's current identity with the TLS config this direction needs,
 * the connection, and the client accepted on its side (the mTLS side
 * inbound, the app side outbound). NULL when the client was refused (over
 * a limit, no identity yet) or the accept failed (the connection closes).
 */
struct conn *conn_open(struct worker *w, struct served *wl, enum metrics_dir dir,
    const struct tunnel_ops *ops, uv_stream_t *server);
/*
 * Accept a client of server and close it at once: over a limit, or no
 * identity yet. Nothing is read or written, nothing logged but the counter
 * the caller bumps.
 */
void conn_refuse(uv_stream_t *server);
/* Accept a client of server into side s (TCP or unix, like the server). */
int conn_accept(struct conn *c, uv_stream_t *server, struct side *s) AD_MUST_CHECK;
/* Start an outgoing TCP connect on side s; ops->dialed reports the end. */
int conn_dial(struct conn *c, struct side *s, const struct addr *to) AD_MUST_CHECK;
/* Arm the connection's deadline; 0 disarms. */
void conn_deadline(struct conn *c, uint32_t ms);
/* Start reading the mTLS side and drive the handshake. */
void conn_start_tls(struct conn *c);
/* Run the state machine after anything changed. */
void conn_pump(struct conn *c);
/* Queue plaintext into TLS (a head), flushing as it goes. */
int conn_tls_send(struct conn *c, const uint8_t *p, size_t n) AD_MUST_CHECK;
/* Open the tunnel: bytes left in head after head_used go to the app first. */
void conn_splice(struct conn *c);
/*
 * Record the outcome (decision "allow"/"deny"/"audit"/"error", a reason
 * token, the rule) for the log; the first call wins for decision and reason.
 */
void conn_decide(struct conn *c, const char *decision, const char *reason, uint64_t rule);
/* Send a final head (already formatted) with close_notify, then linger and close. */
void conn_answer_and_close(struct conn *c, const char *head, size_t len);
/* Close now. */
void conn_abort(struct conn *c, const char *decision, const char *reason);

/* daemon.c */
int daemon_run(struct daemon *d);
/* Close every handle still open on loop and run it until they are gone (any exit path). */
void daemon_close_handles(uv_loop_t *loop);
/* A served workload's readiness: an unexpired SVID and its listeners bound. */
bool served_ready(const struct served *wl, int64_t now);
void served_unref(struct served *wl);
/*
 * Whether worker w may take another connection for wl: reserves the slot
 * (released by the connection's end, or daemon_release when no connection
 * is made after all); counts the limit when not.
 */
bool daemon_admit(struct worker *w, struct served *wl, enum metrics_dir dir);
void daemon_release(struct served *wl);
/* The workload's current identity, referenced (NULL before the first SVID). */
struct ident *served_ident(struct served *wl);

/* identity.c */
/* Queue wl for an SVID now (first issuance or renewal). */
void identity_request(struct served *wl);
/* Close wl's renewal timer (when it stops being served). */
void identity_stop(struct served *wl);
/* Cancel nothing, but wait: true while a signing job runs (the loop must not close). */
bool identity_busy(const struct daemon *d);
/* Write the SVID statuses a failed store write left pending (the tick). */
void identity_retry_status(struct daemon *d);

/* inbound.c and outbound.c: a workload's listeners on worker w. */
int inbound_listen(struct worker *w, struct served *wl);
int outbound_listen(struct worker *w, struct served *wl, struct upstream_rt *up);
void listener_close(union listener *lh, struct served *wl);

/* worker.c */
/* Create n workers (worker 0 on the main loop) and start the others' threads. */
int workers_start(struct daemon *d, unsigned n) AD_MUST_CHECK;
/* Send cmd to every worker (worker 0 runs it at once, on the caller's thread). */
void workers_send(struct daemon *d, unsigned cmd);
/* Join the threads and free the workers (after every loop has ended). */
void workers_stop(struct daemon *d);
/* Add every worker's connection metrics into out. */
void workers_metrics(struct daemon *d, struct metrics *out);
/* Open a listening socket with SO_REUSEPORT (TCP), for one worker's listener. */
int worker_bind_tcp(uv_tcp_t *h, const struct addr *a) AD_MUST_CHECK;

/* Close every connection of w now (end of drain). */
void conn_close_all(struct worker *w);
/*
 * Re-check w's established inbound connections against the policy as it
 * is now: those no longer allowed close, logged and counted as "revoked".
 */
/*
 * Re-check established inbound connections against policy: all of them
 * (a new revision), or only those whose allowing rule has expired by now
 * (due_only; every other answer stands until the next revision).
 */
void conn_recheck_all(struct worker *w, bool due_only);

/* trust.c */
/* Load ca_dir (CA and bundle) into a new trust; logs why not. */
int trust_load(struct daemon *d, struct trust **out) AD_MUST_CHECK;
/* Watch ca_dir: a change reloads it and re-issues every SVID under the new issuer. */
void trust_watch(struct daemon *d);

/* dev.c */
/* Prepare a dev state dir (CA, store, workloads, policy); fills cfg. */
int dev_prepare(const char *state_dir, struct config *cfg) AD_MUST_CHECK;
/* Start the built-in sample apps and print the commands to try. */
int dev_start(struct daemon *d, const char *state_dir) AD_MUST_CHECK;
#endif
