/*
 * Integration tests of HTTPS through OpenSSL (hooks/tls): real TLS peers
 * with a throwaway CA made by the test (tests/fixtures/tls/make-ca.sh).
 *
 * Byte-exactness: a recording HTTPS server (tests/fixtures/tls/
 * tls_server.py, or the C fixture's own server) writes the plaintext it
 * decrypted; the same client run bare and traced must give the same bytes
 * once the injected lines are removed, with exactly one line per request,
 * each the traceparent of a client span.  Spans are decoded from the
 * exported protobuf: one client span per request (none from the socket
 * layer beside it), the connect span under the first request, and an
 * HTTPS server span under the client span that called it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 120000
#define WAIT_MS 30000
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define PY "/usr/bin/python3"
#define MAX_TP 64

struct certs {
	char dir[64];
	char ca[96], cert[96], key[96];
};

static void certs_make(struct certs *c)
{
	char cmd[192];
	int st;

	snprintf(c->dir, sizeof(c->dir), "/tmp/at-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(c->dir));
	snprintf(cmd, sizeof(cmd), "sh tests/fixtures/tls/make-ca.sh %s 2>&1",
		 c->dir);
	char *out = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "make-ca: %s", out ? out : "");
	free(out);
	snprintf(c->ca, sizeof(c->ca), "%s/ca.pem", c->dir);
	snprintf(c->cert, sizeof(c->cert), "%s/server.pem", c->dir);
	snprintf(c->key, sizeof(c->key), "%s/server.key", c->dir);
}

static void certs_drop(struct certs *c)
{
	char cmd[96];
	int st;

	snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
	free(h_shell(cmd, &st));
}

/* The recording HTTPS server, not traced. */
static void rec_start(struct h_rec *r, const struct certs *c)
{
	const char *prog[] = { PY, "tests/fixtures/tls/tls_server.py", NULL };
	const char *opts[] = { "--cert", c->cert, "--key", c->key, NULL };

	cr_assert_eq(h_rec_start_prog(r, prog, opts), 0, "tls_server.py");
}

static bool same_id(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len && a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/* The client span whose traceparent is tp, or NULL. */
static const at_otlp_span *client_of(const struct at_rx_span *sp, size_t n,
				     const char *tp)
{
	for (size_t i = 0; i < n; i++) {
		char t[56];
		if ((int)sp[i].span->kind != KIND_CLIENT)
			continue;
		h_span_traceparent(sp[i].span, t);
		if (!strncmp(t, tp, 52)) /* ids; the flags may differ */
			return sp[i].span;
	}
	return NULL;
}

static size_t count_kind(const struct at_rx_span *sp, size_t n, int kind,
			 const char *url_prefix)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const char *u = h_attr_str(sp[i].span, "url.full");
		if ((int)sp[i].span->kind == kind &&
		    (!url_prefix || (u && !strncmp(u, url_prefix, 8))))
			k++;
	}
	return k;
}

/* Every SERVER span sits under a CLIENT span of its trace and says
 * https; returns how many there are. */
static size_t check_server_spans(const struct at_rx_span *sp, size_t n)
{
	size_t servers = 0;

	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span, *parent = NULL;
		if ((int)s->kind != KIND_SERVER)
			continue;
		servers++;
		for (size_t j = 0; j < n; j++)
			if ((int)sp[j].span->kind == KIND_CLIENT &&
			    same_id(&sp[j].span->span_id, &s->parent_span_id))
				parent = sp[j].span;
		cr_expect_not_null(parent, "server span %s without its caller",
				   s->name);
		if (parent)
			cr_expect(same_id(&parent->trace_id, &s->trace_id));
		cr_expect_str_eq(h_attr_str(s, "url.scheme"), "https");
		cr_expect_eq(h_attr_int(s, "http.response.status_code", -1),
			     200);
	}
	return servers;
}

/* Each line injected is one client span's, and each client span with a
 * URL has one line; the connect spans sit under requests. */
static void check_client_spans(const struct at_rx_span *sp, size_t n,
			       char (*tps)[56], int n_tp)
{
	for (int i = 0; i < n_tp; i++) {
		const at_otlp_span *s = client_of(sp, n, tps[i]);
		cr_assert_not_null(s, "no span for %s", tps[i]);
		const char *u = h_attr_str(s, "url.full");
		cr_expect(u && !strncmp(u, "https://", 8), "url.full %s",
			  u ? u : "(none)");
		cr_expect_eq(h_attr_int(s, "http.response.status_code", -1),
			     200);
		cr_expect_str_eq(h_attr_str(s, "network.protocol.version"),
				 "1.1");
		cr_expect_not_null(h_attr_str(s, "server.address"));
	}
	cr_expect_eq(count_kind(sp, n, KIND_CLIENT, "https://"), (size_t)n_tp,
		     "one client span per request");
	cr_expect_eq(count_kind(sp, n, KIND_CLIENT, "http://"), 0,
		     "no plain-HTTP span from the socket layer");
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		if (strcmp(s->name, "connect"))
			continue;
		bool under = false;
		for (size_t j = 0; j < n; j++)
			under |= same_id(&s->parent_span_id,
					 &sp[j].span->span_id) &&
				 (int)sp[j].span->kind == KIND_CLIENT;
		cr_expect(under, "a connect span outside any request");
	}
}

Test(tls, python_urllib_and_requests_byte_exact, .timeout = 300)
{
	struct certs c;
	struct h_env e;
	struct at_rx_span *sp;
	char tps[MAX_TP][56], u1[96], u2[96];
	int n_tp = 0;
	struct h_rec r;
	struct h_result bare, traced;
	size_t bl, tl;
	char *b;

	certs_make(&c);
	cr_assert_eq(h_env_start(&e), 0);
	/* Both runs go to one server (the Host lines name its port): its
	 * recording is the bare run's bytes, then the traced run's. */
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=pyclient", NULL };

	rec_start(&r, &c);
	snprintf(u1, sizeof(u1), "https://localhost:%u/a?x=1", r.port);
	snprintf(u2, sizeof(u2), "https://127.0.0.1:%u/b", r.port);
	const char *argv[] = { PY, "tests/fixtures/tls/py_client.py", c.ca, u1,
			       u2, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_assert_eq(bare.status, 0, "%s", bare.err);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_assert_eq(traced.status, 0, "%s", traced.err);
	cr_expect_str_eq(traced.out, bare.out);
	uint16_t port = r.port;
	b = h_rec_stop(&r, &bl);
	/* Both runs went to one server: split its recording in two halves
	 * by the request count (6 requests each). */
	cr_assert(b && bl > 0);
	tl = h_strip_injected(b, bl, tps, MAX_TP, &n_tp);
	cr_expect_eq(n_tp, 6, "one line per traced request");
	cr_expect_eq(tl % 2, 0);
	cr_expect(!memcmp(b, b + tl / 2, tl / 2),
		  "the traced run's bytes, without the lines, are the bare run's");
	size_t n = h_spans(e.rx, 6, WAIT_MS, &sp);
	check_client_spans(sp, n, tps, n_tp);
	const at_otlp_span *s = client_of(sp, n, tps[0]);
	cr_assert_not_null(s);
	cr_expect_str_eq(h_attr_str(s, "server.address"), "localhost");
	cr_expect_eq(h_attr_int(s, "server.port", -1), port);
	free(b);
	free(sp);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
	certs_drop(&c);
}

Test(tls, https_server_span_continues_the_callers_trace, .timeout = 300)
{
	struct certs c;
	struct h_env e;
	struct h_result res;
	struct at_rx_span *sp;
	char dir[64], pf[96], of[96], url[96];

	certs_make(&c);
	cr_assert_eq(h_env_start(&e), 0);
	snprintf(dir, sizeof(dir), "%s", c.dir);
	snprintf(pf, sizeof(pf), "%s/port", dir);
	snprintf(of, sizeof(of), "%s/bytes", dir);
	const char *senv[] = { e.ep, "OTEL_SERVICE_NAME=pyserver", NULL };
	const char *sargv[] = { PY, "tests/fixtures/tls/tls_server.py", pf, of,
				"--cert", c.cert, "--key", c.key, NULL };
	pid_t pid = h_start(sargv, senv, true, NULL);
	uint16_t port = h_read_port(pf, WAIT_MS);
	cr_assert(port, "traced server did not start");
	snprintf(url, sizeof(url), "https://localhost:%u/api?id=7", port);
	const char *cenv[] = { e.ep, "OTEL_SERVICE_NAME=pyclient", NULL };
	const char *argv[] = { PY, "tests/fixtures/tls/py_client.py", c.ca, url,
			       NULL };
	cr_assert_eq(h_run(argv, cenv, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	/* 3 client spans (urllib, requests GET and POST), 3 server spans. */
	size_t n = h_spans(e.rx, 6, WAIT_MS, &sp);
	h_stop(pid, 5000);
	cr_expect_eq(check_server_spans(sp, n), 3, "one server span per request");
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		if ((int)s->kind != KIND_SERVER)
			continue;
		cr_expect_str_eq(h_attr_str(s, "url.path"), "/api");
		cr_expect_str_eq(h_attr_str(s, "server.address"), "localhost");
	}
	cr_expect_eq(count_kind(sp, n, KIND_CLIENT, "https://"), 3);
	free(sp);
	h_result_free(&res);
	h_env_stop(&e);
	certs_drop(&c);
}

/* asyncio's TLS runs over memory BIOs: sessions with no descriptor are
 * traced by their SSL*, client and server. */
Test(tls, python_asyncio_memory_bio_sessions, .timeout = 300)
{
	struct certs c;
	struct h_env e;
	struct h_result res;
	struct at_rx_span *sp;
	struct h_rec r;
	char tps[MAX_TP][56], port[8];
	int n_tp = 0;
	size_t bl;

	certs_make(&c);
	cr_assert_eq(h_env_start(&e), 0);
	rec_start(&r, &c);
	snprintf(port, sizeof(port), "%u", r.port);
	const char *env[] = { e.ep, NULL };
	const char *argv[] = { PY, "tests/fixtures/tls/py_asyncio.py", port,
			       c.ca, c.cert, c.key, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "HTTP/1.1 200 OK\nHTTP/1.1 200 OK\n"
				  "HTTP/1.1 200 OK\n");
	char *b = h_rec_stop(&r, &bl);
	cr_assert_not_null(b);
	h_strip_injected(b, bl, tps, MAX_TP, &n_tp);
	cr_expect_eq(n_tp, 2, "one line per request:\n%s", b);
	size_t n = h_spans(e.rx, 4, WAIT_MS, &sp);
	for (int i = 0; i < n_tp; i++)
		cr_expect_not_null(client_of(sp, n, tps[i]));
	cr_expect_eq(count_kind(sp, n, KIND_CLIENT, "https://"), 3);
	cr_expect_eq(check_server_spans(sp, n), 1);
	free(b);
	free(sp);
	h_result_free(&res);
	h_env_stop(&e);
	certs_drop(&c);
}

/* nginx (Debian's, the system OpenSSL) with TLS, traced too: its access
 * log has each client span's traceparent once, and its server spans sit
 * under them. */
Test(tls, nginx_logs_the_traceparent_and_continues_it, .timeout = 300)
{
	struct certs c;
	struct h_env e;
	struct h_result res;
	struct at_rx_span *sp;
	char ngdir[96], pf[128], url[96], logp[128];

	certs_make(&c);
	cr_assert_eq(h_env_start(&e), 0);
	snprintf(ngdir, sizeof(ngdir), "%s/ng", c.dir);
	const char *nenv[] = { e.ep, "OTEL_SERVICE_NAME=nginx", NULL };
	const char *nargv[] = { "sh", "tests/fixtures/nginx/nginx-run.sh", ngdir,
				"--tls", c.cert, c.key, NULL };
	pid_t pid = h_start(nargv, nenv, true, NULL);
	snprintf(pf, sizeof(pf), "%s/tls_port", ngdir);
	uint16_t port = h_read_port(pf, WAIT_MS);
	cr_assert(port && h_wait_port(port, WAIT_MS) == 0, "nginx");
	snprintf(url, sizeof(url), "https://localhost:%u/", port);
	const char *cenv[] = { e.ep, "OTEL_SERVICE_NAME=pyclient", NULL };
	const char *argv[] = { PY, "tests/fixtures/tls/py_client.py", c.ca, url,
			       NULL };
	cr_assert_eq(h_run(argv, cenv, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect(strstr(res.out, "urllib 200 nginx ok"), "%s", res.out);
	snprintf(logp, sizeof(logp), "%s/access.log", ngdir);
	cr_assert_eq(h_wait_file_has(logp, "POST", WAIT_MS), 0);
	size_t n = h_spans(e.rx, 6, WAIT_MS, &sp);
	h_stop(pid, 5000);
	char *log = h_read_file(logp, NULL);
	cr_assert_not_null(log);
	size_t clients = 0;
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		char tp[56];
		if ((int)s->kind == KIND_CLIENT && h_attr_str(s, "url.full")) {
			clients++;
			h_span_traceparent(s, tp);
			tp[52] = 0; /* the ids */
			const char *at = strstr(log, tp);
			cr_expect(at && !strstr(at + 1, tp),
				  "%s logged once:\n%s", tp, log);
		}
	}
	cr_expect_eq(clients, 3);
	cr_expect_eq(check_server_spans(sp, n), 3, "nginx's spans");
	free(log);
	free(sp);
	h_result_free(&res);
	h_env_stop(&e);
	certs_drop(&c);
}

/*
 * A client run traced against the recording server: tmpl is its argv,
 * where "@URL" stands for https://localhost:PORT/path and "@CA" for the CA
 * file; it makes `requests` requests and prints "ok" for each.  One line
 * per request, each a client span's, and no other HTTP span.
 */
static void recorded_client(const char *const tmpl[], int requests)
{
	struct certs c;
	struct h_env e;
	struct at_rx_span *sp;
	struct h_result res;
	struct h_rec r;
	char tps[MAX_TP][56], url[96], want[64] = "";
	const char *argv[16];
	int n_tp = 0;
	size_t bl, k;

	certs_make(&c);
	cr_assert_eq(h_env_start(&e), 0);
	rec_start(&r, &c);
	snprintf(url, sizeof(url), "https://localhost:%u/path", r.port);
	for (k = 0; tmpl[k] && k < 15; k++)
		argv[k] = !strcmp(tmpl[k], "@URL") ? url
			  : !strcmp(tmpl[k], "@CA") ? c.ca
						     : tmpl[k];
	argv[k] = NULL;
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	for (int i = 0; i < requests; i++)
		strcat(want, "ok\n");
	cr_expect_str_eq(res.out, want);
	char *b = h_rec_stop(&r, &bl);
	cr_assert_not_null(b);
	h_strip_injected(b, bl, tps, MAX_TP, &n_tp);
	cr_expect_eq(n_tp, requests, "one line per request:\n%s", b);
	size_t n = h_spans(e.rx, (size_t)requests, WAIT_MS, &sp);
	check_client_spans(sp, n, tps, n_tp);
	free(b);
	free(sp);
	h_result_free(&res);
	h_env_stop(&e);
	certs_drop(&c);
}

/* libcurl over OpenSSL: its own span and header only. */
Test(tls, curl_has_one_span_and_one_header, .timeout = 300)
{
	const char *argv[] = { "curl", "-s", "--cacert", "@CA", "@URL", "@URL",
			       NULL };
	recorded_client(argv, 2);
}

Test(tls, ruby_net_http, .timeout = 300)
{
	const char *argv[] = {
		"ruby", "-rnet/http", "-e",
		"u = URI(ARGV[0]); h = Net::HTTP.new(u.host, u.port); "
		"h.use_ssl = true; h.ca_file = ARGV[1]; "
		"h.start { 2.times { puts h.get(u.path).body } }",
		"@URL", "@CA", NULL
	};

	if (access("/usr/bin/ruby", X_OK) != 0)
		cr_skip_test("ruby is not installed");
	recorded_client(argv, 2);
}

/*
 * The C fixture: non-blocking client and server in one process, WANT_WRITE
 * retries with the same arguments, partial writes, moving buffers,
 * SSL_write_ex, over a socket and over a BIO pair (no descriptor).
 */
static void pump_case(const char *transport, const char *const modes[])
{
	struct certs c;
	struct h_env e;
	struct at_rx_span *sp;
	struct h_result bare, traced;
	char bo[128], to[128], tps[MAX_TP][56];
	int n_tp = 0;
	const char *argv[24];
	size_t k = 0, bl, tl;

	certs_make(&c);
	cr_assert_eq(h_env_start(&e), 0);
	snprintf(bo, sizeof(bo), "%s/bare.bin", c.dir);
	snprintf(to, sizeof(to), "%s/traced.bin", c.dir);
	argv[k++] = h_build_path("fixtures/tls/tls_pump");
	argv[k++] = "--cert";
	argv[k++] = c.cert;
	argv[k++] = "--key";
	argv[k++] = c.key;
	argv[k++] = "--ca";
	argv[k++] = c.ca;
	argv[k++] = "--transport";
	argv[k++] = transport;
	argv[k++] = "--body";
	argv[k++] = strcmp(transport, "pair") ? "300000" : "20000";
	for (size_t i = 0; modes[i]; i++)
		argv[k++] = modes[i];
	argv[k++] = "--out";
	size_t out_at = k;
	argv[k++] = bo;
	argv[k] = NULL;
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &bare), 0);
	cr_assert_eq(bare.status, 0, "bare: %s", bare.err);
	argv[out_at] = to;
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_assert_eq(traced.status, 0, "traced: %s", traced.err);
	long want = 0;
	cr_assert(sscanf(strstr(traced.out, "want") ? strstr(traced.out, "want")
						    : "",
			 "want %ld", &want) == 1,
		  "%s", traced.out);
	cr_expect_gt(want, 0, "WANT_WRITE/READ retries happened: %s",
		     traced.out);
	cr_expect(strstr(traced.out, "requests 4 responses 4"), "%s",
		  traced.out);
	char *b = h_read_file(bo, &bl), *t = h_read_file(to, &tl);
	cr_assert(b && t);
	tl = h_strip_injected(t, tl, tps, MAX_TP, &n_tp);
	cr_expect_eq(n_tp, 4, "one line per request");
	cr_expect(tl == bl && !memcmp(t, b, bl),
		  "the server decrypted the program's bytes plus the lines");
	size_t n = h_spans(e.rx, 8, WAIT_MS, &sp);
	check_client_spans(sp, n, tps, n_tp);
	cr_expect_eq(check_server_spans(sp, n), 4, "one server span each");
	free(b);
	free(t);
	free(sp);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
	certs_drop(&c);
}

Test(tls, c_nonblocking_socket_want_write, .timeout = 300)
{
	const char *m[] = { NULL };
	pump_case("socket", m);
}

Test(tls, c_nonblocking_socket_partial_writes, .timeout = 300)
{
	const char *m[] = { "--partial", NULL };
	pump_case("socket", m);
}

Test(tls, c_nonblocking_socket_moving_buffer_write_ex, .timeout = 300)
{
	const char *m[] = { "--moving", "--ex", NULL };
	pump_case("socket", m);
}

Test(tls, c_memory_bio_pair_every_record_waits, .timeout = 300)
{
	const char *m[] = { NULL };
	pump_case("pair", m);
}

Test(tls, c_memory_bio_pair_partial_moving_ex, .timeout = 300)
{
	const char *m[] = { "--partial", "--moving", "--ex", NULL };
	pump_case("pair", m);
}

Test(tls, c_tls13_key_updates_between_requests, .timeout = 300)
{
	const char *m[] = { "--rekey", "--ex", NULL };
	pump_case("socket", m);
}

Test(tls, c_tls12_renegotiation_between_requests, .timeout = 300)
{
	const char *m[] = { "--rekey", "--tls12", "--partial", "--moving",
			    NULL };
	pump_case("socket", m);
}

Test(tls, c_tls12_renegotiation_over_a_bio_pair, .timeout = 300)
{
	const char *m[] = { "--rekey", "--tls12", NULL };
	pump_case("pair", m);
}
