/*
 * at_buf.h - a growable byte buffer for the exporter, the transport, the
 * receiver and the autotrace tool (never used by hooks: it calls malloc).
 */
#ifndef AT_BUF_H
#define AT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct at_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Make room for extra more bytes.  0, or -1 (ENOMEM; buffer unchanged). */
int at_buf_reserve(struct at_buf *b, size_t extra);
int at_buf_append(struct at_buf *b, const void *p, size_t n);
/* Append formatted text; a NUL follows it in data (not counted in len). */
int at_buf_printf(struct at_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int at_buf_vprintf(struct at_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static inline void at_buf_reset(struct at_buf *b) { b->len = 0; }
void at_buf_free(struct at_buf *b);

#endif
