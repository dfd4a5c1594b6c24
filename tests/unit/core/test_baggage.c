/* Unit tests of the baggage table (at_baggage.h) and of how spans carry
 * a request's baggage: children see it, the owner frees it at its end,
 * a child outliving it then finds nothing (never another request's
 * list), a full table drops and counts. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "at_baggage.h"
#include "at_config.h"
#include "at_propagators.h"
#include "at_span.h"
#include "at_thread.h"
#include "unit.h"

static void setup(void)
{
	ut_core_setup();
	at_span_set_env_parent(NULL, NULL, 0);
	at_span_set_env_baggage(NULL, 0);
}

TestSuite(baggage, .init = setup);

Test(baggage, store_copy_release)
{
	char out[64];
	struct at_baggage_ref a = at_baggage_store("user.id=alice", 13), b;

	cr_assert_neq(a.slot, 0);
	cr_expect_eq(at_baggage_copy(a, out, sizeof(out)), 13);
	cr_expect_str_eq(out, "user.id=alice");
	cr_expect_eq(at_baggage_copy(a, out, 5), -1); /* does not fit */
	at_baggage_release(a);
	cr_expect_eq(at_baggage_copy(a, out, sizeof(out)), -1);
	/* The slot comes back with another generation: the old reference
	 * never reads the new list. */
	b = at_baggage_store("k=v", 3);
	cr_assert_neq(b.slot, 0);
	cr_expect_eq(at_baggage_copy(a, out, sizeof(out)), -1);
	cr_expect_eq(at_baggage_copy(b, out, sizeof(out)), 3);
	at_baggage_release(a); /* a stale release frees nothing */
	cr_expect_eq(at_baggage_copy(b, out, sizeof(out)), 3);
	at_baggage_release(b);
	cr_expect_eq(at_baggage_store("", 0).slot, 0);
}

Test(baggage, store_fields)
{
	struct at_prop_str f[2] = { { "a=1", 3 }, { " b = 2", 6 } };
	struct at_prop_str bad[1] = { { "a", 1 } };
	struct at_baggage_ref r;
	char out[64];

	r = at_baggage_store_fields(f, 2);
	cr_assert_neq(r.slot, 0);
	cr_expect_eq(at_baggage_copy(r, out, sizeof(out)), 7);
	cr_expect_str_eq(out, "a=1,b=2");
	at_baggage_release(r);
	cr_expect_eq(at_baggage_store_fields(bad, 1).slot, 0);
	/* The slot of the invalid list came back. */
	for (int i = 0; i < AT_BAGGAGE_SLOTS; i++)
		cr_assert_neq(at_baggage_store("x=1", 3).slot, 0);
}

Test(baggage, full_table_drops)
{
	struct at_baggage_ref r[AT_BAGGAGE_SLOTS];
	uint64_t before = atomic_load(&at_baggage_dropped);

	for (int i = 0; i < AT_BAGGAGE_SLOTS; i++) {
		r[i] = at_baggage_store("a=1", 3);
		cr_assert_neq(r[i].slot, 0);
	}
	cr_expect_eq(at_baggage_store("a=1", 3).slot, 0);
	cr_expect_eq(atomic_load(&at_baggage_dropped), before + 1);
	for (int i = 0; i < AT_BAGGAGE_SLOTS; i++)
		at_baggage_release(r[i]);
	r[0] = at_baggage_store("a=1", 3);
	cr_expect_neq(r[0].slot, 0);
	at_baggage_release(r[0]);
}

Test(baggage, spans_carry_it)
{
	struct at_span srv, child, late, other;
	char out[64];
	struct at_baggage_ref kept;

	cr_assert(at_span_start(&srv, "srv", 3, AT_KIND_SERVER));
	at_span_own_baggage(&srv, at_baggage_store("tenant=t1", 9));
	cr_assert(at_span_start(&child, "c", 1, AT_KIND_CLIENT));
	cr_expect_eq(at_baggage_copy(at_span_baggage(&child), out, sizeof(out)), 9);
	cr_expect_str_eq(out, "tenant=t1");
	at_span_end(&child);
	cr_assert(at_span_start_detached(&late, "late", 4, AT_KIND_CLIENT));
	kept = at_span_baggage(&late);
	at_span_end(&srv);
	/* The request is over: its list is gone for the late child, and a
	 * new request's list is not visible through the old reference. */
	cr_expect_eq(at_baggage_copy(kept, out, sizeof(out)), -1);
	cr_assert(at_span_start(&other, "srv2", 4, AT_KIND_SERVER));
	at_span_own_baggage(&other, at_baggage_store("tenant=t2", 9));
	cr_expect_eq(at_baggage_copy(kept, out, sizeof(out)), -1);
	cr_expect_eq(at_baggage_copy(at_span_baggage(&other), out, sizeof(out)), 9);
	at_span_end(&late);
	at_span_end(&other);
	/* A root with no request: the environment's baggage. */
	at_span_set_env_baggage("from=env", 8);
	cr_assert(at_span_start(&srv, "root", 4, AT_KIND_INTERNAL));
	cr_expect_eq(at_baggage_copy(at_span_baggage(&srv), out, sizeof(out)), 8);
	at_span_end(&srv);
}

/* The value of attribute key of a started span, or NULL. */
static const char *attr(const struct at_span *s, const char *key, char *buf,
			size_t cap)
{
	for (int i = 0; i < s->h.n_attrs; i++)
		if (!strcmp(s->attrs[i].key, key)) {
			const struct at_str *v = &s->attrs[i].v.s;

			snprintf(buf, cap, "%.*s", (int)v->len, s->arena + v->off);
			return buf;
		}
	return NULL;
}

Test(baggage, named_entries_become_attributes)
{
	struct at_span srv, child;
	char v[64];

	memcpy(at_cfg.baggage_attrs, "user.id\0tenant\0", 15);
	at_cfg.n_baggage_attrs = 2;
	cr_assert(at_span_start(&srv, "srv", 3, AT_KIND_SERVER));
	at_span_own_baggage(&srv, at_baggage_store("user.id=al%20ice,x=1", 20));
	cr_expect_str_eq(attr(&srv, "user.id", v, sizeof(v)), "al ice");
	cr_expect_null(attr(&srv, "tenant", v, sizeof(v)));
	cr_expect_null(attr(&srv, "x", v, sizeof(v)));
	cr_assert(at_span_start(&child, "c", 1, AT_KIND_CLIENT));
	cr_expect_str_eq(attr(&child, "user.id", v, sizeof(v)), "al ice");
	at_span_end(&child);
	at_span_end(&srv);
	/* Not configured: nothing. */
	at_cfg.n_baggage_attrs = 0;
	cr_assert(at_span_start(&srv, "srv", 3, AT_KIND_SERVER));
	at_span_own_baggage(&srv, at_baggage_store("user.id=bob", 11));
	cr_expect_null(attr(&srv, "user.id", v, sizeof(v)));
	at_span_end(&srv);
}
