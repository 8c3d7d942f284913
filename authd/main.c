/*
 * authd: the node daemon's entry point. Flags, the config file, dev mode;
 * then daemon_run until a drain ends. Exit status: 0 after a clean
 * shutdown, 2 for usage or config errors, 3 when startup fails.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authd/daemon.h"
#include "authd/dev.h"
#include "authd/log.h"
#include "certs/crypto.h"
#include "common/version.h"

struct flags {
	const char *config, *state_dir, *trust_domain, *ca_dir, *store, *admin, *probes,
	    *access_log, *log_level, *kube_server, *kube_ca, *kube_token, *node_name;
	bool dev;
};

static void
usage(FILE *f)
{
	fputs("usage: authd --config FILE [flags]\n"
	    "       authd --dev [--state-dir DIR]\n"
	    "flags (override the file):\n"
	    "  --state-dir DIR        where store.mdb and ca/ live (default /var/lib/authd)\n"
	    "  --trust-domain TD      the trust domain\n"
	    "  --ca-dir DIR           CA directory (default STATE_DIR/ca)\n"
	    "  --store PATH           policy and workload store (default STATE_DIR/store.mdb)\n"
	    "  --admin ADDR|off       admin HTTP listener, loopback only (default 127.0.0.1:15000)\n"
	    "  --probes ADDR|off      /healthz /readyz /metrics only, any address (default off)\n"
	    "  --access-log PATH|stdout|off\n"
	    "  --log-level debug|info|warn\n"
	    "Kubernetes (any of these turns the node agent on; docs/kubernetes.md):\n"
	    "  --node-name NAME       this node (default $NODE_NAME)\n"
	    "  --kube-server URL      https://HOST[:PORT] (default: in cluster)\n"
	    "  --kube-ca FILE         the API server's CA (default: the pod's service account)\n"
	    "  --kube-token FILE      a bearer token file, re-read as it rotates\n"
	    "  --version, --help\n"
	    "docs/daemon.md and docs/config.md describe the rest.\n", f);
}

static int
copy(char *dst, size_t size, const char *src, const char *what)
{
	if (util_snprintf(dst, size, "%s", src) != 0) {
		fprintf(stderr, "authd: %s is too long\n", what);
		return -1;
	}
	return 0;
}

/* Flags over the file; called at start and after each SIGHUP reload. */
static void
apply_flags(struct config *c, void *arg)
{
	const struct flags *f = arg;

	if (f->state_dir != NULL && copy(c->state_dir, sizeof(c->state_dir), f->state_dir, "--state-dir"))
		c->state_dir[0] = '\0';
	if (f->trust_domain != NULL)
		(void)copy(c->trust_domain, sizeof(c->trust_domain), f->trust_domain, "--trust-domain");
	if (f->ca_dir != NULL)
		(void)copy(c->ca_dir, sizeof(c->ca_dir), f->ca_dir, "--ca-dir");
	if (f->store != NULL)
		(void)copy(c->store, sizeof(c->store), f->store, "--store");
	if (f->admin != NULL)
		(void)copy(c->admin, sizeof(c->admin), strcmp(f->admin, "off") == 0 ? "" : f->admin,
		    "--admin");
	if (f->probes != NULL)
		(void)copy(c->probes, sizeof(c->probes), strcmp(f->probes, "off") == 0 ? "" : f->probes,
		    "--probes");
	if (f->access_log != NULL)
		(void)copy(c->access_log, sizeof(c->access_log), f->access_log, "--access-log");
	if (f->kube_server != NULL || f->kube_ca != NULL || f->kube_token != NULL ||
	    f->node_name != NULL)
		c->kube.enabled = true;
	if (f->kube_server != NULL)
		(void)copy(c->kube.server, sizeof(c->kube.server), f->kube_server, "--kube-server");
	if (f->kube_ca != NULL)
		(void)copy(c->kube.ca_file, sizeof(c->kube.ca_file), f->kube_ca, "--kube-ca");
	if (f->kube_token != NULL)
		(void)copy(c->kube.token_file, sizeof(c->kube.token_file), f->kube_token,
		    "--kube-token");
	if (f->node_name != NULL)
		(void)copy(c->kube.node_name, sizeof(c->kube.node_name), f->node_name, "--node-name");
	/* A DaemonSet passes its node through the downward API. */
	if (c->kube.enabled && c->kube.node_name[0] == '\0' && getenv("NODE_NAME") != NULL)
		(void)copy(c->kube.node_name, sizeof(c->kube.node_name), getenv("NODE_NAME"),
		    "NODE_NAME");
	if (f->log_level != NULL) {
		if (strcmp(f->log_level, "debug") == 0)
			c->log_level = CONFIG_LOG_DEBUG;
		else if (strcmp(f->log_level, "warn") == 0)
			c->log_level = CONFIG_LOG_WARN;
		else
			c->log_level = CONFIG_LOG_INFO;
	}
}

static int
check_flags(const struct flags *f)
{
	struct addr a;
	const char *why;

	if (f->log_level != NULL && strcmp(f->log_level, "debug") != 0 &&
	    strcmp(f->log_level, "info") != 0 && strcmp(f->log_level, "warn") != 0) {
		fprintf(stderr, "authd: --log-level must be debug, info or warn\n");
		return -1;
	}
	if (f->admin != NULL && strcmp(f->admin, "off") != 0 &&
	    addr_parse(f->admin, true, &a, &why) != 0) {
		fprintf(stderr, "authd: --admin %s: %s\n", f->admin, why);
		return -1;
	}
	if (f->probes != NULL && strcmp(f->probes, "off") != 0) {
		if (addr_parse(f->probes, true, &a, &why) != 0 || addr_is_unix(&a)) {
			fprintf(stderr, "authd: --probes %s: %s\n", f->probes,
			    why != NULL ? why : "must be IP:PORT");
			return -1;
		}
	}
	if (!f->dev && f->config == NULL && f->trust_domain == NULL) {
		fprintf(stderr, "authd: give --config FILE (or --trust-domain and flags), or --dev\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dev", no_argument, NULL, 'D' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "trust-domain", required_argument, NULL, 't' },
		{ "ca-dir", required_argument, NULL, 'C' },
		{ "store", required_argument, NULL, 'S' },
		{ "admin", required_argument, NULL, 'a' },
		{ "probes", required_argument, NULL, 'P' },
		{ "access-log", required_argument, NULL, 'l' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "kube-server", required_argument, NULL, 'K' },
		{ "kube-ca", required_argument, NULL, 'A' },
		{ "kube-token", required_argument, NULL, 'T' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct flags f = { 0 };
	struct daemon *d;
	char err[512];
	int o, rc;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'c': f.config = optarg; break;
		case 'D': f.dev = true; break;
		case 's': f.state_dir = optarg; break;
		case 't': f.trust_domain = optarg; break;
		case 'C': f.ca_dir = optarg; break;
		case 'S': f.store = optarg; break;
		case 'a': f.admin = optarg; break;
		case 'P': f.probes = optarg; break;
		case 'l': f.access_log = optarg; break;
		case 'L': f.log_level = optarg; break;
		case 'K': f.kube_server = optarg; break;
		case 'A': f.kube_ca = optarg; break;
		case 'T': f.kube_token = optarg; break;
		case 'N': f.node_name = optarg; break;
		case 'V': printf("authd %s\n", AUTHD_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "authd: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check_flags(&f) != 0)
		return 2;
	if (certs_crypto_init() != 0) {
		fprintf(stderr, "authd: cannot initialise the crypto libraries\n");
		return 3;
	}
	/* A peer that resets mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return 3;
	config_defaults(&d->cfg);
	if (f.config != NULL && config_load(f.config, &d->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "authd: %s\n", err);	/* it names the file */
		rc = 2;
		goto out;
	}
	if (f.dev) {
		if (f.state_dir == NULL)
			f.state_dir = "authd-dev";
		if (dev_prepare(f.state_dir, &d->cfg) != 0) {
			fprintf(stderr, "authd: cannot prepare the dev state in %s\n", f.state_dir);
			rc = 3;
			goto out;
		}
	}
	apply_flags(&d->cfg, &f);
	if (config_finish(&d->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "authd: %s\n", err);
		rc = 2;
		goto out;
	}
	log_set_level(d->cfg.log_level);
	d->config_path = f.config;
	d->apply_flags = apply_flags;
	d->flags_arg = &f;
	d->loop = uv_default_loop();
	if (f.dev && dev_start(d, f.state_dir) != 0) {
		rc = 3;
		goto out;
	}
	rc = daemon_run(d) == 0 ? 0 : 3;
out:
	if (d->loop != NULL) {
		/* A failed dev_start leaves its app handles open. */
		daemon_close_handles(d->loop);
		uv_loop_close(d->loop);
	}
	config_free(&d->cfg);
	free(d);
	return rc;
}
