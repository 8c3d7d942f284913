/*
 * allowlist.c: an AllowList custom resource is the policy file's document
 * with the API server's metadata around it. Its spec is handed to the
 * policy file parser unchanged (as JSON, which is YAML), under the file's
 * apiVersion and kind, so a resource is accepted or refused exactly as the
 * same rules in a file given to `authctl policy apply` would be.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"
#include "kube/error.h"

int
kube__allowlist_decode(const json_t *o, const char *name, struct kube_allowlist *al, char *err,
    size_t errlen)
{
	const json_t *gen = json_object_get(json_object_get(o, "metadata"), "generation");
	const json_t *spec = json_object_get(o, "spec");
	json_t *doc = NULL;
	char *text = NULL;
	int r;

	memset(al, 0, sizeof(*al));
	if (gen != NULL && !json_is_integer(gen))
		return kube__bad(err, errlen, "metadata.generation", "not an integer");
	al->generation = gen != NULL ? (int64_t)json_integer_value(gen) : 0;
	/* The document the parser reads: the file's header, this object's name and spec. */
	doc = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "authd.io/v1", "kind", "AllowList",
	    "metadata", "name", name);
	if (doc == NULL || (spec != NULL && json_object_set(doc, "spec", (json_t *)spec) != 0)) {
		json_decref(doc);
		return KUBE_E_NOMEM;
	}
	/*
	 * ASCII only: YAML reads a raw U+0085 (NEL) inside a quoted scalar as a
	 * line break and folds it to a space; a \u escape it decodes verbatim,
	 * so the parser sees the strings the API server holds.
	 */
	text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(doc);
	if (text == NULL)
		return KUBE_E_NOMEM;
	r = policy_set_parse((const uint8_t *)text, strlen(text), &al->set, al->error,
	    sizeof(al->error));
	free(text);
	/* A spec the parser refuses is a valid object with invalid policy: reported, not fatal. */
	al->valid = r == 0;
	if (!al->valid)
		memset(&al->set, 0, sizeof(al->set));
	return 0;
}
