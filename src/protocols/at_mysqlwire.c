/*
 * at_mysqlwire.c - the MySQL / MariaDB client/server protocol decoders
 * (see at_mysqlwire.h for what they report).
 *
 * Design: every message is a packet, a 3-byte little-endian payload
 * length and a sequence id; a payload of 0xffffff bytes continues in the
 * next packet.  Each direction has a framer (struct at_my_frame) that
 * cuts the stream into packets whatever the split, and a logic that is
 * asked, at each packet's header, how many of its first bytes it wants
 * to see (want).  When those are in, the logic looks at them (in place
 * when the packet's start is in this call's input, else in the
 * direction's bounded buffer, filled only while a packet is cut across
 * calls) and either wants more (a command byte decides how much text
 * follows) or is done: the rest of the packet is skipped without being
 * read.  One packet, the client's handshake response, is streamed
 * instead (its authentication data is skipped without ever being copied,
 * the database name after it is kept).
 *
 * The client's side is self-contained: a handshake response (sequence
 * id 1), authentication packets (sequence id not 0), then commands, each
 * a packet with sequence id 0.  The server's side needs the command each
 * response answers (at_my_server_expect) and the negotiated capabilities
 * (from the handshake "command"); its states follow a response: the
 * first packet (OK, ERR, EOF, LOCAL INFILE request, a prepared
 * statement's OK or a result set's column count), the definitions of
 * parameters and columns (each must start with the catalog "def"), the
 * EOF after them unless CLIENT_DEPRECATE_EOF, the rows (counted, never
 * read: a text row's first byte is a length, a binary row's is 0x00),
 * and the terminator (0xfe in a packet shorter than 0xffffff bytes: EOF,
 * or OK with CLIENT_DEPRECATE_EOF) or an ERR.  SERVER_MORE_RESULTS_EXISTS
 * in the terminator or OK starts another result of the same command.
 * Sequence ids are checked: a response's packets follow each other.
 *
 * Whole packets.  Drivers write, and servers answer, whole packets,
 * several in one call: a packet whose header and payload are both in the
 * bytes given (the common case) is begun, looked at in place and passed
 * over in one go (whole_packet, c_packet, s_packet) instead of a framing
 * event per step; the same logic decides, so the events are the same
 * (the fuzz target compares whole and cut decodings).  A packet cut
 * across calls, a 16 MiB one and the handshake response take the framer.
 *
 * Limits: see at_mysqlwire.h.
 */
#include <string.h>

#include "at_mysqlwire.h"

#define PKT_MAX 0xffffffu /* a payload this long continues */

/* ---- little-endian fields ---- */

static uint32_t le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le24(const unsigned char *p)
{
	return le16(p) | (uint32_t)p[2] << 16;
}

static uint32_t le32(const unsigned char *p)
{
	return le24(p) | (uint32_t)p[3] << 24;
}

/* A length-encoded integer at p[*off], within n bytes. */
static bool lenenc(const unsigned char *p, size_t n, size_t *off, uint64_t *v)
{
	size_t o = *off, k;
	unsigned char b;

	if (o >= n)
		return false;
	b = p[o++];
	if (b < 0xfb) {
		*v = b;
		*off = o;
		return true;
	}
	k = b == 0xfc ? 2 : b == 0xfd ? 3 : b == 0xfe ? 8 : 0;
	if (k == 0 || n - o < k)
		return false;
	*v = 0;
	for (size_t i = 0; i < k; i++)
		*v |= (uint64_t)p[o + i] << (8 * i);
	*off = o + k;
	return true;
}

/* ---- the framer ---- */

enum { FR_NONE, FR_BEGIN, FR_LOOK, FR_DATA, FR_END, FR_BAD };
/* What the logic does with the packet after its header (f->mode). */
enum { M_BEGIN, M_PREFIX, M_STREAM, M_SKIP };

struct feed {
	const unsigned char *p;
	size_t n, i;
	const unsigned char *base; /* the packet's payload, if it starts here */
	const unsigned char *run;  /* FR_DATA: the run */
	size_t run_len;
};

static void feed_start(struct feed *in, const struct at_my_frame *f,
		       const char *p, size_t n)
{
	in->p = (const unsigned char *)p;
	in->n = n;
	in->i = 0;
	in->base = f->hdr_n == 4 && f->got == 0 ? in->p : NULL;
	in->run = NULL;
	in->run_len = 0;
}

/*
 * Advance over the input to the next framing event: FR_BEGIN (a header
 * is in: the logic sets f->mode, and f->want for M_PREFIX), FR_LOOK (the
 * wanted prefix is in: the logic sets f->looked or wants more), FR_DATA
 * (M_STREAM: a run of payload), FR_END (an M_STREAM packet ended),
 * FR_BAD (a continuation out of sequence), FR_NONE (input used).
 */
static int frame_step(struct at_my_frame *f, char *buf, struct feed *in)
{
	size_t take;

	for (;;) {
		if (f->hdr_n == 4) {
			if (f->mode == M_BEGIN)
				return FR_BEGIN;
			if (f->mode == M_PREFIX && !f->looked &&
			    f->got == f->want)
				return FR_LOOK;
			if (f->got == f->len) {
				int was = f->mode;

				f->hdr_n = 0;
				f->cont = f->len == PKT_MAX;
				f->mode = M_BEGIN;
				if (was == M_STREAM)
					return FR_END;
			}
		}
		if (in->i >= in->n)
			break;
		if (f->hdr_n < 4) {
			/* As many header bytes as there are at once: all four
			 * in one copy when they are. */
			if (f->hdr_n == 0 && in->n - in->i >= 4) {
				memcpy(f->hdr, in->p + in->i, 4);
				f->hdr_n = 4;
				in->i += 4;
			} else {
				while (f->hdr_n < 4 && in->i < in->n)
					f->hdr[f->hdr_n++] = in->p[in->i++];
				if (f->hdr_n < 4)
					break; /* the input ended inside it */
			}
			if (f->cont && f->hdr[3] != (uint8_t)(f->seq + 1))
				return FR_BAD;
			f->prev = f->seq;
			f->len = le24(f->hdr);
			f->seq = f->hdr[3];
			f->got = f->want = f->buf_n = 0;
			f->looked = false;
			in->base = in->p + in->i;
			/* The tail of a long message is not looked at. */
			f->mode = f->cont ? M_SKIP : M_BEGIN;
			continue;
		}
		if (f->mode == M_PREFIX && !f->looked) {
			take = f->want - f->got;
			if (take > in->n - in->i)
				take = in->n - in->i;
			if (in->base == NULL) {
				memcpy(buf + f->buf_n, in->p + in->i, take);
				f->buf_n += take;
			}
			f->got += take;
			in->i += take;
			continue;
		}
		take = f->len - f->got;
		if (take > in->n - in->i)
			take = in->n - in->i;
		f->got += take;
		in->run = in->p + in->i;
		in->run_len = take;
		in->i += take;
		if (f->mode == M_STREAM && take > 0)
			return FR_DATA;
	}
	/* The input ends inside a prefix that started in it: keep it. */
	if (f->hdr_n == 4 && f->mode == M_PREFIX && !f->looked && in->base) {
		memcpy(buf, in->base, f->got);
		f->buf_n = f->got;
	}
	return FR_NONE;
}

/*
 * The common case, a whole packet in the input: the framer between
 * packets (or holding the header of a packet it has not started, as a
 * NEED_CMD leaves it) and the payload all at in->i.  Takes the header as
 * frame_step does and returns true: the logic then looks at the payload
 * in place, and the packet is passed over at once (packet_skip), rather
 * than a framing event per step.  A 16 MiB packet or its continuation
 * takes the general path.  The events are the same either way (the fuzz
 * target compares whole and cut decodings).
 */
static bool whole_packet(struct at_my_frame *f, struct feed *in)
{
	size_t left = in->n - in->i;
	uint32_t len;

	/* The previous packet ended with the previous input: closed first,
	 * as frame_step does, unless an event is still due for it. */
	if (f->hdr_n == 4 && f->mode != M_BEGIN && f->got == f->len) {
		if (f->mode == M_STREAM || (f->mode == M_PREFIX && !f->looked))
			return false;
		f->hdr_n = 0;
		f->cont = f->len == PKT_MAX;
		f->mode = M_BEGIN;
	}
	if (f->hdr_n == 4)
		return f->mode == M_BEGIN && f->got == 0 &&
		       in->base == in->p + in->i && f->len < PKT_MAX &&
		       left >= f->len;
	if (f->hdr_n != 0 || f->cont || left < 4)
		return false;
	len = le24(in->p + in->i);
	if (len == PKT_MAX || left - 4 < len)
		return false;
	memcpy(f->hdr, in->p + in->i, 4);
	f->hdr_n = 4;
	in->i += 4;
	f->prev = f->seq;
	f->len = len;
	f->seq = f->hdr[3];
	f->got = f->want = f->buf_n = 0;
	f->looked = false;
	in->base = in->p + in->i;
	f->mode = M_BEGIN;
	return true;
}

/* The logic is done with a whole packet: its rest is passed over, the
 * framer is between packets (as frame_step leaves it). */
static void packet_skip(struct at_my_frame *f, struct feed *in)
{
	in->i = (size_t)(in->base - in->p) + f->len;
	f->got = f->len;
	f->hdr_n = 0;
	f->cont = false;
	f->mode = M_BEGIN;
}

/* The wanted prefix, once FR_LOOK said it is complete. */
static const unsigned char *prefix(const char *buf, const struct feed *in)
{
	return in->base ? in->base : (const unsigned char *)buf;
}

/* Want the first n bytes of the payload (at most the packet). */
static void want(struct at_my_frame *f, size_t n)
{
	f->mode = M_PREFIX;
	f->want = n < f->len ? (uint32_t)n : f->len;
}

/* ---- the client's side ---- */

/* C_COMPRESSED: the handshake asked for compression, which starts after
 * it: the next packet is PASS (not sooner, so that the events do not
 * depend on how the input is cut). */
enum { C_HANDSHAKE, C_AUTH, C_COMMANDS, C_COMPRESSED };
/* The handshake response's fields after its 32 fixed bytes (c->hs). */
enum { HS_USER, HS_AUTHLEN, HS_AUTH, HS_DB, HS_REST };

#define HS_USER_MAX 512
#define HS_DB_MAX 256

void at_my_client_init(struct at_my_client *c)
{
	memset(c, 0, sizeof(*c));
	c->phase = C_HANDSHAKE;
}

/* The 32 fixed bytes of the handshake response (or SSLRequest). */
static int c_handshake_fixed(struct at_my_client *c, const unsigned char *p)
{
	c->f.looked = true;
	if (c->f.want < 32)
		return AT_MY_C_ERROR; /* pre-4.1 clients are not followed */
	c->caps = le32(p);
	if (!(c->caps & AT_MY_CAP_PROTOCOL_41))
		return AT_MY_C_ERROR;
	if (!(c->caps & AT_MY_CAP_MYSQL))
		c->caps |= (uint64_t)le32(p + 28) << 32;
	if (c->caps & AT_MY_CAP_SSL)
		return AT_MY_C_PASS; /* an SSLRequest: TLS follows */
	if (c->f.len == 32)
		return AT_MY_C_ERROR;
	c->hs = HS_USER;
	c->hs_user = c->db_len = 0;
	c->hs_nlen = 0;
	c->f.mode = M_STREAM;
	return AT_MY_C_MORE;
}

/* The handshake's database is known (or there is none): the event. */
static int c_handshake_done(struct at_my_client *c, struct at_my_client_ev *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->caps = c->caps;
	ev->text = c->db_len ? c->buf : NULL;
	ev->text_len = c->db_len;
	c->hs = HS_REST;
	c->f.mode = M_SKIP;
	c->phase = c->caps & (AT_MY_CAP_COMPRESS | AT_MY_CAP_ZSTD)
			   ? C_COMPRESSED
			   : C_AUTH;
	return AT_MY_C_HANDSHAKE;
}

/* The length of the authentication data: its first byte seen, or more. */
static int c_auth_len(struct at_my_client *c, unsigned char b)
{
	unsigned k;

	if (c->hs_nlen == 0) {
		c->hs_lenb = b;
		c->hs_nlen = 1;
		c->hs_left = 0;
		if (!(c->caps & AT_MY_CAP_AUTH_LENENC) || b < 0xfb) {
			c->hs_left = b;
			c->hs = HS_AUTH;
			return 0;
		}
		return b == 0xfb || b == 0xff ? -1 : 0;
	}
	c->hs_left |= (uint64_t)b << (8 * (c->hs_nlen - 1));
	c->hs_nlen++;
	k = c->hs_lenb == 0xfc ? 2 : c->hs_lenb == 0xfd ? 3 : 8;
	if (c->hs_nlen - 1u == k)
		c->hs = HS_AUTH;
	return 0;
}

/* A run of the handshake response after its fixed part. */
static int c_handshake_run(struct at_my_client *c, const unsigned char *p,
			   size_t n, struct at_my_client_ev *ev)
{
	size_t i = 0, k;
	const unsigned char *z;

	while (i < n && c->hs != HS_REST) {
		switch (c->hs) {
		case HS_USER:
			z = memchr(p + i, 0, n - i);
			k = z ? (size_t)(z - (p + i)) : n - i;
			c->hs_user += (uint32_t)k;
			if (c->hs_user > HS_USER_MAX)
				return AT_MY_C_ERROR;
			i += k;
			if (z) {
				i++;
				c->hs = HS_AUTHLEN;
			}
			break;
		case HS_AUTHLEN:
			if (c_auth_len(c, p[i++]) < 0)
				return AT_MY_C_ERROR;
			break;
		default: /* HS_AUTH then HS_DB */
			if (c->hs == HS_AUTH) {
				k = n - i;
				if (k > c->hs_left)
					k = (size_t)c->hs_left;
				c->hs_left -= k;
				i += k;
				if (c->hs_left > 0)
					break;
				if (!(c->caps & AT_MY_CAP_CONNECT_WITH_DB))
					return c_handshake_done(c, ev);
				c->hs = HS_DB;
				break;
			}
			z = memchr(p + i, 0, n - i);
			k = z ? (size_t)(z - (p + i)) : n - i;
			if (c->db_len + k > HS_DB_MAX)
				return AT_MY_C_ERROR;
			memcpy(c->buf + c->db_len, p + i, k);
			c->db_len += (uint32_t)k;
			i += k;
			if (z)
				return c_handshake_done(c, ev);
			break;
		}
	}
	return AT_MY_C_MORE;
}

/* Whether a command has text (1), fixed fields only (0) or is not
 * followed (-1); *need: the bytes before its text, or its fixed part. */
static int c_command_shape(const struct at_my_client *c, unsigned cmd,
			   size_t *need)
{
	*need = 1;
	switch (cmd) {
	case AT_MY_COM_QUERY:
		if (c->caps & AT_MY_CAP_QUERY_ATTRIBUTES)
			*need = 3;
		return 1;
	case AT_MY_COM_STMT_PREPARE:
	case AT_MY_COM_INIT_DB:
		return 1;
	case AT_MY_COM_STMT_EXECUTE:
		*need = 10; /* id, flags, iteration count */
		return 0;
	case AT_MY_COM_STMT_FETCH:
		*need = 9;
		return 0;
	case AT_MY_COM_STMT_CLOSE:
	case AT_MY_COM_STMT_RESET:
		*need = 5;
		return 0;
	case AT_MY_COM_STMT_SEND_LONG_DATA:
		*need = 7;
		return 0;
	case AT_MY_COM_QUIT:
	case AT_MY_COM_PING:
	case AT_MY_COM_STATISTICS:
	case AT_MY_COM_DEBUG:
	case AT_MY_COM_RESET_CONNECTION:
	case AT_MY_COM_SHUTDOWN:
	case AT_MY_COM_REFRESH:
	case AT_MY_COM_PROCESS_KILL:
	case AT_MY_COM_SET_OPTION:
	case AT_MY_COM_CREATE_DB:
	case AT_MY_COM_DROP_DB:
		return 0;
	default:
		return -1;
	}
}

/* A command packet's first bytes (f->want of them). */
static int c_command_look(struct at_my_client *c, const unsigned char *p,
			  struct at_my_client_ev *ev)
{
	struct at_my_frame *f = &c->f;
	unsigned cmd = p[0];
	size_t need;
	int text = c_command_shape(c, cmd, &need);

	if (text < 0)
		return AT_MY_C_PASS;
	if (f->len < need)
		return AT_MY_C_ERROR;
	if (f->want < need) {
		want(f, need);
		return AT_MY_C_MORE;
	}
	/* Query attributes: followed when there are none. */
	if (cmd == AT_MY_COM_QUERY && need == 3 && (p[1] != 0 || p[2] != 1))
		return AT_MY_C_PASS;
	if (text && f->want == need && f->len > need) {
		want(f, need + AT_MY_TEXT_MAX);
		return AT_MY_C_MORE;
	}
	f->looked = true;
	memset(ev, 0, sizeof(*ev));
	ev->cmd = cmd;
	if (text) {
		ev->text = (const char *)p + need;
		ev->text_len = f->want - need;
		ev->text_cut = f->len > f->want;
	} else if (need >= 5) {
		ev->stmt_id = le32(p + 1);
		if (cmd == AT_MY_COM_STMT_EXECUTE)
			ev->flags = p[5];
	}
	return AT_MY_C_COMMAND;
}

/* A packet's header is in: what the client's logic wants of it. */
static int c_begin(struct at_my_client *c)
{
	struct at_my_frame *f = &c->f;

	if (c->phase == C_COMPRESSED)
		return AT_MY_C_PASS;
	if (c->phase == C_HANDSHAKE) {
		if (f->seq != 1)
			return AT_MY_C_ERROR;
		want(f, 32);
		return AT_MY_C_MORE;
	}
	if (c->phase == C_AUTH && f->seq != 0) {
		f->mode = M_SKIP;
		return AT_MY_C_AUTH;
	}
	if (f->seq != 0 || f->len == 0)
		return AT_MY_C_ERROR;
	c->phase = C_COMMANDS;
	want(f, 1);
	return AT_MY_C_MORE;
}

/* A whole packet after the handshake (whole_packet): begin, look at the
 * command's first bytes in place, pass over the rest. */
static int c_packet(struct at_my_client *c, struct feed *in,
		    struct at_my_client_ev *ev)
{
	struct at_my_frame *f = &c->f;
	int r = c_begin(c);

	while (r == AT_MY_C_MORE && f->mode == M_PREFIX && !f->looked) {
		f->got = f->want;
		r = c_command_look(c, in->base, ev);
	}
	if (r == AT_MY_C_MORE || r == AT_MY_C_COMMAND || r == AT_MY_C_AUTH)
		packet_skip(f, in);
	return r;
}

int at_my_client_next(struct at_my_client *c, const char *p, size_t n,
		      size_t *used, struct at_my_client_ev *ev)
{
	struct at_my_frame *f = &c->f;
	struct feed in;
	int r = AT_MY_C_MORE;

	if (c->verdict) {
		*used = n;
		return c->verdict;
	}
	feed_start(&in, f, p, n);
	while (r == AT_MY_C_MORE) {
		if ((c->phase == C_AUTH || c->phase == C_COMMANDS) &&
		    whole_packet(f, &in)) {
			r = c_packet(c, &in, ev);
			continue;
		}
		switch (frame_step(f, c->buf, &in)) {
		case FR_NONE:
			*used = in.i;
			return AT_MY_C_MORE;
		case FR_BEGIN:
			r = c_begin(c);
			break;
		case FR_LOOK:
			if (c->phase == C_HANDSHAKE)
				r = c_handshake_fixed(c, prefix(c->buf, &in));
			else
				r = c_command_look(c, prefix(c->buf, &in), ev);
			break;
		case FR_DATA:
			r = c_handshake_run(c, in.run, in.run_len, ev);
			break;
		default: /* FR_BAD; FR_END: the handshake ended too soon */
			r = AT_MY_C_ERROR;
			break;
		}
	}
	if (r == AT_MY_C_PASS || r == AT_MY_C_ERROR) {
		c->verdict = r;
		in.i = n;
	}
	*used = in.i;
	return r;
}

/* ---- the server's side ---- */

enum {
	S_GREETING,
	S_IDLE,     /* between responses */
	S_AUTH,     /* the authentication exchange */
	S_FIRST,    /* a (sub)result's first packet */
	S_PARAMS,   /* a prepared statement's parameter definitions */
	S_PARAMS_EOF,
	S_COLS,     /* column definitions */
	S_COLS_EOF,
	S_ROWS,
};

#define MAX_COLUMNS 65535
#define CURSOR_FLAGS 0x07 /* STMT_EXECUTE: a cursor was asked for */

void at_my_server_init(struct at_my_server *s)
{
	memset(s, 0, sizeof(*s));
	s->state = S_GREETING;
}

bool at_my_cmd_answered(unsigned cmd)
{
	return cmd != AT_MY_COM_QUIT && cmd != AT_MY_COM_STMT_CLOSE &&
	       cmd != AT_MY_COM_STMT_SEND_LONG_DATA;
}

void at_my_server_expect(struct at_my_server *s, unsigned cmd,
			 uint64_t client_caps, uint8_t exec_flags)
{
	s->cmd = cmd;
	s->flags = exec_flags;
	s->rows = 0;
	s->fresh = true;
	if (cmd == AT_MY_CMD_HANDSHAKE) {
		s->caps = s->server_caps & client_caps;
		s->state = S_AUTH;
	} else if (cmd == AT_MY_COM_STMT_FETCH) {
		s->state = S_ROWS;
	} else {
		s->state = S_FIRST;
	}
}

int at_my_is_greeting(const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t plen, i;

	if (len < 8)
		return 0;
	plen = le24(u);
	if (u[3] != 0 || u[4] != 10 || plen < 20 || plen > 1024)
		return 0;
	if (!(u[5] >= '0' && u[5] <= '9'))
		return 0;
	for (i = 5; i < len && i < 4 + plen; i++) {
		if (u[i] == 0)
			return i >= 8; /* at least three characters */
		if (u[i] < 0x20 || u[i] > 0x7e)
			return 0;
	}
	return i == len; /* the sniff ended inside the version */
}

static int s_greeting(struct at_my_server *s, const unsigned char *p, size_t n,
		      struct at_my_server_ev *ev)
{
	const unsigned char *z;
	size_t vl, o;
	uint64_t caps;

	if (n < 1 || p[0] != 10)
		return AT_MY_S_ERROR;
	z = memchr(p + 1, 0, n - 1);
	if (!z)
		return AT_MY_S_ERROR;
	vl = (size_t)(z - (p + 1));
	o = 1 + vl + 1 + 4 + 8 + 1; /* version, thread id, scramble, filler */
	if (n < o + 2)
		return AT_MY_S_ERROR;
	caps = le16(p + o);
	o += 2;
	/* charset, status, capabilities' upper half, scramble length, 6
	 * reserved bytes, then MariaDB's extended capabilities. */
	if (n >= o + 5)
		caps |= (uint64_t)le16(p + o + 3) << 16;
	if (n >= o + 16 && !(caps & AT_MY_CAP_MYSQL))
		caps |= (uint64_t)le32(p + o + 12) << 32;
	if (!(caps & AT_MY_CAP_PROTOCOL_41))
		return AT_MY_S_ERROR;
	s->server_caps = caps;
	memset(ev, 0, sizeof(*ev));
	ev->version = (const char *)p + 1;
	ev->version_len = vl;
	ev->mariadb = memmem(p + 1, vl, "MariaDB", 7) != NULL;
	ev->caps = caps;
	return AT_MY_S_GREETING;
}

/* An ERR packet into ev (p[0] == 0xff).  1 if it is MariaDB's progress
 * report rather than an error, 0 if an error, -1 if malformed. */
static int s_err(const struct at_my_server *s, const unsigned char *p,
		 size_t n, struct at_my_server_ev *ev)
{
	size_t o = 3;

	if (n < 3)
		return -1;
	ev->code = (uint16_t)le16(p + 1);
	if (ev->code == 0xffff && (s->caps & AT_MY_CAP_MARIADB_PROGRESS))
		return 1;
	ev->err = true;
	if (n >= 9 && p[3] == '#') {
		memcpy(ev->sqlstate, p + 4, 5);
		ev->sqlstate[5] = '\0';
		o = 9;
	}
	ev->msg = (const char *)p + o;
	ev->msg_len = n - o;
	return 0;
}

/* An OK packet (0x00, or 0xfe as a terminator with DEPRECATE_EOF). */
static bool s_ok(const unsigned char *p, size_t n, struct at_my_server_ev *ev)
{
	size_t o = 1;
	uint64_t insert_id;

	if (!lenenc(p, n, &o, &ev->affected) || !lenenc(p, n, &o, &insert_id))
		return false;
	if (n - o < 2)
		return false;
	ev->status = (uint16_t)le16(p + o);
	return true;
}

/* An EOF packet (0xfe, shorter than 9 bytes). */
static bool s_eof(const unsigned char *p, size_t n, struct at_my_server_ev *ev)
{
	if (n < 5 || n >= 9 || p[0] != 0xfe)
		return false;
	ev->status = (uint16_t)le16(p + 3);
	return true;
}

/* A result ended: the event, and where the decoder goes. */
static int s_result(struct at_my_server *s, struct at_my_server_ev *ev)
{
	ev->cmd = s->cmd;
	ev->more = !ev->err && (ev->status & AT_MY_STATUS_MORE_RESULTS) &&
		   (s->cmd == AT_MY_COM_QUERY ||
		    s->cmd == AT_MY_COM_STMT_EXECUTE);
	if (s->cmd == AT_MY_COM_STMT_PREPARE && !ev->err) {
		ev->stmt_id = s->stmt_id;
		ev->columns = (uint16_t)s->columns;
		ev->params = s->params;
	}
	s->f.looked = true;
	s->state = ev->more ? S_FIRST : S_IDLE;
	if (!ev->more)
		s->cmd = 0;
	s->rows = 0;
	return AT_MY_S_RESULT;
}

/* After a prepared statement's parameter definitions. */
static int s_after_params(struct at_my_server *s, struct at_my_server_ev *ev)
{
	if (s->columns > 0) {
		s->left = s->columns;
		s->state = S_COLS;
		return AT_MY_S_MORE;
	}
	return s_result(s, ev);
}

/* After column definitions (and their EOF). */
static int s_after_cols(struct at_my_server *s, struct at_my_server_ev *ev)
{
	if (s->cmd == AT_MY_COM_STMT_PREPARE)
		return s_result(s, ev);
	s->state = S_ROWS;
	return AT_MY_S_MORE;
}

/* A prepared statement's OK. */
static int s_prepared(struct at_my_server *s, const unsigned char *p,
		      size_t n, struct at_my_server_ev *ev)
{
	if (n < 12)
		return AT_MY_S_ERROR;
	s->stmt_id = le32(p + 1);
	s->columns = le16(p + 5);
	s->params = (uint16_t)le16(p + 7);
	s->f.looked = true;
	/* MySQL's optional metadata: a byte says whether definitions come. */
	if ((s->caps & AT_MY_CAP_OPTIONAL_METADATA) && n > 12 && p[12] == 0) {
		uint64_t cols = s->columns;

		s->columns = 0;
		s_after_params(s, ev);
		ev->columns = (uint16_t)cols;
		return AT_MY_S_RESULT;
	}
	if (s->params > 0) {
		s->left = s->params;
		s->state = S_PARAMS;
		return AT_MY_S_MORE;
	}
	return s_after_params(s, ev);
}

/* A result set's column count. */
static int s_column_count(struct at_my_server *s, const unsigned char *p,
			  size_t n)
{
	size_t o = 0;
	uint64_t cols;

	if (!lenenc(p, n, &o, &cols) || cols == 0 || cols > MAX_COLUMNS)
		return AT_MY_S_ERROR;
	if (s->caps & (AT_MY_CAP_OPTIONAL_METADATA |
		       AT_MY_CAP_MARIADB_CACHE_META)) {
		if (o >= n || p[o] > 1)
			return AT_MY_S_ERROR;
		if (p[o] == 0)
			cols = 0; /* no definitions follow */
		o++;
	}
	if (o != n)
		return AT_MY_S_ERROR;
	s->columns = s->left = cols;
	s->rows = 0;
	s->f.looked = true;
	if (cols > 0)
		s->state = S_COLS;
	else if (!(s->caps & AT_MY_CAP_DEPRECATE_EOF))
		s->state = S_COLS_EOF;
	else
		s->state = S_ROWS;
	return AT_MY_S_MORE;
}

/* The first packet of a (sub)result. */
static int s_first(struct at_my_server *s, const unsigned char *p, size_t n,
		   struct at_my_server_ev *ev)
{
	unsigned cmd = s->cmd;
	bool sets = cmd == AT_MY_COM_QUERY || cmd == AT_MY_COM_STMT_EXECUTE;
	int e;

	memset(ev, 0, sizeof(*ev));
	if (n < 1)
		return AT_MY_S_ERROR;
	if (cmd == AT_MY_COM_STATISTICS)
		return s_result(s, ev); /* a string */
	switch (p[0]) {
	case 0xff:
		e = s_err(s, p, n, ev);
		if (e < 0)
			return AT_MY_S_ERROR;
		if (e > 0) {
			s->f.looked = true;
			return AT_MY_S_MORE; /* progress: the result comes */
		}
		return s_result(s, ev);
	case 0x00:
		if (cmd == AT_MY_COM_STMT_PREPARE)
			return s_prepared(s, p, n, ev);
		return s_ok(p, n, ev) ? s_result(s, ev) : AT_MY_S_ERROR;
	case 0xfe:
		if (sets || cmd == AT_MY_COM_STMT_PREPARE)
			return AT_MY_S_ERROR;
		if (!s_eof(p, n, ev) && !s_ok(p, n, ev))
			return AT_MY_S_ERROR;
		return s_result(s, ev);
	case 0xfb:
		return cmd == AT_MY_COM_QUERY ? AT_MY_S_PASS : AT_MY_S_ERROR;
	}
	return sets ? s_column_count(s, p, n) : AT_MY_S_ERROR;
}

/* A packet of the rows (first byte, or more when a terminator or ERR). */
static int s_rows(struct at_my_server *s, const unsigned char *p, size_t n,
		  struct at_my_server_ev *ev)
{
	struct at_my_frame *f = &s->f;
	int e;

	if (n < 1)
		return AT_MY_S_ERROR;
	if ((p[0] == 0xfe && f->len < PKT_MAX) || p[0] == 0xff) {
		if (n < f->len && n < AT_MY_SRV_MAX) {
			want(f, AT_MY_SRV_MAX);
			return AT_MY_S_MORE;
		}
		memset(ev, 0, sizeof(*ev));
		ev->rows = s->rows;
		ev->has_rows = true;
		if (p[0] == 0xff) {
			e = s_err(s, p, n, ev);
			if (e < 0)
				return AT_MY_S_ERROR;
			if (e > 0) {
				f->looked = true;
				return AT_MY_S_MORE;
			}
			return s_result(s, ev);
		}
		if (!s_eof(p, n, ev) &&
		    !((s->caps & AT_MY_CAP_DEPRECATE_EOF) && s_ok(p, n, ev)))
			return AT_MY_S_ERROR;
		return s_result(s, ev);
	}
	/* A binary row starts with 0x00. */
	if (s->cmd != AT_MY_COM_QUERY && p[0] != 0x00)
		return AT_MY_S_ERROR;
	s->rows++;
	f->looked = true;
	return AT_MY_S_MORE;
}

/* A definition (of a parameter or column): it starts with "def". */
static int s_definition(struct at_my_server *s, const unsigned char *p,
			size_t n, struct at_my_server_ev *ev)
{
	bool params = s->state == S_PARAMS;

	if (n < 1 || p[0] != 3)
		return AT_MY_S_ERROR;
	s->f.looked = true;
	if (--s->left > 0)
		return AT_MY_S_MORE;
	if (!(s->caps & AT_MY_CAP_DEPRECATE_EOF)) {
		s->state = params ? S_PARAMS_EOF : S_COLS_EOF;
		return AT_MY_S_MORE;
	}
	memset(ev, 0, sizeof(*ev));
	return params ? s_after_params(s, ev) : s_after_cols(s, ev);
}

/* The EOF after definitions. */
static int s_defs_eof(struct at_my_server *s, const unsigned char *p,
		      size_t n, struct at_my_server_ev *ev)
{
	s->f.looked = true;
	memset(ev, 0, sizeof(*ev));
	if (!s_eof(p, n, ev))
		return AT_MY_S_ERROR;
	if (s->state == S_PARAMS_EOF)
		return s_after_params(s, ev);
	if (s->cmd == AT_MY_COM_STMT_EXECUTE && (s->flags & CURSOR_FLAGS) &&
	    (ev->status & AT_MY_STATUS_CURSOR_EXISTS)) {
		ev->has_rows = true;
		return s_result(s, ev); /* the rows come by STMT_FETCH */
	}
	ev->status = 0;
	return s_after_cols(s, ev);
}

/* The server's packet's first bytes. */
static int s_look(struct at_my_server *s, const unsigned char *p, size_t n,
		  struct at_my_server_ev *ev)
{
	switch (s->state) {
	case S_GREETING:
		s->f.looked = true;
		if (s_greeting(s, p, n, ev) != AT_MY_S_GREETING)
			return AT_MY_S_ERROR;
		s->state = S_IDLE;
		return AT_MY_S_GREETING;
	case S_AUTH:
		s->f.looked = true;
		memset(ev, 0, sizeof(*ev));
		if (n >= 1 && p[0] == 0x00)
			return s_ok(p, n, ev) ? s_result(s, ev) : AT_MY_S_ERROR;
		if (n >= 1 && p[0] == 0xff)
			return s_err(s, p, n, ev) == 0 ? s_result(s, ev)
						       : AT_MY_S_ERROR;
		if (n >= 1 && (p[0] == 0xfe || p[0] == 0x01))
			return AT_MY_S_MORE; /* auth switch, more data */
		return AT_MY_S_ERROR;
	case S_FIRST:
		return s_first(s, p, n, ev);
	case S_PARAMS:
	case S_COLS:
		return s_definition(s, p, n, ev);
	case S_PARAMS_EOF:
	case S_COLS_EOF:
		return s_defs_eof(s, p, n, ev);
	case S_ROWS:
		return s_rows(s, p, n, ev);
	}
	return AT_MY_S_ERROR;
}

/* A packet's header is in: what the server's logic wants of it. */
static int s_begin(struct at_my_server *s)
{
	struct at_my_frame *f = &s->f;

	switch (s->state) {
	case S_IDLE:
		return AT_MY_S_NEED_CMD;
	case S_GREETING:
		if (f->seq != 0)
			return AT_MY_S_ERROR;
		break;
	case S_AUTH:
		break; /* the client's packets come between */
	default:
		/* A response's first packet follows the command (sequence id
		 * 0, or more for a long one); the others follow each other. */
		if (s->fresh ? f->seq == 0 : f->seq != (uint8_t)(f->prev + 1))
			return AT_MY_S_ERROR;
		break;
	}
	s->fresh = false;
	if (s->state == S_ROWS || s->state == S_PARAMS || s->state == S_COLS)
		want(f, 1);
	else
		want(f, AT_MY_SRV_MAX);
	return AT_MY_S_MORE;
}

/* A whole packet (whole_packet): begin, look in place, pass over the
 * rest; a NEED_CMD keeps the header, as the general path does. */
static int s_packet(struct at_my_server *s, struct feed *in,
		    struct at_my_server_ev *ev)
{
	struct at_my_frame *f = &s->f;
	int r = s_begin(s);

	while (r == AT_MY_S_MORE && f->mode == M_PREFIX && !f->looked) {
		f->got = f->want;
		r = s_look(s, in->base, f->want, ev);
	}
	if (r == AT_MY_S_MORE || r == AT_MY_S_RESULT ||
	    r == AT_MY_S_GREETING)
		packet_skip(f, in);
	return r;
}

int at_my_server_next(struct at_my_server *s, const char *p, size_t n,
		      size_t *used, struct at_my_server_ev *ev)
{
	struct at_my_frame *f = &s->f;
	struct feed in;
	int r = AT_MY_S_MORE;

	if (s->verdict) {
		*used = n;
		return s->verdict;
	}
	feed_start(&in, f, p, n);
	while (r == AT_MY_S_MORE) {
		if (whole_packet(f, &in)) {
			r = s_packet(s, &in, ev);
			continue;
		}
		switch (frame_step(f, s->buf, &in)) {
		case FR_NONE:
			*used = in.i;
			return AT_MY_S_MORE;
		case FR_BEGIN:
			r = s_begin(s);
			break;
		case FR_LOOK:
			r = s_look(s, prefix(s->buf, &in), f->want, ev);
			break;
		default:
			r = AT_MY_S_ERROR;
			break;
		}
	}
	if (r == AT_MY_S_PASS || r == AT_MY_S_ERROR) {
		s->verdict = r;
		in.i = n;
	}
	*used = in.i;
	return r;
}
