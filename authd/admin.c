/*
 * admin.c: the admin HTTP server on the daemon's loop.
 *
 * A connection lives through three phases, all under one timer: reading
 * the head (the timer bounds a slow client; on expiry it gets 408),
 * writing the answer, and lingering: after the write the server sends FIN
 * and keeps reading (and dropping) until the client closes. Closing
 * straight after the write would make the kernel answer a client's unread
 * bytes with RST, which can destroy the response before the client reads
 * it (RFC 9112 section 9.6).
 *
 * Lifetime follows libuv's rules: conn_close() starts closing every handle
 * once, and the last close callback unlinks and frees. Write and shutdown
 * callbacks that run after it (UV_ECANCELED) check `closing` first.
 */
#include "authd/admin.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/addr.h"
#include "wire/http.h"
#include "common/strbuf.h"

#define ADMIN_BACKLOG 128
/* A response head: status line and five fields. */
#define ADMIN_HEAD_MAX 512

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"

/* A TCP or unix stream: the listener and each connection. */
union admin_stream {
	uv_handle_t h;
	uv_stream_t s;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct admin_conn {
	union admin_stream io;
	uv_timer_t timer;
	uv_write_t wr;
	uv_shutdown_t shut;
	struct admin *a;
	struct admin_conn *prev, *next;
	int open_handles;
	bool has_timer;
	bool counted;		/* holds one of the ADMIN_CONNS_MAX slots */
	bool closing;
	bool responded;		/* the head is read; the answer is on its way */
	bool lingering;		/* the answer is out; waiting for the client's close */
	size_t in_len;
	struct strbuf head;
	struct strbuf body;
	uint8_t in[HTTP_HEAD_MAX];
};

struct admin {
	uv_loop_t *loop;
	union admin_stream listener;
	struct addr at;			/* where it listens */
	dev_t sock_dev;			/* a unix socket file it made, removed at close */
	ino_t sock_ino;
	bool made_sock;
	struct admin_handlers h;
	struct admin_conn *conns;
	size_t n_active;
	uint64_t timeout_ms;
	uint16_t port;
	bool closing;
	bool listener_closed;
	void (*done)(void *arg);
	void *done_arg;
};

static void conn_close(struct admin_conn *c);
static void respond(struct admin_conn *c, int status, const char *ctype, bool head_only);

/* Free a once it is closing and the last of its handles has closed. */
static void
admin_maybe_done(struct admin *a)
{
	void (*done)(void *arg) = a->done;
	void *arg = a->done_arg;

	if (!a->closing || !a->listener_closed || a->conns != NULL)
		return;
	free(a);
	if (done != NULL)
		done(arg);
}

static void
on_conn_close(uv_handle_t *handle)
{
	struct admin_conn *c = handle->data;
	struct admin *a = c->a;

	if (--c->open_handles > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->counted)
		a->n_active--;
	strbuf_free(&c->head);
	strbuf_free(&c->body);
	free(c);
	admin_maybe_done(a);
}

static void
conn_close(struct admin_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	(void)uv_read_stop(&c->io.s);
	uv_close(&c->io.h, on_conn_close);
	if (c->has_timer)
		uv_close((uv_handle_t *)&c->timer, on_conn_close);
}

static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct admin_conn *c = handle->data;

	(void)suggested;
	/* While lingering the bytes are dropped; the head buffer is free. */
	if (c->lingering)
		*buf = uv_buf_init((char *)c->in, sizeof(c->in));
	else
		*buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct admin_conn *c = req->data;

	if (c->closing)
		return;
	if (status < 0)
		conn_close(c);
}

static void
on_write(uv_write_t *req, int status)
{
	struct admin_conn *c = req->data;

	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	c->lingering = true;
	c->shut.data = c;
	if (uv_shutdown(&c->shut, &c->io.s, on_shutdown) != 0 ||
	    uv_read_start(&c->io.s, on_alloc, on_read) != 0)
		conn_close(c);
}

static void
on_timer(uv_timer_t *t)
{
	struct admin_conn *c = t->data;
	static const char body[] = "request timeout\n";

	if (c->closing)
		return;
	if (c->responded) {
		conn_close(c);
		return;
	}
	(void)uv_read_stop(&c->io.s);
	strbuf_reset(&c->body);
	strbuf_append(&c->body, body, sizeof(body) - 1);
	respond(c, 408, CT_TEXT, false);
}

/*
 * Write the head and c->body (unless head_only) and go on to lingering.
 * The timer starts again, so writing and lingering get a full timeout.
 */
static void
respond(struct admin_conn *c, int status, const char *ctype, bool head_only)
{
	uv_buf_t bufs[2];
	unsigned n = 1;

	c->responded = true;
	strbuf_reset(&c->head);
	if (http_response(&c->head, status, ctype, c->body.p, c->body.len, true) != 0) {
		conn_close(c);
		return;
	}
	bufs[0] = uv_buf_init(c->head.p, (unsigned)c->head.len);
	if (!head_only && c->body.len > 0)
		bufs[n++] = uv_buf_init(c->body.p, (unsigned)c->body.len);
	c->wr.data = c;
	if (uv_timer_start(&c->timer, on_timer, c->a->timeout_ms, 0) != 0 ||
	    uv_write(&c->wr, &c->io.s, bufs, n, on_write) != 0)
		conn_close(c);
}

static bool
path_is(const struct http_request *req, const char *path)
{
	return strcmp(req->path, path) == 0;
}

static void
text_body(struct admin_conn *c, const char *s)
{
	strbuf_reset(&c->body);
	strbuf_puts(&c->body, s);
}

static void
dispatch(struct admin_conn *c, const struct http_request *req)
{
	const struct admin_handlers *h = &c->a->h;
	const char *ctype = CT_TEXT;
	int status = 200;

	if (path_is(req, "/healthz")) {
		text_body(c, "ok\n");
	} else if (path_is(req, "/readyz") && h->readyz != NULL) {
		status = h->readyz(h->arg, &c->body);
		if (status != 200 && status != 503) {
			status = 500;
			text_body(c, "readiness check failed\n");
		}
	} else if (path_is(req, "/metrics") && h->metrics != NULL) {
		h->metrics(h->arg, &c->body);
		ctype = CT_METRICS;
	} else if (path_is(req, "/workloads") && h->workloads != NULL) {
		h->workloads(h->arg, &c->body);
		ctype = CT_JSON;
	} else {
		status = 404;
		text_body(c, "not found\n");
	}
	if (c->closing)
		return;		/* a handler closed the server after all */
	if (c->body.failed) {
		status = 500;
		ctype = CT_TEXT;
		text_body(c, "response too large\n");
	}
	respond(c, status, ctype, req->head);
}

static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct admin_conn *c = stream->data;
	struct http_request req;
	int err;

	(void)buf;
	if (c->closing)
		return;
	if (nread < 0) {
		/* EOF or an error; while lingering, the client's close we waited for. */
		conn_close(c);
		return;
	}
	if (nread == 0 || c->lingering)
		return;
	c->in_len += (size_t)nread;
	err = http_parse_request(c->in, c->in_len, &req);
	if (err == HTTP_E_AGAIN)
		return;
	(void)uv_read_stop(stream);
	if (err != 0) {
		/* A HEAD request's answer has no body, even when it is an error. */
		text_body(c, http_strerror(err));
		strbuf_puts(&c->body, "\n");
		respond(c, http_error_status(err), CT_TEXT,
		    c->in_len >= 5 && memcmp(c->in, "HEAD ", 5) == 0);
		return;
	}
	dispatch(c, &req);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct admin *a = server->data;
	struct admin_conn *c;

	if (status < 0 || a->closing)
		return;
	/*
	 * Without memory the connection stays in the backlog and libuv stops
	 * polling the listener until a later accept; there is nothing better
	 * to do with it.
	 */
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->a = a;
	strbuf_init(&c->head, ADMIN_HEAD_MAX);
	strbuf_init(&c->body, ADMIN_BODY_MAX);
	if (addr_is_unix(&a->at))
		(void)uv_pipe_init(a->loop, &c->io.pipe, 0);
	else
		(void)uv_tcp_init(a->loop, &c->io.tcp);
	c->io.h.data = c;
	c->open_handles = 1;
	c->next = a->conns;
	if (a->conns != NULL)
		a->conns->prev = c;
	a->conns = c;

	if (uv_accept(server, &c->io.s) != 0 || a->n_active >= ADMIN_CONNS_MAX) {
		conn_close(c);
		return;
	}
	c->counted = true;
	a->n_active++;
	(void)uv_timer_init(a->loop, &c->timer);
	c->timer.data = c;
	c->has_timer = true;
	c->open_handles++;
	if (uv_timer_start(&c->timer, on_timer, a->timeout_ms, 0) != 0 ||
	    uv_read_start(&c->io.s, on_alloc, on_read) != 0)
		conn_close(c);
}

static bool
is_loopback(const struct addr *ad)
{
	if (ad->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ad->ss;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (ad->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ad->ss;

		return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && sin6->sin6_addr.s6_addr[12] == 127);
	}
	return false;
}

static void
on_listener_close(uv_handle_t *handle)
{
	struct admin *a = handle->data;
	struct stat st;

	/* The socket file, if it is still the one this listener made. */
	if (a->made_sock && lstat(((struct sockaddr_un *)&a->at.ss)->sun_path, &st) == 0 &&
	    st.st_dev == a->sock_dev && st.st_ino == a->sock_ino)
		(void)unlink(((struct sockaddr_un *)&a->at.ss)->sun_path);
	a->listener_closed = true;
	admin_maybe_done(a);
}

/*
 * A listening socket made by hand, so that a bind failure returns before
 * any handle exists and leaves nothing on the loop to close.
 */
static int
listen_socket(struct admin *a, const struct addr *ad, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, one = 1, err = 0;
	struct stat st;

	memset(&ss, 0, sizeof(ss));
	if (addr_is_unix(ad) && (err = addr_unix_clear_stale(ad)) != 0)
		return err;
	fd = socket(ad->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (addr_is_unix(ad)) {
		const char *path = ((const struct sockaddr_un *)&ad->ss)->sun_path;

		/*
		 * Owner only: the file's mode is the access control. Set before
		 * listen, so no connection is accepted under a wider one.
		 */
		if (bind(fd, (const struct sockaddr *)&ad->ss, ad->len) != 0 ||
		    chmod(path, 0600) != 0 || lstat(path, &st) != 0 ||
		    listen(fd, ADMIN_BACKLOG) != 0) {
			err = -errno;
			goto out;
		}
		a->sock_dev = st.st_dev;
		a->sock_ino = st.st_ino;
		a->made_sock = true;
		*port = 0;
		return fd;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)&ad->ss, ad->len) != 0 ||
	    listen(fd, ADMIN_BACKLOG) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		err = -errno;
		goto out;
	}
	if (ss.ss_family == AF_INET)
		*port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
	else
		*port = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
out:
	if (err != 0) {
		(void)close(fd);
		return err;
	}
	return fd;
}

int
admin_start(uv_loop_t *loop, const struct addr *listen, const struct admin_handlers *h,
    struct admin **out)
{
	struct admin *a = NULL;
	uint16_t port = 0;
	int fd = -1, err;

	if (out != NULL)
		*out = NULL;
	if (loop == NULL || listen == NULL || h == NULL || out == NULL)
		return -EINVAL;
	if (listen->ss.ss_family != AF_INET && listen->ss.ss_family != AF_INET6 &&
	    !addr_is_unix(listen))
		return -EINVAL;
	/* A unix socket is as private as its file's mode (0600). */
	if (!h->allow_public && !addr_is_unix(listen) && !is_loopback(listen))
		return -EPERM;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->at = *listen;
	fd = listen_socket(a, listen, &port);
	if (fd < 0) {
		free(a);
		return fd;
	}
	a->loop = loop;
	a->h = *h;
	a->port = port;
	a->timeout_ms = ADMIN_TIMEOUT_MS;
	a->listener.h.data = a;
	err = addr_is_unix(listen) ? uv_pipe_init(loop, &a->listener.pipe, 0) :
	    uv_tcp_init(loop, &a->listener.tcp);
	if (err != 0) {
		if (a->made_sock)
			(void)unlink(((const struct sockaddr_un *)&listen->ss)->sun_path);
		(void)close(fd);
		free(a);
		return err;
	}
	/*
	 * These do not fail for a fresh listening socket; if they ever do, the
	 * handle exists and can only go through uv_close, which frees a.
	 */
	err = addr_is_unix(listen) ? uv_pipe_open(&a->listener.pipe, fd) :
	    uv_tcp_open(&a->listener.tcp, fd);
	if (err != 0)
		(void)close(fd);	/* not the handle's yet */
	else
		err = uv_listen(&a->listener.s, ADMIN_BACKLOG, on_connection);
	if (err != 0) {
		a->closing = true;
		uv_close(&a->listener.h, on_listener_close);
		return err;
	}
	*out = a;
	return 0;
}

uint16_t
admin_port(const struct admin *a)
{
	return a != NULL ? a->port : 0;
}

void
admin_close(struct admin *a, void (*done)(void *arg), void *arg)
{
	if (a == NULL) {
		if (done != NULL)
			done(arg);
		return;
	}
	if (a->closing)
		return;
	a->closing = true;
	a->done = done;
	a->done_arg = arg;
	uv_close(&a->listener.h, on_listener_close);
	for (struct admin_conn *c = a->conns; c != NULL; c = c->next)
		conn_close(c);
}

void
admin_set_timeout_ms(struct admin *a, uint64_t ms)
{
	if (a != NULL)
		a->timeout_ms = ms > 0 ? ms : 1;
}
