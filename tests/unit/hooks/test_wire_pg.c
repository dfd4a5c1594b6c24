/*
 * Unit tests of the PostgreSQL wire family's send path (hooks/wire/
 * at_wire_pg.c): the bytes decoded before they are sent, short writes
 * and EAGAIN (the rest of a write is decoded once), and the opt-in
 * SQLCommenter - the comment and the rewritten length word on the wire,
 * byte for byte, for a short write stopping at every byte of the edited
 * message, while the counts the program sees add up to its own bytes.
 *
 * The kernel is a fake: the real sendmsg() and send() pointers
 * (at_real_sendmsg, at_real_send: the kit's real send uses send() for
 * one buffer, sendmsg() for several) point at functions that append what
 * they take to `wire`, taking at most limit[call] bytes per call (-1:
 * EAGAIN).  Replies are handed to the session as the socket layer does;
 * spans are read back from the thread's ring.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "at_config.h"
#include "at_pgwire.h"
#include "at_real.h"
#include "at_traceparent.h"
#include "at_wire.h"
#include "at_wire_kit.h"
#include "at_wire_pg.h"
#include "unit.h"
#include "ut_spans.h"

static char wire[8192];
static size_t wire_len;
static long limit[16];
static int calls;
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static ssize_t (*real_send)(int, const void *, size_t, int);

static ssize_t taking_sendmsg(int fd, const struct msghdr *m, int flags)
{
	long cap = calls < 16 ? limit[calls] : 0;
	size_t took = 0;

	(void)fd;
	(void)flags;
	calls++;
	if (cap < 0) {
		errno = EAGAIN;
		return -1;
	}
	if (cap == 0)
		cap = 5; /* after the script: 5 bytes a call */
	for (size_t i = 0; i < m->msg_iovlen; i++) {
		size_t t = m->msg_iov[i].iov_len;
		if (t > (size_t)cap - took)
			t = (size_t)cap - took;
		cr_assert_leq(wire_len + t, sizeof(wire), "the fake wire is full");
		memcpy(wire + wire_len, m->msg_iov[i].iov_base, t);
		wire_len += t;
		took += t;
	}
	return (ssize_t)took;
}

static ssize_t taking_send(int fd, const void *buf, size_t len, int flags)
{
	struct iovec v = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

	return taking_sendmsg(fd, &m, flags);
}

static struct at_wire *w;

static size_t startup(char *out)
{
	static const char body[] = "\0\3\0\0user\0postgres\0database\0shop\0";
	size_t n = sizeof(body) - 1 + 1; /* the list's final NUL */

	out[0] = out[1] = 0;
	out[2] = (char)((n + 4) >> 8);
	out[3] = (char)(n + 4);
	memcpy(out + 4, body, sizeof(body));
	return n + 4;
}

static size_t query(char *out, const char *text)
{
	size_t n = strlen(text) + 1 + 4;

	out[0] = 'Q';
	out[1] = out[2] = 0;
	out[3] = (char)(n >> 8);
	out[4] = (char)n;
	memcpy(out + 5, text, strlen(text) + 1);
	return n + 1;
}

/* The program writes p[0..n) until all of it is out. */
static void program_write(const char *p, size_t n)
{
	int loops = 0;

	while (n > 0) {
		struct iovec v = { (void *)p, n };
		ssize_t r = at_wire_send(w, 3, &v, 1, 0);

		cr_assert_lt(++loops, 1000);
		if (r < 0) {
			cr_assert_eq(errno, EAGAIN);
			continue;
		}
		cr_assert_gt(r, 0, "the program never sees 0");
		cr_assert_leq((size_t)r, n, "never more than asked");
		p += r;
		n -= (size_t)r;
	}
}

static void reply(const char *p, size_t n)
{
	struct iovec v = { (void *)p, n };
	at_wire_received(w, &v, 1, n);
}

static void setup(void)
{
	struct at_wire_peer peer = { .ip = "127.0.0.1", .port = 5432 };
	char s[128];
	size_t n = startup(s);

	ut_core_setup();
	ut_drain_ring();
	real_sendmsg = at_real_sendmsg;
	at_real_sendmsg = taking_sendmsg;
	real_send = at_real_send;
	at_real_send = taking_send;
	wire_len = 0;
	calls = 0;
	memset(limit, 0, sizeof(limit));
	limit[0] = 4096;
	w = at_wire_detect_out(s, n, &peer);
	cr_assert_not_null(w);
	cr_assert_eq(w->fam, &at_wire_pg_family);
	program_write(s, n);
	cr_assert_eq(wire_len, n);
	cr_assert_eq(memcmp(wire, s, n), 0);
	reply("R\0\0\0\x08\0\0\0\0Z\0\0\0\x05I", 15);
}

static void teardown(void)
{
	at_cfg.db_sqlcommenter = 0;
	at_wire_close(w);
	at_real_sendmsg = real_sendmsg;
	at_real_send = real_send;
	ut_drain_ring();
}

TestSuite(wire_pg, .init = setup, .fini = teardown);

static const char done_reply[] = "C\0\0\0\x0dSELECT 1\0Z\0\0\0\x05I";

/* Ends the simple query in flight; returns its span's record. */
static void end_query(struct rec *r)
{
	reply(done_reply, sizeof(done_reply) - 1);
	cr_assert_eq(ut_take_spans(r, 1), 1);
	cr_assert(ut_has_name(r, "SELECT"));
	cr_assert_eq(ut_int_attr(r, "db.response.returned_rows"), 1);
}

Test(wire_pg, short_writes_and_eagain_decode_once)
{
	char q[64];
	size_t n = query(q, "SELECT 1"), base = wire_len;
	struct rec r;

	calls = 0;
	limit[0] = -1; /* EAGAIN: decoded, nothing sent */
	limit[1] = 3;
	limit[2] = -1;
	program_write(q, n);
	cr_assert_eq(wire_len - base, n);
	cr_assert_eq(memcmp(wire + base, q, n), 0, "the program's bytes");
	end_query(&r);
	cr_assert(ut_str_is(&r, "db.query.text", "SELECT ?"));
	cr_assert_eq(ut_take_spans(&r, 1), 0, "one span, not one per try");
}

/* The program writes pre[0..pn) and a simple query in one call, the
 * kernel taking `cut` bytes first: the wire gets pre, then the query
 * with its comment. */
static void comment_at_every_cut(const char *pre, size_t pn)
{
	char q[64], prog[128], want[256], tp[AT_TRACEPARENT_LEN + 1];
	size_t n = query(q, "SELECT 1"), total = pn + n;
	struct rec r;

	memcpy(prog, pre, pn);
	memcpy(prog + pn, q, n);
	at_cfg.db_sqlcommenter = 1;
	for (size_t cut = 1; cut <= total + AT_PG_COMMENT_LEN; cut++) {
		size_t base, m;

		wire_len = 0; /* each cut on a fresh wire */
		base = wire_len;

		calls = 0;
		limit[0] = (long)cut;
		limit[1] = cut % 3 ? 0 : -1;
		program_write(prog, total);
		end_query(&r);
		/* The program's bytes, the comment before the query's NUL,
		 * the query's length word counting it. */
		at_traceparent_format(&r.u.h.ctx, tp);
		memcpy(want, prog, total - 1);
		m = total - 1 + at_pg_comment(want + total - 1, tp);
		want[m++] = '\0';
		want[pn + 4] = (char)(m - pn - 1);
		cr_assert_eq(wire_len - base, m, "cut %zu", cut);
		cr_assert_eq(memcmp(wire + base, want, m), 0, "cut %zu: %.*s",
			     cut, (int)m, wire + base);
	}
}

Test(wire_pg, sqlcommenter_every_cut)
{
	comment_at_every_cut("", 0);
}

Test(wire_pg, sqlcommenter_every_cut_after_other_bytes)
{
	/* A Flush and a Close of an unknown portal, in the same write. */
	comment_at_every_cut("H\0\0\0\x04" "C\0\0\0\x08Pxy\0", 14);
}

Test(wire_pg, sqlcommenter_not_after_a_line_comment_nor_on_parse)
{
	static const char parse[] = "P\0\0\0\x12s1\0SELECT 1\0\0\0"
				    "B\0\0\0\x0e\0s1\0\0\0\0\0\0\0"
				    "E\0\0\0\x09\0\0\0\0\0"
				    "S\0\0\0\x04";
	char q[64];
	size_t n = query(q, "SELECT 1 -- the end"), base = wire_len;
	struct rec r;

	at_cfg.db_sqlcommenter = 1;
	program_write(q, n);
	cr_assert_eq(wire_len - base, n);
	cr_assert_eq(memcmp(wire + base, q, n), 0);
	end_query(&r);
	base = wire_len;
	program_write(parse, sizeof(parse) - 1);
	cr_assert_eq(wire_len - base, sizeof(parse) - 1);
	cr_assert_eq(memcmp(wire + base, parse, sizeof(parse) - 1), 0);
	reply("1\0\0\0\x04" "2\0\0\0\x04", 10);
	end_query(&r);
	cr_assert(ut_str_is(&r, "db.query.text", "SELECT ?"));
}
