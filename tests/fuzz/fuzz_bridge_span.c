/*
 * fuzz_bridge_span.c - libFuzzer target for hooks/runtime/at_bridge_span.c:
 * the span messages a runtime bridge writes to the bridge channel (their
 * layout: at_bridge_span.c), over the rest of the library's core
 * (build/libatcore.a, as the unit tests link it; no exporter thread).
 *
 * The input is a run of messages: two bytes give each one's length (the
 * rest of the input when it is shorter), then its bytes.  A message's
 * first byte also says how it is dressed, so that most reach the decoder
 * past its magic: bit 0 writes the magic over its first 8 bytes, bit 1
 * puts one of the handles earlier STARTs answered in [3] and in the
 * queued ends (where the input has 0x7f7f7f7f), bit 2 starts it 4 bytes
 * into the buffer instead of 0, bit 3 one byte (misaligned).  Besides "no
 * crash, no out-of-bounds read or write, no undefined behaviour", it
 * checks, and traps if one fails:
 *   - a message is answered (the write returns its length) or not (-1);
 *     one that is not leaves every byte of the buffer as it was: it goes
 *     to the channel untouched;
 *   - an answer never writes [0] [1] [2] [6]; it zeroes a queue's count;
 *   - a START answers a reason in range, and with a span a handle and
 *     header lines that fit the data room, each "name: value" CRLF
 *     with no other CR or LF; without one, no handle and no lines;
 *   - an END answers [3] = 0;
 *   - a BIND answers a number in [3].
 * A length with bit 15 set makes the message a getenv name instead
 * (at_bridge_span_env, the STARTs asked through getenv of the buffer the
 * last answered BIND bound): its first byte's bit 0 puts the bound
 * prefix before the name, bit 1 sets the bound buffer's [2] to a START in
 * name, bit 2 its [6] to the head's length (else bytes 1-4 and 5-8 give
 * them); the name is the rest.  Checked: a name not answered leaves the
 * buffer as it was but for [7] = AT_BRIDGE_SPAN_RESEND; an answered one
 * marks [2] ANSWERED, returns the data (its length in [4], well-formed
 * lines, a queue's count zeroed) with a handle or NULL without, and the
 * same name asked again answers the same, changing nothing.
 * After each input the spans still open are ended and the thread's ring
 * emptied, so that one input does not change how the next one runs.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "at_bridge_span.h"
#include "at_config.h"
#include "at_exporter.h"
#include "at_init.h"
#include "at_ring.h"
#include "at_thread.h"
#include "fuzz.h"

#define ROOM (AT_BRIDGE_SPAN_HDR + 4096 + AT_BRIDGE_SPAN_ENDS_BYTES)
#define HANDLE_MARK 0x7f7f7f7f

static union {
	int32_t m[ROOM / 4 + 2];
	char b[ROOM + 8];
} buf;
static char before[ROOM + 8];
static int32_t handles[8];
static unsigned n_handles, next_handle;
/* The buffer the last answered BIND bound (the library keeps it across
 * inputs, and so does this). */
static size_t bound_off, bound_len;
static int32_t bound_num;
static char name[64 + ROOM];

static void setup_once(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	at_config_defaults(&at_cfg);
	at_exporter_manual();
	atomic_store(&at_state, AT_STATE_READY);
}

static int32_t some_handle(unsigned pick)
{
	return n_handles ? handles[pick % n_handles] : 0;
}

/* Each answered line: "name: value" CRLF, no other CR or LF. */
static void check_lines(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *eol = memchr(p + i, '\r', n - i);
		const char *colon = memchr(p + i, ':', n - i);

		CHECK(eol && eol + 1 < p + n && eol[1] == '\n');
		CHECK(colon && colon > p + i && colon < eol);
		CHECK(!memchr(p + i, '\n', (size_t)(eol - (p + i))));
		i = (size_t)(eol - p) + 2;
	}
}

static void record_handle(int32_t h)
{
	handles[next_handle++ % 8] = h;
	if (n_handles < 8)
		n_handles++;
}

static void one_message(const uint8_t *d, size_t len)
{
	unsigned dress = len ? d[0] : 0;
	size_t off = dress & 8 ? 1 : dress & 4 ? 4 : 0;
	int32_t *m = (int32_t *)(void *)(buf.b + off);
	struct iovec v = { buf.b + off, len };
	int32_t op = 0, saved[8] = { 0 };
	int32_t *q = NULL;
	ssize_t r;

	memset(buf.b, 0, sizeof(buf.b));
	memcpy(buf.b + off, d, len);
	if ((dress & 1) && len >= 8)
		memcpy(buf.b + off, AT_BRIDGE_SPAN_MAGIC, 8);
	if (len >= AT_BRIDGE_SPAN_HDR && !(off & 3)) {
		op = m[2];
		if ((op & AT_BRIDGE_SPAN_WITH_ENDS) &&
		    len >= AT_BRIDGE_SPAN_HDR + AT_BRIDGE_SPAN_ENDS_BYTES &&
		    !(len & 3))
			q = m + (len - AT_BRIDGE_SPAN_ENDS_BYTES) / 4;
		if (dress & 2) {
			if (m[3] == HANDLE_MARK)
				m[3] = some_handle(dress >> 4);
			for (int i = 0; q && i < AT_BRIDGE_SPAN_ENDS; i++)
				if (q[4 + 4 * i] == HANDLE_MARK)
					q[4 + 4 * i] = some_handle((unsigned)i);
		}
		memcpy(saved, m, sizeof(saved));
	}
	memcpy(before, buf.b, sizeof(before));

	r = at_bridge_span_message(&v, 1, len);

	CHECK(r == -1 || r == (ssize_t)len);
	if (r == -1) {
		CHECK(memcmp(before, buf.b, sizeof(before)) == 0);
		return;
	}
	/* Answered: a well-framed message, aligned, past its magic. */
	CHECK(len >= AT_BRIDGE_SPAN_HDR && !(off & 3));
	CHECK(memcmp(m, AT_BRIDGE_SPAN_MAGIC, 8) == 0);
	CHECK(m[2] == saved[2] && m[6] == saved[6]);
	if (q)
		CHECK(q[0] == 0);
	op &= ~AT_BRIDGE_SPAN_WITH_ENDS;
	if (op == AT_BRIDGE_SPAN_START) {
		size_t cap = len - AT_BRIDGE_SPAN_HDR -
			     (q ? AT_BRIDGE_SPAN_ENDS_BYTES : 0);

		CHECK(m[7] >= AT_BRIDGE_SPAN_OK &&
		      m[7] <= AT_BRIDGE_SPAN_BAD_HEAD);
		if (m[7] != AT_BRIDGE_SPAN_OK) {
			CHECK(m[3] == 0 && m[4] == 0);
			return;
		}
		CHECK(m[3] > 0);
		CHECK(m[4] >= 0 && (size_t)m[4] <= cap);
		check_lines((const char *)(m + 8), (size_t)m[4]);
		record_handle(m[3]);
	} else if (op == AT_BRIDGE_SPAN_END) {
		CHECK(m[3] == 0);
	} else if (op == AT_BRIDGE_SPAN_BIND) {
		CHECK(q && m[3] > 0);
		bound_off = off;
		bound_len = len;
		bound_num = m[3];
	}
}

/* A getenv name of the bound buffer's (or none bound). */
static void one_name(const uint8_t *d, size_t len)
{
	unsigned dress = len ? d[0] : 0;
	int32_t *m = (int32_t *)(void *)(buf.b + bound_off);
	size_t k = 0, head_len;
	char *ans = NULL, *again = NULL;
	bool r;

	if (len < 9)
		return;
	if (dress & 1)
		k = (size_t)snprintf(name, sizeof(name), "%s%d:",
				     AT_BRIDGE_SPAN_ENV_PREFIX, (int)bound_num);
	memcpy(name + k, d + 9, len - 9);
	name[k + len - 9] = 0;
	head_len = strlen(name + k);
	if (bound_len) {
		memcpy(&m[2], d + 1, 4);
		memcpy(&m[6], d + 5, 4);
		if (dress & 2)
			m[2] = AT_BRIDGE_SPAN_START | AT_BRIDGE_SPAN_WITH_ENDS |
			       AT_BRIDGE_SPAN_IN_NAME;
		if (dress & 4)
			m[6] = (int32_t)head_len;
	}
	memcpy(before, buf.b, sizeof(before));

	r = at_bridge_span_env(name, &ans);

	if (!r) {
		if (bound_len && m[7] == AT_BRIDGE_SPAN_RESEND)
			memcpy(&m[7], before + bound_off + 28, 4);
		CHECK(memcmp(before, buf.b, sizeof(before)) == 0);
		return;
	}
	CHECK(bound_len);
	CHECK(m[2] & AT_BRIDGE_SPAN_ANSWERED);
	CHECK(memcmp(before + bound_off, buf.b + bound_off, 8) == 0);
	CHECK(memcmp(before + bound_off + 24, &m[6], 4) == 0);
	if (m[3] > 0) {
		size_t cap = bound_len - AT_BRIDGE_SPAN_HDR -
			     AT_BRIDGE_SPAN_ENDS_BYTES;
		CHECK(ans == (char *)(m + 8));
		CHECK(m[4] >= 0 && (size_t)m[4] < cap);
		CHECK(strlen(ans) == (size_t)m[4]);
		check_lines(ans, (size_t)m[4]);
		record_handle(m[3]);
	} else {
		CHECK(ans == NULL);
	}
	/* Asked again: the same answer, nothing changed. */
	memcpy(before, buf.b, sizeof(before));
	CHECK(at_bridge_span_env(name, &again));
	CHECK(again == ans);
	CHECK(memcmp(before, buf.b, sizeof(before)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct at_thread *t;

	setup_once();
	n_handles = 0;
	while (size >= 2) {
		size_t n = (size_t)data[0] | (size_t)(data[1] & 0x7f) << 8;
		bool as_name = data[1] & 0x80;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		if (n > ROOM)
			n = ROOM;
		if (as_name)
			one_name(data, n);
		else
			one_message(data, n);
		data += n;
		size -= n;
	}
	at_bridge_span_at_exit();
	t = at_thread_get();
	while (t && at_ring_peek(&t->ring))
		at_ring_pop(&t->ring);
	return 0;
}
