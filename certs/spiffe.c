/*
 * spiffe.c: parse and validate SPIFFE IDs (SPIFFE-ID standard, section 2).
 *
 * One left-to-right pass over (ptr, len) that copies the canonical form as
 * it goes and stops at the first offending byte, so *where always names the
 * earliest error. Folding case never changes the length, so the canonical
 * form is exactly as long as the input.
 */
#include "certs/spiffe.h"

#include <string.h>

#include "certs/error.h"

#define SCHEME		"spiffe://"
#define SCHEME_LEN	(sizeof(SCHEME) - 1)
#define SCHEME_NAME_LEN	6	/* "spiffe", the part that has a case */

/* Trust domain bytes after folding: [a-z0-9.-_]. */
static bool
is_td_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '-' || c == '_';
}

/* Why a byte outside the allowed set is bad, most specific reason first. */
static int
bad_char(char c, int fallback)
{
	switch (c) {
	case '?':
		return CERTS_E_ID_QUERY;
	case '#':
		return CERTS_E_ID_FRAGMENT;
	case '%':
		return CERTS_E_ID_PERCENT;
	default:
		return fallback;
	}
}

/*
 * Scan a trust domain at s[0 .. len), stopping at the first '/' (the start
 * of the path). Writes the lower-case form to out and its length to *n.
 * Offsets in *where are relative to s.
 */
static int
td_scan(const char *s, size_t len, char *out, size_t *n, size_t *where)
{
	size_t i;

	for (i = 0; i < len && s[i] != '/'; i++) {
		char c = s[i];

		/* The trust domain compares case-insensitively (section 2.1). */
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!is_td_char(c)) {
			*where = i;
			if (c == ':')
				return CERTS_E_ID_PORT;
			if (c == '@')
				return CERTS_E_ID_USERINFO;
			return bad_char(c, CERTS_E_ID_TD_CHAR);
		}
		if (i == SPIFFE_TD_MAX) {
			*where = i;
			return CERTS_E_ID_TD_TOO_LONG;
		}
		out[i] = c;
	}
	*n = i;
	if (i == 0) {
		*where = 0;
		return CERTS_E_ID_TD_EMPTY;
	}
	return 0;
}

/*
 * Scan a path at s[0 .. len): empty, or '/'-separated non-empty segments
 * that are not "." or "..". The path is case-sensitive, so it is copied
 * as is.
 */
static int
path_scan(const char *s, size_t len, char *out, size_t *where)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i + 1, j;

		/* s[i] is '/': td_scan stops only there, and so does this loop. */
		out[i] = '/';
		for (j = start; j < len && s[j] != '/'; j++) {
			char c = s[j];

			if (!is_td_char(c) && !(c >= 'A' && c <= 'Z')) {
				*where = j;
				return bad_char(c, CERTS_E_ID_PATH_CHAR);
			}
			out[j] = c;
		}
		if (j == start) {
			/* "spiffe://td/" is a trailing slash, "/a//b" an empty segment. */
			*where = j == len ? i : j;
			return j == len ? CERTS_E_ID_TRAILING_SLASH :
			    CERTS_E_ID_SEG_EMPTY;
		}
		if (s[start] == '.' && (j - start == 1 ||
		    (j - start == 2 && s[start + 1] == '.'))) {
			*where = start;
			return CERTS_E_ID_SEG_DOT;
		}
		i = j;
	}
	return 0;
}

/* The header only: zeroing all 2 KiB would cost the hot path. */
static void
id_clear(struct spiffe_id *id)
{
	id->str[0] = '\0';
	id->len = 0;
	id->td_len = 0;
}

static int
id_parse(const char *s, size_t len, struct spiffe_id *id, size_t *where, bool workload)
{
	size_t i, td_len = 0, at = 0;
	int err;

	if (id == NULL)
		return CERTS_E_INVAL;
	if (s == NULL && len > 0) {
		err = CERTS_E_INVAL;
		goto out;
	}
	if (len == 0) {
		err = CERTS_E_ID_EMPTY;
		goto out;
	}
	/* Checked first: it bounds every write into id->str below. */
	if (len > SPIFFE_ID_MAX) {
		at = SPIFFE_ID_MAX;
		err = CERTS_E_ID_TOO_LONG;
		goto out;
	}
	/* The scheme compares case-insensitively (RFC 3986, section 3.1). */
	for (i = 0; i < SCHEME_LEN; i++) {
		char c = i < len ? s[i] : '\0';

		if (i < SCHEME_NAME_LEN && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (i >= len || c != SCHEME[i]) {
			at = i;
			err = CERTS_E_ID_SCHEME;
			goto out;
		}
	}
	memcpy(id->str, SCHEME, SCHEME_LEN);
	err = td_scan(s + SCHEME_LEN, len - SCHEME_LEN, id->str + SCHEME_LEN,
	    &td_len, &at);
	if (err != 0) {
		at += SCHEME_LEN;
		goto out;
	}
	i = SCHEME_LEN + td_len;
	err = path_scan(s + i, len - i, id->str + i, &at);
	if (err != 0) {
		at += i;
		goto out;
	}
	if (workload && i == len) {
		at = len;
		err = CERTS_E_ID_NO_PATH;
		goto out;
	}
	id->str[len] = '\0';
	id->len = len;
	id->td_len = td_len;
out:
	if (err != 0) {
		id_clear(id);
		if (where != NULL)
			*where = at;
	}
	return err;
}

int
spiffe_id_parse(const char *s, size_t len, struct spiffe_id *id, size_t *where)
{
	return id_parse(s, len, id, where, false);
}

int
spiffe_id_parse_workload(const char *s, size_t len, struct spiffe_id *id, size_t *where)
{
	return id_parse(s, len, id, where, true);
}

int
spiffe_td_parse(const char *s, size_t len, char *out, size_t *where)
{
	char tmp[SPIFFE_TD_MAX + 1];
	size_t n = 0, at = 0;
	int err;

	if (s == NULL && len > 0)
		return CERTS_E_INVAL;
	err = td_scan(s, len, out != NULL ? out : tmp, &n, &at);
	/*
	 * td_scan stops at '/', which ends the authority inside an ID but is
	 * just a bad character here, even as the first byte.
	 */
	if ((err == 0 || err == CERTS_E_ID_TD_EMPTY) && n < len) {
		at = n;
		err = CERTS_E_ID_TD_CHAR;
	}
	if (err != 0) {
		if (where != NULL)
			*where = at;
		n = 0;
	}
	if (out != NULL)
		out[n] = '\0';
	return err;
}

int
spiffe_id_from_k8s(const char *td, const char *ns, const char *sa, struct spiffe_id *id)
{
	char buf[SPIFFE_ID_MAX + 1];
	size_t n;
	int err = 0;

	if (td == NULL || ns == NULL || sa == NULL || id == NULL)
		return CERTS_E_INVAL;
	/*
	 * A '/' would still parse, as extra path segments, and so name some
	 * other workload: "ns/a/b/sa/web" is not namespace "a/b".
	 */
	if (strchr(td, '/') != NULL)
		err = CERTS_E_ID_TD_CHAR;
	else if (strchr(ns, '/') != NULL || strchr(sa, '/') != NULL)
		err = CERTS_E_ID_PATH_CHAR;
	if (err != 0) {
		id_clear(id);
		return err;
	}
	/* Whatever does not fit is over SPIFFE_ID_MAX, which the parse rejects. */
	if (util_snprintf(buf, sizeof(buf), SCHEME "%s/ns/%s/sa/%s", td, ns, sa) != 0)
		n = sizeof(buf);
	else
		n = strlen(buf);
	return spiffe_id_parse_workload(buf, n, id, NULL);
}

const char *
spiffe_id_td(const struct spiffe_id *id, size_t *len)
{
	if (len != NULL)
		*len = id->td_len;
	return id->str + SCHEME_LEN;
}

const char *
spiffe_id_path(const struct spiffe_id *id)
{
	/* A failed parse leaves str past its first byte undefined. */
	if (id->len == 0)
		return "";
	return id->str + SCHEME_LEN + id->td_len;
}

bool
spiffe_id_equal(const struct spiffe_id *a, const struct spiffe_id *b)
{
	/* A failed parse is not an ID, so two of them are not the same one. */
	return a->len != 0 && a->len == b->len &&
	    memcmp(a->str, b->str, a->len) == 0;
}

bool
spiffe_id_in_td(const struct spiffe_id *id, const char *td, size_t td_len)
{
	return id->td_len != 0 && id->td_len == td_len &&
	    memcmp(id->str + SCHEME_LEN, td, td_len) == 0;
}
