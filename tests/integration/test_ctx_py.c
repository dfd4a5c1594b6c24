/*
 * Integration tests of the Python runtime bridge (bridges/python/,
 * issue 15): asyncio services under the library, driven with many
 * requests in flight; every request /r<i> puts its id in everything it
 * causes (URL path, SQL identifier), and the parent of EVERY span is
 * checked by decoding the exported protobuf: at least 99 % under the
 * request that caused it, none under another request, none under a
 * request that had not started or had ended when the span started.  The
 * same service runs bare too: same answers.  Python is Debian's
 * /usr/bin/python3 (aiohttp, psycopg2, requests, asyncpg) unless said.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 240000
#define WAIT_MS 20000
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define PY "/usr/bin/python3"
#define FAST_EXPORT "OTEL_BSP_SCHEDULE_DELAY=50"
#define FRONT "tests/fixtures/ctx/py_front.py"
#define STREAMS "tests/fixtures/ctx/py_streams.py"

/* ---- running a service and its driver ---- */

struct run {
	char *answers;  /* the driver's output */
	int status;     /* the service's exit status */
	char *err;      /* the service's stderr */
};

static void run_free(struct run *r)
{
	free(r->answers);
	free(r->err);
}

/*
 * Run `python fixture portfile args...` (traced if rx), drive it with n
 * requests, conc in flight, stop it.  env: more variables for the
 * service (NULL-terminated, may be NULL).
 */
static void run_service(const char *python, const char *fixture,
			const char *const args[], struct at_receiver *rx,
			const char *const env[], int n, int conc,
			struct run *out)
{
	char dir[] = "/tmp/at-ctxpy-XXXXXX", portfile[64], log[64];
	char ns[16], cs[16], port[8];
	const char *argv[16];
	const char *senv[16];
	char *ep = rx ? h_endpoint_env(rx) : NULL;
	struct h_result res;
	int k = 0, e = 0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	argv[k++] = python;
	argv[k++] = fixture;
	argv[k++] = portfile;
	for (int i = 0; args && args[i]; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	if (ep)
		senv[e++] = ep;
	senv[e++] = FAST_EXPORT;
	for (int i = 0; env && env[i]; i++)
		senv[e++] = env[i];
	senv[e] = NULL;

	pid_t pid = h_start(argv, senv, rx != NULL, log);
	cr_assert_gt(pid, 0);
	uint16_t p = h_read_port(portfile, RUN_MS);
	if (!p) {
		h_stop(pid, WAIT_MS);
		char *l = h_read_file(log, NULL);
		cr_assert_fail("%s did not start: %s", fixture, l ? l : "");
	}
	snprintf(port, sizeof(port), "%u", p);
	snprintf(ns, sizeof(ns), "%d", n);
	snprintf(cs, sizeof(cs), "%d", conc);
	const char *dargv[] = { PY, "tests/fixtures/ctx/py_drive.py", port, ns,
				cs, NULL };
	cr_assert_eq(h_run(dargv, NULL, false, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "driver: %s", res.err);
	out->answers = res.out;
	res.out = NULL;
	h_result_free(&res);
	out->status = h_stop(pid, WAIT_MS);
	out->err = h_read_file(log, NULL);
	cr_expect_eq(out->status, 0, "%s: %s", fixture, out->err);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(h_shell(cmd, NULL));
	free(ep);
}

/* ---- checking every span's parent ---- */

/* The request id ("r<digits>", not inside a word) in s's URL or query
 * text, or -1. */
static long span_rid(const at_otlp_span *s)
{
	static const char *const keys[] = { "url.full", "url.path",
					    "db.query.text" };

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *v = h_attr_str(s, keys[k]);
		for (const char *p = v; p && *p; p++) {
			if (*p != 'r' || (p > v && (isalnum((unsigned char)p[-1]))) ||
			    !isdigit((unsigned char)p[1]))
				continue;
			char *end;
			long id = strtol(p + 1, &end, 10);
			if (!isdigit((unsigned char)*end))
				return id;
		}
	}
	return -1;
}

static const at_otlp_span *by_id(const struct at_rx_span *sp, size_t n,
				 const ProtobufCBinaryData *id)
{
	if (id->len != 8)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (sp[i].span->span_id.len == 8 &&
		    !memcmp(sp[i].span->span_id.data, id->data, 8))
			return sp[i].span;
	return NULL;
}

/* A GET /late/<id>: made after its request's answer. */
static bool is_late(const at_otlp_span *s)
{
	const char *url = h_attr_str(s, "url.full");
	return url && strstr(url, "/late/");
}

struct tally {
	size_t servers;
	size_t own;               /* spans with an id of their own */
	size_t late_ok, late_wrong, late_root; /* /late/<id>: after the answer */
	size_t ok, wrong, root;   /* spans with an id, or under one that has */
	size_t noid_root, noid_under;
	size_t out_of_window;     /* under a request not open at its start */
	size_t server_ids_bad;
};

/*
 * Every span that is not a server span: its request id (its own, or the
 * nearest ancestor's below the server span: a connect span under its
 * GET) against the id of the server span it sits under.
 */
static void tally(const struct at_rx_span *sp, size_t n, struct tally *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span, *x = s, *srv = NULL;
		if (s->kind == KIND_SERVER) {
			t->servers++;
			t->server_ids_bad += span_rid(s) < 0;
			continue;
		}
		long own = span_rid(s);
		bool late = is_late(s);
		t->own += own >= 0;
		for (int depth = 0; depth < 16 && x->parent_span_id.len; depth++) {
			x = by_id(sp, n, &x->parent_span_id);
			if (!x)
				break;
			if (x->kind == KIND_SERVER) {
				srv = x;
				break;
			}
			if (own < 0)
				own = span_rid(x);
			late = late || is_late(x);
		}
		if (srv && (s->start_time_unix_nano < srv->start_time_unix_nano ||
			    s->start_time_unix_nano > srv->end_time_unix_nano))
			t->out_of_window++;
		if (late) {
			if (!srv)
				t->late_root++;
			else if (span_rid(srv) == own)
				t->late_ok++;
			else
				t->late_wrong++;
		} else if (own < 0) {
			if (srv)
				t->noid_under++;
			else
				t->noid_root++;
		} else if (!srv) {
			t->root++;
		} else if (span_rid(srv) == own) {
			t->ok++;
		} else {
			t->wrong++;
		}
	}
}

/* Traced: n requests, `per` spans with an id each; at least 99 % under
 * their own request, none under another or outside its request. */
static void expect_parents(struct at_receiver *rx, int n, int per,
			   const char *what)
{
	struct at_rx_span *sp;
	struct tally t;
	size_t want = (size_t)n * (size_t)(per + 1);
	size_t got = h_spans(rx, want, WAIT_MS, &sp);

	tally(sp, got, &t);
	cr_log_info("%s: servers=%zu right=%zu wrong=%zu root=%zu; without id: "
		    "%zu under a request, %zu roots; outside their request: %zu",
		    what, t.servers, t.ok, t.wrong, t.root, t.noid_under,
		    t.noid_root, t.out_of_window);
	cr_expect_eq(t.servers, (size_t)n, "%s: server spans", what);
	cr_expect_eq(t.server_ids_bad, 0);
	cr_expect_eq(t.own, (size_t)n * (size_t)per, "%s: spans with an id: %zu",
		     what, t.own);
	cr_expect_geq(t.ok * 100, (t.ok + t.wrong + t.root) * 99,
		      "%s: right %zu of %zu", what, t.ok,
		      t.ok + t.wrong + t.root);
	cr_expect_eq(t.wrong, 0, "%s: %zu spans under another request", what,
		     t.wrong);
	cr_expect_eq(t.out_of_window, 0,
		     "%s: %zu spans under a request that was not open", what,
		     t.out_of_window);
	if (t.late_ok + t.late_wrong + t.late_root)
		cr_log_info("%s: after the answer: %zu under their request (still "
			    "answering), %zu roots, %zu wrong", what, t.late_ok,
			    t.late_root, t.late_wrong);
	cr_expect_eq(t.late_wrong, 0, "%s: %zu late spans under another request",
		     what, t.late_wrong);
	free(sp);
}

/* The answers bare and traced: the same, and n of them, all 200. */
static void expect_same(const struct run *bare, const struct run *traced,
			int n)
{
	cr_expect_str_eq(traced->answers, bare->answers);
	int lines = 0;
	for (const char *p = bare->answers; (p = strstr(p, "200 r")); p++)
		lines++;
	cr_expect_eq(lines, n, "answers: %s", bare->answers);
}

/* One scenario: bare, then traced, same answers, every parent right. */
static void scenario(const char *python, const char *fixture,
		     const char *const args[], int n, int conc, int per,
		     const char *what)
{
	struct run bare, traced;
	char *dir;
	struct at_receiver *rx = h_receiver(&dir);

	cr_assert_not_null(rx);
	run_service(python, fixture, args, NULL, NULL, n, conc, &bare);
	run_service(python, fixture, args, rx, NULL, n, conc, &traced);
	expect_same(&bare, &traced, n);
	expect_parents(rx, n, per, what);
	run_free(&bare);
	run_free(&traced);
	at_receiver_stop(rx);
	free(dir);
}

static const char *pg_port(void)
{
	const char *p = getenv("AT_PG_PORT");
	cr_assert(p && getenv("AT_PG_DIR"),
		  "no PostgreSQL test cluster (run through scripts/run-integration.sh)");
	return p;
}

/* scenario() with a loopback HTTP server as the service's backend: its
 * port in place of "BACK" in args. */
static void with_back(const char *python, const char *fixture,
		      const char *args[], int n, int conc, int per,
		      const char *what)
{
	struct h_http *back = h_http_start();
	char port[8];

	cr_assert_not_null(back);
	snprintf(port, sizeof(port), "%u", h_http_port(back));
	for (int i = 0; args[i]; i++)
		if (!strcmp(args[i], "BACK"))
			args[i] = port;
	scenario(python, fixture, args, n, conc, per, what);
	h_http_stop(back);
}

/* The front service in MODE. */
static void with_mode(const char *mode, int n, int conc, int per,
		      const char *what)
{
	const char *args[] = { mode, "BACK", NULL };
	with_back(PY, FRONT, args, n, conc, per, what);
}

/* The front service in MODE with the test cluster's PostgreSQL. */
static void with_pg(const char *mode, int n, int conc, int per,
		    const char *what)
{
	const char *args[] = { mode, "BACK", "127.0.0.1", pg_port(),
			       "autotrace", NULL };
	with_back(PY, FRONT, args, n, conc, per, what);
}

/* ---- aiohttp server, aiohttp client: GET /call/<id> and /second/<id>
 * per request ---- */

Test(ctx_py, aiohttp_client_20_in_flight, .timeout = 600)
{
	with_mode("http", 300, 20, 2, "aiohttp client, 20 in flight");
}

Test(ctx_py, aiohttp_client_sequential, .timeout = 300)
{
	with_mode("http", 60, 1, 2, "aiohttp client, sequential");
}

/* ---- psycopg2 and requests in worker threads: three queries
 * (run_in_executor, to_thread, a ThreadPoolExecutor's submit) and a GET
 * with requests in the executor per request ---- */

Test(ctx_py, executor_psycopg2_20_in_flight, .timeout = 600)
{
	with_pg("executor", 300, 20, 4, "executors, 20 in flight");
}

Test(ctx_py, executor_psycopg2_sequential, .timeout = 300)
{
	with_pg("executor", 60, 1, 4, "executors, sequential");
}

/* ---- asyncpg on a shared pool (the PostgreSQL wire family): a query
 * on an acquired connection and one through the pool per request (and
 * the pool's reset query at each release, without an id) ---- */

Test(ctx_py, asyncpg_20_in_flight, .timeout = 600)
{
	with_pg("asyncpg", 300, 20, 2, "asyncpg, 20 in flight");
}

Test(ctx_py, asyncpg_sequential, .timeout = 300)
{
	with_pg("asyncpg", 60, 1, 2, "asyncpg, sequential");
}

/* ---- a task a request leaves running after its answer, released by a
 * later request (sequential: the next one on the same keep-alive
 * connection): its GET /late/<id> is never under that later request ---- */

Test(ctx_py, aiohttp_work_after_the_answer_sequential, .timeout = 300)
{
	with_mode("late", 60, 1, 2, "late work, sequential");
}

Test(ctx_py, aiohttp_work_after_the_answer_20_in_flight, .timeout = 600)
{
	with_mode("late", 300, 20, 2, "late work, 20 in flight");
}

/* ---- all of them in each request ---- */

Test(ctx_py, mixed_20_in_flight, .timeout = 600)
{
	with_pg("mixed", 300, 20, 8, "all, 20 in flight");
}

/* ---- a plain asyncio streams server (no framework: the connection's
 * oldest open request): a GET with asyncio streams and one with urllib
 * in asyncio.to_thread per request; also the PATH's python3 (pyenv's,
 * not Debian's) ---- */

Test(ctx_py, asyncio_streams_20_in_flight, .timeout = 600)
{
	const char *args[] = { "BACK", NULL };
	with_back(PY, STREAMS, args, 200, 20, 2, "asyncio streams, 20 in flight");
}

Test(ctx_py, asyncio_streams_other_python, .timeout = 600)
{
	const char *args[] = { "BACK", NULL };
	with_back("python3", STREAMS, args, 100, 20, 2,
		  "asyncio streams, PATH's python3");
}

/* ---- switched off: the program behaves the same ---- */

Test(ctx_py, bridges_off_same_answers, .timeout = 600)
{
	struct h_http *back = h_http_start();
	struct run bare, off;
	char port[8], *dir;
	struct at_receiver *rx = h_receiver(&dir);

	cr_assert_not_null(back);
	cr_assert_not_null(rx);
	snprintf(port, sizeof(port), "%u", h_http_port(back));
	const char *args[] = { "mixed", port, "127.0.0.1", pg_port(),
			       "autotrace", NULL };
	const char *env[] = { "AUTOTRACE_RUNTIME_BRIDGES=false", NULL };
	run_service(PY, FRONT, args, NULL, NULL,
		    100, 20, &bare);
	run_service(PY, FRONT, args, rx, env, 100,
		    20, &off);
	expect_same(&bare, &off, 100);
	/* Only the native rules then: the figures, for the record. */
	struct at_rx_span *sp;
	struct tally t;
	size_t got = h_spans(rx, 100 * 7, WAIT_MS, &sp);
	tally(sp, got, &t);
	cr_log_info("bridges off: servers=%zu right=%zu wrong=%zu root=%zu",
		    t.servers, t.ok, t.wrong, t.root);
	free(sp);
	run_free(&bare);
	run_free(&off);
	at_receiver_stop(rx);
	free(dir);
	h_http_stop(back);
}

/* ---- the program's own sitecustomize and PYTHONPATH ---- */

/* What the program sees of its start-up, bare and traced: the same. */
static void own_site(const char *python)
{
	char dir[] = "/tmp/at-ctxsite-XXXXXX", path[128], file[160];
	const char *code =
		"import os, sys\n"
		"import sitecustomize, helper_mod\n"
		"print(os.environ.get('PYTHONPATH'))\n"
		"print(os.environ.get('AUTOTRACE_BRIDGE'), "
		"os.environ.get('AUTOTRACE_BRIDGE_ORIG'))\n"
		"print(sitecustomize.__file__, getattr(sitecustomize, 'MARK', None))\n"
		"print(os.environ.get('SITE_RAN'), helper_mod.VALUE)\n"
		"print([p for p in sys.path if 'autotrace' in p])\n"
		"print(sys.path)\n"
		"import asyncio, concurrent.futures\n"
		"async def main():\n"
		"    return await asyncio.to_thread(lambda: 42)\n"
		"print(asyncio.run(main()))\n";
	struct h_result bare, traced, none_bare, none_traced;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/sitecustomize.py", dir);
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs("import os\nMARK = 'own'\nos.environ['SITE_RAN'] = 'yes'\n", f);
	fclose(f);
	snprintf(file, sizeof(file), "%s/helper_mod.py", dir);
	f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs("VALUE = 7\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "PYTHONPATH=%s", dir);

	const char *argv[] = { python, "-c", code, NULL };
	const char *env[] = { path, "OTEL_TRACES_EXPORTER=none", NULL };
	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(bare.status, 0, "%s", bare.err);
	cr_expect_eq(traced.status, 0, "%s", traced.err);
	cr_expect_str_eq(traced.out, bare.out);
	cr_expect_str_eq(traced.err, bare.err);
	cr_expect(strstr(bare.out, "sitecustomize.py own\n") &&
			  strstr(bare.out, "yes 7"),
		  "%s", bare.out);

	/* No PYTHONPATH at all: none afterwards either (the interpreter's
	 * own sitecustomize, if any, still runs). */
	const char *code2 =
		"import os, sys\n"
		"print(os.environ.get('PYTHONPATH'))\n"
		"print(sys.path)\n"
		"m = sys.modules.get('sitecustomize')\n"
		"print(getattr(m, '__file__', None))\n";
	const char *argv2[] = { python, "-c", code2, NULL };
	const char *env2[] = { "OTEL_TRACES_EXPORTER=none", NULL };
	cr_assert_eq(h_run(argv2, env2, false, RUN_MS, &none_bare), 0);
	cr_assert_eq(h_run(argv2, env2, true, RUN_MS, &none_traced), 0);
	cr_expect_str_eq(none_traced.out, none_bare.out);
	cr_expect_str_eq(none_traced.err, none_bare.err);
	cr_expect(!strncmp(none_bare.out, "None\n", 5), "%s", none_bare.out);

	h_result_free(&bare);
	h_result_free(&traced);
	h_result_free(&none_bare);
	h_result_free(&none_traced);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(h_shell(cmd, NULL));
}

Test(ctx_py, own_sitecustomize_and_pythonpath, .timeout = 120)
{
	own_site(PY);
	own_site("python3");
}
