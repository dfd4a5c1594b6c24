/*
 * at_assembly.c - trace assembly for `autotrace serve`: the spans of one
 * trace come from several processes, each exporting on its own schedule,
 * so a trace must not be shown when its first piece arrives.
 *
 * Timing.  The library exports a process's ended spans at the latest
 * OTEL_BSP_SCHEDULE_DELAY after they end (5 s by default; sooner when a
 * thread's ring fills), so the pieces of one trace can arrive about 5 s
 * apart.  A trace is shown when
 *   - it has been quiet (no span of it arrived) for the quiet period,
 *     the export delay + 1 s (6 s by default; serve derives it from its
 *     own OTEL_BSP_SCHEDULE_DELAY, or --settle), AND none of its spans
 *     names a parent that has not arrived (the server span of a request
 *     whose client span is still in the other process's ring); or
 *   - its first span came a bound ago (5 quiet periods, 30 s), whatever
 *     is missing: a parent that never comes (an untraced caller that
 *     sent a traceparent, a process killed before its export) does not
 *     hold the trace back for ever.  The view then says which span's
 *     parent never arrived.
 * Spans of a trace already shown are marked late (1) and shown the same
 * way, as an addition (only the late spans, marked as such); once shown
 * they are late == 2.
 *
 * Memory.  Shown traces stay in the model as history (the slow-span rule
 * needs an endpoint's past durations, the live page lists them) until
 * there are more than max_traces traces or max_spans spans: then the
 * oldest shown ones are forgotten; if traces not yet shown alone pass
 * the bounds, the oldest of them are shown at once and forgotten later.
 *
 * Each trace's bookkeeping (first and last arrival, shown, late spans
 * pending) is a small array searched linearly, with the last hit cached:
 * at most max_traces + the traces of one request.  The model is rebuilt
 * (at_traces_build) only when something changed.  Not thread-safe: serve
 * calls it under its own lock.  Tool-only: allocation failure aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "at_assembly.h"
#include "at_xalloc.h"

#define NS_PER_MS 1000000ull

struct asm_trace {
	uint8_t id[16];
	uint64_t first_ns, last_ns;  /* arrivals (of late spans once shown) */
	int shown;
	size_t pending_late;
	size_t n_spans;
};

struct at_assembly {
	struct at_traces *t;
	int dirty;
	uint64_t quiet_ns, bound_ns;
	size_t max_traces, max_spans;
	struct asm_trace *tr;
	size_t n_tr, cap_tr;
	size_t last_hit;
};

uint64_t at_assembly_quiet_for(uint64_t delay_ms)
{
	return (delay_ms + AT_ASM_QUIET_MARGIN_MS) * NS_PER_MS;
}

struct at_assembly *at_assembly_new(const struct at_assembly_opts *o)
{
	struct at_assembly *a = at_xcalloc(1, sizeof(*a));

	a->t = at_traces_new();
	a->quiet_ns = o && o->quiet_ns ? o->quiet_ns :
		at_assembly_quiet_for(AT_ASM_EXPORT_DELAY_MS);
	a->bound_ns = o && o->bound_ns ? o->bound_ns :
		AT_ASM_BOUND_FACTOR * a->quiet_ns;
	a->max_traces = o && o->max_traces ? o->max_traces : AT_ASM_MAX_TRACES;
	a->max_spans = o && o->max_spans ? o->max_spans : AT_ASM_MAX_SPANS;
	return a;
}

void at_assembly_free(struct at_assembly *a)
{
	if (!a)
		return;
	at_traces_free(a->t);
	free(a->tr);
	free(a);
}

static struct asm_trace *find_trace(struct at_assembly *a, const uint8_t *id)
{
	size_t i;

	if (a->last_hit < a->n_tr &&
	    memcmp(a->tr[a->last_hit].id, id, 16) == 0)
		return &a->tr[a->last_hit];
	for (i = 0; i < a->n_tr; i++) {
		if (memcmp(a->tr[i].id, id, 16) == 0) {
			a->last_hit = i;
			return &a->tr[i];
		}
	}
	return NULL;
}

void at_assembly_push(struct at_assembly *a, struct at_tv_span *s,
		      uint64_t now_ns)
{
	struct asm_trace *st = find_trace(a, s->trace_id);

	if (!st) {
		if (a->n_tr == a->cap_tr) {
			a->cap_tr = a->cap_tr ? a->cap_tr * 2 : 64;
			a->tr = at_xrealloc(a->tr, a->cap_tr * sizeof(*a->tr));
		}
		st = &a->tr[a->n_tr++];
		memset(st, 0, sizeof(*st));
		memcpy(st->id, s->trace_id, 16);
		st->first_ns = now_ns;
	}
	if (st->shown) {
		s->late = 1;
		if (!st->pending_late)
			st->first_ns = now_ns; /* the addition's own bound */
		st->pending_late++;
	}
	st->last_ns = now_ns;
	st->n_spans++;
	at_traces_push(a->t, s);
	a->dirty = 1;
}

void at_assembly_add_request(struct at_assembly *a, const at_otlp_request *req,
			     uint64_t now_ns)
{
	struct at_traces *tmp = at_traces_new();
	size_t i;

	at_traces_add_request(tmp, req);
	for (i = 0; i < tmp->n_all; i++)
		at_assembly_push(a, tmp->all[i], now_ns);
	tmp->n_all = 0;
	at_traces_free(tmp);
}

static void rebuild(struct at_assembly *a)
{
	if (!a->dirty)
		return;
	at_traces_build(a->t);
	a->dirty = 0;
}

const struct at_traces *at_assembly_traces(struct at_assembly *a)
{
	rebuild(a);
	return a->t;
}

static int ready(const struct at_assembly *a, const struct asm_trace *st,
		 const struct at_tv_trace *tr, uint64_t now_ns, int force)
{
	if (st->shown && !st->pending_late)
		return 0;
	if (force)
		return 1;
	if (now_ns < st->last_ns)
		return 0;
	if (now_ns - st->first_ns >= a->bound_ns)
		return 1;
	return now_ns - st->last_ns >= a->quiet_ns && !tr->missing_parents;
}

static void mark_shown(struct at_assembly *a, struct asm_trace *st,
		       const struct at_tv_trace *tr)
{
	size_t i;

	for (i = 0; i < tr->n_spans; i++)
		if (tr->spans[i]->late == 1)
			tr->spans[i]->late = 2;
	(void)a;
	st->shown = 1;
	st->pending_late = 0;
}

static void forget(struct at_assembly *a, size_t idx)
{
	at_traces_drop_trace(a->t, a->tr[idx].id);
	a->tr[idx] = a->tr[--a->n_tr];
	a->dirty = 1;
}

static size_t total_spans(const struct at_assembly *a)
{
	return a->t->n_all;
}

/* The oldest (first arrival) trace with shown == want, or n_tr. */
static size_t oldest(const struct at_assembly *a, int want)
{
	size_t i, best = a->n_tr;

	for (i = 0; i < a->n_tr; i++)
		if (a->tr[i].shown == want && (best == a->n_tr ||
		    a->tr[i].first_ns < a->tr[best].first_ns ||
		    (a->tr[i].first_ns == a->tr[best].first_ns &&
		     memcmp(a->tr[i].id, a->tr[best].id, 16) < 0)))
			best = i;
	return best;
}

static size_t show_ready(struct at_assembly *a, uint64_t now_ns,
			 at_assembly_show_fn *fn, void *ud, int force_all,
			 const uint8_t *force_id)
{
	size_t i, n = 0;

	rebuild(a);
	for (i = 0; i < a->t->n_traces; i++) {
		const struct at_tv_trace *tr = &a->t->traces[i];
		struct asm_trace *st = find_trace(a, tr->trace_id);
		int force = force_all ||
			    (force_id && !memcmp(force_id, tr->trace_id, 16));

		if (!st || !ready(a, st, tr, now_ns, force))
			continue;
		if (fn)
			fn(a->t, tr, st->shown, ud);
		mark_shown(a, st, tr);
		n++;
	}
	return n;
}

size_t at_assembly_poll(struct at_assembly *a, uint64_t now_ns,
			at_assembly_show_fn *fn, void *ud)
{
	size_t n = show_ready(a, now_ns, fn, ud, 0, NULL);

	/* bounds: forget the oldest shown traces, then show (and later
	 * forget) the oldest unshown ones */
	while (a->n_tr > a->max_traces || total_spans(a) > a->max_spans) {
		size_t k = oldest(a, 1);

		if (k < a->n_tr) {
			forget(a, k);
			continue;
		}
		k = oldest(a, 0);
		if (k >= a->n_tr)
			break;
		{
			uint8_t id[16];

			memcpy(id, a->tr[k].id, 16);
			n += show_ready(a, now_ns, fn, ud, 0, id);
			k = oldest(a, 1);
			if (k < a->n_tr)
				forget(a, k);
			else
				break;
		}
	}
	return n;
}

size_t at_assembly_flush(struct at_assembly *a, at_assembly_show_fn *fn,
			 void *ud)
{
	return show_ready(a, 0, fn, ud, 1, NULL);
}
