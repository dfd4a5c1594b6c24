/*
 * fuzz_resp.c - libFuzzer target for at_resp.c: the RESP2/RESP3 request
 * and reply decoders, first-bytes detection and the command table.
 *
 * The first byte picks how the input is split; the rest is decoded both
 * as requests and as replies.  Besides "no crash, no out-of-bounds read
 * or write", it checks, and traps if one fails:
 *   - the same events (every field a span would use), the same bytes
 *     consumed and the same verdict whether the input is fed at once, one
 *     byte at a time, or in pieces whose sizes come from the input's own
 *     bytes (or the first byte's);
 *   - each call consumes no more than it is given, and all of it unless
 *     an event or an error stops it; an error stays (later calls consume
 *     nothing);
 *   - a command's copies stay within their bounds: the name is NUL-
 *     terminated, uppercase words, the argument marks increase and lie
 *     within the copy, at_resp_arg returns slices of it; a reply's text
 *     fits, an aggregate has no more nulls than elements, the nesting
 *     stays within AT_RESP_DEPTH.
 */
#include <stdbool.h>
#include <string.h>

#include "at_resp.h"
#include "fuzz.h"

struct outcome {
	uint64_t hash;     /* of the events, in order */
	size_t events;
	size_t used;
	int verdict;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		*h = (*h ^ b[i]) * 0x100000001b3ull;
}

static void check_cmd(const struct at_resp_cmd *c, uint64_t *h)
{
	uint32_t prev = 0;

	CHECK(c->name_len > 0 && c->name_len < AT_RESP_NAME_MAX);
	CHECK(c->name[c->name_len] == '\0' && strlen(c->name) == c->name_len);
	for (size_t i = 0; i < c->name_len; i++)
		CHECK(!(c->name[i] >= 'a' && c->name[i] <= 'z'));
	CHECK(c->args_len <= AT_RESP_ARGS_MAX);
	CHECK(c->marks <= AT_RESP_MARKS && c->marks <= c->argc);
	for (uint32_t i = 1; i <= AT_RESP_MARKS + 1; i++) {
		const char *p;
		size_t n;
		bool ok = at_resp_arg(c, i, &p, &n);

		CHECK(ok == (i <= c->marks));
		if (!ok)
			continue;
		CHECK(c->arg_end[i - 1] >= prev && c->arg_end[i - 1] <= c->args_len);
		CHECK(p >= c->args && p + n <= c->args + c->args_len);
		prev = c->arg_end[i - 1];
	}
	(void)at_resp_command(c->name, c->name_len, NULL);
	mix(h, c->name, c->name_len + 1);
	mix(h, &c->argc, sizeof(c->argc));
	mix(h, &c->args_len, sizeof(c->args_len));
	mix(h, c->args, c->args_len);
	mix(h, &c->marks, sizeof(c->marks));
	mix(h, c->arg_end, sizeof(c->arg_end[0]) * c->marks);
	mix(h, &c->args_cut, 1);
	mix(h, &c->name_cut, 1);
	mix(h, &c->inline_form, 1);
}

static void check_reply(const struct at_resp_rep *d, uint64_t *h)
{
	const struct at_resp_reply *r = &d->reply;

	CHECK(d->depth == 0);
	CHECK(r->text_len <= AT_RESP_TEXT_MAX);
	CHECK(r->nulls <= r->count || r->type == '%');
	CHECK(!r->push || r->type == '>');
	mix(h, &r->type, 1);
	mix(h, &r->nil, 1);
	mix(h, &r->push, 1);
	mix(h, &r->integer, sizeof(r->integer));
	mix(h, &r->count, sizeof(r->count));
	mix(h, &r->nulls, sizeof(r->nulls));
	mix(h, r->text, r->text_len);
}

/* Piece sizes: all at once, 1 byte, or 1..16 from the input's bytes. */
static size_t piece(const uint8_t *p, size_t n, size_t k, int mode,
		    uint8_t sel)
{
	if (mode == 0)
		return n;
	if (mode == 1 || n == 0)
		return 1;
	if (mode == 2)
		return (size_t)(sel & 31) + 1;
	return (size_t)(p[k % n] & 15) + 1;
}

static void decode(const uint8_t *in, size_t n, bool req, int mode,
		   uint8_t sel, struct outcome *o)
{
	static struct at_resp_req rq;
	static struct at_resp_rep rp;
	const char *p = (const char *)in;
	size_t avail = 0, used, k = 0;
	int r = AT_RESP_MORE;

	memset(o, 0, sizeof(*o));
	o->hash = 0xcbf29ce484222325ull;
	at_resp_req_init(&rq);
	at_resp_rep_init(&rp);
	for (;;) {
		if (o->used == avail) {
			if (avail == n)
				break;
			size_t step = piece(in, n, k++, mode, sel);
			avail = n - avail < step ? n : avail + step;
		}
		if (req)
			r = at_resp_req_next(&rq, p + o->used, avail - o->used,
					     &used);
		else
			r = at_resp_rep_next(&rp, p + o->used, avail - o->used,
					     &used);
		CHECK(used <= avail - o->used);
		o->used += used;
		if (!req)
			CHECK(rp.depth <= AT_RESP_DEPTH);
		if (r == AT_RESP_BAD)
			break;
		if (r == AT_RESP_MORE) {
			CHECK(o->used == avail);
			continue;
		}
		CHECK(r == AT_RESP_DONE && used > 0);
		o->events++;
		if (req)
			check_cmd(&rq.cmd, &o->hash);
		else
			check_reply(&rp, &o->hash);
		r = AT_RESP_MORE;
	}
	if (r == AT_RESP_BAD) {
		/* An error stays. */
		if (req)
			CHECK(at_resp_req_next(&rq, "*1\r\n", 4, &used) ==
				      AT_RESP_BAD && used == 0);
		else
			CHECK(at_resp_rep_next(&rp, "+OK\r\n", 5, &used) ==
				      AT_RESP_BAD && used == 0);
	}
	o->verdict = r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome o[4];
	const uint8_t *p = data + 1;
	size_t n;

	if (size == 0)
		return 0;
	n = size - 1;
	(void)at_resp_detect_request((const char *)p, n < 64 ? n : 64);
	for (int req = 0; req < 2; req++) {
		for (int mode = 0; mode < 4; mode++)
			decode(p, n, req, mode, data[0], &o[mode]);
		for (int mode = 1; mode < 4; mode++) {
			CHECK(o[mode].verdict == o[0].verdict);
			CHECK(o[mode].used == o[0].used);
			CHECK(o[mode].events == o[0].events);
			CHECK(o[mode].hash == o[0].hash);
		}
	}
	return 0;
}
