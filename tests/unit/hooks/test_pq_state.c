/*
 * Unit tests of the libpq family's state (hooks/libpq/at_pq.c) without
 * libpq: the function table (at_pq) gets fakes for the few connection
 * getters a span reads, and the PGconn pointers are addresses that are
 * never dereferenced.  Covered: the prepared statement table (name ->
 * text, the oldest replaced when full, texts cut), the FIFO of
 * asynchronous statements (ended in order, a full FIFO ends a statement
 * at once, PQfinish ends what is in flight) and the bound of the
 * handle -> state map, the memo of statement texts (alike but for their
 * literals) and the connection's attribute block.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_ptrmap.h"
#include "at_pq.h"
#include "unit.h"
#include "ut_spans.h"

static char *fake_db(const PGconn *c)
{
	(void)c;
	return (char *)"appdb";
}

static char *fake_host(const PGconn *c)
{
	(void)c;
	return (char *)"db.example.test";
}

static char *fake_port(const PGconn *c)
{
	(void)c;
	return (char *)"5432";
}

static void setup(void)
{
	ut_core_setup();
	ut_drain_ring();
	/* Only the getters a span reads; nothing else may be called. */
	at_pq = (struct at_pq_real){ .PQdb = fake_db, .PQhost = fake_host,
				     .PQport = fake_port };
}

TestSuite(pq_state, .init = setup);

static PGconn *conn_n(unsigned i)
{
	return (PGconn *)(uintptr_t)(0x10000 + 64 * (uintptr_t)i);
}

Test(pq_state, prepared_texts_by_name)
{
	PGconn *c = conn_n(1), *other = conn_n(2);

	cr_assert_null(at_pq_prepared_get(c, "s"));
	at_pq_prepared_set(c, "s", "SELECT $1");
	at_pq_prepared_set(c, NULL, "SELECT 2"); /* the unnamed statement */
	cr_assert_str_eq(at_pq_prepared_get(c, "s"), "SELECT $1");
	cr_assert_str_eq(at_pq_prepared_get(c, ""), "SELECT 2");
	cr_assert_str_eq(at_pq_prepared_get(c, NULL), "SELECT 2");
	cr_assert_null(at_pq_prepared_get(other, "s"), "per connection");
	at_pq_prepared_set(c, "s", "SELECT $1, $2");
	cr_assert_str_eq(at_pq_prepared_get(c, "s"), "SELECT $1, $2",
			 "redefined in place");
	at_pq_forget(c);
	cr_assert_null(at_pq_prepared_get(c, "s"), "PQfinish forgets");
}

/* The table holds 16 statements; the 17th replaces the oldest. */
Test(pq_state, full_table_replaces_the_oldest)
{
	PGconn *c = conn_n(3);
	char name[16], text[32];

	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		snprintf(text, sizeof(text), "SELECT %d", i);
		at_pq_prepared_set(c, name, text);
	}
	/* Redefining one takes no new slot. */
	at_pq_prepared_set(c, "s5", "SELECT 55");
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		cr_assert_not_null(at_pq_prepared_get(c, name), "%s kept", name);
	}
	at_pq_prepared_set(c, "s16", "SELECT 16");
	cr_assert_null(at_pq_prepared_get(c, "s0"), "the oldest went");
	cr_assert_str_eq(at_pq_prepared_get(c, "s16"), "SELECT 16");
	cr_assert_str_eq(at_pq_prepared_get(c, "s5"), "SELECT 55");
	at_pq_prepared_set(c, "s17", "SELECT 17");
	cr_assert_null(at_pq_prepared_get(c, "s1"), "then the next oldest");
	cr_assert_str_eq(at_pq_prepared_get(c, "s2"), "SELECT 2");
}

Test(pq_state, long_texts_and_names_are_cut)
{
	PGconn *c = conn_n(4);
	static char text[2000], name[200];
	const char *got;

	memset(text, 'x', sizeof(text) - 1);
	memset(name, 'n', sizeof(name) - 1);
	at_pq_prepared_set(c, name, text);
	cr_assert_null(at_pq_prepared_get(c, name), "the name was cut");
	name[63] = 0;
	got = at_pq_prepared_get(c, name);
	cr_assert_not_null(got);
	cr_assert_eq(strlen(got), 511);
	cr_assert_eq(strncmp(got, text, 511), 0);
}

static struct at_span *statement(PGconn *c, const char *text)
{
	struct at_span *s = at_pq_query_begin(c, NULL, text);
	cr_assert_not_null(s);
	return s;
}

Test(pq_state, async_statements_end_in_order)
{
	PGconn *c = conn_n(5);
	struct at_span *a = statement(c, "SELECT 1"),
		       *b = statement(c, "SELECT 2");
	struct rec spans[4];

	at_pq_push(c, a);
	at_pq_push(c, b);
	cr_assert_eq(at_pq_oldest(c), a);
	at_pq_copy_row(c);
	at_pq_copy_row(c);
	at_pq_pop_end(c);
	cr_assert_eq(at_pq_oldest(c), b);
	at_pq_pop_end(c);
	cr_assert_null(at_pq_oldest(c));
	at_pq_pop_end(c); /* nothing in flight: nothing happens */
	cr_assert_eq(ut_take_spans(spans, 4), 2);
	cr_assert(ut_str_is(&spans[0], "db.query.text", "SELECT ?"));
	cr_assert_eq(ut_int_attr(&spans[0], "db.response.returned_rows"), 2,
		     "the COPY rows counted for the oldest");
	cr_assert(ut_str_is(&spans[0], "db.namespace", "appdb"));
	cr_assert(ut_str_is(&spans[1], "db.query.text", "SELECT ?"));
	cr_assert_null(ut_attr(&spans[1], "db.response.returned_rows"));
}

/* An asynchronous send takes its start time before the send and starts
 * and describes its span after it (at_pq_query_sent): the span covers the
 * send (dated back to t0) and has the statement's attributes; a span
 * started before (SQLCommenter) is the one kept. */
Test(pq_state, span_described_after_the_send_starts_before_it)
{
	PGconn *c = conn_n(15);
	uint64_t t0 = at_mono_ns() - 1000000000u; /* a second ago */
	struct at_span *early = at_pq_query_start(c), *s;
	uint8_t id[8];
	struct rec spans[4];

	s = at_pq_query_sent(c, NULL, t0, NULL, "UPDATE t SET a = 1");
	cr_assert_not_null(s);
	at_pq_push(c, s);
	cr_assert_not_null(early);
	memcpy(id, at_span_ctx(early)->span_id, 8);
	cr_assert_eq(at_pq_query_sent(c, early, t0, "PREPARE", "SELECT 1"),
		     early, "the span started before the send is kept");
	at_pq_push(c, early);
	at_pq_pop_end(c);
	at_pq_pop_end(c);
	cr_assert_eq(ut_take_spans(spans, 4), 2);
	cr_assert(ut_has_name(&spans[0], "UPDATE t"));
	cr_assert(ut_str_is(&spans[0], "db.query.text", "UPDATE t SET a = ?"));
	cr_assert(ut_str_is(&spans[0], "db.namespace", "appdb"));
	cr_assert_geq(spans[0].u.h.end_unix_ns - spans[0].u.h.start_unix_ns,
		      1000000000u, "dated back to the time before the send");
	cr_assert(ut_str_is(&spans[1], "db.operation.name", "PREPARE"));
	cr_assert_eq(memcmp(spans[1].u.h.ctx.span_id, id, 8), 0);
	cr_assert_geq(spans[1].u.h.end_unix_ns - spans[1].u.h.start_unix_ns,
		      1000000000u);
}

Test(pq_state, full_fifo_ends_a_statement_at_once)
{
	PGconn *c = conn_n(6);
	struct rec spans[40];

	for (int i = 0; i < 32; i++)
		at_pq_push(c, statement(c, "SELECT 1"));
	cr_assert_eq(ut_take_spans(spans, 40), 0, "32 in flight");
	at_pq_push(c, statement(c, "SELECT 33"));
	cr_assert_eq(ut_take_spans(spans, 40), 1, "no room: ended now");
	/* PQfinish ends what is in flight. */
	at_pq_forget(c);
	cr_assert_eq(ut_take_spans(spans, 40), 32);
	cr_assert_null(at_pq_oldest(c));
}

/* More connections than the map holds: the extra one goes untraced
 * (nothing kept, its statements end at once), until one is forgotten. */
Test(pq_state, map_is_bounded, .timeout = 60)
{
	PGconn *extra = conn_n(AT_PTRMAP_SLOTS);
	struct rec spans[2];

	for (unsigned i = 0; i < AT_PTRMAP_SLOTS; i++) {
		at_pq_prepared_set(conn_n(i), "s", "SELECT 1");
		cr_assert_not_null(at_pq_prepared_get(conn_n(i), "s"),
				   "connection %u", i);
	}
	at_pq_prepared_set(extra, "s", "SELECT 1");
	cr_assert_null(at_pq_prepared_get(extra, "s"), "map full");
	at_pq_push(extra, statement(extra, "SELECT 1"));
	cr_assert_null(at_pq_oldest(extra));
	cr_assert_eq(ut_take_spans(spans, 2), 1, "ended at once");
	at_pq_forget(conn_n(7));
	at_pq_prepared_set(extra, "s", "SELECT 2");
	cr_assert_str_eq(at_pq_prepared_get(extra, "s"), "SELECT 2",
			 "room again");
}

static char *fake_socket_dir(const PGconn *c)
{
	(void)c;
	return (char *)"/run/pg";
}

static void run(PGconn *c, const char *text)
{
	at_pq_query_end(statement(c, text));
}

/* Statements alike but for their literals reuse what the first gave (the
 * memo); the connection's attributes follow what libpq answers. */
Test(pq_state, memo_and_connection_attributes)
{
	PGconn *c = conn_n(9);
	struct rec spans[8];

	run(c, "UPDATE t SET a = a + -5 WHERE id = 7");
	run(c, "UPDATE t SET a = a + 12 WHERE id = 99");
	run(c, "SELECT b FROM u WHERE k = 'x'");
	run(c, "SELECT b FROM u WHERE k = 'yy'");
	cr_assert_eq(ut_take_spans(spans, 8), 4);
	for (int i = 0; i < 2; i++) {
		cr_assert(ut_str_is(&spans[i], "db.query.text",
				    "UPDATE t SET a = a + ? WHERE id = ?"));
		cr_assert(ut_str_is(&spans[i], "db.operation.name", "UPDATE"));
		cr_assert(ut_str_is(&spans[i], "db.collection.name", "t"));
		cr_assert(ut_has_name(&spans[i], "UPDATE t"));
		cr_assert(ut_str_is(&spans[i + 2], "db.query.text",
				    "SELECT b FROM u WHERE k = ?"));
		cr_assert(ut_has_name(&spans[i + 2], "SELECT u"));
	}
	for (int i = 0; i < 4; i++) {
		cr_assert(ut_str_is(&spans[i], "db.system.name", "postgresql"));
		cr_assert(ut_str_is(&spans[i], "db.namespace", "appdb"));
		cr_assert(ut_str_is(&spans[i], "server.address",
				    "db.example.test"));
		cr_assert_eq(ut_int_attr(&spans[i], "server.port"), 5432);
	}
	/* libpq answers another host: the block is made again. */
	at_pq.PQhost = fake_socket_dir;
	run(c, "SELECT b FROM u WHERE k = 'z'");
	at_pq_conn_changed(c);
	run(c, "SELECT b FROM u WHERE k = 'zz'");
	cr_assert_eq(ut_take_spans(spans, 8), 2);
	for (int i = 0; i < 2; i++) {
		cr_assert(ut_str_is(&spans[i], "server.address",
				    "/run/pg/.s.PGSQL.5432"));
		cr_assert(ut_str_is(&spans[i], "network.transport", "unix"));
		cr_assert_null(ut_attr(&spans[i], "server.port"));
	}
	/* Raw texts: literals are exported, so only the same text is
	 * reused. */
	at_cfg.db_raw_query = 1;
	run(c, "SELECT b FROM u WHERE k = 'one'");
	run(c, "SELECT b FROM u WHERE k = 'two'");
	at_cfg.db_raw_query = 0;
	cr_assert_eq(ut_take_spans(spans, 8), 2);
	cr_assert(ut_str_is(&spans[0], "db.query.text",
			    "SELECT b FROM u WHERE k = 'one'"));
	cr_assert(ut_str_is(&spans[1], "db.query.text",
			    "SELECT b FROM u WHERE k = 'two'"));
	at_pq_forget(c);
}

/* Each thread remembers the last state it found (at_handle_hit.h): a
 * connection freed on another thread and made again at the same address
 * is new, here and there. */
static PGconn *const reused = (PGconn *)(uintptr_t)0x30000;

static void *finish_elsewhere(void *arg)
{
	(void)arg;
	cr_assert_str_eq(at_pq_prepared_get(reused, "s"), "SELECT 1",
			 "the other thread finds the state");
	at_pq_forget(reused); /* PQfinish on this thread */
	/* Another connection takes the freed state first, so that a stale
	 * memory of it would show. */
	at_pq_prepared_set(conn_n(40), "t", "SELECT 2");
	return NULL;
}

Test(pq_state, a_connection_made_again_at_a_freed_address_is_new)
{
	pthread_t th;

	at_pq_prepared_set(reused, "s", "SELECT 1");
	cr_assert_str_eq(at_pq_prepared_get(reused, "s"), "SELECT 1");
	cr_assert_eq(pthread_create(&th, NULL, finish_elsewhere, NULL), 0);
	pthread_join(th, NULL);
	cr_expect_null(at_pq_prepared_get(reused, "s"),
		       "forgotten on the other thread: forgotten here");
	at_pq_prepared_set(reused, "u", "SELECT 3");
	cr_expect_str_eq(at_pq_prepared_get(reused, "u"), "SELECT 3");
	cr_expect_null(at_pq_prepared_get(reused, "t"), "not the other's");
	cr_expect_str_eq(at_pq_prepared_get(conn_n(40), "t"), "SELECT 2");
	at_pq_forget(reused);
	at_pq_forget(conn_n(40));
}

/* An ended statement's span stays with its connection for the next
 * statement (not the pool's round trip), which starts afresh. */
Test(pq_state, an_ended_statements_span_serves_the_next)
{
	PGconn *c = conn_n(10);
	struct at_span *a = statement(c, "SELECT 1"), *b, *d, *e;
	struct rec spans[5];

	at_pq_push(c, a);
	at_pq_copy_row(c);
	at_pq_pop_end(c);
	b = statement(c, "INSERT INTO t VALUES (1)");
	cr_expect_eq(b, a, "the spare span");
	at_pq_push(c, b);
	at_pq_pop_end(c);
	d = statement(c, "SELECT 2");
	at_pq_query_end_on(c, d); /* a synchronous statement's end */
	e = statement(c, "SELECT 3");
	cr_expect_eq(e, d);
	at_pq_query_end(e);
	at_pq_forget(c);
	cr_assert_eq(ut_take_spans(spans, 5), 4);
	cr_assert_eq(ut_int_attr(&spans[0], "db.response.returned_rows"), 1);
	cr_assert(ut_str_is(&spans[1], "db.query.text",
			    "INSERT INTO t VALUES (?)"));
	cr_assert(ut_has_name(&spans[1], "INSERT t"));
	cr_assert_null(ut_attr(&spans[1], "db.response.returned_rows"));
	cr_assert(ut_str_is(&spans[2], "db.query.text", "SELECT ?"));
}
