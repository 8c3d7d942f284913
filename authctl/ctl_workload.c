/*
 * ctl_workload.c: `authctl workload ...`: the workloads authd serves on
 * this node, kept in the registry next to the policy in the node's LMDB
 * file. The daemon notices a change by the registry's revision; it never
 * needs a restart. Every write is one transaction, and bad input is refused
 * before the store is opened for writing.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/addr.h"
#include "authctl/ctl.h"
#include "common/duration.h"
#include "policy/registry.h"
#include "policy/workload.h"
#include "certs/ca.h"
#include "certs/info.h"
#include "certs/spiffe.h"
#include "policy/policy.h"

/* Longest --upstream value: four fields with their keys and commas. */
#define UPSTREAM_SPEC_MAX (3 * ADDR_TEXT_MAX + 256 + SPIFFE_ID_MAX + 64)

struct wl_opts {
	const char *db;
	const char *ns;
	const char *sa;
	const char *listen;
	const char *apps[WORKLOAD_APPS_MAX];
	size_t n_apps;
	const char *ups[WORKLOAD_UPSTREAMS_MAX];
	size_t n_ups;
	int replace;
	int json;
	const char *output;	/* -o, or --json (the older spelling) */
	const char *td;		/* --trust-domain */
	const char *ca_dir;	/* --ca-dir */
	int64_t now;
};

enum { O_DB = 256, O_SA, O_LISTEN, O_APP, O_UPSTREAM, O_REPLACE, O_JSON, O_TD, O_CA_DIR,
	O_HELP };

static const struct option wl_long_opts[] = {
	{ "store", required_argument, NULL, O_DB },
	{ "db", required_argument, NULL, O_DB },
	{ "namespace", required_argument, NULL, 'n' },
	{ "service-account", required_argument, NULL, O_SA },
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "app", required_argument, NULL, O_APP },
	{ "upstream", required_argument, NULL, O_UPSTREAM },
	{ "replace", no_argument, NULL, O_REPLACE },
	{ "json", no_argument, NULL, O_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "trust-domain", required_argument, NULL, O_TD },
	{ "ca-dir", required_argument, NULL, O_CA_DIR },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

#define WL_COMMON \
    "common options:\n" \
    "  --store PATH  the node's store (default $AUTHD_POLICY_DB or " CTL_POLICY_DB_DEFAULT ")\n" \
    "environment: AUTHD_POLICY_MAP_SIZE (initial LMDB map, bytes), AUTHD_POLICY_MAP_MAX\n" \
    "  (the most the store grows to, bytes; default 64 GiB)\n"

#define U_ADD \
    "add NAME --namespace NS [--service-account SA] [--listen IP:PORT]\n" \
    "           [--app IP:PORT]... [--upstream listen=ADDR,peer=IP:PORT,target=HOST:PORT[,id=ID]]...\n" \
    "           [--replace] [--trust-domain TD | --ca-dir DIR]\n" \
    "  --listen    the inbound mesh listener (mTLS, presents the workload's SVID)\n" \
    "  --app       where the plaintext app listens; peers CONNECT to its port (1 to 8)\n" \
    "  --upstream  listen: local plaintext listener the app dials (IP:PORT or unix:/PATH);\n" \
    "              peer: the destination's mesh listener; target: the CONNECT target;\n" \
    "              id: the SPIFFE ID the peer must prove (default: any in the trust domain),\n" \
    "              a workload ID in the trust domain: --trust-domain, else the CA's in\n" \
    "              --ca-dir (default $AUTHD_CA_DIR or /var/lib/authd/ca)\n" \
    "  names are DNS labels (a-z, 0-9, '-'); the service account defaults to NAME\n"
#define U_RM "rm NAME --namespace NS\n"
#define U_LIST "list [-o table|json]  every workload, its SVID serial and expiry (or \"not issued\")\n"
#define U_SHOW "show NAME --namespace NS [-o table|json]\n"

static const char wl_usage[] =
    "usage: authctl workload SUBCOMMAND [OPTIONS]\n"
    "\n"
    "  " U_ADD "  " U_RM "  " U_LIST "  " U_SHOW
    "\n" WL_COMMON
    "('--json' is an older spelling of '-o json'.)\n"
    "'authctl workload SUBCOMMAND --help' shows one subcommand.\n";

static int
fail_reg(const char *what, int err)
{
	if (err < 0 && err > -1000) {
		ctl_err("%s: %s", what, strerror(-err));
		return CTL_FAIL;
	}
	ctl_err("%s: %s", what, policy_strerror(err));
	return err == POLICY_E_TOO_BIG || err == POLICY_E_INVAL ? CTL_USAGE : CTL_FAIL;
}

static int
parse_opts(int argc, char **argv, struct wl_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->db = getenv("AUTHD_POLICY_DB");
	if (o->db == NULL || *o->db == '\0')
		o->db = CTL_POLICY_DB_DEFAULT;
	o->now = (int64_t)time(NULL);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hn:o:", wl_long_opts, NULL)) != -1) {
		switch (c) {
		case O_DB: o->db = optarg; break;
		case 'n': o->ns = optarg; break;
		case O_SA: o->sa = optarg; break;
		case O_LISTEN: o->listen = optarg; break;
		case O_REPLACE: o->replace = 1; break;
		/* --json: the older spelling, kept so scripts do not break. */
		case O_JSON: o->json = 1; o->output = "json"; break;
		case 'o':
			if ((o->json = ctl_output_json(optarg)) < 0)
				return CTL_USAGE;
			o->output = optarg;
			break;
		case O_TD: o->td = optarg; break;
		case O_CA_DIR: o->ca_dir = optarg; break;
		case O_APP:
			if (o->n_apps == WORKLOAD_APPS_MAX) {
				ctl_err("--app: at most %d app addresses", WORKLOAD_APPS_MAX);
				return CTL_USAGE;
			}
			o->apps[o->n_apps++] = optarg;
			break;
		case O_UPSTREAM:
			if (o->n_ups == WORKLOAD_UPSTREAMS_MAX) {
				ctl_err("--upstream: at most %d upstreams", WORKLOAD_UPSTREAMS_MAX);
				return CTL_USAGE;
			}
			o->ups[o->n_ups++] = optarg;
			break;
		case 'h':
		case O_HELP:
			return -1;
		default:
			ctl_err("workload %s: unknown or incomplete option '%s'", argv[0],
			    argv[optind - 1]);
			return CTL_USAGE;
		}
	}
	return 0;
}

/* The one NAME argument, and --namespace, for add/rm/show. */
static int
name_args(int argc, char **argv, const struct wl_opts *o, const char *sub, const char **name)
{
	if (argc - optind != 1) {
		ctl_err("workload %s: give one workload NAME (and --namespace NS)", sub);
		return CTL_USAGE;
	}
	*name = argv[optind];
	if (o->ns == NULL) {
		ctl_err("workload %s: --namespace is required", sub);
		return CTL_USAGE;
	}
	return 0;
}

static int
open_store(const struct wl_opts *o, unsigned flags, struct policy_store **s)
{
	int err = ctl_store_open(o->db, flags, s);

	if (err == POLICY_E_NO_STORE) {
		ctl_err("%s: no store there (add a workload to create one; --store or "
			"$AUTHD_POLICY_DB name another)", o->db);
		return CTL_FAIL;
	}
	if (err == POLICY_E_CORRUPT) {
		ctl_err("%s: not an authd store, or damaged (refusing to touch it)", o->db);
		return CTL_FAIL;
	}
	return err != 0 ? fail_reg(o->db, err) : 0;
}

/* Copy s into a fixed field; false when it does not fit. */
static bool
field_set(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/*
 * Parse an address option and store its canonical text ("[::1]:80" for
 * "[0:0::1]:80"), so list and show print what the daemon will bind.
 */
static int
addr_opt(const char *opt, const char *s, bool tcp_only, char dst[static ADDR_TEXT_MAX + 1])
{
	const char *why = NULL;
	struct addr a;

	if (addr_parse(s, false, &a, &why) != 0) {
		ctl_err("%s '%s': %s", opt, s, why != NULL ? why : "not an address");
		return CTL_USAGE;
	}
	if (tcp_only && addr_is_unix(&a)) {
		ctl_err("%s '%s': must be IP:PORT (not a unix socket)", opt, s);
		return CTL_USAGE;
	}
	if (addr_format(&a, dst, ADDR_TEXT_MAX + 1) != 0) {
		ctl_err("%s '%s': address too long", opt, s);
		return CTL_USAGE;
	}
	return 0;
}

/* "host:port" or "[v6]:port" into an upstream's CONNECT target. */
static int
target_opt(const char *s, size_t n, struct workload_upstream *u)
{
	const char *colon, *host = s;
	size_t hlen, all = n;
	unsigned long port = 0;

	if (n > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', n);

		if (end == NULL || (size_t)(end - s) + 1 >= n || end[1] != ':')
			goto bad;
		host = s + 1;
		hlen = (size_t)(end - s - 1);
		colon = end + 1;
	} else {
		colon = NULL;
		for (size_t i = 0; i < n; i++)
			if (s[i] == ':')
				colon = s + i;
		hlen = colon != NULL ? (size_t)(colon - s) : 0;
		/* IPv6 needs brackets, or "::1:80" could be a host without a port. */
		if (colon == NULL || memchr(s, ':', hlen) != NULL)
			goto bad;
	}
	n -= (size_t)(colon + 1 - s);
	if (n == 0 || n > 5 || colon[1] == '0')
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			goto bad;
		port = port * 10 + (unsigned long)(colon[1 + i] - '0');
	}
	if (hlen == 0 || port > 65535 || !field_set(u->target_host, sizeof(u->target_host), host, hlen))
		goto bad;
	u->target_port = (uint16_t)port;
	return 0;
bad:
	ctl_err("--upstream target '%.*s': expected HOST:PORT or [IPv6]:PORT, port 1..65535",
	    (int)all, s);
	return CTL_USAGE;
}

/* Whether s (at a field boundary) starts one of the upstream's keys. */
static size_t
key_len(const char *s)
{
	static const char *const keys[] = { "listen=", "peer=", "target=", "id=" };

	for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++)
		if (strncmp(s, keys[i], strlen(keys[i])) == 0)
			return strlen(keys[i]);
	return 0;
}

/*
 * listen=ADDR,peer=IP:PORT,target=HOST:PORT[,id=ID] in any order. A value
 * runs to the next ",KEY=", so a unix path may hold a comma.
 */
static int
upstream_opt(const char *spec, struct workload_upstream *u)
{
	char val[UPSTREAM_SPEC_MAX + 1];
	bool seen[4] = { false };
	const char *p = spec;
	int rc;

	if (strlen(spec) > UPSTREAM_SPEC_MAX) {
		ctl_err("--upstream: too long");
		return CTL_USAGE;
	}
	while (*p != '\0') {
		size_t kl = key_len(p), vl = 0;
		int which;

		if (kl == 0) {
			ctl_err("--upstream '%s': expected listen=ADDR,peer=IP:PORT,target=HOST:PORT"
				"[,id=spiffe://...] (unknown field at '%.20s')", spec, p);
			return CTL_USAGE;
		}
		which = p[0] == 'l' ? 0 : p[0] == 'p' ? 1 : p[0] == 't' ? 2 : 3;
		if (seen[which]) {
			ctl_err("--upstream '%s': '%.*s' given twice", spec, (int)kl - 1, p);
			return CTL_USAGE;
		}
		seen[which] = true;
		p += kl;
		while (p[vl] != '\0' && !(p[vl] == ',' && key_len(p + vl + 1) > 0))
			vl++;
		memcpy(val, p, vl);
		val[vl] = '\0';
		switch (which) {
		case 0:
			rc = addr_opt("--upstream listen", val, false, u->listen);
			break;
		case 1:
			rc = addr_opt("--upstream peer", val, true, u->peer);
			break;
		case 2:
			rc = target_opt(val, vl, u);
			break;
		default:
			rc = 0;
			if (vl == 0 || !field_set(u->expect_id, sizeof(u->expect_id), val, vl)) {
				ctl_err("--upstream id: expected a SPIFFE ID (spiffe://TD/PATH)");
				rc = CTL_USAGE;
			}
			break;
		}
		if (rc != 0)
			return rc;
		p += vl;
		if (*p == ',')
			p++;
	}
	if (!seen[0] || !seen[1] || !seen[2]) {
		ctl_err("--upstream '%s': listen=, peer= and target= are required", spec);
		return CTL_USAGE;
	}
	return 0;
}

/*
 * The trust domain upstream ids must be in: --trust-domain, else the CA's
 * (root.crt in --ca-dir, $AUTHD_CA_DIR or the default). 0 and td[0] == '\0'
 * when neither is there.
 */
static int
node_td(const struct wl_opts *o, char td[static SPIFFE_TD_MAX + 1], const char **from)
{
	const char *dir = o->ca_dir;
	struct certs_info root;
	char path[4200];
	size_t where = 0;

	td[0] = '\0';
	if (o->td != NULL) {
		if (spiffe_td_parse(o->td, strlen(o->td), td, &where) != 0) {
			ctl_err("--trust-domain '%s': not a trust domain (at byte %zu)", o->td, where);
			return CTL_USAGE;
		}
		*from = "--trust-domain";
		return 0;
	}
	if (dir == NULL && ((dir = getenv("AUTHD_CA_DIR")) == NULL || *dir == '\0'))
		dir = "/var/lib/authd/ca";
	*from = dir;
	if (util_snprintf(path, sizeof(path), "%s/%s", dir, CERTS_CA_ROOT_CRT) != 0 ||
	    certs_info_load(path, &root) != 0 || strncmp(root.id, "spiffe://", 9) != 0 ||
	    spiffe_td_parse(root.id + 9, strlen(root.id + 9), td, NULL) != 0) {
		td[0] = '\0';
		if (o->ca_dir != NULL) {
			ctl_err("--ca-dir %s: no CA there to take the trust domain from", o->ca_dir);
			return CTL_USAGE;
		}
	}
	return 0;
}

/*
 * An upstream's id= outside the trust domain can never be proved by a
 * peer (the daemon's config refuses it): refuse it here too.
 */
static int
expect_ids_in_td(const struct wl_opts *o, const struct workload *w)
{
	char td[SPIFFE_TD_MAX + 1];
	const char *from = NULL;
	struct spiffe_id *id;
	bool any = false;
	int rc;

	for (size_t i = 0; i < w->n_upstreams; i++)
		any |= w->upstreams[i].expect_id[0] != '\0';
	if (!any)
		return 0;
	if ((rc = node_td(o, td, &from)) != 0)
		return rc;
	if (td[0] == '\0') {
		fprintf(stderr, "authctl: note: no CA in %s and no --trust-domain: upstream ids are "
		    "not checked against the trust domain\n", from);
		return 0;
	}
	if ((id = malloc(sizeof(*id))) == NULL)
		return CTL_FAIL;
	for (size_t i = 0; i < w->n_upstreams; i++) {
		const char *e = w->upstreams[i].expect_id;

		if (e[0] == '\0')
			continue;
		if (spiffe_id_parse_workload(e, strlen(e), id, NULL) != 0 ||
		    !spiffe_id_in_td(id, td, strlen(td))) {
			ctl_err("--upstream id '%s': not a workload ID in trust domain %s (from %s): "
			    "no peer could prove it", e, td, from);
			free(id);
			return CTL_USAGE;
		}
	}
	free(id);
	return 0;
}

static int
build(const struct wl_opts *o, const char *name, struct workload *w)
{
	const char *sa = o->sa != NULL ? o->sa : name;
	const char *why = NULL;
	int rc;

	memset(w, 0, sizeof(*w));
	if (!field_set(w->name, sizeof(w->name), name, strlen(name)) ||
	    !field_set(w->ns, sizeof(w->ns), o->ns, strlen(o->ns)) ||
	    !field_set(w->sa, sizeof(w->sa), sa, strlen(sa))) {
		ctl_err("workload %s: names are at most %d characters", name, WORKLOAD_NAME_MAX);
		return CTL_USAGE;
	}
	if (o->listen != NULL && (rc = addr_opt("--listen", o->listen, true, w->listen)) != 0)
		return rc;
	for (size_t i = 0; i < o->n_apps; i++)
		if ((rc = addr_opt("--app", o->apps[i], true, w->apps[i])) != 0)
			return rc;
	w->n_apps = o->n_apps;
	for (size_t i = 0; i < o->n_ups; i++)
		if ((rc = upstream_opt(o->ups[i], &w->upstreams[i])) != 0)
			return rc;
	w->n_upstreams = o->n_ups;
	if (workload_validate(w, &why) != 0) {
		ctl_err("workload %s/%s: %s", o->ns, name, why);
		return CTL_USAGE;
	}
	return expect_ids_in_td(o, w);
}

/* w's listen addresses (mesh and upstreams) into out; returns how many parse. */
static size_t
listen_addrs(const struct workload *w, struct addr *out)
{
	size_t n = 0;

	if (w->listen[0] != '\0' && addr_parse(w->listen, false, &out[n], NULL) == 0)
		n++;
	for (size_t i = 0; i < w->n_upstreams; i++)
		if (addr_parse(w->upstreams[i].listen, false, &out[n], NULL) == 0)
			n++;
	return n;
}

struct overlap_check {
	const struct workload *w;
	struct addr mine[WORKLOAD_UPSTREAMS_MAX + 1];
	size_t n;
	char why[256];
};

/* registry_list callback: stop (1) at the first other workload with a listener overlapping w's. */
static int
overlap_cb(const struct workload *x, const struct workload_svid_status *st, void *arg)
{
	struct overlap_check *oc = arg;
	struct addr theirs[WORKLOAD_UPSTREAMS_MAX + 1];
	char text[ADDR_TEXT_MAX + 1];
	size_t m;

	(void)st;
	if (strcmp(x->ns, oc->w->ns) == 0 && strcmp(x->name, oc->w->name) == 0)
		return 0;	/* the one --replace changes */
	m = listen_addrs(x, theirs);
	for (size_t i = 0; i < oc->n; i++) {
		for (size_t j = 0; j < m; j++) {
			if (!addr_overlaps(&oc->mine[i], &theirs[j]))
				continue;
			if (addr_format(&oc->mine[i], text, sizeof(text)) != 0)
				text[0] = '\0';
			util_format(oc->why, sizeof(oc->why), "listen %s overlaps a listener of %s/%s",
			    text, x->ns, x->name);
			return 1;
		}
	}
	return 0;
}

/*
 * What authd would refuse and authctl can see: two of w's own listeners
 * overlapping, or one overlapping another registry workload's. (A clash
 * with the config file only authd sees; it records the refusal.)
 */
static int
check_overlaps(struct policy_store *s, const struct workload *w, char *why, size_t size)
{
	struct overlap_check *oc = calloc(1, sizeof(*oc));
	int err;

	if (oc == NULL)
		return -ENOMEM;
	oc->w = w;
	oc->n = listen_addrs(w, oc->mine);
	for (size_t i = 0; i < oc->n; i++)
		for (size_t j = i + 1; j < oc->n; j++)
			if (addr_overlaps(&oc->mine[i], &oc->mine[j])) {
				util_format(why, size, "two of its listeners overlap");
				free(oc);
				return 1;
			}
	err = registry_list(s, overlap_cb, oc);
	if (err == 1)
		util_format(why, size, "%s", oc->why);
	free(oc);
	return err;
}

static int
cmd_add(int argc, char **argv, struct wl_opts *o)
{
	struct policy_store *s = NULL;
	struct workload *w = NULL;
	const char *name, *why = NULL;
	char overlap[256];
	int err, rc;

	if ((rc = name_args(argc, argv, o, "add", &name)) != 0)
		return rc;
	w = malloc(sizeof(*w));
	if (w == NULL)
		return CTL_FAIL;
	if ((rc = build(o, name, w)) != 0)
		goto out;
	if ((rc = open_store(o, POLICY_OPEN_CREATE, &s)) != 0)
		goto out;
	if ((err = check_overlaps(s, w, overlap, sizeof(overlap))) != 0) {
		if (err == 1) {
			ctl_err("workload %s/%s: %s; authd would not serve it", w->ns, w->name, overlap);
			rc = CTL_USAGE;
		} else {
			rc = fail_reg("workload add", err);
		}
		goto out;
	}
	err = registry_put(s, w, o->replace, &why);
	if (err == -EEXIST) {
		ctl_err("workload %s/%s exists (--replace to change it)", w->ns, w->name);
		rc = CTL_NO;
	} else if (err == -EINVAL) {
		ctl_err("workload %s/%s: %s", w->ns, w->name, why ? why : "invalid");
		rc = CTL_USAGE;
	} else if (err == POLICY_E_TOO_BIG) {
		ctl_err("workload %s/%s: the registry holds %d workloads, its limit", w->ns,
		    w->name, WORKLOAD_MAX);
		rc = CTL_USAGE;
	} else if (err != 0) {
		rc = fail_reg("workload add", err);
	} else {
		printf("%s %s/%s (service account %s)\n", o->replace ? "stored" : "added", w->ns,
		    w->name, w->sa);
	}
out:
	policy_store_close(s);
	free(w);
	return rc;
}

static int
cmd_rm(int argc, char **argv, struct wl_opts *o)
{
	struct policy_store *s = NULL;
	const char *name;
	int err, rc;

	if ((rc = name_args(argc, argv, o, "rm", &name)) != 0)
		return rc;
	if ((rc = open_store(o, 0, &s)) != 0)
		return rc;
	err = registry_remove(s, o->ns, name);
	if (err == -ENOENT) {
		ctl_err("workload rm: no workload %s/%s", o->ns, name);
		rc = CTL_NO;
	} else if (err != 0) {
		rc = fail_reg("workload rm", err);
	} else {
		printf("removed %s/%s\n", o->ns, name);
	}
	policy_store_close(s);
	return rc;
}

#define json_str ctl_json_str
#define json_str_or_null ctl_json_str_or_null

static void
json_workload(const struct workload *w, const struct workload_svid_status *st, int64_t now)
{
	char t[32];

	printf("{\"namespace\": ");
	json_str(w->ns);
	printf(", \"name\": ");
	json_str(w->name);
	printf(", \"service_account\": ");
	json_str(w->sa);
	printf(", \"listen\": ");
	json_str_or_null(w->listen);
	printf(", \"apps\": [");
	for (size_t i = 0; i < w->n_apps; i++) {
		printf("%s", i ? ", " : "");
		json_str(w->apps[i]);
	}
	printf("], \"upstreams\": [");
	for (size_t i = 0; i < w->n_upstreams; i++) {
		const struct workload_upstream *u = &w->upstreams[i];

		printf("%s{\"listen\": ", i ? ", " : "");
		json_str(u->listen);
		printf(", \"peer\": ");
		json_str(u->peer);
		printf(", \"target_host\": ");
		json_str(u->target_host);
		printf(", \"target_port\": %u, \"expect_id\": ", u->target_port);
		json_str_or_null(u->expect_id);
		printf("}");
	}
	printf("], \"refused\": ");
	json_str_or_null(st != NULL ? st->refused : "");
	printf(", \"svid\": ");
	if (st == NULL || st->not_after == 0) {
		printf("null}");
		return;
	}
	printf("{\"spiffe_id\": ");
	json_str(st->spiffe_id);
	printf(", \"serial\": ");
	json_str(st->serial);
	certs_time_format(st->not_after, t, sizeof(t));
	printf(", \"not_after\": \"%s\", \"seconds_left\": %" PRId64 ", \"updated\": ", t,
	    st->not_after - now);
	certs_time_format(st->updated, t, sizeof(t));
	printf("\"%s\"}}", t);
}

struct list_state {
	int json;
	size_t n;
	int64_t now;
};

static int
list_cb(const struct workload *w, const struct workload_svid_status *st, void *arg)
{
	struct list_state *ls = arg;
	char id[2 * WORKLOAD_NAME_MAX + 2], apps[WORKLOAD_APPS_MAX * 8 + 1] = "", exp[96] = "-";
	size_t off = 0;

	if (ls->json) {
		printf("%s\n  ", ls->n ? "," : "");
		json_workload(w, st, ls->now);
		ls->n++;
		return 0;
	}
	if (ls->n == 0)
		printf("%-32s %-20s %-22s %-16s %-9s %-32s %s\n", "NAMESPACE/NAME", "SA", "LISTEN",
		    "APPS", "UPSTREAMS", "SVID SERIAL", "EXPIRES");
	util_format(id, sizeof(id), "%s/%s", w->ns, w->name);
	/* Ports are what peers name in CONNECT; the full addresses are in show. */
	for (size_t i = 0; i < w->n_apps; i++) {
		const char *c = strrchr(w->apps[i], ':');
		int k = snprintf(apps + off, sizeof(apps) - off, "%s%s", i ? "," : "",
		    c != NULL ? c + 1 : w->apps[i]);

		if (k > 0 && (size_t)k < sizeof(apps) - off)
			off += (size_t)k;
	}
	if (st != NULL && st->not_after != 0)
		ctl_expiry_text(st->not_after, ls->now, exp, sizeof(exp));
	printf("%-32s %-20s %-22s %-16s %-9zu %-32s %s\n", id, w->sa,
	    w->listen[0] ? w->listen : "-", w->n_apps ? apps : "-", w->n_upstreams,
	    st != NULL && st->not_after != 0 ? st->serial :
	    st != NULL && st->refused[0] != '\0' ? "REFUSED" : "not issued", exp);
	/* The reason under its row: authd does not serve it, and this is why. */
	if (st != NULL && st->refused[0] != '\0')
		printf("  refused by authd: %s\n", st->refused);
	ls->n++;
	return 0;
}

static int
cmd_list(int argc, char **argv, struct wl_opts *o)
{
	struct policy_store *s = NULL;
	struct list_state ls = { o->json, 0, o->now };
	int err, rc;

	if (optind < argc) {
		ctl_err("workload list: unexpected argument '%s'", argv[optind]);
		return CTL_USAGE;
	}
	if ((rc = open_store(o, POLICY_OPEN_RDONLY, &s)) != 0)
		return rc;
	if (ls.json)
		printf("[");
	err = registry_list(s, list_cb, &ls);
	if (ls.json)
		printf("%s]\n", ls.n ? "\n" : "");
	else if (err == 0 && ls.n == 0)
		printf("no workloads\n");
	if (err != 0)
		rc = fail_reg("workload list", err);
	policy_store_close(s);
	return rc;
}

struct show_state {
	const char *ns;
	const char *name;
	bool found;
	int json;
	int64_t now;
};

static void
show_text(const struct workload *w, const struct workload_svid_status *st, int64_t now)
{
	char exp[96], upd[32];

	printf("workload         %s/%s\n", w->ns, w->name);
	printf("service account  %s\n", w->sa);
	printf("listen           %s\n", w->listen[0] ? w->listen : "- (no inbound)");
	for (size_t i = 0; i < w->n_apps; i++)
		printf("app              %s\n", w->apps[i]);
	for (size_t i = 0; i < w->n_upstreams; i++) {
		const struct workload_upstream *u = &w->upstreams[i];
		bool v6 = strchr(u->target_host, ':') != NULL;

		printf("upstream         %s -> %s CONNECT %s%s%s:%u, peer must be %s\n", u->listen,
		    u->peer,
		    v6 ? "[" : "", u->target_host, v6 ? "]" : "", u->target_port,
		    u->expect_id[0] ? u->expect_id : "any ID in the trust domain");
	}
	if (st != NULL && st->refused[0] != '\0') {
		certs_time_format(st->updated, upd, sizeof(upd));
		printf("refused          %s (authd does not serve it; reported %s)\n", st->refused, upd);
	}
	if (st == NULL || st->not_after == 0) {
		printf("svid             not issued\n");
		return;
	}
	ctl_expiry_text(st->not_after, now, exp, sizeof(exp));
	certs_time_format(st->updated, upd, sizeof(upd));
	printf("svid             %s\n", st->spiffe_id);
	printf("serial           %s\n", st->serial);
	printf("expires          %s\n", exp);
	printf("reported         %s\n", upd);
}

static int
show_cb(const struct workload *w, const struct workload_svid_status *st, void *arg)
{
	struct show_state *ss = arg;

	if (strcmp(w->ns, ss->ns) != 0 || strcmp(w->name, ss->name) != 0)
		return 0;
	ss->found = true;
	if (ss->json) {
		json_workload(w, st, ss->now);
		printf("\n");
	} else {
		show_text(w, st, ss->now);
	}
	/* Found: stop the walk. */
	return 1;
}

static int
cmd_show(int argc, char **argv, struct wl_opts *o)
{
	struct policy_store *s = NULL;
	struct show_state ss = { o->ns, NULL, false, o->json, o->now };
	int err, rc;

	if ((rc = name_args(argc, argv, o, "show", &ss.name)) != 0)
		return rc;
	ss.ns = o->ns;
	if ((rc = open_store(o, POLICY_OPEN_RDONLY, &s)) != 0)
		return rc;
	/* One snapshot for the workload and its status: the list walk gives both. */
	err = registry_list(s, show_cb, &ss);
	if (err != 0 && err != 1) {
		rc = fail_reg("workload show", err);
	} else if (!ss.found) {
		ctl_err("workload show: no workload %s/%s", o->ns, ss.name);
		rc = CTL_NO;
	}
	policy_store_close(s);
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, struct wl_opts *o);
	const char *usage;
	bool output;		/* takes -o table|json (--json) */
} wl_cmds[] = {
	{ "add", cmd_add, U_ADD, false },
	{ "rm", cmd_rm, U_RM, false },
	{ "remove", cmd_rm, U_RM, false },
	{ "list", cmd_list, U_LIST, true },
	{ "show", cmd_show, U_SHOW, true },
};

const char *const ctl_workload_subcommands[] = { "add", "rm", "list", "show", NULL };

int
ctl_workload_main(int argc, char **argv)
{
	struct wl_opts o;
	int rc;

	if (ctl_wants_help(argc, argv)) {
		fputs(wl_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USAGE : CTL_OK;
	}
	for (size_t i = 0; i < AD_ARRAY_LEN(wl_cmds); i++) {
		if (strcmp(argv[1], wl_cmds[i].name) != 0)
			continue;
		rc = parse_opts(argc - 1, argv + 1, &o);
		if (rc < 0) {
			ctl_cmd_usage("workload", wl_cmds[i].usage, WL_COMMON);
			return CTL_OK;
		}
		if (rc == 0 && o.output != NULL && !wl_cmds[i].output) {
			ctl_err("workload %s does not take -o/--output", wl_cmds[i].name);
			return CTL_USAGE;
		}
		if (rc == 0 && (o.td != NULL || o.ca_dir != NULL) && wl_cmds[i].fn != cmd_add) {
			ctl_err("workload %s does not take --trust-domain or --ca-dir", wl_cmds[i].name);
			return CTL_USAGE;
		}
		return rc != 0 ? rc : wl_cmds[i].fn(argc - 1, argv + 1, &o);
	}
	ctl_err("workload: unknown subcommand '%s'", argv[1]);
	fputs(wl_usage, stderr);
	return CTL_USAGE;
}
