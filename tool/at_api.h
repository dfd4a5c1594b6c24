/*
 * at_api.h - the live dashboard of `autotrace serve` / `autotrace --ui`:
 * its page and its JSON API under /api/, answered from the trace model
 * (see at_api.c for the routes and the JSON).  Tool-only.
 */
#ifndef AT_API_H
#define AT_API_H

#include <stddef.h>
#include <stdio.h>

#include "at_buf.h"
#include "at_traces.h"

/* Traces listed by /api/traces at most (newest first), and by default. */
#define AT_API_LIST_MAX 1000
#define AT_API_LIST_DEFAULT 200
/* Rows of /api/services (nodes, edges), /api/cache, /api/db at most. */
#define AT_API_ROWS_MAX 500

/*
 * Answer GET target (path and query, as received) from t (built; NULL
 * as empty): "/" the page, "/api/..." JSON (application/json).  Appends
 * the body to *body, sets *type, returns the HTTP status (200, 404, 400).
 */
int at_api_get(const struct at_traces *t, const char *target,
	       struct at_buf *body, const char **type);
/* The same, with a baseline for /api/diff (built; NULL if none): the
 * traces of `serve --baseline FILE`. */
int at_api_get_with_baseline(const struct at_traces *t,
			     const struct at_traces *baseline,
			     const char *target, struct at_buf *body,
			     const char **type);

/* "service":S,"method":M,"route":R,"name":N of an endpoint (JSON members,
 * no braces): the key of the rows of /api/endpoints and /api/diff. */
void at_api_endpoint_key(FILE *f, const struct at_tv_endpoint *e);

#endif
