/*
 * kube_watch.c: LIST then WATCH, per kind (the rules are in kube_watch.h),
 * and the credentials the watches share.
 */
#include "authd/kube_watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd/kube_http.h"
#include "authd/log.h"
#include "authd/metrics.h"
#include "certs/crypto.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "wire/tls.h"

#define CONNECT_MS 10000
#define LIST_IDLE_MS 60000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define WATCH_TIMEOUT_MIN_S 300
#define WATCH_TIMEOUT_SPREAD_S 300
/* A watch carries bookmarks about once a minute; past its timeout plus this, it is dead. */
#define WATCH_GRACE_MS 60000
#define TOKEN_REFRESH_MS 60000
#define CA_FILE_MAX (1u << 20)

/* ---- Credentials ------------------------------------------------------------ */

static uint32_t
random_below(uint32_t n)
{
	uint32_t r = 0;

	if (n == 0 || certs_rng(NULL, (unsigned char *)&r, sizeof(r)) != 0)
		return 0;
	return r % n;
}

void
kube_api_token(struct kube_api *api, bool force)
{
	uint8_t *text = NULL;
	size_t len = 0, start, n;
	uint64_t now = uv_now(api->loop);
	int r;

	if (!force && api->token_len > 0 && now - api->token_read_ms < TOKEN_REFRESH_MS)
		return;
	api->token_read_ms = now;
	r = util_read_file(api->token_file, KUBE_TOKEN_MAX + 64, &text, &len);
	if (r == 0 && kube_token_check(text, len, &start, &n) != 0)
		r = KUBE_E_INVAL;
	if (r != 0) {
		char why[sizeof(api->token_error)];

		util_format(why, sizeof(why), "token %s: %s", api->token_file,
		    r == KUBE_E_INVAL ? "not a bearer token (empty, too long, or spaces inside)"
				      : strerror(-r));
		if (strcmp(why, api->token_error) != 0)
			log_warn("kubernetes: %s; keeping the last good one", why);
		memcpy(api->token_error, why, sizeof(why));
	} else {
		if (api->token_error[0] != '\0')
			log_info("kubernetes: token %s readable again", api->token_file);
		api->token_error[0] = '\0';
		util_wipe(api->token, sizeof(api->token));
		memcpy(api->token, text + start, n);
		api->token_len = n;
	}
	if (text != NULL)
		util_free_wiped(text, len);
}

int
kube_api_init(struct kube_api *api, uv_loop_t *loop, const struct config_kube *kc,
    struct metrics *m, char *err, size_t errlen)
{
	uint8_t *ca = NULL;
	size_t ca_len = 0;
	const char *why = NULL;
	int r;

	memset(api, 0, sizeof(*api));
	api->loop = loop;
	api->metrics = m;
	if (kc->server[0] != '\0')
		r = kube_server_parse(kc->server, &api->server, &why);
	else
		r = kube_server_from_env(getenv("KUBERNETES_SERVICE_HOST"),
		    getenv("KUBERNETES_SERVICE_PORT"), &api->server, &why);
	if (r != 0) {
		util_format(err, errlen, "kubernetes: %s%s%s", kc->server, kc->server[0] ? ": " : "",
		    why);
		return r;
	}
	if ((r = util_read_file(kc->ca_file, CA_FILE_MAX, &ca, &ca_len)) != 0) {
		util_format(err, errlen, "kubernetes: CA file %s: %s", kc->ca_file, strerror(-r));
		return r;
	}
	r = tls_config_new_https(ca, ca_len, &api->tls);
	free(ca);
	if (r != 0) {
		util_format(err, errlen, "kubernetes: CA file %s: %s", kc->ca_file,
		    r == TLS_E_INVAL ? "no PEM certificate in it" : tls_strerror(r));
		return r;
	}
	util_format(api->token_file, sizeof(api->token_file), "%s", kc->token_file);
	kube_api_token(api, true);
	if (api->token_len == 0) {
		util_format(err, errlen, "kubernetes: %s", api->token_error);
		tls_config_free(api->tls);
		api->tls = NULL;
		return -EINVAL;
	}
	return 0;
}

void
kube_api_free(struct kube_api *api)
{
	util_wipe(api->token, sizeof(api->token));
	api->token_len = 0;
	tls_config_free(api->tls);
	api->tls = NULL;
}

/* ---- The reflector ---------------------------------------------------------- */

/* why: "start", "too-old" or "error" for a new LIST, NULL for its next page. */
static void start_list(struct kube_watch *w, const char *why);
static void start_watch(struct kube_watch *w);
static const struct kube_http_ops list_ops, watch_ops;

static const char *
resource(const struct kube_watch *w)
{
	return kube_kind_name(w->query.kind);
}

static void
count_request(struct kube_watch *w, int err, int status)
{
	char code[8];

	util_format(code, sizeof(code), "%d", status);
	metrics_count(w->api->metrics, METRICS_KUBE_REQUESTS, METRICS_INBOUND, resource(w),
	    err != 0 && status == 0 ? "error" : code, 1);
}

/* Remember a failure for /readyz and log it once per change. */
static void
note_error(struct kube_watch *w, const char *what)
{
	if (strcmp(w->error, what) != 0)
		log_warn("kubernetes: %s: %s", resource(w), what);
	util_format(w->error, sizeof(w->error), "%s", what);
	if (w->error_since_ms == 0)
		w->error_since_ms = uv_now(w->api->loop);
}

static void
clear_error(struct kube_watch *w)
{
	if (w->error[0] != '\0')
		log_info("kubernetes: %s: working again", resource(w));
	w->error[0] = '\0';
	w->error_since_ms = 0;
}

static void
on_backoff(uv_timer_t *t)
{
	struct kube_watch *w = t->data;

	if (w->relist || !w->synced)
		start_list(w, w->lists == 0 ? "start" : "error");
	else
		start_watch(w);
}

/* Wait, then LIST again (relist) or resume the watch. */
static void
back_off(struct kube_watch *w, bool relist)
{
	uint32_t ms = w->backoff_ms ? w->backoff_ms : BACKOFF_MIN_MS;

	w->req = NULL;
	w->relist = w->relist || relist;
	w->state = KUBE_WATCH_BACKOFF;
	/* Full jitter in the upper half: many nodes restarting do not retry in step. */
	ms = ms / 2 + random_below(ms / 2 + 1);
	w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : BACKOFF_MIN_MS * 2;
	if (w->backoff_ms > BACKOFF_MAX_MS)
		w->backoff_ms = BACKOFF_MAX_MS;
	uv_timer_start(&w->backoff, on_backoff, ms, 0);
}

/* A failed response's Status, in words. */
static void
http_error(struct kube_watch *w, const char *what, int status, const char *body_status)
{
	char why[256];

	util_format(why, sizeof(why), "%s: HTTP %d%s%s", what, status,
	    body_status[0] ? ": " : "", body_status);
	note_error(w, why);
	if (status == 401)
		kube_api_token(w->api, true);
}

/* The Status of a non-2xx answer, in words, for the log. */
static void
keep_status(struct kube_watch *w, int status, const uint8_t *p, size_t n)
{
	struct kube_status st;

	w->last_status[0] = '\0';
	if (status >= 200 && status <= 299)
		return;
	if (kube_status_parse(p, n, &st) == 0)
		util_format(w->last_status, sizeof(w->last_status), "%s (%s)", st.message,
		    st.reason);
}

/* LIST pages. */

static int
list_item(void *arg, struct kube_object *o)
{
	struct kube_watch *w = arg;

	w->ops->list_item(w->arg, o);
	return 0;
}

static int
list_unit(void *arg, int status, const uint8_t *p, size_t n)
{
	struct kube_watch *w = arg;
	char err[256];
	int r;

	if (status != 200) {
		keep_status(w, status, p, n);
		return 0;
	}
	r = kube_list_parse(p, n, &w->decode, list_item, w, w->rv, w->cont, err, sizeof(err));
	if (r != 0)
		note_error(w, err);
	return r;
}

static void
list_done(void *arg, int err, int status, const char *why)
{
	struct kube_watch *w = arg;

	w->req = NULL;
	count_request(w, err, status);
	if (err != 0) {
		char what[320];

		util_format(what, sizeof(what), "list: %s", why);
		if (err != KUBE_E_JSON)
			note_error(w, what);
		back_off(w, true);
		return;
	}
	if (status == 410) {
		/* A continue token expired between pages: start the list over. */
		start_list(w, "too-old");
		return;
	}
	if (status != 200) {
		http_error(w, "list", status, w->last_status);
		back_off(w, true);
		return;
	}
	if (w->cont[0] != '\0') {
		start_list(w, NULL);
		return;
	}
	w->ops->list_end(w->arg);
	if (!w->synced)
		log_info("kubernetes: %s listed at resourceVersion %s", resource(w), w->rv);
	w->synced = true;
	w->relist = false;
	w->backoff_ms = 0;
	clear_error(w);
	start_watch(w);
}

static const struct kube_http_ops list_ops = { list_unit, NULL, list_done };


static void
start_request(struct kube_watch *w, const char *path, bool watch, uint32_t idle_ms)
{
	struct kube_http_req req = {
		.server = &w->api->server,
		.tls = w->api->tls,
		.method = "GET",
		.path = path,
		.token = w->api->token,
		.token_len = w->api->token_len,
		.mode = watch ? KUBE_RESP_LINES : KUBE_RESP_WHOLE,
		.max = watch ? KUBE_EVENT_MAX : KUBE_LIST_MAX,
		.connect_ms = CONNECT_MS,
		.idle_ms = idle_ms,
	};
	int r;

	kube_api_token(w->api, false);
	req.token = w->api->token;
	req.token_len = w->api->token_len;
	w->last_status[0] = '\0';
	r = kube_http_start(w->api->loop, &req, watch ? &watch_ops : &list_ops, w, &w->req);
	if (r != 0) {
		char why[200];

		util_format(why, sizeof(why), "cannot start a request: %s", kube_strerror(r));
		note_error(w, why);
		back_off(w, !watch);
	}
}

static void
start_list(struct kube_watch *w, const char *why)
{
	struct strbuf path;

	w->state = KUBE_WATCH_LISTING;
	if (why != NULL) {
		w->cont[0] = '\0';
		metrics_count(w->api->metrics, METRICS_KUBE_RELISTS, METRICS_INBOUND, resource(w),
		    why, 1);
		w->lists++;
		w->ops->list_begin(w->arg);
	}
	strbuf_init(&path, KUBE_PATH_MAX);
	kube_path_list(&path, &w->query, w->cont);
	if (path.failed) {
		strbuf_free(&path);
		note_error(w, "list: the request path is too long");
		back_off(w, true);
		return;
	}
	start_request(w, path.p, false, LIST_IDLE_MS);
	strbuf_free(&path);
}

/* WATCH. */

static int
watch_unit(void *arg, int status, const uint8_t *p, size_t n)
{
	static const char *const type_names[] = { "added", "modified", "deleted", "bookmark",
		"error" };
	struct kube_watch *w = arg;
	struct kube_event ev;
	char err[256], why[300];
	int r;

	if (status != 200) {
		keep_status(w, status, p, n);
		return 0;
	}
	r = kube_event_parse(p, n, &w->decode, &ev, err, sizeof(err));
	if (r != 0) {
		util_format(why, sizeof(why), "watch: an event authd cannot read (%s); listing again",
		    err);
		note_error(w, why);
		w->relist = true;
		return r;
	}
	metrics_count(w->api->metrics, METRICS_KUBE_EVENTS, METRICS_INBOUND, resource(w),
	    type_names[ev.type], 1);
	switch (ev.type) {
	case KUBE_EV_ERROR:
		if (ev.status.code == 410) {
			log_info("kubernetes: %s: watch too old (%s); listing again", resource(w),
			    ev.status.reason);
			w->too_old = true;
			return 1;
		}
		util_format(why, sizeof(why), "watch: ERROR event %d %s: %s", ev.status.code,
		    ev.status.reason, ev.status.message);
		note_error(w, why);
		w->relist = true;
		return 1;
	case KUBE_EV_BOOKMARK:
		memcpy(w->rv, ev.obj.rv, sizeof(w->rv));
		return 0;
	default:
		if (ev.obj.rv[0] != '\0')
			memcpy(w->rv, ev.obj.rv, sizeof(w->rv));
		w->saw_data = true;
		w->ops->event(w->arg, ev.type, &ev.obj);
		return 0;
	}
}

static void
watch_batch(void *arg)
{
	struct kube_watch *w = arg;

	w->ops->batch(w->arg);
}

static void
watch_done(void *arg, int err, int status, const char *why)
{
	struct kube_watch *w = arg;

	w->req = NULL;
	count_request(w, err, status);
	/* Events already read are applied whatever ends the stream. */
	w->ops->batch(w->arg);
	if (w->too_old) {
		/* The in-stream 410: list again now, as for an HTTP 410. */
		w->too_old = false;
		w->relist = true;
		start_list(w, "too-old");
		return;
	}
	if (err == 0 && status == 410) {
		log_info("kubernetes: %s: watch too old (HTTP 410); listing again", resource(w));
		w->relist = true;
		start_list(w, "too-old");
		return;
	}
	if (err == 0 && status == 200) {
		/* The server's timeoutSeconds: resume from the last resourceVersion. */
		if (w->saw_data)
			w->backoff_ms = 0;
		clear_error(w);
		start_watch(w);
		return;
	}
	if (err == 0) {
		http_error(w, "watch", status, w->last_status);
	} else if (err != 1 && err != KUBE_E_JSON) {
		char what[320];

		util_format(what, sizeof(what), "watch: %s", why);
		note_error(w, what);
		/* Too big an event: what it said is lost, so the list must be read again. */
		if (err == KUBE_E_TOO_BIG)
			w->relist = true;
	}
	back_off(w, w->relist);
}

static const struct kube_http_ops watch_ops = { watch_unit, watch_batch, watch_done };

static void
start_watch(struct kube_watch *w)
{
	struct strbuf path;
	unsigned timeout_s = WATCH_TIMEOUT_MIN_S + random_below(WATCH_TIMEOUT_SPREAD_S + 1);

	w->state = KUBE_WATCH_WATCHING;
	w->saw_data = false;
	w->watches++;
	strbuf_init(&path, KUBE_PATH_MAX);
	kube_path_watch(&path, &w->query, w->rv, timeout_s);
	if (path.failed) {
		strbuf_free(&path);
		note_error(w, "watch: the request path is too long");
		back_off(w, true);
		return;
	}
	start_request(w, path.p, true, timeout_s * 1000u + WATCH_GRACE_MS);
	strbuf_free(&path);
}

void
kube_watch_start(struct kube_watch *w, struct kube_api *api, enum kube_kind kind, const char *node,
    const char *enroll_label, const struct kube_watch_ops *ops, void *arg)
{
	memset(w, 0, sizeof(*w));
	w->api = api;
	w->query.kind = kind;
	w->query.node = node;
	w->decode.kind = kind;
	w->decode.enroll_label = enroll_label;
	w->ops = ops;
	w->arg = arg;
	uv_timer_init(api->loop, &w->backoff);
	w->backoff.data = w;
	start_list(w, "start");
}

void
kube_watch_stop(struct kube_watch *w)
{
	if (w->api == NULL)
		return;
	kube_http_cancel(w->req);
	w->req = NULL;
	if (!uv_is_closing((uv_handle_t *)&w->backoff))
		uv_close((uv_handle_t *)&w->backoff, NULL);
	w->state = KUBE_WATCH_IDLE;
}
