/*
 * authctl: the operator's command line for authd. Each command group lives
 * in its own ctl_*.c file; this file only dispatches.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authctl/ctl.h"
#include "common/duration.h"
#include "common/strbuf.h"
#include "common/version.h"
#include "certs/crypto.h"
#include "certs/info.h"
#include "policy/policy.h"

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
	const char *const *subcommands;
} commands[] = {
	{ "ca", ctl_ca_main, "the trust domain's CA", ctl_ca_subcommands },
	{ "policy", ctl_policy_main, "the node's allow-list", ctl_policy_subcommands },
	{ "workload", ctl_workload_main, "the workloads on this node", ctl_workload_subcommands },
};

void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("authctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
ctl_wants_help(int argc, char **argv)
{
	return argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0;
}

int
ctl_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	const char *end;
	char *e;
	long long v;

	errno = 0;
	v = strtoll(s, &e, 10);
	if (*s != '\0' && *e == '\0' && errno == 0 && v >= 0) {
		*out = v;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* A byte count from the environment; def when unset or empty. */
static int
env_bytes(const char *name, uint64_t def, uint64_t *out)
{
	const char *v = getenv(name);
	char *end;

	*out = def;
	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || *v < '0' || *v > '9' || *out < 65536) {
		ctl_err("$%s=%s: expected a byte count of at least 65536", name, v);
		return POLICY_E_INVAL;
	}
	return 0;
}

int
ctl_store_open(const char *path, unsigned flags, struct policy_store **s)
{
	uint64_t map, max;
	int err;

	*s = NULL;
	if ((err = env_bytes("AUTHD_POLICY_MAP_SIZE", 0, &map)) != 0 ||
	    (err = env_bytes("AUTHD_POLICY_MAP_MAX", POLICY_MAP_MAX, &max)) != 0)
		return err;
	/* The quota holds from the start: the default map (1 GiB) may be over it. */
	if ((map != 0 ? map : POLICY_MAP_DEFAULT) > max)
		map = max;
	if ((err = policy_store_open(path, flags, map, s)) == 0)
		policy_store_set_map_max(*s, max);
	return err;
}

void
ctl_who(char *buf, size_t size)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	const char *name = pw != NULL ? pw->pw_name : "?";

	if (sudo != NULL && *sudo != '\0' && getuid() == 0)
		util_format(buf, size, "%s via sudo (uid %u)", sudo, (unsigned)getuid());
	else
		util_format(buf, size, "%s (uid %u)", name, (unsigned)getuid());
}

void
ctl_json_str(const char *s)
{
	struct strbuf sb;

	if (s == NULL)
		s = "";
	/* Every value authctl prints is bounded (a path, an ID, a comment). */
	strbuf_init(&sb, 8 * strlen(s) + 16);
	strbuf_json_string(&sb, s, strlen(s));
	fputs(!sb.failed && sb.p != NULL ? sb.p : "\"\"", stdout);
	strbuf_free(&sb);
}

void
ctl_json_str_or_null(const char *s)
{
	if (s == NULL || *s == '\0')
		fputs("null", stdout);
	else
		ctl_json_str(s);
}

int
ctl_output_json(const char *value)
{
	if (value == NULL || strcmp(value, "table") == 0)
		return 0;
	if (strcmp(value, "json") == 0)
		return 1;
	ctl_err("-o %s: expected table or json", value);
	return -1;
}

void
ctl_cmd_usage(const char *group, const char *lines, const char *common)
{
	printf("usage: authctl %s %s", group, lines);
	if (common != NULL && *common != '\0')
		printf("\n%s", common);
}

/* Every command and subcommand, so nothing is found only by reading the source. */
static void
usage(FILE *f)
{
	fprintf(f, "usage: authctl COMMAND SUBCOMMAND [OPTIONS]\n"
		   "       authctl --version\n\ncommands:\n");
	for (size_t i = 0; i < AD_ARRAY_LEN(commands); i++) {
		fprintf(f, "  %-8s %s:\n          ", commands[i].name, commands[i].summary);
		for (size_t j = 0; commands[i].subcommands[j] != NULL; j++)
			fprintf(f, "%s%s", j ? ", " : "", commands[i].subcommands[j]);
		fputc('\n', f);
	}
	fprintf(f, "\n'authctl COMMAND --help' lists a command's subcommands and options;\n"
		   "'authctl COMMAND SUBCOMMAND --help' (or -h) one subcommand's.\n"
		   "machine output: -o json where a subcommand prints data.\n"
		   "exit codes: 0 ok, 1 denied/rejected, 2 usage or invalid input, 3 failure\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_USAGE : CTL_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		if (argc > 2) {
			ctl_err("--version takes no arguments");
			return CTL_USAGE;
		}
		printf("authctl %s\n", AUTHD_VERSION);
		return CTL_OK;
	}
	if (certs_crypto_init() != 0) {
		ctl_err("cannot initialise the crypto libraries");
		return CTL_FAIL;
	}
	for (size_t i = 0; i < AD_ARRAY_LEN(commands); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].main(argc - 1, argv + 1);
	ctl_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return CTL_USAGE;
}

/* "2026-01-02T15:04:05Z (in 59m)" or "... (expired 3m ago)". */
void
ctl_expiry_text(int64_t t, int64_t now, char *buf, size_t size)
{
	uint64_t left = (uint64_t)(t > now ? t - now : now - t);
	char when[32], d[32];

	/* Whole minutes read better ("in 59m"); seconds only in the last minute. */
	if (left >= 60)
		left -= left % 60;
	certs_time_format(t, when, sizeof(when));
	duration_format(left, d, sizeof(d));
	if (t > now)
		util_format(buf, size, "%s (in %s)", when, d);
	else if (t == now)
		util_format(buf, size, "%s (expires now)", when);
	else
		util_format(buf, size, "%s (expired %s ago)", when, d);
}
