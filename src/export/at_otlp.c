/*
 * at_otlp.c - encode span records as an OTLP ExportTraceServiceRequest
 * (protobuf) and read the ExportTraceServiceResponse.
 *
 * What: at_otlp_encode() turns a batch of ring records (struct at_span_hdr
 * followed by attributes, events, event attributes and the string arena,
 * see at_span.h) into one request with one ResourceSpans (our resource)
 * holding one ScopeSpans (scope AT_SCOPE_NAME / AT_VERSION) with one Span
 * per record.  Each Span is built as a protobuf-c message tree (generated
 * from src/proto/) and packed with protobuf_c_message_pack() straight into
 * the output buffer.
 *
 * Why this shape: packing the whole request with one
 * protobuf_c_message_pack() would make protobuf-c compute the size of
 * every span once per enclosing message (request, ResourceSpans,
 * ScopeSpans, then the span itself), and would need every span's tree in
 * memory at once.  Instead the three enclosing length-delimited fields are
 * written here by hand (tag and length, field numbers from the OTLP
 * specification), each span is sized and packed on its own, and its
 * scratch memory is recycled for the next span.  The two outer lengths are
 * only known once all spans are written, so they are first given 5 bytes
 * (the longest varint of a 32-bit length) and the bytes after them are
 * moved down once at the end, a single memmove per batch.
 *
 * Scratch memory: protobuf-c messages need NUL-terminated strings while
 * record strings are (offset, length) pairs in the arena, and every
 * KeyValue/AnyValue/Event needs storage.  Both come from a bump allocator
 * that is reset for each span and kept across calls; it grows by chaining
 * chunks and, when it had to chain, is folded into one chunk of the total
 * size at the next reset.  In steady state encoding therefore calls no
 * malloc at all (the output buffer also stops growing once it has reached
 * the largest batch).
 *
 * Contract: see at_otlp.h.  Not thread-safe (the scratch space belongs to
 * the exporter thread).  Records are trusted to come from
 * at_span_serialize(), but string references are still checked against
 * the record's arena_used and event attribute ranges against n_ev_attrs:
 * a bad reference becomes an empty string / no attributes, never an
 * out-of-bounds read.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "at_compat.h"
#include "at_otlp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

/* Wire-format tags (field number << 3 | 2, length-delimited). */
#define TAG_REQ_RESOURCE_SPANS 0x0a /* ExportTraceServiceRequest: 1 */
#define TAG_RS_RESOURCE 0x0a        /* ResourceSpans.resource: 1 */
#define TAG_RS_SCOPE_SPANS 0x12     /* ResourceSpans.scope_spans: 2 */
#define TAG_SS_SCOPE 0x0a           /* ScopeSpans.scope: 1 */
#define TAG_SS_SPANS 0x12           /* ScopeSpans.spans: 2 */

#define LEN_RESERVED 5   /* varint bytes reserved for an outer length */
#define VARINT_MAX 10

/* SpanFlags bits besides the W3C trace flags. */
#define FLAG_CONTEXT_HAS_IS_REMOTE 0x100
#define FLAG_CONTEXT_IS_REMOTE 0x200

#define CHUNK_MIN (16 * 1024)

/* ---- scratch: a bump allocator of chained chunks ---- */

struct chunk {
	struct chunk *next; /* older, full chunk */
	size_t cap;
	size_t used;
	max_align_t data[];
};

static struct chunk *scratch; /* current chunk (NULL before first use) */

static void *bump(size_t n)
{
	struct chunk *c = scratch;
	size_t cap;
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (AT_LIKELY(c && c->cap - c->used >= n)) {
		p = (char *)c->data + c->used;
		c->used += n;
		return p;
	}
	cap = c ? c->cap * 2 : CHUNK_MIN;
	if (cap < n)
		cap = n;
	c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
	c->next = scratch;
	c->cap = cap;
	c->used = n;
	scratch = c;
	return c->data;
}

/* Forget everything allocated; fold a chain into one chunk. */
static void scratch_reset(void)
{
	struct chunk *c = scratch, *next;
	size_t total = 0;

	if (!c)
		return;
	if (!c->next) {
		c->used = 0;
		return;
	}
	for (; c; c = next) {
		next = c->next;
		total += c->cap;
		free(c);
	}
	scratch = malloc(sizeof(*scratch) + total);
	if (scratch) {
		scratch->next = NULL;
		scratch->cap = total;
		scratch->used = 0;
	}
}

AT_TESTING void at_otlp_release(void)
{
	struct chunk *c = scratch, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	scratch = NULL;
}

/* ---- message templates ---- */

/* An attribute: the KeyValue and the AnyValue it points to. */
struct attr_msg {
	Opentelemetry__Proto__Common__V1__KeyValue kv;
	Opentelemetry__Proto__Common__V1__AnyValue av;
};

static const Opentelemetry__Proto__Common__V1__KeyValue kv_init =
	OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
static const Opentelemetry__Proto__Common__V1__AnyValue av_init =
	OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static const Opentelemetry__Proto__Trace__V1__Span__Event ev_init =
	OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
static const Opentelemetry__Proto__Trace__V1__Span span_init =
	OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
static const Opentelemetry__Proto__Trace__V1__Status status_init =
	OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
static const Opentelemetry__Proto__Resource__V1__Resource resource_init =
	OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
static const Opentelemetry__Proto__Common__V1__InstrumentationScope
	scope_init =
		OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;

#define EMPTY_STR ((char *)protobuf_c_empty_string)
#define AV_CASE(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

/*
 * protobuf-c leaves out a oneof string that points to its default value
 * (protobuf_c_empty_string), which would turn an empty string attribute
 * into an AnyValue without a value.  Empty oneof strings point here.
 */
static char oneof_empty[1];

/* A static C string as a protobuf-c string field (never written to). */
static inline char *cstr(const char *s)
{
	return s ? (char *)s : EMPTY_STR;
}

/* ---- helpers ---- */

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* A record string as a NUL-terminated copy in scratch ("" if empty or
 * out of the arena).  NULL only when memory ran out. */
static char *rec_str(const char *arena, size_t arena_used, struct at_str s)
{
	char *p;

	if (s.len == 0 || (size_t)s.off + s.len > arena_used)
		return EMPTY_STR;
	p = bump((size_t)s.len + 1);
	if (!p)
		return NULL;
	memcpy(p, arena + s.off, s.len);
	p[s.len] = '\0';
	return p;
}

/*
 * Fill n KeyValues from record attributes.  *out gets the pointer array.
 * Returns 0, or -1 when memory ran out.
 */
static int build_attrs(const struct at_attr *a, size_t n, const char *arena,
		       size_t arena_used,
		       Opentelemetry__Proto__Common__V1__KeyValue ***out)
{
	Opentelemetry__Proto__Common__V1__KeyValue **ptrs;
	struct attr_msg *m;
	size_t i;

	*out = NULL;
	if (n == 0)
		return 0;
	ptrs = bump(n * sizeof(*ptrs));
	m = bump(n * sizeof(*m));
	if (!ptrs || !m)
		return -1;
	for (i = 0; i < n; i++, a++) {
		m[i].kv = kv_init;
		m[i].av = av_init;
		m[i].kv.key = cstr(a->key);
		m[i].kv.value = &m[i].av;
		switch (a->type) {
		case AT_ATTR_STRING:
			m[i].av.value_case = AV_CASE(STRING_VALUE);
			m[i].av.string_value = rec_str(arena, arena_used,
						       a->v.s);
			if (!m[i].av.string_value)
				return -1;
			if (m[i].av.string_value == EMPTY_STR)
				m[i].av.string_value = oneof_empty;
			break;
		case AT_ATTR_INT:
			m[i].av.value_case = AV_CASE(INT_VALUE);
			m[i].av.int_value = a->v.i;
			break;
		case AT_ATTR_DOUBLE:
			m[i].av.value_case = AV_CASE(DOUBLE_VALUE);
			m[i].av.double_value = a->v.d;
			break;
		case AT_ATTR_BOOL:
			m[i].av.value_case = AV_CASE(BOOL_VALUE);
			m[i].av.bool_value = a->v.b != 0;
			break;
		default:
			/* Unknown type: the key with an empty AnyValue. */
			break;
		}
		ptrs[i] = &m[i].kv;
	}
	*out = ptrs;
	return 0;
}

static int build_events(const struct at_span_hdr *h, const char *arena,
			Opentelemetry__Proto__Trace__V1__Span *sp)
{
	const struct at_event *e = at_rec_events(h);
	const struct at_attr *ev_attrs = at_rec_ev_attrs(h);
	Opentelemetry__Proto__Trace__V1__Span__Event **ptrs, *m;
	size_t i, n = h->n_events;

	if (n == 0)
		return 0;
	ptrs = bump(n * sizeof(*ptrs));
	m = bump(n * sizeof(*m));
	if (!ptrs || !m)
		return -1;
	for (i = 0; i < n; i++, e++) {
		size_t first = e->first_attr, na = e->n_attrs;

		m[i] = ev_init;
		m[i].time_unix_nano = e->time_unix_ns;
		m[i].name = cstr(e->name);
		m[i].dropped_attributes_count = e->dropped_attrs;
		if (first > h->n_ev_attrs || na > h->n_ev_attrs - first)
			na = 0;
		if (build_attrs(ev_attrs + first, na, arena, h->arena_used,
				&m[i].attributes) < 0)
			return -1;
		m[i].n_attributes = na;
		ptrs[i] = &m[i];
	}
	sp->events = ptrs;
	sp->n_events = n;
	return 0;
}

/* Build the Span message for record h into sp (and scratch). */
static int build_span(const struct at_span_hdr *h,
		      Opentelemetry__Proto__Trace__V1__Span *sp,
		      Opentelemetry__Proto__Trace__V1__Status *st)
{
	const char *arena = at_rec_arena(h);
	uint32_t flags;

	*sp = span_init;
	sp->trace_id.len = sizeof(h->ctx.trace_id);
	sp->trace_id.data = (uint8_t *)h->ctx.trace_id;
	sp->span_id.len = sizeof(h->ctx.span_id);
	sp->span_id.data = (uint8_t *)h->ctx.span_id;
	if (h->has_parent) {
		sp->parent_span_id.len = sizeof(h->parent_span_id);
		sp->parent_span_id.data = (uint8_t *)h->parent_span_id;
	}
	if (h->tracestate.len) {
		sp->trace_state = rec_str(arena, h->arena_used, h->tracestate);
		if (!sp->trace_state)
			return -1;
	}
	flags = (uint32_t)h->ctx.flags & 0xff;
	flags |= FLAG_CONTEXT_HAS_IS_REMOTE;
	if (h->parent_is_remote)
		flags |= FLAG_CONTEXT_IS_REMOTE;
	sp->flags = flags;
	sp->name = rec_str(arena, h->arena_used, h->name);
	if (!sp->name)
		return -1;
	if (h->kind <= AT_KIND_CONSUMER)
		sp->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)
			h->kind;
	sp->start_time_unix_nano = h->start_unix_ns;
	sp->end_time_unix_nano = h->end_unix_ns;
	if (build_attrs(at_rec_attrs(h), h->n_attrs, arena, h->arena_used,
			&sp->attributes) < 0)
		return -1;
	sp->n_attributes = h->n_attrs;
	sp->dropped_attributes_count = h->dropped_attrs;
	if (build_events(h, arena, sp) < 0)
		return -1;
	sp->dropped_events_count = h->dropped_events;

	*st = status_init;
	if (h->status_code <= AT_STATUS_ERROR)
		st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)
			h->status_code;
	if (h->status_message.len) {
		st->message = rec_str(arena, h->arena_used, h->status_message);
		if (!st->message)
			return -1;
	}
	sp->status = st;
	return 0;
}

static int build_resource(const struct at_resource *res,
			  Opentelemetry__Proto__Resource__V1__Resource *rm)
{
	Opentelemetry__Proto__Common__V1__KeyValue **ptrs;
	struct attr_msg *m;
	size_t i, n;

	*rm = resource_init;
	n = res ? res->n : 0;
	if (n > AT_RESOURCE_MAX_ATTRS)
		n = AT_RESOURCE_MAX_ATTRS;
	if (n == 0)
		return 0;
	ptrs = bump(n * sizeof(*ptrs));
	m = bump(n * sizeof(*m));
	if (!ptrs || !m)
		return -1;
	for (i = 0; i < n; i++) {
		const struct at_kv *a = &res->attrs[i];

		m[i].kv = kv_init;
		m[i].av = av_init;
		m[i].kv.key = cstr(a->key);
		m[i].kv.value = &m[i].av;
		switch (a->type) {
		case AT_KV_STRING:
			m[i].av.value_case = AV_CASE(STRING_VALUE);
			m[i].av.string_value = a->s ? (char *)a->s :
						      oneof_empty;
			break;
		case AT_KV_INT:
			m[i].av.value_case = AV_CASE(INT_VALUE);
			m[i].av.int_value = a->i;
			break;
		case AT_KV_BOOL:
			m[i].av.value_case = AV_CASE(BOOL_VALUE);
			m[i].av.bool_value = a->i != 0;
			break;
		}
		ptrs[i] = &m[i].kv;
	}
	rm->attributes = ptrs;
	rm->n_attributes = n;
	return 0;
}

/* Append tag, length and the packed message m to out. */
static int put_message(struct at_buf *out, uint8_t tag,
		       const ProtobufCMessage *m)
{
	size_t sz = protobuf_c_message_get_packed_size(m);
	uint8_t *p;

	if (at_buf_reserve(out, 1 + VARINT_MAX + sz) < 0)
		return -1;
	p = out->data + out->len;
	*p++ = tag;
	p += varint_put(p, sz);
	p += protobuf_c_message_pack(m, p);
	out->len = (size_t)(p - out->data);
	return 0;
}

/* Append tag and LEN_RESERVED bytes for a length filled in later. */
static int put_open(struct at_buf *out, uint8_t tag, size_t *len_at)
{
	if (at_buf_reserve(out, 1 + LEN_RESERVED) < 0)
		return -1;
	out->data[out->len++] = tag;
	*len_at = out->len;
	out->len += LEN_RESERVED;
	return 0;
}

int at_otlp_encode(const struct at_span_hdr *const *recs, size_t n,
		   const struct at_resource *res, struct at_buf *out)
{
	Opentelemetry__Proto__Resource__V1__Resource rm;
	Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
	Opentelemetry__Proto__Trace__V1__Span sp;
	Opentelemetry__Proto__Trace__V1__Status st;
	size_t rs_len_at, ss_len_at, ss_len, rs_len, w1, w2, gap1, gap2;
	size_t i;

	/* ExportTraceServiceRequest.resource_spans { resource ... */
	if (put_open(out, TAG_REQ_RESOURCE_SPANS, &rs_len_at) < 0)
		goto fail;
	scratch_reset();
	if (build_resource(res, &rm) < 0 ||
	    put_message(out, TAG_RS_RESOURCE, &rm.base) < 0)
		goto fail;

	/* ... scope_spans { scope ... */
	if (put_open(out, TAG_RS_SCOPE_SPANS, &ss_len_at) < 0)
		goto fail;
	scope = scope_init;
	scope.name = AT_SCOPE_NAME;
	scope.version = AT_VERSION;
	if (put_message(out, TAG_SS_SCOPE, &scope.base) < 0)
		goto fail;

	/* ... spans } } */
	for (i = 0; i < n; i++) {
		scratch_reset();
		if (build_span(recs[i], &sp, &st) < 0 ||
		    put_message(out, TAG_SS_SPANS, &sp.base) < 0)
			goto fail;
	}

	/* Close the two open fields: write their lengths, squeeze out the
	 * unused reserved bytes. */
	ss_len = out->len - (ss_len_at + LEN_RESERVED);
	w2 = varint_len(ss_len);
	rs_len = (ss_len_at - (rs_len_at + LEN_RESERVED)) + w2 + ss_len;
	w1 = varint_len(rs_len);
	if (w1 > LEN_RESERVED || w2 > LEN_RESERVED) {
		errno = EMSGSIZE;
		goto fail;
	}
	gap1 = LEN_RESERVED - w1;
	gap2 = LEN_RESERVED - w2;
	varint_put(out->data + rs_len_at, rs_len);
	if (gap1)
		memmove(out->data + rs_len_at + w1,
			out->data + rs_len_at + LEN_RESERVED,
			ss_len_at - (rs_len_at + LEN_RESERVED));
	varint_put(out->data + ss_len_at - gap1, ss_len);
	if (gap1 + gap2)
		memmove(out->data + ss_len_at - gap1 + w2,
			out->data + ss_len_at + LEN_RESERVED, ss_len);
	out->len -= gap1 + gap2;
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
