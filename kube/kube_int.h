/*
 * Internals shared by the kube/ library's files: the JSON helpers and the
 * per-kind decoders object.c dispatches to. jansson stays behind this
 * header; nothing outside kube/ sees a json_t.
 */
#ifndef AUTHD_KUBE_KUBE_INT_H
#define AUTHD_KUBE_KUBE_INT_H

#include <jansson.h>

#include "kube/object.h"

/* Record "PATH: what" in err; returns KUBE_E_JSON. */
int kube__bad(char *err, size_t errlen, const char *path, const char *what);

/*
 * A string member: 0 and "" when absent (or JSON null), 1 when present and
 * it fits in size bytes with its NUL, KUBE_E_JSON when not a string, too
 * long or holding a control character.
 */
int kube__str(const json_t *obj, const char *key, char *out, size_t size);

int kube__pod_decode(const json_t *o, const struct kube_decode *d, struct kube_pod *pod,
    char *err, size_t errlen);
int kube__namespace_decode(const json_t *o, const struct kube_decode *d,
    struct kube_namespace *ns, char *err, size_t errlen);
int kube__allowlist_decode(const json_t *o, const char *name, struct kube_allowlist *al,
    char *err, size_t errlen);

#endif
