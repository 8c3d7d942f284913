/*
 * Target Functions: policy__rule_decode, policy__rule_encode
 *
 * Rule records come from the LMDB file; a damaged or hostile file must give
 * POLICY_E_CORRUPT, never a crash or a rule wider than what was written.
 * Property: whatever decodes re-encodes to the very same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"
#include "tests/fuzz/fuzz.h"

static struct policy_rule rule;
static uint8_t again[POLICY_RECORD_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = 0;
	int err = policy__rule_decode(data, size, &rule);

	if (err != 0) {
		if (err != POLICY_E_CORRUPT)
			abort();
		return 0;
	}
	if (rule.id == 0 || rule.ports.n == 0 || rule.ports.n > POLICY_PORT_RANGES_MAX ||
	    rule.to.kind == POLICY_SEL_ANY || strlen(rule.comment) > POLICY_COMMENT_MAX)
		abort();
	for (uint8_t i = 0; i < rule.ports.n; i++) {
		if (rule.ports.r[i].lo == 0 || rule.ports.r[i].lo > rule.ports.r[i].hi)
			abort();
		if (i > 0 && rule.ports.r[i].lo <= rule.ports.r[i - 1].hi)
			abort();
	}
	if (policy__rule_encode(&rule, false, again, sizeof(again), &len) != 0 || len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	return 0;
}
