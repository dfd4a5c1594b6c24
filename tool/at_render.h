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
	int only_late;         /* at_render_text_trace: the late spans only */
	int no_legend;         /* leave out the legend line */
};

/* The terminal's width: TIOCGWINSZ on fd, else the COLUMNS value given
 * (the environment's), else 100; at least 40. */
int at_render_term_width(int fd, const char *columns);
/* Colours: fd is a terminal and no_color (NO_COLOR's value) is unset or
 * empty. */
int at_render_want_color(int fd, const char *no_color);
/* Write prefix then text wrapped at spaces to width columns (a word
 * longer than a line is split), continuation lines indented as deep as
 * the prefix; never cuts anything.  Each line ends with '\n'. */
void at_render_wrap(FILE *f, const char *prefix, const char *text,
		    int width);
/* One trace in full (header, tree, findings), as at_render_text() shows
 * it; with o->only_late, the header says it is an addition and only the
 * spans marked late are listed. */
/* The legend of the marks, one line and a blank one. */
void at_render_legend(FILE *f, int color);
void at_render_text_trace(FILE *f, const struct at_traces *t,
			  const struct at_tv_trace *tr,
			  const struct at_render_opts *o);

/*
 * Terminal view: a legend line, then for few traces (<= max_full), each
 * in full: a header (trace id, endpoint and status, duration, span count,
 * errors), then the tree of spans, one line each: indentation, service,
 * operation (at_tv_span_op), key attributes (host and status; query and
 * rows; peer), duration, a waterfall bar scaled to the trace, errors
 * marked (with their message, or HTTP <code>), the critical path's
 * slowest span highlighted; then the findings, wrapped, each with its
 * fix.  For many traces: the endpoints table first (service + method +
 * route: count, error rate, p50/p90/p99, queries per request), then the
 * slowest max_full traces in full.
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

/*
 * One trace as the page's JSON (the object described at the top of
 * at_render_html.c; also /api/traces/{id} of the live dashboard): spans
 * in tree order with their operation ("op"), error text ("err"), span
 * and resource attributes ("attrs", "res"), findings with tag and fix.
 * 0, or -1 when out of memory.
 */
int at_render_trace_json(FILE *f, const struct at_traces *t,
			 const struct at_tv_trace *tr);
/* str as a JSON string (NULL as ""): escaped, invalid UTF-8 as U+FFFD,
 * "</" and "<!" escaped so that it is safe inside a <script> element. */
void at_render_json_str(FILE *f, const char *str);
/* b[0..n) as a quoted lower-case hex string. */
void at_render_json_hex(FILE *f, const uint8_t *b, size_t n);

#endif
