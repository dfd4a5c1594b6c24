/*
 * at_api.c - the live dashboard's routes (see at_api.h): the page and a
 * JSON API the page itself uses, so that scripts and coding agents can
 * query the local traces the same way.
 *
 *   GET /                 the page (tool/page/ui.*, embedded: offline)
 *   GET /api/traces       newest first: [{id, start_ms, dur, service,
 *                         endpoint, op, status, err, spans, errors,
 *                         findings, tags, late, missing}], filters in the
 *                         query: service=S (a span of S), endpoint=E (its
 *                         endpoint's name contains E), status=error|ok|
 *                         5xx|4xx|NNN, min_ms=N, attr=KEY=VALUE or
 *                         attr=KEY~SUBSTRING (a span or resource
 *                         attribute), limit=N (default 200, at most 1000)
 *   GET /api/traces/ID    one trace (at_render_trace_json(): spans in tree
 *                         order with op, span and resource attributes,
 *                         events, critical path; findings with fix)
 *   GET /api/services     the service map: nodes {id, type: service|
 *                         database|cache|external, label} and edges {from,
 *                         to, calls, errors, err_rate, p50, p99}
 *   GET /api/endpoints    RED per service + method + route: count, rate
 *                         (per second over the traces' time span), errors,
 *                         err_rate, p50, p90, p99, queries_per_req
 *   GET /api/cache        per service + key pattern: count, hits, misses,
 *                         hit_rate, p50, p99
 *   GET /api/db           per service + statement: count, total, p50,
 *                         traces, per_req (mean), max_per_req
 *   GET /api/diff         what changed against a baseline (at_api_diff.c):
 *                         ?since=MS splits the traces kept at that time
 *                         (the page's "mark baseline now"), else the
 *                         --baseline file is "before"; per endpoint count,
 *                         p50/p99 before/after with % change, queries per
 *                         request, worse; N+1s and errors that appeared
 *
 * Durations are nanoseconds.  An edge goes from a client span's service to
 * the service of its server child, or, when the callee is not traced (a
 * database, a cache, an external host), to a node named by the span's
 * target (at_tv_span_target(): "system|host:port").  Every list is bounded
 * (AT_API_ROWS_MAX rows, "truncated": 1 when more were left out); strings
 * are escaped by at_render_json_str().  Nothing here keeps state: each
 * answer is made from the model as it is (the caller holds its lock).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_api.h"
#include "at_api_diff.h"
#include "at_render.h"
#include "at_xalloc.h"

extern const char at_ui_html[];
extern const char at_ui_css[];
extern const char at_ui_js[];

/* ---- the query ---- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The value of parameter name in query q ("a=1&b=2"), percent-decoded
 * ('+' as a space), malloc'd; NULL if absent. */
static char *query_get(const char *q, const char *name)
{
	size_t nl = strlen(name);

	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);

		if (len > nl && !strncmp(q, name, nl) && q[nl] == '=') {
			char *out = at_xmalloc(len - nl);
			size_t o = 0;

			for (size_t i = nl + 1; i < len; i++) {
				int hi, lo;

				if (q[i] == '+') {
					out[o++] = ' ';
				} else if (q[i] == '%' && i + 2 < len &&
					   (hi = hexval(q[i + 1])) >= 0 &&
					   (lo = hexval(q[i + 2])) >= 0) {
					out[o++] = (char)(hi * 16 + lo);
					i += 2;
				} else {
					out[o++] = q[i];
				}
			}
			out[o] = 0;
			return out;
		}
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* ---- small helpers ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank over sorted v[0..n). */
static uint64_t rank(const uint64_t *v, size_t n, int p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)((p * n + 99) / 100);
	return v[i ? i - 1 : 0];
}

/* The span shown as the trace's root: the earliest without a parent,
 * else the earliest root. */
static const struct at_tv_span *trace_root(const struct at_tv_trace *tr)
{
	const struct at_tv_span *best = NULL;

	for (int pass = 0; pass < 2 && !best; pass++)
		for (size_t r = 0; r < tr->n_roots; r++) {
			const struct at_tv_span *s = tr->roots[r];

			if (pass == 0 && s->has_parent)
				continue;
			if (!best || s->start_ns < best->start_ns)
				best = s;
		}
	return best ? best : tr->n_spans ? tr->spans[0] : NULL;
}

static int attr_match(const struct at_tv_attr *a, size_t n, const char *key,
		      const char *val, int contains)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(a[i].key, key) &&
		    (contains ? strstr(a[i].value, val) != NULL :
		     !strcmp(a[i].value, val)))
			return 1;
	return 0;
}

/* ---- /api/traces ---- */

struct filter {
	char *service, *endpoint, *status, *attr_key;
	const char *attr_val;
	int attr_contains;
	uint64_t min_ns;
	size_t limit;
};

static int status_match(const struct at_tv_trace *tr, const char *st)
{
	if (!st || !*st)
		return 1;
	if (!strcmp(st, "error"))
		return tr->has_error || tr->http_status >= 500;
	if (!strcmp(st, "ok"))
		return !tr->has_error && tr->http_status < 400;
	if (strlen(st) == 3 && st[1] == 'x' && st[2] == 'x')
		return tr->http_status / 100 == st[0] - '0';
	return tr->http_status == atoi(st);
}

static int trace_match(const struct at_traces *t, const struct at_tv_trace *tr,
		       const struct filter *fl)
{
	int svc = !fl->service || !*fl->service, attr = !fl->attr_key;

	if (tr->end_ns - tr->start_ns < fl->min_ns || !status_match(tr, fl->status))
		return 0;
	if (fl->endpoint && *fl->endpoint &&
	    (tr->endpoint < 0 || (size_t)tr->endpoint >= t->n_endpoints ||
	     !strstr(t->endpoints[tr->endpoint].name, fl->endpoint)))
		return 0;
	for (size_t i = 0; i < tr->n_spans && (!svc || !attr); i++) {
		const struct at_tv_span *s = tr->spans[i];

		if (!svc && !strcmp(s->service, fl->service))
			svc = 1;
		if (!attr && (attr_match(s->attrs, s->n_attrs, fl->attr_key,
					 fl->attr_val, fl->attr_contains) ||
			      attr_match(s->res_attrs, s->n_res_attrs,
					 fl->attr_key, fl->attr_val,
					 fl->attr_contains)))
			attr = 1;
	}
	return svc && attr;
}

static void trace_row(FILE *f, const struct at_traces *t,
		      const struct at_tv_trace *tr)
{
	const struct at_tv_span *root = trace_root(tr);
	char *op = root ? at_tv_span_op(root) : at_xstrdup("");
	size_t errors = 0, late = 0;
	unsigned tags = 0;

	for (size_t i = 0; i < tr->n_spans; i++) {
		errors += tr->spans[i]->status == 2;
		late += tr->spans[i]->late != 0;
	}
	fputs("{\"id\":", f);
	at_render_json_hex(f, tr->trace_id, 16);
	fprintf(f, ",\"start_ms\":%" PRIu64 ",\"dur\":%" PRIu64 ",\"service\":",
		tr->start_ns / 1000000, tr->end_ns - tr->start_ns);
	at_render_json_str(f, root ? root->service : "");
	fputs(",\"endpoint\":", f);
	at_render_json_str(f, tr->endpoint >= 0 &&
			   (size_t)tr->endpoint < t->n_endpoints ?
			   t->endpoints[tr->endpoint].name : "");
	fputs(",\"op\":", f);
	at_render_json_str(f, op);
	fprintf(f, ",\"status\":%d,\"err\":%d,\"spans\":%zu,\"errors\":%zu,"
		"\"findings\":%zu,\"late\":%zu,\"missing\":%d,\"tags\":[",
		tr->http_status, tr->has_error ? 1 : 0, tr->n_spans, errors,
		tr->n_findings, late, tr->missing_parents);
	for (size_t k = 0; k < tr->n_findings; k++) {
		unsigned bit = 1u << ((unsigned)tr->findings[k].kind & 31);

		if (tags & bit)
			continue;
		if (tags)
			putc(',', f);
		at_render_json_str(f, at_tv_finding_tag((int)tr->findings[k].kind));
		tags |= bit;
	}
	fputs("]}", f);
	free(op);
}

static int api_traces(FILE *f, const struct at_traces *t, const char *q)
{
	struct filter fl = { 0 };
	char *attr = query_get(q, "attr"), *v;
	size_t shown = 0, matched = 0;

	fl.service = query_get(q, "service");
	fl.endpoint = query_get(q, "endpoint");
	fl.status = query_get(q, "status");
	fl.limit = AT_API_LIST_DEFAULT;
	if ((v = query_get(q, "limit"))) {
		long n = strtol(v, NULL, 10);

		fl.limit = n <= 0 ? 1 : n > AT_API_LIST_MAX ? AT_API_LIST_MAX :
			   (size_t)n;
		free(v);
	}
	if ((v = query_get(q, "min_ms"))) {
		double ms = strtod(v, NULL);

		/* NaN and absurd values: nothing is that long */
		fl.min_ns = !(ms > 0) ? 0 : ms >= 1e12 ? UINT64_MAX :
			    (uint64_t)(ms * 1e6);
		free(v);
	}
	if (attr && *attr) {
		char *op = strpbrk(attr, "=~");

		fl.attr_key = attr;
		fl.attr_val = "";
		if (op) {
			fl.attr_contains = *op == '~';
			*op = 0;
			fl.attr_val = op + 1;
		} else {
			fl.attr_contains = 1; /* the key present */
		}
	}
	fputs("{\"traces\":[", f);
	for (size_t i = t ? t->n_traces : 0; i-- > 0;) {
		if (!trace_match(t, &t->traces[i], &fl))
			continue;
		if (matched++ >= fl.limit)
			continue;
		if (shown++)
			putc(',', f);
		putc('\n', f);
		trace_row(f, t, &t->traces[i]);
	}
	fprintf(f, "],\"matched\":%zu,\"total\":%zu,\"spans\":%zu}\n", matched,
		t ? t->n_traces : 0, t ? t->n_all : 0);
	free(fl.service);
	free(fl.endpoint);
	free(fl.status);
	free(attr);
	return 200;
}

static int hexbyte(const char *p)
{
	int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);

	return lo < 0 ? -1 : hi * 16 + lo;
}

static int api_trace(FILE *f, const struct at_traces *t, const char *id)
{
	uint8_t want[16];

	if (strlen(id) != 32)
		return 400;
	for (int i = 0; i < 16; i++) {
		int b = hexbyte(id + 2 * i);

		if (b < 0)
			return 400;
		want[i] = (uint8_t)b;
	}
	for (size_t i = 0; t && i < t->n_traces; i++)
		if (!memcmp(t->traces[i].trace_id, want, 16)) {
			at_render_trace_json(f, t, &t->traces[i]);
			putc('\n', f);
			return 200;
		}
	fputs("{\"error\":\"no such trace\"}\n", f);
	return 404;
}

/* ---- aggregates: services, cache, db ---- */

struct agg {
	char *a, *b;          /* the row's key: (from, to), (service, what) */
	const char *type;     /* node type of b (services) */
	size_t n, errors, hits, misses, traces, cur, max_cur;
	long last_trace;
	uint64_t total;
	uint64_t *durs;
	size_t cap;
};

struct aggs {
	struct agg *v;
	size_t n, cap;
	int truncated;
};

static struct agg *agg_get(struct aggs *g, const char *a, const char *b)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->v[i].a, a) && !strcmp(g->v[i].b, b))
			return &g->v[i];
	if (g->n >= AT_API_ROWS_MAX) {
		g->truncated = 1;
		return NULL;
	}
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->v = at_xrealloc(g->v, g->cap * sizeof(*g->v));
	}
	memset(&g->v[g->n], 0, sizeof(g->v[0]));
	g->v[g->n].a = at_xstrdup(a);
	g->v[g->n].b = at_xstrdup(b);
	g->v[g->n].last_trace = -1;
	return &g->v[g->n++];
}

static void agg_add(struct agg *r, const struct at_tv_span *s, long trace)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->durs = at_xrealloc(r->durs, r->cap * sizeof(*r->durs));
	}
	r->durs[r->n++] = at_tv_dur(s);
	r->total += at_tv_dur(s);
	r->errors += s->status == 2;
	if (r->last_trace != trace) {
		r->last_trace = trace;
		r->traces++;
		r->cur = 0;
	}
	if (++r->cur > r->max_cur)
		r->max_cur = r->cur;
}

static void aggs_sort_durs(struct aggs *g)
{
	for (size_t i = 0; i < g->n; i++)
		qsort(g->v[i].durs, g->v[i].n, sizeof(uint64_t), cmp_u64);
}

static void aggs_free(struct aggs *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].a);
		free(g->v[i].b);
		free(g->v[i].durs);
	}
	free(g->v);
}

static int is_db(const struct at_tv_span *s)
{
	return !at_tv_span_is_cache(s) && (at_tv_attr(s, "db.system.name") ||
					   at_tv_attr(s, "db.system"));
}

/* A server child of s in another service: the callee is traced. */
static const struct at_tv_span *server_child(const struct at_tv_span *s)
{
	for (size_t c = 0; c < s->n_children; c++)
		if (s->children[c]->kind == 2)
			return s->children[c];
	return NULL;
}

/* "system|host:port" names a place (not "|:" of a span with no peer). */
static int has_host(const char *target)
{
	const char *bar = strchr(target, '|');
	const char *h = bar ? bar + 1 : target;

	return *h && *h != ':';
}

static const char *svc_name(const struct at_tv_span *s)
{
	return s->service && *s->service ? s->service : "(unknown)";
}

static void node(FILE *f, int *first, const char *id, const char *type)
{
	char label[300];
	const char *bar = strchr(id, '|');

	size_t n;

	if (bar == id)
		snprintf(label, sizeof(label), "%s", id + 1);
	else if (bar)
		snprintf(label, sizeof(label), "%.*s %s", (int)(bar - id), id,
			 bar + 1);
	else
		snprintf(label, sizeof(label), "%s", id);
	n = strlen(label);
	if (n && label[n - 1] == ':') /* a socket path: no port */
		label[n - 1] = 0;
	fputs(*first ? "\n{\"id\":" : ",\n{\"id\":", f);
	*first = 0;
	at_render_json_str(f, id);
	fputs(",\"type\":", f);
	at_render_json_str(f, type);
	fputs(",\"label\":", f);
	at_render_json_str(f, label);
	putc('}', f);
}

static int api_services(FILE *f, const struct at_traces *t)
{
	struct aggs edges = { 0 }, nodes = { 0 };
	int first = 1;

	for (size_t i = 0; t && i < t->n_traces; i++) {
		const struct at_tv_trace *tr = &t->traces[i];

		for (size_t j = 0; j < tr->n_spans; j++) {
			const struct at_tv_span *s = tr->spans[j], *srv;
			struct agg *e, *nd;
			char *target;

			if (*s->service && (nd = agg_get(&nodes, s->service, "")))
				nd->type = "service";
			if ((s->kind != 3 && s->kind != 4) || at_tv_span_is_connect(s))
				continue;
			srv = server_child(s);
			if (srv) {
				if (!strcmp(svc_name(srv), svc_name(s)))
					continue;
				e = agg_get(&edges, svc_name(s), svc_name(srv));
				if (e)
					agg_add(e, s, (long)i);
				continue;
			}
			target = at_tv_span_target(s);
			if (target && has_host(target)) {
				nd = agg_get(&nodes, target, "");
				if (nd)
					nd->type = at_tv_span_is_cache(s) ? "cache" :
						   is_db(s) ? "database" : "external";
				e = agg_get(&edges, svc_name(s), target);
				if (e)
					agg_add(e, s, (long)i);
			}
			free(target);
		}
	}
	aggs_sort_durs(&edges);
	fputs("{\"nodes\":[", f);
	for (size_t i = 0; i < nodes.n; i++)
		node(f, &first, nodes.v[i].a, nodes.v[i].type);
	fputs("],\"edges\":[", f);
	for (size_t i = 0; i < edges.n; i++) {
		const struct agg *e = &edges.v[i];

		fputs(i ? ",\n{\"from\":" : "\n{\"from\":", f);
		at_render_json_str(f, e->a);
		fputs(",\"to\":", f);
		at_render_json_str(f, e->b);
		fprintf(f, ",\"calls\":%zu,\"errors\":%zu,\"err_rate\":%.4f,"
			"\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 "}", e->n, e->errors,
			e->n ? (double)e->errors / (double)e->n : 0.0,
			rank(e->durs, e->n, 50), rank(e->durs, e->n, 99));
	}
	fprintf(f, "],\"truncated\":%d}\n", nodes.truncated || edges.truncated);
	aggs_free(&edges);
	aggs_free(&nodes);
	return 200;
}

/* cache = 1: the cache view; 0: the database view. */
static int api_calls(FILE *f, const struct at_traces *t, int cache)
{
	struct aggs g = { 0 };

	for (size_t i = 0; t && i < t->n_traces; i++) {
		const struct at_tv_trace *tr = &t->traces[i];

		for (size_t j = 0; j < tr->n_spans; j++) {
			const struct at_tv_span *s = tr->spans[j];
			const char *hit;
			struct agg *r;
			char *what;

			if (cache ? !at_tv_span_is_cache(s) : !is_db(s))
				continue;
			what = at_tv_span_what(s);
			r = agg_get(&g, svc_name(s), what);
			free(what);
			if (!r)
				continue;
			agg_add(r, s, (long)i);
			hit = at_tv_attr(s, "autotrace.cache.hit");
			if (hit && !strcmp(hit, "true"))
				r->hits++;
			else if (hit)
				r->misses++;
		}
	}
	aggs_sort_durs(&g);
	fputs(cache ? "{\"keys\":[" : "{\"statements\":[", f);
	for (size_t i = 0; i < g.n; i++) {
		const struct agg *r = &g.v[i];

		fputs(i ? ",\n{\"service\":" : "\n{\"service\":", f);
		at_render_json_str(f, r->a);
		fputs(cache ? ",\"key\":" : ",\"statement\":", f);
		at_render_json_str(f, r->b);
		fprintf(f, ",\"count\":%zu,\"errors\":%zu,\"total\":%" PRIu64
			",\"p50\":%" PRIu64 ",\"p99\":%" PRIu64, r->n, r->errors,
			r->total, rank(r->durs, r->n, 50), rank(r->durs, r->n, 99));
		if (cache)
			fprintf(f, ",\"hits\":%zu,\"misses\":%zu,\"hit_rate\":%.4f",
				r->hits, r->misses, r->hits + r->misses ?
				(double)r->hits / (double)(r->hits + r->misses) : 0.0);
		else
			fprintf(f, ",\"traces\":%zu,\"per_req\":%.2f,"
				"\"max_per_req\":%zu", r->traces,
				r->traces ? (double)r->n / (double)r->traces : 0.0,
				r->max_cur);
		putc('}', f);
	}
	fprintf(f, "],\"truncated\":%d}\n", g.truncated);
	aggs_free(&g);
	return 200;
}

void at_api_endpoint_key(FILE *f, const struct at_tv_endpoint *e)
{
	fputs("\"service\":", f);
	at_render_json_str(f, e->service);
	fputs(",\"method\":", f);
	at_render_json_str(f, e->method);
	fputs(",\"route\":", f);
	at_render_json_str(f, e->route);
	fputs(",\"name\":", f);
	at_render_json_str(f, e->name);
}

static int api_endpoints(FILE *f, const struct at_traces *t)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	double window;

	for (size_t i = 0; t && i < t->n_traces; i++) {
		if (t->traces[i].start_ns < lo)
			lo = t->traces[i].start_ns;
		if (t->traces[i].end_ns > hi)
			hi = t->traces[i].end_ns;
	}
	window = hi > lo ? (double)(hi - lo) / 1e9 : 0;
	if (window < 1)
		window = 1;
	fputs("{\"endpoints\":[", f);
	for (size_t k = 0; t && k < t->n_endpoints; k++) {
		const struct at_tv_endpoint *e = &t->endpoints[k];

		fputs(k ? ",\n{" : "\n{", f);
		at_api_endpoint_key(f, e);
		fprintf(f, ",\"count\":%zu,\"rate\":%.3f,\"errors\":%zu,"
			"\"err_rate\":%.4f,\"p50\":%" PRIu64 ",\"p90\":%" PRIu64
			",\"p99\":%" PRIu64 ",\"queries_per_req\":%.2f}", e->count,
			(double)e->count / window, e->errors,
			e->count ? (double)e->errors / (double)e->count : 0.0,
			e->p50, e->p90, e->p99, e->queries_per_req);
	}
	fprintf(f, "],\"window_s\":%.3f}\n", window);
	return 200;
}

/* ---- the page and the router ---- */

static int page(FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
	      "img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<link rel=\"icon\" href=\"data:,\">\n<title>autotrace</title>\n<style>\n",
	      f);
	fputs(at_ui_css, f);
	fputs("</style>\n</head>\n<body>\n", f);
	fputs(at_ui_html, f);
	fputs("<script>\n", f);
	fputs(at_ui_js, f);
	fputs("</script>\n</body>\n</html>\n", f);
	return 200;
}

static int route(FILE *f, const struct at_traces *t,
		 const struct at_traces *baseline, const char *path,
		 const char *q, const char **type)
{
	*type = "application/json";
	if (!strcmp(path, "/api/diff")) {
		char *since = query_get(q, "since");
		int st = at_api_diff(f, t, baseline, since);

		free(since);
		return st;
	}
	if (!strcmp(path, "/api/traces"))
		return api_traces(f, t, q);
	if (!strncmp(path, "/api/traces/", 12))
		return api_trace(f, t, path + 12);
	if (!strcmp(path, "/api/services"))
		return api_services(f, t);
	if (!strcmp(path, "/api/endpoints"))
		return api_endpoints(f, t);
	if (!strcmp(path, "/api/cache"))
		return api_calls(f, t, 1);
	if (!strcmp(path, "/api/db"))
		return api_calls(f, t, 0);
	if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
		*type = "text/html; charset=utf-8";
		return page(f);
	}
	fputs("{\"error\":\"unknown path\"}\n", f);
	return 404;
}

int at_api_get(const struct at_traces *t, const char *target,
	       struct at_buf *body, const char **type)
{
	return at_api_get_with_baseline(t, NULL, target, body, type);
}

int at_api_get_with_baseline(const struct at_traces *t,
			     const struct at_traces *baseline,
			     const char *target, struct at_buf *body,
			     const char **type)
{
	const char *qm = strchr(target, '?');
	char *path = at_xstrndup(target, qm ? (size_t)(qm - target) :
				 strlen(target));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int status;

	if (!f) {
		free(path);
		*type = "text/plain; charset=utf-8";
		return 500;
	}
	status = route(f, t, baseline, path, qm ? qm + 1 : "", type);
	if (status == 400)
		fputs("{\"error\":\"bad request\"}\n", f);
	fclose(f);
	at_xbuf_add(body, text, len);
	free(text);
	free(path);
	return status;
}
