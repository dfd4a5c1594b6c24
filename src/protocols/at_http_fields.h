/*
 * at_http_fields.h - the field lines of an HTTP/1.x head one by one, for
 * readers that need fields at_http_parse_request()/_response() do not
 * keep (Content-Type, Content-Encoding, Expect, Retry-After...), and
 * list-valued fields (RFC 9110 5.6.1).
 *
 * Meant for heads those parsers accepted (then every line is
 * "name: value"), but safe on any input: reads stay inside the length
 * given, and a line that is not a field ends the walk.  Pure functions,
 * as at_http.h.
 */
#ifndef AT_HTTP_FIELDS_H
#define AT_HTTP_FIELDS_H

#include <stddef.h>

#include "at_http.h"

/* Offset just past the first line end of p[0..n) (the start line), or 0
 * if there is none: where at_http_field_next() starts. */
size_t at_http_fields_start(const char *p, size_t n);

/*
 * The field line at *pos of head[0..n): its name and OWS-trimmed value
 * (into head), and *pos moved past it.  1; 0 at the empty line that ends
 * the head, at its end, or at a line that is not a field.
 */
int at_http_field_next(const char *head, size_t n, size_t *pos,
		       struct at_http_str *name, struct at_http_str *value);

/* Is s[0..n) lit, ignoring ASCII case? */
int at_http_eq_nocase(const char *s, size_t n, const char *lit);

/* Does the comma-separated list v[0..n) hold the token tok (ASCII case
 * ignored, elements OWS-trimmed)? */
int at_http_list_has(const char *v, size_t n, const char *tok);

#endif
