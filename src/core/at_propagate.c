/*
 * at_propagate.c - a span's header lines (at_propagate.h).
 */
#include "at_propagate.h"

#include "at_baggage.h"
#include "at_config.h"

bool at_span_passes_baggage(const struct at_span *s, unsigned skip)
{
	return s->h.baggage_slot &&
	       (at_cfg.propagators & ~skip & AT_PROP_BAGGAGE);
}

size_t at_span_header_lines(const struct at_span *s, unsigned skip,
			    const char *eol, char *out, size_t cap)
{
	unsigned mask = at_cfg.propagators & ~skip;
	size_t ts_len;
	const char *ts = at_span_tracestate(s, &ts_len);

	if (!(mask & AT_PROP_TRACECONTEXT))
		ts_len = 0;
	if (at_span_passes_baggage(s, skip) &&
	    cap >= AT_SPAN_LINES_WITH_BAGGAGE) {
		char *list = out + cap - (AT_BAGGAGE_MAX + 1);
		int n = at_baggage_copy(at_span_baggage(s), list,
					AT_BAGGAGE_MAX + 1);

		if (n > 0)
			return at_prop_lines(at_span_ctx(s), ts, ts_len, list,
					     (size_t)n, mask, 0, eol, out,
					     cap - (AT_BAGGAGE_MAX + 1));
	}
	return at_prop_lines(at_span_ctx(s), ts, ts_len, NULL, 0,
			     mask & ~AT_PROP_BAGGAGE, 0, eol, out, cap);
}
