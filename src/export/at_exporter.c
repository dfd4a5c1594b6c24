/*
 * at_exporter.c - the exporter thread: batching, encoding, sending,
 * retrying, and the exit flush.
 *
 * DESIGN
 *
 * What runs here.  Everything that is slow or may block: walking the
 * threads' rings, copying records into a batch, OTLP encoding (protobuf,
 * or JSON with OTEL_EXPORTER_OTLP_PROTOCOL=http/json), gzip,
 * name resolution and the HTTP exchange with the collector.  The host's
 * threads only ever append to their own ring (at_span.c).
 *
 * Waking.  The thread sleeps on a futex word with a timeout of
 * OTEL_BSP_SCHEDULE_DELAY.  A producer whose ring holds an export batch
 * (OTEL_BSP_MAX_EXPORT_BATCH_SIZE records) or a quarter of its bytes sets
 * the word and wakes it - one system call, and only when the word was
 * clear, so a burst costs one wake per exporter cycle, not one per span.
 * The marks are that high because every cycle costs the host: a busy
 * keep-alive client (wrk -t1 -c1 against nginx, a span per request) woken
 * at a sixteenth of its ring made a cycle, a wake-up and a POST every 46
 * spans, 6 context switches per 100 requests on top of the client's one
 * per request; at these marks, under 1.
 *
 * Batching.  A cycle drains every ring, round-robin from a rotating start
 * so that no thread starves, into batches of at most
 * OTEL_BSP_MAX_EXPORT_BATCH_SIZE records; each record is encoded
 * (OTLP/protobuf, at_otlp_add) where it lies in its ring and popped at
 * once, so ring space is released before the (slow) export and no record
 * is copied.  (Copying every record out first and encoding the copies
 * cost about 145 instructions a span more, in a keep-alive client's real
 * process.)  JSON, whose encoder takes the whole batch, and a batch the
 * exit flush drops unencoded still copy the records out.  One request
 * per batch.
 *
 * Retrying.  Per the OTLP spec (at_retry.c), within OTEL_BSP_EXPORT_TIMEOUT
 * per batch; each attempt within OTEL_EXPORTER_OTLP_TIMEOUT.  Waiting
 * between attempts is a futex wait on exit_word, so the exit flush can
 * cut it short.  A batch that runs out of attempts or time is dropped and
 * counted; while the exporter retries, producers keep filling their rings
 * and drop (and count) when those are full - they never wait for the
 * collector.
 *
 * Spool.  With AUTOTRACE_SPOOL_DIR, a batch that runs out of retryable
 * attempts is written to the spool directory (at_spool.c) instead of being
 * dropped.  The thread sends spooled files (of any process) one attempt
 * each: right after the collector answers again, and otherwise every
 * SPOOL_SCAN_MS; never during the exit flush.
 *
 * Exit (and exec).  The library destructor, or an exec hook, publishes the
 * exit deadline (now + min(AUTOTRACE_EXIT_TIMEOUT,
 * OTEL_BSP_EXPORT_TIMEOUT)), bumps exit_word and flush_req, wakes the
 * thread and waits on flush_done until the deadline.  From then on the
 * exit rules hold: a backoff under way ends for one last attempt, a
 * failed attempt is not retried (unless the collector answered
 * Retry-After: 0, which asks for no wait), the transport (through
 * exit_limit) ends any exchange - one already under way too - after
 * AT_TRANSPORT_EXIT_SILENCE_MS without progress and at the deadline less
 * a reserve (50 ms to spool, 10 ms to count), and a collector that could
 * not be reached or did not answer HTTP in time is not tried again: the
 * rest is spooled, or dropped and counted, without trying.  A collector
 * that answers is fed until the reserve.  The spans of the batch in hand
 * (`held`) are counted by whoever claims them first: the exporter when it
 * is done with them, or the destructor, which counts what the flush did
 * not reach - that batch and what is still in the rings - as
 * unsent_at_exit.  After an exec hook's flush the deadline is cleared:
 * if the exec fails, the exporter goes on as before.  The thread is never
 * joined: if it is stuck, process exit simply ends it.
 *
 * https.  The transport runs the exchange inside TLS (at_tls_client.c).
 * A TLS failure of the settings or of the collector's certificate (no
 * libssl, a CA or client file that does not load, a certificate not
 * trusted, a handshake refused) says so in one line the first time each
 * kind happens (not per batch, whatever AUTOTRACE_DEBUG says), and the
 * batch is not retried (the same settings would fail the same way): it
 * is spooled when the spool is on, else counted in export_failed.  At
 * exit the TLS module may run the exec flush (at_exporter_before_exec)
 * from an atexit handler, before the program's OpenSSL cleanup; what the
 * destructor's flush has left then cannot go over TLS (AT_TLS_ESTOPPED)
 * and is spooled or counted.
 *
 * The first span starts the thread (at_exporter_ensure_started, on the
 * host's thread), and with an https endpoint loads libssl first
 * (at_tls_preload: see at_tls_client.c for why then).
 *
 * Fork.  The child has no exporter thread: the child handler forgets it
 * (running = 0), drops the inherited connection and resets the counters;
 * the child's first span starts a new thread.  The reap lock is
 * re-initialised, since the parent's exporter may have held it.
 *
 * Signals.  The thread is created with every signal blocked, so the host's
 * handlers never run on it, and it holds the reentrancy guard for its whole
 * life, so nothing it does is traced.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "at_clock.h"
#include "at_config.h"
#include "at_context.h"
#include "at_exporter.h"
#include "at_gzip.h"
#include "at_guard.h"
#include "at_log.h"
#include "at_otlp.h"
#include "at_otlp_json.h"
#include "at_real.h"
#include "at_resource.h"
#include "at_retry.h"
#include "at_span.h"
#include "at_spool.h"
#include "at_thread.h"
#include "at_tls_client.h"
#include "at_transport.h"

struct at_export_stats at_xstats;

enum { EXP_IDLE = 0, EXP_RUNNING, EXP_FAILED };

static _Atomic int running;
static _Atomic uint32_t wake_word;   /* 1: work requested */
static _Atomic uint32_t flush_req;   /* flush requests made */
static _Atomic uint32_t flush_done;  /* flush requests completed */
static _Atomic uint32_t exit_word;   /* bumped when exit_deadline is set */
static _Atomic uint64_t exit_deadline; /* monotonic ns, 0: none */
static _Atomic uint64_t held; /* spans taken from the rings, not yet counted */
_Atomic int at_exporter_fd = -1;   /* published for the close() hook */
static _Atomic uint64_t exporter_dev;
static _Atomic uint64_t exporter_ino;

static pthread_mutex_t reap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct at_thread_stats reaped;

/* Exporter-thread-only state. */
static struct at_transport transport;
static struct at_resource resource;
static pid_t resource_pid;
static struct at_buf batch;
static struct at_buf body;
static struct at_buf gz;
static struct at_transport_response resp;
static size_t *rec_off;
static const struct at_span_hdr **recs;
static size_t rec_cap;
static unsigned rotate;
static struct at_rng jitter;
static struct at_spool spool;
static int spool_on;
static int exit_collector_down;  /* a batch failed during the exit flush */
static int live_failed;          /* the last live batch was not delivered */
static uint64_t spool_next_scan; /* monotonic ns */
static struct at_buf spooled_body;
static struct at_tls_files tls_files;
static unsigned tls_said; /* the TLS failures already told (bit per kind) */

#define SPOOL_SCAN_MS 5000u
#define SPOOL_EXIT_RESERVE_NS 50000000u /* time kept to spool at exit */
#define EXIT_RESERVE_NS 10000000u       /* time kept to count at exit */
#define SPOOL_FILES_PER_CYCLE 16

static long futex(_Atomic uint32_t *w, int op, uint32_t val,
		  const struct timespec *ts)
{
	return AT_REAL(syscall)(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

static void futex_wait_ns(_Atomic uint32_t *w, uint32_t val, uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };
	futex(w, FUTEX_WAIT_PRIVATE, val, &ts);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
	futex(w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

/* A producer filled its ring past half: wake the exporter (rarely called;
 * costs a futex wake when the exporter sleeps). */
static void at_exporter_wake(void)
{
	if (atomic_load_explicit(&wake_word, memory_order_relaxed) == 0) {
		atomic_store_explicit(&wake_word, 1, memory_order_release);
		futex_wake_all(&wake_word);
	}
}

/* The exporter announces a socket before socket() and publishes its
 * number right after (announce_socket): a few microseconds, on its own
 * thread.  A host close() meanwhile waits for the number, at most about
 * SETTLE_YIELDS yields (a stopped exporter thread cannot hold it up). */
#define SETTLE_YIELDS 100000

int at_exporter_settled_fd(void)
{
	int efd = atomic_load(&at_exporter_fd);

	for (int i = 0; efd == AT_EXPORTER_FD_OPENING && i < SETTLE_YIELDS;
	     i++) {
		sched_yield();
		efd = atomic_load(&at_exporter_fd);
	}
	return efd;
}

static void announce_socket(int fd, dev_t dev, ino_t ino)
{
	_Static_assert(AT_EXPORTER_FD_OPENING == AT_TRANSPORT_OPENING,
		       "one value for a socket being opened");
	if (fd >= 0) {
		atomic_store(&exporter_dev, (uint64_t)dev);
		atomic_store(&exporter_ino, (uint64_t)ino);
	}
	atomic_store(&at_exporter_fd, fd);
}

int at_exporter_owns_fd(int fd)
{
	struct stat st;
	int efd = atomic_load_explicit(&at_exporter_fd, memory_order_relaxed);

	if (AT_UNLIKELY(efd == AT_EXPORTER_FD_OPENING))
		efd = at_exporter_settled_fd();
	if (AT_LIKELY(fd != efd) || fd < 0)
		return 0;
	/* Same number: is it still our socket? */
	return fstat(fd, &st) == 0 &&
	       (uint64_t)st.st_dev == atomic_load(&exporter_dev) &&
	       (uint64_t)st.st_ino == atomic_load(&exporter_ino);
}

/* ---- batching ---- */

static int ensure_rec_cap(size_t n)
{
	if (n <= rec_cap)
		return 0;
	size_t cap = rec_cap ? rec_cap * 2 : 256;
	while (cap < n)
		cap *= 2;
	size_t *o = realloc(rec_off, cap * sizeof(*o));
	if (!o)
		return -1;
	rec_off = o;
	const struct at_span_hdr **r = realloc(recs, cap * sizeof(*r));
	if (!r)
		return -1;
	recs = r;
	rec_cap = cap;
	return 0;
}

/* The resource of this process (built again in a fork child). */
static void resource_current(void)
{
	if (resource_pid != getpid()) {
		resource_pid = getpid();
		at_resource_build(&resource, &at_cfg, resource_pid);
	}
}

/*
 * Where a batch's records go as they leave the rings: encoded at once
 * into `body` as OTLP/protobuf (req), or copied into `batch` (recs) for
 * an encoder that needs them all (JSON) or when nothing is to be encoded.
 */
struct sink {
	int encode;          /* into req, else copied */
	int failed;          /* memory ran out */
	struct at_otlp_req req;
};

/* Copy record r (n records taken before it) into the batch: 0, or -1 if
 * there was no memory (it is counted and dropped). */
static int copy_out(const struct at_span_hdr *r, size_t n)
{
	rec_off[n] = batch.len;
	if (at_buf_append(&batch, r, r->rec_size)) {
		atomic_fetch_add(&at_xstats.dropped_nomem, 1);
		return -1;
	}
	return 0;
}

/*
 * Encode ring's records into k's request while n < max (n records taken
 * before them); returns the new n.  collect()'s loop for OTLP/protobuf,
 * which pays per record only the peek, the encoding, `held` and the pop:
 * the record that could not be encoded (no memory) is counted as taken
 * and ends the batch (dropped by export_batch).
 */
static size_t encode_ring(struct at_ring *ring, struct sink *k, size_t n,
			  size_t max)
{
	const struct at_span_hdr *r;

	while (n < max && (r = at_ring_peek(ring))) {
		int bad = at_otlp_add(&k->req, r) < 0;

		/* Before the pop (whose release store orders it): never in
		 * neither. */
		atomic_store_explicit(&held, ++n, memory_order_relaxed);
		at_ring_pop_rec(ring, r);
		if (AT_UNLIKELY(bad)) {
			k->failed = 1;
			break;
		}
	}
	return n;
}

/* Move up to max records from the rings into the batch (sink k).
 * Returns how many. */
static size_t collect(size_t max, struct sink *k)
{
	struct at_thread *head = at_thread_registry(), *t;
	size_t n = 0, nthreads = 0, skip;

	at_buf_reset(&batch);
	for (t = head; t; t = t->next)
		nthreads++;
	if (!nthreads || ensure_rec_cap(max) != 0)
		return 0;
	k->failed = 0;
	if (k->encode) {
		resource_current();
		at_buf_reset(&body);
		if (at_otlp_begin(&k->req, max, &resource, &body) < 0)
			return 0;
	}
	skip = rotate++ % nthreads;
	for (size_t pass = 0; pass < 2 && n < max && !k->failed; pass++) {
		size_t i = 0;
		for (t = head; t && n < max && !k->failed; t = t->next, i++) {
			const struct at_span_hdr *r;

			if ((pass == 0) != (i >= skip))
				continue;
			if (k->encode) {
				n = encode_ring(&t->ring, k, n, max);
				continue;
			}
			while (n < max && (r = at_ring_peek(&t->ring))) {
				if (copy_out(r, n) == 0) {
					n++;
					/* Before the pop: never in neither. */
					atomic_store(&held, n);
				}
				at_ring_pop(&t->ring);
			}
		}
	}
	if (k->encode && !k->failed && at_otlp_finish(&k->req) < 0)
		k->failed = 1;
	if (!k->encode)
		for (size_t i = 0; i < n; i++)
			recs[i] = (const struct at_span_hdr *)(const void *)(
				batch.data + rec_off[i]);
	return n;
}

/* ---- sending ---- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* When an exchange must end because the process is exiting (the exit
 * deadline less the time kept to spool or count what is left), or 0. */
static uint64_t exit_limit(void)
{
	uint64_t ex = atomic_load(&exit_deadline);
	uint64_t keep = spool_on ? SPOOL_EXIT_RESERVE_NS : EXIT_RESERVE_NS;

	if (!ex)
		return 0;
	return ex > keep + 1 ? ex - keep : 1;
}

/* Sleep until `until` (monotonic ns); the exit flush cuts the sleep
 * short.  Returns 0 (attempt now), or -1 if the batch must be given up
 * (the wait would pass budget_end). */
static int backoff_sleep(uint64_t until, uint64_t budget_end)
{
	for (;;) {
		uint32_t seen = atomic_load(&exit_word);
		uint64_t now = at_mono_ns();

		if (atomic_load(&exit_deadline))
			return 0; /* no backoff at exit: one last attempt */
		if (until > budget_end)
			return -1;
		if (now >= until)
			return 0;
		futex_wait_ns(&exit_word, seen, until - now);
	}
}

/* The spans of the batch being exported are counted by whoever takes
 * them first: the exporter when it is done with the batch, or the exit
 * report when the process stopped waiting for it (at_exporter_at_exit). */
static int claim_held(void)
{
	return atomic_exchange(&held, 0) != 0;
}

/* Gzip the body if configured.  Sets *payload, *len, *encoding. */
static void compress_body(const struct at_buf *b, const uint8_t **payload,
			  size_t *len, const char **encoding)
{
	*payload = b->data;
	*len = b->len;
	*encoding = NULL;
	if (at_cfg.compression == AT_COMPRESSION_GZIP &&
	    at_gzip_compress(b->data, b->len, &gz) == 0) {
		*payload = gz.data;
		*len = gz.len;
		*encoding = "gzip";
	}
}

/* One POST (the transport keeps the close() hook's view of our socket
 * current through announce_socket). */
static enum at_retry_verdict post_once(const uint8_t *payload, size_t len,
				       const char *encoding, uint64_t end,
				       int *rc)
{
	atomic_fetch_add(&at_xstats.attempts, 1);
	*rc = at_transport_post(&transport, payload, len, encoding, end, &resp);
	return at_retry_classify(*rc, resp.status);
}

/* A 2xx answer to a request of n spans: count the accepted ones (unless
 * held spans were claimed by the exit report). */
static void count_accepted(uint64_t n, _Atomic uint64_t *counter,
			   int held_spans)
{
	int64_t rejected = 0;
	char msg[256] = "";

	if (held_spans && !claim_held())
		return;
	if (at_cfg.otlp_protocol == AT_OTLP_HTTP_PROTOBUF)
		at_otlp_parse_response(resp.body.data, resp.body.len,
				       &rejected, msg, sizeof(msg));
	if (rejected < 0 || (uint64_t)rejected > n)
		rejected = (int64_t)n;
	atomic_fetch_add(counter, n - (uint64_t)rejected);
	atomic_fetch_add(&at_xstats.rejected, (uint64_t)rejected);
	if (rejected && at_cfg.debug)
		at_log_warn("collector rejected %lld spans: %s",
			    (long long)rejected, msg);
}

/* A TLS failure: one line the first time each kind happens. */
static void tell_tls_failure(int rc)
{
	static const int kinds[] = { AT_TLS_ENOLIB, AT_TLS_ESETUP,
				     AT_TLS_EVERIFY, AT_TLS_EPROTO };
	unsigned bit = 0;

	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (rc == kinds[i])
			bit = 1u << i;
	if (!bit || (tls_said & bit))
		return;
	tls_said |= bit;
	at_log_warn("export to %s refused: %s; spans are %s", at_cfg.endpoint.url,
		    at_tls_error(),
		    spool_on ? "spooled" : "counted as export failures");
}

static void log_failure(int rc)
{
	atomic_fetch_add(&at_xstats.failures, 1);
	tell_tls_failure(rc);
	if (!at_cfg.debug)
		return;
	if (rc)
		at_log_warn("export to %s failed: %s", at_cfg.endpoint.url,
			    at_tls_error_final(rc) ? at_tls_error()
						   : strerror(-rc));
	else
		at_log_warn("export to %s failed: HTTP %d", at_cfg.endpoint.url,
			    resp.status);
}

/* The batch in `body` (n spans) could not be delivered. */
static void give_up(size_t n, enum at_retry_verdict v)
{
	if (!claim_held())
		return;
	if (v == AT_RETRY_AGAIN && spool_on &&
	    at_spool_put(&spool, body.data, body.len, n) == 0) {
		atomic_fetch_add(&at_xstats.spooled, n);
		return;
	}
	atomic_fetch_add(&at_xstats.dropped_failed, n);
}

/* At exit, once the collector proved unusable (refused, reset, answered
 * garbage or nothing), it is not tried again: the rest is spooled or
 * dropped at once. */
static int exit_skips_collector(void)
{
	return exit_collector_down && atomic_load(&exit_deadline);
}

/* Export the batch of n spans that collect() took with sink k. */
static void export_batch(size_t n, const struct sink *k)
{
	const uint8_t *payload;
	size_t payload_len;
	const char *encoding;
	uint64_t start = at_mono_ns();
	uint64_t budget_end = start +
			      (uint64_t)at_cfg.bsp_export_timeout_ms * 1000000u;
	enum at_retry_verdict v = AT_RETRY_AGAIN;

	if (!k->encode && !spool_on && exit_skips_collector()) {
		give_up(n, v); /* nothing to encode: counted as dropped */
		return;
	}
	if (!k->encode) {
		resource_current();
		at_buf_reset(&body);
	}
	if (k->encode ? k->failed :
	    (at_cfg.otlp_protocol == AT_OTLP_HTTP_JSON ?
		     at_otlp_json_encode(recs, n, &resource, &body) :
		     at_otlp_encode(recs, n, &resource, &body)) != 0) {
		if (claim_held())
			atomic_fetch_add(&at_xstats.dropped_nomem, n);
		return;
	}
	if (exit_skips_collector()) {
		give_up(n, v);
		return;
	}
	compress_body(&body, &payload, &payload_len, &encoding);

	for (unsigned attempt = 1;; attempt++) {
		uint64_t now = at_mono_ns();
		uint64_t ex = exit_limit();
		uint64_t end = min_u64(budget_end,
				       now + (uint64_t)at_cfg.export_timeout_ms *
						     1000000u);
		uint64_t delay_ms;
		int rc;

		if (ex && now >= ex) {
			exit_collector_down = 1; /* no time left for answers */
			break;
		}
		if (attempt > 1)
			atomic_fetch_add(&at_xstats.retries, 1);
		v = post_once(payload, payload_len, encoding, end, &rc);
		if (v == AT_RETRY_DONE) {
			count_accepted(n, &at_xstats.exported, 1);
			if (live_failed)
				spool_next_scan = 0; /* it is back: send now */
			live_failed = 0;
			return;
		}
		log_failure(rc);
		if (at_tls_error_final(rc))
			break; /* the same settings fail the same way */
		/* At exit: no backoff, so no retry - but for an answer that
		 * asks for none (Retry-After: 0); a collector that could not
		 * be reached or did not answer HTTP in time is not tried
		 * again before the process ends. */
		if (atomic_load(&exit_deadline)) {
			if (rc != 0)
				exit_collector_down = 1;
			if (rc == 0 && v == AT_RETRY_AGAIN &&
			    resp.retry_after_ms == 0 &&
			    attempt < AT_RETRY_MAX_ATTEMPTS)
				continue;
			break;
		}
		if (v == AT_RETRY_FAIL || attempt >= AT_RETRY_MAX_ATTEMPTS)
			break;
		if (rc == 0 && resp.retry_after_ms >= 0)
			delay_ms = (uint64_t)resp.retry_after_ms;
		else
			delay_ms = at_retry_backoff_ms(attempt,
						       at_rng_next(&jitter));
		if (backoff_sleep(at_mono_ns() + delay_ms * 1000000u,
				  budget_end) != 0)
			break;
	}
	live_failed = 1;
	give_up(n, v);
}

/* Send spooled requests, one attempt each, while the collector takes
 * them.  Exporter thread only, never during the exit flush. */
static void deliver_spool(void)
{
	struct at_spool_claim c;
	uint64_t now = at_mono_ns();

	if (!spool_on || now < spool_next_scan || atomic_load(&exit_deadline))
		return;
	spool_next_scan = now + (uint64_t)SPOOL_SCAN_MS * 1000000u;
	for (int i = 0; i < SPOOL_FILES_PER_CYCLE; i++) {
		const uint8_t *payload;
		size_t len;
		const char *encoding;
		enum at_retry_verdict v;
		int rc;

		if (atomic_load(&exit_deadline) ||
		    at_spool_take(&spool, &spooled_body, &c) != 1)
			return;
		compress_body(&spooled_body, &payload, &len, &encoding);
		v = post_once(payload, len, encoding,
			      at_mono_ns() + (uint64_t)at_cfg.export_timeout_ms *
						     1000000u,
			      &rc);
		if (v == AT_RETRY_AGAIN) {
			log_failure(rc);
			at_spool_release(&spool, &c);
			return;
		}
		if (v == AT_RETRY_DONE)
			count_accepted(c.spans, &at_xstats.unspooled, 0);
		else
			log_failure(rc); /* refused for good: not retried */
		at_spool_done(&spool, &c);
	}
	spool_next_scan = 0; /* more may be waiting: next cycle at once */
	at_exporter_wake();
}

/* Unmap the states of exited threads whose rings are empty. */
static void reap(void)
{
	pthread_mutex_lock(&reap_lock);
	at_thread_reap(&reaped);
	pthread_mutex_unlock(&reap_lock);
}

/* Export until the rings are empty.  States drained by a batch are freed
 * after it, not only at the end: with a slow collector the end may be far
 * off, and the threads that exited meanwhile hold states (and their
 * share of AT_THREAD_MAX_STATES). */
static void drain(void)
{
	size_t max = at_cfg.bsp_max_export_batch ? at_cfg.bsp_max_export_batch
						 : 512;
	for (;;) {
		struct sink k;
		size_t n;

		/* OTLP/protobuf is encoded as the records leave the rings,
		 * unless the batch is to be dropped unencoded (exit). */
		k.encode = at_cfg.otlp_protocol == AT_OTLP_HTTP_PROTOBUF &&
			   (spool_on || !exit_skips_collector());
		n = collect(max, &k);
		if (n == 0)
			break;
		export_batch(n, &k);
		atomic_store(&held, 0); /* counted (by us or the exit report) */
		reap();
		if (n < max)
			break;
	}
	reap();
}

static void exporter_setup(void)
{
	char why[160];

	at_rng_seed(&jitter);
	if (at_cfg.spool_dir[0] && !spool.dir) {
		at_spool_init(&spool, at_cfg.spool_dir,
			      (uint64_t)at_cfg.spool_max_mb << 20);
		spool_on = at_spool_ready(&spool, why, sizeof(why)) == 0;
		if (!spool_on)
			at_log_warn("AUTOTRACE_SPOOL_DIR=%s: %s; not spooling",
				    at_cfg.spool_dir, why);
	}
	if (!transport.ep) {
		at_transport_init(&transport, &at_cfg.endpoint,
				  at_cfg.headers);
		transport.exit_limit = exit_limit;
		transport.announce = announce_socket;
		if (at_cfg.otlp_protocol == AT_OTLP_HTTP_JSON)
			transport.content_type = AT_OTLP_JSON_CONTENT_TYPE;
		tls_files.ca_file = at_cfg.tls_ca_file;
		tls_files.cert_file = at_cfg.tls_client_cert;
		tls_files.key_file = at_cfg.tls_client_key;
		transport.tls_files = &tls_files;
	}
}

AT_TESTING void at_exporter_manual(void)
{
	atomic_store(&running, EXP_FAILED);
}

uint64_t at_exporter_run_once(void)
{
	uint64_t before = atomic_load(&at_xstats.exported);

	at_guard_enter();
	exporter_setup();
	at_clock_sync();
	drain();
	at_guard_leave();
	return atomic_load(&at_xstats.exported) - before;
}

static void *exporter_main(void *arg)
{
	(void)arg;
	at_guard_enter(); /* nothing on this thread is ever traced */
	pthread_setname_np(pthread_self(), "autotrace-exp");
	exporter_setup();

	for (;;) {
		uint32_t req = atomic_load(&flush_req);

		if (req == atomic_load(&flush_done) &&
		    atomic_load(&wake_word) == 0)
			futex_wait_ns(&wake_word, 0,
				      (uint64_t)at_cfg.bsp_schedule_delay_ms *
					      1000000u);
		atomic_store(&wake_word, 0);
		if (!atomic_load(&exit_deadline))
			exit_collector_down = 0; /* an exec failed: go on */
		at_clock_sync();
		drain();
		deliver_spool();
		if (req != atomic_load(&flush_done)) {
			atomic_store(&flush_done, req);
			futex_wake_all(&flush_done);
		}
	}
	return NULL;
}

/* Make sure the exporter thread runs (the first span).  Cheap when it does. */
static void at_exporter_ensure_started(void)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int expected = EXP_IDLE, rc;

	if (AT_LIKELY(atomic_load_explicit(&running, memory_order_relaxed) !=
		      EXP_IDLE))
		return;
	if (!atomic_compare_exchange_strong(&running, &expected, EXP_RUNNING))
		return;
	/* https: libssl is loaded here, on the host's thread, not by the
	 * exporter thread, so that it is whole before the program can exit
	 * (at_tls_client.c: OpenSSL's exit); a process without spans never
	 * loads it. */
	if (at_cfg.endpoint.tls) {
		/* The program's OpenSSL may be cleaned up by its atexit
		 * handler before our destructor: flush before. */
		at_tls_on_exit(at_exporter_before_exec);
		at_tls_preload();
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = AT_REAL(pthread_create)(&th, &attr, exporter_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		atomic_store(&running, EXP_FAILED);
		if (at_cfg.debug)
			at_log_warn("cannot start the exporter thread: %s",
				    strerror(rc));
	}
}

/* Spans waiting in the rings (a snapshot). */
static uint64_t queued_spans(void)
{
	uint64_t n = 0;

	pthread_mutex_lock(&reap_lock);
	for (struct at_thread *t = at_thread_registry(); t; t = t->next)
		n += at_ring_queued(&t->ring);
	pthread_mutex_unlock(&reap_lock);
	return n;
}

int at_exporter_flush(uint32_t timeout_ms)
{
	uint64_t deadline = at_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	uint32_t req;

	if (atomic_load(&running) != EXP_RUNNING)
		return -1;
	req = atomic_fetch_add(&flush_req, 1) + 1;
	atomic_store(&wake_word, 1);
	futex_wake_all(&wake_word);
	for (;;) {
		uint32_t done = atomic_load(&flush_done);
		uint64_t now = at_mono_ns();

		if ((int32_t)(done - req) >= 0)
			return 0;
		if (now >= deadline)
			return -1;
		futex_wait_ns(&flush_done, done, deadline - now);
	}
}

void at_exporter_thread_stats(uint64_t out[4])
{
	pthread_mutex_lock(&reap_lock);
	at_thread_stats_sum(&reaped, out);
	pthread_mutex_unlock(&reap_lock);
}

static void report(void)
{
	uint64_t s[4];
	uint64_t dropped;

	at_exporter_thread_stats(s);
	/* The spans the core dropped before a ring are ours to report. */
	atomic_fetch_add(&at_xstats.dropped_disabled,
			 atomic_exchange(&at_span_drops.disabled, 0));
	atomic_fetch_add(&at_xstats.dropped_nomem,
			 atomic_exchange(&at_span_drops.nomem, 0));
	dropped = s[2] + atomic_load(&at_xstats.dropped_failed) +
		  atomic_load(&at_xstats.dropped_disabled) +
		  atomic_load(&at_xstats.dropped_nomem) +
		  atomic_load(&at_xstats.dropped_exit);
	at_log_warn("pid %d: spans started=%llu sampled=%llu exported=%llu "
		    "dropped=%llu (queue_full=%llu export_failed=%llu "
		    "exporter_none=%llu no_memory=%llu unsent_at_exit=%llu) "
		    "rejected=%llu untraced=%llu unparented=%llu "
		    "stack_overflow=%llu thread_limit=%llu spooled=%llu "
		    "unspooled=%llu; export attempts=%llu failures=%llu "
		    "retries=%llu; baggage_dropped=%llu",
		    (int)getpid(), (unsigned long long)s[0],
		    (unsigned long long)s[1],
		    (unsigned long long)atomic_load(&at_xstats.exported),
		    (unsigned long long)dropped, (unsigned long long)s[2],
		    (unsigned long long)atomic_load(&at_xstats.dropped_failed),
		    (unsigned long long)atomic_load(&at_xstats.dropped_disabled),
		    (unsigned long long)atomic_load(&at_xstats.dropped_nomem),
		    (unsigned long long)atomic_load(&at_xstats.dropped_exit),
		    (unsigned long long)atomic_load(&at_xstats.rejected),
		    (unsigned long long)atomic_load(&at_span_drops.untraced),
		    (unsigned long long)atomic_load(&at_context_unparented),
		    (unsigned long long)s[3],
		    (unsigned long long)atomic_load(&at_thread_refused),
		    (unsigned long long)atomic_load(&at_xstats.spooled),
		    (unsigned long long)atomic_load(&at_xstats.unspooled),
		    (unsigned long long)atomic_load(&at_xstats.attempts),
		    (unsigned long long)atomic_load(&at_xstats.failures),
		    (unsigned long long)atomic_load(&at_xstats.retries),
		    (unsigned long long)atomic_load(&at_baggage_dropped));
}

/* The bound of the final flush of a process image. */
static uint32_t final_flush_ms(void)
{
	return at_cfg.bsp_export_timeout_ms < at_cfg.exit_timeout_ms
		       ? at_cfg.bsp_export_timeout_ms
		       : at_cfg.exit_timeout_ms;
}

/*
 * Export what is queued or under way with the exit rules (no backoff,
 * the silence bound, an unusable collector not tried again), waiting at
 * most final_flush_ms().  Returns whether an exporter had anything.
 */
static int final_flush(void)
{
	uint32_t ms = final_flush_ms();
	int state = atomic_load(&running);

	if (state == EXP_IDLE || (!queued_spans() && !atomic_load(&held)))
		return 0;
	atomic_store(&exit_deadline, at_mono_ns() + (uint64_t)ms * 1000000u);
	atomic_fetch_add(&exit_word, 1);
	futex_wake_all(&exit_word);
	if (state == EXP_RUNNING) {
		at_exporter_flush(ms);
	} else {
		/* No exporter thread could be started (or tests run it by
		 * hand): export here, within the same bound. */
		if (at_cfg.debug)
			at_log_warn("no exporter thread: exporting at exit");
		at_exporter_run_once();
	}
	return 1;
}

void at_exporter_at_exit(void)
{
	if (final_flush()) {
		/* What the flush did not reach is lost with the process:
		 * count it (the batch under way only if the exporter has not
		 * counted it already). */
		uint64_t n = queued_spans();

		n += atomic_exchange(&held, 0);
		atomic_fetch_add(&at_xstats.dropped_exit, n);
	}
	if (at_cfg.debug)
		report();
}

void at_exporter_before_exec(void)
{
	final_flush();
	/* The exec may fail and the process go on: back to normal. */
	atomic_store(&exit_deadline, 0);
}

static const struct at_span_consumer consumer = {
	.start = at_exporter_ensure_started,
	.wake = at_exporter_wake,
};

void at_exporter_init(void)
{
	at_span_consumer_set(&consumer);
}

void at_exporter_after_fork_child(void)
{
	pthread_mutex_init(&reap_lock, NULL);
	memset(&reaped, 0, sizeof(reaped));
	memset(&at_xstats, 0, sizeof(at_xstats));
	memset(&at_span_drops, 0, sizeof(at_span_drops));
	atomic_store(&running, EXP_IDLE);
	atomic_store(&wake_word, 0);
	atomic_store(&flush_req, 0);
	atomic_store(&flush_done, 0);
	atomic_store(&exit_deadline, 0);
	atomic_store(&held, 0);
	/* The inherited connection is shared with the parent: close our
	 * copy (the parent's stays open) and never write to it. */
	if (transport.fd >= 0)
		at_transport_after_fork_child(&transport);
	atomic_store(&at_exporter_fd, -1);
	resource_pid = 0;
	at_spool_after_fork(&spool);
	exit_collector_down = 0;
	live_failed = 0;
	spool_next_scan = 0;
	at_span_consumer_set(&consumer);
}
