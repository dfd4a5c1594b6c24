/*
 * at_gzip.h - gzip (RFC 1952) compression of export bodies with zlib.
 */
#ifndef AT_GZIP_H
#define AT_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "at_buf.h"

/* Replace out's contents with the gzip of in.  0, or -1 (out reset). */
int at_gzip_compress(const uint8_t *in, size_t n, struct at_buf *out);

#endif
