/*
 * test_assembly.c - trace assembly for `autotrace serve` (at_assembly.c):
 * pieces of a trace arriving out of order and seconds apart, parents
 * that never come, late spans shown as additions, the bound for traces
 * that never go quiet, and the memory bounds.  Time is passed in, so
 * nothing here waits.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_assembly.h"
#include "tv_spans.h"

#define SEC 1000000000ull

struct shown {
	unsigned trace[64];
	int addition[64];
	size_t n_spans[64], late[64], missing[64];
	size_t n;
};

static void on_show(const struct at_traces *t, const struct at_tv_trace *tr,
		    int addition, void *ud)
{
	struct shown *sh = ud;
	size_t i, late = 0;

	(void)t;
	cr_assert_lt(sh->n, 64);
	for (i = 0; i < tr->n_spans; i++)
		late += tr->spans[i]->late == 1;
	sh->trace[sh->n] = tr->trace_id[15];
	sh->addition[sh->n] = addition;
	sh->n_spans[sh->n] = tr->n_spans;
	sh->late[sh->n] = late;
	sh->missing[sh->n] = (size_t)tr->missing_parents;
	sh->n++;
}

static struct at_tv_span *span(unsigned tr, unsigned id, unsigned parent)
{
	return mk(NULL, tr, id, parent, "svc", "GET", parent ? 2 : 3, id * 10,
		  id * 10 + 5, NULL);
}

Test(assembly, quiet_period_agrees_with_the_export_delay)
{
	cr_assert_eq(at_assembly_quiet_for(AT_ASM_EXPORT_DELAY_MS), 6 * SEC);
	cr_assert_eq(at_assembly_quiet_for(500), 1500000000ull);
}

Test(assembly, child_first_waits_for_its_parent)
{
	struct at_assembly *a = at_assembly_new(NULL);
	struct shown sh = { 0 };

	/* the server's process exports first: its span names a parent */
	at_assembly_push(a, span(1, 2, 1), 0);
	at_assembly_push(a, span(1, 3, 2), 0);
	cr_assert_eq(at_assembly_poll(a, 7 * SEC, on_show, &sh), 0,
		     "quiet, but the parent is announced and missing");
	/* the client's process exports 5 s later */
	at_assembly_push(a, span(1, 1, 0), 8 * SEC);
	cr_assert_eq(at_assembly_poll(a, 9 * SEC, on_show, &sh), 0,
		     "not quiet yet");
	cr_assert_eq(at_assembly_poll(a, 14 * SEC, on_show, &sh), 1);
	cr_assert_eq(sh.n, 1);
	cr_assert_eq(sh.n_spans[0], 3, "one trace, whole");
	cr_assert_eq(sh.addition[0], 0);
	cr_assert_eq(sh.missing[0], 0);
	/* once */
	cr_assert_eq(at_assembly_poll(a, 100 * SEC, on_show, &sh), 0);
	at_assembly_free(a);
}

Test(assembly, parent_first_then_quiet)
{
	struct at_assembly *a = at_assembly_new(NULL);
	struct shown sh = { 0 };

	at_assembly_push(a, span(1, 1, 0), 0);
	cr_assert_eq(at_assembly_poll(a, 5 * SEC, on_show, &sh), 0,
		     "a process may still export within its delay");
	at_assembly_push(a, span(1, 2, 1), 5 * SEC);
	cr_assert_eq(at_assembly_poll(a, 10 * SEC, on_show, &sh), 0);
	cr_assert_eq(at_assembly_poll(a, 11 * SEC, on_show, &sh), 1);
	cr_assert_eq(sh.n_spans[0], 2);
	at_assembly_free(a);
}

Test(assembly, late_spans_are_an_addition)
{
	struct at_assembly *a = at_assembly_new(NULL);
	struct shown sh = { 0 };

	at_assembly_push(a, span(1, 1, 0), 0);
	cr_assert_eq(at_assembly_poll(a, 6 * SEC, on_show, &sh), 1);
	at_assembly_push(a, span(1, 2, 1), 20 * SEC);
	at_assembly_push(a, span(1, 3, 2), 20 * SEC);
	cr_assert_eq(at_assembly_poll(a, 21 * SEC, on_show, &sh), 0);
	cr_assert_eq(at_assembly_poll(a, 26 * SEC, on_show, &sh), 1);
	cr_assert_eq(sh.n, 2);
	cr_assert_eq(sh.addition[1], 1);
	cr_assert_eq(sh.late[1], 2, "the two late spans");
	cr_assert_eq(sh.n_spans[1], 3, "in the whole trace");
	/* shown: no more additions */
	cr_assert_eq(at_assembly_poll(a, 60 * SEC, on_show, &sh), 0);
	at_assembly_free(a);
}

Test(assembly, parent_that_never_comes_is_shown_after_the_bound)
{
	struct at_assembly *a = at_assembly_new(NULL);
	struct shown sh = { 0 };

	at_assembly_push(a, span(1, 2, 1), 0);
	cr_assert_eq(at_assembly_poll(a, 29 * SEC, on_show, &sh), 0);
	cr_assert_eq(at_assembly_poll(a, 30 * SEC, on_show, &sh), 1);
	cr_assert_eq(sh.missing[0], 1, "says its parent never came");
	at_assembly_free(a);
}

Test(assembly, a_trace_that_never_goes_quiet_is_shown_at_the_bound)
{
	struct at_assembly *a = at_assembly_new(NULL);
	struct shown sh = { 0 };
	unsigned i;

	at_assembly_push(a, span(1, 1, 0), 0);
	for (i = 1; i < 40; i++) {
		at_assembly_push(a, span(1, 1 + i, 1), i * SEC);
		at_assembly_poll(a, i * SEC, on_show, &sh);
		if (sh.n)
			break;
	}
	cr_assert_eq(sh.n, 1);
	cr_assert_eq(i, 30, "shown at %u s", i);
	at_assembly_free(a);
}

Test(assembly, out_of_order_pieces_of_many_traces)
{
	struct at_assembly *a = at_assembly_new(NULL);
	struct shown sh = { 0 };
	unsigned tr;

	/* three traces, children of each before their roots, interleaved */
	for (tr = 1; tr <= 3; tr++)
		at_assembly_push(a, span(tr, 3, 2), 0);
	for (tr = 1; tr <= 3; tr++)
		at_assembly_push(a, span(tr, 2, 1), SEC);
	for (tr = 3; tr >= 1; tr--)
		at_assembly_push(a, span(tr, 1, 0), 2 * SEC);
	cr_assert_eq(at_assembly_poll(a, 7 * SEC, on_show, &sh), 0);
	cr_assert_eq(at_assembly_poll(a, 8 * SEC, on_show, &sh), 3);
	for (size_t i = 0; i < sh.n; i++) {
		cr_assert_eq(sh.n_spans[i], 3);
		cr_assert_eq(sh.missing[i], 0);
	}
	at_assembly_free(a);
}

Test(assembly, memory_is_bounded)
{
	struct at_assembly_opts o = { .max_traces = 4, .max_spans = 10 };
	struct at_assembly *a = at_assembly_new(&o);
	struct shown sh = { 0 };
	const struct at_traces *t;
	unsigned tr;

	for (tr = 1; tr <= 10; tr++) {
		at_assembly_push(a, span(tr, 1, 0), tr * SEC);
		at_assembly_poll(a, tr * SEC, on_show, &sh);
		t = at_assembly_traces(a);
		cr_assert_leq(t->n_traces, 4);
	}
	/* the ones forced out were shown first, none lost silently */
	at_assembly_flush(a, on_show, &sh);
	cr_assert_eq(sh.n, 10);
	/* many spans of one trace: kept under max_spans */
	for (unsigned id = 2; id < 40; id++) {
		at_assembly_push(a, span(20, id, 1), 20 * SEC);
		at_assembly_poll(a, 20 * SEC, on_show, &sh);
		cr_assert_leq(at_assembly_traces(a)->n_all, 10);
	}
	at_assembly_free(a);
}
