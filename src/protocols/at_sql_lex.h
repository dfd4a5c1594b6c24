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
#include <string.h>

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

/*
 * A lexer over one text that remembers the tokens it found, so that the
 * functions reading the same statement (sanitiser, operation, collection:
 * at_sql_describe) lex it once.  The tokens from the start are kept in
 * order in toks[0..count) while room lasts: the token lexed from i is
 * toks[k] when i is 0 (k = 0) or toks[k - 1].end.  at_sql_lex_at answers
 * from there (at once when i is where the last answer ended), else lexes
 * (and keeps the token when it is the next one in order): the same token
 * at_sql_lex gives, by construction.  cap 0 keeps nothing.
 */
struct lexer {
	const char *s;
	size_t n;
	struct tok *toks;
	size_t count, cap;
	size_t end; /* where the last kept token ends (0: none kept) */
	int ended; /* nothing more is kept (T_END kept, or toks full) */
	size_t next, pos; /* toks[next] is the token lexed from pos */
};

static inline void at_sql_lexer_init(struct lexer *x, const char *s,
				     size_t n, struct tok *toks, size_t cap)
{
	x->s = s;
	x->n = n;
	x->toks = toks;
	x->count = 0;
	x->cap = cap;
	x->end = 0;
	x->ended = cap == 0;
	x->next = 0;
	x->pos = 0;
}

/* at_sql_lex_at when the token is neither the one after the last answer
 * nor the next to keep. */
size_t at_sql_lex_find(struct lexer *x, size_t i, struct tok *t);

/* at_sql_lex(x->s, x->n, i, t), from memory when it can be. */
static inline size_t at_sql_lex_at(struct lexer *x, size_t i, struct tok *t)
{
	if (x->next < x->count && x->pos == i) {
		*t = x->toks[x->next++];
		x->pos = t->end;
		return t->end;
	}
	/* The next in order (the sanitiser reads on): lex it and keep it. */
	if (i == x->end && !x->ended) {
		at_sql_lex(x->s, x->n, i, t);
		if (x->count < x->cap) {
			x->toks[x->count++] = *t;
			x->next = x->count;
			x->end = t->end;
			x->ended = t->kind == T_END;
		} else {
			x->ended = 1; /* full: nothing more is kept */
		}
		return t->end;
	}
	return at_sql_lex_find(x, i, t);
}

/* at_sql_sanitize, at_sql_operation, at_sql_collection over x. */
size_t at_sql_sanitize_lexed(struct lexer *x, char *out, size_t cap);
/* at_sql_sanitize_lexed, recording the literals into sh (at_sql_shape.c;
 * sh->n and sh->signable zero at the call; n is past AT_SQL_SHAPE_LITS
 * when there were too many). */
struct at_sql_shape;
size_t at_sql_sanitize_shaped(struct lexer *x, char *out, size_t cap,
			      struct at_sql_shape *sh);
size_t at_sql_operation_lexed(struct lexer *x, char *out, size_t cap);
size_t at_sql_collection_lexed(struct lexer *x, char *out, size_t cap);


/* Is p[0..len) the keyword k (upper case), ignoring ASCII case? */
static inline int at_sql_kw_eq(const char *p, size_t len, const char *k)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (k[i] == '\0' ||
		    upper((unsigned char)p[i]) != (unsigned char)k[i])
			return 0;
	}
	return k[len] == '\0';
}

/* Is p[0..len) one of the count keywords of list (upper case), ignoring
 * ASCII case?  Inline: with a constant list the compiler tests the first
 * letters as constants. */
static inline int at_sql_kw_in(const char *p, size_t len,
			       const char *const *list, size_t count)
{
	size_t i;
	unsigned char c;

	if (len == 0) {
		for (i = 0; i < count; i++)
			if (list[i][0] == '\0')
				return 1;
		return 0;
	}
	/* The first letter first: most keywords differ there. */
	c = (unsigned char)upper((unsigned char)p[0]);
	for (i = 0; i < count; i++) {
		if ((unsigned char)list[i][0] == c &&
		    at_sql_kw_eq(p, len, list[i]))
			return 1;
	}
	return 0;
}

/* Is the token t the keyword k (upper case), ignoring ASCII case?  The
 * lengths first: k is mostly a literal, whose strlen is a constant. */
static inline int at_sql_is_kw(const char *s, const struct tok *t,
			       const char *k)
{
	size_t len = t->end - t->start;

	return t->kind == T_WORD && len == strlen(k) &&
	       at_sql_kw_eq(s + t->start, len, k);
}

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
static inline void at_sql_put(struct sink *o, const char *p, size_t n)
{
	size_t room;

	if (o->len < o->lim) {
		room = o->lim - o->len;
		memcpy(o->buf + o->len, p, n < room ? n : room);
	}
	o->len += n;
}

/* b[0..n) was cut: drop a trailing partial UTF-8 sequence. */
size_t at_sql_utf8_cut(const char *b, size_t n);

#endif
