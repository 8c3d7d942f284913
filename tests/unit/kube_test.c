/*
 * Unit tests for kube/, the Kubernetes API client's pure parts:
 *  - resp.c: response framing (Content-Length, chunked with extensions and
 *    trailers, until EOF; WHOLE and LINES), every malformed head and chunk,
 *    the bounds, truncation, and split stability: each case fed whole, byte
 *    by byte and at every 2-way split gives the same callbacks and result;
 *  - object.c, pod.c, allowlist.c: watch events, LIST pages, Status
 *    objects, pods, namespaces and AllowLists, with their negatives
 *    (duplicate keys, wrong types, over-long or control-character strings);
 *  - kube_pod_workload: enrollment, readiness and the workload it makes;
 *  - request.c: server URLs, the in-cluster environment, tokens, paths and
 *    request heads, byte for byte.
 * JSON cases are made by editing a realistic pod with jansson, so each
 * negative differs from a valid object in one field.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/version.h"
#include "kube/error.h"
#include "kube/object.h"
#include "kube/request.h"
#include "kube/resp.h"
#include "tests/unit/test.h"

/* A failure reported at the caller's line (for helpers called from many places). */
#define FAIL_AT(line, fmt, ...)                                               \
	do {                                                                  \
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, (line),       \
		    __VA_ARGS__);                                             \
		test__failed_here = 1;                                        \
	} while (0)

/* ---- Response framing -------------------------------------------------- */

/*
 * What the callbacks saw: one record per call, "STATUS:" then the bytes
 * then \x1e, so two runs compare with memcmp and a test can spell out what
 * it expects.
 */
struct rec {
	char *log;
	size_t len, cap;
	size_t calls;
	size_t max_n;		/* the largest n a callback saw */
	size_t stop_at;		/* return stop_err from this call (1-based); 0: never */
	int stop_err;
	size_t max_cap;		/* the largest r->cap a callback saw */
	bool over;		/* a callback saw more than its limit */
};

static void
rec_put(struct rec *rc, const void *p, size_t n)
{
	if (rc->len + n + 1 > rc->cap) {
		size_t cap = rc->cap ? rc->cap : 256;

		while (cap < rc->len + n + 1)
			cap *= 2;
		if ((rc->log = realloc(rc->log, cap)) == NULL)
			abort();
		rc->cap = cap;
	}
	if (n > 0)
		memcpy(rc->log + rc->len, p, n);
	rc->len += n;
	rc->log[rc->len] = '\0';
}

static void
rec_reset(struct rec *rc)
{
	free(rc->log);
	memset(rc, 0, sizeof(*rc));
}

static int
rec_cb(void *arg, const struct kube_resp *r, const uint8_t *p, size_t n)
{
	struct rec *rc = arg;
	char pre[16];
	int k = snprintf(pre, sizeof(pre), "%d:", r->status);

	rec_put(rc, pre, (size_t)k);
	rec_put(rc, p, n);
	rec_put(rc, "\x1e", 1);
	rc->calls++;
	if (n > rc->max_n)
		rc->max_n = n;
	if (r->cap > rc->max_cap)
		rc->max_cap = r->cap;
	if (n > (r->status >= 200 && r->status <= 299 ? r->max : KUBE_STATUS_BODY_MAX))
		rc->over = true;
	if (rc->stop_at != 0 && rc->calls == rc->stop_at)
		return rc->stop_err;
	return 0;
}

/*
 * Feed s[0..n) in pieces ending at cuts[0..ncuts) and then n, stopping at
 * the first error; after the last piece, the end of the connection. Returns
 * the first non-zero result (or eof's).
 */
static int
run_cuts(enum kube_resp_mode mode, size_t max, const uint8_t *s, size_t n, const size_t *cuts,
    size_t ncuts, struct rec *rc)
{
	struct kube_resp r;
	size_t at = 0;
	int err = 0;

	kube_resp_init(&r, mode, max);
	for (size_t i = 0; i <= ncuts && err == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		err = kube_resp_feed(&r, s + at, end - at, rec_cb, rc);
		at = end;
	}
	if (err == 0)
		err = kube_resp_eof(&r, rec_cb, rc);
	kube_resp_free(&r);
	kube_resp_free(&r);	/* twice is allowed */
	return err;
}

static int
run_whole(enum kube_resp_mode mode, size_t max, const uint8_t *s, size_t n, struct rec *rc)
{
	return run_cuts(mode, max, s, n, NULL, 0, rc);
}

/*
 * The case fed whole gives want_err and want_log; fed byte by byte and at
 * every 2-way split (or every step-th one, for long inputs) it gives the
 * same. want_log NULL: do not check the log of the whole feed, only that
 * every split agrees with it.
 */
static void
check_splits_at(int line, const char *name, enum kube_resp_mode mode, size_t max,
    const uint8_t *s, size_t n, size_t stop_at, int want_err, const char *want_log,
    size_t step)
{
	struct rec whole = { .stop_at = stop_at, .stop_err = -42 };
	struct rec part = { .stop_at = stop_at, .stop_err = -42 };
	size_t *cuts;
	int err;

	err = run_whole(mode, max, s, n, &whole);
	if (err != want_err)
		FAIL_AT(line, "%s: whole feed returned %d (%s), expected %d (%s)", name, err,
		    kube_strerror(err), want_err, kube_strerror(want_err));
	if (want_log != NULL && (whole.len != strlen(want_log) ||
	    memcmp(whole.log ? whole.log : "", want_log, whole.len) != 0))
		FAIL_AT(line, "%s: callbacks \"%s\", expected \"%s\"", name,
		    whole.log ? whole.log : "", want_log);
	if (whole.over)
		FAIL_AT(line, "%s: a callback saw %zu bytes, over its limit", name, whole.max_n);

	/* Byte by byte. */
	if (step == 1 && n > 1) {
		if ((cuts = malloc((n - 1) * sizeof(*cuts))) == NULL)
			abort();
		for (size_t i = 0; i < n - 1; i++)
			cuts[i] = i + 1;
		err = run_cuts(mode, max, s, n, cuts, n - 1, &part);
		if (err != want_err || part.len != whole.len ||
		    (whole.len > 0 && memcmp(part.log, whole.log, whole.len) != 0))
			FAIL_AT(line, "%s: byte by byte: %d \"%s\", whole: %d \"%s\"", name, err,
			    part.log ? part.log : "", want_err, whole.log ? whole.log : "");
		free(cuts);
		rec_reset(&part);
		part.stop_at = stop_at;
		part.stop_err = -42;
	}
	/* Every 2-way split, including the empty pieces at either end. */
	for (size_t k = 0; k <= n; k += step) {
		err = run_cuts(mode, max, s, n, &k, 1, &part);
		if (err != want_err || part.len != whole.len ||
		    (whole.len > 0 && memcmp(part.log, whole.log, whole.len) != 0)) {
			FAIL_AT(line, "%s: split at %zu: %d \"%s\", whole: %d \"%s\"", name, k, err,
			    part.log ? part.log : "", want_err, whole.log ? whole.log : "");
			break;
		}
		rec_reset(&part);
		part.stop_at = stop_at;
		part.stop_err = -42;
	}
	rec_reset(&part);
	rec_reset(&whole);
}

#define CHECK_SPLITS(name, mode, max, s, n, stop_at, err, log)                \
	check_splits_at(__LINE__, (name), (mode), (max), (const uint8_t *)(s), (n), (stop_at), \
	    (err), (log), 1)

#define H200 "HTTP/1.1 200 OK\r\n"
#define TE "Transfer-Encoding: chunked\r\n"
#define R(s) s "\x1e"

struct resp_case {
	const char *name;
	enum kube_resp_mode mode;
	size_t max;
	const char *s;
	size_t n;
	size_t stop_at;
	int err;
	const char *log;
};

#define W KUBE_RESP_WHOLE
#define L KUBE_RESP_LINES
#define RC(name, mode, max, str, stop, err, log) \
	{ (name), (mode), (max), (str), sizeof(str) - 1, (stop), (err), (log) }

static const struct resp_case resp_cases[] = {
	/* Bodies framed each way. */
	RC("content-length", W, 1024,
	    H200 "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"items\":[1,2]}\n",
	    0, 0, R("200:{\"items\":[1,2]}\n")),
	RC("chunked, extensions, trailers", W, 1024,
	    H200 TE "\r\n5;a=b\r\nhello\r\n6 ;x=\"y z\"\r\n world\r\n"
	    "0;last\r\nX-Checksum: 1\r\nX-B: two words\r\n\r\n",
	    0, 0, R("200:hello world")),
	RC("chunked, upper-case hex, leading zeros", W, 1024,
	    H200 TE "\r\nA\r\n0123456789\r\n0003\r\nabc\r\n000\r\n\r\n",
	    0, 0, R("200:0123456789abc")),
	RC("until EOF", W, 1024,
	    H200 "Connection: close\r\n\r\nabc\ndef", 0, 0, R("200:abc\ndef")),
	RC("HTTP/1.0 until EOF", W, 1024, "HTTP/1.0 200 OK\r\n\r\nxyz", 0, 0, R("200:xyz")),
	RC("no reason phrase", W, 1024,
	    "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", 0, 0, R("200:ok")),
	RC("empty reason phrase", W, 1024,
	    "HTTP/1.1 201 \r\nContent-Length: 2\r\n\r\nok", 0, 0, R("201:ok")),
	RC("header names in any case, no OWS", W, 1024,
	    H200 "content-length:2\r\n\r\nok", 0, 0, R("200:ok")),
	RC("OWS around a value", W, 1024,
	    H200 "Content-Length: \t2 \t\r\n\r\nok", 0, 0, R("200:ok")),
	RC("TRANSFER-ENCODING: Chunked", W, 1024,
	    H200 "TRANSFER-ENCODING: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 0, 0, R("200:ok")),
	RC("empty Content-Length body", W, 1024,
	    H200 "Content-Length: 0\r\n\r\n", 0, 0, R("200:")),
	RC("empty chunked body", W, 1024, H200 TE "\r\n0\r\n\r\n", 0, 0, R("200:")),
	RC("empty body until EOF", W, 1024, H200 "\r\n", 0, 0, R("200:")),
	RC("599 is a status", W, 1024,
	    "HTTP/1.1 599 Whatever\r\nContent-Length: 1\r\n\r\nx", 0, 0, R("599:x")),

	/* LINES: a 2xx body split into its lines. */
	RC("watch stream split across chunks", L, 1024,
	    H200 "Content-Type: application/json\r\n" TE "\r\n"
	    "5\r\n{\"a\":\r\n"
	    "8\r\n1}\n\n{\"b\"\r\n"
	    "4\r\n:2}\r\r\n"
	    "3\r\n\n\r\n\r\n"
	    "1\r\n\n\r\n"
	    "8\r\n{\"c\":3}\n\r\n"
	    "0\r\n\r\n",
	    0, 0, R("200:{\"a\":1}") R("200:{\"b\":2}") R("200:{\"c\":3}")),
	RC("lines until EOF, CRLF and LF", L, 1024,
	    H200 "\r\n{\"a\":1}\n\n\r\n{\"b\":2}\r\n", 0, 0, R("200:{\"a\":1}") R("200:{\"b\":2}")),
	RC("a CR inside a line is kept", L, 1024,
	    H200 "\r\na\rb\r\r\n", 0, 0, R("200:a\rb\r")),
	RC("lines framed by Content-Length", L, 1024,
	    H200 "Content-Length: 8\r\n\r\n{\"a\":1}\n", 0, 0, R("200:{\"a\":1}")),
	/* The caller's max bounds one line in LINES mode, not the body. */
	RC("Content-Length over max, lines under it", L, 16,
	    H200 "Content-Length: 24\r\n\r\n{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n",
	    0, 0, R("200:{\"a\":1}") R("200:{\"b\":2}") R("200:{\"c\":3}")),
	RC("lines: empty Content-Length body", L, 1024,
	    H200 "Content-Length: 0\r\n\r\n", 0, 0, ""),
	RC("lines: empty chunked body", L, 1024, H200 TE "\r\n0\r\n\r\n", 0, 0, ""),
	RC("lines: only keep-alives", L, 1024,
	    H200 TE "\r\n1\r\n\n\r\n2\r\n\r\n\r\n0\r\n\r\n", 0, 0, ""),
	RC("a non-2xx body is whole in LINES mode", L, 1024,
	    "HTTP/1.1 410 Gone\r\nContent-Length: 20\r\n\r\n{\"code\":410}\n{\"x\":1}",
	    0, 0, R("410:{\"code\":410}\n{\"x\":1}")),
	RC("a chunked 403 is whole in LINES mode", L, 1024,
	    "HTTP/1.1 403 Forbidden\r\n" TE "\r\n3\r\na\nb\r\n0\r\n\r\n", 0, 0, R("403:a\nb")),
	RC("a non-2xx body until EOF", L, 1024,
	    "HTTP/1.1 500 Internal Server Error\r\n\r\n{\"x\":1}\n", 0, 0, R("500:{\"x\":1}\n")),

	/* Status lines. */
	RC("two-digit status", W, 1024, "HTTP/1.1 20 OK\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("four-digit status", W, 1024, "HTTP/1.1 2000 OK\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("no SP after the status", W, 1024, "HTTP/1.1 200OK\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("HTTP/2", W, 1024, "HTTP/2 200\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("HTTP/1.2", W, 1024, "HTTP/1.2 200 OK\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("lower-case http", W, 1024, "http/1.1 200 OK\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("leading SP", W, 1024, " HTTP/1.1 200 OK\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("leading CRLF", W, 1024, "\r\nHTTP/1.1 200 OK\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("status 600", W, 1024, "HTTP/1.1 600 X\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("status 099", W, 1024, "HTTP/1.1 099 X\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("status with a letter", W, 1024, "HTTP/1.1 2x0 X\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("control byte in the reason", W, 1024, "HTTP/1.1 200 O\x01K\r\n\r\n", 0,
	    KUBE_E_SYNTAX, ""),
	RC("not HTTP", W, 1024, "\x16\x03\x03\x00\x02\x02\x28", 0, KUBE_E_TRUNCATED, ""),
	RC("TLS alert then CRLF", W, 1024, "\x15\x03\x03\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("100 Continue", W, 1024,
	    "HTTP/1.1 100 Continue\r\n\r\n" H200 "Content-Length: 0\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("101 Switching Protocols", W, 1024,
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 0, KUBE_E_SYNTAX,
	    ""),
	RC("bare LF line ends", W, 1024, "HTTP/1.1 200 OK\n\n", 0, KUBE_E_SYNTAX, ""),
	RC("a bare LF inside the head", W, 1024, H200 "X: a\nY: b\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("a bare CR inside the head", W, 1024, H200 "X: a\rY: b\r\n\r\n", 0, KUBE_E_SYNTAX, ""),

	/* Headers. */
	RC("Content-Length and Transfer-Encoding", W, 1024,
	    H200 "Content-Length: 2\r\n" TE "\r\n2\r\nok\r\n0\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("Transfer-Encoding and Content-Length", W, 1024,
	    H200 TE "Content-Length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("two Content-Lengths, same value", W, 1024,
	    H200 "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok", 0, KUBE_E_SYNTAX, ""),
	RC("two Content-Lengths", W, 1024,
	    H200 "Content-Length: 2\r\ncontent-length: 3\r\n\r\nok", 0, KUBE_E_SYNTAX, ""),
	RC("Content-Length list", W, 1024, H200 "Content-Length: 2, 2\r\n\r\nok", 0,
	    KUBE_E_SYNTAX, ""),
	RC("Content-Length hex", W, 1024, H200 "Content-Length: 1a\r\n\r\nok", 0, KUBE_E_SYNTAX,
	    ""),
	RC("Content-Length negative", W, 1024, H200 "Content-Length: -1\r\n\r\n", 0,
	    KUBE_E_SYNTAX, ""),
	RC("Content-Length plus", W, 1024, H200 "Content-Length: +2\r\n\r\nok", 0, KUBE_E_SYNTAX,
	    ""),
	RC("Content-Length empty", W, 1024, H200 "Content-Length:\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("Content-Length with an inner SP", W, 1024, H200 "Content-Length: 1 2\r\n\r\n", 0,
	    KUBE_E_SYNTAX, ""),
	RC("Content-Length of 16 digits", W, 1024,
	    H200 "Content-Length: 1000000000000000\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("Transfer-Encoding: gzip", W, 1024, H200 "Transfer-Encoding: gzip\r\n\r\n", 0,
	    KUBE_E_SYNTAX, ""),
	RC("Transfer-Encoding: gzip, chunked", W, 1024,
	    H200 "Transfer-Encoding: gzip, chunked\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("Transfer-Encoding: chunked, gzip", W, 1024,
	    H200 "Transfer-Encoding: chunked, gzip\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("Transfer-Encoding: identity", W, 1024, H200 "Transfer-Encoding: identity\r\n\r\n",
	    0, KUBE_E_SYNTAX, ""),
	RC("two Transfer-Encodings", W, 1024, H200 TE TE "\r\n0\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("obs-fold", W, 1024, H200 "X: a\r\n b\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("SP before the colon", W, 1024, H200 "Content-Length : 2\r\n\r\nok", 0, KUBE_E_SYNTAX,
	    ""),
	RC("no field name", W, 1024, H200 ": v\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("no colon", W, 1024, H200 "No colon\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("control byte in a value", W, 1024, H200 "X: a\x7f\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("NUL in a value", W, 1024, H200 "X: a\0b\r\n\r\n", 0, KUBE_E_SYNTAX, ""),

	/* Chunk framing. */
	RC("non-hex chunk size", W, 1024, H200 TE "\r\ng\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("empty chunk size", W, 1024, H200 TE "\r\n\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("extension without a size", W, 1024, H200 TE "\r\n;x\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("SP before the size", W, 1024, H200 TE "\r\n 5\r\nhello\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("negative chunk size", W, 1024, H200 TE "\r\n-1\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("0x chunk size", W, 1024, H200 TE "\r\n0x5\r\nhello\r\n", 0, KUBE_E_SYNTAX, ""),
	RC("chunk size of 11 digits", W, 1024, H200 TE "\r\n10000000000\r\n", 0, KUBE_E_TOO_BIG,
	    ""),
	RC("chunk size of 11 zeros and a one", W, 1024, H200 TE "\r\n00000000001\r\n", 0,
	    KUBE_E_TOO_BIG, ""),
	RC("chunk size line ends with LF", W, 1024, H200 TE "\r\n5\nhello\r\n", 0, KUBE_E_SYNTAX,
	    ""),
	RC("chunk size line, CR then not LF", W, 1024, H200 TE "\r\n5\rhello\r\n", 0,
	    KUBE_E_SYNTAX, ""),
	RC("control byte in an extension", W, 1024, H200 TE "\r\n5;a\x01\r\nhello\r\n0\r\n\r\n",
	    0, KUBE_E_SYNTAX, ""),
	RC("chunk data longer than its size", W, 1024, H200 TE "\r\n5\r\nhelloX\r\n0\r\n\r\n", 0,
	    KUBE_E_SYNTAX, ""),
	RC("chunk data then LF", W, 1024, H200 TE "\r\n5\r\nhello\n0\r\n\r\n", 0, KUBE_E_SYNTAX,
	    ""),
	RC("chunk data then CR, not LF", W, 1024, H200 TE "\r\n5\r\nhello\rX", 0, KUBE_E_SYNTAX,
	    ""),
	RC("trailer with a bare LF", W, 1024, H200 TE "\r\n0\r\nX: y\n\r\n", 0, KUBE_E_SYNTAX,
	    ""),
	RC("last CRLF is CR and not LF", W, 1024, H200 TE "\r\n0\r\n\rX", 0, KUBE_E_SYNTAX, ""),
	RC("control byte in a trailer", W, 1024, H200 TE "\r\n0\r\nX: \x02\r\n\r\n", 0,
	    KUBE_E_SYNTAX, ""),

	/* Bytes after the end: the body was handed on, then the error. */
	RC("after a Content-Length body", W, 1024, H200 "Content-Length: 2\r\n\r\nokX", 0,
	    KUBE_E_SYNTAX, R("200:ok")),
	RC("after an empty Content-Length body", W, 1024, H200 "Content-Length: 0\r\n\r\nX", 0,
	    KUBE_E_SYNTAX, R("200:")),
	RC("after a chunked body", W, 1024, H200 TE "\r\n2\r\nok\r\n0\r\n\r\n\r\n", 0,
	    KUBE_E_SYNTAX, R("200:ok")),
	RC("a second response", W, 1024,
	    H200 "Content-Length: 0\r\n\r\n" H200 "Content-Length: 0\r\n\r\n", 0, KUBE_E_SYNTAX,
	    R("200:")),
	RC("lines: after a chunked body", L, 1024, H200 TE "\r\n2\r\na\n\r\n0\r\n\r\nX", 0,
	    KUBE_E_SYNTAX, R("200:a")),

	/* The connection ended inside the response. */
	RC("nothing at all", W, 1024, "", 0, KUBE_E_TRUNCATED, ""),
	RC("inside the status line", W, 1024, "HTTP/1.1 20", 0, KUBE_E_TRUNCATED, ""),
	RC("inside a header", W, 1024, H200 "Content-Le", 0, KUBE_E_TRUNCATED, ""),
	RC("before the empty line", W, 1024, H200 "Content-Length: 2\r\n", 0, KUBE_E_TRUNCATED,
	    ""),
	RC("inside the last CRLF", W, 1024, H200 "\r", 0, KUBE_E_TRUNCATED, ""),
	RC("short Content-Length", W, 1024, H200 "Content-Length: 5\r\n\r\nhel", 0,
	    KUBE_E_TRUNCATED, ""),
	RC("before any chunk", W, 1024, H200 TE "\r\n", 0, KUBE_E_TRUNCATED, ""),
	RC("inside a chunk size", W, 1024, H200 TE "\r\n1", 0, KUBE_E_TRUNCATED, ""),
	RC("inside a chunk", W, 1024, H200 TE "\r\n5\r\nhel", 0, KUBE_E_TRUNCATED, ""),
	RC("after a chunk", W, 1024, H200 TE "\r\n5\r\nhello\r\n", 0, KUBE_E_TRUNCATED, ""),
	RC("after the last chunk", W, 1024, H200 TE "\r\n0\r\n", 0, KUBE_E_TRUNCATED, ""),
	RC("inside the trailers", W, 1024, H200 TE "\r\n0\r\nX: y\r\n", 0, KUBE_E_TRUNCATED, ""),
	RC("lines: a last line without LF, until EOF", L, 1024,
	    H200 "\r\n{\"a\":1}\n{\"b\"", 0, KUBE_E_TRUNCATED, R("200:{\"a\":1}")),
	RC("lines: a last line of a CR", L, 1024, H200 "\r\n{\"a\":1}\n\r", 0, KUBE_E_TRUNCATED,
	    R("200:{\"a\":1}")),
	RC("lines: a chunked body's last line without LF", L, 1024,
	    H200 TE "\r\n9\r\n{\"a\":1}\nx\r\n0\r\n\r\n", 0, KUBE_E_TRUNCATED, R("200:{\"a\":1}")),
	RC("lines: a Content-Length body's last line without LF", L, 1024,
	    H200 "Content-Length: 7\r\n\r\n{\"a\":1}", 0, KUBE_E_TRUNCATED, ""),
	RC("lines: inside a watch", L, 1024, H200 TE "\r\n8\r\n{\"a\":1}\n\r\n", 0,
	    KUBE_E_TRUNCATED, R("200:{\"a\":1}")),

	/* A callback's error stops and is returned. */
	RC("callback error on the second line", L, 1024,
	    H200 TE "\r\n6\r\na\nb\nc\n\r\n0\r\n\r\n", 2, -42, R("200:a") R("200:b")),
	RC("callback error on the first line", L, 1024,
	    H200 "\r\na\nb\n", 1, -42, R("200:a")),
	RC("callback error on a whole body", W, 1024,
	    H200 "Content-Length: 2\r\n\r\nok", 1, -42, R("200:ok")),
	RC("callback error on a body until EOF", W, 1024, H200 "\r\nok", 1, -42, R("200:ok")),
	RC("callback error on a chunked Status", L, 1024,
	    "HTTP/1.1 404 Not Found\r\n" TE "\r\n2\r\n{}\r\n0\r\n\r\n", 1, -42, R("404:{}")),
};

TEST(resp_cases_every_split)
{
	for (size_t i = 0; i < AD_ARRAY_LEN(resp_cases); i++) {
		const struct resp_case *c = &resp_cases[i];

		check_splits_at(__LINE__, c->name, c->mode, c->max, (const uint8_t *)c->s, c->n,
		    c->stop_at, c->err, c->log, 1);
	}
}

/* The status and the fields of the head, as the callback sees them. */
static int
head_cb(void *arg, const struct kube_resp *r, const uint8_t *p, size_t n)
{
	struct kube_resp *copy = arg;

	(void)p;
	(void)n;
	*copy = *r;
	return 0;
}

TEST(resp_head_fields)
{
	static const char cl[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n";
	static const char ch[] = H200 TE "\r\n";
	struct kube_resp r, seen;

	kube_resp_init(&r, KUBE_RESP_WHOLE, 100);
	EXPECT_EQ(r.status, 0);
	EXPECT(!r.head_done);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)cl, sizeof(cl) - 1, head_cb, &seen));
	EXPECT(r.head_done && !r.done);
	EXPECT_EQ(r.status, 404);
	EXPECT(r.has_length && !r.chunked);
	EXPECT_EQ(r.length, 2);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)"{}", 2, head_cb, &seen));
	EXPECT(r.done);
	EXPECT_EQ(seen.status, 404);
	/* After the end: an empty feed is nothing, one byte is an error, EOF is fine. */
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)"", 0, head_cb, &seen));
	EXPECT_ERR(kube_resp_feed(&r, (const uint8_t *)"x", 1, head_cb, &seen), KUBE_E_SYNTAX);
	EXPECT_OK(kube_resp_eof(&r, head_cb, &seen));
	kube_resp_free(&r);

	kube_resp_init(&r, KUBE_RESP_LINES, 100);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)ch, sizeof(ch) - 1, head_cb, &seen));
	EXPECT(r.head_done && r.chunked && !r.has_length);
	EXPECT_EQ(r.status, 200);
	kube_resp_free(&r);
}

/* Append a chunk of data[0..n) to sb, in hex, with an optional extension. */
static void
put_chunk(struct strbuf *sb, const void *data, size_t n, const char *ext)
{
	strbuf_printf(sb, "%zx%s\r\n", n, ext ? ext : "");
	strbuf_append(sb, data, n);
	strbuf_puts(sb, "\r\n");
}

TEST(resp_head_bound)
{
	static const char pre[] = H200 "Content-Length: 0\r\nX-Pad: ";
	struct strbuf sb;
	struct rec rc = { 0 };
	size_t pad;

	/* A head of exactly KUBE_HEAD_MAX bytes is read... */
	pad = KUBE_HEAD_MAX - (sizeof(pre) - 1) - 4;
	strbuf_init(&sb, 1 << 20);
	strbuf_puts(&sb, pre);
	for (size_t i = 0; i < pad; i++)
		strbuf_append(&sb, "a", 1);
	strbuf_puts(&sb, "\r\n\r\n");
	REQUIRE(!sb.failed && sb.len == KUBE_HEAD_MAX);
	check_splits_at(__LINE__, "head of KUBE_HEAD_MAX", KUBE_RESP_WHOLE, 100,
	    (const uint8_t *)sb.p, sb.len, 0, 0, R("200:"), 331);
	strbuf_free(&sb);

	/* ...and one byte more is refused, whole or in pieces, with or without a body after it. */
	strbuf_init(&sb, 1 << 20);
	strbuf_puts(&sb, pre);
	for (size_t i = 0; i < pad + 1; i++)
		strbuf_append(&sb, "a", 1);
	strbuf_puts(&sb, "\r\n\r\n");
	REQUIRE(!sb.failed && sb.len == KUBE_HEAD_MAX + 1);
	check_splits_at(__LINE__, "head over KUBE_HEAD_MAX", KUBE_RESP_WHOLE, 100,
	    (const uint8_t *)sb.p, sb.len, 0, KUBE_E_TOO_BIG, "", 331);
	strbuf_free(&sb);

	/* A head that never ends is refused once KUBE_HEAD_MAX bytes are in, not at EOF. */
	{
		struct kube_resp r;
		static uint8_t junk[KUBE_HEAD_MAX];

		memset(junk, 'a', sizeof(junk));
		memcpy(junk, H200 "X: ", sizeof(H200 "X: ") - 1);
		kube_resp_init(&r, KUBE_RESP_WHOLE, 100);
		EXPECT_OK(kube_resp_feed(&r, junk, sizeof(junk) - 1, rec_cb, &rc));
		EXPECT_ERR(kube_resp_feed(&r, junk, 1, rec_cb, &rc), KUBE_E_TOO_BIG);
		EXPECT(r.cap <= KUBE_HEAD_MAX);
		kube_resp_free(&r);
		EXPECT_EQ(rc.calls, 0);
	}
	rec_reset(&rc);
}

TEST(resp_content_length_bound)
{
	static const char over[] = H200 "Content-Length: 101\r\n\r\n";
	static const char at[] = H200 "Content-Length: 100\r\n\r\n";
	static const char st_over[] = "HTTP/1.1 500 X\r\nContent-Length: 65537\r\n\r\n";
	static const char st_at[] = "HTTP/1.1 500 X\r\nContent-Length: 65536\r\n\r\n";
	struct kube_resp r;
	struct rec rc = { 0 };
	uint8_t body[100];
	uint8_t *big;

	/* Refused on the head alone: nothing of the body is read or allocated for. */
	kube_resp_init(&r, KUBE_RESP_WHOLE, 100);
	EXPECT_ERR(kube_resp_feed(&r, (const uint8_t *)over, sizeof(over) - 1, rec_cb, &rc),
	    KUBE_E_TOO_BIG);
	EXPECT(r.cap <= 4096);
	kube_resp_free(&r);

	/* The limit itself is allowed. */
	memset(body, 'x', sizeof(body));
	kube_resp_init(&r, KUBE_RESP_WHOLE, 100);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)at, sizeof(at) - 1, rec_cb, &rc));
	EXPECT_OK(kube_resp_feed(&r, body, sizeof(body), rec_cb, &rc));
	EXPECT_EQ(rc.calls, 1);
	EXPECT_EQ(rc.max_n, 100);
	kube_resp_free(&r);

	/* A non-2xx body is bounded by KUBE_STATUS_BODY_MAX whatever the caller's max. */
	kube_resp_init(&r, KUBE_RESP_WHOLE, KUBE_LIST_MAX);
	EXPECT_ERR(kube_resp_feed(&r, (const uint8_t *)st_over, sizeof(st_over) - 1, rec_cb, &rc),
	    KUBE_E_TOO_BIG);
	kube_resp_free(&r);
	kube_resp_init(&r, KUBE_RESP_LINES, KUBE_EVENT_MAX);
	EXPECT_ERR(kube_resp_feed(&r, (const uint8_t *)st_over, sizeof(st_over) - 1, rec_cb, &rc),
	    KUBE_E_TOO_BIG);
	kube_resp_free(&r);

	rec_reset(&rc);
	REQUIRE((big = malloc(KUBE_STATUS_BODY_MAX)) != NULL);
	memset(big, 'x', KUBE_STATUS_BODY_MAX);
	kube_resp_init(&r, KUBE_RESP_LINES, 16);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)st_at, sizeof(st_at) - 1, rec_cb, &rc));
	EXPECT_OK(kube_resp_feed(&r, big, KUBE_STATUS_BODY_MAX, rec_cb, &rc));
	EXPECT_EQ(rc.calls, 1);
	EXPECT_EQ(rc.max_n, KUBE_STATUS_BODY_MAX);
	kube_resp_free(&r);
	free(big);
	rec_reset(&rc);
}

TEST(resp_status_body_bound)
{
	static const char *const heads[] = {
		"HTTP/1.1 500 Internal Server Error\r\n" TE "\r\n",
		"HTTP/1.1 500 Internal Server Error\r\n\r\n",
	};
	static const enum kube_resp_mode modes[] = { KUBE_RESP_WHOLE, KUBE_RESP_LINES };
	struct strbuf sb;
	uint8_t *big;

	REQUIRE((big = malloc(KUBE_STATUS_BODY_MAX + 1)) != NULL);
	memset(big, 'x', KUBE_STATUS_BODY_MAX + 1);
	for (size_t h = 0; h < 2; h++) {
		for (size_t m = 0; m < 2; m++) {
			struct rec rc = { 0 };
			int err;

			/* Over the bound by one byte: refused, chunked or until EOF. */
			strbuf_init(&sb, 1 << 20);
			strbuf_puts(&sb, heads[h]);
			if (h == 0)
				put_chunk(&sb, big, KUBE_STATUS_BODY_MAX + 1, NULL);
			else
				strbuf_append(&sb, (const char *)big, KUBE_STATUS_BODY_MAX + 1);
			REQUIRE(!sb.failed);
			err = run_whole(modes[m], KUBE_LIST_MAX, (const uint8_t *)sb.p, sb.len, &rc);
			EXPECT_ERR(err, KUBE_E_TOO_BIG);
			EXPECT_EQ(rc.calls, 0);
			strbuf_free(&sb);

			/* At the bound: one callback with all of it. */
			strbuf_init(&sb, 1 << 20);
			strbuf_puts(&sb, heads[h]);
			if (h == 0) {
				put_chunk(&sb, big, KUBE_STATUS_BODY_MAX / 2, NULL);
				put_chunk(&sb, big, KUBE_STATUS_BODY_MAX / 2, NULL);
				strbuf_puts(&sb, "0\r\n\r\n");
			} else {
				strbuf_append(&sb, (const char *)big, KUBE_STATUS_BODY_MAX);
			}
			err = run_whole(modes[m], 16, (const uint8_t *)sb.p, sb.len, &rc);
			EXPECT_OK(err);
			EXPECT_EQ(rc.calls, 1);
			EXPECT_EQ(rc.max_n, KUBE_STATUS_BODY_MAX);
			strbuf_free(&sb);
			rec_reset(&rc);
		}
	}

	/* A 2xx body may be larger than a Status: the caller's max applies. */
	{
		struct rec rc = { 0 };

		strbuf_init(&sb, 1 << 20);
		strbuf_puts(&sb, H200 TE "\r\n");
		put_chunk(&sb, big, KUBE_STATUS_BODY_MAX + 1, NULL);
		strbuf_puts(&sb, "0\r\n\r\n");
		EXPECT_OK(run_whole(KUBE_RESP_WHOLE, KUBE_LIST_MAX, (const uint8_t *)sb.p, sb.len,
		    &rc));
		EXPECT_EQ(rc.max_n, KUBE_STATUS_BODY_MAX + 1);
		/* And it is refused at max + 1 for a smaller max. */
		rec_reset(&rc);
		EXPECT_ERR(run_whole(KUBE_RESP_WHOLE, KUBE_STATUS_BODY_MAX, (const uint8_t *)sb.p,
		    sb.len, &rc), KUBE_E_TOO_BIG);
		EXPECT_EQ(rc.calls, 0);
		strbuf_free(&sb);
		rec_reset(&rc);
	}
	free(big);
}

TEST(resp_line_bound)
{
	static const char head[] = H200 TE "\r\n";
	struct kube_resp r;
	struct rec rc = { 0 };
	uint8_t *line;
	char size[32];
	size_t fed, last = 0;
	int err = 0;

	REQUIRE((line = malloc(KUBE_EVENT_MAX + 2)) != NULL);
	memset(line, 'x', KUBE_EVENT_MAX + 2);

	/*
	 * One event of KUBE_EVENT_MAX + 1 bytes, in one chunk fed 64 KiB at a
	 * time: refused when the byte over the limit arrives, with no more
	 * than the limit allocated and no callback.
	 */
	kube_resp_init(&r, KUBE_RESP_LINES, KUBE_EVENT_MAX);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)head, sizeof(head) - 1, rec_cb, &rc));
	snprintf(size, sizeof(size), "%zx\r\n", (size_t)KUBE_EVENT_MAX + 1);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)size, strlen(size), rec_cb, &rc));
	for (fed = 0; fed < KUBE_EVENT_MAX + 1 && err == 0; fed += 65536) {
		size_t n = KUBE_EVENT_MAX + 1 - fed < 65536 ? KUBE_EVENT_MAX + 1 - fed : 65536;

		last = fed;
		err = kube_resp_feed(&r, line + fed, n, rec_cb, &rc);
		EXPECT(r.cap <= KUBE_EVENT_MAX);
	}
	EXPECT_ERR(err, KUBE_E_TOO_BIG);
	EXPECT_EQ(last, (size_t)KUBE_EVENT_MAX);	/* the last piece, not an earlier one */
	EXPECT(r.cap <= KUBE_EVENT_MAX);
	EXPECT_EQ(rc.calls, 0);
	kube_resp_free(&r);

	/* A line of exactly the limit, ended by LF or by CRLF, is one event. */
	for (int crlf = 0; crlf < 2; crlf++) {
		struct strbuf sb;

		rec_reset(&rc);
		strbuf_init(&sb, 8u << 20);
		strbuf_puts(&sb, head);
		line[KUBE_EVENT_MAX] = crlf ? '\r' : '\n';
		line[KUBE_EVENT_MAX + 1] = '\n';
		put_chunk(&sb, line, KUBE_EVENT_MAX + 1 + (size_t)crlf, NULL);
		strbuf_puts(&sb, "0\r\n\r\n");
		REQUIRE(!sb.failed);
		kube_resp_init(&r, KUBE_RESP_LINES, KUBE_EVENT_MAX);
		/* In two pieces split inside the line ending, too. */
		err = kube_resp_feed(&r, (const uint8_t *)sb.p, sb.len - 6 - (size_t)crlf, rec_cb, &rc);
		EXPECT_OK(err);
		EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)sb.p + sb.len - 6 - crlf,
		    6 + (size_t)crlf, rec_cb, &rc));
		EXPECT_OK(kube_resp_eof(&r, rec_cb, &rc));
		EXPECT_EQ(rc.calls, 1);
		EXPECT_EQ(rc.max_n, KUBE_EVENT_MAX);
		EXPECT(r.cap <= KUBE_EVENT_MAX);
		kube_resp_free(&r);
		strbuf_free(&sb);
	}
	free(line);
	rec_reset(&rc);

	/* The bound is per line: many lines may add up to more. */
	{
		struct strbuf sb;
		static const char ev[] = "{\"type\":\"BOOKMARK\",\"n\":1}\n";

		strbuf_init(&sb, 1 << 20);
		strbuf_puts(&sb, head);
		for (int i = 0; i < 100; i++)
			put_chunk(&sb, ev, sizeof(ev) - 1, NULL);
		strbuf_puts(&sb, "0\r\n\r\n");
		EXPECT_OK(run_whole(KUBE_RESP_LINES, sizeof(ev) - 2, (const uint8_t *)sb.p, sb.len,
		    &rc));
		EXPECT_EQ(rc.calls, 100);
		EXPECT_EQ(rc.max_n, sizeof(ev) - 2);
		rec_reset(&rc);
		/* One byte less and the first line is refused. */
		EXPECT_ERR(run_whole(KUBE_RESP_LINES, sizeof(ev) - 3, (const uint8_t *)sb.p,
		    sb.len, &rc), KUBE_E_TOO_BIG);
		EXPECT_EQ(rc.calls, 0);
		strbuf_free(&sb);
		rec_reset(&rc);
	}
}

TEST(resp_chunk_line_bounds)
{
	struct strbuf sb;
	struct rec rc = { 0 };

	/* A chunk-size line with extensions: 1024 bytes in all is allowed, 1025 is not. */
	for (int over = 0; over < 2; over++) {
		strbuf_init(&sb, 1 << 20);
		strbuf_puts(&sb, H200 TE "\r\n2;");
		for (int i = 0; i < 1024 - 2 + over; i++)
			strbuf_append(&sb, "e", 1);
		strbuf_puts(&sb, "\r\nok\r\n0\r\n\r\n");
		EXPECT_ERR(run_whole(KUBE_RESP_WHOLE, 100, (const uint8_t *)sb.p, sb.len, &rc),
		    over ? KUBE_E_TOO_BIG : 0);
		strbuf_free(&sb);
		rec_reset(&rc);
	}
	/* A trailer line of 1024 bytes is allowed, 1025 is not. */
	for (int over = 0; over < 2; over++) {
		strbuf_init(&sb, 1 << 20);
		strbuf_puts(&sb, H200 TE "\r\n0\r\nX: ");
		for (int i = 0; i < 1024 - 3 + over; i++)
			strbuf_append(&sb, "t", 1);
		strbuf_puts(&sb, "\r\n\r\n");
		EXPECT_ERR(run_whole(KUBE_RESP_WHOLE, 100, (const uint8_t *)sb.p, sb.len, &rc),
		    over ? KUBE_E_TOO_BIG : 0);
		strbuf_free(&sb);
		rec_reset(&rc);
	}
	/* Ten hex digits are a size (far beyond any limit: refused by the body's bound). */
	EXPECT_ERR(run_whole(KUBE_RESP_WHOLE, 4, (const uint8_t *)H200 TE "\r\nffffffffff\r\nhello",
	    sizeof(H200 TE "\r\nffffffffff\r\nhello") - 1, &rc), KUBE_E_TOO_BIG);
	rec_reset(&rc);
	EXPECT_ERR(run_whole(KUBE_RESP_WHOLE, 100, (const uint8_t *)H200 TE "\r\nffffffffff\r\nab",
	    sizeof(H200 TE "\r\nffffffffff\r\nab") - 1, &rc), KUBE_E_TRUNCATED);
	rec_reset(&rc);
}

/* ---- JSON fixtures ------------------------------------------------------ */

#define ENROLL "authd.io/mesh"
#define POD_UID "6c2f8f3e-8d5b-4b7e-9b8a-0f1e2d3c4b5a"

/* A pod as the API server sends it (trimmed of fields authd ignores, a few kept). */
#define POD_JSON							\
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\","			\
	"\"metadata\":{\"name\":\"web-7d4b9c-x2k8p\",\"generateName\":\"web-7d4b9c-\","	\
	"\"namespace\":\"shop\",\"uid\":\"" POD_UID "\",\"resourceVersion\":\"123456\","	\
	"\"creationTimestamp\":\"2024-05-01T10:00:00Z\","		\
	"\"labels\":{\"app\":\"web\",\"" ENROLL "\":\"enabled\",\"pod-template-hash\":\"7d4b9c\"}," \
	"\"annotations\":{\"authd.io/listen\":\"10.244.1.7:15001\","	\
	"\"kubectl.kubernetes.io/restartedAt\":\"2024-05-01T10:00:00Z\"}," \
	"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","	\
	"\"name\":\"web-7d4b9c\",\"uid\":\"1\",\"controller\":true}]},"	\
	"\"spec\":{\"nodeName\":\"node-1\",\"serviceAccountName\":\"web\","	\
	"\"serviceAccount\":\"web\",\"hostNetwork\":false,\"restartPolicy\":\"Always\","	\
	"\"containers\":[{\"name\":\"app\",\"image\":\"web:1\",\"ports\":["	\
	"{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"},"	\
	"{\"containerPort\":9090},"					\
	"{\"name\":\"dns\",\"containerPort\":5353,\"protocol\":\"UDP\"}]},"	\
	"{\"name\":\"sidecar\",\"image\":\"s:1\",\"ports\":["		\
	"{\"containerPort\":8080,\"protocol\":\"TCP\"},"		\
	"{\"containerPort\":8443,\"protocol\":\"TCP\"}]},"		\
	"{\"name\":\"noports\",\"image\":\"n:1\"}]},"			\
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.7\","	\
	"\"podIPs\":[{\"ip\":\"10.244.1.7\"}],\"hostIP\":\"192.168.1.10\","	\
	"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"

#define NS_JSON								\
	"{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"shop\","	\
	"\"uid\":\"0e1d2c3b-4a59-6877-8695-a4b3c2d1e0f9\",\"resourceVersion\":\"42\","	\
	"\"labels\":{\"kubernetes.io/metadata.name\":\"shop\",\"" ENROLL "\":\"enabled\"}},"	\
	"\"spec\":{\"finalizers\":[\"kubernetes\"]},\"status\":{\"phase\":\"Active\"}}"

#define AL_JSON								\
	"{\"apiVersion\":\"authd.io/v1\",\"kind\":\"AllowList\",\"metadata\":{"	\
	"\"name\":\"payments\",\"namespace\":\"shop\",\"uid\":\"9a8b7c6d-5e4f-3a2b-1c0d-ef1234567890\"," \
	"\"resourceVersion\":\"77\",\"generation\":3,"			\
	"\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"}},"	\
	"\"spec\":{\"audit\":[\"spiffe://td/ns/billing/*\"],\"rules\":["	\
	"{\"from\":\"spiffe://td/ns/web/sa/frontend\",\"to\":\"spiffe://td/ns/billing/sa/api\","	\
	"\"ports\":443,\"comment\":\"frontend to billing\"},"		\
	"{\"from\":\"*\",\"to\":\"spiffe://td/ns/public/*\",\"ports\":[80,\"8000-8099\"]}]}}"

#define BOOKMARK_JSON							\
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","	\
	"\"metadata\":{\"resourceVersion\":\"12746\","			\
	"\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}},"	\
	"\"spec\":{\"containers\":null},\"status\":{}}}"

#define STATUS410_JSON							\
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\","			\
	"\"metadata\":{},\"status\":\"Failure\","			\
	"\"message\":\"too old resource version: 100 (12345)\","	\
	"\"reason\":\"Expired\",\"code\":410}"
#define ERROR_JSON "{\"type\":\"ERROR\",\"object\":" STATUS410_JSON "}"

static json_t *
jload(const char *s)
{
	json_error_t je;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &je);

	if (j == NULL) {
		fprintf(stderr, "fixture: %s at %d\n", je.text, je.position);
		abort();
	}
	return j;
}

/*
 * Set root.K1.K2... (keys until NULL) to v, which is stolen; v NULL deletes
 * the member. Missing or non-object parents are replaced by objects.
 */
static void
jset(json_t *root, json_t *v, ...)
{
	va_list ap;
	const char *k, *next;
	json_t *cur = root;

	va_start(ap, v);
	k = va_arg(ap, const char *);
	while ((next = va_arg(ap, const char *)) != NULL) {
		json_t *c = json_object_get(cur, k);

		if (!json_is_object(c)) {
			c = json_object();
			json_object_set_new(cur, k, c);
		}
		cur = c;
		k = next;
	}
	va_end(ap);
	if (v == NULL)
		json_object_del(cur, k);
	else
		json_object_set_new(cur, k, v);
}

/* {"type": type, "object": obj} as compact text (obj stolen); free() it. */
static char *
ev_text(const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", obj);
	char *s;

	if (ev == NULL || (s = json_dumps(ev, JSON_COMPACT)) == NULL)
		abort();
	json_decref(ev);
	return s;
}

/* A string of n copies of c. */
static json_t *
jrepeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	json_t *j;

	if (s == NULL)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static const struct kube_decode pods_d = { KUBE_PODS, ENROLL };
static const struct kube_decode ns_d = { KUBE_NAMESPACES, ENROLL };
static const struct kube_decode al_d = { KUBE_ALLOWLISTS, ENROLL };

static int
parse_text(const char *s, const struct kube_decode *d, struct kube_event *ev, char *err,
    size_t errlen)
{
	return kube_event_parse((const uint8_t *)s, strlen(s), d, ev, err, errlen);
}

/* An event that must be refused with KUBE_E_JSON and an err naming where (when where != NULL). */
static void
bad_text_at(int line, const char *what, const char *s, size_t n, const struct kube_decode *d,
    const char *where)
{
	struct kube_event ev;
	char err[256] = "";
	int r = kube_event_parse((const uint8_t *)s, n, d, &ev, err, sizeof(err));

	if (r != KUBE_E_JSON)
		FAIL_AT(line, "%s: returned %d, expected KUBE_E_JSON", what, r);
	else if (err[0] == '\0')
		FAIL_AT(line, "%s: no message", what);
	else if (where != NULL && strstr(err, where) == NULL)
		FAIL_AT(line, "%s: message \"%s\" does not name %s", what, err, where);
	if (r == 0)
		kube_object_free(&ev.obj);
}

#define BAD_TEXT(what, s, d, where) bad_text_at(__LINE__, (what), (s), strlen(s), (d), (where))

/* The pod fixture edited by one jset, as an ADDED event, must be refused. */
#define BAD_POD(where, v, ...)                                                \
	do {                                                                  \
		json_t *bp__ = jload(POD_JSON);                               \
		char *bt__;                                                   \
		jset(bp__, (v), __VA_ARGS__, NULL);                           \
		bt__ = ev_text("ADDED", bp__);                                \
		bad_text_at(__LINE__, #__VA_ARGS__, bt__, strlen(bt__), &pods_d, (where)); \
		free(bt__);                                                   \
	} while (0)

/* Parse the pod fixture with root.K1.K2 (up to 4 keys, then NULL) set to v (stolen; NULL deletes). */
static int
edited_pod_(struct kube_event *ev, json_t *v, ...)
{
	json_t *p = jload(POD_JSON);
	const char *k[5] = { NULL };
	size_t nk = 0;
	va_list ap;
	char *s;
	int r;

	va_start(ap, v);
	while (nk < 5 && (k[nk] = va_arg(ap, const char *)) != NULL)
		nk++;
	va_end(ap);
	if (nk == 0 || nk > 4)
		abort();
	/* jset stops at the first NULL key, so the unused ones end the path. */
	jset(p, v, k[0], k[1], k[2], k[3], NULL);
	s = ev_text("MODIFIED", p);
	r = parse_text(s, &pods_d, ev, NULL, 0);
	free(s);
	return r;
}

#define edited_pod(ev, v, ...) edited_pod_((ev), (v), __VA_ARGS__, NULL)

/* ---- Events ------------------------------------------------------------- */

TEST(event_pod_added_every_field)
{
	static const char *const types[] = { "ADDED", "MODIFIED", "DELETED" };
	static const enum kube_event_type want[] = { KUBE_EV_ADDED, KUBE_EV_MODIFIED,
		KUBE_EV_DELETED };

	for (size_t i = 0; i < 3; i++) {
		struct kube_event ev;
		char err[256] = "";
		char *s = ev_text(types[i], jload(POD_JSON));
		const struct kube_pod *p = &ev.obj.u.pod;

		EXPECT_OK(parse_text(s, &pods_d, &ev, err, sizeof(err)));
		free(s);
		EXPECT_EQ(ev.type, want[i]);
		EXPECT_EQ(ev.obj.kind, KUBE_PODS);
		EXPECT_STR(ev.obj.ns, "shop");
		EXPECT_STR(ev.obj.name, "web-7d4b9c-x2k8p");
		EXPECT_STR(ev.obj.uid, POD_UID);
		EXPECT_STR(ev.obj.rv, "123456");
		EXPECT_STR(p->node, "node-1");
		EXPECT_STR(p->sa, "web");
		EXPECT_STR(p->phase, "Running");
		EXPECT_STR(p->ip, "10.244.1.7");
		EXPECT(!p->host_network);
		EXPECT(!p->deleting);
		EXPECT_STR(p->enroll, "enabled");
		EXPECT(p->has_listen);
		EXPECT_STR(p->listen, "10.244.1.7:15001");
		/* 8080 and 9090 from the app, 5353/UDP skipped, 8080 again skipped, 8443. */
		EXPECT_EQ(p->n_ports, 3);
		EXPECT_EQ(p->ports[0], 8080);
		EXPECT_EQ(p->ports[1], 9090);
		EXPECT_EQ(p->ports[2], 8443);
		EXPECT(!p->ports_over);
		kube_object_free(&ev.obj);
	}
}

TEST(event_pod_variants)
{
	struct kube_event ev;
	json_t *p;
	char *s;

	/* A pod being deleted, on the host network, with nothing optional. */
	p = jload(POD_JSON);
	jset(p, json_string("2024-05-01T11:00:00Z"), "metadata", "deletionTimestamp", NULL);
	jset(p, json_true(), "spec", "hostNetwork", NULL);
	jset(p, NULL, "spec", "serviceAccountName", NULL);
	jset(p, NULL, "metadata", "labels", NULL);
	jset(p, NULL, "metadata", "annotations", NULL);
	jset(p, NULL, "status", NULL);
	jset(p, NULL, "spec", "containers", NULL);
	s = ev_text("DELETED", p);
	EXPECT_OK(parse_text(s, &pods_d, &ev, NULL, 0));
	free(s);
	EXPECT_EQ(ev.type, KUBE_EV_DELETED);
	EXPECT(ev.obj.u.pod.deleting);
	EXPECT(ev.obj.u.pod.host_network);
	EXPECT_STR(ev.obj.u.pod.sa, "");
	EXPECT_STR(ev.obj.u.pod.enroll, "");
	EXPECT(!ev.obj.u.pod.has_listen);
	EXPECT_STR(ev.obj.u.pod.listen, "");
	EXPECT_STR(ev.obj.u.pod.phase, "");
	EXPECT_STR(ev.obj.u.pod.ip, "");
	EXPECT_EQ(ev.obj.u.pod.n_ports, 0);
	kube_object_free(&ev.obj);

	/* JSON null is absent; hostNetwork absent is false. */
	p = jload(POD_JSON);
	jset(p, json_null(), "metadata", "deletionTimestamp", NULL);
	jset(p, NULL, "spec", "hostNetwork", NULL);
	jset(p, json_null(), "metadata", "labels", NULL);
	jset(p, json_null(), "status", NULL);
	jset(p, json_null(), "spec", "containers", NULL);
	jset(p, json_null(), "metadata", "uid", NULL);
	s = ev_text("ADDED", p);
	EXPECT_OK(parse_text(s, &pods_d, &ev, NULL, 0));
	free(s);
	EXPECT(!ev.obj.u.pod.deleting);
	EXPECT(!ev.obj.u.pod.host_network);
	EXPECT_STR(ev.obj.u.pod.enroll, "");
	EXPECT_STR(ev.obj.uid, "");
	kube_object_free(&ev.obj);

	/* The enroll label's value is whatever it is; no label key, no value. */
	EXPECT_OK(edited_pod(&ev, json_string("disabled"), "metadata", "labels", ENROLL));
	EXPECT_STR(ev.obj.u.pod.enroll, "disabled");
	{
		char *t = ev_text("ADDED", jload(POD_JSON));
		struct kube_decode nolabel = { KUBE_PODS, NULL };

		EXPECT_OK(parse_text(t, &nolabel, &ev, NULL, 0));
		EXPECT_STR(ev.obj.u.pod.enroll, "");
		nolabel.enroll_label = "";
		EXPECT_OK(parse_text(t, &nolabel, &ev, NULL, 0));
		EXPECT_STR(ev.obj.u.pod.enroll, "");
		nolabel.enroll_label = "app";
		EXPECT_OK(parse_text(t, &nolabel, &ev, NULL, 0));
		EXPECT_STR(ev.obj.u.pod.enroll, "web");
		free(t);
	}

	/* A listen annotation that cannot be an address is present but empty. */
	EXPECT_OK(edited_pod(&ev, jrepeat('1', ADDR_TEXT_MAX + 1), "metadata", "annotations",
	    KUBE_LISTEN_ANNOTATION));
	EXPECT(ev.obj.u.pod.has_listen);
	EXPECT_STR(ev.obj.u.pod.listen, "");
	EXPECT_OK(edited_pod(&ev, json_string("a\nb"), "metadata", "annotations",
	    KUBE_LISTEN_ANNOTATION));
	EXPECT(ev.obj.u.pod.has_listen);
	EXPECT_STR(ev.obj.u.pod.listen, "");
	EXPECT_OK(edited_pod(&ev, json_string(""), "metadata", "annotations",
	    KUBE_LISTEN_ANNOTATION));
	EXPECT(ev.obj.u.pod.has_listen);

	/* An over-long phase is no phase: not Running, not an error. */
	EXPECT_OK(edited_pod(&ev, json_string("RunningButLonger"), "status", "phase"));
	EXPECT_STR(ev.obj.u.pod.phase, "");
	EXPECT_OK(edited_pod(&ev, json_string("Succeeded"), "status", "phase"));
	EXPECT_STR(ev.obj.u.pod.phase, "Succeeded");
	/* An IPv6 pod. */
	EXPECT_OK(edited_pod(&ev, json_string("fd00:10:244::7"), "status", "podIP"));
	EXPECT_STR(ev.obj.u.pod.ip, "fd00:10:244::7");
	/* The limits themselves: a 253-byte name, a 63-byte uid and rv. */
	EXPECT_OK(edited_pod(&ev, jrepeat('n', KUBE_NAME_MAX), "metadata", "name"));
	EXPECT_EQ(strlen(ev.obj.name), KUBE_NAME_MAX);
	EXPECT_OK(edited_pod(&ev, jrepeat('u', KUBE_UID_MAX), "metadata", "uid"));
	EXPECT_EQ(strlen(ev.obj.uid), KUBE_UID_MAX);
	EXPECT_OK(edited_pod(&ev, jrepeat('9', KUBE_RV_MAX), "metadata", "resourceVersion"));
	EXPECT_EQ(strlen(ev.obj.rv), KUBE_RV_MAX);
	EXPECT_OK(edited_pod(&ev, jrepeat('s', KUBE_NAME_MAX), "spec", "serviceAccountName"));
	EXPECT_EQ(strlen(ev.obj.u.pod.sa), KUBE_NAME_MAX);
	EXPECT_OK(edited_pod(&ev, jrepeat('e', KUBE_LABEL_MAX), "metadata", "labels", ENROLL));
	EXPECT_EQ(strlen(ev.obj.u.pod.enroll), KUBE_LABEL_MAX);
	/* UTF-8 is text, not a control character. */
	EXPECT_OK(edited_pod(&ev, json_string("caf\xc3\xa9"), "metadata", "uid"));
	EXPECT_STR(ev.obj.uid, "caf\xc3\xa9");
	/* Other kinds of protocol are skipped like UDP; a port of 65535 is a port. */
	EXPECT_OK(edited_pod(&ev, json_pack("[{s:[{s:i,s:s},{s:i,s:s},{s:i}]}]", "ports",
	    "containerPort", 7, "protocol", "SCTP", "containerPort", 8, "protocol", "UDP",
	    "containerPort", 65535), "spec", "containers"));
	EXPECT_EQ(ev.obj.u.pod.n_ports, 1);
	EXPECT_EQ(ev.obj.u.pod.ports[0], 65535);
}

TEST(event_pod_ports_over)
{
	struct kube_event ev;
	json_t *cs = json_array(), *ports = json_array();

	/* Ten distinct TCP ports over two containers, with duplicates between them. */
	for (int i = 0; i < 6; i++)
		json_array_append_new(ports, json_pack("{s:i}", "containerPort", 1000 + i));
	json_array_append_new(cs, json_pack("{s:s,s:o}", "name", "a", "ports", ports));
	ports = json_array();
	for (int i = 4; i < 10; i++)
		json_array_append_new(ports, json_pack("{s:i,s:s}", "containerPort", 1000 + i,
		    "protocol", "TCP"));
	json_array_append_new(cs, json_pack("{s:s,s:o}", "name", "b", "ports", ports));
	EXPECT_OK(edited_pod(&ev, cs, "spec", "containers"));
	EXPECT_EQ(ev.obj.u.pod.n_ports, KUBE_PORTS_MAX);
	for (size_t i = 0; i < KUBE_PORTS_MAX; i++)
		EXPECT_EQ(ev.obj.u.pod.ports[i], 1000 + i);
	EXPECT(ev.obj.u.pod.ports_over);

	/* Exactly eight, repeats included: not over. */
	cs = json_array();
	ports = json_array();
	for (int i = 0; i < 8; i++)
		json_array_append_new(ports, json_pack("{s:i}", "containerPort", 2000 + i));
	for (int i = 0; i < 8; i++)
		json_array_append_new(ports, json_pack("{s:i}", "containerPort", 2000 + i));
	json_array_append_new(cs, json_pack("{s:o}", "ports", ports));
	EXPECT_OK(edited_pod(&ev, cs, "spec", "containers"));
	EXPECT_EQ(ev.obj.u.pod.n_ports, 8);
	EXPECT(!ev.obj.u.pod.ports_over);
}

TEST(event_bookmark_and_error)
{
	struct kube_event ev;
	char err[256] = "";

	EXPECT_OK(parse_text(BOOKMARK_JSON, &pods_d, &ev, err, sizeof(err)));
	EXPECT_EQ(ev.type, KUBE_EV_BOOKMARK);
	EXPECT_STR(ev.obj.rv, "12746");
	EXPECT_STR(ev.obj.name, "");
	EXPECT_STR(ev.obj.ns, "");
	EXPECT_EQ(ev.obj.u.pod.n_ports, 0);
	kube_object_free(&ev.obj);
	/* A bookmark is a bookmark for every kind. */
	EXPECT_OK(parse_text(BOOKMARK_JSON, &al_d, &ev, err, sizeof(err)));
	EXPECT_EQ(ev.type, KUBE_EV_BOOKMARK);
	EXPECT(!ev.obj.u.al.valid);
	kube_object_free(&ev.obj);

	BAD_TEXT("bookmark without rv",
	    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{}}}", &pods_d,
	    "resourceVersion");
	BAD_TEXT("bookmark with an empty rv",
	    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"\"}}}",
	    &pods_d, "resourceVersion");
	BAD_TEXT("bookmark with a numeric rv",
	    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":5}}}", &pods_d,
	    "resourceVersion");
	BAD_TEXT("bookmark without metadata", "{\"type\":\"BOOKMARK\",\"object\":{}}", &pods_d,
	    "metadata");

	EXPECT_OK(parse_text(ERROR_JSON, &pods_d, &ev, err, sizeof(err)));
	EXPECT_EQ(ev.type, KUBE_EV_ERROR);
	EXPECT_EQ(ev.status.code, 410);
	EXPECT_STR(ev.status.reason, "Expired");
	EXPECT_STR(ev.status.message, "too old resource version: 100 (12345)");
	EXPECT_STR(ev.obj.name, "");
	EXPECT_STR(ev.obj.rv, "");
	kube_object_free(&ev.obj);

	BAD_TEXT("error that is no Status",
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Pod\",\"code\":410}}", &pods_d,
	    "event.object");
	BAD_TEXT("error without a code",
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"reason\":\"Expired\"}}", &pods_d,
	    "event.object");
	BAD_TEXT("error with a string code",
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":\"410\"}}", &pods_d,
	    "event.object");
}

TEST(event_negatives)
{
	/* Duplicate keys, at the top and deep inside. */
	BAD_TEXT("duplicate type",
	    "{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}", &pods_d, NULL);
	BAD_TEXT("duplicate object",
	    "{\"type\":\"ADDED\",\"object\":{},\"object\":{}}", &pods_d, NULL);
	BAD_TEXT("duplicate name",
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\","
	    "\"name\":\"b\"},\"spec\":{}}}", &pods_d, NULL);
	BAD_TEXT("duplicate label",
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\","
	    "\"labels\":{\"" ENROLL "\":\"disabled\",\"" ENROLL "\":\"enabled\"}},\"spec\":{}}}",
	    &pods_d, NULL);
	BAD_TEXT("duplicate containerPort",
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},"
	    "\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":1,\"containerPort\":2}]}]}}}",
	    &pods_d, NULL);
	BAD_TEXT("duplicate in an ignored field",
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\"},"
	    "\"spec\":{},\"status\":{\"conditions\":[{\"type\":\"A\",\"type\":\"B\"}]}}}",
	    &pods_d, NULL);
	BAD_TEXT("duplicate in an ERROR status",
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"code\":200}}",
	    &pods_d, NULL);

	/* The event's own shape. */
	BAD_TEXT("unknown type", "{\"type\":\"SYNC\",\"object\":{}}", &pods_d, "event.type");
	BAD_TEXT("lower-case type", "{\"type\":\"added\",\"object\":{}}", &pods_d, "event.type");
	BAD_TEXT("long type", "{\"type\":\"ADDEDADDEDADDEDADDED\",\"object\":{}}", &pods_d,
	    "event");
	BAD_TEXT("numeric type", "{\"type\":1,\"object\":{}}", &pods_d, "event");
	BAD_TEXT("no type", "{\"kind\":\"ADDED\",\"object\":{}}", &pods_d, "event");
	BAD_TEXT("no object", "{\"type\":\"ADDED\",\"obj\":{}}", &pods_d, "event.object");
	BAD_TEXT("extra member", "{\"type\":\"ADDED\",\"object\":{},\"x\":1}", &pods_d, "event");
	BAD_TEXT("object is an array", "{\"type\":\"ADDED\",\"object\":[]}", &pods_d,
	    "event.object");
	BAD_TEXT("object is a string", "{\"type\":\"ADDED\",\"object\":\"pod\"}", &pods_d,
	    "event.object");
	BAD_TEXT("object is null", "{\"type\":\"ADDED\",\"object\":null}", &pods_d,
	    "event.object");
	BAD_TEXT("event is an array", "[\"ADDED\",{}]", &pods_d, "event");
	BAD_TEXT("event is a string", "\"ADDED\"", &pods_d, "JSON");
	BAD_TEXT("event is empty", "{}", &pods_d, "event");

	/* Not JSON. */
	BAD_TEXT("empty", "", &pods_d, "JSON");
	BAD_TEXT("unclosed", "{\"type\":\"ADDED\",\"object\":{}", &pods_d, "JSON");
	BAD_TEXT("bad literal", "{\"type\":\"ADDED\",\"object\":nul}", &pods_d, "JSON");
	BAD_TEXT("invalid UTF-8", "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\xff\"}}}",
	    &pods_d, "JSON");
	BAD_TEXT("NUL escape", "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\\u0000\"}}}",
	    &pods_d, "JSON");
	BAD_TEXT("trailing garbage", BOOKMARK_JSON "x", &pods_d, "JSON");
	BAD_TEXT("two events on one line", BOOKMARK_JSON BOOKMARK_JSON, &pods_d, "JSON");
	bad_text_at(__LINE__, "NUL byte", BOOKMARK_JSON "\0", sizeof(BOOKMARK_JSON), &pods_d,
	    "JSON");

	/* Metadata. */
	BAD_POD("metadata", json_string("x"), "metadata");
	BAD_POD("metadata", NULL, "metadata");
	BAD_POD("metadata.name", NULL, "metadata", "name");
	BAD_POD("metadata.name", json_string(""), "metadata", "name");
	BAD_POD("metadata.name", json_integer(1), "metadata", "name");
	BAD_POD("metadata.name", jrepeat('n', KUBE_NAME_MAX + 1), "metadata", "name");
	BAD_POD("metadata.name", json_string("web\x01"), "metadata", "name");
	BAD_POD("metadata.name", json_string("web\t1"), "metadata", "name");
	BAD_POD("metadata.name", json_string("web\x7f"), "metadata", "name");
	BAD_POD("metadata.namespace", NULL, "metadata", "namespace");
	BAD_POD("metadata.namespace", json_string(""), "metadata", "namespace");
	BAD_POD("metadata.namespace", json_false(), "metadata", "namespace");
	BAD_POD("metadata.namespace", jrepeat('s', KUBE_NAME_MAX + 1), "metadata", "namespace");
	BAD_POD("metadata.uid", json_integer(7), "metadata", "uid");
	BAD_POD("metadata.uid", jrepeat('u', KUBE_UID_MAX + 1), "metadata", "uid");
	BAD_POD("metadata.uid", json_string("a\nb"), "metadata", "uid");
	BAD_POD("metadata.resourceVersion", json_integer(5), "metadata", "resourceVersion");
	BAD_POD("metadata.resourceVersion", jrepeat('9', KUBE_RV_MAX + 1), "metadata",
	    "resourceVersion");
	BAD_POD("metadata.resourceVersion", json_string("1\r"), "metadata", "resourceVersion");
	BAD_POD("metadata.labels", json_array(), "metadata", "labels");
	BAD_POD("metadata.labels", json_integer(1), "metadata", "labels", ENROLL);
	BAD_POD("metadata.labels", jrepeat('e', KUBE_LABEL_MAX + 1), "metadata", "labels", ENROLL);
	BAD_POD("metadata.labels", json_string("en\x1b" "abled"), "metadata", "labels", ENROLL);

	/* Spec and status. */
	BAD_POD("spec", NULL, "spec");
	BAD_POD("spec", json_array(), "spec");
	BAD_POD("status", json_string("Running"), "status");
	BAD_POD("spec.nodeName", json_integer(1), "spec", "nodeName");
	BAD_POD("spec.nodeName", jrepeat('n', KUBE_NAME_MAX + 1), "spec", "nodeName");
	BAD_POD("spec.serviceAccountName", json_true(), "spec", "serviceAccountName");
	BAD_POD("spec.serviceAccountName", jrepeat('s', KUBE_NAME_MAX + 1), "spec",
	    "serviceAccountName");
	BAD_POD("spec.hostNetwork", json_string("true"), "spec", "hostNetwork");
	BAD_POD("spec.hostNetwork", json_integer(0), "spec", "hostNetwork");
	BAD_POD("status.podIP", json_integer(10), "status", "podIP");
	BAD_POD("status.podIP", jrepeat('1', ADDR_TEXT_MAX + 1), "status", "podIP");
	BAD_POD("spec.containers", json_object(), "spec", "containers");
	BAD_POD("spec.containers", json_string("app"), "spec", "containers");
	BAD_POD("spec.containers[].ports", json_pack("[{s:{}}]", "ports"), "spec", "containers");
	BAD_POD("containerPort", json_pack("[{s:[{s:s}]}]", "ports", "containerPort", "80"),
	    "spec", "containers");
	BAD_POD("containerPort", json_pack("[{s:[{s:i}]}]", "ports", "containerPort", 0),
	    "spec", "containers");
	BAD_POD("containerPort", json_pack("[{s:[{s:i}]}]", "ports", "containerPort", 65536),
	    "spec", "containers");
	BAD_POD("containerPort", json_pack("[{s:[{s:i}]}]", "ports", "containerPort", -80),
	    "spec", "containers");
	BAD_POD("containerPort", json_pack("[{s:[{s:f}]}]", "ports", "containerPort", 80.0),
	    "spec", "containers");
	BAD_POD("containerPort", json_pack("[{s:[{s:s}]}]", "ports", "name", "http"),
	    "spec", "containers");
	BAD_POD("containerPort", json_pack("[{s:[i]}]", "ports", 80), "spec", "containers");
	BAD_POD("protocol", json_pack("[{s:[{s:i,s:i}]}]", "ports", "containerPort", 80,
	    "protocol", 6), "spec", "containers");

	/* The same checks hold in a DELETED event. */
	BAD_TEXT("deleted pod without a namespace",
	    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\"},\"spec\":{}}}",
	    &pods_d, "metadata.namespace");
}

TEST(event_error_output)
{
	struct kube_event ev;
	char err[16];

	/* A short err buffer is cut and terminated; a NULL one is allowed. */
	memset(err, 'x', sizeof(err));
	EXPECT_ERR(parse_text("{\"type\":\"SYNC\",\"object\":{}}", &pods_d, &ev, err,
	    sizeof(err)), KUBE_E_JSON);
	EXPECT(memchr(err, '\0', sizeof(err)) != NULL);
	EXPECT_ERR(parse_text("{", &pods_d, &ev, NULL, 0), KUBE_E_JSON);
	EXPECT_ERR(parse_text("{", &pods_d, &ev, err, 0), KUBE_E_JSON);
}

/* ---- Namespaces and AllowLists ----------------------------------------- */

TEST(event_namespace)
{
	struct kube_event ev;
	char err[256] = "";
	char *s;
	json_t *n;

	s = ev_text("ADDED", jload(NS_JSON));
	EXPECT_OK(parse_text(s, &ns_d, &ev, err, sizeof(err)));
	EXPECT_EQ(ev.obj.kind, KUBE_NAMESPACES);
	EXPECT_STR(ev.obj.name, "shop");
	EXPECT_STR(ev.obj.ns, "");
	EXPECT_STR(ev.obj.rv, "42");
	EXPECT_STR(ev.obj.u.ns.enroll, "enabled");
	kube_object_free(&ev.obj);
	free(s);

	n = jload(NS_JSON);
	jset(n, json_string("disabled"), "metadata", "labels", ENROLL, NULL);
	s = ev_text("MODIFIED", n);
	EXPECT_OK(parse_text(s, &ns_d, &ev, err, sizeof(err)));
	EXPECT_STR(ev.obj.u.ns.enroll, "disabled");
	free(s);

	n = jload(NS_JSON);
	jset(n, NULL, "metadata", "labels", ENROLL, NULL);
	s = ev_text("MODIFIED", n);
	EXPECT_OK(parse_text(s, &ns_d, &ev, err, sizeof(err)));
	EXPECT_STR(ev.obj.u.ns.enroll, "");
	free(s);

	n = jload(NS_JSON);
	jset(n, json_integer(1), "metadata", "labels", ENROLL, NULL);
	s = ev_text("MODIFIED", n);
	BAD_TEXT("namespace label of the wrong type", s, &ns_d, "metadata.labels");
	free(s);

	n = jload(NS_JSON);
	jset(n, NULL, "metadata", "name", NULL);
	s = ev_text("ADDED", n);
	BAD_TEXT("namespace without a name", s, &ns_d, "metadata.name");
	free(s);
}

TEST(event_allowlist)
{
	struct kube_event ev;
	char err[256] = "";
	char *s;
	json_t *a;
	const struct policy_rule *r;

	s = ev_text("ADDED", jload(AL_JSON));
	EXPECT_OK(parse_text(s, &al_d, &ev, err, sizeof(err)));
	free(s);
	EXPECT_EQ(ev.obj.kind, KUBE_ALLOWLISTS);
	EXPECT_STR(ev.obj.name, "payments");
	EXPECT_STR(ev.obj.ns, "shop");
	EXPECT_STR(ev.obj.rv, "77");
	EXPECT_EQ(ev.obj.u.al.generation, 3);
	EXPECT(ev.obj.u.al.valid);
	REQUIRE(ev.obj.u.al.valid && ev.obj.u.al.set.n == 2);
	r = &ev.obj.u.al.set.rules[0];
	EXPECT_EQ(r->from.kind, POLICY_SEL_ID);
	EXPECT_STR(r->from.str, "spiffe://td/ns/web/sa/frontend");
	EXPECT_EQ(r->to.kind, POLICY_SEL_ID);
	EXPECT_STR(r->to.str, "spiffe://td/ns/billing/sa/api");
	EXPECT_EQ(r->ports.n, 1);
	EXPECT_EQ(r->ports.r[0].lo, 443);
	EXPECT_EQ(r->ports.r[0].hi, 443);
	EXPECT_STR(r->comment, "frontend to billing");
	r = &ev.obj.u.al.set.rules[1];
	EXPECT_EQ(r->from.kind, POLICY_SEL_ANY);
	EXPECT_EQ(r->to.kind, POLICY_SEL_NS);
	EXPECT_STR(r->to.str, "spiffe://td/ns/public/*");
	EXPECT_EQ(r->ports.n, 2);
	EXPECT(policy_ports_contains(&r->ports, 80));
	EXPECT(policy_ports_contains(&r->ports, 8050));
	EXPECT(!policy_ports_contains(&r->ports, 443));
	EXPECT_EQ(ev.obj.u.al.set.naudit, 1);
	/* Freed here (ASan reports a leak otherwise), and a second free does nothing. */
	kube_object_free(&ev.obj);
	EXPECT(!ev.obj.u.al.valid);
	kube_object_free(&ev.obj);

	/* A spec the policy parser refuses: a valid object, invalid policy, the parser's words. */
	{
		static const struct {
			const char *what;
			const char *rules;
		} bad[] = {
			{ "to: *", "[{\"from\":\"*\",\"to\":\"*\"}]" },
			{ "a bad port", "[{\"from\":\"*\",\"to\":\"spiffe://td/ns/a/*\",\"ports\":70000}]" },
			{ "an unknown field", "[{\"from\":\"*\",\"to\":\"spiffe://td/x\",\"port\":1}]" },
			{ "rules not a list", "\"all\"" },
		};

		for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
			struct policy_set set;
			char perr[512] = "", doc[512];
			json_t *rules = jload(bad[i].rules);

			a = jload(AL_JSON);
			jset(a, rules, "spec", "rules", NULL);
			jset(a, NULL, "spec", "audit", NULL);
			s = ev_text("MODIFIED", a);
			memset(err, 0, sizeof(err));
			EXPECT_OK(parse_text(s, &al_d, &ev, err, sizeof(err)));
			free(s);
			EXPECT(!ev.obj.u.al.valid);
			EXPECT_EQ(ev.obj.u.al.set.n, 0);
			EXPECT(ev.obj.u.al.set.rules == NULL);
			EXPECT(ev.obj.u.al.error[0] != '\0');
			/* Exactly what the file parser says about the same document. */
			snprintf(doc, sizeof(doc), "{\"apiVersion\":\"authd.io/v1\",\"kind\":\"AllowList\","
			    "\"metadata\":{\"name\":\"payments\"},\"spec\":{\"rules\":%s}}", bad[i].rules);
			EXPECT(policy_set_parse((const uint8_t *)doc, strlen(doc), &set, perr,
			    sizeof(perr)) != 0);
			if (strcmp(perr, ev.obj.u.al.error) != 0)
				fprintf(stderr, "  %s: \"%s\" vs \"%s\"\n", bad[i].what, perr,
				    ev.obj.u.al.error);
			EXPECT_STR(ev.obj.u.al.error, perr);
			kube_object_free(&ev.obj);
		}
	}

	/*
	 * Strings reach the parser as the API server holds them: non-ASCII text
	 * is kept byte for byte, and a NEL (which YAML would fold to a space if
	 * it saw the raw bytes) is seen, and refused as a control character.
	 */
	a = jload(AL_JSON);
	jset(a, jload("[{\"from\":\"*\",\"to\":\"spiffe://td/x\",\"comment\":\"caf\\u00e9 \\u2713\"}]"),
	    "spec", "rules", NULL);
	s = ev_text("ADDED", a);
	EXPECT_OK(parse_text(s, &al_d, &ev, err, sizeof(err)));
	free(s);
	EXPECT(ev.obj.u.al.valid);
	if (ev.obj.u.al.valid && ev.obj.u.al.set.n == 1)
		EXPECT_STR(ev.obj.u.al.set.rules[0].comment, "caf\xc3\xa9 \xe2\x9c\x93");
	kube_object_free(&ev.obj);
	a = jload(AL_JSON);
	jset(a, jload("[{\"from\":\"*\",\"to\":\"spiffe://td/x\",\"comment\":\"a\\u0085b\"}]"),
	    "spec", "rules", NULL);
	s = ev_text("ADDED", a);
	EXPECT_OK(parse_text(s, &al_d, &ev, err, sizeof(err)));
	free(s);
	EXPECT(!ev.obj.u.al.valid);
	EXPECT(strstr(ev.obj.u.al.error, "comment") != NULL);
	kube_object_free(&ev.obj);

	/* No spec: the parser judges that too. */
	a = jload(AL_JSON);
	jset(a, NULL, "spec", NULL);
	s = ev_text("ADDED", a);
	EXPECT_OK(parse_text(s, &al_d, &ev, err, sizeof(err)));
	free(s);
	EXPECT(!ev.obj.u.al.valid);
	EXPECT(strstr(ev.obj.u.al.error, "'spec' is missing") != NULL);
	kube_object_free(&ev.obj);

	/* No generation is 0; a generation of the wrong type is a decode error. */
	a = jload(AL_JSON);
	jset(a, NULL, "metadata", "generation", NULL);
	s = ev_text("ADDED", a);
	EXPECT_OK(parse_text(s, &al_d, &ev, err, sizeof(err)));
	free(s);
	EXPECT_EQ(ev.obj.u.al.generation, 0);
	EXPECT(ev.obj.u.al.valid);
	kube_object_free(&ev.obj);

	a = jload(AL_JSON);
	jset(a, json_string("3"), "metadata", "generation", NULL);
	s = ev_text("ADDED", a);
	BAD_TEXT("generation as a string", s, &al_d, "metadata.generation");
	free(s);

	/* A large generation is kept whole. */
	a = jload(AL_JSON);
	jset(a, json_integer(1234567890123LL), "metadata", "generation", NULL);
	s = ev_text("ADDED", a);
	EXPECT_OK(parse_text(s, &al_d, &ev, err, sizeof(err)));
	free(s);
	EXPECT_EQ(ev.obj.u.al.generation, 1234567890123LL);
	kube_object_free(&ev.obj);

	/* The name goes to the parser as metadata.name; a duplicate key in spec is refused. */
	BAD_TEXT("duplicate key in spec",
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"},"
	    "\"spec\":{\"rules\":[],\"rules\":[]}}}", &al_d, NULL);
}

/* ---- LIST pages --------------------------------------------------------- */

struct list_rec {
	char names[8][KUBE_NAME_MAX + 1];
	size_t n;
	size_t stop_at;
	size_t rules;
};

static int
list_cb(void *arg, struct kube_object *o)
{
	struct list_rec *l = arg;

	if (l->n < 8)
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", o->name);
	l->n++;
	if (o->kind == KUBE_ALLOWLISTS && o->u.al.valid)
		l->rules += o->u.al.set.n;
	kube_object_free(o);
	return l->stop_at != 0 && l->n == l->stop_at ? -7 : 0;
}

/* A PodList of the fixture renamed to each of names, with metadata md (stolen). */
static char *
pod_list(json_t *md, const char *const *names, size_t n)
{
	json_t *items = json_array(), *list;
	char *s;

	for (size_t i = 0; i < n; i++) {
		json_t *p = jload(POD_JSON);

		jset(p, json_string(names[i]), "metadata", "name", NULL);
		json_array_append_new(items, p);
	}
	list = json_pack("{s:s,s:s,s:o,s:o}", "kind", "PodList", "apiVersion", "v1", "metadata",
	    md, "items", items);
	if (list == NULL || (s = json_dumps(list, JSON_COMPACT)) == NULL)
		abort();
	json_decref(list);
	return s;
}

static int
parse_list(const char *s, const struct kube_decode *d, struct list_rec *l, char *rv, char *cont,
    char *err)
{
	return kube_list_parse((const uint8_t *)s, strlen(s), d, list_cb, l, rv, cont, err, 256);
}

TEST(list_pages)
{
	static const char *const names[] = { "a", "b", "c" };
	char rv[KUBE_RV_MAX + 1], cont[KUBE_CONTINUE_MAX + 1], err[256];
	struct list_rec l = { 0 };
	char *s;

	s = pod_list(json_pack("{s:s,s:s,s:i}", "resourceVersion", "999", "continue",
	    "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6OTk5fQ", "remainingItemCount", 17), names, 3);
	EXPECT_OK(parse_list(s, &pods_d, &l, rv, cont, err));
	free(s);
	EXPECT_EQ(l.n, 3);
	EXPECT_STR(l.names[0], "a");
	EXPECT_STR(l.names[1], "b");
	EXPECT_STR(l.names[2], "c");
	EXPECT_STR(rv, "999");
	EXPECT_STR(cont, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6OTk5fQ");

	/* The last page: no continue. Empty pages: [], null, absent. */
	static const char *const empties[] = {
		"{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[]}",
		("{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\",\"continue\":\"\"},"
		 "\"items\":null}"),
		"{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\",\"continue\":null}}",
	};
	for (size_t i = 0; i < AD_ARRAY_LEN(empties); i++) {
		memset(&l, 0, sizeof(l));
		strcpy(cont, "stale");
		EXPECT_OK(parse_list(empties[i], &pods_d, &l, rv, cont, err));
		EXPECT_EQ(l.n, 0);
		EXPECT_STR(rv, "5");
		EXPECT_STR(cont, "");
	}

	/* A continue token at its limit fits; one byte more does not. */
	{
		json_t *md = json_pack("{s:s,s:o}", "resourceVersion", "1", "continue",
		    jrepeat('c', KUBE_CONTINUE_MAX));

		memset(&l, 0, sizeof(l));
		s = pod_list(md, names, 1);
		EXPECT_OK(parse_list(s, &pods_d, &l, rv, cont, err));
		EXPECT_EQ(strlen(cont), KUBE_CONTINUE_MAX);
		free(s);
	}
}

TEST(list_negatives)
{
	static const char *const names[] = { "a", "b", "c" };
	char rv[KUBE_RV_MAX + 1], cont[KUBE_CONTINUE_MAX + 1], err[256];
	struct list_rec l = { 0 };
	static const struct {
		const char *what;
		const char *s;
		const char *where;
	} bad[] = {
		{ "no rv", "{\"metadata\":{},\"items\":[]}", "list.metadata.resourceVersion" },
		{ "empty rv", "{\"metadata\":{\"resourceVersion\":\"\"},\"items\":[]}",
		  "list.metadata.resourceVersion" },
		{ "numeric rv", "{\"metadata\":{\"resourceVersion\":5},\"items\":[]}",
		  "list.metadata.resourceVersion" },
		{ "no metadata", "{\"items\":[]}", "list.metadata" },
		{ "metadata array", "{\"metadata\":[],\"items\":[]}", "list.metadata" },
		{ "not an object", "[]", "list.metadata" },
		{ "items an object",
		  "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":{}}", "list.items" },
		{ "items a string",
		  "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":\"x\"}", "list.items" },
		{ "continue numeric",
		  "{\"metadata\":{\"resourceVersion\":\"1\",\"continue\":1},\"items\":[]}",
		  "list.metadata.continue" },
		{ "duplicate rv",
		  "{\"metadata\":{\"resourceVersion\":\"1\",\"resourceVersion\":\"2\"},\"items\":[]}",
		  "JSON" },
		{ "duplicate items",
		  "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[],\"items\":[]}", "JSON" },
		{ "trailing garbage", "{\"metadata\":{\"resourceVersion\":\"1\"}} x", "JSON" },
		{ "an item not an object",
		  "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[1]}", "object" },
	};
	json_t *md;
	char *s;

	for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
		int r;

		memset(&l, 0, sizeof(l));
		strcpy(rv, "stale");
		strcpy(cont, "stale");
		err[0] = '\0';
		r = parse_list(bad[i].s, &pods_d, &l, rv, cont, err);
		if (r != KUBE_E_JSON || strstr(err, bad[i].where) == NULL)
			fprintf(stderr, "  %s: %d \"%s\"\n", bad[i].what, r, err);
		EXPECT_ERR(r, KUBE_E_JSON);
		EXPECT(strstr(err, bad[i].where) != NULL);
		EXPECT_STR(rv, "");
		EXPECT_STR(cont, "");
		EXPECT_EQ(l.n, 0);
	}

	/* An rv of 64 bytes; a continue token over its limit. */
	md = json_pack("{s:o}", "resourceVersion", jrepeat('9', KUBE_RV_MAX + 1));
	s = pod_list(md, names, 1);
	memset(&l, 0, sizeof(l));
	EXPECT_ERR(parse_list(s, &pods_d, &l, rv, cont, err), KUBE_E_JSON);
	free(s);
	md = json_pack("{s:s,s:o}", "resourceVersion", "1", "continue",
	    jrepeat('c', KUBE_CONTINUE_MAX + 1));
	s = pod_list(md, names, 1);
	EXPECT_ERR(parse_list(s, &pods_d, &l, rv, cont, err), KUBE_E_JSON);
	EXPECT_EQ(l.n, 0);
	free(s);

	/* An item that fails decoding fails the page, after the items before it. */
	{
		json_t *items = json_array(), *list, *p;

		for (int i = 0; i < 3; i++) {
			p = jload(POD_JSON);
			jset(p, json_string(names[i]), "metadata", "name", NULL);
			if (i == 1)
				jset(p, json_string("yes"), "spec", "hostNetwork", NULL);
			json_array_append_new(items, p);
		}
		list = json_pack("{s:{s:s,s:s},s:o}", "metadata", "resourceVersion", "9",
		    "continue", "next", "items", items);
		s = json_dumps(list, JSON_COMPACT);
		json_decref(list);
		memset(&l, 0, sizeof(l));
		err[0] = '\0';
		EXPECT_ERR(parse_list(s, &pods_d, &l, rv, cont, err), KUBE_E_JSON);
		EXPECT(strstr(err, "spec.hostNetwork") != NULL);
		EXPECT_EQ(l.n, 1);
		EXPECT_STR(rv, "");
		EXPECT_STR(cont, "");
		free(s);
	}

	/* A callback's error stops the page and is returned. */
	md = json_pack("{s:s,s:s}", "resourceVersion", "9", "continue", "next");
	s = pod_list(md, names, 3);
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	EXPECT_ERR(parse_list(s, &pods_d, &l, rv, cont, err), -7);
	EXPECT_EQ(l.n, 2);
	EXPECT_STR(rv, "");
	EXPECT_STR(cont, "");
	free(s);
}

TEST(list_allowlists)
{
	char rv[KUBE_RV_MAX + 1], cont[KUBE_CONTINUE_MAX + 1], err[256];
	struct list_rec l = { 0 };
	json_t *items = json_array(), *a, *list;
	char *s;

	/* Two valid lists and one the parser refuses; every set is freed by the callback. */
	json_array_append_new(items, jload(AL_JSON));
	a = jload(AL_JSON);
	jset(a, json_string("second"), "metadata", "name", NULL);
	json_array_append_new(items, a);
	a = jload(AL_JSON);
	jset(a, json_string("broken"), "metadata", "name", NULL);
	jset(a, json_string("*"), "spec", "audit", NULL);
	json_array_append_new(items, a);
	list = json_pack("{s:s,s:{s:s},s:o}", "kind", "AllowListList", "metadata",
	    "resourceVersion", "80", "items", items);
	s = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	EXPECT_OK(parse_list(s, &al_d, &l, rv, cont, err));
	free(s);
	EXPECT_EQ(l.n, 3);
	EXPECT_STR(l.names[2], "broken");
	EXPECT_EQ(l.rules, 4);
	EXPECT_STR(rv, "80");

	/* Namespaces. */
	memset(&l, 0, sizeof(l));
	EXPECT_OK(parse_list("{\"kind\":\"NamespaceList\",\"metadata\":{\"resourceVersion\":\"3\"},"
	    "\"items\":[" NS_JSON "]}", &ns_d, &l, rv, cont, err));
	EXPECT_EQ(l.n, 1);
	EXPECT_STR(l.names[0], "shop");
}

/* ---- Status objects ---------------------------------------------------- */

TEST(status_parse)
{
	static const char forbidden[] =
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"pods is forbidden: User \\\"system:serviceaccount:authd:authd\\\" "
	    "cannot list resource \\\"pods\\\" in API group \\\"\\\" at the cluster scope\","
	    "\"reason\":\"Forbidden\",\"details\":{\"kind\":\"pods\"},\"code\":403}";
	struct kube_status st;
	char buf[1024];
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"kind\":\"Pod\",\"code\":403}",
		"{\"code\":403}",
		"{\"kind\":\"Status\"}",
		"{\"kind\":\"Status\",\"code\":\"403\"}",
		"{\"kind\":\"Status\",\"code\":403.0}",
		"{\"kind\":\"Status\",\"code\":-1}",
		"{\"kind\":\"Status\",\"code\":1000}",
		"{\"kind\":\"Status\",\"code\":403,\"code\":403}",
		"{\"kind\":\"Status\",\"code\":403} {}",
		"<html>502 Bad Gateway</html>",
	};

	EXPECT_OK(kube_status_parse((const uint8_t *)forbidden, sizeof(forbidden) - 1, &st));
	EXPECT_EQ(st.code, 403);
	EXPECT_STR(st.reason, "Forbidden");
	EXPECT(strncmp(st.message, "pods is forbidden: User \"system:", 32) == 0);

	/* Reason and message are optional; a long or odd one does not refuse the Status. */
	EXPECT_OK(kube_status_parse((const uint8_t *)"{\"kind\":\"Status\",\"code\":0}", 26, &st));
	EXPECT_EQ(st.code, 0);
	EXPECT_STR(st.reason, "");
	EXPECT_STR(st.message, "");
	snprintf(buf, sizeof(buf), "{\"kind\":\"Status\",\"code\":500,\"reason\":\"%0100d\","
	    "\"message\":\"%0300d\"}", 0, 0);
	EXPECT_OK(kube_status_parse((const uint8_t *)buf, strlen(buf), &st));
	EXPECT_EQ(st.code, 500);
	EXPECT(strlen(st.reason) < sizeof(st.reason));
	EXPECT(strlen(st.message) < sizeof(st.message));
	EXPECT(strchr(st.message, '0') == NULL || strlen(st.message) == sizeof(st.message) - 1);
	snprintf(buf, sizeof(buf), "{\"kind\":\"Status\",\"code\":500,\"message\":\"a\\nb\"}");
	EXPECT_OK(kube_status_parse((const uint8_t *)buf, strlen(buf), &st));
	EXPECT(strchr(st.message, '\n') == NULL);
	snprintf(buf, sizeof(buf), "{\"kind\":\"Status\",\"code\":500,\"reason\":7}");
	EXPECT_OK(kube_status_parse((const uint8_t *)buf, strlen(buf), &st));
	EXPECT_EQ(st.code, 500);

	for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
		memset(&st, 0x55, sizeof(st));
		EXPECT_ERR(kube_status_parse((const uint8_t *)bad[i], strlen(bad[i]), &st),
		    KUBE_E_JSON);
		EXPECT_EQ(st.code, 0);
		EXPECT_STR(st.reason, "");
	}
}

/* ---- kube_pod_workload -------------------------------------------------- */

/* A running, labelled pod with an IP, two TCP ports and no listen annotation. */
static void
mkpod(struct kube_object *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = KUBE_PODS;
	snprintf(o->ns, sizeof(o->ns), "shop");
	snprintf(o->name, sizeof(o->name), "web-1");
	snprintf(o->uid, sizeof(o->uid), POD_UID);
	snprintf(o->rv, sizeof(o->rv), "5");
	snprintf(o->u.pod.node, sizeof(o->u.pod.node), "node-1");
	snprintf(o->u.pod.sa, sizeof(o->u.pod.sa), "web");
	snprintf(o->u.pod.phase, sizeof(o->u.pod.phase), "Running");
	snprintf(o->u.pod.ip, sizeof(o->u.pod.ip), "10.244.1.7");
	snprintf(o->u.pod.enroll, sizeof(o->u.pod.enroll), KUBE_ENROLL_ON);
	o->u.pod.n_ports = 2;
	o->u.pod.ports[0] = 8080;
	o->u.pod.ports[1] = 9090;
}

static void
with_listen(struct kube_object *o, const char *listen)
{
	o->u.pod.has_listen = true;
	snprintf(o->u.pod.listen, sizeof(o->u.pod.listen), "%s", listen);
}

/* kube_pod_workload(o, ns) must be want, with a why when it is not 1. */
static void
workload_is_at(int line, const char *what, const struct kube_object *o, bool ns, int want)
{
	struct workload w;
	const char *why = "untouched";
	int r = kube_pod_workload(o, ns, &w, &why);

	if (r != want)
		FAIL_AT(line, "%s: returned %d (%s), expected %d", what, r, why ? why : "(null)",
		    want);
	else if (want != 1 && (why == NULL || why[0] == '\0'))
		FAIL_AT(line, "%s: no why", what);
	else if (want == 1 && why != NULL)
		FAIL_AT(line, "%s: a why for a workload: %s", what, why);
}

#define WORKLOAD_IS(what, o, ns, want) workload_is_at(__LINE__, (what), (o), (ns), (want))

TEST(pod_workload_enrollment)
{
	struct kube_object o;

	mkpod(&o);
	WORKLOAD_IS("pod label", &o, false, 1);
	WORKLOAD_IS("pod label, namespace too", &o, true, 1);
	o.u.pod.enroll[0] = '\0';
	WORKLOAD_IS("namespace", &o, true, 1);
	WORKLOAD_IS("neither", &o, false, 0);
	snprintf(o.u.pod.enroll, sizeof(o.u.pod.enroll), KUBE_ENROLL_OFF);
	WORKLOAD_IS("opted out in an enrolled namespace", &o, true, 0);
	WORKLOAD_IS("opted out", &o, false, 0);
	/* Any other value is no label of its own: the namespace decides. */
	snprintf(o.u.pod.enroll, sizeof(o.u.pod.enroll), "true");
	WORKLOAD_IS("other value", &o, false, 0);
	WORKLOAD_IS("other value, namespace", &o, true, 1);
	snprintf(o.u.pod.enroll, sizeof(o.u.pod.enroll), "Enabled");
	WORKLOAD_IS("Enabled is not enabled", &o, false, 0);
	/* A namespace or an AllowList is no pod. */
	mkpod(&o);
	o.kind = KUBE_NAMESPACES;
	WORKLOAD_IS("not a pod", &o, true, -EINVAL);
}

TEST(pod_workload_not_ready)
{
	static const char *const phases[] = { "Pending", "Succeeded", "Failed", "Unknown", "",
		"running" };
	struct kube_object o;

	for (size_t i = 0; i < AD_ARRAY_LEN(phases); i++) {
		mkpod(&o);
		snprintf(o.u.pod.phase, sizeof(o.u.pod.phase), "%s", phases[i]);
		WORKLOAD_IS(phases[i], &o, true, 0);
	}
	mkpod(&o);
	o.u.pod.ip[0] = '\0';
	WORKLOAD_IS("no IP", &o, true, 0);
	mkpod(&o);
	o.u.pod.host_network = true;
	WORKLOAD_IS("host network", &o, true, 0);
	with_listen(&o, "10.244.1.7:15001");
	WORKLOAD_IS("host network with a listener", &o, true, 0);
	/* Not enrolled comes first: a pod that is neither is 0 even with a bad name. */
	mkpod(&o);
	o.u.pod.enroll[0] = '\0';
	snprintf(o.name, sizeof(o.name), "Not_A_Label");
	WORKLOAD_IS("bad name, not enrolled", &o, false, 0);
}

TEST(pod_workload_names)
{
	struct kube_object o;
	struct workload w;
	const char *why = NULL;

	mkpod(&o);
	memset(o.name, 'a', 63);
	o.name[63] = '\0';
	WORKLOAD_IS("name of 63", &o, false, 1);
	memset(o.name, 'a', 64);
	o.name[64] = '\0';
	WORKLOAD_IS("name of 64", &o, false, -EINVAL);
	EXPECT_ERR(kube_pod_workload(&o, false, &w, &why), -EINVAL);
	EXPECT(why != NULL && strstr(why, "63") != NULL);

	static const char *const bad[] = { "Web-1", "web_1", "-web", "web-", "web.1", "web 1" };
	for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
		mkpod(&o);
		snprintf(o.name, sizeof(o.name), "%s", bad[i]);
		WORKLOAD_IS(bad[i], &o, false, -EINVAL);
	}
	mkpod(&o);
	memset(o.ns, 'n', 64);
	o.ns[64] = '\0';
	WORKLOAD_IS("namespace of 64", &o, false, -EINVAL);
	mkpod(&o);
	memset(o.u.pod.sa, 's', 64);
	o.u.pod.sa[64] = '\0';
	WORKLOAD_IS("service account of 64", &o, false, -EINVAL);
	mkpod(&o);
	snprintf(o.u.pod.sa, sizeof(o.u.pod.sa), "Web");
	WORKLOAD_IS("service account not a label", &o, false, -EINVAL);
	mkpod(&o);
	o.uid[0] = '\0';
	WORKLOAD_IS("no uid", &o, false, -EINVAL);
	mkpod(&o);
	snprintf(o.uid, sizeof(o.uid), "UID-UPPER");
	WORKLOAD_IS("uid not lower-case", &o, false, -EINVAL);
}

TEST(pod_workload_fields)
{
	struct kube_object o;
	struct workload w;
	const char *why = "x";

	/* Without the annotation: identity only, no listener, no apps, whatever the ports. */
	mkpod(&o);
	EXPECT_EQ(kube_pod_workload(&o, false, &w, &why), 1);
	EXPECT(why == NULL);
	EXPECT_STR(w.name, "web-1");
	EXPECT_STR(w.ns, "shop");
	EXPECT_STR(w.sa, "web");
	EXPECT_STR(w.pod_uid, POD_UID);
	EXPECT_STR(w.listen, "");
	EXPECT_EQ(w.n_apps, 0);
	EXPECT_EQ(w.n_upstreams, 0);
	o.u.pod.sa[0] = '\0';
	EXPECT_EQ(kube_pod_workload(&o, false, &w, NULL), 1);
	EXPECT_STR(w.sa, "default");
	o.u.pod.n_ports = 0;
	EXPECT_EQ(kube_pod_workload(&o, false, &w, NULL), 1);
	o.u.pod.ports_over = true;
	EXPECT_EQ(kube_pod_workload(&o, false, &w, NULL), 1);

	/* With it: the listener and POD_IP:PORT per TCP port. */
	mkpod(&o);
	with_listen(&o, "10.244.1.7:15001");
	EXPECT_EQ(kube_pod_workload(&o, false, &w, &why), 1);
	EXPECT_STR(w.listen, "10.244.1.7:15001");
	EXPECT_EQ(w.n_apps, 2);
	EXPECT_STR(w.apps[0], "10.244.1.7:8080");
	EXPECT_STR(w.apps[1], "10.244.1.7:9090");
	EXPECT_STR(w.pod_uid, POD_UID);
	EXPECT_STR(w.sa, "web");
	EXPECT_OK(workload_validate(&w, &why));

	/* Eight ports is the most; IPv6 pod IPs get brackets. */
	mkpod(&o);
	snprintf(o.u.pod.ip, sizeof(o.u.pod.ip), "fd00:10:244::7");
	with_listen(&o, "[fd00:10:244::7]:15001");
	o.u.pod.n_ports = KUBE_PORTS_MAX;
	for (size_t i = 0; i < KUBE_PORTS_MAX; i++)
		o.u.pod.ports[i] = (uint16_t)(8000 + i);
	EXPECT_EQ(kube_pod_workload(&o, true, &w, &why), 1);
	EXPECT_EQ(w.n_apps, KUBE_PORTS_MAX);
	EXPECT_STR(w.apps[0], "[fd00:10:244::7]:8000");
	EXPECT_STR(w.apps[7], "[fd00:10:244::7]:8007");
	EXPECT_STR(w.listen, "[fd00:10:244::7]:15001");

	/* Enrolled but unusable: -EINVAL, and why names the annotation. */
	static const char *const bad_listen[] = { "", "10.244.1.7", "10.244.1.7:0",
		"10.244.1.7:65536", "web:15001", "unix:/run/x.sock", "fd00::7:15001",
		"10.244.1.7:15001 " };
	for (size_t i = 0; i < AD_ARRAY_LEN(bad_listen); i++) {
		mkpod(&o);
		with_listen(&o, bad_listen[i]);
		why = NULL;
		if (kube_pod_workload(&o, false, &w, &why) != -EINVAL || why == NULL ||
		    strstr(why, KUBE_LISTEN_ANNOTATION) == NULL)
			FAIL_AT(__LINE__, "listen \"%s\": why %s", bad_listen[i], why ? why : "(null)");
	}
	mkpod(&o);
	with_listen(&o, "10.244.1.7:15001");
	o.u.pod.n_ports = 0;
	WORKLOAD_IS("listener without ports", &o, false, -EINVAL);
	mkpod(&o);
	with_listen(&o, "10.244.1.7:15001");
	o.u.pod.ports_over = true;
	WORKLOAD_IS("listener with too many ports", &o, false, -EINVAL);
	/* A pod IP that is no address cannot make an app address. */
	mkpod(&o);
	with_listen(&o, "10.244.1.7:15001");
	snprintf(o.u.pod.ip, sizeof(o.u.pod.ip), "not-an-ip");
	WORKLOAD_IS("bad pod IP", &o, false, -EINVAL);
}

TEST(pod_workload_from_event)
{
	struct kube_event ev;
	struct workload w;
	const char *why;
	char *s = ev_text("ADDED", jload(POD_JSON));

	EXPECT_OK(parse_text(s, &pods_d, &ev, NULL, 0));
	free(s);
	EXPECT_EQ(kube_pod_workload(&ev.obj, false, &w, &why), 1);
	EXPECT_STR(w.name, "web-7d4b9c-x2k8p");
	EXPECT_STR(w.ns, "shop");
	EXPECT_STR(w.sa, "web");
	EXPECT_STR(w.pod_uid, POD_UID);
	EXPECT_STR(w.listen, "10.244.1.7:15001");
	EXPECT_EQ(w.n_apps, 3);
	EXPECT_STR(w.apps[0], "10.244.1.7:8080");
	EXPECT_STR(w.apps[1], "10.244.1.7:9090");
	EXPECT_STR(w.apps[2], "10.244.1.7:8443");
	kube_object_free(&ev.obj);
}

/* ---- Requests ----------------------------------------------------------- */

TEST(server_parse)
{
	static const struct {
		const char *url;
		const char *host;
		uint16_t port;
		bool v6;
	} good[] = {
		{ "https://kubernetes.default.svc", "kubernetes.default.svc", 443, false },
		{ "https://kubernetes.default.svc/", "kubernetes.default.svc", 443, false },
		{ "https://10.96.0.1:6443", "10.96.0.1", 6443, false },
		{ "https://10.96.0.1:6443/", "10.96.0.1", 6443, false },
		{ "https://API.Example.com:1", "API.Example.com", 1, false },
		{ "https://a:65535", "a", 65535, false },
		{ "https://[fd00::1]:6443", "fd00::1", 6443, true },
		{ "https://[::1]", "::1", 443, true },
		{ "https://[::1]/", "::1", 443, true },
		{ "https://[::ffff:10.0.0.1]:443", "::ffff:10.0.0.1", 443, true },
	};
	static const char *const bad[] = {
		"http://kubernetes.default.svc", "kubernetes.default.svc", "https:/a", "ftp://a",
		"https://", "https:///", "https://a/api", "https://a//", "https://a/api/v1",
		"https://user@a", "https://user:pw@a:443", "https://a?x=1", "https://a:443?x",
		"https://a:0", "https://a:65536", "https://a:", "https://a:x", "https://a:123456",
		"https://a:-1", "https://a:44 3", "https://a b", "https://a#frag", "https://a_b",
		"https://.a", "https://-a", "https://[::1", "https://[1.2.3.4]", "https://[::1]x",
		"https://[::1]:", "https://[::1]:0", "https://[::1]:65536", "https://::1",
		"https://[fe80::1%eth0]", "https://[]", "https://[a::b::c]", "https://a:1:2",
		"https://\xc3\xa9", "https://a\r\nX: y",
	};
	struct kube_server s;
	const char *why;
	char longhost[300];

	for (size_t i = 0; i < AD_ARRAY_LEN(good); i++) {
		why = NULL;
		EXPECT_OK(kube_server_parse(good[i].url, &s, &why));
		EXPECT_STR(s.host, good[i].host);
		EXPECT_EQ(s.port, good[i].port);
		EXPECT_EQ(s.ipv6, good[i].v6);
	}
	for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
		why = NULL;
		if (kube_server_parse(bad[i], &s, &why) != KUBE_E_INVAL || why == NULL)
			FAIL_AT(__LINE__, "accepted \"%s\"", bad[i]);
	}
	EXPECT_ERR(kube_server_parse("http://a", &s, NULL), KUBE_E_INVAL);

	/* A host of 253 bytes is a host; 254 is not. */
	memcpy(longhost, "https://", 8);
	memset(longhost + 8, 'h', 253);
	longhost[8 + 253] = '\0';
	EXPECT_OK(kube_server_parse(longhost, &s, &why));
	EXPECT_EQ(strlen(s.host), 253);
	longhost[8 + 253] = 'h';
	longhost[8 + 254] = '\0';
	EXPECT_ERR(kube_server_parse(longhost, &s, &why), KUBE_E_INVAL);
}

TEST(server_from_env)
{
	struct kube_server s;
	const char *why;

	EXPECT_OK(kube_server_from_env("10.96.0.1", "443", &s, &why));
	EXPECT_STR(s.host, "10.96.0.1");
	EXPECT_EQ(s.port, 443);
	EXPECT(!s.ipv6);
	/* Kubernetes gives an IPv6 service host bare. */
	EXPECT_OK(kube_server_from_env("fd00:10:96::1", "6443", &s, &why));
	EXPECT_STR(s.host, "fd00:10:96::1");
	EXPECT_EQ(s.port, 6443);
	EXPECT(s.ipv6);

	why = NULL;
	EXPECT_ERR(kube_server_from_env(NULL, "443", &s, &why), KUBE_E_INVAL);
	EXPECT(why != NULL && strstr(why, "KUBERNETES_SERVICE_HOST") != NULL);
	EXPECT_ERR(kube_server_from_env("", "443", &s, &why), KUBE_E_INVAL);
	EXPECT_ERR(kube_server_from_env("10.96.0.1", NULL, &s, &why), KUBE_E_INVAL);
	EXPECT_ERR(kube_server_from_env("10.96.0.1", "", &s, NULL), KUBE_E_INVAL);
	EXPECT_ERR(kube_server_from_env("[fd00::1]", "443", &s, &why), KUBE_E_INVAL);
	EXPECT_ERR(kube_server_from_env("fd00::1::2", "443", &s, &why), KUBE_E_INVAL);
	EXPECT_ERR(kube_server_from_env("a b", "443", &s, &why), KUBE_E_INVAL);
	EXPECT_ERR(kube_server_from_env("10.96.0.1", "0", &s, &why), KUBE_E_INVAL);
	EXPECT_ERR(kube_server_from_env("10.96.0.1", "65536", &s, &why), KUBE_E_INVAL);
	why = NULL;
	EXPECT_ERR(kube_server_from_env("10.96.0.1", "44x", &s, &why), KUBE_E_INVAL);
	EXPECT(why != NULL && strstr(why, "KUBERNETES_SERVICE_PORT") != NULL);
	EXPECT_ERR(kube_server_from_env("10.96.0.1", "tcp://10.96.0.1:443", &s, &why),
	    KUBE_E_INVAL);
}

static int
token(const char *s, size_t n, size_t *start, size_t *len)
{
	return kube_token_check((const uint8_t *)s, n, start, len);
}

TEST(token_check)
{
	static const char jwt[] = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJ4In0.c2ln-_";
	static const char *const bad[] = { "", " ", "\n", " \t\r\n ", "ab cd", "ab\tcd",
		"ab\rcd", "ab\ncd", "ab\x01", "\x7f", "ab\xc3\xa9", "a\r\nHost: x" };
	size_t start, len;
	char *big;

	EXPECT_OK(token(jwt, sizeof(jwt) - 1, &start, &len));
	EXPECT_EQ(start, 0);
	EXPECT_EQ(len, sizeof(jwt) - 1);
	EXPECT_OK(token("  abc.def\n", 10, &start, &len));
	EXPECT_EQ(start, 2);
	EXPECT_EQ(len, 7);
	EXPECT_OK(token("\t\r\nT\r\n\r\n", 8, &start, &len));
	EXPECT_EQ(start, 3);
	EXPECT_EQ(len, 1);
	for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
		start = len = 99;
		if (token(bad[i], strlen(bad[i]), &start, &len) != KUBE_E_INVAL)
			FAIL_AT(__LINE__, "accepted token \"%s\"", bad[i]);
		EXPECT_EQ(len, 0);
	}
	EXPECT_ERR(token("ab\0cd", 5, &start, &len), KUBE_E_INVAL);

	/* KUBE_TOKEN_MAX bytes, with whitespace around: fine; one more: refused. */
	REQUIRE((big = malloc(KUBE_TOKEN_MAX + 4)) != NULL);
	memset(big, 'a', KUBE_TOKEN_MAX + 4);
	big[0] = ' ';
	big[KUBE_TOKEN_MAX + 1] = '\n';
	EXPECT_OK(token(big, KUBE_TOKEN_MAX + 2, &start, &len));
	EXPECT_EQ(start, 1);
	EXPECT_EQ(len, KUBE_TOKEN_MAX);
	big[KUBE_TOKEN_MAX + 1] = 'a';
	big[KUBE_TOKEN_MAX + 2] = '\n';
	EXPECT_ERR(token(big, KUBE_TOKEN_MAX + 3, &start, &len), KUBE_E_INVAL);
	free(big);
}

/* sb's text must be want. */
static void
sb_is_at(int line, struct strbuf *sb, const char *want)
{
	if (sb->failed || sb->p == NULL || strcmp(sb->p, want) != 0)
		FAIL_AT(line, "\"%s\" != \"%s\"", sb->p ? sb->p : "(null)", want);
	strbuf_reset(sb);
}

#define SB_IS(sb, want) sb_is_at(__LINE__, (sb), (want))

TEST(paths)
{
	struct strbuf sb;
	struct kube_query pods = { KUBE_PODS, "node-1" };
	struct kube_query ns = { KUBE_NAMESPACES, NULL };
	struct kube_query al = { KUBE_ALLOWLISTS, NULL };
	char node[400], want[1024];

	strbuf_init(&sb, KUBE_PATH_MAX);
	kube_path_list(&sb, &pods, "");
	SB_IS(&sb, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&limit=250");
	kube_path_list(&sb, &pods, NULL);
	SB_IS(&sb, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&limit=250");
	kube_path_list(&sb, &pods, "eyJ2Ijoi+/=");
	SB_IS(&sb, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&limit=250"
	    "&continue=eyJ2Ijoi%2B%2F%3D");
	kube_path_list(&sb, &ns, "");
	SB_IS(&sb, "/api/v1/namespaces?limit=250");
	kube_path_list(&sb, &al, "a b&c");
	SB_IS(&sb, "/apis/authd.io/v1/allowlists?limit=250&continue=a%20b%26c");

	kube_path_watch(&sb, &pods, "12345", 300);
	SB_IS(&sb, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&watch=1"
	    "&allowWatchBookmarks=true&resourceVersion=12345&timeoutSeconds=300");
	kube_path_watch(&sb, &ns, "1 2&x=y#", 0);
	SB_IS(&sb, "/api/v1/namespaces?watch=1&allowWatchBookmarks=true"
	    "&resourceVersion=1%202%26x%3Dy%23&timeoutSeconds=0");
	kube_path_watch(&sb, &al, "", 60);
	SB_IS(&sb, "/apis/authd.io/v1/allowlists?watch=1&allowWatchBookmarks=true"
	    "&resourceVersion=&timeoutSeconds=60");

	/* Whatever the node name holds stays inside the selector's value. */
	pods.node = "a&b=c,spec.x=y %/\xc3\xa9";
	kube_path_list(&sb, &pods, "");
	SB_IS(&sb, "/api/v1/pods?fieldSelector=spec.nodeName%3Da%26b%3Dc%2Cspec.x%3Dy%20%25%2F"
	    "%C3%A9&limit=250");
	pods.node = "ip-10-0-1-7.eu-west-1.compute.internal";
	kube_path_watch(&sb, &pods, "9", 1);
	SB_IS(&sb, "/api/v1/pods?fieldSelector=spec.nodeName%3Dip-10-0-1-7.eu-west-1.compute."
	    "internal&watch=1&allowWatchBookmarks=true&resourceVersion=9&timeoutSeconds=1");
	/* The longest node name is kept whole. */
	memset(node, 'n', KUBE_NAME_MAX);
	node[KUBE_NAME_MAX] = '\0';
	pods.node = node;
	kube_path_list(&sb, &pods, "");
	snprintf(want, sizeof(want), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&limit=250",
	    node);
	SB_IS(&sb, want);
	/* A longer one too: cut short, it would select another node's pods. */
	memset(node, 'n', 300);
	node[300] = '\0';
	kube_path_list(&sb, &pods, "");
	snprintf(want, sizeof(want), "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&limit=250",
	    node);
	SB_IS(&sb, want);
	strbuf_free(&sb);
}

TEST(request_head)
{
	struct strbuf sb;
	struct kube_server s, s6;
	static const uint8_t tok[] = "eyJhbGci.eyJzdWIi.sig";

	EXPECT_OK(kube_server_parse("https://kubernetes.default.svc", &s, NULL));
	EXPECT_OK(kube_server_parse("https://[fd00::1]:6443", &s6, NULL));
	strbuf_init(&sb, 1 << 16);

	kube_request_head(&sb, "GET", &s, "/api/v1/namespaces?limit=250", tok, sizeof(tok) - 1,
	    NULL, 0);
	SB_IS(&sb, "GET /api/v1/namespaces?limit=250 HTTP/1.1\r\n"
	    "Host: kubernetes.default.svc:443\r\n"
	    "Authorization: Bearer eyJhbGci.eyJzdWIi.sig\r\n"
	    "Accept: application/json\r\n"
	    "User-Agent: authd/" AUTHD_VERSION "\r\n"
	    "Connection: close\r\n"
	    "\r\n");

	kube_request_head(&sb, "GET", &s6, "/x", NULL, 0, NULL, 0);
	SB_IS(&sb, "GET /x HTTP/1.1\r\n"
	    "Host: [fd00::1]:6443\r\n"
	    "Accept: application/json\r\n"
	    "User-Agent: authd/" AUTHD_VERSION "\r\n"
	    "Connection: close\r\n"
	    "\r\n");

	/* body_len without a content type is no body. */
	kube_request_head(&sb, "GET", &s6, "/x", NULL, 0, NULL, 42);
	EXPECT(strstr(sb.p, "Content-") == NULL);
	strbuf_reset(&sb);

	kube_request_head(&sb, "POST", &s, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
	    tok, 3, "application/json", 42);
	SB_IS(&sb, "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews HTTP/1.1\r\n"
	    "Host: kubernetes.default.svc:443\r\n"
	    "Authorization: Bearer eyJ\r\n"
	    "Accept: application/json\r\n"
	    "User-Agent: authd/" AUTHD_VERSION "\r\n"
	    "Connection: close\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 42\r\n"
	    "\r\n");
	kube_request_head(&sb, "PATCH", &s, "/p", NULL, 0, "application/merge-patch+json", 0);
	SB_IS(&sb, "PATCH /p HTTP/1.1\r\n"
	    "Host: kubernetes.default.svc:443\r\n"
	    "Accept: application/json\r\n"
	    "User-Agent: authd/" AUTHD_VERSION "\r\n"
	    "Connection: close\r\n"
	    "Content-Type: application/merge-patch+json\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n");
	strbuf_free(&sb);
}

/* ---- End to end: a watch stream through framing and decoding ------------ */

struct watch_rec {
	size_t added, bookmarks, errors;
	char rv[KUBE_RV_MAX + 1];
	int code;
	char reason[64];
	int status;
	size_t bodies;
};

static int
watch_cb(void *arg, const struct kube_resp *r, const uint8_t *p, size_t n)
{
	struct watch_rec *w = arg;
	struct kube_event ev;
	char err[256];
	int e;

	w->status = r->status;
	if (r->status != 200) {
		struct kube_status st;

		w->bodies++;
		if ((e = kube_status_parse(p, n, &st)) != 0)
			return e;
		w->code = st.code;
		snprintf(w->reason, sizeof(w->reason), "%s", st.reason);
		return 0;
	}
	if ((e = kube_event_parse(p, n, &pods_d, &ev, err, sizeof(err))) != 0)
		return e;
	switch (ev.type) {
	case KUBE_EV_ADDED:
		w->added++;
		break;
	case KUBE_EV_BOOKMARK:
		w->bookmarks++;
		break;
	case KUBE_EV_ERROR:
		w->errors++;
		w->code = ev.status.code;
		snprintf(w->reason, sizeof(w->reason), "%s", ev.status.reason);
		break;
	default:
		break;
	}
	if (ev.obj.rv[0] != '\0')
		snprintf(w->rv, sizeof(w->rv), "%s", ev.obj.rv);
	kube_object_free(&ev.obj);
	return 0;
}

TEST(watch_stream_end_to_end)
{
	struct strbuf sb, ev;
	struct kube_resp r;
	struct watch_rec w = { 0 };
	char *added = ev_text("ADDED", jload(POD_JSON));
	size_t half;

	strbuf_init(&sb, 1 << 20);
	strbuf_init(&ev, 1 << 20);
	strbuf_puts(&sb, "HTTP/1.1 200 OK\r\nAudit-Id: 4f1c\r\nCache-Control: no-cache, private\r\n"
	    "Content-Type: application/json\r\nDate: Wed, 01 May 2024 10:00:00 GMT\r\n"
	    TE "\r\n");
	/* The ADDED event split over two chunks, the others one chunk each. */
	strbuf_printf(&ev, "%s\n", added);
	half = ev.len / 2;
	put_chunk(&sb, ev.p, half, NULL);
	put_chunk(&sb, ev.p + half, ev.len - half, ";x=1");
	strbuf_reset(&ev);
	strbuf_printf(&ev, "%s\n", BOOKMARK_JSON);
	put_chunk(&sb, ev.p, ev.len, NULL);
	strbuf_reset(&ev);
	strbuf_printf(&ev, "%s\r\n", ERROR_JSON);
	put_chunk(&sb, ev.p, ev.len, NULL);
	strbuf_puts(&sb, "0\r\n\r\n");
	REQUIRE(!sb.failed);

	kube_resp_init(&r, KUBE_RESP_LINES, KUBE_EVENT_MAX);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)sb.p, sb.len, watch_cb, &w));
	EXPECT_OK(kube_resp_eof(&r, watch_cb, &w));
	kube_resp_free(&r);
	EXPECT_EQ(w.added, 1);
	EXPECT_EQ(w.bookmarks, 1);
	EXPECT_EQ(w.errors, 1);
	EXPECT_STR(w.rv, "12746");
	EXPECT_EQ(w.code, 410);
	EXPECT_STR(w.reason, "Expired");

	/* Every split of it gives the same callbacks. */
	check_splits_at(__LINE__, "watch stream", KUBE_RESP_LINES, KUBE_EVENT_MAX,
	    (const uint8_t *)sb.p, sb.len, 0, 0, NULL, 1);

	/* A 410 answer to the WATCH itself: a Status, whole. */
	strbuf_reset(&sb);
	memset(&w, 0, sizeof(w));
	strbuf_printf(&sb, "HTTP/1.1 410 Gone\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(STATUS410_JSON), STATUS410_JSON);
	kube_resp_init(&r, KUBE_RESP_LINES, KUBE_EVENT_MAX);
	EXPECT_OK(kube_resp_feed(&r, (const uint8_t *)sb.p, sb.len, watch_cb, &w));
	EXPECT_OK(kube_resp_eof(&r, watch_cb, &w));
	kube_resp_free(&r);
	EXPECT_EQ(w.bodies, 1);
	EXPECT_EQ(w.status, 410);
	EXPECT_EQ(w.code, 410);
	EXPECT_STR(w.reason, "Expired");

	/* A line that is no event: the decoder's error comes back through the framer. */
	strbuf_reset(&sb);
	memset(&w, 0, sizeof(w));
	strbuf_puts(&sb, H200 TE "\r\n");
	put_chunk(&sb, "{\"type\":\"SYNC\",\"object\":{}}\n", 28, NULL);
	kube_resp_init(&r, KUBE_RESP_LINES, KUBE_EVENT_MAX);
	EXPECT_ERR(kube_resp_feed(&r, (const uint8_t *)sb.p, sb.len, watch_cb, &w), KUBE_E_JSON);
	kube_resp_free(&r);

	free(added);
	strbuf_free(&sb);
	strbuf_free(&ev);
}

TEST(strerror_codes)
{
	static const int codes[] = { KUBE_E_SYNTAX, KUBE_E_TOO_BIG, KUBE_E_TRUNCATED,
		KUBE_E_NOMEM, KUBE_E_JSON, KUBE_E_INVAL };

	for (size_t i = 0; i < AD_ARRAY_LEN(codes); i++) {
		EXPECT(kube_strerror(codes[i]) != NULL);
		EXPECT(strcmp(kube_strerror(codes[i]), "unknown error") != 0);
		for (size_t j = 0; j < i; j++)
			EXPECT(strcmp(kube_strerror(codes[i]), kube_strerror(codes[j])) != 0);
	}
	EXPECT_STR(kube_strerror(0), "success");
	EXPECT_STR(kube_strerror(-ENOMEM), strerror(ENOMEM));
	EXPECT(kube_strerror(-99999) != NULL);
	EXPECT(kube_strerror(5) != NULL);
	EXPECT_STR(kube_kind_name(KUBE_PODS), "pods");
	EXPECT_STR(kube_kind_name(KUBE_NAMESPACES), "namespaces");
	EXPECT_STR(kube_kind_name(KUBE_ALLOWLISTS), "allowlists");
}

TEST_MAIN(resp_cases_every_split, resp_head_fields, resp_head_bound, resp_content_length_bound,
    resp_status_body_bound, resp_line_bound, resp_chunk_line_bounds, event_pod_added_every_field,
    event_pod_variants, event_pod_ports_over, event_bookmark_and_error, event_negatives,
    event_error_output, event_namespace, event_allowlist, list_pages, list_negatives,
    list_allowlists, status_parse, pod_workload_enrollment, pod_workload_not_ready,
    pod_workload_names, pod_workload_fields, pod_workload_from_event, server_parse,
    server_from_env, token_check, paths, request_head, watch_stream_end_to_end, strerror_codes)
