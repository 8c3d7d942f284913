/*
 * The node's allow-list, stored in LMDB.
 *
 * A rule allows `from` -> `to` on some ports, optionally until an expiry
 * time. Selectors name an exact SPIFFE ID, a Kubernetes namespace
 * ("spiffe://TD/ns/NS/" then "*"), a whole trust domain ("spiffe://TD/"
 * then "*") or, on the `from` side only, any authenticated peer ("*"). Everything not allowed is
 * denied. A destination can be put in audit mode: a would-be denial is
 * reported as such and the traffic passes.
 *
 * Writers (authctl) change the store in single LMDB transactions that also
 * bump the revision and append to the history; readers (the daemon) check
 * with a bounded number of point lookups under one reused read transaction
 * and never wait for a writer.
 *
 * Errors: 0, or POLICY_E_* (from -1100), or CERTS_E_ID_* for a malformed
 * SPIFFE ID inside a selector. policy_strerror() describes any of them.
 */
#ifndef AUTHD_POLICY_POLICY_H
#define AUTHD_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "certs/spiffe.h"

enum policy_err {
	POLICY_E_INVAL = -1100,		/* invalid argument */
	POLICY_E_NOMEM = -1101,
	POLICY_E_SELECTOR = -1102,	/* malformed selector */
	POLICY_E_PORT = -1103,		/* malformed port or range */
	POLICY_E_FILE = -1104,		/* malformed policy file */
	POLICY_E_STORE = -1105,		/* LMDB failed (I/O, permissions) */
	POLICY_E_CORRUPT = -1106,	/* not an authd policy store, or damaged */
	POLICY_E_VERSION = -1107,	/* store written by a newer authd */
	POLICY_E_NOT_FOUND = -1108,	/* no such rule */
	POLICY_E_MAP_FULL = -1109,	/* store reached its size limit */
	POLICY_E_NO_STORE = -1110,	/* no store at that path */
	POLICY_E_TOO_BIG = -1111,	/* over a documented bound */
	POLICY_E_SIGNATURE = -1112,	/* bundle signature does not verify */
	POLICY_E_KEY = -1113,		/* malformed signing/verify key */
	POLICY_E_EXPIRED = -1114,	/* expiry time already past */
	POLICY_E_COMMENT = -1115,	/* comment too long or not printable */
	POLICY_E_MAP_OUTGROWN = -1116,	/* the store grew past this process's fixed map */
	POLICY_E_UNSIGNED = -1117,	/* the store accepts only signed changes */
};

const char *policy_strerror(int err);

/* ---- Selectors and ports (selector.c) ---------------------------------- */

enum policy_sel_kind {
	POLICY_SEL_ID = 0,	/* spiffe://td/path */
	POLICY_SEL_NS,		/* "spiffe://td/ns/NS/" then "*" */
	POLICY_SEL_TD,		/* "spiffe://td/" then "*" */
	POLICY_SEL_ANY,		/* * (from side only) */
};

enum policy_side { POLICY_FROM, POLICY_TO };

/* A selector in canonical form (lower-case scheme and trust domain). */
struct policy_selector {
	enum policy_sel_kind kind;
	size_t len;
	char str[SPIFFE_ID_MAX + 3];
};

/*
 * Parse a selector for the given side. On error *why (when not NULL) points
 * to a static sentence saying what is wrong (e.g. "a namespace selector is
 * spiffe://TD/ns/NAMESPACE/ then *"). Returns 0, POLICY_E_SELECTOR or a
 * CERTS_E_ID_* code for a malformed SPIFFE ID.
 */
int policy_selector_parse(const char *s, size_t len, enum policy_side side,
    struct policy_selector *sel, const char **why) AD_MUST_CHECK;

/* Whether sel selects id. */
bool policy_selector_matches(const struct policy_selector *sel, const struct spiffe_id *id);

#define POLICY_PORT_RANGES_MAX 32

/* Ports as sorted, merged, inclusive ranges within 1..65535. */
struct policy_ports {
	uint8_t n;
	struct {
		uint16_t lo;
		uint16_t hi;
	} r[POLICY_PORT_RANGES_MAX];
};

/*
 * Parse "443", "8000-8099", "80,443,8000-8099" or "all" / "*". At most
 * POLICY_PORT_RANGES_MAX ranges after merging. Returns 0 or POLICY_E_PORT
 * with *why set.
 */
int policy_ports_parse(const char *s, size_t len, struct policy_ports *ports, const char **why)
    AD_MUST_CHECK;
/* Add one range (lo <= hi, both 1..65535), keeping the set sorted and merged. */
int policy_ports_add(struct policy_ports *ports, uint16_t lo, uint16_t hi) AD_MUST_CHECK;
bool policy_ports_contains(const struct policy_ports *ports, uint16_t port);
bool policy_ports_all(const struct policy_ports *ports);
/* Longest formatted port set: 32 ranges of "65534-65535," and the NUL. */
#define POLICY_PORTS_FMT_MAX (12 * POLICY_PORT_RANGES_MAX + 1)
/* Format as "all" or "80,443,8000-8099" into buf (POLICY_PORTS_FMT_MAX bytes always fit). */
void policy_ports_format(const struct policy_ports *ports, char *buf, size_t size);

/* ---- Rules ------------------------------------------------------------- */

#define POLICY_COMMENT_MAX 256

struct policy_rule {
	uint64_t id;			/* assigned by the store; 0 before */
	struct policy_selector from;
	struct policy_selector to;
	struct policy_ports ports;
	int64_t expires;		/* seconds since the epoch; 0: never */
	int64_t created;		/* set by the store */
	char comment[POLICY_COMMENT_MAX + 1];
};

/*
 * Whether two rules say the same thing (selectors, ports, expiry, comment;
 * not id or creation time). apply uses it to keep ids stable.
 */
bool policy_rule_same(const struct policy_rule *a, const struct policy_rule *b);

/* Check a comment: at most POLICY_COMMENT_MAX bytes, printable UTF-8, no control bytes. */
int policy_comment_check(const char *s, size_t len) AD_MUST_CHECK;

/* ---- The store (store.c) ------------------------------------------------- */

struct policy_store;

enum {
	POLICY_OPEN_RDONLY = 1 << 0,	/* never write; the store must exist */
	POLICY_OPEN_CREATE = 1 << 1,	/* create the file when missing */
	/*
	 * map_size is the map for the store's life: never grown, never adopted
	 * from another process. For processes with transactions on several
	 * threads (authd), where a remap under a reader would be a crash: the
	 * map is address space only, so reserve the most the store may reach.
	 */
	POLICY_OPEN_FIXED_MAP = 1 << 2,
};

/*
 * Open the store at path (a single file; LMDB keeps its lock in
 * PATH-lock). map_size is the initial LMDB map size (0: POLICY_MAP_DEFAULT);
 * a write that fills the map doubles it and retries, up to POLICY_MAP_MAX,
 * then fails with POLICY_E_MAP_FULL and writes nothing. Returns POLICY_E_NO_STORE when missing (and not CREATE),
 * POLICY_E_CORRUPT for a file that is not an authd store, POLICY_E_VERSION
 * for a newer schema, -errno or POLICY_E_STORE otherwise. Clears reader
 * slots left by dead processes.
 */
int policy_store_open(const char *path, unsigned flags, uint64_t map_size,
    struct policy_store **out) AD_MUST_CHECK;

/* The map size a store starts with (map_size 0), and the most it grows to. */
#define POLICY_MAP_DEFAULT (1ull << 30)
#define POLICY_MAP_MAX (64ull << 30)
/*
 * Lower the most this process grows the map to (default POLICY_MAP_MAX; no
 * effect with POLICY_OPEN_FIXED_MAP): a quota, past which writes fail with
 * POLICY_E_MAP_FULL and change nothing.
 */
void policy_store_set_map_max(struct policy_store *s, uint64_t max);
/* Accepts NULL. */
void policy_store_close(struct policy_store *s);

/* The store's revision: bumped by every committed write. */
int policy_store_revision(struct policy_store *s, uint64_t *rev) AD_MUST_CHECK;

/* Bytes the store's data occupies (pages in use), and its map size. */
int policy_store_size(struct policy_store *s, uint64_t *used, uint64_t *map) AD_MUST_CHECK;

/* An Ed25519 public key (sign.c), raw and as base64 text. */
#define POLICY_PUBKEY_LEN 32
#define POLICY_PUBKEY_B64_LEN 44

/*
 * Who makes a write and when: for the history. A signed write also carries
 * its signature (base64, as policy_sign makes it) and, optionally, the key
 * it claims: a store that requires signatures checks the signature against
 * its own keys only (pub is then ignored); any other store checks it
 * against pub and records the signer in the history.
 */
struct policy_actor {
	const char *who;	/* e.g. "alice (uid 1000)" */
	int64_t now;
	const char *sig;	/* NULL: unsigned */
	size_t siglen;
	const uint8_t *pub;	/* POLICY_PUBKEY_LEN bytes, or NULL */
};

/*
 * Add a rule. rule->id and rule->created are set on success. A rule whose
 * expiry is at or before actor->now is POLICY_E_EXPIRED. An identical rule
 * already present is not added twice: its id is returned.
 */
int policy_add(struct policy_store *s, struct policy_rule *rule, const struct policy_actor *actor)
    AD_MUST_CHECK;

/* Remove rule id (POLICY_E_NOT_FOUND if absent). */
int policy_revoke(struct policy_store *s, uint64_t id, const struct policy_actor *actor)
    AD_MUST_CHECK;

/*
 * Remove every rule whose selectors are exactly from and to (as written,
 * not as matched). *n is how many were removed (0 is POLICY_E_NOT_FOUND).
 */
int policy_revoke_match(struct policy_store *s, const struct policy_selector *from,
    const struct policy_selector *to, size_t *n, const struct policy_actor *actor) AD_MUST_CHECK;

/* Turn audit mode on or off for a destination selector. */
int policy_audit_set(struct policy_store *s, const struct policy_selector *to, bool on,
    const struct policy_actor *actor) AD_MUST_CHECK;

/* One change apply makes or would make. */
struct policy_change {
	enum { POLICY_CHANGE_ADD, POLICY_CHANGE_REMOVE, POLICY_CHANGE_AUDIT_ON,
		POLICY_CHANGE_AUDIT_OFF } op;
	const struct policy_rule *rule;		/* for ADD and REMOVE */
	const struct policy_selector *to;	/* for AUDIT_* */
};
typedef void (*policy_change_cb)(const struct policy_change *c, void *arg);

/*
 * Make the store hold exactly these rules and audit destinations, in one
 * transaction. Rules already present (policy_rule_same) keep their ids.
 * With dry_run nothing is written. cb (may be NULL) sees every change.
 * *changes counts them. A no-op apply writes nothing and keeps the revision.
 * actor->sig, when set, signs the set's canonical text (policy_set_canonical).
 */
int policy_apply(struct policy_store *s, const struct policy_rule *rules, size_t n,
    const struct policy_selector *audit, size_t naudit, bool dry_run, policy_change_cb cb,
    void *arg, size_t *changes, const struct policy_actor *actor) AD_MUST_CHECK;

/*
 * ---- Stores that accept only signed changes (store.c) ----------------------
 *
 * A store can hold up to POLICY_SIGNERS_MAX public keys (meta "signers").
 * While it holds any, every write that changes rules or audit mode must be
 * a policy_apply whose actor->sig verifies under one of them; policy_add,
 * policy_revoke, policy_revoke_match and policy_audit_set (edits no one
 * signed) fail with POLICY_E_UNSIGNED, a signature by any other key with
 * POLICY_E_SIGNATURE, and nothing is written. Dry runs are not writes.
 */
#define POLICY_SIGNERS_MAX 8

struct policy_signers {
	size_t n;
	uint8_t key[POLICY_SIGNERS_MAX][POLICY_PUBKEY_LEN];
};

/* The store's keys; n == 0 when it accepts unsigned changes. */
int policy_signers_get(struct policy_store *s, struct policy_signers *out) AD_MUST_CHECK;

/*
 * The text that changing the keys to next (n == 0: off) must be signed
 * over while the store holds keys: names the store (an id derived from its
 * secret hash key), its current revision and the new keys, so a signature
 * is good for one change to one store only. Caller frees *out.
 */
int policy_signers_statement(struct policy_store *s, const struct policy_signers *next,
    char **out, size_t *len) AD_MUST_CHECK;

/*
 * Set the store's keys to next (n == 0: accept unsigned changes again).
 * From none, no signature is needed (the store only gets stricter). Once
 * it holds keys, actor->sig must sign policy_signers_statement(next) under
 * one of them: POLICY_E_UNSIGNED without, POLICY_E_SIGNATURE for any other
 * (including a statement for an older revision). Keys are deduplicated;
 * the same set again writes nothing.
 */
int policy_signers_set(struct policy_store *s, const struct policy_signers *next,
    const struct policy_actor *actor) AD_MUST_CHECK;

/* ---- Reading ------------------------------------------------------------- */

typedef int (*policy_rule_cb)(const struct policy_rule *rule, void *arg);

/*
 * Call cb for each rule in id order, optionally only those whose from/to
 * selectors equal the given ones (NULL: any). All from one snapshot. A
 * non-zero return from cb stops the walk and is returned.
 */
int policy_list(struct policy_store *s, const struct policy_selector *from,
    const struct policy_selector *to, policy_rule_cb cb, void *arg) AD_MUST_CHECK;

/* Read rule id into *rule. POLICY_E_NOT_FOUND when there is none. */
int policy_get(struct policy_store *s, uint64_t id, struct policy_rule *rule) AD_MUST_CHECK;

typedef int (*policy_audit_cb)(const struct policy_selector *to, void *arg);
int policy_audit_list(struct policy_store *s, policy_audit_cb cb, void *arg) AD_MUST_CHECK;

#define POLICY_HISTORY_WHAT_MAX 1024

struct policy_history {
	uint64_t revision;
	int64_t time;
	char who[128];
	char what[POLICY_HISTORY_WHAT_MAX + 1];
	bool is_signed;			/* the write carried a signature that verified */
	uint8_t signer[POLICY_PUBKEY_LEN];	/* by this key, when is_signed */
};
typedef int (*policy_history_cb)(const struct policy_history *h, void *arg);

/* The last n history entries (0: all), oldest first. */
int policy_history_list(struct policy_store *s, size_t n, policy_history_cb cb, void *arg)
    AD_MUST_CHECK;

/*
 * Check the store's internal consistency (every rule indexed exactly once,
 * every index entry backed by its rule, history up to the revision). Fills
 * *rules with the rule count. POLICY_E_CORRUPT with *why on a mismatch.
 */
int policy_store_verify(struct policy_store *s, size_t *rules, const char **why) AD_MUST_CHECK;

/* ---- Decisions (match.c) ------------------------------------------------- */

struct policy_reader;

/*
 * A reader: one read transaction, reset between checks and renewed for the
 * next, so a check costs no allocation and never blocks on a writer. Use a
 * reader from one thread at a time (one per daemon thread).
 */
int policy_reader_new(struct policy_store *s, struct policy_reader **out) AD_MUST_CHECK;
void policy_reader_free(struct policy_reader *r);

enum policy_verdict {
	POLICY_DENY = 0,
	POLICY_ALLOW,
	POLICY_AUDIT,		/* would be denied; the destination is in audit mode */
};

enum policy_reason {
	POLICY_R_RULE = 0,	/* allowed by rule_id */
	POLICY_R_NO_RULE,	/* no rule names this source and destination */
	POLICY_R_PORT,		/* rules (rule_id: the first) allow other ports only */
	POLICY_R_EXPIRED,	/* the only matching rule (rule_id) has expired */
};

struct policy_decision {
	enum policy_verdict verdict;
	enum policy_reason reason;
	uint64_t rule_id;	/* the rule that allows, or that came closest */
	uint64_t revision;	/* the store revision the decision was made at */
	/*
	 * POLICY_ALLOW: when the allowing rule expires (UNIX seconds; 0 =
	 * never). Until then, or the next revision, the answer cannot change,
	 * so a caller holding connections re-checks them only then.
	 */
	int64_t expires;
};

/*
 * May src reach dst on port at time now? At most 3 + 12 point lookups
 * (destination exact/namespace/trust domain, then each with source
 * exact/namespace/trust domain/any, skipping what no rule names), most
 * specific first: the reported rule is the first that
 * allows in that order (lowest id among equals). Deny by default.
 */
int policy_check(struct policy_reader *r, const struct spiffe_id *src,
    const struct spiffe_id *dst, uint16_t port, int64_t now, struct policy_decision *d)
    AD_MUST_CHECK;

/* The current revision, through the reader (cheap: one lookup). */
int policy_reader_revision(struct policy_reader *r, uint64_t *rev) AD_MUST_CHECK;

/* "allow", "deny", "audit" and "rule", "no-rule", "port", "expired". */
const char *policy_verdict_name(enum policy_verdict v);
const char *policy_reason_name(enum policy_reason r);

/* ---- Policy files and signed bundles (file.c, sign.c) --------------------- */

/* Largest policy file read, and most rules in one. */
#define POLICY_FILE_MAX_BYTES (256u * 1024 * 1024)
#define POLICY_FILE_MAX_RULES 2000000u

/* A parsed AllowList: rules (id 0) and audit destinations. */
struct policy_set {
	struct policy_rule *rules;
	size_t n;
	struct policy_selector *audit;
	size_t naudit;
};

/*
 * Parse an AllowList document (YAML or JSON, which is YAML):
 *
 *   apiVersion: authd.io/v1
 *   kind: AllowList
 *   metadata: {name: ...}            (optional)
 *   spec:
 *     audit: [SELECTOR, ...]         (optional)
 *     rules:
 *       - from: SELECTOR
 *         to: SELECTOR
 *         ports: 443 | "8000-8099" | [80, "8000-8099"] | "80,443" | all   (optional: all)
 *         expires: RFC3339 UTC       (optional)
 *         comment: TEXT              (optional)
 *
 * On error returns POLICY_E_FILE (or a more specific code) and writes a
 * message naming the place into err: "spec.rules[3].ports (line 12): ...".
 * Unknown fields are errors (a typo must not widen or narrow policy).
 */
int policy_set_parse(const uint8_t *data, size_t len, struct policy_set *set, char *err,
    size_t errlen) AD_MUST_CHECK;
void policy_set_free(struct policy_set *set);

/*
 * The canonical text of a rule set: a line naming the format
 * ("authd.io/v1 AllowList canonical"), one line per rule, sorted, then the
 * audit destinations sorted; ids and creation times excluded. Signing and
 * verifying bundles work on this, so formatting changes to the YAML do not
 * break a signature and any change to what it allows does.
 */
int policy_set_canonical(const struct policy_set *set, char **out, size_t *outlen) AD_MUST_CHECK;

/*
 * Ed25519 (libsodium) detached signatures over the canonical text, for
 * distributing policy as a signed bundle. Keys are files of base64 text:
 * the secret key (64 bytes, mode 0600) and the public key (32 bytes).
 * A signature is 64 bytes, base64 (88 characters).
 */
#define POLICY_SIG_B64_LEN 88

/* Write a new key pair; refuses to overwrite either file (-EEXIST). */
int policy_sign_keygen(const char *secret_path, const char *public_path) AD_MUST_CHECK;
/* Sign msg; sig receives NUL-terminated base64. POLICY_E_KEY for a bad key file. */
int policy_sign(const char *secret_path, const uint8_t *msg, size_t len,
    char sig[static POLICY_SIG_B64_LEN + 1]) AD_MUST_CHECK;
/*
 * Verify a base64 signature (surrounding whitespace ignored) over msg.
 * Returns 0, POLICY_E_SIGNATURE or POLICY_E_KEY.
 */
int policy_verify(const char *public_path, const uint8_t *msg, size_t len, const char *sig,
    size_t siglen) AD_MUST_CHECK;
/* The same with the key itself. */
int policy_verify_key(const uint8_t pub[static POLICY_PUBKEY_LEN], const uint8_t *msg,
    size_t len, const char *sig, size_t siglen) AD_MUST_CHECK;
/* Read a public key file (base64). Returns 0, POLICY_E_KEY or -errno. */
int policy_pubkey_read(const char *path, uint8_t pub[static POLICY_PUBKEY_LEN]) AD_MUST_CHECK;
/* The public key secret_path belongs to (so a CLI can name the signer). */
int policy_pubkey_of(const char *secret_path, uint8_t pub[static POLICY_PUBKEY_LEN])
    AD_MUST_CHECK;
/* A key as base64 text: POLICY_PUBKEY_B64_LEN characters and a NUL. */
void policy_pubkey_format(const uint8_t pub[static POLICY_PUBKEY_LEN],
    char out[static POLICY_PUBKEY_B64_LEN + 1]);

#endif
