/*
 * The kube/ library's error codes, shared by its modules. 0 is success;
 * failures are negative: KUBE_E_* below, or -errno.
 */
#ifndef AUTHD_KUBE_ERROR_H
#define AUTHD_KUBE_ERROR_H

enum kube_err {
	KUBE_E_SYNTAX = -1500,		/* malformed status line, header or chunk framing */
	KUBE_E_TOO_BIG = -1501,		/* a head, body or event over its bound */
	KUBE_E_TRUNCATED = -1502,	/* the connection ended inside the response */
	KUBE_E_NOMEM = -1503,
	KUBE_E_JSON = -1504,		/* not JSON, or not the shape the API documents */
	KUBE_E_INVAL = -1505,		/* a bad argument or setting */
};

/* A sentence for a KUBE_E_* code; never NULL. */
const char *kube_strerror(int err);

#endif
