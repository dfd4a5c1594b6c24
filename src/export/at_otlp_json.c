/*
 * at_otlp_json.c - encode span records as an OTLP/JSON
 * ExportTraceServiceRequest (OTEL_EXPORTER_OTLP_PROTOCOL=http/json).
 *
 * What: the request at_otlp.c encodes in protobuf, written as the OTLP
 * specification says OTLP/JSON is written: the proto3 JSON mapping of
 * the same messages, with OTLP's exceptions and choices -
 *   - field names in lowerCamelCase ("resourceSpans", "startTimeUnixNano");
 *   - traceId, spanId and parentSpanId as lowercase hex strings (32 and 16
 *     characters), not base64;
 *   - enums (kind, status.code) as integers;
 *   - 64-bit integers (the times, intValue) as decimal strings; 32-bit
 *     ones (flags, dropped counts) as numbers;
 *   - a double as a number, or "NaN" / "Infinity" / "-Infinity";
 *   - fields at their default value left out (no parentSpanId for a root,
 *     no zero dropped counts, no empty traceState), as the mapping allows.
 * Strings are escaped for JSON ('"', '\\', control characters); bytes
 * that are not valid UTF-8 (the records should hold none) become U+FFFD,
 * so the output is always valid JSON and valid UTF-8.
 *
 * How: one forward pass over the records, appending to the output buffer
 * (at_buf, which grows and is kept by the exporter between batches); no
 * message tree, no scratch memory.  A failed append sets a flag that the
 * end checks, so the writers need no error path of their own.
 *
 * Records are trusted to come from at_span_serialize(), but string
 * references are checked against the record's arena_used and event
 * attribute ranges against n_ev_attrs, as at_otlp.c does: a bad reference
 * becomes an empty string / no attributes.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_compat.h"
#include "at_otlp.h"
#include "at_otlp_json.h"
#include "at_traceparent.h"
#include "at_utf8.h"

/* SpanFlags bits besides the W3C trace flags (as in at_otlp.c). */
#define FLAG_CONTEXT_HAS_IS_REMOTE 0x100
#define FLAG_CONTEXT_IS_REMOTE 0x200

struct jw {
	struct at_buf *b;
	bool failed;
};

static void put(struct jw *w, const char *s, size_t n)
{
	if (!w->failed && at_buf_append(w->b, s, n) != 0)
		w->failed = true;
}

static void puts_(struct jw *w, const char *s)
{
	put(w, s, strlen(s));
}

/* A JSON string of s[0..n). */
static void put_str(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;

	put(w, "\"", 1);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		size_t len;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f) {
			i++;
			run++;
			continue;
		}
		put(w, s + i - run, run);
		run = 0;
		if (c >= 0x80) {
			len = at_utf8_decode(s + i, n - i, NULL);
			if (len)
				put(w, s + i, len);
			else
				put(w, "\xef\xbf\xbd", 3); /* U+FFFD */
			i += len ? len : 1;
			continue;
		}
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			put(w, esc, 2);
		} else {
			put(w, esc, 6);
		}
		i++;
	}
	put(w, s + i - run, run);
	put(w, "\"", 1);
}

static void put_cstr(struct jw *w, const char *s)
{
	put_str(w, s ? s : "", s ? strlen(s) : 0);
}

/* A record string (empty if out of the arena). */
static void put_rec_str(struct jw *w, const char *arena, size_t arena_used,
			struct at_str s)
{
	if ((size_t)s.off + s.len > arena_used)
		s.len = 0;
	put_str(w, arena + s.off, s.len);
}

/* "name":"<hex>" */
static void put_hex(struct jw *w, const char *name, const uint8_t *id,
		    size_t n)
{
	char hex[32];

	puts_(w, name);
	put(w, "\"", 1);
	at_hex_encode(id, n, hex);
	put(w, hex, 2 * n);
	put(w, "\"", 1);
}

/* "name":"<decimal>" (int64 / fixed64 in proto3 JSON) */
static void put_u64_str(struct jw *w, const char *name, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "\"%" PRIu64 "\"", v);

	puts_(w, name);
	put(w, num, (size_t)n);
}

/* "name":"<signed decimal>" (intValue) */
static void put_i64_str(struct jw *w, const char *name, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "\"%" PRId64 "\"", v);

	puts_(w, name);
	put(w, num, (size_t)n);
}

static void put_num(struct jw *w, const char *name, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	puts_(w, name);
	put(w, num, (size_t)n);
}

static void put_double(struct jw *w, double d)
{
	char num[32];
	int n;

	if (isnan(d)) {
		puts_(w, "\"NaN\"");
		return;
	}
	if (isinf(d)) {
		puts_(w, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	n = snprintf(num, sizeof(num), "%.17g", d);
	put(w, num, (size_t)n);
}

/* One KeyValue from a record attribute. */
static void put_attr(struct jw *w, const struct at_attr *a,
		     const char *arena, size_t arena_used)
{
	puts_(w, "{\"key\":");
	put_cstr(w, a->key);
	puts_(w, ",\"value\":{");
	switch (a->type) {
	case AT_ATTR_STRING:
		puts_(w, "\"stringValue\":");
		put_rec_str(w, arena, arena_used, a->v.s);
		break;
	case AT_ATTR_INT:
		put_i64_str(w, "\"intValue\":", a->v.i);
		break;
	case AT_ATTR_DOUBLE:
		puts_(w, "\"doubleValue\":");
		put_double(w, a->v.d);
		break;
	case AT_ATTR_BOOL:
		puts_(w, a->v.b ? "\"boolValue\":true" : "\"boolValue\":false");
		break;
	default:
		break; /* unknown type: an empty AnyValue, as in protobuf */
	}
	puts_(w, "}}");
}

static void put_attrs(struct jw *w, const struct at_attr *a, size_t n,
		      const char *arena, size_t arena_used)
{
	if (n == 0)
		return;
	puts_(w, ",\"attributes\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(w, ",", 1);
		put_attr(w, a + i, arena, arena_used);
	}
	put(w, "]", 1);
}

static void put_events(struct jw *w, const struct at_span_hdr *h,
		       const char *arena)
{
	const struct at_event *e = at_rec_events(h);
	const struct at_attr *ev_attrs = at_rec_ev_attrs(h);

	if (h->n_events == 0)
		return;
	puts_(w, ",\"events\":[");
	for (size_t i = 0; i < h->n_events; i++, e++) {
		size_t first = e->first_attr, na = e->n_attrs;

		if (first > h->n_ev_attrs || na > h->n_ev_attrs - first)
			na = 0;
		if (i)
			put(w, ",", 1);
		put_u64_str(w, "{\"timeUnixNano\":", e->time_unix_ns);
		puts_(w, ",\"name\":");
		put_cstr(w, e->name);
		put_attrs(w, ev_attrs + first, na, arena, h->arena_used);
		if (e->dropped_attrs)
			put_num(w, ",\"droppedAttributesCount\":",
				e->dropped_attrs);
		put(w, "}", 1);
	}
	put(w, "]", 1);
}

static void put_span(struct jw *w, const struct at_span_hdr *h)
{
	const char *arena = at_rec_arena(h);
	uint32_t flags = ((uint32_t)h->ctx.flags & 0xff) |
			 FLAG_CONTEXT_HAS_IS_REMOTE;

	if (h->parent_is_remote)
		flags |= FLAG_CONTEXT_IS_REMOTE;
	put_hex(w, "{\"traceId\":", h->ctx.trace_id, sizeof(h->ctx.trace_id));
	put_hex(w, ",\"spanId\":", h->ctx.span_id, sizeof(h->ctx.span_id));
	if (h->tracestate.len) {
		puts_(w, ",\"traceState\":");
		put_rec_str(w, arena, h->arena_used, h->tracestate);
	}
	if (h->has_parent)
		put_hex(w, ",\"parentSpanId\":", h->parent_span_id,
			sizeof(h->parent_span_id));
	put_num(w, ",\"flags\":", flags);
	if (h->name.len && (size_t)h->name.off + h->name.len <= h->arena_used) {
		puts_(w, ",\"name\":");
		put_rec_str(w, arena, h->arena_used, h->name);
	}
	if (h->kind >= AT_KIND_INTERNAL && h->kind <= AT_KIND_CONSUMER)
		put_num(w, ",\"kind\":", h->kind);
	if (h->start_unix_ns)
		put_u64_str(w, ",\"startTimeUnixNano\":", h->start_unix_ns);
	if (h->end_unix_ns)
		put_u64_str(w, ",\"endTimeUnixNano\":", h->end_unix_ns);
	put_attrs(w, at_rec_attrs(h), h->n_attrs, arena, h->arena_used);
	if (h->dropped_attrs)
		put_num(w, ",\"droppedAttributesCount\":", h->dropped_attrs);
	put_events(w, h, arena);
	if (h->dropped_events)
		put_num(w, ",\"droppedEventsCount\":", h->dropped_events);
	puts_(w, ",\"status\":{");
	if (h->status_message.len) {
		puts_(w, "\"message\":");
		put_rec_str(w, arena, h->arena_used, h->status_message);
	}
	if (h->status_code > AT_STATUS_UNSET && h->status_code <= AT_STATUS_ERROR)
		put_num(w, h->status_message.len ? ",\"code\":" : "\"code\":",
			h->status_code);
	puts_(w, "}}");
}

static void put_resource(struct jw *w, const struct at_resource *res)
{
	size_t n = res ? res->n : 0;

	if (n > AT_RESOURCE_MAX_ATTRS)
		n = AT_RESOURCE_MAX_ATTRS;
	puts_(w, "\"resource\":{");
	if (n)
		puts_(w, "\"attributes\":[");
	for (size_t i = 0; i < n; i++) {
		const struct at_kv *a = &res->attrs[i];

		if (i)
			put(w, ",", 1);
		puts_(w, "{\"key\":");
		put_cstr(w, a->key);
		puts_(w, ",\"value\":{");
		switch (a->type) {
		case AT_KV_STRING:
			puts_(w, "\"stringValue\":");
			put_cstr(w, a->s);
			break;
		case AT_KV_INT:
			put_i64_str(w, "\"intValue\":", a->i);
			break;
		case AT_KV_BOOL:
			puts_(w, a->i ? "\"boolValue\":true" :
					"\"boolValue\":false");
			break;
		}
		puts_(w, "}}");
	}
	if (n)
		put(w, "]", 1);
	put(w, "}", 1);
}

int at_otlp_json_encode(const struct at_span_hdr *const *recs, size_t n,
			const struct at_resource *res, struct at_buf *out)
{
	struct jw w = { out, false };

	puts_(&w, "{\"resourceSpans\":[{");
	put_resource(&w, res);
	puts_(&w, ",\"scopeSpans\":[{\"scope\":{\"name\":\"" AT_SCOPE_NAME
		  "\",\"version\":\"" AT_VERSION "\"},\"spans\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(&w, ",", 1);
		put_span(&w, recs[i]);
	}
	puts_(&w, "]}]}]}");
	if (w.failed) {
		at_buf_reset(out);
		return -1;
	}
	return 0;
}
