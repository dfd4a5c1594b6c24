/*
 * at_wire_mysql.c - MySQL and MariaDB on the wire: the family that turns
 * the client/server protocol of a client connection into statement spans
 * (name "{operation} {collection}", db.system.name "mysql" or "mariadb",
 * db.query.text sanitised, db.operation.name, db.namespace,
 * db.response.returned_rows, the error number on failure).  The bytes are
 * decoded by src/protocols/at_mysqlwire.c, in place, both directions.
 *
 * DESIGN
 *
 * Detection: the server speaks first; the first bytes a client connection
 * receives are a protocol 10 greeting.  Its server version names the
 * system: "MariaDB" in it gives db.system.name "mariadb", else "mysql".
 *
 * Which commands get a span, each the child of the span active on the
 * thread that writes the command's bytes:
 *   - COM_QUERY: one span per message, even when it carries several
 *     statements (CLIENT_MULTI_STATEMENTS): that is what the program asked
 *     for in one call; the text shows them all, the operation and
 *     collection are the first one's, the rows are those of all its
 *     result sets, and the span ends with the last result;
 *   - COM_STMT_PREPARE: a span of its own (operation PREPARE, the
 *     statement's text): a round trip of its own, as libpq's PQprepare;
 *   - COM_STMT_EXECUTE: a span with the text of the prepared statement it
 *     executes (from the table below), rows of its (binary) result sets;
 *   - COM_INIT_DB: operation USE, db.namespace the schema asked for;
 *   - COM_PING: operation PING.
 * Other commands that are answered (COM_STMT_RESET, COM_STMT_FETCH,
 * COM_STATISTICS, ...) are in the FIFO without a span, so the replies
 * stay matched; COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA and COM_QUIT have
 * no reply.  The handshake is in the FIFO too (no span): its entry
 * carries the client's capabilities to the receiving side, which needs
 * the negotiated ones (CLIENT_DEPRECATE_EOF...) to read result sets.
 *
 * Errors: an ERR packet gives db.response.status_code and error.type =
 * the error number as a string ("1146"), as the semantic conventions for
 * MySQL and MariaDB say, and status ERROR with the message redacted by
 * at_wire_sql_error (the SQLSTATE picks the redaction rules; values the
 * message echoes become '?').
 *
 * Prepared statements.  The statement id comes in the reply to
 * COM_STMT_PREPARE, on the receiving side; the text was known on the
 * sending side; COM_STMT_EXECUTE names the id on the sending side again.
 * The session keeps a table of STMTS slots, each with the text (raw, up
 * to STMT_TEXT bytes, sanitised when a span carries it) written by the
 * sending thread only, and one atomic word (generation, state, id): the
 * sender fills a slot's text and publishes it PENDING with a new
 * generation (the FIFO entry of the prepare carries slot and generation),
 * the receiver turns PENDING into READY with the id by a compare-and-swap
 * that fails if the slot was reused meanwhile, the sender finds a READY
 * slot by id.  A full table reuses the slot least recently used;
 * COM_STMT_CLOSE frees one.  MariaDB's "execute the statement just
 * prepared" (id 0xffffffff, sent right behind the prepare) is the last
 * slot prepared.
 *
 * db.namespace: the database of the handshake, then the schema of each
 * COM_INIT_DB the server accepted: the receiver publishes the outcome
 * (an atomic word), the sender adopts the new name before its next span.
 *
 * Decoding before sending.  The kit gives the family the bytes before
 * they are sent (decode_out, each once), so the receiving thread never
 * sees a reply before its command is in the FIFO.
 *
 * Stops (the connection's bytes pass untouched from then on): TLS
 * (SSLRequest), compression, LOAD DATA LOCAL INFILE, a command the
 * decoder does not follow (COM_CHANGE_USER, replication...), bytes either
 * decoder rejects, a reply with no command waiting, a full FIFO (counted;
 * the replies of the commands already in it are still decoded, so their
 * spans end on time).
 *
 * Limits: one session per connection from a bounded pool; statement texts
 * kept up to STMT_TEXT bytes, STMTS statements per connection; a USE in a
 * COM_QUERY does not change db.namespace; cursors (COM_STMT_FETCH) get no
 * span of their own.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "at_config.h"
#include "at_mysqlwire.h"
#include "at_wire_mysql.h"

#define STMTS 32
#define STMT_TEXT 480
#define MAX_SESSIONS 1024

/* A slot's word: generation << 40 | state << 32 | statement id. */
enum { SLOT_FREE = 0, SLOT_PENDING = 1, SLOT_READY = 2 };
#define SLOT_WORD(gen, st, id)                                              \
	((uint64_t)(gen) << 40 | (uint64_t)(st) << 32 | (uint32_t)(id))
#define SLOT_GEN(w) ((uint32_t)((w) >> 40))
#define SLOT_STATE(w) ((unsigned)((w) >> 32) & 0xff)
#define SLOT_ID(w) ((uint32_t)(w))

struct stmt {
	_Atomic uint64_t word;
	uint32_t used;      /* sender: when last used (LRU) */
	uint16_t len;
	bool cut;
	char text[STMT_TEXT];
};

/* What a FIFO entry's n says besides the command. */
#define N_ROWS 1u /* a result set was read: rows in aux */

struct my_sess {
	/* The sending side's. */
	struct at_my_client cl;
	uint64_t caps;           /* the client's capabilities */
	uint32_t clock;          /* LRU clock of the table */
	int last_prepared;       /* slot, or -1 */
	uint32_t init_db_seq;    /* COM_INIT_DBs sent */
	char ns_next[64];        /* the schema of the last one */
	/* The receiving side's. */
	struct at_my_server sv;
	/* COM_INIT_DB outcomes: seq << 1 | accepted (receiver writes). */
	_Atomic uint64_t init_db_done;
	uint32_t init_db_seen;   /* sender: the last outcome adopted */
	struct stmt stmts[STMTS];
	struct at_wire_sql_memo memo; /* sender: the last texts' attributes */
};

static struct at_pool pool = AT_WIRE_POOL_INIT(struct my_sess, MAX_SESSIONS);

static struct my_sess *sess(struct at_wire *w)
{
	return at_wire_sess(w);
}

static int my_detect_in(const char *p, size_t len)
{
	return at_my_is_greeting(p, len);
}

static void my_open(struct at_wire *w)
{
	struct my_sess *m = sess(w);

	at_my_client_init(&m->cl);
	at_my_server_init(&m->sv);
	m->last_prepared = -1;
}

/* ---- the statement table (text: sender; word: both) ---- */

static struct stmt *stmt_find(struct my_sess *m, uint32_t id)
{
	if (id == 0xffffffffu)
		return m->last_prepared >= 0 ? &m->stmts[m->last_prepared]
					     : NULL;
	for (int i = 0; i < STMTS; i++) {
		uint64_t wd = atomic_load_explicit(&m->stmts[i].word,
						   memory_order_acquire);

		if (SLOT_STATE(wd) == SLOT_READY && SLOT_ID(wd) == id)
			return &m->stmts[i];
	}
	return NULL;
}

/* A slot for a statement being prepared: free, else least recently used.
 * Returns its index; *gen: the slot's new generation. */
static int stmt_take(struct my_sess *m, const char *text, size_t len,
		     bool cut, uint32_t *gen)
{
	int best = 0;

	for (int i = 0; i < STMTS; i++) {
		uint64_t wd = atomic_load_explicit(&m->stmts[i].word,
						   memory_order_relaxed);

		if (SLOT_STATE(wd) == SLOT_FREE) {
			best = i;
			break;
		}
		if (m->stmts[i].used < m->stmts[best].used)
			best = i;
	}
	struct stmt *s = &m->stmts[best];

	*gen = (SLOT_GEN(atomic_load_explicit(&s->word,
					      memory_order_relaxed)) + 1) &
	       0xffffff;
	/* Retire the old generation first: a late reply to its prepare
	 * cannot make the new text READY. */
	atomic_store_explicit(&s->word, SLOT_WORD(*gen, SLOT_FREE, 0),
			      memory_order_relaxed);
	if (len > STMT_TEXT) {
		len = STMT_TEXT;
		cut = true;
	}
	memcpy(s->text, text, len);
	s->len = (uint16_t)len;
	s->cut = cut;
	s->used = ++m->clock;
	atomic_store_explicit(&s->word, SLOT_WORD(*gen, SLOT_PENDING, 0),
			      memory_order_release);
	m->last_prepared = best;
	return best;
}

/* The prepare's reply gave the id (receiver). */
static void stmt_ready(struct my_sess *m, uint64_t aux, uint32_t id)
{
	unsigned slot = (unsigned)(aux & 0xff);
	uint64_t want = SLOT_WORD(aux >> 8, SLOT_PENDING, 0);

	if (slot >= STMTS)
		return;
	atomic_compare_exchange_strong_explicit(
		&m->stmts[slot].word, &want,
		SLOT_WORD(aux >> 8, SLOT_READY, id), memory_order_release,
		memory_order_relaxed);
}

static void stmt_close(struct my_sess *m, uint32_t id)
{
	struct stmt *s = id == 0xffffffffu ? NULL : stmt_find(m, id);

	if (s)
		atomic_store_explicit(
			&s->word,
			SLOT_WORD(SLOT_GEN(atomic_load_explicit(
					  &s->word, memory_order_relaxed)),
				  SLOT_FREE, 0),
			memory_order_relaxed);
}

/* ---- commands (sender) ---- */

/* Adopt the schema of the last COM_INIT_DB the server accepted. */
static void adopt_namespace(struct at_wire *w, struct my_sess *m)
{
	uint64_t d = atomic_load_explicit(&m->init_db_done,
					  memory_order_acquire);
	uint32_t seq = (uint32_t)(d >> 1);

	if (seq == m->init_db_seen)
		return;
	m->init_db_seen = seq;
	if ((d & 1) && seq == m->init_db_seq) {
		memcpy(w->ns, m->ns_next, sizeof(w->ns));
		w->ns[sizeof(w->ns) - 1] = '\0';
	}
}

static void set_ns(char *dst, size_t cap, const char *p, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* Push a command whose reply comes; NULL (and stop) if the FIFO is full. */
static struct at_wire_cmd *push(struct at_wire *w, struct at_span *s,
				unsigned tag, uint64_t aux)
{
	struct at_wire_cmd *c = at_wire_push(w);

	if (!c) {
		at_wire_span_end(s);
		at_wire_overflow(w);
		return NULL;
	}
	c->span = s;
	c->tag = tag;
	c->aux = aux;
	at_wire_commit(w);
	return c;
}

/* A span for a statement (text may be NULL: op names it). */
static struct at_span *statement_span(struct at_wire *w, const char *text,
				      size_t len, const char *op)
{
	struct at_span *s = at_wire_span_begin(w, "mysql", 5);

	if (op || !text)
		at_wire_sql_statement(s, text, len, op);
	else
		at_wire_sql_statement_memo(s, text, len, &sess(w)->memo);
	return s;
}

static void command(struct at_wire *w, struct my_sess *m,
		    const struct at_my_client_ev *e)
{
	struct at_span *s = NULL;
	struct stmt *st;
	uint64_t aux = 0;
	uint32_t gen;
	char old_ns[sizeof(w->ns)];

	adopt_namespace(w, m);
	switch (e->cmd) {
	case AT_MY_COM_QUERY:
		s = statement_span(w, e->text, e->text_len, NULL);
		break;
	case AT_MY_COM_STMT_PREPARE:
		s = statement_span(w, e->text, e->text_len, "PREPARE");
		aux = (uint64_t)stmt_take(m, e->text, e->text_len, e->text_cut,
					  &gen) |
		      (uint64_t)gen << 8;
		break;
	case AT_MY_COM_STMT_EXECUTE:
		st = stmt_find(m, e->stmt_id);
		if (st) {
			st->used = ++m->clock;
			s = statement_span(w, st->text, st->len, NULL);
		} else {
			s = statement_span(w, NULL, 0, "EXECUTE");
		}
		aux = e->flags;
		break;
	case AT_MY_COM_STMT_CLOSE:
		stmt_close(m, e->stmt_id);
		return;
	case AT_MY_COM_INIT_DB:
		/* The span names the schema it switches to. */
		memcpy(old_ns, w->ns, sizeof(old_ns));
		set_ns(m->ns_next, sizeof(m->ns_next), e->text, e->text_len);
		memcpy(w->ns, m->ns_next, sizeof(w->ns));
		s = statement_span(w, NULL, 0, "USE");
		memcpy(w->ns, old_ns, sizeof(w->ns));
		aux = ++m->init_db_seq;
		break;
	case AT_MY_COM_PING:
		s = statement_span(w, NULL, 0, "PING");
		break;
	default:
		break;
	}
	if (at_my_cmd_answered(e->cmd))
		push(w, s, e->cmd, aux);
}

/* Decode what the program sends, from byte `skip` of iov. */
static void decode_out(struct at_wire *w, const struct iovec *iov, int iovcnt,
		       size_t skip)
{
	struct my_sess *m = sess(w);

	for (int i = 0; i < iovcnt && !at_wire_stopped(w); i++) {
		const char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		p += skip;
		n -= skip;
		skip = 0;
		while (n > 0 && !at_wire_stopped(w)) {
			struct at_my_client_ev e;
			size_t used = 0;
			int ev = at_my_client_next(&m->cl, p, n, &used, &e);

			p += used;
			n -= used;
			if (ev == AT_MY_C_HANDSHAKE) {
				m->caps = e.caps;
				if (e.text_len)
					set_ns(w->ns, sizeof(w->ns), e.text,
					       e.text_len);
				push(w, NULL, AT_MY_CMD_HANDSHAKE, e.caps);
			} else if (ev == AT_MY_C_COMMAND) {
				command(w, m, &e);
			} else if (ev == AT_MY_C_PASS || ev == AT_MY_C_ERROR) {
				at_wire_stop(w);
			}
		}
	}
}

/* ---- replies (receiver) ---- */

static void result(struct at_wire *w, struct my_sess *m,
		   const struct at_my_server_ev *e)
{
	struct at_wire_cmd *c = at_wire_oldest(w);
	char code[8];

	if (!c)
		return;
	if (e->cmd == AT_MY_COM_STMT_PREPARE && !e->err)
		stmt_ready(m, c->aux, e->stmt_id);
	if (e->cmd == AT_MY_COM_INIT_DB)
		atomic_store_explicit(&m->init_db_done,
				      (uint64_t)(uint32_t)c->aux << 1 | !e->err,
				      memory_order_release);
	if (e->has_rows) {
		if (!(c->n & N_ROWS))
			c->aux = 0;
		c->n |= N_ROWS;
		c->aux += e->rows;
	}
	if (e->err && c->span) {
		snprintf(code, sizeof(code), "%u", e->code);
		at_wire_sql_error(c->span, code,
				  e->sqlstate[0] ? e->sqlstate : NULL, e->msg,
				  e->msg_len);
	}
	if (e->more)
		return;
	if ((c->n & N_ROWS) && c->span && at_span_recording(c->span))
		at_span_set_int(c->span, "db.response.returned_rows",
				(int64_t)c->aux);
	at_wire_finish(w);
}

/* Replies are decoded while the family decodes the connection, and after
 * a FIFO overflow while commands sent before it wait for theirs. */
static bool replies_wanted(struct at_wire *w)
{
	return !at_wire_stopped(w) || (w->overflowed && at_wire_oldest(w));
}

static void decode_in(struct at_wire *w, const char *p, size_t n)
{
	struct my_sess *m = sess(w);

	while (n > 0 && replies_wanted(w)) {
		struct at_my_server_ev e;
		struct at_wire_cmd *c;
		size_t used = 0;
		int ev = at_my_server_next(&m->sv, p, n, &used, &e);

		p += used;
		n -= used;
		switch (ev) {
		case AT_MY_S_GREETING:
			set_ns(w->system, sizeof(w->system),
			       e.mariadb ? "mariadb" : "mysql",
			       e.mariadb ? 7 : 5);
			break;
		case AT_MY_S_NEED_CMD:
			c = at_wire_oldest(w);
			if (!c) {
				at_wire_stop(w); /* a reply to nothing */
				return;
			}
			at_my_server_expect(&m->sv, c->tag,
					    c->tag == AT_MY_CMD_HANDSHAKE
						    ? c->aux
						    : 0,
					    (uint8_t)c->aux);
			break;
		case AT_MY_S_RESULT:
			result(w, m, &e);
			break;
		case AT_MY_S_PASS:
		case AT_MY_S_ERROR:
			at_wire_stop(w);
			return;
		}
	}
}

static void my_received(struct at_wire *w, const struct iovec *iov,
			int iovcnt, size_t len)
{
	for (int i = 0; i < iovcnt && len > 0 && replies_wanted(w); i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		decode_in(w, iov[i].iov_base, n);
		len -= n;
	}
}

const struct at_wire_family at_wire_mysql_family = {
	.name = "mysql",
	.proto_bit = AT_PROTO_MYSQL,
	.pool = &pool,
	.sess_size = sizeof(struct my_sess),
	.detect_in = my_detect_in,
	.open = my_open,
	.decode_out = decode_out,
	.received = my_received,
};
