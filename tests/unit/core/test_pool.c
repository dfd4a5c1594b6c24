/* Unit tests of the lock-free object pool and the descriptor table. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "at_fdtab.h"
#include "at_pool.h"

Test(pool, get_put_reuse_and_bound)
{
	static struct at_pool p = AT_POOL_INIT(100, 128);
	void *objs[200];
	int n = 0;

	while (n < 200 && (objs[n] = at_pool_get(&p)))
		n++;
	cr_assert_eq(n, 128, "bounded by max_objects (rounded to chunks)");
	cr_assert_eq(at_pool_capacity(&p), 128);
	for (int i = 0; i < n; i++) {
		memset(objs[i], i, 100); /* usable, distinct */
		for (int j = 0; j < i; j++)
			cr_assert_neq(objs[i], objs[j]);
	}
	at_pool_put(&p, objs[5]);
	void *again = at_pool_get(&p);
	cr_assert_eq(again, objs[5], "a freed object is reused");
	cr_assert_null(at_pool_get(&p));
	for (int i = 0; i < n; i++)
		at_pool_put(&p, objs[i]);
	cr_assert_not_null(at_pool_get(&p));
}

static struct at_pool shared = AT_POOL_INIT(64, 4096);

static void *churn(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	void *held[32];

	for (int round = 0; round < 20000; round++) {
		int k = round % 32;
		held[k] = at_pool_get(&shared);
		if (!held[k])
			return (void *)1;
		memset(held[k], (int)id, 64);
		if (k == 31) {
			for (int i = 0; i < 32; i++) {
				for (int b = 0; b < 64; b++)
					if (((unsigned char *)held[i])[b] !=
					    (unsigned char)id)
						return (void *)2; /* shared! */
				at_pool_put(&shared, held[i]);
			}
		}
	}
	return NULL;
}

Test(concurrency, pool_four_threads, .timeout = 60)
{
	pthread_t th[4];
	void *rc;

	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, churn, (void *)(i + 1));
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], &rc);
		cr_assert_null(rc, "thread %d: %s", i,
			       rc == (void *)2 ? "an object was handed out twice"
					       : "pool exhausted");
	}
}

Test(fdtab, entries_are_made_on_demand)
{
	cr_assert_null(at_fd_peek(-1));
	cr_assert_null(at_fd_peek(AT_FDTAB_MAX));
	cr_assert_eq(at_fd_traced(70000), 0);
	struct at_fd *e = at_fd_get(70000);
	cr_assert_not_null(e);
	cr_assert_eq(at_fd_peek(70000), e);
	cr_assert_eq(at_fd_traced(70000), 0);
	atomic_store(&e->kind, AT_FD_CLIENT);
	cr_assert(at_fd_traced(70000));
	cr_assert_eq(at_fd_traced(70001), 0);
	cr_assert_null(at_fd_get(AT_FDTAB_MAX + 5));
}
