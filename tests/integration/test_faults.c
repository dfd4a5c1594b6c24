/*
 * The fault matrix: odd programs, signals and a misbehaving collector.  In
 * each case the host behaves as without the library, and the spans arrive
 * when the program's way of ending lets them.  Real programs (python3) and
 * the project's fixtures against the harness's loopback servers.
 */
#include <criterion/criterion.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* A socket closed with syscall(SYS_close) (libuv's way) and its number
 * reused for a file: the file gets exactly the bytes, as without the
 * library (it once got sendmsg's ENOTSOCK). */
Test(programs, socket_closed_by_syscall_then_a_file, .timeout = 60)
{
	struct h_env e;
	struct h_result bare, traced;
	char file[256];

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(file, sizeof(file), "%s/file", e.dir);
	const char *argv[] = { h_build_path("fixtures/syscall_close"), file,
			       NULL };
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(bare.status, 0, "%s", bare.err);
	cr_expect_eq(traced.status, 0, "%s", traced.err);
	cr_expect_not_null(strstr(bare.out, "SYS_close: same number 1, write 27,"),
			   "%s", bare.out);
	cr_expect_str_eq(traced.out, bare.out);
	h_result_free(&bare);
	h_result_free(&traced);
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

/* ==================================================================== */
/*
 * Suite "faults": the fault matrix's setgid, EINTR-storm and slow-collector
 * cases.  Only the project's fixtures run here (plus the test's own
 * servers), so the suite also runs with the ASan library.
 */

#define KIND_SERVER 2
#define KIND_CLIENT 3
#define STATUS_ERROR 2

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool is_error(const at_otlp_span *s)
{
	return s->status && s->status->code == STATUS_ERROR;
}

/* Do a and b start with the same n characters? */
static bool same_prefix(const char *a, const char *b, size_t n)
{
	return a && b && strncmp(a, b, n) == 0;
}

/* ---- a setuid-like process: AT_SECURE ---- */

/* Copy src to dst (created with mode 0700; chmod/chown afterwards). */
static int copy_file(const char *src, const char *dst)
{
	size_t len;
	char *data = h_read_file(src, &len);
	FILE *f;
	int rc = -1;

	if (!data)
		return -1;
	f = fopen(dst, "wb");
	if (f) {
		rc = fwrite(data, 1, len, f) == len ? 0 : -1;
		if (fclose(f) != 0)
			rc = -1;
	}
	free(data);
	return rc;
}

/* Why a setgid run cannot happen here, or NULL. */
static const char *setgid_unavailable(const char *dir)
{
	struct statvfs sv;

	if (geteuid() != 0)
		return "not root: cannot give a file a group we are not in";
	if (statvfs(dir, &sv) == 0 && (sv.f_flag & ST_NOSUID))
		return "the build directory is on a nosuid filesystem";
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return "no_new_privs is set: exec ignores setgid bits";
	return NULL;
}

/* A copy of the fixture `name` at dir/as, setgid to a group that is not
 * ours (AT_SECURE even for root) when setgid. */
static char *fixture_copy(const char *dir, const char *name, const char *as,
			  bool setgid)
{
	struct group *g = getgrnam("nogroup");
	gid_t gid = g ? g->gr_gid : 65534;
	char *path = NULL;

	cr_assert_gt(asprintf(&path, "%s/%s", dir, as), 0);
	cr_assert_eq(copy_file(h_build_path(name), path), 0, "copy %s", name);
	cr_assert_eq(chown(path, (uid_t)-1, setgid ? gid : getgid()), 0);
	cr_assert_eq(chmod(path, setgid ? 02755 : 0755), 0);
	return path;
}

static void remove_dir(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	free(h_shell(cmd, NULL));
}

/*
 * In a setgid process (AT_SECURE) the library reads no variable: it
 * neither sends spans where OTEL_EXPORTER_OTLP_ENDPOINT says nor continues
 * TRACEPARENT nor prints AUTOTRACE_DEBUG's report, and the program behaves
 * as the same program without the library.  ld.so ignores LD_PRELOAD
 * paths there, so the fixture is linked against the library instead; the
 * same copy without the setgid bit is the control: it reads them all.
 */
Test(faults, setgid_process_reads_no_configuration, .timeout = 120)
{
	static const char trace[] = "0af7651916cd43dd8448eb211c80319c";
	static const char parent[] = "b7ad6b7169203331";
	char dir[PATH_MAX], port[8], tp_env[128], tps[2][56];
	const char *why;
	struct h_result bare, secure, control;
	struct h_rec rec;
	struct at_rx_span *spans;
	int ninj;

	snprintf(dir, sizeof(dir), "%s",
		 h_build_path("fixtures/setgid-XXXXXX"));
	cr_assert(mkdtemp(dir), "mkdtemp %s", dir);
	why = setgid_unavailable(dir);
	if (why) {
		remove_dir(dir);
		cr_skip_test("setgid programs cannot run here: %s", why);
	}
	char *bare_bin = fixture_copy(dir, "fixtures/secure_probe",
				      "probe", true);
	char *secure_bin = fixture_copy(dir, "fixtures/secure_probe_linked",
					"probe_linked", true);
	char *control_bin = fixture_copy(dir, "fixtures/secure_probe_linked",
					 "probe_control", false);

	struct at_receiver *rx = h_receiver(NULL);
	cr_assert(rx);
	char *ep = h_endpoint_env(rx);
	cr_assert_eq(h_rec_start(&rec), 0);
	snprintf(port, sizeof(port), "%u", rec.port);
	snprintf(tp_env, sizeof(tp_env), "TRACEPARENT=00-%s-%s-01", trace,
		 parent);
	/* The ASan build links its runtime into the probe: no leak check
	 * (harness.c does the same for preloaded runs). */
	const char *env[] = { ep, tp_env, "OTEL_SERVICE_NAME=setgid-probe",
			      "AUTOTRACE_DEBUG=1",
			      getenv("AT_SAN_PRELOAD") ?
				      "ASAN_OPTIONS=detect_leaks=0" : NULL,
			      NULL };
	const char *a_bare[] = { bare_bin, "127.0.0.1", port, "/bare", NULL };
	const char *a_secure[] = { secure_bin, "127.0.0.1", port, "/secure",
				   NULL };
	const char *a_control[] = { control_bin, "127.0.0.1", port,
				    "/control", NULL };

	cr_assert_eq(h_run(a_bare, env, false, RUN_MS, &bare), 0);
	cr_assert_str_eq(bare.out, "at_secure 1\nstatus 200 body 2\n",
			 "the setgid copy runs in secure mode: %s", bare.err);
	cr_assert_eq(h_run(a_secure, env, false, RUN_MS, &secure), 0);
	cr_expect_eq(secure.status, bare.status);
	cr_expect_str_eq(secure.out, bare.out);
	cr_expect_str_eq(secure.err, bare.err,
			 "no AUTOTRACE_DEBUG report in secure mode");
	cr_expect_eq(at_receiver_request_count(rx), 0,
		     "nothing sent to OTEL_EXPORTER_OTLP_ENDPOINT");

	cr_assert_eq(h_run(a_control, env, false, RUN_MS, &control), 0);
	cr_expect_eq(control.status, 0, "%s", control.err);
	cr_expect_str_eq(control.out, "at_secure 0\nstatus 200 body 2\n");
	cr_expect(strstr(control.err, "spans started="),
		  "the control reads AUTOTRACE_DEBUG: %s", control.err);
	size_t n = h_spans(rx, 2, WAIT_MS, &spans);
	const at_otlp_span *get = h_find_span(spans, n, "GET", KIND_CLIENT);
	cr_assert(get, "the control's spans arrive");
	cr_expect_str_eq(h_res_str(spans[0].resource, "service.name"),
			 "setgid-probe");
	cr_expect_str_eq(h_hex(get->trace_id.data, 16), trace);
	cr_expect_str_eq(h_hex(get->parent_span_id.data, 8), parent);

	/* The library was active in the secure run (it injected a context)
	 * but did not continue TRACEPARENT. */
	size_t len;
	char *bytes = h_rec_stop(&rec, &len);
	cr_assert(bytes);
	h_strip_injected(bytes, len, tps, 2, &ninj);
	cr_assert_eq(ninj, 2, "one header each from secure and control");
	cr_expect(!same_prefix(tps[0] + 3, trace, 32),
		  "secure mode ignored TRACEPARENT: %s", tps[0]);
	cr_expect(same_prefix(tps[1] + 3, trace, 32), "control: %s", tps[1]);

	free(bytes);
	free(spans);
	h_result_free(&bare);
	h_result_free(&secure);
	h_result_free(&control);
	at_receiver_stop(rx);
	free(ep);
	free(bare_bin);
	free(secure_bin);
	free(control_bin);
	remove_dir(dir);
}

/* ---- EINTR storms ---- */

struct storm_counts {
	long signals, eintr, connect_eintr, shorts;
};

static void storm_counts(const char *err, struct storm_counts *c)
{
	const char *line = strstr(err, "eintr_storm: signals");

	cr_assert(line, "%s", err);
	cr_assert_eq(sscanf(line, "eintr_storm: signals %ld eintr %ld "
				  "connect_eintr %ld short %ld",
			    &c->signals, &c->eintr, &c->connect_eintr,
			    &c->shorts), 4, "%s", line);
}

#define STORM_REQUESTS 200
/* connect spans: 2 x (2 filling the accept queue + the interrupted one),
 * and the keep-alive connection's */
#define STORM_CONNECTS 7

/*
 * The storm fixture bare and traced against fresh recording servers: the
 * same output and exit code; the same bytes on the wire but for one
 * injected traceparent per request (none lost, none repeated); a span per
 * request matching its header, and the connects interrupted by the storm
 * as successful connect spans.  Without SA_RESTART the program sees EINTR
 * (and retries); with it, never - traced or not.
 */
static void eintr_storm(const char *mode)
{
	struct h_env e;
	struct h_rec rb, rt;
	struct h_result bare, traced;
	struct storm_counts cb, ct;
	char port_b[8], port_t[8], count[8];
	char (*tps)[56] = calloc(STORM_REQUESTS + 1, sizeof(*tps));
	size_t lb, lt, n, posts = 0, connects = 0;
	struct at_rx_span *spans;
	int ninj;

	cr_assert_eq(h_env_start(&e), 0);
	cr_assert_eq(h_rec_start(&rb), 0);
	cr_assert_eq(h_rec_start(&rt), 0);
	snprintf(port_b, sizeof(port_b), "%u", rb.port);
	snprintf(port_t, sizeof(port_t), "%u", rt.port);
	snprintf(count, sizeof(count), "%d", STORM_REQUESTS);
	const char *env[] = { e.ep, NULL };
	const char *argv[] = { h_build_path("fixtures/eintr_storm"),
			       "127.0.0.1", port_b, count, mode, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	argv[2] = port_t;
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);

	cr_assert_eq(bare.status, 0, "%s", bare.err);
	cr_expect(strstr(bare.out, "connect poll ok\nconnect again ok\n"
				   "requests 200 responses 200 "),
		  "%s", bare.out);
	cr_expect_eq(traced.status, bare.status, "%s", traced.err);
	cr_expect_str_eq(traced.out, bare.out);
	storm_counts(bare.err, &cb);
	storm_counts(traced.err, &ct);
	cr_log_info("%s bare: %s", mode, bare.err);
	cr_log_info("%s traced: %s", mode, traced.err);
	if (strcmp(mode, "norestart") == 0) {
		cr_expect_gt(cb.connect_eintr, 0, "the storm hit connect()");
		cr_expect_gt(ct.connect_eintr, 0, "the storm hit connect()");
		cr_expect_gt(ct.eintr, ct.connect_eintr,
			     "and other hooked calls");
	} else {
		cr_expect_eq(cb.eintr, 0, "SA_RESTART: no EINTR");
		cr_expect_eq(ct.eintr, 0,
			     "SA_RESTART: no EINTR under the library either");
	}

	char *b = h_rec_stop(&rb, &lb);
	char *t = h_rec_stop(&rt, &lt);
	cr_assert(b && t);
	lt = h_strip_injected(t, lt, tps, STORM_REQUESTS + 1, &ninj);
	cr_expect_eq(ninj, STORM_REQUESTS, "one header per request");
	cr_expect(lt == lb && memcmp(t, b, lb) == 0,
		  "the traced bytes minus the headers are the bare ones "
		  "(%zu vs %zu bytes)", lt, lb);

	n = h_spans(e.rx, STORM_REQUESTS + STORM_CONNECTS, WAIT_MS, &spans);
	cr_expect_eq(n, STORM_REQUESTS + STORM_CONNECTS, "%zu spans", n);
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		char tp[56];
		int matches = 0;

		cr_expect(!is_error(s), "span %s: %s", s->name,
			  s->status ? s->status->message : "");
		if (strcmp(s->name, "connect") == 0) {
			connects++;
			continue;
		}
		posts += strcmp(s->name, "POST") == 0;
		cr_expect_eq(h_attr_int(s, "http.response.status_code", 0),
			     200);
		h_span_traceparent(s, tp);
		for (int k = 0; k < ninj && k <= STORM_REQUESTS; k++)
			matches += strcmp(tp, tps[k]) == 0;
		cr_expect_eq(matches, 1, "span %s sent once", tp);
	}
	cr_expect_eq(posts, STORM_REQUESTS);
	cr_expect_eq(connects, STORM_CONNECTS);

	free(spans);
	free(b);
	free(t);
	free(tps);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
}

Test(faults, eintr_storm_without_sa_restart, .timeout = 120)
{
	eintr_storm("norestart");
}

Test(faults, eintr_storm_with_sa_restart, .timeout = 120)
{
	eintr_storm("restart");
}

/* ---- a slow collector: answers 200 after 5 s ---- */

#define SLOW_MS 5000
#define EXIT_TIMEOUT_MS 1000
#define SLACK_MS 2000
#define LOAD_REQUESTS 300

/* Stored spans whose span id another stored span has too. */
static size_t repeated_ids(const struct at_rx_span *s, size_t n)
{
	size_t dup = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (i != j && s[i].span->span_id.len == 8 &&
			    s[j].span->span_id.len == 8 &&
			    !memcmp(s[i].span->span_id.data,
				    s[j].span->span_id.data, 8)) {
				dup++;
				break;
			}
	return dup;
}

/* "NAME=<n>" in text, or -1. */
static long long field(const char *text, const char *name)
{
	const char *p = text ? strstr(text, name) : NULL;

	return p ? strtoll(p + strlen(name), NULL, 10) : -1;
}

/* http_client --count count (bare) against 127.0.0.1:port: its stdout
 * (malloc'd); *ms its own time for the requests (--stats). */
static char *load(uint16_t port, int count, uint64_t *ms)
{
	char p[8], c[16];
	struct h_result res;
	char *out;

	snprintf(p, sizeof(p), "%u", port);
	snprintf(c, sizeof(c), "%d", count);
	const char *argv[] = { h_build_path("fixtures/http_client"), "--count",
			       c, "--stats", "127.0.0.1", p, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "%s", res.err);
	*ms = (uint64_t)field(res.err, "elapsed_ns=") / 1000000u;
	out = res.out;
	res.out = NULL;
	h_result_free(&res);
	return out;
}

struct service_run {
	char *load_out;     /* the load's stdout */
	uint64_t load_ms;   /* the load's time */
	size_t rx_requests; /* export requests when the load was done */
	uint64_t stop_ms;   /* SIGTERM to exit */
	int status;         /* the service's exit status */
};

/*
 * http_service, bare (rx NULL) or traced exporting to rx: a first request,
 * then a load of LOAD_REQUESTS on one connection.  Traced, the load starts
 * once the collector has the first export request: a slow collector keeps
 * the exporter waiting on it for the whole load.  Then every span of the
 * load must arrive; one more request leaves a span queued at exit, and the
 * service is stopped (SIGTERM; its handler exits).
 */
static void serve(struct at_receiver *rx, struct service_run *out)
{
	char dir[] = "/tmp/autotrace-slow-XXXXXX", pf[64];
	uint64_t ms, t0;

	cr_assert(mkdtemp(dir));
	snprintf(pf, sizeof(pf), "%s/port", dir);
	char *ep = rx ? h_endpoint_env(rx) : NULL;
	char exit_timeout[64];
	snprintf(exit_timeout, sizeof(exit_timeout),
		 "AUTOTRACE_EXIT_TIMEOUT=%d", EXIT_TIMEOUT_MS);
	const char *env[] = { "OTEL_BSP_SCHEDULE_DELAY=50", exit_timeout, ep,
			      NULL };
	const char *argv[] = { h_build_path("fixtures/http_service"), pf,
			       NULL };
	pid_t pid = h_start(argv, env, rx != NULL, NULL);
	uint16_t port = h_read_port(pf, RUN_MS);
	cr_assert_neq(port, 0, "http_service did not start");

	free(load(port, 1, &ms));
	if (rx)
		cr_assert_eq(at_receiver_wait_requests(rx, 1, WAIT_MS), 0,
			     "the first export");
	out->load_out = load(port, LOAD_REQUESTS, &out->load_ms);
	out->rx_requests = rx ? at_receiver_request_count(rx) : 0;
	if (rx)
		cr_assert_eq(at_receiver_wait_spans(rx, LOAD_REQUESTS + 1,
						    SLOW_MS * 6),
			     0, "every span arrives (%zu)",
			     at_receiver_span_count(rx));
	free(load(port, 1, &ms));
	t0 = mono_ms();
	out->status = h_stop(pid, RUN_MS);
	out->stop_ms = mono_ms() - t0;
	free(ep);
	unlink(pf);
	rmdir(dir);
}

/*
 * A request-serving host and a collector that answers after 5 s: the
 * service answers the same, at the same pace as with a fast collector
 * (the load runs while the exporter waits on the collector), its spans all
 * arrive once when the collector answers, and its exit waits at most
 * AUTOTRACE_EXIT_TIMEOUT for the span still queued.
 */
Test(faults, slow_collector_leaves_a_service_alone, .timeout = 180)
{
	struct service_run bare, fast, slow;
	struct at_receiver *rx_fast = h_receiver(NULL);
	struct at_receiver *rx_slow = h_receiver(NULL);
	struct at_rx_span *spans;
	size_t n, server = 0;

	cr_assert(rx_fast && rx_slow);
	at_receiver_delay(rx_slow, SLOW_MS);
	serve(NULL, &bare);
	serve(rx_fast, &fast);
	serve(rx_slow, &slow);
	cr_log_info("load of %d requests: bare %llu ms, fast collector %llu "
		    "ms, slow collector %llu ms; stop: %llu / %llu / %llu ms",
		    LOAD_REQUESTS, (unsigned long long)bare.load_ms,
		    (unsigned long long)fast.load_ms,
		    (unsigned long long)slow.load_ms,
		    (unsigned long long)bare.stop_ms,
		    (unsigned long long)fast.stop_ms,
		    (unsigned long long)slow.stop_ms);

	cr_expect_eq(bare.status, 0);
	cr_expect_eq(fast.status, bare.status);
	cr_expect_eq(slow.status, bare.status);
	cr_expect_str_eq(fast.load_out, bare.load_out);
	cr_expect_str_eq(slow.load_out, bare.load_out);
	cr_expect_eq(slow.rx_requests, 1,
		     "the exporter was still waiting on the collector");
	/* Generous bounds: the point is that requests never wait for the
	 * collector (that would take SLOW_MS for the first one). */
	cr_expect_lt(slow.load_ms, SLOW_MS);
	cr_expect_lt(slow.load_ms, 4 * fast.load_ms + 1000);
	cr_expect_lt(slow.stop_ms, EXIT_TIMEOUT_MS + SLACK_MS,
		     "exit waited %llu ms", (unsigned long long)slow.stop_ms);

	n = h_spans(rx_slow, 0, 0, &spans);
	for (size_t i = 0; i < n; i++)
		server += spans[i].span->kind == KIND_SERVER;
	cr_expect_geq(server, LOAD_REQUESTS + 1);
	cr_expect_eq(repeated_ids(spans, n), 0, "each span once");
	free(spans);

	free(bare.load_out);
	free(fast.load_out);
	free(slow.load_out);
	at_receiver_stop(rx_fast);
	at_receiver_stop(rx_slow);
}

/* VmHWM (or another "Key:" line in kB) of a process, or -1. */
static long status_kib(pid_t pid, const char *key)
{
	char path[64], *s, *p;
	long v = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = h_read_file(path, NULL);
	p = s ? strstr(s, key) : NULL;
	if (p)
		v = strtol(p + strlen(key), NULL, 10);
	free(s);
	return v;
}

struct client_run {
	long hwm_kib;     /* the highest VmHWM seen */
	uint64_t exit_ms; /* from the last response to the exit */
	long long started, queue_full; /* AUTOTRACE_DEBUG's report */
	int status;
	char *log;        /* stdout + stderr */
};

/*
 * http_client --count count against the harness's server, bare or traced
 * (exporting to e->rx), in the background: its VmHWM read from /proc
 * every 10 ms until it exits, and the time from its last response to its
 * exit.
 */
static void client_peak(struct h_env *e, int count, bool traced,
			struct client_run *out)
{
	char dir[] = "/tmp/autotrace-mem-XXXXXX", log[64], c[16];
	uint64_t t0 = mono_ms();
	int st = 0;

	cr_assert(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(c, sizeof(c), "%d", count);
	const char *env[] = { e->ep, "AUTOTRACE_EXIT_TIMEOUT=1000",
			      "AUTOTRACE_DEBUG=1", NULL };
	const char *argv[] = { h_build_path("fixtures/http_client"), "--count",
			       c, "--stats", "127.0.0.1", e->port, NULL };
	pid_t pid = h_start(argv, env, traced, log);

	cr_assert_gt(pid, 0);
	memset(out, 0, sizeof(*out));
	for (;;) {
		long hwm = status_kib(pid, "VmHWM:");
		struct timespec ts = { 0, 10 * 1000000 };

		if (hwm > out->hwm_kib)
			out->hwm_kib = hwm;
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (mono_ms() - t0 > 240000)
			kill(pid, SIGKILL);
		nanosleep(&ts, NULL);
	}
	uint64_t exited = mono_ms();
	out->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	out->log = h_read_file(log, NULL);
	cr_assert(out->log);
	out->exit_ms = exited - (uint64_t)field(out->log, "done_ns=") /
					1000000u;
	out->started = field(out->log, "spans started=");
	out->queue_full = field(out->log, "queue_full=");
	/* stderr's lines land in the middle of stdout's buffered ones. */
	h_cut_lines(out->log, "http_client: ");
	h_cut_lines(out->log, "libautotrace: ");
	unlink(log);
	rmdir(dir);
}

/* How many lines of text are exactly line (without its newline).  One
 * pass: the ASan run's strstr checks the whole rest of the text at each
 * call. */
static size_t count_lines(const char *text, const char *line)
{
	size_t n = 0, len = strlen(line);

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t l = nl ? (size_t)(nl - text) : strlen(text);

		n += l == len && memcmp(text, line, len) == 0;
		text += nl ? l + 1 : l;
	}
	return n;
}

/*
 * A host making spans much faster than a slow collector takes them: its
 * memory depends on the queue bound, not on how many spans it makes - the
 * peak with 200,000 spans is that with 50,000 - and the excess drops and
 * is counted; its output is its own, and its exit waits at most
 * AUTOTRACE_EXIT_TIMEOUT.
 *
 * The bound for what the library adds: the thread's ring (256 KiB), a
 * batch copied out of it and its encoding (each less than the ring), the
 * exporter's stack (256 KiB), plus the library's own code and data and
 * the first export connection's buffers: 8 MiB, as the README promises.
 */
Test(faults, slow_collector_memory_stays_bounded, .timeout = 300)
{
	struct h_env e;
	struct client_run bare, small, big;
	const bool san = getenv("AT_SAN_PRELOAD") != NULL;

	cr_assert_eq(h_env_start(&e), 0);
	at_receiver_delay(e.rx, SLOW_MS);
	client_peak(&e, 50000, false, &bare);
	client_peak(&e, 50000, true, &small);
	client_peak(&e, 200000, true, &big);
	cr_log_info("VmHWM: bare %ld KiB, traced 50k spans %ld KiB, 200k "
		    "spans %ld KiB; exit %llu ms", bare.hwm_kib, small.hwm_kib,
		    big.hwm_kib, (unsigned long long)big.exit_ms);

	cr_expect_eq(bare.status, 0);
	cr_expect_eq(small.status, 0);
	cr_expect_eq(big.status, 0);
	cr_expect_eq(count_lines(bare.log, "status 200 body 6"), 50000);
	cr_expect_eq(count_lines(small.log, "status 200 body 6"), 50000);
	cr_expect_eq(count_lines(big.log, "status 200 body 6"), 200000);
	cr_expect_eq(big.started, 200000 + 1);
	cr_expect_gt(big.queue_full, 0,
		     "spans beyond the queue were dropped and counted");

	cr_expect_lt(big.hwm_kib - small.hwm_kib, 1024,
		     "memory grew with the span count: %ld -> %ld KiB",
		     small.hwm_kib, big.hwm_kib);
	if (san)
		cr_log_info("ASan run: the library's absolute cost is not "
			    "checked (the sanitizer's runtime is in it)");
	else
		cr_expect_lt(small.hwm_kib - bare.hwm_kib, 8 * 1024,
			     "the library added %ld KiB",
			     small.hwm_kib - bare.hwm_kib);
	cr_expect_lt(big.exit_ms, EXIT_TIMEOUT_MS + SLACK_MS,
		     "exit took %llu ms", (unsigned long long)big.exit_ms);

	free(bare.log);
	free(small.log);
	free(big.log);
	h_env_stop(&e);
}

/*
 * A traced http_service (a thread per connection, its default) exporting
 * every 50 ms to a receiver that answers after SLOW_MS; AUTOTRACE_DEBUG's
 * report goes to its log; settings: up to three more variables.
 */
struct slow_service {
	struct at_receiver *rx;
	char *ep;
	char dir[32], pf[64], log[64], port[8];
	pid_t pid;
};

static void slow_service_start(struct slow_service *s,
			       const char *const settings[3])
{
	uint16_t p;

	s->rx = h_receiver(NULL);
	snprintf(s->dir, sizeof(s->dir), "/tmp/autotrace-svc-XXXXXX");
	cr_assert(s->rx && mkdtemp(s->dir));
	at_receiver_delay(s->rx, SLOW_MS);
	snprintf(s->pf, sizeof(s->pf), "%s/port", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/log", s->dir);
	s->ep = h_endpoint_env(s->rx);
	const char *env[] = { s->ep, "OTEL_BSP_SCHEDULE_DELAY=50",
			      "AUTOTRACE_DEBUG=1", settings[0], settings[1],
			      settings[2], NULL };
	const char *svc[] = { h_build_path("fixtures/http_service"), s->pf,
			      NULL };
	s->pid = h_start(svc, env, true, s->log);
	p = h_read_port(s->pf, RUN_MS);
	cr_assert_neq(p, 0, "http_service did not start");
	snprintf(s->port, sizeof(s->port), "%u", p);
}

/* After the service stopped: its log (malloc'd); the rest is freed. */
static char *slow_service_done(struct slow_service *s)
{
	char *log = h_read_file(s->log, NULL);

	cr_assert(log);
	unlink(s->log);
	unlink(s->pf);
	rmdir(s->dir);
	free(s->ep);
	at_receiver_stop(s->rx);
	return log;
}

/*
 * A collector slower than OTEL_EXPORTER_OTLP_TIMEOUT: each attempt times
 * out, and the batch is sent again (OTLP/HTTP's at-least-once delivery:
 * the exporter cannot know that the collector got the abandoned request),
 * within OTEL_BSP_EXPORT_TIMEOUT, while the traced service runs.  This
 * collector processed every attempt, so it has the span once per attempt,
 * whole; the service is unaffected and its exit (which retries nothing
 * after a wait) waits at most AUTOTRACE_EXIT_TIMEOUT.
 */
Test(faults, collector_slower_than_the_export_timeout_gets_copies,
     .timeout = 60)
{
	const char *const settings[3] = { "OTEL_EXPORTER_OTLP_TIMEOUT=1000",
					  "OTEL_BSP_EXPORT_TIMEOUT=4000" };
	struct slow_service svc;
	struct h_result res;
	struct at_rx_span *spans;
	uint64_t t0;

	slow_service_start(&svc, settings);
	const char *client[] = { h_build_path("fixtures/http_client"),
				 "127.0.0.1", svc.port, NULL };
	cr_assert_eq(h_run(client, NULL, false, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "status 200 body 13\n");
	cr_assert_eq(at_receiver_wait_requests(svc.rx, 2, WAIT_MS), 0,
		     "the timed-out request was sent again");
	t0 = mono_ms();
	cr_expect_eq(h_stop(svc.pid, RUN_MS), 0);
	uint64_t stop = mono_ms() - t0;
	cr_expect_lt(stop, 3000, "exit waited %llu ms",
		     (unsigned long long)stop);

	char *report = h_read_file(svc.log, NULL);
	cr_assert(report);
	long long attempts = field(report, "export attempts=");
	cr_log_info("%s", report);
	cr_expect_eq(field(report, "exported="), 0, "no answer in time");
	cr_assert_geq(attempts, 2);
	cr_expect_eq(at_receiver_wait_requests(svc.rx, (size_t)attempts,
					       WAIT_MS), 0);
	size_t n = h_spans(svc.rx, 0, 0, &spans);
	cr_expect_eq(at_receiver_request_count(svc.rx), (size_t)attempts);
	cr_expect_eq(n, (size_t)attempts, "every copy whole");
	for (size_t i = 0; i < n; i++)
		cr_expect(!memcmp(spans[i].span->span_id.data,
				  spans[0].span->span_id.data, 8),
			  "the same span in each attempt");
	free(spans);
	free(report);
	h_result_free(&res);
	free(slow_service_done(&svc));
}

/*
 * A thread-per-connection service and a slow collector: the threads that
 * served a connection end with their spans still queued, and the states
 * holding those spans are bounded (AT_THREAD_MAX_STATES): after 16,000
 * short connections the service's memory is what it was after 8,000
 * (without the bound it grew by about 4 KiB per connection until the
 * collector caught up); every connection is answered as without the
 * library.
 */
Test(faults, slow_collector_and_a_thread_per_connection, .timeout = 180)
{
	const char *const settings[3] = { "AUTOTRACE_EXIT_TIMEOUT=1000" };
	struct slow_service svc;
	struct h_result res;
	long rss[2];

	slow_service_start(&svc, settings);
	const char *client[] = { h_build_path("fixtures/http_client"), "--count",
				 "8000", "--close", "--reconnect", "127.0.0.1",
				 svc.port, NULL };

	for (int round = 0; round < 2; round++) {
		cr_assert_eq(h_run(client, NULL, false, RUN_MS * 4, &res), 0);
		cr_expect_eq(res.status, 0, "%s", res.err);
		cr_expect_eq(count_lines(res.out, "status 200 body 13"), 8000);
		h_result_free(&res);
		rss[round] = status_kib(svc.pid, "VmRSS:");
	}
	cr_log_info("service VmRSS after 8,000 connections %ld KiB, after "
		    "16,000 %ld KiB", rss[0], rss[1]);
	if (getenv("AT_SAN_PRELOAD"))
		cr_log_info("ASan run: memory not compared (the sanitizer "
			    "keeps freed blocks of the service's own)");
	else
		cr_expect_lt(rss[1] - rss[0], 2048,
			     "memory grew with the connections: %ld -> %ld "
			     "KiB", rss[0], rss[1]);
	cr_expect_eq(h_stop(svc.pid, RUN_MS), 0);
	char *report = slow_service_done(&svc);
	cr_expect_gt(field(report, "thread_limit="), 0,
		     "threads beyond the bound went untraced: %s", report);
	free(report);
}
