/*
 * unit.h - shared set-up for unit tests that use the span pipeline: a
 * default configuration, the library marked ready, and the exporter in
 * manual mode (no background thread; tests drain rings themselves).
 */
#ifndef UNIT_H
#define UNIT_H

#include "at_config.h"
#include "at_exporter.h"
#include "at_init.h"

static inline void ut_core_setup(void)
{
	at_config_defaults(&at_cfg);
	at_exporter_manual();
	atomic_store(&at_state, AT_STATE_READY);
}

#endif
