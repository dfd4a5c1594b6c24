/*
 * at_traces.h - the traces the autotrace command shows: spans collected
 * from OTLP requests (or from OTLP-JSON lines), grouped by trace, linked
 * into trees, with the critical path and findings (N+1 patterns,
 * sequential calls that could run in parallel, a span that is most of its
 * trace).  Tool-only (not in libautotrace.so): it allocates freely.
 *
 * The model is split by job: at_traces.c (the records, decoded requests
 * in, trees and critical paths out), at_findings.c (the findings of a
 * linked trace), at_otlpjson_read.c (OTLP-JSON lines in, through the
 * JSON reader at_json.c) and at_otlpjson_write.c (requests out as
 * OTLP-JSON lines).
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

	/* filled by at_traces_build() */
	struct at_tv_span *parent;      /* NULL for roots (and orphans) */
	struct at_tv_span **children;   /* by start time */
	size_t n_children;
	int depth;
	int critical;                   /* on the trace's critical path */
};

enum at_tv_finding_kind {
	AT_FIND_N_PLUS_ONE = 0, /* the same query/request repeated under one parent */
	AT_FIND_SEQUENTIAL,     /* sibling calls one after another, independent */
	AT_FIND_DOMINANT,       /* one span is more than 50 % of its trace */
};

struct at_tv_finding {
	enum at_tv_finding_kind kind;
	struct at_tv_span *parent;  /* N+1, sequential: the common parent */
	struct at_tv_span **spans;  /* the spans concerned */
	size_t n_spans;
	uint64_t total_ns;          /* their summed duration */
	char *text;                 /* one line, e.g. "SELECT … ran 47 times, 380 ms total" */
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
};

struct at_traces {
	struct at_tv_trace *traces; /* by start time, after build */
	size_t n_traces;
	/* all spans, owned */
	struct at_tv_span **all;
	size_t n_all, cap_all;
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

/* ---- between the model's own files ---- */

/* Add s (calloc'd; its strings and arrays malloc'd or NULL) to t, which
 * then owns it. */
void at_traces_push(struct at_traces *t, struct at_tv_span *s);
void at_tv_span_free(struct at_tv_span *s);
/* 1 if an id of n bytes is not all zero (a present parent). */
int at_tv_id_nonzero(const uint8_t *p, size_t n);
/* Compute the findings of tr, once its tree is linked (at_findings.c). */
void at_tv_find(struct at_tv_trace *tr);

#endif
