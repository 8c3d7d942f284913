/*
 * What authd reads from the Kubernetes API, decoded from JSON into plain
 * structs: watch events and LIST pages of pods, namespaces and AllowLists,
 * and Status objects (an error's code and reason). The JSON parser is
 * jansson, with duplicate keys rejected (as the policy file parser rejects
 * them) and its input bounded by kube/resp.h's limits before it gets here;
 * no JSON type leaves this library.
 *
 * A pod becomes a workload (kube_pod_workload) and an AllowList a policy
 * set (decoded with policy_set_parse, the policy file's own parser, so a
 * custom resource is judged exactly as a file would be).
 *
 * Errors: KUBE_E_JSON with a message in err (what is wrong, and where),
 * KUBE_E_NOMEM, KUBE_E_INVAL.
 */
#ifndef AUTHD_KUBE_OBJECT_H
#define AUTHD_KUBE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/util.h"
#include "kube/error.h"
#include "policy/policy.h"
#include "policy/workload.h"

/* Object names are DNS subdomains (253); UIDs, label values and resourceVersions are shorter. */
#define KUBE_NAME_MAX 253
#define KUBE_UID_MAX 63
#define KUBE_LABEL_MAX 63
#define KUBE_RV_MAX 63
#define KUBE_CONTINUE_MAX 4096
/* Pod container ports authd turns into app addresses: as many as a workload holds. */
#define KUBE_PORTS_MAX WORKLOAD_APPS_MAX
/* The pod annotation naming the workload's mesh listener (until in-pod capture). */
#define KUBE_LISTEN_ANNOTATION "authd.io/listen"
/* The label value that enrolls (on a namespace or pod) and the one that opts a pod out. */
#define KUBE_ENROLL_ON "enabled"
#define KUBE_ENROLL_OFF "disabled"

enum kube_kind {
	KUBE_PODS,
	KUBE_NAMESPACES,
	KUBE_ALLOWLISTS,
};

/* "pods", "namespaces", "allowlists": for logs and metrics. */
const char *kube_kind_name(enum kube_kind k);

struct kube_pod {
	char node[KUBE_NAME_MAX + 1];		/* spec.nodeName */
	char sa[KUBE_NAME_MAX + 1];		/* spec.serviceAccountName; "" = "default" */
	char phase[16];				/* status.phase, "" when longer or absent */
	char ip[ADDR_TEXT_MAX + 1];		/* status.podIP */
	bool host_network;			/* spec.hostNetwork */
	bool deleting;				/* metadata.deletionTimestamp is set */
	char enroll[KUBE_LABEL_MAX + 1];	/* the enroll label's value, "" when absent */
	bool has_listen;
	char listen[ADDR_TEXT_MAX + 1];		/* KUBE_LISTEN_ANNOTATION, when has_listen */
	size_t n_ports;				/* distinct TCP containerPorts, in spec order */
	uint16_t ports[KUBE_PORTS_MAX];
	bool ports_over;			/* more than KUBE_PORTS_MAX */
};

struct kube_namespace {
	char enroll[KUBE_LABEL_MAX + 1];	/* the enroll label's value, "" when absent */
};

struct kube_allowlist {
	int64_t generation;			/* metadata.generation: spec changes */
	bool valid;
	struct policy_set set;			/* when valid; kube_object_free releases it */
	char error[512];			/* when not: the policy parser's message */
};

struct kube_object {
	enum kube_kind kind;
	char ns[KUBE_NAME_MAX + 1];		/* "" for cluster-scoped objects */
	char name[KUBE_NAME_MAX + 1];
	char uid[KUBE_UID_MAX + 1];
	char rv[KUBE_RV_MAX + 1];		/* metadata.resourceVersion */
	union {
		struct kube_pod pod;
		struct kube_namespace ns;
		struct kube_allowlist al;
	} u;
};

/* Releases what an object owns (an AllowList's rules); the struct can be reused. */
void kube_object_free(struct kube_object *o);

/* How to decode: which kind, and the label key that enrolls ("authd.io/mesh"). */
struct kube_decode {
	enum kube_kind kind;
	const char *enroll_label;
};

enum kube_event_type {
	KUBE_EV_ADDED,
	KUBE_EV_MODIFIED,
	KUBE_EV_DELETED,
	KUBE_EV_BOOKMARK,	/* only obj.rv is set */
	KUBE_EV_ERROR,		/* code/reason/message are set; obj is not */
};

struct kube_status {
	int code;		/* HTTP-style: 410 for "too old" */
	char reason[64];	/* "Expired", "Gone", "Forbidden", ... */
	char message[256];
};

struct kube_event {
	enum kube_event_type type;
	struct kube_object obj;
	struct kube_status status;
};

/*
 * Decode one watch event (one line of a watch stream). On success the
 * caller owns ev->obj (kube_object_free). An unknown event type, a missing
 * or mistyped field the API always sends, or any duplicate key is
 * KUBE_E_JSON with err set.
 */
int kube_event_parse(const uint8_t *p, size_t n, const struct kube_decode *d,
    struct kube_event *ev, char *err, size_t errlen) AD_MUST_CHECK;

/*
 * Decode one LIST page: cb sees each item (owned by the callee: it must
 * kube_object_free or keep it), then *rv and *cont are the list's
 * resourceVersion and continue token ("" when it is the last page). A
 * non-zero return from cb stops and is returned.
 */
typedef int (*kube_item_cb)(void *arg, struct kube_object *o);
int kube_list_parse(const uint8_t *p, size_t n, const struct kube_decode *d, kube_item_cb cb,
    void *arg, char rv[static KUBE_RV_MAX + 1], char cont[static KUBE_CONTINUE_MAX + 1],
    char *err, size_t errlen) AD_MUST_CHECK;

/* A Status object (an error response's body). KUBE_E_JSON when it is not one. */
int kube_status_parse(const uint8_t *p, size_t n, struct kube_status *st) AD_MUST_CHECK;

/*
 * Whether pod o is a workload here, and which: a running pod (phase
 * Running, not finished) with an IP, not on the host network, enrolled by
 * its own label (KUBE_ENROLL_ON; KUBE_ENROLL_OFF opts out) or, without one,
 * by its namespace's (ns_enrolled). Returns 1 with *w filled (name, ns,
 * service account, pod UID; with the listen annotation, that listener and
 * one app address POD_IP:PORT per TCP container port), 0 when it is not a
 * workload (*why says why, for debug logs), or -EINVAL when it is enrolled
 * but cannot be one (*why says why: a name that is no DNS label, a bad
 * listen annotation, no ports to serve), which authd reports.
 */
int kube_pod_workload(const struct kube_object *o, bool ns_enrolled, struct workload *w,
    const char **why) AD_MUST_CHECK;

#endif
