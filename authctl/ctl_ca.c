/*
 * ctl_ca.c: `authctl ca ...`: create and inspect the trust domain's CA,
 * rotate it, manage the trust bundle, issue and verify X509-SVIDs.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authctl/ctl.h"
#include "common/duration.h"
#include "policy/registry.h"
#include "policy/workload.h"
#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/error.h"
#include "certs/info.h"
#include "certs/seal.h"
#include "certs/spiffe.h"
#include "certs/svid.h"
#include "certs/verify.h"
#include "policy/policy.h"

#define CA_DIR_DEFAULT "/var/lib/authd/ca"

struct ca_opts {
	const char *dir;
	const char *td;
	const char *seal_key_path;
	const char *id;
	const char *out;
	const char *cert;
	const char *bundle;
	const char *role;
	const char *at;
	const char *store;
	const char *output;
	int json;
	uint64_t ttl;
	uint64_t root_ttl;
	uint64_t issuer_ttl;
	int new_root;
	uint8_t seal_key[CERTS_SEAL_KEY_LEN];
	int have_seal_key;
};

enum { OPT_DIR = 256, OPT_TD, OPT_SEAL, OPT_ID, OPT_TTL, OPT_OUT, OPT_ROOT_TTL, OPT_ISSUER_TTL,
	OPT_NEW_ROOT, OPT_CERT, OPT_BUNDLE, OPT_ROLE, OPT_AT, OPT_STORE, OPT_HELP };

static const struct option ca_long_opts[] = {
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "trust-domain", required_argument, NULL, OPT_TD },
	{ "seal-key", required_argument, NULL, OPT_SEAL },
	{ "id", required_argument, NULL, OPT_ID },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "root-ttl", required_argument, NULL, OPT_ROOT_TTL },
	{ "issuer-ttl", required_argument, NULL, OPT_ISSUER_TTL },
	{ "new-root", no_argument, NULL, OPT_NEW_ROOT },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "at", required_argument, NULL, OPT_AT },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

#define CA_COMMON \
    "common options:\n" \
    "  --dir DIR        CA directory (default $AUTHD_CA_DIR or " CA_DIR_DEFAULT ")\n" \
    "  --seal-key FILE  the issuer key is (to be) sealed with this key\n" \
    "durations: 90s, 15m, 1h, 1h30m, 30d\n"

#define U_INIT \
    "init --trust-domain TD [--root-ttl 8760h] [--issuer-ttl 720h] [--seal-key FILE]\n" \
    "        create a root (trust anchor) and an issuer (intermediate) in --dir\n"
#define U_SHOW \
    "show [-o table|json]\n" \
    "        print the trust domain, root, issuer and bundle with their expiry\n"
#define U_STATUS \
    "status [--store PATH] [-o table|json]\n" \
    "        issuer, trust anchors and every registered workload's SVID with time left;\n" \
    "        exit 1 when something needs attention (issuer < 7 days, an anchor < 30\n" \
    "        days, an SVID expired, a workload refused, no store at PATH)\n"
#define U_ROTATE \
    "rotate [--new-root] [--issuer-ttl D] [--root-ttl D] [--seal-key FILE]\n" \
    "        make a new issuer (under the current root, or a new root that is added\n" \
    "        to the bundle next to the old one)\n"
#define U_BUNDLE \
    "bundle [list] [-o table|json]  list the trust anchors (--bundle FILE: another bundle)\n" \
    "  bundle pem              print the bundle as PEM\n" \
    "  bundle add FILE         add the trust anchors in FILE\n" \
    "  bundle remove SHA256    remove the anchor with that fingerprint (prefix >= 8)\n"
#define U_ISSUE \
    "issue --id SPIFFE-ID [--ttl 1h] --out DIR\n" \
    "        issue an X509-SVID (TTL 5s to 24h): DIR/svid.pem (leaf, issuer), DIR/svid.key,\n" \
    "        DIR/bundle.pem\n"
#define U_VERIFY \
    "verify --cert FILE [--bundle FILE] [--trust-domain TD] [--role client|server]\n" \
    "         [--at RFC3339|UNIX]\n" \
    "        verify an X509-SVID chain; prints the SPIFFE ID, or why it is rejected\n"
#define U_SEAL_KEYGEN "seal-keygen --out FILE  make a random key for --seal-key (base64, 0600)\n"

static const char ca_usage[] =
    "usage: authctl ca SUBCOMMAND [OPTIONS]\n"
    "\n"
    "  " U_INIT "  " U_SHOW "  " U_STATUS "  " U_ROTATE "  " U_BUNDLE "  " U_ISSUE "  " U_VERIFY
    "  " U_SEAL_KEYGEN
    "\n" CA_COMMON
    "'authctl ca SUBCOMMAND --help' shows one subcommand.\n";

static int
fail_certs(const char *what, int err)
{
	ctl_err("%s: %s", what, certs_strerror(err));
	switch (err) {
	case CERTS_E_INVAL:
	case CERTS_E_TTL:
	case CERTS_E_PEM:
	case CERTS_E_SEAL_FORMAT:
	case CERTS_E_BUNDLE_NOT_ANCHOR:
	case CERTS_E_BUNDLE_DUP:
	case CERTS_E_NOT_FOUND:
	case CERTS_E_BUNDLE_LAST:
	case CERTS_E_BUNDLE_IN_USE:
	case CERTS_E_TOO_BIG:
	case CERTS_E_FOREIGN_TD:
		return CTL_USAGE;
	default:
		if (err <= CERTS_E_ID_EMPTY && err >= CERTS_E_ID_NO_PATH)
			return CTL_USAGE;
		return CTL_FAIL;
	}
}

static int
parse_duration_opt(const char *name, const char *arg, uint64_t *out)
{
	int err = duration_parse(arg, out);

	if (err == -ERANGE)
		ctl_err("--%s %s: out of range", name, arg);
	else if (err != 0)
		ctl_err("--%s %s: not a duration (examples: 90s, 15m, 1h, 1h30m, 30d)", name, arg);
	return err == 0 ? 0 : CTL_USAGE;
}

/* Parse options after the subcommand; positional arguments stay in argv[optind..]. */
static int
parse_opts(int argc, char **argv, struct ca_opts *o)
{
	int c, err;

	memset(o, 0, sizeof(*o));
	o->dir = getenv("AUTHD_CA_DIR");
	if (o->dir == NULL || *o->dir == '\0')
		o->dir = CA_DIR_DEFAULT;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ho:", ca_long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR: o->dir = optarg; break;
		case OPT_TD: o->td = optarg; break;
		case OPT_SEAL: o->seal_key_path = optarg; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_CERT: o->cert = optarg; break;
		case OPT_BUNDLE: o->bundle = optarg; break;
		case OPT_ROLE: o->role = optarg; break;
		case OPT_AT: o->at = optarg; break;
		case OPT_STORE: o->store = optarg; break;
		case OPT_NEW_ROOT: o->new_root = 1; break;
		case 'o':
			o->output = optarg;
			if ((o->json = ctl_output_json(optarg)) < 0)
				return CTL_USAGE;
			break;
		case OPT_TTL:
			if ((err = parse_duration_opt("ttl", optarg, &o->ttl)) != 0)
				return err;
			break;
		case OPT_ROOT_TTL:
			if ((err = parse_duration_opt("root-ttl", optarg, &o->root_ttl)) != 0)
				return err;
			break;
		case OPT_ISSUER_TTL:
			if ((err = parse_duration_opt("issuer-ttl", optarg, &o->issuer_ttl)) != 0)
				return err;
			break;
		case 'h':
		case OPT_HELP:
			return -1;
		default:
			ctl_err("ca %s: unknown or incomplete option '%s'", argv[0], argv[optind - 1]);
			return CTL_USAGE;
		}
	}
	if (o->seal_key_path != NULL) {
		err = certs_seal_key_read(o->seal_key_path, o->seal_key);
		if (err != 0) {
			ctl_err("--seal-key %s: %s", o->seal_key_path, certs_strerror(err));
			return err == CERTS_E_SEAL_FORMAT ? CTL_USAGE : CTL_FAIL;
		}
		o->have_seal_key = 1;
	}
	return 0;
}

static int
ttl32(const char *name, uint64_t v, uint32_t *out)
{
	if (v > UINT32_MAX) {
		ctl_err("--%s: too long", name);
		return CTL_USAGE;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
no_extra_args(int argc, char **argv, const char *sub)
{
	if (optind < argc) {
		ctl_err("ca %s: unexpected argument '%s'", sub, argv[optind]);
		return CTL_USAGE;
	}
	return 0;
}

static int
ca_params(const struct ca_opts *o, struct certs_ca_params *p)
{
	int err;

	memset(p, 0, sizeof(*p));
	if ((err = ttl32("root-ttl", o->root_ttl, &p->root_ttl)) != 0 ||
	    (err = ttl32("issuer-ttl", o->issuer_ttl, &p->issuer_ttl)) != 0)
		return err;
	p->seal_key = o->have_seal_key ? o->seal_key : NULL;
	p->now = (int64_t)time(NULL);
	return 0;
}

static int
cmd_init(int argc, char **argv, struct ca_opts *o)
{
	struct certs_ca_params p;
	size_t where = 0;
	int err;

	if ((err = no_extra_args(argc, argv, "init")) != 0)
		return err;
	if (o->td == NULL) {
		ctl_err("ca init: --trust-domain is required (e.g. --trust-domain example.org)");
		return CTL_USAGE;
	}
	err = spiffe_td_parse(o->td, strlen(o->td), NULL, &where);
	if (err != 0) {
		ctl_err("ca init: trust domain '%s': %s (at byte %zu)", o->td, certs_strerror(err),
		    where);
		return CTL_USAGE;
	}
	if ((err = ca_params(o, &p)) != 0)
		return err;
	err = certs_ca_init(o->dir, o->td, &p);
	if (err != 0)
		return fail_certs(o->dir, err);
	printf("created CA for trust domain %s in %s%s\n", o->td, o->dir,
	    o->have_seal_key ? " (issuer key sealed)" : "");
	printf("the root key %s/%s should be moved offline; it is needed only for "
	       "'authctl ca rotate' without --new-root\n", o->dir, CERTS_CA_ROOT_KEY);
	return CTL_OK;
}

static void
print_cert(const char *label, const struct certs_info *in, int64_t now)
{
	char nb[32], na[32], left[32];

	certs_time_format(in->not_before, nb, sizeof(nb));
	certs_time_format(in->not_after, na, sizeof(na));
	if (in->not_after > now)
		duration_format((uint64_t)(in->not_after - now), left, sizeof(left));
	printf("%s %s\n", label, in->subject);
	printf("  id       %s\n", in->id[0] ? in->id : "(none)");
	printf("  serial   %s\n", in->serial);
	printf("  sha256   %s\n", in->fingerprint);
	printf("  valid    %s .. %s (%s%s)\n", nb, na, in->not_after > now ? "expires in " : "",
	    in->not_after > now ? left : "EXPIRED");
}

static int
dir_path(char *out, size_t size, const char *dir, const char *file)
{
	if (util_snprintf(out, size, "%s/%s", dir, file) != 0) {
		ctl_err("%s/%s: path too long", dir, file);
		return CTL_USAGE;
	}
	return 0;
}

/* 0: dir/file exists; else -errno (-ENOENT, -EACCES...). */
static int
ca_file(const char *dir, const char *file)
{
	char path[PATH_MAX];
	struct stat st;

	if (util_snprintf(path, sizeof(path), "%s/%s", dir, file) != 0)
		return -ENAMETOOLONG;
	return stat(path, &st) == 0 ? 0 : -errno;
}

/*
 * Why the CA in o->dir did not load, and what to do: "ca init" only where
 * there is no CA at all; permission denied as such; a sealed issuer key
 * without --seal-key by name.
 */
static int
fail_ca_load(const char *what, const struct ca_opts *o, int err)
{
	static const char *const files[] = { CERTS_CA_ROOT_CRT, CERTS_CA_ISSUER_CRT,
		CERTS_CA_ISSUER_KEY, CERTS_CA_ISSUER_KEY_SEALED, CERTS_CA_BUNDLE };
	const char *missing = NULL;
	bool any = false, denied = err == -EACCES || err == -EPERM;

	for (size_t i = 0; i < AD_ARRAY_LEN(files); i++) {
		int e = ca_file(o->dir, files[i]);

		any |= e == 0;
		denied |= e == -EACCES;
		if (e == -ENOENT && missing == NULL && i != 2 && i != 3)
			missing = files[i];
	}
	if (missing == NULL && ca_file(o->dir, CERTS_CA_ISSUER_KEY) == -ENOENT &&
	    ca_file(o->dir, CERTS_CA_ISSUER_KEY_SEALED) == -ENOENT)
		missing = CERTS_CA_ISSUER_KEY;
	if (denied) {
		ctl_err("%s: %s: permission denied (run authctl as the CA's owner, or check the "
		    "modes of the directory and its files)", what, o->dir);
		return CTL_FAIL;
	}
	if (err == CERTS_E_SEAL_FORMAT && !o->have_seal_key &&
	    ca_file(o->dir, CERTS_CA_ISSUER_KEY_SEALED) == 0) {
		ctl_err("%s: the issuer key in %s is sealed; pass --seal-key FILE", what, o->dir);
		return CTL_USAGE;
	}
	if (err == CERTS_E_NO_CA || err == -ENOENT) {
		if (!any)
			ctl_err("%s: no CA in %s (create one with 'authctl ca init --dir %s "
			    "--trust-domain TD')", what, o->dir, o->dir);
		else
			ctl_err("%s: the CA in %s is incomplete: %s is missing (restore it from "
			    "a backup; 'ca init' refuses a directory that holds a CA)", what, o->dir,
			    missing != NULL ? missing : "a file");
		return CTL_FAIL;
	}
	return fail_certs(what, err);
}

static void
json_cert(const struct certs_info *in, int64_t now)
{
	char nb[32], na[32];

	certs_time_format(in->not_before, nb, sizeof(nb));
	certs_time_format(in->not_after, na, sizeof(na));
	printf("{\"subject\": ");
	ctl_json_str(in->subject);
	printf(", \"id\": ");
	ctl_json_str_or_null(in->id);
	printf(", \"serial\": ");
	ctl_json_str(in->serial);
	printf(", \"sha256\": ");
	ctl_json_str(in->fingerprint);
	printf(", \"not_before\": \"%s\", \"not_after\": \"%s\", \"seconds_left\": %lld}", nb,
	    na, (long long)(in->not_after - now));
}

static int
cmd_show(int argc, char **argv, struct ca_opts *o)
{
	struct certs_info root, issuer, a;
	struct certs_bundle *b = NULL;
	char path[PATH_MAX];
	int64_t now = (int64_t)time(NULL);
	struct stat st;
	int err;

	if ((err = no_extra_args(argc, argv, "show")) != 0)
		return err;
	if ((err = dir_path(path, sizeof(path), o->dir, CERTS_CA_ROOT_CRT)) != 0)
		return err;
	err = certs_info_load(path, &root);
	if (err == -ENOENT || err == -EACCES)
		return fail_ca_load("ca show", o, err);
	if (err != 0)
		return fail_certs(path, err);
	if ((err = dir_path(path, sizeof(path), o->dir, CERTS_CA_ISSUER_CRT)) != 0)
		return err;
	if ((err = certs_info_load(path, &issuer)) != 0)
		return err == -ENOENT || err == -EACCES ? fail_ca_load("ca show", o, err)
							: fail_certs(path, err);
	if ((err = dir_path(path, sizeof(path), o->dir, CERTS_CA_BUNDLE)) != 0)
		return err;
	if ((err = certs_bundle_load(path, &b)) != 0)
		return err == -ENOENT || err == -EACCES ? fail_ca_load("ca show", o, err)
							: fail_certs(path, err);
	if (o->json) {
		printf("{\"trust_domain\": ");
		ctl_json_str_or_null(root.id[0] ? root.id + strlen("spiffe://") : NULL);
		printf(", \"directory\": ");
		ctl_json_str(o->dir);
		printf(",\n  \"root\": ");
		json_cert(&root, now);
		printf(",\n  \"root_key_online\": %s, \"issuer\": ",
		    ca_file(o->dir, CERTS_CA_ROOT_KEY) == 0 ? "true" : "false");
		json_cert(&issuer, now);
		printf(",\n  \"issuer_key_sealed\": %s, \"bundle\": [",
		    ca_file(o->dir, CERTS_CA_ISSUER_KEY_SEALED) == 0 ? "true" : "false");
		for (size_t i = 0, k = 0; i < certs_bundle_count(b); i++) {
			if (certs_bundle_info(b, i, &a) != 0)
				continue;
			printf("%s\n    ", k++ ? "," : "");
			json_cert(&a, now);
		}
		printf("],\n  \"warnings\": [");
		if (issuer.not_after - now < 7 * 86400)
			printf("\"the issuer expires in less than 7 days\"");
		if (root.not_after - now < 30 * 86400)
			printf("%s\"the root expires in less than 30 days\"",
			    issuer.not_after - now < 7 * 86400 ? ", " : "");
		printf("]}\n");
		certs_bundle_free(b);
		return CTL_OK;
	}

	printf("trust domain %s\n", root.id[0] ? root.id + strlen("spiffe://") : "(unknown)");
	printf("directory    %s\n\n", o->dir);
	print_cert("root  ", &root, now);
	if (dir_path(path, sizeof(path), o->dir, CERTS_CA_ROOT_KEY) == 0)
		printf("  key      %s\n", stat(path, &st) == 0 ? "online (root.key; move it offline)"
							 : "offline");
	printf("\n");
	print_cert("issuer", &issuer, now);
	printf("  key      %s\n\n",
	    dir_path(path, sizeof(path), o->dir, CERTS_CA_ISSUER_KEY_SEALED) == 0 &&
		    stat(path, &st) == 0
		? "sealed (issuer.key.sealed)"
		: "plain (issuer.key, mode 0600)");
	printf("bundle       %zu trust anchor%s\n", certs_bundle_count(b),
	    certs_bundle_count(b) == 1 ? "" : "s");
	for (size_t i = 0; i < certs_bundle_count(b); i++) {
		char na[32];

		if (certs_bundle_info(b, i, &a) != 0)
			continue;
		certs_time_format(a.not_after, na, sizeof(na));
		printf("  %.16s  %s  until %s%s\n", a.fingerprint, a.subject, na,
		    strcmp(a.fingerprint, root.fingerprint) == 0 ? "  (current root)" : "");
	}
	if (issuer.not_after - now < 7 * 86400)
		printf("\nwarning: the issuer expires in less than 7 days; run 'authctl ca rotate'\n");
	if (root.not_after - now < 30 * 86400)
		printf("\nwarning: the root expires in less than 30 days; run "
		       "'authctl ca rotate --new-root'\n");
	certs_bundle_free(b);
	return CTL_OK;
}

struct status_walk {
	int64_t now;
	int json;
	size_t n, expired, refused;
};

static int
status_svid(const struct workload *w, const struct workload_svid_status *st, void *arg)
{
	struct status_walk *sw = arg;
	char left[80], na[32];
	bool issued = st != NULL && st->not_after != 0;

	if (issued && st->not_after <= sw->now)
		sw->expired++;
	if (st != NULL && st->refused[0] != '\0')
		sw->refused++;
	if (sw->json) {
		printf("%s\n    {\"namespace\": ", sw->n ? "," : "");
		ctl_json_str(w->ns);
		printf(", \"name\": ");
		ctl_json_str(w->name);
		if (issued) {
			certs_time_format(st->not_after, na, sizeof(na));
			printf(", \"serial\": ");
			ctl_json_str(st->serial);
			printf(", \"not_after\": \"%s\", \"seconds_left\": %lld", na,
			    (long long)(st->not_after - sw->now));
		} else {
			printf(", \"serial\": null, \"not_after\": null, \"seconds_left\": null");
		}
		printf(", \"refused\": ");
		ctl_json_str_or_null(st != NULL ? st->refused : "");
		printf("}");
		sw->n++;
		return 0;
	}
	sw->n++;
	if (st != NULL && st->refused[0] != '\0') {
		printf("  %s/%-24s refused by authd: %s\n", w->ns, w->name, st->refused);
		return 0;
	}
	if (!issued) {
		printf("  %s/%-24s not issued yet\n", w->ns, w->name);
		return 0;
	}
	ctl_expiry_text(st->not_after, sw->now, left, sizeof(left));
	printf("  %s/%-24s serial %.16s  %s\n", w->ns, w->name, st->serial, left);
	return 0;
}

/* A warning: a "warning:" line, or (JSON) an element of "warnings" printed at the end. */
struct warnings {
	int json;
	size_t n;
	char text[8][200];
};

static void
warn_add(struct warnings *w, const char *fmt, ...) AD_PRINTF(2, 3);

static void
warn_add(struct warnings *w, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!w->json)
		printf("warning: %s\n", buf);
	else if (w->n < AD_ARRAY_LEN(w->text))
		memcpy(w->text[w->n], buf, sizeof(buf));
	w->n++;
}

/*
 * What an operator checks: how long the issuer and each trust anchor have
 * left, and every registered workload's SVID as the daemon last reported
 * it. Exit 1 when something needs attention, so it can drive an alert: a
 * store that is not there is one (a typo in --store must not read as "all
 * is well").
 */
static int
cmd_status(int argc, char **argv, struct ca_opts *o)
{
	struct certs_info issuer, a;
	struct certs_bundle *b = NULL;
	struct policy_store *st = NULL;
	struct status_walk sw = { .now = (int64_t)time(NULL), .json = o->json };
	struct warnings *wn = NULL;
	char path[PATH_MAX], left[80];
	const char *store = o->store;
	int err, rc = CTL_OK;

	if ((err = no_extra_args(argc, argv, "status")) != 0)
		return err;
	if ((err = dir_path(path, sizeof(path), o->dir, CERTS_CA_ISSUER_CRT)) != 0)
		return err;
	err = certs_info_load(path, &issuer);
	if (err == -ENOENT || err == -EACCES)
		return fail_ca_load("ca status", o, err);
	if (err != 0)
		return fail_certs(path, err);
	if ((err = dir_path(path, sizeof(path), o->dir, CERTS_CA_BUNDLE)) != 0)
		return err;
	if ((err = certs_bundle_load(path, &b)) != 0)
		return err == -ENOENT || err == -EACCES ? fail_ca_load("ca status", o, err)
							: fail_certs(path, err);
	if (store == NULL && ((store = getenv("AUTHD_POLICY_DB")) == NULL || *store == '\0'))
		store = CTL_POLICY_DB_DEFAULT;
	if ((wn = calloc(1, sizeof(*wn))) == NULL) {
		certs_bundle_free(b);
		return CTL_FAIL;
	}
	wn->json = o->json;
	if (o->json) {
		printf("{\"issuer\": ");
		json_cert(&issuer, sw.now);
		printf(",\n  \"anchors\": [");
	} else {
		ctl_expiry_text(issuer.not_after, sw.now, left, sizeof(left));
		printf("issuer   %.16s  %s\n", issuer.fingerprint, left);
	}
	if (issuer.not_after - sw.now < 7 * 86400)
		warn_add(wn, "the issuer has less than 7 days left; run 'authctl ca rotate'");
	for (size_t i = 0, k = 0; i < certs_bundle_count(b); i++) {
		if (certs_bundle_info(b, i, &a) != 0)
			continue;
		if (o->json) {
			printf("%s\n    ", k++ ? "," : "");
			json_cert(&a, sw.now);
		} else {
			ctl_expiry_text(a.not_after, sw.now, left, sizeof(left));
			printf("anchor   %.16s  %s\n", a.fingerprint, left);
		}
		if (a.not_after - sw.now < 30 * 86400)
			warn_add(wn, "trust anchor %.16s has less than 30 days left; run 'authctl ca "
			    "rotate --new-root', then remove it from the bundle", a.fingerprint);
	}
	certs_bundle_free(b);
	if (o->json) {
		printf("],\n  \"store\": ");
		ctl_json_str(store);
	}
	err = ctl_store_open(store, POLICY_OPEN_RDONLY, &st);
	if (err == POLICY_E_NO_STORE) {
		if (o->json)
			printf(", \"svids\": null");
		else
			printf("svids    none: no store at %s\n", store);
		warn_add(wn, "no store at %s: no workload SVIDs to check (--store or "
		    "$AUTHD_POLICY_DB names the daemon's store)", store);
	} else if (err != 0) {
		if (o->json)
			printf("}\n");
		ctl_err("ca status: %s: %s", store, policy_strerror(err));
		rc = CTL_FAIL;
		goto out;
	} else {
		if (o->json)
			printf(", \"svids\": [");
		else
			printf("svids    (registered workloads, as authd last reported them)\n");
		err = registry_list(st, status_svid, &sw);
		policy_store_close(st);
		if (o->json)
			printf("]");
		if (err != 0) {
			if (o->json)
				printf("}\n");
			ctl_err("ca status: %s: %s", store, policy_strerror(err));
			rc = CTL_FAIL;
			goto out;
		}
		if (sw.n == 0 && !o->json)
			printf("  none\n");
		if (sw.expired > 0)
			warn_add(wn, "%zu SVID%s expired: is authd running?", sw.expired,
			    sw.expired == 1 ? "" : "s");
		if (sw.refused > 0)
			warn_add(wn, "%zu workload%s refused by authd (the reason is in its line)",
			    sw.refused, sw.refused == 1 ? "" : "s");
	}
	if (o->json) {
		printf(",\n  \"warnings\": [");
		for (size_t i = 0; i < wn->n && i < AD_ARRAY_LEN(wn->text); i++) {
			printf("%s", i ? ", " : "");
			ctl_json_str(wn->text[i]);
		}
		printf("], \"ok\": %s}\n", wn->n == 0 ? "true" : "false");
	}
	rc = wn->n > 0 ? CTL_NO : CTL_OK;
out:
	free(wn);
	return rc;
}

static int
cmd_rotate(int argc, char **argv, struct ca_opts *o)
{
	struct certs_ca_params p;
	struct certs_info issuer;
	char path[PATH_MAX], na[32];
	int err;

	if ((err = no_extra_args(argc, argv, "rotate")) != 0)
		return err;
	if ((err = ca_params(o, &p)) != 0)
		return err;
	err = certs_ca_rotate(o->dir, o->new_root, &p);
	if (err == CERTS_E_SEAL_FORMAT || err == CERTS_E_NO_CA || err == -ENOENT ||
	    err == -EACCES)
		return fail_ca_load("ca rotate", o, err);
	if (err != 0)
		return fail_certs(o->dir, err);
	if ((err = dir_path(path, sizeof(path), o->dir, CERTS_CA_ISSUER_CRT)) != 0)
		return err;
	if ((err = certs_info_load(path, &issuer)) != 0)
		return fail_certs(path, err);
	certs_time_format(issuer.not_after, na, sizeof(na));
	printf("new issuer %s (serial %s) valid until %s\n", issuer.subject, issuer.serial, na);
	if (o->new_root)
		printf("new root added to %s/%s; remove the old anchor with 'authctl ca bundle "
		       "remove' once every SVID signed under it has expired\n",
		    o->dir, CERTS_CA_BUNDLE);
	return CTL_OK;
}

static int
bundle_write(const char *path, const struct certs_bundle *b)
{
	char *pem = NULL;
	size_t len = 0;
	int err = certs_bundle_write_pem(b, &pem, &len);

	if (err == 0)
		err = util_write_file_atomic(path, pem, len, 0644);
	free(pem);
	return err;
}

static int
cmd_bundle(int argc, char **argv, struct ca_opts *o)
{
	const char *action = optind < argc ? argv[optind] : "list";
	struct certs_bundle *b = NULL;
	struct certs_info root, a;
	char path[PATH_MAX], rootpath[PATH_MAX];
	uint8_t *data = NULL;
	size_t len = 0;
	int nargs = argc - optind - 1, err, rc = CTL_OK;

	if (o->bundle != NULL)
		err = util_snprintf(path, sizeof(path), "%s", o->bundle) == 0 ? 0 : CTL_USAGE;
	else
		err = dir_path(path, sizeof(path), o->dir, CERTS_CA_BUNDLE);
	if (err != 0)
		return CTL_USAGE;
	if (o->json && !(strcmp(action, "list") == 0 && nargs <= 0)) {
		ctl_err("ca bundle %s does not take -o/--output", action);
		return CTL_USAGE;
	}
	err = certs_bundle_load(path, &b);
	if (err != 0 && o->bundle == NULL && (err == -ENOENT || err == -EACCES))
		return fail_ca_load("ca bundle", o, err);
	if (err != 0)
		return fail_certs(path, err);

	if (strcmp(action, "list") == 0 && nargs <= 0 && o->json) {
		int64_t now = (int64_t)time(NULL);

		printf("[");
		for (size_t i = 0, k = 0; i < certs_bundle_count(b); i++) {
			if (certs_bundle_info(b, i, &a) != 0)
				continue;
			printf("%s\n  ", k++ ? "," : "");
			json_cert(&a, now);
		}
		printf("\n]\n");
	} else if (strcmp(action, "list") == 0 && nargs <= 0) {
		for (size_t i = 0; i < certs_bundle_count(b); i++) {
			char nb[32], na[32];

			if (certs_bundle_info(b, i, &a) != 0)
				continue;
			certs_time_format(a.not_before, nb, sizeof(nb));
			certs_time_format(a.not_after, na, sizeof(na));
			printf("%s  %s  %s  %s .. %s\n", a.fingerprint, a.id[0] ? a.id : "-",
			    a.subject, nb, na);
		}
	} else if (strcmp(action, "pem") == 0 && nargs == 0) {
		char *pem = NULL;

		if ((err = certs_bundle_write_pem(b, &pem, &len)) != 0) {
			rc = fail_certs("bundle", err);
		} else {
			fwrite(pem, 1, len, stdout);
			free(pem);
		}
	} else if (strcmp(action, "add") == 0 && nargs == 1) {
		const char *file = argv[optind + 1];

		err = util_read_file(file, CERTS_BUNDLE_MAX_BYTES, &data, &len);
		if (err != 0) {
			rc = fail_certs(file, err == -EFBIG ? CERTS_E_TOO_BIG : err);
		} else if ((err = certs_bundle_add(b, data, len)) != 0) {
			rc = fail_certs(file, err);
		} else if ((err = bundle_write(path, b)) != 0) {
			rc = fail_certs(path, err);
		} else {
			printf("added; the bundle now holds %zu anchors\n", certs_bundle_count(b));
		}
	} else if (strcmp(action, "remove") == 0 && nargs == 1) {
		const char *fp = argv[optind + 1];

		/* Removing the anchor that signs the current issuer breaks the node. */
		if (dir_path(rootpath, sizeof(rootpath), o->dir, CERTS_CA_ROOT_CRT) == 0 &&
		    o->bundle == NULL && certs_info_load(rootpath, &root) == 0 &&
		    strlen(fp) >= 8 && strncasecmp(root.fingerprint, fp, strlen(fp)) == 0) {
			rc = fail_certs(fp, CERTS_E_BUNDLE_IN_USE);
		} else if ((err = certs_bundle_remove(b, fp)) != 0) {
			if (err == CERTS_E_INVAL)
				ctl_err("%s: give at least 8 hex digits of one anchor's SHA-256 "
					"fingerprint ('authctl ca bundle list')", fp);
			rc = err == CERTS_E_INVAL ? CTL_USAGE : fail_certs(fp, err);
		} else if ((err = bundle_write(path, b)) != 0) {
			rc = fail_certs(path, err);
		} else {
			printf("removed; the bundle now holds %zu anchor%s\n", certs_bundle_count(b),
			    certs_bundle_count(b) == 1 ? "" : "s");
		}
	} else {
		ctl_err("ca bundle: expected 'list', 'pem', 'add FILE' or 'remove SHA256'");
		rc = CTL_USAGE;
	}
	free(data);
	certs_bundle_free(b);
	return rc;
}

static int
write_out(const char *dir, const char *file, const void *data, size_t len, unsigned mode)
{
	char path[PATH_MAX];
	int err;

	if ((err = dir_path(path, sizeof(path), dir, file)) != 0)
		return err;
	err = util_write_file_atomic(path, data, len, mode);
	if (err != 0) {
		ctl_err("%s: %s", path, strerror(-err));
		return CTL_FAIL;
	}
	return 0;
}

static int
cmd_issue(int argc, char **argv, struct ca_opts *o)
{
	struct certs_ca *ca = NULL;
	struct certs_svid *svid = NULL;
	struct certs_bundle *b = NULL;
	struct spiffe_id *id = NULL;
	char path[PATH_MAX], na[32], *chain = NULL, *key = NULL, *bpem = NULL;
	size_t chain_len = 0, key_len = 0, blen = 0, where = 0;
	uint32_t ttl;
	int err, rc = CTL_OK;

	if ((err = no_extra_args(argc, argv, "issue")) != 0)
		return err;
	if (o->id == NULL || o->out == NULL) {
		ctl_err("ca issue: --id SPIFFE-ID and --out DIR are required");
		return CTL_USAGE;
	}
	if ((err = ttl32("ttl", o->ttl, &ttl)) != 0)
		return err;
	if (ttl != 0 && (ttl < CERTS_SVID_TTL_MIN || ttl > CERTS_SVID_TTL_MAX)) {
		char lo[32], hi[32];

		duration_format(CERTS_SVID_TTL_MIN, lo, sizeof(lo));
		duration_format(CERTS_SVID_TTL_MAX, hi, sizeof(hi));
		ctl_err("ca issue: --ttl must be between %s and %s", lo, hi);
		return CTL_USAGE;
	}
	id = malloc(sizeof(*id));
	if (id == NULL)
		return CTL_FAIL;
	err = spiffe_id_parse_workload(o->id, strlen(o->id), id, &where);
	if (err != 0) {
		ctl_err("ca issue: --id '%s': %s (at byte %zu)", o->id, certs_strerror(err), where);
		rc = CTL_USAGE;
		goto out;
	}
	err = certs_ca_load(o->dir, o->have_seal_key ? o->seal_key : NULL, &ca);
	if (err != 0) {
		rc = fail_ca_load("ca issue", o, err);
		goto out;
	}
	err = certs_svid_new(ca, id, ttl, (int64_t)time(NULL), &svid);
	if (err == CERTS_E_FOREIGN_TD)
		ctl_err("ca issue: %s is not in trust domain %s", o->id, certs_ca_td(ca));
	if (err != 0) {
		rc = err == CERTS_E_FOREIGN_TD ? CTL_USAGE : fail_certs("issue", err);
		goto out;
	}
	if ((err = certs_svid_write_pem(svid, &chain, &chain_len, &key, &key_len)) != 0) {
		rc = fail_certs("issue", err);
		goto out;
	}
	if ((rc = dir_path(path, sizeof(path), o->dir, CERTS_CA_BUNDLE)) != 0)
		goto out;
	if ((err = certs_bundle_load(path, &b)) != 0 ||
	    (err = certs_bundle_write_pem(b, &bpem, &blen)) != 0) {
		rc = fail_certs(path, err);
		goto out;
	}
	if ((err = util_mkdir_p(o->out, 0700)) != 0) {
		ctl_err("%s: %s", o->out, strerror(-err));
		rc = CTL_FAIL;
		goto out;
	}
	if ((rc = write_out(o->out, "svid.key", key, key_len, 0600)) != 0 ||
	    (rc = write_out(o->out, "svid.pem", chain, chain_len, 0644)) != 0 ||
	    (rc = write_out(o->out, "bundle.pem", bpem, blen, 0644)) != 0)
		goto out;
	certs_time_format(certs_svid_not_after(svid), na, sizeof(na));
	printf("issued %s serial %s valid until %s\n", id->str, certs_svid_serial(svid), na);
	printf("wrote %s/svid.pem, %s/svid.key, %s/bundle.pem\n", o->out, o->out, o->out);
out:
	util_free_wiped(key, key_len);
	free(chain);
	free(bpem);
	free(id);
	certs_bundle_free(b);
	certs_svid_free(svid);
	certs_ca_free(ca);
	return rc;
}

static int
cmd_verify(int argc, char **argv, struct ca_opts *o)
{
	struct certs_bundle *b = NULL;
	struct certs_info anchor;
	struct spiffe_id *id = NULL;
	enum certs_role role = CERTS_ROLE_ANY;
	char path[PATH_MAX], td[SPIFFE_TD_MAX + 1];
	uint8_t *data = NULL;
	size_t len = 0, where = 0;
	int64_t now = (int64_t)time(NULL);
	int err, rc = CTL_OK;

	if ((err = no_extra_args(argc, argv, "verify")) != 0)
		return err;
	if (o->cert == NULL) {
		ctl_err("ca verify: --cert FILE is required");
		return CTL_USAGE;
	}
	if (o->role != NULL) {
		if (strcmp(o->role, "client") == 0)
			role = CERTS_ROLE_CLIENT;
		else if (strcmp(o->role, "server") == 0)
			role = CERTS_ROLE_SERVER;
		else if (strcmp(o->role, "any") != 0) {
			ctl_err("--role must be client, server or any");
			return CTL_USAGE;
		}
	}
	if (o->at != NULL && ctl_parse_time(o->at, &now) != 0) {
		ctl_err("--at %s: expected RFC 3339 UTC (2026-01-02T15:04:05Z) or UNIX seconds",
		    o->at);
		return CTL_USAGE;
	}
	if (o->bundle != NULL)
		err = util_snprintf(path, sizeof(path), "%s", o->bundle);
	else
		err = dir_path(path, sizeof(path), o->dir, CERTS_CA_BUNDLE);
	if (err != 0)
		return CTL_USAGE;
	if ((err = certs_bundle_load(path, &b)) != 0) {
		rc = fail_certs(path, err);
		goto out;
	}
	/* The trust domain: given, or the one the first anchor names. */
	if (o->td != NULL) {
		err = spiffe_td_parse(o->td, strlen(o->td), td, &where);
		if (err != 0) {
			ctl_err("--trust-domain '%s': %s", o->td, certs_strerror(err));
			rc = CTL_USAGE;
			goto out;
		}
	} else if (certs_bundle_info(b, 0, &anchor) == 0 &&
	    strncmp(anchor.id, "spiffe://", 9) == 0 &&
	    spiffe_td_parse(anchor.id + 9, strlen(anchor.id + 9), td, NULL) == 0) {
		/* td filled in */
	} else {
		ctl_err("ca verify: the bundle's anchors name no trust domain; pass --trust-domain");
		rc = CTL_USAGE;
		goto out;
	}
	err = util_read_file(o->cert, CERTS_CHAIN_MAX_BYTES, &data, &len);
	if (err != 0) {
		ctl_err("%s: %s", o->cert, err == -EFBIG ? "too large" : strerror(-err));
		rc = CTL_USAGE;
		goto out;
	}
	id = malloc(sizeof(*id));
	if (id == NULL) {
		rc = CTL_FAIL;
		goto out;
	}
	err = certs_verify_pem(b, td, data, len, now, role, id);
	if (err != 0) {
		printf("REJECTED %s: %s\n", certs_reason(err), certs_strerror(err));
		rc = CTL_NO;
		goto out;
	}
	printf("OK %s\n", id->str);
out:
	free(id);
	free(data);
	certs_bundle_free(b);
	return rc;
}

static int
cmd_seal_keygen(int argc, char **argv, struct ca_opts *o)
{
	int err;

	if ((err = no_extra_args(argc, argv, "seal-keygen")) != 0)
		return err;
	if (o->out == NULL) {
		ctl_err("ca seal-keygen: --out FILE is required");
		return CTL_USAGE;
	}
	err = certs_seal_keygen(o->out);
	if (err != 0) {
		ctl_err("%s: %s", o->out, err == -EEXIST ? "exists; refusing to overwrite a key"
							 : certs_strerror(err));
		return err == -EEXIST ? CTL_USAGE : CTL_FAIL;
	}
	printf("wrote a new seal key to %s (mode 0600); keep it apart from the CA directory\n",
	    o->out);
	return CTL_OK;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, struct ca_opts *o);
	const char *usage;
	bool output;		/* takes -o table|json */
} ca_cmds[] = {
	{ "init", cmd_init, U_INIT, false },
	{ "show", cmd_show, U_SHOW, true },
	{ "status", cmd_status, U_STATUS, true },
	{ "rotate", cmd_rotate, U_ROTATE, false },
	{ "bundle", cmd_bundle, U_BUNDLE, true },
	{ "issue", cmd_issue, U_ISSUE, false },
	{ "verify", cmd_verify, U_VERIFY, false },
	{ "seal-keygen", cmd_seal_keygen, U_SEAL_KEYGEN, false },
};

const char *const ctl_ca_subcommands[] = {
	"init", "show", "status", "rotate", "bundle list|pem|add|remove", "issue", "verify",
	"seal-keygen", NULL,
};

int
ctl_ca_main(int argc, char **argv)
{
	struct ca_opts o;
	int rc;

	if (ctl_wants_help(argc, argv)) {
		fputs(ca_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USAGE : CTL_OK;
	}
	for (size_t i = 0; i < AD_ARRAY_LEN(ca_cmds); i++) {
		if (strcmp(argv[1], ca_cmds[i].name) != 0)
			continue;
		rc = parse_opts(argc - 1, argv + 1, &o);
		if (rc == 0 && o.output != NULL && !ca_cmds[i].output) {
			ctl_err("ca %s does not take -o/--output", ca_cmds[i].name);
			rc = CTL_USAGE;
		} else if (rc == 0) {
			/* parse_opts counted from argv + 1; positional args follow optind. */
			rc = ca_cmds[i].fn(argc - 1, argv + 1, &o);
		} else if (rc < 0) {
			ctl_cmd_usage("ca", ca_cmds[i].usage, CA_COMMON);
			rc = CTL_OK;	/* --help */
		}
		util_wipe(o.seal_key, sizeof(o.seal_key));
		return rc;
	}
	ctl_err("ca: unknown subcommand '%s'", argv[1]);
	fputs(ca_usage, stderr);
	return CTL_USAGE;
}
