/*
 * at_otlp_json.h - OTLP/JSON encoding of span records
 * (OTEL_EXPORTER_OTLP_PROTOCOL=http/json), the same request as at_otlp.h
 * encodes in protobuf: one ResourceSpans (our resource), one ScopeSpans
 * (scope AT_SCOPE_NAME, version AT_VERSION) and the spans.
 *
 * Exporter thread only (it allocates through the output buffer).
 */
#ifndef AT_OTLP_JSON_H
#define AT_OTLP_JSON_H

#include <stddef.h>

#include "at_buf.h"
#include "at_resource.h"
#include "at_span.h"

#define AT_OTLP_JSON_CONTENT_TYPE "application/json"

/*
 * Append the ExportTraceServiceRequest for recs[0..n) as OTLP/JSON to
 * out.  Returns 0, or -1 if memory ran out (out is then reset to empty).
 */
int at_otlp_json_encode(const struct at_span_hdr *const *recs, size_t n,
			const struct at_resource *res, struct at_buf *out);

#endif
