/*
 * pod.c: the fields of a Pod authd acts on, and whether a pod is a
 * workload of this node. The node filter itself is the API server's
 * (fieldSelector=spec.nodeName); spec.nodeName is kept for the check that
 * it was applied.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kube/kube_int.h"
#include "kube/error.h"

/* Label or annotation key's value, as kube__str, from metadata.FIELD. */
static int
meta_value(const json_t *o, const char *field, const char *key, char *out, size_t size)
{
	const json_t *m = json_object_get(json_object_get(o, "metadata"), field);

	out[0] = '\0';
	if (m == NULL || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return KUBE_E_JSON;
	return kube__str(m, key, out, size);
}

static int
decode_ports(const json_t *spec, struct kube_pod *pod, char *err, size_t errlen)
{
	const json_t *cs = json_object_get(spec, "containers"), *c, *ports, *p;
	size_t i, j;

	if (cs == NULL || json_is_null(cs))
		return 0;
	if (!json_is_array(cs))
		return kube__bad(err, errlen, "spec.containers", "not an array");
	json_array_foreach(cs, i, c) {
		ports = json_object_get(c, "ports");
		if (ports == NULL || json_is_null(ports))
			continue;
		if (!json_is_array(ports))
			return kube__bad(err, errlen, "spec.containers[].ports", "not an array");
		json_array_foreach(ports, j, p) {
			const json_t *num = json_object_get(p, "containerPort");
			char proto[8];
			json_int_t v;
			bool dup = false;

			if (!json_is_integer(num) || (v = json_integer_value(num)) < 1 || v > 65535)
				return kube__bad(err, errlen, "spec.containers[].ports[].containerPort",
				    "not a port number");
			/* The protocol defaults to TCP; only TCP is proxied. */
			if (kube__str(p, "protocol", proto, sizeof(proto)) < 0)
				return kube__bad(err, errlen, "spec.containers[].ports[].protocol",
				    "not a short string");
			if (proto[0] != '\0' && strcmp(proto, "TCP") != 0)
				continue;
			for (size_t k = 0; k < pod->n_ports; k++)
				dup = dup || pod->ports[k] == (uint16_t)v;
			if (dup)
				continue;
			if (pod->n_ports == KUBE_PORTS_MAX) {
				pod->ports_over = true;
				continue;
			}
			pod->ports[pod->n_ports++] = (uint16_t)v;
		}
	}
	return 0;
}

int
kube__pod_decode(const json_t *o, const struct kube_decode *d, struct kube_pod *pod, char *err,
    size_t errlen)
{
	const json_t *spec = json_object_get(o, "spec"), *status = json_object_get(o, "status");
	const json_t *hn, *del;
	int r;

	memset(pod, 0, sizeof(*pod));
	if (!json_is_object(spec))
		return kube__bad(err, errlen, "spec", "missing or not an object");
	if (status != NULL && !json_is_null(status) && !json_is_object(status))
		return kube__bad(err, errlen, "status", "not an object");
	if (kube__str(spec, "nodeName", pod->node, sizeof(pod->node)) < 0)
		return kube__bad(err, errlen, "spec.nodeName", "not a short string");
	if ((r = kube__str(spec, "serviceAccountName", pod->sa, sizeof(pod->sa))) < 0)
		return kube__bad(err, errlen, "spec.serviceAccountName", "not a short string");
	hn = json_object_get(spec, "hostNetwork");
	if (hn != NULL && !json_is_boolean(hn))
		return kube__bad(err, errlen, "spec.hostNetwork", "not a boolean");
	pod->host_network = json_is_true(hn);
	if (json_is_object(status)) {
		/* An unknown, over-long phase is simply not "Running". */
		if (kube__str(status, "phase", pod->phase, sizeof(pod->phase)) < 0)
			pod->phase[0] = '\0';
		if (kube__str(status, "podIP", pod->ip, sizeof(pod->ip)) < 0)
			return kube__bad(err, errlen, "status.podIP", "not an address");
	}
	del = json_object_get(json_object_get(o, "metadata"), "deletionTimestamp");
	pod->deleting = del != NULL && !json_is_null(del);
	if (d->enroll_label != NULL && d->enroll_label[0] != '\0' &&
	    meta_value(o, "labels", d->enroll_label, pod->enroll, sizeof(pod->enroll)) < 0)
		return kube__bad(err, errlen, "metadata.labels", "not an object of short strings");
	r = meta_value(o, "annotations", KUBE_LISTEN_ANNOTATION, pod->listen, sizeof(pod->listen));
	/* A value too long to be an address is kept as "present, unusable". */
	pod->has_listen = r != 0;
	if (r < 0)
		pod->listen[0] = '\0';
	return decode_ports(spec, pod, err, errlen);
}

int
kube__namespace_decode(const json_t *o, const struct kube_decode *d, struct kube_namespace *ns,
    char *err, size_t errlen)
{
	memset(ns, 0, sizeof(*ns));
	if (d->enroll_label != NULL && d->enroll_label[0] != '\0' &&
	    meta_value(o, "labels", d->enroll_label, ns->enroll, sizeof(ns->enroll)) < 0)
		return kube__bad(err, errlen, "metadata.labels", "not an object of short strings");
	return 0;
}

static int
copy_field(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

int
kube_pod_workload(const struct kube_object *o, bool ns_enrolled, struct workload *w,
    const char **why)
{
	const struct kube_pod *p = &o->u.pod;
	const char *dummy;
	bool v6;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	memset(w, 0, sizeof(*w));
	if (o->kind != KUBE_PODS) {
		*why = "the object is not a pod";
		return -EINVAL;
	}
	if (strcmp(p->enroll, KUBE_ENROLL_OFF) == 0) {
		*why = "the pod opts out (label " KUBE_ENROLL_OFF ")";
		return 0;
	}
	if (strcmp(p->enroll, KUBE_ENROLL_ON) != 0 && !ns_enrolled) {
		*why = "neither the pod nor its namespace is enrolled";
		return 0;
	}
	if (p->host_network) {
		*why = "the pod is on the host network: its traffic is the node's";
		return 0;
	}
	if (strcmp(p->phase, "Running") != 0) {
		*why = "the pod is not running";
		return 0;
	}
	if (p->ip[0] == '\0') {
		*why = "the pod has no IP yet";
		return 0;
	}
	if (copy_field(w->name, sizeof(w->name), o->name) != 0 ||
	    copy_field(w->ns, sizeof(w->ns), o->ns) != 0) {
		*why = "the pod's name is longer than a DNS label (63)";
		return -EINVAL;
	}
	if (copy_field(w->sa, sizeof(w->sa), p->sa[0] ? p->sa : "default") != 0) {
		*why = "the pod's service account name is longer than a DNS label (63)";
		return -EINVAL;
	}
	if (o->uid[0] == '\0' || copy_field(w->pod_uid, sizeof(w->pod_uid), o->uid) != 0) {
		*why = "the pod has no usable metadata.uid";
		return -EINVAL;
	}
	if (p->has_listen) {
		if (copy_field(w->listen, sizeof(w->listen), p->listen) != 0 || p->listen[0] == '\0') {
			*why = "the " KUBE_LISTEN_ANNOTATION " annotation is not IP:PORT";
			return -EINVAL;
		}
		if (p->n_ports == 0) {
			*why = "the " KUBE_LISTEN_ANNOTATION " annotation needs a TCP containerPort to serve";
			return -EINVAL;
		}
		if (p->ports_over) {
			*why = "the pod declares more TCP containerPorts than a workload serves (8)";
			return -EINVAL;
		}
		v6 = strchr(p->ip, ':') != NULL;
		for (size_t i = 0; i < p->n_ports; i++)
			snprintf(w->apps[i], sizeof(w->apps[i]), v6 ? "[%s]:%u" : "%s:%u", p->ip,
			    p->ports[i]);
		w->n_apps = p->n_ports;
	}
	if (workload_validate(w, why) != 0) {
		if (p->has_listen && *why != NULL && strstr(*why, "listen") != NULL)
			*why = "the " KUBE_LISTEN_ANNOTATION " annotation is not IP:PORT";
		return -EINVAL;
	}
	return 1;
}
