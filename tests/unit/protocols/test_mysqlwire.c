/*
 * test_mysqlwire.c - the MySQL / MariaDB protocol decoders
 * (at_mysqlwire.c): conversations built packet by packet (greeting,
 * handshake, commands and their responses, as MariaDB 10.11 and MySQL 8
 * send them), fed whole, a byte at a time and in uneven pieces, must give
 * the same events; what is passed (TLS, compression, LOCAL INFILE) and
 * what is refused (bytes out of protocol) is checked too.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_mysqlwire.h"

/* ---- building a conversation ---- */

#define SEGS 64

struct conv {
	unsigned char *b;    /* all bytes, both directions, in order */
	size_t n, cap;
	size_t seg_end[SEGS]; /* segment k: bytes [end(k-1), end(k)) */
	bool seg_server[SEGS];
	int nseg;
};

static void conv_init(struct conv *c)
{
	memset(c, 0, sizeof(*c));
	c->cap = 1 << 16;
	c->b = malloc(c->cap);
	cr_assert_not_null(c->b);
}

static void put(struct conv *c, const void *p, size_t n)
{
	if (c->n + n > c->cap) {
		while (c->n + n > c->cap)
			c->cap *= 2;
		c->b = realloc(c->b, c->cap);
		cr_assert_not_null(c->b);
	}
	memcpy(c->b + c->n, p, n);
	c->n += n;
}

/* Start a segment of one direction (consecutive packets of one side). */
static void seg(struct conv *c, bool server)
{
	if (c->nseg > 0 && c->seg_server[c->nseg - 1] == server)
		return;
	if (c->nseg > 0)
		c->seg_end[c->nseg - 1] = c->n;
	cr_assert_lt(c->nseg, SEGS);
	c->seg_server[c->nseg++] = server;
}

static void conv_end(struct conv *c)
{
	if (c->nseg > 0)
		c->seg_end[c->nseg - 1] = c->n;
}

/* A packet of payload p[0..n) with sequence id seq, from one side. */
static void pkt(struct conv *c, bool server, unsigned seq, const void *p,
		size_t n)
{
	unsigned char h[4] = { n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff,
			       seq & 0xff };

	seg(c, server);
	put(c, h, 4);
	put(c, p, n);
}

#define SRV(c, seq, lit) pkt(c, true, seq, lit, sizeof(lit) - 1)
#define CLI(c, seq, lit) pkt(c, false, seq, lit, sizeof(lit) - 1)

/* Capabilities both sides use in these conversations. */
#define CAPS_BASE                                                           \
	(AT_MY_CAP_PROTOCOL_41 | AT_MY_CAP_SECURE_CONNECTION |              \
	 AT_MY_CAP_PLUGIN_AUTH | AT_MY_CAP_AUTH_LENENC |                    \
	 AT_MY_CAP_CONNECT_WITH_DB | AT_MY_CAP_MULTI_STATEMENTS |           \
	 AT_MY_CAP_MULTI_RESULTS)

static void le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A handshake v10 greeting; ext: MariaDB's extended capabilities. */
static void greeting(struct conv *c, const char *version, uint32_t caps,
		     uint32_t ext)
{
	unsigned char g[256];
	size_t vl = strlen(version), o = 0;

	g[o++] = 10;
	memcpy(g + o, version, vl + 1);
	o += vl + 1;
	le(g + o, 42, 4); /* thread id */
	o += 4;
	memcpy(g + o, "scramble", 8);
	o += 8;
	g[o++] = 0;
	le(g + o, caps & 0xffff, 2);
	o += 2;
	g[o++] = 45; /* charset */
	le(g + o, 2, 2); /* status: autocommit */
	o += 2;
	le(g + o, caps >> 16, 2);
	o += 2;
	g[o++] = 21;
	memset(g + o, 0, 6);
	o += 6;
	le(g + o, ext, 4);
	o += 4;
	memcpy(g + o, "0123456789ab", 13);
	o += 13;
	memcpy(g + o, "mysql_native_password", 22);
	o += 22;
	pkt(c, true, 0, g, o);
}

/* A handshake response (sequence id 1) with a 20-byte password hash. */
static void handshake(struct conv *c, uint32_t caps, uint32_t ext,
		      const char *db)
{
	unsigned char h[256];
	size_t o = 0;

	le(h, caps, 4);
	le(h + 4, 1 << 24, 4);
	h[8] = 45;
	memset(h + 9, 0, 23);
	le(h + 28, ext, 4);
	o = 32;
	memcpy(h + o, "autotrace", 10);
	o += 10;
	h[o++] = 20;
	memcpy(h + o, "SECRET-PASSWORD-HASH", 20); /* never reported */
	o += 20;
	if (db) {
		memcpy(h + o, db, strlen(db) + 1);
		o += strlen(db) + 1;
	}
	memcpy(h + o, "mysql_native_password", 22);
	o += 22;
	memcpy(h + o, "\x0c\x04_pid\x06" "123456", 12); /* attributes */
	o += 12;
	pkt(c, false, 1, h, o);
}

static void ok(struct conv *c, unsigned seq, unsigned affected,
	       unsigned status)
{
	unsigned char p[7] = { 0, affected, 0, 0, 0, 0, 0 };

	le(p + 3, status, 2);
	pkt(c, true, seq, p, 7);
}

static void eof(struct conv *c, unsigned seq, unsigned status, bool dep)
{
	unsigned char p[7] = { 0xfe, 0, 0, 0, 0, 0, 0 };

	if (dep) { /* an OK with 0xfe */
		le(p + 3, status, 2);
		pkt(c, true, seq, p, 7);
		return;
	}
	le(p + 3, status, 2);
	pkt(c, true, seq, p, 5);
}

static void coldef(struct conv *c, unsigned seq, const char *name)
{
	unsigned char p[128];
	size_t o = 0, nl = strlen(name);

	memcpy(p, "\x03" "def" "\x09" "autotrace" "\x01t" "\x01t", 18);
	o = 18;
	p[o++] = (unsigned char)nl;
	memcpy(p + o, name, nl);
	o += nl;
	p[o++] = (unsigned char)nl;
	memcpy(p + o, name, nl);
	o += nl;
	memcpy(p + o, "\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00", 13);
	o += 13;
	pkt(c, true, seq, p, o);
}

/* A text result set of one column and `rows` rows; returns the next
 * sequence id. */
static unsigned text_set(struct conv *c, unsigned seq, int rows,
			 unsigned status, bool dep)
{
	SRV(c, seq++, "\x01");
	coldef(c, seq++, "a");
	if (!dep)
		eof(c, seq++, 0, false);
	for (int i = 0; i < rows; i++)
		SRV(c, seq++, "\x02" "42");
	eof(c, seq++, status, dep);
	return seq;
}

/* ---- decoding ---- */

struct log {
	char s[4096];
	size_t n;
	int client_verdict, server_verdict;
};

static void say(struct log *l, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	cr_assert(r >= 0 && (size_t)r < sizeof(l->s) - l->n);
	l->n += (size_t)r;
}

struct pending {
	unsigned cmd[64];
	uint8_t flags[64];
	int head, tail;
	uint64_t caps;
};

static void client_event(struct log *l, struct pending *q, int ev,
			 const struct at_my_client_ev *e)
{
	switch (ev) {
	case AT_MY_C_HANDSHAKE:
		say(l, "C:handshake db=%.*s|", (int)e->text_len,
		    e->text ? e->text : "");
		q->caps = e->caps;
		q->cmd[q->tail++ % 64] = AT_MY_CMD_HANDSHAKE;
		break;
	case AT_MY_C_AUTH:
		say(l, "C:auth|");
		break;
	case AT_MY_C_COMMAND:
		say(l, "C:%02x", e->cmd);
		if (e->text)
			say(l, " '%.*s'%s", (int)e->text_len, e->text,
			    e->text_cut ? "..." : "");
		if (e->stmt_id)
			say(l, " id=%u", e->stmt_id);
		say(l, "|");
		if (at_my_cmd_answered(e->cmd)) {
			q->flags[q->tail % 64] = e->flags;
			q->cmd[q->tail++ % 64] = e->cmd;
		}
		break;
	}
}

static void server_event(struct log *l, int ev, const struct at_my_server_ev *e)
{
	switch (ev) {
	case AT_MY_S_GREETING:
		say(l, "S:greeting %.*s%s|", (int)e->version_len, e->version,
		    e->mariadb ? " mariadb" : "");
		break;
	case AT_MY_S_RESULT:
		say(l, "S:%02x", e->cmd);
		if (e->err)
			say(l, " err=%u state=%s msg='%.*s'", e->code,
			    e->sqlstate, (int)e->msg_len, e->msg);
		if (e->has_rows)
			say(l, " rows=%llu", (unsigned long long)e->rows);
		if (e->affected)
			say(l, " affected=%llu",
			    (unsigned long long)e->affected);
		if (e->cmd == AT_MY_COM_STMT_PREPARE && !e->err)
			say(l, " id=%u cols=%u params=%u", e->stmt_id,
			    e->columns, e->params);
		say(l, "%s|", e->more ? " more" : "");
		break;
	}
}

/* Feed one direction's segment in pieces of `step` bytes (0: whole; a
 * negative step: pieces of varying sizes from a seed). */
static void feed(struct at_my_client *cl, struct at_my_server *sv,
		 struct log *l, struct pending *q, bool server,
		 const unsigned char *p, size_t n, int step)
{
	size_t off = 0, lim = 0;
	unsigned seed = (unsigned)-step;

	while (off < n) {
		size_t piece = step > 0 ? (size_t)step
			       : step == 0 ? n
					   : 1 + (seed = seed * 1103515245 + 12345) % 37;

		lim = off + piece > n ? n : off + piece;
		while (off < lim) {
			size_t used = 0;
			int ev;

			if (!server) {
				struct at_my_client_ev e;

				ev = at_my_client_next(cl, (const char *)p + off,
						       lim - off, &used, &e);
				client_event(l, q, ev, &e);
				if (ev == AT_MY_C_PASS || ev == AT_MY_C_ERROR)
					l->client_verdict = ev;
			} else {
				struct at_my_server_ev e;

				ev = at_my_server_next(sv, (const char *)p + off,
						       lim - off, &used, &e);
				if (ev == AT_MY_S_NEED_CMD) {
					cr_assert_lt(q->head, q->tail,
						     "a response with no command");
					at_my_server_expect(sv, q->cmd[q->head % 64],
							    q->caps,
							    q->flags[q->head % 64]);
					q->head++;
				}
				server_event(l, ev, &e);
				if (ev == AT_MY_S_PASS || ev == AT_MY_S_ERROR)
					l->server_verdict = ev;
			}
			cr_assert_leq(used, lim - off);
			off += used;
		}
	}
}

static void decode(const struct conv *c, int step, struct log *l)
{
	static struct at_my_client cl;
	static struct at_my_server sv;
	struct pending q;
	size_t start = 0;

	memset(l, 0, sizeof(*l));
	memset(&q, 0, sizeof(q));
	at_my_client_init(&cl);
	at_my_server_init(&sv);
	for (int k = 0; k < c->nseg; k++) {
		feed(&cl, &sv, l, &q, c->seg_server[k], c->b + start,
		     c->seg_end[k] - start, step);
		start = c->seg_end[k];
	}
}

/* Every way of cutting the conversation gives the same events. */
static void decode_all_ways(const struct conv *c, struct log *l)
{
	static const int steps[] = { 1, 2, 3, 5, 7, 64, -1, -7, -99 };
	struct log other;

	decode(c, 0, l);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		decode(c, steps[i], &other);
		cr_assert_str_eq(other.s, l->s, "step %d", steps[i]);
		cr_assert_eq(other.client_verdict, l->client_verdict);
		cr_assert_eq(other.server_verdict, l->server_verdict);
	}
}

#define MARIADB_CAPS (CAPS_BASE | AT_MY_CAP_DEPRECATE_EOF)

/* Greeting, handshake, OK: the start of every conversation here. */
static void connect_as(struct conv *c, uint32_t caps, const char *db)
{
	greeting(c, "5.5.5-10.11.19-MariaDB-0+deb12u1", caps, 0);
	handshake(c, caps, 0, db);
	ok(c, 2, 0, 2);
}

/* A conversation logged in to MariaDB (CLIENT_DEPRECATE_EOF). */
static void opened(struct conv *c)
{
	conv_init(c);
	connect_as(c, MARIADB_CAPS, "autotrace");
}

/* The conversation is complete: decode it every way, then free it. */
static void decoded(struct conv *c, struct log *l)
{
	conv_end(c);
	decode_all_ways(c, l);
	free(c->b);
	c->b = NULL;
}

static void session(struct conv *c, bool dep)
{
	uint32_t caps = CAPS_BASE | (dep ? AT_MY_CAP_DEPRECATE_EOF : 0);
	unsigned s;

	conv_init(c);
	connect_as(c, caps, "autotrace");
	CLI(c, 0, "\x03SELECT a FROM t WHERE id = 5");
	text_set(c, 1, 2, 2, dep);
	CLI(c, 0, "\x03INSERT INTO t VALUES (1)");
	ok(c, 1, 1, 2);
	CLI(c, 0, "\x03SELEC 1");
	SRV(c, 1, "\xff\x28\x04#42000You have an error in your SQL syntax");
	/* Two statements: two results, the first says more follow. */
	CLI(c, 0, "\x03SELECT 1; SELECT 2");
	s = text_set(c, 1, 1, 2 | AT_MY_STATUS_MORE_RESULTS, dep);
	text_set(c, s, 1, 2, dep);
	/* A statement prepared, executed, closed. */
	CLI(c, 0, "\x16SELECT ? + ?");
	SRV(c, 1, "\x00\x07\x00\x00\x00\x01\x00\x02\x00\x00\x00\x00");
	coldef(c, 2, "?");
	coldef(c, 3, "?");
	s = 4;
	if (!dep)
		eof(c, s++, 2, false);
	coldef(c, s++, "x");
	if (!dep)
		eof(c, s++, 2, false);
	CLI(c, 0, "\x17\x07\x00\x00\x00\x00\x01\x00\x00\x00"
		  "\x00\x01\x08\x00\x08\x00\x01\x00\x00\x00\x00\x00\x00\x00"
		  "\x02\x00\x00\x00\x00\x00\x00\x00");
	SRV(c, 1, "\x01");
	coldef(c, 2, "x");
	s = 3;
	if (!dep)
		eof(c, s++, 2, false);
	SRV(c, s++, "\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00");
	eof(c, s++, 2, dep);
	CLI(c, 0, "\x19\x07\x00\x00\x00");
	CLI(c, 0, "\x02other");
	ok(c, 1, 0, 2);
	CLI(c, 0, "\x0e");
	ok(c, 1, 0, 2);
	CLI(c, 0, "\x01");
	conv_end(c);
}

static const char session_log[] =
	"S:greeting 5.5.5-10.11.19-MariaDB-0+deb12u1 mariadb|"
	"C:handshake db=autotrace|S:100|"
	"C:03 'SELECT a FROM t WHERE id = 5'|S:03 rows=2|"
	"C:03 'INSERT INTO t VALUES (1)'|S:03 affected=1|"
	"C:03 'SELEC 1'|S:03 err=1064 state=42000 msg='You have an error in "
	"your SQL syntax'|"
	"C:03 'SELECT 1; SELECT 2'|S:03 rows=1 more|S:03 rows=1|"
	"C:16 'SELECT ? + ?'|S:16 id=7 cols=1 params=2|"
	"C:17 id=7|S:17 rows=1|C:19 id=7|"
	"C:02 'other'|S:02|C:0e|S:0e|C:01|";

Test(mysqlwire, a_session_with_and_without_deprecate_eof)
{
	struct conv c;
	struct log l;

	for (int dep = 0; dep < 2; dep++) {
		session(&c, dep);
		decode_all_ways(&c, &l);
		cr_assert_str_eq(l.s, session_log, "deprecate_eof %d", dep);
		cr_assert_eq(l.client_verdict, 0);
		cr_assert_eq(l.server_verdict, 0);
		free(c.b);
	}
}

Test(mysqlwire, the_password_is_never_reported)
{
	struct conv c;
	struct log l;

	session(&c, false);
	decode(&c, 1, &l);
	cr_assert_null(strstr(l.s, "SECRET"));
	free(c.b);
}

Test(mysqlwire, mysql_greeting_and_no_database)
{
	struct conv c;
	struct log l;

	conv_init(&c);
	greeting(&c, "8.0.36", CAPS_BASE | AT_MY_CAP_MYSQL, 0);
	handshake(&c, (CAPS_BASE | AT_MY_CAP_MYSQL) &
			      ~AT_MY_CAP_CONNECT_WITH_DB, 0, NULL);
	ok(&c, 2, 0, 2);
	CLI(&c, 0, "\x0e");
	ok(&c, 1, 0, 2);
	decoded(&c, &l);
	cr_assert_str_eq(l.s, "S:greeting 8.0.36|C:handshake db=|S:100|"
			      "C:0e|S:0e|");
}

Test(mysqlwire, auth_switch_and_more_data)
{
	struct conv c;
	struct log l;

	conv_init(&c);
	greeting(&c, "8.0.36", CAPS_BASE | AT_MY_CAP_MYSQL, 0);
	handshake(&c, CAPS_BASE | AT_MY_CAP_MYSQL, 0, "autotrace");
	SRV(&c, 2, "\xfe" "caching_sha2_password\0" "0123456789abcdefghij");
	CLI(&c, 3, "01234567890123456789012345678901");
	SRV(&c, 4, "\x01\x03");
	ok(&c, 5, 0, 2);
	CLI(&c, 0, "\x03SELECT 1");
	text_set(&c, 1, 1, 2, false);
	decoded(&c, &l);
	cr_assert_str_eq(l.s, "S:greeting 8.0.36|C:handshake db=autotrace|"
			      "C:auth|S:100|C:03 'SELECT 1'|S:03 rows=1|");
}

Test(mysqlwire, a_refused_login)
{
	struct conv c;
	struct log l;

	conv_init(&c);
	greeting(&c, "5.5.5-10.11.19-MariaDB", CAPS_BASE, 0);
	handshake(&c, CAPS_BASE, 0, "autotrace");
	SRV(&c, 2, "\xff\x15\x04#28000Access denied for user 'x'");
	decoded(&c, &l);
	cr_assert(strstr(l.s, "S:100 err=1045 state=28000") != NULL, "%s",
		  l.s);
}

Test(mysqlwire, tls_is_passed)
{
	struct conv c;
	struct log l;
	unsigned char ssl[32] = { 0 };

	conv_init(&c);
	greeting(&c, "8.0.36", CAPS_BASE | AT_MY_CAP_SSL, 0);
	le(ssl, CAPS_BASE | AT_MY_CAP_SSL, 4);
	pkt(&c, false, 1, ssl, 32);
	put(&c, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
	decoded(&c, &l);
	cr_assert_eq(l.client_verdict, AT_MY_C_PASS);
	cr_assert_str_eq(l.s, "S:greeting 8.0.36|");
}

Test(mysqlwire, compression_is_passed_after_the_handshake)
{
	struct conv c;
	struct log l;

	conv_init(&c);
	greeting(&c, "8.0.36", CAPS_BASE | AT_MY_CAP_COMPRESS, 0);
	handshake(&c, CAPS_BASE | AT_MY_CAP_COMPRESS, 0, "db");
	CLI(&c, 0, "\x03SELECT 1"); /* would be compressed: never seen */
	decoded(&c, &l);
	cr_assert_str_eq(l.s, "S:greeting 8.0.36|C:handshake db=db|");
	cr_assert_eq(l.client_verdict, AT_MY_C_PASS);
}

Test(mysqlwire, local_infile_is_passed)
{
	struct conv c;
	struct log l;

	opened(&c);
	CLI(&c, 0, "\x03LOAD DATA LOCAL INFILE 'x' INTO TABLE t");
	SRV(&c, 1, "\xfbx");
	decoded(&c, &l);
	cr_assert_eq(l.server_verdict, AT_MY_S_PASS);
}

Test(mysqlwire, a_long_query_is_cut)
{
	struct conv c;
	struct log l;
	static char q[AT_MY_TEXT_MAX + 100];
	static char want[AT_MY_TEXT_MAX + 200];

	opened(&c);
	q[0] = 3;
	memcpy(q + 1, "SELECT ", 7);
	memset(q + 8, 'x', sizeof(q) - 8);
	pkt(&c, false, 0, q, sizeof(q));
	ok(&c, 1, 0, 2);
	decoded(&c, &l);
	snprintf(want, sizeof(want), "C:03 '%.*s'...|", AT_MY_TEXT_MAX, q + 1);
	cr_assert(strstr(l.s, want) != NULL);
	cr_assert(strstr(l.s, "...|S:03|") != NULL, "%s", l.s);
}

Test(mysqlwire, a_row_longer_than_one_packet_is_one_row)
{
	struct conv c;
	struct log l;
	size_t big = 0xffffff;
	unsigned char *row = calloc(1, big);

	cr_assert_not_null(row);
	opened(&c);
	CLI(&c, 0, "\x03SELECT b FROM blobs");
	SRV(&c, 1, "\x01");
	coldef(&c, 2, "b");
	/* One column of 0xffffff + 9 bytes: 0xfe + 8-byte length. */
	row[0] = 0xfe;
	le(row + 1, big, 8);
	pkt(&c, true, 3, row, big);
	pkt(&c, true, 4, row + 1, 9); /* the rest of the row */
	SRV(&c, 5, "\x02" "42");
	eof(&c, 6, 2, true);
	conv_end(&c);
	decode(&c, 0, &l);
	cr_assert(strstr(l.s, "C:03 'SELECT b FROM blobs'|S:03 rows=2|") !=
		  NULL, "%s", l.s);
	decode(&c, 4096, &l);
	cr_assert(strstr(l.s, "S:03 rows=2|") != NULL, "%s", l.s);
	free(row);
	free(c.b);
}

Test(mysqlwire, mariadb_progress_reports_are_not_errors)
{
	struct conv c;
	struct log l;

	conv_init(&c);
	greeting(&c, "5.5.5-10.11.19-MariaDB", MARIADB_CAPS, 1);
	handshake(&c, MARIADB_CAPS, 1, "autotrace");
	ok(&c, 2, 0, 2);
	CLI(&c, 0, "\x03" "ALTER TABLE t ADD c INT");
	SRV(&c, 1, "\xff\xff\xff\x01\x01\x00\x10\x00\x00\x04stage");
	ok(&c, 2, 0, 2);
	decoded(&c, &l);
	cr_assert(strstr(l.s, "C:03 'ALTER TABLE t ADD c INT'|S:03|") != NULL,
		  "%s", l.s);
}

Test(mysqlwire, cached_metadata_skips_the_definitions)
{
	struct conv c;
	struct log l;

	conv_init(&c);
	greeting(&c, "5.5.5-10.11.19-MariaDB", MARIADB_CAPS, 1u << 4);
	handshake(&c, MARIADB_CAPS, 1u << 4, "autotrace");
	ok(&c, 2, 0, 2);
	CLI(&c, 0, "\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00");
	SRV(&c, 1, "\x01\x00"); /* one column, no metadata */
	SRV(&c, 2, "\x00\x00\x05\x00\x00\x00");
	eof(&c, 3, 2, true);
	CLI(&c, 0, "\x03SELECT 1");
	SRV(&c, 1, "\x01\x01"); /* with metadata */
	coldef(&c, 2, "1");
	SRV(&c, 3, "\x01" "1");
	eof(&c, 4, 2, true);
	decoded(&c, &l);
	cr_assert(strstr(l.s, "C:17 id=1|S:17 rows=1|C:03 'SELECT 1'|"
			      "S:03 rows=1|") != NULL, "%s", l.s);
	cr_assert_eq(l.server_verdict, 0);
}

Test(mysqlwire, out_of_order_sequence_ids_stop_decoding)
{
	struct conv c;
	struct log l;

	opened(&c);
	CLI(&c, 0, "\x03SELECT 1");
	SRV(&c, 1, "\x01");
	coldef(&c, 3, "a"); /* 2 expected */
	decoded(&c, &l);
	cr_assert_eq(l.server_verdict, AT_MY_S_ERROR);
}

Test(mysqlwire, a_response_that_does_not_fit_stops_decoding)
{
	struct conv c;
	struct log l;

	opened(&c);
	CLI(&c, 0, "\x03SELECT 1");
	SRV(&c, 1, "\x01");
	SRV(&c, 2, "\x05hello"); /* not a column definition */
	decoded(&c, &l);
	cr_assert_eq(l.server_verdict, AT_MY_S_ERROR);

	opened(&c);
	CLI(&c, 0, "\x17\x01\x00\x00\x00\x00\x01\x00\x00\x00");
	SRV(&c, 1, "\x01");
	coldef(&c, 2, "a");
	SRV(&c, 3, "\x02" "42"); /* a text row where binary is due */
	decoded(&c, &l);
	cr_assert_eq(l.server_verdict, AT_MY_S_ERROR);
}

Test(mysqlwire, unknown_commands_are_passed)
{
	struct conv c;
	struct log l;

	opened(&c);
	CLI(&c, 0, "\x11user\0");
	decoded(&c, &l);
	cr_assert_eq(l.client_verdict, AT_MY_C_PASS);

	opened(&c);
	CLI(&c, 0, "\x0e");
	ok(&c, 1, 0, 2);
	CLI(&c, 5, "\x03SELECT 1"); /* a command must have sequence id 0 */
	decoded(&c, &l);
	cr_assert_eq(l.client_verdict, AT_MY_C_ERROR);
}

Test(mysqlwire, greeting_detection)
{
	struct conv c;

	conv_init(&c);
	greeting(&c, "5.5.5-10.11.19-MariaDB-0+deb12u1", MARIADB_CAPS, 0);
	cr_assert(at_my_is_greeting((const char *)c.b, c.n));
	cr_assert(at_my_is_greeting((const char *)c.b, 12));
	cr_assert_not(at_my_is_greeting((const char *)c.b, 6));
	cr_assert_not(at_my_is_greeting("HTTP/1.1 200 OK\r\n", 17));
	cr_assert_not(at_my_is_greeting("+OK\r\n\0\0\0\0\0", 10));
	/* A server that refuses the client: an ERR, not a greeting. */
	cr_assert_not(at_my_is_greeting("\x17\x00\x00\x00\xff\x69\x04Host "
					"is blocked",
					27));
	c.b[3] = 1; /* sequence id */
	cr_assert_not(at_my_is_greeting((const char *)c.b, c.n));
	free(c.b);
}
