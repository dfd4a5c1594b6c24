/*
 * test_rootspan.c - the root span of `autotrace -- cmd` (at_rootspan.c):
 * its ids, the TRACEPARENT handed to the command, the span it becomes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "at_rootspan.h"
#include "at_traces.h"

Test(rootspan, new_trace_and_traceparent)
{
	struct at_root a, b;
	char tp[96];

	at_root_begin(&a, NULL);
	at_root_begin(&b, "garbage");
	cr_assert_neq(memcmp(a.ctx.trace_id, b.ctx.trace_id, 16), 0);
	cr_assert_eq(a.has_parent, 0);
	at_root_traceparent(&a, tp, sizeof(tp));
	cr_assert_eq(strlen(tp), strlen("TRACEPARENT=") + 55, "%s", tp);
	cr_assert_eq(strncmp(tp, "TRACEPARENT=00-", 15), 0);
	cr_assert_str_eq(tp + strlen(tp) - 3, "-01");
}

Test(rootspan, continues_a_trace_from_the_environment)
{
	struct at_root r;

	at_root_begin(&r, "00-0af7651916cd43dd8448eb211c80319c-"
			  "b7ad6b7169203331-01");
	cr_assert_eq(r.has_parent, 1);
	cr_assert_eq(r.ctx.trace_id[0], 0x0a);
	cr_assert_eq(r.ctx.trace_id[15], 0x9c);
	cr_assert_eq(r.parent_id[0], 0xb7);
	cr_assert_neq(memcmp(r.ctx.span_id, r.parent_id, 8), 0);
}

Test(rootspan, the_span)
{
	struct at_root r;
	char *argv[] = { "/bin/sh", "-c", "exit 3", NULL };
	at_otlp_request *req;
	struct at_traces *t = at_traces_new();
	const struct at_tv_span *s;

	at_root_begin(&r, NULL);
	req = at_root_request(&r, argv, NULL, 42, 1, 3);
	at_traces_add_request(t, req);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	at_traces_build(t);
	cr_assert_eq(t->n_traces, 1);
	s = t->traces[0].roots[0];
	cr_assert_str_eq(s->name, "sh");
	cr_assert_str_eq(s->service, "sh");
	cr_assert_eq(s->status, 2);
	cr_assert_str_eq(s->status_msg, "exit code 3");
	cr_assert_str_eq(at_tv_attr(s, "process.command_line"),
			 "/bin/sh -c exit 3");
	cr_assert_str_eq(at_tv_attr(s, "process.exit.code"), "3");
	cr_assert_eq(memcmp(s->span_id, r.ctx.span_id, 8), 0);
	cr_assert(s->end_ns >= s->start_ns);
	at_traces_free(t);

	/* exit 0: no error; killed: the signal */
	t = at_traces_new();
	req = at_root_request(&r, argv, "svc", 42, 1, 0);
	at_traces_add_request(t, req);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	req = at_root_request(&r, argv, "svc", 42, 0, 9);
	at_traces_add_request(t, req);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	cr_assert_eq(t->n_all, 2);
	cr_assert_eq(t->all[0]->status, 0);
	cr_assert_str_eq(t->all[0]->service, "svc");
	cr_assert_eq(t->all[1]->status, 2);
	cr_assert_str_eq(t->all[1]->status_msg, "killed by signal 9");
	at_traces_free(t);
}
