/*
 * at_init.h - lifecycle: lazy thread-safe initialisation, the reentrancy
 * guard, fork and exit.
 *
 * State machine (at_state): UNINIT -> INITIALIZING -> READY or DISABLED.
 * The first hook or the constructor to arrive moves it out of UNINIT and
 * runs the initialiser; the state is marked INITIALIZING *before* the
 * initialiser runs, so a hook re-entered during initialisation (dlsym or
 * getenv calling back into an interposed function) passes through.  Other
 * threads arriving meanwhile pass through too rather than wait: nothing
 * ever blocks on initialisation.
 *
 * The guard is a per-thread nest count (initial-exec TLS).  A hook only
 * traces when the count is zero; it holds the count while it runs, so
 * anything the library itself calls (exporter sockets, name resolution,
 * nested hooks such as write() inside PQexec's send) passes straight
 * through.  The exporter thread holds it for its whole life.
 */
#ifndef AT_INIT_H
#define AT_INIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

#include "at_compat.h"
#include "at_config.h"

enum at_lib_state {
	AT_STATE_UNINIT = 0,
	AT_STATE_INITIALIZING,
	AT_STATE_READY,
	AT_STATE_DISABLED,
};

extern _Atomic int at_state;
extern AT_TLS int at_guard_depth;
extern struct at_config at_cfg; /* immutable once READY */

/* The process's pid, as seen at initialisation and after each fork. */
extern pid_t at_pid;

/*
 * Is this a vfork child (or a raw clone sharing our memory)?  Its pid
 * differs from at_pid, and fork handlers did not run for it.  Hooks that
 * would change the library's state (which is the parent's memory) must
 * not, there.  One getpid() system call: for slow paths only.
 */
static inline bool at_in_vfork_child(void)
{
	return getpid() != at_pid;
}

/* Run the initialiser if nobody did yet; returns the state now. */
int at_init_slow(void);

static inline bool at_ready(void)
{
	int st = atomic_load_explicit(&at_state, memory_order_acquire);
	if (AT_LIKELY(st == AT_STATE_READY))
		return true;
	if (st == AT_STATE_UNINIT)
		return at_init_slow() == AT_STATE_READY;
	return false;
}

static inline bool at_guard_held(void)
{
	return at_guard_depth != 0;
}

static inline void at_guard_enter(void)
{
	at_guard_depth++;
}

static inline void at_guard_leave(void)
{
	at_guard_depth--;
}

/*
 * Entry of every hook: true if the call may be traced (the guard is then
 * held and must be released with at_hook_leave()); false if it must pass
 * straight through.
 */
static inline bool at_hook_enter(void)
{
	if (AT_UNLIKELY(at_guard_depth != 0))
		return false;
	if (AT_UNLIKELY(!at_ready()))
		return false;
	at_guard_depth++;
	return true;
}

static inline void at_hook_leave(void)
{
	at_guard_depth--;
}

#endif
