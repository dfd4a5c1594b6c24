/*
 * at_wire_redis.h - the Redis wire family (RESP2/RESP3 decoded on the
 * program's client sockets): its entry in the table of at_wire.c.
 * at_wire_redis.c has the design.
 */
#ifndef AT_WIRE_REDIS_H
#define AT_WIRE_REDIS_H

#include "at_wire_kit.h"

extern const struct at_wire_family at_wire_redis_family;

#endif
