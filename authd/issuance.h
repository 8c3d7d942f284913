/*
 * Issuance: workload SVIDs signed on libuv's thread pool, one signing job
 * at a time (the CA handle is not shared between threads), renewed at
 * half-life with jitter, retried with backoff when signing fails.
 *
 * A new SVID becomes a new identity (ident.h) swapped into the served
 * workload under the set's lock: new handshakes use it at once,
 * established connections keep the one they started with. Issuance then
 * calls the owner's issued callback (the daemon brings listeners up and
 * records the SVID in the registry). Main loop only.
 */
#ifndef AUTHD_AUTHD_ISSUANCE_H
#define AUTHD_AUTHD_ISSUANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "policy/workload.h"

struct certs_svid;
struct config;
struct metrics;
struct served;
struct served_set;
struct trust;

/* A new identity is in wl->ident. */
typedef void (*issuance_issued_fn)(struct served *wl, void *arg);

struct issuance {
	uv_loop_t *loop;
	struct served_set *set;
	const struct config *cfg;	/* trust_domain and svid_ttl, read at each job */
	struct metrics *metrics;
	issuance_issued_fn issued;
	void *arg;
	struct trust *trust;		/* current: new SVIDs are signed under it */
	/* One signing job at a time on the thread pool. */
	struct served *queue[WORKLOAD_MAX];
	size_t head, len;
	bool running;
	uv_work_t work;
	struct served *job_wl;
	struct trust *job_trust;	/* the CA the running job signs with */
	struct certs_svid *job_svid;
	int job_err;
	uint32_t job_ttl;		/* copied for the job: a reload may change cfg meanwhile */
};

/* Start with trust t (the caller's reference passes to is). */
void issuance_init(struct issuance *is, uv_loop_t *loop, struct served_set *set,
    const struct config *cfg, struct metrics *metrics, struct trust *t, issuance_issued_fn issued,
    void *arg);
/* Drop the current trust (after the loop has ended). */
void issuance_free(struct issuance *is);
/* A new trust (the caller's reference passes to is): every served workload is re-issued under it. */
void issuance_set_trust(struct issuance *is, struct trust *t);
/* Queue wl for an SVID now (first issuance or renewal). */
void issuance_request(struct issuance *is, struct served *wl);
/* Close wl's renewal timer (when it stops being served). */
void issuance_stop(struct served *wl);
#endif
