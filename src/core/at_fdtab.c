/*
 * at_fdtab.c - the descriptor table (see at_fdtab.h).  A chunk is mapped
 * with one mmap and published with a CAS; a thread that loses the race
 * unmaps its copy.
 */
#include <sys/mman.h>

#include "at_fdtab.h"

struct at_fd *_Atomic at_fdtab[AT_FDTAB_CHUNKS];

struct at_fd *at_fd_get(int fd)
{
	struct at_fd *chunk, *expected = NULL;
	size_t bytes = sizeof(struct at_fd) * AT_FDTAB_CHUNK;
	unsigned c;

	if ((unsigned)fd >= AT_FDTAB_MAX)
		return NULL;
	c = (unsigned)fd / AT_FDTAB_CHUNK;
	chunk = atomic_load_explicit(&at_fdtab[c], memory_order_acquire);
	if (!chunk) {
		chunk = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (chunk == MAP_FAILED)
			return NULL;
		if (!atomic_compare_exchange_strong(&at_fdtab[c], &expected,
						    chunk)) {
			munmap(chunk, bytes);
			chunk = expected;
		}
	}
	return &chunk[(unsigned)fd % AT_FDTAB_CHUNK];
}
