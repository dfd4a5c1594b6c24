/*
 * at_errno.h - errno values as the stable strings spans carry: the symbolic
 * name for error.type ("ECONNREFUSED") and a short description for the
 * status message.  Static tables: no strerror (locale, not async-safe).
 */
#ifndef AT_ERRNO_H
#define AT_ERRNO_H

/* Symbolic name, or NULL if unknown. */
const char *at_errno_name(int err);
/* Description ("Connection refused"), or "Unknown error" - never NULL. */
const char *at_errno_desc(int err);

#endif
