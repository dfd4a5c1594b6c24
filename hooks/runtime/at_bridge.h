/*
 * at_bridge.h - runtime bridges: in a Node.js or Python process, make the
 * runtime load a small script shipped beside the library that tells the
 * library which request the code it runs belongs to (at_bridge.c has the
 * design; the slot it writes is at_context.h's).
 */
#ifndef AT_BRIDGE_H
#define AT_BRIDGE_H

/* Initialisation (constructor): detect the runtime, set up the channel
 * and the variables that make the runtime load the bridge. */
void at_bridge_init(void);

#endif
