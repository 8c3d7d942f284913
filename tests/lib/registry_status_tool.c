/*
 * registry_status_tool: write the SVID status the daemon would report for a
 * workload, so CLI tests can check how `authctl workload list|show` shows
 * an issued SVID before the daemon exists to write one.
 *
 *   registry_status_tool DB NS NAME SPIFFE-ID SERIAL NOT_AFTER [UPDATED]
 *
 * Times are UNIX seconds. Exits 0, or 1 with the error on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/registry.h"
#include "policy/workload.h"
#include "policy/policy.h"

int
main(int argc, char **argv)
{
	struct workload_svid_status st;
	struct policy_store *s = NULL;
	int err;

	if (argc != 7 && argc != 8) {
		fprintf(stderr, "usage: %s DB NS NAME SPIFFE-ID SERIAL NOT_AFTER [UPDATED]\n", argv[0]);
		return 2;
	}
	memset(&st, 0, sizeof(st));
	if (snprintf(st.spiffe_id, sizeof(st.spiffe_id), "%s", argv[4]) >= (int)sizeof(st.spiffe_id) ||
	    snprintf(st.serial, sizeof(st.serial), "%s", argv[5]) >= (int)sizeof(st.serial)) {
		fprintf(stderr, "too long\n");
		return 1;
	}
	st.not_after = strtoll(argv[6], NULL, 10);
	st.updated = argc == 8 ? strtoll(argv[7], NULL, 10) : (int64_t)time(NULL);
	err = policy_store_open(argv[1], 0, 0, &s);
	if (err == 0)
		err = registry_set_status(s, argv[2], argv[3], &st);
	policy_store_close(s);
	if (err != 0) {
		fprintf(stderr, "%s\n", err > -1000 ? strerror(-err) : policy_strerror(err));
		return 1;
	}
	return 0;
}
