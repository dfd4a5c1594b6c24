/*
 * at_http_fields.c - field lines one by one (see at_http_fields.h).
 *
 * A walk over lines: a line ends at LF (a CR before it is dropped); the
 * empty line ends the head; a field is name ':' value, the name non-empty
 * and free of whitespace.  No validation beyond that: the parsers in
 * at_http.c have checked the head already.
 */
#include <string.h>

#include "at_ascii.h"
#include "at_http_fields.h"

size_t at_http_fields_start(const char *p, size_t n)
{
	const char *lf = p ? memchr(p, '\n', n) : NULL;

	return lf ? (size_t)(lf - p) + 1 : 0;
}

int at_http_field_next(const char *head, size_t n, size_t *pos,
		       struct at_http_str *name, struct at_http_str *value)
{
	const char *line, *lf, *colon;
	size_t len, i;

	if (head == NULL || *pos >= n)
		return 0;
	line = head + *pos;
	lf = memchr(line, '\n', n - *pos);
	if (lf == NULL)
		return 0;
	len = (size_t)(lf - line);
	if (len && line[len - 1] == '\r')
		len--;
	colon = memchr(line, ':', len);
	if (len == 0 || colon == NULL || colon == line)
		return 0;
	for (i = 0; line + i < colon; i++)
		if (line[i] == ' ' || line[i] == '\t')
			return 0;
	name->p = line;
	name->len = (size_t)(colon - line);
	value->p = colon + 1;
	value->len = len - name->len - 1;
	at_trim_ows(&value->p, &value->len);
	*pos = (size_t)(lf + 1 - head);
	return 1;
}

int at_http_eq_nocase(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (strlen(lit) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (at_to_lower(s[i]) != at_to_lower(lit[i]))
			return 0;
	return 1;
}

int at_http_list_has(const char *v, size_t n, const char *tok)
{
	size_t start = 0, i;

	if (v == NULL)
		return 0;
	for (i = 0; i <= n; i++) {
		const char *e = v + start;
		size_t len = i - start;

		if (i < n && v[i] != ',')
			continue;
		at_trim_ows(&e, &len);
		if (at_http_eq_nocase(e, len, tok))
			return 1;
		start = i + 1;
	}
	return 0;
}
