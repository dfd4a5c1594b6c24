/*
 * at_sql.h - SQL text for database spans: literal-free query text, the
 * operation (SELECT, INSERT...) and the collection (table) name, as the
 * OpenTelemetry database semantic conventions describe db.query.text,
 * db.operation.name and db.collection.name.  PostgreSQL's lexical rules.
 *
 * Pure functions over caller buffers: no allocation, no locale, no global
 * state, bounded reads and writes; any input (not SQL at all, unterminated
 * quotes, invalid UTF-8) gives a defined, bounded output.
 */
#ifndef AT_SQL_H
#define AT_SQL_H

#include <stddef.h>

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

#endif
