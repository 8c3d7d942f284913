/* Target Functions: kube_event_parse, kube_list_parse, kube_status_parse, kube_pod_workload, kube_object_free */
/*
 * Feeds arbitrary bytes, as one watch event line, one LIST page and one
 * Status body, to the decoders for every kind, and aborts when a result
 * breaks what their callers rely on: every string NUL-terminated within its
 * field; a pod with a name and namespace and at most KUBE_PORTS_MAX
 * distinct, non-zero ports; a bookmark with a resourceVersion; an ERROR's
 * code within 0..999; an AllowList that is valid only with its set and
 * invalid only with a message; a LIST whose rv and continue are set only on
 * success, and whose callback's error stops it; a workload from a pod that
 * passes workload_validate, and a why for every refusal. ASan and
 * libFuzzer's leak check catch what is not freed (an AllowList's rules).
 * Deterministic: nothing is kept between runs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/object.h"
#include "policy/workload.h"
#include "tests/fuzz/fuzz.h"

#define STOP_ERR (-4242)

static bool
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

#define TERM(field) CHECK(terminated((field), sizeof(field)))

static void
check_object(const struct kube_object *o, enum kube_kind kind)
{
	CHECK(o->kind == kind);
	TERM(o->ns);
	TERM(o->name);
	TERM(o->uid);
	TERM(o->rv);
	CHECK(o->name[0] != '\0');
	for (size_t i = 0; o->name[i] != '\0'; i++)
		CHECK((unsigned char)o->name[i] >= 0x20 && o->name[i] != 0x7f);
	switch (kind) {
	case KUBE_PODS: {
		const struct kube_pod *p = &o->u.pod;

		CHECK(o->ns[0] != '\0');
		TERM(p->node);
		TERM(p->sa);
		TERM(p->phase);
		TERM(p->ip);
		TERM(p->enroll);
		TERM(p->listen);
		CHECK(p->has_listen || p->listen[0] == '\0');
		CHECK(p->n_ports <= KUBE_PORTS_MAX);
		CHECK(!p->ports_over || p->n_ports == KUBE_PORTS_MAX);
		for (size_t i = 0; i < p->n_ports; i++) {
			CHECK(p->ports[i] != 0);
			for (size_t j = 0; j < i; j++)
				CHECK(p->ports[i] != p->ports[j]);
		}
		break;
	}
	case KUBE_NAMESPACES:
		TERM(o->u.ns.enroll);
		break;
	case KUBE_ALLOWLISTS: {
		const struct kube_allowlist *al = &o->u.al;

		TERM(al->error);
		if (al->valid) {
			CHECK(al->set.n == 0 || al->set.rules != NULL);
		} else {
			CHECK(al->set.rules == NULL && al->set.n == 0);
			CHECK(al->error[0] != '\0');
		}
		break;
	}
	}
}

static void
check_workload(const struct kube_object *o)
{
	for (int ns = 0; ns < 2; ns++) {
		struct workload w;
		const char *why = "unset";
		int r = kube_pod_workload(o, ns != 0, &w, &why);

		CHECK(r == 1 || r == 0 || r == -EINVAL);
		if (r == 1) {
			CHECK(why == NULL);
			CHECK(workload_validate(&w, &why) == 0);
			CHECK(strcmp(w.pod_uid, o->uid) == 0);
			CHECK(w.n_apps == (o->u.pod.has_listen ? o->u.pod.n_ports : 0));
		} else {
			CHECK(why != NULL && why[0] != '\0');
		}
	}
}

struct list_ctx {
	enum kube_kind kind;
	size_t items;
	size_t stop_at;
};

static int
item_cb(void *arg, struct kube_object *o)
{
	struct list_ctx *l = arg;

	check_object(o, l->kind);
	if (l->kind == KUBE_PODS)
		check_workload(o);
	kube_object_free(o);
	l->items++;
	return l->stop_at != 0 && l->items == l->stop_at ? STOP_ERR : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum kube_kind kinds[] = { KUBE_PODS, KUBE_NAMESPACES, KUBE_ALLOWLISTS };
	struct kube_status st;
	int r;

	for (size_t k = 0; k < AD_ARRAY_LEN(kinds); k++) {
		struct kube_decode d = { kinds[k], "authd.io/mesh" };
		struct kube_event ev;
		struct list_ctx l = { kinds[k], 0, 0 };
		char err[256], rv[KUBE_RV_MAX + 1], cont[KUBE_CONTINUE_MAX + 1];

		err[0] = '\0';
		r = kube_event_parse(data, size, &d, &ev, err, sizeof(err));
		CHECK(r == 0 || r == KUBE_E_JSON || r == KUBE_E_NOMEM);
		TERM(err);
		if (r == KUBE_E_JSON)
			CHECK(err[0] != '\0');
		if (r == 0) {
			switch (ev.type) {
			case KUBE_EV_ADDED:
			case KUBE_EV_MODIFIED:
			case KUBE_EV_DELETED:
				check_object(&ev.obj, kinds[k]);
				if (kinds[k] == KUBE_PODS)
					check_workload(&ev.obj);
				break;
			case KUBE_EV_BOOKMARK:
				TERM(ev.obj.rv);
				CHECK(ev.obj.rv[0] != '\0');
				break;
			case KUBE_EV_ERROR:
				CHECK(ev.status.code >= 0 && ev.status.code <= 999);
				TERM(ev.status.reason);
				TERM(ev.status.message);
				break;
			default:
				abort();
			}
			kube_object_free(&ev.obj);
			kube_object_free(&ev.obj);
		}

		/* A LIST page read to its end, then again stopped at its second item. */
		for (int pass = 0; pass < 2; pass++) {
			l.items = 0;
			l.stop_at = pass == 0 ? 0 : 2;
			memset(rv, 'x', sizeof(rv));
			memset(cont, 'x', sizeof(cont));
			r = kube_list_parse(data, size, &d, item_cb, &l, rv, cont, err, sizeof(err));
			CHECK(r == 0 || r == KUBE_E_JSON || r == KUBE_E_NOMEM ||
			    (r == STOP_ERR && l.items == 2));
			TERM(rv);
			TERM(cont);
			if (r == 0)
				CHECK(rv[0] != '\0');
			else
				CHECK(rv[0] == '\0' && cont[0] == '\0');
		}
	}

	r = kube_status_parse(data, size, &st);
	CHECK(r == 0 || r == KUBE_E_JSON);
	TERM(st.reason);
	TERM(st.message);
	if (r == 0)
		CHECK(st.code >= 0 && st.code <= 999);
	else
		CHECK(st.code == 0);
	return 0;
}
