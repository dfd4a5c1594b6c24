/*
 * Integration tests of the core pipeline: real programs (coreutils, bash,
 * python3, curl, and the fixtures) run with the library preloaded in their
 * own environment only, exporting to a receiver started by the test, which
 * decodes the protobuf.  A process's spans have all arrived when it has
 * exited (the exit flush is synchronous), so no test waits on time.
 *
 * Suite "programs" runs third-party programs (curl, python3, bash);
 * suite "core" only the project's fixtures, so it can also run with an
 * ASan-instrumented library (the ASan runtime cannot be preloaded into
 * every program: curl deadlocks in setlocale under it).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 30000
#define WAIT_MS 10000

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void check_ids(const at_otlp_span *s)
{
	cr_assert_eq(s->trace_id.len, 16);
	cr_assert_eq(s->span_id.len, 8);
	int nz = 0;
	for (int i = 0; i < 16; i++)
		nz |= s->trace_id.data[i];
	cr_assert(nz, "all-zero trace id");
	nz = 0;
	for (int i = 0; i < 8; i++)
		nz |= s->span_id.data[i];
	cr_assert(nz, "all-zero span id");
}

/* Same stdout, stderr and exit status with and without the library. */
static void same_behaviour(const char *const argv[], const char *endpoint)
{
	const char *env[] = { endpoint, NULL };
	struct h_result bare, traced;

	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(traced.status, bare.status, "%s: exit %d vs %d", argv[0],
		     traced.status, bare.status);
	cr_expect_str_eq(traced.out, bare.out, "%s: stdout differs", argv[0]);
	cr_expect_str_eq(traced.err, bare.err, "%s: stderr differs", argv[0]);
	h_result_free(&bare);
	h_result_free(&traced);
}

Test(programs, loads_anywhere_same_output, .timeout = 120)
{
	struct at_receiver *rx = h_receiver(NULL);
	struct h_http *http = h_http_start();
	char url[64], absent[96];
	char *present = h_endpoint_env(rx);

	cr_assert(rx && http);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", h_http_port(http));
	snprintf(absent, sizeof(absent),
		 "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u",
		 h_closed_port());
	const char *true_argv[] = { "/bin/true", NULL };
	const char *py_argv[] = { "python3", "-c", "print(1)", NULL };
	const char *sh_argv[] = { "bash", "-c", "ls / | wc -l", NULL };
	const char *curl_argv[] = { "curl", "-s", url, NULL };
	const char *const *all[] = { true_argv, py_argv, sh_argv, curl_argv };

	for (size_t i = 0; i < 4; i++) {
		same_behaviour(all[i], present);
		same_behaviour(all[i], absent);
	}
	/* The curl runs made connect spans that reached the live receiver. */
	cr_expect_geq(at_receiver_span_count(rx), 1);
	h_http_stop(http);
	at_receiver_stop(rx);
	free(present);
}

Test(programs, curl_connect_span, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	char url[64];
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=curl-test", NULL };
	struct h_result res;
	struct at_rx_span *spans;
	char host[256] = "";

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", h_http_port(e.http));
	const char *argv[] = { "curl", "-s", url, NULL };
	uint64_t t0 = wall_ns();
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	uint64_t t1 = wall_ns();
	cr_assert_eq(res.status, 0);
	cr_assert_str_eq(res.out, "hello\n");

	size_t n = h_spans(e.rx, 2, WAIT_MS, &spans);
	cr_assert_eq(n, 2, "expected the GET span and its connect, got %zu", n);
	const at_otlp_span *s = h_find_span(spans, n, "connect", 0);
	const at_otlp_span *get = h_find_span(spans, n, "GET", 0);
	cr_assert(s && get);
	check_ids(s);
	check_ids(get);
	cr_expect_str_eq(s->name, "connect");
	cr_expect_eq(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
	cr_expect_eq(get->parent_span_id.len, 0, "the request is the root");
	cr_expect_eq(memcmp(s->parent_span_id.data, get->span_id.data, 8), 0,
		     "connect is the request's child");
	cr_expect_eq(memcmp(s->trace_id.data, get->trace_id.data, 16), 0);
	cr_expect_eq(get->flags & 0xff, 0x03, "flags %#x", get->flags);
	cr_expect(get->flags & 0x100, "HAS_IS_REMOTE bit");
	cr_expect_leq(t0, get->start_time_unix_nano);
	cr_expect_leq(get->start_time_unix_nano, s->start_time_unix_nano);
	cr_expect_leq(s->end_time_unix_nano, get->end_time_unix_nano);
	cr_expect_leq(get->end_time_unix_nano, t1);
	cr_expect_str_eq(h_attr_str(s, "network.peer.address"), "127.0.0.1");
	cr_expect_eq(h_attr_int(s, "network.peer.port", -1), h_http_port(e.http));
	cr_expect_str_eq(h_attr_str(s, "server.address"), "127.0.0.1");
	cr_expect_eq(h_attr_int(s, "server.port", -1), h_http_port(e.http));
	cr_expect_str_eq(h_attr_str(s, "network.transport"), "tcp");
	cr_expect_str_eq(h_attr_str(s, "network.type"), "ipv4");
	cr_expect(!s->status || s->status->code == 0);

	const at_otlp_resource *r = spans[0].resource;
	cr_expect_str_eq(h_res_str(r, "service.name"), "curl-test");
	cr_expect_str_eq(h_res_str(r, "process.executable.name"), "curl");
	cr_expect_gt(h_res_int(r, "process.pid", 0), 0);
	cr_expect_str_eq(h_res_str(r, "telemetry.sdk.name"), "libautotrace");
	cr_expect(h_res_str(r, "telemetry.sdk.version") != NULL);
	gethostname(host, sizeof(host));
	cr_expect_str_eq(h_res_str(r, "host.name"), host);
	cr_expect_null(h_res_str(r, "process.command_line"),
		       "command line is opt-in");
	cr_expect_str_eq(spans[0].scope->name, "libautotrace");

	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

Test(programs, python_connect_span_default_service_name, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	char code[256];
	const char *env[] = { e.ep, "AUTOTRACE_CAPTURE_COMMAND_LINE=true", NULL };
	struct h_result res;
	struct at_rx_span *spans;

	snprintf(code, sizeof(code),
		 "import urllib.request as u; "
		 "print(u.urlopen('http://127.0.0.1:%u/').read().decode(), end='')",
		 h_http_port(e.http));
	const char *argv[] = { "python3", "-c", code, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "stderr: %s", res.err);
	cr_assert_str_eq(res.out, "hello\n");

	size_t n = h_spans(e.rx, 1, WAIT_MS, &spans);
	cr_assert_geq(n, 1);
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		if (strcmp(s->name, "connect") ||
		    h_attr_int(s, "network.peer.port", -1) != h_http_port(e.http))
			continue;
		found++;
		check_ids(s);
		const char *svc = h_res_str(spans[i].resource, "service.name");
		const char *exe = h_res_str(spans[i].resource,
					    "process.executable.name");
		cr_assert(svc && exe);
		cr_expect(strncmp(exe, "python3", 7) == 0, "exe %s", exe);
		char want[128];
		snprintf(want, sizeof(want), "unknown_service:%s", exe);
		cr_expect_str_eq(svc, want);
		const char *cl = h_res_str(spans[i].resource,
					   "process.command_line");
		cr_expect(cl && strstr(cl, "urllib"), "command line: %s",
			  cl ? cl : "(none)");
	}
	cr_expect_eq(found, 1);
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

Test(programs, connection_refused_is_an_error_span, .timeout = 60)
{
	struct at_receiver *rx = h_receiver(NULL);
	char url[64], *ep = h_endpoint_env(rx);
	const char *env[] = { ep, NULL };
	struct h_result bare, res;
	struct at_rx_span *spans;
	uint16_t port = h_closed_port();

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	const char *argv[] = { "curl", "-s", url, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, bare.status);
	cr_expect_eq(res.status, 7, "curl's exit code for a refused connect");

	/* curl's transfer span (libcurl level) and its connect span. */
	size_t n = h_spans(rx, 2, WAIT_MS, &spans);
	const at_otlp_span *s = h_find_span(spans, n, "connect", 0);
	const at_otlp_span *get = h_find_span(spans, n, "GET", 0);
	cr_assert(s && get, "connect and GET spans");
	cr_assert(s->status);
	cr_expect_eq(s->status->code, 2);
	cr_expect_str_eq(s->status->message, "Connection refused");
	cr_expect_str_eq(h_attr_str(s, "error.type"), "ECONNREFUSED");
	cr_expect_eq(h_attr_int(s, "server.port", -1), port);
	cr_expect_eq(memcmp(s->parent_span_id.data, get->span_id.data, 8), 0);
	cr_expect(get->status && get->status->code == 2);
	cr_expect_str_eq(h_attr_str(get, "error.type"), "CURLE_COULDNT_CONNECT");
	free(spans);
	h_result_free(&bare);
	h_result_free(&res);
	at_receiver_stop(rx);
	free(ep);
}

Test(core, traceparent_environment_is_continued, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = {
		e.ep,
		"TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"TRACESTATE=congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", NULL
	};
	struct h_result res;
	struct at_rx_span *spans;

	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "2", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	size_t n = h_spans(e.rx, 2, WAIT_MS, &spans);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		cr_expect_str_eq(h_hex(s->trace_id.data, 16),
				 "0af7651916cd43dd8448eb211c80319c");
		cr_expect_str_eq(h_hex(s->parent_span_id.data,
				       s->parent_span_id.len),
				 "b7ad6b7169203331");
		cr_expect_eq(s->flags & 0xff, 0x01,
			     "sampled, random flag not invented: %#x",
			     s->flags);
		cr_expect(s->flags & 0x200, "parent is remote");
		cr_expect_str_eq(s->trace_state,
				 "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
	}
	free(spans);
	h_result_free(&res);

	/* An unsampled parent: the default parent-based sampler follows it. */
	at_receiver_clear(e.rx);
	env[1] = "TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0);
	cr_expect_eq(at_receiver_request_count(e.rx), 1,
		     "only the first run exported");
	h_result_free(&res);

	/* Malformed (uppercase): treated as absent, a new trace starts. */
	env[1] = "TRACEPARENT=00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01";
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	n = h_spans(e.rx, 2, WAIT_MS, &spans);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		cr_expect_str_neq(h_hex(spans[i].span->trace_id.data, 16),
				  "0af7651916cd43dd8448eb211c80319c");
		cr_expect_eq(spans[i].span->parent_span_id.len, 0);
		cr_expect_str_eq(spans[i].span->trace_state, "");
	}
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

/* Runs tcp_client once with extra env; returns the receiver's request
 * count after the process exited. */
static size_t requests_with(const char *setting)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, setting, NULL };
	struct h_result res;
	size_t n;

	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "3", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	cr_assert_str_eq(res.out, "connected 3\n");
	cr_assert_str_eq(res.err, "", "nothing printed: %s", res.err);
	n = at_receiver_request_count(e.rx);
	h_result_free(&res);
	h_env_stop(&e);
	return n;
}

Test(core, nothing_exported_when_disabled, .timeout = 60)
{
	cr_expect_eq(requests_with("AUTOTRACE_DEBUG=0"), 1,
		     "control: spans are exported by default");
	cr_expect_eq(requests_with("OTEL_SDK_DISABLED=true"), 0);
	cr_expect_eq(requests_with("OTEL_TRACES_SAMPLER=always_off"), 0);
	cr_expect_eq(requests_with("OTEL_TRACES_EXPORTER=none"), 0);
}

Test(core, fork_child_exports_its_own_spans, .timeout = 60)
{
	/* GCC 12's ASan allocator is not fork-safe when another thread (our
	 * exporter) allocates at the moment of fork: the child's first
	 * allocation on a new thread can block on a lock the parent held.
	 * glibc's malloc is; the plain run of this test covers fork. */
	if (getenv("AT_SAN_PRELOAD"))
		cr_skip_test("ASan's allocator is not fork-safe with threads");
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, NULL };
	struct h_result res;
	struct at_rx_span *spans;

	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "2", "1", "fork", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	cr_assert_str_eq(res.out, "connected 4\n");
	size_t n = h_spans(e.rx, 4, WAIT_MS, &spans);
	cr_assert_eq(n, 4, "parent 2 + child 2, each once; got %zu", n);
	int64_t pid0 = h_res_int(spans[0].resource, "process.pid", 0);
	size_t parent = 0, child = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t pid = h_res_int(spans[i].resource, "process.pid", 0);
		if (pid == pid0)
			parent++;
		else
			child++;
		for (size_t j = 0; j < i; j++)
			cr_expect_neq(memcmp(spans[i].span->span_id.data,
					     spans[j].span->span_id.data, 8),
				      0, "duplicate span id");
	}
	cr_expect_eq(parent, 2);
	cr_expect_eq(child, 2);
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

Test(core, collector_503_then_200_spans_arrive_once, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, NULL };
	struct h_result res;

	at_receiver_script(e.rx, 1, 503, "0", 0, NULL);
	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "3", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	cr_expect_eq(at_receiver_request_count(e.rx), 2, "503, then the retry");
	cr_expect_eq(at_receiver_span_count(e.rx), 3, "each span once");
	h_result_free(&res);
	h_env_stop(&e);
}

/*
 * The collector misbehaves once, then recovers (or not), while a traced
 * service runs: the service's answers and exit code never change,
 * retryable failures are retried and the span arrives once, a 400 or a
 * 500 is not retried.  (The service exports while it runs: at exit
 * nothing is retried after a wait - test_exit.c.)
 */
Test(core, collector_faults_leave_the_host_alone, .timeout = 120)
{
	static const struct {
		int status;          /* first answer (-2: closed unanswered) */
		const char *retry_after;
		size_t requests;     /* requests the receiver sees */
		size_t spans;        /* spans stored */
	} cases[] = {
		{ 429, "0", 2, 1 },   /* Too Many Requests, retry at once */
		{ 503, "1", 2, 1 },   /* Retry-After in seconds */
		{ -2, NULL, 2, 1 },   /* connection closed: retried */
		{ 502, NULL, 2, 1 },  /* retryable, backoff */
		{ 400, NULL, 1, 0 },  /* bad request: dropped, not retried */
		{ 500, NULL, 1, 0 },  /* not retryable per OTLP/HTTP */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h_env e;
		struct h_result res;
		char dir[] = "/tmp/autotrace-cf-XXXXXX", pf[64], port[8];
		int st = cases[i].status;

		cr_assert_eq(h_env_start(&e), 0);
		cr_assert(mkdtemp(dir));
		snprintf(pf, sizeof(pf), "%s/port", dir);
		const char *env[] = { e.ep, "OTEL_BSP_SCHEDULE_DELAY=50", NULL };
		const char *svc[] = { h_build_path("fixtures/http_service"), pf,
				      NULL };
		at_receiver_script(e.rx, 1, st, cases[i].retry_after, 0, NULL);
		pid_t pid = h_start(svc, env, true, NULL);
		snprintf(port, sizeof(port), "%u", h_read_port(pf, RUN_MS));
		const char *client[] = { h_build_path("fixtures/http_client"),
					 "127.0.0.1", port, NULL };
		cr_assert_eq(h_run(client, NULL, false, RUN_MS, &res), 0);
		cr_expect_eq(res.status, 0, "case %d: %s", st, res.err);
		cr_expect_str_eq(res.out, "status 200 body 13\n", "case %d",
				 st);
		cr_expect_eq(at_receiver_wait_requests(e.rx, cases[i].requests,
						       WAIT_MS), 0,
			     "case %d", st);
		cr_expect_eq(at_receiver_wait_spans(e.rx, cases[i].spans,
						    WAIT_MS), 0,
			     "case %d", st);
		cr_expect_eq(h_stop(pid, RUN_MS), 0, "case %d", st);
		cr_expect_eq(at_receiver_request_count(e.rx),
			     cases[i].requests, "case %d: %zu requests", st,
			     at_receiver_request_count(e.rx));
		cr_expect_eq(at_receiver_span_count(e.rx), cases[i].spans,
			     "case %d", st);
		h_result_free(&res);
		unlink(pf);
		rmdir(dir);
		h_env_stop(&e);
	}
}

Test(core, hook_before_our_constructor, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	char port[32];
	struct h_result res;
	struct at_rx_span *spans;

	snprintf(port, sizeof(port), "CTOR_CONNECT_PORT=%u", h_http_port(e.http));
	const char *env[] = { e.ep, port, NULL };
	const char *argv[] = { h_build_path("fixtures/ctor_main"), NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	cr_assert_str_eq(res.out, "ctor connect: ok\n");
	size_t n = h_spans(e.rx, 1, WAIT_MS, &spans);
	cr_expect_eq(n, 1);
	if (n)
		cr_expect_str_eq(spans[0].span->name, "connect");
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

Test(core, many_threads, .timeout = 120)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, NULL };
	struct h_result res;
	struct at_rx_span *spans;

	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "50", "8", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	cr_assert_str_eq(res.out, "connected 400\n");
	size_t n = h_spans(e.rx, 400, WAIT_MS, &spans);
	cr_expect_eq(n, 400);
	/* Distinct traces (each connect is a root). */
	size_t dup = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (!memcmp(spans[i].span->trace_id.data,
				    spans[j].span->trace_id.data, 16))
				dup++;
	cr_expect_eq(dup, 0);
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

Test(core, gzip_and_headers, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
			      "OTEL_EXPORTER_OTLP_HEADERS=x-api-key=secret%20value",
			      NULL };
	struct h_result res;
	struct at_rx_span *spans;

	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "5", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	size_t n = h_spans(e.rx, 5, WAIT_MS, &spans);
	cr_expect_eq(n, 5);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(spans[i].content_encoding, "gzip");
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

Test(core, debug_report_and_config_warnings, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, "AUTOTRACE_DEBUG=1",
			      "OTEL_BSP_SCHEDULE_DELAY=soon", NULL };
	struct h_result res;

	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "2", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	cr_expect_str_eq(res.out, "connected 2\n");
	/* One warning line for the bad value, one report line at exit. */
	size_t lines = 0;
	for (const char *p = res.err; *p; p++)
		lines += *p == '\n';
	cr_expect_eq(lines, 2, "stderr:\n%s", res.err);
	cr_expect(strstr(res.err, "OTEL_BSP_SCHEDULE_DELAY=\"soon\""),
		  "stderr:\n%s", res.err);
	cr_expect(strstr(res.err, "spans started=2 sampled=2 exported=2 dropped=0"),
		  "stderr:\n%s", res.err);
	cr_expect_eq(at_receiver_span_count(e.rx), 2, "defaults still export");
	h_result_free(&res);
	h_env_stop(&e);
}

Test(core, resource_attributes_and_ratio_sampler, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = {
		e.ep,
		"OTEL_RESOURCE_ATTRIBUTES=service.name=from-attrs,deployment.environment.name=test%20env",
		"OTEL_TRACES_SAMPLER=traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.5",
		NULL
	};
	struct h_result res;
	struct at_rx_span *spans;

	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "200", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	size_t n = h_spans(e.rx, 0, 0, &spans);
	cr_expect_gt(n, 0);
	cr_expect_lt(n, 200);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *t = spans[i].span->trace_id.data;
		uint64_t key = 0;
		for (int b = 8; b < 16; b++)
			key = key << 8 | t[b];
		cr_expect_lt(key >> 1, 1ull << 62,
			     "trace id %s should not be sampled at 0.5",
			     h_hex(t, 16));
		cr_expect_str_eq(h_res_str(spans[i].resource, "service.name"),
				 "from-attrs");
		cr_expect_str_eq(h_res_str(spans[i].resource,
					   "deployment.environment.name"),
				 "test env");
	}
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

/* The exported bytes, decoded by the generated code of the official
 * OpenTelemetry protos (npm @opentelemetry/otlp-transformer), agree with
 * what protobuf-c decoded from our own .proto files. */
Test(core, official_decoder_agrees_on_exported_payloads, .timeout = 120)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	char cmd[512], want[128];
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=official-check", NULL };
	struct h_result res;
	struct at_rx_span *spans;
	int st;

	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "3", NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0);
	size_t n = h_spans(e.rx, 3, WAIT_MS, &spans);
	cr_assert_eq(n, 3);

	snprintf(cmd, sizeof(cmd), "node tests/tools/otlp-decode.js %s/req-*.pb",
		 e.dir);
	char *json = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "decoder failed: %s", json ? json : "");
	cr_assert(strstr(json, "\"SPAN_KIND_CLIENT\""), "%s", json);
	cr_assert(strstr(json, "\"official-check\""));
	cr_assert(strstr(json, "\"libautotrace\""));
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		snprintf(want, sizeof(want), "\"traceId\":\"%s\"",
			 h_hex(s->trace_id.data, 16));
		cr_expect(strstr(json, want), "missing %s", want);
		snprintf(want, sizeof(want), "\"spanId\":\"%s\"",
			 h_hex(s->span_id.data, 8));
		cr_expect(strstr(json, want), "missing %s", want);
		snprintf(want, sizeof(want), "\"startTimeUnixNano\":\"%llu\"",
			 (unsigned long long)s->start_time_unix_nano);
		cr_expect(strstr(json, want), "missing %s", want);
	}
	snprintf(want, sizeof(want),
		 "{\"key\":\"network.peer.port\",\"value\":{\"intValue\":\"%s\",\"value\":\"intValue\"}}",
		 e.port);
	cr_expect(strstr(json, want), "missing %s in %s", want, json);
	free(json);
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

/* An OTLP receiver made of standard parts only (Node's HTTP server and the
 * official protos' generated decoder) receives what the exporter sends,
 * plain and gzip'd. */
Test(programs, standard_node_receiver_understands_exports, .timeout = 120)
{
	struct h_http *http = h_http_start();
	char cmd[2048];
	int st;

	for (int gz = 0; gz < 2; gz++) {
		snprintf(cmd, sizeof(cmd),
			 "d=$(mktemp -d); "
			 "node tests/tools/otlp-http-receiver.js $d/port 3 >$d/out & rx=$!; "
			 "for i in $(seq 1 200); do [ -s $d/port ] && break; sleep 0.05; done; "
			 "env OTEL_SERVICE_NAME=node-check %s "
			 "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$(cat $d/port) "
			 "LD_PRELOAD=%s %s 127.0.0.1 %u 3 >/dev/null; "
			 "wait $rx; echo rx=$?; cat $d/out; rm -rf $d",
			 gz ? "OTEL_EXPORTER_OTLP_COMPRESSION=gzip" : "",
			 h_lib(), h_build_path("fixtures/tcp_client"),
			 h_http_port(http));
		char *out = h_shell(cmd, &st);
		cr_assert_not_null(out);
		cr_expect(strstr(out, "rx=0\n"), "receiver: %s", out);
		size_t lines = 0;
		for (char *p = strstr(out, "{\"service\":\"node-check\""); p;
		     p = strstr(p + 1, "{\"service\":\"node-check\""))
			lines++;
		cr_expect_eq(lines, 3, "%s", out);
		cr_expect(strstr(out, "\"name\":\"connect\",\"traceId\":\""));
		cr_expect(strstr(out, "\"kind\":3"));
		free(out);
	}
	h_http_stop(http);
}

/* A refused connect returns the same -1/errno under the library (the
 * fixture prints strerror(errno)), and the collector being absent changes
 * nothing either. */
Test(core, errno_and_result_unchanged, .timeout = 60)
{
	char port[8], absent[96];
	struct h_result bare, traced;

	snprintf(port, sizeof(port), "%u", h_closed_port());
	snprintf(absent, sizeof(absent),
		 "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u",
		 h_closed_port());
	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       port, "2", NULL };
	const char *env[] = { absent, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(bare.status, 2);
	cr_expect_eq(traced.status, bare.status);
	cr_expect_str_eq(bare.out, "failed: Connection refused\n");
	cr_expect_str_eq(traced.out, bare.out);
	cr_expect_str_eq(traced.err, "");
	h_result_free(&bare);
	h_result_free(&traced);
}

/* Unix-domain and UDP connects make no span. */
Test(core, unix_and_udp_connects_make_no_span, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, NULL };
	struct h_result res;
	const char *code =
		"import socket\n"
		"u = socket.socket(socket.AF_UNIX)\n"
		"try:\n u.connect('/nonexistent/autotrace.sock')\n"
		"except OSError as e:\n print('unix', e.errno)\n"
		"d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
		"d.connect(('127.0.0.1', 9)); print('udp ok')\n";
	const char *argv[] = { "python3", "-c", code, NULL };

	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "unix 2\nudp ok\n");
	cr_expect_eq(at_receiver_request_count(e.rx), 0);
	h_result_free(&res);
	h_env_stop(&e);
}

/* A collector that accepts and never answers holds exit for at most
 * AUTOTRACE_EXIT_TIMEOUT; the program's output and status are its own. */
Test(core, blackholed_collector_does_not_hold_exit, .timeout = 60)
{
	struct h_env e;
	cr_assert_eq(h_env_start(&e), 0);
	const char *env[] = { e.ep, "AUTOTRACE_EXIT_TIMEOUT=300", NULL };
	struct h_result res;
	struct timespec t0, t1;

	at_receiver_script(e.rx, 1, -1, NULL, 0, NULL);
	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "2", NULL };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_eq(res.status, 0);
	cr_expect_str_eq(res.out, "connected 2\n");
	cr_expect_str_eq(res.err, "");
	/* Generous: the point is "bounded", not a precise figure. */
	cr_expect_lt(t1.tv_sec - t0.tv_sec, 10, "exit took %ld s",
		     (long)(t1.tv_sec - t0.tv_sec));
	cr_expect_eq(at_receiver_request_count(e.rx), 1);
	h_result_free(&res);
	h_env_stop(&e);
}
