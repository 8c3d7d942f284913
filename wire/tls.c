/*
 * tls.c: mbedTLS over memory buffers, with SPIFFE identities.
 *
 * Verification runs twice over, on purpose: the config asks mbedTLS to
 * REQUIRE a verified peer certificate against the bundle's anchors, and the
 * per-session verify callback runs certs_verify_chain on the same chain for
 * the X509-SVID rules (exactly one SPIFFE URI SAN in our trust domain, leaf
 * key usage, ...). A peer must pass both, so a bug or a gap in either cannot
 * let a certificate through alone, and the handshake fails inside mbedTLS
 * with an alert rather than after it. The one flag we take away from mbedTLS
 * is its wall-clock validity verdict: certs_verify_chain judges every
 * certificate of the path against the configured clock instead.
 *
 * A TLS 1.3 resumption carries no certificate, and mbedTLS's tickets do not
 * hold one, so the server wraps each mbedTLS ticket together with the
 * client's verified SPIFFE ID and certificate expiry in a second AEAD layer
 * under a per-config key; the client keeps the server's identity next to its
 * copy of the session in struct tls_ticket.
 */
#include "wire/tls.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "certs/bundle.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/spiffe.h"
#include "certs/svid.h"
#include "certs/verify.h"

/* TLS 1.3 AEAD suites, then TLS 1.2 ECDHE-ECDSA with AEAD only. */
static const int tls_suites[] = {
	MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
	MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
	MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	0,
};

static const uint16_t tls_groups[] = {
	MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_NONE,
};

/* SVIDs are P-256; P-384 is accepted for peers' handshake signatures. */
static const uint16_t tls_sig_algs[] = {
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
	MBEDTLS_TLS1_3_SIG_NONE,
};

/*
 * An ordinary HTTPS server (the Kubernetes API): TLS 1.3 only, so an RSA
 * server certificate needs only RSA-PSS handshake signatures and the mesh's
 * TLS 1.2 key exchanges stay ECDSA-only. PKCS#1 v1.5 is listed for the
 * signatures on certificates (RFC 8446 4.2.3), never for CertificateVerify.
 */
static const int https_suites[] = {
	MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
	MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
	MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
	0,
};

static const uint16_t https_sig_algs[] = {
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
	MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
	MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
	MBEDTLS_TLS1_3_SIG_NONE,
};

static const char *https_alpn[] = { "http/1.1", NULL };

/*
 * Our ticket: version (1) || nonce (12) || AES-256-GCM of
 * [inner length (2) || mbedTLS ticket || peer notAfter (8) || ID length (2) || ID]
 * || tag (16), with the version byte as additional data.
 */
#define TICKET_VERSION 1
#define TICKET_NONCE_LEN 12
#define TICKET_TAG_LEN 16
#define TICKET_HEAD (1 + TICKET_NONCE_LEN)
#define TICKET_FIXED (TICKET_HEAD + TICKET_TAG_LEN + 2 + 8 + 2)

struct tls_config {
	enum tls_role role;
	mbedtls_ssl_config conf;
	mbedtls_ssl_ticket_context tickets;	/* server: mbedTLS's rotating ticket keys */
	psa_key_id_t id_key;			/* server: our outer ticket layer */
	const struct certs_bundle *bundle;
	char td[SPIFFE_TD_MAX + 1];
	bool have_expected;
	struct spiffe_id expected;
	int64_t (*now)(void *arg);
	void *now_arg;
	/* tls_config_new_https: an ordinary server, judged by mbedTLS against https_ca. */
	bool https;
	mbedtls_x509_crt https_ca;
};

/*
 * The session inside mbedtls_ssl_handshake() on this thread: mbedTLS's
 * ticket callbacks get only the config, and need the connection's peer. A
 * handshake runs to its return on one thread, so a thread-local pointer
 * lets loops on several threads share one config (and its ticket keys).
 */
static _Thread_local struct tls_session *tls_cur;

struct tls_session {
	struct tls_config *cfg;
	mbedtls_ssl_context ssl;

	uint8_t *in;		/* TLS_FEED_MAX bytes; [in_off, in_len) unread */
	size_t in_off, in_len;
	bool eof;
	uint8_t *out;		/* TLS_OUT_MAX bytes; [out_off, out_len) unsent */
	size_t out_off, out_len;
	size_t write_blocked;	/* length of a record mbedTLS has half-flushed */

	bool started, done, closing, ticket_ready;
	bool got_record;	/* a record was read after the handshake */
	bool read_closed;	/* the peer closed its side: close_notify or EOF */
	int err;		/* sticky TLS_E_* failure, or 0 */
	int mbed_err;		/* raw mbedTLS code behind err */
	const char *reason;

	/* The client's expected server: cfg->expected or the caller's (borrowed). */
	const struct spiffe_id *expected;

	/* Set by the verify callback during a full handshake. */
	bool verified;
	bool verify_ran;	/* the verify callback saw the peer's leaf */
	int verify_err;		/* CERTS_E_* or TLS_E_PEER_ID */
	/*
	 * Set when a ticket supplies the identity (server: parsed; client:
	 * offered), which then sits in peer until a full handshake's
	 * verification overwrites it. One ID per session, not three: an idle
	 * connection is mostly this struct and mbedTLS's buffers.
	 */
	bool have_ticket_peer;
	int64_t ticket_not_after;

	bool resumed;
	struct spiffe_id peer;
	int64_t peer_not_after;
};

struct tls_ticket {
	mbedtls_ssl_session session;
	struct spiffe_id peer;
	int64_t not_after;
};

static int64_t
cfg_now(const struct tls_config *cfg)
{
	return cfg->now != NULL ? cfg->now(cfg->now_arg) : (int64_t)time(NULL);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t
x509_seconds(const mbedtls_x509_time *t)
{
	return days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 +
	    t->min * 60 + t->sec;
}

static void
put_be(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Memory BIO: mbedTLS reads from s->in and writes to s->out. Both are
 * allocated when bytes arrive and freed when drained, so an idle
 * connection holds neither (they carry only ciphertext: no wiping).
 */

static int
bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tls_session *s = arg;
	size_t used = s->out_len - s->out_off, n;

	if (used == TLS_OUT_MAX)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (s->out == NULL && (s->out = malloc(TLS_OUT_MAX)) == NULL)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	n = len < TLS_OUT_MAX - used ? len : TLS_OUT_MAX - used;
	if (s->out_len + n > TLS_OUT_MAX) {
		memmove(s->out, s->out + s->out_off, used);
		s->out_off = 0;
		s->out_len = used;
	}
	memcpy(s->out + s->out_len, buf, n);
	s->out_len += n;
	return (int)n;
}

static int
bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tls_session *s = arg;
	size_t n = s->in_len - s->in_off;

	if (n == 0)
		return s->eof ? MBEDTLS_ERR_SSL_CONN_EOF : MBEDTLS_ERR_SSL_WANT_READ;
	if (n > len)
		n = len;
	memcpy(buf, s->in + s->in_off, n);
	s->in_off += n;
	if (s->in_off == s->in_len) {
		s->in_off = s->in_len = 0;
		free(s->in);
		s->in = NULL;
	}
	return (int)n;
}

/* Which mbedTLS flag carries a certs verdict, so the peer gets a fitting alert. */
static uint32_t
flag_for(int certs_err)
{
	switch (certs_err) {
	case CERTS_E_EXPIRED:
		return MBEDTLS_X509_BADCERT_EXPIRED;
	case CERTS_E_NOT_YET_VALID:
		return MBEDTLS_X509_BADCERT_FUTURE;
	case CERTS_E_UNKNOWN_AUTHORITY:
		return MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	default:
		return MBEDTLS_X509_BADCERT_OTHER;
	}
}

/* A reason token for what mbedTLS rejected when certs_verify_chain did not. */
static int
certs_err_for(uint32_t flags)
{
	if (flags & MBEDTLS_X509_BADCERT_MISSING)
		return CERTS_E_NO_CHAIN;
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		return CERTS_E_UNKNOWN_AUTHORITY;
	if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
		return CERTS_E_EXPIRED;
	if (flags & MBEDTLS_X509_BADCERT_FUTURE)
		return CERTS_E_NOT_YET_VALID;
	if (flags & MBEDTLS_X509_BADCERT_KEY_USAGE)
		return CERTS_E_LEAF_KEY_USAGE;
	if (flags & MBEDTLS_X509_BADCERT_EXT_KEY_USAGE)
		return CERTS_E_LEAF_EKU;
	if (flags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
		    MBEDTLS_X509_BADCERT_BAD_KEY))
		return CERTS_E_WEAK_CRYPTO;
	return CERTS_E_MALFORMED;
}

/*
 * mbedTLS calls this for each certificate of the path it built, the anchor
 * first and the leaf (depth 0, still linked to the rest of the presented
 * chain) last, whether or not the path verified.
 */
static int
verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_session *s = arg;
	struct tls_config *cfg = s->cfg;
	enum certs_role role = cfg->role == TLS_SERVER ? CERTS_ROLE_CLIENT : CERTS_ROLE_SERVER;
	int64_t na = x509_seconds(&crt->valid_to);
	struct spiffe_id id;
	int r;

	if (s->peer_not_after == 0 || na < s->peer_not_after)
		s->peer_not_after = na;
	if (cfg->https) {
		/* mbedTLS's own verdict (path, validity, server name) stands. */
		if (depth == 0) {
			s->verify_ran = true;
			if (*flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
				s->verify_err = TLS_E_PEER_ID;
			else if (*flags != 0)
				s->verify_err = certs_err_for(*flags);
			else
				s->verified = true;
		}
		return 0;
	}
	*flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
	if (depth != 0)
		return 0;

	s->verify_ran = true;
	r = certs_verify_chain(cfg->bundle, cfg->td, crt, cfg_now(cfg), role, &id);
	if (r != 0) {
		s->verify_err = r;
		*flags |= flag_for(r);
		return 0;
	}
	if (*flags != 0) {
		/* mbedTLS's path check refused what ours accepted: keep its verdict. */
		s->verify_err = certs_err_for(*flags);
		return 0;
	}
	if (s->expected != NULL && !spiffe_id_equal(&id, s->expected)) {
		s->verify_err = TLS_E_PEER_ID;
		*flags |= MBEDTLS_X509_BADCERT_OTHER;
		return 0;
	}
	s->peer = id;
	s->verified = true;
	return 0;
}

/* Server ticket callbacks: wrap mbedTLS's ticket with the client's identity. */

static int
ticket_write(void *arg, const mbedtls_ssl_session *session, unsigned char *start,
    const unsigned char *end, size_t *tlen, uint32_t *lifetime)
{
	struct tls_config *cfg = arg;
	struct tls_session *s = tls_cur;
	size_t cap = (size_t)(end - start), inner_len = 0, pt_len, ct_len = 0;
	const struct spiffe_id *peer;
	int64_t not_after;
	uint8_t *pt = NULL, *p;
	int ret;

	*tlen = 0;
	if (s == NULL || !(s->verified || s->have_ticket_peer))
		return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	/* A resumed session's new ticket carries the identity of the old one. */
	peer = &s->peer;
	not_after = s->verified ? s->peer_not_after : s->ticket_not_after;
	if (cap < TICKET_FIXED + peer->len + 1)
		return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
	if ((pt = calloc(1, cap)) == NULL)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	ret = mbedtls_ssl_ticket_write(&cfg->tickets, session, pt + 2,
	    pt + 2 + (cap - TICKET_FIXED - peer->len), &inner_len, lifetime);
	if (ret != 0)
		goto out;
	put_be(pt, inner_len, 2);
	p = pt + 2 + inner_len;
	put_be(p, (uint64_t)not_after, 8);
	put_be(p + 8, peer->len, 2);
	memcpy(p + 10, peer->str, peer->len);
	pt_len = 2 + inner_len + 10 + peer->len;

	start[0] = TICKET_VERSION;
	(void)certs_rng(NULL, start + 1, TICKET_NONCE_LEN);
	if (psa_aead_encrypt(cfg->id_key, PSA_ALG_GCM, start + 1, TICKET_NONCE_LEN, start, 1, pt,
		pt_len, start + TICKET_HEAD, cap - TICKET_HEAD, &ct_len) != PSA_SUCCESS) {
		ret = MBEDTLS_ERR_SSL_INTERNAL_ERROR;
		goto out;
	}
	*tlen = TICKET_HEAD + ct_len;
out:
	util_free_wiped(pt, cap);
	return ret;
}

static int
ticket_parse(void *arg, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
	struct tls_config *cfg = arg;
	struct tls_session *s = tls_cur;
	size_t pt_len = 0, inner_len, id_len;
	struct spiffe_id id;
	int64_t not_after;
	uint8_t *pt = NULL;
	int ret;

	if (s == NULL)
		return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	/* Only the last ticket parsed can be the one mbedTLS resumes. */
	s->have_ticket_peer = false;
	if (len < TICKET_FIXED || buf[0] != TICKET_VERSION)
		return MBEDTLS_ERR_SSL_INVALID_MAC;
	if ((pt = malloc(len)) == NULL)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	if (psa_aead_decrypt(cfg->id_key, PSA_ALG_GCM, buf + 1, TICKET_NONCE_LEN, buf, 1,
		buf + TICKET_HEAD, len - TICKET_HEAD, pt, len, &pt_len) != PSA_SUCCESS) {
		ret = MBEDTLS_ERR_SSL_INVALID_MAC;
		goto out;
	}
	/* Authentic, so well-formed unless our own writer is broken; check anyway. */
	ret = MBEDTLS_ERR_SSL_INVALID_MAC;
	if (pt_len < 2 + 10)
		goto out;
	inner_len = (size_t)get_be(pt, 2);
	if (inner_len > pt_len - 12)
		goto out;
	not_after = (int64_t)get_be(pt + 2 + inner_len, 8);
	id_len = (size_t)get_be(pt + 2 + inner_len + 8, 2);
	if (id_len != pt_len - 12 - inner_len ||
	    spiffe_id_parse_workload((const char *)pt + 12 + inner_len, id_len, &id, NULL) != 0)
		goto out;

	ret = mbedtls_ssl_ticket_parse(&cfg->tickets, session, pt + 2, inner_len);
	if (ret != 0)
		goto out;
	/* The client's certificate has expired since: make it show a fresh one. */
	if (cfg_now(cfg) > not_after) {
		ret = MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
		goto out;
	}
	s->peer = id;
	s->ticket_not_after = not_after;
	s->have_ticket_peer = true;
out:
	util_free_wiped(pt, len);
	return ret;
}

static int
map_psa(psa_status_t st)
{
	if (st == PSA_ERROR_INSUFFICIENT_MEMORY)
		return TLS_E_NOMEM;
	return TLS_E_CRYPTO;
}

int
tls_config_new(enum tls_role role, struct certs_svid *svid, const struct certs_bundle *bundle,
    const char *td, struct tls_config **out)
{
	psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
	struct tls_config *cfg = NULL;
	psa_status_t st;
	int err;

	*out = NULL;
	if ((role != TLS_SERVER && role != TLS_CLIENT) || bundle == NULL || td == NULL ||
	    (role == TLS_SERVER && svid == NULL))
		return TLS_E_INVAL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return TLS_E_NOMEM;
	cfg->role = role;
	cfg->bundle = bundle;
	cfg->id_key = PSA_KEY_ID_NULL;
	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_ssl_ticket_init(&cfg->tickets);
	if ((err = spiffe_td_parse(td, strlen(td), cfg->td, NULL)) != 0)
		goto out;

	err = TLS_E_CRYPTO;
	if (mbedtls_ssl_config_defaults(&cfg->conf,
		role == TLS_SERVER ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
		MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		goto out;
	mbedtls_ssl_conf_rng(&cfg->conf, certs_rng, NULL);
	mbedtls_ssl_conf_min_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_ciphersuites(&cfg->conf, tls_suites);
	mbedtls_ssl_conf_groups(&cfg->conf, tls_groups);
	mbedtls_ssl_conf_sig_algs(&cfg->conf, tls_sig_algs);
	/* TLS 1.3 resumption must still run ECDHE, for forward secrecy. */
	mbedtls_ssl_conf_tls13_key_exchange_modes(&cfg->conf,
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL |
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL);
	mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	/* mbedTLS only reads the anchors; the cast is for its non-const API. */
	mbedtls_ssl_conf_ca_chain(&cfg->conf,
	    (mbedtls_x509_crt *)(uintptr_t)certs_bundle_peek_chain(bundle), NULL);
	if (svid != NULL && mbedtls_ssl_conf_own_cert(&cfg->conf, certs_svid_peek_chain(svid),
		certs_svid_peek_key(svid)) != 0)
		goto out;

	if (role == TLS_SERVER) {
		if (mbedtls_ssl_ticket_setup(&cfg->tickets, certs_rng, NULL,
			MBEDTLS_CIPHER_AES_256_GCM, TLS_TICKET_LIFETIME) != 0)
			goto out;
		psa_set_key_type(&attr, PSA_KEY_TYPE_AES);
		psa_set_key_bits(&attr, 256);
		psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_ENCRYPT | PSA_KEY_USAGE_DECRYPT);
		psa_set_key_algorithm(&attr, PSA_ALG_GCM);
		if ((st = psa_generate_key(&attr, &cfg->id_key)) != PSA_SUCCESS) {
			err = map_psa(st);
			goto out;
		}
		mbedtls_ssl_conf_session_tickets_cb(&cfg->conf, ticket_write, ticket_parse, cfg);
	} else {
		mbedtls_ssl_conf_session_tickets(&cfg->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
		mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&cfg->conf,
		    MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
	}
	*out = cfg;
	cfg = NULL;
	err = 0;
out:
	psa_reset_key_attributes(&attr);
	tls_config_free(cfg);
	return err;
}

int
tls_config_new_https(const uint8_t *ca_pem, size_t len, struct tls_config **out)
{
	struct tls_config *cfg = NULL;
	uint8_t *pem = NULL;
	int err;

	*out = NULL;
	if (ca_pem == NULL || len == 0)
		return TLS_E_INVAL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return TLS_E_NOMEM;
	cfg->role = TLS_CLIENT;
	cfg->https = true;
	cfg->id_key = PSA_KEY_ID_NULL;
	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_ssl_ticket_init(&cfg->tickets);
	mbedtls_x509_crt_init(&cfg->https_ca);
	/* mbedtls_x509_crt_parse wants PEM NUL-terminated, and counted with the NUL. */
	err = TLS_E_NOMEM;
	if ((pem = malloc(len + 1)) == NULL)
		goto out;
	memcpy(pem, ca_pem, len);
	pem[len] = '\0';
	err = TLS_E_INVAL;
	if (mbedtls_x509_crt_parse(&cfg->https_ca, pem, len + 1) != 0 || cfg->https_ca.raw.len == 0)
		goto out;
	err = TLS_E_CRYPTO;
	if (mbedtls_ssl_config_defaults(&cfg->conf, MBEDTLS_SSL_IS_CLIENT,
		MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		goto out;
	mbedtls_ssl_conf_rng(&cfg->conf, certs_rng, NULL);
	mbedtls_ssl_conf_min_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_max_tls_version(&cfg->conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_ciphersuites(&cfg->conf, https_suites);
	mbedtls_ssl_conf_groups(&cfg->conf, tls_groups);
	mbedtls_ssl_conf_sig_algs(&cfg->conf, https_sig_algs);
	mbedtls_ssl_conf_tls13_key_exchange_modes(&cfg->conf,
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL);
	mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->https_ca, NULL);
	mbedtls_ssl_conf_session_tickets(&cfg->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	if (mbedtls_ssl_conf_alpn_protocols(&cfg->conf, https_alpn) != 0)
		goto out;
	*out = cfg;
	cfg = NULL;
	err = 0;
out:
	free(pem);
	tls_config_free(cfg);
	return err;
}

int
tls_session_set_server_name(struct tls_session *s, const char *name)
{
	if (s == NULL || !s->cfg->https || s->started || name == NULL || name[0] == '\0')
		return TLS_E_INVAL;
	switch (mbedtls_ssl_set_hostname(&s->ssl, name)) {
	case 0:
		return 0;
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		return TLS_E_NOMEM;
	default:
		return TLS_E_INVAL;
	}
}

void
tls_config_free(struct tls_config *cfg)
{
	if (cfg == NULL)
		return;
	mbedtls_x509_crt_free(&cfg->https_ca);
	mbedtls_ssl_ticket_free(&cfg->tickets);
	mbedtls_ssl_config_free(&cfg->conf);
	if (cfg->id_key != PSA_KEY_ID_NULL)
		(void)psa_destroy_key(cfg->id_key);
	util_free_wiped(cfg, sizeof(*cfg));
}

int
tls_config_set_expected_peer(struct tls_config *cfg, const struct spiffe_id *id)
{
	if (cfg == NULL || cfg->role != TLS_CLIENT)
		return TLS_E_INVAL;
	cfg->have_expected = id != NULL;
	if (id != NULL)
		cfg->expected = *id;
	return 0;
}

void
tls_config_set_clock(struct tls_config *cfg, int64_t (*now)(void *arg), void *arg)
{
	cfg->now = now;
	cfg->now_arg = arg;
}

int
tls_session_new(struct tls_config *cfg, struct tls_session **out)
{
	struct tls_session *s = NULL;
	int err = TLS_E_NOMEM;

	*out = NULL;
	if (cfg == NULL)
		return TLS_E_INVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return TLS_E_NOMEM;
	s->cfg = cfg;
	s->reason = "ok";
	s->expected = cfg->have_expected ? &cfg->expected : NULL;
	mbedtls_ssl_init(&s->ssl);
	switch (mbedtls_ssl_setup(&s->ssl, &cfg->conf)) {
	case 0:
		break;
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		goto out;
	default:
		err = TLS_E_CRYPTO;
		goto out;
	}
	mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
	mbedtls_ssl_set_verify(&s->ssl, verify_cb, s);
	/*
	 * SVIDs name workloads by URI SAN, not DNS: opt out of mbedTLS's
	 * hostname check explicitly (required since 3.6.3); certs_verify_chain
	 * and the expected-peer check take its place. An HTTPS session must be
	 * given its server's name (tls_session_set_server_name); without one
	 * mbedTLS refuses to verify, so a forgotten name cannot pass.
	 */
	if (cfg->role == TLS_CLIENT && !cfg->https && mbedtls_ssl_set_hostname(&s->ssl, NULL) != 0) {
		err = TLS_E_CRYPTO;
		goto out;
	}
	*out = s;
	s = NULL;
	err = 0;
out:
	tls_session_free(s);
	return err;
}

void
tls_session_free(struct tls_session *s)
{
	if (s == NULL)
		return;
	mbedtls_ssl_free(&s->ssl);
	free(s->in);
	free(s->out);
	util_free_wiped(s, sizeof(*s));
}

int
tls_session_set_expected_peer(struct tls_session *s, const struct spiffe_id *id)
{
	if (s == NULL || s->cfg->role != TLS_CLIENT || s->started)
		return TLS_E_INVAL;
	s->expected = id;
	return 0;
}

size_t
tls_feed_room(const struct tls_session *s)
{
	return TLS_FEED_MAX - (s->in_len - s->in_off);
}

bool
tls_want_feed(const struct tls_session *s)
{
	return tls_feed_room(s) > 0 && !s->eof;
}

int
tls_feed(struct tls_session *s, const uint8_t *p, size_t len)
{
	size_t used = s->in_len - s->in_off;

	if (len > tls_feed_room(s))
		return TLS_E_TOO_BIG;
	if (len == 0)
		return 0;
	if (s->in == NULL && (s->in = malloc(TLS_FEED_MAX)) == NULL)
		return TLS_E_NOMEM;
	if (s->in_len + len > TLS_FEED_MAX) {
		memmove(s->in, s->in + s->in_off, used);
		s->in_off = 0;
		s->in_len = used;
	}
	memcpy(s->in + s->in_len, p, len);
	s->in_len += len;
	return 0;
}

void
tls_feed_eof(struct tls_session *s)
{
	s->eof = true;
}

size_t
tls_pending_out(struct tls_session *s, const uint8_t **p)
{
	if (s->out == NULL) {
		*p = NULL;
		return 0;
	}
	*p = s->out + s->out_off;
	return s->out_len - s->out_off;
}

void
tls_consume_out(struct tls_session *s, size_t n)
{
	size_t used = s->out_len - s->out_off;

	s->out_off += n < used ? n : used;
	if (s->out_off == s->out_len) {
		s->out_off = s->out_len = 0;
		free(s->out);
		s->out = NULL;
	}
}

/* Record a failure; later calls return it. */
static int
fail(struct tls_session *s, int err, int mbed_err, const char *reason)
{
	s->err = err;
	s->mbed_err = mbed_err;
	s->reason = reason;
	return err;
}

/* Whether r is an X.509 parse error (a high-level code, maybe plus an ASN.1 one). */
static bool
x509_parse_error(int r)
{
	int high = -r & 0xff80;

	return r < 0 && high >= -MBEDTLS_ERR_X509_FEATURE_UNAVAILABLE &&
	    high <= -MBEDTLS_ERR_X509_FATAL_ERROR && high != -MBEDTLS_ERR_X509_CERT_VERIFY_FAILED &&
	    high != -MBEDTLS_ERR_X509_ALLOC_FAILED;
}

/*
 * Translate a failing mbedTLS code at the boundary. A reason says what the
 * peer did wrong where mbedTLS tells us; protocol errors are named after
 * the TLS alert that fits them (RFC 8446 6.2). "crypto-failure" is left for
 * failures on our side.
 */
static int
fail_mbed(struct tls_session *s, int r)
{
	if (x509_parse_error(r))
		return fail(s, TLS_E_PEER_CERT, r, "bad-certificate");
	switch (r) {
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
	case MBEDTLS_ERR_SSL_BAD_CERTIFICATE:
		if (s->verify_err == TLS_E_PEER_ID)
			return fail(s, TLS_E_PEER_ID, r, "peer-id-mismatch");
		if (s->verify_err != 0)
			return fail(s, TLS_E_PEER_CERT, r, certs_reason(s->verify_err));
		/*
		 * Our callback never ran: the Certificate message itself was
		 * refused. (mbedTLS's verify flags then read "all set",
		 * missing included, which is not what happened.)
		 */
		if (!s->verify_ran)
			return fail(s, TLS_E_PEER_CERT, r, "bad-certificate");
		return fail(s, TLS_E_PEER_CERT, r,
		    certs_reason(certs_err_for(mbedtls_ssl_get_verify_result(&s->ssl))));
	case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
		return fail(s, TLS_E_PEER_CERT, r, certs_reason(CERTS_E_NO_CHAIN));
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		return fail(s, TLS_E_PEER_ALERT, r, "peer-alert");
	case MBEDTLS_ERR_SSL_INVALID_MAC:
		return fail(s, TLS_E_PROTOCOL, r, "bad-record-mac");
	case MBEDTLS_ERR_SSL_INVALID_RECORD:
		return fail(s, TLS_E_PROTOCOL, r, "bad-record");
	case MBEDTLS_ERR_SSL_DECODE_ERROR:
		return fail(s, TLS_E_PROTOCOL, r, "decode-error");
	case MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE:
	case MBEDTLS_ERR_SSL_UNEXPECTED_RECORD:
		return fail(s, TLS_E_PROTOCOL, r, "unexpected-message");
	case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION:
		return fail(s, TLS_E_PROTOCOL, r, "protocol-version");
	case MBEDTLS_ERR_SSL_ILLEGAL_PARAMETER:
		return fail(s, TLS_E_PROTOCOL, r, "illegal-parameter");
	case MBEDTLS_ERR_SSL_UNSUPPORTED_EXTENSION:
		return fail(s, TLS_E_PROTOCOL, r, "unsupported-extension");
	case MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE:
		return fail(s, TLS_E_HANDSHAKE, r, "handshake-failure");
	case MBEDTLS_ERR_SSL_BAD_INPUT_DATA:
		/*
		 * Our own calls into mbedTLS are fixed and valid, so during a
		 * handshake this comes from what the peer sent: in the state
		 * that runs the key exchange, a key share PSA refused (not a
		 * point on the curve); otherwise a handshake message larger
		 * than the input buffer (MBEDTLS_SSL_IN_CONTENT_LEN).
		 */
		if (s->done)
			break;
		if (s->ssl.MBEDTLS_PRIVATE(state) == MBEDTLS_SSL_SERVER_HELLO)
			return fail(s, TLS_E_PROTOCOL, r, "bad-key-share");
		return fail(s, TLS_E_PROTOCOL, r, "message-too-big");
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		return fail(s, TLS_E_NOMEM, r, "no-memory");
	case MBEDTLS_ERR_SSL_INTERNAL_ERROR:
	case MBEDTLS_ERR_SSL_HW_ACCEL_FAILED:
		break;
	default:
		return fail(s, TLS_E_HANDSHAKE, r, "handshake-failed");
	}
	return fail(s, TLS_E_CRYPTO, r, "crypto-failure");
}

/*
 * mbedTLS 3.6 must keep the peer's parsed chain for TLS 1.3, and keeps it
 * for the session's life (~2.5 KiB). Once the handshake is over authd needs
 * only what it extracted (the verified ID and expiry), and nothing in
 * mbedTLS reads the chain again: tickets were written during the handshake
 * (server) or are copied without it (client), so free it.
 */
static void
drop_peer_chain(struct tls_session *s)
{
#if defined(MBEDTLS_SSL_KEEP_PEER_CERTIFICATE)
	mbedtls_ssl_session *sess = s->ssl.MBEDTLS_PRIVATE(session);

	if (sess != NULL && sess->MBEDTLS_PRIVATE(peer_cert) != NULL) {
		mbedtls_x509_crt_free(sess->MBEDTLS_PRIVATE(peer_cert));
		mbedtls_free(sess->MBEDTLS_PRIVATE(peer_cert));
		sess->MBEDTLS_PRIVATE(peer_cert) = NULL;
	}
#else
	(void)s;
#endif
}

/* The handshake is over at the mbedTLS level: settle who the peer is. */
static int
finish_handshake(struct tls_session *s)
{
	if (s->verified) {
		s->resumed = false;
	} else if (s->have_ticket_peer) {
		/* No certificate in this handshake: the ticket vouched for the peer. */
		s->peer_not_after = s->ticket_not_after;
		s->resumed = true;
	} else {
		return fail(s, TLS_E_HANDSHAKE, 0, "handshake-failed");
	}
	if (s->cfg->role == TLS_CLIENT && s->expected != NULL &&
	    !spiffe_id_equal(&s->peer, s->expected))
		return fail(s, TLS_E_PEER_ID, 0, "peer-id-mismatch");
	drop_peer_chain(s);
	s->done = true;
	return 0;
}

int
tls_handshake(struct tls_session *s)
{
	int r;

	if (s->err != 0)
		return s->err;
	if (s->done)
		return 0;
	s->started = true;
	tls_cur = s;
	r = mbedtls_ssl_handshake(&s->ssl);
	tls_cur = NULL;
	if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_E_AGAIN;
	if (r != 0)
		return fail_mbed(s, r);
	return finish_handshake(s);
}

/* RFC 8446 4: the handshake message type of KeyUpdate (mbedTLS 3.6 names none). */
#define TLS13_HS_KEY_UPDATE 24

/*
 * Whether the post-handshake message mbedTLS just refused is a KeyUpdate.
 * mbedTLS leaves the refused record in its input buffer, and has no public
 * accessor for it: read its private fields, as drop_peer_chain does.
 */
static bool
is_key_update(const struct tls_session *s)
{
	const mbedtls_ssl_context *ssl = &s->ssl;

	return mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3 &&
	    ssl->MBEDTLS_PRIVATE(in_msgtype) == MBEDTLS_SSL_MSG_HANDSHAKE &&
	    ssl->MBEDTLS_PRIVATE(in_msglen) > 0 && ssl->MBEDTLS_PRIVATE(in_msg) != NULL &&
	    ssl->MBEDTLS_PRIVATE(in_msg)[0] == TLS13_HS_KEY_UPDATE;
}

int
tls_read(struct tls_session *s, uint8_t *buf, size_t len, size_t *got)
{
	int r, spins = 0;

	*got = 0;
	if (s->err != 0)
		return s->err;
	if (!s->done)
		return TLS_E_STATE;
	if (len == 0)
		return TLS_E_INVAL;
	if (s->read_closed)
		return TLS_E_CLOSED;
	for (;;) {
		r = mbedtls_ssl_read(&s->ssl, buf, len > INT32_MAX ? INT32_MAX : len);
		if (r > 0) {
			s->got_record = true;
			*got = (size_t)r;
			return 0;
		}
		switch (r) {
		case MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET:
			s->ticket_ready = true;
			s->got_record = true;
			spins = 0;
			continue;
		case MBEDTLS_ERR_SSL_WANT_READ:
			/*
			 * A TLS 1.3 NewSessionTicket makes mbedTLS return WANT_READ
			 * with the message kept, to be parsed by the next call; when
			 * no input is left, the second call says WANT_READ at once.
			 */
			if (spins++ == 0)
				continue;
			return TLS_E_AGAIN;
		case MBEDTLS_ERR_SSL_WANT_WRITE:
			return TLS_E_AGAIN;
		/*
		 * The peer closed only its sending side (TLS 1.3 close_notify
		 * is a half-close, and a bare EOF is what curl and many
		 * servers send): reads end, writes go on.
		 */
		case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
			s->read_closed = true;
			s->reason = "close-notify";
			return TLS_E_CLOSED;
		case 0:
		case MBEDTLS_ERR_SSL_CONN_EOF:
			s->read_closed = true;
			s->reason = "truncated";
			return TLS_E_CLOSED;
		case MBEDTLS_ERR_SSL_INVALID_MAC:
			/*
			 * An unpatched mbedTLS 3.6 TLS 1.3 server (an authd built
			 * against a system mbedTLS, or before the patch;
			 * Mbed-TLS/mbedtls#10877) that rejects our certificate
			 * encrypts its alert under the handshake keys it still
			 * uses for output, while we already read with the
			 * application keys: the alert arrives as a record that
			 * does not decrypt. Before anything else came, that is
			 * what it most likely is.
			 */
			if (s->cfg->role == TLS_CLIENT && !s->got_record &&
			    mbedtls_ssl_get_version_number(&s->ssl) == MBEDTLS_SSL_VERSION_TLS1_3)
				return fail(s, TLS_E_PEER_ALERT, r, "peer-alert");
			return fail_mbed(s, r);
		case MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE:
			/*
			 * mbedTLS 3.6 does not implement TLS 1.3 KeyUpdate
			 * (Mbed-TLS/mbedtls#10781): a peer rekeying a long tunnel
			 * ends it. Say so; the patched build has already queued an
			 * unexpected_message alert for the peer.
			 */
			if (is_key_update(s))
				return fail(s, TLS_E_PROTOCOL, r, "key-update");
			return fail_mbed(s, r);
		default:
			return fail_mbed(s, r);
		}
	}
}

int
tls_write(struct tls_session *s, const uint8_t *p, size_t len, size_t *put)
{
	int r, expansion, max;
	size_t chunk;

	*put = 0;
	if (s->err != 0)
		return s->err;
	if (!s->done || s->closing)
		return TLS_E_STATE;
	if ((expansion = mbedtls_ssl_get_record_expansion(&s->ssl)) < 0 ||
	    (max = mbedtls_ssl_get_max_out_record_payload(&s->ssl)) <= 0)
		return fail(s, TLS_E_CRYPTO, expansion < 0 ? expansion : max, "crypto-failure");
	while (*put < len) {
		chunk = len - *put < (size_t)max ? len - *put : (size_t)max;
		if (s->write_blocked != 0) {
			/* mbedTLS must be handed the same record again to finish it. */
			if (len - *put < s->write_blocked)
				return TLS_E_INVAL;
			chunk = s->write_blocked;
		} else if (s->out_len - s->out_off + chunk + (size_t)expansion > TLS_OUT_HIGH &&
		    s->out_len - s->out_off > 0) {
			return TLS_E_AGAIN;
		}
		r = mbedtls_ssl_write(&s->ssl, p + *put, chunk);
		if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
			/* A ticket a tls_read left half-processed; nothing was written. */
			s->ticket_ready = true;
			continue;
		}
		if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
			s->write_blocked = chunk;
			return TLS_E_AGAIN;
		}
		if (r == MBEDTLS_ERR_SSL_WANT_READ)
			return TLS_E_AGAIN;
		if (r < 0)
			return fail_mbed(s, r);
		s->write_blocked = 0;
		*put += (size_t)r;
	}
	return 0;
}

int
tls_close(struct tls_session *s)
{
	int r;

	if (s->err != 0)
		return s->err;
	if (!s->done)
		return TLS_E_STATE;
	s->closing = true;
	r = mbedtls_ssl_close_notify(&s->ssl);
	if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_E_AGAIN;
	if (r != 0)
		return fail_mbed(s, r);
	return 0;
}

const struct spiffe_id *
tls_peer_id(const struct tls_session *s)
{
	return s->done ? &s->peer : NULL;
}

int64_t
tls_peer_not_after(const struct tls_session *s)
{
	return s->done ? s->peer_not_after : 0;
}

bool
tls_resumed(const struct tls_session *s)
{
	return s->done && s->resumed;
}

const char *
tls_version(const struct tls_session *s)
{
	return s->done ? mbedtls_ssl_get_version(&s->ssl) : "unknown";
}

const char *
tls_ciphersuite(const struct tls_session *s)
{
	const char *name = s->done ? mbedtls_ssl_get_ciphersuite(&s->ssl) : NULL;

	return name != NULL ? name : "unknown";
}

const char *
tls_error_reason(const struct tls_session *s)
{
	return s->reason;
}

int
tls_mbedtls_error(const struct tls_session *s)
{
	return s->mbed_err;
}

int
tls_session_save_ticket(struct tls_session *s, struct tls_ticket **out)
{
	struct tls_ticket *t = NULL;
	int err, r;

	*out = NULL;
	if (s->cfg->role != TLS_CLIENT || !s->done)
		return TLS_E_STATE;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return TLS_E_NOMEM;
	mbedtls_ssl_session_init(&t->session);
	r = mbedtls_ssl_get_session(&s->ssl, &t->session);
	if (r == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
		err = TLS_E_NOMEM;
		goto out;
	}
	/* mbedTLS exports a session once, and only a ticket makes it useful. */
	if (r != 0 || t->session.MBEDTLS_PRIVATE(ticket) == NULL ||
	    t->session.MBEDTLS_PRIVATE(ticket_len) == 0) {
		err = TLS_E_NO_TICKET;
		goto out;
	}
	t->peer = s->peer;
	t->not_after = s->peer_not_after;
	*out = t;
	t = NULL;
	err = 0;
out:
	tls_ticket_free(t);
	return err;
}

int
tls_session_use_ticket(struct tls_session *s, const struct tls_ticket *t)
{
	int r;

	if (t == NULL)
		return TLS_E_INVAL;
	if (s->cfg->role != TLS_CLIENT || s->started)
		return TLS_E_STATE;
	if (cfg_now(s->cfg) > t->not_after)
		return TLS_E_NO_TICKET;
	if (s->expected != NULL && !spiffe_id_equal(&t->peer, s->expected))
		return TLS_E_PEER_ID;
	r = mbedtls_ssl_set_session(&s->ssl, &t->session);
	if (r == MBEDTLS_ERR_SSL_ALLOC_FAILED)
		return TLS_E_NOMEM;
	if (r != 0)
		return TLS_E_NO_TICKET;
	s->peer = t->peer;
	s->ticket_not_after = t->not_after;
	s->have_ticket_peer = true;
	return 0;
}

void
tls_ticket_free(struct tls_ticket *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_session_free(&t->session);
	util_free_wiped(t, sizeof(*t));
}

const char *
tls_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case TLS_E_INVAL:
		return "invalid argument";
	case TLS_E_NOMEM:
		return "out of memory";
	case TLS_E_AGAIN:
		return "TLS needs more input or has output to send";
	case TLS_E_CLOSED:
		return "TLS connection closed by the peer";
	case TLS_E_TOO_BIG:
		return "more TLS input than the buffer holds";
	case TLS_E_HANDSHAKE:
		return "TLS handshake failed";
	case TLS_E_PEER_CERT:
		return "peer certificate rejected";
	case TLS_E_PEER_ID:
		return "peer is not the expected SPIFFE ID";
	case TLS_E_PEER_ALERT:
		return "peer sent a fatal TLS alert";
	case TLS_E_PROTOCOL:
		return "malformed or unauthentic TLS records";
	case TLS_E_NO_TICKET:
		return "no usable TLS session ticket";
	case TLS_E_STATE:
		return "TLS call not valid in this state";
	case TLS_E_CRYPTO:
		return "TLS library failure";
	default:
		return certs_strerror(err);
	}
}
