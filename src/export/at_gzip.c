/*
 * at_gzip.c - gzip bodies for OTEL_EXPORTER_OTLP_COMPRESSION=gzip.
 *
 * zlib's deflate with windowBits 16 + 15 writes the gzip wrapper itself.
 * Level 1: export bodies are protobuf with repeated keys, which compress
 * well even at the fastest level, and the exporter's CPU is the host's.
 */
#include <zlib.h>

#include "at_gzip.h"

int at_gzip_compress(const uint8_t *in, size_t n, struct at_buf *out)
{
	z_stream zs = { 0 };
	size_t bound;
	int rc;

	at_buf_reset(out);
	if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	bound = deflateBound(&zs, (uLong)n) + 32;
	if (at_buf_reserve(out, bound) != 0) {
		deflateEnd(&zs);
		return -1;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out->data;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	if (rc != Z_STREAM_END) {
		deflateEnd(&zs);
		at_buf_reset(out);
		return -1;
	}
	out->len = zs.total_out;
	deflateEnd(&zs);
	return 0;
}
