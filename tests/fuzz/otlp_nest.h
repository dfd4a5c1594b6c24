/*
 * otlp_nest.h - a hand-encoded ExportTraceServiceRequest with one span
 * whose attribute nests `levels` AnyValue { array_value { values } }
 * levels, to test the receiver's nesting limit (tests/unit/tool/test_receiver.c
 * and the seeds of tests/fuzz/fuzz_receiver.c).
 *
 * The nested value is written outside-in: every level is a prefix (two
 * tags and two lengths) and the innermost AnyValue is empty, so the
 * lengths are computed first, from the inside out, and the bytes are then
 * appended in one pass.
 */
#ifndef OTLP_NEST_H
#define OTLP_NEST_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_buf.h"

static inline size_t nest_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

/* tag, length, bytes */
static inline int nest_field(struct at_buf *b, uint8_t tag, const void *p,
			     size_t n)
{
	uint8_t head[11];

	head[0] = tag;
	if (at_buf_append(b, head, 1 + nest_varint(head + 1, n)) < 0)
		return -1;
	return at_buf_append(b, p, n);
}

/* Appends the request to out.  0, or -1 if memory ran out. */
static inline int otlp_nested_request(struct at_buf *out, size_t levels)
{
	/* any[i]: bytes of the AnyValue i levels up from the empty one;
	 * arr[i]: of the ArrayValue holding any[i - 1] */
	size_t *any = calloc(levels + 1, sizeof(*any));
	size_t *arr = calloc(levels + 1, sizeof(*arr));
	struct at_buf v = { 0 }, kv = { 0 }, span = { 0 }, ss = { 0 },
		      rs = { 0 };
	uint8_t tmp[16];
	int rc = -1;

	if (!any || !arr)
		goto out;
	for (size_t i = 1; i <= levels; i++) {
		arr[i] = 1 + nest_varint(tmp, any[i - 1]) + any[i - 1];
		any[i] = 1 + nest_varint(tmp, arr[i]) + arr[i];
	}
	for (size_t i = levels; i > 0; i--) {
		tmp[0] = 0x2a; /* AnyValue.array_value = 5 */
		if (at_buf_append(&v, tmp, 1 + nest_varint(tmp + 1, arr[i])) < 0)
			goto out;
		tmp[0] = 0x0a; /* ArrayValue.values = 1 */
		if (at_buf_append(&v, tmp, 1 + nest_varint(tmp + 1,
							   any[i - 1])) < 0)
			goto out;
	}
	memset(tmp, 0x5a, sizeof(tmp));
	if (nest_field(&kv, 0x0a, "k", 1) < 0 ||            /* key */
	    nest_field(&kv, 0x12, v.data, v.len) < 0 ||     /* value */
	    nest_field(&span, 0x0a, tmp, 16) < 0 ||         /* trace_id */
	    nest_field(&span, 0x12, tmp, 8) < 0 ||          /* span_id */
	    nest_field(&span, 0x2a, "deep", 4) < 0 ||       /* name */
	    nest_field(&span, 0x4a, kv.data, kv.len) < 0 || /* attributes */
	    nest_field(&ss, 0x12, span.data, span.len) < 0 || /* spans */
	    nest_field(&rs, 0x12, ss.data, ss.len) < 0 ||   /* scope_spans */
	    nest_field(out, 0x0a, rs.data, rs.len) < 0)     /* resource_spans */
		goto out;
	rc = 0;
out:
	free(any);
	free(arr);
	at_buf_free(&v);
	at_buf_free(&kv);
	at_buf_free(&span);
	at_buf_free(&ss);
	at_buf_free(&rs);
	return rc;
}

#endif
