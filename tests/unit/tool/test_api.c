/*
 * test_api.c - the live dashboard's JSON API (at_api.c) on a model made
 * by hand: a request through curl -> frontend -> backend -> PostgreSQL
 * (an N+1) and Redis (a miss then a hit), a failing request whose span
 * carries hostile strings.  Every answer is parsed back with the tool's
 * JSON reader (valid JSON, strings escaped and decoded back to what went
 * in, nothing that could end a <script> element), the filters narrow the
 * list, the aggregates count what the model holds and stay bounded.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_api.h"
#include "at_json.h"
#include "tv_spans.h"

#define EVIL "</script><script>alert(\"x\\y\")</script><!--\n\t\x01"

static struct at_traces *model(void)
{
	struct at_traces *t = at_traces_new();

	/* trace 1: curl -> frontend /catalog -> backend /items -> 8 queries,
	 * two cache reads */
	mk(t, 1, 1, 0, "client", "GET", 3, 0, 10000, "http.request.method", "GET",
	   "url.full", "http://127.0.0.1:8000/catalog", "server.address", "127.0.0.1",
	   "server.port", "8000", "http.response.status_code", "200", NULL);
	mk(t, 1, 2, 1, "frontend", "GET", 2, 100, 9900, "http.request.method", "GET",
	   "url.path", "/catalog", "http.response.status_code", "200",
	   "user.id", "42", NULL);
	mk(t, 1, 3, 2, "frontend", "GET", 3, 200, 9800, "http.request.method", "GET",
	   "url.full", "http://127.0.0.1:9000/items", "server.address", "127.0.0.1",
	   "server.port", "9000", "http.response.status_code", "200", NULL);
	mk(t, 1, 4, 3, "backend", "GET", 2, 300, 9700, "http.request.method", "GET",
	   "url.path", "/items", "http.response.status_code", "200", NULL);
	for (unsigned i = 0; i < 8; i++) {
		/* as the library records it: literals already '?' */
		mk(t, 1, 10 + i, 4, "backend", "SELECT items", 3, 400 + i * 100,
		   450 + i * 100, "db.system.name", "postgresql", "db.query.text",
		   "SELECT name FROM items WHERE id = ?",
		   "db.operation.name", "SELECT", "db.collection.name", "items",
		   "server.address", "db.local", "server.port", "5432", NULL);
	}
	mk(t, 1, 30, 4, "backend", "GET", 3, 1300, 1350, "db.system.name", "redis",
	   "db.query.text", "GET item:7", "db.operation.name", "GET",
	   "autotrace.cache.hit", "false", "server.address", "127.0.0.1",
	   "server.port", "6379", NULL);
	mk(t, 1, 31, 4, "backend", "GET", 3, 1400, 1420, "db.system.name", "redis",
	   "db.query.text", "GET item:8", "db.operation.name", "GET",
	   "autotrace.cache.hit", "true", "server.address", "127.0.0.1",
	   "server.port", "6379", NULL);
	/* trace 2, later: a failing request with hostile strings */
	struct at_tv_span *s = mk(t, 2, 1, 0, "frontend", "GET", 2, 20000, 25000,
				  "http.request.method", "GET", "url.path",
				  "/checkout", "http.response.status_code", "502",
				  "note", EVIL, NULL);
	s->status = 2;
	s->res_attrs = calloc(1, sizeof(*s->res_attrs));
	s->res_attrs[0].key = strdup("service.name");
	s->res_attrs[0].value = strdup("frontend");
	s->n_res_attrs = 1;
	at_traces_build(t);
	return t;
}

/* GET target: the status, the body parsed into *v (must be JSON). */
static int get_json(const struct at_traces *t, const char *target,
		    struct at_json *v, char **raw)
{
	struct at_buf b = { 0 };
	const char *type = NULL;
	int st = at_api_get(t, target, &b, &type);

	cr_assert_str_eq(type, "application/json", "%s", target);
	cr_assert_eq(at_json_parse((const char *)b.data, b.len, v), 0,
		     "%s: not JSON: %.*s", target, (int)b.len, (char *)b.data);
	if (raw)
		*raw = strndup((const char *)b.data, b.len);
	at_buf_free(&b);
	return st;
}

static size_t list_len(const struct at_traces *t, const char *target)
{
	struct at_json v;
	size_t n;

	cr_assert_eq(get_json(t, target, &v, NULL), 200);
	n = at_json_get(&v, "traces")->n;
	at_json_free(&v);
	return n;
}

static const char *str(const struct at_json *o, const char *k)
{
	const struct at_json *v = at_json_get(o, k);

	cr_assert(v && v->type == AT_JSON_STR, "no string %s", k);
	return v->s;
}

static double num(const struct at_json *o, const char *k)
{
	const struct at_json *v = at_json_get(o, k);

	cr_assert(v && v->type == AT_JSON_NUM, "no number %s", k);
	return strtod(v->s, NULL);
}

Test(api, traces_newest_first_with_endpoint_and_status)
{
	struct at_traces *t = model();
	struct at_json v;

	cr_assert_eq(get_json(t, "/api/traces", &v, NULL), 200);
	const struct at_json *tr = at_json_get(&v, "traces");
	cr_assert_eq(tr->n, 2);
	cr_expect_eq(num(&tr->items[0], "status"), 502);
	cr_expect_eq(num(&tr->items[0], "err"), 1);
	cr_expect_str_eq(str(&tr->items[1], "op"), "GET /catalog");
	cr_expect_eq(num(&tr->items[1], "spans"), 14);
	cr_expect(strstr(str(&tr->items[1], "endpoint"), "GET /catalog"));
	cr_expect_str_eq(at_json_get(&tr->items[1], "tags")->items[0].s, "N+1");
	cr_expect_eq(num(&v, "total"), 2);
	at_json_free(&v);
	at_traces_free(t);
}

Test(api, filters_narrow_the_list)
{
	struct at_traces *t = model();

	cr_expect_eq(list_len(t, "/api/traces?status=error"), 1);
	cr_expect_eq(list_len(t, "/api/traces?status=5xx"), 1);
	cr_expect_eq(list_len(t, "/api/traces?status=ok"), 1);
	cr_expect_eq(list_len(t, "/api/traces?service=backend"), 1);
	cr_expect_eq(list_len(t, "/api/traces?service=nobody"), 0);
	cr_expect_eq(list_len(t, "/api/traces?endpoint=%2Fcheckout"), 1);
	cr_expect_eq(list_len(t, "/api/traces?attr=user.id%3D42"), 1);
	cr_expect_eq(list_len(t, "/api/traces?attr=user.id=4"), 0);
	cr_expect_eq(list_len(t, "/api/traces?attr=db.query.text~items+WHERE"), 1);
	cr_expect_eq(list_len(t, "/api/traces?attr=service.name=frontend"), 1,
		     "resource attributes match too");
	cr_expect_eq(list_len(t, "/api/traces?min_ms=9.5"), 1);
	cr_expect_eq(list_len(t, "/api/traces?limit=1"), 1);
	cr_expect_eq(list_len(t, "/api/traces?limit=999999"), 2);
	at_traces_free(t);
}

Test(api, strings_escaped_and_decoded_back)
{
	struct at_traces *t = model();
	struct at_json v;
	char *raw, id[64];

	cr_assert_eq(get_json(t, "/api/traces?status=error", &v, NULL), 200);
	snprintf(id, sizeof(id), "/api/traces/%s",
		 str(&at_json_get(&v, "traces")->items[0], "id"));
	at_json_free(&v);
	cr_assert_eq(get_json(t, id, &v, &raw), 200);
	cr_expect(!strstr(raw, "</script") && !strstr(raw, "<!--"), "%s", raw);
	const struct at_json *sp = &at_json_get(&v, "spans")->items[0];
	const struct at_json *attrs = at_json_get(sp, "attrs");
	int found = 0;

	for (size_t i = 0; i < attrs->n; i++)
		if (!strcmp(attrs->items[i].items[0].s, "note")) {
			cr_expect_str_eq(attrs->items[i].items[1].s, EVIL);
			found = 1;
		}
	cr_expect(found);
	cr_expect_str_eq(at_json_get(sp, "res")->items[0].items[0].s, "service.name");
	cr_expect_str_eq(str(sp, "err"), "HTTP 502");
	at_json_free(&v);
	free(raw);
	at_traces_free(t);
}

Test(api, bad_and_unknown_ids_and_paths)
{
	struct at_traces *t = model();
	struct at_json v;

	cr_expect_eq(get_json(t, "/api/traces/xyz", &v, NULL), 400);
	at_json_free(&v);
	cr_expect_eq(get_json(t, "/api/traces/000000000000000000000000000000ff",
			      &v, NULL), 404);
	at_json_free(&v);
	cr_expect_eq(get_json(t, "/api/nothing", &v, NULL), 404);
	at_json_free(&v);
	/* no model yet: empty answers */
	cr_expect_eq(get_json(NULL, "/api/services", &v, NULL), 200);
	cr_expect_eq(at_json_get(&v, "nodes")->n, 0);
	at_json_free(&v);
	at_traces_free(t);
}

static const struct at_json *edge(const struct at_json *v, const char *from,
				  const char *to_prefix)
{
	const struct at_json *e = at_json_get(v, "edges");

	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(str(&e->items[i], "from"), from) &&
		    !strncmp(str(&e->items[i], "to"), to_prefix, strlen(to_prefix)))
			return &e->items[i];
	return NULL;
}

Test(api, service_map_edges_and_nodes)
{
	struct at_traces *t = model();
	struct at_json v;

	cr_assert_eq(get_json(t, "/api/services", &v, NULL), 200);
	const struct at_json *e = edge(&v, "client", "frontend");
	cr_assert_not_null(e);
	cr_expect_eq(num(e, "calls"), 1);
	e = edge(&v, "frontend", "backend");
	cr_assert_not_null(e, "a traced callee is its service");
	cr_expect_eq(num(e, "calls"), 1);
	cr_expect_eq(num(e, "p50"), 9600000);
	e = edge(&v, "backend", "postgresql|");
	cr_assert_not_null(e);
	cr_expect_eq(num(e, "calls"), 8);
	cr_expect_eq(num(e, "err_rate"), 0);
	cr_assert_not_null(edge(&v, "backend", "redis|"));
	const struct at_json *n = at_json_get(&v, "nodes");
	int db = 0, cache = 0;

	for (size_t i = 0; i < n->n; i++) {
		db += !strcmp(str(&n->items[i], "type"), "database");
		cache += !strcmp(str(&n->items[i], "type"), "cache");
	}
	cr_expect_eq(db, 1);
	cr_expect_eq(cache, 1);
	at_json_free(&v);
	at_traces_free(t);
}

Test(api, endpoints_db_and_cache)
{
	struct at_traces *t = model();
	struct at_json v;

	cr_assert_eq(get_json(t, "/api/endpoints", &v, NULL), 200);
	cr_expect_geq(at_json_get(&v, "endpoints")->n, 3);
	at_json_free(&v);

	cr_assert_eq(get_json(t, "/api/db", &v, NULL), 200);
	const struct at_json *st = at_json_get(&v, "statements");
	cr_assert_eq(st->n, 1, "one statement once literals are removed");
	cr_expect_eq(num(&st->items[0], "count"), 8);
	cr_expect_eq(num(&st->items[0], "max_per_req"), 8);
	cr_expect_eq(num(&st->items[0], "per_req"), 8);
	cr_expect_eq(num(&st->items[0], "total"), 8 * 50000);
	at_json_free(&v);

	cr_assert_eq(get_json(t, "/api/cache", &v, NULL), 200);
	const struct at_json *k = at_json_get(&v, "keys");
	cr_assert_eq(k->n, 1, "one key pattern");
	cr_expect_eq(num(&k->items[0], "hits"), 1);
	cr_expect_eq(num(&k->items[0], "misses"), 1);
	cr_expect_eq(num(&k->items[0], "hit_rate"), 0.5);
	at_json_free(&v);
	at_traces_free(t);
}

Test(api, rows_bounded)
{
	struct at_traces *t = at_traces_new();
	struct at_json v;

	mk(t, 1, 1, 0, "svc", "GET", 2, 0, 100000, "http.request.method", "GET",
	   "url.path", "/x", NULL);
	for (unsigned i = 0; i < AT_API_ROWS_MAX + 50; i++) {
		char q[64];

		snprintf(q, sizeof(q), "SELECT a FROM t%u", i);
		mk(t, 1, 100 + i, 1, "svc", "SELECT", 3, 10 + i, 11 + i,
		   "db.system.name", "postgresql", "db.query.text", q, NULL);
	}
	at_traces_build(t);
	cr_assert_eq(get_json(t, "/api/db", &v, NULL), 200);
	cr_expect_eq(at_json_get(&v, "statements")->n, AT_API_ROWS_MAX);
	cr_expect_eq(num(&v, "truncated"), 1);
	at_json_free(&v);
	at_traces_free(t);
}

Test(api, page_is_offline)
{
	struct at_buf b = { 0 };
	const char *type = NULL;

	cr_assert_eq(at_api_get(NULL, "/", &b, &type), 200);
	cr_expect_str_eq(type, "text/html; charset=utf-8");
	cr_assert_not_null(b.data);
	cr_expect(strstr((char *)b.data, "default-src 'none'; connect-src 'self'"));
	cr_expect(!strstr((char *)b.data, "https://") &&
		  !strstr((char *)b.data, "src=\"http"), "nothing from elsewhere");
	cr_expect(strstr((char *)b.data, "/api/traces"));
	at_buf_free(&b);
}

/* ---- /api/diff ---- */

/* A request of trace tr to frontend `path` at us, lasting dur us, with
 * `queries` statements under it, HTTP status. */
static struct at_tv_span *req(struct at_traces *t, unsigned tr, uint64_t us,
			      uint64_t dur, const char *path, unsigned queries,
			      const char *status)
{
	struct at_tv_span *s = mk(t, tr, 1, 0, "frontend", "GET", 2, us, us + dur,
				  "http.request.method", "GET", "url.path", path,
				  "http.response.status_code", status, NULL);

	for (unsigned i = 0; i < queries; i++)
		mk(t, tr, 10 + i, 1, "frontend", "SELECT items", 3,
		   us + 10 + i * 20, us + 25 + i * 20, "db.system.name",
		   "postgresql", "db.query.text",
		   "SELECT name FROM items WHERE id = ?", "server.address",
		   "db.local", "server.port", "5432", NULL);
	return s;
}

/* Before 50 ms: /catalog with one query, /health, /checkout fine.  From
 * 50 ms on (after = 1): /catalog with 8 queries (an N+1), /health the
 * same, /checkout failing with a hostile message. */
static void diff_traffic(struct at_traces *t, int before, int after)
{
	if (before) {
		req(t, 1, 0, 1000, "/catalog", 1, "200");
		req(t, 2, 2000, 100, "/health", 0, "200");
		req(t, 3, 3000, 500, "/checkout", 0, "200");
	}
	if (after) {
		req(t, 11, 60000, 1000, "/catalog", 8, "200");
		req(t, 12, 72000, 100, "/health", 0, "200");
		struct at_tv_span *s = req(t, 13, 80000, 500, "/checkout", 0, "502");

		s->status = 2;
		free(s->status_msg);
		s->status_msg = strdup(EVIL);
	}
}

static const struct at_json *diff_row(const struct at_json *v, const char *name)
{
	const struct at_json *e = at_json_get(v, "endpoints");

	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(str(&e->items[i], "name"), name))
			return &e->items[i];
	return NULL;
}

/* What both ways of choosing the baseline must show. */
static void check_diff(const struct at_json *v, const char *raw)
{
	const struct at_json *r, *ap;
	int n1 = 0, err = 0;

	cr_expect(!strstr(raw, "</script") && !strstr(raw, "<!--"), "%s", raw);
	cr_expect_eq(num(v, "before_traces"), 3);
	cr_expect_eq(num(v, "after_traces"), 3);
	r = diff_row(v, "frontend GET /catalog");
	cr_assert_not_null(r, "%s", raw);
	cr_expect_eq(num(r, "worse"), 1, "queries per request 1 -> 8");
	cr_expect_str_eq(str(r, "state"), "both");
	cr_expect_eq(num(at_json_get(r, "before"), "queries_per_req"), 1);
	cr_expect_eq(num(at_json_get(r, "after"), "queries_per_req"), 8);
	cr_expect_eq(num(r, "p50_change"), 0);
	r = diff_row(v, "frontend GET /health");
	cr_assert_not_null(r);
	cr_expect_eq(num(r, "worse"), 0, "an unchanged endpoint is not worse");
	cr_expect_eq(num(at_json_get(r, "before"), "count"), 1);
	r = diff_row(v, "frontend GET /checkout");
	cr_assert_not_null(r);
	cr_expect_eq(num(r, "worse"), 1, "errors 0 -> 1");
	cr_expect_eq(num(at_json_get(r, "after"), "errors"), 1);
	ap = at_json_get(v, "appeared");
	for (size_t i = 0; i < ap->n; i++) {
		const char *k = str(&ap->items[i], "kind");
		const char *w = str(&ap->items[i], "what");

		if (!strcmp(k, "N+1")) {
			n1++;
			cr_expect(strstr(w, "frontend GET /catalog") &&
				  strstr(w, "SELECT name FROM items"), "%s", w);
			cr_expect_eq(num(&ap->items[i], "times"), 1);
		} else if (!strcmp(k, "error")) {
			err++;
			cr_expect(strstr(w, "frontend GET /checkout") &&
				  strstr(w, EVIL), "decoded back: %s", w);
		}
	}
	cr_expect_eq(n1, 1, "the N+1 that appeared: %s", raw);
	cr_expect_eq(err, 1, "the new error: %s", raw);
	cr_expect_eq(num(v, "worse"), 4, "two endpoints + two appeared");
	cr_expect_eq(num(v, "truncated"), 0);
}

Test(api, diff_since_mark_splits_the_traces)
{
	struct at_traces *t = at_traces_new();
	struct at_json v;
	char *raw;

	diff_traffic(t, 1, 1);
	at_traces_build(t);
	/* US(50000) is 1700000000050 ms */
	cr_assert_eq(get_json(t, "/api/diff?since=1700000000050", &v, &raw), 200);
	cr_expect_str_eq(str(&v, "mode"), "mark");
	cr_expect_eq(num(&v, "since_ms"), 1700000000050.0);
	check_diff(&v, raw);
	at_json_free(&v);
	free(raw);
	/* the live model is untouched: still one trace list of 6 */
	cr_expect_eq(list_len(t, "/api/traces"), 6);
	cr_expect_eq(t->n_traces, 6);
	at_traces_free(t);
}

/* /api/diff with the baseline file's traffic (diff_traffic(before, 0))
 * and the live traffic (diff_traffic(after_before, 1)). */
static char *diff_with_file(int after_before, struct at_json *v)
{
	struct at_traces *before = at_traces_new(), *after = at_traces_new();
	struct at_buf b = { 0 };
	const char *type = NULL;
	char *raw;

	diff_traffic(before, 1, 0);
	diff_traffic(after, after_before, !after_before);
	at_traces_build(before);
	at_traces_build(after);
	cr_assert_eq(at_api_get_with_baseline(after, before, "/api/diff", &b,
					      &type), 200);
	cr_expect_str_eq(type, "application/json");
	raw = strndup((const char *)b.data, b.len);
	cr_assert_eq(at_json_parse(raw, b.len, v), 0, "%s", raw);
	at_buf_free(&b);
	at_traces_free(before);
	at_traces_free(after);
	return raw;
}

Test(api, diff_file_baseline)
{
	struct at_json v;
	char *raw = diff_with_file(0, &v);

	cr_expect_str_eq(str(&v, "mode"), "file");
	check_diff(&v, raw);
	at_json_free(&v);
	free(raw);
}

Test(api, diff_same_traffic_nothing_worse)
{
	struct at_json v;
	char *raw = diff_with_file(1, &v);

	cr_expect_eq(num(&v, "worse"), 0, "%s", raw);
	cr_expect_eq(at_json_get(&v, "endpoints")->n, 3);
	cr_expect_eq(at_json_get(&v, "appeared")->n, 0);
	for (size_t i = 0; i < 3; i++)
		cr_expect_eq(num(&at_json_get(&v, "endpoints")->items[i], "worse"), 0);
	at_json_free(&v);
	free(raw);
}

Test(api, diff_without_baseline_and_bad_since)
{
	struct at_traces *t = at_traces_new();
	struct at_json v;

	diff_traffic(t, 1, 1);
	at_traces_build(t);
	cr_assert_eq(get_json(t, "/api/diff", &v, NULL), 200);
	cr_expect_str_eq(str(&v, "mode"), "none");
	cr_expect_eq(at_json_get(&v, "endpoints")->n, 0);
	at_json_free(&v);
	cr_expect_eq(get_json(t, "/api/diff?since=soon", &v, NULL), 400);
	at_json_free(&v);
	cr_expect_eq(get_json(t, "/api/diff?since=-5", &v, NULL), 400);
	at_json_free(&v);
	cr_expect_eq(get_json(NULL, "/api/diff?since=0", &v, NULL), 200,
		     "no model yet: empty");
	cr_expect_eq(num(&v, "after_traces"), 0);
	at_json_free(&v);
	at_traces_free(t);
}

Test(api, diff_rows_bounded)
{
	struct at_traces *t = at_traces_new();
	struct at_json v;
	unsigned tr = 1;

	/* 6 services x 100 routes: more endpoints than AT_API_ROWS_MAX */
	for (unsigned s = 0; s < 6; s++)
		for (unsigned r = 0; r < 100; r++, tr++) {
			char svc[16], path[32];

			snprintf(svc, sizeof(svc), "svc%u", s);
			snprintf(path, sizeof(path), "/r%c%c", 'a' + r / 26 % 26,
				 'a' + r % 26);
			mk(t, tr, 1, 0, svc, "GET", 2, tr * 10, tr * 10 + 5,
			   "http.request.method", "GET", "url.path", path, NULL);
		}
	at_traces_build(t);
	cr_assert_eq(get_json(t, "/api/diff?since=0", &v, NULL), 200);
	cr_expect_eq(at_json_get(&v, "endpoints")->n, AT_API_ROWS_MAX);
	cr_expect_eq(num(&v, "truncated"), 1);
	at_json_free(&v);
	at_traces_free(t);
}
