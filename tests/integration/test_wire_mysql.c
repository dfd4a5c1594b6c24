/*
 * Integration tests of the MySQL/MariaDB wire family
 * (hooks/wire/at_wire_mysql.c) against the throwaway MariaDB server that
 * scripts/run-integration.sh starts (AT_MARIADB_DIR, AT_MARIADB_PORT):
 * drivers that speak the protocol themselves - Node.js mysql2 (text
 * queries, prepared statements, a pool shared by concurrent requests),
 * Python PyMySQL (TCP and the unix socket) - and the mariadb command-line
 * client (libmariadb), each run bare and with the library preloaded.
 *
 * Each run works in a database of its own (<test>_bare, <test>_traced:
 * the same tables and rows), so that the server's own view of a run - its
 * general query log, the commands of the connections opened on that
 * database - can be compared between the bare and the traced run: the
 * library must not change what reaches the server.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 60000
#define WAIT_MS 10000
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT

static const char *my_dir(void)
{
	const char *d = getenv("AT_MARIADB_DIR");

	cr_assert(d && getenv("AT_MARIADB_PORT"),
		  "no MariaDB test server (run through scripts/run-integration.sh)");
	return d;
}

static const char *my_port(void)
{
	my_dir();
	return getenv("AT_MARIADB_PORT");
}

/* Statements run with the mariadb client on the socket (not traced). */
static char *admin(const char *db, const char *sql)
{
	char cmd[2048];
	int st;
	char *out;

	snprintf(cmd, sizeof(cmd),
		 "mariadb --no-defaults -S %s/mysqld.sock -u autotrace "
		 "-pautotrace -N -B %s -e \"%s\" 2>&1",
		 my_dir(), db ? db : "", sql);
	out = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "mariadb -e %s: %s", sql, out);
	return out;
}

/* A fresh database with the tables the programs use. */
static void make_db(const char *name)
{
	char sql[1024];

	snprintf(sql, sizeof(sql),
		 "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s; USE %s; "
		 "CREATE TABLE orders (id INT PRIMARY KEY, item VARCHAR(40)); "
		 "INSERT INTO orders VALUES (1, 'apple'), (2, 'pear'), "
		 "(3, 'plum'), (4, 'fig'); "
		 "CREATE TABLE scratch (v VARCHAR(10));",
		 name, name, name);
	free(admin(NULL, sql));
}

/*
 * The server's view of the connections opened on database db (or that
 * switched to it with COM_INIT_DB): from the general query log, every
 * command line ("Query\tSELECT ...") of those connections, db's name replaced by "DB", sorted (connections may
 * interleave), one per line.  Waits until each of them has quit.
 */
static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *server_view(const char *db)
{
	char path[512], on[128];
	char *log = NULL, *lines[4096], *out;
	size_t nl = 0, total = 0;
	int ids[256], nid = 0, quits = 0;

	snprintf(path, sizeof(path), "%s/general.log", my_dir());
	snprintf(on, sizeof(on), " on %s using ", db);
	for (int tries = 0; tries < 200; tries++) {
		free(log);
		log = h_read_file(path, NULL);
		cr_assert_not_null(log);
		nid = quits = 0;
		for (char *l = log; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
			char *t = strchr(l, '\t'), *e = strchr(l, '\n');
			int id;
			char cmd[32];

			if (!t || (e && t > e))
				continue;
			while (*t == '\t' || *t == ' ')
				t++;
			if (sscanf(t, "%d %31[A-Za-z ]", &id, cmd) != 2)
				continue;
			if (!strncmp(cmd, "Connect", 7) ||
			    !strncmp(cmd, "Init DB", 7)) {
				char *m = strstr(t, cmd[0] == 'C' ? on : db);
				bool known = false;

				for (int k = 0; k < nid; k++)
					known |= ids[k] == id;
				if (m && (!e || m < e) && !known && nid < 256)
					ids[nid++] = id;
				continue;
			}
			for (int k = 0; k < nid; k++)
				quits += ids[k] == id && !strncmp(cmd, "Quit", 4);
		}
		if (nid > 0 && quits == nid)
			break;
		usleep(50 * 1000); /* the server writes Quit after the exit */
	}
	cr_assert(nid > 0 && quits == nid,
		  "general log: %d connections on %s, %d quit", nid, db, quits);
	for (char *l = log; *l;) {
		char *e = strchr(l, '\n'), *t = strchr(l, '\t');
		int id;

		if (e)
			*e = '\0';
		if (t) {
			while (*t == '\t' || *t == ' ')
				t++;
			if (sscanf(t, "%d", &id) == 1) {
				for (int k = 0; k < nid; k++) {
					if (ids[k] != id || nl >= 4096)
						continue;
					t = strchr(t, ' ');
					char *d = strstr(t, db);
					char buf[1024];

					if (d)
						snprintf(buf, sizeof(buf), "%.*sDB%s",
							 (int)(d - t), t,
							 d + strlen(db));
					else
						snprintf(buf, sizeof(buf), "%s", t);
					lines[nl] = strdup(buf);
					total += strlen(buf) + 1;
					nl++;
					break;
				}
			}
		}
		l = e ? e + 1 : l + strlen(l);
	}
	qsort(lines, nl, sizeof(lines[0]), cmp_lines);
	out = calloc(1, total + 1);
	for (size_t i = 0; i < nl; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(log);
	return out;
}

struct run {
	char *out;     /* stdout */
	int status;
	char *view;    /* server_view of its database */
};

/* Run argv (each "@DB@" in it replaced by db) with MY_* set for database
 * db (traced: preloaded, exporting to e's receiver). */
static void run_prog(struct h_env *e, const char *const argv_in[],
		     const char *db, bool traced, struct run *r)
{
	char port[64], dbv[128], sock[600], node[600], args[12][600];
	const char *argv[13];
	const char *env[] = { e->ep, "OTEL_SERVICE_NAME=my-test", port, dbv,
			      sock, node, "MY_HOST=127.0.0.1", NULL };
	struct h_result res;
	int i;

	for (i = 0; argv_in[i] && i < 12; i++) {
		const char *at = strstr(argv_in[i], "@DB@");

		if (at)
			snprintf(args[i], sizeof(args[i]), "%.*s%s%s",
				 (int)(at - argv_in[i]), argv_in[i], db, at + 4);
		else
			snprintf(args[i], sizeof(args[i]), "%s", argv_in[i]);
		argv[i] = args[i];
	}
	argv[i] = NULL;
	snprintf(port, sizeof(port), "MY_PORT=%s", my_port());
	snprintf(dbv, sizeof(dbv), "MY_DB=%s", db);
	snprintf(sock, sizeof(sock), "MY_SOCKET=%s/mysqld.sock", my_dir());
	snprintf(node, sizeof(node), "NODE_PATH=%s",
		 getenv("AT_WIRE_NODE_PATH") ? getenv("AT_WIRE_NODE_PATH") : "");
	cr_assert_eq(h_run(argv, env, traced, RUN_MS, &res), 0);
	r->out = strdup(res.out);
	r->status = res.status;
	cr_assert(res.status == 0 || strstr(argv[0], "mariadb"),
		  "%s: %s%s", argv[1], res.out, res.err);
	h_result_free(&res);
	r->view = server_view(db);
}

/* The program run bare then traced, on databases <name>_bare and
 * <name>_traced: the same output, exit status and server view. */
static void run_both(struct h_env *e, const char *name,
		     const char *const argv[], struct run *traced)
{
	char bare_db[64], traced_db[64];
	struct run bare;

	snprintf(bare_db, sizeof(bare_db), "%s_bare", name);
	snprintf(traced_db, sizeof(traced_db), "%s_traced", name);
	make_db(bare_db);
	make_db(traced_db);
	run_prog(e, argv, bare_db, false, &bare);
	run_prog(e, argv, traced_db, true, traced);
	cr_expect_str_eq(traced->out, bare.out, "the program's output changed");
	cr_expect_eq(traced->status, bare.status);
	cr_expect_str_eq(traced->view, bare.view,
			 "the server saw other commands");
	cr_expect(strstr(traced->view, "Query\t") != NULL, "server view: %s",
		  traced->view);
	free(bare.out);
	free(bare.view);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->view);
}

static int is_my(const at_otlp_span *s)
{
	const char *v = h_attr_str(s, "db.system.name");

	return v && !strcmp(v, "mariadb");
}

/* The database spans, in arrival order (at most cap). */
static size_t db_spans(const struct at_rx_span *sp, size_t n,
		       const at_otlp_span **out, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < cap; i++)
		if (is_my(sp[i].span))
			out[k++] = sp[i].span;
	return k;
}

/* Wait for the spans until at least min are database spans. */
static size_t wait_db(struct h_env *e, size_t min, struct at_rx_span **sp,
		      const at_otlp_span **db, size_t cap)
{
	size_t n = 0, k = 0;

	for (int tries = 0; tries < 100; tries++) {
		n = h_spans(e->rx, min, WAIT_MS / 100, sp);
		k = db_spans(*sp, n, db, cap);
		if (k >= min)
			break;
		free(*sp);
		*sp = NULL;
	}
	if (!*sp)
		n = h_spans(e->rx, 0, 1, sp);
	return db_spans(*sp, n, db, cap);
}

static const at_otlp_span *with_text(const at_otlp_span **db, size_t n,
				     const char *text, size_t nth)
{
	for (size_t i = 0; i < n; i++) {
		const char *t = h_attr_str(db[i], "db.query.text");

		if (t && !strcmp(t, text) && nth-- == 0)
			return db[i];
	}
	return NULL;
}

static const at_otlp_span *named(const at_otlp_span **db, size_t n,
				 const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(db[i]->name, name))
			return db[i];
	return NULL;
}

/* The names of the spans (for messages). */
static const char *names(const at_otlp_span **db, size_t n)
{
	static char buf[2048];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < sizeof(buf) - 200; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s [%s]; ",
				      db[i]->name,
				      h_attr_str(db[i], "db.query.text")
					      ? h_attr_str(db[i], "db.query.text")
					      : "");
	return buf;
}

/* The attributes every span of a connection to database db carries. */
static void expect_conn(const at_otlp_span *s, const char *db, bool unix_sock)
{
	char sock[600];

	cr_expect_eq(s->kind, KIND_CLIENT);
	if (db)
		cr_expect_str_eq(h_attr_str(s, "db.namespace"), db);
	else
		cr_expect_null(h_attr_str(s, "db.namespace"), "%s", s->name);
	if (unix_sock) {
		snprintf(sock, sizeof(sock), "%s/mysqld.sock", my_dir());
		cr_expect_str_eq(h_attr_str(s, "server.address"), sock);
		cr_expect_str_eq(h_attr_str(s, "network.transport"), "unix");
	} else {
		cr_expect_str_eq(h_attr_str(s, "server.address"), "127.0.0.1");
		cr_expect_eq(h_attr_int(s, "server.port", -1), atoi(my_port()));
	}
}

static void expect_rows(const at_otlp_span *s, int64_t rows)
{
	cr_assert_not_null(s);
	cr_expect_eq(h_attr_int(s, "db.response.returned_rows", -1), rows,
		     "%s: rows", s->name);
}

static const char *node_prog(void)
{
	return "tests/fixtures/wire/my_node.js";
}

Test(wire_mysql, node_mysql2_queries_prepared_statements_errors,
     .timeout = 180)
{
	struct h_env e;
	struct at_rx_span *sp = NULL;
	const at_otlp_span *db[64], *s;
	const char *argv[] = { "node", node_prog(), "basic", NULL };
	const char *exec_text = "SELECT item FROM orders WHERE id = ?";
	struct run r;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	run_both(&e, "t_node", argv, &r);
	n = wait_db(&e, 8, &sp, db, 64);
	/* query, prepare, 3 executions, error, two statements, ping */
	cr_assert_eq(n, 8, "%zu database spans: %s", n, names(db, n));
	for (size_t i = 0; i < n; i++)
		expect_conn(db[i], "t_node_traced", false);

	s = with_text(db, n, "SELECT id, item FROM orders WHERE id <= ? "
			     "ORDER BY id", 0);
	expect_rows(s, 3);
	cr_expect_str_eq(s->name, "SELECT orders");
	cr_expect_str_eq(h_attr_str(s, "db.operation.name"), "SELECT");
	cr_expect_str_eq(h_attr_str(s, "db.collection.name"), "orders");

	/* Prepared once, executed three times: the text each time. */
	s = named(db, n, "PREPARE");
	cr_assert_not_null(s);
	cr_expect_str_eq(h_attr_str(s, "db.query.text"), exec_text);
	for (size_t k = 0; k < 3; k++) {
		s = with_text(db, n, exec_text, k + 1);
		expect_rows(s, 1);
		cr_expect_str_eq(s->name, "SELECT orders");
	}
	cr_expect_null(with_text(db, n, exec_text, 4));

	s = with_text(db, n, "SELECT * FROM no_such_table", 0);
	cr_assert_not_null(s);
	cr_expect_str_eq(h_attr_str(s, "db.response.status_code"), "1146");
	cr_expect_str_eq(h_attr_str(s, "error.type"), "1146");
	cr_expect_eq(s->status->code,
		     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	cr_expect(strstr(s->status->message, "doesn't exist") != NULL,
		  "message: %s", s->status->message);

	/* Two statements in one query: one span, the rows of both. */
	s = with_text(db, n, "SELECT ? AS a; SELECT ? AS b", 0);
	expect_rows(s, 2);
	cr_expect_not_null(named(db, n, "PING"));
	free(sp);
	run_free(&r);
	h_env_stop(&e);
}

/* Find the server span of GET /req/<i>. */
static const at_otlp_span *request_span(const struct at_rx_span *sp,
					size_t n, int i)
{
	char path[32];

	snprintf(path, sizeof(path), "/req/%d", i);
	for (size_t k = 0; k < n; k++) {
		const char *p = h_attr_str(sp[k].span, "url.path");

		if (sp[k].span->kind == KIND_SERVER && p && !strcmp(p, path))
			return sp[k].span;
	}
	return NULL;
}

Test(wire_mysql, node_pool_statements_are_children_of_their_requests,
     .timeout = 180)
{
	enum { N = 6 };
	struct h_env e;
	struct at_rx_span *sp = NULL;
	const at_otlp_span *db[64];
	const char *argv[] = { "node", node_prog(), "pool", "6", NULL };
	struct run r;
	size_t n, all;

	cr_assert_eq(h_env_start(&e), 0);
	run_both(&e, "t_pool", argv, &r);
	n = wait_db(&e, N, &sp, db, 64);
	cr_assert_eq(n, N, "%zu database spans: %s", n, names(db, n));
	/* Every server span too (a request ends after its statement). */
	for (int tries = 0; tries < 100; tries++) {
		int found = 0;

		free(sp);
		all = h_spans(e.rx, 3 * N, WAIT_MS / 100, &sp);
		for (int i = 1; i <= N; i++)
			found += request_span(sp, all, i) != NULL;
		if (found == N)
			break;
	}
	n = db_spans(sp, all, db, 64);
	for (int i = 1; i <= N; i++) {
		char text[64];
		const at_otlp_span *req = request_span(sp, all, i), *s;

		snprintf(text, sizeof(text),
			 "SELECT COUNT(*) AS req_%d FROM orders", i);
		s = with_text(db, n, text, 0);
		cr_assert_not_null(s, "no span for %s", text);
		cr_assert_not_null(req, "no server span for /req/%d", i);
		expect_rows(s, 1);
		cr_expect_eq(s->parent_span_id.len, 8);
		cr_expect_eq(memcmp(s->parent_span_id.data, req->span_id.data, 8),
			     0, "req_%d is not a child of GET /req/%d", i, i);
		cr_expect_eq(memcmp(s->trace_id.data, req->trace_id.data, 16), 0);
	}
	free(sp);
	run_free(&r);
	h_env_stop(&e);
}

static void pymysql_run(const char *name, bool unix_sock)
{
	struct h_env e;
	struct at_rx_span *sp = NULL;
	const at_otlp_span *db[64], *s;
	const char *argv[] = { "/usr/bin/python3", "tests/fixtures/wire/my_py.py",
			       unix_sock ? "socket" : "tcp", NULL };
	char dbname[64];
	struct run r;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	run_both(&e, name, argv, &r);
	snprintf(dbname, sizeof(dbname), "%s_traced", name);
	/* SET autocommit, SELECT, INSERT, DELETE, USE, error, two
	 * statements, ping */
	n = wait_db(&e, 8, &sp, db, 64);
	cr_assert_eq(n, 8, "%zu database spans: %s", n, names(db, n));
	for (size_t i = 0; i < n; i++)
		expect_conn(db[i], dbname, unix_sock);
	expect_rows(with_text(db, n, "SELECT id, item FROM orders WHERE id = ?",
			      0), 1);
	s = with_text(db, n, "INSERT INTO scratch (v) VALUES (?), (?)", 0);
	cr_assert_not_null(s);
	cr_expect_str_eq(s->name, "INSERT scratch");
	cr_expect_eq(h_attr_int(s, "db.response.returned_rows", -1), -1);
	s = named(db, n, "USE");
	cr_assert_not_null(s);
	cr_expect_str_eq(h_attr_str(s, "db.operation.name"), "USE");
	s = with_text(db, n, "SELECT nope FROM orders", 0);
	cr_assert_not_null(s);
	cr_expect_str_eq(h_attr_str(s, "db.response.status_code"), "1054");
	expect_rows(with_text(db, n, "SELECT ?; SELECT ?", 0), 2);
	cr_expect_not_null(named(db, n, "PING"));
	free(sp);
	run_free(&r);
	h_env_stop(&e);
}

Test(wire_mysql, pymysql_over_tcp, .timeout = 180)
{
	pymysql_run("t_py_tcp", false);
}

Test(wire_mysql, pymysql_over_the_unix_socket, .timeout = 180)
{
	pymysql_run("t_py_sock", true);
}

static void cli_run(const char *name, bool unix_sock)
{
	struct h_env e;
	struct at_rx_span *sp = NULL;
	const at_otlp_span *db[64], *s;
	char where[600], port[32], dbname[64];
	/* No database at connect: USE (a COM_INIT_DB) chooses it; the last
	 * statement fails (exit status 1). */
	const char *argv[] = {
		"mariadb", "--no-defaults", where, port, "-u", "autotrace",
		"-pautotrace", "-e",
		"SELECT DATABASE(); USE @DB@; "
		"SELECT item FROM orders WHERE id = 2; "
		"SELECT COUNT(*) FROM orders; SELECT nope FROM orders",
		NULL
	};
	struct run r;
	size_t n;

	snprintf(dbname, sizeof(dbname), "%s_traced", name);
	if (unix_sock) {
		snprintf(where, sizeof(where), "--socket=%s/mysqld.sock",
			 my_dir());
		snprintf(port, sizeof(port), "--protocol=socket");
	} else {
		snprintf(where, sizeof(where), "--host=127.0.0.1");
		snprintf(port, sizeof(port), "--port=%s", my_port());
	}
	cr_assert_eq(h_env_start(&e), 0);
	run_both(&e, name, argv, &r);
	cr_expect_eq(r.status, 1, "the last statement fails");
	/* SELECT DATABASE() twice (ours, then the client's before USE),
	 * USE, the two SELECTs, the failing one. */
	n = wait_db(&e, 6, &sp, db, 64);
	cr_assert_eq(n, 6, "%zu database spans: %s", n, names(db, n));
	cr_expect_str_eq(db[0]->name, "SELECT");
	cr_expect_str_eq(db[1]->name, "SELECT");
	cr_expect_str_eq(db[2]->name, "USE");
	/* No namespace before USE; the one USE chose on it and after. */
	for (size_t i = 0; i < n; i++)
		expect_conn(db[i], i < 2 ? NULL : dbname, unix_sock);
	expect_rows(with_text(db, n, "SELECT item FROM orders WHERE id = ?", 0),
		    1);
	expect_rows(with_text(db, n, "SELECT COUNT(*) FROM orders", 0), 1);
	s = with_text(db, n, "SELECT nope FROM orders", 0);
	cr_assert_not_null(s);
	cr_expect_str_eq(h_attr_str(s, "db.response.status_code"), "1054");
	free(sp);
	run_free(&r);
	h_env_stop(&e);
}

Test(wire_mysql, mariadb_client_over_tcp, .timeout = 180)
{
	cli_run("t_cli_tcp", false);
}

Test(wire_mysql, mariadb_client_over_the_unix_socket, .timeout = 180)
{
	cli_run("t_cli_sock", true);
}

Test(wire_mysql, autotrace_protocols_turns_the_family_off, .timeout = 180)
{
	struct h_env e;
	struct at_rx_span *sp = NULL;
	const at_otlp_span *db[64];
	char port[64], dbv[64], node[600];
	const char *env[] = { NULL, "AUTOTRACE_PROTOCOLS=postgresql,redis",
			      port, dbv, node, NULL };
	const char *argv[] = { "node", node_prog(), "basic", NULL };
	struct h_result res;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	env[0] = e.ep;
	make_db("t_off");
	snprintf(port, sizeof(port), "MY_PORT=%s", my_port());
	snprintf(dbv, sizeof(dbv), "MY_DB=t_off");
	snprintf(node, sizeof(node), "NODE_PATH=%s",
		 getenv("AT_WIRE_NODE_PATH") ? getenv("AT_WIRE_NODE_PATH") : "");
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "%s%s", res.out, res.err);
	h_result_free(&res);
	/* The connect span arrives; no statement span with it. */
	n = h_spans(e.rx, 1, WAIT_MS, &sp);
	cr_assert_geq(n, 1);
	cr_expect_eq(db_spans(sp, n, db, 64), 0);
	free(sp);
	h_env_stop(&e);
}
