/* Unit tests of spans, the context stack and ids: parents, sampling,
 * attributes and their limits, status rules, events, records. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "at_config.h"
#include "at_id.h"
#include "at_span.h"
#include "at_thread.h"
#include "unit.h"

static void drain_ring(void)
{
	struct at_thread *t = at_thread_get();
	while (at_ring_peek(&t->ring))
		at_ring_pop(&t->ring);
}

static const struct at_span_hdr *next_record(void)
{
	return at_ring_peek(&at_thread_get()->ring);
}

static void setup(void)
{
	ut_core_setup();
	drain_ring();
	at_span_set_env_parent(NULL, NULL, 0);
}

TestSuite(span, .init = setup);

Test(span, root_then_child)
{
	struct at_span a, b;

	cr_assert(at_span_start(&a, "a", 1, AT_KIND_INTERNAL));
	cr_assert(at_span_recording(&a));
	cr_assert_not(at_id_is_zero(a.h.ctx.trace_id, 16));
	cr_assert_not(at_id_is_zero(a.h.ctx.span_id, 8));
	cr_assert_eq(a.h.has_parent, 0);
	cr_assert_eq(a.h.ctx.flags, AT_FLAG_SAMPLED | AT_FLAG_RANDOM);
	cr_assert_eq(at_context_current(at_thread_get()), &a);

	cr_assert(at_span_start(&b, "b", 1, AT_KIND_CLIENT));
	cr_assert_eq(memcmp(b.h.ctx.trace_id, a.h.ctx.trace_id, 16), 0);
	cr_assert_eq(memcmp(b.h.parent_span_id, a.h.ctx.span_id, 8), 0);
	cr_assert_eq(b.h.has_parent, 1);
	cr_assert_eq(b.h.parent_is_remote, 0);
	cr_assert_neq(memcmp(b.h.ctx.span_id, a.h.ctx.span_id, 8), 0);
	cr_assert_eq(at_context_current(at_thread_get()), &b);

	at_span_end(&b);
	cr_assert_eq(at_context_current(at_thread_get()), &a);
	at_span_end(&a);
	cr_assert_null(at_context_current(at_thread_get()));

	const struct at_span_hdr *r = next_record();
	cr_assert_not_null(r);
	cr_assert_eq(memcmp(r->ctx.span_id, b.h.ctx.span_id, 8), 0,
		     "child ended first, enqueued first");
	cr_assert_leq(r->start_unix_ns, r->end_unix_ns);
	cr_assert_eq(r->kind, AT_KIND_CLIENT);
	cr_assert_eq(r->name.len, 1);
	cr_assert_eq(at_rec_arena(r)[r->name.off], 'b');
}

Test(span, out_of_order_end)
{
	struct at_span a, b;

	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	at_span_start(&b, "b", 1, AT_KIND_INTERNAL);
	at_span_end(&a);
	cr_assert_eq(at_context_current(at_thread_get()), &b);
	at_span_end(&b);
	cr_assert_null(at_context_current(at_thread_get()));
}

static struct at_span cross;

static void *end_elsewhere(void *arg)
{
	(void)arg;
	at_span_end(&cross);
	return NULL;
}

Test(span, ended_on_another_thread_is_skipped)
{
	pthread_t th;
	struct at_span c;

	at_span_start(&cross, "x", 1, AT_KIND_SERVER);
	pthread_create(&th, NULL, end_elsewhere, NULL);
	pthread_join(th, NULL);
	cr_assert_null(at_context_current(at_thread_get()),
		       "stale entry skipped");
	at_span_start(&c, "c", 1, AT_KIND_INTERNAL);
	cr_assert_eq(c.h.has_parent, 0);
	at_span_end(&c);
}

Test(span, environment_parent)
{
	struct at_span_context env = { .flags = AT_FLAG_SAMPLED };
	struct at_span a;
	size_t len;

	memset(env.trace_id, 0xab, 16);
	memset(env.span_id, 0xcd, 8);
	at_span_set_env_parent(&env, "k=v", 3);
	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	cr_assert_eq(memcmp(a.h.ctx.trace_id, env.trace_id, 16), 0);
	cr_assert_eq(memcmp(a.h.parent_span_id, env.span_id, 8), 0);
	cr_assert_eq(a.h.parent_is_remote, 1);
	cr_assert_eq(a.h.ctx.flags, AT_FLAG_SAMPLED, "no random flag invented");
	const char *ts = at_span_tracestate(&a, &len);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(ts, "k=v", 3), 0);
	at_span_end(&a);
	drain_ring();

	/* Unsampled parent under parentbased_always_on: propagate only. */
	env.flags = 0;
	at_span_set_env_parent(&env, NULL, 0);
	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	cr_assert_eq(a.h.state, AT_SPAN_PROPAGATING);
	cr_assert_eq(a.h.ctx.flags & AT_FLAG_SAMPLED, 0);
	at_span_end(&a);
	cr_assert_null(next_record(), "unsampled spans are not enqueued");
}

Test(span, explicit_remote_parent_and_root)
{
	struct at_span outer, s, root;
	struct at_span_context p = { .flags = 0x03 };

	memset(p.trace_id, 0x11, 16);
	memset(p.span_id, 0x22, 8);
	at_span_start(&outer, "outer", 5, AT_KIND_INTERNAL);
	at_span_start_with_parent(&s, "srv", 3, AT_KIND_SERVER, &p, "a=1", 3,
				  true);
	cr_assert_eq(memcmp(s.h.ctx.trace_id, p.trace_id, 16), 0);
	cr_assert_eq(s.h.parent_is_remote, 1);
	cr_assert_eq(s.h.ctx.flags, 0x03);
	cr_assert_eq(at_context_current(at_thread_get()), &s);
	at_span_start_with_parent(&root, "r", 1, AT_KIND_INTERNAL, NULL, NULL,
				  0, false);
	cr_assert_eq(root.h.has_parent, 0);
	cr_assert_eq(at_context_current(at_thread_get()), &s,
		     "not activated");
	at_span_end(&root);
	at_span_end(&s);
	at_span_end(&outer);
}

Test(span, always_off_costs_nothing_but_propagates)
{
	struct at_span a, b;

	at_sampler_init(&at_cfg.sampler, AT_SAMPLER_ALWAYS_OFF, 1.0);
	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	cr_assert_eq(a.h.state, AT_SPAN_PROPAGATING);
	cr_assert_not(at_id_is_zero(a.h.ctx.span_id, 8));
	cr_assert_eq(a.h.ctx.flags, AT_FLAG_RANDOM);
	at_span_set_cstr(&a, "k", "v"); /* no-op */
	at_span_start(&b, "b", 1, AT_KIND_INTERNAL);
	cr_assert_eq(memcmp(b.h.parent_span_id, a.h.ctx.span_id, 8), 0);
	at_span_end(&b);
	at_span_end(&a);
	cr_assert_null(next_record());
}

Test(span, attributes_types_overwrite_and_limits)
{
	struct at_span a;

	at_cfg.attr_count_limit = 4;
	at_cfg.attr_value_len_limit = 5;
	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	at_span_set_cstr(&a, "s", "hello world");
	at_span_set_int(&a, "i", -42);
	at_span_set_double(&a, "d", 2.5);
	at_span_set_bool(&a, "b", true);
	at_span_set_int(&a, "i", 7);          /* overwrite, no new slot */
	at_span_set_cstr(&a, "extra", "x");   /* over the count limit */
	at_span_set_cstr(&a, "extra2", "y");
	/* "héllo": truncation must not split the 2-byte é at offset 1..2 */
	at_span_set_cstr(&a, "s", "h\xc3\xa9llo!");
	at_span_end(&a);

	const struct at_span_hdr *r = next_record();
	cr_assert_not_null(r);
	cr_assert_eq(r->n_attrs, 4);
	cr_assert_eq(r->dropped_attrs, 2);
	const struct at_attr *at = at_rec_attrs(r);
	const char *arena = at_rec_arena(r);
	cr_assert_str_eq(at[0].key, "s");
	cr_assert_eq(at[0].type, AT_ATTR_STRING);
	cr_assert_eq(at[0].v.s.len, 5);
	cr_assert_eq(memcmp(arena + at[0].v.s.off, "h\xc3\xa9ll", 5), 0);
	cr_assert_eq(at[1].v.i, 7);
	cr_assert_eq(at[2].type, AT_ATTR_DOUBLE);
	cr_assert_eq(at[2].v.d, 2.5);
	cr_assert_eq(at[3].v.b, 1);
	cr_assert_eq(r->rec_size % 8, 0);
}

/* 32 keys (their bits in the span's key set collide), each set twice:
 * one slot per key, the last value; string values of every length from 0
 * to 40 (each way of copying a short string), byte for byte. */
Test(span, many_keys_overwrite_and_every_short_length)
{
	static const char *const keys[AT_SPAN_MAX_ATTRS] = {
		"k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07",
		"k08", "k09", "k10", "k11", "k12", "k13", "k14", "k15",
		"k16", "k17", "k18", "k19", "k20", "k21", "k22", "k23",
		"k24", "k25", "k26", "k27", "k28", "k29", "k30", "k31",
	};
	char val[64];
	struct at_span a;

	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (char)('A' + i % 26);
	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < AT_SPAN_MAX_ATTRS; i++)
			at_span_set_str(&a, keys[i], val + round,
					(size_t)(i + round * 9) % 41);
	at_span_end(&a);

	const struct at_span_hdr *r = next_record();
	cr_assert_not_null(r);
	cr_assert_eq(r->n_attrs, AT_SPAN_MAX_ATTRS);
	cr_assert_eq(r->dropped_attrs, 0);
	const struct at_attr *at = at_rec_attrs(r);
	const char *arena = at_rec_arena(r);
	for (int i = 0; i < AT_SPAN_MAX_ATTRS; i++) {
		size_t len = (size_t)(i + 9) % 41;

		cr_assert_eq(at[i].key, keys[i]);
		cr_assert_eq(at[i].v.s.len, len, "key %d", i);
		cr_assert_eq(memcmp(arena + at[i].v.s.off, val + 1, len), 0,
			     "key %d", i);
	}
}

Test(span, utf8_truncation_backs_off)
{
	struct at_span a;

	at_cfg.attr_value_len_limit = 2;
	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	at_span_set_cstr(&a, "s", "h\xc3\xa9"); /* 'h' + 2-byte char */
	at_span_end(&a);
	const struct at_span_hdr *r = next_record();
	cr_assert_eq(at_rec_attrs(r)[0].v.s.len, 1, "cut before the é");
}

Test(span, arena_overflow_truncates)
{
	struct at_span a;
	static char big[3000];

	memset(big, 'x', sizeof(big));
	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	at_span_set_str(&a, "big", big, sizeof(big));
	at_span_set_cstr(&a, "after", "y");
	at_span_end(&a);
	const struct at_span_hdr *r = next_record();
	cr_assert_eq(r->n_attrs, 2);
	cr_assert_eq(at_rec_attrs(r)[0].v.s.len, AT_SPAN_ARENA - 1);
	cr_assert_eq(at_rec_attrs(r)[1].v.s.len, 0, "no room left");
}

Test(span, status_rules)
{
	struct at_span a;

	at_span_start(&a, "a", 1, AT_KIND_INTERNAL);
	at_span_set_status(&a, AT_STATUS_ERROR, "boom", 4);
	cr_assert_eq(a.h.status_code, AT_STATUS_ERROR);
	at_span_set_status(&a, AT_STATUS_UNSET, NULL, 0);
	cr_assert_eq(a.h.status_code, AT_STATUS_ERROR, "unset is ignored");
	at_span_set_status(&a, AT_STATUS_OK, "ignored", 7);
	cr_assert_eq(a.h.status_code, AT_STATUS_OK);
	cr_assert_eq(a.h.status_message.len, 0, "no message with OK");
	at_span_set_status(&a, AT_STATUS_ERROR, "late", 4);
	cr_assert_eq(a.h.status_code, AT_STATUS_OK, "OK is final");
	at_span_end(&a);
}

Test(span, errno_events_and_record_roundtrip)
{
	struct at_span a;

	at_cfg.event_count_limit = 2;
	at_span_start(&a, "op", 2, AT_KIND_CLIENT);
	at_span_set_errno(&a, 111 /* ECONNREFUSED */);
	at_span_add_event(&a, "exception", "exception.type", "E1", 2,
			  "exception.message", "first", 5);
	at_span_add_event(&a, "second", NULL, NULL, 0, NULL, NULL, 0);
	at_span_add_event(&a, "third", NULL, NULL, 0, NULL, NULL, 0);
	at_span_end(&a);

	const struct at_span_hdr *r = next_record();
	const char *arena = at_rec_arena(r);
	cr_assert_eq(r->status_code, AT_STATUS_ERROR);
	cr_assert_eq(memcmp(arena + r->status_message.off, "Connection refused",
			    r->status_message.len),
		     0);
	cr_assert_str_eq(at_rec_attrs(r)[0].key, "error.type");
	cr_assert_eq(memcmp(arena + at_rec_attrs(r)[0].v.s.off, "ECONNREFUSED",
			    12),
		     0);
	cr_assert_eq(r->n_events, 2);
	cr_assert_eq(r->dropped_events, 1);
	const struct at_event *ev = at_rec_events(r);
	cr_assert_str_eq(ev[0].name, "exception");
	cr_assert_eq(ev[0].n_attrs, 2);
	cr_assert_str_eq(at_rec_ev_attrs(r)[ev[0].first_attr + 1].key,
			 "exception.message");
	cr_assert_geq(ev[0].time_unix_ns, r->start_unix_ns);
	cr_assert_leq(ev[0].time_unix_ns, r->end_unix_ns);
	cr_assert_str_eq(ev[1].name, "second");
}

Test(span, deep_nesting_counts_overflow)
{
	struct at_span s[AT_STACK_DEPTH + 4];

	for (int i = 0; i < AT_STACK_DEPTH + 4; i++)
		at_span_start(&s[i], "n", 1, AT_KIND_INTERNAL);
	/* The spans past the depth are children of the deepest one that
	 * could be pushed, and are not active themselves. */
	cr_assert_eq(memcmp(s[AT_STACK_DEPTH + 3].h.parent_span_id,
			    s[AT_STACK_DEPTH - 1].h.ctx.span_id, 8),
		     0);
	cr_assert_geq(atomic_load(&at_thread_get()->stats.dropped_depth), 4);
	for (int i = AT_STACK_DEPTH + 3; i >= 0; i--)
		at_span_end(&s[i]);
	cr_assert_null(at_context_current(at_thread_get()));
}

Test(span, ids_unique_and_nonzero)
{
	struct at_rng r;
	uint8_t seen[1000][8];

	at_rng_seed(&r);
	for (int i = 0; i < 1000; i++) {
		at_id_span(&r, seen[i]);
		cr_assert_not(at_id_is_zero(seen[i], 8));
		for (int j = 0; j < i; j++)
			cr_assert_neq(memcmp(seen[i], seen[j], 8), 0);
	}
	/* An all-zero generator state is repaired by seeding. */
	memset(&r, 0, sizeof(r));
	uint8_t t[16];
	r.s[0] = 1;
	at_id_trace(&r, t);
	cr_assert_not(at_id_is_zero(t, 16));
}
