/*
 * Shared pieces of the authctl command line: exit codes, error printing,
 * and the entry points of each command group (ctl_ca.c, ctl_policy.c, ...).
 */
#ifndef AUTHD_AUTHCTL_CTL_H
#define AUTHD_AUTHCTL_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* authctl's exit codes (docs/cli.md). */
enum {
	CTL_OK = 0,		/* success; for check/verify: allowed/valid */
	CTL_NO = 1,		/* a negative verdict: denied, rejected */
	CTL_USAGE = 2,		/* bad command line or invalid input; nothing changed */
	CTL_FAIL = 3,		/* the operation failed (I/O, state, crypto) */
};

/* The node's LMDB store (policy and workload registry) unless --db/--store or $AUTHD_POLICY_DB. */
#define CTL_POLICY_DB_DEFAULT "/var/lib/authd/store.mdb"

/*
 * policy_store_open for authctl, sized by the environment:
 * AUTHD_POLICY_MAP_SIZE (initial map, bytes) and AUTHD_POLICY_MAP_MAX (the
 * most it grows to, bytes: a quota). A malformed value is named on stderr
 * and is POLICY_E_INVAL.
 */
struct policy_store;
int ctl_store_open(const char *path, unsigned flags, struct policy_store **s) AD_MUST_CHECK;

/* Print "authctl: " + message + newline to stderr. */
void ctl_err(const char *fmt, ...) AD_PRINTF(1, 2);

/*
 * Whether argv[1] asks for help ("-h", "--help", "help"), for command
 * groups that print their own usage.
 */
int ctl_wants_help(int argc, char **argv);

/*
 * A point in time: RFC 3339 UTC ("2026-11-25T20:48:07Z") or seconds since
 * the epoch. Returns 0 or -EINVAL.
 */
int ctl_parse_time(const char *s, int64_t *out) AD_MUST_CHECK;

/* "alice (uid 1000)", or "alice via sudo (uid 0)": who is changing policy. */
void ctl_who(char *buf, size_t size);
/* "2026-01-02T15:04:05Z (in 59m)" or "... (expired 3m ago)": t judged at now. */
void ctl_expiry_text(int64_t t, int64_t now, char *buf, size_t size);

/*
 * Machine output: `-o json` everywhere (a few older spellings, `--json`,
 * stay as aliases). ctl_json_str prints s as a JSON string on stdout,
 * quotes and escapes included (common/strbuf.h's strbuf_json_string);
 * ctl_json_str_or_null prints null for NULL or "".
 */
void ctl_json_str(const char *s);
void ctl_json_str_or_null(const char *s);
/* -o VALUE: 0 for table (or NULL), 1 for json, -1 (said on stderr) for anything else. */
int ctl_output_json(const char *value);

/*
 * One subcommand's usage: "usage: authctl GROUP " then its lines, then the
 * group's common options. For `authctl GROUP SUB --help` (stdout, exit 0).
 */
void ctl_cmd_usage(const char *group, const char *lines, const char *common);

/* `authctl ca ...`; argv[0] is "ca". Returns an exit code. */
int ctl_ca_main(int argc, char **argv);
/* `authctl policy ...`; argv[0] is "policy". Returns an exit code. */
int ctl_policy_main(int argc, char **argv);
/* `authctl workload ...`; argv[0] is "workload". Returns an exit code. */
int ctl_workload_main(int argc, char **argv);
/* Each group's subcommands, NULL-terminated, for `authctl --help`. */
extern const char *const ctl_ca_subcommands[];
extern const char *const ctl_policy_subcommands[];
extern const char *const ctl_workload_subcommands[];

#endif
