/*
 * Listening handles: a loop's duplicate of a bound socket, and the
 * workload references they hold.
 */
#include "authd/listener.h"

#include <unistd.h>

#include "authd/bound.h"
#include "authd/served.h"

int
listener_init(uv_loop_t *loop, union listener *lh, const struct addr *a)
{
	return addr_is_unix(a) ? uv_pipe_init(loop, &lh->pipe, 0) : uv_tcp_init(loop, &lh->tcp);
}

int
listener_bind(union listener *lh, struct served *wl, const struct addr *a)
{
	struct bound_set *b = &wl->set->bound;
	int fd, r;

	if ((r = bound_take(b, a, &fd)) != 0)
		return r;
	r = lh->h.type == UV_NAMED_PIPE ? uv_pipe_open(&lh->pipe, fd) : uv_tcp_open(&lh->tcp, fd);
	if (r < 0) {
		close(fd);
		bound_give(b, a);
	}
	return r;
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
listener_close(union listener *lh, struct served *wl, const struct addr *a)
{
	uv_os_fd_t fd;
	bool bound;

	if (uv_is_closing(&lh->h))
		return;
	/* Only listener_bind gives a listener a descriptor. */
	bound = uv_fileno(&lh->h, &fd) == 0;
	lh->h.data = wl;
	uv_close(&lh->h, on_listener_closed);	/* closes the descriptor now */
	if (bound)
		bound_give(&wl->set->bound, a);
}
