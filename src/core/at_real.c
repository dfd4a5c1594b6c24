/*
 * at_real.c - resolution of the real functions behind the hooks.
 *
 * dlsym(RTLD_NEXT) from inside libautotrace.so finds the next definition
 * after us in the lookup order: libc's, or another preloaded interposer's,
 * which keeps chains of LD_PRELOAD libraries working.  A pointer is
 * published with one atomic store; two threads resolving at once store the
 * same value.  If dlsym finds nothing, or finds our own hook (a broken
 * chain), the pointer is set to a stub that fails with ENOSYS.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>

#include "at_real.h"

/* The base address of the object this code is in (libautotrace.so, or
 * the test program when the core is linked statically). */
static void *own_base(void)
{
	Dl_info info;

	if (dladdr((void *)&own_base, &info) == 0)
		return NULL;
	return info.dli_fbase;
}

void *at_real_lookup(const char *name, void *loaded)
{
	void *p = dlsym(RTLD_NEXT, name);
	Dl_info info;

	/* Our own definition (a chain that loops back to us) is not real. */
	if (p != NULL && dladdr(p, &info) != 0 && info.dli_fbase == own_base())
		p = NULL;
	if (p == NULL && loaded != NULL)
		p = dlsym(loaded, name);
	return p;
}

/*
 * For each function: the pointer, a stub, and the resolver.  The stub has
 * the function's signature only in spirit: it is called with the right
 * arguments and returns -1/ENOSYS, which every int- or ssize_t-returning
 * entry of the table understands as failure; popen's and getenv's return
 * NULL/ENOSYS.
 */
static long enosys_stub(void)
{
	errno = ENOSYS;
	return -1;
}

static void *enosys_null_stub(void)
{
	errno = ENOSYS;
	return NULL;
}

/* The stub for a function returning type ret. */
#define ENOSYS_STUB(ret)                                                   \
	_Generic((ret)0, FILE *: (void *)&enosys_null_stub,                \
		 char *: (void *)&enosys_null_stub,                        \
		 default: (void *)&enosys_stub)

#define AT_REAL_DEF(ret, name, params)                                     \
	ret(*at_real_##name) params;                                       \
	ret(*at_real_resolve_##name(void)) params                          \
	{                                                                  \
		void *p = at_real_lookup(#name, NULL);                     \
		if (!p)                                                    \
			p = ENOSYS_STUB(ret);                              \
		__atomic_store_n((void **)&at_real_##name, p,              \
				 __ATOMIC_RELEASE);                        \
		return (ret(*) params)p;                                   \
	}
AT_REAL_LIBC(AT_REAL_DEF)
#undef AT_REAL_DEF

void at_real_resolve(void)
{
#define AT_REAL_RES(ret, name, params)                                     \
	if (!__atomic_load_n((void **)&at_real_##name, __ATOMIC_ACQUIRE))  \
		at_real_resolve_##name();
	AT_REAL_LIBC(AT_REAL_RES)
#undef AT_REAL_RES
}
