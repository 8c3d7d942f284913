/*
 * Workers: one event loop per core (see worker.h).
 */
#include "authd/worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "authd/inbound.h"
#include "authd/listener.h"
#include "authd/log.h"
#include "authd/outbound.h"
#include "authd/served.h"

/* Close wl's listeners on cl (on cl's thread, under the set's lock). */
static void
close_listeners(struct conn_loop *cl, struct served *wl)
{
	size_t i;

	if (wl->listening[cl->index]) {
		wl->listening[cl->index] = false;
		listener_close(&wl->lh[cl->index], wl, &wl->listen);
	}
	for (i = 0; i < wl->n_up; i++) {
		if (wl->up[i].listening[cl->index]) {
			wl->up[i].listening[cl->index] = false;
			listener_close(&wl->up[i].lh[cl->index], wl, &wl->up[i].listen);
		}
	}
}

/* Bring cl's listeners in line with the served set (on cl's thread, under its lock). */
static void
sync_listeners(struct conn_loop *cl)
{
	struct served_set *set = cl->set;
	struct served *wl;
	size_t i;
	int r;

	for (wl = set->retired; wl != NULL; wl = wl->next)
		close_listeners(cl, wl);
	if (cl->draining)
		return;
	for (wl = set->served; wl != NULL; wl = wl->next) {
		if (wl->ident == NULL)
			continue;	/* listeners come with the first SVID */
		if (wl->spec.listen[0] != '\0' && !wl->listening[cl->index]) {
			if ((r = inbound_listen(cl, wl)) < 0) {
				if (cl->index == 0)
					log_warn("%s: cannot listen on %s: %s", wl->key, wl->spec.listen,
					    uv_strerror(r));
				util_format(wl->listen_error, sizeof(wl->listen_error), "listen %s: %s",
				    wl->spec.listen, uv_strerror(r));
			} else if (cl->index == 0) {
				log_info("%s: mesh listener on %s", wl->key, wl->spec.listen);
			}
		}
		for (i = 0; i < wl->n_up; i++) {
			struct upstream_rt *up = &wl->up[i];

			if (up->listening[cl->index])
				continue;
			if ((r = outbound_listen(cl, wl, up)) < 0) {
				if (cl->index == 0)
					log_warn("%s: cannot listen on %s: %s", wl->key, up->spec->listen,
					    uv_strerror(r));
				util_format(wl->listen_error, sizeof(wl->listen_error), "listen %s: %s",
				    up->spec->listen, uv_strerror(r));
			} else if (cl->index == 0) {
				log_info("%s: upstream %s -> %s (%s:%u)", wl->key, up->spec->listen,
				    up->spec->peer, up->spec->target_host, up->spec->target_port);
			}
		}
	}
}

static void
run_cmd(struct worker *w, unsigned cmd)
{
	struct conn_loop *cl = &w->cl;
	struct served_set *set = cl->set;

	if (cmd & (WORKER_SYNC | WORKER_DRAIN)) {
		if (cmd & WORKER_DRAIN) {
			cl->draining = true;
			cl->limits.max_connections = 0;
		}
		uv_mutex_lock(&set->lock);
		if (cmd & WORKER_DRAIN) {
			/* Close what is served too: treat the whole set as retired. */
			for (struct served *wl = set->served; wl != NULL; wl = wl->next)
				close_listeners(cl, wl);
		} else {
			cl->limits = set->limits;
		}
		sync_listeners(cl);
		uv_mutex_unlock(&set->lock);
	}
	if (cmd & WORKER_CLOSE_ALL)
		conn_close_all(cl);
	if (cmd & (WORKER_RECHECK | WORKER_RECHECK_DUE))
		conn_recheck_all(cl, !(cmd & WORKER_RECHECK));
	if ((cmd & WORKER_EXIT) && cl->index != 0 && !uv_is_closing((uv_handle_t *)&w->wake))
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

	uv_run(w->cl.loop, UV_RUN_DEFAULT);
	uv_walk(w->cl.loop, close_rest, NULL);
	while (uv_run(w->cl.loop, UV_RUN_DEFAULT) != 0)
		;
}

static void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	conn_loop_free(&w->cl);
	if (w->cl.loop == &w->own_loop)
		(void)uv_loop_close(&w->own_loop);
	free(w);
}

int
workers_start(struct workers *ws, unsigned n, uv_loop_t *main_loop, struct served_set *set,
    struct policy_store *store)
{
	unsigned i;
	int r;

	if (n == 0 || n > WORKERS_MAX || n != set->n_loops)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		struct worker *w = calloc(1, sizeof(*w));
		uv_loop_t *loop = main_loop;

		if (w == NULL)
			return -ENOMEM;
		ws->w[i] = w;
		ws->n = i + 1;
		if (i > 0) {
			if ((r = uv_loop_init(&w->own_loop)) < 0)
				return r;
			loop = &w->own_loop;
		}
		/* From here on worker_free closes the loop. */
		if ((r = conn_loop_init(&w->cl, loop, i, set, store)) != 0) {
			if (i > 0 && w->cl.loop == NULL)
				(void)uv_loop_close(&w->own_loop);
			return r;
		}
		if (i == 0)
			continue;
		if ((r = uv_async_init(loop, &w->wake, on_wake)) < 0)
			return r;
		w->wake.data = w;
		if ((r = uv_thread_create(&w->thread, worker_main, w)) < 0) {
			uv_close((uv_handle_t *)&w->wake, NULL);
			uv_run(loop, UV_RUN_DEFAULT);
			return r;
		}
		w->started = true;
	}
	return 0;
}

void
workers_send(struct workers *ws, unsigned cmd)
{
	unsigned i;

	for (i = 0; i < ws->n; i++) {
		struct worker *w = ws->w[i];

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
workers_stop(struct workers *ws)
{
	unsigned i;

	for (i = 1; i < ws->n; i++) {
		struct worker *w = ws->w[i];

		if (w->started) {
			atomic_fetch_or(&w->cmd, WORKER_DRAIN | WORKER_CLOSE_ALL | WORKER_EXIT);
			uv_async_send(&w->wake);
			uv_thread_join(&w->thread);
		}
	}
	for (i = 0; i < ws->n; i++) {
		worker_free(ws->w[i]);
		ws->w[i] = NULL;
	}
	ws->n = 0;
}

void
workers_metrics(struct workers *ws, struct metrics *out)
{
	unsigned i;

	for (i = 0; i < ws->n; i++)
		conn_loop_metrics(&ws->w[i]->cl, out);
}
