/*
 * at_span_rec.h - the storage of a span (struct at_span: a fixed-size
 * header, attributes, events and a string arena) and the accessors of its
 * serialised form, a ring record.  at_span.h has the functions that start,
 * fill and end spans; modules that only look at spans (the context
 * references of at_context.c, the exporter's reader) need only this.
 */
#ifndef AT_SPAN_REC_H
#define AT_SPAN_REC_H

#include <stddef.h>
#include <stdint.h>

#include "at_traceparent.h"

#define AT_SPAN_MAX_ATTRS 32
#define AT_SPAN_MAX_EVENTS 4
#define AT_SPAN_MAX_EVENT_ATTRS 8 /* shared by all events of a span */
#define AT_SPAN_ARENA 2048
#define AT_SPAN_NAME_MAX 128

/* Same values as OTLP's Span.SpanKind. */
enum at_span_kind {
	AT_KIND_INTERNAL = 1,
	AT_KIND_SERVER = 2,
	AT_KIND_CLIENT = 3,
	AT_KIND_PRODUCER = 4,
	AT_KIND_CONSUMER = 5,
};

/* Same values as OTLP's Status.StatusCode. */
enum at_status_code {
	AT_STATUS_UNSET = 0,
	AT_STATUS_OK = 1,
	AT_STATUS_ERROR = 2,
};

enum at_attr_type {
	AT_ATTR_STRING = 0,
	AT_ATTR_INT,
	AT_ATTR_DOUBLE,
	AT_ATTR_BOOL,
};

/* A string stored in the span's arena. */
struct at_str {
	uint16_t off;
	uint16_t len;
};

struct at_attr {
	const char *key; /* static string */
	uint8_t type;    /* enum at_attr_type */
	union {
		int64_t i;
		double d;
		int64_t b; /* 0 or 1 */
		struct at_str s;
	} v;
};

struct at_event {
	const char *name; /* static string */
	uint64_t time_unix_ns;
	uint8_t first_attr; /* index into ev_attrs */
	uint8_t n_attrs;
	uint8_t dropped_attrs;
};

enum at_span_state {
	AT_SPAN_FREE = 0,     /* never started, or ended */
	AT_SPAN_RECORDING,    /* started, sampled */
	AT_SPAN_PROPAGATING,  /* started, not sampled: ids only */
};

/* The fixed part of a span; also the header of a ring record. */
struct at_span_hdr {
	uint32_t rec_size;   /* record: total bytes incl. header, multiple of 8 */
	uint16_t arena_used;
	uint8_t n_attrs;
	uint8_t n_events;
	uint8_t n_ev_attrs;
	uint8_t kind;        /* enum at_span_kind */
	uint8_t status_code; /* enum at_status_code */
	uint8_t state;       /* enum at_span_state */
	uint8_t has_parent;
	uint8_t parent_is_remote;
	uint8_t on_stack;    /* pushed on the starting thread's stack */
	uint8_t baggage_slot; /* the request's baggage (at_baggage.h), 0: none */
	uint8_t baggage_owner; /* this span stored it: frees it at its end */
	uint8_t pad_[3];
	uint32_t dropped_attrs;
	uint32_t dropped_events;
	struct at_span_context ctx; /* this span's trace id, span id, flags */
	uint8_t parent_span_id[8];
	uint8_t pad2_[3];
	uint32_t baggage_gen;
	uint64_t start_unix_ns;
	uint64_t end_unix_ns;
	uint64_t start_mono_ns;
	struct at_str name;
	struct at_str status_message;
	struct at_str tracestate;
	uint16_t pad3_;
};

struct at_span {
	struct at_span_hdr h;
	/* Right after the header, as in a record: the two are copied into
	 * the ring together (at_span.c). */
	struct at_attr attrs[AT_SPAN_MAX_ATTRS];
	uint64_t key_bits; /* a bit per key set (at_span.c), not recorded */
	struct at_event events[AT_SPAN_MAX_EVENTS];
	struct at_attr ev_attrs[AT_SPAN_MAX_EVENT_ATTRS];
	char arena[AT_SPAN_ARENA];
};

/* ---- record accessors (a record is a serialised, ended span) ---- */

static inline const struct at_attr *at_rec_attrs(const struct at_span_hdr *r)
{
	return (const struct at_attr *)(const void *)(r + 1);
}

static inline const struct at_event *at_rec_events(const struct at_span_hdr *r)
{
	return (const struct at_event *)(const void *)(at_rec_attrs(r) + r->n_attrs);
}

static inline const struct at_attr *at_rec_ev_attrs(const struct at_span_hdr *r)
{
	return (const struct at_attr *)(const void *)(at_rec_events(r) + r->n_events);
}

static inline const char *at_rec_arena(const struct at_span_hdr *r)
{
	/* at_rec_ev_attrs(r) + r->n_ev_attrs, in one sum. */
	return (const char *)(const void *)(r + 1) +
	       ((size_t)r->n_attrs + r->n_ev_attrs) * sizeof(struct at_attr) +
	       (size_t)r->n_events * sizeof(struct at_event);
}

/* A reference to a started span that may end at any time, on any thread:
 * the span object (pooled storage, never unmapped) and its id, compared
 * at each use (at_context.h).  All zero: no span. */
struct at_ctx_entry {
	struct at_span *span;
	uint8_t span_id[8];
};

#endif
