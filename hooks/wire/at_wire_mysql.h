/*
 * at_wire_mysql.h - MySQL and MariaDB on the wire: the wire family that
 * makes statement spans from the client/server protocol of a client
 * connection (at_wire_mysql.c has the design).
 */
#ifndef AT_WIRE_MYSQL_H
#define AT_WIRE_MYSQL_H

#include "at_wire_kit.h"

extern const struct at_wire_family at_wire_mysql_family;

#endif
