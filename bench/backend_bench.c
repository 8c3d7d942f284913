/*
 * backend_bench: the plaintext application behind every proxy in the
 * data-plane benchmark (bench/proxies.sh). One thread, epoll, loopback only.
 *
 *   backend_bench --listen 127.0.0.1:PORT [--max-conns N] [--lifetime S] [--cpu N]
 *
 * Prints "port=P" on stdout once it listens (PORT 0 picks a free port), then
 * serves until SIGTERM/SIGINT or --lifetime seconds (default 3600).
 *
 * The first byte a client sends on a connection picks what it gets, so one
 * port serves every benchmark mode and each proxy needs one backend only:
 *   'e'  echo: every later byte is sent back;
 *   's'  sink: repeated rounds of an 8-byte big-endian length L (1..2^40),
 *        then L bytes that are counted and dropped, answered with the count
 *        as 8 bytes big-endian. A client sends the next round only after the
 *        answer, so bytes past a round's end are a protocol error.
 * Anything else closes the connection.
 *
 * Memory stays flat with 10k idle connections: reads go into one shared
 * buffer, and a connection owns a buffer only while the peer is slower to
 * read than we are to echo.
 */
#include <errno.h>
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
#include <unistd.h>

#include "common/addr.h"
#include "bench/bench.h"
#include "bench/net.h"

#define IO_BUF (64 * 1024)
#define EVENTS_MAX 256
#define SINK_ROUND_MAX (1ull << 40)
#define CONNS_MAX 100000u

enum bstate {
	B_NEW,		/* waiting for the mode byte */
	B_ECHO,
	B_SINK_HDR,
	B_SINK_BODY,
};

struct bconn {
	int fd;
	enum bstate st;
	uint32_t armed;		/* the epoll events registered */
	uint8_t *pend;		/* bytes still to write (echo tail or sink answer) */
	size_t pend_len;
	size_t pend_off;
	uint8_t hdr[8];
	unsigned hdr_len;
	uint64_t left;		/* sink: bytes of this round still to come */
	uint64_t round;		/* sink: this round's length */
	struct bconn *prev, *next;	/* every open connection, freed at exit */
};

struct backend {
	int ep;
	int lfd;
	struct bconn *conns;
	uint64_t n_conns;
	uint64_t max_conns;
	uint64_t accepted;
	uint64_t refused;
	uint64_t echoed;
	uint64_t sunk;
	uint8_t buf[IO_BUF];
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
	fprintf(f, "usage: backend_bench --listen 127.0.0.1:PORT [--max-conns N (1..%u, default 30000)]\n"
	    "                     [--lifetime SECONDS (1..86400, default 3600)] [--cpu N]\n"
	    "first byte of a connection: 'e' echo, 's' sink (8-byte length, body, 8-byte count)\n",
	    CONNS_MAX);
}

static void
conn_close(struct backend *b, struct bconn *c)
{
	if (c == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		b->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	close(c->fd);
	free(c->pend);
	free(c);
	b->n_conns--;
}

static int
conn_arm(struct backend *b, struct bconn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (c->armed == ev)
		return 0;
	if (epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd, &e) != 0)
		return -errno;
	c->armed = ev;
	return 0;
}

/*
 * Write p[0..n); what the socket does not take is copied to c->pend and the
 * connection waits for EPOLLOUT. 0, or -1 when the connection is broken.
 */
static int
conn_write(struct backend *b, struct bconn *c, const uint8_t *p, size_t n)
{
	ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

	if (k < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		k = 0;
	}
	if ((size_t)k == n)
		return 0;
	c->pend = malloc(n - (size_t)k);
	if (c->pend == NULL)
		return -1;
	memcpy(c->pend, p + k, n - (size_t)k);
	c->pend_len = n - (size_t)k;
	c->pend_off = 0;
	return conn_arm(b, c, EPOLLOUT) == 0 ? 0 : -1;
}

/* Flush c->pend. 0 when empty (reading resumes), 1 still pending, -1 broken. */
static int
conn_flush(struct backend *b, struct bconn *c)
{
	while (c->pend_off < c->pend_len) {
		ssize_t k = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL);

		if (k < 0)
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
		c->pend_off += (size_t)k;
	}
	free(c->pend);
	c->pend = NULL;
	c->pend_len = c->pend_off = 0;
	return conn_arm(b, c, EPOLLIN) == 0 ? 0 : -1;
}

/* Consume n bytes read from c. 0, or -1 to close the connection. */
static int
conn_consume(struct backend *b, struct bconn *c, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		switch (c->st) {
		case B_NEW:
			if (p[i] == 'e')
				c->st = B_ECHO;
			else if (p[i] == 's')
				c->st = B_SINK_HDR;
			else
				return -1;
			i++;
			break;
		case B_ECHO:
			b->echoed += n - i;
			return conn_write(b, c, p + i, n - i);
		case B_SINK_HDR:
			c->hdr[c->hdr_len++] = p[i++];
			if (c->hdr_len == sizeof(c->hdr)) {
				uint64_t len = 0;

				for (unsigned k = 0; k < sizeof(c->hdr); k++)
					len = len << 8 | c->hdr[k];
				if (len == 0 || len > SINK_ROUND_MAX)
					return -1;
				c->hdr_len = 0;
				c->round = c->left = len;
				c->st = B_SINK_BODY;
			}
			break;
		case B_SINK_BODY: {
			size_t take = n - i;
			uint8_t ack[8];

			if (take > c->left)
				take = (size_t)c->left;
			c->left -= take;
			b->sunk += take;
			i += take;
			if (c->left > 0)
				break;
			/* Nothing may follow a round before its answer. */
			if (i != n)
				return -1;
			for (unsigned k = 0; k < sizeof(ack); k++)
				ack[k] = (uint8_t)(c->round >> (56 - 8 * k));
			c->st = B_SINK_HDR;
			return conn_write(b, c, ack, sizeof(ack));
		}
		}
	}
	return 0;
}

static void
conn_event(struct backend *b, struct bconn *c, uint32_t ev)
{
	ssize_t k;
	int r;

	if (c->pend != NULL) {
		r = conn_flush(b, c);
		if (r < 0)
			conn_close(b, c);
		return;
	}
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0)
		return;
	/* One read per event: level-triggered epoll comes back, and others get a turn. */
	k = recv(c->fd, b->buf, sizeof(b->buf), 0);
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (k <= 0 || conn_consume(b, c, b->buf, (size_t)k) != 0)
		conn_close(b, c);
}

static void
accept_all(struct backend *b)
{
	for (;;) {
		int fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct bconn *c;
		struct epoll_event e;

		if (fd < 0)
			return;
		if (b->n_conns >= b->max_conns) {
			b->refused++;
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->st = B_NEW;
		c->armed = EPOLLIN;
		e.events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = b->conns;
		if (b->conns != NULL)
			b->conns->prev = c;
		b->conns = c;
		b->n_conns++;
		b->accepted++;
	}
}

static int
listen_on(const struct addr *a, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, one = 1;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

int
main(int argc, char **argv)
{
	static struct backend b;
	struct epoll_event evs[EVENTS_MAX], e;
	struct sigaction sa;
	struct addr a;
	const char *listen_s = NULL, *why = NULL;
	uint64_t lifetime = 3600, cpu = UINT64_MAX, deadline, nofile = 0;
	uint16_t port = 0;
	int rc = 1, err;

	b.ep = b.lfd = -1;
	b.max_conns = 30000;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		err = 0;

		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (v == NULL) {
			fprintf(stderr, "backend_bench: %s: missing value or unknown option\n", o);
			usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(o, "--listen") == 0)
			listen_s = v;
		else if (strcmp(o, "--max-conns") == 0)
			err = net_parse_uint(v, 1, CONNS_MAX, &b.max_conns);
		else if (strcmp(o, "--lifetime") == 0)
			err = net_parse_uint(v, 1, 86400, &lifetime);
		else if (strcmp(o, "--cpu") == 0)
			err = net_parse_uint(v, 0, CPU_SETSIZE - 1, &cpu);
		else {
			fprintf(stderr, "backend_bench: unknown option %s\n", o);
			usage(stderr);
			return 2;
		}
		if (err != 0) {
			fprintf(stderr, "backend_bench: %s %s: not a number in range\n", o, v);
			return 2;
		}
	}
	if (listen_s == NULL) {
		fprintf(stderr, "backend_bench: --listen is required\n");
		usage(stderr);
		return 2;
	}
	if (net_parse_loopback(listen_s, true, &a, &why) != 0) {
		fprintf(stderr, "backend_bench: --listen %s: %s\n", listen_s, why);
		return 2;
	}
	if (cpu != UINT64_MAX && net_pin_cpu((unsigned)cpu) != 0)
		fprintf(stderr, "backend_bench: cannot pin to CPU %llu: %s; running unpinned\n",
		    (unsigned long long)cpu, strerror(errno));
	if ((err = net_raise_nofile(b.max_conns + 64, &nofile)) != 0) {
		if (nofile < 128) {
			fprintf(stderr, "backend_bench: RLIMIT_NOFILE: %s\n", strerror(-err));
			goto out;
		}
		b.max_conns = nofile - 64;
		fprintf(stderr, "backend_bench: RLIMIT_NOFILE is %llu (%s): at most %llu connections\n",
		    (unsigned long long)nofile, strerror(-err), (unsigned long long)b.max_conns);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	b.lfd = listen_on(&a, &port);
	if (b.lfd < 0) {
		fprintf(stderr, "backend_bench: listen %s: %s\n", listen_s, strerror(-b.lfd));
		goto out;
	}
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	e.events = EPOLLIN;
	e.data.ptr = NULL;
	if (b.ep < 0 || epoll_ctl(b.ep, EPOLL_CTL_ADD, b.lfd, &e) != 0) {
		fprintf(stderr, "backend_bench: epoll: %s\n", strerror(errno));
		goto out;
	}
	printf("port=%u\n", port);
	fflush(stdout);

	deadline = bench_now_ns() + lifetime * 1000000000ull;
	while (!stop_flag && bench_now_ns() < deadline) {
		int n = epoll_wait(b.ep, evs, EVENTS_MAX, 500);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				accept_all(&b);
			else
				conn_event(&b, evs[i].data.ptr, evs[i].events);
		}
	}
	fprintf(stderr, "backend_bench: %llu connections accepted (%llu refused), %llu bytes echoed, "
	    "%llu bytes sunk\n", (unsigned long long)b.accepted, (unsigned long long)b.refused,
	    (unsigned long long)b.echoed, (unsigned long long)b.sunk);
	rc = 0;
out:
	while (b.conns != NULL)
		conn_close(&b, b.conns);
	if (b.ep >= 0)
		close(b.ep);
	if (b.lfd >= 0)
		close(b.lfd);
	return rc;
}
