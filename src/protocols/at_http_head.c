/*
 * at_http_head.c - HTTP/1.x heads for the socket hooks: recognising a
 * message start, finding the end of a head, parsing request and response
 * heads (start line, field lines, framing rules), and the method's
 * semantic-convention name.  Body framing is in at_http_body.c, URL
 * values in at_http_url.c; at_http.h is the one header for all three.
 *
 * Design
 * ------
 * Everything runs inside read()/write() hooks of arbitrary programs, so
 * every function is a pure function over caller-owned memory: no
 * allocation, no stdio, no locale, no system call, no mutable global state
 * (the character tables are const).  Every read is bounded by the
 * length the caller gave; anything unexpected is an error return ("not
 * HTTP"), never a crash.  Character classes are ASCII tables or plain
 * comparisons, never <ctype.h>.
 *
 * Recognition (at_http_request_start / _response_start) looks at a few
 * bytes only: the method token, one SP and the first bytes of the target;
 * it answers "plausible", "need more bytes" or "not HTTP".
 *
 * Heads are parsed in one forward pass (RFC 9112):
 *   - request-line = method SP request-target SP HTTP-version line-end.
 *     The method is 1-16 tchar without lowercase letters (methods are
 *     case-sensitive).  The target is 1+ visible ASCII characters
 *     (0x21-0x7e) and must have one of the request-target forms: origin
 *     ('/'), asterisk ("*" alone), absolute ("scheme://"), or, for CONNECT
 *     only, authority (host:port, checked with at_http_host_port()).  The
 *     version is exactly HTTP/1.0 or HTTP/1.1.
 *   - status-line = HTTP-version SP 3DIGIT [SP reason-phrase] line-end
 *     (the SP after the code is tolerated when the reason is absent).
 *   - field-line = field-name ':' OWS value OWS line-end, the name 1+
 *     tchar directly followed by ':' (whitespace before ':' is rejected, as
 *     is a line starting with SP/HTAB: obs-fold or whitespace after the
 *     start line).  Values may hold HTAB, SP, VCHAR and obs-text, nothing
 *     else: NUL, bare CR and other controls are rejected.
 *   - a line ends with CRLF or a bare LF (recipients may accept LF); a CR
 *     not followed by LF is an error.  The head ends at the first empty
 *     line; at_http_head_end() uses the same rule (an LF followed by LF or
 *     CRLF), so both always agree.  A request head reports how its lines
 *     end (all CRLF, all bare LF, or mixed), so that a line added to it
 *     can end the same way.  Heads longer than AT_HTTP_HEAD_MAX are
 *     refused.
 * Framing rules: Content-Length is 1+ digits (no list, no sign), at most
 * 2^62, and every repetition must carry the same value.  Transfer-Encoding
 * is a list (over all its lines) whose final coding must be chunked, with
 * chunked appearing once; a request that has Transfer-Encoding otherwise is
 * refused (RFC 9112 6.3), a response then reads until close.  Both
 * Transfer-Encoding and Content-Length, or Transfer-Encoding in an
 * HTTP/1.0 message, are refused (smuggling signs; RFC 9112 6.1, 6.3).  A
 * request with a second Host line is refused (RFC 9112 3.2).  Connection
 * is a list of tokens matched case-insensitively (close, keep-alive).  The
 * first Host, traceparent and User-Agent are kept, OWS-trimmed, and the
 * traceparent lines are counted.  tracestate fields are one list (W3C
 * Trace Context; RFC 9110 5.3 field order): the parser keeps the value of
 * each field that holds a member (at most 32 such fields: each holds at
 * least one member, and a list of more than 32 is invalid; a 33rd only
 * marks the list invalid), in order, on the stack; with one field its
 * value is the result, as before; with several, the combined list is
 * validated and written into the request's own buffer
 * (at_tracestate_sanitize_parts(): empty fields dropped, an invalid list
 * absent).  Outputs are written only on success.
 *
 * Speed: recognition is a few ns; the long runs of a head (target, field
 * values, reason phrase) are scanned 8 bytes at a time with word tricks (a
 * field value's end found in its word, not byte by byte; targets, field
 * values and reason phrases 16 at a time with SSE2 first), field names 16 bytes at
 * a time (SSE2: letters, digits and '-', then four table reads per step
 * from the first other byte); a value's usual CRLF and OWS are looked at
 * in line; the names and the usual one-token values of
 * Connection and Transfer-Encoding are compared a word at a time with the
 * case folded (OR 0x20); the rest goes bytewise through 256-byte tables.
 * The fields of the other propagation formats (b3, uber-trace-id,
 * baggage: most heads have none) are zeroed at the first of them, not for
 * every head.  An nginx response head (eight fields) costs about 1.4k
 * instructions, a small request head (one field) about 0.45k (callgrind).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_http.h"
#include "at_http_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define METHOD_MAX 16
#define LENGTH_MAX ((int64_t)1 << 62)

/* A method's bytes as the parser takes them: tchar but lowercase
 * letters (methods are case-sensitive). */
static const unsigned char method_tab[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1,
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* Methods request_start considers: A-Z, '-', '_'. */
static const unsigned char mchar_tab[256] = {
	['A' ... 'Z'] = 1, ['-'] = 1, ['_'] = 1,
};

/*
 * Word-at-a-time scanning for the long runs (targets, field values): 8
 * bytes are loaded (memcpy: any alignment) only when 8 bytes remain, and a
 * word that holds any byte needing a closer look is scanned bytewise.
 */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static uint64_t load8(const char *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return x;
}

/* Does any byte of x have a value below n (n <= 128)? */
static int has_less(uint64_t x, unsigned int n)
{
	return ((x - ONES * n) & ~x & HIGHS) != 0;
}

static int has_byte(uint64_t x, unsigned int b)
{
	return has_less(x ^ (ONES * b), 1);
}

/*
 * The 8 bytes at p as a little-endian word: the first byte is the least
 * significant, where has_less()'s borrows start.
 */
static uint64_t load8_le(const char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(load8(p));
#else
	return load8(p);
#endif
}

/*
 * Index of the first byte flagged in mask (mask != 0; a has_less()
 * expression over a load8_le() word).  A borrow only runs upwards, so the
 * flags are exact up to and including the lowest one: it names the first
 * byte below n.
 */
static size_t first_flagged(uint64_t mask)
{
	return (size_t)__builtin_ctzll(mask) / 8;
}

/* End of the run of field-value bytes starting at p[pos]: 8 bytes at a
 * time, a word holding a byte below 0x20 or a 0x7f stops at the first
 * such byte, which ends the run unless it is an HTAB (a field byte;
 * rare: the scan goes on after it). */
static inline __attribute__((always_inline)) size_t
skip_field(const char *p, size_t n, size_t pos)
{
#ifdef __SSE2__
	/* 16 bytes at a time: a byte in 0x00-0x1f (signed compares: one of
	 * 0x80-0xff is negative, obs-text, a field byte) or 0x7f. */
	while (n - pos >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + pos));
		__m128i ctl = _mm_and_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
					    _mm_cmpgt_epi8(x, _mm_set1_epi8(-1)));
		unsigned m = (unsigned)_mm_movemask_epi8(
			_mm_or_si128(ctl, _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));

		if (!m) {
			pos += 16;
			continue;
		}
		pos += (size_t)__builtin_ctz(m);
		if (p[pos] != '\t')
			return pos;
		pos++;
	}
#endif
	while (n - pos >= 8) {
		uint64_t x = load8_le(p + pos);
		uint64_t y = x ^ (ONES * 0x7f);
		uint64_t m = ((x - ONES * 0x20) & ~x & HIGHS) |
			     ((y - ONES) & ~y & HIGHS);

		if (!m) {
			pos += 8;
			continue;
		}
		pos += first_flagged(m);
		if (p[pos] != '\t')
			return pos;
		pos++;
	}
	while (pos < n && is_field_char(p[pos]))
		pos++;
	return pos;
}

static int is_target_char(char c)
{
	return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f;
}

/* End of the run of visible ASCII bytes (0x21-0x7e) starting at p[pos]. */
static size_t skip_target(const char *p, size_t n, size_t pos)
{
#ifdef __SSE2__
	/* 16 bytes at a time: (signed) above 0x20 and below 0x7f (a byte of
	 * 0x80-0xff is negative). */
	while (n - pos >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + pos));
		unsigned m = ~(unsigned)_mm_movemask_epi8(_mm_and_si128(
				     _mm_cmpgt_epi8(x, _mm_set1_epi8(0x20)),
				     _mm_cmplt_epi8(x, _mm_set1_epi8(0x7f)))) &
			     0xffffu;

		if (m)
			return pos + (size_t)__builtin_ctz(m);
		pos += 16;
	}
#endif
	while (n - pos >= 8) {
		uint64_t x = load8(p + pos);

		if ((x & HIGHS) || has_less(x, 0x21) || has_byte(x, 0x7f))
			break;
		pos += 8;
	}
	while (pos < n && is_target_char(p[pos]))
		pos++;
	return pos;
}

/* ---- recognising a message start ---- */

/*
 * Could t[0..n) start a request target for this method?  1 yes, 0 need
 * more bytes, -1 no.
 */
static int target_start(const char *m, size_t mlen, const char *t, size_t n)
{
	int partial;

	if (n == 0)
		return 0;
	if (t[0] == '/' || t[0] == '*')
		return 1;
	if (is_connect(m, mlen) &&
	    (regname_tab[(unsigned char)t[0]] || t[0] == '['))
		return 1;
	if (at_http_scheme_prefix(t, n, &partial) > 0)
		return 1;
	return partial ? 0 : -1;
}

int at_http_request_start(const char *p, size_t n)
{
	size_t i;
	size_t lim = n < METHOD_MAX ? n : METHOD_MAX;

	if (p == NULL)
		return n == 0 ? 0 : -1;
	for (i = 0; i < lim && mchar_tab[(unsigned char)p[i]]; i++)
		;
	if (i == n)
		return 0;
	if (i == 0 || p[i] != ' ')
		return -1;
	return target_start(p, i, p + i + 1, n - i - 1);
}

int at_http_response_start(const char *p, size_t n)
{
	static const char prefix[] = "HTTP/1.";
	size_t i;

	if (p == NULL)
		return n == 0 ? 0 : -1;
	/* The usual case, a whole status code at hand: one comparison and
	 * five byte tests instead of the loop (same answer). */
	if (n >= 12)
		return memcmp(p, prefix, 7) == 0 &&
			       (p[7] == '0' || p[7] == '1') && p[8] == ' ' &&
			       p[9] >= '1' && p[9] <= '9' &&
			       at_is_digit(p[10]) && at_is_digit(p[11])
		       ? 1
		       : -1;
	for (i = 0; i < n && i < 12; i++) {
		char c = p[i];

		if (i < 7) {
			if (c != prefix[i])
				return -1;
		} else if (i == 7) {
			if (c != '0' && c != '1')
				return -1;
		} else if (i == 8) {
			if (c != ' ')
				return -1;
		} else if (i == 9) {
			if (c < '1' || c > '9')
				return -1;
		} else if (!at_is_digit(c)) {
			return -1;
		}
	}
	return i == 12 ? 1 : 0;
}

size_t at_http_head_end(const char *p, size_t n, size_t from)
{
	const char *lf;

	if (p == NULL)
		return 0;
	while (from < n) {
		lf = memchr(p + from, '\n', n - from);
		if (lf == NULL)
			return 0;
		from = (size_t)(lf - p) + 1;
		if (from < n && p[from] == '\n')
			return from + 1;
		if (from + 1 < n && p[from] == '\r' && p[from + 1] == '\n')
			return from + 2;
	}
	return 0;
}

/* ---- heads ---- */

struct fields {
	struct at_http_str host;
	struct at_http_str traceparent;
	struct at_http_str tracestate;
	struct at_http_str user_agent;
	int n_host;
	int n_traceparent;
	int64_t content_length;
	int te_present;
	int te_last_chunked;  /* the final coding so far is chunked */
	int te_n_chunked;     /* how many times chunked was listed */
	int conn_close;
	int conn_keep_alive;
	int upgrade;
	unsigned eol_seen;    /* bit 0: a CRLF line end, bit 1: a bare LF */
	int n_tracestate;     /* tracestate fields */
	int n_ts_parts;       /* of which with a member, up to TS_PARTS_MAX */
	int ts_too_many;      /* more than TS_PARTS_MAX of those */
	struct at_tracestate_part *ts_parts; /* requests only; not zeroed */
	unsigned prop_present;
	int n_baggage;
	int prop_made;        /* prop is zeroed (and maybe filled) */
	/* Requests only: the other propagation fields (at_http.h).  Not
	 * zeroed by fields_init (most heads have none): prop at the first
	 * such field (prop_made), baggage[i] written before it is read (i <
	 * n_baggage). */
	struct at_prop_fields prop;
	struct at_prop_str baggage[AT_HTTP_BAGGAGE_FIELDS];
};

/* A field with a member holds at least one: more make too many members. */
#define TS_PARTS_MAX AT_TRACESTATE_MAX_MEMBERS

/* Content-Length: 1*DIGIT, at most LENGTH_MAX; -1 if invalid. */
static int64_t parse_length(const char *v, size_t n)
{
	int64_t x = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!at_is_digit(v[i]))
			return -1;
		if (x > (LENGTH_MAX - (v[i] - '0')) / 10)
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/* Connection and Transfer-Encoding list elements. */
static void conn_element(struct fields *f, const char *e, size_t n)
{
	if (EQ_NOCASE(e, n, "close"))
		f->conn_close = 1;
	else if (EQ_NOCASE(e, n, "keep-alive"))
		f->conn_keep_alive = 1;
}

static void te_element(struct fields *f, const char *e, size_t n)
{
	if (EQ_NOCASE(e, n, "chunked")) {
		f->te_last_chunked = 1;
		f->te_n_chunked++;
	} else {
		f->te_last_chunked = 0;
	}
}

/*
 * Walk the comma-separated list v[0..n), calling back for every non-empty
 * OWS-trimmed element (empty elements are ignored, RFC 9110 5.6.1).
 */
static void walk_list(struct fields *f, const char *v, size_t n,
		      void (*fn)(struct fields *, const char *, size_t))
{
	size_t start = 0;
	const char *e;
	size_t len;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != ',')
			continue;
		e = v + start;
		len = i - start;
		at_trim_ows(&e, &len);
		if (len > 0)
			fn(f, e, len);
		start = i + 1;
	}
}

/* Does v[0..n) hold anything but commas and OWS (a list member)? */
static int has_member(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			return 1;
	}
	return 0;
}

/* One tracestate field: remember its value, in order. */
static void on_tracestate(struct fields *f, const char *v, size_t n)
{
	f->n_tracestate++;
	if (f->n_tracestate == 1)
		f->tracestate = (struct at_http_str){ v, n };
	if (!f->ts_parts || !has_member(v, n))
		return;
	if (f->n_ts_parts == TS_PARTS_MAX) {
		f->ts_too_many = 1;
		return;
	}
	f->ts_parts[f->n_ts_parts].p = v;
	f->ts_parts[f->n_ts_parts].len = n;
	f->n_ts_parts++;
}

static void set_first(struct at_http_str *s, const char *v, size_t n)
{
	if (s->p == NULL) {
		s->p = v;
		s->len = n;
	}
}

static uint32_t load4(const char *p)
{
	uint32_t x;

	memcpy(&x, p, sizeof(x));
	return x;
}

/*
 * Does s[0..n) equal the lowercase literal lit (n bytes, n >= 4; letters
 * and '-' only), ASCII case-insensitively?  A word compare of s with 0x20
 * OR-ed into every byte: that folds A-Z onto a-z, and maps onto a
 * lowercase letter or '-' only its own two cases and, for '-', CR, which
 * neither a field name nor a field value holds (the caller scanned them);
 * so the answer is the bytewise one.
 */
static int eq_fold(const char *s, const char *lit, size_t n)
{
	size_t i;

	if (n < 8)
		return ((load4(s) | 0x20202020u) == load4(lit)) &&
		       ((load4(s + n - 4) | 0x20202020u) == load4(lit + n - 4));
	for (i = 0; i + 8 < n; i += 8) {
		if ((load8(s + i) | ONES * 0x20) != load8(lit + i))
			return 0;
	}
	return (load8(s + n - 8) | ONES * 0x20) == load8(lit + n - 8);
}

/* s[0..n) is the literal lit, with n its length already checked. */
#define IS_FOLD(s, lit) eq_fold(s, lit, sizeof(lit) - 1)

/* A field of one of the propagation formats other than traceparent and
 * tracestate (b3, X-B3-*, uber-trace-id, baggage): remember it. */
static void on_prop_field(struct fields *f, const char *name, size_t nl,
			  const char *v, size_t vl)
{
	enum at_prop_field which;
	unsigned bit = at_prop_field_of(name, nl, &which);
	struct at_prop_str *slot;

	f->prop_present |= bit;
	if (!bit)
		return;
	if (!f->prop_made) {
		memset(&f->prop, 0, sizeof(f->prop));
		f->prop_made = 1;
	}
	/* traceparent is counted by on_field (a head keeps its own). */
	if (which != AT_PF_TRACEPARENT &&
	    (slot = at_prop_fields_slot(&f->prop, which)) && !slot->p)
		*slot = (struct at_prop_str){ v, vl };
	if (which == AT_PF_BAGGAGE) {
		if (f->n_baggage < AT_HTTP_BAGGAGE_FIELDS)
			f->baggage[f->n_baggage] = (struct at_prop_str){ v, vl };
		f->n_baggage++;
	}
}

/* One field line: name[0..nl), trimmed value v[0..vl).  -1: malformed.
 * The name's length picks the candidates; the usual one-element values
 * of Connection and Transfer-Encoding skip the list walk (same result). */
static int on_field(struct fields *f, const char *name, size_t nl,
		    const char *v, size_t vl)
{
	int64_t cl;
	char c0 = (char)(name[0] | 0x20);

	if (c0 == 'b' || c0 == 'x' || c0 == 'u')
		on_prop_field(f, name, nl, v, vl);
	switch (nl) {
	case 4:
		if (IS_FOLD(name, "host")) {
			f->n_host++;
			set_first(&f->host, v, vl);
		}
		break;
	case 7:
		if (IS_FOLD(name, "upgrade"))
			f->upgrade = 1;
		break;
	case 10:
		if (IS_FOLD(name, "connection")) {
			if (vl == 10 && IS_FOLD(v, "keep-alive"))
				f->conn_keep_alive = 1;
			else if (vl == 5 && IS_FOLD(v, "close"))
				f->conn_close = 1;
			else
				walk_list(f, v, vl, conn_element);
		} else if (IS_FOLD(name, "user-agent")) {
			set_first(&f->user_agent, v, vl);
		} else if (IS_FOLD(name, "tracestate")) {
			on_tracestate(f, v, vl);
		}
		break;
	case 11:
		if (IS_FOLD(name, "traceparent")) {
			f->prop_present |= AT_PROP_TRACECONTEXT;
			f->n_traceparent++;
			set_first(&f->traceparent, v, vl);
		}
		break;
	case 14:
		if (IS_FOLD(name, "content-length")) {
			cl = parse_length(v, vl);
			if (cl < 0)
				return -1;
			if (f->content_length >= 0 && f->content_length != cl)
				return -1;
			f->content_length = cl;
		}
		break;
	case 17:
		if (IS_FOLD(name, "transfer-encoding")) {
			f->te_present = 1;
			if (vl == 7 && IS_FOLD(v, "chunked"))
				te_element(f, v, vl);
			else
				walk_list(f, v, vl, te_element);
		}
		break;
	default:
		break;
	}
	return 0;
}

/* End of the run of tchar bytes starting at p[pos] (a field name). */
static size_t skip_tchars(const char *p, size_t n, size_t pos)
{
#ifdef __SSE2__
	/* The usual names (Host, Content-Length, traceparent) are letters,
	 * digits and '-', a subset of tchar: 16 bytes classified at once
	 * skip those; the loops below go on from the first other byte (the
	 * ':' that ends the name, nearly always), with the same answer. */
	while (n - pos >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + pos));
		__m128i l = _mm_or_si128(x, _mm_set1_epi8(0x20));
		__m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(l, _mm_set1_epi8('a' - 1)),
					      _mm_cmplt_epi8(l, _mm_set1_epi8('z' + 1)));
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
					      _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
		__m128i ok = _mm_or_si128(_mm_or_si128(alpha, digit),
					  _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
		unsigned m = ~(unsigned)_mm_movemask_epi8(ok) & 0xffffu;

		if (m) {
			pos += (size_t)__builtin_ctz(m);
			if (p[pos] == ':')
				return pos; /* not a tchar: the loops' answer */
			break;
		}
		pos += 16;
	}
#endif
	while (n - pos >= 4 && is_tchar(p[pos]) && is_tchar(p[pos + 1]) &&
	       is_tchar(p[pos + 2]) && is_tchar(p[pos + 3]))
		pos += 4;
	while (pos < n && is_tchar(p[pos]))
		pos++;
	return pos;
}

/*
 * Skip a line end at p[pos]: returns the offset past it, or 0 if p[pos]
 * is not CRLF / LF (pos < n is assumed).
 */
static size_t line_end(const char *p, size_t n, size_t pos)
{
	if (p[pos] == '\n')
		return pos + 1;
	if (p[pos] == '\r' && pos + 1 < n && p[pos + 1] == '\n')
		return pos + 2;
	return 0;
}

/* Record the kind of the line end p[pos..next). */
static void note_eol(struct fields *f, size_t pos, size_t next)
{
	f->eol_seen |= next - pos == 2 ? 1u : 2u;
}

/*
 * Field lines from pos up to and including the empty line.  Returns the
 * offset past the empty line, 0 if malformed or incomplete.
 */
static size_t parse_fields(const char *p, size_t n, size_t pos,
			   struct fields *f)
{
	unsigned crlf = 0; /* a field line ended with CRLF (eol_seen bit 0) */

	for (;;) {
		size_t name, name_len, v, vend, next;
		const char *val;
		size_t vl;

		if (pos >= n)
			return 0;
		/* A field line starts with its name, a tchar (above SP):
		 * only a byte up to CR may start the empty line. */
		if ((unsigned char)p[pos] <= '\r') {
			next = line_end(p, n, pos);
			if (next == 0)
				return 0;
			f->eol_seen |= crlf;
			note_eol(f, pos, next);
			return next; /* the empty line */
		}
		name = pos;
		pos = skip_tchars(p, n, pos);
		if (pos == name || pos >= n || p[pos] != ':')
			return 0;
		name_len = pos - name;
		/* The value starts after its leading OWS (field bytes:
		 * skip_field would pass them too). */
		v = ++pos;
		while (v < n && (p[v] == ' ' || p[v] == '\t'))
			v++;
		pos = skip_field(p, n, v);
		if (pos >= n)
			return 0;
		if (n - pos >= 2 && memcmp(p + pos, "\r\n", 2) == 0) {
			next = pos + 2; /* the usual CRLF: line_end's answer */
			crlf = 1u;
		} else {
			next = line_end(p, n, pos);
			if (next == 0)
				return 0;
			note_eol(f, pos, next);
		}
		/* ... and ends before its trailing OWS. */
		vend = pos;
		while (vend > v && (p[vend - 1] == ' ' || p[vend - 1] == '\t'))
			vend--;
		val = p + v;
		vl = vend - v;
		if (on_field(f, p + name, name_len, val, vl) < 0)
			return 0;
		pos = next;
	}
}

static void fields_init(struct fields *f)
{
	memset(f, 0, offsetof(struct fields, prop));
	f->content_length = -1;
}

/* "HTTP/1.0" or "HTTP/1.1" at p[pos..): the minor version, or -1. */
static int parse_version(const char *p, size_t n, size_t pos)
{
	if (n - pos < 8 || memcmp(p + pos, "HTTP/1.", 7) != 0)
		return -1;
	if (p[pos + 7] == '0')
		return 0;
	if (p[pos + 7] == '1')
		return 1;
	return -1;
}

/* Common framing checks; *chunked gets the effective chunked flag. */
static int check_framing(const struct fields *f, int minor, int is_request,
			 int *chunked)
{
	int te_chunked = f->te_last_chunked && f->te_n_chunked == 1;

	*chunked = 0;
	if (!f->te_present)
		return 0;
	if (minor == 0 || f->content_length >= 0)
		return -1;
	if (!te_chunked)
		return is_request ? -1 : 0;
	*chunked = 1;
	return 0;
}

/* Is the complete target t[0..n) acceptable for this method? */
static int target_valid(const char *m, size_t mlen, const char *t, size_t n)
{
	struct at_http_str name;
	int partial, port;

	if (t[0] == '/')
		return 1;
	if (t[0] == '*')
		return n == 1;
	if (at_http_scheme_prefix(t, n, &partial) > 0)
		return 1;
	if (is_connect(m, mlen))
		return at_http_host_port(t, n, &name, &port) == 0 && port >= 0;
	return 0;
}

/* r->tracestate from the fields (r's other members are set). */
static void request_tracestate(struct at_http_request *r,
			       const struct fields *f)
{
	int len;

	r->n_tracestate = f->n_tracestate;
	r->tracestate = f->tracestate;
	if (f->n_tracestate <= 1)
		return;
	r->tracestate.p = NULL;
	r->tracestate.len = 0;
	if (f->ts_too_many) {
		r->tracestate_buf[0] = '\0';
		return;
	}
	len = at_tracestate_sanitize_parts(f->ts_parts, (size_t)f->n_ts_parts,
					   r->tracestate_buf,
					   sizeof(r->tracestate_buf));
	if (len >= 0) {
		r->tracestate.p = r->tracestate_buf;
		r->tracestate.len = (size_t)len;
	}
}

int at_http_parse_request(const char *p, size_t n, struct at_http_request *r)
{
	struct at_tracestate_part ts_parts[TS_PARTS_MAX];
	struct fields f;
	size_t pos, lim, m_len, t0, t_len, end, head_len;
	int minor, chunked;

	if (p == NULL || r == NULL)
		return -1;
	if (n > AT_HTTP_HEAD_MAX)
		n = AT_HTTP_HEAD_MAX;

	/* method */
	lim = n <= METHOD_MAX ? n : METHOD_MAX + 1;
	for (pos = 0; pos < lim && method_tab[(unsigned char)p[pos]]; pos++)
		;
	m_len = pos;
	if (m_len == 0 || m_len > METHOD_MAX || pos >= n || p[pos] != ' ')
		return -1;
	pos++;

	/* target: visible ASCII */
	t0 = pos;
	pos = skip_target(p, n, pos);
	t_len = pos - t0;
	if (t_len == 0 || pos >= n || p[pos] != ' ')
		return -1;
	if (!target_valid(p, m_len, p + t0, t_len))
		return -1;
	pos++;

	/* version and line end */
	minor = parse_version(p, n, pos);
	if (minor < 0)
		return -1;
	pos += 8;
	if (pos >= n)
		return -1;
	end = line_end(p, n, pos);
	if (end == 0)
		return -1;

	fields_init(&f);
	f.ts_parts = ts_parts;
	note_eol(&f, pos, end);
	head_len = parse_fields(p, n, end, &f);
	if (head_len == 0)
		return -1;
	if (f.n_host > 1 || check_framing(&f, minor, 1, &chunked) < 0)
		return -1;

	/* Accepted: the outputs, written once (nothing before). */
	r->head_len = head_len;
	r->chunked = chunked;
	r->method.p = p;
	r->method.len = m_len;
	r->target.p = p + t0;
	r->target.len = t_len;
	r->version_minor = minor;
	r->host = f.host;
	r->traceparent = f.traceparent;
	r->n_traceparent = f.n_traceparent;
	r->user_agent = f.user_agent;
	r->content_length = f.content_length;
	r->conn_close = f.conn_close;
	r->conn_keep_alive = f.conn_keep_alive;
	r->upgrade = f.upgrade;
	r->request_line_end = end;
	if (f.prop_made)
		r->prop = f.prop;
	else
		memset(&r->prop, 0, sizeof(r->prop));
	r->prop_present = f.prop_present;
	r->n_baggage = f.n_baggage;
	memset(r->baggage, 0, sizeof(r->baggage));
	if (f.n_baggage)
		memcpy(r->baggage, f.baggage,
		       (f.n_baggage < AT_HTTP_BAGGAGE_FIELDS
				? (size_t)f.n_baggage
				: AT_HTTP_BAGGAGE_FIELDS) *
			       sizeof(r->baggage[0]));
	r->line_ending = f.eol_seen == 1   ? AT_HTTP_EOL_CRLF
			 : f.eol_seen == 2 ? AT_HTTP_EOL_LF
					   : AT_HTTP_EOL_MIXED;
	request_tracestate(r, &f);
	return 0;
}

int at_http_request_context(const struct at_http_request *r,
			    const uint8_t *order, int n,
			    struct at_span_context *out, char *ts, size_t cap,
			    int *ts_n)
{
	struct at_prop_fields f;
	unsigned got;

	/* No field of a format that carries a context (the usual outgoing
	 * request): nothing to read. */
	if (!r->n_traceparent &&
	    !(r->prop_present & (AT_PROP_TRACECONTEXT | AT_PROP_B3 |
				 AT_PROP_B3MULTI | AT_PROP_JAEGER)))
		return 0;
	f = r->prop;
	f.traceparent = (struct at_prop_str){ r->traceparent.p,
					      r->traceparent.len };
	f.n_traceparent = r->n_traceparent;
	got = at_prop_extract(&f, order, n, out);
	if (got == AT_PROP_TRACECONTEXT && r->tracestate.p)
		*ts_n = at_tracestate_sanitize(r->tracestate.p,
					       r->tracestate.len, ts, cap);
	return got != 0;
}

int at_http_parse_response(const char *p, size_t n, struct at_http_response *r)
{
	struct at_http_response out;
	struct fields f;
	size_t pos, end;
	int minor;

	if (p == NULL || r == NULL)
		return -1;
	if (n > AT_HTTP_HEAD_MAX)
		n = AT_HTTP_HEAD_MAX;
	if (at_http_response_start(p, n) != 1)
		return -1;
	minor = p[7] - '0';
	out.status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	pos = 12;
	if (pos < n && p[pos] == ' ')
		pos = skip_field(p, n, pos + 1);
	if (pos >= n)
		return -1;
	end = line_end(p, n, pos);
	if (end == 0)
		return -1;

	fields_init(&f);
	out.head_len = parse_fields(p, n, end, &f);
	if (out.head_len == 0)
		return -1;
	if (check_framing(&f, minor, 0, &out.chunked) < 0)
		return -1;
	out.version_minor = minor;
	out.content_length = f.content_length;
	out.conn_close = f.conn_close;
	out.conn_keep_alive = f.conn_keep_alive;
	*r = out;
	return 0;
}

/* ---- semantic-convention values ---- */

const char *at_http_known_method(const char *m, size_t len)
{
	/* By length, then one comparison: a method is named on every
	 * request span. */
	if (m == NULL)
		return NULL;
	switch (len) {
	case 3:
		return memcmp(m, "GET", 3) == 0   ? "GET"
		       : memcmp(m, "PUT", 3) == 0 ? "PUT"
						  : NULL;
	case 4:
		return memcmp(m, "POST", 4) == 0   ? "POST"
		       : memcmp(m, "HEAD", 4) == 0 ? "HEAD"
						   : NULL;
	case 5:
		return memcmp(m, "PATCH", 5) == 0   ? "PATCH"
		       : memcmp(m, "TRACE", 5) == 0 ? "TRACE"
						    : NULL;
	case 6:
		return memcmp(m, "DELETE", 6) == 0 ? "DELETE" : NULL;
	case 7:
		return memcmp(m, "OPTIONS", 7) == 0   ? "OPTIONS"
		       : memcmp(m, "CONNECT", 7) == 0 ? "CONNECT"
						      : NULL;
	default:
		return NULL;
	}
}
