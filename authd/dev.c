/*
 * `authd --dev`: a whole node on loopback, for trying authd in a minute.
 * It makes (once) a CA and a store under the state directory, serves two
 * workloads with a tiny built-in HTTP app each, allows frontend -> backend
 * and nothing else, and prints the commands that show an allowed and a
 * denied connection. Nothing here is used outside dev mode.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd/daemon.h"
#include "authd/dev.h"
#include "authd/log.h"
#include "certs/ca.h"
#include "certs/error.h"
#include "common/clock.h"
#include "policy/policy.h"

#define DEV_TD "dev.authd.test"
#define DEV_NS "demo"

struct dev_app {
	const char *name;
	uint16_t app_port, mesh_port, upstream_port;
	const char *peer;		/* the other workload */
	uint16_t peer_app_port, peer_mesh_port;
};

static const struct dev_app dev_apps[2] = {
	{ "frontend", 18081, 15001, 19080, "backend", 18082, 15002 },
	{ "backend", 18082, 15002, 19081, "frontend", 18081, 15001 },
};

static const char dev_policy[] =
	"apiVersion: authd.io/v1\n"
	"kind: AllowList\n"
	"metadata:\n"
	"  name: dev\n"
	"spec:\n"
	"  rules:\n"
	"    - from: spiffe://" DEV_TD "/ns/" DEV_NS "/sa/frontend\n"
	"      to: spiffe://" DEV_TD "/ns/" DEV_NS "/sa/backend\n"
	"      ports: [18082]\n"
	"      comment: the dev sample, frontend calls backend\n";

static int
dev_policy_seed(const char *store_path)
{
	struct policy_store *s = NULL;
	struct policy_set set;
	struct policy_actor actor = { .who = "authd --dev", .now = clock_now_ms() / 1000 };
	char err[256];
	uint64_t rev = 0;
	size_t changes;
	int r;

	if ((r = policy_store_open(store_path, POLICY_OPEN_CREATE, 0, &s)) != 0)
		return r;
	/* Only a fresh store gets the sample: later edits are the user's. */
	if ((r = policy_store_revision(s, &rev)) != 0 || rev != 0) {
		policy_store_close(s);
		return r;
	}
	r = policy_set_parse((const uint8_t *)dev_policy, sizeof(dev_policy) - 1, &set, err,
	    sizeof(err));
	if (r != 0)
		log_warn("dev: sample policy: %s", err);
	if (r == 0) {
		r = policy_apply(s, set.rules, set.n, set.audit, set.naudit, false, NULL, NULL,
		    &changes, &actor);
		policy_set_free(&set);
	}
	policy_store_close(s);
	return r;
}

int
dev_prepare(const char *state_dir, struct config *cfg)
{
	struct certs_ca_params p = { 0 };
	char err[256];
	size_t i;
	int r;

	if ((r = util_mkdir_p(state_dir, 0700)) != 0)
		return r;
	if (util_snprintf(cfg->trust_domain, sizeof(cfg->trust_domain), "%s", DEV_TD) != 0 ||
	    util_snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", state_dir) != 0 ||
	    util_snprintf(cfg->admin, sizeof(cfg->admin), "%s", "127.0.0.1:15000") != 0)
		return -ENAMETOOLONG;
	cfg->ca_dir[0] = cfg->store[0] = '\0';
	if ((r = config_finish(cfg, err, sizeof(err))) != 0) {
		log_warn("dev: %s", err);
		return r;
	}
	p.now = clock_now_ms() / 1000;
	r = certs_ca_init(cfg->ca_dir, DEV_TD, &p);
	if (r != 0 && r != CERTS_E_EXISTS) {
		log_warn("dev: CA in %s: %s", cfg->ca_dir, certs_strerror(r));
		return r;
	}
	if ((r = dev_policy_seed(cfg->store)) != 0) {
		log_warn("dev: policy store %s: %s", cfg->store, policy_strerror(r));
		return r;
	}
	free(cfg->workloads);
	if ((cfg->workloads = calloc(2, sizeof(*cfg->workloads))) == NULL)
		return -ENOMEM;
	cfg->n_workloads = 2;
	for (i = 0; i < 2; i++) {
		const struct dev_app *a = &dev_apps[i];
		struct workload *w = &cfg->workloads[i];
		struct workload_upstream *u = &w->upstreams[0];

		if (util_snprintf(w->name, sizeof(w->name), "%s", a->name) != 0 ||
		    util_snprintf(w->ns, sizeof(w->ns), "%s", DEV_NS) != 0 ||
		    util_snprintf(w->sa, sizeof(w->sa), "%s", a->name) != 0 ||
		    util_snprintf(w->listen, sizeof(w->listen), "127.0.0.1:%u", a->mesh_port) != 0 ||
		    util_snprintf(w->apps[0], sizeof(w->apps[0]), "127.0.0.1:%u", a->app_port) != 0 ||
		    util_snprintf(u->listen, sizeof(u->listen), "127.0.0.1:%u", a->upstream_port) != 0 ||
		    util_snprintf(u->peer, sizeof(u->peer), "127.0.0.1:%u", a->peer_mesh_port) != 0 ||
		    util_snprintf(u->target_host, sizeof(u->target_host), "%s", "127.0.0.1") != 0 ||
		    util_snprintf(u->expect_id, sizeof(u->expect_id), "spiffe://%s/ns/%s/sa/%s", DEV_TD,
		    DEV_NS, a->peer) != 0)
			return -ENAMETOOLONG;
		w->n_apps = 1;
		w->n_upstreams = 1;
		u->target_port = a->peer_app_port;
	}
	return 0;
}

/* ---- The sample apps: answer one HTTP request, then close. ------------- */

struct dev_client {
	uv_tcp_t tcp;
	uv_write_t wreq;
	const char *name;
	char resp[256];
	bool answered;
};

static void
client_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
client_written(uv_write_t *req, int status)
{
	struct dev_client *cl = req->data;

	(void)status;
	uv_close((uv_handle_t *)&cl->tcp, client_closed);
}

static void
client_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char scratch[4096];	/* the request is read and ignored */

	(void)h;
	(void)hint;
	*b = uv_buf_init(scratch, sizeof(scratch));
}

static void
client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct dev_client *cl = s->data;
	char body[96];
	uv_buf_t out;
	int blen, len;

	(void)b;
	if (n == 0 || cl->answered)
		return;
	if (n < 0) {
		uv_close((uv_handle_t *)&cl->tcp, client_closed);
		return;
	}
	cl->answered = true;
	uv_read_stop(s);
	blen = snprintf(body, sizeof(body), "hello from %s\n", cl->name);
	len = snprintf(cl->resp, sizeof(cl->resp),
	    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
	    "connection: close\r\n\r\n%s", blen, body);
	out = uv_buf_init(cl->resp, (unsigned)len);
	cl->wreq.data = cl;
	if (uv_write(&cl->wreq, s, &out, 1, client_written) < 0)
		uv_close((uv_handle_t *)&cl->tcp, client_closed);
}

static void
app_accept(uv_stream_t *server, int status)
{
	const struct dev_app *a = server->data;
	struct dev_client *cl;

	if (status < 0 || (cl = calloc(1, sizeof(*cl))) == NULL)
		return;
	cl->name = a->name;
	uv_tcp_init(server->loop, &cl->tcp);
	cl->tcp.data = cl;
	if (uv_accept(server, (uv_stream_t *)&cl->tcp) < 0 ||
	    uv_read_start((uv_stream_t *)&cl->tcp, client_alloc, client_read) < 0)
		uv_close((uv_handle_t *)&cl->tcp, client_closed);
}

int
dev_start(struct daemon *d, const char *state_dir)
{
	struct addr a;
	char text[32];
	size_t i;
	int r;

	for (i = 0; i < 2; i++) {
		uv_tcp_t *t = &d->dev_apps[i];

		if (util_snprintf(text, sizeof(text), "127.0.0.1:%u", dev_apps[i].app_port) != 0 ||
		    addr_parse(text, false, &a, NULL) != 0)
			return -EINVAL;
		uv_tcp_init(d->loop, t);
		t->data = (void *)(uintptr_t)&dev_apps[i];
		d->n_dev_apps = i + 1;
		if ((r = uv_tcp_bind(t, (const struct sockaddr *)&a.ss, 0)) < 0 ||
		    (r = uv_listen((uv_stream_t *)t, 128, app_accept)) < 0) {
			log_warn("dev: app %s on %s: %s", dev_apps[i].name, text, uv_strerror(r));
			return r;
		}
	}
	printf("\n"
	    "authd dev node: trust domain " DEV_TD ", state in %s\n"
	    "  workloads: " DEV_NS "/frontend (app 127.0.0.1:18081, mesh 127.0.0.1:15001)\n"
	    "             " DEV_NS "/backend  (app 127.0.0.1:18082, mesh 127.0.0.1:15002)\n"
	    "  policy:    frontend -> backend :18082 allowed; everything else denied\n"
	    "\n"
	    "Try, in another terminal:\n"
	    "  curl -s http://127.0.0.1:19080/     # frontend -> backend: allowed, \"hello from backend\"\n"
	    "  curl -s http://127.0.0.1:19081/     # backend -> frontend: denied, connection closed\n"
	    "  curl -s http://127.0.0.1:15000/metrics | grep authd_connections_total\n"
	    "  curl -s http://127.0.0.1:15000/workloads\n"
	    "  build/authctl policy allow --store %s/store.mdb \\\n"
	    "      --from spiffe://" DEV_TD "/ns/" DEV_NS "/sa/backend \\\n"
	    "      --to spiffe://" DEV_TD "/ns/" DEV_NS "/sa/frontend --port 18081   # then retry\n"
	    "Access log lines (JSON) follow on stdout; Ctrl-C drains and stops.\n\n",
	    state_dir, state_dir);
	fflush(stdout);
	return 0;
}
