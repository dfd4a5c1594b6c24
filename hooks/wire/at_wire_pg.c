/*
 * at_wire_pg.c - PostgreSQL on the wire: the family that turns the
 * protocol 3.0 messages of a client connection into statement spans, the
 * same spans libpq's hooks make (name "{operation} {collection}",
 * db.system.name=postgresql, db.query.text sanitised, db.operation.name,
 * db.response.returned_rows, SQLSTATE on failure).  The bytes are
 * decoded by src/protocols/at_pgwire.c, in place, both directions.
 *
 * DESIGN
 *
 * Detection: the first bytes the program sends are a StartupMessage of
 * protocol 3.x, an SSLRequest or a GSSENCRequest.  A CancelRequest
 * connection is no session (nothing to trace).  The kit never hands us a
 * connection whose first bytes libpq sends (the guard's AT_OWN_PQ): libpq
 * traces those itself, one span per statement.
 *
 * Which messages get a span.  One per simple-query message ('Q'), even
 * when it carries several statements: that is what the program asked for
 * in one call and what libpq's PQexec span covers (one span per call,
 * its last result's rows), so a statement looks the same through libpq
 * and through a driver; the text shows all the statements.  One per
 * Execute ('E') in the extended protocol, with the text of the statement
 * the executed portal was bound to: the Parse texts are remembered per
 * connection (the unnamed statement, and STMTS named ones, the oldest
 * replaced; Close forgets one), so a statement prepared once and executed
 * many times shows its text each time.  Parse, Bind, Describe, Close and
 * Sync get no span of their own (libpq's prepared-statement spans are
 * its API calls; on the wire, preparation is part of the execution).
 *
 * Matching replies.  The kit's FIFO holds the commands that wait for an
 * answer that ends them: 'Q' (ends at ReadyForQuery), 'E' (ends at
 * CommandComplete, EmptyQueryResponse, PortalSuspended or an
 * ErrorResponse) and 'S' Sync (ends at ReadyForQuery).  The replies to
 * Parse, Bind, Describe and Close are completions that end nothing, so
 * they need no entry.  DataRows count for the oldest command; a
 * CommandComplete's tag gives the rows (the DataRows of a SELECT, FETCH,
 * RETURNING, else the tag's count is not "returned" and is left out, as
 * libpq does) and, when the statement's text was not known, the
 * operation.  An ErrorResponse goes to the oldest command (an Execute
 * whose Parse or Bind failed gets the Parse's error: the statement's
 * failure); in the extended protocol the server then skips everything up
 * to Sync, so at ReadyForQuery the Executes still waiting end as
 * skipped (error.type PIPELINE_ABORTED, as libpq reports them).
 * Pipelining (many P/B/E before one Sync, several queries in flight on
 * one connection) works the same: replies come in order.  Each span is a
 * child of the span active on the thread that writes the command's bytes.
 *
 * Decoding before sending.  The kit gives the family the bytes before
 * they are sent (decode_out, each byte of the stream once, also across
 * short writes): the receiving thread can therefore never see a reply
 * before its command is in the FIFO, and an SSLRequest tells the backend
 * decoder that a one byte answer comes.  The family does its own send
 * only to apply the comment below.
 *
 * SQLCommenter (AUTOTRACE_DB_SQLCOMMENTER=true): a simple-query message
 * whose bytes are all in one send gets "/" "*traceparent='...'*" "/" (the
 * span's context) appended to its text, its length word rewritten; not
 * when its last line holds "--", nor for a second one in the same send
 * while the first's comment is not out.  Parse is never changed (a named
 * statement's text is fixed).  The count returned maps the wire count
 * back to the program's bytes, as the HTTP header injection does
 * (at_conn_send.c): the replaced length bytes count as the program's; a
 * send that stops inside the comment counts the bytes before it, the
 * rest of the comment goes first in the next send (which comes: the
 * message's NUL is still unsent); a send that moved only comment bytes is
 * retried at once.  The session stops decoding only once no comment is
 * half sent.
 *
 * Stops (the connection's bytes pass untouched from then on): an
 * SSLRequest or GSSENCRequest answered 'S'/'G' (TLS or GSS encryption
 * follows), bytes the decoder rejects in either direction, a
 * FunctionCall, a full FIFO (counted).
 *
 * Limits: one session per connection from a bounded pool; statement
 * texts read up to AT_PG_TEXT_MAX bytes (a longer
 * AUTOTRACE_DB_QUERY_MAX_LENGTH does not get more), named statements'
 * texts kept up to STMT_TEXT bytes, named portals up to PORTALS; more
 * than AT_WIRE_FIFO commands waiting for replies (asyncpg's executemany
 * of some 250 rows and more, pipelined before one Sync) overflow the
 * kit's FIFO: the connection is no longer decoded from there (counted,
 * no span for the command that did not fit).
 */
#include <errno.h>
#include <string.h>

#include "at_config.h"
#include "at_iov.h"
#include "at_pgwire.h"
#include "at_real.h"
#include "at_sql.h"
#include "at_traceparent.h"
#include "at_wire_pg.h"

#define STMTS 16        /* named statements remembered per connection */
#define STMT_TEXT 1024  /* bytes of a statement's text kept */
#define PORTALS 4       /* named portals remembered */
#define NO_STMT 0xff

/* FIFO entry aux: flags, and the last result's rows + 1 (Q). */
#define F_ROWS 1u  /* the current result returns rows (T or D seen) */
#define F_ERR 2u   /* an ErrorResponse went to this command */
#define F_NOTEXT 4u /* an Execute of a statement whose text is unknown */
#define ROWS_SHIFT 8

struct stmt {
	uint32_t name_len, text_len;
	char name[AT_PG_NAME_MAX + 1];
	char text[STMT_TEXT];
};

struct portal {
	uint8_t used, stmt;
	char name[AT_PG_NAME_MAX + 1];
};

/* A simple-query message getting its comment (positions in the
 * program's outgoing stream). */
struct edit {
	_Atomic bool active;
	uint64_t len_at;             /* the length word */
	uint64_t ins_at;             /* the comment goes before this byte */
	unsigned char len[4];        /* the new length word */
	uint8_t done;                /* comment bytes sent */
	char comment[AT_PG_COMMENT_LEN + 1];
};

struct pg_sess {
	/* Hot on every send and receive: first, in a few cache lines. */
	_Atomic bool answer_next; /* an SSL/GSS request went out */
	_Atomic bool stop_asked;  /* the receiver wants to stop */
	bool skipping;       /* an error: Executes until Sync are skipped
			      * (receiver) */
	uint8_t unnamed_portal;       /* its statement, or NO_STMT */
	uint32_t stmt_next;
	uint32_t portal_next;
	struct edit ed;
	/* The decoders: the sending thread's, the receiving thread's. */
	struct at_pg_dec out;
	struct at_pg_dec in;
	/* The sending thread's. */
	struct portal portals[PORTALS];
	struct stmt stmts[STMTS + 1]; /* [0]: the unnamed statement */
	struct at_wire_sql_memo memo; /* the last texts' attributes */
};

static struct at_pool pg_pool =
	AT_POOL_INIT(sizeof(struct at_wire) + sizeof(struct pg_sess), 4096);

static struct pg_sess *sess(struct at_wire *w)
{
	return at_wire_sess(w);
}

/* ---- detection and session ---- */

static int pg_detect_out(const char *p, size_t len)
{
	int type;

	return at_pg_detect_frontend(p, len, &type) && type != AT_PG_CANCEL;
}

static void pg_open(struct at_wire *w)
{
	struct pg_sess *g = sess(w);

	at_pg_init(&g->out, AT_PG_FRONTEND);
	at_pg_init(&g->in, AT_PG_BACKEND);
	g->unnamed_portal = NO_STMT;
}

/* Stop decoding, unless a comment is half sent: then the sender stops
 * once it is out (the kit's send bypasses ours once stopped). */
static void stop(struct at_wire *w)
{
	struct pg_sess *g = sess(w);

	if (atomic_load_explicit(&g->ed.active, memory_order_acquire))
		atomic_store_explicit(&g->stop_asked, true,
				      memory_order_release);
	else
		at_wire_stop(w);
}

/* ---- statements and portals (sender) ---- */

static int stmt_find(struct pg_sess *g, const char *name, size_t len)
{
	if (len == 0)
		return 0;
	for (int i = 1; i <= STMTS; i++) {
		const struct stmt *s = &g->stmts[i];
		if (s->name_len == len && memcmp(s->name, name, len) == 0)
			return i;
	}
	return -1;
}

static void stmt_parse(struct pg_sess *g, const struct at_pg_msg *m)
{
	struct stmt *s;
	int i;

	if (m->name_total > AT_PG_NAME_MAX)
		return; /* cut: could collide with another; left untraced */
	i = stmt_find(g, m->name, m->name_len);
	if (i < 0) {
		i = 1 + (int)(g->stmt_next++ % STMTS);
		if (g->unnamed_portal == i)
			g->unnamed_portal = NO_STMT;
	}
	s = &g->stmts[i];
	s->name_len = m->name_len;
	memcpy(s->name, m->name, m->name_len + 1);
	/* The unnamed statement's text is used once, raw; a named one's is
	 * kept as it will be exported. */
	if (i == 0 || at_cfg.db_raw_query) {
		s->text_len = m->text_len < STMT_TEXT ? m->text_len
						      : STMT_TEXT - 1;
		memcpy(s->text, m->text, s->text_len);
		s->text[s->text_len] = '\0';
	} else {
		s->text_len = (uint32_t)at_sql_sanitize(m->text, m->text_len,
							s->text, STMT_TEXT);
	}
}

static void stmt_close(struct pg_sess *g, const struct at_pg_msg *m)
{
	int i = stmt_find(g, m->name, m->name_len);

	if (i > 0) {
		g->stmts[i].name_len = 0;
		g->stmts[i].text_len = 0;
	}
}

static void portal_bind(struct pg_sess *g, const struct at_pg_msg *m)
{
	int st = m->name2_total > AT_PG_NAME_MAX
			 ? -1
			 : stmt_find(g, m->name2, m->name2_len);
	uint8_t ref = st < 0 ? NO_STMT : (uint8_t)st;
	struct portal *p;

	if (m->name_len == 0) {
		g->unnamed_portal = ref;
		return;
	}
	p = &g->portals[g->portal_next++ % PORTALS];
	for (int i = 0; i < PORTALS; i++) {
		if (g->portals[i].used &&
		    strcmp(g->portals[i].name, m->name) == 0)
			p = &g->portals[i];
	}
	p->used = 1;
	p->stmt = ref;
	memcpy(p->name, m->name, m->name_len + 1);
}

static const struct stmt *portal_stmt(struct pg_sess *g,
				      const struct at_pg_msg *m)
{
	uint8_t ref = NO_STMT;

	if (m->name_len == 0) {
		ref = g->unnamed_portal;
	} else {
		for (int i = 0; i < PORTALS; i++) {
			if (g->portals[i].used &&
			    strcmp(g->portals[i].name, m->name) == 0)
				ref = g->portals[i].stmt;
		}
	}
	return ref == NO_STMT ? NULL : &g->stmts[ref];
}

/* ---- commands (sender) ---- */

/*
 * Push a command waiting for its reply: with a statement span (text may
 * be NULL) when `span`.  The slot is taken first, so a full FIFO makes
 * no span at all (the connection stops being decoded, counted).  Returns
 * the span (NULL: none).
 */
static struct at_span *command(struct at_wire *w, char tag, bool span,
			       const char *text, size_t len, uint64_t flags)
{
	struct at_wire_cmd *c = at_wire_push(w);
	struct at_span *s = NULL;

	if (!c) {
		at_wire_overflow(w);
		return NULL;
	}
	if (span) {
		s = at_wire_span_begin(w, "postgresql", 10);
		if (s && text && len)
			at_wire_sql_statement_memo(s, text, len,
						   &sess(w)->memo);
	}
	c->span = s;
	c->tag = (uint32_t)(unsigned char)tag;
	c->aux = flags;
	at_wire_commit(w);
	return s;
}

static void set_namespace(struct at_wire *w, const struct at_pg_msg *m)
{
	const char *db = m->database[0] ? m->database : m->user;
	size_t n = strnlen(db, sizeof(w->ns) - 1);

	memcpy(w->ns, db, n);
	w->ns[n] = '\0';
}

/* The comment for a simple query whose message is [start, end) of the
 * stream, all of it at offset `at` of this call's iov. */
static void plan_comment(struct pg_sess *g, const struct at_pg_msg *m,
			 const struct at_span *s, const struct iovec *iov,
			 int iovcnt, size_t at, uint64_t start)
{
	char tail[256], tp[AT_TRACEPARENT_LEN + 1];
	size_t n = m->text_total < sizeof(tail) ? m->text_total : sizeof(tail);
	uint32_t len = m->len + 4 + AT_PG_COMMENT_LEN;
	struct edit *e = &g->ed;

	if (!s || atomic_load_explicit(&e->active, memory_order_relaxed) ||
	    len > AT_PG_MSG_LIMIT)
		return;
	/* The text's last bytes (before the NUL). */
	at_iov_copy(tail, iov, iovcnt, at + 5 + m->text_total - n, n);
	if (!at_pg_comment_safe(tail, n, n == m->text_total))
		return;
	at_traceparent_format(at_span_ctx(s), tp);
	at_pg_comment(e->comment, tp);
	e->len[0] = (unsigned char)(len >> 24);
	e->len[1] = (unsigned char)(len >> 16);
	e->len[2] = (unsigned char)(len >> 8);
	e->len[3] = (unsigned char)len;
	e->len_at = start + 1;
	e->ins_at = start + 5 + m->text_total;
	e->done = 0;
	atomic_store_explicit(&e->active, true, memory_order_release);
}

/* A frontend message, decoded from this call's bytes: the message ends
 * at `end` in the stream, at offset end - w->sent of iov. */
static void on_frontend(struct at_wire *w, const struct at_pg_msg *m,
			const struct iovec *iov, int iovcnt, uint64_t end)
{
	struct pg_sess *g = sess(w);
	const struct stmt *st;
	struct at_span *s;

	switch (m->type) {
	case AT_PG_STARTUP:
		set_namespace(w, m);
		break;
	case AT_PG_SSL_REQUEST:
	case AT_PG_GSSENC_REQUEST:
		atomic_store_explicit(&g->answer_next, true,
				      memory_order_release);
		break;
	case AT_PG_CANCEL:
	case 'F':
		stop(w);
		break;
	case 'Q': {
		uint64_t start = end - 5 - m->len;

		s = command(w, 'Q', true, m->text, m->text_len, 0);
		if (at_cfg.db_sqlcommenter && start >= w->sent)
			plan_comment(g, m, s, iov, iovcnt,
				     (size_t)(start - w->sent), start);
		break;
	}
	case 'P':
		stmt_parse(g, m);
		break;
	case 'B':
		portal_bind(g, m);
		break;
	case 'E':
		st = portal_stmt(g, m);
		command(w, 'E', true, st ? st->text : NULL,
			st ? st->text_len : 0, st && st->text_len ? 0 : F_NOTEXT);
		break;
	case 'S':
		command(w, 'S', false, NULL, 0, 0);
		break;
	case 'C':
		if (m->kind == 'S')
			stmt_close(g, m);
		break;
	default:
		break;
	}
}

/* Decode bytes [skip, total) of this call's iov. */
static void decode_out(struct at_wire *w, const struct iovec *iov,
		       int iovcnt, size_t skip)
{
	struct pg_sess *g = sess(w);
	uint64_t pos = w->sent + skip;

	for (int i = 0; i < iovcnt && !at_wire_stopped(w); i++) {
		const char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len, used;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		p += skip;
		n -= skip;
		skip = 0;
		while (n > 0) {
			int ev = at_pg_next(&g->out, p, n, &used);
			if (ev == AT_PG_ERROR) {
				stop(w);
				return;
			}
			p += used;
			n -= used;
			pos += used;
			if (ev == AT_PG_MESSAGE)
				on_frontend(w, &g->out.msg, iov, iovcnt, pos);
			if (at_wire_stopped(w))
				return;
		}
	}
}

/* ---- sending, with the comment (sender) ---- */

struct piece {
	size_t len;
	bool program; /* counts as the program's bytes */
};

#define OUT_IOV 64

/* Send the program's total bytes with the active edit applied; returns
 * the program's count. */
static ssize_t send_edited(struct at_wire *w, int fd, const struct iovec *iov,
			   int iovcnt, size_t total, int flags)
{
	struct edit *e = &sess(w)->ed;

	for (;;) {
		struct iovec v[OUT_IOV];
		struct piece pc[5];
		int nv = 0, np = 0;
		uint64_t p = w->sent, pend = w->sent + total;
		size_t off = 0, got;
		/* Program bytes up to the length word, the new length word's
		 * unsent part, program bytes up to the insertion point, the
		 * rest of the comment, the program's rest. */
		uint64_t marks[2] = { e->len_at, e->len_at + 4 };

		for (int k = 0; k < 2; k++) {
			uint64_t to = marks[k] < pend ? marks[k] : pend;
			if (to <= p + off)
				continue;
			size_t want = (size_t)(to - p - off);
			if (k == 0) {
				got = at_iov_slice(v, &nv, OUT_IOV - 2, iov, iovcnt,
					       off, want);
			} else {
				got = want;
				v[nv].iov_base = e->len + (p + off - e->len_at);
				v[nv++].iov_len = want;
			}
			pc[np++] = (struct piece){ got, true };
			off += got;
			if (got < want)
				goto send;
		}
		if (e->ins_at < pend && e->ins_at > p + off) {
			size_t want = (size_t)(e->ins_at - p - off);
			got = at_iov_slice(v, &nv, OUT_IOV - 2, iov, iovcnt, off,
				       want);
			pc[np++] = (struct piece){ got, true };
			off += got;
			if (got < want)
				goto send;
		}
		if (e->ins_at < pend && e->ins_at == p + off) {
			v[nv].iov_base = e->comment + e->done;
			v[nv++].iov_len = AT_PG_COMMENT_LEN - e->done;
			pc[np++] = (struct piece){ AT_PG_COMMENT_LEN - e->done,
						   false };
		}
		if (off < total) {
			got = at_iov_slice(v, &nv, OUT_IOV, iov, iovcnt, off,
				       total - off);
			pc[np++] = (struct piece){ got, true };
		}
send:;
		ssize_t wr = at_real_sendv(fd, v, nv, flags);
		size_t app = 0, left;

		if (wr < 0)
			return -1;
		left = (size_t)wr;
		for (int k = 0; k < np && left; k++) {
			size_t t = pc[k].len < left ? pc[k].len : left;
			if (pc[k].program)
				app += t;
			else
				e->done = (uint8_t)(e->done + t);
			left -= t;
		}
		if (e->done == AT_PG_COMMENT_LEN)
			atomic_store_explicit(&e->active, false,
					      memory_order_release);
		if (app > 0 || wr == 0 || total == 0)
			return (ssize_t)app;
		/* Only comment bytes moved: go on, the program must not see
		 * 0. */
	}
}

static ssize_t pg_send(struct at_wire *w, int fd, const struct iovec *iov,
		       int iovcnt, int flags)
{
	struct pg_sess *g = sess(w);
	ssize_t r;
	int err;

	if (!atomic_load_explicit(&g->ed.active, memory_order_relaxed))
		r = at_real_sendv(fd, iov, iovcnt, flags);
	else
		r = send_edited(w, fd, iov, iovcnt,
				at_iov_total(iov, iovcnt), flags);
	if (!atomic_load_explicit(&g->ed.active, memory_order_relaxed) &&
	    atomic_load_explicit(&g->stop_asked, memory_order_acquire)) {
		err = errno;
		at_wire_stop(w);
		errno = err;
	}
	return r;
}

/* ---- replies (receiver) ---- */

static void set_rows(struct at_span *s, int64_t rows)
{
	if (s && at_span_recording(s))
		at_span_set_int(s, "db.response.returned_rows", rows);
}

/* A CommandComplete for command c: its rows; the operation from the tag
 * when the text gave none. */
static void command_complete(struct at_wire_cmd *c, const struct at_pg_msg *m)
{
	int64_t rows = at_pg_tag_rows(m->text, m->text_len);
	bool returns = (c->aux & F_ROWS) ||
		       (m->text_len > 7 && memcmp(m->text, "SELECT ", 7) == 0) ||
		       (m->text_len > 6 && memcmp(m->text, "FETCH ", 6) == 0) ||
		       (m->text_len > 5 && memcmp(m->text, "COPY ", 5) == 0);
	int64_t n = returns ? (rows >= 0 ? rows : (int64_t)c->n) : -1;

	if (c->tag == 'E') {
		struct at_span *s = c->span;
		if (n >= 0)
			set_rows(s, n);
		if ((c->aux & F_NOTEXT) && s && at_span_recording(s)) {
			size_t k = 0;
			while (k < m->text_len && m->text[k] != ' ')
				k++;
			at_span_set_str(s, "db.operation.name", m->text, k);
			at_span_set_name(s, m->text, k);
		}
		return;
	}
	/* A simple query: the last result's rows, set at ReadyForQuery. */
	c->aux = (c->aux & 0xff & ~F_ROWS) |
		 (n >= 0 ? (uint64_t)(n + 1) << ROWS_SHIFT : 0);
	c->n = 0;
}

/* ReadyForQuery: what is pending up to the Sync or simple query ends;
 * Executes still waiting were skipped after an error. */
static void ready(struct at_wire *w)
{
	struct pg_sess *g = sess(w);
	struct at_wire_cmd *c;

	while ((c = at_wire_oldest(w))) {
		uint32_t tag = c->tag;

		if (tag == 'E' && g->skipping && c->span &&
		    at_span_recording(c->span)) {
			at_span_set_cstr(c->span, "error.type",
					 "PIPELINE_ABORTED");
			at_span_set_status(c->span, AT_STATUS_ERROR,
					   "skipped after an earlier error", 30);
		}
		if (tag == 'Q' && (c->aux >> ROWS_SHIFT))
			set_rows(c->span, (int64_t)(c->aux >> ROWS_SHIFT) - 1);
		at_wire_finish(w);
		if (tag != 'E')
			break;
	}
	g->skipping = false;
}

static void on_backend(struct at_wire *w, const struct at_pg_msg *m)
{
	struct pg_sess *g = sess(w);
	struct at_wire_cmd *c = at_wire_oldest(w);

	switch (m->type) {
	case AT_PG_ANSWER:
		if (m->kind != 'N')
			stop(w); /* TLS or GSS encryption follows */
		return;
	case 'Z':
		ready(w);
		return;
	default:
		break;
	}
	if (!c || c->tag == 'S')
		return; /* startup, or an error before a Sync */
	switch (m->type) {
	case 'T':
		c->aux |= F_ROWS;
		break;
	case 'D':
		c->aux |= F_ROWS;
		c->n++;
		break;
	case 'C':
		command_complete(c, m);
		if (c->tag == 'E')
			at_wire_finish(w);
		break;
	case 'I':
	case 's':
		if (c->tag == 'E') {
			if (m->type == 's')
				set_rows(c->span, c->n);
			at_wire_finish(w);
		}
		break;
	case 'E':
		if (!(c->aux & F_ERR))
			at_wire_sql_error(c->span, m->code[0] ? m->code : NULL,
					  m->code[0] ? m->code : NULL, m->text,
					  m->text_len);
		c->aux |= F_ERR;
		if (c->tag == 'E') {
			at_wire_finish(w);
			g->skipping = true;
		}
		break;
	default:
		break;
	}
}

static void pg_received(struct at_wire *w, const struct iovec *iov,
			int iovcnt, size_t len)
{
	struct pg_sess *g = sess(w);

	if (atomic_load_explicit(&g->stop_asked, memory_order_relaxed))
		return;
	if (atomic_exchange_explicit(&g->answer_next, false,
				     memory_order_acquire))
		at_pg_expect_answer(&g->in);
	for (int i = 0; i < iovcnt && len > 0; i++) {
		const char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len, used;

		len -= n;
		while (n > 0) {
			int ev = at_pg_next(&g->in, p, n, &used);
			if (ev == AT_PG_ERROR) {
				stop(w);
				return;
			}
			p += used;
			n -= used;
			if (ev == AT_PG_MESSAGE)
				on_backend(w, &g->in.msg);
			/* After an overflow, only what is pending. */
			if ((at_wire_stopped(w) &&
			     !(w->overflowed && at_wire_oldest(w))) ||
			    atomic_load_explicit(&g->stop_asked,
						 memory_order_relaxed))
				return;
		}
	}
}

const struct at_wire_family at_wire_pg_family = {
	.name = "postgresql",
	.proto_bit = AT_PROTO_POSTGRESQL,
	.pool = &pg_pool,
	.sess_size = sizeof(struct pg_sess),
	.detect_out = pg_detect_out,
	.open = pg_open,
	.decode_out = decode_out,
	.send = pg_send,
	.received = pg_received,
};

/* ---- SQLCommenter for libpq ---- */

const char *at_wire_pg_commented(const struct at_span *s, const char *q,
				 char *buf, size_t cap)
{
	char tp[AT_TRACEPARENT_LEN + 1];
	size_t n;

	if (!at_cfg.db_sqlcommenter || !s || !q)
		return q;
	n = strlen(q);
	if (n + AT_PG_COMMENT_LEN + 1 > cap || !at_pg_comment_safe(q, n, 1))
		return q;
	memcpy(buf, q, n);
	at_traceparent_format(at_span_ctx(s), tp);
	at_pg_comment(buf + n, tp);
	return buf;
}
