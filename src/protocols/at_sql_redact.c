/*
 * at_sql_redact.c - database error messages without the values they echo
 * (at_sql_redact_message), and PostgreSQL's rules by SQLSTATE class
 * (at_sql_pg_error).
 *
 * Design
 * ------
 * Pure functions over caller memory with bounded reads and writes, like
 * the lexer: at_sql_lex.c's design says what all these files keep to (no
 * allocation, no system call, the text ends at its first NUL).
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
 */
#include <stddef.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_sql.h"
#include "at_sql_lex.h"

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
		i = at_sql_lex(sql, n, i, &t);
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
		sql_has_chain(k->sql, at_sql_text_len(k->sql, k->sql_len), p,
			      l));
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
		sql_has_chain(k->sql, at_sql_text_len(k->sql, k->sql_len),
			      s + i, e - i));
}

size_t at_sql_redact_message(const char *msg, size_t len,
			     const struct at_sql_keep *keep, char *out,
			     size_t cap)
{
	size_t n = at_sql_text_len(msg, len), i = 0, lit = 0, c, e, r;
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
			at_sql_put(&o, msg + lit, i - lit);
			at_sql_put(&o, "?", 1);
			last = '?';
			i = lit = e;
			continue;
		}
		q = opener_at(msg, n, i, prev);
		if (q == NULL) {
			i++;
			continue;
		}
		at_sql_put(&o, msg + lit, i - lit);
		c = close_first(msg, n, i + q->olen, q);
		last = q->close[q->clen - 1];
		if (c != NO_POS && keep_quoted(keep, msg, i, i + q->olen, c)) {
			at_sql_put(&o, msg + i, c + q->clen - i);
			i = lit = c + q->clen;
			continue;
		}
		at_sql_put(&o, q->open, q->olen);
		at_sql_put(&o, "?", 1);
		at_sql_put(&o, q->close, q->clen);
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
	at_sql_put(&o, msg + lit, i - lit);
	r = o.len < o.lim ? o.len : o.lim;
	if (o.len > o.lim || i < n)
		r = at_sql_utf8_cut(out, r);
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
