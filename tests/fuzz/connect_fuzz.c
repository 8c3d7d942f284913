/* Target Functions: connect_parse, connect_status, connect_request, authority_parse, authority_format */
/*
 * Feeds arbitrary bytes to the CONNECT request and response parsers and
 * aborts when a result breaks a property the daemon relies on: a head never
 * claims more bytes than it was given or than CONNECT_HEAD_MAX; its prefix
 * of head_len bytes parses the same; bytes after it (the tunnel) change
 * nothing; once a prefix fails, the whole input fails the same way; and
 * what connect_request/connect_response write parses back to what went in.
 * libFuzzer hands us an exact-size heap buffer, so ASan flags any read past
 * size. Nothing here is random or kept between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/connect.h"
#include "tests/fuzz/fuzz.h"

/* Appended after the input: a second head and a TLS record's start. */
static const uint8_t tail[] = "\r\n\r\nCONNECT b:2 HTTP/1.1\r\n\r\n\x16\x03\x01";

static bool
is_parse_err(int err)
{
	return err == 0 || (err <= CONNECT_E_AGAIN && err >= CONNECT_E_BODY);
}

static bool
same_req(const struct connect_req *a, const struct connect_req *b)
{
	return strcmp(a->host, b->host) == 0 && a->port == b->port &&
	    a->has_traceparent == b->has_traceparent &&
	    strcmp(a->traceparent, b->traceparent) == 0 && a->head_len == b->head_len;
}

static bool
is_clean(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);

	if (end == NULL)
		return false;
	for (const char *q = s; q < end; q++)
		if (*q < 0x20 || *q > 0x7e)
			return false;
	return end == s || (s[0] != ' ' && end[-1] != ' ');
}

static void
check_request(const uint8_t *data, size_t size, uint8_t *ext)
{
	struct connect_req req, again;
	char out[512];
	size_t len;
	int err, half;

	err = connect_parse(data, size, &req);
	CHECK(is_parse_err(err));
	if (err == 0) {
		CHECK(req.head_len <= size && req.head_len <= CONNECT_HEAD_MAX);
		CHECK(req.head_len >= 4);
		CHECK(req.port >= 1);
		CHECK(memchr(req.host, '\0', sizeof(req.host)) != NULL && req.host[0] != '\0');
		CHECK(memchr(req.traceparent, '\0', sizeof(req.traceparent)) != NULL);
		CHECK(strlen(req.traceparent) ==
		    (req.has_traceparent ? CONNECT_TRACEPARENT_LEN : 0));
		CHECK(memcmp(data + req.head_len - 4, "\r\n\r\n", 4) == 0);

		/* The head alone is the same head. */
		CHECK(connect_parse(data, req.head_len, &again) == 0);
		CHECK(same_req(&req, &again));

		/* What the client side would send for it parses back to it. */
		CHECK(connect_request(out, sizeof(out), req.host, req.port,
		    req.has_traceparent ? req.traceparent : NULL, &len) == 0);
		CHECK(connect_parse((const uint8_t *)out, len, &again) == 0);
		CHECK(again.head_len == len);
		CHECK(strcmp(again.host, req.host) == 0 && again.port == req.port);
		CHECK(again.has_traceparent == req.has_traceparent);
		CHECK(strcmp(again.traceparent, req.traceparent) == 0);
	} else {
		CHECK(req.head_len == 0 && req.host[0] == '\0' && !req.has_traceparent);
		if (err == CONNECT_E_AGAIN)
			CHECK(size < CONNECT_HEAD_MAX);
	}

	/* More bytes never change a verdict that is already in. */
	if (size > 0)
		memcpy(ext, data, size);
	memcpy(ext + size, tail, sizeof(tail) - 1);
	if (err != CONNECT_E_AGAIN) {
		CHECK(connect_parse(ext, size + sizeof(tail) - 1, &again) == err);
		if (err == 0)
			CHECK(same_req(&req, &again));
	}
	half = connect_parse(data, size / 2, &again);
	CHECK(is_parse_err(half));
	if (half != CONNECT_E_AGAIN) {
		CHECK(half == err);
		if (half == 0)
			CHECK(same_req(&req, &again));
	}
}

static void
check_status(const uint8_t *data, size_t size, uint8_t *ext)
{
	char reason[64], reason2[64];
	size_t hl, hl2;
	int err, err2, status, status2;

	err = connect_status(data, size, &status, &hl, reason, sizeof(reason));
	CHECK(is_parse_err(err));
	CHECK(is_clean(reason, sizeof(reason)));
	if (err == 0) {
		CHECK(status >= 100 && status <= 599);
		CHECK(hl >= 4 && hl <= size && hl <= CONNECT_HEAD_MAX);
		CHECK(connect_status(data, hl, &status2, &hl2, reason2, sizeof(reason2)) == 0);
		CHECK(status2 == status && hl2 == hl && strcmp(reason, reason2) == 0);
	} else {
		CHECK(status == 0 && hl == 0 && reason[0] == '\0');
		if (err == CONNECT_E_AGAIN)
			CHECK(size < CONNECT_HEAD_MAX);
	}

	if (size > 0)
		memcpy(ext, data, size);
	memcpy(ext + size, tail, sizeof(tail) - 1);
	if (err != CONNECT_E_AGAIN) {
		err2 = connect_status(ext, size + sizeof(tail) - 1, &status2, &hl2, reason2,
		    sizeof(reason2));
		CHECK(err2 == err);
		if (err == 0)
			CHECK(status2 == status && hl2 == hl && strcmp(reason, reason2) == 0);
	}
	err2 = connect_status(data, size / 2, &status2, &hl2, NULL, 0);
	CHECK(is_parse_err(err2));
	if (err2 != CONNECT_E_AGAIN)
		CHECK(err2 == err && status2 == status && hl2 == hl);
}

/* The server's answer with these bytes as its reason parses back cleanly. */
static void
check_response(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 200, 400, 403, 408, 503 };
	char text[700], out[1024], reason[CONNECT_REASON_MAX + 1];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1, len, hl;
	int want, status;

	if (size == 0)
		return;
	want = statuses[data[0] % AD_ARRAY_LEN(statuses)];
	memcpy(text, data + 1, n - 1);
	text[n - 1] = '\0';
	CHECK(connect_response(out, sizeof(out), want, text, &len) == 0);
	CHECK(strlen(out) == len);
	CHECK(connect_status((const uint8_t *)out, len, &status, &hl, reason,
	    sizeof(reason)) == 0);
	CHECK(status == want && hl == len);
	CHECK(is_clean(reason, sizeof(reason)));
	if (want == 200)
		CHECK(reason[0] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *ext = malloc(size + sizeof(tail));

	if (ext == NULL)
		return 0;
	check_request(data, size, ext);
	check_status(data, size, ext);
	check_response(data, size);
	free(ext);
	return 0;
}
