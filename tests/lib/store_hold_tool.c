/*
 * store_hold_tool: keep a store's LMDB environment open, as a long-lived
 * reader (a monitoring sidecar, a slow authctl) would, until a signal.
 * While any process holds it, the reader table is not reset on open, so the
 * slots a kill -9'd authd leaves behind stay until someone clears them:
 * lifecycle.sh uses this to check that authd does (mdb_reader_check).
 *
 *   store_hold_tool DB     prints "open" once open, then waits for SIGTERM
 *                          (a signal, not EOF: the processes a test starts
 *                          meanwhile would inherit a pipe's write end)
 */
#include <stdio.h>
#include <unistd.h>

#include "policy/policy.h"

int
main(int argc, char **argv)
{
	struct policy_store *s = NULL;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DB\n", argv[0]);
		return 2;
	}
	if ((err = policy_store_open(argv[1], POLICY_OPEN_RDONLY, 0, &s)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[1], policy_strerror(err));
		return 1;
	}
	printf("open\n");
	fflush(stdout);
	for (;;)
		pause();	/* SIGTERM's default action ends it */
}
