/*
 * at_spool.h - a directory of export requests that could not be delivered
 * (AUTOTRACE_SPOOL_DIR), so that spans of processes that exit while the
 * collector is away reach it later, sent by any traced process that shares
 * the directory.
 *
 * Each file is one encoded ExportTraceServiceRequest (uncompressed), named
 * "<realtime ns>-<pid>-<seq>-<spans>.otlp".  It is written under a
 * ".tmp-<pid>-<seq>" name and renamed into place, so a reader never sees a
 * partial file.  A sender claims a file by renaming it to
 * "<name>.claim-<pid>" (only one renamer can succeed), then deletes it once
 * the collector accepted it or gives it back by renaming it again.  Claims
 * and temporary files of processes that no longer exist are recovered.
 *
 * The directory must be owned by the effective user and not writable by
 * group or others (it is created 0700 when missing); files are created
 * 0600, O_EXCL and O_NOFOLLOW.  The total size of the spooled requests is
 * bounded: a request that does not fit is refused.
 *
 * Used by the exporter only (it allocates and does file system calls).
 */
#ifndef AT_SPOOL_H
#define AT_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "at_buf.h"

#define AT_SPOOL_NAME_MAX 96

struct at_spool {
	const char *dir;       /* absolute path; NULL or "": spooling off */
	uint64_t max_bytes;    /* bound on the sum of the spooled files */
	uint64_t used;         /* cache of that sum; UINT64_MAX: unknown */
	uint32_t seq;          /* names this process's files */
	int state;             /* 0 unchecked, 1 usable, -1 unusable */
};

/* A claimed file. */
struct at_spool_claim {
	char name[AT_SPOOL_NAME_MAX + 24]; /* the claimed (renamed) name */
	char orig[AT_SPOOL_NAME_MAX];   /* the name to give it back under */
	uint64_t spans;                 /* from the name */
};

/* Set up (no file system access yet). */
void at_spool_init(struct at_spool *s, const char *dir, uint64_t max_bytes);

/*
 * Create the directory if missing and check it is private to this user.
 * Returns 0, or -1 with a one-line reason in why (spooling stays off).
 * Checked once; later calls return the first verdict.
 */
int at_spool_ready(struct at_spool *s, char *why, size_t why_len);

/*
 * Store one request of `spans` spans.  Returns 0, or -1: directory
 * unusable, bound reached (errno ENOSPC) or write error (file removed).
 */
int at_spool_put(struct at_spool *s, const void *body, size_t len,
		 uint64_t spans);

/*
 * Claim one spooled file and read it into *out.  Returns 1 (claimed),
 * 0 (none left), -1 (directory unusable).  Recovers stale claims and
 * temporary files of dead processes on the way.
 */
int at_spool_take(struct at_spool *s, struct at_buf *out,
		  struct at_spool_claim *c);

/* The claimed request was delivered (or is undeliverable): delete it. */
void at_spool_done(struct at_spool *s, const struct at_spool_claim *c);

/* Delivery failed: give the file back for a later attempt. */
void at_spool_release(struct at_spool *s, const struct at_spool_claim *c);

/* Fork child: new pid, new names. */
void at_spool_after_fork(struct at_spool *s);

#endif
