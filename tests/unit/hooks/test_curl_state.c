/*
 * Unit tests of the libcurl family's state (hooks/libcurl/at_curl.c)
 * without libcurl: the function table (at_curl) points at fakes - a
 * curl_slist made with malloc (and counted), a curl_easy_setopt that
 * records the header list installed on each handle, a getinfo that knows
 * only the status code.  The CURL handles are addresses never
 * dereferenced.  Covered: the trace headers are added to a list of our
 * own - the handle's nodes over the application's strings, nothing
 * allocated, or for a list longer than those nodes a copy - while the
 * application's list is never changed and is put back when the transfer
 * ends (a copy freed); none is added to a list with its own traceparent;
 * a failed copy installs nothing and leaks nothing; the method curl
 * reports renames the span only when it differs; a URL set again keeps
 * its attributes, a new one replaces them; reset, dup and cleanup.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_curl.h"
#include "at_traceparent.h"
#include "unit.h"
#include "ut_spans.h"

static CURL *const H = (CURL *)(uintptr_t)0x5000;
static CURL *const D = (CURL *)(uintptr_t)0x6000; /* a duplicate of H */
static struct curl_slist *installed;   /* CURLOPT_HTTPHEADER of H */
static struct curl_slist *installed_d; /* and of D */
static int n_setopt_headers, live_nodes, fail_append_at, n_append;

static struct curl_slist *fake_append(struct curl_slist *l, const char *s)
{
	struct curl_slist *n, *p;

	if (++n_append == fail_append_at)
		return NULL;
	n = malloc(sizeof(*n));
	n->data = strdup(s);
	n->next = NULL;
	live_nodes++;
	if (!l)
		return n;
	for (p = l; p->next; p = p->next)
		;
	p->next = n;
	return l;
}

static void fake_free_all(struct curl_slist *l)
{
	while (l) {
		struct curl_slist *next = l->next;
		free(l->data);
		free(l);
		live_nodes--;
		l = next;
	}
}

static CURLcode fake_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;

	cr_assert(h == H || h == D);
	va_start(ap, opt);
	if (opt == CURLOPT_HTTPHEADER) {
		*(h == H ? &installed : &installed_d) =
			va_arg(ap, struct curl_slist *);
		n_setopt_headers++;
	}
	va_end(ap);
	return CURLE_OK;
}

static const char *effective_method; /* CURLINFO_EFFECTIVE_METHOD */

static CURLcode fake_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;

	(void)h;
	if (info == CURLINFO_EFFECTIVE_METHOD && effective_method) {
		va_start(ap, info);
		*va_arg(ap, const char **) = effective_method;
		va_end(ap);
		return CURLE_OK;
	}
	if (info != CURLINFO_RESPONSE_CODE)
		return CURLE_UNKNOWN_OPTION;
	va_start(ap, info);
	*va_arg(ap, long *) = 200;
	va_end(ap);
	return CURLE_OK;
}

static struct curl_slist *app;

static void setup(void)
{
	ut_core_setup();
	ut_drain_ring();
	memset(&at_curl, 0, sizeof(at_curl));
	at_curl.curl_slist_append = fake_append;
	at_curl.curl_slist_free_all = fake_free_all;
	at_curl.curl_easy_setopt = fake_setopt;
	at_curl.curl_easy_getinfo = fake_getinfo;
	installed = NULL;
	effective_method = NULL;
	n_setopt_headers = n_append = fail_append_at = 0;
	app = fake_append(NULL, "Accept: text/plain");
	app = fake_append(app, "X-App: 1");
	n_append = 0;
	/* What the application set (the hook forwards, then notes it). */
	installed = app;
	at_curl_option(H, CURLOPT_URL, "http://example.test/p", 0);
	at_curl_option(H, CURLOPT_HTTPHEADER, app, 0);
}

static void teardown(void)
{
	at_curl_forget(H);
	fake_free_all(app);
	cr_assert_eq(live_nodes, 0, "every list node freed");
}

TestSuite(curl_state, .init = setup, .fini = teardown);

static void assert_app_list_intact(void)
{
	cr_assert_str_eq(app->data, "Accept: text/plain");
	cr_assert_str_eq(app->next->data, "X-App: 1");
	cr_assert_null(app->next->next, "the application's list unchanged");
}

Test(curl_state, trace_headers_on_a_copy_then_restored)
{
	struct rec spans[2];
	struct curl_slist *ours;

	at_curl_begin(H, false);
	ours = installed;
	cr_assert_neq(ours, app, "our own list is installed");
	assert_app_list_intact();
	cr_assert_eq(ours->data, app->data, "the application's string itself");
	cr_assert_eq(ours->next->data, app->next->data);
	cr_assert_not_null(ours->next->next);
	cr_assert_null(ours->next->next->next);
	cr_assert_eq(n_append, 0, "nothing allocated");
	at_curl_end(H, CURLE_OK);
	cr_assert_eq(installed, app, "the application's list put back");
	cr_assert_eq(live_nodes, 2, "nothing to free");
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	cr_assert_eq(ut_int_attr(&spans[0], "http.response.status_code"), 200);
	cr_assert(ut_str_is(&spans[0], "url.full", "http://example.test/p"));
}

Test(curl_state, the_added_line_is_the_spans_traceparent)
{
	char tp[AT_TRACEPARENT_LEN + 1], want[128], got[128];
	struct rec spans[2];

	at_curl_begin(H, false);
	snprintf(got, sizeof(got), "%s", installed->next->next->data);
	at_curl_end(H, CURLE_OK);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	at_traceparent_format(&spans[0].u.h.ctx, tp);
	snprintf(want, sizeof(want), "traceparent: %s", tp);
	cr_assert_str_eq(got, want);
}

Test(curl_state, a_list_with_its_own_traceparent_is_left_alone)
{
	static const uint8_t tid[16] = { 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd,
					 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21,
					 0x1c, 0x80, 0x31, 0x9c };
	struct rec spans[2];

	app = fake_append(app, "traceparent: "
			       "00-0af7651916cd43dd8448eb211c80319c-"
			       "b7ad6b7169203331-01");
	at_curl_option(H, CURLOPT_HTTPHEADER, app, 0);
	at_curl_begin(H, false);
	cr_assert_eq(n_setopt_headers, 0, "nothing installed");
	cr_assert_eq(installed, app);
	at_curl_end(H, CURLE_OK);
	cr_assert_eq(n_setopt_headers, 0);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	cr_assert_eq(memcmp(spans[0].u.h.ctx.trace_id, tid, 16), 0,
		     "the span continues the application's context");
}

/* The application's list made longer than the handle's own nodes: ours
 * is a copy. */
static void make_app_list_long(void)
{
	for (int i = 2; i < AT_CURL_INLINE_NODES; i++)
		app = fake_append(app, "X-Filler: 1");
	at_curl_option(H, CURLOPT_HTTPHEADER, app, 0);
	installed = app;
	n_append = 0;
}

Test(curl_state, a_long_list_is_copied_then_freed)
{
	struct rec spans[2];
	struct curl_slist *l;
	int n = 0;

	make_app_list_long();
	at_curl_begin(H, false);
	cr_assert_neq(installed, app);
	cr_assert_eq(n_append, AT_CURL_INLINE_NODES + 1, "copied, plus ours");
	for (l = installed; l->next; l = l->next, n++)
		cr_assert_str_eq(l->data, n == 0 ? "Accept: text/plain"
					  : n == 1 ? "X-App: 1"
						   : "X-Filler: 1");
	cr_assert_eq(n, AT_CURL_INLINE_NODES);
	cr_assert(!strncmp(l->data, "traceparent: 00-", 16), "%s", l->data);
	at_curl_end(H, CURLE_OK);
	cr_assert_eq(installed, app);
	cr_assert_eq(live_nodes, AT_CURL_INLINE_NODES, "the copy freed");
	cr_assert_eq(ut_take_spans(spans, 2), 1);
}

Test(curl_state, failed_copy_installs_nothing_and_leaks_nothing)
{
	struct rec spans[2];

	make_app_list_long();
	for (int at = 1; at <= 3; at++) {
		n_append = 0;
		fail_append_at = at;
		at_curl_begin(H, false);
		cr_assert_eq(installed, app, "append %d failed: app's list", at);
		cr_assert_eq(live_nodes, AT_CURL_INLINE_NODES,
			     "the partial copy freed");
		at_curl_end(H, CURLE_OK);
		cr_assert_eq(n_setopt_headers, 0);
		cr_assert_eq(ut_take_spans(spans, 2), 1, "the span is made");
	}
}

/* A redirect curl followed with another method: the span is named with
 * the one curl reports; the same method leaves the span as it was. */
Test(curl_state, the_effective_method_renames_the_span)
{
	static const struct {
		const char *effective, *name, *method, *original;
	} cases[] = {
		{ "POST", "POST", "POST", NULL },
		{ "GET", "GET", "GET", NULL },
		{ "PURGE", "HTTP", "_OTHER", "PURGE" },
	};
	struct rec spans[2];

	at_curl_option(H, CURLOPT_POST, NULL, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		effective_method = cases[i].effective;
		at_curl_begin(H, false);
		at_curl_end(H, CURLE_OK);
		cr_assert_eq(ut_take_spans(spans, 2), 1);
		cr_assert(ut_has_name(&spans[0], cases[i].name), "%zu", i);
		cr_assert(ut_str_is(&spans[0], "http.request.method",
				    cases[i].method), "%zu", i);
		if (cases[i].original)
			cr_assert(ut_str_is(&spans[0],
					    "http.request.method_original",
					    cases[i].original));
		else
			cr_assert_null(ut_attr(&spans[0],
					       "http.request.method_original"));
	}
}

/* The method the span is named with follows the method options set
 * between transfers of one handle (it is worked out once per change),
 * starts over at a reset and is the original's in a duplicate. */
Test(curl_state, the_method_follows_the_options_between_transfers)
{
	static const struct {
		CURLoption opt;
		const char *ptr;
		long val;
		const char *method, *original;
	} steps[] = {
		{ CURLOPT_URL, "http://example.test/p", 0, "GET", NULL },
		{ CURLOPT_POST, NULL, 1, "POST", NULL },
		{ CURLOPT_HTTPHEADER, NULL, 0, "POST", NULL },
		{ CURLOPT_NOBODY, NULL, 1, "HEAD", NULL },
		{ CURLOPT_CUSTOMREQUEST, "PURGE", 0, "_OTHER", "PURGE" },
		{ CURLOPT_CUSTOMREQUEST, NULL, 0, "HEAD", NULL },
		{ CURLOPT_HTTPGET, NULL, 1, "GET", NULL },
		{ CURLOPT_UPLOAD, NULL, 1, "PUT", NULL },
		{ CURLOPT_UPLOAD, NULL, 0, "GET", NULL },
		{ CURLOPT_POSTFIELDS, "a=1", 0, "POST", NULL },
	};
	struct rec spans[2];

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		at_curl_option(H, steps[i].opt, steps[i].ptr, steps[i].val);
		for (int t = 0; t < 2; t++) {
			at_curl_begin(H, false);
			at_curl_end(H, CURLE_OK);
			cr_assert_eq(ut_take_spans(spans, 2), 1);
			cr_assert(ut_str_is(&spans[0], "http.request.method",
					    steps[i].method), "step %zu", i);
			if (steps[i].original)
				cr_assert(ut_str_is(&spans[0],
						    "http.request.method_original",
						    steps[i].original));
			else
				cr_assert_null(ut_attr(&spans[0],
						       "http.request.method_original"));
		}
	}
	at_curl_dup(H, D);
	at_curl_begin(D, false);
	at_curl_end(D, CURLE_OK);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	cr_assert(ut_str_is(&spans[0], "http.request.method", "POST"), "dup");
	at_curl_forget(D);
	at_curl_reset(H);
	at_curl_begin(H, false);
	at_curl_end(H, CURLE_OK);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	cr_assert(ut_str_is(&spans[0], "http.request.method", "GET"), "reset");
}

/* The URL's attributes: kept while the same URL is set again, replaced
 * by a new one's, none for a URL without a scheme. */
Test(curl_state, url_attributes_follow_the_url_set)
{
	static const char *const urls[] = {
		"http://example.test/p", "http://example.test/p",
		"https://u:pw@other.test:8443/q?k=v", "https://u:pw@other.test:8443/q?k=v",
		"example.test/x?a=b://c", "http://example.test/p",
	};
	static const char *const full[] = {
		"http://example.test/p", "http://example.test/p",
		"https://REDACTED:REDACTED@other.test:8443/q?k=REDACTED",
		"https://REDACTED:REDACTED@other.test:8443/q?k=REDACTED",
		NULL, "http://example.test/p",
	};
	static const char *const host[] = { "example.test", "example.test",
					    "other.test", "other.test", NULL,
					    "example.test" };
	static const int port[] = { 80, 80, 8443, 8443, -1, 80 };
	struct rec spans[2];

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		at_curl_option(H, CURLOPT_URL, urls[i], 0);
		at_curl_begin(H, false);
		at_curl_end(H, CURLE_OK);
		cr_assert_eq(ut_take_spans(spans, 2), 1);
		if (!full[i]) {
			cr_assert_null(ut_attr(&spans[0], "url.full"), "%s", urls[i]);
			cr_assert_null(ut_attr(&spans[0], "server.address"));
			continue;
		}
		cr_assert(ut_str_is(&spans[0], "url.full", full[i]), "%s", urls[i]);
		cr_assert(ut_str_is(&spans[0], "server.address", host[i]), "%s", urls[i]);
		cr_assert_eq(ut_int_attr(&spans[0], "server.port"), port[i], "%s", urls[i]);
	}
}

Test(curl_state, cleanup_during_a_transfer_restores)
{
	struct rec spans[2];

	at_curl_begin(H, false);
	cr_assert_neq(installed, app);
	at_curl_forget(H);
	cr_assert_eq(installed, app);
	cr_assert_eq(live_nodes, 2);
	cr_assert_eq(ut_take_spans(spans, 2), 1, "ended as it was");
	/* Forgotten: a new transfer has no URL and no list of the app's. */
	at_curl_begin(H, false);
	cr_assert_null(installed->next, "only our line");
	at_curl_end(H, CURLE_OK);
}

Test(curl_state, reset_forgets_the_options_dup_copies_them)
{
	struct rec spans[2];

	/* D's address had a handle before, with another URL (its state
	 * left behind): the duplicate's attributes are H's URL's. */
	at_curl_option(D, CURLOPT_URL, "http://stale.test/old", 0);
	at_curl_begin(D, false);
	at_curl_end(D, CURLE_OK);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	installed_d = NULL;
	at_curl_dup(H, D);
	at_curl_reset(H);
	installed = NULL;
	at_curl_begin(H, false);
	cr_assert_null(installed->next, "after reset: only our line");
	at_curl_end(H, CURLE_OK);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	cr_assert_null(ut_attr(&spans[0], "url.full"));
	/* The duplicate has the URL and the application's list. */
	installed_d = app;
	at_curl_begin(D, false);
	cr_assert_neq(installed_d, app);
	cr_assert_str_eq(installed_d->data, "Accept: text/plain");
	cr_assert_str_eq(installed_d->next->data, "X-App: 1");
	at_curl_end(D, CURLE_OK);
	cr_assert_eq(installed_d, app);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	cr_assert(ut_str_is(&spans[0], "url.full", "http://example.test/p"));
	at_curl_forget(D);
}

/* curl_easy_duphandle during a transfer copies the list installed then,
 * ours: the duplicate is given the application's instead. */
Test(curl_state, dup_during_a_transfer_gets_the_application_list)
{
	struct rec spans[2];

	at_curl_begin(H, false);
	installed_d = installed; /* what curl copied */
	at_curl_dup(H, D);
	cr_assert_eq(installed_d, app);
	at_curl_end(H, CURLE_OK);
	cr_assert_eq(installed, app);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	at_curl_forget(D);
}
