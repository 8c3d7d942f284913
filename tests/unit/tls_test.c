/*
 * Unit tests for wire/tls.c: a client and a server session talking through
 * memory, with SVIDs from throwaway CAs. Full handshakes, data both ways,
 * resumption with the peer identity kept, each identity failure with its
 * reason, and hostile or careless use of the buffers.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/tls.h"
/* Included to cap a config at TLS 1.2 (no public knob: 1.3 is the policy). */
#include "wire/tls.c"
#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/crypto.h"
#include "certs/error.h"
#include "certs/spiffe.h"
#include "certs/svid.h"
#include "tests/unit/test.h"

#define TD "example.org"
#define SERVER_ID "spiffe://example.org/ns/default/sa/server"
#define CLIENT_ID "spiffe://example.org/ns/default/sa/client"
#define FOREIGN_ID "spiffe://other.org/ns/default/sa/client"

/*
 * Shared material, made once: CA "a" (our trust domain), "b" (same trust
 * domain, not in our bundle), "c" (other.org, whose root only bundle_ac
 * trusts).
 */
static struct {
	bool ready;
	char tmp[64];
	struct certs_ca *a, *b, *c;
	struct certs_bundle *bundle_a, *bundle_ac;
	struct certs_svid *server, *client, *client_b, *client_c, *client_short;
	struct spiffe_id server_id, client_id, foreign_id;
} w;

static void
world_free(void)
{
	certs_svid_free(w.server);
	certs_svid_free(w.client);
	certs_svid_free(w.client_b);
	certs_svid_free(w.client_c);
	certs_svid_free(w.client_short);
	certs_bundle_free(w.bundle_a);
	certs_bundle_free(w.bundle_ac);
	certs_ca_free(w.a);
	certs_ca_free(w.b);
	certs_ca_free(w.c);
	if (w.tmp[0] != '\0')
		(void)test_rm_tree(w.tmp);
}

static int
make_ca(const char *sub, const char *td, struct certs_ca **ca)
{
	struct certs_ca_params p = { .now = time(NULL) };
	char dir[128];

	snprintf(dir, sizeof(dir), "%s/%s", w.tmp, sub);
	if (certs_ca_init(dir, td, &p) != 0)
		return -1;
	return certs_ca_load(dir, NULL, ca);
}

static int
load_bundle(const char *sub, struct certs_bundle **b)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s/%s", w.tmp, sub, CERTS_CA_BUNDLE);
	return certs_bundle_load(path, b);
}

static int
add_root(struct certs_bundle *b, const char *sub)
{
	char path[160];
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	snprintf(path, sizeof(path), "%s/%s/%s", w.tmp, sub, CERTS_CA_ROOT_CRT);
	if ((err = util_read_file(path, 1 << 20, &data, &len)) != 0)
		return err;
	err = certs_bundle_add(b, data, len);
	free(data);
	return err;
}

static int
parse_id(const char *s, struct spiffe_id *id)
{
	return spiffe_id_parse_workload(s, strlen(s), id, NULL);
}

static bool
world(void)
{
	int64_t now = time(NULL);

	if (w.ready)
		return true;
	if (certs_crypto_init() != 0)
		return false;
	memcpy(w.tmp, "/tmp/authd-tls-XXXXXX", 22);
	if (mkdtemp(w.tmp) == NULL) {
		w.tmp[0] = '\0';
		return false;
	}
	atexit(world_free);
	if (make_ca("a", TD, &w.a) != 0 || make_ca("b", TD, &w.b) != 0 ||
	    make_ca("c", "other.org", &w.c) != 0 || load_bundle("a", &w.bundle_a) != 0 ||
	    load_bundle("a", &w.bundle_ac) != 0 || add_root(w.bundle_ac, "c") != 0)
		return false;
	if (parse_id(SERVER_ID, &w.server_id) != 0 || parse_id(CLIENT_ID, &w.client_id) != 0 ||
	    parse_id(FOREIGN_ID, &w.foreign_id) != 0)
		return false;
	if (certs_svid_new(w.a, &w.server_id, 0, now, &w.server) != 0 ||
	    certs_svid_new(w.a, &w.client_id, 0, now, &w.client) != 0 ||
	    certs_svid_new(w.b, &w.client_id, 0, now, &w.client_b) != 0 ||
	    certs_svid_new(w.c, &w.foreign_id, 0, now, &w.client_c) != 0 ||
	    certs_svid_new(w.a, &w.client_id, CERTS_SVID_TTL_MIN, now, &w.client_short) != 0)
		return false;
	w.ready = true;
	return true;
}

static int64_t
clock_next_day(void *arg)
{
	(void)arg;
	return (int64_t)time(NULL) + 24 * 3600;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Move what from has to send into to, as much as fits. -1 on a feed error. */
static long
move(struct tls_session *from, struct tls_session *to)
{
	const uint8_t *p;
	size_t n = tls_pending_out(from, &p), room = tls_feed_room(to);

	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	if (tls_feed(to, p, n) != 0)
		return -1;
	tls_consume_out(from, n);
	return (long)n;
}

static long
pump(struct tls_session *c, struct tls_session *s)
{
	long a = move(c, s), b = move(s, c);

	return a < 0 || b < 0 ? -1 : a + b;
}

/* Run both handshakes until neither side has anything more to say. */
static void
handshake(struct tls_session *c, struct tls_session *s, int *rc, int *rs)
{
	for (int i = 0; i < 100; i++) {
		*rc = tls_handshake(c);
		*rs = tls_handshake(s);
		if (pump(c, s) <= 0)
			break;
	}
}

/* A connected pair, optionally offering a ticket. */
struct pair {
	struct tls_session *c, *s;
	int rc, rs;
};

static int
pair_open(struct pair *p, struct tls_config *cc, struct tls_config *sc,
    const struct tls_ticket *t)
{
	memset(p, 0, sizeof(*p));
	if (tls_session_new(cc, &p->c) != 0 || tls_session_new(sc, &p->s) != 0)
		return -1;
	if (t != NULL && tls_session_use_ticket(p->c, t) != 0)
		return -1;
	handshake(p->c, p->s, &p->rc, &p->rs);
	return 0;
}

static void
pair_close(struct pair *p)
{
	tls_session_free(p->c);
	tls_session_free(p->s);
	memset(p, 0, sizeof(*p));
}

/*
 * Send n bytes of a pattern from one side and read them on the other,
 * in writes of up to chunk bytes; true when every byte arrived intact.
 */
static bool
transfer(struct tls_session *from, struct tls_session *to, size_t n, size_t chunk)
{
	static uint8_t buf[16384];
	uint8_t *data = malloc(n);
	size_t sent = 0, got = 0, put, k;
	bool ok = data != NULL;
	int r;

	for (size_t i = 0; ok && i < n; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 11));
	for (int round = 0; ok && got < n; round++) {
		if (round > 100000) {
			ok = false;
			break;
		}
		if (sent < n) {
			size_t want = n - sent < chunk ? n - sent : chunk;

			r = tls_write(from, data + sent, want, &put);
			ok = (r == 0 && put == want) || (r == TLS_E_AGAIN && put < want);
			sent += put;
		}
		ok = ok && pump(from, to) >= 0;
		while (ok) {
			r = tls_read(to, buf, sizeof(buf), &k);
			if (r == TLS_E_AGAIN)
				break;
			ok = r == 0 && got + k <= n && memcmp(buf, data + got, k) == 0;
			got += k;
		}
	}
	free(data);
	return ok && got == n;
}

/* Server and client configs over bundle a, with our usual SVIDs. */
struct cfgs {
	struct tls_config *c, *s;
};

static int
cfgs_open(struct cfgs *f, struct certs_svid *client, const struct certs_bundle *server_bundle)
{
	memset(f, 0, sizeof(*f));
	if (tls_config_new(TLS_SERVER, w.server, server_bundle, TD, &f->s) != 0)
		return -1;
	return tls_config_new(TLS_CLIENT, client, w.bundle_a, TD, &f->c);
}

static void
cfgs_close(struct cfgs *f)
{
	tls_config_free(f->c);
	tls_config_free(f->s);
}

TEST(config_args)
{
	struct tls_config *cfg = (struct tls_config *)1;

	REQUIRE(world());
	EXPECT_ERR(tls_config_new(TLS_SERVER, NULL, w.bundle_a, TD, &cfg), TLS_E_INVAL);
	EXPECT(cfg == NULL);
	EXPECT_ERR(tls_config_new(TLS_CLIENT, w.client, NULL, TD, &cfg), TLS_E_INVAL);
	EXPECT_ERR(tls_config_new(TLS_CLIENT, w.client, w.bundle_a, "Bad Domain", &cfg),
	    CERTS_E_ID_TD_CHAR);
	EXPECT_OK(tls_config_new(TLS_SERVER, w.server, w.bundle_a, "EXAMPLE.org", &cfg));
	EXPECT_ERR(tls_config_set_expected_peer(cfg, &w.server_id), TLS_E_INVAL);
	tls_config_free(cfg);
	tls_config_free(NULL);
	tls_session_free(NULL);
	tls_ticket_free(NULL);
	EXPECT_STR(tls_strerror(TLS_E_PEER_ID), "peer is not the expected SPIFFE ID");
	EXPECT_STR(tls_strerror(CERTS_E_EXPIRED), "certificate has expired");
}

TEST(full_handshake)
{
	struct cfgs f;
	struct pair p;
	int64_t now = time(NULL);

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(tls_config_set_expected_peer(f.c, &w.server_id) == 0);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	EXPECT_OK(p.rc);
	EXPECT_OK(p.rs);
	REQUIRE(tls_peer_id(p.c) != NULL && tls_peer_id(p.s) != NULL);
	EXPECT_STR(tls_peer_id(p.c)->str, SERVER_ID);
	EXPECT_STR(tls_peer_id(p.s)->str, CLIENT_ID);
	EXPECT_STR(tls_version(p.c), "TLSv1.3");
	EXPECT_STR(tls_version(p.s), "TLSv1.3");
	EXPECT_STR(tls_ciphersuite(p.c), tls_ciphersuite(p.s));
	EXPECT(!tls_resumed(p.c) && !tls_resumed(p.s));
	EXPECT_STR(tls_error_reason(p.s), "ok");
	/* The earliest notAfter on the path: the one-hour leaf. */
	EXPECT(tls_peer_not_after(p.s) > now && tls_peer_not_after(p.s) <= now + 3600 + 60);
	EXPECT(tls_peer_not_after(p.c) > now && tls_peer_not_after(p.c) <= now + 3600 + 60);
	/* Done is done. */
	EXPECT_OK(tls_handshake(p.c));
	printf("     suite %s\n", tls_ciphersuite(p.c));
	pair_close(&p);
	cfgs_close(&f);
}

TEST(before_handshake)
{
	struct cfgs f;
	struct tls_session *c = NULL;
	struct tls_ticket *t = (struct tls_ticket *)1;
	uint8_t buf[16];
	size_t n = 1;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(tls_session_new(f.c, &c) == 0);
	EXPECT(tls_peer_id(c) == NULL);
	EXPECT(!tls_resumed(c));
	EXPECT_STR(tls_version(c), "unknown");
	EXPECT_ERR(tls_read(c, buf, sizeof(buf), &n), TLS_E_STATE);
	EXPECT_EQ(n, 0);
	EXPECT_ERR(tls_write(c, buf, sizeof(buf), &n), TLS_E_STATE);
	EXPECT_ERR(tls_close(c), TLS_E_STATE);
	EXPECT_ERR(tls_session_save_ticket(c, &t), TLS_E_STATE);
	EXPECT(t == NULL);
	tls_session_free(c);
	cfgs_close(&f);
}

TEST(data_round_trip)
{
	struct cfgs f;
	struct pair p;
	uint8_t buf[64];
	size_t n;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	REQUIRE(p.rc == 0 && p.rs == 0);
	EXPECT_OK(tls_write(p.c, (const uint8_t *)"ping", 4, &n));
	EXPECT_EQ(n, 4);
	EXPECT(pump(p.c, p.s) > 0);
	EXPECT_OK(tls_read(p.s, buf, sizeof(buf), &n));
	EXPECT(n == 4 && memcmp(buf, "ping", 4) == 0);
	EXPECT_ERR(tls_read(p.s, buf, sizeof(buf), &n), TLS_E_AGAIN);
	EXPECT_OK(tls_write(p.s, (const uint8_t *)"pong", 4, &n));
	EXPECT(pump(p.c, p.s) > 0);
	/* The client first meets the server's NewSessionTicket, then the data. */
	EXPECT_OK(tls_read(p.c, buf, sizeof(buf), &n));
	EXPECT(n == 4 && memcmp(buf, "pong", 4) == 0);

	EXPECT(transfer(p.c, p.s, 1 << 20, 10000));
	EXPECT(transfer(p.s, p.c, 1 << 20, 65536));
	EXPECT(transfer(p.c, p.s, 1, 1));
	pair_close(&p);
	cfgs_close(&f);
}

/* Writing without flushing stops at the output bound, then resumes. */
TEST(write_backpressure)
{
	static uint8_t big[256 * 1024];
	struct cfgs f;
	struct pair p;
	const uint8_t *out;
	size_t put = 0, put2 = 0;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	REQUIRE(p.rc == 0 && p.rs == 0);
	EXPECT_ERR(tls_write(p.c, big, sizeof(big), &put), TLS_E_AGAIN);
	EXPECT(put > 0 && put <= TLS_OUT_HIGH);
	EXPECT(tls_pending_out(p.c, &out) <= TLS_OUT_MAX);
	EXPECT_ERR(tls_write(p.c, big + put, sizeof(big) - put, &put2), TLS_E_AGAIN);
	EXPECT_EQ(put2, 0);
	tls_consume_out(p.c, tls_pending_out(p.c, &out));
	EXPECT_ERR(tls_write(p.c, big + put, sizeof(big) - put, &put2), TLS_E_AGAIN);
	EXPECT(put2 > 0);
	pair_close(&p);
	cfgs_close(&f);
}

/* Read on the client until the server's ticket has been processed, and save it. */
static int
take_ticket(struct tls_session *c, struct tls_ticket **t)
{
	uint8_t buf[16];
	size_t n;
	int r = tls_read(c, buf, sizeof(buf), &n);

	if (r != TLS_E_AGAIN)
		return -1;
	return tls_session_save_ticket(c, t);
}

TEST(resumption)
{
	struct cfgs f;
	struct pair p;
	struct tls_ticket *t = NULL, *t2 = NULL;
	double t0, full_us, resumed_us;
	int rounds = 20;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	REQUIRE(p.rc == 0 && p.rs == 0);
	EXPECT_OK(take_ticket(p.c, &t));
	REQUIRE(t != NULL);
	/* One ticket, exported once. */
	EXPECT_ERR(tls_session_save_ticket(p.c, &t2), TLS_E_NO_TICKET);
	EXPECT_ERR(tls_session_save_ticket(p.s, &t2), TLS_E_STATE);
	pair_close(&p);

	REQUIRE(pair_open(&p, f.c, f.s, t) == 0);
	EXPECT_OK(p.rc);
	EXPECT_OK(p.rs);
	EXPECT(tls_resumed(p.c));
	EXPECT(tls_resumed(p.s));
	EXPECT_STR(tls_version(p.c), "TLSv1.3");
	/* No certificate crossed the wire; the tickets kept who the peers are. */
	REQUIRE(tls_peer_id(p.c) != NULL && tls_peer_id(p.s) != NULL);
	EXPECT_STR(tls_peer_id(p.c)->str, SERVER_ID);
	EXPECT_STR(tls_peer_id(p.s)->str, CLIENT_ID);
	EXPECT(tls_peer_not_after(p.s) > time(NULL));
	EXPECT(transfer(p.c, p.s, 100000, 4096));
	EXPECT(transfer(p.s, p.c, 100000, 4096));
	/* A resumed session hands out a fresh ticket, still carrying the identity. */
	EXPECT_OK(tls_session_save_ticket(p.c, &t2));
	pair_close(&p);
	REQUIRE(t2 != NULL);
	REQUIRE(pair_open(&p, f.c, f.s, t2) == 0);
	EXPECT(p.rc == 0 && p.rs == 0 && tls_resumed(p.c) && tls_resumed(p.s));
	EXPECT(tls_peer_id(p.s) != NULL && strcmp(tls_peer_id(p.s)->str, CLIENT_ID) == 0);
	pair_close(&p);

	/* Measured once for the report, not asserted. */
	t0 = now_us();
	for (int i = 0; i < rounds; i++) {
		if (pair_open(&p, f.c, f.s, NULL) != 0 || p.rc != 0 || p.rs != 0)
			TEST__FAIL("full handshake %d", i);
		pair_close(&p);
	}
	full_us = (now_us() - t0) / rounds;
	t0 = now_us();
	for (int i = 0; i < rounds; i++) {
		if (pair_open(&p, f.c, f.s, t) != 0 || p.rc != 0 || !tls_resumed(p.s))
			TEST__FAIL("resumed handshake %d", i);
		pair_close(&p);
	}
	resumed_us = (now_us() - t0) / rounds;
	printf("     full handshake %.0f us, resumed %.0f us (both sides, one process)\n",
	    full_us, resumed_us);

	/* A client that expects someone else will not offer this server's ticket. */
	REQUIRE(tls_session_new(f.c, &p.c) == 0);
	EXPECT_OK(tls_session_set_expected_peer(p.c, &w.client_id));
	EXPECT_ERR(tls_session_use_ticket(p.c, t), TLS_E_PEER_ID);
	pair_close(&p);
	tls_ticket_free(t);
	tls_ticket_free(t2);
	cfgs_close(&f);
}

/* Another server config (other ticket keys) declines the ticket: full handshake. */
TEST(ticket_other_server)
{
	struct cfgs f;
	struct tls_config *s2 = NULL;
	struct pair p;
	struct tls_ticket *t = NULL;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(tls_config_new(TLS_SERVER, w.server, w.bundle_a, TD, &s2) == 0);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	EXPECT_OK(take_ticket(p.c, &t));
	pair_close(&p);
	REQUIRE(t != NULL);
	REQUIRE(pair_open(&p, f.c, s2, t) == 0);
	EXPECT(p.rc == 0 && p.rs == 0);
	EXPECT(!tls_resumed(p.c) && !tls_resumed(p.s));
	EXPECT(tls_peer_id(p.s) != NULL && strcmp(tls_peer_id(p.s)->str, CLIENT_ID) == 0);
	EXPECT(tls_peer_id(p.c) != NULL && strcmp(tls_peer_id(p.c)->str, SERVER_ID) == 0);
	pair_close(&p);
	tls_ticket_free(t);
	tls_config_free(s2);
	cfgs_close(&f);
}

/*
 * The server rejects the client's certificate with reason; with TLS 1.3 the
 * client learns it from the alert on its first read.
 */
static void
expect_rejected(struct certs_svid *client, const struct certs_bundle *server_bundle,
    bool next_day, const char *reason)
{
	struct cfgs f;
	struct pair p;
	uint8_t buf[16];
	size_t n;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, client, server_bundle) == 0);
	if (next_day)
		tls_config_set_clock(f.s, clock_next_day, NULL);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	EXPECT_ERR(p.rs, TLS_E_PEER_CERT);
	EXPECT_STR(tls_error_reason(p.s), reason);
	EXPECT(tls_peer_id(p.s) == NULL);
	/* Sticky. */
	EXPECT_ERR(tls_handshake(p.s), TLS_E_PEER_CERT);
	EXPECT_ERR(tls_read(p.s, buf, sizeof(buf), &n), TLS_E_PEER_CERT);
	if (p.rc == 0) {
		EXPECT(pump(p.c, p.s) >= 0);
		EXPECT_ERR(tls_read(p.c, buf, sizeof(buf), &n), TLS_E_PEER_ALERT);
		EXPECT_STR(tls_error_reason(p.c), "peer-alert");
	} else {
		EXPECT_ERR(p.rc, TLS_E_PEER_ALERT);
	}
	pair_close(&p);
	cfgs_close(&f);
}

TEST(no_client_certificate)
{
	REQUIRE(world());
	expect_rejected(NULL, w.bundle_a, false, "no-certificate");
}

TEST(unknown_authority)
{
	REQUIRE(world());
	expect_rejected(w.client_b, w.bundle_a, false, "unknown-authority");
}

TEST(expired_client)
{
	REQUIRE(world());
	expect_rejected(w.client_short, w.bundle_a, true, "expired");
}

TEST(foreign_trust_domain)
{
	REQUIRE(world());
	expect_rejected(w.client_c, w.bundle_ac, false, "foreign-trust-domain");
}

/* The server's clock also judges tickets: an expired client cannot resume. */
TEST(resume_after_client_expiry)
{
	struct cfgs f;
	struct pair p;
	struct tls_ticket *t = NULL;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client_short, w.bundle_a) == 0);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	REQUIRE(p.rc == 0 && p.rs == 0);
	EXPECT_OK(take_ticket(p.c, &t));
	pair_close(&p);
	REQUIRE(t != NULL);
	tls_config_set_clock(f.s, clock_next_day, NULL);
	REQUIRE(pair_open(&p, f.c, f.s, t) == 0);
	EXPECT(!tls_resumed(p.s));
	EXPECT_ERR(p.rs, TLS_E_PEER_CERT);
	EXPECT_STR(tls_error_reason(p.s), "expired");
	pair_close(&p);
	tls_ticket_free(t);
	cfgs_close(&f);
}

TEST(unexpected_server_id)
{
	struct cfgs f;
	struct pair p;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(tls_config_set_expected_peer(f.c, &w.client_id) == 0);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	EXPECT_ERR(p.rc, TLS_E_PEER_ID);
	EXPECT_STR(tls_error_reason(p.c), "peer-id-mismatch");
	EXPECT(tls_peer_id(p.c) == NULL);
	/*
	 * The server's handshake fails too. mbedTLS clients send that alert
	 * before switching to the handshake keys, so an mbedTLS server sees a
	 * record that does not decrypt.
	 */
	EXPECT(p.rs == TLS_E_PEER_ALERT || p.rs == TLS_E_PROTOCOL);
	pair_close(&p);
	cfgs_close(&f);
}

static void
expect_garbage_fails(const uint8_t *junk, size_t len, bool eof)
{
	struct cfgs f;
	struct tls_session *s = NULL;
	const uint8_t *out;
	int r;

	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(tls_session_new(f.s, &s) == 0);
	EXPECT_OK(tls_feed(s, junk, len));
	if (eof)
		tls_feed_eof(s);
	r = tls_handshake(s);
	EXPECT(r != 0 && r != TLS_E_AGAIN);
	EXPECT(strcmp(tls_error_reason(s), "ok") != 0);
	EXPECT_EQ(tls_handshake(s), r);
	EXPECT(tls_pending_out(s, &out) < 64);
	tls_session_free(s);
	cfgs_close(&f);
}

TEST(garbage)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	/* A handshake record header whose ClientHello body is noise. */
	uint8_t rec[5 + 300] = { 0x16, 0x03, 0x01, 0x01, 0x2c, 0x01, 0x00, 0x01, 0x28 };
	uint8_t noise[4096];
	uint32_t x = 12345;

	REQUIRE(world());
	for (size_t i = 0; i < sizeof(noise); i++) {
		x = x * 1103515245 + 12345;
		noise[i] = (uint8_t)(x >> 16);
	}
	memcpy(rec + 9, noise, 296);
	expect_garbage_fails((const uint8_t *)http, sizeof(http) - 1, false);
	expect_garbage_fails(noise, sizeof(noise), false);
	expect_garbage_fails(rec, sizeof(rec), false);
	/* Half a record and then EOF. */
	expect_garbage_fails(rec, 20, true);
}

TEST(overfeed)
{
	static uint8_t junk[TLS_FEED_MAX + 1];
	struct cfgs f;
	struct tls_session *s = NULL;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(tls_session_new(f.s, &s) == 0);
	EXPECT(tls_want_feed(s));
	EXPECT_EQ(tls_feed_room(s), TLS_FEED_MAX);
	EXPECT_ERR(tls_feed(s, junk, sizeof(junk)), TLS_E_TOO_BIG);
	EXPECT_EQ(tls_feed_room(s), TLS_FEED_MAX);
	EXPECT_OK(tls_feed(s, junk, 1000));
	EXPECT_OK(tls_feed(s, junk, TLS_FEED_MAX - 1000));
	EXPECT(!tls_want_feed(s));
	EXPECT_ERR(tls_feed(s, junk, 1), TLS_E_TOO_BIG);
	tls_session_free(s);
	cfgs_close(&f);
}

TEST(close_notify)
{
	struct cfgs f;
	struct pair p;
	uint8_t buf[16];
	size_t n;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	REQUIRE(p.rc == 0 && p.rs == 0);
	EXPECT_OK(tls_write(p.c, (const uint8_t *)"bye", 3, &n));
	EXPECT_OK(tls_close(p.c));
	EXPECT_ERR(tls_write(p.c, (const uint8_t *)"x", 1, &n), TLS_E_STATE);
	EXPECT(pump(p.c, p.s) > 0);
	/* Data sent before the alert still arrives. */
	EXPECT_OK(tls_read(p.s, buf, sizeof(buf), &n));
	EXPECT(n == 3 && memcmp(buf, "bye", 3) == 0);
	EXPECT_ERR(tls_read(p.s, buf, sizeof(buf), &n), TLS_E_CLOSED);
	EXPECT_STR(tls_error_reason(p.s), "close-notify");
	EXPECT_ERR(tls_read(p.s, buf, sizeof(buf), &n), TLS_E_CLOSED);
	/* A half-close: the server still answers, then sends its own close_notify. */
	EXPECT_OK(tls_write(p.s, (const uint8_t *)"reply", 5, &n));
	EXPECT_OK(tls_close(p.s));
	EXPECT(pump(p.c, p.s) > 0);
	EXPECT_OK(tls_read(p.c, buf, sizeof(buf), &n));
	EXPECT(n == 5 && memcmp(buf, "reply", 5) == 0);
	EXPECT_ERR(tls_read(p.c, buf, sizeof(buf), &n), TLS_E_CLOSED);
	pair_close(&p);

	/* EOF without close_notify is a truncation. */
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	REQUIRE(p.rc == 0 && p.rs == 0);
	tls_feed_eof(p.s);
	EXPECT_ERR(tls_read(p.s, buf, sizeof(buf), &n), TLS_E_CLOSED);
	EXPECT_STR(tls_error_reason(p.s), "truncated");
	pair_close(&p);
	cfgs_close(&f);
}

/* A TLS 1.2-only client: ECDHE-ECDSA, tickets, identity kept on resumption. */
TEST(tls12)
{
	struct cfgs f;
	struct pair p;
	struct tls_ticket *t = NULL;

	REQUIRE(world());
	REQUIRE(cfgs_open(&f, w.client, w.bundle_a) == 0);
	mbedtls_ssl_conf_max_tls_version(&f.c->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	EXPECT(p.rc == 0 && p.rs == 0);
	EXPECT_STR(tls_version(p.c), "TLSv1.2");
	EXPECT_STR(tls_ciphersuite(p.s), "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384");
	EXPECT(tls_peer_id(p.s) != NULL && strcmp(tls_peer_id(p.s)->str, CLIENT_ID) == 0);
	EXPECT(tls_peer_id(p.c) != NULL && strcmp(tls_peer_id(p.c)->str, SERVER_ID) == 0);
	EXPECT(transfer(p.c, p.s, 1 << 20, 30000));
	EXPECT(transfer(p.s, p.c, 1 << 20, 30000));
	/* TLS 1.2 tickets come within the handshake. */
	EXPECT_OK(tls_session_save_ticket(p.c, &t));
	pair_close(&p);
	REQUIRE(t != NULL);
	REQUIRE(pair_open(&p, f.c, f.s, t) == 0);
	EXPECT(p.rc == 0 && p.rs == 0);
	EXPECT(tls_resumed(p.c) && tls_resumed(p.s));
	EXPECT_STR(tls_version(p.s), "TLSv1.2");
	EXPECT(tls_peer_id(p.s) != NULL && strcmp(tls_peer_id(p.s)->str, CLIENT_ID) == 0);
	EXPECT(tls_peer_id(p.c) != NULL && strcmp(tls_peer_id(p.c)->str, SERVER_ID) == 0);
	EXPECT(transfer(p.c, p.s, 1000, 1000));
	pair_close(&p);
	tls_ticket_free(t);

	/* Identity failures carry their reasons in TLS 1.2 as well. */
	cfgs_close(&f);
	REQUIRE(cfgs_open(&f, w.client_c, w.bundle_ac) == 0);
	mbedtls_ssl_conf_max_tls_version(&f.c->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	REQUIRE(pair_open(&p, f.c, f.s, NULL) == 0);
	EXPECT_ERR(p.rs, TLS_E_PEER_CERT);
	EXPECT_STR(tls_error_reason(p.s), "foreign-trust-domain");
	EXPECT(p.rc != 0 && p.rc != TLS_E_AGAIN);
	pair_close(&p);
	cfgs_close(&f);
}

TEST_MAIN(config_args, full_handshake, before_handshake, data_round_trip, write_backpressure,
    resumption, ticket_other_server, tls12, no_client_certificate, unknown_authority, expired_client,
    foreign_trust_domain, resume_after_client_expiry, unexpected_server_id, garbage, overfeed,
    close_notify)
