/*
 * Integration tests of Node's own HTTPS client traced through the runtime
 * bridge (issue 15; hooks/runtime/at_bridge_span.c,
 * bridges/node/autotrace-https.js).  Node links OpenSSL statically, so
 * only the bridge can give its HTTPS requests a span and a traceparent.
 *
 * A front service (tests/fixtures/ctx/node_https_front.js, traced) makes,
 * for each request GET /r<i>, an https.request (keep-alive agent, its
 * requests queue) and a fetch to an HTTPS backend, and a plain
 * http.request to a plain backend, each with r<i> in its path; the
 * backends (tests/fixtures/ctx/node_https_back.js, bare) record each
 * request's traceparent and other header lines.  The certificates (a
 * throwaway CA and a certificate for 127.0.0.1) are made by the test with
 * the openssl command; Node trusts the CA through NODE_EXTRA_CA_CERTS.
 * A bare Node driver sends a few hundred requests, 20 in flight.
 * Checked, by decoding the export: every HTTPS client span sits under the
 * request whose id it carries, with the attributes of an HTTP client span
 * and url.scheme=https; the backend saw the traceparent of that very
 * span; the plain call has exactly one span and one traceparent (the
 * socket layer's); the backends' bytes are otherwise those of the bare
 * run, and the answers the same.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define FIX "tests/fixtures/ctx/"
#define WAIT_MS 30000
#define RUN_MS 240000
#define KIND_SERVER OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER
#define KIND_CLIENT OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT
#define MAX_REQ 400
#define OWN_TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

enum fam { F_CALL, F_FETCH, F_PLAIN, N_FAM };
static const char *const fam_mark[N_FAM] = { "/call/r", "/fetch/r",
					     "/plain/r" };

/* What a backend saw for one request. */
struct seen {
	int n;                 /* requests with this path */
	char tp[160];          /* traceparent value(s), "-" for none */
	char rest[512];        /* the other header lines (JSON) */
};

struct run_out {
	char *answers;
	struct seen seen[N_FAM][MAX_REQ];
	/* traced: */
	int servers;
	int spans[N_FAM][MAX_REQ];            /* client spans per path */
	const at_otlp_span *span[N_FAM][MAX_REQ];
	int right[N_FAM], wrong[N_FAM], root[N_FAM], missing[N_FAM];
	int attrs_bad[N_FAM];
	int tp_match[N_FAM], tp_bad[N_FAM];
	int errors;            /* HTTPS spans with status ERROR */
	struct at_rx_span *sp;
	size_t n;
	struct at_receiver *rx;
	char *ep, *dir;
};

struct run_cfg {
	int count, inflight;
	bool preload;
	const char *extra;     /* one more "K=V" for the front, or NULL */
};

static char tmpdir[] = "/tmp/at-ctxhttps-XXXXXX";
static bool certs_made;

/* A CA and a certificate for 127.0.0.1 signed by it, once per process. */
static void make_certs(void)
{
	char cmd[2048];
	int st = -1;

	if (certs_made)
		return;
	/* The test's own CA is the one to add (the children get the test's
	 * environment, where a value set by the host would come first). */
	unsetenv("NODE_EXTRA_CA_CERTS");
	cr_assert(mkdtemp(tmpdir));
	snprintf(cmd, sizeof(cmd),
		 "(cd %s && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
		 "-out ca.pem -days 2 -subj '/CN=autotrace test CA' && "
		 "openssl req -newkey rsa:2048 -nodes -keyout srv.key "
		 "-out srv.csr -subj '/CN=127.0.0.1' && "
		 "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
		 "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		 "-CAcreateserial -out srv.pem -days 2 -extfile ext.cnf) 2>&1",
		 tmpdir);
	free(h_shell(cmd, &st));
	cr_assert_eq(st, 0, "openssl could not make the certificates");
	certs_made = true;
}

/* The certificates go with the test's process. */
__attribute__((destructor)) static void remove_certs(void)
{
	char cmd[96];

	if (!certs_made)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	free(h_shell(cmd, NULL));
}

/* "<mark><digits>": the family and the request number of a path. */
static bool path_id(const char *p, enum fam *f, int *id)
{
	for (int k = 0; k < N_FAM; k++) {
		const char *q = p ? strstr(p, fam_mark[k]) : NULL;
		char *e;
		long v;
		if (!q)
			continue;
		q += strlen(fam_mark[k]);
		v = strtol(q, &e, 10);
		if (e == q || v < 0 || v >= MAX_REQ)
			return false;
		*f = (enum fam)k;
		*id = (int)v;
		return true;
	}
	return false;
}

/* The backend's record: "<path> <traceparent> <tracestate> <json>". */
static void read_record(const char *file, struct run_out *o)
{
	char *text = h_read_file(file, NULL), *line, *save = NULL;

	cr_assert(text, "no record %s", file);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char path[256], tp[160], ts[600];
		int off = 0;
		enum fam f;
		int id;
		if (sscanf(line, "%255s %159s %599s %n", path, tp, ts, &off) < 3 ||
		    !path_id(path, &f, &id))
			continue;
		struct seen *s = &o->seen[f][id];
		s->n++;
		snprintf(s->tp, sizeof(s->tp), "%s", tp);
		snprintf(s->rest, sizeof(s->rest), "%s", line + off);
	}
	free(text);
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

/* The request (r<i>) a client span's nearest server ancestor served:
 * its number, -1 for a root, -2 for a parent not exported. */
static int server_of(const struct at_rx_span *sp, size_t n,
		     const at_otlp_span *s)
{
	for (int depth = 0; depth < 16; depth++) {
		const at_otlp_span *p;
		const char *path;
		if (s->parent_span_id.len != 8)
			return -1;
		if (!(p = by_id(sp, n, &s->parent_span_id)))
			return -2;
		if (p->kind == KIND_SERVER) {
			path = h_attr_str(p, "url.path");
			return path && path[0] == '/' && path[1] == 'r'
				       ? atoi(path + 2) : -3;
		}
		s = p;
	}
	return -1;
}

/* The attributes an HTTPS client span must have. */
static bool https_attrs_ok(const at_otlp_span *s, enum fam f, int id,
			   int port)
{
	char url[160];
	const char *m = h_attr_str(s, "http.request.method");
	const char *u = h_attr_str(s, "url.full");
	const char *sc = h_attr_str(s, "url.scheme");
	const char *a = h_attr_str(s, "server.address");
	const char *v = h_attr_str(s, "network.protocol.version");

	if (f == F_CALL)
		snprintf(url, sizeof(url),
			 "https://127.0.0.1:%d/call/r%d?k=REDACTED", port, id);
	else
		snprintf(url, sizeof(url), "https://127.0.0.1:%d/fetch/r%d",
			 port, id);
	return m && !strcmp(m, "GET") && u && !strcmp(u, url) && sc &&
	       !strcmp(sc, "https") && a && !strcmp(a, "127.0.0.1") &&
	       h_attr_int(s, "server.port", -1) == port && v &&
	       !strcmp(v, "1.1") &&
	       h_attr_int(s, "http.response.status_code", -1) == 200 &&
	       !strcmp(s->name, "GET");
}

static void check_spans(struct run_out *o, int count, int tls_port)
{
	for (size_t i = 0; i < o->n; i++) {
		const at_otlp_span *s = o->sp[i].span;
		enum fam f;
		int id, srv;

		if (s->kind == KIND_SERVER) {
			const char *p = h_attr_str(s, "url.path");
			o->servers += p && p[1] == 'r';
			continue;
		}
		if (s->kind != KIND_CLIENT ||
		    !path_id(h_attr_str(s, "url.full"), &f, &id) || id >= count)
			continue;
		o->spans[f][id]++;
		o->span[f][id] = s;
		srv = server_of(o->sp, o->n, s);
		if (srv == id)
			o->right[f]++;
		else if (srv == -1)
			o->root[f]++;
		else if (srv == -2)
			o->missing[f]++;
		else
			o->wrong[f]++;
		if (f != F_PLAIN && !https_attrs_ok(s, f, id, tls_port))
			o->attrs_bad[f]++;
		if (f != F_PLAIN && s->status && s->status->code ==
		    OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR)
			o->errors++;
	}
	/* What each backend saw: the traceparent of that very span. */
	for (int f = 0; f < N_FAM; f++)
		for (int id = 0; id < count; id++) {
			char want[56];
			const at_otlp_span *s = o->span[f][id];
			if (!s || o->spans[f][id] != 1)
				continue;
			h_span_traceparent(s, want);
			/* The ids; the flags byte as the span propagates it. */
			if (!strncmp(o->seen[f][id].tp, want, 52) &&
			    strlen(o->seen[f][id].tp) == 55)
				o->tp_match[f]++;
			else
				o->tp_bad[f]++;
		}
}

/* A backend (node_https_back.js, bare) with its files in d: HTTPS if
 * tls, else plain HTTP. */
struct back {
	char port_file[96], rec[96], port[8];
	pid_t pid;
};

static void back_start(struct back *b, const char *d, const char *name,
		       bool tls)
{
	char key[96], cert[96];
	uint16_t port;

	snprintf(b->port_file, sizeof(b->port_file), "%s/%s.port", d, name);
	snprintf(b->rec, sizeof(b->rec), "%s/%s.rec", d, name);
	snprintf(key, sizeof(key), "%s/srv.key", tmpdir);
	snprintf(cert, sizeof(cert), "%s/srv.pem", tmpdir);
	const char *argv[] = { "node", FIX "node_https_back.js", b->port_file,
			       b->rec, tls ? key : NULL, cert, NULL };
	b->pid = h_start(argv, NULL, false, NULL);
	port = h_read_port(b->port_file, WAIT_MS);
	cr_assert(port, "the %s backend did not start", name);
	snprintf(b->port, sizeof(b->port), "%u", port);
}

/* The certificates, a fresh directory d for a run's files, and the
 * variable that makes Node trust the test CA. */
static void run_setup(char d[64], char ca[120])
{
	make_certs();
	snprintf(d, 64, "%s/XXXXXX", tmpdir);
	cr_assert(mkdtemp(d));
	snprintf(ca, 120, "NODE_EXTRA_CA_CERTS=%s/ca.pem", tmpdir);
}

static void run_cleanup(const char *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
	free(h_shell(cmd, NULL));
}

/* Run the backends (bare), the front (traced or not) and the driver. */
static void run(const struct run_cfg *c, struct run_out *o)
{
	char d[64], ff[96], ca[120], fport[8], cnt[12], inf[12], log[96];
	const char *env[8];
	int e = 0;
	struct h_result res;
	struct back tls, plain;

	memset(o, 0, sizeof(*o));
	run_setup(d, ca);
	snprintf(ff, sizeof(ff), "%s/front.port", d);
	snprintf(log, sizeof(log), "%s/front.log", d);
	back_start(&tls, d, "https", true);
	back_start(&plain, d, "plain", false);

	env[e++] = ca;
	if (c->preload) {
		o->rx = h_receiver(&o->dir);
		o->ep = h_endpoint_env(o->rx);
		env[e++] = o->ep;
	}
	if (c->extra)
		env[e++] = c->extra;
	env[e] = NULL;
	const char *fargv[] = { "node", FIX "node_https_front.js", ff, tls.port,
				plain.port, NULL };
	pid_t front = h_start(fargv, env, c->preload, log);
	uint16_t fp = h_read_port(ff, WAIT_MS);
	if (!fp) {
		char *l = h_read_file(log, NULL);
		cr_assert_fail("the front service did not start: %s",
			       l ? l : "");
	}
	snprintf(fport, sizeof(fport), "%u", fp);
	snprintf(cnt, sizeof(cnt), "%d", c->count);
	snprintf(inf, sizeof(inf), "%d", c->inflight);
	const char *dargv[] = { "node", FIX "node_drive.js", fport, cnt, inf,
				NULL };
	cr_assert_eq(h_run(dargv, NULL, false, RUN_MS, &res), 0);
	cr_expect_eq(h_stop(front, WAIT_MS), 0, "the front service's exit");
	if (res.status != 0) {
		char *l = h_read_file(log, NULL);
		cr_expect_fail("driver: %s; the front's log: %.2000s", res.err,
			       l ? l : "");
		free(l);
	}
	h_stop(tls.pid, WAIT_MS);
	h_stop(plain.pid, WAIT_MS);
	o->answers = strdup(res.out);
	h_result_free(&res);
	read_record(tls.rec, o);
	read_record(plain.rec, o);
	if (o->rx) {
		o->n = h_spans(o->rx, (size_t)c->count * 4, WAIT_MS, &o->sp);
		check_spans(o, c->count, atoi(tls.port));
	}
	run_cleanup(d);
}

static void run_free(struct run_out *o)
{
	free(o->answers);
	free(o->sp);
	if (o->rx)
		at_receiver_stop(o->rx);
	free(o->ep);
	free(o->dir);
}

/* The answers a run must give. */
static void expect_answers(const char *out, int count)
{
	char want[160];
	const char *p = out;

	for (int i = 0; i < count; i++) {
		snprintf(want, sizeof(want),
			 "r%d: b /call/r%d?k=r%d | b /fetch/r%d | b /plain/r%d\n",
			 i, i, i, i, i);
		cr_assert(!strncmp(p, want, strlen(want)),
			  "answer %d: want %s got %.80s", i, want, p);
		p += strlen(want);
	}
	cr_assert_eq(*p, 0, "more answers than requests");
}

/* The backends saw each request once, with the same header lines as in
 * the bare run. */
static void expect_same_bytes(const struct run_out *bare,
			      const struct run_out *t, int count)
{
	int differ = 0;

	for (int f = 0; f < N_FAM; f++)
		for (int id = 0; id < count; id++) {
			const struct seen *a = &bare->seen[f][id],
					  *b = &t->seen[f][id];
			cr_expect_eq(a->n, 1, "%s%d bare: %d requests",
				     fam_mark[f], id, a->n);
			cr_expect_eq(b->n, 1, "%s%d traced: %d requests",
				     fam_mark[f], id, b->n);
			cr_expect_str_eq(a->tp, "-", "bare run with a traceparent");
			if (strcmp(a->rest, b->rest) && differ++ < 3)
				cr_log_error("%s%d: bare %s traced %s",
					     fam_mark[f], id, a->rest, b->rest);
		}
	cr_expect_eq(differ, 0, "%d requests with other header lines traced",
		     differ);
}

static void report(const char *what, const struct run_out *o)
{
	static const char *name[N_FAM] = { "https.request", "fetch https",
					   "http.request plain" };
	char line[768];
	int k = snprintf(line, sizeof(line), "%s: %d requests;", what,
			 o->servers);

	for (int f = 0; f < N_FAM; f++)
		k += snprintf(line + k, sizeof(line) - (size_t)k,
			      " %s right %d wrong %d root %d missing %d "
			      "attrs-bad %d traceparent seen %d/bad %d;",
			      name[f], o->right[f], o->wrong[f], o->root[f],
			      o->missing[f], o->attrs_bad[f], o->tp_match[f],
			      o->tp_bad[f]);
	fprintf(stderr, "ctx_node_https %s\n", line);
	cr_log_info("%s", line);
}

static void concurrent(int count, int inflight, const char *extra)
{
	struct run_cfg c = { count, inflight, false, extra };
	struct run_out *bare = calloc(1, sizeof(*bare)),
		       *t = calloc(1, sizeof(*t));
	char what[128];

	cr_assert(bare && t);
	run(&c, bare);
	expect_answers(bare->answers, count);
	c.preload = true;
	run(&c, t);
	cr_expect_str_eq(t->answers, bare->answers,
			 "answers differ bare vs traced");
	snprintf(what, sizeof(what), "%d in flight%s%s", inflight,
		 extra ? ", " : "", extra ? extra : "");
	report(what, t);
	cr_expect_eq(t->servers, count);
	for (int f = 0; f < N_FAM; f++) {
		int dup = 0;
		for (int id = 0; id < count; id++)
			dup += t->spans[f][id] > 1;
		cr_expect_eq(dup, 0, "%s: %d paths with several spans",
			     fam_mark[f], dup);
		cr_expect_eq(t->wrong[f], 0, "%s: %d spans under a wrong request",
			     fam_mark[f], t->wrong[f]);
		cr_expect_eq(t->missing[f], 0, "%s: %d spans whose parent is missing",
			     fam_mark[f], t->missing[f]);
		cr_expect_geq(t->right[f] * 100, count * 99,
			      "%s: %d of %d spans under their request",
			      fam_mark[f], t->right[f], count);
		cr_expect_eq(t->attrs_bad[f], 0, "%s: %d spans with wrong attributes",
			     fam_mark[f], t->attrs_bad[f]);
		cr_expect_eq(t->tp_bad[f], 0,
			     "%s: %d requests without their span's traceparent",
			     fam_mark[f], t->tp_bad[f]);
		cr_expect_geq(t->tp_match[f] * 100, count * 99,
			      "%s: %d of %d requests carried their span's traceparent",
			      fam_mark[f], t->tp_match[f], count);
	}
	cr_expect_eq(t->errors, 0, "%d HTTPS spans in error", t->errors);
	expect_same_bytes(bare, t, count);
	run_free(bare);
	run_free(t);
	free(bare);
	free(t);
}

Test(ctx_node_https, https_20_in_flight, .timeout = 400)
{
	concurrent(300, 20, NULL);
}

/* fetch's pool limited to 2 connections: its requests queue in undici
 * and are created from the code of the request that freed a connection;
 * each keeps the store of the request that made it. */
Test(ctx_node_https, fetch_pool_queues, .timeout = 400)
{
	concurrent(300, 20, "AT_CTX_FETCH_CONNECTIONS=2");
}

Test(ctx_node_https, sequential, .timeout = 300)
{
	concurrent(40, 1, NULL);
}

/* AUTOTRACE_RUNTIME_BRIDGES=false: no HTTPS span, no traceparent in the
 * HTTPS requests; the plain call is still the socket layer's. */
Test(ctx_node_https, bridges_off, .timeout = 300)
{
	struct run_cfg c = { 60, 20, true, "AUTOTRACE_RUNTIME_BRIDGES=false" };
	struct run_out *t = calloc(1, sizeof(*t));
	int https_spans = 0, https_tp = 0, plain_tp = 0;

	cr_assert(t);
	run(&c, t);
	expect_answers(t->answers, c.count);
	report("20 in flight, AUTOTRACE_RUNTIME_BRIDGES=false", t);
	for (int id = 0; id < c.count; id++) {
		https_spans += t->spans[F_CALL][id] + t->spans[F_FETCH][id];
		https_tp += strcmp(t->seen[F_CALL][id].tp, "-") != 0;
		https_tp += strcmp(t->seen[F_FETCH][id].tp, "-") != 0;
		plain_tp += t->spans[F_PLAIN][id] == 1 &&
			    strcmp(t->seen[F_PLAIN][id].tp, "-") != 0;
	}
	cr_expect_eq(https_spans, 0, "%d HTTPS spans without the bridge",
		     https_spans);
	cr_expect_eq(https_tp, 0, "%d HTTPS requests with a traceparent",
		     https_tp);
	cr_expect_eq(plain_tp, c.count, "plain calls traced: %d", plain_tp);
	run_free(t);
	free(t);
}

/* A request that carries the program's own traceparent keeps it (one
 * field, unchanged); its span continues that trace. */
Test(ctx_node_https, own_traceparent_kept, .timeout = 300)
{
	struct run_cfg c = { 40, 10, true, "AT_CTX_OWN_TP=1" };
	struct run_out *t = calloc(1, sizeof(*t));
	int kept = 0, continued = 0;

	cr_assert(t);
	run(&c, t);
	expect_answers(t->answers, c.count);
	for (int id = 0; id < c.count; id++) {
		const at_otlp_span *s = t->span[F_CALL][id];
		kept += !strcmp(t->seen[F_CALL][id].tp, OWN_TP);
		continued += s && s->parent_span_id.len == 8 &&
			     !strcmp(h_hex(s->trace_id.data, 16),
				     "0af7651916cd43dd8448eb211c80319c") &&
			     !strcmp(h_hex(s->parent_span_id.data, 8),
				     "b7ad6b7169203331");
	}
	cr_expect_eq(kept, c.count, "own traceparent kept: %d of %d", kept,
		     c.count);
	cr_expect_eq(continued, c.count, "spans continuing it: %d of %d",
		     continued, c.count);
	cr_expect_eq(t->tp_bad[F_FETCH], 0);
	cr_expect_eq(t->tp_match[F_FETCH], c.count);
	run_free(t);
	free(t);
}

/* Failures: 4xx and 5xx answers make the span ERROR with error.type the
 * status, a refused connection with error.type ECONNREFUSED (both
 * https.request and fetch); a request still open at exit is ended and
 * exported.  The program prints the same bare and traced. */
Test(ctx_node_https, errors_and_exit, .timeout = 300)
{
	char d[64], ca[120], cport[8];
	struct h_result bare, traced;
	struct at_rx_span *sp = NULL;
	struct at_receiver *rx;
	char *dir = NULL, *ep;
	int status[2] = { 0 }, refused = 0, hang = 0;
	struct back tls;

	run_setup(d, ca);
	back_start(&tls, d, "https", true);
	snprintf(cport, sizeof(cport), "%u", h_closed_port());
	const char *argv[] = { "node", FIX "node_https_errors.js", tls.port,
			       cport, NULL };
	rx = h_receiver(&dir);
	ep = h_endpoint_env(rx);
	const char *env[] = { ca, ep, NULL };
	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(bare.status, 0, "%s", bare.err);
	cr_expect_eq(traced.status, 0, "%s", traced.err);
	cr_expect_str_eq(traced.out, bare.out);
	cr_expect(strstr(bare.out, "fetch closed ECONNREFUSED"), "%s", bare.out);

	size_t n = h_spans(rx, 7, WAIT_MS, &sp);
	for (size_t i = 0; i < n; i++) {
		const at_otlp_span *s = sp[i].span;
		const char *u = h_attr_str(s, "url.full");
		const char *et = h_attr_str(s, "error.type");
		bool err = s->status && s->status->code ==
			OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
		int64_t code = h_attr_int(s, "http.response.status_code", 0);
		if (s->kind != KIND_CLIENT || !u || strncmp(u, "https://", 8))
			continue;
		if (strstr(u, "/status/404") || strstr(u, "/status/503")) {
			int k = strstr(u, "/503") != NULL;
			char want[8];
			snprintf(want, sizeof(want), "%d", k ? 503 : 404);
			status[k] += err && et && !strcmp(et, want) &&
				     code == (k ? 503 : 404);
		} else if (strstr(u, "/closed")) {
			refused += err && et && !strcmp(et, "ECONNREFUSED") &&
				   code == 0;
		} else if (strstr(u, "/hang")) {
			hang += !err && code == 0;
		}
	}
	cr_expect_eq(status[0], 2, "404 spans right: %d of 2", status[0]);
	cr_expect_eq(status[1], 2, "503 spans right: %d of 2", status[1]);
	cr_expect_eq(refused, 2, "refused spans right: %d of 2", refused);
	cr_expect_eq(hang, 1, "span open at exit exported: %d", hang);
	free(sp);
	at_receiver_stop(rx);
	free(ep);
	free(dir);
	h_result_free(&bare);
	h_result_free(&traced);
	h_stop(tls.pid, WAIT_MS);
	run_cleanup(d);
}

/* A Node.js linked with the system libssl (Debian's nodejs: the probe,
 * run as `nodejs`, with libssl in the global scope) is the TLS layer's
 * when the library interposes SSL_write: the bridge is answered "no
 * span" (2, AT_BRIDGE_SPAN_TLS_LAYER), never a second span.  Without
 * libssl, or without the TLS layer, a span. */
Test(ctx_node_https, tls_layer_decides, .timeout = 120)
{
	char d[64], ca[120], exe[96], cmd[512];
	int st = -1;
	bool tls_layer;

	run_setup(d, ca);
	snprintf(exe, sizeof(exe), "%s/nodejs", d);
	snprintf(cmd, sizeof(cmd), "cp %s %s && nm -D --defined-only %s",
		 h_build_path("fixtures/ctx/ctx_bridge_tls_probe"), exe, h_lib());
	char *syms = h_shell(cmd, &st);
	cr_assert(syms && st == 0);
	tls_layer = strstr(syms, " T SSL_write\n") != NULL;
	free(syms);

	const char *plain[] = { exe, NULL };
	const char *ssl[] = { exe, "ssl", NULL };
	const char *env[] = { "OTEL_TRACES_EXPORTER=none", NULL };
	struct h_result a, b;
	cr_assert_eq(h_run(plain, env, true, 60000, &a), 0);
	cr_assert_eq(h_run(ssl, env, true, 60000, &b), 0);
	cr_expect_eq(a.status, 0, "%s", a.err);
	cr_expect_eq(b.status, 0, "%s", b.err);
	cr_expect_str_eq(a.out, "answer=0 span=1 lines=70\n");
	cr_expect_str_eq(b.out, tls_layer ? "answer=2 span=0 lines=0\n"
					  : "answer=0 span=1 lines=70\n",
			 "TLS layer %s", tls_layer ? "present" : "absent");
	cr_log_info("TLS layer %s: with libssl %s", tls_layer ? "present" : "absent",
		    b.out);
	h_result_free(&a);
	h_result_free(&b);
	run_cleanup(d);
}

/* How the bridge's STARTs reach the library (tests/fixtures/ctx/
 * node_https_env_path.js, the bridge's own channel under the library):
 * ASCII heads on Node's main thread as a process.env read answered by the
 * getenv hook, with no channel write (the answer longer than Node's first
 * getenv buffer of 256 bytes: four propagation formats, which Node asks
 * for twice); a head past ASCII, and every head of a worker thread (whose
 * process.env never calls getenv), by write.  Either way one span per
 * start, which carries the id of its head and whose context is the
 * traceparent answered. */
Test(ctx_node_https, starts_through_getenv, .timeout = 120)
{
	static const struct {
		const char *kind;
		int n, writes;
	} want[] = { { "ascii", 20, 0 }, { "latin1", 2, 1 }, { "worker", 5, 1 } };
	char *dir = NULL;
	struct at_receiver *rx = h_receiver(&dir);
	char *ep = h_endpoint_env(rx);
	const char *env[] = {
		ep, "OTEL_PROPAGATORS=tracecontext,b3multi,b3,jaeger", NULL
	};
	const char *argv[] = { "node", FIX "node_https_env_path.js", NULL };
	struct h_result res;
	struct at_rx_span *sp = NULL;
	char kind[16], id[16], lines[1024], tp[56];
	int writes, total = 0, bind = -1, seen[3] = { 0 }, matched = 0;
	const char *p;

	cr_assert_eq(h_run(argv, env, true, 60000, &res), 0);
	cr_assert_eq(res.status, 0, "%s", res.err);
	cr_assert(sscanf(res.out, "bind %d", &bind) == 1 && bind == 1,
		      "one write binds the channel: %.200s", res.out);
	size_t n = h_spans(rx, 27, WAIT_MS, &sp);
	for (p = strchr(res.out, '\n'); p && p[1];
	     p = strchr(p + 1, '\n')) {
		cr_assert_eq(sscanf(p + 1, "%15s %15s %d %1023[^\n]", kind, id,
				    &writes, lines), 4, "%.100s", p + 1);
		int k = -1;
		for (int i = 0; i < 3; i++)
			if (!strcmp(kind, want[i].kind))
				k = i;
		cr_assert_geq(k, 0, "%s", kind);
		seen[k]++;
		total++;
		cr_expect_eq(writes, want[k].writes, "%s %s: %d writes", kind,
			     id, writes);
		cr_expect_gt(strlen(lines), 256, "%s %s: %s", kind, id, lines);
		cr_expect(strstr(lines, "|uber-trace-id: ") &&
			  strstr(lines, "|X-B3-SpanId: ") && strstr(lines, "|b3: "),
			  "%s %s: %s", kind, id, lines);
		cr_assert(!strncmp(lines, "traceparent: ", 13), "%s", lines);
		/* Its span: the one whose context was answered, once. */
		int spans = 0;
		char path[32];
		snprintf(path, sizeof(path), "/env/%s?", id);
		for (size_t i = 0; i < n; i++) {
			const at_otlp_span *s = sp[i].span;
			const char *u = h_attr_str(s, "url.full");
			h_span_traceparent(s, tp);
			if (strncmp(tp, lines + 13, 53))
				continue;
			spans++;
			cr_expect(u && strstr(u, path), "%s: url.full %s", id,
				  u ? u : "(none)");
			cr_expect_eq(s->kind, KIND_CLIENT);
			cr_expect_eq(h_attr_int(s, "http.response.status_code", 0),
				     200);
		}
		cr_expect_eq(spans, 1, "%s: %d spans with its context", id, spans);
		matched += spans == 1;
	}
	for (int i = 0; i < 3; i++)
		cr_expect_eq(seen[i], want[i].n, "%s: %d starts", want[i].kind,
			     seen[i]);
	cr_expect_eq(matched, total);
	cr_expect_eq(n, (size_t)total, "%zu spans for %d starts", n, total);
	h_result_free(&res);
	free(sp);
	at_receiver_stop(rx);
	free(ep);
	free(dir);
}
