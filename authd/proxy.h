/*
 * The daemon's runtime: what daemon.c, identity.c, conn.c, inbound.c and
 * outbound.c share. Everything here lives on the one loop thread, except
 * the signing job identity.c hands to libuv's thread pool.
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

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "authd/addr.h"
#include "authd/config.h"
#include "authd/connect.h"
#include "authd/metrics.h"
#include "authd/workload.h"
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

/* Size of the loop's shared read buffer (one socket read at a time). */
#define PROXY_READ_MAX 65536
/* Longest "NS/NAME". */
#define PROXY_KEY_MAX (2 * WORKLOAD_NAME_MAX + 1)

/*
 * One SVID generation of a workload and the TLS configurations built on
 * it. Connections hold a reference, so a renewal swaps in a new identity
 * for new handshakes while established ones keep theirs.
 */
struct ident {
	unsigned refs;
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
	union listener lh;
	bool listening;
	struct tls_ticket *ticket;	/* for resumption with this peer */
};

/* A workload this daemon serves. */
struct served {
	struct daemon *d;
	struct served *next;
	unsigned refs;			/* the daemon's list, connections, open handles */
	char key[PROXY_KEY_MAX + 1];	/* "NS/NAME" */
	struct workload spec;
	bool from_config;
	bool removed;			/* no longer served; freed when the last ref goes */
	struct spiffe_id id;
	struct ident *ident;		/* current identity, NULL until the first SVID */
	struct addr listen;
	union listener lh;
	bool listening;
	struct addr apps[WORKLOAD_APPS_MAX];
	size_t n_up;
	struct upstream_rt up[WORKLOAD_UPSTREAMS_MAX];
	uv_timer_t renew;		/* next SVID issuance */
	bool renew_open;
	bool queued;			/* waiting in or running in the issuance queue */
	unsigned failures;		/* issuance failures in a row */
	unsigned active;		/* connections */
	char listen_error[128];		/* why a listener did not bind, for /readyz */
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
	struct certs_ca *ca;
	struct certs_bundle *bundle;
	struct metrics *metrics;
	struct admin *admin;
	struct served *served;
	struct conn *conns;		/* all open connections */
	unsigned active;
	uint64_t policy_rev, registry_rev;
	bool draining;
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
	struct certs_svid *issue_svid;
	int issue_err;
	uint32_t issue_ttl;		/* copied for the job: a reload may change cfg meanwhile */
	/* Dev mode's sample apps. */
	uv_tcp_t dev_apps[2];
	size_t n_dev_apps;
	uint8_t rbuf[PROXY_READ_MAX];
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
};

struct conn {
	struct daemon *d;
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
	uint64_t bytes_in, bytes_out;
	char trace_id[33];
};

struct conn *conn_new(struct daemon *d, struct served *wl, enum metrics_dir dir,
    const struct tunnel_ops *ops);
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

/* Milliseconds since the epoch (wall clock), for logs. */
int64_t proxy_now_ms(void);

/* daemon.c */
int daemon_run(struct daemon *d);
/* Close every handle still open on loop and run it until they are gone (any exit path). */
void daemon_close_handles(uv_loop_t *loop);
/* A served workload's readiness: an unexpired SVID and its listeners bound. */
bool served_ready(const struct served *wl, int64_t now);
void served_unref(struct served *wl);
/* Whether the daemon accepts another connection for wl; counts the limit when not. */
bool daemon_admit(struct daemon *d, struct served *wl, enum metrics_dir dir);

/* identity.c */
/* Queue wl for an SVID now (first issuance or renewal). */
void identity_request(struct served *wl);
/* Close wl's renewal timer (when it stops being served). */
void identity_stop(struct served *wl);
/* Cancel nothing, but wait: true while a signing job runs (the loop must not close). */
bool identity_busy(const struct daemon *d);

/* inbound.c and outbound.c: start and stop a workload's listeners. */
int inbound_listen(struct served *wl);
int outbound_listen(struct served *wl, struct upstream_rt *up);
void listener_close(union listener *lh, struct served *wl);

/* Close every connection now (end of drain). */
void conn_close_all(struct daemon *d);

/* dev.c */
/* Prepare a dev state dir (CA, store, workloads, policy); fills cfg. */
int dev_prepare(const char *state_dir, struct config *cfg) AD_MUST_CHECK;
/* Start the built-in sample apps and print the commands to try. */
int dev_start(struct daemon *d, const char *state_dir) AD_MUST_CHECK;
#endif
