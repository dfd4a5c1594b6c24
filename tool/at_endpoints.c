/*
 * at_endpoints.c - the endpoints table of a set of traces (see
 * at_traces.h): per service + method + route, the count, errors,
 * p50/p90/p99 (nearest rank) and the database/cache spans per request.
 *
 * Endpoint spans are server spans with an HTTP method, and trace roots
 * with one (curl starting a trace is an endpoint of the "client"
 * service).  Their route is http.route, else the template of their path
 * (at_routes.c).  Cardinality is bounded: per service, the first
 * AT_ROUTES_PER_SERVICE distinct routes (by first start time, then
 * name) keep their name, later ones are counted under AT_ROUTE_OTHER, so
 * a client walking through unique paths the templates do not catch
 * cannot grow the table without end.
 *
 * A query belongs to the nearest endpoint span above it, so a frontend's
 * endpoint does not count its backend's queries.
 *
 * Everything is sorted with full tie-breaks: the same set gives the same
 * table.  Tool-only: allocation failure aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "at_traces.h"
#include "at_xalloc.h"

struct ep_ent {
	struct at_tv_span *s;
	char *route;
	size_t grp;       /* distinct (service, route) */
	char *name;
};

struct ep_grp {
	const char *service, *route;
	uint64_t first;
	size_t idx;
	int over;
};

static int cmp_svc_route(const void *a, const void *b)
{
	const struct ep_ent *x = a, *y = b;
	int c = strcmp(x->s->service, y->s->service);

	if (!c)
		c = strcmp(x->route, y->route);
	if (c)
		return c;
	if (x->s->start_ns != y->s->start_ns)
		return x->s->start_ns < y->s->start_ns ? -1 : 1;
	return memcmp(x->s->span_id, y->s->span_id, 8);
}

static int cmp_grp_first(const void *a, const void *b)
{
	const struct ep_grp *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	if (c)
		return c;
	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return strcmp(x->route, y->route);
}

static int cmp_name_dur(const void *a, const void *b)
{
	const struct ep_ent *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (at_tv_dur(x->s) != at_tv_dur(y->s))
		return at_tv_dur(x->s) < at_tv_dur(y->s) ? -1 : 1;
	return memcmp(x->s->span_id, y->s->span_id, 8);
}

static int is_endpoint_span(const struct at_tv_span *s)
{
	return at_tv_attr(s, "http.request.method") &&
	       (s->kind == 2 || !s->parent);
}

static int span_failed(const struct at_tv_span *s)
{
	const char *st = at_tv_attr(s, "http.response.status_code");

	return s->status == 2 || (st && atoi(st) >= 500);
}

static uint64_t pct(struct ep_ent *e, size_t n, unsigned p)
{
	size_t k = (n * p + 99) / 100;

	return at_tv_dur(e[k ? k - 1 : 0].s);
}

void at_tv_endpoints_free(struct at_traces *t)
{
	size_t i;

	for (i = 0; i < t->n_endpoints; i++) {
		free(t->endpoints[i].service);
		free(t->endpoints[i].method);
		free(t->endpoints[i].route);
		free(t->endpoints[i].name);
	}
	free(t->endpoints);
	t->endpoints = NULL;
	t->n_endpoints = 0;
}

/* Cap the routes per service: over-cap groups get AT_ROUTE_OTHER. */
static void cap_routes(struct ep_ent *e, size_t n)
{
	struct ep_grp *g;
	size_t i, j, ng = 0, rank = 0;

	qsort(e, n, sizeof(*e), cmp_svc_route);
	g = at_xcalloc(n ? n : 1, sizeof(*g));
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && strcmp(e[i].s->service,
					    e[j].s->service) == 0 &&
		     strcmp(e[i].route, e[j].route) == 0; j++)
			e[j].grp = ng;
		g[ng].service = e[i].s->service;
		g[ng].route = e[i].route;
		g[ng].first = e[i].s->start_ns;
		g[ng].idx = ng;
		ng++;
	}
	qsort(g, ng, sizeof(*g), cmp_grp_first);
	{
		size_t *over = at_xcalloc(ng ? ng : 1, sizeof(*over));

		for (i = 0; i < ng; i++) {
			if (i == 0 || strcmp(g[i].service, g[i - 1].service))
				rank = 0;
			over[g[i].idx] = rank++ >= AT_ROUTES_PER_SERVICE;
		}
		for (i = 0; i < n; i++) {
			if (over[e[i].grp]) {
				free(e[i].route);
				e[i].route = at_xstrdup(AT_ROUTE_OTHER);
			}
		}
		free(over);
	}
	free(g);
}

void at_tv_endpoints_build(struct at_traces *t)
{
	struct ep_ent *e;
	size_t i, j, k, n = 0;

	at_tv_endpoints_free(t);
	e = at_xcalloc(t->n_all ? t->n_all : 1, sizeof(*e));
	for (i = 0; i < t->n_all; i++) {
		struct at_tv_span *s = t->all[i];

		s->endpoint = -1;
		if (!is_endpoint_span(s))
			continue;
		e[n].s = s;
		e[n].route = at_tv_span_route(s);
		n++;
	}
	cap_routes(e, n);
	for (i = 0; i < n; i++) {
		struct at_buf b = { 0 };

		at_xbuf_printf(&b, "%s%s%s %s", e[i].s->service,
			       e[i].s->service[0] ? " " : "",
			       at_tv_attr(e[i].s, "http.request.method"),
			       e[i].route);
		e[i].name = at_xbuf_take(&b);
	}
	qsort(e, n, sizeof(*e), cmp_name_dur);
	t->endpoints = at_xcalloc(n ? n : 1, sizeof(*t->endpoints));
	for (i = 0; i < n; i = j) {
		struct at_tv_endpoint *ep = &t->endpoints[t->n_endpoints];

		for (j = i; j < n && strcmp(e[i].name, e[j].name) == 0; j++) {
			e[j].s->endpoint = (int)t->n_endpoints;
			ep->errors += (size_t)span_failed(e[j].s);
			ep->total_ns += at_tv_dur(e[j].s);
		}
		ep->service = at_xstrdup(e[i].s->service);
		ep->method = at_xstrdup(at_tv_attr(e[i].s,
						   "http.request.method"));
		ep->route = at_xstrdup(e[i].route);
		ep->name = at_xstrdup(e[i].name);
		ep->count = j - i;
		ep->p50 = pct(e + i, j - i, 50);
		ep->p90 = pct(e + i, j - i, 90);
		ep->p99 = pct(e + i, j - i, 99);
		t->n_endpoints++;
	}
	for (i = 0; i < n; i++) {
		free(e[i].route);
		free(e[i].name);
	}
	free(e);
	/* queries: to the nearest endpoint span above */
	for (i = 0; i < t->n_all; i++) {
		struct at_tv_span *s = t->all[i], *p;

		if (!at_tv_attr(s, "db.system.name") &&
		    !at_tv_attr(s, "db.system"))
			continue;
		if (at_tv_span_is_connect(s))
			continue;
		for (p = s->parent, k = 0; p && p->endpoint < 0 &&
		     k < t->n_all; p = p->parent, k++)
			;
		if (p && p->endpoint >= 0)
			t->endpoints[p->endpoint].queries++;
	}
	for (i = 0; i < t->n_endpoints; i++)
		t->endpoints[i].queries_per_req =
			(double)t->endpoints[i].queries /
			(double)t->endpoints[i].count;
	for (i = 0; i < t->n_traces; i++) {
		struct at_tv_trace *tr = &t->traces[i];
		const char *st;

		tr->endpoint = tr->n_roots ? tr->roots[0]->endpoint : -1;
		st = tr->n_roots ? at_tv_attr(tr->roots[0],
					      "http.response.status_code") :
			NULL;
		tr->http_status = st ? atoi(st) : 0;
	}
}
