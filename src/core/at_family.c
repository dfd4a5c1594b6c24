/*
 * at_family.c - the family kit (see at_family.h): symbol tables, the
 * handle map and a family's entry.
 */
#include <dlfcn.h>
#include <string.h>

#include "at_family.h"
#include "at_init.h"
#include "at_real.h"

static bool missing(const struct at_symtab *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->syms[i].name, name) == 0)
			return !__atomic_load_n(t->syms[i].slot,
						__ATOMIC_ACQUIRE);
	return true;
}

bool at_symtab_resolve_slow(struct at_symtab *t)
{
	void *local = NULL;
	int s = atomic_load_explicit(&t->state, memory_order_acquire);

	if (s != 0)
		return s > 0;
	/* Two threads may both get here: they store the same pointers. */
	if (t->soname)
		local = dlopen(t->soname, RTLD_LAZY | RTLD_NOLOAD);
	for (size_t i = 0; i < t->n; i++)
		__atomic_store_n(t->syms[i].slot,
				 at_real_lookup(t->syms[i].name, local),
				 __ATOMIC_RELEASE);
	if (local)
		dlclose(local); /* drops only our reference */
	s = 1;
	for (const char *const *r = t->required; r && *r; r++)
		if (missing(t, *r))
			s = -1;
	atomic_store_explicit(&t->state, s, memory_order_release);
	return s > 0;
}

void *at_handle_get(struct at_handle_map *m, const void *handle, bool create)
{
	void *st = at_ptrmap_get(&m->map, handle);

	if (st || !create)
		return st;
	st = at_pool_get(&m->pool);
	if (!st)
		return NULL;
	memset(st, 0, m->pool.obj_size);
	if (at_ptrmap_put(&m->map, handle, st) != 0) {
		at_pool_put(&m->pool, st);
		return NULL; /* map full: this handle goes untraced */
	}
	return st;
}

void at_handle_drop(struct at_handle_map *m, const void *handle)
{
	void *st = at_ptrmap_del(&m->map, handle);

	if (st)
		at_pool_put(&m->pool, st);
}

bool at_family_enter_slow(uint32_t owner, struct at_symtab *syms)
{
	if (!at_ready() || (syms && !at_symtab_resolve(syms)))
		return false;
	at_guard |= owner;
	return true;
}
