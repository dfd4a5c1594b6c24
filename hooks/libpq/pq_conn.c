/*
 * hooks/libpq/pq_conn.c - libpq connections: PQconnectdb,
 * PQconnectdbParams, PQsetdbLogin (blocking), PQconnectStart,
 * PQconnectStartParams + PQconnectPoll (asynchronous), PQreset, PQfinish.
 *
 * Each connection attempt is a CLIENT span "postgresql connect" with the
 * connection's attributes, status ERROR (CONNECTION_BAD and libpq's
 * message) when it fails.  It is the thread's active span while libpq
 * opens the socket, so the TCP connect span nests under it.  The
 * asynchronous form keeps the span from PQconnectStart until
 * PQconnectPoll reports OK or FAILED.  PQfinish ends whatever is still in
 * flight on the connection.  A connect, a reset or a poll tells the
 * family's state that the connection may have changed (its kept
 * attributes, at_pq.c), also for a new PGconn at a finished one's address.
 */
#include "at_pq.h"

static PGconn *traced_connect(PGconn *(*fn)(void *), void *arg)
{
	struct at_span *s = at_pq_connect_begin();
	PGconn *conn = fn(arg);

	if (conn)
		at_pq_conn_changed(conn);
	at_pq_connect_end(s, conn);
	return conn;
}

struct conninfo_args {
	const char *conninfo;
	const char *const *keys, *const *vals;
	int expand;
	const char *host, *port, *opts, *tty, *db, *login, *pwd;
};

static PGconn *call_connectdb(void *p)
{
	return at_pq.PQconnectdb(((struct conninfo_args *)p)->conninfo);
}

static PGconn *call_connectdb_params(void *p)
{
	struct conninfo_args *a = p;
	return at_pq.PQconnectdbParams(a->keys, a->vals, a->expand);
}

static PGconn *call_setdb_login(void *p)
{
	struct conninfo_args *a = p;
	return at_pq.PQsetdbLogin(a->host, a->port, a->opts, a->tty, a->db,
				  a->login, a->pwd);
}

/* Asynchronous start: the span stays with the connection. */
static PGconn *traced_start(PGconn *(*fn)(void *), void *arg)
{
	struct at_span *s = at_pq_connect_begin();
	PGconn *conn = fn(arg);

	if (conn)
		at_pq_conn_changed(conn);
	if (!conn || at_pq.PQstatus(conn) == CONNECTION_BAD)
		at_pq_connect_end(s, conn);
	else
		at_pq_connect_pending(conn, s);
	return conn;
}

static PGconn *call_start(void *p)
{
	return at_pq.PQconnectStart(((struct conninfo_args *)p)->conninfo);
}

static PGconn *call_start_params(void *p)
{
	struct conninfo_args *a = p;
	return at_pq.PQconnectStartParams(a->keys, a->vals, a->expand);
}

AT_EXPORT PGconn *PQconnectdb(const char *conninfo)
{
	struct conninfo_args a = { .conninfo = conninfo };
	PGconn *c;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQconnectdb(conninfo) : NULL;
	c = traced_connect(call_connectdb, &a);
	at_pq_leave();
	return c;
}

AT_EXPORT PGconn *PQconnectdbParams(const char *const *keys,
				    const char *const *vals, int expand)
{
	struct conninfo_args a = { .keys = keys, .vals = vals,
				   .expand = expand };
	PGconn *c;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQconnectdbParams(keys, vals,
								 expand)
				       : NULL;
	c = traced_connect(call_connectdb_params, &a);
	at_pq_leave();
	return c;
}

AT_EXPORT PGconn *PQsetdbLogin(const char *host, const char *port,
			       const char *opts, const char *tty,
			       const char *db, const char *login,
			       const char *pwd)
{
	struct conninfo_args a = { .host = host, .port = port, .opts = opts,
				   .tty = tty, .db = db, .login = login,
				   .pwd = pwd };
	PGconn *c;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQsetdbLogin(host, port, opts,
							    tty, db, login,
							    pwd)
				       : NULL;
	c = traced_connect(call_setdb_login, &a);
	at_pq_leave();
	return c;
}

AT_EXPORT PGconn *PQconnectStart(const char *conninfo)
{
	struct conninfo_args a = { .conninfo = conninfo };
	PGconn *c;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQconnectStart(conninfo) : NULL;
	c = traced_start(call_start, &a);
	at_pq_leave();
	return c;
}

AT_EXPORT PGconn *PQconnectStartParams(const char *const *keys,
				       const char *const *vals, int expand)
{
	struct conninfo_args a = { .keys = keys, .vals = vals,
				   .expand = expand };
	PGconn *c;

	if (!at_pq_enter())
		return at_pq_resolve() ? at_pq.PQconnectStartParams(keys, vals,
								    expand)
				       : NULL;
	c = traced_start(call_start_params, &a);
	at_pq_leave();
	return c;
}

AT_EXPORT PostgresPollingStatusType PQconnectPoll(PGconn *conn)
{
	PostgresPollingStatusType r;

	if (!at_pq_enter()) {
		if (!at_pq_resolve())
			return PGRES_POLLING_FAILED;
		r = at_pq.PQconnectPoll(conn);
		at_pq_conn_changed(conn);
		return r;
	}
	at_pq_connect_poll_begin(conn);
	r = at_pq.PQconnectPoll(conn);
	at_pq_conn_changed(conn);
	at_pq_connect_poll_end(conn, r);
	at_pq_leave();
	return r;
}

AT_EXPORT void PQreset(PGconn *conn)
{
	struct at_span *s;

	if (!at_pq_enter()) {
		if (at_pq_resolve()) {
			at_pq.PQreset(conn);
			at_pq_conn_changed(conn);
		}
		return;
	}
	s = at_pq_connect_begin();
	at_pq.PQreset(conn);
	at_pq_conn_changed(conn);
	at_pq_connect_end(s, conn);
	at_pq_leave();
}

AT_EXPORT void PQfinish(PGconn *conn)
{
	if (!at_pq_resolve())
		return;
	/* Forget the state even when not tracing now: a later PGconn may get
	 * the same address. */
	if (!at_owned(AT_OWN_PQ))
		at_pq_forget(conn);
	at_pq.PQfinish(conn);
}
