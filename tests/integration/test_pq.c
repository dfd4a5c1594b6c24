/*
 * Integration tests of the libpq spans, against the throwaway PostgreSQL
 * cluster that scripts/run-integration.sh starts (AT_PG_DIR, AT_PG_PORT):
 * the project's libpq C client in every call family, psql, pgbench, and
 * Python with psycopg2 (Debian's /usr/bin/python3), all with the library
 * preloaded.  Each test works in a database of its own.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 60000
#define WAIT_MS 10000
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT

static const char *pg_dir(void)
{
	const char *d = getenv("AT_PG_DIR");
	cr_assert(d && getenv("AT_PG_PORT"),
		  "no PostgreSQL test cluster (run through scripts/run-integration.sh)");
	return d;
}

/* A fresh database for this test; its conninfo (unix socket or TCP). */
static void make_db(const char *name)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "psql -X -q -h %s -p %s -U postgres -d autotrace -c "
		 "'DROP DATABASE IF EXISTS %s' -c 'CREATE DATABASE %s' 2>&1",
		 pg_dir(), getenv("AT_PG_PORT"), name, name);
	char *out = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "createdb: %s", out);
	free(out);
}

static void conninfo(char *out, size_t cap, const char *db, int tcp)
{
	snprintf(out, cap, "host=%s port=%s user=postgres dbname=%s",
		 tcp ? "127.0.0.1" : pg_dir(), getenv("AT_PG_PORT"), db);
}

static int is_db(const at_otlp_span *s)
{
	const char *v = h_attr_str(s, "db.system.name");
	return v && !strcmp(v, "postgresql");
}

static size_t count_named(const struct at_rx_span *sp, size_t n,
			  const char *name)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += !strcmp(sp[i].span->name, name);
	return c;
}

static const at_otlp_span *find_text(const struct at_rx_span *sp, size_t n,
				     const char *needle)
{
	for (size_t i = 0; i < n; i++) {
		const char *t = h_attr_str(sp[i].span, "db.query.text");
		if (t && strstr(t, needle))
			return sp[i].span;
	}
	return NULL;
}

/* No exported byte contains any of the secrets. */
static void no_secrets(const char *dir, const char *const secrets[])
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t files = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		char path[512];
		size_t len;
		if (strncmp(de->d_name, "req-", 4))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *b = h_read_file(path, &len);
		files++;
		for (size_t i = 0; secrets[i]; i++)
			cr_expect_null(memmem(b, len, secrets[i], strlen(secrets[i])),
				       "secret %s exported in %s", secrets[i], path);
		free(b);
	}
	closedir(d);
	cr_expect_gt(files, 0, "no export to check");
}

static char *run_pq_client(struct h_env *e, const char *ci,
			   const char *scenario, const char *arg,
			   struct at_rx_span **spans, size_t *n, size_t min)
{
	struct h_result res;
	const char *env[] = { e->ep, "OTEL_SERVICE_NAME=pq-client", NULL };
	const char *argv[] = { h_build_path("fixtures/pq_client"), ci, scenario,
			       arg, NULL };
	char *out;

	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "pq_client %s: %s%s", scenario, res.out,
		     res.err);
	out = strdup(res.out);
	h_result_free(&res);
	*n = h_spans(e->rx, min, WAIT_MS, spans);
	return out;
}

Test(pq, sync_calls_one_span_per_statement, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	char ci[512], sock[512];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	make_db("t_sync");
	conninfo(ci, sizeof(ci), "t_sync", 0);
	free(run_pq_client(&e, ci, "sync", NULL, &sp, &n, 8));

	/* The connection. */
	const at_otlp_span *c = h_find_span(sp, n, "postgresql connect", KIND_CLIENT);
	cr_assert_not_null(c);
	cr_expect_str_eq(h_attr_str(c, "db.system.name"), "postgresql");
	cr_expect_str_eq(h_attr_str(c, "db.namespace"), "t_sync");
	snprintf(sock, sizeof(sock), "%s/.s.PGSQL.%s", pg_dir(), getenv("AT_PG_PORT"));
	cr_expect_str_eq(h_attr_str(c, "server.address"), sock);
	cr_expect_str_eq(h_attr_str(c, "network.transport"), "unix");
	cr_expect(!c->status || c->status->code != 2);

	/* The INSERT with literals: sanitised, named after its table. */
	const at_otlp_span *ins = h_find_span(sp, n, "INSERT items", KIND_CLIENT);
	cr_assert_not_null(ins, "INSERT items span");
	cr_expect_str_eq(h_attr_str(ins, "db.operation.name"), "INSERT");
	cr_expect_str_eq(h_attr_str(ins, "db.collection.name"), "items");
	cr_expect_str_eq(h_attr_str(ins, "db.namespace"), "t_sync");
	const char *t = h_attr_str(ins, "db.query.text");
	cr_expect(t && strchr(t, '?') && !strstr(t, "secret") && !strstr(t, "42"),
		  "sanitised text: %s", t ? t : "(none)");

	/* Parameterised: the text as written, no bound value. */
	const at_otlp_span *par = find_text(sp, n, "$1");
	cr_assert_not_null(par, "a parameterised statement");
	cr_expect_null(strstr(h_attr_str(par, "db.query.text"), "param-secret"));
	cr_expect_geq(h_attr_int(par, "db.response.returned_rows", -1), 0);

	/* Prepared: PREPARE once, the executions show the prepared text. */
	cr_expect_geq(count_named(sp, n, "PREPARE"), 1);
	size_t execs = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(sp[i].span->name, "PREPARE") &&
		    strcmp(sp[i].span->name, "DESCRIBE") && is_db(sp[i].span) &&
		    h_attr_str(sp[i].span, "db.query.text") &&
		    strstr(h_attr_str(sp[i].span, "db.query.text"), "$1") &&
		    strstr(h_attr_str(sp[i].span, "db.query.text"), "items"))
			execs++;
	cr_expect_geq(execs, 2, "two executions of the prepared statement");
	cr_expect_geq(count_named(sp, n, "DESCRIBE"), 1);

	/* Failures: SQLSTATE, error.type, the primary message. */
	int syntax = 0, missing = 0;
	for (size_t i = 0; i < n; i++) {
		const char *code = h_attr_str(sp[i].span, "db.response.status_code");
		if (!code)
			continue;
		cr_expect_str_eq(h_attr_str(sp[i].span, "error.type"), code);
		cr_expect(sp[i].span->status && sp[i].span->status->code == 2);
		cr_expect(sp[i].span->status && sp[i].span->status->message &&
			  *sp[i].span->status->message);
		syntax += !strcmp(code, "42601");
		missing += !strcmp(code, "42P01");
	}
	cr_expect_eq(syntax, 1);
	cr_expect_eq(missing, 1);

	/* One span per statement: no span for libpq's inner PQsendQuery /
	 * PQgetResult, no socket span for its traffic. */
	for (size_t i = 0; i < n; i++) {
		cr_expect(is_db(sp[i].span), "a non-database span: %s",
			  sp[i].span->name);
		cr_expect_eq(sp[i].span->kind, KIND_CLIENT);
	}
	const char *secrets[] = { "secret-value", "param-secret", NULL };
	no_secrets(e.dir, secrets);
	free(sp);
	h_env_stop(&e);
}

Test(pq, async_tcp_connection_and_queries, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	char ci[512];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	make_db("t_async");
	conninfo(ci, sizeof(ci), "t_async", 1);
	free(run_pq_client(&e, ci, "async", NULL, &sp, &n, 5));
	const at_otlp_span *c = h_find_span(sp, n, "postgresql connect", KIND_CLIENT);
	cr_assert_not_null(c);
	cr_expect_str_eq(h_attr_str(c, "server.address"), "127.0.0.1");
	cr_expect_eq(h_attr_int(c, "server.port", -1), atoi(getenv("AT_PG_PORT")));
	/* The TCP connect libpq made is the connection span's child. */
	const at_otlp_span *tcp = h_find_span(sp, n, "connect", KIND_CLIENT);
	cr_assert_not_null(tcp, "TCP connect span");
	cr_expect_eq(memcmp(tcp->parent_span_id.data, c->span_id.data, 8), 0);
	size_t queries = 0, errors = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_db(sp[i].span) || sp[i].span == c)
			continue;
		queries++;
		errors += h_attr_str(sp[i].span, "db.response.status_code") != NULL;
		cr_expect_str_eq(h_attr_str(sp[i].span, "server.address"), "127.0.0.1");
	}
	cr_expect_geq(queries, 5);
	cr_expect_eq(errors, 1);
	free(sp);
	h_env_stop(&e);
}

Test(pq, pipeline_one_span_per_query_in_order, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	char ci[512];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	make_db("t_pipe");
	conninfo(ci, sizeof(ci), "t_pipe", 0);
	free(run_pq_client(&e, ci, "pipeline", NULL, &sp, &n, 4));
	const at_otlp_span *q[8];
	size_t k = 0;
	for (size_t i = 0; i < n && k < 8; i++)
		if (is_db(sp[i].span) && strcmp(sp[i].span->name, "postgresql connect"))
			q[k++] = sp[i].span;
	cr_assert_geq(k, 3, "three pipelined statements");
	/* Ended in order, each after the previous one. */
	for (size_t i = 1; i < k; i++)
		cr_expect_leq(q[i - 1]->end_time_unix_nano, q[i]->end_time_unix_nano);
	size_t failed = 0;
	for (size_t i = 0; i < k; i++)
		failed += q[i]->status && q[i]->status->code == 2;
	cr_expect_geq(failed, 1, "the failing statement");
	free(sp);
	h_env_stop(&e);
}

Test(pq, copy_is_one_span_with_its_rows, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	char ci[512];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	make_db("t_copy");
	conninfo(ci, sizeof(ci), "t_copy", 0);
	free(run_pq_client(&e, ci, "copy", NULL, &sp, &n, 3));
	size_t copies = 0;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		const char *op = h_attr_str(s, "db.operation.name");
		if (!op || strcmp(op, "COPY"))
			continue;
		copies++;
		cr_expect_geq(h_attr_int(s, "db.response.returned_rows", -1), 3,
			      "rows moved by %s", h_attr_str(s, "db.query.text"));
		cr_expect(!s->status || s->status->code != 2);
	}
	cr_expect_eq(copies, 2, "COPY FROM STDIN and COPY TO STDOUT");
	free(sp);
	h_env_stop(&e);
}

Test(pq, reset_params_and_setdblogin, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	char ci[512];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	make_db("t_reset");
	conninfo(ci, sizeof(ci), "t_reset", 0);
	free(run_pq_client(&e, ci, "reset", NULL, &sp, &n, 5));
	cr_expect_geq(count_named(sp, n, "postgresql connect"), 3,
		      "connectdbParams, reset, setdbLogin");
	free(sp);
	h_env_stop(&e);
}

Test(pq, failed_connection_is_an_error_span, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	char ci[256];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%u user=postgres dbname=x "
		 "connect_timeout=5", h_closed_port());
	char *out = run_pq_client(&e, ci, "fail-connect", NULL, &sp, &n, 1);
	cr_expect(strstr(out, "connect failed"), "%s", out);
	free(out);
	const at_otlp_span *c = h_find_span(sp, n, "postgresql connect", KIND_CLIENT);
	cr_assert_not_null(c);
	cr_expect(c->status && c->status->code == 2);
	cr_expect_str_eq(h_attr_str(c, "error.type"), "CONNECTION_BAD");
	free(sp);
	h_env_stop(&e);
}

Test(pq, psql_c_and_f, .timeout = 120)
{
	struct h_env e;
	struct h_result res;
	struct at_rx_span *sp;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=psql", NULL };
	make_db("t_psql");
	const char *a1[] = { "psql", "-X", "-q", "-h", pg_dir(), "-p",
			     getenv("AT_PG_PORT"), "-U", "postgres", "-d", "t_psql",
			     "-c", "SELECT 41 + 1 AS answer", NULL };
	cr_assert_eq(h_run(a1, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect(strstr(res.out, "42"));
	h_result_free(&res);
	const char *a2[] = { "psql", "-X", "-q", "-h", pg_dir(), "-p",
			     getenv("AT_PG_PORT"), "-U", "postgres", "-d", "t_psql",
			     "-v", "ON_ERROR_STOP=1", "-f", "tests/fixtures/pq/setup.sql",
			     NULL };
	cr_assert_eq(h_run(a2, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	n = h_spans(e.rx, 4, WAIT_MS, &sp);
	const at_otlp_span *sel = find_text(sp, n, "? + ?");
	cr_assert_not_null(sel, "SELECT 41 + 1 sanitised");
	cr_expect_str_eq(h_attr_str(sel, "db.operation.name"), "SELECT");
	cr_expect_eq(h_attr_int(sel, "db.response.returned_rows", -1), 1);
	size_t statements = 0;
	for (size_t i = 0; i < n; i++)
		statements += is_db(sp[i].span) &&
			      strcmp(sp[i].span->name, "postgresql connect");
	cr_expect_geq(statements, 4, "psql -f sends its statements one by one");
	free(sp);
	h_env_stop(&e);
}

Test(pq, pgbench_init_and_run, .timeout = 180)
{
	struct h_env e;
	struct h_result res;
	struct at_rx_span *sp;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=pgbench", NULL };
	make_db("t_bench");
	const char *a1[] = { "pgbench", "-i", "-q", "-s", "1", "-h", pg_dir(),
			     "-p", getenv("AT_PG_PORT"), "-U", "postgres",
			     "t_bench", NULL };
	cr_assert_eq(h_run(a1, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	const char *a2[] = { "pgbench", "-t", "20", "-c", "1", "-n", "-h",
			     pg_dir(), "-p", getenv("AT_PG_PORT"), "-U",
			     "postgres", "t_bench", NULL };
	cr_assert_eq(h_run(a2, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	n = h_spans(e.rx, 100, WAIT_MS, &sp);
	size_t updates = 0;
	for (size_t i = 0; i < n; i++) {
		const char *t = h_attr_str(sp[i].span, "db.query.text");
		if (t && !strcmp(sp[i].span->name, "UPDATE pgbench_accounts")) {
			updates++;
			/* pgbench sends literal values: none may remain. */
			for (const char *p = t; *p; p++)
				cr_expect(!(*p >= '0' && *p <= '9') ||
						  (p > t && (p[-1] == '_' ||
							     (p[-1] >= 'a' && p[-1] <= 'z'))),
					  "a literal in %s", t);
		}
	}
	cr_expect_eq(updates, 20);
	free(sp);
	h_env_stop(&e);
}

Test(pq, psycopg2_parameters_never_exported, .timeout = 120)
{
	struct h_env e;
	struct h_result res;
	struct at_rx_span *sp;
	char ci[512];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	make_db("t_py");
	conninfo(ci, sizeof(ci), "t_py", 1);
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=psycopg2", NULL };
	const char *argv[] = { "/usr/bin/python3", "tests/fixtures/pq/psycopg_client.py",
			       ci, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "%s%s", res.out, res.err);
	h_result_free(&res);
	n = h_spans(e.rx, 4, WAIT_MS, &sp);
	size_t queries = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_db(sp[i].span) || !strcmp(sp[i].span->name, "postgresql connect"))
			continue;
		queries++;
		failed += sp[i].span->status && sp[i].span->status->code == 2;
	}
	cr_expect_geq(queries, 3);
	cr_expect_geq(failed, 1);
	const char *secrets[] = { "py-secret", NULL };
	no_secrets(e.dir, secrets);
	free(sp);
	h_env_stop(&e);
}

/* A request handler's queries are children of its SERVER span. */
Test(pq, queries_under_an_http_request, .timeout = 120)
{
	struct h_env e;
	struct h_result res;
	struct at_rx_span *sp;
	char ci[512], code[2048], pf[256], url[128];
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	make_db("t_http");
	conninfo(ci, sizeof(ci), "t_http", 0);
	snprintf(pf, sizeof(pf), "%s/port", e.dir);
	snprintf(code, sizeof(code),
		 "import http.server, os, psycopg2\n"
		 "class H(http.server.BaseHTTPRequestHandler):\n"
		 "  protocol_version = 'HTTP/1.1'\n"
		 "  def log_message(self, *a): pass\n"
		 "  def do_GET(self):\n"
		 "    c = psycopg2.connect('%s'); cur = c.cursor()\n"
		 "    for i in range(3):\n"
		 "      cur.execute('SELECT %%s::int + 1', (i,))\n"
		 "    c.close(); b = b'ok\\n'\n"
		 "    self.send_response(200); self.send_header('Content-Length', str(len(b)))\n"
		 "    self.end_headers(); self.wfile.write(b)\n"
		 "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
		 "open('%s.tmp', 'w').write(str(s.server_port)); os.rename('%s.tmp', '%s')\n"
		 "s.handle_request()\n", ci, pf, pf, pf);
	const char *senv[] = { e.ep, "OTEL_SERVICE_NAME=py-pg-server", NULL };
	const char *sargv[] = { "/usr/bin/python3", "-c", code, NULL };
	pid_t pid = h_start(sargv, senv, true, NULL);
	uint16_t port = h_read_port(pf, WAIT_MS);
	cr_assert_neq(port, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	const char *cargv[] = { "curl", "-s", url, NULL };
	const char *cenv[] = { e.ep, NULL };
	cr_assert_eq(h_run(cargv, cenv, true, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "ok\n");
	h_result_free(&res);
	cr_expect_eq(h_wait_exit(pid, 10000), 0, "the server answers once, exits");
	n = h_spans(e.rx, 7, WAIT_MS, &sp);
	const at_otlp_span *srv = h_find_span(sp, n, "GET", KIND_SERVER);
	cr_assert_not_null(srv);
	size_t selects = 0, connects = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_db(sp[i].span))
			continue;
		cr_expect_eq(memcmp(sp[i].span->parent_span_id.data,
				    srv->span_id.data, 8), 0,
			     "%s outside the request", sp[i].span->name);
		selects += !strcmp(sp[i].span->name, "SELECT");
		connects += !strcmp(sp[i].span->name, "postgresql connect");
	}
	cr_expect_eq(connects, 1, "the connection, under the request");
	cr_expect_eq(selects, 3, "three queries (an N+1), under the request");
	free(sp);
	h_env_stop(&e);
}
