/*
 * at_buf.c - a growable byte buffer (see at_buf.h).
 *
 * Used by the exporter thread, the transport, the receiver and the
 * autotrace tool (whose strings are built on it, see tool/at_xalloc.h),
 * never by hooks (it calls malloc).  The capacity grows geometrically (doubling,
 * at least 256 bytes), so appending n bytes one piece at a time costs
 * O(n) amortised and a buffer reused across batches stops reallocating
 * once it has reached the size of the largest batch.
 *
 * Contract: on failure (ENOMEM, or a size that would overflow) the buffer
 * is left exactly as it was and -1 is returned; data may be NULL only
 * while cap is 0.  A zeroed struct is an empty buffer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_buf.h"

#define MIN_CAP 256

int at_buf_reserve(struct at_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra <= b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX - b->len) {
		errno = ENOMEM;
		return -1;
	}
	need = b->len + extra;
	cap = b->cap ? b->cap : MIN_CAP;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int at_buf_append(struct at_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (at_buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int at_buf_vprintf(struct at_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	size_t room;
	int n;

	/* First try in the room that is already there (the common case). */
	room = b->cap - b->len;
	va_copy(again, ap);
	n = vsnprintf(room ? (char *)b->data + b->len : NULL, room, fmt, ap);
	if (n >= 0 && (size_t)n >= room) {
		/* n bytes plus vsnprintf's NUL, which is not counted in len. */
		if (at_buf_reserve(b, (size_t)n + 1) < 0)
			n = -1;
		else
			n = vsnprintf((char *)b->data + b->len, (size_t)n + 1,
				      fmt, again);
	}
	va_end(again);
	if (n < 0)
		return -1;
	b->len += (size_t)n;
	return 0;
}

int at_buf_printf(struct at_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = at_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void at_buf_free(struct at_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
