/*
 * at_pgwire.c - the PostgreSQL protocol 3.0 decoder (see at_pgwire.h).
 *
 * DESIGN
 *
 * A message is a header and a body.  The header is gathered in a few
 * bytes of the decoder (5: type and length; 8 for the frontend's untyped
 * startup-phase messages: length and code; 1 for the backend's answer to
 * an SSLRequest).  The body is then walked with a small program per
 * message type, a list of field operations (a C string into one of the
 * copies, a byte, a 32-bit integer, the startup parameter pairs, the
 * error fields, "skip the rest", "the body ends here"), each resumable at
 * any byte: the decoder keeps the index of the field and how much of it
 * it has seen.  C strings are searched with memchr and copied up to their
 * bound; a skipped rest is not looked at, so a 1 GB COPY row or DataRow
 * costs one length check.
 *
 * Whole messages.  Drivers write, and servers answer, whole messages
 * (most in one call): a typed message whose header and body are both in
 * the bytes given is decoded in one pass over the same program
 * (whole_message: no header copy, no per-byte state), with the same
 * checks and copies; only a message split across calls, the untyped
 * startup phase and the error/notice fields take the resumable walk.
 *
 * Checks: each type has a length range (fixed-size messages must have
 * their exact length); a string must end inside its message; a message
 * whose program ends ("the body ends here") before its body does, or
 * whose body ends in the middle of a field, is an error.  These are the
 * protocol's rules, so a real server and client never trip them; other
 * bytes (another protocol, a desynchronised stream) do quickly.
 *
 * Phases.  The frontend starts untyped: StartupMessage, SSLRequest,
 * GSSENCRequest or CancelRequest.  After an SSLRequest/GSSENCRequest it
 * stays untyped (if the server refuses, the startup follows); after a
 * StartupMessage it is typed; after a CancelRequest nothing may follow.
 * The backend is typed, except that, told by at_pg_expect_answer(), its
 * next byte is the one byte answer.
 */
#include <string.h>

#include "at_pgwire.h"

enum { PH_TYPED, PH_UNTYPED, PH_ANSWER, PH_DONE, PH_ERROR };

/* Field operations. */
enum {
	OP_END,        /* the body must end here */
	OP_SKIP,       /* the rest of the body is not looked at */
	OP_NAME,       /* C string -> msg.name */
	OP_NAME2,      /* C string -> msg.name2 */
	OP_TEXT,       /* C string -> msg.text */
	OP_KIND,       /* one byte -> msg.kind */
	OP_NUM,        /* int32 -> msg.num */
	OP_PAIRS,      /* startup parameters, up to an empty name */
	OP_FIELDS,     /* error/notice fields, up to a zero code */
};

#define MAX_OPS 4 /* = sizeof(struct at_pg_dec.ops) */

struct spec {
	uint32_t min, max;           /* body length range */
	unsigned char ops[MAX_OPS];  /* ends with OP_END or OP_SKIP */
};

#define ANY AT_PG_MSG_LIMIT

static inline const struct spec *frontend_spec(unsigned char t)
{
	static const struct spec q = { 1, ANY, { OP_TEXT, OP_END } },
		p = { 4, ANY, { OP_NAME, OP_TEXT, OP_SKIP } },
		b = { 8, ANY, { OP_NAME, OP_NAME2, OP_SKIP } },
		dc = { 2, ANY, { OP_KIND, OP_NAME, OP_END } },
		e = { 5, ANY, { OP_NAME, OP_NUM, OP_END } },
		empty = { 0, 0, { OP_END } },
		skip = { 0, ANY, { OP_SKIP } },
		fail = { 1, ANY, { OP_TEXT, OP_END } };

	switch (t) {
	case 'Q': return &q;
	case 'P': return &p;
	case 'B': return &b;
	case 'D': case 'C': return &dc;
	case 'E': return &e;
	case 'S': case 'H': case 'X': case 'c': return &empty;
	case 'f': return &fail;
	/* CopyData, FunctionCall, password / SASL / GSS responses: the
	 * bytes are never read. */
	case 'd': case 'F': case 'p': return &skip;
	default: return NULL;
	}
}

static inline const struct spec *backend_spec(unsigned char t)
{
	static const struct spec auth = { 4, ANY, { OP_NUM, OP_SKIP } },
		key = { 8, 260, { OP_SKIP } },
		ready = { 1, 1, { OP_KIND, OP_END } },
		empty = { 0, 0, { OP_END } },
		tag = { 1, ANY, { OP_TEXT, OP_END } },
		err = { 1, ANY, { OP_FIELDS, OP_END } },
		skip = { 0, ANY, { OP_SKIP } },
		copy = { 3, ANY, { OP_SKIP } };

	switch (t) {
	case 'R': return &auth;
	case 'K': return &key;
	case 'Z': return &ready;
	case '1': case '2': case '3': case 'n': case 's': case 'I': case 'c':
		return &empty;
	case 'C': return &tag;
	case 'E': case 'N': return &err;
	case 'G': case 'H': case 'W': return &copy;
	/* ParameterStatus, BackendKeyData, RowDescription, DataRow,
	 * ParameterDescription, CopyData, notifications, function call
	 * results, NegotiateProtocolVersion: not copied. */
	case 'S': case 'T': case 'D': case 't': case 'd': case 'A': case 'V':
	case 'v':
		return &skip;
	default:
		return NULL;
	}
}

static int untyped_spec(uint32_t code, uint32_t len, struct spec *s,
			unsigned char *type)
{
	static const struct spec startup = { 1, 10000 - 8, { OP_PAIRS, OP_END } },
		req = { 0, 0, { OP_END } },
		cancel = { 8, 264, { OP_SKIP } };

	if ((code >> 16) == 3 && (code & 0xffff) < 16) {
		*s = startup;
		*type = AT_PG_STARTUP;
	} else if (code == AT_PG_SSL_CODE || code == AT_PG_GSSENC_CODE) {
		*s = req;
		*type = code == AT_PG_SSL_CODE ? AT_PG_SSL_REQUEST
					       : AT_PG_GSSENC_REQUEST;
	} else if (code == AT_PG_CANCEL_CODE) {
		*s = cancel;
		*type = AT_PG_CANCEL;
	} else {
		return -1;
	}
	return len >= s->min && len <= s->max ? 0 : -1;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

void at_pg_init(struct at_pg_dec *d, enum at_pg_side side)
{
	memset(d, 0, sizeof(*d));
	d->side = (uint8_t)side;
	d->phase = side == AT_PG_FRONTEND ? PH_UNTYPED : PH_TYPED;
}

void at_pg_expect_answer(struct at_pg_dec *d)
{
	if (d->phase == PH_TYPED && d->hdr_have == 0 && d->messages == 0)
		d->phase = PH_ANSWER;
}

int at_pg_at_boundary(const struct at_pg_dec *d)
{
	return d->hdr_have == 0 && d->phase != PH_ERROR;
}

int at_pg_in_startup(const struct at_pg_dec *d)
{
	return d->phase == PH_UNTYPED;
}

int at_pg_detect_frontend(const char *p, size_t len, int *type)
{
	struct spec s;
	unsigned char t;
	uint32_t l;

	if (len < 8)
		return 0;
	l = be32((const unsigned char *)p);
	if (l < 8 || untyped_spec(be32((const unsigned char *)p + 4), l - 8,
				  &s, &t) != 0)
		return 0;
	if (type)
		*type = t;
	return 1;
}

int64_t at_pg_tag_rows(const char *tag, size_t len)
{
	size_t i = len;
	int64_t v = 0, mul = 1;

	while (i > 0 && tag[i - 1] >= '0' && tag[i - 1] <= '9' &&
	       len - i < 18) {
		v += (tag[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (i == len || i == 0 || tag[i - 1] != ' ')
		return -1;
	return v;
}

/* Copy the string bytes p[0..n) at position pos of a bounded field. */
static void field_copy(char *dst, uint32_t cap, uint32_t pos,
		       const unsigned char *p, size_t n)
{
	if (pos < cap) {
		size_t k = cap - pos < n ? cap - pos : n;
		memcpy(dst + pos, p, k);
	}
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* A startup parameter's name ended: where its value goes. */
static void pair_target(struct at_pg_dec *d)
{
	static const char *const names[] = { "user", "database",
					     "application_name" };

	d->target = 0;
	for (int i = 0; i < 3; i++) {
		if (d->key_len == strlen(names[i]) &&
		    memcmp(d->key, names[i], d->key_len) == 0)
			d->target = (uint8_t)(i + 1);
	}
}

static char *pair_dst(struct at_pg_msg *m, int target)
{
	return target == 1 ? m->user : target == 2 ? m->database
						   : m->application;
}

/* Walk p[0..n) of the body (n <= what is left of it).  Returns 0, or -1
 * if the bytes break the message's program. */
static int walk(struct at_pg_dec *d, const unsigned char *p, size_t n)
{
	const unsigned char *ops = d->ops;
	struct at_pg_msg *m = &d->msg;

	while (n > 0) {
		unsigned char op = ops[d->field];
		const unsigned char *z;
		size_t take;

		switch (op) {
		case OP_END:
			return -1;
		case OP_SKIP:
			return 0;
		case OP_KIND:
			m->kind = *p++;
			n--;
			d->field++;
			if ((m->type == 'D' || m->type == 'C') &&
			    d->side == AT_PG_FRONTEND && m->kind != 'S' &&
			    m->kind != 'P')
				return -1;
			continue;
		case OP_NUM:
			m->num = m->num << 8 | *p++;
			n--;
			if (++d->flen == 4) {
				d->flen = 0;
				d->field++;
			}
			continue;
		default:
			break;
		}
		/* A C string; for pairs and fields, sub says which part. */
		if (op == OP_FIELDS && d->sub == 0) {
			d->target = *p++;
			n--;
			if (d->target == 0)
				d->field++;
			else
				d->sub = 1;
			continue;
		}
		z = memchr(p, 0, n);
		take = z ? (size_t)(z - p) : n;
		switch (op) {
		case OP_NAME:
			field_copy(m->name, AT_PG_NAME_MAX, d->flen, p, take);
			break;
		case OP_NAME2:
			field_copy(m->name2, AT_PG_NAME_MAX, d->flen, p, take);
			break;
		case OP_TEXT:
			field_copy(m->text, AT_PG_TEXT_MAX, d->flen, p, take);
			break;
		case OP_FIELDS:
			if (d->target == 'C')
				field_copy(m->code, 5, d->flen, p, take);
			else if (d->target == 'M')
				field_copy(m->text, AT_PG_TEXT_MAX, d->flen, p,
					   take);
			break;
		case OP_PAIRS:
			if (d->sub == 0)
				field_copy(d->key, sizeof(d->key), d->flen, p,
					   take);
			else if (d->target)
				field_copy(pair_dst(m, d->target),
					   AT_PG_PARAM_MAX, d->flen, p, take);
			break;
		}
		if (take > AT_PG_MSG_LIMIT - d->flen)
			return -1;
		d->flen += (uint32_t)take;
		p += take;
		n -= take;
		if (!z)
			continue;
		p++; /* the NUL */
		n--;
		switch (op) {
		case OP_NAME:
			m->name_total = d->flen;
			m->name_len = min32(d->flen, AT_PG_NAME_MAX);
			m->name[m->name_len] = '\0';
			d->field++;
			break;
		case OP_NAME2:
			m->name2_total = d->flen;
			m->name2_len = min32(d->flen, AT_PG_NAME_MAX);
			m->name2[m->name2_len] = '\0';
			d->field++;
			break;
		case OP_TEXT:
			m->text_total = d->flen;
			m->text_len = min32(d->flen, AT_PG_TEXT_MAX);
			m->text[m->text_len] = '\0';
			d->field++;
			break;
		case OP_FIELDS:
			if (d->target == 'C') {
				m->code[min32(d->flen, 5)] = '\0';
			} else if (d->target == 'M') {
				m->text_total = d->flen;
				m->text_len = min32(d->flen, AT_PG_TEXT_MAX);
				m->text[m->text_len] = '\0';
			}
			d->sub = 0;
			break;
		case OP_PAIRS:
			if (d->sub == 0) {
				if (d->flen == 0) {
					d->field++; /* the list's end */
					break;
				}
				d->key_len = (uint8_t)(d->flen < sizeof(d->key)
							       ? d->flen
							       : 0);
				pair_target(d);
				d->sub = 1;
			} else {
				if (d->target)
					pair_dst(m, d->target)[min32(
						d->flen, AT_PG_PARAM_MAX)] = '\0';
				d->sub = 0;
			}
			break;
		}
		d->flen = 0;
	}
	return 0;
}

/* A header is complete: set up the message, or fail. */
static int begin(struct at_pg_dec *d)
{
	struct at_pg_msg *m = &d->msg;
	const struct spec *sp;
	struct spec s;
	uint32_t len;
	unsigned char t;

	m->kind = 0;
	m->num = 0;
	m->name_len = m->name_total = m->name2_len = m->name2_total = 0;
	m->text_len = m->text_total = 0;
	m->name[0] = m->name2[0] = m->text[0] = m->code[0] = '\0';
	d->field = d->sub = d->target = 0;
	d->flen = 0;
	if (d->phase == PH_ANSWER) {
		m->type = AT_PG_ANSWER;
		m->kind = d->hdr[0];
		m->len = 0;
		d->body_left = 0;
		d->ops[0] = OP_END;
		return m->kind == 'S' || m->kind == 'N' || m->kind == 'G' ? 0
									   : -1;
	}
	if (d->phase == PH_UNTYPED) {
		len = be32(d->hdr);
		if (len < 8 || untyped_spec(be32(d->hdr + 4), len - 8, &s,
					    &t) != 0)
			return -1;
		sp = &s;
		m->type = t;
		m->len = len - 8;
		if (t == AT_PG_STARTUP) {
			m->num = be32(d->hdr + 4);
			m->user[0] = m->database[0] = m->application[0] = '\0';
		}
	} else {
		t = d->hdr[0];
		len = be32(d->hdr + 1);
		if (len < 4 || len > AT_PG_MSG_LIMIT)
			return -1;
		sp = d->side == AT_PG_FRONTEND ? frontend_spec(t)
					       : backend_spec(t);
		if (!sp)
			return -1;
		len -= 4;
		if (len < sp->min || len > sp->max)
			return -1;
		m->type = t;
		m->len = len;
	}
	memcpy(d->ops, sp->ops, sizeof(d->ops));
	d->body_left = m->len;
	return 0;
}

/* The body ended: the program must be at its end (or skipping). */
static int finish(struct at_pg_dec *d)
{
	unsigned char t = d->msg.type;

	if (d->ops[d->field] != OP_END && d->ops[d->field] != OP_SKIP)
		return -1;
	d->hdr_have = 0;
	if (t != AT_PG_ANSWER)
		d->messages++;
	switch (t) {
	case AT_PG_STARTUP:
		d->phase = PH_TYPED;
		break;
	case AT_PG_CANCEL:
		d->phase = PH_DONE;
		break;
	case AT_PG_ANSWER:
		d->phase = PH_TYPED;
		break;
	default:
		break;
	}
	return 0;
}

static int fail(struct at_pg_dec *d, size_t *used)
{
	d->phase = PH_ERROR;
	*used = 0;
	return AT_PG_ERROR;
}

/* A string field of a whole body at *b (before e): copied into dst (up
 * to cap bytes), its lengths set; the NUL is passed.  -1 if it does not
 * end inside the body. */
static int whole_string(const unsigned char **b, const unsigned char *e,
			char *dst, uint32_t cap, uint32_t *len,
			uint32_t *total)
{
	const unsigned char *z = memchr(*b, 0, (size_t)(e - *b));
	uint32_t t;

	if (!z)
		return -1;
	t = (uint32_t)(z - *b);
	*total = t;
	*len = min32(t, cap);
	memcpy(dst, *b, *len);
	dst[*len] = '\0';
	*b = z + 1;
	return 0;
}

/*
 * The common case: a typed message whose header and body are all in
 * u[0..n), decoded in one pass instead of through the resumable walk.
 * Returns 1 (a message: *used set), 0 (not such a message: take the
 * general path, nothing changed) or -1 (bad bytes).  What it accepts,
 * rejects and copies is what the general path does for the same bytes
 * (the fuzz target compares whole and split decodings).
 */
static int whole_message(struct at_pg_dec *d, const unsigned char *u,
			 size_t n, size_t *used)
{
	struct at_pg_msg *m = &d->msg;
	const struct spec *sp;
	const unsigned char *b, *e;
	uint32_t len;
	unsigned char t = u[0];

	len = be32(u + 1);
	if (len < 4 || len > AT_PG_MSG_LIMIT)
		return -1;
	if (len - 4 > n - 5)
		return 0;
	sp = d->side == AT_PG_FRONTEND ? frontend_spec(t) : backend_spec(t);
	if (!sp)
		return -1;
	if (sp->ops[0] == OP_FIELDS)
		return 0; /* errors and notices: the general path */
	len -= 4;
	if (len < sp->min || len > sp->max)
		return -1;
	m->type = t;
	m->len = len;
	m->kind = 0;
	m->num = 0;
	m->name_len = m->name_total = m->name2_len = m->name2_total = 0;
	m->text_len = m->text_total = 0;
	m->name[0] = m->name2[0] = m->text[0] = m->code[0] = '\0';
	b = u + 5;
	e = b + len;
	for (int i = 0; i < MAX_OPS; i++) {
		switch (sp->ops[i]) {
		case OP_END:
			if (b != e)
				return -1;
			goto done;
		case OP_SKIP:
			goto done;
		case OP_KIND:
			if (b == e)
				return -1;
			m->kind = *b++;
			if ((t == 'D' || t == 'C') &&
			    d->side == AT_PG_FRONTEND && m->kind != 'S' &&
			    m->kind != 'P')
				return -1;
			break;
		case OP_NUM:
			if (e - b < 4)
				return -1;
			m->num = be32(b);
			b += 4;
			break;
		case OP_NAME:
			if (whole_string(&b, e, m->name, AT_PG_NAME_MAX,
					 &m->name_len, &m->name_total) != 0)
				return -1;
			break;
		case OP_NAME2:
			if (whole_string(&b, e, m->name2, AT_PG_NAME_MAX,
					 &m->name2_len, &m->name2_total) != 0)
				return -1;
			break;
		case OP_TEXT:
			if (whole_string(&b, e, m->text, AT_PG_TEXT_MAX,
					 &m->text_len, &m->text_total) != 0)
				return -1;
			break;
		default:
			return -1; /* no typed message has pairs */
		}
	}
done:
	d->messages++;
	*used = 5 + (size_t)len;
	return 1;
}

/* The general path: headers gathered and bodies walked across calls. */
static __attribute__((noinline)) int next_split(struct at_pg_dec *d,
						 const unsigned char *u,
						 size_t n, size_t *used)
{
	size_t pos = 0;

	*used = 0;
	if (d->phase == PH_ERROR)
		return AT_PG_ERROR;
	while (pos < n) {
		if (d->phase == PH_DONE)
			return fail(d, used);
		/* Gather the header. */
		uint8_t need = d->phase == PH_ANSWER ? 1
			       : d->phase == PH_UNTYPED ? 8 : 5;
		if (d->phase == PH_ANSWER && d->hdr_have == 0 && u[pos] == 'E') {
			d->phase = PH_TYPED; /* an old server's error */
			need = 5;
		}
		if (d->hdr_have < need) {
			size_t k = need - d->hdr_have;
			if (k > n - pos)
				k = n - pos;
			/* A typed header whole (the common case): a fixed-size
			 * copy, inline. */
			if (k == 5)
				memcpy(d->hdr + d->hdr_have, u + pos, 5);
			else
				memcpy(d->hdr + d->hdr_have, u + pos, k);
			d->hdr_have = (uint8_t)(d->hdr_have + k);
			pos += k;
			if (d->hdr_have < need)
				break;
			if (begin(d) != 0)
				return fail(d, used);
		}
		/* The body. */
		size_t k = d->body_left < n - pos ? d->body_left : n - pos;
		if (k && walk(d, u + pos, k) != 0)
			return fail(d, used);
		d->body_left -= (uint32_t)k;
		pos += k;
		if (d->body_left == 0) {
			if (finish(d) != 0)
				return fail(d, used);
			*used = pos;
			return AT_PG_MESSAGE;
		}
	}
	*used = pos;
	return AT_PG_MORE;
}

/* The whole message first: a small function, the general path's
 * registers saved only when it is taken. */
int at_pg_next(struct at_pg_dec *d, const char *p, size_t n, size_t *used)
{
	const unsigned char *u = (const unsigned char *)p;

	if (d->phase == PH_TYPED && d->hdr_have == 0 && n >= 5) {
		int r = whole_message(d, u, n, used);
		if (r > 0)
			return AT_PG_MESSAGE;
		if (r < 0)
			return fail(d, used);
	}
	return next_split(d, u, n, used);
}

size_t at_pg_comment(char *out, const char *tp)
{
	memcpy(out, "/*traceparent='", 15);
	memcpy(out + 15, tp, 55);
	memcpy(out + 70, "'*/", 4);
	return AT_PG_COMMENT_LEN;
}

int at_pg_comment_safe(const char *tail, size_t len, int whole)
{
	size_t i = len;

	while (i > 0 && tail[i - 1] != '\n' && tail[i - 1] != '\r')
		i--;
	if (i == 0 && !whole)
		return 0;
	for (; i + 1 < len; i++) {
		if (tail[i] == '-' && tail[i + 1] == '-')
			return 0;
	}
	return 1;
}
