/*
 * test_diff.c - comparing two sets of traces (at_diff.c): an N+1 that
 * appeared, queries per request up, a new error, slower percentiles,
 * endpoints new and gone; the same set against itself changes nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_diff.h"
#include "tv_spans.h"

#define PG "db.system.name", "postgresql", "server.address", "db.local"

/* A /items request (trace tr) with n per-row queries of dur_us each. */
static void items(struct at_traces *t, unsigned tr, unsigned n,
		  uint64_t dur_us)
{
	unsigned i;

	mk(t, tr, 1, 0, "backend", "GET", 2, 0, 1000 + n * dur_us,
	   "http.request.method", "GET", "url.path", "/items",
	   "http.response.status_code", "200", NULL);
	mk(t, tr, 2, 1, "backend", "SELECT items", 3, 0, 100, PG,
	   "db.query.text", "SELECT id FROM items", NULL);
	for (i = 0; i < n; i++)
		mk(t, tr, 10 + i, 1, "backend", "SELECT items", 3,
		   100 + i * dur_us, 100 + (i + 1) * dur_us, PG,
		   "db.query.text", "SELECT name FROM items WHERE id = ?",
		   NULL);
}

static char *render(const struct at_traces *a, const struct at_traces *b,
		    size_t *worse)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	*worse = at_diff_render(f, a, b);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

Test(diff, n_plus_one_that_appeared)
{
	struct at_traces *a = at_traces_new(), *b = at_traces_new();
	struct at_diff d;
	size_t worse;
	char *out;

	items(a, 1, 1, 1000);
	items(a, 2, 1, 1000);
	items(b, 1, 8, 1000);
	items(b, 2, 8, 1000);
	/* a new failing endpoint */
	mk(b, 3, 1, 0, "backend", "GET", 2, 0, 10, "http.request.method",
	   "GET", "url.path", "/broken", "http.response.status_code", "500",
	   NULL)->status = 2;
	at_traces_build(a);
	at_traces_build(b);
	at_diff_collect(&d, a, b);
	cr_assert_eq(d.n_rows, 2);
	cr_assert_str_eq(d.rows[0].name, "backend GET /broken");
	cr_assert_null(d.rows[0].before);
	cr_assert_str_eq(d.rows[1].name, "backend GET /items");
	cr_assert_eq(d.rows[1].worse, 1);
	cr_assert_eq(d.rows[1].before->queries_per_req, 2.0);
	cr_assert_eq(d.rows[1].after->queries_per_req, 9.0);
	cr_assert_eq(d.n_appeared, 2);
	cr_assert_eq(d.appeared[0].kind, AT_FIND_N_PLUS_ONE);
	cr_assert_str_eq(d.appeared[0].what, "backend GET /items: SELECT name "
			 "FROM items WHERE id = ?");
	cr_assert_eq(d.appeared[0].times, 2);
	cr_assert_eq(d.appeared[1].kind, AT_FIND_ERROR);
	cr_assert_str_eq(d.appeared[1].what, "backend GET /broken: GET "
			 "/broken failed: HTTP 500");
	at_diff_free(&d);
	out = render(a, b, &worse);
	cr_assert_eq(worse, 3);
	cr_assert_not_null(strstr(out, "! backend GET /items: 2 -> 2, p50 "
				  "2.00 ms -> 9.00 ms (+350%)"), "%s", out);
	cr_assert_not_null(strstr(out, "q/req 2.0 -> 9.0"), "%s", out);
	cr_assert_not_null(strstr(out, "\n! new N+1: backend GET /items: SELECT "
				  "name FROM items WHERE id = ? (2 times)\n"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "\n+ backend GET /broken: new"), "%s",
			   out);
	free(out);

	/* the other way: the endpoint is gone, nothing appeared */
	out = render(b, a, &worse);
	cr_assert_eq(worse, 0, "%s", out);
	cr_assert_not_null(strstr(out, "\n- backend GET /broken: gone"), "%s",
			   out);
	free(out);
	/* against itself: nothing */
	out = render(a, a, &worse);
	cr_assert_eq(worse, 0);
	cr_assert_null(strstr(out, "\n!"), "%s", out);
	free(out);
	at_traces_free(a);
	at_traces_free(b);
}
