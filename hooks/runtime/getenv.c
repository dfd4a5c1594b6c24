/*
 * hooks/runtime/getenv.c - getenv(3): the quick way in for a runtime
 * bridge's span STARTs (at_bridge_span.c, "Asked through getenv").
 *
 * Why getenv.  A JavaScript bridge reaches the library only through calls
 * the runtime makes into libc.  The bridge channel's write() costs Node
 * about 2.5 k instructions of its own (fs.writeSync's checks, its
 * trace-category lookups, libuv's request) plus a copy of the head into
 * a buffer and of the answer out of it; a read of process.env[name] is
 * one C++ interceptor that hands the name to getenv() as a C string and
 * makes a string of what it returns: the head goes in as the name, the
 * header lines come back as the value.
 *
 * Every other name (first byte not \001, or not the prefix the calling
 * thread's bound buffer expects) goes to the real getenv untouched; the
 * check is one byte compare.  errno is kept across an answered START.
 */
#include <errno.h>
#include <stdlib.h>

#include "at_bridge_span.h"
#include "at_compat.h"
#include "at_real.h"

AT_EXPORT char *getenv(const char *name)
{
	if (AT_UNLIKELY(name[0] == AT_BRIDGE_SPAN_ENV_PREFIX[0])) {
		int saved = errno;
		char *answer;
		bool ours = at_bridge_span_env(name, &answer);
		errno = saved;
		if (ours)
			return answer;
	}
	return AT_REAL(getenv)(name);
}
