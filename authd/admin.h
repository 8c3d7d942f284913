/*
 * The admin HTTP server: /healthz, /readyz, /metrics and /workloads on a
 * loopback TCP port or a unix socket (mode 0600), served on the daemon's
 * libuv loop.
 *
 * One request per connection: the server reads one head (http.h, at most
 * HTTP_HEAD_MAX bytes, within the read timeout), renders the answer into a
 * capped buffer, writes it with "Connection: close", sends FIN, and closes
 * once the client has closed its side (or the timeout ends the wait). At
 * most ADMIN_CONNS_MAX connections are served at a time; more are accepted
 * and closed at once. Nothing here blocks. Everything runs on the loop's
 * thread; handlers are called there and must not block either. libuv
 * writes with write(2), so the process must ignore SIGPIPE.
 *
 * Routes (GET and HEAD):
 *   /healthz    200 text/plain "ok\n"
 *   /readyz     readyz handler: 200 or 503, text/plain body it writes
 *   /metrics    200 text/plain; version=0.0.4, the metrics handler's text
 *   /workloads  200 application/json, the workloads handler's document
 *   other path  404; a NULL handler's route is 404 too
 * Malformed requests get the status http_error_status() names (400, 405,
 * 431, 505), a read timeout 408, a body over ADMIN_BODY_MAX 500.
 */
#ifndef AUTHD_AUTHD_ADMIN_H
#define AUTHD_AUTHD_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/util.h"

struct addr;
struct admin;
struct strbuf;

/* Connections served at once. */
#define ADMIN_CONNS_MAX 64
/* Time for a client to send its head, and to close after the answer. */
#define ADMIN_TIMEOUT_MS 5000
/* Largest response body a handler may render. */
#define ADMIN_BODY_MAX (8u * 1024 * 1024)

/*
 * What the routes call. Each handler appends its body to out (a strbuf
 * capped at ADMIN_BODY_MAX) and must not keep out. A handler must not call
 * admin_close.
 */
struct admin_handlers {
	void (*metrics)(void *arg, struct strbuf *out);
	/* Returns 200 or 503 (anything else answers 500) and writes the body. */
	int (*readyz)(void *arg, struct strbuf *out);
	/* A JSON document. */
	void (*workloads)(void *arg, struct strbuf *out);
	void *arg;
	/*
	 * Serve on an address other than loopback (127.0.0.0/8, ::1,
	 * ::ffff:127.0.0.0/104). Off by default: /workloads and /metrics
	 * describe the node's identities and traffic.
	 */
	bool allow_public;
};

/*
 * Listen on listen (a TCP address, port 0 picks a free port; or a unix
 * path, made 0600 before it listens, a dead socket file there replaced and
 * the file removed at close) and serve with a copy of *h. On success *out
 * is the server; on failure *out is NULL and nothing is left on the loop
 * (bar one closing handle, released by the loop's next iteration, in the
 * unlikely case libuv refuses the freshly bound socket). Returns 0,
 * -EINVAL (a NULL argument), -EPERM (TCP not on loopback and
 * !h->allow_public), -ENOMEM, -EADDRINUSE (a live socket at the path), or
 * -errno from socket/bind/listen.
 */
int admin_start(uv_loop_t *loop, const struct addr *listen, const struct admin_handlers *h,
    struct admin **out) AD_MUST_CHECK;

/* The bound TCP port (the one chosen for port 0). */
uint16_t admin_port(const struct admin *a);

/*
 * Stop listening and close every client connection (pending writes end
 * with UV_ECANCELED). a is freed once the close callbacks of all its
 * handles have run; then done(arg) is called (when done is not NULL). Call
 * it once; a NULL a calls done at once.
 */
void admin_close(struct admin *a, void (*done)(void *arg), void *arg);

/* For tests: the read timeout of connections accepted from now on. */
void admin_set_timeout_ms(struct admin *a, uint64_t ms);

#endif
