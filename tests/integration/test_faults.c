/*
 * Odd programs and signals: the host behaves as without the library, and
 * the spans arrive when the program's way of ending lets them.  Real
 * programs (python3) against the harness's loopback HTTP server.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define RUN_MS 30000
#define WAIT_MS 10000

/* python3 -c "<prologue>; GET the server; print the body; <epilogue>"
 * with the library preloaded (or LD_PRELOAD from env when !preload). */
static void run_py(struct h_env *e, const char *prologue, const char *epilogue,
		   const char *extra_env, bool preload, struct h_result *res)
{
	char code[1024];
	const char *env[] = { e->ep, extra_env, NULL };

	snprintf(code, sizeof(code),
		 "import os, sys, signal, urllib.request as u\n%s\n"
		 "print(u.urlopen('http://127.0.0.1:%s/').read().decode(), "
		 "end='', flush=True)\n%s\n",
		 prologue, e->port, epilogue);
	const char *argv[] = { "python3", "-c", code, NULL };
	cr_assert_eq(h_run(argv, env, preload, RUN_MS, res), 0);
}

/* GET client spans to the harness's server (waits for min of them). */
static size_t get_spans(struct h_env *e, size_t min)
{
	struct at_rx_span *spans;
	size_t n = h_spans(e->rx, min, WAIT_MS, &spans), gets = 0;

	for (size_t i = 0; i < n; i++)
		gets += spans[i].span->kind == 3 &&
			!strcmp(spans[i].span->name, "GET");
	free(spans);
	return gets;
}

Test(programs, program_that_clears_its_environment, .timeout = 60)
{
	struct h_env e;
	struct h_result res;

	cr_assert_eq(h_env_start(&e), 0);
	run_py(&e, "os.environ.clear(); os.environ['ONLY'] = '1'",
	       "print(sorted(os.environ))", NULL, true, &res);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "hello\n['ONLY']\n");
	cr_expect_str_eq(res.err, "");
	cr_expect_eq(get_spans(&e, 2), 1,
		     "configuration was read at start-up");
	h_result_free(&res);
	h_env_stop(&e);
}

Test(programs, library_preloaded_twice_traces_once, .timeout = 60)
{
	struct h_env e;
	struct h_result res;
	char twice[1024];

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(twice, sizeof(twice), "LD_PRELOAD=%s %s", h_lib(), h_lib());
	run_py(&e, "", "", twice, false, &res);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "hello\n");
	cr_expect_str_eq(res.err, "");
	cr_expect_eq(get_spans(&e, 2), 1, "one span, not two");
	cr_expect_eq(at_receiver_request_count(e.rx), 1);
	h_result_free(&res);
	h_env_stop(&e);
}

Test(programs, sigterm_handler_that_exits_flushes, .timeout = 60)
{
	struct h_env e;
	struct h_result bare, res;

	cr_assert_eq(h_env_start(&e), 0);
	/* A handler that exits: exit() runs, the spans are flushed. */
	run_py(&e, "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))",
	       "os.kill(os.getpid(), signal.SIGTERM)\nsignal.pause()", NULL,
	       true, &res);
	cr_expect_eq(res.status, 7, "%s", res.err);
	cr_expect_str_eq(res.out, "hello\n");
	cr_expect_eq(get_spans(&e, 2), 1);
	h_result_free(&res);

	/* The default action: the process dies as it would without the
	 * library (its queued spans are lost by design, see README). */
	run_py(&e, "", "os.kill(os.getpid(), signal.SIGTERM)", NULL, false,
	       &bare);
	run_py(&e, "", "os.kill(os.getpid(), signal.SIGTERM)", NULL, true,
	       &res);
	cr_expect_eq(bare.status, 128 + 15);
	cr_expect_eq(res.status, bare.status);
	cr_expect_str_eq(res.out, bare.out);
	cr_expect_str_eq(res.err, bare.err);
	h_result_free(&bare);
	h_result_free(&res);
	h_env_stop(&e);
}

/* 65,000 descriptors open (or as many as the hard limit allows, when
 * the test cannot raise it): a request on a socket numbered above them
 * behaves the same and is traced. */
Test(programs, program_with_65000_open_fds, .timeout = 120)
{
	struct h_env e;
	struct h_result res;

	cr_assert_eq(h_env_start(&e), 0);
	run_py(&e,
	       "import resource\n"
	       "want = 65000 + 64\n"
	       "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
	       "try:\n"
	       "    resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))\n"
	       "except (ValueError, OSError):\n"
	       "    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n"
	       "    want = hard\n"
	       "base = os.open('/dev/null', os.O_RDONLY)\n"
	       "fds = [os.dup(base) for _ in range(want - 64)]\n"
	       "sys.stderr.write('%d\\n' % max(fds))",
	       "", NULL, true, &res);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "hello\n");
	long top = strtol(res.err, NULL, 10);
	cr_expect_gt(top, 10000, "descriptors open: %s", res.err);
	cr_log_info("descriptors open below the request's socket: %ld", top);
	cr_expect_eq(get_spans(&e, 2), 1, "the request above them traced");
	h_result_free(&res);
	h_env_stop(&e);
}

/*
 * libpq and libcurl dlopen()ed after start and called through their
 * handles (ctypes): those calls reach the libraries directly (README,
 * Limitations), and the program's results are exactly as without the
 * library; the sockets underneath are still seen.
 */
static const char dlopen_py[] =
	"from ctypes import CDLL, c_void_p, c_char_p, c_int, c_long, byref\n"
	"pq = CDLL('libpq.so.5')\n"
	"pq.PQconnectdb.restype = c_void_p\n"
	"pq.PQconnectdb.argtypes = [c_char_p]\n"
	"pq.PQstatus.argtypes = [c_void_p]\n"
	"pq.PQexec.restype = c_void_p\n"
	"pq.PQexec.argtypes = [c_void_p, c_char_p]\n"
	"pq.PQgetvalue.restype = c_char_p\n"
	"pq.PQgetvalue.argtypes = [c_void_p, c_int, c_int]\n"
	"pq.PQclear.argtypes = [c_void_p]\n"
	"pq.PQfinish.argtypes = [c_void_p]\n"
	"c = pq.PQconnectdb(sys.argv[1].encode())\n"
	"print('pq status', pq.PQstatus(c))\n"
	"r = pq.PQexec(c, b'select 40 + 2')\n"
	"print('pq value', pq.PQgetvalue(r, 0, 0).decode())\n"
	"pq.PQclear(r); pq.PQfinish(c)\n"
	"cu = CDLL('libcurl.so.4')\n"
	"cu.curl_easy_init.restype = c_void_p\n"
	"cu.curl_easy_perform.argtypes = [c_void_p]\n"
	"cu.curl_easy_cleanup.argtypes = [c_void_p]\n"
	"h = cu.curl_easy_init()\n"
	"cu.curl_easy_setopt.argtypes = [c_void_p, c_int, c_char_p]\n"
	"cu.curl_easy_setopt(h, 10002, sys.argv[2].encode())\n"
	"cu.curl_easy_setopt.argtypes = [c_void_p, c_int, c_long]\n"
	"cu.curl_easy_setopt(h, 44, 1)\n"
	"print('curl rc', cu.curl_easy_perform(h))\n"
	"code = c_long(0)\n"
	"cu.curl_easy_getinfo.argtypes = [c_void_p, c_int, c_void_p]\n"
	"cu.curl_easy_getinfo(h, 0x200002, byref(code))\n"
	"print('curl status', code.value)\n"
	"cu.curl_easy_cleanup(h)\n";

Test(programs, libpq_and_libcurl_dlopened_after_start, .timeout = 60)
{
	struct h_env e;
	struct h_result bare, traced;
	const char *pg_dir = getenv("AT_PG_DIR"), *pg_port = getenv("AT_PG_PORT");
	char conn[512], url[128], code[4096];

	cr_assert(pg_dir && pg_port, "run by scripts/run-integration.sh");
	cr_assert_eq(h_env_start(&e), 0);
	snprintf(conn, sizeof(conn), "host=%s port=%s user=postgres dbname=postgres",
		 pg_dir, pg_port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s/", e.port);
	snprintf(code, sizeof(code), "import sys\n%s", dlopen_py);
	const char *argv[] = { "python3", "-c", code, conn, url, NULL };
	const char *env[] = { e.ep, NULL };

	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_str_eq(bare.out, "pq status 0\npq value 42\ncurl rc 0\n"
				   "curl status 200\n", "%s", bare.err);
	cr_expect_eq(traced.status, bare.status);
	cr_expect_str_eq(traced.out, bare.out);
	cr_expect_str_eq(traced.err, bare.err);
	struct at_rx_span *spans;
	size_t n = h_spans(e.rx, 1, WAIT_MS, &spans);
	cr_expect_geq(n, 1, "the sockets underneath made spans");
	free(spans);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
}

/* Runs cancel_in_hook with and without the library: same behaviour, and
 * both connect spans arrive. */
static void cancel_fixture(const char *mode, const char *expected)
{
	struct h_env e;
	struct h_result bare, traced;
	struct at_rx_span *spans;

	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, NULL };
	const char *argv[] = { h_build_path("fixtures/cancel_in_hook"), mode,
			       NULL };
	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(bare.status, 0);
	cr_expect_str_eq(bare.out, expected);
	cr_expect_eq(traced.status, bare.status);
	cr_expect_str_eq(traced.out, bare.out);
	cr_expect_str_eq(traced.err, bare.err);
	size_t n = h_spans(e.rx, 2, WAIT_MS, &spans);
	cr_expect_eq(n, 2, "both connect spans");
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(spans[i].span->name, "connect");
	free(spans);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
}

/* A thread cancelled inside a hooked recv(): the program goes on as
 * without the library, and its spans are exported. */
Test(core, thread_cancelled_inside_a_hooked_call, .timeout = 60)
{
	cancel_fixture(NULL, "cancelled, reconnected\n");
}

/* A thread blocked forever in a hooked recv() while main returns: the
 * process exits at once (h_run would time out otherwise), spans flushed. */
Test(core, thread_blocked_forever_at_exit, .timeout = 60)
{
	cancel_fixture("leave", "left blocked, reconnected\n");
}

/*
 * 64 threads, each making 10,000 requests through the real hooks and
 * exiting with spans still buffered: every response arrives, and the
 * library's own account (AUTOTRACE_DEBUG) adds up - every span started
 * was exported or counted as dropped (queues are bounded), none lost
 * silently.  The collector is a sink (it acknowledges without storing).
 */
Test(stress, threads_64_by_10000_requests, .timeout = 600)
{
	struct h_http *http = h_http_start();
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1", .sink = 1 };
	struct at_receiver *rx = at_receiver_start(&o);
	char port[8];
	struct h_result res;
	unsigned long started = 0, sampled = 0, exported = 0, dropped = 0;

	cr_assert(http && rx);
	char *ep = h_endpoint_env(rx);
	snprintf(port, sizeof(port), "%u", h_http_port(http));
	const char *env[] = { ep, "AUTOTRACE_DEBUG=1", NULL };
	const char *argv[] = { h_build_path("fixtures/http_threads"),
			       "127.0.0.1", port, "64", "10000", NULL };
	cr_assert_eq(h_run(argv, env, true, 500000, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "requests 640000\n");
	const char *line = strstr(res.err, "spans started=");
	cr_assert(line, "the debug report: %s", res.err);
	cr_assert_eq(sscanf(line, "spans started=%lu sampled=%lu exported=%lu "
				  "dropped=%lu", &started, &sampled, &exported,
			    &dropped), 4, "%s", line);
	cr_expect_eq(started, 640000 + 64, "a span per request and connect");
	cr_expect_eq(sampled, started);
	cr_expect_eq(exported + dropped, sampled, "%s", line);
	cr_expect_gt(exported, 0);
	cr_expect_geq(at_receiver_request_count(rx), 1);
	cr_log_info("%s", line);
	h_result_free(&res);
	free(ep);
	at_receiver_stop(rx);
	h_http_stop(http);
}

/* A preloaded Python HTTP server (thread per request) that writes its
 * port to argv[1]. */
static const char service_py[] =
	"import http.server, sys\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def log_message(self, *a): pass\n"
	"    def do_GET(self):\n"
	"        self.send_response(200)\n"
	"        self.send_header('Content-Length', '3')\n"
	"        self.end_headers(); self.wfile.write(b'ok\\n')\n"
	"s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
	"open(sys.argv[1] + '.tmp', 'w').write(str(s.server_port))\n"
	"import os; os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
	"s.serve_forever()\n";

static void get(uint16_t port, const char *path)
{
	char url[128];
	struct h_result res;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	const char *argv[] = { "curl", "-sS", url, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "ok\n", "%s: %s", path, res.err);
	h_result_free(&res);
}

/* Server spans for path stored by rx (waiting for at least min). */
static size_t spans_for(struct at_receiver *rx, const char *path, size_t min)
{
	struct at_rx_span *spans;
	size_t n = h_spans(rx, min, WAIT_MS, &spans), found = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p = h_attr_str(spans[i].span, "url.path");
		found += spans[i].span->kind == 2 && p && !strcmp(p, path);
	}
	free(spans);
	return found;
}

/*
 * The collector is killed while a traced service runs and comes back on
 * the same port: the spans made meanwhile (queued within capacity) arrive
 * once, and the service answered every request all along.
 */
Test(programs, collector_killed_and_restarted, .timeout = 120)
{
	char dir[] = "/tmp/at-restart-XXXXXX", portfile[300], log[300];
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1" };

	cr_assert(mkdtemp(dir));
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	struct at_receiver *rx = at_receiver_start(&o);
	cr_assert(rx);
	o.port = at_receiver_port(rx);
	char *ep = h_endpoint_env(rx);
	const char *env[] = { ep, "OTEL_BSP_SCHEDULE_DELAY=50",
			      "AUTOTRACE_DEBUG=1", NULL };
	const char *argv[] = { "python3", "-c", service_py, portfile, NULL };
	pid_t pid = h_start(argv, env, true, log);
	uint16_t port = h_read_port(portfile, RUN_MS);
	cr_assert_neq(port, 0);

	get(port, "/one");
	cr_expect_eq(spans_for(rx, "/one", 1), 1);
	at_receiver_stop(rx);

	/* The collector is gone: requests still work, their export fails. */
	get(port, "/two");
	get(port, "/two");
	cr_assert_eq(h_wait_file_has(log, "failed", RUN_MS), 0,
		     "the export failed while the collector was away");
	rx = at_receiver_start(&o);
	cr_assert(rx, "the collector restarted on port %u", o.port);
	cr_expect_eq(spans_for(rx, "/two", 2), 2,
		     "both spans made while it was away arrived, once");

	get(port, "/three");
	cr_expect_eq(spans_for(rx, "/three", 3), 1);
	cr_expect_eq(spans_for(rx, "/two", 3), 2, "no duplicates");
	h_stop(pid, RUN_MS);
	at_receiver_stop(rx);
	free(ep);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(h_shell(cmd, NULL));
}
