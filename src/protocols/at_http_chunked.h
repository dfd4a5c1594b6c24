/*
 * at_http_chunked.h - the data of a chunked HTTP/1.1 body, for those who
 * read bodies (the exporter's transport, the autotrace receiver): the
 * framing is at_http_body_feed()'s state machine, the one chunked decoder
 * the hooks use too; this adds where each run of chunk data lies, and
 * size limits.
 *
 * Pure functions over caller-owned memory, like at_http.h: no allocation,
 * no global state, no system call.  Incremental: any split of the input
 * gives the same events, data and verdict.
 */
#ifndef AT_HTTP_CHUNKED_H
#define AT_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "at_http.h"

struct at_http_chunks {
	struct at_http_body body; /* the framing state (AT_BODY_CHUNKED) */
	uint64_t data_max;        /* more chunk data in all: TOO_LARGE */
	size_t line_max;          /* a longer chunk-size line: BAD */
	size_t trailer_max;       /* a longer trailer section: TRAILER_LARGE */
	uint64_t total;           /* chunk data announced so far */
	uint64_t line;            /* bytes of the size line / trailers */
	int after_data;           /* the CRLF after a chunk's data is due */
	int in_trailer;           /* the last chunk's line has ended */
	int verdict;              /* DONE or an error: stays */
};

enum {
	AT_CHUNKS_MORE = 0,       /* all of the input consumed: need more */
	AT_CHUNKS_SIZE,           /* a size line ended: body.remaining is the
				   * chunk's size, none of its data read yet */
	AT_CHUNKS_DATA,           /* *data is a run of chunk data */
	AT_CHUNKS_DONE,           /* the body ended (final CRLF consumed) */
	AT_CHUNKS_BAD = -1,       /* malformed framing, or a long size line */
	AT_CHUNKS_TOO_LARGE = -2, /* the chunks announce more than data_max */
	AT_CHUNKS_TRAILER_LARGE = -3, /* trailer section over trailer_max */
};

void at_http_chunks_init(struct at_http_chunks *c, uint64_t data_max,
			 size_t line_max, size_t trailer_max);

/*
 * Decode from p[0..n): sets *used to the bytes consumed and returns one
 * event (AT_CHUNKS_*); the caller calls again with the bytes after *used.
 * A size line is checked against the limits when it ends, before any of
 * its chunk's data: the caller can charge that much memory first.  On
 * AT_CHUNKS_DATA, data points into p.
 */
int at_http_chunks_next(struct at_http_chunks *c, const char *p, size_t n,
			size_t *used, struct at_http_str *data);

#endif
