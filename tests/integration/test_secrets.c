/*
 * Secrets never leave the process by default: real programs send
 * credentials through every traced path - a Python HTTP client and server
 * (socket hooks, both sides), curl (libcurl hooks), psql (libpq hooks) -
 * in URL userinfo, query parameters (signed-URL ones included),
 * Authorization, Cookie and Set-Cookie headers, a libpq connection
 * string's password and SQL literals.  Every byte the receiver got (the
 * raw request bodies, uncompressed by default) is searched for each
 * secret; the spans that carry the redacted forms must be there, so the
 * test cannot pass by exporting nothing.
 *
 * The same for what echoes a secret back: PostgreSQL's error messages
 * (a literal of psql's, a value psycopg2 interpolates, a value bound with
 * PQexecParams, PQsendQueryParams and PQexecPrepared, a connection string
 * or option libpq or the server quotes), and URLs whose query is a bare
 * token or has a member without '=', or whose path has matrix parameters
 * (;jsessionid=...), from urllib, a raw socket and curl, on both sides.
 * Each program is run bare as well: its output and exit status are the
 * same, and they show the secret (the program sees its own data).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER

#define RUN_MS 30000
#define WAIT_MS 10000

static const char *const secrets[] = {
	"UserinfoSecret1", "QuerySecret2", "AmzSignatureSecret3",
	"BearerSecret4", "CookieSecret5", "SetCookieSecret6",
	"CurlPassSecret7", "CurlSigSecret8", "CurlCookieSecret9",
	"PgPassSecret10", "SqlLiteralSecret11", "31415926535",
};

/* A preloaded Python process: an HTTP server that answers with a
 * Set-Cookie, and an http.client request to it carrying secrets. */
static const char client_server_py[] =
	"import http.server, threading, http.client\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def do_GET(self):\n"
	"        self.send_response(200)\n"
	"        self.send_header('Set-Cookie', 'sid=SetCookieSecret6')\n"
	"        self.send_header('Content-Length', '3')\n"
	"        self.end_headers(); self.wfile.write(b'ok\\n')\n"
	"s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"threading.Thread(target=s.serve_forever, daemon=True).start()\n"
	"c = http.client.HTTPConnection('127.0.0.1', s.server_port)\n"
	"c.request('GET', '/p?token=QuerySecret2&X-Amz-Signature="
	"AmzSignatureSecret3', headers={'Authorization': 'Bearer "
	"BearerSecret4', 'Cookie': 'session=CookieSecret5'})\n"
	"print(c.getresponse().read().decode(), end='')\n"
	"c.putrequest('GET', 'http://user:UserinfoSecret1@127.0.0.1:%d/u' % "
	"s.server_port, skip_host=False)\n"
	"c.endheaders()\n"
	"print(c.getresponse().read().decode(), end='')\n"
	"c.close(); s.shutdown()\n";

static size_t count_in_saved(const char *dir, const char *needle,
			     size_t *files)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t hits = 0;

	*files = 0;
	cr_assert(d);
	while ((de = readdir(d))) {
		char path[1024];
		size_t len;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		char *body = h_read_file(path, &len);
		if (!body)
			continue;
		(*files)++;
		for (size_t i = 0; i + strlen(needle) <= len; i++)
			hits += !memcmp(body + i, needle, strlen(needle));
		free(body);
	}
	closedir(d);
	return hits;
}

Test(programs, no_secret_is_exported_by_default, .timeout = 180)
{
	struct h_env e;
	struct h_result res;
	struct at_rx_span *spans;
	const char *pg_dir = getenv("AT_PG_DIR"), *pg_port = getenv("AT_PG_PORT");
	char url[512], conn[512];

	cr_assert(pg_dir && pg_port, "run by scripts/run-integration.sh");
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, NULL };

	const char *py[] = { "python3", "-c", client_server_py, NULL };
	cr_assert_eq(h_run(py, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "python: %s", res.err);
	cr_expect_str_eq(res.out, "ok\nok\n");
	h_result_free(&res);

	snprintf(url, sizeof(url),
		 "http://someone:CurlPassSecret7@127.0.0.1:%s/file?"
		 "sig=CurlSigSecret8&Expires=1", e.port);
	const char *curl[] = { "curl", "-sS", "-H",
			       "Authorization: Basic CurlPassSecret7",
			       "-b", "c=CurlCookieSecret9", url, NULL };
	cr_assert_eq(h_run(curl, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "curl: %s", res.err);
	h_result_free(&res);

	snprintf(conn, sizeof(conn),
		 "host=%s port=%s user=postgres dbname=postgres "
		 "password=PgPassSecret10", pg_dir, pg_port);
	const char *psql[] = { "psql", "-X", "-q", "-A", "-t", conn, "-c",
			       "SELECT 'SqlLiteralSecret11' AS a, 31415926535 "
			       "AS b", NULL };
	cr_assert_eq(h_run(psql, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "psql: %s", res.err);
	cr_expect_str_eq(res.out, "SqlLiteralSecret11|31415926535\n",
			 "the program itself sees its data");
	h_result_free(&res);

	/* The redacted forms arrived: python's 2 requests (client and
	 * server spans), curl's transfer, psql's statement. */
	size_t n = h_spans(e.rx, 7, WAIT_MS, &spans);
	int redacted_url = 0, server_query = 0, curl_url = 0, sql = 0;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		const char *u = h_attr_str(s, "url.full");
		const char *q = h_attr_str(s, "url.query");
		const char *t = h_attr_str(s, "db.query.text");
		if (u && strstr(u, "X-Amz-Signature=REDACTED"))
			redacted_url++;
		if (u && strstr(u, "sig=REDACTED") &&
		    strstr(u, "REDACTED:REDACTED@"))
			curl_url++;
		if (q && strstr(q, "token=REDACTED"))
			server_query++;
		if (t && strstr(t, "SELECT ? AS a, ? AS b"))
			sql++;
	}
	cr_expect_geq(redacted_url, 1, "python's client url.full, redacted");
	cr_expect_geq(server_query, 1, "the server's url.query, redacted");
	cr_expect_geq(curl_url, 1, "curl's url.full, redacted");
	cr_expect_eq(sql, 1, "psql's statement, literals replaced");
	free(spans);

	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		size_t files;
		size_t hits = count_in_saved(e.dir, secrets[i], &files);
		cr_expect_gt(files, 0);
		cr_expect_eq(hits, 0, "%s found %zu times in the exports",
			     secrets[i], hits);
	}
	h_env_stop(&e);
}

/* ---- values echoed by error messages, URLs without '=' ---- */

/*
 * Run argv bare and with the library: the same exit status, stdout and
 * stderr, byte for byte.  The traced run's output is returned (malloc'd:
 * stdout then stderr).
 */
static char *same_as_bare(const char *const argv[], const char *const env[])
{
	struct h_result bare, traced;
	char *both;

	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(traced.status, bare.status, "%s: exit %d, bare %d",
		     argv[0], traced.status, bare.status);
	cr_expect(traced.out_len == bare.out_len &&
			  !memcmp(traced.out, bare.out, bare.out_len),
		  "%s stdout:\n%s\nbare:\n%s", argv[0], traced.out, bare.out);
	cr_expect(traced.err_len == bare.err_len &&
			  !memcmp(traced.err, bare.err, bare.err_len),
		  "%s stderr:\n%s\nbare:\n%s", argv[0], traced.err, bare.err);
	both = malloc(traced.out_len + traced.err_len + 1);
	cr_assert(both);
	memcpy(both, traced.out, traced.out_len);
	memcpy(both + traced.out_len, traced.err, traced.err_len + 1);
	h_result_free(&bare);
	h_result_free(&traced);
	return both;
}

/* How many spans have this exact status message. */
static size_t count_status(const struct at_rx_span *sp, size_t n,
			   const char *msg)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		c += s->status && s->status->message &&
		     !strcmp(s->status->message, msg);
	}
	return c;
}

/* Every secret appears in what the program printed, none in the exports. */
static void seen_not_exported(const char *dir, const char *printed,
			      const char *const names[])
{
	for (size_t i = 0; names[i]; i++) {
		size_t files;
		size_t hits = count_in_saved(dir, names[i], &files);
		cr_expect(strstr(printed, names[i]),
			  "the program does not show %s:\n%s", names[i],
			  printed);
		cr_expect_gt(files, 0);
		cr_expect_eq(hits, 0, "%s found %zu times in the exports",
			     names[i], hits);
	}
}

static const char psycopg_py[] =
	"import sys, psycopg2\n"
	"c = psycopg2.connect(sys.argv[1])\n"
	"cur = c.cursor()\n"
	"try:\n"
	"    cur.execute('select %s::date', (sys.argv[2],))\n"
	"except psycopg2.Error as e:\n"
	"    print(e.pgcode, e.pgerror.splitlines()[0])\n"
	"c.close()\n";

Test(programs, db_error_messages_hold_no_value, .timeout = 240)
{
	struct h_env e;
	struct at_rx_span *sp;
	const char *pg_dir = getenv("AT_PG_DIR"), *pg_port = getenv("AT_PG_PORT");
	char ci[512], ci_tcp[512], bad_ci[600], opt_ci[600], want[256];
	char *printed[8];
	size_t np = 0, n;

	cr_assert(pg_dir && pg_port, "run by scripts/run-integration.sh");
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, NULL };
	snprintf(ci, sizeof(ci), "host=%s port=%s user=postgres dbname=postgres",
		 pg_dir, pg_port);
	snprintf(ci_tcp, sizeof(ci_tcp),
		 "host=127.0.0.1 port=%s user=postgres dbname=postgres", pg_port);
	/* libpq quotes a malformed connection string, password included. */
	snprintf(bad_ci, sizeof(bad_ci), "%s passwordPgConnSecret18", ci);
	/* The server quotes a bad option value in its FATAL message. */
	snprintf(opt_ci, sizeof(opt_ci), "%s options=-cwork_mem=PgOptSecret19",
		 ci_tcp);

	/* psql: a literal in a data error, in a syntax error, in a regclass
	 * (the server folds it to lower case), and a missing table. */
	const char *psql1[] = { "psql", "-X", "-q", ci, "-c",
				"select '123-45-6789'::int", NULL };
	const char *psql2[] = { "psql", "-X", "-q", ci, "-c",
				"select 'a' 'PsqlTokenSecret14'", NULL };
	const char *psql3[] = { "psql", "-X", "-q", ci, "-c",
				"select 'regclasssecret15'::regclass", NULL };
	const char *psql4[] = { "psql", "-X", "-q", ci, "-c",
				"select * from orders", NULL };
	const char *py[] = { "/usr/bin/python3", "-c", psycopg_py, ci,
			     "PsycopgSecret16", NULL };
	const char *pqc[] = { h_build_path("fixtures/pq_client"), ci,
			      "bad-param", "PqParamSecret17", NULL };
	const char *psql5[] = { "psql", "-X", "-q", bad_ci, "-c", "select 1",
				NULL };
	const char *psql6[] = { "psql", "-X", "-q", opt_ci, "-c", "select 1",
				NULL };
	printed[np++] = same_as_bare(psql1, env);
	printed[np++] = same_as_bare(psql2, env);
	printed[np++] = same_as_bare(psql3, env);
	printed[np++] = same_as_bare(psql4, env);
	printed[np++] = same_as_bare(py, env);
	printed[np++] = same_as_bare(pqc, env);
	printed[np++] = same_as_bare(psql5, env);
	printed[np++] = same_as_bare(psql6, env);

	/* 6 statements of psql, python and pq_client fail, 3 of them
	 * pq_client's; 2 connections fail. */
	n = h_spans(e.rx, 16, WAIT_MS, &sp);
	cr_expect_eq(count_status(sp, n, "invalid input syntax for type integer: "
				  "\"?\""), 3, "psql's literal, pq_client's "
		     "PQexecParams and PQexecPrepared value");
	cr_expect_eq(count_status(sp, n, "invalid input syntax for type date: "
				  "\"?\""), 2, "psycopg2's and PQsendQueryParams' value");
	cr_expect_eq(count_status(sp, n, "syntax error at or near \"?\""), 1);
	cr_expect_eq(count_status(sp, n, "relation \"?\" does not exist"), 1,
		     "a regclass literal");
	cr_expect_eq(count_status(sp, n, "relation \"orders\" does not exist"),
		     1, "an identifier of the statement stays");
	cr_expect_eq(count_status(sp, n, "missing \"?\" in connection info "
				  "string"), 1);
	/* A literal beside a parameter is a literal too. */
	size_t param_text = 0;
	for (size_t i = 0; i < n; i++) {
		const char *t = h_attr_str(sp[i].span, "db.query.text");
		param_text += t && !strcmp(t, "SELECT $1::int, ? AS tag");
	}
	cr_expect_eq(param_text, 1, "PQexecParams' text, sanitised");
	snprintf(want, sizeof(want), "connection to server at \"127.0.0.1\", "
		 "port %s failed: FATAL:  invalid value for parameter \"?\"",
		 pg_port);
	cr_expect_eq(count_status(sp, n, want), 1, "host and port stay");
	free(sp);

	/* The whole output of all of them, for the secrets' presence. */
	size_t total = 1;
	for (size_t i = 0; i < np; i++)
		total += strlen(printed[i]);
	char *all = calloc(1, total);
	cr_assert(all);
	for (size_t i = 0; i < np; i++) {
		strcat(all, printed[i]);
		free(printed[i]);
	}
	const char *sent[] = { "123-45-6789", "PsqlTokenSecret14",
				  "regclasssecret15", "PsycopgSecret16",
				  "PqParamSecret17", "PgConnSecret18",
				  "PgOptSecret19", NULL };
	seen_not_exported(e.dir, all, sent);
	size_t files;
	cr_expect_eq(count_in_saved(e.dir, "PqTextSecret", &files), 0,
		     "a literal of a parameterised statement");
	free(all);
	h_env_stop(&e);
}

Test(programs, db_raw_query_keeps_error_messages, .timeout = 120)
{
	struct h_env e;
	struct at_rx_span *sp;
	const char *pg_dir = getenv("AT_PG_DIR"), *pg_port = getenv("AT_PG_PORT");
	char ci[512];
	size_t n;

	cr_assert(pg_dir && pg_port, "run by scripts/run-integration.sh");
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, "AUTOTRACE_DB_RAW_QUERY=true", NULL };
	snprintf(ci, sizeof(ci), "host=%s port=%s user=postgres dbname=postgres",
		 pg_dir, pg_port);
	const char *psql[] = { "psql", "-X", "-q", ci, "-c",
			       "select 'RawKeptValue20'::int", NULL };
	free(same_as_bare(psql, env));
	n = h_spans(e.rx, 2, WAIT_MS, &sp);
	cr_expect_eq(count_status(sp, n, "invalid input syntax for type integer: "
				  "\"RawKeptValue20\""), 1,
		     "the server's message as it is");
	free(sp);
	h_env_stop(&e);
}

/* Spans of url_secrets.py TAG: what its clients and server exported. */
static void url_spans(struct h_env *e, const char *tag, int redact_all)
{
	char v1[128], v2[128], v3[128], v4[128];
	struct at_rx_span *sp;
	size_t n;
	const char *env[] = { e->ep, redact_all ? "AUTOTRACE_HTTP_REDACT_QUERY=true"
						: "AUTOTRACE_HTTP_REDACT_QUERY=false",
			      NULL };
	const char *py[] = { "python3", "tests/fixtures/py/url_secrets.py", tag,
			     NULL };
	char *printed = same_as_bare(py, env);

	/* 6 requests: a client span (urllib, socket, curl) and a server span
	 * each, plus connect spans. */
	n = h_spans(e->rx, 12, WAIT_MS, &sp);
	int reset_full = 0, jsess_full = 0, reset_q = 0, jsess_q = 0,
	    jsess_path = 0;
	snprintf(v1, sizeof(v1), "/x;jsessionid=REDACTED?%s&REDACTED",
		 redact_all ? "a=REDACTED" : "a=1");
	snprintf(v2, sizeof(v2), "%s&REDACTED", redact_all ? "a=REDACTED" : "a=1");
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		const char *u = h_attr_str(s, "url.full");
		const char *q = h_attr_str(s, "url.query");
		const char *p = h_attr_str(s, "url.path");
		size_t ul = u ? strlen(u) : 0;
		if (u && ul > 15 && !strcmp(u + ul - 15, "/reset?REDACTED"))
			reset_full++;
		if (u && ul > strlen(v1) && !strcmp(u + ul - strlen(v1), v1))
			jsess_full++;
		if (s->kind != KIND_SERVER)
			continue;
		reset_q += q && !strcmp(q, "REDACTED");
		jsess_q += q && !strcmp(q, v2);
		jsess_path += p && !strcmp(p, "/x;jsessionid=REDACTED");
	}
	cr_expect_eq(reset_full, 3, "url.full of urllib, socket and curl");
	cr_expect_eq(jsess_full, 3, "url.full of urllib, socket and curl");
	cr_expect_eq(reset_q, 3, "the server's url.query");
	cr_expect_eq(jsess_q, 3, "the server's url.query");
	cr_expect_eq(jsess_path, 3, "the server's url.path");
	free(sp);

	snprintf(v1, sizeof(v1), "%sToken", tag);
	snprintf(v2, sizeof(v2), "%sSession", tag);
	snprintf(v3, sizeof(v3), "%sKey", tag);
	snprintf(v4, sizeof(v4), "%sFragment", tag);
	const char *sent[] = { v1, v2, v3, NULL };
	seen_not_exported(e->dir, printed, sent);
	size_t files;
	cr_expect_eq(count_in_saved(e->dir, v4, &files), 0,
		     "curl's fragment (never sent) is not exported");
	free(printed);
}

Test(programs, url_tokens_and_matrix_parameters_redacted, .timeout = 180)
{
	struct h_env e;

	cr_assert_eq(h_env_start(&e), 0);
	url_spans(&e, "UrlSecret21", 1);
	h_env_stop(&e);
}

/* With AUTOTRACE_HTTP_REDACT_QUERY=false values of ordinary keys show,
 * but a member without '=' and jsessionid stay redacted. */
Test(programs, url_tokens_redacted_when_values_are_not, .timeout = 180)
{
	struct h_env e;

	cr_assert_eq(h_env_start(&e), 0);
	url_spans(&e, "UrlSecret22", 0);
	h_env_stop(&e);
}
