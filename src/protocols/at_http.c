/*
 * at_http.c - HTTP/1.x message parsing for the socket hooks.
 *
 * Design
 * ------
 * Everything runs inside read()/write() hooks of arbitrary programs, so
 * every function is a pure function over caller-owned memory: no
 * allocation, no stdio, no locale, no system call, no mutable global state
 * (the character tables below are const).  Every read is bounded by the
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
 * first Host, traceparent, tracestate and User-Agent are kept, OWS-trimmed,
 * and the traceparent lines are counted.  Outputs are written only on
 * success.
 *
 * The chunked decoder is a byte-at-a-time state machine (the state lives
 * in struct at_http_body), except that chunk data is skipped in one step,
 * so any split of the input gives the same result.  It validates the whole
 * grammar: chunk-size (hex, either case, at most 2^62), chunk extensions
 * (BWS ';' BWS token [BWS '=' BWS (token / quoted-string)]), the CRLF after
 * the size line and after each chunk's data, the last chunk, trailer field
 * lines and the final CRLF.  Inside the chunked coding only CRLF line ends
 * are accepted.  Once it fails it keeps failing.
 *
 * URL helpers build url.full (user info -> REDACTED:REDACTED, also in a
 * Host value; query values and matrix parameters redacted, fragment
 * dropped; a host with two or more ':' and no brackets is an IPv6 literal
 * and gets brackets; "*" gives scheme://host and an authority-form target
 * scheme://authority), split a target into url.path and url.query (an
 * absolute-form target's path is the part after its authority; an
 * authority-form target has neither), redact them, and split a Host value
 * into server.address (without the brackets of an IPv6 literal) and
 * server.port (an empty port is absent; an empty host is an error).
 * Redaction works on members: those of a query are separated by '&' or
 * ';', those of a path segment's matrix parameters ("/x;jsessionid=1;v")
 * follow its first ';', separated by ';'.  A member "key=value" keeps its
 * key: "a=1&c=" becomes "a=REDACTED&c=REDACTED" (a present '=' means a
 * value, even an empty one) - every value when redact_all, else only those
 * of the sensitive keys.  A member without '=' ("/reset?TOKEN") may be the
 * secret itself (a token, a session id), so it always becomes REDACTED,
 * whatever redact_all says; an empty member stays empty.  Sensitive keys
 * are those the HTTP conventions name, matched exactly (case-sensitive,
 * not percent-decoded), and jsessionid (any case: a servlet session id,
 * a credential by definition).
 *
 * Speed: recognition is a few ns; the long runs of a head (target, field
 * values, reason phrase) are scanned 8 bytes at a time with word tricks, the
 * rest bytewise through 256-byte tables; a typical 300-byte request head
 * parses in about 0.2 us.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_http.h"

#define METHOD_MAX 16
#define SCHEME_MAX 32
#define CHUNK_SIZE_MAX ((uint64_t)1 << 62)
#define LENGTH_MAX ((int64_t)1 << 62)

/* ---- character classes (ASCII only) ---- */

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static const unsigned char tchar_tab[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* Field value / reason phrase: HTAB / SP / VCHAR / obs-text. */
static const unsigned char field_tab[256] = {
	['\t'] = 1, [0x20 ... 0x7e] = 1, [0x80 ... 0xff] = 1,
};

/* Methods request_start considers: A-Z, '-', '_'. */
static const unsigned char mchar_tab[256] = {
	['A' ... 'Z'] = 1, ['-'] = 1, ['_'] = 1,
};

/* reg-name without '%': unreserved / sub-delims. */
static const unsigned char regname_tab[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
	['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
	['!'] = 1, ['$'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1,
	['*'] = 1, ['+'] = 1, [','] = 1, [';'] = 1, ['='] = 1,
};

static int is_tchar(char c)
{
	return tchar_tab[(unsigned char)c];
}

static int is_field_char(char c)
{
	return field_tab[(unsigned char)c];
}

/* s[0..n) equals the lowercase literal lit, ASCII case-insensitively. */
static int eq_nocase(const char *s, size_t n, const char *lit, size_t lit_len)
{
	if (n != lit_len)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (at_to_lower(s[i]) != lit[i])
			return 0;
	}
	return 1;
}

#define EQ_NOCASE(s, n, lit) eq_nocase(s, n, lit, sizeof(lit) - 1)

static int eq_exact(const char *s, size_t n, const char *lit, size_t lit_len)
{
	return n == lit_len && memcmp(s, lit, n) == 0;
}

#define EQ_EXACT(s, n, lit) eq_exact(s, n, lit, sizeof(lit) - 1)

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

/* End of the run of field-value bytes starting at p[pos] (HTAB words
 * take the slow path; they are rare). */
static size_t skip_field(const char *p, size_t n, size_t pos)
{
	size_t end;

	for (;;) {
		while (n - pos >= 8) {
			uint64_t x = load8(p + pos);

			if (has_less(x, 0x20) || has_byte(x, 0x7f))
				break;
			pos += 8;
		}
		end = n - pos > 8 ? pos + 8 : n;
		while (pos < end && is_field_char(p[pos]))
			pos++;
		if (pos < end || pos == n)
			return pos;
	}
}

static int is_target_char(char c)
{
	return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f;
}

/* End of the run of visible ASCII bytes (0x21-0x7e) starting at p[pos]. */
static size_t skip_target(const char *p, size_t n, size_t pos)
{
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
 * Length of "scheme://" at the start of t[0..n), 0 if t does not start
 * with one; *partial is set when t is a proper prefix of a possible one.
 */
static size_t scheme_prefix(const char *t, size_t n, int *partial)
{
	size_t i;

	*partial = 0;
	if (n == 0) {
		*partial = 1;
		return 0;
	}
	if (!at_is_alpha(t[0]))
		return 0;
	for (i = 1; i < n && i <= SCHEME_MAX; i++) {
		char c = t[i];

		if (at_is_alpha(c) || at_is_digit(c) || c == '+' || c == '-' ||
		    c == '.')
			continue;
		break;
	}
	if (i > SCHEME_MAX)
		return 0;
	if (i == n) {
		*partial = 1;
		return 0;
	}
	/* t[i] must start "://" */
	for (size_t k = 0; k < 3; k++) {
		if (i + k == n) {
			*partial = 1;
			return 0;
		}
		if (t[i + k] != "://"[k])
			return 0;
	}
	return i + 3;
}

static int is_connect(const char *m, size_t mlen)
{
	return EQ_EXACT(m, mlen, "CONNECT");
}

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
	if (scheme_prefix(t, n, &partial) > 0)
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
};

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

static void set_first(struct at_http_str *s, const char *v, size_t n)
{
	if (s->p == NULL) {
		s->p = v;
		s->len = n;
	}
}

/* One field line: name[0..nl), trimmed value v[0..vl).  -1: malformed. */
static int on_field(struct fields *f, const char *name, size_t nl,
		    const char *v, size_t vl)
{
	int64_t cl;

	switch (nl) {
	case 4:
		if (EQ_NOCASE(name, nl, "host")) {
			f->n_host++;
			set_first(&f->host, v, vl);
		}
		break;
	case 7:
		if (EQ_NOCASE(name, nl, "upgrade"))
			f->upgrade = 1;
		break;
	case 10:
		if (EQ_NOCASE(name, nl, "connection"))
			walk_list(f, v, vl, conn_element);
		else if (EQ_NOCASE(name, nl, "user-agent"))
			set_first(&f->user_agent, v, vl);
		else if (EQ_NOCASE(name, nl, "tracestate"))
			set_first(&f->tracestate, v, vl);
		break;
	case 11:
		if (EQ_NOCASE(name, nl, "traceparent")) {
			f->n_traceparent++;
			set_first(&f->traceparent, v, vl);
		}
		break;
	case 14:
		if (EQ_NOCASE(name, nl, "content-length")) {
			cl = parse_length(v, vl);
			if (cl < 0)
				return -1;
			if (f->content_length >= 0 && f->content_length != cl)
				return -1;
			f->content_length = cl;
		}
		break;
	case 17:
		if (EQ_NOCASE(name, nl, "transfer-encoding")) {
			f->te_present = 1;
			walk_list(f, v, vl, te_element);
		}
		break;
	default:
		break;
	}
	return 0;
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
	for (;;) {
		size_t name, name_len, v, next;
		const char *val;
		size_t vl;

		if (pos >= n)
			return 0;
		next = line_end(p, n, pos);
		if (next > 0) {
			note_eol(f, pos, next);
			return next; /* the empty line */
		}
		name = pos;
		while (pos < n && is_tchar(p[pos]))
			pos++;
		if (pos == name || pos >= n || p[pos] != ':')
			return 0;
		name_len = pos - name;
		v = ++pos;
		pos = skip_field(p, n, pos);
		if (pos >= n)
			return 0;
		next = line_end(p, n, pos);
		if (next == 0)
			return 0;
		note_eol(f, pos, next);
		val = p + v;
		vl = pos - v;
		at_trim_ows(&val, &vl);
		if (on_field(f, p + name, name_len, val, vl) < 0)
			return 0;
		pos = next;
	}
}

static void fields_init(struct fields *f)
{
	memset(f, 0, sizeof(*f));
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
	if (scheme_prefix(t, n, &partial) > 0)
		return 1;
	if (is_connect(m, mlen))
		return at_http_host_port(t, n, &name, &port) == 0 && port >= 0;
	return 0;
}

int at_http_parse_request(const char *p, size_t n, struct at_http_request *r)
{
	struct at_http_request out;
	struct fields f;
	size_t pos, m_len, t0, t_len, end;
	int minor;

	if (p == NULL || r == NULL)
		return -1;
	if (n > AT_HTTP_HEAD_MAX)
		n = AT_HTTP_HEAD_MAX;

	/* method */
	for (pos = 0; pos < n && pos <= METHOD_MAX && is_tchar(p[pos]); pos++) {
		if (p[pos] >= 'a' && p[pos] <= 'z')
			return -1;
	}
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
	note_eol(&f, pos, end);
	out.head_len = parse_fields(p, n, end, &f);
	if (out.head_len == 0)
		return -1;
	if (f.n_host > 1 || check_framing(&f, minor, 1, &out.chunked) < 0)
		return -1;

	out.method.p = p;
	out.method.len = m_len;
	out.target.p = p + t0;
	out.target.len = t_len;
	out.version_minor = minor;
	out.host = f.host;
	out.traceparent = f.traceparent;
	out.n_traceparent = f.n_traceparent;
	out.tracestate = f.tracestate;
	out.user_agent = f.user_agent;
	out.content_length = f.content_length;
	out.conn_close = f.conn_close;
	out.conn_keep_alive = f.conn_keep_alive;
	out.upgrade = f.upgrade;
	out.request_line_end = end;
	out.line_ending = f.eol_seen == 1   ? AT_HTTP_EOL_CRLF
			  : f.eol_seen == 2 ? AT_HTTP_EOL_LF
					    : AT_HTTP_EOL_MIXED;
	*r = out;
	return 0;
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

/* ---- body framing ---- */

static void body_set(struct at_http_body *b, enum at_http_body_mode mode,
		     uint64_t remaining)
{
	b->mode = mode;
	b->remaining = remaining;
	b->state = 0;
	b->size = 0;
	b->digits = 0;
}

void at_http_body_request(struct at_http_body *b,
			  const struct at_http_request *r)
{
	if (r->chunked)
		body_set(b, AT_BODY_CHUNKED, 0);
	else if (r->content_length > 0)
		body_set(b, AT_BODY_LENGTH, (uint64_t)r->content_length);
	else
		body_set(b, AT_BODY_NONE, 0);
}

void at_http_body_response(struct at_http_body *b,
			   const struct at_http_response *r,
			   const char *req_method, size_t req_method_len)
{
	int st = r->status;

	if ((req_method != NULL && EQ_EXACT(req_method, req_method_len,
					    "HEAD")) ||
	    (st >= 100 && st < 200) || st == 204 || st == 304 ||
	    (req_method != NULL && is_connect(req_method, req_method_len) &&
	     st >= 200 && st < 300))
		body_set(b, AT_BODY_NONE, 0);
	else if (r->chunked)
		body_set(b, AT_BODY_CHUNKED, 0);
	else if (r->content_length > 0)
		body_set(b, AT_BODY_LENGTH, (uint64_t)r->content_length);
	else if (r->content_length == 0)
		body_set(b, AT_BODY_NONE, 0);
	else
		body_set(b, AT_BODY_UNTIL_CLOSE, 0);
}

/* Chunked decoder states (struct at_http_body.state). */
enum {
	CS_SIZE = 0,     /* chunk-size hex digits (b->digits: how many) */
	CS_SIZE_BWS,     /* BWS after the size: only ';' may follow */
	CS_EXT_NAME0,    /* after ';': BWS, then the name's first tchar */
	CS_EXT_NAME,     /* in the extension name */
	CS_EXT_NAME_BWS, /* BWS after the name: '=' ';' or CR */
	CS_EXT_VAL0,     /* after '=': BWS, then token or quoted-string */
	CS_EXT_TOKEN,    /* in a token value */
	CS_EXT_QS,       /* in a quoted-string value */
	CS_EXT_QS_ESC,   /* after '\\' in a quoted string */
	CS_EXT_VAL_BWS,  /* after a value: BWS, ';' or CR */
	CS_SIZE_LF,      /* CR seen at the end of the size line */
	CS_DATA,         /* b->remaining bytes of data */
	CS_DATA_CR,      /* CRLF after the data */
	CS_DATA_LF,
	CS_TRAILER,      /* start of a trailer line or of the final CRLF */
	CS_TR_NAME,      /* in a trailer field name */
	CS_TR_VALUE,     /* in a trailer field value */
	CS_TR_LF,        /* CR seen at the end of a trailer line */
	CS_FINAL_LF,     /* CR of the final CRLF seen */
	CS_DONE,
	CS_ERROR,
};

/* quoted-string text: qdtext = HTAB / SP / 0x21 / 0x23-5B / 0x5D-7E /
 * obs-text. */
static int is_qdtext(char c)
{
	return is_field_char(c) && c != '"' && c != '\\';
}

/* Next state after c in the size line / extensions, or CS_ERROR. */
static int size_line_step(struct at_http_body *b, char c)
{
	int h;

	switch (b->state) {
	case CS_SIZE:
		h = at_hex_value(c);
		if (h >= 0) {
			if (b->size > (CHUNK_SIZE_MAX - (uint64_t)h) / 16)
				return CS_ERROR;
			b->size = b->size * 16 + (uint64_t)h;
			b->digits = 1;
			return CS_SIZE;
		}
		if (!b->digits)
			return CS_ERROR;
		if (c == '\r')
			return CS_SIZE_LF;
		if (c == ';')
			return CS_EXT_NAME0;
		return at_is_ows(c) ? CS_SIZE_BWS : CS_ERROR;
	case CS_SIZE_BWS:
		if (c == ';')
			return CS_EXT_NAME0;
		return at_is_ows(c) ? CS_SIZE_BWS : CS_ERROR;
	case CS_EXT_NAME0:
		if (at_is_ows(c))
			return CS_EXT_NAME0;
		return is_tchar(c) ? CS_EXT_NAME : CS_ERROR;
	case CS_EXT_NAME:
		if (is_tchar(c))
			return CS_EXT_NAME;
		/* fall through */
	case CS_EXT_NAME_BWS:
		if (at_is_ows(c))
			return CS_EXT_NAME_BWS;
		if (c == '=')
			return CS_EXT_VAL0;
		if (c == ';')
			return CS_EXT_NAME0;
		return c == '\r' ? CS_SIZE_LF : CS_ERROR;
	case CS_EXT_VAL0:
		if (at_is_ows(c))
			return CS_EXT_VAL0;
		if (c == '"')
			return CS_EXT_QS;
		return is_tchar(c) ? CS_EXT_TOKEN : CS_ERROR;
	case CS_EXT_QS:
		if (c == '"')
			return CS_EXT_VAL_BWS;
		if (c == '\\')
			return CS_EXT_QS_ESC;
		return is_qdtext(c) ? CS_EXT_QS : CS_ERROR;
	case CS_EXT_QS_ESC:
		return is_field_char(c) ? CS_EXT_QS : CS_ERROR;
	case CS_EXT_TOKEN:
		if (is_tchar(c))
			return CS_EXT_TOKEN;
		/* fall through */
	case CS_EXT_VAL_BWS:
		if (at_is_ows(c))
			return CS_EXT_VAL_BWS;
		if (c == ';')
			return CS_EXT_NAME0;
		return c == '\r' ? CS_SIZE_LF : CS_ERROR;
	default:
		return CS_ERROR;
	}
}

/* One byte outside chunk data: the next state. */
static int chunked_step(struct at_http_body *b, char c)
{
	switch (b->state) {
	case CS_SIZE_LF:
		if (c != '\n')
			return CS_ERROR;
		if (b->size == 0)
			return CS_TRAILER;
		b->remaining = b->size;
		return CS_DATA;
	case CS_DATA_CR:
		return c == '\r' ? CS_DATA_LF : CS_ERROR;
	case CS_DATA_LF:
		if (c != '\n')
			return CS_ERROR;
		b->size = 0;
		b->digits = 0;
		return CS_SIZE;
	case CS_TRAILER:
		if (c == '\r')
			return CS_FINAL_LF;
		return is_tchar(c) ? CS_TR_NAME : CS_ERROR;
	case CS_TR_NAME:
		if (c == ':')
			return CS_TR_VALUE;
		return is_tchar(c) ? CS_TR_NAME : CS_ERROR;
	case CS_TR_VALUE:
		if (c == '\r')
			return CS_TR_LF;
		return is_field_char(c) ? CS_TR_VALUE : CS_ERROR;
	case CS_TR_LF:
		return c == '\n' ? CS_TRAILER : CS_ERROR;
	case CS_FINAL_LF:
		return c == '\n' ? CS_DONE : CS_ERROR;
	default:
		return size_line_step(b, c);
	}
}

static ssize_t chunked_feed(struct at_http_body *b, const char *p, size_t n,
			    int *done)
{
	size_t i = 0;

	if (b->state == CS_ERROR)
		return -1;
	while (i < n && b->state != CS_DONE) {
		if (b->state == CS_DATA) {
			size_t take = n - i;

			if (take > b->remaining)
				take = (size_t)b->remaining;
			i += take;
			b->remaining -= take;
			if (b->remaining == 0)
				b->state = CS_DATA_CR;
			continue;
		}
		b->state = chunked_step(b, p[i++]);
		if (b->state == CS_ERROR)
			return -1;
	}
	if (b->state == CS_DONE)
		*done = 1;
	return (ssize_t)i;
}

ssize_t at_http_body_feed(struct at_http_body *b, const char *p, size_t n,
			  int *done)
{
	size_t take;

	*done = 0;
	if (p == NULL)
		n = 0;
	switch (b->mode) {
	case AT_BODY_NONE:
		*done = 1;
		return 0;
	case AT_BODY_LENGTH:
		take = n;
		if (take > b->remaining)
			take = (size_t)b->remaining;
		b->remaining -= take;
		*done = b->remaining == 0;
		return (ssize_t)take;
	case AT_BODY_CHUNKED:
		return chunked_feed(b, p, n, done);
	case AT_BODY_UNTIL_CLOSE:
		return (ssize_t)n;
	default:
		return -1;
	}
}

/* ---- semantic-convention values ---- */

const char *at_http_known_method(const char *m, size_t len)
{
	static const char *const known[] = {
		"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS",
		"PATCH", "POST", "PUT", "TRACE",
	};

	if (m == NULL || len < 3 || len > 7)
		return NULL;
	for (size_t i = 0; i < AT_ARRAY_SIZE(known); i++) {
		if (strlen(known[i]) == len && memcmp(known[i], m, len) == 0)
			return known[i];
	}
	return NULL;
}

/* Bounded output: always NUL-terminated, silently cut at cap - 1. */
struct out_buf {
	char *p;
	size_t cap;
	size_t len;
};

static void out_init(struct out_buf *o, char *p, size_t cap)
{
	o->p = p;
	o->cap = p == NULL ? 0 : cap;
	o->len = 0;
	if (o->cap > 0)
		p[0] = '\0';
}

static void out_put(struct out_buf *o, const char *s, size_t n)
{
	size_t room;

	if (o->cap == 0 || n == 0)
		return;
	room = o->cap - 1 - o->len;
	if (n > room)
		n = room;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

#define OUT_LIT(o, lit) out_put(o, lit, sizeof(lit) - 1)

static int key_sensitive(const char *k, size_t n)
{
	return EQ_EXACT(k, n, "AWSAccessKeyId") ||
	       EQ_EXACT(k, n, "Signature") || EQ_EXACT(k, n, "sig") ||
	       EQ_EXACT(k, n, "X-Goog-Signature") ||
	       EQ_NOCASE(k, n, "jsessionid");
}

/* One member m[0..len) of a query or of matrix parameters. */
static void redact_member(struct out_buf *o, const char *m, size_t len,
			  int redact_all)
{
	const char *eq = len > 0 ? memchr(m, '=', len) : NULL;
	size_t klen = eq != NULL ? (size_t)(eq - m) : len;

	if (len == 0)
		return;
	if (eq == NULL) {
		OUT_LIT(o, "REDACTED"); /* a bare token: maybe the secret */
	} else if (redact_all || key_sensitive(m, klen)) {
		out_put(o, m, klen + 1);
		OUT_LIT(o, "REDACTED");
	} else {
		out_put(o, m, len);
	}
}

/* The members of q[0..n), separated by ';' and, if amp, '&'. */
static void redact_members(struct out_buf *o, const char *q, size_t n,
			   int amp, int redact_all)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && q[i] != ';' && !(amp && q[i] == '&'))
			continue;
		redact_member(o, q + start, i - start, redact_all);
		if (i < n)
			out_put(o, q + i, 1);
		start = i + 1;
	}
}

/* A path p[0..n): each segment's matrix parameters (after its first ';',
 * up to the next '/') redacted. */
static void redact_path(struct out_buf *o, const char *p, size_t n,
			int redact_all)
{
	size_t i = 0, semi, e;

	while (i < n) {
		const char *c = memchr(p + i, ';', n - i);

		semi = c != NULL ? (size_t)(c - p) : n;
		out_put(o, p + i, semi - i);
		if (semi == n)
			return;
		for (e = semi + 1; e < n && p[e] != '/'; e++)
			;
		OUT_LIT(o, ";");
		redact_members(o, p + semi + 1, e - semi - 1, 0, redact_all);
		i = e;
	}
}

size_t at_http_redact_query(char *out, size_t cap, const char *q, size_t n,
			    int redact_all)
{
	struct out_buf o;

	out_init(&o, out, cap);
	if (q != NULL)
		redact_members(&o, q, n, 1, redact_all);
	return o.len;
}

size_t at_http_redact_path(char *out, size_t cap, const char *p, size_t n,
			   int redact_all)
{
	struct out_buf o;

	out_init(&o, out, cap);
	if (p != NULL)
		redact_path(&o, p, n, redact_all);
	return o.len;
}

/* Length of the part of t[0..n) before any '?' or '#'. */
static size_t path_len(const char *t, size_t n)
{
	size_t i = 0;

	while (i < n && t[i] != '?' && t[i] != '#')
		i++;
	return i;
}

/* Path, then "?" and the query if any, redacted; the fragment dropped. */
static void put_path_query(struct out_buf *o, const char *t, size_t n,
			   int redact_all)
{
	size_t pl = path_len(t, n);
	size_t qe;

	redact_path(o, t, pl, redact_all);
	if (pl == n || t[pl] != '?')
		return;
	for (qe = pl + 1; qe < n && t[qe] != '#'; qe++)
		;
	OUT_LIT(o, "?");
	redact_members(o, t + pl + 1, qe - pl - 1, 1, redact_all);
}

size_t at_http_url_full(char *out, size_t cap, const char *scheme,
			const char *host, size_t host_len, const char *target,
			size_t target_len, int redact_all)
{
	struct out_buf o;
	size_t sl, a_end, at, colons = 0;
	int partial;

	out_init(&o, out, cap);
	if (target == NULL)
		target_len = 0;
	if (host == NULL)
		host_len = 0;
	sl = target_len > 0 ? scheme_prefix(target, target_len, &partial) : 0;
	if (sl > 0) {
		/* absolute-form: authority ends at '/', '?', '#' or the end */
		for (a_end = sl; a_end < target_len; a_end++) {
			char c = target[a_end];

			if (c == '/' || c == '?' || c == '#')
				break;
		}
		at = a_end;
		for (size_t i = sl; i < a_end; i++) {
			if (target[i] == '@')
				at = i;
		}
		out_put(&o, target, sl);
		if (at < a_end) {
			OUT_LIT(&o, "REDACTED:REDACTED@");
			out_put(&o, target + at + 1, a_end - at - 1);
		} else {
			out_put(&o, target + sl, a_end - sl);
		}
		put_path_query(&o, target + a_end, target_len - a_end,
			       redact_all);
		return o.len;
	}

	if (scheme == NULL)
		scheme = "http";
	out_put(&o, scheme, strlen(scheme));
	OUT_LIT(&o, "://");
	if (target_len > 0 && target[0] != '/' && target[0] != '*') {
		/* authority-form (CONNECT): the target is the authority */
		out_put(&o, target, path_len(target, target_len));
		return o.len;
	}
	/* User info has no place in a Host value; redacted if it is there. */
	for (size_t i = host_len; i > 0; i--) {
		if (host[i - 1] == '@') {
			OUT_LIT(&o, "REDACTED:REDACTED@");
			host += i;
			host_len -= i;
			break;
		}
	}
	for (size_t i = 0; i < host_len; i++)
		colons += host[i] == ':';
	if (colons >= 2 && host[0] != '[') {
		OUT_LIT(&o, "[");
		out_put(&o, host, host_len);
		OUT_LIT(&o, "]");
	} else {
		out_put(&o, host, host_len);
	}
	/* origin-form; "*" (asterisk-form) adds nothing */
	if (target_len > 0 && target[0] == '/')
		put_path_query(&o, target, target_len, redact_all);
	return o.len;
}

void at_http_split_target(const char *target, size_t len,
			  struct at_http_str *path, struct at_http_str *query)
{
	size_t start = 0, pl, qe;
	int partial;

	path->p = NULL;
	path->len = 0;
	query->p = NULL;
	query->len = 0;
	if (target == NULL || len == 0)
		return;
	if (target[0] != '/' && target[0] != '*') {
		start = scheme_prefix(target, len, &partial);
		if (start == 0)
			return; /* authority-form: no path, no query */
		while (start < len && target[start] != '/' &&
		       target[start] != '?' && target[start] != '#')
			start++;
	}
	pl = path_len(target + start, len - start);
	path->p = target + start;
	path->len = pl;
	start += pl;
	if (start == len || target[start] != '?')
		return;
	for (qe = start + 1; qe < len && target[qe] != '#'; qe++)
		;
	query->p = target + start + 1;
	query->len = qe - start - 1;
}

/* "%" HEXDIG HEXDIG at s[i] (i < n)? */
static int pct_encoded(const char *s, size_t n, size_t i)
{
	return i + 2 < n && at_hex_value(s[i + 1]) >= 0 &&
	       at_hex_value(s[i + 2]) >= 0;
}

/*
 * The inside of an IP literal: an IPv6 address's characters (HEXDIG, ':',
 * '.'), at least two ':', then optionally a zone "%25" followed by
 * unreserved or pct-encoded characters (RFC 6874).
 */
static int ip_literal_valid(const char *s, size_t n)
{
	size_t i, colons = 0;

	for (i = 0; i < n && s[i] != '%'; i++) {
		if (s[i] == ':')
			colons++;
		else if (at_hex_value(s[i]) < 0 && s[i] != '.')
			return 0;
	}
	if (colons < 2)
		return 0;
	if (i == n)
		return 1;
	if (n - i < 4 || s[i + 1] != '2' || s[i + 2] != '5')
		return 0;
	for (i += 3; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			if (!pct_encoded(s, n, i))
				return 0;
			i += 2;
		} else if (!at_is_alpha(c) && !at_is_digit(c) && c != '-' &&
			   c != '.' && c != '_' && c != '~') {
			return 0;
		}
	}
	return 1;
}

int at_http_host_port(const char *host, size_t len, struct at_http_str *name,
		      int *port)
{
	size_t i, h0, hlen;
	int pv = -1;

	if (host == NULL || len == 0)
		return -1;
	if (host[0] == '[') {
		const char *close = memchr(host, ']', len);

		if (close == NULL)
			return -1;
		h0 = 1;
		hlen = (size_t)(close - host) - 1;
		if (!ip_literal_valid(host + 1, hlen))
			return -1;
		i = hlen + 2;
	} else {
		for (i = 0; i < len && host[i] != ':'; i++) {
			if (host[i] == '%') {
				if (!pct_encoded(host, len, i))
					return -1;
				i += 2;
			} else if (!regname_tab[(unsigned char)host[i]]) {
				return -1;
			}
		}
		h0 = 0;
		hlen = i;
		if (hlen == 0)
			return -1;
	}
	if (i < len) {
		size_t digits = len - i - 1;

		if (host[i] != ':' || digits > 5)
			return -1;
		if (digits > 0) {
			pv = 0;
			for (i++; i < len; i++) {
				if (!at_is_digit(host[i]))
					return -1;
				pv = pv * 10 + (host[i] - '0');
			}
			if (pv > 65535)
				return -1;
		}
	}
	name->p = host + h0;
	name->len = hlen;
	*port = pv;
	return 0;
}
