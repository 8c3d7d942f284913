/*
 * CA rollover on a running daemon. `authctl ca rotate` writes a new issuer
 * (and, with --new-root, adds a root to the bundle); `authctl ca bundle
 * remove` drops an anchor. A file event on ca_dir (debounced: a rotation
 * writes several files) reloads the directory; a directory that does not
 * load (unreadable bundle, truncated key) is reported in /readyz and the
 * running trust stays. A new trust goes to issuance, which re-issues every
 * SVID under it; established connections keep what they started with.
 */
#ifndef AUTHD_AUTHD_CA_WATCH_H
#define AUTHD_AUTHD_CA_WATCH_H

#include "common/util.h"

struct daemon;
struct trust;

/* Load ca_dir into a new trust (logged, and named in /readyz when it fails). */
int ca_watch_load(struct daemon *d, struct trust **out) AD_MUST_CHECK;
/* Watch ca_dir for rollovers (its handles close with the daemon's others). */
void ca_watch_start(struct daemon *d);
#endif
