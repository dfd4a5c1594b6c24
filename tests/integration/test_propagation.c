/*
 * test_propagation.c - OTEL_PROPAGATORS end to end: a traced server
 * continues the context a caller sent in the configured formats (B3
 * single, B3 multiple headers, Jaeger, W3C traceparent; in order, a later
 * valid one winning), and writes the configured formats into the
 * requests it sends for it; W3C Baggage passes from the incoming request
 * to the outgoing one, and named entries become span attributes
 * (AUTOTRACE_BAGGAGE_ATTRIBUTES).
 *
 * A traced http_service (a legacy service that knows nothing of tracing)
 * relays each request it gets to a recording downstream server; requests
 * come from http_client (untraced) with the headers each case gives.  The
 * checks read the downstream's bytes and the exported spans.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 30000
#define WAIT_MS 30000
#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

static void send_request(const char *port, const char *path,
			 const char *const headers[])
{
	const char *argv[24];
	struct h_result res;
	size_t k = 0;

	argv[k++] = h_build_path("fixtures/http_client");
	argv[k++] = "--close";
	argv[k++] = "--path";
	argv[k++] = path;
	for (size_t i = 0; headers[i] && k < 20; i++) {
		argv[k++] = "--header";
		argv[k++] = headers[i];
	}
	argv[k++] = "127.0.0.1";
	argv[k++] = port;
	argv[k] = NULL;
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s: %s", path, res.err);
	h_result_free(&res);
}

/* The k-th head the downstream recorded (malloc'd), or NULL: the relay
 * calls GET /downstream once per request, in order (each request is
 * answered after its downstream call). */
static char *head_of(const char *recorded, size_t k)
{
	const char *start = recorded, *end;

	for (size_t i = 0;; i++) {
		start = strstr(start, "GET /downstream HTTP/1.");
		if (!start)
			return NULL;
		end = strstr(start, "\r\n\r\n");
		if (!end)
			return NULL;
		if (i == k)
			return strndup(start, (size_t)(end - start + 2));
		start = end;
	}
}

/* The value of header name in head (malloc'd), and how many there are. */
static char *field(const char *head, const char *name, int *count)
{
	size_t nl = strlen(name);
	char *val = NULL;

	*count = 0;
	for (const char *p = strstr(head, "\r\n"); p && p[2];) {
		const char *line = p + 2, *e = strstr(line, "\r\n");

		if (!e)
			break;
		if (!strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;

			while (*v == ' ')
				v++;
			(*count)++;
			free(val);
			val = strndup(v, (size_t)(e - v));
		}
		p = e;
	}
	return val;
}

/* The server span whose url.path is path. */
static const at_otlp_span *server_for(const struct at_rx_span *spans, size_t n,
				      const char *path)
{
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = spans[i].span;
		const char *u = h_attr_str(s, "url.path");

		if (s->kind == 2 && u && !strcmp(u, path))
			return s;
	}
	return NULL;
}

/* The client span (the relayed call) under server span srv. */
static const at_otlp_span *client_of(const struct at_rx_span *spans, size_t n,
				     const at_otlp_span *srv)
{
	for (size_t i = 0; srv && i < n; i++) {
		const at_otlp_span *s = spans[i].span;

		if (s->kind == 3 && s->parent_span_id.len == 8 &&
		    !memcmp(s->parent_span_id.data, srv->span_id.data, 8))
			return s;
	}
	return NULL;
}

struct relay_run {
	struct h_env e;
	struct h_rec rec;
	struct at_rx_span *spans;
	size_t n;
	char *recorded;
};

/* One traced relay with these extra variables, one request per case. */
static void run_relay(struct relay_run *r, const char *const extra[],
		      const char *const *const cases[], const char *const paths[],
		      size_t ncases)
{
	const char *env[8];
	size_t k = 0;
	char port[8];
	pid_t relay;

	cr_assert_eq(h_env_start(&r->e), 0);
	cr_assert_eq(h_rec_start(&r->rec), 0);
	env[k++] = r->e.ep;
	env[k++] = "OTEL_BSP_SCHEDULE_DELAY=50";
	for (size_t i = 0; extra[i]; i++)
		env[k++] = extra[i];
	env[k] = NULL;
	relay = h_start_relay(r->e.dir, r->rec.port, env, port);
	cr_assert_str_neq(port, "0", "http_service did not start");
	for (size_t i = 0; i < ncases; i++)
		send_request(port, paths[i], cases[i]);
	cr_expect_eq(h_stop(relay, RUN_MS), 0);
	r->recorded = h_rec_stop(&r->rec, NULL);
	cr_assert_not_null(r->recorded);
	r->n = h_spans(r->e.rx, 2 * ncases, WAIT_MS, &r->spans);
}

static void relay_done(struct relay_run *r)
{
	free(r->spans);
	free(r->recorded);
	h_env_stop(&r->e);
}

/* Every format in, every format out. */
Test(propagation, formats_in_and_out, .timeout = 180)
{
	static const char *const b3[] = { "b3: " TID "-" SID "-1", NULL };
	static const char *const b3m[] = { "X-B3-TraceId: " TID,
					   "X-B3-SpanId: " SID,
					   "X-B3-Sampled: 1", NULL };
	static const char *const jg[] = { "uber-trace-id: " TID ":" SID ":0:1",
					  NULL };
	static const char *const tp[] = { "traceparent: 00-" TID "-" SID "-01",
					  NULL };
	static const char *const *const cases[] = { b3, b3m, jg, tp };
	static const char *const paths[] = { "/b3", "/b3multi", "/jaeger",
					     "/tracecontext" };
	static const char *const extra[] = {
		"OTEL_PROPAGATORS=tracecontext,baggage,b3,b3multi,jaeger", NULL
	};
	struct relay_run r;

	run_relay(&r, extra, cases, paths, 4);
	for (size_t i = 0; i < 4; i++) {
		const at_otlp_span *srv = server_for(r.spans, r.n, paths[i]);
		const at_otlp_span *cli = client_of(r.spans, r.n, srv);
		char *head = head_of(r.recorded, i), *v, want[128];
		const char *cid;
		int c;

		cr_assert_not_null(srv, "%s: no server span", paths[i]);
		cr_assert_not_null(cli, "%s: no client span", paths[i]);
		cr_assert_not_null(head, "%s: not relayed", paths[i]);
		/* The caller's trace, whatever format brought it. */
		cr_expect_str_eq(h_hex(srv->trace_id.data, 16), TID, "%s", paths[i]);
		cr_expect_str_eq(h_hex(srv->parent_span_id.data, 8), SID, "%s",
				 paths[i]);
		/* Every configured format out, once, naming the client span. */
		cid = h_hex(cli->span_id.data, 8);
		v = field(head, "traceparent", &c);
		snprintf(want, sizeof(want), "00-%s-%s-01", TID, cid);
		cr_expect_eq(c, 1, "%s", paths[i]);
		cr_expect(v && !strcmp(v, want), "%s: traceparent %s", paths[i], v);
		free(v);
		v = field(head, "b3", &c);
		snprintf(want, sizeof(want), "%s-%s-1", TID, cid);
		cr_expect(c == 1 && v && !strcmp(v, want), "%s: b3 %s", paths[i], v);
		free(v);
		v = field(head, "X-B3-SpanId", &c);
		cr_expect(c == 1 && v && !strcmp(v, cid), "%s: X-B3-SpanId %s",
			  paths[i], v);
		free(v);
		v = field(head, "X-B3-TraceId", &c);
		cr_expect(c == 1 && v && !strcmp(v, TID), "%s", paths[i]);
		free(v);
		v = field(head, "uber-trace-id", &c);
		snprintf(want, sizeof(want), "%s:%s:0:01", TID, cid);
		cr_expect(c == 1 && v && !strcmp(v, want), "%s: uber-trace-id %s",
			  paths[i], v);
		free(v);
		free(head);
	}
	relay_done(&r);
}

/* Only the configured formats are read and written. */
Test(propagation, only_configured, .timeout = 180)
{
	static const char *const b3[] = { "b3: " TID "-" SID "-1", NULL };
	static const char *const *const cases[] = { b3 };
	static const char *const paths[] = { "/b3-ignored" };
	static const char *const jaeger_only[] = { "OTEL_PROPAGATORS=jaeger",
						   NULL };
	static const char *const none[] = { "OTEL_PROPAGATORS=none", NULL };
	struct relay_run r;
	const at_otlp_span *srv;
	char *head, *v;
	int c;

	/* jaeger only: the b3 caller is not continued; out goes
	 * uber-trace-id alone. */
	run_relay(&r, jaeger_only, cases, paths, 1);
	srv = server_for(r.spans, r.n, paths[0]);
	cr_assert_not_null(srv);
	cr_expect_str_neq(h_hex(srv->trace_id.data, 16), TID);
	cr_expect_eq(srv->parent_span_id.len, 0);
	head = head_of(r.recorded, 0);
	cr_assert_not_null(head);
	v = field(head, "traceparent", &c);
	cr_expect_eq(c, 0);
	free(v);
	v = field(head, "uber-trace-id", &c);
	cr_expect_eq(c, 1);
	cr_expect(v && !strncmp(v, h_hex(srv->trace_id.data, 16), 32), "%s", v);
	free(v);
	free(head);
	relay_done(&r);

	/* none: nothing read, nothing written; spans still made. */
	run_relay(&r, none, cases, paths, 1);
	srv = server_for(r.spans, r.n, paths[0]);
	cr_assert_not_null(srv);
	cr_expect_str_neq(h_hex(srv->trace_id.data, 16), TID);
	head = head_of(r.recorded, 0);
	cr_assert_not_null(head);
	cr_expect_null(strcasestr(head, "traceparent"), "%s", head);
	cr_expect_null(strcasestr(head, "uber-trace-id"), "%s", head);
	cr_expect_null(strcasestr(head, "\r\nb3:"), "%s", head);
	free(head);
	relay_done(&r);
}

/* Baggage: passed on from the incoming request (several fields, one
 * list), named entries on the spans; a request without baggage passes
 * none (not the previous request's). */
Test(propagation, baggage_passes_through, .timeout = 180)
{
	static const char *const with[] = {
		"traceparent: 00-" TID "-" SID "-01",
		"baggage: user.id=alice, tenant=t%201", "baggage: k=v;p", NULL
	};
	static const char *const without[] = { NULL };
	static const char *const *const cases[] = { with, without };
	static const char *const paths[] = { "/bag", "/nobag" };
	static const char *const extra[] = {
		"AUTOTRACE_BAGGAGE_ATTRIBUTES=user.id,tenant", NULL
	};
	struct relay_run r;
	const at_otlp_span *srv, *cli;
	char *head, *v;
	int c;

	run_relay(&r, extra, cases, paths, 2);
	head = head_of(r.recorded, 0);
	cr_assert_not_null(head);
	v = field(head, "baggage", &c);
	cr_expect_eq(c, 1);
	cr_expect(v && !strcmp(v, "user.id=alice,tenant=t%201,k=v;p"), "%s", v);
	free(v);
	free(head);
	srv = server_for(r.spans, r.n, "/bag");
	cli = client_of(r.spans, r.n, srv);
	cr_assert(srv && cli);
	cr_expect_str_eq(h_attr_str(srv, "user.id"), "alice");
	cr_expect_str_eq(h_attr_str(srv, "tenant"), "t 1");
	cr_expect_str_eq(h_attr_str(cli, "user.id"), "alice");
	head = head_of(r.recorded, 1);
	cr_assert_not_null(head);
	v = field(head, "baggage", &c);
	cr_expect_eq(c, 0, "%s", v);
	free(v);
	free(head);
	srv = server_for(r.spans, r.n, "/nobag");
	cr_assert_not_null(srv);
	cr_expect_null(h_attr_str(srv, "user.id"));
	relay_done(&r);
}

/* libcurl (the curl command): the configured formats and the process's
 * BAGGAGE go out; a format the application sent itself is not doubled,
 * and its context is continued. */
Test(propagation, libcurl_formats_and_baggage, .timeout = 120)
{
	struct h_env e;
	struct h_rec rec;
	struct h_result res;
	struct at_rx_span *spans;
	char url[64], *recorded, *head, *v;
	int c;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	cr_assert_eq(h_rec_start(&rec), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/x", rec.port);
	const char *env[] = { e.ep, "OTEL_PROPAGATORS=tracecontext,baggage,b3",
			      "BAGGAGE=k=v, user.id=bob", NULL };
	const char *plain[] = { "curl", "-s", "-o", "/dev/null", url, NULL };
	const char *own_b3[] = { "curl", "-s", "-o", "/dev/null", "-H",
				 "b3: " TID "-" SID "-1", url, NULL };
	cr_assert_eq(h_run(plain, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	cr_assert_eq(h_run(own_b3, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	recorded = h_rec_stop(&rec, NULL);
	cr_assert_not_null(recorded);
	n = h_spans(e.rx, 2, WAIT_MS, &spans);
	cr_assert_geq(n, 2);

	/* The first transfer: every configured format, and the baggage. */
	head = strstr(recorded, "GET /x HTTP/1.1");
	cr_assert_not_null(head);
	head = strndup(head, (size_t)(strstr(head, "\r\n\r\n") - head + 2));
	v = field(head, "b3", &c);
	cr_expect_eq(c, 1, "%s", head);
	free(v);
	v = field(head, "traceparent", &c);
	cr_expect_eq(c, 1, "%s", head);
	free(v);
	v = field(head, "baggage", &c);
	cr_expect(c == 1 && v && !strcmp(v, "k=v,user.id=bob"), "%s", head);
	free(v);
	free(head);
	/* The second: the application's b3 once, continued; traceparent
	 * added for the same span. */
	head = strstr(strstr(recorded, "GET /x HTTP/1.1") + 1, "GET /x HTTP/1.1");
	cr_assert_not_null(head);
	head = strndup(head, (size_t)(strstr(head, "\r\n\r\n") - head + 2));
	v = field(head, "b3", &c);
	cr_expect(c == 1 && v && !strcmp(v, TID "-" SID "-1"), "%s", head);
	free(v);
	v = field(head, "traceparent", &c);
	cr_expect(c == 1 && v && !strncmp(v, "00-" TID "-", 36), "%s", head);
	free(v);
	free(head);
	free(spans);
	free(recorded);
	h_env_stop(&e);
}

/* A child process started for a request gets its baggage in BAGGAGE
 * (the environment carrier); one started for a request without baggage
 * gets none. */
Test(propagation, baggage_to_children, .timeout = 120)
{
	static const char code[] =
		"import http.server, subprocess, sys\n"
		"class H(http.server.BaseHTTPRequestHandler):\n"
		"    def do_GET(self):\n"
		"        out = subprocess.check_output(['sh', '-c', 'echo \"BAG=$BAGGAGE\"'])\n"
		"        self.send_response(200)\n"
		"        self.send_header('Content-Length', str(len(out)))\n"
		"        self.end_headers()\n"
		"        self.wfile.write(out)\n"
		"    def log_message(self, *a): pass\n"
		"s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
		"open(sys.argv[1] + '.tmp', 'w').write(str(s.server_address[1]) + '\\n')\n"
		"import os; os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
		"s.handle_request(); s.handle_request()\n";
	struct h_env e;
	struct h_result res;
	char pf[256], url[64];
	pid_t srv;

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(pf, sizeof(pf), "%s/bag-port", e.dir);
	const char *argv[] = { "/usr/bin/python3", "-c", code, pf, NULL };
	const char *env[] = { e.ep, NULL };
	srv = h_start(argv, env, true, NULL);
	cr_assert_gt(srv, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", h_read_port(pf, RUN_MS));
	const char *with[] = { "curl", "-s", "-H", "baggage: user.id=alice, k=v", url,
			       NULL };
	const char *without[] = { "curl", "-s", url, NULL };
	cr_assert_eq(h_run(with, NULL, false, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "BAG=user.id=alice,k=v\n");
	h_result_free(&res);
	cr_assert_eq(h_run(without, NULL, false, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "BAG=\n");
	h_result_free(&res);
	cr_expect_eq(h_wait_exit(srv, RUN_MS), 0);
	h_env_stop(&e);
}
