/*
 * tv_spans.h - model spans for the tool's unit tests, built directly as
 * struct at_tv_span records (attributes in their printable form, as
 * at_traces_add_request() makes them) and pushed into a struct
 * at_traces: trace and span ids are small numbers, times microseconds.
 */
#ifndef TV_SPANS_H
#define TV_SPANS_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "at_traces.h"

#define US(x) (1700000000000000000ULL + (uint64_t)(x) * 1000ULL)

/* A span of trace tr, attributes as key, value pairs ending with NULL;
 * pushed into t unless t is NULL. */
static inline struct at_tv_span *mk(struct at_traces *t, unsigned tr, unsigned id,
			     unsigned parent, const char *svc,
			     const char *name, int kind, uint64_t a_us,
			     uint64_t b_us, ...)
{
	struct at_tv_span *s = calloc(1, sizeof(*s));
	va_list ap;
	const char *k;

	cr_assert_not_null(s);
	s->trace_id[15] = (uint8_t)tr;
	s->trace_id[14] = (uint8_t)(tr >> 8);
	s->span_id[7] = (uint8_t)id;
	s->span_id[6] = (uint8_t)(id >> 8);
	if (parent) {
		s->parent_id[7] = (uint8_t)parent;
		s->parent_id[6] = (uint8_t)(parent >> 8);
		s->has_parent = 1;
	}
	s->name = strdup(name);
	s->kind = kind;
	s->start_ns = US(a_us);
	s->end_ns = US(b_us);
	s->status_msg = strdup("");
	s->service = strdup(svc);
	va_start(ap, b_us);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		s->attrs = realloc(s->attrs, (s->n_attrs + 1) *
				   sizeof(*s->attrs));
		s->attrs[s->n_attrs].key = strdup(k);
		s->attrs[s->n_attrs].value = strdup(v);
		s->attrs[s->n_attrs].type = AT_TV_STRING;
		s->n_attrs++;
	}
	va_end(ap);
	if (t) /* NULL: the caller takes it */
		at_traces_push(t, s);
	return s;
}

#endif
