/*
 * fuzz_mysqlwire.c - libFuzzer target for the MySQL / MariaDB protocol
 * decoders (at_mysqlwire.c).
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Isrc/core -Isrc/protocols -o fuzz_mysqlwire \
 *         src/protocols/at_mysqlwire.c tests/fuzz/fuzz_mysqlwire.c
 *   ./fuzz_mysqlwire tests/fuzz/corpus/mysqlwire
 *
 * The input is a conversation: a first byte (the seed of the cuts), then
 * records [direction byte: bit 0 set = the server's][length, 2 bytes
 * little-endian][bytes] (the last one may be short).  The records go, in
 * order, to the client's or the server's decoder, as the family drives
 * them: the client's commands queue up, the server's NEED_CMD takes the
 * oldest (none left: that side stops).  It is decoded twice, each record
 * whole and then cut in pieces of 1 to 16 bytes, and it traps unless:
 *   - every call consumes at most what it is given, all of it when it
 *     returns MORE, PASS or ERROR, and after PASS or ERROR a side stays
 *     so;
 *   - what an event points to lies in the input or in the decoder's
 *     buffer, within the bounds the header gives (text, message, version);
 *   - both decodings give the same events with the same contents.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "at_mysqlwire.h"
#include "fuzz.h"

#define LOG_MAX 65536
#define QUEUE 256

struct run {
	struct at_my_client c;
	struct at_my_server s;
	unsigned cmd[QUEUE];
	uint8_t flags[QUEUE];
	unsigned head, tail;
	uint64_t caps;
	bool client_done, server_done;
	unsigned char log[LOG_MAX];
	size_t log_n;
};

static struct run runs[2];

static void log_put(struct run *r, const void *p, size_t n)
{
	if (n > LOG_MAX - r->log_n)
		n = LOG_MAX - r->log_n;
	memcpy(r->log + r->log_n, p, n);
	r->log_n += n;
}

static void log_u64(struct run *r, uint64_t v)
{
	log_put(r, &v, sizeof(v));
}

/* p[0..n) lies in [lo, lo + cap). */
static void check_in(const void *p, size_t n, const void *lo, size_t cap)
{
	const char *a = p, *b = lo;

	CHECK(a >= b && n <= cap && (size_t)(a - b) <= cap - n);
}

/* What an event points to: in this call's input or the decoder's buffer. */
static void check_ptr(const char *p, size_t n, const char *in, size_t in_n,
		      const char *buf, size_t buf_n)
{
	if (n == 0)
		return;
	CHECK(p != NULL);
	if (p >= in && p < in + in_n)
		check_in(p, n, in, in_n);
	else
		check_in(p, n, buf, buf_n);
}

static void client_piece(struct run *r, const char *p, size_t n)
{
	while (n > 0 && !r->client_done) {
		struct at_my_client_ev e;
		size_t used = 0;
		int ev = at_my_client_next(&r->c, p, n, &used, &e);

		CHECK(used <= n);
		if (ev != AT_MY_C_MORE)
			log_u64(r, (uint64_t)ev << 32 | 1);
		if (ev == AT_MY_C_MORE || ev == AT_MY_C_PASS ||
		    ev == AT_MY_C_ERROR)
			CHECK(used == n);
		if (ev == AT_MY_C_PASS || ev == AT_MY_C_ERROR) {
			size_t u2 = 0;

			CHECK(at_my_client_next(&r->c, p, n, &u2, &e) == ev);
			CHECK(u2 == n);
			r->client_done = true;
		}
		if (ev == AT_MY_C_HANDSHAKE || ev == AT_MY_C_COMMAND) {
			check_ptr(e.text, e.text_len, p, n, r->c.buf,
				  sizeof(r->c.buf));
			CHECK(e.text_len <= AT_MY_TEXT_MAX);
			log_u64(r, e.cmd);
			log_u64(r, e.stmt_id);
			log_u64(r, e.text_len | (uint64_t)e.text_cut << 40);
			if (e.text_len)
				log_put(r, e.text, e.text_len);
		}
		if (ev == AT_MY_C_HANDSHAKE) {
			r->caps = e.caps;
			r->cmd[r->tail % QUEUE] = AT_MY_CMD_HANDSHAKE;
			r->tail++;
		} else if (ev == AT_MY_C_COMMAND && at_my_cmd_answered(e.cmd)) {
			if (r->tail - r->head < QUEUE) {
				r->flags[r->tail % QUEUE] = e.flags;
				r->cmd[r->tail % QUEUE] = e.cmd;
				r->tail++;
			}
		}
		p += used;
		n -= used;
	}
}

static void server_piece(struct run *r, const char *p, size_t n)
{
	while (n > 0 && !r->server_done) {
		struct at_my_server_ev e;
		size_t used = 0;
		int ev = at_my_server_next(&r->s, p, n, &used, &e);

		CHECK(used <= n);
		if (ev != AT_MY_S_MORE)
			log_u64(r, (uint64_t)ev << 32 | 2);
		if (ev == AT_MY_S_MORE || ev == AT_MY_S_PASS ||
		    ev == AT_MY_S_ERROR)
			CHECK(used == n);
		if (ev == AT_MY_S_PASS || ev == AT_MY_S_ERROR)
			r->server_done = true;
		if (ev == AT_MY_S_NEED_CMD) {
			if (r->head == r->tail) {
				r->server_done = true; /* as the family does */
				break;
			}
			at_my_server_expect(&r->s, r->cmd[r->head % QUEUE],
					    r->caps, r->flags[r->head % QUEUE]);
			r->head++;
		}
		if (ev == AT_MY_S_GREETING) {
			check_ptr(e.version, e.version_len, p, n, r->s.buf,
				  sizeof(r->s.buf));
			CHECK(e.version_len < AT_MY_SRV_MAX);
			log_put(r, e.version, e.version_len);
			log_u64(r, e.caps);
		}
		if (ev == AT_MY_S_RESULT) {
			check_ptr(e.msg, e.msg_len, p, n, r->s.buf,
				  sizeof(r->s.buf));
			CHECK(e.msg_len <= AT_MY_SRV_MAX);
			CHECK(!(e.err && e.more));
			CHECK(e.sqlstate[5] == '\0');
			log_u64(r, e.cmd | (uint64_t)e.err << 16 |
					   (uint64_t)e.more << 17 |
					   (uint64_t)e.code << 32);
			log_u64(r, e.rows);
			log_u64(r, e.affected);
			log_u64(r, e.stmt_id | (uint64_t)e.columns << 32 |
					   (uint64_t)e.params << 48);
			log_put(r, e.sqlstate, 5);
			if (e.msg_len)
				log_put(r, e.msg, e.msg_len);
		}
		p += used;
		n -= used;
	}
}

static void decode(struct run *r, const uint8_t *data, size_t size,
		   unsigned seed, bool cut)
{
	size_t i = 1;

	at_my_client_init(&r->c);
	at_my_server_init(&r->s);
	r->head = r->tail = 0;
	r->caps = 0;
	r->client_done = r->server_done = false;
	r->log_n = 0;
	while (i + 3 <= size) {
		bool server = data[i] & 1;
		size_t len = (size_t)data[i + 1] | (size_t)data[i + 2] << 8;
		const char *p = (const char *)data + i + 3;

		i += 3;
		if (len > size - i)
			len = size - i;
		i += len;
		while (len > 0) {
			size_t piece = len;

			if (cut) {
				seed = seed * 1103515245u + 12345u;
				piece = 1 + (seed >> 16) % 16;
				if (piece > len)
					piece = len;
			}
			if (server)
				server_piece(r, p, piece);
			else
				client_piece(r, p, piece);
			p += piece;
			len -= piece;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	decode(&runs[0], data, size, data[0], false);
	decode(&runs[1], data, size, data[0], true);
	CHECK(runs[0].log_n == runs[1].log_n ||
	      runs[0].log_n == LOG_MAX || runs[1].log_n == LOG_MAX);
	if (runs[0].log_n < LOG_MAX && runs[1].log_n < LOG_MAX)
		CHECK(memcmp(runs[0].log, runs[1].log, runs[0].log_n) == 0);
	return 0;
}
