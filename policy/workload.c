/*
 * workload.c: what makes a workload consistent before the registry keeps
 * it, and its SPIFFE ID. The registry's decoder runs the same checks on
 * every stored record, so the daemon never acts on a workload that could
 * not have been added.
 */
#include <errno.h>
#include <string.h>

#include "common/authority.h"
#include "policy/workload.h"

/* A NUL-terminated string in a fixed field: its length, or size when unterminated. */
#define FIELD_LEN(f) strnlen((f), sizeof(f))

/* RFC 1123 label: [a-z0-9-], 1..63, no '-' at either end. */
static bool
label_ok(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	if (n == 0 || n == size || n > WORKLOAD_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/*
 * Parse an address field. Unix paths may hold any byte the kernel takes;
 * we take printable ASCII only, because these strings reach terminals,
 * logs and JSON.
 */
static bool
addr_field(const char *s, size_t size, bool tcp_only, struct addr *a)
{
	size_t n = strnlen(s, size);

	if (n == size)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	if (addr_parse(s, false, a, NULL) != 0)
		return false;
	return !tcp_only || !addr_is_unix(a);
}

static bool
addr_same(const struct addr *a, const struct addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static int
check_upstream(const struct workload_upstream *u, struct addr *listen, const char **why)
{
	char target[AUTHORITY_MAX + 1];
	struct spiffe_id id;
	struct addr peer;
	size_t n, tlen;

	if (!addr_field(u->listen, sizeof(u->listen), false, listen)) {
		*why = "an upstream's listen address must be IP:PORT or unix:/PATH";
		return -EINVAL;
	}
	if (!addr_field(u->peer, sizeof(u->peer), true, &peer)) {
		*why = "an upstream's peer must be the destination's mesh listener as IP:PORT";
		return -EINVAL;
	}
	/* The target must be exactly what the peer's CONNECT parser will accept. */
	if (FIELD_LEN(u->target_host) == sizeof(u->target_host) ||
	    authority_format(u->target_host, u->target_port, target, sizeof(target), &tlen) != 0) {
		*why = "an upstream's target must be HOST:PORT (a DNS name or IP, port 1..65535)";
		return -EINVAL;
	}
	n = FIELD_LEN(u->expect_id);
	if (n == sizeof(u->expect_id)) {
		*why = "an upstream's expected ID is too long";
		return -EINVAL;
	}
	if (n > 0 && spiffe_id_parse_workload(u->expect_id, n, &id, NULL) != 0) {
		*why = "an upstream's expected ID must be a workload SPIFFE ID (spiffe://TD/PATH)";
		return -EINVAL;
	}
	return 0;
}

int
workload_validate(const struct workload *w, const char **why)
{
	struct addr listen, apps[WORKLOAD_APPS_MAX], ups[WORKLOAD_UPSTREAMS_MAX];
	const char *dummy;
	bool has_listen;
	int err;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (!label_ok(w->name, sizeof(w->name))) {
		*why = "the name must be a DNS label: a-z, 0-9 and '-', 1 to 63 characters, "
		       "no '-' at either end";
		return -EINVAL;
	}
	if (!label_ok(w->ns, sizeof(w->ns))) {
		*why = "the namespace must be a DNS label: a-z, 0-9 and '-', 1 to 63 characters, "
		       "no '-' at either end";
		return -EINVAL;
	}
	if (!label_ok(w->sa, sizeof(w->sa))) {
		*why = "the service account must be a DNS label: a-z, 0-9 and '-', 1 to 63 "
		       "characters, no '-' at either end";
		return -EINVAL;
	}
	has_listen = FIELD_LEN(w->listen) > 0;
	if (has_listen && !addr_field(w->listen, sizeof(w->listen), true, &listen)) {
		*why = "the listen address (inbound mesh listener) must be IP:PORT";
		return -EINVAL;
	}
	if (w->n_apps > WORKLOAD_APPS_MAX) {
		*why = "too many app addresses (at most 8)";
		return -EINVAL;
	}
	if (has_listen && w->n_apps == 0) {
		*why = "a workload with a listen address needs at least one app address";
		return -EINVAL;
	}
	if (!has_listen && w->n_apps > 0) {
		*why = "app addresses need a listen address: nothing would reach them";
		return -EINVAL;
	}
	for (size_t i = 0; i < w->n_apps; i++) {
		if (!addr_field(w->apps[i], sizeof(w->apps[i]), true, &apps[i])) {
			*why = "an app address must be IP:PORT";
			return -EINVAL;
		}
		/* Peers name the app by port alone (CONNECT host:PORT). */
		for (size_t j = 0; j < i; j++) {
			if (addr_port(&apps[j]) == addr_port(&apps[i])) {
				*why = "two app addresses share a port; peers choose an app by port";
				return -EINVAL;
			}
		}
	}
	/* Kubernetes UIDs are RFC 4122 text: lower-case hex and '-', which a label allows. */
	if (FIELD_LEN(w->pod_uid) > 0 && !label_ok(w->pod_uid, sizeof(w->pod_uid))) {
		*why = "the pod UID must be 1 to 63 of a-z, 0-9 and '-'";
		return -EINVAL;
	}
	if (w->n_upstreams > WORKLOAD_UPSTREAMS_MAX) {
		*why = "too many upstreams (at most 16)";
		return -EINVAL;
	}
	for (size_t i = 0; i < w->n_upstreams; i++) {
		err = check_upstream(&w->upstreams[i], &ups[i], why);
		if (err != 0)
			return err;
		if (has_listen && addr_same(&ups[i], &listen)) {
			*why = "an upstream listens on the workload's own listen address";
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (addr_same(&ups[j], &ups[i])) {
				*why = "two upstreams share a listen address";
				return -EINVAL;
			}
		}
	}
	return 0;
}

int
workload_spiffe_id(const struct workload *w, const char *td, struct spiffe_id *id)
{
	if (!label_ok(w->ns, sizeof(w->ns)) || !label_ok(w->sa, sizeof(w->sa))) {
		memset(id, 0, sizeof(*id));
		return -EINVAL;
	}
	return spiffe_id_from_k8s(td, w->ns, w->sa, id);
}
