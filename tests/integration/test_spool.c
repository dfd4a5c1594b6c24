/*
 * The collector goes away in the middle of a process tree's work and comes
 * back: with AUTOTRACE_SPOOL_DIR the spans of the short-lived processes
 * that exited meanwhile are spooled and delivered later by the
 * long-running service, so the whole tree arrives as one trace, once.
 *
 * The tree: curl (client) -> a preloaded Python ThreadingHTTPServer whose
 * handler runs `sh job.sh` -> curl to a leaf server + psql to the throwaway
 * PostgreSQL.  Request 1 runs with the collector up, request 2 with it
 * down; both traces must end up with the same spans.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness.h"

#define RUN_MS 30000

static const char service_py[] =
	"import http.server, subprocess, sys, os\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def log_message(self, *a): pass\n"
	"    def do_GET(self):\n"
	"        out = subprocess.run(['sh', sys.argv[2]],\n"
	"                             capture_output=True).stdout\n"
	"        self.send_response(200)\n"
	"        self.send_header('Content-Length', str(len(out)))\n"
	"        self.end_headers(); self.wfile.write(out)\n"
	"s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
	"open(sys.argv[1] + '.tmp', 'w').write(str(s.server_port))\n"
	"os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
	"s.serve_forever()\n";

/* The client: a preloaded curl.  Returns its output (malloc'd). */
static char *client_get(uint16_t port, const char *path,
			const char *const env[])
{
	char url[128];
	struct h_result res;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	const char *argv[] = { "curl", "-sS", url, NULL };
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_assert_eq(res.status, 0, "curl %s: %s", path, res.err);
	char *out = strdup(res.out);
	h_result_free(&res);
	return out;
}

/* The trace id (16 bytes) of the client span of path, or NULL. */
static const uint8_t *client_trace(const struct at_rx_span *spans, size_t n,
				   const char *path)
{
	for (size_t i = 0; i < n; i++) {
		const char *url = h_attr_str(spans[i].span, "url.full");
		const char *svc = h_res_str(spans[i].resource, "service.name");
		if (spans[i].span->kind == 3 && url && svc &&
		    !strcmp(svc, "client") && strstr(url, path) &&
		    spans[i].span->trace_id.len == 16)
			return spans[i].span->trace_id.data;
	}
	return NULL;
}

/* The spans of one trace as sorted "service/name/kind" lines, and how
 * many there are. */
static size_t trace_shape(const struct at_rx_span *spans, size_t n,
			  const uint8_t *trace, char *out, size_t cap)
{
	char *lines[256];
	size_t k = 0, len = 0;

	for (size_t i = 0; trace && i < n && k < 256; i++) {
		const at_otlp_span *s = spans[i].span;
		const char *svc = h_res_str(spans[i].resource, "service.name");
		if (s->trace_id.len != 16 || memcmp(s->trace_id.data, trace, 16))
			continue;
		if (asprintf(&lines[k], "%s/%s/%d", svc ? svc : "?", s->name,
			     (int)s->kind) < 0)
			cr_assert_fail("asprintf");
		k++;
	}
	for (size_t i = 1; i < k; i++) /* insertion sort */
		for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0;
		     j--) {
			char *t = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = t;
		}
	out[0] = '\0';
	for (size_t i = 0; i < k; i++) {
		len += (size_t)snprintf(out + len, len < cap ? cap - len : 0,
					"%s\n", lines[i]);
		free(lines[i]);
	}
	return k;
}

/* Is the shape complete: the four spans the tree must have? */
static int has_tree(const char *shape)
{
	return strstr(shape, "client/GET/3") && strstr(shape, "svc/GET/2") &&
	       strstr(shape, "job/GET/3") && strstr(shape, "job/SELECT");
}

static int spool_files(const char *spool)
{
	char cmd[400];
	int st;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", spool);
	char *out = h_shell(cmd, &st);
	int n = out ? atoi(out) : -1;
	free(out);
	return n;
}

/*
 * Wait (at most 60 s) until the trace of path has the whole tree and the
 * spool directory (if given) is empty.  Returns the trace's span count,
 * its shape in shape.
 */
static size_t wait_tree(struct at_receiver *rx, const char *path,
			const char *spool, char *shape, size_t cap)
{
	size_t have = 0, k = 0;

	for (int waited = 0; waited < 120; waited++) {
		struct at_rx_span *spans;
		size_t n = h_spans(rx, have + 1, 500, &spans);

		have = n;
		k = trace_shape(spans, n, client_trace(spans, n, path), shape,
				cap);
		free(spans);
		if (has_tree(shape) && (!spool || spool_files(spool) == 0))
			break;
	}
	return k;
}

Test(programs, collector_outage_loses_nothing_with_a_spool, .timeout = 180)
{
	char dir[] = "/tmp/at-spool-XXXXXX", portfile[300], log[300],
	     job[300], spool[300], spool_env[340], shape1[4096], shape2[4096];
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1" };
	const char *pg_dir = getenv("AT_PG_DIR"), *pg_port = getenv("AT_PG_PORT");

	cr_assert(pg_dir && pg_port, "run by scripts/run-integration.sh");
	cr_assert(mkdtemp(dir));
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(job, sizeof(job), "%s/job.sh", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(spool_env, sizeof(spool_env), "AUTOTRACE_SPOOL_DIR=%s", spool);

	struct h_http *leaf = h_http_start();
	FILE *f = fopen(job, "w");
	cr_assert(f);
	fprintf(f,
		"export OTEL_SERVICE_NAME=job\n"
		"curl -sS http://127.0.0.1:%u/leaf\n"
		"psql -X -q -A -t -h %s -p %s -U postgres -d postgres "
		"-c 'select 41 + 1'\n",
		h_http_port(leaf), pg_dir, pg_port);
	fclose(f);

	struct at_receiver *rx = at_receiver_start(&o);
	cr_assert(rx);
	o.port = at_receiver_port(rx);
	char *ep = h_endpoint_env(rx);
	const char *svc_env[] = { ep, spool_env, "OTEL_SERVICE_NAME=svc",
				  "OTEL_BSP_SCHEDULE_DELAY=100",
				  "AUTOTRACE_DEBUG=1", NULL };
	const char *client_env[] = { ep, spool_env, "OTEL_SERVICE_NAME=client",
				     NULL };
	const char *argv[] = { "python3", "-c", service_py, portfile, job,
			       NULL };
	pid_t svc = h_start(argv, svc_env, true, log);
	uint16_t port = h_read_port(portfile, RUN_MS);
	cr_assert_neq(port, 0);

	/* Request 1, collector up. */
	char *out = client_get(port, "/req1", client_env);
	cr_expect_str_eq(out, "hello\n42\n");
	free(out);
	struct at_rx_span *spans;
	size_t n = h_spans(rx, 4, RUN_MS, &spans);
	free(spans);
	cr_assert_geq(n, 4);

	/* Request 2 with the collector gone: the client, sh, curl and psql
	 * all exit while it is away. */
	at_receiver_stop(rx);
	out = client_get(port, "/req2", client_env);
	cr_expect_str_eq(out, "hello\n42\n", "the host's answer is unchanged");
	free(out);
	int spooled = spool_files(spool);
	cr_assert_gt(spooled, 0, "the short-lived processes spooled their spans");
	cr_log_info("%d requests spooled during the outage", spooled);

	rx = at_receiver_start(&o);
	cr_assert(rx, "the collector restarted on port %u", o.port);

	/* Wait for request 2's tree to arrive whole. */
	size_t n1, n2 = wait_tree(rx, "/req2", spool, shape2, sizeof(shape2));
	cr_assert(has_tree(shape2), "request 2's tree arrived: %s", shape2);

	/* Every span of the whole tree, once: request 1's spans (collected by
	 * the collector's first life) were lost with it, so compare request
	 * 2 with a fresh request 3 made with the collector up. */
	out = client_get(port, "/req3", client_env);
	free(out);
	n1 = wait_tree(rx, "/req3", NULL, shape1, sizeof(shape1));
	n = h_spans(rx, n1 + n2, RUN_MS, &spans);
	n2 = trace_shape(spans, n, client_trace(spans, n, "/req2"), shape2,
			 sizeof(shape2));
	n1 = trace_shape(spans, n, client_trace(spans, n, "/req3"), shape1,
			 sizeof(shape1));
	cr_expect_str_eq(shape2, shape1,
			 "the tree made during the outage has every span, "
			 "once:\n%s\nvs a tree made with the collector up:\n%s",
			 shape2, shape1);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_expect(memcmp(spans[i].span->span_id.data,
					 spans[j].span->span_id.data, 8) ||
					  memcmp(spans[i].span->trace_id.data,
						 spans[j].span->trace_id.data,
						 16),
				  "span %zu delivered twice", i);
	free(spans);
	cr_log_info("tree made during the outage, as delivered:\n%s", shape2);
	cr_expect_eq(spool_files(spool), 0, "the spool was emptied");
	char *svc_log = h_read_file(log, NULL);
	cr_expect(svc_log && strstr(svc_log, "failed"),
		  "the service saw the collector fail: %s", svc_log);
	free(svc_log);

	h_stop(svc, RUN_MS);
	at_receiver_stop(rx);
	h_http_stop(leaf);
	free(ep);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(h_shell(cmd, NULL));
}

/*
 * A collector that accepts and never answers, at exit: the attempt stops
 * short of AUTOTRACE_EXIT_TIMEOUT and the batch is spooled; a later
 * process sharing the spool delivers it once the collector answers.  A
 * spool directory that is not private is refused with one line.
 */
Test(core, blackholed_collector_at_exit_spools, .timeout = 60)
{
	struct h_env e;
	struct h_result res;
	struct timespec t0, t1;
	char spool[300], spool_env[340];

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(spool, sizeof(spool), "%s/spool", e.dir);
	snprintf(spool_env, sizeof(spool_env), "AUTOTRACE_SPOOL_DIR=%s", spool);
	const char *env[] = { e.ep, spool_env, "AUTOTRACE_EXIT_TIMEOUT=500",
			      "OTEL_SERVICE_NAME=first", NULL };
	at_receiver_script(e.rx, 1, -1, NULL, 0, NULL);
	const char *argv[] = { h_build_path("fixtures/tcp_client"), "127.0.0.1",
			       e.port, "2", NULL };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_eq(res.status, 0);
	cr_expect_str_eq(res.out, "connected 2\n");
	cr_expect_str_eq(res.err, "");
	cr_expect_lt(t1.tv_sec - t0.tv_sec, 10, "exit took %ld s",
		     (long)(t1.tv_sec - t0.tv_sec));
	h_result_free(&res);
	cr_assert_eq(spool_files(spool), 1, "the batch was spooled");
	cr_expect_eq(at_receiver_span_count(e.rx), 0);

	/* A later traced process: makes a span, then waits (as the host)
	 * until the spool is empty. */
	char code[1024];
	snprintf(code, sizeof(code),
		 "import os, socket, time\n"
		 "socket.create_connection(('127.0.0.1', %s)).close()\n"
		 "end = time.monotonic() + 20\n"
		 "while os.listdir('%s') and time.monotonic() < end:\n"
		 "    time.sleep(0.05)\n"
		 "print('spool empty' if not os.listdir('%s') else 'spool kept')\n",
		 e.port, spool, spool);
	const char *env2[] = { e.ep, spool_env, "OTEL_BSP_SCHEDULE_DELAY=100",
			       "OTEL_SERVICE_NAME=second", NULL };
	const char *py[] = { "python3", "-c", code, NULL };
	cr_assert_eq(h_run(py, env2, true, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "spool empty\n", "%s", res.err);
	h_result_free(&res);

	struct at_rx_span *spans;
	size_t n = h_spans(e.rx, 3, RUN_MS, &spans), first = 0;
	for (size_t i = 0; i < n; i++) {
		const char *svc = h_res_str(spans[i].resource, "service.name");
		first += svc && !strcmp(svc, "first");
	}
	free(spans);
	cr_expect_eq(first, 2, "the spooled connect spans of the first "
		     "process arrived, once (%zu spans in all)", n);

	/* A group-writable spool directory: one line, nothing spooled, the
	 * program's output unchanged. */
	cr_assert_eq(chmod(spool, 0777), 0);
	at_receiver_script(e.rx, 1, -1, NULL, 0, NULL);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "connected 2\n");
	cr_expect(strstr(res.err, "AUTOTRACE_SPOOL_DIR") &&
			  strchr(res.err, '\n') == res.err + res.err_len - 1,
		  "one line: %s", res.err);
	cr_expect_eq(spool_files(spool), 0);
	h_result_free(&res);
	h_env_stop(&e);
}
