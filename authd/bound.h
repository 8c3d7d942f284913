/*
 * Bound listening sockets, one per address, owned by this process alone.
 *
 * authd's listeners are never bound with SO_REUSEPORT: the kernel lets any
 * process of the same user join a SO_REUSEPORT group and take a share of
 * its connections, so a second authd, or anything else, could answer a
 * workload's peers. Instead one socket per address is bound (exclusively:
 * a later bind of an overlapping address fails with EADDRINUSE) and each
 * event loop listens on a duplicate of it; the kernel hands each new
 * connection to one of the loops accepting on it.
 *
 * Every user (a served workload holding its addresses, each loop's
 * listener handle) takes the address and gives it back; the socket closes
 * when the last one has. So a workload that is re-created keeps its socket,
 * and no connection is refused in between. Not thread-safe: callers hold
 * the served set's lock.
 */
#ifndef AUTHD_AUTHD_BOUND_H
#define AUTHD_AUTHD_BOUND_H

#include "common/addr.h"
#include "common/util.h"

struct bound_sock;

struct bound_set {
	struct bound_sock *head;
};

/*
 * Take a: bind and listen on it when no user holds it yet. A unix path
 * that a live process answers on is busy too; one nobody answers (left by
 * a process that died) is replaced. With fd, *fd is then a descriptor of
 * the socket of the caller's own (close it, then bound_give). Returns 0 or
 * -errno (-EADDRINUSE: something else listens there).
 */
int bound_take(struct bound_set *b, const struct addr *a, int *fd) AD_MUST_CHECK;
/* Give back one take of a; the last closes the socket (and removes a unix path it made). */
void bound_give(struct bound_set *b, const struct addr *a);
/* Close whatever is left (at exit). */
void bound_set_free(struct bound_set *b);
#endif
