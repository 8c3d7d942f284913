/*
 * object.c: watch events, LIST pages and Status objects, and the metadata
 * every object shares; the kinds' own fields are pod.c's and
 * allowlist.c's.
 */
#include <stdio.h>
#include <string.h>

#include "kube/kube_int.h"
#include "kube/error.h"

const char *
kube_kind_name(enum kube_kind k)
{
	switch (k) {
	case KUBE_PODS:
		return "pods";
	case KUBE_NAMESPACES:
		return "namespaces";
	case KUBE_ALLOWLISTS:
		return "allowlists";
	}
	return "unknown";
}

int
kube__bad(char *err, size_t errlen, const char *path, const char *what)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, what);
	return KUBE_E_JSON;
}

int
kube__str(const json_t *obj, const char *key, char *out, size_t size)
{
	const json_t *v = json_object_get(obj, key);
	size_t n;
	const char *s;

	out[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return KUBE_E_JSON;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= size)
		return KUBE_E_JSON;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return KUBE_E_JSON;
	memcpy(out, s, n);
	out[n] = '\0';
	return 1;
}

void
kube_object_free(struct kube_object *o)
{
	if (o->kind == KUBE_ALLOWLISTS && o->u.al.valid) {
		policy_set_free(&o->u.al.set);
		o->u.al.valid = false;
	}
}

static json_t *
load(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &je);

	if (root == NULL && err != NULL && errlen > 0)
		snprintf(err, errlen, "JSON (byte %d): %s", je.position, je.text);
	return root;
}

/* metadata: name (and namespace) required, uid and resourceVersion as sent. */
static int
decode_meta(const json_t *o, struct kube_object *obj, bool bookmark, char *err, size_t errlen)
{
	const json_t *md = json_object_get(o, "metadata");

	if (!json_is_object(md))
		return kube__bad(err, errlen, "metadata", "missing or not an object");
	if (kube__str(md, "resourceVersion", obj->rv, sizeof(obj->rv)) < 0)
		return kube__bad(err, errlen, "metadata.resourceVersion", "not a short string");
	if (bookmark)
		return 0;
	if (kube__str(md, "name", obj->name, sizeof(obj->name)) != 1 || obj->name[0] == '\0')
		return kube__bad(err, errlen, "metadata.name", "missing or too long");
	if (kube__str(md, "namespace", obj->ns, sizeof(obj->ns)) < 0)
		return kube__bad(err, errlen, "metadata.namespace", "not a short string");
	if (kube__str(md, "uid", obj->uid, sizeof(obj->uid)) < 0)
		return kube__bad(err, errlen, "metadata.uid", "not a short string");
	if (obj->kind == KUBE_PODS && obj->ns[0] == '\0')
		return kube__bad(err, errlen, "metadata.namespace", "a pod must have one");
	return 0;
}

static int
decode_object(const json_t *o, const struct kube_decode *d, struct kube_object *obj,
    char *err, size_t errlen)
{
	int r;

	memset(obj, 0, sizeof(*obj));
	obj->kind = d->kind;
	if (!json_is_object(o))
		return kube__bad(err, errlen, "object", "not an object");
	if ((r = decode_meta(o, obj, false, err, errlen)) != 0)
		return r;
	switch (d->kind) {
	case KUBE_PODS:
		return kube__pod_decode(o, d, &obj->u.pod, err, errlen);
	case KUBE_NAMESPACES:
		return kube__namespace_decode(o, d, &obj->u.ns, err, errlen);
	case KUBE_ALLOWLISTS:
		return kube__allowlist_decode(o, obj->name, &obj->u.al, err, errlen);
	}
	return KUBE_E_INVAL;
}

static int
decode_status(const json_t *o, struct kube_status *st)
{
	const json_t *code = json_object_get(o, "code");
	char kind[16];

	memset(st, 0, sizeof(*st));
	if (!json_is_object(o) || kube__str(o, "kind", kind, sizeof(kind)) != 1 ||
	    strcmp(kind, "Status") != 0 || !json_is_integer(code) ||
	    json_integer_value(code) < 0 || json_integer_value(code) > 999)
		return KUBE_E_JSON;
	st->code = (int)json_integer_value(code);
	/* Reason and message are for logs: a long one is cut, not refused. */
	if (kube__str(o, "reason", st->reason, sizeof(st->reason)) < 0)
		snprintf(st->reason, sizeof(st->reason), "(unreadable)");
	if (kube__str(o, "message", st->message, sizeof(st->message)) < 0)
		snprintf(st->message, sizeof(st->message), "(long or unreadable message)");
	return 0;
}

int
kube_status_parse(const uint8_t *p, size_t n, struct kube_status *st)
{
	json_t *root = load(p, n, NULL, 0);
	int r;

	if (root == NULL) {
		memset(st, 0, sizeof(*st));
		return KUBE_E_JSON;
	}
	r = decode_status(root, st);
	json_decref(root);
	return r;
}

int
kube_event_parse(const uint8_t *p, size_t n, const struct kube_decode *d, struct kube_event *ev,
    char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum kube_event_type type;
	} types[] = {
		{ "ADDED", KUBE_EV_ADDED },
		{ "MODIFIED", KUBE_EV_MODIFIED },
		{ "DELETED", KUBE_EV_DELETED },
		{ "BOOKMARK", KUBE_EV_BOOKMARK },
		{ "ERROR", KUBE_EV_ERROR },
	};
	json_t *root;
	const json_t *o;
	char type[16];
	size_t i;
	int r = KUBE_E_JSON;

	memset(ev, 0, sizeof(*ev));
	ev->obj.kind = d->kind;
	if ((root = load(p, n, err, errlen)) == NULL)
		return KUBE_E_JSON;
	if (!json_is_object(root) || json_object_size(root) != 2 ||
	    kube__str(root, "type", type, sizeof(type)) != 1) {
		r = kube__bad(err, errlen, "event", "not {\"type\": ..., \"object\": ...}");
		goto out;
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i].name) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0])) {
		r = kube__bad(err, errlen, "event.type", "not ADDED, MODIFIED, DELETED, BOOKMARK or ERROR");
		goto out;
	}
	ev->type = types[i].type;
	o = json_object_get(root, "object");
	if (!json_is_object(o)) {
		r = kube__bad(err, errlen, "event.object", "missing or not an object");
		goto out;
	}
	switch (ev->type) {
	case KUBE_EV_ERROR:
		r = decode_status(o, &ev->status);
		if (r != 0)
			r = kube__bad(err, errlen, "event.object", "an ERROR event without a Status");
		break;
	case KUBE_EV_BOOKMARK:
		r = decode_meta(o, &ev->obj, true, err, errlen);
		if (r == 0 && ev->obj.rv[0] == '\0')
			r = kube__bad(err, errlen, "event.object.metadata.resourceVersion",
			    "a bookmark must carry one");
		break;
	default:
		r = decode_object(o, d, &ev->obj, err, errlen);
		if (r != 0)
			kube_object_free(&ev->obj);
		break;
	}
out:
	json_decref(root);
	return r;
}

int
kube_list_parse(const uint8_t *p, size_t n, const struct kube_decode *d, kube_item_cb cb,
    void *arg, char rv[static KUBE_RV_MAX + 1], char cont[static KUBE_CONTINUE_MAX + 1],
    char *err, size_t errlen)
{
	json_t *root;
	const json_t *md, *items, *it;
	struct kube_object obj;
	size_t i;
	int r = 0;

	rv[0] = cont[0] = '\0';
	if ((root = load(p, n, err, errlen)) == NULL)
		return KUBE_E_JSON;
	md = json_object_get(root, "metadata");
	items = json_object_get(root, "items");
	if (!json_is_object(root) || !json_is_object(md)) {
		r = kube__bad(err, errlen, "list.metadata", "missing or not an object");
		goto out;
	}
	if (kube__str(md, "resourceVersion", rv, KUBE_RV_MAX + 1) != 1 || rv[0] == '\0') {
		r = kube__bad(err, errlen, "list.metadata.resourceVersion", "missing or too long");
		goto out;
	}
	if (kube__str(md, "continue", cont, KUBE_CONTINUE_MAX + 1) < 0) {
		r = kube__bad(err, errlen, "list.metadata.continue", "not a short string");
		goto out;
	}
	/* An empty list is sent as "items": [] or, by some servers, null. */
	if (items != NULL && !json_is_null(items) && !json_is_array(items)) {
		r = kube__bad(err, errlen, "list.items", "not an array");
		goto out;
	}
	json_array_foreach(items, i, it) {
		if ((r = decode_object(it, d, &obj, err, errlen)) != 0) {
			kube_object_free(&obj);
			goto out;
		}
		if ((r = cb(arg, &obj)) != 0)
			goto out;
	}
out:
	if (r != 0)
		rv[0] = cont[0] = '\0';
	json_decref(root);
	return r;
}
