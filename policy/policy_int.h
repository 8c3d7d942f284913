/*
 * Internals shared by the policy library's files.
 *
 * LMDB layout (one environment, one file):
 *   meta     "schema" -> u32, "revision" -> u64, "next_id" -> u64,
 *            "hash_key" -> 16 random bytes (made with the store),
 *            "signers" -> 1 to 8 Ed25519 public keys (32 bytes each), present
 *            only while the store accepts signed changes only (store.c)
 *   rules    rule id (u64, big-endian) -> rule record (record.c)
 *   index    H(dst)[0..8] | H(src)[0..8] -> rule entries (DUPSORT):
 *            id (u64 BE) | expires (i64) | H(dst)[8..12] | H(src)[8..12] |
 *            nports (u8) | ranges (u16 lo, u16 hi)
 *   dsts     H(dst)[0..8] -> rules protecting that destination, counted per
 *            kind of source selector (4 x u32: exact, namespace, domain, any)
 *   audit    H(dst)[0..8] -> destination selector string
 *   history  revision (u64 BE) -> history record
 *   signed   revision (u64 BE) -> the Ed25519 key that signed that write;
 *            made by the first signed write (older stores have none)
 *
 * H is SipHash-2-4 with 128-bit output (libsodium's siphashx24) under the
 * store's random key. Short fixed-size keys keep the index dense and
 * shallow, so a check touches few pages whatever the number of rules; the
 * 32 extra bits in each entry make a false match need a 96-bit collision on
 * both selectors under a key the writer never chose.
 */
#ifndef AUTHD_POLICY_POLICY_INT_H
#define AUTHD_POLICY_POLICY_INT_H

#include <lmdb.h>

#include "policy/policy.h"

/*
 * The newest schema this code reads. A store is written as schema 1 until
 * it requires signed changes ("signers" in meta), then as 2 until it no
 * longer does, so an authd from before signed-only stores, which would
 * not enforce them, refuses such a store (POLICY_E_VERSION) and reads
 * every other.
 */
#define POLICY_SCHEMA 2
#define POLICY_SCHEMA_PLAIN 1

#define POLICY_HASH_LEN 16
#define POLICY_IKEY_LEN 16
#define POLICY_DKEY_LEN 8
#define POLICY_DST_KINDS 4

struct policy_store {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi rules;
	MDB_dbi index;
	MDB_dbi dsts;
	MDB_dbi audit;
	MDB_dbi history;
	bool rdonly;
	bool fixed_map;		/* POLICY_OPEN_FIXED_MAP */
	uint64_t map_max;	/* the most policy__store_grow goes to */
	uint8_t hash_key[16];
};

/* Largest encoded rule record and index entry. */
#define POLICY_RECORD_MAX (64 + 2 * (SPIFFE_ID_MAX + 8) + 4 * POLICY_PORT_RANGES_MAX + \
	POLICY_COMMENT_MAX)
#define POLICY_ENTRY_MAX (25 + 4 * POLICY_PORT_RANGES_MAX)
/* Where an entry's check bytes and port count start. */
#define POLICY_ENTRY_CHECK 16
#define POLICY_ENTRY_PORTS 24

/* Encode a rule; with content_only, leave out id and created (apply's match key). */
int policy__rule_encode(const struct policy_rule *r, bool content_only, uint8_t *out, size_t cap,
    size_t *len) AD_MUST_CHECK;
/* Decode and validate a stored rule; POLICY_E_CORRUPT on any defect. */
int policy__rule_decode(const uint8_t *p, size_t len, struct policy_rule *r) AD_MUST_CHECK;

/* H(selector) under the store's key. */
void policy__hash(const uint8_t key[static 16], const char *sel, size_t len,
    uint8_t out[static POLICY_HASH_LEN]);
/* The index key of (destination, source) hashes. */
void policy__index_key(const uint8_t hdst[static POLICY_HASH_LEN],
    const uint8_t hsrc[static POLICY_HASH_LEN], uint8_t key[static POLICY_IKEY_LEN]);
/* A rule's index key and entry; returns the entry's length. */
size_t policy__rule_index(const struct policy_store *s, const struct policy_rule *r,
    uint8_t key[static POLICY_IKEY_LEN], uint8_t ent[static POLICY_ENTRY_MAX]);
/* Whether an entry's check bytes match the two hashes. */
bool policy__entry_matches(const uint8_t *ent, size_t len, const uint8_t hdst[static POLICY_HASH_LEN],
    const uint8_t hsrc[static POLICY_HASH_LEN]);

/*
 * The store's LMDB environment, for modules that keep their own named
 * databases in the same file (the workload registry, registry.c).
 * Valid until policy_store_close. The environment is opened with MDB_NOTLS
 * and room for 16 named databases, of which the policy uses 7; users open
 * their databases per transaction, finish every transaction before the
 * store is closed, and follow the store's rules: transactions begin with
 * policy__txn_begin, and a write that hits MDB_MAP_FULL is aborted,
 * then redone when policy__store_grow says so.
 */
MDB_env *policy__store_env(struct policy_store *s);
/*
 * Begin a transaction (mdb_flags: 0 or MDB_RDONLY), or renew a reset read
 * transaction, adopting a map another process grew (POLICY_E_MAP_OUTGROWN
 * instead with POLICY_OPEN_FIXED_MAP). Every transaction on the
 * environment goes through these.
 */
int policy__txn_begin(struct policy_store *s, unsigned mdb_flags, MDB_txn **txn)
    AD_MUST_CHECK;
int policy__txn_renew(struct policy_store *s, MDB_txn *txn) AD_MUST_CHECK;
/*
 * Commit a write transaction, then touch the file's times. LMDB's last write
 * to the file (the meta page) comes before the new revision is visible to
 * readers, so a watcher woken by it may still read the old one; the touch
 * wakes it again (IN_ATTRIB) once the revision is visible.
 */
int policy__txn_commit(struct policy_store *s, MDB_txn *txn) AD_MUST_CHECK;
/*
 * After a write failed with POLICY_E_MAP_FULL (and was aborted): double the
 * map, up to the most allowed. True when it grew and the write may be redone.
 */
bool policy__store_grow(struct policy_store *s);
/* An LMDB return code as the store reports it (POLICY_E_*, or -errno), for those files. */
int policy__mdb_err(int rc);

#endif
