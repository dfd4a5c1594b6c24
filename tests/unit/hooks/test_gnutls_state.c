/*
 * Unit tests of the GnuTLS family's sending (hooks/tls/at_tls_gnutls.c)
 * without GnuTLS: the function table (at_gnutls) points at a fake session
 * that behaves as the manual says - a record send takes at most 16 KiB;
 * GNUTLS_E_AGAIN keeps the record it encrypted, and the next send, whatever
 * its arguments, flushes that record and returns its count.  The fake's
 * "wire" is the plaintext the peer would decrypt.  Covered: E_AGAIN (and
 * E_INTERRUPTED) at each inner send of a request head, up to three times
 * in a row, retried with the same arguments or with NULL and 0, the head in one
 * or two program calls: the wire is the program's bytes plus one
 * traceparent line before the blank line, the counts returned add up to
 * the program's bytes, and the line names the request's client span.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "at_tls_gnutls.h"
#include "at_traceparent.h"
#include "unit.h"
#include "ut_spans.h"

#define S ((gnutls_session_t)(uintptr_t)0x7000)
#define REC 16384
#define ANSWER "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

static char wire[65536];
static size_t wire_len;
static char pend[REC];
static size_t pend_len;
static int calls, fail_from, fail_count, fail_code;

/* Inner sends numbered from 1: fail_count failures from fail_from on. */
static bool should_fail(void)
{
	calls++;
	if (fail_count && calls >= fail_from) {
		fail_count--;
		return true;
	}
	return false;
}

static ssize_t fake_send(gnutls_session_t s, const void *data, size_t len)
{
	size_t n = len < REC ? len : REC;

	cr_assert_eq(s, S);
	if (pend_len) {
		/* A record is kept: flush it, whatever the arguments. */
		if (should_fail())
			return fail_code;
		memcpy(wire + wire_len, pend, pend_len);
		wire_len += pend_len;
		n = pend_len;
		pend_len = 0;
		return (ssize_t)n;
	}
	cr_assert(data && len, "a send with no data and nothing kept");
	if (should_fail()) {
		memcpy(pend, data, n);
		pend_len = n;
		return fail_code;
	}
	memcpy(wire + wire_len, data, n);
	wire_len += n;
	return (ssize_t)n;
}

static ssize_t fake_recv(gnutls_session_t s, void *data, size_t len)
{
	(void)s;
	cr_assert_geq(len, strlen(ANSWER));
	memcpy(data, ANSWER, strlen(ANSWER));
	return (ssize_t)strlen(ANSWER);
}

static size_t fake_max_size(gnutls_session_t s)
{
	(void)s;
	return REC;
}

static int fake_is_fatal(int e)
{
	return e != GNUTLS_E_AGAIN && e != GNUTLS_E_INTERRUPTED;
}

static void setup(void)
{
	ut_core_setup();
	ut_drain_ring();
	memset(&at_gnutls, 0, sizeof(at_gnutls));
	at_gnutls.gnutls_record_send = fake_send;
	at_gnutls.gnutls_record_recv = fake_recv;
	at_gnutls.gnutls_record_get_max_size = fake_max_size;
	at_gnutls.gnutls_error_is_fatal = fake_is_fatal;
	wire_len = pend_len = 0;
	calls = fail_count = 0;
	fail_code = GNUTLS_E_AGAIN;
	at_gnutls_session_made(S, GNUTLS_CLIENT);
	at_gnutls_transport(S, -1);
}

static void teardown(void)
{
	at_gnutls_session_end(S);
	ut_drain_ring();
}

TestSuite(gnutls_state, .init = setup, .fini = teardown);

/* Send len bytes of p as a program does: retry on E_AGAIN with the same
 * arguments or NULL and 0; the sum of the counts. */
static size_t program_send(const char *p, size_t len, bool null_retry)
{
	size_t off = 0;
	bool again = false;

	for (int guard = 0; off < len && guard < 100; guard++) {
		ssize_t r = again && null_retry
				    ? at_gnutls_send(S, NULL, 0, 0, 0, false)
				    : at_gnutls_send(S, p + off, len - off, 0,
						     0, false);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			again = true;
			continue;
		}
		cr_assert_gt(r, 0, "send returned %zd", r);
		cr_assert_leq((size_t)r, len - off, "count past the request");
		again = false;
		off += (size_t)r;
	}
	return off;
}

static void check(const char *head, int cut, int from, int count, int code,
		  bool null_retry)
{
	size_t len = strlen(head), at = len - 2;
	char tp[AT_TRACEPARENT_LEN + 1], buf[64];
	struct rec spans[4];

	fail_from = from;
	fail_count = count;
	fail_code = code;
	size_t sent = program_send(head, (size_t)cut, null_retry);
	sent += program_send(head + cut, len - (size_t)cut, null_retry);
	cr_assert_eq(sent, len, "the program's count: %zu of %zu", sent, len);
	cr_assert_eq(fail_count, 0, "the failures planned did not all happen");
	cr_assert_eq(pend_len, 0, "a record is left behind");
	/* The wire: the head with one line before its blank line. */
	cr_assert_gt(wire_len, len);
	size_t line = wire_len - len;
	cr_assert_eq(memcmp(wire, head, at), 0, "the bytes before the line");
	cr_assert_eq(memcmp(wire + at + line, head + at, 2), 0);
	cr_assert_eq(memcmp(wire + at, "traceparent: ", 13), 0,
		     "no line at the end of the head: %.*s", (int)wire_len,
		     wire);
	cr_assert_eq(line, 13 + AT_TRACEPARENT_LEN + 2);
	/* The answer ends the client span, named by the line. */
	cr_assert_eq(at_gnutls_recv(S, buf, sizeof(buf)),
		     (ssize_t)strlen(ANSWER));
	cr_assert_eq(ut_take_spans(spans, 4), 1);
	at_traceparent_format(&spans[0].u.h.ctx, tp);
	cr_assert_eq(memcmp(wire + at + 13, tp, AT_TRACEPARENT_LEN), 0,
		     "the line names another span");
}

#define HEAD "GET /x HTTP/1.1\r\nHost: api.test\r\nAccept: */*\r\n\r\n"

Test(gnutls_state, no_again) { check(HEAD, (int)strlen(HEAD), 1, 0, 0, false); }

Test(gnutls_state, again_same_args)
{
	/* One inner send (the head and its line, gathered), failing once
	 * to three times in a row (the first keeps it, the others flush). */
	for (int count = 1; count <= 3; count++) {
		setup();
		check(HEAD, (int)strlen(HEAD), 1, count, GNUTLS_E_AGAIN, false);
		teardown();
	}
}

Test(gnutls_state, again_null_retry)
{
	/* One inner send (the head and its line, gathered), failing once
	 * to three times in a row (the first keeps it, the others flush). */
	for (int count = 1; count <= 3; count++) {
		setup();
		check(HEAD, (int)strlen(HEAD), 1, count, GNUTLS_E_AGAIN, true);
		teardown();
	}
}

Test(gnutls_state, interrupted_split_head)
{
	/* The first call's inner send, or the second's (with the line). */
	for (int cut = 1; cut < (int)strlen(HEAD); cut += 7)
		for (int from = 1; from <= 2; from++) {
			setup();
			check(HEAD, cut, from, 1, GNUTLS_E_INTERRUPTED,
			      cut % 2);
			teardown();
		}
}

/* A head and a 40 KB body in one buffer: records of at most 16 KiB, the
 * first gathered with the line; E_AGAIN at each of the first three. */
Test(gnutls_state, head_and_body_past_one_record)
{
	static char req[41000];
	const char *head = "POST /u HTTP/1.1\r\nHost: api.test\r\n"
			   "Content-Length: 40000\r\n\r\n";
	size_t hl = strlen(head), len = hl + 40000, line;

	memcpy(req, head, hl);
	memset(req + hl, 'b', 40000);
	for (int from = 1; from <= 3; from++) {
		setup();
		fail_from = from;
		fail_count = 1;
		cr_assert_eq(program_send(req, len, from == 2), len);
		cr_assert_eq(fail_count, 0);
		line = wire_len - len;
		cr_assert_eq(line, 13 + AT_TRACEPARENT_LEN + 2);
		cr_assert_eq(memcmp(wire, req, hl - 2), 0);
		cr_assert_eq(memcmp(wire + hl - 2, "traceparent: ", 13), 0);
		cr_assert_eq(memcmp(wire + hl - 2 + line, req + hl - 2,
				    len - hl + 2),
			     0, "the body differs");
		teardown();
	}
}

/* gnutls_init at the address of a session whose gnutls_deinit went
 * unseen: the stale state (a request in flight) ends, the new session
 * starts afresh and is traced. */
Test(gnutls_state, init_over_stale_state)
{
	struct rec spans[4];
	char buf[64];

	cr_assert_eq(program_send(HEAD, strlen(HEAD), false), strlen(HEAD));
	cr_assert_eq(ut_take_spans(spans, 4), 0, "the request is in flight");
	at_gnutls_session_made(S, GNUTLS_CLIENT);
	cr_assert_eq(ut_take_spans(spans, 4), 1, "the stale request ended");
	wire_len = 0;
	cr_assert_eq(program_send(HEAD, strlen(HEAD), false), strlen(HEAD));
	cr_assert_eq(memcmp(wire + strlen(HEAD) - 2, "traceparent: ", 13), 0,
		     "the new session is not traced");
	cr_assert_eq(at_gnutls_recv(S, buf, sizeof(buf)),
		     (ssize_t)strlen(ANSWER));
	cr_assert_eq(ut_take_spans(spans, 4), 1);
}
