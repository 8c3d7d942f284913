/*
 * The inbound half of tunnel v1: a peer reaches one of our workloads over
 * mTLS, names a port with one CONNECT head, and is checked against policy
 * at this, the destination's, end.
 */
#ifndef AUTHD_AUTHD_INBOUND_H
#define AUTHD_AUTHD_INBOUND_H

struct conn_loop;
struct served;

/* Open wl's mesh listener on loop cl. Returns 0 or a libuv error. */
int inbound_listen(struct conn_loop *cl, struct served *wl);
#endif
