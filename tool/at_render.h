/*
 * at_render.h - showing traces: the terminal view and the HTML page of the
 * autotrace command.  Tool-only.
 */
#ifndef AT_RENDER_H
#define AT_RENDER_H

#include <stdint.h>
#include <stdio.h>

#include "at_traces.h"

struct at_render_opts {
	int color;             /* ANSI colours (TTY and no NO_COLOR) */
	int width;             /* terminal columns (default 100) */
	uint64_t min_duration_ns; /* hide traces shorter than this */
	int max_full;          /* traces shown in full when there are many (default 5) */
};

/*
 * Terminal view: for few traces (<= max_full), each in full: a header
 * (trace id, duration, span count, errors), then the tree of spans, one
 * line each: indentation, service, name, kind, duration, key attributes
 * (method + URL + status; operation + query + rows; peer), a waterfall bar
 * scaled to the trace, errors marked (with their message), the critical
 * path's slowest span highlighted; then the findings.  For many traces: a
 * per-endpoint summary first (root span name: count, error rate, p50/p90/
 * p99 duration), then the slowest max_full traces in full.
 */
void at_render_text(FILE *f, const struct at_traces *t,
		    const struct at_render_opts *o);

/*
 * One self-contained HTML file (no network, no external scripts or fonts):
 * the trace list with the per-endpoint summary and latency histograms, and
 * for each trace an interactive waterfall (expand/collapse, click a span
 * for all its attributes and events in a side panel, errors in red,
 * findings highlighted).  Returns 0, or -1 on a write error.
 */
int at_render_html(FILE *f, const struct at_traces *t, const char *title);

#endif
