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

/* out minus its lines that contain needle (malloc'd): what the library
 * adds to a child's environment (LD_PRELOAD=, TRACEPARENT=). */
static char *without_lines(const char *out, const char *needle)
{
	char *copy = strdup(out), *w = copy;

	for (const char *p = out; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
		const char *hit = strstr(p, needle);
		if (!hit || hit >= p + len) {
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
		char *t = without_lines(traced.out, "LD_PRELOAD=");
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
 * grandchild close every descriptor - while the collector holds its
 * answer (250 ms: the closing takes a few tens of ms; the exit flush's
 * silence bound is 400 ms), so the exporter is mid-exchange on its socket
 * during the closing.  A socket published only after its exchange was
 * closed by the daemon there: one close more than bare, and the batch
 * sent again. */
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
	at_receiver_delay(e->rx, preload ? 250 : 0);
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
	cr_expect_str_eq(traced, bare, "same close results: %s bare, %s traced",
			 bare, traced);
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

/* ---- system(), popen(), vfork (fixture shell_forms) ---- */

/* Runs shell_forms SCENARIO MODE [url] with and without the library
 * (spans made and propagated, not exported); returns the traced stdout
 * (malloc'd) after checking the two runs agree except for lines with
 * TRACEPARENT=, which only the traced run may have. */
static char *shell_forms_compare(const char *scenario, const char *mode)
{
	const char *argv[] = { h_build_path("fixtures/shell_forms"), scenario,
			       mode, NULL };
	const char *env[] = { "OTEL_TRACES_EXPORTER=none",
			      "BAGGAGE=tenant=blue", NULL };
	struct h_result bare, traced;

	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_assert_eq(bare.status, 0, "%s %s: %s", scenario, mode, bare.out);
	cr_expect_eq(traced.status, bare.status, "%s %s: exit %d vs %d",
		     scenario, mode, traced.status, bare.status);
	cr_expect_str_eq(traced.err, bare.err, "%s %s", scenario, mode);
	cr_expect(!strstr(bare.out, "TRACEPARENT="), "%s", bare.out);
	char *t = without_lines(traced.out, "TRACEPARENT=");
	cr_expect_str_eq(t, bare.out, "%s %s: output differs", scenario,
			 mode);
	free(t);
	char *out = strdup(traced.out);
	h_result_free(&bare);
	h_result_free(&traced);
	return out;
}

static int has_line(const char *out, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = out; (p = strstr(p, line)); p += n)
		if ((p == out || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return 1;
	return 0;
}

#define EXPECT_LINES(out, lines)                                             \
	for (size_t i_ = 0; i_ < sizeof(lines) / sizeof(lines[0]); i_++)     \
	cr_expect(has_line(out, lines[i_]), "missing \"%s\" in:\n%s",        \
		  lines[i_], out)

/*
 * system() and popen()/pclose() under a span run the library's own
 * implementation: every result, errno, descriptor flag, child output and
 * the descriptors a popen() child inherits are what glibc gives without
 * the library; the children get TRACEPARENT (BAGGAGE as given).  With no
 * span, glibc's functions run and no child gets TRACEPARENT.
 */
Test(proc, system_and_popen_behave_as_glibc, .timeout = 120)
{
	static const char *const expected[] = {
		"system(NULL): 1 errno 0",
		"system exit 3: 768 errno 0",
		"system not found: 32512 errno 0",
		"BAGGAGE=tenant=blue",
		"system huge: 32512 errno 7",
		"popen huge: 0 errno 12",
		"popen r read: line2",
		"pclose r: 1280 errno 0",
		"WRITTEN TO THE CHILD",
		"pclose w: 0 errno 0",
		"rw: 0 errno 22",
		": 0 errno 22",
		"rb: 0 errno 22",
		"pclose(fopen): 0 errno 0",
		"fclose(popen exit 4): 1024 errno 0",
		"pclose after close: -1 errno 9",
		"exit 0: pclose to a gone reader: -1 errno 32",
		"exit 6: pclose to a gone reader: 1536 errno 32",
		"system, SIGCHLD ignored: -1 errno 10",
		"pclose, SIGCHLD ignored: -1 errno 10",
	};
	char *span = shell_forms_compare("results", "span");
	char *nospan = shell_forms_compare("results", "nospan");

	EXPECT_LINES(span, expected);
	/* The close-on-exec flag of the parent's end: only with 'e'. */
	cr_expect(strstr(span, "mode r fd ") &&
			  strstr(strstr(span, "mode r fd "),
				 "cloexec: 0 errno 0"),
		  "%s", span);
	cr_expect(strstr(strstr(span, "mode re fd "), "cloexec: 1 errno 0"),
		  "%s", span);
	cr_expect(strstr(strstr(span, "mode we fd "), "cloexec: 1 errno 0"),
		  "%s", span);
	/* Under the span: TRACEPARENT in the system() and popen() children;
	 * with none: in neither (and both outputs equal glibc's). */
	cr_expect(strstr(span, "\nTRACEPARENT=00-"), "%s", span);
	cr_expect(strstr(span, "popen r read: TRACEPARENT=00-"), "%s", span);
	cr_expect(!strstr(nospan, "TRACEPARENT="), "%s", nospan);
	/* The popen streams still open are not in a popen child's
	 * descriptors (glibc's and the library's alike). */
	int a, b;
	const char *open_line = strstr(span, "streams open: ");
	cr_assert(open_line && sscanf(open_line, "streams open: %d %d", &a,
				      &b) == 2, "%s", span);
	char fd_a[16], fd_b[16];
	snprintf(fd_a, sizeof(fd_a), " %d ", a);
	snprintf(fd_b, sizeof(fd_b), " %d ", b);
	for (const char *p = span; (p = strstr(p, " read: ")); p++) {
		const char *end = strchr(p, '\n');
		if (!strncmp(p - 4, "open", 4) || !strncmp(p - 7, "request", 7)) {
			char line[256];
			snprintf(line, sizeof(line), " %.*s ",
				 (int)(end - p - 7), p + 7);
			cr_expect(!strstr(line, fd_a) && !strstr(line, fd_b),
				  "a popen child inherited %d or %d: %s", a, b,
				  line);
		}
	}
	free(span);
	free(nospan);
}

/*
 * SIGINT sent to the process group while system() runs its shell kills
 * the shell, not the caller (the caller ignores SIGINT and SIGQUIT during
 * system(), restores them after); the shell gets the caller's mask and
 * SIGINT/SIGQUIT back to default unless they were ignored; two threads in
 * system() at once keep SIGINT ignored until the last returns, whichever
 * implementation (the library's under the span, glibc's without) runs
 * first; a caller cancelled while it waits has its shell killed and
 * reaped.  All exactly as without the library.
 */
Test(proc, system_signals_behave_as_glibc, .timeout = 120)
{
	static const char *const expected[] = {
		"kill -INT 0: killed by signal 2, SIGINT handled 0 times, "
		"SIGINT handler, SIGQUIT default",
		"SIGCHLD handled 1 times",
		"raise afterwards: status 0, SIGINT handled 1 times, SIGINT "
		"handler, SIGQUIT default",
		"SigBlk: 0000000000000200",
		"span's thread first: first, second: status 0, SIGINT handled "
		"0 times, SIGINT handler, SIGQUIT default",
		"span's thread second: second, first: status 0, SIGINT "
		"handled 0 times, SIGINT handler, SIGQUIT default",
	};
	char *span = shell_forms_compare("signals", "span");
	char *nospan = shell_forms_compare("signals", "nospan");

	EXPECT_LINES(span, expected);
	EXPECT_LINES(nospan, expected);
	/* SigIgn: SIGQUIT (bit 3) ignored in the shell only when it was
	 * ignored in the caller; SIGINT (bit 2) never. */
	const char *ign = strstr(span, "SigIgn: ");
	cr_assert(ign, "%s", span);
	unsigned long long first = strtoull(ign + 8, NULL, 16), second;
	ign = strstr(ign + 1, "SigIgn: ");
	cr_assert(ign, "%s", span);
	second = strtoull(ign + 8, NULL, 16);
	cr_expect(!(first & 0x6) && (second & 0x6) == 0x4,
		  "SigIgn %llx then %llx", first, second);
	free(span);
	free(nospan);

	/* A caller cancelled while waiting: its shell killed and reaped,
	 * SIGINT restored. */
	static const char *const after_cancel[] = {
		"shell running: 1",
		"during system: status 0, SIGINT handled 0 times, SIGINT "
		"ignored, SIGQUIT ignored",
		"cancelled: 1",
		"shell gone: 1",
		"children left: -1 errno 10",
		"after: status 0, SIGINT handled 0 times, SIGINT handler, "
		"SIGQUIT default",
	};
	span = shell_forms_compare("cancel", "span");
	nospan = shell_forms_compare("cancel", "nospan");
	EXPECT_LINES(span, after_cancel);
	EXPECT_LINES(nospan, after_cancel);
	free(span);
	free(nospan);
}

/* The TRACEPARENT the fixture printed after label, or "" (static). */
static const char *printed_tp(const char *out, const char *label)
{
	static char buf[64];
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "%s TRACEPARENT=", label);
	buf[0] = '\0';
	p = strstr(out, key);
	if (p)
		sscanf(p + strlen(key), "%63[0-9a-f-]", buf);
	return buf;
}

/* The span whose context tp (a traceparent) is, or NULL. */
static const at_otlp_span *span_of(const struct at_rx_span *spans, size_t n,
				   const char *tp)
{
	for (size_t i = 0; i < n; i++)
		if (tp[0] && !strncmp(tp, span_tp(spans[i].span),
				      strlen(span_tp(spans[i].span))))
			return spans[i].span;
	return NULL;
}

/* curl's client span for the request to path, or NULL. */
static const at_otlp_span *curl_span(const struct at_rx_span *spans,
				     size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		const char *u = h_attr_str(spans[i].span, "url.full");
		const char *svc = h_res_str(spans[i].resource,
					    "process.executable.name");
		if (spans[i].span->kind == 3 && u && strstr(u, path) &&
		    svc && !strcmp(svc, "curl"))
			return spans[i].span;
	}
	return NULL;
}

static size_t process_spans(const struct at_rx_span *spans, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += h_attr_str(spans[i].span, "process.executable.name") != 0;
	return k;
}

static void run_shell_spans(struct h_env *e, const char *mode,
			    const char *extra, struct h_result *res)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%s", e->port);
	const char *argv[] = { h_build_path("fixtures/shell_forms"), "spans",
			       mode, url, NULL };
	const char *env[] = { e->ep, extra, NULL };

	at_receiver_clear(e->rx);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, res), 0);
	cr_assert_eq(res->status, 0, "%s\n%s", res->out, res->err);
}

/*
 * Under a server span: system() and popen() children get a process span
 * ("sh", the executable the shell is) whose context is their TRACEPARENT,
 * so curl run by them continues the trace; exit codes and errors on the
 * process spans; a vfork() + execve() child gets the server span's
 * context (exec makes no span) and the parent carries on unharmed.
 */
Test(programs, system_and_popen_children_continue_the_trace, .timeout = 120)
{
	struct h_env e;
	struct h_result res;
	struct at_rx_span *spans;
	static const char *const forms[][2] = {
		{ "system", "/system" },
		{ "popen r read: popen", "/popen" },
		{ "after vfork", "/after-vfork" },
	};

	cr_assert_eq(h_env_start(&e), 0);
	run_shell_spans(&e, "span", NULL, &res);
	/* server, 5 process spans, 3 curl requests (+ their connects) */
	size_t n = h_spans(e.rx, 12, WAIT_MS, &spans);
	const at_otlp_span *server = h_find_span(spans, n, "GET", 2);
	cr_assert(server, "the request's server span among %zu", n);
	cr_expect_eq(process_spans(spans, n), 5, "%s", res.out);
	for (size_t i = 0; i < 3; i++) {
		const char *tp = printed_tp(res.out, forms[i][0]);
		const at_otlp_span *proc = span_of(spans, n, tp);
		const at_otlp_span *curl = curl_span(spans, n, forms[i][1]);
		cr_assert(proc, "%s: TRACEPARENT %s is a span of ours: %s",
			  forms[i][0], tp, res.out);
		cr_expect_str_eq(proc->name, "sh");
		cr_expect_str_eq(h_attr_str(proc, "process.executable.name"),
				 "sh");
		cr_expect_eq(h_attr_int(proc, "process.exit.code", -1), 0);
		cr_expect(h_attr_int(proc, "process.pid", 0) > 0);
		cr_expect(!h_attr_str(proc, "process.command_line"),
			  "no command line by default");
		cr_expect(!proc->status || proc->status->code == 0);
		cr_expect(child_of(proc, server), "%s under the server span",
			  forms[i][0]);
		cr_assert(curl, "curl's span for %s", forms[i][1]);
		cr_expect(child_of(curl, proc), "curl under the %s span",
			  forms[i][0]);
	}
	/* Non-zero exits: ERROR, with the code. */
	int codes = 0;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		int64_t code = h_attr_int(s, "process.exit.code", 0);
		if (!h_attr_str(s, "process.executable.name") || !code)
			continue;
		codes |= 1 << code;
		cr_expect(s->status && s->status->code == 2);
		cr_expect_str_eq(h_attr_str(s, "error.type"), "exit_code");
		cr_expect(child_of(s, server));
	}
	cr_expect_eq(codes, (1 << 3) | (1 << 2), "exit 3 (system) and 2 "
		     "(popen w)");
	cr_expect(has_line(res.out, "system exit 3: 768 errno 0"));
	cr_expect(has_line(res.out, "pclose w: 512 errno 0"));
	const char *tp = printed_tp(res.out, "vfork");
	cr_expect(!strncmp(tp, span_tp(server), strlen(span_tp(server))),
		  "the vfork child's TRACEPARENT %s is the server span %s", tp,
		  span_tp(server));
	cr_expect(has_line(res.out, "vfork child status 0"));
	free(spans);
	h_result_free(&res);

	/* Opt-in command line; process spans off: TRACEPARENT is the
	 * server span's. */
	run_shell_spans(&e, "span", "AUTOTRACE_CAPTURE_COMMAND_LINE=true",
			&res);
	n = h_spans(e.rx, 12, WAIT_MS, &spans);
	const at_otlp_span *proc = span_of(spans, n,
					   printed_tp(res.out, "system"));
	cr_assert(proc, "%s", res.out);
	const char *cl = h_attr_str(proc, "process.command_line");
	cr_expect(cl && !strncmp(cl, "curl -sS -o /dev/null http://", 29) &&
			  strstr(cl, "/system; echo system TRACEPARENT="),
		  "process.command_line: %s", cl ? cl : "(none)");
	free(spans);
	h_result_free(&res);
	run_shell_spans(&e, "span", "AUTOTRACE_PROCESS_SPANS=false", &res);
	n = h_spans(e.rx, 7, WAIT_MS, &spans);
	server = h_find_span(spans, n, "GET", 2);
	cr_assert(server);
	cr_expect_eq(process_spans(spans, n), 0);
	tp = printed_tp(res.out, "system");
	cr_expect(!strncmp(tp, span_tp(server), strlen(span_tp(server))),
		  "TRACEPARENT %s is the server span %s", tp, span_tp(server));
	const at_otlp_span *curl = curl_span(spans, n, "/popen");
	cr_assert(curl);
	cr_expect(child_of(curl, server));
	free(spans);
	h_result_free(&res);

	/* No span active: glibc's functions, no TRACEPARENT, no process
	 * span; curl in the children starts traces of its own. */
	run_shell_spans(&e, "nospan", NULL, &res);
	n = h_spans(e.rx, 3, WAIT_MS, &spans);
	cr_expect_eq(process_spans(spans, n), 0);
	cr_expect_str_eq(printed_tp(res.out, "system"), "", "%s", res.out);
	cr_expect_str_eq(printed_tp(res.out, "popen r read: popen"), "");
	curl = curl_span(spans, n, "/system");
	cr_assert(curl, "curl's span, %zu spans", n);
	cr_expect_eq(curl->parent_span_id.len, 0, "a root span");
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}
