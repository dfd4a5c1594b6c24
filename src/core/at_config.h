/*
 * at_config.h - settings read once from the environment (the OpenTelemetry
 * SDK environment-variable specification plus a few AUTOTRACE_* knobs).
 *
 * The configuration is parsed once, at initialisation, into a struct that
 * never changes afterwards, so hooks read it without locks.  All storage is
 * inline (fixed-size buffers): parsing never allocates.
 *
 * Bad values never stop the host: each one produces exactly one warning line
 * through the warn callback ("libautotrace: ..."), and the default is used.
 * Unset or empty variables are silent and take the default.
 */
#ifndef AT_CONFIG_H
#define AT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "at_sampler.h"

#define AT_CFG_URL_MAX 1024
#define AT_CFG_HOST_MAX 256
#define AT_CFG_HEADERS_MAX 4096
#define AT_CFG_STR_MAX 256
#define AT_CFG_RESOURCE_MAX 4096
#define AT_CFG_RESOURCE_ATTRS 32

enum at_exporter_kind { AT_EXPORTER_OTLP = 0, AT_EXPORTER_NONE };
enum at_compression { AT_COMPRESSION_NONE = 0, AT_COMPRESSION_GZIP };
enum at_otlp_protocol { AT_OTLP_HTTP_PROTOBUF = 0, AT_OTLP_HTTP_JSON };
/* AUTOTRACE_PROPAGATE_PRELOAD: false, true (the rule in at_proc.h), always. */
enum { AT_PRELOAD_NEVER = 0, AT_PRELOAD_RULE = 1, AT_PRELOAD_ALWAYS = 2 };

/* A parsed http:// or https:// URL. */
struct at_endpoint {
	char url[AT_CFG_URL_MAX];   /* full URL as used */
	int tls;                    /* https:// */
	char host[AT_CFG_HOST_MAX]; /* without brackets for IPv6 literals */
	char hostport[AT_CFG_HOST_MAX + 8]; /* Host header value */
	uint16_t port;
	char path[AT_CFG_URL_MAX]; /* starts with '/', includes any query */
};

/* One key=value pair of OTEL_RESOURCE_ATTRIBUTES (percent-decoded). */
struct at_cfg_kv {
	char *key; /* both point into at_config.resource_buf */
	char *value;
};

struct at_config {
	int sdk_disabled;                 /* OTEL_SDK_DISABLED */
	enum at_exporter_kind exporter;   /* OTEL_TRACES_EXPORTER */
	struct at_sampler sampler;        /* OTEL_TRACES_SAMPLER[_ARG] */

	struct at_endpoint endpoint;      /* OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT */
	/* Extra request headers, preformatted "Name: value\r\n" lines
	 * (OTEL_EXPORTER_OTLP_HEADERS merged with the _TRACES_ variant,
	 * which wins for a name present in both). */
	char headers[AT_CFG_HEADERS_MAX];
	/* TLS files of an https endpoint ("": none), each the _TRACES_
	 * variable else the generic one: the CA bundle that replaces the
	 * system store (OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE), the client
	 * certificate and its key (_CLIENT_CERTIFICATE, _CLIENT_KEY). */
	char tls_ca_file[AT_CFG_URL_MAX];
	char tls_client_cert[AT_CFG_URL_MAX];
	char tls_client_key[AT_CFG_URL_MAX];
	uint32_t export_timeout_ms;       /* OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT */
	enum at_compression compression;  /* OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION */
	enum at_otlp_protocol otlp_protocol; /* OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL */

	uint32_t bsp_schedule_delay_ms;   /* OTEL_BSP_SCHEDULE_DELAY (5000) */
	uint32_t bsp_export_timeout_ms;   /* OTEL_BSP_EXPORT_TIMEOUT (30000) */
	uint32_t bsp_max_queue_size;      /* OTEL_BSP_MAX_QUEUE_SIZE (2048) */
	uint32_t bsp_max_export_batch;    /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE (512) */

	uint32_t attr_count_limit;        /* OTEL_[SPAN_]ATTRIBUTE_COUNT_LIMIT */
	uint32_t attr_value_len_limit;    /* OTEL_[SPAN_]ATTRIBUTE_VALUE_LENGTH_LIMIT; UINT32_MAX = none */
	uint32_t event_count_limit;       /* OTEL_SPAN_EVENT_COUNT_LIMIT */
	uint32_t event_attr_count_limit;  /* OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT */

	/* service.name: OTEL_SERVICE_NAME, else from OTEL_RESOURCE_ATTRIBUTES,
	 * else empty (the resource builder then uses
	 * unknown_service:<process name>). */
	char service_name[AT_CFG_STR_MAX];
	/* The other OTEL_RESOURCE_ATTRIBUTES pairs (service.name removed). */
	char resource_buf[AT_CFG_RESOURCE_MAX];
	struct at_cfg_kv resource[AT_CFG_RESOURCE_ATTRS];
	size_t n_resource;

	int debug;                        /* AUTOTRACE_DEBUG */
	int capture_command_line;         /* AUTOTRACE_CAPTURE_COMMAND_LINE */
	uint32_t exit_timeout_ms;         /* AUTOTRACE_EXIT_TIMEOUT (3000) */
	int http_redact_query;            /* AUTOTRACE_HTTP_REDACT_QUERY (1) */
	uint32_t dns_threshold_ms;        /* AUTOTRACE_DNS_SPAN_THRESHOLD (100) */
	int db_raw_query;                 /* AUTOTRACE_DB_RAW_QUERY (0) */
	uint32_t db_query_max;            /* AUTOTRACE_DB_QUERY_MAX_LENGTH (1024) */
	uint32_t protocols;               /* AUTOTRACE_PROTOCOLS (AT_PROTO_ALL) */
	int db_sqlcommenter;              /* AUTOTRACE_DB_SQLCOMMENTER (0) */
	int runtime_bridges;              /* AUTOTRACE_RUNTIME_BRIDGES (1) */
	int propagate_preload;            /* AUTOTRACE_PROPAGATE_PRELOAD (AT_PRELOAD_RULE) */
	int process_spans;                /* AUTOTRACE_PROCESS_SPANS (1) */
	char spool_dir[AT_CFG_URL_MAX];   /* AUTOTRACE_SPOOL_DIR ("": off) */
	/* OTEL_PROPAGATORS (tracecontext,baggage): the at_propagators.h bits,
	 * and their order (extraction tries them in it). */
	unsigned propagators;
	uint8_t prop_order[5];
	int n_prop;
	/* AUTOTRACE_BAGGAGE_ATTRIBUTES: the baggage keys copied onto spans,
	 * each NUL-terminated, one after the other (n_baggage_attrs). */
	char baggage_attrs[AT_CFG_STR_MAX];
	int n_baggage_attrs;
	uint32_t spool_max_mb;            /* AUTOTRACE_SPOOL_MAX_MB (64) */
};

/* The wire-protocol decoders AUTOTRACE_PROTOCOLS can turn off. */
enum {
	AT_PROTO_POSTGRESQL = 1u << 0,
	AT_PROTO_MYSQL = 1u << 1,
	AT_PROTO_REDIS = 1u << 2,
	AT_PROTO_ALL = (1u << 3) - 1,
};

/* Environment lookup: returns the value or NULL.  Lets tests feed values. */
typedef const char *(*at_getenv_fn)(const char *name, void *ud);
/* Receives one complete warning line, without trailing newline. */
typedef void (*at_warn_fn)(const char *line, void *ud);

/* Fill *cfg with the defaults of every setting. */
void at_config_defaults(struct at_config *cfg);

/*
 * Defaults, then every variable that lookup returns.  Each invalid value
 * calls warn once with a line naming the variable, the bad value and the
 * default used.  Never fails.
 */
void at_config_load(struct at_config *cfg, at_getenv_fn lookup, void *lookup_ud,
		    at_warn_fn warn, void *warn_ud);

/*
 * Parse an http:// or https:// URL into *ep.  Returns 0, or -1 with *ep
 * untouched (another scheme, bad port, empty host, user info, too long).
 */
int at_endpoint_parse(const char *url, struct at_endpoint *ep);

/*
 * Parse a boolean the way the spec says: "true" (case-insensitive) is true,
 * "false" is false; anything else is invalid (-1).
 */
int at_parse_bool(const char *s);

/* The process's configuration: read by the initialiser (at_init.c, which
 * defines it), immutable once the library is READY. */
extern struct at_config at_cfg;

#endif
