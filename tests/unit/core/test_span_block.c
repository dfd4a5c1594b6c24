/* Unit tests of attribute blocks (at_span_set_block): the same slots,
 * values and drops as the at_span_set_* calls that filled the block. */
#include <criterion/criterion.h>
#include <string.h>

#include "at_config.h"
#include "at_span.h"
#include "at_thread.h"
#include "unit.h"

static void setup(void)
{
	ut_core_setup();
	at_span_set_env_parent(NULL, NULL, 0);
}

TestSuite(span_block, .init = setup);

/* The attributes of the tests: a few strings and ints. */
static void fill_block(struct at_span_block *b)
{
	at_span_block_clear(b);
	at_span_block_str(b, "server.address", "example.org", 11);
	at_span_block_int(b, "server.port", 8080);
	at_span_block_str(b, "client.address", "", 0);
	at_span_block_str(b, "network.peer.address", "127.0.0.1", 9);
	at_span_block_int(b, "network.peer.port", 45678);
}

static void set_by_calls(struct at_span *s)
{
	at_span_set_str(s, "server.address", "example.org", 11);
	at_span_set_int(s, "server.port", 8080);
	at_span_set_str(s, "client.address", "", 0);
	at_span_set_str(s, "network.peer.address", "127.0.0.1", 9);
	at_span_set_int(s, "network.peer.port", 45678);
}

/* before(s): what is set on both spans first; set_block: the block's
 * setter (at_span_set_block, or at_span_set_block_new when before sets
 * none of its keys). */
static void compare_with(void (*before)(struct at_span *),
			 bool (*set_block)(struct at_span *,
					   const struct at_span_block *))
{
	struct at_span a, b;
	struct at_span_block blk;

	fill_block(&blk);
	cr_assert(at_span_start(&a, "a", 1, AT_KIND_INTERNAL));
	cr_assert(at_span_start(&b, "a", 1, AT_KIND_INTERNAL));
	if (before) {
		before(&a);
		before(&b);
	}
	set_by_calls(&a);
	cr_assert(set_block(&b, &blk));
	at_span_set_str(&a, "after", "x", 1);
	at_span_set_str(&b, "after", "x", 1);
	cr_assert_eq(a.h.n_attrs, b.h.n_attrs);
	cr_assert_eq(a.h.dropped_attrs, b.h.dropped_attrs);
	cr_assert_eq(a.h.arena_used, b.h.arena_used);
	cr_assert_eq(a.key_bits, b.key_bits);
	cr_assert_eq(memcmp(a.arena, b.arena, a.h.arena_used), 0);
	for (unsigned i = 0; i < a.h.n_attrs; i++) {
		cr_assert_eq(a.attrs[i].key, b.attrs[i].key);
		cr_assert_eq(a.attrs[i].type, b.attrs[i].type);
		if (a.attrs[i].type == AT_ATTR_STRING) {
			cr_assert_eq(a.attrs[i].v.s.off, b.attrs[i].v.s.off);
			cr_assert_eq(a.attrs[i].v.s.len, b.attrs[i].v.s.len);
		} else {
			cr_assert_eq(a.attrs[i].v.i, b.attrs[i].v.i);
		}
	}
	at_span_end(&b);
	at_span_end(&a);
}

static void compare(void (*before)(struct at_span *))
{
	compare_with(before, at_span_set_block);
}

Test(span_block, same_as_the_calls)
{
	compare(NULL);
}

static void some_before(struct at_span *s)
{
	at_span_set_str(s, "http.request.method", "GET", 3);
	at_span_set_int(s, "other", 1);
}

Test(span_block, after_other_attributes)
{
	compare(some_before);
}

/* The caller knows the block's keys are not on the span: the same
 * attributes without the search (libpq's statement block after its
 * connection's). */
Test(span_block, new_keys_the_same_without_the_search)
{
	compare_with(NULL, at_span_set_block_new);
	compare_with(some_before, at_span_set_block_new);
}

static void same_key_before(struct at_span *s)
{
	at_span_set_str(s, "server.address", "first.example", 13);
}

Test(span_block, a_key_set_before_keeps_its_slot)
{
	compare(same_key_before);
}

Test(span_block, count_limit_drops_the_same)
{
	at_cfg.attr_count_limit = 4;
	compare(some_before);
}

Test(span_block, value_limit_cuts_the_same)
{
	at_cfg.attr_value_len_limit = 5;
	compare(some_before);
}

static void arena_nearly_full(struct at_span *s)
{
	char big[AT_SPAN_ARENA];

	memset(big, 'a', sizeof(big));
	at_cfg.attr_value_len_limit = UINT32_MAX;
	at_span_set_str(s, "big", big, AT_SPAN_ARENA - 20);
}

Test(span_block, arena_room_cuts_the_same)
{
	compare(arena_nearly_full);
}

Test(span_block, a_full_block_is_refused)
{
	struct at_span s;
	struct at_span_block blk;
	char big[AT_SPAN_BLOCK_ARENA + 1];

	memset(big, 'b', sizeof(big));
	at_span_block_clear(&blk);
	at_span_block_str(&blk, "big", big, sizeof(big));
	cr_assert(at_span_start(&s, "a", 1, AT_KIND_INTERNAL));
	cr_assert_not(at_span_set_block(&s, &blk));
	cr_assert_eq(s.h.n_attrs, 0);
	at_span_block_clear(&blk);
	at_span_block_int(&blk, "k", 1);
	at_span_block_int(&blk, "k", 2);
	cr_assert_not(at_span_set_block(&s, &blk), "a key twice");
	at_span_end(&s);
}
