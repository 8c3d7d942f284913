/*
 * registry_record.c: the byte layout of workload and SVID status records in
 * the registry (see workload.h). Records come from a file other processes
 * write, so decoding checks every length against its field, refuses
 * embedded NULs and trailing bytes, and re-validates the whole workload: a
 * damaged record is POLICY_E_CORRUPT, never a crash or a workload the CLI
 * would have refused.
 */
#include <errno.h>
#include <string.h>

#include "common/buf.h"
#include "policy/registry.h"
#include "policy/workload.h"
#include "policy/policy.h"

#define RECORD_V1 1
#define RECORD_V2 2	/* with a pod UID */
#define STATUS_V1 1
#define STATUS_V2 2	/* with a refusal */

/* Put a NUL-terminated field of size bytes with an 8- or 16-bit length. */
static bool
put_str(struct buf *b, const char *s, size_t size, bool wide)
{
	size_t n = strnlen(s, size);

	if (n == size || n > (wide ? 0xffffu : 0xffu))
		return false;
	if (wide)
		buf_put_u16(b, (uint16_t)n);
	else
		buf_put_u8(b, (uint8_t)n);
	buf_put_bytes(b, s, n);
	return true;
}

/* Read a field written by put_str into out (size bytes, NUL added). */
static bool
get_str(struct buf *b, char *out, size_t size, bool wide)
{
	size_t n = wide ? buf_get_u16(b) : buf_get_u8(b);
	const uint8_t *p;

	if (!buf_ok(b) || n >= size)
		return false;
	p = buf_get_bytes(b, n);
	if (p == NULL || memchr(p, '\0', n) != NULL)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

int
registry_record_encode(const struct workload *w, uint8_t *out, size_t cap, size_t *len)
{
	struct buf b;
	bool ok;

	*len = 0;
	if (w->n_apps > WORKLOAD_APPS_MAX || w->n_upstreams > WORKLOAD_UPSTREAMS_MAX)
		return -EINVAL;
	buf_writer(&b, out, cap);
	buf_put_u8(&b, w->pod_uid[0] != '\0' ? RECORD_V2 : RECORD_V1);
	ok = put_str(&b, w->name, sizeof(w->name), false) && put_str(&b, w->ns, sizeof(w->ns), false) &&
	    put_str(&b, w->sa, sizeof(w->sa), false) &&
	    put_str(&b, w->listen, sizeof(w->listen), false);
	buf_put_u8(&b, (uint8_t)w->n_apps);
	for (size_t i = 0; ok && i < w->n_apps; i++)
		ok = put_str(&b, w->apps[i], sizeof(w->apps[i]), false);
	buf_put_u8(&b, (uint8_t)w->n_upstreams);
	for (size_t i = 0; ok && i < w->n_upstreams; i++) {
		const struct workload_upstream *u = &w->upstreams[i];

		ok = put_str(&b, u->listen, sizeof(u->listen), false) &&
		    put_str(&b, u->peer, sizeof(u->peer), false) &&
		    put_str(&b, u->target_host, sizeof(u->target_host), false);
		buf_put_u16(&b, u->target_port);
		ok = ok && put_str(&b, u->expect_id, sizeof(u->expect_id), true);
	}
	if (ok && w->pod_uid[0] != '\0')
		ok = put_str(&b, w->pod_uid, sizeof(w->pod_uid), false);
	if (!ok)
		return -EINVAL;
	if (!buf_ok(&b))
		return -ENOSPC;
	*len = b.off;
	return 0;
}

static bool
decode(struct buf *b, struct workload *w)
{
	uint8_t version = buf_get_u8(b);

	if ((version != RECORD_V1 && version != RECORD_V2) ||
	    !get_str(b, w->name, sizeof(w->name), false) ||
	    !get_str(b, w->ns, sizeof(w->ns), false) || !get_str(b, w->sa, sizeof(w->sa), false) ||
	    !get_str(b, w->listen, sizeof(w->listen), false))
		return false;
	w->n_apps = buf_get_u8(b);
	if (!buf_ok(b) || w->n_apps > WORKLOAD_APPS_MAX)
		return false;
	for (size_t i = 0; i < w->n_apps; i++)
		if (!get_str(b, w->apps[i], sizeof(w->apps[i]), false))
			return false;
	w->n_upstreams = buf_get_u8(b);
	if (!buf_ok(b) || w->n_upstreams > WORKLOAD_UPSTREAMS_MAX)
		return false;
	for (size_t i = 0; i < w->n_upstreams; i++) {
		struct workload_upstream *u = &w->upstreams[i];

		if (!get_str(b, u->listen, sizeof(u->listen), false) ||
		    !get_str(b, u->peer, sizeof(u->peer), false) ||
		    !get_str(b, u->target_host, sizeof(u->target_host), false))
			return false;
		u->target_port = buf_get_u16(b);
		if (!get_str(b, u->expect_id, sizeof(u->expect_id), true))
			return false;
	}
	/* Version 2 always has a UID: an empty one would not re-encode the same. */
	if (version == RECORD_V2 && (!get_str(b, w->pod_uid, sizeof(w->pod_uid), false) ||
	    w->pod_uid[0] == '\0'))
		return false;
	return buf_ok(b) && buf_left(b) == 0;
}

int
registry_record_decode(const uint8_t *p, size_t len, struct workload *w)
{
	struct buf b;

	memset(w, 0, sizeof(*w));
	buf_reader(&b, p, len);
	if (!decode(&b, w) || workload_validate(w, NULL) != 0) {
		memset(w, 0, sizeof(*w));
		return POLICY_E_CORRUPT;
	}
	return 0;
}

int
registry_status_check(const struct workload_svid_status *st)
{
	struct spiffe_id id;
	size_t idn = strnlen(st->spiffe_id, sizeof(st->spiffe_id));
	size_t sn = strnlen(st->serial, sizeof(st->serial));
	size_t rn = strnlen(st->refused, sizeof(st->refused));

	if (idn == sizeof(st->spiffe_id) || sn == sizeof(st->serial) || rn == sizeof(st->refused) ||
	    st->not_after < 0 || st->updated < 0)
		return -EINVAL;
	/* Shown on terminals: printable ASCII only. A refused workload has no SVID. */
	for (size_t i = 0; i < rn; i++)
		if (st->refused[i] < 0x20 || st->refused[i] > 0x7e)
			return -EINVAL;
	if (rn > 0 && (st->not_after != 0 || sn != 0))
		return -EINVAL;
	if (idn > 0 && spiffe_id_parse_workload(st->spiffe_id, idn, &id, NULL) != 0)
		return -EINVAL;
	for (size_t i = 0; i < sn; i++)
		if (!((st->serial[i] >= '0' && st->serial[i] <= '9') ||
		    (st->serial[i] >= 'a' && st->serial[i] <= 'f')))
			return -EINVAL;
	/* Issued: who and which certificate. Not issued: no certificate to name. */
	if (st->not_after > 0 ? idn == 0 || sn == 0 : sn != 0)
		return -EINVAL;
	return 0;
}

int
registry_status_encode(const struct workload_svid_status *st, uint8_t *out, size_t cap,
    size_t *len)
{
	struct buf b;

	*len = 0;
	if (registry_status_check(st) != 0)
		return -EINVAL;
	buf_writer(&b, out, cap);
	buf_put_u8(&b, st->refused[0] != '\0' ? STATUS_V2 : STATUS_V1);
	if (!put_str(&b, st->spiffe_id, sizeof(st->spiffe_id), true) ||
	    !put_str(&b, st->serial, sizeof(st->serial), false))
		return -EINVAL;
	buf_put_u64(&b, (uint64_t)st->not_after);
	buf_put_u64(&b, (uint64_t)st->updated);
	if (st->refused[0] != '\0' && !put_str(&b, st->refused, sizeof(st->refused), false))
		return -EINVAL;
	if (!buf_ok(&b))
		return -ENOSPC;
	*len = b.off;
	return 0;
}

int
registry_status_decode(const uint8_t *p, size_t len, struct workload_svid_status *st)
{
	struct buf b;

	uint8_t version;

	memset(st, 0, sizeof(*st));
	buf_reader(&b, p, len);
	version = buf_get_u8(&b);
	if ((version != STATUS_V1 && version != STATUS_V2) ||
	    !get_str(&b, st->spiffe_id, sizeof(st->spiffe_id), true) ||
	    !get_str(&b, st->serial, sizeof(st->serial), false))
		goto bad;
	st->not_after = (int64_t)buf_get_u64(&b);
	st->updated = (int64_t)buf_get_u64(&b);
	/* Version 2 always has a refusal: an empty one would not re-encode the same. */
	if (version == STATUS_V2 && (!get_str(&b, st->refused, sizeof(st->refused), false) ||
	    st->refused[0] == '\0'))
		goto bad;
	if (!buf_ok(&b) || buf_left(&b) != 0 || registry_status_check(st) != 0)
		goto bad;
	return 0;
bad:
	memset(st, 0, sizeof(*st));
	return POLICY_E_CORRUPT;
}
