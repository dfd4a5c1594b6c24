/*
 * fuzz_pgwire.c - libFuzzer target for the PostgreSQL protocol decoder
 * (at_pgwire.c).
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Isrc/core -Isrc/protocols -o fuzz_pgwire src/protocols/at_pgwire.c \
 *         tests/fuzz/fuzz_pgwire.c
 *   ./fuzz_pgwire tests/fuzz/corpus/pgwire
 *
 * The first input byte chooses the direction (bit 0: backend), whether
 * the backend expects the one byte answer to an SSLRequest first (bit
 * 1), and seeds the chunk splits; the rest is the stream.  The stream is
 * decoded whole, then again in chunks of pseudo-random sizes (1 byte at a
 * time included), and it traps when one of these fails:
 *   - at_pg_next consumes at most what it is given; AT_PG_MORE consumes
 *     all of it; AT_PG_ERROR consumes nothing and stays;
 *   - every message's copies are bounded and NUL-terminated where their
 *     lengths say, with no NUL inside (a copied C string ends at its
 *     NUL); *_len = min(*_total, bound); an SQLSTATE is at most 5 bytes;
 *   - the chunked decodings give the same messages (a digest of every
 *     field), at the same offsets, and the same verdict at the same
 *     offset as the whole one;
 *   - a message's wire size (header + body) adds up to its offset.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "at_pgwire.h"
#include "fuzz.h"

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *u = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ u[i]) * 0x100000001b3ull;
	return h;
}

static void check_str(const char *s, uint32_t len, uint32_t total,
		      uint32_t cap)
{
	CHECK(len <= cap);
	CHECK(len == (total < cap ? total : cap));
	CHECK(s[len] == '\0');
	CHECK(memchr(s, '\0', len) == NULL);
}

static uint64_t digest(const struct at_pg_msg *m)
{
	uint64_t h = 0xcbf29ce484222325ull;

	check_str(m->name, m->name_len, m->name_total, AT_PG_NAME_MAX);
	check_str(m->name2, m->name2_len, m->name2_total, AT_PG_NAME_MAX);
	check_str(m->text, m->text_len, m->text_total, AT_PG_TEXT_MAX);
	CHECK(memchr(m->code, '\0', sizeof(m->code)) != NULL);
	h = mix(h, &m->type, 1);
	h = mix(h, &m->kind, 1);
	h = mix(h, &m->len, 4);
	h = mix(h, &m->num, 4);
	h = mix(h, m->name, m->name_len + 1);
	h = mix(h, &m->name_total, 4);
	h = mix(h, m->name2, m->name2_len + 1);
	h = mix(h, &m->name2_total, 4);
	h = mix(h, m->text, m->text_len + 1);
	h = mix(h, &m->text_total, 4);
	if (m->type == 'E' || m->type == 'N')
		h = mix(h, m->code, strlen(m->code));
	if (m->type == AT_PG_STARTUP) {
		CHECK(memchr(m->user, '\0', sizeof(m->user)) != NULL);
		CHECK(memchr(m->database, '\0', sizeof(m->database)) != NULL);
		CHECK(memchr(m->application, '\0', sizeof(m->application)));
		h = mix(h, m->user, strlen(m->user));
		h = mix(h, m->database, strlen(m->database));
		h = mix(h, m->application, strlen(m->application));
	}
	return h;
}

struct run {
	uint64_t h;         /* digest of all messages and their offsets */
	size_t messages;
	size_t end;         /* offset of the verdict (error) or the input's end */
	int error;
};

/* The wire size of message m: its header and body. */
static size_t wire_size(const struct at_pg_msg *m)
{
	switch (m->type) {
	case AT_PG_ANSWER:
		return 1;
	case AT_PG_STARTUP: case AT_PG_SSL_REQUEST: case AT_PG_GSSENC_REQUEST:
	case AT_PG_CANCEL:
		return 8 + (size_t)m->len;
	default:
		return 5 + (size_t)m->len;
	}
}

static void decode(const unsigned char *p, size_t n, int side, int answer,
		   uint32_t seed, struct run *r)
{
	static struct at_pg_dec d;
	size_t pos = 0, last_end = 0;

	at_pg_init(&d, side ? AT_PG_BACKEND : AT_PG_FRONTEND);
	if (side && answer)
		at_pg_expect_answer(&d);
	memset(r, 0, sizeof(*r));
	r->h = 1;
	while (pos < n) {
		size_t chunk = n - pos, used;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			size_t c = (seed >> 16) % 9 == 0 ? 1
				   : 1 + (seed >> 8) % 64;
			if (c < chunk)
				chunk = c;
		}
		/* Feed the chunk to the end. */
		size_t off = 0;
		while (off < chunk) {
			int ev = at_pg_next(&d, (const char *)p + pos + off,
					    chunk - off, &used);
			CHECK(used <= chunk - off);
			if (ev == AT_PG_ERROR) {
				CHECK(used == 0);
				CHECK(at_pg_next(&d, (const char *)p, n, &used) ==
				      AT_PG_ERROR);
				r->error = 1;
				r->end = pos + off;
				return;
			}
			off += used;
			if (ev == AT_PG_MORE) {
				CHECK(off == chunk);
				break;
			}
			CHECK(ev == AT_PG_MESSAGE);
			CHECK(at_pg_at_boundary(&d));
			size_t at = pos + off;
			CHECK(at - last_end == wire_size(&d.msg));
			last_end = at;
			r->h = mix(r->h, &at, sizeof(at));
			uint64_t dg = digest(&d.msg);
			r->h = mix(r->h, &dg, sizeof(dg));
			r->messages++;
		}
		pos += chunk;
	}
	r->end = n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split;
	uint32_t seed;

	if (size < 1)
		return 0;
	int side = data[0] & 1, answer = (data[0] >> 1) & 1;
	seed = (uint32_t)data[0] * 2654435761u + (uint32_t)size;
	data++;
	size--;
	decode(data, size, side, answer, 0, &whole);
	for (int k = 0; k < 3; k++) {
		decode(data, size, side, answer, seed + (uint32_t)k * 77 + 1,
		       &split);
		CHECK(split.h == whole.h);
		CHECK(split.messages == whole.messages);
		CHECK(split.error == whole.error);
		/* An error is found at the first bad byte's header or field,
		 * which a split may reach at a later chunk's start. */
		if (!whole.error)
			CHECK(split.end == whole.end);
	}
	return 0;
}
