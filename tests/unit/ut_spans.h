/*
 * ut_spans.h - reading ended spans back in unit tests: copies of the
 * records in the calling thread's ring, and lookups in them.
 */
#ifndef UT_SPANS_H
#define UT_SPANS_H

#include <criterion/criterion.h>
#include <string.h>

#include "at_ring.h"
#include "at_span.h"
#include "at_thread.h"

struct rec {
	union {
		struct at_span_hdr h;
		char bytes[sizeof(struct at_span)];
	} u;
};

static inline void ut_drain_ring(void)
{
	struct at_thread *t = at_thread_get();
	while (at_ring_peek(&t->ring))
		at_ring_pop(&t->ring);
}

/* Take the ended spans out of the ring, oldest first. */
static inline int ut_take_spans(struct rec *out, int cap)
{
	struct at_thread *t = at_thread_get();
	const struct at_span_hdr *r;
	int n = 0;

	while ((r = at_ring_peek(&t->ring))) {
		cr_assert_lt(n, cap);
		cr_assert_leq(r->rec_size, sizeof(out[n].u));
		memcpy(out[n].u.bytes, r, r->rec_size);
		n++;
		at_ring_pop(&t->ring);
	}
	return n;
}

static inline const struct at_attr *ut_attr(const struct rec *r,
					    const char *key)
{
	const struct at_attr *a = at_rec_attrs(&r->u.h);

	for (int i = 0; i < r->u.h.n_attrs; i++)
		if (strcmp(a[i].key, key) == 0)
			return &a[i];
	return NULL;
}

static inline int ut_has_name(const struct rec *r, const char *name)
{
	return r->u.h.name.len == strlen(name) &&
	       memcmp(at_rec_arena(&r->u.h) + r->u.h.name.off, name,
		      r->u.h.name.len) == 0;
}

/* Is the string attribute key equal to want? */
static inline int ut_str_is(const struct rec *r, const char *key,
			    const char *want)
{
	const struct at_attr *a = ut_attr(r, key);

	return a && a->type == AT_ATTR_STRING && a->v.s.len == strlen(want) &&
	       memcmp(at_rec_arena(&r->u.h) + a->v.s.off, want, a->v.s.len) ==
		       0;
}

static inline int64_t ut_int_attr(const struct rec *r, const char *key)
{
	const struct at_attr *a = ut_attr(r, key);
	cr_assert_not_null(a, "attribute %s", key);
	return a->v.i;
}

#endif
