/*
 * at_http_internal.h - what the files of the HTTP/1.x parser share
 * (at_http_head.c, at_http_body.c, at_http_url.c; callers include only
 * at_http.h).
 *
 * The character classes are 256-byte const tables and the comparisons
 * static inline functions, so every file keeps its per-byte tests inlined
 * as they were when the parser was one file (a table used by two files is
 * two copies of 256 read-only bytes).
 */
#ifndef AT_HTTP_INTERNAL_H
#define AT_HTTP_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "at_ascii.h"

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

/* reg-name without '%': unreserved / sub-delims. */
static const unsigned char regname_tab[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
	['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1,
	['!'] = 1, ['$'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1,
	['*'] = 1, ['+'] = 1, [','] = 1, [';'] = 1, ['='] = 1,
};

static inline int is_tchar(char c)
{
	return tchar_tab[(unsigned char)c];
}

static inline int is_field_char(char c)
{
	return field_tab[(unsigned char)c];
}

/* s[0..n) equals the lowercase literal lit, ASCII case-insensitively. */
static inline int eq_nocase(const char *s, size_t n, const char *lit,
			    size_t lit_len)
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

static inline int eq_exact(const char *s, size_t n, const char *lit,
			   size_t lit_len)
{
	return n == lit_len && memcmp(s, lit, n) == 0;
}

#define EQ_EXACT(s, n, lit) eq_exact(s, n, lit, sizeof(lit) - 1)

static inline int is_connect(const char *m, size_t mlen)
{
	return EQ_EXACT(m, mlen, "CONNECT");
}

/*
 * Length of "scheme://" at the start of t[0..n), 0 if t does not start
 * with one; *partial is set when t is a proper prefix of a possible one
 * (at_http_url.c).
 */
size_t at_http_scheme_prefix(const char *t, size_t n, int *partial);

#endif
