/*
 * at_sql.c - SQL text for database spans: db.query.text without literals,
 * db.operation.name and db.collection.name from PostgreSQL query text, and
 * error messages without the values they echo.
 *
 * Design
 * ------
 * These functions run inside libpq hooks of arbitrary programs: they are
 * pure functions over caller memory (no allocation, no stdio, no locale,
 * no system call, no mutable global state; the character table below is
 * const).  Every read is bounded by the length given, every write by cap.
 * The text ends at the first NUL byte as well, as it does for the server:
 * libpq sends C strings, so nothing after a NUL is ever part of a query.
 *
 * One lexer serves all three functions.  It follows PostgreSQL's scanner
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
 *
 * at_sql_sanitize writes the tokens back: words, quoted identifiers,
 * parameters and operator bytes as they are, every literal token as '?',
 * whitespace and comments as one space between tokens (none at either
 * end).  A '-' or '+' directly before a number is dropped with it when it
 * cannot be a binary operator: at the start of a statement, after '(',
 * ',', '[', another operator, or a keyword such as WHERE, AND, SELECT;
 * after a value ("5-3") or a plain word ("x -1") it stays.  As in
 * PostgreSQL, a sign directly after an operator holding one of ~ ! @ # %
 * ^ & | ` ? belongs to that operator and stays.  A '?' in the input counts
 * as a value (it is what every literal becomes).  Lists: when a '(' is
 * written, its output offset is remembered; if only values ('?', $n) and
 * single commas between them follow up to the ')', the output goes back
 * to the '(' and "(?)" is written instead.  Only the innermost '(' can
 * qualify, so one offset is enough, and every output byte is written once
 * and taken back at most once.
 * Output: the bytes are counted even past cap - 1 (and then not stored),
 * so a list that collapses can still bring the text back within cap; once
 * the count is past cap - 1 and no pending list could go back below it,
 * the scan stops.  A cut output loses a trailing partial UTF-8 sequence
 * and a trailing space.  The result only depends on the text, the output
 * is never longer than the input, holds no quote character ' outside a
 * quoted identifier and no digit that starts a word, and sanitizing it
 * again gives the same text (tests/fuzz/fuzz_sql.c checks all of this).
 *
 * at_sql_operation and at_sql_collection read the first statement's tokens
 * with a few keyword rules (see the functions); keywords are matched
 * ASCII case-insensitively.  They never write a cut name: an operation or
 * table name that does not fit in cap gives 0.
 *
 * at_sql_redact_message takes the values out of a server's error message
 * (at_sql.h has the rules).  Its premise: the server's own words are safe,
 * the values it echoes are quoted (or are numbers), and a name may stay
 * only if the span already shows it - an identifier of the statement text
 * (found with the same lexer, so a literal never counts), a value the
 * caller lists, or a catalog name after a word the caller lists.  One
 * pass, left to right: a word run is looked at once (a number or dotted
 * name becomes '?'), a quote opens a part whose closing quote is the next
 * one not followed by a word byte; a part that may not stay becomes "?"
 * and takes with it everything up to the last closing quote of its kind,
 * or, if a quote of the same family still follows, the whole rest: the
 * value may hold quotes, and what it holds must not come out as the
 * server's text.  Whether a quote opens or a word starts depends on the
 * byte written before it, so redacting the output again changes nothing
 * (the fuzzer checks it).  at_sql_pg_error picks the rules by SQLSTATE
 * class.  Cost: linear in the message, plus a lexer pass over the
 * statement for each quoted part examined - at most one per 3 output
 * bytes - and a few memmem scans per redacted part (at most one per quote
 * family before the rest is dropped).
 *
 * Speed: a 200-byte query sanitizes in well under a microsecond (about
 * 2-3 ns a byte: a table lookup per byte, memchr inside strings).
 */
#include <stddef.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_sql.h"

/* ---- character classes (ASCII only) ---- */

#define C_SPACE 0x01 /* whitespace */
#define C_START 0x02 /* starts an identifier (dolq_start too) */
#define C_CONT 0x04 /* continues an identifier */
#define C_DIGIT 0x08
#define C_OP 0x10 /* PostgreSQL's op_chars */
#define C_KEEP 0x20 /* op char that keeps a trailing +/- in its operator */
#define C_TAG 0x40 /* continues a dollar-quote tag */

#define C_LETTER (C_START | C_CONT | C_TAG)

static const unsigned char cls[256] = {
	[' '] = C_SPACE, ['\t'] = C_SPACE, ['\n'] = C_SPACE,
	['\r'] = C_SPACE, ['\f'] = C_SPACE, ['\v'] = C_SPACE,
	['A' ... 'Z'] = C_LETTER, ['a' ... 'z'] = C_LETTER,
	['_'] = C_LETTER, [0x80 ... 0xff] = C_LETTER,
	['0' ... '9'] = C_DIGIT | C_CONT | C_TAG,
	['$'] = C_CONT,
	['~'] = C_OP | C_KEEP, ['!'] = C_OP | C_KEEP, ['@'] = C_OP | C_KEEP,
	['#'] = C_OP | C_KEEP, ['%'] = C_OP | C_KEEP, ['^'] = C_OP | C_KEEP,
	['&'] = C_OP | C_KEEP, ['|'] = C_OP | C_KEEP, ['`'] = C_OP | C_KEEP,
	['?'] = C_OP | C_KEEP,
	['+'] = C_OP, ['-'] = C_OP, ['*'] = C_OP, ['/'] = C_OP,
	['<'] = C_OP, ['>'] = C_OP, ['='] = C_OP,
};

static int has(const char *s, size_t i, unsigned char c)
{
	return (cls[(unsigned char)s[i]] & c) != 0;
}

static unsigned char upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/* The text ends at len or at the first NUL. */
static size_t text_len(const char *sql, size_t len)
{
	const char *z;

	if (sql == NULL)
		return 0;
	z = memchr(sql, '\0', len);
	return z != NULL ? (size_t)(z - sql) : len;
}

/* ---- lexer ---- */

enum {
	T_END,
	T_WORD, /* identifier or keyword */
	T_QIDENT, /* terminated quoted identifier, with its U& prefix */
	T_LIT, /* string, dollar quote, number; unterminated quoted id */
	T_PARAM, /* $1 */
	T_CHAR, /* any other single byte */
};

struct tok {
	int kind;
	int space; /* whitespace or a comment came before it */
	size_t start, end;
};

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
static size_t lex(const char *s, size_t n, size_t i, struct tok *t)
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

/* ---- keywords ---- */

/* Is p[0..len) the keyword k (upper case), ignoring ASCII case? */
static int kw_eq(const char *p, size_t len, const char *k)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (k[i] == '\0' ||
		    upper((unsigned char)p[i]) != (unsigned char)k[i])
			return 0;
	}
	return k[len] == '\0';
}

static int kw_in(const char *p, size_t len, const char *const *list,
		 size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (kw_eq(p, len, list[i]))
			return 1;
	}
	return 0;
}

static int is_kw(const char *s, const struct tok *t, const char *k)
{
	return t->kind == T_WORD && kw_eq(s + t->start, t->end - t->start, k);
}

#define IS_KW_IN(s, t, list)                                              \
	((t)->kind == T_WORD && kw_in((s) + (t)->start, (t)->end - (t)->start, \
				      list, AT_ARRAY_SIZE(list)))

static int is_char(const char *s, const struct tok *t, char c)
{
	return t->kind == T_CHAR && s[t->start] == c;
}

/* Keywords after which a sign starts a number ("WHERE a > 1 AND -2 < b"). */
static const char *const unary_kw[] = {
	"ALL", "AND", "BETWEEN", "BY", "CASE", "DEFAULT", "DISTINCT",
	"ELSE", "ESCAPE", "HAVING", "ILIKE", "IN", "IS", "LIKE", "LIMIT",
	"MAXVALUE", "MINVALUE", "NOT", "OFFSET", "ON", "OR", "RETURN",
	"RETURNING", "SELECT", "SIMILAR", "THEN", "TO", "WHEN", "WHERE",
	"WITH", "ZONE",
};

/* ---- at_sql_sanitize ---- */

struct sink {
	char *buf;
	size_t lim; /* bytes that can be kept: cap - 1 */
	size_t len; /* bytes produced, kept or not */
};

static void put(struct sink *o, const char *p, size_t n)
{
	size_t room;

	if (o->len < o->lim) {
		room = o->lim - o->len;
		memcpy(o->buf + o->len, p, n < room ? n : room);
	}
	o->len += n;
}

/* b[0..n) was cut: drop a trailing partial UTF-8 sequence. */
static size_t utf8_cut(const char *b, size_t n)
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

enum { P_START, P_VALUE, P_WORD, P_OP };
enum { L_NONE, L_EXPECT, L_AFTER };

struct san {
	struct sink o;
	int space; /* whitespace to write before the next token */
	int prev; /* P_*: what the last token was */
	int op_run; /* the last token was an op char, nothing between */
	int op_keep; /* that run of op chars holds a C_KEEP char */
	size_t wstart, wlen; /* the last word */
	int list; /* L_*: state of the innermost '(' */
	size_t lpos; /* output offset of that '(' */
};

static void emit(struct san *z, const char *p, size_t n)
{
	if (z->space && z->o.len > 0)
		put(&z->o, " ", 1);
	z->space = 0;
	put(&z->o, p, n);
}

/* A value ('?', $n) goes into the list being watched. */
static void list_value(struct san *z)
{
	z->list = z->list == L_EXPECT ? L_AFTER : L_NONE;
}

/* s[i], just after a sign, starts a number: a digit or ".digit". */
static int before_number(const char *s, size_t n, size_t i)
{
	return i < n && (has(s, i, C_DIGIT) ||
			 (s[i] == '.' && i + 1 < n && has(s, i + 1, C_DIGIT)));
}

static int sign_is_unary(const struct san *z, const char *s)
{
	switch (z->prev) {
	case P_START:
		return 1;
	case P_WORD:
		return kw_in(s + z->wstart, z->wlen, unary_kw,
			     AT_ARRAY_SIZE(unary_kw));
	case P_OP:
		return !(z->op_run && z->op_keep);
	default:
		return 0;
	}
}

static void san_char(struct san *z, const char *s, const struct tok *t)
{
	char c = s[t->start];
	unsigned char k = cls[(unsigned char)c];

	switch (c) {
	case '?':
		list_value(z);
		emit(z, s + t->start, 1);
		z->prev = P_VALUE;
		break;
	case '(':
		if (z->space && z->o.len > 0)
			put(&z->o, " ", 1);
		z->space = 0;
		z->lpos = z->o.len;
		put(&z->o, "(", 1);
		z->list = L_EXPECT;
		z->prev = P_OP;
		break;
	case ')':
		if (z->list == L_AFTER) {
			z->o.len = z->lpos;
			z->space = 0;
			put(&z->o, "(?)", 3);
		} else {
			emit(z, ")", 1);
		}
		z->list = L_NONE;
		z->prev = P_VALUE;
		break;
	case ',':
		z->list = z->list == L_AFTER ? L_EXPECT : L_NONE;
		emit(z, ",", 1);
		z->prev = P_OP;
		break;
	default:
		z->list = L_NONE;
		emit(z, s + t->start, 1);
		z->prev = c == ';' ? P_START : c == ']' ? P_VALUE : P_OP;
		if (k & C_OP) {
			z->op_keep = (z->op_run ? z->op_keep : 0) |
				     ((k & C_KEEP) != 0);
			z->op_run = 1;
			return;
		}
		break;
	}
	z->op_run = 0;
}

size_t at_sql_sanitize(const char *sql, size_t len, char *out, size_t cap)
{
	size_t n = text_len(sql, len), i = 0, r;
	struct san z = { .prev = P_START };
	struct tok t;

	if (cap == 0)
		return 0;
	z.o.buf = out;
	z.o.lim = cap - 1;
	for (;;) {
		i = lex(sql, n, i, &t);
		if (t.kind == T_END)
			break;
		/* Nothing more can land below lim. */
		if (z.o.len >= z.o.lim &&
		    (z.list == L_NONE || z.lpos >= z.o.lim))
			break;
		if (t.space) {
			z.space = 1;
			z.op_run = 0;
		}
		switch (t.kind) {
		case T_WORD:
			z.list = L_NONE;
			emit(&z, sql + t.start, t.end - t.start);
			z.prev = P_WORD;
			z.wstart = t.start;
			z.wlen = t.end - t.start;
			break;
		case T_QIDENT:
			z.list = L_NONE;
			emit(&z, sql + t.start, t.end - t.start);
			z.prev = P_VALUE;
			break;
		case T_LIT:
		case T_PARAM:
			list_value(&z);
			if (t.kind == T_LIT)
				emit(&z, "?", 1);
			else
				emit(&z, sql + t.start, t.end - t.start);
			z.prev = P_VALUE;
			break;
		default:
			if ((sql[t.start] == '-' || sql[t.start] == '+') &&
			    before_number(sql, n, t.end) &&
			    sign_is_unary(&z, sql))
				continue; /* goes with the number's '?' */
			san_char(&z, sql, &t);
			continue;
		}
		z.op_run = 0;
	}
	r = z.o.len < z.o.lim ? z.o.len : z.o.lim;
	if (z.o.len > z.o.lim) {
		r = utf8_cut(out, r);
		if (r > 0 && out[r - 1] == ' ')
			r--;
	}
	out[r] = '\0';
	return r;
}

/* ---- at_sql_operation ---- */

/* Statements a WITH can lead to, for skipping SEARCH/CYCLE clauses. */
static const char *const with_main_kw[] = {
	"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE",
};

/*
 * After WITH: find the main statement's first word, the first word at
 * depth 0 right after a CTE's ')' (other than AS, which follows a column
 * list), or the word after "(" when the main statement is parenthesised.
 * SEARCH/CYCLE clauses between are skipped up to a statement keyword.
 */
static int with_main(const char *s, size_t n, size_t i, struct tok *t)
{
	size_t depth = 0;
	int closed = 0, search = 0;

	for (;;) {
		i = lex(s, n, i, t);
		if (t->kind == T_END)
			return 0;
		if (t->kind == T_CHAR && s[t->start] == '(') {
			if (depth == 0 && closed) {
				do
					i = lex(s, n, i, t);
				while (is_char(s, t, '('));
				return t->kind == T_WORD;
			}
			depth++;
			continue;
		}
		if (t->kind == T_CHAR && s[t->start] == ')') {
			if (depth == 0)
				return 0;
			closed = --depth == 0;
			continue;
		}
		if (depth > 0)
			continue;
		if (is_char(s, t, ';'))
			return 0;
		if (t->kind == T_WORD && search) {
			if (IS_KW_IN(s, t, with_main_kw))
				return 1;
		} else if (t->kind == T_WORD && closed) {
			if (is_kw(s, t, "SEARCH") || is_kw(s, t, "CYCLE"))
				search = 1;
			else if (!is_kw(s, t, "AS"))
				return 1;
		}
		closed = 0;
	}
}

/*
 * The first word of the first statement, after whitespace, comments and
 * '(' (the main statement's for WITH), if it is ASCII letters only and
 * fits: uppercased into out.
 */
size_t at_sql_operation(const char *sql, size_t len, char *out, size_t cap)
{
	size_t n = text_len(sql, len), i = 0, l, k;
	struct tok t;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	do
		i = lex(sql, n, i, &t);
	while (is_char(sql, &t, '('));
	if (t.kind != T_WORD)
		return 0;
	if (is_kw(sql, &t, "WITH") && !with_main(sql, n, i, &t))
		return 0;
	l = t.end - t.start;
	if (l >= cap)
		return 0;
	for (k = 0; k < l; k++) {
		unsigned char c = upper((unsigned char)sql[t.start + k]);

		if (c < 'A' || c > 'Z') {
			out[0] = '\0';
			return 0;
		}
		out[k] = (char)c;
	}
	out[l] = '\0';
	return l;
}

/* ---- at_sql_collection ---- */

/* Words that are never a table name here. */
static const char *const not_name_kw[] = {
	"ALL", "AND", "AS", "CASE", "DEFAULT", "DISTINCT", "FROM", "JOIN",
	"LATERAL", "NOT", "NULL", "ON", "ONLY", "OR", "SELECT", "SET",
	"TABLE", "USING", "VALUES", "WHERE", "WITH",
};

/* What may follow "FROM t [alias]" in a one-table SELECT. */
static const char *const select_follow_kw[] = {
	"WHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "FETCH", "FOR",
	"HAVING", "WINDOW", "UNION", "INTERSECT", "EXCEPT",
};

/* Words after a table in FROM that are not its alias. */
static const char *const not_alias_kw[] = {
	"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "NATURAL", "ON",
	"USING", "TABLESAMPLE", "FROM", "INTO", "LATERAL", "AS",
};

static const char *const set_op_kw[] = { "UNION", "INTERSECT", "EXCEPT" };

static const char *const temp_kw[] = {
	"GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED",
};

struct name {
	size_t start, end;
};

/*
 * A table name starting at token t: identifiers or quoted identifiers
 * joined by '.' with no space.  Returns the position after it (and the
 * next token in *t), 0 if there is no name there.
 */
static size_t read_name(const char *s, size_t n, struct tok *t,
			struct name *nm)
{
	size_t e, j;

	if (t->kind == T_WORD) {
		if (IS_KW_IN(s, t, not_name_kw))
			return 0;
	} else if (t->kind != T_QIDENT) {
		return 0;
	}
	nm->start = t->start;
	e = t->end;
	for (;;) {
		j = lex(s, n, e, t);
		if (t->space || !is_char(s, t, '.'))
			break;
		lex(s, n, j, t);
		if (t->space || (t->kind != T_WORD && t->kind != T_QIDENT))
			return 0;
		e = t->end;
	}
	nm->end = e;
	if (is_char(s, t, '.') || is_char(s, t, ','))
		return 0;
	return j;
}

/* Skip the optional words of seq (all or none); returns the position. */
static size_t skip_seq(const char *s, size_t n, size_t i, struct tok *t,
		       const char *const *seq, size_t count)
{
	struct tok u = *t;
	size_t j = i, k;

	for (k = 0; k < count; k++) {
		if (!is_kw(s, &u, seq[k]))
			return i;
		j = lex(s, n, j, &u);
	}
	*t = u;
	return j;
}

static const char *const if_not_exists[] = { "IF", "NOT", "EXISTS" };
static const char *const if_exists[] = { "IF", "EXISTS" };

/* t is the token after the balanced "(": past its ")". */
static size_t skip_parens(const char *s, size_t n, size_t i, struct tok *t)
{
	size_t depth = 1;

	while (depth > 0) {
		i = lex(s, n, i, t);
		if (t->kind == T_END)
			return n;
		if (is_char(s, t, '('))
			depth++;
		else if (is_char(s, t, ')'))
			depth--;
	}
	return lex(s, n, i, t);
}

/*
 * SELECT: the depth-0 FROM (not "IS DISTINCT FROM"), one table with an
 * optional alias, then the end of the statement or a clause that adds no
 * table, and no UNION/INTERSECT/EXCEPT at depth <= 0 after it.
 */
static int select_table(const char *s, size_t n, size_t i, struct name *nm)
{
	struct tok t;
	long depth = 0;
	int distinct = 0;

	for (;;) {
		i = lex(s, n, i, &t);
		if (t.kind == T_END || (depth <= 0 && is_char(s, &t, ';')))
			return 0;
		if (is_char(s, &t, '('))
			depth++;
		else if (is_char(s, &t, ')'))
			depth--;
		if (depth <= 0 && IS_KW_IN(s, &t, set_op_kw))
			return 0;
		if (depth <= 0 && is_kw(s, &t, "FROM") && !distinct)
			break;
		distinct = depth <= 0 && is_kw(s, &t, "DISTINCT");
	}
	i = lex(s, n, i, &t);
	if (is_kw(s, &t, "ONLY"))
		i = lex(s, n, i, &t);
	i = read_name(s, n, &t, nm);
	if (i == 0)
		return 0;
	if (is_kw(s, &t, "AS") || t.kind == T_QIDENT ||
	    (t.kind == T_WORD && !IS_KW_IN(s, &t, select_follow_kw) &&
	     !IS_KW_IN(s, &t, not_alias_kw))) {
		if (is_kw(s, &t, "AS")) {
			i = lex(s, n, i, &t);
			if (t.kind != T_WORD && t.kind != T_QIDENT)
				return 0;
		}
		i = lex(s, n, i, &t);
		if (is_char(s, &t, '('))
			i = skip_parens(s, n, i, &t);
	}
	if (!(t.kind == T_END || is_char(s, &t, ';') || is_char(s, &t, ')') ||
	      IS_KW_IN(s, &t, select_follow_kw)))
		return 0;
	for (;;) {
		if (t.kind == T_END || (depth <= 0 && is_char(s, &t, ';')))
			return 1;
		if (is_char(s, &t, '('))
			depth++;
		else if (is_char(s, &t, ')'))
			depth--;
		else if (depth <= 0 && IS_KW_IN(s, &t, set_op_kw))
			return 0;
		i = lex(s, n, i, &t);
	}
}

/* The statement keyword is t; the table it works on, if one. */
static int statement_table(const char *s, size_t n, size_t i, struct tok *t,
			   struct name *nm)
{
	if (is_kw(s, t, "SELECT"))
		return select_table(s, n, i, nm);
	if (is_kw(s, t, "INSERT") || is_kw(s, t, "MERGE")) {
		i = lex(s, n, i, t);
		if (!is_kw(s, t, "INTO"))
			return 0;
		i = lex(s, n, i, t);
	} else if (is_kw(s, t, "DELETE")) {
		i = lex(s, n, i, t);
		if (!is_kw(s, t, "FROM"))
			return 0;
		i = lex(s, n, i, t);
	} else if (is_kw(s, t, "UPDATE") || is_kw(s, t, "COPY")) {
		i = lex(s, n, i, t);
	} else if (is_kw(s, t, "TRUNCATE")) {
		i = lex(s, n, i, t);
		if (is_kw(s, t, "TABLE"))
			i = lex(s, n, i, t);
	} else if (is_kw(s, t, "CREATE") || is_kw(s, t, "ALTER") ||
		   is_kw(s, t, "DROP")) {
		int create = is_kw(s, t, "CREATE");

		i = lex(s, n, i, t);
		while (create && IS_KW_IN(s, t, temp_kw))
			i = lex(s, n, i, t);
		if (!is_kw(s, t, "TABLE"))
			return 0;
		i = lex(s, n, i, t);
		if (create)
			i = skip_seq(s, n, i, t, if_not_exists,
				     AT_ARRAY_SIZE(if_not_exists));
		else
			i = skip_seq(s, n, i, t, if_exists,
				     AT_ARRAY_SIZE(if_exists));
	} else {
		return 0;
	}
	if (is_kw(s, t, "ONLY"))
		i = lex(s, n, i, t);
	return read_name(s, n, t, nm) != 0;
}

size_t at_sql_collection(const char *sql, size_t len, char *out, size_t cap)
{
	size_t n = text_len(sql, len), i = 0, l;
	struct name nm;
	struct tok t;
	int parens = 0;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	for (;;) {
		i = lex(sql, n, i, &t);
		if (!is_char(sql, &t, '('))
			break;
		parens = 1;
	}
	if (t.kind != T_WORD || (parens && !is_kw(sql, &t, "SELECT")))
		return 0;
	if (!statement_table(sql, n, i, &t, &nm))
		return 0;
	l = nm.end - nm.start;
	if (l >= cap)
		return 0;
	memcpy(out, sql + nm.start, l);
	out[l] = '\0';
	return l;
}

/* ---- at_sql_redact_message ---- */

/*
 * The quote pairs a message may put around a name or a value: ASCII " and
 * ', and the typographic ones of translations (PostgreSQL 15's German uses
 * »...«, its Spanish and French «...»; the others are there for other
 * servers' translations).
 */
struct qpair {
	const char *open, *close;
	unsigned char olen, clen;
	unsigned char fam; /* pairs that share a quote character */
};

static const struct qpair qpairs[] = {
	{ "\"", "\"", 1, 1, 0 },
	{ "'", "'", 1, 1, 1 },
	{ "\xc2\xab", "\xc2\xbb", 2, 2, 2 },         /* « » */
	{ "\xc2\xbb", "\xc2\xab", 2, 2, 2 },         /* » « */
	{ "\xe2\x80\x9c", "\xe2\x80\x9d", 3, 3, 3 }, /* “ ” */
	{ "\xe2\x80\x9e", "\xe2\x80\x9c", 3, 3, 3 }, /* „ “ */
	{ "\xe2\x80\x98", "\xe2\x80\x99", 3, 3, 4 }, /* ‘ ’ */
	{ "\xe2\x80\x9a", "\xe2\x80\x98", 3, 3, 4 }, /* ‚ ‘ */
	{ "\xe3\x80\x8c", "\xe3\x80\x8d", 3, 3, 5 }, /* 「 」 */
	{ "\xe3\x80\x8e", "\xe3\x80\x8f", 3, 3, 6 }, /* 『 』 */
};

#define NO_POS ((size_t)-1)

/* ASCII letter, digit or '_': a byte of a word. */
static int word_byte(char c)
{
	return at_is_alpha(c) || at_is_digit(c) || c == '_';
}

static int ascii_case_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (upper((unsigned char)a[i]) != upper((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

/* The quote pair opening at s[i], if one does; prev is the byte written
 * before it.  A ' right after a letter opens nothing (the ' of "doesn't",
 * "n'existe"). */
static const struct qpair *opener_at(const char *s, size_t n, size_t i,
				     char prev)
{
	unsigned char c = (unsigned char)s[i];

	if (c == '"')
		return &qpairs[0];
	if (c == '\'') {
		if (at_is_alpha(prev))
			return NULL;
		return &qpairs[1];
	}
	if (c != 0xc2 && c != 0xe2 && c != 0xe3)
		return NULL;
	for (size_t k = 2; k < AT_ARRAY_SIZE(qpairs); k++) {
		const struct qpair *q = &qpairs[k];

		if (n - i >= q->olen && memcmp(s + i, q->open, q->olen) == 0)
			return q;
	}
	return NULL;
}

/* Does a closing quote of q stand at s[i]?  An ASCII one only when no
 * word byte follows it, nor a '?' (what a redacted word becomes). */
static int closes_at(const char *s, size_t n, size_t i, const struct qpair *q)
{
	if (n - i < q->clen || memcmp(s + i, q->close, q->clen) != 0)
		return 0;
	return q->clen > 1 || i + 1 >= n ||
	       !(word_byte(s[i + 1]) || s[i + 1] == '?');
}

/* The first closing quote of q in s[j..n), or NO_POS. */
static size_t close_first(const char *s, size_t n, size_t j,
			  const struct qpair *q)
{
	const char *p;

	while (j < n && (p = memchr(s + j, q->close[0], n - j)) != NULL) {
		j = (size_t)(p - s);
		if (closes_at(s, n, j, q))
			return j;
		j++;
	}
	return NO_POS;
}

/* The last closing quote of q in s[j..n), or NO_POS. */
static size_t close_last(const char *s, size_t n, size_t j,
			 const struct qpair *q)
{
	size_t e = n;
	const char *p;

	while (e > j && (p = memrchr(s + j, q->close[0], e - j)) != NULL) {
		e = (size_t)(p - s);
		if (closes_at(s, n, e, q))
			return e;
	}
	return NO_POS;
}

/*
 * Is the ' at s[j] an apostrophe for sure: right after a letter that ends
 * a word which stays as it is (a plain word: it starts with no digit and
 * holds no '.' inside)?
 */
static int apostrophe(const char *s, size_t j)
{
	size_t b = j;

	if (j == 0 || !at_is_alpha(s[j - 1]))
		return 0;
	while (b > 0 && (word_byte(s[b - 1]) || s[b - 1] == '$' ||
			 s[b - 1] == '.')) {
		if (s[b - 1] == '.' && word_byte(s[b]))
			return 0;
		b--;
	}
	return !has(s, b, C_DIGIT);
}

/* Does the quote character c[0..l) appear in s[j..n) (a ' that is not
 * an apostrophe for sure)? */
static int quote_in(const char *s, size_t n, size_t j, const char *c,
		    size_t l)
{
	const char *p;

	while (j < n && (p = memmem(s + j, n - j, c, l)) != NULL) {
		j = (size_t)(p - s);
		if (c[0] != '\'' || !apostrophe(s, j))
			return 1;
		j++;
	}
	return 0;
}

/* Does a quote character of q's family (an opening or closing one of a
 * pair that shares one with q) appear in s[j..n)? */
static int quotes_later(const char *s, size_t n, size_t j,
			const struct qpair *q)
{
	for (size_t k = 0; k < AT_ARRAY_SIZE(qpairs); k++) {
		const struct qpair *f = &qpairs[k];

		if (f->fam == q->fam &&
		    (quote_in(s, n, j, f->open, f->olen) ||
		     quote_in(s, n, j, f->close, f->clen)))
			return 1;
	}
	return 0;
}

/* Is the terminated quoted identifier token t the name p[0..l)?  Its
 * inside, with "" read as ", after the opening quote (U& prefix too). */
static int qident_is(const char *s, const struct tok *t, const char *p,
		     size_t l)
{
	size_t i = t->start, e = t->end - 1, k = 0;

	while (s[i] != '"')
		i++;
	for (i++; i < e; i++, k++) {
		if (k >= l || s[i] != p[k])
			return 0;
		if (s[i] == '"')
			i++; /* the second quote of "" */
	}
	return k == l;
}

/* Is p[0..l) one of the identifiers of sql[0..n)?  A plain word matches
 * ASCII case-insensitively (PostgreSQL folds it), a quoted one exactly. */
static int sql_has_name(const char *sql, size_t n, const char *p, size_t l)
{
	struct tok t;
	size_t i = 0;

	if (l == 0)
		return 0;
	for (;;) {
		i = lex(sql, n, i, &t);
		if (t.kind == T_END)
			return 0;
		if (t.kind == T_WORD && t.end - t.start == l &&
		    ascii_case_eq(sql + t.start, p, l))
			return 1;
		if (t.kind == T_QIDENT && qident_is(sql, &t, p, l))
			return 1;
	}
}

/* p[0..l) is a name of sql, or a chain of them joined by '.' (a
 * schema-qualified name: public.orders). */
static int sql_has_chain(const char *sql, size_t n, const char *p, size_t l)
{
	const char *dot = memchr(p, '.', l), *e = p + l;

	if (sql_has_name(sql, n, p, l))
		return 1;
	if (dot == NULL)
		return 0;
	while (p < e) {
		dot = memchr(p, '.', (size_t)(e - p));
		if (dot == NULL)
			dot = e;
		if (!sql_has_name(sql, n, p, (size_t)(dot - p)))
			return 0;
		p = dot + 1;
		if (dot + 1 == e)
			return 0; /* a trailing '.' */
	}
	return 1;
}

static int keep_value(const struct at_sql_keep *k, const char *p, size_t l)
{
	for (size_t m = 0; m < k->n_values; m++) {
		const char *v = k->values[m];

		if (v != NULL && v[0] != '\0' && strlen(v) == l &&
		    memcmp(v, p, l) == 0)
			return 1;
	}
	return 0;
}

/* The word just before s[i] (spaces skipped) is one of k->kinds. */
static int after_kind(const struct at_sql_keep *k, const char *s, size_t i)
{
	size_t e = i, b;

	while (e > 0 && s[e - 1] == ' ')
		e--;
	for (b = e; b > 0 && at_is_alpha(s[b - 1]); b--)
		;
	/* A whole word of letters (never redacted itself). */
	if (b == e ||
	    (b > 0 && (word_byte(s[b - 1]) || s[b - 1] == '$' ||
		       s[b - 1] == '.')))
		return 0;
	for (size_t m = 0; m < k->n_kinds; m++) {
		const char *w = k->kinds[m];

		if (w != NULL && strlen(w) == e - b && ascii_case_eq(s + b, w, e - b))
			return 1;
	}
	return 0;
}

/* Trim ASCII spaces and no-break spaces (U+00A0, U+202F) at both ends. */
static void trim_spaces(const char **p, size_t *l)
{
	for (;;) {
		const char *s = *p;
		size_t n = *l;

		if (n >= 1 && s[0] == ' ') {
			*p += 1, *l -= 1;
		} else if (n >= 1 && s[n - 1] == ' ') {
			*l -= 1;
		} else if (n >= 2 && !memcmp(s, "\xc2\xa0", 2)) {
			*p += 2, *l -= 2;
		} else if (n >= 2 && !memcmp(s + n - 2, "\xc2\xa0", 2)) {
			*l -= 2;
		} else if (n >= 3 && !memcmp(s, "\xe2\x80\xaf", 3)) {
			*p += 3, *l -= 3;
		} else if (n >= 3 && !memcmp(s + n - 3, "\xe2\x80\xaf", 3)) {
			*l -= 3;
		} else {
			return;
		}
	}
}

/* The quoted part s[j..c) (after the opening quote at i) may stay. */
static int keep_quoted(const struct at_sql_keep *k, const char *s, size_t i,
		       size_t j, size_t c)
{
	const char *p = s + j;
	size_t l = c - j;

	trim_spaces(&p, &l);
	if (k == NULL || l == 0)
		return 0;
	return keep_value(k, p, l) || (k->n_kinds > 0 && after_kind(k, s, i)) ||
	       (k->sql != NULL &&
		sql_has_chain(k->sql, text_len(k->sql, k->sql_len), p, l));
}

/* s[i] starts a word: the end of its run of word bytes, '$' and of '.'
 * between them (3.5, 0xff, 127.0.0.1, a.b.c); *dot: a '.' is in it. */
static size_t msg_word_end(const char *s, size_t n, size_t i, int *dot)
{
	*dot = 0;
	for (; i < n; i++) {
		if (s[i] == '.' && i + 1 < n && word_byte(s[i + 1]))
			*dot = 1;
		else if (!word_byte(s[i]) && s[i] != '$')
			break;
	}
	return i;
}

/* Is the unquoted word s[i..e) to stay?  A number (it starts with a digit)
 * or a dotted name (a.b.c) only if keep allows it; any other word does. */
static int keep_word(const struct at_sql_keep *k, const char *s, size_t i,
		     size_t e, int dot)
{
	if (!has(s, i, C_DIGIT) && !dot)
		return 1;
	if (k == NULL)
		return 0;
	return keep_value(k, s + i, e - i) ||
	       (dot && !has(s, i, C_DIGIT) && k->sql != NULL &&
		sql_has_chain(k->sql, text_len(k->sql, k->sql_len), s + i,
			      e - i));
}

size_t at_sql_redact_message(const char *msg, size_t len,
			     const struct at_sql_keep *keep, char *out,
			     size_t cap)
{
	size_t n = text_len(msg, len), i = 0, lit = 0, c, e, r;
	int dot;
	char last = '\0', prev; /* the last byte written */
	struct sink o;
	const struct qpair *q;

	if (cap == 0)
		return 0;
	o.buf = out;
	o.lim = cap - 1;
	o.len = 0;
	while (i < n && o.len + (i - lit) <= o.lim) {
		/* What comes before s[i] in the output decides, so that the
		 * output, redacted again, stays as it is. */
		prev = i > lit ? msg[i - 1] : last;
		if (word_byte(msg[i]) && !(word_byte(prev) || prev == '$')) {
			e = msg_word_end(msg, n, i, &dot);
			if (keep_word(keep, msg, i, e, dot)) {
				i = e; /* plain text */
				continue;
			}
			put(&o, msg + lit, i - lit);
			put(&o, "?", 1);
			last = '?';
			i = lit = e;
			continue;
		}
		q = opener_at(msg, n, i, prev);
		if (q == NULL) {
			i++;
			continue;
		}
		put(&o, msg + lit, i - lit);
		c = close_first(msg, n, i + q->olen, q);
		last = q->close[q->clen - 1];
		if (c != NO_POS && keep_quoted(keep, msg, i, i + q->olen, c)) {
			put(&o, msg + i, c + q->clen - i);
			i = lit = c + q->clen;
			continue;
		}
		put(&o, q->open, q->olen);
		put(&o, "?", 1);
		put(&o, q->close, q->clen);
		if (c == NO_POS) {
			i = lit = n; /* unterminated: the rest is the value */
			break;
		}
		/* A value may hold the quote itself: what follows up to the
		 * last closing quote of the same kind may still be the value;
		 * and if a quote of its family comes after that, the value
		 * may go on there too: then all the rest goes. */
		e = close_last(msg, n, c + q->clen, q);
		i = lit = (e != NO_POS ? e : c) + q->clen;
		if (quotes_later(msg, n, i, q)) {
			i = lit = n;
			break;
		}
	}
	put(&o, msg + lit, i - lit);
	r = o.len < o.lim ? o.len : o.lim;
	if (o.len > o.lim || i < n)
		r = utf8_cut(out, r);
	out[r] = '\0';
	return r;
}

/* ---- at_sql_pg_error ---- */

/* Class 23 (integrity constraint violation): the primary message names
 * catalog objects only (the values are in DETAIL). */
static const char *const pg_integrity_kinds[] = {
	"constraint", "column", "relation", "table",
};

size_t at_sql_pg_error(const char *msg, size_t len, const char *sqlstate,
		       const char *sql, size_t sql_len, char *out, size_t cap)
{
	struct at_sql_keep k = { .sql = sql, .sql_len = sql_len };
	const char *st = sqlstate != NULL ? sqlstate : "";

	if (cap == 0)
		return 0;
	if (!strcmp(st, "P0001") || !strcmp(st, "P0004")) {
		/* RAISE / ASSERT: a text of the function's, values and all. */
		if (cap < 2) {
			out[0] = '\0';
			return 0;
		}
		memcpy(out, "?", 2);
		return 1;
	}
	if (st[0] == '2' && st[1] == '2') {
		/* Data exception: the message is about a value. */
		k.sql = NULL;
	} else if (st[0] == '2' && st[1] == '3') {
		k.kinds = pg_integrity_kinds;
		k.n_kinds = AT_ARRAY_SIZE(pg_integrity_kinds);
	}
	return at_sql_redact_message(msg, len, &k, out, cap);
}
