/*
 * at_diff.c - `autotrace diff before.json after.json`: what changed
 * between two sets of traces ("something changed after the deploy").
 *
 * Per endpoint (at_endpoints.c: service + method + route), in name
 * order: the count, p50 and p99 before -> after with the relative change,
 * queries per request before -> after, errors before -> after; an
 * endpoint only on one side says so.  Then what appeared: N+1 patterns
 * (endpoint + what is repeated) that the after set has and the before
 * set has not, and errors (endpoint + the root cause's operation and
 * message) likewise, each with how many times.  A change is marked '!'
 * when it is worse: p50 or p99 up by >= 20 % (and >= 1 ms), queries per
 * request up by >= 1, more errors per request.
 *
 * at_diff_collect() gives the same as data (for the live page's compare
 * view and for the tests); at_diff_render() prints it.  Everything is
 * sorted by name, so the same files give the same output.  Tool-only:
 * allocation failure aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_diff.h"
#include "at_xalloc.h"

#define MS 1000000ull

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The nearest endpoint span at or above s, or NULL. */
static const struct at_tv_span *endpoint_of(const struct at_tv_span *s,
					    size_t guard)
{
	while (s && s->endpoint < 0 && guard--)
		s = s->parent;
	return s && s->endpoint >= 0 ? s : NULL;
}

/* "endpoint: what" of the N+1 and error findings of t, sorted. */
static char **finding_keys(const struct at_traces *t, int kind, size_t *n)
{
	char **k = NULL;
	size_t i, j, cap = 0;

	*n = 0;
	for (i = 0; i < t->n_traces; i++) {
		const struct at_tv_trace *tr = &t->traces[i];

		for (j = 0; j < tr->n_findings; j++) {
			const struct at_tv_finding *f = &tr->findings[j];
			const struct at_tv_span *s, *ep;
			struct at_buf b = { 0 };
			char err[256], *what;

			if ((int)f->kind != kind || !f->n_spans)
				continue;
			s = kind == AT_FIND_ERROR ? f->spans[0] : f->parent;
			ep = endpoint_of(s, tr->n_spans);
			at_xbuf_str(&b, ep ? t->endpoints[ep->endpoint].name :
				    "(no endpoint)");
			what = at_tv_span_what(f->spans[0]);
			if (kind == AT_FIND_ERROR) {
				at_tv_span_error_text(f->spans[0], err,
						      sizeof(err));
				at_xbuf_printf(&b, ": %s failed: %s", what, err);
			} else {
				at_xbuf_printf(&b, ": %s", what);
			}
			free(what);
			if (*n == cap) {
				cap = cap ? cap * 2 : 16;
				k = at_xrealloc(k, cap * sizeof(*k));
			}
			k[(*n)++] = at_xbuf_take(&b);
		}
	}
	if (*n)
		qsort(k, *n, sizeof(*k), cmp_str);
	return k;
}

static int has_key(char **k, size_t n, const char *key)
{
	return n && bsearch(&key, k, n, sizeof(*k), cmp_str) != NULL;
}

/* What after has and before has not, with counts. */
static void appeared(struct at_diff *d, const struct at_traces *a,
		     const struct at_traces *b, int kind)
{
	size_t na, nb, i, j;
	char **ka = finding_keys(a, kind, &na);
	char **kb = finding_keys(b, kind, &nb);

	for (i = 0; i < nb; i = j) {
		struct at_diff_new *nw;

		for (j = i; j < nb && !strcmp(kb[i], kb[j]); j++)
			;
		if (has_key(ka, na, kb[i]))
			continue;
		d->appeared = at_xrealloc(d->appeared, (d->n_appeared + 1) *
					  sizeof(*d->appeared));
		nw = &d->appeared[d->n_appeared++];
		nw->kind = kind;
		nw->what = at_xstrdup(kb[i]);
		nw->times = j - i;
	}
	for (i = 0; i < na; i++)
		free(ka[i]);
	for (i = 0; i < nb; i++)
		free(kb[i]);
	free(ka);
	free(kb);
}

static const struct at_tv_endpoint *find_ep(const struct at_traces *t,
					    const char *name)
{
	size_t lo = 0, hi = t->n_endpoints;

	/* t->endpoints is sorted by name (at_endpoints.c) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->endpoints[mid].name, name);

		if (!c)
			return &t->endpoints[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int worse_time(uint64_t a, uint64_t b)
{
	return b > a && b - a >= MS && (b - a) * 5 >= a;
}

void at_diff_collect(struct at_diff *d, const struct at_traces *before,
		     const struct at_traces *after)
{
	size_t i, n = before->n_endpoints + after->n_endpoints, k = 0;
	const char **names = at_xcalloc(n ? n : 1, sizeof(*names));

	memset(d, 0, sizeof(*d));
	for (i = 0; i < before->n_endpoints; i++)
		names[k++] = before->endpoints[i].name;
	for (i = 0; i < after->n_endpoints; i++)
		names[k++] = after->endpoints[i].name;
	qsort(names, k, sizeof(*names), cmp_str);
	d->rows = at_xcalloc(k ? k : 1, sizeof(*d->rows));
	for (i = 0; i < k; i++) {
		struct at_diff_row *r;

		if (i && !strcmp(names[i], names[i - 1]))
			continue;
		r = &d->rows[d->n_rows++];
		r->name = at_xstrdup(names[i]);
		r->before = find_ep(before, names[i]);
		r->after = find_ep(after, names[i]);
		if (r->before && r->after) {
			const struct at_tv_endpoint *a = r->before, *b = r->after;

			r->worse = worse_time(a->p50, b->p50) ||
				   worse_time(a->p99, b->p99) ||
				   b->queries_per_req >= a->queries_per_req + 1 ||
				   (double)b->errors / (double)b->count >
				   (double)a->errors / (double)a->count;
		}
	}
	free(names);
	appeared(d, before, after, AT_FIND_N_PLUS_ONE);
	appeared(d, before, after, AT_FIND_ERROR);
}

void at_diff_free(struct at_diff *d)
{
	size_t i;

	for (i = 0; i < d->n_rows; i++)
		free(d->rows[i].name);
	for (i = 0; i < d->n_appeared; i++)
		free(d->appeared[i].what);
	free(d->rows);
	free(d->appeared);
	memset(d, 0, sizeof(*d));
}

static void change(char *out, size_t cap, uint64_t a, uint64_t b)
{
	char da[32], db[32];

	at_tv_fmt_dur(a, da, sizeof(da));
	at_tv_fmt_dur(b, db, sizeof(db));
	if (a)
		snprintf(out, cap, "%s -> %s (%+.0f%%)", da, db,
			 ((double)b - (double)a) * 100.0 / (double)a);
	else
		snprintf(out, cap, "%s -> %s", da, db);
}

size_t at_diff_render(FILE *f, const struct at_traces *before,
		      const struct at_traces *after)
{
	struct at_diff d;
	size_t i, worse = 0;
	char p50[96], p99[96];

	at_diff_collect(&d, before, after);
	fprintf(f, "  endpoint: count, p50, p99, queries per request, errors "
		"(before -> after; a leading '!' marks worse)\n");
	for (i = 0; i < d.n_rows; i++) {
		const struct at_diff_row *r = &d.rows[i];

		if (!r->before) {
			at_tv_fmt_dur(r->after->p50, p50, sizeof(p50));
			fprintf(f, "+ %s: new, %zu requests, p50 %s\n", r->name,
				r->after->count, p50);
			continue;
		}
		if (!r->after) {
			fprintf(f, "- %s: gone (%zu requests before)\n",
				r->name, r->before->count);
			continue;
		}
		worse += r->worse != 0;
		change(p50, sizeof(p50), r->before->p50, r->after->p50);
		change(p99, sizeof(p99), r->before->p99, r->after->p99);
		fprintf(f, "%c %s: %zu -> %zu, p50 %s, p99 %s, q/req %.1f -> "
			"%.1f, errors %zu -> %zu\n", r->worse ? '!' : ' ',
			r->name, r->before->count, r->after->count, p50, p99,
			r->before->queries_per_req, r->after->queries_per_req,
			r->before->errors, r->after->errors);
	}
	for (i = 0; i < d.n_appeared; i++) {
		const struct at_diff_new *nw = &d.appeared[i];

		fprintf(f, "! new %s: %s (%zu time%s)\n",
			nw->kind == AT_FIND_N_PLUS_ONE ? "N+1" : "error",
			nw->what, nw->times, nw->times == 1 ? "" : "s");
	}
	worse += d.n_appeared;
	if (!d.n_rows && !d.n_appeared)
		fprintf(f, "no endpoints on either side\n");
	at_diff_free(&d);
	return worse;
}
