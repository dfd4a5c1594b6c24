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
 *     Only http/protobuf is supported; any other value: warning.
 * OTEL_EXPORTER_OTLP_ENDPOINT           http://localhost:4318
 *     Base URL; "/v1/traces" is appended to its path (a trailing '/' is not
 *     doubled; a query string is kept after the new path).
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT    http://localhost:4318/v1/traces
 *     Full URL, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT.
 *     Only http://host[:port][/path][?query] is supported (IPv6 literals in
 *     brackets; default port 80; no user info).  https:// and malformed
 *     URLs: warning, the next source (generic variable, then default).
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
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_config.h"
#include "at_sampler.h"
#include "at_utf8.h"

#define DEFAULT_ENDPOINT "http://localhost:4318/v1/traces"
#define SIGNAL_PATH "v1/traces"
#define WARN_LINE_MAX 512
#define WARN_VALUE_SHOWN 80
#define QUEUE_SIZE_MAX 1048576u
#define DEFAULT_LIMIT 128u
#define HEADERS_RAW_MAX (2 * AT_CFG_HEADERS_MAX)

struct loader {
	struct at_config *cfg;
	at_getenv_fn lookup;
	void *lookup_ud;
	at_warn_fn warn;
	void *warn_ud;
};

static int mem_eq_ci(const char *a, size_t an, const char *b, size_t bn)
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
	return mem_eq_ci(a, strlen(a), b, strlen(b));
}

/* Decimal form of v in buf (at least 11 bytes); returns buf. */
static const char *u32_str(uint32_t v, char *buf)
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

/*
 * Percent-decode s[0..n) into out (cap bytes, no NUL added); out may be
 * NULL to only validate and measure.  Returns 0 (length in *outlen), -1 for
 * a '%' not followed by two hex digits, -2 if the result does not fit.
 * If ctl is not NULL, *ctl tells whether the result holds a control
 * character (0x00-0x1f, 0x7f).
 */
static int pct_decode(const char *s, size_t n, char *out, size_t cap,
		      size_t *outlen, int *ctl)
{
	size_t w = 0;

	if (ctl != NULL)
		*ctl = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			hi = at_hex_value(s[i + 1]);
			lo = at_hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)((hi << 4) | lo);
			i += 2;
		}
		if (ctl != NULL && ((unsigned char)c < 0x20 || c == 0x7f))
			*ctl = 1;
		if (out != NULL) {
			if (w >= cap)
				return -2;
			out[w] = c;
		}
		w++;
	}
	*outlen = w;
	return 0;
}

/*
 * Iterator over the entries of a "k=v,k=v" list.  Entries that are empty
 * after trimming are skipped.  For each entry: the trimmed key, and the
 * trimmed value (NULL if the entry has no '=').
 */
struct kv_iter {
	const char *p;
	const char *end;
	unsigned int index; /* 1-based number of the last entry returned */
};

static void kv_iter_init(struct kv_iter *it, const char *s)
{
	it->p = s;
	it->end = s + strlen(s);
	it->index = 0;
}

static int kv_next(struct kv_iter *it, const char **k, size_t *kl,
		   const char **v, size_t *vl)
{
	while (it->p != NULL && it->p <= it->end) {
		const char *start = it->p;
		size_t left = (size_t)(it->end - start);
		const char *comma = memchr(start, ',', left);
		const char *stop = comma ? comma : it->end;
		const char *eq;
		size_t n = (size_t)(stop - start);

		it->p = comma ? comma + 1 : NULL;
		at_trim_ows(&start, &n);
		if (n == 0)
			continue;
		it->index++;
		eq = memchr(start, '=', n);
		if (eq == NULL) {
			*k = start;
			*kl = n;
			*v = NULL;
			*vl = 0;
			return 1;
		}
		*k = start;
		*kl = (size_t)(eq - start);
		at_trim_ows(k, kl);
		*v = eq + 1;
		*vl = (size_t)(start + n - (eq + 1));
		at_trim_ows(v, vl);
		return 1;
	}
	return 0;
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
static void warn_line(struct loader *l, const char *what, const char *name,
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
static void warn_using(struct loader *l, const char *what, const char *name,
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
	warn_line(l, what, name, value, expected, NULL, outcome);
}

/* ---- lookup ---- */

/* The value of name, or NULL when unset or empty. */
static const char *env(struct loader *l, const char *name)
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
	return u32_str(v, buf);
}

/*
 * Load an integer variable into *dst (which holds the default / fallback).
 * Returns 1 if the variable set *dst, 0 otherwise.
 */
static int load_u32(struct loader *l, const char *name, uint32_t *dst,
		    const struct u32_rule *r)
{
	const char *s = env(l, name);
	char buf[12];
	uint32_t v;

	if (s == NULL)
		return 0;
	if (parse_u32(s, &v) < 0) {
		warn_using(l, "invalid", name, s, r->expected,
			   u32_show(*dst, r->none_is_max, buf));
		return 0;
	}
	if (v < r->min || v > r->max) {
		if (r->clamp) {
			*dst = v < r->min ? r->min : r->max;
			warn_using(l, "invalid", name, s, r->expected,
				   u32_show(*dst, r->none_is_max, buf));
			return 1;
		}
		warn_using(l, "invalid", name, s, r->expected,
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
	const char *s = env(l, name);
	int b;

	if (s == NULL)
		return;
	b = bool_value(s, allow_digits);
	if (b < 0) {
		warn_using(l, "invalid", name, s,
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
	const char *name = "AUTOTRACE_PROPAGATE_PRELOAD", *s = env(l, name);
	int *dst = &l->cfg->propagate_preload, v;

	if (s == NULL)
		return;
	v = str_eq_ci(s, "always") ? AT_PRELOAD_ALWAYS : bool_value(s, 1);
	if (v < 0) {
		warn_using(l, "invalid", name, s, "true, false, always, 1 or 0",
			   shown[*dst]);
		return;
	}
	*dst = v;
}

/* ---- endpoint ---- */

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int host_char_ok(char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int ipv6_char_ok(char c)
{
	return at_hex_value(c) >= 0 || c == ':' || c == '.';
}

int at_endpoint_parse(const char *url, struct at_endpoint *ep)
{
	static const char scheme[] = "http://";
	const size_t slen = sizeof(scheme) - 1;
	const char *auth, *auth_end, *host, *rest, *frag;
	size_t len, host_len, rest_len, url_len, i;
	uint32_t port = 80;
	int v6 = 0;
	char portbuf[12];

	if (url == NULL || ep == NULL)
		return -1;
	len = strnlen(url, AT_CFG_URL_MAX);
	if (len >= AT_CFG_URL_MAX)
		return -1;
	if (len < slen || !mem_eq_ci(url, slen, scheme, slen))
		return -1;

	/* The fragment is never sent: drop it. */
	frag = memchr(url, '#', len);
	url_len = frag ? (size_t)(frag - url) : len;

	auth = url + slen;
	auth_end = auth;
	while (auth_end < url + url_len && *auth_end != '/' &&
	       *auth_end != '?')
		auth_end++;
	if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL)
		return -1; /* user info is not supported */

	if (auth < auth_end && *auth == '[') {
		const char *close = memchr(auth, ']',
					   (size_t)(auth_end - auth));

		if (close == NULL)
			return -1;
		host = auth + 1;
		host_len = (size_t)(close - host);
		if (host_len == 0 || memchr(host, ':', host_len) == NULL)
			return -1;
		for (i = 0; i < host_len; i++) {
			if (!ipv6_char_ok(host[i]))
				return -1;
		}
		v6 = 1;
		auth = close + 1;
		if (auth < auth_end && *auth != ':')
			return -1;
	} else {
		host = auth;
		while (auth < auth_end && *auth != ':') {
			if (!host_char_ok(*auth))
				return -1;
			auth++;
		}
		host_len = (size_t)(auth - host);
		if (host_len == 0)
			return -1;
	}
	if (auth < auth_end) {
		/* ':' port */
		size_t pl = (size_t)(auth_end - auth - 1);

		if (pl == 0 || pl > 5)
			return -1;
		port = 0;
		for (i = 0; i < pl; i++) {
			char c = auth[1 + i];

			if (c < '0' || c > '9')
				return -1;
			port = port * 10 + (uint32_t)(c - '0');
		}
		if (port == 0 || port > 65535)
			return -1;
	}

	rest = auth_end;
	rest_len = (size_t)(url + url_len - rest);
	for (i = 0; i < rest_len; i++) {
		unsigned char c = (unsigned char)rest[i];

		if (c <= 0x20 || c >= 0x7f)
			return -1;
	}
	/* "/" is added when the path is empty: fits, url_len < URL_MAX - 1 */
	if (host_len >= AT_CFG_HOST_MAX)
		return -1;

	/* All checks passed: fill *ep. */
	memcpy(ep->url, url, url_len);
	ep->url[url_len] = '\0';
	memcpy(ep->host, host, host_len);
	ep->host[host_len] = '\0';
	ep->port = (uint16_t)port;
	{
		size_t w = 0;

		if (v6)
			ep->hostport[w++] = '[';
		memcpy(ep->hostport + w, host, host_len);
		w += host_len;
		if (v6)
			ep->hostport[w++] = ']';
		if (port != 80) {
			const char *p = u32_str(port, portbuf);
			size_t pl = strlen(p);

			ep->hostport[w++] = ':';
			memcpy(ep->hostport + w, p, pl);
			w += pl;
		}
		ep->hostport[w] = '\0';
	}
	if (rest_len == 0 || rest[0] == '?') {
		ep->path[0] = '/';
		memcpy(ep->path + 1, rest, rest_len);
		ep->path[1 + rest_len] = '\0';
	} else {
		memcpy(ep->path, rest, rest_len);
		ep->path[rest_len] = '\0';
	}
	return 0;
}

/*
 * Append "/v1/traces" to the path of base (before any query; the fragment
 * is dropped) into out.  Returns 0, or -1 if it does not fit (or base has
 * no "://", in which case it cannot be a valid URL anyway).
 */
static int signal_url(const char *base, char *out, size_t cap)
{
	const char *sep = strstr(base, "://");
	size_t len = strlen(base);
	size_t path_start, path_end, q_len, w;
	const char *frag;
	int slash;

	if (sep == NULL)
		return -1;
	frag = strchr(base, '#');
	if (frag != NULL)
		len = (size_t)(frag - base);
	/* path_start: the end of the authority */
	path_start = (size_t)(sep + 3 - base);
	if (path_start > len)
		return -1;
	while (path_start < len && base[path_start] != '/' &&
	       base[path_start] != '?')
		path_start++;
	path_end = path_start;
	while (path_end < len && base[path_end] != '?')
		path_end++;
	q_len = len - path_end;
	slash = !(path_end > path_start && base[path_end - 1] == '/');
	/* base + "/" + "v1/traces" + query + NUL */
	if (path_end + 1 + strlen(SIGNAL_PATH) + q_len + 1 > cap)
		return -1;
	memcpy(out, base, path_end);
	w = path_end;
	if (slash)
		out[w++] = '/';
	memcpy(out + w, SIGNAL_PATH, strlen(SIGNAL_PATH));
	w += strlen(SIGNAL_PATH);
	memcpy(out + w, base + path_end, q_len);
	w += q_len;
	out[w] = '\0';
	return 0;
}

static const char endpoint_expected[] =
	"an http:// URL: http://host[:port][/path], no user info";

static void load_endpoint(struct loader *l, const char *name, int generic)
{
	struct at_endpoint *ep = &l->cfg->endpoint;
	const char *s = env(l, name);
	char full[AT_CFG_URL_MAX];
	const char *what = "invalid";
	const char *url = s;

	if (s == NULL)
		return;
	if (generic) {
		if (signal_url(s, full, sizeof(full)) == 0)
			url = full;
		else
			url = NULL;
	}
	if (url != NULL && at_endpoint_parse(url, ep) == 0)
		return;
	if (strlen(s) >= 8 && mem_eq_ci(s, 8, "https://", 8))
		what = "unsupported";
	/* A URL with user info may carry a password: do not echo it. */
	warn_using(l, what, name, strchr(s, '@') ? NULL : s,
		   endpoint_expected, ep->url);
}

/* ---- headers ---- */

static int is_tchar(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int header_reserved(const char *k, size_t kl)
{
	static const char *const names[] = {
		"host", "content-length", "content-type", "content-encoding",
		"transfer-encoding", "connection", "keep-alive",
		"proxy-connection", "te", "trailer", "upgrade", "expect",
	};

	for (size_t i = 0; i < AT_ARRAY_SIZE(names); i++) {
		if (mem_eq_ci(k, kl, names[i], strlen(names[i])))
			return 1;
	}
	return 0;
}

/* Check one entry; returns NULL if fine, else what is wrong. */
static const char *header_entry_error(const char *k, size_t kl,
				      const char *v, size_t vl)
{
	size_t dl, i;
	int ctl;

	if (kl == 0)
		return "empty name";
	for (i = 0; i < kl; i++) {
		if (!is_tchar(k[i]))
			return "name is not an HTTP token";
	}
	if (v == NULL)
		return "no '='";
	if (header_reserved(k, kl))
		return "name is managed by the exporter";
	if (pct_decode(v, vl, NULL, 0, &dl, &ctl) < 0)
		return "bad percent-encoding";
	if (ctl)
		return "control character in value";
	return NULL;
}

/*
 * 1 if the entry at index idx (1-based) of list s is overridden, i.e. a
 * later entry of s, or any entry of override (may be NULL), has the same
 * name.
 */
static int header_overridden(const char *s, unsigned int idx, const char *k,
			     size_t kl, const char *override)
{
	struct kv_iter it;
	const char *k2, *v2;
	size_t kl2, vl2;

	kv_iter_init(&it, s);
	while (kv_next(&it, &k2, &kl2, &v2, &vl2)) {
		if (it.index > idx && mem_eq_ci(k, kl, k2, kl2))
			return 1;
	}
	if (override == NULL)
		return 0;
	kv_iter_init(&it, override);
	while (kv_next(&it, &k2, &kl2, &v2, &vl2)) {
		if (mem_eq_ci(k, kl, k2, kl2))
			return 1;
	}
	return 0;
}

/*
 * Append the effective entries of the (valid) list s to out, "Name: value"
 * CRLF each.  *w is the current length.  Returns 0, or -1 if out is full.
 * With out NULL, only measures (against cap).
 */
static int headers_emit(const char *s, const char *override, char *out,
			size_t cap, size_t *w)
{
	struct kv_iter it;
	const char *k, *v;
	size_t kl, vl, dl;

	kv_iter_init(&it, s);
	while (kv_next(&it, &k, &kl, &v, &vl)) {
		if (header_overridden(s, it.index, k, kl, override))
			continue;
		/* name ": " value "\r\n" and the final NUL */
		if (pct_decode(v, vl, NULL, 0, &dl, NULL) < 0 ||
		    *w + kl + 2 + dl + 2 + 1 > cap)
			return -1;
		if (out == NULL) {
			*w += kl + 2 + dl + 2;
			continue;
		}
		memcpy(out + *w, k, kl);
		*w += kl;
		memcpy(out + *w, ": ", 2);
		*w += 2;
		pct_decode(v, vl, out + *w, cap - *w, &dl, NULL);
		*w += dl;
		memcpy(out + *w, "\r\n", 2);
		*w += 2;
		out[*w] = '\0';
	}
	return 0;
}

static const char headers_expected[] =
	"comma-separated name=value pairs, names HTTP tokens, values "
	"percent-encoded without control characters";

/* Validate the headers variable name; returns its value if usable. */
static const char *check_headers(struct loader *l, const char *name)
{
	const char *s = env(l, name);
	struct kv_iter it;
	const char *k, *v, *err = NULL;
	size_t kl, vl, w = 0;
	char detail[96];

	if (s == NULL)
		return NULL;
	/*
	 * Merging is quadratic in the number of entries: bound the raw
	 * length (twice the output buffer leaves room for percent-encoding).
	 */
	if (strlen(s) > HEADERS_RAW_MAX)
		err = "too long";
	kv_iter_init(&it, s);
	while (err == NULL && kv_next(&it, &k, &kl, &v, &vl))
		err = header_entry_error(k, kl, v, vl);
	if (err == NULL) {
		/* Must fit on its own. */
		if (headers_emit(s, NULL, NULL, sizeof(l->cfg->headers),
				 &w) < 0)
			err = "too long";
		if (err == NULL)
			return s;
		it.index = 0;
	}
	/* "entry N: problem" */
	{
		char num[12];
		size_t n = 0;

		detail[0] = '\0';
		if (it.index > 0) {
			memcpy(detail, "entry ", 6);
			n = 6;
			u32_str(it.index, num);
			memcpy(detail + n, num, strlen(num));
			n += strlen(num);
			memcpy(detail + n, ": ", 2);
			n += 2;
		}
		if (n + strlen(err) >= sizeof(detail))
			err = "error";
		memcpy(detail + n, err, strlen(err) + 1);
	}
	warn_line(l, "invalid", name, NULL, headers_expected, detail,
		  "ignoring the variable");
	return NULL;
}

static void load_headers(struct loader *l)
{
	const char *gen = check_headers(l, "OTEL_EXPORTER_OTLP_HEADERS");
	const char *tr = check_headers(l, "OTEL_EXPORTER_OTLP_TRACES_HEADERS");
	char *out = l->cfg->headers;
	size_t cap = sizeof(l->cfg->headers);
	size_t w = 0;

	out[0] = '\0';
	if (gen != NULL && headers_emit(gen, tr, out, cap, &w) == 0 &&
	    (tr == NULL || headers_emit(tr, NULL, out, cap, &w) == 0))
		return;
	if (gen == NULL) {
		w = 0;
		if (tr != NULL)
			headers_emit(tr, NULL, out, cap, &w);
		return;
	}
	/* Both valid alone, too long together: the _TRACES_ one wins. */
	warn_line(l, "invalid", "OTEL_EXPORTER_OTLP_HEADERS", NULL,
		  headers_expected,
		  "too long together with OTEL_EXPORTER_OTLP_TRACES_HEADERS",
		  "ignoring the variable");
	memset(out, 0, cap);
	w = 0;
	if (tr != NULL)
		headers_emit(tr, NULL, out, cap, &w);
}

/* ---- service name and resource attributes ---- */

static void load_service_name(struct loader *l)
{
	const char *s = env(l, "OTEL_SERVICE_NAME");
	char *dst = l->cfg->service_name;
	size_t n;

	if (s == NULL)
		return;
	n = strlen(s);
	if (!at_utf8_valid(s, n)) {
		warn_line(l, "invalid", "OTEL_SERVICE_NAME", s,
			  "a UTF-8 string", NULL, "ignoring the variable");
		return;
	}
	if (n >= AT_CFG_STR_MAX) {
		n = at_utf8_cut(s, n, AT_CFG_STR_MAX - 1);
		warn_line(l, "invalid", "OTEL_SERVICE_NAME", s,
			  "a UTF-8 string of at most 255 bytes", NULL,
			  "using it cut to 255 bytes");
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void load_spool_dir(struct loader *l)
{
	const char *s = env(l, "AUTOTRACE_SPOOL_DIR");
	size_t n;

	if (s == NULL)
		return;
	n = strlen(s);
	if (s[0] != '/' || n >= sizeof(l->cfg->spool_dir)) {
		warn_line(l, "invalid", "AUTOTRACE_SPOOL_DIR", s,
			  "an absolute path shorter than 1024 bytes", NULL,
			  "not spooling");
		return;
	}
	memcpy(l->cfg->spool_dir, s, n + 1);
}

static const char resource_expected[] =
	"comma-separated key=value pairs, percent-encoded UTF-8";

static void load_resource(struct loader *l)
{
	struct at_config *cfg = l->cfg;
	const char *s = env(l, "OTEL_RESOURCE_ATTRIBUTES");
	int have_service = cfg->service_name[0] != '\0';
	char svc[AT_CFG_STR_MAX];
	int svc_set = 0;
	struct kv_iter it;
	const char *k, *v, *err = NULL;
	size_t kl, vl, w = 0;
	char *buf = cfg->resource_buf;
	const size_t cap = sizeof(cfg->resource_buf);

	if (s == NULL)
		return;
	kv_iter_init(&it, s);
	while (err == NULL && kv_next(&it, &k, &kl, &v, &vl)) {
		size_t dk = 0, dv = 0, j;
		char *key, *val = NULL;
		int rc;

		if (v == NULL) {
			err = "an entry has no '='";
			break;
		}
		if (kl == 0) {
			err = "an entry has an empty key";
			break;
		}
		/* key NUL value NUL, decoded in place in resource_buf */
		key = buf + w;
		rc = pct_decode(k, kl, key, cap - w, &dk, NULL);
		if (rc == 0 && w + dk + 1 > cap)
			rc = -2;
		if (rc == 0) {
			key[dk] = '\0';
			val = key + dk + 1;
			rc = pct_decode(v, vl, val, cap - w - dk - 1, &dv,
					NULL);
			if (rc == 0 && w + dk + 1 + dv + 1 > cap)
				rc = -2;
		}
		if (rc == -1) {
			err = "bad percent-encoding";
			break;
		}
		if (rc == -2) {
			err = "longer than 4096 bytes decoded";
			break;
		}
		val[dv] = '\0';
		if (dk == 0) {
			err = "an entry has an empty key";
			break;
		}
		if (!at_utf8_valid(key, dk) || !at_utf8_valid(val, dv)) {
			err = "not UTF-8 after decoding";
			break;
		}
		if (strcmp(key, "service.name") == 0) {
			/* Not stored in resource[]; OTEL_SERVICE_NAME wins. */
			if (dv >= sizeof(svc)) {
				err = "service.name longer than 255 bytes";
				break;
			}
			if (!have_service) {
				memcpy(svc, val, dv + 1);
				svc_set = 1;
			}
			continue;
		}
		for (j = 0; j < cfg->n_resource; j++) {
			if (strcmp(cfg->resource[j].key, key) == 0)
				break;
		}
		if (j == cfg->n_resource) {
			if (j == AT_CFG_RESOURCE_ATTRS) {
				err = "more than 32 attributes";
				break;
			}
			cfg->resource[j].key = key;
			cfg->n_resource++;
			w += dk + 1;
		} else {
			/* Repeated key: the last value wins. */
			memmove(key, val, dv + 1);
			val = key;
		}
		cfg->resource[j].value = val;
		w += dv + 1;
	}
	if (err == NULL) {
		if (svc_set)
			memcpy(cfg->service_name, svc, strlen(svc) + 1);
		return;
	}
	cfg->n_resource = 0;
	memset(cfg->resource, 0, sizeof(cfg->resource));
	memset(cfg->resource_buf, 0, sizeof(cfg->resource_buf));
	warn_line(l, "invalid", "OTEL_RESOURCE_ATTRIBUTES", s,
		  resource_expected, err, "ignoring the variable");
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
	const char *s = env(l, "OTEL_TRACES_SAMPLER");
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
			warn_using(l, what, "OTEL_TRACES_SAMPLER", s,
				   sampler_expected,
				   at_sampler_name(kind));
		}
	}
	arg = env(l, "OTEL_TRACES_SAMPLER_ARG");
	if (arg != NULL && (kind == AT_SAMPLER_TRACEIDRATIO ||
			    kind == AT_SAMPLER_PARENTBASED_TRACEIDRATIO)) {
		double r;

		if (parse_ratio(arg, &r) < 0 || r > 1.0)
			warn_using(l, "invalid", "OTEL_TRACES_SAMPLER_ARG",
				   arg, "a sampling ratio, a number from 0 "
				   "to 1", "1.0");
		else
			ratio = r;
	}
	at_sampler_init(&l->cfg->sampler, kind, ratio);
}

/* ---- small enums ---- */

static void load_exporter(struct loader *l)
{
	const char *s = env(l, "OTEL_TRACES_EXPORTER");

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

		warn_using(l, known ? "unsupported" : "invalid",
			   "OTEL_TRACES_EXPORTER", s, "otlp or none", "otlp");
	}
}

static void load_protocol(struct loader *l, const char *name)
{
	const char *s = env(l, name);

	if (s == NULL || str_eq_ci(s, "http/protobuf"))
		return;
	warn_using(l,
		   (str_eq_ci(s, "grpc") || str_eq_ci(s, "http/json")) ?
			   "unsupported" : "invalid",
		   name, s, "http/protobuf", "http/protobuf");
}

static void load_compression(struct loader *l, const char *name)
{
	const char *s = env(l, name);

	if (s == NULL)
		return;
	if (str_eq_ci(s, "none"))
		l->cfg->compression = AT_COMPRESSION_NONE;
	else if (str_eq_ci(s, "gzip"))
		l->cfg->compression = AT_COMPRESSION_GZIP;
	else
		warn_using(l, "invalid", name, s, "none or gzip",
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
	cfg->db_query_max = 1024;
	cfg->propagate_preload = AT_PRELOAD_RULE;
	cfg->process_spans = 1;
	cfg->spool_dir[0] = '\0';
	cfg->spool_max_mb = 64;
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
	s = env(l, name);
	if (s != NULL) {
		n = strlen("an integer from 1 to the queue size ");
		memcpy(expected, "an integer from 1 to the queue size ", n);
		u32_str(cfg->bsp_max_queue_size, expected + n);
		if (parse_u32(s, &v) < 0 || v == 0) {
			warn_using(l, "invalid", name, s, expected,
				   u32_str(batch, num));
		} else if (v > cfg->bsp_max_queue_size) {
			batch = cfg->bsp_max_queue_size;
			warn_using(l, "invalid", name, s, expected,
				   u32_str(batch, num));
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
	load_resource(&l);
	load_sampler(&l);
	load_exporter(&l);

	load_protocol(&l, "OTEL_EXPORTER_OTLP_PROTOCOL");
	load_protocol(&l, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
	load_endpoint(&l, "OTEL_EXPORTER_OTLP_ENDPOINT", 1);
	load_endpoint(&l, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", 0);
	load_headers(&l);
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
	load_preload(&l);
	load_bool(&l, "AUTOTRACE_PROCESS_SPANS", &cfg->process_spans, 1);
	load_spool_dir(&l);
	load_u32(&l, "AUTOTRACE_SPOOL_MAX_MB", &cfg->spool_max_mb,
		 &rule_spool_mb);
}
