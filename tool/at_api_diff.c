/*
 * at_api_diff.c - GET /api/diff of the live dashboard: at_diff.c's
 * comparison ("something changed after the deploy") as JSON, between a
 * baseline and the traces the server holds.
 *
 * The baseline is either
 *   - a point in time, ?since=MS (Unix milliseconds, the page's "mark
 *     baseline now"): the traces kept that started before it are the
 *     "before" set, those that started at or after it the "after" set;
 *     no state: the page keeps the mark; or
 *   - a set loaded from a --json file (serve/--ui --baseline FILE): it is
 *     "before", all the traces kept are "after".
 * ?since wins when both are there; with neither, "mode":"none" and no
 * rows.  For a split the spans of each side are copied into a model of
 * their own (the live one is not touched: its spans stay linked as they
 * are) and built, so each side has its own endpoints and findings.
 *
 *   {"mode":"mark"|"file"|"none","since_ms":N,"before_traces":N,
 *    "after_traces":N,"worse":N,"endpoints":[{"name","service","method",
 *    "route","state":"both"|"new"|"gone","worse":0|1,"before":{count,
 *    errors,p50,p99,queries_per_req}|null,"after":{...}|null,
 *    "p50_change","p99_change" (per cent, null when not both sides or
 *    before was 0)}],"appeared":[{"kind":"N+1"|"error","what","times"}],
 *    "truncated":0|1}
 *
 * "worse" counts the worse endpoints plus what appeared, as the exit code
 * of `autotrace diff` does.  Rows and appeared are bounded by
 * AT_API_ROWS_MAX each (truncated: 1); strings go through
 * at_render_json_str().  Tool-only: allocation failure aborts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_api.h"
#include "at_api_diff.h"
#include "at_diff.h"
#include "at_render.h"
#include "at_xalloc.h"

static struct at_tv_attr *attrs_copy(const struct at_tv_attr *a, size_t n)
{
	struct at_tv_attr *c = n ? at_xcalloc(n, sizeof(*c)) : NULL;

	for (size_t i = 0; i < n; i++) {
		c[i].key = at_xstrdup(a[i].key);
		c[i].value = at_xstrdup(a[i].value);
		c[i].type = a[i].type;
	}
	return c;
}

/* A copy of s as recorded (not its links, which build makes again). */
static struct at_tv_span *span_copy(const struct at_tv_span *s)
{
	struct at_tv_span *c = at_xcalloc(1, sizeof(*c));

	memcpy(c->trace_id, s->trace_id, sizeof(c->trace_id));
	memcpy(c->span_id, s->span_id, sizeof(c->span_id));
	memcpy(c->parent_id, s->parent_id, sizeof(c->parent_id));
	c->has_parent = s->has_parent;
	c->name = at_xstrdup(s->name);
	c->kind = s->kind;
	c->start_ns = s->start_ns;
	c->end_ns = s->end_ns;
	c->status = s->status;
	c->status_msg = at_xstrdup(s->status_msg);
	c->service = at_xstrdup(s->service);
	c->attrs = attrs_copy(s->attrs, s->n_attrs);
	c->n_attrs = s->n_attrs;
	c->res_attrs = attrs_copy(s->res_attrs, s->n_res_attrs);
	c->n_res_attrs = s->n_res_attrs;
	c->events = s->n_events ? at_xcalloc(s->n_events, sizeof(*c->events)) :
		    NULL;
	for (size_t i = 0; i < s->n_events; i++) {
		c->events[i].name = at_xstrdup(s->events[i].name);
		c->events[i].time_ns = s->events[i].time_ns;
		c->events[i].attrs = attrs_copy(s->events[i].attrs,
						s->events[i].n_attrs);
		c->events[i].n_attrs = s->events[i].n_attrs;
	}
	c->n_events = s->n_events;
	c->endpoint = -1;
	return c;
}

/* The traces of t that started before (after = 0) or at/after (1)
 * since_ns, as a built model of their own. */
static struct at_traces *split(const struct at_traces *t, uint64_t since_ns,
			       int after)
{
	struct at_traces *o = at_traces_new();

	for (size_t i = 0; t && i < t->n_traces; i++) {
		const struct at_tv_trace *tr = &t->traces[i];

		if ((tr->start_ns >= since_ns) != after)
			continue;
		for (size_t j = 0; j < tr->n_spans; j++)
			at_traces_push(o, span_copy(tr->spans[j]));
	}
	at_traces_build(o);
	return o;
}

static void side(FILE *f, const char *key, const struct at_tv_endpoint *e)
{
	fprintf(f, ",\"%s\":", key);
	if (!e) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"count\":%zu,\"errors\":%zu,\"p50\":%" PRIu64 ",\"p99\":%"
		PRIu64 ",\"queries_per_req\":%.2f}", e->count, e->errors, e->p50,
		e->p99, e->queries_per_req);
}

static void change(FILE *f, const char *key, const struct at_diff_row *r,
		   int p99)
{
	uint64_t a, b;

	fprintf(f, ",\"%s\":", key);
	if (!r->before || !r->after) {
		fputs("null", f);
		return;
	}
	a = p99 ? r->before->p99 : r->before->p50;
	b = p99 ? r->after->p99 : r->after->p50;
	if (!a)
		fputs("null", f);
	else
		fprintf(f, "%.1f", ((double)b - (double)a) * 100.0 / (double)a);
}

static void render(FILE *f, const char *mode, uint64_t since_ms,
		   const struct at_traces *before,
		   const struct at_traces *after)
{
	struct at_diff d;
	size_t worse = 0, i;
	int truncated = 0;

	at_diff_collect(&d, before, after);
	for (i = 0; i < d.n_rows; i++)
		worse += d.rows[i].worse != 0;
	worse += d.n_appeared;
	fputs("{\"mode\":", f);
	at_render_json_str(f, mode);
	fprintf(f, ",\"since_ms\":%" PRIu64 ",\"before_traces\":%zu,"
		"\"after_traces\":%zu,\"worse\":%zu,\"endpoints\":[", since_ms,
		before->n_traces, after->n_traces, worse);
	for (i = 0; i < d.n_rows; i++) {
		const struct at_diff_row *r = &d.rows[i];
		const struct at_tv_endpoint *e = r->after ? r->after : r->before;

		if (i >= AT_API_ROWS_MAX) {
			truncated = 1;
			break;
		}
		fputs(i ? ",\n{" : "\n{", f);
		at_api_endpoint_key(f, e);
		fprintf(f, ",\"state\":\"%s\",\"worse\":%d",
			!r->before ? "new" : !r->after ? "gone" : "both",
			r->worse ? 1 : 0);
		side(f, "before", r->before);
		side(f, "after", r->after);
		change(f, "p50_change", r, 0);
		change(f, "p99_change", r, 1);
		putc('}', f);
	}
	fputs("],\"appeared\":[", f);
	for (i = 0; i < d.n_appeared; i++) {
		const struct at_diff_new *nw = &d.appeared[i];

		if (i >= AT_API_ROWS_MAX) {
			truncated = 1;
			break;
		}
		fputs(i ? ",\n{\"kind\":" : "\n{\"kind\":", f);
		at_render_json_str(f, nw->kind == AT_FIND_N_PLUS_ONE ? "N+1" :
				   "error");
		fputs(",\"what\":", f);
		at_render_json_str(f, nw->what);
		fprintf(f, ",\"times\":%zu}", nw->times);
	}
	fprintf(f, "],\"truncated\":%d}\n", truncated);
	at_diff_free(&d);
}

int at_api_diff(FILE *f, const struct at_traces *t,
		const struct at_traces *baseline, const char *since)
{
	static const struct at_traces empty;
	char *end;
	double ms;

	if (since && *since) {
		struct at_traces *before, *after;
		uint64_t since_ns;

		ms = strtod(since, &end);
		if (*end || !(ms >= 0) || ms >= 1e13)
			return 400;
		since_ns = (uint64_t)ms * 1000000ull;
		before = split(t, since_ns, 0);
		after = split(t, since_ns, 1);
		render(f, "mark", (uint64_t)ms, before, after);
		at_traces_free(before);
		at_traces_free(after);
		return 200;
	}
	if (baseline) {
		render(f, "file", 0, baseline, t ? t : &empty);
		return 200;
	}
	render(f, "none", 0, &empty, &empty);
	return 200;
}
