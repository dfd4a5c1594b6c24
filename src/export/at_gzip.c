/*
 * at_gzip.c - gzip bodies both ways: the exporter compresses them for
 * OTEL_EXPORTER_OTLP_COMPRESSION=gzip, the receiver (tool/) decompresses
 * what exporters send with "Content-Encoding: gzip".
 *
 * zlib's deflate with windowBits 16 + 15 writes the gzip wrapper itself.
 * Level 1: export bodies are protobuf with repeated keys, which compress
 * well even at the fastest level, and the exporter's CPU is the host's.
 *
 * Decompression is capped: a small body can inflate a thousandfold, so
 * the output is grown step by step and abandoned as soon as it passes
 * the caller's maximum; concatenated gzip members (RFC 1952 2.2) are
 * joined; input that ends inside a member is corrupt, not short.
 */
#include <limits.h>
#include <string.h>
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

int at_gzip_decompress(const uint8_t *in, size_t n, size_t max,
		       struct at_buf *out)
{
	z_stream zs;
	int rc, ret = 0;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -3;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	for (;;) {
		size_t room;

		if (at_buf_reserve(out, n < 16384 ? 65536 : 4 * n) < 0) {
			ret = -3;
			break;
		}
		room = out->cap - out->len;
		if (room > UINT_MAX)
			room = UINT_MAX;
		zs.next_out = out->data + out->len;
		zs.avail_out = (uInt)room;
		rc = inflate(&zs, Z_NO_FLUSH);
		out->len = (size_t)(zs.next_out - out->data);
		if (out->len > max) {
			ret = -2;
			break;
		}
		if (rc == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* Another gzip member follows. */
			if (inflateReset(&zs) != Z_OK) {
				ret = -1;
				break;
			}
			continue;
		}
		if (rc == Z_BUF_ERROR && zs.avail_out != 0) {
			ret = -1; /* truncated */
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			ret = rc == Z_MEM_ERROR ? -3 : -1;
			break;
		}
		if (zs.avail_in == 0 && zs.avail_out != 0) {
			ret = -1; /* input ended inside the stream */
			break;
		}
	}
	inflateEnd(&zs);
	return ret;
}
