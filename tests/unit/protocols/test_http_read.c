/*
 * test_http_read.c - what the transport and the receiver read bodies and
 * fields with: the chunked decoder over at_http_body_feed()
 * (at_http_chunked.c: data, limits, any split), the field walk
 * (at_http_fields.c), and gzip both ways (at_gzip.c: capped gunzip).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "at_gzip.h"
#include "at_http.h"
#include "at_http_chunked.h"
#include "at_http_fields.h"

struct decoded {
	char data[256];
	size_t len, used;
	int verdict;
	uint64_t sizes[8]; /* AT_CHUNKS_SIZE events, in order */
	int n_sizes;
};

/* Decode s fed in pieces of `step` bytes (0: all at once). */
static void decode(const char *s, size_t step, uint64_t max,
		   size_t line_max, size_t trailer_max, struct decoded *d)
{
	struct at_http_chunks c;
	struct at_http_str data;
	size_t n = strlen(s), avail = step ? 0 : n, used;
	int ev;

	memset(d, 0, sizeof(*d));
	at_http_chunks_init(&c, max, line_max, trailer_max);
	for (;;) {
		ev = at_http_chunks_next(&c, s + d->used, avail - d->used,
					 &used, &data);
		d->used += used;
		if (ev == AT_CHUNKS_DATA) {
			cr_assert_leq(d->len + data.len, sizeof(d->data));
			memcpy(d->data + d->len, data.p, data.len);
			d->len += data.len;
		} else if (ev == AT_CHUNKS_SIZE) {
			cr_assert_lt(d->n_sizes, 8);
			d->sizes[d->n_sizes++] = c.body.remaining;
		} else if (ev == AT_CHUNKS_MORE && avail < n) {
			avail = avail + step > n ? n : avail + step;
		} else {
			break;
		}
	}
	d->verdict = ev;
}

static const char body3[] = "5\r\nhello\r\n3;a=b;q=\"x\\\"y\"\r\n, w\r\n"
			    "0\r\nX-Trailer: 1\r\n\r\nNEXT";

Test(http_read, chunks_give_the_data_in_any_split)
{
	struct decoded whole, split;

	decode(body3, 0, 1000, 4096, 4096, &whole);
	cr_assert_eq(whole.verdict, AT_CHUNKS_DONE);
	cr_assert_eq(whole.len, 8);
	cr_assert_eq(memcmp(whole.data, "hello, w", 8), 0);
	cr_assert_eq(whole.used, strlen(body3) - 4, "stops before NEXT");
	cr_assert_eq(whole.n_sizes, 2);
	cr_assert_eq(whole.sizes[0], 5);
	cr_assert_eq(whole.sizes[1], 3);
	for (size_t step = 1; step < sizeof(body3); step++) {
		decode(body3, step, 1000, 4096, 4096, &split);
		cr_assert_eq(split.verdict, whole.verdict, "step %zu", step);
		cr_assert_eq(split.used, whole.used, "step %zu", step);
		cr_assert_eq(split.len, whole.len, "step %zu", step);
		cr_assert_eq(memcmp(split.data, whole.data, whole.len), 0);
		cr_assert_eq(split.n_sizes, 2);
	}
}

Test(http_read, chunk_limits)
{
	struct decoded d;

	/* data_max: refused at the size line, before the data. */
	decode("5\r\nhello\r\n4\r\n", 0, 8, 4096, 4096, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_TOO_LARGE);
	cr_assert_eq(d.len, 5);
	decode("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", 0, 8, 4096, 4096, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_DONE);
	/* A size line of line_max bytes is fine, one more is not. */
	decode("1;ab\r\nx\r\n0\r\n\r\n", 1, 100, 5, 4096, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_DONE);
	decode("1;abc\r\nx\r\n0\r\n\r\n", 1, 100, 5, 4096, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_BAD);
	/* The trailer section. */
	decode("0\r\nA: 12\r\n\r\n", 0, 100, 4096, 9, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_DONE);
	decode("0\r\nA: 123\r\n\r\n", 0, 100, 4096, 9, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_TRAILER_LARGE);
	/* A size too large for the state machine, and bad framing. */
	decode("ffffffffffffffffff\r\n", 0, UINT64_MAX, 4096, 4096, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_BAD);
	decode("zz\r\n", 0, 100, 4096, 4096, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_BAD);
	decode("2\r\nabcd\r\n", 0, 100, 4096, 4096, &d);
	cr_assert_eq(d.verdict, AT_CHUNKS_BAD);
	/* Once ended or failed, it stays so and consumes nothing. */
	{
		struct at_http_chunks c;
		struct at_http_str data;
		size_t used;

		at_http_chunks_init(&c, 100, 10, 10);
		cr_assert_eq(at_http_chunks_next(&c, "0\r\n\r\n", 5, &used,
						 &data), AT_CHUNKS_DONE);
		cr_assert_eq(used, 5);
		cr_assert_eq(at_http_chunks_next(&c, "1\r\n", 3, &used,
						 &data), AT_CHUNKS_DONE);
		cr_assert_eq(used, 0);
	}
}

Test(http_read, field_walk)
{
	static const char head[] =
		"HTTP/1.1 503 Busy\r\nRetry-After:  7 \r\n"
		"Connection: keep-alive, Close\r\nX-Empty:\r\n\r\nbody";
	struct at_http_response r;
	struct at_http_str name, value;
	size_t end = at_http_head_end(head, strlen(head), 0), pos;
	int n = 0;

	cr_assert_eq(at_http_parse_response(head, end, &r), 0);
	pos = at_http_fields_start(head, end);
	cr_assert_eq(pos, strlen("HTTP/1.1 503 Busy\r\n"));
	while (at_http_field_next(head, end, &pos, &name, &value)) {
		if (n == 0) {
			cr_assert(at_http_eq_nocase(name.p, name.len,
						    "retry-after"));
			cr_assert_eq(value.len, 1);
			cr_assert_eq(value.p[0], '7');
		} else if (n == 1) {
			cr_assert(at_http_list_has(value.p, value.len,
						   "close"));
			cr_assert(!at_http_list_has(value.p, value.len,
						    "clos"));
		} else {
			cr_assert_eq(value.len, 0);
		}
		n++;
	}
	cr_assert_eq(n, 3);
	cr_assert_eq(end - pos, 2, "stops at the blank line");
	/* Not a field: the walk ends there. */
	pos = 0;
	cr_assert_eq(at_http_field_next("Bad Name: x\r\n", 13, &pos, &name,
					&value), 0);
	cr_assert_eq(at_http_field_next("no colon\r\n", 10, &pos, &name,
					&value), 0);
}

Test(http_read, gzip_round_trip_and_cap)
{
	struct at_buf in = { 0 }, gz = { 0 }, two = { 0 }, out = { 0 };

	for (int i = 0; i < 10000; i++)
		cr_assert_eq(at_buf_printf(&in, "span %d ", i % 7), 0);
	cr_assert_eq(at_gzip_compress(in.data, in.len, &gz), 0);
	cr_assert_lt(gz.len, in.len / 10);
	cr_assert_eq(at_gzip_decompress(gz.data, gz.len, in.len, &out), 0);
	cr_assert_eq(out.len, in.len);
	cr_assert_eq(memcmp(out.data, in.data, in.len), 0);
	/* One byte over the cap: refused, whatever the ratio. */
	at_buf_reset(&out);
	cr_assert_eq(at_gzip_decompress(gz.data, gz.len, in.len - 1, &out),
		     -2);
	/* Two members are joined; a cut one is corrupt. */
	cr_assert_eq(at_buf_append(&two, gz.data, gz.len), 0);
	cr_assert_eq(at_buf_append(&two, gz.data, gz.len), 0);
	at_buf_reset(&out);
	cr_assert_eq(at_gzip_decompress(two.data, two.len, 2 * in.len, &out),
		     0);
	cr_assert_eq(out.len, 2 * in.len);
	at_buf_reset(&out);
	cr_assert_eq(at_gzip_decompress(gz.data, gz.len - 5, in.len, &out),
		     -1);
	at_buf_reset(&out);
	cr_assert_eq(at_gzip_decompress(in.data, 100, in.len, &out), -1);
	at_buf_free(&in);
	at_buf_free(&gz);
	at_buf_free(&two);
	at_buf_free(&out);
}
