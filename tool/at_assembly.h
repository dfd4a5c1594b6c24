/*
 * at_assembly.h - when a trace received by `autotrace serve` is complete
 * enough to show, and what arrives after (see at_assembly.c).  Tool-only.
 */
#ifndef AT_ASSEMBLY_H
#define AT_ASSEMBLY_H

#include <stddef.h>
#include <stdint.h>

#include "at_traces.h"

/* The library's default export delay (OTEL_BSP_SCHEDULE_DELAY, ms). */
#define AT_ASM_EXPORT_DELAY_MS 5000
/* A trace is quiet once nothing came for the export delay plus this. */
#define AT_ASM_QUIET_MARGIN_MS 1000
/* ... and shown anyway this many quiet periods after its first span. */
#define AT_ASM_BOUND_FACTOR 5
#define AT_ASM_MAX_TRACES 1000
#define AT_ASM_MAX_SPANS 100000

struct at_assembly_opts {
	uint64_t quiet_ns;   /* 0: (AT_ASM_EXPORT_DELAY_MS + margin) */
	uint64_t bound_ns;   /* 0: AT_ASM_BOUND_FACTOR * quiet */
	size_t max_traces;   /* kept (shown ones too, as history) */
	size_t max_spans;
};

struct at_assembly;

/* Called for each trace to show: addition is 1 when tr was shown before
 * and only its spans with late == 1 are new. */
typedef void at_assembly_show_fn(const struct at_traces *t,
				 const struct at_tv_trace *tr, int addition,
				 void *ud);

struct at_assembly *at_assembly_new(const struct at_assembly_opts *o);
void at_assembly_free(struct at_assembly *a);

/* The quiet period for an export delay of delay_ms (the library's
 * OTEL_BSP_SCHEDULE_DELAY): delay + AT_ASM_QUIET_MARGIN_MS, in ns. */
uint64_t at_assembly_quiet_for(uint64_t delay_ms);

/* Take the spans of req (copied), received at now_ns (monotonic). */
void at_assembly_add_request(struct at_assembly *a, const at_otlp_request *req,
			     uint64_t now_ns);
/* Take s (ownership), received at now_ns. */
void at_assembly_push(struct at_assembly *a, struct at_tv_span *s,
		      uint64_t now_ns);

/*
 * Show what is ready at now_ns: a trace quiet for the quiet period with
 * no span whose announced parent is missing, or one whose first span
 * came a bound ago; late spans of a shown trace the same way, as an
 * addition.  Then forget the oldest shown traces beyond the bounds.
 * Returns the number of traces shown.
 */
size_t at_assembly_poll(struct at_assembly *a, uint64_t now_ns,
			at_assembly_show_fn *fn, void *ud);
/* Show everything not shown yet (at exit). */
size_t at_assembly_flush(struct at_assembly *a, at_assembly_show_fn *fn,
			 void *ud);

/* The model (built), for views such as the live page's /api/: every
 * trace kept, shown or not.  Valid until the next add/poll. */
const struct at_traces *at_assembly_traces(struct at_assembly *a);

#endif
