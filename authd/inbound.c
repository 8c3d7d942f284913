/*
 * The inbound half of tunnel v1: a peer reaches one of our workloads.
 * mTLS with the workload's SVID (client certificate required), one CONNECT
 * head, the port and policy checks, then 200 and a splice to the app, or
 * an error status with an x-authd-deny reason and a close.
 *
 * Authorization happens here, at the destination: the listener says who
 * the destination is, the verified client certificate says who the source
 * is, and the CONNECT head says which port.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authd/inbound.h"

#include "authd/conn.h"
#include "authd/ident.h"
#include "authd/listener.h"
#include "authd/log.h"
#include "authd/served.h"
#include "common/clock.h"
#include "wire/connect.h"
#include "wire/tls.h"
#include "policy/policy.h"

static void in_handshake_done(struct conn *c);
static void in_head_input(struct conn *c);
static void in_dialed(struct conn *c, int status);

static void in_recheck(struct conn *c, int64_t now);

static const struct tunnel_ops inbound_ops = {
	.handshake_done = in_handshake_done,
	.head_input = in_head_input,
	.dialed = in_dialed,
	.recheck = in_recheck,
};

static void
answer(struct conn *c, int status, const char *why)
{
	char head[CONNECT_HEAD_MAX];
	size_t len;

	if (connect_response(head, sizeof(head), status, why, &len) != 0) {
		conn_abort(c, c->decision, c->reason);
		return;
	}
	conn_answer_and_close(c, head, len);
}

static void
in_handshake_done(struct conn *c)
{
	c->st = CONN_REQUEST;
	c->head_cap = c->cl->limits.max_header_bytes;
	if ((c->head = malloc(c->head_cap)) == NULL) {
		conn_abort(c, "error", "no-memory");
		return;
	}
	conn_deadline(c, c->cl->limits.header_timeout_ms);
}

static const struct addr *
app_for_port(const struct served *wl, uint16_t port)
{
	size_t i;

	for (i = 0; i < wl->spec.n_apps; i++)
		if (addr_port(&wl->apps[i]) == port)
			return &wl->apps[i];
	return NULL;
}

static void
in_head_input(struct conn *c)
{
	struct connect_req req;
	struct policy_decision dec;
	const struct spiffe_id *src = tls_peer_id(c->tls);
	const struct addr *app;
	char why[CONNECT_REASON_MAX];
	int r;

	r = connect_parse(c->head, c->head_len, &req);
	if (r == CONNECT_E_AGAIN && c->head_len < c->head_cap)
		return;
	if (r == CONNECT_E_AGAIN) {
		r = CONNECT_E_TOO_BIG;
		conn_count(c, METRICS_LIMITS, "max_header_bytes", NULL);
	}
	if (r != 0) {
		conn_count(c, METRICS_BAD_REQUESTS, connect_reason(r), NULL);
		conn_decide(c, "error", connect_reason(r), 0);
		util_format(why, sizeof(why), "bad request: %s", connect_strerror(r));
		answer(c, 400, why);
		return;
	}
	c->head_used = req.head_len;
	c->port = req.port;
	if (req.has_traceparent)
		memcpy(c->trace_id, req.traceparent + 3, 32);
	c->trace_id[32] = '\0';

	if ((app = app_for_port(c->wl, req.port)) == NULL) {
		conn_decide(c, "deny", "port-not-served", 0);
		util_format(why, sizeof(why), "port %u is not served by %s", req.port, c->wl->id.str);
		answer(c, 403, why);
		return;
	}
	r = policy_check(c->cl->reader, src, &c->wl->id, req.port, clock_now_ms() / 1000, &dec);
	if (r != 0) {
		/* Per connection at debug: the main loop logs a store fault once and names it in /readyz. */
		log_debug("policy check failed: %s", policy_strerror(r));
		conn_decide(c, "error", "policy-unavailable", 0);
		answer(c, 503, "policy store unavailable");
		return;
	}
	if (dec.verdict == POLICY_DENY) {
		conn_decide(c, "deny", policy_reason_name(dec.reason), dec.rule_id);
		if (dec.reason == POLICY_R_PORT)
			util_format(why, sizeof(why), "rules allow %s -> %s on other ports, not :%u",
			    src->str, c->wl->id.str, req.port);
		else if (dec.reason == POLICY_R_EXPIRED)
			util_format(why, sizeof(why), "the rule allowing %s -> %s :%u has expired",
			    src->str, c->wl->id.str, req.port);
		else
			util_format(why, sizeof(why), "no rule allows %s -> %s :%u", src->str,
			    c->wl->id.str, req.port);
		answer(c, 403, why);
		return;
	}
	if (dec.verdict == POLICY_AUDIT) {
		conn_decide(c, "audit", policy_reason_name(dec.reason), dec.rule_id);
		log_info("audit: would deny %s -> %s :%u (%s)", src->str, c->wl->id.str, req.port,
		    policy_reason_name(dec.reason));
	} else {
		conn_decide(c, "allow", "rule", dec.rule_id);
		c->recheck_at = dec.expires;	/* the tick re-checks it then */
	}
	c->st = CONN_DIAL_APP;
	conn_deadline(c, c->cl->limits.connect_timeout_ms);
	if ((r = conn_dial(c, &c->app, app)) < 0) {
		c->decision = "error";
		c->reason = "app-unreachable";
		answer(c, 503, "app unreachable");
	}
}

static void
in_dialed(struct conn *c, int status)
{
	char head[CONNECT_HEAD_MAX];
	size_t len;

	if (status < 0) {
		char why[128];

		log_debug("inbound %s: app unreachable: %s", c->wl->key, uv_strerror(status));
		c->decision = "error";
		c->reason = "app-unreachable";
		util_format(why, sizeof(why), "app unreachable: %s", uv_strerror(status));
		answer(c, 503, why);
		return;
	}
	if (connect_response(head, sizeof(head), 200, NULL, &len) != 0 ||
	    conn_tls_send(c, (const uint8_t *)head, len) != 0) {
		conn_abort(c, "error", "peer-write-failed");
		return;
	}
	conn_splice(c);
}

/*
 * An established tunnel under a changed policy (a revoke, an apply, a rule
 * that expired): still allowed, it flows on; otherwise it closes now and is
 * logged and counted as revoked. A destination in audit mode only logs.
 */
static void
in_recheck(struct conn *c, int64_t now)
{
	const struct spiffe_id *src = tls_peer_id(c->tls);
	struct policy_decision dec;

	if (src == NULL || c->decision == NULL || strcmp(c->decision, "audit") == 0)
		return;
	if (policy_check(c->cl->reader, src, &c->wl->id, c->port, now, &dec) != 0)
		return;	/* the store failed: keep what was decided; the next check retries */
	if (dec.verdict == POLICY_ALLOW) {
		c->recheck_at = dec.expires;	/* maybe another rule, maybe a later expiry */
		return;
	}
	if (dec.verdict == POLICY_AUDIT) {
		log_info("audit: would revoke %s -> %s :%u (%s, policy revision %llu)", src->str,
		    c->wl->id.str, c->port, policy_reason_name(dec.reason),
		    (unsigned long long)dec.revision);
		return;
	}
	log_info("revoked: %s -> %s :%u (rule #%llu no longer allows it: %s, policy revision %llu)",
	    src->str, c->wl->id.str, c->port, (unsigned long long)c->rule,
	    policy_reason_name(dec.reason), (unsigned long long)dec.revision);
	/* Counted under decision "revoked" with the new verdict's reason. */
	c->decision = "revoked";
	c->reason = policy_reason_name(dec.reason);
	conn_abort(c, c->decision, "revoked");
}

static void
on_accept(uv_stream_t *server, int status)
{
	struct served *wl = server->data;
	struct conn *c;

	if (status < 0) {
		log_warn("inbound %s: accept: %s", wl->key, uv_strerror(status));
		return;
	}
	if ((c = conn_open(server->loop->data, wl, METRICS_INBOUND, &inbound_ops, server)) == NULL)
		return;
	if (tls_session_new(c->ident->server, &c->tls) != 0) {
		conn_abort(c, "error", "no-memory");
		return;
	}
	conn_start_tls(c);
}

int
inbound_listen(struct conn_loop *cl, struct served *wl)
{
	union listener *lh = &wl->lh[cl->index];
	int r;

	if ((r = listener_init(cl->loop, lh, &wl->listen)) < 0)
		return r;
	lh->h.data = wl;
	listener_opened(wl);
	wl->listening[cl->index] = true;
	if ((r = listener_bind(lh, wl, &wl->listen)) < 0 ||
	    (r = uv_listen(&lh->s, 1024, on_accept)) < 0) {
		wl->listening[cl->index] = false;
		listener_close(lh, wl, &wl->listen);
		return r;
	}
	return 0;
}
