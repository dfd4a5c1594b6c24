/*
 * at_ptrmap.h - a fixed-size, lock-free map from a pointer (a PGconn, a
 * CURL handle) to the library's state for it.
 *
 * Open addressing with linear probing; keys are inserted with CAS, and a
 * deleted key becomes a tombstone that a later insert may reuse.  One key
 * is used by one thread at a time (libpq and libcurl require that of their
 * handles), different keys by any threads at once.  A full map refuses
 * inserts: the caller then leaves that handle untraced.
 */
#ifndef AT_PTRMAP_H
#define AT_PTRMAP_H

#include <stdatomic.h>

#define AT_PTRMAP_SLOTS 4096 /* power of two */

struct at_ptrmap {
	const void *_Atomic keys[AT_PTRMAP_SLOTS];
	void *_Atomic vals[AT_PTRMAP_SLOTS];
};

/* The value for key, or NULL. */
void *at_ptrmap_get(struct at_ptrmap *m, const void *key);
/* Map key (absent) to val: 0, or -1 if the map is full or raced. */
int at_ptrmap_put(struct at_ptrmap *m, const void *key, void *val);
/* Remove key; its value, or NULL. */
void *at_ptrmap_del(struct at_ptrmap *m, const void *key);

#endif
