/*
 * at_mysqlwire.h - the MySQL / MariaDB client/server protocol, decoded in
 * place and incrementally on the bytes a client connection moves: what
 * the wire family (hooks/wire/at_wire_mysql.c) builds its spans from.
 *
 * Two decoders, one per direction, each driven by one thread at a time
 * (the directions may be two threads):
 *   - at_my_client: what the client sends - the handshake response (or
 *     the SSLRequest), authentication data, then commands;
 *   - at_my_server: what the server sends - the greeting (handshake v10),
 *     authentication packets until OK or ERR, then one response per
 *     command.  A response's shape depends on the command it answers,
 *     which the server decoder does not see: at the start of each
 *     response it returns AT_MY_S_NEED_CMD and the caller tells it, with
 *     at_my_server_expect(), what the oldest command waiting was (the
 *     family keeps them in its FIFO, in order).
 * Both are fed any split of the stream (a packet cut at any byte, many
 * packets in one call) through a *_next() call that consumes bytes until
 * it has an event to report; the caller loops until the input is used.
 * Nothing is allocated; what an event points to is either in the input
 * (the common case: the packet's first bytes are in this call) or in the
 * decoder's own bounded buffer (a packet split across calls), valid until
 * the next call.  Only what spans need is ever copied: a command's first
 * AT_MY_TEXT_MAX bytes of text; a server packet's first AT_MY_SRV_MAX
 * bytes, except rows (their first byte only).  Authentication data is
 * skipped, never copied, and parameter values of COM_STMT_EXECUTE are not
 * read.
 *
 * Anything the decoder does not know (a malformed packet, a sequence id
 * out of order, a response that does not fit its command, a command whose
 * response it cannot follow) is AT_MY_*_ERROR, and stays: the family
 * stops decoding the connection.  TLS (SSLRequest), compression
 * (CLIENT_COMPRESS, zstd) and LOAD DATA LOCAL INFILE are AT_MY_*_PASS:
 * what follows is not decoded either.
 *
 * Limits: the prepared statements' cursors (COM_STMT_EXECUTE with a cursor
 * flag, then COM_STMT_FETCH) are followed only without
 * CLIENT_DEPRECATE_EOF; COM_CHANGE_USER, replication and the other
 * rarely used commands (COM_FIELD_LIST, COM_STMT_BULK_EXECUTE...) are
 * AT_MY_C_PASS; query attributes (MySQL 8's CLIENT_QUERY_ATTRIBUTES) are
 * followed when a COM_QUERY carries none, else PASS.
 */
#ifndef AT_MYSQLWIRE_H
#define AT_MYSQLWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capability flags (client and server), the ones the decoders use. */
#define AT_MY_CAP_MYSQL              0x00000001u /* not MariaDB's extension */
#define AT_MY_CAP_CONNECT_WITH_DB    0x00000008u
#define AT_MY_CAP_COMPRESS           0x00000020u
#define AT_MY_CAP_PROTOCOL_41        0x00000200u
#define AT_MY_CAP_SSL                0x00000800u
#define AT_MY_CAP_SECURE_CONNECTION  0x00008000u
#define AT_MY_CAP_MULTI_STATEMENTS   0x00010000u
#define AT_MY_CAP_MULTI_RESULTS      0x00020000u
#define AT_MY_CAP_PLUGIN_AUTH        0x00080000u
#define AT_MY_CAP_AUTH_LENENC        0x00200000u
#define AT_MY_CAP_DEPRECATE_EOF      0x01000000u
#define AT_MY_CAP_OPTIONAL_METADATA  0x02000000u
#define AT_MY_CAP_ZSTD               0x04000000u
#define AT_MY_CAP_QUERY_ATTRIBUTES   0x08000000u
/* MariaDB's extended capabilities (the upper 32 bits). */
#define AT_MY_CAP_MARIADB_PROGRESS   (1ull << 32)
#define AT_MY_CAP_MARIADB_CACHE_META (1ull << 36)

/* Server status flags. */
#define AT_MY_STATUS_CURSOR_EXISTS   0x0040u
#define AT_MY_STATUS_MORE_RESULTS    0x0008u

/* Commands (the first byte of a command packet). */
enum {
	AT_MY_COM_QUIT = 0x01,
	AT_MY_COM_INIT_DB = 0x02,
	AT_MY_COM_QUERY = 0x03,
	AT_MY_COM_FIELD_LIST = 0x04,
	AT_MY_COM_CREATE_DB = 0x05,
	AT_MY_COM_DROP_DB = 0x06,
	AT_MY_COM_REFRESH = 0x07,
	AT_MY_COM_SHUTDOWN = 0x08,
	AT_MY_COM_STATISTICS = 0x09,
	AT_MY_COM_PROCESS_KILL = 0x0c,
	AT_MY_COM_DEBUG = 0x0d,
	AT_MY_COM_PING = 0x0e,
	AT_MY_COM_CHANGE_USER = 0x11,
	AT_MY_COM_STMT_PREPARE = 0x16,
	AT_MY_COM_STMT_EXECUTE = 0x17,
	AT_MY_COM_STMT_SEND_LONG_DATA = 0x18,
	AT_MY_COM_STMT_CLOSE = 0x19,
	AT_MY_COM_STMT_RESET = 0x1a,
	AT_MY_COM_SET_OPTION = 0x1b,
	AT_MY_COM_STMT_FETCH = 0x1c,
	AT_MY_COM_RESET_CONNECTION = 0x1f,
	/* Not a command byte: the authentication exchange, which the server
	 * decoder is told to expect like a command. */
	AT_MY_CMD_HANDSHAKE = 0x100,
};

/* How many bytes of a command's text (query, statement, schema) are kept. */
#define AT_MY_TEXT_MAX 2048
/* How many bytes of a server packet (not a row) are kept. */
#define AT_MY_SRV_MAX 320

/* One direction's packet framing (private to at_mysqlwire.c). */
struct at_my_frame {
	uint32_t len;     /* payload length of the current packet */
	uint32_t got;     /* payload bytes seen */
	uint32_t want;    /* payload bytes wanted before looking */
	uint32_t buf_n;   /* bytes of the payload kept in the buffer */
	uint8_t hdr[4];
	uint8_t hdr_n;    /* header bytes seen (4: in the payload) */
	uint8_t seq;      /* the current packet's sequence id */
	uint8_t prev;     /* the previous packet's */
	uint8_t mode;     /* what the logic does with the packet */
	bool looked;      /* the packet was looked at: the rest is skipped */
	bool cont;        /* the current packet continues a 16 MiB one */
};

/* ---- the client's side ---- */

enum at_my_client_event {
	AT_MY_C_MORE = 0,   /* all input used, no event */
	AT_MY_C_HANDSHAKE,  /* the handshake response: caps, db */
	AT_MY_C_AUTH,       /* more authentication data (not kept) */
	AT_MY_C_COMMAND,    /* a command: cmd, text or stmt_id */
	AT_MY_C_PASS,       /* TLS or compression from here on */
	AT_MY_C_ERROR,      /* not the protocol: nothing more is decoded */
};

struct at_my_client_ev {
	uint64_t caps;     /* HANDSHAKE: the client's capabilities */
	unsigned cmd;      /* COMMAND: the command byte */
	const char *text;  /* HANDSHAKE: database; COMMAND: query, statement
			    * or schema (NULL for other commands) */
	size_t text_len;   /* at most AT_MY_TEXT_MAX */
	bool text_cut;     /* the text was longer */
	uint32_t stmt_id;  /* COMMAND: STMT_EXECUTE/CLOSE/RESET/FETCH/... */
	uint8_t flags;     /* COMMAND: STMT_EXECUTE's cursor flags */
};

struct at_my_client {
	struct at_my_frame f;
	int phase;        /* handshake, authentication, commands */
	uint64_t caps;
	int verdict;      /* PASS or ERROR once decided */
	/* The handshake response, streamed after its fixed part. */
	int hs;           /* which field */
	uint64_t hs_left; /* authentication bytes still to skip */
	uint8_t hs_lenb;  /* the authentication length's first byte */
	uint8_t hs_nlen;  /* its bytes seen */
	uint32_t hs_user; /* user name bytes seen (skipped) */
	uint32_t db_len;  /* database name bytes kept in buf */
	char buf[AT_MY_TEXT_MAX + 64];
};

void at_my_client_init(struct at_my_client *c);
/*
 * Consume p[0..n) until an event (returned, with *used the bytes consumed
 * and ev filled) or the end of the input (AT_MY_C_MORE, *used == n).
 * After PASS or ERROR every call returns the same, consuming everything.
 */
int at_my_client_next(struct at_my_client *c, const char *p, size_t n,
		      size_t *used, struct at_my_client_ev *ev);

/* ---- the server's side ---- */

enum at_my_server_event {
	AT_MY_S_MORE = 0,   /* all input used, no event */
	AT_MY_S_GREETING,   /* version, caps, mariadb */
	AT_MY_S_NEED_CMD,   /* a response starts: call at_my_server_expect */
	AT_MY_S_RESULT,     /* a (sub)result of the expected command ended */
	AT_MY_S_PASS,       /* LOCAL INFILE: not followed */
	AT_MY_S_ERROR,      /* not the protocol: nothing more is decoded */
};

struct at_my_server_ev {
	/* GREETING */
	const char *version;
	size_t version_len;
	bool mariadb;       /* the version says MariaDB */
	uint64_t caps;      /* the server's capabilities */
	/* RESULT */
	unsigned cmd;       /* the command it answers */
	bool err;           /* an ERR packet */
	bool more;          /* another result of the same command follows */
	uint16_t status;    /* server status flags (0 if none) */
	uint64_t rows;      /* rows of a result set */
	bool has_rows;      /* it was a result set */
	uint64_t affected;  /* OK: affected rows */
	uint16_t code;      /* ERR: error number */
	char sqlstate[6];   /* ERR: SQLSTATE ("" without one) */
	const char *msg;    /* ERR: message, at most AT_MY_SRV_MAX bytes */
	size_t msg_len;
	uint32_t stmt_id;   /* STMT_PREPARE's OK: the statement id */
	uint16_t columns, params; /* STMT_PREPARE's OK */
};

struct at_my_server {
	struct at_my_frame f;
	int state;        /* private: the response's state machine */
	unsigned cmd;     /* the command expected (0: none yet) */
	uint64_t caps;    /* negotiated: server's & client's */
	uint64_t server_caps;
	uint64_t left;    /* column/parameter definitions still due */
	uint64_t columns; /* a statement's or result set's column count */
	uint64_t rows;
	uint32_t stmt_id; /* STMT_PREPARE's OK, until its definitions end */
	uint16_t params;
	bool fresh;       /* the response's first packet is next */
	uint8_t flags;    /* STMT_EXECUTE's cursor flags */
	int verdict;
	char buf[AT_MY_SRV_MAX];
};

void at_my_server_init(struct at_my_server *s);
int at_my_server_next(struct at_my_server *s, const char *p, size_t n,
		      size_t *used, struct at_my_server_ev *ev);
/*
 * After AT_MY_S_NEED_CMD: the response that starts answers cmd (a command
 * byte, or AT_MY_CMD_HANDSHAKE with the client's capabilities in
 * client_caps, ignored otherwise; exec_flags: STMT_EXECUTE's flags).  A
 * command that has no response (QUIT, STMT_CLOSE, STMT_SEND_LONG_DATA)
 * must not be given; one whose response the decoder cannot follow makes
 * the next call return AT_MY_S_ERROR.
 */
void at_my_server_expect(struct at_my_server *s, unsigned cmd,
			 uint64_t client_caps, uint8_t exec_flags);

/* A command the server answers (false: QUIT, STMT_CLOSE, SEND_LONG_DATA). */
bool at_my_cmd_answered(unsigned cmd);

/*
 * The first bytes a server sent: a protocol 10 greeting (packet length
 * sane, sequence id 0, 0x0a, a printable version string).  1 if so.
 */
int at_my_is_greeting(const char *p, size_t len);

#endif
