/* Unit tests of thread state (src/core/at_thread.c): registration of each
 * thread, the bound on states (AT_THREAD_MAX_STATES) and its recovery
 * once the exporter reaps, exit and reaping, the context stack's depth
 * limit, and the reset in a fork child (only the forking thread's state,
 * emptied, with a new id sequence). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "at_id.h"
#include "at_span.h"
#include "at_thread.h"
#include "unit.h"

static int registry_has(const struct at_thread *t)
{
	for (struct at_thread *p = at_thread_registry(); p; p = p->next)
		if (p == t)
			return 1;
	return 0;
}

static int registry_len(void)
{
	int n = 0;
	for (struct at_thread *p = at_thread_registry(); p; p = p->next)
		n++;
	return n;
}

struct seen {
	struct at_thread *t;
	pid_t tid;
	int end_span; /* end one span (the ring is then not empty) */
};

static void *thread_main(void *arg)
{
	struct seen *s = arg;
	struct at_span sp;

	s->t = at_thread_get();
	s->tid = (pid_t)syscall(SYS_gettid);
	if (s->t && s->end_span) {
		at_span_start(&sp, "t", 1, AT_KIND_INTERNAL);
		at_span_end(&sp);
	}
	return NULL;
}

static struct seen run_thread(int end_span)
{
	struct seen s = { .end_span = end_span };
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, thread_main, &s), 0);
	pthread_join(th, NULL);
	return s;
}

TestSuite(thread, .init = ut_core_setup);

Test(thread, each_thread_registers_its_own_state)
{
	struct at_thread *me = at_thread_get();
	struct seen other;

	cr_assert_not_null(me);
	cr_assert_eq(at_thread_get(), me, "created once");
	cr_assert_eq(me->tid, (pid_t)syscall(SYS_gettid));
	cr_assert(registry_has(me));
	other = run_thread(1);
	cr_assert_not_null(other.t);
	cr_assert_neq(other.t, me);
	cr_assert_eq(other.t->tid, other.tid);
	cr_assert(registry_has(other.t));
	cr_assert(atomic_load(&other.t->exited), "marked at thread exit");
	cr_assert_neq(other.t->ring.buf, me->ring.buf, "a ring each");
}

Test(thread, reap_frees_exited_threads_once_drained)
{
	struct at_thread_stats acc = { 0 };
	uint64_t sum[4];
	struct seen s;

	at_thread_get();
	s = run_thread(1);
	at_thread_reap(&acc);
	cr_assert(registry_has(s.t), "spans still to export: kept");
	at_thread_stats_sum(&acc, sum);
	cr_assert_eq(sum[0], 1, "its span is counted");
	while (at_ring_peek(&s.t->ring))
		at_ring_pop(&s.t->ring);
	at_thread_reap(&acc);
	cr_assert_not(registry_has(s.t), "drained: unlinked");
	cr_assert_eq(registry_len(), 1, "only this thread is left");
	at_thread_stats_sum(&acc, sum);
	cr_assert_eq(sum[0], 1, "its counters moved to the total");
}

Test(thread, bounded_number_of_states, .timeout = 120)
{
	struct at_thread_stats acc = { 0 };
	uint64_t refused0 = atomic_load(&at_thread_refused);
	int have = registry_len();
	struct seen s;

	/* Exited threads with spans still in their rings keep their state:
	 * the bound counts them. */
	for (int i = have; i < AT_THREAD_MAX_STATES; i++) {
		s = run_thread(1);
		cr_assert_not_null(s.t, "state %d of %d", i,
				   AT_THREAD_MAX_STATES);
	}
	cr_assert_eq(registry_len(), AT_THREAD_MAX_STATES);
	s = run_thread(1);
	cr_assert_null(s.t, "over the bound: not traced");
	cr_assert_eq(atomic_load(&at_thread_refused), refused0 + 1);
	/* The exporter drains and reaps: states are free again. */
	for (struct at_thread *p = at_thread_registry(); p; p = p->next)
		while (at_ring_peek(&p->ring))
			at_ring_pop(&p->ring);
	at_thread_reap(&acc);
	s = run_thread(0);
	cr_assert_not_null(s.t, "a state again after reaping");
}

Test(thread, context_stack_depth_is_bounded)
{
	static struct at_span sp[AT_STACK_DEPTH + 2];
	struct at_thread *t = at_thread_get();

	for (int i = 0; i < AT_STACK_DEPTH + 2; i++)
		at_span_start(&sp[i], "s", 1, AT_KIND_INTERNAL);
	cr_assert_eq(t->depth, AT_STACK_DEPTH);
	cr_assert_eq(atomic_load(&t->stats.dropped_depth), 2);
	cr_assert_eq(at_context_current(t), &sp[AT_STACK_DEPTH - 1]);
	/* Removed from the middle: the others keep their order. */
	at_context_remove(t, &sp[3]);
	cr_assert_eq(t->depth, AT_STACK_DEPTH - 1);
	cr_assert_eq(t->stack[3].span, &sp[4]);
	for (int i = AT_STACK_DEPTH + 1; i >= 0; i--)
		at_span_end(&sp[i]);
	cr_assert_null(at_context_current(t));
}

/* Fork child: only the forking thread's state is left, with an empty
 * ring, zeroed counters, its own tid, and a new id sequence. */
Test(thread, fork_child_keeps_only_its_state_reseeded)
{
	struct at_thread *me = at_thread_get();
	struct at_span sp;
	struct at_rng parent_rng;
	uint8_t parent_next[16];
	int pipefd[2], status;
	pid_t pid;
	struct {
		int registry_len, ring_empty, is_me, tid_ok, stats_zero;
		uint8_t id[16];
	} rep;

	at_span_start(&sp, "p", 1, AT_KIND_INTERNAL);
	at_span_end(&sp);
	run_thread(1); /* another thread's state: the child has no such thread */
	cr_assert_eq(registry_len(), 2);
	parent_rng = me->rng;
	at_id_trace(&parent_rng, parent_next);
	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct at_thread *t;

		at_thread_after_fork_child();
		t = at_thread_get();
		rep.registry_len = registry_len();
		rep.ring_empty = at_ring_peek(&t->ring) == NULL;
		rep.is_me = t == me;
		rep.tid_ok = t->tid == (pid_t)syscall(SYS_gettid);
		rep.stats_zero = atomic_load(&t->stats.started) == 0;
		at_id_trace(&t->rng, rep.id);
		if (write(pipefd[1], &rep, sizeof(rep)) != sizeof(rep))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	cr_assert_eq(read(pipefd[0], &rep, sizeof(rep)), (ssize_t)sizeof(rep));
	close(pipefd[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(rep.registry_len, 1);
	cr_assert(rep.is_me);
	cr_assert(rep.ring_empty, "the parent's spans are the parent's");
	cr_assert(rep.tid_ok);
	cr_assert(rep.stats_zero);
	cr_assert_neq(memcmp(rep.id, parent_next, 16), 0,
		      "reseeded: not the parent's next id");
	cr_assert_not_null(at_ring_peek(&me->ring), "the parent keeps them");
}
