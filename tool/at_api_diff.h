/*
 * at_api_diff.h - GET /api/diff of the live dashboard (see at_api_diff.c):
 * at_diff.c's comparison as JSON.  Tool-only.
 */
#ifndef AT_API_DIFF_H
#define AT_API_DIFF_H

#include <stdio.h>

#include "at_traces.h"

/*
 * Write the comparison of t (the live traces, built; NULL as empty) with
 * its baseline: since (the "since" parameter, Unix ms, NULL or "" if
 * absent) splits t at that time; else baseline (built; NULL if none) is
 * the before set.  Returns 200, or 400 for a bad since.
 */
int at_api_diff(FILE *f, const struct at_traces *t,
		const struct at_traces *baseline, const char *since);

#endif
