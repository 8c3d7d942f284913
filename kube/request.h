/*
 * Requests to the Kubernetes API server: where it is (a server URL or the
 * in-cluster environment), the bearer token (checked before it goes into a
 * header), the LIST and WATCH paths for a kind, and the request head.
 * Everything that goes on the wire is validated or percent-encoded here, so
 * no value read from a file or the API can split a header or a query.
 */
#ifndef AUTHD_KUBE_REQUEST_H
#define AUTHD_KUBE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "common/util.h"
#include "kube/object.h"

/* A host name or IP literal (without brackets) of an API server. */
#define KUBE_HOST_MAX 253
/* A service-account token: a JWT, a few KiB in practice. */
#define KUBE_TOKEN_MAX 16384
/* One request path with its query. */
#define KUBE_PATH_MAX 8192
/* Objects asked for per LIST page. */
#define KUBE_LIST_LIMIT 250

struct kube_server {
	char host[KUBE_HOST_MAX + 1];	/* a DNS name or IP literal; what the certificate must name */
	uint16_t port;
	bool ipv6;			/* host is an IPv6 literal: "[host]" in Host */
};

/*
 * Parse "https://HOST[:PORT]" (PORT defaults to 443; a trailing "/" is
 * allowed, any other path is not). Returns 0 or KUBE_E_INVAL with *why set.
 */
int kube_server_parse(const char *url, struct kube_server *s, const char **why) AD_MUST_CHECK;
/*
 * The in-cluster server: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT
 * as given (host may be a bare IPv6 literal). KUBE_E_INVAL with *why when
 * either is unset or malformed.
 */
int kube_server_from_env(const char *host, const char *port, struct kube_server *s,
    const char **why) AD_MUST_CHECK;

/*
 * A token read from its file: surrounding whitespace dropped, then 1 to
 * KUBE_TOKEN_MAX visible ASCII characters (RFC 6750's token68 and more;
 * no space, no control character). Returns the token's length in *len with
 * its start in *start, or KUBE_E_INVAL.
 */
int kube_token_check(const uint8_t *p, size_t n, size_t *start, size_t *len) AD_MUST_CHECK;

/* What to ask for: one kind, narrowed to one node's pods and to a label. */
struct kube_query {
	enum kube_kind kind;
	const char *node;		/* pods: spec.nodeName=node */
};

/*
 * A LIST page path (limit KUBE_LIST_LIMIT, continue token cont when not
 * "") or a WATCH path from resourceVersion rv with allowWatchBookmarks and
 * timeoutSeconds. Written into sb (check strbuf's failure flag).
 */
void kube_path_list(struct strbuf *sb, const struct kube_query *q, const char *cont);
void kube_path_watch(struct strbuf *sb, const struct kube_query *q, const char *rv,
    unsigned timeout_s);

/*
 * The request head: METHOD PATH HTTP/1.1, Host, Authorization: Bearer
 * (when token_len > 0), Accept: application/json, User-Agent, Connection:
 * close, and for a body its Content-Type and Content-Length.
 */
void kube_request_head(struct strbuf *sb, const char *method, const struct kube_server *s,
    const char *path, const uint8_t *token, size_t token_len, const char *content_type,
    size_t body_len);

/*
 * A core/v1 Event (POST /api/v1/namespaces/NS/events) saying that object o
 * was refused: type Warning, the given reason and message, involvedObject
 * naming o (kind AllowList, apiVersion authd.io/v1), source and reporting
 * instance the node, both timestamps now (RFC 3339). Its name is derived
 * from o's name, generation and the node, so each node reports each
 * generation once (a second POST is 409 AlreadyExists).
 */
void kube_event_body(struct strbuf *sb, const struct kube_object *o, const char *node,
    const char *reason, const char *message, const char *now_rfc3339);

#endif
