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
 * message).  Written directly, a span costs one pass over the record,
 * with no allocation and no copy but the bytes themselves.
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
 * Shape: one pass per span.  A KeyValue's and an AnyValue's lengths are
 * known before their bodies (a key, one value), so they are written in
 * place.  A Span's length is not (attributes, events): the span is
 * written after two bytes kept for it (128 bytes to 16 KiB, nearly every
 * span), and only a span outside that range is moved once its length is
 * known (w_fix_len; the same for an event, after one byte).  The lengths
 * of the two enclosing fields (ResourceSpans, ScopeSpans) are only known
 * once all spans are written: their varints are given the width that the
 * previous batch's bytes per span predict, and only when that guess is
 * wrong is what follows them moved (close_request()), once per batch; a
 * request is at most 2^35 bytes (5-byte lengths).  A request can be
 * written a span at a time (at_otlp_begin/add/finish), so the exporter
 * encodes records where they lie in the rings instead of copying them.
 *
 * Attributes, the bulk of a span, take cheap paths: a key's encoding is
 * cached by its pointer (key_enc(): keys are static; the entry the same
 * attribute position had in the last span is tried first, then a small
 * table), so it is copied with a fixed-size copy instead of a strlen()
 * and a memcpy(); a short string value is copied the same way; strings
 * are looked at for a NUL byte 16 bytes at a time with SSE2 compares
 * instead of memchr() (rec_str_fast()).  A fixed-size copy writes past
 * the bytes that count, into room reserved for it, and reads only bytes
 * of the record or of the cache; a short value too near the arena's end
 * for one is copied in overlapping blocks within its own bytes
 * (copy_short()).
 *
 * The common attribute (a cached key; a string of 1 to 64 bytes, an int
 * or a bool) goes further (write_attrs()): the output's cursor stays in
 * a register, the room for all of a span's attributes is made once, the
 * key's entry holds KeyValue.value's tag after the key, and every length
 * is one byte computed from the value's length alone, so a KeyValue is
 * two tag/length bytes, the entry's fixed-size copy, three bytes and the
 * value's fixed-size copy (a string under 16 bytes: its NUL scan one
 * SSE2 compare, the cut taken as the lowest of the NUL bits and bit
 * len; with 16 bytes of the arena from it, the usual case, tested first
 * in two compares and copied from the register it was compared in).
 * The positions' entries are walked with a pointer (a span's positions
 * are under AT_SPAN_MAX_ATTRS); an int's varint is written before the
 * two lengths that count it (one or two bytes without a loop), so its
 * width is not worked out first.  The span's name takes the same
 * 16-byte path, and the span's head and attributes get their room in one
 * check; the tail's values are worked out after the attributes, so
 * that fewer stay live across them.  Nothing is kept
 * per value: 50 connections' different addresses and ports cost what
 * one does (an earlier cache of encoded values thrashed with them).
 *
 * Cost, in the C keep-alive pair's real processes (8 attributes a span;
 * callgrind, the client's exporter thread, encoding being 90 % of it): a
 * first version that planned every span (all lengths, in a static plan)
 * and then wrote it took 2,300 instructions a span; the one pass 2,070;
 * with the attributes' cheap paths 1,360; encoding in the rings, the
 * NUL scan and the short copies 1,110 (the server's, with more
 * attributes: 2,780 before, 1,330 now).  In bench_instr's export section
 * (a connect span, 6 attributes; scripts/bench/instr.sh "exported", the
 * whole exporter per span): 876 before write_attrs(), 677 with it
 * (inlined in at_otlp_add(), the room for the tail made with the
 * attributes'); in
 * the C pair's exporter threads, write_span() per span: client 1,004 ->
 * 836, server 1,216 -> 1,021; with the table on a position miss, the
 * whole exporter thread per span: client 1,138 -> 920, server 1,349 ->
 * 1,024.  The pointer walk, the ints' varints first, the one room check,
 * the 16-byte fast path tested first and the exporter's encode_ring()
 * (bench_instr's exported span): 678 -> 561.
 *
 * Contract: see at_otlp.h.  Not thread-safe (bytes_per_span and the key
 * cache are static: they belong to the exporter thread).  Records are trusted to come from
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
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* Seven bits a byte: (significant bits * 9 + 64) / 64 bytes; nearly
 * every length here is under 128, one byte. */
static inline size_t varint_len(uint64_t v)
{
	if (AT_LIKELY(v < 0x80))
		return 1;
	return ((size_t)(64 - __builtin_clzll(v)) * 9 + 64) / 64;
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
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, sizeof(v));
	return p + sizeof(v);
#else
	for (int i = 0; i < 8; i++, v >>= 8)
		*p++ = (uint8_t)v;
	return p;
#endif
}

static inline uint8_t *put_fixed32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, sizeof(v));
	return p + sizeof(v);
#else
	for (int i = 0; i < 4; i++, v >>= 8)
		*p++ = (uint8_t)v;
	return p;
#endif
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

/* ---- the output ---- */

/*
 * The writer (struct at_otlp_writer): p, the next byte, and end, the end of
 * its room.  Every write first makes room for its largest size (w_room:
 * a comparison, and a realloc now and then); a length to be known only
 * after its body is kept as an offset, since the room may move.
 */

/* 0, or -1 if memory ran out (the buffer has room from here on). */
static int w_begin(struct at_otlp_writer *w, struct at_buf *out)
{
	if (at_buf_reserve(out, 1 + VARINT_MAX) < 0)
		return -1;
	w->out = out;
	w->p = out->data + out->len;
	w->end = out->data + out->cap;
	return 0;
}

static size_t w_off(const struct at_otlp_writer *w)
{
	return (size_t)(w->p - w->out->data);
}

static void w_end(struct at_otlp_writer *w)
{
	w->out->len = w_off(w);
}

static AT_COLD int w_grow(struct at_otlp_writer *w, size_t need)
{
	w_end(w);
	if (at_buf_reserve(w->out, need) < 0)
		return -1;
	w->p = w->out->data + w->out->len;
	w->end = w->out->data + w->out->cap;
	return 0;
}

/* Room for need more bytes: 0, or -1 if memory ran out. */
static inline int w_room(struct at_otlp_writer *w, size_t need)
{
	if (AT_LIKELY((size_t)(w->end - w->p) >= need))
		return 0;
	return w_grow(w, need);
}

/*
 * A length written after its body: the body was written after `width`
 * bytes kept at offset at; put the length there, moving the body when
 * its varint is not `width` bytes wide (a span under 128 bytes or of 16
 * KiB or more, an event of 128 bytes or more).
 */
static AT_COLD int w_fix_len_moved(struct at_otlp_writer *w, size_t at,
				   size_t width)
{
	uint8_t *len_p = w->out->data + at;
	size_t body = (size_t)(w->p - len_p) - width;
	size_t n = varint_len(body);

	if (n != width) {
		if (n > width && w_room(w, n - width) < 0)
			return -1;
		len_p = w->out->data + at;
		memmove(len_p + n, len_p + width, body);
		w->p = len_p + n + body;
	}
	put_varint(len_p, body);
	return 0;
}

static inline int w_fix_len(struct at_otlp_writer *w, size_t at, size_t width)
{
	uint8_t *len_p = w->out->data + at;
	size_t body = (size_t)(w->p - len_p) - width;

	if (width == 2 && body >= 0x80 && body < 0x4000) {
		len_p[0] = (uint8_t)(body | 0x80);
		len_p[1] = (uint8_t)(body >> 7);
		return 0;
	}
	if (width == 1 && body < 0x80) {
		len_p[0] = (uint8_t)body;
		return 0;
	}
	return w_fix_len_moved(w, at, width);
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

/*
 * rec_str() without memchr(): the arena's bytes are looked at 16 at a
 * time (SSE2 compares), every block inside the used arena (the last one
 * ends where the string ends); only a string under 16 bytes in an arena
 * under 16 bytes takes rec_str().
 */
#ifdef __SSE2__
static inline uint32_t nul_mask16(const char *c)
{
	return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
		_mm_loadu_si128((const __m128i *)(const void *)c),
		_mm_setzero_si128()));
}
#endif

static inline __attribute__((always_inline)) size_t
rec_str_fast(const char *arena, size_t arena_used, struct at_str s,
	     const char **p)
{
#ifdef __SSE2__
	const char *c = arena + s.off;
	size_t len = s.len, i;
	uint32_t m;

	if (len == 0 || (size_t)s.off + len > arena_used)
		return rec_str(arena, arena_used, s, p);
	if (len < 16) {
		if ((size_t)s.off + 16 <= arena_used)
			m = nul_mask16(c) & ((1u << len) - 1);
		else if ((size_t)s.off + len >= 16)
			m = nul_mask16(c + len - 16) >> (16 - len);
		else
			return rec_str(arena, arena_used, s, p);
		*p = c;
		return m ? (size_t)__builtin_ctz(m) : len;
	}
	*p = c;
	for (i = 0; i + 16 <= len; i += 16) {
		m = nul_mask16(c + i);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	if (i < len) {
		/* The block that ends with the string: its first bytes were
		 * looked at already. */
		m = nul_mask16(c + len - 16) >> (16 - (len - i));
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
	return len;
#else
	return rec_str(arena, arena_used, s, p);
#endif
}

/* ---- attributes (KeyValue { key, AnyValue value }) ---- */

/* The room a KeyValue takes at most besides its key and value bytes:
 * three tags and lengths, and the AnyValue member's tag and length. */
#define KV_ROOM (4 * (1 + VARINT_MAX))

/* A KeyValue up to its AnyValue's body (av_len bytes, which follow). */
static inline uint8_t *put_kv_head(uint8_t *p, uint8_t tag, const char *key,
				   size_t key_len, size_t av_len)
{
	size_t kv_len = (key_len ? field_len(key_len) : 0) + field_len(av_len);

	p = put_len(p, tag, kv_len);
	if (key_len)
		p = put_bytes(p, TAG_KV_KEY, key, key_len);
	return put_len(p, TAG_KV_VALUE, av_len);
}

static int write_kv_str(struct at_otlp_writer *w, uint8_t tag, const char *key,
			const char *s, size_t len)
{
	size_t key_len = cstr_len(key);

	if (w_room(w, KV_ROOM + key_len + len) < 0)
		return -1;
	w->p = put_kv_head(w->p, tag, key, key_len, field_len(len));
	w->p = put_bytes(w->p, TAG_AV_STRING, s, len);
	return 0;
}

/* An int or bool AnyValue (member tag av_tag). */
static int write_kv_varint(struct at_otlp_writer *w, uint8_t tag,
			   const char *key, uint8_t av_tag, uint64_t v)
{
	size_t key_len = cstr_len(key);

	if (w_room(w, KV_ROOM + key_len) < 0)
		return -1;
	w->p = put_kv_head(w->p, tag, key, key_len, 1 + varint_len(v));
	*w->p++ = av_tag;
	w->p = put_varint(w->p, v);
	return 0;
}

static int write_kv_double(struct at_otlp_writer *w, uint8_t tag,
			   const char *key, double d)
{
	size_t key_len = cstr_len(key);
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	if (w_room(w, KV_ROOM + key_len) < 0)
		return -1;
	w->p = put_kv_head(w->p, tag, key, key_len, 1 + 8);
	*w->p++ = TAG_AV_DOUBLE;
	w->p = put_fixed64(w->p, u);
	return 0;
}

/* An unknown type: an AnyValue with no value. */
static int write_kv_none(struct at_otlp_writer *w, uint8_t tag, const char *key)
{
	size_t key_len = cstr_len(key);

	if (w_room(w, KV_ROOM + key_len) < 0)
		return -1;
	w->p = put_kv_head(w->p, tag, key, key_len, 0);
	return 0;
}

/*
 * A span attribute's key, encoded once: KeyValue.key's tag, length and
 * bytes, followed by KeyValue.value's tag (not counted in n).  Keys are static strings (at_span.h: pointers that live, with
 * their bytes, as long as the library), so the pointer names the key:
 * a direct-mapped table by pointer replaces a strlen() and a memcpy()
 * call per attribute with a comparison and a fixed-size copy of
 * KEY_ENC_BYTES (written whole, the output's room covers it; only the
 * first n bytes count).  Resource keys are not cached: a resource is
 * rebuilt (after fork), its keys are not static.
 */
#define KEY_ENC_BYTES 40
#define KEY_CACHE_SLOTS 128

struct key_enc {
	const char *key;
	uint8_t n;                    /* bytes of enc that count */
	uint8_t enc[KEY_ENC_BYTES];
};

static struct key_enc key_cache[KEY_CACHE_SLOTS];

/* The encoded key, or NULL if it does not fit (written the long way). */
static AT_COLD const struct key_enc *key_enc_fill(struct key_enc *e,
						 const char *key)
{
	size_t len = cstr_len(key);

	if (len + 3 > KEY_ENC_BYTES)
		return NULL;
	memset(e->enc, 0, sizeof(e->enc));
	if (len) {
		e->enc[0] = TAG_KV_KEY;
		e->enc[1] = (uint8_t)len; /* under 128: one byte */
		memcpy(e->enc + 2, key, len);
	}
	e->n = (uint8_t)(len ? len + 2 : 0);
	e->enc[e->n] = TAG_KV_VALUE; /* the next field's tag (write_attrs) */
	e->key = key;
	return e;
}

/* Two slots a key may take (the second when the first is another's):
 * the few keys of a program's spans nearly never evict each other. */
static inline const struct key_enc *key_enc_hashed(const char *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;
	struct key_enc *e = &key_cache[h >> 57 & (KEY_CACHE_SLOTS - 2)];

	if (AT_LIKELY(e->key == key && key))
		return e;
	if (AT_LIKELY(e[1].key == key && key))
		return e + 1;
	return key_enc_fill(e->key ? e + 1 : e, key);
}

/*
 * The key of a span's i-th attribute.  Spans of one kind set the same
 * keys in the same order, so the entry the i-th key had last time is
 * tried first (a load and a comparison), then the table.
 */
/* A NULL key: no key field (then KeyValue.value's tag, as in every entry). */
static const struct key_enc no_key = { .enc = { TAG_KV_VALUE } };
static const struct key_enc *key_by_pos[AT_SPAN_MAX_ATTRS] = {
	[0 ... AT_SPAN_MAX_ATTRS - 1] = &no_key,
};

/* key_enc() when the position's entry is another key's: the table. */
static __attribute__((noinline)) const struct key_enc *
key_enc_by_table(const char *key, size_t i)
{
	const struct key_enc *e = key_enc_hashed(key);

	if (e) /* else too long: written the long way */
		key_by_pos[i % AT_SPAN_MAX_ATTRS] = e;
	return e;
}

static inline const struct key_enc *key_enc(const char *key, size_t i)
{
	const struct key_enc *e = key_by_pos[i % AT_SPAN_MAX_ATTRS];

	if (AT_LIKELY(e->key == key))
		return e;
	return key_enc_by_table(key, i);
}

/* A KeyValue with a cached key up to its AnyValue's body (av_len bytes,
 * which follow); the room covers KV_ROOM + KEY_ENC_BYTES. */
static inline uint8_t *put_kv_head_enc(uint8_t *p, uint8_t tag,
				       const struct key_enc *e, size_t av_len)
{
	p = put_len(p, tag, e->n + field_len(av_len));
	memcpy(p, e->enc, KEY_ENC_BYTES);
	p += e->n;
	return put_len(p, TAG_KV_VALUE, av_len);
}

/*
 * A string value of the record's arena.  A short one, with the arena's
 * own bytes behind it, is copied with a fixed-size copy (STR_COPY_BYTES:
 * a few moves instead of a call) into the room, which covers it.
 */
#define STR_COPY_BYTES 64
/* n bytes (at most STR_COPY_BYTES) in fixed-size blocks that overlap,
 * none past the n bytes (what memcpy() does, without the call). */
static inline void copy_short(uint8_t *d, const char *s, size_t n)
{
	if (n >= 16) {
		memcpy(d, s, 16);
		if (n > 32) {
			memcpy(d + 16, s + 16, 16);
			memcpy(d + n - 32, s + n - 32, 16);
		}
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else if (n) {
		d[0] = (uint8_t)s[0];
		d[n / 2] = (uint8_t)s[n / 2];
		d[n - 1] = (uint8_t)s[n - 1];
	}
}

static inline uint8_t *put_rec_str(uint8_t *p, const char *s, size_t len,
				   const char *arena_end)
{
	size_t behind = (size_t)(arena_end - s);

	if (len <= STR_COPY_BYTES / 2 && behind >= STR_COPY_BYTES / 2)
		memcpy(p, s, STR_COPY_BYTES / 2);
	else if (len <= STR_COPY_BYTES && behind >= STR_COPY_BYTES)
		memcpy(p, s, STR_COPY_BYTES);
	else if (len <= STR_COPY_BYTES)
		copy_short(p, s, len); /* near the arena's end */
	else
		memcpy(p, s, len);
	return p + len;
}

/* An attribute with a key not cached, or a double or unknown value. */
static AT_COLD int write_attr_long(struct at_otlp_writer *w, uint8_t tag,
				   const struct at_attr *a, const char *arena,
				   size_t arena_used)
{
	const char *s;
	size_t len;

	switch (a->type) {
	case AT_ATTR_STRING:
		len = rec_str(arena, arena_used, a->v.s, &s);
		return write_kv_str(w, tag, a->key, s, len);
	case AT_ATTR_INT:
		return write_kv_varint(w, tag, a->key, TAG_AV_INT,
				       (uint64_t)a->v.i);
	case AT_ATTR_BOOL:
		return write_kv_varint(w, tag, a->key, TAG_AV_BOOL,
				       a->v.b != 0);
	case AT_ATTR_DOUBLE:
		return write_kv_double(w, tag, a->key, a->v.d);
	default:
		return write_kv_none(w, tag, a->key);
	}
}

static inline __attribute__((always_inline)) int
write_attr(struct at_otlp_writer *w, uint8_t tag, const struct at_attr *a,
	   size_t pos, const char *arena, size_t arena_used)
{
	const struct key_enc *e;
	const char *s;
	size_t len, av;
	uint8_t *p;

	if (AT_UNLIKELY(a->type != AT_ATTR_STRING && a->type != AT_ATTR_INT &&
			a->type != AT_ATTR_BOOL))
		return write_attr_long(w, tag, a, arena, arena_used);
	e = key_enc(a->key, pos);
	if (AT_UNLIKELY(!e))
		return write_attr_long(w, tag, a, arena, arena_used);
	switch (a->type) {
	case AT_ATTR_STRING:
		len = rec_str_fast(arena, arena_used, a->v.s, &s);
		av = field_len(len);
		if (w_room(w, KV_ROOM + KEY_ENC_BYTES + STR_COPY_BYTES + len) <
		    0)
			return -1;
		p = put_kv_head_enc(w->p, tag, e, av);
		p = put_len(p, TAG_AV_STRING, len);
		w->p = put_rec_str(p, s, len, arena + arena_used);
		return 0;
	default: {
		uint64_t v = a->type == AT_ATTR_INT ? (uint64_t)a->v.i
						    : (uint64_t)(a->v.b != 0);

		if (w_room(w, KV_ROOM + KEY_ENC_BYTES) < 0)
			return -1;
		p = put_kv_head_enc(w->p, tag, e, 1 + varint_len(v));
		*p++ = a->type == AT_ATTR_INT ? TAG_AV_INT : TAG_AV_BOOL;
		w->p = put_varint(p, v);
		return 0;
	}
	}
}

/* write_attr() out of line: write_attrs()'s other cases. */
static __attribute__((noinline)) int
write_attr_slow(struct at_otlp_writer *w, uint8_t tag, const struct at_attr *a,
		size_t pos, const char *arena, size_t arena_used)
{
	return write_attr(w, tag, a, pos, arena, arena_used);
}

/*
 * Attributes a[0..count) (positions pos0 + i for the key cache), written
 * with the output's cursor in a register: a string of at most
 * FAST_STR_MAX bytes or an int or bool with a cached key is written from
 * the key's encoding (its KeyValue.value tag included) and three or four
 * bytes that depend only on the value's length, every length then being
 * one byte; anything else takes write_attr().  The same bytes either way.
 */
#define FAST_STR_MAX STR_COPY_BYTES
/* The most a fast attribute writes: tag, length, the key's copy, the
 * value's length, member tag, and a string's length and fixed-size copy
 * (or an int's varint). */
#define FAST_ROOM (2 + KEY_ENC_BYTES + 3 + STR_COPY_BYTES)
/* Every length of a fast attribute is one byte. */
_Static_assert(KEY_ENC_BYTES + 3 + FAST_STR_MAX < 0x80 &&
		       KEY_ENC_BYTES + 3 + VARINT_MAX < 0x80,
	       "a fast KeyValue's lengths fit in one byte");

/* A fast string KeyValue up to its value's bytes (len, which follow). */
static inline uint8_t *put_str_kv(uint8_t *p, uint8_t tag,
				  const struct key_enc *e, size_t kn,
				  size_t len)
{
	uint8_t *q;

	p[0] = tag;
	p[1] = (uint8_t)(kn + 4 + len);
	memcpy(p + 2, e->enc, KEY_ENC_BYTES);
	q = p + 3 + kn;
	q[0] = (uint8_t)(2 + len);
	q[1] = TAG_AV_STRING;
	q[2] = (uint8_t)len;
	return q + 3;
}

/* An int or bool value's varint, its length returned: one or two bytes
 * without a loop (ports, status codes, sizes), else put_varint(). */
static inline size_t put_varint_n(uint8_t *p, uint64_t v)
{
	if (AT_LIKELY(v < 0x80)) {
		p[0] = (uint8_t)v;
		return 1;
	}
	if (AT_LIKELY(v < 0x4000)) {
		p[0] = (uint8_t)(v | 0x80);
		p[1] = (uint8_t)(v >> 7);
		return 2;
	}
	return (size_t)(put_varint(p, v) - p);
}

/* write_attrs() once the room is made: count * FAST_ROOM + after bytes
 * (write_span() makes its head's and its attributes' at once). */
static inline __attribute__((always_inline)) int
write_attrs_in_room(struct at_otlp_writer *w, uint8_t tag,
		    const struct at_attr *a, size_t count, size_t pos0,
		    const char *arena, size_t arena_used, size_t after)
{
	const struct at_attr *at, *a_end = a + count;
	const struct key_enc *const *slot;
	uint8_t *p;

	/* The positions' entries are walked with a pointer: positions past
	 * the table (not from at_span_serialize()) take write_attr(). */
	if (AT_UNLIKELY(pos0 + count > AT_SPAN_MAX_ATTRS)) {
		for (size_t i = 0; i < count; i++)
			if (write_attr_slow(w, tag, &a[i], pos0 + i, arena,
					    arena_used) < 0)
				return -1;
		return w_room(w, after);
	}
	p = w->p;
	slot = &key_by_pos[pos0];
	for (at = a; at != a_end; at++, slot++) {
		const struct key_enc *e = *slot;
		unsigned type = at->type;
		size_t kn;
		uint8_t *q;

		/* Spans of other kinds in between (other keys at this
		 * position): the table, and the fast way still. */
		if (AT_UNLIKELY(e->key != at->key) &&
		    !(e = key_enc_by_table(at->key, pos0 + (size_t)(at - a))))
			goto slow;
		kn = e->n;
		if (type == AT_ATTR_STRING) {
#ifdef __SSE2__
			size_t off = at->v.s.off, len = at->v.s.len;
			const char *s = arena + off;
			uint32_t m;

			/* 1 to 15 bytes with 16 bytes of the used arena from
			 * them (rec_str_fast()'s first case): one NUL
			 * compare, one 16-byte copy (the room covers it). */
			if (AT_LIKELY(len - 1 < 15 && off + 16 <= arena_used)) {
				__m128i b = _mm_loadu_si128(
					(const __m128i *)(const void *)s);

				m = (uint32_t)_mm_movemask_epi8(
					_mm_cmpeq_epi8(b, _mm_setzero_si128()));
				/* Up to the first NUL byte, or len bytes. */
				len = (size_t)__builtin_ctz(m | 1u << len);
				p = put_str_kv(p, tag, e, kn, len);
				_mm_storeu_si128((__m128i *)(void *)p, b);
				p += len;
				continue;
			}
			if (AT_UNLIKELY(len == 0 || len > FAST_STR_MAX ||
					off + len > arena_used))
				goto slow;
			if (len >= 16) {
				/* 16 to FAST_STR_MAX bytes: rec_str_fast()
				 * and put_rec_str(), the cursor kept. */
				len = rec_str_fast(arena, arena_used, at->v.s,
						   &s);
				p = put_str_kv(p, tag, e, kn, len);
				p = put_rec_str(p, s, len, arena + arena_used);
				continue;
			}
			/* 1 to 15 bytes in the arena's last 16: the 16
			 * bytes that end with them, copied in blocks within
			 * them. */
			if (AT_UNLIKELY(off + len < 16))
				goto slow;
			m = nul_mask16(s + len - 16) >> (16 - len);
			len = (size_t)__builtin_ctz(m | 1u << len);
			p = put_str_kv(p, tag, e, kn, len);
			copy_short(p, s, len);
			p += len;
			continue;
#else
			goto slow;
#endif
		}
		if (type == AT_ATTR_INT) {
			size_t vl;

			/* The varint first: its length gives the two
			 * lengths before it. */
			memcpy(p + 2, e->enc, KEY_ENC_BYTES);
			q = p + 3 + kn;
			vl = put_varint_n(q + 2, (uint64_t)at->v.i);
			q[1] = TAG_AV_INT;
			p[0] = tag;
			p[1] = (uint8_t)(kn + 3 + vl);
			q[0] = (uint8_t)(1 + vl);
			p = q + 2 + vl;
			continue;
		}
		if (type == AT_ATTR_BOOL) {
			memcpy(p + 2, e->enc, KEY_ENC_BYTES);
			q = p + 3 + kn;
			q[0] = 2;
			q[1] = TAG_AV_BOOL;
			q[2] = at->v.b != 0;
			p[0] = tag;
			p[1] = (uint8_t)(kn + 4);
			p = q + 3;
			continue;
		}
slow:
		w->p = p;
		if (write_attr_slow(w, tag, at, pos0 + (size_t)(at - a), arena,
				    arena_used) < 0 ||
		    w_room(w, (size_t)(a_end - at - 1) * FAST_ROOM + after) < 0)
			return -1;
		p = w->p;
	}
	w->p = p;
	return 0;
}

static inline __attribute__((always_inline)) int
write_attrs(struct at_otlp_writer *w, uint8_t tag, const struct at_attr *a,
	    size_t count, size_t pos0, const char *arena, size_t arena_used,
	    size_t after)
{
	/* Room for every attribute to take the fast way and for `after`
	 * bytes behind them, made once (and again after an attribute that
	 * did not take it). */
	if (w_room(w, count * FAST_ROOM + after) < 0)
		return -1;
	return write_attrs_in_room(w, tag, a, count, pos0, arena, arena_used,
				   after);
}

static int write_resource_attr(struct at_otlp_writer *w, const struct at_kv *a)
{
	switch (a->type) {
	case AT_KV_STRING:
		return write_kv_str(w, TAG_RES_ATTRIBUTES, a->key, a->s,
				    cstr_len(a->s));
	case AT_KV_INT:
		return write_kv_varint(w, TAG_RES_ATTRIBUTES, a->key,
				       TAG_AV_INT, (uint64_t)a->i);
	case AT_KV_BOOL:
		return write_kv_varint(w, TAG_RES_ATTRIBUTES, a->key,
				       TAG_AV_BOOL, a->i != 0);
	default:
		return write_kv_none(w, TAG_RES_ATTRIBUTES, a->key);
	}
}

/* ---- spans ---- */

/* The room of a span's fixed fields (tags, lengths, ids, times, kind)
 * besides its name and trace state. */
#define SPAN_HEAD_ROOM 96
/* The room of what follows the events: dropped counts, status (besides
 * its message) and flags. */
#define SPAN_TAIL_ROOM 48
/* A span's length is given two bytes (128 bytes to 16 KiB) before its
 * body is written; an event's, one. */
#define SPAN_LEN_WIDTH 2
#define EVENT_LEN_WIDTH 1

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

/* Span.events: one event (its attributes are in ev_a). */
static int write_event(struct at_otlp_writer *w, const struct at_span_hdr *h,
		       const struct at_event *e, const struct at_attr *ev_a,
		       const char *arena)
{
	size_t first, na = event_attrs(h, e, &first);
	size_t name_len = cstr_len(e->name), len_at;

	if (w_room(w, 1 + EVENT_LEN_WIDTH + 1 + 8 + 1 + VARINT_MAX + name_len +
			      1 + VARINT_MAX) < 0)
		return -1;
	*w->p++ = TAG_SPAN_EVENTS;
	len_at = w_off(w);
	w->p += EVENT_LEN_WIDTH;
	if (e->time_unix_ns) {
		*w->p++ = TAG_EV_TIME;
		w->p = put_fixed64(w->p, e->time_unix_ns);
	}
	if (name_len)
		w->p = put_bytes(w->p, TAG_EV_NAME, e->name, name_len);
	if (write_attrs(w, TAG_EV_ATTRIBUTES, ev_a + first, na, first, arena,
			h->arena_used, 1 + VARINT_MAX) < 0)
		return -1;
	if (e->dropped_attrs) {
		*w->p++ = TAG_EV_DROPPED_ATTRS;
		w->p = put_varint(w->p, e->dropped_attrs);
	}
	return w_fix_len(w, len_at, EVENT_LEN_WIDTH);
}

/* ScopeSpans.spans: record h, written in one pass over it. */
static inline __attribute__((always_inline)) int
write_span(struct at_otlp_writer *w, const struct at_span_hdr *h)
{
	const char *arena = at_rec_arena(h);
	const struct at_attr *a = at_rec_attrs(h);
	size_t used = h->arena_used, len_at, n_attrs = h->n_attrs;
	const char *name, *trace_state, *msg;
	/* A name of 1 to 15 bytes with 16 bytes of the used arena from it
	 * (nearly every one): one NUL compare, one 16-byte copy. */
#ifdef __SSE2__
	int name16 = (size_t)h->name.len - 1 < 15 &&
		     (size_t)h->name.off + 16 <= used;
	__m128i name_b = _mm_setzero_si128(); /* its 16 bytes */
#else
	int name16 = 0;
#endif
	size_t name_len;
	size_t trace_state_len = rec_str(arena, used, h->tracestate,
					 &trace_state);
	/* The status message's room: its length before a cut at a NUL. */
	size_t msg_room = h->status_message.len, msg_len;
	uint32_t kind = h->kind <= AT_KIND_CONSUMER ? h->kind : 0;
	uint32_t status_code, flags;
	/* What follows the attributes: the dropped count and, without
	 * events, the tail. */
	size_t after = 1 + VARINT_MAX + SPAN_TAIL_ROOM + msg_room;
	uint8_t *p;

#ifdef __SSE2__
	if (AT_LIKELY(name16)) {
		name = arena + h->name.off;
		name_b = _mm_loadu_si128((const __m128i *)(const void *)name);
		name_len = (size_t)__builtin_ctz(
			(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(
				name_b, _mm_setzero_si128())) |
			1u << h->name.len);
	} else
#endif
		name_len = rec_str_fast(arena, used, h->name, &name);
	/* The head's room and the attributes' (write_attrs()), at once. */
	if (w_room(w, SPAN_HEAD_ROOM + name_len + trace_state_len +
			      STR_COPY_BYTES + n_attrs * FAST_ROOM + after) < 0)
		return -1;
	p = w->p;
	*p++ = TAG_SS_SPANS;
	len_at = (size_t)(p - w->out->data);
	p += SPAN_LEN_WIDTH;
	/* The ids: fixed-size copies. */
	p[0] = TAG_SPAN_TRACE_ID;
	p[1] = sizeof(h->ctx.trace_id);
	memcpy(p + 2, h->ctx.trace_id, sizeof(h->ctx.trace_id));
	p += 2 + sizeof(h->ctx.trace_id);
	p[0] = TAG_SPAN_SPAN_ID;
	p[1] = sizeof(h->ctx.span_id);
	memcpy(p + 2, h->ctx.span_id, sizeof(h->ctx.span_id));
	p += 2 + sizeof(h->ctx.span_id);
	if (trace_state_len)
		p = put_bytes(p, TAG_SPAN_TRACE_STATE, trace_state,
			      trace_state_len);
	if (h->has_parent) {
		p[0] = TAG_SPAN_PARENT_ID;
		p[1] = sizeof(h->parent_span_id);
		memcpy(p + 2, h->parent_span_id, sizeof(h->parent_span_id));
		p += 2 + sizeof(h->parent_span_id);
	}
	if (AT_LIKELY(name16)) {
		if (name_len) { /* under 16 bytes; the room covers 16 */
			p[0] = TAG_SPAN_NAME;
			p[1] = (uint8_t)name_len;
#ifdef __SSE2__
			_mm_storeu_si128((__m128i *)(void *)(p + 2), name_b);
#endif
			p += 2 + name_len;
		}
	} else if (name_len) {
		p = put_len(p, TAG_SPAN_NAME, name_len);
		p = put_rec_str(p, name, name_len, arena + used);
	}
	if (kind) {
		*p++ = TAG_SPAN_KIND;
		p = put_varint(p, kind);
	}
	if (h->start_unix_ns) {
		*p++ = TAG_SPAN_START;
		p = put_fixed64(p, h->start_unix_ns);
	}
	if (h->end_unix_ns) {
		*p++ = TAG_SPAN_END;
		p = put_fixed64(p, h->end_unix_ns);
	}
	w->p = p;
	if (write_attrs_in_room(w, TAG_SPAN_ATTRIBUTES, a, n_attrs, 0, arena,
				used, after) < 0)
		return -1;
	if (h->dropped_attrs) {
		*w->p++ = TAG_SPAN_DROPPED_ATTRS;
		w->p = put_varint(w->p, h->dropped_attrs);
	}
	if (AT_UNLIKELY(h->n_events)) {
		const struct at_event *e = at_rec_events(h);
		const struct at_attr *ev_a = at_rec_ev_attrs(h);

		for (size_t i = 0; i < h->n_events; i++)
			if (write_event(w, h, &e[i], ev_a, arena) < 0)
				return -1;
		if (w_room(w, SPAN_TAIL_ROOM + msg_room) < 0)
			return -1;
	}
	/* The tail's values, worked out after the attributes (fewer kept
	 * across them). */
	msg_len = rec_str(arena, used, h->status_message, &msg);
	status_code = h->status_code <= AT_STATUS_ERROR ? h->status_code : 0;
	flags = ((uint32_t)h->ctx.flags & 0xff) | FLAG_CONTEXT_HAS_IS_REMOTE |
		(h->parent_is_remote ? FLAG_CONTEXT_IS_REMOTE : 0);
	p = w->p;
	if (h->dropped_events) {
		*p++ = TAG_SPAN_DROPPED_EVENTS;
		p = put_varint(p, h->dropped_events);
	}
	p = put_len(p, TAG_SPAN_STATUS,
		    opt_field_len(msg_len) +
			    (status_code ? 1 + varint_len(status_code) : 0));
	if (msg_len)
		p = put_bytes(p, TAG_STATUS_MESSAGE, msg, msg_len);
	if (status_code) {
		*p++ = TAG_STATUS_CODE;
		p = put_varint(p, status_code);
	}
	*p++ = TAG_SPAN_FLAGS_0;
	*p++ = TAG_SPAN_FLAGS_1;
	w->p = put_fixed32(p, flags);
	return w_fix_len(w, len_at, SPAN_LEN_WIDTH);
}

/* ---- the resource and the scope ---- */

/* Append ResourceSpans.resource (present even without attributes). */
static int append_resource(struct at_buf *out, const struct at_resource *res)
{
	size_t n = res ? res->n : 0, len_at;
	struct at_otlp_writer w;

	if (n > AT_RESOURCE_MAX_ATTRS)
		n = AT_RESOURCE_MAX_ATTRS;
	if (w_begin(&w, out) < 0)
		return -1;
	*w.p++ = TAG_RS_RESOURCE;
	len_at = w_off(&w);
	w.p += 2;
	for (size_t i = 0; i < n; i++)
		if (write_resource_attr(&w, &res->attrs[i]) < 0)
			return -1;
	if (w_fix_len(&w, len_at, 2) < 0)
		return -1;
	w_end(&w);
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


/* Append the request's head up to its first span: tag, length (g1
 * bytes), resource, tag, length (g2 bytes), scope. */
static int open_request(struct at_buf *out, size_t n,
			const struct at_resource *res, struct at_otlp_req *f)
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
static int close_request(struct at_buf *out, const struct at_otlp_req *f)
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

int at_otlp_begin(struct at_otlp_req *q, size_t n,
		 const struct at_resource *res, struct at_buf *out)
{
	/* ExportTraceServiceRequest.resource_spans { resource ...
	 * scope_spans { scope ... spans } } */
	if (open_request(out, n, res, q) < 0) {
		at_buf_reset(out);
		return -1;
	}
	q->spans_at = out->len;
	q->n = 0;
	q->failed = 0;
	if (w_begin(&q->w, out) < 0) {
		at_buf_reset(out);
		return -1;
	}
	return 0;
}

int at_otlp_add(struct at_otlp_req *q, const struct at_span_hdr *rec)
{
	if (q->failed || write_span(&q->w, rec) < 0) {
		at_buf_reset(q->w.out);
		q->failed = 1; /* nothing more is written */
		return -1;
	}
	q->n++;
	return 0;
}

int at_otlp_finish(struct at_otlp_req *q)
{
	struct at_buf *out = q->w.out;

	if (q->failed)
		return -1;
	w_end(&q->w);
	if (q->n)
		bytes_per_span = (out->len - q->spans_at) / q->n + 1;
	if (close_request(out, q) < 0) {
		at_buf_reset(out);
		return -1;
	}
	return 0;
}

int at_otlp_encode(const struct at_span_hdr *const *recs, size_t n,
		   const struct at_resource *res, struct at_buf *out)
{
	struct at_otlp_req q;

	if (at_otlp_begin(&q, n, res, out) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (at_otlp_add(&q, recs[i]) < 0)
			return -1;
	return at_otlp_finish(&q);
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
