/*
 * at_sql_shape.c - is a statement the same as one seen before but for its
 * literals (at_sql_shape_of, at_sql_shape_match)?
 *
 * Design
 * ------
 * A program that does not bind its values sends the same few statements
 * with different literals every time ("... WHERE aid = 4711", pgbench's
 * default mode, most ORMs' plain queries): the text differs, but what
 * at_sql_describe gives for it - the sanitised text, the operation, the
 * collection - does not, since none of them reads a literal's bytes (a
 * literal is written as '?', names come from words, quoted identifiers
 * and operator bytes).  A caller that remembers what a text gave can then
 * reuse it for a later text of the same shape at the cost of comparing
 * the bytes between the literals and lexing the new literals, instead of
 * lexing, sanitising and naming the whole text again.
 *
 * The shape of a text a is where its literal tokens lie (at most
 * AT_SQL_SHAPE_LITS of them).  Text b matches when, in order:
 *   - the bytes before, between and after the literals are the same as
 *     a's (memcmp), so b's tokens there are a's tokens;
 *   - where a has a literal, b's token lexed from that same point (with
 *     the real lexer, at_sql_lex) is a literal that starts right there
 *     (no whitespace skipped) with a first byte of the same class: a
 *     digit for a digit, else the same byte ('.', a quote, '$', the
 *     prefix letter of E'..', U&'..');
 *   - signs: "x = -5" and "x = 5" sanitise alike ("x = ?": a sign where
 *     it cannot be a binary operator goes with its number), so where the
 *     sanitiser said a sign would be dropped and whitespace comes before
 *     the number (or its sign), a's literal includes its sign if it has
 *     one, and b may have a number with or without a sign there.  The
 *     sanitiser records the literals (at_sql_sanitize_shaped): it alone
 *     knows which signs it drops (sign_is_unary).  Without whitespace
 *     before, the sign is compared as text: a sign glued to what comes
 *     before ("a--5" is a comment) could change the tokens.
 * Why that is enough: the lexer has no state but its position, so b's
 * tokens are a's up to a literal; a token is only decided by its own
 * bytes plus what follows it, and what follows a token of the equal bytes
 * is either equal bytes or the first byte of a literal - and every
 * decision the lexer or the sanitiser takes on a literal's first byte
 * from outside it (does a word go on: digit, '$' and letters continue
 * one; is '.' or a sign before a number; is '$' a parameter or a dollar
 * quote; is a one-letter word a prefix) gives the same answer for bytes
 * of the same class.  The literal itself is lexed in b, so its end is
 * b's own.  Operation and collection never look at literals, and the
 * sanitiser writes each as '?': describing b gives what a gave, byte for
 * byte (tests/unit/protocols/test_sql.c checks this on mutated texts).
 *
 * Limits: a text with a NUL, more than AT_SQL_SHAPE_LITS literals or
 * longer than AT_SQL_SHAPE_TEXT bytes has no shape (its callers describe
 * it whole).  at_sql_shape_of sanitises the text once (on a memo miss).
 * A plain integer (digits, then a byte that cannot go on with them) is
 * read without the lexer: the most common literal, and what it would
 * give.
 * Pure, like the other at_sql files: no allocation, bounded reads.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "at_sql.h"
#include "at_sql_lex.h"

bool at_sql_shape_of(const char *sql, size_t len, struct at_sql_shape *sh)
{
	char out[AT_SQL_SHAPE_TEXT + 2];
	struct lexer x;

	sh->n = 0;
	sh->signable = 0;
	if (!sql || len > AT_SQL_SHAPE_TEXT || memchr(sql, '\0', len))
		return false;
	/* The sanitiser knows which signs it drops: it records the literals
	 * (with room for the whole text, so that it reads to the end). */
	at_sql_lexer_init(&x, sql, len, NULL, 0);
	at_sql_sanitize_shaped(&x, out, sizeof(out), sh);
	if (sh->n > AT_SQL_SHAPE_LITS) {
		sh->n = 0;
		return false;
	}
	return true;
}

/* The class of a literal's first byte, as the lexer sees it from outside. */
static inline unsigned char first_class(char c)
{
	return c >= '0' && c <= '9' ? '0' : (unsigned char)c;
}

/* A plain integer at b[j] ("4711", followed by nothing that could go on
 * with it): its end, as at_sql_lex would find it; else 0 (lex it). */
static inline size_t number_end(const char *b, size_t n, size_t j)
{
	size_t e = j;

	while (e < n && has(b, e, C_DIGIT))
		e++;
	if (e == j || (e < n && (has(b, e, C_CONT) || b[e] == '.')))
		return 0;
	return e;
}

bool at_sql_shape_match(const char *a, size_t alen,
			const struct at_sql_shape *sh, const char *b,
			size_t blen)
{
	size_t ia = 0, ib = 0, gap;
	struct tok t;

	for (unsigned k = 0; k < sh->n; k++) {
		size_t j;

		gap = sh->start[k] - ia;
		if (ib + gap >= blen || memcmp(a + ia, b + ib, gap) != 0)
			return false;
		ib += gap;
		j = ib;
		if (sh->signable >> k & 1) {
			/* [sign] number, after whitespace. */
			if (b[j] == '-' || b[j] == '+')
				j++;
			if (j >= blen || !(has(b, j, C_DIGIT) || b[j] == '.'))
				return false;
		} else if (first_class(b[j]) != first_class(a[sh->start[k]])) {
			return false;
		}
		ia = sh->end[k];
		ib = number_end(b, blen, j);
		if (ib)
			continue;
		at_sql_lex(b, blen, j, &t);
		if (t.kind != T_LIT || t.space ||
		    memchr(b + j, '\0', t.end - j))
			return false;
		ib = t.end;
	}
	return alen - ia == blen - ib && memcmp(a + ia, b + ib, alen - ia) == 0;
}
