/*
 * test_w3c.c - standards end to end: W3C tracestate relayed by a traced
 * server exactly as the Trace Context Recommendation says, and the export
 * in OTLP/JSON (OTEL_EXPORTER_OTLP_PROTOCOL=http/json).
 *
 * tracestate: a traced http_service (a legacy service that knows nothing
 * of tracing) relays each request it gets to a recording downstream server.
 * Requests carry a traceparent and tracestate header fields as the cases
 * say (sent by http_client, not traced); the downstream must see the
 * combined list exactly (or no tracestate line when the combined list is
 * invalid), and the exported server span the same trace state.  The
 * TRACESTATE environment carrier goes through the same validation.
 *
 * OTLP/JSON: the same traced relay is run twice with the same request,
 * once exporting protobuf to the receiver (decoded with the harness), once
 * OTLP/JSON with gzip to a recording server; the JSON requests are read
 * back (Content-Type, Content-Encoding, gunzip, the tool's JSON reader)
 * and must hold the same spans - names, kinds, attributes, parent links,
 * status - with OTLP/JSON's encodings (hex ids of the right length,
 * 64-bit integers as strings, enums as numbers).  The tool's OTLP-JSON
 * reader (`autotrace view`) must read them too.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "at_buf.h"
#include "at_gzip.h"
#include "at_http.h"
#include "at_json.h"
#include "at_traces.h"
#include "harness.h"

#define RUN_MS 30000
#define WAIT_MS 30000
#define PARENT_ID "00f067aa0ba902b7"
#define MAX_FIELDS 6

/* A traced http_service relaying to downstream port ds; its port. */
/* One request to the relay, untraced, with these header lines. */
static void send_request(const char *port, const char *path,
			 const char *const headers[], size_t n)
{
	const char *argv[8 + 2 * MAX_FIELDS + 2];
	struct h_result res;
	size_t k = 0;

	argv[k++] = h_build_path("fixtures/http_client");
	argv[k++] = "--close";
	argv[k++] = "--path";
	argv[k++] = path;
	for (size_t i = 0; i < n; i++) {
		argv[k++] = "--header";
		argv[k++] = headers[i];
	}
	argv[k++] = "127.0.0.1";
	argv[k++] = port;
	argv[k] = NULL;
	cr_assert_eq(h_run(argv, NULL, false, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s: %s", path, res.err);
	cr_expect_str_eq(res.out, "status 200 body 15\n", "%s", path);
	h_result_free(&res);
}

/*
 * The head in buf that carries "traceparent: 00-<tid>-"; *tracestate gets
 * the value of its tracestate line (malloc'd), or NULL if it has none.
 * Returns the number of tracestate lines in it, -1 if no such head.
 */
static int downstream_tracestate(const char *buf, const char *tid,
				 char **tracestate)
{
	char needle[64];
	const char *tp, *start, *end, *p;
	int lines = 0;

	*tracestate = NULL;
	snprintf(needle, sizeof(needle), "traceparent: 00-%s-", tid);
	tp = strstr(buf, needle);
	if (!tp)
		return -1;
	for (start = tp; start > buf && memcmp(start - 4, "\r\n\r\n", 4);)
		start--;
	end = strstr(tp, "\r\n\r\n");
	cr_assert_not_null(end);
	for (p = start; p < end;) {
		const char *e = strstr(p, "\r\n");

		if (strncasecmp(p, "tracestate:", 11) == 0) {
			const char *v = p + 11;

			while (*v == ' ' || *v == '\t')
				v++;
			lines++;
			free(*tracestate);
			*tracestate = strndup(v, (size_t)(e - v));
		}
		p = e + 2;
	}
	return lines;
}

static char *repeat(char c, size_t n, const char *tail)
{
	char *s = malloc(n + strlen(tail) + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

static char *cat2(const char *a, const char *b)
{
	char *s = malloc(strlen(a) + strlen(b) + 1);

	cr_assert_not_null(s);
	strcpy(s, a);
	strcat(s, b);
	return s;
}

struct ts_case {
	const char *fields[MAX_FIELDS]; /* NULL-terminated */
	const char *want;               /* NULL: no tracestate relayed */
};

Test(w3c, tracestate_relayed_as_one_list, .timeout = 240)
{
	char *k257 = repeat('z', 257, "=1");
	char *k256 = repeat('z', 256, "=1");
	char *mt_ok = repeat('t', 241, "@vvvvvvvvvvvvvv=1");
	char *mt_tenant = repeat('t', 242, "@v=1");
	char *k256_list = cat2("foo=1,", k256);
	char *mt_list = cat2("foo=1,", mt_ok);
	const struct ts_case cases[] = {
		/* several fields: one list, in order */
		{ { "foo=1,bar=2", "rojo=1,congo=2", "baz=3" },
		  "foo=1,bar=2,rojo=1,congo=2,baz=3" },
		/* an empty field anywhere */
		{ { "", "foo=1" }, "foo=1" },
		{ { "foo=1", "" }, "foo=1" },
		{ { "foo=1", " , ", "bar=2" }, "foo=1,bar=2" },
		/* OWS around members */
		{ { "foo=1 \t , \t bar=2, \t baz=3" }, "foo=1,bar=2,baz=3" },
		/* duplicated keys: kept, never a reason to discard the list */
		{ { "foo=1", "foo=2" }, "foo=1,foo=2" },
		{ { "foo=1,foo=1" }, "foo=1,foo=1" },
		/* key lengths */
		{ { "foo=1", k256 }, k256_list },
		{ { "foo=1", k257 }, NULL },
		{ { "foo=1", mt_ok }, mt_list },
		{ { "foo=1", mt_tenant }, NULL },
		{ { "foo=1", "t@vvvvvvvvvvvvvvv=1" }, NULL },
		/* multi-tenant keys as the grammar allows */
		{ { "foo@=1,bar=2" }, NULL },
		{ { "@foo=1,bar=2" }, NULL },
		{ { "foo@@bar=1,bar=2" }, NULL },
		{ { "foo@bar@baz=1,bar=2" }, NULL },
		{ { "1foo@bar=1" }, "1foo@bar=1" },
		/* an invalid member in one field discards the whole list */
		{ { "foo=1,bar=2", "rojo=1", "BAZ=3" }, NULL },
		{ { "foo=,bar=3" }, NULL },
		{ { "foo=bar=baz" }, NULL },
		/* 32 members over four fields, then 33 */
		{ { "a01=1,a02=2,a03=3,a04=4,a05=5,a06=6,a07=7,a08=8,a09=9,"
		    "a10=10",
		    "a11=11,a12=12,a13=13,a14=14,a15=15,a16=16,a17=17,a18=18,"
		    "a19=19,a20=20",
		    "a21=21,a22=22,a23=23,a24=24,a25=25,a26=26,a27=27,a28=28,"
		    "a29=29,a30=30",
		    "a31=31,a32=32" },
		  "a01=1,a02=2,a03=3,a04=4,a05=5,a06=6,a07=7,a08=8,a09=9,"
		  "a10=10,a11=11,a12=12,a13=13,a14=14,a15=15,a16=16,a17=17,"
		  "a18=18,a19=19,a20=20,a21=21,a22=22,a23=23,a24=24,a25=25,"
		  "a26=26,a27=27,a28=28,a29=29,a30=30,a31=31,a32=32" },
		{ { "a01=1,a02=2,a03=3,a04=4,a05=5,a06=6,a07=7,a08=8,a09=9,"
		    "a10=10",
		    "a11=11,a12=12,a13=13,a14=14,a15=15,a16=16,a17=17,a18=18,"
		    "a19=19,a20=20",
		    "a21=21,a22=22,a23=23,a24=24,a25=25,a26=26,a27=27,a28=28,"
		    "a29=29,a30=30",
		    "a31=31,a32=32,a33=33" },
		  NULL },
	};
	size_t nc = sizeof(cases) / sizeof(cases[0]);
	struct h_env e;
	struct h_rec rec;
	struct at_rx_span *spans;
	char port[8], tid[40], path[32], *recorded;
	pid_t relay;

	cr_assert_eq(h_env_start(&e), 0);
	cr_assert_eq(h_rec_start(&rec), 0);
	const char *env[] = { e.ep, "OTEL_BSP_SCHEDULE_DELAY=50", NULL };
	relay = h_start_relay(e.dir, rec.port, env, port);
	cr_assert_str_neq(port, "0", "http_service did not start");

	for (size_t i = 0; i < nc; i++) {
		const char *headers[1 + MAX_FIELDS];
		char tp[96], lines[MAX_FIELDS][600];
		size_t n = 0;

		snprintf(tid, sizeof(tid), "4bf92f3577b34da6a3ce929d0e0e47%02zx",
			 i);
		snprintf(tp, sizeof(tp), "traceparent: 00-%s-" PARENT_ID "-01",
			 tid);
		headers[n++] = tp;
		for (size_t f = 0; f < MAX_FIELDS && cases[i].fields[f]; f++) {
			snprintf(lines[f], sizeof(lines[f]), "tracestate: %s",
				 cases[i].fields[f]);
			headers[n++] = lines[f];
		}
		snprintf(path, sizeof(path), "/case%zu", i);
		send_request(port, path, headers, n);
	}
	cr_expect_eq(h_stop(relay, RUN_MS), 0);
	recorded = h_rec_stop(&rec, NULL);
	cr_assert_not_null(recorded);

	size_t ns = h_spans(e.rx, 2 * nc, WAIT_MS, &spans);
	for (size_t i = 0; i < nc; i++) {
		char *got;
		int lines;
		const at_otlp_span *server = NULL;

		snprintf(tid, sizeof(tid), "4bf92f3577b34da6a3ce929d0e0e47%02zx",
			 i);
		lines = downstream_tracestate(recorded, tid, &got);
		cr_expect_geq(lines, 0, "case %zu: not relayed", i);
		if (cases[i].want) {
			cr_expect_eq(lines, 1, "case %zu", i);
			cr_expect(got && !strcmp(got, cases[i].want),
				  "case %zu: relayed \"%s\", want \"%s\"", i,
				  got ? got : "(none)", cases[i].want);
		} else {
			cr_expect_eq(lines, 0, "case %zu: relayed \"%s\"", i,
				     got ? got : "");
		}
		free(got);
		/* The server span continues the trace with that state. */
		for (size_t k = 0; k < ns; k++) {
			const at_otlp_span *s = spans[k].span;

			if (s->kind == 2 && s->trace_id.len == 16 &&
			    !strcmp(h_hex(s->trace_id.data, 16), tid))
				server = s;
		}
		cr_expect_not_null(server, "case %zu: no server span", i);
		if (server) {
			cr_expect_str_eq(h_hex(server->parent_span_id.data,
					       server->parent_span_id.len),
					 PARENT_ID, "case %zu", i);
			cr_expect_str_eq(server->trace_state ?
						 server->trace_state : "",
					 cases[i].want ? cases[i].want : "",
					 "case %zu", i);
		}
	}
	free(spans);
	free(recorded);
	free(k256_list);
	free(mt_list);
	free(k257);
	free(k256);
	free(mt_ok);
	free(mt_tenant);
	h_env_stop(&e);
}

/* TRACESTATE, the environment carrier, follows the same rules. */
Test(w3c, tracestate_env_carrier, .timeout = 120)
{
	static const struct {
		const char *env, *want;
	} cases[] = {
		{ "TRACESTATE=foo=1, foo=2 ,,bar=3", "foo=1,foo=2,bar=3" },
		{ "TRACESTATE=foo=1,foo@=1", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct h_env e;
		struct h_rec rec;
		struct h_result res;
		char tid[40], tp[96], port[8], *recorded, *got;
		int lines;

		cr_assert_eq(h_env_start(&e), 0);
		cr_assert_eq(h_rec_start(&rec), 0);
		snprintf(tid, sizeof(tid), "5bf92f3577b34da6a3ce929d0e0e47%02zx",
			 i);
		snprintf(tp, sizeof(tp), "TRACEPARENT=00-%s-" PARENT_ID "-01",
			 tid);
		snprintf(port, sizeof(port), "%u", rec.port);
		const char *env[] = { e.ep, tp, cases[i].env, NULL };
		const char *argv[] = { h_build_path("fixtures/http_client"),
				       "--close", "127.0.0.1", port, NULL };
		cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
		cr_expect_eq(res.status, 0, "%s", res.err);
		recorded = h_rec_stop(&rec, NULL);
		cr_assert_not_null(recorded);
		lines = downstream_tracestate(recorded, tid, &got);
		cr_expect_geq(lines, 0, "case %zu: trace not continued", i);
		if (cases[i].want)
			cr_expect(lines == 1 && got &&
					  !strcmp(got, cases[i].want),
				  "case %zu: \"%s\"", i, got ? got : "(none)");
		else
			cr_expect_eq(lines, 0, "case %zu", i);
		free(got);
		free(recorded);
		h_result_free(&res);
		h_env_stop(&e);
	}
}

/* ---- OTLP/JSON ---- */

/* Every span of the OTLP/JSON requests recorded in buf[0..len), into
 * spans (JSON trees kept in reqs for freeing).  Checks the heads. */
static size_t json_spans(const char *buf, size_t len, struct at_json *reqs,
			 size_t max_reqs, size_t *n_reqs,
			 const struct at_json **spans, size_t max_spans,
			 struct at_traces *view)
{
	size_t off = 0, n = 0;

	*n_reqs = 0;
	while (off < len) {
		struct at_http_request r;
		struct at_buf body = { 0 };
		size_t he = at_http_head_end(buf + off, len - off, 0);
		const struct at_json *rs;

		cr_assert_gt(he, 0, "a whole head");
		cr_assert_eq(at_http_parse_request(buf + off, he, &r), 0);
		cr_assert(r.content_length > 0 &&
			  he + (size_t)r.content_length <= len - off);
		cr_expect(memmem(buf + off, he,
				 "\r\nContent-Type: application/json\r\n",
				 33) != NULL,
			  "%.*s", (int)he, buf + off);
		cr_expect(memmem(buf + off, he, "\r\nContent-Encoding: gzip\r\n",
				 26) != NULL);
		cr_expect(r.method.len == 4 && !memcmp(r.method.p, "POST", 4));
		cr_assert_eq(at_gzip_decompress((const uint8_t *)buf + off + he,
						(size_t)r.content_length,
						1 << 26, &body),
			     0);
		cr_assert_lt(*n_reqs, max_reqs);
		cr_assert_eq(at_json_parse((const char *)body.data, body.len,
					   &reqs[*n_reqs]),
			     0, "not JSON: %.*s", (int)body.len,
			     (const char *)body.data);
		cr_expect_eq(at_traces_add_json(view, (const char *)body.data,
						body.len),
			     0, "autotrace view reads it");
		rs = at_json_get(&reqs[*n_reqs], "resourceSpans");
		cr_assert(rs && rs->type == AT_JSON_ARR);
		for (size_t a = 0; a < rs->n; a++) {
			const struct at_json *ss =
				at_json_get(&rs->items[a], "scopeSpans");

			for (size_t b = 0; ss && b < ss->n; b++) {
				const struct at_json *sp =
					at_json_get(&ss->items[b], "spans");

				for (size_t c = 0; sp && c < sp->n; c++) {
					cr_assert_lt(n, max_spans);
					spans[n++] = &sp->items[c];
				}
			}
		}
		(*n_reqs)++;
		at_buf_free(&body);
		off += he + (size_t)r.content_length;
	}
	return n;
}

static int is_hex(const struct at_json *v, size_t len)
{
	if (!v || v->type != AT_JSON_STR || v->len != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((v->s[i] >= '0' && v->s[i] <= '9') ||
		      (v->s[i] >= 'a' && v->s[i] <= 'f')))
			return 0;
	return 1;
}

static int is_decimal_string(const struct at_json *v)
{
	if (!v || v->type != AT_JSON_STR || v->len == 0)
		return 0;
	for (size_t i = 0; i < v->len; i++)
		if (!(v->s[i] >= '0' && v->s[i] <= '9') &&
		    !(i == 0 && v->s[0] == '-'))
			return 0;
	return 1;
}

static int64_t json_int(const struct at_json *v, int64_t dflt)
{
	return v && v->type == AT_JSON_NUM ? strtoll(v->s, NULL, 10) : dflt;
}

static const char *json_name(const struct at_json *s)
{
	const struct at_json *v = at_json_get(s, "name");

	return v && v->type == AT_JSON_STR ? v->s : "";
}

/* The JSON span with this name and kind. */
static const struct at_json *find_json(const struct at_json *const *spans,
				       size_t n, const char *name, int kind)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(json_name(spans[i]), name) &&
		    json_int(at_json_get(spans[i], "kind"), 0) == kind)
			return spans[i];
	return NULL;
}

/* Attribute values that differ between two runs by nature. */
static int run_specific(const char *key)
{
	size_t n = strlen(key);

	return (n >= 5 && !strcmp(key + n - 5, ".port")) ||
	       !strcmp(key, "url.full") || !strcmp(key, "server.address");
}

/* pb's attributes and the JSON span's: the same keys, types, values. */
static void compare_attrs(const at_otlp_span *pb, const struct at_json *js)
{
	const struct at_json *attrs = at_json_get(js, "attributes");
	size_t n = attrs ? attrs->n : 0;

	cr_expect_eq(n, pb->n_attributes, "%s: attribute count", pb->name);
	for (size_t i = 0; i < pb->n_attributes; i++) {
		const Opentelemetry__Proto__Common__V1__KeyValue *kv =
			pb->attributes[i];
		const struct at_json *v = NULL;
		char want[32];

		for (size_t k = 0; k < n && !v; k++) {
			const struct at_json *key =
				at_json_get(&attrs->items[k], "key");

			if (key && !strcmp(key->s, kv->key))
				v = at_json_get(&attrs->items[k], "value");
		}
		cr_assert_not_null(v, "%s: no %s", pb->name, kv->key);
		switch (kv->value->value_case) {
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
			v = at_json_get(v, "stringValue");
			cr_assert(v && v->type == AT_JSON_STR, "%s", kv->key);
			if (!run_specific(kv->key))
				cr_expect_str_eq(v->s, kv->value->string_value,
						 "%s", kv->key);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
			v = at_json_get(v, "intValue");
			cr_assert(is_decimal_string(v),
				  "%s: int64 as a string", kv->key);
			snprintf(want, sizeof(want), "%lld",
				 (long long)kv->value->int_value);
			if (!run_specific(kv->key))
				cr_expect_str_eq(v->s, want, "%s", kv->key);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
			v = at_json_get(v, "boolValue");
			cr_assert(v && v->type == AT_JSON_BOOL, "%s", kv->key);
			cr_expect_eq(v->b, kv->value->bool_value, "%s", kv->key);
			break;
		case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
			v = at_json_get(v, "doubleValue");
			cr_assert(v && v->type == AT_JSON_NUM, "%s", kv->key);
			break;
		default:
			break;
		}
	}
}

/* The name of the span with this id among spans (protobuf), or NULL. */
static const char *pb_name_of(const struct at_rx_span *spans, size_t n,
			      const ProtobufCBinaryData *id)
{
	for (size_t i = 0; i < n; i++)
		if (id->len == 8 && spans[i].span->span_id.len == 8 &&
		    !memcmp(spans[i].span->span_id.data, id->data, 8))
			return spans[i].span->name;
	return NULL;
}

static const char *json_name_of(const struct at_json *const *spans, size_t n,
				const struct at_json *id)
{
	for (size_t i = 0; id && i < n; i++) {
		const struct at_json *sid = at_json_get(spans[i], "spanId");

		if (sid && !strcmp(sid->s, id->s))
			return json_name(spans[i]);
	}
	return NULL;
}

Test(w3c, otlp_json_same_spans_as_protobuf, .timeout = 240)
{
	static const char tid[] = "0af7651916cd43dd8448eb211c80319c";
	const char *headers[] = {
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-" PARENT_ID
		"-01",
		"tracestate: rojo=1",
		"tracestate: congo=2",
	};
	struct h_env e;
	struct h_rec rec;
	struct at_rx_span *pb;
	struct at_json reqs[16];
	const struct at_json *js[64];
	struct at_traces *view = at_traces_new();
	char port[8], json_ep[64], *recorded;
	size_t n_pb, n_js, n_reqs, len;
	pid_t relay;

	cr_assert_eq(h_env_start(&e), 0);
	cr_assert_eq(h_rec_start(&rec), 0);

	/* protobuf, to the receiver */
	const char *env_pb[] = { e.ep, "OTEL_BSP_SCHEDULE_DELAY=50", NULL };
	relay = h_start_relay(e.dir, h_http_port(e.http), env_pb, port);
	cr_assert_str_neq(port, "0", "http_service did not start");
	send_request(port, "/json", headers, 3);
	cr_expect_eq(h_stop(relay, RUN_MS), 0);
	n_pb = h_spans(e.rx, 2, WAIT_MS, &pb);
	cr_assert_geq(n_pb, 2);

	/* OTLP/JSON with gzip, to the recording server */
	snprintf(json_ep, sizeof(json_ep),
		 "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%u", rec.port);
	const char *env_js[] = { json_ep, "OTEL_EXPORTER_OTLP_PROTOCOL=http/json",
				 "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
				 "OTEL_BSP_SCHEDULE_DELAY=50", NULL };
	relay = h_start_relay(e.dir, h_http_port(e.http), env_js, port);
	cr_assert_str_neq(port, "0", "http_service did not start");
	send_request(port, "/json", headers, 3);
	cr_expect_eq(h_stop(relay, RUN_MS), 0);
	recorded = h_rec_stop(&rec, &len);
	cr_assert_not_null(recorded);
	n_js = json_spans(recorded, len, reqs, 16, &n_reqs, js, 64, view);

	cr_expect_eq(n_js, n_pb, "%zu JSON spans, %zu protobuf", n_js, n_pb);
	cr_expect_eq(view->n_all, n_js, "autotrace view reads every span");
	for (size_t i = 0; i < n_pb; i++) {
		const at_otlp_span *s = pb[i].span;
		const struct at_json *j = find_json(js, n_js, s->name,
						    (int)s->kind);
		const struct at_json *st, *pid;
		const char *pb_parent, *js_parent;

		cr_assert_not_null(j, "no JSON span %s kind %d", s->name,
				   s->kind);
		/* encodings */
		cr_expect(is_hex(at_json_get(j, "traceId"), 32), "%s", s->name);
		cr_expect_str_eq(at_json_get(j, "traceId")->s, tid);
		cr_expect(is_hex(at_json_get(j, "spanId"), 16), "%s", s->name);
		cr_expect(is_decimal_string(at_json_get(j, "startTimeUnixNano")),
			  "%s", s->name);
		cr_expect(is_decimal_string(at_json_get(j, "endTimeUnixNano")),
			  "%s", s->name);
		cr_expect_eq(at_json_get(j, "kind")->type, AT_JSON_NUM);
		cr_expect_eq(json_int(at_json_get(j, "flags"), -1),
			     (int64_t)s->flags, "%s", s->name);
		/* trace state, status */
		cr_expect_str_eq(at_json_get(j, "traceState") ?
					 at_json_get(j, "traceState")->s : "",
				 s->trace_state ? s->trace_state : "");
		st = at_json_get(j, "status");
		cr_assert_not_null(st);
		cr_expect_eq(json_int(at_json_get(st, "code"), 0),
			     s->status ? (int64_t)s->status->code : 0);
		if (at_json_get(st, "code"))
			cr_expect_eq(at_json_get(st, "code")->type,
				     AT_JSON_NUM);
		compare_attrs(s, j);
		/* parent links: the same parent, by name (or the remote one) */
		pid = at_json_get(j, "parentSpanId");
		cr_expect_eq(pid != NULL, s->parent_span_id.len == 8,
			     "%s", s->name);
		if (!pid)
			continue;
		cr_expect(is_hex(pid, 16));
		pb_parent = pb_name_of(pb, n_pb, &s->parent_span_id);
		js_parent = json_name_of(js, n_js, pid);
		if (!pb_parent) {
			cr_expect_str_eq(h_hex(s->parent_span_id.data, 8),
					 PARENT_ID, "%s", s->name);
			cr_expect_str_eq(pid->s, PARENT_ID, "%s", s->name);
		} else {
			cr_expect(js_parent && !strcmp(js_parent, pb_parent),
				  "%s: parent %s, JSON %s", s->name, pb_parent,
				  js_parent ? js_parent : "(none)");
		}
	}
	/* The relayed request's server span carries the combined list. */
	cr_expect_not_null(find_json(js, n_js, "GET", 2));
	if (find_json(js, n_js, "GET", 2))
		cr_expect_str_eq(at_json_get(find_json(js, n_js, "GET", 2),
					     "traceState")->s,
				 "rojo=1,congo=2");

	for (size_t i = 0; i < n_reqs; i++)
		at_json_free(&reqs[i]);
	at_traces_free(view);
	free(pb);
	free(recorded);
	h_env_stop(&e);
}
