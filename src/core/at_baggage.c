/*
 * at_baggage.c - the table of baggage lists (at_baggage.h has the
 * design).
 *
 * A slot's generation is even while it holds a list and odd while it is
 * being written or free; a reference holds the even value it was given.
 * A reader loads the generation (acquire), copies, and loads it again
 * after a fence: equal to the reference both times means the copy is
 * the list the reference was made for.
 */
#include "at_baggage.h"

#include <stdbool.h>
#include <string.h>

#include "at_propagators.h"

struct slot {
	_Atomic uint32_t gen;
	_Atomic bool used;
	uint16_t len;
	char data[AT_BAGGAGE_MAX + 1];
};

static struct slot slots[AT_BAGGAGE_SLOTS];
static struct slot env_slot;
_Atomic uint64_t at_baggage_dropped;

static struct slot *slot_of(uint8_t n)
{
	if (n == AT_BAGGAGE_ENV_SLOT)
		return &env_slot;
	if (n == 0 || n > AT_BAGGAGE_SLOTS)
		return NULL;
	return &slots[n - 1];
}

static struct at_baggage_ref fill(struct slot *s, uint8_t n, const char *bag,
				  size_t len)
{
	struct at_baggage_ref ref;
	uint32_t g = atomic_load_explicit(&s->gen, memory_order_relaxed);

	if (!(g & 1)) /* a slot never used starts even: make it odd */
		atomic_store_explicit(&s->gen, ++g, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(s->data, bag, len);
	s->len = (uint16_t)len;
	ref.slot = n;
	ref.gen = g + 1;
	atomic_store_explicit(&s->gen, ref.gen, memory_order_release);
	return ref;
}

/* A free slot, taken (its number), or 0 (counted). */
static int take_slot(void)
{
	for (int i = 0; i < AT_BAGGAGE_SLOTS; i++) {
		bool expect = false;

		if (!atomic_load_explicit(&slots[i].used, memory_order_relaxed) &&
		    atomic_compare_exchange_strong(&slots[i].used, &expect, true))
			return i + 1;
	}
	atomic_fetch_add_explicit(&at_baggage_dropped, 1, memory_order_relaxed);
	return 0;
}

struct at_baggage_ref at_baggage_store(const char *bag, size_t len)
{
	struct at_baggage_ref none = { 0, 0 };
	int n;

	if (len == 0 || len > AT_BAGGAGE_MAX || !(n = take_slot()))
		return none;
	return fill(&slots[n - 1], (uint8_t)n, bag, len);
}

struct at_baggage_ref at_baggage_store_fields(const struct at_prop_str *fields,
					      size_t n)
{
	struct at_baggage_ref none = { 0, 0 };
	struct slot *s;
	uint32_t g;
	int k, len;

	if (n == 0 || !(k = take_slot()))
		return none;
	/* Sanitized straight into the slot, which no reference names yet
	 * (its generation is odd while it is free). */
	s = &slots[k - 1];
	g = atomic_load_explicit(&s->gen, memory_order_relaxed);
	if (!(g & 1))
		atomic_store_explicit(&s->gen, ++g, memory_order_relaxed);
	len = at_baggage_sanitize_parts(fields, n, s->data, sizeof(s->data));
	if (len <= 0) {
		atomic_store_explicit(&s->used, false, memory_order_release);
		return none;
	}
	s->len = (uint16_t)len;
	atomic_store_explicit(&s->gen, g + 1, memory_order_release);
	return (struct at_baggage_ref){ (uint8_t)k, g + 1 };
}

void at_baggage_release(struct at_baggage_ref ref)
{
	struct slot *s = slot_of(ref.slot);
	uint32_t g = ref.gen;

	if (!s || s == &env_slot)
		return;
	/* Only the owner's reference frees it, once. */
	if (atomic_compare_exchange_strong(&s->gen, &g, ref.gen + 1))
		atomic_store_explicit(&s->used, false, memory_order_release);
}

int at_baggage_copy(struct at_baggage_ref ref, char *out, size_t cap)
{
	struct slot *s = slot_of(ref.slot);
	size_t len;

	if (!s || cap == 0 ||
	    atomic_load_explicit(&s->gen, memory_order_acquire) != ref.gen)
		return -1;
	len = s->len;
	if (len >= cap)
		return -1;
	memcpy(out, s->data, len);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->gen, memory_order_relaxed) != ref.gen)
		return -1;
	out[len] = 0;
	return (int)len;
}

struct at_baggage_ref at_baggage_set_env(const char *bag, size_t len)
{
	struct at_baggage_ref none = { 0, 0 };

	if (len == 0 || len > AT_BAGGAGE_MAX)
		return none;
	return fill(&env_slot, AT_BAGGAGE_ENV_SLOT, bag, len);
}

int at_baggage_value(struct at_baggage_ref ref, const char *key, char *val,
		     size_t cap)
{
	struct slot *s = slot_of(ref.slot);
	int n;

	if (!s || cap == 0 ||
	    atomic_load_explicit(&s->gen, memory_order_acquire) != ref.gen)
		return -1;
	n = at_baggage_get(s->data, s->len, key, val, cap);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->gen, memory_order_relaxed) != ref.gen) {
		val[0] = 0;
		return -1;
	}
	return n;
}
