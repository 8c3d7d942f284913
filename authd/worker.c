/*
 * Workers: one event loop per core. Each binds its own copy of every
 * listener with SO_REUSEPORT, so the kernel spreads new connections over
 * the loops, and keeps its connections, its LMDB reader and its metrics to
 * itself. Worker 0 is the main loop; the others run on their own threads
 * and take commands (worker_cmd bits) through a uv_async handle.
 *
 * A listener's handle is created and closed only on its worker's thread;
 * the main loop changes the served set under d->lock and sends WORKER_SYNC,
 * and each worker brings its listeners in line with the set.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authd/log.h"
#include "authd/proxy.h"
#include "policy/policy.h"

int
worker_bind_tcp(uv_tcp_t *h, const struct addr *a)
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

/* Close wl's listeners on w (on w's thread, under d->lock). */
static void
close_listeners(struct worker *w, struct served *wl)
{
	size_t i;

	if (wl->listening[w->index]) {
		wl->listening[w->index] = false;
		listener_close(&wl->lh[w->index], wl);
	}
	for (i = 0; i < wl->n_up; i++) {
		if (wl->up[i].listening[w->index]) {
			wl->up[i].listening[w->index] = false;
			listener_close(&wl->up[i].lh[w->index], wl);
		}
	}
}

/* Bring w's listeners in line with the served set (on w's thread, under d->lock). */
static void
sync_listeners(struct worker *w)
{
	struct daemon *d = w->d;
	struct served *wl;
	size_t i;
	int r;

	for (wl = d->retired; wl != NULL; wl = wl->next)
		close_listeners(w, wl);
	if (w->draining)
		return;
	for (wl = d->served; wl != NULL; wl = wl->next) {
		if (wl->ident == NULL)
			continue;	/* listeners come with the first SVID */
		if (wl->spec.listen[0] != '\0' && !wl->listening[w->index]) {
			if ((r = inbound_listen(w, wl)) < 0) {
				if (w->index == 0)
					log_warn("%s: cannot listen on %s: %s", wl->key, wl->spec.listen,
					    uv_strerror(r));
				util_format(wl->listen_error, sizeof(wl->listen_error), "listen %s: %s",
				    wl->spec.listen, uv_strerror(r));
			} else if (w->index == 0) {
				log_info("%s: mesh listener on %s", wl->key, wl->spec.listen);
			}
		}
		for (i = 0; i < wl->n_up; i++) {
			struct upstream_rt *up = &wl->up[i];

			if (up->listening[w->index])
				continue;
			if ((r = outbound_listen(w, wl, up)) < 0) {
				if (w->index == 0)
					log_warn("%s: cannot listen on %s: %s", wl->key, up->spec->listen,
					    uv_strerror(r));
				util_format(wl->listen_error, sizeof(wl->listen_error), "listen %s: %s",
				    up->spec->listen, uv_strerror(r));
			} else if (w->index == 0) {
				log_info("%s: upstream %s -> %s (%s:%u)", wl->key, up->spec->listen,
				    up->spec->peer, up->spec->target_host, up->spec->target_port);
			}
		}
	}
}

static void
run_cmd(struct worker *w, unsigned cmd)
{
	struct daemon *d = w->d;

	if (cmd & (WORKER_SYNC | WORKER_DRAIN)) {
		if (cmd & WORKER_DRAIN) {
			w->draining = true;
			w->limits.max_connections = 0;
		}
		uv_mutex_lock(&d->lock);
		if (cmd & WORKER_DRAIN) {
			/* Close what is served too: treat the whole set as retired. */
			for (struct served *wl = d->served; wl != NULL; wl = wl->next)
				close_listeners(w, wl);
		} else {
			w->limits = d->cfg.limits;
		}
		sync_listeners(w);
		uv_mutex_unlock(&d->lock);
	}
	if (cmd & WORKER_CLOSE_ALL)
		conn_close_all(w);
	if (cmd & (WORKER_RECHECK | WORKER_RECHECK_DUE))
		conn_recheck_all(w, !(cmd & WORKER_RECHECK));
	if ((cmd & WORKER_EXIT) && w->index != 0 && !uv_is_closing((uv_handle_t *)&w->wake))
		uv_close((uv_handle_t *)&w->wake, NULL);
}

static void
on_wake(uv_async_t *a)
{
	struct worker *w = a->data;

	run_cmd(w, atomic_exchange(&w->cmd, 0));
}

static void
close_rest(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void
worker_main(void *arg)
{
	struct worker *w = arg;

	uv_run(w->loop, UV_RUN_DEFAULT);
	uv_walk(w->loop, close_rest, NULL);
	while (uv_run(w->loop, UV_RUN_DEFAULT) != 0)
		;
}

static void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	policy_reader_free(w->reader);
	metrics_free(w->metrics);
	uv_mutex_destroy(&w->mlock);
	if (w->loop == &w->own_loop)
		(void)uv_loop_close(&w->own_loop);
	free(w);
}

int
workers_start(struct daemon *d, unsigned n)
{
	unsigned i;
	int r;

	if (n == 0 || n > PROXY_WORKERS_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct worker *w = calloc(1, sizeof(*w));

		if (w == NULL)
			return -ENOMEM;
		w->d = d;
		w->index = i;
		w->limits = d->cfg.limits;
		if (uv_mutex_init(&w->mlock) != 0) {
			free(w);
			return -ENOMEM;
		}
		d->workers[i] = w;
		d->n_workers = i + 1;
		if ((r = metrics_new(&w->metrics)) != 0 ||
		    (r = policy_reader_new(d->store, &w->reader)) != 0)
			return r < -1000 ? -EIO : r;
		if (i == 0) {
			w->loop = d->loop;
			w->loop->data = w;
			continue;
		}
		if ((r = uv_loop_init(&w->own_loop)) < 0)
			return r;
		w->loop = &w->own_loop;	/* from here on worker_free closes it */
		w->loop->data = w;
		if ((r = uv_async_init(w->loop, &w->wake, on_wake)) < 0)
			return r;
		w->wake.data = w;
		if ((r = uv_thread_create(&w->thread, worker_main, w)) < 0) {
			uv_close((uv_handle_t *)&w->wake, NULL);
			uv_run(w->loop, UV_RUN_DEFAULT);
			return r;
		}
		w->started = true;
	}
	return 0;
}

void
workers_send(struct daemon *d, unsigned cmd)
{
	unsigned i;

	for (i = 0; i < d->n_workers; i++) {
		struct worker *w = d->workers[i];

		if (i == 0) {
			run_cmd(w, cmd);
			continue;
		}
		if (!w->started)
			continue;
		atomic_fetch_or(&w->cmd, cmd);
		uv_async_send(&w->wake);
	}
}

void
workers_stop(struct daemon *d)
{
	unsigned i;

	for (i = 1; i < d->n_workers; i++) {
		struct worker *w = d->workers[i];

		if (w->started) {
			atomic_fetch_or(&w->cmd, WORKER_DRAIN | WORKER_CLOSE_ALL | WORKER_EXIT);
			uv_async_send(&w->wake);
			uv_thread_join(&w->thread);
		}
	}
	/* n_workers stays: served workloads still size their per-worker arrays by it. */
	for (i = 0; i < d->n_workers; i++) {
		worker_free(d->workers[i]);
		d->workers[i] = NULL;
	}
}

void
workers_metrics(struct daemon *d, struct metrics *out)
{
	unsigned i;

	for (i = 0; i < d->n_workers; i++) {
		struct worker *w = d->workers[i];

		uv_mutex_lock(&w->mlock);
		metrics_add(out, w->metrics);
		uv_mutex_unlock(&w->mlock);
	}
}
