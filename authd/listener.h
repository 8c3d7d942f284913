/*
 * Listening sockets of served workloads, one copy per loop: every loop
 * binds its own with SO_REUSEPORT, so the kernel spreads new connections
 * over the loops. A listener holds a reference to its workload and counts
 * in wl->listeners until its handle has closed.
 */
#ifndef AUTHD_AUTHD_LISTENER_H
#define AUTHD_AUTHD_LISTENER_H

#include <uv.h>

#include "common/addr.h"
#include "common/util.h"

struct served;
union listener;

/* Open a listening TCP socket on a with SO_REUSEPORT into h. Returns 0 or a libuv error. */
int listener_bind_tcp(uv_tcp_t *h, const struct addr *a) AD_MUST_CHECK;
/* Count a new listener handle as one of wl's listeners (handle initialised, on its loop's thread). */
void listener_opened(struct served *wl);
/* Close lh (once); the close gives back what listener_opened took. */
void listener_close(union listener *lh, struct served *wl);
#endif
