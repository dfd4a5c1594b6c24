/*
 * at_render_text.c - the terminal view of the autotrace command.
 *
 * A trace shown in full is a header line and then one line per span, in
 * tree order (children by start time):
 *
 *   M  <indent>[service: ]name kind  key attributes ..  <dur> |<bar>|
 *
 * M is a one-character mark column: '!' for an error span, '*' for the
 * slowest span of the critical path (the critical span with the most
 * self time, i.e. time not covered by its children), ' ' otherwise, so
 * that the view reads the same without colours.  The service is shown
 * on roots and where it changes from the parent.  The key attributes
 * depend on the span: HTTP (method, URL, "-> status"), database
 * (operation, query cut to fit, rows=N) or else the peer address.
 *
 * The waterfall bar is a fixed-width column scaled to the trace: the
 * span's [start, end] is filled with '#' for spans on the critical path,
 * '=' for the others and '!' for errors; an error span gets a second
 * line with its status message.  The findings follow the tree.  Colours
 * (only with o->color): red errors, yellow findings, bold for the
 * slowest critical span, dim bars.
 *
 * With more visible traces than o->max_full, a per-endpoint summary comes
 * first (endpoint = the first root's service and name: count, error
 * rate, p50/p90/p99 by nearest rank), then the slowest o->max_full traces
 * in full, slowest first.  Everything is sorted with full tie-breaks, so
 * the same input always gives the same output.
 *
 * Widths are counted in code points (UTF-8 continuation bytes do not
 * count); everything this file writes itself is ASCII.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "at_render.h"
#include "at_utf8.h"

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

static const char *kind_word(int kind)
{
	static const char *const names[] = {
		"", "internal", "server", "client", "producer", "consumer",
	};

	if (kind >= 0 && kind < 6)
		return names[kind];
	return "";
}

/*
 * Key attributes of s appended to out (cap bytes) so that out stays
 * within max_w columns; a long query is cut so that rows=N still fits.
 */
static void key_attrs(const struct at_tv_span *s, char *out, size_t cap,
		      size_t max_w)
{
	const char *m = at_tv_attr(s, "http.request.method");
	const char *q = at_tv_attr(s, "db.query.text");
	const char *op = at_tv_attr(s, "db.operation.name");
	const char *a, *port;
	char tail[64] = "";

	if (m) {
		const char *u = at_tv_attr(s, "url.full");
		const char *st = at_tv_attr(s, "http.response.status_code");

		if (!u)
			u = at_tv_attr(s, "url.path");
		if (st)
			snprintf(tail, sizeof(tail), " -> %s", st);
		append_fit(out, cap, m, max_w);
		if (u) {
			append_fit(out, cap, " ", max_w);
			append_fit(out, cap, u, max_w > strlen(tail) ?
				   max_w - strlen(tail) : 0);
		}
		append_fit(out, cap, tail, max_w);
		return;
	}
	if (q || op || at_tv_attr(s, "db.system.name") ||
	    at_tv_attr(s, "db.system")) {
		const char *rows = at_tv_attr(s, "db.response.returned_rows");

		/* the operation is usually the query's first word */
		if (op && q && strncasecmp(q, op, strlen(op)) == 0)
			op = NULL;
		if (rows)
			snprintf(tail, sizeof(tail), " rows=%.40s", rows);
		if (op) {
			append_fit(out, cap, op, max_w);
			if (q)
				append_fit(out, cap, " ", max_w);
		}
		if (q)
			append_fit(out, cap, q, max_w > strlen(tail) ?
				   max_w - strlen(tail) : 0);
		append_fit(out, cap, tail, max_w);
		return;
	}
	a = at_tv_attr(s, "server.address");
	port = at_tv_attr(s, "server.port");
	if (!a) {
		a = at_tv_attr(s, "network.peer.address");
		port = at_tv_attr(s, "network.peer.port");
	}
	if (a) {
		append_fit(out, cap, a, max_w);
		if (port) {
			append_fit(out, cap, ":", max_w);
			append_fit(out, cap, port, max_w);
		}
	}
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
	char text[1024], attrs[512], dur[32], bar[BAR_W + 1];
	const char *kw = kind_word(s->kind);
	int err = s->status == 2;
	int hot = s == slowest;
	size_t tw = (size_t)v->text_w, w;
	int i;

	text[0] = err ? '!' : hot ? '*' : ' ';
	text[1] = ' ';
	text[2] = '\0';
	for (i = 0; i < s->depth && i < 40; i++)
		append_fit(text, sizeof(text), "  ", tw);
	if (s->service[0] && (!s->parent ||
			      strcmp(s->service, s->parent->service) != 0)) {
		append_fit(text, sizeof(text), s->service, tw);
		append_fit(text, sizeof(text), ": ", tw);
	}
	append_fit(text, sizeof(text), s->name[0] ? s->name : "(unnamed)", tw);
	if (*kw) {
		append_fit(text, sizeof(text), " ", tw);
		append_fit(text, sizeof(text), kw, tw);
	}
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
	if (err) {
		text[0] = '\0';
		append_fit(text, sizeof(text), "! ", (size_t)v->width);
		for (i = 0; i < s->depth + 2 && i < 42; i++)
			append_fit(text, sizeof(text), "  ", (size_t)v->width);
		append_fit(text, sizeof(text), "error: ", (size_t)v->width);
		append_fit(text, sizeof(text),
			   s->status_msg[0] ? s->status_msg : "(no message)",
			   (size_t)v->width);
		fprintf(v->f, "%s%s%s\n", v->color ? C_RED : "", text,
			v->color ? C_RESET : "");
	}
}

/* The spans under root in tree order (no recursion: traces can be deep). */
static void tree(const struct view *v, const struct at_tv_trace *tr,
		 const struct at_tv_span *root,
		 const struct at_tv_span *slowest,
		 const struct at_tv_span **stack)
{
	size_t sp = 0, i;

	stack[sp++] = root;
	while (sp) {
		const struct at_tv_span *s = stack[--sp];

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

static void full_trace(const struct view *v, const struct at_tv_trace *tr)
{
	static const char *const tag[] = { "N+1", "sequential", "dominant" };
	const struct at_tv_span *slowest = slowest_critical(tr);
	const struct at_tv_span **stack;
	char id[33], dur[32], line[1024];
	size_t i, nerr = trace_errors(tr);

	fmt_hex(id, tr->trace_id, 16);
	at_tv_fmt_dur(trace_dur(tr), dur, sizeof(dur));
	fprintf(v->f, "%strace %s  %s  %zu span%s", v->color ? C_BOLD : "",
		id, dur, tr->n_spans, tr->n_spans == 1 ? "" : "s");
	if (nerr)
		fprintf(v->f, "  %s%zu error%s%s", v->color ? C_RED : "",
			nerr, nerr == 1 ? "" : "s", v->color ? C_RESET : "");
	fprintf(v->f, "%s\n", v->color ? C_RESET : "");
	/* every span is under exactly one root (at_traces_build) */
	stack = calloc(tr->n_spans, sizeof(*stack));
	if (!stack)
		return;
	for (i = 0; i < tr->n_roots; i++)
		tree(v, tr, tr->roots[i], slowest, stack);
	free(stack);
	for (i = 0; i < tr->n_findings; i++) {
		const struct at_tv_finding *fd = &tr->findings[i];

		snprintf(line, sizeof(line), "  ~ %s: ",
			 (unsigned)fd->kind < 3 ? tag[fd->kind] : "finding");
		append_fit(line, sizeof(line), fd->text, (size_t)v->width);
		fprintf(v->f, "%s%s%s\n", v->color ? C_YELLOW : "", line,
			v->color ? C_RESET : "");
	}
	fputc('\n', v->f);
}

/* ---- many traces: the per-endpoint summary ---- */

struct ep_row {
	char *endpoint;
	uint64_t dur;
	int err;
};

static int cmp_row(const void *a, const void *b)
{
	const struct ep_row *x = a, *y = b;
	int c = strcmp(x->endpoint, y->endpoint);

	if (c)
		return c;
	if (x->dur != y->dur)
		return x->dur < y->dur ? -1 : 1;
	return x->err - y->err;
}

struct ep_sum {
	const char *endpoint;
	size_t count, errors;
	uint64_t p50, p90, p99;
};

static int cmp_sum(const void *a, const void *b)
{
	const struct ep_sum *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->endpoint, y->endpoint);
}

/* Nearest-rank percentile of n sorted rows. */
static uint64_t pct(const struct ep_row *r, size_t n, unsigned p)
{
	size_t k = (n * p + 99) / 100;

	return r[k ? k - 1 : 0].dur;
}

static void summary(const struct view *v, const struct at_tv_trace **vis,
		    size_t n)
{
	struct ep_row *rows = calloc(n, sizeof(*rows));
	struct ep_sum *sums = calloc(n, sizeof(*sums));
	size_t i, j, ns = 0, ew;
	char cell[1024], d50[32], d90[32], d99[32];

	if (!rows || !sums)
		goto out;
	for (i = 0; i < n; i++) {
		const struct at_tv_span *r = vis[i]->roots[0];
		size_t len = strlen(r->service) + strlen(r->name) + 2;

		rows[i].endpoint = malloc(len);
		if (!rows[i].endpoint)
			goto out;
		snprintf(rows[i].endpoint, len, "%s%s%s", r->service,
			 r->service[0] ? " " : "", r->name);
		rows[i].dur = trace_dur(vis[i]);
		rows[i].err = vis[i]->has_error;
	}
	qsort(rows, n, sizeof(*rows), cmp_row);
	for (i = 0; i < n; i = j) {
		struct ep_sum *s = &sums[ns++];

		for (j = i; j < n && strcmp(rows[i].endpoint,
					    rows[j].endpoint) == 0; j++)
			s->errors += (size_t)rows[j].err;
		s->endpoint = rows[i].endpoint;
		s->count = j - i;
		s->p50 = pct(rows + i, j - i, 50);
		s->p90 = pct(rows + i, j - i, 90);
		s->p99 = pct(rows + i, j - i, 99);
	}
	qsort(sums, ns, sizeof(*sums), cmp_sum);
	/* endpoint column: what is left of the width */
	ew = v->width > 60 ? (size_t)v->width - 50 : 10;
	fprintf(v->f, "%s%-*s %6s %7s %9s %9s %9s%s\n",
		v->color ? C_BOLD : "", (int)ew, "endpoint", "count",
		"errors", "p50", "p90", "p99", v->color ? C_RESET : "");
	for (i = 0; i < ns; i++) {
		const struct ep_sum *s = &sums[i];
		double rate = 100.0 * (double)s->errors / (double)s->count;
		size_t w;

		cell[0] = '\0';
		append_fit(cell, sizeof(cell), s->endpoint, ew);
		fputs(cell, v->f);
		for (w = text_width(cell); w < ew; w++)
			fputc(' ', v->f);
		at_tv_fmt_dur(s->p50, d50, sizeof(d50));
		at_tv_fmt_dur(s->p90, d90, sizeof(d90));
		at_tv_fmt_dur(s->p99, d99, sizeof(d99));
		fprintf(v->f, " %6zu %s%6.1f%%%s %9s %9s %9s\n", s->count,
			v->color && s->errors ? C_RED : "", rate,
			v->color && s->errors ? C_RESET : "", d50, d90, d99);
	}
	fputc('\n', v->f);
out:
	if (rows)
		for (i = 0; i < n; i++)
			free(rows[i].endpoint);
	free(rows);
	free(sums);
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

void at_render_text(FILE *f, const struct at_traces *t,
		    const struct at_render_opts *o)
{
	struct view v = { f, 0, 100, BAR_W, 0 };
	const struct at_tv_trace **vis;
	size_t i, n = 0, max_full = 5, hidden;
	char dur[32];

	if (!f || !t)
		return;
	if (o) {
		v.color = o->color;
		if (o->width > 0)
			v.width = o->width < 40 ? 40 : o->width;
		if (o->max_full > 0)
			max_full = (size_t)o->max_full;
	}
	/* text column: what the duration and the bar leave */
	if (v.width - DUR_W - BAR_W - 4 < MIN_TEXT_W + 20)
		v.bar_w = v.width >= 70 ? 10 : 0;
	v.text_w = v.width - DUR_W - 1 - (v.bar_w ? v.bar_w + 3 : 0);
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
	if (n <= max_full) {
		for (i = 0; i < n; i++)
			full_trace(&v, vis[i]);
	} else {
		fprintf(f, "%zu traces", n);
		if (hidden && o) {
			at_tv_fmt_dur(o->min_duration_ns, dur, sizeof(dur));
			fprintf(f, " (%zu shorter than %s hidden)", hidden, dur);
		}
		fputs("\n\n", f);
		summary(&v, vis, n);
		qsort(vis, n, sizeof(*vis), cmp_slowest);
		fprintf(f, "the %zu slowest traces:\n\n", max_full);
		for (i = 0; i < max_full; i++)
			full_trace(&v, vis[i]);
	}
	if (n <= max_full && hidden && o) {
		at_tv_fmt_dur(o->min_duration_ns, dur, sizeof(dur));
		fprintf(f, "(%zu trace%s shorter than %s hidden)\n", hidden,
			hidden == 1 ? "" : "s", dur);
	}
	free(vis);
}
