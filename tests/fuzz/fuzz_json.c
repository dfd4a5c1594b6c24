/*
 * fuzz_json.c - libFuzzer target for the autotrace tool's JSON reader
 * (tool/at_json.c).
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Iinclude -Itool -o fuzz_json tool/at_json.c tool/at_xalloc.c \
 *         src/core/at_buf.c src/core/at_utf8.c tests/fuzz/fuzz_json.c
 *
 * The input is parsed as one JSON text.  Besides "no crash, no read
 * outside the input, no leak" (AddressSanitizer), it traps when one of
 * these properties fails:
 *   - a rejected input leaves the output tree empty;
 *   - in an accepted tree, every string (member names too) is valid
 *     UTF-8 with no NUL before its length, every number is the text of a
 *     JSON number, arrays have no member names, and nesting is at most
 *     AT_JSON_MAX_DEPTH;
 *   - at_json_get() finds each member name's first value (NULL for null);
 *   - the same input with white space around it gives the same result;
 *   - the tree written back as JSON (by this file) parses to an equal
 *     tree: the reader is a fixed point on its own output.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_json.h"
#include "at_utf8.h"
#include "at_xalloc.h"
#include "fuzz.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The JSON number grammar, checked apart from the reader's own. */
static int is_number(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i]))
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < n && is_digit(s[i]))
			i++;
	if (i < n && s[i] == '.') {
		if (++i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	return i == n;
}

static int is_empty(const struct at_json *v)
{
	static const struct at_json zero;

	return memcmp(v, &zero, sizeof(zero)) == 0;
}

static void check_string(const char *s, size_t len)
{
	CHECK(s != NULL);
	CHECK(strlen(s) == len);
	CHECK(at_utf8_valid(s, len));
}

static void check_tree(const struct at_json *v, int depth)
{
	size_t i, j;

	switch (v->type) {
	case AT_JSON_NULL:
	case AT_JSON_BOOL:
		CHECK(v->n == 0 && !v->s);
		CHECK(v->b == 0 || v->b == 1);
		break;
	case AT_JSON_NUM:
		CHECK(v->s && strlen(v->s) == v->len);
		CHECK(is_number(v->s, v->len));
		break;
	case AT_JSON_STR:
		check_string(v->s, v->len);
		break;
	case AT_JSON_ARR:
	case AT_JSON_OBJ:
		CHECK(depth + 1 <= AT_JSON_MAX_DEPTH);
		CHECK(v->type == AT_JSON_OBJ ? (v->n == 0 || v->keys != NULL) :
					       v->keys == NULL);
		for (i = 0; i < v->n; i++) {
			check_tree(&v->items[i], depth + 1);
			if (v->type != AT_JSON_OBJ)
				continue;
			check_string(v->keys[i], strlen(v->keys[i]));
			/* at_json_get: the first member of that name */
			for (j = 0; strcmp(v->keys[j], v->keys[i]) != 0; j++)
				;
			CHECK(at_json_get(v, v->keys[i]) ==
			      (v->items[j].type == AT_JSON_NULL ?
			       NULL : &v->items[j]));
		}
		break;
	default:
		CHECK(0);
	}
}

static int equal(const struct at_json *a, const struct at_json *b)
{
	size_t i;

	if (a->type != b->type || a->b != b->b || a->n != b->n ||
	    a->len != b->len || !a->s != !b->s ||
	    (a->s && memcmp(a->s, b->s, a->len) != 0))
		return 0;
	for (i = 0; i < a->n; i++) {
		if (a->type == AT_JSON_OBJ &&
		    strcmp(a->keys[i], b->keys[i]) != 0)
			return 0;
		if (!equal(&a->items[i], &b->items[i]))
			return 0;
	}
	return 1;
}

static void write_string(struct at_buf *o, const char *s)
{
	at_xbuf_add(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			at_xbuf_printf(o, "\\%c", c);
		else if (c < 0x20)
			at_xbuf_printf(o, "\\u%04x", c);
		else
			at_xbuf_add(o, s, 1);
	}
	at_xbuf_add(o, "\"", 1);
}

static void write_tree(struct at_buf *o, const struct at_json *v)
{
	size_t i;

	switch (v->type) {
	case AT_JSON_NULL:
		at_xbuf_str(o, "null");
		break;
	case AT_JSON_BOOL:
		at_xbuf_str(o, v->b ? "true" : "false");
		break;
	case AT_JSON_NUM:
		at_xbuf_str(o, v->s);
		break;
	case AT_JSON_STR:
		write_string(o, v->s);
		break;
	case AT_JSON_ARR:
	case AT_JSON_OBJ:
		at_xbuf_str(o, v->type == AT_JSON_OBJ ? "{" : "[");
		for (i = 0; i < v->n; i++) {
			if (i)
				at_xbuf_str(o, ",");
			if (v->type == AT_JSON_OBJ) {
				write_string(o, v->keys[i]);
				at_xbuf_str(o, ":");
			}
			write_tree(o, &v->items[i]);
		}
		at_xbuf_str(o, v->type == AT_JSON_OBJ ? "}" : "]");
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy exactly the input's size: reads past it are caught. */
	char *in = malloc(size ? size : 1);
	char *padded = malloc(size + 4);
	struct at_json v, w;
	struct at_buf out = { 0 };
	int r;

	if (!in || !padded) {
		free(in);
		free(padded);
		return 0;
	}
	memcpy(in, data, size);
	r = at_json_parse(in, size, &v);
	CHECK(r == 0 || r == -1);

	/* white space around the text changes nothing */
	memcpy(padded, " \n", 2);
	memcpy(padded + 2, data, size);
	memcpy(padded + 2 + size, "\t\r", 2);
	CHECK(at_json_parse(padded, size + 4, &w) == r);
	if (r < 0) {
		CHECK(is_empty(&v) && is_empty(&w));
		goto out;
	}
	CHECK(equal(&v, &w));
	at_json_free(&w);

	check_tree(&v, 0);
	write_tree(&out, &v);
	CHECK(at_json_parse(at_xbuf_cstr(&out), out.len, &w) == 0);
	CHECK(equal(&v, &w));
	at_json_free(&w);
	at_json_free(&v);
out:
	at_buf_free(&out);
	free(in);
	free(padded);
	return 0;
}
