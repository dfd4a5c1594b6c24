/*
 * test_pgwire.c - the PostgreSQL protocol 3.0 decoder (at_pgwire.c): the
 * messages and fields it hands back from both directions, the same for
 * every split of the stream (each stream is decoded whole, cut at every
 * byte in two, and one byte at a time), bound parameter values and
 * passwords never copied, bounded copies, and the errors that stop it.
 *
 * The streams are built here with the protocol's framing (type byte,
 * big-endian length counting itself, NUL-terminated strings).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "at_pgwire.h"

#define MAXM 24

struct stream {
	unsigned char b[8192];
	size_t n;
};

static struct at_pg_msg got[MAXM];
static size_t n_got;
static int verdict;

static void put(struct stream *s, const void *p, size_t n)
{
	cr_assert_leq(s->n + n, sizeof(s->b));
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void put32(struct stream *s, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };
	put(s, b, 4);
}

static void put16(struct stream *s, uint16_t v)
{
	unsigned char b[2] = { v >> 8, v };
	put(s, b, 2);
}

static void cstr(struct stream *s, const char *z)
{
	put(s, z, strlen(z) + 1);
}

/* A typed message: its body is body[0..len). */
static void msg(struct stream *s, char type, const void *body, size_t len)
{
	put(s, &type, 1);
	put32(s, (uint32_t)len + 4);
	put(s, body, len);
}

static void msg_str(struct stream *s, char type, const char *z)
{
	msg(s, type, z, strlen(z) + 1);
}

static void startup(struct stream *s, const char *const *kv)
{
	struct stream b = { .n = 0 };

	put32(&b, AT_PG_PROTOCOL_3);
	for (; *kv; kv++)
		cstr(&b, *kv);
	put(&b, "", 1);
	put32(s, (uint32_t)b.n + 4);
	put(s, b.b, b.n);
}

static void parse(struct stream *s, const char *name, const char *text)
{
	struct stream b = { .n = 0 };

	cstr(&b, name);
	cstr(&b, text);
	put16(&b, 1);
	put32(&b, 23);
	msg(s, 'P', b.b, b.n);
}

static void bind(struct stream *s, const char *portal, const char *stmt,
		 const char *value)
{
	struct stream b = { .n = 0 };

	cstr(&b, portal);
	cstr(&b, stmt);
	put16(&b, 0);
	put16(&b, 1);
	put32(&b, (uint32_t)strlen(value));
	put(&b, value, strlen(value));
	put16(&b, 0);
	msg(s, 'B', b.b, b.n);
}

static void execute(struct stream *s, const char *portal, uint32_t rows)
{
	struct stream b = { .n = 0 };

	cstr(&b, portal);
	put32(&b, rows);
	msg(s, 'E', b.b, b.n);
}

/* Decode s in chunks of `chunk` bytes (0: whole), or cut once at `cut`. */
static void run(const struct stream *s, enum at_pg_side side, int answer,
		size_t chunk, size_t cut)
{
	static struct at_pg_dec d;
	size_t pos = 0;

	at_pg_init(&d, side);
	if (answer)
		at_pg_expect_answer(&d);
	n_got = 0;
	verdict = AT_PG_MORE;
	while (pos < s->n) {
		size_t len = s->n - pos, used;
		if (chunk && len > chunk)
			len = chunk;
		if (cut && pos < cut && pos + len > cut)
			len = cut - pos;
		size_t off = 0;
		while (off < len) {
			int ev = at_pg_next(&d, (const char *)s->b + pos + off,
					    len - off, &used);
			if (ev == AT_PG_ERROR) {
				verdict = AT_PG_ERROR;
				return;
			}
			off += used;
			if (ev == AT_PG_MORE)
				break;
			cr_assert_lt(n_got, MAXM);
			got[n_got++] = d.msg;
		}
		pos += len;
	}
	if (verdict != AT_PG_ERROR)
		cr_assert(at_pg_at_boundary(&d));
}

/* Decode every way; each must give the whole decoding's messages. */
static void run_all(const struct stream *s, enum at_pg_side side, int answer)
{
	static struct at_pg_msg ref[MAXM];
	size_t n_ref;
	int v_ref;

	run(s, side, answer, 0, 0);
	memcpy(ref, got, sizeof(ref));
	n_ref = n_got;
	v_ref = verdict;
	for (size_t cut = 1; cut < s->n; cut++) {
		run(s, side, answer, 0, cut);
		cr_assert_eq(n_got, n_ref, "cut at %zu", cut);
		cr_assert_eq(verdict, v_ref, "cut at %zu", cut);
		for (size_t i = 0; i < n_got; i++) {
			cr_assert_eq(got[i].type, ref[i].type);
			cr_assert_str_eq(got[i].text, ref[i].text);
			cr_assert_str_eq(got[i].name, ref[i].name);
			cr_assert_str_eq(got[i].name2, ref[i].name2);
		}
	}
	run(s, side, answer, 1, 0);
	cr_assert_eq(n_got, n_ref);
	cr_assert_eq(verdict, v_ref);
	memcpy(got, ref, sizeof(ref));
	n_got = n_ref;
	verdict = v_ref;
}

static int msg_holds(const struct at_pg_msg *m, const char *secret)
{
	return memmem(m, sizeof(*m), secret, strlen(secret)) != NULL;
}

Test(pgwire, startup_and_simple_query)
{
	static const char *const kv[] = { "user", "postgres", "database",
					  "autotrace", "application_name",
					  "psql", "client_encoding", "UTF8",
					  NULL };
	struct stream s = { .n = 0 };

	startup(&s, kv);
	msg_str(&s, 'Q', "SELECT 1; SELECT 'x'");
	msg(&s, 'X', "", 0);
	run_all(&s, AT_PG_FRONTEND, 0);
	cr_assert_eq(verdict, AT_PG_MORE);
	cr_assert_eq(n_got, 3);
	cr_assert_eq(got[0].type, AT_PG_STARTUP);
	cr_assert_eq(got[0].num, AT_PG_PROTOCOL_3);
	cr_assert_str_eq(got[0].user, "postgres");
	cr_assert_str_eq(got[0].database, "autotrace");
	cr_assert_str_eq(got[0].application, "psql");
	cr_assert_eq(got[1].type, 'Q');
	cr_assert_str_eq(got[1].text, "SELECT 1; SELECT 'x'");
	cr_assert_eq(got[1].text_total, 20);
	cr_assert_eq(got[2].type, 'X');
}

Test(pgwire, ssl_and_gssenc_refused_then_startup)
{
	static const char *const kv[] = { "user", "u", NULL };
	struct stream s = { .n = 0 }, b = { .n = 0 };

	put32(&s, 8);
	put32(&s, AT_PG_GSSENC_CODE);
	put32(&s, 8);
	put32(&s, AT_PG_SSL_CODE);
	startup(&s, kv);
	run_all(&s, AT_PG_FRONTEND, 0);
	cr_assert_eq(n_got, 3);
	cr_assert_eq(got[0].type, AT_PG_GSSENC_REQUEST);
	cr_assert_eq(got[1].type, AT_PG_SSL_REQUEST);
	cr_assert_eq(got[2].type, AT_PG_STARTUP);
	cr_assert_str_eq(got[2].user, "u");
	cr_assert_str_eq(got[2].database, "");

	put(&b, "N", 1); /* the answer: one byte */
	put(&b, "R", 1);
	put32(&b, 8);
	put32(&b, 0);
	put(&b, "Z", 1);
	put32(&b, 5);
	put(&b, "I", 1);
	run_all(&b, AT_PG_BACKEND, 1);
	cr_assert_eq(verdict, AT_PG_MORE);
	cr_assert_eq(n_got, 3);
	cr_assert_eq(got[0].type, AT_PG_ANSWER);
	cr_assert_eq(got[0].kind, 'N');
	cr_assert_eq(got[1].type, 'R');
	cr_assert_eq(got[1].num, 0);
	cr_assert_eq(got[2].type, 'Z');
	cr_assert_eq(got[2].kind, 'I');
}

Test(pgwire, ssl_accepted_then_tls_is_an_error)
{
	struct stream b = { .n = 0 };

	put(&b, "S\x16\x03\x01\x02\x00", 6);
	run(&b, AT_PG_BACKEND, 1, 0, 0);
	cr_assert_eq(n_got, 1);
	cr_assert_eq(got[0].kind, 'S');
	cr_assert_eq(verdict, AT_PG_ERROR);
}

Test(pgwire, extended_pipeline_never_copies_values)
{
	static const char *const kv[] = { "user", "postgres", NULL };
	struct stream s = { .n = 0 };
	char d[] = "Ps1";

	startup(&s, kv);
	parse(&s, "s1", "SELECT * FROM orders WHERE id = $1");
	bind(&s, "", "s1", "secret-4111");
	msg(&s, 'D', d, 4);
	execute(&s, "", 0);
	bind(&s, "p2", "s1", "secret-4112");
	execute(&s, "p2", 10);
	msg(&s, 'C', "Ss1", 4);
	msg(&s, 'S', "", 0);
	msg(&s, 'p', "hunter2", 8);
	run_all(&s, AT_PG_FRONTEND, 0);
	cr_assert_eq(verdict, AT_PG_MORE);
	cr_assert_eq(n_got, 10);
	cr_assert_eq(got[1].type, 'P');
	cr_assert_str_eq(got[1].name, "s1");
	cr_assert_str_eq(got[1].text, "SELECT * FROM orders WHERE id = $1");
	cr_assert_eq(got[2].type, 'B');
	cr_assert_str_eq(got[2].name, "");
	cr_assert_str_eq(got[2].name2, "s1");
	cr_assert_eq(got[3].type, 'D');
	cr_assert_eq(got[3].kind, 'P');
	cr_assert_str_eq(got[3].name, "s1");
	cr_assert_eq(got[4].type, 'E');
	cr_assert_eq(got[4].num, 0);
	cr_assert_str_eq(got[5].name, "p2");
	cr_assert_str_eq(got[6].name, "p2");
	cr_assert_eq(got[6].num, 10);
	cr_assert_eq(got[7].type, 'C');
	cr_assert_eq(got[7].kind, 'S');
	cr_assert_eq(got[8].type, 'S');
	cr_assert_eq(got[9].type, 'p');
	for (size_t i = 0; i < n_got; i++) {
		cr_assert(!msg_holds(&got[i], "secret"));
		cr_assert(!msg_holds(&got[i], "hunter2"));
	}
}

Test(pgwire, long_text_and_names_are_bounded)
{
	static char text[5000], name[200];
	struct stream s = { .n = 0 };

	memset(text, 'a', sizeof(text) - 1);
	memcpy(text, "SELECT ", 7);
	memset(name, 'n', sizeof(name) - 1);
	msg_str(&s, 'Q', text);
	parse(&s, name, "SELECT 1");
	run(&s, AT_PG_FRONTEND, 0, 0, 0);
	cr_assert_eq(verdict, AT_PG_ERROR); /* typed before a startup */

	s.n = 0;
	static const char *const kv[] = { "user", "u", NULL };
	startup(&s, kv);
	msg_str(&s, 'Q', text);
	parse(&s, name, "SELECT 1");
	run(&s, AT_PG_FRONTEND, 0, 7, 0);
	cr_assert_eq(verdict, AT_PG_MORE);
	cr_assert_eq(n_got, 3);
	cr_assert_eq(got[1].text_len, AT_PG_TEXT_MAX);
	cr_assert_eq(got[1].text_total, sizeof(text) - 1);
	cr_assert_eq(strlen(got[1].text), AT_PG_TEXT_MAX);
	cr_assert_eq(got[2].name_len, AT_PG_NAME_MAX);
	cr_assert_eq(got[2].name_total, sizeof(name) - 1);
	cr_assert_str_eq(got[2].text, "SELECT 1");
}

Test(pgwire, backend_results_errors_copy)
{
	struct stream s = { .n = 0 }, e = { .n = 0 };
	unsigned char row[] = { 0, 1, 0, 0, 0, 1, '7' };
	unsigned char copy[] = { 0, 0, 1, 0, 0 };

	msg(&s, '1', "", 0);
	msg(&s, '2', "", 0);
	msg(&s, 'T', "\0\0", 2);
	msg(&s, 'D', row, sizeof(row));
	msg_str(&s, 'C', "SELECT 1");
	cstr(&e, "SERROR");
	cstr(&e, "VERROR");
	cstr(&e, "C42P01");
	cstr(&e, "Mrelation \"nope\" does not exist");
	cstr(&e, "P15");
	put(&e, "", 1);
	msg(&s, 'E', e.b, e.n);
	msg(&s, 'Z', "E", 1);
	msg(&s, 'H', copy, sizeof(copy));
	msg(&s, 'd', "1\tone\n", 6);
	msg(&s, 'c', "", 0);
	msg_str(&s, 'C', "COPY 1");
	msg(&s, 'Z', "I", 1);
	run_all(&s, AT_PG_BACKEND, 0);
	cr_assert_eq(verdict, AT_PG_MORE);
	cr_assert_eq(n_got, 12);
	cr_assert_str_eq(got[4].text, "SELECT 1");
	cr_assert_eq(got[5].type, 'E');
	cr_assert_str_eq(got[5].code, "42P01");
	cr_assert_str_eq(got[5].text, "relation \"nope\" does not exist");
	cr_assert_eq(got[6].kind, 'E');
	cr_assert_eq(got[7].type, 'H');
	cr_assert_str_eq(got[10].text, "COPY 1");
	cr_assert_eq(got[11].kind, 'I');
}

Test(pgwire, tag_rows)
{
	cr_assert_eq(at_pg_tag_rows("SELECT 5", 8), 5);
	cr_assert_eq(at_pg_tag_rows("INSERT 0 3", 10), 3);
	cr_assert_eq(at_pg_tag_rows("UPDATE 120", 10), 120);
	cr_assert_eq(at_pg_tag_rows("CREATE TABLE", 12), -1);
	cr_assert_eq(at_pg_tag_rows("BEGIN", 5), -1);
	cr_assert_eq(at_pg_tag_rows("5", 1), -1);
}

Test(pgwire, detect_frontend)
{
	struct stream s = { .n = 0 };
	static const char *const kv[] = { "user", "u", NULL };
	int t = 0;

	startup(&s, kv);
	cr_assert(at_pg_detect_frontend((const char *)s.b, s.n, &t));
	cr_assert_eq(t, AT_PG_STARTUP);
	s.n = 0;
	put32(&s, 8);
	put32(&s, AT_PG_SSL_CODE);
	cr_assert(at_pg_detect_frontend((const char *)s.b, s.n, &t));
	cr_assert_eq(t, AT_PG_SSL_REQUEST);
	s.n = 0;
	put32(&s, 16);
	put32(&s, AT_PG_CANCEL_CODE);
	put32(&s, 1);
	put32(&s, 2);
	cr_assert(at_pg_detect_frontend((const char *)s.b, s.n, &t));
	cr_assert_eq(t, AT_PG_CANCEL);
	cr_assert(!at_pg_detect_frontend("GET / HTTP/1.1\r\n", 16, &t));
	cr_assert(!at_pg_detect_frontend("*1\r\n$4\r\nPING\r\n", 14, &t));
	cr_assert(!at_pg_detect_frontend("\0\0\0\x08\0\x02\0\0", 8, &t));
	cr_assert(!at_pg_detect_frontend("\0\0\0\x08", 4, &t));
}

/* After a valid startup, message type/body must stop the decoder. */
static void bad_after_startup(char type, const char *body, size_t len)
{
	static const char *const kv[] = { "user", "u", NULL };
	struct stream s = { .n = 0 };

	startup(&s, kv);
	msg(&s, type, body, len);
	run_all(&s, AT_PG_FRONTEND, 0);
	cr_assert_eq(verdict, AT_PG_ERROR, "type %c", type);
	cr_assert_eq(n_got, 1);
}

static void bad_stream(enum at_pg_side side, int answer, const char *p,
		       size_t len)
{
	struct stream s = { .n = 0 };

	put(&s, p, len);
	run_all(&s, side, answer);
	cr_assert_eq(verdict, AT_PG_ERROR);
}

Test(pgwire, malformed_streams_stop)
{
	struct stream s = { .n = 0 };

	bad_after_startup('z', "", 0);             /* an unknown type */
	bad_after_startup('Q', "SELECT 1", 8);     /* no NUL */
	bad_after_startup('Q', "SELECT 1\0x", 10); /* bytes after it */
	bad_after_startup('D', "X\0", 2);          /* neither 'S' nor 'P' */
	bad_after_startup('S', "x", 1);            /* Sync has no body */
	bad_after_startup('E', "\0\0\0", 3);       /* a short row limit */
	bad_stream(AT_PG_FRONTEND, 0, "\0\0\0\x08\0\x02\0\0", 8); /* v2 */
	bad_stream(AT_PG_BACKEND, 0, "Q\0\0\0\x03", 5);  /* length < 4 */
	bad_stream(AT_PG_BACKEND, 0, "Z\0\0\0\x06II", 7); /* Z of 2 bytes */
	bad_stream(AT_PG_BACKEND, 0, "D\x7f\xff\xff\xff", 5); /* huge */
	bad_stream(AT_PG_BACKEND, 1, "X", 1);      /* not an answer */
	bad_stream(AT_PG_FRONTEND, 0, "GET / HTTP/1.1\r\n\r\n", 18);
	/* After a CancelRequest nothing follows. */
	put32(&s, 16);
	put32(&s, AT_PG_CANCEL_CODE);
	put32(&s, 1);
	put32(&s, 2);
	put(&s, "Q", 1);
	run_all(&s, AT_PG_FRONTEND, 0);
	cr_assert_eq(verdict, AT_PG_ERROR);
	cr_assert_eq(n_got, 1);
}
