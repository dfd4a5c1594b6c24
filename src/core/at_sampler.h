/*
 * at_sampler.h - the OpenTelemetry samplers selectable with
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG.
 *
 * The ratio decision derives from the trace id only (the lower 8 bytes,
 * big-endian, shifted right by one, compared with ratio * 2^63 - the rule
 * the Go and Java SDKs use), so every process of one trace decides alike.
 * Parent-based samplers follow the parent's sampled flag, local or remote.
 */
#ifndef AT_SAMPLER_H
#define AT_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

enum at_sampler_kind {
	AT_SAMPLER_ALWAYS_ON = 0,
	AT_SAMPLER_ALWAYS_OFF,
	AT_SAMPLER_TRACEIDRATIO,
	AT_SAMPLER_PARENTBASED_ALWAYS_ON,
	AT_SAMPLER_PARENTBASED_ALWAYS_OFF,
	AT_SAMPLER_PARENTBASED_TRACEIDRATIO,
};

struct at_sampler {
	enum at_sampler_kind kind;
	uint64_t threshold; /* ratio samplers: sample iff key < threshold */
	int ratio_all;      /* ratio >= 1: sample everything */
};

/* ratio is clamped to [0, 1]. */
void at_sampler_init(struct at_sampler *s, enum at_sampler_kind kind,
		     double ratio);

/* Name of a sampler kind as the environment variable spells it. */
const char *at_sampler_name(enum at_sampler_kind kind);

/*
 * Decide for a new span.  has_parent: there is a valid parent context
 * (local or remote); parent_sampled: its sampled flag.
 * Returns 1 to record and export the span, 0 to only propagate it.
 */
static inline int at_sampler_ratio_decide(const struct at_sampler *s,
					  const uint8_t trace_id[16])
{
	uint64_t key = 0;

	if (s->ratio_all)
		return 1;
	if (trace_id == NULL)
		return 0;
	for (int i = 8; i < 16; i++)
		key = (key << 8) | trace_id[i];
	return (key >> 1) < s->threshold;
}

/* Inline: it is on every span's path. */
static inline int at_sampler_decide(const struct at_sampler *s,
				    const uint8_t trace_id[16],
				    int has_parent, int parent_sampled)
{
	if (s == NULL)
		return has_parent ? !!parent_sampled : 1;
	switch (s->kind) {
	case AT_SAMPLER_ALWAYS_ON:
		return 1;
	case AT_SAMPLER_ALWAYS_OFF:
		return 0;
	case AT_SAMPLER_TRACEIDRATIO:
		return at_sampler_ratio_decide(s, trace_id);
	case AT_SAMPLER_PARENTBASED_ALWAYS_ON:
		return has_parent ? !!parent_sampled : 1;
	case AT_SAMPLER_PARENTBASED_ALWAYS_OFF:
		return has_parent ? !!parent_sampled : 0;
	case AT_SAMPLER_PARENTBASED_TRACEIDRATIO:
		return has_parent ? !!parent_sampled :
				    at_sampler_ratio_decide(s, trace_id);
	}
	/* An out-of-range kind: behave like the default sampler. */
	return has_parent ? !!parent_sampled : 1;
}

#endif
