/*
 * The daemon's configuration: a YAML file (docs/config.md) overridden by
 * command-line flags. Every limit has a default, a bound, and a counter in
 * /metrics when it trips.
 *
 * Example:
 *
 *   trust_domain: example.org
 *   state_dir: /var/lib/authd          # store.mdb and the CA dir live here by default
 *   ca_dir: /var/lib/authd/ca          # root.crt, issuer.crt, issuer.key[.sealed], bundle.pem
 *   seal_key: /etc/authd/seal.key      # optional: unseals issuer.key.sealed
 *   store: /var/lib/authd/store.mdb
 *   admin: 127.0.0.1:15000             # the full admin API: loopback only
 *   probes: 0.0.0.0:15021              # optional: /healthz /readyz /metrics only, any address
 *   access_log: stdout                 # or a file path, or "off"
 *   log_level: info                    # debug | info | warn
 *   svid_ttl: 1h
 *   workers: 0                         # event loops: 0 = one per CPU
 *   limits:
 *     handshake_timeout: 10s
 *     header_timeout: 5s               # CONNECT head, after the handshake
 *     connect_timeout: 5s              # outbound TCP connect and CONNECT response
 *     idle_timeout: 1h
 *     drain_timeout: 30s
 *     max_connections: 10000
 *     max_connections_per_workload: 1000
 *     max_header_bytes: 8192
 *   kubernetes:                        # optional: a node agent (docs/kubernetes.md)
 *     node_name: node-a                # default: $NODE_NAME
 *     server: https://10.96.0.1:443    # default: in cluster ($KUBERNETES_SERVICE_HOST/PORT)
 *     ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
 *     token_file: /var/run/secrets/kubernetes.io/serviceaccount/token
 *     enroll_label: authd.io/mesh      # namespaces and pods labelled KEY=enabled
 *     allowlists: true                 # the store holds the union of the AllowLists
 *   workloads:
 *     - name: web
 *       namespace: shop
 *       service_account: web
 *       listen: 0.0.0.0:15008
 *       apps: [127.0.0.1:8080]
 *       upstreams:
 *         - listen: 127.0.0.1:9000
 *           peer: 10.0.2.2:15008
 *           target: db:5432
 *           expect_id: spiffe://example.org/ns/shop/sa/db
 */
#ifndef AUTHD_AUTHD_CONFIG_H
#define AUTHD_AUTHD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/util.h"
#include "policy/workload.h"
#include "certs/spiffe.h"

/* A config file is at most this large. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Workloads a config file may declare. */
#define CONFIG_WORKLOADS_MAX 256
/* Event loops (threads) at most; see workers below. */
#define CONFIG_WORKERS_MAX 64
/*
 * The store's map (store_map_size): authd maps it once and never remaps, as
 * its loops read from several threads; it is address space, not memory. The
 * most is POLICY_MAP_MAX, the most authctl grows a store to.
 */
#define CONFIG_STORE_MAP_MIN (1ull << 20)
#define CONFIG_STORE_MAP_MAX (64ull << 30)

enum config_log_level {
	CONFIG_LOG_DEBUG,
	CONFIG_LOG_INFO,
	CONFIG_LOG_WARN,
};

struct config_limits {
	uint32_t handshake_timeout_ms;	/* default 10 s; 100 ms..5 min */
	uint32_t header_timeout_ms;	/* default 5 s; 100 ms..5 min */
	uint32_t connect_timeout_ms;	/* default 5 s; 100 ms..5 min */
	uint32_t idle_timeout_ms;	/* default 1 h; 1 s..7 d */
	uint32_t drain_timeout_ms;	/* default 30 s; 0..1 h */
	uint32_t max_connections;	/* default 10000; 1..1000000 */
	uint32_t max_connections_per_workload; /* default 1000; 1..1000000 */
	uint32_t max_header_bytes;	/* default and maximum CONNECT_HEAD_MAX; at least 256 */
};

/* The service-account files Kubernetes mounts into every pod. */
#define CONFIG_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63. */
#define CONFIG_LABEL_KEY_MAX (253 + 1 + 63)

struct config_kube {
	bool enabled;				/* a kubernetes: block, or --kube-* flags */
	char node_name[254];			/* required; main fills it from $NODE_NAME */
	char server[300];			/* https://HOST[:PORT]; "" = in cluster */
	char ca_file[4096];			/* default CONFIG_KUBE_SA_DIR/ca.crt */
	char token_file[4096];			/* default CONFIG_KUBE_SA_DIR/token */
	char enroll_label[CONFIG_LABEL_KEY_MAX + 1];	/* default "authd.io/mesh" */
	bool allowlists;			/* default true: the store = the AllowLists' union */
};

struct config {
	char trust_domain[SPIFFE_TD_MAX + 1];	/* required */
	char state_dir[4096];			/* default "/var/lib/authd" */
	char ca_dir[4096];			/* default STATE_DIR/ca */
	char seal_key[4096];			/* "" = issuer key not sealed */
	char store[4096];			/* default STATE_DIR/store.mdb */
	char admin[ADDR_TEXT_MAX + 1];		/* default "127.0.0.1:15000"; "" = off */
	char probes[ADDR_TEXT_MAX + 1];		/* /healthz /readyz /metrics on any address; "" (default) = off */
	char access_log[4096];			/* "stdout" (default), "off", or a path */
	enum config_log_level log_level;	/* default info */
	uint32_t svid_ttl;			/* seconds; default 3600; 60..86400 */
	uint32_t workers;			/* event loops; 0 (default) = one per CPU */
	uint64_t store_map_size;		/* bytes; default and most 64 GiB (POLICY_MAP_MAX) */
	struct config_limits limits;
	struct config_kube kube;
	size_t n_workloads;
	struct workload *workloads;		/* heap; config_free releases */
};

/* Defaults everywhere, no workloads, trust_domain "". */
void config_defaults(struct config *c);

/*
 * Parse YAML text (at most CONFIG_FILE_MAX bytes) over the defaults already
 * in c. Unknown keys, wrong types, values out of bounds, duplicate keys,
 * invalid workloads (workload_validate) and duplicate workload NS/NAME are
 * errors. On error c is unchanged and err (size bytes) holds
 * "line N: what is wrong". Returns 0 or -EINVAL (-ENOMEM).
 */
int config_parse(const uint8_t *text, size_t len, struct config *c, char *err, size_t size)
    AD_MUST_CHECK;

/* Read path (util_read_file, bounded) and config_parse it; err starts with path. -errno for I/O. */
int config_load(const char *path, struct config *c, char *err, size_t size) AD_MUST_CHECK;

/*
 * Fill what depends on other fields (ca_dir and store under state_dir when
 * unset; the in-cluster CA and token files when kubernetes is on without a
 * server) and check cross-field rules (trust_domain set; a node name when
 * kubernetes is on). Call after parsing
 * and applying flags. Returns 0 or -EINVAL with err set.
 */
int config_finish(struct config *c, char *err, size_t size) AD_MUST_CHECK;

/* Whether key is a Kubernetes label key: [DNS-SUBDOMAIN/]NAME, NAME 1..63 of [A-Za-z0-9._-]. */
bool config_label_key_ok(const char *key);

/* Releases the workloads; c can be reused after config_defaults. */
void config_free(struct config *c);
#endif
