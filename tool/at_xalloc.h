/*
 * at_xalloc.h - memory for the autotrace tool: allocation that aborts
 * when out of memory, and text built in the library's growable buffer
 * (struct at_buf) with the same rule.
 *
 * The tool is a short-lived command that owns its process: when memory
 * runs out there is nothing better to do than say so and stop, so its
 * trace model and readers never check for NULL.  (The library itself
 * never aborts; it uses at_buf's -1 returns.)
 *
 * Text in an at_buf: every at_xbuf_* call leaves a NUL after the last
 * byte (not counted in len), so b->data is a C string once anything has
 * been added; at_xbuf_str() is "" for a buffer still empty.
 */
#ifndef AT_XALLOC_H
#define AT_XALLOC_H

#include <stddef.h>

#include "at_buf.h"

void *at_xmalloc(size_t n);
void *at_xcalloc(size_t n, size_t size);
void *at_xrealloc(void *p, size_t n);
char *at_xstrndup(const char *s, size_t n);
char *at_xstrdup(const char *s);          /* NULL as "" */
/* A copy of s (NULL as "") with every invalid UTF-8 byte replaced by
 * U+FFFD. */
char *at_xstrdup_utf8(const char *s);

void at_xbuf_add(struct at_buf *b, const void *p, size_t n);
void at_xbuf_str(struct at_buf *b, const char *s);
void at_xbuf_printf(struct at_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The text so far: b->data, or "" if nothing was added. */
const char *at_xbuf_cstr(const struct at_buf *b);
/* The text as a malloc'd string ("" if empty); b is left empty. */
char *at_xbuf_take(struct at_buf *b);

#endif
