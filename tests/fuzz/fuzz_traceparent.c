/*
 * fuzz_traceparent.c - libFuzzer target for at_traceparent.c, and for
 * the combination of several tracestate header fields (the HTTP head
 * parser, src/protocols/at_http_head.c, gives them to the sanitiser).
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Isrc/core -Isrc/protocols -o fuzz_traceparent \
 *         src/core/at_traceparent.c src/protocols/at_http_*.c \
 *         tests/fuzz/fuzz_traceparent.c
 *
 * The input goes to the traceparent parser and the tracestate sanitiser;
 * then, split at each LF into header field values, to the sanitiser as
 * several fields, and as "tracestate:" lines of a request head to the HTTP
 * parser.
 * Besides "no crash, no read outside the input" (AddressSanitizer), it
 * traps when one of these properties fails:
 *   - a rejected traceparent leaves the output untouched; an accepted one
 *     has non-zero ids and only known flag bits, formats to 55 lowercase
 *     characters that parse back to the same context;
 *   - the parser (ids decoded a word at a time) accepts exactly what a
 *     bytewise reading with at_hex_decode_lower() accepts, with the same
 *     ids;
 *   - the sanitised tracestate (any cap) is NUL-terminated at the
 *     returned length, within cap and AT_TRACESTATE_MAX, with no byte
 *     written from out[cap] on; -1 leaves out[0] NUL; sanitising the
 *     result again gives it back unchanged (a fixed point);
 *   - several fields give exactly what their values joined with ',' give
 *     as one field (RFC 9110 5.3: that is what combining them means);
 *   - a request head with those fields as tracestate lines, if it parses,
 *     counts them, and its tracestate is that same list (or, for one
 *     field, the field's value in the head).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_http.h"
#include "at_traceparent.h"
#include "fuzz.h"

#define MAX_FIELDS 40

/* The parser's rules read byte by byte: 0 and *ctx, or -1. */
static int reference_parse(const char *s, size_t len,
			   struct at_span_context *ctx)
{
	uint8_t version, flags;

	while (len > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len < AT_TRACEPARENT_LEN || s[2] != '-' || s[35] != '-' ||
	    s[52] != '-' || at_hex_decode_lower(s, 2, &version) != 0 ||
	    version == 0xff || (version == 0 && len != AT_TRACEPARENT_LEN) ||
	    (len > AT_TRACEPARENT_LEN && s[AT_TRACEPARENT_LEN] != '-') ||
	    at_hex_decode_lower(s + 3, 32, ctx->trace_id) != 0 ||
	    at_hex_decode_lower(s + 36, 16, ctx->span_id) != 0 ||
	    at_hex_decode_lower(s + 53, 2, &flags) != 0 ||
	    at_id_is_zero(ctx->trace_id, 16) || at_id_is_zero(ctx->span_id, 8))
		return -1;
	ctx->flags = flags & AT_FLAGS_KNOWN;
	return 0;
}

static void traceparent(const char *in, size_t len)
{
	struct at_span_context ctx, again, ref;
	char text[AT_TRACEPARENT_LEN + 1];
	int ref_rc = reference_parse(in, len, &ref);

	memset(&ctx, 0xa5, sizeof(ctx));
	if (at_traceparent_parse(in, len, &ctx) != 0) {
		CHECK(ref_rc != 0);
		for (size_t i = 0; i < sizeof(ctx); i++)
			CHECK(((uint8_t *)&ctx)[i] == 0xa5);
		return;
	}
	CHECK(ref_rc == 0 && !memcmp(&ctx, &ref, sizeof(ctx)));
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

/* The input split at LF into at most MAX_FIELDS field values; joined
 * gets them joined with ','. */
static size_t split_fields(const char *in, size_t len,
			   struct at_tracestate_part *f, char *joined,
			   size_t *joined_len)
{
	size_t n = 0, start = 0, w = 0;

	for (size_t i = 0; i <= len && n < MAX_FIELDS; i++) {
		if (i < len && in[i] != '\n')
			continue;
		f[n].p = in + start;
		f[n].len = i - start;
		if (n > 0)
			joined[w++] = ',';
		memcpy(joined + w, in + start, i - start);
		w += i - start;
		n++;
		start = i + 1;
	}
	*joined_len = w;
	return n;
}

static void combined(const char *in, size_t len)
{
	struct at_tracestate_part f[MAX_FIELDS];
	char a[AT_TRACESTATE_MAX + 1], b[AT_TRACESTATE_MAX + 1];
	char *joined = malloc(len + MAX_FIELDS + 1);
	char *head = malloc(len + MAX_FIELDS * 16 + 64);
	struct at_http_request r;
	size_t jl, n, hl;
	int ra, rb;

	if (!joined || !head)
		goto out;
	n = split_fields(in, len, f, joined, &jl);
	ra = at_tracestate_sanitize_parts(f, n, a, sizeof(a));
	rb = at_tracestate_sanitize(joined, jl, b, sizeof(b));
	CHECK(ra == rb);
	CHECK(!strcmp(a, b));

	hl = (size_t)sprintf(head, "GET / HTTP/1.1\r\n");
	for (size_t i = 0; i < n; i++) {
		memcpy(head + hl, "tracestate: ", 12);
		memcpy(head + hl + 12, f[i].p, f[i].len);
		hl += 12 + f[i].len;
		memcpy(head + hl, "\r\n", 2);
		hl += 2;
	}
	memcpy(head + hl, "\r\n", 2);
	hl += 2;
	if (at_http_parse_request(head, hl, &r) != 0)
		goto out;
	CHECK(r.n_tracestate == (int)n);
	if (n == 1) {
		CHECK(r.tracestate.p >= head && r.tracestate.p <= head + hl);
		goto out;
	}
	if (ra < 0) {
		CHECK(r.tracestate.p == NULL);
	} else {
		CHECK(r.tracestate.p == r.tracestate_buf);
		CHECK(r.tracestate.len == (size_t)ra);
		CHECK(!memcmp(r.tracestate.p, a, (size_t)ra + 1));
	}
out:
	free(joined);
	free(head);
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
	combined(in, size);
	free(in);
	return 0;
}
