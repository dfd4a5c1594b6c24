/*
 * Integration tests of HTTPS through GnuTLS (hooks/tls/at_tls_gnutls.c):
 * wget (Debian's, linked with GnuTLS) and the gnutls_client fixture (a
 * non-blocking client that meets GNUTLS_E_AGAIN for certain) against an
 * HTTPS server that records the plaintext it decrypts
 * (tests/fixtures/tls_gnutls/tls_record_server.py, Debian's python3, not
 * traced), each run bare and traced: the server sees exactly the
 * program's bytes plus one traceparent line per request, whose span id
 * is the request's client span; the program's output and exit status do
 * not change.  The certificate is made by the test (openssl).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 60000
#define WAIT_MS 30000
#define MAX_REQ 64
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER

static const char *const rec_prog[] = {
	"/usr/bin/python3", "tests/fixtures/tls_gnutls/tls_record_server.py",
	NULL
};

struct certs {
	char dir[64], cert[128], key[128];
};

static void make_certs(struct certs *c)
{
	char cmd[256];
	int st;

	snprintf(c->dir, sizeof(c->dir), "/tmp/at-gnutls-XXXXXX");
	cr_assert_not_null(mkdtemp(c->dir));
	snprintf(cmd, sizeof(cmd), "sh tests/fixtures/curl/make-cert.sh %s 2>&1",
		 c->dir);
	char *out = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "make-cert: %s", out);
	free(out);
	snprintf(c->cert, sizeof(c->cert), "%s/cert.pem", c->dir);
	snprintf(c->key, sizeof(c->key), "%s/key.pem", c->dir);
}

/* A recording HTTPS server; with a gate file (gate != NULL) it reads
 * nothing until the client creates it. */
static void rec_start(struct h_rec *r, const struct certs *c, const char *gate,
		      const char *alpn)
{
	const char *opts[] = { "--cert", c->cert, "--key", c->key,
			       "--alpn", alpn ? alpn : "",
			       gate ? "--gate" : NULL, gate, NULL };

	cr_assert_eq(h_rec_start_prog(r, rec_prog, opts), 0,
		     "tls_record_server did not start");
}

struct run {
	struct h_result res;
	char *bytes;
	size_t len;
};

/* argv with PORT, URL, GATE and CACERT replaced, run bare (ep NULL) or
 * traced against the server r, whose gate (if any) is closed first; the
 * bytes the server recorded during the run. */
static void run_one(const char *const argv_in[], struct h_rec *r,
		    const struct certs *c, const char *gate, const char *ep,
		    struct run *out)
{
	const char *argv[32];
	char port[8], url[96];
	size_t k, before = 0, after = 0;
	char *all;

	if (gate)
		unlink(gate);
	free(h_read_file(r->out_file, &before));
	snprintf(port, sizeof(port), "%u", r->port);
	snprintf(url, sizeof(url), "https://localhost:%u/w", r->port);
	for (k = 0; argv_in[k] && k < 30; k++) {
		const char *a = argv_in[k];
		argv[k] = !strcmp(a, "PORT")	  ? port
			  : !strcmp(a, "URL")	  ? url
			  : !strcmp(a, "GATE")	  ? gate
			  : !strcmp(a, "CACERT") ? c->cert
						  : a;
	}
	argv[k] = NULL;
	const char *env[] = { ep, NULL };
	cr_assert_eq(h_run(argv, ep ? env : NULL, ep != NULL, RUN_MS,
			   &out->res),
		     0);
	/* The server records a request before it answers it, and the
	 * program read every answer: its bytes are all in the file. */
	all = h_read_file(r->out_file, &after);
	cr_assert(all && after >= before);
	out->len = after - before;
	out->bytes = malloc(out->len + 1);
	memcpy(out->bytes, all + before, out->len);
	out->bytes[out->len] = 0;
	free(all);
}

static void run_free(struct run *r)
{
	h_result_free(&r->res);
	free(r->bytes);
}

/* The value after `key` in text (0 if none). */
static long value_of(const char *text, const char *key)
{
	const char *p = text ? strstr(text, key) : NULL;

	return p ? atol(p + strlen(key)) : 0;
}

/*
 * The program (argv, run bare and traced) makes `requests` requests: the
 * server's bytes, minus one injected line per request, are the bare run's;
 * each line carries the span id of a distinct client span of the trace
 * export; the program's output (with `cut` lines removed, e.g. counts of
 * E_AGAIN that depend on timing) and status are the same.
 */
static void byte_exact_alpn(const char *const argv[], int requests,
			    bool gated, const char *cut, const char *alpn)
{
	struct certs c;
	struct h_env e;
	struct run bare, traced;
	struct h_rec r;
	char tps[MAX_REQ][56], gate[160];
	struct at_rx_span *spans;
	int ninj, matched = 0;
	size_t n;

	make_certs(&c);
	cr_assert_eq(h_env_start(&e), 0);
	snprintf(gate, sizeof(gate), "%s/gate", c.dir);
	rec_start(&r, &c, gated ? gate : NULL, alpn);
	/* One server for both runs: the Host header names its port. */
	run_one(argv, &r, &c, gated ? gate : NULL, NULL, &bare);
	run_one(argv, &r, &c, gated ? gate : NULL, e.ep, &traced);
	free(h_rec_stop(&r, NULL));
	cr_assert_eq(bare.res.status, 0, "bare run failed: %s %s", bare.res.out,
		     bare.res.err);
	cr_expect_eq(traced.res.status, 0, "traced run failed: %s %s",
		     traced.res.out, traced.res.err);
	if (cut) {
		/* The program must have met what the test is about. */
		cr_expect_gt(value_of(bare.res.out, cut), 0, "bare: %s",
			     bare.res.out);
		cr_expect_gt(value_of(traced.res.out, cut), 0, "traced: %s",
			     traced.res.out);
		h_cut_lines(bare.res.out, cut);
		h_cut_lines(traced.res.out, cut);
	}
	cr_expect_str_eq(traced.res.out, bare.res.out);

	traced.len = h_strip_injected(traced.bytes, traced.len, tps, MAX_REQ,
				      &ninj);
	cr_expect_eq(ninj, requests, "injected lines: %d", ninj);
	cr_expect_eq(traced.len, bare.len, "byte counts differ: %zu vs %zu",
		     traced.len, bare.len);
	cr_expect(traced.len == bare.len &&
			  memcmp(traced.bytes, bare.bytes, bare.len) == 0,
		  "bytes differ:\n--- bare\n%.*s\n--- traced\n%.*s",
		  (int)(bare.len > 400 ? 400 : bare.len), bare.bytes,
		  (int)(traced.len > 400 ? 400 : traced.len), traced.bytes);

	for (int i = 0; i < ninj && i < MAX_REQ; i++)
		for (int j = 0; j < i; j++)
			cr_expect_str_neq(tps[i], tps[j], "two lines, one span");
	n = h_spans(e.rx, (size_t)requests, WAIT_MS, &spans);
	for (int i = 0; i < ninj && i < MAX_REQ; i++) {
		const at_otlp_span *hit = NULL;
		for (size_t j = 0; j < n && !hit; j++) {
			char tp[56];
			if (spans[j].span->kind != KIND_CLIENT ||
			    !h_attr_str(spans[j].span, "http.request.method"))
				continue;
			h_span_traceparent(spans[j].span, tp);
			if (strcmp(tp, tps[i]) == 0)
				hit = spans[j].span;
		}
		cr_expect_not_null(hit, "injected %s matches no client span",
				   tps[i]);
		if (!hit)
			continue;
		matched++;
		cr_expect_str_eq(h_attr_str(hit, "url.scheme") ?: "https",
				 "https");
		const char *url = h_attr_str(hit, "url.full");
		cr_expect(url && !strncmp(url, "https://localhost", 17) &&
				  strchr(":/", url[17]),
			  "url.full %s", url ? url : "(none)");
		cr_expect_str_eq(h_attr_str(hit, "server.address") ?: "",
				 "localhost");
		cr_expect_eq(h_attr_int(hit, "http.response.status_code", 0),
			     200);
	}
	cr_expect_eq(matched, requests);
	if (requests) {
		/* The TCP connect is the child of the first request's span
		 * (the request covers opening its connection). */
		const at_otlp_span *cs = NULL, *first = NULL;
		for (size_t j = 0; j < n; j++) {
			const at_otlp_span *sp = spans[j].span;
			if (!strcmp(sp->name, "connect"))
				cs = sp;
			const char *u = h_attr_str(sp, "url.full");
			if (sp->kind == KIND_CLIENT && u &&
			    (strstr(u, "/r0") || strstr(u, "/w")))
				first = sp;
		}
		cr_expect(cs && first &&
				  cs->parent_span_id.len == first->span_id.len &&
				  memcmp(cs->parent_span_id.data,
					 first->span_id.data,
					 first->span_id.len) == 0,
			  "the connect span is not under the first request");
	}
	if (alpn) {
		/* Passed through: no request span; the connect span says
		 * what was negotiated. */
		const at_otlp_span *cs = NULL;
		free(spans);
		n = h_spans(e.rx, 1, WAIT_MS, &spans);
		for (size_t j = 0; j < n; j++) {
			cr_expect_null(h_attr_str(spans[j].span,
						  "http.request.method"),
				       "a request span on an %s session", alpn);
			if (!strcmp(spans[j].span->name, "connect"))
				cs = spans[j].span;
		}
		cr_expect_not_null(cs, "no connect span");
		cr_expect_str_eq(cs ? h_attr_str(cs, "tls.next_protocol") ?: ""
				    : "",
				 alpn);
	}
	free(spans);
	run_free(&bare);
	run_free(&traced);
	h_env_stop(&e);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", c.dir);
	free(h_shell(cmd, NULL));
}

static void byte_exact(const char *const argv[], int requests, bool gated,
		       const char *cut)
{
	byte_exact_alpn(argv, requests, gated, cut, NULL);
}

/* wget: one request, a span, one traceparent with its span id. */
Test(tls_gnutls, wget_injects_one_line)
{
	const char *argv[] = { "wget", "-q", "-O", "-", "--ca-certificate",
			       "CACERT", "URL", NULL };
	byte_exact(argv, 1, false, NULL);
}

/* Non-blocking, 8 pipelined heads of 12 KB (the flights a connection keeps) against a server that reads
 * nothing before the first E_AGAIN: E_AGAIN on injecting sends for
 * certain, retried with the same arguments. */
Test(tls_gnutls, nonblocking_eagain_same_args)
{
	const char *argv[] = { h_build_path("fixtures/tls_gnutls/gnutls_client"),
			       "PORT", "CACERT", "--count", "8", "--pad",
			       "12000", "--gate", "GATE", NULL };
	byte_exact(argv, 8, true, " eagain=");
}

/* The same, retried with NULL and 0 (the manual's other way): the
 * record GnuTLS holds is the head with its line, gathered by the
 * library, which resumes its own send. */
Test(tls_gnutls, nonblocking_eagain_null_retry)
{
	const char *argv[] = { h_build_path("fixtures/tls_gnutls/gnutls_client"),
			       "PORT", "CACERT", "--count", "8", "--pad",
			       "12000", "--gate", "GATE", "--retry", "null",
			       NULL };
	byte_exact(argv, 8, true, " eagain=");
}

/* Each head in two sends, the blank line in the second (the line goes
 * into that one): E_AGAIN on the first, the program's own bytes. */
Test(tls_gnutls, nonblocking_eagain_split_head)
{
	const char *argv[] = { h_build_path("fixtures/tls_gnutls/gnutls_client"),
			       "PORT", "CACERT", "--count", "8", "--pad",
			       "12000", "--gate", "GATE", "--split", NULL };
	byte_exact(argv, 8, true, " eagain=");
}

/* Keep-alive: 50 requests one after the other on one session, each
 * with its own span and line. */
Test(tls_gnutls, keepalive_sequential)
{
	const char *argv[] = { h_build_path("fixtures/tls_gnutls/gnutls_client"),
			       "PORT", "CACERT", "--count", "50",
			       "--sequential", NULL };
	byte_exact(argv, 50, false, NULL);
}

/* ALPN h2: the session passes untouched (HTTP/2 comes later). */
Test(tls_gnutls, alpn_h2_passes)
{
	const char *argv[] = { h_build_path("fixtures/tls_gnutls/gnutls_client"),
			       "PORT", "CACERT", "--alpn", "h2", NULL };
	byte_exact_alpn(argv, 0, false, NULL, "h2");
}

/* ---- the server side: gnutls_server, traced ---- */

struct tls_srv {
	pid_t pid;
	uint16_t port;
	char port_file[160];
};

static void srv_start(struct tls_srv *s, const struct certs *c,
		      const char *ep)
{
	const char *argv[] = {
		h_build_path("fixtures/tls_gnutls/gnutls_server"), s->port_file,
		c->cert, c->key, NULL
	};
	const char *env[] = { ep, "OTEL_BSP_SCHEDULE_DELAY=50", NULL };

	snprintf(s->port_file, sizeof(s->port_file), "%s/srv-port", c->dir);
	s->pid = h_start(argv, env, true, NULL);
	s->port = h_read_port(s->port_file, WAIT_MS);
	cr_assert(s->port, "gnutls_server did not start");
}

/* The SERVER span of the request for path. */
static const at_otlp_span *server_span(struct at_rx_span *spans, size_t n,
				       const char *path)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = h_attr_str(spans[i].span, "url.path");
		if (spans[i].span->kind == KIND_SERVER && p && !strcmp(p, path))
			return spans[i].span;
	}
	return NULL;
}

/* Wait for the SERVER span of path (more spans, until it is there):
 * it, with every span in *spans (malloc'd), or NULL. */
static const at_otlp_span *wait_server_span(struct at_receiver *rx,
					    const char *path,
					    struct at_rx_span **spans,
					    size_t *n)
{
	const at_otlp_span *s = NULL;
	size_t want = 1;

	*spans = NULL;
	*n = 0;
	for (int round = 0; round < 16 && !s; round++) {
		free(*spans);
		*n = h_spans(rx, want, WAIT_MS, spans);
		s = server_span(*spans, *n, path);
		if (*n < want)
			break; /* timed out */
		want = *n + 1;
	}
	return s;
}

static void expect_https_server(const at_otlp_span *s)
{
	cr_expect_str_eq(h_attr_str(s, "url.scheme") ?: "", "https");
	cr_expect_str_eq(h_attr_str(s, "server.address") ?: "", "localhost");
	cr_expect_eq(h_attr_int(s, "http.response.status_code", 0), 200);
}

/* A caller's traceparent (curl, not traced) is the server span's parent. */
Test(tls_gnutls, server_span_continues_caller)
{
	const char *trace = "4bf92f3577b34da6a3ce929d0e0e4736";
	const char *parent = "00f067aa0ba902b7";
	struct certs c;
	struct h_env e;
	struct tls_srv srv;
	struct h_result res;
	struct at_rx_span *spans;
	char url[96], hdr[128];
	const at_otlp_span *s = NULL;
	size_t n = 0;

	make_certs(&c);
	cr_assert_eq(h_env_start(&e), 0);
	srv_start(&srv, &c, e.ep);
	snprintf(url, sizeof(url), "https://localhost:%u/s", srv.port);
	snprintf(hdr, sizeof(hdr), "traceparent: 00-%s-%s-01", trace, parent);
	const char *argv[] = { "curl", "-sS", "--cacert", c.cert, "-H", hdr,
			       url, NULL };
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "curl: %s", res.err);
	cr_expect_str_eq(res.out, "ok");
	s = wait_server_span(e.rx, "/s", &spans, &n);
	cr_assert_not_null(s, "no server span (%zu spans)", n);
	cr_expect_str_eq(h_hex(s->trace_id.data, s->trace_id.len), trace);
	cr_expect_str_eq(h_hex(s->parent_span_id.data, s->parent_span_id.len),
			 parent);
	expect_https_server(s);
	free(spans);
	h_stop(srv.pid, 5000);
	h_result_free(&res);
	h_env_stop(&e);
}

/* wget traced -> gnutls_server traced: one trace, the server span under
 * wget's client span. */
Test(tls_gnutls, wget_to_gnutls_server_one_trace)
{
	struct certs c;
	struct h_env e;
	struct tls_srv srv;
	struct h_result res;
	struct at_rx_span *spans;
	char url[96];
	const at_otlp_span *s = NULL, *client = NULL;
	size_t n = 0;

	make_certs(&c);
	cr_assert_eq(h_env_start(&e), 0);
	srv_start(&srv, &c, e.ep);
	snprintf(url, sizeof(url), "https://localhost:%u/chain", srv.port);
	const char *argv[] = { "wget", "-q", "-O", "-", "--ca-certificate",
			       c.cert, url, NULL };
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "wget: %s", res.err);
	cr_expect_str_eq(res.out, "ok");
	s = wait_server_span(e.rx, "/chain", &spans, &n);
	for (size_t i = 0; i < n && !client; i++)
		if (spans[i].span->kind == KIND_CLIENT &&
		    h_attr_str(spans[i].span, "http.request.method"))
			client = spans[i].span;
	cr_assert(s && client, "spans: server %p client %p (%zu)", (void *)s,
		  (void *)client, n);
	cr_expect_eq(s->trace_id.len, client->trace_id.len);
	cr_expect(memcmp(s->trace_id.data, client->trace_id.data,
			 s->trace_id.len) == 0,
		  "server and client in different traces");
	cr_expect(s->parent_span_id.len == client->span_id.len &&
			  memcmp(s->parent_span_id.data, client->span_id.data,
				 client->span_id.len) == 0,
		  "server span's parent is not wget's client span");
	expect_https_server(s);
	free(spans);
	h_stop(srv.pid, 5000);
	h_result_free(&res);
	h_env_stop(&e);
}
