/*
 * One HTTP/1.1 response from the Kubernetes API server, framed as it
 * arrives: the head (the status, and the headers that frame the body), then
 * the body, by Content-Length, chunked, or up to the end of the connection.
 * A LIST's body is handed on whole; a WATCH's 2xx body is split into lines,
 * one JSON event per line. Everything is bounded: a head over KUBE_HEAD_MAX,
 * or a body or one line over the caller's limit, is an error, never an
 * allocation. A non-2xx body (a Status object) is collected whole, at most
 * KUBE_STATUS_BODY_MAX.
 *
 * Errors are KUBE_E_* (kube/error.h) or the callback's.
 */
#ifndef AUTHD_KUBE_RESP_H
#define AUTHD_KUBE_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "kube/error.h"


#define KUBE_HEAD_MAX 16384
/* A non-2xx body: a Status object, a few hundred bytes in practice. */
#define KUBE_STATUS_BODY_MAX 65536
/*
 * One watch event. etcd refuses values over 1.5 MiB by default and an
 * object's event adds a few bytes of wrapping, so 2 MiB holds any event a
 * default cluster can send, and a larger one is refused rather than kept.
 */
#define KUBE_EVENT_MAX (2u << 20)
/* One LIST page: 250 objects (the limit authd asks for) of up to 256 KiB. */
#define KUBE_LIST_MAX (64u << 20)

enum kube_resp_mode {
	KUBE_RESP_WHOLE,	/* the body once, at its end */
	KUBE_RESP_LINES,	/* each '\n'-terminated line of a 2xx body, without it */
};

struct kube_resp {
	enum kube_resp_mode mode;
	size_t max;		/* largest body (WHOLE) or line (LINES) */
	int status;		/* 100..599 once the head is in, else 0 */
	bool head_done, done;
	/* Body framing from the head. */
	bool chunked, has_length;
	uint64_t length;	/* Content-Length, or what is left of it */
	/* Chunked state. */
	int cstate;
	uint64_t chunk_left;
	size_t cline;		/* bytes in the current chunk-size or trailer line */
	bool cr;		/* LINES: a CR ended the last bytes, not yet in buf */
	/* The head while it arrives, then the body or the current line. */
	uint8_t *buf;
	size_t len, cap;
};

/* A complete line (LINES) or body (WHOLE, and any non-2xx): p[0..n), valid during the call. */
typedef int (*kube_resp_fn)(void *arg, const struct kube_resp *r, const uint8_t *p, size_t n);

void kube_resp_init(struct kube_resp *r, enum kube_resp_mode mode, size_t max);
void kube_resp_free(struct kube_resp *r);

/*
 * Take the next n bytes of the connection. fn sees each complete unit as
 * described above; a non-zero return from fn stops and is returned. Bytes
 * after the end of the response are KUBE_E_SYNTAX (authd sends
 * "Connection: close": nothing may follow).
 */
int kube_resp_feed(struct kube_resp *r, const uint8_t *p, size_t n, kube_resp_fn fn, void *arg)
    AD_MUST_CHECK;

/*
 * The connection ended. 0 when the response was complete (a body framed by
 * the end of the connection is handed to fn now), else KUBE_E_TRUNCATED:
 * a head, a body or a chunk cut short, or a last line with no '\n'.
 */
int kube_resp_eof(struct kube_resp *r, kube_resp_fn fn, void *arg) AD_MUST_CHECK;

#endif
