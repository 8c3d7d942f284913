/*
 * Keeping up with one kind of Kubernetes object: LIST (in pages), then
 * WATCH from the list's resourceVersion, the shape of client-go's
 * reflector, on the main loop.
 *
 *  - The resourceVersion is kept from every event and bookmark, so a
 *    watch that ends (the server's timeoutSeconds, jittered 5..10 minutes
 *    here, or a dropped connection) resumes where it was.
 *  - "Too old" comes two ways: an HTTP 410 to the WATCH, or a 200 and then
 *    an ERROR event with code 410. Either means LIST again, and the new
 *    list replaces everything held (the owner diffs), so nothing is lost
 *    or doubled.
 *  - Any other failure (refused, reset, a 5xx, a malformed or oversized
 *    event) backs off, 0.5 s doubling to 30 s with jitter, then lists again:
 *    after an unreadable stream authd cannot know what it missed.
 *  - 401: the token is read again (projected tokens rotate) before the
 *    retry; the token is also re-read every minute.
 *
 * struct kube_api is what the watches share: the server, its TLS config,
 * the token.
 */
#ifndef AUTHD_AUTHD_KUBE_WATCH_H
#define AUTHD_AUTHD_KUBE_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "authd/config.h"
#include "kube/object.h"
#include "kube/request.h"

struct kube_http;
struct metrics;
struct tls_config;

struct kube_api {
	uv_loop_t *loop;
	struct kube_server server;
	struct tls_config *tls;
	char token_file[4096];
	uint8_t token[KUBE_TOKEN_MAX];
	size_t token_len;
	uint64_t token_read_ms;		/* uv_now of the last read */
	char token_error[200];		/* why the last read failed, "" when it worked */
	struct metrics *metrics;
};

/*
 * Read the CA and the token, parse the server (kc->server, else the
 * in-cluster environment). Returns 0 or an error with err set (the file or
 * setting named).
 */
int kube_api_init(struct kube_api *api, uv_loop_t *loop, const struct config_kube *kc,
    struct metrics *m, char *err, size_t errlen) AD_MUST_CHECK;
/* Wipes the token. */
void kube_api_free(struct kube_api *api);
/* Re-read the token when it is a minute old, or now when force (after a 401). */
void kube_api_token(struct kube_api *api, bool force);

struct kube_watch_ops {
	/* A LIST starts: the items that follow (through list_item) replace what was held. */
	void (*list_begin)(void *arg);
	/* One listed object; the callee owns it (kube_object_free). */
	void (*list_item)(void *arg, struct kube_object *o);
	/* The LIST is complete: apply it. */
	void (*list_end)(void *arg);
	/* A watch event: ADDED, MODIFIED or DELETED; the callee owns o. */
	void (*event)(void *arg, enum kube_event_type type, struct kube_object *o);
	/* The events of one read are in: apply them. */
	void (*batch)(void *arg);
};

enum kube_watch_state {
	KUBE_WATCH_IDLE,
	KUBE_WATCH_LISTING,
	KUBE_WATCH_WATCHING,
	KUBE_WATCH_BACKOFF,
};

struct kube_watch {
	struct kube_api *api;
	struct kube_query query;
	struct kube_decode decode;
	const struct kube_watch_ops *ops;
	void *arg;
	enum kube_watch_state state;
	struct kube_http *req;
	uv_timer_t backoff;
	uint32_t backoff_ms;		/* the next wait */
	char rv[KUBE_RV_MAX + 1];
	char cont[KUBE_CONTINUE_MAX + 1];	/* the next LIST page's token */
	bool synced;			/* a LIST has completed */
	bool relist;			/* the watch ended needing a LIST (410, bad stream) */
	bool saw_data;			/* this watch delivered an event */
	bool too_old;			/* this watch ended with an ERROR event 410 */
	char last_status[200];		/* the Status of the last non-2xx answer, in words */
	uint64_t lists, watches;	/* started, for tests and /readyz */
	char error[256];		/* the last failure, "" when the last request worked */
	uint64_t error_since_ms;	/* uv_now when the failures began; 0 = none */
};

/* Start listing kind (node for pods); the ops run on api->loop. */
void kube_watch_start(struct kube_watch *w, struct kube_api *api, enum kube_kind kind,
    const char *node, const char *enroll_label, const struct kube_watch_ops *ops, void *arg);
/* Stop: the request in flight is cancelled, the timer closed. No op runs after. */
void kube_watch_stop(struct kube_watch *w);

#endif
