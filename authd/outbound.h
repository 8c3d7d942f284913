/*
 * The outbound half of tunnel v1: our workload's app connects in plaintext
 * to an upstream listener; authd dials the peer as the workload.
 */
#ifndef AUTHD_AUTHD_OUTBOUND_H
#define AUTHD_AUTHD_OUTBOUND_H

struct conn_loop;
struct served;
struct upstream_rt;

/* Open the local listener of wl's upstream up on loop cl. Returns 0 or a libuv error. */
int outbound_listen(struct conn_loop *cl, struct served *wl, struct upstream_rt *up);
#endif
