/*
 * at_http_url.c - the URL attribute values of an HTTP span: url.full
 * built from a request's target and Host, url.path and url.query split
 * from the target, their redaction, and server.address / server.port
 * split from a Host value (also the authority check of a CONNECT target).
 *
 * Design
 * ------
 * Pure functions over caller-owned memory like the rest of the parser
 * (at_http_head.c): no allocation, no system call, every read bounded by
 * the length given; output goes to a caller's buffer, always
 * NUL-terminated and silently cut at its size.
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
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "at_ascii.h"
#include "at_http.h"
#include "at_http_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define SCHEME_MAX 32

/*
 * Length of "scheme://" at the start of t[0..n), 0 if t does not start
 * with one; *partial is set when t is a proper prefix of a possible one.
 */
size_t at_http_scheme_prefix(const char *t, size_t n, int *partial)
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

/* The bytes the one-scan url.full (at_http_url_full_after) stops at: in
 * a path, the end of its plain part; in a query, a member's '=', the
 * separators and the fragment. */
enum { U_PATH_END = 1, U_EQ = 2, U_SEP = 4, U_FRAG = 8 };
static const unsigned char url_tab[256] = {
	['?'] = U_PATH_END, [';'] = U_PATH_END | U_SEP, ['#'] = U_PATH_END | U_FRAG,
	['&'] = U_SEP, ['='] = U_EQ,
};

/* The query q[0..n) (up to a '#', the fragment, dropped) with every value
 * redacted, after url[0..len): what at_http_redact_query() writes with
 * redact_all for the part before the '#' (a member "k=v" becomes
 * "k=REDACTED", one without '=' "REDACTED", an empty one stays empty;
 * '&' and ';' separate them), in one scan through url_tab, when it cannot
 * be cut (the caller checks: len + 9 * (n + 1) < cap).  Returns the whole
 * length. */
static size_t query_redacted(char *url, size_t len, const char *q, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;
		unsigned c = 0;

		while (i < n && !((c = url_tab[(unsigned char)q[i]]) &
				  (U_EQ | U_SEP | U_FRAG)))
			i++;
		if (i < n && (c & U_EQ)) {
			/* The key and its '=' kept, the value skipped ('='
			 * in it too) up to a separator or the fragment. */
			i++;
			memcpy(url + len, q + start, i - start);
			len += i - start;
			while (i < n &&
			       !((c = url_tab[(unsigned char)q[i]]) &
				 (U_SEP | U_FRAG)))
				i++;
			memcpy(url + len, "REDACTED", 8);
			len += 8;
		} else if (i > start) {
			memcpy(url + len, "REDACTED", 8);
			len += 8;
		}
		if (i == n || (c & U_FRAG))
			break; /* (c: the byte at i, a separator or '#') */
		url[len++] = q[i++]; /* the separator */
	}
	url[len] = '\0';
	return len;
}

/* The length of the plain part of a path t[0..n): up to its first '?',
 * '#' or ';' (16 bytes at a time with SSE2, then through url_tab). */
static size_t plain_path_len(const char *t, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	while (n - i >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('?')),
				     _mm_cmpeq_epi8(x, _mm_set1_epi8('#'))),
			_mm_cmpeq_epi8(x, _mm_set1_epi8(';'))));

		if (m)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#endif
	while (i < n && !(url_tab[(unsigned char)t[i]] & U_PATH_END))
		i++;
	return i;
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
	sl = target_len > 0 ?
		at_http_scheme_prefix(target, target_len, &partial) : 0;
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

size_t at_http_url_full_after(char *out, size_t cap, size_t len,
			      const char *target, size_t target_len,
			      int redact_all)
{
	struct out_buf o = { out, cap, len };
	size_t i = 0, qn;
	const char *q, *frag;

	if (out == NULL || cap <= len)
		return 0;
	out[len] = '\0';
	if (target == NULL || target_len == 0 || target[0] != '/')
		return o.len;
	i = plain_path_len(target, target_len);
	/* The usual target, a path without query, fragment or matrix
	 * parameters, goes as it is (what put_path_query does with it). */
	if (i == target_len) {
		out_put(&o, target, target_len);
		return o.len;
	}
	/* Matrix parameters, or a target that could be cut: the general
	 * path. */
	if (target[i] == ';' || target_len >= cap - 1 - len) {
		put_path_query(&o, target, target_len, redact_all);
		return o.len;
	}
	/* Else in one scan: the path as it is, its query redacted, its
	 * fragment dropped. */
	memcpy(out + len, target, i);
	len += i;
	out[len] = '\0';
	if (target[i] == '#')
		return len;
	out[len++] = '?';
	q = target + i + 1;
	qn = target_len - i - 1; /* the fragment's '#' ends it */
	if (redact_all && len + 9 * (qn + 1) < cap)
		return query_redacted(out, len, q, qn);
	frag = memchr(q, '#', qn);
	if (frag)
		qn = (size_t)(frag - q);
	return len + at_http_redact_query(out + len, cap - len, q, qn,
					  redact_all);
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
		start = at_http_scheme_prefix(target, len, &partial);
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
