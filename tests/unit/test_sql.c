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
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "at_sql.h"

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
		"'a'\n", "e", "1_", "((", ")", "-", "\"\"",
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
		/* Linear is ~1 ms here; quadratic would take minutes. */
		cr_expect_lt(now_s() - t0, 2.0, "unit \"%s\"", units[u]);
	}
}
