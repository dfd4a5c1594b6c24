/*
 * at_sql_lex.h - what the SQL files share (private to
 * src/protocols/at_sql_*.c; callers include only at_sql.h): the character
 * classes, the lexer's tokens, keyword matching and the bounded output
 * that at_sql_sanitize.c, at_sql_name.c and at_sql_redact.c build on
 * (at_sql_lex.c has the lexer's design).
 */
#ifndef AT_SQL_LEX_H
#define AT_SQL_LEX_H

#include <stddef.h>

#include "at_compat.h"

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

static inline int has(const char *s, size_t i, unsigned char c)
{
	return (cls[(unsigned char)s[i]] & c) != 0;
}

static inline unsigned char upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

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

/* The text ends at len or at the first NUL. */
size_t at_sql_text_len(const char *sql, size_t len);

/* The token after whitespace and comments from s[i]; returns its end. */
size_t at_sql_lex(const char *s, size_t n, size_t i, struct tok *t);

/* Is p[0..len) one of the count keywords of list (upper case), ignoring
 * ASCII case? */
int at_sql_kw_in(const char *p, size_t len, const char *const *list,
		 size_t count);

/* Is the token t the keyword k (upper case), ignoring ASCII case? */
int at_sql_is_kw(const char *s, const struct tok *t, const char *k);

#define IS_KW_IN(s, t, list)                                             \
	((t)->kind == T_WORD &&                                            \
	 at_sql_kw_in((s) + (t)->start, (t)->end - (t)->start, list,       \
		      AT_ARRAY_SIZE(list)))

static inline int is_char(const char *s, const struct tok *t, char c)
{
	return t->kind == T_CHAR && s[t->start] == c;
}

struct sink {
	char *buf;
	size_t lim; /* bytes that can be kept: cap - 1 */
	size_t len; /* bytes produced, kept or not */
};

/* Append p[0..n) to o: kept while there is room, always counted. */
void at_sql_put(struct sink *o, const char *p, size_t n);

/* b[0..n) was cut: drop a trailing partial UTF-8 sequence. */
size_t at_sql_utf8_cut(const char *b, size_t n);

#endif
