/*
 * Export to an https collector: a traced curl (calling a loopback HTTP
 * server) exports to an https OTLP receiver started by the test
 * (tests/fixtures/export_tls/otlp_tls_receiver.py, Python's ssl, not
 * traced), with certificates the test makes with the openssl command: a
 * throwaway CA, a server certificate for 127.0.0.1 and a client
 * certificate signed by the CA.
 *
 * What the receiver got (each request as decrypted, head and body) is
 * decoded by the tool's receiver code (an unbound at_receiver, which also
 * gunzips), so the spans are checked as any other test checks them.  The
 * counts come from the AUTOTRACE_DEBUG exit line.  Also: the no-fallback
 * rule for an unusable endpoint (no connection attempt at all).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 30000
#define RECEIVER "tests/fixtures/export_tls/otlp_tls_receiver.py"

struct tls_env {
	char dir[64];          /* certificates and receiver output */
	char out[96];          /* the running receiver's output dir */
	pid_t rx;
	uint16_t port;         /* the receiver's */
	int rx_n;              /* receivers started */
	struct h_http *http;   /* what curl calls */
	char url[64];
	char ca[96], other_ca[96], client_cert[96], client_key[96];
	char ca_env[160], endpoint_env[96];
};

static void shell_ok(const char *cmd)
{
	int st;
	char *out = h_shell(cmd, &st);

	cr_assert_eq(st, 0, "%s: %s", cmd, out ? out : "");
	free(out);
}

/* A CA, a server certificate for 127.0.0.1/localhost signed by it, a
 * client certificate signed by it, and another CA (the wrong one). */
static void make_certs(struct tls_env *e)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s'; "
		 "EC='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'; "
		 "openssl req -x509 $EC -keyout ca.key -out ca.pem -days 2 "
		 "-subj /CN=autotrace-test-ca 2>/dev/null; "
		 "openssl req -x509 $EC -keyout other.key -out other.pem -days 2 "
		 "-subj /CN=autotrace-other-ca 2>/dev/null; "
		 "openssl req $EC -keyout srv.key -out srv.csr "
		 "-subj /CN=127.0.0.1 2>/dev/null; "
		 "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > srv.ext; "
		 "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		 "-CAcreateserial -out srv.pem -days 2 -extfile srv.ext 2>/dev/null; "
		 "openssl req $EC -keyout cli.key -out cli.csr "
		 "-subj /CN=autotrace-client 2>/dev/null; "
		 "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext; "
		 "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key "
		 "-CAcreateserial -out cli.pem -days 2 -extfile cli.ext 2>/dev/null",
		 e->dir);
	shell_ok(cmd);
	snprintf(e->ca, sizeof(e->ca), "%s/ca.pem", e->dir);
	snprintf(e->other_ca, sizeof(e->other_ca), "%s/other.pem", e->dir);
	snprintf(e->client_cert, sizeof(e->client_cert), "%s/cli.pem", e->dir);
	snprintf(e->client_key, sizeof(e->client_key), "%s/cli.key", e->dir);
}

static void env_start(struct tls_env *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/at-export-tls-XXXXXX");
	cr_assert(mkdtemp(e->dir));
	make_certs(e);
	e->http = h_http_start();
	cr_assert(e->http);
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u/",
		 h_http_port(e->http));
	e->rx = -1;
}

/* Start a receiver (extra: more options, NULL-terminated, may be NULL). */
static void rx_start(struct tls_env *e, const char *const extra[])
{
	char port_file[128], cert[96], key[96], log[128];
	const char *argv[12] = { "/usr/bin/python3", RECEIVER, port_file,
				 e->out, cert, key };
	int n = 6;

	e->rx_n++;
	snprintf(e->out, sizeof(e->out), "%s/rx%d", e->dir, e->rx_n);
	cr_assert_eq(mkdir(e->out, 0700), 0);
	snprintf(port_file, sizeof(port_file), "%s/port", e->out);
	snprintf(log, sizeof(log), "%s/log", e->out);
	snprintf(cert, sizeof(cert), "%s/srv.pem", e->dir);
	snprintf(key, sizeof(key), "%s/srv.key", e->dir);
	for (int i = 0; extra && extra[i] && n < 11; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	e->rx = h_start(argv, NULL, false, log);
	cr_assert(e->rx > 0);
	e->port = h_read_port(port_file, RUN_MS);
	cr_assert(e->port, "the https receiver did not start: %s",
		  h_read_file(log, NULL));
	snprintf(e->endpoint_env, sizeof(e->endpoint_env),
		 "OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:%u", e->port);
}

/* The environment, a receiver (opts as rx_start's) and
 * OTEL_EXPORTER_OTLP_CERTIFICATE=ca in e->ca_env. */
static void start_with_ca(struct tls_env *e, const char *const opts[],
			  const char *ca)
{
	env_start(e);
	rx_start(e, opts);
	snprintf(e->ca_env, sizeof(e->ca_env),
		 "OTEL_EXPORTER_OTLP_CERTIFICATE=%s", ca);
}

static void rx_stop(struct tls_env *e)
{
	if (e->rx > 0)
		h_stop(e->rx, 5000);
	e->rx = -1;
}

static void env_stop(struct tls_env *e)
{
	char cmd[128];

	rx_stop(e);
	h_http_stop(e->http);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	free(h_shell(cmd, NULL));
}

/* curl on the loopback server, bare or traced with env. */
static void run_curl(struct tls_env *e, const char *const env[], bool preload,
		     struct h_result *res)
{
	const char *argv[] = { "curl", "-sS", e->url, NULL };

	cr_assert_eq(h_run(argv, env, preload, RUN_MS, res), 0);
}

/* The traced run's output and exit code are the bare run's. */
static void expect_host_unchanged(struct tls_env *e, const struct h_result *traced)
{
	struct h_result bare;

	run_curl(e, NULL, false, &bare);
	cr_expect_eq(traced->status, bare.status, "exit %d, bare %d: %s",
		     traced->status, bare.status, traced->err);
	cr_expect_str_eq(traced->out, bare.out);
	h_result_free(&bare);
}

/* The number after "key=" in the AUTOTRACE_DEBUG exit line of err. */
static long long stat_of(const char *err, const char *key)
{
	char pat[64];
	const char *line = strstr(err, "spans started=");
	const char *p;

	cr_assert(line, "no exit line in: %s", err);
	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	if (!p) { /* the first field follows '(' */
		snprintf(pat, sizeof(pat), "(%s=", key);
		p = strstr(line, pat);
	}
	cr_assert(p, "no %s in: %s", key, line);
	return atoll(p + strlen(pat));
}

static int count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static int requests_saved(const char *out)
{
	char path[160];
	int n = 0;

	for (;; n++) {
		snprintf(path, sizeof(path), "%s/req-%d.http", out, n + 1);
		if (access(path, F_OK) != 0)
			return n;
	}
}

/* Every request the receiver saved (from out), decoded by an unbound
 * receiver.  Returns the receiver; *spans / *n its spans. */
static struct at_receiver *decode_saved(const char *out,
					struct at_rx_span **spans, size_t *n)
{
	struct at_receiver_opts o = { 0 };
	struct at_receiver *r = at_receiver_new_unbound(&o);
	int k = requests_saved(out);

	cr_assert(r);
	for (int i = 1; i <= k; i++) {
		char path[160];
		size_t len;
		char *raw;
		struct at_rx_conn *c;

		snprintf(path, sizeof(path), "%s/req-%d.http", out, i);
		raw = h_read_file(path, &len);
		cr_assert(raw);
		c = at_rx_conn_open(r);
		at_rx_conn_input(c, raw, len);
		at_rx_conn_close(c);
		free(raw);
	}
	*n = h_spans(r, 0, 0, spans);
	return r;
}

/* The client span of curl's request (kind 3, url.full on our server). */
static const at_otlp_span *curl_span(struct tls_env *e,
				     const struct at_rx_span *spans, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *url = h_attr_str(spans[i].span, "url.full");
		if (spans[i].span->kind == 3 && url && !strcmp(url, e->url))
			return spans[i].span;
	}
	return NULL;
}

/* A traced curl exporting with env; checks the host is unchanged.  The
 * caller frees res. */
static void traced_curl(struct tls_env *e, const char *const env[],
			struct h_result *res)
{
	run_curl(e, env, true, res);
	expect_host_unchanged(e, res);
}

/* Everything the traced run exported arrived, decrypted and decodable:
 * the curl span among them.  Returns the decoded span count. */
static size_t expect_delivered(struct tls_env *e, const struct h_result *res,
			       const char *encoding)
{
	struct at_rx_span *spans;
	size_t n;
	struct at_receiver *r = decode_saved(e->out, &spans, &n);
	char *head;
	char path[160];

	cr_expect_gt(n, 0, "no spans decoded: %s", res->err);
	cr_expect_eq(stat_of(res->err, "exported"), (long long)n,
		     "exported vs decoded: %s", res->err);
	cr_expect_eq(stat_of(res->err, "export_failed"), 0, "%s", res->err);
	cr_expect(curl_span(e, spans, n), "no client span for %s", e->url);
	for (size_t i = 0; i < n; i++)
		cr_expect_str_eq(spans[i].content_encoding, encoding);
	snprintf(path, sizeof(path), "%s/req-1.http", e->out);
	head = h_read_file(path, NULL);
	cr_assert(head);
	cr_expect(strncmp(head, "POST /v1/traces HTTP/1.1\r\n", 26) == 0,
		  "%.60s", head);
	free(head);
	free(spans);
	at_receiver_stop(r);
	return n;
}

Test(export_tls, spans_arrive_verified_by_the_ca)
{
	struct tls_env e = { 0 };
	struct h_result res;

	start_with_ca(&e, NULL, e.ca);
	const char *env[] = { e.endpoint_env, e.ca_env, "AUTOTRACE_DEBUG=1",
			      NULL };
	traced_curl(&e, env, &res);
	expect_delivered(&e, &res, "");
	/* The same receiver by name: the certificate's DNS entry, SNI. */
	char ep[96];
	snprintf(ep, sizeof(ep),
		 "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://localhost:%u/v1/traces",
		 e.port);
	const char *env2[] = { ep, e.ca_env, "AUTOTRACE_DEBUG=1", NULL };
	struct h_result res2;
	traced_curl(&e, env2, &res2);
	cr_expect_eq(stat_of(res2.err, "exported"),
		     stat_of(res2.err, "sampled"), "%s", res2.err);
	cr_expect_eq(stat_of(res2.err, "failures"), 0, "%s", res2.err);
	cr_expect_eq(count_of(res.err, "libautotrace:") +
			     count_of(res2.err, "libautotrace:"),
		     2, "only the exit lines: %s%s", res.err, res2.err);
	h_result_free(&res);
	h_result_free(&res2);
	env_stop(&e);
}

Test(export_tls, gzip_over_tls)
{
	struct tls_env e = { 0 };
	struct h_result res;
	char path[160];

	env_start(&e);
	rx_start(&e, NULL);
	snprintf(e.ca_env, sizeof(e.ca_env),
		 "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=%s", e.ca);
	const char *env[] = { e.endpoint_env, e.ca_env, "AUTOTRACE_DEBUG=1",
			      "OTEL_EXPORTER_OTLP_COMPRESSION=gzip", NULL };
	traced_curl(&e, env, &res);
	expect_delivered(&e, &res, "gzip");
	snprintf(path, sizeof(path), "%s/req-1.http", e.out);
	char *raw = h_read_file(path, NULL);
	cr_assert(raw);
	cr_expect(strstr(raw, "\r\nContent-Encoding: gzip\r\n"), "%.300s", raw);
	free(raw);
	h_result_free(&res);
	env_stop(&e);
}

/* The refusal: one line, nothing sent, spans counted as export failures,
 * the host untouched. */
static void expect_refused(struct tls_env *e, const struct h_result *res,
			   const char *why)
{
	char path[160];
	char *events;

	cr_expect_eq(count_of(res->err, "refused: "), 1, "%s", res->err);
	cr_expect(strstr(res->err, why), "no '%s' in: %s", why, res->err);
	cr_expect_eq(stat_of(res->err, "exported"), 0, "%s", res->err);
	cr_expect_gt(stat_of(res->err, "export_failed"), 0, "%s", res->err);
	cr_expect_eq(stat_of(res->err, "export_failed"),
		     stat_of(res->err, "sampled"), "%s", res->err);
	cr_expect_gt(stat_of(res->err, "failures"), 0, "%s", res->err);
	cr_expect_eq(requests_saved(e->out), 0, "a request got through");
	snprintf(path, sizeof(path), "%s/events.log", e->out);
	cr_expect_eq(h_wait_file_has(path, "-failed", RUN_MS), 0,
		     "the receiver saw no failed handshake");
	events = h_read_file(path, NULL);
	cr_expect(events && !strstr(events, "request"), "%s", events);
	free(events);
}

Test(export_tls, wrong_ca_refused_and_counted)
{
	struct tls_env e = { 0 };
	struct h_result res;

	start_with_ca(&e, NULL, e.other_ca);
	const char *env[] = { e.endpoint_env, e.ca_env, "AUTOTRACE_DEBUG=1",
			      NULL };
	traced_curl(&e, env, &res);
	expect_refused(&e, &res, "server certificate not trusted");
	h_result_free(&res);

	/* Without a CA file: the system store, which does not know ours. */
	const char *env2[] = { e.endpoint_env, "AUTOTRACE_DEBUG=1", NULL };
	traced_curl(&e, env2, &res);
	expect_refused(&e, &res, "server certificate not trusted");
	h_result_free(&res);
	env_stop(&e);
}

Test(export_tls, client_certificate)
{
	struct tls_env e = { 0 };
	struct h_result res;
	char cert[160], key[160], ca_path[96];

	env_start(&e);
	snprintf(ca_path, sizeof(ca_path), "%s", e.ca);
	const char *opts[] = { "--client-ca", ca_path, NULL };
	rx_start(&e, opts);
	snprintf(e.ca_env, sizeof(e.ca_env), "OTEL_EXPORTER_OTLP_CERTIFICATE=%s",
		 e.ca);
	snprintf(cert, sizeof(cert), "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=%s",
		 e.client_cert);
	snprintf(key, sizeof(key), "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=%s",
		 e.client_key);

	/* Without a client certificate: refused by the receiver. */
	const char *env[] = { e.endpoint_env, e.ca_env, "AUTOTRACE_DEBUG=1",
			      NULL };
	traced_curl(&e, env, &res);
	expect_refused(&e, &res, "TLS ");
	h_result_free(&res);

	/* With it: delivered. */
	const char *env2[] = { e.endpoint_env, e.ca_env, cert, key,
			       "AUTOTRACE_DEBUG=1", NULL };
	traced_curl(&e, env2, &res);
	expect_delivered(&e, &res, "");
	h_result_free(&res);
	env_stop(&e);
}

static int spool_files(const char *spool)
{
	char cmd[200];
	int st;
	char *out;
	int n;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", spool);
	out = h_shell(cmd, &st);
	n = out ? atoi(out) : -1;
	free(out);
	return n;
}

/* Spooled while the collector is down, and while its certificate is
 * refused; delivered once over TLS by a later process. */
Test(export_tls, spool_then_delivered_once)
{
	struct tls_env e = { 0 };
	struct h_result res;
	char spool[96], spool_env[128], down[96];
	long long spooled = 0;

	env_start(&e);
	snprintf(spool, sizeof(spool), "%s/spool", e.dir);
	cr_assert_eq(mkdir(spool, 0700), 0);
	snprintf(spool_env, sizeof(spool_env), "AUTOTRACE_SPOOL_DIR=%s", spool);
	snprintf(e.ca_env, sizeof(e.ca_env), "OTEL_EXPORTER_OTLP_CERTIFICATE=%s",
		 e.ca);

	/* Down: nothing listens. */
	snprintf(down, sizeof(down),
		 "OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:%u",
		 h_closed_port());
	const char *env1[] = { down, e.ca_env, spool_env, "AUTOTRACE_DEBUG=1",
			       "OTEL_SERVICE_NAME=spooled", NULL };
	traced_curl(&e, env1, &res);
	cr_expect_gt(stat_of(res.err, "spooled"), 0, "%s", res.err);
	spooled += stat_of(res.err, "spooled");
	h_result_free(&res);

	/* Up, but its certificate refused (wrong CA): spooled too. */
	rx_start(&e, NULL);
	char wrong[160];
	snprintf(wrong, sizeof(wrong), "OTEL_EXPORTER_OTLP_CERTIFICATE=%s",
		 e.other_ca);
	const char *env2[] = { e.endpoint_env, wrong, spool_env,
			       "AUTOTRACE_DEBUG=1", "OTEL_SERVICE_NAME=spooled",
			       NULL };
	traced_curl(&e, env2, &res);
	cr_expect(strstr(res.err, "refused: server certificate not trusted"),
		  "%s", res.err);
	cr_expect(strstr(res.err, "spans are spooled"), "%s", res.err);
	cr_expect_gt(stat_of(res.err, "spooled"), 0, "%s", res.err);
	cr_expect_eq(stat_of(res.err, "export_failed"), 0, "%s", res.err);
	spooled += stat_of(res.err, "spooled");
	h_result_free(&res);
	cr_assert_gt(spool_files(spool), 0);

	/* A later process with the right CA delivers the spool (the
	 * exporter thread does, not the exit flush: it lives until the
	 * spool is empty, 30 s at most). */
	char code[512];
	snprintf(code, sizeof(code),
		 "import os, socket, time, urllib.request\n"
		 "urllib.request.urlopen('%s').read()\n"
		 "end = time.monotonic() + 30\n"
		 "while os.listdir('%s') and time.monotonic() < end:\n"
		 "    time.sleep(0.05)\n",
		 e.url, spool);
	const char *argv[] = { "/usr/bin/python3", "-c", code, NULL };
	const char *env3[] = { e.endpoint_env, e.ca_env, spool_env,
			       "AUTOTRACE_DEBUG=1", "OTEL_BSP_SCHEDULE_DELAY=100",
			       "OTEL_SERVICE_NAME=deliverer", NULL };
	cr_assert_eq(h_run(argv, env3, true, RUN_MS * 2, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_eq(spool_files(spool), 0, "the spool was not delivered");
	cr_expect_eq(stat_of(res.err, "unspooled"), spooled, "%s", res.err);

	/* Each spooled span arrived once. */
	struct at_rx_span *spans;
	size_t n, got = 0;
	struct at_receiver *r = decode_saved(e.out, &spans, &n);
	for (size_t i = 0; i < n; i++) {
		const char *svc = h_res_str(spans[i].resource, "service.name");
		if (!svc || strcmp(svc, "spooled"))
			continue;
		got++;
		for (size_t j = i + 1; j < n; j++)
			cr_expect(spans[j].span->span_id.len != 8 ||
					  memcmp(spans[j].span->span_id.data,
						 spans[i].span->span_id.data, 8),
				  "span %zu arrived twice", i);
	}
	cr_expect_eq((long long)got, spooled, "%zu of %lld spooled spans", got,
		     spooled);
	cr_expect(curl_span(&e, spans, n), "no curl span among the spooled");
	/* Keep-alive over TLS: every request of the deliverer on one
	 * connection (the wrong-CA run's handshake failed). */
	char events_path[160];
	snprintf(events_path, sizeof(events_path), "%s/events.log", e.out);
	char *events = h_read_file(events_path, NULL);
	cr_expect_geq(requests_saved(e.out), 2);
	cr_expect_eq(count_of(events ? events : "", "handshake-ok"), 1, "%s",
		     events);
	free(events);
	free(spans);
	at_receiver_stop(r);
	h_result_free(&res);
	env_stop(&e);
}

/* A TLS peer that accepts and never answers (not even a ServerHello):
 * the host still exits by itself, within its exit bound; the spans are
 * counted, not waited for. */
Test(export_tls, silent_peer_exit_bounded)
{
	struct tls_env e = { 0 };
	struct h_result res;
	char path[160];
	const char *opts[] = { "--silent", NULL };

	start_with_ca(&e, opts, e.ca);
	const char *env[] = { e.endpoint_env, e.ca_env, "AUTOTRACE_DEBUG=1",
			      NULL };
	/* h_run gives -1 if it had to kill it after RUN_MS: the bound is
	 * generous (the exit timeout is 3 s), this is no timing test. */
	traced_curl(&e, env, &res);
	cr_expect_neq(res.status, -1, "the host did not exit by itself");
	snprintf(path, sizeof(path), "%s/events.log", e.out);
	cr_expect_eq(h_wait_file_has(path, "accept", RUN_MS), 0,
		     "the exporter never connected");
	cr_expect_eq(stat_of(res.err, "exported"), 0, "%s", res.err);
	cr_expect_eq(stat_of(res.err, "export_failed") +
			     stat_of(res.err, "unsent_at_exit"),
		     stat_of(res.err, "sampled"), "%s", res.err);
	h_result_free(&res);
	env_stop(&e);
}

/* No fallback: an unusable endpoint disables export with one line; no
 * connection is attempted anywhere (http://localhost:4318 included). */
Test(export_tls, unusable_endpoint_no_fallback)
{
	static const char *const bad[] = {
		"OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:notaport",
		"OTEL_EXPORTER_OTLP_ENDPOINT=htps://127.0.0.1:4318",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=127.0.0.1:4318/v1/traces",
	};
	struct tls_env e = { 0 };

	env_start(&e);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct h_result res;
		/* A usable generic endpoint does not stand in for a bad
		 * _TRACES_ one either. */
		const char *env[] = { bad[i], "AUTOTRACE_DEBUG=1",
				      "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9",
				      NULL };
		if (strstr(bad[i], "_TRACES_") == NULL)
			env[2] = NULL;
		traced_curl(&e, env, &res);
		cr_expect_eq(count_of(res.err, "export disabled"), 1, "%s",
			     res.err);
		cr_expect_eq(count_of(res.err, "libautotrace:"), 2,
			     "the line and the exit line: %s", res.err);
		cr_expect_eq(stat_of(res.err, "attempts"), 0, "%s", res.err);
		cr_expect_gt(stat_of(res.err, "exporter_none"), 0, "%s",
			     res.err);
		cr_expect_eq(stat_of(res.err, "exporter_none"),
			     stat_of(res.err, "sampled"), "%s", res.err);
		h_result_free(&res);
	}
	env_stop(&e);
}
