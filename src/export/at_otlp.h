/*
 * at_otlp.h - OTLP/protobuf encoding of span records, written directly in
 * the wire format of the project's own .proto files (src/proto/, field
 * numbers from the OpenTelemetry protocol specification), byte for byte
 * what protobuf-c would pack; and the collector's answer, read with
 * protobuf-c.
 *
 * One ExportTraceServiceRequest holds one ResourceSpans (our resource), one
 * ScopeSpans (scope "libautotrace", version AT_VERSION) and the spans.
 * The encoder allocates nothing but the output's growth; it keeps static
 * state (it belongs to the exporter thread; not thread-safe).
 */
#ifndef AT_OTLP_H
#define AT_OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "at_buf.h"
#include "at_resource.h"
#include "at_span.h"

#define AT_SCOPE_NAME "libautotrace"

/* Where the encoder writes (at_otlp.c). */
struct at_otlp_writer {
	struct at_buf *out;
	uint8_t *p;   /* the next byte */
	uint8_t *end; /* the end of the room made */
};

/* A request written span by span: at_otlp_begin, at_otlp_add per
 * record, at_otlp_finish.  Fields are the encoder's. */
struct at_otlp_req {
	struct at_otlp_writer w;
	size_t base;      /* where the request starts in out */
	size_t g1, g2;    /* varint widths given to the two outer lengths */
	size_t ss_len_at; /* where ScopeSpans' length goes */
	size_t spans_at;  /* where the first span goes */
	size_t n;         /* spans added */
	int failed;       /* memory ran out: out was reset */
};

/*
 * Begin a request in out (after its bytes); n: about how many spans it
 * will have (only the widths of two lengths depend on it: a wrong guess
 * costs a move of the spans' bytes, once).  at_otlp_add appends a span;
 * at_otlp_finish writes the lengths.  Each returns 0, or -1 if memory
 * ran out (out is then reset to empty and the request is over: further
 * calls return -1).  The records need live only during at_otlp_add.
 */
int at_otlp_begin(struct at_otlp_req *q, size_t n,
		  const struct at_resource *res, struct at_buf *out);
int at_otlp_add(struct at_otlp_req *q, const struct at_span_hdr *rec);
int at_otlp_finish(struct at_otlp_req *q);

/*
 * Append the encoded ExportTraceServiceRequest for recs[0..n) to out.
 * Returns 0, or -1 if memory ran out (out is then reset to empty).
 */
int at_otlp_encode(const struct at_span_hdr *const *recs, size_t n,
		   const struct at_resource *res, struct at_buf *out);

/*
 * Read an ExportTraceServiceResponse body.  An empty body is a full
 * success.  On a partial success *rejected gets rejected_spans and msg the
 * error_message (truncated, NUL-terminated).  Returns 0, or -1 if the body
 * is not a valid response (the caller treats that as success: the
 * collector accepted the request with 200).
 */
int at_otlp_parse_response(const uint8_t *body, size_t len, int64_t *rejected,
			   char *msg, size_t msg_cap);

#endif
