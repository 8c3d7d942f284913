/*
 * app_tool: the plaintext "application" the end-to-end tests run in their
 * pod namespaces, and a client that checks a byte stream end to end.
 *
 *   app_tool http PORT NAME      answer every HTTP/1.x GET with 200 and the
 *                                body "hello from NAME\npath PATH\n"
 *   app_tool echo PORT           echo every byte back; after the client's
 *                                FIN, finish echoing, then send FIN back
 *   app_tool send HOST:PORT N    connect, send N pseudo-random bytes,
 *                                half-close, read the echo until EOF and
 *                                compare it byte for byte (exit 0 only when
 *                                identical; 1 on a mismatch, short read or
 *                                stall; 2 on usage errors)
 *
 * Servers bind 0.0.0.0:PORT, serve up to MAX_CLIENTS clients at once from
 * one epoll loop with a fixed buffer each (a full buffer stops reading from
 * that client), and exit 0 on SIGTERM or SIGINT. An HTTP head larger than
 * the buffer gets 431, anything but GET 405, a malformed request line 400.
 * HOST is an IPv4 address: the tests' namespaces have no resolver.
 *
 * A client that goes silent for IDLE_MS is dropped (servers); a peer that
 * makes no progress for SEND_IDLE_MS is reported as a stall (send), so a
 * tunnel that loses bytes or a FIN fails a test instead of hanging it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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

#include "common/util.h"

#define MAX_CLIENTS 256
#define CLIENT_BUF 65536
#define HTTP_HEAD_MAX 8192
#define IDLE_MS 30000
#define SEND_IDLE_MS 10000
#define SEND_MAX (1024u * 1024 * 1024)

enum mode { MODE_HTTP, MODE_ECHO };

struct client {
	int fd;				/* -1: slot free */
	size_t len;			/* bytes held in buf */
	size_t off;			/* echo/http: first byte not yet written */
	bool rd_eof;			/* the client sent FIN */
	bool responded;			/* http: the response is queued in buf */
	bool wr_shut;			/* our FIN is sent */
	int64_t last;			/* ms: last progress, for IDLE_MS */
	uint8_t buf[CLIENT_BUF];
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
usage(void)
{
	fprintf(stderr, "usage: app_tool http PORT NAME | echo PORT | send IPV4:PORT NBYTES\n");
	return 2;
}

static bool
parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Signals interrupt epoll_wait (no SA_RESTART), so the loop sees stop. */
static void
setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static int
listen_any(uint16_t port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 128) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
client_close(int ep, struct client *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

/* Interest follows the buffer: read while there is room, write while there is data. */
static void
client_arm(int ep, struct client *c, enum mode mode)
{
	struct epoll_event ev;
	bool pending = c->off < c->len;

	memset(&ev, 0, sizeof(ev));
	ev.data.ptr = c;
	if (mode == MODE_ECHO) {
		if (!c->rd_eof && c->len < CLIENT_BUF)
			ev.events |= EPOLLIN;
	} else if (!c->rd_eof) {
		/* After the response, keep reading to see the client's FIN. */
		ev.events |= EPOLLIN;
	}
	if (pending)
		ev.events |= EPOLLOUT;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/*
 * Turn the request head in c->buf into the response, written over the same
 * buffer. Returns false while the head is incomplete.
 */
static bool
http_respond(struct client *c, const char *name)
{
	char body[512], head[256], path[256];
	const char *status = "200 OK";
	uint8_t *end;
	size_t plen;
	int blen, hlen;

	end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	if (end == NULL && c->len < HTTP_HEAD_MAX && !c->rd_eof)
		return false;
	if (end == NULL) {
		status = c->rd_eof ? "400 Bad Request" : "431 Request Header Fields Too Large";
		blen = snprintf(body, sizeof(body), "bad request\n");
	} else if (c->len < 4 || memcmp(c->buf, "GET ", 4) != 0) {
		status = "405 Method Not Allowed";
		blen = snprintf(body, sizeof(body), "only GET\n");
	} else {
		uint8_t *sp = memchr(c->buf + 4, ' ', (size_t)(end - c->buf) - 4);

		plen = sp != NULL ? (size_t)(sp - c->buf) - 4 : 0;
		if (sp == NULL || plen == 0 || plen >= sizeof(path) ||
		    memchr(c->buf + 4, '\r', plen) != NULL) {
			status = "400 Bad Request";
			blen = snprintf(body, sizeof(body), "bad request line\n");
		} else {
			memcpy(path, c->buf + 4, plen);
			path[plen] = '\0';
			blen = snprintf(body, sizeof(body), "hello from %s\npath %s\n", name, path);
		}
	}
	if (blen < 0 || (size_t)blen >= sizeof(body))
		blen = 0;
	hlen = snprintf(head, sizeof(head),
	    "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
	    "Connection: close\r\n\r\n", status, blen);
	if (hlen < 0 || (size_t)hlen >= sizeof(head))
		hlen = 0;
	memcpy(c->buf, head, (size_t)hlen);
	memcpy(c->buf + hlen, body, (size_t)blen);
	c->len = (size_t)hlen + (size_t)blen;
	c->off = 0;
	c->responded = true;
	return true;
}

/* Returns false when the client is finished and must be closed. */
static bool
client_read(struct client *c, enum mode mode, const char *name)
{
	ssize_t n;
	size_t room;

	if (mode == MODE_HTTP && c->responded) {
		uint8_t sink[4096];

		/* Discard whatever follows the head; only the FIN matters now. */
		n = read(c->fd, sink, sizeof(sink));
	} else {
		room = (mode == MODE_HTTP ? HTTP_HEAD_MAX : CLIENT_BUF) - c->len;
		if (room == 0)
			return true;
		n = read(c->fd, c->buf + c->len, room);
		if (n > 0)
			c->len += (size_t)n;
	}
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0) {
		c->rd_eof = true;
		/* Connected and left without a byte: nobody to answer. */
		if (mode == MODE_HTTP && c->len == 0)
			return false;
	}
	if (mode == MODE_HTTP && !c->responded)
		http_respond(c, name);
	return true;
}

static bool
client_write(struct client *c, enum mode mode)
{
	ssize_t n;

	/* http: buf holds the request until the response replaces it. */
	if (c->off >= c->len || (mode == MODE_HTTP && !c->responded))
		return true;
	n = write(c->fd, c->buf + c->off, c->len - c->off);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	c->off += (size_t)n;
	if (c->off == c->len && mode == MODE_ECHO) {
		/* Echo: the buffer is drained, take new bytes from the start. */
		c->off = 0;
		c->len = 0;
	}
	return true;
}

/*
 * Whether the exchange is over: everything written and the client's FIN
 * seen (echo), or the response written (http). Our FIN goes out first, so a
 * close never discards bytes the peer has yet to read.
 */
static bool
client_done(struct client *c, enum mode mode)
{
	if (c->off < c->len)
		return false;
	if (mode == MODE_ECHO && !c->rd_eof)
		return false;
	if (mode == MODE_HTTP && !c->responded)
		return false;
	if (!c->wr_shut)
		shutdown(c->fd, SHUT_WR);
	c->wr_shut = true;
	/* http: wait for the client's FIN so our close cannot reset the response. */
	return mode == MODE_ECHO || c->rd_eof;
}

static void
accept_clients(int ep, int lfd, struct client **slots)
{
	struct epoll_event ev;
	struct client *c;
	size_t i;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		for (i = 0; i < MAX_CLIENTS && slots[i] != NULL && slots[i]->fd >= 0; i++)
			;
		if (i == MAX_CLIENTS) {
			close(fd);
			continue;
		}
		if (slots[i] == NULL && (slots[i] = malloc(sizeof(*slots[i]))) == NULL) {
			close(fd);
			continue;
		}
		c = slots[i];
		c->fd = fd;
		c->len = 0;
		c->off = 0;
		c->rd_eof = false;
		c->responded = false;
		c->wr_shut = false;
		c->last = now_ms();
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			c->fd = -1;
		}
	}
}

static int
serve(enum mode mode, uint16_t port, const char *name)
{
	struct epoll_event ev, evs[64];
	struct client *slots[MAX_CLIENTS] = { 0 };
	int ep = -1, lfd = -1, n, i, rc = 1;
	int64_t t;
	size_t k;

	lfd = listen_any(port);
	if (lfd < 0) {
		fprintf(stderr, "app_tool: listen on 0.0.0.0:%u: %s\n", port, strerror(errno));
		goto out;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		goto out;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
		goto out;
	while (!stop) {
		n = epoll_wait(ep, evs, (int)AD_ARRAY_LEN(evs), 1000);
		if (n < 0 && errno != EINTR)
			goto out;
		t = now_ms();
		for (i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (c == NULL) {
				accept_clients(ep, lfd, slots);
				continue;
			}
			if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    !client_read(c, mode, name)) {
				client_close(ep, c);
				continue;
			}
			if (!client_write(c, mode) || client_done(c, mode)) {
				client_close(ep, c);
				continue;
			}
			c->last = t;
			client_arm(ep, c, mode);
		}
		for (k = 0; k < MAX_CLIENTS; k++)
			if (slots[k] != NULL && slots[k]->fd >= 0 && t - slots[k]->last > IDLE_MS)
				client_close(ep, slots[k]);
	}
	rc = 0;
out:
	for (k = 0; k < MAX_CLIENTS; k++) {
		if (slots[k] != NULL && slots[k]->fd >= 0)
			close(slots[k]->fd);
		free(slots[k]);
	}
	if (ep >= 0)
		close(ep);
	if (lfd >= 0)
		close(lfd);
	return rc;
}

/* xorshift64*: the same N bytes for the same seed, cheap, and not all alike. */
static uint8_t
next_byte(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint8_t)((*s * 0x2545F4914F6CDD1DULL) >> 56);
}

static int
connect_to(const char *hostport)
{
	struct sockaddr_in sin;
	char host[64];
	const char *colon = strrchr(hostport, ':');
	uint16_t port;
	size_t hlen;
	int fd;

	if (colon == NULL || (hlen = (size_t)(colon - hostport)) == 0 || hlen >= sizeof(host) ||
	    !parse_port(colon + 1, &port))
		return -2;
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -2;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends and receives at once: a tunnel buffers only so much, so a client
 * that sent everything before reading would deadlock on large N.
 */
static int
send_check(const char *hostport, const char *count)
{
	uint8_t out[16384], in[16384];
	uint64_t tx_seed = 0x9e3779b97f4a7c15ULL, rx_seed = tx_seed;
	size_t total, sent = 0, got = 0, out_len = 0, out_off = 0, i;
	struct pollfd pfd;
	bool wr_shut = false;
	char *end;
	ssize_t n;
	int fd, pr;

	errno = 0;
	total = strtoul(count, &end, 10);
	if (errno != 0 || end == count || *end != '\0' || total > SEND_MAX)
		return usage();
	fd = connect_to(hostport);
	if (fd == -2)
		return usage();
	if (fd < 0) {
		fprintf(stderr, "app_tool: connect %s: %s\n", hostport, strerror(errno));
		return 1;
	}
	for (;;) {
		if (!wr_shut && out_off == out_len && sent == total) {
			shutdown(fd, SHUT_WR);
			wr_shut = true;
		}
		if (out_off == out_len && sent < total) {
			out_len = total - sent < sizeof(out) ? total - sent : sizeof(out);
			for (i = 0; i < out_len; i++)
				out[i] = next_byte(&tx_seed);
			out_off = 0;
			sent += out_len;
		}
		pfd.fd = fd;
		pfd.events = POLLIN | (wr_shut ? 0 : POLLOUT);
		pfd.revents = 0;
		pr = poll(&pfd, 1, SEND_IDLE_MS);
		if (pr == 0) {
			fprintf(stderr, "app_tool: stalled: sent %zu, got back %zu of %zu bytes\n",
			    sent - (out_len - out_off), got, total);
			break;
		}
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!wr_shut && (pfd.revents & POLLOUT)) {
			n = write(fd, out + out_off, out_len - out_off);
			if (n < 0 && errno != EAGAIN) {
				fprintf(stderr, "app_tool: write: %s\n", strerror(errno));
				break;
			}
			if (n > 0)
				out_off += (size_t)n;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, in, sizeof(in));
			if (n < 0 && errno == EAGAIN)
				continue;
			if (n < 0) {
				fprintf(stderr, "app_tool: read: %s\n", strerror(errno));
				break;
			}
			if (n == 0) {
				close(fd);
				if (got != total || !wr_shut) {
					fprintf(stderr, "app_tool: short echo: got %zu of %zu bytes\n",
					    got, total);
					return 1;
				}
				printf("echoed %zu bytes intact\n", total);
				return 0;
			}
			for (i = 0; i < (size_t)n; i++, got++) {
				if (got >= total || in[i] != next_byte(&rx_seed)) {
					fprintf(stderr, "app_tool: echo differs at byte %zu of %zu\n",
					    got, total);
					close(fd);
					return 1;
				}
			}
		}
	}
	close(fd);
	return 1;
}

int
main(int argc, char **argv)
{
	uint16_t port;

	if (argc == 4 && strcmp(argv[1], "http") == 0 && parse_port(argv[2], &port)) {
		setup_signals();
		return serve(MODE_HTTP, port, argv[3]);
	}
	if (argc == 3 && strcmp(argv[1], "echo") == 0 && parse_port(argv[2], &port)) {
		setup_signals();
		return serve(MODE_ECHO, port, NULL);
	}
	if (argc == 4 && strcmp(argv[1], "send") == 0) {
		setup_signals();
		return send_check(argv[2], argv[3]);
	}
	return usage();
}
