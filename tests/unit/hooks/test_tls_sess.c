/*
 * Unit tests of the TLS layer's write loop (hooks/tls/at_tls.c) with a
 * fake TLS library: its write accepts a scripted number of bytes (partial
 * mode), or everything, or fails ("call again"), and records the pointer
 * and length of every call.  The session has no descriptor (a memory
 * transport).  Each case checks what TLS libraries require: after a
 * failed inner write, the program's retry with the same arguments makes
 * the same inner write (same pointer, same length); without partial mode
 * a call returns all or fails; counts never include the injected line;
 * the bytes written are the program's plus one line.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#include "at_tls.h"
#include "unit.h"
#include "ut_spans.h"

#define CALLS_MAX 4096
#define FAIL -1L
#define ALL 0x7fffffffL

static char wire[65536];
static size_t wire_len;
static long script[CALLS_MAX];
static int n_script, at_script;
static struct {
	const void *p;
	size_t len;
	int failed;
} calls[CALLS_MAX];
static int n_calls;
static char session; /* its address is the session's handle */

static long fake_write(struct at_tls *t, const void *buf, size_t len)
{
	long lim = at_script < n_script ? script[at_script++] : ALL;

	(void)t;
	cr_assert_lt(n_calls, CALLS_MAX);
	calls[n_calls].p = buf;
	calls[n_calls].len = len;
	calls[n_calls].failed = lim == FAIL;
	n_calls++;
	if (lim == FAIL)
		return -1;
	if ((size_t)lim > len)
		lim = (long)len;
	cr_assert_leq(wire_len + (size_t)lim, sizeof(wire));
	memcpy(wire + wire_len, buf, (size_t)lim);
	wire_len += (size_t)lim;
	return lim;
}

static bool fake_partial_mode; /* the session's partial-write mode */

static bool fake_partial(struct at_tls *t)
{
	(void)t;
	return fake_partial_mode;
}

static const struct at_tls_lib fake_lib = { .write = fake_write,
					    .partial = fake_partial };

static struct at_tls *t;

static void setup(void)
{
	ut_core_setup();
	ut_drain_ring();
	at_span_set_env_parent(NULL, NULL, 0);
	wire_len = 0;
	n_script = at_script = n_calls = 0;
	fake_partial_mode = false;
	t = at_tls_sess_get(&session, true);
	cr_assert_not_null(t);
	at_tls_sess_start(t, &fake_lib, false, -1, NULL, 0);
	cr_assert_eq(t->state, AT_TLS_TRACED);
}

static void teardown(void)
{
	at_tls_sess_forget(&session);
	ut_drain_ring();
}

TestSuite(tls_sess, .init = setup, .fini = teardown);

static const char REQ[] = "POST /p HTTP/1.1\r\nHost: api.example\r\n"
			  "Content-Length: 10\r\n\r\n0123456789";

/* The wire holds REQ plus exactly one traceparent line before the blank
 * line. */
static void check_wire(void)
{
	const char *blank = strstr(REQ, "\r\n\r\n") + 2;
	size_t head = (size_t)(blank - REQ), line = wire_len - (sizeof(REQ) - 1);

	cr_assert_eq(line, 55 + 15, "one line (%zu bytes)", line);
	cr_expect_eq(memcmp(wire, REQ, head), 0);
	cr_expect_eq(memcmp(wire + head, "traceparent: 00-", 16), 0);
	cr_expect_eq(memcmp(wire + head + line, blank, sizeof(REQ) - 1 - head),
		     0);
}

/* Every failed inner write is followed by the same one. */
static void check_retries(void)
{
	int failed = 0;

	for (int i = 0; i + 1 < n_calls; i++) {
		if (!calls[i].failed)
			continue;
		failed++;
		cr_expect_eq(calls[i + 1].p, calls[i].p, "call %d: same pointer",
			     i + 1);
		cr_expect_eq(calls[i + 1].len, calls[i].len,
			     "call %d: same length", i + 1);
	}
	cr_expect_gt(failed, 0, "the script made writes fail");
}

Test(tls_sess, all_or_fail_retries_repeat_the_inner_write)
{
	long s[64];
	size_t w = 0;
	long raw = 0;
	int tries = 0;
	enum at_tls_wr r;

	for (int i = 0; i < 64; i++)
		s[i] = i % 2 ? ALL : FAIL; /* every inner write fails once */
	memcpy(script, s, sizeof(s));
	n_script = 64;
	do {
		r = at_tls_sess_write(t, REQ, sizeof(REQ) - 1, &w, &raw);
		if (r == AT_TLS_FAILED)
			cr_expect_eq(raw, -1, "the real call's value");
		cr_assert_lt(++tries, 32);
	} while (r == AT_TLS_FAILED);
	cr_assert_eq(r, AT_TLS_WROTE);
	cr_expect_eq(w, sizeof(REQ) - 1, "all, never a partial count");
	check_wire();
	check_retries();
}

Test(tls_sess, partial_counts_map_back_to_the_program)
{
	size_t off = 0, w;
	long raw;
	int tries = 0;

	fake_partial_mode = true;
	for (int i = 0; i < 200; i++)
		script[i] = i % 3 == 0 ? FAIL : 7; /* 7 bytes a call, fails */
	n_script = 200;
	while (off < sizeof(REQ) - 1) {
		enum at_tls_wr r = at_tls_sess_write(t, REQ + off,
						     sizeof(REQ) - 1 - off, &w,
						     &raw);
		cr_assert_lt(++tries, 400);
		if (r == AT_TLS_FAILED)
			continue;
		cr_assert_eq(r, AT_TLS_WROTE);
		cr_assert_gt(w, 0);
		cr_assert_leq(w, sizeof(REQ) - 1 - off, "never beyond the ask");
		off += w;
	}
	check_wire();
	check_retries();
}

Test(tls_sess, retry_shorter_than_the_progress_goes_to_the_real_call)
{
	static char big[4096];
	size_t w = 0;
	long raw = 0;
	int h = snprintf(big, sizeof(big),
			 "PUT /b HTTP/1.1\r\nHost: h\r\nContent-Length: %zu"
			 "\r\n\r\n", sizeof(big) - 64);

	memset(big + h, 'b', sizeof(big) - (size_t)h);
	/* One record with the head, its line and what fits of the body
	 * goes; the rest fails: the call fails with progress kept. */
	script[0] = ALL;
	script[1] = FAIL;
	n_script = 2;
	cr_assert_eq(at_tls_sess_write(t, big, (size_t)h + sizeof(big) - 64,
				       &w, &raw),
		     AT_TLS_FAILED);
	cr_expect_eq(at_tls_sess_write(t, big, 5, &w, &raw),
		     AT_TLS_REAL, "OpenSSL refuses it itself");
}

Test(tls_sess, the_client_span_is_https)
{
	size_t w;
	long raw;
	struct rec recs[8];
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				   "\r\nok";

	cr_assert_eq(at_tls_sess_write(t, REQ, sizeof(REQ) - 1, &w, &raw),
		     AT_TLS_WROTE);
	at_tls_sess_read(t, resp, sizeof(resp) - 1, 0);
	int n = ut_take_spans(recs, 8);
	cr_assert_eq(n, 1);
	cr_expect(ut_str_is(&recs[0], "url.full", "https://api.example/p"));
	cr_expect_eq(ut_int_attr(&recs[0], "server.port"), 443);
	cr_expect_eq(ut_int_attr(&recs[0], "http.response.status_code"), 200);
}

/* Each thread remembers the last session it found: a session freed and
 * another made at the same address is new, on that thread as on others. */
static sem_t step, done;
static struct at_tls *found[2];
static char session2;

static void *other_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2; i++) {
		sem_wait(&step);
		found[i] = at_tls_sess_get(&session, false);
		sem_post(&done);
	}
	return NULL;
}

Test(tls_sess, a_session_made_again_at_a_freed_address_is_new)
{
	pthread_t th;
	struct at_tls *again;

	sem_init(&step, 0, 0);
	sem_init(&done, 0, 0);
	cr_assert_eq(pthread_create(&th, NULL, other_thread, NULL), 0);
	sem_post(&step);
	sem_wait(&done);
	cr_expect_eq(found[0], t, "the other thread finds the session");
	cr_expect_eq(at_tls_sess_get(&session, false), t);
	at_tls_sess_forget(&session);
	cr_expect_null(at_tls_sess_get(&session, false), "forgotten here");
	/* Another session takes the freed state first, so that a stale
	 * memory of it would show. */
	cr_assert_not_null(at_tls_sess_get(&session2, true));
	again = at_tls_sess_get(&session, true);
	cr_assert_not_null(again);
	cr_expect_neq(again, t);
	cr_expect_eq(again->state, AT_TLS_NEW, "a new session starts anew");
	sem_post(&step);
	sem_wait(&done);
	cr_expect_eq(found[1], again, "and is what the other thread finds");
	pthread_join(th, NULL);
	at_tls_sess_forget(&session2);
}
