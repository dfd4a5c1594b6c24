/*
 * at_bridge_span.h - client spans a runtime bridge asks for, through the
 * bridge channel (at_bridge.c), for HTTP requests no hook can see: the
 * HTTPS client of a runtime that links its TLS library statically (the
 * official Node.js builds).  at_bridge_span.c has the design and the
 * message layout, which bridges/node/autotrace-https.js writes.
 */
#ifndef AT_BRIDGE_SPAN_H
#define AT_BRIDGE_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The message's first 8 bytes. */
#define AT_BRIDGE_SPAN_MAGIC "ATBRSPAN"
/* Bytes before the message's data (eight int32, magic included). */
#define AT_BRIDGE_SPAN_HDR 32
/* Spans open at once; beyond, a start gets no span (counted). */
#define AT_BRIDGE_SPAN_OPEN_MAX 1024

/* Operations ([2]). */
enum {
	AT_BRIDGE_SPAN_START = 1,
	AT_BRIDGE_SPAN_END = 2,
	AT_BRIDGE_SPAN_FLUSH = 3,   /* only the queued ends (below) */
	AT_BRIDGE_SPAN_BIND = 4,    /* this buffer answers the thread's
				     * STARTs asked through getenv (below) */
};
/* A flag of [2]: the message's last AT_BRIDGE_SPAN_ENDS_BYTES bytes are
 * a queue of ends, handled with the operation (at_bridge_span.c). */
#define AT_BRIDGE_SPAN_WITH_ENDS 0x100
/* Flags of [2] for a START asked through getenv: the head is the name's
 * rest ([6] its length); the library sets ANSWERED once it answered. */
#define AT_BRIDGE_SPAN_IN_NAME 0x200
#define AT_BRIDGE_SPAN_ANSWERED 0x400
/* The name of such a START: this prefix, the number a BIND answered in
 * [3], a colon, the head. */
#define AT_BRIDGE_SPAN_ENV_PREFIX "\001ATBR"
/* A buffer bound for them: its data has room for this answer at least. */
#define AT_BRIDGE_SPAN_BIND_DATA_MIN 256
/* Ends a queue holds: a count and 3 int32 unused, then per end the
 * handle, the status and the end time (CLOCK_MONOTONIC: s, ns). */
#define AT_BRIDGE_SPAN_ENDS 64
#define AT_BRIDGE_SPAN_ENDS_BYTES (16 + 16 * AT_BRIDGE_SPAN_ENDS)

/* Why a start got no span ([7] of the answer; 0: a span). */
enum {
	AT_BRIDGE_SPAN_OK = 0,
	AT_BRIDGE_SPAN_NO_TRACE,   /* tracing off, or no thread state */
	AT_BRIDGE_SPAN_TLS_LAYER,  /* the TLS hooks see this runtime's HTTPS */
	AT_BRIDGE_SPAN_FULL,       /* AT_BRIDGE_SPAN_OPEN_MAX spans open */
	AT_BRIDGE_SPAN_BAD_HEAD,   /* not a well-formed request head */
	AT_BRIDGE_SPAN_RESEND,     /* a name that is not the head as the
				    * bridge has it (not ASCII): write it */
};

/*
 * A write of iov (total bytes) to the bridge channel: if it is a span
 * message, handle it, write the answer into the same buffer and return
 * total; else -1 (not a message: the caller writes it as it is).
 */
ssize_t at_bridge_span_message(const struct iovec *iov, int iovcnt,
			       size_t total);

/*
 * getenv(name) on the hook's side, for a name that starts with
 * AT_BRIDGE_SPAN_ENV_PREFIX: true if it is a START of the thread's bound
 * buffer, answered there, *answer then what getenv returns (the header
 * lines, NUL-terminated, in the buffer; NULL: no span); false: not one
 * (getenv does what it does without the library).
 */
bool at_bridge_span_env(const char *name, char **answer);

/* Lifecycle: the parent ends what is open at exit; a fork child forgets
 * it (the parent's spans). */
void at_bridge_span_at_exit(void);
void at_bridge_span_after_fork_child(void);

#endif
