/*
 * A connection's two sockets and the bytes between them.
 *
 * Memory stays bounded without per-connection buffers in the common case:
 * every socket read lands in the loop's one shared buffer and is consumed
 * before the next read (ciphertext goes into the TLS session's bounded
 * input, plaintext into tls_write or a try-write to the app). A buffer is
 * allocated only for the unsent rest of a write the kernel did not take at
 * once, and while it exists nothing more is produced for that socket:
 * that is the backpressure. The side feeding it stops being read, its
 * kernel buffer fills, and TCP flow control reaches the sender.
 *
 * Half-close travels across: the app's FIN becomes our close_notify and
 * then a FIN on the mTLS socket; the peer's close_notify (or FIN) becomes a
 * FIN to the app. The connection ends when both directions have.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authd/conn.h"

#include "authd/accesslog.h"
#include "authd/ident.h"
#include "authd/log.h"
#include "authd/served.h"
#include "common/clock.h"
#include "wire/connect.h"
#include "wire/tls.h"
#include "policy/policy.h"

/* How long a connection that was answered with an error waits for the peer's EOF. */
#define CONN_LINGER_MS 2000

static void pump_splice(struct conn *c);
static void tls_failed(struct conn *c, const char *decision, enum metrics_counter k);

int
conn_loop_init(struct conn_loop *cl, uv_loop_t *loop, unsigned index, struct served_set *set,
    struct policy_store *store)
{
	int r;

	if (uv_mutex_init(&cl->mlock) != 0)
		return -ENOMEM;
	cl->loop = loop;	/* from here on conn_loop_free undoes it */
	cl->index = index;
	cl->set = set;
	cl->limits = set->limits;
	loop->data = cl;
	if ((r = metrics_new(&cl->metrics)) != 0 || (r = policy_reader_new(store, &cl->reader)) != 0)
		return r;
	return 0;
}

void
conn_loop_free(struct conn_loop *cl)
{
	if (cl->loop == NULL)
		return;
	policy_reader_free(cl->reader);
	cl->reader = NULL;
	metrics_free(cl->metrics);
	cl->metrics = NULL;
	uv_mutex_destroy(&cl->mlock);
}

void
conn_loop_metrics(struct conn_loop *cl, struct metrics *out)
{
	uv_mutex_lock(&cl->mlock);
	metrics_add(out, cl->metrics);
	uv_mutex_unlock(&cl->mlock);
}

struct conn *
conn_new(struct conn_loop *cl, struct served *wl, enum metrics_dir dir, const struct tunnel_ops *ops)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cl = cl;
	c->wl = wl;
	c->ops = ops;
	c->dir = dir;
	c->start_ms = clock_now_ms();
	c->last_io = uv_now(cl->loop);
	c->idle_ms = cl->limits.idle_timeout_ms;
	c->reason = "ok";
	served_ref(wl);	/* the slot itself was reserved by served_admit */
	c->next = cl->conns;
	if (cl->conns != NULL)
		cl->conns->prev = c;
	cl->conns = c;
	uv_timer_init(cl->loop, &c->timer);
	c->timer.data = c;
	c->timer_open = true;
	c->open_handles = 1;
	uv_mutex_lock(&cl->mlock);
	metrics_active(cl->metrics, dir, 1);
	uv_mutex_unlock(&cl->mlock);
	return c;
}

/* Count into cl's metrics (locked: the admin handler reads them). */
static void
loop_count(struct conn_loop *cl, enum metrics_counter k, enum metrics_dir dir, const char *l1,
    const char *l2)
{
	uv_mutex_lock(&cl->mlock);
	metrics_count(cl->metrics, k, dir, l1, l2, 1);
	uv_mutex_unlock(&cl->mlock);
}

void
conn_count(struct conn *c, enum metrics_counter k, const char *l1, const char *l2)
{
	loop_count(c->cl, k, c->dir, l1, l2);
}

static void
conn_free(struct conn *c)
{
	struct conn_loop *cl = c->cl;
	struct accesslog_entry e;
	const struct spiffe_id *peer = c->tls != NULL ? tls_peer_id(c->tls) : NULL;
	const char *decision = c->decision != NULL ? c->decision : "error";

	memset(&e, 0, sizeof(e));
	e.time_ms = c->start_ms;
	e.direction = c->dir == METRICS_INBOUND ? "inbound" : "outbound";
	e.workload = c->wl->key;
	e.peer = c->peer_addr;
	if (c->dir == METRICS_INBOUND) {
		e.src = peer != NULL ? peer->str : NULL;
		e.dst = c->wl->id.str;
	} else {
		e.src = c->wl->id.str;
		e.dst = peer != NULL ? peer->str : NULL;
	}
	e.port = c->port;
	e.decision = decision;
	e.rule = c->rule;
	e.reason = c->reason;
	e.end = c->end != NULL ? c->end : c->reason;
	e.bytes_in = c->bytes_in;
	e.bytes_out = c->bytes_out;
	e.duration_ms = (uint64_t)(clock_now_ms() - c->start_ms);
	e.trace_id = c->trace_id[0] != '\0' ? c->trace_id : NULL;
	e.resumed = c->tls != NULL && tls_resumed(c->tls);
	accesslog_write(&e);
	uv_mutex_lock(&cl->mlock);
	metrics_count(cl->metrics, METRICS_CONNECTIONS, c->dir, decision, c->reason, 1);
	metrics_bytes(cl->metrics, c->dir, c->bytes_in, c->bytes_out);
	metrics_active(cl->metrics, c->dir, -1);
	uv_mutex_unlock(&cl->mlock);

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		cl->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	served_release(c->wl);
	tls_session_free(c->tls);
	if (c->ident != NULL)
		ident_unref(c->ident);
	free(c->net.wbuf);
	free(c->app.wbuf);
	util_free_wiped(c->head, c->head_cap);
	util_free_wiped(c->pend, c->pend_len);
	served_unref(c->wl);
	free(c);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles == 0)
		conn_free(c);
}

static void
close_side(struct side *s)
{
	if (s->open && !uv_is_closing(&s->u.h))
		uv_close(&s->u.h, on_handle_closed);
}

void
conn_decide(struct conn *c, const char *decision, const char *reason, uint64_t rule)
{
	if (c->decision != NULL)
		return;
	c->decision = decision;
	c->reason = reason;
	c->rule = rule;
}

void
conn_abort(struct conn *c, const char *decision, const char *reason)
{
	if (c->st == CONN_CLOSED)
		return;
	/*
	 * Once decided, the reason given here says how the connection ended,
	 * unless that was said already (tls_failed, before its linger).
	 */
	if (c->decision != NULL && c->end == NULL)
		c->end = reason;
	conn_decide(c, decision, reason, 0);
	c->st = CONN_CLOSED;
	close_side(&c->net);
	close_side(&c->app);
	if (c->timer_open) {
		c->timer_open = false;
		uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	}
}

void
conn_close_all(struct conn_loop *cl)
{
	struct conn *c, *next;

	for (c = cl->conns; c != NULL; c = next) {
		next = c->next;
		conn_abort(c, "error", "drain-deadline");
	}
}

void
conn_recheck_all(struct conn_loop *cl, bool due_only)
{
	struct conn *c, *next;
	int64_t now = clock_now_ms() / 1000;

	for (c = cl->conns; c != NULL; c = next) {
		next = c->next;
		if (c->ops->recheck == NULL || (c->st != CONN_SPLICE && c->st != CONN_DIAL_APP))
			continue;
		if (due_only && (c->recheck_at == 0 || c->recheck_at > now))
			continue;
		c->ops->recheck(c, now);
	}
}

/* ---- Deadlines --------------------------------------------------------- */

static void
on_deadline(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now = uv_now(c->cl->loop);

	switch (c->st) {
	case CONN_HANDSHAKE:
		conn_count(c, METRICS_LIMITS, "handshake_timeout", NULL);
		conn_abort(c, "error", "handshake-timeout");
		break;
	case CONN_REQUEST: {
		char head[CONNECT_HEAD_MAX];
		size_t len;

		conn_count(c, METRICS_LIMITS, "header_timeout", NULL);
		conn_decide(c, "error", "header-timeout", 0);
		if (connect_response(head, sizeof(head), 408, "no complete CONNECT head in time",
		    &len) == 0)
			conn_answer_and_close(c, head, len);
		else
			conn_abort(c, "error", "header-timeout");
		break;
	}
	case CONN_DIAL_PEER:
	case CONN_DIAL_APP:
	case CONN_RESPONSE:
		conn_count(c, METRICS_LIMITS, "connect_timeout", NULL);
		if (c->st == CONN_DIAL_APP) {
			char head[CONNECT_HEAD_MAX];
			size_t len;

			conn_decide(c, "error", "app-timeout", 0);
			if (connect_response(head, sizeof(head), 503, "app did not answer in time",
			    &len) == 0) {
				conn_answer_and_close(c, head, len);
				break;
			}
		}
		conn_abort(c, "error", "connect-timeout");
		break;
	case CONN_SPLICE:
		/* Activity pushes the deadline out lazily: re-arm for the rest. */
		if (now - c->last_io < c->idle_ms) {
			uv_timer_start(&c->timer, on_deadline, c->idle_ms - (now - c->last_io), 0);
			break;
		}
		conn_count(c, METRICS_LIMITS, "idle_timeout", NULL);
		conn_abort(c, c->decision != NULL ? c->decision : "error", "idle-timeout");
		break;
	case CONN_LINGER:
	case CONN_CLOSED:
		conn_abort(c, "error", "answered");
		break;
	}
}

void
conn_deadline(struct conn *c, uint32_t ms)
{
	if (!c->timer_open)
		return;
	if (ms == 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_deadline, ms, 0);
}

/* ---- Writes ------------------------------------------------------------ */

static void
on_written(uv_write_t *req, int status)
{
	struct side *s = req->data;
	struct conn *c = req->handle->data;

	free(s->wbuf);
	s->wbuf = NULL;
	s->wbusy = false;
	if (c->st == CONN_CLOSED)
		return;
	if (status < 0) {
		conn_abort(c, c->decision != NULL ? c->decision : "error",
		    s == &c->net ? "peer-write-failed" : "app-write-failed");
		return;
	}
	conn_pump(c);
}

/*
 * Send p[0..n) on s: what the kernel takes now goes at once, the rest is
 * copied and written asynchronously (s->wbusy until done).
 */
static int
side_send(struct conn *c, struct side *s, const uint8_t *p, size_t n)
{
	uv_buf_t b;
	int r;

	if (n == 0)
		return 0;
	if (s->wbusy || !s->open || s->shut)
		return -EINVAL;
	b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
	r = uv_try_write(&s->u.s, &b, 1);
	if (r == UV_EAGAIN || r == UV_ENOSYS)
		r = 0;
	if (r < 0)
		return r;
	if ((size_t)r == n)
		return 0;
	if ((s->wbuf = malloc(n - (size_t)r)) == NULL)
		return -ENOMEM;
	memcpy(s->wbuf, p + r, n - (size_t)r);
	b = uv_buf_init((char *)s->wbuf, (unsigned)(n - (size_t)r));
	s->wreq.data = s;
	s->u.s.data = c;
	if ((r = uv_write(&s->wreq, &s->u.s, &b, 1, on_written)) < 0) {
		free(s->wbuf);
		s->wbuf = NULL;
		return r;
	}
	s->wbusy = true;
	return 0;
}

/* Send what the TLS session has queued, unless a write is in flight. */
static int
flush_tls(struct conn *c)
{
	const uint8_t *p;
	size_t n;
	int r;

	if (c->net.wbusy || !c->net.open || c->net.shut)
		return 0;
	if ((n = tls_pending_out(c->tls, &p)) == 0)
		return 0;
	r = side_send(c, &c->net, p, n);
	if (r == 0)
		tls_consume_out(c->tls, n);
	return r;
}

int
conn_tls_send(struct conn *c, const uint8_t *p, size_t n)
{
	size_t put, off = 0;
	int r;

	while (off < n) {
		r = tls_write(c->tls, p + off, n - off, &put);
		off += put;
		if (r == TLS_E_AGAIN && !c->net.wbusy) {
			if ((r = flush_tls(c)) < 0)
				return r;
			if (c->net.wbusy && off < n)
				return -EAGAIN;	/* heads are small; this does not happen in practice */
			continue;
		}
		if (r != 0)
			return r;
	}
	return flush_tls(c);
}

/* ---- Reads ------------------------------------------------------------- */

static void
alloc_net(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;
	size_t room = c->tls != NULL ? tls_feed_room(c->tls) : 0;

	(void)hint;
	if (c->st == CONN_LINGER)
		room = sizeof(c->cl->rbuf);	/* read to discard */
	if (room > sizeof(c->cl->rbuf))
		room = sizeof(c->cl->rbuf);
	*b = uv_buf_init((char *)c->cl->rbuf, (unsigned)room);
}

static void
alloc_app(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)hint;
	*b = uv_buf_init((char *)c->cl->rbuf, sizeof(c->cl->rbuf));
}

static void
on_net_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = st->data;

	if (c->st == CONN_CLOSED || n == 0 || n == UV_ENOBUFS)
		return;
	if (n < 0) {
		uv_read_stop(st);
		c->net.reading = false;
		c->net.eof = true;
		if (n != UV_EOF && c->st != CONN_LINGER) {
			conn_abort(c, c->decision != NULL ? c->decision : "error", "peer-reset");
			return;
		}
		if (c->st == CONN_LINGER) {
			conn_abort(c, c->decision, "answered");
			return;
		}
		tls_feed_eof(c->tls);
	} else if (c->st == CONN_LINGER) {
		return;		/* discard until EOF */
	} else if (tls_feed(c->tls, (const uint8_t *)b->base, (size_t)n) != 0) {
		conn_abort(c, "error", "no-memory");	/* alloc_net sized the read: only ENOMEM */
		return;
	}
	c->last_io = uv_now(c->cl->loop);
	conn_pump(c);
}

static void
on_app_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = st->data;
	size_t put = 0;
	int r;

	if (c->st != CONN_SPLICE || n == 0)
		return;
	if (n < 0) {
		uv_read_stop(st);
		c->app.reading = false;
		c->app.eof = true;
		if (n != UV_EOF) {
			conn_abort(c, c->decision, "app-reset");
			return;
		}
		conn_pump(c);
		return;
	}
	c->last_io = uv_now(c->cl->loop);
	if (c->dir == METRICS_INBOUND)
		c->bytes_out += (size_t)n;
	else
		c->bytes_in += (size_t)n;
	r = tls_write(c->tls, (const uint8_t *)b->base, (size_t)n, &put);
	if (r != 0 && r != TLS_E_AGAIN) {
		tls_failed(c, c->decision, METRICS_TLS_ERRORS);
		return;
	}
	if (put < (size_t)n) {
		/* The rest waits in pend; the app is not read until it is taken. */
		if ((c->pend = malloc((size_t)n - put)) == NULL) {
			conn_abort(c, c->decision, "no-memory");
			return;
		}
		memcpy(c->pend, b->base + put, (size_t)n - put);
		c->pend_len = (size_t)n - put;
		c->pend_off = 0;
	}
	conn_pump(c);
}

/* Read each side exactly when its bytes have somewhere to go. */
static void
update_reading(struct conn *c)
{
	bool net = c->net.open && !c->net.eof && c->tls != NULL && tls_want_feed(c->tls) &&
	    c->st != CONN_DIAL_PEER;
	bool app = c->st == CONN_SPLICE && c->app.open && !c->app.eof && c->pend == NULL &&
	    !c->net.wbusy && !c->tls_closed;

	if (c->st == CONN_LINGER)
		net = c->net.open && !c->net.eof;
	if (net != c->net.reading) {
		if (net)
			uv_read_start(&c->net.u.s, alloc_net, on_net_read);
		else
			uv_read_stop(&c->net.u.s);
		c->net.reading = net;
	}
	if (app != c->app.reading) {
		if (app)
			uv_read_start(&c->app.u.s, alloc_app, on_app_read);
		else
			uv_read_stop(&c->app.u.s);
		c->app.reading = app;
	}
}

/* ---- Opening and closing ------------------------------------------------ */

static void
free_refused(uv_handle_t *h)
{
	free(h);
}

void
conn_refuse(uv_stream_t *server)
{
	union listener *l = malloc(sizeof(*l));
	int r;

	if (l == NULL)
		return;	/* the kernel keeps it queued; the next accept retries */
	r = server->type == UV_NAMED_PIPE ? uv_pipe_init(server->loop, &l->pipe, 0) :
	    uv_tcp_init(server->loop, &l->tcp);
	if (r < 0) {
		free(l);
		return;
	}
	(void)uv_accept(server, &l->s);
	uv_close(&l->h, free_refused);
}

struct conn *
conn_open(struct conn_loop *cl, struct served *wl, enum metrics_dir dir, const struct tunnel_ops *ops,
    uv_stream_t *server)
{
	const char *limit;
	struct ident *id;
	struct conn *c;

	if (!served_admit(wl, &cl->limits, &limit)) {
		if (limit != NULL)
			loop_count(cl, METRICS_LIMITS, dir, limit, NULL);
		conn_refuse(server);	/* cheaper than a handshake to say no */
		return NULL;
	}
	id = served_ident(wl);
	if (id == NULL || (dir == METRICS_INBOUND ? id->server : id->client) == NULL ||
	    (c = conn_new(cl, wl, dir, ops)) == NULL) {
		ident_unref(id);
		served_release(wl);
		conn_refuse(server);
		return NULL;
	}
	c->ident = id;
	if (conn_accept(c, server, dir == METRICS_INBOUND ? &c->net : &c->app) < 0) {
		conn_abort(c, "error", "accept-failed");
		return NULL;
	}
	return c;
}

int
conn_accept(struct conn *c, uv_stream_t *server, struct side *s)
{
	int r;

	if (server->type == UV_NAMED_PIPE)
		r = uv_pipe_init(c->cl->loop, &s->u.pipe, 0);
	else
		r = uv_tcp_init(c->cl->loop, &s->u.tcp);
	if (r < 0)
		return r;
	s->open = true;
	s->u.h.data = c;
	c->open_handles++;
	if ((r = uv_accept(server, &s->u.s)) < 0)
		return r;
	if (server->type == UV_TCP) {
		struct addr a;
		int alen = sizeof(a.ss);

		uv_tcp_nodelay(&s->u.tcp, 1);
		if (uv_tcp_getpeername(&s->u.tcp, (struct sockaddr *)&a.ss, &alen) == 0) {
			a.len = (socklen_t)alen;
			if (addr_format(&a, c->peer_addr, sizeof(c->peer_addr)) != 0)
				c->peer_addr[0] = '\0';
		}
	} else {
		util_format(c->peer_addr, sizeof(c->peer_addr), "%s", "unix");
	}
	return 0;
}

static void
on_dialed(uv_connect_t *req, int status)
{
	struct conn *c = req->data;

	if (c->st == CONN_CLOSED)
		return;
	c->ops->dialed(c, status);
}

int
conn_dial(struct conn *c, struct side *s, const struct addr *to)
{
	int r;

	if ((r = uv_tcp_init(c->cl->loop, &s->u.tcp)) < 0)
		return r;
	s->open = true;
	s->u.h.data = c;
	c->open_handles++;
	uv_tcp_nodelay(&s->u.tcp, 1);
	c->creq.data = c;
	return uv_tcp_connect(&c->creq, &s->u.tcp, (const struct sockaddr *)&to->ss, on_dialed);
}

void
conn_start_tls(struct conn *c)
{
	c->st = CONN_HANDSHAKE;
	conn_deadline(c, c->cl->limits.handshake_timeout_ms);
	conn_pump(c);
}

void
conn_answer_and_close(struct conn *c, const char *head, size_t len)
{
	if (c->st == CONN_CLOSED)
		return;
	if (conn_tls_send(c, (const uint8_t *)head, len) != 0 || tls_close(c->tls) != 0 ||
	    flush_tls(c) != 0) {
		conn_abort(c, c->decision, "peer-write-failed");
		return;
	}
	c->tls_closed = true;
	c->st = CONN_LINGER;
	close_side(&c->app);
	conn_deadline(c, CONN_LINGER_MS);
	conn_pump(c);
}

void
conn_splice(struct conn *c)
{
	c->st = CONN_SPLICE;
	conn_deadline(c, c->idle_ms);
	if (c->head_used < c->head_len) {
		size_t n = c->head_len - c->head_used;

		if (c->dir == METRICS_INBOUND)
			c->bytes_in += n;
		else
			c->bytes_out += n;
		if (side_send(c, &c->app, c->head + c->head_used, n) != 0) {
			conn_abort(c, c->decision, "app-write-failed");
			return;
		}
	}
	util_free_wiped(c->head, c->head_cap);
	c->head = NULL;
	c->head_len = c->head_cap = c->head_used = 0;
	conn_pump(c);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	(void)status;
	if (req == &c->net.sreq)
		c->net.shut_done = true;
	else
		c->app.shut_done = true;
	if (c->st != CONN_CLOSED)
		conn_pump(c);
}

static void
side_shutdown(struct conn *c, struct side *s)
{
	if (s->shut || s->wbusy || !s->open)
		return;
	s->shut = true;
	s->sreq.data = c;
	if (uv_shutdown(&s->sreq, &s->u.s, on_shutdown) < 0)
		conn_abort(c, c->decision, "shutdown-failed");
}

/* ---- The state machine -------------------------------------------------- */

/*
 * The TLS session failed (tls_handshake, tls_read, tls_write or tls_close
 * returned a sticky error): send the fatal alert mbedTLS queued for the
 * peer, then close (RFC 8446 6: the alert, then the connection closes).
 * The close is a linger like conn_answer_and_close's: the alert is flushed
 * (a write may be in flight), then a FIN, then reads are discarded until
 * the peer's EOF or CONN_LINGER_MS. Closing at once with unread input
 * would send a reset, and a reset can destroy the alert before the peer
 * has read it.
 */
static void
tls_failed(struct conn *c, const char *decision, enum metrics_counter k)
{
	const char *why = tls_error_reason(c->tls);

	if (c->st == CONN_CLOSED)
		return;
	conn_count(c, k, why, NULL);
	log_debug("%s %s %s: TLS failed: %s (mbedTLS -0x%04x)",
	    c->dir == METRICS_INBOUND ? "inbound" : "outbound", c->wl->key, c->peer_addr, why,
	    (unsigned)-tls_mbedtls_error(c->tls));
	conn_decide(c, decision, why, 0);
	c->end = why;
	if (!c->net.open || flush_tls(c) != 0) {
		conn_abort(c, c->decision, why);
		return;
	}
	c->tls_closed = true;	/* nothing more goes out but what is queued */
	c->st = CONN_LINGER;
	close_side(&c->app);
	conn_deadline(c, CONN_LINGER_MS);
	conn_pump(c);
}

static void
handshake_failed(struct conn *c)
{
	tls_failed(c, "error", METRICS_HANDSHAKE_FAILURES);
}

/* Read plaintext into the head buffer and hand it to the tunnel. */
static void
pump_head(struct conn *c)
{
	size_t got;
	int r;

	for (;;) {
		if (c->head_len == c->head_cap) {
			c->ops->head_input(c);	/* a full buffer is the tunnel's error to report */
			return;
		}
		r = tls_read(c->tls, c->head + c->head_len, c->head_cap - c->head_len, &got);
		if (r == TLS_E_AGAIN)
			break;
		if (r == TLS_E_CLOSED) {
			c->net_read_done = true;
			conn_abort(c, "error", "closed-before-head");
			return;
		}
		if (r != 0) {
			/* A TLS 1.3 server's verdict on our certificate arrives after our handshake. */
			tls_failed(c, "error", r == TLS_E_PEER_ALERT || r == TLS_E_PEER_CERT ?
			    METRICS_HANDSHAKE_FAILURES : METRICS_TLS_ERRORS);
			return;
		}
		c->head_len += got;
		c->ops->head_input(c);
		if (c->st != CONN_REQUEST && c->st != CONN_RESPONSE)
			return;
	}
	if (flush_tls(c) != 0)
		conn_abort(c, "error", "peer-write-failed");
}

void
conn_pump(struct conn *c)
{
	int r;

	switch (c->st) {
	case CONN_DIAL_PEER:
	case CONN_DIAL_APP:
		break;
	case CONN_HANDSHAKE:
		r = tls_handshake(c->tls);
		if (r != 0 && r != TLS_E_AGAIN) {
			handshake_failed(c);
			return;
		}
		if (flush_tls(c) != 0) {
			conn_abort(c, "error", "peer-write-failed");
			return;
		}
		if (r == TLS_E_AGAIN) {
			if (c->net.eof) {
				conn_count(c, METRICS_HANDSHAKE_FAILURES, "truncated", NULL);
				conn_abort(c, "error", "truncated");
				return;
			}
			break;
		}
		c->ops->handshake_done(c);
		if (c->st == CONN_REQUEST || c->st == CONN_RESPONSE)
			pump_head(c);
		return;
	case CONN_REQUEST:
	case CONN_RESPONSE:
		pump_head(c);
		if (c->st == CONN_REQUEST || c->st == CONN_RESPONSE) {
			if (c->net.eof && c->st != CONN_CLOSED)
				conn_abort(c, "error", "closed-before-head");
			else
				update_reading(c);
		}
		return;
	case CONN_SPLICE:
		pump_splice(c);
		return;
	case CONN_LINGER:
		if (flush_tls(c) != 0) {
			conn_abort(c, c->decision, "peer-write-failed");
			return;
		}
		if (!c->net.wbusy)
			side_shutdown(c, &c->net);
		break;
	case CONN_CLOSED:
		return;
	}
	if (c->st != CONN_CLOSED)
		update_reading(c);
}

static void
pump_splice(struct conn *c)
{
	struct conn_loop *cl = c->cl;
	size_t got, put;
	int r;

	/* Peer to app, while the app keeps up. */
	while (!c->app.wbusy && !c->net_read_done) {
		r = tls_read(c->tls, cl->rbuf, sizeof(cl->rbuf), &got);
		if (r == TLS_E_AGAIN)
			break;
		if (r == TLS_E_CLOSED) {
			c->net_read_done = true;
			break;
		}
		if (r != 0) {
			tls_failed(c, c->decision, METRICS_TLS_ERRORS);
			return;
		}
		if (c->dir == METRICS_INBOUND)
			c->bytes_in += got;
		else
			c->bytes_out += got;
		if (side_send(c, &c->app, cl->rbuf, got) != 0) {
			conn_abort(c, c->decision, "app-write-failed");
			return;
		}
	}
	if (c->net_read_done && !c->app.wbusy)
		side_shutdown(c, &c->app);

	/* App to peer: what tls_write could not take before. */
	if (c->pend != NULL && !c->net.wbusy) {
		r = tls_write(c->tls, c->pend + c->pend_off, c->pend_len - c->pend_off, &put);
		if (r != 0 && r != TLS_E_AGAIN) {
			tls_failed(c, c->decision, METRICS_TLS_ERRORS);
			return;
		}
		c->pend_off += put;
		if (c->pend_off == c->pend_len) {
			free(c->pend);
			c->pend = NULL;
			c->pend_len = c->pend_off = 0;
		}
	}
	if (c->app.eof && c->pend == NULL && !c->tls_closed) {
		r = tls_close(c->tls);
		if (r != 0 && r != TLS_E_AGAIN) {
			tls_failed(c, c->decision, METRICS_TLS_ERRORS);
			return;
		}
		c->tls_closed = r == 0;
	}
	if (flush_tls(c) != 0) {
		conn_abort(c, c->decision, "peer-write-failed");
		return;
	}
	/* More output may have queued behind a write that just completed. */
	if (c->pend != NULL && !c->net.wbusy) {
		pump_splice(c);
		return;
	}
	if (c->tls_closed && !c->net.wbusy && tls_pending_out(c->tls, &(const uint8_t *){ NULL }) == 0)
		side_shutdown(c, &c->net);
	if (c->net_read_done && c->app.shut_done && c->tls_closed && c->net.shut_done) {
		conn_abort(c, c->decision, "done");
		return;
	}
	update_reading(c);
}
