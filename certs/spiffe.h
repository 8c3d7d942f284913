/*
 * SPIFFE IDs: parsing, validation and formatting per the SPIFFE-ID standard
 * (spiffe://trust-domain/path).
 *
 * Rules enforced: scheme "spiffe" (any case), trust domain of 1-255 bytes
 * from [a-z0-9.-_] (upper case is folded to lower case, since the scheme and
 * trust domain compare case-insensitively), no port, userinfo, query,
 * fragment or percent-encoding; path segments from [A-Za-z0-9.-_], none
 * empty, "." or "..", no trailing '/'; whole ID at most 2048 bytes. The path
 * is case-sensitive.
 */
#ifndef AUTHD_CERTS_SPIFFE_H
#define AUTHD_CERTS_SPIFFE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/util.h"

#define SPIFFE_ID_MAX 2048
#define SPIFFE_TD_MAX 255

/*
 * A parsed ID. str holds the canonical form, NUL-terminated: scheme and
 * trust domain in lower case. The trust domain is str[9 .. 9+td_len); the
 * path (empty, or starting with '/') is str + 9 + td_len.
 */
struct spiffe_id {
	char str[SPIFFE_ID_MAX + 1];
	size_t len;
	size_t td_len;
};

/*
 * Parse len bytes at s (not necessarily NUL-terminated; an embedded NUL is
 * an invalid character). Returns 0 or a CERTS_E_ID_* code; on error *id is
 * left zeroed and, when where is not NULL, *where is the byte offset of the
 * offending character for messages ("at byte 17").
 * Accepts an empty path (a trust domain's own ID, as signing CAs carry).
 */
int spiffe_id_parse(const char *s, size_t len, struct spiffe_id *id, size_t *where) AD_MUST_CHECK;

/* Like spiffe_id_parse, and the path must be non-empty (a workload ID). */
int spiffe_id_parse_workload(const char *s, size_t len, struct spiffe_id *id, size_t *where) AD_MUST_CHECK;

/*
 * Validate a bare trust domain name ("example.org"); with out non-NULL,
 * write its lower-case form there (at least SPIFFE_TD_MAX + 1 bytes).
 */
int spiffe_td_parse(const char *s, size_t len, char *out, size_t *where) AD_MUST_CHECK;

/*
 * Build "spiffe://TD/ns/NS/sa/SA" and validate it. Returns as spiffe_id_parse.
 */
int spiffe_id_from_k8s(const char *td, const char *ns, const char *sa, struct spiffe_id *id) AD_MUST_CHECK;

/* Pointer to the trust domain (not NUL-terminated) and its length. */
const char *spiffe_id_td(const struct spiffe_id *id, size_t *len);
/* The path: "" or "/a/b", NUL-terminated. */
const char *spiffe_id_path(const struct spiffe_id *id);

/* Whether two parsed IDs are the same ID. */
bool spiffe_id_equal(const struct spiffe_id *a, const struct spiffe_id *b);
/* Whether id belongs to trust domain td (lower-case canonical name). */
bool spiffe_id_in_td(const struct spiffe_id *id, const char *td, size_t td_len);

#endif
