/*
 * Bound listening sockets (bound.h): an exclusive bind per address, shared
 * by the loops through duplicates.
 */
#include "authd/bound.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Backlog of every listener; the loops' uv_listen asks for the same. */
#define BOUND_BACKLOG 1024

struct bound_sock {
	struct bound_sock *next;
	struct addr a;
	int fd;
	unsigned users;
	/* A unix path this process made: removed at the end if it is still that one. */
	dev_t dev;
	ino_t ino;
	bool made_path;
};

static void close_sock(struct bound_sock *s);

static bool
addr_same(const struct addr *x, const struct addr *y)
{
	return x->len == y->len && memcmp(&x->ss, &y->ss, x->len) == 0;
}

static struct bound_sock **
find(struct bound_set *b, const struct addr *a)
{
	struct bound_sock **pp;

	for (pp = &b->head; *pp != NULL; pp = &(*pp)->next)
		if (addr_same(&(*pp)->a, a))
			return pp;
	return pp;
}

static const char *
unix_path(const struct addr *a)
{
	return ((const struct sockaddr_un *)&a->ss)->sun_path;
}

static int
bind_listen(struct bound_sock *s)
{
	const struct addr *a = &s->a;
	int fd, one = 1, r;
	struct stat st;

	if (addr_is_unix(a) && (r = addr_unix_clear_stale(a)) != 0)
		return r;
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * SO_REUSEADDR only lets a restarted authd bind past its old
	 * connections in TIME_WAIT; on Linux it never lets a second socket
	 * bind while this one listens. No SO_REUSEPORT: see bound.h.
	 */
	if ((!addr_is_unix(a) && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) ||
	    bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 ||
	    listen(fd, BOUND_BACKLOG) != 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (addr_is_unix(a) && lstat(unix_path(a), &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
		s->made_path = true;
	}
	s->fd = fd;
	return 0;
}

int
bound_take(struct bound_set *b, const struct addr *a, int *fd)
{
	struct bound_sock **pp = find(b, a), *s = *pp;
	int r;

	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -ENOMEM;
		s->a = *a;
		if ((r = bind_listen(s)) != 0) {
			free(s);
			return r;
		}
		*pp = s;
	}
	if (fd != NULL && (*fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		r = -errno;
		if (s->users == 0) {	/* bound just now for this take: unbind it again */
			*pp = s->next;
			close_sock(s);
		}
		return r;
	}
	s->users++;
	return 0;
}

static void
close_sock(struct bound_sock *s)
{
	struct stat st;

	close(s->fd);
	if (s->made_path && lstat(unix_path(&s->a), &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		(void)unlink(unix_path(&s->a));
	free(s);
}

void
bound_give(struct bound_set *b, const struct addr *a)
{
	struct bound_sock **pp = find(b, a), *s = *pp;

	if (s == NULL)
		return;
	if (s->users > 1) {
		s->users--;
		return;
	}
	*pp = s->next;
	close_sock(s);
}

void
bound_set_free(struct bound_set *b)
{
	struct bound_sock *s, *next;

	for (s = b->head; s != NULL; s = next) {
		next = s->next;
		close_sock(s);
	}
	b->head = NULL;
}
