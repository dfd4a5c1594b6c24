/*
 * at_ascii.h - the ASCII character tests the parsers share (HTTP heads,
 * traceparent/tracestate, configuration values, JSON and form input).
 * Locale-free on purpose: header and protocol syntax is ASCII, whatever
 * the host program set with setlocale().  Header-only, so each parser
 * still builds alone (the fuzz targets link one module each).
 */
#ifndef AT_ASCII_H
#define AT_ASCII_H

#include <stddef.h>

/* HTTP's optional whitespace: SP or HTAB. */
static inline int at_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static inline int at_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int at_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 tchar: a character of a token (header names, baggage keys). */
static inline int at_is_token_char(char c)
{
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return 1;
	default:
		return at_is_alpha(c) || at_is_digit(c);
	}
}

static inline char at_to_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* The value of a hex digit of either case, or -1. */
static inline int at_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Narrow [*s, *s + *len) to exclude leading and trailing SP / HTAB. */
static inline void at_trim_ows(const char **s, size_t *len)
{
	while (*len > 0 && at_is_ows((*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && at_is_ows((*s)[*len - 1]))
		(*len)--;
}

#endif
