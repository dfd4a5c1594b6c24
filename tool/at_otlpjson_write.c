/*
 * at_otlpjson_write.c - a decoded OTLP request as one line of OTLP-JSON
 * (at_otlpjson_write, see at_traces.h): what `autotrace --json` writes.
 *
 * The form is the OpenTelemetry Collector file exporter's, so the file
 * can be read by the Collector's tools and by `autotrace view`: the
 * proto3 JSON mapping with hex ids, int64 as decimal strings, enums as
 * integers, bytes values in base64 and default values (empty strings,
 * zero numbers, empty lists) omitted.  Strings are escaped for JSON,
 * with invalid UTF-8 written as U+FFFD; a double that is NaN or infinite
 * is written as the string proto3 JSON uses.  The request is streamed to
 * the FILE as it is walked: nothing is built in memory.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_traces.h"
#include "at_utf8.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_rspans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_sspans;

#define AV(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

static void jw_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const unsigned char *end = p + strlen((const char *)p);
	size_t n;

	fputc('"', f);
	while (p < end) {
		unsigned char c = *p;

		if (c >= 0x80) {
			n = at_utf8_decode(p, (size_t)(end - p), NULL);
			if (n)
				fwrite(p, 1, n, f);
			else
				fputs("\xef\xbf\xbd", f); /* U+FFFD */
			p += n ? n : 1;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
		p++;
	}
	fputc('"', f);
}

static void jw_hex(FILE *f, const ProtobufCBinaryData *b)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < b->len; i++)
		fprintf(f, "%02x", b->data[i]);
	fputc('"', f);
}

static void jw_b64(FILE *f, const ProtobufCBinaryData *b)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	fputc('"', f);
	for (i = 0; i < b->len; i += 3) {
		unsigned v = (unsigned)b->data[i] << 16;
		size_t left = b->len - i;

		if (left > 1)
			v |= (unsigned)b->data[i + 1] << 8;
		if (left > 2)
			v |= b->data[i + 2];
		fputc(tab[v >> 18 & 63], f);
		fputc(tab[v >> 12 & 63], f);
		fputc(left > 1 ? tab[v >> 6 & 63] : '=', f);
		fputc(left > 2 ? tab[v & 63] : '=', f);
	}
	fputc('"', f);
}

static void jw_attrs(FILE *f, at_otlp_kv *const *kv, size_t n);

static void jw_any(FILE *f, const pb_any *v)
{
	char num[64];
	size_t i;

	fputc('{', f);
	if (!v) {
		fputc('}', f);
		return;
	}
	switch (v->value_case) {
	case AV(STRING_VALUE):
		fputs("\"stringValue\":", f);
		jw_str(f, v->string_value);
		break;
	case AV(BOOL_VALUE):
		fprintf(f, "\"boolValue\":%s", v->bool_value ? "true" : "false");
		break;
	case AV(INT_VALUE):
		fprintf(f, "\"intValue\":\"%" PRId64 "\"", v->int_value);
		break;
	case AV(DOUBLE_VALUE):
		at_tv_fmt_double(v->double_value, num, sizeof(num));
		if (isnan(v->double_value) || isinf(v->double_value))
			fprintf(f, "\"doubleValue\":\"%s\"", num);
		else
			fprintf(f, "\"doubleValue\":%s", num);
		break;
	case AV(ARRAY_VALUE):
		fputs("\"arrayValue\":{", f);
		if (v->array_value && v->array_value->n_values) {
			fputs("\"values\":[", f);
			for (i = 0; i < v->array_value->n_values; i++) {
				if (i)
					fputc(',', f);
				jw_any(f, v->array_value->values[i]);
			}
			fputc(']', f);
		}
		fputc('}', f);
		break;
	case AV(KVLIST_VALUE):
		fputs("\"kvlistValue\":{", f);
		if (v->kvlist_value && v->kvlist_value->n_values) {
			fputs("\"values\":", f);
			jw_attrs(f, v->kvlist_value->values,
				 v->kvlist_value->n_values);
		}
		fputc('}', f);
		break;
	case AV(BYTES_VALUE):
		fputs("\"bytesValue\":", f);
		jw_b64(f, &v->bytes_value);
		break;
	default:
		break;
	}
	fputc('}', f);
}

/* A JSON array of KeyValue. */
static void jw_attrs(FILE *f, at_otlp_kv *const *kv, size_t n)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		fputs("{\"key\":", f);
		jw_str(f, kv[i]->key);
		fputs(",\"value\":", f);
		jw_any(f, kv[i]->value);
		fputc('}', f);
	}
	fputc(']', f);
}

/* Writes ,"name": before every member but the first of an object. */
struct jobj {
	FILE *f;
	int n;
};

static void jo_key(struct jobj *o, const char *key)
{
	fprintf(o->f, "%s\"%s\":", o->n++ ? "," : "", key);
}

static void jo_str(struct jobj *o, const char *key, const char *s)
{
	if (!s || !*s)
		return;
	jo_key(o, key);
	jw_str(o->f, s);
}

static void jo_u32(struct jobj *o, const char *key, uint32_t v)
{
	if (!v)
		return;
	jo_key(o, key);
	fprintf(o->f, "%" PRIu32, v);
}

static void jo_u64(struct jobj *o, const char *key, uint64_t v)
{
	if (!v)
		return;
	jo_key(o, key);
	fprintf(o->f, "\"%" PRIu64 "\"", v);
}

static void jo_hex(struct jobj *o, const char *key,
		   const ProtobufCBinaryData *b)
{
	if (!b->len)
		return;
	jo_key(o, key);
	jw_hex(o->f, b);
}

static void jo_attrs(struct jobj *o, const char *key, at_otlp_kv *const *kv,
		     size_t n)
{
	if (!n)
		return;
	jo_key(o, key);
	jw_attrs(o->f, kv, n);
}

static void jw_span(FILE *f, const at_otlp_span *s)
{
	struct jobj o = { f, 0 };
	size_t i;

	fputc('{', f);
	jo_hex(&o, "traceId", &s->trace_id);
	jo_hex(&o, "spanId", &s->span_id);
	jo_str(&o, "traceState", s->trace_state);
	jo_hex(&o, "parentSpanId", &s->parent_span_id);
	jo_u32(&o, "flags", s->flags);
	jo_str(&o, "name", s->name);
	jo_u32(&o, "kind", (uint32_t)s->kind);
	jo_u64(&o, "startTimeUnixNano", s->start_time_unix_nano);
	jo_u64(&o, "endTimeUnixNano", s->end_time_unix_nano);
	jo_attrs(&o, "attributes", s->attributes, s->n_attributes);
	jo_u32(&o, "droppedAttributesCount", s->dropped_attributes_count);
	if (s->n_events) {
		jo_key(&o, "events");
		fputc('[', f);
		for (i = 0; i < s->n_events; i++) {
			const pb_event *e = s->events[i];
			struct jobj eo = { f, 0 };

			fputs(i ? ",{" : "{", f);
			jo_u64(&eo, "timeUnixNano", e->time_unix_nano);
			jo_str(&eo, "name", e->name);
			jo_attrs(&eo, "attributes", e->attributes,
				 e->n_attributes);
			jo_u32(&eo, "droppedAttributesCount",
			       e->dropped_attributes_count);
			fputc('}', f);
		}
		fputc(']', f);
	}
	jo_u32(&o, "droppedEventsCount", s->dropped_events_count);
	if (s->n_links) {
		jo_key(&o, "links");
		fputc('[', f);
		for (i = 0; i < s->n_links; i++) {
			const pb_link *l = s->links[i];
			struct jobj lo = { f, 0 };

			fputs(i ? ",{" : "{", f);
			jo_hex(&lo, "traceId", &l->trace_id);
			jo_hex(&lo, "spanId", &l->span_id);
			jo_str(&lo, "traceState", l->trace_state);
			jo_attrs(&lo, "attributes", l->attributes,
				 l->n_attributes);
			jo_u32(&lo, "droppedAttributesCount",
			       l->dropped_attributes_count);
			jo_u32(&lo, "flags", l->flags);
			fputc('}', f);
		}
		fputc(']', f);
	}
	jo_u32(&o, "droppedLinksCount", s->dropped_links_count);
	if (s->status && (s->status->code || (s->status->message &&
					      *s->status->message))) {
		struct jobj so = { f, 0 };

		jo_key(&o, "status");
		fputc('{', f);
		jo_u32(&so, "code", (uint32_t)s->status->code);
		jo_str(&so, "message", s->status->message);
		fputc('}', f);
	}
	fputc('}', f);
}

int at_otlpjson_write(FILE *f, const at_otlp_request *req)
{
	size_t i, j, k;

	if (!f || !req)
		return -1;
	/* proto3 JSON: empty repeated fields are omitted */
	fputs(req->n_resource_spans ? "{\"resourceSpans\":[" : "{", f);
	for (i = 0; i < req->n_resource_spans; i++) {
		const pb_rspans *rs = req->resource_spans[i];
		struct jobj ro = { f, 0 };

		fputs(i ? ",{" : "{", f);
		if (rs->resource) {
			struct jobj reso = { f, 0 };

			jo_key(&ro, "resource");
			fputc('{', f);
			jo_attrs(&reso, "attributes", rs->resource->attributes,
				 rs->resource->n_attributes);
			jo_u32(&reso, "droppedAttributesCount",
			       rs->resource->dropped_attributes_count);
			fputc('}', f);
		}
		if (rs->n_scope_spans) {
			jo_key(&ro, "scopeSpans");
			fputc('[', f);
		}
		for (j = 0; j < rs->n_scope_spans; j++) {
			const pb_sspans *ss = rs->scope_spans[j];
			struct jobj so = { f, 0 };

			fputs(j ? ",{" : "{", f);
			if (ss->scope) {
				struct jobj sco = { f, 0 };

				jo_key(&so, "scope");
				fputc('{', f);
				jo_str(&sco, "name", ss->scope->name);
				jo_str(&sco, "version", ss->scope->version);
				jo_attrs(&sco, "attributes",
					 ss->scope->attributes,
					 ss->scope->n_attributes);
				jo_u32(&sco, "droppedAttributesCount",
				       ss->scope->dropped_attributes_count);
				fputc('}', f);
			}
			if (ss->n_spans) {
				jo_key(&so, "spans");
				fputc('[', f);
			}
			for (k = 0; k < ss->n_spans; k++) {
				if (k)
					fputc(',', f);
				jw_span(f, ss->spans[k]);
			}
			if (ss->n_spans)
				fputc(']', f);
			jo_str(&so, "schemaUrl", ss->schema_url);
			fputc('}', f);
		}
		if (rs->n_scope_spans)
			fputc(']', f);
		jo_str(&ro, "schemaUrl", rs->schema_url);
		fputc('}', f);
	}
	fputs(req->n_resource_spans ? "]}\n" : "}\n", f);
	if (fflush(f) != 0 || ferror(f))
		return -1;
	return 0;
}
