/*
 * hooks/libpq/pq_exec.c - synchronous statements: PQexec, PQexecParams,
 * PQprepare, PQexecPrepared, PQdescribePrepared, PQdescribePortal.
 *
 * One CLIENT span per call, named "{operation} {table}" (or the best the
 * text allows), with the text sanitised (literals become '?', also in
 * the parameterised forms; bound values are never read), rows returned,
 * and SQLSTATE and the primary message (its values redacted) on failure.  A statement that starts a
 * COPY (PQexec returning PGRES_COPY_IN/OUT) keeps its span open: it ends
 * when PQgetResult reports the end of the COPY (pq_async.c).  With
 * AUTOTRACE_DB_SQLCOMMENTER, PQexec's text goes to libpq with the span's
 * traceparent comment appended (at_wire_pg_commented; texts up to
 * AT_PQ_COMMENTED_MAX bytes).
 */
#include "at_pq.h"
#include "at_wire_pg.h"

/* End the span of a finished synchronous call, or keep it for a COPY. */
static PGresult *finish(PGconn *conn, struct at_span *s, PGresult *res)
{
	ExecStatusType st = res ? at_pq.PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (!res) {
		at_pq_query_failed(s, conn);
		at_pq_query_end(s);
	} else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
		   st == PGRES_COPY_BOTH) {
		at_pq_push(conn, s); /* ends with the COPY */
	} else {
		at_pq_query_result(s, res);
		at_pq_query_end_on(conn, s);
	}
	return res;
}

AT_EXPORT PGresult *PQexec(PGconn *conn, const char *query)
{
	char buf[AT_PQ_COMMENTED_MAX];
	struct at_span *s;
	PGresult *res;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQexec(conn, query) : NULL;
	s = at_pq_query_begin(conn, NULL, query);
	res = finish(conn, s,
		     at_pq.PQexec(conn, at_wire_pg_commented(s, query, buf,
							     sizeof(buf))));
	at_pq_leave();
	return res;
}

AT_EXPORT PGresult *PQexecParams(PGconn *conn, const char *command, int n,
				 const Oid *types, const char *const *values,
				 const int *lengths, const int *formats,
				 int result_format)
{
	struct at_span *s;
	PGresult *res;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQexecParams(conn, command, n,
							    types, values,
							    lengths, formats,
							    result_format)
				       : NULL;
	s = at_pq_query_begin(conn, NULL, command);
	res = finish(conn, s,
		     at_pq.PQexecParams(conn, command, n, types, values,
					lengths, formats, result_format));
	at_pq_leave();
	return res;
}

AT_EXPORT PGresult *PQprepare(PGconn *conn, const char *name,
			      const char *query, int n, const Oid *types)
{
	struct at_span *s;
	PGresult *res;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQprepare(conn, name, query, n,
							 types)
				       : NULL;
	at_pq_prepared_set(conn, name, query);
	s = at_pq_query_begin(conn, "PREPARE", query);
	res = finish(conn, s, at_pq.PQprepare(conn, name, query, n, types));
	at_pq_leave();
	return res;
}

AT_EXPORT PGresult *PQexecPrepared(PGconn *conn, const char *name, int n,
				   const char *const *values,
				   const int *lengths, const int *formats,
				   int result_format)
{
	struct at_span *s;
	PGresult *res;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQexecPrepared(conn, name, n,
							      values, lengths,
							      formats,
							      result_format)
				       : NULL;
	s = at_pq_query_begin(conn, NULL, at_pq_prepared_get(conn, name));
	res = finish(conn, s,
		     at_pq.PQexecPrepared(conn, name, n, values, lengths,
					  formats, result_format));
	at_pq_leave();
	return res;
}

AT_EXPORT PGresult *PQdescribePrepared(PGconn *conn, const char *name)
{
	struct at_span *s;
	PGresult *res;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQdescribePrepared(conn, name)
				       : NULL;
	s = at_pq_query_begin(conn, "DESCRIBE", at_pq_prepared_get(conn, name));
	res = finish(conn, s, at_pq.PQdescribePrepared(conn, name));
	at_pq_leave();
	return res;
}

AT_EXPORT PGresult *PQdescribePortal(PGconn *conn, const char *portal)
{
	struct at_span *s;
	PGresult *res;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQdescribePortal(conn, portal)
				       : NULL;
	s = at_pq_query_begin(conn, "DESCRIBE", NULL);
	res = finish(conn, s, at_pq.PQdescribePortal(conn, portal));
	at_pq_leave();
	return res;
}
