/*
 * Listening handles of served workloads, one per loop, each on a duplicate
 * of the address's one bound socket (bound.h): the kernel spreads new
 * connections over the loops accepting on it. A listener holds a reference
 * to its workload and counts in wl->listeners until its handle has closed;
 * a listener with a descriptor holds one take of its address.
 */
#ifndef AUTHD_AUTHD_LISTENER_H
#define AUTHD_AUTHD_LISTENER_H

#include <uv.h>

#include "common/addr.h"
#include "common/util.h"

struct served;
union listener;

/* Initialise lh on loop for a: a TCP handle, or a pipe for a unix address. Returns 0 or a libuv error. */
int listener_init(uv_loop_t *loop, union listener *lh, const struct addr *a) AD_MUST_CHECK;
/* Count lh (initialised, on its loop's thread) as one of wl's listeners. */
void listener_opened(struct served *wl);
/*
 * Give lh a descriptor of a's socket, bound by wl's set (under its lock).
 * Returns 0 or a libuv error (UV_EADDRINUSE: another process serves a).
 */
int listener_bind(union listener *lh, struct served *wl, const struct addr *a) AD_MUST_CHECK;
/* Close lh (once, under the set's lock); the close gives back what listener_opened and listener_bind took. */
void listener_close(union listener *lh, struct served *wl, const struct addr *a);
#endif
