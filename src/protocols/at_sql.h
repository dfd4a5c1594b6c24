/*
 * at_sql.h - SQL text for database spans: literal-free query text, the
 * operation (SELECT, INSERT...) and the collection (table) name, as the
 * OpenTelemetry database semantic conventions describe db.query.text,
 * db.operation.name and db.collection.name.  PostgreSQL's lexical rules.
 *
 * Pure functions over caller buffers: no allocation, no locale, no global
 * state, bounded reads and writes; any input (not SQL at all, unterminated
 * quotes, invalid UTF-8) gives a defined, bounded output.
 *
 * One header for six files: at_sql_lex.c (the lexer they share),
 * at_sql_sanitize.c (db.query.text), at_sql_name.c (operation and
 * collection names), at_sql_describe.c (the three in one lexing),
 * at_sql_shape.c (the same statement but for its literals),
 * at_sql_redact.c (error messages).
 */
#ifndef AT_SQL_H
#define AT_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Copy the statement(s) sql[0..len) to out, replacing every literal by
 * '?': string constants ('...', with '' inside, E'...' with backslash
 * escapes, U&'...', B'...', X'...', N'...'), dollar-quoted strings ($$..$$,
 * $tag$..$tag$), numeric constants (42, 3.5, .5, 1e-5, 0x1F, 1_000), and a
 * sign directly before a number when it cannot be a binary operator.
 * Comments (-- to end of line, nested C-style) are removed.  Whitespace
 * runs become one space; leading/trailing whitespace is dropped.
 * Identifiers (also quoted ones, "..."), keywords, operators, casts
 * ('x'::text becomes ?::text) and parameter placeholders ($1) are kept.  A
 * parenthesised list holding only literals and placeholders - IN (1, 2,
 * 3), VALUES (1, 'a') - becomes "(?)".  An unterminated literal or comment
 * swallows the rest of the input (it becomes '?' or nothing).
 * Writes at most cap - 1 bytes plus a NUL, cutting at a UTF-8 boundary;
 * returns the length written.  cap >= 1.
 */
size_t at_sql_sanitize(const char *sql, size_t len, char *out, size_t cap);

/*
 * The operation of the first statement in sql, uppercased into out
 * (NUL-terminated): its first keyword (SELECT, INSERT, UPDATE, DELETE,
 * MERGE, COPY, CREATE, ALTER, DROP, TRUNCATE, BEGIN, COMMIT, ROLLBACK,
 * SET, SHOW, EXPLAIN, CALL, DO, VACUUM, ANALYZE, GRANT, PREPARE, EXECUTE,
 * LISTEN, NOTIFY, ...), skipping leading whitespace, comments and '('.
 * For WITH ... the keyword of the main statement after the CTEs.  Returns
 * the length, 0 if sql does not start with a word (out is then "").
 */
size_t at_sql_operation(const char *sql, size_t len, char *out, size_t cap);

/*
 * The collection (table) the first statement works on, when that is one
 * table that can be read cheaply: SELECT ... FROM t (no comma/JOIN after
 * it), INSERT INTO t, UPDATE t, DELETE FROM t, COPY t, TRUNCATE [TABLE] t,
 * CREATE/ALTER/DROP TABLE [IF [NOT] EXISTS] t, MERGE INTO t.  The name as
 * written (schema.table, "Quoted"), without the alias.  Returns the length
 * written to out (NUL-terminated), 0 if there is none or it is ambiguous.
 */
size_t at_sql_collection(const char *sql, size_t len, char *out, size_t cap);

/*
 * All three at once, lexing the text once (a statement's span needs them
 * all): the operation into op (op_cap bytes), the collection into coll
 * (coll_cap), and, when text is not NULL, the sanitised text into text
 * (text_cap >= 1).  Each is byte for byte what at_sql_operation,
 * at_sql_collection and at_sql_sanitize give for the same arguments.
 */
struct at_sql_parts {
	char *text, *op, *coll; /* text may be NULL: not sanitised */
	size_t text_cap, op_cap, coll_cap;
	size_t text_len, op_len, coll_len; /* results */
};

void at_sql_describe(const char *sql, size_t len, struct at_sql_parts *p);

/*
 * Statements that differ only in their literals ("... WHERE id = 42" and
 * "... WHERE id = 7") describe alike: at_sql_describe gives both the same
 * text, operation and collection.  at_sql_shape_of records where the
 * literals of sql[0..len) are (false, and no shape, for a text with a
 * NUL, more than AT_SQL_SHAPE_LITS literals or over AT_SQL_SHAPE_TEXT
 * bytes);
 * at_sql_shape_match(a, alen, shape of a, b, blen) is true only when
 * at_sql_describe(b) gives what at_sql_describe(a) gives, with any caps:
 * b has a's bytes outside a's literals and a literal of the same kind
 * where a has one (at_sql_shape.c says why that is enough).  Costs a
 * memcmp of the text and a lexing of b's literals.
 */
#define AT_SQL_SHAPE_LITS 16
#define AT_SQL_SHAPE_TEXT 1024 /* longer texts have no shape */
struct at_sql_shape {
	uint16_t n; /* literals */
	uint16_t start[AT_SQL_SHAPE_LITS], end[AT_SQL_SHAPE_LITS];
	uint32_t signable; /* bit k: literal k may have a sign or not */
};

bool at_sql_shape_of(const char *sql, size_t len, struct at_sql_shape *sh);
bool at_sql_shape_match(const char *a, size_t alen,
			const struct at_sql_shape *sh, const char *b,
			size_t blen);

/*
 * Error messages.  A database server's (or client library's) error text
 * may echo what the program sent: PostgreSQL's 'invalid input syntax for
 * type integer: "123-45-6789"', MySQL's "Duplicate entry 'bob@x.org' for
 * key ...", Redis's "unknown command 'X', with args beginning with: ...".
 * at_sql_redact_message copies msg[0..len) to out with every value
 * replaced by '?':
 *   - a quoted part - "...", '...', or a typographic pair of translations
 *     (»...«, «...», “...”, „...“, ‘...’, 「...」) - becomes "?" (with its
 *     own quotes), unless it is allowed by keep (below).  An ASCII quote
 *     opens only when no letter, digit or '_' comes before it (the ' of
 *     "doesn't") and closes only when none follows it.  Since a value may
 *     hold the quote itself, a redacted part reaches to the last closing
 *     quote of its kind in the message (what lies between is dropped); an
 *     unterminated one reaches the end.
 *   - a word - a run of ASCII letters, digits, '_', '$' and of '.'
 *     between them that does not continue a word or a "$" - that
 *     is a number (it starts with a digit: 42, 3.5, 0xff, 127.0.0.1; not
 *     int4, not $1) or a dotted name (a.b.c, as in "improper relation
 *     name (too many dotted names): a.b.c.d") becomes ?, unless it is one
 *     of keep->values or (a dotted name) a chain of identifiers of
 *     keep->sql.
 *   - everything else stays: it is the server's own text.
 * A quoted part stays when its inside (spaces and no-break spaces at
 * either end ignored, as in French « %s ») is:
 *   - one of keep->values exactly, or
 *   - one of the identifiers of keep->sql (a plain word ASCII
 *     case-insensitively, a quoted identifier exactly; literals are not
 *     identifiers), or a '.'-joined chain of them (public.orders): a
 *     message then shows nothing db.query.text does not, or
 *   - right after one of the words keep->kinds (ASCII case-insensitive;
 *     for messages whose grammar puts only catalog names after them).
 * keep may be NULL (every quoted part and number goes).  Reads end at
 * len or the first NUL; writes at most cap - 1 bytes plus a NUL, cut at a
 * UTF-8 boundary; returns the length written.  Pure: no allocation, no
 * locale, no global state.  Linear in len, plus one scan of sql per
 * quoted part examined (at most about cap / 3 of them).
 *
 * Limits: a value the server prints without quotes stays, unless it is a
 * number or a dotted name (PostgreSQL's own messages quote values, with
 * few exceptions such as "date field value out of range: 2024-13-45" -
 * numbers - and the dotted names above); a value that begins with an
 * identifier of the statement followed by a quote and a non-word byte
 * (x" y) can show what follows its next quote, except in PostgreSQL's
 * class 22 (at_sql_pg_error).
 *
 * Reuse: for MySQL, pass the statement text and no kinds (its SQLSTATE
 * 23000 message holds the duplicate value); for Redis, pass the command
 * name as values (its arguments are values).
 */
struct at_sql_keep {
	const char *sql; /* statement text whose identifiers may stay */
	size_t sql_len;
	const char *const *values; /* strings that may stay (NULLs skipped) */
	size_t n_values;
	const char *const *kinds; /* words a quoted catalog name follows */
	size_t n_kinds;
};

size_t at_sql_redact_message(const char *msg, size_t len,
			     const struct at_sql_keep *keep, char *out,
			     size_t cap);

/*
 * PostgreSQL's primary message msg for a statement sql (the text exported
 * as db.query.text), by SQLSTATE (may be NULL):
 *   - P0001, P0004 (RAISE, ASSERT): a function's own text, which may hold
 *     any value unquoted: "?" as a whole;
 *   - class 22 (data exception): the message is about a value; no quoted
 *     part stays, not even one that looks like an identifier;
 *   - class 23 (integrity constraint violation): the values are in DETAIL
 *     (never exported); the constraint, column, relation and table names
 *     after those words stay, as do the statement's identifiers;
 *   - any other: the statement's identifiers stay (relation "orders").
 * Same output contract as at_sql_redact_message.
 */
size_t at_sql_pg_error(const char *msg, size_t len, const char *sqlstate,
		       const char *sql, size_t sql_len, char *out, size_t cap);

#endif
