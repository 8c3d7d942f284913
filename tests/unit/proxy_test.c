/*
 * The connection state machine, end to end in one process: the real daemon
 * (daemon_run on its own loop thread) with a real CA, LMDB store and
 * sockets on loopback; the test is the peer (tls.c sessions over blocking
 * sockets) and the app (an echo server thread).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "authd/daemon.h"
#include "authd/log.h"
#include "wire/connect.h"
#include "wire/tls.h"
#include "certs/bundle.h"
#include "certs/ca.h"
#include "certs/crypto.h"
#include "certs/svid.h"
#include "policy/policy.h"
#include "tests/unit/test.h"

#define TD "t.test"

static struct {
	char dir[64];
	char ca_dir[128];
	uint16_t app_port, mesh_port, up_port;
	int app_fd;
	pthread_t app_thread, daemon_thread;
	struct daemon *d;
	int daemon_rc;
	bool started;
	struct certs_ca *ca;
	struct certs_bundle *bundle;
	struct certs_svid *client, *stranger;
	struct tls_config *client_cfg, *stranger_cfg, *anon_cfg;
} fx;

static uint16_t
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int
dial(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		.sin_port = htons(port) };
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- The app: echo every connection until EOF, then FIN back. ---------- */

static void *
echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	shutdown(fd, SHUT_WR);
	close(fd);
	return NULL;
}

static void *
app_main(void *arg)
{
	int fd;
	pthread_t t;

	(void)arg;
	while ((fd = accept(fx.app_fd, NULL, NULL)) >= 0) {
		if (pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

static int
app_start(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	fx.app_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fx.app_fd < 0 || bind(fx.app_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fx.app_fd, 64) != 0 || getsockname(fx.app_fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	fx.app_port = ntohs(a.sin_port);
	return pthread_create(&fx.app_thread, NULL, app_main, NULL);
}

/* ---- A blocking mTLS client ---------------------------------------------- */

static int
flush_out(int fd, struct tls_session *s)
{
	const uint8_t *p;
	size_t n;
	ssize_t w;

	while ((n = tls_pending_out(s, &p)) > 0) {
		if ((w = write(fd, p, n)) <= 0)
			return -1;
		tls_consume_out(s, (size_t)w);
	}
	return 0;
}

/* 1 fed, 0 EOF, -1 error or timeout. */
static int
fill_in(int fd, struct tls_session *s)
{
	uint8_t b[16384];
	size_t room = tls_feed_room(s);
	ssize_t n;

	if (room > sizeof(b))
		room = sizeof(b);
	if ((n = read(fd, b, room)) == 0) {
		tls_feed_eof(s);
		return 0;
	}
	if (n < 0)
		return -1;
	return tls_feed(s, b, (size_t)n) == 0 ? 1 : -1;
}

static int
client_handshake(int fd, struct tls_session *s)
{
	int r;

	for (;;) {
		r = tls_handshake(s);
		if (flush_out(fd, s) != 0)
			return -1;
		if (r != TLS_E_AGAIN)
			return r;
		if (fill_in(fd, s) < 0)
			return -1;
	}
}

static int
client_read(int fd, struct tls_session *s, uint8_t *buf, size_t len, size_t *got)
{
	int r, f;

	for (;;) {
		r = tls_read(s, buf, len, got);
		(void)flush_out(fd, s);
		if (r != TLS_E_AGAIN)
			return r;
		if ((f = fill_in(fd, s)) < 0)
			return -1;
	}
}

static int
client_write(int fd, struct tls_session *s, const void *p, size_t len)
{
	size_t put, off = 0;
	int r;

	while (off < len) {
		r = tls_write(s, (const uint8_t *)p + off, len - off, &put);
		off += put;
		if (flush_out(fd, s) != 0 || (r != 0 && r != TLS_E_AGAIN))
			return -1;
	}
	return 0;
}

/* Read until the response head's blank line; returns its length or -1. */
static int
read_head(int fd, struct tls_session *s, char *buf, size_t size)
{
	size_t len = 0, got;

	while (len + 1 < size) {
		if (client_read(fd, s, (uint8_t *)buf + len, 1, &got) != 0)
			return -1;
		len += got;
		buf[len] = '\0';
		if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0)
			return (int)len;
	}
	return -1;
}

struct tunnel {
	int fd;
	struct tls_session *s;
	char head[2048];
};

/* mTLS to the mesh port with cfg, send head (if any), read the answer head. */
static int
tunnel_open(struct tunnel *t, struct tls_config *cfg, const char *head)
{
	memset(t, 0, sizeof(*t));
	if ((t->fd = dial(fx.mesh_port)) < 0 || tls_session_new(cfg, &t->s) != 0)
		return -1;
	if (client_handshake(t->fd, t->s) != 0)
		return -2;
	if (head == NULL)
		return 0;
	if (client_write(t->fd, t->s, head, strlen(head)) != 0)
		return -3;
	return read_head(t->fd, t->s, t->head, sizeof(t->head)) > 0 ? 0 : -4;
}

static void
tunnel_close(struct tunnel *t)
{
	tls_session_free(t->s);
	if (t->fd >= 0)
		close(t->fd);
}

/* ---- The daemon ------------------------------------------------------------ */

static void *
daemon_main(void *arg)
{
	(void)arg;
	fx.daemon_rc = daemon_run(fx.d);
	return NULL;
}

static int
seed_policy(const char *store)
{
	char yaml[1024];
	struct policy_store *s;
	struct policy_set set;
	struct policy_actor actor = { .who = "proxy_test", .now = 0 };
	char err[256];
	size_t changes;
	int r;

	if (util_snprintf(yaml, sizeof(yaml),
	    "apiVersion: authd.io/v1\nkind: AllowList\nmetadata:\n  name: t\nspec:\n  rules:\n"
	    "    - from: spiffe://" TD "/ns/a/sa/client\n      to: spiffe://" TD "/ns/a/sa/server\n"
	    "      ports: [%u]\n"
	    "    - from: spiffe://" TD "/ns/a/sa/server\n      to: spiffe://" TD "/ns/a/sa/server\n"
	    "      ports: [%u]\n", fx.app_port, fx.app_port) != 0)
		return -1;
	if ((r = policy_store_open(store, POLICY_OPEN_CREATE, 0, &s)) != 0)
		return r;
	actor.now = time(NULL);
	if ((r = policy_set_parse((const uint8_t *)yaml, strlen(yaml), &set, err, sizeof(err))) == 0) {
		r = policy_apply(s, set.rules, set.n, NULL, 0, false, NULL, NULL, &changes, &actor);
		policy_set_free(&set);
	}
	policy_store_close(s);
	return r;
}

static int
setup(void)
{
	struct certs_ca_params p = { .now = time(NULL) };
	struct spiffe_id id;
	struct workload *w;
	char path[256], err[256];
	int fd, tries;

	snprintf(fx.dir, sizeof(fx.dir), "/tmp/authd-proxy-test.XXXXXX");
	if (mkdtemp(fx.dir) == NULL || app_start() != 0)
		return -1;
	snprintf(fx.ca_dir, sizeof(fx.ca_dir), "%s/ca", fx.dir);
	if (certs_ca_init(fx.ca_dir, TD, &p) != 0 || certs_ca_load(fx.ca_dir, NULL, &fx.ca) != 0)
		return -2;
	snprintf(path, sizeof(path), "%s/bundle.pem", fx.ca_dir);
	if (certs_bundle_load(path, &fx.bundle) != 0)
		return -3;
	if (spiffe_id_from_k8s(TD, "a", "client", &id) != 0 ||
	    certs_svid_new(fx.ca, &id, 0, time(NULL), &fx.client) != 0 ||
	    spiffe_id_from_k8s(TD, "a", "stranger", &id) != 0 ||
	    certs_svid_new(fx.ca, &id, 0, time(NULL), &fx.stranger) != 0)
		return -4;
	if (tls_config_new(TLS_CLIENT, fx.client, fx.bundle, TD, &fx.client_cfg) != 0 ||
	    tls_config_new(TLS_CLIENT, fx.stranger, fx.bundle, TD, &fx.stranger_cfg) != 0 ||
	    tls_config_new(TLS_CLIENT, NULL, fx.bundle, TD, &fx.anon_cfg) != 0)
		return -5;
	fx.mesh_port = free_port();
	fx.up_port = free_port();

	if ((fx.d = calloc(1, sizeof(*fx.d))) == NULL)
		return -6;
	config_defaults(&fx.d->cfg);
	snprintf(fx.d->cfg.trust_domain, sizeof(fx.d->cfg.trust_domain), "%s", TD);
	snprintf(fx.d->cfg.state_dir, sizeof(fx.d->cfg.state_dir), "%s", fx.dir);
	snprintf(fx.d->cfg.access_log, sizeof(fx.d->cfg.access_log), "%s/access.log", fx.dir);
	fx.d->cfg.admin[0] = '\0';
	fx.d->cfg.limits.drain_timeout_ms = 2000;
	if (config_finish(&fx.d->cfg, err, sizeof(err)) != 0 || seed_policy(fx.d->cfg.store) != 0)
		return -7;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -8;
	snprintf(w->name, sizeof(w->name), "server");
	snprintf(w->ns, sizeof(w->ns), "a");
	snprintf(w->sa, sizeof(w->sa), "server");
	snprintf(w->listen, sizeof(w->listen), "127.0.0.1:%u", fx.mesh_port);
	snprintf(w->apps[0], sizeof(w->apps[0]), "127.0.0.1:%u", fx.app_port);
	w->n_apps = 1;
	/* An upstream back to its own mesh listener: both halves in one daemon. */
	snprintf(w->upstreams[0].listen, sizeof(w->upstreams[0].listen), "127.0.0.1:%u", fx.up_port);
	snprintf(w->upstreams[0].peer, sizeof(w->upstreams[0].peer), "127.0.0.1:%u", fx.mesh_port);
	snprintf(w->upstreams[0].target_host, sizeof(w->upstreams[0].target_host), "127.0.0.1");
	w->upstreams[0].target_port = fx.app_port;
	snprintf(w->upstreams[0].expect_id, sizeof(w->upstreams[0].expect_id),
	    "spiffe://" TD "/ns/a/sa/server");
	w->n_upstreams = 1;
	fx.d->cfg.workloads = w;
	fx.d->cfg.n_workloads = 1;
	log_set_level(CONFIG_LOG_WARN);
	if ((fx.d->loop = malloc(sizeof(*fx.d->loop))) == NULL || uv_loop_init(fx.d->loop) != 0)
		return -9;
	if (pthread_create(&fx.daemon_thread, NULL, daemon_main, NULL) != 0)
		return -10;
	/* Ready once both listeners accept (the SVID is signed first). */
	for (tries = 0; tries < 200; tries++) {
		if ((fd = dial(fx.up_port)) >= 0) {
			close(fd);
			return 0;
		}
		usleep(50 * 1000);
	}
	return -11;
}

/* ---- Tests ----------------------------------------------------------------- */

static char connect_head[128];

TEST(start_daemon)
{
	int r;

	signal(SIGPIPE, SIG_IGN);
	REQUIRE(certs_crypto_init() == 0);
	r = setup();
	EXPECT_EQ(r, 0);
	fx.started = r == 0;
	snprintf(connect_head, sizeof(connect_head), "CONNECT 127.0.0.1:%u HTTP/1.1\r\n\r\n",
	    fx.app_port);
}

TEST(allowed_tunnel_echoes_and_half_closes)
{
	struct tunnel t;
	uint8_t buf[64];
	size_t got, total = 0;

	REQUIRE(tunnel_open(&t, fx.client_cfg, connect_head) == 0);
	EXPECT(strncmp(t.head, "HTTP/1.1 200", 12) == 0);
	EXPECT_OK(client_write(t.fd, t.s, "ping", 4));
	EXPECT_OK(tls_close(t.s));	/* our half-close: the app sees EOF, echoes, closes */
	EXPECT_OK(flush_out(t.fd, t.s));
	while (client_read(t.fd, t.s, buf + total, sizeof(buf) - total, &got) == 0)
		total += got;
	EXPECT(total == 4 && memcmp(buf, "ping", 4) == 0);
	EXPECT_STR(tls_error_reason(t.s), "close-notify");
	tunnel_close(&t);
}

TEST(unknown_source_is_denied_with_reason)
{
	struct tunnel t;

	REQUIRE(tunnel_open(&t, fx.stranger_cfg, connect_head) == 0);
	EXPECT(strncmp(t.head, "HTTP/1.1 403", 12) == 0);
	EXPECT(strstr(t.head, "x-authd-deny: no rule allows spiffe://" TD "/ns/a/sa/stranger -> "
	    "spiffe://" TD "/ns/a/sa/server") != NULL);
	tunnel_close(&t);
}

TEST(port_not_served_is_denied)
{
	struct tunnel t;
	char head[128];

	snprintf(head, sizeof(head), "CONNECT 127.0.0.1:%u HTTP/1.1\r\n\r\n",
	    fx.app_port == 1 ? 2 : 1);
	REQUIRE(tunnel_open(&t, fx.client_cfg, head) == 0);
	EXPECT(strncmp(t.head, "HTTP/1.1 403", 12) == 0);
	EXPECT(strstr(t.head, "is not served by spiffe://" TD "/ns/a/sa/server") != NULL);
	tunnel_close(&t);
}

TEST(malformed_head_is_400)
{
	struct tunnel t;

	REQUIRE(tunnel_open(&t, fx.client_cfg, "GET / HTTP/1.1\r\n\r\n") == 0);
	EXPECT(strncmp(t.head, "HTTP/1.1 400", 12) == 0);
	EXPECT(strstr(t.head, "x-authd-deny: bad request") != NULL);
	tunnel_close(&t);
}

TEST(oversized_head_is_rejected)
{
	struct tunnel t;
	char *head = malloc(CONNECT_HEAD_MAX + 64);
	size_t n;

	REQUIRE(head != NULL);
	n = (size_t)snprintf(head, 64, "CONNECT 127.0.0.1:%u HTTP/1.1\r\nx-pad: ", fx.app_port);
	memset(head + n, 'a', CONNECT_HEAD_MAX);
	head[n + CONNECT_HEAD_MAX] = '\0';
	REQUIRE(tunnel_open(&t, fx.client_cfg, head) == 0);
	EXPECT(strncmp(t.head, "HTTP/1.1 400", 12) == 0);
	tunnel_close(&t);
	free(head);
}

TEST(client_without_certificate_fails_handshake)
{
	struct tunnel t;
	uint8_t b[8];
	size_t got;
	int r = tunnel_open(&t, fx.anon_cfg, NULL);

	/* TLS 1.3: the client may finish first and learn of the rejection on read. */
	if (r == 0)
		r = client_read(t.fd, t.s, b, sizeof(b), &got) == 0 ? 0 : -1;
	EXPECT(r != 0);
	tunnel_close(&t);
}

/* App -> upstream listener -> mTLS as "server" -> mesh listener -> app: 256 KiB both ways. */
TEST(outbound_two_hops_byte_exact)
{
	enum { N = 256 * 1024 };
	uint8_t *out = malloc(N), *in = malloc(N);
	size_t sent = 0, got = 0;
	ssize_t n;
	int fd;

	REQUIRE(out != NULL && in != NULL);
	for (size_t i = 0; i < N; i++)
		out[i] = (uint8_t)(i * 7 + (i >> 8));
	REQUIRE((fd = dial(fx.up_port)) >= 0);
	/* Write and read in turns so neither side's buffers must hold it all. */
	while (got < N) {
		if (sent < N) {
			n = write(fd, out + sent, N - sent > 16384 ? 16384 : N - sent);
			if (n <= 0)
				break;
			sent += (size_t)n;
			if (sent == N)
				shutdown(fd, SHUT_WR);
		}
		n = read(fd, in + got, N - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	EXPECT_EQ(got, (size_t)N);
	EXPECT(memcmp(in, out, N) == 0);
	EXPECT(read(fd, in, 1) == 0);	/* the FIN came back through both hops */
	close(fd);
	free(in);
	free(out);
}

TEST(access_log_records_decisions)
{
	char path[256];
	uint8_t *log;
	size_t len;

	snprintf(path, sizeof(path), "%s/access.log", fx.dir);
	/* Lines are written when connections end; give the loop a moment. */
	for (int i = 0; i < 50; i++) {
		if (util_read_file(path, 1 << 20, &log, &len) == 0) {
			bool ok = strstr((char *)log, "\"decision\":\"deny\",\"rule\":null,\"reason\":\"no-rule\"") &&
			    strstr((char *)log, "\"decision\":\"allow\"") &&
			    strstr((char *)log, "\"direction\":\"outbound\"");

			free(log);
			if (ok)
				return;
		}
		usleep(100 * 1000);
	}
	EXPECT(!"access log lacks the expected decisions");
}

static void teardown(void);

TEST(sigterm_drains_and_returns)
{
	REQUIRE(fx.started);
	REQUIRE(kill(getpid(), SIGTERM) == 0);
	EXPECT(pthread_join(fx.daemon_thread, NULL) == 0);
	EXPECT_EQ(fx.daemon_rc, 0);
	EXPECT_EQ(uv_loop_close(fx.d->loop), 0);
	teardown();
}

static void
teardown(void)
{
	shutdown(fx.app_fd, SHUT_RDWR);
	close(fx.app_fd);
	pthread_join(fx.app_thread, NULL);
	config_free(&fx.d->cfg);
	free(fx.d->loop);
	free(fx.d);
	tls_config_free(fx.client_cfg);
	tls_config_free(fx.stranger_cfg);
	tls_config_free(fx.anon_cfg);
	certs_svid_free(fx.client);
	certs_svid_free(fx.stranger);
	certs_bundle_free(fx.bundle);
	certs_ca_free(fx.ca);
	test_rm_tree(fx.dir);
}

TEST_MAIN(start_daemon, allowed_tunnel_echoes_and_half_closes, unknown_source_is_denied_with_reason,
    port_not_served_is_denied, malformed_head_is_400, oversized_head_is_rejected,
    client_without_certificate_fails_handshake, outbound_two_hops_byte_exact,
    access_log_records_decisions, sigterm_drains_and_returns)
