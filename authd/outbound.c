/*
 * The outbound half of tunnel v1: our workload's app reaches a peer. The
 * app connects in plaintext to an upstream listener; authd dials the
 * peer's mesh listener, does mTLS as the workload (its SVID), checks the
 * server's SPIFFE ID when the upstream names one, sends CONNECT with a
 * fresh W3C traceparent and splices after a 200. Anything else closes the
 * app's connection; the peer's x-authd-deny reason goes to the log.
 *
 * A session ticket per upstream lets the next connection resume: no
 * signature and no certificate chain, the expensive part with mbedTLS.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authd/outbound.h"

#include "authd/conn.h"
#include "authd/ident.h"
#include "authd/listener.h"
#include "authd/log.h"
#include "authd/served.h"
#include "wire/connect.h"
#include "wire/tls.h"

static void out_handshake_done(struct conn *c);
static void out_head_input(struct conn *c);
static void out_dialed(struct conn *c, int status);

static const struct tunnel_ops outbound_ops = {
	.handshake_done = out_handshake_done,
	.head_input = out_head_input,
	.dialed = out_dialed,
};

static void
hex(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
out_dialed(struct conn *c, int status)
{
	struct upstream_rt *up = c->up;
	struct tls_ticket **t;
	int r;

	if (status < 0) {
		log_debug("outbound %s -> %s: %s", c->wl->key, up->spec->peer, uv_strerror(status));
		conn_abort(c, "error", "peer-unreachable");
		return;
	}
	if (tls_session_new(c->ident->client, &c->tls) != 0 ||
	    (up->has_expect && tls_session_set_expected_peer(c->tls, &up->expect) != 0)) {
		conn_abort(c, "error", "no-memory");
		return;
	}
	t = &up->ticket[c->cl->index];
	if (*t != NULL && (r = tls_session_use_ticket(c->tls, *t)) != 0) {
		/* Expired peer certificate or another peer: forget it, go full. */
		tls_ticket_free(*t);
		*t = NULL;
	}
	conn_start_tls(c);
}

static void
out_handshake_done(struct conn *c)
{
	struct upstream_rt *up = c->up;
	uint8_t id[24];
	char tp[CONNECT_TRACEPARENT_LEN + 1], span[17], head[CONNECT_HEAD_MAX];
	size_t len;

	randombytes_buf(id, sizeof(id));
	hex(c->trace_id, id, 16);
	hex(span, id + 16, 8);
	if (util_snprintf(tp, sizeof(tp), "00-%s-%s-01", c->trace_id, span) != 0 ||
	    connect_request(head, sizeof(head), up->spec->target_host, up->spec->target_port, tp,
	    &len) != 0 || conn_tls_send(c, (const uint8_t *)head, len) != 0) {
		conn_abort(c, "error", "request-failed");
		return;
	}
	c->port = up->spec->target_port;
	c->st = CONN_RESPONSE;
	c->head_cap = CONNECT_HEAD_MAX;
	if ((c->head = malloc(c->head_cap)) == NULL) {
		conn_abort(c, "error", "no-memory");
		return;
	}
	conn_deadline(c, c->cl->limits.connect_timeout_ms);
}

static void
out_head_input(struct conn *c)
{
	struct upstream_rt *up = c->up;
	struct tls_ticket *t;
	char reason[CONNECT_REASON_MAX + 1];
	size_t used;
	int status, r;

	r = connect_status(c->head, c->head_len, &status, &used, reason, sizeof(reason));
	if (r == CONNECT_E_AGAIN && c->head_len < c->head_cap)
		return;
	if (r != 0) {
		conn_count(c, METRICS_BAD_REQUESTS, connect_reason(r), NULL);
		conn_abort(c, "error", "bad-response");
		return;
	}
	if (status != 200) {
		log_info("outbound %s -> %s: %d %s", c->wl->key, up->spec->peer, status,
		    reason[0] != '\0' ? reason : "(no reason)");
		conn_abort(c, status == 403 ? "deny" : "error",
		    status == 403 ? "peer-denied" : "peer-error");
		return;
	}
	/* A TLS 1.3 ticket arrives after the handshake; tls_read has seen it by now. */
	if (tls_session_save_ticket(c->tls, &t) == 0) {
		tls_ticket_free(up->ticket[c->cl->index]);
		up->ticket[c->cl->index] = t;
	}
	conn_decide(c, "allow", "ok", 0);
	c->head_used = used;
	conn_splice(c);
}

static void
on_accept(uv_stream_t *server, int status)
{
	struct upstream_rt *up = server->data;
	struct served *wl = up->wl;
	struct conn *c;

	if (status < 0) {
		log_warn("outbound %s: accept: %s", wl->key, uv_strerror(status));
		return;
	}
	if ((c = conn_open(server->loop->data, wl, METRICS_OUTBOUND, &outbound_ops, server)) == NULL)
		return;
	c->up = up;
	util_format(c->peer_addr, sizeof(c->peer_addr), "%s", up->spec->peer);
	c->st = CONN_DIAL_PEER;
	conn_deadline(c, c->cl->limits.connect_timeout_ms);
	if (conn_dial(c, &c->net, &up->peer) < 0)
		conn_abort(c, "error", "peer-unreachable");
}

int
outbound_listen(struct conn_loop *cl, struct served *wl, struct upstream_rt *up)
{
	union listener *lh = &up->lh[cl->index];
	int r;

	if ((r = listener_init(cl->loop, lh, &up->listen)) < 0)
		return r;
	lh->h.data = up;
	listener_opened(wl);
	up->listening[cl->index] = true;
	r = listener_bind(lh, wl, &up->listen);
	if (r == 0)
		r = uv_listen(&lh->s, 1024, on_accept);
	if (r < 0) {
		up->listening[cl->index] = false;
		listener_close(lh, wl, &up->listen);
	}
	return r;
}
