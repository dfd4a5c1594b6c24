/*
 * at_family.h - the family kit: what every hook family (libc sockets,
 * processes, libpq, libcurl, and the families still to come) needs and
 * none copies.
 *
 * A family is a set of interposed functions plus the state they keep.  It
 * takes from this kit:
 *
 *  - a table of real symbols (struct at_symtab), resolved once and lazily
 *    by the first hook that runs: dlsym(RTLD_NEXT), then, for a library a
 *    module loaded privately (Python's psycopg2 loads libpq with
 *    RTLD_LOCAL), the already loaded library found by its optional soname
 *    (RTLD_NOLOAD: the kit never loads anything).  A table whose required
 *    symbols are missing marks the family absent: its hooks pass straight
 *    through.  (libc's own functions are in the one table of at_real.h.)
 *  - a map from the library's handle (a PGconn, a CURL easy handle) to the
 *    family's state for it (struct at_handle_map), the states in a bounded
 *    pool: lock-free, no malloc; a handle beyond the bound goes untraced;
 *  - enter/leave over the one reentrancy guard (at_guard.h): a family owns
 *    its bit of the guard's owner mask while one of its traced calls runs,
 *    so the calls a library makes to itself (PQexec calls PQsendQuery)
 *    pass through, and other families see who owns the thread's I/O (the
 *    socket layer makes no HTTP span while libcurl moves a transfer).
 *
 * What a family does at initialisation, in a fork child and at exit is
 * one line of the lifecycle table (at_lifecycle.h), not a call from
 * at_init.c.
 *
 * Adding a family (say libfoo): hooks/foo/ holds its interposed
 * functions (plain-named files, AT_EXPORT) and its state (at_foo.[ch]):
 * an X-macro list of libfoo's functions, a typed table and a struct
 * at_symtab over it (AT_SYM, AT_SYMTAB_INIT, with libfoo's soname), a
 * struct at_handle_map if it keeps state per handle, and at_foo_enter/
 * leave over at_family_enter with a new owner bit (at_guard.h).  Outside
 * its folder it touches only the export map (src/libautotrace.map,
 * checked by `make check-exports`), its owner bit, and - if it has work
 * at fork or exit - one line of the lifecycle table (src/libautotrace.c).
 * The Makefile finds hooks/foo/ by itself.
 *
 * Design: the draft of this kit gathered the lifecycle lines with a
 * linker section, each in its module's own file; an explicit table at
 * the top of the library was chosen instead: the order, which the exit
 * flush depends on, is visible in one place and does not depend on the
 * link order.  The exec flush is not a lifecycle step: exec hooks call
 * the exporter directly.
 *
 * Arrows: families include this; this includes core only.
 */
#ifndef AT_FAMILY_H
#define AT_FAMILY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at_compat.h"
#include "at_guard.h"
#include "at_init.h"
#include "at_pool.h"
#include "at_ptrmap.h"

/* ---- real symbols ---- */

struct at_sym {
	const char *name;
	void **slot; /* where the pointer goes (a field of a typed table) */
};

struct at_symtab {
	const char *soname;          /* also look in this loaded library, or NULL */
	const struct at_sym *syms;
	size_t n;
	const char *const *required; /* NULL-terminated: absent if one is missing */
	_Atomic int state;           /* 0 not yet, 1 present, -1 absent */
};

/*
 * With a family's list X(ret, name, params) and its typed table (a struct
 * of function pointers, one per line of the list), AT_SYM makes the
 * entries of its struct at_sym array:
 *   #define AT_PQ_SYM(ret, name, params) AT_SYM(at_pq, name)
 *   static const struct at_sym pq_syms[] = { AT_PQ_FUNCS(AT_PQ_SYM) };
 */
#define AT_SYM(table, name) { #name, (void **)&(table).name },

#define AT_SYMTAB_INIT(so, array, req)                                      \
	{ .soname = (so), .syms = (array), .n = AT_ARRAY_SIZE(array),      \
	  .required = (req) }

/* Resolve the table once (thread-safe, idempotent); true if present. */
bool at_symtab_resolve_slow(struct at_symtab *t);

static inline bool at_symtab_resolve(struct at_symtab *t)
{
	int s = atomic_load_explicit(&t->state, memory_order_acquire);

	if (AT_LIKELY(s != 0))
		return s > 0;
	return at_symtab_resolve_slow(t);
}

/* ---- handle -> state ---- */

struct at_handle_map {
	struct at_ptrmap map;
	struct at_pool pool;
};

/* A static map of at most max_states states of state_size bytes. */
#define AT_HANDLE_MAP_INIT(state_size, max_states)                          \
	{ .pool = AT_POOL_INIT(state_size, max_states) }

/*
 * The state of handle; with create, a zeroed one is made if there is none
 * (NULL when the pool or the map is full: the handle goes untraced).  One
 * handle is used by one thread at a time (libpq and libcurl require it).
 */
void *at_handle_get(struct at_handle_map *m, const void *handle, bool create);
/* Forget handle's state (the handle is being freed). */
void at_handle_drop(struct at_handle_map *m, const void *handle);

/* ---- enter / leave ---- */

/*
 * Entry of a family's traced call: false (pass straight through) when the
 * library itself runs on this thread (the guard's count is held), when
 * the family already owns the thread (a nested call of the same library),
 * when the library is not ready or the family's library is absent.  true:
 * the owner bits are set; clear them with at_family_leave().
 */
bool at_family_enter_slow(uint32_t owner, struct at_symtab *syms);

static inline bool at_family_enter(uint32_t owner, struct at_symtab *syms)
{
	if (AT_UNLIKELY(at_guard & (AT_GUARD_COUNT_MASK | owner)))
		return false;
	/* Ready and resolved, as nearly always: no call (what the slow
	 * path would find, ~30 instructions per hook saved). */
	if (AT_LIKELY(atomic_load_explicit(&at_state, memory_order_acquire) ==
			      AT_STATE_READY &&
		      (!syms || atomic_load_explicit(&syms->state,
						     memory_order_acquire) > 0))) {
		at_guard |= owner;
		return true;
	}
	return at_family_enter_slow(owner, syms);
}

static inline void at_family_leave(uint32_t owner)
{
	at_guard &= ~owner;
}

#endif
