/*
 * at_traceparent.c - W3C Trace Context: traceparent and tracestate.
 *
 * Design
 * ------
 * Everything here is a pure function over caller-provided memory: no
 * allocation, no locks, no global state, no libc call beyond memcpy and
 * memcmp.  That makes the code usable from any hook, including one that
 * runs in a signal handler or while the host holds malloc's locks.
 *
 * traceparent ("vv-<32 hex>-<16 hex>-<2 hex>") is checked position by
 * position on the value with its optional surrounding whitespace (SP and
 * HTAB) removed.  Only lowercase hex is accepted.  Version ff is invalid;
 * version 00 must be exactly 55 characters; a higher ("future") version is
 * read from its first 55 characters, which must be followed by the end of
 * the value or by '-' (so a future format can append fields).  All-zero
 * trace or parent ids are invalid.  Trace-flags bits other than sampled
 * (0x01) and Level 2's random (0x02) are cleared: we only propagate what we
 * understand.  On any failure the output is left untouched, so the caller
 * can simply treat the header as absent.
 *
 * Speed (a parse on every traced request a server reads, a format on
 * every request a client sends): with SSE2 (every x86-64) the ids are
 * decoded and encoded 16 hex digits at a time (compare, mask, pack;
 * unpack, add), about 180 and 60 instructions a call with the call's
 * overhead; elsewhere a word or a byte pair at a time.
 *
 * tracestate is validated member by member in one pass over the header
 * field values given (several tracestate fields of one message are one
 * list, combined in order, RFC 9110 5.3, so a member never spans two
 * fields), recording the address and length of each non-empty,
 * OWS-trimmed member in a small array on the stack (at most
 * AT_TRACESTATE_MAX_MEMBERS entries, so the stack use is fixed).  Any
 * invalid key or value, or a 33rd member, makes the whole list invalid, as
 * the Recommendation requires; a duplicated key does not (it is kept as it
 * came: the Recommendation says only one entry per key is allowed, and
 * its test suite accepts keeping them or dropping one, never discarding
 * the list for it).  The key grammar is Level 1's, with multi-tenant keys
 * (tenant@system): "foo@=1", "@foo=1", "foo@@bar=1" and "foo@bar@baz=1"
 * do not match it and make the list invalid.  An empty value ("foo=")
 * does not match either (value ends with a non-blank character).  The
 * valid members are then joined with ',' (surrounding OWS dropped, which
 * is an equivalent encoding).  If the result is longer than the limit, the
 * specification's recommendation is applied: first members longer than 128
 * characters are dropped (last one first) until it fits, then members are
 * dropped from the end.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_traceparent.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Length of each traceparent field and the offsets of the separators. */
#define TP_VERSION_OFF 0
#define TP_TRACE_ID_OFF 3
#define TP_SPAN_ID_OFF 36
#define TP_FLAGS_OFF 53

/* A tracestate member longer than this is dropped first when truncating. */
#define TS_LONG_MEMBER 128
#define TS_KEY_MAX 256
#define TS_TENANT_MAX 241
#define TS_SYSTEM_MAX 14
#define TS_VALUE_MAX 256

/* The two lowercase hex digits of every byte value, in order: a table
 * read of two bytes per byte encoded, not two nibble lookups. */
static const char hex_pairs[513] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* The 8 bytes at p as a little-endian word (the first byte lowest). */
static inline uint64_t load8_le(const char *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* n bytes as 2n digits; inlined with a constant n, the loop unrolls (a
 * traceparent on every outgoing request). */
static inline __attribute__((always_inline)) void
hex_encode(const uint8_t *in, size_t n, char *out)
{
#pragma GCC unroll 16
	for (size_t i = 0; i < n; i++)
		memcpy(out + 2 * i, hex_pairs + 2 * in[i], 2);
}

void at_hex_encode(const uint8_t *in, size_t n, char *out)
{
	hex_encode(in, n, out);
}

/* 1 + the value of every lowercase hex digit; 0 for any other byte. */
static const uint8_t hex_value1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
	['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

int at_hex_decode_lower(const char *in, size_t n2, uint8_t *out)
{
	size_t i;

	if ((n2 & 1) != 0 || (n2 > 0 && in == NULL))
		return -1;
	/* Validate everything first so that out is untouched on failure. */
	for (i = 0; i < n2; i++) {
		if (!hex_value1[(unsigned char)in[i]])
			return -1;
	}
	for (i = 0; i < n2; i += 2) {
		out[i / 2] =
			(uint8_t)(((hex_value1[(unsigned char)in[i]] - 1) << 4) |
				  (hex_value1[(unsigned char)in[i + 1]] - 1));
	}
	return 0;
}

/*
 * Eight lowercase hex digits (the word x, first digit lowest) as four
 * bytes, a word at a time; -1 if any is not one.  Each byte, its high
 * bit set, minus a bound keeps its high bit exactly when the byte is at
 * least that bound (no borrow crosses a byte): the digits are
 * 0x30..0x39 and 0x61..0x66.  A digit's value is its low nibble, plus 9
 * for a letter; pairs are joined, then packed into the low four bytes.
 */
static inline int hex_decode8(uint64_t x, uint32_t *out)
{
	uint64_t h = x | HIGHS;
	uint64_t digit = (h - ONES * 0x30) & ~(h - ONES * 0x3a);
	uint64_t letter = (h - ONES * 0x61) & ~(h - ONES * 0x67);
	uint64_t n, t;

	if ((x & HIGHS) || ((digit | letter) & HIGHS) != HIGHS)
		return -1;
	n = (x & ONES * 0x0f) + ((letter & HIGHS) >> 7) * 9;
	t = ((n << 4) | (n >> 8)) & 0x00ff00ff00ff00ffULL;
	t = (t | (t >> 8)) & 0x0000ffff0000ffffULL;
	*out = (uint32_t)(t | (t >> 16));
	return 0;
}

/* Sixteen lowercase hex digits at in as eight bytes; -1 (out untouched)
 * if any is not one.  On every traced request a server reads: with SSE2
 * (every x86-64) one 16-byte compare and pack, about 15 instructions;
 * else two words (hex_decode8), about a third of the instructions of the
 * bytewise table (at_hex_decode_lower). */
#ifdef __SSE2__
static inline int hex_decode16(const char *in, uint8_t *out)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)in);
	/* Signed compares: a byte >= 0x80 is negative, in neither range. */
	__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
				      _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
	__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)),
				       _mm_cmplt_epi8(v, _mm_set1_epi8('f' + 1)));
	__m128i n, b;

	if (_mm_movemask_epi8(_mm_or_si128(digit, letter)) != 0xffff)
		return -1;
	/* A digit's value: its low nibble, plus 9 for a letter. */
	n = _mm_add_epi8(_mm_and_si128(v, _mm_set1_epi8(0x0f)),
			 _mm_and_si128(letter, _mm_set1_epi8(9)));
	/* Each 16-bit lane holds a pair, the first digit in its low byte:
	 * first << 4 | second, then the lanes packed to bytes. */
	b = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(n, _mm_set1_epi16(0xff)), 4),
			 _mm_srli_epi16(n, 8));
	_mm_storel_epi64((__m128i *)(void *)out, _mm_packus_epi16(b, b));
	return 0;
}
#else
static inline int hex_decode16(const char *in, uint8_t *out)
{
	uint32_t a, b;
	uint64_t x;

	if ((hex_decode8(load8_le(in), &a) | hex_decode8(load8_le(in + 8), &b)) <
	    0)
		return -1;
	x = (uint64_t)b << 32 | a; /* the first byte lowest */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	memcpy(out, &x, sizeof(x));
	return 0;
}
#endif

/* Two lowercase hex digits as a byte, or -1. */
static inline int hex_decode2(const char *in)
{
	unsigned a = hex_value1[(unsigned char)in[0]];
	unsigned b = hex_value1[(unsigned char)in[1]];

	return a && b ? (int)((a - 1) << 4 | (b - 1)) : -1;
}

/* Are the n bytes at id (a multiple of 8) all zero? */
static inline int words_zero(const uint8_t *id, size_t n)
{
	uint64_t acc = 0, x;

	for (size_t i = 0; i < n; i += 8) {
		memcpy(&x, id + i, 8);
		acc |= x;
	}
	return acc == 0;
}

int at_traceparent_parse(const char *s, size_t len, struct at_span_context *out)
{
	struct at_span_context ctx;
	int version, flags;

	if (s == NULL || out == NULL)
		return -1;
	at_trim_ows(&s, &len);
	if (len < AT_TRACEPARENT_LEN)
		return -1;
	if (s[2] != '-' || s[TP_SPAN_ID_OFF - 1] != '-' ||
	    s[TP_FLAGS_OFF - 1] != '-')
		return -1;
	version = hex_decode2(s + TP_VERSION_OFF);
	if (version < 0 || version == 0xff)
		return -1;
	if (version == 0x00 && len != AT_TRACEPARENT_LEN)
		return -1;
	if (len > AT_TRACEPARENT_LEN && s[AT_TRACEPARENT_LEN] != '-')
		return -1;
	flags = hex_decode2(s + TP_FLAGS_OFF);
	if (flags < 0 || hex_decode16(s + TP_TRACE_ID_OFF, ctx.trace_id) < 0 ||
	    hex_decode16(s + TP_TRACE_ID_OFF + 16, ctx.trace_id + 8) < 0 ||
	    hex_decode16(s + TP_SPAN_ID_OFF, ctx.span_id) < 0)
		return -1;
	if (words_zero(ctx.trace_id, sizeof(ctx.trace_id)) ||
	    words_zero(ctx.span_id, sizeof(ctx.span_id)))
		return -1;
	ctx.flags = (uint8_t)flags & AT_FLAGS_KNOWN;
	*out = ctx;
	return 0;
}

#ifdef __SSE2__
/* Sixteen nibbles (one a byte) as lowercase hex digits. */
static inline __m128i nibbles_hex(__m128i x)
{
	__m128i letter = _mm_cmpgt_epi8(x, _mm_set1_epi8(9));

	return _mm_add_epi8(_mm_add_epi8(x, _mm_set1_epi8('0')),
			    _mm_and_si128(letter, _mm_set1_epi8('a' - '0' - 10)));
}

/* The bytes of v (the low 8 with !all) as their digits, high nibble
 * first: 16 or 32 bytes at out. */
static inline void hex_encode_sse2(__m128i v, char *out, int all)
{
	__m128i m = _mm_set1_epi8(0x0f);
	__m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
	__m128i lo = _mm_and_si128(v, m);

	_mm_storeu_si128((__m128i *)(void *)out,
			 nibbles_hex(_mm_unpacklo_epi8(hi, lo)));
	if (all)
		_mm_storeu_si128((__m128i *)(void *)(out + 16),
				 nibbles_hex(_mm_unpackhi_epi8(hi, lo)));
}
#endif

size_t at_traceparent_format(const struct at_span_context *ctx,
			     char out[AT_TRACEPARENT_LEN + 1])
{
	uint8_t flags = ctx->flags & AT_FLAGS_KNOWN;

	out[0] = '0';
	out[1] = '0';
	out[2] = '-';
#ifdef __SSE2__
	/* On every outgoing request: the ids 16 bytes at a time. */
	hex_encode_sse2(_mm_loadu_si128((const __m128i *)(const void *)
						ctx->trace_id),
			out + TP_TRACE_ID_OFF, 1);
	hex_encode_sse2(_mm_loadl_epi64((const __m128i *)(const void *)
						ctx->span_id),
			out + TP_SPAN_ID_OFF, 0);
#else
	hex_encode(ctx->trace_id, 16, out + TP_TRACE_ID_OFF);
	hex_encode(ctx->span_id, 8, out + TP_SPAN_ID_OFF);
#endif
	out[TP_SPAN_ID_OFF - 1] = '-';
	out[TP_FLAGS_OFF - 1] = '-';
	hex_encode(&flags, 1, out + TP_FLAGS_OFF);
	out[AT_TRACEPARENT_LEN] = '\0';
	return AT_TRACEPARENT_LEN;
}

/* ---- tracestate ---- */

static int is_lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

/* lcalpha / DIGIT / "_" / "-" / "*" / "/" */
static int is_key_char(char c)
{
	return is_lcalpha(c) || at_is_digit(c) || c == '_' || c == '-' ||
	       c == '*' || c == '/';
}

/*
 * key = simple-key / multi-tenant-key
 * simple-key = lcalpha 0*255( keychar )
 * multi-tenant-key = tenant-id "@" system-id
 * tenant-id = ( lcalpha / DIGIT ) 0*240( keychar )
 * system-id = lcalpha 0*13( keychar )
 */
static int ts_key_valid(const char *k, size_t n)
{
	size_t at = n;
	size_t i;

	if (n == 0 || n > TS_KEY_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (k[i] == '@') {
			if (at != n)
				return 0; /* two '@' */
			at = i;
		} else if (!is_key_char(k[i])) {
			return 0;
		}
	}
	if (at == n)
		return is_lcalpha(k[0]);
	/* multi-tenant */
	if (at == 0 || at > TS_TENANT_MAX)
		return 0;
	if (!is_lcalpha(k[0]) && !at_is_digit(k[0]))
		return 0;
	if (n - at - 1 == 0 || n - at - 1 > TS_SYSTEM_MAX)
		return 0;
	return is_lcalpha(k[at + 1]);
}

/*
 * value = 0*255(chr) nblk-chr
 * nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
 * chr = %x20 / nblk-chr
 */
static int ts_value_valid(const char *v, size_t n)
{
	if (n == 0 || n > TS_VALUE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return 0;
	}
	return v[n - 1] != ' ';
}

struct ts_member {
	const char *p;  /* the member, OWS trimmed */
	size_t len;
	int keep;
};

static int ts_member_valid(const char *m, size_t n)
{
	const char *eq = memchr(m, '=', n);
	size_t kl;

	if (eq == NULL)
		return 0;
	kl = (size_t)(eq - m);
	return ts_key_valid(m, kl) && ts_value_valid(eq + 1, n - kl - 1);
}

/* Length of the joined output of the kept members. */
static size_t ts_joined_len(const struct ts_member *m, size_t n)
{
	size_t total = 0;
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		if (!m[i].keep)
			continue;
		total += m[i].len;
		kept++;
	}
	return kept > 0 ? total + kept - 1 : 0;
}

/*
 * Add the members of one field value in[0..len) to m[*n]: 0, or -1 if
 * one is invalid or there are too many.
 */
static int ts_split(const char *in, size_t len, struct ts_member *m,
		    size_t *n)
{
	size_t pos = 0;

	while (pos <= len) {
		const char *comma = memchr(in + pos, ',', len - pos);
		size_t end = comma ? (size_t)(comma - in) : len;
		const char *ms = in + pos;
		size_t ml = end - pos;

		at_trim_ows(&ms, &ml);
		if (ml > 0) {
			if (*n == AT_TRACESTATE_MAX_MEMBERS ||
			    !ts_member_valid(ms, ml))
				return -1;
			m[*n].p = ms;
			m[*n].len = ml;
			m[*n].keep = 1;
			(*n)++;
		}
		pos = end + 1;
	}
	return 0;
}

int at_tracestate_sanitize_parts(const struct at_tracestate_part *parts,
				 size_t n_parts, char *out, size_t cap)
{
	struct ts_member m[AT_TRACESTATE_MAX_MEMBERS];
	size_t n = 0;
	size_t limit;
	size_t i, w;

	if (out == NULL || cap == 0)
		return -1;
	out[0] = '\0';
	if (parts == NULL && n_parts > 0)
		return -1;
	for (i = 0; i < n_parts; i++) {
		if (parts[i].p == NULL) {
			if (parts[i].len == 0)
				continue;
			return -1;
		}
		if (ts_split(parts[i].p, parts[i].len, m, &n) < 0)
			return -1;
	}

	limit = cap - 1;
	if (limit > AT_TRACESTATE_MAX)
		limit = AT_TRACESTATE_MAX;
	/* Truncation: long members first (last first), then from the end. */
	for (i = n; i-- > 0 && ts_joined_len(m, n) > limit;) {
		if (m[i].len > TS_LONG_MEMBER)
			m[i].keep = 0;
	}
	for (i = n; i-- > 0 && ts_joined_len(m, n) > limit;)
		m[i].keep = 0;

	w = 0;
	for (i = 0; i < n; i++) {
		if (!m[i].keep)
			continue;
		if (w > 0)
			out[w++] = ',';
		memcpy(out + w, m[i].p, m[i].len);
		w += m[i].len;
	}
	out[w] = '\0';
	return (int)w;
}

int at_tracestate_sanitize(const char *in, size_t len, char *out, size_t cap)
{
	struct at_tracestate_part part = { in, len };

	return at_tracestate_sanitize_parts(&part, 1, out, cap);
}
