/*
 * at_id.h - trace and span ids: a per-thread xoshiro256** generator seeded
 * from getrandom(2) (reseeded in a fork child, so parent and child never
 * share a sequence).  Ids are never all-zero.
 */
#ifndef AT_ID_H
#define AT_ID_H

#include <stdint.h>
#include <string.h>

struct at_rng {
	uint64_t s[4];
};

/* Seed from getrandom; falls back to clock, pid and addresses. */
void at_rng_seed(struct at_rng *r);

static inline uint64_t at_rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t at_rng_next(struct at_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = at_rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = at_rotl64(s[3], 45);
	return result;
}

/* Inline: they are on every span's path. */
static inline void at_id_trace(struct at_rng *r, uint8_t out[16])
{
	uint64_t a, b;

	do {
		a = at_rng_next(r);
		b = at_rng_next(r);
	} while (__builtin_expect((a | b) == 0, 0));
	memcpy(out, &a, 8);
	memcpy(out + 8, &b, 8);
}

static inline void at_id_span(struct at_rng *r, uint8_t out[8])
{
	uint64_t a;

	do
		a = at_rng_next(r);
	while (__builtin_expect(a == 0, 0));
	memcpy(out, &a, 8);
}

/*
 * A span's ids in one go: with root, a trace id first (into trace), then
 * the span id (the same sequence as at_id_trace() then at_id_span()).
 * The generator's state is worked on in a local copy, loaded and stored
 * once: the ids' byte stores may alias it, which made the compiler store
 * and reload it around each of them.
 */
static inline void at_id_make(struct at_rng *r, int root, uint8_t trace[16],
			      uint8_t span[8])
{
	struct at_rng x = *r;
	uint64_t a = 0, b = 0, c;

	if (root) {
		do {
			a = at_rng_next(&x);
			b = at_rng_next(&x);
		} while (__builtin_expect((a | b) == 0, 0));
	}
	do
		c = at_rng_next(&x);
	while (__builtin_expect(c == 0, 0));
	*r = x;
	if (root) {
		memcpy(trace, &a, 8);
		memcpy(trace + 8, &b, 8);
	}
	memcpy(span, &c, 8);
}

#endif
