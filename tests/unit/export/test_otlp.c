/*
 * test_otlp.c - the OTLP encoder (at_otlp.c) and the byte buffer
 * (at_buf.c).
 *
 * Spans are built by filling struct at_span by hand, serialised into
 * records with at_span_serialize() and encoded with at_otlp_encode(); the
 * result is decoded with the protobuf-c code generated from our .proto
 * files and every field is compared.  A second check re-packs the decoded
 * message with protobuf-c and expects the very same bytes: the encoder
 * writes the outer framing by hand, so this proves it is the canonical
 * encoding.  (Field numbers themselves are checked against the official
 * protos in test_otlp_official.c.)
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "at_buf.h"
#include "at_compat.h"
#include "at_otlp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define START_NS 1700000000123456789ULL

/* ---- building spans and records ---- */

/* n bytes of str into the arena (NUL bytes too). */
static struct at_str put_n(struct at_span *s, const char *str, size_t n)
{
	struct at_str r;

	cr_assert(s->h.arena_used + n <= AT_SPAN_ARENA);
	r.off = s->h.arena_used;
	r.len = (uint16_t)n;
	memcpy(s->arena + s->h.arena_used, str, n);
	s->h.arena_used += (uint16_t)n;
	return r;
}

static struct at_str put(struct at_span *s, const char *str)
{
	return put_n(s, str, strlen(str));
}

static struct at_attr *new_attr(struct at_span *s, const char *key)
{
	struct at_attr *a = &s->attrs[s->h.n_attrs++];

	a->key = key;
	return a;
}

static void add_str(struct at_span *s, const char *key, const char *val)
{
	struct at_attr *a = new_attr(s, key);

	a->type = AT_ATTR_STRING;
	a->v.s = put(s, val);
}

static void add_int(struct at_span *s, const char *key, int64_t val)
{
	struct at_attr *a = new_attr(s, key);

	a->type = AT_ATTR_INT;
	a->v.i = val;
}

static void add_double(struct at_span *s, const char *key, double val)
{
	struct at_attr *a = new_attr(s, key);

	a->type = AT_ATTR_DOUBLE;
	a->v.d = val;
}

static void add_bool(struct at_span *s, const char *key, int val)
{
	struct at_attr *a = new_attr(s, key);

	a->type = AT_ATTR_BOOL;
	a->v.b = val;
}

static void add_event(struct at_span *s, const char *name, uint64_t t,
		      const char *k1, const char *v1, const char *k2,
		      const char *v2, uint8_t dropped)
{
	struct at_event *e = &s->events[s->h.n_events++];

	e->name = name;
	e->time_unix_ns = t;
	e->first_attr = s->h.n_ev_attrs;
	e->n_attrs = 0;
	e->dropped_attrs = dropped;
	if (k1) {
		struct at_attr *a = &s->ev_attrs[s->h.n_ev_attrs++];

		a->key = k1;
		a->type = AT_ATTR_STRING;
		a->v.s = put(s, v1);
		e->n_attrs++;
	}
	if (k2) {
		struct at_attr *a = &s->ev_attrs[s->h.n_ev_attrs++];

		a->key = k2;
		a->type = AT_ATTR_STRING;
		a->v.s = put(s, v2);
		e->n_attrs++;
	}
}

static void set_ids(struct at_span *s, unsigned seed)
{
	int i;

	for (i = 0; i < 16; i++)
		s->h.ctx.trace_id[i] = (uint8_t)(seed * 31 + i + 1);
	for (i = 0; i < 8; i++)
		s->h.ctx.span_id[i] = (uint8_t)(seed * 7 + 0xa0 + i);
}

/* A span with every field the encoder knows about. */
static void make_rich(struct at_span *s, unsigned seed)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->h.state = AT_SPAN_RECORDING;
	set_ids(s, seed);
	s->h.ctx.flags = AT_FLAG_SAMPLED | AT_FLAG_RANDOM;
	s->h.has_parent = 1;
	s->h.parent_is_remote = 1;
	for (i = 0; i < 8; i++)
		s->h.parent_span_id[i] = (uint8_t)(0x50 + i);
	s->h.name = put(s, "GET /users/{id}");
	s->h.tracestate = put(s, "vendor=abc,other=xyz");
	s->h.kind = AT_KIND_CLIENT;
	s->h.start_unix_ns = START_NS + seed;
	s->h.end_unix_ns = START_NS + seed + 1234567;
	s->h.start_mono_ns = 99;
	add_str(s, "http.request.method", "GET");
	add_int(s, "http.response.status_code", 200);
	add_int(s, "negative", -42);
	add_int(s, "big", INT64_MAX);
	add_double(s, "ratio", 0.25);
	add_bool(s, "cache.hit", 1);
	add_bool(s, "cache.miss", 0);
	add_str(s, "empty", "");
	add_str(s, "unicode", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93");
	s->h.dropped_attrs = 3;
	add_event(s, "exception", START_NS + 1000, "exception.type",
		  "ECONNREFUSED", "exception.message", "Connection refused",
		  1);
	add_event(s, "retry", START_NS + 2000, NULL, NULL, NULL, NULL, 0);
	s->h.dropped_events = 2;
	s->h.status_code = AT_STATUS_ERROR;
	s->h.status_message = put(s, "connect failed");
}

/* A root span with the least: no parent, no tracestate, no attributes. */
static void make_root(struct at_span *s, unsigned seed, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->h.state = AT_SPAN_RECORDING;
	set_ids(s, seed);
	s->h.ctx.flags = AT_FLAG_SAMPLED;
	s->h.name = put(s, name);
	s->h.kind = AT_KIND_SERVER;
	s->h.start_unix_ns = START_NS;
	s->h.end_unix_ns = START_NS + 10;
	s->h.status_code = AT_STATUS_OK;
}

static struct at_span_hdr *record(const struct at_span *s)
{
	size_t n = at_span_record_size(s);
	struct at_span_hdr *r = aligned_alloc(8, (n + 7) & ~(size_t)7);

	cr_assert_not_null(r);
	at_span_serialize(s, r);
	cr_assert_eq(r->rec_size, n);
	return r;
}

static struct at_resource *make_resource(void)
{
	struct at_resource *r = calloc(1, sizeof(*r));

	cr_assert_not_null(r);
	r->attrs[0] = (struct at_kv){ "service.name", AT_KV_STRING,
				      "test-svc", 0 };
	r->attrs[1] = (struct at_kv){ "process.pid", AT_KV_INT, NULL, 4242 };
	r->attrs[2] = (struct at_kv){ "telemetry.sdk.language", AT_KV_STRING,
				      "c", 0 };
	r->attrs[3] = (struct at_kv){ "feature.on", AT_KV_BOOL, NULL, 1 };
	r->n = 4;
	return r;
}

/* ---- decoding helpers ---- */

static Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *
decode(const struct at_buf *b, size_t off)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;

	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, b->len - off, b->data + off);
	cr_assert_not_null(req, "our output must decode");
	return req;
}

static void free_req(
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req)
{
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

static Opentelemetry__Proto__Trace__V1__ScopeSpans *only_scope(
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req)
{
	cr_assert_eq(req->n_resource_spans, 1);
	cr_assert_eq(req->resource_spans[0]->n_scope_spans, 1);
	return req->resource_spans[0]->scope_spans[0];
}

static const Opentelemetry__Proto__Common__V1__AnyValue *attr(
	Opentelemetry__Proto__Common__V1__KeyValue **kv, size_t n,
	const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i]->key, key) == 0) {
			cr_assert_not_null(kv[i]->value, "%s has a value", key);
			return kv[i]->value;
		}
	cr_assert_fail("attribute %s missing", key);
	return NULL;
}

#define CASE(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

static void check_str(Opentelemetry__Proto__Common__V1__KeyValue **kv,
		      size_t n, const char *key, const char *want)
{
	const Opentelemetry__Proto__Common__V1__AnyValue *v = attr(kv, n, key);

	cr_assert_eq(v->value_case, CASE(STRING_VALUE), "%s is a string", key);
	cr_assert_str_eq(v->string_value, want, "%s", key);
}

static void check_int(Opentelemetry__Proto__Common__V1__KeyValue **kv,
		      size_t n, const char *key, int64_t want)
{
	const Opentelemetry__Proto__Common__V1__AnyValue *v = attr(kv, n, key);

	cr_assert_eq(v->value_case, CASE(INT_VALUE), "%s is an int", key);
	cr_assert_eq(v->int_value, want, "%s", key);
}

static void check_bool(Opentelemetry__Proto__Common__V1__KeyValue **kv,
		       size_t n, const char *key, int want)
{
	const Opentelemetry__Proto__Common__V1__AnyValue *v = attr(kv, n, key);

	cr_assert_eq(v->value_case, CASE(BOOL_VALUE), "%s is a bool", key);
	cr_assert_eq(!!v->bool_value, want, "%s", key);
}

static void check_resource_and_scope(
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req)
{
	Opentelemetry__Proto__Resource__V1__Resource *res;
	Opentelemetry__Proto__Common__V1__InstrumentationScope *scope;

	res = req->resource_spans[0]->resource;
	cr_assert_not_null(res);
	cr_assert_eq(res->n_attributes, 4);
	check_str(res->attributes, 4, "service.name", "test-svc");
	check_int(res->attributes, 4, "process.pid", 4242);
	check_str(res->attributes, 4, "telemetry.sdk.language", "c");
	check_bool(res->attributes, 4, "feature.on", 1);
	scope = only_scope(req)->scope;
	cr_assert_not_null(scope);
	cr_assert_str_eq(scope->name, AT_SCOPE_NAME);
	cr_assert_str_eq(scope->version, AT_VERSION);
}

/* Re-pack the decoded request: must give our bytes exactly. */
static void check_canonical(const struct at_buf *b, size_t off)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req = decode(b, off);
	size_t n = protobuf_c_message_get_packed_size(&req->base);
	uint8_t *p = malloc(n ? n : 1);

	cr_assert_not_null(p);
	cr_assert_eq(n, b->len - off, "size %zu vs canonical %zu",
		     b->len - off, n);
	protobuf_c_message_pack(&req->base, p);
	cr_assert(memcmp(p, b->data + off, n) == 0,
		  "encoding differs from protobuf-c's canonical one");
	free(p);
	free_req(req);
}

static int encode(struct at_span_hdr **recs, size_t n,
		  const struct at_resource *res, struct at_buf *out)
{
	return at_otlp_encode((const struct at_span_hdr *const *)recs, n, res,
			      out);
}

/* ---- otlp ---- */

TestSuite(otlp);

Test(otlp, rich_span_every_field)
{
	static struct at_span s;
	struct at_resource *res = make_resource();
	struct at_span_hdr *rec;
	struct at_buf out = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;
	Opentelemetry__Proto__Trace__V1__Span *sp;
	Opentelemetry__Proto__Trace__V1__Span__Event *ev;
	const Opentelemetry__Proto__Common__V1__AnyValue *v;
	size_t na;
	int i;

	make_rich(&s, 1);
	rec = record(&s);
	cr_assert_eq(encode(&rec, 1, res, &out), 0);
	req = decode(&out, 0);
	check_resource_and_scope(req);
	cr_assert_eq(only_scope(req)->n_spans, 1);
	sp = only_scope(req)->spans[0];

	cr_assert_eq(sp->trace_id.len, 16);
	cr_assert(memcmp(sp->trace_id.data, s.h.ctx.trace_id, 16) == 0);
	cr_assert_eq(sp->span_id.len, 8);
	cr_assert(memcmp(sp->span_id.data, s.h.ctx.span_id, 8) == 0);
	cr_assert_eq(sp->parent_span_id.len, 8);
	for (i = 0; i < 8; i++)
		cr_assert_eq(sp->parent_span_id.data[i], 0x50 + i);
	cr_assert_str_eq(sp->trace_state, "vendor=abc,other=xyz");
	cr_assert_eq(sp->flags, 0x3 | 0x100 | 0x200);
	cr_assert_str_eq(sp->name, "GET /users/{id}");
	cr_assert_eq(sp->kind,
		     OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
	cr_assert_eq(sp->start_time_unix_nano, START_NS + 1);
	cr_assert_eq(sp->end_time_unix_nano, START_NS + 1 + 1234567);

	na = sp->n_attributes;
	cr_assert_eq(na, 9);
	/* Order is kept. */
	cr_assert_str_eq(sp->attributes[0]->key, "http.request.method");
	cr_assert_str_eq(sp->attributes[8]->key, "unicode");
	check_str(sp->attributes, na, "http.request.method", "GET");
	check_int(sp->attributes, na, "http.response.status_code", 200);
	check_int(sp->attributes, na, "negative", -42);
	check_int(sp->attributes, na, "big", INT64_MAX);
	v = attr(sp->attributes, na, "ratio");
	cr_assert_eq(v->value_case, CASE(DOUBLE_VALUE));
	cr_assert_eq(v->double_value, 0.25);
	check_bool(sp->attributes, na, "cache.hit", 1);
	check_bool(sp->attributes, na, "cache.miss", 0);
	check_str(sp->attributes, na, "empty", "");
	check_str(sp->attributes, na, "unicode",
		  "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93");
	cr_assert_eq(sp->dropped_attributes_count, 3);

	cr_assert_eq(sp->n_events, 2);
	ev = sp->events[0];
	cr_assert_str_eq(ev->name, "exception");
	cr_assert_eq(ev->time_unix_nano, START_NS + 1000);
	cr_assert_eq(ev->n_attributes, 2);
	check_str(ev->attributes, 2, "exception.type", "ECONNREFUSED");
	check_str(ev->attributes, 2, "exception.message",
		  "Connection refused");
	cr_assert_eq(ev->dropped_attributes_count, 1);
	ev = sp->events[1];
	cr_assert_str_eq(ev->name, "retry");
	cr_assert_eq(ev->time_unix_nano, START_NS + 2000);
	cr_assert_eq(ev->n_attributes, 0);
	cr_assert_eq(ev->dropped_attributes_count, 0);
	cr_assert_eq(sp->dropped_events_count, 2);
	cr_assert_eq(sp->n_links, 0);

	cr_assert_not_null(sp->status);
	cr_assert_eq(sp->status->code,
		     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	cr_assert_str_eq(sp->status->message, "connect failed");

	free_req(req);
	check_canonical(&out, 0);
	at_buf_free(&out);
	free(rec);
	free(res);
}

Test(otlp, root_span_has_no_parent_or_state)
{
	static struct at_span s;
	struct at_resource *res = make_resource();
	struct at_span_hdr *rec;
	struct at_buf out = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;
	Opentelemetry__Proto__Trace__V1__Span *sp;

	make_root(&s, 2, "accept");
	rec = record(&s);
	cr_assert_eq(encode(&rec, 1, res, &out), 0);
	req = decode(&out, 0);
	sp = only_scope(req)->spans[0];
	cr_assert_eq(sp->parent_span_id.len, 0);
	cr_assert_str_eq(sp->trace_state, "");
	cr_assert_eq(sp->flags, 0x1 | 0x100, "local root: has-is-remote only");
	cr_assert_str_eq(sp->name, "accept");
	cr_assert_eq(sp->kind,
		     OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
	cr_assert_eq(sp->n_attributes, 0);
	cr_assert_eq(sp->n_events, 0);
	cr_assert_eq(sp->dropped_attributes_count, 0);
	cr_assert_eq(sp->dropped_events_count, 0);
	cr_assert_not_null(sp->status);
	cr_assert_eq(sp->status->code,
		     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK);
	cr_assert_str_eq(sp->status->message, "");
	free_req(req);
	check_canonical(&out, 0);
	at_buf_free(&out);
	free(rec);
	free(res);
}

Test(otlp, local_parent_flags)
{
	static struct at_span s;
	struct at_span_hdr *rec;
	struct at_buf out = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;
	Opentelemetry__Proto__Trace__V1__Span *sp;

	make_root(&s, 3, "child");
	s.h.has_parent = 1;
	s.h.parent_is_remote = 0;
	s.h.ctx.flags = 0; /* recorded although the flag says unsampled */
	memset(s.h.parent_span_id, 0x77, 8);
	rec = record(&s);
	cr_assert_eq(encode(&rec, 1, NULL, &out), 0);
	req = decode(&out, 0);
	sp = only_scope(req)->spans[0];
	cr_assert_eq(sp->flags, 0x100);
	cr_assert_eq(sp->parent_span_id.len, 8);
	cr_assert_eq(sp->parent_span_id.data[7], 0x77);
	/* No resource given: an empty one. */
	cr_assert_not_null(req->resource_spans[0]->resource);
	cr_assert_eq(req->resource_spans[0]->resource->n_attributes, 0);
	free_req(req);
	at_buf_free(&out);
	free(rec);
}

Test(otlp, kinds_and_status_codes)
{
	static struct at_span s[8];
	struct at_span_hdr *recs[8];
	struct at_buf out = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;
	Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;
	int i;

	for (i = 0; i < 8; i++) {
		make_root(&s[i], (unsigned)i, "k");
		s[i].h.kind = (uint8_t)i; /* 0 and 6, 7 are not valid kinds */
		s[i].h.status_code = (uint8_t)(i % 4); /* 3 is not valid */
		if (i % 4 == 2)
			s[i].h.status_message = put(&s[i], "boom");
		recs[i] = record(&s[i]);
	}
	cr_assert_eq(encode(recs, 8, NULL, &out), 0);
	req = decode(&out, 0);
	ss = only_scope(req);
	cr_assert_eq(ss->n_spans, 8);
	for (i = 0; i < 8; i++) {
		int kind = i <= 5 ? i : 0, code = i % 4 == 3 ? 0 : i % 4;

		cr_assert_eq((int)ss->spans[i]->kind, kind, "kind %d", i);
		cr_assert_eq((int)ss->spans[i]->status->code, code,
			     "status %d", i);
		cr_assert_str_eq(ss->spans[i]->status->message,
				 i % 4 == 2 ? "boom" : "");
	}
	free_req(req);
	at_buf_free(&out);
	for (i = 0; i < 8; i++)
		free(recs[i]);
}

/* Batches whose outer lengths need 1..4 varint bytes. */
static void batch_of(size_t n, size_t name_len)
{
	struct at_resource *res = make_resource();
	struct at_span_hdr **recs = calloc(n ? n : 1, sizeof(*recs));
	struct at_span *s = malloc(sizeof(*s));
	char *name = malloc(name_len + 24);
	struct at_buf out = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;
	Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;
	size_t i;

	cr_assert(recs && s && name);
	for (i = 0; i < n; i++) {
		memset(name, 'a' + (int)(i % 26), name_len);
		snprintf(name + name_len, 24, "%zu", i);
		make_root(s, (unsigned)i, name);
		add_int(s, "i", (int64_t)i);
		recs[i] = record(s);
	}
	cr_assert_eq(encode(recs, n, res, &out), 0);
	req = decode(&out, 0);
	check_resource_and_scope(req);
	ss = only_scope(req);
	cr_assert_eq(ss->n_spans, n);
	for (i = 0; i < n; i++) {
		cr_assert_eq(strlen(ss->spans[i]->name),
			     name_len + (size_t)snprintf(NULL, 0, "%zu", i));
		check_int(ss->spans[i]->attributes, 1, "i", (int64_t)i);
	}
	free_req(req);
	check_canonical(&out, 0);
	at_buf_free(&out);
	for (i = 0; i < n; i++)
		free(recs[i]);
	free(recs);
	free(s);
	free(name);
	free(res);
}

Test(otlp, empty_batch)
{
	batch_of(0, 0);
}

Test(otlp, batch_one_byte_lengths)
{
	batch_of(1, 4);
}

Test(otlp, batch_two_byte_lengths)
{
	batch_of(100, 20);
}

Test(otlp, batch_three_byte_lengths)
{
	batch_of(2000, 100);
}

Test(otlp, batch_four_byte_lengths)
{
	/* > 2 MiB in the outer messages. */
	batch_of(2500, 1000);
}

/* The outer lengths' widths are guessed from the batch before: every
 * size after every other, small and large, gives the canonical bytes. */
Test(otlp, framing_after_smaller_and_larger_batches)
{
	batch_of(2500, 1000);
	batch_of(1, 4);
	batch_of(2000, 100);
	batch_of(100, 20);
	batch_of(0, 0);
	batch_of(2500, 1000);
}

/* protobuf-c's rules, which the direct encoder keeps: a string stops at a
 * NUL byte (a name that starts with one is left out); a key-less
 * attribute still has its value; long strings get two-byte lengths. */
Test(otlp, strings_as_protobuf_c_sends_them)
{
	static struct at_span s;
	struct at_span_hdr *rec;
	struct at_buf out = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;
	Opentelemetry__Proto__Trace__V1__Span *sp;
	char long_val[301];
	struct at_attr *a;

	make_root(&s, 3, "x");
	s.h.name = put_n(&s, "\0hidden", 7);
	s.h.status_message = put_n(&s, "bad\0z", 5);
	a = new_attr(&s, "cut");
	a->type = AT_ATTR_STRING;
	a->v.s = put_n(&s, "ab\0", 3);
	memset(long_val, 'v', 300);
	long_val[300] = '\0';
	add_str(&s, "long", long_val);
	add_int(&s, NULL, 7);
	rec = record(&s);
	cr_assert_eq(encode(&rec, 1, NULL, &out), 0);
	req = decode(&out, 0);
	sp = only_scope(req)->spans[0];
	cr_assert_str_eq(sp->name, "");
	cr_assert_str_eq(sp->status->message, "bad");
	check_str(sp->attributes, sp->n_attributes, "cut", "ab");
	check_str(sp->attributes, sp->n_attributes, "long", long_val);
	check_int(sp->attributes, sp->n_attributes, "", 7);
	free_req(req);
	check_canonical(&out, 0);
	at_buf_free(&out);
	free(rec);
}

/* The attribute's cheap paths (a key's encoding cached by its pointer, a
 * short value copied and looked at for NUL bytes in fixed-size blocks)
 * give the same bytes as the long ones: a key too long to cache, more
 * keys than the cache has slots, values of 31, 32, 33, 63, 64 and 65
 * bytes, a NUL in a short value's last byte, and short values at the
 * arena's end. */
Test(otlp, attribute_fast_paths_keep_the_bytes)
{
	static const char long_key[] =
		"a.key.that.is.too.long.for.the.key.cache.of.the.encoder";
	static const char keys[AT_SPAN_MAX_ATTRS][8] = {
		"k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07",
		"k08", "k09", "k10", "k11", "k12", "k13", "k14", "k15",
		"k16", "k17", "k18", "k19", "k20", "k21", "k22", "k23",
		"k24", "k25", "k26", "k27", "k28", "k29", "k30", "k31",
	};
	static struct at_span s;
	struct at_span_hdr *rec;
	struct at_buf out = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;
	Opentelemetry__Proto__Trace__V1__Span *sp;
	char v31[32], v32[33], v33[34], v6x[3][66];
	struct at_attr *a;

	for (int round = 0; round < 2; round++) {
		make_root(&s, 11, "keys");
		memset(v31, 'a', 31);
		v31[31] = '\0';
		memset(v32, 'b', 32);
		v32[32] = '\0';
		memset(v33, 'c', 33);
		v33[33] = '\0';
		add_str(&s, long_key, "long key");
		add_str(&s, keys[0], v31);
		add_str(&s, keys[1], v32);
		add_str(&s, keys[2], v33);
		a = new_attr(&s, keys[3]);
		a->type = AT_ATTR_STRING;
		a->v.s = put_n(&s, "0123456789abcdef0123456789abcde\0", 32);
		for (int i = 0; i < 3; i++) {
			memset(v6x[i], 'd' + i, sizeof(v6x[i]));
			v6x[i][63 + i] = '\0';
			add_str(&s, keys[4 + i], v6x[i]);
		}
		for (int i = 7; i < AT_SPAN_MAX_ATTRS - 1; i++)
			add_int(&s, keys[i], i * 1000);
		add_str(&s, keys[AT_SPAN_MAX_ATTRS - 1], "end");
		rec = record(&s);
		cr_assert_eq(encode(&rec, 1, NULL, &out), 0);
		req = decode(&out, 0);
		sp = only_scope(req)->spans[0];
		check_str(sp->attributes, sp->n_attributes, long_key, "long key");
		check_str(sp->attributes, sp->n_attributes, "k00", v31);
		check_str(sp->attributes, sp->n_attributes, "k01", v32);
		check_str(sp->attributes, sp->n_attributes, "k02", v33);
		check_str(sp->attributes, sp->n_attributes, "k03",
			  "0123456789abcdef0123456789abcde");
		check_str(sp->attributes, sp->n_attributes, "k04", v6x[0]);
		check_str(sp->attributes, sp->n_attributes, "k05", v6x[1]);
		check_str(sp->attributes, sp->n_attributes, "k06", v6x[2]);
		check_int(sp->attributes, sp->n_attributes, "k30", 30000);
		check_str(sp->attributes, sp->n_attributes, "k31", "end");
		free_req(req);
		check_canonical(&out, 0);
		at_buf_reset(&out);
		free(rec);
	}
	at_buf_free(&out);
}

/* A value that ends the arena, of every size class the short copy has. */
Test(otlp, values_at_the_arena_end)
{
	static const size_t lens[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17,
				       31, 32, 33, 40, 63, 64, 65 };
	static struct at_span s;
	struct at_buf out = { 0 };

	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
			*req;
		struct at_span_hdr *rec;
		char v[66];

		for (size_t i = 0; i < lens[k]; i++)
			v[i] = (char)('A' + (i % 26));
		v[lens[k]] = '\0';
		make_root(&s, 12, "n");
		add_str(&s, "last", v);
		rec = record(&s);
		cr_assert_eq(encode(&rec, 1, NULL, &out), 0);
		req = decode(&out, 0);
		check_str(only_scope(req)->spans[0]->attributes,
			  only_scope(req)->spans[0]->n_attributes, "last", v);
		free_req(req);
		check_canonical(&out, 0);
		at_buf_reset(&out);
		free(rec);
	}
	at_buf_free(&out);
}

/* The attributes' register-cursor path (write_attrs(): a cached key, a
 * string of 1 to 64 bytes, an int or a bool) against the general one:
 * a span is encoded twice, the first time filling the key cache (the
 * general path), the second time through the fast one, and both must
 * give the same canonical bytes.  Strings of 1 to 17 bytes and about
 * 32, 48 and 64 (the fast way's limit), with a NUL byte first, in the
 * middle, last or none, in the middle of the arena and at its end (and a NUL-key int, negative and wide ints,
 * bools). */
Test(otlp, short_values_first_and_again_same_bytes)
{
	static const char *const keys[] = { "s.mid", "s.end" };
	static struct at_span s;
	struct at_buf first = { 0 }, again = { 0 };

	for (size_t len = 1; len <= 66; len += len < 17 || len % 16 == 0 ||
					       len % 16 == 15 ? 1 : 14) {
		for (int nul = -1; nul < 3; nul++) {
			Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
				*req;
			Opentelemetry__Proto__Trace__V1__Span *sp;
			struct at_span_hdr *rec;
			struct at_attr *a;
			char v[67], want[67];
			size_t at = nul == 0 ? 0 : nul == 1 ? len / 2 : len - 1;

			for (size_t i = 0; i < len; i++)
				v[i] = (char)('a' + (i % 26));
			if (nul >= 0)
				v[at] = '\0';
			memcpy(want, v, len);
			want[len] = '\0';
			make_root(&s, 13, "short");
			for (size_t k = 0; k < 2; k++) {
				a = new_attr(&s, keys[k]);
				a->type = AT_ATTR_STRING;
				a->v.s = put_n(&s, v, len);
				if (k == 0) {
					add_int(&s, NULL, -(int64_t)len);
					add_bool(&s, "b", (int)(len & 1));
					add_int(&s, "wide", INT64_MAX - (int64_t)len);
					add_str(&s, "pad", "0123456789abcdefghij");
				}
			}
			rec = record(&s);
			cr_assert_eq(encode(&rec, 1, NULL, &first), 0);
			cr_assert_eq(encode(&rec, 1, NULL, &again), 0);
			cr_assert_eq(first.len, again.len, "len %zu nul %d", len,
				     nul);
			cr_assert(memcmp(first.data, again.data, first.len) == 0,
				  "len %zu nul %d", len, nul);
			req = decode(&again, 0);
			sp = only_scope(req)->spans[0];
			check_str(sp->attributes, sp->n_attributes, "s.mid", want);
			check_str(sp->attributes, sp->n_attributes, "s.end", want);
			check_int(sp->attributes, sp->n_attributes, "",
				  -(int64_t)len);
			check_bool(sp->attributes, sp->n_attributes, "b",
				   (int)(len & 1));
			check_int(sp->attributes, sp->n_attributes, "wide",
				  INT64_MAX - (int64_t)len);
			free_req(req);
			check_canonical(&again, 0);
			at_buf_reset(&first);
			at_buf_reset(&again);
			free(rec);
		}
	}
	at_buf_free(&first);
	at_buf_free(&again);
}

/* Spans of two kinds in turn (other keys at the same positions, as a
 * server's own spans between its database client spans): each encodes
 * to the bytes it has alone, whatever the key cache last held. */
Test(otlp, alternating_key_sets_same_bytes)
{
	static struct at_span s1, s2;
	struct at_span_hdr *r1, *r2;
	struct at_buf alone1 = { 0 }, alone2 = { 0 }, out = { 0 };

	make_root(&s1, 14, "one");
	add_str(&s1, "alt.a", "value a");
	add_int(&s1, "alt.b", 300);
	add_str(&s1, "alt.c", "a value of more than sixteen bytes");
	make_root(&s2, 15, "two");
	add_int(&s2, "alt.x", 1);
	add_str(&s2, "alt.y", "y");
	add_bool(&s2, "alt.z", 1);
	add_str(&s2, "alt.w", "w value");
	r1 = record(&s1);
	r2 = record(&s2);
	cr_assert_eq(encode(&r1, 1, NULL, &alone1), 0);
	cr_assert_eq(encode(&r2, 1, NULL, &alone2), 0);
	for (int round = 0; round < 4; round++) {
		struct at_span_hdr *r = round & 1 ? r2 : r1;
		const struct at_buf *want = round & 1 ? &alone2 : &alone1;

		cr_assert_eq(encode(&r, 1, NULL, &out), 0);
		cr_assert_eq(out.len, want->len, "round %d", round);
		cr_assert(memcmp(out.data, want->data, out.len) == 0,
			  "round %d", round);
		check_canonical(&out, 0);
		at_buf_reset(&out);
	}
	at_buf_free(&alone1);
	at_buf_free(&alone2);
	at_buf_free(&out);
	free(r1);
	free(r2);
}

/* Random spans (a fixed seed): keys from a pool larger than the key
 * cache's position table (some too long to cache, a NULL one), strings of
 * 0 to 80 bytes with NUL bytes anywhere, some ending the arena, ints of
 * every width, bools, doubles, events with attributes; in batches of 8,
 * each batch encoded twice.  Every attribute decodes to its key and its
 * value (a string cut at its first NUL), in order, and the bytes are
 * protobuf-c's and the same both times. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 11) % n;
}

static void check_attr_as_made(const Opentelemetry__Proto__Common__V1__KeyValue *kv,
			       const struct at_attr *a, const char *arena)
{
	const Opentelemetry__Proto__Common__V1__AnyValue *v = kv->value;

	cr_assert_str_eq(kv->key, a->key ? a->key : "");
	cr_assert_not_null(v);
	switch (a->type) {
	case AT_ATTR_STRING: {
		size_t n = strnlen(arena + a->v.s.off, a->v.s.len);

		cr_assert_eq(v->value_case, CASE(STRING_VALUE));
		cr_assert_eq(strlen(v->string_value), n);
		cr_assert(memcmp(v->string_value, arena + a->v.s.off, n) == 0);
		break;
	}
	case AT_ATTR_INT:
		cr_assert_eq(v->value_case, CASE(INT_VALUE));
		cr_assert_eq(v->int_value, a->v.i);
		break;
	case AT_ATTR_BOOL:
		cr_assert_eq(v->value_case, CASE(BOOL_VALUE));
		cr_assert_eq(!!v->bool_value, !!a->v.b);
		break;
	default:
		cr_assert_eq(v->value_case, CASE(DOUBLE_VALUE));
		cr_assert(v->double_value == a->v.d);
	}
}

static void random_attr(struct at_span *s, struct at_attr *a,
			const char *const *keys, size_t n_keys)
{
	static const int64_t ints[] = { 0, 1, 127, 128, 16383, 16384, -1,
					INT64_MIN, INT64_MAX, 8080 };
	char v[81];
	size_t len;

	a->key = rnd(20) ? keys[rnd((uint32_t)n_keys)] : NULL;
	switch (rnd(5)) {
	case 0:
		a->type = AT_ATTR_INT;
		a->v.i = ints[rnd(sizeof(ints) / sizeof(ints[0]))];
		break;
	case 1:
		a->type = AT_ATTR_BOOL;
		a->v.b = rnd(2);
		break;
	case 2:
		a->type = AT_ATTR_DOUBLE;
		a->v.d = rnd(1000) / 8.0;
		break;
	default:
		len = rnd(4) ? rnd(17) : rnd(81);
		for (size_t i = 0; i < len; i++)
			v[i] = rnd(12) ? (char)('a' + rnd(26)) : '\0';
		if (s->h.arena_used + len > AT_SPAN_ARENA)
			len = 0;
		a->type = AT_ATTR_STRING;
		a->v.s = put_n(s, v, len);
	}
}

Test(otlp, random_spans_decode_as_made)
{
	static const char *const keys[] = {
		"k.a", "k.b", "k.c", "k.d", "k.e", "k.f", "k.g", "k.h",
		"network.peer.address", "server.port", "url.full",
		"http.response.status_code", "user_agent.original",
		"a.key.of.exactly.thirty.seven.bytes.x",
		"a.key.of.exactly.thirty.eight.bytes.xy",
		"a.key.that.is.much.too.long.for.the.encoder.s.key.cache",
	};
	static struct at_span spans[8];
	struct at_span_hdr *recs[8];
	struct at_buf first = { 0 }, again = { 0 };

	for (int batch = 0; batch < 60; batch++) {
		Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
			*req;
		Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;

		for (int k = 0; k < 8; k++) {
			struct at_span *s = &spans[k];
			size_t na = rnd(14);

			make_root(s, (unsigned)(batch * 8 + k), "r");
			for (size_t i = 0; i < na; i++)
				random_attr(s, new_attr(s, NULL), keys,
					    sizeof(keys) / sizeof(keys[0]));
			if (!rnd(4)) {
				struct at_event *e = &s->events[s->h.n_events++];

				e->name = "ev";
				e->time_unix_ns = START_NS + 5;
				e->first_attr = 0;
				e->n_attrs = (uint8_t)rnd(4);
				for (size_t i = 0; i < e->n_attrs; i++)
					random_attr(s, &s->ev_attrs[i], keys,
						    sizeof(keys) / sizeof(keys[0]));
				s->h.n_ev_attrs = e->n_attrs;
			}
			recs[k] = record(s);
		}
		cr_assert_eq(encode(recs, 8, NULL, &first), 0);
		cr_assert_eq(encode(recs, 8, NULL, &again), 0);
		cr_assert_eq(first.len, again.len, "batch %d", batch);
		cr_assert(memcmp(first.data, again.data, first.len) == 0,
			  "batch %d", batch);
		req = decode(&first, 0);
		ss = only_scope(req);
		cr_assert_eq(ss->n_spans, 8);
		for (int k = 0; k < 8; k++) {
			const struct at_span_hdr *h = recs[k];
			const Opentelemetry__Proto__Trace__V1__Span *sp =
				ss->spans[k];

			cr_assert_eq(sp->n_attributes, h->n_attrs);
			for (size_t i = 0; i < h->n_attrs; i++)
				check_attr_as_made(sp->attributes[i],
						   &at_rec_attrs(h)[i],
						   at_rec_arena(h));
			cr_assert_eq(sp->n_events, h->n_events);
			for (size_t j = 0; j < sp->n_events; j++)
				for (size_t i = 0; i < sp->events[j]->n_attributes;
				     i++)
					check_attr_as_made(
						sp->events[j]->attributes[i],
						&at_rec_ev_attrs(h)[i],
						at_rec_arena(h));
		}
		free_req(req);
		check_canonical(&first, 0);
		at_buf_reset(&first);
		at_buf_reset(&again);
		for (int k = 0; k < 8; k++)
			free(recs[k]);
	}
	at_buf_free(&first);
	at_buf_free(&again);
}

Test(otlp, appends_after_existing_bytes)
{
	static struct at_span s;
	struct at_span_hdr *rec;
	struct at_buf out = { 0 }, alone = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;

	make_rich(&s, 9);
	rec = record(&s);
	cr_assert_eq(at_buf_append(&out, "PREFIX", 6), 0);
	cr_assert_eq(encode(&rec, 1, NULL, &out), 0);
	cr_assert(memcmp(out.data, "PREFIX", 6) == 0);
	req = decode(&out, 6);
	cr_assert_str_eq(only_scope(req)->spans[0]->name, "GET /users/{id}");
	free_req(req);
	check_canonical(&out, 6);
	/* Same bytes as encoding into an empty buffer. */
	cr_assert_eq(encode(&rec, 1, NULL, &alone), 0);
	cr_assert_eq(alone.len, out.len - 6);
	cr_assert(memcmp(alone.data, out.data + 6, alone.len) == 0);
	at_buf_free(&out);
	at_buf_free(&alone);
	free(rec);
}

Test(otlp, deterministic_across_calls)
{
	static struct at_span s;
	struct at_resource *res = make_resource();
	struct at_span_hdr *rec;
	struct at_buf a = { 0 }, b = { 0 };
	int i;

	make_rich(&s, 4);
	rec = record(&s);
	cr_assert_eq(encode(&rec, 1, res, &a), 0);
	/* A large batch in between. */
	batch_of(300, 500);
	for (i = 0; i < 3; i++) {
		at_buf_reset(&b);
		cr_assert_eq(encode(&rec, 1, res, &b), 0);
		cr_assert_eq(a.len, b.len);
		cr_assert(memcmp(a.data, b.data, a.len) == 0);
	}
	at_buf_free(&a);
	at_buf_free(&b);
	free(rec);
	free(res);
}

Test(otlp, bad_references_stay_in_bounds)
{
	static struct at_span s;
	struct at_span_hdr *rec;
	struct at_buf out = { 0 };
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
		*req;
	Opentelemetry__Proto__Trace__V1__Span *sp;

	make_rich(&s, 5);
	/* Strings that point past the used arena, an event whose attribute
	 * range is out of the event attributes, an unknown attribute type. */
	s.h.name.off = (uint16_t)(s.h.arena_used - 2);
	s.h.name.len = 50;
	s.attrs[0].v.s.off = 60000;
	s.attrs[1].type = 77;
	s.events[0].first_attr = 5;
	s.events[0].n_attrs = 9;
	rec = record(&s);
	cr_assert_eq(encode(&rec, 1, NULL, &out), 0);
	req = decode(&out, 0);
	sp = only_scope(req)->spans[0];
	cr_assert_str_eq(sp->name, "");
	check_str(sp->attributes, sp->n_attributes, "http.request.method", "");
	cr_assert_eq(attr(sp->attributes, sp->n_attributes,
			  "http.response.status_code")->value_case,
		     CASE(_NOT_SET));
	cr_assert_eq(sp->events[0]->n_attributes, 0);
	free_req(req);
	at_buf_free(&out);
	free(rec);
}

Test(otlp, parse_response)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse
		resp = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess
		ps = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	uint8_t buf[256];
	const uint8_t garbage[] = { 0x0a, 0xff, 0xff, 0xff };
	int64_t rejected = -1;
	char msg[8];
	size_t n;

	/* Empty body: full success. */
	cr_assert_eq(at_otlp_parse_response(NULL, 0, &rejected, msg,
					    sizeof(msg)), 0);
	cr_assert_eq(rejected, 0);
	cr_assert_str_eq(msg, "");

	/* Partial success, message truncated to the buffer. */
	ps.rejected_spans = 5;
	ps.error_message = "too many spans";
	resp.partial_success = &ps;
	n = protobuf_c_message_pack(&resp.base, buf);
	cr_assert_eq(at_otlp_parse_response(buf, n, &rejected, msg,
					    sizeof(msg)), 0);
	cr_assert_eq(rejected, 5);
	cr_assert_str_eq(msg, "too man");

	/* A response without partial_success. */
	resp.partial_success = NULL;
	n = protobuf_c_message_pack(&resp.base, buf);
	cr_assert_eq(n, 0);

	/* Garbage. */
	cr_assert_eq(at_otlp_parse_response(garbage, sizeof(garbage),
					    &rejected, msg, sizeof(msg)), -1);
	cr_assert_eq(rejected, 0);

	/* NULL outputs are allowed. */
	ps.error_message = "x";
	resp.partial_success = &ps;
	n = protobuf_c_message_pack(&resp.base, buf);
	cr_assert_eq(at_otlp_parse_response(buf, n, NULL, NULL, 0), 0);
}

Test(otlp, many_small_spans_throughput)
{
	/* Not a benchmark (no timing assertion): exercises the steady state
	 * with many batches and reports the rate for information. */
	enum { BATCH = 512, ROUNDS = 200 };
	static struct at_span s;
	struct at_resource *res = make_resource();
	struct at_span_hdr *rec, *recs[BATCH];
	struct at_buf out = { 0 };
	struct timespec t0, t1;
	double secs;
	int i;

	make_root(&s, 1, "connect");
	s.h.kind = AT_KIND_CLIENT;
	s.h.has_parent = 1;
	add_str(&s, "server.address", "127.0.0.1");
	add_int(&s, "server.port", 5432);
	add_str(&s, "network.transport", "tcp");
	rec = record(&s);
	for (i = 0; i < BATCH; i++)
		recs[i] = rec;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < ROUNDS; i++) {
		at_buf_reset(&out);
		cr_assert_eq(encode(recs, BATCH, res, &out), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_log_info("otlp encode: %.0f spans/s (%zu bytes per batch)",
		    BATCH * ROUNDS / secs, out.len);
	check_canonical(&out, 0);
	at_buf_free(&out);
	free(rec);
	free(res);
}

/* ---- buf ---- */

Test(buf, append_and_grow)
{
	struct at_buf b = { 0 };
	char chunk[1000];
	int i;

	memset(chunk, 'x', sizeof(chunk));
	for (i = 0; i < 100; i++)
		cr_assert_eq(at_buf_append(&b, chunk, sizeof(chunk)), 0);
	cr_assert_eq(b.len, 100000);
	cr_assert_geq(b.cap, b.len);
	cr_assert_eq(b.data[99999], 'x');
	cr_assert_eq(at_buf_append(&b, NULL, 0), 0);
	at_buf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_geq(b.cap, 100000, "reset keeps the memory");
	at_buf_free(&b);
	cr_assert_null(b.data);
	cr_assert_eq(b.cap, 0);
}

Test(buf, reserve)
{
	struct at_buf b = { 0 };
	uint8_t *p;

	cr_assert_eq(at_buf_reserve(&b, 10), 0);
	cr_assert_geq(b.cap, 10);
	p = b.data;
	cr_assert_eq(at_buf_reserve(&b, 5), 0);
	cr_assert_eq(b.data, p, "enough room: no realloc");
	cr_assert_eq(at_buf_append(&b, "abc", 3), 0);
	cr_assert_eq(at_buf_reserve(&b, SIZE_MAX), -1);
	cr_assert_eq(at_buf_reserve(&b, SIZE_MAX - 1), -1);
	cr_assert_eq(b.len, 3, "failure leaves the buffer alone");
	cr_assert(memcmp(b.data, "abc", 3) == 0);
	at_buf_free(&b);
}

Test(buf, printf)
{
	struct at_buf b = { 0 };
	char big[5000];

	cr_assert_eq(at_buf_printf(&b, "%s %d", "POST", 42), 0);
	cr_assert_eq(b.len, 7);
	cr_assert(memcmp(b.data, "POST 42", 7) == 0);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(at_buf_printf(&b, "[%s]", big), 0);
	cr_assert_eq(b.len, 7 + 2 + sizeof(big) - 1);
	cr_assert_eq(b.data[7], '[');
	cr_assert_eq(b.data[b.len - 1], ']');
	cr_assert_eq(at_buf_printf(&b, "%s", ""), 0);
	cr_assert_eq(b.len, 7 + 2 + sizeof(big) - 1);
	at_buf_free(&b);
}
