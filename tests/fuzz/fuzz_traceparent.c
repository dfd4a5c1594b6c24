/*
 * fuzz_traceparent.c - libFuzzer target for at_traceparent.c.
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Isrc/core -o fuzz_traceparent src/core/at_traceparent.c \
 *         tests/fuzz/fuzz_traceparent.c
 *
 * The input goes to the traceparent parser and the tracestate sanitiser.
 * Besides "no crash, no read outside the input" (AddressSanitizer), it
 * traps when one of these properties fails:
 *   - a rejected traceparent leaves the output untouched; an accepted one
 *     has non-zero ids and only known flag bits, formats to 55 lowercase
 *     characters that parse back to the same context;
 *   - the sanitised tracestate (any cap) is NUL-terminated at the
 *     returned length, within cap and AT_TRACESTATE_MAX, with no byte
 *     written from out[cap] on; -1 leaves out[0] NUL; sanitising the
 *     result again gives it back unchanged (a fixed point).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_traceparent.h"
#include "fuzz.h"

static void traceparent(const char *in, size_t len)
{
	struct at_span_context ctx, again;
	char text[AT_TRACEPARENT_LEN + 1];

	memset(&ctx, 0xa5, sizeof(ctx));
	if (at_traceparent_parse(in, len, &ctx) != 0) {
		for (size_t i = 0; i < sizeof(ctx); i++)
			CHECK(((uint8_t *)&ctx)[i] == 0xa5);
		return;
	}
	CHECK(!at_id_is_zero(ctx.trace_id, 16));
	CHECK(!at_id_is_zero(ctx.span_id, 8));
	CHECK((ctx.flags & ~AT_FLAGS_KNOWN) == 0);
	CHECK(at_traceparent_format(&ctx, text) == AT_TRACEPARENT_LEN);
	CHECK(text[AT_TRACEPARENT_LEN] == '\0');
	for (size_t i = 0; i < AT_TRACEPARENT_LEN; i++)
		CHECK(text[i] == '-' || (text[i] >= '0' && text[i] <= '9') ||
		      (text[i] >= 'a' && text[i] <= 'f'));
	CHECK(at_traceparent_parse(text, AT_TRACEPARENT_LEN, &again) == 0);
	CHECK(!memcmp(&ctx, &again, sizeof(ctx)));
}

static void tracestate(const char *in, size_t len, size_t cap)
{
	char out[AT_TRACESTATE_MAX + 64], again[AT_TRACESTATE_MAX + 64];
	int r;

	memset(out, 0x5a, sizeof(out));
	r = at_tracestate_sanitize(in, len, out, cap);
	for (size_t i = cap; i < sizeof(out); i++)
		CHECK(out[i] == 0x5a);
	if (r < 0) {
		CHECK(r == -1 && out[0] == '\0');
		return;
	}
	CHECK((size_t)r < cap && r <= AT_TRACESTATE_MAX);
	CHECK(out[r] == '\0' && strlen(out) == (size_t)r);
	CHECK(at_tracestate_sanitize(out, (size_t)r, again, sizeof(again)) ==
	      r);
	CHECK(!memcmp(out, again, (size_t)r + 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy exactly the input's size: reads past it are caught. */
	char *in = malloc(size ? size : 1);
	static const size_t caps[] = { 1, 2, 17, 129,
				       AT_TRACESTATE_MAX + 1,
				       AT_TRACESTATE_MAX + 64 };

	if (!in)
		return 0;
	memcpy(in, data, size);
	traceparent(in, size);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		tracestate(in, size, caps[i]);
	free(in);
	return 0;
}
