/*
 * kube_http.c: one request to the API server, over libuv and wire/tls's
 * memory-buffer sessions. Everything the request owns lives in struct
 * kube_http; it is freed when the last libuv handle or request that points
 * into it has called back (refs), so a cancel in the middle of a lookup, a
 * connect or a write is safe.
 */
#include "authd/kube_http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authd/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "wire/tls.h"

/* The request head: path, token and headers; a body on top. */
#define HEAD_MAX (KUBE_PATH_MAX + KUBE_TOKEN_MAX + 1024)
#define READ_MAX 65536

struct kube_http {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	uv_connect_t connect;
	uv_write_t wr;
	int refs;			/* handles open + requests pending */
	bool ended;			/* done was called, or the caller cancelled */
	bool reading, handshaken;
	struct kube_server server;
	struct tls_session *tls;
	struct kube_resp resp;
	struct strbuf req;		/* head and body; holds the token: wiped */
	size_t req_off;
	uint8_t *wbuf;			/* ciphertext being written */
	uint32_t connect_ms, idle_ms;
	const struct kube_http_ops *ops;
	void *arg;
	char why[192];
};

static void
release(struct kube_http *h)
{
	if (--h->refs > 0)
		return;
	tls_session_free(h->tls);
	kube_resp_free(&h->resp);
	if (h->req.p != NULL)
		util_wipe(h->req.p, h->req.cap);
	strbuf_free(&h->req);
	free(h->wbuf);
	free(h);
}

static void
on_close(uv_handle_t *hd)
{
	release(hd->data);
}

/* End the request once: tell the caller (unless cancelled), close the handles. */
static void
finish(struct kube_http *h, int err, int status, const char *why)
{
	if (h->ended)
		return;
	h->ended = true;
	if (h->ops != NULL)
		h->ops->done(h->arg, err, status, why != NULL ? why : "");
	uv_close((uv_handle_t *)&h->timer, on_close);
	uv_close((uv_handle_t *)&h->tcp, on_close);
}

/* End with an error; why is "what: detail" (what alone when detail is NULL). */
static void
fail(struct kube_http *h, int err, const char *what, const char *detail)
{
	util_format(h->why, sizeof(h->why), "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
	finish(h, err, h->resp.status, h->why);
}

static void drive(struct kube_http *h);

static void
on_timer(uv_timer_t *t)
{
	struct kube_http *h = t->data;

	fail(h, -ETIMEDOUT, h->handshaken ? "the response stopped (no data in time)"
						 : "connect and TLS handshake timed out", NULL);
}

static void
on_write(uv_write_t *w, int status)
{
	struct kube_http *h = w->data;

	free(h->wbuf);
	h->wbuf = NULL;
	if (!h->ended) {
		if (status < 0)
			fail(h, status, "write", uv_strerror(status));
		else
			drive(h);
	}
	release(h);
}

static void
flush(struct kube_http *h)
{
	const uint8_t *p;
	size_t n;
	uv_buf_t b;
	int r;

	if (h->wbuf != NULL || (n = tls_pending_out(h->tls, &p)) == 0)
		return;
	if ((h->wbuf = malloc(n)) == NULL) {
		fail(h, -ENOMEM, "out of memory", NULL);
		return;
	}
	memcpy(h->wbuf, p, n);
	tls_consume_out(h->tls, n);
	b = uv_buf_init((char *)h->wbuf, (unsigned)n);
	h->wr.data = h;
	if ((r = uv_write(&h->wr, (uv_stream_t *)&h->tcp, &b, 1, on_write)) < 0) {
		free(h->wbuf);
		h->wbuf = NULL;
		fail(h, r, "write", uv_strerror(r));
		return;
	}
	h->refs++;
}

static int
on_unit(void *arg, const struct kube_resp *r, const uint8_t *p, size_t n)
{
	struct kube_http *h = arg;

	return h->ops->unit(h->arg, r->status, p, n);
}

static void
tls_failed(struct kube_http *h, int r)
{
	char detail[96];

	util_format(detail, sizeof(detail), "%s (%s)", tls_error_reason(h->tls), tls_strerror(r));
	flush(h);	/* an alert for the server, if mbedTLS queued one */
	fail(h, r, "TLS", detail);
}

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void
drive(struct kube_http *h)
{
	uint8_t buf[16384];
	size_t got, put;
	int r;

	if (h->ended)
		return;
	if (!h->handshaken) {
		r = tls_handshake(h->tls);
		if (r != 0 && r != TLS_E_AGAIN) {
			tls_failed(h, r);
			return;
		}
		if (r == 0) {
			h->handshaken = true;
			uv_timer_start(&h->timer, on_timer, h->idle_ms, 0);
		}
	}
	if (h->handshaken && h->req_off < h->req.len) {
		r = tls_write(h->tls, (const uint8_t *)h->req.p + h->req_off, h->req.len - h->req_off,
		    &put);
		h->req_off += put;
		if (r != 0 && r != TLS_E_AGAIN) {
			tls_failed(h, r);
			return;
		}
	}
	while (h->handshaken && !h->ended) {
		r = tls_read(h->tls, buf, sizeof(buf), &got);
		if (r == TLS_E_AGAIN)
			break;
		if (r == TLS_E_CLOSED) {
			r = kube_resp_eof(&h->resp, on_unit, h);
			if (r != 0)
				fail(h, r, "response", kube_strerror(r));
			else
				finish(h, 0, h->resp.status, NULL);
			return;
		}
		if (r != 0) {
			tls_failed(h, r);
			return;
		}
		r = kube_resp_feed(&h->resp, buf, got, on_unit, h);
		if (r != 0) {
			fail(h, r, "response", r <= KUBE_E_SYNTAX && r >= KUBE_E_INVAL ? kube_strerror(r)
											   : "refused by its reader");
			return;
		}
		if (h->resp.done) {
			finish(h, 0, h->resp.status, NULL);
			return;
		}
	}
	flush(h);
	/* Read again once the session has room (it stops taking input when full). */
	if (!h->ended && !h->reading && tls_want_feed(h->tls) &&
	    uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read) == 0)
		h->reading = true;
}

static void
on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
	struct kube_http *h = hd->data;
	size_t room = tls_feed_room(h->tls);
	static _Thread_local uint8_t rbuf[READ_MAX];

	(void)suggested;
	*b = uv_buf_init((char *)rbuf, (unsigned)(room < sizeof(rbuf) ? room : sizeof(rbuf)));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct kube_http *h = s->data;
	int r;

	if (h->ended)
		return;
	if (nread == UV_EOF) {
		tls_feed_eof(h->tls);
		uv_read_stop(s);
		h->reading = false;
		if (!h->handshaken) {
			fail(h, KUBE_E_TRUNCATED, "the server closed the connection in the handshake", NULL);
			return;
		}
		drive(h);
		return;
	}
	if (nread < 0) {
		fail(h, (int)nread, "read", uv_strerror((int)nread));
		return;
	}
	if (nread == 0)
		return;
	if ((r = tls_feed(h->tls, (const uint8_t *)b->base, (size_t)nread)) != 0) {
		fail(h, r, "TLS", tls_strerror(r));
		return;
	}
	if (!tls_want_feed(h->tls)) {
		uv_read_stop(s);
		h->reading = false;
	}
	/* The response keeps coming: the idle bound starts again (not the connect bound). */
	if (h->handshaken)
		uv_timer_start(&h->timer, on_timer, h->idle_ms, 0);
	drive(h);
	if (!h->ended && h->ops->batch != NULL)
		h->ops->batch(h->arg);
}

static void
on_connect(uv_connect_t *c, int status)
{
	struct kube_http *h = c->data;

	if (!h->ended) {
		if (status < 0) {
			fail(h, status, "connect", uv_strerror(status));
		} else if (uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read) == 0) {
			h->reading = true;
			drive(h);
		} else {
			fail(h, -EIO, "connect: cannot read", NULL);
		}
	}
	release(h);
}

static int
connect_to(struct kube_http *h, const struct sockaddr *sa)
{
	int r;

	h->connect.data = h;
	if ((r = uv_tcp_connect(&h->connect, &h->tcp, sa, on_connect)) < 0)
		return r;
	h->refs++;
	return 0;
}

static void
on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
	struct kube_http *h = g->data;

	if (!h->ended) {
		int r = status < 0 ? status : res == NULL ? -EHOSTUNREACH : 0;

		if (r == 0 && (r = connect_to(h, res->ai_addr)) != 0)
			fail(h, r, "connect", uv_strerror(r));
		else if (r != 0)
			fail(h, r, "resolve", h->server.host);
	}
	uv_freeaddrinfo(res);
	release(h);
}

int
kube_http_start(uv_loop_t *loop, const struct kube_http_req *req, const struct kube_http_ops *ops,
    void *arg, struct kube_http **out)
{
	struct kube_http *h;
	struct sockaddr_storage ss;
	char port[8];
	int r;

	*out = NULL;
	if (req->server == NULL || req->tls == NULL || req->method == NULL || req->path == NULL ||
	    ops == NULL || ops->unit == NULL || ops->done == NULL)
		return KUBE_E_INVAL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return KUBE_E_NOMEM;
	h->loop = loop;
	h->server = *req->server;
	h->ops = ops;
	h->arg = arg;
	h->connect_ms = req->connect_ms;
	h->idle_ms = req->idle_ms;
	kube_resp_init(&h->resp, req->mode, req->max);
	strbuf_init(&h->req, HEAD_MAX + req->body_len);
	kube_request_head(&h->req, req->method, &h->server, req->path, req->token, req->token_len,
	    req->content_type, req->body_len);
	if (req->body_len > 0)
		strbuf_append(&h->req, (const char *)req->body, req->body_len);
	r = h->req.failed ? KUBE_E_TOO_BIG : tls_session_new(req->tls, &h->tls);
	if (r == 0)
		r = tls_session_set_server_name(h->tls, h->server.host);
	if (r != 0) {
		h->refs = 1;
		release(h);
		return r == TLS_E_NOMEM ? KUBE_E_NOMEM : r;
	}
	uv_tcp_init(loop, &h->tcp);
	uv_timer_init(loop, &h->timer);
	h->tcp.data = h->timer.data = h;
	h->refs = 2;
	uv_timer_start(&h->timer, on_timer, h->connect_ms, 0);
	if (uv_ip4_addr(h->server.host, h->server.port, (struct sockaddr_in *)&ss) == 0 ||
	    uv_ip6_addr(h->server.host, h->server.port, (struct sockaddr_in6 *)&ss) == 0) {
		r = connect_to(h, (const struct sockaddr *)&ss);
	} else {
		util_format(port, sizeof(port), "%u", h->server.port);
		h->gai.data = h;
		r = uv_getaddrinfo(loop, &h->gai, on_resolved, h->server.host, port, NULL);
		if (r == 0)
			h->refs++;
	}
	if (r != 0) {
		/* Nothing started: no done callback, as the header says. */
		h->ops = NULL;
		finish(h, r, 0, NULL);
		return r;
	}
	*out = h;
	return 0;
}

void
kube_http_cancel(struct kube_http *h)
{
	if (h == NULL || h->ended)
		return;
	h->ops = NULL;
	finish(h, 0, 0, NULL);
	/* A pending lookup calls back with UV_ECANCELED and drops its reference. */
	(void)uv_cancel((uv_req_t *)&h->gai);
}
