/*
 * at_http_body.c - HTTP/1.x body framing for the socket hooks: how a
 * request's or a response's body is delimited (none, Content-Length,
 * chunked, until close), and counting a body's bytes as they pass so that
 * the next message's head is found where it starts.
 *
 * Design
 * ------
 * Runs inside read()/write() hooks like the head parser (at_http_head.c):
 * pure functions over caller-owned memory and the caller's struct
 * at_http_body, no allocation, no system call, every read bounded by the
 * given length; anything unexpected is an error return, never a crash.
 * The framing choice follows RFC 9112 6.3 from what the head parser
 * found (its framing rules are in at_http_head.c): a response to HEAD,
 * a 1xx, 204 or 304 response and a 2xx answer to CONNECT have no body.
 *
 * The chunked decoder is a byte-at-a-time state machine (the state lives
 * in struct at_http_body), except that chunk data is skipped in one step,
 * so any split of the input gives the same result.  It validates the whole
 * grammar: chunk-size (hex, either case, at most 2^62), chunk extensions
 * (BWS ';' BWS token [BWS '=' BWS (token / quoted-string)]), the CRLF after
 * the size line and after each chunk's data, the last chunk, trailer field
 * lines and the final CRLF.  Inside the chunked coding only CRLF line ends
 * are accepted.  Once it fails it keeps failing.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "at_ascii.h"
#include "at_http.h"
#include "at_http_internal.h"

#define CHUNK_SIZE_MAX ((uint64_t)1 << 62)

/* ---- body framing ---- */

static void body_set(struct at_http_body *b, enum at_http_body_mode mode,
		     uint64_t remaining)
{
	b->mode = mode;
	b->remaining = remaining;
	b->state = 0;
	b->size = 0;
	b->digits = 0;
}

void at_http_body_request(struct at_http_body *b,
			  const struct at_http_request *r)
{
	if (r->chunked)
		body_set(b, AT_BODY_CHUNKED, 0);
	else if (r->content_length > 0)
		body_set(b, AT_BODY_LENGTH, (uint64_t)r->content_length);
	else
		body_set(b, AT_BODY_NONE, 0);
}

void at_http_body_response(struct at_http_body *b,
			   const struct at_http_response *r,
			   const char *req_method, size_t req_method_len)
{
	int st = r->status;

	if ((req_method != NULL && EQ_EXACT(req_method, req_method_len,
					    "HEAD")) ||
	    (st >= 100 && st < 200) || st == 204 || st == 304 ||
	    (req_method != NULL && is_connect(req_method, req_method_len) &&
	     st >= 200 && st < 300))
		body_set(b, AT_BODY_NONE, 0);
	else if (r->chunked)
		body_set(b, AT_BODY_CHUNKED, 0);
	else if (r->content_length > 0)
		body_set(b, AT_BODY_LENGTH, (uint64_t)r->content_length);
	else if (r->content_length == 0)
		body_set(b, AT_BODY_NONE, 0);
	else
		body_set(b, AT_BODY_UNTIL_CLOSE, 0);
}

/* Chunked decoder states (struct at_http_body.state). */
enum {
	CS_SIZE = 0,     /* chunk-size hex digits (b->digits: how many) */
	CS_SIZE_BWS,     /* BWS after the size: only ';' may follow */
	CS_EXT_NAME0,    /* after ';': BWS, then the name's first tchar */
	CS_EXT_NAME,     /* in the extension name */
	CS_EXT_NAME_BWS, /* BWS after the name: '=' ';' or CR */
	CS_EXT_VAL0,     /* after '=': BWS, then token or quoted-string */
	CS_EXT_TOKEN,    /* in a token value */
	CS_EXT_QS,       /* in a quoted-string value */
	CS_EXT_QS_ESC,   /* after '\\' in a quoted string */
	CS_EXT_VAL_BWS,  /* after a value: BWS, ';' or CR */
	CS_SIZE_LF,      /* CR seen at the end of the size line */
	CS_DATA,         /* b->remaining bytes of data */
	CS_DATA_CR,      /* CRLF after the data */
	CS_DATA_LF,
	CS_TRAILER,      /* start of a trailer line or of the final CRLF */
	CS_TR_NAME,      /* in a trailer field name */
	CS_TR_VALUE,     /* in a trailer field value */
	CS_TR_LF,        /* CR seen at the end of a trailer line */
	CS_FINAL_LF,     /* CR of the final CRLF seen */
	CS_DONE,
	CS_ERROR,
};

/* quoted-string text: qdtext = HTAB / SP / 0x21 / 0x23-5B / 0x5D-7E /
 * obs-text. */
static int is_qdtext(char c)
{
	return is_field_char(c) && c != '"' && c != '\\';
}

/* Next state after c in the size line / extensions, or CS_ERROR. */
static int size_line_step(struct at_http_body *b, char c)
{
	int h;

	switch (b->state) {
	case CS_SIZE:
		h = at_hex_value(c);
		if (h >= 0) {
			if (b->size > (CHUNK_SIZE_MAX - (uint64_t)h) / 16)
				return CS_ERROR;
			b->size = b->size * 16 + (uint64_t)h;
			b->digits = 1;
			return CS_SIZE;
		}
		if (!b->digits)
			return CS_ERROR;
		if (c == '\r')
			return CS_SIZE_LF;
		if (c == ';')
			return CS_EXT_NAME0;
		return at_is_ows(c) ? CS_SIZE_BWS : CS_ERROR;
	case CS_SIZE_BWS:
		if (c == ';')
			return CS_EXT_NAME0;
		return at_is_ows(c) ? CS_SIZE_BWS : CS_ERROR;
	case CS_EXT_NAME0:
		if (at_is_ows(c))
			return CS_EXT_NAME0;
		return is_tchar(c) ? CS_EXT_NAME : CS_ERROR;
	case CS_EXT_NAME:
		if (is_tchar(c))
			return CS_EXT_NAME;
		/* fall through */
	case CS_EXT_NAME_BWS:
		if (at_is_ows(c))
			return CS_EXT_NAME_BWS;
		if (c == '=')
			return CS_EXT_VAL0;
		if (c == ';')
			return CS_EXT_NAME0;
		return c == '\r' ? CS_SIZE_LF : CS_ERROR;
	case CS_EXT_VAL0:
		if (at_is_ows(c))
			return CS_EXT_VAL0;
		if (c == '"')
			return CS_EXT_QS;
		return is_tchar(c) ? CS_EXT_TOKEN : CS_ERROR;
	case CS_EXT_QS:
		if (c == '"')
			return CS_EXT_VAL_BWS;
		if (c == '\\')
			return CS_EXT_QS_ESC;
		return is_qdtext(c) ? CS_EXT_QS : CS_ERROR;
	case CS_EXT_QS_ESC:
		return is_field_char(c) ? CS_EXT_QS : CS_ERROR;
	case CS_EXT_TOKEN:
		if (is_tchar(c))
			return CS_EXT_TOKEN;
		/* fall through */
	case CS_EXT_VAL_BWS:
		if (at_is_ows(c))
			return CS_EXT_VAL_BWS;
		if (c == ';')
			return CS_EXT_NAME0;
		return c == '\r' ? CS_SIZE_LF : CS_ERROR;
	default:
		return CS_ERROR;
	}
}

/* One byte outside chunk data: the next state. */
static int chunked_step(struct at_http_body *b, char c)
{
	switch (b->state) {
	case CS_SIZE_LF:
		if (c != '\n')
			return CS_ERROR;
		if (b->size == 0)
			return CS_TRAILER;
		b->remaining = b->size;
		return CS_DATA;
	case CS_DATA_CR:
		return c == '\r' ? CS_DATA_LF : CS_ERROR;
	case CS_DATA_LF:
		if (c != '\n')
			return CS_ERROR;
		b->size = 0;
		b->digits = 0;
		return CS_SIZE;
	case CS_TRAILER:
		if (c == '\r')
			return CS_FINAL_LF;
		return is_tchar(c) ? CS_TR_NAME : CS_ERROR;
	case CS_TR_NAME:
		if (c == ':')
			return CS_TR_VALUE;
		return is_tchar(c) ? CS_TR_NAME : CS_ERROR;
	case CS_TR_VALUE:
		if (c == '\r')
			return CS_TR_LF;
		return is_field_char(c) ? CS_TR_VALUE : CS_ERROR;
	case CS_TR_LF:
		return c == '\n' ? CS_TRAILER : CS_ERROR;
	case CS_FINAL_LF:
		return c == '\n' ? CS_DONE : CS_ERROR;
	default:
		return size_line_step(b, c);
	}
}

static ssize_t chunked_feed(struct at_http_body *b, const char *p, size_t n,
			    int *done)
{
	size_t i = 0;

	if (b->state == CS_ERROR)
		return -1;
	while (i < n && b->state != CS_DONE) {
		if (b->state == CS_DATA) {
			size_t take = n - i;

			if (take > b->remaining)
				take = (size_t)b->remaining;
			i += take;
			b->remaining -= take;
			if (b->remaining == 0)
				b->state = CS_DATA_CR;
			continue;
		}
		b->state = chunked_step(b, p[i++]);
		if (b->state == CS_ERROR)
			return -1;
	}
	if (b->state == CS_DONE)
		*done = 1;
	return (ssize_t)i;
}

ssize_t at_http_body_feed(struct at_http_body *b, const char *p, size_t n,
			  int *done)
{
	size_t take;

	*done = 0;
	if (p == NULL)
		n = 0;
	switch (b->mode) {
	case AT_BODY_NONE:
		*done = 1;
		return 0;
	case AT_BODY_LENGTH:
		take = n;
		if (take > b->remaining)
			take = (size_t)b->remaining;
		b->remaining -= take;
		*done = b->remaining == 0;
		return (ssize_t)take;
	case AT_BODY_CHUNKED:
		return chunked_feed(b, p, n, done);
	case AT_BODY_UNTIL_CLOSE:
		return (ssize_t)n;
	default:
		return -1;
	}
}
