/*
 * The access log: one JSON object per connection, on one line, written when
 * the connection ends (docs/daemon.md lists the fields). Lines are built in
 * memory and written with one write(2), so a reader never sees half a line.
 */
#ifndef AUTHD_AUTHD_ACCESSLOG_H
#define AUTHD_AUTHD_ACCESSLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

struct strbuf;

struct accesslog_entry {
	int64_t time_ms;		/* connection start, ms since the epoch */
	const char *direction;		/* "inbound" | "outbound" */
	const char *workload;		/* "NS/NAME" */
	const char *peer;		/* remote address text */
	const char *src;		/* SPIFFE IDs; NULL when unknown (JSON null) */
	const char *dst;
	uint16_t port;			/* 0 when unknown */
	const char *decision;		/* "allow" | "deny" | "audit" | "error" */
	uint64_t rule;			/* 0 = none (JSON null) */
	const char *reason;		/* why the decision (a rule, a deny reason, an error) */
	const char *end;		/* how the connection ended: "done", "idle-timeout", ... */
	uint64_t bytes_in;		/* from the peer (inbound) or the app (outbound) */
	uint64_t bytes_out;
	uint64_t duration_ms;
	const char *trace_id;		/* 32 hex digits, or NULL */
	bool resumed;			/* TLS session resumption */
};

/* Render e as one JSON line, newline included, appended to out. */
void accesslog_format(const struct accesslog_entry *e, struct strbuf *out);

/*
 * Where lines go: "stdout", "off", or a file opened for appending (0640).
 * Returns 0 or -errno.
 */
int accesslog_open(const char *where) AD_MUST_CHECK;
/*
 * Write one line. A failed write (a full disk) loses that line, is counted,
 * and is remembered until a write succeeds: the loop never blocks on it.
 */
void accesslog_write(const struct accesslog_entry *e);
/* Lines lost to failed writes since start. */
uint64_t accesslog_errors(void);
/* errno of the last write when it failed, 0 when it worked. */
int accesslog_error(void);
void accesslog_close(void);
#endif
