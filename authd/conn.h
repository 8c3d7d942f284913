/*
 * Connections: a connection's two sockets (the mTLS side and the plaintext
 * side) and the bytes between them, with bounded buffers, backpressure,
 * half-close, deadlines and the access-log line; and the per-loop state
 * every connection of one loop shares (struct conn_loop).
 *
 * The tunnel protocol on top (inbound.c, outbound.c) drives a connection
 * through struct tunnel_ops; a multiplexed transport would replace those
 * two files, not this one. A connection belongs to one loop's thread.
 */
#ifndef AUTHD_AUTHD_CONN_H
#define AUTHD_AUTHD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "authd/config.h"
#include "authd/metrics.h"
#include "common/addr.h"
#include "common/util.h"

struct conn;
struct ident;
struct policy_reader;
struct policy_store;
struct served;
struct served_set;
struct tls_session;
struct upstream_rt;

/* Size of a loop's shared read buffer (one socket read at a time). */
#define CONN_READ_MAX 65536

/*
 * What one event loop's connections share: its loop, its place among the
 * loops (the index of its per-loop slots in served workloads), its copy of
 * the limits, its LMDB reader, its metrics and its read buffer. The loop's
 * data pointer is this struct, so an accept callback finds it.
 */
struct conn_loop {
	uv_loop_t *loop;
	unsigned index;
	struct served_set *set;
	struct config_limits limits;	/* a copy, refreshed on sync: reloads do not race */
	struct policy_reader *reader;
	/* Connection metrics; the admin handler adds them up under mlock. */
	struct metrics *metrics;
	uv_mutex_t mlock;
	struct conn *conns;
	bool draining;
	uint8_t rbuf[CONN_READ_MAX];
};

/*
 * Set up cl (zeroed) for loop (loop->data becomes cl), the index-th of
 * the set's loops, with its own reader of store. Returns 0, -ENOMEM or a
 * POLICY_E_* code; conn_loop_free undoes a partial setup too.
 */
int conn_loop_init(struct conn_loop *cl, uv_loop_t *loop, unsigned index, struct served_set *set,
    struct policy_store *store) AD_MUST_CHECK;
void conn_loop_free(struct conn_loop *cl);
/* Add cl's connection metrics into out (under its lock). */
void conn_loop_metrics(struct conn_loop *cl, struct metrics *out);

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

/*
 * What the tunnel protocol does at each step (inbound.c, outbound.c): the
 * directions register these, so news travels up without conn.c knowing
 * either of them.
 */
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
	struct conn_loop *cl;		/* the loop it lives on */
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

struct conn *conn_new(struct conn_loop *cl, struct served *wl, enum metrics_dir dir,
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
struct conn *conn_open(struct conn_loop *cl, struct served *wl, enum metrics_dir dir,
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

/* Close every connection of cl now (end of drain). */
void conn_close_all(struct conn_loop *cl);
/*
 * Re-check established inbound connections against policy: all of them
 * (a new revision), or only those whose allowing rule has expired by now
 * (due_only; every other answer stands until the next revision). Those
 * no longer allowed close, logged and counted as "revoked".
 */
void conn_recheck_all(struct conn_loop *cl, bool due_only);
#endif
