/*
 * Integration tests of the autotrace command: exit codes and signals,
 * the command's own output untouched, children traced, --json as valid
 * OTLP-JSON that `view` renders again identically, errors; its receiver
 * (serve, and run mode's) holding against other local programs: idle
 * connections, big bodies (the process's RSS), slow requests.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "at_traces.h"
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

/* The traces of a --json file, built. */
static struct at_traces *json_traces(const char *path)
{
	struct at_traces *t = at_traces_new();
	char *text = h_read_file(path, NULL), *line, *save = NULL;

	cr_assert_not_null(text);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		cr_assert_eq(at_traces_add_json(t, line, strlen(line)), 0);
	free(text);
	at_traces_build(t);
	return t;
}

/* `autotrace -- sh -c 'curl; curl'`: one trace, the command's root span
 * with both requests under it; --no-root: two traces. */
Test(autotrace, whole_command_is_one_trace, .timeout = 120)
{
	struct h_http *http = h_http_start();
	char cmd[256], json[] = "/tmp/at-root-XXXXXX";
	struct at_traces *t;
	size_t i, gets = 0;

	close(mkstemp(json));
	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null http://127.0.0.1:%u/a; "
		 "curl -s -o /dev/null http://127.0.0.1:%u/b; exit 3",
		 h_http_port(http), h_http_port(http));
	const char *a[] = { "--json", json, "-o", "/dev/null", "--", "sh",
			    "-c", cmd, NULL };
	struct h_result r = at_run(a);
	cr_expect_eq(r.status, 3, "the command's status: %s", r.err);
	h_result_free(&r);
	t = json_traces(json);
	cr_assert_eq(t->n_traces, 1, "%zu traces", t->n_traces);
	cr_assert_eq(t->traces[0].n_roots, 1);
	{
		const struct at_tv_span *root = t->traces[0].roots[0];

		cr_expect_str_eq(root->name, "sh");
		cr_expect_str_eq(at_tv_attr(root, "process.exit.code"), "3");
		cr_expect_eq(root->status, 2, "non-zero exit: ERROR");
		cr_expect_str_eq(root->status_msg, "exit code 3");
		for (i = 0; i < t->traces[0].n_spans; i++) {
			const struct at_tv_span *s = t->traces[0].spans[i];
			const struct at_tv_span *p = s->parent;

			if (!at_tv_attr(s, "http.request.method"))
				continue;
			gets++;
			/* under the root (through curl's own spans if any) */
			while (p && p != root)
				p = p->parent;
			cr_expect_eq(p, root, "%s under the root", s->name);
		}
	}
	cr_expect_eq(gets, 2, "both requests");
	at_traces_free(t);

	const char *b[] = { "--no-root", "--json", json, "-o", "/dev/null",
			    "--", "sh", "-c", cmd, NULL };
	r = at_run(b);
	cr_expect_eq(r.status, 3);
	h_result_free(&r);
	t = json_traces(json);
	cr_expect_eq(t->n_traces, 2, "without the root: one trace per curl");
	at_traces_free(t);
	unlink(json);
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
		 "PGOPTIONS=-cclient_min_messages=warning "
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
	/* spans named by their operation, method and kind said once */
	cr_expect(strstr(view, "frontend: GET /catalog  -> 200"), "%s", view);
	cr_expect(strstr(view, "backend: GET /items  -> 200"), "%s", view);
	cr_expect(!strstr(view, " server ") && !strstr(view, "GET client"),
		  "no kind words:\n%s", view);
	cr_expect(strstr(view, "marks: ! error"), "a legend:\n%s", view);
	/* findings: the N+1 once per /catalog request, the error's root
	 * cause; nothing about connect/BEGIN/SELECT on one connection */
	cr_expect_eq(count_lines_with(view, "SELECT name FROM items WHERE id = ? ran 8 times in a row"),
		     2, "one N+1 finding per /catalog request:\n%s", view);
	cr_expect_eq(count_lines_with(view, "~ N+1 ["), 2, "%s", view);
	cr_expect_eq(count_lines_with(view, "~ parallel"), 0, "%s", view);
	cr_expect_eq(count_lines_with(view, "dominant"), 0, "%s", view);
	cr_expect_eq(count_lines_with(view, "~ error ["), 1, "%s", view);
	cr_expect(strstr(view, "~ error [") && strstr(strstr(view, "~ error ["),
		  "SELECT orders (backend) failed: relation \"orders\" does not exist"),
		  "the deepest failure first:\n%s", view);
	cr_expect(strstr(view, "error: relation \"orders\" does not exist"), "%s", view);
	cr_expect(strstr(view, "error: HTTP 502\n"), "%s", view);
	cr_expect(!strstr(view, "(no message)"), "%s", view);
	cr_expect(strstr(view, "client: GET /checkout  127.0.0.1:"), "%s", view);
	cr_expect(strstr(view, "-> 502"), "%s", view);
	cr_expect(strstr(view, "\n!"), "error marks:\n%s", view);
	/* the whole script is one trace, under the command's root span */
	cr_expect(strstr(view, "\ntrace ") && !strstr(strstr(view, "\ntrace ") + 1,
						      "\ntrace "),
		  "one trace:\n%s", view);
	cr_expect(strstr(view, "sh: sh "), "the root:\n%s", view);
	free(view);
}

/* `autotrace --ui -- cmd`: the dashboard on --ui-port while the command
 * runs and after it, until SIGTERM/SIGINT; its API lists the command's
 * trace (the root span and the curl request under it); autotrace then
 * exits with the command's status. */
Test(autotrace, ui_run_mode_serves_until_stopped, .timeout = 90)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), st;
	char port[8], cmd[512], log[] = "/tmp/at-ui-XXXXXX", *o, *id;

	cr_assert_geq(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (void *)&sa, sizeof(sa)), 0);
	getsockname(fd, (void *)&sa, &l);
	snprintf(port, sizeof(port), "%u", ntohs(sa.sin_port));
	close(fd);
	cr_assert_geq(mkstemp(log), 0);
	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null http://127.0.0.1:%s/api/endpoints",
		 port);
	const char *a[] = { h_build_path("autotrace"), "--ui", "--ui-port", port,
			    "--quiet", "--", "sh", "-c", cmd, NULL };
	pid_t pid = h_start(a, NULL, false, log);

	cr_assert_gt(pid, 0);
	cr_assert_eq(h_wait_file_has(log, "the dashboard is at http://127.0.0.1:", 30000),
		     0, "no URL after the command");
	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%s/api/traces", port);
	o = h_shell(cmd, &st);
	cr_assert(o && st == 0);
	cr_expect(strstr(o, "\"matched\":1,"), "one trace: %s", o);
	cr_expect(strstr(o, "\"service\":\"\"") || strstr(o, "\"op\":\"sh"),
		  "the command's root: %s", o);
	id = strstr(o, "\"id\":\"");
	cr_assert_not_null(id, "%s", o);
	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%s/api/traces/%.32s",
		 port, id + 6);
	free(o);
	o = h_shell(cmd, &st);
	cr_assert(o && st == 0);
	cr_expect(strstr(o, "\"op\":\"GET /api/endpoints\""),
		  "curl's request in the command's trace: %s", o);
	free(o);
	cr_expect_eq(h_stop(pid, 10000), 0, "the command's status");
	unlink(log);
}

/* The browser tests' needs: node, playwright-core (scripts/setup-browser-
 * test.sh) and /usr/bin/chromium; the directory of playwright-core, or
 * NULL after cr_skip. */
static const char *browser_dir(void)
{
	const char *bdir = getenv("AT_BROWSER_DIR");
	char mods[600];

	if (!bdir || !*bdir)
		bdir = h_build_path("browser");
	snprintf(mods, sizeof(mods), "%s/node_modules/playwright-core/package.json",
		 bdir);
	if (access(mods, R_OK) != 0 || access("/usr/bin/chromium", X_OK) != 0 ||
	    system("command -v node >/dev/null 2>&1") != 0) {
		cr_skip("browser test skipped: needs node, %s and "
			"/usr/bin/chromium (scripts/setup-browser-test.sh)", mods);
		return NULL;
	}
	return bdir;
}

/* A fresh database db on the test cluster with an items table of `items`
 * rows (the demo backend's). */
static void demo_db(const char *pg, const char *port, const char *db,
		    int items)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd),
		 "PGOPTIONS=-cclient_min_messages=warning "
		 "psql -X -q -h %s -p %s -U postgres -d autotrace "
		 "-c 'DROP DATABASE IF EXISTS %s' -c 'CREATE DATABASE %s' && "
		 "psql -X -q -h %s -p %s -U postgres -d %s -c "
		 "\"CREATE TABLE items (id int PRIMARY KEY, name text); "
		 "INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, %d) i\" 2>&1",
		 pg, port, db, db, pg, port, db, items);
	char *o = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "%s", o);
	free(o);
}

/* The live dashboard in a headless Chromium (tests/browser/
 * dashboard.test.js) against `autotrace serve` fed by the demo system
 * (frontend -> backend -> PostgreSQL, Redis as the backend's cache): the
 * list grows as requests are made, filters narrow it, the service map,
 * a waterfall, the span panel, the cause chain, compare, the endpoints,
 * cache and database views; screenshots in the build directory
 * (dashboard-*.png). */
/* Run tests/browser/SCRIPT against a fresh database db with `items`
 * rows; its output (malloc'd), NULL after cr_skip. */
static char *run_browser_test(const char *script, const char *db, int items,
			      const char *args)
{
	const char *pg = getenv("AT_PG_DIR"), *port = getenv("AT_PG_PORT");
	const char *bdir;
	char cmd[2048];
	int st;

	cr_assert(pg && port, "no PostgreSQL test cluster");
	if (!(bdir = browser_dir()))
		return NULL;
	demo_db(pg, port, db, items);
	snprintf(cmd, sizeof(cmd),
		 "AT_BROWSER_DIR='%s' node tests/browser/%s --build '%s' "
		 "--dsn 'host=%s port=%s user=postgres dbname=%s' %s --out '%s' 2>&1",
		 bdir, script, h_build_path(""), pg, port, db, args,
		 h_build_path(""));
	char *o = h_shell(cmd, &st);
	cr_expect_eq(st, 0, "%s", o);
	return o;
}

Test(autotrace, dashboard_in_browser, .timeout = 240)
{
	const char *redis = getenv("AT_REDIS_PORT");
	char args[64] = "";

	if (redis)
		snprintf(args, sizeof(args), "--redis-port %s", redis);
	char *o = run_browser_test("dashboard.test.js", "t_dash", 8, args);
	if (!o)
		return;
	cr_expect(strstr(o, "dashboard: ") && strstr(o, " 0 failed"), "%s", o);
	cr_expect(strstr(o, "ok   service map: frontend -> backend -> postgresql"),
		  "%s", o);
	if (redis)
		cr_expect(strstr(o, "ok   cache view: item:? with a hit and a miss"),
			  "%s", o);
	free(o);
}

/* The Compare tab (tests/browser/diff.test.js): a baseline marked on the
 * page, then a change (the demo's /catalog becomes an N+1 as items grow
 * from 1 to 8) and a new failing endpoint; the worse row, the N+1 and the
 * error that appeared are shown; serve --baseline FILE answers /api/diff
 * from the file.  Screenshot: build/dashboard-diff.png. */
Test(autotrace, diff_in_browser, .timeout = 240)
{
	char *o = run_browser_test("diff.test.js", "t_diffui", 1, "--psql psql");

	if (!o)
		return;
	cr_expect(strstr(o, "diff: ") && strstr(o, " 0 failed"), "%s", o);
	cr_expect(strstr(o, "ok   the Compare tab marks backend GET /items worse"),
		  "%s", o);
	free(o);
}

/* ---- the receiver against other local programs ---- */

#define IDLE_CONNS 600
#define TABLE 512 /* the receiver's connection table */

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "connect: %s", strerror(errno));
	return fd;
}

static long ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Has the peer closed fd (EOF or reset within timeout_ms)? */
static bool peer_closed(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char tmp[4096];
	ssize_t got;

	while (poll(&p, 1, timeout_ms) > 0) {
		got = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno == ECONNRESET))
			return true;
		if (got < 0 && errno != EAGAIN)
			return false;
	}
	return false;
}

/* Wait until at least n of fds[] were closed by the peer. */
static size_t wait_closed(const int *fds, size_t count, size_t n,
			  int timeout_ms)
{
	bool *seen = calloc(count, sizeof(*seen));
	long end = ms_now() + timeout_ms;
	size_t closed = 0;

	cr_assert_not_null(seen);
	while (closed < n && ms_now() < end) {
		for (size_t i = 0; i < count; i++)
			if (!seen[i] && peer_closed(fds[i], 0)) {
				seen[i] = true;
				closed++;
			}
		if (closed < n)
			poll(NULL, 0, 20);
	}
	free(seen);
	return closed;
}

/* A kB figure of /proc/PID/status ("VmRSS", "VmHWM"), or -1. */
static long proc_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) &&
		    line[strlen(key)] == ':')
			kb = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* `autotrace serve` on a free port, its output in a temp file. */
struct serve {
	pid_t pid;
	uint16_t port;
	char log[32];
	char ep[64];
};

/* save_dir: serve's --save-dir, or NULL. */
static void serve_start_with(struct serve *sv, const char *limits,
			     const char *save_dir)
{
	char port[8], env_limits[128];
	const char *env[] = { env_limits, NULL };

	sv->port = h_closed_port();
	snprintf(port, sizeof(port), "%u", sv->port);
	snprintf(sv->log, sizeof(sv->log), "/tmp/at-serve-XXXXXX");
	close(mkstemp(sv->log));
	snprintf(env_limits, sizeof(env_limits),
		 "AUTOTRACE_RECEIVER_LIMITS=%s", limits ? limits : "");
	const char *argv[] = { h_build_path("autotrace"), "serve", "--port",
			       port, save_dir ? "--save-dir" : NULL, save_dir,
			       NULL };
	sv->pid = h_start(argv, env, false, sv->log);
	cr_assert_gt(sv->pid, 0);
	cr_assert_eq(h_wait_port(sv->port, 10000), 0, "serve did not listen");
	snprintf(sv->ep, sizeof(sv->ep),
		 "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u", sv->port);
}

static void serve_start(struct serve *sv, const char *limits)
{
	serve_start_with(sv, limits, NULL);
}

static void serve_stop(struct serve *sv)
{
	cr_expect_eq(h_stop(sv->pid, 10000), 0);
	unlink(sv->log);
}

/* A traced curl exporting to serve: its span is printed by serve. */
static void traced_curl_arrives(struct serve *sv, struct h_http *http,
				const char *why)
{
	char url[64];
	const char *env[] = { sv->ep, NULL };
	struct h_result r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", h_http_port(http));
	const char *argv[] = { "curl", "-s", "-o", "/dev/null", url, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	h_result_free(&r);
	cr_expect_eq(h_wait_file_has(sv->log, "curl: GET /  127.0.0.1", 20000), 0,
		     "%s: curl's spans did not arrive", why);
	/* Printed: forget it for the next check. */
	truncate(sv->log, 0);
}

/*
 * 600 connections that send nothing do not lock exporters out of serve:
 * once the table is full the oldest idle ones make room, and a traced
 * curl's spans arrive.
 */
Test(autotrace, serve_idle_connections_do_not_lock_exporters_out,
     .timeout = 120)
{
	struct h_http *http = h_http_start();
	static int fds[IDLE_CONNS];
	struct serve sv;

	serve_start(&sv, NULL);
	for (size_t i = 0; i < IDLE_CONNS; i++)
		fds[i] = tcp_connect(sv.port);
	/* Once the receiver has taken them all, the extra ones were
	 * closed. */
	cr_assert_geq(wait_closed(fds, IDLE_CONNS, IDLE_CONNS - TABLE, 30000),
		      IDLE_CONNS - TABLE);
	traced_curl_arrives(&sv, http, "with 600 idle connections");
	for (size_t i = 0; i < IDLE_CONNS; i++)
		close(fds[i]);
	serve_stop(&sv);
	h_http_stop(http);
}

/*
 * `autotrace serve --save-dir DIR` (the option of the former
 * autotrace-receiver tool): the body of each request it accepted is in
 * DIR/req-000001.pb..., an ExportTraceServiceRequest holding the span
 * serve printed.
 */
static void find_get(const at_otlp_span *span,
		     const at_otlp_resource *resource,
		     const at_otlp_scope *scope, void *ud)
{
	const at_otlp_span **found = ud;

	(void)resource;
	(void)scope;
	if (!*found && !strcmp(span->name, "GET"))
		*found = span;
}

Test(autotrace, serve_save_dir_keeps_request_bodies, .timeout = 120)
{
	struct h_http *http = h_http_start();
	char dir[] = "/tmp/at-save-XXXXXX", path[64];
	at_otlp_request *req;
	const at_otlp_span *sp = NULL;
	struct serve sv;
	uint8_t *body;
	size_t len;

	cr_assert_not_null(mkdtemp(dir));
	serve_start_with(&sv, NULL, dir);
	traced_curl_arrives(&sv, http, "with --save-dir");
	serve_stop(&sv);
	h_http_stop(http);
	snprintf(path, sizeof(path), "%s/req-000001.pb", dir);
	body = (uint8_t *)h_read_file(path, &len);
	cr_assert_not_null(body, "%s was not written", path);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, body);
	cr_assert_not_null(req, "%s is no ExportTraceServiceRequest", path);
	at_receiver_each_span(req, find_get, &sp);
	cr_expect_not_null(sp, "no GET span in %s", path);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	free(body);
	unlink(path);
	rmdir(dir);
}

/* The same for the receiver of `autotrace -- cmd`: the command itself
 * opens the 600 connections, then runs curl. */
Test(autotrace, run_idle_connections_do_not_lock_exporters_out,
     .timeout = 120)
{
	static const char script[] =
		"import os, select, socket, subprocess, sys, time\n"
		"port = int(os.environ['OTEL_EXPORTER_OTLP_ENDPOINT'].rsplit(':', 1)[1])\n"
		"socks = [socket.create_connection(('127.0.0.1', port)) for _ in range(600)]\n"
		"p = select.poll()\n"
		"for s in socks: p.register(s, select.POLLIN)\n"
		"closed, end = set(), time.monotonic() + 30\n"
		"while len(closed) < 600 - 512 and time.monotonic() < end:\n"
		"    for fd, ev in p.poll(100):\n"
		"        closed.add(fd); p.unregister(fd)\n"
		"print('table full:', len(closed) >= 600 - 512, flush=True)\n"
		"subprocess.run(['curl', '-s', '-o', '/dev/null', sys.argv[1]], check=True)\n";
	struct h_http *http = h_http_start();
	char url[64], out[] = "/tmp/at-idle-XXXXXX";

	close(mkstemp(out));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", h_http_port(http));
	const char *a[] = { "-o", out, "--", "python3", "-c", script, url,
			    NULL };
	struct h_result r = at_run(a);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect_str_eq(r.out, "table full: True\n");
	char *view = h_read_file(out, NULL);
	cr_assert_not_null(view);
	cr_expect(strstr(view, "curl: GET /  127.0.0.1"),
		  "curl's spans did not arrive:\n%s", view);
	free(view);
	unlink(out);
	h_result_free(&r);
	h_http_stop(http);
}

/*
 * 16 connections each announce a 60 MiB body and send 40 MiB of it: the
 * receiver holds at most its 128 MiB budget of them (two; the others get
 * 503), so serve's peak RSS stays under baseline + 128 MiB (+ slack);
 * exporters with small requests still get through meanwhile, and the
 * memory is given back when the bodies go.
 */
Test(autotrace, serve_memory_for_bodies_is_bounded, .timeout = 180)
{
	enum { CONNS = 16 };
	const size_t clen = (size_t)60 << 20, part = (size_t)40 << 20;
	const long budget_kb = 128 * 1024, slack_kb = 32 * 1024;
	struct h_http *http = h_http_start();
	static char chunk[1 << 20];
	int fds[CONNS], refused = 0, open_n = CONNS;
	size_t sent[CONNS] = { 0 };
	bool done[CONNS] = { false };
	long base, hwm, end;
	struct serve sv;
	char head[256];

	serve_start(&sv, NULL);
	base = proc_kb(sv.pid, "VmRSS");
	cr_assert_gt(base, 0);
	snprintf(head, sizeof(head),
		 "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Content-Type: application/x-protobuf\r\n"
		 "Content-Length: %zu\r\n\r\n", clen);
	for (int i = 0; i < CONNS; i++) {
		fds[i] = tcp_connect(sv.port);
		cr_assert_eq(send(fds[i], head, strlen(head), MSG_NOSIGNAL),
			     (ssize_t)strlen(head));
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
	}
	/* Send round-robin until each has sent its part or was answered
	 * (a 503: its head was refused). */
	end = ms_now() + 60000;
	while (open_n && ms_now() < end) {
		struct pollfd p[CONNS];
		int np = 0;

		for (int i = 0; i < CONNS; i++) {
			struct pollfd rp = { .fd = fds[i], .events = POLLIN };
			ssize_t w;

			if (done[i])
				continue;
			if (poll(&rp, 1, 0) > 0) {
				char ans[512] = "";

				recv(fds[i], ans, sizeof(ans) - 1, 0);
				cr_expect(!strncmp(ans, "HTTP/1.1 503 ", 13) &&
					  strstr(ans, "\r\nRetry-After: 1\r\n"),
					  "answer: %s", ans);
				refused++;
				done[i] = true;
				open_n--;
				continue;
			}
			w = send(fds[i], chunk, part - sent[i] < sizeof(chunk) ?
				 part - sent[i] : sizeof(chunk),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent[i] += (size_t)w;
			if (sent[i] == part) {
				done[i] = true;
				open_n--;
			} else {
				p[np++] = (struct pollfd){ fds[i],
							   POLLIN | POLLOUT, 0 };
			}
		}
		if (np)
			poll(p, (nfds_t)np, 100);
	}
	cr_assert_eq(open_n, 0, "the bodies were not taken in time");
	cr_expect_eq(refused, CONNS - 2, "two 60 MiB bodies fit in 128 MiB");
	/* The receiver reads what the two kept connections sent. */
	end = ms_now() + 20000;
	while (proc_kb(sv.pid, "VmRSS") < base + 2 * (long)(part >> 10) -
	       8 * 1024 && ms_now() < end)
		poll(NULL, 0, 20);
	hwm = proc_kb(sv.pid, "VmHWM");
	cr_expect_lt(hwm, base + budget_kb + slack_kb,
		     "peak RSS %ld kB, baseline %ld kB", hwm, base);

	/* Meanwhile a small export still gets through. */
	traced_curl_arrives(&sv, http, "with the body budget taken");

	/* The bodies go: the memory is given back. */
	for (int i = 0; i < CONNS; i++)
		close(fds[i]);
	end = ms_now() + 20000;
	while (proc_kb(sv.pid, "VmRSS") > base + slack_kb && ms_now() < end)
		poll(NULL, 0, 20);
	cr_expect_leq(proc_kb(sv.pid, "VmRSS"), base + slack_kb);
	serve_stop(&sv);
	h_http_stop(http);
}

/* Slow requests and idle connections time out in serve (short limits
 * through AUTOTRACE_RECEIVER_LIMITS): a head dribbled a byte each 50 ms
 * gets 408 and is closed, a silent connection is closed. */
Test(autotrace, serve_times_out_slow_and_idle_connections, .timeout = 60)
{
	static const char dribble[] = "POST /v1/traces HTTP/1.1\r\nX-Slow: abc";
	struct serve sv;
	char ans[512] = "";
	int slow, quiet;
	long end;

	serve_start(&sv, "head=500,idle=500");
	quiet = tcp_connect(sv.port);
	slow = tcp_connect(sv.port);
	end = ms_now() + 15000;
	for (size_t i = 0; ms_now() < end; i = (i + 1) % (sizeof(dribble) - 1)) {
		struct pollfd p = { .fd = slow, .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			break;
		if (send(slow, dribble + i, 1, MSG_NOSIGNAL) != 1)
			break;
	}
	cr_assert_lt(ms_now(), end, "the dribbled head is kept");
	cr_assert_gt(recv(slow, ans, sizeof(ans) - 1, 0), 0);
	cr_expect(!strncmp(ans, "HTTP/1.1 408 ", 13), "%s", ans);
	cr_expect(peer_closed(slow, 10000));
	cr_expect(peer_closed(quiet, 10000), "a silent connection stays");
	close(slow);
	close(quiet);
	serve_stop(&sv);
}

/* A program that exports without ever pausing a second does not make
 * serve store without end: it prints (and forgets) what waited 10 s. */
Test(autotrace, serve_prints_while_spans_keep_coming, .timeout = 90)
{
	static const char script[] =
		"import sys, time, urllib.request\n"
		"end = time.monotonic() + 60\n"
		"while time.monotonic() < end:\n"
		"    urllib.request.urlopen(sys.argv[1]).read()\n"
		"    time.sleep(0.02)\n";
	struct h_http *http = h_http_start();
	struct serve sv;
	char url[64];
	pid_t py;

	serve_start(&sv, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", h_http_port(http));
	const char *env[] = { sv.ep, "OTEL_BSP_SCHEDULE_DELAY=100", NULL };
	const char *argv[] = { "python3", "-c", script, url, NULL };
	py = h_start(argv, env, true, NULL);
	cr_assert_gt(py, 0);
	cr_expect_eq(h_wait_file_has(sv.log, ": GET /  127.0.0.1", 40000), 0,
		     "nothing printed while spans keep coming");
	cr_expect_eq(kill(py, 0), 0, "the program was still sending");
	h_stop(py, 10000);
	serve_stop(&sv);
	h_http_stop(http);
}

/* `autotrace diff`: two --json files of the same script, the second with
 * an extra endpoint and an error: the new endpoint and the new error are
 * reported, exit status 1 (worse); a file against itself: nothing, 0. */
Test(autotrace, diff_reports_what_changed, .timeout = 120)
{
	struct h_http *http = h_http_start();
	char cmd[256], before[] = "/tmp/at-before-XXXXXX",
		       after[] = "/tmp/at-after-XXXXXX";
	struct h_result r;

	close(mkstemp(before));
	close(mkstemp(after));
	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null http://127.0.0.1:%u/a",
		 h_http_port(http));
	const char *a[] = { "--no-root", "--json", before, "-o", "/dev/null",
			    "--", "sh", "-c", cmd, NULL };
	r = at_run(a);
	cr_expect_eq(r.status, 0, "%s", r.err);
	h_result_free(&r);
	snprintf(cmd, sizeof(cmd), "curl -s -o /dev/null http://127.0.0.1:%u/a; "
		 "curl -s -o /dev/null http://127.0.0.1:%u/b/42; "
		 "curl -s -o /dev/null http://127.0.0.1:1/down; true",
		 h_http_port(http), h_http_port(http));
	const char *b[] = { "--no-root", "--json", after, "-o", "/dev/null",
			    "--", "sh", "-c", cmd, NULL };
	r = at_run(b);
	cr_expect_eq(r.status, 0, "%s", r.err);
	h_result_free(&r);
	const char *d[] = { "diff", before, after, NULL };
	r = at_run(d);
	cr_expect_eq(r.status, 1, "something got worse: %s%s", r.out, r.err);
	cr_expect(strstr(r.out, "curl GET /a: 1 -> 1, p50 "), "%s", r.out);
	cr_expect(strstr(r.out, "\n+ unknown_service:curl GET /b/{id}: new, 1 "
			 "requests"), "%s", r.out);
	cr_expect(strstr(r.out, "\n! new error: unknown_service:curl GET /down: "
			 "connect failed: Connection refused (1 time)"), "%s",
		  r.out);
	h_result_free(&r);
	const char *same[] = { "diff", after, after, NULL };
	r = at_run(same);
	cr_expect_eq(r.status, 0, "%s", r.out);
	cr_expect(!strstr(r.out, "\n!") && !strstr(r.out, "\n+"), "%s", r.out);
	h_result_free(&r);
	unlink(before);
	unlink(after);
	h_http_stop(http);
}

/*
 * serve assembles a trace whose pieces are exported seconds apart: curl
 * exports its client span as it exits, the traced server its span on its
 * 3 s schedule.  The trace is printed once, whole (the server span under
 * curl's), not in two pieces.
 */
Test(autotrace, serve_prints_a_trace_exported_in_pieces_once, .timeout = 120)
{
	struct serve sv;
	char port[8], url[64], *log;
	uint16_t p = h_closed_port();
	pid_t srv;
	struct h_result r;

	serve_start(&sv, NULL);
	snprintf(port, sizeof(port), "%u", p);
	const char *senv[] = { sv.ep, "OTEL_BSP_SCHEDULE_DELAY=3000",
			       "OTEL_SERVICE_NAME=slowsvc", NULL };
	const char *sargv[] = { "/usr/bin/python3", "-m", "http.server", port,
				"--bind", "127.0.0.1", NULL };
	srv = h_start(sargv, senv, true, "/dev/null");
	cr_assert_gt(srv, 0);
	cr_assert_eq(h_wait_port(p, 30000), 0, "the server did not listen");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", p);
	const char *cenv[] = { sv.ep, "OTEL_SERVICE_NAME=cli", NULL };
	const char *cargv[] = { "curl", "-s", "-o", "/dev/null", url, NULL };
	cr_assert_eq(h_run(cargv, cenv, true, RUN_MS, &r), 0);
	cr_expect_eq(r.status, 0, "%s", r.err);
	h_result_free(&r);
	cr_expect_eq(h_wait_file_has(sv.log, "slowsvc: GET /", 60000), 0,
		     "the server's span was not printed");
	h_stop(srv, 10000);
	log = h_read_file(sv.log, NULL);
	serve_stop(&sv);
	cr_assert_not_null(log);
	cr_expect_eq(count_lines_with(log, "\ntrace "), 1, "one trace:\n%s", log);
	cr_expect(strstr(log, "cli GET / -> 200"), "curl's span is the root:\n%s",
		  log);
	cr_expect(!strstr(log, "(an addition"), "no addition:\n%s", log);
	cr_expect(!strstr(log, "never arrived"), "%s", log);
	cr_expect(!strstr(log, "\n  slowsvc:") && !strstr(log, "\n* slowsvc:"),
		  "the server span is not a root:\n%s", log);
	free(log);
}
