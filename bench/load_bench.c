/*
 * load_bench: an mTLS load generator for the data-plane benchmark
 * (bench/proxies.sh). One thread, epoll, non-blocking OpenSSL, so it holds
 * 10k connections; OpenSSL's assembly P-256 keeps the client's share of the
 * CPU small next to the server under test.
 *
 *   load_bench MODE --target HOST:PORT [--cert F --key F] [--cacert F | --skip-verify]
 *              [--servername NAME] [--connect HOST:PORT] [--plain] [--resume]
 *              [--probe echo|http|none] [-c N] [-d SECONDS] [-n N] [--size BYTES] [--cpu N]
 *
 * A connection is "established" after TCP connect, the TLS handshake
 * (skipped with --plain), the CONNECT exchange when --connect is given (the
 * head "CONNECT HOST:PORT HTTP/1.1" + Host, answered "HTTP/1.1 200"), and a
 * probe. The probe matters with TLS 1.3: the client finishes its handshake
 * before the server has checked the client certificate, so only an answer
 * from behind the server proves the server accepted it.
 *
 * Modes (the backend is bench/backend_bench.c; the first byte picks echo or sink):
 *   handshake  new connections per second with -c in flight for -d seconds
 *              (at most -n). Full handshakes, unless --resume: a first,
 *              untimed connection gets a session ticket and every later one
 *              offers the newest ticket; the resumed fraction is reported.
 *              Probe: "ex" to the echo backend, wait for "x".
 *   rr         -c persistent connections each send --size bytes (1024) and
 *              wait for the echo, for -d seconds: requests/s and latency.
 *   bulk       -c connections (1) stream rounds of --size bytes (16 MiB) to
 *              the sink, each round answered with its byte count: MiB/s over
 *              the time to the last answer.
 *   idle       open -n connections (-c at a time), print "ready conns=N",
 *              hold them until a line on stdin, SIGTERM/SIGINT, or -d seconds
 *              (default 60); the harness reads the server's RSS meanwhile.
 *   watch      open -n connections like idle and print "ready conns=N"; then
 *              read one line "T0 T1" from stdin: the start and end of a
 *              policy write (CLOCK_REALTIME ns, from revoke_bench), and time
 *              every held connection's close (the server's alert, FIN or RST
 *              makes it readable) from T1 and from T0. Ends when every held
 *              connection has closed, or -d seconds (default 30) after the
 *              line; waits at most -d seconds for the line. A close is stamped
 *              with the clock read when epoll_wait returned, so working
 *              through a batch of 512 events does not delay the stamps; each
 *              connection is checked afterwards to have really ended (EOF or
 *              an error, no data). The revocation benchmark (bench/lifecycle.sh).
 *
 * --resume works in handshake, idle and watch modes: a first, untimed
 * connection gets a session ticket, and every later one offers the newest.
 *
 * Output: one "mode=... key=value ..." line on stdout, then one line for
 * people. Exit 0 when at least one operation succeeded, 1 when none did
 * (the first error is printed), 2 for bad arguments.
 *
 * Limits: -c <= 20000, -n <= 20000 in idle and watch modes and 10,000,000 otherwise,
 * -d <= 120, --size <= 1 MiB (rr) or 256 MiB (bulk); targets are loopback
 * only. The server's chain is checked against --cacert (no host name check:
 * SPIFFE SVIDs carry a URI SAN only); --skip-verify saves the client two
 * ECDSA verifications per handshake when the chain was checked beforehand.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/addr.h"
#include "bench/bench.h"
#include "bench/hist.h"
#include "bench/net.h"

#define CONC_MAX 20000u
#define IDLE_MAX 20000u
#define TOTAL_MAX 10000000u
#define SECONDS_MAX 120u
#define RR_SIZE_MAX (1024u * 1024u)
#define BULK_SIZE_MAX (256u * 1024u * 1024u)
#define HEAD_MAX 8192u
#define IO_BUF (64u * 1024u)
#define EVENTS_MAX 512
/* Give up early when this many connections failed and none succeeded. */
#define FAIL_FAST 1000u
/* Establishing the idle connections may take at most this long. */
#define IDLE_SETUP_NS (120ull * 1000000000ull)

enum mode { MODE_HANDSHAKE, MODE_RR, MODE_BULK, MODE_IDLE, MODE_WATCH };
enum probe { PROBE_ECHO, PROBE_HTTP, PROBE_NONE };

enum cstate {
	ST_FREE,	/* slot unused */
	ST_TCP,		/* connect() in progress */
	ST_TLS,		/* handshake */
	ST_HEAD_OUT,	/* sending the CONNECT head */
	ST_HEAD_IN,	/* reading the CONNECT answer */
	ST_GREET_OUT,	/* sending the mode byte (and the probe) */
	ST_GREET_IN,	/* reading the probe's answer */
	ST_HOLD,	/* idle, watch: established, held */
	ST_REQ_OUT,	/* rr: sending a request */
	ST_REQ_IN,	/* rr: reading its echo */
	ST_BULK_OUT,	/* bulk: length, then data */
	ST_BULK_IN,	/* bulk: the sink's 8-byte count */
};

enum step { STEP_AGAIN, STEP_WAIT, STEP_DONE, STEP_FAIL };

struct conn {
	int fd;
	enum cstate st;
	SSL *ssl;
	uint32_t want;		/* events the current step waits for */
	uint32_t armed;		/* events registered with epoll */
	uint64_t t0;		/* start of the connection, request or round */
	uint64_t off;		/* bytes done in the current step */
	uint32_t tail;		/* last 4 bytes of the CONNECT answer */
	uint64_t closed_at;	/* watch: CLOCK_REALTIME ns the close was seen; 0 while open */
	char status[13];	/* "HTTP/1.1 200" */
	uint8_t ack[8];
};

struct opts {
	enum mode mode;
	enum probe probe;
	struct addr target;
	const char *target_s;
	const char *cert;
	const char *key;
	const char *cacert;
	const char *servername;
	const char *connect;
	bool plain;
	bool resume;
	bool skip_verify;
	uint64_t conc;
	uint64_t seconds;
	uint64_t max_conns;
	uint64_t size;
	uint64_t cpu;
};

struct run {
	struct opts o;
	int ep;
	SSL_CTX *ctx;
	SSL_SESSION *sess;	/* newest ticket (--resume) */
	struct conn *conns;
	size_t n_slots;
	char head[HEAD_MAX];
	size_t head_len;
	const uint8_t *greet;
	size_t greet_len;
	size_t greet_answer;	/* bytes the probe waits for */
	uint8_t *out;		/* pattern we send */
	uint8_t in[IO_BUF];	/* what we read and drop */
	bool counting;		/* false while priming --resume */
	bool slot_free;		/* a handshake slot could not be reopened */
	/* figures */
	uint64_t started;
	uint64_t ok;
	uint64_t errors;
	uint64_t resumed;
	uint64_t dropped;	/* idle connections the server closed */
	uint64_t bytes;		/* bulk: bytes the sink confirmed */
	uint64_t t_start;
	uint64_t t_end;		/* when the timed loop stopped */
	uint64_t t_last;	/* bulk: time of the last answer; idle: ready */
	uint64_t in_flight;
	uint64_t held;
	struct hist lat;
	char first_error[256];
	/* watch */
	uint64_t now_real;	/* CLOCK_REALTIME when the last epoll_wait returned */
	uint64_t closed;	/* held connections seen closing */
	uint64_t commit_t0;	/* the policy write's start and end (0: no line yet) */
	uint64_t commit_t1;
	uint64_t early;		/* closed before the write started */
	uint64_t before_end;	/* closed after it started, before it returned */
	uint64_t not_closed;	/* stamped as closed but still open afterwards */
	struct hist since_start;	/* close - T0 */
};

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: load_bench handshake|rr|bulk|idle|watch --target HOST:PORT [options]\n"
	    "  --cert FILE --key FILE   client certificate chain and key (PEM)\n"
	    "  --cacert FILE            check the server's chain against these roots\n"
	    "  --skip-verify            do not check the server's chain (cheaper client)\n"
	    "  --servername NAME        SNI\n"
	    "  --connect HOST:PORT      send an HTTP/1.1 CONNECT head, wait for 200\n"
	    "  --plain                  no TLS (a plaintext listener in front of a proxy)\n"
	    "  --resume                 handshake, idle, watch: reuse the newest session ticket\n"
	    "  --probe echo|http|none   how a connection proves it is through (default echo)\n"
	    "  -c N     concurrency (1..%u; default 32, bulk 1, idle and watch 64)\n"
	    "  -d S     seconds (1..%u; default 5; idle: longest hold, default 60;\n"
	    "           watch: longest wait for the write line, then for the closes, default 30)\n"
	    "  -n N     handshake: at most N connections (..%u); idle, watch: connections to hold (..%u)\n"
	    "  --size B rr: request size (1..%u, default 1024); bulk: round size (1024..%u, default 16 MiB)\n"
	    "  --cpu N  pin to CPU N\n",
	    CONC_MAX, SECONDS_MAX, TOTAL_MAX, IDLE_MAX, RR_SIZE_MAX, BULK_SIZE_MAX);
}

static void
record_error(struct run *r, const char *what, const char *detail)
{
	r->errors++;
	if (r->first_error[0] == '\0')
		snprintf(r->first_error, sizeof(r->first_error), "%s: %s", what, detail);
}

/* The OpenSSL error queue (or errno) as one line. */
static void
record_ssl_error(struct run *r, struct conn *c, const char *what, int ret)
{
	char buf[200];
	unsigned long e = ERR_peek_last_error();
	int se = SSL_get_error(c->ssl, ret);

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else if (se == SSL_ERROR_SYSCALL)
		snprintf(buf, sizeof(buf), "%s", errno != 0 ? strerror(errno) : "connection closed by peer");
	else if (se == SSL_ERROR_ZERO_RETURN)
		snprintf(buf, sizeof(buf), "peer sent close_notify");
	else
		snprintf(buf, sizeof(buf), "SSL error %d", se);
	ERR_clear_error();
	record_error(r, what, buf);
}

/* ---------------------------------------------------------------- I/O */

/* Bytes written (> 0), 0 when it would block (c->want set), -1 on error. */
static ssize_t
conn_send(struct run *r, struct conn *c, const void *p, size_t n)
{
	int k;

	if (n > INT_MAX)
		n = INT_MAX;
	if (c->ssl == NULL) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w > 0)
			return w;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->want = EPOLLOUT;
			return 0;
		}
		record_error(r, "send", strerror(errno));
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	k = SSL_write(c->ssl, p, (int)n);
	if (k > 0)
		return k;
	switch (SSL_get_error(c->ssl, k)) {
	case SSL_ERROR_WANT_READ:
		c->want = EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want = EPOLLOUT;
		return 0;
	default:
		record_ssl_error(r, c, "write", k);
		return -1;
	}
}

/* Bytes read (> 0), 0 when it would block (c->want set), -1 on error or EOF. */
static ssize_t
conn_recv(struct run *r, struct conn *c, void *p, size_t n)
{
	int k;

	if (n > INT_MAX)
		n = INT_MAX;
	if (c->ssl == NULL) {
		ssize_t got = recv(c->fd, p, n, 0);

		if (got > 0)
			return got;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->want = EPOLLIN;
			return 0;
		}
		record_error(r, "read", got == 0 ? "connection closed by peer" : strerror(errno));
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	k = SSL_read(c->ssl, p, (int)n);
	if (k > 0)
		return k;
	switch (SSL_get_error(c->ssl, k)) {
	case SSL_ERROR_WANT_READ:
		c->want = EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want = EPOLLOUT;
		return 0;
	default:
		record_ssl_error(r, c, "read", k);
		return -1;
	}
}

/* ---------------------------------------------------------------- connections */

/* clean: send close_notify (not after a fatal error, where OpenSSL forbids it). */
static void
conn_close(struct conn *c, bool clean)
{
	if (c->st == ST_FREE)
		return;
	if (c->ssl != NULL) {
		/* One close_notify, not waiting for the peer's. */
		if (clean && SSL_is_init_finished(c->ssl))
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);	/* also removes it from epoll */
	c->fd = -1;
	c->st = ST_FREE;
	c->armed = 0;
	ERR_clear_error();
}

static int
conn_open(struct run *r, struct conn *c)
{
	struct epoll_event e;
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = socket(r->o.target.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		record_error(r, "socket", strerror(errno));
		return -1;
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->st = ST_TCP;
	c->t0 = bench_now_ns();
	if (connect(c->fd, (const struct sockaddr *)&r->o.target.ss, r->o.target.len) != 0 &&
	    errno != EINPROGRESS) {
		record_error(r, "connect", strerror(errno));
		close(c->fd);
		c->fd = -1;
		c->st = ST_FREE;
		return -1;
	}
	c->want = c->armed = EPOLLOUT;
	e.events = EPOLLOUT;
	e.data.ptr = c;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &e) != 0) {
		record_error(r, "epoll_ctl", strerror(errno));
		close(c->fd);
		c->fd = -1;
		c->st = ST_FREE;
		return -1;
	}
	r->started++;
	r->in_flight++;
	return 0;
}

static enum cstate
after_tls(const struct run *r)
{
	if (r->o.connect != NULL)
		return ST_HEAD_OUT;
	return r->greet_len > 0 ? ST_GREET_OUT : ST_HOLD;
}

static int
tls_start(struct run *r, struct conn *c)
{
	c->ssl = SSL_new(r->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		record_error(r, "SSL_new", "out of memory");
		return -1;
	}
	SSL_set_connect_state(c->ssl);
	if (r->o.servername != NULL && SSL_set_tlsext_host_name(c->ssl, r->o.servername) != 1) {
		record_error(r, "SNI", "rejected by OpenSSL");
		return -1;
	}
	if (r->o.resume && r->sess != NULL)
		(void)SSL_set_session(c->ssl, r->sess);
	return 0;
}

/*
 * The state a connection enters once it is established: the mode's work
 * (rr, bulk), a hold (idle), or STEP_DONE (handshake).
 */
static enum step
established(struct run *r, struct conn *c)
{
	uint64_t now = bench_now_ns();

	switch (r->o.mode) {
	case MODE_HANDSHAKE:
	case MODE_IDLE:
	case MODE_WATCH:
		if (r->counting) {
			hist_add(&r->lat, now - c->t0);
			if (c->ssl != NULL && SSL_session_reused(c->ssl))
				r->resumed++;
		}
		if (r->o.mode == MODE_HANDSHAKE)
			return STEP_DONE;
		c->st = ST_HOLD;
		/* watch: the first event is the close; one-shot, so it is not repeated. */
		c->want = r->o.mode == MODE_WATCH ? EPOLLIN | EPOLLONESHOT : EPOLLIN;
		r->in_flight--;
		r->held++;
		return STEP_WAIT;
	case MODE_RR:
		c->st = ST_REQ_OUT;
		break;
	case MODE_BULK:
		c->st = ST_BULK_OUT;
		break;
	}
	r->in_flight--;
	c->off = 0;
	c->t0 = now;
	return STEP_AGAIN;
}

/* Advance c by one step. */
static enum step
conn_step(struct run *r, struct conn *c)
{
	ssize_t k;

	switch (c->st) {
	case ST_FREE:
		return STEP_FAIL;
	case ST_TCP: {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
			soerr = errno;
		if (soerr == EINPROGRESS || soerr == EALREADY) {
			c->want = EPOLLOUT;
			return STEP_WAIT;
		}
		if (soerr != 0) {
			record_error(r, "connect", strerror(soerr));
			return STEP_FAIL;
		}
		if (r->o.plain) {
			c->st = after_tls(r);
			return c->st == ST_HOLD ? established(r, c) : STEP_AGAIN;
		}
		if (tls_start(r, c) != 0)
			return STEP_FAIL;
		c->st = ST_TLS;
		return STEP_AGAIN;
	}
	case ST_TLS: {
		int ret;

		ERR_clear_error();
		errno = 0;
		ret = SSL_do_handshake(c->ssl);
		if (ret == 1) {
			c->st = after_tls(r);
			c->off = 0;
			return c->st == ST_HOLD ? established(r, c) : STEP_AGAIN;
		}
		switch (SSL_get_error(c->ssl, ret)) {
		case SSL_ERROR_WANT_READ:
			c->want = EPOLLIN;
			return STEP_WAIT;
		case SSL_ERROR_WANT_WRITE:
			c->want = EPOLLOUT;
			return STEP_WAIT;
		default:
			record_ssl_error(r, c, "handshake", ret);
			return STEP_FAIL;
		}
	}
	case ST_HEAD_OUT:
		k = conn_send(r, c, r->head + c->off, r->head_len - c->off);
		if (k <= 0)
			return k == 0 ? STEP_WAIT : STEP_FAIL;
		c->off += (uint64_t)k;
		if (c->off == r->head_len) {
			c->st = ST_HEAD_IN;
			c->off = 0;
			c->tail = 0;
		}
		return STEP_AGAIN;
	case ST_HEAD_IN: {
		uint8_t ch;

		/* Byte by byte, so nothing past the head (the tunnel's first bytes) is taken. */
		k = conn_recv(r, c, &ch, 1);
		if (k <= 0)
			return k == 0 ? STEP_WAIT : STEP_FAIL;
		if (c->off < sizeof(c->status) - 1)
			c->status[c->off] = (char)ch;
		c->off++;
		c->tail = c->tail << 8 | ch;
		if (c->off >= HEAD_MAX) {
			record_error(r, "CONNECT", "answer head too long");
			return STEP_FAIL;
		}
		if (c->tail != 0x0d0a0d0au)
			return STEP_AGAIN;
		if (strcmp(c->status, "HTTP/1.1 200") != 0 && strcmp(c->status, "HTTP/1.0 200") != 0) {
			char why[64];

			snprintf(why, sizeof(why), "answered \"%.12s\"", c->status);
			record_error(r, "CONNECT", why);
			return STEP_FAIL;
		}
		c->st = r->greet_len > 0 ? ST_GREET_OUT : ST_HOLD;
		c->off = 0;
		return c->st == ST_HOLD ? established(r, c) : STEP_AGAIN;
	}
	case ST_GREET_OUT:
		k = conn_send(r, c, r->greet + c->off, r->greet_len - c->off);
		if (k <= 0)
			return k == 0 ? STEP_WAIT : STEP_FAIL;
		c->off += (uint64_t)k;
		if (c->off < r->greet_len)
			return STEP_AGAIN;
		c->off = 0;
		if (r->greet_answer == 0)
			return established(r, c);
		c->st = ST_GREET_IN;
		return STEP_AGAIN;
	case ST_GREET_IN:
		k = conn_recv(r, c, r->in, r->greet_answer - c->off);
		if (k <= 0)
			return k == 0 ? STEP_WAIT : STEP_FAIL;
		c->off += (uint64_t)k;
		return c->off < r->greet_answer ? STEP_AGAIN : established(r, c);
	case ST_HOLD:
		/* Held connections carry nothing: readable means the server closed it. */
		if (r->o.mode == MODE_WATCH) {
			/* Stamp it now, look at it after the watch (watch_verify). */
			if (c->closed_at == 0) {
				c->closed_at = r->now_real;
				r->closed++;
			}
			return STEP_WAIT;
		}
		k = conn_recv(r, c, r->in, sizeof(r->in));
		if (k == 0)
			return STEP_WAIT;
		if (k > 0)
			record_error(r, "hold", "unexpected data on a held connection");
		r->dropped++;
		return STEP_FAIL;
	case ST_REQ_OUT:
		k = conn_send(r, c, r->out + c->off, r->o.size - c->off);
		if (k <= 0)
			return k == 0 ? STEP_WAIT : STEP_FAIL;
		c->off += (uint64_t)k;
		if (c->off == r->o.size) {
			c->st = ST_REQ_IN;
			c->off = 0;
		}
		return STEP_AGAIN;
	case ST_REQ_IN: {
		uint64_t now, left = r->o.size - c->off;

		k = conn_recv(r, c, r->in, left < sizeof(r->in) ? left : sizeof(r->in));
		if (k <= 0)
			return k == 0 ? STEP_WAIT : STEP_FAIL;
		c->off += (uint64_t)k;
		if (c->off < r->o.size)
			return STEP_AGAIN;
		now = bench_now_ns();
		hist_add(&r->lat, now - c->t0);
		r->ok++;
		c->st = ST_REQ_OUT;
		c->off = 0;
		c->t0 = now;
		return STEP_AGAIN;
	}
	case ST_BULK_OUT: {
		uint64_t total = 8 + r->o.size;

		if (c->off < 8) {
			uint8_t hdr[8];

			for (unsigned i = 0; i < 8; i++)
				hdr[i] = (uint8_t)(r->o.size >> (56 - 8 * i));
			/* The same 8 bytes every retry, as OpenSSL requires. */
			k = conn_send(r, c, hdr + c->off, 8 - c->off);
		} else {
			uint64_t left = total - c->off;

			k = conn_send(r, c, r->out, left < IO_BUF ? left : IO_BUF);
		}
		if (k <= 0)
			return k == 0 ? STEP_WAIT : STEP_FAIL;
		c->off += (uint64_t)k;
		if (c->off == total) {
			c->st = ST_BULK_IN;
			c->off = 0;
		}
		return STEP_AGAIN;
	}
	case ST_BULK_IN: {
		uint64_t got = 0;

		k = conn_recv(r, c, c->ack + c->off, 8 - c->off);
		if (k <= 0)
			return k == 0 ? STEP_WAIT : STEP_FAIL;
		c->off += (uint64_t)k;
		if (c->off < 8)
			return STEP_AGAIN;
		for (unsigned i = 0; i < 8; i++)
			got = got << 8 | c->ack[i];
		if (got != r->o.size) {
			record_error(r, "bulk", "the sink counted a different number of bytes");
			return STEP_FAIL;
		}
		r->t_last = bench_now_ns();
		hist_add(&r->lat, r->t_last - c->t0);
		r->bytes += got;
		r->ok++;
		c->st = ST_BULK_OUT;
		c->off = 0;
		c->t0 = r->t_last;
		return STEP_AGAIN;
	}
	}
	return STEP_FAIL;
}

static int
conn_arm(struct run *r, struct conn *c)
{
	struct epoll_event e = { .events = c->want, .data.ptr = c };

	if (c->armed == c->want)
		return 0;
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &e) != 0) {
		record_error(r, "epoll_ctl", strerror(errno));
		return -1;
	}
	c->armed = c->want;
	return 0;
}

/* Run c's state machine until it waits, finishes or fails. */
static void
conn_drive(struct run *r, struct conn *c)
{
	enum step s;

	do {
		s = conn_step(r, c);
	} while (s == STEP_AGAIN);
	/* A failed conn_arm is counted there and ends the connection. */
	if (s == STEP_WAIT && conn_arm(r, c) == 0)
		return;
	if (s == STEP_DONE && r->counting)
		r->ok++;
	if (c->st == ST_HOLD)
		r->held--;
	else if (c->st < ST_HOLD)
		r->in_flight--;
	conn_close(c, s == STEP_DONE);
}

/* ---------------------------------------------------------------- TLS setup */

static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct run *r = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	SSL_SESSION_free(r->sess);
	r->sess = sess;
	return 1;	/* we keep the reference */
}

static int
tls_setup(struct run *r)
{
	const struct opts *o = &r->o;

	r->ctx = SSL_CTX_new(TLS_client_method());
	if (r->ctx == NULL)
		goto fail;
	SSL_CTX_set_app_data(r->ctx, r);
	/* The same protocol, cipher and group against every server: TLS 1.3, AES-128-GCM, P-256. */
	if (SSL_CTX_set_min_proto_version(r->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(r->ctx, "TLS_AES_128_GCM_SHA256") != 1 ||
	    SSL_CTX_set1_groups_list(r->ctx, "P-256") != 1)
		goto fail;
	SSL_CTX_set_mode(r->ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (o->cert != NULL) {
		if (SSL_CTX_use_certificate_chain_file(r->ctx, o->cert) != 1) {
			fprintf(stderr, "load_bench: --cert %s: cannot load the chain\n", o->cert);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(r->ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(r->ctx) != 1) {
			fprintf(stderr, "load_bench: --key %s: cannot load, or does not match --cert\n", o->key);
			goto fail;
		}
	}
	if (!o->skip_verify) {
		if (SSL_CTX_load_verify_locations(r->ctx, o->cacert, NULL) != 1) {
			fprintf(stderr, "load_bench: --cacert %s: cannot load\n", o->cacert);
			goto fail;
		}
		SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
	}
	if (o->resume) {
		SSL_CTX_set_session_cache_mode(r->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(r->ctx, new_session);
	} else {
		SSL_CTX_set_session_cache_mode(r->ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(r->ctx, SSL_OP_NO_TICKET);
	}
	return 0;
fail:
	ERR_print_errors_fp(stderr);
	return -1;
}

/* ---------------------------------------------------------------- the loop */

static bool
slot_may_start(const struct run *r, uint64_t now, uint64_t deadline)
{
	if (stop_flag || now >= deadline)
		return false;
	if (r->o.mode == MODE_HANDSHAKE)
		return r->started < r->o.max_conns && !(r->ok == 0 && r->errors >= FAIL_FAST);
	return false;
}

/*
 * Open a connection in the free slot c when the mode wants one now. A
 * connection can finish without waiting (a fast peer on loopback), so this
 * goes on a few times; a slot still free then is left to the next round.
 */
static void
slot_refill(struct run *r, struct conn *c, uint64_t deadline)
{
	for (int i = 0; i < 8; i++) {
		if (c->st != ST_FREE || !slot_may_start(r, bench_now_ns(), deadline))
			return;
		if (conn_open(r, c) == 0)
			conn_drive(r, c);
	}
	if (c->st == ST_FREE)
		r->slot_free = true;
}

/* One epoll round; a handshake slot is reopened as soon as it is done. */
static void
loop_once(struct run *r, uint64_t deadline, int timeout_ms)
{
	struct epoll_event evs[EVENTS_MAX];
	int n = epoll_wait(r->ep, evs, EVENTS_MAX, timeout_ms);

	r->now_real = bench_realtime_ns();
	for (int i = 0; i < n; i++) {
		struct conn *c = evs[i].data.ptr;

		if (c == NULL)
			continue;
		conn_drive(r, c);
		slot_refill(r, c, deadline);
	}
	if (r->slot_free) {
		r->slot_free = false;
		for (size_t i = 0; i < r->n_slots; i++)
			slot_refill(r, &r->conns[i], deadline);
	}
}

/* --resume: one untimed connection to get a ticket. */
static void
prime_session(struct run *r)
{
	uint64_t deadline = bench_now_ns() + 10ull * 1000000000ull;
	struct conn *c = &r->conns[0];

	r->counting = false;
	if (conn_open(r, c) == 0)
		conn_drive(r, c);
	/* Handshake mode ends the connection itself; idle and watch hold it. */
	while (c->st != ST_FREE && c->st != ST_HOLD && !stop_flag && bench_now_ns() < deadline) {
		struct epoll_event ev;

		if (epoll_wait(r->ep, &ev, 1, 100) == 1)
			conn_drive(r, c);
	}
	if (c->st == ST_HOLD) {
		r->held--;
		conn_close(c, true);
	} else if (c->st != ST_FREE) {
		r->in_flight--;
		conn_close(c, false);
	}
	if (r->first_error[0] != '\0')
		fprintf(stderr, "load_bench: --resume: the first connection failed: %s\n", r->first_error);
	if (r->sess == NULL)
		fprintf(stderr, "load_bench: --resume: the server sent no session ticket; "
		    "every handshake will be full\n");
	r->errors = 0;
	r->first_error[0] = '\0';
	r->started = 0;
	r->counting = true;
}

static void
run_timed(struct run *r)
{
	uint64_t deadline;

	r->t_start = bench_now_ns();
	deadline = r->t_start + r->o.seconds * 1000000000ull;
	for (size_t i = 0; i < r->n_slots; i++) {
		struct conn *c = &r->conns[i];

		if (r->o.mode == MODE_HANDSHAKE)
			slot_refill(r, c, deadline);
		else if (conn_open(r, c) == 0)
			conn_drive(r, c);
	}
	while (!stop_flag) {
		uint64_t now = bench_now_ns(), ms;
		bool busy = false;

		if (now >= deadline)
			break;
		for (size_t i = 0; i < r->n_slots && !busy; i++)
			busy = r->conns[i].st != ST_FREE;
		if (!busy && !slot_may_start(r, now, deadline))
			break;
		ms = (deadline - now) / 1000000 + 1;
		/* A slot left free by slot_refill must not wait for an event that will not come. */
		loop_once(r, deadline, r->slot_free ? 0 : ms < 100 ? (int)ms : 100);
	}
	r->t_end = bench_now_ns();
	if (r->t_end > deadline)
		r->t_end = deadline;
}

/* idle, watch: establish max_conns with conc in flight; print "ready". */
static void
hold_setup(struct run *r)
{
	uint64_t setup_deadline, next = 0;

	r->t_start = bench_now_ns();
	setup_deadline = r->t_start + IDLE_SETUP_NS;
	while (!stop_flag && bench_now_ns() < setup_deadline) {
		while (next < r->n_slots && r->in_flight < r->o.conc &&
		    !(r->ok == 0 && r->errors >= FAIL_FAST)) {
			struct conn *c = &r->conns[next++];

			if (conn_open(r, c) == 0)
				conn_drive(r, c);
		}
		if (r->in_flight == 0 && (next == r->n_slots || (r->ok == 0 && r->errors >= FAIL_FAST)))
			break;
		loop_once(r, 0, 100);
	}
	r->ok = r->held;
	r->t_last = bench_now_ns();
	printf("ready conns=%llu errors=%llu\n", (unsigned long long)r->held,
	    (unsigned long long)r->errors);
	fflush(stdout);
}

/* idle: establish, hold until a line on stdin, a signal or -d seconds, release. */
static void
run_idle(struct run *r)
{
	uint64_t hold_deadline;
	bool stdin_open = true;
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

	hold_setup(r);
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, STDIN_FILENO, &e) != 0)
		stdin_open = false;
	hold_deadline = bench_now_ns() + r->o.seconds * 1000000000ull;
	while (!stop_flag && bench_now_ns() < hold_deadline) {
		struct epoll_event evs[EVENTS_MAX];
		int n = epoll_wait(r->ep, evs, EVENTS_MAX, 200);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr != NULL) {
				conn_drive(r, evs[i].data.ptr);
				continue;
			}
			/* A line on stdin releases; EOF (stdin is /dev/null) does not. */
			char line[64];
			ssize_t k = read(STDIN_FILENO, line, sizeof(line));

			if (k > 0) {
				stop_flag = 1;
			} else if (stdin_open) {
				(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
				stdin_open = false;
			}
		}
	}
}

/*
 * watch: one line "T0 T1" (decimal ns) in buf; 0 when it parses. A line
 * split across reads is put together in line[] first.
 */
static int
watch_parse(const char *buf, uint64_t *t0, uint64_t *t1)
{
	unsigned long long a, b;
	int used = 0;

	if (sscanf(buf, "%llu %llu%n", &a, &b, &used) != 2 || a == 0 || b < a)
		return -1;
	for (const char *p = buf + used; *p != '\0'; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return -1;
	*t0 = a;
	*t1 = b;
	return 0;
}

/*
 * watch: every connection stamped as closed must have ended (EOF, an
 * alert, a reset); data or nothing to read means the stamp was wrong.
 */
static void
watch_verify(struct run *r)
{
	for (size_t i = 0; i < r->n_slots; i++) {
		struct conn *c = &r->conns[i];
		int k, e = SSL_ERROR_WANT_READ;

		if (c->st != ST_HOLD || c->closed_at == 0)
			continue;
		if (c->ssl != NULL) {
			ERR_clear_error();
			k = SSL_read(c->ssl, r->in, sizeof(r->in));
			e = k > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, k);
			ERR_clear_error();
		} else {
			ssize_t got = recv(c->fd, r->in, sizeof(r->in), 0);

			e = got > 0 ? SSL_ERROR_NONE : got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ?
			    SSL_ERROR_SYSCALL : SSL_ERROR_WANT_READ;
		}
		if (e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			r->not_closed++;
			record_error(r, "watch", e == SSL_ERROR_NONE ? "data on a held connection" :
			    "readable, but the connection had not ended");
		}
		conn_close(c, false);
	}
}

/*
 * watch: establish and hold; read the policy write's "T0 T1" from stdin;
 * stamp each close with the clock read when epoll_wait returned; stop when
 * every held connection has closed, or -d seconds after the line (or
 * without one).
 */
static void
run_watch(struct run *r)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
	char line[128];
	size_t line_len = 0;
	uint64_t wait_ns = r->o.seconds * 1000000000ull, deadline;

	hold_setup(r);
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, STDIN_FILENO, &e) != 0) {
		record_error(r, "watch", "stdin cannot be watched (give the write line through a pipe)");
		return;
	}
	deadline = bench_now_ns() + wait_ns;
	while (!stop_flag && bench_now_ns() < deadline) {
		struct epoll_event evs[EVENTS_MAX];
		int n;

		if (r->commit_t1 != 0 && r->closed == r->held)
			break;
		n = epoll_wait(r->ep, evs, EVENTS_MAX, 100);
		r->now_real = bench_realtime_ns();
		for (int i = 0; i < n; i++) {
			ssize_t k;

			if (evs[i].data.ptr != NULL) {
				conn_drive(r, evs[i].data.ptr);
				continue;
			}
			k = read(STDIN_FILENO, line + line_len, sizeof(line) - 1 - line_len);
			if (k <= 0) {
				/* EOF before the line: nothing more will come. */
				(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
				if (r->commit_t1 == 0) {
					record_error(r, "watch", "stdin closed before the write line");
					stop_flag = 1;
				}
				continue;
			}
			line_len += (size_t)k;
			line[line_len] = '\0';
			if (r->commit_t1 != 0 || strchr(line, '\n') == NULL) {
				if (line_len == sizeof(line) - 1)
					line_len = 0;	/* no line is that long: drop it */
				continue;
			}
			if (watch_parse(line, &r->commit_t0, &r->commit_t1) != 0) {
				record_error(r, "watch", "stdin: expected \"T0_NS T1_NS\"");
				stop_flag = 1;
				continue;
			}
			deadline = bench_now_ns() + wait_ns;
		}
	}
	r->t_end = bench_now_ns();
	if (r->commit_t1 == 0 && r->errors == 0)
		record_error(r, "watch", "no write line on stdin within -d seconds");
	hist_init(&r->lat);	/* from here on: close - T1, no longer the set-up times */
	for (size_t i = 0; i < r->n_slots; i++) {
		const struct conn *c = &r->conns[i];

		if (c->st != ST_HOLD || c->closed_at == 0 || r->commit_t1 == 0)
			continue;
		if (c->closed_at < r->commit_t0) {
			r->early++;
			continue;
		}
		hist_add(&r->since_start, c->closed_at - r->commit_t0);
		if (c->closed_at < r->commit_t1) {
			r->before_end++;
			hist_add(&r->lat, 0);
		} else {
			hist_add(&r->lat, c->closed_at - r->commit_t1);
		}
	}
	if (r->early > 0)
		record_error(r, "watch", "connections closed before the policy write started");
	watch_verify(r);
}

/* ---------------------------------------------------------------- arguments */

static int
parse_args(int argc, char **argv, struct opts *o)
{
	const char *why = NULL, *probe = NULL;
	bool have_c = false, have_d = false, have_n = false, have_size = false, hold;
	uint64_t size_max;

	memset(o, 0, sizeof(*o));
	o->cpu = UINT64_MAX;
	if (argc < 2) {
		usage(stderr);
		return -1;
	}
	if (strcmp(argv[1], "handshake") == 0)
		o->mode = MODE_HANDSHAKE;
	else if (strcmp(argv[1], "rr") == 0)
		o->mode = MODE_RR;
	else if (strcmp(argv[1], "bulk") == 0)
		o->mode = MODE_BULK;
	else if (strcmp(argv[1], "idle") == 0)
		o->mode = MODE_IDLE;
	else if (strcmp(argv[1], "watch") == 0)
		o->mode = MODE_WATCH;
	else {
		fprintf(stderr, "load_bench: unknown mode '%s' (handshake, rr, bulk, idle, watch)\n", argv[1]);
		return -1;
	}
	hold = o->mode == MODE_IDLE || o->mode == MODE_WATCH;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int err = 0;

		if (strcmp(a, "--plain") == 0) {
			o->plain = true;
			continue;
		}
		if (strcmp(a, "--resume") == 0) {
			o->resume = true;
			continue;
		}
		if (strcmp(a, "--skip-verify") == 0) {
			o->skip_verify = true;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "load_bench: %s: unknown option or missing value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--target") == 0) {
			o->target_s = v;
		} else if (strcmp(a, "--cert") == 0) {
			o->cert = v;
		} else if (strcmp(a, "--key") == 0) {
			o->key = v;
		} else if (strcmp(a, "--cacert") == 0) {
			o->cacert = v;
		} else if (strcmp(a, "--servername") == 0) {
			o->servername = v;
		} else if (strcmp(a, "--connect") == 0) {
			o->connect = v;
		} else if (strcmp(a, "--probe") == 0) {
			probe = v;
		} else if (strcmp(a, "-c") == 0) {
			err = net_parse_uint(v, 1, CONC_MAX, &o->conc);
			have_c = true;
		} else if (strcmp(a, "-d") == 0) {
			err = net_parse_uint(v, 1, SECONDS_MAX, &o->seconds);
			have_d = true;
		} else if (strcmp(a, "-n") == 0) {
			err = net_parse_uint(v, 1, hold ? IDLE_MAX : TOTAL_MAX, &o->max_conns);
			have_n = true;
		} else if (strcmp(a, "--size") == 0) {
			size_max = o->mode == MODE_BULK ? BULK_SIZE_MAX : RR_SIZE_MAX;
			err = net_parse_uint(v, o->mode == MODE_BULK ? 1024 : 1, size_max, &o->size);
			have_size = true;
		} else if (strcmp(a, "--cpu") == 0) {
			err = net_parse_uint(v, 0, CPU_SETSIZE - 1, &o->cpu);
		} else {
			fprintf(stderr, "load_bench: unknown option %s\n", a);
			return -1;
		}
		if (err != 0) {
			fprintf(stderr, "load_bench: %s %s: not a whole number in the allowed range "
			    "(see --help)\n", a, v);
			return -1;
		}
	}
	if (o->target_s == NULL) {
		fprintf(stderr, "load_bench: --target HOST:PORT is required\n");
		return -1;
	}
	if (net_parse_loopback(o->target_s, false, &o->target, &why) != 0) {
		fprintf(stderr, "load_bench: --target %s: %s\n", o->target_s, why);
		return -1;
	}
	if ((o->cert == NULL) != (o->key == NULL)) {
		fprintf(stderr, "load_bench: --cert and --key go together\n");
		return -1;
	}
	if (o->plain && (o->cert != NULL || o->cacert != NULL || o->resume || o->servername != NULL)) {
		fprintf(stderr, "load_bench: --plain takes no TLS option\n");
		return -1;
	}
	if (!o->plain && !o->skip_verify && o->cacert == NULL) {
		fprintf(stderr, "load_bench: --cacert FILE (or --skip-verify) is required for TLS\n");
		return -1;
	}
	if (o->resume && o->mode != MODE_HANDSHAKE && !hold) {
		fprintf(stderr, "load_bench: --resume is for handshake, idle and watch modes\n");
		return -1;
	}
	if (o->connect != NULL) {
		size_t n = strlen(o->connect);

		if (n == 0 || n > 255 || strcspn(o->connect, " \t\r\n") != n || strchr(o->connect, ':') == NULL) {
			fprintf(stderr, "load_bench: --connect: expected HOST:PORT\n");
			return -1;
		}
	}
	o->probe = PROBE_ECHO;
	if (probe != NULL) {
		if (strcmp(probe, "echo") == 0)
			o->probe = PROBE_ECHO;
		else if (strcmp(probe, "http") == 0)
			o->probe = PROBE_HTTP;
		else if (strcmp(probe, "none") == 0)
			o->probe = PROBE_NONE;
		else {
			fprintf(stderr, "load_bench: --probe: echo, http or none\n");
			return -1;
		}
		if (o->mode == MODE_RR || o->mode == MODE_BULK) {
			fprintf(stderr, "load_bench: --probe is for handshake, idle and watch modes\n");
			return -1;
		}
	}
	if (have_n && (o->mode == MODE_RR || o->mode == MODE_BULK)) {
		fprintf(stderr, "load_bench: -n is for handshake, idle and watch modes (use -c)\n");
		return -1;
	}
	if (have_size && (o->mode == MODE_HANDSHAKE || hold)) {
		fprintf(stderr, "load_bench: --size is for rr and bulk modes\n");
		return -1;
	}
	if (!have_c)
		o->conc = o->mode == MODE_BULK ? 1 : hold ? 64 : 32;
	if (!have_d)
		o->seconds = o->mode == MODE_IDLE ? 60 : o->mode == MODE_WATCH ? 30 : 5;
	if (!have_n)
		o->max_conns = hold ? 1000 : TOTAL_MAX;
	if (!have_size)
		o->size = o->mode == MODE_BULK ? 16u * 1024 * 1024 : 1024;
	if (hold && o->conc > o->max_conns)
		o->conc = o->max_conns;
	return 0;
}

/* ---------------------------------------------------------------- report */

static void
report(const struct run *r)
{
	const struct opts *o = &r->o;
	double secs = (double)(r->t_end - r->t_start) / 1e9;
	static const char *names[] = { "handshake", "rr", "bulk", "idle", "watch" };
	double p50 = (double)hist_percentile(&r->lat, 50) / 1e3;
	double p90 = (double)hist_percentile(&r->lat, 90) / 1e3;
	double p99 = (double)hist_percentile(&r->lat, 99) / 1e3;
	double max = (double)r->lat.max_ns / 1e3;

	if (o->mode == MODE_BULK)
		secs = r->t_last > r->t_start ? (double)(r->t_last - r->t_start) / 1e9 : 0.0;
	else if (o->mode == MODE_IDLE || o->mode == MODE_WATCH)
		secs = (double)(r->t_last - r->t_start) / 1e9;
	printf("mode=%s target=%s conc=%llu seconds=%.3f ok=%llu errors=%llu", names[o->mode],
	    o->target_s, (unsigned long long)o->conc, secs, (unsigned long long)r->ok,
	    (unsigned long long)r->errors);
	switch (o->mode) {
	case MODE_HANDSHAKE:
		printf(" rate=%.1f resumed=%llu resumed_frac=%.3f", secs > 0 ? (double)r->ok / secs : 0.0,
		    (unsigned long long)r->resumed, r->ok ? (double)r->resumed / (double)r->ok : 0.0);
		break;
	case MODE_RR:
		printf(" size=%llu rate=%.1f", (unsigned long long)o->size,
		    secs > 0 ? (double)r->ok / secs : 0.0);
		break;
	case MODE_BULK:
		printf(" size=%llu bytes=%llu mib_s=%.1f", (unsigned long long)o->size,
		    (unsigned long long)r->bytes,
		    secs > 0 ? (double)r->bytes / 1048576.0 / secs : 0.0);
		break;
	case MODE_IDLE:
		printf(" dropped=%llu resumed=%llu", (unsigned long long)r->dropped,
		    (unsigned long long)r->resumed);
		break;
	case MODE_WATCH:
		printf(" resumed=%llu closed=%llu open=%llu early=%llu before_end=%llu not_closed=%llu "
		    "write_us=%.1f min_us=%.1f start_p50_us=%.1f start_p99_us=%.1f start_max_us=%.1f",
		    (unsigned long long)r->resumed, (unsigned long long)r->closed,
		    (unsigned long long)(r->ok - r->closed), (unsigned long long)r->early,
		    (unsigned long long)r->before_end, (unsigned long long)r->not_closed,
		    (double)(r->commit_t1 - r->commit_t0) / 1e3,
		    r->lat.count > 0 ? (double)r->lat.min_ns / 1e3 : 0.0,
		    (double)hist_percentile(&r->since_start, 50) / 1e3,
		    (double)hist_percentile(&r->since_start, 99) / 1e3,
		    (double)r->since_start.max_ns / 1e3);
		break;
	}
	printf(" p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f\n", p50, p90, p99, max);

	switch (o->mode) {
	case MODE_HANDSHAKE:
		printf("load_bench: %s: %.1f connections/s (%llu in %.1f s, %llu errors, %.0f %% resumed), "
		    "setup p50 %.2f ms, p99 %.2f ms\n", o->target_s, secs > 0 ? (double)r->ok / secs : 0.0,
		    (unsigned long long)r->ok, secs, (unsigned long long)r->errors,
		    r->ok ? 100.0 * (double)r->resumed / (double)r->ok : 0.0, p50 / 1e3, p99 / 1e3);
		break;
	case MODE_RR:
		printf("load_bench: %s: %.1f requests/s of %llu bytes on %llu connections, "
		    "p50 %.1f us, p99 %.1f us, max %.1f us (%llu errors)\n", o->target_s,
		    secs > 0 ? (double)r->ok / secs : 0.0, (unsigned long long)o->size,
		    (unsigned long long)o->conc, p50, p99, max, (unsigned long long)r->errors);
		break;
	case MODE_BULK:
		printf("load_bench: %s: %.1f MiB/s on %llu connection(s) (%llu rounds of %llu bytes in %.2f s, "
		    "%llu errors)\n", o->target_s, secs > 0 ? (double)r->bytes / 1048576.0 / secs : 0.0,
		    (unsigned long long)o->conc, (unsigned long long)r->ok, (unsigned long long)o->size, secs,
		    (unsigned long long)r->errors);
		break;
	case MODE_IDLE:
		printf("load_bench: %s: held %llu connections (%llu errors, %llu dropped by the server while "
		    "held), established in %.1f s\n", o->target_s, (unsigned long long)r->ok,
		    (unsigned long long)r->errors, (unsigned long long)r->dropped, secs);
		break;
	case MODE_WATCH:
		printf("load_bench: %s: %llu of %llu held connections closed after the policy write "
		    "(%llu still open, %llu closed before it); from the write's end: p50 %.2f ms, "
		    "p99 %.2f ms, max %.2f ms (the write took %.2f ms)\n", o->target_s,
		    (unsigned long long)(r->closed - r->early), (unsigned long long)r->ok,
		    (unsigned long long)(r->ok - r->closed), (unsigned long long)r->early, p50 / 1e3,
		    p99 / 1e3, max / 1e3, (double)(r->commit_t1 - r->commit_t0) / 1e6);
		break;
	}
	if (r->first_error[0] != '\0')
		fprintf(stderr, "load_bench: first error: %s\n", r->first_error);
}

int
main(int argc, char **argv)
{
	static struct run r;
	static const uint8_t greet_echo[] = "ex", greet_rr[] = "e", greet_bulk[] = "s";
	static const uint8_t greet_http[] = "GET / HTTP/1.0\r\n\r\n";
	struct sigaction sa;
	size_t out_len;
	uint64_t nofile = 0;
	int rc = 1, err;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
	if (parse_args(argc, argv, &r.o) != 0)
		return 2;
	r.ep = -1;
	hist_init(&r.lat);
	r.counting = true;

	if (r.o.cpu != UINT64_MAX && net_pin_cpu((unsigned)r.o.cpu) != 0)
		fprintf(stderr, "load_bench: cannot pin to CPU %llu: %s; running unpinned\n",
		    (unsigned long long)r.o.cpu, strerror(errno));
	r.n_slots = r.o.mode == MODE_IDLE || r.o.mode == MODE_WATCH ? r.o.max_conns : r.o.conc;
	if ((err = net_raise_nofile(r.n_slots + 64, &nofile)) != 0) {
		fprintf(stderr, "load_bench: %zu connections need RLIMIT_NOFILE %zu, the limit is %llu: %s\n",
		    r.n_slots, r.n_slots + 64, (unsigned long long)nofile, strerror(-err));
		return 1;
	}

	switch (r.o.mode) {
	case MODE_HANDSHAKE:
	case MODE_IDLE:
	case MODE_WATCH:
		if (r.o.probe == PROBE_ECHO) {
			r.greet = greet_echo;
			r.greet_len = 2;
			r.greet_answer = 1;
		} else if (r.o.probe == PROBE_HTTP) {
			r.greet = greet_http;
			r.greet_len = sizeof(greet_http) - 1;
			r.greet_answer = 1;
		}
		break;
	case MODE_RR:
		r.greet = greet_rr;
		r.greet_len = 1;
		break;
	case MODE_BULK:
		r.greet = greet_bulk;
		r.greet_len = 1;
		break;
	}
	if (r.o.connect != NULL)
		r.head_len = (size_t)snprintf(r.head, sizeof(r.head), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
		    r.o.connect, r.o.connect);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* rr sends a request in one piece; bulk sends IO_BUF at a time. */
	out_len = r.o.mode == MODE_RR && r.o.size > IO_BUF ? r.o.size : IO_BUF;
	r.conns = calloc(r.n_slots, sizeof(*r.conns));
	r.out = malloc(out_len);
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.conns == NULL || r.out == NULL || r.ep < 0) {
		fprintf(stderr, "load_bench: out of memory or descriptors\n");
		goto out;
	}
	for (size_t i = 0; i < r.n_slots; i++)
		r.conns[i].fd = -1;
	for (size_t i = 0; i < out_len; i++)
		r.out[i] = (uint8_t)('a' + i % 26);
	if (!r.o.plain && tls_setup(&r) != 0)
		goto out;

	if (r.o.resume)
		prime_session(&r);
	hist_init(&r.since_start);
	if (r.o.mode == MODE_IDLE)
		run_idle(&r);
	else if (r.o.mode == MODE_WATCH)
		run_watch(&r);
	else
		run_timed(&r);
	report(&r);
	rc = r.ok > 0 ? 0 : 1;
out:
	if (r.conns != NULL)
		for (size_t i = 0; i < r.n_slots; i++)
			conn_close(&r.conns[i], true);
	free(r.conns);
	free(r.out);
	if (r.ep >= 0)
		close(r.ep);
	SSL_SESSION_free(r.sess);
	SSL_CTX_free(r.ctx);
	return rc;
}
