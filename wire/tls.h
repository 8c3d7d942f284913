/*
 * Mutual TLS for the mesh, over memory buffers: mbedTLS never touches a
 * socket. The event loop feeds received ciphertext in with tls_feed() and
 * sends whatever tls_pending_out() holds; both buffers are bounded, so a
 * stalled peer stops our reads instead of growing memory.
 *
 * Both ends present X509-SVIDs and verify each other: mbedTLS's path
 * validation against the bundle's anchors is the first gate, and our
 * X509-SVID rules (certs_verify_chain) run inside the handshake, so a
 * rejected peer gets an alert and the precise reason ("expired",
 * "foreign-trust-domain", ...) is kept for metrics.
 *
 * TLS 1.3 is preferred, TLS 1.2 allowed with ECDHE-ECDSA and AEAD suites only;
 * key exchange groups X25519 and P-256. Servers issue session tickets so
 * repeat clients resume without a signature or a certificate chain; the
 * peer's verified SPIFFE ID is carried in the ticket (a TLS 1.3 resumption
 * sends no certificate), so tls_peer_id() holds after resumption too.
 *
 * Threading: a config may be shared by sessions on several threads (one
 * loop per core shares each workload's configs and so its ticket keys); a
 * session belongs to one thread. Configure a config before sharing it.
 * Error codes are TLS_E_* below, or CERTS_E_* from tls_config_new.
 */
#ifndef AUTHD_WIRE_TLS_H
#define AUTHD_WIRE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct certs_bundle;
struct certs_svid;
struct spiffe_id;
struct tls_config;
struct tls_session;
struct tls_ticket;

enum tls_role {
	TLS_SERVER,
	TLS_CLIENT,
};

enum tls_err {
	TLS_E_INVAL = -1300,		/* invalid argument */
	TLS_E_NOMEM = -1301,
	TLS_E_AGAIN = -1302,		/* feed more input or flush output, then call again */
	TLS_E_CLOSED = -1303,		/* peer sent close_notify, or the transport hit EOF */
	TLS_E_TOO_BIG = -1304,		/* tls_feed: more than tls_feed_room() bytes */
	TLS_E_HANDSHAKE = -1305,	/* handshake failed (no shared parameters, bad messages) */
	TLS_E_PEER_CERT = -1306,	/* peer's certificate rejected; see tls_error_reason */
	TLS_E_PEER_ID = -1307,		/* server's SPIFFE ID is not the expected one */
	TLS_E_PEER_ALERT = -1308,	/* peer sent a fatal alert (e.g. it rejected our SVID) */
	TLS_E_PROTOCOL = -1309,		/* malformed or unauthentic records */
	TLS_E_NO_TICKET = -1310,	/* no (usable) resumption ticket */
	TLS_E_STATE = -1311,		/* call not valid in the session's current state */
	TLS_E_CRYPTO = -1312,		/* mbedTLS/PSA failure on our side */
};

/*
 * Bounds of the memory buffers. Input holds 32 KiB plus one largest TLS
 * record (16 KiB of payload, expansion and header); output holds what
 * tls_write queues (it stops taking plaintext at TLS_OUT_HIGH) plus room
 * for handshake flights, tickets and alerts.
 */
#define TLS_RECORD_MAX (16384 + 2048 + 5)
#define TLS_FEED_MAX (32768 + TLS_RECORD_MAX)
#define TLS_OUT_HIGH 32768
#define TLS_OUT_MAX (TLS_OUT_HIGH + 2 * TLS_RECORD_MAX)

/* Resumption tickets a server issues stay valid this long (seconds). */
#define TLS_TICKET_LIFETIME 3600

/*
 * A configuration shared by every connection of one role for one workload
 * identity. svid (our chain and key) and bundle (trust anchors) are
 * borrowed: the caller keeps both alive, unchanged, until the config and all
 * its sessions are freed. A server needs an svid; a client may pass NULL to
 * present no certificate. td is our trust domain; peers must be in it.
 * Returns 0, TLS_E_INVAL, TLS_E_NOMEM, TLS_E_CRYPTO, or a CERTS_E_ID_* code
 * for a bad td.
 */
int tls_config_new(enum tls_role role, struct certs_svid *svid, const struct certs_bundle *bundle,
    const char *td, struct tls_config **out) AD_MUST_CHECK;
/*
 * A client config for an ordinary HTTPS server, such as the Kubernetes API
 * server, rather than a mesh peer: mbedTLS verifies the server's chain
 * against the anchors in ca_pem (PEM text, len bytes, copied) and its
 * certificate's names against the session's server name, which must be set
 * with tls_session_set_server_name (else verification fails). TLS 1.3 only,
 * so an RSA server (kubeadm's default) needs only RSA-PSS signatures while
 * the mesh's TLS 1.2 suites stay ECDSA-only; ALPN http/1.1; no client
 * certificate, no tickets. A name mismatch is TLS_E_PEER_ID
 * ("peer-id-mismatch"); other refusals TLS_E_PEER_CERT with a certs_reason
 * token ("unknown-authority", "expired", ...). Returns 0, TLS_E_INVAL (no
 * certificate in ca_pem), TLS_E_NOMEM or TLS_E_CRYPTO.
 */
int tls_config_new_https(const uint8_t *ca_pem, size_t len, struct tls_config **out) AD_MUST_CHECK;
/* The DNS name or IP literal an HTTPS session's server must prove; before the handshake. */
int tls_session_set_server_name(struct tls_session *s, const char *name) AD_MUST_CHECK;
/* Wipes the ticket keys. Accepts NULL. Free all sessions first. */
void tls_config_free(struct tls_config *cfg);

/*
 * Client only: the server must authenticate as id (checked during the
 * handshake, after verification; a mismatch fails it with TLS_E_PEER_ID).
 * id NULL clears it. A session may override it (tls_session_set_expected_peer).
 * TLS_E_INVAL on a server config.
 */
int tls_config_set_expected_peer(struct tls_config *cfg, const struct spiffe_id *id) AD_MUST_CHECK;

/*
 * The clock (seconds since the epoch) peers' certificates and tickets are
 * judged against; default time(NULL). For tests. now NULL restores the
 * default.
 */
void tls_config_set_clock(struct tls_config *cfg, int64_t (*now)(void *arg), void *arg);

/*
 * A connection. The config must outlive it. Returns 0, TLS_E_NOMEM or
 * TLS_E_CRYPTO.
 */
int tls_session_new(struct tls_config *cfg, struct tls_session **out) AD_MUST_CHECK;
/* Wipes keys and buffers. Accepts NULL. */
void tls_session_free(struct tls_session *s);

/*
 * Client only, before the handshake starts: overrides the config's expected
 * peer. id is borrowed, not copied: keep it alive and unchanged until the
 * session is freed.
 */
int tls_session_set_expected_peer(struct tls_session *s, const struct spiffe_id *id) AD_MUST_CHECK;

/*
 * Append received ciphertext. Takes all len bytes or none: TLS_E_NOMEM, or TLS_E_TOO_BIG
 * when len > tls_feed_room() (nothing is appended; the session is
 * unaffected). Size socket reads by tls_feed_room() and stop reading while
 * tls_want_feed() is false; the room comes back as tls_handshake/tls_read
 * consume records.
 */
int tls_feed(struct tls_session *s, const uint8_t *p, size_t len) AD_MUST_CHECK;
size_t tls_feed_room(const struct tls_session *s);
bool tls_want_feed(const struct tls_session *s);
/* The transport reached EOF; reads past the buffered input return TLS_E_CLOSED. */
void tls_feed_eof(struct tls_session *s);

/*
 * Ciphertext waiting to be sent: *p points at it (valid until the next call
 * on s) and the length is returned; 0 when there is none. After the bytes
 * were written to the socket, tls_consume_out(s, n) drops the first n
 * (n <= the returned length).
 */
size_t tls_pending_out(struct tls_session *s, const uint8_t **p);
void tls_consume_out(struct tls_session *s, size_t n);

/*
 * Drive the handshake. Returns 0 once it is complete (and on later calls),
 * TLS_E_AGAIN while it needs more input (check tls_pending_out first: there
 * is usually output to send), or a failure: TLS_E_PEER_CERT, TLS_E_PEER_ID,
 * TLS_E_PEER_ALERT, TLS_E_PROTOCOL, TLS_E_HANDSHAKE, TLS_E_CRYPTO. Failures
 * are sticky: every later call returns the same code. An alert for the peer
 * may be waiting in tls_pending_out; send it before closing.
 *
 * With TLS 1.3 a client's handshake completes before the server has judged
 * the client's certificate; a rejection then arrives as TLS_E_PEER_ALERT
 * from tls_read. (An unpatched mbedTLS 3.6 server, Mbed-TLS/mbedtls#10877,
 * encrypts that alert under keys the client no longer reads with, so a
 * client also reports a first record that does not decrypt as
 * TLS_E_PEER_ALERT; later ones are TLS_E_PROTOCOL. authd's own build is
 * patched: mk/patches/mbedtls-tls13-alerts.patch.)
 */
int tls_handshake(struct tls_session *s) AD_MUST_CHECK;

/*
 * Decrypt up to len bytes of application data into buf; *got is set to the
 * count (0 on any error). Returns 0 (with *got > 0), TLS_E_AGAIN (feed more,
 * or flush output), TLS_E_CLOSED (close_notify or EOF; tls_error_reason says
 * "close-notify" or "truncated"; this closes the read side only: tls_write
 * and tls_close still work, as a TCP half-close), TLS_E_STATE before the handshake is
 * complete, or a sticky failure as for tls_handshake.
 */
int tls_read(struct tls_session *s, uint8_t *buf, size_t len, size_t *got) AD_MUST_CHECK;

/*
 * Encrypt up to len bytes from p into the output buffer; *put says how many
 * were taken. Returns 0 when all were, TLS_E_AGAIN when the output buffer
 * is at TLS_OUT_HIGH (*put < len): flush tls_pending_out and call again with
 * p + *put. In the rare case mbedTLS itself reports WANT_WRITE, a record is
 * half-written: the next tls_write must be given the same bytes again (it
 * is, when the caller passes p + *put as above; a shorter buffer is
 * TLS_E_INVAL). TLS_E_STATE before the handshake or after tls_close.
 */
int tls_write(struct tls_session *s, const uint8_t *p, size_t len, size_t *put) AD_MUST_CHECK;

/*
 * Queue a close_notify alert (flush it with tls_pending_out). 0, TLS_E_AGAIN
 * (flush, then call again), or a sticky failure. Writes are refused afterwards.
 */
int tls_close(struct tls_session *s) AD_MUST_CHECK;

/* The peer's verified SPIFFE ID once the handshake is complete, else NULL. */
const struct spiffe_id *tls_peer_id(const struct tls_session *s);
/*
 * The earliest notAfter (seconds) on the peer's verified path, or the one
 * carried in the ticket of a resumed session; 0 before the handshake. A
 * connection should not outlive it.
 */
int64_t tls_peer_not_after(const struct tls_session *s);
/* Whether the completed handshake resumed a ticket (no certificate was sent). */
bool tls_resumed(const struct tls_session *s);
/* "TLSv1.3", "TLSv1.2", or "unknown" before the handshake. */
const char *tls_version(const struct tls_session *s);
/* The IANA name of the negotiated suite, or "unknown". */
const char *tls_ciphersuite(const struct tls_session *s);

/*
 * A short stable token for the session's failure, for metrics, saying what
 * the peer did where mbedTLS tells: a certs_reason() token for identity
 * failures ("expired", "unknown-authority", "no-certificate",
 * "foreign-trust-domain", ...), "bad-certificate" (a Certificate message
 * that does not parse), "peer-id-mismatch", "peer-alert"; protocol errors
 * named after their TLS alert: "bad-record-mac", "bad-record",
 * "decode-error", "unexpected-message", "protocol-version",
 * "illegal-parameter", "unsupported-extension", "handshake-failure" (no
 * parameters in common, or a handshake signature that does not verify);
 * "bad-key-share", "message-too-big"; "key-update" (the peer sent a TLS
 * 1.3 KeyUpdate, which mbedTLS 3.6 does not implement: the connection
 * ends); "handshake-failed" (any other
 * mbedTLS refusal); "crypto-failure" and "no-memory" (our side);
 * "close-notify" or "truncated"; "ok" when none. docs/metrics.md lists them.
 */
const char *tls_error_reason(const struct tls_session *s);
/* The raw mbedTLS error behind the failure (for logs), or 0. */
int tls_mbedtls_error(const struct tls_session *s);

/*
 * Client resumption. tls_session_save_ticket copies the ticket the server
 * sent, with the server's verified identity, into a new tls_ticket the
 * caller owns. With TLS 1.3 the ticket arrives after the handshake: it is
 * processed by tls_read, so call that first. TLS_E_NO_TICKET when none has
 * arrived (or this one was saved already), TLS_E_STATE on a server or
 * before the handshake.
 *
 * tls_session_use_ticket offers t on a client session that has not started
 * its handshake. The server may decline and run a full handshake; either
 * way the peer is authenticated. TLS_E_NO_TICKET when t's peer certificate
 * has expired, TLS_E_PEER_ID when t's server is not the expected peer.
 * t is copied; free it when convenient.
 */
int tls_session_save_ticket(struct tls_session *s, struct tls_ticket **out) AD_MUST_CHECK;
int tls_session_use_ticket(struct tls_session *s, const struct tls_ticket *t) AD_MUST_CHECK;
/* Wipes the resumption secret. Accepts NULL. */
void tls_ticket_free(struct tls_ticket *t);

/* A sentence for a TLS_E_* code (CERTS_E_* and -errno too); never NULL. */
const char *tls_strerror(int err);

#endif
