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
