/*
 * Unit tests for the admin HTTP server (authd/admin.c) on a real libuv
 * loop: the server runs on this thread, and a client thread with blocking
 * sockets talks to it over 127.0.0.1. When the client is done it wakes the
 * loop (uv_async), which closes the server; the test then requires
 * uv_loop_close() == 0, so a handle left open fails it. Responses are
 * collected by the client and checked here after the join.
 *
 * Nothing waits on a clock: a timeout test lowers the server's timeout and
 * blocks until the server acts; SO_RCVTIMEO only keeps a broken server from
 * hanging the test forever.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "common/addr.h"
#include "authd/admin.h"
#include "authd/metrics.h"
#include "common/strbuf.h"
#include "tests/unit/test.h"

#define NOW 1000000
#define RESP_MAX (16u * 1024 * 1024)
#define MAX_FETCH 32

/* What the handlers see; touched only on the loop thread. */
struct server {
	struct metrics *m;
	int readyz_calls;
	size_t workloads_bytes;		/* 0: a small JSON document */
};

struct ctx {
	uv_async_t async;
	struct admin *a[2];
	uint16_t port[2];
	int done_calls;
	void (*client)(struct ctx *c);
	/* Filled by the client thread, read after the join. */
	char *resp[MAX_FETCH];
	size_t resp_len[MAX_FETCH];
	int n_resp;
	int flags[8];
};

static void
on_metrics(void *arg, struct strbuf *out)
{
	struct server *s = arg;

	metrics_render(s->m, NOW, out);
}

/* Ready on odd calls, not ready on even ones. */
static int
on_readyz(void *arg, struct strbuf *out)
{
	struct server *s = arg;

	if (++s->readyz_calls % 2 == 1) {
		strbuf_puts(out, "ready\n");
		return 200;
	}
	strbuf_puts(out, "not ready: demo/web has no SVID\n");
	return 503;
}

static void
on_workloads(void *arg, struct strbuf *out)
{
	struct server *s = arg;
	static const char name[] = "demo/\"web\"";

	if (s->workloads_bytes == 0) {
		strbuf_puts(out, "[{\"name\":");
		strbuf_json_string(out, name, sizeof(name) - 1);
		strbuf_puts(out, "}]\n");
		return;
	}
	for (size_t i = 0; i < s->workloads_bytes / 64; i++)
		strbuf_puts(out, "[                                                            ],\n");
}

static void
on_done(void *arg)
{
	struct ctx *c = arg;

	c->done_calls++;
}

static void
on_done_int(void *arg)
{
	(*(int *)arg)++;
}

static void
on_client_finished(uv_async_t *async)
{
	struct ctx *c = async->data;

	for (int i = 0; i < 2; i++)
		if (c->a[i] != NULL)
			admin_close(c->a[i], on_done, c);
	uv_close((uv_handle_t *)async, NULL);
}

static void *
client_main(void *arg)
{
	struct ctx *c = arg;

	c->client(c);
	(void)uv_async_send(&c->async);
	return NULL;
}

/*
 * Start one server per handler set on 127.0.0.1:0, run the client on its
 * thread, and close everything when it is done.
 */
static void
run(struct server *srv, size_t n_srv, uint64_t timeout_ms, void (*client)(struct ctx *),
    struct ctx *c)
{
	struct admin_handlers h[2];
	uv_loop_t loop;
	struct addr ad;
	pthread_t t;

	memset(c, 0, sizeof(*c));
	c->client = client;
	/* A write to a client that has gone must be an error, not a signal. */
	(void)signal(SIGPIPE, SIG_IGN);
	REQUIRE(uv_loop_init(&loop) == 0);
	REQUIRE(addr_parse("127.0.0.1:0", true, &ad, NULL) == 0);
	for (size_t i = 0; i < n_srv; i++) {
		h[i] = (struct admin_handlers){ .metrics = on_metrics, .readyz = on_readyz,
		    .workloads = on_workloads, .arg = &srv[i] };
		REQUIRE(admin_start(&loop, &ad, &h[i], &c->a[i]) == 0);
		c->port[i] = admin_port(c->a[i]);
		EXPECT(c->port[i] != 0);
		if (timeout_ms > 0)
			admin_set_timeout_ms(c->a[i], timeout_ms);
	}
	REQUIRE(uv_async_init(&loop, &c->async, on_client_finished) == 0);
	c->async.data = c;
	REQUIRE(pthread_create(&t, NULL, client_main, c) == 0);
	EXPECT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	EXPECT_OK(pthread_join(t, NULL));
	EXPECT_EQ(c->done_calls, (int)n_srv);
	EXPECT_OK(uv_loop_close(&loop));
}

static void
free_ctx(struct ctx *c)
{
	for (int i = 0; i < c->n_resp; i++)
		free(c->resp[i]);
}

/* Client side: blocking sockets. */

static int
dial(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 60 };
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

/* Read to EOF (or reset); the bytes go into c->resp[c->n_resp++]. */
static void
collect(struct ctx *c, int fd)
{
	struct strbuf sb;
	char chunk[65536];
	ssize_t k;

	strbuf_init(&sb, RESP_MAX);
	strbuf_append(&sb, "", 0);
	while ((k = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		strbuf_append(&sb, chunk, (size_t)k);
	if (c->n_resp < MAX_FETCH) {
		c->resp[c->n_resp] = sb.p;
		c->resp_len[c->n_resp] = sb.len;
		c->n_resp++;
	} else {
		strbuf_free(&sb);
	}
}

static void
fetch_n(struct ctx *c, int idx, const char *req, size_t n)
{
	int fd = dial(c->port[idx]);

	if (fd < 0) {
		collect(c, -1);
		return;
	}
	send_all(fd, req, n);
	collect(c, fd);
	(void)close(fd);
}

static void
fetch(struct ctx *c, const char *req)
{
	fetch_n(c, 0, req, strlen(req));
}

/* Checks on a collected response. */

static int
status_of(const char *r)
{
	if (r == NULL || strncmp(r, "HTTP/1.1 ", 9) != 0 || strlen(r) < 12)
		return -1;
	return atoi(r + 9);
}

static const char *
body_of(const char *r)
{
	const char *e = r != NULL ? strstr(r, "\r\n\r\n") : NULL;

	return e != NULL ? e + 4 : NULL;
}

/* The value of a header field (first match, case-sensitive name), or "". */
static const char *
field(const char *r, const char *name)
{
	static char v[256];
	const char *end = body_of(r), *p;
	size_t n = strlen(name);

	v[0] = '\0';
	for (p = r; p != NULL && end != NULL && p < end; p = strstr(p, "\r\n")) {
		if (p != r)
			p += 2;
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			const char *q = p + n + 1, *e = strstr(q, "\r\n");

			while (*q == ' ')
				q++;
			if (e != NULL && (size_t)(e - q) < sizeof(v)) {
				memcpy(v, q, (size_t)(e - q));
				v[e - q] = '\0';
			}
			break;
		}
	}
	return v;
}

/* Status, Content-Length matching the body, Connection: close. */
static void
check_framing(const char *r, size_t len, int status, const char *what)
{
	const char *b = body_of(r);

	if (status_of(r) != status) {
		TEST__FAIL("%s: status %d, expected %d: %.60s", what, status_of(r), status,
		    r != NULL ? r : "(null)");
		return;
	}
	if (b == NULL || strtoul(field(r, "Content-Length"), NULL, 10) != len - (size_t)(b - r))
		TEST__FAIL("%s: Content-Length %s, body %zu", what, field(r, "Content-Length"),
		    b != NULL ? len - (size_t)(b - r) : 0);
	if (strcmp(field(r, "Connection"), "close") != 0)
		TEST__FAIL("%s: no Connection: close", what);
}

static void
client_routes(struct ctx *c)
{
	static const char big_head_start[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX: ";
	char big[6000];

	fetch(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");		/* 0 */
	fetch(c, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");		/* 1 */
	fetch(c, "HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");	/* 2 */
	fetch(c, "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");		/* 3 */
	fetch(c, "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");		/* 4 */
	fetch(c, "GET /workloads HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");	/* 5 */
	fetch(c, "GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");		/* 6 */
	fetch(c, "GET /healthz?verbose=1 HTTP/1.0\r\n\r\n");			/* 7 */
	fetch(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nno colon\r\n\r\n");	/* 8 */
	fetch(c, "POST /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");			/* 9 */
	fetch(c, "GET /healthz HTTP/2.0\r\n\r\n");				/* 10 */
	/* A head larger than HTTP_HEAD_MAX, sent whole. */
	memcpy(big, big_head_start, sizeof(big_head_start) - 1);
	memset(big + sizeof(big_head_start) - 1, 'x', sizeof(big) - sizeof(big_head_start) + 1);
	fetch_n(c, 0, big, sizeof(big));					/* 11 */
	fetch(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello"); /* 12 */
	fetch(c, "GET /healthz HTTP/1.1\r\n\r\n");				/* 13: no Host */
	fetch(c, "HEAD /nope HTTP/1.0\r\n\r\n");				/* 14 */
	/* A request in pieces, then bytes after the head that are ignored. */
	{
		int fd = dial(c->port[0]);

		if (fd >= 0) {
			send_all(fd, "GET /hea", 8);
			send_all(fd, "lthz HTTP/1.0\r", 14);
			send_all(fd, "\n\r\nGET /metrics HTTP/1.0\r\n\r\n", 29);
			collect(c, fd);						/* 15 */
			(void)close(fd);
		}
	}
	fetch(c, "HEAD /healthz HTTP/1.1\r\n\r\n");			/* 16: no Host */
	/* DNS rebinding: a browser sends the attacker's name as Host. */
	fetch(c, "GET /workloads HTTP/1.1\r\nHost: evil.example:15000\r\n\r\n");	/* 17 */
	fetch(c, "GET /healthz HTTP/1.1\r\nHost: [::1]:15000\r\n\r\n");		/* 18 */
}

TEST(test_routes)
{
	struct server srv = { 0 };
	struct strbuf want;
	struct ctx c;
	const char *r;

	REQUIRE(metrics_new(&srv.m) == 0);
	metrics_count(srv.m, METRICS_CONNECTIONS, METRICS_INBOUND, "allow", "rule", 3);
	metrics_svid(srv.m, "demo/web", NOW + 1800);
	run(&srv, 1, 0, client_routes, &c);
	REQUIRE(c.n_resp == 19);

	check_framing(c.resp[0], c.resp_len[0], 200, "healthz");
	EXPECT_STR(body_of(c.resp[0]), "ok\n");
	EXPECT_STR(field(c.resp[0], "Content-Type"), "text/plain; charset=utf-8");

	/* /metrics is exactly what metrics_render writes. */
	strbuf_init(&want, RESP_MAX);
	metrics_render(srv.m, NOW, &want);
	check_framing(c.resp[1], c.resp_len[1], 200, "metrics");
	EXPECT_STR(body_of(c.resp[1]), want.p);
	EXPECT_STR(field(c.resp[1], "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
	EXPECT(strstr(want.p, "authd_svid_expiry_seconds{workload=\"demo/web\"} 1800\n") != NULL);

	/* HEAD: the same head, no body. */
	r = c.resp[2];
	EXPECT_EQ(status_of(r), 200);
	EXPECT(body_of(r) != NULL && *body_of(r) == '\0');
	EXPECT_EQ(strtoul(field(r, "Content-Length"), NULL, 10), want.len);
	EXPECT_EQ(c.resp_len[2], (size_t)(body_of(c.resp[1]) - c.resp[1]));
	EXPECT(memcmp(c.resp[1], c.resp[2], c.resp_len[2]) == 0);
	strbuf_free(&want);

	check_framing(c.resp[3], c.resp_len[3], 200, "readyz ready");
	EXPECT_STR(body_of(c.resp[3]), "ready\n");
	check_framing(c.resp[4], c.resp_len[4], 503, "readyz not ready");
	EXPECT_STR(body_of(c.resp[4]), "not ready: demo/web has no SVID\n");
	EXPECT_EQ(srv.readyz_calls, 2);

	check_framing(c.resp[5], c.resp_len[5], 200, "workloads");
	EXPECT_STR(field(c.resp[5], "Content-Type"), "application/json");
	EXPECT_STR(body_of(c.resp[5]), "[{\"name\":\"demo/\\\"web\\\"\"}]\n");

	check_framing(c.resp[6], c.resp_len[6], 404, "unknown path");
	check_framing(c.resp[7], c.resp_len[7], 200, "query");
	EXPECT_STR(body_of(c.resp[7]), "ok\n");
	check_framing(c.resp[8], c.resp_len[8], 400, "malformed field");
	check_framing(c.resp[9], c.resp_len[9], 405, "POST");
	EXPECT_STR(field(c.resp[9], "Allow"), "GET, HEAD");
	check_framing(c.resp[10], c.resp_len[10], 505, "HTTP/2.0");
	check_framing(c.resp[11], c.resp_len[11], 431, "oversized head");
	check_framing(c.resp[12], c.resp_len[12], 400, "body");
	check_framing(c.resp[13], c.resp_len[13], 400, "no Host");
	r = c.resp[14];
	EXPECT_EQ(status_of(r), 404);
	EXPECT(body_of(r) != NULL && *body_of(r) == '\0');
	check_framing(c.resp[15], c.resp_len[15], 200, "pieces");
	EXPECT_STR(body_of(c.resp[15]), "ok\n");
	/* An error answer to HEAD announces its body and leaves it out. */
	r = c.resp[16];
	EXPECT_EQ(status_of(r), 400);
	EXPECT(body_of(r) != NULL && *body_of(r) == '\0');
	EXPECT(strtoul(field(r, "Content-Length"), NULL, 10) > 0);
	check_framing(c.resp[17], c.resp_len[17], 421, "rebinding");
	EXPECT(strstr(c.resp[17], "spiffe://") == NULL);
	check_framing(c.resp[18], c.resp_len[18], 200, "IPv6 literal Host");
	free_ctx(&c);
	metrics_free(srv.m);
}

static void
client_timeout(struct ctx *c)
{
	int fd;

	/* Half a head, then nothing: the server answers 408 and closes. */
	fd = dial(c->port[0]);
	if (fd >= 0) {
		send_all(fd, "GET /healthz HTTP/1.1\r\nHo", 25);
		collect(c, fd);						/* 0 */
		(void)close(fd);
	}
	/* Silent from the start. */
	fd = dial(c->port[0]);
	if (fd >= 0) {
		collect(c, fd);						/* 1 */
		(void)close(fd);
	}
	/*
	 * The server sends FIN right after the answer, so a client that has
	 * not closed its side still sees the end of the response.
	 */
	fd = dial(c->port[0]);
	if (fd >= 0) {
		send_all(fd, "GET /healthz HTTP/1.0\r\n\r\n", 25);
		collect(c, fd);						/* 2 */
		(void)close(fd);
	}
}

TEST(test_timeout)
{
	struct server srv = { 0 };
	struct ctx c;

	REQUIRE(metrics_new(&srv.m) == 0);
	run(&srv, 1, 50, client_timeout, &c);
	REQUIRE(c.n_resp == 3);
	check_framing(c.resp[0], c.resp_len[0], 408, "slow head");
	EXPECT_STR(body_of(c.resp[0]), "request timeout\n");
	check_framing(c.resp[1], c.resp_len[1], 408, "silent");
	check_framing(c.resp[2], c.resp_len[2], 200, "healthz");
	free_ctx(&c);
	metrics_free(srv.m);
}

static void
client_limit(struct ctx *c)
{
	int fds[ADMIN_CONNS_MAX], extra;
	char byte;

	for (int i = 0; i < ADMIN_CONNS_MAX; i++)
		fds[i] = dial(c->port[0]);
	/* The next one is accepted after those (the backlog is FIFO) and closed at once. */
	extra = dial(c->port[0]);
	c->flags[0] = extra >= 0;
	c->flags[1] = extra >= 0 && recv(extra, &byte, 1, 0) <= 0;
	if (extra >= 0)
		(void)close(extra);
	/* The held ones are still served. */
	send_all(fds[0], "GET /healthz HTTP/1.0\r\n\r\n", 25);
	collect(c, fds[0]);						/* 0 */
	for (int i = 0; i < ADMIN_CONNS_MAX; i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
	/*
	 * Once the server has seen those closes, a new client is served
	 * again. When it gets there is up to the loop, so try until it does
	 * (bounded).
	 */
	for (int attempt = 0; attempt < 1000; attempt++) {
		int fd = dial(c->port[0]);
		struct timespec ts = { .tv_nsec = 5 * 1000 * 1000 };

		if (fd < 0)
			break;
		send_all(fd, "GET /healthz HTTP/1.0\r\n\r\n", 25);
		collect(c, fd);
		(void)close(fd);
		if (status_of(c->resp[c->n_resp - 1]) == 200) {
			c->flags[2] = 1;
			break;
		}
		free(c->resp[--c->n_resp]);
		nanosleep(&ts, NULL);
	}
}

TEST(test_conn_limit)
{
	struct server srv = { 0 };
	struct ctx c;

	REQUIRE(metrics_new(&srv.m) == 0);
	/* Long enough that none of the held connections times out meanwhile. */
	run(&srv, 1, 10 * 60 * 1000, client_limit, &c);
	EXPECT(c.flags[0]);
	EXPECT(c.flags[1]);
	EXPECT(c.flags[2]);
	REQUIRE(c.n_resp == 2);
	check_framing(c.resp[0], c.resp_len[0], 200, "held connection");
	free_ctx(&c);
	metrics_free(srv.m);
}

static void
client_big(struct ctx *c)
{
	int stalled;

	/* A client that asks for 4 MiB and does not read yet... */
	stalled = dial(c->port[1]);
	if (stalled >= 0)
		send_all(stalled, "GET /workloads HTTP/1.0\r\n\r\n", 27);
	/* ...does not hold up anyone else. */
	fetch(c, "GET /healthz HTTP/1.0\r\n\r\n");				/* 0 */
	if (stalled >= 0) {
		collect(c, stalled);					/* 1 */
		(void)close(stalled);
	}
	/* A body over ADMIN_BODY_MAX is refused with 500, on the second server too. */
	fetch_n(c, 0, "GET /workloads HTTP/1.0\r\n\r\n", 27);		/* 2 */
}

TEST(test_big_bodies)
{
	struct server srv[2] = { { 0 }, { 0 } };
	struct ctx c;

	REQUIRE(metrics_new(&srv[0].m) == 0);
	srv[0].workloads_bytes = ADMIN_BODY_MAX + 64;
	srv[1].workloads_bytes = 4u * 1024 * 1024;
	run(srv, 2, 0, client_big, &c);
	REQUIRE(c.n_resp == 3);
	check_framing(c.resp[0], c.resp_len[0], 200, "healthz next to a stalled client");
	check_framing(c.resp[1], c.resp_len[1], 200, "4 MiB");
	EXPECT_EQ(strtoul(field(c.resp[1], "Content-Length"), NULL, 10), 4u * 1024 * 1024);
	check_framing(c.resp[2], c.resp_len[2], 500, "too large");
	EXPECT_STR(body_of(c.resp[2]), "response too large\n");
	free_ctx(&c);
	metrics_free(srv[0].m);
}

static void
client_close_busy(struct ctx *c)
{
	int idle;

	/* Accepted before the next connection (FIFO), then left half-sent. */
	idle = dial(c->port[0]);
	if (idle >= 0)
		send_all(idle, "GET /", 5);
	fetch(c, "GET /healthz HTTP/1.0\r\n\r\n");				/* 0 */
	/* The server closes with this connection open; it sees EOF later. */
	c->flags[0] = idle >= 0;
	c->flags[1] = idle;
}

TEST(test_close_with_clients)
{
	struct server srv = { 0 };
	struct ctx c;
	char byte;
	ssize_t k;

	REQUIRE(metrics_new(&srv.m) == 0);
	run(&srv, 1, 0, client_close_busy, &c);
	REQUIRE(c.n_resp == 1);
	check_framing(c.resp[0], c.resp_len[0], 200, "healthz");
	EXPECT(c.flags[0]);
	/* The server closed the idle connection without an answer. */
	k = recv(c.flags[1], &byte, 1, 0);
	EXPECT(k <= 0);
	if (c.flags[0])
		(void)close(c.flags[1]);
	free_ctx(&c);
	metrics_free(srv.m);
}

TEST(test_start_errors)
{
	struct admin_handlers h = { .metrics = on_metrics };
	struct admin *a = NULL, *b = NULL, *p = NULL, *m4 = NULL;
	struct addr ad;
	char text[64];
	uv_loop_t loop;
	int done = 0, err;

	REQUIRE(uv_loop_init(&loop) == 0);
	REQUIRE(addr_parse("127.0.0.1:0", true, &ad, NULL) == 0);
	REQUIRE(admin_start(&loop, &ad, &h, &a) == 0);

	/* The port in use. */
	(void)snprintf(text, sizeof(text), "127.0.0.1:%u", admin_port(a));
	REQUIRE(addr_parse(text, false, &ad, NULL) == 0);
	b = a;	/* set to NULL on failure */
	EXPECT_ERR(admin_start(&loop, &ad, &h, &b), -EADDRINUSE);
	EXPECT(b == NULL);

	/* Not loopback without allow_public. */
	REQUIRE(addr_parse("0.0.0.0:0", true, &ad, NULL) == 0);
	EXPECT_ERR(admin_start(&loop, &ad, &h, &b), -EPERM);
	REQUIRE(addr_parse("[::]:0", true, &ad, NULL) == 0);
	EXPECT_ERR(admin_start(&loop, &ad, &h, &b), -EPERM);
	REQUIRE(addr_parse("10.1.2.3:15000", true, &ad, NULL) == 0);
	EXPECT_ERR(admin_start(&loop, &ad, &h, &b), -EPERM);
	REQUIRE(addr_parse("[::ffff:10.1.2.3]:15000", true, &ad, NULL) == 0);
	EXPECT_ERR(admin_start(&loop, &ad, &h, &b), -EPERM);
	/*
	 * A unix socket: made 0600, busy while it serves, gone after close.
	 * (Served over: tests/integration/operator_view.sh.)
	 */
	{
		char dir[] = "/tmp/authd-admin-test.XXXXXX", path[48];
		struct admin *u = NULL;
		struct stat st;
		int udone = 0;

		REQUIRE(mkdtemp(dir) != NULL);
		(void)snprintf(path, sizeof(path), "%s/admin.sock", dir);
		(void)snprintf(text, sizeof(text), "unix:%s", path);
		REQUIRE(addr_parse(text, true, &ad, NULL) == 0);
		EXPECT_OK(admin_start(&loop, &ad, &h, &u));
		EXPECT(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
		EXPECT_ERR(admin_start(&loop, &ad, &h, &b), -EADDRINUSE);
		admin_close(u, on_done_int, &udone);
		while (udone == 0 && uv_run(&loop, UV_RUN_ONCE) != 0)
			;
		EXPECT(lstat(path, &st) != 0 && errno == ENOENT);
		(void)rmdir(dir);
	}
	/* Missing arguments. */
	EXPECT_ERR(admin_start(NULL, &ad, &h, &b), -EINVAL);
	EXPECT_ERR(admin_start(&loop, NULL, &h, &b), -EINVAL);
	EXPECT_ERR(admin_start(&loop, &ad, NULL, &b), -EINVAL);
	EXPECT_ERR(admin_start(&loop, &ad, &h, NULL), -EINVAL);
	EXPECT(b == NULL);

	/* allow_public opens any address; 127.0.0.0/8 and mapped loopback need no flag. */
	h.allow_public = true;
	REQUIRE(addr_parse("0.0.0.0:0", true, &ad, NULL) == 0);
	EXPECT_OK(admin_start(&loop, &ad, &h, &p));
	EXPECT(admin_port(p) != 0);
	h.allow_public = false;
	REQUIRE(addr_parse("127.0.0.2:0", true, &ad, NULL) == 0);
	EXPECT_OK(admin_start(&loop, &ad, &h, &b));
	/* IPv6 may be off in a sandbox; then only the refusal reason differs. */
	REQUIRE(addr_parse("[::1]:0", true, &ad, NULL) == 0);
	err = admin_start(&loop, &ad, &h, &m4);
	EXPECT(err == 0 || err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT);

	admin_close(a, on_done_int, &done);
	admin_close(b, on_done_int, &done);
	admin_close(p, on_done_int, &done);
	admin_close(m4, on_done_int, &done);	/* NULL when IPv6 is off: done at once */
	EXPECT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	EXPECT_EQ(done, 4);
	EXPECT_OK(uv_loop_close(&loop));
	EXPECT_EQ(admin_port(NULL), 0);
	admin_set_timeout_ms(NULL, 1);
}

TEST_MAIN(test_routes, test_timeout, test_conn_limit, test_big_bodies, test_close_with_clients,
    test_start_errors)
