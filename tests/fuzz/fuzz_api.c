/*
 * fuzz_api.c - libFuzzer target for the live dashboard's routes
 * (tool/at_api.c): the request target a local program sends (path and
 * query, percent-escapes, filters) against a small trace model.
 *
 * The input, cut at its first NUL and at 8 KiB as the receiver does, is
 * the target.  Besides "no crash, no read outside, no leak"
 * (AddressSanitizer), it traps when: the status is not 200, 400 or 404;
 * a JSON answer is not one valid JSON text (the tool's reader); an
 * answer holds "</script" (strings are escaped so that none can end a
 * script element); a list is longer than AT_API_LIST_MAX.
 */
#include <stdlib.h>
#include <string.h>

#include "at_api.h"
#include "at_json.h"
#include "at_xalloc.h"
#include "fuzz.h"

static struct at_traces *model;

static void span(unsigned tr, unsigned id, unsigned parent, const char *svc,
		 int kind, uint64_t a, uint64_t b, const char *k1,
		 const char *v1, const char *k2, const char *v2)
{
	struct at_tv_span *s = at_xcalloc(1, sizeof(*s));

	s->trace_id[15] = (uint8_t)tr;
	s->span_id[7] = (uint8_t)id;
	if (parent) {
		s->parent_id[7] = (uint8_t)parent;
		s->has_parent = 1;
	}
	s->name = at_xstrdup("op </script>");
	s->kind = kind;
	s->start_ns = 1700000000000000000ull + a;
	s->end_ns = 1700000000000000000ull + b;
	s->status_msg = at_xstrdup("");
	s->service = at_xstrdup(svc);
	s->attrs = at_xcalloc(2, sizeof(*s->attrs));
	s->attrs[0].key = at_xstrdup(k1);
	s->attrs[0].value = at_xstrdup(v1);
	s->attrs[1].key = at_xstrdup(k2);
	s->attrs[1].value = at_xstrdup(v2);
	s->n_attrs = 2;
	at_traces_push(model, s);
}

static void build(void)
{
	model = at_traces_new();
	span(1, 1, 0, "front", 2, 0, 1000000, "http.request.method", "GET",
	     "url.path", "/orders/42");
	span(1, 2, 1, "front", 3, 10, 500, "db.system.name", "postgresql",
	     "db.query.text", "SELECT a FROM t WHERE x = ?");
	span(1, 3, 1, "front", 3, 600, 700, "db.system.name", "redis",
	     "db.query.text", "GET user:7");
	span(2, 1, 0, "back\"</script>", 2, 5000, 9000, "http.request.method",
	     "POST", "url.path", "/pay");
	span(2, 2, 9, "back", 3, 5100, 5200, "server.address", "h",
	     "user.id", "7");
	at_traces_build(model);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char target[8192];
	struct at_buf body = { 0 };
	const char *type = NULL;
	struct at_json v;
	size_t n = size < sizeof(target) - 1 ? size : sizeof(target) - 1;
	int st;

	if (!model)
		build();
	memcpy(target, data, n);
	target[n] = 0;
	st = at_api_get(model, target, &body, &type);
	CHECK(st == 200 || st == 400 || st == 404);
	CHECK(type != NULL);
	CHECK(!body.len || !memmem(body.data, body.len, "</script", 8) ||
	      strncmp(type, "text/html", 9) == 0);
	if (!strcmp(type, "application/json")) {
		CHECK(at_json_parse((const char *)body.data, body.len, &v) == 0);
		const struct at_json *l = at_json_get(&v, "traces");

		CHECK(!l || l->n <= AT_API_LIST_MAX);
		at_json_free(&v);
	}
	at_buf_free(&body);
	return 0;
}
