/*
 * at_resource.h - the Resource every exported span carries.
 *
 * service.name: OTEL_SERVICE_NAME, else service.name from
 * OTEL_RESOURCE_ATTRIBUTES, else "unknown_service:<process name>".
 * Then the other OTEL_RESOURCE_ATTRIBUTES pairs, process.pid,
 * process.executable.name, process.command_line (only with
 * AUTOTRACE_CAPTURE_COMMAND_LINE=true: command lines carry secrets),
 * host.name, telemetry.sdk.name/version/language.  Keys set by the library
 * win over the same key in OTEL_RESOURCE_ATTRIBUTES only for the process.*
 * and telemetry.sdk.* keys (which describe facts), the user's value wins
 * for host.name.
 *
 * Built by the exporter thread (never in a hook): it reads /proc and calls
 * gethostname.  Rebuilt after fork (process.pid changes).
 */
#ifndef AT_RESOURCE_H
#define AT_RESOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "at_config.h"
#include "at_testing.h"

#define AT_RESOURCE_MAX_ATTRS 48
#define AT_RESOURCE_BUF 8192

enum at_kv_type { AT_KV_STRING = 0, AT_KV_INT, AT_KV_BOOL };

struct at_kv {
	const char *key;  /* points into buf or to a static string */
	enum at_kv_type type;
	const char *s;    /* AT_KV_STRING: NUL-terminated, points into buf */
	int64_t i;        /* AT_KV_INT, AT_KV_BOOL */
};

struct at_resource {
	struct at_kv attrs[AT_RESOURCE_MAX_ATTRS];
	size_t n;
	char buf[AT_RESOURCE_BUF];
	size_t buf_used;
};

void at_resource_build(struct at_resource *r, const struct at_config *cfg,
		       pid_t pid);

/* Value of key, or NULL (string attributes only). */
AT_TESTING const char *at_resource_get(const struct at_resource *r, const char *key);

#endif
