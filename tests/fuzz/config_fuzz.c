/* Target Functions: config_parse, config_finish, config_free */
/*
 * The input is a config file. Whatever it holds:
 *  - err comes back NUL-terminated;
 *  - a refused file gets -EINVAL (or -ENOMEM) and a message that starts
 *    with "line ", and leaves the config byte for byte as it was;
 *  - an accepted one holds only values within their documented bounds,
 *    workloads that pass workload_validate with no NS/NAME twice, and
 *    parses again over itself to the same settings;
 *  - config_free releases everything (ASan/LeakSanitizer check).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "authd/config.h"
#include "wire/connect.h"
#include "tests/fuzz/fuzz.h"

static void
check_valid(const struct config *c)
{
	const struct config_limits *l = &c->limits;
	struct addr a;

	CHECK(memchr(c->trust_domain, '\0', sizeof(c->trust_domain)) != NULL);
	for (const char *s = c->trust_domain; *s != '\0'; s++)
		CHECK(!(*s >= 'A' && *s <= 'Z'));
	CHECK(c->state_dir[0] != '\0');
	CHECK(strcmp(c->access_log, "stdout") == 0 || strcmp(c->access_log, "off") == 0 ||
	    strchr(c->access_log, '/') != NULL);
	CHECK(c->admin[0] == '\0' || addr_parse(c->admin, false, &a, NULL) == 0);
	CHECK(c->log_level == CONFIG_LOG_DEBUG || c->log_level == CONFIG_LOG_INFO ||
	    c->log_level == CONFIG_LOG_WARN);
	CHECK(c->svid_ttl >= 5 && c->svid_ttl <= 86400);
	CHECK(c->workers <= CONFIG_WORKERS_MAX);
	CHECK(l->handshake_timeout_ms >= 100 && l->handshake_timeout_ms <= 300000);
	CHECK(l->header_timeout_ms >= 100 && l->header_timeout_ms <= 300000);
	CHECK(l->connect_timeout_ms >= 100 && l->connect_timeout_ms <= 300000);
	CHECK(l->idle_timeout_ms >= 1000 && l->idle_timeout_ms <= 7 * 86400000u);
	CHECK(l->drain_timeout_ms <= 3600000);
	CHECK(l->max_connections >= 1 && l->max_connections <= 1000000);
	CHECK(l->max_connections_per_workload >= 1 && l->max_connections_per_workload <= 1000000);
	CHECK(l->max_header_bytes >= 256 && l->max_header_bytes <= CONNECT_HEAD_MAX);
	CHECK(c->n_workloads <= CONFIG_WORKLOADS_MAX);
	CHECK((c->n_workloads == 0) == (c->workloads == NULL));
	for (size_t i = 0; i < c->n_workloads; i++) {
		const struct workload *w = &c->workloads[i];
		const char *why = NULL;

		CHECK(workload_validate(w, &why) == 0);
		CHECK(w->name[0] != '\0' && w->ns[0] != '\0' && w->sa[0] != '\0');
		CHECK(w->n_apps <= WORKLOAD_APPS_MAX && w->n_upstreams <= WORKLOAD_UPSTREAMS_MAX);
		for (size_t j = 0; j < w->n_upstreams; j++)
			CHECK(w->upstreams[j].target_port != 0 && w->upstreams[j].target_host[0] != '\0');
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(c->workloads[j].ns, w->ns) != 0 ||
			    strcmp(c->workloads[j].name, w->name) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c, before, again;
	struct workload *ws;
	char err[256];
	int rc;

	config_defaults(&c);
	before = c;
	memset(err, 0x55, sizeof(err));
	rc = config_parse(data, size, &c, err, sizeof(err));
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc != 0) {
		CHECK(rc == -EINVAL || rc == -ENOMEM);
		CHECK(rc == -ENOMEM || strncmp(err, "line ", 5) == 0);
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
		config_free(&c);
		return 0;
	}
	CHECK(err[0] == '\0');
	check_valid(&c);

	/* Parsing the same text over the result changes no setting. */
	again = c;
	again.workloads = NULL;
	again.n_workloads = 0;
	CHECK(config_parse(data, size, &again, err, sizeof(err)) == 0);
	CHECK(again.n_workloads == c.n_workloads);
	if (c.n_workloads > 0)
		CHECK(memcmp(again.workloads, c.workloads, c.n_workloads * sizeof(*c.workloads)) == 0);
	ws = again.workloads;
	again.workloads = c.workloads;
	CHECK(memcmp(&again, &c, sizeof(c)) == 0);
	again.workloads = ws;
	config_free(&again);

	/* config_finish either fills the derived paths or explains itself. */
	memset(err, 0x55, sizeof(err));
	rc = config_finish(&c, err, sizeof(err));
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc == 0)
		CHECK(c.trust_domain[0] != '\0' && c.ca_dir[0] != '\0' && c.store[0] != '\0');
	else
		CHECK(rc == -EINVAL && err[0] != '\0');
	config_free(&c);
	config_free(&c);
	return 0;
}
