/*
 * at_pq.c - PostgreSQL spans for libpq programs (see at_pq.h).
 *
 * DESIGN
 *
 * Resolution.  The table of real libpq functions is a symbol table of the
 * family kit (at_family.h), filled once with dlsym(RTLD_NEXT) or from the
 * loaded libpq.so.5; a program that links libpq has them, one that does
 * not never calls our exported PQ* symbols.  A missing function leaves
 * the hook passing through.
 *
 * Nesting.  PQexec is PQsendQuery plus PQgetResult, PQconnectdb is
 * PQconnectStart plus PQconnectPoll, and libpq calls those through its
 * PLT, into our hooks.  The guard's AT_OWN_PQ bit (at_guard.h) makes every
 * libpq call made inside a traced one pass straight through, so one statement
 * gives one span.  The socket hooks stay active during libpq calls: the
 * TCP connect becomes the child of the connection span, and the rest of
 * libpq's traffic is not HTTP, so those connections go passive after
 * their first bytes (no duplicate spans, no cost).
 *
 * State.  Per PGconn: spans of asynchronous statements waiting for their
 * results (FIFO: results come back in order, also in pipeline mode), the
 * texts of prepared statements (a small table; the oldest entry is
 * replaced when full), a pending asynchronous connect, COPY row counts
 * and a spare span: a statement's span, once ended, stays with its
 * connection for the next statement instead of going back to the pool
 * (the pool's get and put, ~75 instructions, per statement saved; freed
 * with the connection).  States live in the kit's handle map (a bounded pool and a
 * lock-free pointer map), so nothing locks; each thread remembers the
 * last state it found in front of the map (at_handle_hit.h, the memory the
 * TLS families keep for their sessions too: a statement looks its connection up
 * four times - send, queue, result, end - and a hit is three compares
 * where the map costs about 35 instructions).  PQfinish voids every
 * thread's memory before the state is dropped.
 *
 * Per statement, the cost is kept to a copy where it can be (pgbench -c 1
 * was 6,300 instructions per statement over bare, half of it lexing):
 *   - the connection's attributes are an attribute block (at_span.h) made
 *     once per connection and copied into each span; it is made again
 *     when libpq's answers (PQdb, PQhost, PQport, PQhostaddr: pointers
 *     into the PGconn) change, or after a connect, PQreset or
 *     PQconnectPoll;
 *   - the statement's attributes come from the connection's memo of its
 *     last texts (at_wire_sql_statement_memo): a repeated text, or one
 *     that differs only in its literals, is compared instead of lexed;
 *     its block is copied without a search for its keys on the span
 *     (at_wire_sql_statement_memo_new: the span has its connection's
 *     keys only, never a statement's; the search cost about 80
 *     instructions when key bits were shared by chance).
 * And for the asynchronous sends most of it runs while the server works:
 * only the start time is read before the send, the span is started
 * (dated back to it) and described after (at_pq_query_sent), so a client
 * that waits for each answer waits for about 3.5 k instructions of ours
 * per pgbench TPC-B-like transaction instead of 10.5 k.
 *
 * Text.  Statements are sanitised (at_sql: literals become '?', $n
 * placeholders stay) unless AUTOTRACE_DB_RAW_QUERY - parameterised ones
 * too (PQexecParams, prepared), whose text may hold literals besides its
 * placeholders; bound values are never read.  The text is cut to
 * AUTOTRACE_DB_QUERY_MAX_LENGTH.
 *
 * Error messages echo what the program sent ('invalid input syntax for
 * type integer: "123-45-6789"', a bound value included), so the status
 * message goes through at_sql_pg_error: values become '?', and a quoted
 * name stays only if it is an identifier of the statement text the span
 * already carries (db.query.text, read back from the span) or, for
 * integrity errors, a constraint/column/relation/table name.  With
 * AUTOTRACE_DB_RAW_QUERY the server's message is kept as it is.  A
 * connection's message (libpq's, maybe the server's FATAL) is always
 * redacted, whatever AUTOTRACE_DB_RAW_QUERY says: it may echo a piece of
 * the connection string, the password included ('missing "=" after
 * "passwordX"'); only the host, address, socket path, port, database and
 * user name the connection was made with stay.  The work is done on
 * failures only, in a stack buffer.
 */
#include <stdio.h>
#include <string.h>

#include "at_config.h"
#include "at_pool.h"
#include "at_pq.h"
#include "at_sql.h"
#include "at_handle_hit.h"
#include "at_wire_kit.h"

#define INFLIGHT 32
#define PREPARED 16
#define PREP_TEXT 512
#define MSG_MAX 1024 /* an error message is redacted into this */

struct pq_state {
	PGconn *conn;
	struct at_span *connect;      /* asynchronous connect in progress */
	struct at_span *fifo[INFLIGHT];
	uint32_t head, tail;
	int64_t copy_rows;
	uint32_t prep_next;
	struct {
		char name[64];
		char text[PREP_TEXT];
	} prep[PREPARED];
	/* The connection's attributes as a block, for what libpq answered
	 * (the pointers) when it was made; made again after a (re)connect. */
	bool conn_made;
	const char *conn_db, *conn_host, *conn_port, *conn_addr;
	struct at_span_block conn_attrs;
	struct at_wire_sql_memo memo; /* the last statements' attributes */
	struct at_span *spare; /* an ended statement's span, for the next */
};

struct at_pq_real at_pq;

#define AT_PQ_SYM(ret, name, params) AT_SYM(at_pq, name)
static const struct at_sym pq_syms[] = { AT_PQ_FUNCS(AT_PQ_SYM) };
#undef AT_PQ_SYM
/* The helpers every span needs must be there. */
static const char *const pq_required[] = {
	"PQresultStatus", "PQntuples", "PQresultErrorField", "PQdb",
	"PQhost", "PQport", "PQstatus", "PQerrorMessage", NULL
};
/* RTLD_NEXT, or the already loaded libpq.so.5 itself when a module
 * loaded it privately. */
struct at_symtab at_pq_syms = AT_SYMTAB_INIT("libpq.so.5", pq_syms,
					     pq_required);

static struct at_handle_map states =
	AT_HANDLE_MAP_INIT(sizeof(struct pq_state), 8192);
static struct at_pool span_pool = AT_POOL_INIT(sizeof(struct at_span), 65536);
/* The last connection this thread found (at_handle_hit.h), and the
 * generation that voids every thread's. */
static AT_TLS struct at_handle_hit last;
static _Atomic unsigned states_gen;

/* ---- per-connection state ---- */

/* The map's answer, remembered (a thread's first lookup, or another
 * connection than its last). */
AT_COLD static struct pq_state *state_find(PGconn *conn, bool create)
{
	unsigned gen = at_handle_hit_gen(&states_gen);
	struct pq_state *st = at_handle_get(&states, conn, create);

	if (!st)
		return NULL;
	st->conn = conn;
	at_handle_hit_take(&last, conn, st, gen);
	return st;
}

static inline struct pq_state *state_get(PGconn *conn, bool create)
{
	struct pq_state *st = at_handle_hit_find(&last, &states_gen, conn);

	return AT_LIKELY(st != NULL) ? st : state_find(conn, create);
}

/* ---- spans ---- */

static struct at_span *span_new(void)
{
	return at_span_pool_get(&span_pool);
}

static void span_free(struct at_span *s)
{
	at_span_pool_put(&span_pool, s);
}

/* A statement's span: the connection's spare one, else the pool's. */
static struct at_span *statement_span(struct pq_state *st)
{
	struct at_span *s = st ? st->spare : NULL;

	if (!s)
		return span_new();
	st->spare = NULL;
	return s;
}

/* End a statement's span; it stays with its connection (st, may be
 * NULL) for the next statement if it has none spare. */
static void statement_end(struct pq_state *st, struct at_span *s)
{
	at_span_end(s);
	if (st && !st->spare)
		st->spare = s;
	else
		span_free(s);
}

/* The socket path libpq uses for a directory host: "{dir}/.s.PGSQL.{port}",
 * cut to cap - 1 bytes as snprintf would (without its cost: this runs for
 * every statement's span).  Copied at once when it fits, as it does but
 * for a directory near PATH_MAX. */
static size_t socket_path(char *path, size_t cap, const char *dir,
			  const char *port)
{
	const char *p = port && *port ? port : "5432";

	return at_wire_join3(path, cap, dir, strlen(dir), "/.s.PGSQL.", 10, p,
			     strlen(p));
}

/* What libpq says the connection is (the values of its attributes). */
struct conn_id {
	const char *db, *host, *port, *addr;
};

static inline struct conn_id conn_id(PGconn *conn)
{
	return (struct conn_id){
		.db = at_pq.PQdb(conn),
		.host = at_pq.PQhost(conn),
		.port = at_pq.PQport(conn),
		.addr = at_pq.PQhostaddr ? at_pq.PQhostaddr(conn) : NULL,
	};
}

/* The connection's attributes, into a span (s) or a block (b): one of
 * the two is NULL. */
static void put_str(struct at_span *s, struct at_span_block *b,
		    const char *key, const char *v, size_t n)
{
	if (s)
		at_span_set_str(s, key, v, n);
	else
		at_span_block_str(b, key, v, n);
}

static void put_connection_attrs(struct at_span *s, struct at_span_block *b,
				 const struct conn_id *id)
{
	const char *host = id->host, *port = id->port;
	char path[512];

	put_str(s, b, "db.system.name", "postgresql", 10);
	if (id->db && *id->db)
		put_str(s, b, "db.namespace", id->db, strlen(id->db));
	if (host && host[0] == '/') {
		/* A unix socket: its path is the address (no port). */
		size_t n = socket_path(path, sizeof(path), host, port);
		put_str(s, b, "server.address", path, n);
		put_str(s, b, "network.transport", "unix", 4);
		return;
	}
	if (host && *host)
		put_str(s, b, "server.address", host, strlen(host));
	if (port && *port) {
		int64_t p = 0;
		for (const char *c = port; *c >= '0' && *c <= '9'; c++)
			p = p * 10 + (*c - '0');
		if (p > 0 && p < 65536) {
			if (s)
				at_span_set_int(s, "server.port", p);
			else
				at_span_block_int(b, "server.port", p);
		}
	}
	if (id->addr && *id->addr)
		put_str(s, b, "network.peer.address", id->addr,
			strlen(id->addr));
}

static void set_connection_attrs(struct at_span *s, PGconn *conn)
{
	struct conn_id id = conn_id(conn);

	if (at_span_recording(s))
		put_connection_attrs(s, NULL, &id);
}

/* The same from the connection's block, made when libpq's answers are
 * not those it was made for (a first statement, a reconnect). */
static void set_connection_attrs_kept(struct at_span *s, PGconn *conn,
				      struct pq_state *st)
{
	struct conn_id id = conn_id(conn);

	if (!st->conn_made || id.db != st->conn_db ||
	    id.host != st->conn_host || id.port != st->conn_port ||
	    id.addr != st->conn_addr) {
		at_span_block_clear(&st->conn_attrs);
		put_connection_attrs(NULL, &st->conn_attrs, &id);
		st->conn_db = id.db;
		st->conn_host = id.host;
		st->conn_port = id.port;
		st->conn_addr = id.addr;
		st->conn_made = true;
	}
	if (!at_span_set_block(s, &st->conn_attrs))
		put_connection_attrs(s, NULL, &id);
}

/* The first line of a libpq message (they end with '\n'). */
static size_t first_line(const char *m)
{
	size_t n = 0;

	while (m[n] && m[n] != '\n')
		n++;
	return n;
}

/* Status ERROR with a statement's error message m[0..len), its values
 * redacted (at_wire_sql.c). */
static void set_query_error(struct at_span *s, const char *code,
			    const char *m, size_t len)
{
	at_wire_sql_error_status(s, code, m, len);
}

/* Status ERROR with the first line of a failed connection's message,
 * keeping only what the connection was made with (never the password). */
static void set_connect_error(struct at_span *s, PGconn *conn)
{
	const char *m = at_pq.PQerrorMessage(conn);
	const char *host = at_pq.PQhost(conn), *port = at_pq.PQport(conn);
	char path[512], buf[MSG_MAX];
	const char *values[6] = {
		host, port, at_pq.PQdb(conn),
		at_pq.PQuser ? at_pq.PQuser(conn) : NULL,
		at_pq.PQhostaddr ? at_pq.PQhostaddr(conn) : NULL, NULL,
	};
	struct at_sql_keep k = { .values = values, .n_values = 6 };
	size_t n;

	if (!m) {
		at_span_set_status(s, AT_STATUS_ERROR, NULL, 0);
		return;
	}
	if (host && host[0] == '/') {
		socket_path(path, sizeof(path), host, port);
		values[5] = path;
	}
	n = at_sql_redact_message(m, first_line(m), &k, buf, sizeof(buf));
	at_span_set_status(s, AT_STATUS_ERROR, buf, n);
}

struct at_span *at_pq_connect_begin(void)
{
	struct at_span *s = span_new();

	if (!s)
		return NULL;
	at_span_start(s, "postgresql connect", 18, AT_KIND_CLIENT);
	if (!at_span_started(s)) {
		span_free(s);
		return NULL;
	}
	return s;
}

void at_pq_connect_end(struct at_span *s, PGconn *conn)
{
	if (!s)
		return;
	if (!conn) {
		at_span_set_cstr(s, "error.type", "CONNECTION_BAD");
		at_span_set_status(s, AT_STATUS_ERROR, "out of memory", 13);
	} else {
		set_connection_attrs(s, conn);
		if (at_pq.PQstatus(conn) == CONNECTION_BAD) {
			at_span_set_cstr(s, "error.type", "CONNECTION_BAD");
			set_connect_error(s, conn);
		}
	}
	at_span_end(s);
	span_free(s);
}

void at_pq_connect_pending(PGconn *conn, struct at_span *s)
{
	struct pq_state *st = conn ? state_get(conn, true) : NULL;

	if (!s)
		return;
	at_span_deactivate(s);
	if (!st) {
		at_pq_connect_end(s, conn);
		return;
	}
	st->connect = s;
}

void at_pq_connect_poll_begin(PGconn *conn)
{
	struct pq_state *st = state_get(conn, false);

	if (st && st->connect)
		at_span_activate(st->connect);
}

void at_pq_connect_poll_end(PGconn *conn, PostgresPollingStatusType r)
{
	struct pq_state *st = state_get(conn, false);

	if (!st || !st->connect)
		return;
	at_span_deactivate(st->connect);
	if (r == PGRES_POLLING_OK || r == PGRES_POLLING_FAILED) {
		struct at_span *s = st->connect;
		st->connect = NULL;
		at_pq_connect_end(s, conn);
	}
}

/* A statement's span started, from st's spare when it has one (st may
 * be NULL). */
static struct at_span *query_start(struct pq_state *st)
{
	struct at_span *s = statement_span(st);

	if (!s)
		return NULL;
	at_span_start_detached(s, "postgresql", 10, AT_KIND_CLIENT);
	if (!at_span_started(s)) {
		span_free(s);
		return NULL;
	}
	return s;
}

struct at_span *at_pq_query_start(PGconn *conn)
{
	return query_start(state_get(conn, false));
}

/* at_pq_query_describe with conn's state (st, NULL if none could be
 * made).  s carries none of the statement's keys (it has its
 * connection's attributes only), so their block is copied without a
 * search for them (at_wire_sql_statement_memo_new). */
static void query_describe(PGconn *conn, struct pq_state *st,
			   struct at_span *s, const char *op_override,
			   const char *text)
{
	size_t len;

	if (!s || !at_span_recording(s))
		return;
	len = text ? strlen(text) : 0;
	if (!st) {
		set_connection_attrs(s, conn);
		at_wire_sql_statement(s, text, len, op_override);
		return;
	}
	set_connection_attrs_kept(s, conn, st);
	if (op_override)
		at_wire_sql_statement(s, text, len, op_override);
	else
		at_wire_sql_statement_memo_new(s, text, len, &st->memo);
}

void at_pq_query_describe(PGconn *conn, struct at_span *s,
			  const char *op_override, const char *text)
{
	if (s && at_span_recording(s))
		query_describe(conn, state_get(conn, true), s, op_override,
			       text);
}

/* The connection's state is looked up once for the three steps. */
struct at_span *at_pq_query_sent(PGconn *conn, struct at_span *s, uint64_t t0,
				 const char *op_override, const char *text)
{
	struct pq_state *st = state_get(conn, true);

	if (!s)
		s = query_start(st);
	if (!s)
		return NULL;
	at_span_backdate(s, t0);
	query_describe(conn, st, s, op_override, text);
	return s;
}

struct at_span *at_pq_query_begin(PGconn *conn, const char *op_override,
				  const char *text)
{
	struct at_span *s = at_pq_query_start(conn);

	at_pq_query_describe(conn, s, op_override, text);
	return s;
}

void at_pq_conn_changed(PGconn *conn)
{
	struct pq_state *st = state_get(conn, false);

	if (st)
		st->conn_made = false;
}

/* What result res, of status st, says on s (recording). */
static void query_result(struct at_span *s, const PGresult *res,
			 ExecStatusType st)
{
	const char *code, *msg;

	switch (st) {
	case PGRES_TUPLES_OK:
	case PGRES_SINGLE_TUPLE:
		at_span_set_int(s, "db.response.returned_rows",
				at_pq.PQntuples(res));
		break;
	case PGRES_BAD_RESPONSE:
	case PGRES_NONFATAL_ERROR:
	case PGRES_FATAL_ERROR:
		code = at_pq.PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = at_pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (st == PGRES_NONFATAL_ERROR)
			break; /* a notice or warning: not a failure */
		if (code && *code) {
			at_span_set_cstr(s, "db.response.status_code", code);
			at_span_set_cstr(s, "error.type", code);
		} else {
			at_span_set_cstr(s, "error.type", "_OTHER");
		}
		set_query_error(s, code, msg, msg ? strlen(msg) : 0);
		break;
	case PGRES_PIPELINE_ABORTED:
		at_span_set_cstr(s, "error.type", "PIPELINE_ABORTED");
		at_span_set_status(s, AT_STATUS_ERROR,
				   "pipeline aborted by an earlier error", 36);
		break;
	default:
		break;
	}
}

void at_pq_query_result(struct at_span *s, const PGresult *res)
{
	if (!s || !res || !at_span_recording(s))
		return;
	query_result(s, res, at_pq.PQresultStatus(res));
}

void at_pq_query_failed(struct at_span *s, PGconn *conn)
{
	const char *m = at_pq.PQerrorMessage(conn);

	if (!s || !at_span_recording(s))
		return;
	at_span_set_cstr(s, "error.type", "_OTHER");
	set_query_error(s, NULL, m, m ? first_line(m) : 0);
}

void at_pq_query_end(struct at_span *s)
{
	if (!s)
		return;
	at_span_end(s);
	span_free(s);
}

void at_pq_query_end_on(PGconn *conn, struct at_span *s)
{
	if (s)
		statement_end(state_get(conn, false), s);
}

void at_pq_push(PGconn *conn, struct at_span *s)
{
	struct pq_state *st = state_get(conn, true);

	if (!s)
		return;
	if (!st || st->tail - st->head >= INFLIGHT) {
		at_pq_query_end(s); /* no room: ends now */
		return;
	}
	st->fifo[st->tail++ % INFLIGHT] = s;
}

struct at_span *at_pq_oldest(PGconn *conn)
{
	struct pq_state *st = state_get(conn, false);

	if (!st || st->head == st->tail)
		return NULL;
	return st->fifo[st->head % INFLIGHT];
}

static void pop_end(struct pq_state *st)
{
	struct at_span *s = st->fifo[st->head++ % INFLIGHT];

	if (st->copy_rows && at_span_recording(s))
		at_span_set_int(s, "db.response.returned_rows", st->copy_rows);
	st->copy_rows = 0;
	statement_end(st, s);
}

void at_pq_pop_end(PGconn *conn)
{
	struct pq_state *st = state_get(conn, false);

	if (st && st->head != st->tail)
		pop_end(st);
}

void at_pq_got_result(PGconn *conn, const PGresult *res)
{
	struct pq_state *st = state_get(conn, false);
	struct at_span *s;
	ExecStatusType t;

	if (!st || st->head == st->tail)
		return;
	if (!res) {
		pop_end(st);
		return;
	}
	s = st->fifo[st->head % INFLIGHT];
	t = at_pq.PQresultStatus(res);
	if (t != PGRES_PIPELINE_SYNC && t != PGRES_COPY_IN &&
	    t != PGRES_COPY_OUT && t != PGRES_COPY_BOTH && s &&
	    at_span_recording(s))
		query_result(s, res, t);
}

void at_pq_copy_row(PGconn *conn)
{
	struct pq_state *st = state_get(conn, false);

	if (st && st->head != st->tail)
		st->copy_rows++;
}

void at_pq_prepared_set(PGconn *conn, const char *name, const char *text)
{
	struct pq_state *st = state_get(conn, true);
	unsigned i;

	if (!st || !text)
		return;
	if (!name)
		name = "";
	for (i = 0; i < PREPARED; i++)
		if (st->prep[i].text[0] && !strcmp(st->prep[i].name, name))
			break;
	if (i == PREPARED)
		i = st->prep_next++ % PREPARED;
	snprintf(st->prep[i].name, sizeof(st->prep[i].name), "%s", name);
	snprintf(st->prep[i].text, sizeof(st->prep[i].text), "%s", text);
}

const char *at_pq_prepared_get(PGconn *conn, const char *name)
{
	struct pq_state *st = state_get(conn, false);

	if (!st)
		return NULL;
	if (!name)
		name = "";
	for (unsigned i = 0; i < PREPARED; i++)
		if (st->prep[i].text[0] && !strcmp(st->prep[i].name, name))
			return st->prep[i].text;
	return NULL;
}

void at_pq_forget(PGconn *conn)
{
	struct pq_state *st = state_get(conn, false);

	if (!st)
		return;
	while (st->head != st->tail)
		at_pq_pop_end(conn);
	if (st->connect) {
		struct at_span *s = st->connect;
		st->connect = NULL;
		at_span_end(s);
		span_free(s);
	}
	span_free(st->spare);
	st->spare = NULL;
	at_handle_hit_void(&last, &states_gen);
	at_handle_drop(&states, conn);
}
