/*
 * at_render_html.c - the autotrace command's HTML page (see at_render.h).
 *
 * What: at_render_html() writes one self-contained HTML document: an
 * inline <style>, the traces as one JSON object in a
 * <script type="application/json" id="data"> element, and an inline
 * <script> that draws everything from that object: the header counts, the
 * per-endpoint summary (endpoint = the root span's service and name:
 * count, error rate, p50/p90/p99 and a latency histogram), the trace list
 * and, for the trace clicked, the findings and an interactive waterfall
 * (expand/collapse, errors in red, spans in findings highlighted, a side
 * panel with all the attributes, events and status of the span clicked).
 *
 * Why this way: the page must open anywhere, offline, as one file that
 * can be mailed or attached to a ticket; so nothing is loaded from
 * elsewhere (a Content-Security-Policy forbids it too), and the C side
 * only serialises data while the layout lives in the script.  The style
 * sheet, the static body and the script are real files (tool/page/
 * page.css, body.html, page.js), embedded at build time by
 * tool/page/assets.S and written here verbatim around the data.
 *
 * The JSON: {"title", "traces": [{"id", "start_ms", "dur", "err", "root",
 * "spans": [...], "findings": [...]}]}.  Each trace's spans are listed in
 * tree order (depth first from the roots, children by start time), each
 * with "p", the index of its parent in that list (-1 for roots and
 * orphans), and "d", its depth; spans not reachable from a root (a parent
 * cycle in bad input) follow as extra roots.  Times ("s", "e", event "t")
 * are nanoseconds from the trace's start, so they stay exact as doubles.
 * Findings name their spans by index in the same list.
 *
 * Contract and limits: strings are escaped for JSON, invalid UTF-8 is
 * replaced by U+FFFD, and "</" and "<!" are written as "<\/" and
 * "\u003c!", so no data can end the script element early.  The text
 * written outside the JSON (the title) is HTML-escaped.  Returns -1 on a
 * write error or when out of memory.  Tool-only: it allocates.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_render.h"
#include "at_traces.h"
#include "at_utf8.h"

/*
 * The page's static parts, real files in tool/page/ embedded by
 * tool/page/assets.S: the style sheet, the skeleton the script fills, and
 * the script that draws the page from the JSON in #data.
 */
extern const char at_page_css[];
extern const char at_page_body[];
extern const char at_page_js[];

/* s as a JSON string (NULL as ""), safe inside a <script> element
 * (at_render.h). */
void at_render_json_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s);

	putc('"', f);
	while (n > 0) {
		uint32_t cp;
		size_t len = at_utf8_decode(s, n, &cp);

		if (len == 0) {
			fputs("\\ufffd", f);
			len = 1;
		} else if (cp == '"' || cp == '\\') {
			putc('\\', f);
			putc((int)cp, f);
		} else if (cp == '\n') {
			fputs("\\n", f);
		} else if (cp == '\r') {
			fputs("\\r", f);
		} else if (cp == '\t') {
			fputs("\\t", f);
		} else if (cp < 0x20 || cp == 0x7f) {
			fprintf(f, "\\u%04x", (unsigned int)cp);
		} else if (cp == '<' && n > 1 && s[1] == '/') {
			fputs("<\\/", f);
			len = 2;
		} else if (cp == '<' && n > 1 && s[1] == '!') {
			fputs("\\u003c", f);
		} else if (cp == 0x2028 || cp == 0x2029) {
			fprintf(f, "\\u%04x", (unsigned int)cp);
		} else {
			fwrite(s, 1, len, f);
		}
		s += len;
		n -= len;
	}
	putc('"', f);
}

/* s as HTML text (element content or a quoted attribute value). */
static void html_text(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s);

	while (n > 0) {
		uint32_t cp;
		size_t len = at_utf8_decode(s, n, &cp);

		if (len == 0) {
			fputs("\xef\xbf\xbd", f);
			len = 1;
		} else if (cp == '&') {
			fputs("&amp;", f);
		} else if (cp == '<') {
			fputs("&lt;", f);
		} else if (cp == '>') {
			fputs("&gt;", f);
		} else if (cp == '"') {
			fputs("&quot;", f);
		} else if (cp == '\'') {
			fputs("&#39;", f);
		} else if (cp < 0x20 && cp != '\t' && cp != '\n') {
			putc(' ', f);
		} else {
			fwrite(s, 1, len, f);
		}
		s += len;
		n -= len;
	}
}

void at_render_json_hex(FILE *f, const uint8_t *b, size_t n)
{
	putc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
	putc('"', f);
}

/* Nanoseconds from the trace's start (negative if before it). */
static int64_t rel_ns(const struct at_tv_trace *tr, uint64_t t)
{
	return (int64_t)(t - tr->start_ns);
}

static void json_attrs(FILE *f, const struct at_tv_attr *a, size_t n)
{
	putc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putc(',', f);
		putc('[', f);
		at_render_json_str(f, a[i].key);
		putc(',', f);
		at_render_json_str(f, a[i].value);
		fprintf(f, ",%d]", (int)a[i].type);
	}
	putc(']', f);
}

/* A span of the trace and its position in trace->spans, sorted by pointer. */
struct span_ix {
	const struct at_tv_span *s;
	size_t i;
};

static int span_ix_cmp(const void *a, const void *b)
{
	const struct at_tv_span *x = ((const struct span_ix *)a)->s;
	const struct at_tv_span *y = ((const struct span_ix *)b)->s;

	return x < y ? -1 : x > y;
}

/* The trace's spans in tree order; see the comment at the top. */
struct span_order {
	struct span_ix *ix;        /* by pointer */
	const struct at_tv_span **order;
	long *parent;              /* index in order, -1 */
	int *depth;
	size_t *pos;               /* by trace->spans index: index in order */
	unsigned char *seen;       /* by trace->spans index */
	size_t n;
};

/* Index of s in trace->spans, or -1 if s is not one of them. */
static long span_index(const struct span_order *o, size_t n_spans,
		       const struct at_tv_span *s)
{
	struct span_ix key = { .s = s }, *hit;

	hit = bsearch(&key, o->ix, n_spans, sizeof(*o->ix), span_ix_cmp);
	return hit ? (long)hit->i : -1;
}

static int start_cmp(const void *a, const void *b)
{
	const struct at_tv_span *x = *(const struct at_tv_span *const *)a;
	const struct at_tv_span *y = *(const struct at_tv_span *const *)b;

	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

/* Depth-first from s (not yet seen), with an explicit stack. */
static void order_from(struct span_order *o, const struct at_tv_trace *tr,
		       size_t si, size_t *stack)
{
	size_t top = 0;

	o->seen[si] = 1;
	stack[top++] = si;
	o->depth[si] = 0;       /* by spans index while on the stack */
	o->parent[si] = -1;
	while (top > 0) {
		size_t i = stack[--top];
		const struct at_tv_span *s = tr->spans[i];
		size_t at = o->n++;

		o->order[at] = s;
		o->pos[i] = at;
		/* push the children in reverse, so that they come out in order */
		for (size_t c = s->n_children; c-- > 0;) {
			long ci = span_index(o, tr->n_spans, s->children[c]);

			if (ci < 0 || o->seen[ci])
				continue;
			o->seen[ci] = 1;
			stack[top++] = (size_t)ci;
			o->depth[ci] = o->depth[i] + 1;
			o->parent[ci] = (long)i;
		}
	}
}

static void order_free(struct span_order *o)
{
	free(o->ix);
	free(o->order);
	free(o->parent);
	free(o->depth);
	free(o->pos);
	free(o->seen);
}

static int order_build(struct span_order *o, const struct at_tv_trace *tr)
{
	size_t n = tr->n_spans, nr = 0;
	const struct at_tv_span **roots = NULL;
	size_t *stack = NULL;
	int ret = -1;

	memset(o, 0, sizeof(*o));
	o->ix = calloc(n + 1, sizeof(*o->ix));
	o->order = calloc(n + 1, sizeof(*o->order));
	o->parent = calloc(n + 1, sizeof(*o->parent));
	o->depth = calloc(n + 1, sizeof(*o->depth));
	o->pos = calloc(n + 1, sizeof(*o->pos));
	o->seen = calloc(n + 1, 1);
	roots = calloc(tr->n_roots + 1, sizeof(*roots));
	stack = calloc(n + 1, sizeof(*stack));
	if (!o->ix || !o->order || !o->parent || !o->depth || !o->pos ||
	    !o->seen || !roots || !stack)
		goto out;
	for (size_t i = 0; i < n; i++) {
		o->ix[i].s = tr->spans[i];
		o->ix[i].i = i;
	}
	qsort(o->ix, n, sizeof(*o->ix), span_ix_cmp);

	for (size_t r = 0; r < tr->n_roots; r++)
		roots[nr++] = tr->roots[r];
	qsort(roots, nr, sizeof(*roots), start_cmp);
	for (size_t r = 0; r < nr; r++) {
		long i = span_index(o, n, roots[r]);

		if (i >= 0 && !o->seen[i])
			order_from(o, tr, (size_t)i, stack);
	}
	for (size_t i = 0; i < n; i++)
		if (!o->seen[i])
			order_from(o, tr, i, stack);
	ret = 0;
out:
	free(roots);
	free(stack);
	return ret;
}

/* Position in the tree order of a span of the trace, or -1. */
static long order_pos(const struct span_order *o, const struct at_tv_trace *tr,
		      const struct at_tv_span *s)
{
	long i = s ? span_index(o, tr->n_spans, s) : -1;

	return i < 0 ? -1 : (long)o->pos[i];
}

/*
 * The span shown as the trace's root (its endpoint): the earliest span
 * without a parent, else the earliest root (an orphan), as a position.
 */
static long root_pos(const struct span_order *o, const struct at_tv_trace *tr)
{
	const struct at_tv_span *best = NULL;

	for (int pass = 0; pass < 2 && !best; pass++) {
		for (size_t r = 0; r < tr->n_roots; r++) {
			const struct at_tv_span *s = tr->roots[r];

			if (pass == 0 && s->has_parent)
				continue;
			if (!best || s->start_ns < best->start_ns)
				best = s;
		}
	}
	if (!best && o->n)
		best = o->order[0];
	return order_pos(o, tr, best);
}

static const char *finding_kind(enum at_tv_finding_kind k)
{
	switch (k) {
	case AT_FIND_N_PLUS_ONE:
		return "n+1";
	case AT_FIND_SEQUENTIAL:
		return "sequential";
	case AT_FIND_DOMINANT:
		return "dominant";
	}
	return "other";
}

static void json_span(FILE *f, const struct at_tv_trace *tr,
		      const struct span_order *o, size_t at)
{
	const struct at_tv_span *s = o->order[at];
	long si = span_index(o, tr->n_spans, s);
	long p = o->parent[si];
	char etext[256], *op;

	fputs("{\"id\":", f);
	at_render_json_hex(f, s->span_id, sizeof(s->span_id));
	fputs(",\"pid\":", f);
	if (s->has_parent)
		at_render_json_hex(f, s->parent_id, sizeof(s->parent_id));
	else
		fputs("\"\"", f);
	fprintf(f, ",\"p\":%ld,\"d\":%d,\"name\":", p < 0 ? -1L : (long)o->pos[p],
		o->depth[si]);
	at_render_json_str(f, s->name);
	op = at_tv_span_op(s);
	fputs(",\"op\":", f);
	at_render_json_str(f, op);
	free(op);
	if (s->status == 2 || (at_tv_attr(s, "http.response.status_code") &&
			       atoi(at_tv_attr(s, "http.response.status_code")) >= 500)) {
		at_tv_span_error_text(s, etext, sizeof(etext));
		fputs(",\"err\":", f);
		at_render_json_str(f, etext);
	}
	fprintf(f, ",\"late\":%d,\"mp\":%d", s->late ? 1 : 0,
		s->missing_parent ? 1 : 0);
	fputs(",\"svc\":", f);
	at_render_json_str(f, s->service);
	fprintf(f, ",\"kind\":%d,\"s\":%" PRId64 ",\"e\":%" PRId64
		",\"st\":%d,\"crit\":%d,\"msg\":", s->kind, rel_ns(tr, s->start_ns),
		rel_ns(tr, s->end_ns > s->start_ns ? s->end_ns : s->start_ns),
		s->status >= 0 && s->status <= 2 ? s->status : 0, s->critical ? 1 : 0);
	at_render_json_str(f, s->status_msg);
	fputs(",\"attrs\":", f);
	json_attrs(f, s->attrs, s->n_attrs);
	fputs(",\"res\":", f);
	json_attrs(f, s->res_attrs, s->n_res_attrs);
	fputs(",\"events\":[", f);
	for (size_t e = 0; e < s->n_events; e++) {
		const struct at_tv_event *ev = &s->events[e];

		if (e)
			putc(',', f);
		fputs("{\"name\":", f);
		at_render_json_str(f, ev->name);
		fprintf(f, ",\"t\":%" PRId64 ",\"attrs\":", rel_ns(tr, ev->time_ns));
		json_attrs(f, ev->attrs, ev->n_attrs);
		putc('}', f);
	}
	fputs("]}", f);
}

int at_render_trace_json(FILE *f, const struct at_traces *t,
			 const struct at_tv_trace *tr)
{
	struct span_order o;
	uint64_t dur = tr->end_ns > tr->start_ns ? tr->end_ns - tr->start_ns : 0;

	if (order_build(&o, tr)) {
		order_free(&o);
		return -1;
	}
	fputs("{\"id\":", f);
	at_render_json_hex(f, tr->trace_id, sizeof(tr->trace_id));
	fprintf(f, ",\"start_ms\":%" PRIu64 ",\"dur\":%" PRIu64
		",\"err\":%d,\"root\":%ld,",
		tr->start_ns / 1000000, dur, tr->has_error ? 1 : 0, root_pos(&o, tr));
	fputs("\"endpoint\":", f);
	at_render_json_str(f, t && tr->endpoint >= 0 &&
			   (size_t)tr->endpoint < t->n_endpoints ?
			   t->endpoints[tr->endpoint].name : "");
	fprintf(f, ",\"http_status\":%d,\"missing\":%d,\"spans\":[\n",
		tr->http_status, tr->missing_parents);
	for (size_t i = 0; i < o.n; i++) {
		if (i)
			fputs(",\n", f);
		json_span(f, tr, &o, i);
	}
	fputs("],\"findings\":[", f);
	for (size_t k = 0; k < tr->n_findings; k++) {
		const struct at_tv_finding *fd = &tr->findings[k];
		int first = 1;

		if (k)
			putc(',', f);
		fputs("\n{\"kind\":", f);
		at_render_json_str(f, finding_kind(fd->kind));
		fputs(",\"text\":", f);
		at_render_json_str(f, fd->text);
		fputs(",\"tag\":", f);
		at_render_json_str(f, at_tv_finding_tag((int)fd->kind));
		fputs(",\"fix\":", f);
		at_render_json_str(f, fd->fix);
		fprintf(f, ",\"total\":%" PRIu64 ",\"parent\":%ld,\"spans\":[",
			fd->total_ns, order_pos(&o, tr, fd->parent));
		for (size_t j = 0; j < fd->n_spans; j++) {
			long p = order_pos(&o, tr, fd->spans[j]);

			if (p < 0)
				continue;
			fprintf(f, "%s%ld", first ? "" : ",", p);
			first = 0;
		}
		fputs("]}", f);
	}
	fputs("]}", f);
	order_free(&o);
	return 0;
}

int at_render_html(FILE *f, const struct at_traces *t, const char *title)
{
	int ret = 0;

	if (!title || !*title)
		title = "autotrace";
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<link rel=\"icon\" href=\"data:,\">\n<title>", f);
	html_text(f, title);
	fputs("</title>\n<style>\n", f);
	fputs(at_page_css, f);
	fputs("</style>\n</head>\n<body>\n<header><h1>", f);
	html_text(f, title);
	fputs("</h1><div class=\"counts\" id=\"counts\"></div></header>\n", f);
	fputs(at_page_body, f);
	fputs("<script type=\"application/json\" id=\"data\">\n{\"title\":", f);
	at_render_json_str(f, title);
	fputs(",\"traces\":[\n", f);
	for (size_t i = 0; t && i < t->n_traces; i++) {
		if (i)
			fputs(",\n", f);
		if (at_render_trace_json(f, t, &t->traces[i]))
			ret = -1;
	}
	fputs("\n]}\n</script>\n<script>\n", f);
	fputs(at_page_js, f);
	fputs("</script>\n</body>\n</html>\n", f);
	if (fflush(f) || ferror(f))
		ret = -1;
	return ret;
}
