/*
 * at_id.c - id generation (see at_id.h).
 *
 * xoshiro256** is fast (a few ns per 64 bits), has a 2^256 period and
 * passes the usual statistical batteries; W3C only asks that trace ids be
 * random and unique, not unpredictable.  Seeds come from getrandom(2);
 * if that fails (old kernel, seccomp), a splitmix64 mix of the clock, the
 * pid, the thread id and an address is used rather than failing.  The
 * ids themselves are made inline (at_id.h): one per span.
 */
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "at_id.h"
#include "at_real.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void at_rng_seed(struct at_rng *r)
{
	ssize_t n = getrandom(r->s, sizeof(r->s), GRND_NONBLOCK);

	if (n != (ssize_t)sizeof(r->s)) {
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
		    ((uint64_t)getpid() << 40) ^
		    (uint64_t)AT_REAL(syscall)(SYS_gettid) ^ (uint64_t)(uintptr_t)r;
		for (int i = 0; i < 4; i++)
			r->s[i] = splitmix64(&x);
	}
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = 0x9e3779b97f4a7c15ull; /* all-zero state is fixed */
}
