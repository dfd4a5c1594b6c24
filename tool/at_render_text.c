/*
 * at_render_text.c - the terminal view of the autotrace command.
 *
 * A legend line comes first (the marks and bar fills).  A trace shown
 * in full is a header line (trace id, the root's service, method, path
 * and status, duration, spans, errors, spans whose parent never came)
 * and then one line per span, in tree order (children by start time):
 *
 *   M  <indent>[service: ]operation  key attributes ..  <dur> |<bar>|
 *
 * M is a one-character mark column: '!' for an error span, '*' for the
 * slowest span of the critical path (the critical span with the most
 * self time, i.e. time not covered by its children), '+' for a late span
 * (arrived after its trace was shown), ' ' otherwise, so that the view
 * reads the same without colours.  The service is shown on roots and
 * where it changes from the parent.  The operation is at_tv_span_op()
 * ("GET /orders/{id}", "SELECT items", "GET user:? hit"); the key
 * attributes add what it does not say: host and "-> status" for HTTP,
 * the query (cut to fit) and rows=N for SQL, else the peer address.
 *
 * The waterfall bar is a fixed-width column scaled to the trace: the
 * span's [start, end] is filled with '#' for spans on the critical path,
 * '=' for the others and '!' for errors.  Under a span line: for an
 * error span its error (the status message, else "HTTP <code>", else
 * error.type), for a span whose announced parent never arrived a note
 * saying so.  The findings follow the tree, each with the time it costs
 * and its fix on a second line.  Notes, headers and findings are wrapped
 * at the width (at_render_wrap), never cut; only span lines, which must
 * keep their columns, cut their text with "...".  Colours (only with
 * o->color): red errors, yellow findings, bold for the slowest critical
 * span, dim bars.
 *
 * With more visible traces than o->max_full, the endpoints table comes
 * first (at_endpoints.c: service + method + route, count, error rate,
 * p50/p90/p99, queries per request), the last 20 traces one line each
 * (service, method, path, status, duration, spans, errors, findings),
 * then the slowest o->max_full traces in full, slowest first.  Everything is sorted with full
 * tie-breaks, so the same input always gives the same output.
 *
 * The width: at_render_term_width() (TIOCGWINSZ, else COLUMNS, else 100).
 *
 * Widths are counted in code points (UTF-8 continuation bytes do not
 * count); everything this file writes itself is ASCII.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "at_render.h"
#include "at_utf8.h"
#include "at_xalloc.h"

#define BAR_W      30
#define DUR_W      9
#define MIN_TEXT_W 20

#define C_RED    "\033[31m"
#define C_YELLOW "\033[33m"
#define C_BOLD   "\033[1m"
#define C_DIM    "\033[2m"
#define C_RESET  "\033[0m"

struct view {
	FILE *f;
	int color;
	int width;
	int bar_w;   /* 0: no bar */
	int text_w;  /* columns for mark + tree text */
};

/* Code points in s (UTF-8). */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (!at_utf8_is_cont((unsigned char)*s))
			n++;
	return n;
}

/*
 * Append src to dst (cap bytes, NUL-terminated) so that dst is at most
 * max_w columns wide, flattening control characters to spaces; cut at a
 * character boundary with "..." when it does not fit.
 */
static void append_fit(char *dst, size_t cap, const char *src, size_t max_w)
{
	size_t len = strlen(dst), w = text_width(dst);
	size_t cut_len = len, cut_w = w;
	const unsigned char *p = (const unsigned char *)src;

	for (; *p; p++) {
		int start = !at_utf8_is_cont(*p);

		if (start) {
			/* room for "..." kept while it still might fit */
			if (w + 3 <= max_w) {
				cut_len = len;
				cut_w = w;
			}
			if (w + 1 > max_w || len + 8 >= cap)
				goto cut;
		} else if (len + 2 >= cap) {
			continue; /* a stray continuation byte: drop it */
		}
		dst[len++] = (char)(*p < 0x20 || *p == 0x7f ? ' ' : *p);
		if (start)
			w++;
	}
	/* the rest continues a started sequence only: fine */
	dst[len] = '\0';
	return;
cut:
	if (cut_len + 4 > cap || cut_w + 3 > max_w) {
		/* no room even for "...": keep what fits */
		dst[len] = '\0';
		return;
	}
	memcpy(dst + cut_len, "...", 4);
}

static void fmt_hex(char *out, const uint8_t *id, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
	out[2 * n] = '\0';
}

/* The host[:port] of a client span, or NULL. */
static void host_port(const struct at_tv_span *s, char *out, size_t cap)
{
	const char *a = at_tv_attr(s, "server.address");
	const char *port = at_tv_attr(s, "server.port");

	out[0] = '\0';
	if (!a) {
		a = at_tv_attr(s, "network.peer.address");
		port = at_tv_attr(s, "network.peer.port");
	}
	if (a && port)
		snprintf(out, cap, "%s:%s", a, port);
	else if (a)
		snprintf(out, cap, "%s", a);
}

/*
 * Key attributes of s (what its operation does not say already) appended
 * to out (cap bytes) so that out stays within max_w columns; a long
 * query is cut so that rows=N still fits.
 */
static void key_attrs(const struct at_tv_span *s, char *out, size_t cap,
		      size_t max_w)
{
	const char *m = at_tv_attr(s, "http.request.method");
	const char *q = at_tv_attr(s, "db.query.text");
	char tail[64] = "", hp[300];

	if (m) {
		const char *st = at_tv_attr(s, "http.response.status_code");

		if (st)
			snprintf(tail, sizeof(tail), "-> %s", st);
		if (s->kind == 3) {
			host_port(s, hp, sizeof(hp));
			if (hp[0]) {
				append_fit(out, cap, hp, max_w > strlen(tail) + 1 ?
					   max_w - strlen(tail) - 1 : 0);
				if (tail[0])
					append_fit(out, cap, " ", max_w);
			}
		}
		append_fit(out, cap, tail, max_w);
		return;
	}
	if (at_tv_span_is_cache(s))
		return; /* the operation says it all */
	if (at_tv_attr(s, "db.system.name") || at_tv_attr(s, "db.system")) {
		const char *rows = at_tv_attr(s, "db.response.returned_rows");

		if (at_tv_span_is_connect(s)) {
			host_port(s, hp, sizeof(hp));
			append_fit(out, cap, hp, max_w);
			return;
		}
		if (rows)
			snprintf(tail, sizeof(tail), " rows=%.40s", rows);
		/* a statement that is its own name ("BEGIN") says it once */
		if (q && strcasecmp(q, s->name) == 0)
			q = NULL;
		if (q)
			append_fit(out, cap, q, max_w > strlen(tail) ?
				   max_w - strlen(tail) : 0);
		append_fit(out, cap, tail, max_w);
		return;
	}
	host_port(s, hp, sizeof(hp));
	append_fit(out, cap, hp, max_w);
}

/* Time not covered by the children of s. */
static uint64_t self_time(const struct at_tv_span *s)
{
	uint64_t covered = 0, cur_s = 0, cur_e = 0;
	size_t i;
	int open = 0;

	for (i = 0; i < s->n_children; i++) {
		uint64_t a = s->children[i]->start_ns;
		uint64_t b = s->children[i]->end_ns;

		if (a < s->start_ns)
			a = s->start_ns;
		if (b > s->end_ns)
			b = s->end_ns;
		if (b <= a)
			continue;
		if (open && a <= cur_e) {
			if (b > cur_e)
				cur_e = b;
			continue;
		}
		if (open)
			covered += cur_e - cur_s;
		cur_s = a;
		cur_e = b;
		open = 1;
	}
	if (open)
		covered += cur_e - cur_s;
	return at_tv_dur(s) > covered ? at_tv_dur(s) - covered : 0;
}

static const struct at_tv_span *slowest_critical(const struct at_tv_trace *tr)
{
	const struct at_tv_span *best = NULL;
	uint64_t best_t = 0;
	size_t i;

	for (i = 0; i < tr->n_spans; i++) {
		const struct at_tv_span *s = tr->spans[i];
		uint64_t st;

		if (!s->critical)
			continue;
		st = self_time(s);
		if (!best || st > best_t) {
			best = s;
			best_t = st;
		}
	}
	return best;
}

static void draw_bar(const struct view *v, const struct at_tv_trace *tr,
		     const struct at_tv_span *s, char *bar)
{
	uint64_t d = tr->end_ns > tr->start_ns ? tr->end_ns - tr->start_ns : 1;
	uint64_t rs = s->start_ns > tr->start_ns ? s->start_ns - tr->start_ns : 0;
	uint64_t re = s->end_ns > tr->start_ns ? s->end_ns - tr->start_ns : 0;
	uint64_t w = (uint64_t)v->bar_w;
	uint64_t a, b, i;
	char fill = s->status == 2 ? '!' : s->critical ? '#' : '=';

	if (rs > d)
		rs = d;
	if (re > d)
		re = d;
	a = (uint64_t)((double)rs * (double)w / (double)d);
	b = (uint64_t)(((double)re * (double)w + (double)d - 1) / (double)d);
	if (a >= w)
		a = w - 1;
	if (b > w)
		b = w;
	if (b <= a)
		b = a + 1;
	for (i = 0; i < w; i++)
		bar[i] = i >= a && i < b ? fill : ' ';
	bar[w] = '\0';
}

static void span_line(const struct view *v, const struct at_tv_trace *tr,
		      const struct at_tv_span *s,
		      const struct at_tv_span *slowest)
{
	char text[1024], attrs[512], dur[32], bar[BAR_W + 1], err_text[512];
	char *op = at_tv_span_op(s);
	int err = s->status == 2;
	int hot = s == slowest;
	size_t tw = (size_t)v->text_w, w;
	int i;

	text[0] = err ? '!' : hot ? '*' : s->late ? '+' : ' ';
	text[1] = ' ';
	text[2] = '\0';
	for (i = 0; i < s->depth && i < 40; i++)
		append_fit(text, sizeof(text), "  ", tw);
	if (s->service[0] && (!s->parent ||
			      strcmp(s->service, s->parent->service) != 0)) {
		append_fit(text, sizeof(text), s->service, tw);
		append_fit(text, sizeof(text), ": ", tw);
	}
	append_fit(text, sizeof(text), op, tw);
	free(op);
	w = text_width(text) + 2;
	attrs[0] = '\0';
	if (w < tw)
		key_attrs(s, attrs, sizeof(attrs), tw - w);
	if (attrs[0]) {
		append_fit(text, sizeof(text), "  ", tw);
		append_fit(text, sizeof(text), attrs, tw);
	}
	at_tv_fmt_dur(at_tv_dur(s), dur, sizeof(dur));
	if (v->color && (err || hot))
		fputs(err ? C_RED : C_BOLD, v->f);
	fputs(text, v->f);
	for (w = text_width(text); w < tw; w++)
		fputc(' ', v->f);
	fprintf(v->f, " %*s", DUR_W, dur);
	if (v->bar_w) {
		draw_bar(v, tr, s, bar);
		fputs(" |", v->f);
		if (v->color && !err && !hot)
			fputs(C_DIM, v->f);
		fputs(bar, v->f);
		if (v->color && !err && !hot)
			fputs(C_RESET, v->f);
		fputc('|', v->f);
	}
	if (v->color && (err || hot))
		fputs(C_RESET, v->f);
	fputc('\n', v->f);
	/* notes under the line: the error, a parent that never came */
	text[0] = '\0';
	append_fit(text, sizeof(text), err ? "! " : "  ", (size_t)v->width);
	for (i = 0; i < s->depth + 2 && i < 42; i++)
		append_fit(text, sizeof(text), "  ", (size_t)v->width);
	if (err) {
		struct at_buf b = { 0 };

		at_tv_span_error_text(s, err_text, sizeof(err_text));
		at_xbuf_printf(&b, "error: %s", err_text);
		fputs(v->color ? C_RED : "", v->f);
		at_render_wrap(v->f, text, at_xbuf_cstr(&b), v->width);
		fputs(v->color ? C_RESET : "", v->f);
		at_buf_free(&b);
	}
	if (s->missing_parent) {
		char id[17], note[96];

		fmt_hex(id, s->parent_id, 8);
		snprintf(note, sizeof(note), "(its parent span %s never "
			 "arrived)", id);
		text[0] = ' ';
		at_render_wrap(v->f, text, note, v->width);
	}
}

/* The spans under root in tree order (no recursion: traces can be deep);
 * only the late ones with only_late. */
static void tree(const struct view *v, const struct at_tv_trace *tr,
		 const struct at_tv_span *root,
		 const struct at_tv_span *slowest,
		 const struct at_tv_span **stack, int only_late)
{
	size_t sp = 0, i;

	stack[sp++] = root;
	while (sp) {
		const struct at_tv_span *s = stack[--sp];

		if (!only_late || s->late == 1)
			span_line(v, tr, s, slowest);
		for (i = s->n_children; i > 0; i--)
			stack[sp++] = s->children[i - 1];
	}
}

static size_t trace_errors(const struct at_tv_trace *tr)
{
	size_t i, n = 0;

	for (i = 0; i < tr->n_spans; i++)
		n += tr->spans[i]->status == 2;
	return n;
}

static uint64_t trace_dur(const struct at_tv_trace *tr)
{
	return tr->end_ns > tr->start_ns ? tr->end_ns - tr->start_ns : 0;
}

/* "client GET /catalog -> 200": what the trace is, for its header. */
static void trace_title(const struct at_tv_trace *tr, struct at_buf *b)
{
	const struct at_tv_span *r = tr->roots[0];
	const char *m = at_tv_attr(r, "http.request.method");
	const char *path;
	size_t n = 0;

	path = m ? at_tv_span_path(r, &n) : NULL;
	if (r->service[0] && (m || strcmp(r->service, r->name) != 0))
		at_xbuf_printf(b, "%s ", r->service);
	if (m) {
		at_xbuf_printf(b, "%s %.*s", m, (int)(n > 80 ? 80 : n),
			       path ? path : "/");
		if (n > 80)
			at_xbuf_str(b, "...");
	} else {
		char *op = at_tv_span_op(r);

		at_xbuf_str(b, op);
		free(op);
	}
	if (tr->http_status)
		at_xbuf_printf(b, " -> %d", tr->http_status);
}

/* Title, duration, spans and errors of tr. */
static void trace_summary(const struct at_tv_trace *tr, struct at_buf *b)
{
	size_t nerr = trace_errors(tr);
	char dur[32];

	at_tv_fmt_dur(trace_dur(tr), dur, sizeof(dur));
	trace_title(tr, b);
	at_xbuf_printf(b, "  %s  %zu span%s", dur, tr->n_spans,
		       tr->n_spans == 1 ? "" : "s");
	if (nerr)
		at_xbuf_printf(b, "  %zu error%s", nerr, nerr == 1 ? "" : "s");
}

static void full_trace(const struct view *v, const struct at_tv_trace *tr,
		       int only_late)
{
	const struct at_tv_span *slowest = slowest_critical(tr);
	const struct at_tv_span **stack;
	struct at_buf b = { 0 };
	char id[33], dur[32], prefix[64];
	size_t i, late = 0;

	for (i = 0; i < tr->n_spans; i++)
		late += tr->spans[i]->late == 1;
	fmt_hex(id, tr->trace_id, 16);
	at_xbuf_printf(&b, "trace %s  ", id);
	trace_summary(tr, &b);
	if (only_late)
		at_xbuf_printf(&b, "  + %zu late span%s (an addition to the "
			       "trace shown above)", late, late == 1 ? "" : "s");
	if (tr->missing_parents)
		at_xbuf_printf(&b, "  %d span%s whose parent never arrived",
			       tr->missing_parents,
			       tr->missing_parents == 1 ? "" : "s");
	fputs(v->color ? C_BOLD : "", v->f);
	at_render_wrap(v->f, "", at_xbuf_cstr(&b), v->width);
	fputs(v->color ? C_RESET : "", v->f);
	at_buf_free(&b);
	/* every span is under exactly one root (at_traces_build) */
	stack = calloc(tr->n_spans, sizeof(*stack));
	if (!stack)
		return;
	for (i = 0; i < tr->n_roots; i++)
		tree(v, tr, tr->roots[i], slowest, stack, only_late);
	free(stack);
	for (i = 0; i < tr->n_findings && !only_late; i++) {
		const struct at_tv_finding *fd = &tr->findings[i];
		size_t k, pw;

		at_tv_fmt_dur(fd->total_ns, dur, sizeof(dur));
		snprintf(prefix, sizeof(prefix), "  ~ %s [%s]: ",
			 at_tv_finding_tag(fd->kind), dur);
		fputs(v->color ? C_YELLOW : "", v->f);
		at_render_wrap(v->f, prefix, fd->text, v->width);
		if (fd->fix) {
			pw = strlen(prefix) - 2;
			for (k = 0; k < pw && k + 6 < sizeof(prefix); k++)
				prefix[k] = ' ';
			memcpy(prefix + k, "fix: ", 6);
			at_render_wrap(v->f, prefix, fd->fix, v->width);
		}
		fputs(v->color ? C_RESET : "", v->f);
	}
	fputc('\n', v->f);
}

void at_render_legend(FILE *f, int color)
{
	fprintf(f, "%smarks: ! error  * slowest span on the critical path  "
		"+ late span;  bars: # critical path  = other spans  ! error;"
		"  ~ finding [time it costs]%s\n\n", color ? C_DIM : "",
		color ? C_RESET : "");
}

/* ---- many traces: the endpoints table ---- */

static int cmp_ep(const void *a, const void *b)
{
	const struct at_tv_endpoint *x = *(const struct at_tv_endpoint *const *)a;
	const struct at_tv_endpoint *y = *(const struct at_tv_endpoint *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void summary(const struct view *v, const struct at_traces *t)
{
	const struct at_tv_endpoint **eps;
	size_t i, ew;
	char cell[1024], d50[32], d90[32], d99[32];

	if (!t->n_endpoints)
		return;
	eps = calloc(t->n_endpoints, sizeof(*eps));
	if (!eps)
		return;
	for (i = 0; i < t->n_endpoints; i++)
		eps[i] = &t->endpoints[i];
	qsort(eps, t->n_endpoints, sizeof(*eps), cmp_ep);
	/* endpoint column: what is left of the width */
	ew = v->width > 68 ? (size_t)v->width - 58 : 10;
	fprintf(v->f, "%s%-*s %6s %7s %9s %9s %9s %7s%s\n",
		v->color ? C_BOLD : "", (int)ew, "endpoint", "count",
		"errors", "p50", "p90", "p99", "q/req", v->color ? C_RESET : "");
	for (i = 0; i < t->n_endpoints; i++) {
		const struct at_tv_endpoint *s = eps[i];
		double rate = 100.0 * (double)s->errors / (double)s->count;
		size_t w;

		cell[0] = '\0';
		append_fit(cell, sizeof(cell), s->name, ew);
		fputs(cell, v->f);
		for (w = text_width(cell); w < ew; w++)
			fputc(' ', v->f);
		at_tv_fmt_dur(s->p50, d50, sizeof(d50));
		at_tv_fmt_dur(s->p90, d90, sizeof(d90));
		at_tv_fmt_dur(s->p99, d99, sizeof(d99));
		fprintf(v->f, " %6zu %s%6.1f%%%s %9s %9s %9s %7.1f\n", s->count,
			v->color && s->errors ? C_RED : "", rate,
			v->color && s->errors ? C_RESET : "", d50, d90, d99,
			s->queries_per_req);
	}
	fputc('\n', v->f);
	free(eps);
}

/* The last TRACE_LIST traces (vis is in start order), one line each:
 * id, what (service, method, path, status), duration, spans, errors and
 * the tags of its findings. */
#define TRACE_LIST 20
static void trace_list(const struct view *v, const struct at_tv_trace **vis,
		       size_t n)
{
	size_t i, j, first = n > TRACE_LIST ? n - TRACE_LIST : 0;
	char id[33], line[1024];

	if (first)
		fprintf(v->f, "the last %d traces:\n", TRACE_LIST);
	else
		fputs("the traces:\n", v->f);
	for (i = first; i < n; i++) {
		const struct at_tv_trace *tr = vis[i];
		struct at_buf b = { 0 };
		size_t nerr = trace_errors(tr);

		fmt_hex(id, tr->trace_id, 16);
		at_xbuf_printf(&b, "  %.8s  ", id);
		trace_summary(tr, &b);
		for (j = 0; j < tr->n_findings; j++)
			at_xbuf_printf(&b, "%s%s", j ? ", " : "  ~ ",
				       at_tv_finding_tag(tr->findings[j].kind));
		line[0] = '\0';
		append_fit(line, sizeof(line), at_xbuf_cstr(&b),
			   (size_t)v->width);
		at_buf_free(&b);
		fprintf(v->f, "%s%s%s\n", v->color && nerr ? C_RED : "", line,
			v->color && nerr ? C_RESET : "");
	}
	fputc('\n', v->f);
}

static int cmp_slowest(const void *a, const void *b)
{
	const struct at_tv_trace *x = *(const struct at_tv_trace *const *)a;
	const struct at_tv_trace *y = *(const struct at_tv_trace *const *)b;
	uint64_t dx = trace_dur(x), dy = trace_dur(y);

	if (dx != dy)
		return dx > dy ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return memcmp(x->trace_id, y->trace_id, 16);
}

static void setup_view(struct view *v, FILE *f,
		       const struct at_render_opts *o)
{
	v->f = f;
	v->color = 0;
	v->width = 100;
	v->bar_w = BAR_W;
	if (o) {
		v->color = o->color;
		if (o->width > 0)
			v->width = o->width < 40 ? 40 : o->width;
	}
	/* text column: what the duration and the bar leave */
	if (v->width - DUR_W - BAR_W - 4 < MIN_TEXT_W + 20)
		v->bar_w = v->width >= 70 ? 10 : 0;
	v->text_w = v->width - DUR_W - 1 - (v->bar_w ? v->bar_w + 3 : 0);
}

void at_render_text_trace(FILE *f, const struct at_traces *t,
			  const struct at_tv_trace *tr,
			  const struct at_render_opts *o)
{
	struct view v;

	(void)t;
	if (!f || !tr || !tr->n_roots)
		return;
	setup_view(&v, f, o);
	full_trace(&v, tr, o && o->only_late);
}

void at_render_text(FILE *f, const struct at_traces *t,
		    const struct at_render_opts *o)
{
	struct view v;
	const struct at_tv_trace **vis;
	size_t i, n = 0, max_full = 5, hidden;
	char dur[32];

	if (!f || !t)
		return;
	setup_view(&v, f, o);
	if (o && o->max_full > 0)
		max_full = (size_t)o->max_full;
	vis = calloc(t->n_traces ? t->n_traces : 1, sizeof(*vis));
	if (!vis)
		return;
	for (i = 0; i < t->n_traces; i++) {
		const struct at_tv_trace *tr = &t->traces[i];

		if (!tr->n_spans || !tr->n_roots)
			continue;
		if (o && trace_dur(tr) < o->min_duration_ns)
			continue;
		vis[n++] = tr;
	}
	hidden = t->n_traces - n;
	if (!n) {
		fprintf(f, "no traces");
		if (hidden && o) {
			at_tv_fmt_dur(o->min_duration_ns, dur, sizeof(dur));
			fprintf(f, " (%zu shorter than %s hidden)", hidden, dur);
		}
		fputc('\n', f);
		free(vis);
		return;
	}
	if (!o || !o->no_legend)
		at_render_legend(f, v.color);
	if (n <= max_full) {
		for (i = 0; i < n; i++)
			full_trace(&v, vis[i], 0);
	} else {
		fprintf(f, "%zu traces", n);
		if (hidden && o) {
			at_tv_fmt_dur(o->min_duration_ns, dur, sizeof(dur));
			fprintf(f, " (%zu shorter than %s hidden)", hidden, dur);
		}
		fputs("\n\n", f);
		summary(&v, t);
		trace_list(&v, vis, n);
		qsort(vis, n, sizeof(*vis), cmp_slowest);
		fprintf(f, "the %zu slowest traces:\n\n", max_full);
		for (i = 0; i < max_full; i++)
			full_trace(&v, vis[i], 0);
	}
	if (n <= max_full && hidden && o) {
		at_tv_fmt_dur(o->min_duration_ns, dur, sizeof(dur));
		fprintf(f, "(%zu trace%s shorter than %s hidden)\n", hidden,
			hidden == 1 ? "" : "s", dur);
	}
	free(vis);
}

/* ---- terminal ---- */

int at_render_term_width(int fd, const char *columns)
{
	struct winsize ws;
	char *end;
	long c;

	if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col < 40 ? 40 : ws.ws_col;
	if (columns && *columns) {
		c = strtol(columns, &end, 10);
		if (!*end && c > 0 && c < 10000)
			return c < 40 ? 40 : (int)c;
	}
	return 100;
}

int at_render_want_color(int fd, const char *no_color)
{
	return isatty(fd) && !(no_color && *no_color);
}

void at_render_wrap(FILE *f, const char *prefix, const char *text,
		    int width)
{
	size_t pw = text_width(prefix), avail, col;
	const char *p = text;
	size_t i;

	avail = width > 0 && (size_t)width > pw + 10 ? (size_t)width - pw : 10;
	fputs(prefix, f);
	col = 0;
	while (*p) {
		const char *w = p;
		size_t len, ww, gap;

		while (*w == ' ')
			w++;
		gap = (size_t)(w - p);
		len = strcspn(w, " ");
		if (!*w)
			break;
		/* the word's width, in code points */
		for (ww = 0, i = 0; i < len; i++)
			ww += !at_utf8_is_cont((unsigned char)w[i]);
		if (col && col + gap + ww > avail) {
			fputc('\n', f);
			for (i = 0; i < pw; i++)
				fputc(' ', f);
			col = 0;
		} else if (col) {
			/* spaces inside a line are kept as they are */
			for (i = 0; i < gap; i++)
				fputc(' ', f);
			col += gap;
		}
		/* a word longer than a line: split it */
		while (ww > avail - col) {
			size_t take = 0, cp = 0;

			while (take < len && (cp < avail - col ||
			       at_utf8_is_cont((unsigned char)w[take]))) {
				cp += !at_utf8_is_cont((unsigned char)w[take]);
				take++;
			}
			fwrite(w, 1, take, f);
			fputc('\n', f);
			for (i = 0; i < pw; i++)
				fputc(' ', f);
			w += take;
			len -= take;
			ww -= cp;
			col = 0;
		}
		for (i = 0; i < len; i++)
			fputc((unsigned char)w[i] < 0x20 ? ' ' : w[i], f);
		col += ww;
		p = w + len;
	}
	fputc('\n', f);
}
