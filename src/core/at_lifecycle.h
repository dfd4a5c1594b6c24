/*
 * at_lifecycle.h - what each module does at initialisation, in a fork
 * child and at exit, as one line of one table.
 *
 * The core does not know the layers above it (export, hooks), so it
 * cannot call them; instead the top of the library (src/libautotrace.c,
 * beside the export map) defines at_lifecycle_table, one line per module
 * that has something to do, and at_init.c runs a step of it in table
 * order.  The order is the contract:
 *  - init: after the configuration is read, before the library is READY
 *    (the exporter registers itself as the consumer of the span rings);
 *  - after_fork_child: in the child, single-threaded, core first (thread
 *    states), then the families and the exporter, as listed;
 *  - at_exit: from the destructor, the guard held: the families end what
 *    is open *before* the exporter's final flush, so the exporter is
 *    listed after every family.
 * A module with nothing to do at a step leaves the pointer NULL.  The
 * flush before an exec is not a step: the exec hook calls the exporter
 * itself (hooks may call export).
 */
#ifndef AT_LIFECYCLE_H
#define AT_LIFECYCLE_H

struct at_lifecycle {
	const char *name;                /* NULL ends the table */
	void (*init)(void);
	void (*after_fork_child)(void);
	void (*at_exit)(void);
};

/* Defined at the top of the library (src/libautotrace.c). */
extern const struct at_lifecycle at_lifecycle_table[];

enum at_lifecycle_step { AT_STEP_INIT, AT_STEP_FORK_CHILD, AT_STEP_EXIT };

/* Run one step for every line of the table, in order. */
void at_lifecycle_run(enum at_lifecycle_step step);

#endif
