/*
 * at_xalloc.c - the autotrace tool's allocation that aborts when out of
 * memory, and its strings built in an at_buf (see at_xalloc.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_utf8.h"
#include "at_xalloc.h"

static void oom(void)
{
	fputs("autotrace: out of memory\n", stderr);
	abort();
}

void *at_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *at_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *at_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *at_xstrndup(const char *s, size_t n)
{
	char *d = at_xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *at_xstrdup(const char *s)
{
	return at_xstrndup(s ? s : "", s ? strlen(s) : 0);
}

char *at_xstrdup_utf8(const char *s)
{
	size_t n, used, w;
	char *d;

	s = s ? s : "";
	n = strlen(s);
	if (at_utf8_valid(s, n))
		return at_xstrndup(s, n);
	/* each byte becomes at most 3 (U+FFFD): always room enough */
	d = at_xmalloc(3 * n + 1);
	w = at_utf8_copy(d, 3 * n + 1, s, n, &used);
	return at_xrealloc(d, w + 1);
}

void at_xbuf_add(struct at_buf *b, const void *p, size_t n)
{
	if (at_buf_reserve(b, n + 1) < 0)
		oom();
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void at_xbuf_str(struct at_buf *b, const char *s)
{
	at_xbuf_add(b, s, strlen(s));
}

void at_xbuf_printf(struct at_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	errno = 0;
	va_start(ap, fmt);
	r = at_buf_vprintf(b, fmt, ap);
	va_end(ap);
	/* an encoding error adds nothing; only memory is fatal */
	if (r < 0 && errno == ENOMEM)
		oom();
}

const char *at_xbuf_cstr(const struct at_buf *b)
{
	return b->data ? (const char *)b->data : "";
}

char *at_xbuf_take(struct at_buf *b)
{
	/* trimmed: at_buf's capacity starts at 256 bytes */
	char *p = b->data ? at_xrealloc(b->data, b->len + 1) : at_xstrdup("");

	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
