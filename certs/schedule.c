/*
 * schedule.c: when an SVID should be renewed.
 *
 * Renewing at half-life leaves the other half of the lifetime to retry a
 * failed renewal (SPIRE and Linkerd do the same). The jitter keeps the
 * workloads of one node, often started together, from renewing together.
 */
#include "certs/schedule.h"

int64_t
certs_renew_at(int64_t not_before, int64_t not_after, int64_t margin, uint32_t rnd)
{
	int64_t life, half, span, jitter, at, latest;

	if (not_after <= not_before)
		return not_before;
	life = not_after - not_before;
	half = life / 2;
	span = half / 10;
	/* Map rnd uniformly onto [-span, +span]. */
	jitter = (int64_t)(((uint64_t)rnd * (uint64_t)(2 * span + 1)) >> 32) - span;
	at = not_before + half + jitter;
	if (margin < 0)
		margin = 0;
	latest = not_after - margin;
	if (at > latest)
		at = latest;
	if (at < not_before)
		at = not_before;
	return at;
}
