/* PLACEHOLDER: replaced by the registry branch at merge */
/*
 * workload.c (placeholder): just enough of workload_validate and
 * workload_spiffe_id for the config parser and its tests to link and run.
 * The registry branch owns the real file; take its version at merge.
 */
#include <errno.h>
#include <string.h>

#include "authd/workload.h"

static bool
dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > WORKLOAD_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool
ip_addr(const char *s)
{
	struct addr a;

	return addr_parse(s, false, &a, NULL) == 0 && !addr_is_unix(&a);
}

int
workload_validate(const struct workload *w, const char **why)
{
	const char *dummy;
	struct addr a;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (!dns_label(w->name))
		*why = "name must be a DNS label ([a-z0-9-], 1..63, no leading or trailing '-')";
	else if (!dns_label(w->ns))
		*why = "namespace must be a DNS label ([a-z0-9-], 1..63, no leading or trailing '-')";
	else if (!dns_label(w->sa))
		*why = "service_account must be a DNS label ([a-z0-9-], 1..63, no leading or trailing '-')";
	else if (w->listen[0] != '\0' && addr_parse(w->listen, false, &a, NULL) != 0)
		*why = "listen is not an address";
	else if (w->n_apps > WORKLOAD_APPS_MAX || w->n_upstreams > WORKLOAD_UPSTREAMS_MAX)
		*why = "too many apps or upstreams";
	if (*why != NULL)
		return -EINVAL;
	for (size_t i = 0; i < w->n_apps; i++) {
		if (!ip_addr(w->apps[i])) {
			*why = "each app must be IP:PORT";
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < w->n_upstreams; i++) {
		const struct workload_upstream *u = &w->upstreams[i];
		struct spiffe_id id;

		if (addr_parse(u->listen, false, &a, NULL) != 0)
			*why = "an upstream's listen is not an address";
		else if (!ip_addr(u->peer))
			*why = "an upstream's peer must be IP:PORT";
		else if (u->target_host[0] == '\0' || u->target_port == 0)
			*why = "an upstream's target must be HOST:PORT";
		else if (u->expect_id[0] != '\0' &&
		    spiffe_id_parse_workload(u->expect_id, strlen(u->expect_id), &id, NULL) != 0)
			*why = "an upstream's expect_id is not a workload SPIFFE ID";
		if (*why != NULL)
			return -EINVAL;
	}
	return 0;
}

int
workload_spiffe_id(const struct workload *w, const char *td, struct spiffe_id *id)
{
	return spiffe_id_from_k8s(td, w->ns, w->sa, id);
}
