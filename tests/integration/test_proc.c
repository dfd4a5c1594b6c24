/*
 * Integration tests of process trees: a real Python HTTP server (preloaded)
 * whose request handler starts children with subprocess (vfork + execve),
 * os.posix_spawn and a clean environment.  The children are real programs
 * (sh, curl, env); the spans of every process go to one receiver, and the
 * test checks they form one trace by decoding them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 30000
#define WAIT_MS 10000

/*
 * The server answers one GET, during which it runs argv[2] (a Python
 * expression producing the child's output as bytes) and returns that
 * output as the body; the main thread requests it and prints the body.
 */
static const char server_py[] =
	"import http.server, threading, urllib.request, subprocess, os, sys\n"
	"PORT = sys.argv[1]\n"
	"ENDPOINT = os.environ.get('OTEL_EXPORTER_OTLP_ENDPOINT', '')\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    protocol_version = 'HTTP/1.1'\n"
	"    def log_message(self, *a): pass\n"
	"    def do_GET(self):\n"
	"        body = eval(sys.argv[2])\n"
	"        self.send_response(200)\n"
	"        self.send_header('Content-Length', str(len(body)))\n"
	"        self.end_headers(); self.wfile.write(body)\n"
	"s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"def go():\n"
	"    u = 'http://127.0.0.1:%d/job' % s.server_port\n"
	"    sys.stdout.write(urllib.request.urlopen(u).read().decode())\n"
	"    s.shutdown()\n"
	"threading.Thread(target=go).start()\n"
	"s.serve_forever()\n";

static int run_server(struct h_env *e, const char *expr, const char *extra,
		      struct h_result *res)
{
	const char *argv[] = { "python3", "-c", server_py, e->port, expr,
			       NULL };
	const char *env[] = { e->ep, extra, NULL };

	return h_run(argv, env, true, RUN_MS, res);
}

/* The value of NAME= in an `env` listing, or "" (static buffer). */
static const char *env_value(const char *listing, const char *name)
{
	static char buf[1024];
	size_t nl = strlen(name);

	buf[0] = '\0';
	for (const char *p = listing; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
			snprintf(buf, sizeof(buf), "%.*s", (int)(len - nl - 1),
				 p + nl + 1);
			break;
		}
		p = end ? end + 1 : NULL;
	}
	return buf;
}

static const char *span_tp(const at_otlp_span *s)
{
	static char buf[64];
	char trace[33];

	snprintf(trace, sizeof(trace), "%s", h_hex(s->trace_id.data, 16));
	snprintf(buf, sizeof(buf), "00-%s-%s-", trace,
		 h_hex(s->span_id.data, 8));
	return buf;
}

static int same_trace(const at_otlp_span *a, const at_otlp_span *b)
{
	return a->trace_id.len == 16 && b->trace_id.len == 16 &&
	       !memcmp(a->trace_id.data, b->trace_id.data, 16);
}

static int child_of(const at_otlp_span *c, const at_otlp_span *p)
{
	return same_trace(c, p) && c->parent_span_id.len == 8 &&
	       !memcmp(c->parent_span_id.data, p->span_id.data, 8);
}

/*
 * subprocess.run with a clean environment (no LD_PRELOAD, no TRACEPARENT):
 * the child still gets TRACEPARENT for the handler's server span and the
 * library in LD_PRELOAD, so the curl it runs continues the same trace.
 * The caller's own environment is unchanged.
 */
Test(programs, exec_child_continues_the_trace, .timeout = 120)
{
	struct h_env e;
	struct h_result res;
	struct at_rx_span *spans;
	char expr[1024];

	const char *pg_dir = getenv("AT_PG_DIR"), *pg_port = getenv("AT_PG_PORT");
	cr_assert(pg_dir && pg_port, "run by scripts/run-integration.sh");
	cr_assert_eq(h_env_start(&e), 0);
	snprintf(expr, sizeof(expr),
		 "subprocess.run(['sh', '-c', 'curl -sS -o /dev/null "
		 "http://127.0.0.1:%s/child; psql -X -q -h %s -p %s -U postgres "
		 "-d postgres -c \\'select 1\\' >/dev/null; env'], "
		 "capture_output=True, "
		 "env={'PATH': os.environ['PATH'], "
		 "'OTEL_EXPORTER_OTLP_ENDPOINT': ENDPOINT, "
		 "'OTEL_SERVICE_NAME': 'child'}).stdout + "
		 "b'PARENT_TP=' + os.environ.get('TRACEPARENT', 'none')"
		 ".encode() + b'\\n' + b'PARENT_PRELOAD_HAS_LIB=' + "
		 "str('libautotrace' in os.environ.get('LD_PRELOAD', ''))"
		 ".encode() + b'\\n'",
		 e.port, pg_dir, pg_port);
	cr_assert_eq(run_server(&e, expr, NULL, &res), 0);
	cr_assert_eq(res.status, 0, "stderr: %s", res.err);

	size_t n = h_spans(e.rx, 5, WAIT_MS, &spans);
	const at_otlp_span *server = NULL, *child_get = NULL, *query = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *svc = h_res_str(spans[i].resource, "service.name");
		const at_otlp_span *s = spans[i].span;
		if (s->kind == 2 && !strcmp(s->name, "GET"))
			server = s;
		if (s->kind == 3 && svc && !strcmp(svc, "child") &&
		    !strcmp(s->name, "GET"))
			child_get = s;
		if (svc && !strcmp(svc, "child") &&
		    h_attr_str(s, "db.system.name"))
			query = h_attr_str(s, "db.query.text") ? s : query;
	}
	cr_assert(server, "the handler's server span");
	cr_assert(child_get, "curl in the child exported its client span "
		  "(LD_PRELOAD kept): %zu spans", n);

	const char *tp = env_value(res.out, "TRACEPARENT");
	cr_expect(!strncmp(tp, span_tp(server), strlen(span_tp(server))),
		  "child's TRACEPARENT %s is the server span %s", tp,
		  span_tp(server));
	cr_expect(strstr(env_value(res.out, "LD_PRELOAD"), "libautotrace"),
		  "LD_PRELOAD kept in the child: %s", res.out);
	cr_expect(child_of(child_get, server),
		  "curl's request is a child of the server span");
	cr_assert(query, "psql in the child exported its statement");
	cr_expect(child_of(query, server),
		  "psql's statement is a child of the server span");
	cr_expect_str_eq(env_value(res.out, "PARENT_TP"), "none",
			 "the caller's environment was not modified");
	cr_expect_str_eq(env_value(res.out, "PARENT_PRELOAD_HAS_LIB"),
			 "True");
	free(spans);
	h_result_free(&res);

	/* AUTOTRACE_PROPAGATE_PRELOAD=false: TRACEPARENT still goes, the
	 * library does not, so the child exports nothing. */
	at_receiver_clear(e.rx);
	cr_assert_eq(run_server(&e, expr, "AUTOTRACE_PROPAGATE_PRELOAD=false",
				&res), 0);
	cr_assert_eq(res.status, 0, "stderr: %s", res.err);
	cr_expect_str_eq(env_value(res.out, "LD_PRELOAD"), "");
	cr_expect(!strncmp(env_value(res.out, "TRACEPARENT"), "00-", 3),
		  "TRACEPARENT still set: %s", res.out);
	n = h_spans(e.rx, 3, WAIT_MS, &spans);
	for (size_t i = 0; i < n; i++) {
		const char *svc = h_res_str(spans[i].resource, "service.name");
		cr_expect(!svc || strcmp(svc, "child"),
			  "no span from the unpreloaded child");
	}
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

/*
 * os.posix_spawn under a span: a span for the child's life, ended when it
 * is reaped, with its executable name and exit code; non-zero is an error.
 * The child's own TRACEPARENT points at that process span.
 */
Test(programs, posix_spawn_child_has_a_process_span, .timeout = 120)
{
	struct h_env e;
	struct h_result res;
	struct at_rx_span *spans;
	const char *expr =
		"(lambda r, w: (os.posix_spawn('/bin/sh', ['sh', '-c', "
		"'echo TRACEPARENT=$TRACEPARENT; exit 3'], dict(os.environ), "
		"file_actions=[(os.POSIX_SPAWN_DUP2, w, 1)]), "
		"os.close(w), "
		"os.read(r, 4096), os.wait())[2])(*os.pipe())";

	cr_assert_eq(h_env_start(&e), 0);
	cr_assert_eq(run_server(&e, expr, NULL, &res), 0);
	cr_assert_eq(res.status, 0, "stderr: %s", res.err);

	size_t n = h_spans(e.rx, 4, WAIT_MS, &spans);
	const at_otlp_span *server = NULL, *proc = NULL;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		if (s->kind == 2 && !strcmp(s->name, "GET"))
			server = s;
		if (h_attr_str(s, "process.executable.name"))
			proc = s;
	}
	cr_assert(server);
	cr_assert(proc, "a process span among %zu spans", n);
	cr_expect_str_eq(h_attr_str(proc, "process.executable.name"), "sh");
	cr_expect_eq(h_attr_int(proc, "process.exit.code", -1), 3);
	cr_expect_eq(proc->status ? proc->status->code : 0, 2,
		     "non-zero exit is an error");
	cr_expect(child_of(proc, server));
	const char *tp = env_value(res.out, "TRACEPARENT");
	cr_expect(!strncmp(tp, span_tp(proc), strlen(span_tp(proc))),
		  "the child's TRACEPARENT %s is its process span %s", tp,
		  span_tp(proc));
	free(spans);
	h_result_free(&res);

	/* AUTOTRACE_PROCESS_SPANS=false: no process span, and the child's
	 * TRACEPARENT is the server span. */
	at_receiver_clear(e.rx);
	cr_assert_eq(run_server(&e, expr, "AUTOTRACE_PROCESS_SPANS=false",
				&res), 0);
	n = h_spans(e.rx, 3, WAIT_MS, &spans);
	server = NULL;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		cr_expect(!h_attr_str(s, "process.executable.name"));
		if (s->kind == 2 && !strcmp(s->name, "GET"))
			server = s;
	}
	cr_assert(server);
	tp = env_value(res.out, "TRACEPARENT");
	cr_expect(!strncmp(tp, span_tp(server), strlen(span_tp(server))),
		  "TRACEPARENT %s is the server span %s", tp,
		  span_tp(server));
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

/* stdout minus the LD_PRELOAD line the library adds to a child's
 * environment (malloc'd). */
static char *without_preload_line(const char *out)
{
	char *copy = strdup(out), *w = copy;

	for (const char *p = out; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
		if (strncmp(p, "LD_PRELOAD=", 11)) {
			memcpy(w, p, len);
			w += len;
		}
		p += len;
	}
	*w = '\0';
	return copy;
}

/*
 * Every exec form passes the same argv and environment as without the
 * library (variadic lists included), plus only LD_PRELOAD; with no span
 * active, a TRACEPARENT in the passed environment arrives unchanged; a
 * failing exec fails the same way.
 */
Test(proc, exec_forms_pass_argv_and_environment, .timeout = 120)
{
	static const char *const forms[] = {
		"execl", "execlp", "execle", "execv", "execvp", "execvpe",
		"execve", "fexecve", "posix_spawnp", "missing"
	};
	const char *env[] = { "OTEL_TRACES_EXPORTER=none", NULL };

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const char *argv[] = { h_build_path("fixtures/exec_forms"),
				       forms[i], NULL };
		struct h_result bare, traced;

		cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
		cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
		cr_expect_eq(traced.status, bare.status, "%s: exit %d vs %d",
			     forms[i], traced.status, bare.status);
		char *t = without_preload_line(traced.out);
		cr_expect_str_eq(t, bare.out, "%s: child output differs",
				 forms[i]);
		cr_expect_str_eq(traced.err, bare.err, "%s", forms[i]);
		if (strstr(bare.out, "FOO=")) {
			cr_expect(strstr(traced.out, "\nLD_PRELOAD=") &&
					  strstr(traced.out, "libautotrace"),
				  "%s: the library kept in the child: %s",
				  forms[i], traced.out);
			cr_expect(strstr(t, "TRACEPARENT=00-0af7651916cd43dd"
					    "8448eb211c80319c-b7ad6b7169203331"
					    "-01\n"),
				  "%s: the given TRACEPARENT kept", forms[i]);
		}
		free(t);
		h_result_free(&bare);
		h_result_free(&traced);
	}
}

/* Runs the daemon fixture; returns its result line (malloc'd) or NULL.
 * With a receiver, waits for the first connect span before letting the
 * grandchild close every descriptor. */
static char *run_daemon(struct h_env *e, bool preload, const char *dir)
{
	char go[512], result[512];
	const char *env[] = { e->ep, "OTEL_BSP_SCHEDULE_DELAY=20", NULL };
	struct at_rx_span *spans;

	snprintf(go, sizeof(go), "%s/go", dir);
	snprintf(result, sizeof(result), "%s/result", dir);
	unlink(go);
	unlink(result);
	if (!preload)
		fclose(fopen(go, "w"));
	const char *argv[] = { h_build_path("fixtures/daemon"), e->port, go,
			       result, NULL };
	pid_t pid = h_start(argv, env, preload, NULL);
	cr_assert_gt(pid, 0);
	cr_assert_eq(h_wait_exit(pid, RUN_MS), 0);
	if (preload) {
		cr_assert_eq(h_spans(e->rx, 1, WAIT_MS, &spans), 1,
			     "the first connect exported before the closing");
		free(spans);
		fclose(fopen(go, "w"));
	}
	if (h_wait_file(result, RUN_MS) != 0)
		return NULL;
	return h_read_file(result, NULL);
}

/*
 * A daemon that forks twice, closes descriptors 3..65535 one by one and
 * then close_range()s them: it sees exactly the results it sees without
 * the library (the library's socket to the collector does not exist for
 * it), and its later spans still arrive.
 */
Test(proc, daemon_closing_every_fd_keeps_exporting, .timeout = 120)
{
	struct h_env e;
	char dir[] = "/tmp/at-daemon-XXXXXX";
	struct at_rx_span *spans;

	cr_assert_eq(h_env_start(&e), 0);
	cr_assert(mkdtemp(dir));
	char *bare = run_daemon(&e, false, dir);
	cr_assert(bare, "the daemon ran without the library");
	cr_assert_eq(at_receiver_request_count(e.rx), 0);
	char *traced = run_daemon(&e, true, dir);
	cr_assert(traced, "the daemon ran with the library");
	cr_expect_str_eq(traced, bare, "same close results");
	cr_expect(strstr(bare, "close_range 0"), "%s", bare);

	size_t n = h_spans(e.rx, 2, WAIT_MS, &spans);
	cr_expect_eq(n, 2, "both connects exported, got %zu", n);
	for (size_t i = 0; i < n; i++) {
		cr_expect_str_eq(spans[i].span->name, "connect");
		cr_expect(!spans[i].span->status ||
			  spans[i].span->status->code == 0);
	}
	free(spans);
	free(bare);
	free(traced);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(h_shell(cmd, NULL));
	h_env_stop(&e);
}
