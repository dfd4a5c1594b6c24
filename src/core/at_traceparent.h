/*
 * at_traceparent.h - W3C Trace Context: the traceparent and tracestate
 * headers (https://www.w3.org/TR/trace-context/, with Level 2's "random"
 * trace-flag).
 *
 * Pure functions, no allocation, no global state: safe in hooks and signal
 * handlers.  Invalid input is reported as "absent" (-1 / 0), never a crash.
 */
#ifndef AT_TRACEPARENT_H
#define AT_TRACEPARENT_H

#include <stddef.h>
#include <stdint.h>

#define AT_TRACEPARENT_LEN 55 /* "00-" 32 "-" 16 "-" 2 */
#define AT_TRACESTATE_MAX 512 /* what we propagate at most (W3C: >= 512) */
#define AT_TRACESTATE_MAX_MEMBERS 32

#define AT_FLAG_SAMPLED 0x01
#define AT_FLAG_RANDOM 0x02 /* Level 2: trace-id is random */
#define AT_FLAGS_KNOWN (AT_FLAG_SAMPLED | AT_FLAG_RANDOM)

/* A span context as it crosses process boundaries. */
struct at_span_context {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t flags; /* W3C trace-flags; only AT_FLAGS_KNOWN bits kept */
};

/*
 * Parse a traceparent header value (leading/trailing spaces and tabs are
 * ignored).  Version 00 must be exactly 55 characters.  Versions 01..fe
 * ("future versions") are parsed from their first 55 characters, which
 * must be followed by the end of the value or by '-'.  Version ff,
 * uppercase hex, wrong lengths, bad separators and all-zero ids are
 * invalid.  Unknown flag bits are cleared.
 * Returns 0 and fills *out on success, -1 if the value must be treated as
 * absent (*out is then untouched).
 */
int at_traceparent_parse(const char *s, size_t len, struct at_span_context *out);

/*
 * Format version 00 of ctx into out: exactly AT_TRACEPARENT_LEN characters
 * followed by a NUL.  Returns AT_TRACEPARENT_LEN.
 */
size_t at_traceparent_format(const struct at_span_context *ctx,
			     char out[AT_TRACEPARENT_LEN + 1]);

/* One tracestate header field value (a part of the combined list). */
struct at_tracestate_part {
	const char *p;
	size_t len;
};

/*
 * Validate the tracestate list made of the header field values
 * parts[0..n), combined in order as one list (RFC 9110 5.3: as if joined
 * with ','), and copy it, without optional whitespace, to out
 * (NUL-terminated).  Empty and whitespace-only members (and so empty
 * fields) are dropped.  The grammar is the Recommendation's (Level 1):
 *   key   = simple-key / multi-tenant-key
 *   simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
 *   multi-tenant-key = tenant-id "@" system-id
 *   tenant-id = ( lcalpha / DIGIT ) 0*240( keychar )   (no '@')
 *   system-id = lcalpha 0*13( keychar )                (no '@')
 *   value = 0*255( %x20-2B / %x2D-3C / %x3E-7E ) one of those but SP
 * More than 32 members, or one member that does not match, makes the
 * whole list invalid: nothing is kept (never a truncated list).  A key
 * that appears twice is kept as it came (the list stays valid).  If the
 * result exceeds AT_TRACESTATE_MAX (or cap - 1), members longer than 128
 * characters are removed first, then members from the end, as the
 * Recommendation describes.
 * Returns the length written (0 for empty), or -1 if invalid (out[0] is
 * then NUL).  cap must be at least 1.
 */
int at_tracestate_sanitize_parts(const struct at_tracestate_part *parts,
				 size_t n, char *out, size_t cap);

/* The same for one header field value. */
int at_tracestate_sanitize(const char *in, size_t len, char *out, size_t cap);

/* Lowercase hex helpers (used by the parsers and by tests). */
void at_hex_encode(const uint8_t *in, size_t n, char *out); /* 2n chars, no NUL */
int at_hex_decode_lower(const char *in, size_t n2, uint8_t *out); /* 0 / -1 */

static inline int at_id_is_zero(const uint8_t *id, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= id[i];
	return acc == 0;
}

#endif
