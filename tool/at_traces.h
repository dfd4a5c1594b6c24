/*
 * at_traces.h - the traces the autotrace command shows: spans collected
 * from OTLP requests (or from OTLP-JSON lines), grouped by trace, linked
 * into trees, with the critical path, the endpoints (service + method +
 * route, with their RED figures) and the findings of each trace.
 * Tool-only (not in libautotrace.so): it allocates freely.
 *
 * The model is split by job: at_traces.c (the records, decoded requests
 * in, trees and critical paths out), at_routes.c (what a span is about:
 * route templates, operation names, signatures), at_endpoints.c (the
 * endpoints table, bounded), at_findings.c (the findings of a linked
 * trace), at_otlpjson_read.c (OTLP-JSON lines in, through the JSON
 * reader at_json.c) and at_otlpjson_write.c (requests out as OTLP-JSON
 * lines).  at_assembly.c decides when a trace received by `autotrace
 * serve` is complete; at_diff.c compares two sets of traces.
 *
 * For views (the terminal, the page, the /api/ of the live UI), after
 * at_traces_build():
 *   t->traces[i]            a trace: spans by start, roots, findings,
 *                           tr->endpoint (index into t->endpoints or -1),
 *                           tr->http_status (root's status code or 0)
 *   t->endpoints[k]         service, method, route, count, errors,
 *                           p50/p90/p99, queries per request
 *   at_tv_span_op(s)        "GET /orders/{id}", "SELECT orders",
 *                           "GET user:? hit" (malloc'd)
 *   at_tv_span_error_text   the error of a span in words ("HTTP 502")
 *   at_tv_finding_tag(k)    "N+1", "parallel", "slow", "error", ...
 *   s->endpoint             the endpoint a server/root span belongs to
 *   s->missing_parent       1 when its announced parent never came
 */
#ifndef AT_TRACES_H
#define AT_TRACES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "at_receiver.h"

enum at_tv_type { AT_TV_STRING = 0, AT_TV_INT, AT_TV_DOUBLE, AT_TV_BOOL };

struct at_tv_attr {
	char *key;
	char *value;          /* printable form (strings unquoted) */
	enum at_tv_type type;
};

struct at_tv_event {
	char *name;
	uint64_t time_ns;
	struct at_tv_attr *attrs;
	size_t n_attrs;
};

struct at_tv_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_id[8];
	int has_parent;
	char *name;
	int kind;             /* OTLP SpanKind: 1 internal .. 5 consumer */
	uint64_t start_ns, end_ns;
	int status;           /* 0 unset, 1 ok, 2 error */
	char *status_msg;     /* "" if none */
	char *service;        /* resource service.name ("" if none) */
	struct at_tv_attr *attrs;
	size_t n_attrs;
	struct at_tv_event *events;
	size_t n_events;
	struct at_tv_attr *res_attrs;   /* its resource's attributes */
	size_t n_res_attrs;

	/* filled by at_traces_build() */
	struct at_tv_span *parent;      /* NULL for roots (and orphans) */
	struct at_tv_span **children;   /* by start time */
	size_t n_children;
	int depth;
	int critical;                   /* on the trace's critical path */
	int endpoint;                   /* index in t->endpoints, or -1 */
	int missing_parent;             /* has_parent, parent not in the set */

	/* kept across builds: set by the assembler (at_assembly.c) */
	int late;                       /* arrived after its trace was shown */
};

/*
 * The findings (rules in at_findings.c).  AT_FIND_SEQUENTIAL is the
 * "independent calls that could run in parallel" rule; AT_FIND_DOMINANT
 * is no longer produced (it said nothing a user could act on).  The
 * kinds after it are a second enum so that at_render_html.c's switch
 * still compiles until the page names them; use at_tv_finding_tag().
 */
enum at_tv_finding_kind {
	AT_FIND_N_PLUS_ONE = 0, /* the same query/request >= 5 times in a row */
	AT_FIND_SEQUENTIAL,     /* independent calls one after another */
	AT_FIND_DOMINANT,       /* (no longer produced) */
};
enum {
	AT_FIND_SLOW = AT_FIND_DOMINANT + 1, /* slower than its endpoint's p90 */
	AT_FIND_ERROR,          /* the deepest failing span and its chain */
	AT_FIND_RETRY,          /* the same call repeated after an error */
	AT_FIND_CACHE_MISS,     /* cache misses dominate an endpoint's lookups */
	AT_FIND_KINDS
};

struct at_tv_finding {
	enum at_tv_finding_kind kind;
	struct at_tv_span *parent;  /* where: the common parent (or the span) */
	struct at_tv_span **spans;  /* the spans concerned */
	size_t n_spans;
	uint64_t total_ns;          /* how much time it costs */
	char *text;                 /* what and where, one line */
	char *fix;                  /* a one-line fix */
};

/* "N+1", "parallel", "slow", "error", "retry", "cache". */
const char *at_tv_finding_tag(int kind);

/*
 * An endpoint: a service's method + route (at_endpoints.c).  Endpoint
 * spans are server spans with an HTTP method, and roots with one (a
 * client such as curl starting the trace).  Routes are http.route, else
 * at_route_template() of the path; at most AT_ROUTES_PER_SERVICE
 * distinct routes per service (first seen first), the others fall into
 * the route AT_ROUTE_OTHER.
 */
#define AT_ROUTES_PER_SERVICE 100
#define AT_ROUTE_OTHER "{other}"
#define AT_ROUTE_MAX 256

struct at_tv_endpoint {
	char *service, *method, *route;
	char *name;                 /* "service METHOD route" */
	size_t count, errors;
	uint64_t p50, p90, p99;     /* nearest rank over the set */
	uint64_t total_ns;
	size_t queries;             /* database/cache spans under its spans */
	double queries_per_req;
};

struct at_tv_trace {
	uint8_t trace_id[16];
	struct at_tv_span **spans;  /* by start time */
	size_t n_spans;
	struct at_tv_span **roots;  /* spans without a parent in the trace */
	size_t n_roots;
	uint64_t start_ns, end_ns;
	int has_error;
	struct at_tv_finding *findings;
	size_t n_findings;
	int endpoint;               /* of its first root, or -1 */
	int http_status;            /* its first root's status code, or 0 */
	int missing_parents;        /* spans whose parent is announced, absent */
};

struct at_traces {
	struct at_tv_trace *traces; /* by start time, after build */
	size_t n_traces;
	/* all spans, owned */
	struct at_tv_span **all;
	size_t n_all, cap_all;
	/* after build */
	struct at_tv_endpoint *endpoints; /* by name */
	size_t n_endpoints;
};

struct at_traces *at_traces_new(void);
void at_traces_free(struct at_traces *t);

/* Copy every span of a decoded request into t. */
void at_traces_add_request(struct at_traces *t, const at_otlp_request *req);

/*
 * Parse one line of OTLP-JSON (an ExportTraceServiceRequest as the
 * OpenTelemetry Collector's file exporter writes it: camelCase fields,
 * hex ids, int64 as strings) and add its spans.  0, or -1 if the line is
 * not valid OTLP-JSON (nothing is added then).  (at_otlpjson_read.c)
 */
int at_traces_add_json(struct at_traces *t, const char *line, size_t len);

/* Group spans by trace, link trees, compute critical paths and findings;
 * call again after adding more spans. */
void at_traces_build(struct at_traces *t);

/* Write req as one line of OTLP-JSON (the Collector file exporter's
 * format), ending with '\n'.  0 or -1.  (at_otlpjson_write.c) */
int at_otlpjson_write(FILE *f, const at_otlp_request *req);

/* Span duration, and a human form ("1.23 ms"). */
static inline uint64_t at_tv_dur(const struct at_tv_span *s)
{
	return s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
}
void at_tv_fmt_dur(uint64_t ns, char *out, size_t cap);
/* The value of an attribute of s, or NULL. */
const char *at_tv_attr(const struct at_tv_span *s, const char *key);
/* The shortest "%g" form of d that reads back as the same double; NaN,
 * Infinity and -Infinity spelt as proto3 JSON does. */
void at_tv_fmt_double(double d, char *out, size_t cap);

/* ---- what a span is about (at_routes.c; results malloc'd) ---- */

/* "/orders/42?x" -> "/orders/{id}" (never NULL). */
char *at_route_template(const char *path);
/* "user:42" -> "user:?". */
char *at_cache_key_template(const char *key);
/* 1 if s[0..n) looks like an identifier (digits, UUID, hex id, token). */
int at_route_is_id(const char *s, size_t n);
/* The path of an HTTP span (url.path, else url.full's), without the
 * query: its start and *len, or NULL. */
const char *at_tv_span_path(const struct at_tv_span *s, size_t *len);
/* http.route, else the template of the path ("/" without one). */
char *at_tv_span_route(const struct at_tv_span *s);
/* "GET /orders/{id}", "SELECT orders", "GET user:? hit", else the name. */
char *at_tv_span_op(const struct at_tv_span *s);
/* What a repeated call is: the sanitised query on one line for SQL,
 * else the operation without hit/miss. */
char *at_tv_span_what(const struct at_tv_span *s);
/* "system|address:port" of a client span ("http|..." for HTTP). */
char *at_tv_span_target(const struct at_tv_span *s);
/* target + what: equal for "the same call". */
char *at_tv_span_signature(const struct at_tv_span *s);
int at_tv_span_is_cache(const struct at_tv_span *s);
int at_tv_span_is_connect(const struct at_tv_span *s);
/* The error of s in words: its status message, else "HTTP <code>",
 * else error.type, else "error"; into out. */
void at_tv_span_error_text(const struct at_tv_span *s, char *out,
			   size_t cap);

/* ---- between the model's own files ---- */

/* Add s (calloc'd; its strings and arrays malloc'd or NULL) to t, which
 * then owns it. */
void at_traces_push(struct at_traces *t, struct at_tv_span *s);
void at_tv_span_free(struct at_tv_span *s);
/* 1 if an id of n bytes is not all zero (a present parent). */
int at_tv_id_nonzero(const uint8_t *p, size_t n);
/* Compute the findings of tr, once its tree is linked and the endpoints
 * are known (at_findings.c). */
void at_tv_find(const struct at_traces *t, struct at_tv_trace *tr);
/* Fill t->endpoints and each span's and trace's endpoint
 * (at_endpoints.c); at_tv_endpoints_free() frees them. */
void at_tv_endpoints_build(struct at_traces *t);
void at_tv_endpoints_free(struct at_traces *t);
/* Remove (and free) every span of trace id; call build again after. */
void at_traces_drop_trace(struct at_traces *t, const uint8_t id[16]);

#endif
