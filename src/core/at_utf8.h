/*
 * at_utf8.h - UTF-8 for the library and the tool: decode one sequence,
 * validate, cut at a character boundary, encode a code point, and copy
 * as valid UTF-8.  Pure functions: no allocation, no I/O, no locale, so
 * hooks, the exporter, the parsers and the autotrace tool share them.
 *
 * "Valid" is RFC 3629: no overlong forms, no surrogates (U+D800-DFFF),
 * nothing past U+10FFFF, no sequence cut short by the end of the input.
 */
#ifndef AT_UTF8_H
#define AT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* 1 if c continues a sequence (10xxxxxx), i.e. does not start a character. */
static inline int at_utf8_is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/*
 * Largest n' <= max such that s[0..n') does not end inside a character:
 * n itself if n <= max, else max backed off over continuation bytes
 * (s[max] is read, so max < n).  Inline: spans use it on the hot path.
 */
static inline size_t at_utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && at_utf8_is_cont((unsigned char)s[max]))
		max--;
	return max;
}

/*
 * The valid sequence at s (n > 0 bytes left): its length (1 to 4), with
 * *cp (if not NULL) its code point; 0 if s does not start a valid
 * sequence within n bytes (*cp untouched).
 */
size_t at_utf8_decode(const void *s, size_t n, uint32_t *cp);

/* 1 if s[0..n) is valid UTF-8, else 0. */
int at_utf8_valid(const char *s, size_t n);

/* cp (at most U+10FFFF) as UTF-8 into out; returns its length (1 to 4). */
size_t at_utf8_encode(uint32_t cp, char out[4]);

/*
 * Copy src[0..n) into dst (room bytes with the NUL, room >= 1) as valid
 * UTF-8: a byte that does not start a valid sequence becomes U+FFFD, a
 * NUL byte a space, and the copy stops at a character boundary when room
 * runs out.  dst is NUL-terminated; returns its length, and *consumed
 * how much of src was used (n if all of it).  3 * n + 1 bytes of room
 * are always enough.
 */
size_t at_utf8_copy(char *dst, size_t room, const char *src, size_t n,
		    size_t *consumed);

#endif
