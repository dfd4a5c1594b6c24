/*
 * at_exporter.h - the background exporter thread (the batch span processor).
 *
 * Started lazily by the first span that is enqueued (so processes that make
 * no spans never get a thread), after fork again in the child.  It wakes
 * every OTEL_BSP_SCHEDULE_DELAY, or early when a producer's ring crosses
 * half full, drains every thread's ring in batches of at most
 * OTEL_BSP_MAX_EXPORT_BATCH_SIZE, encodes each batch as OTLP/protobuf and
 * POSTs it, retrying as the OTLP specification says (429/502/503/504 and
 * connection failures, exponential backoff with jitter, Retry-After) within
 * OTEL_BSP_EXPORT_TIMEOUT, then drops and counts.
 *
 * With AUTOTRACE_SPOOL_DIR, a batch that runs out of attempts (or cannot
 * be sent before the exit deadline) is written to the spool directory
 * instead of being dropped, and the thread sends spooled files - its own
 * or other processes' - once the collector answers (at_spool.h).
 *
 * At exit (and before an exec) the library asks for a final flush and
 * waits for it at most min(AUTOTRACE_EXIT_TIMEOUT, OTEL_BSP_EXPORT_TIMEOUT).
 * That flush never backs off: a collector that refuses, resets, answers
 * something that is not HTTP or stays silent for
 * AT_TRANSPORT_EXIT_SILENCE_MS is given up at once, and what it had not
 * taken is spooled or dropped and counted; one that keeps answering is fed
 * until the bound.  A stuck exporter is never joined.
 */
#ifndef AT_EXPORTER_H
#define AT_EXPORTER_H

#include <stdatomic.h>
#include <stdint.h>
#include "at_testing.h"

/* Counters of the export side, printed by AUTOTRACE_DEBUG. */
struct at_export_stats {
	_Atomic uint64_t exported;        /* spans accepted by the collector */
	_Atomic uint64_t rejected;        /* spans rejected (partial success) */
	_Atomic uint64_t dropped_failed;  /* spans in batches that failed */
	_Atomic uint64_t dropped_disabled;/* OTEL_TRACES_EXPORTER=none */
	_Atomic uint64_t dropped_nomem;   /* no thread state / encode failed */
	_Atomic uint64_t dropped_exit;    /* queued or under way when the
					   * exit flush stopped waiting */
	_Atomic uint64_t attempts;        /* HTTP requests tried */
	_Atomic uint64_t failures;        /* attempts that failed */
	_Atomic uint64_t retries;         /* attempts that were retries */
	_Atomic uint64_t spooled;         /* spans written to the spool */
	_Atomic uint64_t unspooled;       /* spooled spans delivered by us */
};

extern struct at_export_stats at_xstats;

/* Flush everything queued now and wait at most timeout_ms.  Returns 0 when
 * the flush completed, -1 on timeout or when no exporter could run. */
int at_exporter_flush(uint32_t timeout_ms);

/* Library destructor: final flush within the exit bound, then the
 * AUTOTRACE_DEBUG report. */
void at_exporter_at_exit(void);

/* exec hooks (not in a vfork child): the same final flush, then back to
 * normal in case the exec fails. */
void at_exporter_before_exec(void);

/* Initialisation (lifecycle table): register the exporter as the span
 * rings' consumer (at_span.h), so the first span starts the thread. */
void at_exporter_init(void);

/* Fork child: the thread is gone; forget it and its connection (and
 * register again: the child's first span starts a thread of its own). */
void at_exporter_after_fork_child(void);

/*
 * Tests and benchmarks: never start the thread; the caller drives exports
 * with at_exporter_run_once() on its own thread.
 */
AT_TESTING void at_exporter_manual(void);
/* Drain every ring and export now, on the calling thread (which must not
 * race with a running exporter thread).  Returns the spans exported. */
uint64_t at_exporter_run_once(void);

/* Counters of every thread, live or reaped: started, sampled,
 * dropped_full, dropped_depth. */
void at_exporter_thread_stats(uint64_t out[4]);

/* The exporter socket's number, -1, or AT_EXPORTER_FD_OPENING while the
 * exporter is between announcing a socket and publishing its number: a
 * hint for the close() hook's fast path (a match is confirmed by
 * at_exporter_owns_fd). */
extern _Atomic int at_exporter_fd;
#define AT_EXPORTER_FD_OPENING (-2)

/* Is fd the exporter's socket?  (close() hook; waits, bounded, while the
 * exporter is opening one, so a number it is about to get is never
 * closed under it) */
int at_exporter_owns_fd(int fd);

/* at_exporter_fd once no socket is being opened (bounded wait). */
int at_exporter_settled_fd(void);

#endif
