/*
 * ctl_policy.c: `authctl policy ...`: write and read the node's allow-list
 * in its LMDB file. Writes go straight to the file (LMDB lets the daemon
 * keep reading meanwhile); every write is one transaction.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authctl/ctl.h"
#include "common/duration.h"
#include "certs/error.h"
#include "certs/info.h"
#include "policy/policy.h"

#define POLICY_DB_DEFAULT CTL_POLICY_DB_DEFAULT

struct pol_opts {
	const char *db;
	const char *from;
	const char *to;
	const char *port;
	const char *expires;
	const char *comment;
	const char *file;
	const char *output;
	const char *key;
	const char *pub;		/* the first --pub */
	const char *pubs[POLICY_SIGNERS_MAX];	/* every --pub (require-signed takes several) */
	size_t npubs;
	const char *sig;
	const char *out;
	const char *at;
	long last;
	int dry_run;
	int64_t now;
	char who[160];
	unsigned given;		/* the P_* options on the command line */
};

/* Options, as bits: each subcommand says which it takes (pol_cmds). */
enum {
	P_FROM = 1 << 0, P_TO = 1 << 1, P_PORT = 1 << 2, P_EXPIRES = 1 << 3, P_COMMENT = 1 << 4,
	P_FILE = 1 << 5, P_OUTPUT = 1 << 6, P_DRY = 1 << 7, P_KEY = 1 << 8, P_PUB = 1 << 9,
	P_SIG = 1 << 10, P_OUT = 1 << 11, P_AT = 1 << 12, P_LAST = 1 << 13,
	P_PUBS = 1 << 14,	/* --pub more than once */
};
static const char *const p_names[] = {
	"--from", "--to", "--port", "--expires", "--comment", "-f/--file", "-o/--output",
	"--dry-run", "--key", "--pub", "--sig", "--out", "--at", "-n", "--pub twice",
};

enum { O_DB = 256, O_FROM, O_TO, O_PORT, O_EXPIRES, O_COMMENT, O_DRY, O_KEY, O_PUB, O_SIG,
	O_OUT, O_AT, O_HELP };

static const struct option pol_long_opts[] = {
	{ "db", required_argument, NULL, O_DB },
	{ "store", required_argument, NULL, O_DB },
	{ "from", required_argument, NULL, O_FROM },
	{ "to", required_argument, NULL, O_TO },
	{ "port", required_argument, NULL, O_PORT },
	{ "ports", required_argument, NULL, O_PORT },
	{ "expires", required_argument, NULL, O_EXPIRES },
	{ "comment", required_argument, NULL, O_COMMENT },
	{ "file", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "dry-run", no_argument, NULL, O_DRY },
	{ "key", required_argument, NULL, O_KEY },
	{ "pub", required_argument, NULL, O_PUB },
	{ "sig", required_argument, NULL, O_SIG },
	{ "out", required_argument, NULL, O_OUT },
	{ "at", required_argument, NULL, O_AT },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

#define POL_COMMON \
    "selectors: spiffe://TD/ns/NS/sa/SA (exact), spiffe://TD/ns/NS/* (namespace),\n" \
    "           spiffe://TD/* (trust domain), * (any authenticated peer; --from only)\n" \
    "common options:\n" \
    "  --store PATH  the node's store (also --db) (default $AUTHD_POLICY_DB or " \
    POLICY_DB_DEFAULT ")\n" \
    "environment: AUTHD_POLICY_MAP_SIZE (initial LMDB map, bytes), AUTHD_POLICY_MAP_MAX\n" \
    "  (the most the store grows to, bytes; default 64 GiB)\n"

/* Each subcommand's lines of the usage; pol_cmds pairs them with the code. */
#define U_ALLOW \
    "allow --from SEL --to SEL [--port P|A-B|P,Q|all] [--expires 2h|RFC3339] [--comment TEXT]\n"
#define U_REVOKE \
    "revoke ID | revoke --from SEL --to SEL   (every rule between the two; no --port)\n"
#define U_LIST "list [--from SEL] [--to SEL] [-o table|json]\n"
#define U_CHECK \
    "check --from ID --to ID --port P [--at TIME] [-o table|json]\n" \
    "        ALLOW and the rule (exit 0), AUDIT would-deny (exit 0), or DENY and why (exit 1)\n"
#define U_APPLY \
    "apply -f FILE [--dry-run] [--sig SIGFILE [--pub FILE]]\n" \
    "                                make the store hold exactly the rules in FILE\n" \
    "                                (signed: verified first; a bad signature writes nothing;\n" \
    "                                --pub may be left out where the store holds the keys)\n"
#define U_EXPORT "export [-o yaml|json]         the rules as an AllowList document apply accepts\n"
#define U_HISTORY \
    "history [-n N] [-o table|json] the last N writes (default 20): revision, time, who,\n" \
    "                                signed by, what\n"
#define U_AUDIT \
    "audit [-o table|json]         list destinations in audit mode\n" \
    "  audit --to SEL on|off         log would-be denials for SEL instead of denying\n"
#define U_REQUIRE \
    "require-signed                whether the store accepts only signed changes, and its keys\n" \
    "  require-signed --pub FILE [--pub FILE]... [--key SECRET]\n" \
    "                                accept only applies signed by these keys (up to 8);\n" \
    "                                allow, revoke and audit on|off are refused\n" \
    "  require-signed off --key SECRET\n" \
    "                                accept unsigned changes again; changing or removing\n" \
    "                                the keys needs the secret half of a current one\n"
#define U_KEYGEN "keygen --key FILE --pub FILE  an Ed25519 key pair for signed bundles\n"
#define U_BUNDLE \
    "bundle sign -f FILE --key FILE [--out SIGFILE]\n" \
    "  bundle verify -f FILE --pub FILE --sig SIGFILE\n"
#define U_VERIFY_DB "verify-db                     check the store's internal consistency\n"

static const char pol_usage[] =
    "usage: authctl policy SUBCOMMAND [OPTIONS]\n"
    "\n"
    "  " U_ALLOW "  " U_REVOKE "  " U_LIST "  " U_CHECK "  " U_APPLY "  " U_EXPORT
    "  " U_HISTORY "  " U_AUDIT "  " U_REQUIRE "  " U_KEYGEN "  " U_BUNDLE "  " U_VERIFY_DB
    "\n" POL_COMMON
    "'authctl policy SUBCOMMAND --help' shows one subcommand.\n";

static int
fail_policy(const char *what, int err)
{
	ctl_err("%s: %s", what, policy_strerror(err));
	switch (err) {
	case POLICY_E_SELECTOR:
	case POLICY_E_PORT:
	case POLICY_E_FILE:
	case POLICY_E_INVAL:
	case POLICY_E_EXPIRED:
	case POLICY_E_COMMENT:
	case POLICY_E_TOO_BIG:
	case POLICY_E_KEY:
		return CTL_USAGE;
	case POLICY_E_NOT_FOUND:
	case POLICY_E_SIGNATURE:
	case POLICY_E_UNSIGNED:
		return CTL_NO;
	default:
		if (err <= CERTS_E_ID_EMPTY && err >= CERTS_E_ID_NO_PATH)
			return CTL_USAGE;
		return CTL_FAIL;
	}
}

static int
parse_opts(int argc, char **argv, struct pol_opts *o)
{
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->db = getenv("AUTHD_POLICY_DB");
	if (o->db == NULL || *o->db == '\0')
		o->db = POLICY_DB_DEFAULT;
	o->last = 20;
	o->now = (int64_t)time(NULL);
	ctl_who(o->who, sizeof(o->who));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hf:o:n:", pol_long_opts, NULL)) != -1) {
		switch (c) {
		case O_DB: o->db = optarg; break;
		case O_FROM: o->from = optarg; o->given |= P_FROM; break;
		case O_TO: o->to = optarg; o->given |= P_TO; break;
		case O_PORT: o->port = optarg; o->given |= P_PORT; break;
		case O_EXPIRES: o->expires = optarg; o->given |= P_EXPIRES; break;
		case O_COMMENT: o->comment = optarg; o->given |= P_COMMENT; break;
		case O_DRY: o->dry_run = 1; o->given |= P_DRY; break;
		case O_KEY: o->key = optarg; o->given |= P_KEY; break;
		case O_PUB:
			if (o->npubs == POLICY_SIGNERS_MAX) {
				ctl_err("--pub: at most %d keys", POLICY_SIGNERS_MAX);
				return CTL_USAGE;
			}
			if (o->npubs > 0)
				o->given |= P_PUBS;
			else
				o->pub = optarg;
			o->pubs[o->npubs++] = optarg;
			o->given |= P_PUB;
			break;
		case O_SIG: o->sig = optarg; o->given |= P_SIG; break;
		case O_OUT: o->out = optarg; o->given |= P_OUT; break;
		case O_AT: o->at = optarg; o->given |= P_AT; break;
		case 'f': o->file = optarg; o->given |= P_FILE; break;
		case 'o': o->output = optarg; o->given |= P_OUTPUT; break;
		case 'n':
			o->given |= P_LAST;
			errno = 0;
			o->last = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || o->last < 0) {
				ctl_err("-n %s: expected a count (0 for all)", optarg);
				return CTL_USAGE;
			}
			break;
		case 'h':
		case O_HELP:
			return -1;
		default:
			ctl_err("policy %s: unknown or incomplete option '%s'", argv[0],
			    argv[optind - 1]);
			return CTL_USAGE;
		}
	}
	if (o->at != NULL && ctl_parse_time(o->at, &o->now) != 0) {
		ctl_err("--at %s: expected RFC 3339 UTC (2026-01-02T15:04:05Z) or UNIX seconds",
		    o->at);
		return CTL_USAGE;
	}
	return 0;
}

static int
open_store(const struct pol_opts *o, bool write, struct policy_store **s)
{
	int err = ctl_store_open(o->db, write ? POLICY_OPEN_CREATE : POLICY_OPEN_RDONLY, s);

	if (err == POLICY_E_NO_STORE) {
		ctl_err("%s: no policy store there (write a rule with 'authctl policy allow' or "
			"'apply' to create one; --db or $AUTHD_POLICY_DB name another)", o->db);
		return CTL_FAIL;
	}
	if (err == POLICY_E_CORRUPT) {
		ctl_err("%s: not an authd policy store, or damaged (refusing to touch it)", o->db);
		return CTL_FAIL;
	}
	return err != 0 ? fail_policy(o->db, err) : 0;
}

static int
selector_opt(const char *name, const char *s, enum policy_side side, struct policy_selector *sel)
{
	const char *why = NULL;
	int err = policy_selector_parse(s, strlen(s), side, sel, &why);

	if (err != 0) {
		ctl_err("--%s '%s': %s", name, s, why != NULL ? why : policy_strerror(err));
		return CTL_USAGE;
	}
	return 0;
}

/* "2h" from now, or an absolute RFC 3339 time. */
static int
expires_opt(const struct pol_opts *o, int64_t *out)
{
	uint64_t secs;

	if (duration_parse(o->expires, &secs) == 0) {
		*out = o->now + (int64_t)secs;
		return 0;
	}
	if (ctl_parse_time(o->expires, out) == 0 && strchr(o->expires, 'T') != NULL) {
		if (*out <= o->now) {
			ctl_err("--expires %s: that time has passed", o->expires);
			return CTL_USAGE;
		}
		return 0;
	}
	ctl_err("--expires %s: expected a duration (2h, 30m, 7d) or RFC 3339 UTC time", o->expires);
	return CTL_USAGE;
}

static int
no_extra(int argc, char **argv, const char *sub)
{
	if (optind < argc) {
		ctl_err("policy %s: unexpected argument '%s'", sub, argv[optind]);
		return CTL_USAGE;
	}
	return 0;
}

static void
print_rule_line(const struct policy_rule *r)
{
	char ports[POLICY_PORTS_FMT_MAX], exp[32] = "never";

	policy_ports_format(&r->ports, ports, sizeof(ports));
	if (r->expires != 0)
		certs_time_format(r->expires, exp, sizeof(exp));
	printf("#%" PRIu64 " from %s to %s ports %s expires %s%s%s%s\n", r->id, r->from.str,
	    r->to.str, ports, exp, r->comment[0] ? " (\"" : "", r->comment,
	    r->comment[0] ? "\")" : "");
}

static int
cmd_allow(int argc, char **argv, struct pol_opts *o)
{
	struct policy_rule *r = NULL;
	struct policy_store *s = NULL;
	struct policy_actor a = { .who = o->who, .now = o->now };
	const char *why = NULL;
	int err, rc;

	if ((rc = no_extra(argc, argv, "allow")) != 0)
		return rc;
	if (o->from == NULL || o->to == NULL) {
		ctl_err("policy allow: --from and --to are required");
		return CTL_USAGE;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return CTL_FAIL;
	if ((rc = selector_opt("from", o->from, POLICY_FROM, &r->from)) != 0 ||
	    (rc = selector_opt("to", o->to, POLICY_TO, &r->to)) != 0)
		goto out;
	err = policy_ports_parse(o->port ? o->port : "all", strlen(o->port ? o->port : "all"),
	    &r->ports, &why);
	if (err != 0) {
		ctl_err("--port '%s': %s", o->port, why ? why : policy_strerror(err));
		rc = CTL_USAGE;
		goto out;
	}
	if (o->expires != NULL && (rc = expires_opt(o, &r->expires)) != 0)
		goto out;
	if (o->comment != NULL) {
		if (policy_comment_check(o->comment, strlen(o->comment)) != 0) {
			ctl_err("--comment: %s", policy_strerror(POLICY_E_COMMENT));
			rc = CTL_USAGE;
			goto out;
		}
		memcpy(r->comment, o->comment, strlen(o->comment) + 1);
	}
	if ((rc = open_store(o, true, &s)) != 0)
		goto out;
	err = policy_add(s, r, &a);
	if (err != 0) {
		rc = fail_policy("allow", err);
		goto out;
	}
	printf("allowed ");
	print_rule_line(r);
out:
	policy_store_close(s);
	free(r);
	return rc;
}

static int
parse_id(const char *s, uint64_t *id)
{
	char *end;

	if (*s == '#')
		s++;
	errno = 0;
	*id = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *s != '\0' && *id != 0 ? 0 : -EINVAL;
}

static int
cmd_revoke(int argc, char **argv, struct pol_opts *o)
{
	struct policy_store *s = NULL;
	struct policy_selector *sel = NULL;
	struct policy_actor a = { .who = o->who, .now = o->now };
	uint64_t id = 0;
	size_t n = 0;
	int err, rc;

	if (optind < argc) {
		if (argc - optind != 1 || o->from != NULL || o->to != NULL ||
		    parse_id(argv[optind], &id) != 0) {
			ctl_err("policy revoke: give one rule id (as 'list' shows), or --from and --to");
			return CTL_USAGE;
		}
	} else if (o->from == NULL || o->to == NULL) {
		ctl_err("policy revoke: give a rule id, or --from SEL --to SEL");
		return CTL_USAGE;
	}
	if (id == 0) {
		sel = calloc(2, sizeof(*sel));
		if (sel == NULL)
			return CTL_FAIL;
		if ((rc = selector_opt("from", o->from, POLICY_FROM, &sel[0])) != 0 ||
		    (rc = selector_opt("to", o->to, POLICY_TO, &sel[1])) != 0)
			goto out;
	}
	if ((rc = open_store(o, true, &s)) != 0)
		goto out;
	err = id != 0 ? policy_revoke(s, id, &a) : policy_revoke_match(s, &sel[0], &sel[1], &n, &a);
	if (err == POLICY_E_NOT_FOUND) {
		if (id != 0)
			ctl_err("policy revoke: no rule #%" PRIu64, id);
		else
			ctl_err("policy revoke: no rule from %s to %s", sel[0].str, sel[1].str);
		rc = CTL_NO;
		goto out;
	}
	if (err != 0) {
		rc = fail_policy("revoke", err);
		goto out;
	}
	if (id != 0)
		printf("revoked #%" PRIu64 "\n", id);
	else
		printf("revoked %zu rule%s from %s to %s\n", n, n == 1 ? "" : "s", sel[0].str,
		    sel[1].str);
out:
	policy_store_close(s);
	free(sel);
	return rc;
}

/* A JSON string, which is also a YAML double-quoted one (export prints both). */
#define print_quoted ctl_json_str

/* A rule as a JSON object (list, check). */
static void
json_rule(const struct policy_rule *r, int64_t now)
{
	char ports[POLICY_PORTS_FMT_MAX], exp[32];

	policy_ports_format(&r->ports, ports, sizeof(ports));
	printf("{\"id\": %" PRIu64 ", \"from\": ", r->id);
	ctl_json_str(r->from.str);
	printf(", \"to\": ");
	ctl_json_str(r->to.str);
	printf(", \"ports\": ");
	ctl_json_str(ports);
	printf(", \"expires\": ");
	if (r->expires != 0) {
		certs_time_format(r->expires, exp, sizeof(exp));
		ctl_json_str(exp);
	} else {
		printf("null");
	}
	printf(", \"expired\": %s, \"comment\": ",
	    r->expires != 0 && r->expires <= now ? "true" : "false");
	ctl_json_str(r->comment);
	printf("}");
}

struct list_state {
	int json;
	size_t n;
	int64_t now;
};

static int
list_cb(const struct policy_rule *r, void *arg)
{
	struct list_state *st = arg;
	char ports[POLICY_PORTS_FMT_MAX], exp[32] = "never";

	policy_ports_format(&r->ports, ports, sizeof(ports));
	if (r->expires != 0)
		certs_time_format(r->expires, exp, sizeof(exp));
	if (st->json) {
		printf("%s\n  ", st->n ? "," : "");
		json_rule(r, st->now);
	} else {
		if (st->n == 0)
			printf("%-6s %-44s %-44s %-12s %-21s %s\n", "ID", "FROM", "TO", "PORTS",
			    "EXPIRES", "COMMENT");
		printf("%-6" PRIu64 " %-44s %-44s %-12s %-21s %s%s\n", r->id, r->from.str, r->to.str,
		    ports, exp, r->expires != 0 && r->expires <= st->now ? "(expired) " : "",
		    r->comment);
	}
	st->n++;
	return 0;
}

static int
cmd_list(int argc, char **argv, struct pol_opts *o)
{
	struct policy_store *s = NULL;
	struct policy_selector *sel = NULL;
	struct list_state st = { 0, 0, o->now };
	int err, rc;

	if ((rc = no_extra(argc, argv, "list")) != 0)
		return rc;
	if ((st.json = ctl_output_json(o->output)) < 0)
		return CTL_USAGE;
	sel = calloc(2, sizeof(*sel));
	if (sel == NULL)
		return CTL_FAIL;
	if ((o->from != NULL && (rc = selector_opt("from", o->from, POLICY_FROM, &sel[0])) != 0) ||
	    (o->to != NULL && (rc = selector_opt("to", o->to, POLICY_TO, &sel[1])) != 0))
		goto out;
	if ((rc = open_store(o, false, &s)) != 0)
		goto out;
	if (st.json)
		printf("[");
	err = policy_list(s, o->from ? &sel[0] : NULL, o->to ? &sel[1] : NULL, list_cb, &st);
	if (st.json)
		printf("%s]\n", st.n ? "\n" : "");
	else if (err == 0 && st.n == 0)
		printf("no rules: everything is denied\n");
	if (err != 0)
		rc = fail_policy("list", err);
out:
	policy_store_close(s);
	free(sel);
	return rc;
}

static int
id_opt(const char *name, const char *s, struct spiffe_id *id)
{
	size_t where = 0;
	int err = spiffe_id_parse_workload(s, strlen(s), id, &where);

	if (err != 0) {
		ctl_err("--%s '%s': %s (at byte %zu)", name, s, certs_strerror(err), where);
		return CTL_USAGE;
	}
	return 0;
}

static int
cmd_check(int argc, char **argv, struct pol_opts *o)
{
	struct policy_store *s = NULL;
	struct policy_reader *rd = NULL;
	struct spiffe_id *ids = NULL;
	struct policy_rule *rule = NULL;
	struct policy_decision d;
	char *end;
	unsigned long port;
	int err, rc, json;

	if ((rc = no_extra(argc, argv, "check")) != 0)
		return rc;
	if ((json = ctl_output_json(o->output)) < 0)
		return CTL_USAGE;
	if (o->from == NULL || o->to == NULL || o->port == NULL) {
		ctl_err("policy check: --from ID --to ID --port P are required");
		return CTL_USAGE;
	}
	errno = 0;
	port = strtoul(o->port, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535 || o->port[0] == '-') {
		ctl_err("--port '%s': a port is a number from 1 to 65535", o->port);
		return CTL_USAGE;
	}
	ids = calloc(2, sizeof(*ids));
	rule = calloc(1, sizeof(*rule));
	if (ids == NULL || rule == NULL) {
		rc = CTL_FAIL;
		goto out;
	}
	if ((rc = id_opt("from", o->from, &ids[0])) != 0 || (rc = id_opt("to", o->to, &ids[1])) != 0)
		goto out;
	if ((rc = open_store(o, false, &s)) != 0)
		goto out;
	if ((err = policy_reader_new(s, &rd)) != 0 ||
	    (err = policy_check(rd, &ids[0], &ids[1], (uint16_t)port, o->now, &d)) != 0) {
		rc = fail_policy("check", err);
		goto out;
	}
	if (d.rule_id == 0 || policy_get(s, d.rule_id, rule) != 0)
		memset(rule, 0, sizeof(*rule));
	if (json) {
		printf("{\"verdict\": \"%s\", \"reason\": \"%s\", \"from\": ",
		    policy_verdict_name(d.verdict), policy_reason_name(d.reason));
		ctl_json_str(ids[0].str);
		printf(", \"to\": ");
		ctl_json_str(ids[1].str);
		printf(", \"port\": %lu, \"at\": %" PRId64 ", \"revision\": %" PRIu64
		       ", \"rule\": ", port, o->now, d.revision);
		if (rule->id != 0)
			json_rule(rule, o->now);
		else
			printf("null");
		printf("}\n");
		rc = d.verdict == POLICY_DENY ? CTL_NO : CTL_OK;
		goto out;
	}
	if (d.verdict == POLICY_ALLOW) {
		printf("ALLOW %s -> %s :%lu by rule ", ids[0].str, ids[1].str, port);
		print_rule_line(rule);
		rc = CTL_OK;
		goto out;
	}
	printf("%s %s -> %s :%lu: ", d.verdict == POLICY_AUDIT ? "AUDIT (would deny; audit mode "
	    "lets it pass)" : "DENY", ids[0].str, ids[1].str, port);
	switch (d.reason) {
	case POLICY_R_PORT:
		printf("rules allow this source and destination on other ports only, e.g. ");
		print_rule_line(rule);
		break;
	case POLICY_R_EXPIRED:
		printf("the rule that allowed it has expired: ");
		print_rule_line(rule);
		break;
	default:
		printf("no rule allows it (policy revision %" PRIu64 ")\n", d.revision);
		break;
	}
	rc = d.verdict == POLICY_AUDIT ? CTL_OK : CTL_NO;
out:
	policy_reader_free(rd);
	policy_store_close(s);
	free(ids);
	free(rule);
	return rc;
}

/* What apply prints: every change for a dry run, the first few otherwise. */
struct change_print {
	int dry;
	size_t shown;
	size_t hidden;
};

#define APPLY_SHOW_MAX 20

static void
change_cb(const struct policy_change *c, void *arg)
{
	struct change_print *cp = arg;
	const int *dry = &cp->dry;

	if (!cp->dry && cp->shown >= APPLY_SHOW_MAX) {
		cp->hidden++;
		return;
	}
	cp->shown++;
	switch (c->op) {
	case POLICY_CHANGE_ADD:
		printf("%s+ ", *dry ? "would add    " : "added   ");
		print_rule_line(c->rule);
		break;
	case POLICY_CHANGE_REMOVE:
		printf("%s- ", *dry ? "would remove " : "removed ");
		print_rule_line(c->rule);
		break;
	case POLICY_CHANGE_AUDIT_ON:
		printf("%s+ audit %s\n", *dry ? "would add    " : "added   ", c->to->str);
		break;
	case POLICY_CHANGE_AUDIT_OFF:
		printf("%s- audit %s\n", *dry ? "would remove " : "removed ", c->to->str);
		break;
	}
}

static int
read_set(const char *file, struct policy_set *set, uint8_t **data, size_t *len)
{
	char err[512];
	int e;

	e = util_read_file(file, POLICY_FILE_MAX_BYTES, data, len);
	if (e != 0) {
		ctl_err("%s: %s", file, e == -EFBIG ? "larger than allowed" : strerror(-e));
		return CTL_USAGE;
	}
	e = policy_set_parse(*data, *len, set, err, sizeof(err));
	if (e != 0) {
		ctl_err("%s: %s", file, err);
		return CTL_USAGE;
	}
	return 0;
}

/* The signature file named by --sig, read whole (base64 text). */
static int
read_sig(const char *path, uint8_t **sig, size_t *len)
{
	int err = util_read_file(path, 4096, sig, len);

	if (err != 0) {
		ctl_err("%s: %s", path, err == -EFBIG ? "too large for a signature" : strerror(-err));
		return CTL_USAGE;
	}
	return 0;
}

/* A --pub file's key. */
static int
read_pub(const char *path, uint8_t pub[static POLICY_PUBKEY_LEN])
{
	int err = policy_pubkey_read(path, pub);

	if (err == 0)
		return 0;
	if (err < 0 && err > -1000) {
		ctl_err("%s: %s", path, strerror(-err));
		return CTL_USAGE;
	}
	return fail_policy(path, err);
}

/*
 * Whether set (read from o->file) carries a good signature sig: by the key
 * in pub, or (pub NULL) by one of keys, the store's. Returns CTL_OK, CTL_NO
 * (a bad signature, said on stdout) or another exit code with the reason
 * on stderr.
 */
static int
check_signature(const struct pol_opts *o, const struct policy_set *set, const uint8_t *sig,
    size_t slen, const uint8_t *pub, const struct policy_signers *keys)
{
	char *canon = NULL;
	size_t clen = 0;
	int err, rc = CTL_OK;

	if ((err = policy_set_canonical(set, &canon, &clen)) != 0)
		return fail_policy("bundle", err);
	err = POLICY_E_SIGNATURE;
	if (pub != NULL) {
		err = policy_verify_key(pub, (const uint8_t *)canon, clen, (const char *)sig, slen);
	} else {
		for (size_t i = 0; i < keys->n && err == POLICY_E_SIGNATURE; i++)
			err = policy_verify_key(keys->key[i], (const uint8_t *)canon, clen,
			    (const char *)sig, slen);
	}
	if (err == POLICY_E_SIGNATURE) {
		if (pub != NULL)
			printf("BAD SIGNATURE: %s was not signed by the key in %s, or has changed "
			       "since\n", o->file, o->pub);
		else
			printf("BAD SIGNATURE: %s was not signed by a key this store accepts, or has "
			       "changed since ('authctl policy require-signed' lists them)\n", o->file);
		rc = CTL_NO;
	} else if (err != 0) {
		rc = fail_policy(o->pub != NULL ? o->pub : "signature", err);
	}
	free(canon);
	return rc;
}

/* The store's keys, when it has any (a missing store has none). */
static int
store_signers(const struct pol_opts *o, struct policy_signers *keys)
{
	struct policy_store *s = NULL;
	int err = ctl_store_open(o->db, POLICY_OPEN_RDONLY, &s), rc;

	memset(keys, 0, sizeof(*keys));
	if (err == POLICY_E_NO_STORE)
		return 0;
	if (err != 0)
		return open_store(o, false, &s);
	err = policy_signers_get(s, keys);
	rc = err != 0 ? fail_policy(o->db, err) : 0;
	policy_store_close(s);
	return rc;
}

static int
cmd_apply(int argc, char **argv, struct pol_opts *o)
{
	struct policy_set set;
	struct policy_store *s = NULL;
	struct policy_actor a = { .who = o->who, .now = o->now };
	struct change_print cp = { o->dry_run, 0, 0 };
	struct policy_signers *keys = NULL;
	uint8_t *data = NULL, *sig = NULL, pub[POLICY_PUBKEY_LEN];
	size_t len = 0, slen = 0, changes = 0;
	int err, rc;

	memset(&set, 0, sizeof(set));
	if ((rc = no_extra(argc, argv, "apply")) != 0)
		return rc;
	if (o->file == NULL) {
		ctl_err("policy apply: -f FILE is required");
		return CTL_USAGE;
	}
	if (o->pub != NULL && o->sig == NULL) {
		ctl_err("policy apply: --pub FILE needs --sig SIGFILE");
		return CTL_USAGE;
	}
	if ((keys = calloc(1, sizeof(*keys))) == NULL)
		return CTL_FAIL;
	if ((rc = read_set(o->file, &set, &data, &len)) != 0)
		goto out;
	/* A signed apply is verified before anything is opened for writing. */
	if (o->sig != NULL) {
		if ((rc = read_sig(o->sig, &sig, &slen)) != 0 ||
		    (o->pub != NULL && (rc = read_pub(o->pub, pub)) != 0) ||
		    (o->pub == NULL && (rc = store_signers(o, keys)) != 0))
			goto out;
		if (o->pub == NULL && keys->n == 0) {
			ctl_err("policy apply: --sig without --pub: %s holds no keys of its own "
			    "('policy require-signed'); give --pub FILE", o->db);
			rc = CTL_USAGE;
			goto out;
		}
		rc = check_signature(o, &set, sig, slen, o->pub != NULL ? pub : NULL, keys);
		if (rc != CTL_OK) {
			ctl_err("policy apply: %s not applied; the store is unchanged", o->file);
			goto out;
		}
		a.sig = (const char *)sig;
		a.siglen = slen;
		a.pub = o->pub != NULL ? pub : NULL;
	}
	for (size_t i = 0; i < set.n; i++) {
		if (set.rules[i].expires != 0 && set.rules[i].expires <= o->now) {
			ctl_err("%s: spec.rules[%zu].expires: that time has passed", o->file, i);
			rc = CTL_USAGE;
			goto out;
		}
	}
	err = ctl_store_open(o->db, o->dry_run ? POLICY_OPEN_RDONLY : POLICY_OPEN_CREATE, &s);
	if (err == POLICY_E_NO_STORE && o->dry_run) {
		/* Nothing stored yet: every rule would be added. */
		for (size_t i = 0; i < set.n; i++) {
			struct policy_change c = { POLICY_CHANGE_ADD, &set.rules[i], NULL };

			change_cb(&c, &cp);
		}
		printf("dry run: %zu change%s, nothing written\n", set.n + set.naudit,
		    set.n + set.naudit == 1 ? "" : "s");
		goto out;
	}
	if (err == 0 && o->dry_run) {
		/* Dry runs diff in a write transaction that is never committed. */
		policy_store_close(s);
		s = NULL;
		err = ctl_store_open(o->db, 0, &s);
	}
	if (err != 0) {
		rc = err == POLICY_E_CORRUPT || err == POLICY_E_NO_STORE ? open_store(o, true, &s)
									: fail_policy(o->db, err);
		goto out;
	}
	err = policy_apply(s, set.rules, set.n, set.audit, set.naudit, o->dry_run, change_cb,
	    &cp, &changes, &a);
	if (err == POLICY_E_SIGNATURE) {
		/* Good under --pub, but that is not a key this store accepts. */
		printf("BAD SIGNATURE: %s is signed by the key in %s, which this store does not "
		       "accept ('authctl policy require-signed' lists the ones it does)\n", o->file,
		    o->pub != NULL ? o->pub : "--pub");
		ctl_err("policy apply: %s not applied; the store is unchanged", o->file);
		rc = CTL_NO;
		goto out;
	}
	if (err != 0) {
		rc = fail_policy("apply", err);
		if (err == POLICY_E_UNSIGNED)
			ctl_err("policy apply: %s not applied; the store is unchanged", o->file);
		goto out;
	}
	if (cp.hidden > 0)
		printf("... and %zu more (see 'authctl policy history' and 'list')\n", cp.hidden);
	if (o->dry_run)
		printf("dry run: %zu change%s, nothing written\n", changes, changes == 1 ? "" : "s");
	else if (changes == 0)
		printf("unchanged: the store already holds exactly these %zu rules\n", set.n);
	else
		printf("applied %zu change%s%s; the store holds %zu rules\n", changes,
		    changes == 1 ? "" : "s", a.sig != NULL ? " (signed)" : "", set.n);
out:
	policy_set_free(&set);
	policy_store_close(s);
	free(data);
	free(sig);
	free(keys);
	return rc;
}

struct export_state {
	int json;
	size_t n;
};

static int
export_rule_cb(const struct policy_rule *r, void *arg)
{
	struct export_state *st = arg;
	char ports[POLICY_PORTS_FMT_MAX], exp[32];

	policy_ports_format(&r->ports, ports, sizeof(ports));
	if (st->json) {
		printf("%s\n      {\"from\": ", st->n ? "," : "");
		print_quoted(r->from.str);
		printf(", \"to\": ");
		print_quoted(r->to.str);
		printf(", \"ports\": \"%s\"", ports);
	} else {
		printf("    - from: ");
		print_quoted(r->from.str);
		printf("\n      to: ");
		print_quoted(r->to.str);
		printf("\n      ports: \"%s\"", ports);
	}
	if (r->expires != 0) {
		certs_time_format(r->expires, exp, sizeof(exp));
		printf(st->json ? ", \"expires\": \"%s\"" : "\n      expires: \"%s\"", exp);
	}
	if (r->comment[0] != '\0') {
		printf(st->json ? ", \"comment\": " : "\n      comment: ");
		print_quoted(r->comment);
	}
	printf(st->json ? "}" : "\n");
	st->n++;
	return 0;
}

static int
export_audit_cb(const struct policy_selector *to, void *arg)
{
	struct export_state *st = arg;

	printf(st->json ? "%s" : "    - ", st->json && st->n ? ", " : "");
	print_quoted(to->str);
	printf(st->json ? "" : "\n");
	st->n++;
	return 0;
}

static int
cmd_export(int argc, char **argv, struct pol_opts *o)
{
	struct policy_store *s = NULL;
	struct export_state st = { 0, 0 };
	uint64_t rev = 0;
	int err, rc;

	if ((rc = no_extra(argc, argv, "export")) != 0)
		return rc;
	if (o->output != NULL && strcmp(o->output, "yaml") != 0 && strcmp(o->output, "json") != 0) {
		ctl_err("-o %s: expected yaml or json", o->output);
		return CTL_USAGE;
	}
	st.json = o->output != NULL && strcmp(o->output, "json") == 0;
	if ((rc = open_store(o, false, &s)) != 0)
		return rc;
	if ((err = policy_store_revision(s, &rev)) != 0)
		goto fail;
	if (st.json)
		printf("{\"apiVersion\": \"authd.io/v1\", \"kind\": \"AllowList\",\n"
		       "  \"metadata\": {\"name\": \"exported\", \"annotations\": "
		       "{\"authd.io/revision\": \"%" PRIu64 "\"}},\n  \"spec\": {\"audit\": [",
		    rev);
	else
		printf("apiVersion: authd.io/v1\nkind: AllowList\nmetadata:\n  name: exported\n"
		       "  annotations:\n    authd.io/revision: \"%" PRIu64 "\"\nspec:\n  audit:\n",
		    rev);
	if ((err = policy_audit_list(s, export_audit_cb, &st)) != 0)
		goto fail;
	if (!st.json && st.n == 0)
		printf("    []\n");
	st.n = 0;
	printf(st.json ? "],\n    \"rules\": [" : "  rules:\n");
	if ((err = policy_list(s, NULL, NULL, export_rule_cb, &st)) != 0)
		goto fail;
	if (st.json)
		printf("%s]}}\n", st.n ? "\n    " : "");
	else if (st.n == 0)
		printf("    []\n");
	policy_store_close(s);
	return CTL_OK;
fail:
	policy_store_close(s);
	return fail_policy("export", err);
}

struct history_state {
	int json;
	size_t n;
};

static int
history_cb(const struct policy_history *h, void *arg)
{
	struct history_state *st = arg;
	char t[32], key[POLICY_PUBKEY_B64_LEN + 1] = "";

	certs_time_format(h->time, t, sizeof(t));
	if (h->is_signed)
		policy_pubkey_format(h->signer, key);
	if (st->json) {
		printf("%s\n    {\"revision\": %" PRIu64 ", \"time\": \"%s\", \"who\": ",
		    st->n ? "," : "", h->revision, t);
		ctl_json_str(h->who);
		printf(", \"what\": ");
		ctl_json_str(h->what);
		printf(", \"signed\": %s, \"signer\": ", h->is_signed ? "true" : "false");
		ctl_json_str_or_null(key);
		printf("}");
	} else {
		/* The first characters of the key name it among a store's few. */
		printf("%-6" PRIu64 " %s  %-24s %-9.8s %s\n", h->revision, t, h->who,
		    h->is_signed ? key : "-", h->what);
	}
	st->n++;
	return 0;
}

static int
cmd_history(int argc, char **argv, struct pol_opts *o)
{
	struct policy_store *s = NULL;
	struct policy_signers keys;
	struct history_state st = { 0, 0 };
	char b64[POLICY_PUBKEY_B64_LEN + 1];
	int err, rc;

	if ((rc = no_extra(argc, argv, "history")) != 0)
		return rc;
	if ((st.json = ctl_output_json(o->output)) < 0)
		return CTL_USAGE;
	if ((rc = open_store(o, false, &s)) != 0)
		return rc;
	if ((err = policy_signers_get(s, &keys)) != 0) {
		policy_store_close(s);
		return fail_policy("history", err);
	}
	if (st.json) {
		printf("{\"requires_signatures\": %s, \"signers\": [", keys.n ? "true" : "false");
		for (size_t i = 0; i < keys.n; i++) {
			policy_pubkey_format(keys.key[i], b64);
			printf("%s", i ? ", " : "");
			ctl_json_str(b64);
		}
		printf("],\n  \"entries\": [");
	} else {
		if (keys.n > 0) {
			printf("signed changes only: applies must be signed by ");
			for (size_t i = 0; i < keys.n; i++) {
				policy_pubkey_format(keys.key[i], b64);
				printf("%s%.8s...", i ? ", " : "", b64);
			}
			printf(" ('policy require-signed')\n");
		} else {
			printf("unsigned changes accepted ('policy require-signed --pub FILE' "
			       "requires signatures)\n");
		}
		printf("%-6s %-20s  %-24s %-9s %s\n", "REV", "TIME", "WHO", "SIGNED", "WHAT");
	}
	err = policy_history_list(s, (size_t)o->last, history_cb, &st);
	if (st.json)
		printf("%s]}\n", st.n ? "\n  " : "");
	policy_store_close(s);
	return err != 0 ? fail_policy("history", err) : CTL_OK;
}

struct audit_state {
	int json;
	size_t n;
};

static int
audit_print_cb(const struct policy_selector *to, void *arg)
{
	struct audit_state *st = arg;

	if (st->json) {
		printf("%s", st->n ? ", " : "");
		ctl_json_str(to->str);
	} else {
		printf("%s\n", to->str);
	}
	st->n++;
	return 0;
}

static int
cmd_audit(int argc, char **argv, struct pol_opts *o)
{
	struct policy_store *s = NULL;
	struct policy_selector *sel = NULL;
	struct policy_actor a = { .who = o->who, .now = o->now };
	const char *state = optind < argc ? argv[optind] : NULL;
	struct audit_state st = { 0, 0 };
	int err, rc;

	if ((st.json = ctl_output_json(o->output)) < 0)
		return CTL_USAGE;
	if (state == NULL && o->to == NULL) {
		if ((rc = open_store(o, false, &s)) != 0)
			return rc;
		if (st.json)
			printf("[");
		err = policy_audit_list(s, audit_print_cb, &st);
		if (st.json)
			printf("]\n");
		else if (err == 0 && st.n == 0)
			printf("no destination is in audit mode\n");
		policy_store_close(s);
		return err != 0 ? fail_policy("audit", err) : CTL_OK;
	}
	if (o->output != NULL) {
		ctl_err("policy audit --to SEL on|off does not take -o/--output");
		return CTL_USAGE;
	}
	if (o->to == NULL || state == NULL || argc - optind != 1 ||
	    (strcmp(state, "on") != 0 && strcmp(state, "off") != 0)) {
		ctl_err("policy audit: expected --to SEL on|off");
		return CTL_USAGE;
	}
	sel = calloc(1, sizeof(*sel));
	if (sel == NULL)
		return CTL_FAIL;
	if ((rc = selector_opt("to", o->to, POLICY_TO, sel)) != 0)
		goto out;
	if ((rc = open_store(o, true, &s)) != 0)
		goto out;
	err = policy_audit_set(s, sel, strcmp(state, "on") == 0, &a);
	if (err != 0) {
		rc = fail_policy("audit", err);
		goto out;
	}
	printf("audit %s for %s%s\n", state, sel->str,
	    strcmp(state, "on") == 0 ? ": would-be denials are logged and let through" : "");
out:
	policy_store_close(s);
	free(sel);
	return rc;
}

static int
cmd_keygen(int argc, char **argv, struct pol_opts *o)
{
	int err, rc;

	if ((rc = no_extra(argc, argv, "keygen")) != 0)
		return rc;
	if (o->key == NULL || o->pub == NULL) {
		ctl_err("policy keygen: --key FILE and --pub FILE are required");
		return CTL_USAGE;
	}
	err = policy_sign_keygen(o->key, o->pub);
	if (err == -EEXIST) {
		ctl_err("policy keygen: %s or %s exists; refusing to overwrite a key", o->key, o->pub);
		return CTL_USAGE;
	}
	if (err != 0)
		return fail_policy("keygen", err);
	printf("wrote %s (secret, 0600) and %s (public)\n", o->key, o->pub);
	return CTL_OK;
}

static int
cmd_bundle(int argc, char **argv, struct pol_opts *o)
{
	const char *action = optind < argc ? argv[optind] : "";
	struct policy_set set;
	uint8_t *data = NULL, *sig = NULL, pub[POLICY_PUBKEY_LEN];
	char *canon = NULL, sigb64[POLICY_SIG_B64_LEN + 2];
	size_t len = 0, clen = 0, slen = 0;
	int err, rc;

	memset(&set, 0, sizeof(set));
	if (argc - optind != 1 || (strcmp(action, "sign") != 0 && strcmp(action, "verify") != 0)) {
		ctl_err("policy bundle: expected 'sign' or 'verify'");
		return CTL_USAGE;
	}
	if (o->file == NULL) {
		ctl_err("policy bundle %s: -f FILE is required", action);
		return CTL_USAGE;
	}
	if (strcmp(action, "sign") == 0 ? o->key == NULL : (o->pub == NULL || o->sig == NULL)) {
		ctl_err("policy bundle %s: %s", action, strcmp(action, "sign") == 0
		    ? "--key FILE is required" : "--pub FILE and --sig FILE are required");
		return CTL_USAGE;
	}
	if ((rc = read_set(o->file, &set, &data, &len)) != 0)
		goto out;
	if (strcmp(action, "sign") == 0) {
		if ((err = policy_set_canonical(&set, &canon, &clen)) != 0) {
			rc = fail_policy("bundle", err);
			goto out;
		}
		err = policy_sign(o->key, (const uint8_t *)canon, clen, sigb64);
		if (err != 0) {
			rc = fail_policy(o->key, err);
			goto out;
		}
		if (o->out != NULL) {
			size_t n = strlen(sigb64);

			sigb64[n++] = '\n';
			err = util_write_file_atomic(o->out, sigb64, n, 0644);
			if (err != 0) {
				ctl_err("%s: %s", o->out, strerror(-err));
				rc = CTL_FAIL;
				goto out;
			}
			printf("signed %zu rules; signature in %s\n", set.n, o->out);
		} else {
			printf("%s\n", sigb64);
		}
		goto out;
	}
	if ((rc = read_sig(o->sig, &sig, &slen)) != 0 || (rc = read_pub(o->pub, pub)) != 0 ||
	    (rc = check_signature(o, &set, sig, slen, pub, NULL)) != CTL_OK)
		goto out;
	printf("OK: %s (%zu rules) is signed by %s\n", o->file, set.n, o->pub);
out:
	policy_set_free(&set);
	free(data);
	free(canon);
	free(sig);
	return rc;
}

static int
cmd_verify_db(int argc, char **argv, struct pol_opts *o)
{
	struct policy_store *s = NULL;
	const char *why = NULL;
	uint64_t rev = 0, used = 0, map = 0;
	size_t n = 0;
	int err, rc;

	if ((rc = no_extra(argc, argv, "verify-db")) != 0)
		return rc;
	if ((rc = open_store(o, false, &s)) != 0)
		return rc;
	err = policy_store_verify(s, &n, &why);
	if (err == 0)
		err = policy_store_revision(s, &rev);
	if (err == 0)
		err = policy_store_size(s, &used, &map);
	policy_store_close(s);
	if (err == POLICY_E_CORRUPT && why != NULL) {
		printf("INCONSISTENT: %s\n", why);
		return CTL_NO;
	}
	if (err != 0)
		return fail_policy("verify-db", err);
	printf("consistent: %zu rules, revision %" PRIu64 ", %" PRIu64 " bytes used\n", n, rev,
	    used);
	return CTL_OK;
}

static void
print_signers(const struct policy_signers *keys)
{
	char b64[POLICY_PUBKEY_B64_LEN + 1];

	for (size_t i = 0; i < keys->n; i++) {
		policy_pubkey_format(keys->key[i], b64);
		printf("  key %s\n", b64);
	}
}

/*
 * Whether the store accepts only signed changes, and with which keys. On
 * is free (the store only gets stricter); a change of keys or off must be
 * signed by a current key, over a statement naming this store and its
 * revision, so it cannot be replayed.
 */
static int
cmd_require_signed(int argc, char **argv, struct pol_opts *o)
{
	struct policy_store *s = NULL;
	struct policy_signers *cur = NULL, *next = NULL;
	struct policy_actor a = { .who = o->who, .now = o->now };
	const char *arg = optind < argc ? argv[optind] : NULL;
	char sig[POLICY_SIG_B64_LEN + 1], *msg = NULL;
	uint8_t mine[POLICY_PUBKEY_LEN];
	size_t mlen = 0;
	bool off = arg != NULL && strcmp(arg, "off") == 0, show;
	int err, rc = CTL_OK;

	if (argc - optind > 1 || (arg != NULL && !off)) {
		ctl_err("policy require-signed: expected no argument, --pub FILE..., or off");
		return CTL_USAGE;
	}
	if (off && o->npubs > 0) {
		ctl_err("policy require-signed off takes no --pub");
		return CTL_USAGE;
	}
	show = !off && o->npubs == 0;
	if (show && o->key != NULL) {
		ctl_err("policy require-signed: --key signs a change: give --pub FILE... or off");
		return CTL_USAGE;
	}
	cur = calloc(1, sizeof(*cur));
	next = calloc(1, sizeof(*next));
	if (cur == NULL || next == NULL) {
		rc = CTL_FAIL;
		goto out;
	}
	for (size_t i = 0; i < o->npubs; i++)
		if ((rc = read_pub(o->pubs[i], next->key[next->n++])) != 0)
			goto out;
	if ((rc = open_store(o, !show, &s)) != 0)
		goto out;
	if ((err = policy_signers_get(s, cur)) != 0) {
		rc = fail_policy("require-signed", err);
		goto out;
	}
	if (show) {
		if (cur->n == 0) {
			printf("signed changes only: no (any write is accepted; "
			       "'authctl policy require-signed --pub FILE' turns it on)\n");
		} else {
			printf("signed changes only: yes, %zu key%s (allow, revoke and audit on|off "
			       "are refused; apply needs --sig by one of them)\n", cur->n,
			    cur->n == 1 ? "" : "s");
			print_signers(cur);
		}
		goto out;
	}
	if (o->key != NULL) {
		bool known = false;

		if ((err = policy_pubkey_of(o->key, mine)) != 0) {
			rc = err < 0 && err > -1000 ? (ctl_err("%s: %s", o->key, strerror(-err)),
			    CTL_USAGE) : fail_policy(o->key, err);
			goto out;
		}
		/* Turning it on: --key proves the new keys can sign (no lock-out). */
		for (size_t i = 0; i < (cur->n > 0 ? cur->n : next->n); i++)
			known |= memcmp(mine, cur->n > 0 ? cur->key[i] : next->key[i],
			    POLICY_PUBKEY_LEN) == 0;
		if (!known) {
			ctl_err("policy require-signed: the key in %s is not one of the store's%s",
			    o->key, cur->n > 0 ? "" : " new keys (--pub)");
			rc = cur->n > 0 ? CTL_NO : CTL_USAGE;
			goto out;
		}
		if (cur->n > 0) {
			if ((err = policy_signers_statement(s, next, &msg, &mlen)) != 0 ||
			    (err = policy_sign(o->key, (const uint8_t *)msg, mlen, sig)) != 0) {
				rc = fail_policy(o->key, err);
				goto out;
			}
			a.sig = sig;
			a.siglen = strlen(sig);
		}
	} else if (cur->n > 0) {
		ctl_err("policy require-signed: %s accepts only signed changes: changing its keys "
		    "or turning it off needs --key SECRET, the secret half of one of them; "
		    "nothing changed", o->db);
		rc = CTL_NO;
		goto out;
	}
	err = policy_signers_set(s, next, &a);
	if (err == POLICY_E_SIGNATURE) {
		ctl_err("policy require-signed: the signature does not verify (did the store "
		    "change meanwhile? try again); nothing changed");
		rc = CTL_NO;
		goto out;
	}
	if (err != 0) {
		rc = fail_policy("require-signed", err);
		goto out;
	}
	if (next->n == 0) {
		printf("signed changes only: off; unsigned changes are accepted again\n");
	} else {
		if ((err = policy_signers_get(s, next)) != 0) {
			rc = fail_policy("require-signed", err);
			goto out;
		}
		printf("signed changes only: on, %zu key%s; allow, revoke and audit on|off are "
		       "refused, apply needs --sig\n", next->n, next->n == 1 ? "" : "s");
		print_signers(next);
	}
out:
	util_wipe(sig, sizeof(sig));
	free(msg);
	free(cur);
	free(next);
	policy_store_close(s);
	return rc;
}

/* Every subcommand with the options it takes (besides --store): any other is refused. */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, struct pol_opts *o);
	unsigned takes;
	const char *usage;
} pol_cmds[] = {
	{ "allow", cmd_allow, P_FROM | P_TO | P_PORT | P_EXPIRES | P_COMMENT, U_ALLOW },
	{ "revoke", cmd_revoke, P_FROM | P_TO, U_REVOKE },
	{ "list", cmd_list, P_FROM | P_TO | P_OUTPUT, U_LIST },
	{ "check", cmd_check, P_FROM | P_TO | P_PORT | P_AT | P_OUTPUT, U_CHECK },
	{ "apply", cmd_apply, P_FILE | P_DRY | P_PUB | P_SIG, U_APPLY },
	{ "export", cmd_export, P_OUTPUT, U_EXPORT },
	{ "history", cmd_history, P_LAST | P_OUTPUT, U_HISTORY },
	{ "audit", cmd_audit, P_TO | P_OUTPUT, U_AUDIT },
	{ "require-signed", cmd_require_signed, P_PUB | P_PUBS | P_KEY, U_REQUIRE },
	{ "keygen", cmd_keygen, P_KEY | P_PUB, U_KEYGEN },
	{ "bundle", cmd_bundle, P_FILE | P_KEY | P_PUB | P_SIG | P_OUT, U_BUNDLE },
	{ "verify-db", cmd_verify_db, 0, U_VERIFY_DB },
};

const char *const ctl_policy_subcommands[] = {
	"allow", "revoke", "list", "check", "apply", "export", "history", "audit",
	"require-signed", "keygen", "bundle sign|verify", "verify-db", NULL,
};

/* An option the subcommand does not take is an error, never ignored. */
static int
refuse_extra(const char *cmd, unsigned given, unsigned takes)
{
	unsigned extra = given & ~takes;

	for (size_t i = 0; i < AD_ARRAY_LEN(p_names); i++) {
		if (extra & (1u << i)) {
			ctl_err("policy %s does not take %s (see 'authctl policy --help')", cmd,
			    p_names[i]);
			return CTL_USAGE;
		}
	}
	return 0;
}

int
ctl_policy_main(int argc, char **argv)
{
	struct pol_opts o;
	int rc;

	if (ctl_wants_help(argc, argv)) {
		fputs(pol_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USAGE : CTL_OK;
	}
	for (size_t i = 0; i < AD_ARRAY_LEN(pol_cmds); i++) {
		if (strcmp(argv[1], pol_cmds[i].name) != 0)
			continue;
		rc = parse_opts(argc - 1, argv + 1, &o);
		if (rc < 0) {
			ctl_cmd_usage("policy", pol_cmds[i].usage, POL_COMMON);
			return CTL_OK;
		}
		if (rc == 0)
			rc = refuse_extra(pol_cmds[i].name, o.given, pol_cmds[i].takes);
		return rc != 0 ? rc : pol_cmds[i].fn(argc - 1, argv + 1, &o);
	}
	ctl_err("policy: unknown subcommand '%s'", argv[1]);
	fputs(pol_usage, stderr);
	return CTL_USAGE;
}
