/*
 * Diagnostics on stderr, one line each: "authd: LEVEL: message". Keys,
 * tokens and other secrets are never passed here. The access log (one JSON
 * line per connection) is separate: see accesslog.h.
 */
#ifndef AUTHD_AUTHD_LOG_H
#define AUTHD_AUTHD_LOG_H

#include <stdbool.h>

#include "authd/config.h"
#include "common/util.h"

void log_set_level(enum config_log_level level);
bool log_enabled(enum config_log_level level);
void log_debug(const char *fmt, ...) AD_PRINTF(1, 2);
void log_info(const char *fmt, ...) AD_PRINTF(1, 2);
void log_warn(const char *fmt, ...) AD_PRINTF(1, 2);
#endif
