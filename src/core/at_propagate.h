/*
 * at_propagate.h - a span's context as the header lines of the
 * configured propagators (OTEL_PROPAGATORS): what every injection point
 * (the socket layer and the TLS layer through it, libcurl, the Node
 * bridge's HTTPS spans) adds to a request it traces.
 *
 * The trace-context formats fit in AT_SPAN_LINES_MAX bytes; a request's
 * baggage (at_baggage.h) needs a buffer of AT_SPAN_LINES_WITH_BAGGAGE
 * (its list is copied to the buffer's tail first, then written once more
 * as a line).  No allocation, no lock.
 */
#ifndef AT_PROPAGATE_H
#define AT_PROPAGATE_H

#include <stdbool.h>
#include <stddef.h>

#include "at_propagators.h"
#include "at_span.h"

/* traceparent (70) + tracestate (526), b3 (57), X-B3-* (96),
 * uber-trace-id (71) and the NUL: 821 bytes at most. */
#define AT_SPAN_LINES_ID 832
#define AT_SPAN_LINES_MAX 1024 /* an inline buffer for those */
/* ...with a baggage line ("baggage: " list eol), and the list copied. */
#define AT_SPAN_LINES_WITH_BAGGAGE                                           \
	(AT_SPAN_LINES_ID + 16 + AT_BAGGAGE_MAX + AT_BAGGAGE_MAX + 1)

/* Does s carry a request's baggage that the configured propagators,
 * minus the formats in skip, pass on? */
bool at_span_passes_baggage(const struct at_span *s, unsigned skip);

/*
 * The lines for s in the configured formats minus skip (the formats the
 * request carries itself), each ending with eol; the baggage line only
 * when cap is AT_SPAN_LINES_WITH_BAGGAGE or more.  Whole lines only.
 * Returns the length written (out NUL-terminated).
 */
size_t at_span_header_lines(const struct at_span *s, unsigned skip,
			    const char *eol, char *out, size_t cap);

#endif
