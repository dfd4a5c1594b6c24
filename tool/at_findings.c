/*
 * at_findings.c - what the autotrace command points out in a trace: the
 * findings of a linked trace (see at_traces.h), computed per parent over
 * its children by at_traces_build() once the tree is there.
 *
 *  - N+1: >= 3 children with the same signature (the query text, else
 *    method + URL without its query string, else the span name; white
 *    space collapsed to one line);
 *  - sequential: >= 3 CLIENT children to the same server.address (and
 *    not part of an N+1 group) of which each starts after the previous
 *    one ended;
 *  - dominant: a non-root span longer than half the trace, reported only
 *    at the deepest level (a dominant span none of whose children is
 *    dominant), so that one slow call is not reported once per ancestor.
 *
 * Every group is sorted with full tie-breaks (signature, then position),
 * so the same spans always give the same findings in the same order.
 * Tool-only: memory is allocated freely and an allocation failure aborts.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_traces.h"
#include "at_xalloc.h"

/* Printable one-line signature of a span for N+1 grouping. */
static char *signature(const struct at_tv_span *s)
{
	const char *q = at_tv_attr(s, "db.query.text");
	const char *m = at_tv_attr(s, "http.request.method");
	struct at_buf b = { 0 };
	const char *p;
	int sp = 0;

	if (q && *q) {
		at_xbuf_str(&b, q);
	} else if (m && *m) {
		const char *u = at_tv_attr(s, "url.full");

		if (!u)
			u = at_tv_attr(s, "url.path");
		at_xbuf_str(&b, m);
		if (u) {
			at_xbuf_str(&b, " ");
			at_xbuf_add(&b, u, strcspn(u, "?#"));
		}
	} else {
		at_xbuf_str(&b, s->name);
	}
	/* one line: collapse white space */
	{
		struct at_buf o = { 0 };

		at_xbuf_add(&o, "", 0);
		for (p = at_xbuf_cstr(&b); *p; p++) {
			if (isspace((unsigned char)*p)) {
				sp = o.len > 0;
				continue;
			}
			if (sp)
				at_xbuf_add(&o, " ", 1);
			sp = 0;
			at_xbuf_add(&o, p, 1);
		}
		at_buf_free(&b);
		return at_xbuf_take(&o);
	}
}

struct sig_ent {
	char *sig;
	struct at_tv_span *s;
	size_t idx;
};

static int cmp_sig(const void *a, const void *b)
{
	const struct sig_ent *x = a, *y = b;
	int c = strcmp(x->sig, y->sig);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static struct at_tv_finding *new_finding(struct at_tv_trace *tr,
					 enum at_tv_finding_kind kind,
					 struct at_tv_span *parent)
{
	struct at_tv_finding *f;

	tr->findings = at_xrealloc(tr->findings, (tr->n_findings + 1) *
				sizeof(*tr->findings));
	f = &tr->findings[tr->n_findings++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->parent = parent;
	return f;
}

static void find_n_plus_one(struct at_tv_trace *tr, struct at_tv_span *p,
			    unsigned char *in_group)
{
	struct sig_ent *e;
	size_t i, j, k, n = p->n_children;
	char dur[32];

	if (n < 3)
		return;
	e = at_xcalloc(n, sizeof(*e));
	for (i = 0; i < n; i++) {
		e[i].sig = signature(p->children[i]);
		e[i].s = p->children[i];
		e[i].idx = i;
	}
	qsort(e, n, sizeof(*e), cmp_sig);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(e[i].sig, e[j].sig) == 0; j++)
			;
		if (j - i >= 3) {
			struct at_tv_finding *f =
				new_finding(tr, AT_FIND_N_PLUS_ONE, p);
			struct at_buf b = { 0 };

			f->spans = at_xcalloc(j - i, sizeof(*f->spans));
			for (k = i; k < j; k++) {
				f->spans[f->n_spans++] = e[k].s;
				f->total_ns += at_tv_dur(e[k].s);
				in_group[e[k].idx] = 1;
			}
			at_tv_fmt_dur(f->total_ns, dur, sizeof(dur));
			at_xbuf_printf(&b, "%s ran %zu times, %s total",
				       e[i].sig, f->n_spans, dur);
			f->text = at_xbuf_take(&b);
		}
	}
	for (i = 0; i < n; i++)
		free(e[i].sig);
	free(e);
}

static void add_sequential(struct at_tv_trace *tr, struct at_tv_span *p,
			   struct at_tv_span **run, size_t n,
			   const char *addr)
{
	struct at_tv_finding *f = new_finding(tr, AT_FIND_SEQUENTIAL, p);
	struct at_buf b = { 0 };
	char dur[32];
	size_t i;

	f->spans = at_xcalloc(n, sizeof(*f->spans));
	for (i = 0; i < n; i++) {
		f->spans[f->n_spans++] = run[i];
		f->total_ns += at_tv_dur(run[i]);
	}
	at_tv_fmt_dur(f->total_ns, dur, sizeof(dur));
	at_xbuf_printf(&b, "%zu calls to %s ran one after another (%s); "
		       "they could run in parallel", n, addr, dur);
	f->text = at_xbuf_take(&b);
}

static void find_sequential(struct at_tv_trace *tr, struct at_tv_span *p,
			    const unsigned char *in_group)
{
	size_t n = p->n_children, i, j, m, r;
	unsigned char *done;
	struct at_tv_span **grp;

	if (n < 3)
		return;
	done = at_xcalloc(n, 1);
	grp = at_xcalloc(n, sizeof(*grp));
	for (i = 0; i < n; i++) {
		const char *addr = at_tv_attr(p->children[i],
					      "server.address");

		if (done[i] || in_group[i] || p->children[i]->kind != 3 ||
		    !addr || !*addr)
			continue;
		/* the CLIENT children to addr, in start order */
		m = 0;
		for (j = i; j < n; j++) {
			const char *a2 = at_tv_attr(p->children[j],
						    "server.address");

			if (done[j] || in_group[j] ||
			    p->children[j]->kind != 3 || !a2 ||
			    strcmp(a2, addr) != 0)
				continue;
			done[j] = 1;
			grp[m++] = p->children[j];
		}
		/* maximal runs where each starts after the previous ended */
		for (j = 0; j < m; j = r) {
			for (r = j + 1; r < m &&
			     grp[r]->start_ns >= grp[r - 1]->end_ns; r++)
				;
			if (r - j >= 3)
				add_sequential(tr, p, grp + j, r - j, addr);
		}
	}
	free(done);
	free(grp);
}

static int is_dominant(const struct at_tv_span *s, uint64_t tdur)
{
	return s->parent && tdur && at_tv_dur(s) * 2 > tdur;
}

static void find_dominant(struct at_tv_trace *tr)
{
	uint64_t tdur = tr->end_ns - tr->start_ns;
	size_t i, c;

	for (i = 0; i < tr->n_spans; i++) {
		struct at_tv_span *s = tr->spans[i];
		struct at_tv_finding *f;
		struct at_buf b = { 0 };

		if (!is_dominant(s, tdur))
			continue;
		for (c = 0; c < s->n_children; c++)
			if (is_dominant(s->children[c], tdur))
				break;
		if (c < s->n_children)
			continue;
		f = new_finding(tr, AT_FIND_DOMINANT, s->parent);
		f->spans = at_xcalloc(1, sizeof(*f->spans));
		f->spans[f->n_spans++] = s;
		f->total_ns = at_tv_dur(s);
		at_xbuf_printf(&b, "%s is %d %% of the trace", s->name,
			       (int)((double)f->total_ns * 100.0 /
				     (double)tdur));
		f->text = at_xbuf_take(&b);
	}
}


void at_tv_find(struct at_tv_trace *tr)
{
	unsigned char *in_group = at_xcalloc(tr->n_spans, 1);
	size_t i;

	for (i = 0; i < tr->n_spans; i++) {
		struct at_tv_span *s = tr->spans[i];

		if (s->n_children < 3)
			continue;
		memset(in_group, 0, s->n_children);
		find_n_plus_one(tr, s, in_group);
		find_sequential(tr, s, in_group);
	}
	free(in_group);
	find_dominant(tr);
}
