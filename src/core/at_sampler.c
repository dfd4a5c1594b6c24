/*
 * at_sampler.c - the samplers selectable with OTEL_TRACES_SAMPLER.
 *
 * Design
 * ------
 * A sampler is a small value (kind + precomputed threshold) initialised
 * once from the configuration and then only read, so deciding needs no
 * lock, no allocation and no floating point on the hot path.
 *
 * traceidratio: the decision is a pure function of the trace id, so every
 * process that sees the same trace decides the same way.  The key is the
 * last 8 bytes of the trace id read as a big-endian unsigned 64-bit
 * integer, shifted right by one (a 63-bit value); the span is sampled iff
 * key < ratio * 2^63.  A ratio of 1 or more samples everything (the
 * ratio_all flag; this also keeps the double-to-integer conversion below
 * 2^63, where it is well defined), a ratio of 0 or less (or NaN) gives a
 * threshold of 0 and samples nothing.
 *
 * parentbased_*: when there is a parent (local or remote) its sampled flag
 * is followed; a root span is delegated to the named root sampler.
 *
 * The decision itself (at_sampler_decide) is inline in at_sampler.h: it
 * runs for every span.  This file sets a sampler up and names it.
 */
#include <stddef.h>
#include <stdint.h>

#include "at_compat.h"
#include "at_sampler.h"

/* 2^63 as a double: exactly representable. */
#define TWO_POW_63 9223372036854775808.0

void at_sampler_init(struct at_sampler *s, enum at_sampler_kind kind,
		     double ratio)
{
	s->kind = kind;
	s->threshold = 0;
	s->ratio_all = 0;
	/* "!(ratio > 0)" also catches NaN. */
	if (!(ratio > 0.0))
		return;
	if (ratio >= 1.0) {
		s->ratio_all = 1;
		s->threshold = UINT64_MAX;
		return;
	}
	/* ratio < 1, so the product is < 2^63 and fits. */
	s->threshold = (uint64_t)(ratio * TWO_POW_63);
}

const char *at_sampler_name(enum at_sampler_kind kind)
{
	switch (kind) {
	case AT_SAMPLER_ALWAYS_ON:
		return "always_on";
	case AT_SAMPLER_ALWAYS_OFF:
		return "always_off";
	case AT_SAMPLER_TRACEIDRATIO:
		return "traceidratio";
	case AT_SAMPLER_PARENTBASED_ALWAYS_ON:
		return "parentbased_always_on";
	case AT_SAMPLER_PARENTBASED_ALWAYS_OFF:
		return "parentbased_always_off";
	case AT_SAMPLER_PARENTBASED_TRACEIDRATIO:
		return "parentbased_traceidratio";
	}
	return "unknown";
}
