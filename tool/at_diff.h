/*
 * at_diff.h - comparing two sets of traces per endpoint (see at_diff.c).
 * Tool-only.
 */
#ifndef AT_DIFF_H
#define AT_DIFF_H

#include <stddef.h>
#include <stdio.h>

#include "at_traces.h"

struct at_diff_row {
	char *name;                          /* the endpoint */
	const struct at_tv_endpoint *before; /* NULL: new */
	const struct at_tv_endpoint *after;  /* NULL: gone */
	int worse;                           /* p50/p99, q/req or errors */
};

struct at_diff_new {
	int kind;        /* AT_FIND_N_PLUS_ONE or AT_FIND_ERROR */
	char *what;      /* "backend GET /items: SELECT ... " */
	size_t times;    /* in the after set */
};

struct at_diff {
	struct at_diff_row *rows;   /* by endpoint name */
	size_t n_rows;
	struct at_diff_new *appeared; /* N+1s, then errors, by text */
	size_t n_appeared;
};

/* Compare two built sets (their endpoints must outlive d). */
void at_diff_collect(struct at_diff *d, const struct at_traces *before,
		     const struct at_traces *after);
void at_diff_free(struct at_diff *d);
/* Print the comparison; returns the number of things that got worse. */
size_t at_diff_render(FILE *f, const struct at_traces *before,
		      const struct at_traces *after);

#endif
