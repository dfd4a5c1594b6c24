/*
 * test_sampler.c - the OTEL_TRACES_SAMPLER samplers.
 *
 * The ratio tests use a fixed-seed splitmix64 generator, so the observed
 * fraction is the same on every run (no timing or randomness involved).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "at_sampler.h"

static uint64_t rng_state;

static uint64_t splitmix64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void random_id(uint8_t id[16])
{
	uint64_t a = splitmix64(), b = splitmix64();

	for (int i = 0; i < 8; i++) {
		id[i] = (uint8_t)(a >> (56 - 8 * i));
		id[8 + i] = (uint8_t)(b >> (56 - 8 * i));
	}
}

/* A trace id whose lower 8 bytes are v (big-endian), upper bytes 0x11. */
static void id_low(uint8_t id[16], uint64_t v)
{
	memset(id, 0x11, 8);
	for (int i = 0; i < 8; i++)
		id[8 + i] = (uint8_t)(v >> (56 - 8 * i));
}

Test(sampler, names)
{
	cr_expect_str_eq(at_sampler_name(AT_SAMPLER_ALWAYS_ON), "always_on");
	cr_expect_str_eq(at_sampler_name(AT_SAMPLER_ALWAYS_OFF), "always_off");
	cr_expect_str_eq(at_sampler_name(AT_SAMPLER_TRACEIDRATIO),
			 "traceidratio");
	cr_expect_str_eq(at_sampler_name(AT_SAMPLER_PARENTBASED_ALWAYS_ON),
			 "parentbased_always_on");
	cr_expect_str_eq(at_sampler_name(AT_SAMPLER_PARENTBASED_ALWAYS_OFF),
			 "parentbased_always_off");
	cr_expect_str_eq(at_sampler_name(AT_SAMPLER_PARENTBASED_TRACEIDRATIO),
			 "parentbased_traceidratio");
}

Test(sampler, always_on_off_ignore_parent)
{
	struct at_sampler on, off;
	uint8_t id[16];

	at_sampler_init(&on, AT_SAMPLER_ALWAYS_ON, 0.0);
	at_sampler_init(&off, AT_SAMPLER_ALWAYS_OFF, 1.0);
	rng_state = 1;
	for (int i = 0; i < 100; i++) {
		random_id(id);
		for (int hp = 0; hp <= 1; hp++) {
			for (int ps = 0; ps <= 1; ps++) {
				cr_expect_eq(at_sampler_decide(&on, id, hp, ps),
					     1);
				cr_expect_eq(at_sampler_decide(&off, id, hp,
							       ps), 0);
			}
		}
	}
}

Test(sampler, parentbased_follow_parent)
{
	static const enum at_sampler_kind kinds[] = {
		AT_SAMPLER_PARENTBASED_ALWAYS_ON,
		AT_SAMPLER_PARENTBASED_ALWAYS_OFF,
		AT_SAMPLER_PARENTBASED_TRACEIDRATIO,
	};
	struct at_sampler s;
	uint8_t id[16];

	rng_state = 2;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		at_sampler_init(&s, kinds[k], 0.5);
		for (int i = 0; i < 100; i++) {
			random_id(id);
			cr_expect_eq(at_sampler_decide(&s, id, 1, 1), 1);
			cr_expect_eq(at_sampler_decide(&s, id, 1, 0), 0);
			/* any non-zero parent_sampled means sampled */
			cr_expect_eq(at_sampler_decide(&s, id, 1, 7), 1);
		}
	}
}

Test(sampler, parentbased_root_delegates)
{
	struct at_sampler s, r;
	uint8_t id[16];

	memset(id, 0x42, sizeof(id));
	at_sampler_init(&s, AT_SAMPLER_PARENTBASED_ALWAYS_ON, 0.0);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 1);
	at_sampler_init(&s, AT_SAMPLER_PARENTBASED_ALWAYS_OFF, 1.0);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 1), 0);

	at_sampler_init(&s, AT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.3);
	at_sampler_init(&r, AT_SAMPLER_TRACEIDRATIO, 0.3);
	rng_state = 3;
	for (int i = 0; i < 1000; i++) {
		random_id(id);
		cr_expect_eq(at_sampler_decide(&s, id, 0, 1),
			     at_sampler_decide(&r, id, 0, 1));
	}
}

Test(sampler, ratio_ignores_parent)
{
	struct at_sampler s;
	uint8_t id[16];

	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, 0.0);
	id_low(id, 0);
	cr_expect_eq(at_sampler_decide(&s, id, 1, 1), 0);
	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, 1.0);
	id_low(id, UINT64_MAX);
	cr_expect_eq(at_sampler_decide(&s, id, 1, 0), 1);
}

Test(sampler, ratio_threshold_and_clamping)
{
	struct at_sampler s;
	uint8_t id[16];

	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, 0.5);
	cr_expect_eq(s.threshold, 1ULL << 62);
	cr_expect_eq(s.ratio_all, 0);
	/* key = low >> 1; sampled iff key < 2^62 */
	id_low(id, ((1ULL << 62) - 1) << 1);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 1);
	id_low(id, (((1ULL << 62) - 1) << 1) | 1);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 1);
	id_low(id, 1ULL << 63);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 0);
	/* the upper 8 bytes play no part */
	id_low(id, 0);
	memset(id, 0xff, 8);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 1);

	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, 1.0);
	cr_expect_eq(s.ratio_all, 1);
	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, 7.0);
	cr_expect_eq(s.ratio_all, 1);
	id_low(id, UINT64_MAX);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 1);

	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, 0.0);
	cr_expect_eq(s.threshold, 0);
	id_low(id, 0);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 0);
	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, -1.0);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 0);
	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, NAN);
	cr_expect_eq(s.ratio_all, 0);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 0);

	/* ratio just below 1: everything but the top keys */
	at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, 0.999999);
	cr_expect_eq(s.ratio_all, 0);
	id_low(id, 0);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 1);
	id_low(id, UINT64_MAX);
	cr_expect_eq(at_sampler_decide(&s, id, 0, 0), 0);
}

Test(sampler, ratio_deterministic)
{
	struct at_sampler a, b;
	uint8_t id[16];

	at_sampler_init(&a, AT_SAMPLER_TRACEIDRATIO, 0.25);
	at_sampler_init(&b, AT_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.25);
	rng_state = 4;
	for (int i = 0; i < 10000; i++) {
		int first;

		random_id(id);
		first = at_sampler_decide(&a, id, 0, 0);
		for (int k = 0; k < 3; k++)
			cr_assert_eq(at_sampler_decide(&a, id, 0, 0), first);
		cr_assert_eq(at_sampler_decide(&b, id, 0, 0), first);
	}
}

Test(sampler, ratio_fraction)
{
	static const double ratios[] = { 0.25, 0.01, 0.5, 0.9 };
	struct at_sampler s;
	uint8_t id[16];
	const int n = 100000;

	for (size_t r = 0; r < sizeof(ratios) / sizeof(ratios[0]); r++) {
		int hits = 0;
		double frac;

		at_sampler_init(&s, AT_SAMPLER_TRACEIDRATIO, ratios[r]);
		rng_state = 0x5eed;
		for (int i = 0; i < n; i++) {
			random_id(id);
			hits += at_sampler_decide(&s, id, 0, 0);
		}
		frac = (double)hits / n;
		/* ~7 standard deviations for 0.25; deterministic anyway */
		cr_expect(fabs(frac - ratios[r]) < 0.01,
			  "ratio %g: observed %g", ratios[r], frac);
	}
}

Test(sampler, monotonic_in_ratio)
{
	struct at_sampler lo, hi;
	uint8_t id[16];

	/* Sampled at a low ratio implies sampled at a higher one. */
	at_sampler_init(&lo, AT_SAMPLER_TRACEIDRATIO, 0.1);
	at_sampler_init(&hi, AT_SAMPLER_TRACEIDRATIO, 0.2);
	rng_state = 5;
	for (int i = 0; i < 10000; i++) {
		random_id(id);
		if (at_sampler_decide(&lo, id, 0, 0))
			cr_assert_eq(at_sampler_decide(&hi, id, 0, 0), 1);
	}
}
