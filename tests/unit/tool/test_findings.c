/*
 * test_findings.c - the findings rules (at_findings.c), route inference
 * and operation names (at_routes.c), the endpoints table
 * (at_endpoints.c), each with true and false cases.
 *
 * Spans are built directly as model records (struct at_tv_span) with
 * attributes in their printable form, as at_traces_add_request() makes
 * them.  Span ids are small numbers; times are in microseconds.  The
 * demo's shapes come from what the library records for scripts/demo/
 * (psycopg2 over libpq: "postgresql connect", "BEGIN", "SELECT items"
 * on one connection, all with the same server.address).
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_traces.h"
#include "tv_spans.h"

static void fail_span(struct at_tv_span *s, const char *msg)
{
	s->status = 2;
	free(s->status_msg);
	s->status_msg = strdup(msg);
}

#define PG "db.system.name", "postgresql", "server.address", "db.local", \
	"server.port", "5432"

static struct at_tv_span *sql(struct at_traces *t, unsigned tr, unsigned id,
			      unsigned parent, const char *name,
			      const char *q, uint64_t a, uint64_t b)
{
	return mk(t, tr, id, parent, "backend", name, 3, a, b, PG,
		  "db.query.text", q, NULL);
}

static struct at_tv_span *http(struct at_traces *t, unsigned tr,
			       unsigned id, unsigned parent,
			       const char *host, const char *url,
			       const char *status, uint64_t a, uint64_t b)
{
	return mk(t, tr, id, parent, "frontend", "GET", 3, a, b,
		  "http.request.method", "GET", "url.full", url,
		  "server.address", host, "server.port", "80",
		  "http.response.status_code", status, NULL);
}

static struct at_tv_span *server(struct at_traces *t, unsigned tr,
				 unsigned id, unsigned parent,
				 const char *svc, const char *path,
				 uint64_t a, uint64_t b)
{
	return mk(t, tr, id, parent, svc, "GET", 2, a, b,
		  "http.request.method", "GET", "url.path", path,
		  "http.response.status_code", "200", NULL);
}

static size_t count_kind(const struct at_tv_trace *tr, int k)
{
	size_t i, n = 0;

	for (i = 0; i < tr->n_findings; i++)
		n += (int)tr->findings[i].kind == k;
	return n;
}

static const struct at_tv_finding *first_kind(const struct at_tv_trace *tr,
					      int k)
{
	size_t i;

	for (i = 0; i < tr->n_findings; i++)
		if ((int)tr->findings[i].kind == k)
			return &tr->findings[i];
	return NULL;
}

/* Every finding has what, where, cost and fix. */
static void check_complete(const struct at_traces *t)
{
	size_t i, j;

	for (i = 0; i < t->n_traces; i++)
		for (j = 0; j < t->traces[i].n_findings; j++) {
			const struct at_tv_finding *f = &t->traces[i].findings[j];

			cr_assert(f->text && *f->text);
			cr_assert(f->fix && *f->fix, "%s", f->text);
			cr_assert_not_null(f->parent);
			cr_assert(f->n_spans > 0);
			cr_assert_null(strchr(f->text, '\n'));
			cr_assert_null(strchr(f->fix, '\n'));
		}
}

/* The demo's backend request: connect, BEGIN, SELECT ids, n SELECTs. */
static void demo_items(struct at_traces *t, unsigned tr, unsigned n)
{
	unsigned i;

	server(t, tr, 1, 0, "backend", "/items", 0, 10000);
	mk(t, tr, 2, 1, "backend", "postgresql connect", 3, 100, 900, PG, NULL);
	sql(t, tr, 3, 1, "BEGIN", "BEGIN", 1000, 1200);
	sql(t, tr, 4, 1, "SELECT items", "SELECT id FROM items ORDER BY id",
	    1300, 2000);
	for (i = 0; i < n; i++)
		sql(t, tr, 10 + i, 1, "SELECT items",
		    "SELECT name FROM items WHERE id = ?",
		    2100 + i * 300, 2300 + i * 300);
}

/* ---- N+1 ---- */

Test(findings, demo_n_plus_one_is_one_finding)
{
	struct at_traces *t = at_traces_new();
	const struct at_tv_finding *f;

	demo_items(t, 1, 8);
	at_traces_build(t);
	cr_assert_eq(t->traces[0].n_findings, 1, "%zu: %s",
		     t->traces[0].n_findings, t->traces[0].findings[0].text);
	f = first_kind(&t->traces[0], AT_FIND_N_PLUS_ONE);
	cr_assert_not_null(f);
	cr_assert_eq(f->n_spans, 8);
	cr_assert_eq(f->total_ns, 8 * 200000ULL);
	cr_assert_str_eq(f->text, "SELECT name FROM items WHERE id = ? ran 8 "
			 "times in a row under GET /items (backend), 1.60 ms "
			 "total");
	cr_assert_not_null(strstr(f->fix, "one query"));
	check_complete(t);
	at_traces_free(t);
}

Test(findings, n_plus_one_needs_five)
{
	struct at_traces *t = at_traces_new();

	demo_items(t, 1, 4);
	at_traces_build(t);
	cr_assert_eq(t->traces[0].n_findings, 0);
	at_traces_free(t);
}

Test(findings, n_plus_one_different_statements_or_targets_are_not)
{
	struct at_traces *t = at_traces_new();
	unsigned i;

	server(t, 1, 1, 0, "backend", "/x", 0, 10000);
	/* five different statements */
	for (i = 0; i < 5; i++) {
		char q[64];

		snprintf(q, sizeof(q), "SELECT a FROM t%u WHERE id = ?", i);
		sql(t, 1, 10 + i, 1, "SELECT t", q, i * 100, i * 100 + 50);
	}
	/* the same statement on five different servers */
	for (i = 0; i < 5; i++) {
		char host[16];

		snprintf(host, sizeof(host), "db%u", i);
		mk(t, 1, 20 + i, 1, "backend", "SELECT u", 3, 1000 + i * 100,
		   1050 + i * 100, "db.system.name", "postgresql",
		   "server.address", host, "db.query.text",
		   "SELECT * FROM u WHERE id = ?", NULL);
	}
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_N_PLUS_ONE), 0);
	at_traces_free(t);
}

Test(findings, n_plus_one_cache_keys)
{
	struct at_traces *t = at_traces_new();
	const struct at_tv_finding *f;
	unsigned i;

	server(t, 1, 1, 0, "api", "/users", 0, 10000);
	for (i = 0; i < 6; i++) {
		char q[32];

		snprintf(q, sizeof(q), "GET user:%u", 100 + i);
		mk(t, 1, 10 + i, 1, "api", "GET", 3, i * 100, i * 100 + 50,
		   "db.system.name", "redis", "db.operation.name", "GET",
		   "db.query.text", q, "server.address", "cache",
		   "autotrace.cache.hit", "true", NULL);
	}
	at_traces_build(t);
	f = first_kind(&t->traces[0], AT_FIND_N_PLUS_ONE);
	cr_assert_not_null(f);
	cr_assert_eq(f->n_spans, 6);
	cr_assert_not_null(strstr(f->text, "GET user:? ran 6 times"), "%s",
			   f->text);
	cr_assert_not_null(strstr(f->fix, "MGET"));
	at_traces_free(t);
}

/* ---- parallelisable ---- */

Test(findings, demo_connect_begin_select_is_not_parallel)
{
	struct at_traces *t = at_traces_new();

	server(t, 1, 1, 0, "backend", "/broken", 0, 160000);
	mk(t, 1, 2, 1, "backend", "postgresql connect", 3, 100, 130000, PG,
	   NULL);
	sql(t, 1, 3, 1, "BEGIN", "BEGIN", 130100, 142000);
	sql(t, 1, 4, 1, "SELECT orders", "SELECT total FROM orders WHERE id = ?",
	    142100, 150000);
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_SEQUENTIAL), 0);
	at_traces_free(t);
}

Test(findings, one_connections_statements_are_not_parallel)
{
	struct at_traces *t = at_traces_new();

	server(t, 1, 1, 0, "backend", "/x", 0, 100000);
	sql(t, 1, 2, 1, "SELECT a", "SELECT * FROM a", 0, 20000);
	sql(t, 1, 3, 1, "SELECT b", "SELECT * FROM b", 20000, 40000);
	sql(t, 1, 4, 1, "SELECT c", "SELECT * FROM c", 40000, 60000);
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_SEQUENTIAL), 0);
	at_traces_free(t);
}

Test(findings, independent_calls_to_different_services_are_parallel)
{
	struct at_traces *t = at_traces_new();
	const struct at_tv_finding *f;

	server(t, 1, 1, 0, "frontend", "/page", 0, 100000);
	http(t, 1, 2, 1, "users", "http://users/u/42", "200", 0, 30000);
	http(t, 1, 3, 1, "orders", "http://orders/o?user=42", "200", 30000,
	     70000);
	http(t, 1, 4, 1, "stock", "http://stock/s", "200", 70000, 90000);
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_SEQUENTIAL), 1);
	f = first_kind(&t->traces[0], AT_FIND_SEQUENTIAL);
	cr_assert_eq(f->n_spans, 3);
	cr_assert_eq(f->total_ns, 50000000ULL, "sum 90 ms - longest 40 ms");
	cr_assert_not_null(strstr(f->text, "GET /u/{id}, GET /o, GET /s"),
			   "%s", f->text);
	check_complete(t);
	at_traces_free(t);
}

Test(findings, parallel_false_cases)
{
	struct at_traces *t = at_traces_new();

	/* overlapping already */
	server(t, 1, 1, 0, "frontend", "/a", 0, 100000);
	http(t, 1, 2, 1, "users", "http://users/u", "200", 0, 30000);
	http(t, 1, 3, 1, "orders", "http://orders/o", "200", 20000, 60000);
	/* a cache lookup then the database (cache-aside: dependent) */
	server(t, 2, 1, 0, "api", "/b", 0, 100000);
	mk(t, 2, 2, 1, "api", "GET", 3, 0, 20000, "db.system.name", "redis",
	   "db.query.text", "GET k:1", "server.address", "cache",
	   "autotrace.cache.hit", "false", NULL);
	sql(t, 2, 3, 1, "SELECT k", "SELECT * FROM k WHERE id = ?", 20000,
	    60000);
	/* inside a transaction on two databases */
	server(t, 3, 1, 0, "api", "/c", 0, 100000);
	sql(t, 3, 2, 1, "BEGIN", "BEGIN", 0, 1000);
	sql(t, 3, 3, 1, "SELECT a", "SELECT * FROM a", 1000, 30000);
	mk(t, 3, 4, 1, "api", "SELECT b", 3, 30000, 60000, "db.system.name",
	   "mysql", "server.address", "other", "db.query.text",
	   "SELECT * FROM b", NULL);
	sql(t, 3, 5, 1, "COMMIT", "COMMIT", 60000, 61000);
	/* a connect then its own query, and an UPDATE */
	server(t, 4, 1, 0, "api", "/d", 0, 100000);
	mk(t, 4, 2, 1, "api", "postgresql connect", 3, 0, 30000, PG, NULL);
	sql(t, 4, 3, 1, "SELECT a", "SELECT * FROM a", 30000, 60000);
	mk(t, 4, 4, 1, "api", "UPDATE b", 3, 60000, 90000, "db.system.name",
	   "mysql", "server.address", "other", "db.query.text",
	   "UPDATE b SET x = ?", NULL);
	/* saves too little */
	server(t, 5, 1, 0, "frontend", "/e", 0, 100000);
	http(t, 5, 2, 1, "users", "http://users/u", "200", 0, 300);
	http(t, 5, 3, 1, "orders", "http://orders/o", "200", 300, 600);
	at_traces_build(t);
	cr_assert_eq(t->n_traces, 5);
	for (size_t i = 0; i < t->n_traces; i++)
		cr_assert_eq(count_kind(&t->traces[i], AT_FIND_SEQUENTIAL), 0,
			     "trace %zu: %s", i,
			     t->traces[i].n_findings ?
			     t->traces[i].findings[0].text : "");
	at_traces_free(t);
}

/* ---- slow spans ---- */

/* Slow findings among n usual requests of 10 ms and one of odd_us. */
static size_t slow_findings(unsigned n, uint64_t odd_us)
{
	struct at_traces *t = at_traces_new();
	size_t i, found = 0;

	for (i = 0; i < n; i++)
		server(t, 1 + (unsigned)i, 1, 0, "api", "/orders/7",
		       i * 100000, i * 100000 + 10000);
	server(t, 100, 1, 0, "api", "/orders/8", 3000000, 3000000 + odd_us);
	at_traces_build(t);
	for (i = 0; i < t->n_traces; i++)
		found += count_kind(&t->traces[i], AT_FIND_SLOW);
	at_traces_free(t);
	return found;
}

Test(findings, slow_needs_history_and_a_margin)
{
	struct at_traces *t = at_traces_new();
	const struct at_tv_finding *f;
	unsigned i;

	/* 24 usual requests of 10 ms, one of 50 ms with a slow query */
	for (i = 0; i < 24; i++)
		server(t, 1 + i, 1, 0, "api", "/orders/7", i * 100000,
		       i * 100000 + 10000);
	server(t, 100, 1, 0, "api", "/orders/8", 3000000, 3050000);
	sql(t, 100, 2, 1, "SELECT orders", "SELECT * FROM orders", 3001000,
	    3045000);
	at_traces_build(t);
	cr_assert_eq(t->n_endpoints, 1);
	cr_assert_str_eq(t->endpoints[0].name, "api GET /orders/{id}");
	for (i = 0; i < t->n_traces; i++) {
		const struct at_tv_trace *tr = &t->traces[i];

		cr_assert_eq(count_kind(tr, AT_FIND_SLOW),
			     tr->trace_id[15] == 100 ? 1u : 0u);
		if (tr->trace_id[15] == 100) {
			f = first_kind(tr, AT_FIND_SLOW);
			cr_assert_eq(f->total_ns, 40000000ULL);
			cr_assert_not_null(strstr(f->fix, "SELECT orders"),
					   "%s", f->fix);
		}
	}
	check_complete(t);
	at_traces_free(t);

	/* the same with too little history: nothing */
	cr_assert_eq(slow_findings(10, 50000), 0);
	/* enough history, within the margin (1.5x p90): nothing */
	cr_assert_eq(slow_findings(24, 15000), 0);
	/* both: one */
	cr_assert_eq(slow_findings(24, 50000), 1);
}

/* ---- errors ---- */

Test(findings, error_root_cause_deepest_first)
{
	struct at_traces *t = at_traces_new();
	struct at_tv_span *s;
	const struct at_tv_finding *f;

	/* the demo's /checkout: client -> frontend -> backend -> SQL */
	s = mk(t, 1, 1, 0, "client", "GET", 3, 0, 1000, "http.request.method",
	       "GET", "url.full", "http://127.0.0.1:1/checkout",
	       "http.response.status_code", "502", NULL);
	s->status = 2;
	s = mk(t, 1, 2, 1, "frontend", "GET", 2, 10, 990,
	       "http.request.method", "GET", "url.path", "/checkout",
	       "http.response.status_code", "502", NULL);
	s->status = 2;
	s = http(t, 1, 3, 2, "127.0.0.1", "http://127.0.0.1:2/broken", "500",
		 20, 980);
	s->status = 2;
	s = mk(t, 1, 4, 3, "backend", "GET", 2, 30, 970,
	       "http.request.method", "GET", "url.path", "/broken",
	       "http.response.status_code", "500", NULL);
	s->status = 2;
	mk(t, 1, 5, 4, "backend", "postgresql connect", 3, 40, 500, PG, NULL);
	fail_span(sql(t, 1, 6, 4, "SELECT orders", "SELECT total FROM orders",
		      600, 700), "relation \"orders\" does not exist");
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_ERROR), 1);
	f = first_kind(&t->traces[0], AT_FIND_ERROR);
	cr_assert_eq(f->n_spans, 5);
	cr_assert_str_eq(f->spans[0]->name, "SELECT orders");
	cr_assert_str_eq(f->text, "SELECT orders (backend) failed: relation "
			 "\"orders\" does not exist <- GET /broken (backend) "
			 "HTTP 500 <- GET /broken (frontend) HTTP 500 <- GET "
			 "/checkout (frontend) HTTP 502 <- GET /checkout "
			 "(client) HTTP 502");
	cr_assert_eq(f->total_ns, 1000000ULL);
	check_complete(t);
	at_traces_free(t);

	/* no error: no finding */
	t = at_traces_new();
	server(t, 1, 1, 0, "api", "/ok", 0, 10);
	at_traces_build(t);
	cr_assert_eq(t->traces[0].n_findings, 0);
	at_traces_free(t);
}

Test(findings, error_text_without_message)
{
	struct at_traces *t = at_traces_new();
	struct at_tv_span *s;
	char buf[64];

	s = http(t, 1, 1, 0, "x", "http://x/", "502", 0, 10);
	s->status = 2;
	at_tv_span_error_text(s, buf, sizeof(buf));
	cr_assert_str_eq(buf, "HTTP 502");
	fail_span(s, "boom");
	at_tv_span_error_text(s, buf, sizeof(buf));
	cr_assert_str_eq(buf, "boom");
	at_traces_free(t);
}

/* ---- retries ---- */

Test(findings, retry_after_an_error)
{
	struct at_traces *t = at_traces_new();
	const struct at_tv_finding *f;

	server(t, 1, 1, 0, "shop", "/pay", 0, 100000);
	fail_span(http(t, 1, 2, 1, "pay", "http://pay/charge", "503", 0,
		       10000), "");
	fail_span(http(t, 1, 3, 1, "pay", "http://pay/charge", "503", 20000,
		       30000), "");
	http(t, 1, 4, 1, "pay", "http://pay/charge", "200", 40000, 45000);
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_RETRY), 1);
	f = first_kind(&t->traces[0], AT_FIND_RETRY);
	cr_assert_eq(f->n_spans, 3);
	cr_assert_eq(f->total_ns, 20000000ULL);
	cr_assert_str_eq(f->text, "GET /charge was retried 2 times after HTTP "
			 "503 under GET /pay (shop); 20.0 ms spent on failed "
			 "attempts");
	check_complete(t);
	at_traces_free(t);

	/* the same call twice without an error is not a retry */
	t = at_traces_new();
	server(t, 1, 1, 0, "shop", "/pay", 0, 100000);
	http(t, 1, 2, 1, "pay", "http://pay/charge", "200", 0, 10000);
	http(t, 1, 3, 1, "pay", "http://pay/charge", "200", 20000, 30000);
	/* a failure followed by a different call neither */
	fail_span(http(t, 1, 4, 1, "pay", "http://pay/refund", "500", 40000,
		       50000), "");
	http(t, 1, 5, 1, "pay", "http://pay/other", "200", 60000, 70000);
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_RETRY), 0);
	at_traces_free(t);
}

/* ---- cache misses ---- */

static void cache_get(struct at_traces *t, unsigned tr, unsigned id,
		      unsigned parent, const char *key, int hit,
		      uint64_t a, uint64_t b)
{
	char q[64];

	snprintf(q, sizeof(q), "GET %s", key);
	mk(t, tr, id, parent, "api", "GET", 3, a, b, "db.system.name",
	   "redis", "db.operation.name", "GET", "db.query.text", q,
	   "server.address", "cache", "autotrace.cache.hit",
	   hit ? "true" : "false", NULL);
}

Test(findings, cache_misses_dominating)
{
	struct at_traces *t = at_traces_new();
	const struct at_tv_finding *f;

	server(t, 1, 1, 0, "api", "/users/1", 0, 100000);
	cache_get(t, 1, 2, 1, "user:1", 0, 0, 1000);
	sql(t, 1, 3, 1, "SELECT users", "SELECT * FROM users WHERE id = ?",
	    1000, 11000);
	cache_get(t, 1, 4, 1, "user:2", 0, 11000, 12000);
	sql(t, 1, 5, 1, "SELECT users", "SELECT * FROM users WHERE id = ?",
	    12000, 22000);
	cache_get(t, 1, 6, 1, "user:3", 1, 22000, 23000);
	cache_get(t, 1, 7, 1, "user:4", 0, 23000, 24000);
	sql(t, 1, 8, 1, "SELECT users", "SELECT * FROM users WHERE id = ?",
	    24000, 34000);
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_CACHE_MISS), 1);
	f = first_kind(&t->traces[0], AT_FIND_CACHE_MISS);
	cr_assert_eq(f->total_ns, 30000000ULL);
	cr_assert_str_eq(f->text, "cache lookups under GET /users/{id} (api) "
			 "missed 3 of 4 times (first: GET user:?); 30.0 ms of "
			 "work after the misses");
	check_complete(t);
	at_traces_free(t);

	/* mostly hits: nothing */
	t = at_traces_new();
	server(t, 1, 1, 0, "api", "/users/1", 0, 100000);
	cache_get(t, 1, 2, 1, "user:1", 1, 0, 1000);
	cache_get(t, 1, 3, 1, "user:2", 1, 1000, 2000);
	cache_get(t, 1, 4, 1, "user:3", 0, 2000, 3000);
	at_traces_build(t);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_CACHE_MISS), 0);
	at_traces_free(t);
}

/* ---- routes and operations ---- */

static void route_is(const char *path, const char *want)
{
	char *r = at_route_template(path);

	cr_assert_str_eq(r, want, "%s", path);
	free(r);
}

Test(routes, templates)
{
	route_is("/orders/42", "/orders/{id}");
	route_is("/orders/42/items?x=1#f", "/orders/{id}/items");
	route_is("/u/3f2504e0-4f89-11d3-9a0c-0305e82c3301/x", "/u/{id}/x");
	route_is("/blob/9f86d081884c7d65", "/blob/{id}");
	route_is("/t/Ab3dEfGh1jKlMn0pQr", "/t/{id}");
	route_is("/catalog", "/catalog");
	route_is("/deadbeef", "/deadbeef");       /* hex letters only */
	route_is("/v2/api", "/v2/api");           /* short token */
	route_is("", "/");
	route_is("?q=1", "/");
	route_is("/", "/");
}

Test(routes, long_paths_are_bounded)
{
	char path[2000], *r;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	for (size_t i = 50; i < sizeof(path) - 1; i += 50)
		path[i] = '/';
	path[sizeof(path) - 1] = '\0';
	r = at_route_template(path);
	cr_assert(strlen(r) <= AT_ROUTE_MAX + 60, "%zu", strlen(r));
	cr_assert_not_null(strstr(r, "..."));
	free(r);
}

Test(routes, cache_keys)
{
	char *k = at_cache_key_template("user:42:profile");

	cr_assert_str_eq(k, "user:?:profile");
	free(k);
	k = at_cache_key_template("session:3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	cr_assert_str_eq(k, "session:?");
	free(k);
}

Test(routes, operations)
{
	struct at_traces *t = at_traces_new();
	struct at_tv_span *s;
	char *op;

	s = http(t, 1, 1, 0, "x", "http://x:80/orders/42?a=b", "200", 0, 1);
	op = at_tv_span_op(s);
	cr_assert_str_eq(op, "GET /orders/{id}");
	free(op);
	s = mk(t, 1, 2, 0, "api", "GET", 2, 0, 1, "http.request.method", "GET",
	       "url.path", "/orders/42", "http.route", "/orders/:id", NULL);
	op = at_tv_span_op(s);
	cr_assert_str_eq(op, "GET /orders/:id");
	free(op);
	s = sql(t, 1, 3, 0, "SELECT orders", "SELECT * FROM orders", 0, 1);
	op = at_tv_span_op(s);
	cr_assert_str_eq(op, "SELECT orders");
	free(op);
	s = mk(t, 1, 4, 0, "api", "postgresql", 3, 0, 1, PG,
	       "db.operation.name", "SELECT", "db.collection.name", "orders",
	       NULL);
	op = at_tv_span_op(s);
	cr_assert_str_eq(op, "SELECT orders");
	free(op);
	cache_get(t, 1, 5, 0, "user:42", 1, 0, 1);
	cache_get(t, 1, 6, 0, "user:43", 0, 0, 1);
	at_traces_build(t);
	op = at_tv_span_op(t->traces[0].spans[4]);
	cr_assert(strcmp(op, "GET user:? hit") == 0 ||
		  strcmp(op, "GET user:? miss") == 0, "%s", op);
	free(op);
	at_traces_free(t);
}

Test(routes, endpoints_grouped_by_route_not_root_name)
{
	struct at_traces *t = at_traces_new();
	unsigned i;

	/* the demo: curl's /catalog and /checkout, both named "GET" */
	for (i = 0; i < 3; i++)
		mk(t, 1 + i, 1, 0, "client", "GET", 3, i * 1000, i * 1000 + 500,
		   "http.request.method", "GET", "url.full",
		   i < 2 ? "http://127.0.0.1:5/catalog" :
		   "http://127.0.0.1:5/checkout", "http.response.status_code",
		   i < 2 ? "200" : "502", NULL);
	at_traces_build(t);
	cr_assert_eq(t->n_endpoints, 2);
	cr_assert_str_eq(t->endpoints[0].name, "client GET /catalog");
	cr_assert_eq(t->endpoints[0].count, 2);
	cr_assert_str_eq(t->endpoints[1].name, "client GET /checkout");
	cr_assert_eq(t->endpoints[1].errors, 1);
	cr_assert_eq(t->traces[2].http_status, 502);
	cr_assert_eq(t->traces[2].endpoint, 1);
	at_traces_free(t);
}

Test(routes, endpoint_cardinality_is_bounded)
{
	struct at_traces *t = at_traces_new();
	unsigned i;
	size_t other = 0;

	for (i = 0; i < AT_ROUTES_PER_SERVICE + 50; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/page-%c%c%c", 'a' + i % 26,
			 'a' + i / 26 % 26, 'a' + i / 676);
		server(t, 1 + i, 1, 0, "api", p, i * 10, i * 10 + 5);
	}
	at_traces_build(t);
	cr_assert_eq(t->n_endpoints, AT_ROUTES_PER_SERVICE + 1);
	for (i = 0; i < t->n_endpoints; i++)
		if (!strcmp(t->endpoints[i].route, AT_ROUTE_OTHER))
			other = t->endpoints[i].count;
	cr_assert_eq(other, 50);
	at_traces_free(t);
}

Test(routes, queries_per_request_belong_to_the_nearest_endpoint)
{
	struct at_traces *t = at_traces_new();

	demo_items(t, 1, 8);
	/* the frontend above it has none of its own */
	at_traces_build(t);
	cr_assert_eq(t->n_endpoints, 1);
	cr_assert_eq(t->endpoints[0].queries, 10, "BEGIN, ids, 8 names");
	cr_assert_eq(t->endpoints[0].queries_per_req, 10.0);
	at_traces_free(t);
}

Test(routes, missing_parent_is_marked)
{
	struct at_traces *t = at_traces_new();

	server(t, 1, 2, 1, "backend", "/items", 0, 10);
	at_traces_build(t);
	cr_assert_eq(t->traces[0].missing_parents, 1);
	cr_assert_eq(t->traces[0].spans[0]->missing_parent, 1);
	at_traces_free(t);
}
