/*
 * at_compat.h - attributes and small helpers shared by every module.
 *
 * The library is built with -fvisibility=hidden: every symbol is private to
 * libautotrace.so unless marked AT_EXPORT.  Only the interposed functions in
 * hooks/ carry AT_EXPORT, and the anonymous version script lists exactly
 * those (scripts/check-exports.sh verifies it).
 *
 * Thread-local variables use the initial-exec TLS model (AT_TLS): accessing
 * them never calls into the dynamic linker, so it cannot allocate or take a
 * lock, which matters inside hooks that may run in signal handlers or while
 * the host holds malloc's locks.
 */
#ifndef AT_COMPAT_H
#define AT_COMPAT_H

#include <stddef.h>

#define AT_EXPORT __attribute__((visibility("default")))
#define AT_HIDDEN __attribute__((visibility("hidden")))
#define AT_TLS __thread __attribute__((tls_model("initial-exec")))
#define AT_LIKELY(x) __builtin_expect(!!(x), 1)
#define AT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define AT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define AT_UNUSED __attribute__((unused))
/* Slow paths of hooks: kept out of line so the fast path stays a few
 * instructions and a tail jump to the real function. */
#define AT_COLD __attribute__((noinline, cold))
#define AT_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Cache line size used to keep per-thread hot data apart. */
#define AT_CACHELINE 64

#define AT_VERSION "0.1.0"

#endif
