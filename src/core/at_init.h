/*
 * at_init.h - the library's state machine: lazy thread-safe
 * initialisation, and the entry of every hook.  The reentrancy guard is in
 * at_guard.h, the configuration (at_cfg) in at_config.h, and what each
 * module does at initialisation, in a fork child and at exit in the
 * lifecycle table (at_lifecycle.h).
 *
 * State machine (at_state): UNINIT -> INITIALIZING -> READY or DISABLED.
 * The first hook or the constructor to arrive moves it out of UNINIT and
 * runs the initialiser; the state is marked INITIALIZING *before* the
 * initialiser runs, so a hook re-entered during initialisation (dlsym or
 * getenv calling back into an interposed function) passes through.  Other
 * threads arriving meanwhile pass through too rather than wait: nothing
 * ever blocks on initialisation.
 *
 * A hook only traces when the guard's count (at_guard.h) is zero; it holds
 * the count while it runs, so anything the library itself calls (exporter
 * sockets, name resolution, nested hooks such as write() inside a traced
 * send) passes straight through.
 */
#ifndef AT_INIT_H
#define AT_INIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <unistd.h>

#include "at_compat.h"
#include "at_guard.h"

enum at_lib_state {
	AT_STATE_UNINIT = 0,
	AT_STATE_INITIALIZING,
	AT_STATE_READY,
	AT_STATE_DISABLED,
};

extern _Atomic int at_state;

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

/*
 * Entry of every hook: true if the call may be traced (the guard is then
 * held and must be released with at_hook_leave()); false if it must pass
 * straight through.
 */
static inline bool at_hook_enter(void)
{
	if (AT_UNLIKELY(at_guard & AT_GUARD_COUNT_MASK))
		return false;
	if (AT_UNLIKELY(!at_ready()))
		return false;
	at_guard++;
	return true;
}

static inline void at_hook_leave(void)
{
	at_guard--;
}

#endif
