/* Target Functions: kube_resp_init, kube_resp_feed, kube_resp_eof, kube_resp_free */
/*
 * A differential check of the API client's response framing: the input,
 * as a response, is fed whole, split in two, split in three, and (when
 * short) byte by byte, in both modes; every way must give the same
 * callbacks (status and bytes, in order) and the same result, since a TCP
 * stream can be cut anywhere. Each callback must also keep the contract:
 * no unit over its limit (the caller's max for a 2xx, KUBE_STATUS_BODY_MAX
 * otherwise), no '\n' in a line, no empty line, no buffer past its bound,
 * one whole body at most. Results are 0, a KUBE_E_* framing code, or the
 * callback's own error, which stops the feed.
 *
 * Input: data[0] picks the caller's max and whether (and when) a callback
 * fails; data[1..2] and data[3..4] are the split positions (little endian,
 * modulo the length); the rest is the response. Deterministic and
 * leak-free: every run frees what it allocated.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/resp.h"
#include "tests/fuzz/fuzz.h"

#define STOP_ERR (-4242)

struct rec {
	uint8_t *log;
	size_t len, cap;
	size_t calls;
	size_t stop_at;		/* fail this call (1-based); 0: never */
};

static void
put(struct rec *rc, const void *p, size_t n)
{
	if (rc->len + n > rc->cap) {
		size_t cap = rc->cap ? rc->cap : 1024;

		while (cap < rc->len + n)
			cap *= 2;
		rc->log = realloc(rc->log, cap);
		CHECK(rc->log != NULL);
		rc->cap = cap;
	}
	if (n > 0)
		memcpy(rc->log + rc->len, p, n);
	rc->len += n;
}

static int
cb(void *arg, const struct kube_resp *r, const uint8_t *p, size_t n)
{
	struct rec *rc = arg;
	bool ok2xx = r->status >= 200 && r->status <= 299;
	size_t limit = ok2xx ? r->max : KUBE_STATUS_BODY_MAX;
	uint8_t hdr[2 + sizeof(size_t)];

	CHECK(r->head_done);
	CHECK(r->status >= 200 && r->status <= 599);
	CHECK(n <= limit);
	CHECK(n == 0 || p != NULL);
	CHECK(r->cap <= (limit > KUBE_HEAD_MAX ? limit : KUBE_HEAD_MAX));
	if (r->mode == KUBE_RESP_LINES && ok2xx) {
		/* A line: not empty (keep-alives are skipped), no LF; more may follow. */
		CHECK(n > 0);
		CHECK(memchr(p, '\n', n) == NULL);
	} else {
		/* A whole body: once, at the end. */
		CHECK(r->done);
		CHECK(rc->calls == 0);
	}
	hdr[0] = (uint8_t)(r->status >> 8);
	hdr[1] = (uint8_t)r->status;
	memcpy(hdr + 2, &n, sizeof(n));
	put(rc, hdr, sizeof(hdr));
	put(rc, p, n);
	rc->calls++;
	return rc->stop_at != 0 && rc->calls == rc->stop_at ? STOP_ERR : 0;
}

/* Feed data[0..n) in pieces ending at cuts[] (ascending, each <= n), then EOF. */
static int
run(enum kube_resp_mode mode, size_t max, const uint8_t *data, size_t n, const size_t *cuts,
    size_t ncuts, struct rec *rc)
{
	struct kube_resp r;
	size_t at = 0;
	int err = 0;

	kube_resp_init(&r, mode, max);
	for (size_t i = 0; i <= ncuts && err == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		err = kube_resp_feed(&r, data + at, end - at, cb, rc);
		at = end;
	}
	if (err == 0)
		err = kube_resp_eof(&r, cb, rc);
	CHECK(err == 0 || err == KUBE_E_SYNTAX || err == KUBE_E_TOO_BIG ||
	    err == KUBE_E_TRUNCATED || err == STOP_ERR);
	/* The callback's error is returned at once. */
	CHECK(err != STOP_ERR || (rc->stop_at != 0 && rc->calls == rc->stop_at));
	if (err == 0 && mode == KUBE_RESP_WHOLE)
		CHECK(rc->calls == 1);
	if (err == 0)
		CHECK(r.done);
	kube_resp_free(&r);
	CHECK(r.buf == NULL && r.len == 0 && r.cap == 0);
	return err;
}

static void
same(enum kube_resp_mode mode, size_t max, const uint8_t *data, size_t n, const size_t *cuts,
    size_t ncuts, size_t stop_at, int want, const struct rec *whole)
{
	struct rec rc = { .stop_at = stop_at };
	int err = run(mode, max, data, n, cuts, ncuts, &rc);

	if (err != want || rc.len != whole->len || rc.calls != whole->calls ||
	    (rc.len > 0 && memcmp(rc.log, whole->log, rc.len) != 0))
		abort();
	free(rc.log);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = { 1, 8, 64, 1024, KUBE_EVENT_MAX, KUBE_LIST_MAX };
	static const enum kube_resp_mode modes[] = { KUBE_RESP_WHOLE, KUBE_RESP_LINES };
	size_t max, stop_at, n, c1, c2, cuts[2];
	const uint8_t *body;

	if (size < 5)
		return 0;
	max = maxes[(data[0] & 0x0f) % AD_ARRAY_LEN(maxes)];
	stop_at = (data[0] >> 4) & 0x03;	/* 0: never; else that call fails */
	body = data + 5;
	n = size - 5;
	c1 = ((size_t)data[1] | (size_t)data[2] << 8) % (n + 1);
	c2 = ((size_t)data[3] | (size_t)data[4] << 8) % (n + 1);
	cuts[0] = c1 < c2 ? c1 : c2;
	cuts[1] = c1 < c2 ? c2 : c1;

	for (size_t m = 0; m < AD_ARRAY_LEN(modes); m++) {
		struct rec whole = { .stop_at = stop_at };
		int want = run(modes[m], max, body, n, NULL, 0, &whole);

		same(modes[m], max, body, n, &cuts[0], 1, stop_at, want, &whole);
		same(modes[m], max, body, n, &cuts[1], 1, stop_at, want, &whole);
		same(modes[m], max, body, n, cuts, 2, stop_at, want, &whole);
		/* Byte by byte re-scans the head each time: only for short inputs. */
		if (n > 1 && n <= 512) {
			size_t *all = malloc((n - 1) * sizeof(*all));

			CHECK(all != NULL);
			for (size_t i = 0; i < n - 1; i++)
				all[i] = i + 1;
			same(modes[m], max, body, n, all, n - 1, stop_at, want, &whole);
			free(all);
		}
		free(whole.log);
	}
	return 0;
}
