/* Unit tests of trace and span ids (src/core/at_id.c): never all-zero
 * even when the generator yields zeros, a sane distribution, no repeats,
 * and seeds that differ between generators. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "at_id.h"

/* xoshiro256** yields 0 exactly when s[1] is 0. */
Test(id, span_id_skips_a_zero_output)
{
	struct at_rng r = { { 0x1234, 0, 0x5678, 0x9abc } }, copy = r;
	uint8_t id[8];
	uint64_t want, got;

	cr_assert_eq(at_rng_next(&copy), 0, "the first output is zero");
	want = at_rng_next(&copy);
	cr_assert_neq(want, 0);
	at_id_span(&r, id);
	memcpy(&got, id, 8);
	cr_assert_eq(got, want, "the zero was skipped, the next one taken");
}

/* State {k, 0, k, z}: the first two outputs are both zero. */
Test(id, trace_id_skips_a_zero_pair)
{
	struct at_rng r = { { 0x77, 0, 0x77, 0x4242 } }, copy = r;
	uint8_t id[16], want[16];
	uint64_t a, b;

	cr_assert_eq(at_rng_next(&copy), 0);
	cr_assert_eq(at_rng_next(&copy), 0, "two zero outputs in a row");
	a = at_rng_next(&copy);
	b = at_rng_next(&copy);
	cr_assert_neq(a | b, 0);
	memcpy(want, &a, 8);
	memcpy(want + 8, &b, 8);
	at_id_trace(&r, id);
	cr_assert_eq(memcmp(id, want, 16), 0);
}

Test(id, seeded_state_is_never_all_zero)
{
	for (int i = 0; i < 100; i++) {
		struct at_rng r;
		memset(&r, 0, sizeof(r));
		at_rng_seed(&r);
		cr_assert_neq(r.s[0] | r.s[1] | r.s[2] | r.s[3], 0);
	}
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

#define N_IDS 200000

/* Each bit of a span id is set in about half of the ids (binomial:
 * sd = 0.11% here; the bound is 9 sd), and no id repeats. */
Test(id, bits_are_balanced_and_ids_unique)
{
	static uint64_t ids[N_IDS];
	unsigned ones[64] = { 0 };
	struct at_rng r;

	at_rng_seed(&r);
	for (int i = 0; i < N_IDS; i++) {
		uint8_t b[8];
		at_id_span(&r, b);
		memcpy(&ids[i], b, 8);
		cr_assert_neq(ids[i], 0);
		for (int k = 0; k < 64; k++)
			ones[k] += (unsigned)(ids[i] >> k) & 1;
	}
	for (int k = 0; k < 64; k++)
		cr_assert(ones[k] > N_IDS * 49 / 100 &&
				  ones[k] < N_IDS * 51 / 100,
			  "bit %d set in %u of %d ids", k, ones[k], N_IDS);
	qsort(ids, N_IDS, sizeof(ids[0]), cmp64);
	for (int i = 1; i < N_IDS; i++)
		cr_assert_neq(ids[i], ids[i - 1], "a repeated id");
}

Test(id, two_seeds_two_sequences)
{
	struct at_rng a, b;
	uint8_t x[16], y[16];

	at_rng_seed(&a);
	at_rng_seed(&b);
	cr_assert_neq(memcmp(a.s, b.s, sizeof(a.s)), 0);
	at_id_trace(&a, x);
	at_id_trace(&b, y);
	cr_assert_neq(memcmp(x, y, 16), 0);
}
