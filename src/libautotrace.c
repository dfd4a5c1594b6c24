/*
 * libautotrace.c - the top of the library: the lifecycle table (see
 * src/core/at_lifecycle.h), beside the export map (libautotrace.map).
 *
 * One line per module that has work at initialisation, in a fork child
 * or at exit.  The order matters: core first, then the hook families,
 * and the exporter after every family (at exit the families end what is
 * open, then the exporter flushes it).  A new family adds its line before
 * the exporter's.
 */
#include <stddef.h>

#include "at_bridge.h"
#include "at_bridge_span.h"
#include "at_conn.h"
#include "at_exporter.h"
#include "at_lifecycle.h"
#include "at_proc.h"
#include "at_shell.h"
#include "at_thread.h"
#include "at_tls.h"

const struct at_lifecycle at_lifecycle_table[] = {
	{ "thread", .after_fork_child = at_thread_after_fork_child },
	{ "conn", .init = at_conn_init, .after_fork_child = at_conn_after_fork_child,
	  .at_exit = at_conn_at_exit },
	{ "bridge_span", .after_fork_child = at_bridge_span_after_fork_child,
	  .at_exit = at_bridge_span_at_exit },
	{ "tls", .after_fork_child = at_tls_sess_after_fork_child },
	{ "exporter", .init = at_exporter_init,
	  .after_fork_child = at_exporter_after_fork_child,
	  .at_exit = at_exporter_at_exit },
	{ "proc", .init = at_proc_init,
	  .after_fork_child = at_proc_after_fork_child },
	{ "shell", .after_fork_child = at_shell_after_fork_child },
	{ "bridge", .init = at_bridge_init },
	{ NULL },
};
