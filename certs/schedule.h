/*
 * When to renew an SVID. Pure: the caller supplies the randomness, so the
 * schedule is testable and the daemon can spread a node's renewals.
 */
#ifndef AUTHD_CERTS_SCHEDULE_H
#define AUTHD_CERTS_SCHEDULE_H

#include <stdint.h>

/*
 * The renewal time for a certificate valid [not_before, not_after]: its
 * half-life, moved by a jitter of up to +-10% of the half-life chosen by rnd
 * (uniform over the uint32_t range), and never later than
 * not_after - margin nor earlier than not_before. Times in seconds.
 */
int64_t certs_renew_at(int64_t not_before, int64_t not_after, int64_t margin, uint32_t rnd);

#endif
