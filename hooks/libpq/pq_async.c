/*
 * hooks/libpq/pq_async.c - asynchronous statements: PQsendQuery,
 * PQsendQueryParams, PQsendPrepare, PQsendQueryPrepared,
 * PQsendDescribePrepared, PQsendDescribePortal, and their results through
 * PQgetResult; pipeline mode works the same way (one span per statement,
 * ended in order).
 *
 * A span starts when the statement is sent and waits in the connection's
 * FIFO; PQgetResult feeds each result to the oldest span (rows, errors),
 * and its NULL - "this statement's results are done" - ends that span.
 * PGRES_PIPELINE_SYNC results belong to no statement, COPY results mean
 * the transfer goes on.  A send that fails ends its span at once with the
 * connection's error.  PQsendQuery's text gets the SQLCommenter comment
 * as PQexec's does (pq_exec.c).
 *
 * Order: only the start time is taken before the send (and the span
 * started, when the comment needs its ids); the span is started, dated
 * back and described after it, while the server works on the statement
 * (at_pq_query_sent): a client that waits for each answer, as pgbench
 * does, then waits for the server and not for the sanitising, copying
 * and id making too, about 1,000 of the 1,500 instructions of a
 * statement.
 */
#include "at_config.h"
#include "at_pq.h"
#include "at_wire_pg.h"

/* The statement of s was handed to libpq (ok) or refused. */
static void sent(PGconn *conn, struct at_span *s, int ok)
{
	if (ok) {
		at_pq_push(conn, s);
	} else {
		at_pq_query_failed(s, conn);
		at_pq_query_end(s);
	}
}

AT_EXPORT int PQsendQuery(PGconn *conn, const char *query)
{
	char buf[AT_PQ_COMMENTED_MAX];
	struct at_span *s = NULL;
	const char *q = query;
	uint64_t t0;
	int ok;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQsendQuery(conn, query) : 0;
	t0 = at_mono_ns();
	if (AT_UNLIKELY(at_cfg.db_sqlcommenter)) {
		s = at_pq_query_start(conn);
		q = at_wire_pg_commented(s, query, buf, sizeof(buf));
	}
	ok = at_pq.PQsendQuery(conn, q);
	sent(conn, at_pq_query_sent(conn, s, t0, NULL, query), ok);
	at_pq_leave();
	return ok;
}

AT_EXPORT int PQsendQueryParams(PGconn *conn, const char *command, int n,
				const Oid *types, const char *const *values,
				const int *lengths, const int *formats,
				int result_format)
{
	uint64_t t0;
	int ok;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQsendQueryParams(
						 conn, command, n, types,
						 values, lengths, formats,
						 result_format)
				       : 0;
	t0 = at_mono_ns();
	ok = at_pq.PQsendQueryParams(conn, command, n, types, values, lengths,
				     formats, result_format);
	sent(conn, at_pq_query_sent(conn, NULL, t0, NULL, command), ok);
	at_pq_leave();
	return ok;
}

AT_EXPORT int PQsendPrepare(PGconn *conn, const char *name, const char *query,
			    int n, const Oid *types)
{
	uint64_t t0;
	int ok;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQsendPrepare(conn, name, query,
							     n, types)
				       : 0;
	at_pq_prepared_set(conn, name, query);
	t0 = at_mono_ns();
	ok = at_pq.PQsendPrepare(conn, name, query, n, types);
	sent(conn, at_pq_query_sent(conn, NULL, t0, "PREPARE", query), ok);
	at_pq_leave();
	return ok;
}

AT_EXPORT int PQsendQueryPrepared(PGconn *conn, const char *name, int n,
				  const char *const *values,
				  const int *lengths, const int *formats,
				  int result_format)
{
	uint64_t t0;
	int ok;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQsendQueryPrepared(
						 conn, name, n, values,
						 lengths, formats,
						 result_format)
				       : 0;
	t0 = at_mono_ns();
	ok = at_pq.PQsendQueryPrepared(conn, name, n, values, lengths, formats,
				       result_format);
	sent(conn,
	     at_pq_query_sent(conn, NULL, t0, NULL,
			      at_pq_prepared_get(conn, name)),
	     ok);
	at_pq_leave();
	return ok;
}

AT_EXPORT int PQsendDescribePrepared(PGconn *conn, const char *name)
{
	uint64_t t0;
	int ok;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQsendDescribePrepared(conn,
								      name)
				       : 0;
	t0 = at_mono_ns();
	ok = at_pq.PQsendDescribePrepared(conn, name);
	sent(conn,
	     at_pq_query_sent(conn, NULL, t0, "DESCRIBE",
			      at_pq_prepared_get(conn, name)),
	     ok);
	at_pq_leave();
	return ok;
}

AT_EXPORT int PQsendDescribePortal(PGconn *conn, const char *portal)
{
	uint64_t t0;
	int ok;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQsendDescribePortal(conn,
								    portal)
				       : 0;
	t0 = at_mono_ns();
	ok = at_pq.PQsendDescribePortal(conn, portal);
	sent(conn, at_pq_query_sent(conn, NULL, t0, "DESCRIBE", NULL), ok);
	at_pq_leave();
	return ok;
}

AT_EXPORT PGresult *PQgetResult(PGconn *conn)
{
	PGresult *res;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQgetResult(conn) : NULL;
	res = at_pq.PQgetResult(conn);
	at_pq_got_result(conn, res);
	at_pq_leave();
	return res;
}
