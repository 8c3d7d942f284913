/*
 * Target Functions: registry_record_decode, registry_record_encode,
 * registry_status_decode, registry_status_encode
 *
 * Workload and SVID status records come from the node's LMDB file, which
 * other processes write; a damaged or hostile record must give
 * POLICY_E_CORRUPT, never a crash or a workload validation would refuse.
 * Property: whatever decodes re-encodes to the very same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/registry.h"
#include "policy/workload.h"
#include "policy/policy.h"
#include "tests/fuzz/fuzz.h"

static struct workload w;
static struct workload_svid_status st;
static uint8_t again[WORKLOAD_RECORD_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = 0;
	int err = registry_record_decode(data, size, &w);

	if (err == 0) {
		CHECK(workload_validate(&w, NULL) == 0);
		CHECK(w.n_apps <= WORKLOAD_APPS_MAX && w.n_upstreams <= WORKLOAD_UPSTREAMS_MAX);
		CHECK(registry_record_encode(&w, again, sizeof(again), &len) == 0);
		CHECK(len == size && memcmp(again, data, size) == 0);
	} else {
		CHECK(err == POLICY_E_CORRUPT);
	}
	err = registry_status_decode(data, size, &st);
	if (err == 0) {
		CHECK(registry_status_check(&st) == 0);
		CHECK(registry_status_encode(&st, again, sizeof(again), &len) == 0);
		CHECK(len == size && memcmp(again, data, size) == 0);
	} else {
		CHECK(err == POLICY_E_CORRUPT);
	}
	return 0;
}
