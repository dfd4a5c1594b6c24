/*
 * at_findings.c - what the autotrace command points out in a trace (see
 * at_traces.h), once its tree is linked and the set's endpoints are
 * known.  Each finding says what, where (the parent or span concerned),
 * how much time it costs and a one-line fix.  A rule that is unsure says
 * nothing: a wrong finding teaches users to ignore them all.
 *
 *  - N+1: >= AT_N1_MIN children of one parent with the same signature
 *    (target + sanitised query text, or target + operation: same route
 *    template, same cache key pattern; connects excluded), one after
 *    another (each starts after the previous one ended).  Cost: their
 *    summed time.
 *  - Parallelisable (AT_FIND_SEQUENTIAL): a run of >= 2 sibling calls one
 *    after another to DIFFERENT targets (so different connections), each
 *    an HTTP request or an SQL SELECT, with no other sibling between them
 *    and no transaction open among the siblings (BEGIN .. COMMIT/
 *    ROLLBACK/END).  Never a connect (its queries need it), never cache
 *    commands (a cache-aside miss decides the next call), never one
 *    connection's statements (same target).  Reported when running them
 *    together would save >= 1 ms and >= 10 % of the parent (cost: sum -
 *    longest).
 *  - Slow: an endpoint span (at_endpoints.c) longer than twice its
 *    endpoint's p90 and >= 1 ms above it, only when the endpoint has
 *    >= AT_SLOW_HISTORY spans in the set.  Cost: its time above the p50.
 *  - Error root cause: per failing span (status ERROR, or HTTP >= 500)
 *    with no failing span under it, the chain of failing spans above it,
 *    deepest first.  Cost: the time of the top of the chain.  At most
 *    AT_ERR_MAX per trace.
 *  - Retry: a failing call (ERROR, HTTP >= 500 or 429) followed by the
 *    same call (signature) under the same parent after it ended; the
 *    chain ends at the first attempt that did not fail.  Cost: the failed
 *    attempts' time.
 *  - Cache misses: under one endpoint span, >= 3 cache lookups
 *    (autotrace.cache.hit, or .hits/.misses counts) of which more than
 *    half missed.  Cost: the time of the sibling spans that follow a
 *    miss before the next lookup (the work a hit would have saved).
 *
 * Every group is sorted with full tie-breaks (signature, then position),
 * so the same spans always give the same findings in the same order.
 * At most AT_FIND_MAX findings per trace.
 * Tool-only: memory is allocated freely and an allocation failure aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "at_traces.h"
#include "at_xalloc.h"

#define AT_N1_MIN 5
#define AT_SLOW_HISTORY 20
#define AT_ERR_MAX 3
#define AT_FIND_MAX 20
#define MS 1000000ull

const char *at_tv_finding_tag(int kind)
{
	static const char *const tags[AT_FIND_KINDS] = {
		"N+1", "parallel", "dominant", "slow", "error", "retry",
		"cache",
	};

	return kind >= 0 && kind < AT_FIND_KINDS ? tags[kind] : "finding";
}

static int failed(const struct at_tv_span *s)
{
	const char *st = at_tv_attr(s, "http.response.status_code");

	return s->status == 2 || (st && atoi(st) >= 500);
}

static struct at_tv_finding *new_finding(struct at_tv_trace *tr, int kind,
					 struct at_tv_span *parent)
{
	struct at_tv_finding *f;

	if (tr->n_findings >= AT_FIND_MAX)
		return NULL;
	tr->findings = at_xrealloc(tr->findings, (tr->n_findings + 1) *
				sizeof(*tr->findings));
	f = &tr->findings[tr->n_findings++];
	memset(f, 0, sizeof(*f));
	f->kind = (enum at_tv_finding_kind)kind;
	f->parent = parent;
	return f;
}

/* "GET /items (backend)": where, for the texts. */
static void where(struct at_buf *b, const struct at_tv_span *s)
{
	char *op = at_tv_span_op(s);

	at_xbuf_str(b, op);
	if (s->service[0] && strcmp(s->service, op) != 0)
		at_xbuf_printf(b, " (%s)", s->service);
	free(op);
}

static void set_spans(struct at_tv_finding *f, struct at_tv_span **s,
		      size_t n)
{
	f->spans = at_xcalloc(n, sizeof(*f->spans));
	memcpy(f->spans, s, n * sizeof(*s));
	f->n_spans = n;
}

/* ---- N+1 ---- */

struct sig_ent {
	char *sig;
	struct at_tv_span *s;
	size_t idx;
};

static int cmp_sig(const void *a, const void *b)
{
	const struct sig_ent *x = a, *y = b;
	int c = strcmp(x->sig, y->sig);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int is_call(const struct at_tv_span *s)
{
	return (s->kind == 3 || at_tv_attr(s, "db.system.name") ||
		at_tv_attr(s, "http.request.method")) &&
	       !at_tv_span_is_connect(s);
}

static const char *n1_fix(const struct at_tv_span *s)
{
	if (at_tv_span_is_cache(s))
		return "fetch the keys in one MGET (or one pipeline) instead "
		       "of one command per key";
	if (at_tv_attr(s, "db.system.name") || at_tv_attr(s, "db.system"))
		return "load the rows in one query (WHERE id IN (...) or a "
		       "JOIN) instead of one query per row";
	return "ask for all of them in one request (a batch endpoint) "
	       "instead of one request per item";
}

static void add_n1(struct at_tv_trace *tr, struct at_tv_span *p,
		   struct sig_ent *e, size_t n)
{
	struct at_tv_finding *f = new_finding(tr, AT_FIND_N_PLUS_ONE, p);
	struct at_buf b = { 0 };
	char dur[32], *what;
	size_t k;

	if (!f)
		return;
	f->spans = at_xcalloc(n, sizeof(*f->spans));
	for (k = 0; k < n; k++) {
		f->spans[f->n_spans++] = e[k].s;
		f->total_ns += at_tv_dur(e[k].s);
	}
	at_tv_fmt_dur(f->total_ns, dur, sizeof(dur));
	what = at_tv_span_what(e[0].s);
	at_xbuf_printf(&b, "%s ran %zu times in a row under ", what, n);
	where(&b, p);
	at_xbuf_printf(&b, ", %s total", dur);
	free(what);
	f->text = at_xbuf_take(&b);
	f->fix = at_xstrdup(n1_fix(e[0].s));
}

static void find_n_plus_one(struct at_tv_trace *tr, struct at_tv_span *p,
			    unsigned char *in_group)
{
	struct sig_ent *e;
	size_t i, j, k, r, m = 0, n = p->n_children;

	e = at_xcalloc(n, sizeof(*e));
	for (i = 0; i < n; i++) {
		if (!is_call(p->children[i]))
			continue;
		e[m].sig = at_tv_span_signature(p->children[i]);
		e[m].s = p->children[i];
		e[m].idx = i;
		m++;
	}
	qsort(e, m, sizeof(*e), cmp_sig);
	for (i = 0; i < m; i = j) {
		for (j = i + 1; j < m && strcmp(e[i].sig, e[j].sig) == 0; j++)
			;
		/* maximal runs, each starting after the previous ended */
		for (k = i; k < j; k = r) {
			for (r = k + 1; r < j && e[r].s->start_ns >=
			     e[r - 1].s->end_ns; r++)
				;
			if (r - k >= AT_N1_MIN) {
				size_t q;

				add_n1(tr, p, e + k, r - k);
				for (q = k; q < r; q++)
					in_group[e[q].idx] = 1;
			}
		}
	}
	for (i = 0; i < m; i++)
		free(e[i].sig);
	free(e);
}

/* ---- parallelisable ---- */

/* The statement's first word or operation, upper-cased, into w. */
static void sql_verb(const struct at_tv_span *s, char *w, size_t cap)
{
	const char *op = at_tv_attr(s, "db.operation.name");
	const char *q = at_tv_attr(s, "db.query.text");
	const char *src = op && *op ? op : q ? q : s->name;
	size_t n = 0;

	while (*src == ' ' || *src == '\t' || *src == '\n' || *src == '(')
		src++;
	while (src[n] && src[n] != ' ' && src[n] != '\t' && src[n] != '\n' &&
	       src[n] != ';' && n + 1 < cap) {
		w[n] = src[n] >= 'a' && src[n] <= 'z' ? src[n] - 32 : src[n];
		n++;
	}
	w[n] = '\0';
}

static int is_sql(const struct at_tv_span *s)
{
	return (at_tv_attr(s, "db.system.name") ||
		at_tv_attr(s, "db.system")) && !at_tv_span_is_cache(s);
}

/* 1: opens a transaction, -1: ends one, 0: neither. */
static int txn_edge(const struct at_tv_span *s)
{
	char w[32];

	if (!is_sql(s))
		return 0;
	sql_verb(s, w, sizeof(w));
	if (!strcmp(w, "BEGIN") || !strcmp(w, "START"))
		return 1;
	if (!strcmp(w, "COMMIT") || !strcmp(w, "ROLLBACK") ||
	    !strcmp(w, "END") || !strcmp(w, "ABORT"))
		return -1;
	return 0;
}

static int parallel_candidate(const struct at_tv_span *s)
{
	char w[32];

	if (s->kind != 3 || at_tv_span_is_connect(s) ||
	    at_tv_span_is_cache(s))
		return 0;
	if (at_tv_attr(s, "http.request.method"))
		return 1;
	if (!is_sql(s))
		return 0;
	sql_verb(s, w, sizeof(w));
	return !strcmp(w, "SELECT");
}

static void add_parallel(struct at_tv_trace *tr, struct at_tv_span *p,
			 struct at_tv_span **run, size_t n)
{
	struct at_tv_finding *f;
	struct at_buf b = { 0 };
	uint64_t sum = 0, max = 0, save;
	char dur[32], sv[32];
	size_t i;

	for (i = 0; i < n; i++) {
		sum += at_tv_dur(run[i]);
		if (at_tv_dur(run[i]) > max)
			max = at_tv_dur(run[i]);
	}
	save = sum - max;
	if (save < MS || save * 10 < at_tv_dur(p))
		return;
	f = new_finding(tr, AT_FIND_SEQUENTIAL, p);
	if (!f)
		return;
	set_spans(f, run, n);
	f->total_ns = save;
	at_tv_fmt_dur(sum, dur, sizeof(dur));
	at_tv_fmt_dur(save, sv, sizeof(sv));
	at_xbuf_printf(&b, "%zu independent calls to different targets ran "
		       "one after another under ", n);
	where(&b, p);
	at_xbuf_str(&b, ": ");
	for (i = 0; i < n; i++) {
		char *op = at_tv_span_op(run[i]);

		at_xbuf_printf(&b, "%s%s", i ? ", " : "", op);
		free(op);
	}
	at_xbuf_printf(&b, " (%s; together they would take %s less)", dur,
		       sv);
	f->text = at_xbuf_take(&b);
	f->fix = at_xstrdup("start them together (threads, async, "
			    "Promise.all) if none needs another's result");
}

static void find_parallel(struct at_tv_trace *tr, struct at_tv_span *p,
			  const unsigned char *in_group)
{
	size_t n = p->n_children, i, m = 0, k;
	struct at_tv_span **run = at_xcalloc(n, sizeof(*run));
	char **tg = at_xcalloc(n, sizeof(*tg));
	int txn = 0;

	for (i = 0; i <= n; i++) {
		struct at_tv_span *c = i < n ? p->children[i] : NULL;
		int edge = c ? txn_edge(c) : 0;
		int cand = c && !txn && !edge && !in_group[i] &&
			   parallel_candidate(c);
		char *t = cand ? at_tv_span_target(c) : NULL;
		int dup = 0;

		for (k = 0; t && k < m; k++)
			dup |= strcmp(tg[k], t) == 0;
		if (!cand || dup || (m && c->start_ns < run[m - 1]->end_ns)) {
			if (m >= 2)
				add_parallel(tr, p, run, m);
			for (k = 0; k < m; k++)
				free(tg[k]);
			m = 0;
		}
		if (cand) {
			run[m] = c;
			tg[m++] = t;
		}
		if (edge)
			txn = edge > 0;
	}
	for (k = 0; k < m; k++)
		free(tg[k]);
	free(tg);
	free(run);
}

/* ---- slow spans ---- */

static void find_slow(const struct at_traces *t, struct at_tv_trace *tr)
{
	size_t i, c;

	for (i = 0; i < tr->n_spans; i++) {
		struct at_tv_span *s = tr->spans[i], *big = NULL;
		const struct at_tv_endpoint *ep;
		struct at_tv_finding *f;
		struct at_buf b = { 0 };
		uint64_t d = at_tv_dur(s);
		char dd[32], p90[32], over[32], bd[32];

		if (s->endpoint < 0 || (size_t)s->endpoint >= t->n_endpoints)
			continue;
		ep = &t->endpoints[s->endpoint];
		if (ep->count < AT_SLOW_HISTORY || d <= 2 * ep->p90 ||
		    d - ep->p90 < MS)
			continue;
		f = new_finding(tr, AT_FIND_SLOW, s);
		if (!f)
			return;
		set_spans(f, &s, 1);
		f->total_ns = d > ep->p50 ? d - ep->p50 : 0;
		at_tv_fmt_dur(d, dd, sizeof(dd));
		at_tv_fmt_dur(ep->p90, p90, sizeof(p90));
		at_tv_fmt_dur(f->total_ns, over, sizeof(over));
		where(&b, s);
		at_xbuf_printf(&b, " took %s, over twice its p90 of %s (%zu "
			       "requests); %s more than usual", dd, p90,
			       ep->count, over);
		f->text = at_xbuf_take(&b);
		for (c = 0; c < s->n_children; c++)
			if (!big || at_tv_dur(s->children[c]) > at_tv_dur(big))
				big = s->children[c];
		if (big && at_tv_dur(big) * 2 >= d) {
			at_tv_fmt_dur(at_tv_dur(big), bd, sizeof(bd));
			at_xbuf_str(&b, "look at ");
			where(&b, big);
			at_xbuf_printf(&b, ": %s of it", bd);
			f->fix = at_xbuf_take(&b);
		} else {
			f->fix = at_xstrdup("the time is in its own code or "
					    "spread over its calls: compare it "
					    "with a usual request");
		}
	}
}

/* ---- errors ---- */

static void find_errors(struct at_tv_trace *tr)
{
	struct at_tv_span **fl = at_xcalloc(tr->n_spans, sizeof(*fl));
	unsigned char *above;
	size_t i, k, n = 0, reported = 0;

	for (i = 0; i < tr->n_spans && n < 64; i++)
		if (failed(tr->spans[i]))
			fl[n++] = tr->spans[i];
	above = at_xcalloc(n ? n : 1, 1);
	/* a failing span with a failing span under it is not a cause */
	for (i = 0; i < n; i++) {
		const struct at_tv_span *a;
		size_t d = 0;

		for (a = fl[i]->parent; a && d < tr->n_spans;
		     a = a->parent, d++)
			for (k = 0; k < n; k++)
				if (fl[k] == a)
					above[k] = 1;
	}
	for (i = 0; i < n; i++) {
		struct at_tv_span *chain[5], *a;
		struct at_tv_finding *f;
		struct at_buf b = { 0 };
		char err[256];
		size_t m = 0, d = 0, more = 0;

		if (above[i])
			continue;
		if (reported++ >= AT_ERR_MAX)
			break;
		chain[m++] = fl[i];
		for (a = fl[i]->parent; a && d < tr->n_spans;
		     a = a->parent, d++) {
			if (!failed(a))
				continue;
			if (m < 5)
				chain[m++] = a;
			else
				more++;
		}
		f = new_finding(tr, AT_FIND_ERROR, fl[i]);
		if (!f)
			break;
		set_spans(f, chain, m);
		f->total_ns = at_tv_dur(chain[m - 1]);
		where(&b, fl[i]);
		at_tv_span_error_text(fl[i], err, sizeof(err));
		at_xbuf_printf(&b, " failed: %s", err);
		for (k = 1; k < m; k++) {
			at_xbuf_str(&b, " <- ");
			where(&b, chain[k]);
			at_tv_span_error_text(chain[k], err, sizeof(err));
			at_xbuf_printf(&b, " %s", err);
		}
		if (more)
			at_xbuf_printf(&b, " <- %zu more", more);
		f->text = at_xbuf_take(&b);
		at_xbuf_str(&b, "start with ");
		where(&b, fl[i]);
		if (m > 1)
			at_xbuf_printf(&b, ": the %zu failure%s above it follow "
				       "from it", m - 1 + more,
				       m - 1 + more == 1 ? "" : "s");
		else
			at_xbuf_str(&b, ": nothing under it failed");
		f->fix = at_xbuf_take(&b);
	}
	free(above);
	free(fl);
}

/* ---- retries ---- */

static int retryable_failure(const struct at_tv_span *s)
{
	const char *st = at_tv_attr(s, "http.response.status_code");

	return failed(s) || (st && atoi(st) == 429);
}

static void find_retries(struct at_tv_trace *tr, struct at_tv_span *p)
{
	size_t n = p->n_children, i, j, m;
	unsigned char *used = at_xcalloc(n, 1);
	struct at_tv_span **ch = at_xcalloc(n, sizeof(*ch));
	char **sig = at_xcalloc(n, sizeof(*sig));

	for (i = 0; i < n; i++)
		if (is_call(p->children[i]))
			sig[i] = at_tv_span_signature(p->children[i]);
	for (i = 0; i < n; i++) {
		struct at_tv_finding *f;
		struct at_buf b = { 0 };
		uint64_t lost = 0;
		char dur[32], err[256], *what;
		size_t last = i;

		if (!sig[i] || used[i] || !retryable_failure(p->children[i]))
			continue;
		m = 0;
		ch[m++] = p->children[i];
		for (j = i + 1; j < n; j++) {
			if (!sig[j] || strcmp(sig[i], sig[j]) != 0)
				continue;
			if (p->children[j]->start_ns <
			    p->children[last]->end_ns)
				break;
			used[j] = 1;
			ch[m++] = p->children[j];
			last = j;
			if (!retryable_failure(p->children[j]))
				break;
		}
		if (m < 2)
			continue;
		for (j = 0; j < m; j++)
			if (retryable_failure(ch[j]))
				lost += at_tv_dur(ch[j]);
		f = new_finding(tr, AT_FIND_RETRY, p);
		if (!f)
			break;
		set_spans(f, ch, m);
		f->total_ns = lost;
		at_tv_fmt_dur(lost, dur, sizeof(dur));
		at_tv_span_error_text(ch[0], err, sizeof(err));
		what = at_tv_span_what(ch[0]);
		at_xbuf_printf(&b, "%s was retried %zu time%s after %s under ",
			       what, m - 1, m == 2 ? "" : "s", err);
		where(&b, p);
		at_xbuf_printf(&b, "%s; %s spent on failed attempts",
			       retryable_failure(ch[m - 1]) ?
			       " and still failed" : "", dur);
		free(what);
		f->text = at_xbuf_take(&b);
		f->fix = at_xstrdup("find why the first attempt fails (its "
				    "error above); retry only transient "
				    "errors, with a backoff");
	}
	for (i = 0; i < n; i++)
		free(sig[i]);
	free(sig);
	free(ch);
	free(used);
}

/* ---- cache misses ---- */

struct cache_acc {
	struct at_tv_span *ep;
	size_t hits, misses;
	uint64_t cost;
	struct at_tv_span *first_miss;
};

/* Lookups of one cache span: its hits and misses (0 0 if not a read). */
static void lookups(const struct at_tv_span *s, size_t *hits,
		    size_t *misses)
{
	const char *hit = at_tv_attr(s, "autotrace.cache.hit");
	const char *h = at_tv_attr(s, "autotrace.cache.hits");
	const char *m = at_tv_attr(s, "autotrace.cache.misses");

	*hits = *misses = 0;
	if (h && m) {
		*hits = (size_t)strtoul(h, NULL, 10);
		*misses = (size_t)strtoul(m, NULL, 10);
	} else if (hit) {
		*hits = !strcmp(hit, "true");
		*misses = !*hits;
	}
}

/* The siblings after a missed lookup, up to the next lookup. */
static uint64_t after_miss(const struct at_tv_span *s)
{
	const struct at_tv_span *p = s->parent;
	uint64_t t = 0;
	size_t i;
	int on = 0;

	if (!p)
		return 0;
	for (i = 0; i < p->n_children; i++) {
		const struct at_tv_span *c = p->children[i];

		if (c == s) {
			on = 1;
			continue;
		}
		if (!on)
			continue;
		if (at_tv_span_is_cache(c) && at_tv_attr(c,
						"autotrace.cache.hit"))
			break;
		t += at_tv_dur(c);
	}
	return t;
}

static void find_cache_misses(struct at_tv_trace *tr)
{
	struct cache_acc *acc = NULL;
	size_t n_acc = 0, i, k;

	for (i = 0; i < tr->n_spans; i++) {
		struct at_tv_span *s = tr->spans[i], *e;
		size_t h, m, d = 0;

		if (!at_tv_span_is_cache(s))
			continue;
		lookups(s, &h, &m);
		if (!h && !m)
			continue;
		for (e = s->parent; e && e->endpoint < 0 && d < tr->n_spans;
		     e = e->parent, d++)
			;
		if (!e || e->endpoint < 0)
			continue;
		for (k = 0; k < n_acc && acc[k].ep != e; k++)
			;
		if (k == n_acc) {
			acc = at_xrealloc(acc, (n_acc + 1) * sizeof(*acc));
			memset(&acc[n_acc++], 0, sizeof(*acc));
			acc[k].ep = e;
		}
		acc[k].hits += h;
		acc[k].misses += m;
		if (m) {
			acc[k].cost += after_miss(s);
			if (!acc[k].first_miss)
				acc[k].first_miss = s;
		}
	}
	for (k = 0; k < n_acc; k++) {
		struct cache_acc *a = &acc[k];
		struct at_tv_finding *f;
		struct at_buf b = { 0 };
		char dur[32], *what;

		if (a->hits + a->misses < 3 || a->misses * 2 <= a->hits +
		    a->misses)
			continue;
		f = new_finding(tr, AT_FIND_CACHE_MISS, a->ep);
		if (!f)
			break;
		set_spans(f, &a->first_miss, 1);
		f->total_ns = a->cost;
		at_tv_fmt_dur(a->cost, dur, sizeof(dur));
		what = at_tv_span_what(a->first_miss);
		at_xbuf_printf(&b, "cache lookups under ");
		where(&b, a->ep);
		at_xbuf_printf(&b, " missed %zu of %zu times (first: %s); %s "
			       "of work after the misses", a->misses,
			       a->hits + a->misses, what, dur);
		free(what);
		f->text = at_xbuf_take(&b);
		f->fix = at_xstrdup("store the value after a miss "
				    "(cache-aside), and check the key "
				    "pattern and its TTL");
	}
	free(acc);
}

void at_tv_find(const struct at_traces *t, struct at_tv_trace *tr)
{
	unsigned char *in_group = at_xcalloc(tr->n_spans ? tr->n_spans : 1,
					     1);
	size_t i;

	find_errors(tr);
	for (i = 0; i < tr->n_spans; i++) {
		struct at_tv_span *s = tr->spans[i];

		if (s->n_children < 2)
			continue;
		memset(in_group, 0, s->n_children);
		if (s->n_children >= AT_N1_MIN)
			find_n_plus_one(tr, s, in_group);
		find_parallel(tr, s, in_group);
		find_retries(tr, s);
	}
	free(in_group);
	find_slow(t, tr);
	find_cache_misses(tr);
}
