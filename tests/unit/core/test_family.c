/* Unit tests of the family kit (at_family.h), the one guard (at_guard.h),
 * the lifecycle table (at_lifecycle.h) and the spans' consumer (at_span.h):
 * lazy symbol tables, bounded handle maps, the owner mask beside the
 * nest count, the table's order, and a core that never calls up. */
#include <criterion/criterion.h>
#include <string.h>

#include "at_family.h"
#include "at_lifecycle.h"
#include "at_span.h"
#include "at_thread.h"
#include "unit.h"

/* ---- symbol tables ---- */

static struct {
	size_t (*strlen)(const char *);
	int (*at_no_such_function_here)(void);
} fake;

#define FAKE_FUNCS(X) X(strlen) X(at_no_such_function_here)
#define FAKE_SYM(name) AT_SYM(fake, name)
static const struct at_sym fake_syms[] = { FAKE_FUNCS(FAKE_SYM) };
static const char *const need_strlen[] = { "strlen", NULL };
static const char *const need_missing[] = { "at_no_such_function_here", NULL };

Test(family, symtab_resolves_once_and_lazily)
{
	struct at_symtab t = AT_SYMTAB_INIT(NULL, fake_syms, need_strlen);

	memset(&fake, 0, sizeof(fake));
	cr_assert_eq(atomic_load(&t.state), 0, "nothing resolved before use");
	cr_assert(at_symtab_resolve(&t));
	cr_assert_eq(fake.strlen("abc"), 3);
	cr_assert_null(fake.at_no_such_function_here, "optional, absent");
	cr_assert_eq(atomic_load(&t.state), 1);
	fake.strlen = NULL; /* a second call does not resolve again */
	cr_assert(at_symtab_resolve(&t));
	cr_assert_null(fake.strlen);
}

Test(family, symtab_absent_when_a_required_symbol_is_missing)
{
	struct at_symtab t = AT_SYMTAB_INIT("libat-not-loaded.so.9", fake_syms,
					    need_missing);

	memset(&fake, 0, sizeof(fake));
	cr_assert_not(at_symtab_resolve(&t));
	cr_assert_eq(atomic_load(&t.state), -1);
	cr_assert_not_null(fake.strlen, "the others are still resolved");
	/* A family whose library is absent is never entered. */
	ut_core_setup();
	cr_assert_not(at_family_enter(AT_OWN_PQ, &t));
	cr_assert_eq(at_guard, 0);
}

/* ---- handle -> state ---- */

struct fake_state {
	int n;
	char pad[40];
};

Test(family, handle_map_is_bounded_and_reuses_states)
{
	static struct at_handle_map m =
		AT_HANDLE_MAP_INIT(sizeof(struct fake_state), AT_POOL_CHUNK);
	static char handles[AT_POOL_CHUNK + 1];
	struct fake_state *st, *first;

	cr_assert_null(at_handle_get(&m, &handles[0], false));
	first = at_handle_get(&m, &handles[0], true);
	cr_assert_not_null(first);
	cr_assert_eq(first->n, 0, "zeroed");
	first->n = 7;
	cr_assert_eq(at_handle_get(&m, &handles[0], true), first);
	cr_assert_eq(at_handle_get(&m, &handles[0], false), first);
	for (int i = 1; i < AT_POOL_CHUNK; i++)
		cr_assert_not_null(at_handle_get(&m, &handles[i], true));
	cr_assert_null(at_handle_get(&m, &handles[AT_POOL_CHUNK], true),
		       "beyond the bound: untraced");
	at_handle_drop(&m, &handles[0]);
	cr_assert_null(at_handle_get(&m, &handles[0], false));
	st = at_handle_get(&m, &handles[AT_POOL_CHUNK], true);
	cr_assert_not_null(st, "a dropped state is reused");
	cr_assert_eq(st->n, 0, "and zeroed again");
}

/* ---- the guard: nest count and owner mask ---- */

Test(family, owner_bits_beside_the_count)
{
	ut_core_setup();
	cr_assert(at_family_enter(AT_OWN_PQ, NULL));
	cr_assert(at_owned(AT_OWN_PQ));
	cr_assert_not(at_guard_held(), "an owner bit is not the count");
	cr_assert_not(at_family_enter(AT_OWN_PQ, NULL), "nested: passes");
	/* The socket hooks underneath stay active. */
	cr_assert(at_hook_enter());
	cr_assert(at_guard_held());
	cr_assert_not(at_family_enter(AT_OWN_CURL, NULL),
		      "the library itself runs: every family passes");
	at_hook_leave();
	cr_assert(at_family_enter(AT_OWN_CURL | AT_OWN_HTTP, NULL),
		  "another family may nest");
	cr_assert(at_owned(AT_OWN_HTTP));
	at_family_leave(AT_OWN_CURL | AT_OWN_HTTP);
	cr_assert_not(at_owned(AT_OWN_HTTP));
	cr_assert(at_owned(AT_OWN_PQ));
	at_family_leave(AT_OWN_PQ);
	cr_assert_eq(at_guard, 0);
}

Test(family, held_count_blocks_hooks_and_families)
{
	ut_core_setup();
	at_guard_enter();
	cr_assert_not(at_hook_enter());
	cr_assert_not(at_family_enter(AT_OWN_PQ, NULL));
	at_guard_leave();
	cr_assert(at_hook_enter());
	at_hook_leave();
	cr_assert_eq(at_guard, 0);
}

/* ---- the lifecycle table ---- */

static int line_of(const char *name)
{
	for (int i = 0; at_lifecycle_table[i].name; i++)
		if (strcmp(at_lifecycle_table[i].name, name) == 0)
			return i;
	return -1;
}

Test(family, lifecycle_table_keeps_the_order)
{
	int exporter = line_of("exporter");

	/* Fork child handlers in the order at_init.c called them. */
	cr_assert_eq(line_of("thread"), 0);
	cr_assert_eq(line_of("conn"), 1);
	cr_assert_eq(line_of("bridge_span"), 2);
	cr_assert_eq(line_of("tls"), 3);
	cr_assert_eq(exporter, 4);
	cr_assert_eq(line_of("proc"), 5);
	cr_assert_eq(line_of("shell"), 6);
	/* At exit, every family ends what is open before the exporter's
	 * final flush. */
	for (int i = exporter + 1; at_lifecycle_table[i].name; i++)
		cr_assert_null(at_lifecycle_table[i].at_exit, "%s",
			       at_lifecycle_table[i].name);
	cr_assert_not_null(at_lifecycle_table[exporter].at_exit);
	cr_assert_not_null(at_lifecycle_table[exporter].init);
}

/* ---- the spans' consumer ---- */

static int starts, wakes;
static void fake_start(void) { starts++; }
static void fake_wake(void) { wakes++; }
static const struct at_span_consumer fake_consumer = { fake_start, fake_wake };

static void one_span(void)
{
	struct at_span s;

	cr_assert(at_span_start(&s, "s", 1, AT_KIND_INTERNAL));
	at_span_end(&s);
}

Test(family, consumer_started_once_and_woken_past_the_mark)
{
	struct at_ring *r;
	int n = 0;

	ut_core_setup();
	one_span(); /* no consumer: the span waits in the ring */
	at_span_consumer_set(&fake_consumer);
	cr_assert_eq(starts, 0, "started by a span, not by registering");
	one_span();
	one_span();
	cr_assert_eq(starts, 1);
	cr_assert_eq(wakes, 0);
	r = &at_thread_get()->ring;
	while (wakes == 0 && n++ < 100000 && at_ring_queued(r) < r->max_records)
		one_span();
	cr_assert_eq(wakes, 1, "woken when the ring crossed its mark");
	cr_assert_eq(starts, 1);
	at_span_consumer_set(&fake_consumer); /* a fork child registers again */
	one_span();
	cr_assert_eq(starts, 2);
}
