/*
 * at_wire_kit.h - what the wire-protocol families (at_wire_pg.c,
 * at_wire_mysql.c, at_wire_redis.c) are made of: the family table entry
 * at_wire.c dispatches through, the session every claimed connection
 * gets, the FIFO of commands waiting for their replies, and the span
 * helpers they share.  at_wire.c has the design.
 *
 * A family's session is the kit's struct at_wire followed by the
 * family's own state (fam->sess_size bytes at at_wire_sess(w)), taken
 * from the family's pool (no malloc on the hot path) and zeroed.
 */
#ifndef AT_WIRE_KIT_H
#define AT_WIRE_KIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "at_pool.h"
#include "at_span.h"
#include "at_sql.h"

struct at_wire;

struct at_wire_family {
	const char *name;          /* "postgresql", "mysql", "redis" */
	uint32_t proto_bit;        /* AT_PROTO_* of at_config.h */
	/* Pool of sessions: objects of sizeof(struct at_wire) + sess_size. */
	struct at_pool *pool;
	size_t sess_size;
	/* 1 if the first bytes the client sends (detect_out) or the server
	 * sends (detect_in) are this protocol's; either may be NULL. */
	int (*detect_out)(const char *p, size_t len);
	int (*detect_in)(const char *p, size_t len);
	/* The session was just made (family state zeroed); optional. */
	void (*open)(struct at_wire *w);
	/* The bytes of iov from byte `skip` on, about to be sent for the
	 * first time: decode them before they go (push the commands, start
	 * their spans), so that no reply is read before its command is in
	 * the FIFO.  The kit gives each byte of the stream once: what a
	 * short write left unsent, and the program sends again, is skipped. */
	void (*decode_out)(struct at_wire *w, const struct iovec *iov,
			   int iovcnt, size_t skip);
	/* The send itself, when the family edits the bytes (SQLCommenter):
	 * returns the program's count, like sendmsg.  NULL: the real send. */
	ssize_t (*send)(struct at_wire *w, int fd, const struct iovec *iov,
			int iovcnt, int flags);
	/* Bytes received (len 0: end of stream). */
	void (*received)(struct at_wire *w, const struct iovec *iov,
			 int iovcnt, size_t len);
	/* Give back what the family holds besides the FIFO's spans (the kit
	 * ends those); optional. */
	void (*release)(struct at_wire *w);
};

/* One command sent and waiting for its reply (or replies). */
struct at_wire_cmd {
	struct at_span *span; /* NULL: not traced (sampled out, no span) */
	uint32_t tag;         /* the family's: what the command was */
	uint32_t n;           /* the family's: e.g. replies still expected */
	uint64_t aux;         /* the family's */
	/* The request it was sent for (set by the kit at commit from the
	 * last at_wire_span_begin): its reply resumes it (at_context.h). */
	struct at_ctx_entry req;
};

#define AT_WIRE_FIFO 256

struct at_wire {
	const struct at_wire_family *fam;
	/* The family stopped decoding for good (TLS, pub/sub, an error in
	 * the bytes, the FIFO full...): nothing more is looked at. */
	_Atomic bool stopped;
	/* Stopped by at_wire_overflow: the commands still in the FIFO get
	 * their replies decoded; nothing after them does. */
	bool overflowed;
	char system[16];       /* db.system.name ("" = fam->name) */
	char ip[46];           /* the peer, as at_wire_peer said */
	int port;
	char path[108];
	char ns[64];           /* db.namespace, when known ("" if not) */
	/* The attributes every span of the connection carries, in the
	 * order they are set (db.system.name, db.namespace, server.address
	 * and the rest of the peer's), as one block, made again whenever
	 * system or ns differs from the copies it was made with
	 * (at_wire_span_begin; at_wire_peer_block resets it). */
	struct at_span_block attrs;
	bool attrs_made;
	char attrs_system[16];  /* system and ns the block was made with */
	char attrs_ns[64];
	/* Commands in flight: the sending thread pushes, the receiving one
	 * pops (single producer, single consumer). */
	struct at_wire_cmd fifo[AT_WIRE_FIFO];
	_Atomic uint32_t head, tail;
	struct at_ctx_entry next_req; /* sender: for the next commit */
	uint64_t sent;         /* sender: the program's bytes sent */
	uint64_t decoded;      /* sender: bytes given to decode_out, >= sent */
	_Alignas(16) unsigned char sess[];
};

/* A family's pool of sessions whose state is struct `type`. */
#define AT_WIRE_POOL_INIT(type, max_sessions)                              \
	AT_POOL_INIT(sizeof(struct at_wire) + sizeof(type), max_sessions)

static inline void *at_wire_sess(struct at_wire *w)
{
	return w->sess;
}

/* The family stops decoding this connection (what is pending stays until
 * its reply or the close). */
static inline void at_wire_stop(struct at_wire *w)
{
	atomic_store_explicit(&w->stopped, true, memory_order_relaxed);
}

static inline bool at_wire_stopped(const struct at_wire *w)
{
	return atomic_load_explicit(&w->stopped, memory_order_relaxed);
}

/* ---- the FIFO ---- */

/* The slot for the next command (sender), or NULL when full: the family
 * then calls at_wire_overflow() (replies could no longer be matched). */
struct at_wire_cmd *at_wire_push(struct at_wire *w);
/* Make the pushed slot visible to the receiver. */
void at_wire_commit(struct at_wire *w);
/* The k-th oldest (0 = oldest), or NULL (inline: the receiver asks at
 * every message). */
static inline struct at_wire_cmd *at_wire_peek(struct at_wire *w, uint32_t k)
{
	uint32_t h = atomic_load_explicit(&w->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&w->tail, memory_order_acquire);

	return t - h <= k ? NULL : &w->fifo[(h + k) % AT_WIRE_FIFO];
}

/* The oldest command waiting (receiver), or NULL. */
static inline struct at_wire_cmd *at_wire_oldest(struct at_wire *w)
{
	return at_wire_peek(w, 0);
}
/* End the oldest command's span (if any) and drop it. */
void at_wire_finish(struct at_wire *w);
/* How many commands wait. */
uint32_t at_wire_pending(const struct at_wire *w);
/* Too many commands in flight: counted, and no command sent from now on
 * is decoded; the replies of those already in the FIFO still are (their
 * spans end as usual), and once they are matched the connection is no
 * longer looked at.  The family's received() must expect calls after it
 * stopped: only to match what is still pending. */
void at_wire_overflow(struct at_wire *w);

/* ---- spans ---- */

/*
 * A client span for a command being sent now: a child of the sending
 * thread's active span (not activated), named name, with db.system.name,
 * db.namespace (if known), server.address/server.port (or the socket
 * path and network.transport=unix), network.peer.address/port.  NULL if
 * no span could be made (pool empty, tracing off): push the command
 * anyway, with a NULL span, so replies stay matched.
 */
struct at_span *at_wire_span_begin(struct at_wire *w, const char *name,
				   size_t name_len);
/* The peer (w->ip, w->port, w->path) was set: the connection's block
 * is made again at the next span (the session's open). */
void at_wire_peer_block(struct at_wire *w);
/* End and give back a span of at_wire_span_begin that was not pushed. */
void at_wire_span_end(struct at_span *s);

/*
 * The statement attributes every SQL span carries (libpq's and the
 * wire's): db.query.text (sanitised unless AUTOTRACE_DB_RAW_QUERY, cut to
 * AUTOTRACE_DB_QUERY_MAX_LENGTH), db.operation.name and
 * db.collection.name, and the span name "{operation} {collection}".
 * op: an operation name that overrides the text's (may be NULL).
 */
void at_wire_sql_statement(struct at_span *s, const char *text, size_t len,
			   const char *op);

/*
 * The same, remembering what the text gave in memo (a connection's: one
 * sending thread at a time): a program runs the same few statements over
 * and over, and the sanitiser, the operation and the collection then
 * read each text once instead of at every execution.  A text that
 * differs from a remembered one only in its literals (at_sql_shape_match)
 * reuses it too, unless AUTOTRACE_DB_RAW_QUERY.  Only without op, for
 * texts up to AT_WIRE_SQL_MEMO_TEXT bytes; the oldest of the
 * AT_WIRE_SQL_MEMOS entries makes room (8: a TPC-B transaction has 7
 * statements).  The attributes are the ones at_wire_sql_statement sets,
 * byte for byte.
 */
#define AT_WIRE_SQL_MEMO_TEXT 512
#define AT_WIRE_SQL_MEMOS 8

struct at_wire_sql_memo_entry {
	uint32_t text_len;     /* 0: empty */
	uint32_t max;          /* the AUTOTRACE_DB_QUERY_MAX_LENGTH used */
	uint16_t q_len, op_len, coll_len, name_len;
	bool raw;              /* AUTOTRACE_DB_RAW_QUERY was set */
	bool shaped;           /* shape holds the text's literals */
	struct at_sql_shape shape;
	char text[AT_WIRE_SQL_MEMO_TEXT];
	char q[AT_WIRE_SQL_MEMO_TEXT];   /* db.query.text */
	char op[32];
	char coll[128];
	char name[192];        /* "{operation} {collection}" */
	/* db.query.text, db.operation.name, db.collection.name as one
	 * attribute block (refused when they do not fit it: set one by
	 * one then). */
	struct at_span_block attrs;
};

struct at_wire_sql_memo {
	uint32_t next;         /* the entry to replace next */
	uint32_t hit;          /* the entry after the last one used */
	struct at_wire_sql_memo_entry e[AT_WIRE_SQL_MEMOS];
};

void at_wire_sql_statement_memo(struct at_span *s, const char *text,
				size_t len, struct at_wire_sql_memo *memo);
/* The same on a span that carries none of db.query.text,
 * db.operation.name and db.collection.name (libpq's, which has its
 * connection's attributes only): the remembered attributes are copied
 * without looking for those keys on it (at_span_set_block_new). */
void at_wire_sql_statement_memo_new(struct at_span *s, const char *text,
				    size_t len, struct at_wire_sql_memo *memo);

/*
 * A failed SQL statement: db.response.status_code and error.type = code
 * (the SQLSTATE, or MySQL's error number; "_OTHER" when code is NULL),
 * then at_wire_sql_error_status.
 */
void at_wire_sql_error(struct at_span *s, const char *code,
		       const char *sqlstate, const char *msg, size_t msg_len);
/*
 * Status ERROR with the server's message msg[0..msg_len), redacted by
 * at_sql_pg_error against the statement text the span carries (sqlstate:
 * the SQLSTATE when known, else NULL), kept as it is with
 * AUTOTRACE_DB_RAW_QUERY.
 */
/*
 * Append the string p[0..n) (up to a NUL in it) to b[0..at), cap bytes
 * with the NUL (at < cap), cut as snprintf cuts; returns the new length.
 * For names and paths built per statement: snprintf costs ~1k
 * instructions.
 */
size_t at_wire_cat(char *b, size_t cap, size_t at, const char *p, size_t n);
/* a, sep and c joined into b, cut as snprintf cuts; copied at once when
 * they fit (they usually do), through at_wire_cat when they do not. */
size_t at_wire_join3(char *b, size_t cap, const char *a, size_t al,
		     const char *sep, size_t sl, const char *c, size_t cl);

void at_wire_sql_error_status(struct at_span *s, const char *sqlstate,
			      const char *msg, size_t msg_len);

#endif
