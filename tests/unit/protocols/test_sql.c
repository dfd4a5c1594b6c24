/*
 * test_sql.c - SQL text for database spans: literal-free db.query.text,
 * db.operation.name and db.collection.name from PostgreSQL statements.
 *
 * The sanitize table follows PostgreSQL's lexical rules (quotes inside
 * quotes, E'' escapes, dollar quotes, nested comments, numeric forms,
 * string continuation across a newline); each expected output is also
 * checked to sanitize to itself.  The guard-page test places every prefix
 * of several inputs at the very end of a readable page followed by a
 * PROT_NONE page, and the output buffers the same way: any read past the
 * given length or write past cap crashes the test.
 *
 * Error messages: the PostgreSQL 15 messages below are real - each was
 * produced by its statement on a PostgreSQL 15.18 server (the tests'
 * throwaway cluster, lc_messages C), connection messages by libpq 15 (psql
 * with the connection string shown); the translated ones are PostgreSQL
 * 15's own translations (postgres-15.mo of de, fr, es, ja, ru, zh_CN)
 * with the same values filled in.  The statement goes through
 * at_sql_sanitize first, as at_pq.c does for db.query.text.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "at_sql.h"

#define AT_N(a) (sizeof(a) / sizeof((a)[0]))

static char outbuf[4096];

static const char *san(const char *s)
{
	at_sql_sanitize(s, strlen(s), outbuf, sizeof(outbuf));
	return outbuf;
}

static const char *san_cap(const char *s, size_t len, size_t cap)
{
	size_t r;

	memset(outbuf, 'Z', sizeof(outbuf));
	r = at_sql_sanitize(s, len, outbuf, cap);
	cr_assert_lt(r, cap);
	cr_assert_eq(outbuf[r], '\0');
	cr_assert_eq(strlen(outbuf), r);
	cr_assert_eq(outbuf[cap], 'Z', "wrote past cap %zu", cap);
	return outbuf;
}

static const char *op(const char *s)
{
	at_sql_operation(s, strlen(s), outbuf, 64);
	return outbuf;
}

static const char *coll(const char *s)
{
	at_sql_collection(s, strlen(s), outbuf, 256);
	return outbuf;
}

struct sql_case {
	const char *in;
	const char *want;
};

#define expect_out(fn, c)                                                 \
	cr_expect(strcmp(fn((c)->in), (c)->want) == 0,                     \
		  #fn "(\"%s\"): got \"%s\", want \"%s\"", (c)->in, outbuf, \
		  (c)->want)

/* ---- at_sql_sanitize ---- */

static const struct sql_case san_cases[] = {
	/* string constants */
	{ "SELECT * FROM t WHERE a = 'x'", "SELECT * FROM t WHERE a = ?" },
	{ "SELECT 'it''s', ''''", "SELECT ?, ?" },
	{ "SELECT 'say \"hi\" -- /* no */' AS c", "SELECT ? AS c" },
	{ "SELECT 'a\\' , 1", "SELECT ? , ?" },
	{ "SELECT E'it\\'s', e'x'", "SELECT ?, ?" },
	{ "SELECT E'a\\\\', 'b'", "SELECT ?, ?" },
	{ "SELECT E'\\\\\\'' || E'q''q'", "SELECT ? || ?" },
	{ "SELECT U&'d\\0061t' UESCAPE '!', U&\"d!0061\"",
	  "SELECT ? UESCAPE ?, U&\"d!0061\"" },
	{ "SELECT B'1010', X'FF', n'nat', x'1f'", "SELECT ?, ?, ?, ?" },
	{ "SELECT B'01''10'", "SELECT ??" },
	{ "SELECT xE'a', b 'c'", "SELECT xE?, b ?" },
	/* continuation: a newline between two constants makes one */
	{ "SELECT 'foo'\n'bar'", "SELECT ?" },
	{ "SELECT 'foo' 'bar'", "SELECT ? ?" },
	{ "SELECT 'a' -- c\n 'b'", "SELECT ?" },
	{ "SELECT 'a' /* c */\n'b'", "SELECT ? ?" },
	{ "SELECT E'a'\n'\\' OLD '", "SELECT ?" },
	/* dollar quotes */
	{ "SELECT $$it's a $ sign$$", "SELECT ?" },
	{ "SELECT $tag$ $$ nested $ta $tag$, 1", "SELECT ?, ?" },
	{ "SELECT $a$ $b$ x $b$ $a$||$_x1$y$_x1$", "SELECT ?||?" },
	{ "DO $body$BEGIN RAISE NOTICE 'x'; END$body$",
	  "DO ?" },
	{ "SELECT $1, $2::int, $10", "SELECT $1, $2::int, $10" },
	{ "SELECT $1$", "SELECT $1$" },
	{ "SELECT a$b$c, $ x", "SELECT a$b$c, $ x" },
	/* comments */
	{ "SELECT /* c /* nested */ still */ 1", "SELECT ?" },
	{ "SELECT 1 -- trailing\n, 2", "SELECT ? , ?" },
	{ "SELECT a/**/b", "SELECT a b" },
	{ "SELECT 1 --c\r+2", "SELECT ? +?" },
	{ "/* lead */ SELECT 1 -- end", "SELECT ?" },
	/* numbers */
	{ "SELECT 1e-5, 1.5e+3, .5, 5., 1E10", "SELECT ?, ?, ?, ?, ?" },
	{ "SELECT 0x1F, 0o17, 0b101, 1_000, 0x_ff, 1_0.2_5",
	  "SELECT ?, ?, ?, ?, ?, ?" },
	{ "SELECT t1.col_2, x1e5, _9, \"T1\" FROM t2",
	  "SELECT t1.col_2, x1e5, _9, \"T1\" FROM t2" },
	{ "SELECT 1..2", "SELECT ?.?" },
	/* signs */
	{ "SELECT * FROM t WHERE a = -5", "SELECT * FROM t WHERE a = ?" },
	{ "SELECT 5-3, a - 1, b -2, (+7), -.5",
	  "SELECT ?-?, a - ?, b -?, (?), ?" },
	{ "WHERE a=-5 AND b<-1 OR c > +2", "WHERE a=? AND b<? OR c > ?" },
	{ "WHERE a @-5 AND b |-1", "WHERE a @-? AND b |-?" },
	{ "SELECT arr[-1], x[1]-1 LIMIT -1 OFFSET +2",
	  "SELECT arr[?], x[?]-? LIMIT ? OFFSET ?" },
	/* casts, calls */
	{ "SELECT 'x'::text, 1::bigint, $1::uuid",
	  "SELECT ?::text, ?::bigint, $1::uuid" },
	{ "SELECT f(a, 1), g(), h( x )", "SELECT f(a, ?), g(), h( x )" },
	/* lists */
	{ "SELECT * FROM t WHERE id IN (1, 2, 3)",
	  "SELECT * FROM t WHERE id IN (?)" },
	{ "WHERE id IN ($1, $2) AND k IN ( -1 , +2 )",
	  "WHERE id IN (?) AND k IN (?)" },
	{ "INSERT INTO t (a, b) VALUES (1,'a'),(2,'b')",
	  "INSERT INTO t (a, b) VALUES (?),(?)" },
	{ "INSERT INTO t VALUES ($1,$2) RETURNING id",
	  "INSERT INTO t VALUES (?) RETURNING id" },
	{ "WHERE (a, b) IN ((1, 2), (3, 4))",
	  "WHERE (a, b) IN ((?), (?))" },
	{ "VALUES (1, now()), (1 2), (1,), (,1), ()",
	  "VALUES (?, now()), (? ?), (?,), (,?), ()" },
	{ "WHERE x = ? AND y IN (?, ?)", "WHERE x = ? AND y IN (?)" },
	/* identifiers */
	{ "SELECT \"Weird \"\"Name\"\"\" FROM \"it's\"",
	  "SELECT \"Weird \"\"Name\"\"\" FROM \"it's\"" },
	{ "SELECT café, 'é' FROM \xc3\xa9t\xc3\xa9",
	  "SELECT café, ? FROM \xc3\xa9t\xc3\xa9" },
	/* unterminated: the rest goes */
	{ "SELECT 'unterminated, 1", "SELECT ?" },
	{ "SELECT 1 /* unterminated /* */", "SELECT ?" },
	{ "SELECT \"unterminated", "SELECT ?" },
	{ "SELECT $q$ unterminated $q", "SELECT ?" },
	{ "SELECT E'ends in \\'", "SELECT ?" },
	/* statements, whitespace */
	{ "SELECT 1; SELECT 'x'", "SELECT ?; SELECT ?" },
	{ "SELECT 1;-1", "SELECT ?;?" },
	{ "  SELECT\t\n a ,\r\n  b \f\v ", "SELECT a , b" },
	{ "", "" },
	{ " \n -- only a comment", "" },
};

Test(sql, sanitize_table)
{
	cr_assert_geq(sizeof(san_cases) / sizeof(san_cases[0]), 40);
	for (size_t i = 0; i < sizeof(san_cases) / sizeof(san_cases[0]); i++)
		expect_out(san, &san_cases[i]);
}

/* Every expected output sanitizes to itself. */
Test(sql, sanitize_idempotent)
{
	for (size_t i = 0; i < sizeof(san_cases) / sizeof(san_cases[0]); i++) {
		const char *w = san_cases[i].want;

		cr_expect(strcmp(san(w), w) == 0, "\"%s\" -> \"%s\"", w,
			  outbuf);
	}
}

Test(sql, sanitize_null_and_nul)
{
	char o[8] = "xxxxxxx";
	static const char q[] = "SELECT 1\0 'secret'";

	cr_expect_eq(at_sql_sanitize(NULL, 0, o, sizeof(o)), 0);
	cr_expect_str_eq(o, "");
	/* The text ends at a NUL, as the server sees it. */
	cr_expect_str_eq(san_cap(q, sizeof(q) - 1, 64), "SELECT ?");
}

Test(sql, sanitize_cap)
{
	static const char q[] = "SELECT 'x', caf\xc3\xa9";
	static const char e3[] = "SELECT \xe2\x82\xac\xe2\x82\xac";
	static const char e4[] = "SELECT a\xf0\x9f\x98\x80";

	/* "SELECT ?, café" is 15 bytes: é is c3 a9. */
	cr_expect_str_eq(san_cap(q, strlen(q), 16), "SELECT ?, caf\xc3\xa9");
	cr_expect_str_eq(san_cap(q, strlen(q), 15), "SELECT ?, caf");
	cr_expect_str_eq(san_cap(q, strlen(q), 14), "SELECT ?, caf");
	cr_expect_str_eq(san_cap(q, strlen(q), 13), "SELECT ?, ca");
	cr_expect_str_eq(san_cap(e3, strlen(e3), 11), "SELECT \xe2\x82\xac");
	cr_expect_str_eq(san_cap(e3, strlen(e3), 12), "SELECT \xe2\x82\xac");
	cr_expect_str_eq(san_cap(e3, strlen(e3), 13), "SELECT \xe2\x82\xac");
	cr_expect_str_eq(san_cap(e3, strlen(e3), 14), e3);
	for (size_t cap = 9; cap < 13; cap++)
		cr_expect_str_eq(san_cap(e4, strlen(e4), cap), "SELECT a");
	cr_expect_str_eq(san_cap(e4, strlen(e4), 13), e4);
	/* A cut never leaves a trailing space. */
	cr_expect_str_eq(san_cap("SELECT abc", 10, 8), "SELECT");
	/* cap 1: just the NUL. */
	cr_expect_str_eq(san_cap("SELECT 1", 8, 1), "");
	cr_expect_str_eq(san_cap("", 0, 1), "");
	cr_expect_str_eq(san_cap("SELECT 1", 8, 2), "S");
	/* A list that collapses brings the text back within cap. */
	cr_expect_str_eq(san_cap("SELECT (1, 2, 3, 4, 5, 6)", 25, 11),
			 "SELECT (?)");
	cr_expect_str_eq(san_cap("SELECT (1, 2, 3, 4, 5, 6)", 25, 10),
			 "SELECT (?");
	cr_expect_str_eq(san_cap("SELECT (1, 2, 3, x)", 19, 13),
			 "SELECT (?, ?");
	cr_expect_str_eq(san_cap("SELECT (1, 2, 3, x)", 19, 12),
			 "SELECT (?,");
}

/* A cut output is a prefix of the whole one, whatever the cap. */
Test(sql, sanitize_cap_prefix)
{
	static const char *const qs[] = {
		"INSERT INTO t VALUES (1, 'a'), (2, 'b') , ($1, $2)",
		"SELECT caf\xc3\xa9, '\xe2\x82\xac' FROM \"\xf0\x9f\x98\x80\" "
		"WHERE a IN (1,2) AND b = -1",
	};
	char full[256];

	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		size_t fl = at_sql_sanitize(qs[i], strlen(qs[i]), full,
					    sizeof(full));

		for (size_t cap = 1; cap <= fl + 1; cap++) {
			const char *o = san_cap(qs[i], strlen(qs[i]), cap);
			size_t r = strlen(o);

			cr_expect(memcmp(o, full, r) == 0, "cap %zu", cap);
			cr_expect(cap > fl ? r == fl : r + 4 >= cap - 1,
				  "cap %zu: %zu bytes", cap, r);
		}
	}
}

/* ---- secrets never reach the output ---- */

Test(sql, sanitize_no_secret)
{
	static const struct {
		const char *q, *secret;
	} cases[] = {
		{ "UPDATE users SET password = 'hunter2' WHERE id = 7",
		  "hunter2" },
		{ "SELECT * FROM cards WHERE pan = 4111111111111111",
		  "4111111111111111" },
		{ "SELECT * FROM cards WHERE pan = -4111111111111111",
		  "4111111111111111" },
		{ "INSERT INTO t VALUES (E'p\\'w: s3cr3t', 1)", "s3cr3t" },
		{ "INSERT INTO t VALUES ('it''s s3cr3t')", "s3cr3t" },
		{ "SELECT $$tok s3cr3t$$", "s3cr3t" },
		{ "SELECT $k$ $$ s3cr3t $$ $k$", "s3cr3t" },
		{ "SELECT 'a'\n's3cr3t'", "s3cr3t" },
		{ "SELECT E'x'\n'\\' s3cr3t '", "s3cr3t" },
		{ "SELECT U&'s3cr3t', B'10101', X'DEADBEEF', N's3cr3t'",
		  "s3cr3t" },
		{ "SELECT X'DEADBEEF'", "DEADBEEF" },
		{ "SELECT 1 /* s3cr3t */", "s3cr3t" },
		{ "SELECT 1 -- s3cr3t", "s3cr3t" },
		{ "SELECT 'unterminated s3cr3t", "s3cr3t" },
		{ "SELECT $$ unterminated s3cr3t", "s3cr3t" },
		{ "SELECT \"unterminated s3cr3t", "s3cr3t" },
		{ "SELECT 3.14159e+10", "14159" },
		{ "SELECT 0xDEADBEEF", "DEADBEEF" },
		{ "SELECT 123_456_789", "456" },
		{ "SET app.token = 's3cr3t'", "s3cr3t" },
		{ "SELECT 'a', 's3cr3t'; SELECT 's3cr3t'", "s3cr3t" },
		{ "SELECT 'x''s3cr3t''y'", "s3cr3t" },
		{ "SELECT 'bs\\' , 's3cr3t'", "s3cr3t" },
	};
	char o[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t cap = 1; cap <= sizeof(o); cap += 7) {
			at_sql_sanitize(cases[i].q, strlen(cases[i].q), o, cap);
			cr_expect(strstr(o, cases[i].secret) == NULL,
				  "\"%s\" -> \"%s\"", cases[i].q, o);
		}
	}
}

/* ---- at_sql_operation ---- */

static const struct sql_case op_cases[] = {
	{ "SELECT 1", "SELECT" },
	{ "select * from t", "SELECT" },
	{ "  /* select */ update t set a = 1", "UPDATE" },
	{ "-- select\nDELETE FROM t", "DELETE" },
	{ "((SELECT 1) UNION (SELECT 2))", "SELECT" },
	{ "WITH cte AS (SELECT 1) SELECT * FROM cte", "SELECT" },
	{ "WITH a AS (SELECT 1), b AS (SELECT 2) INSERT INTO t SELECT 1",
	  "INSERT" },
	{ "with recursive t(n) as (select 1 union all select n+1 from t) "
	  "select * from t",
	  "SELECT" },
	{ "WITH x AS MATERIALIZED (DELETE FROM t RETURNING *) "
	  "UPDATE u SET a = 1",
	  "UPDATE" },
	{ "WITH x AS NOT MATERIALIZED (SELECT 1) delete from t", "DELETE" },
	{ "WITH RECURSIVE t(n) AS (SELECT 1) SEARCH DEPTH FIRST BY n "
	  "SET ord SELECT * FROM t",
	  "SELECT" },
	{ "WITH RECURSIVE t AS (SELECT 1) CYCLE id SET c USING p "
	  "SELECT * FROM t",
	  "SELECT" },
	{ "WITH t AS (SELECT 1) (SELECT * FROM t)", "SELECT" },
	{ "WITH t AS (SELECT ')'), u AS (SELECT $$($$) MERGE INTO t", "MERGE" },
	{ "WITH t AS (SELECT 1", "" },
	{ "WITH t AS (SELECT 1);", "" },
	{ "Begin", "BEGIN" },
	{ "COMMIT", "COMMIT" },
	{ "rollback", "ROLLBACK" },
	{ "SET search_path TO x", "SET" },
	{ "SHOW work_mem", "SHOW" },
	{ "EXPLAIN ANALYZE SELECT 1", "EXPLAIN" },
	{ "CALL p()", "CALL" },
	{ "DO $$BEGIN END$$", "DO" },
	{ "VACUUM", "VACUUM" },
	{ "ANALYZE t", "ANALYZE" },
	{ "GRANT SELECT ON t TO u", "GRANT" },
	{ "PREPARE p AS SELECT 1", "PREPARE" },
	{ "EXECUTE p(1)", "EXECUTE" },
	{ "LISTEN ch", "LISTEN" },
	{ "NOTIFY ch, 'x'", "NOTIFY" },
	{ "COPY t FROM STDIN", "COPY" },
	{ "TRUNCATE t", "TRUNCATE" },
	{ "create table t()", "CREATE" },
	{ "ALTER TABLE t ADD c int", "ALTER" },
	{ "DROP TABLE t", "DROP" },
	{ "INSERT INTO t VALUES (1)", "INSERT" },
	{ "SELECT;", "SELECT" },
	{ "", "" },
	{ "   ", "" },
	{ "/* only */", "" },
	{ "1", "" },
	{ "'x'", "" },
	{ "\"SELECT\"", "" },
	{ "x1 y", "" },
	{ "\xc3\xbc" "ber", "" },
	{ "; SELECT 1", "" },
	{ "$$SELECT$$", "" },
};

Test(sql, operation_table)
{
	for (size_t i = 0; i < sizeof(op_cases) / sizeof(op_cases[0]); i++)
		expect_out(op, &op_cases[i]);
}

Test(sql, operation_cap)
{
	char o[16];

	memset(o, 'Z', sizeof(o));
	cr_expect_eq(at_sql_operation("SELECT 1", 8, o, 6), 0);
	cr_expect_str_eq(o, "");
	cr_expect_eq(o[6], 'Z');
	cr_expect_eq(at_sql_operation("SELECT 1", 8, o, 7), 6);
	cr_expect_str_eq(o, "SELECT");
	cr_expect_eq(at_sql_operation("SELECT 1", 8, o, 1), 0);
	cr_expect_str_eq(o, "");
	cr_expect_eq(at_sql_operation(NULL, 0, o, sizeof(o)), 0);
	cr_expect_str_eq(o, "");
	/* Only the given length counts. */
	cr_expect_eq(at_sql_operation("SELECTED", 6, o, sizeof(o)), 6);
	cr_expect_str_eq(o, "SELECT");
}

/* ---- at_sql_collection ---- */

static const struct sql_case coll_cases[] = {
	/* SELECT */
	{ "SELECT * FROM users", "users" },
	{ "SELECT a FROM public.users WHERE id = 1", "public.users" },
	{ "select * from \"My Table\"", "\"My Table\"" },
	{ "SELECT * FROM s.\"T\" AS x WHERE a = 1", "s.\"T\"" },
	{ "SELECT * FROM db.s.t", "db.s.t" },
	{ "SELECT * FROM t x", "t" },
	{ "SELECT * FROM t \"x\" ORDER BY 1", "t" },
	{ "SELECT * FROM t AS x(a, b) ORDER BY a", "t" },
	{ "SELECT * FROM ONLY t", "t" },
	{ "SELECT * FROM t;", "t" },
	{ "SELECT * FROM t FOR UPDATE", "t" },
	{ "SELECT count(*) FROM t GROUP BY a HAVING count(*) > 1 LIMIT 5",
	  "t" },
	{ "/* c */ SELECT * -- FROM x\n FROM t", "t" },
	{ "(SELECT * FROM t)", "t" },
	{ "SELECT * FROM t; SELECT * FROM u JOIN v ON true", "t" },
	{ "SELECT a IS DISTINCT FROM b FROM t", "t" },
	{ "SELECT DISTINCT (a) FROM t", "t" },
	{ "SELECT extract(year FROM d) FROM t", "t" },
	{ "SELECT (SELECT max(x) FROM u) FROM t", "t" },
	{ "SELECT * FROM t WHERE id IN (SELECT id FROM u UNION SELECT 1)",
	  "t" },
	{ "SELECT 'FROM x' FROM t", "t" },
	{ "SELECT * FROM t1 JOIN t2 ON t1.id = t2.id", "" },
	{ "SELECT * FROM t1, t2", "" },
	{ "SELECT * FROM t1 a LEFT JOIN t2 b ON a.id = b.id", "" },
	{ "SELECT * FROM t1 NATURAL JOIN t2", "" },
	{ "SELECT * FROM t1 CROSS JOIN t2", "" },
	{ "SELECT * FROM t AS a, u", "" },
	{ "SELECT * FROM (SELECT 1) s", "" },
	{ "SELECT * FROM LATERAL f(1)", "" },
	{ "SELECT * FROM generate_series(1, 10)", "" },
	{ "SELECT 1", "" },
	{ "SELECT now()", "" },
	{ "SELECT a FROM t UNION SELECT a FROM u", "" },
	{ "(SELECT a FROM t) EXCEPT (SELECT a FROM u)", "" },
	{ "SELECT * FROM public . t", "" },
	{ "SELECT * FROM t.", "" },
	/* the other forms */
	{ "INSERT INTO t (a) VALUES (1)", "t" },
	{ "insert into s.t as x values (1)", "s.t" },
	{ "INSERT INTO \"Orders\" SELECT * FROM u", "\"Orders\"" },
	{ "UPDATE t SET a = 1", "t" },
	{ "UPDATE ONLY s.t AS x SET a = 1 FROM u WHERE u.id = x.id", "s.t" },
	{ "DELETE FROM s.t WHERE a = 1", "s.t" },
	{ "DELETE FROM ONLY t USING u WHERE t.id = u.id", "t" },
	{ "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DO NOTHING",
	  "t" },
	{ "COPY t (a, b) FROM STDIN", "t" },
	{ "copy s.t TO STDOUT", "s.t" },
	{ "COPY (SELECT 1) TO STDOUT", "" },
	{ "TRUNCATE t", "t" },
	{ "TRUNCATE TABLE ONLY t RESTART IDENTITY CASCADE", "t" },
	{ "TRUNCATE a, b", "" },
	{ "CREATE TABLE t (a int)", "t" },
	{ "CREATE TABLE IF NOT EXISTS s.t (a int)", "s.t" },
	{ "CREATE TEMP TABLE t AS SELECT 1", "t" },
	{ "create unlogged table \"T\"()", "\"T\"" },
	{ "ALTER TABLE t ADD COLUMN c int", "t" },
	{ "ALTER TABLE IF EXISTS ONLY t RENAME TO u", "t" },
	{ "DROP TABLE t", "t" },
	{ "DROP TABLE IF EXISTS t CASCADE", "t" },
	{ "DROP TABLE a, b", "" },
	{ "DROP TABLE if", "if" },
	{ "CREATE INDEX i ON t (a)", "" },
	{ "DROP VIEW v", "" },
	{ "WITH x AS (SELECT 1) SELECT * FROM x", "" },
	{ "EXPLAIN SELECT * FROM t", "" },
	{ "INSERT t VALUES (1)", "" },
	{ "(INSERT INTO t VALUES (1))", "" },
	{ "", "" },
};

Test(sql, collection_table)
{
	for (size_t i = 0; i < sizeof(coll_cases) / sizeof(coll_cases[0]); i++)
		expect_out(coll, &coll_cases[i]);
}

Test(sql, collection_cap)
{
	char o[16];

	memset(o, 'Z', sizeof(o));
	cr_expect_eq(at_sql_collection("SELECT * FROM users", 19, o, 5), 0);
	cr_expect_str_eq(o, "");
	cr_expect_eq(o[5], 'Z');
	cr_expect_eq(at_sql_collection("SELECT * FROM users", 19, o, 6), 5);
	cr_expect_str_eq(o, "users");
	cr_expect_eq(at_sql_collection(NULL, 0, o, sizeof(o)), 0);
	cr_expect_str_eq(o, "");
	/* Only the given length counts. */
	cr_expect_eq(at_sql_collection("SELECT * FROM users u", 16, o,
				       sizeof(o)),
		     2);
	cr_expect_str_eq(o, "us");
}

/* ---- bounds: inputs end at a PROT_NONE page, outputs too ---- */

static const char *const guard_inputs[] = {
	"SELECT u.id, 'it''s' FROM public.users u WHERE a IN (1, -2.5e-3) "
	"AND b = E'x\\'y\\\\' -- c\n",
	"WITH t(n) AS (SELECT $$a$b$$) SEARCH DEPTH FIRST BY n SET o "
	"(SELECT $t$x$t$ FROM \"T\"\"x\")",
	"INSERT INTO s.\"T\" AS x (a) VALUES ($1, U&'d', B'01', X'1f', "
	"0x1F, 0o7, 0b1, 1_000, .5, 5.) /* a /* b */ c */",
	"UPDATE ONLY t SET a = 'x'\n'y' WHERE b IS DISTINCT FROM $12",
	"CREATE TABLE IF NOT EXISTS caf\xc3\xa9.\xe2\x82\xac (a int); "
	"DROP TABLE IF EXISTS a.b",
	"SELECT * FROM t AS x(a, b) WHERE c @-1 OR d = -.5e",
	"$", "$a", "$a$", "$1", "E'", "U&", "U&\"", "0x", "1e+", "--", "/*",
	"'", "\"", "(", "X'", "/*/",
};

static void run_all(const char *in, size_t len, char *oend)
{
	static const size_t caps[] = { 1, 2, 9, 64, 4096 };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t cap = caps[i];

		at_sql_sanitize(in, len, oend - cap, cap);
		at_sql_operation(in, len, oend - cap, cap);
		at_sql_collection(in, len, oend - cap, cap);
		/* the input as a message, and as the statement of one */
		at_sql_pg_error(in, len, "42P01", in, len, oend - cap, cap);
		at_sql_pg_error(in, len, "23505", "a", 1, oend - cap, cap);
		at_sql_pg_error("a \"b\" 'c' 1", 12, "22P02", in, len,
				oend - cap, cap);
	}
}

Test(sql, guard_page)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *base = mmap(NULL, 4 * (size_t)pg, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *end, *oend;

	cr_assert_neq(base, MAP_FAILED);
	cr_assert_eq(mprotect(base + pg, (size_t)pg, PROT_NONE), 0);
	cr_assert_eq(mprotect(base + 3 * pg, (size_t)pg, PROT_NONE), 0);
	end = base + pg;
	oend = base + 3 * pg;
	for (size_t i = 0; i < sizeof(guard_inputs) / sizeof(guard_inputs[0]);
	     i++) {
		const char *in = guard_inputs[i];
		size_t len = strlen(in);

		for (size_t k = 0; k <= len; k++) {
			memcpy(end - k, in, k);
			run_all(end - k, k, oend);
		}
	}
	/* Random bytes from the lexer's alphabet, every prefix. */
	{
		static const char alpha[] = "'\"$-/*eEuUxXbBn&\\.0159_a(),\n ";
		unsigned int x = 12345;

		for (int round = 0; round < 2000; round++) {
			size_t len = 1 + (size_t)round % 40;

			for (size_t k = 0; k < len; k++) {
				x = x * 1103515245u + 12345u;
				end[-(long)len + (long)k] =
					alpha[(x >> 16) % (sizeof(alpha) - 1)];
			}
			for (size_t k = 0; k <= len; k++)
				run_all(end - k, k, oend);
		}
	}
	munmap(base, 4 * (size_t)pg);
}

/* ---- at_sql_describe: the three functions' results, in one lexing ---- */

static const char *const describe_inputs[] = {
	"SELECT abalance FROM pgbench_accounts WHERE aid = 81723;",
	"UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 7;",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES "
	"(3, 1, 4417, -1275, CURRENT_TIMESTAMP);",
	"BEGIN;", "END;", "  -- c\n/* a /* nested */ b */ ( (SELECT 1 FROM t))",
	"SELECT $q$ FROM x $q$, E'a\\'b FROM y', U&'d' FROM \"T\"\"x\" z",
	"WITH a AS (SELECT 1), b(c) AS (SELECT (2)) SELECT * FROM a",
	"WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t) "
	"SEARCH DEPTH FIRST BY n SET o DELETE FROM t2 WHERE x IN (1, 2, 3)",
	"SELECT * FROM t; DROP TABLE u", "SELECT a FROM (SELECT b FROM c) d",
	"SELECT * FROM a JOIN b ON a.x = b.x", "SELECT 1 UNION SELECT 2 FROM t",
	"COPY s.t FROM STDIN", "TRUNCATE TABLE ONLY x",
	"CREATE TEMP TABLE IF NOT EXISTS n.\"M\" (a int)",
	"SELECT x FROM t WHERE a IS DISTINCT FROM b ORDER BY 1 LIMIT -1",
	"MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
	"select * from T as x(a, b) where c @-1 or d = -.5e",
	"$", "$a$", "E'", "'", "\"", "(", "--", "/*", "", ";", ")",
	"SELECT 'unterminated FROM t", "SELECT \xc3\xa9 FROM caf\xc3\xa9",
};

static void same_as_three(const char *in, size_t len, size_t tcap,
			  size_t ocap, size_t ccap, int with_text)
{
	char t1[512], t2[512], o1[64], o2[64], c1[256], c2[256];
	struct at_sql_parts d = {
		.text = with_text ? t1 : NULL, .text_cap = tcap,
		.op = o1, .op_cap = ocap, .coll = c1, .coll_cap = ccap,
	};
	size_t r;

	at_sql_describe(in, len, &d);
	if (with_text) {
		r = at_sql_sanitize(in, len, t2, tcap);
		cr_expect(r == d.text_len && memcmp(t1, t2, r + 1) == 0,
			  "text of \"%.*s\" (cap %zu): \"%s\", want \"%s\"",
			  (int)len, in, tcap, t1, t2);
	}
	r = at_sql_operation(in, len, o2, ocap);
	cr_expect(r == d.op_len && memcmp(o1, o2, r + 1) == 0,
		  "operation of \"%.*s\": \"%s\", want \"%s\"", (int)len, in,
		  o1, o2);
	r = at_sql_collection(in, len, c2, ccap);
	cr_expect(r == d.coll_len && memcmp(c1, c2, r + 1) == 0,
		  "collection of \"%.*s\": \"%s\", want \"%s\"", (int)len, in,
		  c1, c2);
}

static void same_all_caps(const char *in, size_t len)
{
	static const size_t tcaps[] = { 1, 2, 9, 17, 40, 512 };

	for (size_t i = 0; i < sizeof(tcaps) / sizeof(tcaps[0]); i++) {
		same_as_three(in, len, tcaps[i], 64, 256, 1);
		same_as_three(in, len, tcaps[i], 4, 6, 1);
	}
	same_as_three(in, len, 1, 64, 256, 0);
}

Test(sql, describe_same_as_three)
{
	const struct sql_case *sets[] = { san_cases, op_cases, coll_cases };
	const size_t counts[] = { AT_N(san_cases), AT_N(op_cases),
				  AT_N(coll_cases) };
	char big[4096];
	size_t n = 0;

	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < counts[k]; i++)
			same_all_caps(sets[k][i].in, strlen(sets[k][i].in));
	for (size_t i = 0; i < AT_N(describe_inputs); i++) {
		const char *in = describe_inputs[i];

		for (size_t k = 0; k <= strlen(in); k++)
			same_all_caps(in, k);
	}
	for (size_t i = 0; i < AT_N(guard_inputs); i++)
		same_all_caps(guard_inputs[i], strlen(guard_inputs[i]));
	/* More tokens than are kept: the rest is lexed again. */
	n += (size_t)snprintf(big, sizeof(big), "SELECT a FROM t WHERE x IN (");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%d, ", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "1) ORDER BY a");
	same_all_caps(big, n);
	same_as_three(big, n, sizeof(big) > 512 ? 512 : 1, 64, 256, 1);
	/* Random bytes from the lexer's alphabet. */
	{
		static const char alpha[] =
			"'\"$-/*eEuUxXbBn&\\.0159_a(),;\n FROMSELCTWIH";
		unsigned int x = 777;

		for (int round = 0; round < 3000; round++) {
			size_t len = 1 + (size_t)round % 60;

			for (size_t k = 0; k < len; k++) {
				x = x * 1103515245u + 12345u;
				big[k] = alpha[(x >> 16) % (sizeof(alpha) - 1)];
			}
			same_all_caps(big, len);
		}
	}
}

/* ---- at_sql_shape: the same statement but for its literals ---- */

/* b describes as a does, with several caps. */
static int describe_alike(const char *a, size_t alen, const char *b,
			  size_t blen)
{
	static const size_t tcaps[] = { 1, 5, 17, 512 };

	for (size_t i = 0; i < AT_N(tcaps); i++) {
		char ta[512], tb[512], oa[64], ob[64], ca[256], cb[256];
		struct at_sql_parts da = { .text = ta, .text_cap = tcaps[i],
					   .op = oa, .op_cap = 64,
					   .coll = ca, .coll_cap = 256 };
		struct at_sql_parts db = { .text = tb, .text_cap = tcaps[i],
					   .op = ob, .op_cap = 64,
					   .coll = cb, .coll_cap = 256 };

		at_sql_describe(a, alen, &da);
		at_sql_describe(b, blen, &db);
		if (da.text_len != db.text_len || strcmp(ta, tb) ||
		    strcmp(oa, ob) || strcmp(ca, cb))
			return 0;
	}
	return 1;
}

static int shape_matches(const char *a, const char *b)
{
	struct at_sql_shape sh;

	return at_sql_shape_of(a, strlen(a), &sh) &&
	       at_sql_shape_match(a, strlen(a), &sh, b, strlen(b));
}

/* A variant of a[0..alen): some literals replaced, maybe one byte
 * changed; if it matches a's shape, it must describe as a does. */
static void shape_variant(const char *a, size_t alen, unsigned int *px,
			  size_t *tried, size_t *matched)
{
	static const char *const lits[] = {
		"0", "42", "-7", "+3", ".5", "1e5", "'x'", "''", "E'a'",
		"$$q$$", "0x1F", "- 3", "X'1'", "U&'d'", "\"q", "1.", "9_0",
	};
	struct at_sql_shape sh;
	unsigned int x = *px;
	char b[1024];
	size_t n = 0, ia = 0;

	if (!at_sql_shape_of(a, alen, &sh))
		return;
	for (unsigned k = 0; k <= sh.n; k++) {
		size_t end = k < sh.n ? sh.start[k] : alen;
		const char *l;

		memcpy(b + n, a + ia, end - ia);
		n += end - ia;
		if (k == sh.n)
			break;
		x = x * 1103515245u + 12345u;
		l = (x >> 16) % 4 == 0 ? lits[(x >> 20) % AT_N(lits)] : NULL;
		if (l) {
			memcpy(b + n, l, strlen(l));
			n += strlen(l);
		} else {
			memcpy(b + n, a + sh.start[k], sh.end[k] - sh.start[k]);
			n += sh.end[k] - sh.start[k];
		}
		ia = sh.end[k];
	}
	/* Sometimes one byte changed anywhere. */
	x = x * 1103515245u + 12345u;
	if (n && (x >> 16) % 3 == 0)
		b[(x >> 8) % n] = "-+ '1a.$e(\"~"[(x >> 4) % 12];
	*px = x;
	(*tried)++;
	if (!at_sql_shape_match(a, alen, &sh, b, n))
		return;
	(*matched)++;
	cr_expect(describe_alike(a, alen, b, n),
		  "\"%.*s\" matched \"%.*s\" but describes otherwise",
		  (int)alen, a, (int)n, b);
}

Test(sql, shape_same_but_literals)
{
	static const char *const same[][2] = {
		{ "UPDATE pgbench_accounts SET abalance = abalance + -4321 "
		  "WHERE aid = 7;",
		  "UPDATE pgbench_accounts SET abalance = abalance + 12 "
		  "WHERE aid = 99999;" },
		{ "UPDATE pgbench_tellers SET tbalance = tbalance + 5 WHERE "
		  "tid = 3;",
		  "UPDATE pgbench_tellers SET tbalance = tbalance + -5000 "
		  "WHERE tid = 10;" },
		{ "SELECT abalance FROM pgbench_accounts WHERE aid = 81723;",
		  "SELECT abalance FROM pgbench_accounts WHERE aid = 1;" },
		{ "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
		  "VALUES (3, 1, 4417, -1275, CURRENT_TIMESTAMP);",
		  "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
		  "VALUES (10, 1, 17, 4999, CURRENT_TIMESTAMP);" },
		{ "SELECT * FROM u WHERE name = 'bob' AND n > .5",
		  "SELECT * FROM u WHERE name = 'o''hara' AND n > 1e-3" },
		{ "SELECT E'a\\'' , x FROM t", "SELECT E'' , x FROM t" },
		{ "BEGIN;", "BEGIN;" },
	};
	static const char *const differ[][2] = {
		{ "SELECT a -1 FROM t", "SELECT a 1 FROM t" },
		{ "SELECT a FROM t WHERE x = 1", "SELECT a FROM t WHERE x = 'a'" },
		{ "SELECT a FROM t WHERE x = 1", "SELECT a FROM t WHERE x = $1" },
		{ "SELECT a FROM t WHERE b AND -1", "SELECT a FROM t WHERE b AND1" },
		{ "SELECT a FROM t1", "SELECT a FROM t2" },
		{ "SELECT 1", "SELECT 1 " },
		{ "SELECT $'a'", "SELECT $1" },
		{ "SELECT x ~-1", "SELECT x ~1" },
	};
	char b[1024];
	unsigned int x = 4242;
	size_t tried = 0, matched = 0;

	for (size_t i = 0; i < AT_N(same); i++) {
		cr_expect(shape_matches(same[i][0], same[i][1]),
			  "\"%s\" / \"%s\" should match", same[i][0],
			  same[i][1]);
		cr_expect(describe_alike(same[i][0], strlen(same[i][0]),
					 same[i][1], strlen(same[i][1])));
	}
	for (size_t i = 0; i < AT_N(differ); i++)
		cr_expect(!shape_matches(differ[i][0], differ[i][1]),
			  "\"%s\" / \"%s\" should not match", differ[i][0],
			  differ[i][1]);
	/* Every literal of every input replaced by others (and the bytes
	 * around them changed): whatever matches describes alike. */
	for (size_t i = 0; i < AT_N(describe_inputs) + AT_N(san_cases); i++) {
		const char *a = i < AT_N(describe_inputs)
					? describe_inputs[i]
					: san_cases[i - AT_N(describe_inputs)].in;

		for (int round = 0; round < 200; round++)
			shape_variant(a, strlen(a), &x, &tried, &matched);
	}
	/* Random texts from the lexer's alphabet. */
	for (int round = 0; round < 20000; round++) {
		static const char alpha[] =
			"'\"$-+/*eEuUxXbBn&\\.0159_a(),;~\n FROMSELCTWIHAND";
		size_t len = 1 + (size_t)round % 40;

		for (size_t k = 0; k < len; k++) {
			x = x * 1103515245u + 12345u;
			b[k] = alpha[(x >> 16) % (sizeof(alpha) - 1)];
		}
		b[len] = 0;
		shape_variant(b, len, &x, &tried, &matched);
	}
	cr_expect(matched > tried / 10, "%zu of %zu matched", matched, tried);
}

/* ---- linear time on inputs built to make a careless scanner rescan ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(sql, linear_time)
{
	enum { N = 1 << 18 };
	static char in[N], o[N + 1];
	static const char *const units[] = {
		"$a", "$aaaaaaaaaaaaaaaa$ $aaaaaaaaaaaaaaa", "/*", "(1,",
		"'a'\n", "e", "1_", "((", ")", "-", "\"\"", "\"a\" ", "\"a",
		"'", "a.", "\xc2\xab", "\xc2\xab" "a\xc2\xbb ", "1.",
	};

	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t ul = strlen(units[u]), len = 0;
		double t0;

		while (len + ul <= N) {
			memcpy(in + len, units[u], ul);
			len += ul;
		}
		t0 = now_s();
		at_sql_sanitize(in, len, o, sizeof(o));
		at_sql_sanitize(in, len, o, 64);
		at_sql_operation(in, len, o, 64);
		at_sql_collection(in, len, o, 64);
		at_sql_pg_error(in, len, "42P01", in, 1024, o, 1024);
		at_sql_pg_error(in, len, "42P01", "a", 1, o, sizeof(o));
		/* Linear is ~1 ms here; quadratic would take minutes. */
		cr_expect_lt(now_s() - t0, 2.0, "unit \"%s\"", units[u]);
	}
}

/* ---- error messages ---- */

struct msg_case {
	const char *sql;   /* the statement as the program sent it */
	const char *state; /* SQLSTATE */
	const char *msg;   /* the server's primary message */
	const char *want;
};

static const struct msg_case pg15_messages[] = {
	/* class 22: data exceptions echo the value, quoted or not */
	{ "select '123-45-6789'::int", "22P02",
	  "invalid input syntax for type integer: \"123-45-6789\"",
	  "invalid input syntax for type integer: \"?\"" },
	{ "select '99999999999'::int", "22003",
	  "value \"99999999999\" is out of range for type integer",
	  "value \"?\" is out of range for type integer" },
	{ "select 99999999999::int", "22003", "integer out of range",
	  "integer out of range" },
	{ "select '2024-13-45'::date", "22008",
	  "date/time field value out of range: \"2024-13-45\"",
	  "date/time field value out of range: \"?\"" },
	{ "select 'Secret1'::mood", "22P02",
	  "invalid input value for enum mood: \"Secret1\"",
	  "invalid input value for enum mood: \"?\"" },
	{ "select 'Secret2'::uuid", "22P02",
	  "invalid input syntax for type uuid: \"Secret2\"",
	  "invalid input syntax for type uuid: \"?\"" },
	{ "select 'Secret3'::boolean", "22P02",
	  "invalid input syntax for type boolean: \"Secret3\"",
	  "invalid input syntax for type boolean: \"?\"" },
	{ "select '\\xzz'::bytea", "22023", "invalid hexadecimal digit: \"z\"",
	  "invalid hexadecimal digit: \"?\"" },
	{ "select '{1,2'::int[]", "22P02", "malformed array literal: \"{1,2\"",
	  "malformed array literal: \"?\"" },
	{ "select 1/0", "22012", "division by zero", "division by zero" },
	{ "insert into orders values (5, 'z@b.c', 5, 'toolongsecret')",
	  "22001", "value too long for type character varying(5)",
	  "value too long for type character varying(?)" },
	{ "select to_date('Secret8', 'MM')", "22007",
	  "invalid value \"Se\" for \"MM\"", "invalid value \"?\"" },
	{ "select 'Secret15'::float8", "22P02",
	  "invalid input syntax for type double precision: \"Secret15\"",
	  "invalid input syntax for type double precision: \"?\"" },
	{ "select '1.5e999'::float8", "22003",
	  "\"1.5e999\" is out of range for type double precision",
	  "\"?\" is out of range for type double precision" },
	{ "select 'S'::bit(3)", "22P02", "\"S\" is not a valid binary digit",
	  "\"?\" is not a valid binary digit" },
	{ "select '99999'::smallint", "22003",
	  "value \"99999\" is out of range for type smallint",
	  "value \"?\" is out of range for type smallint" },
	{ "select make_date(2024, 13, 45)", "22008",
	  "date field value out of range: 2024-13-45",
	  "date field value out of range: ?-?-?" },
	{ "select 'Secret16'::interval", "22007",
	  "invalid input syntax for type interval: \"Secret16\"",
	  "invalid input syntax for type interval: \"?\"" },
	{ "select 'Secret18'::inet", "22P02",
	  "invalid input syntax for type inet: \"Secret18\"",
	  "invalid input syntax for type inet: \"?\"" },
	{ "select 'Secret19'::numeric", "22P02",
	  "invalid input syntax for type numeric: \"Secret19\"",
	  "invalid input syntax for type numeric: \"?\"" },
	{ "select 'Secret20'::json", "22P02",
	  "invalid input syntax for type json",
	  "invalid input syntax for type json" },
	/* a value with a quote, a value that is also a name in the text */
	{ "select 'orders\"leak'::int from orders", "22P02",
	  "invalid input syntax for type integer: \"orders\"leak\"",
	  "invalid input syntax for type integer: \"?\"" },
	{ "select 'orders'::int from orders", "22P02",
	  "invalid input syntax for type integer: \"orders\"",
	  "invalid input syntax for type integer: \"?\"" },
	{ "select * from orders where id = 'Secret21'", "22P02",
	  "invalid input syntax for type integer: \"Secret21\"",
	  "invalid input syntax for type integer: \"?\"" },
	{ "select 'x' || 1 + 'Secret25'", "22P02",
	  "invalid input syntax for type integer: \"Secret25\"",
	  "invalid input syntax for type integer: \"?\"" },
	{ "select convert_from('\\xff', 'UTF8')", "22021",
	  "invalid byte sequence for encoding \"UTF8\": 0xff",
	  "invalid byte sequence for encoding \"?\": ?" },
	{ "select 'Secret26'::pg_lsn", "22P02",
	  "invalid input syntax for type pg_lsn: \"Secret26\"",
	  "invalid input syntax for type pg_lsn: \"?\"" },
	{ "select decode('Secret28', 'hex')", "22023",
	  "invalid hexadecimal digit: \"S\"", "invalid hexadecimal digit: \"?\"" },
	{ "select '\xc3\x84'::int", "22P02",
	  "invalid input syntax for type integer: \"\xc3\x84\"",
	  "invalid input syntax for type integer: \"?\"" },
	{ "select * from orders limit -1", "2201W", "LIMIT must not be negative",
	  "LIMIT must not be negative" },
	/* bound parameters: the text holds $n, the value only the message */
	{ "SELECT $1::int", "22P02",
	  "invalid input syntax for type integer: \"PqParamSecret17\"",
	  "invalid input syntax for type integer: \"?\"" },
	/* class 23: catalog names stay, the values are in DETAIL */
	{ "insert into orders values (1, 'z@b.c', 1, 'x')", "23505",
	  "duplicate key value violates unique constraint \"orders_pkey\"",
	  "duplicate key value violates unique constraint \"orders_pkey\"" },
	{ "insert into orders values (2, 'a@b.c', 1, 'x')", "23505",
	  "duplicate key value violates unique constraint \"orders_email_key\"",
	  "duplicate key value violates unique constraint \"orders_email_key\"" },
	{ "insert into orders values (3, 'q@b.c', -5, 'x')", "23514",
	  "new row for relation \"orders\" violates check constraint "
	  "\"orders_qty_check\"",
	  "new row for relation \"orders\" violates check constraint "
	  "\"orders_qty_check\"" },
	{ "insert into orders (id, qty) values (4, 5)", "23502",
	  "null value in column \"email\" of relation \"orders\" violates "
	  "not-null constraint",
	  "null value in column \"email\" of relation \"orders\" violates "
	  "not-null constraint" },
	{ "insert into items values (777)", "23503",
	  "insert or update on table \"items\" violates foreign key constraint "
	  "\"items_order_id_fkey\"",
	  "insert or update on table \"items\" violates foreign key constraint "
	  "\"items_order_id_fkey\"" },
	{ "select (-5)::posint", "23514",
	  "value for domain posint violates check constraint \"posint_check\"",
	  "value for domain posint violates check constraint \"posint_check\"" },
	/* class 42: the statement's identifiers stay, nothing else */
	{ "select * from Orders_missing", "42P01",
	  "relation \"orders_missing\" does not exist",
	  "relation \"orders_missing\" does not exist" },
	{ "select * from public.orders_missing", "42P01",
	  "relation \"public.orders_missing\" does not exist",
	  "relation \"public.orders_missing\" does not exist" },
	{ "select nosuchcol from orders", "42703",
	  "column \"nosuchcol\" does not exist",
	  "column \"nosuchcol\" does not exist" },
	{ "select \"NoSuchCol\" from orders", "42703",
	  "column \"NoSuchCol\" does not exist",
	  "column \"NoSuchCol\" does not exist" },
	{ "select 'abc' 'Secret4'", "42601",
	  "syntax error at or near \"'Secret4'\"", "syntax error at or near \"?\"" },
	{ "select 'Secret5", "42601",
	  "unterminated quoted string at or near \"'Secret5\"",
	  "unterminated quoted string at or near \"?\"" },
	{ "selec 1", "42601", "syntax error at or near \"selec\"",
	  "syntax error at or near \"selec\"" },
	{ "select $$Secret6$$ $$x$$", "42601", "syntax error at or near \"$$x$$\"",
	  "syntax error at or near \"?\"" },
	{ "select normalize('a', Secret27)", "42601",
	  "syntax error at or near \"Secret27\"",
	  "syntax error at or near \"Secret27\"" },
	{ "select array[1,2][1:'Secret30']", "42601",
	  "syntax error at or near \"[\"", "syntax error at or near \"?\"" },
	{ "select jsonb_path_query('{}', 'Secret29')", "42601",
	  "syntax error at end of jsonpath input",
	  "syntax error at end of jsonpath input" },
	{ "select 'a & '::tsquery", "42601", "no operand in tsquery: \"a & \"",
	  "no operand in tsquery: \"?\"" },
	/* literals that name objects: reg* casts */
	{ "select 'Secret9'::regclass", "42P01",
	  "relation \"secret9\" does not exist",
	  "relation \"?\" does not exist" },
	{ "select 'public.Secret10'::regclass", "42P01",
	  "relation \"public.secret10\" does not exist",
	  "relation \"?\" does not exist" },
	{ "select 'Secret11'::regtype", "42704", "type \"secret11\" does not exist",
	  "type \"?\" does not exist" },
	{ "select 'Secret12'::regproc", "42883",
	  "function \"Secret12\" does not exist", "function \"?\" does not exist" },
	{ "select 'Secret13'::regrole", "42704", "role \"secret13\" does not exist",
	  "role \"?\" does not exist" },
	{ "select 'a.b.c.Secret14'::regclass", "42601",
	  "improper relation name (too many dotted names): a.b.c.secret14",
	  "improper relation name (too many dotted names): ?" },
	{ "select * from orders where email = 5", "42883",
	  "operator does not exist: text = integer",
	  "operator does not exist: text = integer" },
	{ "select lower(5)", "42883", "function lower(integer) does not exist",
	  "function lower(integer) does not exist" },
	{ "select nosuchfn('Secret22')", "42883",
	  "function nosuchfn(unknown) does not exist",
	  "function nosuchfn(unknown) does not exist" },
	{ "select $1", "42P02", "there is no parameter $1",
	  "there is no parameter $1" },
	/* PL/pgSQL RAISE and ASSERT: a function's own text */
	{ "do $$ begin raise exception 'card % declined for Secret23', 4111; "
	  "end $$", "P0001", "card 4111 declined for Secret23", "?" },
	{ "do $$ begin assert false, 'Secret24'; end $$", "P0004", "Secret24",
	  "?" },
	/* PostgreSQL 15's translations of some of the above */
	{ "select '123-45-6789'::int", "22P02",
	  "ung\xc3\xbcltige Eingabesyntax f\xc3\xbcr Typ integer: "
	  "\xc2\xbb" "123-45-6789\xc2\xab",
	  "ung\xc3\xbcltige Eingabesyntax f\xc3\xbcr Typ integer: "
	  "\xc2\xbb?\xc2\xab" },
	{ "select * from orders", "42P01",
	  "Relation \xc2\xbborders\xc2\xab existiert nicht",
	  "Relation \xc2\xbborders\xc2\xab existiert nicht" },
	{ "select 'Secret9'::regclass", "42P01",
	  "Relation \xc2\xbbsecret9\xc2\xab existiert nicht",
	  "Relation \xc2\xbb?\xc2\xab existiert nicht" },
	{ "select '99999'::smallint", "22003",
	  "Wert \xc2\xbb" "99999\xc2\xab ist au\xc3\x9f" "erhalb des "
	  "g\xc3\xbcltigen Bereichs f\xc3\xbcr Typ smallint",
	  "Wert \xc2\xbb?\xc2\xab ist au\xc3\x9f" "erhalb des "
	  "g\xc3\xbcltigen Bereichs f\xc3\xbcr Typ smallint" },
	{ "select '123-45-6789'::int", "22P02",
	  "syntaxe en entr\xc3\xa9" "e invalide pour le type integer : "
	  "\xc2\xab 123-45-6789 \xc2\xbb",
	  "syntaxe en entr\xc3\xa9" "e invalide pour le type integer : "
	  "\xc2\xab?\xc2\xbb" },
	{ "select * from orders", "42P01",
	  "la relation \xc2\xab orders \xc2\xbb n'existe pas",
	  "la relation \xc2\xab orders \xc2\xbb n'existe pas" },
	{ "select 'Secret2'::uuid", "22P02",
	  "la sintaxis de entrada no es v\xc3\xa1lida para tipo uuid: "
	  "\xc2\xabSecret2\xc2\xbb",
	  "la sintaxis de entrada no es v\xc3\xa1lida para tipo uuid: "
	  "\xc2\xab?\xc2\xbb" },
	{ "insert into orders values (1, 'z@b.c', 1, 'x')", "23505",
	  "llave duplicada viola restricci\xc3\xb3n de unicidad "
	  "\xc2\xaborders_pkey\xc2\xbb",
	  "llave duplicada viola restricci\xc3\xb3n de unicidad "
	  "\xc2\xab?\xc2\xbb" },
	{ "select * from orders", "42P01",
	  "\xe3\x83\xaa\xe3\x83\xac\xe3\x83\xbc\xe3\x82\xb7\xe3\x83\xa7\xe3\x83"
	  "\xb3\"orders\"\xe3\x81\xaf\xe5\xad\x98\xe5\x9c\xa8\xe3\x81\x97\xe3"
	  "\x81\xbe\xe3\x81\x9b\xe3\x82\x93",
	  "\xe3\x83\xaa\xe3\x83\xac\xe3\x83\xbc\xe3\x82\xb7\xe3\x83\xa7\xe3\x83"
	  "\xb3\"orders\"\xe3\x81\xaf\xe5\xad\x98\xe5\x9c\xa8\xe3\x81\x97\xe3"
	  "\x81\xbe\xe3\x81\x9b\xe3\x82\x93" },
	{ "select '99999'::smallint", "22003",
	  "\xe5\x80\xa4\"99999\"\xe3\x81\xaf\xe5\x9e\x8bsmallint\xe3\x81\xae"
	  "\xe7\xaf\x84\xe5\x9b\xb2\xe5\xa4\x96\xe3\x81\xa7\xe3\x81\x99",
	  "\xe5\x80\xa4\"?\"\xe3\x81\xaf\xe5\x9e\x8bsmallint\xe3\x81\xae"
	  "\xe7\xaf\x84\xe5\x9b\xb2\xe5\xa4\x96\xe3\x81\xa7\xe3\x81\x99" },
	{ "select * from orders", "42P01",
	  "\xd0\xbe\xd1\x82\xd0\xbd\xd0\xbe\xd1\x88\xd0\xb5\xd0\xbd\xd0\xb8\xd0"
	  "\xb5 \"orders\" \xd0\xbd\xd0\xb5 \xd1\x81\xd1\x83\xd1\x89\xd0\xb5"
	  "\xd1\x81\xd1\x82\xd0\xb2\xd1\x83\xd0\xb5\xd1\x82",
	  "\xd0\xbe\xd1\x82\xd0\xbd\xd0\xbe\xd1\x88\xd0\xb5\xd0\xbd\xd0\xb8\xd0"
	  "\xb5 \"orders\" \xd0\xbd\xd0\xb5 \xd1\x81\xd1\x83\xd1\x89\xd0\xb5"
	  "\xd1\x81\xd1\x82\xd0\xb2\xd1\x83\xd0\xb5\xd1\x82" },
	{ "select '123-45-6789'::int", "22P02",
	  "\xe6\x97\xa0\xe6\x95\x88\xe7\x9a\x84\xe7\xb1\xbb\xe5\x9e\x8b integer "
	  "\xe8\xbe\x93\xe5\x85\xa5\xe8\xaf\xad\xe6\xb3\x95: \"123-45-6789\"",
	  "\xe6\x97\xa0\xe6\x95\x88\xe7\x9a\x84\xe7\xb1\xbb\xe5\x9e\x8b integer "
	  "\xe8\xbe\x93\xe5\x85\xa5\xe8\xaf\xad\xe6\xb3\x95: \"?\"" },
};

/* What the cases above echo: none may survive where want drops it. */
static const char *const msg_secrets[] = {
	"ecret", "123-45", "99999", "2024", "4111", "\"Se\"", "\"S\"",
	"\xc3\x84\"", "{1,2", "1.5e999", "0xff", "\"z\"", "a & ", "'Secret",
};

static void pg_err(const struct msg_case *c, const char *msg, char *out,
		   size_t cap)
{
	char sql[512];
	size_t n = at_sql_sanitize(c->sql, strlen(c->sql), sql, sizeof(sql));

	at_sql_pg_error(msg, strlen(msg), c->state, sql, n, out, cap);
}

Test(sql, pg15_error_messages)
{
	char out[512], again[512];
	size_t echoed = 0;

	for (size_t i = 0; i < sizeof(pg15_messages) / sizeof(pg15_messages[0]);
	     i++) {
		const struct msg_case *c = &pg15_messages[i];

		pg_err(c, c->msg, out, sizeof(out));
		cr_expect_str_eq(out, c->want, "%s (%s): %s", c->sql, c->state,
				 c->msg);
		for (size_t k = 0; k < sizeof(msg_secrets) / sizeof(msg_secrets[0]);
		     k++) {
			if (!strstr(c->msg, msg_secrets[k]) ||
			    strstr(c->sql, "Secret27"))
				continue;
			echoed++;
			cr_expect(!strstr(out, msg_secrets[k]), "%s left in %s",
				  msg_secrets[k], out);
		}
		/* Redacting the result again changes nothing. */
		pg_err(c, out, again, sizeof(again));
		cr_expect_str_eq(again, out, "%s", c->sql);
	}
	cr_expect_geq(echoed, 40, "the cases echo values");
}

static const char *conn_msg(const char *msg, char *out, size_t cap)
{
	/* What at_pq.c keeps: the host, port, database, user, address and
	 * socket path of the connection (here of several connections). */
	static const char *const values[] = {
		"/tmp/at-pg-x", "21624", "autotrace", "nosuchuser", NULL,
		"/tmp/at-pg-x/.s.PGSQL.21624", "127.0.0.1", "nosuchhost.invalid",
		"nosuch", "postgres", "bob",
	};
	struct at_sql_keep k = { .values = values,
				 .n_values = sizeof(values) / sizeof(values[0]) };

	at_sql_redact_message(msg, strlen(msg), &k, out, cap);
	return out;
}

Test(sql, libpq15_connection_messages)
{
	static const char *const cases[][2] = {
		{ "connection to server on socket \"/tmp/at-pg-x/.s.PGSQL.21624\" "
		  "failed: FATAL:  role \"nosuchuser\" does not exist", NULL },
		{ "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "Connection refused", NULL },
		{ "connection to server at \"127.0.0.1\", port 1 failed: "
		  "Connection refused",
		  "connection to server at \"127.0.0.1\", port ? failed: "
		  "Connection refused" },
		{ "could not translate host name \"nosuchhost.invalid\" to "
		  "address: Name or service not known", NULL },
		{ "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "FATAL:  database \"nosuch\" does not exist", NULL },
		{ "missing \"=\" after \"passwordSECRET\" in connection info "
		  "string", "missing \"?\" in connection info string" },
		{ "unterminated quoted string in connection info string", NULL },
		{ "invalid connection option \"SECRET\"",
		  "invalid connection option \"?\"" },
		{ "invalid integer value \"SECRET\" for connection option "
		  "\"port\"", "invalid integer value \"?\"" },
		{ "end of string reached when looking for matching \"]\" in IPv6 "
		  "host address in URI: \"postgresql://u:SECRET@[::1/db\"",
		  "end of string reached when looking for matching \"?\"" },
		{ "invalid sslmode value: \"SECRET\"",
		  "invalid sslmode value: \"?\"" },
		{ "invalid URI query parameter: \"SECRET\"",
		  "invalid URI query parameter: \"?\"" },
		{ "definition of service \"SECRET\" not found",
		  "definition of service \"?\" not found" },
		{ "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "FATAL:  invalid value for parameter \"work_mem\": \"SECRET\"",
		  "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "FATAL:  invalid value for parameter \"?\"" },
		{ "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "FATAL:  unrecognized configuration parameter \"SECRET\"",
		  "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "FATAL:  unrecognized configuration parameter \"?\"" },
		{ "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "server does not support SSL, but SSL was required", NULL },
		{ "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "FATAL:  password authentication failed for user \"bob\"",
		  NULL },
		{ "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "FATAL:  password authentication failed for user \"eve\"",
		  "connection to server at \"127.0.0.1\", port 21624 failed: "
		  "FATAL:  password authentication failed for user \"?\"" },
	};
	char out[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *want = cases[i][1] ? cases[i][1] : cases[i][0];

		cr_expect_str_eq(conn_msg(cases[i][0], out, sizeof(out)), want);
		cr_expect(!strstr(out, "SECRET"), "%s", out);
	}
}

static const char *redact(const char *msg, const struct at_sql_keep *k)
{
	at_sql_redact_message(msg, strlen(msg), k, outbuf, sizeof(outbuf));
	return outbuf;
}

Test(sql, redact_message_rules)
{
	static const char *const kinds[] = { "constraint", "key" };
	static const char *const cmd[] = { "FOO" };
	static const char text[] = "SELECT a, \"B\"\"c\", s.t FROM u";
	struct at_sql_keep none = { 0 };
	struct at_sql_keep sql = { .sql = text, .sql_len = sizeof(text) - 1 };
	struct at_sql_keep kind = { .kinds = kinds, .n_kinds = 2 };
	struct at_sql_keep redis = { .values = cmd, .n_values = 1 };

	/* no keep: every quoted part and number goes */
	cr_expect_str_eq(redact("a \"b\" 'c' 1 x1 $2 d", NULL),
			 "a \"?\" '?' ? x1 $2 d");
	cr_expect_str_eq(redact("a \"b\" c", &none), "a \"?\" c");
	cr_expect_str_eq(redact("", NULL), "");
	/* identifiers of the statement: words in any case, quoted ones
	 * exactly, chains of them */
	cr_expect_str_eq(redact("\"a\" \"A\" \"FROM\" \"u\"", &sql),
			 "\"a\" \"A\" \"FROM\" \"u\"");
	cr_expect_str_eq(redact("\"b\"\"c\" x", &sql), "\"?\" x");
	cr_expect_str_eq(redact("\"s.t\" \"u.a\" \"s.x\"", &sql),
			 "\"s.t\" \"u.a\" \"?\"");
	cr_expect_str_eq(redact("\"s.\" x", &sql), "\"?\" x");
	cr_expect_str_eq(redact("\"\" x", &sql), "\"?\" x");
	cr_expect_str_eq(redact("s.t and u.x.a", &sql), "s.t and ?");
	/* a redacted part reaches the last closing quote of its kind */
	cr_expect_str_eq(redact("v: \"x\" then \"a\" end", &sql),
			 "v: \"?\" end");
	cr_expect_str_eq(redact("v: \"x end", &sql), "v: \"?\"");
	cr_expect_str_eq(redact("v: 'x' and \"a\" 'y' z", &sql), "v: '?' z");
	/* ASCII quotes open after no word byte and close before none */
	cr_expect_str_eq(redact("Table 'x' doesn't exist", NULL),
			 "Table '?' doesn't exist");
	cr_expect_str_eq(redact("it's 'a'b' c", NULL), "it's '?' c");
	cr_expect_str_eq(redact("x\"a\" y", NULL), "x\"?\" y");
	cr_expect_str_eq(redact("l'x 1'a' b e'f' g", NULL), "l'x ?'?' g");
	cr_expect_str_eq(redact("b.c'd' 9 e'f", NULL), "?'?' ? e'f");
	/* typographic quotes; spaces inside are not part of the name */
	cr_expect_str_eq(redact("\xc2\xab a \xc2\xbb \xe3\x80\x8c"
				"e\xe3\x80\x8d \xe3\x80\x8e" "g\xe3\x80\x8f "
				"\xe2\x80\x9e" "c\xe2\x80\x9c", &sql),
			 "\xc2\xab a \xc2\xbb \xe3\x80\x8c?\xe3\x80\x8d "
			 "\xe3\x80\x8e?\xe3\x80\x8f \xe2\x80\x9e?"
			 "\xe2\x80\x9c");
	cr_expect_str_eq(redact("\xe2\x80\x9c" "b\xe2\x80\x9d x", &sql),
			 "\xe2\x80\x9c?\xe2\x80\x9d x");
	cr_expect_str_eq(redact("\xe2\x80\x9a" "f\xe2\x80\x98 x", &sql),
			 "\xe2\x80\x9a?\xe2\x80\x98 x");
	cr_expect_str_eq(redact("\xe2\x80\x98" "d\xe2\x80\x99 y", &sql),
			 "\xe2\x80\x98?\xe2\x80\x99 y");
	/* a closing quote that opens another pair: all of the rest goes */
	cr_expect_str_eq(redact("\xe2\x80\x9c" "b\xe2\x80\x9d x \xe2\x80\x9e"
				"c\xe2\x80\x9c y", &sql),
			 "\xe2\x80\x9c?\xe2\x80\x9d");
	/* an opening quote after the last closing one: all of the rest */
	cr_expect_str_eq(redact("v: \"x\" y z \"w", &sql), "v: \"?\"");
	cr_expect_str_eq(redact("v: 'x' y it's l'w z", &sql), "v: '?' y it's l'w z");
	cr_expect_str_eq(redact("\xc2\xab\xc2\xa0" "a\xe2\x80\xaf\xc2\xbb",
				&sql),
			 "\xc2\xab\xc2\xa0" "a\xe2\x80\xaf\xc2\xbb");
	/* words: numbers and dotted names, after no word byte, '$' or '.' */
	cr_expect_str_eq(redact("3.5 0xff 1e10 -7 127.0.0.1 int4 $1 v2.1 a_1 "
				"9a. 12,5 e.g. end.", NULL),
			 "? ? ? -? ? int4 $1 ? a_1 ?. ?,? ?. end.");
	/* kinds: a quoted name right after one of the words */
	cr_expect_str_eq(redact("violates constraint \"c_1\" on \"t\"", &kind),
			 "violates constraint \"c_1\" on \"?\"");
	cr_expect_str_eq(redact("for KEY  'a.b' xconstraint \"c\"", &kind),
			 "for KEY  'a.b' xconstraint \"?\"");
	/* MySQL and Redis messages */
	cr_expect_str_eq(redact("Duplicate entry 'bob@x.org' for key "
				"'users.email'", NULL),
			 "Duplicate entry '?'");
	cr_expect_str_eq(redact("Unknown column 'a' in 'field list'", &sql),
			 "Unknown column 'a' in '?'");
	cr_expect_str_eq(redact("ERR unknown command 'FOO', with args "
				"beginning with: 'secret' ", &redis),
			 "ERR unknown command 'FOO', with args beginning with: "
			 "'?' ");
	cr_expect_str_eq(redact("WRONGTYPE Operation against a key holding "
				"the wrong kind of value", &redis),
			 "WRONGTYPE Operation against a key holding the wrong "
			 "kind of value");
	/* the message ends at its length or at a NUL */
	cr_expect_eq(at_sql_redact_message("ab\0\"c\"", 6, NULL, outbuf, 64), 2);
	cr_expect_str_eq(outbuf, "ab");
	cr_expect_eq(at_sql_redact_message("a \"b\" 1", 5, NULL, outbuf, 64), 5);
	cr_expect_str_eq(outbuf, "a \"?\"");
}

Test(sql, redact_message_cap)
{
	const char *m = "a \"b\" 123 \xc3\xa9\xc3\xa9 tail";
	char full[64];
	size_t fl = at_sql_redact_message(m, strlen(m), NULL, full,
					  sizeof(full));

	cr_assert_str_eq(full, "a \"?\" ? \xc3\xa9\xc3\xa9 tail");
	for (size_t cap = 1; cap <= fl + 1; cap++) {
		char o[64];
		size_t r;

		memset(o, 'Z', sizeof(o));
		r = at_sql_redact_message(m, strlen(m), NULL, o, cap);
		cr_expect_lt(r, cap);
		cr_expect_eq(o[r], '\0');
		cr_expect_eq(o[cap], 'Z', "wrote past cap %zu", cap);
		cr_expect(!memcmp(o, full, r), "cap %zu: a prefix", cap);
		cr_expect(r + 2 >= cap || r == fl, "cap %zu: %zu bytes", cap, r);
		/* never half a UTF-8 sequence */
		cr_expect(!(r > 0 && (unsigned char)o[r - 1] == 0xc3),
			  "cap %zu", cap);
	}
	cr_expect_eq(at_sql_redact_message(m, strlen(m), NULL, full, 0), 0);
	cr_expect_eq(at_sql_pg_error("x", 1, "P0001", NULL, 0, full, 1), 0);
	cr_expect_str_eq(full, "");
	cr_expect_eq(at_sql_pg_error("x 1", 3, NULL, NULL, 0, full, 64), 3);
	cr_expect_str_eq(full, "x ?");
}
