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
	at_wire_peer_block(w);
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

/* The string attribute key of r, or NULL. */
static const char *str_of(const struct rec *r, const char *key, size_t *len)
{
	const struct at_attr *a = ut_attr(r, key);

	*len = 0;
	if (!a || a->type != AT_ATTR_STRING)
		return NULL;
	*len = a->v.s.len;
	return at_rec_arena(&r->u.h) + a->v.s.off;
}

static void same_statement(const struct rec *a, const struct rec *b)
{
	static const char *const keys[] = { "db.query.text",
					    "db.operation.name",
					    "db.collection.name" };
	const char *x, *y;
	size_t xl, yl;

	cr_assert_eq(a->u.h.name.len, b->u.h.name.len);
	cr_assert_eq(memcmp(at_rec_arena(&a->u.h) + a->u.h.name.off,
			    at_rec_arena(&b->u.h) + b->u.h.name.off,
			    a->u.h.name.len), 0);
	cr_assert_eq(a->u.h.n_attrs, b->u.h.n_attrs);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		x = str_of(a, keys[i], &xl);
		y = str_of(b, keys[i], &yl);
		cr_assert_eq(!x, !y, "%s", keys[i]);
		cr_assert_eq(xl, yl, "%s", keys[i]);
		if (x)
			cr_assert_eq(memcmp(x, y, xl), 0, "%s", keys[i]);
	}
}

Test(wire_kit, sql_memo_gives_the_same_attributes)
{
	static char longer[700];
	const char *texts[] = {
		"SELECT * FROM orders WHERE card = '4111-1111'",
		"SELECT $1::int AS v",
		"UPDATE accounts SET balance = balance + 10 WHERE id = 7",
		"BEGIN",
		"INSERT INTO t (a, b) VALUES (1, 'x')",
		"  select 1  ",
		longer,
	};
	size_t n = sizeof(texts) / sizeof(texts[0]);
	struct at_wire_sql_memo *memo = calloc(1, sizeof(*memo));
	struct at_wire *w = session("127.0.0.1", 5432, NULL);
	struct rec spans[2];

	memset(longer, 0, sizeof(longer));
	memcpy(longer, "SELECT a FROM t WHERE x = '", 27);
	memset(longer + 27, 'y', 600);
	longer[627] = '\'';
	cr_assert_not_null(memo);
	/* Every text several times, more texts than entries (evictions),
	 * then with the raw text and a shorter cut. */
	for (int round = 0; round < 4; round++) {
		at_cfg.db_raw_query = round == 2;
		at_cfg.db_query_max = round == 3 ? 10 : 1024;
		for (size_t k = 0; k < 3 * n; k++) {
			const char *q = texts[(k * 3) % n];
			struct at_span *a = at_wire_span_begin(w, "postgresql", 10);
			struct at_span *b;

			at_wire_sql_statement(a, q, strlen(q), NULL);
			at_wire_span_end(a);
			b = at_wire_span_begin(w, "postgresql", 10);
			at_wire_sql_statement_memo(b, q, strlen(q), memo);
			at_wire_span_end(b);
			cr_assert_eq(ut_take_spans(spans, 2), 2);
			same_statement(&spans[0], &spans[1]);
		}
	}
	at_cfg.db_raw_query = 0;
	at_cfg.db_query_max = 1024;
	free(memo);
	at_pool_put(&test_pool, w);
}
