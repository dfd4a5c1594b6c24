/*
 * at_sql_sanitize.c - db.query.text: a statement's text without its
 * literals (at_sql_sanitize), written back from the lexer's tokens
 * (at_sql_lex.c).
 *
 * Design
 * ------
 * Pure functions over caller memory with bounded reads and writes, like
 * the lexer: at_sql_lex.c's design says what all these files keep to (no
 * allocation, no system call, the text ends at its first NUL).
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
 * With a shape to fill (at_sql_shape_of, at_sql_shape.c), it records
 * where each literal lies, a sign it dropped included when whitespace
 * comes before that sign, and which numbers a sign could come before
 * and be dropped (after whitespace, where sign_is_unary says so).
 *
 * Speed: a 200-byte query sanitizes in well under a microsecond (about
 * 2-3 ns a byte: a table lookup per byte, memchr inside strings).
 */
#include <stddef.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_sql.h"
#include "at_sql_lex.h"

/* Keywords after which a sign starts a number ("WHERE a > 1 AND -2 < b"). */
static const char *const unary_kw[] = {
	"ALL", "AND", "BETWEEN", "BY", "CASE", "DEFAULT", "DISTINCT",
	"ELSE", "ESCAPE", "HAVING", "ILIKE", "IN", "IS", "LIKE", "LIMIT",
	"MAXVALUE", "MINVALUE", "NOT", "OFFSET", "ON", "OR", "RETURN",
	"RETURNING", "SELECT", "SIMILAR", "THEN", "TO", "WHEN", "WHERE",
	"WITH", "ZONE",
};

/* ---- at_sql_sanitize ---- */

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
	struct at_sql_shape *sh; /* where the literals are (may be NULL) */
	size_t sign; /* a dropped sign with space before: its offset + 1 */
};

static int sign_is_unary(const struct san *z, const char *s);

/* at_sql_shape_of: the literal t (with the dropped sign before it) is
 * one of the text's values. */
static void shape_add(struct san *z, const char *s, const struct tok *t)
{
	struct at_sql_shape *sh = z->sh;
	size_t start = z->sign ? z->sign - 1 : t->start;
	int num = has(s, t->start, C_DIGIT) || s[t->start] == '.';

	if (sh->n >= AT_SQL_SHAPE_LITS) {
		sh->n = AT_SQL_SHAPE_LITS + 1; /* too many: no shape */
		return;
	}
	/* A number after whitespace where a sign would be dropped: a text
	 * with or without that sign writes the same. */
	if (num && (z->sign || (t->space && sign_is_unary(z, s))))
		sh->signable |= 1u << sh->n;
	sh->start[sh->n] = (uint16_t)start;
	sh->end[sh->n] = (uint16_t)t->end;
	sh->n++;
}

/* Inlined: it runs for every token (a call costs as much as its body). */
static inline __attribute__((always_inline)) void
emit(struct san *z, const char *p, size_t n)
{
	if (z->space && z->o.len > 0)
		at_sql_put(&z->o, " ", 1);
	z->space = 0;
	at_sql_put(&z->o, p, n);
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
		return at_sql_kw_in(s + z->wstart, z->wlen, unary_kw,
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
			at_sql_put(&z->o, " ", 1);
		z->space = 0;
		z->lpos = z->o.len;
		at_sql_put(&z->o, "(", 1);
		z->list = L_EXPECT;
		z->prev = P_OP;
		break;
	case ')':
		if (z->list == L_AFTER) {
			z->o.len = z->lpos;
			z->space = 0;
			at_sql_put(&z->o, "(?)", 3);
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

size_t at_sql_sanitize_shaped(struct lexer *x, char *out, size_t cap,
			      struct at_sql_shape *sh)
{
	const char *sql = x->s;
	size_t n = x->n, i = 0, r;
	struct san z = { .prev = P_START, .sh = sh };
	struct tok t;

	if (cap == 0)
		return 0;
	z.o.buf = out;
	z.o.lim = cap - 1;
	for (;;) {
		i = at_sql_lex_at(x, i, &t);
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
			if (AT_UNLIKELY(z.sh) && t.kind == T_LIT)
				shape_add(&z, sql, &t);
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
			    sign_is_unary(&z, sql)) {
				/* Goes with the number's '?'. */
				z.sign = t.space ? t.start + 1 : 0;
				continue;
			}
			san_char(&z, sql, &t);
			z.sign = 0;
			continue;
		}
		z.op_run = 0;
		z.sign = 0;
	}
	r = z.o.len < z.o.lim ? z.o.len : z.o.lim;
	if (z.o.len > z.o.lim) {
		r = at_sql_utf8_cut(out, r);
		if (r > 0 && out[r - 1] == ' ')
			r--;
	}
	out[r] = '\0';
	return r;
}

size_t at_sql_sanitize_lexed(struct lexer *x, char *out, size_t cap)
{
	return at_sql_sanitize_shaped(x, out, cap, NULL);
}

size_t at_sql_sanitize(const char *sql, size_t len, char *out, size_t cap)
{
	struct lexer x;

	at_sql_lexer_init(&x, sql, at_sql_text_len(sql, len), NULL, 0);
	return at_sql_sanitize_lexed(&x, out, cap);
}
