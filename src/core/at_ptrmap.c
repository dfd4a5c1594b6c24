/*
 * at_ptrmap.c - pointer-keyed lock-free map (see at_ptrmap.h).
 *
 * A slot's key goes NULL -> key -> TOMBSTONE (-> key again); its value is
 * stored after the key and cleared before the tombstone, so a reader that
 * finds the key with a NULL value treats it as absent.
 */
#include <stddef.h>
#include <stdint.h>

#include "at_ptrmap.h"

#define TOMBSTONE ((const void *)1)
#define MASK (AT_PTRMAP_SLOTS - 1)

static unsigned slot_of(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;

	x ^= x >> 17;
	x *= 0x9e3779b97f4a7c15ull;
	return (unsigned)(x >> 40) & MASK;
}

void *at_ptrmap_get(struct at_ptrmap *m, const void *key)
{
	unsigned i = slot_of(key);

	for (unsigned n = 0; n < AT_PTRMAP_SLOTS; n++, i = (i + 1) & MASK) {
		const void *k = atomic_load(&m->keys[i]);
		if (k == key)
			return atomic_load(&m->vals[i]);
		if (k == NULL)
			return NULL;
	}
	return NULL;
}

int at_ptrmap_put(struct at_ptrmap *m, const void *key, void *val)
{
	unsigned i = slot_of(key), tomb = AT_PTRMAP_SLOTS, at = AT_PTRMAP_SLOTS;
	const void *expected;

	for (unsigned n = 0; n < AT_PTRMAP_SLOTS; n++, i = (i + 1) & MASK) {
		const void *k = atomic_load(&m->keys[i]);
		if (k == key) {
			atomic_store(&m->vals[i], val);
			return 0;
		}
		if (k == TOMBSTONE && tomb == AT_PTRMAP_SLOTS)
			tomb = i;
		if (k == NULL) {
			at = i;
			break;
		}
	}
	/* Absent: the first tombstone on the way, else the empty slot. */
	if (tomb != AT_PTRMAP_SLOTS) {
		at = tomb;
		expected = TOMBSTONE;
	} else if (at != AT_PTRMAP_SLOTS) {
		expected = NULL;
	} else {
		return -1; /* full */
	}
	if (!atomic_compare_exchange_strong(&m->keys[at], &expected, key))
		return -1;
	atomic_store(&m->vals[at], val);
	return 0;
}

void *at_ptrmap_del(struct at_ptrmap *m, const void *key)
{
	unsigned i = slot_of(key);

	for (unsigned n = 0; n < AT_PTRMAP_SLOTS; n++, i = (i + 1) & MASK) {
		const void *k = atomic_load(&m->keys[i]);
		if (k == key) {
			void *v = atomic_exchange(&m->vals[i], NULL);
			atomic_store(&m->keys[i], TOMBSTONE);
			return v;
		}
		if (k == NULL)
			return NULL;
	}
	return NULL;
}
