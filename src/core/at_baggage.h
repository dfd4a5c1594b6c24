/*
 * at_baggage.h - the W3C Baggage a request brought, kept while the
 * request lasts so that everything done for it passes it on (outgoing
 * requests, child processes) and, when asked, names its entries on the
 * spans (AUTOTRACE_BAGGAGE_ATTRIBUTES).
 *
 * A baggage list can be 8 KiB (W3C Baggage's limit), too large for a
 * span record, and most requests have none.  So the lists live in a
 * fixed table of slots (AT_BAGGAGE_SLOTS, static: untouched pages cost
 * nothing); a span refers to one by slot number and generation, which
 * its children copy with their parent's ids.  The span that stored the
 * list (a server span, from the request's header) frees the slot when it
 * ends; the generation then changes, so that a child still running
 * later finds nothing rather than another request's baggage.  Readers
 * copy the list and check the generation again (a sequence lock): no
 * lock, no allocation, no system call.  A full table means no baggage
 * for that request (counted in at_baggage_dropped).  The process's own
 * BAGGAGE environment carrier has a slot of its own, never freed.
 */
#ifndef AT_BAGGAGE_H
#define AT_BAGGAGE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define AT_BAGGAGE_SLOTS 64
#define AT_BAGGAGE_ENV_SLOT 255 /* the process's BAGGAGE carrier */

/* A span's reference: slot 0 is none. */
struct at_baggage_ref {
	uint8_t slot;
	uint32_t gen;
};

/* Store a sanitized baggage list (at_baggage_sanitize) for a request.
 * Returns its reference ({0} if the table is full or len is 0). */
struct at_baggage_ref at_baggage_store(const char *bag, size_t len);

/* The same from a request's baggage fields, sanitized as one list
 * (at_baggage_sanitize_parts) into the slot: {0} if none is valid. */
struct at_prop_str;
struct at_baggage_ref at_baggage_store_fields(const struct at_prop_str *fields,
					      size_t n);

/* The request that stored it is over: the slot is free again. */
void at_baggage_release(struct at_baggage_ref ref);

/* Copy the list ref names into out (NUL-terminated).  Returns its
 * length, or -1 when ref names none, or a list that was freed (or does
 * not fit cap - 1). */
int at_baggage_copy(struct at_baggage_ref ref, char *out, size_t cap);

/* The value of key in the list ref names, percent-decoded into val
 * (at_baggage_get), or -1 (no such key, or the list is gone). */
int at_baggage_value(struct at_baggage_ref ref, const char *key, char *val,
		     size_t cap);

/* The BAGGAGE environment variable the process started with (sanitized
 * by the caller): the reference of spans that have no other parent. */
struct at_baggage_ref at_baggage_set_env(const char *bag, size_t len);

/* Requests whose baggage found the table full. */
extern _Atomic uint64_t at_baggage_dropped;

#endif
