/*
 * Shared pieces of the authctl command line: exit codes, error printing,
 * and the entry points of each command group (ctl_ca.c, ctl_policy.c, ...).
 */
#ifndef AUTHD_AUTHD_CTL_H
#define AUTHD_AUTHD_CTL_H

#include "authd/util.h"

/* authctl's exit codes (docs/cli.md). */
enum {
	CTL_OK = 0,		/* success; for check/verify: allowed/valid */
	CTL_NO = 1,		/* a negative verdict: denied, rejected */
	CTL_USAGE = 2,		/* bad command line or invalid input; nothing changed */
	CTL_FAIL = 3,		/* the operation failed (I/O, state, crypto) */
};

/* Print "authctl: " + message + newline to stderr. */
void ctl_err(const char *fmt, ...) AD_PRINTF(1, 2);

/*
 * Whether argv[1] asks for help ("-h", "--help", "help"), for command
 * groups that print their own usage.
 */
int ctl_wants_help(int argc, char **argv);

/* `authctl ca ...`; argv[0] is "ca". Returns an exit code. */
int ctl_ca_main(int argc, char **argv);

#endif
