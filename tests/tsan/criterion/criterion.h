/*
 * A stand-in for <criterion/criterion.h>, for ThreadSanitizer builds only.
 *
 * Criterion cannot start under TSan (its process arena is placed where
 * TSan's shadow memory lives: Criterion issue #274), so the concurrency
 * tests are compiled a second time against this header, which provides
 * the few macros they use, and run by tests/tsan/runner.c: each test in a
 * forked child, with a closing "N passed, N failed" line.
 */
#ifndef AT_CRITERION_SHIM_H
#define AT_CRITERION_SHIM_H

#include <stdio.h>
#include <string.h>

struct shim_opts {
	void (*init)(void);
	void (*fini)(void);
	double timeout;
};

void shim_register(const char *suite, const char *name, void (*fn)(void),
		   struct shim_opts opts);
void shim_fail(const char *file, int line, const char *expr, int fatal,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void shim_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                             \
	static void suite##_##name(void);                                  \
	__attribute__((constructor)) static void reg_##suite##_##name(void) \
	{                                                                  \
		shim_register(#suite, #name, suite##_##name,               \
			      (struct shim_opts){ __VA_ARGS__ });          \
	}                                                                  \
	static void suite##_##name(void)

#define TestSuite(suite, ...)                                              \
	__attribute__((unused)) static const struct shim_opts              \
		suite##_suite_opts = { __VA_ARGS__ }

#define SHIM_CHECK(fatal, cond, expr, ...)                                 \
	do {                                                               \
		if (!(cond))                                               \
			shim_fail(__FILE__, __LINE__, expr, fatal,         \
				  "" __VA_ARGS__);                         \
	} while (0)

#define cr_assert(c, ...) SHIM_CHECK(1, (c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) SHIM_CHECK(1, !(c), "!" #c, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) SHIM_CHECK(1, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) SHIM_CHECK(1, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) SHIM_CHECK(1, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) SHIM_CHECK(1, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) SHIM_CHECK(1, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) SHIM_CHECK(1, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(a, ...) SHIM_CHECK(1, (a) == NULL, #a " == NULL", __VA_ARGS__)
#define cr_assert_not_null(a, ...) SHIM_CHECK(1, (a) != NULL, #a " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) SHIM_CHECK(1, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_fail(...) SHIM_CHECK(1, 0, "fail", __VA_ARGS__)
#define cr_skip_test(...) shim_skip("" __VA_ARGS__)
/* Expectations: the same checks, not fatal. */
#define cr_expect(c, ...) SHIM_CHECK(0, (c), #c, __VA_ARGS__)
#define cr_expect_not(c, ...) SHIM_CHECK(0, !(c), "!" #c, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) SHIM_CHECK(0, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) SHIM_CHECK(0, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) SHIM_CHECK(0, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) SHIM_CHECK(0, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_null(a, ...) SHIM_CHECK(0, (a) == NULL, #a " == NULL", __VA_ARGS__)
#define cr_expect_not_null(a, ...) SHIM_CHECK(0, (a) != NULL, #a " != NULL", __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) SHIM_CHECK(0, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)

#endif
