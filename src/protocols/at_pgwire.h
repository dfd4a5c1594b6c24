/*
 * at_pgwire.h - an incremental decoder of the PostgreSQL frontend/backend
 * protocol 3.0, one direction per decoder: the frontend's messages (what
 * a client sends) or the backend's (what the server answers).
 *
 * Pure, like at_http.h: no allocation, no global state, no system call.
 * The decoder is fed the bytes of its direction as they move, split
 * anywhere; it hands back one complete message at a time, with bounded
 * copies of the few fields a database span needs (a query's first bytes,
 * a statement or portal name, a CommandComplete tag, an error's SQLSTATE
 * and primary message, the startup parameters user, database and
 * application_name).  Everything else is skipped without being copied:
 * bound parameter values, rows, COPY data, passwords and SASL exchanges,
 * the cancel key.  Any split of the input gives the same messages.
 *
 * A length out of range, an unknown message type, a field that does not
 * end where its message ends: the decoder returns AT_PG_ERROR and stays
 * in error (the caller stops decoding the connection).
 *
 * Limits: protocol 3.x only (startup version major 3); the text of a
 * query is copied up to AT_PG_TEXT_MAX bytes (text_total says how long it
 * was); names up to AT_PG_NAME_MAX (name_total likewise).
 */
#ifndef AT_PGWIRE_H
#define AT_PGWIRE_H

#include <stddef.h>
#include <stdint.h>

#define AT_PG_TEXT_MAX 2048  /* bytes of a query text / message copied */
#define AT_PG_NAME_MAX 63    /* bytes of a statement or portal name */
#define AT_PG_PARAM_MAX 63   /* bytes of a startup parameter value */
#define AT_PG_MSG_LIMIT 0x40000000u /* larger lengths are errors */

#define AT_PG_PROTOCOL_3 196608u   /* 3.0 */
#define AT_PG_SSL_CODE 80877103u
#define AT_PG_GSSENC_CODE 80877104u
#define AT_PG_CANCEL_CODE 80877102u

enum at_pg_side { AT_PG_FRONTEND, AT_PG_BACKEND };

/* Messages without a type byte on the wire get these types (the typed
 * ones are their ASCII type byte). */
enum {
	AT_PG_STARTUP = 1,   /* StartupMessage: user, database, app */
	AT_PG_SSL_REQUEST,   /* SSLRequest */
	AT_PG_GSSENC_REQUEST, /* GSSENCRequest */
	AT_PG_CANCEL,        /* CancelRequest */
	AT_PG_ANSWER,        /* the backend's one byte answer (kind) to an
			      * SSLRequest or GSSENCRequest: 'S', 'G', 'N' */
};

/* One decoded message.  Only the fields its type has are set; lengths
 * of the others are 0. */
struct at_pg_msg {
	unsigned char type;   /* type byte, or AT_PG_STARTUP... */
	unsigned char kind;   /* Describe/Close 'S'/'P'; ReadyForQuery
			       * status; AT_PG_ANSWER's byte */
	uint32_t len;         /* body bytes (after the length word) */
	uint32_t num;         /* Execute's row limit; Authentication's
			       * code; the startup version */
	/* Parse: the statement; Bind, Execute: the portal; Describe,
	 * Close: the statement or portal (kind). */
	uint32_t name_len, name_total;
	char name[AT_PG_NAME_MAX + 1];
	/* Bind: the statement. */
	uint32_t name2_len, name2_total;
	char name2[AT_PG_NAME_MAX + 1];
	/* Query, Parse: the statement text; CommandComplete: the tag;
	 * ErrorResponse, NoticeResponse: the primary message (M). */
	uint32_t text_len, text_total;
	char text[AT_PG_TEXT_MAX + 1];
	/* ErrorResponse, NoticeResponse: the SQLSTATE (C), "" if none. */
	char code[6];
	/* StartupMessage. */
	char user[AT_PG_PARAM_MAX + 1];
	char database[AT_PG_PARAM_MAX + 1];
	char application[AT_PG_PARAM_MAX + 1];
};

struct at_pg_dec {
	uint8_t side;        /* enum at_pg_side */
	uint8_t phase;       /* private */
	uint8_t hdr_have;    /* header bytes gathered */
	uint8_t field;       /* the body field being read */
	uint8_t sub;         /* within it: key/value, code/string */
	uint8_t target;      /* where a startup value or error field goes */
	uint8_t key_len;
	unsigned char ops[4]; /* the body's field program */
	unsigned char hdr[8];
	char key[20];        /* a startup parameter's name */
	uint32_t body_left;  /* bytes of the body not seen yet */
	uint32_t flen;       /* bytes of the current field seen */
	uint32_t messages;   /* complete messages so far (not answers) */
	struct at_pg_msg msg;
};

enum {
	AT_PG_MORE = 0,      /* all the input consumed, no message ended */
	AT_PG_MESSAGE = 1,   /* d->msg is complete */
	AT_PG_ERROR = -1,    /* bad bytes: the decoder stays in error */
};

void at_pg_init(struct at_pg_dec *d, enum at_pg_side side);

/*
 * Decode from p[0..n): sets *used to the bytes consumed and returns
 * AT_PG_MESSAGE when a message ended at p[*used - 1] (d->msg holds it;
 * call again with the rest), AT_PG_MORE when all n bytes were consumed
 * without one ending, AT_PG_ERROR (*used 0) when the bytes are not this
 * protocol.
 */
int at_pg_next(struct at_pg_dec *d, const char *p, size_t n, size_t *used);

/*
 * Backend decoder: the frontend sent an SSLRequest or GSSENCRequest, so
 * the next byte is its one byte answer.  Only at a message boundary (the
 * start of the stream); ignored otherwise.
 */
void at_pg_expect_answer(struct at_pg_dec *d);

/* The decoder is between two messages (no byte of one seen). */
int at_pg_at_boundary(const struct at_pg_dec *d);
/* The frontend decoder still expects an untyped startup-phase message. */
int at_pg_in_startup(const struct at_pg_dec *d);

/* 1 if p[0..len) (at least 8 bytes) starts a frontend stream:
 * a StartupMessage of protocol 3.x, an SSLRequest, GSSENCRequest or
 * CancelRequest.  *type gets AT_PG_STARTUP... */
int at_pg_detect_frontend(const char *p, size_t len, int *type);

/* The row count at the end of a CommandComplete tag ("SELECT 5",
 * "INSERT 0 3"), or -1 if it has none. */
int64_t at_pg_tag_rows(const char *tag, size_t len);

/*
 * SQLCommenter (opt-in): the comment appended to a statement so that the
 * server's log and pg_stat_statements link to the trace.
 * at_pg_comment writes "/" "*traceparent='<tp>'*" "/" for the 55
 * characters of traceparent tp (AT_PG_COMMENT_LEN bytes, and a NUL).
 * at_pg_comment_safe says whether a statement whose text ends with
 * tail[0..len) may get it: not when its last line holds "--" (the
 * comment would fall into a line comment); whole says tail is the whole
 * text (otherwise a last line that does not start inside tail is not
 * known, and the answer is no).
 */
#define AT_PG_COMMENT_LEN 73
size_t at_pg_comment(char *out, const char *tp);
int at_pg_comment_safe(const char *tail, size_t len, int whole);

#endif
