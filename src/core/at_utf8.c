/*
 * at_utf8.c - UTF-8 decoding, validation, encoding and sanitising copy
 * (see at_utf8.h).
 *
 * One strict decoder serves every caller: the configuration (values must
 * be valid), the resource (attribute values made valid), and the tool's
 * trace model, JSON reader and writers (invalid bytes replaced by
 * U+FFFD).  The lead byte gives the length and the minimum code point;
 * C0, C1 and F5-FF never start a sequence, and the decoded value rules
 * out the remaining overlong forms, the surrogates and values past
 * U+10FFFF.  Nothing here allocates, locks or calls libc beyond memcpy,
 * so it is safe anywhere in the library.
 */
#include <string.h>

#include "at_utf8.h"

size_t at_utf8_decode(const void *str, size_t n, uint32_t *cp)
{
	const unsigned char *s = str;
	uint32_t c;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		if (cp)
			*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (!at_utf8_is_cont(s[i]))
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	if (cp)
		*cp = c;
	return len;
}

int at_utf8_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t len = at_utf8_decode(s + i, n - i, NULL);

		if (len == 0)
			return 0;
		i += len;
	}
	return 1;
}

size_t at_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t at_utf8_copy(char *dst, size_t room, const char *src, size_t n,
		    size_t *consumed)
{
	static const char repl[] = "\xef\xbf\xbd";
	size_t w = 0, i = 0;

	while (i < n) {
		size_t len = at_utf8_decode(src + i, n - i, NULL);

		if (len == 0) {
			if (w + 3 >= room)
				break;
			memcpy(dst + w, repl, 3);
			w += 3;
			i++;
			continue;
		}
		if (w + len >= room)
			break;
		if (len == 1 && src[i] == '\0')
			dst[w] = ' ';
		else
			memcpy(dst + w, src + i, len);
		w += len;
		i += len;
	}
	dst[w] = '\0';
	*consumed = i;
	return w;
}
