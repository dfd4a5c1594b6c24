/*
 * at_config_internal.h - what the configuration loader's files share
 * (private to src/core/at_config*.c; callers include only at_config.h):
 * the loader's state, the variable lookup, the warning lines and a few
 * string helpers.  at_config.c has the rules every variable follows.
 */
#ifndef AT_CONFIG_INTERNAL_H
#define AT_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Included after at_config.h (its types), by the module's own files only:
 * not included here, so that the private header is not a module of
 * its own that the public one depends on. */
#ifndef AT_CONFIG_H
#error "include at_config.h before this header"
#endif

struct loader {
	struct at_config *cfg;
	at_getenv_fn lookup;
	void *lookup_ud;
	at_warn_fn warn;
	void *warn_ud;
};

/* a[0..an) equals b[0..bn), ASCII case-insensitively. */
int at_cfg_mem_eq_ci(const char *a, size_t an, const char *b, size_t bn);

/* Decimal form of v in buf (at least 11 bytes); returns buf. */
const char *at_cfg_u32_str(uint32_t v, char *buf);

/* The value of name, or NULL when unset or empty. */
const char *at_cfg_env(struct loader *l, const char *name);

/*
 * One warning line:
 *   libautotrace: WHAT NAME="VALUE" (expected EXPECTED[; DETAIL]); OUTCOME
 * value NULL: the value is not shown (it may hold credentials).
 */
void at_cfg_warn_line(struct loader *l, const char *what, const char *name,
		      const char *value, const char *expected,
		      const char *detail, const char *outcome);

/* The usual "invalid NAME=... (expected ...); using DEFAULT". */
void at_cfg_warn_using(struct loader *l, const char *what, const char *name,
		       const char *value, const char *expected,
		       const char *using);

/* OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT
 * (the base URL to which "/v1/traces" is added), into cfg->endpoint, and
 * the TLS files (_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY, each
 * with its _TRACES_ variant); an unusable one disables export
 * (at_config_endpoint.c). */
void at_cfg_load_endpoint(struct loader *l);

/* OTEL_EXPORTER_OTLP[_TRACES]_HEADERS, merged, into cfg->headers, and
 * OTEL_RESOURCE_ATTRIBUTES into cfg->resource (at_config_list.c). */
void at_cfg_load_headers(struct loader *l);
void at_cfg_load_resource(struct loader *l);

#endif
