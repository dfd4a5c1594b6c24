/*
 * Integration tests of the libcurl spans: the curl command-line tool and
 * the project's easy and multi clients (linked with libcurl), against
 * nginx over http and https (a self-signed certificate made by the test)
 * and against a recording server, all with the library preloaded.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 60000
#define WAIT_MS 10000
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT

struct tls_nginx {
	char dir[64];
	pid_t pid;
	uint16_t port, tls_port;
	char cert[128];
};

static void nginx_tls_start(struct tls_nginx *n)
{
	char cmd[256], key[128], pf[192];
	int st;

	snprintf(n->dir, sizeof(n->dir), "/tmp/at-curl-XXXXXX");
	cr_assert_not_null(mkdtemp(n->dir));
	snprintf(cmd, sizeof(cmd), "sh tests/fixtures/curl/make-cert.sh %s 2>&1",
		 n->dir);
	char *out = h_shell(cmd, &st);
	cr_assert_eq(st, 0, "make-cert: %s", out);
	free(out);
	snprintf(n->cert, sizeof(n->cert), "%s/cert.pem", n->dir);
	snprintf(key, sizeof(key), "%s/key.pem", n->dir);
	char ngdir[128];
	snprintf(ngdir, sizeof(ngdir), "%s/ng", n->dir);
	const char *argv[] = { "sh", "tests/fixtures/nginx/nginx-run.sh", ngdir,
			       "--tls", n->cert, key, NULL };
	n->pid = h_start(argv, NULL, false, NULL);
	snprintf(pf, sizeof(pf), "%s/port", ngdir);
	n->port = h_read_port(pf, WAIT_MS);
	snprintf(pf, sizeof(pf), "%s/tls_port", ngdir);
	n->tls_port = h_read_port(pf, WAIT_MS);
	cr_assert(n->port && n->tls_port, "nginx did not start");
	cr_assert_eq(h_wait_port(n->tls_port, WAIT_MS), 0);
}

static char *nginx_tls_stop(struct tls_nginx *n)
{
	char p[160];

	h_stop(n->pid, 5000);
	snprintf(p, sizeof(p), "%s/ng/access.log", n->dir);
	return h_read_file(p, NULL);
}

static size_t count_in(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Every transfer span's context was logged by nginx once per request:
 * once, or twice for a followed redirect (the same header on both). */
static size_t check_logged(const struct at_rx_span *sp, size_t n,
			   const char *log)
{
	size_t transfers = 0;

	for (size_t i = 0; i < n; i++) {
		char tp[56];
		const at_otlp_span *s = sp[i].span;
		if (s->kind != KIND_CLIENT || !h_attr_str(s, "url.full"))
			continue;
		transfers++;
		h_span_traceparent(s, tp);
		size_t want = strstr(h_attr_str(s, "url.full"), "/redirect") ? 2 : 1;
		cr_expect_eq(count_in(log, tp), want, "%s logged %zu times:\n%s",
			     tp, count_in(log, tp), log);
	}
	return transfers;
}

Test(curl, https_command_line_gets_traceparent, .timeout = 120)
{
	struct h_env e;
	struct tls_nginx ng;
	struct h_result res;
	struct at_rx_span *sp;
	char url[96];

	cr_assert_eq(h_env_start(&e), 0);
	nginx_tls_start(&ng);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/?token=abc", ng.tls_port);
	const char *env[] = { e.ep, "OTEL_SERVICE_NAME=curl", NULL };
	const char *argv[] = { "curl", "-s", "--cacert", ng.cert, url, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "nginx ok\n");
	h_result_free(&res);
	char *log = nginx_tls_stop(&ng);
	size_t n = h_spans(e.rx, 2, WAIT_MS, &sp);
	const at_otlp_span *get = h_find_span(sp, n, "GET", KIND_CLIENT);
	cr_assert_not_null(get);
	cr_expect_eq(check_logged(sp, n, log), 1);
	const char *u = h_attr_str(get, "url.full");
	cr_expect(u && !strncmp(u, "https://127.0.0.1:", 18) &&
			  strstr(u, "token=REDACTED"),
		  "url.full %s", u ? u : "(none)");
	cr_expect_eq(h_attr_int(get, "server.port", -1), ng.tls_port);
	cr_expect_eq(h_attr_int(get, "http.response.status_code", -1), 200);
	cr_expect_str_eq(h_attr_str(get, "network.peer.address"), "127.0.0.1");
	cr_expect_str_eq(h_attr_str(get, "network.protocol.version"), "1.1");
	int tls = 0, first = 0;
	for (size_t i = 0; i < get->n_events; i++) {
		tls |= !strcmp(get->events[i]->name, "tls_handshake");
		first |= !strcmp(get->events[i]->name, "first_byte");
	}
	cr_expect(tls && first, "phase events");
	/* The TLS bytes are not HTTP to the socket layer: only a connect. */
	const at_otlp_span *c = h_find_span(sp, n, "connect", KIND_CLIENT);
	cr_assert_not_null(c);
	cr_expect_eq(memcmp(c->parent_span_id.data, get->span_id.data, 8), 0);
	free(log);
	free(sp);
	h_env_stop(&e);
}

Test(curl, easy_client_keeps_the_application_header_list, .timeout = 120)
{
	struct h_env e;
	struct tls_nginx ng;
	struct h_result res;
	struct at_rx_span *sp;
	char u1[96], u2[96], u3[96];

	cr_assert_eq(h_env_start(&e), 0);
	nginx_tls_start(&ng);
	snprintf(u1, sizeof(u1), "http://127.0.0.1:%u/", ng.port);
	snprintf(u2, sizeof(u2), "https://127.0.0.1:%u/missing", ng.tls_port);
	snprintf(u3, sizeof(u3), "http://127.0.0.1:%u/redirect", ng.port);
	const char *env[] = { e.ep, NULL };
	const char *modes[][3] = { { "--headers", NULL }, { "--headers", "--reset", NULL },
				   { "--headers", "--dup", NULL }, { "--blob", NULL } };
	size_t expected = 0;
	for (size_t m = 0; m < 4; m++) {
		const char *argv[16];
		size_t k = 0;
		argv[k++] = h_build_path("fixtures/curl_easy_client");
		for (size_t i = 0; modes[m][i]; i++)
			argv[k++] = modes[m][i];
		argv[k++] = "--follow";
		argv[k++] = "--cacert";
		argv[k++] = ng.cert;
		argv[k++] = u1;
		argv[k++] = u2;
		argv[k++] = u3;
		argv[k] = NULL;
		cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
		cr_expect_eq(res.status, 0, "mode %zu: %s", m, res.err);
		cr_expect(strstr(res.out, "url 0 status 200 result 0"), "%s", res.out);
		cr_expect(strstr(res.out, "url 1 status 404 result 0"), "%s", res.out);
		cr_expect(strstr(res.out, "url 2 status 200 result 0"), "%s", res.out);
		if (m < 3)
			cr_expect_eq(count_in(res.out, "headers unchanged"), 3,
				     "%s", res.out);
		h_result_free(&res);
		expected += 3;
	}
	char *log = nginx_tls_stop(&ng);
	size_t n = h_spans(e.rx, expected, WAIT_MS, &sp);
	cr_expect_eq(check_logged(sp, n, log), expected);
	cr_expect(strstr(log, "404"), "%s", log);
	for (size_t i = 0; i < n; i++) {
		const char *u = h_attr_str(sp[i].span, "url.full");
		if (u && strstr(u, "/missing")) {
			cr_expect_str_eq(h_attr_str(sp[i].span, "error.type"), "404");
			cr_expect(sp[i].span->status && sp[i].span->status->code == 2);
		}
	}
	free(log);
	free(sp);
	h_env_stop(&e);
}

/* The application's own traceparent: kept (once on the wire), and the
 * transfer span continues it. */
Test(curl, application_traceparent_is_kept)
{
	struct h_env e;
	struct tls_nginx ng;
	struct h_result res;
	struct at_rx_span *sp;
	char url[96];
	const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

	cr_assert_eq(h_env_start(&e), 0);
	nginx_tls_start(&ng);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", ng.port);
	const char *env[] = { e.ep, NULL };
	const char *argv[] = { h_build_path("fixtures/curl_easy_client"),
			       "--traceparent", tp, url, url, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	char *log = nginx_tls_stop(&ng);
	cr_expect_eq(count_in(log, tp), 2, "%s", log);
	cr_expect_eq(count_in(log, "00-"), 2, "no second traceparent:\n%s", log);
	size_t n = h_spans(e.rx, 2, WAIT_MS, &sp), gets = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(sp[i].span->name, "GET"))
			continue;
		gets++;
		cr_expect_str_eq(h_hex(sp[i].span->trace_id.data, 16),
				 "4bf92f3577b34da6a3ce929d0e0e4736");
		cr_expect_str_eq(h_hex(sp[i].span->parent_span_id.data, 8),
				 "00f067aa0ba902b7");
	}
	cr_expect_eq(gets, 2);
	free(log);
	free(sp);
	h_env_stop(&e);
}

static void multi(const char *mode)
{
	struct h_env e;
	struct tls_nginx ng;
	struct h_result res;
	struct at_rx_span *sp;
	char urls[6][96];
	const char *argv[16];
	size_t k = 0;

	cr_assert_eq(h_env_start(&e), 0);
	nginx_tls_start(&ng);
	argv[k++] = h_build_path("fixtures/curl_multi_client");
	if (mode)
		argv[k++] = mode;
	argv[k++] = "--cacert";
	argv[k++] = ng.cert;
	for (int i = 0; i < 6; i++) {
		snprintf(urls[i], sizeof(urls[i]), "%s://127.0.0.1:%u/%s",
			 i % 2 ? "https" : "http", i % 2 ? ng.tls_port : ng.port,
			 i == 5 ? "missing" : "");
		argv[k++] = urls[i];
	}
	argv[k] = NULL;
	const char *env[] = { e.ep, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_eq(count_in(res.out, "status 200 result 0"), 5, "%s", res.out);
	h_result_free(&res);
	char *log = nginx_tls_stop(&ng);
	size_t n = h_spans(e.rx, 6, WAIT_MS, &sp);
	cr_expect_eq(check_logged(sp, n, log), 6);
	free(log);
	free(sp);
	h_env_stop(&e);
}

Test(curl, multi_perform_concurrent_transfers, .timeout = 120)
{
	multi(NULL);
}

Test(curl, multi_socket_action_concurrent_transfers, .timeout = 120)
{
	multi("--socket-action");
}

/* A record_server (it records the bytes it receives) on a fresh port:
 * its pid; url gets http://127.0.0.1:PORT/path, out the recording's path. */
static pid_t recorder_start(const char *path, char *url, size_t url_cap,
			    char *out, size_t out_cap)
{
	char dir[] = "/tmp/at-rec-XXXXXX", pf[64];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(pf, sizeof(pf), "%s/port", dir);
	snprintf(out, out_cap, "%s/bytes", dir);
	const char *rargv[] = { h_build_path("fixtures/record_server"), pf, out, NULL };
	pid_t rp = h_start(rargv, NULL, false, NULL);
	uint16_t port = h_read_port(pf, WAIT_MS);
	cr_assert_neq(port, 0);
	snprintf(url, url_cap, "http://127.0.0.1:%u/%s", port, path);
	return rp;
}

/* Over plain http the socket layer sees the same request: still exactly
 * one traceparent line on the wire and one span per transfer. */
Test(curl, no_double_injection_over_http)
{
	struct h_env e;
	char of[64], url[96];
	struct h_result res;
	struct at_rx_span *sp;

	cr_assert_eq(h_env_start(&e), 0);
	pid_t rp = recorder_start("a", url, sizeof(url), of, sizeof(of));
	const char *env[] = { e.ep, NULL };
	const char *argv[] = { h_build_path("fixtures/curl_easy_client"),
			       "--headers", url, url, url, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	h_result_free(&res);
	h_stop(rp, 5000);
	char *bytes = h_read_file(of, NULL);
	cr_expect_eq(count_in(bytes, "traceparent:"), 3, "%s", bytes);
	cr_expect_eq(count_in(bytes, "X-App: 1"), 3);
	size_t n = h_spans(e.rx, 3, WAIT_MS, &sp), gets = 0;
	for (size_t i = 0; i < n; i++)
		gets += !strcmp(sp[i].span->name, "GET");
	cr_expect_eq(gets, 3, "one span per transfer");
	free(bytes);
	free(sp);
	h_env_stop(&e);
}

/* The method a span is named with comes from the handle's options (worked
 * out at the first transfer after they change, then kept): every transfer
 * of a handle gets it, also after curl_easy_reset and for a handle made by
 * curl_easy_duphandle; each transfer sends its own span's traceparent. */
Test(curl, method_follows_the_options_across_transfers, .timeout = 120)
{
	static const struct {
		const char *opts[4];
		const char *name, *method, *original;
	} modes[] = {
		{ { "--post", "x=1", NULL }, "POST", "POST", NULL },
		{ { "--head", NULL }, "HEAD", "HEAD", NULL },
		{ { "--method", "PURGE", NULL }, "HTTP", "_OTHER", "PURGE" },
		{ { "--reset", "--post", "x=1", NULL }, "POST", "POST", NULL },
		{ { "--dup", "--head", NULL }, "HEAD", "HEAD", NULL },
		{ { "--dup", "--reset", "--method", "PURGE" }, "HTTP", "_OTHER", "PURGE" },
		{ { NULL }, "GET", "GET", NULL },
	};
	const size_t n_modes = sizeof(modes) / sizeof(modes[0]);

	for (size_t m = 0; m < n_modes; m++) {
		struct h_env e;
		char of[64], url[96];
		struct h_result res;
		struct at_rx_span *sp;
		const char *argv[12];
		size_t k = 0;

		cr_assert_eq(h_env_start(&e), 0);
		pid_t rp = recorder_start("m", url, sizeof(url), of, sizeof(of));
		argv[k++] = h_build_path("fixtures/curl_easy_client");
		for (size_t i = 0; i < 4 && modes[m].opts[i]; i++)
			argv[k++] = modes[m].opts[i];
		argv[k++] = url;
		argv[k++] = url;
		argv[k] = NULL;
		const char *env[] = { e.ep, NULL };
		cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
		cr_expect_eq(res.status, 0, "mode %zu: %s", m, res.err);
		cr_expect_eq(count_in(res.out, "status 200 result 0"), 2,
			     "mode %zu: %s", m, res.out);
		h_result_free(&res);
		h_stop(rp, 5000);
		char *bytes = h_read_file(of, NULL);
		size_t n = h_spans(e.rx, 2, WAIT_MS, &sp), got = 0;
		for (size_t i = 0; i < n; i++) {
			const at_otlp_span *s = sp[i].span;
			char tp[56], line[80];
			if (s->kind != KIND_CLIENT || !h_attr_str(s, "url.full"))
				continue;
			got++;
			cr_expect_str_eq(s->name, modes[m].name, "mode %zu", m);
			cr_expect_str_eq(h_attr_str(s, "http.request.method"),
					 modes[m].method, "mode %zu", m);
			if (modes[m].original)
				cr_expect_str_eq(h_attr_str(s, "http.request.method_original"),
						 modes[m].original, "mode %zu", m);
			else
				cr_expect_null(h_attr_str(s, "http.request.method_original"),
					       "mode %zu", m);
			h_span_traceparent(s, tp);
			snprintf(line, sizeof(line), "traceparent: %s\r\n", tp);
			cr_expect_eq(count_in(bytes, line), 1, "mode %zu: %s in\n%s",
				     m, tp, bytes);
		}
		cr_expect_eq(got, 2, "mode %zu: one span per transfer", m);
		cr_expect_eq(count_in(bytes, "traceparent:"), 2, "mode %zu", m);
		free(bytes);
		free(sp);
		h_env_stop(&e);
	}
}

/*
 * Where each request head of the recorded bytes has its traceparent line:
 * their count; each one's span id into ids (up to max); *last: how many
 * of them are the head's last line (the socket layer puts it right before
 * the blank line; curl writes our list's line before the Content-Length
 * and Content-Type of a POST).
 */
static size_t traceparents(const char *bytes, char ids[][17], size_t max,
			   size_t *last)
{
	size_t n = 0;
	const char *p = bytes;

	*last = 0;
	while ((p = strstr(p, "traceparent: 00-"))) {
		const char *eol = strstr(p, "\r\n");

		if (n < max && strlen(p) >= 16 + 32 + 1 + 16) {
			memcpy(ids[n], p + 16 + 32 + 1, 16);
			ids[n][16] = 0;
		}
		n++;
		if (eol && !strncmp(eol, "\r\n\r\n", 4))
			(*last)++;
		p += 12;
	}
	return n;
}

/* POST transfers of curl_easy_client (with extra options) to a recorder,
 * three of them: one traceparent per request head, each the span id of
 * one of the three POST spans (and no other HTTP span: none of the
 * socket layer's); returns how many of the lines ended their head. */
static size_t post_three(const char *const *opts, const char *const *env_add)
{
	struct h_env e;
	char of[64], url[96], ids[8][17];
	struct h_result res;
	struct at_rx_span *sp;
	const char *argv[16], *env[4];
	size_t k = 0, last, posts = 0, matched = 0;

	cr_assert_eq(h_env_start(&e), 0);
	pid_t rp = recorder_start("p", url, sizeof(url), of, sizeof(of));
	argv[k++] = h_build_path("fixtures/curl_easy_client");
	argv[k++] = "--post";
	argv[k++] = "x=1";
	for (; opts && *opts; opts++)
		argv[k++] = *opts;
	argv[k++] = url;
	argv[k++] = url;
	argv[k++] = url;
	argv[k] = NULL;
	env[0] = e.ep;
	env[1] = env_add ? env_add[0] : NULL;
	env[2] = NULL;
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_eq(count_in(res.out, "status 200"), 3, "%s", res.out);
	h_result_free(&res);
	h_stop(rp, 5000);
	char *bytes = h_read_file(of, NULL);
	cr_expect_eq(traceparents(bytes, ids, 8, &last), 3, "%s", bytes);
	size_t n = h_spans(e.rx, 3, WAIT_MS, &sp);
	for (size_t i = 0; i < n; i++) {
		const char *id = h_hex(sp[i].span->span_id.data, 8);

		cr_expect(strcmp(sp[i].span->name, "GET") &&
				  strcmp(sp[i].span->name, "HTTP"),
			  "a span of the socket layer: %s", sp[i].span->name);
		if (strcmp(sp[i].span->name, "POST"))
			continue;
		posts++;
		for (size_t j = 0; j < 3; j++)
			matched += !strcmp(ids[j], id);
	}
	cr_expect_eq(posts, 3, "one span per transfer");
	cr_expect_eq(matched, 3, "each head carries its transfer's span id");
	free(bytes);
	free(sp);
	h_env_stop(&e);
	return last;
}

/* A plain http:// easy transfer lends its span to the socket layer: the
 * line is the last of the head (not where curl writes its list). */
Test(curl, plain_http_transfer_lends_its_span, .timeout = 120)
{
	cr_expect_eq(post_three(NULL, NULL), 3);
}

/* With a proxy variable in the environment but CURLOPT_NOPROXY "*" (the
 * fixture sets it: no proxy is used), it still lends. */
Test(curl, proxy_variable_with_noproxy_star_still_lends, .timeout = 120)
{
	const char *env[] = { "http_proxy=http://127.0.0.1:9", NULL };

	cr_expect_eq(post_three(NULL, env), 3);
}

/* CURLOPT_FOLLOWLOCATION (a redirect may go to https, where the socket
 * layer sees no head): our list, the line where curl writes it. */
Test(curl, follow_location_keeps_the_header_list, .timeout = 120)
{
	const char *opts[] = { "--follow", NULL };

	cr_expect_eq(post_three(opts, NULL), 0);
}

/* The application's own list (no traceparent) is not a reason for the
 * list: it lends, the application's lines are sent as they are. */
Test(curl, application_lines_still_lend, .timeout = 120)
{
	const char *opts[] = { "--headers", NULL };

	cr_expect_eq(post_three(opts, NULL), 3);
}
