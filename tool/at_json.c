/*
 * at_json.c - the autotrace tool's JSON reader (see at_json.h).
 *
 * A recursive-descent parser over [p, end) that builds the tree as it
 * goes: a container grows its item (and key) arrays by doubling, and a
 * string is gathered in an at_buf, its escapes resolved ("\uD83D\uDE00"
 * pairs joined; a lone surrogate becomes U+FFFD), then copied with any
 * invalid raw UTF-8 replaced.  A number is checked against the JSON
 * grammar and kept as text.  The depth counter goes up on '[' / '{' and
 * down on the closing bracket; past AT_JSON_MAX_DEPTH the parse fails,
 * which bounds the recursion (and the stack) for any input.
 *
 * On failure the partly built tree is freed by at_json_parse(): every
 * slot is zeroed before it is parsed into, so a tree cut short anywhere
 * is still a valid tree to free.  Everything is ASCII-only and
 * locale-free (the host's setlocale() does not matter).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_ascii.h"
#include "at_json.h"
#include "at_utf8.h"
#include "at_xalloc.h"

struct jp {
	const char *p, *end;
	int depth;
};

void at_json_free(struct at_json *v)
{
	size_t i;

	free(v->s);
	for (i = 0; i < v->n; i++) {
		at_json_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int jp_hex4(struct jp *j, unsigned *out)
{
	unsigned v = 0;
	int i, h;

	if (j->end - j->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		h = at_hex_value((unsigned char)j->p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	j->p += 4;
	*out = v;
	return 0;
}

/* "\u" and four hex digits read into *cp: join a surrogate pair. */
static int jp_unicode(struct jp *j, unsigned *cp)
{
	unsigned lo;

	if (jp_hex4(j, cp) < 0)
		return -1;
	if (*cp >= 0xd800 && *cp < 0xdc00) {
		if (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
			j->p += 2;
			if (jp_hex4(j, &lo) < 0)
				return -1;
			if (lo >= 0xdc00 && lo < 0xe000)
				*cp = 0x10000 + ((*cp - 0xd800) << 10) +
				      (lo - 0xdc00);
			else
				*cp = 0xfffd; /* lone high */
		} else {
			*cp = 0xfffd;
		}
	} else if (*cp >= 0xdc00 && *cp < 0xe000) {
		*cp = 0xfffd;
	}
	return 0;
}

/* After the opening quote; the string into *out. */
static int jp_string(struct jp *j, char **out, size_t *outlen)
{
	struct at_buf b = { 0 };
	char u[4];
	unsigned cp;

	at_xbuf_add(&b, "", 0);
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;

		if (c == '"') {
			/* raw bytes may be invalid UTF-8 */
			*out = at_xstrdup_utf8(at_xbuf_cstr(&b));
			*outlen = strlen(*out);
			at_buf_free(&b);
			return 0;
		}
		if (c < 0x20)
			break;
		if (c != '\\') {
			at_xbuf_add(&b, &c, 1);
			continue;
		}
		if (j->p >= j->end)
			break;
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			at_xbuf_add(&b, &c, 1);
			break;
		case 'b':
			at_xbuf_add(&b, "\b", 1);
			break;
		case 'f':
			at_xbuf_add(&b, "\f", 1);
			break;
		case 'n':
			at_xbuf_add(&b, "\n", 1);
			break;
		case 'r':
			at_xbuf_add(&b, "\r", 1);
			break;
		case 't':
			at_xbuf_add(&b, "\t", 1);
			break;
		case 'u':
			if (jp_unicode(j, &cp) < 0)
				goto bad;
			at_xbuf_add(&b, u, at_utf8_encode(cp, u));
			break;
		default:
			goto bad;
		}
	}
bad:
	at_buf_free(&b);
	return -1;
}

static int jp_value(struct jp *j, struct at_json *v);

static void jp_digits(struct jp *j)
{
	while (j->p < j->end && at_is_digit(*j->p))
		j->p++;
}

static int jp_number(struct jp *j, struct at_json *v)
{
	const char *s = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || !at_is_digit(*j->p))
		return -1;
	if (*j->p == '0')
		j->p++;
	else
		jp_digits(j);
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || !at_is_digit(*j->p))
			return -1;
		jp_digits(j);
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !at_is_digit(*j->p))
			return -1;
		jp_digits(j);
	}
	v->type = AT_JSON_NUM;
	v->len = (size_t)(j->p - s);
	v->s = at_xstrndup(s, v->len);
	return 0;
}

static int jp_word(struct jp *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

static int jp_container(struct jp *j, struct at_json *v, int obj)
{
	size_t cap = 0;
	char close = obj ? '}' : ']';

	v->type = obj ? AT_JSON_OBJ : AT_JSON_ARR;
	if (++j->depth > AT_JSON_MAX_DEPTH)
		return -1;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;

		jp_ws(j);
		if (obj) {
			if (j->p >= j->end || *j->p != '"')
				return -1;
			j->p++;
			if (jp_string(j, &key, &klen) < 0)
				return -1;
			jp_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				free(key);
				return -1;
			}
			j->p++;
		}
		if (v->n == cap) {
			cap = cap ? cap * 2 : 4;
			v->items = at_xrealloc(v->items,
					       cap * sizeof(*v->items));
			if (obj)
				v->keys = at_xrealloc(v->keys,
						      cap * sizeof(*v->keys));
		}
		memset(&v->items[v->n], 0, sizeof(v->items[0]));
		if (obj)
			v->keys[v->n] = key;
		v->n++;
		if (jp_value(j, &v->items[v->n - 1]) < 0)
			return -1;
		jp_ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p == close) {
			j->p++;
			j->depth--;
			return 0;
		}
		return -1;
	}
}

static int jp_value(struct jp *j, struct at_json *v)
{
	jp_ws(j);
	if (j->p >= j->end)
		return -1;
	switch (*j->p) {
	case '{':
		j->p++;
		return jp_container(j, v, 1);
	case '[':
		j->p++;
		return jp_container(j, v, 0);
	case '"':
		j->p++;
		v->type = AT_JSON_STR;
		return jp_string(j, &v->s, &v->len);
	case 't':
		v->type = AT_JSON_BOOL;
		v->b = 1;
		return jp_word(j, "true");
	case 'f':
		v->type = AT_JSON_BOOL;
		return jp_word(j, "false");
	case 'n':
		v->type = AT_JSON_NULL;
		return jp_word(j, "null");
	default:
		return jp_number(j, v);
	}
}

int at_json_parse(const char *text, size_t len, struct at_json *out)
{
	struct jp j = { text, text + len, 0 };

	memset(out, 0, sizeof(*out));
	if (text && jp_value(&j, out) == 0) {
		jp_ws(&j);
		if (j.p == j.end)
			return 0;
	}
	at_json_free(out);
	memset(out, 0, sizeof(*out));
	return -1;
}

const struct at_json *at_json_get(const struct at_json *o, const char *key)
{
	size_t i;

	if (!o || o->type != AT_JSON_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return o->items[i].type == AT_JSON_NULL ?
			       NULL : &o->items[i];
	return NULL;
}
