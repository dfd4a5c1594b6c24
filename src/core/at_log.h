/*
 * at_log.h - the library's only output: one-line messages on stderr.
 *
 * Written with the real write(2) on fd 2 in one call per line, so lines of
 * concurrent processes do not interleave mid-line.  Without AUTOTRACE_DEBUG
 * the library prints nothing except warnings about invalid settings.
 */
#ifndef AT_LOG_H
#define AT_LOG_H

#include "at_compat.h"

/* "libautotrace: <message>\n" (the prefix is added when missing). */
void at_log_line(const char *line);
void at_log_warn(const char *fmt, ...) AT_PRINTF(1, 2);

#endif
