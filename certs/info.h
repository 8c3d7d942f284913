/*
 * Human-readable facts about one certificate, for `authctl ca show`,
 * `authctl workload list` and the admin endpoints.
 */
#ifndef AUTHD_CERTS_INFO_H
#define AUTHD_CERTS_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "certs/spiffe.h"

struct certs_info {
	char subject[256];
	char issuer[256];
	char serial[80];		/* lower-case hex, no separators */
	char fingerprint[65];		/* SHA-256 of the DER, lower-case hex */
	char id[SPIFFE_ID_MAX + 1];	/* the URI SAN, "" when none */
	int64_t not_before;		/* seconds since the epoch, UTC */
	int64_t not_after;
	bool is_ca;
	bool self_signed;
};

/* Fill *info from one DER certificate. Returns 0 or CERTS_E_PEM. */
int certs_info_from_der(const uint8_t *der, size_t len, struct certs_info *info) AD_MUST_CHECK;

/*
 * Fill *info from the first certificate in a PEM or DER file.
 * Returns 0, -errno, or CERTS_E_PEM.
 */
int certs_info_load(const char *path, struct certs_info *info) AD_MUST_CHECK;

/* Format t as RFC 3339 UTC ("2026-11-25T20:48:07Z") into buf (>= 21 bytes). */
void certs_time_format(int64_t t, char *buf, size_t size);

#endif
