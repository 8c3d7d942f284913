/*
 * Workers: one event loop per core. Each binds its own copy of every
 * listener with SO_REUSEPORT, so the kernel spreads new connections over
 * the loops, and keeps its connections, its LMDB reader and its metrics to
 * itself (struct conn_loop). Worker 0 is the main loop; the others run on
 * their own threads and take commands (worker_cmd bits) through a
 * uv_async handle.
 *
 * A listener's handle is created and closed only on its worker's thread;
 * the main loop changes the served set under its lock and sends
 * WORKER_SYNC, and each worker brings its listeners in line with the set.
 */
#ifndef AUTHD_AUTHD_WORKER_H
#define AUTHD_AUTHD_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "authd/conn.h"
#include "common/util.h"

struct metrics;
struct policy_store;
struct served_set;

/* Most loops (workers) a daemon runs. */
#define WORKERS_MAX 64

/* Commands the main loop sends a worker (bits of worker.cmd). */
enum worker_cmd {
	WORKER_SYNC = 1,		/* bind listeners of new workloads, close removed ones */
	WORKER_DRAIN = 2,		/* close every listener */
	WORKER_CLOSE_ALL = 4,		/* close every connection (drain deadline) */
	WORKER_EXIT = 8,		/* close the wake handle and let the loop end */
	WORKER_RECHECK = 16,		/* re-check established inbound connections (a new revision) */
	WORKER_RECHECK_DUE = 32,	/* re-check those whose allowing rule has expired (the tick) */
};

/* A loop with its own listeners and connections. */
struct worker {
	struct conn_loop cl;
	uv_loop_t own_loop;		/* workers 1..n-1 */
	uv_thread_t thread;
	bool started;
	uv_async_t wake;
	atomic_uint cmd;
};

struct workers {
	struct worker *w[WORKERS_MAX];
	unsigned n;
};

/*
 * Create n workers serving set (set->n_loops must be n): worker 0 on
 * main_loop, the others on threads of their own, each with a reader of
 * store. Returns 0, -EINVAL, -ENOMEM, a libuv error or a POLICY_E_* code;
 * workers_stop cleans up after a failure too.
 */
int workers_start(struct workers *ws, unsigned n, uv_loop_t *main_loop, struct served_set *set,
    struct policy_store *store) AD_MUST_CHECK;
/* Send cmd to every worker (worker 0 runs it at once, on the caller's thread). */
void workers_send(struct workers *ws, unsigned cmd);
/* Join the threads and free the workers (after every loop has ended). */
void workers_stop(struct workers *ws);
/* Add every worker's connection metrics into out. */
void workers_metrics(struct workers *ws, struct metrics *out);
#endif
