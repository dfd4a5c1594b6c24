/*
 * at_json.h - the autotrace tool's JSON reader: RFC 8259 text to a tree
 * of values, for the OTLP-JSON files `autotrace view` reads.
 *
 * Strings come out decoded and valid UTF-8 (escapes resolved, a lone
 * surrogate escape and invalid raw bytes as U+FFFD; a "\u0000" ends the
 * string, which is kept NUL-terminated); numbers keep their text, to be
 * converted by the caller as the field needs (an int64 may not fit a
 * double).  Nesting deeper than AT_JSON_MAX_DEPTH arrays and objects is
 * rejected, so the recursion is bounded whatever the input.  Tool-only:
 * it allocates freely and aborts when out of memory.
 */
#ifndef AT_JSON_H
#define AT_JSON_H

#include <stddef.h>

#define AT_JSON_MAX_DEPTH 64

enum at_json_type {
	AT_JSON_NULL = 0,
	AT_JSON_BOOL,
	AT_JSON_NUM,
	AT_JSON_STR,
	AT_JSON_ARR,
	AT_JSON_OBJ,
};

struct at_json {
	enum at_json_type type;
	int b;                  /* AT_JSON_BOOL */
	char *s;                /* AT_JSON_STR (decoded), AT_JSON_NUM (its text) */
	size_t len;             /* of s */
	struct at_json *items;  /* AT_JSON_ARR, AT_JSON_OBJ: the values */
	char **keys;            /* AT_JSON_OBJ: the member names */
	size_t n;
};

/*
 * Parse text[0..len): one value, with only white space around it.
 * 0 with the tree in *out (free it with at_json_free), or -1 if the text
 * is not such a value (*out is then empty: nothing to free).
 */
int at_json_parse(const char *text, size_t len, struct at_json *out);

void at_json_free(struct at_json *v);

/*
 * The value of member key of object o (the first one if repeated), or
 * NULL if o is NULL or not an object, or has no such member, or its value
 * is null.
 */
const struct at_json *at_json_get(const struct at_json *o, const char *key);

#endif
