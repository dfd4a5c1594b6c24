/*
 * at_http_chunked.c - chunk data and limits over at_http_body_feed() (see
 * at_http_chunked.h).
 *
 * Design: at_http_body_feed() validates the whole chunked grammar byte by
 * byte and skips data in one step, reporting through body.remaining the
 * data bytes left in the current chunk.  So the framing bytes are fed one
 * at a time: the moment remaining turns non-zero, a size line has just
 * ended (AT_CHUNKS_SIZE, checked against data_max); while it is
 * non-zero, the bytes are data, fed in one run (AT_CHUNKS_DATA).  An LF
 * that ends a line with remaining still zero and no data CRLF due ends
 * the last chunk's line: the trailer section starts.  Line and trailer
 * lengths are counted here (the state machine has no limits), so the
 * verdict does not depend on how the input is split.  Framing bytes cost
 * one call each; they are a few bytes per chunk.
 */
#include <string.h>

#include "at_http_chunked.h"

void at_http_chunks_init(struct at_http_chunks *c, uint64_t data_max,
			 size_t line_max, size_t trailer_max)
{
	memset(c, 0, sizeof(*c));
	c->body.mode = AT_BODY_CHUNKED;
	c->data_max = data_max;
	c->line_max = line_max;
	c->trailer_max = trailer_max;
}

#define GO_ON 100 /* framing_byte(): no event yet */

/* One framing byte: an event, or GO_ON. */
static int framing_byte(struct at_http_chunks *c, char ch)
{
	int done = 0;

	if (at_http_body_feed(&c->body, &ch, 1, &done) < 0)
		return AT_CHUNKS_BAD;
	c->line++;
	if (c->in_trailer && c->line > c->trailer_max)
		return AT_CHUNKS_TRAILER_LARGE; /* the final CRLF counts */
	if (done)
		return AT_CHUNKS_DONE;
	if (c->in_trailer)
		return GO_ON;
	if (c->body.remaining > 0) {
		c->line = 0;
		if (c->body.remaining > c->data_max - c->total)
			return AT_CHUNKS_TOO_LARGE;
		c->total += c->body.remaining;
		return AT_CHUNKS_SIZE;
	}
	if (ch == '\n') {
		/* The end of the CRLF after data, or of the last chunk's
		 * line (any other size line ended with data to come). */
		if (c->after_data)
			c->after_data = 0;
		else
			c->in_trailer = 1;
		c->line = 0;
		return GO_ON;
	}
	return c->line > c->line_max ? AT_CHUNKS_BAD : GO_ON;
}

int at_http_chunks_next(struct at_http_chunks *c, const char *p, size_t n,
			size_t *used, struct at_http_str *data)
{
	size_t i = 0;
	int ev = AT_CHUNKS_MORE;

	data->p = NULL;
	data->len = 0;
	*used = 0;
	if (c->verdict)
		return c->verdict; /* the end, or an error, stays */
	while (ev == AT_CHUNKS_MORE && i < n) {
		if (c->body.remaining > 0) {
			size_t take = n - i;
			int done = 0;

			if (take > c->body.remaining)
				take = (size_t)c->body.remaining;
			if (at_http_body_feed(&c->body, p + i, take, &done) !=
			    (ssize_t)take)
				return c->verdict = AT_CHUNKS_BAD;
			data->p = p + i;
			data->len = take;
			i += take;
			if (c->body.remaining == 0)
				c->after_data = 1;
			ev = AT_CHUNKS_DATA;
			break;
		}
		ev = framing_byte(c, p[i++]);
		if (ev == GO_ON)
			ev = AT_CHUNKS_MORE;
	}
	if (ev < 0 || ev == AT_CHUNKS_DONE)
		c->verdict = ev;
	*used = i;
	return ev;
}
