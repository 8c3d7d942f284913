/*
 * Internals shared by the policy library's files.
 *
 * LMDB layout (one environment, one file):
 *   meta     "schema" -> u32, "revision" -> u64, "next_id" -> u64
 *   rules    rule id (u64, big-endian) -> rule record (record.c)
 *   index    (destination, source) selector pair -> rule entries (DUPSORT):
 *            id (u64 BE) | expires (i64) | nports (u8) | ranges (u16 lo, u16 hi)
 *   audit    destination selector key -> selector string
 *   history  revision (u64 BE) -> history record
 * Keys for selectors are the selector bytes when they fit LMDB's 511-byte
 * key limit, else a 128-bit BLAKE2b digest (policy__index_key).
 */
#ifndef AUTHD_POLICY_POLICY_INT_H
#define AUTHD_POLICY_POLICY_INT_H

#include <lmdb.h>

#include "policy/policy.h"

#define POLICY_SCHEMA 1

struct policy_store {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi rules;
	MDB_dbi index;
	MDB_dbi audit;
	MDB_dbi history;
	bool rdonly;
};

/* Largest encoded rule record and index key/value. */
#define POLICY_RECORD_MAX (64 + 2 * (SPIFFE_ID_MAX + 8) + 4 * POLICY_PORT_RANGES_MAX + \
	POLICY_COMMENT_MAX)
#define POLICY_KEY_MAX 511
#define POLICY_ENTRY_MAX (17 + 4 * POLICY_PORT_RANGES_MAX)

/* Encode a rule; with content_only, leave out id and created (apply's match key). */
int policy__rule_encode(const struct policy_rule *r, bool content_only, uint8_t *out, size_t cap,
    size_t *len) AD_MUST_CHECK;
/* Decode and validate a stored rule; POLICY_E_CORRUPT on any defect. */
int policy__rule_decode(const uint8_t *p, size_t len, struct policy_rule *r) AD_MUST_CHECK;

/* The index key for (dst, src) selector strings; returns its length. */
size_t policy__index_key(const char *dst, size_t dlen, const char *src, size_t slen,
    uint8_t key[static POLICY_KEY_MAX]);
/* The audit key for a destination selector string; returns its length. */
size_t policy__audit_key(const char *dst, size_t dlen, uint8_t key[static POLICY_KEY_MAX]);
/* The index entry of a rule; returns its length. */
size_t policy__entry_encode(const struct policy_rule *r, uint8_t out[static POLICY_ENTRY_MAX]);

/* Map an LMDB error to a POLICY_E_* code. */
int policy__mdb_err(int rc);

#endif
