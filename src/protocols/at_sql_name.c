/*
 * at_sql_name.c - the statement's names for a database span:
 * db.operation.name (at_sql_operation) and db.collection.name
 * (at_sql_collection), read from the first statement's tokens
 * (at_sql_lex.c).
 *
 * Design
 * ------
 * Pure functions over caller memory with bounded reads and writes, like
 * the lexer: at_sql_lex.c's design says what all these files keep to (no
 * allocation, no system call, the text ends at its first NUL).
 *
 * at_sql_operation and at_sql_collection read the first statement's tokens
 * with a few keyword rules (see the functions); keywords are matched
 * ASCII case-insensitively.  They never write a cut name: an operation or
 * table name that does not fit in cap gives 0.
 */
#include <stddef.h>
#include <string.h>

#include "at_ascii.h"
#include "at_compat.h"
#include "at_sql.h"
#include "at_sql_lex.h"

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
static int with_main(struct lexer *x, size_t i, struct tok *t)
{
	const char *s = x->s;
	size_t depth = 0;
	int closed = 0, search = 0;

	for (;;) {
		i = at_sql_lex_at(x, i, t);
		if (t->kind == T_END)
			return 0;
		if (t->kind == T_CHAR && s[t->start] == '(') {
			if (depth == 0 && closed) {
				do
					i = at_sql_lex_at(x, i, t);
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
			if (at_sql_is_kw(s, t, "SEARCH") ||
			    at_sql_is_kw(s, t, "CYCLE"))
				search = 1;
			else if (!at_sql_is_kw(s, t, "AS"))
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
size_t at_sql_operation_lexed(struct lexer *x, char *out, size_t cap)
{
	const char *sql = x->s;
	size_t i = 0, l, k;
	struct tok t;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	do
		i = at_sql_lex_at(x, i, &t);
	while (is_char(sql, &t, '('));
	if (t.kind != T_WORD)
		return 0;
	if (at_sql_is_kw(sql, &t, "WITH") && !with_main(x, i, &t))
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
static size_t read_name(struct lexer *x, struct tok *t, struct name *nm)
{
	const char *s = x->s;
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
		j = at_sql_lex_at(x, e, t);
		if (t->space || !is_char(s, t, '.'))
			break;
		at_sql_lex_at(x, j, t);
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
static size_t skip_seq(struct lexer *x, size_t i, struct tok *t,
		       const char *const *seq, size_t count)
{
	const char *s = x->s;
	struct tok u = *t;
	size_t j = i, k;

	for (k = 0; k < count; k++) {
		if (!at_sql_is_kw(s, &u, seq[k]))
			return i;
		j = at_sql_lex_at(x, j, &u);
	}
	*t = u;
	return j;
}

static const char *const if_not_exists[] = { "IF", "NOT", "EXISTS" };
static const char *const if_exists[] = { "IF", "EXISTS" };

/* t is the token after the balanced "(": past its ")". */
static size_t skip_parens(struct lexer *x, size_t i, struct tok *t)
{
	const char *s = x->s;
	size_t depth = 1;

	while (depth > 0) {
		i = at_sql_lex_at(x, i, t);
		if (t->kind == T_END)
			return x->n;
		if (is_char(s, t, '('))
			depth++;
		else if (is_char(s, t, ')'))
			depth--;
	}
	return at_sql_lex_at(x, i, t);
}

/*
 * SELECT: the depth-0 FROM (not "IS DISTINCT FROM"), one table with an
 * optional alias, then the end of the statement or a clause that adds no
 * table, and no UNION/INTERSECT/EXCEPT at depth <= 0 after it.
 */
static int select_table(struct lexer *x, size_t i, struct name *nm)
{
	const char *s = x->s;
	struct tok t;
	long depth = 0;
	int distinct = 0;

	for (;;) {
		i = at_sql_lex_at(x, i, &t);
		if (t.kind == T_END || (depth <= 0 && is_char(s, &t, ';')))
			return 0;
		if (is_char(s, &t, '('))
			depth++;
		else if (is_char(s, &t, ')'))
			depth--;
		if (depth <= 0 && IS_KW_IN(s, &t, set_op_kw))
			return 0;
		if (depth <= 0 && at_sql_is_kw(s, &t, "FROM") && !distinct)
			break;
		distinct = depth <= 0 && at_sql_is_kw(s, &t, "DISTINCT");
	}
	i = at_sql_lex_at(x, i, &t);
	if (at_sql_is_kw(s, &t, "ONLY"))
		i = at_sql_lex_at(x, i, &t);
	i = read_name(x, &t, nm);
	if (i == 0)
		return 0;
	if (at_sql_is_kw(s, &t, "AS") || t.kind == T_QIDENT ||
	    (t.kind == T_WORD && !IS_KW_IN(s, &t, select_follow_kw) &&
	     !IS_KW_IN(s, &t, not_alias_kw))) {
		if (at_sql_is_kw(s, &t, "AS")) {
			i = at_sql_lex_at(x, i, &t);
			if (t.kind != T_WORD && t.kind != T_QIDENT)
				return 0;
		}
		i = at_sql_lex_at(x, i, &t);
		if (is_char(s, &t, '('))
			i = skip_parens(x, i, &t);
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
		i = at_sql_lex_at(x, i, &t);
	}
}

/* The statement keyword is t; the table it works on, if one. */
static int statement_table(struct lexer *x, size_t i, struct tok *t,
			   struct name *nm)
{
	const char *s = x->s;
	if (at_sql_is_kw(s, t, "SELECT"))
		return select_table(x, i, nm);
	if (at_sql_is_kw(s, t, "INSERT") || at_sql_is_kw(s, t, "MERGE")) {
		i = at_sql_lex_at(x, i, t);
		if (!at_sql_is_kw(s, t, "INTO"))
			return 0;
		i = at_sql_lex_at(x, i, t);
	} else if (at_sql_is_kw(s, t, "DELETE")) {
		i = at_sql_lex_at(x, i, t);
		if (!at_sql_is_kw(s, t, "FROM"))
			return 0;
		i = at_sql_lex_at(x, i, t);
	} else if (at_sql_is_kw(s, t, "UPDATE") || at_sql_is_kw(s, t, "COPY")) {
		i = at_sql_lex_at(x, i, t);
	} else if (at_sql_is_kw(s, t, "TRUNCATE")) {
		i = at_sql_lex_at(x, i, t);
		if (at_sql_is_kw(s, t, "TABLE"))
			i = at_sql_lex_at(x, i, t);
	} else if (at_sql_is_kw(s, t, "CREATE") ||
		   at_sql_is_kw(s, t, "ALTER") || at_sql_is_kw(s, t, "DROP")) {
		int create = at_sql_is_kw(s, t, "CREATE");

		i = at_sql_lex_at(x, i, t);
		while (create && IS_KW_IN(s, t, temp_kw))
			i = at_sql_lex_at(x, i, t);
		if (!at_sql_is_kw(s, t, "TABLE"))
			return 0;
		i = at_sql_lex_at(x, i, t);
		if (create)
			i = skip_seq(x, i, t, if_not_exists,
				     AT_ARRAY_SIZE(if_not_exists));
		else
			i = skip_seq(x, i, t, if_exists,
				     AT_ARRAY_SIZE(if_exists));
	} else {
		return 0;
	}
	if (at_sql_is_kw(s, t, "ONLY"))
		i = at_sql_lex_at(x, i, t);
	return read_name(x, t, nm) != 0;
}

size_t at_sql_collection_lexed(struct lexer *x, char *out, size_t cap)
{
	const char *sql = x->s;
	size_t i = 0, l;
	struct name nm;
	struct tok t;
	int parens = 0;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	for (;;) {
		i = at_sql_lex_at(x, i, &t);
		if (!is_char(sql, &t, '('))
			break;
		parens = 1;
	}
	if (t.kind != T_WORD || (parens && !at_sql_is_kw(sql, &t, "SELECT")))
		return 0;
	if (!statement_table(x, i, &t, &nm))
		return 0;
	l = nm.end - nm.start;
	if (l >= cap)
		return 0;
	memcpy(out, sql + nm.start, l);
	out[l] = '\0';
	return l;
}

size_t at_sql_operation(const char *sql, size_t len, char *out, size_t cap)
{
	struct lexer x;

	at_sql_lexer_init(&x, sql, at_sql_text_len(sql, len), NULL, 0);
	return at_sql_operation_lexed(&x, out, cap);
}

size_t at_sql_collection(const char *sql, size_t len, char *out, size_t cap)
{
	struct lexer x;

	at_sql_lexer_init(&x, sql, at_sql_text_len(sql, len), NULL, 0);
	return at_sql_collection_lexed(&x, out, cap);
}
