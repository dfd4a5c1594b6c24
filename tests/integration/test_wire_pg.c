/*
 * Integration tests of PostgreSQL decoded on the socket (hooks/wire/
 * at_wire_pg.c), against the throwaway cluster scripts/run-integration.sh
 * starts (AT_PG_DIR, AT_PG_PORT): real drivers that speak the protocol
 * themselves - node-postgres (NODE_PATH=$AT_WIRE_NODE_PATH) and Debian's
 * asyncpg - over TCP and the unix socket; psql and a libpq program, whose
 * connections must get libpq's spans only; the opt-in SQLCommenter seen
 * in the server's own log (log_statement=all, AT_PG_DIR/log); and a
 * connection whose SSLRequest is answered 'S', which passes untouched.
 * Every program runs bare and preloaded, and prints the same.  The
 * programs use temporary tables of their own, in database autotrace.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define RUN_MS 60000
#define WAIT_MS 10000
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define STATUS_ERROR 2

static const char *pg_port(void)
{
	const char *p = getenv("AT_PG_PORT");

	cr_assert(p && getenv("AT_PG_DIR"),
		  "no PostgreSQL test cluster (run through scripts/run-integration.sh)");
	return p;
}

/* The absolute path of a test program (the tests run from the top of
 * the tree). */
static const char *fixture(const char *name)
{
	static char path[4][PATH_MAX];
	static int k;
	char rel[256], *p = path[k++ % 4];

	snprintf(rel, sizeof(rel), "tests/fixtures/wire/%s", name);
	cr_assert_not_null(realpath(rel, p), "%s", rel);
	return p;
}

/* The environment of a driver program: the cluster (host: 127.0.0.1 or
 * the socket's directory), NODE_PATH, the endpoint, and extra (may be
 * NULL). */
struct penv {
	char host[600], port[32], node[600], svc[64];
	const char *v[10];
};

static const char *const *prog_env(struct penv *pe, struct h_env *e,
				   bool tcp, const char *extra)
{
	int k = 0;

	snprintf(pe->host, sizeof(pe->host), "PGHOST=%s",
		 tcp ? "127.0.0.1" : getenv("AT_PG_DIR"));
	snprintf(pe->port, sizeof(pe->port), "PGPORT=%s", pg_port());
	snprintf(pe->node, sizeof(pe->node), "NODE_PATH=%s",
		 getenv("AT_WIRE_NODE_PATH") ? getenv("AT_WIRE_NODE_PATH") : "");
	pe->v[k++] = pe->host;
	pe->v[k++] = pe->port;
	pe->v[k++] = pe->node;
	pe->v[k++] = "PGDATABASE=autotrace";
	pe->v[k++] = "OTEL_SERVICE_NAME=wire-pg";
	if (e)
		pe->v[k++] = e->ep;
	if (extra)
		pe->v[k++] = extra;
	pe->v[k] = NULL;
	return pe->v;
}

/* Run argv bare, then preloaded: same exit status 0, same output; the
 * preloaded run's output (malloc'd). */
static char *run_both(struct h_env *e, const char *const argv[], bool tcp,
		      const char *extra)
{
	struct penv pe;
	struct h_result bare, traced;
	char *out;

	cr_assert_eq(h_run(argv, prog_env(&pe, NULL, tcp, extra), false,
			   RUN_MS, &bare), 0);
	cr_assert_eq(bare.status, 0, "%s bare: %s%s", argv[1], bare.out,
		     bare.err);
	cr_assert_eq(h_run(argv, prog_env(&pe, e, tcp, extra), true, RUN_MS,
			   &traced), 0);
	cr_assert_eq(traced.status, 0, "%s traced: %s%s", argv[1], traced.out,
		     traced.err);
	cr_expect_str_eq(traced.out, bare.out, "output differs under the library");
	out = strdup(traced.out);
	h_result_free(&bare);
	h_result_free(&traced);
	return out;
}

static bool is_db(const at_otlp_span *s)
{
	const char *v = h_attr_str(s, "db.system.name");
	return v && !strcmp(v, "postgresql");
}

/* The database spans of sp[0..n) into db (at most cap); their count. */
static size_t db_spans(const struct at_rx_span *sp, size_t n,
		       const at_otlp_span **db, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (is_db(sp[i].span) && k < cap)
			db[k++] = sp[i].span;
	}
	return k;
}

/* Spans whose db.query.text is text, in order (at most cap). */
static size_t with_text(const at_otlp_span *const *db, size_t n,
			const char *text, const at_otlp_span **out, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const char *t = h_attr_str(db[i], "db.query.text");
		if (t && !strcmp(t, text) && k < cap)
			out[k++] = db[i];
	}
	return k;
}

static const at_otlp_span *one_text(const at_otlp_span *const *db, size_t n,
				    const char *text)
{
	const at_otlp_span *s = NULL;

	cr_assert_eq(with_text(db, n, text, &s, 1), 1, "one span of %s", text);
	return s;
}

static bool failed(const at_otlp_span *s)
{
	return s->status && s->status->code == STATUS_ERROR;
}

/* The exported request bodies (saved in dir) hold none of the secrets
 * (a, b). */
static void no_secrets(const char *dir, const char *a, const char *b)
{
	char cmd[1024], *out;
	int st;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^req-'; grep -l -F -e '%s' -e '%s' %s/req-*",
		 dir, a, b, dir);
	out = h_shell(cmd, &st);
	cr_assert_not_null(out);
	cr_expect_gt(atoi(out), 0, "no export to check");
	cr_expect_null(strchr(out, '/'), "a secret exported: %s", out);
	free(out);
}

/* The server's log (log_statement=all): how many times it holds needle;
 * *last (if not NULL) gets its last line with needle, from needle on
 * (malloc'd), or NULL. */
static int log_scan(const char *needle, char **last)
{
	char path[600], *log, *p = NULL, *end;
	int n = 0;

	snprintf(path, sizeof(path), "%s/log", getenv("AT_PG_DIR"));
	log = h_read_file(path, NULL);
	for (char *q = log; q && (q = strstr(q, needle)); q++, n++)
		p = q;
	if (last) {
		end = p ? strchr(p, '\n') : NULL;
		*last = p ? strndup(p, end ? (size_t)(end - p) : strlen(p)) : NULL;
	}
	free(log);
	return n;
}

static void node_queries(bool tcp)
{
	const char *exec = tcp ? "execute item_by_id_tcp:" : "execute item_by_id_unix:";
	int execs = log_scan(exec, NULL);
	struct h_env e;
	struct at_rx_span *sp;
	const at_otlp_span *db[64], *prep[8];
	const char *argv[] = { "node", fixture("pg_queries.js"), NULL };
	char sock[600];
	size_t n, k;

	cr_assert_eq(h_env_start(&e), 0);
	free(run_both(&e, argv, tcp, NULL));
	/* The server saw the same statements, bare and traced. */
	cr_expect_eq(log_scan(exec, NULL) - execs, 10, "%s", exec);
	n = h_spans(e.rx, 13, WAIT_MS, &sp);
	k = db_spans(sp, n, db, 64);
	cr_expect_eq(k, 12, "one span per query: %zu", k);

	const at_otlp_span *one = one_text(db, k, "SELECT ? AS one");
	cr_expect_str_eq(one->name, "SELECT");
	cr_expect_str_eq(h_attr_str(one, "db.operation.name"), "SELECT");
	cr_expect_eq(h_attr_int(one, "db.response.returned_rows", -1), 1);
	cr_expect_str_eq(h_attr_str(one, "db.namespace"), "autotrace");
	if (tcp) {
		cr_expect_str_eq(h_attr_str(one, "server.address"), "127.0.0.1");
		cr_expect_eq(h_attr_int(one, "server.port", -1), atoi(pg_port()));
	} else {
		snprintf(sock, sizeof(sock), "%s/.s.PGSQL.%s",
			 getenv("AT_PG_DIR"), pg_port());
		cr_expect_str_eq(h_attr_str(one, "server.address"), sock);
		cr_expect_str_eq(h_attr_str(one, "network.transport"), "unix");
	}
	const at_otlp_span *ins =
		one_text(db, k, "INSERT INTO items VALUES (?), (?), (?)");
	cr_expect_str_eq(ins->name, "INSERT items");
	cr_expect_eq(h_attr_int(ins, "db.response.returned_rows", -1), -1);
	const at_otlp_span *par = one_text(
		db, k, "SELECT name FROM items WHERE name <> $1 ORDER BY id");
	cr_expect_str_eq(par->name, "SELECT items");
	cr_expect_eq(h_attr_int(par, "db.response.returned_rows", -1), 3);
	/* A named statement prepared once, executed 5 times: its text on
	 * every execution. */
	cr_assert_eq(with_text(db, k, "SELECT id, name FROM items WHERE id <= $1",
			       prep, 8), 5);
	for (int i = 0; i < 5; i++)
		cr_expect_eq(h_attr_int(prep[i], "db.response.returned_rows", -1),
			     i < 3 ? i + 1 : 3, "execution %d", i);
	/* Two statements in one query: one span, the last result's rows. */
	const at_otlp_span *multi =
		one_text(db, k, "SELECT ? AS a; SELECT ? AS b, ? AS c");
	cr_expect_eq(h_attr_int(multi, "db.response.returned_rows", -1), 1);
	const at_otlp_span *err = one_text(db, k, "SELECT * FROM no_such_table");
	cr_expect_str_eq(err->name, "SELECT no_such_table");
	cr_expect_str_eq(h_attr_str(err, "db.response.status_code"), "42P01");
	cr_expect_str_eq(h_attr_str(err, "error.type"), "42P01");
	cr_expect(failed(err));
	cr_expect(err->status && strstr(err->status->message, "does not exist"));
	const at_otlp_span *copy =
		one_text(db, k, "COPY (SELECT id FROM items) TO STDOUT");
	cr_expect_str_eq(h_attr_str(copy, "db.operation.name"), "COPY");
	cr_expect_eq(h_attr_int(copy, "db.response.returned_rows", -1), 3);
	for (size_t i = 0; i < k; i++)
		cr_expect(db[i] == err || !failed(db[i]), "%s failed", db[i]->name);
	no_secrets(e.dir, "secret-literal", "param-secret");
	free(sp);
	h_env_stop(&e);
}

Test(wire_pg, node_pg_queries_tcp, .timeout = 120)
{
	node_queries(true);
}

Test(wire_pg, node_pg_queries_unix_socket, .timeout = 120)
{
	node_queries(false);
}

/* AUTOTRACE_PROTOCOLS without postgresql: the connection is not decoded
 * (the program's TCP connect is still traced). */
Test(wire_pg, protocols_setting_turns_the_decoder_off, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	const at_otlp_span *db[64];
	const char *argv[] = { "node", fixture("pg_queries.js"), NULL };
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	free(run_both(&e, argv, true, "AUTOTRACE_PROTOCOLS=redis,mysql"));
	n = h_spans(e.rx, 1, WAIT_MS, &sp);
	cr_expect(h_find_span(sp, n, "connect", 0), "the TCP connect");
	cr_expect_eq(db_spans(sp, n, db, 64), 0, "no statement span");
	free(sp);
	h_env_stop(&e);
}

Test(wire_pg, asyncpg_prepared_executemany_copy_errors, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	const at_otlp_span *db[64], *q[8];
	const char *argv[] = { "/usr/bin/python3", fixture("pg_asyncpg.py"),
			       NULL };
	size_t n, k;

	cr_assert_eq(h_env_start(&e), 0);
	char *out = run_both(&e, argv, true, NULL);
	cr_expect(strstr(out, "executemany error 23505\nafter 5\n"), "%s", out);
	free(out);
	n = h_spans(e.rx, 18, WAIT_MS, &sp);
	k = db_spans(sp, n, db, 64);
	/* CREATE, the simple SELECT, 4 executions, 3 + 4 INSERTs, COPY, the
	 * fetch, the duplicate INSERT, the count. */
	cr_expect_eq(k, 17, "%zu database spans", k);
	cr_expect_str_eq(h_attr_str(one_text(db, k, "SELECT ? + ?"),
				    "db.namespace"),
			 "autotrace");
	cr_assert_eq(with_text(db, k, "SELECT $1::int * ? AS tens", q, 8), 4);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(h_attr_int(q[i], "db.response.returned_rows", -1), 1);
	const at_otlp_span *copy =
		one_text(db, k, "COPY \"things\" FROM STDIN (FORMAT binary)");
	cr_expect_eq(h_attr_int(copy, "db.response.returned_rows", -1), 2);
	cr_expect_eq(h_attr_int(one_text(db, k, "SELECT id FROM things ORDER BY id"),
				"db.response.returned_rows", -1),
		     5);
	/* 3 rows, a single duplicate (an INSERT with literals, the simple
	 * protocol), then 4 pipelined ones: the 2nd fails, the 3rd and 4th
	 * are skipped. */
	const at_otlp_span *ins[16];
	size_t ni = with_text(db, k, "INSERT INTO things VALUES (?)", ins, 16);
	cr_assert_eq(ni, 8);
	size_t ok = 0, dup = 0, aborted = 0;
	for (size_t i = 0; i < ni; i++) {
		const char *code = h_attr_str(ins[i], "db.response.status_code");
		const char *type = h_attr_str(ins[i], "error.type");
		ok += !failed(ins[i]);
		dup += code && !strcmp(code, "23505") && failed(ins[i]);
		aborted += type && !strcmp(type, "PIPELINE_ABORTED") &&
			   failed(ins[i]);
	}
	cr_expect_eq(ok, 4);
	cr_expect_eq(dup, 2);
	cr_expect_eq(aborted, 2);
	no_secrets(e.dir, "one-secret", "dup-secret");
	free(sp);
	h_env_stop(&e);
}

/* The server span that is s's parent, or NULL. */
static const at_otlp_span *request_of(const at_otlp_span *s,
				      const struct at_rx_span *sp, size_t n)
{
	if (s->parent_span_id.len != 8)
		return NULL; /* a root */
	for (size_t j = 0; j < n; j++) {
		if (sp[j].span->kind == KIND_SERVER &&
		    !memcmp(s->parent_span_id.data, sp[j].span->span_id.data, 8))
			return sp[j].span;
	}
	return NULL;
}

/*
 * pg_server.js in mode, 4 requests: two one after the other, then two at
 * once.  For each request i (1..4) its two query spans go to q[i][0]
 * (simple protocol) and q[i][1] (extended), their parents (server spans
 * or NULL) to parent[i][0..1].
 */
static void serve_four(const char *mode, const at_otlp_span *parent[5][2])
{
	struct h_env e;
	struct penv pe;
	struct h_result res;
	struct at_rx_span *sp;
	const at_otlp_span *db[64];
	char pf[512], url[4][128], text[64];
	size_t n, k;

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(pf, sizeof(pf), "%s/port", e.dir);
	const char *sargv[] = { "node", fixture("pg_server.js"), pf, "4", mode,
				NULL };
	pid_t pid = h_start(sargv, prog_env(&pe, &e, true, NULL), true, NULL);
	uint16_t port = h_read_port(pf, WAIT_MS);
	cr_assert_neq(port, 0);
	for (int i = 0; i < 4; i++)
		snprintf(url[i], sizeof(url[i]), "http://127.0.0.1:%u/q?id=%d",
			 port, i + 1);
	for (int i = 0; i < 2; i++) {
		const char *cargv[] = { "curl", "-s", url[i], NULL };
		cr_assert_eq(h_run(cargv, NULL, false, RUN_MS, &res), 0);
		snprintf(text, sizeof(text), "%d %d\n", i + 1, i + 2);
		cr_expect_str_eq(res.out, text);
		h_result_free(&res);
	}
	const char *pargv[] = { "curl", "-s", "--parallel", "--parallel-immediate",
				url[2], url[3], NULL };
	cr_assert_eq(h_run(pargv, NULL, false, RUN_MS, &res), 0);
	cr_expect(strstr(res.out, "3 4\n") && strstr(res.out, "4 5\n"), "%s",
		  res.out);
	h_result_free(&res);
	cr_expect_eq(h_wait_exit(pid, 20000), 0);
	n = h_spans(e.rx, 12, WAIT_MS, &sp);
	k = db_spans(sp, n, db, 64);
	cr_expect_eq(k, 8, "two queries per request: %zu", k);
	for (int i = 1; i <= 4; i++) {
		snprintf(text, sizeof(text), "SELECT ? AS req_%d", i);
		parent[i][0] = request_of(one_text(db, k, text), sp, n);
		snprintf(text, sizeof(text), "SELECT $1::int AS req_%d_p", i);
		parent[i][1] = request_of(one_text(db, k, text), sp, n);
	}
	/* Four requests, four different spans. */
	for (int i = 1; i <= 4; i++) {
		for (int j = 1; j < i; j++)
			cr_expect(!parent[i][0] || parent[i][0] != parent[j][0],
				  "req_%d and req_%d under one request", i, j);
	}
	free(sp);
	h_env_stop(&e);
}

/* Each request takes a connection of a pool: every query is the child of
 * its own request, also when two requests run at once. */
Test(wire_pg, node_pool_queries_are_children_of_their_request, .timeout = 120)
{
	const at_otlp_span *parent[5][2];

	serve_four("pool", parent);
	for (int i = 1; i <= 4; i++) {
		cr_expect_not_null(parent[i][0], "req_%d outside its request", i);
		cr_expect_eq(parent[i][0], parent[i][1], "req_%d_p", i);
	}
}

/* One connection for all requests (node-postgres queues the queries and
 * writes each from its socket's callback, once the previous one is
 * answered): the query written from the request's own code is its child;
 * a queued one is written outside any request (Node's bridge names none
 * there) and is a root - never the child of another request. */
Test(wire_pg, node_shared_connection_never_crosses_requests, .timeout = 120)
{
	const at_otlp_span *parent[5][2];

	serve_four("shared", parent);
	cr_expect_not_null(parent[1][0]);
	cr_expect_not_null(parent[2][0]);
	for (int i = 1; i <= 4; i++)
		cr_expect(!parent[i][1] || parent[i][1] == parent[i][0],
			  "req_%d_p under another request", i);
}

Test(wire_pg, libpq_connections_get_no_wire_spans, .timeout = 120)
{
	struct h_env e;
	struct penv pe;
	struct h_result res;
	struct at_rx_span *sp;
	const at_otlp_span *db[64];
	char ci[512];
	size_t n, k, selects = 0;

	cr_assert_eq(h_env_start(&e), 0);
	/* psql over TCP: one span per statement (libpq's). */
	const char *pargv[] = { "psql", "-X", "-h", "127.0.0.1", "-p", pg_port(),
				"-U", "postgres", "-d", "autotrace", "-c",
				"SELECT 1 AS psql_one", "-c",
				"SELECT 2 AS psql_two", NULL };
	cr_assert_eq(h_run(pargv, prog_env(&pe, &e, true, NULL), true, RUN_MS,
			   &res), 0);
	cr_assert_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	/* A libpq program that connects asynchronously (PQconnectStart,
	 * PQconnectPoll): the startup is written inside PQconnectPoll. */
	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%s user=postgres dbname=autotrace",
		 pg_port());
	const char *qargv[] = { h_build_path("fixtures/pq_client"), ci, "async",
				NULL };
	cr_assert_eq(h_run(qargv, prog_env(&pe, &e, true, NULL), true, RUN_MS,
			   &res), 0);
	cr_assert_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	n = h_spans(e.rx, 10, WAIT_MS, &sp);
	k = db_spans(sp, n, db, 64);
	cr_expect_geq(k, 8);
	for (size_t i = 0; i < k; i++) {
		const char *t = h_attr_str(db[i], "db.query.text");
		/* The wire's spans carry network.peer.port; libpq's do
		 * not. */
		cr_expect_eq(h_attr_int(db[i], "network.peer.port", -1), -1,
			     "a wire span: %s", db[i]->name);
		selects += t && strstr(t, " AS psql_");
	}
	cr_expect_eq(selects, 2, "psql: one span per statement");
	free(sp);
	h_env_stop(&e);
}

/* The server log's last line with needle (waiting for one), or NULL. */
static char *log_line(const char *needle)
{
	char path[600], *line;

	snprintf(path, sizeof(path), "%s/log", getenv("AT_PG_DIR"));
	if (h_wait_file_has(path, needle, WAIT_MS) != 0)
		return NULL;
	log_scan(needle, &line);
	return line;
}

static void expect_commented(const at_otlp_span *s, const char *needle)
{
	char tp[56], want[128], *line = log_line(needle);

	cr_assert_not_null(line, "%s not in the server log", needle);
	h_span_traceparent(s, tp);
	snprintf(want, sizeof(want), "%s/*traceparent='%.53s", needle, tp);
	cr_expect(strncmp(line, want, strlen(want)) == 0,
		  "log: %s\nwant: %s", line, want);
	cr_expect(strstr(line, "'*/"), "log: %s", line);
	free(line);
}

Test(wire_pg, sqlcommenter_reaches_the_server_log, .timeout = 120)
{
	struct h_env e;
	struct penv pe;
	struct h_result res;
	struct at_rx_span *sp;
	const at_otlp_span *db[64];
	const char *cm = "AUTOTRACE_DB_SQLCOMMENTER=true";
	size_t n, k;

	cr_assert_eq(h_env_start(&e), 0);
	/* node-postgres: a simple query gets the comment; a line comment
	 * at the end, or a named prepared statement, does not. */
	const char *code =
		"const { Client } = require('pg');\n"
		"(async () => {\n"
		"  const c = new Client({ host: process.env.PGHOST, port: +process.env.PGPORT,\n"
		"    user: 'postgres', database: 'autotrace' });\n"
		"  await c.connect();\n"
		"  console.log((await c.query('SELECT 7 AS cm_simple')).rows[0].cm_simple);\n"
		"  console.log((await c.query('SELECT 8 AS cm_line -- end')).rows[0].cm_line);\n"
		"  console.log((await c.query({ name: 'cm_named', text: 'SELECT $1::int AS cm_named',\n"
		"    values: [9] })).rows[0].cm_named);\n"
		"  await c.end();\n"
		"})();\n";
	const char *nargv[] = { "node", "-e", code, NULL };
	char *out = run_both(&e, nargv, true, cm);
	cr_expect_str_eq(out, "7\n8\n9\n");
	free(out);
	/* psql (libpq's PQexec). */
	const char *pargv[] = { "psql", "-X", "-q", "-t", "-h", getenv("AT_PG_DIR"),
				"-p", pg_port(), "-U", "postgres", "-d",
				"autotrace", "-c", "SELECT 10 AS cm_psql", NULL };
	cr_assert_eq(h_run(pargv, prog_env(&pe, &e, false, cm), true, RUN_MS,
			   &res), 0);
	cr_expect(strstr(res.out, "10"), "%s%s", res.out, res.err);
	h_result_free(&res);
	n = h_spans(e.rx, 4, WAIT_MS, &sp);
	k = db_spans(sp, n, db, 64);
	expect_commented(one_text(db, k, "SELECT ? AS cm_simple"),
			 "SELECT 7 AS cm_simple");
	expect_commented(one_text(db, k, "SELECT ? AS cm_psql"),
			 "SELECT 10 AS cm_psql");
	char *line = log_line("SELECT 8 AS cm_line");
	cr_expect(line && !strstr(line, "traceparent"), "%s", line);
	free(line);
	line = log_line("SELECT $1::int AS cm_named");
	cr_expect(line && !strstr(line, "traceparent"), "%s", line);
	free(line);
	free(sp);
	h_env_stop(&e);
}

Test(wire_pg, ssl_accepted_passes_untouched, .timeout = 120)
{
	struct h_env e;
	struct penv pe;
	struct at_rx_span *sp;
	char pf[512], of[512], port[16];
	const char *code =
		"const { Client } = require('pg');\n"
		"const c = new Client({ host: '127.0.0.1', port: +process.argv[1],\n"
		"  user: 'postgres', database: 'x', ssl: { rejectUnauthorized: false } });\n"
		"c.connect().then(() => console.log('connected'), () => console.log('failed'));\n";

	cr_assert_eq(h_env_start(&e), 0);
	for (int traced = 0; traced < 2; traced++) {
		struct h_result res;
		snprintf(pf, sizeof(pf), "%s/tls-port-%d", e.dir, traced);
		snprintf(of, sizeof(of), "%s/tls-out-%d", e.dir, traced);
		const char *sargv[] = { "/usr/bin/python3",
					fixture("pg_tls_answer.py"), pf, of, NULL };
		pid_t pid = h_start(sargv, NULL, false, NULL);
		snprintf(port, sizeof(port), "%u", h_read_port(pf, WAIT_MS));
		const char *cargv[] = { "node", "-e", code, port, NULL };
		cr_assert_eq(h_run(cargv, prog_env(&pe, &e, true, NULL), traced,
				   RUN_MS, &res), 0);
		cr_expect_str_eq(res.out, "failed\n");
		h_result_free(&res);
		cr_expect_eq(h_wait_exit(pid, 20000), 0);
		/* The client's TLS record reached the server as it was. */
		char *hello = h_read_file(of, NULL);
		cr_expect(hello && !strncmp(hello, "1603", 4), "%s", hello);
		free(hello);
	}
	/* The connect span only: nothing of the TLS bytes was decoded. */
	size_t n = h_spans(e.rx, 1, WAIT_MS, &sp);
	for (size_t i = 0; i < n; i++)
		cr_expect(!is_db(sp[i].span), "a database span: %s",
			  sp[i].span->name);
	free(sp);
	h_env_stop(&e);
}
