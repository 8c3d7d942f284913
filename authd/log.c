/*
 * stderr diagnostics. One write(2) per line, so lines from the signer
 * thread and the loop never interleave mid-line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "authd/log.h"

static enum config_log_level log_level = CONFIG_LOG_INFO;

void
log_set_level(enum config_log_level level)
{
	log_level = level;
}

bool
log_enabled(enum config_log_level level)
{
	return level >= log_level;
}

static void
log_line(enum config_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "debug", "info", "warn" };
	char line[1024];
	int n, m;

	if (!log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "authd: %s: ", names[level]);
	if (n < 0)
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(CONFIG_LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(CONFIG_LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(CONFIG_LOG_WARN, fmt, ap);
	va_end(ap);
}
