/*
 * at_log.c - one-line messages on stderr.
 *
 * The line is formatted into a stack buffer and written with a single call
 * of the real write(2), retried on EINTR and short writes; errno is
 * preserved, so logging never changes what the host observes.  No stdio:
 * the host may have closed, redirected or locked stderr's FILE.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "at_log.h"
#include "at_real.h"

#define PREFIX "libautotrace: "

void at_log_line(const char *line)
{
	char buf[1024];
	size_t n = 0, len;
	int saved = errno;

	if (strncmp(line, PREFIX, sizeof(PREFIX) - 1) != 0) {
		memcpy(buf, PREFIX, sizeof(PREFIX) - 1);
		n = sizeof(PREFIX) - 1;
	}
	len = strlen(line);
	if (len > sizeof(buf) - n - 1)
		len = sizeof(buf) - n - 1;
	memcpy(buf + n, line, len);
	n += len;
	buf[n++] = '\n';

	for (size_t off = 0; off < n;) {
		ssize_t w = AT_REAL(write)(2, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

void at_log_warn(const char *fmt, ...)
{
	char line[960];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	at_log_line(line);
	errno = saved;
}
