/*
 * at_wire_kit.c - what the wire families share (at_wire_kit.h): the FIFO
 * of commands in flight, and the client span of a command with the
 * connection's attributes.
 *
 * The FIFO is single-producer single-consumer: the thread that sends on
 * the connection pushes (and fills the slot before committing it with a
 * release store), the one that receives pops.  A full FIFO cannot keep
 * replies matched to their commands any more: the connection stops being
 * decoded, the commands it could not take are counted as untraced, and
 * the ones already in it still end at their replies.
 *
 * A command's span carries the connection's attributes: db.system.name,
 * db.namespace when known, the peer (server.address and port,
 * network.peer.*, or the socket path).  They are made into an attribute
 * block (at_span_block) and copied into each span at once, in the order
 * the calls would set them; the block is made again when the family
 * changed the system or the namespace (a greeting, a USE, SELECT in
 * Redis), which a comparison of the two fields with the block's copies
 * tells.  A block that does not fit is refused: the attributes are then
 * set one by one.
 */
#include <string.h>

#include "at_wire_kit.h"

static struct at_pool span_pool = AT_POOL_INIT(sizeof(struct at_span), 65536);

/* ---- the FIFO ---- */

struct at_wire_cmd *at_wire_push(struct at_wire *w)
{
	uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&w->head, memory_order_acquire);
	struct at_wire_cmd *c;

	if (t - h >= AT_WIRE_FIFO)
		return NULL;
	c = &w->fifo[t % AT_WIRE_FIFO];
	memset(c, 0, sizeof(*c));
	return c;
}

void at_wire_commit(struct at_wire *w)
{
	uint32_t t = atomic_load_explicit(&w->tail, memory_order_relaxed);

	w->fifo[t % AT_WIRE_FIFO].req = w->next_req;
	memset(&w->next_req, 0, sizeof(w->next_req));
	atomic_store_explicit(&w->tail,
			      atomic_load_explicit(&w->tail,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

uint32_t at_wire_pending(const struct at_wire *w)
{
	return atomic_load_explicit(&w->tail, memory_order_acquire) -
	       atomic_load_explicit(&w->head, memory_order_acquire);
}

static void span_end_free(struct at_span *s)
{
	at_span_end(s);
	at_span_pool_put(&span_pool, s);
}

void at_wire_finish(struct at_wire *w)
{
	struct at_wire_cmd *c = at_wire_oldest(w);

	if (!c)
		return;
	if (c->span) {
		span_end_free(c->span);
		c->span = NULL;
	}
	atomic_store_explicit(&w->head,
			      atomic_load_explicit(&w->head,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

void at_wire_overflow(struct at_wire *w)
{
	atomic_fetch_add_explicit(&at_span_drops.untraced, 1,
				  memory_order_relaxed);
	w->overflowed = true;
	at_wire_stop(w);
}

/* ---- spans ---- */

static const char *system_name(const struct at_wire *w)
{
	return w->system[0] ? w->system : w->fam->name;
}

/* The connection's attributes one by one (a block refused: it did not
 * fit). */
static void set_attrs(struct at_span *s, const struct at_wire *w)
{
	at_span_set_cstr(s, "db.system.name", system_name(w));
	if (w->ns[0])
		at_span_set_cstr(s, "db.namespace", w->ns);
	if (w->path[0]) {
		at_span_set_cstr(s, "server.address", w->path);
		at_span_set_cstr(s, "network.transport", "unix");
		return;
	}
	if (w->ip[0]) {
		at_span_set_cstr(s, "server.address", w->ip);
		if (w->port >= 0)
			at_span_set_int(s, "server.port", w->port);
		at_span_set_cstr(s, "network.peer.address", w->ip);
		if (w->port >= 0)
			at_span_set_int(s, "network.peer.port", w->port);
	}
}

/* The block of the connection's attributes, made again when the system
 * or the namespace changed. */
static const struct at_span_block *attrs_block(struct at_wire *w)
{
	struct at_span_block *b = &w->attrs;
	const char *sys;

	if (w->attrs_made &&
	    memcmp(w->attrs_system, w->system, sizeof(w->system)) == 0 &&
	    memcmp(w->attrs_ns, w->ns, sizeof(w->ns)) == 0)
		return b;
	memcpy(w->attrs_system, w->system, sizeof(w->system));
	memcpy(w->attrs_ns, w->ns, sizeof(w->ns));
	w->attrs_made = true;
	sys = system_name(w);
	at_span_block_clear(b);
	at_span_block_str(b, "db.system.name", sys, strlen(sys));
	if (w->ns[0])
		at_span_block_str(b, "db.namespace", w->ns, strlen(w->ns));
	if (w->path[0]) {
		at_span_block_str(b, "server.address", w->path,
				  strlen(w->path));
		at_span_block_str(b, "network.transport", "unix", 4);
		return b;
	}
	if (w->ip[0]) {
		at_span_block_str(b, "server.address", w->ip, strlen(w->ip));
		if (w->port >= 0)
			at_span_block_int(b, "server.port", w->port);
		at_span_block_str(b, "network.peer.address", w->ip,
				  strlen(w->ip));
		if (w->port >= 0)
			at_span_block_int(b, "network.peer.port", w->port);
	}
	return b;
}

struct at_span *at_wire_span_begin(struct at_wire *w, const char *name,
				   size_t name_len)
{
	struct at_span *s = at_span_pool_get(&span_pool);

	if (!s) {
		atomic_fetch_add_explicit(&at_span_drops.untraced, 1,
					  memory_order_relaxed);
		return NULL;
	}
	at_span_start_for(s, name, name_len, AT_KIND_CLIENT, &w->next_req);
	if (!at_span_started(s)) {
		at_span_pool_put(&span_pool, s);
		return NULL;
	}
	if (!at_span_recording(s))
		return s;
	if (!at_span_set_block(s, attrs_block(w)))
		set_attrs(s, w);
	return s;
}

void at_wire_peer_block(struct at_wire *w)
{
	w->attrs_made = false;
}

/* A span the family made but will not push (it ends it as it is). */
void at_wire_span_end(struct at_span *s)
{
	if (s)
		span_end_free(s);
}
