/*
 * request.c: the API server's address, the token, paths and request heads.
 */
#include "kube/request.h"

#include <arpa/inet.h>
#include <string.h>

#include "common/version.h"
#include "kube/error.h"

/* A DNS name (letters, digits, '-', '.') or an IP literal. */
static bool
host_ok(const char *h, size_t n, bool *v6)
{
	struct in6_addr a6;
	char tmp[KUBE_HOST_MAX + 1];

	*v6 = false;
	if (n == 0 || n > KUBE_HOST_MAX)
		return false;
	memcpy(tmp, h, n);
	tmp[n] = '\0';
	if (memchr(tmp, ':', n) != NULL) {
		*v6 = true;
		return inet_pton(AF_INET6, tmp, &a6) == 1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.'))
			return false;
	}
	return h[0] != '.' && h[0] != '-';
}

static bool
port_ok(const char *p, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static int
set_host(struct kube_server *s, const char *h, size_t n, const char **why)
{
	if (!host_ok(h, n, &s->ipv6)) {
		*why = "the server's host is not a DNS name or IP address";
		return KUBE_E_INVAL;
	}
	memcpy(s->host, h, n);
	s->host[n] = '\0';
	return 0;
}

int
kube_server_parse(const char *url, struct kube_server *s, const char **why)
{
	const char *h, *end, *colon;
	size_t n;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	memset(s, 0, sizeof(*s));
	if (strncmp(url, "https://", 8) != 0) {
		*why = "the server must be an https:// URL";
		return KUBE_E_INVAL;
	}
	h = url + 8;
	n = strlen(h);
	if (n > 0 && h[n - 1] == '/')
		n--;
	if (memchr(h, '/', n) != NULL || memchr(h, '@', n) != NULL || memchr(h, '?', n) != NULL) {
		*why = "the server URL must be https://HOST[:PORT], with no path or user";
		return KUBE_E_INVAL;
	}
	s->port = 443;
	if (n > 0 && h[0] == '[') {
		end = memchr(h, ']', n);
		if (end == NULL) {
			*why = "an IPv6 server address must be in brackets";
			return KUBE_E_INVAL;
		}
		if (set_host(s, h + 1, (size_t)(end - h - 1), why) != 0 || !s->ipv6) {
			*why = "the bracketed server address is not IPv6";
			return KUBE_E_INVAL;
		}
		colon = end + 1;
		if (colon < h + n && (*colon != ':' ||
		    !port_ok(colon + 1, (size_t)(h + n - colon - 1), &s->port))) {
			*why = "the server's port must be 1..65535";
			return KUBE_E_INVAL;
		}
		return 0;
	}
	colon = memchr(h, ':', n);
	if (set_host(s, h, colon ? (size_t)(colon - h) : n, why) != 0)
		return KUBE_E_INVAL;
	if (colon != NULL && !port_ok(colon + 1, (size_t)(h + n - colon - 1), &s->port)) {
		*why = "the server's port must be 1..65535";
		return KUBE_E_INVAL;
	}
	return 0;
}

int
kube_server_from_env(const char *host, const char *port, struct kube_server *s, const char **why)
{
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	memset(s, 0, sizeof(*s));
	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0') {
		*why = "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set "
		       "(not in a pod? give kubernetes.server)";
		return KUBE_E_INVAL;
	}
	if (set_host(s, host, strlen(host), why) != 0)
		return KUBE_E_INVAL;
	if (!port_ok(port, strlen(port), &s->port)) {
		*why = "KUBERNETES_SERVICE_PORT is not a port number";
		return KUBE_E_INVAL;
	}
	return 0;
}

int
kube_token_check(const uint8_t *p, size_t n, size_t *start, size_t *len)
{
	size_t a = 0, b = n;

	while (a < b && (p[a] == ' ' || p[a] == '\t' || p[a] == '\n' || p[a] == '\r'))
		a++;
	while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t' || p[b - 1] == '\n' || p[b - 1] == '\r'))
		b--;
	*start = *len = 0;
	if (b == a || b - a > KUBE_TOKEN_MAX)
		return KUBE_E_INVAL;
	for (size_t i = a; i < b; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return KUBE_E_INVAL;
	*start = a;
	*len = b - a;
	return 0;
}

/* Percent-encode a query value: unreserved characters pass (RFC 3986 2.3). */
static void
put_query(struct strbuf *sb, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			strbuf_append(sb, (const char *)&c, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			strbuf_append(sb, e, 3);
		}
	}
}

static void
put_base(struct strbuf *sb, const struct kube_query *q)
{
	switch (q->kind) {
	case KUBE_PODS:
		/*
		 * The node name goes inside the selector, then the selector into
		 * the query: encoded straight into sb, so a long name is never cut
		 * short into a selector for another node.
		 */
		strbuf_puts(sb, "/api/v1/pods?fieldSelector=");
		put_query(sb, "spec.nodeName=");
		put_query(sb, q->node ? q->node : "");
		strbuf_puts(sb, "&");
		break;
	case KUBE_NAMESPACES:
		strbuf_puts(sb, "/api/v1/namespaces?");
		break;
	case KUBE_ALLOWLISTS:
		strbuf_puts(sb, "/apis/authd.io/v1/allowlists?");
		break;
	}
}

void
kube_path_list(struct strbuf *sb, const struct kube_query *q, const char *cont)
{
	put_base(sb, q);
	strbuf_printf(sb, "limit=%d", KUBE_LIST_LIMIT);
	if (cont != NULL && cont[0] != '\0') {
		strbuf_puts(sb, "&continue=");
		put_query(sb, cont);
	}
}

void
kube_path_watch(struct strbuf *sb, const struct kube_query *q, const char *rv, unsigned timeout_s)
{
	put_base(sb, q);
	strbuf_puts(sb, "watch=1&allowWatchBookmarks=true&resourceVersion=");
	put_query(sb, rv);
	strbuf_printf(sb, "&timeoutSeconds=%u", timeout_s);
}

void
kube_request_head(struct strbuf *sb, const char *method, const struct kube_server *s,
    const char *path, const uint8_t *token, size_t token_len, const char *content_type,
    size_t body_len)
{
	strbuf_printf(sb, "%s %s HTTP/1.1\r\nHost: %s%s%s:%u\r\n", method, path,
	    s->ipv6 ? "[" : "", s->host, s->ipv6 ? "]" : "", s->port);
	if (token_len > 0) {
		strbuf_puts(sb, "Authorization: Bearer ");
		strbuf_append(sb, (const char *)token, token_len);
		strbuf_puts(sb, "\r\n");
	}
	strbuf_puts(sb, "Accept: application/json\r\nUser-Agent: authd/" AUTHD_VERSION
			"\r\nConnection: close\r\n");
	if (content_type != NULL)
		strbuf_printf(sb, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type,
		    body_len);
	strbuf_puts(sb, "\r\n");
}

static void
json_member(struct strbuf *sb, const char *key, const char *v, bool comma)
{
	strbuf_printf(sb, "%s\"%s\":", comma ? "," : "", key);
	strbuf_json_string(sb, v, strlen(v));
}

void
kube_event_body(struct strbuf *sb, const struct kube_object *o, const char *node,
    const char *reason, const char *message, const char *now_rfc3339)
{
	char name[254];
	long long gen = o->kind == KUBE_ALLOWLISTS ? (long long)o->u.al.generation : 0;

	/* A DNS subdomain of at most 253: name (150) "." "g" generation (20) "." node (80). */
	util_format(name, sizeof(name), "%.150s.g%lld.%.80s", o->name, gen, node);
	strbuf_puts(sb, "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{");
	json_member(sb, "name", name, false);
	strbuf_puts(sb, "},\"involvedObject\":{");
	json_member(sb, "apiVersion", o->kind == KUBE_ALLOWLISTS ? "authd.io/v1" : "v1", false);
	json_member(sb, "kind", o->kind == KUBE_ALLOWLISTS ? "AllowList" : "Pod", true);
	json_member(sb, "name", o->name, true);
	if (o->ns[0] != '\0')
		json_member(sb, "namespace", o->ns, true);
	json_member(sb, "uid", o->uid, true);
	json_member(sb, "resourceVersion", o->rv, true);
	strbuf_puts(sb, "}");
	json_member(sb, "type", "Warning", true);
	json_member(sb, "reason", reason, true);
	json_member(sb, "message", message, true);
	strbuf_puts(sb, ",\"source\":{");
	json_member(sb, "component", "authd", false);
	json_member(sb, "host", node, true);
	strbuf_puts(sb, "}");
	json_member(sb, "reportingComponent", "authd.io/authd", true);
	json_member(sb, "reportingInstance", node, true);
	json_member(sb, "firstTimestamp", now_rfc3339, true);
	json_member(sb, "lastTimestamp", now_rfc3339, true);
	strbuf_puts(sb, ",\"count\":1}");
}
