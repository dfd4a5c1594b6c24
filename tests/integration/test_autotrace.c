/*
 * Integration tests of the autotrace command: exit codes and signals,
 * the command's own output untouched, children traced, --json as valid
 * OTLP-JSON that `view` renders again identically, errors.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 60000

static struct h_result at_run(const char *const args[])
{
	const char *argv[32];
	struct h_result r;
	size_t k = 0;

	argv[k++] = h_build_path("autotrace");
	for (size_t i = 0; args[i]; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &r), 0);
	return r;
}

static size_t count_lines_with(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

Test(autotrace, exit_status_and_signals_propagate)
{
	const char *a1[] = { "-q", "--", "sh", "-c", "exit 3", NULL };
	struct h_result r = at_run(a1);
	cr_expect_eq(r.status, 3);
	h_result_free(&r);
	const char *a2[] = { "-q", "--", "sh", "-c", "kill -TERM $$", NULL };
	r = at_run(a2);
	cr_expect_eq(r.status, 128 + 15);
	h_result_free(&r);
	const char *a3[] = { "--", "no-such-command-autotrace", NULL };
	r = at_run(a3);
	cr_expect_eq(r.status, 127);
	cr_expect(strstr(r.err, "command not found"), "%s", r.err);
	h_result_free(&r);
}

Test(autotrace, usage_errors)
{
	const char *a1[] = { "--bogus", "--", "true", NULL };
	struct h_result r = at_run(a1);
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "unknown option '--bogus'"), "%s", r.err);
	h_result_free(&r);
	const char *a2[] = { "--quiet", NULL };
	r = at_run(a2);
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "no command"), "%s", r.err);
	h_result_free(&r);
}

Test(autotrace, output_untouched_and_children_traced, .timeout = 120)
{
	struct h_http *http = h_http_start();
	char cmd[512], out[] = "/tmp/at-out-XXXXXX";
	int fd = mkstemp(out);

	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "printf 'line 1\\n\\001\\002 binary\\n'; curl -s http://127.0.0.1:%u/; "
		 "python3 -c \"import urllib.request as u; "
		 "u.urlopen('http://127.0.0.1:%u/').read()\"",
		 h_http_port(http), h_http_port(http));
	const char *bare[] = { "sh", "-c", cmd, NULL };
	struct h_result b;
	cr_assert_eq(h_run(bare, NULL, false, RUN_MS, &b), 0);
	const char *a[] = { "-o", out, "--", "sh", "-c", cmd, NULL };
	struct h_result r = at_run(a);
	cr_expect_eq(r.status, 0);
	cr_expect_eq(r.out_len, b.out_len);
	cr_expect_eq(memcmp(r.out, b.out, b.out_len), 0, "stdout byte for byte");
	cr_expect_str_eq(r.err, "", "traces went to -o");
	char *view = h_read_file(out, NULL);
	cr_assert_not_null(view);
	cr_expect(strstr(view, "GET"), "%s", view);
	cr_expect(strstr(view, "curl"), "the curl child is traced:\n%s", view);
	cr_expect(strstr(view, "python"), "the python child is traced:\n%s", view);
	free(view);
	unlink(out);
	h_result_free(&b);
	h_result_free(&r);
	h_http_stop(http);
}

Test(autotrace, json_is_otlp_and_view_renders_it_again, .timeout = 120)
{
	struct h_http *http = h_http_start();
	char cmd[256], json[] = "/tmp/at-json-XXXXXX", o1[] = "/tmp/at-o1-XXXXXX",
			    o2[] = "/tmp/at-o2-XXXXXX", check[1024];
	int st;

	close(mkstemp(json));
	close(mkstemp(o1));
	close(mkstemp(o2));
	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%u/a; curl -s http://127.0.0.1:%u/b",
		 h_http_port(http), h_http_port(http));
	const char *a[] = { "--json", json, "-o", o1, "--", "sh", "-c", cmd, NULL };
	struct h_result r = at_run(a);
	cr_expect_eq(r.status, 0, "%s", r.err);
	h_result_free(&r);
	const char *v[] = { "view", json, "-o", o2, NULL };
	r = at_run(v);
	cr_expect_eq(r.status, 0, "%s", r.err);
	h_result_free(&r);
	char *t1 = h_read_file(o1, NULL), *t2 = h_read_file(o2, NULL);
	cr_assert(t1 && t2);
	cr_expect(strlen(t1) > 0);
	cr_expect_str_eq(t1, t2, "view renders the saved traces identically");
	/* A standard decoder: the official protos' generated code takes every
	 * line (fromObject, the proto3 JSON mapping: int64 as strings; ids
	 * converted from OTLP-JSON's hex) and round-trips it. */
	snprintf(check, sizeof(check),
		 "node -e \"const r=require('./build/node/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js');"
		 "const T=r.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;"
		 "const fs=require('fs');let n=0;"
		 "for(const l of fs.readFileSync('%s','utf8').split('\\n')){if(!l)continue;"
		 "const o=JSON.parse(l);for(const rs of o.resourceSpans)for(const ss of rs.scopeSpans)for(const s of ss.spans){"
		 "for(const k of ['traceId','spanId','parentSpanId'])if(s[k])s[k]=Buffer.from(s[k],'hex');n++;}"
		 "const m=T.decode(T.encode(T.fromObject(o)).finish());if(!m.resourceSpans.length)throw new Error('empty');}"
		 "console.log(n);\" 2>&1", json);
	char *res = h_shell(check, &st);
	cr_expect_eq(st, 0, "official decoder: %s", res);
	cr_expect_geq(atoi(res), 2, "%s", res);
	free(res);
	free(t1);
	free(t2);
	unlink(json);
	unlink(o1);
	unlink(o2);
	h_http_stop(http);
}

Test(autotrace, serve_reports_a_busy_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char port[8];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (void *)&sa, sizeof(sa)), 0);
	listen(fd, 1);
	getsockname(fd, (void *)&sa, &l);
	snprintf(port, sizeof(port), "%u", ntohs(sa.sin_port));
	const char *a[] = { "serve", "--port", port, NULL };
	struct h_result r = at_run(a);
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "is busy"), "%s", r.err);
	h_result_free(&r);
	close(fd);
}

/* The view on spans recorded from real programs: the demo system
 * (frontend -> backend -> PostgreSQL) under autotrace shows the tree, the
 * N+1 finding and the failing query. */
Test(autotrace, real_system_tree_n_plus_one_and_errors, .timeout = 120)
{
	const char *pg = getenv("AT_PG_DIR"), *port = getenv("AT_PG_PORT");
	char cmd[512], dsn[256], dir[] = "/tmp/at-demo-XXXXXX", out[300];
	int st;

	cr_assert(pg && port, "no PostgreSQL test cluster");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "psql -X -q -h %s -p %s -U postgres -d autotrace "
		 "-c 'DROP DATABASE IF EXISTS t_demo' -c 'CREATE DATABASE t_demo' && "
		 "psql -X -q -h %s -p %s -U postgres -d t_demo -c "
		 "\"CREATE TABLE items (id int PRIMARY KEY, name text); "
		 "INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 8) i\" 2>&1",
		 pg, port, pg, port);
	char *o = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "%s", o);
	free(o);
	snprintf(dsn, sizeof(dsn), "host=%s port=%s user=postgres dbname=t_demo",
		 pg, port);
	snprintf(out, sizeof(out), "%s/view.txt", dir);
	const char *a[] = { "-o", out, "--", "sh", "scripts/demo/system.sh", dir,
			    dsn, NULL };
	struct h_result r = at_run(a);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect_str_eq(r.out, "/catalog -> 200\n/catalog -> 200\n/checkout -> 502\n");
	h_result_free(&r);
	char *view = h_read_file(out, NULL);
	cr_assert_not_null(view);
	cr_expect(strstr(view, "frontend: GET server  GET /catalog -> 200"), "%s", view);
	cr_expect(strstr(view, "backend: GET server  GET /items -> 200"), "%s", view);
	cr_expect_eq(count_lines_with(view, "N+1: SELECT name FROM items WHERE id = ? ran 8 times"),
		     2, "one N+1 finding per /catalog request:\n%s", view);
	cr_expect(strstr(view, "error: relation \"orders\" does not exist"), "%s", view);
	cr_expect(strstr(view, "GET /checkout -> 502"), "%s", view);
	cr_expect(strstr(view, "\n!"), "error marks:\n%s", view);
	free(view);
}
