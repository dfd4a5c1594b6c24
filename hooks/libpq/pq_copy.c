/*
 * hooks/libpq/pq_copy.c - COPY data: PQputCopyData, PQputCopyEnd,
 * PQgetCopyData.  The COPY statement's span (opened by PQexec or a send,
 * ended by PQgetResult) counts the rows moved: each PQputCopyData /
 * successful PQgetCopyData call is one row for the usual text and CSV
 * formats, and the count becomes db.response.returned_rows.
 */
#include "at_pq.h"

AT_EXPORT int PQputCopyData(PGconn *conn, const char *buf, int n)
{
	int r;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQputCopyData(conn, buf, n) : -1;
	r = at_pq.PQputCopyData(conn, buf, n);
	if (r == 1)
		at_pq_copy_row(conn);
	at_pq_leave();
	return r;
}

AT_EXPORT int PQputCopyEnd(PGconn *conn, const char *errormsg)
{
	int r;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQputCopyEnd(conn, errormsg) : -1;
	r = at_pq.PQputCopyEnd(conn, errormsg);
	at_pq_leave();
	return r;
}

AT_EXPORT int PQgetCopyData(PGconn *conn, char **buf, int async)
{
	int r;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQgetCopyData(conn, buf, async)
				       : -2;
	r = at_pq.PQgetCopyData(conn, buf, async);
	if (r > 0)
		at_pq_copy_row(conn);
	at_pq_leave();
	return r;
}
