/*
 * at_otlp.c - encode span records as an OTLP ExportTraceServiceRequest
 * (protobuf) and read the ExportTraceServiceResponse.
 *
 * What: at_otlp_encode() turns a batch of ring records (struct at_span_hdr
 * followed by attributes, events, event attributes and the string arena,
 * see at_span.h) into one request with one ResourceSpans (our resource)
 * holding one ScopeSpans (scope AT_SCOPE_NAME / AT_VERSION) with one Span
 * per record.  The protobuf wire format is written here directly from the
 * records, field by field (field numbers and types from src/proto/, the
 * OpenTelemetry protocol's own .proto files).
 *
 * Why by hand: building a protobuf-c message tree per span (a
 * NUL-terminated copy of every string, a KeyValue and an AnyValue per
 * attribute) and packing it cost about 9,500 instructions per span, 86 %
 * of the exporter's work (sizing walks every message once per enclosing
 * message).  Written directly, a span costs a sizing pass and a writing
 * pass over the record, with no allocation and no copy but the bytes
 * themselves.
 *
 * The same bytes as protobuf-c.  The output is protobuf-c's canonical
 * encoding of the same message (test_otlp.c decodes it and re-packs it
 * with protobuf-c, expecting the very same bytes), which fixes these
 * rules: fields in field-number order (Span.flags, 16, last); a proto3
 * scalar, string or bytes field left out when zero or empty; a string cut
 * at its first NUL byte (protobuf-c's strings are C strings); a message
 * field present when set, even empty (KeyValue.value, Span.status,
 * ResourceSpans.resource); an AnyValue's oneof member written even when
 * zero or empty; lengths as shortest varints.
 *
 * Shape: each Span is sized first (every attribute's KeyValue and AnyValue
 * lengths, kept in a plan) and then written with its exact length prefix.
 * The lengths of the two enclosing fields (ResourceSpans, ScopeSpans) are
 * only known once all spans are written: their varints are given the
 * width that the previous batch's bytes per span predict, and only when
 * that guess is wrong is what follows them moved (close_request()), once
 * per batch; a request is at most 2^35 bytes (5-byte lengths).
 *
 * Contract: see at_otlp.h.  Not thread-safe (the plan is static: it
 * belongs to the exporter thread).  Records are trusted to come from
 * at_span_serialize(), but string references are still checked against
 * the record's arena_used and event attribute ranges against n_ev_attrs:
 * a bad reference becomes an empty string / no attributes, never an
 * out-of-bounds read.  at_otlp_parse_response() (rare: a collector's
 * answer) still decodes with protobuf-c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "at_compat.h"
#include "at_otlp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

/* Wire types. */
#define WT_VARINT 0
#define WT_I64 1
#define WT_LEN 2
#define WT_I32 5
#define TAG(field, wt) ((uint8_t)((field) << 3 | (wt)))

/* The enclosing messages (length-delimited). */
#define TAG_REQ_RESOURCE_SPANS TAG(1, WT_LEN) /* ExportTraceServiceRequest */
#define TAG_RS_RESOURCE TAG(1, WT_LEN)        /* ResourceSpans.resource */
#define TAG_RS_SCOPE_SPANS TAG(2, WT_LEN)     /* ResourceSpans.scope_spans */
#define TAG_SS_SCOPE TAG(1, WT_LEN)           /* ScopeSpans.scope */
#define TAG_SS_SPANS TAG(2, WT_LEN)           /* ScopeSpans.spans */
#define TAG_RES_ATTRIBUTES TAG(1, WT_LEN)     /* Resource.attributes */
#define TAG_SCOPE_NAME TAG(1, WT_LEN)         /* InstrumentationScope */
#define TAG_SCOPE_VERSION TAG(2, WT_LEN)

/* Span. */
#define TAG_SPAN_TRACE_ID TAG(1, WT_LEN)
#define TAG_SPAN_SPAN_ID TAG(2, WT_LEN)
#define TAG_SPAN_TRACE_STATE TAG(3, WT_LEN)
#define TAG_SPAN_PARENT_ID TAG(4, WT_LEN)
#define TAG_SPAN_NAME TAG(5, WT_LEN)
#define TAG_SPAN_KIND TAG(6, WT_VARINT)
#define TAG_SPAN_START TAG(7, WT_I64)
#define TAG_SPAN_END TAG(8, WT_I64)
#define TAG_SPAN_ATTRIBUTES TAG(9, WT_LEN)
#define TAG_SPAN_DROPPED_ATTRS TAG(10, WT_VARINT)
#define TAG_SPAN_EVENTS TAG(11, WT_LEN)
#define TAG_SPAN_DROPPED_EVENTS TAG(12, WT_VARINT)
#define TAG_SPAN_STATUS TAG(15, WT_LEN)
/* Span.flags, field 16, fixed32: a two-byte tag (16 << 3 | 5 = 0x85). */
#define TAG_SPAN_FLAGS_0 0x85
#define TAG_SPAN_FLAGS_1 0x01

/* Span.Event, Status, KeyValue, AnyValue. */
#define TAG_EV_TIME TAG(1, WT_I64)
#define TAG_EV_NAME TAG(2, WT_LEN)
#define TAG_EV_ATTRIBUTES TAG(3, WT_LEN)
#define TAG_EV_DROPPED_ATTRS TAG(4, WT_VARINT)
#define TAG_STATUS_MESSAGE TAG(2, WT_LEN)
#define TAG_STATUS_CODE TAG(3, WT_VARINT)
#define TAG_KV_KEY TAG(1, WT_LEN)
#define TAG_KV_VALUE TAG(2, WT_LEN)
#define TAG_AV_STRING TAG(1, WT_LEN)
#define TAG_AV_BOOL TAG(2, WT_VARINT)
#define TAG_AV_INT TAG(3, WT_VARINT)
#define TAG_AV_DOUBLE TAG(4, WT_I64)

#define LEN_RESERVED 5   /* the widest varint of an outer length */
#define VARINT_MAX 10

/* SpanFlags bits besides the W3C trace flags. */
#define FLAG_CONTEXT_HAS_IS_REMOTE 0x100
#define FLAG_CONTEXT_IS_REMOTE 0x200

/* ---- the wire format ---- */

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *put_fixed64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *put_fixed32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		*p++ = (uint8_t)v;
	return p;
}

/* A length-delimited field's tag and length (its body follows). */
static inline uint8_t *put_len(uint8_t *p, uint8_t tag, size_t len)
{
	*p++ = tag;
	return put_varint(p, len);
}

static inline uint8_t *put_bytes(uint8_t *p, uint8_t tag, const void *s,
				 size_t len)
{
	p = put_len(p, tag, len);
	memcpy(p, s, len);
	return p + len;
}

/* The size of a length-delimited field of a one-byte tag. */
static inline size_t field_len(size_t len)
{
	return 1 + varint_len(len) + len;
}

/* A field that proto3 leaves out when empty (or zero). */
static inline size_t opt_field_len(size_t len)
{
	return len ? field_len(len) : 0;
}

static inline size_t opt_varint_len(uint64_t v)
{
	return v ? 1 + varint_len(v) : 0;
}

/* ---- strings ---- */

/* The length of a C string, 0 for NULL. */
static inline size_t cstr_len(const char *s)
{
	return s ? strlen(s) : 0;
}

/* A record string: where, and its length as protobuf-c would send it (up
 * to a NUL byte); empty if it is out of the used arena. */
static inline size_t rec_str(const char *arena, size_t arena_used,
			     struct at_str s, const char **p)
{
	const char *nul;

	*p = arena;
	if (s.len == 0 || (size_t)s.off + s.len > arena_used)
		return 0;
	*p = arena + s.off;
	nul = memchr(*p, '\0', s.len);
	return nul ? (size_t)(nul - *p) : s.len;
}

/* ---- attributes (KeyValue { key, AnyValue value }) ---- */

enum { VAL_NONE = 255 }; /* an unknown type: an AnyValue with no value */

/* One attribute as it will be written: its parts and lengths. */
struct kv_plan {
	const char *key;
	const char *str;  /* AT_ATTR_STRING */
	uint64_t u;       /* int (two's complement), double bits, bool */
	uint32_t key_len;
	uint32_t str_len;
	uint32_t av_len;  /* AnyValue body */
	uint32_t kv_len;  /* KeyValue body */
	uint8_t type;     /* enum at_attr_type, or VAL_NONE */
};

/* Fill in the lengths of k; returns its size as a repeated field. */
static size_t kv_plan_finish(struct kv_plan *k)
{
	size_t av;

	switch (k->type) {
	case AT_ATTR_STRING:
		av = field_len(k->str_len);
		break;
	case AT_ATTR_INT:
		av = 1 + varint_len(k->u);
		break;
	case AT_ATTR_DOUBLE:
		av = 1 + 8;
		break;
	case AT_ATTR_BOOL:
		av = 1 + 1;
		break;
	default:
		av = 0;
		break;
	}
	k->av_len = (uint32_t)av;
	k->kv_len = (uint32_t)(opt_field_len(k->key_len) + field_len(av));
	return field_len(k->kv_len);
}

static size_t kv_plan_attr(struct kv_plan *k, const struct at_attr *a,
			   const char *arena, size_t arena_used)
{
	k->key = a->key;
	k->key_len = (uint32_t)cstr_len(a->key);
	k->type = a->type;
	switch (a->type) {
	case AT_ATTR_STRING:
		k->str_len = (uint32_t)rec_str(arena, arena_used, a->v.s,
					       &k->str);
		break;
	case AT_ATTR_INT:
		k->u = (uint64_t)a->v.i;
		break;
	case AT_ATTR_DOUBLE:
		memcpy(&k->u, &a->v.d, sizeof(k->u));
		break;
	case AT_ATTR_BOOL:
		k->u = a->v.b != 0;
		break;
	default:
		k->type = VAL_NONE;
		break;
	}
	return kv_plan_finish(k);
}

static size_t kv_plan_resource(struct kv_plan *k, const struct at_kv *a)
{
	k->key = a->key;
	k->key_len = (uint32_t)cstr_len(a->key);
	switch (a->type) {
	case AT_KV_STRING:
		k->type = AT_ATTR_STRING;
		k->str = a->s;
		k->str_len = (uint32_t)cstr_len(a->s);
		break;
	case AT_KV_INT:
		k->type = AT_ATTR_INT;
		k->u = (uint64_t)a->i;
		break;
	case AT_KV_BOOL:
		k->type = AT_ATTR_BOOL;
		k->u = a->i != 0;
		break;
	default:
		k->type = VAL_NONE;
		break;
	}
	return kv_plan_finish(k);
}

static uint8_t *put_kv(uint8_t *p, uint8_t tag, const struct kv_plan *k)
{
	p = put_len(p, tag, k->kv_len);
	if (k->key_len)
		p = put_bytes(p, TAG_KV_KEY, k->key, k->key_len);
	p = put_len(p, TAG_KV_VALUE, k->av_len);
	switch (k->type) {
	case AT_ATTR_STRING:
		p = put_bytes(p, TAG_AV_STRING, k->str, k->str_len);
		break;
	case AT_ATTR_INT:
		*p++ = TAG_AV_INT;
		p = put_varint(p, k->u);
		break;
	case AT_ATTR_DOUBLE:
		*p++ = TAG_AV_DOUBLE;
		p = put_fixed64(p, k->u);
		break;
	case AT_ATTR_BOOL:
		*p++ = TAG_AV_BOOL;
		*p++ = (uint8_t)k->u;
		break;
	default:
		break;
	}
	return p;
}

/* ---- spans ---- */

/*
 * One span as it will be written.  Counts in a record are bytes, so the
 * plan has room for any record; it is static (exporter thread only) to
 * keep the exporter's stack small.
 */
struct span_plan {
	const char *name, *trace_state, *status_message;
	size_t name_len, trace_state_len, status_message_len;
	uint32_t kind, status_code, flags;
	size_t status_len;                       /* Status body */
	size_t ev_len[UINT8_MAX + 1];            /* Event bodies */
	struct kv_plan attrs[UINT8_MAX + 1];
	struct kv_plan ev_attrs[UINT8_MAX + 1];
};

static struct span_plan plan;

/* An event's attributes: its range of the span's event attributes, or
 * none if the range is out of them. */
static size_t event_attrs(const struct at_span_hdr *h, const struct at_event *e,
			  size_t *first)
{
	size_t na = e->n_attrs;

	*first = e->first_attr;
	if (*first > h->n_ev_attrs || na > h->n_ev_attrs - *first)
		return 0;
	return na;
}

/* Plan record h; returns the size of the Span's body. */
static size_t plan_span(const struct at_span_hdr *h)
{
	const char *arena = at_rec_arena(h);
	const struct at_attr *a = at_rec_attrs(h);
	const struct at_attr *ev_a = at_rec_ev_attrs(h);
	const struct at_event *e = at_rec_events(h);
	size_t used = h->arena_used, sz;

	plan.name_len = rec_str(arena, used, h->name, &plan.name);
	plan.trace_state_len = h->tracestate.len ?
		rec_str(arena, used, h->tracestate, &plan.trace_state) : 0;
	plan.status_message_len = h->status_message.len ?
		rec_str(arena, used, h->status_message, &plan.status_message) :
		0;
	plan.kind = h->kind <= AT_KIND_CONSUMER ? h->kind : 0;
	plan.status_code = h->status_code <= AT_STATUS_ERROR ? h->status_code :
							       0;
	plan.flags = ((uint32_t)h->ctx.flags & 0xff) |
		     FLAG_CONTEXT_HAS_IS_REMOTE |
		     (h->parent_is_remote ? FLAG_CONTEXT_IS_REMOTE : 0);

	sz = field_len(sizeof(h->ctx.trace_id)) +
	     field_len(sizeof(h->ctx.span_id)) +
	     opt_field_len(plan.trace_state_len) +
	     (h->has_parent ? field_len(sizeof(h->parent_span_id)) : 0) +
	     opt_field_len(plan.name_len) + opt_varint_len(plan.kind) +
	     (h->start_unix_ns ? 1 + 8 : 0) + (h->end_unix_ns ? 1 + 8 : 0) +
	     opt_varint_len(h->dropped_attrs) +
	     opt_varint_len(h->dropped_events) + 2 + 4 /* flags */;
	for (size_t i = 0; i < h->n_attrs; i++)
		sz += kv_plan_attr(&plan.attrs[i], &a[i], arena, used);
	for (size_t i = 0; i < h->n_ev_attrs; i++)
		kv_plan_attr(&plan.ev_attrs[i], &ev_a[i], arena, used);
	for (size_t i = 0; i < h->n_events; i++) {
		size_t first, na = event_attrs(h, &e[i], &first);
		size_t ev = (e[i].time_unix_ns ? 1 + 8 : 0) +
			    opt_field_len(cstr_len(e[i].name)) +
			    opt_varint_len(e[i].dropped_attrs);

		for (size_t j = first; j < first + na; j++)
			ev += field_len(plan.ev_attrs[j].kv_len);
		plan.ev_len[i] = ev;
		sz += field_len(ev);
	}
	plan.status_len = opt_field_len(plan.status_message_len) +
			  opt_varint_len(plan.status_code);
	return sz + field_len(plan.status_len);
}

/* Write the planned record h: the Span's body, sz bytes. */
static uint8_t *put_span(uint8_t *p, const struct at_span_hdr *h)
{
	const struct at_event *e = at_rec_events(h);

	p = put_bytes(p, TAG_SPAN_TRACE_ID, h->ctx.trace_id,
		      sizeof(h->ctx.trace_id));
	p = put_bytes(p, TAG_SPAN_SPAN_ID, h->ctx.span_id,
		      sizeof(h->ctx.span_id));
	if (plan.trace_state_len)
		p = put_bytes(p, TAG_SPAN_TRACE_STATE, plan.trace_state,
			      plan.trace_state_len);
	if (h->has_parent)
		p = put_bytes(p, TAG_SPAN_PARENT_ID, h->parent_span_id,
			      sizeof(h->parent_span_id));
	if (plan.name_len)
		p = put_bytes(p, TAG_SPAN_NAME, plan.name, plan.name_len);
	if (plan.kind) {
		*p++ = TAG_SPAN_KIND;
		p = put_varint(p, plan.kind);
	}
	if (h->start_unix_ns) {
		*p++ = TAG_SPAN_START;
		p = put_fixed64(p, h->start_unix_ns);
	}
	if (h->end_unix_ns) {
		*p++ = TAG_SPAN_END;
		p = put_fixed64(p, h->end_unix_ns);
	}
	for (size_t i = 0; i < h->n_attrs; i++)
		p = put_kv(p, TAG_SPAN_ATTRIBUTES, &plan.attrs[i]);
	if (h->dropped_attrs) {
		*p++ = TAG_SPAN_DROPPED_ATTRS;
		p = put_varint(p, h->dropped_attrs);
	}
	for (size_t i = 0; i < h->n_events; i++) {
		size_t first, na = event_attrs(h, &e[i], &first);
		size_t name_len = cstr_len(e[i].name);

		p = put_len(p, TAG_SPAN_EVENTS, plan.ev_len[i]);
		if (e[i].time_unix_ns) {
			*p++ = TAG_EV_TIME;
			p = put_fixed64(p, e[i].time_unix_ns);
		}
		if (name_len)
			p = put_bytes(p, TAG_EV_NAME, e[i].name, name_len);
		for (size_t j = first; j < first + na; j++)
			p = put_kv(p, TAG_EV_ATTRIBUTES, &plan.ev_attrs[j]);
		if (e[i].dropped_attrs) {
			*p++ = TAG_EV_DROPPED_ATTRS;
			p = put_varint(p, e[i].dropped_attrs);
		}
	}
	if (h->dropped_events) {
		*p++ = TAG_SPAN_DROPPED_EVENTS;
		p = put_varint(p, h->dropped_events);
	}
	p = put_len(p, TAG_SPAN_STATUS, plan.status_len);
	if (plan.status_message_len)
		p = put_bytes(p, TAG_STATUS_MESSAGE, plan.status_message,
			      plan.status_message_len);
	if (plan.status_code) {
		*p++ = TAG_STATUS_CODE;
		p = put_varint(p, plan.status_code);
	}
	*p++ = TAG_SPAN_FLAGS_0;
	*p++ = TAG_SPAN_FLAGS_1;
	return put_fixed32(p, plan.flags);
}

/* Append ScopeSpans.spans for record h. */
static int append_span(struct at_buf *out, const struct at_span_hdr *h)
{
	size_t sz = plan_span(h);
	uint8_t *p;

	if (at_buf_reserve(out, 1 + VARINT_MAX + sz) < 0)
		return -1;
	p = put_len(out->data + out->len, TAG_SS_SPANS, sz);
	p = put_span(p, h);
	out->len = (size_t)(p - out->data);
	return 0;
}

/* ---- the resource and the scope ---- */

/* Append ResourceSpans.resource (present even without attributes). */
static int append_resource(struct at_buf *out, const struct at_resource *res)
{
	size_t n = res ? res->n : 0, sz = 0;
	uint8_t *p;

	if (n > AT_RESOURCE_MAX_ATTRS)
		n = AT_RESOURCE_MAX_ATTRS;
	for (size_t i = 0; i < n; i++)
		sz += kv_plan_resource(&plan.attrs[i], &res->attrs[i]);
	if (at_buf_reserve(out, 1 + VARINT_MAX + sz) < 0)
		return -1;
	p = put_len(out->data + out->len, TAG_RS_RESOURCE, sz);
	for (size_t i = 0; i < n; i++)
		p = put_kv(p, TAG_RES_ATTRIBUTES, &plan.attrs[i]);
	out->len = (size_t)(p - out->data);
	return 0;
}

/* Append ScopeSpans.scope. */
static int append_scope(struct at_buf *out)
{
	static const char name[] = AT_SCOPE_NAME, version[] = AT_VERSION;
	size_t sz = opt_field_len(sizeof(name) - 1) +
		    opt_field_len(sizeof(version) - 1);
	uint8_t *p;

	if (at_buf_reserve(out, 1 + VARINT_MAX + sz) < 0)
		return -1;
	p = put_len(out->data + out->len, TAG_SS_SCOPE, sz);
	if (sizeof(name) > 1)
		p = put_bytes(p, TAG_SCOPE_NAME, name, sizeof(name) - 1);
	if (sizeof(version) > 1)
		p = put_bytes(p, TAG_SCOPE_VERSION, version,
			      sizeof(version) - 1);
	out->len = (size_t)(p - out->data);
	return 0;
}

/*
 * The two enclosing lengths.  Their varints are given the width the
 * last batch's bytes per span predict for this one; when the guess was
 * wrong, what follows them is moved once (rarely: a width changes at 128,
 * 16 Ki and 2 Mi bytes).
 */
static size_t bytes_per_span = 256; /* the last batch's */

struct framing {
	size_t base;        /* where the request starts in out */
	size_t g1, g2;      /* varint widths given to the two lengths */
	size_t ss_len_at;   /* where ScopeSpans' length goes */
};

/* Append the request's head up to its first span: tag, length (g1
 * bytes), resource, tag, length (g2 bytes), scope. */
static int open_request(struct at_buf *out, size_t n,
			const struct at_resource *res, struct framing *f)
{
	size_t guess = n * bytes_per_span + 64;

	f->base = out->len;
	f->g2 = varint_len(guess);
	f->g1 = varint_len(guess + 1 + f->g2 + 1024);
	if (at_buf_reserve(out, 1 + f->g1) < 0)
		return -1;
	out->data[out->len] = TAG_REQ_RESOURCE_SPANS;
	out->len += 1 + f->g1;
	if (append_resource(out, res) < 0 || at_buf_reserve(out, 1 + f->g2) < 0)
		return -1;
	out->data[out->len++] = TAG_RS_SCOPE_SPANS;
	f->ss_len_at = out->len;
	out->len += f->g2;
	return append_scope(out);
}

/* Write the two lengths, moving what follows them if their widths are
 * not the ones given. */
static int close_request(struct at_buf *out, const struct framing *f)
{
	size_t rs_len_at = f->base + 1;
	size_t a_at = rs_len_at + f->g1, a_len = f->ss_len_at - a_at;
	size_t b_at = f->ss_len_at + f->g2, b_len = out->len - b_at;
	size_t w2 = varint_len(b_len);
	size_t w1 = varint_len(a_len + w2 + b_len);
	ptrdiff_t da = (ptrdiff_t)w1 - (ptrdiff_t)f->g1;
	ptrdiff_t db = da + (ptrdiff_t)w2 - (ptrdiff_t)f->g2;

	if (w1 > LEN_RESERVED) {
		errno = EMSGSIZE;
		return -1;
	}
	if (db > 0 && at_buf_reserve(out, (size_t)db) < 0)
		return -1;
	/* The part that moves right goes first: neither lands on the
	 * other's bytes before they moved. */
	if (db > 0)
		memmove(out->data + b_at + db, out->data + b_at, b_len);
	if (da)
		memmove(out->data + a_at + da, out->data + a_at, a_len);
	if (db < 0)
		memmove(out->data + b_at + db, out->data + b_at, b_len);
	put_varint(out->data + rs_len_at, a_len + w2 + b_len);
	put_varint(out->data + f->ss_len_at + da, b_len);
	out->len = (size_t)((ptrdiff_t)out->len + db);
	return 0;
}

int at_otlp_encode(const struct at_span_hdr *const *recs, size_t n,
		   const struct at_resource *res, struct at_buf *out)
{
	struct framing f;
	size_t spans_at;

	/* ExportTraceServiceRequest.resource_spans { resource ...
	 * scope_spans { scope ... spans } } */
	if (open_request(out, n, res, &f) < 0)
		goto fail;
	spans_at = out->len;
	for (size_t i = 0; i < n; i++)
		if (append_span(out, recs[i]) < 0)
			goto fail;
	if (n)
		bytes_per_span = (out->len - spans_at) / n + 1;
	if (close_request(out, &f) < 0)
		goto fail;
	return 0;

fail:
	at_buf_reset(out);
	return -1;
}

int at_otlp_parse_response(const uint8_t *body, size_t len, int64_t *rejected,
			   char *msg, size_t msg_cap)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse
		*resp;
	const Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess
		*ps;
	size_t n;

	if (rejected)
		*rejected = 0;
	if (msg && msg_cap)
		msg[0] = '\0';
	if (len == 0)
		return 0;
	resp = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
		NULL, len, body);
	if (!resp)
		return -1;
	ps = resp->partial_success;
	if (ps) {
		if (rejected)
			*rejected = ps->rejected_spans;
		if (msg && msg_cap && ps->error_message) {
			n = strlen(ps->error_message);
			if (n > msg_cap - 1)
				n = msg_cap - 1;
			memcpy(msg, ps->error_message, n);
			msg[n] = '\0';
		}
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
		resp, NULL);
	return 0;
}
