/*
 * test_otlp_json.c - the OTLP/JSON encoder (at_otlp_json.c).
 *
 * The same records are encoded with at_otlp_encode() (protobuf) and
 * at_otlp_json_encode(); the protobuf is decoded with protobuf-c and the
 * JSON parsed with the tool's reader (at_json.c), and the two trees are
 * compared field by field, generically, through the protobuf-c
 * descriptors: every field set in the protobuf must be in the JSON under
 * its lowerCamelCase name, written as OTLP/JSON says (bytes - the ids - as
 * lowercase hex, 64-bit integers as decimal strings, 32-bit ones and enums
 * as numbers), every field at its default must be absent, and the JSON
 * must hold nothing else.  The tool's OTLP-JSON reader (what `autotrace
 * view` uses) must accept the output too.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_buf.h"
#include "at_compat.h"
#include "at_json.h"
#include "at_otlp.h"
#include "at_otlp_json.h"
#include "at_traces.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
	pb_request;

/* ---- records ---- */

static struct at_str arena_put(struct at_span *s, const char *str, size_t n)
{
	struct at_str r = { s->h.arena_used, (uint16_t)n };

	cr_assert(s->h.arena_used + n <= AT_SPAN_ARENA);
	memcpy(s->arena + s->h.arena_used, str, n);
	s->h.arena_used += (uint16_t)n;
	return r;
}

static struct at_attr *attr(struct at_span *s, const char *key, int type)
{
	struct at_attr *a = &s->attrs[s->h.n_attrs++];

	a->key = key;
	a->type = (uint8_t)type;
	return a;
}

/* Every kind of field, with values that need escaping. */
static void rich_span(struct at_span *s)
{
	static const char odd[] = "q\"b\\s/\n\t\x01\x1f\x7f \xc3\xa9 \xe2\x9c\x93";

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 16; i++)
		s->h.ctx.trace_id[i] = (uint8_t)(0xf0 + i);
	for (int i = 0; i < 8; i++) {
		s->h.ctx.span_id[i] = (uint8_t)(0x0a + i);
		s->h.parent_span_id[i] = (uint8_t)(0xa0 + i);
	}
	s->h.ctx.flags = AT_FLAG_SAMPLED | AT_FLAG_RANDOM;
	s->h.has_parent = 1;
	s->h.parent_is_remote = 1;
	s->h.kind = AT_KIND_CLIENT;
	s->h.name = arena_put(s, "GET /a", 6);
	s->h.tracestate = arena_put(s, "foo=1,bar=2", 11);
	s->h.start_unix_ns = 1700000000123456789ULL;
	s->h.end_unix_ns = UINT64_MAX - 1;
	attr(s, "s", AT_ATTR_STRING)->v.s = arena_put(s, odd, sizeof(odd) - 1);
	attr(s, "empty", AT_ATTR_STRING)->v.s = arena_put(s, "", 0);
	attr(s, "i", AT_ATTR_INT)->v.i = INT64_MIN;
	attr(s, "big", AT_ATTR_INT)->v.i = INT64_MAX;
	attr(s, "d", AT_ATTR_DOUBLE)->v.d = -0.1;
	attr(s, "t", AT_ATTR_BOOL)->v.b = 1;
	attr(s, "f", AT_ATTR_BOOL)->v.b = 0;
	s->h.dropped_attrs = 3;
	s->events[0] = (struct at_event){ "exception", 1700000000223456789ULL,
					  0, 1, 2 };
	s->ev_attrs[0].key = "exception.type";
	s->ev_attrs[0].type = AT_ATTR_STRING;
	s->ev_attrs[0].v.s = arena_put(s, "E", 1);
	s->events[1] = (struct at_event){ "bare", 5, 1, 0, 0 };
	s->h.n_events = 2;
	s->h.n_ev_attrs = 1;
	s->h.dropped_events = 7;
	s->h.status_code = AT_STATUS_ERROR;
	s->h.status_message = arena_put(s, "bad", 3);
}

/* The least: a root, no attributes, status unset. */
static void bare_span(struct at_span *s)
{
	memset(s, 0, sizeof(*s));
	s->h.ctx.trace_id[15] = 1;
	s->h.ctx.span_id[7] = 2;
	s->h.kind = AT_KIND_SERVER;
	s->h.name = arena_put(s, "", 0);
}

static struct at_span_hdr *record(const struct at_span *s)
{
	size_t n = at_span_record_size(s);
	struct at_span_hdr *r = aligned_alloc(8, (n + 7) & ~(size_t)7);

	cr_assert_not_null(r);
	at_span_serialize(s, r);
	return r;
}

/* ---- comparing a protobuf-c message with its JSON ---- */

static void camel(const char *snake, char *out, size_t cap)
{
	size_t w = 0;

	for (int up = 0; *snake && w + 1 < cap; snake++) {
		if (*snake == '_') {
			up = 1;
			continue;
		}
		out[w++] = up && *snake >= 'a' && *snake <= 'z' ?
				   (char)(*snake - 32) : *snake;
		up = 0;
	}
	out[w] = '\0';
}

static void compare_msg(const ProtobufCMessage *m, const struct at_json *j,
			const char *path);

/* One value of field f at p, and its JSON v. */
static void compare_value(const ProtobufCFieldDescriptor *f, const void *p,
			  const struct at_json *v, const char *path)
{
	char want[80];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		cr_assert_eq(v->type, AT_JSON_STR, "%s", path);
		cr_expect_str_eq(v->s, *(char *const *)p, "%s", path);
		return;
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;

		cr_assert_eq(v->type, AT_JSON_STR, "%s: a hex string", path);
		cr_assert_eq(v->len, 2 * b->len, "%s: %zu hex digits", path,
			     v->len);
		for (size_t i = 0; i < b->len; i++)
			snprintf(want + 2 * i, 3, "%02x", b->data[i]);
		cr_expect_str_eq(v->s, want, "%s", path);
		return;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(want, sizeof(want), "%" PRId64, *(const int64_t *)p);
		cr_assert_eq(v->type, AT_JSON_STR, "%s: int64 as a string",
			     path);
		cr_expect_str_eq(v->s, want, "%s", path);
		return;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(want, sizeof(want), "%" PRIu64, *(const uint64_t *)p);
		cr_assert_eq(v->type, AT_JSON_STR, "%s: uint64 as a string",
			     path);
		cr_expect_str_eq(v->s, want, "%s", path);
		return;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(want, sizeof(want), "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		snprintf(want, sizeof(want), "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		cr_assert_eq(v->type, AT_JSON_BOOL, "%s", path);
		cr_expect_eq(v->b, *(const protobuf_c_boolean *)p, "%s", path);
		return;
	case PROTOBUF_C_TYPE_DOUBLE:
		cr_assert_eq(v->type, AT_JSON_NUM, "%s", path);
		cr_expect_eq(strtod(v->s, NULL), *(const double *)p, "%s",
			     path);
		return;
	case PROTOBUF_C_TYPE_MESSAGE:
		compare_msg(*(ProtobufCMessage *const *)p, v, path);
		return;
	default:
		cr_assert_fail("%s: unexpected type %d", path, f->type);
	}
	cr_assert_eq(v->type, AT_JSON_NUM, "%s: a number", path);
	cr_expect_str_eq(v->s, want, "%s", path);
}

/* Is the singular field at p at its default (absent in JSON)? */
static int is_default(const ProtobufCMessage *m,
		      const ProtobufCFieldDescriptor *f, const void *p)
{
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)((const char *)m +
					   f->quantifier_offset) != f->id;
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
		return **(char *const *)p == '\0';
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(void *const *)p == NULL;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const uint64_t *)p == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)p == 0;
	default:
		return *(const uint32_t *)p == 0;
	}
}

static void compare_msg(const ProtobufCMessage *m, const struct at_json *j,
			const char *path)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	char name[64], sub[512];

	cr_assert_eq(j->type, AT_JSON_OBJ, "%s: an object", path);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *p = (const char *)m + f->offset;
		const struct at_json *v;

		camel(f->name, name, sizeof(name));
		v = at_json_get(j, name);
		snprintf(sub, sizeof(sub), "%s.%s", path, name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m +
						     f->quantifier_offset);
			size_t sz = f->type == PROTOBUF_C_TYPE_MESSAGE ?
					    sizeof(void *) : 8;

			if (n == 0) {
				cr_expect(v == NULL, "%s: left out", sub);
				continue;
			}
			cr_assert(v && v->type == AT_JSON_ARR && v->n == n,
				  "%s: %zu items", sub, n);
			for (size_t k = 0; k < n; k++) {
				snprintf(sub, sizeof(sub), "%s.%s[%zu]", path,
					 name, k);
				compare_value(f, *(char *const *)p + k * sz,
					      &v->items[k], sub);
			}
			continue;
		}
		if (is_default(m, f, p)) {
			cr_expect(v == NULL, "%s: default, left out", sub);
			continue;
		}
		cr_assert_not_null(v, "%s: missing", sub);
		compare_value(f, p, v, sub);
	}
	/* nothing else */
	for (size_t k = 0; k < j->n; k++) {
		int known = 0;

		for (unsigned i = 0; i < d->n_fields && !known; i++) {
			camel(d->fields[i].name, name, sizeof(name));
			known = !strcmp(name, j->keys[k]);
		}
		cr_expect(known, "%s: unknown member \"%s\"", path, j->keys[k]);
	}
}

/* ---- tests ---- */

Test(otlp_json, same_request_as_protobuf)
{
	static struct at_span rich, bare;
	struct at_resource *res = calloc(1, sizeof(*res));
	const struct at_span_hdr *recs[2];
	struct at_buf pb = { 0 }, js = { 0 };
	struct at_json tree;
	pb_request *req;

	cr_assert_not_null(res);
	res->attrs[0] = (struct at_kv){ "service.name", AT_KV_STRING, "svc",
					0 };
	res->attrs[1] = (struct at_kv){ "process.pid", AT_KV_INT, NULL, -7 };
	res->attrs[2] = (struct at_kv){ "on", AT_KV_BOOL, NULL, 1 };
	res->n = 3;
	rich_span(&rich);
	bare_span(&bare);
	recs[0] = record(&rich);
	recs[1] = record(&bare);

	cr_assert_eq(at_otlp_encode(recs, 2, res, &pb), 0);
	cr_assert_eq(at_otlp_json_encode(recs, 2, res, &js), 0);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, pb.len, pb.data);
	cr_assert_not_null(req);
	cr_assert_eq(at_json_parse((const char *)js.data, js.len, &tree), 0,
		     "not JSON: %.*s", (int)js.len, (const char *)js.data);
	compare_msg(&req->base, &tree, "request");

	/* A few encodings spelled out. */
	{
		const struct at_json *sp = &at_json_get(
			&at_json_get(&at_json_get(&tree, "resourceSpans")
					      ->items[0],
				     "scopeSpans")->items[0],
			"spans")->items[0];

		cr_expect_str_eq(at_json_get(sp, "traceId")->s,
				 "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
		cr_expect_str_eq(at_json_get(sp, "parentSpanId")->s,
				 "a0a1a2a3a4a5a6a7");
		cr_expect_eq(at_json_get(sp, "kind")->type, AT_JSON_NUM);
		cr_expect_str_eq(at_json_get(sp, "kind")->s, "3");
		cr_expect_str_eq(at_json_get(sp, "endTimeUnixNano")->s,
				 "18446744073709551614");
		cr_expect_str_eq(at_json_get(sp, "traceState")->s,
				 "foo=1,bar=2");
		cr_expect_str_eq(at_json_get(sp, "flags")->s, "771");
	}

	/* What `autotrace view` reads. */
	{
		struct at_traces *t = at_traces_new();

		cr_expect_eq(at_traces_add_json(t, (const char *)js.data,
						js.len),
			     0);
		cr_expect_eq(t->n_all, 2);
		at_traces_free(t);
	}

	at_json_free(&tree);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	at_buf_free(&pb);
	at_buf_free(&js);
	free((void *)recs[0]);
	free((void *)recs[1]);
	free(res);
}

/* Bytes that are not UTF-8 (the records should hold none) become U+FFFD:
 * the output stays JSON. */
Test(otlp_json, invalid_utf8_replaced)
{
	static struct at_span s;
	static const char want[] = "\"stringValue\":\"a\xef\xbf\xbd\\u007fb"
				   "\xef\xbf\xbd\xef\xbf\xbd\"";
	const struct at_span_hdr *rec;
	struct at_buf js = { 0 };
	struct at_json tree;

	bare_span(&s);
	attr(&s, "bad", AT_ATTR_STRING)->v.s = arena_put(&s, "a\xff\x7f" "b\xc3\xe2\x82",
							  6);
	rec = record(&s);
	cr_assert_eq(at_otlp_json_encode(&rec, 1, NULL, &js), 0);
	cr_assert_eq(at_json_parse((const char *)js.data, js.len, &tree), 0);
	cr_expect(memmem(js.data, js.len, want, sizeof(want) - 1) != NULL,
		  "%.*s", (int)js.len, (const char *)js.data);
	at_json_free(&tree);
	at_buf_free(&js);
	free((void *)rec);
}

Test(otlp_json, appends_and_empty_batch)
{
	struct at_buf js = { 0 };
	struct at_json tree;

	at_buf_append(&js, "x", 1);
	cr_assert_eq(at_otlp_json_encode(NULL, 0, NULL, &js), 0);
	cr_assert_gt(js.len, 1);
	cr_expect_eq(js.data[0], 'x');
	cr_assert_eq(at_json_parse((const char *)js.data + 1, js.len - 1,
				   &tree),
		     0);
	{
		static const char want[] =
			"{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":"
			"[{\"scope\":{\"name\":\"libautotrace\",\"version\":\""
			AT_VERSION "\"},\"spans\":[]}]}]}";

		cr_expect_eq(js.len - 1, sizeof(want) - 1);
		cr_expect_eq(memcmp(js.data + 1, want, sizeof(want) - 1), 0,
			     "%.*s", (int)js.len, (const char *)js.data);
	}
	at_json_free(&tree);
	at_buf_free(&js);
}
