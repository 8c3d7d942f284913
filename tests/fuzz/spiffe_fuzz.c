/* Target Functions: spiffe_id_parse, spiffe_id_parse_workload, spiffe_td_parse */
/*
 * Feeds arbitrary bytes to the SPIFFE ID parsers and aborts when a result
 * breaks a property the rest of authd relies on: a canonical ID re-parses
 * to itself, stays within the standard's bounds, has a lower-case trust
 * domain, and a workload ID is always also a valid ID. libFuzzer hands us
 * an exact-size heap buffer, so ASan flags any read past size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "certs/error.h"
#include "certs/spiffe.h"
#include "tests/fuzz/fuzz.h"

static bool
is_id_err(int err)
{
	return err <= CERTS_E_ID_EMPTY && err >= CERTS_E_ID_NO_PATH;
}

static bool
has_upper(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

/* The invariants of a successfully parsed ID, whatever the input was. */
static void
check_id(const struct spiffe_id *id, size_t in_len)
{
	struct spiffe_id again;
	char bare[SPIFFE_TD_MAX + 1];
	const char *td, *path;
	size_t td_len = 0;

	CHECK(id->len <= SPIFFE_ID_MAX);
	/* Folding case never changes the length. */
	CHECK(id->len == in_len);
	CHECK(strlen(id->str) == id->len);
	CHECK(id->td_len >= 1 && id->td_len <= SPIFFE_TD_MAX);
	CHECK(memcmp(id->str, "spiffe://", 9) == 0);
	td = spiffe_id_td(id, &td_len);
	CHECK(td == id->str + 9 && td_len == id->td_len);
	CHECK(!has_upper(td, td_len));
	path = spiffe_id_path(id);
	CHECK(path == id->str + 9 + id->td_len);
	CHECK(path[0] == '\0' || path[0] == '/');
	CHECK(spiffe_id_in_td(id, td, td_len));
	/* An ID's trust domain is a valid bare trust domain, already folded. */
	CHECK(spiffe_td_parse(td, td_len, bare, NULL) == 0);
	CHECK(strlen(bare) == td_len && memcmp(bare, td, td_len) == 0);

	/* Idempotence: the canonical form is its own canonical form. */
	CHECK(spiffe_id_parse(id->str, id->len, &again, NULL) == 0);
	CHECK(again.len == id->len && again.td_len == id->td_len);
	CHECK(memcmp(again.str, id->str, id->len + 1) == 0);
	CHECK(spiffe_id_equal(id, &again));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct spiffe_id id, wl;
	char td[SPIFFE_TD_MAX + 1], td2[SPIFFE_TD_MAX + 1];
	char buf[9 + SPIFFE_TD_MAX];
	size_t where = 0, wwhere = 0, twhere = 0;
	int err, werr, terr;

	err = spiffe_id_parse(s, size, &id, &where);
	if (err == 0) {
		check_id(&id, size);
	} else {
		CHECK(is_id_err(err) && err != CERTS_E_ID_NO_PATH);
		CHECK(where <= size);
		CHECK(id.len == 0 && id.td_len == 0 && id.str[0] == '\0');
	}

	werr = spiffe_id_parse_workload(s, size, &wl, &wwhere);
	if (werr == 0) {
		/* A workload ID is an ID, the same one, with a path. */
		CHECK(err == 0);
		check_id(&wl, size);
		CHECK(spiffe_id_equal(&id, &wl));
		CHECK(spiffe_id_path(&wl)[0] == '/');
	} else if (err == 0) {
		CHECK(werr == CERTS_E_ID_NO_PATH);
		CHECK(spiffe_id_path(&id)[0] == '\0');
		CHECK(wwhere == size);
	} else {
		/* Both fail on the same byte for the same reason. */
		CHECK(werr == err && wwhere == where);
	}

	terr = spiffe_td_parse(s, size, td, &twhere);
	if (terr == 0) {
		size_t n = strlen(td);

		CHECK(n == size && n >= 1 && n <= SPIFFE_TD_MAX);
		CHECK(!has_upper(td, n));
		CHECK(spiffe_td_parse(td, n, td2, NULL) == 0);
		CHECK(strcmp(td, td2) == 0);
		CHECK(spiffe_td_parse(s, size, NULL, NULL) == 0);
		/* A bare trust domain makes the ID of that trust domain. */
		memcpy(buf, "spiffe://", 9);
		memcpy(buf + 9, s, n);
		CHECK(spiffe_id_parse(buf, 9 + n, &id, NULL) == 0);
		CHECK(spiffe_id_in_td(&id, td, n));
	} else {
		CHECK(is_id_err(terr) && terr != CERTS_E_ID_NO_PATH);
		CHECK(twhere <= size);
		CHECK(td[0] == '\0');
	}
	return 0;
}
