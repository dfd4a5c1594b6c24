/*
 * at_resp.c - RESP2/RESP3 requests and replies, decoded incrementally
 * (see at_resp.h), and the table of what Redis commands mean for a span.
 *
 * Design: two byte-driven state machines, one per direction, whose whole
 * state is a plain struct (no pointer into the input survives a call), so
 * a split anywhere is the same as no split.  The framing bytes (type
 * bytes, length lines, CRLFs) are read one at a time: they are a few
 * bytes per element.  Payloads - bulk strings, simple lines - move in
 * runs: a run is skipped, or copied up to what the span needs.  A
 * request's count line, and a bulk string whose length line, payload and
 * CRLF are all in the bytes given, in their plain form, are taken in one
 * step instead (array_run: what a driver writes, a command in one call);
 * anything else - split, signed, over 19 digits - goes byte by byte, so
 * the verdicts are those of the byte path.  Replies likewise: a bulk
 * string or an integer element whole and plain (element_run).
 *
 * Requests: an array of bulk strings, or an inline line of words.  Word 0
 * is the command name (uppercased copy); the others are copied joined by
 * spaces into one bounded buffer, noting where the first AT_RESP_MARKS
 * end, so the family shows a key, a subcommand or a database index
 * without a copy of its own.  Nested arrays, or anything else where a
 * bulk string is due, are malformed (the server refuses them too).
 *
 * Replies: a stack of the aggregates open (arrays, maps, sets, pushes,
 * attributes), each with the elements it still waits for (a map's pairs
 * count twice); an element that ends pops every aggregate it completes.
 * Attributes (|) are skipped: their end completes no element.  The
 * reply's own summary is kept: its type, null or not, an integer's value,
 * an aggregate's element and null counts (MGET's misses), and the first
 * bytes of a simple string or an error (its prefix: ERR, WRONGTYPE...).
 *
 * Limits: see at_resp.h.  Lenient where the server is (a '\n' alone ends
 * an inline line, a closing quote may touch the next word); strict where
 * the framing is at stake (every length line and payload ends in CRLF).
 */
#include <string.h>

#include "at_resp.h"

/* ---- shared: length and count lines ---- */

enum { NUM_OK = 0, NUM_END = 1, NUM_BAD = -1 };

/*
 * One byte of a number line ("-1", "42", "?"): NUM_OK to go on, NUM_END
 * at the '\r' (the '\n' is checked by the caller's next state), NUM_BAD.
 * allow: the first character may also be '-' (a null or a negative
 * integer) or '?' (streamed); a '?' is kept as digits == 0 && neg ==
 * false && num == UINT64_MAX.
 */
static int num_byte(uint64_t *num, uint32_t *digits, bool *neg, char c,
		    bool allow_neg, bool allow_stream)
{
	if (c >= '0' && c <= '9') {
		if (*num == UINT64_MAX || *digits >= 20 ||
		    *num > (UINT64_MAX - 9) / 10)
			return NUM_BAD;
		*num = *num * 10 + (uint64_t)(c - '0');
		(*digits)++;
		return NUM_OK;
	}
	if (*digits == 0 && !*neg && *num == 0) {
		if (c == '-' && allow_neg) {
			*neg = true;
			return NUM_OK;
		}
		if (c == '?' && allow_stream) {
			*num = UINT64_MAX;
			return NUM_OK;
		}
	}
	if (c == '\r' && (*digits > 0 || *num == UINT64_MAX))
		return NUM_END;
	return NUM_BAD;
}

/* The bytes of a payload (*left still due) among avail: taken off *left. */
static inline size_t payload_run(uint64_t *left, size_t avail)
{
	size_t k = avail < *left ? avail : (size_t)*left;

	*left -= k;
	return k;
}

static inline char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* What command names are made of (JSON.GET, FT.SEARCH...), for every
 * byte before it is uppercased: one load per byte of a name. */
static const bool name_byte[256] = {
	['A' ... 'Z'] = true, ['a' ... 'z'] = true, ['0' ... '9'] = true,
	['.'] = true, ['_'] = true, ['-'] = true, [':'] = true, ['|'] = true,
};

/* k name bytes of p uppercased into dst; true if one is not a name's. */
static inline bool name_copy(char *dst, const char *p, size_t k)
{
	bool odd = false;

	for (size_t i = 0; i < k; i++) {
		unsigned char b = (unsigned char)p[i];

		dst[i] = upper((char)b);
		odd |= !name_byte[b];
	}
	return odd;
}

/* ---- requests ---- */

enum {
	REQ_START,      /* a command starts here */
	REQ_COUNT,      /* "*<count>" */
	REQ_COUNT_LF,
	REQ_DOLLAR,     /* a bulk string is due */
	REQ_LEN,        /* "$<len>" */
	REQ_LEN_LF,
	REQ_DATA,
	REQ_DATA_CR,
	REQ_DATA_LF,
	REQ_INLINE,     /* a line of words */
	REQ_BAD,
};

void at_resp_req_init(struct at_resp_req *d)
{
	memset(d, 0, sizeof(*d));
	d->state = REQ_START;
}

static void cmd_reset(struct at_resp_req *d)
{
	struct at_resp_cmd *c = &d->cmd;

	c->name[0] = '\0';
	c->name_len = 0;
	c->name_cut = false;
	d->name_odd = false;
	c->inline_form = false;
	c->argc = 0;
	c->args_len = 0;
	c->args_cut = false;
	c->marks = 0;
	d->word = 0;
}

/* A word (bulk string or inline word) begins: arguments are separated. */
static void word_begin(struct at_resp_req *d)
{
	struct at_resp_cmd *c = &d->cmd;

	if (d->word < 2 || c->args_cut)
		return;
	if (c->args_len < AT_RESP_ARGS_MAX)
		c->args[c->args_len++] = ' ';
	else
		c->args_cut = true;
}

static void word_bytes(struct at_resp_req *d, const char *p, size_t k)
{
	struct at_resp_cmd *c = &d->cmd;
	size_t room;

	if (d->word == 0) {
		room = AT_RESP_NAME_MAX - 1 - c->name_len;
		if (k > room) {
			c->name_cut = true;
			k = room;
		}
		d->name_odd |= name_copy(c->name + c->name_len, p, k);
		c->name_len += k;
		c->name[c->name_len] = '\0';
		return;
	}
	if (c->args_cut)
		return;
	room = AT_RESP_ARGS_MAX - c->args_len;
	if (k > room) {
		c->args_cut = true;
		k = room;
	}
	memcpy(c->args + c->args_len, p, k);
	c->args_len += k;
}

/* A word ended: false if it was a name no command has. */
static bool word_end(struct at_resp_req *d)
{
	struct at_resp_cmd *c = &d->cmd;

	if (d->word == 0 && (d->name_odd || c->name_len == 0))
		return false;
	if (d->word > 0) {
		c->argc++;
		if (d->word <= AT_RESP_MARKS && !c->args_cut &&
		    c->marks == d->word - 1) {
			c->arg_end[d->word - 1] = (uint16_t)c->args_len;
			c->marks = d->word;
		}
	}
	d->word++;
	return true;
}

static inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One byte of an inline line: AT_RESP_MORE, _DONE (at its '\n') or
 * _BAD.  Blank lines send the decoder back to REQ_START. */
static int inline_byte(struct at_resp_req *d, char c)
{
	if (++d->line > AT_RESP_LINE_MAX)
		return AT_RESP_BAD;
	if (c == '\n') {
		if (d->quote)
			return AT_RESP_BAD; /* unbalanced quotes */
		if (d->in_word && !word_end(d))
			return AT_RESP_BAD;
		d->state = REQ_START;
		return d->word > 0 ? AT_RESP_DONE : AT_RESP_MORE;
	}
	if (d->quote) {
		if (d->escape)
			d->escape = false;
		else if (c == '\\' && d->quote == '"')
			d->escape = true;
		else if (c == d->quote)
			d->quote = 0;
		if (d->quote && !d->escape)
			word_bytes(d, &c, 1);
		return AT_RESP_MORE;
	}
	if (is_space(c)) {
		if (d->in_word && !word_end(d))
			return AT_RESP_BAD;
		d->in_word = false;
		return AT_RESP_MORE;
	}
	if (!d->in_word) {
		d->in_word = true;
		word_begin(d);
		if (c == '"' || c == '\'') {
			d->quote = c;
			return AT_RESP_MORE;
		}
	}
	word_bytes(d, &c, 1);
	return AT_RESP_MORE;
}

/* One framing byte of an array command. */
static int array_byte(struct at_resp_req *d, char c)
{
	int r;

	switch (d->state) {
	case REQ_COUNT:
	case REQ_LEN:
		r = num_byte(&d->num, &d->digits, &d->neg, c,
			     d->state == REQ_COUNT, false);
		if (r == NUM_BAD)
			return AT_RESP_BAD;
		if (r == NUM_END)
			d->state = d->state == REQ_COUNT ? REQ_COUNT_LF :
							   REQ_LEN_LF;
		return AT_RESP_MORE;
	case REQ_COUNT_LF:
		if (c != '\n')
			return AT_RESP_BAD;
		if (d->neg || d->num == 0) {
			d->state = REQ_START; /* "*0", "*-1": nothing */
			return AT_RESP_MORE;
		}
		if (d->num > AT_RESP_ARGC_MAX)
			return AT_RESP_BAD;
		d->left = (uint32_t)d->num;
		d->state = REQ_DOLLAR;
		return AT_RESP_MORE;
	case REQ_DOLLAR:
		if (c != '$')
			return AT_RESP_BAD;
		d->num = 0;
		d->digits = 0;
		d->neg = false;
		d->state = REQ_LEN;
		return AT_RESP_MORE;
	case REQ_LEN_LF:
		if (c != '\n' || d->num > AT_RESP_BULK_MAX)
			return AT_RESP_BAD;
		d->bulk = d->num;
		word_begin(d);
		d->state = d->bulk ? REQ_DATA : REQ_DATA_CR;
		return AT_RESP_MORE;
	case REQ_DATA_CR:
		if (c != '\r')
			return AT_RESP_BAD;
		d->state = REQ_DATA_LF;
		return AT_RESP_MORE;
	case REQ_DATA_LF:
		if (c != '\n' || !word_end(d))
			return AT_RESP_BAD;
		if (--d->left > 0) {
			d->state = REQ_DOLLAR;
			return AT_RESP_MORE;
		}
		d->state = REQ_START;
		return AT_RESP_DONE;
	}
	return AT_RESP_BAD;
}

/*
 * "<digits>\r\n" at p[0..n), in its plain form (1 to 19 digits: no
 * overflow): its value in *v and its length; 0 when it is not all there
 * or not plain (the byte path then reads it, and rejects it if it must).
 */
static inline size_t plain_line(const char *p, size_t n, uint64_t *v)
{
	size_t i = 0;
	uint64_t x = 0;

	/* One digit: a count, the length of a name or a short key. */
	if (n >= 3 && (unsigned char)(p[0] - '0') < 10 && p[1] == '\r' &&
	    p[2] == '\n') {
		*v = (uint64_t)(p[0] - '0');
		return 3;
	}
	while (i < n && i < 19 && (unsigned char)(p[i] - '0') < 10)
		x = x * 10 + (uint64_t)(p[i++] - '0');
	if (i == 0 || i + 1 >= n || p[i] != '\r' || p[i + 1] != '\n')
		return 0;
	*v = x;
	return i + 2;
}

/*
 * The framing in runs: at a fresh count line or a bulk string's '$', an
 * element whose bytes are all in p[0..n) and plainly formed is taken in
 * one step, with the same effects as byte after byte.  Returns the bytes
 * taken (0: none, the byte path goes on); *r the result of the last.
 */
static size_t array_run(struct at_resp_req *d, const char *p, size_t n,
			int *r)
{
	uint64_t v;
	size_t k, end;

	*r = AT_RESP_MORE;
	if (d->state == REQ_COUNT && d->digits == 0 && !d->neg &&
	    d->num == 0) {
		k = plain_line(p, n, &v);
		if (k == 0 || v == 0 || v > AT_RESP_ARGC_MAX)
			return 0;
		d->num = v;
		d->digits = 1;
		d->left = (uint32_t)v;
		d->state = REQ_DOLLAR;
		return k;
	}
	if (d->state != REQ_DOLLAR || n < 5 || p[0] != '$')
		return 0;
	k = plain_line(p + 1, n - 1, &v);
	if (k == 0 || v > AT_RESP_BULK_MAX || v > n - 1 - k ||
	    n - 1 - k - v < 2)
		return 0;
	end = 1 + k + (size_t)v;
	if (p[end] != '\r' || p[end + 1] != '\n')
		return 0;
	d->num = v;
	d->bulk = 0;
	word_begin(d);
	word_bytes(d, p + 1 + k, (size_t)v);
	if (!word_end(d)) {
		*r = AT_RESP_BAD;
		return end + 2;
	}
	if (--d->left > 0) {
		d->state = REQ_DOLLAR;
		return end + 2;
	}
	d->state = REQ_START;
	*r = AT_RESP_DONE;
	return end + 2;
}

/* word_begin, word_bytes and word_end of a word whole in p[0..len):
 * false as word_end.  The common cases in one step: a name that fits,
 * an argument whose copy fits. */
static inline bool whole_word(struct at_resp_req *d, const char *p,
			      size_t len)
{
	struct at_resp_cmd *c = &d->cmd;
	size_t at;

	if (d->word == 0 && len > 0 && len < AT_RESP_NAME_MAX) {
		d->name_odd = name_copy(c->name, p, len);
		c->name[len] = '\0';
		c->name_len = len;
		if (d->name_odd)
			return false;
		d->word = 1;
		return true;
	}
	if (d->word == 0 || c->args_cut ||
	    len + 1 > AT_RESP_ARGS_MAX - c->args_len) {
		word_begin(d);
		word_bytes(d, p, len);
		return word_end(d);
	}
	at = c->args_len;
	if (d->word >= 2)
		c->args[at++] = ' ';
	memcpy(c->args + at, p, len);
	c->args_len = at + len;
	c->argc++;
	if (d->word <= AT_RESP_MARKS && c->marks == d->word - 1) {
		c->arg_end[d->word - 1] = (uint16_t)c->args_len;
		c->marks = d->word;
	}
	d->word++;
	return true;
}

/*
 * A whole command at REQ_START: "*<count>\r\n" then, while they are whole
 * and plain, its bulk strings, with the effects of array_run one element
 * after the other (what a driver writes: a command in one call).  The
 * name is copied uppercased in one pass, the arguments with one memcpy
 * each.  Returns the bytes taken (0: not a plain count line, the byte
 * path reads it); *r: AT_RESP_DONE when the command ended, else
 * AT_RESP_MORE (state REQ_DOLLAR: the next element is not whole or not
 * plain, the generic path goes on from it), AT_RESP_BAD.
 */
static size_t array_whole(struct at_resp_req *d, const char *p, size_t n,
			  int *r)
{
	uint64_t v, len;
	size_t i, k, end;

	*r = AT_RESP_MORE;
	k = plain_line(p + 1, n - 1, &v);
	if (k == 0 || v == 0 || v > AT_RESP_ARGC_MAX)
		return 0;
	cmd_reset(d);
	d->neg = false;
	d->num = v;
	d->digits = 1;
	d->left = (uint32_t)v;
	d->state = REQ_DOLLAR;
	i = 1 + k;
	while (n - i >= 5 && p[i] == '$') {
		k = plain_line(p + i + 1, n - i - 1, &len);
		if (k == 0 || len > AT_RESP_BULK_MAX ||
		    len > n - i - 1 - k || n - i - 1 - k - len < 2)
			break;
		end = i + 1 + k + (size_t)len;
		if (p[end] != '\r' || p[end + 1] != '\n')
			break;
		d->num = len;
		d->bulk = 0;
		i = end + 2;
		if (!whole_word(d, p + end - (size_t)len, (size_t)len)) {
			*r = AT_RESP_BAD;
			return i;
		}
		if (--d->left == 0) {
			d->state = REQ_START;
			*r = AT_RESP_DONE;
			return i;
		}
	}
	return i;
}

int at_resp_req_next(struct at_resp_req *d, const char *p, size_t n,
		     size_t *used)
{
	size_t i = 0, run;
	int r = AT_RESP_MORE;

	*used = 0;
	if (d->state == REQ_BAD)
		return AT_RESP_BAD;
	if (d->state == REQ_START && n >= 4 && p[0] == '*' &&
	    (run = array_whole(d, p, n, &r)) > 0) {
		i = run;
		if (r != AT_RESP_MORE)
			goto out;
	}
	while (i < n) {
		if ((d->state == REQ_COUNT || d->state == REQ_DOLLAR) &&
		    (run = array_run(d, p + i, n - i, &r)) > 0) {
			i += run;
			if (r != AT_RESP_MORE)
				break;
			continue;
		}
		if (d->state == REQ_DATA) {
			size_t k = payload_run(&d->bulk, n - i);

			word_bytes(d, p + i, k);
			i += k;
			if (d->bulk == 0)
				d->state = REQ_DATA_CR;
			continue;
		}
		if (d->state == REQ_START) {
			cmd_reset(d);
			d->num = 0;
			d->digits = 0;
			d->neg = false;
			if (p[i] == '*') {
				d->state = REQ_COUNT;
				i++;
				continue;
			}
			d->cmd.inline_form = true;
			d->line = 0;
			d->quote = 0;
			d->escape = false;
			d->in_word = false;
			d->state = REQ_INLINE;
		}
		if (d->state == REQ_INLINE)
			r = inline_byte(d, p[i++]);
		else
			r = array_byte(d, p[i++]);
		if (r != AT_RESP_MORE)
			break;
	}
out:
	if (r == AT_RESP_BAD)
		d->state = REQ_BAD;
	*used = i;
	return r;
}

bool at_resp_arg(const struct at_resp_cmd *c, uint32_t i, const char **p,
		 size_t *len)
{
	size_t start;

	if (i == 0 || i > c->marks)
		return false;
	start = i == 1 ? 0 : (size_t)c->arg_end[i - 2] + 1;
	*p = c->args + start;
	*len = c->arg_end[i - 1] - start;
	return true;
}

bool at_resp_detect_request(const char *p, size_t n)
{
	char name[AT_RESP_NAME_MAX];
	size_t i = 1, k = 0, line;
	const char *nl;
	bool known = false;

	if (n >= 4 && p[0] == '*') {
		while (i < n && i <= 10 && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == 1 || i + 1 >= n || p[i] != '\r' || p[i + 1] != '\n')
			return false;
		return i + 2 == n || p[i + 2] == '$';
	}
	/* Inline: the whole first line must be here. */
	nl = memchr(p, '\n', n);
	if (!nl)
		return false;
	line = (size_t)(nl - p);
	while (k < line && k < AT_RESP_NAME_MAX - 1 && p[k] >= 'A' && p[k] <= 'Z') {
		name[k] = p[k];
		k++;
	}
	if (k == 0 || (k < line && !is_space(p[k])))
		return false;
	at_resp_command(name, k, &known);
	if (!known || memmem(p, line, " HTTP/", 6))
		return false;
	/* Not HTTP/0.9's "GET /path" either. */
	return !(k == 3 && !memcmp(name, "GET", 3) && k + 1 < line &&
		 p[k + 1] == '/');
}

/* ---- replies ---- */

enum {
	REP_TYPE,       /* an element's type byte is due */
	REP_NUM,        /* the number after $ * % ~ > | ! = : ; */
	REP_NUM_LF,
	REP_LINE,       /* the line after + - , # ( _ . */
	REP_LINE_LF,
	REP_DATA,       /* a bulk payload */
	REP_DATA_CR,
	REP_DATA_LF,
	REP_BAD,
};

void at_resp_rep_init(struct at_resp_rep *d)
{
	memset(d, 0, sizeof(*d));
	d->state = REP_TYPE;
}

static void reply_reset(struct at_resp_reply *r, char type)
{
	r->type = type;
	r->nil = false;
	r->push = type == '>';
	r->integer = 0;
	r->count = 0;
	r->nulls = 0;
	r->text_len = 0;
}

static void text_bytes(struct at_resp_reply *r, const char *p, size_t k)
{
	size_t room = AT_RESP_TEXT_MAX - r->text_len;

	if (k > room)
		k = room;
	memcpy(r->text + r->text_len, p, k);
	r->text_len += k;
}

/*
 * An element ended (nil: it was a null): pop what it completes.
 * AT_RESP_DONE when that was the whole reply, else AT_RESP_MORE (the
 * next element's type byte is due).
 */
static int elem_end(struct at_resp_rep *d, bool nil)
{
	d->state = REP_TYPE;
	for (;;) {
		struct at_resp_frame *f;

		if (d->depth == 0) {
			if (d->reply.type == '%')
				d->reply.count /= 2;
			return AT_RESP_DONE;
		}
		f = &d->stack[d->depth - 1];
		if (d->depth == 1 && f->type != '|') {
			d->reply.count++;
			d->reply.nulls += nil;
		}
		if (f->left == AT_RESP_STREAMED)
			return AT_RESP_MORE;
		if (--f->left > 0)
			return AT_RESP_MORE;
		d->depth--;
		if (f->type == '|')
			return AT_RESP_MORE; /* attributes are no element */
		nil = false;
	}
}

/* An aggregate header ended: open it (or end it, if empty). */
static int aggregate_open(struct at_resp_rep *d)
{
	uint64_t left = d->num;

	if (d->neg) {
		if (d->num != 1 || d->type != '*')
			return AT_RESP_BAD;
		if (d->top_level)
			d->reply.nil = true;
		return elem_end(d, true); /* *-1 */
	}
	if (left == UINT64_MAX) {
		if (d->type == '|' || d->type == '>')
			return AT_RESP_BAD;
		left = AT_RESP_STREAMED;
	} else if (left > AT_RESP_ARGC_MAX) {
		return AT_RESP_BAD;
	} else if (d->type == '%' || d->type == '|') {
		left *= 2;
	}
	if (left == 0)
		return d->type == '|' ? (d->state = REP_TYPE, AT_RESP_MORE) :
					elem_end(d, false);
	if (d->depth >= AT_RESP_DEPTH)
		return AT_RESP_BAD;
	d->stack[d->depth].left = left;
	d->stack[d->depth].type = d->type;
	d->depth++;
	d->state = REP_TYPE;
	return AT_RESP_MORE;
}

/* A number line ended (its '\n'). */
static int num_end(struct at_resp_rep *d)
{
	switch (d->type) {
	case ':':
		if (d->top_level) {
			if (d->neg && d->num > (uint64_t)INT64_MAX + 1)
				return AT_RESP_BAD;
			if (!d->neg && d->num > (uint64_t)INT64_MAX)
				return AT_RESP_BAD;
			d->reply.integer = d->neg ? (int64_t)(0 - d->num) :
						    (int64_t)d->num;
		}
		return elem_end(d, false);
	case '$':
		if (d->num == UINT64_MAX) {
			d->streamed_str = true;
			d->state = REP_TYPE;
			return AT_RESP_MORE;
		}
		if (d->neg) {
			if (d->num != 1)
				return AT_RESP_BAD;
			if (d->top_level)
				d->reply.nil = true;
			return elem_end(d, true); /* $-1 */
		}
		/* fall through */
	case '!':
	case '=':
	case ';':
		if (d->num > AT_RESP_BULK_MAX)
			return AT_RESP_BAD;
		if (d->type == ';' && d->num == 0) {
			d->streamed_str = false;
			return elem_end(d, false);
		}
		d->bulk = d->num;
		d->state = d->bulk ? REP_DATA : REP_DATA_CR;
		return AT_RESP_MORE;
	}
	return aggregate_open(d);
}

/* A simple line ended (its '\n'). */
static int line_end(struct at_resp_rep *d)
{
	struct at_resp_frame *f;

	if (d->type == '_') {
		if (d->line)
			return AT_RESP_BAD;
		if (d->top_level)
			d->reply.nil = true;
		return elem_end(d, true);
	}
	if (d->type != '.')
		return elem_end(d, false);
	/* The end of a streamed aggregate: it is the element that ends. */
	f = &d->stack[d->depth - 1];
	if (d->line || f->left != AT_RESP_STREAMED)
		return AT_RESP_BAD;
	d->depth--;
	return elem_end(d, false);
}

/* A type byte. */
static int type_byte(struct at_resp_rep *d, char c)
{
	d->num = 0;
	d->digits = 0;
	d->neg = false;
	d->line = 0;
	if (d->streamed_str) {
		if (c != ';')
			return AT_RESP_BAD;
		d->type = c;
		d->state = REP_NUM;
		return AT_RESP_MORE;
	}
	switch (c) {
	case '+': case '-': case ',': case '#': case '(': case '_':
		break;
	case '.':
		if (d->depth == 0 ||
		    d->stack[d->depth - 1].left != AT_RESP_STREAMED)
			return AT_RESP_BAD;
		break;
	case ':': case '$': case '!': case '=':
	case '*': case '%': case '~': case '>': case '|':
		d->state = REP_NUM;
		break;
	default:
		return AT_RESP_BAD;
	}
	d->type = c;
	d->top_level = d->depth == 0 && c != '|';
	if (d->top_level)
		reply_reset(&d->reply, c);
	if (d->state != REP_NUM)
		d->state = REP_LINE;
	return AT_RESP_MORE;
}

static int rep_byte(struct at_resp_rep *d, char c)
{
	int r;

	switch (d->state) {
	case REP_TYPE:
		return type_byte(d, c);
	case REP_NUM:
		r = num_byte(&d->num, &d->digits, &d->neg, c,
			     d->type == ':' || d->type == '$' || d->type == '*',
			     d->type == '$' || d->type == '*' ||
				     d->type == '%' || d->type == '~');
		if (r == NUM_BAD)
			return AT_RESP_BAD;
		if (r == NUM_END)
			d->state = REP_NUM_LF;
		return AT_RESP_MORE;
	case REP_NUM_LF:
		return c == '\n' ? num_end(d) : AT_RESP_BAD;
	case REP_LINE_LF:
		return c == '\n' ? line_end(d) : AT_RESP_BAD;
	case REP_DATA_CR:
		if (c != '\r')
			return AT_RESP_BAD;
		d->state = REP_DATA_LF;
		return AT_RESP_MORE;
	case REP_DATA_LF:
		if (c != '\n')
			return AT_RESP_BAD;
		if (d->type == ';') {
			d->state = REP_TYPE; /* the next chunk */
			return AT_RESP_MORE;
		}
		return elem_end(d, false);
	}
	return AT_RESP_BAD;
}

/*
 * A bulk string ("$<len>\r\n<bytes>\r\n") or an integer (":<digits>\r\n")
 * whole in p[0..n) and plainly formed (no sign, no '?', 19 digits at
 * most), where an element's type byte is due and no streamed string is
 * open: taken in one step, with the effects of its bytes one by one.
 * Returns the bytes taken (0: none, the byte path goes on); *r the
 * result.
 */
static size_t element_run(struct at_resp_rep *d, const char *p, size_t n,
			  int *r)
{
	uint64_t v;
	size_t k, end;
	char c = p[0];

	if (n < 4 || (c != '$' && c != ':'))
		return 0;
	k = plain_line(p + 1, n - 1, &v);
	if (k == 0)
		return 0;
	end = 1 + k;
	if (c == '$') {
		if (v > AT_RESP_BULK_MAX || v > n - end || n - end - v < 2 ||
		    p[end + v] != '\r' || p[end + v + 1] != '\n')
			return 0;
		end += (size_t)v + 2;
	} else if (v > (uint64_t)INT64_MAX) {
		return 0;
	}
	d->num = v;
	d->digits = (uint32_t)(k - 2);
	d->neg = false;
	d->line = 0;
	d->bulk = 0;
	d->type = c;
	d->top_level = d->depth == 0;
	if (d->top_level) {
		reply_reset(&d->reply, c);
		if (c == ':')
			d->reply.integer = (int64_t)v;
	}
	*r = elem_end(d, false);
	return end;
}

int at_resp_rep_next(struct at_resp_rep *d, const char *p, size_t n,
		     size_t *used)
{
	size_t i = 0, run;
	int r = AT_RESP_MORE;

	*used = 0;
	if (d->state == REP_BAD)
		return AT_RESP_BAD;
	while (i < n) {
		if (d->state == REP_TYPE && !d->streamed_str &&
		    (run = element_run(d, p + i, n - i, &r)) > 0) {
			i += run;
			if (r != AT_RESP_MORE)
				break;
			continue;
		}
		if (d->state == REP_DATA) {
			size_t k = payload_run(&d->bulk, n - i);

			if (d->top_level && d->type == '!')
				text_bytes(&d->reply, p + i, k);
			i += k;
			if (d->bulk == 0)
				d->state = REP_DATA_CR;
			continue;
		}
		if (d->state == REP_LINE) {
			const char *cr = memchr(p + i, '\r', n - i);
			size_t k = cr ? (size_t)(cr - (p + i)) : n - i;
			const char *nl = memchr(p + i, '\n', k);
			bool bad = false;

			/* A '\n' in the line, or a line too long: bad at
			 * that byte, whatever the split. */
			if (nl) {
				k = (size_t)(nl - (p + i));
				bad = true;
			}
			if (k > AT_RESP_LINE_MAX - d->line) {
				k = AT_RESP_LINE_MAX - d->line;
				bad = true;
			}
			if (d->top_level && (d->type == '+' || d->type == '-'))
				text_bytes(&d->reply, p + i, k);
			d->line += (uint32_t)k;
			i += k;
			if (bad) {
				i++;
				r = AT_RESP_BAD;
				break;
			}
			if (cr) {
				d->state = REP_LINE_LF;
				i++;
			}
			continue;
		}
		r = rep_byte(d, p[i++]);
		if (r != AT_RESP_MORE)
			break;
	}
	if (r == AT_RESP_BAD)
		d->state = REP_BAD;
	*used = i;
	return r;
}

/* ---- the commands ---- */

/* SELECT's index shows as a key does. */
#define K AT_RESP_KEY
#define KS (AT_RESP_KEY | AT_RESP_KEYS)
#define SUB AT_RESP_SUB
#define SK (AT_RESP_SUB | AT_RESP_SUBKEY)
#define X AT_RESP_SECRET
#define L AT_RESP_LEAVES
#define R1 AT_RESP_READ_ONE

struct command {
	const char *name;
	uint32_t flags;
};

/* Sorted by name (bsearch). */
static const struct command commands[] = {
	{ "ACL", SUB | X },         { "APPEND", K },
	{ "AUTH", X },              { "BITCOUNT", K },
	{ "BITPOS", K },            { "BLMOVE", K },
	{ "BLPOP", K },             { "BRPOP", K },
	{ "BRPOPLPUSH", K },        { "BZPOPMAX", K },
	{ "BZPOPMIN", K },          { "CLIENT", SUB },
	{ "CLUSTER", SUB },         { "COMMAND", SUB },
	{ "CONFIG", SUB | X },      { "COPY", KS },
	{ "DBSIZE", 0 },            { "DECR", K },
	{ "DECRBY", K },            { "DEL", KS },
	{ "DISCARD", 0 },           { "DUMP", K },
	{ "ECHO", 0 },              { "EVAL", 0 },
	{ "EVALSHA", 0 },           { "EXEC", 0 },
	{ "EXISTS", KS | AT_RESP_READ_COUNT },
	{ "EXPIRE", K },            { "EXPIREAT", K },
	{ "EXPIRETIME", K },        { "FLUSHALL", 0 },
	{ "FLUSHDB", 0 },           { "FUNCTION", SUB },
	{ "GEOADD", K },            { "GEODIST", K },
	{ "GEOHASH", K },           { "GEOPOS", K },
	{ "GEOSEARCH", K },         { "GET", K | R1 },
	{ "GETBIT", K },            { "GETDEL", K | R1 },
	{ "GETEX", K | R1 },        { "GETRANGE", K },
	{ "GETSET", K },            { "HDEL", K },
	{ "HELLO", X },             { "HEXISTS", K | R1 },
	{ "HGET", K | R1 },         { "HGETALL", K | R1 },
	{ "HINCRBY", K },           { "HINCRBYFLOAT", K },
	{ "HKEYS", K | R1 },        { "HLEN", K },
	{ "HMGET", K | AT_RESP_READ_EACH | AT_RESP_HFIELDS },
	{ "HMSET", K },             { "HRANDFIELD", K },
	{ "HSCAN", K },             { "HSET", K },
	{ "HSETNX", K },            { "HSTRLEN", K },
	{ "HVALS", K | R1 },        { "INCR", K },
	{ "INCRBY", K },            { "INCRBYFLOAT", K },
	{ "INFO", 0 },              { "KEYS", K },
	{ "LASTSAVE", 0 },          { "LINDEX", K | R1 },
	{ "LINSERT", K },           { "LLEN", K },
	{ "LMOVE", K },             { "LMPOP", 0 },
	{ "LPOP", K },              { "LPOS", K },
	{ "LPUSH", K },             { "LPUSHX", K },
	{ "LRANGE", K | R1 },       { "LREM", K },
	{ "LSET", K },              { "LTRIM", K },
	{ "MEMORY", SK },           { "MGET", KS | AT_RESP_READ_EACH },
	{ "MIGRATE", X },           { "MONITOR", L },
	{ "MOVE", K },              { "MSET", K },
	{ "MSETNX", K },            { "MULTI", 0 },
	{ "OBJECT", SK },           { "PERSIST", K },
	{ "PEXPIRE", K },           { "PEXPIREAT", K },
	{ "PFADD", K },             { "PFCOUNT", KS },
	{ "PFMERGE", KS },          { "PING", 0 },
	{ "PSETEX", K },            { "PSUBSCRIBE", L },
	{ "PSYNC", L },             { "PTTL", K },
	{ "PUBLISH", K },           { "PUBSUB", SUB },
	{ "PUNSUBSCRIBE", 0 },      { "QUIT", 0 },
	{ "RANDOMKEY", 0 },         { "READONLY", 0 },
	{ "RENAME", KS },           { "RENAMENX", KS },
	{ "RESET", 0 },             { "RESTORE", K },
	{ "RPOP", K },              { "RPOPLPUSH", KS },
	{ "RPUSH", K },             { "RPUSHX", K },
	{ "SADD", K },              { "SCAN", 0 },
	{ "SCARD", K },             { "SCRIPT", SUB },
	{ "SDIFF", KS },            { "SDIFFSTORE", KS },
	{ "SELECT", K },            { "SET", K },
	{ "SETBIT", K },            { "SETEX", K },
	{ "SETNX", K },             { "SETRANGE", K },
	{ "SINTER", KS },           { "SINTERCARD", 0 },
	{ "SINTERSTORE", KS },      { "SISMEMBER", K | R1 },
	{ "SMEMBERS", K | R1 },     { "SMISMEMBER", K },
	{ "SMOVE", K },             { "SORT", K },
	{ "SPOP", K },              { "SRANDMEMBER", K },
	{ "SREM", K },              { "SSCAN", K },
	{ "SSUBSCRIBE", L },        { "STRLEN", K },
	{ "SUBSCRIBE", L },         { "SUNION", KS },
	{ "SUNIONSTORE", KS },      { "SUNSUBSCRIBE", 0 },
	{ "SWAPDB", 0 },            { "SYNC", L },
	{ "TIME", 0 },              { "TOUCH", KS },
	{ "TTL", K },               { "TYPE", K },
	{ "UNLINK", KS },           { "UNSUBSCRIBE", 0 },
	{ "UNWATCH", 0 },           { "WAIT", 0 },
	{ "WATCH", KS },            { "XACK", K },
	{ "XADD", K },              { "XAUTOCLAIM", K },
	{ "XCLAIM", K },            { "XDEL", K },
	{ "XGROUP", SK },           { "XINFO", SK },
	{ "XLEN", K },              { "XPENDING", K },
	{ "XRANGE", K | R1 },       { "XREAD", 0 },
	{ "XREADGROUP", 0 },        { "XREVRANGE", K | R1 },
	{ "XTRIM", K },             { "ZADD", K },
	{ "ZCARD", K },             { "ZCOUNT", K },
	{ "ZINCRBY", K },           { "ZRANGE", K | R1 },
	{ "ZRANGEBYLEX", K | R1 },  { "ZRANGEBYSCORE", K | R1 },
	{ "ZRANK", K },             { "ZREM", K },
	{ "ZREVRANGE", K | R1 },    { "ZREVRANGEBYSCORE", K | R1 },
	{ "ZREVRANK", K },          { "ZSCORE", K | R1 },
	{ "ZUNIONSTORE", K },
};

/* name[0..len) against a NUL-terminated table name, strcmp-like. */
static int name_cmp(const char *name, size_t len, const char *t)
{
	size_t i;

	for (i = 0; i < len && t[i]; i++)
		if (name[i] != t[i])
			return (unsigned char)name[i] < (unsigned char)t[i] ? -1 : 1;
	if (i < len)
		return 1;
	return t[i] ? -1 : 0;
}

uint32_t at_resp_command(const char *name, size_t len, bool *known)
{
	size_t lo = 0, hi = sizeof(commands) / sizeof(commands[0]);

	if (known)
		*known = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, len, commands[mid].name);

		if (c == 0) {
			if (known)
				*known = true;
			return commands[mid].flags;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}
