/*
 * at_testing.h - the library's test-only hooks, marked in one way.
 *
 * A declaration that starts with AT_TESTING is there only so that the
 * unit tests (and the benchmarks) can reach into a module: no library
 * code calls it, and it is not exported from libautotrace.so (the tests
 * link build/libatcore.a).  Everything else the tests use is the
 * library's own interface, or a pointer the library itself calls through
 * (the real-function tables at_real_*, at_pq, at_curl, which tests may
 * point at fakes).  Today's hooks:
 *
 *   at_exporter_manual()   no exporter thread; the test drains rings and
 *                          exports with at_exporter_run_once()
 *   at_pool_capacity()     objects a pool has mapped
 *   at_resource_get()      read one resource attribute back
 *
 * A hook that no test uses any more is deleted, not kept.
 */
#ifndef AT_TESTING_H
#define AT_TESTING_H

#define AT_TESTING /* test-only: see at_testing.h */

#endif
