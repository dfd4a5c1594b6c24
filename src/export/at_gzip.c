/*
 * at_gzip.c - gzip bodies both ways: the exporter compresses them for
 * OTEL_EXPORTER_OTLP_COMPRESSION=gzip, the receiver (tool/) decompresses
 * what exporters send with "Content-Encoding: gzip".
 *
 * zlib's deflate with windowBits 16 + 15 writes the gzip wrapper itself.
 * Level 1: export bodies are protobuf with repeated keys, which compress
 * well even at the fastest level, and the exporter's CPU is the host's.
 * The compressor's state is made once and reset for each body
 * (compression is the exporter thread's: not thread-safe).
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

/* The compressor's state (about 270 KiB, which malloc takes from mmap:
 * made afresh per body, it cost an mmap, a munmap and the page faults
 * of its tables each time), kept and reset between bodies. */
static z_stream deflater;
static int deflater_ready;

int at_gzip_compress(const uint8_t *in, size_t n, struct at_buf *out)
{
	size_t bound;
	int rc;

	at_buf_reset(out);
	if (deflater_ready) {
		if (deflateReset(&deflater) != Z_OK)
			return -1;
	} else {
		if (deflateInit2(&deflater, 1, Z_DEFLATED, 16 + MAX_WBITS, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		deflater_ready = 1;
	}
	bound = deflateBound(&deflater, (uLong)n) + 32;
	if (at_buf_reserve(out, bound) != 0)
		return -1;
	deflater.next_in = (Bytef *)(uintptr_t)in;
	deflater.avail_in = (uInt)n;
	deflater.next_out = out->data;
	deflater.avail_out = (uInt)bound;
	rc = deflate(&deflater, Z_FINISH);
	if (rc != Z_STREAM_END) {
		at_buf_reset(out);
		return -1;
	}
	out->len = deflater.total_out;
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
