/*
 * One HTTPS request to the Kubernetes API server on the main loop: TCP
 * (after a lookup when the server is a name), TLS with the https client
 * config (wire/tls.h: the server's chain and name verified, TLS 1.3), the
 * request, and the response framed by kube/resp.h, whose units (a body, or
 * each line of a watch) go to the caller as they complete. One request per
 * connection ("Connection: close"): a LIST page, a WATCH, or a POST.
 *
 * Bounded in time as well as size: the connection and handshake must
 * finish within connect_ms, and the response must keep coming: idle_ms
 * without a byte ends it with -ETIMEDOUT.
 */
#ifndef AUTHD_AUTHD_KUBE_HTTP_H
#define AUTHD_AUTHD_KUBE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kube/request.h"
#include "kube/resp.h"

struct tls_config;
struct kube_http;

struct kube_http_req {
	const struct kube_server *server;
	struct tls_config *tls;			/* tls_config_new_https; outlives the request */
	const char *method, *path;
	const uint8_t *token;			/* copied into the request head, which is wiped */
	size_t token_len;
	const char *content_type;		/* with a body */
	const uint8_t *body;
	size_t body_len;
	enum kube_resp_mode mode;
	size_t max;				/* largest body (WHOLE) or line (LINES) */
	uint32_t connect_ms, idle_ms;
};

struct kube_http_ops {
	/* A complete unit (see kube/resp.h); non-zero ends the request with that error. */
	int (*unit)(void *arg, int status, const uint8_t *p, size_t n);
	/* All units of one socket read were delivered (a batch: apply changes now). May be NULL. */
	void (*batch)(void *arg);
	/*
	 * The request is over, once: err 0 when the whole response arrived
	 * (status is its HTTP status), else why not (why says it in words:
	 * "connect: connection refused", "TLS: unknown-authority", ...).
	 */
	void (*done)(void *arg, int err, int status, const char *why);
};

/*
 * Start a request. The request's strings need only live until this call
 * returns. *out is the handle for kube_http_cancel. Returns 0 or a
 * negative error (nothing started, done is not called).
 */
int kube_http_start(uv_loop_t *loop, const struct kube_http_req *req,
    const struct kube_http_ops *ops, void *arg, struct kube_http **out) AD_MUST_CHECK;

/* Stop a request that has not ended; done is not called. Its memory goes once libuv lets go. */
void kube_http_cancel(struct kube_http *h);

#endif
