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
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

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
