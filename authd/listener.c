/*
 * Listening sockets: SO_REUSEPORT binding and the workload references
 * their handles hold.
 */
#include "authd/listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authd/served.h"

int
listener_bind_tcp(uv_tcp_t *h, const struct addr *a)
{
	int fd, one = 1, r;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = uv_tcp_open(h, fd)) < 0) {
		close(fd);
		return r;
	}
	return 0;
}

void
listener_opened(struct served *wl)
{
	served_ref(wl);
	atomic_fetch_add(&wl->listeners, 1);
}

static void
on_listener_closed(uv_handle_t *h)
{
	struct served *wl = h->data;

	atomic_fetch_sub(&wl->listeners, 1);
	served_unref(wl);
}

void
listener_close(union listener *lh, struct served *wl)
{
	if (uv_is_closing(&lh->h))
		return;
	lh->h.data = wl;
	uv_close(&lh->h, on_listener_closed);
}
