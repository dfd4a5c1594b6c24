/* Unit tests of the OTLP retry policy. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "at_retry.h"

Test(retry, classify)
{
	cr_assert_eq(at_retry_classify(0, 200), AT_RETRY_DONE);
	cr_assert_eq(at_retry_classify(0, 204), AT_RETRY_DONE);
	cr_assert_eq(at_retry_classify(0, 429), AT_RETRY_AGAIN);
	cr_assert_eq(at_retry_classify(0, 502), AT_RETRY_AGAIN);
	cr_assert_eq(at_retry_classify(0, 503), AT_RETRY_AGAIN);
	cr_assert_eq(at_retry_classify(0, 504), AT_RETRY_AGAIN);
	cr_assert_eq(at_retry_classify(0, 400), AT_RETRY_FAIL);
	cr_assert_eq(at_retry_classify(0, 401), AT_RETRY_FAIL);
	cr_assert_eq(at_retry_classify(0, 404), AT_RETRY_FAIL);
	cr_assert_eq(at_retry_classify(0, 500), AT_RETRY_FAIL);
	cr_assert_eq(at_retry_classify(0, 301), AT_RETRY_FAIL);
	cr_assert_eq(at_retry_classify(-ECONNREFUSED, 0), AT_RETRY_AGAIN);
	cr_assert_eq(at_retry_classify(-ETIMEDOUT, 0), AT_RETRY_AGAIN);
}

Test(retry, backoff_grows_with_jitter_and_is_capped)
{
	for (uint64_t rnd = 0; rnd < 5000; rnd += 97) {
		uint64_t d1 = at_retry_backoff_ms(1, rnd);
		uint64_t d2 = at_retry_backoff_ms(2, rnd);
		uint64_t d9 = at_retry_backoff_ms(9, rnd);
		cr_assert(d1 >= 500 && d1 <= 1000, "%lu", (unsigned long)d1);
		cr_assert(d2 >= 1000 && d2 <= 2000);
		cr_assert(d9 >= 2500 && d9 <= 5000);
	}
	/* Jitter: not all the same. */
	cr_assert_neq(at_retry_backoff_ms(3, 1), at_retry_backoff_ms(3, 777));
}

Test(retry, retry_after)
{
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	cr_assert_eq(at_retry_after_parse("0", 1, now), 0);
	cr_assert_eq(at_retry_after_parse(" 3 ", 3, now), 3000);
	cr_assert_eq(at_retry_after_parse("Sun, 06 Nov 1994 08:49:47 GMT", 29,
					  now),
		     10000);
	cr_assert_eq(at_retry_after_parse("Sun, 06 Nov 1994 08:49:00 GMT", 29,
					  now),
		     0, "a date in the past means now");
	cr_assert_eq(at_retry_after_parse("", 0, now), -1);
	cr_assert_eq(at_retry_after_parse("-1", 2, now), -1);
	cr_assert_eq(at_retry_after_parse("1.5", 3, now), -1);
	cr_assert_eq(at_retry_after_parse("soon", 4, now), -1);
	cr_assert_eq(at_retry_after_parse("99999999999999999999", 20, now), -1);
	cr_assert_eq(at_retry_after_parse("Sun, 06 Nov 1994 08:49:47 PST", 29,
					  now),
		     -1);
}
