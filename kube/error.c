/* error.c: sentences for the kube/ library's error codes. */
#include "kube/error.h"

#include <string.h>

const char *
kube_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case KUBE_E_SYNTAX:
		return "malformed HTTP response";
	case KUBE_E_TOO_BIG:
		return "response or event larger than its limit";
	case KUBE_E_TRUNCATED:
		return "connection ended inside the response";
	case KUBE_E_NOMEM:
		return "out of memory";
	case KUBE_E_JSON:
		return "not the JSON the API documents";
	case KUBE_E_INVAL:
		return "invalid argument";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
	}
}
