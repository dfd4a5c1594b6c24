/*
 * Unit tests of the wire families' kit (hooks/wire/at_wire_kit.c,
 * at_wire_sql.c): the FIFO of commands keeps replies matched in order and
 * stops the connection when full; a command's span carries the
 * connection's attributes; SQL statements and errors get the attributes
 * libpq's spans have, with values redacted.  Spans are read back from the
 * thread's ring.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_config.h"
#include "at_wire_kit.h"
#include "unit.h"
#include "ut_spans.h"

static struct at_pool test_pool = AT_POOL_INIT(sizeof(struct at_wire), 4);
static const struct at_wire_family fake = {
	.name = "fakedb",
	.pool = &test_pool,
};

static struct at_wire *session(const char *ip, int port, const char *path)
{
	struct at_wire *w = at_pool_get(&test_pool);

	cr_assert_not_null(w);
	memset(w, 0, sizeof(*w));
	w->fam = &fake;
	w->port = port;
	if (ip)
		strcpy(w->ip, ip);
	if (path)
		strcpy(w->path, path);
	return w;
}

static void setup(void)
{
	ut_core_setup();
	ut_drain_ring();
}

TestSuite(wire_kit, .init = setup);

Test(wire_kit, replies_end_commands_in_order)
{
	struct at_wire *w = session("127.0.0.1", 6379, NULL);
	struct rec spans[4];

	for (int i = 0; i < 3; i++) {
		struct at_wire_cmd *c = at_wire_push(w);
		char name[16];

		cr_assert_not_null(c);
		snprintf(name, sizeof(name), "CMD%d", i);
		c->span = at_wire_span_begin(w, name, strlen(name));
		c->tag = (uint32_t)i;
		at_wire_commit(w);
	}
	cr_assert_eq(at_wire_pending(w), 3);
	cr_assert_eq(at_wire_peek(w, 2)->tag, 2);
	cr_assert_null(at_wire_peek(w, 3));
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(at_wire_oldest(w)->tag, (uint32_t)i);
		at_wire_finish(w);
	}
	cr_assert_null(at_wire_oldest(w));
	at_wire_finish(w); /* nothing pending: nothing happens */
	cr_assert_eq(ut_take_spans(spans, 4), 3);
	cr_assert(ut_has_name(&spans[0], "CMD0"));
	cr_assert(ut_has_name(&spans[2], "CMD2"));
	cr_assert(ut_str_is(&spans[0], "db.system.name", "fakedb"));
	cr_assert(ut_str_is(&spans[0], "server.address", "127.0.0.1"));
	cr_assert_eq(ut_int_attr(&spans[0], "server.port"), 6379);
	cr_assert(ut_str_is(&spans[0], "network.peer.address", "127.0.0.1"));
	cr_assert_null(ut_attr(&spans[0], "db.namespace"));
	at_pool_put(&test_pool, w);
}

Test(wire_kit, a_full_fifo_stops_the_connection)
{
	struct at_wire *w = session("::1", 5432, NULL);
	uint64_t before = atomic_load(&at_span_drops.untraced);
	int n = 0;

	while (at_wire_push(w)) {
		at_wire_commit(w);
		n++;
	}
	cr_assert_eq(n, AT_WIRE_FIFO);
	cr_assert(!at_wire_stopped(w));
	at_wire_overflow(w);
	cr_assert(at_wire_stopped(w));
	cr_assert_eq(atomic_load(&at_span_drops.untraced), before + 1);
	at_wire_finish(w);
	cr_assert_not_null(at_wire_push(w), "a slot is free again");
	at_pool_put(&test_pool, w);
}

Test(wire_kit, unix_socket_and_namespace)
{
	struct at_wire *w = session("", -1, "/tmp/x/.s.PGSQL.5432");
	struct rec spans[1];
	struct at_span *s;

	strcpy(w->system, "mariadb");
	strcpy(w->ns, "shop");
	s = at_wire_span_begin(w, "PING", 4);
	at_wire_span_end(s);
	cr_assert_eq(ut_take_spans(spans, 1), 1);
	cr_assert(ut_str_is(&spans[0], "db.system.name", "mariadb"));
	cr_assert(ut_str_is(&spans[0], "db.namespace", "shop"));
	cr_assert(ut_str_is(&spans[0], "server.address",
			    "/tmp/x/.s.PGSQL.5432"));
	cr_assert(ut_str_is(&spans[0], "network.transport", "unix"));
	cr_assert_null(ut_attr(&spans[0], "server.port"));
	at_pool_put(&test_pool, w);
}

Test(wire_kit, sql_statement_and_redacted_error)
{
	struct at_wire *w = session("127.0.0.1", 3306, NULL);
	const char *q = "SELECT * FROM orders WHERE card = '4111-1111'";
	const char *m = "invalid input syntax for type integer: \"4111-1111\"";
	struct rec spans[1];
	struct at_span *s = at_wire_span_begin(w, "mysql", 5);

	at_wire_sql_statement(s, q, strlen(q), NULL);
	at_wire_sql_error(s, "22P02", "22P02", m, strlen(m));
	at_wire_span_end(s);
	cr_assert_eq(ut_take_spans(spans, 1), 1);
	cr_assert(ut_has_name(&spans[0], "SELECT orders"));
	cr_assert(ut_str_is(&spans[0], "db.query.text",
			    "SELECT * FROM orders WHERE card = ?"));
	cr_assert(ut_str_is(&spans[0], "db.operation.name", "SELECT"));
	cr_assert(ut_str_is(&spans[0], "db.collection.name", "orders"));
	cr_assert(ut_str_is(&spans[0], "db.response.status_code", "22P02"));
	cr_assert(ut_str_is(&spans[0], "error.type", "22P02"));
	cr_assert_eq(spans[0].u.h.status_code, AT_STATUS_ERROR);
	cr_assert_null(memmem(at_rec_arena(&spans[0].u.h),
			      spans[0].u.h.arena_used, "4111", 4),
		       "the literal never reaches the span");
	at_pool_put(&test_pool, w);
}
