/*
 * fuzz_propagators.c - libFuzzer target for at_propagators.c.
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Isrc/core -o fuzz_propagators src/core/at_propagators.c \
 *         src/core/at_traceparent.c tests/fuzz/fuzz_propagators.c
 *
 * The input goes to every parser of the module: B3 single, B3 multiple
 * (the input cut in four fields at its first three NUL bytes), Jaeger,
 * W3C Baggage (at several capacities), the baggage lookup, and the
 * OTEL_PROPAGATORS list.  Besides "no crash, no read outside the input",
 * it traps when one of these properties fails:
 *   - a rejected value leaves the context untouched; an accepted one has
 *     non-zero ids and only the sampled flag, and formats to a value
 *     that parses back to the same context;
 *   - the sanitised baggage is NUL-terminated at the returned length,
 *     within cap and AT_BAGGAGE_MAX, nothing written from out[cap] on,
 *     -1 leaves out[0] NUL, and sanitising the result again gives it
 *     back unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_propagators.h"
#include "fuzz.h"

static void accepted(const struct at_span_context *c)
{
	struct at_span_context again;
	char b3[AT_B3_LEN + 1], jg[AT_JAEGER_LEN + 1];

	CHECK(!at_id_is_zero(c->trace_id, 16));
	CHECK(!at_id_is_zero(c->span_id, 8));
	CHECK((c->flags & ~AT_FLAG_SAMPLED) == 0);
	CHECK(at_b3_format(c, b3) == AT_B3_LEN && b3[AT_B3_LEN] == 0);
	CHECK(at_b3_parse(b3, AT_B3_LEN, &again) == 0);
	CHECK(!memcmp(c, &again, sizeof(again)));
	CHECK(at_jaeger_format(c, jg) == AT_JAEGER_LEN && jg[AT_JAEGER_LEN] == 0);
	CHECK(at_jaeger_parse(jg, AT_JAEGER_LEN, &again) == 0);
	CHECK(!memcmp(c, &again, sizeof(again)));
}

static void context(int r, const struct at_span_context *c)
{
	if (r == 0) {
		accepted(c);
		return;
	}
	CHECK(r == -1);
	for (size_t i = 0; i < sizeof(*c); i++)
		CHECK(((const uint8_t *)c)[i] == 0xa5);
}

static void baggage(const char *in, size_t len, size_t cap)
{
	static char out[AT_BAGGAGE_MAX + 64], again[AT_BAGGAGE_MAX + 64];
	char val[64];
	int r;

	memset(out, 0x5a, sizeof(out));
	r = at_baggage_sanitize(in, len, out, cap);
	for (size_t i = cap; i < sizeof(out); i++)
		CHECK(out[i] == 0x5a);
	if (r < 0) {
		CHECK(r == -1 && out[0] == '\0');
		return;
	}
	CHECK((size_t)r < cap && r <= AT_BAGGAGE_MAX);
	CHECK(out[r] == '\0' && strlen(out) == (size_t)r);
	CHECK(at_baggage_sanitize(out, (size_t)r, again, sizeof(again)) == r);
	CHECK(!memcmp(out, again, (size_t)r + 1));
	r = at_baggage_get(out, (size_t)r, "k", val, sizeof(val));
	CHECK(r < (int)sizeof(val) && (r < 0 || val[r] == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy exactly the input's size: reads past it are caught. */
	char *in = malloc(size ? size : 1);
	static const size_t caps[] = { 1, 2, 17, 129, AT_BAGGAGE_MAX + 1,
				       AT_BAGGAGE_MAX + 64 };
	const char *f[4] = { NULL, NULL, NULL, NULL };
	size_t fl[4] = { 0 };
	struct at_span_context c;
	unsigned mask;
	uint8_t order[AT_PROP_MAX];
	int n, k = 0;

	if (!in)
		return 0;
	memcpy(in, data, size);
	memset(&c, 0xa5, sizeof(c));
	context(at_b3_parse(in, size, &c), &c);
	memset(&c, 0xa5, sizeof(c));
	context(at_jaeger_parse(in, size, &c), &c);
	/* B3 multiple headers: fields split at NUL bytes. */
	f[0] = in;
	for (size_t i = 0; i <= size; i++)
		if (i == size || (in[i] == 0 && k < 3)) {
			fl[k] = (size_t)(in + i - f[k]);
			if (i == size)
				break;
			f[++k] = in + i + 1;
		}
	memset(&c, 0xa5, sizeof(c));
	context(at_b3multi_parse(f[0], fl[0], f[1], fl[1], f[2], fl[2], f[3],
				 fl[3], &c), &c);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		baggage(in, size, caps[i]);
	if (size && memchr(in, 0, size) == NULL) {
		char *z = malloc(size + 1);

		if (z) {
			memcpy(z, in, size);
			z[size] = 0;
			if (at_propagators_parse(z, &mask, order, &n, NULL, NULL) == 0)
				CHECK(n >= 0 && n <= AT_PROP_MAX);
			free(z);
		}
	}
	free(in);
	return 0;
}
