/*
 * at_config.c - settings read once from the environment.
 *
 * Design
 * ------
 * at_config_load() may run inside an interposed function during lazy
 * initialisation, so it allocates nothing, uses no stdio, no locale-dependent
 * libc call (strtod, strcasecmp, isalpha...) and no global state: it reads
 * variables through the lookup callback, writes only into the caller's
 * struct at_config (all storage inline, every copy bounded) and reports
 * problems through the warn callback.  Stack use is a few hundred bytes
 * plus one 512-byte line buffer.
 *
 * Rules applied to every variable:
 *   - unset or empty: the default, silently;
 *   - invalid: exactly one warning line
 *       libautotrace: invalid NAME="value" (expected ...); using DEFAULT
 *     (the value is cut after 80 bytes, control characters, quotes and
 *     non-ASCII bytes are escaped; "unsupported" replaces "invalid" for a
 *     value the specification knows but this library does not implement);
 *     then the variable is treated as unset;
 *   - for the pairs "generic / _TRACES_ (or _SPAN_)" the specific variable
 *     wins; when it is invalid, the generic one (or its default) applies;
 *   - except where the export goes: an unusable endpoint or TLS file
 *     disables export ("; export disabled"), never replaced by another
 *     (at_config_endpoint.c);
 *   - integers are decimal digits only: no sign, no spaces, no trailing
 *     junk, overflow-checked against 32 bits;
 *   - enum values (sampler, exporter, protocol, compression, the
 *     "always" of AUTOTRACE_PROPAGATE_PRELOAD) and booleans
 *     are matched ASCII case-insensitively;
 *   - OTEL_* booleans accept only "true" / "false"; the AUTOTRACE_* ones
 *     also accept "1" / "0".
 * The OTEL_EXPORTER_OTLP_[TRACES_]HEADERS values often carry credentials:
 * their warnings never echo the value, only the position of the bad entry.
 *
 * Files: this one has the table of variables, the rules above, the
 * warnings and the scalar values (integers, booleans, enums, the sampler,
 * the service name); at_config_endpoint.c parses the endpoint URL and
 * at_config_list.c the "key=value,..." lists (headers, resource
 * attributes).  at_config_internal.h is what they share.
 *
 * Environment variables
 * ---------------------
 * OTEL_SDK_DISABLED                     false
 *     "true" disables the library: no spans, no exporter thread.
 * OTEL_SERVICE_NAME                     (unset)
 *     service.name of the resource.  Must be valid UTF-8; longer than 255
 *     bytes is cut (with a warning).  Unset: service.name from
 *     OTEL_RESOURCE_ATTRIBUTES, else "unknown_service:<process name>".
 * OTEL_RESOURCE_ATTRIBUTES              (unset)
 *     Resource attributes, "key1=value1,key2=value2"; keys and values are
 *     percent-decoded (',' '=' and '%' must be encoded), trimmed of
 *     spaces/tabs, and must be valid UTF-8.  Empty entries are skipped; a
 *     repeated key keeps its last value.  At most 32 attributes and 4096
 *     bytes decoded.  Any error discards the whole value (one warning).
 * OTEL_TRACES_SAMPLER                   parentbased_always_on
 *     always_on, always_off, traceidratio, parentbased_always_on,
 *     parentbased_always_off, parentbased_traceidratio.  jaeger_remote,
 *     parentbased_jaeger_remote and xray are recognised but unsupported
 *     (warning, default used).
 * OTEL_TRACES_SAMPLER_ARG               1.0
 *     Sampling ratio for the *traceidratio samplers, a decimal number from
 *     0 to 1 ("0.25", "1", ".5"; no exponent).  Ignored by other samplers.
 * OTEL_TRACES_EXPORTER                  otlp
 *     otlp or none.  Anything else (console, zipkin, lists): warning, otlp.
 * OTEL_EXPORTER_OTLP_PROTOCOL           http/protobuf
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL    (OTEL_EXPORTER_OTLP_PROTOCOL)
 *     http/protobuf or http/json (OTLP/JSON, at_otlp_json.c).  grpc is
 *     unsupported and anything else invalid: one warning line, and the
 *     protocol in effect before (the general variable's, else
 *     http/protobuf) is kept.
 * OTEL_EXPORTER_OTLP_ENDPOINT           http://localhost:4318
 *     Base URL; "/v1/traces" is appended to its path (a trailing '/' is not
 *     doubled; a query string is kept after the new path).
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT    http://localhost:4318/v1/traces
 *     Full URL, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT.
 *     http[s]://host[:port][/path][?query] (IPv6 literals in brackets;
 *     default port 80 or 443; no user info).  The one chosen (_TRACES_
 *     when set) unusable: warning, export disabled - never another
 *     endpoint.
 * OTEL_EXPORTER_OTLP_CERTIFICATE        (the system store)
 * OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE (OTEL_EXPORTER_OTLP_CERTIFICATE)
 *     PEM file of the CAs that verify an https collector's certificate.
 * OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (none)
 * OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE
 * OTEL_EXPORTER_OTLP_CLIENT_KEY         (none)
 * OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY
 *     PEM client certificate (chain) and its private key, for collectors
 *     that ask for one.  A path of 1024 bytes or more: export disabled.
 * OTEL_EXPORTER_OTLP_HEADERS            (none)
 * OTEL_EXPORTER_OTLP_TRACES_HEADERS     (none)
 *     Extra request headers, "name1=value1,name2=value2"; values are
 *     percent-decoded, names and values trimmed of spaces/tabs.  Names must
 *     be HTTP tokens other than the ones the exporter manages (Host,
 *     Content-Length, Content-Type, Content-Encoding, Transfer-Encoding,
 *     Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade,
 *     Expect); decoded values must not contain control characters.  An
 *     error ignores the whole variable (one warning).  Both variables are
 *     merged; for a name present in both (case-insensitive), the _TRACES_
 *     value wins; within one variable the last entry for a name wins.
 *     At most 4096 bytes formatted ("Name: value" CRLF lines) and 8192
 *     bytes raw per variable.
 * OTEL_EXPORTER_OTLP_TIMEOUT            10000
 * OTEL_EXPORTER_OTLP_TRACES_TIMEOUT     (OTEL_EXPORTER_OTLP_TIMEOUT)
 *     Export request timeout, milliseconds, at least 1.
 * OTEL_EXPORTER_OTLP_COMPRESSION        none
 * OTEL_EXPORTER_OTLP_TRACES_COMPRESSION (OTEL_EXPORTER_OTLP_COMPRESSION)
 *     none or gzip.
 * OTEL_BSP_SCHEDULE_DELAY               5000
 *     Delay between two consecutive exports, milliseconds (0 allowed).
 * OTEL_BSP_EXPORT_TIMEOUT               30000
 *     Maximum time an export may take, milliseconds, at least 1.
 * OTEL_BSP_MAX_QUEUE_SIZE               2048
 *     Spans buffered at most; 1 to 1048576 (out of range: warning and
 *     clamped).
 * OTEL_BSP_MAX_EXPORT_BATCH_SIZE        512
 *     Spans per export request at most; 1 to the queue size (larger:
 *     warning, the queue size).  Unset with a queue smaller than 512: the
 *     queue size, silently.
 * OTEL_ATTRIBUTE_COUNT_LIMIT            128
 * OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT       (OTEL_ATTRIBUTE_COUNT_LIMIT)
 *     Attributes per span at most.
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT     no limit
 * OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT)
 *     Length of a string attribute value at most (bytes).
 * OTEL_SPAN_EVENT_COUNT_LIMIT           128
 *     Events per span at most.
 * OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT      128
 *     Attributes per event at most.
 * OTEL_SPAN_LINK_COUNT_LIMIT            128
 * OTEL_LINK_ATTRIBUTE_COUNT_LIMIT       128
 *     Validated only: the library creates no links.
 * AUTOTRACE_DEBUG                       false
 *     true/1 or false/0: diagnostic messages on stderr.
 * AUTOTRACE_CAPTURE_COMMAND_LINE        false
 *     true/1 or false/0: add process.command_line to the resource, and to
 *     the process spans of system()/popen() children (their shell command;
 *     command lines often carry secrets, hence off by default).
 * AUTOTRACE_HTTP_REDACT_QUERY           true
 *     true/1: every query-string value in url.full / url.query, and every
 *     matrix parameter value in a path (";name=value"), becomes
 *     "REDACTED"; false/0: only the values the HTTP semantic conventions
 *     name (AWSAccessKeyId, Signature, sig, X-Goog-Signature) and
 *     jsessionid.  Either way a member without '=' ("?TOKEN") becomes
 *     "REDACTED": it may be the secret itself.
 * AUTOTRACE_DNS_SPAN_THRESHOLD          100
 *     getaddrinfo() outside any traced operation makes a span only when it
 *     takes at least this many milliseconds (inside one: always).
 * AUTOTRACE_DB_RAW_QUERY                false
 *     true/1: db.query.text is recorded as written, literals included
 *     (also in parameterised statements), and a failed statement's status
 *     message is the server's as it is; false: literals become '?', and
 *     so do the values the message echoes.
 * AUTOTRACE_DB_QUERY_MAX_LENGTH         1024
 *     db.query.text is cut to this many bytes (at a UTF-8 boundary).
 * OTEL_PROPAGATORS                      tracecontext,baggage
 *     The header formats a request's context is read from (in this order;
 *     a later one found valid wins) and written in: tracecontext
 *     (traceparent, tracestate), baggage (W3C), b3 (single header),
 *     b3multi (X-B3-*), jaeger (uber-trace-id); none.
 * AUTOTRACE_BAGGAGE_ATTRIBUTES          (none)
 *     A comma list of baggage keys whose values (from the request's
 *     baggage) become attributes of the same name on its spans.
 * AUTOTRACE_PROTOCOLS                   all
 *     The wire protocols decoded on the program's sockets: a comma list
 *     of postgresql, mysql, redis; all or none.
 * AUTOTRACE_DB_SQLCOMMENTER             false
 *     true/1: a traceparent comment (SQLCommenter) is appended to the SQL
 *     statements libpq sends (PQexec, PQsendQuery) and to simple-query
 *     messages on the PostgreSQL wire.
 * AUTOTRACE_RUNTIME_BRIDGES             true
 *     true/1: in node and python3 processes, the runtime loads a small
 *     bridge (NODE_OPTIONS --require, PYTHONPATH) that tells the library
 *     which request the code it runs belongs to; false: native rules
 *     only.
 * AUTOTRACE_PROPAGATE_PRELOAD           true
 *     true/1: the library is added to the LD_PRELOAD of a child whose
 *     environment was built afresh without it, never where the program
 *     removed it (the rule: at_proc.h); false/0: never added; always: added
 *     to every child whose LD_PRELOAD does not list it.
 * AUTOTRACE_PROCESS_SPANS               true
 *     true/1: a span per child started with posix_spawn, system or popen
 *     under an active span, until reaped.
 * AUTOTRACE_EXIT_TIMEOUT                3000
 *     How long process exit waits for the last export, milliseconds
 *     (0: do not wait).
 * AUTOTRACE_SPOOL_DIR                   (none)
 *     An absolute path: batches the collector could not take are written
 *     there and sent later by any traced process using the directory.
 * AUTOTRACE_SPOOL_MAX_MB                64
 *     Bound on the spooled requests' total size, MiB (1 to 65536).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_config.h"
#include "at_config_internal.h"
#include "at_propagators.h"
#include "at_sampler.h"
#include "at_utf8.h"

#define DEFAULT_ENDPOINT "http://localhost:4318/v1/traces"
#define WARN_LINE_MAX 512
#define WARN_VALUE_SHOWN 80
#define QUEUE_SIZE_MAX 1048576u
#define DEFAULT_LIMIT 128u

int at_cfg_mem_eq_ci(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++) {
		if (at_to_lower(a[i]) != at_to_lower(b[i]))
			return 0;
	}
	return 1;
}

static int str_eq_ci(const char *a, const char *b)
{
	return at_cfg_mem_eq_ci(a, strlen(a), b, strlen(b));
}

/* Decimal form of v in buf (at least 11 bytes); returns buf. */
const char *at_cfg_u32_str(uint32_t v, char *buf)
{
	char tmp[11];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

/* ---- warnings ---- */

struct line {
	char buf[WARN_LINE_MAX];
	size_t len;
};

static void line_putc(struct line *ln, char c)
{
	if (ln->len + 1 < sizeof(ln->buf)) {
		ln->buf[ln->len++] = c;
		ln->buf[ln->len] = '\0';
	}
}

static void line_puts(struct line *ln, const char *s)
{
	while (*s != '\0')
		line_putc(ln, *s++);
}

/* The value, quoted, cut after WARN_VALUE_SHOWN bytes, escaped. */
static void line_put_value(struct line *ln, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	line_putc(ln, '"');
	for (i = 0; s[i] != '\0' && i < WARN_VALUE_SHOWN; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			line_putc(ln, '\\');
			line_putc(ln, (char)c);
		} else if (c == '\n') {
			line_puts(ln, "\\n");
		} else if (c == '\r') {
			line_puts(ln, "\\r");
		} else if (c == '\t') {
			line_puts(ln, "\\t");
		} else if (c < 0x20 || c >= 0x7f) {
			line_puts(ln, "\\x");
			line_putc(ln, hex[c >> 4]);
			line_putc(ln, hex[c & 0x0f]);
		} else {
			line_putc(ln, (char)c);
		}
	}
	line_putc(ln, '"');
	if (s[i] != '\0')
		line_puts(ln, "...");
}

/*
 * One warning line:
 *   libautotrace: WHAT NAME="VALUE" (expected EXPECTED[; DETAIL]); OUTCOME
 * value NULL: the value is not shown (it may hold credentials).
 */
void at_cfg_warn_line(struct loader *l, const char *what, const char *name,
		      const char *value, const char *expected,
		      const char *detail, const char *outcome)
{
	struct line ln;

	if (l->warn == NULL)
		return;
	ln.len = 0;
	ln.buf[0] = '\0';
	line_puts(&ln, "libautotrace: ");
	line_puts(&ln, what);
	line_putc(&ln, ' ');
	line_puts(&ln, name);
	if (value != NULL) {
		line_putc(&ln, '=');
		line_put_value(&ln, value);
		line_puts(&ln, " (expected ");
	} else {
		line_puts(&ln, " (value not shown; expected ");
	}
	line_puts(&ln, expected);
	if (detail != NULL) {
		line_puts(&ln, "; ");
		line_puts(&ln, detail);
	}
	line_puts(&ln, "); ");
	line_puts(&ln, outcome);
	l->warn(ln.buf, l->warn_ud);
}

/* The usual "invalid NAME=... (expected ...); using DEFAULT". */
void at_cfg_warn_using(struct loader *l, const char *what, const char *name,
		       const char *value, const char *expected,
		       const char *using)
{
	char outcome[AT_CFG_URL_MAX + 8];
	size_t n = strlen(using);

	if (n > sizeof(outcome) - 7)
		n = sizeof(outcome) - 7;
	memcpy(outcome, "using ", 6);
	memcpy(outcome + 6, using, n);
	outcome[6 + n] = '\0';
	at_cfg_warn_line(l, what, name, value, expected, NULL, outcome);
}

/* ---- lookup ---- */

/* The value of name, or NULL when unset or empty. */
const char *at_cfg_env(struct loader *l, const char *name)
{
	const char *v;

	if (l->lookup == NULL)
		return NULL;
	v = l->lookup(name, l->lookup_ud);
	if (v == NULL || v[0] == '\0')
		return NULL;
	return v;
}

/* ---- scalar parsers ---- */

int at_parse_bool(const char *s)
{
	if (s == NULL)
		return -1;
	if (str_eq_ci(s, "true"))
		return 1;
	if (str_eq_ci(s, "false"))
		return 0;
	return -1;
}

/* Decimal digits only, no sign, fits in 32 bits. */
static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/*
 * A non-negative decimal number "digits[.digits]" (either part may be
 * empty, not both).  No sign, no exponent.  Locale independent, unlike
 * strtod.  Precision beyond 17 significant digits is dropped, which is far
 * below what a sampling ratio needs.
 */
static int parse_ratio(const char *s, double *out)
{
	uint64_t mant = 0;
	int frac = 0, digits = 0, dot = 0, huge = 0;
	double v, scale = 1.0;

	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (dot)
				return -1;
			dot = 1;
			continue;
		}
		if (*s < '0' || *s > '9')
			return -1;
		digits++;
		if (mant < 10000000000000000ULL) {
			if (dot && frac >= 40)
				continue; /* far below any useful ratio */
			mant = mant * 10 + (uint64_t)(*s - '0');
			if (dot)
				frac++;
		} else if (!dot) {
			huge = 1;
		}
	}
	if (digits == 0)
		return -1;
	/* One division by a power of ten (exact up to 1e22). */
	while (frac-- > 0)
		scale *= 10.0;
	v = (double)mant / scale;
	*out = huge ? 2.0 : v;
	return 0;
}

/* ---- integers ---- */

struct u32_rule {
	uint32_t min;
	uint32_t max;
	int clamp;            /* out of range: clamp instead of default */
	int none_is_max;      /* print UINT32_MAX as "no limit" */
	const char *expected;
};

static const struct u32_rule rule_ms = {
	0, UINT32_MAX, 0, 0, "milliseconds, a non-negative integer"
};
static const struct u32_rule rule_ms_pos = {
	1, UINT32_MAX, 0, 0, "milliseconds, a positive integer"
};
static const struct u32_rule rule_count = {
	0, UINT32_MAX, 0, 0, "a non-negative integer"
};
static const struct u32_rule rule_length = {
	0, UINT32_MAX, 0, 1, "a non-negative integer"
};
static const struct u32_rule rule_spool_mb = {
	1, 65536, 0, 0, "an integer from 1 to 65536"
};
static const struct u32_rule rule_queue = {
	1, QUEUE_SIZE_MAX, 1, 0, "an integer from 1 to 1048576"
};

static const char *u32_show(uint32_t v, int none_is_max, char *buf)
{
	if (none_is_max && v == UINT32_MAX)
		return "no limit";
	return at_cfg_u32_str(v, buf);
}

/*
 * Load an integer variable into *dst (which holds the default / fallback).
 * Returns 1 if the variable set *dst, 0 otherwise.
 */
static int load_u32(struct loader *l, const char *name, uint32_t *dst,
		    const struct u32_rule *r)
{
	const char *s = at_cfg_env(l, name);
	char buf[12];
	uint32_t v;

	if (s == NULL)
		return 0;
	if (parse_u32(s, &v) < 0) {
		at_cfg_warn_using(l, "invalid", name, s, r->expected,
				  u32_show(*dst, r->none_is_max, buf));
		return 0;
	}
	if (v < r->min || v > r->max) {
		if (r->clamp) {
			*dst = v < r->min ? r->min : r->max;
			at_cfg_warn_using(l, "invalid", name, s, r->expected,
					  u32_show(*dst, r->none_is_max, buf));
			return 1;
		}
		at_cfg_warn_using(l, "invalid", name, s, r->expected,
				  u32_show(*dst, r->none_is_max, buf));
		return 0;
	}
	*dst = v;
	return 1;
}

/* ---- booleans ---- */

/* 1, 0, or -1 for a value that is no boolean. */
static int bool_value(const char *s, int allow_digits)
{
	int b = at_parse_bool(s);

	if (b < 0 && allow_digits) {
		if (strcmp(s, "1") == 0)
			b = 1;
		else if (strcmp(s, "0") == 0)
			b = 0;
	}
	return b;
}

static void load_bool(struct loader *l, const char *name, int *dst,
		      int allow_digits)
{
	const char *s = at_cfg_env(l, name);
	int b;

	if (s == NULL)
		return;
	b = bool_value(s, allow_digits);
	if (b < 0) {
		at_cfg_warn_using(l, "invalid", name, s,
				  allow_digits ? "true, false, 1 or 0" :
					  "true or false",
				  *dst ? "true" : "false");
		return;
	}
	*dst = b;
}

/* AUTOTRACE_PROPAGATE_PRELOAD: a boolean (true: the rule), or "always". */
static void load_preload(struct loader *l)
{
	static const char *const shown[] = { "false", "true", "always" };
	const char *name = "AUTOTRACE_PROPAGATE_PRELOAD";
	const char *s = at_cfg_env(l, name);
	int *dst = &l->cfg->propagate_preload, v;

	if (s == NULL)
		return;
	v = str_eq_ci(s, "always") ? AT_PRELOAD_ALWAYS : bool_value(s, 1);
	if (v < 0) {
		at_cfg_warn_using(l, "invalid", name, s,
				  "true, false, always, 1 or 0", shown[*dst]);
		return;
	}
	*dst = v;
}

/*
 * AUTOTRACE_PROTOCOLS: the wire-protocol decoders to run, a comma list of
 * postgresql, mysql, redis (white space around the names is ignored,
 * case is not); "all" or "none".  Anything else: one warning, all.
 */
static void load_protocols(struct loader *l)
{
	static const struct { const char *name; uint32_t bit; } names[] = {
		{ "postgresql", AT_PROTO_POSTGRESQL },
		{ "mysql", AT_PROTO_MYSQL },
		{ "redis", AT_PROTO_REDIS },
		{ "all", AT_PROTO_ALL },
		{ "none", 0 },
	};
	const char *name = "AUTOTRACE_PROTOCOLS";
	const char *s = at_cfg_env(l, name), *p;
	uint32_t set = 0;
	char word[16];

	if (s == NULL)
		return;
	for (p = s;;) {
		size_t n = 0;
		bool found = false;

		while (*p == ' ' || *p == '\t')
			p++;
		while (*p && *p != ',' && *p != ' ' && *p != '\t') {
			if (n + 1 >= sizeof(word))
				goto bad;
			word[n++] = *p++;
		}
		word[n] = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ',')
			goto bad;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (n && str_eq_ci(word, names[i].name)) {
				set |= names[i].bit;
				found = true;
			}
		}
		if (!found)
			goto bad;
		if (!*p)
			break;
		p++;
	}
	l->cfg->protocols = set;
	return;
bad:
	at_cfg_warn_using(l, "invalid", name, s,
			  "a comma list of postgresql, mysql, redis; all or none",
			  "all");
}

/* ---- propagation ---- */

/* OTEL_PROPAGATORS: at_propagators_parse; an unknown name: the default. */
static void load_propagators(struct loader *l)
{
	const char *name = "OTEL_PROPAGATORS";
	const char *s = at_cfg_env(l, name);
	struct at_config *cfg = l->cfg;

	if (s == NULL)
		return;
	if (at_propagators_parse(s, &cfg->propagators, cfg->prop_order,
				 &cfg->n_prop, NULL, NULL) != 0)
		at_cfg_warn_using(l, "invalid", name, s,
				  "a comma list of tracecontext, baggage, b3, "
				  "b3multi, jaeger; or none",
				  "tracecontext,baggage");
}

/* AUTOTRACE_BAGGAGE_ATTRIBUTES: keys (RFC 9110 tokens) kept NUL-separated. */
static void load_baggage_attrs(struct loader *l)
{
	const char *name = "AUTOTRACE_BAGGAGE_ATTRIBUTES";
	const char *s = at_cfg_env(l, name), *p;
	struct at_config *cfg = l->cfg;
	size_t w = 0;
	int n = 0;

	if (s == NULL)
		return;
	for (p = s;;) {
		const char *k = p;
		size_t len;

		while (*p && *p != ',')
			p++;
		len = (size_t)(p - k);
		at_trim_ows(&k, &len);
		for (size_t i = 0; i < len; i++)
			if (!at_is_token_char(k[i]))
				goto bad;
		if (len) {
			if (w + len + 1 > sizeof(cfg->baggage_attrs))
				goto bad;
			memcpy(cfg->baggage_attrs + w, k, len);
			cfg->baggage_attrs[w + len] = 0;
			w += len + 1;
			n++;
		}
		if (!*p)
			break;
		p++;
	}
	cfg->n_baggage_attrs = n;
	return;
bad:
	cfg->n_baggage_attrs = 0;
	at_cfg_warn_using(l, "invalid", name, s,
			  "a comma list of baggage keys", "none");
}

/* ---- service name and spool directory ---- */

static void load_service_name(struct loader *l)
{
	const char *s = at_cfg_env(l, "OTEL_SERVICE_NAME");
	char *dst = l->cfg->service_name;
	size_t n;

	if (s == NULL)
		return;
	n = strlen(s);
	if (!at_utf8_valid(s, n)) {
		at_cfg_warn_line(l, "invalid", "OTEL_SERVICE_NAME", s,
				 "a UTF-8 string", NULL,
				 "ignoring the variable");
		return;
	}
	if (n >= AT_CFG_STR_MAX) {
		n = at_utf8_cut(s, n, AT_CFG_STR_MAX - 1);
		at_cfg_warn_line(l, "invalid", "OTEL_SERVICE_NAME", s,
				 "a UTF-8 string of at most 255 bytes", NULL,
				 "using it cut to 255 bytes");
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void load_spool_dir(struct loader *l)
{
	const char *s = at_cfg_env(l, "AUTOTRACE_SPOOL_DIR");
	size_t n;

	if (s == NULL)
		return;
	n = strlen(s);
	if (s[0] != '/' || n >= sizeof(l->cfg->spool_dir)) {
		at_cfg_warn_line(l, "invalid", "AUTOTRACE_SPOOL_DIR", s,
				 "an absolute path shorter than 1024 bytes",
				 NULL, "not spooling");
		return;
	}
	memcpy(l->cfg->spool_dir, s, n + 1);
}

/* ---- sampler ---- */

static const char sampler_expected[] =
	"always_on, always_off, traceidratio, parentbased_always_on, "
	"parentbased_always_off or parentbased_traceidratio";

static void load_sampler(struct loader *l)
{
	static const struct {
		const char *name;
		enum at_sampler_kind kind;
	} kinds[] = {
		{ "always_on", AT_SAMPLER_ALWAYS_ON },
		{ "always_off", AT_SAMPLER_ALWAYS_OFF },
		{ "traceidratio", AT_SAMPLER_TRACEIDRATIO },
		{ "parentbased_always_on", AT_SAMPLER_PARENTBASED_ALWAYS_ON },
		{ "parentbased_always_off", AT_SAMPLER_PARENTBASED_ALWAYS_OFF },
		{ "parentbased_traceidratio",
		  AT_SAMPLER_PARENTBASED_TRACEIDRATIO },
	};
	static const char *const unsupported[] = {
		"jaeger_remote", "parentbased_jaeger_remote", "xray",
	};
	enum at_sampler_kind kind = AT_SAMPLER_PARENTBASED_ALWAYS_ON;
	const char *s = at_cfg_env(l, "OTEL_TRACES_SAMPLER");
	const char *arg;
	double ratio = 1.0;
	size_t i;

	if (s != NULL) {
		const char *what = "invalid";

		for (i = 0; i < AT_ARRAY_SIZE(kinds); i++) {
			if (str_eq_ci(s, kinds[i].name))
				break;
		}
		if (i < AT_ARRAY_SIZE(kinds)) {
			kind = kinds[i].kind;
		} else {
			for (i = 0; i < AT_ARRAY_SIZE(unsupported); i++) {
				if (str_eq_ci(s, unsupported[i]))
					what = "unsupported";
			}
			at_cfg_warn_using(l, what, "OTEL_TRACES_SAMPLER", s,
					  sampler_expected,
					  at_sampler_name(kind));
		}
	}
	arg = at_cfg_env(l, "OTEL_TRACES_SAMPLER_ARG");
	if (arg != NULL && (kind == AT_SAMPLER_TRACEIDRATIO ||
			    kind == AT_SAMPLER_PARENTBASED_TRACEIDRATIO)) {
		double r;

		if (parse_ratio(arg, &r) < 0 || r > 1.0)
			at_cfg_warn_using(l, "invalid",
					  "OTEL_TRACES_SAMPLER_ARG", arg,
					  "a sampling ratio, a number from "
					  "0 to 1", "1.0");
		else
			ratio = r;
	}
	at_sampler_init(&l->cfg->sampler, kind, ratio);
}

/* ---- small enums ---- */

static void load_exporter(struct loader *l)
{
	const char *s = at_cfg_env(l, "OTEL_TRACES_EXPORTER");

	if (s == NULL)
		return;
	if (str_eq_ci(s, "otlp")) {
		l->cfg->exporter = AT_EXPORTER_OTLP;
	} else if (str_eq_ci(s, "none")) {
		l->cfg->exporter = AT_EXPORTER_NONE;
	} else {
		int known = str_eq_ci(s, "console") ||
			    str_eq_ci(s, "zipkin") ||
			    str_eq_ci(s, "logging") ||
			    str_eq_ci(s, "jaeger");

		at_cfg_warn_using(l, known ? "unsupported" : "invalid",
				  "OTEL_TRACES_EXPORTER", s, "otlp or none",
				  "otlp");
	}
}

static void load_protocol(struct loader *l, const char *name)
{
	const char *s = at_cfg_env(l, name);

	if (s == NULL)
		return;
	if (str_eq_ci(s, "http/protobuf"))
		l->cfg->otlp_protocol = AT_OTLP_HTTP_PROTOBUF;
	else if (str_eq_ci(s, "http/json"))
		l->cfg->otlp_protocol = AT_OTLP_HTTP_JSON;
	else
		at_cfg_warn_using(l, str_eq_ci(s, "grpc") ? "unsupported" :
							  "invalid",
				  name, s, "http/protobuf or http/json",
				  l->cfg->otlp_protocol == AT_OTLP_HTTP_JSON ?
				   "http/json" : "http/protobuf");
}

static void load_compression(struct loader *l, const char *name)
{
	const char *s = at_cfg_env(l, name);

	if (s == NULL)
		return;
	if (str_eq_ci(s, "none"))
		l->cfg->compression = AT_COMPRESSION_NONE;
	else if (str_eq_ci(s, "gzip"))
		l->cfg->compression = AT_COMPRESSION_GZIP;
	else
		at_cfg_warn_using(l, "invalid", name, s, "none or gzip",
				  l->cfg->compression == AT_COMPRESSION_GZIP ?
				   "gzip" : "none");
}

/* ---- public ---- */

void at_config_defaults(struct at_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sdk_disabled = 0;
	cfg->exporter = AT_EXPORTER_OTLP;
	at_sampler_init(&cfg->sampler, AT_SAMPLER_PARENTBASED_ALWAYS_ON, 1.0);
	at_endpoint_parse(DEFAULT_ENDPOINT, &cfg->endpoint);
	cfg->headers[0] = '\0';
	cfg->export_timeout_ms = 10000;
	cfg->compression = AT_COMPRESSION_NONE;
	cfg->bsp_schedule_delay_ms = 5000;
	cfg->bsp_export_timeout_ms = 30000;
	cfg->bsp_max_queue_size = 2048;
	cfg->bsp_max_export_batch = 512;
	cfg->attr_count_limit = DEFAULT_LIMIT;
	cfg->attr_value_len_limit = UINT32_MAX;
	cfg->event_count_limit = DEFAULT_LIMIT;
	cfg->event_attr_count_limit = DEFAULT_LIMIT;
	cfg->service_name[0] = '\0';
	cfg->n_resource = 0;
	cfg->debug = 0;
	cfg->capture_command_line = 0;
	cfg->exit_timeout_ms = 3000;
	cfg->http_redact_query = 1;
	cfg->dns_threshold_ms = 100;
	cfg->db_raw_query = 0;
	cfg->protocols = AT_PROTO_ALL;
	cfg->db_sqlcommenter = 0;
	cfg->runtime_bridges = 1;
	cfg->db_query_max = 1024;
	cfg->propagate_preload = AT_PRELOAD_RULE;
	cfg->process_spans = 1;
	cfg->spool_dir[0] = '\0';
	cfg->spool_max_mb = 64;
	cfg->propagators = AT_PROP_DEFAULT;
	cfg->prop_order[0] = AT_PROP_TRACECONTEXT;
	cfg->prop_order[1] = AT_PROP_BAGGAGE;
	cfg->n_prop = 2;
	cfg->n_baggage_attrs = 0;
}

static void load_bsp(struct loader *l)
{
	struct at_config *cfg = l->cfg;
	const char *name = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
	uint32_t batch = 512, v;
	char expected[64], num[12];
	const char *s;
	size_t n;

	load_u32(l, "OTEL_BSP_SCHEDULE_DELAY", &cfg->bsp_schedule_delay_ms,
		 &rule_ms);
	load_u32(l, "OTEL_BSP_EXPORT_TIMEOUT", &cfg->bsp_export_timeout_ms,
		 &rule_ms_pos);
	load_u32(l, "OTEL_BSP_MAX_QUEUE_SIZE", &cfg->bsp_max_queue_size,
		 &rule_queue);

	/* The batch size is bounded by the queue size, silently by default. */
	if (batch > cfg->bsp_max_queue_size)
		batch = cfg->bsp_max_queue_size;
	s = at_cfg_env(l, name);
	if (s != NULL) {
		n = strlen("an integer from 1 to the queue size ");
		memcpy(expected, "an integer from 1 to the queue size ", n);
		at_cfg_u32_str(cfg->bsp_max_queue_size, expected + n);
		if (parse_u32(s, &v) < 0 || v == 0) {
			at_cfg_warn_using(l, "invalid", name, s, expected,
					  at_cfg_u32_str(batch, num));
		} else if (v > cfg->bsp_max_queue_size) {
			batch = cfg->bsp_max_queue_size;
			at_cfg_warn_using(l, "invalid", name, s, expected,
					  at_cfg_u32_str(batch, num));
		} else {
			batch = v;
		}
	}
	cfg->bsp_max_export_batch = batch;
}

static void load_limits(struct loader *l)
{
	struct at_config *cfg = l->cfg;
	uint32_t unused;

	load_u32(l, "OTEL_ATTRIBUTE_COUNT_LIMIT", &cfg->attr_count_limit,
		 &rule_count);
	load_u32(l, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", &cfg->attr_count_limit,
		 &rule_count);
	load_u32(l, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		 &cfg->attr_value_len_limit, &rule_length);
	load_u32(l, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		 &cfg->attr_value_len_limit, &rule_length);
	load_u32(l, "OTEL_SPAN_EVENT_COUNT_LIMIT", &cfg->event_count_limit,
		 &rule_count);
	load_u32(l, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
		 &cfg->event_attr_count_limit, &rule_count);
	/* Validated only: no links are ever created. */
	unused = DEFAULT_LIMIT;
	load_u32(l, "OTEL_SPAN_LINK_COUNT_LIMIT", &unused, &rule_count);
	unused = DEFAULT_LIMIT;
	load_u32(l, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", &unused, &rule_count);
}

void at_config_load(struct at_config *cfg, at_getenv_fn lookup, void *lookup_ud,
		    at_warn_fn warn, void *warn_ud)
{
	struct loader l = { cfg, lookup, lookup_ud, warn, warn_ud };

	if (cfg == NULL)
		return;
	at_config_defaults(cfg);

	load_bool(&l, "OTEL_SDK_DISABLED", &cfg->sdk_disabled, 0);
	load_service_name(&l);
	at_cfg_load_resource(&l);
	load_sampler(&l);
	load_exporter(&l);

	load_protocol(&l, "OTEL_EXPORTER_OTLP_PROTOCOL");
	load_protocol(&l, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
	at_cfg_load_endpoint(&l);
	at_cfg_load_headers(&l);
	load_u32(&l, "OTEL_EXPORTER_OTLP_TIMEOUT", &cfg->export_timeout_ms,
		 &rule_ms_pos);
	load_u32(&l, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
		 &cfg->export_timeout_ms, &rule_ms_pos);
	load_compression(&l, "OTEL_EXPORTER_OTLP_COMPRESSION");
	load_compression(&l, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION");

	load_bsp(&l);
	load_limits(&l);

	load_bool(&l, "AUTOTRACE_DEBUG", &cfg->debug, 1);
	load_bool(&l, "AUTOTRACE_CAPTURE_COMMAND_LINE",
		  &cfg->capture_command_line, 1);
	load_u32(&l, "AUTOTRACE_EXIT_TIMEOUT", &cfg->exit_timeout_ms, &rule_ms);
	load_bool(&l, "AUTOTRACE_HTTP_REDACT_QUERY", &cfg->http_redact_query,
		  1);
	load_u32(&l, "AUTOTRACE_DNS_SPAN_THRESHOLD", &cfg->dns_threshold_ms,
		 &rule_ms);
	load_bool(&l, "AUTOTRACE_DB_RAW_QUERY", &cfg->db_raw_query, 1);
	load_u32(&l, "AUTOTRACE_DB_QUERY_MAX_LENGTH", &cfg->db_query_max,
		 &rule_length);
	load_protocols(&l);
	load_propagators(&l);
	load_baggage_attrs(&l);
	load_bool(&l, "AUTOTRACE_DB_SQLCOMMENTER", &cfg->db_sqlcommenter, 1);
	load_bool(&l, "AUTOTRACE_RUNTIME_BRIDGES", &cfg->runtime_bridges, 1);
	load_preload(&l);
	load_bool(&l, "AUTOTRACE_PROCESS_SPANS", &cfg->process_spans, 1);
	load_spool_dir(&l);
	load_u32(&l, "AUTOTRACE_SPOOL_MAX_MB", &cfg->spool_max_mb,
		 &rule_spool_mb);
}
