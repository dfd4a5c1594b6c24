/*
 * at_sql_lex.c - the SQL lexer that the sanitiser (at_sql_sanitize.c), the
 * statement naming (at_sql_name.c) and the error-message redaction
 * (at_sql_redact.c) share, with its keyword matching and the bounded
 * output they write through.  at_sql.h is the one public header;
 * at_sql_lex.h is the private one of these files.
 *
 * Design
 * ------
 * These functions run inside libpq hooks of arbitrary programs: they are
 * pure functions over caller memory (no allocation, no stdio, no locale,
 * no system call, no mutable global state; the character table is
 * const).  Every read is bounded by the length given, every write by cap.
 * The text ends at the first NUL byte as well, as it does for the server:
 * libpq sends C strings, so nothing after a NUL is ever part of a query.
 *
 * One lexer serves all the functions.  It follows PostgreSQL's scanner
 * (src/backend/parser/scan.l, PostgreSQL 16) for what decides where a
 * token ends:
 *   - whitespace is space, \t, \n, \r, \f, \v; "--" comments run to \n or
 *     \r; C-style comments nest.  Both count as whitespace.
 *   - identifiers start with a letter, '_' or a byte >= 0x80 and go on with
 *     those, digits and '$' (so "a$b$" is one word, not a dollar quote).
 *   - string constants: '...' with '' for a quote; E'...' where a
 *     backslash escapes the next byte (\' and \\); U&'...' and N'...' like
 *     '...'; B'...' and X'...' end at the first quote.  A prefix letter
 *     only counts when it is a word of its own ("xE'a'" is the word xE,
 *     then a string).  Two constants separated by whitespace holding a
 *     newline (and maybe -- comments) are one constant, as in PostgreSQL.
 *     We assume standard_conforming_strings = on (the default since 9.1):
 *     a backslash in a plain '...' is an ordinary byte.
 *   - dollar quotes: $$...$$ or $tag$...$tag$, the tag an identifier
 *     without '$'; the body ends at the same delimiter.  "$1" is a
 *     parameter; any other '$' is an ordinary character.
 *   - numbers: 42, 1_000, 3.5, 5., .5, 1e-5, 1.5e+3, 0x1F, 0o17, 0b101 (with
 *     underscores between digits).  "1..2" is 1, '.', .2 as in PostgreSQL.
 *     What follows a number that cannot continue it starts a new token
 *     ("1e" is 1 then the word e; PostgreSQL 15+ rejects such text).
 *   - quoted identifiers "..." with "" inside, U&"...".
 * Anything else is a one-byte token.  An unterminated string, dollar quote
 * or quoted identifier runs to the end of the text; an unterminated
 * comment too.  Tokens are found left to right and each byte is looked at
 * a bounded number of times (the lookahead for a string continuation and a
 * failed "$tag" are read twice at most; the end of a dollar quote is
 * searched with memchr and each candidate compared only up to the next
 * '$', since a tag holds none), so every function is linear in the text.
 */
#include <stddef.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_sql.h"
#include "at_sql_lex.h"

/* The text ends at len or at the first NUL. */
size_t at_sql_text_len(const char *sql, size_t len)
{
	const char *z;

	if (sql == NULL)
		return 0;
	z = memchr(sql, '\0', len);
	return z != NULL ? (size_t)(z - sql) : len;
}

/* ---- lexer ---- */

/* s[i] is just after "--": index of the newline ending the comment. */
static size_t line_end(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] != '\n' && s[i] != '\r')
		i++;
	return i;
}

/* s[i] is just after "/ *": index after the matching close, or n. */
static size_t block_end(const char *s, size_t n, size_t i)
{
	size_t depth = 1;

	while (i + 1 < n) {
		if (s[i] == '*' && s[i + 1] == '/') {
			i += 2;
			if (--depth == 0)
				return i;
		} else if (s[i] == '/' && s[i + 1] == '*') {
			i += 2;
			depth++;
		} else {
			i++;
		}
	}
	return n;
}

static size_t skip_space(const char *s, size_t n, size_t i)
{
	while (i < n) {
		if (has(s, i, C_SPACE))
			i++;
		else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-')
			i = line_end(s, n, i + 2);
		else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*')
			i = block_end(s, n, i + 2);
		else
			break;
	}
	return i;
}

enum { Q_STD, Q_ESC, Q_BIT };

/*
 * s[i] is just after a closing quote: if whitespace holding a newline
 * (and maybe -- comments) and another quote follow, the index after that
 * quote (the constant goes on there), else 0.
 */
static size_t continuation(const char *s, size_t n, size_t i)
{
	int nl = 0;

	for (;;) {
		while (i < n && has(s, i, C_SPACE)) {
			if (s[i] == '\n' || s[i] == '\r')
				nl = 1;
			i++;
		}
		if (i + 1 < n && s[i] == '-' && s[i + 1] == '-')
			i = line_end(s, n, i + 2);
		else
			break;
	}
	return nl && i < n && s[i] == '\'' ? i + 1 : 0;
}

/* s[i] is just after the opening quote: index after the closing one. */
static size_t quote_end(const char *s, size_t n, size_t i, int mode)
{
	const char *q;

	if (mode == Q_ESC) {
		while (i < n) {
			if (s[i] == '\\') {
				i += 2;
			} else if (s[i] == '\'') {
				if (i + 1 < n && s[i + 1] == '\'')
					i += 2;
				else
					return i + 1;
			} else {
				i++;
			}
		}
		return n;
	}
	for (;;) {
		q = memchr(s + i, '\'', n - i);
		if (q == NULL)
			return n;
		i = (size_t)(q - s) + 1;
		if (mode == Q_BIT || i >= n || s[i] != '\'')
			return i;
		i++;
	}
}

/* A string constant, continuations included; n if unterminated. */
static size_t string_end(const char *s, size_t n, size_t i, int mode)
{
	size_t j;

	for (;;) {
		i = quote_end(s, n, i, mode);
		if (i >= n)
			return n;
		j = continuation(s, n, i);
		if (j == 0)
			return i;
		i = j;
	}
}

/* s[i] == '"': index after the closing quote, 0 if unterminated. */
static size_t qident_end(const char *s, size_t n, size_t i)
{
	const char *q;

	i++;
	for (;;) {
		q = memchr(s + i, '"', n - i);
		if (q == NULL)
			return 0;
		i = (size_t)(q - s) + 1;
		if (i >= n || s[i] != '"')
			return i;
		i++;
	}
}

/* s[i] == '$': length of the dollar-quote delimiter there, 0 if none. */
static size_t dollar_delim(const char *s, size_t n, size_t i)
{
	size_t j = i + 1;

	if (j < n && s[j] == '$')
		return 2;
	if (j >= n || !has(s, j, C_START))
		return 0;
	for (j++; j < n && has(s, j, C_TAG); j++)
		;
	return j < n && s[j] == '$' ? j + 1 - i : 0;
}

/* The body after the delimiter s[i..i+dl): index after the close, or n. */
static size_t dollar_end(const char *s, size_t n, size_t i, size_t dl)
{
	size_t j = i + dl, k, m;
	const char *d;

	while (j < n) {
		d = memchr(s + j, '$', n - j);
		if (d == NULL)
			break;
		k = (size_t)(d - s);
		for (m = 1; m < dl && k + m < n && s[k + m] == s[i + m]; m++)
			;
		if (m == dl)
			return k + dl;
		j = k + 1;
	}
	return n;
}

static int radix_digit(char c, char r)
{
	if (r == 'x')
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		       (c >= 'A' && c <= 'F');
	if (r == 'o')
		return c >= '0' && c <= '7';
	return c == '0' || c == '1';
}

/* s[i] is a digit: end of digit (_? digit)*. */
static size_t decint_end(const char *s, size_t n, size_t i)
{
	for (i++;;) {
		if (i < n && has(s, i, C_DIGIT))
			i++;
		else if (i + 1 < n && s[i] == '_' && has(s, i + 1, C_DIGIT))
			i += 2;
		else
			return i;
	}
}

/* s[i] is a digit, or '.' followed by one: end of the numeric constant. */
static size_t number_end(const char *s, size_t n, size_t i)
{
	size_t j, k;
	char r;

	if (s[i] == '0' && i + 1 < n) {
		r = (char)(s[i + 1] | 0x20);
		if (r == 'x' || r == 'o' || r == 'b') {
			for (k = i + 2;;) {
				if (k < n && radix_digit(s[k], r))
					k++;
				else if (k + 1 < n && s[k] == '_' &&
					 radix_digit(s[k + 1], r))
					k += 2;
				else
					break;
			}
			if (k > i + 2)
				return k;
		}
	}
	if (s[i] == '.') {
		j = decint_end(s, n, i + 1);
	} else {
		j = decint_end(s, n, i);
		if (j < n && s[j] == '.' && !(j + 1 < n && s[j + 1] == '.')) {
			j++;
			if (j < n && has(s, j, C_DIGIT))
				j = decint_end(s, n, j);
		}
	}
	if (j < n && (s[j] | 0x20) == 'e') {
		k = j + 1;
		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		if (k < n && has(s, k, C_DIGIT))
			j = decint_end(s, n, k);
	}
	return j;
}

/* The word s[t->start..e) is one letter: a literal or id it prefixes? */
static int prefixed(const char *s, size_t n, size_t e, struct tok *t)
{
	char c = (char)(s[t->start] | 0x20);
	size_t q;
	int mode;

	if (e >= n)
		return 0;
	if (s[e] == '\'' && (c == 'e' || c == 'b' || c == 'x' || c == 'n')) {
		mode = c == 'e' ? Q_ESC : c == 'n' ? Q_STD : Q_BIT;
		t->kind = T_LIT;
		t->end = string_end(s, n, e + 1, mode);
		return 1;
	}
	if (c != 'u' || s[e] != '&' || e + 1 >= n)
		return 0;
	if (s[e + 1] == '\'') {
		t->kind = T_LIT;
		t->end = string_end(s, n, e + 2, Q_STD);
		return 1;
	}
	if (s[e + 1] == '"') {
		q = qident_end(s, n, e + 1);
		t->kind = q ? T_QIDENT : T_LIT;
		t->end = q ? q : n;
		return 1;
	}
	return 0;
}

/* The token after whitespace and comments from s[i]; returns its end. */
size_t at_sql_lex(const char *s, size_t n, size_t i, struct tok *t)
{
	size_t j = skip_space(s, n, i), e;
	char c;

	t->space = j != i;
	t->start = j;
	t->end = j + 1;
	if (j >= n) {
		t->kind = T_END;
		t->end = n;
		return n;
	}
	c = s[j];
	if (has(s, j, C_START)) {
		for (e = j + 1; e < n && has(s, e, C_CONT); e++)
			;
		if (e == j + 1 && prefixed(s, n, e, t))
			return t->end;
		t->kind = T_WORD;
		t->end = e;
	} else if (has(s, j, C_DIGIT) ||
		   (c == '.' && j + 1 < n && has(s, j + 1, C_DIGIT))) {
		t->kind = T_LIT;
		t->end = number_end(s, n, j);
	} else if (c == '\'') {
		t->kind = T_LIT;
		t->end = string_end(s, n, j + 1, Q_STD);
	} else if (c == '"') {
		e = qident_end(s, n, j);
		t->kind = e ? T_QIDENT : T_LIT;
		t->end = e ? e : n;
	} else if (c == '$' && (e = dollar_delim(s, n, j)) != 0) {
		t->kind = T_LIT;
		t->end = dollar_end(s, n, j, e);
	} else if (c == '$' && j + 1 < n && has(s, j + 1, C_DIGIT)) {
		for (e = j + 2; e < n && has(s, e, C_DIGIT); e++)
			;
		t->kind = T_PARAM;
		t->end = e;
	} else {
		t->kind = T_CHAR;
	}
	return t->end;
}

/* ---- remembered tokens ---- */

/* The first k >= 1 with toks[k - 1].end == i (ends never go down), or
 * x->count. */
static size_t kept_after(const struct lexer *x, size_t i)
{
	size_t lo = 0, hi = x->count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (x->toks[mid].end < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->count && x->toks[lo].end == i ? lo + 1 : x->count;
}

size_t at_sql_lex_find(struct lexer *x, size_t i, struct tok *t)
{
	size_t k = i == 0 ? 0 : kept_after(x, i);

	if (k >= x->count)
		return at_sql_lex(x->s, x->n, i, t);
	*t = x->toks[k];
	x->next = k + 1;
	x->pos = t->end;
	return t->end;
}

/* ---- keywords ---- */

/* ---- bounded output ---- */

/* b[0..n) was cut: drop a trailing partial UTF-8 sequence. */
size_t at_sql_utf8_cut(const char *b, size_t n)
{
	size_t i = n, back = 0, need;
	unsigned char c;

	while (i > 0 && back < 3 && ((unsigned char)b[i - 1] & 0xc0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return n;
	c = (unsigned char)b[i - 1];
	if (c < 0xc0)
		return n;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	return i - 1 + need > n ? i - 1 : n;
}
