/*
 * Integration tests of context in Node.js (issue 15): a front service
 * (tests/fixtures/ctx/node_front.js: an `http` server or an express app)
 * makes, for each request GET /r<i>, an http.request through a keep-alive
 * agent, a fetch, pg queries (a Pool whose checkouts queue, and two
 * queries at once on one shared Client) and ioredis commands on one
 * shared connection, each carrying r<i> (URL path, SQL alias, Redis key).
 * A bare Node driver sends a few hundred requests, 20 in flight; the
 * parent of EVERY client span is checked by decoding the export: its
 * nearest server ancestor must be the request whose id it carries.
 * pg and Redis are covered when scripts/run-integration.sh started their
 * servers and the library has their wire families.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define FIX "tests/fixtures/ctx/"
#define WAIT_MS 20000
#define RUN_MS 180000
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT

/* What a run gave: the driver's answers and, traced, the spans' check. */
struct figures {
	int servers;           /* server spans /r<i> */
	int right, wrong, root, other; /* client spans with an id */
	int expected;          /* client spans with an id the run should make */
	int noid, noid_in;     /* client spans without an id; under a request */
	int per[4][3];         /* http, fetch, pg, redis: right, wrong, root */
	bool log_wrong;        /* say which span was under which request */
};

static bool have_pg(void)
{
	return getenv("AT_PG_PORT") && access("hooks/wire/at_wire_pg.c", F_OK) == 0;
}

static bool have_redis(void)
{
	return getenv("AT_REDIS_PORT") &&
	       access("hooks/wire/at_wire_redis.c", F_OK) == 0;
}

/* ---- the spans ---- */

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

/* The request id ("r<digits>") a client span carries, and its family
 * (0 http.request, 1 fetch, 2 pg, 3 redis), or 0 if none. */
static int span_rid(const at_otlp_span *s, char *rid, size_t cap, int *fam)
{
	static const struct { const char *attr, *mark; int fam; } m[] = {
		{ "url.full", "/call/", 0 },  { "url.full", "/fetch/", 1 },
		{ "db.query.text", "q_", 2 }, { "db.query.text", "s1_", 2 },
		{ "db.query.text", "s2_", 2 }, { "db.query.text", "key:", 3 },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		const char *v = h_attr_str(s, m[i].attr), *p;
		size_t k = 1;
		if (!v || !(p = strstr(v, m[i].mark)))
			continue;
		p += strlen(m[i].mark);
		if (p[0] != 'r')
			continue;
		while (p[k] >= '0' && p[k] <= '9' && k + 1 < cap)
			k++;
		if (k == 1)
			continue;
		memcpy(rid, p, k);
		rid[k] = 0;
		*fam = m[i].fam;
		return 1;
	}
	return 0;
}

/* The nearest server ancestor of s, or NULL (a root, or a parent not
 * exported). */
static const at_otlp_span *server_of(const struct at_rx_span *sp, size_t n,
				     const at_otlp_span *s, bool *orphan)
{
	*orphan = false;
	for (int depth = 0; depth < 16; depth++) {
		const at_otlp_span *p;
		if (s->parent_span_id.len != 8)
			return NULL;
		p = by_id(sp, n, &s->parent_span_id);
		if (!p) {
			*orphan = true;
			return NULL;
		}
		if (p->kind == KIND_SERVER)
			return p;
		s = p;
	}
	return NULL;
}

static void check_spans(const struct at_rx_span *sp, size_t n,
			struct figures *f)
{
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		const at_otlp_span *srv;
		const char *path;
		char rid[24];
		int fam = 0;
		bool orphan;

		if (s->kind == KIND_SERVER) {
			path = h_attr_str(s, "url.path");
			if (path && path[1] == 'r')
				f->servers++;
			cr_expect_eq(s->parent_span_id.len, 0,
				     "server span %s has a parent", path);
			continue;
		}
		if (s->kind != KIND_CLIENT)
			continue;
		srv = server_of(sp, n, s, &orphan);
		if (!span_rid(s, rid, sizeof(rid), &fam)) {
			f->noid++;
			f->noid_in += srv != NULL;
			continue;
		}
		path = srv ? h_attr_str(srv, "url.path") : NULL;
		if (orphan) {
			f->other++;
		} else if (!srv) {
			f->root++;
			f->per[fam][2]++;
		} else if (path && path[0] == '/' && !strcmp(path + 1, rid)) {
			f->right++;
			f->per[fam][0]++;
		} else {
			f->wrong++;
			f->per[fam][1]++;
			if (f->log_wrong)
				cr_log_error("%s (%s) under the request %s",
				     h_attr_str(s, "url.full")
					     ? h_attr_str(s, "url.full")
					     : h_attr_str(s, "db.query.text"),
				     rid, path ? path : "?");
		}
	}
}

/* ---- a run ---- */

struct run {
	const char *mode;      /* "http" or "express" */
	int count, inflight;
	bool preload;
	const char *extra;     /* one more "K=V" for the front, or NULL */
	const char *const *front_prefix; /* argv before node (or NULL) */
	const char *nodeopt;   /* NODE_OPTIONS for the front, or NULL */
	bool curl_expect;      /* driven by curl on one connection, every
				  other request with "Expect: 100-continue" */
};

/* Run the front (and its backend, bare) and drive it; the driver's
 * answers (malloc'd) and, when traced, the figures. */
static char *run_front(const struct run *r, struct figures *f)
{
	struct at_receiver *rx = NULL;
	char *dir = NULL, *ep = NULL, tmp[] = "/tmp/at-ctxnode-XXXXXX";
	char backf[64], frontf[64], bport[8], fport[8], cnt[12], inf[12];
	char npath[1024], pgp[32], rdp[32], nodeopt[512];
	const char *env[12];
	int e = 0;
	struct h_result res;
	const char *wire = getenv("AT_WIRE_NODE_PATH");

	cr_assert(wire, "AT_WIRE_NODE_PATH unset (run through scripts/run-integration.sh)");
	memset(f, 0, sizeof(*f));
	f->log_wrong = !r->extra || !strstr(r->extra, "BRIDGES=false");
	cr_assert(mkdtemp(tmp));
	snprintf(backf, sizeof(backf), "%s/back.port", tmp);
	snprintf(frontf, sizeof(frontf), "%s/front.port", tmp);

	const char *bargv[] = { "node", FIX "node_back.js", backf, NULL };
	pid_t back = h_start(bargv, NULL, false, NULL);
	uint16_t bp = h_read_port(backf, WAIT_MS);
	cr_assert(bp, "the backend did not start");
	snprintf(bport, sizeof(bport), "%u", bp);

	snprintf(npath, sizeof(npath), "NODE_PATH=%s", wire);
	env[e++] = npath;
	if (getenv("AT_PG_PORT")) {
		snprintf(pgp, sizeof(pgp), "AT_PG_PORT=%s", getenv("AT_PG_PORT"));
		env[e++] = pgp;
	}
	if (getenv("AT_REDIS_PORT")) {
		snprintf(rdp, sizeof(rdp), "AT_REDIS_PORT=%s",
			 getenv("AT_REDIS_PORT"));
		env[e++] = rdp;
	}
	if (r->preload) {
		rx = h_receiver(&dir);
		ep = h_endpoint_env(rx);
		env[e++] = ep;
	}
	if (r->extra)
		env[e++] = r->extra;
	if (r->nodeopt) {
		snprintf(nodeopt, sizeof(nodeopt), "NODE_OPTIONS=%s", r->nodeopt);
		env[e++] = nodeopt;
	}
	env[e] = NULL;

	const char *fargv[16];
	int a = 0;
	for (int i = 0; r->front_prefix && r->front_prefix[i]; i++)
		fargv[a++] = r->front_prefix[i];
	fargv[a++] = "node";
	fargv[a++] = FIX "node_front.js";
	fargv[a++] = r->mode;
	fargv[a++] = frontf;
	fargv[a++] = bport;
	fargv[a] = NULL;
	char log[80];
	snprintf(log, sizeof(log), "%s/front.log", tmp);
	pid_t front = h_start(fargv, env, r->preload, log);
	uint16_t fp = h_read_port(frontf, WAIT_MS);
	if (!fp) {
		char *l = h_read_file(log, NULL);
		cr_assert_fail("the front service did not start: %s", l ? l : "");
	}
	snprintf(fport, sizeof(fport), "%u", fp);
	snprintf(cnt, sizeof(cnt), "%d", r->count);
	snprintf(inf, sizeof(inf), "%d", r->inflight);

	const char *dargv[] = { "node", FIX "node_drive.js", fport, cnt, inf,
				NULL };
	const char **cargv = NULL;
	char (*urls)[64] = NULL;
	if (r->curl_expect) {
		int c = 0;
		cargv = calloc((size_t)r->count * 9 + 2, sizeof(*cargv));
		urls = calloc((size_t)r->count, sizeof(*urls));
		cr_assert(cargv && urls);
		cargv[c++] = "curl";
		for (int i = 0; i < r->count; i++) {
			snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%s/r%d",
				 fport, i);
			if (i)
				cargv[c++] = "--next";
			cargv[c++] = "-s";
			if (i % 2) {
				cargv[c++] = "-H";
				cargv[c++] = "Expect: 100-continue";
				cargv[c++] = "-X";
				cargv[c++] = "GET";
				cargv[c++] = "-d";
				cargv[c++] = "x";
			}
			cargv[c++] = urls[i];
		}
	}
	cr_assert_eq(h_run(cargv ? cargv : dargv, NULL, false, RUN_MS, &res), 0);
	free(cargv);
	free(urls);
	cr_expect_eq(res.status, 0, "driver: %s", res.err);
	cr_expect_eq(h_stop(front, WAIT_MS), 0, "the front service's exit");
	h_stop(back, WAIT_MS);
	char *answers = strdup(res.out);
	h_result_free(&res);

	if (rx) {
		int per_req = 2 + (have_pg() ? 3 : 0) + (have_redis() ? 2 : 0);
		struct at_rx_span *sp = NULL;
		size_t n = h_spans(rx, (size_t)r->count * (size_t)(per_req + 1),
				   WAIT_MS, &sp);
		f->expected = r->count * per_req;
		check_spans(sp, n, f);
		free(sp);
		at_receiver_stop(rx);
		free(ep);
		free(dir);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	free(h_shell(cmd, NULL));
	return answers;
}

static void report(const char *what, const struct figures *f)
{
	static const char *fam[] = { "http.request", "fetch", "pg", "redis" };
	char line[512];
	int k = snprintf(line, sizeof(line),
			 "%s: %d requests; client spans right %d / %d expected, "
			 "wrong %d, root %d, parent missing %d; without id %d (%d under a request):",
			 what, f->servers, f->right, f->expected, f->wrong,
			 f->root, f->other, f->noid, f->noid_in);
	for (int i = 0; i < 4; i++)
		k += snprintf(line + k, sizeof(line) - (size_t)k,
			      " %s %d/%d/%d", fam[i], f->per[i][0],
			      f->per[i][1], f->per[i][2]);
	fprintf(stderr, "ctx_node %s\n", line);
	cr_log_info("%s", line);
}

/* The answers a run must give: "r<i>: b /call/r<i> | b /fetch/r<i> | ..." */
static void expect_answers(const char *out, int count)
{
	char want[256];
	const char *p = out;

	for (int i = 0; i < count; i++) {
		int k = snprintf(want, sizeof(want), "r%d: b /call/r%d | b /fetch/r%d | ",
				 i, i, i);
		if (getenv("AT_PG_PORT"))
			k += snprintf(want + k, sizeof(want) - (size_t)k,
				      "r%d,r%d,r%d", i, i, i);
		k += snprintf(want + k, sizeof(want) - (size_t)k, " | ");
		if (getenv("AT_REDIS_PORT"))
			k += snprintf(want + k, sizeof(want) - (size_t)k, "vr%d", i);
		snprintf(want + k, sizeof(want) - (size_t)k, "\n");
		cr_assert(!strncmp(p, want, strlen(want)),
			  "answer %d: want %s got %.80s", i, want, p);
		p += strlen(want);
	}
	cr_assert_eq(*p, 0, "more answers than requests");
}

static void expect_right(const struct figures *f, int count)
{
	cr_expect_eq(f->servers, count, "server spans: %d", f->servers);
	cr_expect_eq(f->wrong, 0, "%d client spans under a wrong request",
		     f->wrong);
	cr_expect_eq(f->other, 0, "%d client spans whose parent is missing",
		     f->other);
	cr_expect_geq(f->right * 100, f->expected * 99,
		      "%d of %d client spans under their request", f->right,
		      f->expected);
}

static void concurrent(const char *mode, int count, int inflight,
		       const char *extra)
{
	struct figures bare, traced;
	struct run r = { mode, count, inflight, false, extra, NULL, NULL };
	char *a = run_front(&r, &bare);
	expect_answers(a, count);
	r.preload = true;
	char *b = run_front(&r, &traced);
	cr_expect_str_eq(a, b, "answers differ bare vs traced");
	char what[128];
	snprintf(what, sizeof(what), "%s, %d in flight%s%s", mode, inflight,
		 extra ? ", " : "", extra ? extra : "");
	report(what, &traced);
	expect_right(&traced, count);
	free(a);
	free(b);
}

Test(ctx_node, http_server_20_in_flight, .timeout = 300)
{
	concurrent("http", 300, 20, NULL);
}

/* fetch's pool limited to 2 connections: requests queue in undici and
 * are created and written from the code of the request that freed a
 * connection. */
Test(ctx_node, fetch_pool_queues, .timeout = 300)
{
	concurrent("http", 300, 20, "AT_CTX_FETCH_CONNECTIONS=2");
}

/* The same calls chained through callbacks: the request body's 'end'
 * event, the http.request response's 'end' event, a setTimeout callback
 * (the bridge carries the request into each). */
Test(ctx_node, callbacks_20_in_flight, .timeout = 300)
{
	concurrent("http", 300, 20, "AT_CTX_CALLBACKS=1");
}

Test(ctx_node, express_20_in_flight, .timeout = 300)
{
	concurrent("express", 300, 20, NULL);
}

/* ioredis auto-pipelining sends the commands of many requests in one
 * write: the bridge names no request for such a write, so those commands
 * become roots - never another request's children (recorded; only "none
 * wrong" is asserted). */
Test(ctx_node, redis_autopipelining_never_wrong, .timeout = 300)
{
	struct figures f;
	struct run r = { "http", 300, 20, true, "AT_CTX_REDIS_AUTOPIPELINE=1",
			 NULL, NULL };

	if (!have_redis())
		cr_skip_test("no Redis server or no Redis wire family");
	char *a = run_front(&r, &f);
	expect_answers(a, 300);
	report("http, 20 in flight, ioredis auto-pipelining", &f);
	cr_expect_eq(f.wrong, 0, "%d client spans under a wrong request",
		     f.wrong);
	cr_expect_eq(f.per[0][0] + f.per[1][0] + f.per[2][0],
		     300 * (2 + (have_pg() ? 3 : 0)),
		     "http, fetch and pg spans under their request");
	free(a);
}

/* Requests with "Expect: 100-continue" (Node emits them as
 * checkContinue) between plain ones on one keep-alive connection: each
 * head is counted, so every request keeps its own number. */
Test(ctx_node, expect_continue_on_one_connection, .timeout = 300)
{
	struct figures f;
	struct run r = { "http", 30, 1, true, NULL, NULL, NULL, true };

	char *a = run_front(&r, &f);
	expect_answers(a, 30);
	report("http, Expect: 100-continue every other request", &f);
	expect_right(&f, 30);
	free(a);
}

Test(ctx_node, sequential, .timeout = 300)
{
	concurrent("http", 60, 1, NULL);
}

/* Without the bridge the program runs as before; the parents are what
 * the native rules give (recorded, not asserted). */
Test(ctx_node, bridge_off_program_unchanged, .timeout = 300)
{
	struct figures f;
	struct run r = { "express", 200, 20, true,
			 "AUTOTRACE_RUNTIME_BRIDGES=false", NULL, NULL };
	char *a = run_front(&r, &f);
	expect_answers(a, 200);
	report("express, 20 in flight, AUTOTRACE_RUNTIME_BRIDGES=false", &f);
	cr_expect_eq(f.servers, 200);
	free(a);
}

/* A bridge that cannot register changes nothing: loaded by a node that
 * has no library, with a channel naming another process, or this very
 * pid (exec'ed by a shell) and a descriptor that is not the channel
 * (its stdout): the program's output is as without it. */
Test(ctx_node, bridge_that_cannot_register, .timeout = 120)
{
	char opt[600], *bridge = realpath(h_build_path("autotrace-bridge.js"), NULL);
	struct h_result plain, other, self;

	cr_assert(bridge);
	snprintf(opt, sizeof(opt), "NODE_OPTIONS=--require %s", bridge);
	const char *argv[] = { "node", FIX "node_env.js", NULL };
	const char *plain_env[] = { NULL };
	const char *other_env[] = { opt, "AUTOTRACE_BRIDGE=1:1", NULL };
	cr_assert_eq(h_run(argv, plain_env, false, 60000, &plain), 0);
	cr_assert_eq(h_run(argv, other_env, false, 60000, &other), 0);
	const char *sh[] = { "sh", "-c",
			     "AUTOTRACE_BRIDGE=$$:1 exec node " FIX "node_env.js",
			     NULL };
	cr_assert_eq(h_run(sh, other_env, false, 60000, &self), 0);
	cr_expect_eq(plain.status, 0);
	cr_expect_eq(other.status, 0);
	cr_expect_eq(self.status, 0);
	/* The bridge puts NODE_OPTIONS back as it was without it (unset). */
	cr_expect_str_eq(other.out, plain.out);
	cr_expect_str_eq(self.out, plain.out);
	cr_expect_eq(strstr(self.out, "ATBRIDGE"), NULL);

	/* And the service answers the same. */
	struct figures f;
	struct run r = { "http", 100, 20, false, NULL, NULL, NULL };
	char *a = run_front(&r, &f);
	const char *pre[] = { "sh", "-c",
			      "AUTOTRACE_BRIDGE=$$:1 exec \"$@\"", "sh", NULL };
	r.front_prefix = pre;
	r.nodeopt = opt + strlen("NODE_OPTIONS=");
	char *b = run_front(&r, &f);
	cr_expect_str_eq(a, b);
	free(a);
	free(b);
	h_result_free(&plain);
	h_result_free(&other);
	h_result_free(&self);
	free(bridge);
}

/* The program sees its environment as without the library, and so do
 * its children: NODE_OPTIONS unset or the user's own value. */
Test(ctx_node, environment_kept, .timeout = 120)
{
	const char *argv[] = { "node", FIX "node_env.js", NULL };
	const char *unset[] = { NULL };
	const char *own[] = { "NODE_OPTIONS=--max-old-space-size=300", NULL };
	const char *const *envs[] = { unset, own };

	for (int i = 0; i < 2; i++) {
		struct h_result bare, traced;
		cr_assert_eq(h_run(argv, envs[i], false, 60000, &bare), 0);
		cr_assert_eq(h_run(argv, envs[i], true, 60000, &traced), 0);
		cr_expect_eq(bare.status, 0);
		cr_expect_eq(traced.status, 0);
		cr_expect_str_eq(traced.out, bare.out);
		h_result_free(&bare);
		h_result_free(&traced);
	}
}
