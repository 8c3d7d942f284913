/*
 * JSON access-log lines. The fd is process state (like stderr) because the
 * daemon has exactly one access log. Every event loop writes to it; a
 * reopen (SIGHUP, on the main loop) never closes a descriptor another
 * thread may be writing to: a new file is dup2()ed over the old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authd/accesslog.h"
#include "common/strbuf.h"

static _Atomic int log_fd = -1;
static _Atomic uint64_t lost;		/* lines lost to failed writes */
static _Atomic int last_errno;		/* of the last write; 0 when it worked */
static int owned_fd = -1;	/* the file we opened, kept across reopens (main loop only) */

static void
json_field(struct strbuf *sb, const char *key, const char *val)
{
	strbuf_printf(sb, ",\"%s\":", key);
	if (val == NULL)
		strbuf_puts(sb, "null");
	else
		strbuf_json_string(sb, val, strlen(val));
}

void
accesslog_format(const struct accesslog_entry *e, struct strbuf *out)
{
	time_t secs = (time_t)(e->time_ms / 1000);
	struct tm tm;
	char when[32];

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	strbuf_printf(out, "{\"time\":\"%s.%03dZ\"", when, (int)(e->time_ms % 1000));
	json_field(out, "direction", e->direction);
	json_field(out, "workload", e->workload);
	json_field(out, "peer", e->peer);
	json_field(out, "src", e->src);
	json_field(out, "dst", e->dst);
	if (e->port != 0)
		strbuf_printf(out, ",\"port\":%u", e->port);
	else
		strbuf_puts(out, ",\"port\":null");
	json_field(out, "decision", e->decision);
	if (e->rule != 0)
		strbuf_printf(out, ",\"rule\":%llu", (unsigned long long)e->rule);
	else
		strbuf_puts(out, ",\"rule\":null");
	json_field(out, "reason", e->reason);
	json_field(out, "end", e->end);
	strbuf_printf(out, ",\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%llu",
	    (unsigned long long)e->bytes_in, (unsigned long long)e->bytes_out,
	    (unsigned long long)e->duration_ms);
	json_field(out, "trace_id", e->trace_id);
	strbuf_printf(out, ",\"resumed\":%s}\n", e->resumed ? "true" : "false");
}

int
accesslog_open(const char *where)
{
	int fd;

	atomic_store(&last_errno, 0);	/* a new start: the next write tells */
	if (strcmp(where, "off") == 0) {
		log_fd = -1;	/* owned_fd stays open: a writer may still hold its number */
		return 0;
	}
	if (strcmp(where, "stdout") == 0) {
		log_fd = STDOUT_FILENO;
		return 0;
	}
	fd = open(where, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	if (owned_fd >= 0) {
		/* Replace the file behind the same number, atomically for writers. */
		if (dup3(fd, owned_fd, O_CLOEXEC) < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		close(fd);
	} else {
		owned_fd = fd;
	}
	log_fd = owned_fd;
	return 0;
}

void
accesslog_write(const struct accesslog_entry *e)
{
	struct strbuf sb;
	int fd = log_fd;	/* one load: a reopen may change it meanwhile */

	if (fd < 0)
		return;
	strbuf_init(&sb, 16384);
	accesslog_format(e, &sb);
	if (!sb.failed) {
		ssize_t n = write(fd, sb.p, sb.len);

		if (n == (ssize_t)sb.len) {
			if (atomic_load_explicit(&last_errno, memory_order_relaxed) != 0)
				atomic_store(&last_errno, 0);
		} else {
			/* Short (a full disk): the rest is lost; a retry could block the loop. */
			atomic_store(&last_errno, n < 0 ? errno : ENOSPC);
			atomic_fetch_add(&lost, 1);
		}
	}
	strbuf_free(&sb);
}

uint64_t
accesslog_errors(void)
{
	return atomic_load(&lost);
}

int
accesslog_error(void)
{
	return atomic_load(&last_errno);
}

void
accesslog_close(void)
{
	log_fd = -1;
	if (owned_fd >= 0)
		close(owned_fd);
	owned_fd = -1;
}
