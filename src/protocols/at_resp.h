/*
 * at_resp.h - the Redis serialisation protocol (RESP2 and RESP3) decoded
 * incrementally, for the Redis wire family (hooks/wire/at_wire_redis.c):
 * the commands a client sends and the replies it receives, and what
 * Redis commands mean for a span (which argument is a key, which
 * commands read a cache, which ones leave the request/reply protocol).
 *
 * Pure functions over caller-owned memory: no allocation, no global
 * state, no locale, no system call.  Incremental: the bytes may be split
 * anywhere across calls (inside a length, a CRLF, a bulk string) and
 * many commands or replies may come in one call; any split gives the same
 * events.  Nothing is buffered but bounded copies of what a span shows:
 * the command name, its first arguments (the key) and enough of the
 * others for db.query.text, and the first bytes of a simple-string or
 * error reply.  Anything malformed gives AT_RESP_BAD, which stays: the
 * caller stops decoding the connection.
 *
 * Limits (beyond them: AT_RESP_BAD): a length or count line of more than
 * 20 digits, a bulk string over AT_RESP_BULK_MAX bytes, a request of more
 * than AT_RESP_ARGC_MAX arguments, an inline command or a simple line
 * over AT_RESP_LINE_MAX bytes, replies nested deeper than AT_RESP_DEPTH.
 */
#ifndef AT_RESP_H
#define AT_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_RESP_NAME_MAX 32     /* command name copy (with the NUL) */
#define AT_RESP_ARGS_MAX 1024   /* arguments copy: "a1 a2 a3..." */
#define AT_RESP_MARKS 4         /* arguments whose ends are noted */
#define AT_RESP_TEXT_MAX 128    /* first bytes of a simple/error reply */
#define AT_RESP_DEPTH 16        /* nested aggregates in a reply */
#define AT_RESP_LINE_MAX 65536  /* inline command, simple reply line */
#define AT_RESP_ARGC_MAX (1u << 30)
#define AT_RESP_BULK_MAX ((uint64_t)1 << 40)

enum {
	AT_RESP_MORE = 0, /* all the input consumed, nothing complete */
	AT_RESP_DONE = 1, /* a command / a reply is complete */
	AT_RESP_BAD = -1, /* malformed or over a limit (stays) */
};

/* ---- requests (client to server) ---- */

/* The command just decoded (valid until the next call). */
struct at_resp_cmd {
	char name[AT_RESP_NAME_MAX]; /* uppercased, NUL-terminated */
	size_t name_len;
	bool name_cut;               /* longer than the copy: unknown */
	bool inline_form;            /* a line of words, not an array */
	uint32_t argc;               /* arguments after the name */
	/* The arguments after the name, joined by single spaces, as far as
	 * they fit (raw bytes, not NUL-terminated). */
	char args[AT_RESP_ARGS_MAX];
	size_t args_len;
	bool args_cut;               /* some argument bytes did not fit */
	/* arg_end[i]: where argument i+1 ends in args, when it is there
	 * whole (i < marks). */
	uint16_t arg_end[AT_RESP_MARKS];
	uint32_t marks;
};

struct at_resp_req {
	int state;
	uint64_t num;        /* digits of a length or count line */
	uint32_t digits;
	bool neg;
	uint32_t left;       /* bulk strings left in the array */
	uint64_t bulk;       /* bytes left in the bulk string */
	uint32_t word;       /* index of the word being read (0: name) */
	uint32_t line;       /* bytes of the inline command so far */
	int quote;           /* inline: 0, '"' or '\'' */
	bool escape;         /* inline: after a backslash in "..." */
	bool in_word;        /* inline: inside a word */
	bool name_odd;       /* a byte no command name has */
	struct at_resp_cmd cmd;
};

void at_resp_req_init(struct at_resp_req *d);

/*
 * Decode from p[0..n): sets *used to the bytes consumed and returns
 * AT_RESP_DONE (d->cmd is the command that ended at p[*used - 1]; call
 * again with the rest), AT_RESP_MORE (*used == n) or AT_RESP_BAD.  An
 * array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or an inline
 * command (a line of words, "GET k\r\n", '\n' alone ends it too; words in
 * "..." or '...' may hold spaces, the quotes are not copied); empty
 * arrays and blank lines are skipped, as the server does.  A command
 * name must be 1+ bytes of letters, digits and . _ - : | (JSON.GET).
 */
int at_resp_req_next(struct at_resp_req *d, const char *p, size_t n,
		     size_t *used);

/* Argument i (1 = the first after the name) of c, if it is whole in the
 * copy: its bytes and length. */
bool at_resp_arg(const struct at_resp_cmd *c, uint32_t i, const char **p,
		 size_t *len);

/*
 * Are these the first bytes a client sends on a Redis connection?  An
 * array of bulk strings ("*<count>\r\n$"), or one whole inline line whose
 * first word is a Redis command of at_resp_command() in capitals (the
 * server takes any case, but memcached's text protocol is "get k" in
 * lower case) and that cannot be an HTTP request line (no " HTTP/" in it,
 * no GET of a "/path").
 */
bool at_resp_detect_request(const char *p, size_t n);

/* ---- replies (server to client) ---- */

/* The reply just decoded (valid until the next call). */
struct at_resp_reply {
	char type;        /* its first byte: + - : $ * _ , # ! = ( % ~ > */
	bool nil;         /* $-1, *-1, _ (a null) */
	bool push;        /* a RESP3 push (>): out of band, not a reply */
	int64_t integer;  /* the value of ':' */
	/* Aggregates: direct elements (pairs for a map), and how many of
	 * them are nulls. */
	uint64_t count;
	uint64_t nulls;
	/* The first bytes of a simple string, an error (- or !) */
	char text[AT_RESP_TEXT_MAX];
	size_t text_len;
};

#define AT_RESP_STREAMED UINT64_MAX

struct at_resp_frame {
	uint64_t left;    /* elements left; AT_RESP_STREAMED: until '.' */
	char type;        /* '*', '%', '~', '>', '|' */
};

struct at_resp_rep {
	int state;
	char type;           /* of the element being read */
	uint64_t num;
	uint32_t digits;
	bool neg;
	bool top_level;      /* the element read is the reply itself */
	bool streamed_str;   /* inside a $? streamed string */
	uint64_t bulk;       /* bytes left in a bulk payload */
	uint32_t line;       /* bytes of the simple line so far */
	uint32_t depth;
	struct at_resp_frame stack[AT_RESP_DEPTH];
	struct at_resp_reply reply;
};

void at_resp_rep_init(struct at_resp_rep *d);

/* As at_resp_req_next, for replies: AT_RESP_DONE when a whole top-level
 * reply (or a push) ended, d->reply says what it was.  RESP3 attributes
 * (|) are skipped wherever they stand; streamed strings ($?) and
 * aggregates (*? ... .) are read. */
int at_resp_rep_next(struct at_resp_rep *d, const char *p, size_t n,
		     size_t *used);

/* ---- what commands mean ---- */

enum {
	AT_RESP_KEY = 1 << 0,      /* the first argument is a key (shown) */
	AT_RESP_KEYS = 1 << 1,     /* every argument is a key */
	AT_RESP_SUB = 1 << 2,      /* the first argument is a subcommand */
	AT_RESP_SUBKEY = 1 << 3,   /* ... and the second a key */
	AT_RESP_SECRET = 1 << 4,   /* arguments never shown (AUTH...) */
	AT_RESP_LEAVES = 1 << 5,   /* leaves request/reply (SUBSCRIBE...) */
	/* Cache reads: what the reply says about hits. */
	AT_RESP_READ_ONE = 1 << 6,   /* nil / empty: miss */
	AT_RESP_READ_EACH = 1 << 7,  /* an array, a null per missing key */
	AT_RESP_READ_COUNT = 1 << 8, /* an integer: keys found */
	AT_RESP_HFIELDS = 1 << 9,    /* the keys read are fields after the
				      * key (HMGET) */
};

/* The flags of the command named name (uppercase), 0 if unknown; *known
 * (may be NULL) says whether it is in the table. */
uint32_t at_resp_command(const char *name, size_t len, bool *known);

#endif
