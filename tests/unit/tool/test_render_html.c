/*
 * test_render_html.c - the autotrace HTML page (at_render_html): built
 * from a small trace model made by hand (two traces: one with an error
 * span, hostile strings and an N+1 finding), then checked as text (a
 * document, the data JSON with every span, nothing loaded from elsewhere,
 * no way out of the script element) and, when Node, playwright-core and
 * Chromium are there, in a headless browser by tests/browser/page.test.js.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "at_render.h"
#include "at_traces.h"

#define MS 1000000ULL
#define T0 1700000000000000000ULL

#define EVIL "</script><script>alert(1)</script><!--"

static struct at_tv_attr a_root[] = {
	{ "http.request.method", "GET", AT_TV_STRING },
	{ "url.full", "http://example.com/users?id=7", AT_TV_STRING },
	{ "http.response.status_code", "500", AT_TV_INT },
};
static struct at_tv_attr a_q[] = {
	{ "db.system", "postgresql", AT_TV_STRING },
	{ "db.statement", "SELECT * FROM users WHERE id = $1", AT_TV_STRING },
	{ "db.rows", "1", AT_TV_INT },
};
static struct at_tv_attr a_q2[] = {
	{ "db.system", "postgresql", AT_TV_STRING },
	{ "db.statement", "SELECT * FROM users WHERE id = $1", AT_TV_STRING },
};
static struct at_tv_attr a_bad[] = {
	{ "evil", EVIL, AT_TV_STRING },
	{ "latin1", "caf\xe9 ok", AT_TV_STRING },
	{ "quoted", "a\"b\\c\nd\x01", AT_TV_STRING },
	{ "ratio", "0.25", AT_TV_DOUBLE },
	{ "retried", "true", AT_TV_BOOL },
};
static struct at_tv_attr a_ev[] = {
	{ "exception.type", "TimeoutError", AT_TV_STRING },
	{ "exception.message", "no answer in 3 s", AT_TV_STRING },
};
static struct at_tv_event ev_bad[] = {
	{ "retry", T0 + 6 * MS, NULL, 0 },
	{ "exception", T0 + 8 * MS, a_ev, 2 },
};

static struct at_tv_span sp[6];
static struct at_tv_span *kids_a[3], *spans_a[4], *roots_a[1], *find_a[2];
static struct at_tv_span *kids_b[1], *spans_b[2], *roots_b[1];
static struct at_tv_finding findings_a[1];
static struct at_tv_trace tr[2];
static struct at_traces model;

static void set_id(uint8_t *b, size_t n, uint64_t v)
{
	memset(b, 0, n);
	for (size_t i = 0; i < 8 && i < n; i++)
		b[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

static void span(struct at_tv_span *s, uint64_t trace, uint64_t id,
		 struct at_tv_span *parent, const char *name, int kind,
		 uint64_t start_ms, uint64_t end_ms)
{
	memset(s, 0, sizeof(*s));
	set_id(s->trace_id, 16, trace);
	s->trace_id[0] = 0xab;
	set_id(s->span_id, 8, id);
	if (parent) {
		memcpy(s->parent_id, parent->span_id, 8);
		s->has_parent = 1;
		s->parent = parent;
		s->depth = parent->depth + 1;
	}
	s->name = (char *)name;
	s->kind = kind;
	s->start_ns = T0 + start_ms * MS;
	s->end_ns = T0 + end_ms * MS;
	s->status_msg = "";
	s->service = "shop";
}

/*
 * Trace A (ab..a1): GET /users -> SELECT, SELECT (an N+1), POST /charge
 * (error, hostile attributes, events).  Trace B (ab..b2): GET /health ->
 * cache get.
 */
static void build_model(void)
{
	span(&sp[0], 0xa1, 0xa100000000000001ULL, NULL, "GET /users", 2, 0, 10);
	sp[0].attrs = a_root;
	sp[0].n_attrs = 3;
	sp[0].critical = 1;
	span(&sp[1], 0xa1, 0xa100000000000002ULL, &sp[0], "SELECT users", 3, 1, 3);
	sp[1].attrs = a_q;
	sp[1].n_attrs = 3;
	span(&sp[2], 0xa1, 0xa100000000000003ULL, &sp[0], "SELECT users", 3, 3, 5);
	sp[2].attrs = a_q2;
	sp[2].n_attrs = 2;
	span(&sp[3], 0xa1, 0xa100000000000004ULL, &sp[0], "POST /charge " EVIL, 3, 5, 9);
	sp[3].service = "payments";
	sp[3].status = 2;
	sp[3].status_msg = "upstream timeout " EVIL;
	sp[3].attrs = a_bad;
	sp[3].n_attrs = 5;
	sp[3].events = ev_bad;
	sp[3].n_events = 2;
	sp[3].critical = 1;

	kids_a[0] = &sp[1];
	kids_a[1] = &sp[2];
	kids_a[2] = &sp[3];
	sp[0].children = kids_a;
	sp[0].n_children = 3;
	for (int i = 0; i < 4; i++)
		spans_a[i] = &sp[i];
	roots_a[0] = &sp[0];
	find_a[0] = &sp[1];
	find_a[1] = &sp[2];
	findings_a[0] = (struct at_tv_finding){
		.kind = AT_FIND_N_PLUS_ONE, .parent = &sp[0], .spans = find_a,
		.n_spans = 2, .total_ns = 4 * MS,
		.text = "SELECT * FROM users WHERE id = $1 ran 2 times, 4.00 ms total",
	};
	tr[0] = (struct at_tv_trace){
		.spans = spans_a, .n_spans = 4, .roots = roots_a, .n_roots = 1,
		.start_ns = sp[0].start_ns, .end_ns = sp[0].end_ns, .has_error = 1,
		.findings = findings_a, .n_findings = 1,
	};
	memcpy(tr[0].trace_id, sp[0].trace_id, 16);

	span(&sp[4], 0xb2, 0xb200000000000001ULL, NULL, "GET /health", 2, 20, 21);
	span(&sp[5], 0xb2, 0xb200000000000002ULL, &sp[4], "cache get", 3, 20, 20);
	sp[5].end_ns += 300000; /* 0.3 ms */
	kids_b[0] = &sp[5];
	sp[4].children = kids_b;
	sp[4].n_children = 1;
	spans_b[0] = &sp[4];
	spans_b[1] = &sp[5];
	roots_b[0] = &sp[4];
	tr[1] = (struct at_tv_trace){
		.spans = spans_b, .n_spans = 2, .roots = roots_b, .n_roots = 1,
		.start_ns = sp[4].start_ns, .end_ns = sp[4].end_ns,
	};
	memcpy(tr[1].trace_id, sp[4].trace_id, 16);

	model.traces = tr;
	model.n_traces = 2;
}

/* The page for the model, as a NUL-terminated string (caller frees). */
static char *render(const struct at_traces *t, const char *title, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	cr_assert_not_null(f);
	cr_assert_eq(at_render_html(f, t, title), 0);
	cr_assert_eq(fclose(f), 0);
	if (len)
		*len = n;
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A copy of the data JSON (the content of <script ... id="data">). */
static char *data_json(const char *page)
{
	const char *open = "<script type=\"application/json\" id=\"data\">";
	const char *b = strstr(page, open), *e;

	cr_assert_not_null(b, "no data element");
	b += strlen(open);
	e = strstr(b, "</script>");
	cr_assert_not_null(e);
	return strndup(b, (size_t)(e - b));
}

/* The page with the data JSON cut out: the markup, style and script. */
static char *without_data(const char *page)
{
	char *json = data_json(page);
	const char *b = strstr(page, json);
	size_t lj = strlen(json), lp = strlen(page);
	char *out = malloc(lp - lj + 1);

	cr_assert_not_null(out);
	memcpy(out, page, (size_t)(b - page));
	strcpy(out + (b - page), b + lj);
	free(json);
	return out;
}

static int valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
			     (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;

		if (!len || i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
		i += len;
	}
	return 1;
}

TestSuite(html, .init = build_model);

Test(html, document_and_data)
{
	size_t len;
	char *page = render(&model, "shop traces", &len);
	char *json = data_json(page);

	cr_assert_eq(strncmp(page, "<!DOCTYPE html>", 15), 0);
	cr_assert_not_null(strstr(page, "<title>shop traces</title>"));
	cr_assert_not_null(strstr(page, "</html>"));
	cr_assert(valid_utf8((const unsigned char *)page, len), "not UTF-8");
	cr_assert_eq(json[strspn(json, " \n")], '{');

	for (int i = 0; i < 6; i++) {
		char want[40];

		snprintf(want, sizeof(want), "\"id\":\"%02x%02x%02x%02x%02x%02x%02x%02x\"",
			 sp[i].span_id[0], sp[i].span_id[1], sp[i].span_id[2],
			 sp[i].span_id[3], sp[i].span_id[4], sp[i].span_id[5],
			 sp[i].span_id[6], sp[i].span_id[7]);
		cr_assert_not_null(strstr(json, want), "span %d missing: %s", i, want);
	}
	cr_assert_not_null(strstr(json, "\"id\":\"ab0000000000000000000000000000a1\""));
	cr_assert_not_null(strstr(json, "\"kind\":\"n+1\""));
	cr_assert_not_null(strstr(json, "ran 2 times"));
	/* the finding names the two SELECTs by position: 1 and 2 */
	cr_assert_not_null(strstr(json, "\"spans\":[1,2]"));
	/* times are relative to the trace: the POST starts 5 ms in */
	cr_assert_not_null(strstr(json, "\"s\":5000000,\"e\":9000000"));
	cr_assert_not_null(strstr(json, "\"st\":2"));
	cr_assert_not_null(strstr(json, "[\"db.rows\",\"1\",1]"));
	cr_assert_not_null(strstr(json, "\"name\":\"exception\",\"t\":8000000"));
	free(json);
	free(page);
}

Test(html, strings_cannot_escape)
{
	size_t len;
	char *page = render(&model, "<b>x</b> & \"y\" </script>", &len);
	char *json = data_json(page);
	char *rest = without_data(page);

	/*
	 * Only the two script elements end: data and code.  "<script" in
	 * the data is inert as long as neither "</" nor "<!--" is there.
	 */
	cr_assert_eq(count(page, "</script>"), 2, "script closed early");
	cr_assert_eq(count(rest, "<script"), 2);
	cr_assert_null(strstr(page, "</script><script>alert"));
	cr_assert_null(strstr(page, "<!--"));
	cr_assert_not_null(strstr(json, "<\\/script><script>alert(1)<\\/script>\\u003c!--"));
	/* the title is HTML-escaped outside the JSON */
	cr_assert_not_null(strstr(page, "<title>&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot; &lt;/script&gt;</title>"));
	cr_assert_null(strstr(rest, "<b>x"));
	/* JSON string escapes; invalid UTF-8 replaced */
	cr_assert_not_null(strstr(json, "\"a\\\"b\\\\c\\nd\\u0001\""));
	cr_assert_not_null(strstr(json, "\"caf\\ufffd ok\""));
	cr_assert(valid_utf8((const unsigned char *)page, len));
	free(rest);
	free(json);
	free(page);
}

Test(html, nothing_external)
{
	char *page = render(&model, "t", NULL);
	char *rest = without_data(page);
	const char *attrs[] = { "src=", "href=", "action=", "url(", "@import" };

	/* the data may hold URLs (url.full); the rest of the page may not */
	cr_assert_not_null(strstr(page, "http://example.com/users"));
	cr_assert_null(strstr(rest, "http://"));
	cr_assert_null(strstr(rest, "https://"));
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		for (const char *p = strstr(rest, attrs[i]); p; p = strstr(p + 1, attrs[i])) {
			const char *v = p + strlen(attrs[i]);

			v += strspn(v, "\"'");
			cr_assert(strncmp(v, "data:", 5) == 0 || v[0] == '#',
				  "external reference: %.60s", p);
		}
	}
	cr_assert_not_null(strstr(rest, "Content-Security-Policy"));
	free(rest);
	free(page);
}

Test(html, empty_and_errors)
{
	struct at_traces none = { 0 };
	char *page = render(&none, NULL, NULL);
	char *json = data_json(page);
	FILE *full;

	cr_assert_not_null(strstr(json, "\"traces\":[\n\n]"));
	cr_assert_not_null(strstr(page, "<title>autotrace</title>"));
	free(json);
	free(page);

	full = fopen("/dev/full", "w");
	if (full) {
		cr_assert_eq(at_render_html(full, &model, "t"), -1);
		fclose(full);
	}
}

static int exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int have_node(void)
{
	return system("command -v node >/dev/null 2>&1") == 0;
}

Test(html, browser, .timeout = 120)
{
	const char *build = getenv("AT_BUILD_DIR");
	const char *bdir = getenv("AT_BROWSER_DIR");
	char dir[512], html[600], png[600], mods[600], cmd[3000];
	char *page;
	FILE *f;
	int rc;

	if (!build || !*build)
		build = "build";
	if (!bdir || !*bdir)
		bdir = "build/browser";
	snprintf(dir, sizeof(dir), "%s/tests", build);
	snprintf(html, sizeof(html), "%s/html-sample.html", dir);
	snprintf(png, sizeof(png), "%s/html-sample.png", dir);
	snprintf(mods, sizeof(mods), "%s/node_modules/playwright-core/package.json", bdir);
	mkdir(build, 0755);
	mkdir(dir, 0755);

	page = render(&model, "libautotrace sample", NULL);
	f = fopen(html, "w");
	cr_assert_not_null(f, "cannot write %s", html);
	fputs(page, f);
	cr_assert_eq(fclose(f), 0);
	free(page);

	if (!exists("tests/browser/page.test.js") || !have_node() ||
	    !exists(mods) || access("/usr/bin/chromium", X_OK) != 0)
		cr_skip("browser check skipped: needs node, %s and /usr/bin/chromium "
			"(scripts/setup-browser-test.sh)", mods);

	snprintf(cmd, sizeof(cmd),
		 "AT_BROWSER_DIR='%s' node tests/browser/page.test.js '%s' "
		 "--traces 2 --spans 4 --click a100000000000002 "
		 "--attr 'db.statement=SELECT * FROM users WHERE id = $1' "
		 "--screenshot '%s'", bdir, html, png);
	rc = system(cmd);
	cr_assert(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
		  "browser test failed (status %d): %s", rc, cmd);
	cr_assert(exists(png));
}
