/*
 * fuzz_http_chunked.c - libFuzzer target for at_http_chunked.c (the chunk
 * data and limits over at_http_body_feed()) and at_http_fields.c (the
 * field walk), the parts the transport and the receiver read bodies and
 * fields with.
 *
 * The first byte picks the limits; the rest is a chunked body, and also a
 * head for the field walk.  Besides "no crash, no out-of-bounds read", it
 * checks, and traps if one fails:
 *   - the decoder gives the same events' outcome (the data bytes in
 *     order, the bytes consumed, the final verdict) whether the input is
 *     fed at once, one byte at a time, or in pieces whose sizes come from
 *     the input's own bytes;
 *   - data runs lie inside the input and never add up past data_max; an
 *     AT_CHUNKS_SIZE event leaves the whole chunk within data_max;
 *   - with limits too large to matter, it ends (DONE at the same byte)
 *     or fails exactly where at_http_body_feed() does;
 *   - a head at_http_parse_request() or _response() accepts is walked to
 *     its blank line: every name is 1+ bytes with no ':' or whitespace,
 *     every value OWS-trimmed, both inside the head.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "at_http.h"
#include "at_http_chunked.h"
#include "at_http_fields.h"
#include "fuzz.h"

struct outcome {
	char *data;         /* the data runs, joined */
	size_t len;
	size_t used;        /* bytes consumed */
	int verdict;        /* last event: MORE, DONE or an error */
};

/* Piece sizes from the input's bytes: 1..16, cycling (0: all at once). */
static size_t piece(const char *p, size_t n, size_t i, int mode)
{
	if (mode == 0)
		return n;
	if (mode == 1 || n == 0)
		return 1;
	return ((unsigned char)p[i % n] & 15) + 1;
}

static void decode(const char *p, size_t n, uint64_t max, size_t line_max,
		   size_t trailer_max, int mode, struct outcome *o)
{
	struct at_http_chunks c;
	struct at_http_str d;
	size_t avail = 0, used, k = 0;
	int ev = AT_CHUNKS_MORE;

	at_http_chunks_init(&c, max, line_max, trailer_max);
	o->data = malloc(n + 1);
	CHECK(o->data != NULL);
	o->len = 0;
	o->used = 0;
	while (avail < n || ev == AT_CHUNKS_SIZE || ev == AT_CHUNKS_DATA) {
		if (ev == AT_CHUNKS_MORE) {
			size_t step = piece(p, n, k++, mode);

			avail = n - avail < step ? n : avail + step;
		}
		ev = at_http_chunks_next(&c, p + o->used, avail - o->used,
					 &used, &d);
		CHECK(used <= avail - o->used);
		o->used += used;
		if (ev == AT_CHUNKS_DATA) {
			CHECK(d.p >= p && d.len > 0 && d.len <= n &&
			      (size_t)(d.p - p) <= n - d.len);
			memcpy(o->data + o->len, d.p, d.len);
			o->len += d.len;
			CHECK(o->len <= max);
		} else {
			CHECK(d.len == 0);
		}
		if (ev == AT_CHUNKS_SIZE)
			CHECK(c.body.remaining > 0 && c.total <= max);
		if (ev < 0 || ev == AT_CHUNKS_DONE)
			break;
	}
	o->verdict = ev;
}

static void check_decoder(const char *p, size_t n, unsigned char lim)
{
	uint64_t max = lim & 1 ? (uint64_t)(lim >> 1) * 3 : UINT64_MAX / 2;
	size_t line_max = lim & 2 ? (lim >> 2) + 1 : (size_t)-1 / 2;
	size_t trailer_max = lim & 4 ? (lim >> 3) + 1 : (size_t)-1 / 2;
	struct outcome o[3];
	int mode;

	for (mode = 0; mode < 3; mode++)
		decode(p, n, max, line_max, trailer_max, mode, &o[mode]);
	for (mode = 1; mode < 3; mode++) {
		CHECK(o[mode].verdict == o[0].verdict);
		CHECK(o[mode].used == o[0].used);
		CHECK(o[mode].len == o[0].len);
		CHECK(memcmp(o[mode].data, o[0].data, o[0].len) == 0);
	}
	if ((lim & 7) == 0) {
		struct at_http_body b = { .mode = AT_BODY_CHUNKED };
		int done = 0;
		ssize_t k = at_http_body_feed(&b, p, n, &done);

		if (k < 0)
			CHECK(o[0].verdict == AT_CHUNKS_BAD);
		else if (done)
			CHECK(o[0].verdict == AT_CHUNKS_DONE &&
			      o[0].used == (size_t)k);
		else
			CHECK(o[0].verdict == AT_CHUNKS_MORE &&
			      o[0].used == n);
	}
	for (mode = 0; mode < 3; mode++)
		free(o[mode].data);
}

static void check_fields(const char *p, size_t n)
{
	struct at_http_request rq;
	struct at_http_response rs;
	struct at_http_str name, value;
	size_t end = at_http_head_end(p, n, 0), pos;

	if (end == 0)
		return;
	if (at_http_parse_request(p, end, &rq) == 0) {
		pos = rq.request_line_end;
		CHECK(pos == at_http_fields_start(p, end));
	} else if (at_http_parse_response(p, end, &rs) == 0) {
		pos = at_http_fields_start(p, end);
	} else {
		return;
	}
	while (at_http_field_next(p, end, &pos, &name, &value)) {
		CHECK(name.len > 0 && name.p >= p && name.p + name.len < p + end);
		CHECK(memchr(name.p, ':', name.len) == NULL);
		CHECK(memchr(name.p, ' ', name.len) == NULL);
		CHECK(value.p >= p && value.p + value.len <= p + end);
		CHECK(value.len == 0 || (value.p[0] != ' ' &&
					 value.p[value.len - 1] != ' '));
		(void)at_http_list_has(value.p, value.len, "close");
	}
	CHECK(pos < end && end - pos <= 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;

	if (size == 0)
		return 0;
	check_decoder(p, size - 1, data[0]);
	check_fields(p, size - 1);
	return 0;
}
