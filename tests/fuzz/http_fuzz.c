/* Target Functions: http_parse_request, http_response */
/*
 * Feeds arbitrary bytes to the admin server's request parser and aborts
 * when a result breaks a property the server relies on: a head never
 * claims more bytes than it was given or than HTTP_HEAD_MAX; its path is
 * NUL-terminated, starts with '/' and fits HTTP_PATH_MAX; its prefix of
 * head_len bytes parses the same; bytes after it change nothing; once a
 * prefix fails, the whole input fails the same way. The same bytes used as
 * a content type and body must give a response with one head whose
 * Content-Length is the body's, or a refusal when the type holds a control
 * byte. libFuzzer hands us an exact-size heap buffer, so ASan flags any
 * read past size. Nothing here is random or kept between runs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/http.h"
#include "common/strbuf.h"
#include "tests/fuzz/fuzz.h"

/* Appended after the input: a second head and stray bytes. */
static const uint8_t tail[] = "\r\n\r\nGET / HTTP/1.0\r\n\r\n\x16\x03\x01";

static bool
is_parse_err(int err)
{
	return err == 0 || (err <= HTTP_E_AGAIN && err >= HTTP_E_HOST);
}

static bool
same_req(const struct http_request *a, const struct http_request *b)
{
	return a->head == b->head && a->minor == b->minor && a->path_len == b->path_len &&
	    strcmp(a->path, b->path) == 0 && a->has_query == b->has_query &&
	    a->head_len == b->head_len;
}

static bool
is_zero(const struct http_request *r)
{
	static const struct http_request zero;

	return memcmp(r, &zero, sizeof(zero)) == 0;
}

static void
check_request(const uint8_t *data, size_t size, uint8_t *ext)
{
	struct http_request req, again;
	int err, half;

	err = http_parse_request(data, size, &req);
	CHECK(is_parse_err(err));
	CHECK(http_error_status(err) >= 400 || err == 0);
	if (err == 0) {
		CHECK(req.head_len <= size && req.head_len <= HTTP_HEAD_MAX);
		CHECK(req.head_len >= 18);	/* "GET / HTTP/1.0\r\n\r\n" */
		CHECK(memcmp(data + req.head_len - 4, "\r\n\r\n", 4) == 0);
		CHECK(req.minor == 0 || req.minor == 1);
		CHECK(req.path_len >= 1 && req.path_len <= HTTP_PATH_MAX);
		CHECK(req.path[0] == '/' && strlen(req.path) == req.path_len);
		CHECK(memchr(req.path, '?', req.path_len) == NULL);
		CHECK(memcmp(data, req.head ? "HEAD " : "GET ", req.head ? 5 : 4) == 0);

		/* The head alone is the same head. */
		CHECK(http_parse_request(data, req.head_len, &again) == 0);
		CHECK(same_req(&req, &again));
	} else {
		CHECK(is_zero(&req));
		if (err == HTTP_E_AGAIN)
			CHECK(size < HTTP_HEAD_MAX);
	}

	/* More bytes never change a verdict that is already in. */
	if (size > 0)
		memcpy(ext, data, size);
	memcpy(ext + size, tail, sizeof(tail) - 1);
	if (err != HTTP_E_AGAIN) {
		CHECK(http_parse_request(ext, size + sizeof(tail) - 1, &again) == err);
		if (err == 0)
			CHECK(same_req(&req, &again));
	}
	half = http_parse_request(data, size / 2, &again);
	CHECK(is_parse_err(half));
	if (half != HTTP_E_AGAIN) {
		CHECK(half == err);
		if (half == 0)
			CHECK(same_req(&req, &again));
	}
}

/* data[0] picks the status; the rest splits at the first NUL into type and body. */
static void
check_response(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 200, 400, 404, 405, 408, 431, 500, 503, 505 };
	const uint8_t *nul;
	char ctype[256];
	const char *body, *end;
	struct strbuf sb;
	size_t cn, bn;
	bool bad = false;
	int status, err;

	if (size == 0)
		return;
	status = statuses[data[0] % AD_ARRAY_LEN(statuses)];
	nul = memchr(data + 1, '\0', size - 1);
	cn = nul != NULL ? (size_t)(nul - data) - 1 : size - 1;
	if (cn >= sizeof(ctype))
		cn = sizeof(ctype) - 1;
	memcpy(ctype, data + 1, cn);
	ctype[cn] = '\0';
	for (size_t i = 0; i < cn; i++)
		bad = bad || (uint8_t)ctype[i] < 0x20 || ctype[i] == 0x7f;
	body = nul != NULL ? (const char *)nul + 1 : "";
	bn = nul != NULL ? size - (size_t)(nul - data) - 1 : 0;

	strbuf_init(&sb, 1 << 20);
	err = http_response(&sb, status, ctype, body, bn, (data[0] & 0x80) != 0);
	if (bad) {
		CHECK(err == -EINVAL && sb.len == 0);
	} else {
		CHECK(err == 0 && sb.p != NULL);
		end = strstr(sb.p, "\r\n\r\n");
		CHECK(end != NULL);
		/* The head ends once, right before the body. */
		CHECK(sb.len - (size_t)(end + 4 - sb.p) == ((data[0] & 0x80) ? 0 : bn));
		CHECK(strtoul(strstr(sb.p, "\r\nContent-Length: ") + 18, NULL, 10) == bn);
		CHECK((size_t)(end - sb.p) < 512 + cn);
	}
	strbuf_free(&sb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *ext = malloc(size + sizeof(tail));

	if (ext == NULL)
		return 0;
	check_request(data, size, ext);
	check_response(data, size);
	free(ext);
	return 0;
}
