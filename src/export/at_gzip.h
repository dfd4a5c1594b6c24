/*
 * at_gzip.h - gzip (RFC 1952) compression of export bodies, and capped
 * decompression of received ones, with zlib.
 */
#ifndef AT_GZIP_H
#define AT_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "at_buf.h"

/* Replace out's contents with the gzip of in.  0, or -1 (out reset).
 * One thread at a time (the exporter's): the compressor is kept. */
int at_gzip_compress(const uint8_t *in, size_t n, struct at_buf *out);

/*
 * Append the gunzip of in[0..n) (one or more gzip members) to out, at
 * most max bytes of it.  0; -1 corrupt or truncated; -2 larger than max;
 * -3 out of memory.  On error out holds what was inflated so far.
 */
int at_gzip_decompress(const uint8_t *in, size_t n, size_t max,
		       struct at_buf *out);

#endif
