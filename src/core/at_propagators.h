/*
 * at_propagators.h - the header formats other than W3C traceparent that
 * carry a span context between processes (OpenTelemetry's
 * OTEL_PROPAGATORS): B3 single header and B3 multiple headers (Zipkin),
 * Jaeger's uber-trace-id, and the W3C Baggage list.
 *
 * Pure functions, no allocation, no global state, like at_traceparent.h:
 * safe in hooks.  Invalid input is "absent" (-1), never a crash; the
 * formats written are the ones the OpenTelemetry SDKs write.
 */
#ifndef AT_PROPAGATORS_H
#define AT_PROPAGATORS_H

#include <stddef.h>
#include <stdint.h>

#include "at_traceparent.h"

/* A header field's value as found in a request (p NULL: absent). */
struct at_prop_str {
	const char *p;
	size_t len;
};

/* The propagators, as bits (OTEL_PROPAGATORS names them). */
enum {
	AT_PROP_TRACECONTEXT = 1 << 0, /* traceparent + tracestate */
	AT_PROP_BAGGAGE = 1 << 1,      /* baggage */
	AT_PROP_B3 = 1 << 2,           /* b3 (single header) */
	AT_PROP_B3MULTI = 1 << 3,      /* X-B3-TraceId, -SpanId, -Sampled */
	AT_PROP_JAEGER = 1 << 4,       /* uber-trace-id */
};
#define AT_PROP_DEFAULT (AT_PROP_TRACECONTEXT | AT_PROP_BAGGAGE)
#define AT_PROP_MAX 5 /* distinct propagators in a list */

/*
 * Parse an OTEL_PROPAGATORS value: names separated by commas (spaces
 * around them ignored), in order, each once.  "none" alone means none
 * (mask 0).  Writes the order of the propagators (bits) to order[] and
 * their count to *n, and the mask to *mask.  Returns 0, or -1 when a
 * name is unknown (or "none" is mixed with others): then the outputs
 * are untouched and *bad (if not NULL) points at the offending name in
 * v, *bad_len its length.
 */
int at_propagators_parse(const char *v, unsigned *mask,
			 uint8_t order[AT_PROP_MAX], int *n,
			 const char **bad, size_t *bad_len);

/*
 * B3 single header "b3": {trace}-{span}[-{sampling}[-{parent}]], trace
 * 32 or 16 lower-hex digits (16 are the low half: zero-padded), span 16,
 * sampling 1, 0 or d (debug: sampled), parent 16 digits (ignored).  A
 * value that is only a sampling state carries no context (-1).  Sampling
 * absent: sampled (the receiver decides; ours is the parent's choice).
 */
int at_b3_parse(const char *s, size_t len, struct at_span_context *out);
#define AT_B3_LEN (32 + 1 + 16 + 1 + 1)
/* {trace}-{span}-{1|0}: AT_B3_LEN characters and a NUL. */
size_t at_b3_format(const struct at_span_context *ctx, char out[AT_B3_LEN + 1]);

/*
 * B3 multiple headers: the values of X-B3-TraceId, X-B3-SpanId,
 * X-B3-Sampled (1/0, or true/false) and X-B3-Flags (1 = debug: sampled),
 * each NULL when absent.  Trace and span ids are required.
 */
int at_b3multi_parse(const char *trace, size_t trace_len, const char *span,
		     size_t span_len, const char *sampled, size_t sampled_len,
		     const char *flags, size_t flags_len,
		     struct at_span_context *out);

/*
 * Jaeger "uber-trace-id": {trace}:{span}:{parent}:{flags}, ids in hex of
 * up to 32 and 16 digits (shorter ones are zero-padded on the left; all
 * zero is invalid), the parent ignored (deprecated, "0"), flags in hex
 * (bit 1 sampled, bit 2 debug: sampled).  ':' may arrive URL-encoded
 * ("%3A").
 */
int at_jaeger_parse(const char *s, size_t len, struct at_span_context *out);
#define AT_JAEGER_LEN (32 + 1 + 16 + 3 + 2)
/* {trace}:{span}:0:{01|00}: AT_JAEGER_LEN characters and a NUL. */
size_t at_jaeger_format(const struct at_span_context *ctx,
			char out[AT_JAEGER_LEN + 1]);

/*
 * W3C Baggage: validate a baggage-string and copy it to out without
 * surrounding whitespace, empty list members dropped, whitespace around
 * members, '=', ';' and properties removed.  A value that breaks the
 * grammar is discarded whole (-1, out[0] NUL).  The limits (64 list
 * members, 8192 bytes, or cap - 1 when smaller) are kept by dropping
 * members from the end.  Returns the length written (0: empty).
 */
#define AT_BAGGAGE_MAX_MEMBERS 64
#define AT_BAGGAGE_MAX 8192
int at_baggage_sanitize(const char *in, size_t len, char *out, size_t cap);
/* The same for the values of several baggage fields, one list (RFC 9110
 * field combination). */
int at_baggage_sanitize_parts(const struct at_prop_str *parts, size_t n,
			      char *out, size_t cap);

/*
 * The value of key in a sanitized baggage list, percent-decoded into val
 * (NUL-terminated; cut at cap - 1 on a UTF-8 boundary is the caller's
 * concern: bytes are copied as decoded).  Returns its length, or -1 when
 * the key is absent or the value is not valid percent-encoding.
 */
int at_baggage_get(const char *bag, size_t len, const char *key, char *val,
		   size_t cap);

/* ---- composition: what OTEL_PROPAGATORS reads and writes ---- */

/* The propagation fields of a request (each the first of its name;
 * n_traceparent counts them, as two traceparents are no context). */
struct at_prop_fields {
	struct at_prop_str traceparent;
	int n_traceparent;
	struct at_prop_str b3;
	struct at_prop_str b3_trace, b3_span, b3_sampled, b3_flags;
	struct at_prop_str uber;
};

/* Which propagation header a field name is: one of the AT_PROP_* bits
 * (AT_PROP_TRACECONTEXT for traceparent and tracestate, AT_PROP_B3MULTI
 * for every X-B3-* name), or 0.  Case-insensitive.  *which tells the
 * field within its format (the at_prop_field values). */
enum at_prop_field {
	AT_PF_TRACEPARENT = 1, AT_PF_TRACESTATE, AT_PF_BAGGAGE, AT_PF_B3,
	AT_PF_B3_TRACE, AT_PF_B3_SPAN, AT_PF_B3_SAMPLED, AT_PF_B3_FLAGS,
	AT_PF_B3_PARENT, AT_PF_UBER,
};
unsigned at_prop_field_of(const char *name, size_t len,
			  enum at_prop_field *which);

/* The member of f that keeps the first value of field which (b3, X-B3-*,
 * uber-trace-id, traceparent), or NULL for the fields callers keep their
 * own way (tracestate, baggage, X-B3-ParentSpanId). */
struct at_prop_str *at_prop_fields_slot(struct at_prop_fields *f,
					enum at_prop_field which);

/*
 * The span context of a request under the propagators of order[0..n):
 * each is tried in turn and a later one found valid replaces an earlier
 * one's (OpenTelemetry's composite propagator).  Returns the format that
 * gave it (an AT_PROP_* bit), or 0 when none did (*out untouched).
 */
unsigned at_prop_extract(const struct at_prop_fields *f, const uint8_t *order,
			 int n, struct at_span_context *out);

/*
 * The header lines a request carries for ctx under the propagators of
 * mask, leaving out the formats in skip (the program sent its own):
 * traceparent (+ tracestate when ts_len), b3, X-B3-TraceId/SpanId/Sampled,
 * uber-trace-id, baggage (when bag_len); each ends with eol.  Written
 * whole or not at all (a line that does not fit in cap - 1 is left out,
 * with the rest).  Returns the length written (out NUL-terminated).
 */
size_t at_prop_lines(const struct at_span_context *ctx, const char *ts,
		     size_t ts_len, const char *bag, size_t bag_len,
		     unsigned mask, unsigned skip, const char *eol, char *out,
		     size_t cap);

#endif
