/*
 * Integration tests of HTTP/1.x over libc sockets: real clients and servers
 * (curl, nginx, Python's http.server and urllib, the project's C fixtures)
 * with the library preloaded, exporting to a receiver started by the test.
 *
 * A byte-exact check compares what a recording server received from a
 * traced client with what it received from the same client bare: the only
 * difference allowed is one injected header line per request, the last
 * line of its head (right before the blank line), carrying the client
 * span's context.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 30000
#define WAIT_MS 10000
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT

/* Servers export on a short schedule so nothing waits on 5 s timers. */
#define FAST_EXPORT "OTEL_BSP_SCHEDULE_DELAY=50"

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/autotrace-http-XXXXXX";
	return strdup(mkdtemp(tmpl));
}

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static int same_id(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && a->len && memcmp(a->data, b->data, a->len) == 0;
}

/* ---- byte-exact comparison against a recording server ---- */

static void rec_start(struct h_rec *r)
{
	cr_assert_eq(h_rec_start(r), 0, "record_server did not start");
}

/* Run http_client with args bare and traced against fresh recording
 * servers; the traced bytes minus the injected lines equal the bare ones,
 * `injected` lines in all, each matching a CLIENT span; a CLIENT span per
 * request either way. */
static void byte_exact_inj(const char *const args[], int requests,
			   int injected)
{
	struct h_env e;
	struct h_rec rb, rt;
	struct h_result bare, traced;
	const char *argv[32];
	char port_b[8], port_t[8], tps[16][56];
	size_t lb, lt, n, k = 0;
	int ninj;
	struct at_rx_span *spans;

	cr_assert_eq(h_env_start(&e), 0);
	rec_start(&rb);
	rec_start(&rt);
	snprintf(port_b, sizeof(port_b), "%u", rb.port);
	snprintf(port_t, sizeof(port_t), "%u", rt.port);
	argv[k++] = h_build_path("fixtures/http_client");
	argv[k++] = "--host";
	argv[k++] = "example.test";
	for (size_t i = 0; args[i]; i++)
		argv[k++] = args[i];
	argv[k++] = "127.0.0.1";
	argv[k++] = port_b;
	argv[k] = NULL;
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	argv[k - 1] = port_t;
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_assert_eq(bare.status, 0, "bare client failed: %s", bare.err);
	cr_expect_eq(traced.status, 0, "traced client failed: %s", traced.err);
	cr_expect_str_eq(traced.out, bare.out);

	char *b = h_rec_stop(&rb, &lb);
	char *t = h_rec_stop(&rt, &lt);
	cr_assert(b && t);
	lt = h_strip_injected(t, lt, tps, 16, &ninj);
	cr_expect_eq(ninj, injected, "injected lines: %d", ninj);
	cr_expect_eq(lt, lb, "byte counts differ after removing the lines");
	cr_expect(lt == lb && memcmp(t, b, lb) == 0,
		  "bytes differ:\n--- bare\n%.*s\n--- traced\n%.*s",
		  (int)(lb > 600 ? 600 : lb), b, (int)(lt > 600 ? 600 : lt), t);

	n = h_spans(e.rx, (size_t)requests, WAIT_MS, &spans);
	int clients = 0;
	for (size_t j = 0; j < n; j++)
		clients += spans[j].span->kind == KIND_CLIENT &&
			   h_attr_str(spans[j].span, "http.request.method");
	cr_expect_eq(clients, requests, "client spans: %d", clients);
	for (int i = 0; i < ninj && i < 16; i++) {
		int found = 0;
		for (size_t j = 0; j < n; j++) {
			char tp[56];
			if (spans[j].span->kind != KIND_CLIENT ||
			    strcmp(spans[j].span->name, "connect") == 0)
				continue;
			h_span_traceparent(spans[j].span, tp);
			found |= strcmp(tp, tps[i]) == 0;
		}
		cr_expect(found, "injected %s matches no client span", tps[i]);
	}
	free(spans);
	free(b);
	free(t);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
}

static void byte_exact(const char *const args[], int requests)
{
	byte_exact_inj(args, requests, requests);
}

Test(http, byte_exact_send) { const char *a[] = { "--mode", "send", NULL }; byte_exact(a, 1); }
Test(http, byte_exact_write) { const char *a[] = { "--mode", "write", NULL }; byte_exact(a, 1); }
Test(http, byte_exact_sendto) { const char *a[] = { "--mode", "sendto", NULL }; byte_exact(a, 1); }
Test(http, byte_exact_sendmsg_iovecs) { const char *a[] = { "--mode", "sendmsg", NULL }; byte_exact(a, 1); }
Test(http, byte_exact_writev_split) { const char *a[] = { "--mode", "writev", NULL }; byte_exact(a, 1); }
Test(http, byte_exact_split_writes) { const char *a[] = { "--mode", "split", NULL }; byte_exact(a, 1); }
/* The blank line's CR and LF in two calls: the CR went out before the head
 * was known complete, so there is no place left for the line (nothing is
 * held back); the request still has its span. */
Test(http, byte_exact_bytewise)
{
	const char *a[] = { "--mode", "bytewise", NULL };
	byte_exact_inj(a, 1, 0);
}
Test(http, byte_exact_nonblocking_partial_writes, .timeout = 60)
{
	/* A 12 KB head: larger than the smallest socket buffer, within what
	 * the library traces (AT_HTTP_HEAD_MAX). */
	const char *a[] = { "--mode", "nonblock", "--pad", "12000", "--count",
			    "3", NULL };
	byte_exact(a, 3);
}
Test(http, byte_exact_eintr_storm, .timeout = 60)
{
	const char *a[] = { "--mode", "split", "--eintr", "--count", "5", NULL };
	byte_exact(a, 5);
}
Test(http, byte_exact_keepalive_with_bodies)
{
	const char *a[] = { "--count", "4", "--method", "POST", "--body",
			    "hello=world", NULL };
	byte_exact(a, 4);
}
Test(http, byte_exact_chunked_body)
{
	const char *a[] = { "--count", "2", "--method", "PUT",
			    "--chunked-body", "some chunked data", NULL };
	byte_exact(a, 2);
}
Test(http, byte_exact_pipelining)
{
	const char *a[] = { "--count", "4", "--pipeline", NULL };
	byte_exact(a, 4);
}

/* A program that sends its own traceparent gets no second one; our span
 * becomes the child of its context. */
Test(http, app_traceparent_is_kept_and_parents_the_span)
{
	struct h_env e;
	struct h_rec r;
	struct h_result res;
	struct at_rx_span *spans;
	char port[8];
	const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	char hdr[128];

	cr_assert_eq(h_env_start(&e), 0);
	rec_start(&r);
	snprintf(port, sizeof(port), "%u", r.port);
	snprintf(hdr, sizeof(hdr), "traceparent: %s", tp);
	const char *argv[] = { h_build_path("fixtures/http_client"), "--header",
			       hdr, "127.0.0.1", port, NULL };
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "%s", res.err);
	char *bytes = h_rec_stop(&r, NULL);
	int count = 0;
	for (char *p = strstr(bytes, "traceparent"); p; p = strstr(p + 1, "traceparent"))
		count++;
	cr_expect_eq(count, 1, "exactly the program's own header:\n%s", bytes);
	cr_expect(strstr(bytes, tp));
	size_t n = h_spans(e.rx, 2, WAIT_MS, &spans);
	const at_otlp_span *get = h_find_span(spans, n, "GET", KIND_CLIENT);
	cr_assert_not_null(get);
	cr_expect_str_eq(h_hex(get->trace_id.data, 16),
			 "4bf92f3577b34da6a3ce929d0e0e4736");
	cr_expect_str_eq(h_hex(get->parent_span_id.data, 8), "00f067aa0ba902b7");
	free(bytes);
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

/* Bytes that only look like HTTP pass through untouched. */
Test(http, non_http_bytes_pass_through)
{
	struct h_env e;
	struct h_rec r;
	struct h_result res;
	char code[1024];

	cr_assert_eq(h_env_start(&e), 0);
	rec_start(&r);
	snprintf(code, sizeof(code),
		 "import socket, sys\n"
		 "s = socket.create_connection(('127.0.0.1', %u))\n"
		 "s.sendall(b'GET \\x00\\x01\\x02 binary\\r\\n\\r\\n')\n"
		 "s.sendall(b'\\x16\\x03\\x01\\x00\\x05hello')\n"
		 "s.close()\n"
		 "s = socket.create_connection(('127.0.0.1', %u))\n"
		 "s.sendall(b'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n')\n"
		 "s.close()\n", r.port, r.port);
	const char *argv[] = { "python3", "-c", code, NULL };
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "%s", res.err);
	size_t len;
	char *bytes = h_rec_stop(&r, &len);
	static const char want[] = "GET \x00\x01\x02 binary\r\n\r\n\x16\x03\x01\x00\x05hello"
				   "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	cr_expect_eq(len, sizeof(want) - 1);
	cr_expect_eq(memcmp(bytes, want, sizeof(want) - 1), 0);
	free(bytes);
	h_result_free(&res);
	h_env_stop(&e);
}

static size_t count_in(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- nginx, driven by curl and by the C client ---- */

struct nginx {
	char *dir;
	pid_t pid;
	uint16_t port;
};

static void nginx_start(struct nginx *ng)
{
	ng->dir = tmpdir();
	const char *argv[] = { "sh", "tests/fixtures/nginx/nginx-run.sh",
			       ng->dir, NULL };
	ng->pid = h_start(argv, NULL, false, NULL);
	char *pf = path_in(ng->dir, "port");
	ng->port = h_read_port(pf, WAIT_MS);
	free(pf);
	cr_assert_neq(ng->port, 0, "nginx did not start");
	cr_assert_eq(h_wait_port(ng->port, WAIT_MS), 0, "nginx not listening");
}

/* The access log's lines, after stopping nginx. */
static char *nginx_stop(struct nginx *ng)
{
	h_stop(ng->pid, 5000);
	char *p = path_in(ng->dir, "access.log");
	char *log = h_read_file(p, NULL);
	free(p);
	return log;
}

Test(programs, curl_to_nginx_traceparent_matches_span, .timeout = 60)
{
	struct h_env e;
	struct nginx ng;
	struct h_result res;
	struct at_rx_span *spans;
	char url[128], url2[128], url3[128];

	cr_assert_eq(h_env_start(&e), 0);
	nginx_start(&ng);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/?q=secret", ng.port);
	snprintf(url2, sizeof(url2), "http://127.0.0.1:%u/missing", ng.port);
	snprintf(url3, sizeof(url3), "http://127.0.0.1:%u/redirect", ng.port);
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=curl", NULL };
	const char *a1[] = { "curl", "-s", url, NULL };
	const char *a2[] = { "curl", "-s", "-o", "/dev/null", url2, NULL };
	const char *a3[] = { "curl", "-s", "-L", url3, NULL };
	cr_assert_eq(h_run(a1, env, true, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "nginx ok\n");
	h_result_free(&res);
	cr_assert_eq(h_run(a2, env, true, RUN_MS, &res), 0);
	h_result_free(&res);
	cr_assert_eq(h_run(a3, env, true, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "nginx ok\n");
	h_result_free(&res);
	char *log = nginx_stop(&ng);
	cr_assert_not_null(log);

	size_t n = h_spans(e.rx, 6, WAIT_MS, &spans);
	size_t gets = 0;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		char tp[56], want[160];
		if (strcmp(s->name, "GET") != 0)
			continue;
		gets++;
		cr_expect_eq(s->kind, KIND_CLIENT);
		h_span_traceparent(s, tp);
		const char *u = h_attr_str(s, "url.full");
		int64_t st = h_attr_int(s, "http.response.status_code", -1);
		cr_assert(u, "url.full");
		cr_expect(strstr(log, tp), "nginx did not log %s:\n%s", tp, log);
		snprintf(want, sizeof(want), "%" PRId64 " \"%s\"", st, tp);
		cr_expect(strstr(log, want), "log line for %s: %s", want, log);
		cr_expect_eq(count_in(log, tp), strstr(u, "/redirect") ? 2 : 1,
			     "one traceparent per request on the wire, the same on the redirect");
		cr_expect_str_eq(h_attr_str(s, "http.request.method"), "GET");
		cr_expect_str_eq(h_attr_str(s, "server.address"), "127.0.0.1");
		cr_expect_eq(h_attr_int(s, "server.port", -1), ng.port);
		cr_expect_str_eq(h_attr_str(s, "network.protocol.version"), "1.1");
		cr_expect_str_eq(h_attr_str(s, "network.peer.address"), "127.0.0.1");
		if (strstr(u, "/redirect")) {
			/* One transfer, redirect followed with the same header. */
			cr_expect_eq(h_attr_int(s, "http.request.resend_count", 0), 1);
		} else if (strstr(u, "/missing")) {
			cr_expect_eq(st, 404);
			cr_expect_str_eq(h_attr_str(s, "error.type"), "404");
			cr_expect(s->status && s->status->code == 2);
		} else if (strstr(u, "?q=")) {
			cr_expect_eq(st, 200);
			cr_expect(strstr(u, "q=REDACTED"), "%s", u);
			cr_expect(!strstr(u, "secret"));
		}
	}
	cr_expect_eq(gets, 3, "/, /missing, and /redirect (followed: one transfer)");
	cr_expect(!strstr(log, " \"-\" \""),
		  "every request carried a traceparent:\n%s", log);
	free(log);
	free(spans);
	free(ng.dir);
	h_env_stop(&e);
}

Test(http, c_client_every_mode_to_nginx, .timeout = 120)
{
	static const char *const modes[][6] = {
		{ "--mode", "send", "--count", "3", NULL },
		{ "--mode", "write", "--count", "3", NULL },
		{ "--mode", "sendmsg", "--count", "3", NULL },
		{ "--mode", "writev", "--count", "3", NULL },
		{ "--mode", "split", "--count", "3", NULL },
		{ "--mode", "nonblock", "--pad", "12000", "--count", NULL },
		{ "--count", "3", "--pipeline", NULL },
	};
	struct h_env e;
	struct nginx ng;
	struct at_rx_span *spans;
	char port[8];
	size_t requests = 0;

	cr_assert_eq(h_env_start(&e), 0);
	nginx_start(&ng);
	snprintf(port, sizeof(port), "%u", ng.port);
	const char *env[] = { e.ep, NULL };
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		const char *argv[16];
		struct h_result res;
		size_t k = 0;

		argv[k++] = h_build_path("fixtures/http_client");
		for (size_t i = 0; modes[m][i]; i++)
			argv[k++] = modes[m][i];
		if (!strcmp(argv[k - 1], "--count"))
			argv[k++] = "2";
		argv[k++] = "127.0.0.1";
		argv[k++] = port;
		argv[k] = NULL;
		cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
		cr_expect_eq(res.status, 0, "mode %zu: %s", m, res.err);
		for (const char *p = res.out; (p = strstr(p, "status 200")); p++)
			requests++;
		h_result_free(&res);
	}
	char *log = nginx_stop(&ng);
	size_t n = h_spans(e.rx, 2 * requests, WAIT_MS, &spans), gets = 0;
	for (size_t i = 0; i < n; i++) {
		char tp[56];
		if (strcmp(spans[i].span->name, "GET"))
			continue;
		gets++;
		h_span_traceparent(spans[i].span, tp);
		cr_expect(strstr(log, tp), "%s not in\n%s", tp, log);
		cr_expect_eq(h_attr_int(spans[i].span, "http.response.status_code", -1), 200);
	}
	cr_expect_eq(requests, 20);
	cr_expect_eq(gets, requests, "one GET span per request");
	cr_expect(!strstr(log, " \"-\" \""), "every request carried a traceparent:\n%s", log);
	free(log);
	free(spans);
	free(ng.dir);
	h_env_stop(&e);
}

/* ---- servers ---- */

struct svc {
	char *dir, *port_file;
	pid_t pid;
	uint16_t port;
};

static void svc_start(struct svc *s, const char *const argv_tail[],
		      const char *const env[], const char *prog_py)
{
	const char *argv[16];
	size_t k = 0;

	s->dir = tmpdir();
	s->port_file = path_in(s->dir, "port");
	if (prog_py) {
		argv[k++] = "python3";
		argv[k++] = prog_py;
	} else {
		argv[k++] = h_build_path("fixtures/http_service");
	}
	argv[k++] = s->port_file;
	for (size_t i = 0; argv_tail && argv_tail[i]; i++)
		argv[k++] = argv_tail[i];
	argv[k] = NULL;
	s->pid = h_start(argv, env, true, NULL);
	/* Generous: a Python service under the ASan library on a busy
	 * machine takes seconds to start (a condition, not a sleep). */
	s->port = h_read_port(s->port_file, 3 * WAIT_MS);
	cr_assert_neq(s->port, 0, "service did not start");
	cr_assert_eq(h_wait_port(s->port, WAIT_MS), 0);
}

static void svc_stop(struct svc *s)
{
	cr_expect_eq(h_stop(s->pid, 10000), 0, "service exit status");
	free(s->dir);
	free(s->port_file);
}

static const at_otlp_span *find_child(const struct at_rx_span *sp, size_t n,
				      const at_otlp_span *parent, int kind,
				      const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		if ((int)s->kind == kind && same_id(&s->parent_span_id, &parent->span_id) &&
		    (!name || strcmp(s->name, name) == 0))
			return s;
	}
	return NULL;
}

/* client -> A (thread per connection) -> B (sequential): one trace. */
Test(http, two_services_make_one_trace, .timeout = 90)
{
	struct h_env e;
	struct svc a, b;
	struct h_result res;
	struct at_rx_span *spans;
	char down[64], port[8];

	cr_assert_eq(h_env_start(&e), 0);
	const char *envb[] = { e.ep, FAST_EXPORT, "OTEL_SERVICE_NAME=service-b", NULL };
	const char *tb[] = { "--sequential", NULL };
	svc_start(&b, tb, envb, NULL);
	snprintf(down, sizeof(down), "127.0.0.1:%u", b.port);
	const char *enva[] = { e.ep, FAST_EXPORT, "OTEL_SERVICE_NAME=service-a", NULL };
	const char *ta[] = { "--threads", "--downstream", down, NULL };
	svc_start(&a, ta, enva, NULL);

	snprintf(port, sizeof(port), "%u", a.port);
	const char *envc[] = { e.ep, "OTEL_SERVICE_NAME=client", NULL };
	const char *argv[] = { h_build_path("fixtures/http_client"), "--path",
			       "/hello?name=x", "127.0.0.1", port, NULL };
	cr_assert_eq(h_run(argv, envc, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "status 200 body 15\n"); /* "service ok 200\n" */
	svc_stop(&a);
	svc_stop(&b);

	size_t n = h_spans(e.rx, 7, WAIT_MS, &spans);
	const at_otlp_span *c = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(h_res_str(spans[i].resource, "service.name"), "client") &&
		    !strcmp(spans[i].span->name, "GET"))
			c = spans[i].span;
	cr_assert_not_null(c, "client span");
	const at_otlp_span *sa = find_child(spans, n, c, KIND_SERVER, "GET");
	cr_assert_not_null(sa, "A's server span is the client span's child");
	cr_expect_str_eq(h_attr_str(sa, "url.path"), "/hello");
	cr_expect_str_eq(h_attr_str(sa, "url.query"), "name=REDACTED");
	cr_expect_str_eq(h_attr_str(sa, "url.scheme"), "http");
	cr_expect_eq(h_attr_int(sa, "http.response.status_code", -1), 200);
	cr_expect_str_eq(h_attr_str(sa, "client.address"), "127.0.0.1");
	const at_otlp_span *ca = find_child(spans, n, sa, KIND_CLIENT, "GET");
	cr_assert_not_null(ca, "A's client span is its server span's child");
	const at_otlp_span *cn = find_child(spans, n, ca, KIND_CLIENT, "connect");
	cr_expect_not_null(cn, "A's connect is its request's child");
	const at_otlp_span *sb = find_child(spans, n, ca, KIND_SERVER, "GET");
	cr_assert_not_null(sb, "B's server span is A's client span's child");
	cr_expect_null(find_child(spans, n, sb, 0, NULL), "B's span has no children");
	for (size_t i = 0; i < n; i++)
		if (strcmp(h_res_str(spans[i].resource, "service.name"), "client") ||
		    strcmp(spans[i].span->name, "connect"))
			cr_expect(same_id(&spans[i].span->trace_id, &c->trace_id),
				  "span %s of %s in another trace", spans[i].span->name,
				  h_res_str(spans[i].resource, "service.name"));
	free(spans);
	h_env_stop(&e);
}

/* A malformed incoming traceparent starts a new trace, which is what the
 * service propagates downstream. */
Test(http, malformed_incoming_traceparent_is_not_propagated, .timeout = 90)
{
	static const char *bad[] = {
		"traceparent: 00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
		"traceparent: ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"traceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
	};
	struct h_env e;
	struct svc a, b;
	char down[64], port[8];

	cr_assert_eq(h_env_start(&e), 0);
	const char *envb[] = { e.ep, FAST_EXPORT, "OTEL_SERVICE_NAME=b", NULL };
	svc_start(&b, NULL, envb, NULL);
	snprintf(down, sizeof(down), "127.0.0.1:%u", b.port);
	const char *enva[] = { e.ep, FAST_EXPORT, "OTEL_SERVICE_NAME=a", NULL };
	const char *ta[] = { "--downstream", down, NULL };
	svc_start(&a, ta, enva, NULL);
	snprintf(port, sizeof(port), "%u", a.port);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct h_result res;
		const char *argv[] = { h_build_path("fixtures/http_client"),
				       "--header", bad[i], "127.0.0.1", port, NULL };
		cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &res), 0);
		cr_expect_eq(res.status, 0, "%s", res.err);
		h_result_free(&res);
	}
	svc_stop(&a);
	svc_stop(&b);
	struct at_rx_span *spans;
	size_t n = h_spans(e.rx, 18, WAIT_MS, &spans), servers = 0;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		if (s->kind != KIND_SERVER || strcmp(h_res_str(spans[i].resource, "service.name"), "a"))
			continue;
		servers++;
		cr_expect_eq(s->parent_span_id.len, 0, "a new trace, not a child");
		cr_expect_str_neq(h_hex(s->trace_id.data, 16),
				  "0af7651916cd43dd8448eb211c80319c");
		cr_expect_not_null(find_child(spans, n, s, KIND_CLIENT, "GET"),
				   "downstream call in A's new trace");
	}
	cr_expect_eq(servers, sizeof(bad) / sizeof(bad[0]));
	free(spans);
	h_env_stop(&e);
}

/* Python: ThreadingHTTPServer (accepts on the main thread, answers on a
 * new one) under the library, called by urllib under the library. */
Test(http, python_server_and_urllib_client, .timeout = 90)
{
	struct h_env e;
	struct svc py;
	struct h_result res;
	struct at_rx_span *spans;
	char code[512];

	cr_assert_eq(h_env_start(&e), 0);
	const char *envs[] = { e.ep, FAST_EXPORT, "OTEL_SERVICE_NAME=py-server", NULL };
	svc_start(&py, NULL, envs, "tests/fixtures/py/threading_server.py");
	snprintf(code, sizeof(code),
		 "import urllib.request as u\n"
		 "for p in ('/a', '/b', '/fail'):\n"
		 "  try: print(u.urlopen('http://127.0.0.1:%u' + p).status)\n"
		 "  except Exception as x: print(x.code)\n", py.port);
	const char *argv[] = { "python3", "-c", code, NULL };
	const char *envc[] = { e.ep, "OTEL_SERVICE_NAME=py-client", NULL };
	cr_assert_eq(h_run(argv, envc, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "200\n200\n500\n");
	svc_stop(&py);
	size_t n = h_spans(e.rx, 9, WAIT_MS, &spans), pairs = 0;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *c = spans[i].span;
		if (c->kind != KIND_CLIENT || strcmp(c->name, "GET"))
			continue;
		const at_otlp_span *s = find_child(spans, n, c, KIND_SERVER, "GET");
		cr_assert_not_null(s, "server span under %s", h_attr_str(c, "url.full"));
		pairs++;
		int64_t st = h_attr_int(s, "http.response.status_code", -1);
		cr_expect_eq(st, h_attr_int(c, "http.response.status_code", -2));
		cr_expect(h_attr_str(s, "user_agent.original") &&
			  strstr(h_attr_str(s, "user_agent.original"), "Python-urllib"));
		if (st == 500) {
			cr_expect_str_eq(h_attr_str(s, "error.type"), "500");
			cr_expect(s->status && s->status->code == 2);
			cr_expect(c->status && c->status->code == 2);
		}
	}
	cr_expect_eq(pairs, 3);
	free(spans);
	h_env_stop(&e);
}

/* A name lookup inside a server span is its child. */
Test(http, dns_lookup_inside_a_request, .timeout = 90)
{
	struct h_env e;
	struct svc py, down;
	struct h_result res;
	struct at_rx_span *spans;
	char url[96], port[8];

	cr_assert_eq(h_env_start(&e), 0);
	const char *envd[] = { e.ep, FAST_EXPORT, NULL };
	svc_start(&down, NULL, envd, NULL);
	snprintf(url, sizeof(url), "http://localhost:%u/", down.port);
	const char *ta[] = { "--downstream", url, NULL };
	const char *envs[] = { e.ep, FAST_EXPORT, "OTEL_SERVICE_NAME=py", NULL };
	svc_start(&py, ta, envs, "tests/fixtures/py/threading_server.py");
	snprintf(port, sizeof(port), "%u", py.port);
	const char *argv[] = { h_build_path("fixtures/http_client"), "127.0.0.1",
			       port, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	svc_stop(&py);
	svc_stop(&down);
	size_t n = h_spans(e.rx, 4, WAIT_MS, &spans);
	const at_otlp_span *srv = NULL;
	for (size_t i = 0; i < n; i++)
		if (spans[i].span->kind == KIND_SERVER &&
		    !strcmp(h_res_str(spans[i].resource, "service.name"), "py"))
			srv = spans[i].span;
	cr_assert_not_null(srv);
	const at_otlp_span *dns = find_child(spans, n, srv, KIND_CLIENT, "getaddrinfo");
	cr_assert_not_null(dns, "getaddrinfo under the request");
	cr_expect_str_eq(h_attr_str(dns, "dns.question.name"), "localhost");
	cr_expect_geq(h_attr_int(dns, "autotrace.dns.result_count", 0), 1);
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}

/* Methods outside the HTTP registry: _OTHER plus the original. */
Test(http, unknown_method_is_other)
{
	struct h_env e;
	struct h_rec r;
	struct h_result res;
	struct at_rx_span *spans;
	char port[8];

	cr_assert_eq(h_env_start(&e), 0);
	rec_start(&r);
	snprintf(port, sizeof(port), "%u", r.port);
	const char *argv[] = { h_build_path("fixtures/http_client"), "--method",
			       "PROPFIND", "127.0.0.1", port, NULL };
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "%s", res.err);
	free(h_rec_stop(&r, NULL));
	size_t n = h_spans(e.rx, 2, WAIT_MS, &spans);
	const at_otlp_span *s = h_find_span(spans, n, "HTTP", KIND_CLIENT);
	cr_assert_not_null(s, "span named HTTP for an unknown method");
	cr_expect_str_eq(h_attr_str(s, "http.request.method"), "_OTHER");
	cr_expect_str_eq(h_attr_str(s, "http.request.method_original"), "PROPFIND");
	free(spans);
	h_result_free(&res);
	h_env_stop(&e);
}
