/* Unit tests of the fd table (src/core/at_fdtab.c): bounds, chunks mapped
 * on demand and only once (also when threads race for a new chunk), and
 * the hooks' fast-path predicates for each kind of entry. */
#include <criterion/criterion.h>
#include <pthread.h>

#include "at_fdtab.h"

Test(fdtab, out_of_range_has_no_entry)
{
	cr_assert_null(at_fd_peek(-1));
	cr_assert_null(at_fd_peek(AT_FDTAB_MAX));
	cr_assert_null(at_fd_get(-1));
	cr_assert_null(at_fd_get(AT_FDTAB_MAX));
	cr_assert_null(at_fd_get(0x7fffffff));
	cr_assert_eq(at_fd_traced(-1), 0);
	cr_assert_eq(at_fd_io_traced(AT_FDTAB_MAX), 0);
	cr_assert_not_null(at_fd_get(AT_FDTAB_MAX - 1), "the last one is in");
}

Test(fdtab, chunks_are_mapped_by_get_only)
{
	int fd = 3 * AT_FDTAB_CHUNK + 17;
	struct at_fd *e;

	cr_assert_null(at_fd_peek(fd), "peek never maps");
	cr_assert_eq(at_fd_io_traced(fd), 0);
	e = at_fd_get(fd);
	cr_assert_not_null(e);
	cr_assert_eq(at_fd_peek(fd), e);
	cr_assert_eq(at_fd_get(fd), e, "mapped once");
	/* The whole chunk, zeroed; its neighbours share it. */
	cr_assert_eq(at_fd_peek(3 * AT_FDTAB_CHUNK), e - 17);
	cr_assert_eq(at_fd_peek(4 * AT_FDTAB_CHUNK - 1),
		     e - 17 + AT_FDTAB_CHUNK - 1);
	cr_assert_null(at_fd_peek(4 * AT_FDTAB_CHUNK), "next chunk: not yet");
	for (int i = 0; i < AT_FDTAB_CHUNK; i++) {
		cr_assert_eq(atomic_load(&e[i - 17].kind), AT_FD_NONE);
		cr_assert_null(atomic_load(&e[i - 17].conn));
	}
}

Test(fdtab, kinds_and_the_fast_path)
{
	static const struct {
		uint8_t kind;
		int traced, io;
	} want[] = {
		{ AT_FD_NONE, 0, 0 },   { AT_FD_TCP, 1, 1 },
		{ AT_FD_CLIENT, 1, 1 }, { AT_FD_SERVER, 1, 1 },
		{ AT_FD_PASSIVE, 1, 0 },
	};
	struct at_fd *e = at_fd_get(40);

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		atomic_store(&e->kind, want[i].kind);
		cr_assert_eq(!!at_fd_traced(40), want[i].traced, "kind %d",
			     want[i].kind);
		cr_assert_eq(!!at_fd_io_traced(40), want[i].io, "kind %d",
			     want[i].kind);
		cr_assert_eq(at_fd_io_traced(41), 0, "the neighbour is not");
	}
}

#define RACERS 8
static pthread_barrier_t gate;

static void *race_get(void *arg)
{
	pthread_barrier_wait(&gate);
	return at_fd_get((int)(intptr_t)arg);
}

Test(fdtab, racing_threads_share_one_chunk)
{
	pthread_t th[RACERS];
	void *got[RACERS];
	int base = 7 * AT_FDTAB_CHUNK;

	pthread_barrier_init(&gate, NULL, RACERS);
	for (int i = 0; i < RACERS; i++)
		pthread_create(&th[i], NULL, race_get,
			       (void *)(intptr_t)(base + i));
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], &got[i]);
	for (int i = 0; i < RACERS; i++) {
		cr_assert_not_null(got[i]);
		cr_assert_eq((struct at_fd *)got[i] - i,
			     (struct at_fd *)got[0], "one chunk for all");
		cr_assert_eq(at_fd_peek(base + i), got[i]);
	}
	pthread_barrier_destroy(&gate);
}
