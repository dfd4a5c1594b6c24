/*
 * at_rootspan.h - the root span of `autotrace -- cmd` (see
 * at_rootspan.c).  Tool-only.
 */
#ifndef AT_ROOTSPAN_H
#define AT_ROOTSPAN_H

#include <stddef.h>
#include <stdint.h>

#include "at_receiver.h"
#include "at_traceparent.h"

struct at_root {
	struct at_span_context ctx; /* the root's trace and span ids */
	uint8_t parent_id[8];       /* from autotrace's own TRACEPARENT */
	int has_parent;
	uint64_t start_ns;          /* wall clock */
};

/* Pick the ids (a new trace, or env_traceparent's) and the start time. */
void at_root_begin(struct at_root *r, const char *env_traceparent);
/* "TRACEPARENT=00-<trace>-<span>-01" for the command's environment. */
void at_root_traceparent(const struct at_root *r, char *out, size_t cap);
/*
 * The root span ended now, as a request (free it with
 * protobuf_c_message_free_unpacked(&req->base, NULL)): argv the command,
 * service its service.name (NULL: the command's base name), exited 1
 * with its exit code, or 0 with the signal that killed it.
 */
at_otlp_request *at_root_request(const struct at_root *r, char *const *argv,
				 const char *service, long pid, int exited,
				 int code);

#endif
