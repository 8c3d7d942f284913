/*
 * The wall clock, read in one place: certificate validity, rule expiry,
 * access-log times and SVID status all compare against it. (Timers and
 * deadlines use the loop's monotonic uv_now instead.)
 */
#ifndef AUTHD_COMMON_CLOCK_H
#define AUTHD_COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t clock_now_ms(void);
#endif
