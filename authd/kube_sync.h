/*
 * authd as a Kubernetes node agent (docs/kubernetes.md): the pods of this
 * node become workloads, and the AllowList custom resources become the
 * policy store's rules.
 *
 *  - Pods and namespaces are watched (kube_watch.h); whenever either
 *    changes, every pod is judged again (kube_pod_workload: enrolled, running,
 *    an IP, not on the host network) and the registry's pod workloads are
 *    made exactly that set in one transaction (registry_sync_pods), the
 *    same registry `authctl workload` writes, so the daemon serves and
 *    retires them the way it does any registry change. Workloads an
 *    operator wrote are never touched.
 *  - AllowLists are watched; the store is made to hold exactly the union of
 *    their rules and audit destinations with policy_apply (one transaction,
 *    re-validated). An AllowList the policy parser refuses changes nothing
 *    (its last good version, if any, stays in the union) and is reported as
 *    a Kubernetes Event and in the log and /metrics.
 *  - Nothing is applied before the first complete LIST (pods wait for
 *    namespaces too): until then the store holds what it held, and /readyz
 *    says what is missing.
 */
#ifndef AUTHD_AUTHD_KUBE_SYNC_H
#define AUTHD_AUTHD_KUBE_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authd/kube_watch.h"
#include "kube/object.h"

struct daemon;
struct kube_http;

/* One object held: its latest version and, for an AllowList, its last good rules. */
struct kube_entry {
	struct kube_object obj;
	int state;			/* pods: 1 a workload, 0 not, -1 enrolled but unusable */
	bool has_good;
	struct policy_set good;		/* AllowLists: the rules in the union */
	int64_t reported_gen;		/* AllowLists: the generation last reported as invalid */
	bool report;			/* AllowLists: an Event is due */
};

struct kube_entries {
	struct kube_entry *v;
	size_t n, cap;
};

struct kube_sync {
	bool on;
	struct daemon *d;
	struct kube_api api;
	struct kube_watch pods, namespaces, allowlists;
	struct kube_entries pod, ns, al;		/* what is held */
	struct kube_entries pod_next, ns_next, al_next;	/* a LIST being read */
	bool pods_dirty, al_dirty;
	size_t pods_invalid, al_invalid;
	char pods_error[256];		/* the last registry write that failed, "" = ok */
	char al_error[256];		/* the last policy apply that failed, "" = ok */
	struct kube_http *event_req;	/* the Event being posted, if any */
	uint64_t events_posted;
};

/*
 * Start when d->cfg.kube.enabled: read the credentials and start the three
 * watches. Returns 0 (also when off) or an error, logged, that stops the
 * start (bad CA file, no token, bad server).
 */
int kube_sync_start(struct kube_sync *k, struct daemon *d) AD_MUST_CHECK;
/* Stop the watches and free what is held. */
void kube_sync_stop(struct kube_sync *k);
/* Whether every watch has listed once (pods, namespaces, AllowLists when on). */
bool kube_sync_ready(const struct kube_sync *k);

#endif
