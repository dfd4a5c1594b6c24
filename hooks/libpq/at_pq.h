/*
 * at_pq.h - PostgreSQL client spans for programs that use libpq.
 *
 * The library never links libpq: the real functions are looked up with
 * dlsym(RTLD_NEXT) the first time a hook runs (a program without libpq
 * never calls them).  Spans follow the database semantic conventions
 * (db.system.name = postgresql, db.namespace, db.operation.name,
 * db.collection.name, db.query.text, db.response.returned_rows,
 * db.response.status_code, error.type = SQLSTATE).
 *
 * One statement, one span: libpq calls its own exported functions (PQexec
 * calls PQsendQuery and PQgetResult), so the family's bit of the guard's
 * owner mask makes the inner calls pass straight through.  State per PGconn (in-flight
 * asynchronous queries, prepared statement texts, a pending asynchronous
 * connect) lives in a small table keyed by the PGconn pointer; libpq
 * forbids using one PGconn from two threads at once, so each state has one
 * user at a time.
 */
#ifndef AT_PQ_H
#define AT_PQ_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "at_clock.h"
#include "at_compat.h"
#include "at_family.h"
#include "at_span.h"

/* A PQexec/PQsendQuery text longer than this gets no SQLCommenter
 * comment (the commented copy is made on the hook's stack). */
#define AT_PQ_COMMENTED_MAX 8192

/* X(return type, name, parameters) for every libpq function used. */
#define AT_PQ_FUNCS(X)                                                        \
	X(PGconn *, PQconnectdb, (const char *))                              \
	X(PGconn *, PQconnectdbParams, (const char *const *,                  \
					 const char *const *, int))           \
	X(PGconn *, PQsetdbLogin, (const char *, const char *, const char *,  \
				   const char *, const char *, const char *,  \
				   const char *))                             \
	X(PGconn *, PQconnectStart, (const char *))                           \
	X(PGconn *, PQconnectStartParams, (const char *const *,               \
					    const char *const *, int))        \
	X(PostgresPollingStatusType, PQconnectPoll, (PGconn *))               \
	X(void, PQreset, (PGconn *))                                          \
	X(void, PQfinish, (PGconn *))                                         \
	X(PGresult *, PQexec, (PGconn *, const char *))                       \
	X(PGresult *, PQexecParams, (PGconn *, const char *, int,             \
				     const Oid *, const char *const *,        \
				     const int *, const int *, int))          \
	X(PGresult *, PQprepare, (PGconn *, const char *, const char *, int,  \
				  const Oid *))                               \
	X(PGresult *, PQexecPrepared, (PGconn *, const char *, int,           \
				       const char *const *, const int *,      \
				       const int *, int))                     \
	X(PGresult *, PQdescribePrepared, (PGconn *, const char *))           \
	X(PGresult *, PQdescribePortal, (PGconn *, const char *))             \
	X(int, PQsendQuery, (PGconn *, const char *))                         \
	X(int, PQsendQueryParams, (PGconn *, const char *, int, const Oid *,  \
				   const char *const *, const int *,          \
				   const int *, int))                         \
	X(int, PQsendPrepare, (PGconn *, const char *, const char *, int,     \
			       const Oid *))                                  \
	X(int, PQsendQueryPrepared, (PGconn *, const char *, int,             \
				     const char *const *, const int *,        \
				     const int *, int))                       \
	X(int, PQsendDescribePrepared, (PGconn *, const char *))              \
	X(int, PQsendDescribePortal, (PGconn *, const char *))                \
	X(PGresult *, PQgetResult, (PGconn *))                                \
	X(int, PQputCopyData, (PGconn *, const char *, int))                  \
	X(int, PQputCopyEnd, (PGconn *, const char *))                        \
	X(int, PQgetCopyData, (PGconn *, char **, int))                       \
	X(ExecStatusType, PQresultStatus, (const PGresult *))                 \
	X(int, PQntuples, (const PGresult *))                                 \
	X(char *, PQresultErrorField, (const PGresult *, int))                \
	X(char *, PQdb, (const PGconn *))                                     \
	X(char *, PQhost, (const PGconn *))                                   \
	X(char *, PQhostaddr, (const PGconn *))                               \
	X(char *, PQport, (const PGconn *))                                   \
	X(char *, PQuser, (const PGconn *))                                   \
	X(ConnStatusType, PQstatus, (const PGconn *))                         \
	X(char *, PQerrorMessage, (const PGconn *))

#define AT_PQ_DECL(ret, name, params) ret(*name) params;
struct at_pq_real {
	AT_PQ_FUNCS(AT_PQ_DECL)
};
#undef AT_PQ_DECL

extern struct at_pq_real at_pq;
extern struct at_symtab at_pq_syms;

/* Resolve the table once; true if libpq is in the process. */
static inline bool at_pq_resolve(void)
{
	return at_symtab_resolve(&at_pq_syms);
}

/*
 * Enter a libpq hook: true if this call is to be traced (then call
 * at_pq_leave() when done).  False for nested libpq calls (the guard's
 * AT_OWN_PQ bit), calls made while the library's guard is held, or when
 * tracing is off.
 */
static inline bool at_pq_enter(void)
{
	return at_family_enter(AT_OWN_PQ, &at_pq_syms);
}

static inline void at_pq_leave(void)
{
	at_family_leave(AT_OWN_PQ);
}

/* ---- connection spans ---- */

/* Start a connection span (not yet knowing the PGconn); activated so the
 * TCP connect underneath becomes its child. */
struct at_span *at_pq_connect_begin(void);
/* The connection is made or failed (conn may be NULL). */
void at_pq_connect_end(struct at_span *s, PGconn *conn);
/* Asynchronous connect: keep s with conn until PQconnectPoll decides. */
void at_pq_connect_pending(PGconn *conn, struct at_span *s);
/* PQconnectPoll returned st: end the pending span if it is final; during
 * the poll, the pending span is active (its TCP connect nests under it). */
void at_pq_connect_poll_begin(PGconn *conn);
void at_pq_connect_poll_end(PGconn *conn, PostgresPollingStatusType st);

/* The connection was (re)made or may have been: its attributes are read
 * again from libpq for the next statement. */
void at_pq_conn_changed(PGconn *conn);

/* ---- query spans ---- */

/* Start the span of a statement with text (may be NULL) on conn; the
 * text is sanitised (literals become '?', placeholders stay) unless
 * AUTOTRACE_DB_RAW_QUERY.  Both halves below, in one. */
struct at_span *at_pq_query_begin(PGconn *conn, const char *op_override,
				  const char *text);
/* The two halves of at_pq_query_begin: start (the start time and ids)
 * and describe (the connection's and the statement's attributes, the
 * name). */
struct at_span *at_pq_query_start(PGconn *conn);
void at_pq_query_describe(PGconn *conn, struct at_span *s,
			  const char *op_override, const char *text);
/*
 * The asynchronous sends take only the start time (t0, at_mono_ns()) before
 * the send - and the span itself (at_pq_query_start) if the text gets the
 * SQLCommenter comment, which needs its ids - and the rest after it, while
 * the server works on the statement: a client that waits for each answer
 * (pgbench) does not wait for this work.  at_pq_query_sent starts s if it
 * is NULL, dates it back to t0, describes it and returns it.
 */
struct at_span *at_pq_query_sent(PGconn *conn, struct at_span *s, uint64_t t0,
				 const char *op_override, const char *text);

/* Record what a result says (rows, SQLSTATE, message). */
void at_pq_query_result(struct at_span *s, const PGresult *res);
/* Record a failure to send (the connection's error message). */
void at_pq_query_failed(struct at_span *s, PGconn *conn);
void at_pq_query_end(struct at_span *s);
/* The same for a statement of conn: the span stays with the connection
 * for its next statement (saves the pool's get and put). */
void at_pq_query_end_on(PGconn *conn, struct at_span *s);

/* Asynchronous queries: spans waiting for PQgetResult to return NULL. */
void at_pq_push(PGconn *conn, struct at_span *s);
struct at_span *at_pq_oldest(PGconn *conn);
void at_pq_pop_end(PGconn *conn);
/* PQgetResult returned res: the oldest span takes it (rows, errors; not
 * a pipeline sync or a COPY's start), or ends when res is NULL. */
void at_pq_got_result(PGconn *conn, const PGresult *res);

/* COPY: rows moved by PQputCopyData / PQgetCopyData on conn. */
void at_pq_copy_row(PGconn *conn);

/* Prepared statements: name -> text, so executions show the text. */
void at_pq_prepared_set(PGconn *conn, const char *name, const char *text);
const char *at_pq_prepared_get(PGconn *conn, const char *name);

/* PQfinish: end what is in flight, forget the connection. */
void at_pq_forget(PGconn *conn);

#endif
