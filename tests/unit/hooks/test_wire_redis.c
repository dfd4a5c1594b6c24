/*
 * Unit tests of the Redis wire family (hooks/wire/at_wire_redis.c),
 * driven through the wire API the socket layer calls (at_wire.h) on a
 * socketpair: short sends decode each command once, replies split
 * anywhere end the commands in order, pushes end nothing, SUBSCRIBE and a
 * reply to nothing stop the decoding, raw query text never shows AUTH's
 * arguments.  Spans are read back from the thread's ring.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "at_config.h"
#include "at_resp.h"
#include "at_wire.h"
#include "at_wire_kit.h"
#include "at_wire_redis.h"
#include "unit.h"
#include "ut_spans.h"

static int fds[2];

static void setup(void)
{
	ut_core_setup();
	ut_drain_ring();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
}

static void teardown(void)
{
	close(fds[0]);
	close(fds[1]);
}

TestSuite(wire_redis, .init = setup, .fini = teardown);

static struct at_wire *claim(const char *first)
{
	struct at_wire_peer peer = { .ip = "127.0.0.1", .port = 6379 };
	struct at_wire *w = at_wire_detect_out(first, strlen(first), &peer);

	cr_assert_not_null(w, "not claimed: %s", first);
	cr_assert_eq(w->fam, &at_wire_redis_family);
	return w;
}

/* Send all of s as a program would (retrying after short sends and
 * EAGAIN, the peer drained in between). */
static void send_all(struct at_wire *w, const char *s, size_t n)
{
	char sink[65536];
	size_t off = 0;

	while (off < n) {
		struct iovec iov = { (void *)(s + off), n - off };
		ssize_t r = at_wire_send(w, fds[0], &iov, 1, 0);

		if (r < 0) {
			cr_assert_eq(errno, EAGAIN);
			while (read(fds[1], sink, sizeof(sink)) > 0)
				;
			continue;
		}
		off += (size_t)r;
	}
}

static void receive(struct at_wire *w, const char *s, size_t step)
{
	size_t n = strlen(s);

	for (size_t off = 0; off < n; off += step) {
		struct iovec iov = { (void *)(s + off), n - off < step ? n - off : step };
		at_wire_received(w, &iov, 1, iov.iov_len);
	}
}

static int bool_attr(const struct rec *r, const char *key)
{
	const struct at_attr *a = ut_attr(r, key);

	return a ? a->v.b : -1;
}

Test(wire_redis, short_sends_decode_each_command_once)
{
	size_t big = 300000, n;
	char *cmd = malloc(big + 128);
	struct rec spans[4];
	int sndbuf = 4096;

	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	n = (size_t)sprintf(cmd, "*3\r\n$3\r\nSET\r\n$4\r\nbig1\r\n$%zu\r\n", big);
	memset(cmd + n, 'x', big);
	n += big;
	n += (size_t)sprintf(cmd + n, "\r\n*2\r\n$3\r\nGET\r\n$4\r\nbig1\r\n");

	struct at_wire *w = claim(cmd);
	send_all(w, cmd, n);
	cr_assert_eq(at_wire_pending(w), 2);
	receive(w, "+OK\r\n$3\r\nabc\r\n", 1);
	cr_assert_eq(at_wire_pending(w), 0);
	cr_assert_not(at_wire_stopped(w));
	cr_assert_eq(ut_take_spans(spans, 4), 2);
	cr_assert(ut_has_name(&spans[0], "SET"));
	cr_assert(ut_str_is(&spans[0], "db.query.text", "SET big1 ?"));
	cr_assert(ut_str_is(&spans[0], "db.system.name", "redis"));
	cr_assert(ut_str_is(&spans[0], "db.namespace", "0"));
	cr_assert(ut_has_name(&spans[1], "GET"));
	cr_assert(ut_str_is(&spans[1], "db.operation.name", "GET"));
	cr_assert_eq(bool_attr(&spans[1], "autotrace.cache.hit"), 1);
	at_wire_close(w);
	free(cmd);
}

Test(wire_redis, pipelined_replies_in_order_pushes_aside)
{
	const char *cmds = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
			   "*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
			   "*2\r\n$4\r\nLLEN\r\n$1\r\ns\r\n"
			   "*2\r\n$6\r\nEXISTS\r\n$1\r\na\r\n";
	struct rec spans[5];
	struct at_wire *w = claim(cmds);

	send_all(w, cmds, strlen(cmds));
	cr_assert_eq(at_wire_pending(w), 4);
	receive(w, "_\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n"
		   "*3\r\n$1\r\n1\r\n_\r\n$-1\r\n"
		   "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
		   ":0\r\n", 3);
	cr_assert_eq(at_wire_pending(w), 0);
	cr_assert_eq(ut_take_spans(spans, 5), 4);
	cr_assert_eq(bool_attr(&spans[0], "autotrace.cache.hit"), 0);
	cr_assert(ut_str_is(&spans[1], "db.query.text", "MGET a b c"));
	cr_assert_eq(ut_int_attr(&spans[1], "autotrace.cache.hits"), 1);
	cr_assert_eq(ut_int_attr(&spans[1], "autotrace.cache.misses"), 2);
	cr_assert(ut_str_is(&spans[2], "error.type", "WRONGTYPE"));
	cr_assert_eq(spans[2].u.h.status_code, AT_STATUS_ERROR);
	cr_assert_eq(bool_attr(&spans[3], "autotrace.cache.hit"), 0);
	cr_assert_eq(ut_int_attr(&spans[3], "autotrace.cache.misses"), 1);
	at_wire_close(w);
}

Test(wire_redis, subscribe_leaves_request_reply)
{
	const char *cmds = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
			   "*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n";
	struct rec spans[3];
	struct at_wire *w = claim(cmds);

	send_all(w, cmds, strlen(cmds));
	send_all(w, "*1\r\n$4\r\nPING\r\n", 14); /* in pub/sub mode: not ours */
	cr_assert_eq(at_wire_pending(w), 2);
	receive(w, "$1\r\nv\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
		   "*2\r\n$4\r\npong\r\n$0\r\n\r\n", 64);
	cr_assert(at_wire_passive(w));
	cr_assert_eq(ut_take_spans(spans, 3), 2);
	cr_assert(ut_has_name(&spans[1], "SUBSCRIBE"));
	at_wire_close(w);
}

Test(wire_redis, a_reply_to_nothing_stops_decoding)
{
	struct at_wire *w = claim("PING\r\n");

	receive(w, "+OK\r\n", 5);
	cr_assert(at_wire_stopped(w));
	at_wire_close(w);
	w = claim("PING\r\n");
	send_all(w, "PING\r\n", 6);
	receive(w, "%x\r\n", 5); /* malformed */
	cr_assert(at_wire_stopped(w));
	at_wire_close(w);
}

Test(wire_redis, raw_query_text_but_never_secrets)
{
	const char *cmds = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nvalue1\r\n"
			   "AUTH app Pa55word\r\n"
			   "*5\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$8\r\nPa55word\r\n";
	struct rec spans[3];
	struct at_wire *w;

	at_cfg.db_raw_query = 1;
	w = claim(cmds);
	send_all(w, cmds, strlen(cmds));
	receive(w, "+OK\r\n+OK\r\n%0\r\n", 4);
	at_cfg.db_raw_query = 0;
	cr_assert_eq(ut_take_spans(spans, 3), 3);
	cr_assert(ut_str_is(&spans[0], "db.query.text", "SET k value1"));
	cr_assert(ut_str_is(&spans[1], "db.query.text", "AUTH ? ?"));
	cr_assert(ut_str_is(&spans[2], "db.query.text", "HELLO ? ? ? ?"));
	for (int i = 0; i < 3; i++)
		cr_assert_null(memmem(at_rec_arena(&spans[i].u.h),
				      spans[i].u.h.arena_used, "Pa55", 4));
	at_wire_close(w);
}

Test(wire_redis, http_and_other_protocols_are_not_claimed)
{
	struct at_wire_peer peer = { .ip = "127.0.0.1", .port = 80 };
	const char *not_redis[] = {
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /index.html\r\n",
		"POST /api HTTP/1.1\r\n",
		"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
		"howdy world\r\n",
		"get k\r\n", /* memcached */
	};

	for (size_t i = 0; i < sizeof(not_redis) / sizeof(not_redis[0]); i++)
		cr_assert_null(at_wire_detect_out(not_redis[i], strlen(not_redis[i]),
						  &peer), "%s", not_redis[i]);
	/* Turned off. */
	at_cfg.protocols &= ~(uint32_t)AT_PROTO_REDIS;
	cr_assert_null(at_wire_detect_out("PING\r\n", 6, &peer));
	at_cfg.protocols = AT_PROTO_ALL;
}

Test(wire_redis, long_commands_show_whole_keys_within_bounds)
{
	char cmd[8192], want[16];
	size_t n;
	struct rec spans[2];
	const struct at_attr *a;

	/* MGET of 200 keys: as many whole keys as the copy holds. */
	n = (size_t)sprintf(cmd, "*201\r\n$4\r\nMGET\r\n");
	for (int i = 0; i < 200; i++)
		n += (size_t)sprintf(cmd + n, "$8\r\nkey%05d\r\n", i);
	/* SET of a 1500-byte key: the first bytes of it. */
	n += (size_t)sprintf(cmd + n, "*3\r\n$3\r\nSET\r\n$1500\r\n");
	memset(cmd + n, 'k', 1500);
	n += 1500;
	n += (size_t)sprintf(cmd + n, "\r\n$1\r\nv\r\n");
	struct at_wire *w = claim(cmd);
	send_all(w, cmd, n);
	receive(w, "*0\r\n+OK\r\n", 100);
	cr_assert_eq(ut_take_spans(spans, 2), 2);
	a = ut_attr(&spans[0], "db.query.text");
	cr_assert_not_null(a);
	const char *t = at_rec_arena(&spans[0].u.h) + a->v.s.off;
	cr_assert(a->v.s.len > AT_RESP_ARGS_MAX - 10 &&
		  a->v.s.len <= 5 + AT_RESP_ARGS_MAX);
	cr_assert(!strncmp(t, "MGET key00000 key00001 ", 23));
	/* It ends with a whole key. */
	snprintf(want, sizeof(want), "key%05d", (int)((a->v.s.len - 4) / 9 - 1));
	cr_assert(!strncmp(t + a->v.s.len - 8, want, 8), "%.*s", (int)a->v.s.len, t);
	a = ut_attr(&spans[1], "db.query.text");
	cr_assert_not_null(a);
	cr_assert_eq(a->v.s.len, at_cfg.db_query_max); /* 4 + 1024 + 2, cut */
	at_wire_close(w);
}
