/*
 * Integration tests of what the library does with request heads that are
 * unfinished, unusual or not its to change (issue 12): a head that never
 * completes goes out as the program wrote it, whatever the program does
 * next (waits for the peer by poll, select, epoll, recv, read or another
 * thread; shuts the socket down, closes it, exits, execs), and an
 * HTTP/0.9-style line protocol gets its answers; a bare-LF head gets a
 * bare-LF line, a head mixing line ends none; CONNECT and its tunnel are
 * left alone; a head with its own traceparent, valid or not, gets no
 * second one.
 *
 * Each case runs a real program bare, then traced, against one server the
 * test starts, which records every byte: the recording must be the bare
 * bytes twice (or, where a line is injected, exactly the bare bytes plus
 * that line), and both runs must print the same and exit the same.  Waits
 * are on conditions with timeouts; the program's own waits are bounded
 * (5 s) so that the old behaviour (bytes held back) fails rather than
 * hangs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 20000
#define WAIT_MS 10000
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
#define PARTIAL "tests/fixtures/py/partial_client.py"

/* The unfinished heads of the issue, as partial_client writes them
 * (escaped) and as they are on the wire. */
static const struct {
	const char *arg, *wire;
} heads[] = {
	{ "GET / HTTP/1.1\\r\\n", "GET / HTTP/1.1\r\n" },
	{ "GET", "GET" },
	{ "HEAD /x", "HEAD /x" },
	{ "POST /p HTTP/1.1\\r\\nHost: a\\r\\nContent-Length: 5\\r\\n",
	  "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n" },
};
#define N_HEADS (sizeof(heads) / sizeof(heads[0]))

static char *cat2(const char *a, const char *b)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s", a, b) < 0)
		abort();
	return s;
}

/*
 * Run argv bare, then traced (exporting to e), against the server whose
 * record file is rec_file; `want` are the bytes the bare run sends.  The
 * recording must become want twice over, the outputs and exit codes the
 * same, and the bare output `out` (if not NULL).
 */
static void bare_then_traced(struct h_env *e, struct h_rec *rec,
			     const char *const argv[], const char *want,
			     const char *out)
{
	struct h_result bare, traced;
	const char *env[] = { e->ep, NULL };
	char *twice = cat2(want, want);
	size_t len;

	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_expect_eq(bare.status, 0, "bare: %s", bare.err);
	if (out)
		cr_expect_str_eq(bare.out, out, "bare: %s", bare.err);
	cr_expect_eq(h_wait_file_has(rec->out_file, want, WAIT_MS), 0,
		     "the bare bytes arrived");
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(traced.status, bare.status, "traced: %s", traced.err);
	cr_expect_str_eq(traced.out, bare.out, "traced: %s", traced.err);
	cr_expect_eq(h_wait_file_has(rec->out_file, twice, WAIT_MS), 0,
		     "the traced bytes arrived");
	char *got = h_rec_stop(rec, &len);
	cr_assert(got);
	cr_expect(len == strlen(twice) && memcmp(got, twice, len) == 0,
		  "server received:\n%s\nwant (bare, then traced):\n%s", got,
		  twice);
	free(got);
	free(twice);
	h_result_free(&bare);
	h_result_free(&traced);
}

/* partial_client WAIT END with each unfinished head sent alone, against
 * a record_server that acknowledges every read ("ack N"): with a WAIT,
 * the program waits for the proof that its bytes arrived. */
static void partial_heads(const char *wait, const char *end)
{
	struct h_env e;

	cr_assert_eq(h_env_start(&e), 0);
	for (size_t i = 0; i < N_HEADS; i++) {
		const char *opts[] = { "--answer", "ack", NULL };
		struct h_rec rec;
		char port[8], send[256], expect[64], out[80];
		bool waits = strcmp(wait, "none") != 0;

		cr_assert_eq(h_rec_start_with(&rec, opts), 0);
		snprintf(port, sizeof(port), "%u", rec.port);
		snprintf(send, sizeof(send), "send:%s", heads[i].arg);
		snprintf(expect, sizeof(expect), "expect:ack %zu\n",
			 strlen(heads[i].wire));
		snprintf(out, sizeof(out), "got ack %zu\n\n",
			 strlen(heads[i].wire));
		const char *argv[] = { "python3", PARTIAL, port, wait, end,
				       send, waits ? expect : NULL, NULL };
		cr_log_info("%s / %s: %s", wait, end, heads[i].arg);
		bare_then_traced(&e, &rec, argv, heads[i].wire,
				 waits ? out : "");
	}
	h_env_stop(&e);
}

Test(http, unfinished_head_then_poll, .timeout = 120) { partial_heads("poll", "close"); }
Test(http, unfinished_head_then_select, .timeout = 120) { partial_heads("select", "close"); }
Test(http, unfinished_head_then_epoll, .timeout = 120) { partial_heads("epoll", "close"); }
Test(http, unfinished_head_then_recv, .timeout = 120) { partial_heads("recv", "close"); }
Test(http, unfinished_head_then_read, .timeout = 120) { partial_heads("read", "close"); }
Test(http, unfinished_head_other_thread_waits, .timeout = 120) { partial_heads("thread", "close"); }
Test(http, unfinished_head_then_close, .timeout = 120) { partial_heads("none", "close"); }
Test(http, unfinished_head_then_shutdown, .timeout = 120) { partial_heads("none", "shutdown"); }
Test(http, unfinished_head_then_exit, .timeout = 120) { partial_heads("none", "exit"); }
Test(http, unfinished_head_then_exec, .timeout = 120) { partial_heads("none", "exec"); }

/* The issue's own command: printf 'GET / HTTP/1.1\r\n' | nc -N (and the
 * other unfinished heads), to a record_server. */
Test(http, unfinished_head_through_nc, .timeout = 120)
{
	struct h_env e;

	cr_assert_eq(h_env_start(&e), 0);
	for (size_t i = 0; i < N_HEADS; i++) {
		struct h_rec rec;
		char cmd[512];

		cr_assert_eq(h_rec_start(&rec), 0);
		snprintf(cmd, sizeof(cmd), "printf '%s' | nc -N 127.0.0.1 %u",
			 heads[i].arg, rec.port);
		const char *argv[] = { "sh", "-c", cmd, NULL };
		cr_log_info("%s", cmd);
		bare_then_traced(&e, &rec, argv, heads[i].wire, "");
	}
	h_env_stop(&e);
}

/* HTTP/0.9-style lines ("GET /x\r\n") to a server that answers each line:
 * every answer comes, at once, however the program waits for it. */
static void line_protocol(const char *wait)
{
	struct h_env e;
	struct h_rec rec;
	const char *opts[] = { "--answer", "lines", NULL };
	char port[8];

	cr_assert_eq(h_env_start(&e), 0);
	cr_assert_eq(h_rec_start_with(&rec, opts), 0);
	snprintf(port, sizeof(port), "%u", rec.port);
	const char *argv[] = { "python3", PARTIAL, port, wait, "close",
			       "send:GET /x\\r\\n", "expect:line 8\n",
			       "send:GET /yy\\r\\n", "expect:line 9\n",
			       "send:HEAD /z HTTP/1.1\\r\\n", "expect:line 18\n",
			       NULL };
	bare_then_traced(&e, &rec, argv,
			 "GET /x\r\nGET /yy\r\nHEAD /z HTTP/1.1\r\n",
			 "got line 8\n\ngot line 9\n\ngot line 18\n\n");
	h_env_stop(&e);
}

Test(http, line_protocol_poll, .timeout = 60) { line_protocol("poll"); }
Test(http, line_protocol_select, .timeout = 60) { line_protocol("select"); }
Test(http, line_protocol_epoll, .timeout = 60) { line_protocol("epoll"); }
Test(http, line_protocol_recv, .timeout = 60) { line_protocol("recv"); }
Test(http, line_protocol_read, .timeout = 60) { line_protocol("read"); }
Test(http, line_protocol_other_thread, .timeout = 60) { line_protocol("thread"); }

/* ---- heads that get a line in their own form, or none ---- */

/*
 * partial_client sends `arg` (one head, escaped) and closes; the server
 * records.  Returns the traced recording (malloc'd) after checking that
 * the bare one is `wire`; *spans / *n: the exported spans.
 */
static char *traced_bytes(struct h_env *e, const char *arg, const char *wire,
			  struct at_rx_span **spans, size_t *n)
{
	struct h_rec rb, rt;
	struct h_result bare, traced;
	char pb[8], pt[8], send[512];
	const char *env[] = { e->ep, NULL };

	cr_assert_eq(h_rec_start(&rb), 0);
	cr_assert_eq(h_rec_start(&rt), 0);
	snprintf(pb, sizeof(pb), "%u", rb.port);
	snprintf(pt, sizeof(pt), "%u", rt.port);
	snprintf(send, sizeof(send), "send:%s", arg);
	const char *argv[] = { "python3", PARTIAL, pb, "none", "close", send,
			       NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_expect_eq(bare.status, 0, "%s", bare.err);
	argv[2] = pt;
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(traced.status, 0, "%s", traced.err);
	cr_expect_eq(h_wait_file_has(rb.out_file, wire, WAIT_MS), 0);
	/* the traced head is complete once its blank line is there */
	const char *tail = wire + strlen(wire) - 2;
	while (tail > wire && *tail != '\n')
		tail--;
	cr_expect_eq(h_wait_file_has(rt.out_file, tail, WAIT_MS), 0);
	char *b = h_rec_stop(&rb, NULL);
	char *t = h_rec_stop(&rt, NULL);
	cr_expect_str_eq(b, wire, "the bare run");
	*n = h_spans(e->rx, 1, WAIT_MS, spans);
	free(b);
	h_result_free(&bare);
	h_result_free(&traced);
	return t;
}

/* A head whose lines end with a bare LF gets a line ending with a bare
 * LF, at its end, carrying the request span's context. */
Test(http, bare_lf_head_gets_a_bare_lf_line, .timeout = 60)
{
	struct h_env e;
	struct at_rx_span *spans;
	size_t n;
	char tp[56], want[256];

	cr_assert_eq(h_env_start(&e), 0);
	char *t = traced_bytes(&e, "GET /lf HTTP/1.1\\nHost: a\\n\\n",
			       "GET /lf HTTP/1.1\nHost: a\n\n", &spans, &n);
	const at_otlp_span *get = h_find_span(spans, n, "GET", KIND_CLIENT);
	cr_assert(get, "a GET span");
	h_span_traceparent(get, tp);
	snprintf(want, sizeof(want),
		 "GET /lf HTTP/1.1\nHost: a\ntraceparent: %s\n\n", tp);
	cr_expect_str_eq(t, want);
	cr_expect(!strchr(t, '\r'), "no CR anywhere");
	free(t);
	free(spans);
	h_env_stop(&e);
}

/* A head that mixes CRLF and LF is left as it is (the span is made). */
Test(http, mixed_line_ends_head_is_left_alone, .timeout = 60)
{
	struct h_env e;
	struct at_rx_span *spans;
	size_t n;
	const char *wire = "GET /m HTTP/1.1\r\nHost: a\n\r\n";

	cr_assert_eq(h_env_start(&e), 0);
	char *t = traced_bytes(&e, "GET /m HTTP/1.1\\r\\nHost: a\\n\\r\\n", wire,
			       &spans, &n);
	cr_expect_str_eq(t, wire);
	cr_expect(h_find_span(spans, n, "GET", KIND_CLIENT), "a GET span");
	free(t);
	free(spans);
	h_env_stop(&e);
}

/* A head with its own traceparent, invalid, or valid but twice: no second
 * one, and the span has no remote parent. */
static void own_traceparent_left_alone(const char *arg, const char *wire)
{
	struct h_env e;
	struct at_rx_span *spans;
	size_t n;

	cr_assert_eq(h_env_start(&e), 0);
	char *t = traced_bytes(&e, arg, wire, &spans, &n);
	cr_expect_str_eq(t, wire, "exactly the program's bytes");
	const at_otlp_span *get = h_find_span(spans, n, "GET", KIND_CLIENT);
	cr_assert(get, "a GET span");
	cr_expect_eq(get->parent_span_id.len, 0, "no remote parent: %s",
		     h_hex(get->parent_span_id.data, get->parent_span_id.len));
	cr_expect_str_neq(h_hex(get->trace_id.data, 16),
			  "4bf92f3577b34da6a3ce929d0e0e4736");
	free(t);
	free(spans);
	h_env_stop(&e);
}

Test(http, invalid_own_traceparent_gets_no_second_one, .timeout = 60)
{
	own_traceparent_left_alone(
		"GET / HTTP/1.1\\r\\nHost: a\\r\\ntraceparent: garbage\\r\\n\\r\\n",
		"GET / HTTP/1.1\r\nHost: a\r\ntraceparent: garbage\r\n\r\n");
}

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
Test(http, two_own_traceparents_get_no_third_one, .timeout = 60)
{
	own_traceparent_left_alone(
		"GET / HTTP/1.1\\r\\ntraceparent: " TP "\\r\\nHost: a\\r\\n"
		"traceparent: " TP "\\r\\n\\r\\n",
		"GET / HTTP/1.1\r\ntraceparent: " TP "\r\nHost: a\r\n"
		"traceparent: " TP "\r\n\r\n");
}

/* ---- CONNECT ---- */

/* connect_proxy.py, recording like record_server. */
static void proxy_start(struct h_rec *p, char port[8])
{
	const char *prog[] = { "python3", "tests/fixtures/py/connect_proxy.py",
			       NULL };

	cr_assert_eq(h_rec_start_prog(p, prog, NULL), 0,
		     "connect_proxy did not start");
	snprintf(port, 8, "%u", p->port);
}

#define CONNECT_HEAD "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n"
#define CONNECT_ARG "send:CONNECT example.test:443 HTTP/1.1\\r\\nHost: example.test:443\\r\\n\\r\\n"
#define ESTABLISHED "expect:HTTP/1.1 200 Connection established\r\n\r\n"

/* CONNECT, then bytes that are not HTTP (a TLS record) through the
 * tunnel: all of it left alone, no span for the CONNECT. */
Test(http, connect_tunnel_is_left_alone, .timeout = 60)
{
	struct h_env e;
	struct h_rec p;
	struct h_result bare, traced;
	struct at_rx_span *spans;
	size_t len, n;
	char port[8];
	/* (no NUL: the recordings are compared as strings) */
	const char *tls = "\x16\x03\x01\x02\x05hello";
	char *want;

	cr_assert_eq(h_env_start(&e), 0);
	proxy_start(&p, port);
	const char *argv[] = { "python3", PARTIAL, port, "poll", "close",
			       CONNECT_ARG, ESTABLISHED,
			       "send:\\x16\\x03\\x01\\x02\\x05hello",
			       "send:GET /not-http-any-more HTTP/1.1\\r\\n\\r\\n",
			       NULL };
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(bare.status, 0, "%s", bare.err);
	cr_expect_eq(traced.status, 0, "%s", traced.err);
	cr_expect_str_eq(traced.out, bare.out);
	if (asprintf(&want, "%s%s%s", CONNECT_HEAD, tls,
		     "GET /not-http-any-more HTTP/1.1\r\n\r\n") < 0)
		abort();
	char *twice = cat2(want, want);
	cr_expect_eq(h_wait_file_has(p.out_file, twice, WAIT_MS), 0);
	char *got = h_rec_stop(&p, &len);
	cr_expect(len == strlen(twice) && memcmp(got, twice, len) == 0,
		  "the proxy received (bare, then traced):\n%s", got);
	/* Only the connect spans: nothing for the CONNECT, nothing in the
	 * tunnel. */
	n = h_spans(e.rx, 1, WAIT_MS, &spans);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(spans[i].span->name, "connect");
	free(spans);
	free(got);
	free(twice);
	free(want);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
}

/* CONNECT, then plain HTTP through the tunnel: the CONNECT left alone, the
 * tunnelled request traced like any other (its line, its span). */
Test(http, connect_tunnel_plain_http_is_traced, .timeout = 60)
{
	struct h_env e;
	struct h_rec p;
	struct h_result bare, traced;
	struct at_rx_span *spans;
	size_t len, n;
	char tp[56], *want, port[8];

	cr_assert_eq(h_env_start(&e), 0);
	proxy_start(&p, port);
	const char *argv[] = { "python3", PARTIAL, port, "recv", "close",
			       CONNECT_ARG, ESTABLISHED,
			       "send:GET /in HTTP/1.1\\r\\nHost: example.test\\r\\n\\r\\n",
			       "expect:\r\n\r\nok", NULL };
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_expect_eq(bare.status, 0, "%s", bare.err);
	cr_expect(strstr(bare.out, "got \r\n\r\nok"), "%s", bare.out);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(traced.status, 0, "%s", traced.err);
	cr_expect_str_eq(traced.out, bare.out);

	n = h_spans(e.rx, 2, WAIT_MS, &spans);
	const at_otlp_span *get = h_find_span(spans, n, "GET", KIND_CLIENT);
	cr_assert(get, "the tunnelled GET has a span");
	cr_expect_eq(h_attr_int(get, "http.response.status_code", 0), 200);
	cr_expect_null(h_find_span(spans, n, "CONNECT", KIND_CLIENT));
	h_span_traceparent(get, tp);
	if (asprintf(&want,
		     CONNECT_HEAD "GET /in HTTP/1.1\r\nHost: example.test\r\n\r\n"
		     CONNECT_HEAD "GET /in HTTP/1.1\r\nHost: example.test\r\n"
		     "traceparent: %s\r\n\r\n", tp) < 0)
		abort();
	cr_expect_eq(h_wait_file_has(p.out_file, want, WAIT_MS), 0);
	char *got = h_rec_stop(&p, &len);
	cr_expect(len == strlen(want) && memcmp(got, want, len) == 0,
		  "the proxy received:\n%s\nwant:\n%s", got, want);
	free(spans);
	free(got);
	free(want);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
}
